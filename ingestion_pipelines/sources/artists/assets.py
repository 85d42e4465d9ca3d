"""Assets of the artists source (group ``artists``).

* ``artists/entities``, ``artists/entity_roles``, ``artists/social_media_accounts``: one
  fixture import (seed 000 ``import_entities_fixture``) writes all three.
* ``artists/fixture_export``: the seed's ``export_artists_fixture``.
* ``artists/media_upload``: the seed's ``upload_media_to_s3`` (workflow 4).
"""


import json
from pathlib import Path

import sqlalchemy as sa
from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    Config,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
    multi_asset,
)
from pydantic import Field

from ...engine.asset_metadata import file_link, table_metadata, warehouse_kind
from ...engine.landing import resolve_location
from ...engine.runs import run_terminating
from ...resources.http import HttpClient
from ...resources.storage import BlobStore, LocalBlobStore
from ...resources.warehouse import WarehouseResource
from ...settings import DATA_DIR, state_dir
from .names import GROUP
from .importer import FixtureError, ImportOptions, ImportResult, export_fixture, import_fixture
from .schema import entities, entity_roles, metadata, social_media_accounts

ENTITIES = AssetKey([GROUP, "entities"])
ROLES = AssetKey([GROUP, "entity_roles"])
SOCIAL = AssetKey([GROUP, "social_media_accounts"])
DEFAULT_FIXTURE = str(DATA_DIR / "artists" / "artists_fixture.json")
#: Shown on every asset of the source (filterable in the UI's catalog).
TAGS = {"seed": "000", "ingestion/method": "file"}
WAREHOUSE = warehouse_kind()


class ArtistsImportConfig(Config):
    """Options of one fixture import (seed 000's command options)."""

    fixture: str = Field(default=DEFAULT_FIXTURE, description="Fixture location: a local path, s3://bucket/key, or a key in the BlobStore (STORAGE_URL).")
    dry_run: bool = Field(default=False, description="Run everything, report what would happen, write nothing.")
    skip_photos: bool = Field(default=False, description="Do not download or change profile photos.")
    update_existing: bool = Field(default=False, description="Update entities that exist (roles and social accounts replaced) instead of skipping them.")
    batch_size: int = Field(default=200, description="Entities per transaction.")
    photo_workers: int = Field(default=8, description="Concurrent photo downloads.")
    max_photo_bytes: int = Field(default=10 * 1024 * 1024, description="Largest accepted photo, in bytes.")
    photo_s3_buckets: list[str] = Field(default=[], description="S3 buckets besides the store's own that photos may be read from with this pipeline's credentials (others: public https only).")


def _preview(res: ImportResult) -> str:
    lines = [f"**{res.entities.summary()}**", "",
             f"Photos: {res.photos['downloaded']} downloaded, {res.photos['reused']} reused, "
             f"{res.photos['failed']} failed, {res.photos['skipped']} skipped."]
    if res.entities.failures:
        lines += ["", "| # | failed entity: reason |", "|---|---|"]
        for f in res.entities.failures[:10]:
            lines.append(f"| {f.row} | {str(f.error).replace('|', '/')[:200]} |")
    if res.photo_errors:
        lines += ["", "| # | entity | photo problem |", "|---|---|---|"]
        for row, name, err in res.photo_errors[:10]:
            lines.append(f"| {row} | {name.replace('|', '/')} | {err.replace('|', '/')[:160]} |")
    return "\n".join(lines)


@multi_asset(
    specs=[
        AssetSpec(ENTITIES, group_name=GROUP, description="Artists and companies (entities) imported from a seed-000 JSON fixture, with their profile photos.",
                  kinds={"json", WAREHOUSE}, tags=TAGS, metadata=table_metadata(entities)),
        AssetSpec(ROLES, group_name=GROUP, deps=[ENTITIES], description="Roles of each entity (artist, producer, label, ...), with the is_internal flag.",
                  kinds={"json", WAREHOUSE}, tags=TAGS, metadata=table_metadata(entity_roles)),
        AssetSpec(SOCIAL, group_name=GROUP, deps=[ENTITIES], description="Social media accounts of each entity, with follower counts.",
                  kinds={"json", WAREHOUSE}, tags=TAGS, metadata=table_metadata(social_media_accounts)),
    ],
    name="artists_import",
    can_subset=False,
)
def artists_import(context: AssetExecutionContext, config: ArtistsImportConfig, warehouse: WarehouseResource,
                   blob_store: BlobStore, http: HttpClient):
    """Import an entity fixture into entities, entity_roles and social_media_accounts."""
    warehouse.setup(metadata)
    loc = resolve_location(config.fixture, blob_store)
    opts = ImportOptions(dry_run=config.dry_run, skip_photos=config.skip_photos, update_existing=config.update_existing,
                         batch_size=config.batch_size, photo_workers=config.photo_workers,
                         max_photo_bytes=config.max_photo_bytes, photo_s3_buckets=frozenset(config.photo_s3_buckets))
    context.log.info(f"importing {loc.uri} (dry_run={opts.dry_run}, update_existing={opts.update_existing}, skip_photos={opts.skip_photos})")
    with warehouse.connect(dry_run=opts.dry_run) as conn:
        try:
            res = import_fixture(loc, conn=conn, store=blob_store, http=http, options=opts, run_id=context.run_id,
                                 log=context.log, should_stop=run_terminating(context))
        except FixtureError as e:
            raise Failure(description=f"{loc.uri}: {e}", metadata={"fixture": loc.uri}) from None
    for row, name, err in res.photo_errors[:50]:
        context.log.warning(f"photo of entity #{row} ({name}) not imported: {err}")
    for f in res.entities.failures[:50]:
        context.log.warning(f"failed: {f.error}")
    context.log.info(f"artists/entities: {res.entities.summary()}")
    counts = dict(res.entities.counts)
    common = {"dry_run": opts.dry_run, "fixture": loc.uri, "fixture_sha256": res.sha256}
    yield MaterializeResult(
        asset_key=ENTITIES,
        metadata={
            **common, **counts,
            "dagster/row_count": warehouse.count(entities),
            "photos_downloaded": res.photos["downloaded"], "photos_reused": res.photos["reused"],
            "photos_failed": res.photos["failed"], "photos_skipped": res.photos["skipped"],
            "phones_kept_as_typed": res.phone_not_e164,
            "failed_rows_file": file_link(res.failed_rows_file),
            "failed_fixture_file": file_link(res.failed_fixture_file),
            **res.entities.warnings_metadata(res.warnings_file),
            "preview": MetadataValue.md(_preview(res)),
        },
    )
    for key, table, counts in ((ROLES, entity_roles, res.roles), (SOCIAL, social_media_accounts, res.social)):
        yield MaterializeResult(asset_key=key, metadata={**common, **counts, "dagster/row_count": warehouse.count(table)})


class ArtistsExportConfig(Config):
    """Options of the seed's ``export_artists_fixture``."""

    output: str = Field(default="exports/artists_fixture.json", description="A key in the BlobStore, or a local path (absolute, or starting with ./).")
    internal_only: bool = Field(default=False, description="Only entities with an internal role (is_internal=true).")


@asset(key=AssetKey([GROUP, "fixture_export"]), group_name=GROUP, deps=[ENTITIES, ROLES, SOCIAL], kinds={"json", WAREHOUSE},
       tags=TAGS)
def fixture_export(context: AssetExecutionContext, config: ArtistsExportConfig, warehouse: WarehouseResource,
                   blob_store: BlobStore) -> MaterializeResult:
    """A seed-000 JSON fixture of the entities (ids, roles, social accounts, stored photo URLs)."""
    warehouse.setup(metadata)
    with warehouse.engine.connect() as conn:
        fixture = export_fixture(conn, internal_only=config.internal_only)
    data = json.dumps(fixture, indent=2, ensure_ascii=False).encode()
    out = config.output
    if out.startswith(("/", "./", "../")):
        path = Path(out).resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        uri = path.as_uri()
    else:
        uri = blob_store.put_bytes(out, data, content_type="application/json")
    context.log.info(f"exported {len(fixture)} entities to {uri}")
    return MaterializeResult(metadata={"entities": len(fixture), "output": file_link(uri), "internal_only": config.internal_only,
                                       "dagster/row_count": len(fixture), "bytes": len(data)})


class MediaUploadConfig(Config):
    """Options of the seed's ``upload_media_to_s3``."""

    local_media_root: str = Field(default_factory=lambda: str(state_dir() / "storage"),
                                  description="The local storage folder the photos were stored in before the move to S3.")
    dry_run: bool = Field(default=False, description="List what would be uploaded; change nothing.")


@asset(key=AssetKey([GROUP, "media_upload"]), group_name=GROUP, deps=[ENTITIES], kinds={"s3", WAREHOUSE}, tags=TAGS)
def media_upload(context: AssetExecutionContext, config: MediaUploadConfig, warehouse: WarehouseResource,
                 blob_store: BlobStore) -> MaterializeResult:
    """Locally stored profile photos moved to S3 (STORAGE_URL=s3://...), entities repointed."""
    if not blob_store.is_remote():
        context.log.warning("STORAGE_URL is local: nothing to upload. Set STORAGE_URL=s3://bucket/prefix "
                            "(and AWS_ENDPOINT_URL for MinIO) to move photos to S3.")
        return MaterializeResult(metadata={"uploaded": 0, "skipped_reason": "STORAGE_URL is not s3://"})
    warehouse.setup(metadata)
    local = LocalBlobStore(root=config.local_media_root)
    counts = {"uploaded": 0, "already_on_s3": 0, "missing": 0}
    with warehouse.connect(dry_run=config.dry_run) as conn:
        rows = conn.execute(sa.select(entities.c.id, entities.c.display_name, entities.c.photo_uri)
                            .where(entities.c.photo_uri.is_not(None))).all()
        for eid, name, uri in rows:
            if not uri.startswith("file://"):
                counts["already_on_s3"] += 1
                continue
            key = local.key_from_uri(uri)
            if key is None or not local.exists(key):
                counts["missing"] += 1
                context.log.warning(f"photo of {name} not found under {config.local_media_root}: {uri}")
                continue
            new_uri = blob_store.uri(key)
            if not config.dry_run:
                if not blob_store.exists(key):
                    with local.open(key) as f:
                        blob_store.put_bytes(key, f.read())
                conn.execute(entities.update().where(entities.c.id == eid).values(photo_uri=new_uri))
                conn.commit()
            counts["uploaded"] += 1
    context.log.info(f"media upload: {counts}")
    return MaterializeResult(metadata={**counts, "dry_run": config.dry_run, "target": blob_store.uri("media/")})
