"""Asset checks of the campaigns source (seed 002 stage 9, "Verify Data Integrity").

They read the warehouse after a sync: no orphans, only valid statuses, no duplicate campaigns
(same normalised name or same track), every playlist row linked to a campaign, and (a warning)
Active/Complete campaigns without playlist data. One ``@asset_check`` each; numbers come from
``integrity.py`` and :mod:`ingestion_pipelines.engine.checks`.
"""

from __future__ import annotations

import sqlalchemy as sa
from dagster import AssetCheckResult, AssetCheckSeverity, asset_check

from ...engine.checks import counts, none_found
from ...resources.warehouse import WarehouseResource
from .assets import CAMPAIGNS_KEY, CLIENTS_KEY, PLAYLISTS_KEY
from .integrity import duplicate_counts, orphan_counts
from .schema import STATUSES, campaign_playlists, clients, metadata, spotify_campaigns


def _conn(warehouse: WarehouseResource):
    warehouse.setup(metadata)
    return warehouse.engine.connect()


@asset_check(asset=CAMPAIGNS_KEY, description="Every campaign's client, vendor and group exist.", blocking=False)
def campaigns_have_no_orphans(warehouse: WarehouseResource) -> AssetCheckResult:
    with _conn(warehouse) as conn:
        o = orphan_counts(conn)
    o.pop("playlists_without_campaign")
    return none_found(o)


@asset_check(asset=CAMPAIGNS_KEY, description="Every campaign status is Active, Complete, Cancelled, Unreleased or Other.")
def campaign_statuses_valid(warehouse: WarehouseResource) -> AssetCheckResult:
    t = spotify_campaigns
    with _conn(warehouse) as conn:
        bad = conn.execute(sa.select(t.c.status, sa.func.count()).where(t.c.status.not_in(list(STATUSES)))
                           .group_by(t.c.status)).all()
    return AssetCheckResult(passed=not bad, metadata={"invalid_statuses": sum(n for _s, n in bad),
                                                      "values": ", ".join(str(s) for s, _n in bad) or "none"})


@asset_check(asset=CAMPAIGNS_KEY, description="No two campaigns share a normalised name or a Spotify track.")
def campaigns_not_duplicated(warehouse: WarehouseResource) -> AssetCheckResult:
    with _conn(warehouse) as conn:
        d = duplicate_counts(conn)
    return none_found(d)


@asset_check(asset=CLIENTS_KEY, description="Client names are unique once normalised, and every client has a campaign.")
def clients_unique_and_used(warehouse: WarehouseResource) -> AssetCheckResult:
    c, t = clients, spotify_campaigns
    n = counts(warehouse, metadata, duplicate_names=sa.select(sa.func.count()).select_from(
        sa.select(sa.func.lower(c.c.name)).group_by(sa.func.lower(c.c.name)).having(sa.func.count() > 1).subquery()),
        clients_without_campaign=sa.select(sa.func.count()).select_from(c).where(~sa.exists().where(t.c.client_id == c.c.id)))
    # only duplicates fail: a client without a campaign is listed, not an error
    return none_found({"duplicate_names": n["duplicate_names"]}, severity=AssetCheckSeverity.ERROR,
                      clients_without_campaign=n["clients_without_campaign"])


@asset_check(asset=PLAYLISTS_KEY, description="Every playlist row belongs to an existing campaign.")
def playlists_linked(warehouse: WarehouseResource) -> AssetCheckResult:
    p, t = campaign_playlists, spotify_campaigns
    return none_found(counts(warehouse, metadata, playlists_without_campaign=sa.select(sa.func.count()).select_from(p)
                             .where(~sa.exists().where(t.c.id == p.c.campaign_id))))


@asset_check(asset=PLAYLISTS_KEY, description="Active/Complete campaigns with a track have playlist data (warning).")
def active_campaigns_have_data(warehouse: WarehouseResource) -> AssetCheckResult:
    p, t = campaign_playlists, spotify_campaigns
    live = (t.c.status.in_(["Active", "Complete"]), t.c.track_id.is_not(None))
    n = counts(warehouse, metadata,
               without_playlist_data=sa.select(sa.func.count()).select_from(t).where(
                   *live, ~sa.exists().where(p.c.campaign_id == t.c.id)),
               active_complete_with_track=sa.select(sa.func.count()).select_from(t).where(*live))
    return none_found({"without_playlist_data": n["without_playlist_data"]}, severity=AssetCheckSeverity.WARN,
                      active_complete_with_track=n["active_complete_with_track"])


CHECKS = [campaigns_have_no_orphans, campaign_statuses_valid, campaigns_not_duplicated, clients_unique_and_used,
          playlists_linked, active_campaigns_have_data]
