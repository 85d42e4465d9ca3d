"""Sensor of the campaigns source: new files under the landing prefix ``campaigns/``.

A new ``.csv`` requests a CSV sync of that file (``campaigns_sync_job``); new ``.json`` files
(scraped stream data) request one playlist import of exactly those files
(``campaigns_playlists_job``). The shared loop (cursor = last-modified watermark, paged
listings, content hashes in each ``run_key`` so the same content never runs twice) is
:func:`~ingestion_pipelines.engine.sensors.landing_sensor` (DESIGN.md §6).
"""

from __future__ import annotations

import hashlib

from dagster import RunConfig, RunRequest

from ...engine.sensors import LandingSpec, landing_sensor
from .assets import CampaignCsvConfig, PlaylistsConfig
from .jobs import campaigns_playlists_job, campaigns_sync_job
from .names import LANDING_PREFIX



def _requests(context, landed) -> list[RunRequest]:
    """One CSV sync per new CSV content; one playlist import of all new JSON files."""
    runs = [RunRequest(run_key=f"csv:{f.obj.key}:{f.token}", job_name=campaigns_sync_job.name,
                       run_config=RunConfig(ops={"campaigns_sync": CampaignCsvConfig(csv=f.obj.uri)}),
                       tags={"campaigns/file": f.obj.key})
            for f in landed if f.obj.key.lower().endswith(".csv")]
    jsons = [f for f in landed if not f.obj.key.lower().endswith(".csv")]
    if jsons:
        digest = hashlib.sha256("\n".join(f"{f.obj.key}:{f.token}" for f in jsons).encode()).hexdigest()[:32]
        runs.append(RunRequest(
            run_key=f"json:{digest}", job_name=campaigns_playlists_job.name,
            run_config=RunConfig(ops={"campaigns__campaign_playlists": PlaylistsConfig(files=[f.obj.uri for f in jsons])}),
            tags={"campaigns/files": str(len(jsons))}))
    return runs


campaigns_landing_sensor = landing_sensor(LandingSpec(
    name="campaigns_landing_sensor", prefix=LANDING_PREFIX, jobs=[campaigns_sync_job, campaigns_playlists_job],
    requests=_requests, suffixes=(".csv", ".json"), minimum_interval_seconds=60,
    description="New campaign CSVs and scraped JSON files under the landing prefix campaigns/."))
