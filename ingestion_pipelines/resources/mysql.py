"""MySQLResource: a pooled SQLAlchemy connection to a source MySQL database (Genius CRM).

Connection settings come from ``GENIUS_DB_*`` variables through ``dagster.EnvVar`` in
definitions; the password is never logged (``display_url`` hides it).
"""

from __future__ import annotations

import sqlalchemy as sa
from dagster import ConfigurableResource, Failure
from pydantic import PrivateAttr


class MySQLResource(ConfigurableResource):
    """A MySQL/MariaDB source (``mysql+pymysql``), read-only use by the CRM sources."""

    host: str | None = None
    port: int = 3306
    database: str | None = None
    user: str | None = None
    password: str | None = None
    env_prefix: str = "GENIUS_DB"

    _engine: sa.Engine | None = PrivateAttr(default=None)

    def _url(self) -> sa.URL:
        missing = [f"{self.env_prefix}_{n}" for n, v in (("HOST", self.host), ("NAME", self.database), ("USER", self.user)) if not v]
        if missing:
            raise Failure(f"MySQL source not configured: set {', '.join(missing)}")
        return sa.URL.create("mysql+pymysql", username=self.user, password=self.password or None,
                             host=self.host, port=self.port, database=self.database, query={"charset": "utf8mb4"})

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            self._engine = sa.create_engine(self._url(), pool_pre_ping=True, pool_recycle=3600)
        return self._engine

    def display_url(self) -> str:
        return self._url().render_as_string(hide_password=True)
