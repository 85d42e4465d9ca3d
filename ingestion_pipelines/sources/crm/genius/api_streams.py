"""The Genius REST API's streams as data (DESIGN.md §10; ``crm/SEED_SYSTEM.md`` §3): one
:class:`~ingestion_pipelines.engine.api.streams.RestStream` per endpoint, written by the
engine's runner into the SAME ``genius_*`` tables the database sync fills (``schema.py``).

:data:`STREAMS` (parents first) maps each endpoint to its table. A record's fields are the
Genius table's columns under the API's names (SEED_SYSTEM.md §3): a foreign key is named after
the object (``division`` -> ``division_id``, ``add_user`` -> ``add_user_id``), a nested lookup by
its ``id`` (``group.id`` -> ``group_id``), a marketing source's ``name`` is its ``label``; every
other column has the API field of its own name. :func:`fields` derives each stream's typed
fields from its table's columns (integer ids stay integers; text as sent, ``""`` kept;
``DATETIME`` the naive time as sent, or the UTC wall time of one with an offset; ``DATE``,
``TIME``, booleans), so a record the API serves lands with the same key and the same typed
values as the row the database sync reads. ``raw`` keeps the record as
the API sent it; ``_source`` is the endpoint's URL (the database sync's is ``mysql://...``), so
``_source`` tells which method wrote a row last, and the database sync's full scan never marks
an API-written row deleted.

Paging is Django REST framework's (``limit``, absolute ``next`` URL until null; a next link to
another origin is refused by the engine's :class:`NextLink`). Incremental reads ask for
``updated_since`` = the watermark minus the lookback (:func:`updated_since`). DRF pages come in id order, not in ``updated_at`` order (ordering a filtered list by
``updated_at`` under offset paging skips records that are updated while a sync pages), so a
read commits its watermark once it completes (``ordered=False``: the engine's
``full_watermark``: the largest ``updated_at`` read, never past the read's start); a killed
read leaves the old one and the next run reads it again. Naive API times are read as UTC
(their zone is not known): where the API's clock runs behind UTC the "never past the start"
bound does not bite, so a record changed behind the reader while a read runs is found again
only by the lookback — :data:`LOOKBACK` (an hour) covers reads of up to an hour, at the price
of re-reading the last hour's changes (unchanged: not written). The
API has no deletions to show (``is_active`` / ``is_inactive`` are attributes, kept as columns):
a record it serves exists, so its ``_deleted_at`` is cleared.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Mapping

import sqlalchemy as sa

from ....engine import validate as v
from ....engine.api import Endpoint, NextLink
from ....engine.api.streams import RestStream
from ....engine.profiles import Field
from ....engine.sql_sync import BOOKKEEPING
from . import schema as s

#: records per page asked for (the seed asked 100, ``GENIUS_SYNC_BATCH_SIZE``); DRF caps ``limit``
#: at its ``max_limit`` and its next links go on from there, so asking more costs nothing. Measured
#: against the stand-in into PostgreSQL (20,000 prospects): 2,000 records/s at 100 a page, 7,100 at 500.
PAGE_SIZE = 500
#: how far an incremental read starts before the watermark (module docstring)
LOOKBACK = dt.timedelta(hours=1)

#: field type of a warehouse column type (the first match; ``BigInteger`` is an ``Integer``)
_TYPES = ((sa.Boolean, "boolean"), (sa.DateTime, "datetime"), (sa.Date, "date"), (sa.Time, "time"),
          (sa.Integer, "integer"), (sa.Numeric, "decimal"))


def text_as_sent(value: Any, name: str) -> str | None:
    """A text column's value as the API sent it: ``""`` and surrounding spaces kept (the
    database sync keeps them too; the CSV rule "blank is NULL" is not an API's), a number as
    its text."""
    return value if value is None or isinstance(value, str) else str(value)


def utc_wall_time(value: Any, name: str) -> dt.datetime | None:
    """A ``DATETIME`` column's value: a naive time as sent (``USE_TZ=False``: the wall time the
    database holds); a time with an offset (``USE_TZ=True``: the database holds UTC) as its UTC
    wall time — in both cases what the database sync reads. Raises
    :class:`~ingestion_pipelines.engine.validate.FieldError` (a cell warning) for a non-time."""
    t = v.timestamp(value, name, dt.timezone.utc)
    return None if t is None else t.astimezone(dt.timezone.utc).replace(tzinfo=None)


def fields(table: sa.Table, renames: Mapping[str, str] | None = None) -> tuple[Field, ...]:
    """Typed fields of ``table``'s data columns (bookkeeping columns left out), each read from
    the record path ``renames[column]`` or the column's own name; text as sent
    (:func:`text_as_sent`), datetimes as :func:`utc_wall_time`. Raises ``KeyError`` for a
    rename of a column the table lacks."""
    renames = dict(renames or {})
    for c in renames:
        table.c[c]  # noqa: B018 - a misspelt column fails at import
    out = []
    for col in table.columns:
        if col.name in BOOKKEEPING:
            continue
        kind = next((k for t, k in _TYPES if isinstance(col.type, t)), "text")
        path = renames.get(col.name)
        out.append(Field(col.name, kind, required=col.name == "id", aliases=(path,) if path else (),
                         parse=_PARSE.get(kind)))
    return tuple(out)


_PARSE = {"text": text_as_sent, "datetime": utc_wall_time}


def updated_since(start: dt.datetime) -> dict[str, str]:
    """``{"updated_since": "2025-06-01T11:50:00+00:00"}``: ``start`` (aware) in UTC with its offset
    spelled out, as the seed sent it (the ISO form of an aware Django datetime): a server whose
    times carry offsets reads the instant; a naive one is read as UTC (crm/SEED_SYSTEM.md §3)."""
    return {"updated_since": start.astimezone(dt.timezone.utc).isoformat()}


def _stream(name: str, path: str, table: sa.Table, renames: Mapping[str, str], what: str,
            deps: tuple[str, ...] = ()) -> RestStream:
    return RestStream(
        name, Endpoint(path, params={"limit": PAGE_SIZE}, records="results", paginator=NextLink("next")),
        table, fields(table, renames), cursor="updated_at", ordered=False, since=updated_since, lookback=LOOKBACK,
        deleted=lambda record: False, deps=deps,
        description=f"Genius {what} from the REST API ({path}) into {table.name}, incremental by updated_since; "
                    "the same rows (same ids) the database sync writes, `_source` naming the API.")


STREAMS: tuple[RestStream, ...] = (
    _stream("divisions", "/api/divisions/division/", s.genius_divisions,
            {"group_id": "group.id", "region_id": "region.id"}, "divisions"),
    _stream("users", "/api/users/users/", s.genius_users,
            {"division_id": "division", "title_id": "title", "manager_user_id": "manager", "add_user_id": "add_user",
             "inactive_reason_id": "inactive_reason", "primary_user_id": "primary_user"}, "users", ("divisions",)),
    _stream("services", "/api/services/service/", s.genius_services, {}, "services"),
    _stream("marketing-sources", "/api/marketing_sources/", s.genius_marketing_sources,
            {"label": "name", "type_id": "type", "add_user_id": "add_user"}, "marketing sources"),
    _stream("prospects", "/api/customers/prospect/", s.genius_prospects,
            {"division_id": "division", "add_user_id": "add_user"}, "prospects", ("divisions", "users")),
    _stream("appointments", "/api/appointments/appointment/", s.genius_appointments,
            {"prospect_id": "prospect", "prospect_source_id": "prospect_source", "user_id": "user", "type_id": "type",
             "add_user_id": "add_user", "confirm_user_id": "confirm_user", "complete_outcome_id": "complete_outcome",
             "complete_user_id": "complete_user"}, "appointments", ("prospects", "users")),
)

#: stream name -> its spec
BY_NAME: dict[str, RestStream] = {st.name: st for st in STREAMS}
