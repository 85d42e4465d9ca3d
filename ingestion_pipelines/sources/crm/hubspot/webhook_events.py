"""The durable log of HubSpot webhook events, ``webhook_events`` (DESIGN.md §10 "Webhooks"):
:func:`parse_batch` reads a request body into rows, :func:`store` commits them (once per
``eventId``) before the receiver answers 2xx, and the applying run reads them back with
:func:`to_apply` and records each outcome with :func:`mark`.

A HubSpot request is a JSON array of at most 100 events (``crm/APIS.md`` §1): ``eventId``,
``subscriptionType`` (``contact.propertyChange``, ``deal.deletion``, ``object.merge`` with
``objectTypeId`` ...), ``objectId``, ``propertyName`` / ``propertyValue``, ``occurredAt`` (epoch
ms), ``attemptNumber``; merges add ``primaryObjectId`` / ``mergedObjectIds`` / ``newObjectId``.
Delivery is at least once and in no order: the unique ``event_id`` makes a duplicate a no-op,
and the run orders by ``occurred_at`` per object.

Columns: ``seq`` (arrival order, the sensor's cursor), ``event_id`` (unique), ``portal_id``,
``subscription_type``, ``object_type`` (our stream: contacts, companies, deals, appointments),
``object_id``, ``property_name``, ``property_value``, ``change_source``, ``occurred_at``,
``received_at``, ``attempt`` (HubSpot's ``attemptNumber`` of the delivery stored), ``status``
(``pending`` | ``applied`` | ``failed``), ``error`` (why it failed), ``apply_attempts`` (runs
that tried it), ``applied_at``, ``run_id`` (the last run that tried it), ``raw`` (the event as
sent). An event that names no object (``[{"subscriptionType": "company.change",
"eventId": 16}]``) is kept ``failed`` at once: nothing can apply it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import orjson
import sqlalchemy as sa

from ....engine.schema import JSON_TYPE, natural_key_constraint
from .api_streams import OBJECTS

metadata = sa.MetaData()
TS = sa.DateTime(timezone=True)
STATUSES = ("pending", "applied", "failed")
#: at most this many events in one request (HubSpot sends up to 100)
MAX_EVENTS = 100
#: a failed event is retried by this many runs; then it stays failed (the schedule reconciles)
MAX_APPLY_ATTEMPTS = 10

webhook_events = sa.Table(
    "webhook_events", metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True,
              comment="arrival order"),
    sa.Column("event_id", sa.BigInteger, nullable=False, comment="HubSpot eventId (unique)"),
    sa.Column("portal_id", sa.BigInteger, nullable=True),
    sa.Column("subscription_type", sa.String(64), nullable=False, comment="e.g. contact.propertyChange"),
    sa.Column("object_type", sa.String(32), nullable=False, comment="stream: contacts, companies, deals, appointments"),
    sa.Column("object_id", sa.BigInteger, nullable=True, comment="objectId (merges: the winner)"),
    sa.Column("property_name", sa.Text, nullable=True),
    sa.Column("property_value", sa.Text, nullable=True),
    sa.Column("change_source", sa.String(64), nullable=True),
    sa.Column("occurred_at", TS, nullable=True, comment="occurredAt"),
    sa.Column("received_at", TS, nullable=False, comment="when the receiver stored it"),
    sa.Column("attempt", sa.Integer, nullable=True, comment="HubSpot attemptNumber of the delivery stored"),
    sa.Column("status", sa.String(16), nullable=False, comment="pending | applied | failed"),
    sa.Column("error", sa.Text, nullable=True, comment="why it could not be applied"),
    sa.Column("apply_attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("applied_at", TS, nullable=True),
    sa.Column("run_id", sa.String(64), nullable=True, comment="the last run that tried it"),
    sa.Column("raw", JSON_TYPE, nullable=True, comment="the event as HubSpot sent it"),
    natural_key_constraint("webhook_events", "event_id"),
    sa.Index("ix_webhook_events_status_seq", "status", "seq"),
    comment="HubSpot webhook events, stored before the receiver answers 2xx",
)

#: ``contact.*`` ... -> stream; ``object.*`` events name their type in ``objectTypeId``
_PREFIXES = {"contact": "contacts", "company": "companies", "deal": "deals"}
_TYPE_IDS = {"0-1": "contacts", "0-2": "companies", "0-3": "deals",
             **{s.object_type: name for name, s in OBJECTS.items()}}
DELETIONS = ("deletion", "privacyDeletion")


class BadBatch(ValueError):
    """The body is not a batch of HubSpot events (the receiver answers 400, stores nothing)."""


@dataclass(frozen=True)
class Kind:
    """What an event asks of the run: ``changed`` (read the object), ``deleted``, ``merge``,
    ``association`` (left to the associations sync)."""

    stream: str
    action: str

    @property
    def kind(self) -> str:
        if self.action in DELETIONS:
            return "deleted"
        return {"merge": "merge", "associationChange": "association"}.get(self.action, "changed")


def subscription(event: dict) -> Kind:
    """The stream and action of an event's ``subscriptionType``; :class:`BadBatch` when it maps
    to none of our streams (snowplow's ``"contact"``: no action; ``ticket.creation``: no table)."""
    st = event.get("subscriptionType")
    prefix, _, action = str(st).partition(".") if isinstance(st, str) else ("", "", "")
    stream = _TYPE_IDS.get(str(event.get("objectTypeId"))) if prefix == "object" else _PREFIXES.get(prefix)
    if not action or stream is None:
        raise BadBatch(f"no mapping for subscriptionType {st!r}")
    return Kind(stream, action)


def parse_batch(body: bytes, received_at: dt.datetime) -> list[dict[str, Any]]:
    """The rows of ``webhook_events`` for one request body (events deduplicated by id, last
    wins). Raises :class:`BadBatch`: not JSON, not a non-empty array of at most
    :data:`MAX_EVENTS` objects, an event without an integer ``eventId`` or with an unknown
    subscription type, a non-integer ``occurredAt`` / ``objectId``."""
    if not body.strip():
        raise BadBatch("empty body")
    try:
        events = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadBatch("body is not JSON") from None
    if not isinstance(events, list) or not events:
        raise BadBatch("expected a non-empty JSON array of events")
    if len(events) > MAX_EVENTS:
        raise BadBatch(f"{len(events)} events in one request; at most {MAX_EVENTS}")
    rows: dict[int, dict[str, Any]] = {}
    for i, e in enumerate(events):
        if not isinstance(e, dict):
            raise BadBatch(f"event {i}: not an object")
        try:
            row = _row(e, received_at)
        except BadBatch as err:
            raise BadBatch(f"event {i}: {err}") from None
        rows[row["event_id"]] = row
    return list(rows.values())


def _int(e: dict, name: str, required: bool = False) -> int | None:
    v = e.get(name)
    if v is None and not required:
        return None
    if isinstance(v, bool) or not (isinstance(v, int) or (isinstance(v, str) and v.isdigit())):
        raise BadBatch(f"{name} must be an integer")
    return int(v)


def _row(e: dict, received_at: dt.datetime) -> dict[str, Any]:
    event_id = _int(e, "eventId", required=True)
    k = subscription(e)
    occurred = _int(e, "occurredAt")
    oid = _int(e, "objectId")
    if k.kind == "merge":
        oid = _int(e, "newObjectId") or _int(e, "primaryObjectId") or oid
    value = e.get("propertyValue")
    row = {"event_id": event_id, "portal_id": _int(e, "portalId"), "subscription_type": e["subscriptionType"],
           "object_type": k.stream, "object_id": oid, "property_name": e.get("propertyName"),
           "property_value": None if value is None else str(value), "change_source": e.get("changeSource"),
           "occurred_at": None if occurred is None else dt.datetime.fromtimestamp(occurred / 1000, dt.timezone.utc),
           "received_at": received_at, "attempt": _int(e, "attemptNumber"), "status": "pending", "error": None,
           "raw": e}
    if oid is None:
        row.update(status="failed", error="the event names no object (objectId): nothing to apply")
    return row


def store(engine: sa.Engine, rows: Sequence[dict[str, Any]]) -> tuple[int, int]:
    """Insert ``rows`` in one transaction, committed on return; an ``event_id`` stored already
    is left as it is (a redelivery). Returns ``(stored, duplicates)``."""
    with engine.begin() as c:
        stored = _insert_new(c, rows)
    return stored, len(rows) - stored


def _insert_new(c: sa.Connection, rows: Sequence[dict[str, Any]]) -> int:
    t, name = webhook_events, c.dialect.name
    if name in ("postgresql", "sqlite"):
        mod = sa.dialects.postgresql if name == "postgresql" else sa.dialects.sqlite
        q = mod.insert(t).on_conflict_do_nothing(index_elements=["event_id"]).returning(t.c.event_id)
        return len(c.execute(q, list(rows)).all())
    return c.execute(t.insert().prefix_with("IGNORE"), list(rows)).rowcount or 0  # MySQL / MariaDB


def _needs_applying() -> sa.ColumnElement:
    t = webhook_events.c
    return sa.or_(t.status == "pending",
                  sa.and_(t.status == "failed", t.apply_attempts < MAX_APPLY_ATTEMPTS, t.object_id.is_not(None)))


def to_apply(conn: sa.Connection, *, max_seq: int | None = None, limit: int = 20_000) -> list[sa.Row]:
    """The events a run should apply: ``pending``, and ``failed`` ones with retries left and an
    object, with ``seq <= max_seq`` (None: any), the first ``limit`` in arrival order."""
    t = webhook_events
    q = sa.select(t).where(_needs_applying())
    if max_seq:
        q = q.where(t.c.seq <= max_seq)
    return list(conn.execute(q.order_by(t.c.seq).limit(limit)))


def waiting(conn: sa.Connection, limit: int = 20_000) -> list[tuple[int, int, int]]:
    """``(seq, event_id, apply_attempts)`` of the events :func:`to_apply` would return (the
    sensor's view: it keys a run on them)."""
    t = webhook_events.c
    q = sa.select(t.seq, t.event_id, t.apply_attempts).where(_needs_applying()).order_by(t.seq).limit(limit)
    return [tuple(r) for r in conn.execute(q)]


def mark(conn: sa.Connection, event_ids: Iterable[int], status: str, run_id: str | None, *,
         error: str | None = None, at: dt.datetime | None = None) -> int:
    """Record one outcome for ``event_ids`` in the caller's transaction: ``status``, ``error``
    (cut to 2,000 characters), ``applied_at`` (``at`` for applied ones), one more
    ``apply_attempts``, ``run_id``. Returns the rows updated."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}")
    t, ids, n = webhook_events, list(event_ids), 0
    values = {"status": status, "error": error and error[:2000], "run_id": run_id,
              "apply_attempts": t.c.apply_attempts + 1, "applied_at": at if status == "applied" else None}
    for i in range(0, len(ids), 1000):
        n += conn.execute(t.update().where(t.c.event_id.in_(ids[i:i + 1000])).values(**values)).rowcount or 0
    return n


def counts(conn: sa.Connection) -> dict[str, int]:
    """Events in the log by status (every status present, 0 when none)."""
    t = webhook_events.c
    found = dict(conn.execute(sa.select(t.status, sa.func.count()).group_by(t.status)).all())
    return {s: int(found.get(s, 0)) for s in STATUSES}
