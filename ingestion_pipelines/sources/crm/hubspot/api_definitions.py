"""Definitions of the HubSpot API sync (group ``hubspot``; DESIGN.md §10): the ``hubspot_sync``
multi-asset (one asset per stream, subsettable, one step sharing one client and rate budget),
the jobs (one per stream and ``hubspot_all``, each tagged ``hubspot/portal``), the schedules
(``hubspot_incremental_schedule`` every 15 minutes, ``hubspot_full_schedule`` nightly with
``full``; both stopped by default) and the ``hubspot`` resource.

The resource gets the ``HUBSPOT_*`` variables set when the code location loads as ``EnvVar``
(the UI shows the names, never the values); variables set later are read when a run needs
them; none set: a run fails fast naming them.

Each stream's materialization (DESIGN.md §10: the history in the UI): ``status``
(succeeded | partial | failed), ``mode``, ``watermark_before`` / ``watermark_after``, the counts
(``rows_read``, ``inserted``, ``updated``, ``unchanged``, ``deleted``, ``failed``),
``sync_history_id``, ``requests``, ``records_per_s``, ``duration_s``, ``archived`` / ``merged``
(newly marked), the search windows, warnings and failed rows, ``dagster/row_count``.
"""


import datetime as dt
import os

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSelection,
    AssetSpec,
    Config,
    DefaultScheduleStatus,
    Definitions,
    EnvVar,
    Failure,
    MaterializeResult,
    MetadataValue,
    RunConfig,
    ScheduleDefinition,
    define_asset_job,
    multi_asset,
)
from pydantic import Field

from ....engine.asset_metadata import file_link, table_metadata, warehouse_kind
from ....engine.outcomes import ProgressLogger
from ....engine.result_files import write_report_warnings, write_rows
from ....engine.runs import run_terminating
from ....resources.storage import BlobStore
from ....resources.warehouse import WarehouseResource
from . import api_names as names
from . import webhook_definitions
from .api_streams import OBJECTS
from .api_sync import HubspotResource, StreamResult, SyncOptions, sync_associations, sync_object
from .schema import TABLES, hubspot_associations, metadata

TABLE_OF = {**TABLES, "associations": hubspot_associations}
KEYS = {s: AssetKey([names.GROUP, s]) for s in names.STREAMS}
_DESCRIPTIONS = {
    "contacts": "HubSpot contacts in hubspot_contacts (full list or search on lastmodifieddate; archived and merged marked).",
    "companies": "HubSpot companies in hubspot_companies (full list or search on hs_lastmodifieddate; archived and merged marked).",
    "deals": "HubSpot deals in hubspot_deals (full list or search on hs_lastmodifieddate; archived and merged marked).",
    "appointments": "HubSpot appointments (object 0-421) in hubspot_appointments (archived and merged marked).",
    "associations": "HubSpot associations (contacts-companies, deals-contacts/companies, appointments-contacts) via the v4 batch read.",
}


class HubspotSyncConfig(Config):
    """Options of a HubSpot sync (the seed's ``sync_hubspot_*`` options)."""

    full: bool = Field(default=False, description="Read every record with the list endpoint (not the search since the watermark).")
    since: str = Field(default="", description="Incremental from this time (YYYY-MM-DD[THH:MM:SS], UTC) instead of the watermark (--since / --lastmodifieddate).")
    limit: int = Field(default=0, description="Stop each object after this many records (0 = all; for trying it out).")
    dry_run: bool = Field(default=False, description="Read and compare everything, write nothing.")
    properties: dict[str, list[str]] = Field(default_factory=dict, description="Per stream (contacts, companies, deals, appointments), the properties to read; default: every property /crm/v3/properties lists.")

    def options(self, run_id: str, should_stop) -> SyncOptions:
        """The sync's options; ``Failure`` for a ``since`` that does not parse."""
        since = None
        if self.since:
            try:
                since = dt.datetime.fromisoformat(self.since.strip().replace("Z", "+00:00"))
            except ValueError:
                raise Failure(f"since: expected YYYY-MM-DD[THH:MM:SS], got {self.since!r}") from None
            since = since if since.tzinfo else since.replace(tzinfo=dt.timezone.utc)
        return SyncOptions(full=self.full, since=since, limit=self.limit, dry_run=self.dry_run, run_id=run_id,
                           should_stop=should_stop, properties={k: list(v) for k, v in self.properties.items()})


def _spec(stream: str) -> AssetSpec:
    deps = [KEYS[s] for s in OBJECTS] if stream == "associations" else []
    return AssetSpec(KEYS[stream], group_name=names.GROUP, deps=deps, skippable=True,
                     description=_DESCRIPTIONS[stream], kinds={"hubspot", warehouse_kind()},
                     metadata=table_metadata(TABLE_OF[stream]))


def _metadata(stream: str, r: StreamResult, warehouse: WarehouseResource, store: BlobStore, run_id: str) -> dict:
    d = r.details
    secs = max(float(d.get("duration_s", 0.0)), 1e-6)
    failed_file = ""
    if r.report.failures and not r.sync.dry_run:
        failed_file = write_rows(store, f"results/hubspot/{run_id}/{stream}_failed.csv", ["row", "id", "error"],
                                 [[f.row, (f.record or {}).get("id"), f.error] for f in r.report.failures])
    warn_file = "" if r.sync.dry_run else write_report_warnings(store, f"results/hubspot/{run_id}/{stream}_failed.csv", r.report)
    counts = r.sync.metadata()
    lines = [f"**{stream}**: {r.status} ({counts['mode']})" + ("  _(dry run: nothing written)_" if r.sync.dry_run else ""),
             "", "| | |", "|---|---:|"]
    lines += [f"| {k} | {counts[k]} |" for k in ("rows_read", "inserted", "updated", "unchanged", "deleted", "failed")]
    lines += [f"| watermark | {counts['watermark_before'] or '-'} → {counts['watermark_after'] or '-'} |",
              f"| requests | {d.get('requests', 0)} |"]
    if r.error:
        lines += ["", f"error: {r.error}"]
    return {**counts, "status": r.status, "error": r.error, "dry_run": r.sync.dry_run,
            "requests": int(d.get("requests", 0)), "duration_s": float(d.get("duration_s", 0.0)),
            "records_per_s": round(counts["rows_read"] / secs, 1),
            **{k: int(d[k]) for k in ("archived", "merged", "windows", "window_splits", "window_rereads",
                                      "inputs_without_complete_answer") if k in d},
            "dagster/row_count": warehouse.count(TABLE_OF[stream]), "failed_rows_file": file_link(failed_file),
            **r.report.warnings_metadata(warn_file), "warnings_file": file_link(warn_file),
            "preview": MetadataValue.md("\n".join(lines))}


@multi_asset(name=names.ASSET_NAME, specs=[_spec(s) for s in names.STREAMS], can_subset=True)
def hubspot_sync(context: AssetExecutionContext, config: HubspotSyncConfig, warehouse: WarehouseResource,
                 hubspot: HubspotResource, blob_store: BlobStore):
    """Sync the selected HubSpot streams (objects first, then associations) under one rate budget."""
    warehouse.setup(metadata)
    client = hubspot.client(log=context.log)
    opts = config.options(context.run_id, run_terminating(context))
    selected = [s for s in names.STREAMS if KEYS[s] in context.selected_asset_keys]
    failed: list[str] = []
    try:
        for stream in selected:
            progress = ProgressLogger(context.log, f"hubspot {stream}", every_rows=5000)
            opts.on_progress = progress.tick
            if stream == "associations":
                r = sync_associations(warehouse.engine, hubspot, client, opts, log=context.log)
            else:
                r = sync_object(warehouse.engine, hubspot, client, OBJECTS[stream], opts, log=context.log)
            progress.finish()
            context.log.info(f"hubspot {stream}: {r.status}; " + " ".join(
                f"{k}={r.sync.counts[k]}" for k in ("rows_read", "inserted", "updated", "unchanged", "deleted", "failed")))
            if r.status == "failed":
                context.log.error(f"hubspot {stream} failed: {r.error}")
                failed.append(f"{stream}: {r.error}")
                continue
            yield MaterializeResult(asset_key=KEYS[stream],
                                    metadata=_metadata(stream, r, warehouse, blob_store, context.run_id))
            if "daily quota" in r.error:
                context.log.warning("hubspot: the daily quota is spent; the run ends here, its state saved")
                break
    finally:
        client.close()
    if failed:
        raise Failure("HubSpot sync failed for: " + "; ".join(failed))


def hubspot_resource() -> HubspotResource:
    """The ``hubspot`` resource from the ``HUBSPOT_*`` variables set now (``EnvVar`` each)."""
    fields = (("base_url", "HUBSPOT_BASE_URL"), ("access_token", "HUBSPOT_ACCESS_TOKEN"),
              ("access_token", "HUBSPOT_API_TOKEN"), ("client_id", "HUBSPOT_CLIENT_ID"),
              ("client_secret", "HUBSPOT_CLIENT_SECRET"), ("refresh_token", "HUBSPOT_REFRESH_TOKEN"))
    kw: dict = {}
    for f, var in fields:
        if os.environ.get(var) and f not in kw:
            kw[f] = EnvVar(var)
    return HubspotResource(portal=names.PORTAL, **kw)


_TAGS = {names.PORTAL_TAG: names.PORTAL}
JOBS = [define_asset_job(names.job(s), selection=AssetSelection.assets(KEYS[s]), tags=_TAGS,
                         description=f"Sync HubSpot {s} (incremental since the watermark; --full with config).")
        for s in names.STREAMS]
JOBS.append(define_asset_job(names.ALL_JOB, selection=AssetSelection.assets(*KEYS.values()), tags=_TAGS,
                             description="Sync every HubSpot stream: contacts, companies, deals, appointments, associations."))
_ALL = JOBS[-1]
SCHEDULES = [
    ScheduleDefinition(name=names.INCREMENTAL_SCHEDULE, job=_ALL, cron_schedule="*/15 * * * *",
                       default_status=DefaultScheduleStatus.STOPPED,
                       description="Every 15 minutes: every HubSpot stream, incremental since its watermark."),
    ScheduleDefinition(name=names.FULL_SCHEDULE, job=_ALL, cron_schedule="30 2 * * *", execution_timezone="UTC",
                       default_status=DefaultScheduleStatus.STOPPED,
                       run_config=RunConfig(ops={names.ASSET_NAME: HubspotSyncConfig(full=True)}),
                       description="Nightly (02:30 UTC): a full read of every HubSpot stream (archived, merged and missed records)."),
]

defs = Definitions.merge(
    Definitions(assets=[hubspot_sync], jobs=JOBS, schedules=SCHEDULES, resources={names.RESOURCE: hubspot_resource()}),
    webhook_definitions.defs)  # the webhooks' asset, job and sensor, on the same ``hubspot`` resource
