"""The admin site, whose index page is the operators' dashboard.

Installed in place of ``django.contrib.admin`` (INSTALLED_APPS names
``PaperwireAdminConfig``), so ``admin.site`` is this site everywhere and every
``@admin.register`` lands on it.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.shortcuts import render


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

    def login(self, request, extra_context=None):
        # Password guessing: every attempt counts, per client and per account, so
        # neither many accounts from one client nor one account from many gets far.
        if request.method == "POST" and not _login_allowed(request):
            response = render(request, "accounts/limited.html", status=429)
            response["Retry-After"] = str(LOGIN_WINDOW)
            return response
        return super().login(request, extra_context)


LOGIN_WINDOW = 15 * 60


def _login_allowed(request) -> bool:
    from accounts import ratelimit

    account = request.POST.get("username", "").strip().lower()
    # An attempt refused for its client never reaches the account's count.
    return ratelimit.allow(
        "admin-login",
        ratelimit.client_network(request),
        limit=settings.ADMIN_LOGIN_RATE_PER_IP,
        window=LOGIN_WINDOW,
    ) and ratelimit.allow(
        "admin-login-account",
        account,
        limit=settings.ADMIN_LOGIN_RATE_PER_ACCOUNT,
        window=LOGIN_WINDOW,
    )


class PaperwireAdminConfig(AdminConfig):
    default_site = "digest.admin.site.PaperwireAdminSite"
