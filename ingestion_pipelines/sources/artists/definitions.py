"""Definitions of the artists source (group ``artists``): assets, checks, jobs, sensor."""

from dagster import AssetSelection, Definitions, define_asset_job

from .assets import ENTITIES, ROLES, SOCIAL, artists_import, fixture_export, media_upload
from .checks import CHECKS
from .sensors import artists_fixture_sensor

artists_import_job = define_asset_job(
    "artists_import_job", selection=AssetSelection.assets(ENTITIES, ROLES, SOCIAL),
    description="Import an entity fixture (seed 000 import_entities_fixture).")
artists_export_job = define_asset_job(
    "artists_export_job", selection=AssetSelection.assets(fixture_export),
    description="Export entities as a fixture (seed 000 export_artists_fixture).")
artists_upload_media_job = define_asset_job(
    "artists_upload_media_job", selection=AssetSelection.assets(media_upload),
    description="Move locally stored photos to S3 (seed 000 upload_media_to_s3).")

defs = Definitions(
    assets=[artists_import, fixture_export, media_upload],
    asset_checks=CHECKS,
    jobs=[artists_import_job, artists_export_job, artists_upload_media_job],
    sensors=[artists_fixture_sensor],
)
