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


# Pages about one subscriber (their preferences, their data, their digests) or reached
# through an emailed token: never kept by a browser's or a proxy's cache.
PRIVATE_PREFIXES = ("/manage/", "/confirm/", "/unsubscribe/", "/feedback/", "/digests/")


class NoStorePrivatePages:
    """``Cache-Control: no-store`` on every page under ``PRIVATE_PREFIXES``, whichever
    view answers (a shared computer's back button, a proxy keeping my-data.json)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path.startswith(PRIVATE_PREFIXES):
            add_never_cache_headers(response)
        return response
