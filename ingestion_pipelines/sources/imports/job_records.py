"""The ``import_jobs`` table's operations: create, progress, finish, cancel, status JSON.

Every function takes the warehouse's SQLAlchemy ``engine`` and runs its own short
transaction, so progress and cancel flags are visible to other processes at once, whatever
the import's own connection is doing.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Mapping

import sqlalchemy as sa

from .schema import TERMINAL_STATUSES, import_jobs


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def create_job(engine: sa.Engine, job_id: str, importer: str, file: str, options: Mapping[str, Any],
               run_id: str | None = None) -> None:
    """Insert job ``job_id`` as ``queued`` unless it exists (idempotent)."""
    with engine.begin() as c:
        if c.execute(sa.select(import_jobs.c.id).where(import_jobs.c.id == job_id)).first() is None:
            c.execute(import_jobs.insert().values(
                id=job_id, importer=importer, file=file, status="queued", options=dict(options),
                created_at=now(), run_id=run_id, processed_rows=0, success_count=0, failure_count=0))


def update_job(engine: sa.Engine, job_id: str, **values: Any) -> None:
    """Set columns of job ``job_id``."""
    with engine.begin() as c:
        c.execute(import_jobs.update().where(import_jobs.c.id == job_id).values(**values))


def get_job(engine: sa.Engine, job_id: str) -> dict[str, Any] | None:
    """The job row as a dict, or None."""
    with engine.connect() as c:
        m = c.execute(sa.select(import_jobs).where(import_jobs.c.id == job_id)).mappings().first()
        return dict(m) if m else None


def job_status(engine: sa.Engine, job_id: str) -> str | None:
    with engine.connect() as c:
        return c.execute(sa.select(import_jobs.c.status).where(import_jobs.c.id == job_id)).scalar()


def job_statuses(engine: sa.Engine, job_ids: list[str]) -> dict[str, str]:
    """``{job_id: status}`` of the given ids that exist, in one connection and one query
    (``job_ids`` up to a few thousand: one sensor tick's new files). Raises SQLAlchemy errors
    as they come (e.g. when ``import_jobs`` does not exist yet)."""
    ids = list(dict.fromkeys(job_ids))
    if not ids:
        return {}
    with engine.connect() as c:
        q = sa.select(import_jobs.c.id, import_jobs.c.status).where(import_jobs.c.id.in_(ids))
        return {i: st for i, st in c.execute(q)}


def request_cancel(engine: sa.Engine, job_id: str) -> str | None:
    """Ask a queued or running job to stop: its status becomes ``cancelling`` (the import
    stops at its next batch boundary and ends ``cancelled``). Returns the job's status after
    the request (unchanged when it had already ended), or None when there is no such job."""
    with engine.begin() as c:
        c.execute(import_jobs.update()
                  .where(import_jobs.c.id == job_id, import_jobs.c.status.in_(("queued", "running")))
                  .values(status="cancelling"))
        return c.execute(sa.select(import_jobs.c.status).where(import_jobs.c.id == job_id)).scalar()


def _iso(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, dt.datetime) and v.tzinfo is None:
        v = v.replace(tzinfo=dt.timezone.utc)  # SQLite hands back naive UTC
    return v.isoformat().replace("+00:00", "Z")


def _file(v: Any) -> dict[str, Any]:
    if isinstance(v, str):
        v = json.loads(v)
    v = v or {}
    return {"uri": v.get("uri"), "url": v.get("url"), "rows": v.get("rows")}


def status_json(job: Mapping[str, Any]) -> dict[str, Any]:
    """The seed's status document for one job row (seed 003, "Check Status"): id, importer,
    file, status, run_id, created/started/finished timestamps (ISO 8601, UTC), total_rows,
    processed_rows, success_count, failure_count, percentage, result_files {success_file,
    failed_file: {uri, url, rows}}, error_message."""
    return {
        "id": job["id"],
        "importer": job["importer"],
        "file": job["file"],
        "status": job["status"],
        "run_id": job.get("run_id"),
        "created_at": _iso(job.get("created_at")),
        "started_at": _iso(job.get("started_at")),
        "finished_at": _iso(job.get("finished_at")),
        "total_rows": job.get("total_rows"),
        "processed_rows": job.get("processed_rows") or 0,
        "success_count": job.get("success_count") or 0,
        "failure_count": job.get("failure_count") or 0,
        "percentage": job.get("percentage"),
        "result_files": {"success_file": _file(job.get("success_file")),
                         "failed_file": _file(job.get("failed_file"))},
        "error_message": job.get("error_message"),
    }


def is_terminal(status: str | None) -> bool:
    return status in TERMINAL_STATUSES
