"""Table helpers shared by every source's ``schema.py`` (DESIGN.md §4).

Every warehouse table carries its natural key as a unique constraint plus three audit
columns: ``_ingested_at`` (timestamp with time zone, when the row was last written),
``_source`` (the file URI, API or DB it came from) and ``_run_id`` (the Dagster run).
"""

from __future__ import annotations

import sqlalchemy as sa

AUDIT_COLUMNS = ("_ingested_at", "_source", "_run_id")


def audit_columns() -> list[sa.Column]:
    """Fresh ``_ingested_at``, ``_source``, ``_run_id`` columns for a new table."""
    return [
        sa.Column("_ingested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("_source", sa.Text, nullable=True),
        sa.Column("_run_id", sa.String(64), nullable=True),
    ]


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
