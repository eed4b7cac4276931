"""Suppressed addresses in lower case, as ``Suppression.save`` now stores them.

An operator's ``Reader0@Example.org`` blocked signup (found case-insensitively) but not
delivery, which joins on the exact column. Each address written in several cases keeps
its oldest row (the first reason to stop mailing it) and the first event any of them
pointed at; the others go. Then every pending, active or paused subscriber of a
suppressed address is held as suppressed, as ``accounts.lifecycle.suppress`` does.
"""

from django.db import migrations
from django.db.models import F
from django.db.models.functions import Lower, Trim

MAILABLE = ["pending", "active", "paused"]


def lower_suppressed_addresses(apps, schema_editor):
    Suppression = apps.get_model("digest", "Suppression")
    Subscriber = apps.get_model("accounts", "Subscriber")
    rows = Suppression.objects.annotate(address=Lower(Trim("email")))
    mixed = rows.exclude(email=F("address")).values_list("address", flat=True)
    for address in sorted(set(mixed)):
        kept, *others = rows.filter(address=address).order_by("created_at", "pk")
        event_id = kept.event_id or next((row.event_id for row in others if row.event_id), None)
        Suppression.objects.filter(pk__in=[row.pk for row in others]).delete()
        Suppression.objects.filter(pk=kept.pk).update(email=address, event_id=event_id)
    Subscriber.objects.filter(
        status__in=MAILABLE, email__in=Suppression.objects.values("email")
    ).update(status="suppressed", next_send_at=None)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_max_papers_capped_at_25"),
        ("digest", "0005_digest_sending_marker_and_unknown"),
    ]

    operations = [
        migrations.RunPython(lower_suppressed_addresses, migrations.RunPython.noop),
    ]
