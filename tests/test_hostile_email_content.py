"""Hostile feed text in the digest email: script, event handlers, javascript: and data:
links, iframes and style, in any feed field, are absent from both parts of the email.

Most tests store the hostile values straight into Paper rows, as if ingest had let them
through, so they prove the email's own defence; the last one runs a hostile feed file
through the real ingest as well.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from digest.ingest.store import ingest_file
from digest.mail.compose import RenderedEmail, render_digest
from digest.models import Paper
from tests.support.sample_digest import Tags, match, subscriber

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"
HANDLERS = '<img src=x onerror="alert(1)"><b onclick="alert(1)" onmouseover=alert(1)>x</b>'
IFRAME = '<iframe src="https://evil.example/frame"></iframe>'
STYLE = '<style>body{color:#bada55}</style><span style="color:#bada55">styled</span>'
JS_LINKS = ["javascript:alert(1)", " JavaScript:alert(1)", "java\tscript:alert(1)"]
DATA_LINK = "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="


def assert_harmless(rendered: RenderedEmail) -> None:
    tags = Tags(rendered.html).tags
    assert not [tag for tag, _ in tags if tag in {"script", "iframe", "object", "embed", "img"}]
    assert not [name for _, attrs in tags for name in attrs if name.startswith("on")]
    assert [tag for tag, _ in tags].count("style") == 1  # ours, in the head
    for part in (rendered.html.lower(), rendered.text.lower(), rendered.subject.lower()):
        for needle in ("<script", "alert(", "<iframe", "evil.example", "onerror", "onclick"):
            assert needle not in part
        for needle in ("javascript:", "java\tscript", "data:text", "bada55"):
            assert needle not in part
    assert_links_are_http(rendered)


def assert_links_are_http(rendered: RenderedEmail) -> None:
    hrefs = [attrs["href"] for tag, attrs in Tags(rendered.html).tags if "href" in attrs]
    assert hrefs and all(re.match(r"https?://[^\s/]", href) for href in hrefs), hrefs
    words = rendered.text.lower().split()
    links = [w for w in words if "://" in w or re.match(r"(javascript|data|vbscript|file):", w)]
    assert links and all(re.match(r"https?://[^\s/]", link) for link in links), links


def hostile_paper(**fields) -> Paper:
    values = {
        "key": "hostile",
        "title": "Robot learning",
        "abstract": "A robot learns to walk.",
        "authors": ["Ada Lovelace"],
        "abs_url": "https://arxiv.org/abs/2608.00001",
        "pdf_url": "https://arxiv.org/pdf/2608.00001",
        "hf_url": "https://huggingface.co/papers/2608.00001",
        "upvotes": 3,
        **fields,
    }
    return Paper.objects.create(**values)


def render(paper: Paper, **match_fields) -> RenderedEmail:
    return render_digest(subscriber(), [match(paper, **match_fields)])


def test_script_in_title_abstract_and_authors_is_absent():
    paper = hostile_paper(
        title=f"Robot {SCRIPT} learning",
        abstract=f"A robot {SCRIPT}learns. <SCRIPT type=module>alert(1)",
        authors=[f"Eve {SCRIPT}", {"name": SCRIPT + "Mallory"}],
    )
    rendered = render(paper)
    assert_harmless(rendered)
    assert "Robot learning" in rendered.html and "Eve and Mallory" in rendered.text


def test_a_script_tag_split_to_reassemble_after_stripping_is_absent():
    rendered = render(hostile_paper(title="<scr<script>x</script>ipt>alert(1)</script>Robot"))
    assert_harmless(rendered)


def test_event_handlers_in_any_field_are_absent():
    paper = hostile_paper(
        title=f"Robot {HANDLERS}",
        abstract=f'<p onload="alert(1)">A robot</p> {HANDLERS}',
        authors=['<a onmouseover="alert(1)">Eve</a>'],
    )
    assert_harmless(render(paper))


@pytest.mark.parametrize("link", JS_LINKS)
def test_javascript_links_in_any_url_field_are_absent(link):
    paper = hostile_paper(
        abs_url=link, pdf_url=link, code_url=link, project_url=link, hf_url=link,
        abstract=f'A robot <a href="{link}">click</a>.',
    )  # fmt: skip
    rendered = render(paper)
    assert_harmless(rendered)
    assert "Robot learning" in rendered.html  # shown, without a link


def test_data_links_in_any_url_field_are_absent():
    paper = hostile_paper(
        abs_url=DATA_LINK, pdf_url=DATA_LINK, code_url=DATA_LINK, project_url=DATA_LINK,
        abstract=f'A robot <a href="{DATA_LINK}">data</a>.',
    )  # fmt: skip
    rendered = render(paper)
    assert_harmless(rendered)
    assert "https://huggingface.co/papers/2608.00001" in rendered.text  # the safe one stays


def test_iframes_in_any_field_are_absent():
    paper = hostile_paper(title=f"Robot {IFRAME}", abstract=f"{IFRAME}A robot", authors=[IFRAME])
    assert_harmless(render(paper))


def test_style_in_any_field_is_absent():
    paper = hostile_paper(title=f"Robot {STYLE}", abstract=f"A robot {STYLE}", authors=[STYLE])
    rendered = render(paper)
    assert_harmless(rendered)
    assert "styled" in rendered.text  # the words stay, the styling goes


def test_relative_and_odd_scheme_links_are_dropped_so_links_are_http_only():
    paper = hostile_paper(
        abs_url="/relative", pdf_url="//evil.example/x.pdf", code_url="vbscript:msgbox(1)",
        project_url="ftp://example.org/x", hf_url="https://huggingface.co/papers/2608.00001",
    )  # fmt: skip
    rendered = render(paper)
    assert_links_are_http(rendered)
    for needle in ("/relative", "evil.example", "vbscript", "ftp:"):
        assert needle not in rendered.html and needle not in rendered.text


def test_a_quote_in_a_link_cannot_break_out_of_its_attribute():
    paper = hostile_paper(code_url='https://example.org/" onmouseover="alert(1)')
    rendered = render(paper)
    assert_harmless(rendered)


def test_highlighting_cannot_inject_markup_or_break_escaping():
    paper = hostile_paper(abstract="If a < b & c > d then <b>bold</b> robot & amp lt")
    rendered = render(paper, terms=("amp", "lt", "b", "<b>", "robot"))
    # One sentence: the email's first line.
    found = re.search(r'<p class="lead-line"[^>]*>(.*?)</p>', rendered.html)
    assert found
    abstract = found.group(1)
    assert re.sub(r"<mark[^>]*>|</mark>", "", abstract) == (
        "If a &lt; b &amp; c &gt; d then bold robot &amp; amp lt"
    )
    assert re.findall(r"<mark[^>]*>([^<]*)</mark>", abstract) == ["b", "robot", "amp lt"]


def test_a_subscribers_own_topic_with_markup_is_absent():
    reader = subscriber(own_topics=f"robot {SCRIPT}\n{IFRAME} learning")
    paper = hostile_paper()
    topic = f"robot {SCRIPT}"
    rendered = render_digest(reader, [match(paper, topic=topic, terms=("robot",))])
    assert_harmless(rendered)
    assert "you follow Embodied agents, robot and learning" in rendered.text


def test_a_hostile_feed_through_the_real_ingest_is_harmless(tmp_path: Path):
    feed = tmp_path / "hostile.rss"
    feed.write_text(
        f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Hostile</title><link>https://example.org/</link>
<description>x</description>
<item><title>{_xml(SCRIPT + "Robot " + IFRAME + "learning")}</title>
<link>javascript:alert(1)</link><guid isPermaLink="false">hostile-1</guid>
<description>{_xml("<p>A robot " + HANDLERS + STYLE + '<a href="' + DATA_LINK + '">d</a></p>')}
</description>
<author>x@example.org ({_xml(SCRIPT + "Eve")})</author></item>
</channel></rss>""",
        encoding="utf-8",
    )
    run = ingest_file(feed)
    assert run.new == 1
    rendered = render(Paper.objects.get(key__contains="hostile-1"), terms=("robot",))
    assert_harmless(rendered)
    assert "Robot learning" in rendered.text


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
