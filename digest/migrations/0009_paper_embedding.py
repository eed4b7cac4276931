from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("digest", "0008_paper_summary_keywords_stars"),
    ]

    operations = [
        migrations.AddField(
            model_name="paper",
            name="embedding",
            field=models.BinaryField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="paper",
            name="embedding_model",
            field=models.CharField(blank=True, editable=False, max_length=80),
        ),
    ]
