"""Fetch every enabled source now, or one (--source), or store saved files (--file).

The same code as the daily Celery task, run in the foreground: useful to try a new source,
to backfill a day (--date) or to load a file saved from a feed. Runs sources one after the
other, printing each as it finishes, then a summary; a failing source does not stop the rest.
"""

from __future__ import annotations

import argparse
import datetime as dt

from django.core.management.base import BaseCommand, CommandError, CommandParser

from digest.ingest.store import ingest_file, ingest_source
from digest.models import Source, SourceRun


class Command(BaseCommand):
    help = "Fetch and store papers from the enabled sources, one source, or saved files."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--source", action="append", default=[], metavar="NAME", help="only this source"
        )
        parser.add_argument("--date", type=_day, metavar="YYYY-MM-DD", help="the day to ingest")
        parser.add_argument(
            "--file",
            action="append",
            default=[],
            metavar="PATH",
            help="store a saved feed (format detected from its content); with --source, "
            "as that source's listing",
        )

    def handle(self, *args, source: list[str], date: dt.date | None, file: list[str], **options):
        chosen = []
        for name in source:
            found = Source.objects.filter(name=name).first()
            if found is None:
                raise CommandError(f"no source named {name!r}")
            chosen.append(found)
        runs = []
        if file:
            if len(chosen) > 1:
                raise CommandError("--file takes at most one --source")
            for path in file:
                self.stdout.write(f"Reading {path} ...")
                try:
                    runs.append(ingest_file(path, chosen[0] if chosen else None, date))
                except OSError as error:
                    raise CommandError(f"cannot read {path}: {error}") from None
                self._report(runs[-1])
        else:
            chosen = chosen or list(Source.objects.filter(enabled=True).order_by("name"))
            if not chosen:
                self.stdout.write("No enabled sources: add one in the admin (see the README).")
            for number, found in enumerate(chosen, 1):
                self.stdout.write(f"[{number}/{len(chosen)}] Fetching {found.name} ...")
                runs.append(ingest_source(found, date))
                self._report(runs[-1])
        self._summary(runs)

    def _report(self, run: SourceRun) -> None:
        style = {"ok": self.style.SUCCESS, "partial": self.style.WARNING}.get(
            run.status, self.style.ERROR
        )
        line = (
            f"  {run.source.name} {run.day}: {run.get_status_display()}: {run.new} new, "
            f"{run.updated} updated, {run.unchanged} unchanged, {run.rejected} rejected"
        )
        self.stdout.write(style(line))
        if run.error:
            self.stdout.write(f"    {run.error}")
        for reason in run.errors:
            self.stdout.write(f"    rejected {reason}")

    def _summary(self, runs: list[SourceRun]) -> None:
        total = {
            name: sum(getattr(run, name) for run in runs)
            for name in ("new", "updated", "unchanged", "rejected")
        }
        failed = sum(run.status == Source.Status.ERROR for run in runs)
        self.stdout.write(
            f"Summary: {len(runs)} run(s), {failed} failed; {total['new']} new, "
            f"{total['updated']} updated, {total['unchanged']} unchanged, "
            f"{total['rejected']} rejected"
        )


def _day(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date like 2026-08-20") from None
