"""`ingest` commands of the Genius database sync (DESIGN.md §10; seed 004 method 2, the
original ``python manage.py db_genius_<table> [--full] [--since ..] [--table ..]`` commands).

``ingest db-genius-<objects>`` per table (``db-genius-prospects``, ``db-genius-users``,
``db-genius-appointment-services``, ...) and ``ingest db-genius-all`` (every table, parents
first), each with ``--full``, ``--since DATETIME``, ``--max-records N``, ``--table
SOURCE_TABLE`` (one table only), ``--dry-run``: one real Dagster run on the ``DAGSTER_HOME``
instance, a progress bar on standard error (rows read so far, from ``sync_history``, against
the source's row count), then the run's summary. Source: ``GENIUS_DB_URL`` or
``GENIUS_DB_*``; ``ingest demo`` builds the bundled SQLite sample and syncs it offline.
"""

from __future__ import annotations

import datetime as dt
import os
import sys

import click

from ..settings import DATA_DIR, state_dir
from ..sources.crm.genius import db_names as names
from .steps import DemoStep

#: The source tables in sync order with their warehouse table names (kept in step with
#: ``db_streams.STREAMS``; the test of this module checks it), so ``ingest --help`` needs no Dagster.
TABLES = (("division_group", "genius_division_groups"), ("user_title", "genius_user_titles"),
          ("service", "genius_services"), ("appointment_type", "genius_appointment_types"),
          ("appointment_outcome_type", "genius_appointment_outcome_types"),
          ("appointment_outcome", "genius_appointment_outcomes"),
          ("marketing_source_type", "genius_marketing_source_types"), ("division", "genius_divisions"),
          ("marketing_source", "genius_marketing_sources"), ("user_data", "genius_users"),
          ("prospect", "genius_prospects"), ("lead", "genius_leads"), ("prospect_source", "genius_prospect_sources"),
          ("appointment", "genius_appointments"), ("appointment_to_service", "genius_appointment_services"),
          ("quote", "genius_quotes"))
BUILDER = DATA_DIR / "crm" / "genius" / "db" / "build_genius_db.py"


def run_config(*, full: bool = False, since: str = "", max_records: int = 0, table: str = "", dry_run: bool = False):
    """The typed ``dagster.RunConfig`` of a Genius database job for these options."""
    from dagster import RunConfig

    from ..sources.crm.genius.db_assets import GeniusDbConfig

    return RunConfig(ops={names.ASSET_NAME: GeniusDbConfig(full=full, since=since, max_records=max_records,
                                                           table=table, dry_run=dry_run)})


def _source_rows(source_tables: list[str], table: str, max_records: int) -> int | None:
    """Rows the run will read at most (COUNT(*) of each table at the source), or None when
    the source cannot be counted (the run reports why)."""
    import sqlalchemy as sa

    from ..resources.mysql import MySQLResource

    try:
        engine = MySQLResource().engine  # GENIUS_DB_URL / GENIUS_DB_* from the environment
        with engine.connect() as conn:
            n = [conn.execute(sa.select(sa.func.count()).select_from(sa.table(table or t))).scalar() or 0
                 for t in source_tables]
        engine.dispose()
    except Exception:  # noqa: BLE001 - the run itself fails with the reason
        return None
    return sum(min(x, max_records) if max_records else x for x in n)



def _run(job: str, source_tables: list[str], full: bool, since: str, max_records: int, table: str,
         dry_run: bool) -> None:
    """Launch ``job`` with the options behind a progress bar, print its summary, exit 0/1."""
    from ..launch import launch, summarize
    from .progress import committed_progress, rows_read_since

    if full and since:
        raise click.UsageError("use --full or --since, not both")
    if since:
        try:
            dt.datetime.fromisoformat(since.strip())
        except ValueError:
            raise click.UsageError(f"--since: expected YYYY-MM-DD[ HH:MM:SS], got {since!r}") from None
    cfg = run_config(full=full, since=since, max_records=max_records or 0, table=table or "", dry_run=dry_run)
    with committed_progress("genius rows read", rows_read_since("genius"),
                            length=_source_rows(source_tables, table, max_records or 0)):
        result = launch(job, cfg)
    click.echo(summarize(result))
    sys.exit(0 if result.success else 1)


def _options(fn):
    for opt in reversed([
        click.option("--full", is_flag=True, help="Read every row; rows the source no longer has get _deleted_at."),
        click.option("--since", default="", metavar="DATETIME", help="Incremental from this source time (YYYY-MM-DD[ HH:MM:SS]) instead of the watermark."),
        click.option("--max-records", type=click.IntRange(min=1), default=None, help="Stop after N rows read per table."),
        click.option("--dry-run", is_flag=True, help="Read and compare everything; write nothing."),
    ]):
        fn = opt(fn)
    return fn


def _table_command(source_table: str, warehouse_table: str) -> click.Command:
    @click.command(names.command(warehouse_table))
    @_options
    @click.option("--table", default="", metavar="SOURCE_TABLE", help=f"Read this table or view of the same shape instead of {source_table}.")
    def cmd(full: bool, since: str, max_records: int | None, dry_run: bool, table: str) -> None:
        _run(names.table_job(warehouse_table), [source_table], full, since, max_records or 0, table, dry_run)

    cmd.help = f"Sync Genius `{source_table}` into {warehouse_table} (incremental by default)."
    return cmd


@click.command("db-genius-all")
@_options
@click.option("--table", default="", metavar="SOURCE_TABLE", hidden=True)
def db_genius_all(full: bool, since: str, max_records: int | None, dry_run: bool, table: str) -> None:
    """Sync every Genius table, parents first; a failed table is reported and the rest still sync."""
    if table:
        raise click.UsageError("--table reads one source table: use db-genius-<table> --table ...")
    _run(names.ALL_JOB, [s for s, _w in TABLES], full, since, max_records or 0, "", dry_run)


COMMANDS = [*(_table_command(s, w) for s, w in TABLES), db_genius_all]


def _demo() -> list:
    """Build the bundled SQLite sample (``data/crm/genius/db``) and sync it with ``genius_db_all``
    (``GENIUS_DB_URL`` points at the sample for this run only: the demo stays offline)."""
    import runpy

    from ..launch import launch

    url = runpy.run_path(str(BUILDER))["build"](state_dir() / "genius_sample.db")
    saved = os.environ.get("GENIUS_DB_URL")
    os.environ["GENIUS_DB_URL"] = url
    try:
        return [launch(names.ALL_JOB, run_config(), tags={"demo": "true"})]
    finally:
        if saved is None:
            os.environ.pop("GENIUS_DB_URL", None)
        else:
            os.environ["GENIUS_DB_URL"] = saved


DEMO_STEPS = [DemoStep("genius: sync the bundled Genius CRM sample database (SQLite, offline) into genius_* tables", _demo)]
