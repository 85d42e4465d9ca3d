"""Jobs and schedules of the Genius database sync (names in :mod:`.db_names`).

* ``genius_db_<objects>``: one table (run tag ``genius/table`` = its source table);
* ``genius_db_all``: every table, parents first, going on past a failed table (tag ``all``);
* every job also carries ``genius/account`` (one Genius sync at a time, DB or API: the run
  queue's limit in dagster.yaml; :data:`.db_names.ACCOUNT_TAG`);
* ``genius_db_incremental_schedule`` (every 15 minutes) and ``genius_db_full_schedule``
  (nightly at 03:00 UTC, ``full``: also marks deleted ids), both stopped by default.
"""

from __future__ import annotations

from dagster import AssetSelection, DefaultScheduleStatus, RunConfig, ScheduleDefinition, define_asset_job

from . import db_names as names
from .db_assets import KEYS, GeniusDbConfig
from .db_streams import STREAMS

TABLE_JOBS = {
    st.source_table: define_asset_job(
        names.table_job(st.table.name), selection=AssetSelection.assets(KEYS[st.source_table]),
        tags={names.TABLE_TAG: st.source_table, names.ACCOUNT_TAG: names.ACCOUNT},
        description=f"Sync Genius `{st.source_table}` into {st.table.name} (ingest {names.command(st.table.name)}).")
    for st in STREAMS
}

genius_db_all = define_asset_job(
    names.ALL_JOB, selection=AssetSelection.assets(*KEYS.values()), tags={names.TABLE_TAG: "all", names.ACCOUNT_TAG: names.ACCOUNT},
    description="Every Genius table, parents first; a failed table is reported and the others still sync (ingest db-genius-all).")

genius_db_incremental_schedule = ScheduleDefinition(
    name=names.INCREMENTAL_SCHEDULE, job=genius_db_all, cron_schedule="*/15 * * * *", execution_timezone="UTC",
    default_status=DefaultScheduleStatus.STOPPED,
    description="Incremental sync of every Genius table (changed since the watermark, with lookback) every 15 minutes.")

genius_db_full_schedule = ScheduleDefinition(
    name=names.FULL_SCHEDULE, job=genius_db_all, cron_schedule="0 3 * * *", execution_timezone="UTC",
    default_status=DefaultScheduleStatus.STOPPED,
    run_config=RunConfig(ops={names.ASSET_NAME: GeniusDbConfig(full=True)}),
    description="Nightly full sync of every Genius table: reads everything, marks ids the source no longer has.")

JOBS = [*TABLE_JOBS.values(), genius_db_all]
SCHEDULES = [genius_db_incremental_schedule, genius_db_full_schedule]
