"""Genius CRM's CSV exports (DESIGN.md §10, ``crm/SEED_SYSTEM.md`` §1 ``csv_genius_*``): users,
appointments, prospects, marketing sources and marketing source types, loaded into the Genius
tables the database sync also writes (``schema.py``: ``genius_users``, ``genius_appointments``,
``genius_prospects``, ``genius_marketing_sources``, ``genius_marketing_source_types``), so
each field's name is that table's column.

Headers are the source's column names (``user_id, division_id, first_name, ...``); the user's
``user_id`` lands in ``id``. Genius exports mix ISO and US dates (``2023-03-14``, ``3/14/2023``)
and write ``time`` as ``14:30:00`` or ``2:30 PM`` and ``duration`` as ``1:30:00`` (the seed
read both through its date parser and lost them). Columns the tables do not have
(``gender_id``, ``marital_status_id``, ``time_zone_name`` of users) stay in ``raw``.
Prospects are an export of the MySQL ``prospect`` table (``§2``'s columns plus ``updated_at``).
"""

from __future__ import annotations

from ....engine.profiles import CsvProfile, Field
from . import schema


def _ids(*names: str) -> tuple[Field, ...]:
    return tuple(Field(n, "integer") for n in names)


USERS = CsvProfile(
    system="genius", object="users", table=schema.genius_users,
    description="Genius CRM users (user_data) from a CSV export.",
    fields=(
        Field("id", "integer", required=True, aliases=("user_id",), description="user_data.user_id"),
        *_ids("division_id", "title_id", "manager_user_id", "add_user_id"),
        Field("first_name"), Field("first_name_alt"), Field("last_name"),
        Field("email", "email"), Field("personal_email", "email"),
        Field("birth_date", "date"), Field("hired_on", "date"), Field("start_date", "date"),
        Field("add_datetime", "datetime"),
    ),
)

APPOINTMENTS = CsvProfile(
    system="genius", object="appointments", table=schema.genius_appointments,
    description="Genius CRM appointments from a CSV export.",
    fields=(
        Field("id", "integer", required=True),
        *_ids("prospect_id", "prospect_source_id", "user_id", "type_id", "add_user_id", "confirm_user_id",
              "complete_outcome_id", "complete_user_id"),
        Field("date", "date"), Field("time", "time"), Field("duration", "time", description="H:MM:SS"),
        Field("address1"), Field("address2"), Field("city"), Field("state", "us_state"), Field("zip", "zip"),
        Field("email", "email"), Field("notes"),
        Field("add_date", "datetime"), Field("assign_date", "datetime"), Field("confirm_date", "datetime"),
        Field("confirm_with"), Field("spouses_present", "boolean"), Field("is_complete", "boolean"),
        Field("complete_date", "datetime"),
    ),
)

PROSPECTS = CsvProfile(
    system="genius", object="prospects", table=schema.genius_prospects,
    description="Genius CRM prospects (homeowners) from a CSV export of the prospect table.",
    fields=(
        Field("id", "integer", required=True),
        *_ids("division_id", "add_user_id", "third_party_source_id"),
        Field("first_name"), Field("last_name"), Field("alt_first_name"), Field("alt_last_name"),
        Field("address1"), Field("address2"), Field("city"), Field("county"), Field("state", "us_state"),
        Field("zip", "zip"), Field("phone1", "phone"), Field("phone2", "phone"), Field("email", "email"),
        Field("notes"), Field("add_date", "datetime"), Field("marketsharp_id"), Field("leap_customer_id"),
        Field("updated_at", "datetime"),
    ),
)

MARKETING_SOURCES = CsvProfile(
    system="genius", object="marketing-sources", table=schema.genius_marketing_sources,
    description="Genius CRM marketing sources from a CSV export.",
    fields=(
        Field("id", "integer", required=True),
        *_ids("type_id", "add_user_id"),
        Field("label"), Field("description"), Field("start_date", "date"), Field("end_date", "date"),
        Field("add_date", "datetime"), Field("is_active", "boolean"), Field("is_allow_lead_modification", "boolean"),
    ),
)

MARKETING_SOURCE_TYPES = CsvProfile(
    system="genius", object="marketing-source-types", table=schema.genius_marketing_source_types,
    description="Genius CRM marketing source types from a CSV export.",
    fields=(
        Field("id", "integer", required=True),
        Field("label"), Field("description"), Field("is_active", "boolean"), Field("list_order", "integer"),
    ),
)

#: The profiles of Genius CRM's CSV exports (one per object of DESIGN.md §10's CSV list).
PROFILES: tuple[CsvProfile, ...] = (USERS, APPOINTMENTS, PROSPECTS, MARKETING_SOURCES, MARKETING_SOURCE_TYPES)
