"""Admin actions that ask before they act: a page listing the selected rows, a
warning, optional choices, and a POST (with its CSRF token) to go ahead."""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.contrib import admin
from django.contrib.admin import helpers
from django.contrib.admin.models import CHANGE, LogEntry
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

SHOWN = 100


def confirmed_action(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset,
    *,
    title: str,
    warning: str,
    perform: Callable[[HttpRequest, object, forms.Form], None],
    form_class: type[forms.Form] = forms.Form,
) -> HttpResponse | None:
    """Show the confirmation page, or call ``perform(request, queryset, form)`` when it
    was submitted with "confirm" and a valid form. Returns what an action returns."""
    form = form_class(request.POST if "confirm" in request.POST else None)
    if "confirm" in request.POST and form.is_valid():
        perform(request, queryset, form)
        return None
    count = queryset.count()
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "subtitle": None,
        "warning": warning,
        "form": form,
        "objects": list(queryset[:SHOWN]),
        "more": max(0, count - SHOWN),
        "count": count,
        "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        "select_across": request.POST.get("select_across", "0"),
        "action": request.POST.get("action", ""),
        "opts": modeladmin.model._meta,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/confirm_action.html", context)


def log_change(request: HttpRequest, objects, message: str, flag: int = CHANGE) -> None:
    """One admin log line per object, as the admin writes for its own edits."""
    assert request.user.pk is not None  # the admin's views run for a signed-in user
    LogEntry.objects.log_actions(request.user.pk, list(objects), flag, change_message=message)
