"""Jobs of the artists source (group ``artists``): every job of the source is here, named
``artists_<what>_job`` (names are contracts: the UI, the README, ``dagster job execute -j``)."""

from dagster import AssetSelection, define_asset_job

from . import names
from .assets import ENTITIES, ROLES, SOCIAL, fixture_export, media_upload

artists_import_job = define_asset_job(
    names.IMPORT_JOB, selection=AssetSelection.assets(ENTITIES, ROLES, SOCIAL),
    description="Import an entity fixture (seed 000 import_entities_fixture).")
artists_export_job = define_asset_job(
    names.EXPORT_JOB, selection=AssetSelection.assets(fixture_export),
    description="Export entities as a fixture (seed 000 export_artists_fixture).")
artists_upload_media_job = define_asset_job(
    names.UPLOAD_MEDIA_JOB, selection=AssetSelection.assets(media_upload),
    description="Move locally stored photos to S3 (seed 000 upload_media_to_s3).")

JOBS = [artists_import_job, artists_export_job, artists_upload_media_job]
