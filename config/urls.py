from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from config import health
from digest.mail import tracking

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    # Browsers ask for /favicon.ico on pages that name no icon (the web view of a digest).
    path("favicon.ico", RedirectView.as_view(url=static("paperwire/icon.svg"), permanent=True)),
    path("admin/", admin.site.urls),
    # The sending provider's tracking webhook, e.g. /webhooks/anymail/postmark/tracking/
    # (basic auth); only the configured provider's answers.
    path("webhooks/anymail/<str:provider>/tracking/", tracking.webhook, name="tracking_webhook"),
    path("", include("accounts.urls")),
    path("", include("digest.urls")),
]
