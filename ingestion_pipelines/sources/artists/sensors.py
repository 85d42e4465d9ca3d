"""Sensor of the artists source: a new fixture under the landing prefix ``artists/`` of the
BlobStore (``STORAGE_URL``) starts one import; the run_key carries the content hash (sha256
locally, the ETag on S3), so the same content never runs twice (the shared loop:
:func:`~ingestion_pipelines.engine.sensors.landing_sensor`)."""

from dagster import RunConfig, RunRequest

from ...engine.sensors import LandingSpec, landing_sensor
from .assets import ArtistsImportConfig
from .jobs import artists_import_job
from .names import LANDING_PREFIX



def _requests(context, landed) -> list[RunRequest]:
    """One import run per new fixture content (config: ``ArtistsImportConfig.fixture``)."""
    return [RunRequest(run_key=f"{f.obj.key}@{f.token}",
                       run_config=RunConfig(ops={"artists_import": ArtistsImportConfig(fixture=f.obj.uri)}),
                       tags={"artists/fixture": f.obj.key})
            for f in landed]


artists_fixture_sensor = landing_sensor(LandingSpec(
    name="artists_fixture_sensor", prefix=LANDING_PREFIX, jobs=[artists_import_job], requests=_requests,
    suffixes=(".json",), page_size=2000,
    description="Starts an artists import for each new fixture (.json) under the landing prefix artists/."))
