"""MarketSharp's OData entity sets as data (DESIGN.md §10; ``crm/APIS.md`` §3,
``crm/SEED_SYSTEM.md`` §6), run by the engine's
:func:`~ingestion_pipelines.engine.api.streams.sync_stream` and read by the engine's OData
reader (:mod:`ingestion_pipelines.engine.api.odata`). A new set is one more entry of
``api_names.SETS`` and of ``schema.FIELDS``.

* ``GET <MARKETSHARP_BASE_URL>/<Set>``: an Atom feed (or JSON where the service answers
  JSON: :func:`~ingestion_pipelines.engine.api.odata.decode_page` reads both), ``$top`` records
  a page (5,000, as the peers), the next page by the service's ``<link rel="next">`` when it
  sends one (never to another origin), else by ``$skip`` (:class:`~ingestion_pipelines.engine.api.odata.ODataPaging`).
* Incremental sets (``lastUpdate``): ``$orderby=lastUpdate asc,id asc``; an incremental read
  starts at ``$filter=lastUpdate gt datetime'<watermark - 2 h>'`` (:data:`LOOKBACK`); pages come in cursor
  order (``ordered``), so each page commits its watermark and a killed read resumes there.
* Reference sets (integer ids, ``name``): ``$orderby=id asc``, read in full every run.
* ``isActive=false`` (MarketSharp's soft delete) sets ``_deleted_at`` to the record's
  ``lastUpdate`` (the sync's start for a set without it); ``true`` clears it. Nothing is deleted.
* Columns: ``schema.py``; ``raw`` keeps every property of the entry, datetimes as ISO 8601 text.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Mapping

from ....engine.api import Endpoint, Page
from ....engine.api.odata import ODataPaging, decode_page, json_ready, since_filter
from ....engine.api.streams import RestStream
from .api_names import INCREMENTAL_SETS, SETS, table_name
from .schema import FIELDS, TABLES

#: records per request (the peers' ``$top``)
PAGE_SIZE = 5000
CURSOR = "lastUpdate"
#: how far before the watermark an incremental read starts: ``lastUpdate`` is a wall time
#: without zone (likely the service's local time), so a DST fall-back repeats an hour; the
#: upsert makes the re-read harmless
LOOKBACK = dt.timedelta(hours=2)


def since(start: dt.datetime) -> dict[str, str]:
    """The incremental read: ``$filter=lastUpdate gt datetime'..'`` (UTC wall time)."""
    return since_filter(CURSOR, start)


def inactive(record: Mapping[str, Any]) -> bool:
    """MarketSharp's soft delete: ``isActive`` is false (positive evidence; a missing value is not)."""
    return record.get("isActive") is False


def json_records(page: Page) -> list[dict[str, Any]]:
    """The page's records with JSON values (``raw``; datetimes as ISO text)."""
    return [json_ready(r) for r in page.records]


def stream(name: str, page_size: int = PAGE_SIZE) -> RestStream:
    """The spec of one entity set (module docstring); ``page_size``: ``$top``."""
    incremental = name in INCREMENTAL_SETS
    order = f"{CURSOR} asc,id asc" if incremental else "id asc"
    endpoint = Endpoint(f"/{SETS[name]}", params={"$orderby": order}, records="", decode=decode_page,
                        paginator=ODataPaging(page_size, CURSOR if incremental else None))
    return RestStream(
        name, endpoint, TABLES[name], FIELDS[name], cursor=CURSOR if incremental else None, ordered=incremental,
        since=since if incremental else None, deleted=inactive, records=json_records, lookback=LOOKBACK,
        description=f"MarketSharp {SETS[name]} (OData) into {table_name(name)}"
                    + ("; incremental by lastUpdate." if incremental else "; read in full every run."))


def streams(page_size: int = PAGE_SIZE) -> tuple[RestStream, ...]:
    """Every set's spec, in ``api_names.NAMES.streams`` order."""
    return tuple(stream(s, page_size) for s in SETS)


STREAMS = streams()
