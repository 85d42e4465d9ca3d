"""engine.checks: counts in one connection after creating the tables, and none_found's verdict."""

import sqlalchemy as sa
from dagster import AssetCheckSeverity

from ingestion_pipelines.engine.checks import counts, none_found


def test_counts_and_none_found_on_a_real_warehouse(sqlite_warehouse):
    md = sa.MetaData()
    t = sa.Table("check_probe", md, sa.Column("id", sa.Integer, primary_key=True), sa.Column("parent", sa.Integer))
    found = counts(sqlite_warehouse, md, orphans=sa.select(sa.func.count()).select_from(t).where(t.c.parent.is_(None)))
    assert found == {"orphans": 0} and none_found(found).passed  # tables created: a fresh warehouse counts 0
    with sqlite_warehouse.engine.begin() as conn:
        conn.execute(t.insert(), [{"id": 1, "parent": None}, {"id": 2, "parent": 1}])
    res = none_found(counts(sqlite_warehouse, md, orphans=sa.select(sa.func.count()).select_from(t)
                            .where(t.c.parent.is_(None))), severity=AssetCheckSeverity.WARN, rows=2)
    assert not res.passed and res.severity == AssetCheckSeverity.WARN
    assert {k: v.value for k, v in res.metadata.items()} == {"orphans": 1, "rows": 2}
