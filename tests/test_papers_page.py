from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.support.caching import clear_cache
from tests.support.pages import DAY, load_real_day, make_papers

pytestmark = pytest.mark.django_db


def test_it_lists_the_latest_days_papers_most_upvoted_first(client):
    load_real_day()
    response = client.get("/")
    assert response.status_code == 200
    papers = response.context["papers"]
    assert len(papers) == 15
    upvotes = [paper.day_upvotes for paper in papers]
    assert upvotes == sorted(upvotes, reverse=True)
    html = response.content.decode()
    top = papers[0]
    assert top.title in html
    assert f'href="{top.abs_url}"' in html or f'href="{top.hf_url}"' in html
    assert "Get papers on your topics in your inbox" in html
    assert 'action="/subscribe/"' in html


def test_it_shows_authors_the_first_sentence_the_start_of_the_rest_and_pdf_and_code_links(client):
    [paper] = make_papers(1, code_url="https://github.com/example/distill")
    paper.abstract = "We teach a small model to fold proteins well. Then " + " ".join(
        ["word"] * 200
    )
    paper.github_stars = 1234
    paper.save()
    html = client.get("/").content.decode()
    assert "Ada Lovelace and Alan Turing" in html  # as the digest email gives them
    assert '<p class="lead-line">We teach a small model to fold proteins well.</p>' in html
    assert "word " * 39 in html and "word " * 60 not in html
    assert f'href="{paper.pdf_url}">PDF' in html
    assert 'href="https://github.com/example/distill">Code</a>' in html
    assert "★ 1234" in html


def test_it_shows_the_sources_summary_first_and_links_every_title_to_the_paper(client):
    load_real_day()
    html = client.get("/").content.decode()
    assert '<p class="lead-line">Zetta is a closed-loop embodied harness' in html
    titles = re.findall(r'<h2><a href="([^"]+)">', html)
    assert len(titles) == 15 and all(t.startswith("https://arxiv.org/abs/") for t in titles)
    assert 'href="https://air-embodied-brain.github.io/zetta/">Project page</a>' in html
    assert "★ 152" in html


def test_a_paper_without_an_arxiv_id_links_to_a_title_search_not_its_code(client):
    [paper] = make_papers(1, abs_url="https://github.com/example/repo", title="Tiny models")
    paper.code_url = paper.abs_url
    paper.save()
    html = client.get("/").content.decode()
    assert '<h2><a href="https://arxiv.org/search/?query=Tiny+models&amp;searchtype=title">' in html
    assert 'href="https://github.com/example/repo">Code</a>' in html


def test_it_shows_a_busy_day_a_page_at_a_time(client):
    make_papers(45)
    first = client.get("/")
    assert len(first.context["papers"]) == 20
    html = first.content.decode()
    assert "45 papers, most upvoted first (page 1 of 3)" in html
    assert 'href="?page=2" rel="next">More papers (page 2 of 3)' in html
    third = client.get("/?page=3")
    assert len(third.context["papers"]) == 5
    assert '<ol class="papers" start="41">' in third.content.decode()
    assert "More papers" not in third.content.decode()
    assert client.get("/?page=4").status_code == 404
    assert client.get("/?page=x").status_code == 404
    pages = [client.get(f"/?page={n}").content.decode() for n in (1, 2, 3)]
    listed = [title for page in pages for title in re.findall(r"Paper number \d+", page)]
    assert len(listed) == len(set(listed)) == 45


def test_it_shows_an_earlier_day_and_links_between_days(client):
    make_papers(2, day=DAY - dt.timedelta(days=3))
    make_papers(1, day=DAY)
    response = client.get("/papers/2026-08-17/")
    assert response.status_code == 200
    assert len(response.context["papers"]) == 2
    assert 'href="/papers/2026-08-20/"' in response.content.decode()
    assert 'href="/papers/2026-08-17/"' in client.get("/").content.decode()


def test_it_answers_404_for_a_day_without_papers_or_a_non_date(client):
    make_papers(1)
    assert client.get("/papers/2026-01-01/").status_code == 404
    assert client.get("/papers/2026-13-45/").status_code == 404
    assert client.get("/papers/yesterday/").status_code == 404


def test_it_says_so_when_there_are_no_papers_yet(client):
    response = client.get("/")
    assert response.status_code == 200
    assert "No papers yet" in response.content.decode()


@pytest.mark.parametrize("url", ["/", "/papers/2026-08-20/", "/subscribe/"])
def test_it_runs_the_same_number_of_queries_for_1_and_50_papers(client, url):
    make_papers(1)
    with CaptureQueriesContext(connection) as one:
        assert client.get(url).status_code == 200
    make_papers(49, day=DAY, title="Another paper")
    clear_cache()  # measure a cold page, not the cached copy
    with CaptureQueriesContext(connection) as fifty:
        assert client.get(url).status_code == 200
    assert len(one) == len(fifty) <= 3, [q["sql"] for q in fifty.captured_queries]


def test_it_serves_the_papers_page_from_the_cache_without_touching_the_session(client):
    make_papers(3)
    first = client.get("/")
    assert "Cookie" not in first.get("Vary", "")
    with CaptureQueriesContext(connection) as again:
        assert client.get("/").content == first.content
    assert len(again) == 0


def test_it_answers_the_browsers_favicon_request_with_the_icon(client):
    response = client.get("/favicon.ico")
    assert (response.status_code, response["Location"]) == (301, "/static/paperwire/icon.svg")
