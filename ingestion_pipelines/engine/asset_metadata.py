"""What the Dagster UI shows about an asset: its warehouse table's columns, its kinds, links.

Every asset that writes a warehouse table puts :func:`table_metadata` in its *definition*
metadata (``AssetSpec(metadata=...)`` / ``@asset(metadata=...)``), so the asset's page lists
the table's columns (name, type, nullable, unique, keys, checks, defaults, descriptions) and
its table name before anything ran. Materializations link their result files with
:func:`file_link`. :func:`warehouse_kind` names the warehouse honestly in ``kinds``
(``sqlite`` for the demo default, ``postgres`` / ``mysql`` when ``WAREHOUSE_URL`` says so).

Column descriptions come from the SQLAlchemy column's ``comment`` (also written into the
database's catalog on PostgreSQL/MySQL), else ``doc``, else ``info["description"]``; the
audit columns of :mod:`engine.schema` have theirs here (:data:`AUDIT_DESCRIPTIONS`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from dagster import MetadataValue, TableColumn, TableColumnConstraints, TableConstraints, TableSchema

from ..settings import default_warehouse_url

#: Descriptions of the audit columns every table carries (DESIGN.md §4, engine/schema.py).
AUDIT_DESCRIPTIONS = {
    "_ingested_at": "When the row was last written (UTC).",
    "_source": "Where the row came from: file URI, API endpoint or source database.",
    "_run_id": "The Dagster run that last wrote the row.",
    "_ingest_file_id": "The ingest_files ledger row of the file the row came from (its URI, sha256 and run).",
}

#: SQLAlchemy dialect name -> the Dagster kind (kinds with an icon in the UI).
_DIALECT_KINDS = {"postgresql": "postgres", "sqlite": "sqlite", "mysql": "mysql", "mariadb": "mysql"}


def table_metadata(table: sa.Table) -> dict[str, Any]:
    """Definition metadata describing ``table``: ``{"dagster/column_schema": TableSchema,
    "dagster/table_name": "schema.table" or "table"}``. Pure: reads the SQLAlchemy Core
    definition only (no connection)."""
    name = f"{table.schema}.{table.name}" if table.schema else table.name
    return {"dagster/column_schema": table_schema(table), "dagster/table_name": name}


def table_schema(table: sa.Table) -> TableSchema:
    """``table``'s columns as a Dagster :class:`TableSchema`, with its multi-column unique and
    check constraints as table-level constraints (text, e.g. ``"unique (kind, name_key)"``)."""
    other = []
    for c in sorted(table.constraints, key=lambda c: c.name or ""):
        cols = [col.name for col in getattr(c, "columns", [])]
        if isinstance(c, sa.UniqueConstraint) and len(cols) > 1:
            label = "natural key" if (c.name or "").endswith("natural_key") else "unique"
            other.append(f"{label} ({', '.join(cols)})")
        elif isinstance(c, sa.PrimaryKeyConstraint) and len(cols) > 1:
            other.append(f"primary key ({', '.join(cols)})")
        elif isinstance(c, sa.CheckConstraint):  # a table-level check (a column's own is on the column)
            other.append(f"check {c.sqltext}")
    return TableSchema(columns=[table_column(col) for col in table.columns], constraints=TableConstraints(other=other))


def table_column(col: sa.Column) -> TableColumn:
    """One column: its SQL type (``VARCHAR(36)``, ``BIGINT``, ``TIMESTAMP``...), nullability,
    uniqueness (its own unique constraint or a one-column primary key) and, as other
    constraints, primary key, foreign keys, checks and server defaults."""
    table = col.table
    single_unique = any(isinstance(c, sa.UniqueConstraint) and [x.name for x in c.columns] == [col.name]
                        for c in table.constraints)
    pk_cols = list(table.primary_key.columns)
    other = []
    if col.primary_key:
        other.append("primary key")
    other += [f"references {fk.target_fullname}" for fk in col.foreign_keys]
    other += [f"check {c.sqltext}" for c in col.constraints if isinstance(c, sa.CheckConstraint)]
    if col.server_default is not None and hasattr(col.server_default, "arg"):
        other.append(f"default {_default_text(col.server_default.arg)}")
    constraints = TableColumnConstraints(
        nullable=bool(col.nullable) and not col.primary_key,
        unique=bool(col.unique) or single_unique or (col.primary_key and len(pk_cols) == 1),
        other=other)
    return TableColumn(name=col.name, type=_type_text(col.type), description=_description(col),
                       constraints=constraints)


def _type_text(t: sa.types.TypeEngine) -> str:
    try:
        return str(t.compile())
    except Exception:  # a dialect-only type the generic compiler cannot render
        return type(t).__name__.upper()


def _default_text(arg: Any) -> str:
    if isinstance(arg, str):
        return repr(arg)
    try:
        return str(arg.compile()) if hasattr(arg, "compile") else str(arg)
    except Exception:
        return str(arg)


def _description(col: sa.Column) -> str | None:
    return col.comment or col.doc or col.info.get("description") or AUDIT_DESCRIPTIONS.get(col.name)


def warehouse_kind(url: str | None = None) -> str:
    """The Dagster kind of the warehouse at ``url`` (default: ``WAREHOUSE_URL`` or the demo's
    SQLite file): ``postgres``, ``sqlite`` or ``mysql``; another dialect's own name. Read when
    the code location loads, so the UI names the database the assets really write to."""
    dialect = sa.engine.make_url(url or default_warehouse_url()).get_backend_name()
    return _DIALECT_KINDS.get(dialect, dialect)


def file_link(uri: str | None) -> MetadataValue | str:
    """A result file's URI as a link in the UI: ``file://``, ``s3://`` and ``http(s)://`` URIs
    become :meth:`MetadataValue.url` (shown and clickable, the full URI kept); a bare path
    becomes :meth:`MetadataValue.path`; ``None``/``""`` (no file) stays ``""``."""
    if not uri:
        return ""
    if urlsplit(uri).scheme in ("file", "s3", "http", "https", "gs"):
        return MetadataValue.url(uri)
    return MetadataValue.path(uri)
