"""`ingest` commands of the declarative API syncs (DESIGN.md §10): for every registered system,
``ingest sync-<system>-<stream>`` and ``ingest sync-<system>-all``, each with ``--full``,
``--since DATETIME``, ``--limit N`` (stop after N records per stream) and ``--dry-run``: one real
Dagster run of the system's job on the ``DAGSTER_HOME`` instance, a progress line on standard
error (records committed so far, from ``sync_history``), then the run's summary; exit 0 when the
run succeeded, 1 when it failed, 2 on a usage error.

:func:`commands` ``(names)`` builds the commands of one :class:`~ingestion_pipelines.engine.api.names.ApiNames`;
:data:`COMMANDS` holds those of every module in :data:`NAMES_MODULES` (a system's ``api_names``
module, which defines ``NAMES`` and imports no Dagster: adding a system is one line there).
``ingest demo`` (:data:`DEMO_STEPS`, :func:`demo_steps`): for each system whose ``api_names``
defines ``STANDIN`` (the module path of its stand-in, which offers ``demo()``), its ``_all``
job from that stand-in on a free loopback port in this process, then again after a few
changes (offline).
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
from contextlib import contextmanager
from typing import Iterator

import click

from ..engine.api.names import ApiNames
from .steps import DemoStep

#: the ``api_names`` module of each system on the engine's API streams (each defines ``NAMES``)
NAMES_MODULES = (
    "ingestion_pipelines.sources.crm.arrivy.api_names",
    "ingestion_pipelines.sources.crm.leadconduit.api_names",
    "ingestion_pipelines.sources.crm.genius.api_names",
    "ingestion_pipelines.sources.crm.marketsharp.api_names",
)


def run_config(names: ApiNames, *, full: bool = False, since: str = "", limit: int = 0, dry_run: bool = False):
    """The typed ``dagster.RunConfig`` of one of ``names``' jobs for these options."""
    from dagster import RunConfig

    from ..engine.api.definitions import ApiSyncConfig

    return RunConfig(ops={names.asset_name: ApiSyncConfig(full=full, since=since, limit=limit, dry_run=dry_run)})


def _run(names: ApiNames, job: str, full: bool, since: str, limit: int | None, dry_run: bool) -> None:
    """Launch ``job`` with the options behind the progress line, print its summary, exit 0/1."""
    from ..engine.api.definitions import parse_since
    from ..launch import launch, summarize
    from .progress import committed_progress, rows_read_since

    if full and since:
        raise click.UsageError("use --full or --since, not both")
    try:
        parse_since(since)
    except ValueError:
        raise click.UsageError(f"--since: expected YYYY-MM-DD[THH:MM:SS], got {since!r}") from None
    with committed_progress(f"{names.system} records", rows_read_since(names.source)):
        result = launch(job, run_config(names, full=full, since=since, limit=limit or 0, dry_run=dry_run))
    click.echo(summarize(result))
    sys.exit(0 if result.success else 1)


def _command(names: ApiNames, stream: str) -> click.Command:
    what = f"every {names.system} stream ({', '.join(names.streams)})" if stream == "all" else f"{names.system} {stream}"

    @click.command(names.command(stream))
    @click.option("--full", is_flag=True, help="Read every record, not only those changed since the watermark.")
    @click.option("--since", default="", metavar="DATETIME", help="Incremental from this time (YYYY-MM-DD[THH:MM:SS], UTC) instead of the watermark.")
    @click.option("--limit", type=click.IntRange(min=1), default=None, help="Stop after N records per stream (for trying it out).")
    @click.option("--dry-run", is_flag=True, help="Read and compare everything; write nothing.")
    def cmd(full: bool, since: str, limit: int | None, dry_run: bool) -> None:
        _run(names, names.job(stream), full, since, limit, dry_run)

    cmd.help = f"Sync {what} from its API into the warehouse (incremental since the watermark; the first run reads everything)."
    return cmd


def commands(names: ApiNames) -> list[click.Command]:
    """``sync-<system>-<stream>`` for each stream, then ``sync-<system>-all``."""
    return [_command(names, s) for s in (*names.streams, "all")]


def registered() -> list[ApiNames]:
    """The ``NAMES`` of every module in :data:`NAMES_MODULES`."""
    return [importlib.import_module(m).NAMES for m in NAMES_MODULES]


COMMANDS = [c for n in registered() for c in commands(n)]


@contextmanager
def _variables(values: dict[str, str]) -> Iterator[None]:
    """``values`` set in the environment for the block only (restored afterwards)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _demo(names: ApiNames, standin: str) -> list:
    """One system's ``ingest demo`` step: its stand-in's ``demo()`` (a context manager yielding
    ``(variables, change)``: the system's variables pointing at a seeded stand-in on a free
    loopback port in this process, and a callable that changes a few records, or None) —
    ``<system>_all`` with those variables (a full read), then, after ``change()``, again
    (incremental: exactly the changes)."""
    from ..launch import launch

    module = importlib.import_module(standin)
    with module.demo() as (variables, change), _variables(variables):
        # full first: the demo's stand-in is seeded afresh each time, a watermark of an earlier demo means nothing to it
        results = [launch(names.all_job, run_config(names, full=True), tags={"demo": "true"})]
        if change is not None:
            change()
            results.append(launch(names.all_job, run_config(names), tags={"demo": "true"}))
    return results


def demo_steps() -> list[DemoStep]:
    """A :class:`DemoStep` for each registered system whose ``api_names`` module names its
    stand-in (``STANDIN = "ingestion_pipelines.standins.<x>"``, a module with ``demo()``)."""
    steps = []
    for m in NAMES_MODULES:
        mod = importlib.import_module(m)
        standin = getattr(mod, "STANDIN", None)
        if standin:
            n: ApiNames = mod.NAMES
            steps.append(DemoStep(f"{n.system}: sync a small account from the {n.system} stand-in (local HTTP server, "
                                  "offline), then its changes incrementally", functools.partial(_demo, n, standin)))
    return steps


DEMO_STEPS = demo_steps()
