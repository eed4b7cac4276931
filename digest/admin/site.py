"""The admin site, whose index page is the operators' dashboard.

Installed in place of ``django.contrib.admin`` (INSTALLED_APPS names
``PaperwireAdminConfig``), so ``admin.site`` is this site everywhere and every
``@admin.register`` lands on it.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig


class PaperwireAdminSite(admin.AdminSite):
    site_header = "Paperwire"
    site_title = "Paperwire admin"
    index_title = "Dashboard"
    index_template = "admin/dashboard.html"

    def index(self, request, extra_context=None):
        # Imported here: this module loads before the apps' models are ready.
        from digest.admin import dashboard

        figures = dashboard.summary(
            show_addresses=request.user.has_perm("accounts.view_subscriber")
        )
        return super().index(request, {"dashboard": figures, **(extra_context or {})})


class PaperwireAdminConfig(AdminConfig):
    default_site = "digest.admin.site.PaperwireAdminSite"
