"""Warehouse tables of the HubSpot API sync (DESIGN.md §10; names are contracts), derived
from the specs of ``api_streams.py``: ``hubspot_contacts``, ``hubspot_companies``,
``hubspot_deals``, ``hubspot_appointments`` (object 0-421) and ``hubspot_associations``.
(``hubspot_zipcodes`` is the CSV profile's table: ``csv_streams.py``.)

Each object table:

* ``id`` (BIGINT, the natural key: HubSpot's record id as a number);
* the typed common columns of its :class:`~.api_streams.ObjectStream` (text as sent; emails
  normalised; phones in E.164; owner ids as integers; amounts as numeric; dates as
  timestamps with time zone; a value that does not parse leaves the column NULL and is a
  warning, the text stays in ``raw``);
* ``created_at`` / ``updated_at`` (the record's ``createdAt`` / ``updatedAt``),
  ``archived_at`` (``archivedAt`` of a soft-deleted record), ``merged_object_ids`` (the ids
  merged into this one, ``hs_merged_object_ids``), ``merged_into`` (set on a record merged
  away: the id that absorbed it);
* ``raw``: the record as HubSpot sent it (``id``, ``properties`` with every property read,
  ``createdAt``, ``updatedAt``, ``archived``...), JSON (JSONB on PostgreSQL);
* ``_ingested_at``, ``_source`` (the API URL of the object, no credentials), ``_run_id``,
  ``_deleted_at`` (NULL while the record exists: set from the ``archived=true`` listing or a
  merge; never a hard delete).

``hubspot_associations``: one row per pair ``(from_object, from_id, to_object, to_id)`` (the
natural key), with ``type_ids`` / ``labels`` (the association types, ``;``-separated),
``raw`` (the ``to`` entry), the audit columns and ``_deleted_at`` (set when a complete
answer for ``from_id`` no longer lists the pair).
"""

from __future__ import annotations

import sqlalchemy as sa

from ....engine.schema import natural_key_constraint, record_columns
from .api_streams import OBJECTS, ObjectStream

metadata = sa.MetaData()

TS = sa.DateTime(timezone=True)
_TYPES = {"text": sa.Text, "email": sa.Text, "phone": sa.Text, "timestamp": TS, "decimal": sa.Numeric(18, 2),
          "integer": sa.BigInteger}


def _object_table(spec: ObjectStream) -> sa.Table:
    return sa.Table(
        spec.table, metadata,
        sa.Column("id", sa.BigInteger, nullable=False, comment="HubSpot record id"),
        *[sa.Column(c.name, _TYPES[c.kind], nullable=True,
                    comment=c.comment or f"property {c.source}" + (f" ({c.kind})" if c.kind != "text" else ""))
          for c in spec.columns],
        sa.Column("created_at", TS, nullable=True, comment="createdAt"),
        sa.Column("updated_at", TS, nullable=True, comment="updatedAt"),
        sa.Column("archived_at", TS, nullable=True, comment="archivedAt of a soft-deleted record"),
        sa.Column("merged_object_ids", sa.Text, nullable=True, comment="hs_merged_object_ids: ids merged into this record"),
        sa.Column("merged_into", sa.BigInteger, nullable=True, comment="the record this one was merged into"),
        *record_columns(),
        natural_key_constraint(spec.table, "id"),
        comment=f"HubSpot {spec.name} (object {spec.object_type}) from the CRM API",
    )


TABLES: dict[str, sa.Table] = {name: _object_table(spec) for name, spec in OBJECTS.items()}
hubspot_contacts = TABLES["contacts"]
hubspot_companies = TABLES["companies"]
hubspot_deals = TABLES["deals"]
hubspot_appointments = TABLES["appointments"]

hubspot_associations = sa.Table(
    "hubspot_associations", metadata,
    sa.Column("from_object", sa.String(32), nullable=False, comment="contacts, companies, deals, appointments"),
    sa.Column("from_id", sa.BigInteger, nullable=False),
    sa.Column("to_object", sa.String(32), nullable=False),
    sa.Column("to_id", sa.BigInteger, nullable=False),
    sa.Column("type_ids", sa.Text, nullable=True, comment="association type ids, ';'-separated"),
    sa.Column("labels", sa.Text, nullable=True, comment="association labels, ';'-separated"),
    *record_columns(),
    natural_key_constraint("hubspot_associations", "from_object", "from_id", "to_object", "to_id"),
    comment="HubSpot associations (v4 batch read)",
)
