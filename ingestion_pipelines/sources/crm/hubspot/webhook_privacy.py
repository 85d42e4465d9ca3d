"""Privacy deletions (GDPR erasure) of HubSpot records: :func:`tombstones` are the rows the
applying run writes for a ``contact.privacyDeletion`` (or ``object.privacyDeletion``) event,
:func:`scrub_events` clears the object's events in ``webhook_events``, and
:func:`withhold_erased` keeps every later write (sync or webhook) from bringing the data back.

A privacy deletion is HubSpot's GDPR delete: the record and its personal data are purged
for good (GDPR Art. 17, the right to erasure; HubSpot's "permanently delete a contact" for
GDPR removes it from the list, the search *and* the ``archived=true`` listing, and it is
reported only through the webhook, ``crm/APIS.md`` §1). The warehouse keeps the row, as it
keeps every row (DESIGN.md §10: never delete a row), but as a tombstone:

* kept: ``id`` (the tombstone's key: it blocks the record from landing again and keeps
  ``hubspot_associations`` / ``merged_into`` references resolvable), ``created_at`` /
  ``updated_at`` / ``archived_at`` (the record's timestamps), ``merged_object_ids`` /
  ``merged_into`` (ids), the audit columns, and ``_deleted_at`` (its first mark, else the
  event's ``occurredAt``);
* set to NULL: every column that holds a property value (:data:`SCRUBBED`: for contacts
  ``firstname``, ``lastname``, ``email``, ``phone``, ``mobilephone``, ``company``, ``city``,
  ``state``, ``zip``, ``lifecyclestage``, ``hs_lead_status``, ``owner_id``, ``createdate``,
  ``lastmodifieddate``; every property column of the other objects alike) - all of them,
  not a chosen list of "personal" ones: a property linked to the id is personal data under
  GDPR, and a column added later is scrubbed without anyone remembering to list it;
* ``raw`` replaced by :func:`tombstone`: ``{"id": "<id>", "privacy_deleted": true}`` (the
  marker :func:`is_erased` reads).

In ``webhook_events`` the object's events keep their columns of ids, types and times;
``property_value`` becomes NULL and ``raw`` keeps only :data:`EVENT_KEYS` (ids and types, no
``propertyValue`` / ``sourceId``) plus ``"privacy_deleted": true``. A redelivery stored after the
erasure is scrubbed by the next run (the object's row is a tombstone by then).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterable, Mapping, Sequence

import sqlalchemy as sa

from ....engine.load import PendingRow
from . import webhook_events as ev
from .api_streams import OBJECTS
from .schema import TABLES

#: the key of the tombstone marker in ``raw``
MARKER = "privacy_deleted"
#: per stream, the columns a privacy deletion sets to NULL (every property column)
SCRUBBED: dict[str, tuple[str, ...]] = {name: tuple(c.name for c in spec.columns) for name, spec in OBJECTS.items()}
#: the keys of an event's ``raw`` kept by :func:`scrub_events` (ids, types and times only)
EVENT_KEYS = ("eventId", "subscriptionId", "portalId", "appId", "occurredAt", "subscriptionType", "attemptNumber",
              "objectId", "objectTypeId", "propertyName", "changeSource", "primaryObjectId", "mergedObjectIds",
              "newObjectId")
_CHUNK = 500


def tombstone(object_id: int) -> dict[str, Any]:
    """The ``raw`` of an erased record: ``{"id": "123", "privacy_deleted": True}`` (the id as
    HubSpot writes it, a string)."""
    return {"id": str(object_id), MARKER: True}


def is_erased(raw: Any) -> bool:
    """Whether a stored ``raw`` is a privacy tombstone."""
    return isinstance(raw, Mapping) and raw.get(MARKER) is True


def erased_ids(conn: sa.Connection, stream: str, ids: Iterable[int]) -> set[int]:
    """The ``ids`` whose row in the stream's table is a privacy tombstone (only marked rows
    are read: ``_deleted_at IS NOT NULL``)."""
    t, ids, out = TABLES[stream], list(ids), set()
    for i in range(0, len(ids), _CHUNK):
        q = sa.select(t.c.id, t.c.raw).where(t.c.id.in_(ids[i:i + _CHUNK]), t.c._deleted_at.is_not(None))
        out.update(r.id for r in conn.execute(q) if is_erased(r.raw))
    return out


def withhold_erased(engine: sa.Engine, stream: str, rows: Sequence[PendingRow]) -> tuple[list[PendingRow], int]:
    """``(rows without the erased ids, how many were withheld)``: what a sync may write. HubSpot
    never returns a purged record, so this is a guard against an ``archived=true`` listing
    (or a late read) that still shows it; an erased record must never land again."""
    if not rows:
        return list(rows), 0
    with engine.connect() as c:
        gone = erased_ids(c, stream, (r.values["id"] for r in rows))
    kept = [r for r in rows if r.values["id"] not in gone] if gone else list(rows)
    return kept, len(rows) - len(kept)


def tombstones(conn: sa.Connection, stream: str, at: Mapping[int, dt.datetime]) -> list[PendingRow]:
    """The rows that erase the objects ``{id: occurredAt of the privacy deletion}`` (module
    docstring); an object never landed before gets its tombstone inserted. A row marked
    already (a deletion before the privacy deletion) keeps its mark: its row has no
    ``_deleted_at`` value (write such rows in a batch of their own)."""
    t, ids = TABLES[stream], list(at)
    marked: dict[int, dt.datetime | None] = {}
    for i in range(0, len(ids), _CHUNK):
        marked.update(conn.execute(sa.select(t.c.id, t.c._deleted_at).where(t.c.id.in_(ids[i:i + _CHUNK]))).all())
    empty = dict.fromkeys(SCRUBBED[stream])
    return [PendingRow(n, {"id": oid, **empty, "raw": tombstone(oid),
                           **({} if marked.get(oid) else {"_deleted_at": at[oid]})}, {"id": oid})
            for n, oid in enumerate(ids, 1)]


def scrub_events(conn: sa.Connection, stream: str, ids: Iterable[int]) -> int:
    """Clear ``property_value`` and reduce ``raw`` to :data:`EVENT_KEYS` of every event of the
    objects ``ids`` in ``webhook_events`` (any status), in the caller's transaction; returns
    the events changed (one already scrubbed is left alone)."""
    t, ids, todo = ev.webhook_events, list(ids), []
    for i in range(0, len(ids), _CHUNK):
        q = sa.select(t.c.event_id, t.c.raw, t.c.property_value).where(
            t.c.object_type == stream, t.c.object_id.in_(ids[i:i + _CHUNK]))
        todo += [{"eid": r.event_id, "new_raw": {**{k: v for k, v in (r.raw or {}).items() if k in EVENT_KEYS},
                                                 MARKER: True}}
                 for r in conn.execute(q) if r.property_value is not None or not is_erased(r.raw)]
    if todo:
        conn.execute(t.update().where(t.c.event_id == sa.bindparam("eid"))
                     .values(property_value=None, raw=sa.bindparam("new_raw")), todo)
    return len(todo)
