"""The subscriber lifecycle: each transition, races, stale instances, suppression.

Every status change goes through ``accounts.lifecycle``; the last tests read the code to
make sure nothing else writes a subscriber's status.
"""

from __future__ import annotations

import ast
import datetime as dt
import re
from concurrent.futures import ThreadPoolExecutor
from importlib import import_module
from pathlib import Path

import pytest
from django.apps import apps
from django.db import connection
from django.utils import timezone

from accounts import lifecycle, subscription
from accounts.forms import PreferencesForm
from accounts.models import Consent, Subscriber
from accounts.signup import Visitor
from digest.mail import delivery
from digest.models import EmailEvent, Suppression
from tests.support.pages import make_subscriber

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
Status = Subscriber.Status
VISITOR = Visitor(ip="192.0.2.7", user_agent="Firefox")


def fresh(subscriber: Subscriber) -> Subscriber:
    return Subscriber.objects.get(pk=subscriber.pk)


# Each transition ------------------------------------------------------------------------


def test_confirming_activates_a_pending_subscriber_once_and_records_the_consent():
    person = make_subscriber(status=Status.PENDING)
    assert lifecycle.confirm(person, VISITOR)
    assert not lifecycle.confirm(fresh(person), VISITOR)  # a second time changes nothing
    person = fresh(person)
    assert person.status == Status.ACTIVE
    assert person.confirmed_at is not None
    assert person.next_send_at is not None and person.next_send_at > timezone.now()
    consent = Consent.objects.get()
    assert (consent.action, consent.ip_address) == ("confirm", "192.0.2.7")


def test_pausing_and_resuming_stop_and_restart_the_schedule():
    person = make_subscriber()
    assert lifecycle.pause(person)
    assert (person.status, fresh(person).status, fresh(person).next_send_at) == (
        Status.PAUSED,
        Status.PAUSED,
        None,
    )
    assert not lifecycle.pause(person)
    assert lifecycle.resume(person)
    assert fresh(person).status == Status.ACTIVE
    resumed = fresh(person).next_send_at
    assert resumed is not None and resumed > timezone.now()
    assert not lifecycle.resume(person)


@pytest.mark.parametrize("start", [Status.PENDING, Status.ACTIVE, Status.PAUSED])
def test_unsubscribing_stops_every_email_and_saying_it_twice_changes_nothing(start):
    person = make_subscriber(status=start, next_send_at=timezone.now())
    assert lifecycle.unsubscribe(person)
    when = fresh(person).unsubscribed_at
    assert (fresh(person).status, fresh(person).next_send_at) == (Status.UNSUBSCRIBED, None)
    assert not lifecycle.unsubscribe(fresh(person))
    assert fresh(person).unsubscribed_at == when


def test_unsubscribing_leaves_a_suppressed_address_suppressed():
    person = make_subscriber()
    lifecycle.suppress(person.email, Suppression.Reason.BOUNCED)
    assert not lifecycle.unsubscribe(fresh(person))
    assert fresh(person).status == Status.SUPPRESSED


def test_resubscribing_brings_back_only_an_unsubscribed_subscriber_with_their_consent():
    person = make_subscriber(status=Status.UNSUBSCRIBED, unsubscribed_at=timezone.now())
    assert lifecycle.resubscribe(person, VISITOR)
    person = fresh(person)
    assert (person.status, person.unsubscribed_at) == (Status.ACTIVE, None)
    assert person.next_send_at is not None and person.next_send_at > timezone.now()
    assert Consent.objects.get().action == "resubscribe"
    assert not lifecycle.resubscribe(person, VISITOR)
    assert Consent.objects.count() == 1


def test_suppressing_holds_a_pending_active_or_paused_subscriber_but_not_an_unsubscribed_one():
    people = {
        status: make_subscriber(f"{status}@example.org", status=status, next_send_at=timezone.now())
        for status in (Status.PENDING, Status.ACTIVE, Status.PAUSED, Status.UNSUBSCRIBED)
    }
    for person in people.values():
        assert lifecycle.suppress(person.email, Suppression.Reason.COMPLAINED)
    assert {status: fresh(p).status for status, p in people.items()} == {
        Status.PENDING: Status.SUPPRESSED,
        Status.ACTIVE: Status.SUPPRESSED,
        Status.PAUSED: Status.SUPPRESSED,
        Status.UNSUBSCRIBED: Status.UNSUBSCRIBED,
    }
    assert fresh(people[Status.ACTIVE]).next_send_at is None
    assert Suppression.objects.count() == 4
    assert not lifecycle.suppress("active@example.org", Suppression.Reason.BOUNCED)  # no news


def test_lifting_leaves_the_subscriber_unsubscribed_unless_asked_to_reactivate():
    quiet = make_subscriber("quiet@example.org", soft_bounces=3)
    back = make_subscriber("back@example.org", soft_bounces=3)
    for person in (quiet, back):
        lifecycle.suppress(person.email, Suppression.Reason.SOFT_BOUNCES)

    assert lifecycle.lift(quiet.email)
    assert lifecycle.lift(back.email, reactivate=True)
    assert not Suppression.objects.exists()
    quiet, back = fresh(quiet), fresh(back)
    assert (quiet.status, quiet.next_send_at) == (Status.UNSUBSCRIBED, None)
    assert quiet.unsubscribed_at is not None
    assert (back.status, back.soft_bounces) == (Status.ACTIVE, 0)
    assert back.next_send_at is not None and back.next_send_at > timezone.now()


def test_no_transition_makes_a_suppressed_address_active():
    person = make_subscriber(status=Status.PENDING)
    Suppression.objects.create(email=person.email, reason=Suppression.Reason.MANUAL)
    assert not lifecycle.confirm(person)
    assert fresh(person).status == Status.PENDING


def test_the_admin_status_field_reaches_each_status_by_its_one_transition():
    assert lifecycle.reachable(Status.PENDING) == [
        Status.PENDING,
        Status.ACTIVE,
        Status.UNSUBSCRIBED,
        Status.SUPPRESSED,
    ]
    assert lifecycle.reachable(Status.UNSUBSCRIBED) == [Status.ACTIVE, Status.UNSUBSCRIBED]
    person = make_subscriber()
    assert lifecycle.move_to(person, Status.SUPPRESSED)
    assert Suppression.objects.get().reason == Suppression.Reason.MANUAL
    assert not lifecycle.move_to(fresh(person), Status.PAUSED)  # no such route
    assert lifecycle.move_to(fresh(person), Status.ACTIVE)  # lifts the suppression
    assert (fresh(person).status, Suppression.objects.count()) == (Status.ACTIVE, 0)


# Races and stale instances -----------------------------------------------------------


def test_a_transition_that_lost_a_race_changes_nothing():
    person = make_subscriber()
    stale = fresh(person)  # read by another request before the unsubscribe below
    assert lifecycle.unsubscribe(person)
    assert stale.status == Status.ACTIVE
    assert not lifecycle.pause(stale)
    assert stale.status == Status.ACTIVE  # a lost move leaves the instance as it was too
    assert fresh(person).status == Status.UNSUBSCRIBED


@pytest.mark.django_db(transaction=True)
def test_of_many_racing_confirmations_exactly_one_wins():
    person = make_subscriber(status=Status.PENDING)

    def confirm(_: int) -> bool:
        try:
            return lifecycle.confirm(fresh(person), VISITOR)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=6) as pool:
        won = list(pool.map(confirm, range(12)))
    assert won.count(True) == 1
    assert Consent.objects.filter(action="confirm").count() == 1


def test_a_stale_preferences_form_never_writes_the_status_back():
    person = make_subscriber(send_hour=7)
    stale = fresh(person)  # the request loaded them, then a bounce came in
    lifecycle.suppress(person.email, Suppression.Reason.BOUNCED)
    data = {
        "own_topics": "mixture of experts",
        "frequency": "daily",
        "weekday": "0",
        "send_hour": "9",
        "time_zone": "UTC",
        "max_papers": "10",
    }
    form = PreferencesForm(data, instance=stale)
    assert form.is_valid(), form.errors
    subscription.save_preferences(form)
    person = fresh(person)
    assert (person.status, person.next_send_at) == (Status.SUPPRESSED, None)
    assert (person.own_topics, person.send_hour) == ("mixture of experts", 9)


def test_rescheduling_after_a_send_skips_a_subscriber_who_paused_meanwhile():
    person = make_subscriber()
    loaded = fresh(person)  # a chunk loaded them, then they pressed "pause"
    lifecycle.pause(person)
    other = make_subscriber("other@example.org")
    lifecycle.reschedule([loaded, other], timezone.now())
    assert (fresh(person).status, fresh(person).next_send_at) == (Status.PAUSED, None)
    rescheduled = fresh(other).next_send_at
    assert rescheduled is not None and rescheduled > timezone.now()


# Suppression: one rule for the case of an address ---------------------------------------


def test_a_suppression_typed_with_capitals_is_stored_in_lower_case():
    made = Suppression.objects.create(email=" Reader0@Example.org ", reason="manual")
    assert Suppression.objects.get(pk=made.pk).email == "reader0@example.org"
    assert Suppression.objects.of("READER0@example.ORG").get() == made


def test_a_suppression_typed_with_capitals_stops_delivery_too():
    person = make_subscriber("reader0@example.org")
    Suppression.objects.create(email="Reader0@Example.org", reason="manual")
    assert person not in list(delivery.sendable())


def test_lifting_a_suppression_typed_with_capitals_releases_its_subscriber():
    person = make_subscriber("reader0@example.org")
    lifecycle.suppress("Reader0@Example.org", Suppression.Reason.MANUAL)
    assert fresh(person).status == Status.SUPPRESSED
    assert lifecycle.lift("READER0@EXAMPLE.ORG")
    assert fresh(person).status == Status.UNSUBSCRIBED
    assert not Suppression.objects.exists()


def test_the_migration_lowers_suppressed_addresses_and_merges_the_duplicates():
    migration = import_module("digest.migrations.0006_suppression_email_lower_case")
    person = make_subscriber("reader0@example.org")
    event = EmailEvent.objects.create(event_id="postmark:1", event_type="bounced")
    early = timezone.now() - dt.timedelta(days=9)
    # bulk_create skips save(), as rows written before the rule were.
    Suppression.objects.bulk_create(
        [
            Suppression(email="Reader0@Example.org", reason="manual", created_at=early),
            Suppression(email="reader0@example.org", reason="bounced", event=event),
            Suppression(email="READER0@example.org", reason="complained"),
            Suppression(email="Other@Example.org", reason="bounced"),
            Suppression(email="plain@example.org", reason="bounced"),
        ]
    )
    migration.lower_suppressed_addresses(apps, connection.schema_editor())
    rows = {row.email: row for row in Suppression.objects.all()}
    assert sorted(rows) == ["other@example.org", "plain@example.org", "reader0@example.org"]
    kept = rows["reader0@example.org"]
    assert (kept.reason, kept.created_at, kept.event) == ("manual", early, event)
    assert fresh(person).status == Status.SUPPRESSED  # the status in step with the list


# Nothing else writes a subscriber's status ------------------------------------------------

WRITERS = {"update", "create", "get_or_create", "update_or_create", "bulk_create", "bulk_update"}
# A write naming another model's status (Digest, Source) is that model's.
OTHER_MODEL = re.compile(r"\b(Digest|Source|SourceRun)\.(Status|objects)\b")
ABOUT_SUBSCRIBERS = re.compile(
    r"subscriber|\bobj\b|\bperson\b|queryset|"
    r"\bStatus\.(PENDING|ACTIVE|PAUSED|UNSUBSCRIBED|SUPPRESSED)\b|"
    r"['\"](pending|active|paused|unsubscribed|suppressed)['\"]",
    re.IGNORECASE,
)


def _names_status(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value == "status"


def _writes_status(node: ast.AST) -> bool:
    if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        flat = [t for target in targets for t in ast.walk(target)]
        return any(isinstance(t, ast.Attribute) and t.attr == "status" for t in flat)
    if not isinstance(node, ast.Call):
        return False
    name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
    keywords = {k.arg: k.value for k in node.keywords}
    if "status" in keywords and (name in WRITERS or name == "Subscriber"):
        return True
    defaults = keywords.get("defaults")
    if isinstance(defaults, ast.Dict) and any(_names_status(key) for key in defaults.keys):
        return True
    lists = [keywords.get("update_fields")]
    if name == "bulk_update":
        lists += [keywords.get("fields"), *node.args[1:2]]
    return any(
        isinstance(value, ast.List | ast.Tuple | ast.Set) and any(map(_names_status, value.elts))
        for value in lists
    )


def subscriber_status_writes(source: str) -> list[str]:
    """The statements of ``source`` that write a subscriber's status."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if _writes_status(node):
            text = ast.unparse(node)
            if ABOUT_SUBSCRIBERS.search(text) and not OTHER_MODEL.search(text):
                found.append(text)
    return found


@pytest.mark.parametrize(
    "line",
    [
        "subscriber.status = Subscriber.Status.ACTIVE",
        "obj.status = Status.PAUSED",
        "Subscriber.objects.filter(pk=1).update(status='paused')",
        "queryset.update(status=Subscriber.Status.UNSUBSCRIBED)",
        "subscriber.save(update_fields=['status', 'next_send_at'])",
        "Subscriber.objects.create(email=e, status='active')",
        "Subscriber.objects.get_or_create(email=e, defaults={'status': Status.ACTIVE})",
        "Subscriber.objects.bulk_update(people, ['status'])",
    ],
)
def test_the_check_below_catches_a_status_write(line):
    assert len(subscriber_status_writes(line)) == 1


@pytest.mark.parametrize(
    "line",
    [
        "digest.status = Digest.Status.SENT",
        "subscriber.refresh_from_db(fields=['status'])",
        "Digest.objects.filter(subscriber_id=1).update(status=Digest.Status.CLAIMED)",
        "run.status = Source.Status.OK",
        "Subscriber.objects.filter(status=Subscriber.Status.ACTIVE)",
        "self.status = status",
    ],
)
def test_the_check_below_lets_other_status_writes_and_reads_pass(line):
    assert subscriber_status_writes(line) == []


def test_only_the_lifecycle_module_writes_a_subscribers_status():
    offenders = []
    for folder in ("accounts", "digest", "config"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "migrations" in path.parts or path == ROOT / "accounts" / "lifecycle.py":
                continue
            for text in subscriber_status_writes(path.read_text()):
                offenders.append(f"{path.relative_to(ROOT)}: {text}")
    assert offenders == []
