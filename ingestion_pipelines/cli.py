"""The ``ingest`` console script (DESIGN.md §5): the seeds' commands, as real Dagster runs.

Every subcommand that ingests launches a run on the ``DAGSTER_HOME`` instance (so the UI
shows it), prints a summary of the outcome counts, and exits 0 when the run succeeded
(rows may still have failed: the summary and the failed-rows file say which), 1 when the run
failed, 2 on a usage error (click's own convention).

Sources contribute their subcommands from ``sources/<name>/commands.py`` (``COMMANDS``) and
their part of ``ingest demo`` (``DEMO_STEPS``).
"""

from __future__ import annotations

import os
import subprocess
import sys

import click

from .launch import launch, summarize
from .settings import PROJECT_ROOT, default_dagster_home
from .sources.artists import commands as artists_commands
from .sources.campaigns import commands as campaigns_commands
from .sources.imports import commands as imports_commands
from .sources.tenants import commands as tenants_commands

SOURCE_COMMANDS = [artists_commands, tenants_commands, campaigns_commands, imports_commands]


def run_and_report(job_name: str, run_config: dict | None = None, **kwargs) -> None:
    """Launch ``job_name``, print its summary, and exit 0 / 1 (see module docstring)."""
    result = launch(job_name, run_config, **kwargs)
    click.echo(summarize(result))
    sys.exit(0 if result.success else 1)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Ingest business data into the warehouse through Dagster runs (see README.md)."""
    os.environ.setdefault("DAGSTER_HOME", str(default_dagster_home()))


@main.command()
def demo() -> None:
    """The main job: every sample in data/ into the warehouse (offline), then a summary."""
    ok = True
    for module in SOURCE_COMMANDS:
        for label, job_name, run_config in getattr(module, "DEMO_STEPS", []):
            click.echo(f"== {label}")
            result = launch(job_name, run_config, tags={"demo": "true"})
            click.echo(summarize(result))
            ok = ok and result.success
    from .resources.defaults import shared_resources

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
