"""Headers for pages whose URL holds a token from an email."""

from __future__ import annotations

from functools import wraps

from django.utils.cache import add_never_cache_headers


def token_page(view):
    """The token must not leak to another site through the Referer header, nor sit
    in a shared cache: ``Referrer-Policy: no-referrer`` and ``no-store``."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response["Referrer-Policy"] = "no-referrer"
        add_never_cache_headers(response)
        return response

    return wrapped
