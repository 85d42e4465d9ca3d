"""Sensor of the imports source: one import run per new file content under
``imports/<importer>/`` in the BlobStore (issue 4, item 5); the shared loop (cursor, paged
listings, content hashes) is :func:`~ingestion_pipelines.engine.sensors.landing_sensor`."""


import uuid

from dagster import RunRequest

from ...engine.readers import detect_format
from ...engine.sensors import LandingSpec, landing_sensor
from ...resources.storage import BlobObject
from ...resources.warehouse import WarehouseResource
from . import job_records
from .jobs import import_file_job, run_config
from .importers import IMPORTERS
from .names import LANDING_PREFIX

JOB_ID_NAMESPACE = uuid.UUID("6f1c8f2e-2b7a-4d55-9a57-0c1f3e9b6a01")


def _importer_of(key: str) -> tuple[str, str]:
    """(importer, file name) of a key ``imports/<importer>/<name>`` (empty when not so shaped)."""
    rest = key[len(LANDING_PREFIX):] if key.startswith(LANDING_PREFIX) else key
    importer, sep, name = rest.partition("/")
    return (importer, name) if sep and name else ("", "")


def _accept(context, obj: BlobObject) -> bool:
    """A file under ``imports/<known importer>/`` in a readable format; the log says why not."""
    importer, name = _importer_of(obj.key)
    if not importer:
        context.log.info(f"skipping {obj.key}: not under imports/<importer>/")
        return False
    if importer not in IMPORTERS:
        context.log.warning(f"skipping {obj.key}: unknown importer {importer!r} (known: {', '.join(IMPORTERS)})")
        return False
    try:
        detect_format(name)
    except ValueError as e:
        context.log.warning(f"skipping {obj.key}: {e}")
        return False
    return True


def _requests(context, landed) -> list[RunRequest]:
    """One import per new content (run_key = importer + content hash).

    The import job id is derived from the run_key (UUID5), so a file whose content was
    already imported (a job with that id exists and did not fail) is skipped here too, not
    only by Dagster's run_key de-duplication."""
    candidates: dict[str, tuple[str, str, str]] = {}  # run_key -> (key, importer, job_id)
    for f in landed:
        importer = _importer_of(f.obj.key)[0]
        run_key = f"{importer}:{f.token}"
        if run_key in candidates:
            context.log.info(f"skipping {f.obj.key}: same content as another new file in this tick")
            continue
        candidates[run_key] = (f.obj.key, importer, str(uuid.uuid5(JOB_ID_NAMESPACE, run_key)))
    prior = _prior_statuses(context.resources.warehouse, [c[2] for c in candidates.values()])  # one query per tick
    requests = []
    for run_key, (key, importer, job_id) in candidates.items():
        status = prior.get(job_id)
        if status is not None and status != "failed":
            context.log.info(f"skipping {key}: this content was already imported (job {job_id}: {status})")
            continue
        requests.append(RunRequest(run_key=run_key, run_config=run_config(importer, key, job_id),
                                   tags={"imports/importer": importer, "imports/job_id": job_id}))
    return requests


imports_landing_sensor = landing_sensor(LandingSpec(
    name="imports_landing_sensor", prefix=LANDING_PREFIX, jobs=[import_file_job], requests=_requests,
    accept=_accept, page_size=1000, resources=frozenset({"warehouse"}),
    description="Starts one import per new file under imports/<importer>/ (run_key = importer + content hash)."))


def _prior_statuses(warehouse: WarehouseResource, job_ids: list[str]) -> dict[str, str]:
    """``{job_id: status}`` of the jobs that already exist, in one warehouse query (none when
    there are no candidates)."""
    if not job_ids:
        return {}
    try:
        return job_records.job_statuses(warehouse.engine, job_ids)
    except Exception:  # noqa: BLE001 - no import_jobs table yet: nothing was imported
        return {}
