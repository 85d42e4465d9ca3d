"""``ingest`` subcommands of the artists source (seed 000's management commands):
``import-entities``, ``export-artists``, ``upload-media``, each one run of an artists job with
its typed config (``sources.artists.assets``)."""

from __future__ import annotations

import os

import click

from ..settings import DATA_DIR
from ..sources.artists import names
from .steps import DemoStep


def _run(job: str, op: str, config) -> None:
    """Run ``job`` with ``config`` (a ``dagster.Config`` of ``sources.artists.assets``) as
    its op ``op``'s config, print its summary and exit (``launch.run_and_report``)."""
    from dagster import RunConfig

    from ..launch import run_and_report

    run_and_report(job, RunConfig(ops={op: config}))


@click.command("import-entities")
@click.argument("fixture")
@click.option("--dry-run", is_flag=True, help="Preview: report what would be imported, write nothing.")
@click.option("--skip-photos", is_flag=True, help="Do not download or change profile photos.")
@click.option("--update-existing", is_flag=True, help="Update existing entities instead of skipping them.")
@click.option("--batch-size", type=int, default=200, show_default=True, help="Entities per transaction.")
@click.option("--photo-bucket", "photo_buckets", multiple=True, metavar="BUCKET",
              help="An S3 bucket (besides the storage bucket) photos may be read from with your AWS credentials; repeatable.")
def import_entities(fixture: str, dry_run: bool, skip_photos: bool, update_existing: bool, batch_size: int,
                    photo_buckets: tuple[str, ...]) -> None:
    """Import a JSON entity FIXTURE (a path, s3://bucket/key, or a BlobStore key)."""
    if os.path.exists(fixture):
        fixture = os.path.abspath(fixture)
    from ..sources.artists.assets import ArtistsImportConfig

    _run(names.IMPORT_JOB, "artists_import", ArtistsImportConfig(
        fixture=fixture, dry_run=dry_run, skip_photos=skip_photos, update_existing=update_existing,
        batch_size=batch_size, photo_s3_buckets=list(photo_buckets)))


@click.command("export-artists")
@click.option("--output", default="artists_fixture.json", show_default=True, help="Output file (a local path) or a BlobStore key with --to-storage.")
@click.option("--internal-only", is_flag=True, help="Export only internal artists (is_internal=True).")
@click.option("--to-storage", is_flag=True, help="Write OUTPUT as a key in the BlobStore (STORAGE_URL) instead of a local file.")
def export_artists(output: str, internal_only: bool, to_storage: bool) -> None:
    """Export entities as a fixture (ids, roles, social accounts, stored photo URLs)."""
    if not to_storage:
        output = os.path.abspath(output)
    from ..sources.artists.assets import ArtistsExportConfig

    _run(names.EXPORT_JOB, "artists__fixture_export", ArtistsExportConfig(output=output, internal_only=internal_only))


@click.command("upload-media")
@click.option("--local-media-root", default=None, help="Folder the photos were stored in (default: the local storage dir).")
@click.option("--dry-run", is_flag=True, help="List what would be uploaded; change nothing.")
def upload_media(local_media_root: str | None, dry_run: bool) -> None:
    """Move locally stored photos to S3 (STORAGE_URL=s3://...) and repoint the entities."""
    root = {"local_media_root": os.path.abspath(local_media_root)} if local_media_root else {}
    from ..sources.artists.assets import MediaUploadConfig

    _run(names.UPLOAD_MEDIA_JOB, "artists__media_upload", MediaUploadConfig(dry_run=dry_run, **root))


COMMANDS = [import_entities, export_artists, upload_media]


def _demo_config():
    from dagster import RunConfig

    from ..sources.artists.assets import ArtistsImportConfig

    return RunConfig(ops={"artists_import": ArtistsImportConfig(fixture=str(DATA_DIR / "artists" / "artists_fixture.json"))})


DEMO_STEPS = [DemoStep.job("artists: import data/artists/artists_fixture.json", names.IMPORT_JOB, _demo_config)]
