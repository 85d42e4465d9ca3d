"""`ingest` subcommands of the campaigns source (DESIGN.md §5; seed 002's master script
``run_full_database_sync.py --csv FILE [--sync-only | --scrape-sfa-only | ...] [--dry-run]``)."""

from __future__ import annotations

import os

import click

from ..settings import DATA_DIR
from ..sources.campaigns import names
from .steps import DemoStep

SAMPLE_CSV = DATA_DIR / "campaigns" / "Spotify Playlisting-All Campaigns.csv"
SAMPLE_SCRAPED = DATA_DIR / "campaigns" / "scraped"


def sync_run_config(csv: str | None, scraped: str | None, dry_run: bool, *, sfa: bool = True, playlists: bool = True):
    """The typed ``dagster.RunConfig`` of a campaigns job for these options: the CSV sync
    (when ``csv``), SFA URL resolution (when ``sfa``) and the playlist import (when
    ``playlists``; ``scraped`` replaces its default folder)."""
    from dagster import RunConfig

    from ..sources.campaigns.assets import CampaignCsvConfig, PlaylistsConfig, SfaConfig

    ops: dict = {}
    if csv is not None:
        ops["campaigns_sync"] = CampaignCsvConfig(csv=csv, dry_run=dry_run)
    if sfa:
        ops["campaigns__sfa_urls"] = SfaConfig(dry_run=dry_run)
    if playlists:
        ops["campaigns__campaign_playlists"] = PlaylistsConfig(dry_run=dry_run, **({"scraped": scraped} if scraped else {}))
    return RunConfig(ops=ops)


@click.command("sync-campaigns")
@click.option("--csv", "csv_file", default=None, help="The campaign CSV (a path, s3:// URI or blob-store key). Required unless --sfa-only / --playlists-only.")
@click.option("--sync-only", is_flag=True, help="Parse the CSV and sync clients, vendors, groups and campaigns only.")
@click.option("--sfa-only", is_flag=True, help="Only resolve missing SFA URLs (Spotify Web API; SPOTIFY_* variables).")
@click.option("--playlists-only", is_flag=True, help="Only import scraped stream-data JSON files.")
@click.option("--scraped", default=None, help="Folder (or blob-store prefix) of scraped JSON files [default: data/campaigns/scraped].")
@click.option("--dry-run", is_flag=True, help="Report what would be created / updated / unchanged per table; write nothing.")
def sync_campaigns(csv_file: str | None, sync_only: bool, sfa_only: bool, playlists_only: bool,
                   scraped: str | None, dry_run: bool) -> None:
    """Full sync of the campaign spreadsheet: CSV -> clients, vendors, campaigns, SFA URLs,
    playlists, integrity report. Without SPOTIFY_CLIENT_ID/SECRET the SFA stage is skipped."""
    from ..launch import run_and_report

    if sum([sync_only, sfa_only, playlists_only]) > 1:
        raise click.UsageError("use at most one of --sync-only, --sfa-only, --playlists-only")
    if not (sfa_only or playlists_only) and not csv_file:
        raise click.UsageError("--csv FILE is required (unless --sfa-only or --playlists-only)")
    if csv_file and os.path.exists(csv_file):
        csv_file = os.path.abspath(csv_file)
    if scraped and os.path.exists(scraped):
        scraped = os.path.abspath(scraped)
    has_spotify = bool(os.environ.get("SPOTIFY_CLIENT_ID") and os.environ.get("SPOTIFY_CLIENT_SECRET"))
    if sync_only:
        job, cfg = names.SYNC_JOB, sync_run_config(csv_file, None, dry_run, sfa=False, playlists=False)
    elif sfa_only:
        job, cfg = names.SFA_JOB, sync_run_config(None, None, dry_run, playlists=False)
    elif playlists_only:
        job, cfg = names.PLAYLISTS_JOB, sync_run_config(None, scraped, dry_run, sfa=False)
    elif has_spotify:
        job, cfg = names.FULL_SYNC_JOB, sync_run_config(csv_file, scraped, dry_run)
    else:
        click.echo("SFA URL resolution skipped: SPOTIFY_CLIENT_ID / SPOTIFY_CLIENT_SECRET are not set.")
        job, cfg = names.SYNC_AND_PLAYLISTS_JOB, sync_run_config(csv_file, scraped, dry_run, sfa=False)
    run_and_report(job, cfg)


COMMANDS = [sync_campaigns]
# (label, job name, run config) steps that `ingest demo` runs, in order (offline: no SFA stage).
DEMO_STEPS = [
    DemoStep.job("campaigns: sync data/campaigns CSV + scraped playlists (SFA lookups skipped offline)",
                 names.SYNC_AND_PLAYLISTS_JOB,
                 lambda: sync_run_config(str(SAMPLE_CSV), str(SAMPLE_SCRAPED), False, sfa=False)),
]
