"""Warehouse tables of the MarketSharp API sync (DESIGN.md §10; names are contracts): one
``marketsharp_<stream_snake>`` per entity set (``marketsharp_contacts``, ...,
``marketsharp_inquiry_source_primaries``), derived from :data:`FIELDS` by the engine's
:func:`~ingestion_pipelines.engine.api.streams.stream_table`.

Each table: ``id`` (the natural key, as the service sent it: a GUID's text for the main sets,
an integer for the reference sets), the set's camelCase properties as snake-case typed
columns (``crm/APIS.md`` §3 field lists: GUIDs as text, ``Edm.Int32`` as integers, emails
normalised, phones in E.164, ``Edm.DateTime`` as the wall time the service wrote, read as UTC;
a value that does not parse leaves its column NULL and is a warning, the text stays in
``raw``), ``is_active`` / ``last_update``; ``raw`` (every property of the entry, JSON; JSONB on
PostgreSQL), ``_ingested_at``, ``_source`` (the set's URL), ``_run_id``, ``_deleted_at`` (set
from ``isActive=false``; never a hard delete).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ....engine.api.streams import stream_table
from ....engine.profiles import Field, csv_metadata
from .api_names import REFERENCE_SETS, SETS, table_name


def _f(name: str, type_: str = "text", prop: str = "", **kw: Any) -> Field:
    return Field(name, type_, aliases=(prop,) if prop else (), **kw)


_TAIL = (_f("is_active", "boolean", "isActive", description="isActive (false: soft-deleted at MarketSharp)"),
         _f("last_update", "datetime", "lastUpdate", description="lastUpdate (the incremental cursor)"))
_GUID_ID = _f("id", prop="id", required=True, description="MarketSharp id (GUID, as sent)")
_INT_ID = _f("id", "integer", "id", required=True, description="MarketSharp id")

#: stream -> its typed columns (``crm/APIS.md`` §3 field lists)
FIELDS: dict[str, tuple[Field, ...]] = {
    "contacts": (_GUID_ID, _f("company_id", "integer", "companyId"), _f("first_name", prop="firstName"),
                 _f("last_name", prop="lastName"), _f("email1", "email", "email1"), _f("email2", "email", "email2"),
                 _f("email3", "email", "email3"), _f("business_name", prop="businessName"), _f("source", prop="source"),
                 _f("creation_date", "datetime", "creationDate"), _f("primary_address_id", prop="primaryAddressId"),
                 _f("contact_phone_id", prop="contactPhoneId"), *_TAIL),
    "appointments": (_GUID_ID, _f("inquiry_id", prop="inquiryId"), _f("salesperson1_id", prop="salesperson1Id"),
                     _f("set_by_id", prop="setById"), _f("result_id", "integer", "resultId"),
                     _f("appointment_date", "datetime", "appointmentDate"), _f("set_date", "datetime", "setDate"),
                     _f("type", prop="type"), _f("result_reason", prop="resultReason"),
                     _f("created_date", "datetime", "createdDate"), *_TAIL),
    "jobs": (_GUID_ID, _f("contact_id", prop="contactId"), _f("inquiry_id", prop="inquiryId"),
             _f("number", prop="number"), _f("name", prop="name"), _f("status", prop="status"),
             _f("sale_date", "datetime", "saleDate"), _f("completed_date", "datetime", "completedDate"),
             _f("appointment_id", prop="appointmentId"), *_TAIL),
    "leads": (_GUID_ID, _f("contact_id", prop="contactId"), _f("first_name", prop="firstName"),
              _f("last_name", prop="lastName"), _f("email", "email", "email"), _f("phone", "phone", "phone"),
              _f("source", prop="source"), _f("status", prop="status"),
              _f("creation_date", "datetime", "creationDate"), *_TAIL),
    "inquiries": (_GUID_ID, _f("contact_id", prop="contactId"), _f("inquiry_date", "datetime", "inquiryDate"),
                  _f("status_id", "integer", "statusId"), _f("source_primary_id", "integer", "sourcePrimaryId"),
                  _f("source_secondary_id", "integer", "sourceSecondaryId"),
                  _f("product_interest", prop="productInterest"), *_TAIL),
    "activities": (_GUID_ID, _f("contact_id", prop="contactId"), _f("activity_type", prop="activityType"),
                   _f("result_id", "integer", "resultId"), _f("due_date", "datetime", "dueDate"),
                   _f("completed_date", "datetime", "completedDate"), _f("notes", prop="notes"), *_TAIL),
    "employees": (_GUID_ID, _f("first_name", prop="firstName"), _f("last_name", prop="lastName"),
                  _f("email", "email", "email"), _f("is_salesperson", "boolean", "isSalesperson"), *_TAIL),
    **{s: (_GUID_ID, _f("contact_id", prop="contactId"), _f("first_name", prop="firstName"),
           _f("last_name", prop="lastName"), _f("email", "email", "email"), *_TAIL) for s in ("customers", "prospects")},
    "activity-results": (_INT_ID, _f("name", prop="name"), *_TAIL),
    **{s: (_INT_ID, _f("name", prop="name"), _TAIL[0]) for s in REFERENCE_SETS},
    # fields unknown beyond these (crm/APIS.md names the sets only): the rest stays in raw
    "addresses": (_GUID_ID, _f("contact_id", prop="contactId"), _TAIL[0]),
    "contact-phones": (_GUID_ID, _f("contact_id", prop="contactId"), _TAIL[0]),
}


metadata = csv_metadata("marketsharp")
TABLES: dict[str, sa.Table] = {
    s: stream_table(table_name(s), metadata, FIELDS[s], comment=f"MarketSharp {SETS[s]} (OData entity set)") for s in SETS}
