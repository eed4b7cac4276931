from django.contrib import admin
from django.urls import include, path

from config import health
from digest.mail import tracking

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    # The sending provider's tracking webhook, e.g. /webhooks/anymail/postmark/tracking/
    # (basic auth); only the configured provider's answers.
    path("webhooks/anymail/<str:provider>/tracking/", tracking.webhook, name="tracking_webhook"),
    path("", include("accounts.urls")),
    path("", include("digest.urls")),
]
