"""The ``ingest`` console script (DESIGN.md §5): the seeds' commands, as real Dagster runs.

``main`` is the click group. Every subcommand that ingests launches a run on the
``DAGSTER_HOME`` instance (so the UI shows it), prints a summary of the outcome counts, and
exits 0 when the run succeeded (rows may still have failed: the summary and the failed-rows
file say which), 1 when the run failed, 2 on a usage error (click's own convention).

Each source's commands live in ``cli/<source>.py`` (``COMMANDS``, and ``DEMO_STEPS``: its
part of ``ingest demo``). This package sits above the code location: it imports
``launch`` and the sources, never the other way round (import-linter's contracts in
``pyproject.toml``). Dagster and the sources are imported inside the commands, so
``ingest --help`` and the work a command does before its runs start pay no Dagster import.
"""

from __future__ import annotations

import os
import subprocess
import sys

import click

from ..settings import PROJECT_ROOT, default_dagster_home
from . import api_sync, artists, campaigns, crm_csv, genius_db, hubspot, imports, tenants, webhooks
from .steps import DemoStep

SOURCE_COMMANDS = (artists, tenants, campaigns, imports, genius_db, hubspot, crm_csv, webhooks, api_sync)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Ingest business data into the warehouse through Dagster runs (see README.md)."""
    os.environ.setdefault("DAGSTER_HOME", str(default_dagster_home()))


@main.command()
def demo() -> None:
    """The main job: every sample in data/ into the warehouse (offline), then a summary."""
    from ..launch import summarize
    from ..resources.defaults import shared_resources

    ok = True
    for module in SOURCE_COMMANDS:
        step: DemoStep
        for step in module.DEMO_STEPS:
            click.echo(f"== {step.label}")
            for result in step.run():
                click.echo(summarize(result))
                ok = ok and result.success
    wh = shared_resources()["warehouse"]
    click.echo(f"\nWarehouse: {wh.display_url()}")
    click.echo(f"Dagster home (runs, logs): {os.environ['DAGSTER_HOME']}")
    click.echo(f"Open the UI: DAGSTER_HOME={os.environ['DAGSTER_HOME']} dagster dev   (or: ingest ui)")
    sys.exit(0 if ok else 1)


@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def ui(args: tuple[str, ...]) -> None:
    """Start `dagster dev` on the same DAGSTER_HOME the `ingest` runs use."""
    cmd = [sys.executable, "-m", "dagster", "dev", "-w", str(PROJECT_ROOT / "workspace.yaml"), *args]
    sys.exit(subprocess.call(cmd, cwd=PROJECT_ROOT))


for _module in SOURCE_COMMANDS:
    for _cmd in _module.COMMANDS:
        main.add_command(_cmd)


if __name__ == "__main__":  # pragma: no cover
    main()
