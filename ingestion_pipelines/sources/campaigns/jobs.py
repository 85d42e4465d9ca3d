"""Jobs of the campaigns source (group ``campaigns``, seed 002): every job of the source is
here, named ``campaigns_<what>_job`` (names are contracts: the UI, the README, the CLI).

``campaigns_full_sync_job`` (every stage), ``campaigns_sync_job`` (CSV -> clients, vendors,
groups, campaigns; then the integrity report), ``campaigns_sfa_job`` (SFA URLs),
``campaigns_playlists_job`` (scraped JSON -> playlists), ``campaigns_sync_and_playlists_job``
(everything that works offline).
"""

from dagster import AssetSelection, define_asset_job

from . import names
from .assets import (
    CAMPAIGNS_KEY, CLIENTS_KEY, CSV_KEY, GROUP, GROUPS_KEY, PLAYLISTS_KEY, REPORT_KEY, SFA_KEY, VENDORS_KEY,
)

SYNC_KEYS = [CSV_KEY, CLIENTS_KEY, VENDORS_KEY, GROUPS_KEY, CAMPAIGNS_KEY]

campaigns_full_sync_job = define_asset_job(
    names.FULL_SYNC_JOB, selection=AssetSelection.groups(GROUP),
    description="Seed 002 master script: CSV sync, SFA URLs, playlists, integrity report.")
campaigns_sync_job = define_asset_job(
    names.SYNC_JOB, selection=AssetSelection.assets(*SYNC_KEYS, REPORT_KEY),
    description="--sync-only: CSV -> clients, vendors, campaign groups, campaigns; integrity report.")
campaigns_sfa_job = define_asset_job(
    names.SFA_JOB, selection=AssetSelection.assets(SFA_KEY, REPORT_KEY),
    description="--sfa-only: resolve missing SFA URLs through the Spotify Web API.")
campaigns_playlists_job = define_asset_job(
    names.PLAYLISTS_JOB, selection=AssetSelection.assets(PLAYLISTS_KEY, REPORT_KEY),
    description="--playlists-only: scraped stream-data JSON -> campaign playlists.")
campaigns_sync_and_playlists_job = define_asset_job(
    names.SYNC_AND_PLAYLISTS_JOB, selection=AssetSelection.assets(*SYNC_KEYS, PLAYLISTS_KEY, REPORT_KEY),
    description="Everything that works offline: CSV sync, playlists, integrity report (no SFA lookups).")

JOBS = [campaigns_full_sync_job, campaigns_sync_job, campaigns_sfa_job, campaigns_playlists_job,
        campaigns_sync_and_playlists_job]
