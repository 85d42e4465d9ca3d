"""Table helpers shared by every source's ``schema.py`` (DESIGN.md §4).

Every warehouse table carries its natural key as a unique constraint plus audit columns:
``_ingested_at`` (timestamp with time zone, when the row was last written), ``_source`` (the
file URI, API or DB it came from) and ``_run_id`` (the Dagster run) — or, in bulk tables
loaded file by file (``audit_columns(ledger=True)``: the tenants source), ``_ingested_at`` and
``_ingest_file_id``: the ``ingest_files`` ledger row of the file the row came from, which
holds that file's URI, its sha256 and the run that loaded it (DESIGN.md §4's ``_source`` and
``_run_id``, one join away, at 8 bytes per row instead of ~190: see :func:`audit_columns`).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

AUDIT_COLUMNS = ("_ingested_at", "_source", "_run_id", "_ingest_file_id")

#: PostgreSQL: the session settings the audit columns' defaults read (see
#: :func:`ensure_audit_defaults`); a writer sets them once per transaction with
#: ``set_config(name, value, true)`` and leaves the audit columns out of its COPY.
AUDIT_SETTINGS = {"_source": "ingest.source", "_run_id": "ingest.run_id", "_ingest_file_id": "ingest.file_id"}
_AUDIT_DEFAULTS = {"_ingested_at": "now()",
                   "_source": "NULLIF(current_setting('ingest.source', true), '')",
                   "_run_id": "NULLIF(current_setting('ingest.run_id', true), '')",
                   "_ingest_file_id": "NULLIF(current_setting('ingest.file_id', true), '')::bigint"}


def audit_columns(ledger: bool = False) -> list[sa.Column]:
    """Fresh audit columns for a new table: ``_ingested_at``, ``_source``, ``_run_id``; with
    ``ledger``, ``_ingested_at`` and ``_ingest_file_id`` (BIGINT, ``ingest_files.id``).

    ``ledger`` is for tables bulk-loaded from files recorded in the ``ingest_files`` ledger,
    where the same file URI and run id would be repeated on millions of rows: measured on
    3.5 M order items (~95 bytes of data per row), a ~150-byte ``file://`` URI plus the run
    id made the heap 2.7 times wider (421 -> 1,142 MB) and the COPY 55-75 % slower (5.7-6.4 s
    -> 9.9 s); with ``_ingest_file_id`` 472 MB and 6.2 s. No foreign key is declared (a
    per-row trigger would cost more than the column saves); the loader writes the id of the
    ledger row it created for the file, and the tenants checks verify every row's id names a
    ledger row of the tenant's own files."""
    if ledger:
        return [
            sa.Column("_ingested_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("_ingest_file_id", sa.BigInteger, nullable=True),
        ]
    return [
        sa.Column("_ingested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("_source", sa.Text, nullable=True),
        sa.Column("_run_id", sa.String(64), nullable=True),
    ]


#: A JSON column's type: JSONB on PostgreSQL (comparable, so an upsert can tell an unchanged
#: record from a changed one), JSON elsewhere.
JSON_TYPE = sa.JSON().with_variant(JSONB(), "postgresql")


def record_columns(raw: str = "raw") -> list[sa.Column]:
    """The columns every CRM table adds to its own (DESIGN.md §10), fresh for a new table:
    ``raw`` (the record as the source sent it: :data:`JSON_TYPE`), the audit columns
    (:func:`audit_columns`) and ``_deleted_at`` (timestamp with time zone; NULL while the
    record exists at the source, set only on positive evidence of a deletion)."""
    return [sa.Column(raw, JSON_TYPE, nullable=True), *audit_columns(),
            sa.Column("_deleted_at", sa.DateTime(timezone=True), nullable=True)]


def natural_key(table: sa.Table) -> tuple[str, ...]:
    """The columns of ``table``'s first unique constraint named ``uq_<table>_natural_key``,
    falling back to its primary key. Raises ``ValueError`` when it has neither."""
    for c in table.constraints:
        if isinstance(c, sa.UniqueConstraint) and (c.name or "").endswith("natural_key"):
            return tuple(col.name for col in c.columns)
    pk = tuple(col.name for col in table.primary_key.columns)
    if pk:
        return pk
    raise ValueError(f"table {table.name} has no natural key")


def natural_key_constraint(table_name: str, *cols: str) -> sa.UniqueConstraint:
    """The unique constraint that marks a table's natural key (found by :func:`natural_key`)."""
    return sa.UniqueConstraint(*cols, name=f"uq_{table_name}_natural_key")


def qualified_name(conn: sa.Connection, table: sa.Table) -> str:
    """``"schema"."table"`` (or ``"table"``) as ``conn`` sees it, its ``schema_translate_map``
    applied (tests and benchmarks give each run its own schema), for raw SQL."""
    translate = conn.get_execution_options().get("schema_translate_map") or {}
    sch = table.schema or translate.get(None)
    return f'"{sch}"."{table.name}"' if sch else f'"{table.name}"'


def ensure_audit_defaults(conn: sa.Connection, metadata: sa.MetaData) -> list[str]:
    """PostgreSQL: give the audit columns of every table of ``metadata`` their defaults —
    ``_ingested_at DEFAULT now()``, ``_source`` / ``_run_id`` / ``_ingest_file_id``
    ``DEFAULT`` the session settings of :data:`AUDIT_SETTINGS` (NULL when unset) — so a bulk
    COPY need not repeat the same audit values on every line (measured: COPY of 1.75 M order
    items 30 % faster than with ~170 bytes of URI and run id on each line). An audit column
    the table lacks (a table created before it was declared, e.g. ``_ingest_file_id``) is
    added, NULL for the rows already there (``ADD COLUMN`` with a non-volatile default is a
    catalog change in PostgreSQL >= 11, no rewrite). Reads the catalog first and alters only
    what is missing (an ``ALTER`` waits for writers of that table, so it must not run on
    every load). Other dialects: only a missing audit column is added (no default). Returns
    the ``table.column`` names altered."""
    if conn.dialect.name != "postgresql":
        return _add_missing_audit_columns(conn, metadata)
    altered = []
    for t in metadata.sorted_tables:
        cols = [c for c in _AUDIT_DEFAULTS if c in t.c]
        if not cols:
            continue
        rel = qualified_name(conn, t)
        defaults = _column_defaults(conn, rel, cols)
        for c in cols:
            if defaults.get(c):
                continue
            if c in defaults:
                conn.exec_driver_sql(f'ALTER TABLE {rel} ALTER COLUMN "{c}" SET DEFAULT {_AUDIT_DEFAULTS[c]}')
            else:
                ddl = sa.schema.CreateColumn(t.c[c]).compile(dialect=conn.dialect)
                conn.exec_driver_sql(f"ALTER TABLE {rel} ADD COLUMN {ddl} DEFAULT {_AUDIT_DEFAULTS[c]}")
            altered.append(f"{t.name}.{c}")
    return altered


def _add_missing_audit_columns(conn: sa.Connection, metadata: sa.MetaData) -> list[str]:
    """SQLite / MySQL: ``ALTER TABLE .. ADD COLUMN`` for each audit column of ``metadata``'s
    tables that the existing table lacks (NULL in its rows)."""
    altered = []
    insp = sa.inspect(conn)
    for t in metadata.sorted_tables:
        cols = [c for c in _AUDIT_DEFAULTS if c in t.c]
        if not cols or not insp.has_table(t.name, schema=t.schema):
            continue
        have = {c["name"] for c in insp.get_columns(t.name, schema=t.schema)}
        for c in cols:
            if c not in have:
                ddl = sa.schema.CreateColumn(t.c[c]).compile(dialect=conn.dialect)
                conn.exec_driver_sql(f"ALTER TABLE {conn.dialect.identifier_preparer.format_table(t)} ADD COLUMN {ddl}")
                altered.append(f"{t.name}.{c}")
    return altered


def audit_defaults_in_place(conn: sa.Connection, table: sa.Table) -> bool:
    """PostgreSQL: True when every audit column of ``table`` has the default of
    :func:`ensure_audit_defaults` (a writer may then leave them out of its COPY)."""
    if conn.dialect.name != "postgresql":
        return False
    cols = [c for c in _AUDIT_DEFAULTS if c in table.c]
    if not cols:
        return False
    found = _column_defaults(conn, qualified_name(conn, table), cols)
    return all(AUDIT_SETTINGS.get(c, "now()") in (found.get(c) or "") for c in cols)


def _column_defaults(conn: sa.Connection, rel: str, cols: list[str]) -> dict[str, str | None]:
    """PostgreSQL: column name -> its DEFAULT expression (None when it has none), for the
    ``cols`` the table ``rel`` (quoted, schema-qualified) has; a column it lacks is absent."""
    return dict(conn.execute(sa.text(
        "SELECT a.attname, pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a "
        "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
        "WHERE a.attrelid = to_regclass(:rel) AND a.attname = ANY(:cols) AND NOT a.attisdropped"),
        {"rel": rel, "cols": cols}).all())
