"""Warehouse tables of Genius CRM (DESIGN.md §10; names are contracts): ``genius_<table>``.

One table per Genius MySQL source table (``crm/SEED_SYSTEM.md`` §2), named after it in the
plural: ``division_group`` -> ``genius_division_groups``, ``user_data`` -> ``genius_users``,
``appointment_to_service`` -> ``genius_appointment_services``, ... (:data:`TABLES` maps each
source table name to its warehouse table). The database sync (``db_streams.py``) and the CSV
profiles (``csv_streams.py``) both write these tables.

Columns:

* the source's own columns, named as the source names them, typed as the source types them
  (integer ids stay integers, ``DATETIME`` -> timestamp without time zone as the source wrote
  it, ``DATE`` -> date, ``TIME`` -> time, ``DECIMAL`` -> numeric, ``tinyint(1)`` -> boolean);
* the natural key is the source record's own id in a column named ``id`` (``user_data.user_id``
  and ``lead.lead_id`` land in ``id``); the link table ``genius_appointment_services`` keys on
  its pair ``(appointment_id, service_id)``;
* ``raw``: the record as the source sent it (JSON; JSONB on PostgreSQL), dates as ISO 8601
  text, decimals as text, zero dates as the source's own text (``0000-00-00``);
* ``_ingested_at``, ``_source`` (``mysql://host/db/table`` without credentials, or the CSV's
  URI), ``_run_id``, and ``_deleted_at`` (NULL while the record exists at the source; set when a
  completed full scan no longer finds the id; never a hard delete).

No foreign key constraint is declared: an appointment whose prospect is missing still lands
(the asset checks report orphans). Foreign keys are listed in ``db_streams.py``.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from ....engine.schema import audit_columns, natural_key_constraint

metadata = sa.MetaData()

#: JSON everywhere, JSONB on PostgreSQL (the upsert compares old and new ``raw``).
JSON = sa.JSON().with_variant(JSONB(), "postgresql")

ID = sa.BigInteger
TEXT = sa.Text
BOOL = sa.Boolean
DATETIME = sa.DateTime(timezone=False)
DATE = sa.Date
TIME = sa.Time
MONEY = sa.Numeric(14, 2)

#: source table name -> warehouse table (filled by :func:`_table`).
TABLES: dict[str, sa.Table] = {}


def _table(source: str, name: str, *columns: tuple[str, object], key: tuple[str, ...] = ("id",)) -> sa.Table:
    """The warehouse table ``name`` of Genius source table ``source``: ``columns`` as
    ``(name, SQLAlchemy type)`` pairs (the key columns first, NOT NULL), then ``raw``, the
    audit columns and ``_deleted_at``; natural key ``key``."""
    cols = [sa.Column(c, t, nullable=c not in key) for c, t in columns]
    t = sa.Table(
        name, metadata, *cols,
        sa.Column("raw", JSON, nullable=True),
        *audit_columns(),
        sa.Column("_deleted_at", sa.DateTime(timezone=True), nullable=True),
        natural_key_constraint(name, *key),
    )
    TABLES[source] = t
    return t


genius_division_groups = _table(
    "division_group", "genius_division_groups",
    ("id", ID), ("group_label", TEXT), ("region", TEXT), ("default_time_zone_name", TEXT), ("is_active", BOOL),
    ("hub_account_id", ID), ("created_at", DATETIME), ("updated_at", DATETIME))

genius_divisions = _table(
    "division", "genius_divisions",
    ("id", ID), ("group_id", ID), ("region_id", ID), ("label", TEXT), ("abbreviation", TEXT), ("is_utility", BOOL),
    ("is_corp", BOOL), ("is_omniscient", BOOL), ("is_inactive", BOOL), ("created_at", DATETIME),
    ("updated_at", DATETIME))

genius_user_titles = _table(
    "user_title", "genius_user_titles",
    ("id", ID), ("title", TEXT), ("abbreviation", TEXT), ("roles", TEXT), ("type_id", ID), ("section_id", ID),
    ("sort", sa.Integer), ("pay_component_group_id", ID), ("is_active", BOOL), ("is_unique_per_division", BOOL))

#: ``user_data``: the source key ``user_id`` lands in ``id``; ``ssn`` is never read.
genius_users = _table(
    "user_data", "genius_users",
    ("id", ID), ("division_id", ID), ("title_id", ID), ("manager_user_id", ID), ("first_name", TEXT),
    ("first_name_alt", TEXT), ("last_name", TEXT), ("email", TEXT), ("personal_email", TEXT),
    ("primary_phone", TEXT), ("cell_phone", TEXT), ("birth_date", DATE), ("hired_on", DATE), ("start_date", DATE),
    ("add_user_id", ID), ("add_datetime", DATETIME), ("is_inactive", BOOL), ("inactive_on", DATETIME),
    ("inactive_reason_id", ID), ("inactive_reason_other", TEXT), ("primary_user_id", ID),
    ("updated_at", DATETIME))

genius_services = _table(
    "service", "genius_services",
    ("id", ID), ("label", TEXT), ("is_active", BOOL), ("is_lead_required", BOOL), ("order_number", sa.Integer))

genius_appointment_types = _table(
    "appointment_type", "genius_appointment_types",
    ("id", ID), ("label", TEXT), ("is_active", BOOL))

genius_appointment_outcome_types = _table(
    "appointment_outcome_type", "genius_appointment_outcome_types",
    ("id", ID), ("label", TEXT), ("sort_idx", sa.Integer), ("is_active", BOOL))

genius_appointment_outcomes = _table(
    "appointment_outcome", "genius_appointment_outcomes",
    ("id", ID), ("type_id", ID), ("label", TEXT), ("is_active", BOOL))

genius_marketing_source_types = _table(
    "marketing_source_type", "genius_marketing_source_types",
    ("id", ID), ("label", TEXT), ("description", TEXT), ("is_active", BOOL), ("list_order", sa.Integer))

genius_marketing_sources = _table(
    "marketing_source", "genius_marketing_sources",
    ("id", ID), ("type_id", ID), ("label", TEXT), ("description", TEXT), ("start_date", DATE), ("end_date", DATE),
    ("add_user_id", ID), ("add_date", DATETIME), ("is_active", BOOL), ("is_allow_lead_modification", BOOL),
    ("updated_at", DATETIME))

genius_prospects = _table(
    "prospect", "genius_prospects",
    ("id", ID), ("division_id", ID), ("first_name", TEXT), ("last_name", TEXT), ("alt_first_name", TEXT),
    ("alt_last_name", TEXT), ("address1", TEXT), ("address2", TEXT), ("city", TEXT), ("county", TEXT),
    ("state", TEXT), ("zip", TEXT), ("phone1", TEXT), ("phone2", TEXT), ("email", TEXT), ("notes", TEXT),
    ("add_user_id", ID), ("add_date", DATETIME), ("marketsharp_id", TEXT), ("leap_customer_id", TEXT),
    ("third_party_source_id", ID), ("updated_at", DATETIME))

genius_prospect_sources = _table(
    "prospect_source", "genius_prospect_sources",
    ("id", ID), ("prospect_id", ID), ("marketing_source_id", ID), ("source_date", DATETIME), ("notes", TEXT),
    ("add_user_id", ID), ("add_date", DATETIME), ("updated_at", DATETIME))

#: ``lead``: the source key ``lead_id`` lands in ``id`` (the source has ~96 columns: the main
#: ones are typed here, every column is in ``raw``).
genius_leads = _table(
    "lead", "genius_leads",
    ("id", ID), ("division_id", ID), ("first_name", TEXT), ("last_name", TEXT), ("address1", TEXT),
    ("address2", TEXT), ("city", TEXT), ("state", TEXT), ("zip", TEXT), ("email", TEXT), ("phone1", TEXT),
    ("phone2", TEXT), ("phone3", TEXT), ("phone4", TEXT), ("source", TEXT), ("status", TEXT),
    ("marketing_source_id", ID), ("prospect_id", ID), ("notes", TEXT), ("express_consent_set_by", ID),
    ("express_consent_upload_date", DATETIME), ("added_by", ID), ("added_on", DATETIME),
    ("updated_at", DATETIME))

genius_appointments = _table(
    "appointment", "genius_appointments",
    ("id", ID), ("prospect_id", ID), ("prospect_source_id", ID), ("user_id", ID), ("type_id", ID), ("date", DATE),
    ("time", TIME), ("duration", TIME), ("address1", TEXT), ("address2", TEXT), ("city", TEXT), ("state", TEXT),
    ("zip", TEXT), ("email", TEXT), ("notes", TEXT), ("add_user_id", ID), ("add_date", DATETIME),
    ("assign_date", DATETIME), ("confirm_user_id", ID), ("confirm_date", DATETIME), ("confirm_with", TEXT),
    ("spouses_present", BOOL), ("is_complete", BOOL), ("complete_outcome_id", ID), ("complete_user_id", ID),
    ("complete_date", DATETIME), ("marketsharp_id", TEXT), ("marketsharp_appt_type", TEXT),
    ("leap_estimate_id", TEXT), ("third_party_source_id", ID), ("updated_at", DATETIME))

genius_appointment_services = _table(
    "appointment_to_service", "genius_appointment_services",
    ("appointment_id", ID), ("service_id", ID), key=("appointment_id", "service_id"))

genius_quotes = _table(
    "quote", "genius_quotes",
    ("id", ID), ("prospect_id", ID), ("appointment_id", ID), ("job_id", ID), ("client_cid", ID), ("service_id", ID),
    ("label", TEXT), ("description", TEXT), ("amount", MONEY), ("expire_date", DATE), ("status_id", ID),
    ("contract_file_id", ID), ("estimate_file_id", ID), ("add_user_id", ID), ("add_date", DATETIME),
    ("updated_at", DATETIME))
