"""The Genius database sync as assets (group ``genius``): one asset per source table
(``genius/<objects>``, :mod:`.db_names`), all in one subsettable multi-asset ``genius_db`` whose
step syncs the selected tables in dependency order (:data:`.db_streams.STREAMS`).

``deps`` mirror the foreign keys, so the UI's graph is the data model. A table that fails is
recorded (``sync_history`` status ``failed``), logged and skipped; the step goes on with the
next table and fails at the end naming every failed table (``genius_db_all`` "goes on past a
failed table and reports it"). Each table's materialization carries its sync: mode,
watermark before -> after, the counts, the failed rows (key + database message, and a
failed-rows file), the cell warnings (zero dates, ...).
"""


import datetime as dt

from dagster import (
    AssetCheckKey,
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    Config,
    Failure,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)
from pydantic import Field

from ....engine.asset_metadata import table_metadata, warehouse_kind
from ....engine.outcomes import ProgressLogger
from ....engine.result_files import write_report_warnings, write_rows
from ....engine.runs import run_terminating
from ....engine.sql_sync import SqlStream, SyncOptions, SyncResult, sync_stream
from ....resources.mysql import MySQLResource
from ....resources.storage import BlobStore
from ....resources.warehouse import WarehouseResource
from ....settings import default_batch_size
from . import db_names as names
from .db_checks import check_name, check_specs, fk_check_result
from .db_streams import SOURCE, STREAMS
from .schema import metadata


def asset_key(stream: SqlStream) -> AssetKey:
    """``genius/<objects>`` of a stream (``genius/prospects``)."""
    return AssetKey([names.GROUP, names.objects(stream.table.name)])


KEYS = {st.source_table: asset_key(st) for st in STREAMS}


class GeniusDbConfig(Config):
    """Options of a Genius database sync (the seed's ``db_genius_*`` options)."""

    full: bool = Field(default=False, description="Read every row (not only those changed since the watermark); "
                       "rows the source no longer has get _deleted_at.")
    since: str = Field(default="", description="Incremental from this source time (YYYY-MM-DD[ HH:MM:SS]) instead of the watermark.")
    max_records: int = Field(default=0, description="Stop each table after this many rows read (0 = all).")
    table: str = Field(default="", description="Read this source table or view of the same shape instead (one table only).")
    dry_run: bool = Field(default=False, description="Read and compare everything, write nothing.")
    batch_size: int = Field(default_factory=default_batch_size, description="Rows per warehouse transaction (BATCH_SIZE).")
    lookback_minutes: int = Field(default=5, description="Incremental syncs re-read this far before the watermark (late commits).")

    def options(self) -> SyncOptions:
        """The engine's :class:`SyncOptions`. Raises ``Failure`` for a ``since`` that does not parse."""
        since = None
        if self.since:
            try:
                since = dt.datetime.fromisoformat(self.since.strip())
            except ValueError:
                raise Failure(f"since: expected YYYY-MM-DD[ HH:MM:SS], got {self.since!r}") from None
        return SyncOptions(full=self.full, since=since, max_records=self.max_records or None,
                           source_table=self.table or None, dry_run=self.dry_run, batch_size=self.batch_size,
                           lookback=dt.timedelta(minutes=self.lookback_minutes))


def _spec(st: SqlStream) -> AssetSpec:
    parents = dict.fromkeys(KEYS[fk.parent] for fk in st.foreign_keys)
    how = f"incremental by {st.cursor}" if st.cursor else "read in full (no timestamp), only changes written"
    return AssetSpec(
        KEYS[st.source_table], group_name=names.GROUP, deps=list(parents), skippable=True,
        description=f"Genius `{st.source_table}` rows in {st.table.name} ({how}; deleted ids marked, never removed).",
        kinds={"mysql", warehouse_kind()},
        metadata={**table_metadata(st.table), "source_table": st.source_table,
                  "foreign_keys": ", ".join(f"{fk.column} -> {fk.parent}.{fk.parent_column}" for fk in st.foreign_keys) or "none"})


@multi_asset(name=names.ASSET_NAME, specs=[_spec(st) for st in STREAMS], check_specs=check_specs(KEYS), can_subset=True)
def genius_db(context: AssetExecutionContext, config: GeniusDbConfig, warehouse: WarehouseResource,
              genius_db: MySQLResource, blob_store: BlobStore):
    """Sync the selected Genius MySQL tables into the warehouse, parents first."""
    selected = [st for st in STREAMS if KEYS[st.source_table] in context.selected_asset_keys]
    if config.table and len(selected) != 1:
        raise Failure(f"table={config.table!r} reads one source table: select one asset, not {len(selected)}")
    opts = config.options()
    source, uri = genius_db.engine, genius_db.source_uri()
    context.log.info(f"Genius source {genius_db.display_url()}: {len(selected)} table(s)")
    warehouse.setup(metadata)
    should_stop = run_terminating(context)
    failed: list[str] = []
    for st in selected:
        progress = ProgressLogger(context.log, f"genius {st.source_table}", every_rows=50_000)
        try:
            res = sync_stream(source, warehouse.engine, st, opts, source_name=SOURCE, source_uri=uri,
                              run_id=context.run_id, log=context.log, should_stop=should_stop,
                              on_batch=lambda _r, n: progress.tick(n))
        except Exception as exc:  # noqa: BLE001 - recorded in sync_history; the next table still runs
            context.log.error(f"genius {st.source_table} failed: {type(exc).__name__}: {exc}")
            failed.append(f"{st.source_table} ({type(exc).__name__}: {str(exc)[:300]})")
            continue
        progress.finish()
        key = KEYS[st.source_table]
        checks = [fk_check_result(warehouse, st, fk, key) for fk in st.foreign_keys
                  if AssetCheckKey(key, check_name(fk)) in context.selected_asset_check_keys]
        yield MaterializeResult(asset_key=key, metadata=_metadata(res, warehouse, blob_store, context.run_id),
                                check_results=checks)
        if res.stopped:
            break
    if failed:
        raise Failure(description=f"{len(failed)} Genius table(s) failed (the others synced): " + "; ".join(failed),
                      metadata={"failed_tables": ", ".join(f.split(" ")[0] for f in failed)})


def _metadata(res: SyncResult, warehouse: WarehouseResource, store: BlobStore, run_id: str) -> dict:
    """Materialization metadata of one table's sync."""
    rep, t = res.report, res.stream.table
    failed_uri = ""
    if rep.failures and not rep.dry_run:
        failed_uri = write_rows(store, f"results/genius/{run_id}/{t.name}_failed.csv", ["row", "key", "error", "raw"],
                                [[f.row, f.key, f.error, f.record] for f in rep.failures])
    warned = rep.warnings_metadata(write_report_warnings(store, f"results/genius/{run_id}/{t.name}_failed.csv", rep))
    live = warehouse.count(t, t.c._deleted_at.is_(None))
    md = res.sync.metadata()
    lines = [f"**{res.stream.source_table} -> {t.name}** ({res.mode}{', dry run: nothing written' if rep.dry_run else ''})",
             "", f"watermark: `{md['watermark_before'] or '-'}` -> `{md['watermark_after'] or '-'}`", "",
             "| | rows |", "|---|---:|"]
    lines += [f"| {k} | {md[k]:,} |" for k in ("rows_read", "inserted", "updated", "unchanged", "deleted", "failed")]
    if rep.failures:
        lines += ["", "| key | database message |", "|---|---|"]
        lines += [f"| {f.key} | {str(f.error).replace('|', '/')[:200]} |" for f in rep.failures[:10]]
    if res.missing_columns:
        lines += ["", "columns the source lacks (NULL): " + ", ".join(res.missing_columns)]
    return {**md, "status": res.status, "skipped": rep.counts["skipped"], "dagster/row_count": live,
            "dry_run": rep.dry_run, "complete": res.complete, "source": res.source,
            "failed_rows_file": failed_uri, **warned, "preview": MetadataValue.md("\n".join(lines))}
