"""HubSpot's API streams as data (DESIGN.md §10; ``crm/APIS.md`` §1): the endpoints, the
objects and their typed columns, the associations. ``schema.py`` derives the tables from
:data:`OBJECTS`; ``api_sync.py`` walks the endpoints; ``api_definitions.py`` builds one asset
per stream. A new object is one more :class:`ObjectStream`.

Endpoints (``crm/APIS.md`` §1):

* :data:`LIST` — ``GET /crm/v3/objects/{object}``, 100 per page, opaque ``after`` in
  ``paging.next.after``; with ``archived=true`` the soft-deleted records (:data:`ARCHIVED`).
* :data:`SEARCH` — ``POST /crm/v3/objects/{object}/search``, up to 200 per page, numeric
  ``after`` in the body, ``total``; its own budget (5 per second); 10,000 results per query.
* :data:`PROPERTIES` — ``GET /crm/v3/properties/{object}``: which properties to read.
* :data:`ASSOCIATIONS` — ``POST /crm/v4/associations/{from}/{to}/batch/read``, at most 1,000
  inputs, each paging on its own; 207 = partial (the ``errors`` name the inputs).
"""

from __future__ import annotations

from dataclasses import dataclass

from ....engine.api import Endpoint, JsonCursor

LIST = Endpoint("/crm/v3/objects/{object}", params={"limit": 100}, paginator=JsonCursor("paging.next.after", "after"))
ARCHIVED = Endpoint("/crm/v3/objects/{object}", params={"limit": 100, "archived": "true"},
                    paginator=JsonCursor("paging.next.after", "after"))
SEARCH = Endpoint("/crm/v3/objects/{object}/search", method="POST", json={"limit": 200},
                  paginator=JsonCursor("paging.next.after", "after", in_body=True), budget="search")
PROPERTIES = Endpoint("/crm/v3/properties/{object}")
ASSOCIATIONS = Endpoint("/crm/v4/associations/{from_object}/{to_object}/batch/read", method="POST",
                        ok=(200, 207))

#: the search API's cap: paging past this many results of one query answers 400
SEARCH_CAP = 10_000
#: the search API's page size maximum
SEARCH_PAGE = 200
#: longest URL we send (the API answers 414 above ~16,000 characters; Airbyte splits at 15,000)
URL_LIMIT = 15_000
#: association inputs per batch read (the API's maximum since 2025-02-10)
ASSOCIATION_BATCH = 1000


@dataclass(frozen=True)
class Column:
    """A typed column of an object's table: ``name``, the HubSpot ``prop`` it comes from
    (default: the same name), ``kind``: ``text`` | ``email`` | ``phone`` (E.164) | ``timestamp``
    | ``decimal`` | ``integer``; ``comment`` (the UI's column description)."""

    name: str
    kind: str = "text"
    prop: str = ""
    comment: str = ""

    @property
    def source(self) -> str:
        return self.prop or self.name


def _c(name: str, kind: str = "text", prop: str = "", comment: str = "") -> Column:
    return Column(name, kind, prop, comment)


OWNER = _c("owner_id", "integer", "hubspot_owner_id", "HubSpot owner (user) id")


@dataclass(frozen=True)
class ObjectStream:
    """One CRM object: ``name`` (stream, asset, command: ``contacts``), ``object_type`` (the
    API's: ``contacts`` or ``0-421``), ``table``, ``lastmodified`` (the search cursor
    property), ``columns`` (typed, beside ``raw``), ``properties`` (read only these; empty:
    every property ``/crm/v3/properties`` lists)."""

    name: str
    object_type: str
    table: str
    lastmodified: str
    columns: tuple[Column, ...]
    properties: tuple[str, ...] = ()


OBJECTS: dict[str, ObjectStream] = {s.name: s for s in (
    ObjectStream("contacts", "contacts", "hubspot_contacts", "lastmodifieddate", (
        _c("firstname"), _c("lastname"), _c("email", "email"), _c("phone", "phone", comment="E.164"),
        _c("mobilephone", "phone", comment="E.164"), _c("company"), _c("city"), _c("state"), _c("zip"),
        _c("lifecyclestage"), _c("hs_lead_status"), OWNER,
        _c("createdate", "timestamp"), _c("lastmodifieddate", "timestamp"))),
    ObjectStream("companies", "companies", "hubspot_companies", "hs_lastmodifieddate", (
        _c("name"), _c("domain"), _c("phone", "phone", comment="E.164"), _c("city"), _c("state"), _c("industry"),
        _c("lifecyclestage"), _c("annualrevenue", "decimal"), OWNER,
        _c("createdate", "timestamp"), _c("hs_lastmodifieddate", "timestamp"))),
    ObjectStream("deals", "deals", "hubspot_deals", "hs_lastmodifieddate", (
        _c("dealname"), _c("amount", "decimal"), _c("dealstage"), _c("pipeline"), _c("dealtype"),
        _c("closedate", "timestamp"), OWNER, _c("createdate", "timestamp"), _c("hs_lastmodifieddate", "timestamp"))),
    ObjectStream("appointments", "0-421", "hubspot_appointments", "hs_lastmodifieddate", (
        _c("hs_appointment_name"), _c("hs_appointment_start", "timestamp"), _c("hs_appointment_end", "timestamp"),
        _c("hs_appointment_status"), _c("first_name"), _c("last_name"), _c("email", "email"),
        _c("phone", "phone", "phone1", "E.164 (property phone1)"), OWNER,
        _c("createdate", "timestamp", "hs_createdate"), _c("hs_lastmodifieddate", "timestamp"))),
)}


@dataclass(frozen=True)
class AssociationStream:
    """Associations from one object to another, read for every live ``from_stream`` record."""

    from_stream: str
    to_stream: str

    @property
    def label(self) -> str:
        return f"{self.from_stream}->{self.to_stream}"


#: contacts<->companies, deals<->contacts and companies, appointments->contacts (crm/APIS.md §1)
ASSOCIATION_STREAMS: tuple[AssociationStream, ...] = (
    AssociationStream("contacts", "companies"), AssociationStream("deals", "contacts"),
    AssociationStream("deals", "companies"), AssociationStream("appointments", "contacts"),
)

#: every stream's name, in the order ``hubspot_all`` runs them
STREAMS = (*OBJECTS, "associations")
