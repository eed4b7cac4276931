from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from config import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    # Browsers ask for /favicon.ico on pages that name no icon (the web view of a digest).
    path("favicon.ico", RedirectView.as_view(url=static("paperwire/icon.svg"), permanent=True)),
    path("admin/", admin.site.urls),
    # Provider tracking webhooks, e.g. /webhooks/anymail/postmark/tracking/ (basic auth).
    path("webhooks/anymail/", include("anymail.urls")),
    path("", include("accounts.urls")),
    path("", include("digest.urls")),
]
