"""Definitions of the artists source (group ``artists``): assets, checks, jobs, sensor, schedule."""

from dagster import Definitions

from .assets import artists_import, fixture_export, media_upload
from .checks import CHECKS
from .jobs import JOBS
from .schedules import artists_export_schedule
from .sensors import artists_fixture_sensor

defs = Definitions(
    assets=[artists_import, fixture_export, media_upload],
    asset_checks=CHECKS,
    jobs=JOBS,
    sensors=[artists_fixture_sensor],
    schedules=[artists_export_schedule],
)
