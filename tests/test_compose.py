from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.core import mail
from django.template.loader import render_to_string

from accounts.links import manage_link, unsubscribe_url
from digest.mail import compose
from digest.mail.compose import build_message, render_digest
from tests.support.sample_digest import Tags, match, sample_papers, sent_digest, subscriber

pytestmark = pytest.mark.django_db

TERMS = ("robot", "agents", "embodied")


@pytest.fixture
def site(settings):
    settings.SITE_URL = "https://papers.example.org"
    settings.SITE_NAME = "Paperwire"
    settings.POSTAL_ADDRESS = "Paperwire Lab, 12 Example Street, 75001 Paris"
    settings.LIST_UNSUBSCRIBE_MAILTO = ""
    return settings


@pytest.fixture
def papers():
    return sample_papers(10)


@pytest.fixture
def reader():
    return subscriber(own_topics="knowledge distillation\nauthor:Hinton")


def by_title(papers, start):
    return next(p for p in papers if p.title.startswith(start))


def test_it_puts_the_count_and_the_leading_topics_in_the_subject(site, papers, reader):
    matches = [
        match(papers[0], "knowledge distillation"),
        match(papers[1], "mixture of experts"),
        match(papers[2], "knowledge distillation"),
    ]
    subject = render_digest(reader, matches).subject
    assert subject == "3 new papers on knowledge distillation, mixture of experts"


def test_it_says_more_topics_follow_past_the_leading_two(site, papers, reader):
    matches = [match(p, topic) for p, topic in zip(papers, ["a", "b", "c"], strict=False)]
    assert render_digest(reader, matches).subject == "3 new papers on a, b and more"


def test_it_names_typed_topics_without_their_query_syntax(site, papers):
    typed = ['"machine unlearning" -survey', "title:(graph neural), GNN*", "author:Hinton"]
    reader = subscriber(own_topics="\n".join(typed))
    matches = [match(paper, topic) for paper, topic in zip(papers, typed, strict=False)]
    rendered = render_digest(reader, matches)
    assert rendered.subject == "3 new papers on machine unlearning, graph neural or GNN and more"
    assert "machine unlearning, graph neural or GNN and Hinton" in rendered.text
    chips = re.findall(r'<span class="chip"[^>]*>([^<]*)</span>', rendered.html)
    assert chips == ["machine unlearning", "graph neural or GNN", "Hinton"]


def test_a_catalogue_topic_keeps_its_name_whatever_characters_it_has(site, papers, reader):
    rendered = render_digest(reader, [match(papers[0], "C++ (systems): -O2 builds")])
    assert rendered.subject == "1 new paper on C++ (systems): -O2 builds"


def test_the_subject_and_text_part_are_not_html_escaped(site, papers, reader):
    rendered = render_digest(reader, [match(papers[0], "Q&A for O'Brien, 0<k<2 > 1")])
    assert rendered.subject == "1 new paper on Q&A for O'Brien, 0<k<2 > 1"
    assert "Why: Q&A for O'Brien, 0<k<2 > 1" in rendered.text
    assert "Q&amp;A for O&#x27;Brien, 0&lt;k&lt;2 &gt; 1" in rendered.html


def test_it_writes_one_paper_in_the_singular(site, papers, reader):
    assert render_digest(reader, [match(papers[0])]).subject == "1 new paper on Embodied agents"


def test_it_lists_each_paper_with_its_page_pdf_code_and_hugging_face_links(site, papers, reader):
    zetta = by_title(papers, "Zetta")
    rendered = render_digest(reader, [match(zetta, terms=TERMS)])
    hrefs = [attrs.get("href") for tag, attrs in Tags(rendered.html).tags if tag == "a"]
    for url in [
        "https://arxiv.org/abs/2608.16590",
        "https://arxiv.org/pdf/2608.16590",
        "https://github.com/air-embodied-brain/Zetta-Embodiment",
        "https://huggingface.co/papers/2608.16590",
    ]:
        assert url in hrefs
        assert url in rendered.text
    assert "Zetta ζ: An Efficient Closed-Loop Embodied Harness" in rendered.html
    assert "92 upvotes" in rendered.html and "1 comment" in rendered.html
    assert "92 upvotes · 1 comment" in rendered.text


def _title_link(rendered) -> str:
    return next(
        attrs["href"]
        for tag, attrs in Tags(rendered.html).tags
        if tag == "a" and attrs.get("class") == "title-link"
    )


def test_it_links_the_title_to_the_paper_itself_never_to_its_code(site, papers, reader):
    paper = papers[0]
    paper.abs_url = ""  # the arXiv id is enough
    assert _title_link(render_digest(reader, [match(paper)])) == "https://arxiv.org/abs/2608.16590"
    paper.arxiv_id, paper.abs_url = "", paper.code_url  # a feed whose link is the repository
    rendered = render_digest(reader, [match(paper)])
    assert _title_link(rendered).startswith("https://arxiv.org/search/?query=Zetta+")
    assert _title_link(rendered).endswith("&searchtype=title")
    assert f"Read: {_title_link(rendered)}" in rendered.text
    hrefs = [attrs.get("href") for tag, attrs in Tags(rendered.html).tags if tag == "a"]
    assert paper.code_url in hrefs  # beside the title, not instead of it
    paper.abs_url = "https://journal.example.org/articles/42"
    assert _title_link(render_digest(reader, [match(paper)])) == paper.abs_url


def test_it_shows_the_summary_first_and_the_stars_beside_the_code_link(site, papers, reader):
    zetta = by_title(papers, "Zetta")
    rendered = render_digest(reader, [match(zetta, terms=("embodied",))])
    assert zetta.summary.startswith("Zetta is a closed-loop embodied harness")
    lead = rendered.text.index("Zetta is a closed-loop embodied harness")
    assert lead < rendered.text.index(zetta.abstract[:60])
    assert "Code: https://github.com/air-embodied-brain/Zetta-Embodiment (152 stars)" in (
        rendered.text
    )
    assert re.search(r">Code · 152 stars</a>", rendered.html)
    assert re.search(
        r'<p class="lead-line"[^>]*>Zetta is a closed-loop <mark[^>]*>embodied', (rendered.html)
    )


def test_without_a_summary_the_first_sentence_leads_and_is_not_repeated(site, papers, reader):
    paper = papers[1]
    paper.summary = ""
    paper.abstract = (
        "We study how robots learn to fold laundry from few examples. Our method uses a "
        "world model. It works."
    )
    rendered = render_digest(reader, [match(paper)])
    assert rendered.text.count("We study how robots learn to fold laundry") == 1
    assert rendered.text.index("We study how") < rendered.text.index("Our method uses a")


def test_it_shortens_a_long_author_list(site, papers, reader):
    zetta = by_title(papers, "Zetta")  # 15 authors
    rendered = render_digest(reader, [match(zetta)])
    assert "Xin Ding, Liang Mi, Mingzhe Huang, … and 12 others" in rendered.html
    assert "Xin Ding, Liang Mi, Mingzhe Huang, … and 12 others" in rendered.text
    assert "Ting Cao" not in rendered.html


def test_it_says_why_each_paper_was_chosen(site, papers, reader):
    rendered = render_digest(reader, [match(papers[0], "Embodied agents", ("robot", "agents"))])
    assert 'Why: Embodied agents: "robot", "agents"' in rendered.text
    assert "Why: Embodied agents: &quot;robot&quot;, &quot;agents&quot;" in rendered.html


def test_it_highlights_the_matched_terms_in_the_start_of_the_abstract(site, papers, reader):
    zetta = by_title(papers, "Zetta")
    terms = ("embodied", "agents", "loop", "age")
    rendered = render_digest(reader, [match(zetta, terms=terms)])
    found = re.search(r'<p class="abstract"[^>]*>(.*?)</p>', rendered.html)
    assert found
    abstract = found.group(1)
    marked = re.findall(r"<mark[^>]*>([^<]*)</mark>", abstract)
    # Neighbouring terms make one highlight; a term is a whole word ("closed-loop" has
    # "loop", "agents" has no "age").
    assert marked == ["Embodied agents", "loop", "loop"]
    assert 'class="hl" style="background-color:#fff1a8' in rendered.html
    # The text part is for reading: no markup at all.
    assert "<mark" not in rendered.text and "Embodied agents are increasingly" in rendered.text


def test_it_cuts_the_abstract_at_a_word_near_300_characters(site, papers, reader):
    zetta = by_title(papers, "Zetta")
    shown = compose._paper_entry(reader, match(zetta), str, frozenset())["abstract"]
    assert len(zetta.abstract) > 1000
    assert 250 < len(shown) <= 301
    assert shown.endswith("…")
    assert zetta.abstract.startswith(shown[:-1])
    assert zetta.abstract[len(shown) - 1] in " ,."  # cut between words


def test_it_renders_a_paper_with_nothing_but_a_key(site, reader):
    from digest.models import Paper

    bare = Paper.objects.create(key="bare", title="", authors={"not": "a list"}, upvotes=-3)
    rendered = render_digest(reader, [match(bare, terms=("robot",))])
    assert "(untitled)" in rendered.html and "(untitled)" in rendered.text
    hrefs = [attrs["href"] for tag, attrs in Tags(rendered.html).tags if tag == "a"]
    assert not [href for href in hrefs if "arxiv" in href or "huggingface" in href]
    assert "upvote" not in rendered.text and "Read:" not in rendered.text


def test_it_writes_the_footer_with_topics_preferences_unsubscribe_and_address(site, papers, reader):
    rendered = render_digest(reader, [match(papers[0])])
    for part in (rendered.html, rendered.text):
        assert "you follow Embodied agents, knowledge distillation and Hinton" in part
        assert manage_link(reader) in part
        assert unsubscribe_url(reader) in part
        assert "Paperwire Lab, 12 Example Street, 75001 Paris" in part
    assert unsubscribe_url(reader).startswith("https://papers.example.org/unsubscribe/")


def test_it_links_the_web_view_only_for_a_recorded_digest(site, papers, reader):
    matches = [match(papers[0])]
    preview = render_digest(reader, matches)
    assert "/digests/" not in preview.html and "/digests/" not in preview.text
    digest = sent_digest(reader, matches)
    rendered = render_digest(reader, matches, digest=digest)
    assert re.search(r'href="https://papers\.example\.org/digests/[^"/]+/"', rendered.html)
    assert "View this email in your browser: https://papers.example.org/digests/" in rendered.text


def test_it_inlines_the_css_and_keeps_dark_mode_and_phones_in_the_head(site, papers, reader):
    html = render_digest(reader, [match(p, terms=TERMS) for p in papers]).html
    head, body = html.split("<body", 1)
    assert "@media (prefers-color-scheme: dark)" in head
    assert "@media screen and (max-width: 620px)" in head
    assert "<style" not in body
    # The head keeps only the @media rules; everything else sits on the elements.
    found = re.search(r"<style>(.*?)</style>", head, re.S)
    assert found
    style_block = found.group(1)
    assert not re.sub(r"@media[^{]*\{(?:[^{}]*\{[^{}]*\})*[^{}]*\}", "", style_block).strip()
    cards = [attrs for tag, attrs in Tags(html).tags if attrs.get("class") == "card-cell"]
    assert len(cards) == 10
    assert all("border-top:1px solid #e5e7eb" in attrs["style"] for attrs in cards)


def test_it_needs_no_remote_images_and_lays_out_with_tables(site, papers, reader):
    html = render_digest(reader, [match(p) for p in papers]).html
    tags = Tags(html).tags
    assert not [attrs for tag, attrs in tags if tag == "img" or "src" in attrs]
    assert "url(" not in html
    layout = [attrs for tag, attrs in tags if tag == "table"]
    assert len(layout) >= 12 and all(attrs.get("role") == "presentation" for attrs in layout)


def test_it_renders_the_same_email_as_inlining_each_rendered_email(site, papers, reader):
    """The CSS is inlined once on the template source; that must equal doing it per email."""
    context = compose._digest_context(reader, [match(p, terms=TERMS) for p in papers], None)
    fast = compose.render_email(compose.DIGEST, context).html
    naive = compose._INLINER.inline(render_to_string("digest/email/digest-body.html", context))
    assert Tags(fast).tags == Tags(naive).tags
    assert re.sub(r"\s+", " ", _text_of(fast)) == re.sub(r"\s+", " ", _text_of(naive))


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _text_of(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return "".join(parser.parts)


def test_it_renders_without_a_query_once_topics_are_prefetched(
    site, papers, reader, django_assert_num_queries
):
    from accounts.models import Subscriber

    reader = Subscriber.objects.prefetch_related("topics").get(pk=reader.pk)
    matches = [match(p, terms=TERMS) for p in papers]
    with django_assert_num_queries(0):
        render_digest(reader, matches)


def test_the_message_carries_the_list_headers(site, papers, reader):
    site.LIST_UNSUBSCRIBE_MAILTO = "unsubscribe@papers.example.org"
    digest = sent_digest(reader, [match(papers[0])])
    message = build_message(reader, render_digest(reader, [match(papers[0])]), digest=digest)
    headers = message.extra_headers
    assert headers["List-Unsubscribe"] == (
        f"<{unsubscribe_url(reader)}>, <mailto:unsubscribe@papers.example.org?subject=unsubscribe>"
    )
    assert headers["List-Unsubscribe"].startswith("<https://")
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert headers["List-Id"] == "Paperwire <digest.papers.example.org>"
    assert headers["Auto-Submitted"] == "auto-generated"


def test_the_list_unsubscribe_header_has_no_mailto_unless_configured(site, papers, reader):
    message = build_message(reader, render_digest(reader, [match(papers[0])]))
    assert message.extra_headers["List-Unsubscribe"] == f"<{unsubscribe_url(reader)}>"


def test_anymail_receives_both_parts_tags_and_the_digest_id(site, papers, reader):
    site.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    matches = [match(p, terms=TERMS) for p in papers[:3]]
    digest = sent_digest(reader, matches)
    rendered = render_digest(reader, matches, digest=digest)
    build_message(reader, rendered, digest=digest).send()
    (sent,) = mail.outbox
    params = sent.anymail_test_params  # type: ignore[union-attr]  # set by Anymail's test backend
    assert params["to"][0].addr_spec == "ada@example.org"
    assert params["subject"] == rendered.subject
    assert params["tags"] == ["digest"]
    assert params["metadata"] == {"digest_id": digest.pk}
    assert params["text_body"] == rendered.text
    assert params["html_body"] == rendered.html
    assert params["track_opens"] is False and params["track_clicks"] is False
    assert params["extra_headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_a_test_send_goes_to_the_given_address(site, papers, reader):
    site.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    rendered = render_digest(reader, [match(papers[0])])
    build_message(reader, rendered, to="operator@example.org").send()
    params = mail.outbox[0].anymail_test_params  # type: ignore[union-attr]  # as above
    assert params["to"][0].addr_spec == "operator@example.org"
