"""The LeadConduit (ActiveProspect) API sync: :func:`run`, the runner the engine's factory calls
per stream (``api_definitions``), and :class:`LeadConduitResource`, the account.

* ``events``: the engine's :func:`~ingestion_pipelines.engine.api.streams.sync_stream` on
  ``api_streams.EVENTS`` (``GET /events`` ascending by id, ``after_id`` = the watermark, the
  last committed event id; DESIGN.md §10's rules are the engine's).
* ``leads``: :func:`sync_leads` — the leads derived from the *stored* events (``leadconduit_leads``,
  the CSV import's table), downstream of ``events``: the stored events after the ``leads``
  watermark are read in id order, 1,000 at a time (keyset, no offset); the leads they touch are
  derived again from all their stored events (``api_streams.derive_leads``) and upserted, and
  the batch's last event id is committed as the ``leads`` watermark in the same transaction.
  So the leads never run ahead of committed events, a killed derivation resumes from its last
  batch, and ``--full`` rebuilds every lead from the stored events without one API request.
  ``--since`` re-derives the leads of the events started at or after that time; ``--limit``
  stops after that many events.

``leadconduit_all`` runs ``events`` then ``leads`` (the order of ``api_names.NAMES``). A dry run
of both derives the leads from the events already committed (the events' dry run wrote none).
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

import sqlalchemy as sa

from ....engine.api import ApiClient, HttpBasic
from ....engine.api.definitions import ApiResource
from ....engine.api.streams import RestStream, StreamResult, SyncOptions, sync_stream
from ....engine.api.incremental import Stopped, StreamWriter, stream_status
from ....engine.sync_state import StreamSync, Watermark, ensure_tables, read_watermark
from .api_streams import EVENTS_ENDPOINT, LEADS_STREAM, derive_leads
from .schema import leadconduit_events

#: stored events per derivation batch
LEAD_BATCH = 1000


class LeadConduitResource(ApiResource):
    """One LeadConduit account: ``base_url`` (``ACTIVEPROSPECT_BASE_URL``, default
    ``https://app.leadconduit.com``), ``api_key`` (``ACTIVEPROSPECT_API_KEY``; the seed's
    ``ACTIVEPROSPECT_API_TOKEN`` and ``LEADCONDUIT_API_KEY`` are accepted), sent as the password
    of HTTP Basic with user ``username`` (``API``: APIS.md §2; any works), every request with
    ``Accept: application/json`` (without it the API answers 403); a 401 fails the stream at
    once naming ``ACTIVEPROSPECT_API_KEY``. The rate limit is not
    documented: the budget defaults to the seed system's 100 requests per minute."""

    SYSTEM: ClassVar[str] = "leadconduit"
    VARIABLES: ClassVar[dict[str, tuple[str, ...]]] = {
        "base_url": ("ACTIVEPROSPECT_BASE_URL", "LEADCONDUIT_BASE_URL"),
        "api_key": ("ACTIVEPROSPECT_API_KEY", "ACTIVEPROSPECT_API_TOKEN", "LEADCONDUIT_API_KEY"),
    }
    DEFAULT_BASE_URL: ClassVar[str | None] = "https://app.leadconduit.com"

    api_key: str | None = None
    username: str = "API"
    requests_per_interval: int = 100
    interval_seconds: float = 60.0

    def auth(self) -> HttpBasic:
        (key,) = self.required("api_key")
        return HttpBasic(self.username, key, variables=self.VARIABLES["api_key"][:1])

    def client(self, log: Any = None) -> ApiClient:
        c = super().client(log)
        c.session.headers["Accept"] = "application/json"
        return c


def run(engine: sa.Engine, client: ApiClient, source: str, stream: RestStream, opts: SyncOptions,
        log: Any = None) -> StreamResult:
    """The factory's runner: ``leads`` by :func:`sync_leads`, any other stream by the engine."""
    if stream.name == LEADS_STREAM.name:
        return sync_leads(engine, source, opts, log, api_url=client.base_url.rstrip("/") + EVENTS_ENDPOINT.path)
    return sync_stream(engine, client, source, stream, opts, log)


def _plan(before: Watermark | None, opts: SyncOptions) -> tuple[str, Any]:
    """``(mode, condition on the events)`` of a derivation (module docstring)."""
    ev = leadconduit_events.c
    if opts.since is not None:
        return "incremental", ev.start_timestamp >= opts.since
    if opts.full or before is None or before.cursor is None:
        return "full", sa.true()
    return "incremental", ev.id > before.cursor


def sync_leads(engine: sa.Engine, source: str, opts: SyncOptions, log: Any = None,
               api_url: str = "leadconduit_events") -> StreamResult:
    """Derive ``leadconduit_leads`` from the stored events (module docstring); ``api_url``: the
    rows' ``_source`` (the events' API URL, as on the events: the CSV import writes its file's).
    Never raises for a terminated run (``partial``); another exception closes the history row
    ``failed`` and propagates."""
    with engine.begin() as c:
        ensure_tables(c)
        for t in (leadconduit_events, LEADS_STREAM.table):
            t.metadata.create_all(c, tables=[t], checkfirst=True)
        before = read_watermark(c, source, LEADS_STREAM.name)
    mode, cond = _plan(before, opts)
    t0 = time.monotonic()
    sync = StreamSync.start(engine, source, LEADS_STREAM.name, mode=mode, run_id=opts.run_id, dry_run=opts.dry_run)
    sync.text_order = True  # event ids: fixed-width hex
    audit = {"_source": api_url, "_run_id": opts.run_id}
    writer = StreamWriter(engine, LEADS_STREAM.load_spec(), sync, audit, opts.dry_run)
    details: dict[str, Any] = {"pages": 0, "events_read": 0, "start": opts.since.isoformat() if opts.since else ""}
    with writer, stream_status(engine, sync) as ended:
        _derive(engine, writer, cond, opts, details)
    status, error = ended.status, ended.error
    details.update(requests=0, duration_s=round(time.monotonic() - t0, 3), warnings=writer.report.warnings_total)
    if log is not None and error:
        log.warning(f"{source} leads: {status}: {error}")
    sync.finish(engine, status, error=error or None, details=details)
    return StreamResult(sync, status, error, writer.report, details)


def _derive(engine: sa.Engine, writer: StreamWriter, cond: Any, opts: SyncOptions, details: dict[str, Any]) -> None:
    """The derivation's batches: keyset by event id over the stored events matching ``cond``."""
    ev = leadconduit_events.c
    last: str | None = None
    while True:
        size = LEAD_BATCH if not opts.limit else min(LEAD_BATCH, opts.limit - details["events_read"])
        if size <= 0:
            return
        q = sa.select(ev.id, ev.lead_id).where(cond).order_by(ev.id).limit(size)
        with engine.connect() as c:
            batch = c.execute(q.where(ev.id > last) if last is not None else q).all()
            if not batch:
                return
            rows, failed, warnings = derive_leads(c, [lid for _id, lid in batch])
        last = batch[-1][0]
        writer.report.add_warnings(warnings)
        writer.write(rows, Watermark(last), read=len(batch), failed=failed)
        details["pages"] += 1
        details["events_read"] += len(batch)
        opts.on_progress(len(batch))
        if opts.should_stop():
            raise Stopped()


__all__ = ["LeadConduitResource", "LEAD_BATCH", "run", "sync_leads"]
