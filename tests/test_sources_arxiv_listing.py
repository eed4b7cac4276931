"""arXiv listing RSS (rss.arxiv.org), on the real cs.AI, cs.CL and cs.LG feeds of 27 Apr 2026."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from digest.ingest.sources import arxiv_listing
from digest.models import Source

DATA = Path(__file__).parent / "data"
AI = "arxiv_rss2_rss.arxiv.org_cs.AI_trimmed.xml"


def test_it_reads_id_version_announce_type_and_abstract_without_the_prefix():
    parsed = arxiv_listing.parse((DATA / AI).read_bytes())
    assert (len(parsed.items), parsed.rejected, parsed.error) == (3, [], "")
    assert parsed.day == dt.date(2026, 4, 27)
    first = parsed.items[0]
    assert (first.key, first.arxiv_id, first.version) == ("arxiv:2604.21935", "2604.21935", 1)
    assert first.title == (
        "Math Takes Two: A test for emergent mathematical reasoning in communication"
    )
    assert first.abstract.startswith("Although language models demonstrate")
    assert first.announce_type == "new"
    assert first.authors == ["Michael Cooper", "Samuel Cooper"]
    assert first.categories == ["cs.AI", "cs.LG"]
    assert first.abs_url == "https://arxiv.org/abs/2604.21935"
    assert first.pdf_url == "https://arxiv.org/pdf/2604.21935"
    assert first.upvotes is None  # arXiv has no popularity: it must not reset Hugging Face's


def test_it_keeps_tex_and_literal_angle_brackets_in_abstracts():
    body = (
        (DATA / AI)
        .read_bytes()
        .replace(
            b"Abstract: Although",
            b"Abstract: For $0 &lt; x&lt;1$ and \\textbf{bold} &amp; more. Although",
        )
    )
    abstract = arxiv_listing.parse(body).items[0].abstract
    assert abstract.startswith(r"For $0 < x<1$ and \textbf{bold} & more. Although")


def test_it_treats_an_empty_weekend_feed_as_normal():
    body = (DATA / AI).read_bytes()
    empty = body[: body.index(b"<item>")] + b"</channel></rss>"
    parsed = arxiv_listing.parse(empty)
    assert (parsed.items, parsed.rejected, parsed.error) == ([], [], "")


def test_it_builds_the_feed_url_from_the_categories():
    source = Source(kind=Source.Kind.ARXIV_LISTING, params={"categories": ["cs.AI", "q-bio.NC"]})
    assert (
        arxiv_listing.url(source, dt.date(2026, 4, 27))
        == "https://rss.arxiv.org/rss/cs.AI+q-bio.NC"
    )
    custom = Source(kind=Source.Kind.ARXIV_LISTING, url="https://rss.arxiv.org/atom/cs.LG")
    assert arxiv_listing.url(custom, dt.date(2026, 4, 27)) == "https://rss.arxiv.org/atom/cs.LG"


def test_it_reads_the_atom_variant():
    atom = b"""<?xml version="1.0"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:arxiv="http://arxiv.org/schemas/atom"
      xmlns:dc="http://purl.org/dc/elements/1.1/">
  <id>http://rss.arxiv.org/atom/cs.AI</id><title>cs.AI updates on arXiv.org</title>
  <updated>2025-08-20T04:00:19.866337+00:00</updated>
  <entry>
    <id>oai:arXiv.org:2508.13426v2</id><title>An Atom Title</title>
    <updated>2025-08-20T04:00:19.866337+00:00</updated>
    <link rel="alternate" href="https://arxiv.org/abs/2508.13426"/>
    <summary>arXiv:2508.13426v2 Announce Type: replace-cross
Abstract: Atom abstract.</summary>
    <category term="cs.AI"/><published>2025-08-20T00:00:00-04:00</published>
    <arxiv:announce_type>replace-cross</arxiv:announce_type>
    <dc:creator>Ada Lovelace, Alan Turing</dc:creator>
  </entry>
</feed>"""
    parsed = arxiv_listing.parse(atom)
    item = parsed.items[0]
    assert (item.key, item.version, item.announce_type) == ("arxiv:2508.13426", 2, "replace-cross")
    assert item.abstract == "Atom abstract."
    assert item.authors == ["Ada Lovelace", "Alan Turing"]
    assert parsed.day == dt.date(2025, 8, 20)


def test_it_keeps_the_complete_items_of_a_truncated_feed():
    body = (DATA / AI).read_bytes()
    cut = body[: body.index(b"<dc:creator>", body.rindex(b"<item>"))]
    parsed = arxiv_listing.parse(cut)
    assert len(parsed.items) == 2
    assert parsed.error.startswith("malformed feed: no element found")
