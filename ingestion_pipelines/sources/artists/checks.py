"""Asset checks of the artists source: referential integrity and identity rules (one
``@asset_check`` each, counting with :mod:`ingestion_pipelines.engine.checks`)."""


import sqlalchemy as sa
from dagster import AssetCheckResult, AssetCheckSeverity, asset_check

from ...engine.checks import counts, none_found
from ...resources.warehouse import WarehouseResource
from .assets import ENTITIES, ROLES, SOCIAL
from .schema import entities, entity_roles, metadata, social_media_accounts


def _orphans(child: sa.Table) -> sa.Select:
    return (sa.select(sa.func.count()).select_from(child)
            .where(~sa.exists().where(entities.c.id == child.c.entity_id)))


@asset_check(asset=ROLES, description="Every role belongs to an existing entity.")
def roles_have_entity(warehouse: WarehouseResource) -> AssetCheckResult:
    return none_found(counts(warehouse, metadata, orphan_roles=_orphans(entity_roles)))


@asset_check(asset=SOCIAL, description="Every social media account belongs to an existing entity.")
def social_accounts_have_entity(warehouse: WarehouseResource) -> AssetCheckResult:
    return none_found(counts(warehouse, metadata, orphan_accounts=_orphans(social_media_accounts)))


@asset_check(asset=ENTITIES, description="No two entities share an identity (kind + case-insensitive display name).")
def no_duplicate_identities(warehouse: WarehouseResource) -> AssetCheckResult:
    dup = (sa.select(entities.c.kind, sa.func.lower(sa.func.trim(entities.c.display_name)).label("k"))
           .group_by(entities.c.kind, sa.func.lower(sa.func.trim(entities.c.display_name)))
           .having(sa.func.count() > 1).subquery())
    return none_found(counts(warehouse, metadata, duplicate_identities=sa.select(sa.func.count()).select_from(dup)))


def _multi_primary(table: sa.Table, flag: str) -> sa.Select:
    sub = (sa.select(table.c.entity_id).where(table.c[flag] == sa.true())
           .group_by(table.c.entity_id).having(sa.func.count() > 1).subquery())
    return sa.select(sa.func.count()).select_from(sub)


@asset_check(asset=ROLES, description="At most one primary role per entity.")
def one_primary_role(warehouse: WarehouseResource) -> AssetCheckResult:
    return none_found(counts(warehouse, metadata, entities_with_several_primary_roles=_multi_primary(entity_roles, "primary_role")),
                      severity=AssetCheckSeverity.WARN)


@asset_check(asset=SOCIAL, description="At most one primary social media account per entity.")
def one_primary_account(warehouse: WarehouseResource) -> AssetCheckResult:
    return none_found(counts(warehouse, metadata, entities_with_several_primary_accounts=_multi_primary(social_media_accounts, "is_primary")),
                      severity=AssetCheckSeverity.WARN)


CHECKS = [roles_have_entity, social_accounts_have_entity, no_duplicate_identities, one_primary_role, one_primary_account]
