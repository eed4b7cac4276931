"""Hostile feed content: each test is named for the attack and shows what is stored.

XML is parsed with its <!DOCTYPE> removed, so no entity can be declared: nothing expands,
nothing is read from disk, nothing is fetched. Markup is removed from every text field
and only http(s) links are kept, whatever kind of source the item came from.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from digest.ingest.store import ingest_file
from digest.models import Paper, Source
from tests.support.feedserver import FeedServer

pytestmark = pytest.mark.django_db

ITEMS = b"""<rss version="2.0"><channel>
<item><title>Bomb &lol9;</title><guid>bomb-1</guid><description>&lol9;</description></item>
<item><title>Fine</title><guid>fine-1</guid></item>
</channel></rss>"""


def laughs(levels: int) -> bytes:
    """Entities each ten times the one before: 10**levels "lol"s from a few hundred bytes."""
    lines = ['<?xml version="1.0"?>', "<!DOCTYPE rss [", '<!ENTITY lol0 "lol">']
    lines += [f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, levels + 1)]
    return "\n".join(lines).encode() + b"]>\n" + ITEMS.replace(b"lol9", f"lol{levels}".encode())


def write(tmp_path: Path, body: bytes, name: str = "feed.xml") -> Path:
    path = tmp_path / name
    path.write_bytes(body)
    return path


def stored_text() -> str:
    return json.dumps(list(Paper.objects.values()), default=str)


# A billion laughs (9 levels), and a small one (3 levels) that expat's own amplification
# limit would let through: neither is expanded, since no entity declaration survives.
@pytest.mark.parametrize("levels", [9, 3], ids=["billion_laughs", "small_bomb"])
def test_it_does_not_expand_an_entity_expansion_bomb(tmp_path, levels):
    run = ingest_file(write(tmp_path, laughs(levels)))
    assert "lollol" not in stored_text()
    assert Paper.objects.filter(key="fine-1").exists()
    assert run.status in {"ok", "partial"}


def test_it_does_not_expand_a_quadratic_blowup(tmp_path):
    # One plain 10 kB entity used 1,000 times: 10 MB of text from 14 kB. feedparser keeps
    # such "safe" entities, and its lenient parser expands them after expat gives up.
    entity = b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY a "' + b"A" * 10_000 + b'">\n]>\n'
    body = entity + b'<rss version="2.0"><channel><item><title>Q</title><guid>q-1</guid>'
    body += b"<description>" + b"&a;" * 1000 + b"</description></item></channel></rss>"
    ingest_file(write(tmp_path, body))
    assert "AAAA" not in stored_text()


def test_it_reads_no_local_file_through_an_external_entity(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-MARKER")
    body = (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "file://{secret}">]>'
        '<rss version="2.0"><channel><item><title>Leak &xxe;</title><guid>xxe-1</guid>'
        "<description>&xxe;</description></item></channel></rss>"
    ).encode()
    ingest_file(write(tmp_path, body))
    assert Paper.objects.filter(key="xxe-1").exists()
    assert "TOP-SECRET-MARKER" not in stored_text()


@pytest.mark.parametrize(
    "doctype",
    [
        '<!DOCTYPE rss SYSTEM "{url}">',
        '<!DOCTYPE rss [<!ENTITY % remote SYSTEM "{url}"> %remote;]>',
        '<!DOCTYPE rss [<!ENTITY ext SYSTEM "{url}">]>',
    ],
    ids=["external_dtd", "parameter_entity", "external_entity"],
)
def test_it_makes_no_connection_for_an_external_dtd_or_entity(tmp_path, doctype):
    with FeedServer() as server:
        body = doctype.format(url=server.url("/evil.dtd")).encode() + (
            b'<rss version="2.0"><channel><item><title>T &ext;</title><guid>dtd-1</guid>'
            b"</item></channel></rss>"
        )
        ingest_file(write(tmp_path, body))
        assert server.requests == []
    assert Paper.objects.filter(key="dtd-1").exists()


MARKUP = (
    '<script>alert(1)</script><b onmouseover="steal()">Clean</b> '
    '<iframe src="https://evil.example/"></iframe><style>body{display:none}</style>'
    '<a href="javascript:alert(1)">words</a><img src=x onerror=alert(1)>'
)
EXPECTED = "Clean words"
BAD_LINK = "javascript:alert(document.cookie)"
DATA_LINK = "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="


def escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def hostile_rss() -> bytes:
    return f"""<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>
    <item><title>{escaped(MARKUP)}</title><description>{escaped(MARKUP)}</description>
    <link>{BAD_LINK}</link><guid isPermaLink="false">hostile-rss</guid>
    <dc:creator>{escaped("<script>x()</script>Eve")}</dc:creator>
    <category>{escaped("<img src=x onerror=alert(1)>cs.XX")}</category></item>
    </channel></rss>""".encode()


def hostile_atom() -> bytes:
    return f"""<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
    <entry><id>hostile-atom</id><title type="html">{escaped(MARKUP)}</title>
    <summary type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">{
        MARKUP.replace("<img src=x onerror=alert(1)>", '<img src="x" onerror="alert(1)"/>')
    }</div></summary>
    <link rel="alternate" href="{DATA_LINK}"/><author><name>Eve</name></author></entry>
    </feed>""".encode()


def hostile_listing() -> bytes:
    return f"""<rss version="2.0" xmlns:arxiv="http://arxiv.org/schemas/atom"
    xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>
    <item><title>{escaped(MARKUP)}</title><link>{BAD_LINK}</link>
    <description>arXiv:2604.99999v1 Announce Type: new
Abstract: {escaped(MARKUP)}</description>
    <guid isPermaLink="false">oai:arXiv.org:2604.99999v1</guid>
    <arxiv:announce_type>new</arxiv:announce_type>
    <dc:creator>{escaped("<script>x()</script>Eve, Mallory")}</dc:creator></item>
    </channel></rss>""".encode()


def hostile_hf() -> bytes:
    paper = {
        "id": "2608.99999",
        "title": MARKUP,
        "summary": MARKUP,
        "authors": [{"name": "<img src=x onerror=alert(1)>Eve"}],
        "githubRepo": BAD_LINK,
        "projectPage": DATA_LINK,
        "upvotes": 1,
    }
    return json.dumps([{"paper": paper, "numComments": 0}]).encode()


@pytest.mark.parametrize(
    ("make", "key"),
    [
        (hostile_rss, "hostile-rss"),
        (hostile_atom, "hostile-atom"),
        (hostile_listing, "arxiv:2604.99999"),
        (hostile_hf, "arxiv:2608.99999"),
    ],
    ids=["rss", "atom", "arxiv_listing", "hf_daily"],
)
def test_it_neutralises_scripts_handlers_frames_styles_and_bad_links_in_every_field(
    tmp_path, make, key
):
    run = ingest_file(write(tmp_path, make()))
    assert run.rejected == 0
    paper = Paper.objects.get(key=key)
    assert paper.title == EXPECTED
    assert paper.abstract == EXPECTED
    assert paper.authors[0] == "Eve"
    text = stored_text().lower()
    for trace in ("<", "script", "onerror", "onmouseover", "iframe", "display:none", "javascript"):
        assert trace not in text
    assert "data:" not in text
    for url in (paper.abs_url, paper.pdf_url, paper.code_url, paper.project_url, paper.hf_url):
        assert url == "" or url.startswith("https://")


def test_it_rejects_an_item_whose_only_identity_is_a_javascript_link(tmp_path):
    body = f"""<rss version="2.0"><channel><item><title>No way in</title>
    <link>{BAD_LINK}</link></item></channel></rss>""".encode()
    run = ingest_file(write(tmp_path, body), Source.objects.create(name="F", kind="feed"))
    assert (run.new, run.rejected) == (0, 1)
    assert run.errors == ["item 1: no guid, link or arXiv id ('No way in')"]


def test_it_drops_script_elements_written_as_raw_xml_in_a_listing(tmp_path):
    body = b"""<rss version="2.0" xmlns:arxiv="http://arxiv.org/schemas/atom"><channel>
    <item><title>Clean <script>alert(1)</script><b onclick="x()">words</b></title>
    <description>arXiv:2604.99998v1 Announce Type: new
Abstract: Kept <style>body{display:none}</style>text<iframe src="https://evil.example/"/>
    </description><guid>oai:arXiv.org:2604.99998v1</guid>
    <arxiv:announce_type>new</arxiv:announce_type></item></channel></rss>"""
    ingest_file(write(tmp_path, body))
    paper = Paper.objects.get(key="arxiv:2604.99998")
    assert (paper.title, paper.abstract) == ("Clean words", "Kept text")


LISTING = (
    Path(__file__).parent / "data" / "arxiv_rss2_rss.arxiv.org_cs.AI_trimmed.xml"
).read_text()


def declaring_body(kind: str, encoding: str) -> bytes:
    """A feed whose DOCTYPE declares a 4 kB entity used in its last item, in ``encoding``."""
    label = encoding.removesuffix("-nobom").removesuffix("-be")
    prolog = (
        f'<?xml version="1.0" encoding="{label}"?>\n<!DOCTYPE rss [<!ENTITY a "{"A" * 4000}">]>\n'
    )
    if kind == "arxiv_listing":
        head, last = LISTING.rsplit("<item>\n      <title>", 1)
        feed = f"{head}<item>\n      <title>&a; {last}"
    else:
        feed = ITEMS.decode().replace("Bomb &lol9;", "Bomb &a;").replace("&lol9;", "&a;")
    text = prolog + feed
    if encoding.endswith("-nobom"):
        return text.encode(encoding.removesuffix("-nobom"))
    return text.encode(encoding)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-32", "utf-16-be-nobom"])
@pytest.mark.parametrize("kind", ["feed", "arxiv_listing"])
def test_it_expands_no_entity_whatever_the_bodys_encoding(tmp_path, kind, encoding):
    # The DOCTYPE used to be found by its UTF-8 bytes only: in UTF-16 or UTF-32 it stayed,
    # and expat expanded what it declared.
    source = Source.objects.create(name=f"Hostile {kind}", kind=kind, enabled=False)
    ingest_file(write(tmp_path, declaring_body(kind, encoding)), source=source)
    assert "AAAA" not in stored_text()
    assert Paper.objects.exists()  # the DOCTYPE went; the papers before the entity stayed
