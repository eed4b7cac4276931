"""Pages behind the links in a digest email: feedback votes and the web view.

Both take a signed token instead of a login. Every bad token, whatever is wrong with
it, gets the same "not valid" page as the subscriber pages.
"""

from __future__ import annotations

from csp.decorators import csp_replace
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from accounts.headers import token_page
from accounts.tokens import InvalidToken, read_token
from digest.ingest.feedtext import plain
from digest.mail.compose import render_webview
from digest.mail.feedback import vote_from_token
from digest.models import Digest


def _invalid(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/invalid.html", status=400)


# The token is the credential, as on the unsubscribe page: a forged cross-site POST
# needs the token, and whoever holds it can vote anyway. Exempt from CSRF because this
# no-referrer page's POST carries ``Origin: null``, which Django's check refuses (the
# session stash of confirm and sign-in would hold one vote at a time, and a reader opens
# several from one email). GET only shows the button: scanners open links, people press.
@csrf_exempt
@token_page
@require_http_methods(["GET", "POST"])
def feedback(request: HttpRequest, token: str) -> HttpResponse:
    try:
        vote = vote_from_token(token)
    except InvalidToken:
        return _invalid(request)
    if request.method == "POST":
        vote.record()
        return render(
            request,
            "digest/feedback_done.html",
            {"vote": vote, "title": plain(vote.paper.title), "opposite": vote.opposite_token()},
        )
    return render(request, "digest/feedback.html", {"vote": vote, "title": plain(vote.paper.title)})


# The email's HTML keeps its inline styles; nothing else it could need is allowed.
@csp_replace({"style-src": ["'self'", "'unsafe-inline'"], "script-src": ["'none'"]})
@token_page
@require_GET
def digest_webview(request: HttpRequest, token: str) -> HttpResponse:
    try:
        digest = _sent_digest(read_token("webview", token))
    except InvalidToken:
        return _invalid(request)
    return HttpResponse(render_webview(digest))


def _sent_digest(payload: dict) -> Digest:
    digest_id = payload.get("d")
    digest = (
        Digest.objects.filter(pk=digest_id, status=Digest.Status.SENT)
        .select_related("subscriber")
        .first()
        if type(digest_id) is int
        else None
    )
    # A token of one subscriber never opens another's digest.
    if digest is None or digest.subscriber_id != payload["s"]:
        raise InvalidToken()
    return digest
