"""Asset checks of the Genius database sync: one per foreign key (:data:`.db_streams.STREAMS`).

The warehouse keeps Genius ids and lands a row whose parent is missing (an appointment whose
prospect is not there); each check counts the live child rows whose reference names no parent
row and reports them as a WARN with the first examples (child key -> missing id). NULL
references are no reference (not orphans).

The checks are declared on the ``genius_db`` multi-asset (:func:`check_specs`) and evaluated
by its step right after each table's sync (:func:`fk_check_result`), so a table that fails
later in a ``genius_db_all`` run does not cost the checks of the tables already synced.
"""

from __future__ import annotations

import sqlalchemy as sa
from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, AssetKey, MetadataValue

from ....engine.sql_sync import ForeignKey, SqlStream
from ....resources.warehouse import WarehouseResource
from .db_streams import BY_TABLE, STREAMS

EXAMPLES = 10


def check_name(fk: ForeignKey) -> str:
    """``<column>_has_parent`` (e.g. ``prospect_id_has_parent`` on ``genius/appointments``)."""
    return f"{fk.column}_has_parent"


def check_specs(keys: dict[str, AssetKey]) -> list[AssetCheckSpec]:
    """One non-blocking check spec per foreign key, on the child's asset (``keys``: source table -> key)."""
    return [AssetCheckSpec(check_name(fk), asset=keys[st.source_table], blocking=False,
                           description=f"Every {st.table.name}.{fk.column} names a {BY_TABLE[fk.parent].table.name} "
                                       "row (orphans land; WARN with examples).")
            for st in STREAMS for fk in st.foreign_keys]


def _orphans(child: sa.Table, fk: ForeignKey, parent: sa.Table, key: tuple[str, ...]):
    """(count query, examples query) of the live ``child`` rows whose ``fk`` has no parent."""
    col = child.c[fk.column]
    cond = (col.is_not(None), child.c._deleted_at.is_(None),
            ~sa.exists().where(parent.c[fk.parent_column] == col))
    count = sa.select(sa.func.count()).select_from(child).where(*cond)
    order = [child.c[k] for k in key]
    examples = sa.select(*order, col).where(*cond).order_by(*order).limit(EXAMPLES)
    return count, examples


def fk_check_result(warehouse: WarehouseResource, st: SqlStream, fk: ForeignKey, asset_key: AssetKey) -> AssetCheckResult:
    """The orphan check of one foreign key, evaluated now on the warehouse."""
    parent = BY_TABLE[fk.parent].table
    count, examples = _orphans(st.table, fk, parent, st.key)
    with warehouse.engine.connect() as conn:
        n = int(conn.execute(count).scalar() or 0)
        ex = conn.execute(examples).all() if n else []
    shown = [f"{'/'.join(map(str, r[:-1]))} -> {fk.column}={r[-1]}" for r in ex]
    return AssetCheckResult(asset_key=asset_key, check_name=check_name(fk), passed=n == 0,
                            severity=AssetCheckSeverity.WARN, metadata={
                                "orphans": n, "parent_table": parent.name,
                                "examples": MetadataValue.md("\n".join(f"- {s}" for s in shown) or "none")})
