"""Definitions of the campaigns source (group ``campaigns``, seed 002).

Jobs: ``campaigns_full_sync_job`` (every stage), ``campaigns_sync_job`` (CSV -> clients,
vendors, groups, campaigns; then the integrity report), ``campaigns_sfa_job`` (SFA URLs),
``campaigns_playlists_job`` (scraped JSON -> playlists). Resource ``spotify``
(:class:`SpotifyResource`): credentials from ``SPOTIFY_CLIENT_ID`` / ``SPOTIFY_CLIENT_SECRET``
through ``EnvVar`` (only when set, so that loading the code location never needs them; the SFA
asset then fails fast naming the missing variable), base URL ``SPOTIFY_API_BASE_URL``, token
URL ``SPOTIFY_TOKEN_URL`` (optional; for a stand-in of the API).
"""

from __future__ import annotations

import os

from dagster import AssetSelection, Definitions, EnvVar, define_asset_job

from .assets import (
    CAMPAIGNS_KEY, CLIENTS_KEY, CSV_KEY, GROUPS_KEY, PLAYLISTS_KEY, REPORT_KEY, SFA_KEY, VENDORS_KEY,
    campaign_playlists_asset, campaigns_sync, integrity_report, sfa_urls,
)
from .checks import CHECKS
from .sensors import build_sensor
from .spotify import SpotifyResource

SYNC_KEYS = [CSV_KEY, CLIENTS_KEY, VENDORS_KEY, GROUPS_KEY, CAMPAIGNS_KEY]


def spotify_resource() -> SpotifyResource:
    """The ``spotify`` resource from the ``SPOTIFY_*`` variables that are set."""
    kw: dict = {}
    for fld, var in (("client_id", "SPOTIFY_CLIENT_ID"), ("client_secret", "SPOTIFY_CLIENT_SECRET"),
                     ("api_base_url", "SPOTIFY_API_BASE_URL"), ("token_url", "SPOTIFY_TOKEN_URL")):
        if os.environ.get(var):
            kw[fld] = EnvVar(var)
    return SpotifyResource(**kw)


campaigns_full_sync_job = define_asset_job(
    "campaigns_full_sync_job", selection=AssetSelection.groups("campaigns"),
    description="Seed 002 master script: CSV sync, SFA URLs, playlists, integrity report.")
campaigns_sync_job = define_asset_job(
    "campaigns_sync_job", selection=AssetSelection.assets(*SYNC_KEYS, REPORT_KEY),
    description="--sync-only: CSV -> clients, vendors, campaign groups, campaigns; integrity report.")
campaigns_sfa_job = define_asset_job(
    "campaigns_sfa_job", selection=AssetSelection.assets(SFA_KEY, REPORT_KEY),
    description="--sfa-only: resolve missing SFA URLs through the Spotify Web API.")
campaigns_playlists_job = define_asset_job(
    "campaigns_playlists_job", selection=AssetSelection.assets(PLAYLISTS_KEY, REPORT_KEY),
    description="--playlists-only: scraped stream-data JSON -> campaign playlists.")
campaigns_sync_and_playlists_job = define_asset_job(
    "campaigns_sync_and_playlists_job", selection=AssetSelection.assets(*SYNC_KEYS, PLAYLISTS_KEY, REPORT_KEY),
    description="Everything that works offline: CSV sync, playlists, integrity report (no SFA lookups).")

JOBS = [campaigns_full_sync_job, campaigns_sync_job, campaigns_sfa_job, campaigns_playlists_job,
        campaigns_sync_and_playlists_job]

defs = Definitions(
    assets=[campaigns_sync, sfa_urls, campaign_playlists_asset, integrity_report],
    asset_checks=CHECKS,
    jobs=JOBS,
    sensors=[build_sensor(campaigns_sync_job, campaigns_playlists_job)],
    resources={"spotify": spotify_resource()},
)
