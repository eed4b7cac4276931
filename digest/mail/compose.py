"""The digest email: subject, plain-text part and HTML part, then the message to send.

Every email is built the healthchecks way, by one function from three templates
(``<name>-subject.txt``, ``<name>-body.txt``, ``<name>-body.html`` under
``templates/digest/email/``). The text part is written by hand for reading, not
derived from the HTML.

The HTML template keeps its CSS in a ``<style>`` block; css-inline moves it onto the
elements because Gmail and Outlook ignore most of a ``<style>`` block. Inlining is done
once per template, on its source, rather than on every rendered email: see
``_inlined_template``. What depends on a paper alone (its cleaned title, abstract
excerpt, links) is memoized per process, as a day's papers go to many subscribers.
"""

from __future__ import annotations

import datetime
import functools
import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

import css_inline
from anymail.message import AnymailMessage
from django.conf import settings
from django.dispatch import receiver
from django.template import engines
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.autoreload import file_changed
from django.utils.safestring import SafeString, mark_safe

from accounts.links import absolute, manage_link, unsubscribe_url
from accounts.schedule import local_date
from accounts.tokens import make_token
from digest.ingest.feedtext import (
    excerpt,
    highlight,
    join_words,
    lead_and_rest,
    paper_url,
    plain,
    safe_url,
    shorten_authors,
    wrap,
)
from digest.mail.feedback import vote_token

if TYPE_CHECKING:
    from accounts.models import Subscriber
    from digest.models import Digest, Paper

DIGEST = "digest/email/digest"  # its three templates
ABSTRACT_CHARS = 300
SUBJECT_TOPICS = 2


class MatchLike(Protocol):
    """What rendering reads of a ``digest.matching.Match``."""

    # Read-only properties, so a frozen dataclass matches.
    @property
    def paper(self) -> Paper: ...
    @property
    def topic(self) -> str: ...
    @property
    def terms(self) -> Sequence[str]: ...
    @property
    def kind(self) -> str: ...
    @property
    def why(self) -> str: ...


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


# --- links ------------------------------------------------------------------------------


def _link_maker(name: str) -> Callable[[str], str]:
    """``absolute(reverse(name, args=[token]))`` for many tokens at the cost of one
    reverse(): a digest has two feedback links per paper."""
    marker = "0TOKEN0"
    head, tail = absolute(reverse(name, args=[marker])).rsplit(marker, 1)
    return lambda token: f"{head}{token}{tail}"


def webview_url(subscriber: Subscriber, digest: Digest) -> str:
    return _link_maker("digest_webview")(make_token("webview", subscriber.pk, d=digest.pk))


# --- rendering --------------------------------------------------------------------------


def _paper_entry(
    subscriber: Subscriber, match: MatchLike, feedback: Callable[[str], str], own: frozenset[str]
) -> dict:
    paper = match.paper
    text = _paper_text(
        paper.title,
        paper.abstract,
        paper.summary,
        paper.upvotes,
        paper.comments,
        paper.github_stars,
        paper.arxiv_id,
        *(paper.abs_url, paper.hf_url, paper.pdf_url, paper.code_url, paper.project_url),
    )
    terms = tuple(match.terms)
    return {
        **text,
        "authors": shorten_authors(paper.authors if isinstance(paper.authors, list) else []),
        "topic": topic_name(match.topic, own),
        "why": plain(match.why, limit=300),
        "lead_html": _highlighted(text["lead"], terms),
        "abstract_html": _highlighted(text["abstract"], terms),
        "more_url": feedback(vote_token(subscriber, paper, 1)),
        "less_url": feedback(vote_token(subscriber, paper, -1)),
    }


# A day's papers go to many subscribers: what depends on the paper alone is worked out
# once per worker process (a pure function of its arguments, so never stale).
@functools.lru_cache(maxsize=2048)
def _paper_text(
    title: str,
    abstract: str,
    summary: str,
    upvotes: int,
    comments: int,
    stars: int | None,
    arxiv_id: str,
    abs_url: str,
    hf_url: str,
    pdf_url: str,
    code_url: str,
    project_url: str,
) -> dict:
    # The excerpt goes on after the first line rather than saying it twice.
    lead, rest = lead_and_rest(summary, abstract, ABSTRACT_CHARS)
    shown = excerpt(rest, ABSTRACT_CHARS)
    links = {
        "pdf_url": safe_url(pdf_url),
        "code_url": safe_url(code_url),
        "hf_url": safe_url(hf_url),
        "project_url": safe_url(project_url),
    }
    return {
        "title": plain(title, limit=300) or "(untitled)",
        "url": paper_url(arxiv_id, abs_url, title, code_url, project_url),
        "popularity": _popularity(upvotes, comments),
        "lead": lead,
        "lead_lines": wrap(lead),
        "abstract": shown,
        "abstract_lines": wrap(shown),
        **links,
        "stars": _stars(stars) if links["code_url"] else "",
        "has_links": any(links.values()),
    }


def _stars(stars: int | None) -> str:
    """ "1.2k stars" beside the code link."""
    if stars is None:
        return ""
    count = f"{stars / 1000:.1f}k".replace(".0k", "k") if stars >= 1000 else str(stars)
    return f"{count} star{'s' if stars != 1 else ''}"


def _popularity(upvotes: int | None, comments: int | None) -> str:
    """ "92 upvotes · 1 comment", or what there is of it."""
    counts = [(upvotes or 0, "upvote"), (comments or 0, "comment")]
    return " · ".join(f"{n} {word}{'s' if n != 1 else ''}" for n, word in counts if n > 0)


# The highlight's style is written here, not in the template's CSS, because the marks
# come into the email after its CSS was inlined; dark mode restyles ".hl" in the template.
MARK = '<mark class="hl" style="background-color:#fff1a8;color:#111827;padding:0 1px">'


@functools.lru_cache(maxsize=4096)
def _highlighted(text: str, terms: tuple[str, ...]) -> SafeString:
    """``text`` escaped piece by piece, the matched terms in <mark>."""
    return mark_safe(  # noqa: S308 - every piece of feed text goes through html.escape()
        "".join(
            f"{MARK}{html.escape(piece)}</mark>" if marked else html.escape(piece)
            for piece, marked in highlight(text, terms)
        )
    )


# The topic language's syntax, which a typed topic's name in a subject or a footer drops:
# exclusions, field names, quotes, brackets, a prefix's star.
_EXCLUDED = re.compile(r'(?:^|\s)(?:-|NOT\s+)(?:"[^"]*"|\([^)]*\)|\S+)')
_FIELD = re.compile(r"\b(?:title|ti|abstract|abs|author|au|category|cat):", re.IGNORECASE)
_MORE_LIKE = re.compile(r"^\s*(?:more\s+like|like:|similar\s+to)\s*", re.IGNORECASE)
_OR = re.compile(r"\s*,\s*|\s+OR\s+")


def topic_name(topic: str, typed: frozenset[str] = frozenset()) -> str:
    """How a topic reads in an email: a catalogue topic by its name; one the subscriber
    typed (in ``typed``) without the query syntax (``"machine unlearning" -survey`` reads
    machine unlearning, ``diffusion, score-based`` reads diffusion or score-based)."""
    if topic not in typed:
        return plain(topic, limit=60)
    text = _MORE_LIKE.sub("papers like ", plain(topic))
    text = _FIELD.sub("", _EXCLUDED.sub(" ", text))
    text = _OR.sub(" or ", text.replace('"', "").replace("*", "").replace("(", "").replace(")", ""))
    return excerpt(" ".join(text.split()), 60) or plain(topic, limit=60)


def typed_topics(subscriber: Subscriber) -> frozenset[str]:
    return frozenset(line.strip() for line in subscriber.own_topics.splitlines() if line.strip())


def topics_of(matches: Sequence[MatchLike], typed: frozenset[str] = frozenset()) -> list[str]:
    """The distinct topics of the matches, in the order of their best match; papers
    added by the reader's votes ("papers you liked") come after the reader's topics."""
    topics: list[str] = []
    for match in sorted(matches, key=lambda match: match.kind == "feedback"):
        topic = excerpt(topic_name(match.topic, typed), 40)
        if topic and topic not in topics:
            topics.append(topic)
    return topics


def _topics_line(topics: Sequence[str]) -> str:
    """ "A and B", or "A, B and 3 more topics"."""
    more = len(topics) - SUBJECT_TOPICS
    if more <= 0:
        return join_words(topics)
    return join_words([*topics[:SUBJECT_TOPICS], f"{more} more topic{'s' if more > 1 else ''}"])


def followed_topics(subscriber: Subscriber) -> str:
    """What the subscriber follows, "A, B and C", for "why you get this" (uses a
    prefetched ``topics``)."""
    names = [plain(topic.name, limit=60) for topic in subscriber.topics.all()]
    typed = typed_topics(subscriber)
    names += [topic_name(line, typed) for line in subscriber.own_topic_lines]
    return join_words(names)


def _edition(subscriber: Subscriber, digest: Digest | None) -> datetime.date:
    if digest is not None:
        return digest.edition
    return local_date(timezone.now(), subscriber.time_zone)


def render_digest(
    subscriber: Subscriber, matches: Sequence[MatchLike], *, digest: Digest | None = None
) -> RenderedEmail:
    """The digest email for ``subscriber`` listing ``matches`` in the given order.

    With ``digest`` the email links to its web view; without (a preview) it does not.
    """
    return render_email(DIGEST, _digest_context(subscriber, matches, digest))


def render_webview(digest: Digest) -> str:
    """The HTML of a sent digest as the subscriber got it, from its stored items."""
    # A stored item is a match as the email had it: topic, terms and why are its values.
    items = list(digest.items.select_related("paper").order_by("rank", "pk"))
    context = _digest_context(digest.subscriber, items, digest, in_browser=True)
    return render_email(DIGEST, context).html


def _digest_context(
    subscriber: Subscriber,
    matches: Sequence[MatchLike],
    digest: Digest | None,
    *,
    in_browser: bool = False,
) -> dict:
    feedback = _link_maker("feedback")
    typed = typed_topics(subscriber)
    entries = [_paper_entry(subscriber, match, feedback, typed) for match in matches]
    topics = topics_of(matches, typed)
    return {
        "site_name": settings.SITE_NAME,
        "site_url": safe_url(settings.SITE_URL),
        "edition": _edition(subscriber, digest),
        "count": len(entries),
        "leading_topics": topics[:SUBJECT_TOPICS],
        "other_topics": max(len(topics) - SUBJECT_TOPICS, 0),
        "topics_line": _topics_line(topics),
        "papers": entries,
        "preheader": " · ".join(entry["title"] for entry in entries[:3]),
        "followed_topics": followed_topics(subscriber),
        "webview_url": webview_url(subscriber, digest) if digest and not in_browser else "",
        "manage_url": manage_link(subscriber),
        "unsubscribe_url": unsubscribe_url(subscriber),
        "postal_address": settings.POSTAL_ADDRESS,
    }


def render_email(name: str, context: dict) -> RenderedEmail:
    """Subject, text and HTML of an email from its three templates ``<name>-subject.txt``,
    ``<name>-body.txt`` and ``<name>-body.html`` (``name`` such as "digest/email/digest"):
    the one renderer of every email Paperwire sends."""
    subject = render_to_string(f"{name}-subject.txt", context)
    return RenderedEmail(
        subject=" ".join(subject.split())[:250],
        text=render_to_string(f"{name}-body.txt", context),
        html=_inlined_template(f"{name}-body.html").render(context),
    )


_INLINER = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False, minify_css=True)


@functools.cache
def _inlined_template(name: str):
    """The template ``name`` compiled from its source with the CSS already inlined.

    Inlining the source once, not each rendered email, takes css-inline off the hot
    path (bench/send.py measures both). It is sound because the HTML templates put
    template tags only where an HTML parser keeps them in place: in text inside
    cells and in attribute values (no tags between table rows, no filter arguments
    in quotes inside attributes). tests/test_compose.py checks the result equals
    inlining the rendered email.
    """
    # The Django backend's template, which the stubs type as any backend's.
    source = engines["django"].get_template(name).template.source  # type: ignore[attr-defined]
    return engines["django"].from_string(_INLINER.inline(source))


@receiver(file_changed, dispatch_uid="digest.mail.compose.template_changed")
def _forget_inlined_templates(sender, file_path: Path, **kwargs) -> None:
    # The development server reloads templates without restarting; follow it.
    if file_path.suffix == ".html":
        _inlined_template.cache_clear()


# --- the message ------------------------------------------------------------------------


def list_id() -> str:
    host = urlsplit(settings.SITE_URL).hostname or "localhost"
    name = plain(settings.SITE_NAME).replace("<", "").replace(">", "") or "Paperwire"
    return f"{name} <digest.{host}>"


def build_message(
    subscriber: Subscriber,
    rendered: RenderedEmail,
    *,
    digest: Digest | None = None,
    to: str | None = None,
) -> AnymailMessage:
    """The email to hand to Anymail: both parts, list headers, tags and metadata.

    ``to`` sends it elsewhere (a test send); the links stay the subscriber's.
    """
    unsubscribe = [f"<{unsubscribe_url(subscriber)}>"]
    if settings.LIST_UNSUBSCRIBE_MAILTO:
        unsubscribe.append(f"<mailto:{settings.LIST_UNSUBSCRIBE_MAILTO}?subject=unsubscribe>")
    message = AnymailMessage(
        subject=rendered.subject,
        body=rendered.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to or subscriber.email],
        headers={
            "List-Unsubscribe": ", ".join(unsubscribe),
            # RFC 8058: mail clients may unsubscribe with one POST, no page in between.
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "List-Id": list_id(),
            # RFC 3834: auto-responders (vacation replies) must not answer.
            "Auto-Submitted": "auto-generated",
            "X-Auto-Response-Suppress": "OOF, AutoReply",
        },
        tags=["digest"],
        metadata={"digest_id": digest.pk} if digest is not None else {},
        # An open-tracking pixel is a remote image, and click tracking would route the
        # signed links through the provider: neither, whatever the account's defaults.
        track_opens=False,
        track_clicks=False,
    )
    message.attach_alternative(rendered.html, "text/html")
    return message
