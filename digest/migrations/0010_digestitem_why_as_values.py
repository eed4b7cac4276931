# A digest item's "why" was one string, 'topic: "word", "word"', parsed back with a regex
# for the web view (which read the wrong topic for 'title:"graph neural"'). It is now
# values: the topic, the terms, how the paper matched and the closest sentence. Existing
# items are read once here, the last time that string is parsed.

import re

from django.db import migrations, models

_WHY = re.compile(r'^(?P<topic>.+?):\s*(?P<terms>".*)$')


def split_why(apps, schema_editor):
    DigestItem = apps.get_model("digest", "DigestItem")
    changed = []
    for item in DigestItem.objects.exclude(why="").only("id", "why").iterator(chunk_size=2000):
        found = _WHY.match(item.why)
        if found:
            item.topic = found.group("topic")[:200]
            item.terms = re.findall(r'"([^"]+)"', found.group("terms"))
        else:
            item.topic = item.why[:200]
        changed.append(item)
        if len(changed) >= 2000:
            DigestItem.objects.bulk_update(changed, ["topic", "terms"])
            changed = []
    DigestItem.objects.bulk_update(changed, ["topic", "terms"])


def join_why(apps, schema_editor):
    DigestItem = apps.get_model("digest", "DigestItem")
    changed = []
    for item in DigestItem.objects.only("id", "topic", "terms").iterator(chunk_size=2000):
        terms = ", ".join(f'"{t}"' for t in (item.terms or [])[:4])
        item.why = (f"{item.topic}: {terms}" if terms else item.topic)[:500]
        changed.append(item)
    DigestItem.objects.bulk_update(changed, ["why"], batch_size=2000)


class Migration(migrations.Migration):
    dependencies = [
        ("digest", "0009_paper_embedding"),
    ]

    operations = [
        migrations.AddField(
            model_name="digestitem",
            name="topic",
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.AddField(
            model_name="digestitem",
            name="terms",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name="digestitem",
            name="kind",
            field=models.CharField(
                choices=[
                    ("words", "Its words"),
                    ("meaning", "Its meaning"),
                    ("feedback", "Papers the reader liked"),
                ],
                default="words",
                max_length=10,
            ),
        ),
        migrations.AddField(
            model_name="digestitem",
            name="sentence",
            field=models.CharField(blank=True, max_length=500),
        ),
        migrations.RunPython(split_why, join_why),
        migrations.RemoveField(
            model_name="digestitem",
            name="why",
        ),
    ]
