"""Sensor of the campaigns source: new files under the landing prefix ``campaigns/``.

A new ``.csv`` requests a CSV sync of that file (``campaigns_sync_job``); new ``.json`` files
(scraped stream data) request one playlist import of exactly those files
(``campaigns_playlists_job``). The cursor is the landing scan's last-modified watermark
(paged across ticks); each ``run_key`` carries the content hash (sha256 or S3 ETag), so the
same content never runs twice (DESIGN.md §6).
"""

from __future__ import annotations

import hashlib

from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SensorResult, SkipReason, sensor

from ...engine.landing import content_token, scan_landing
from ...resources.storage import BlobStore

PREFIX = "campaigns/"


def build_sensor(sync_job, playlists_job):
    """The sensor, targeting the two jobs it requests runs of."""

    @sensor(name="campaigns_landing_sensor", jobs=[sync_job, playlists_job], minimum_interval_seconds=60,
            default_status=DefaultSensorStatus.STOPPED,
            description="New campaign CSVs and scraped JSON files under the landing prefix campaigns/.")
    def campaigns_landing_sensor(context: SensorEvaluationContext, blob_store: BlobStore):
        scan = scan_landing(blob_store, PREFIX, context.cursor, suffixes=(".csv", ".json"))
        runs = []
        jsons = []
        for obj in scan.new:
            token = content_token(blob_store, obj)
            if obj.key.lower().endswith(".csv"):
                runs.append(RunRequest(
                    run_key=f"csv:{obj.key}:{token}", job_name=sync_job.name,
                    run_config={"ops": {"campaigns_sync": {"config": {"csv": obj.uri}}}},
                    tags={"campaigns/file": obj.key}))
            else:
                jsons.append((obj, token))
        if jsons:
            digest = hashlib.sha256("\n".join(f"{o.key}:{t}" for o, t in jsons).encode()).hexdigest()[:32]
            runs.append(RunRequest(
                run_key=f"json:{digest}", job_name=playlists_job.name,
                run_config={"ops": {"campaigns__campaign_playlists": {"config": {"files": [o.uri for o, _t in jsons]}}}},
                tags={"campaigns/files": str(len(jsons))}))
        if not runs:
            return SensorResult(skip_reason=SkipReason(f"no new files under {PREFIX}"), cursor=scan.cursor)
        return SensorResult(run_requests=runs, cursor=scan.cursor)

    return campaigns_landing_sensor
