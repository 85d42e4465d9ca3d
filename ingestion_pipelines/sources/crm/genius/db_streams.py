"""The Genius MySQL tables as data (DESIGN.md §10; ``crm/SEED_SYSTEM.md`` §2): one
:class:`~ingestion_pipelines.engine.sql_sync.SqlStream` per source table.

Each spec names the source table, its key (source column names), its cursor column
(``updated_at``; ``None`` for the lookup tables and the ``appointment_to_service`` junction,
which the source keeps without timestamps: read in full, only changed rows written), its
foreign keys (they drive the assets' ``deps`` and one orphan check each; orphans still land)
and the warehouse table (``schema.py``), whose columns are the columns read. A new table is a
new entry here plus its table in ``schema.py``.

:data:`STREAMS` is in dependency order (parents first): the order ``db_genius_all`` syncs in.
"""

from __future__ import annotations

from ....engine.sql_sync import ForeignKey as FK
from ....engine.sql_sync import SqlStream
from . import schema as s

#: The source system's name in ``sync_state`` / ``sync_history`` and ``_source``.
SOURCE = "genius"

STREAMS: tuple[SqlStream, ...] = (
    SqlStream("division_group", s.genius_division_groups),
    SqlStream("user_title", s.genius_user_titles, cursor=None),
    SqlStream("service", s.genius_services, cursor=None),
    SqlStream("appointment_type", s.genius_appointment_types, cursor=None),
    SqlStream("appointment_outcome_type", s.genius_appointment_outcome_types, cursor=None),
    SqlStream("appointment_outcome", s.genius_appointment_outcomes, cursor=None,
              foreign_keys=(FK("type_id", "appointment_outcome_type"),)),
    SqlStream("marketing_source_type", s.genius_marketing_source_types, cursor=None),
    SqlStream("division", s.genius_divisions, foreign_keys=(FK("group_id", "division_group"),)),
    SqlStream("marketing_source", s.genius_marketing_sources,
              foreign_keys=(FK("type_id", "marketing_source_type"),)),
    SqlStream("user_data", s.genius_users, renames={"user_id": "id"}, exclude=frozenset({"ssn"}),
              foreign_keys=(FK("division_id", "division"), FK("title_id", "user_title"))),
    SqlStream("prospect", s.genius_prospects, foreign_keys=(FK("division_id", "division"),)),
    SqlStream("lead", s.genius_leads, renames={"lead_id": "id"},
              foreign_keys=(FK("prospect_id", "prospect"), FK("marketing_source_id", "marketing_source"))),
    SqlStream("prospect_source", s.genius_prospect_sources,
              foreign_keys=(FK("prospect_id", "prospect"), FK("marketing_source_id", "marketing_source"))),
    SqlStream("appointment", s.genius_appointments,
              foreign_keys=(FK("prospect_id", "prospect"), FK("prospect_source_id", "prospect_source"),
                            FK("user_id", "user_data"), FK("type_id", "appointment_type"),
                            FK("complete_outcome_id", "appointment_outcome"))),
    SqlStream("appointment_to_service", s.genius_appointment_services, cursor=None,
              foreign_keys=(FK("appointment_id", "appointment"), FK("service_id", "service"))),
    SqlStream("quote", s.genius_quotes,
              foreign_keys=(FK("prospect_id", "prospect"), FK("appointment_id", "appointment"),
                            FK("service_id", "service"))),
)

#: source table name -> its spec.
BY_TABLE: dict[str, SqlStream] = {st.source_table: st for st in STREAMS}
