"""Definitions of the HubSpot webhooks (group ``hubspot``; DESIGN.md §10 "Webhooks"): the
``hubspot/webhook_events`` asset (:func:`~.webhook_apply.apply_events` over the stored events),
its job ``hubspot_webhooks`` and the sensor ``hubspot_webhooks_sensor`` (stopped by default).

The receiver (``ingest webhooks serve``, :mod:`.webhook_receiver`) only stores events; the
sensor turns the events waiting in ``webhook_events`` (pending, or failed with retries left)
into one run: its ``run_key`` is a hash of the events it covers, their attempt counts and the
job's last run (the same events are never requested twice for the same attempt; a retry, or
a retry after a crashed run, is a new key), its config the last ``seq`` covered. While a run of the job is queued or in progress the sensor
waits (the next tick covers what arrived meanwhile), and after a failed run (one that
crashed before recording outcomes: missing credentials, the warehouse down) it waits
:data:`RETRY_FAILED_S` before asking again, rather than failing a run every tick. The job carries the ``hubspot/portal``
tag like the sync jobs, so the run queue never lets a webhook run and a sync of the same
portal write the same rows at once (either could otherwise land an older read last); the
price is that webhook events wait while a sync runs (the nightly full one most).

The materialization shows the run's events ``covered``, ``applied``, ``failed`` (and the
errors), the log's totals (``received``, ``pending``, ``failed_total``), the lag from
``occurredAt`` to landed (``lag_p50_s`` / ``lag_p95_s`` / ``lag_max_s``), per stream the
``sync_history`` counts, and the requests sent.
"""

import hashlib
import time

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSelection,
    Config,
    DagsterRunStatus,
    DefaultSensorStatus,
    Definitions,
    MaterializeResult,
    MetadataValue,
    RunConfig,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    asset,
    define_asset_job,
    sensor,
)
from dagster._core.storage.dagster_run import IN_PROGRESS_RUN_STATUSES
from pydantic import Field

from ....engine.asset_metadata import table_metadata, warehouse_kind
from ....engine.runs import run_terminating
from ....resources.warehouse import WarehouseResource
from . import api_names as names
from . import webhook_events as ev
from .api_sync import HubspotResource
from .schema import metadata as hubspot_metadata
from .webhook_apply import ApplyReport, apply_events

ASSET_NAME = "webhook_events"
KEY = AssetKey([names.GROUP, ASSET_NAME])
JOB = "hubspot_webhooks"
SENSOR = "hubspot_webhooks_sensor"
#: events one run applies at most (the next tick asks for the rest)
RUN_EVENTS = 20_000
#: after a failed run (e.g. credentials missing) the sensor waits this long before asking again (seconds)
RETRY_FAILED_S = 300.0


class WebhookApplyConfig(Config):
    """Which stored events a run applies."""

    max_seq: int = Field(default=0, description="Apply events up to this webhook_events.seq (0 = every waiting event).")
    limit: int = Field(default=RUN_EVENTS, description="At most this many events in this run.")


@asset(key=KEY, group_name=names.GROUP, kinds={"hubspot", warehouse_kind()}, metadata=table_metadata(ev.webhook_events))
def webhook_events(context: AssetExecutionContext, config: WebhookApplyConfig, warehouse: WarehouseResource,
                   hubspot: HubspotResource) -> MaterializeResult:
    """HubSpot webhook events applied to hubspot_contacts/companies/deals/appointments (objects batch-read; deletions and merges marked)."""
    warehouse.setup(hubspot_metadata, ev.metadata)
    with warehouse.engine.connect() as c:
        events = ev.to_apply(c, max_seq=config.max_seq or None, limit=config.limit)
    client = hubspot.client(log=context.log)
    try:
        report = apply_events(warehouse.engine, hubspot, client, events, context.run_id, run_terminating(context))
    finally:
        client.close()
    with warehouse.engine.connect() as c:
        totals = ev.counts(c)
    context.log.info(f"hubspot webhooks: {report.covered} events, {report.applied} applied, {report.failed} failed; "
                     f"{totals['pending']} pending in the log")
    for err in report.errors:
        context.log.warning(f"hubspot webhooks: failed: {err}")
    return MaterializeResult(metadata=_metadata(report, totals))


def _metadata(r: ApplyReport, totals: dict[str, int]) -> dict:
    lag = r.lag()
    lines = ["| events | |", "|---|---:|", f"| covered | {r.covered} |", f"| applied | {r.applied} |",
             f"| failed | {r.failed} |", f"| lag occurredAt → landed, p50 / p95 / max (s) | "
             f"{lag['lag_p50_s']} / {lag['lag_p95_s']} / {lag['lag_max_s']} |", "",
             "| stream | status | read | inserted | updated | unchanged | deleted |", "|---|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {s} | {c['status']} | {c['rows_read']} | {c['inserted']} | {c['updated']} | {c['unchanged']} | "
              f"{c['deleted']} |" for s, c in r.streams.items()]
    if r.errors:
        lines += ["", *[f"- failed: {e}" for e in r.errors]]
    md = {"covered": r.covered, "applied": r.applied, "failed": r.failed, **lag, "requests": r.requests,
          "received": sum(totals.values()), "pending": totals["pending"], "failed_total": totals["failed"],
          "dagster/row_count": sum(totals.values()), "preview": MetadataValue.md("\n".join(lines))}
    for s, c in r.streams.items():
        md.update({f"{s}_{k}": int(c[k]) for k in ("inserted", "updated", "unchanged", "deleted", "sync_history_id")})
    return md


hubspot_webhooks_job = define_asset_job(JOB, selection=AssetSelection.assets(KEY), tags={names.PORTAL_TAG: names.PORTAL},
                                        description="Apply the stored HubSpot webhook events to the HubSpot tables.")


@sensor(name=SENSOR, job=hubspot_webhooks_job, minimum_interval_seconds=15, default_status=DefaultSensorStatus.STOPPED,
        required_resource_keys={"warehouse"},
        description="Requests a hubspot_webhooks run for the webhook events waiting in webhook_events.")
def hubspot_webhooks_sensor(context: SensorEvaluationContext, **_direct_call_resources) -> SensorResult:
    """One run for the waiting events (module docstring); the cursor is the last ``seq`` asked for."""
    last = context.instance.get_run_records(RunsFilter(job_name=JOB), limit=1)
    run = last[0].dagster_run if last else None
    if run is not None and run.status in IN_PROGRESS_RUN_STATUSES:
        return SensorResult(skip_reason=SkipReason(f"run {run.run_id} is applying events"), cursor=context.cursor)
    if run is not None and run.status == DagsterRunStatus.FAILURE and time.time() - (last[0].end_time or 0) < RETRY_FAILED_S:
        return SensorResult(skip_reason=SkipReason(f"run {run.run_id} failed; the next run is asked for "
                                                   f"{RETRY_FAILED_S:.0f} s after it"), cursor=context.cursor)
    warehouse: WarehouseResource = context.resources.warehouse
    warehouse.setup(ev.metadata)
    with warehouse.engine.connect() as c:
        waiting = ev.waiting(c, limit=RUN_EVENTS)
    if not waiting:
        return SensorResult(skip_reason=SkipReason("no webhook events waiting"), cursor=context.cursor)
    return SensorResult(run_requests=[run_request(waiting, run.run_id if run else "")], cursor=str(waiting[-1][0]))


def run_request(waiting: list[tuple[int, int, int]], last_run_id: str = "") -> RunRequest:
    """The run for ``(seq, event_id, apply_attempts)`` of the waiting events: keyed on them and
    on the job's last run (a run that crashed before recording any outcome leaves the same
    events with the same attempts: the key must still change, or Dagster skips the retry)."""
    h = hashlib.sha256(last_run_id.encode())
    for _seq, event_id, attempts in waiting:
        h.update(f"{event_id}:{attempts}\n".encode())
    max_seq = waiting[-1][0]
    return RunRequest(run_key=f"webhooks-{max_seq}-{h.hexdigest()[:16]}",
                      run_config=RunConfig(ops={KEY.to_python_identifier(): WebhookApplyConfig(max_seq=max_seq, limit=RUN_EVENTS)}),
                      tags={"hubspot/webhook_events": str(len(waiting))})


defs = Definitions(assets=[webhook_events], jobs=[hubspot_webhooks_job], sensors=[hubspot_webhooks_sensor])
