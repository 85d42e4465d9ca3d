"""WarehouseResource: the one SQL warehouse every source writes to (DESIGN.md §2, §3).

SQLite by default (a file under the project's state dir), PostgreSQL in production
(``WAREHOUSE_URL=postgresql://...``). Gives a cached SQLAlchemy engine, creates each source's
tables from its ``schema.py`` metadata, and runs :class:`~ingestion_pipelines.engine.load.LoadRun`
passes with the run's audit values.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Iterator

import sqlalchemy as sa
from dagster import ConfigurableResource
from pydantic import Field, PrivateAttr

from ..settings import default_batch_size, default_warehouse_url

_ENGINES: dict[str, sa.Engine] = {}
_LOCK = threading.Lock()


def normalize_url(url: str) -> str:
    """``postgresql://`` means psycopg2 here (the COPY fast path uses it); SQLAlchemy 2.1
    would otherwise pick psycopg 3."""
    u = sa.engine.make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg2")
    return u.render_as_string(hide_password=False)


def _make_engine(url: str) -> sa.Engine:
    url = normalize_url(url)
    u = sa.engine.make_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            from pathlib import Path

            Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 60})

        # pysqlite's own transaction handling breaks SAVEPOINT; let SQLAlchemy emit BEGIN
        # (the recipe from SQLAlchemy's SQLite dialect documentation).
        @sa.event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _rec):
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _on_begin(conn):
            conn.exec_driver_sql("BEGIN")

        return engine
    if u.get_backend_name() == "postgresql":
        return sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
    return sa.create_engine(url, pool_pre_ping=True)


#: PostgreSQL advisory lock held by the transaction that creates tables ("ingestDL").
_DDL_LOCK_KEY = 0x696E67657374444C


def _ddl_lock(conn: sa.Connection) -> None:
    """PostgreSQL: wait for the warehouse-wide DDL lock until this transaction ends. Runs and
    steps that start at once on a fresh warehouse (the landing sensor's run requests, the
    multiprocess executor's parallel steps) would otherwise race to CREATE the same schema,
    tables or types, and all but one fail ("duplicate key value violates unique constraint
    pg_type_typname_nsp_index": ``IF NOT EXISTS`` and SQLAlchemy's check-first are not
    atomic). Uncontended it costs one round trip."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_DDL_LOCK_KEY})")


class WarehouseResource(ConfigurableResource):
    """The SQL warehouse (SQLAlchemy URL ``url``; default ``WAREHOUSE_URL`` or local SQLite).

    ``schema_name`` (PostgreSQL only) puts every table in that schema (tests use one schema
    each). ``batch_size`` is the default rows per load batch (``BATCH_SIZE``, 1000).
    """

    url: str = Field(default_factory=default_warehouse_url, description="SQLAlchemy URL of the warehouse (WAREHOUSE_URL).")
    schema_name: str | None = Field(default=None, description="PostgreSQL schema for every table (default: the search_path).")
    batch_size: int = Field(default_factory=default_batch_size, description="Rows per load batch (BATCH_SIZE).")

    _engine: sa.Engine | None = PrivateAttr(default=None)

    @property
    def engine(self) -> sa.Engine:
        """A process-wide cached engine for ``url`` (+ ``schema_name``)."""
        if self._engine is None:
            cache_key = f"{self.url}|{self.schema_name}"
            with _LOCK:
                eng = _ENGINES.get(cache_key)
                if eng is None:
                    eng = _make_engine(self.url)
                    if self.schema_name:
                        eng = eng.execution_options(schema_translate_map={None: self.schema_name})
                        with eng.begin() as c:
                            _ddl_lock(c)
                            c.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{self.schema_name}"')
                    _ENGINES[cache_key] = eng
            self._engine = eng
        return self._engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def display_url(self) -> str:
        """The URL with any password hidden (safe for logs and metadata)."""
        return sa.engine.make_url(self.url).render_as_string(hide_password=True)

    def setup(self, *metadatas: sa.MetaData) -> None:
        """Create the tables of ``metadatas`` that do not exist yet, and (PostgreSQL) give
        their audit columns the defaults bulk COPY relies on (idempotent; see
        :func:`~ingestion_pipelines.engine.schema.ensure_audit_defaults`)."""
        from ..engine.ledger import metadata as ledger_metadata
        from ..engine.schema import ensure_audit_defaults

        for attempt in (1, 2):
            try:
                with self.engine.begin() as conn:
                    _ddl_lock(conn)
                    for md in (ledger_metadata, *metadatas):
                        md.create_all(conn, checkfirst=True)
                        ensure_audit_defaults(conn, md)
                return
            except sa.exc.DBAPIError:
                # other dialects: another process created a table between our check and our
                # CREATE; the second pass finds it (PostgreSQL is serialised by _ddl_lock)
                if attempt == 2 or self.dialect == "postgresql":
                    raise

    @contextmanager
    def connect(self, dry_run: bool = False) -> Iterator[sa.Connection]:
        """A connection whose work the caller commits per batch; with ``dry_run`` whatever is
        left uncommitted is rolled back at the end (nothing is written)."""
        with self.engine.connect() as conn:
            try:
                yield conn
                if dry_run:
                    conn.rollback()
                else:
                    conn.commit()
            except BaseException:
                conn.rollback()
                raise

    def count(self, table: sa.Table, *where: Any) -> int:
        """``SELECT count(*)`` of ``table`` (optionally filtered), in rows."""
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar() or 0)
