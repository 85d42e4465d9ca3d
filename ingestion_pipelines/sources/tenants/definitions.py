"""Definitions of the tenants source (group ``tenants``, seed 001): the ``tenants`` asset, the
six per-tenant partitioned assets with their checks, their jobs and the landing sensor."""

from dagster import Definitions

from .assets import entity_assets, tenants
from .sensors import tenants_files_job, tenants_landing_sensor, tenants_load_job

defs = Definitions(
    assets=[tenants, *entity_assets],
    jobs=[tenants_load_job, tenants_files_job],
    sensors=[tenants_landing_sensor],
)
