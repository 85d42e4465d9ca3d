"""LeadConduit's (ActiveProspect's) API streams as data (DESIGN.md §10; ``crm/APIS.md`` §2):
:data:`EVENTS` reads ``GET /events`` into ``leadconduit_events`` (the engine's runner), and
:data:`LEADS_STREAM` is ``leadconduit_leads``, derived from the stored events by
:func:`derive_leads` (run by ``api_sync.sync_leads``, downstream of the events).

``GET /events`` answers a bare JSON array; ``sort=asc&limit=1000`` and the last event's id as
the exclusive ``after_id`` walk every event in creation order (ObjectIds increase; the API's
default order is *desc*, and ``start_timestamp`` is no cursor: ties come back in random
order). So the watermark is the id of the last committed event (compared as text: fixed-width
hex, so text order is id order): an incremental sync asks
``after_id=<watermark>``, a ``--since`` sync ``start=<time>`` (inclusive), a full one neither;
paging ends on an empty page (a short page is not the end).

Leads (``crm/APIS.md`` §2 "Deriving leads from events"): a lead is its ``source`` event, keyed
by ``vars.lead.id`` (never the event id: the peer DW's bug). Its columns are the CSV profile's
(``csv_streams.LEADS``), filled through the same converter as a CSV row: ``vars.lead.*`` keys
are matched to the profile's fields as headers are (``phone_1``, ``postal_code`` ...; a rich
value ``{"raw", "normal"}`` gives its ``normal``, else ``raw``), plus ``submission_timestamp`` =
``vars.submission.timestamp`` and ``outcome`` / ``reason``. The lead's ``outcome`` and
``reason`` are those of its latest ``source`` or ``retry`` event (a retry reprocesses the
lead; recipient, filter and feedback events are steps, not the lead's outcome). Each lead a
batch of new events touches is derived again from *all* its stored events, so a re-read of an old event
(``--since``, ``--full --limit``) can never regress a later outcome, and a later event never
creates a lead whose source event we do not have. Columns the API does not send (a CSV-only
``salesrabbit_rep_name``) are left as they are; ``raw`` is the source event as sent.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Mapping, Sequence

import sqlalchemy as sa

from ....engine.api import AfterId, Endpoint
from ....engine.api.streams import RestStream
from ....engine.load import PendingRow
from ....engine.outcomes import CellWarning, Outcome, RowOutcome
from ....engine.profiles import RowConverter, compact_header, map_headers
from .csv_streams import LEADS
from .schema import EVENT_FIELDS, leadconduit_events

#: events per page: the API's maximum (``limit`` 1..1000)
PAGE = 1000
#: event types whose outcome is the lead's overall outcome
LEAD_OUTCOME_TYPES = ("source", "retry")

EVENTS_ENDPOINT = Endpoint("/events", params={"sort": "asc", "limit": PAGE}, records="",
                           paginator=AfterId("after_id", "id"))


def _iso(t: dt.datetime) -> str:
    """``start=`` as the API reads it: ISO 8601 in UTC, milliseconds, ``Z``."""
    t = t.astimezone(dt.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


EVENTS = RestStream(
    "events", EVENTS_ENDPOINT, leadconduit_events, EVENT_FIELDS, key=("id",), cursor="id", cursor_type="id",
    cursor_order="text", ordered=True, since=lambda t: {"start": _iso(t)}, after=lambda cursor: {"after_id": cursor},
    lookback=dt.timedelta(0),
    description="LeadConduit (ActiveProspect) events: every source, recipient, filter, feedback and retry event, "
                "ascending by id (GET /events).")

#: the ``leads`` stream: derived from the stored events by ``api_sync.sync_leads`` (not read
#: from the API itself); this spec gives the factory its name, table and description
LEADS_STREAM = RestStream(
    "leads", EVENTS_ENDPOINT, LEADS.target, (LEADS.field("id"),), key=("id",), deps=("events",),
    description="LeadConduit leads derived from the stored events (a lead = its source event, id vars.lead.id; "
                "outcome = its latest source/retry event), in the table the CSV import fills.")


# -- leads derived from events -------------------------------------------------------------

def _plain(value: Any) -> Any:
    """A ``vars.lead`` value as a cell: a rich value's ``normal`` (else ``raw``), else itself."""
    if isinstance(value, Mapping) and ("normal" in value or "raw" in value):
        got = value.get("normal")
        return got if got not in (None, "") else value.get("raw")
    return value


def lead_cells(source_event: Mapping[str, Any], outcome: str | None, reason: str | None) -> dict[str, Any]:
    """The "CSV row" of a lead: ``{header: cell}`` from its source event's ``vars`` and its
    current ``outcome`` / ``reason``. Keys that would map to the profile's key other than
    ``vars.lead.id`` (``lead_id``, ``_id`` ...) are dropped: the id is ``vars.lead.id``."""
    vars_ = source_event.get("vars") or {}
    lead = vars_.get("lead") or {}
    lookup = LEADS.header_lookup()
    cells = {k: _plain(x) for k, x in lead.items()
             if k != "id" and lookup.get(compact_header(k), ("",))[0] not in ("id", "outcome", "reason")}
    cells["id"] = lead.get("id")
    submitted = (vars_.get("submission") or {}).get("timestamp")
    if submitted is not None:
        cells["submission_timestamp"] = submitted
    cells["outcome"], cells["reason"] = outcome, reason
    return cells


def _lead_events(conn: sa.Connection, lead_ids: Sequence[str]) -> dict[str, tuple[Any, str | None, str | None]]:
    """lead id -> (its latest source event's ``raw``, current outcome, reason) from the stored
    events (ascending by id: the latest source/retry event decides the outcome)."""
    ev = leadconduit_events.c
    out: dict[str, list[Any]] = {}
    for i in range(0, len(lead_ids), 500):
        q = (sa.select(ev.lead_id, ev.type, ev.outcome, ev.reason, ev.raw)
             .where(ev.lead_id.in_(list(lead_ids[i:i + 500])), ev.type.in_(LEAD_OUTCOME_TYPES)).order_by(ev.id))
        for lid, type_, outcome, reason, raw in conn.execute(q):
            got = out.setdefault(lid, [None, None, None])
            if type_ == "source":
                got[0] = raw
            got[1], got[2] = outcome, reason
    return {lid: (raw, o, r) for lid, (raw, o, r) in out.items() if raw is not None}


def derive_leads(conn: sa.Connection, lead_ids: Sequence[str]) -> tuple[list[PendingRow], list[RowOutcome],
                                                                     list[CellWarning]]:
    """The rows of the leads ``lead_ids``, each derived from all its stored events on
    ``conn`` (module docstring): ``(rows, failed, warnings)`` — ``failed``: leads whose cells
    the profile refuses (e.g. an id over its length), ``warnings``: optional cells that do not
    parse (NULL in the row, as for a CSV). A lead without a stored source event yields nothing."""
    ids = sorted({i for i in lead_ids if i})
    if not ids:
        return [], [], []
    groups: dict[tuple[str, ...], list[tuple[int, dict[str, Any], Any]]] = {}
    for n, (lid, (raw, outcome, reason)) in enumerate(sorted(_lead_events(conn, ids).items()), 1):
        src = raw if isinstance(raw, Mapping) else json.loads(raw)
        cells = lead_cells(src, outcome, reason)
        groups.setdefault(tuple(cells), []).append((n, cells, src))
    rows: list[PendingRow] = []
    failed: list[RowOutcome] = []
    warnings: list[CellWarning] = []
    for headers, leads in groups.items():
        conv = RowConverter(LEADS, map_headers(headers, LEADS))
        got = conv.convert_batch([(n, [c[h] for h in headers], src) for n, c, src in leads])
        srcs = {n: src for n, _c, src in leads}
        rows += [PendingRow(n, dict(zip(got.names, vals)), srcs[n]) for n, vals in zip(got.rows, got.values())]
        failed += [RowOutcome(n, Outcome.FAILED, error=str(err), record=srcs[n]) for n, _cells, err in got.failed]
        warnings += got.warnings
    return sorted(rows, key=lambda r: r.row), failed, warnings
