"""Applying stored webhook events to the HubSpot tables (DESIGN.md §10 "Webhooks"):
:func:`apply_events` is the body of the ``hubspot/webhook_events`` asset.

An event says *that* an object changed, not reliably *what* it is now (events come late, twice
and out of order), so the run reads the object's current state and lands that. Per stream:

1. the events are grouped by object and put in ``occurredAt`` order (ties by ``eventId``);
   the object's latest event decides what a missing object means: a deletion
   (``deletion``), a merge, or nothing known; a ``privacyDeletion`` anywhere among them
   erases the object whatever came after (:mod:`.webhook_privacy`);
2. the objects are read with ``POST /crm/v3/objects/{type}/batch/read``, at most 100 ids per
   request, through the portal's rate budget (the sync's :class:`~.api_sync.HubspotResource`
   client), every property of the stream (:func:`~.api_sync.property_names`);
3. what was found is upserted with :func:`~.api_sync.to_row` through a
   :class:`~ingestion_pipelines.engine.api.StreamWriter` (its counts in ``sync_history``,
   stream ``webhooks/<stream>``); a later restore therefore wins over an earlier deletion;
4. nothing is deleted, only marked ``_deleted_at``, and only on positive evidence: a missing
   object whose latest event is a deletion is read again with ``archived=true`` (found: it
   lands with its ``archivedAt``; not found, it was purged: marked at the event's
   ``occurredAt``, and erased as step 5 says when its ``privacyDeletion`` comes); a merge's ``mergedObjectIds`` (and the winner's
   ``hs_merged_object_ids``) are marked with ``merged_into`` = the winner;
5. a privacy deletion (GDPR) is not read at all (HubSpot has purged the record): its row
   becomes a tombstone (every property column NULL, ``raw`` = ``{"id", "privacy_deleted":
   true}``, ``_deleted_at`` set; inserted if it never landed) and the object's events in
   ``webhook_events`` lose ``property_value`` and all but the ids of their ``raw``; an
   object whose row is a tombstone already is treated alike (a late redelivery). GDPR
   (Art. 17) asks for the personal data to be gone, DESIGN.md §10 for the row to stay: the
   tombstone is both, and the syncs never write over it (``webhook_privacy.withhold_erased``);
6. each event is marked ``applied`` (with ``applied_at``) or ``failed`` with its error, chunk
   by chunk. A missing object with no deletion or merge to explain it is *failed* ("not found"
   is not evidence, DESIGN.md §10), as is every object of a chunk whose request failed after
   its retries: both are retried by the next run (up to
   :data:`~.webhook_events.MAX_APPLY_ATTEMPTS`), and the incremental schedule reconciles the rest.

``associationChange`` events are marked applied without a read: ``hubspot_associations`` is
rebuilt by the associations stream.
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import sqlalchemy as sa

from ....engine.api import ApiClient, ApiError, AuthRefused, Endpoint, QuotaExhausted, StreamWriter
from ....engine.load import TableLoad
from ....engine.outcomes import CellWarning, Outcome
from ....engine.sync_state import StreamSync, ensure_tables
from . import webhook_events as ev
from . import webhook_privacy as privacy
from .api_streams import OBJECTS, ObjectStream
from .api_sync import SOURCE, HubspotResource, merged_losers, property_names, to_row
from .schema import TABLES

BATCH_READ = Endpoint("/crm/v3/objects/{object}/batch/read", method="POST", ok=(200, 207, 404))
#: ids per batch read (the API's maximum)
BATCH_MAX = 100
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


@dataclass
class ApplyReport:
    """What one run did: ``covered`` events, ``applied``, ``failed`` (with ``errors``: distinct
    texts, first 10), ``lags_s`` (``occurredAt`` -> landed, seconds, per applied event with a
    time), ``streams``: per stream its ``sync_history`` counts and id (``StreamSync.metadata``),
    ``status``, ``events`` covered and ``erased`` objects; ``scrubbed``: events whose personal
    values were cleared; ``requests`` sent."""

    covered: int = 0
    applied: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    lags_s: list[float] = field(default_factory=list)
    streams: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: int = 0
    scrubbed: int = 0
    erased: dict[str, int] = field(default_factory=dict)
    occurred: dict[int, dt.datetime | None] = field(default_factory=dict, repr=False)

    def lag(self) -> dict[str, float]:
        """``lag_p50_s``, ``lag_p95_s``, ``lag_max_s`` (0 when nothing landed)."""
        xs = sorted(self.lags_s)
        if not xs:
            return {"lag_p50_s": 0.0, "lag_p95_s": 0.0, "lag_max_s": 0.0}
        return {"lag_p50_s": round(statistics.median(xs), 3), "lag_p95_s": round(xs[int(0.95 * (len(xs) - 1))], 3),
                "lag_max_s": round(xs[-1], 3)}


@dataclass
class _Object:
    """One object's events, in ``occurredAt`` order, what its latest event says, and when a
    privacy deletion among them happened (``erase_at``; None: none)."""

    events: list[sa.Row]
    kind: str
    at: dt.datetime | None
    erase_at: dt.datetime | None = None


def apply_events(engine: sa.Engine, res: HubspotResource, client: ApiClient, events: Sequence[sa.Row],
                 run_id: str, should_stop: Callable[[], bool] = lambda: False) -> ApplyReport:
    """Apply ``events`` (rows of ``webhook_events``; module docstring). Never raises for an API
    failure (the events are failed with its text); a terminated run stops between chunks, its
    remaining events left as they were."""
    with engine.begin() as c:
        ensure_tables(c)
    report, req0 = ApplyReport(covered=len(events)), client.stats["requests"]
    report.occurred = {e.event_id: _at(e) for e in events}
    by_stream: dict[str, list[sa.Row]] = {}
    for e in events:
        by_stream.setdefault(e.object_type, []).append(e)
    for stream in (s for s in OBJECTS if s in by_stream):
        _apply_stream(engine, res, client, OBJECTS[stream], by_stream[stream], run_id, report, should_stop)
    report.requests = int(client.stats["requests"] - req0)
    return report


def _plan(events: Sequence[sa.Row]) -> tuple[dict[int, _Object], dict[int, tuple[int, dt.datetime | None]]]:
    """``({object id: _Object}, {merged-away id: (winner, occurredAt)})`` of one stream's events."""
    objects: dict[int, list[sa.Row]] = {}
    merged: dict[int, tuple[int, dt.datetime | None]] = {}
    for e in events:
        objects.setdefault(e.object_id, []).append(e)
        if ev.Kind(e.object_type, e.subscription_type.partition(".")[2]).kind == "merge":
            for loser in (e.raw or {}).get("mergedObjectIds") or []:
                if str(loser).isdigit() and int(loser) != e.object_id:
                    merged[int(loser)] = (e.object_id, _at(e))
    plans = {}
    for oid, evs in objects.items():
        evs.sort(key=lambda e: (_at(e) or _EPOCH, e.event_id))
        decisive = [e for e in evs if _kind(e) != "association"]
        last = decisive[-1] if decisive else evs[-1]
        erasures = [e for e in evs if e.subscription_type.partition(".")[2] == "privacyDeletion"]
        plans[oid] = _Object(evs, _kind(last), _at(last), (_at(erasures[0]) or _now()) if erasures else None)
    return plans, merged


def _at(e: sa.Row) -> dt.datetime | None:
    """The event's ``occurred_at``, aware (SQLite hands it back naive, in UTC)."""
    d = e.occurred_at
    return d if d is None or d.tzinfo else d.replace(tzinfo=dt.timezone.utc)


def _kind(e: sa.Row) -> str:
    return ev.Kind(e.object_type, e.subscription_type.partition(".")[2]).kind


def _apply_stream(engine: sa.Engine, res: HubspotResource, client: ApiClient, spec: ObjectStream,
                  events: Sequence[sa.Row], run_id: str, report: ApplyReport, should_stop: Callable[[], bool]) -> None:
    plans, merged = _plan(events)
    to_read = sorted(oid for oid, p in plans.items() if p.kind != "association")
    _record(engine, [e.event_id for p in plans.values() if p.kind == "association" for e in p.events], None, run_id,
            report, {})
    sync = StreamSync.start(engine, SOURCE, f"webhooks/{spec.name}", mode="incremental", run_id=run_id)
    audit = {"_source": f"{res.url}{BATCH_READ.path.format(object=spec.object_type)}", "_run_id": run_id}
    writer = StreamWriter(engine, TableLoad(TABLES[spec.name]), sync, audit)
    status, error, done = "succeeded", "", 0
    with writer:
        try:
            props = property_names(client, spec)
            for i in range(0, len(to_read), BATCH_MAX):
                chunk = to_read[i:i + BATCH_MAX]
                outcome = _apply_chunk(writer, client, spec, props, chunk, plans, merged, report)
                _record(engine, [e.event_id for oid in chunk for e in plans[oid].events], outcome, run_id, report,
                        plans)
                done = i + len(chunk)
                if should_stop():
                    status, error = "partial", "run terminated; the next run applies the rest"
                    break
        except (QuotaExhausted, ApiError, AuthRefused) as e:
            status, error = ("partial" if isinstance(e, QuotaExhausted) else "failed"), str(e)
            left = to_read[done:]
            _record(engine, [e2.event_id for oid in left for e2 in plans[oid].events],
                    {oid: error for oid in left}, run_id, report, plans)
        except BaseException as e:
            sync.finish(engine, "failed", error=f"{type(e).__name__}: {e}")
            raise
    sync.finish(engine, status, error=error or None,
                details={"events": len(events), "objects": len(to_read), "warnings": writer.report.warnings_total})
    report.streams[spec.name] = {**sync.metadata(), "status": status, "events": len(events),
                                 "erased": report.erased.get(spec.name, 0)}


def _apply_chunk(writer: StreamWriter, client: ApiClient, spec: ObjectStream, props: list[str], chunk: list[int],
                 plans: dict[int, _Object], merged: dict[int, tuple[int, dt.datetime | None]],
                 report: ApplyReport) -> dict[int, str | None]:
    """Read and land one chunk of objects (module docstring, steps 2-5); returns ``{object id:
    error or None}``. API errors propagate."""
    with writer.engine.connect() as c:
        tombs = privacy.erased_ids(c, spec.name, chunk)
    erase = {oid: plans[oid].erase_at or _now() for oid in chunk if plans[oid].erase_at or oid in tombs}
    _erase(writer, spec, erase, report)
    ids = [oid for oid in chunk if oid not in erase]
    found = batch_read(client, spec, ids, props) if ids else {}
    _write(writer, spec, list(found.values()))
    losers = {loser: (w, merged.get(loser, (w, None))[1]) for loser, w in merged_losers(found.values()).items()}
    in_chunk = set(chunk)
    losers.update({loser: wa for loser, wa in merged.items() if wa[0] in in_chunk})  # the event is the evidence
    for (winner, at), losing in _grouped(losers).items():
        writer.mark({"_deleted_at": at or _now(), "merged_into": winner}, keys=losing)
    missing = [oid for oid in ids if oid not in found]
    deleted = [oid for oid in missing if plans[oid].kind == "deleted" and oid not in merged]
    if deleted:
        archived = batch_read(client, spec, deleted, props, archived=True)
        _write(writer, spec, list(archived.values()), deleted_by="_deleted_at")
        purged: dict[tuple[dt.datetime | None], list[int]] = {}
        for oid in (o for o in deleted if o not in archived):
            purged.setdefault((plans[oid].at,), []).append(oid)
        for (at,), gone in purged.items():
            writer.mark({"_deleted_at": at or _now()}, keys=gone)
    unexplained = [oid for oid in missing if oid not in merged and oid not in deleted]
    marked = _already_deleted(writer, spec, unexplained)
    return {oid: (None if oid not in unexplained or oid in marked else
                  "not found at the API, and no deletion or merge event explains it: retried next run")
            for oid in chunk}


def _erase(writer: StreamWriter, spec: ObjectStream, at: dict[int, dt.datetime], report: ApplyReport) -> None:
    """Privacy deletions: tombstone rows for ``{object id: occurredAt}`` (a row marked already
    keeps its ``_deleted_at``: written without it), then the objects' events scrubbed."""
    if not at:
        return
    with writer.engine.connect() as c:
        rows = privacy.tombstones(c, spec.name, at)
    for group in ([r for r in rows if "_deleted_at" in r.values], [r for r in rows if "_deleted_at" not in r.values]):
        if group:
            outs = writer.write(group, None, deleted_by="_deleted_at")
            report.erased[spec.name] = report.erased.get(spec.name, 0) + sum(
                o.outcome in (Outcome.INSERTED, Outcome.UPDATED) for o in outs)
    with writer.engine.begin() as c:
        report.scrubbed += privacy.scrub_events(c, spec.name, at)


def batch_read(client: ApiClient, spec: ObjectStream, ids: Sequence[int], props: list[str],
               archived: bool = False) -> dict[int, dict]:
    """``{id: record}`` of the ``ids`` (at most :data:`BATCH_MAX`) that the batch read returns
    (200 all, 207 some, 404 none: a missing id is simply absent)."""
    body = {"inputs": [{"id": str(i)} for i in ids], "properties": props, "archived": archived}
    page = client.fetch(BATCH_READ, BATCH_READ.request(client.base_url, {"object": spec.object_type}, json=body))
    return {int(r["id"]): r for r in page.records}


def _write(writer: StreamWriter, spec: ObjectStream, records: list[dict], deleted_by: str | None = None) -> None:
    if not records:
        return
    warnings: list[CellWarning] = []
    rows = [to_row(spec, r, n, warnings) for n, r in enumerate(records, 1)]
    writer.report.add_warnings(warnings)
    writer.write(rows, None, deleted_by=deleted_by)


def _grouped(losers: dict[int, tuple[int, dt.datetime | None]]) -> dict[tuple[int, dt.datetime | None], list[int]]:
    out: dict[tuple[int, dt.datetime | None], list[int]] = {}
    for loser, key in losers.items():
        out.setdefault(key, []).append(loser)
    return out


def _already_deleted(writer: StreamWriter, spec: ObjectStream, ids: list[int]) -> set[int]:
    """The ``ids`` whose row is marked ``_deleted_at`` already (a deletion or merge applied before)."""
    if not ids:
        return set()
    t = TABLES[spec.name]
    with writer.engine.connect() as c:
        return {r[0] for r in c.execute(sa.select(t.c.id).where(t.c.id.in_(ids), t.c._deleted_at.is_not(None)))}


def _record(engine: sa.Engine, event_ids: list[int], outcome: dict[int, str | None] | None, run_id: str,
            report: ApplyReport, plans: dict[int, _Object]) -> None:
    """Mark ``event_ids`` applied, or failed with their object's error (``outcome``; None: all
    applied), in one transaction; the report counts them and the lags of the applied ones."""
    if not event_ids:
        return
    now = _now()
    failed: dict[str, list[int]] = {}
    if outcome:
        for oid, err in outcome.items():
            if err:
                failed.setdefault(err, []).extend(e.event_id for e in plans[oid].events)
    bad = {i for ids in failed.values() for i in ids}
    good = [i for i in event_ids if i not in bad]
    with engine.begin() as c:
        ev.mark(c, good, "applied", run_id, at=now)
        for err, ids in failed.items():
            ev.mark(c, ids, "failed", run_id, error=err)
    report.applied += len(good)
    report.failed += len(bad)
    report.errors.extend(e for e in failed if e not in report.errors and len(report.errors) < 10)
    report.lags_s.extend((now - report.occurred[i]).total_seconds() for i in good if report.occurred.get(i))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)
