"""Warehouse tables of the LeadConduit (ActiveProspect) API sync (DESIGN.md §10; names are
contracts): ``leadconduit_events`` is derived here from :data:`EVENT_FIELDS`;
``leadconduit_leads`` is the CSV profile's table (``csv_streams.LEADS``), which the API sync
fills too (``_source`` tells which method wrote a row).

``leadconduit_events``: one row per event of ``GET /events`` (``crm/APIS.md`` §2):

* ``id`` (the event's 24-hex ObjectId, text: the natural key and the sync's cursor);
* the typed columns people query (:data:`EVENT_FIELDS`): ``type`` (source | recipient |
  filter | feedback-received | feedback-sent | retry), ``outcome`` (success | failure |
  error), ``reason``, ``lead_id`` (``vars.lead.id``: the lead's own id, not the event id),
  ``flow_id`` / ``flow_name``, ``source_id`` / ``source_name``, ``account_name``,
  ``submission_timestamp`` (``vars.submission.timestamp``), ``start_timestamp`` /
  ``end_timestamp`` / ``expires_at`` (epoch milliseconds as timestamps with time zone),
  ``ms`` / ``total_ms`` (durations, milliseconds), ``module_id`` (source events), ``step_id``
  / ``step_key`` / ``cost`` / ``purchase_price`` / ``revenue`` (recipient events),
  ``recipient_event_id`` (feedback events);
* ``raw``: the event as the API sent it (JSONB on PostgreSQL); ``_ingested_at``, ``_source``
  (the API URL, no credentials), ``_run_id``, ``_deleted_at`` (always NULL: the API never
  says an event is gone).

An index on ``lead_id`` serves the derivation of leads (``api_streams.derive_leads``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from ....engine import validate as v
from ....engine.profiles import Field
from ....engine.api.streams import stream_table
from .csv_streams import LEADS

metadata = sa.MetaData()


def epoch_ms(value: Any, name: str) -> dt.datetime | None:
    """Epoch milliseconds (LeadConduit's ``start_timestamp`` ...) -> an aware UTC datetime;
    an ISO 8601 text is read too. Raises :class:`~...engine.validate.FieldError` otherwise."""
    if v.is_blank(value):
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value / 1000, dt.timezone.utc)
    if isinstance(value, str) and value.strip().isdigit():
        return dt.datetime.fromtimestamp(int(value) / 1000, dt.timezone.utc)
    return v.timestamp(value, name, dt.timezone.utc)


def _ms_time(name: str, path: str) -> Field:
    return Field(name, "datetime", aliases=(path,), parse=epoch_ms, description=f"{path} (epoch ms)")


#: the typed columns of ``leadconduit_events``; ``aliases`` are the record paths (dotted)
EVENT_FIELDS: tuple[Field, ...] = (
    Field("id", required=True, max_length=64, description="event id (24-hex ObjectId; ascending = creation order)"),
    Field("type", max_length=32, description="source, recipient, filter, feedback-received, feedback-sent, retry"),
    Field("outcome", max_length=16, description="success, failure or error"),
    Field("reason"),
    Field("lead_id", max_length=64, aliases=("vars.lead.id",), description="the lead's id (vars.lead.id)"),
    Field("flow_id", max_length=64, aliases=("vars.flow.id",)),
    Field("flow_name", aliases=("vars.flow.name",)),
    Field("source_id", max_length=64, aliases=("vars.source.id",)),
    Field("source_name", aliases=("vars.source.name",)),
    Field("account_name", aliases=("vars.account.name",)),
    Field("submission_timestamp", "datetime", aliases=("vars.submission.timestamp",)),
    _ms_time("start_timestamp", "start_timestamp"),
    _ms_time("end_timestamp", "end_timestamp"),
    _ms_time("expires_at", "expires_at"),
    Field("ms", "integer"),
    Field("total_ms", "integer"),
    Field("module_id"),
    Field("step_id", max_length=64),
    Field("step_key", aliases=("key",), description="the recipient step's key (its output sits under it)"),
    Field("cost", "decimal", places=4),
    Field("purchase_price", "decimal", places=4),
    Field("revenue", "decimal", places=4),
    Field("recipient_event_id", max_length=64),
)

leadconduit_events = stream_table("leadconduit_events", metadata, EVENT_FIELDS,
                                  comment="LeadConduit (ActiveProspect) events from GET /events")
sa.Index("ix_leadconduit_events_lead_id", leadconduit_events.c.lead_id)

#: the leads table (the CSV profile's): the API sync derives its rows from the events
leadconduit_leads: sa.Table = LEADS.target

#: every table the API sync writes, for ``warehouse.setup``
METADATAS: tuple[sa.MetaData, ...] = (metadata, LEADS.metadata)
