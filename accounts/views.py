from __future__ import annotations

from django.shortcuts import render


def subscribe(request):
    return render(request, "accounts/subscribe.html")
