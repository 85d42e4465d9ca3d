"""engine.load ``TableLoad(fill_only=...)``: a column the source writes only while the stored
value is NULL/blank (a hand-entered SFA URL, a first-seen timestamp), on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa

from ingestion_pipelines.engine.load import BatchLoader, PendingRow, TableLoad
from ingestion_pipelines.engine.schema import audit_columns, natural_key_constraint


def _table() -> tuple[sa.MetaData, sa.Table]:
    md = sa.MetaData()
    t = sa.Table("fill_only_probe", md, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("k", sa.String(20), nullable=False), sa.Column("name", sa.Text),
                 sa.Column("sfa", sa.Text), sa.Column("first_seen", sa.Integer),
                 *audit_columns(), natural_key_constraint("fill_only_probe", "k"))
    return md, t


def test_fill_only_never_overwrites_a_value_already_there(warehouse):
    md, t = _table()
    warehouse.setup(md)
    spec = TableLoad(t, fill_only=frozenset({"sfa", "first_seen"}))
    with warehouse.connect() as conn:
        out = BatchLoader(conn, spec).load([
            PendingRow(1, {"k": "a", "name": "A", "sfa": None, "first_seen": 1}),
            PendingRow(2, {"k": "b", "name": "B", "sfa": "hand", "first_seen": 1}),
            PendingRow(3, {"k": "c", "name": "C", "sfa": "", "first_seen": None}),
        ])
        assert [o.outcome.value for o in out] == ["inserted"] * 3
        conn.commit()
        out = BatchLoader(conn, spec).load([
            PendingRow(1, {"k": "a", "name": "A", "sfa": "filled", "first_seen": 2}),  # NULL -> filled
            PendingRow(2, {"k": "b", "name": "B", "sfa": "stale", "first_seen": 2}),   # kept
            PendingRow(3, {"k": "c", "name": "C2", "sfa": "x", "first_seen": 5}),     # '' and NULL -> filled
        ])
        conn.commit()
        assert [o.outcome.value for o in out] == ["updated", "unchanged", "updated"]
        out = BatchLoader(conn, spec).load([
            PendingRow(1, {"k": "a", "name": "A", "sfa": None, "first_seen": None}),
            PendingRow(2, {"k": "b", "name": "B", "sfa": "", "first_seen": 9}),
        ])
        conn.commit()
        assert [o.outcome.value for o in out] == ["unchanged", "unchanged"]
        rows = {r.k: (r.name, r.sfa, r.first_seen) for r in conn.execute(sa.select(t))}
    assert rows == {"a": ("A", "filled", 1), "b": ("B", "hand", 1), "c": ("C2", "x", 5)}
