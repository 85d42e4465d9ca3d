"""Helpers of the Genius database sync tests: a filled MariaDB source, syncing every table,
and comparing the warehouse with the source (counts, id sets, a checksum of the columns)."""

from __future__ import annotations

import hashlib

import sqlalchemy as sa

from ingestion_pipelines.engine.sql_sync import SyncOptions, sync_stream, to_column, CellError
from ingestion_pipelines.resources.mysql import source_engine
from ingestion_pipelines.sources.crm.genius.db_streams import BY_TABLE, SOURCE, STREAMS
from ingestion_pipelines.sources.crm.genius.schema import metadata

SOURCE_URI = "mysql://test/genius"


def writer(mysql_url: str) -> sa.Engine:
    """A read-write engine on the test source database (the sync's own engine is read-only)."""
    return sa.create_engine(mysql_url, connect_args={"charset": "utf8mb4"})


def source(mysql_url: str) -> sa.Engine:
    return source_engine(mysql_url)


def exec_(w: sa.Engine, sql: str, **params) -> int:
    """Run one statement on the source (zero dates allowed); returns the rows affected."""
    with w.begin() as c:
        c.exec_driver_sql("SET SESSION sql_mode = ''")
        return c.execute(sa.text(sql), params).rowcount


def sync_all(src: sa.Engine, warehouse, opts: SyncOptions = SyncOptions(), tables=None, **kw) -> dict:
    """Sync every stream (or ``tables``) in order; returns {source table: SyncResult}."""
    warehouse.setup(metadata)
    out = {}
    for st in STREAMS:
        if tables and st.source_table not in tables:
            continue
        out[st.source_table] = sync_stream(src, warehouse.engine, st, opts, source_name=SOURCE,
                                           source_uri=SOURCE_URI, run_id="test", **kw)
    return out


def _typed(v, t):
    try:
        return to_column(v, t)
    except CellError:
        return None


def _norm(v):
    if isinstance(v, float):
        return round(v, 6)
    return str(v) if v is not None else None


def source_rows(w: sa.Engine, table: str) -> dict[tuple, tuple]:
    """key -> data columns of every row of source ``table``, typed as the warehouse types them."""
    st = BY_TABLE[table]
    cols = [(c, st.source_column(c), st.table.c[c].type) for c in st.columns]
    with w.connect() as c:
        rows = c.execute(sa.text(f"SELECT * FROM `{table}`")).mappings().all()
    out = {}
    for r in rows:
        vals = tuple(_norm(_typed(r[s], t)) for _c, s, t in cols)
        out[tuple(_norm(_typed(r[st.source_column(k)], st.table.c[k].type)) for k in st.key)] = vals
    return out


def warehouse_rows(warehouse, table: str, live: bool = True) -> dict[tuple, tuple]:
    """key -> data columns of the warehouse rows of source ``table`` (live ones: ``_deleted_at`` NULL)."""
    st = BY_TABLE[table]
    t = st.table
    q = sa.select(*[t.c[c] for c in st.columns])
    if live:
        q = q.where(t.c._deleted_at.is_(None))
    with warehouse.engine.connect() as c:
        rows = c.execute(q).mappings().all()
    return {tuple(_norm(r[k]) for k in st.key): tuple(_norm(r[c]) for c in st.columns) for r in rows}


def checksum(rows: dict[tuple, tuple]) -> str:
    return hashlib.sha256(repr(sorted(rows.items())).encode()).hexdigest()


def assert_same(w: sa.Engine, warehouse, tables=None) -> None:
    """Every table (or ``tables``): the same row count, key set and column checksum."""
    for st in STREAMS:
        if tables and st.source_table not in tables:
            continue
        s, h = source_rows(w, st.source_table), warehouse_rows(warehouse, st.source_table)
        assert len(h) == len(s), (st.source_table, len(h), len(s))
        assert set(h) == set(s), (st.source_table, set(h) ^ set(s))
        diff = [k for k in s if s[k] != h[k]][:3]
        assert checksum(h) == checksum(s), (st.source_table, [(s[k], h[k]) for k in diff])
        with warehouse.engine.connect() as c:  # no duplicate key (the natural key is unique anyway)
            n = c.execute(sa.select(sa.func.count()).select_from(st.table)).scalar()
            assert n == len(h) + c.execute(sa.select(sa.func.count()).select_from(st.table)
                                           .where(st.table.c._deleted_at.is_not(None))).scalar()
