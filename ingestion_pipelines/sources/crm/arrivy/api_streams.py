"""Arrivy's API streams as data (DESIGN.md §10; ``crm/APIS.md`` §5, ``crm/SEED_SYSTEM.md`` §7):
``tasks``, ``bookings``, ``entities`` and ``groups``, run by the engine's
:func:`~ingestion_pipelines.engine.api.streams.sync_stream`. A new stream is one more
:class:`~ingestion_pipelines.engine.api.streams.RestStream` here.

* ``GET <ARRIVY_API_URL>/<stream>?page=1,2,..``: the page size is the API's (~500; ``page_size``
  is ignored), so only an empty page ends paging (:class:`~ingestion_pipelines.engine.api.PageNumber`);
  tasks are asked ``order_by=CREATED`` (a stable order: a changed task keeps its place).
* Answers are a bare list, or a dict with the list in ``results`` (bookings): the endpoint's
  ``records`` path; an answer that holds neither fails the stream.
* Incremental: ``updated_after=%Y-%m-%dT%H:%M:%SZ`` (the start floored to the second; the
  stand-in reads ``last_sync`` for tasks too, the seed's name); cursor ``updated``. Pages come
  in creation order, not update order, so the watermark is committed when a read completes.
* ``bookings``, ``entities`` and ``groups`` land in ``arrivy_bookings``, ``arrivy_entities`` and
  ``arrivy_groups``, derived from their fields here (:func:`~ingestion_pipelines.engine.api.streams.stream_table`:
  the typed columns, ``raw``, the audit columns, ``_deleted_at``; key ``id``), in the same
  ``MetaData`` as ``arrivy_tasks``.
* ``tasks`` fill ``arrivy_tasks``, the table of the CSV export (``csv_streams.TASKS``): the same
  ids and typed columns (the API's ``customer_*`` keys, ``details`` as ``instructions``,
  ``start_datetime_timezone`` as ``timezone``, ``entity_ids`` as ``employee_ids``); columns only
  the export has (group, template name, ratings, status times) are left as the CSV wrote them.
  ``_source`` is the API URL (the CSV's rows carry their file's URI).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ....engine.api import Endpoint, PageNumber
from ....engine.api.streams import RestStream, stream_table
from ....engine.profiles import Field, csv_metadata
from .csv_streams import TASKS


def since(start: dt.datetime) -> dict[str, str]:
    """The incremental parameter: ``updated_after`` in UTC, to the second (floored: never later)."""
    return {"updated_after": start.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}


def _ids_text(value: Any, name: str) -> str | None:
    """A list of ids (``entity_ids``) as the export's comma-separated text."""
    if value is None or value == []:
        return None
    return ",".join(str(x) for x in value) if isinstance(value, list) else str(value)


def _api(path: str, records: str = "", **params: Any) -> Endpoint:
    return Endpoint(path, params=params, records=records, paginator=PageNumber("page", 1))


TASK_FIELDS = (
    Field("id", "integer", required=True),
    Field("title"),
    Field("status"),
    Field("timezone", aliases=("start_datetime_timezone",)),
    Field("instructions", aliases=("details",)),
    Field("external_id"),
    Field("created_on", "datetime", aliases=("created",)),
    Field("booking_id", "integer"),
    Field("employee_ids", aliases=("entity_ids",), parse=_ids_text),
    Field("customer_id", "integer"),
    Field("first_name", aliases=("customer_first_name",)),
    Field("last_name", aliases=("customer_last_name",)),
    Field("email", "email", aliases=("customer_email",)),
    Field("mobile_number", "phone", aliases=("customer_mobile_number", "customer_phone")),
    Field("address", aliases=("customer_address_line_1", "customer_address")),
    Field("city", aliases=("customer_city",)),
    Field("state", "us_state", aliases=("customer_state",)),
    Field("zipcode", "zip", aliases=("customer_zipcode",)),
    Field("country", aliases=("customer_country",)),
    Field("latitude", "decimal", aliases=("customer_exact_location.lat",)),
    Field("longitude", "decimal", aliases=("customer_exact_location.lng",)),
    Field("start_at", "datetime", aliases=("start_datetime",)),
    Field("start_timezone", aliases=("start_datetime_timezone",)),
    Field("end_at", "datetime", aliases=("end_datetime",)),
    Field("end_timezone", aliases=("end_datetime_timezone",)),
    Field("duration", "integer"),
    Field("unscheduled", "boolean"),
    Field("task_extra_fields", "json", aliases=("extra_fields",)),
)

BOOKING_FIELDS = (
    Field("id", "integer", required=True, description="Arrivy booking id"),
    Field("title"),
    Field("status"),
    Field("start_at", "datetime", aliases=("start_datetime",)),
    Field("end_at", "datetime", aliases=("end_datetime",)),
    Field("customer_id", "integer"),
    Field("customer_name"),
    Field("customer_email", "email"),
    Field("customer_phone", "phone", description="E.164"),
    Field("task_ids", "json"),
    Field("extra_fields", "json"),
    Field("created_at", "datetime", aliases=("created",)),
    Field("updated_at", "datetime", aliases=("updated",)),
)

ENTITY_FIELDS = (
    Field("id", "integer", required=True, description="Arrivy entity (crew member, employee, vehicle) id"),
    Field("name"),
    Field("type"),
    Field("email", "email"),
    Field("phone", "phone", description="E.164"),
    Field("group_id", "integer"),
    Field("is_active", "boolean"),
    Field("external_id"),
    Field("extra_fields", "json"),
    Field("created_at", "datetime", aliases=("created",)),
    Field("updated_at", "datetime", aliases=("updated",)),
)

GROUP_FIELDS = (
    Field("id", "integer", required=True, description="Arrivy group (office, team) id"),
    Field("name"),
    Field("email", "email"),
    Field("phone", "phone", description="E.164"),
    Field("address", aliases=("address_line_1", "address")),
    Field("city"),
    Field("state", "us_state"),
    Field("zipcode", "zip"),
    Field("country"),
    Field("timezone"),
    Field("url_safe_id"),
    Field("created_at", "datetime", aliases=("created",)),
    Field("updated_at", "datetime", aliases=("updated",)),
)

metadata = csv_metadata("arrivy")  # arrivy_tasks' MetaData: every Arrivy table created together
arrivy_tasks = TASKS.target
arrivy_bookings = stream_table("arrivy_bookings", metadata, BOOKING_FIELDS, comment="Arrivy bookings from the API")
arrivy_entities = stream_table("arrivy_entities", metadata, ENTITY_FIELDS, comment="Arrivy entities from the API")
arrivy_groups = stream_table("arrivy_groups", metadata, GROUP_FIELDS, comment="Arrivy groups from the API")

STREAMS: tuple[RestStream, ...] = (
    RestStream("tasks", _api("/tasks", order_by="CREATED"), arrivy_tasks, TASK_FIELDS, cursor="updated", since=since,
               description="Arrivy tasks from the API (GET /tasks, incremental by updated_after) into arrivy_tasks, "
                           "the table the CSV export fills."),
    RestStream("bookings", _api("/bookings", "results"), arrivy_bookings, BOOKING_FIELDS, cursor="updated", since=since,
               description="Arrivy bookings from the API (GET /bookings, incremental by updated_after)."),
    RestStream("entities", _api("/entities"), arrivy_entities, ENTITY_FIELDS, cursor="updated", since=since,
               description="Arrivy entities (crew, employees, vehicles) from the API (GET /entities)."),
    RestStream("groups", _api("/groups"), arrivy_groups, GROUP_FIELDS, cursor="updated", since=since,
               description="Arrivy groups (offices, teams) from the API (GET /groups)."),
)
