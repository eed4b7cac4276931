"""Store the embedding of every paper that lacks one of the running model.

    python manage.py embed_papers [--dry-run]

Ingest embeds each new or changed paper as it stores it, so this is needed once: after
upgrading a database whose papers predate matching by meaning, or after pointing
MATCH_MODEL_DIR to another model. Matching works without it (a worker embeds the papers
it lacks in memory, every time it builds a day's index); this makes that work happen once.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from digest.matching import embed_papers, encoder
from digest.models import Paper


class Command(BaseCommand):
    help = "Embed the papers that have no embedding of the current model."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Only count them.")

    def handle(self, *args, dry_run: bool, **options) -> None:
        model = encoder()
        if model is None:
            raise CommandError(
                "No embedding model: MATCH_MODEL_DIR is off or the model cannot be loaded "
                "(see the log); matching works by words only."
            )
        stale = Paper.objects.exclude(embedding_model=model.name) | Paper.objects.filter(
            embedding=None
        )
        if dry_run:
            self.stdout.write(f"{stale.count()} papers to embed with {model.name}.")
            return
        made = embed_papers(Paper.objects.all())
        self.stdout.write(f"Embedded {made} papers with {model.name}.")
