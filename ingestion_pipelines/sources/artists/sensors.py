"""Sensor of the artists source: a new fixture under the landing prefix ``artists/`` of the
BlobStore (``STORAGE_URL``) starts one import; the run_key carries the content hash (sha256
locally, the ETag on S3), so the same content never runs twice."""


from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SensorResult, SkipReason, sensor

from ...engine.landing import content_token, scan_landing
from ...resources.storage import BlobStore

LANDING_PREFIX = "artists/"


@sensor(job_name="artists_import_job", minimum_interval_seconds=30, default_status=DefaultSensorStatus.STOPPED,
        description="Starts an artists import for each new fixture (.json) under the landing prefix artists/.")
def artists_fixture_sensor(context: SensorEvaluationContext, blob_store: BlobStore):
    """One run per new fixture content under ``artists/`` (cursor: last-modified watermark)."""
    scan = scan_landing(blob_store, LANDING_PREFIX, context.cursor, page_size=2000, suffixes=(".json",))
    requests = []
    for obj in scan.new:
        token = content_token(blob_store, obj)
        requests.append(RunRequest(
            run_key=f"{obj.key}@{token}",
            run_config={"ops": {"artists_import": {"config": {"fixture": obj.uri}}}},
            tags={"artists/fixture": obj.key},
        ))
    if not requests:
        return SensorResult(skip_reason=SkipReason(f"no new fixture under {LANDING_PREFIX}"), cursor=scan.cursor)
    return SensorResult(run_requests=requests, cursor=scan.cursor)
