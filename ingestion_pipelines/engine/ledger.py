"""Shared bookkeeping table (DESIGN.md §4): the ``ingest_files`` ledger used by every file
source (the DB/API syncs' ``sync_state`` / ``sync_history`` are :mod:`.sync_state`'s).

``ingest_files`` makes file loads idempotent: a file is identified by its content hash
(sha256) per source and tenant; a file whose hash already has status ``succeeded`` is
skipped, a changed file (new hash) loads again with upsert semantics.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

metadata = sa.MetaData()

ingest_files = sa.Table(
    "ingest_files",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("uri", sa.Text, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=True),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("tenant_id", sa.String(64), nullable=False, server_default=""),
    sa.Column("status", sa.String(16), nullable=False),  # running|succeeded|failed|dry_run
    sa.Column("rows_read", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("rows_loaded", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("rows_failed", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("run_id", sa.String(64), nullable=True),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.UniqueConstraint("source", "tenant_id", "uri", "sha256", name="uq_ingest_files_natural_key"),
)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def already_loaded(conn: sa.Connection, *, source: str, uri: str, sha256: str, tenant_id: str = "") -> bool:
    """True when this exact content (``sha256``) of ``uri`` already loaded successfully."""
    q = sa.select(sa.func.count()).select_from(ingest_files).where(
        ingest_files.c.source == source,
        ingest_files.c.tenant_id == tenant_id,
        ingest_files.c.uri == uri,
        ingest_files.c.sha256 == sha256,
        ingest_files.c.status == "succeeded",
    )
    return bool(conn.execute(q).scalar())


def seen_before(conn: sa.Connection, *, source: str, uri: str, tenant_id: str = "") -> bool:
    """True when the ledger has any row of ``uri`` (loaded, failed, or being loaded). When
    not, a loader may read the file once — hashing it while it loads under a placeholder
    ``sha256``, see :func:`rekey_file` — instead of hashing it first: no content of it can be
    "already loaded", and no earlier attempt's rows name a ledger row of it."""
    q = sa.select(ingest_files.c.id).where(
        ingest_files.c.source == source, ingest_files.c.tenant_id == tenant_id, ingest_files.c.uri == uri)
    return conn.execute(q.limit(1)).first() is not None


def rekey_file(conn: sa.Connection, *, source: str, uri: str, tenant_id: str, old_sha256: str,
               new_sha256: str) -> int | None:
    """Give the ledger row recorded under a placeholder ``old_sha256`` (a load that hashed
    its file while loading) its real ``new_sha256``; its ``id`` does not change. When a row
    of (uri, new_sha256) exists already — an attempt of the same content by a concurrent run,
    which may still be writing rows that name it — the placeholder row is deleted instead and
    that earlier row's ``id`` is returned: rows naming the placeholder row
    (``_ingest_file_id``) should be pointed at it. Else None."""
    key = [ingest_files.c.source == source, ingest_files.c.tenant_id == tenant_id, ingest_files.c.uri == uri]
    earlier = conn.execute(sa.select(ingest_files.c.id).where(*key, ingest_files.c.sha256 == new_sha256)).scalar()
    if earlier is not None:
        conn.execute(ingest_files.delete().where(*key, ingest_files.c.sha256 == old_sha256))
        return int(earlier)
    conn.execute(ingest_files.update().where(*key, ingest_files.c.sha256 == old_sha256).values(sha256=new_sha256))
    return None


def record_file(conn: sa.Connection, *, source: str, uri: str, sha256: str, size: int | None,
                status: str, run_id: str | None, tenant_id: str = "", rows_read: int = 0,
                rows_loaded: int = 0, rows_failed: int = 0, error: str | None = None,
                started_at: dt.datetime | None = None) -> int:
    """Insert or update the ledger row for (source, tenant_id, uri, sha256); returns its
    ``id`` (stable across updates, and across :func:`rekey_file`)."""
    values: dict[str, Any] = dict(
        size=size, status=status, run_id=run_id, rows_read=rows_read, rows_loaded=rows_loaded,
        rows_failed=rows_failed, error=error, finished_at=_now(),
    )
    key = dict(source=source, tenant_id=tenant_id, uri=uri, sha256=sha256)
    where = [ingest_files.c[k] == v for k, v in key.items()]
    res = conn.execute(ingest_files.update().where(*where).values(**values))
    if res.rowcount == 0:
        ins = conn.execute(ingest_files.insert().values(**key, **values, started_at=started_at or _now()))
        if ins.inserted_primary_key and ins.inserted_primary_key[0] is not None:
            return int(ins.inserted_primary_key[0])
    return int(conn.execute(sa.select(ingest_files.c.id).where(*where)).scalar_one())
