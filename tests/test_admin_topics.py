"""The topic catalogue in the admin: the starting catalogue, query checks, previews."""

from __future__ import annotations

import importlib

import pytest

from accounts.models import Subscriber, User
from digest.matching import check_topic
from digest.models import Topic
from tests.support import admin_rows
from tests.support.delivery_world import DAY, list_papers

catalogue = importlib.import_module("digest.migrations.0003_topic_catalogue").CATALOGUE


@pytest.fixture
def operator(client):
    user = User.objects.create_superuser("operator@example.org")
    client.force_login(user)
    return user


def test_the_starting_catalogue_holds_about_twenty_topics_that_all_parse():
    assert 18 <= len(catalogue) <= 25
    assert len({name for name, _, _ in catalogue}) == len(catalogue)
    longest = Topic._meta.get_field("query").max_length
    assert longest is not None
    for name, description, query in catalogue:
        check_topic(query)  # raises TopicSyntaxError on a bad query
        assert description and len(query) <= longest, name


@pytest.mark.django_db
def test_a_new_installation_starts_with_the_catalogue_in_order():
    names = list(Topic.objects.values_list("name", flat=True))
    assert names[: len(catalogue)] == [name for name, _, _ in catalogue]
    assert Topic.objects.get(name="Knowledge distillation").public


@pytest.mark.django_db
def test_operators_can_edit_and_delete_catalogue_topics(client, operator):
    topic = Topic.objects.get(name="Machine unlearning")
    response = client.post(
        f"/admin/digest/topic/{topic.pk}/change/",
        {
            "name": "Unlearning",
            "description": "Forgetting on request.",
            "query": '"machine unlearning", unlearning -survey',
            "public": "",
            "order": "3",
        },
    )
    assert response.status_code == 302
    topic.refresh_from_db()
    assert (topic.name, topic.query, topic.public, topic.order) == (
        "Unlearning",
        '"machine unlearning", unlearning -survey',
        False,
        3,
    )
    client.post(f"/admin/digest/topic/{topic.pk}/delete/", {"post": "yes"})
    assert not Topic.objects.filter(pk=topic.pk).exists()


@pytest.mark.django_db
def test_an_invalid_query_is_refused_with_the_parsers_message(client, operator):
    response = client.post(
        "/admin/digest/topic/add/",
        {"name": "Broken", "description": "", "query": '"unclosed phrase', "order": "0"},
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["query"]
    assert "character" in errors[0]
    assert not Topic.objects.filter(name="Broken").exists()


@pytest.mark.django_db
def test_the_change_page_shows_what_the_query_matches_on_the_latest_day(client, operator):
    list_papers(DAY)
    topic = Topic.objects.get(name="Robotics")
    topic.subscribers.add(
        admin_rows.subscriber(), admin_rows.subscriber(status=Subscriber.Status.PAUSED)
    )
    page = client.get(f"/admin/digest/topic/{topic.pk}/change/").content.decode()
    assert f"On {DAY:%Y-%m-%d} this query finds" in page
    assert "Zetta" in page  # the sample's embodied-agent paper
    assert "&quot;robot&quot;" in page  # why it matched
    assert "Followed by <strong>1</strong> active subscriber (2 in all)" in page


@pytest.mark.django_db
def test_the_preview_shows_an_edited_query_before_it_is_saved(client, operator):
    list_papers(DAY)
    topic = Topic.objects.get(name="Robotics")
    response = client.get(
        "/admin/digest/topic/preview/", {"query": "unlearning", "topic": topic.pk}
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert "The More Popular, The Harder to Forget" in text
    assert "Zetta" not in text
    assert 'class="pw-match-count">1<' in text
    topic.refresh_from_db()
    assert topic.query.startswith("robot")  # nothing saved


@pytest.mark.django_db
def test_the_preview_of_a_broken_query_shows_the_parsers_message(client, operator):
    list_papers(DAY)
    response = client.get("/admin/digest/topic/preview/", {"query": "(graph neural"})
    assert response.status_code == 200
    assert "pw-query-error" in response.content.decode()


@pytest.mark.django_db
def test_the_preview_says_so_when_no_paper_was_listed_yet(client, operator):
    response = client.get("/admin/digest/topic/preview/", {"query": "distillation"})
    assert "No papers have been listed yet" in response.content.decode()


@pytest.mark.django_db
def test_the_topic_list_shows_follower_counts(client, operator):
    topic = admin_rows.topic()  # one follower
    response = client.get("/admin/digest/topic/", {"q": topic.name})
    assert [(row.name, row.followers) for row in response.context["cl"].result_list] == [
        (topic.name, 1)
    ]


@pytest.mark.django_db
def test_a_match_on_category_alone_says_so_instead_of_listing_words(client, operator):
    listing = admin_rows.listing()  # a cs.LG paper
    response = client.get("/admin/digest/topic/preview/", {"query": "category:cs.LG"})
    text = response.content.decode()
    assert listing.paper.title in text
    assert "its category, an author or a similar paper" in text
