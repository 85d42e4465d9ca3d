"""Asset checks of the Genius database sync: one per foreign key (:data:`.db_streams.STREAMS`).

The warehouse keeps Genius ids and lands a row whose parent is missing (an appointment whose
prospect is not there); each check counts the live child rows whose reference names no parent
row and reports them as a WARN with the first examples (child key -> missing id). NULL
references are no reference (not orphans).
"""

from __future__ import annotations

import sqlalchemy as sa
from dagster import AssetCheckResult, AssetCheckSeverity, AssetChecksDefinition, MetadataValue, asset_check

from ....resources.warehouse import WarehouseResource
from .db_assets import KEYS
from ....engine.sql_sync import ForeignKey as ForeignKeyT
from ....engine.sql_sync import SqlStream as SqlStreamT
from .db_streams import BY_TABLE, STREAMS
from .schema import metadata

EXAMPLES = 10


def _orphans(child: sa.Table, fk: ForeignKeyT, parent: sa.Table, key: tuple[str, ...]):
    """(count query, examples query) of the live ``child`` rows whose ``fk`` has no parent."""
    col = child.c[fk.column]
    cond = (col.is_not(None), child.c._deleted_at.is_(None),
            ~sa.exists().where(parent.c[fk.parent_column] == col))
    count = sa.select(sa.func.count()).select_from(child).where(*cond)
    examples = sa.select(*[child.c[k] for k in key], col).where(*cond).order_by(*[child.c[k] for k in key]).limit(EXAMPLES)
    return count, examples


def fk_check(st: SqlStreamT, fk: ForeignKeyT) -> AssetChecksDefinition:
    """The orphan check of one foreign key: ``<column>_has_parent`` on the child's asset."""
    parent = BY_TABLE[fk.parent].table

    @asset_check(asset=KEYS[st.source_table], name=f"{fk.column}_has_parent", blocking=False,
                 description=f"Every {st.table.name}.{fk.column} names a {parent.name} row (orphans land; WARN with examples).")
    def _check(warehouse: WarehouseResource) -> AssetCheckResult:
        warehouse.setup(metadata)
        count, examples = _orphans(st.table, fk, parent, st.key)
        with warehouse.engine.connect() as conn:
            n = int(conn.execute(count).scalar() or 0)
            ex = conn.execute(examples).all() if n else []
        shown = [f"{'/'.join(map(str, r[:-1]))} -> {fk.column}={r[-1]}" for r in ex]
        return AssetCheckResult(passed=n == 0, severity=AssetCheckSeverity.WARN, metadata={
            "orphans": n, "parent_table": parent.name,
            "examples": MetadataValue.md("\n".join(f"- {s}" for s in shown) or "none")})

    return _check


CHECKS = [fk_check(st, fk) for st in STREAMS for fk in st.foreign_keys]
