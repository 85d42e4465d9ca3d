"""MySQLResource: a pooled, read-only SQLAlchemy connection to a source database (Genius CRM's
MySQL; any SQLAlchemy URL, e.g. the demo's bundled SQLite copy).

Configuration (DESIGN.md §3, §10), in this order:

* ``url``: a whole SQLAlchemy URL (``GENIUS_DB_URL``), e.g. ``mysql+pymysql://user:pw@host/db``
  or ``sqlite:///path/genius.db``;
* else ``host``, ``port`` (default 3306), ``database``, ``user``, ``password`` (``GENIUS_DB_HOST``,
  ``GENIUS_DB_PORT``, ``GENIUS_DB_NAME``, ``GENIUS_DB_USER``, ``GENIUS_DB_PASSWORD``) for
  ``mysql+pymysql``.

Definitions pass the variables that are set as ``dagster.EnvVar`` (the UI shows their names,
never their values). A field left unset is read from ``<env_prefix>_*`` in the environment
when the engine is first built (through ``EnvVar.get_value``), so a command that sets
``GENIUS_DB_URL`` before it launches a run is honoured. Nothing configured, or a part missing,
raises :class:`dagster.Failure` naming the variables to set. The password never appears in
logs or metadata: :meth:`MySQLResource.display_url` hides it.

The engine: temporal values arrive as the server's text (:func:`text_temporals`); ``pool_pre_ping`` (a connection the server closed is replaced, not handed out),
``pool_recycle`` 1 h; MySQL sessions are ``utf8mb4``, ``READ ONLY`` and get a long
``net_write_timeout`` (a streamed read waits while the warehouse writes a batch); SQLite
connections are ``query_only``.
"""

from __future__ import annotations

import sqlalchemy as sa
from dagster import ConfigurableResource, EnvVar, Failure
from pydantic import Field, PrivateAttr

#: MySQL session settings of every source connection.
MYSQL_INIT = "SET SESSION net_write_timeout = 3600, SESSION net_read_timeout = 3600, SESSION tx_read_only = 1"


class MySQLResource(ConfigurableResource):
    """A SQL source database, read only (``mysql+pymysql`` unless ``url`` says otherwise)."""

    url: str | None = Field(default=None, description="SQLAlchemy URL of the source (GENIUS_DB_URL); overrides the parts.")
    host: str | None = Field(default=None, description="MySQL host (GENIUS_DB_HOST).")
    port: int | None = Field(default=None, description="MySQL port (GENIUS_DB_PORT, default 3306).")
    database: str | None = Field(default=None, description="Database name (GENIUS_DB_NAME).")
    user: str | None = Field(default=None, description="User (GENIUS_DB_USER).")
    password: str | None = Field(default=None, description="Password (GENIUS_DB_PASSWORD).")
    env_prefix: str = Field(default="GENIUS_DB", description="Prefix of the variables read for unset fields.")

    _engine: sa.Engine | None = PrivateAttr(default=None)

    def _env(self, name: str) -> str | None:
        return EnvVar(f"{self.env_prefix}_{name}").get_value() or None

    def sa_url(self) -> sa.URL:
        """The source URL (with its password). Raises ``Failure`` naming what is missing."""
        url = self.url or self._env("URL")
        if url:
            u = sa.engine.make_url(url)
            if u.get_backend_name() == "mysql":
                u = u.set(drivername="mysql+pymysql" if u.drivername == "mysql" else u.drivername,
                          query={**u.query, "charset": "utf8mb4"})
            return u
        parts = {"HOST": self.host or self._env("HOST"), "NAME": self.database or self._env("NAME"),
                 "USER": self.user or self._env("USER")}
        missing = [f"{self.env_prefix}_{n}" for n, v in parts.items() if not v]
        if missing:
            raise Failure(f"source database not configured: set {self.env_prefix}_URL, or {', '.join(missing)}"
                          + (f" (beside the {self.env_prefix}_* already set)" if len(missing) < 3 else ""))
        port = self.port or int(self._env("PORT") or 3306)
        return sa.URL.create("mysql+pymysql", username=parts["USER"], password=self.password or self._env("PASSWORD"),
                             host=parts["HOST"], port=port, database=parts["NAME"], query={"charset": "utf8mb4"})

    @property
    def engine(self) -> sa.Engine:
        """The pooled engine (built once per resource instance)."""
        if self._engine is None:
            self._engine = source_engine(self.sa_url())
        return self._engine

    def teardown_after_execution(self, context) -> None:
        """Close the pooled connections when the run's step is done."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def display_url(self) -> str:
        """The URL without its password (``***``), for logs, metadata and ``_source``."""
        return self.sa_url().render_as_string(hide_password=True)

    def source_uri(self) -> str:
        """``<backend>://host:port/database`` (no user, no password): the rows' ``_source`` prefix."""
        u = self.sa_url()
        if u.get_backend_name() == "sqlite":
            return f"sqlite:///{u.database}"
        return f"{u.get_backend_name()}://{u.host}:{u.port or 3306}/{u.database}"


def text_temporals() -> dict:
    """pymysql's conversions, except that ``DATETIME``, ``TIMESTAMP``, ``DATE`` and ``TIME``
    arrive as the server's text (``2025-06-01 12:00:00``, ``08:30:00``, a zero date as
    ``0000-00-00 00:00:00``): the reader types them by the warehouse column
    (:func:`ingestion_pipelines.engine.sql_sync.to_column`, C-level ``fromisoformat``; measured
    ~3x cheaper than pymysql's regex parsing) and keeps the source's own text in ``raw``."""
    from pymysql.constants import FIELD_TYPE
    from pymysql.converters import conversions

    return {k: v for k, v in conversions.items()
            if k not in (FIELD_TYPE.DATETIME, FIELD_TYPE.TIMESTAMP, FIELD_TYPE.DATE, FIELD_TYPE.TIME)}


def source_engine(url: sa.URL | str) -> sa.Engine:
    """A pooled, read-only engine for source ``url`` (see the module docstring)."""
    u = sa.engine.make_url(url)
    backend = u.get_backend_name()
    if backend == "mysql":
        engine = sa.create_engine(u, pool_pre_ping=True, pool_recycle=3600, pool_size=2, max_overflow=2,
                                  connect_args={"init_command": MYSQL_INIT, "charset": "utf8mb4", "conv": text_temporals()})
    elif backend == "sqlite":
        from pathlib import Path

        if not u.database or not Path(u.database).is_file():
            raise FileNotFoundError(f"source database file not found: {u.database}")
        engine = sa.create_engine(u)

        @sa.event.listens_for(engine, "connect")
        def _query_only(dbapi_conn, _rec):
            dbapi_conn.execute("PRAGMA query_only = ON")
    else:
        engine = sa.create_engine(u, pool_pre_ping=True, pool_recycle=3600)

        if backend == "postgresql":
            @sa.event.listens_for(engine, "connect")
            def _read_only(dbapi_conn, _rec):
                with dbapi_conn.cursor() as cur:
                    cur.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    return engine
