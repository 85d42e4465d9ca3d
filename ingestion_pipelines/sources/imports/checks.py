"""Asset checks of the imports source: every row read is accounted for (DESIGN.md §2 "checks")."""

import sqlalchemy as sa
from dagster import AssetCheckExecutionContext, AssetCheckResult, asset_check

from ...resources.warehouse import WarehouseResource
from .assets import IMPORT_JOB_KEY
from .schema import import_jobs, metadata


@asset_check(asset=IMPORT_JOB_KEY, description="Rows in == rows out: processed = success + failure, and a "
                                               "succeeded import processed every counted row.")
def import_counts_add_up(context: AssetCheckExecutionContext, warehouse: WarehouseResource) -> AssetCheckResult:
    warehouse.setup(metadata)
    with warehouse.engine.connect() as conn:
        job = conn.execute(sa.select(import_jobs).where(import_jobs.c.run_id == context.run.run_id)
                           .order_by(import_jobs.c.created_at.desc())).mappings().first()
    if job is None:
        return AssetCheckResult(passed=False, metadata={"reason": "no import_jobs row for this run"})
    processed, ok, failed, total = (job["processed_rows"], job["success_count"], job["failure_count"],
                                    job["total_rows"])
    problems = []
    if processed != ok + failed:
        problems.append(f"processed_rows {processed} != success {ok} + failure {failed}")
    if job["status"] == "succeeded" and total is not None and processed != total:
        problems.append(f"succeeded but processed_rows {processed} != total_rows {total}")
    return AssetCheckResult(passed=not problems, metadata={
        "import_job_id": job["id"], "status": job["status"], "processed_rows": processed, "success_count": ok,
        "failure_count": failed, "total_rows": total if total is not None else -1,
        "problems": "; ".join(problems) or "none"})
