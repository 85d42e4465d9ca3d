"""The ``ingest`` console script (DESIGN.md §5): the seeds' commands, as real Dagster runs.

``run`` is the console script's entry point: ``main`` (the click group), then the process
ends without Python's interpreter teardown (see :func:`run`). Every subcommand that ingests launches a run on the
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

import atexit
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


def run() -> None:
    """The ``ingest`` console script (and ``python -m ingestion_pipelines.cli``): :func:`main`
    with click's exit codes, then the exit handlers (``atexit``: logging's flush, temporary
    files), stdout and stderr flushed, and ``os._exit`` with that code, which skips the
    interpreter's teardown of every module and object: measured at 0.6-0.8 s after a 5 M-row
    ``bulk-ingest --wait-for-completion`` (BENCHMARKS.md "tenants"), time in which the
    command has nothing left to say. Every run's events are committed by then; files are closed
    by the ``with`` blocks that wrote them. While a non-daemon thread still runs, or after an
    exception other than click's exits, the process ends the usual way. Tests call
    :func:`main` through click's ``CliRunner``, never this."""
    import threading

    try:
        main()
        code: int = 0
    except SystemExit as e:  # click's standalone mode always ends with one
        if e.code is None or isinstance(e.code, int):
            code = e.code or 0
        else:
            print(e.code, file=sys.stderr)
            code = 1
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        sys.exit(code)  # let the interpreter join it
    atexit._run_exitfuncs()  # noqa: SLF001 - what the interpreter would run first at exit
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`ingest ... | head`) or stream
            pass
    os._exit(code)


for _module in SOURCE_COMMANDS:
    for _cmd in _module.COMMANDS:
        main.add_command(_cmd)


if __name__ == "__main__":  # pragma: no cover
    main()
