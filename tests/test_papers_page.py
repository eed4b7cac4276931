from __future__ import annotations

import datetime as dt

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


def test_it_shows_authors_the_start_of_the_abstract_and_pdf_and_code_links(client):
    [paper] = make_papers(1, code_url="https://github.com/example/distill")
    paper.abstract = " ".join(["word"] * 200)
    paper.save()
    html = client.get("/").content.decode()
    assert "Ada Lovelace and Alan Turing" in html  # as the digest email gives them
    assert "word " * 40 in html and "word " * 60 not in html
    assert f'href="{paper.pdf_url}">PDF' in html
    assert 'href="https://github.com/example/distill">Code' in html


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
