"""`ingest csv-<system>-<object> FILE [--dry-run] [--force-refresh]` (DESIGN.md §10; seed 004's
``python manage.py csv_<system>_<object> FILE`` commands), one per CSV profile.

The commands are generated from the profiles: every ``sources/crm/<system>/csv_streams.py``
that exists gives its ``PROFILES`` (:func:`profiles`: the single registry; a new profile is a
new command, nothing else to add). Each command launches one real Dagster run of the
profile's job (``csv_<system>_<object>_job``) on the ``DAGSTER_HOME`` instance, with a
progress bar on standard error (rows read so far, from the ``ingest_files`` ledger row the
run updates with every committed batch, against the file's line count), then prints the
run's summary; ``BATCH_SIZE`` from the environment sets the rows per batch.

``--dry-run`` is a run too (the same path, one transaction rolled back, so the counts are
the real would-be counts, and the UI keeps the dry run's report): the command then prints
the header mapping (source header -> field, unmapped headers), the first rows as they would
land and the counts that would be inserted / updated / unchanged / skipped / failed; nothing
is written (no rows, no ledger row, no result file). Exit codes: 0 when the run succeeded
(rows may still have failed: the summary and the failed-rows file say which), 1 when it
failed (e.g. a missing required column: the message says what was expected and found), 2 on
a usage error.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .steps import DemoStep

if TYPE_CHECKING:  # pragma: no cover
    from ..engine.profiles import CsvProfile

#: Systems whose profiles come first: HubSpot's zipcodes are the reference of the other
#: profiles' ZIP/state checks, so ``ingest demo`` loads them before the leads, prospects, tasks.
FIRST = ("hubspot",)
CRM_PACKAGE = "ingestion_pipelines.sources.crm"


def profiles() -> list["CsvProfile"]:
    """Every CSV profile of the code location: ``PROFILES`` of each
    ``sources/crm/<system>/csv_streams.py`` that exists (HubSpot first, then by system name)."""
    crm = importlib.import_module(CRM_PACKAGE)
    systems = sorted((m.name for m in pkgutil.iter_modules(crm.__path__) if m.ispkg),
                     key=lambda s: (s not in FIRST, s))
    out: list = []
    for system in systems:
        name = f"{CRM_PACKAGE}.{system}.csv_streams"
        if importlib.util.find_spec(name) is not None:
            out.extend(importlib.import_module(name).PROFILES)
    return out


def _line_count(path: Path) -> int | None:
    """Data lines of a local file (newlines minus the header), for the progress bar's length
    (quoted newlines make it an upper bound); None when it cannot be read."""
    try:
        n = 0
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                n += chunk.count(b"\n")
        return max(n - 1, 0)
    except OSError:
        return None


def _rows_read(profile: "CsvProfile", uri: str):
    """The count query of the progress bar: ``rows_read`` of the running ``ingest_files`` row
    of ``uri`` (committed with each batch)."""
    import sqlalchemy as sa

    from ..engine.ledger import ingest_files as f

    return (sa.select(f.c.rows_read).where(f.c.source == profile.ledger_source, f.c.uri == uri, f.c.status == "running")
            .order_by(f.c.finished_at.desc()).limit(1))


def _dry_run_report(md: dict) -> str:
    """The dry run's mapping, preview and would-be counts, from its materialization."""
    counts = " ".join(f"{k}={md.get(k, 0)}" for k in ("inserted", "updated", "unchanged", "skipped", "failed"))
    parts = ["", "Header mapping (source header -> field):", str(md.get("header_mapping", "")),
             f"Unmapped headers (kept in raw): {md.get('unmapped') or 'none'}", ""]
    if md.get("preview"):
        parts += ["First rows as they would land:", str(md["preview"]), ""]
    parts += [f"Would be: {counts} (of {md.get('rows_read', 0)} rows read; {md.get('warnings', 0)} cell warnings)",
              "Dry run: nothing was written."]
    return "\n".join(parts)


def run_file(profile: "CsvProfile", file: str, dry_run: bool, force_refresh: bool) -> None:
    """Launch ``profile``'s job on ``file`` behind a progress bar, print the outcome, exit 0/1."""
    from ..engine.profile_assets import csv_run_config, profile_asset_key
    from ..engine.profile_load import csv_batch_size
    from ..launch import launch, materializations, summarize
    from .progress import committed_progress

    try:
        batch_size = csv_batch_size()
    except ValueError as e:
        raise click.UsageError(str(e)) from None
    local = Path(file).expanduser()
    if local.exists():
        file = str(local.resolve())
    elif "://" not in file and os.sep in file:
        raise click.UsageError(f"no such file: {file}")
    cfg = csv_run_config(profile, file, dry_run=dry_run, force_refresh=force_refresh, batch_size=batch_size)
    if local.exists() and not dry_run:
        uri = local.resolve().as_uri()
        with committed_progress(f"{profile.command} rows", _rows_read(profile, uri), length=_line_count(local)):
            result = launch(profile.job_name, cfg)
    else:
        result = launch(profile.job_name, cfg)
    click.echo(summarize(result))
    md = materializations(result).get(profile_asset_key(profile).to_user_string())
    if md and md.get("note"):
        click.echo(f"  {md['note']}")
    if dry_run and md:
        click.echo(_dry_run_report(md))
    sys.exit(0 if result.success else 1)


def _command(profile: "CsvProfile") -> click.Command:
    """The ``ingest`` subcommand of one profile."""

    @click.command(profile.command, help=f"Import a {profile.system} {profile.object} CSV export into "
                                         f"{profile.target.name} (one Dagster run; BATCH_SIZE rows per batch).")
    @click.argument("file")
    @click.option("--dry-run", is_flag=True, help="Show the header mapping, the first rows as they would land and "
                                                 "the would-be counts; write nothing.")
    @click.option("--force-refresh", is_flag=True, help="Load even when this content of FILE was loaded before.")
    def command(file: str, dry_run: bool, force_refresh: bool) -> None:
        run_file(profile, file, dry_run, force_refresh)

    return command


def _demo_step(profile: "CsvProfile") -> DemoStep:
    """``ingest demo``'s step of one profile: each of its samples, in order, one run each."""

    def run() -> list:
        from ..engine.profile_assets import csv_run_config
        from ..launch import launch

        return [launch(profile.job_name, csv_run_config(profile, str(p)), tags={"demo": "true"})
                for p in profile.sample_paths()]

    names = ", ".join(p.name for p in profile.sample_paths())
    return DemoStep(f"crm: {profile.command} data/crm/{profile.system}/{{{names}}}", run)


PROFILES = profiles()
COMMANDS = [_command(p) for p in PROFILES]
# (label, runs) steps that `ingest demo` runs, in order: every profile's samples in data/crm/
DEMO_STEPS = [_demo_step(p) for p in PROFILES if p.sample_paths()]
