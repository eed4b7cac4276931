"""Papers stored before ingest kept only clean text: clean their text and links now.

Idempotent (clean text stays as it is) and in batches, so a large table never sits in
memory; only rows that change are written.
"""

from django.db import migrations

TEXT_FIELDS = ["title", "abstract"]
LIST_FIELDS = ["authors", "categories"]
URL_FIELDS = ["abs_url", "pdf_url", "code_url", "project_url", "hf_url"]


def clean_papers(apps, schema_editor):
    from digest.ingest.feedtext import plain, safe_url

    Paper = apps.get_model("digest", "Paper")
    changed = []
    for paper in Paper.objects.order_by("pk").iterator(chunk_size=2000):
        before = [getattr(paper, name) for name in TEXT_FIELDS + LIST_FIELDS + URL_FIELDS]
        for name in TEXT_FIELDS:
            setattr(paper, name, plain(getattr(paper, name)))
        for name in LIST_FIELDS:
            values = getattr(paper, name)
            if isinstance(values, list):
                setattr(paper, name, [plain(v) for v in values if isinstance(v, str) and plain(v)])
        for name in URL_FIELDS:
            setattr(paper, name, safe_url(getattr(paper, name)))
        if [getattr(paper, name) for name in TEXT_FIELDS + LIST_FIELDS + URL_FIELDS] != before:
            changed.append(paper)
        if len(changed) >= 500:
            Paper.objects.bulk_update(changed, TEXT_FIELDS + LIST_FIELDS + URL_FIELDS)
            changed = []
    if changed:
        Paper.objects.bulk_update(changed, TEXT_FIELDS + LIST_FIELDS + URL_FIELDS)


class Migration(migrations.Migration):
    dependencies = [("digest", "0006_suppression_email_lower_case")]

    operations = [migrations.RunPython(clean_papers, migrations.RunPython.noop)]
