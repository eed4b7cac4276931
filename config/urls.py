from django.contrib import admin
from django.urls import include, path

from config import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    # Provider tracking webhooks, e.g. /webhooks/anymail/postmark/tracking/ (basic auth).
    path("webhooks/anymail/", include("anymail.urls")),
    path("", include("accounts.urls")),
    path("", include("digest.urls")),
]
