"""The subscriber pages: thin views over accounts.signup and accounts.subscription."""

from __future__ import annotations

import json
from functools import wraps

from csp.decorators import csp
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import lifecycle, ratelimit, signup, subscription, tasks, tokens
from accounts.emails import mail_went_to
from accounts.forms import EmailForm, PreferencesForm, SubscribeForm, topic_lines
from accounts.headers import token_page
from accounts.models import Subscriber
from accounts.preview import topic_preview as build_topic_preview
from accounts.tokens import InvalidToken, read_token, subscriber_from_token
from digest.mail.delivery import preview_digest

SESSION_KEY = "subscriber_id"
# "sign-in" (an emailed sign-in or confirmation link: the owner of the mailbox, now) or
# "digest" (the signed link in a digest, which a forwarded email also carries).
SESSION_SCOPE = "subscriber_scope"
SESSION_AGE = 12 * 3600
# Set when this browser asks for a sign-in link, so opening the link here needs no second
# press (healthchecks does the same): a mail scanner elsewhere has no such cookie.
ASKED_COOKIE = "paperwire_asked"


def _visitor(request: HttpRequest) -> signup.Visitor:
    return signup.Visitor(
        ip=ratelimit.client_ip(request) or None,
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
    )


def _form_rate_ok(request: HttpRequest) -> bool:
    return ratelimit.allow(
        "forms", ratelimit.client_network(request), limit=settings.SIGNUP_RATE_PER_IP, window=3600
    )


def _too_many(request: HttpRequest) -> HttpResponse:
    response = render(request, "accounts/limited.html", status=429)
    response["Retry-After"] = "3600"
    return response


def _invalid(request: HttpRequest) -> HttpResponse:
    # One page for forged, truncated, spent and cross-purpose links alike.
    return render(request, "accounts/invalid.html", status=400)


@require_http_methods(["GET", "POST"])
def subscribe(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        if not _form_rate_ok(request):
            return _too_many(request)
        form = SubscribeForm(request.POST)
        if form.is_valid():
            visitor = _visitor(request)
            posted = {key: request.POST.getlist(key) for key in SubscribeForm.base_fields}
            tasks.email_signup.delay_on_commit(posted, visitor.ip, visitor.user_agent)
            return _asked(redirect("subscribe_sent"))
    else:
        form = SubscribeForm(
            initial={"email": request.GET.get("email", "")[:254], "max_papers": 10, "send_hour": 7}
        )
    return render(request, "accounts/subscribe.html", {"form": form})


@require_GET
def subscribe_sent(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/sent.html", {"purpose": "signup", "mail": mail_went_to()})


@require_GET
def topic_preview(request: HttpRequest) -> JsonResponse:
    if not ratelimit.allow(
        "preview", ratelimit.client_network(request), limit=settings.PREVIEW_RATE_PER_IP, window=60
    ):
        return JsonResponse({"error": "Too many previews; wait a minute."}, status=429)
    return JsonResponse(build_topic_preview(request.GET.get("q", ""), request.GET.getlist("topic")))


def _stash(request: HttpRequest, purpose: str, token: str, page: str) -> HttpResponse:
    """Move an emailed token from the URL into the session and redirect to ``page``,
    as Django's password reset does: the page with the button then carries no token
    (in history or a Referer), and its POST has a proper Origin for the CSRF check
    (a no-referrer page would send ``Origin: null``)."""
    try:
        read_token(purpose, token)
    except InvalidToken as exc:
        if not exc.expired:
            return _invalid(request)
    request.session[f"link:{purpose}"] = token
    if SESSION_KEY not in request.session:
        request.session.set_expiry(3600)  # what a mail scanner's visit leaves behind is brief
    return redirect(page)


def _stashed(request: HttpRequest, purpose: str) -> str:
    return request.session.get(f"link:{purpose}", "")


@token_page
@require_http_methods(["GET", "POST"])
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    if request.method == "GET":
        return _stash(request, "confirm", token, "confirm_page")
    return _confirm(request, token)


@never_cache
@require_http_methods(["GET", "POST"])
def confirm_page(request: HttpRequest) -> HttpResponse:
    return _confirm(request, _stashed(request, "confirm"))


def _confirm(request: HttpRequest, token: str) -> HttpResponse:
    try:
        subscriber = subscriber_from_token("confirm", token)
        if request.method == "POST":
            signup.confirm(subscriber, _visitor(request))
            _sign_in_session(request, subscriber, "sign-in")
            return render(request, "accounts/confirmed.html", {"subscriber": subscriber})
    except InvalidToken as exc:
        if not exc.expired:
            return _invalid(request)
        if request.method == "POST":
            if not _form_rate_ok(request):
                return _too_many(request)
            tasks.email_new_confirmation.delay_on_commit(exc.payload)
            return render(
                request, "accounts/sent.html", {"purpose": "confirm", "mail": mail_went_to()}
            )
        return render(request, "accounts/expired.html")
    context = {"subscriber": subscriber, "typed": topic_lines(subscriber.own_topics)}
    return render(request, "accounts/confirm.html", context)


@require_http_methods(["GET", "POST"])
def manage_request(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        if not _form_rate_ok(request):
            return _too_many(request)
        form = EmailForm(request.POST)
        if form.is_valid():
            tasks.email_sign_in.delay_on_commit(form.cleaned_data["email"])
            return _asked(redirect("manage_sent"))
    else:
        form = EmailForm()
    return render(request, "accounts/manage.html", {"form": form})


@require_GET
def manage_sent(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/sent.html", {"purpose": "sign-in", "mail": mail_went_to()})


def _asked(response: HttpResponse) -> HttpResponse:
    """Mark this browser as one that asked for a link, for as long as a sign-in link
    works. It only tells a person from a mail scanner (which never has it), so it names no
    address: the answer stays the same whatever address was typed and whatever its state."""
    response.set_cookie(
        ASKED_COOKIE,
        "1",
        max_age=tokens.MAX_AGE["login"],
        path=reverse("sign_in_page"),
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
    return response


@token_page
@require_http_methods(["GET", "POST"])
def sign_in(request: HttpRequest, token: str) -> HttpResponse:
    if request.method == "POST":
        return _sign_in(request, token)
    if request.COOKIES.get(ASKED_COOKIE) != "1":
        return _stash(request, "login", token, "sign_in_page")
    # A browser that asked for a link opened it: no button to press. A mail scanner has
    # no such cookie, so for it this GET still changes nothing.
    try:
        response = _spend_sign_in(request, subscriber_from_token("login", token))
    except InvalidToken:  # expired or spent: the usual pages say so
        return _stash(request, "login", token, "sign_in_page")
    response.delete_cookie(ASKED_COOKIE, path=reverse("sign_in_page"))
    return response


@never_cache
@require_http_methods(["GET", "POST"])
def sign_in_page(request: HttpRequest) -> HttpResponse:
    return _sign_in(request, _stashed(request, "login"))


def _sign_in(request: HttpRequest, token: str) -> HttpResponse:
    try:
        subscriber = subscriber_from_token("login", token)
        if request.method == "POST":
            return _spend_sign_in(request, subscriber)
    except InvalidToken as exc:
        if exc.expired:
            return render(request, "accounts/expired.html", {"purpose": "sign-in"})
        return _invalid(request)
    return render(request, "accounts/sign_in.html")


def _spend_sign_in(request: HttpRequest, subscriber: Subscriber) -> HttpResponse:
    signup.sign_in(subscriber)
    _sign_in_session(request, subscriber, "sign-in")
    return redirect("preferences")


@token_page
@require_GET
def manage_link(request: HttpRequest, token: str) -> HttpResponse:
    try:
        subscriber = subscriber_from_token("manage", token)
    except InvalidToken as exc:
        if exc.expired:
            return render(request, "accounts/expired.html", {"purpose": "manage"})
        return _invalid(request)
    if request.session.get(SESSION_KEY) == subscriber.pk:
        return redirect("preferences")  # signed in already: nothing to press
    return _stash(request, "manage", token, "manage_link_page")


@never_cache
@require_http_methods(["GET", "POST"])
def manage_link_page(request: HttpRequest) -> HttpResponse:
    try:
        subscriber = subscriber_from_token("manage", _stashed(request, "manage"))
    except InvalidToken as exc:
        if exc.expired:
            return render(request, "accounts/expired.html", {"purpose": "manage"})
        return _invalid(request)
    if request.method == "POST":
        if subscriber.status in (Subscriber.Status.PENDING, Subscriber.Status.SUPPRESSED):
            return _invalid(request)
        _sign_in_session(request, subscriber, "digest")
        return redirect("preferences")
    return render(request, "accounts/sign_in.html", {"purpose": "manage"})


def _sign_in_session(request: HttpRequest, subscriber: Subscriber, scope: str) -> None:
    request.session.cycle_key()
    request.session[SESSION_KEY] = subscriber.pk
    request.session[SESSION_SCOPE] = scope
    request.session.set_expiry(SESSION_AGE)


def _signed_in(view=None, *, proven: bool = False):
    """Pass the session's subscriber to ``view``; send strangers to /manage/. With
    ``proven``, a session opened from a digest's link (which a forwarded email carries
    too) is sent for a fresh sign-in link first."""

    def decorate(view):
        @wraps(view)
        def wrapped(request: HttpRequest) -> HttpResponse:
            # pk=None matches no row; the stubs accept only str or int.
            pk = request.session.get(SESSION_KEY)
            subscriber = Subscriber.objects.filter(pk=pk).first()  # type: ignore[misc]
            if subscriber is None:
                return redirect("manage_request")
            if proven and request.session.get(SESSION_SCOPE) != "sign-in":
                messages.info(
                    request,
                    "To download or delete your data, sign in with a link we email to "
                    "your address: it proves the mailbox is yours.",
                )
                return redirect("manage_request")
            return view(request, subscriber)

        return wrapped

    return decorate(view) if view else decorate


@require_http_methods(["GET", "POST"])
@_signed_in
def preferences(request: HttpRequest, subscriber: Subscriber) -> HttpResponse:
    form = PreferencesForm(request.POST or None, instance=subscriber)
    if request.method == "POST" and form.is_valid():
        subscription.save_preferences(form)
        messages.success(request, "Your preferences are saved.")
        return redirect("preferences")
    context = {
        "form": form,
        "subscriber": subscriber,
        "proven": request.session.get(SESSION_SCOPE) == "sign-in",
    }
    return render(request, "accounts/preferences.html", context)


@require_POST
@_signed_in
def pause(request: HttpRequest, subscriber: Subscriber) -> HttpResponse:
    lifecycle.pause(subscriber)
    messages.success(request, "Paused: no emails until you resume.")
    return redirect("preferences")


@require_POST
@_signed_in
def resume(request: HttpRequest, subscriber: Subscriber) -> HttpResponse:
    lifecycle.resume(subscriber)
    messages.success(request, "Resumed.")
    return redirect("preferences")


@require_POST
@_signed_in
def manage_unsubscribe(request: HttpRequest, subscriber: Subscriber) -> HttpResponse:
    lifecycle.unsubscribe(subscriber)
    messages.success(request, "You are unsubscribed: no more emails.")
    return redirect("preferences")


@require_POST
@_signed_in
def manage_resubscribe(request: HttpRequest, subscriber: Subscriber) -> HttpResponse:
    if lifecycle.resubscribe(subscriber, _visitor(request)):
        messages.success(request, "Welcome back: your emails start again.")
    return redirect("preferences")


# The email's own HTML, shown as it would be sent: its inline styles are allowed,
# scripts never, and the sandbox keeps anything in it from acting on this site.
@require_GET
@csp(
    {
        "default-src": ["'none'"],
        "style-src": ["'unsafe-inline'"],
        "img-src": ["https:", "data:"],
        "form-action": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "sandbox": ["allow-popups", "allow-popups-to-escape-sandbox"],
    }
)
@_signed_in
def preview(request: HttpRequest, subscriber: Subscriber) -> HttpResponse:
    rendered = preview_digest(subscriber)
    if rendered is None:
        messages.info(request, "Nothing new matches your topics today, so there is no preview.")
        return redirect("preferences")
    return HttpResponse(rendered.html)


@require_GET
@_signed_in(proven=True)
def data_export(request: HttpRequest, subscriber: Subscriber) -> HttpResponse:
    response = HttpResponse(
        json.dumps(subscription.export(subscriber), indent=2),
        content_type="application/json",
    )
    response["Content-Disposition"] = 'attachment; filename="paperwire-my-data.json"'
    return response


@require_http_methods(["GET", "POST"])
@_signed_in(proven=True)
def delete(request: HttpRequest, subscriber: Subscriber) -> HttpResponse:
    if request.method == "POST":
        subscription.erase(subscriber)
        request.session.flush()
        return render(request, "accounts/deleted.html")
    return render(request, "accounts/delete.html", {"subscriber": subscriber})


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    request.session.flush()
    return redirect("home")


# The token is the credential here, and RFC 8058 mail clients POST with no cookie
# and no CSRF token: the one view exempt from CSRF. Only a POST acts, since mail
# scanners open (GET) every link. The answer is a 200, never a redirect. The page's
# own "resubscribe" button posts here too: a no-referrer page's POST carries
# ``Origin: null``, which a CSRF-checked view would refuse. The link never expires and
# travels with every forwarded digest, so it never resubscribes by itself: it only asks
# for a sign-in link to the address, whose owner resubscribes from their preferences.
@csrf_exempt
@token_page
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    try:
        payload = read_token("unsubscribe", token)
    except InvalidToken:
        return _invalid(request)
    subscriber = Subscriber.objects.filter(pk=payload["s"]).first()
    if subscriber is None:
        # Erased ("delete my data"): the link was genuine and nothing is mailed any more.
        return render(request, "accounts/unsubscribed.html", {"erased": True})
    if request.method == "GET":
        if subscriber.status == Subscriber.Status.UNSUBSCRIBED:
            return render(request, "accounts/unsubscribed.html", {"already": True})
        return render(request, "accounts/unsubscribe.html")
    if request.POST.get("action") == "resubscribe":
        if not _form_rate_ok(request):
            return _too_many(request)
        tasks.email_sign_in.delay_on_commit(subscriber.email)
        return render(request, "accounts/sent.html", {"purpose": "resubscribe"})
    lifecycle.unsubscribe(subscriber)
    return render(request, "accounts/unsubscribed.html")
