"""Asset checks of the imports source: every row read is accounted for (DESIGN.md §2 "checks"),
in the engine's one check style (:func:`ingestion_pipelines.engine.checks.none_found`)."""

import sqlalchemy as sa
from dagster import AssetCheckExecutionContext, AssetCheckResult, asset_check

from ...engine.checks import none_found
from ...resources.warehouse import WarehouseResource
from .assets import IMPORT_JOB_KEY
from .schema import import_jobs, metadata


@asset_check(asset=IMPORT_JOB_KEY, description="Rows in == rows out: processed = success + failure, and a "
                                               "succeeded import processed every counted row.")
def import_counts_add_up(context: AssetCheckExecutionContext, warehouse: WarehouseResource) -> AssetCheckResult:
    """Reads this run's ``import_jobs`` row; each rule broken counts 1 (metadata: the row's counts)."""
    warehouse.setup(metadata)
    with warehouse.engine.connect() as conn:
        job = conn.execute(sa.select(import_jobs).where(import_jobs.c.run_id == context.run.run_id)
                           .order_by(import_jobs.c.created_at.desc())).mappings().first()
    if job is None:
        return none_found({"import_jobs_rows_missing": 1}, reason="no import_jobs row for this run")
    processed, ok, failed, total = (job["processed_rows"], job["success_count"], job["failure_count"],
                                    job["total_rows"])
    found = {
        "processed_not_success_plus_failure": int(processed != ok + failed),
        "succeeded_without_every_row": int(job["status"] == "succeeded" and total is not None and processed != total),
    }
    return none_found(found, import_job_id=job["id"], status=job["status"], processed_rows=processed,
                      success_count=ok, failure_count=failed, total_rows=total if total is not None else -1)
