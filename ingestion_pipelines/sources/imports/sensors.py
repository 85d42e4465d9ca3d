"""Sensor of the imports source: one import run per new file content under
``imports/<importer>/`` in the BlobStore (issue 4, item 5)."""


import uuid

from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SensorResult, SkipReason, sensor

from ...engine.landing import content_token, scan_landing
from ...engine.readers import detect_format
from ...resources.storage import BlobStore
from ...resources.warehouse import WarehouseResource
from . import jobs
from .assets import import_file_job, run_config
from .importers import IMPORTERS
from .settings import LANDING_PREFIX

JOB_ID_NAMESPACE = uuid.UUID("6f1c8f2e-2b7a-4d55-9a57-0c1f3e9b6a01")


@sensor(job=import_file_job, minimum_interval_seconds=30, default_status=DefaultSensorStatus.STOPPED)
def imports_landing_sensor(context: SensorEvaluationContext, blob_store: BlobStore, warehouse: WarehouseResource):
    """Starts one import per new file under imports/<importer>/ (run_key = importer + content hash).

    The import job id is derived from the run_key (UUID5), so a file whose content was
    already imported (a job with that id exists and did not fail) is skipped here too, not
    only by Dagster's run_key de-duplication."""
    scan = scan_landing(blob_store, LANDING_PREFIX, context.cursor, page_size=1000)
    candidates: list[tuple[str, str, str, str]] = []  # (key, importer, run_key, job_id)
    seen: set[str] = set()
    for obj in scan.new:
        rest = obj.key[len(LANDING_PREFIX):] if obj.key.startswith(LANDING_PREFIX) else obj.key
        importer, sep, name = rest.partition("/")
        if not sep or not name:
            context.log.info(f"skipping {obj.key}: not under imports/<importer>/")
            continue
        if importer not in IMPORTERS:
            context.log.warning(f"skipping {obj.key}: unknown importer {importer!r} (known: {', '.join(IMPORTERS)})")
            continue
        try:
            detect_format(name)
        except ValueError as e:
            context.log.warning(f"skipping {obj.key}: {e}")
            continue
        token = content_token(blob_store, obj)
        run_key = f"{importer}:{token}"
        if run_key in seen:
            context.log.info(f"skipping {obj.key}: same content as another new file in this tick")
            continue
        seen.add(run_key)
        candidates.append((obj.key, importer, run_key, str(uuid.uuid5(JOB_ID_NAMESPACE, run_key))))
    prior = _prior_statuses(warehouse, [c[3] for c in candidates])  # one query per tick
    requests = []
    for key, importer, run_key, job_id in candidates:
        status = prior.get(job_id)
        if status is not None and status != "failed":
            context.log.info(f"skipping {key}: this content was already imported (job {job_id}: {status})")
            continue
        requests.append(RunRequest(run_key=run_key, run_config=run_config(importer, key, job_id),
                                   tags={"imports/importer": importer, "imports/job_id": job_id}))
    if not requests:
        return SensorResult(skip_reason=SkipReason(f"no new files under {LANDING_PREFIX}"), cursor=scan.cursor)
    return SensorResult(run_requests=requests, cursor=scan.cursor)


def _prior_statuses(warehouse: WarehouseResource, job_ids: list[str]) -> dict[str, str]:
    """``{job_id: status}`` of the jobs that already exist, in one warehouse query (none when
    there are no candidates)."""
    if not job_ids:
        return {}
    try:
        return jobs.job_statuses(warehouse.engine, job_ids)
    except Exception:  # noqa: BLE001 - no import_jobs table yet: nothing was imported
        return {}
