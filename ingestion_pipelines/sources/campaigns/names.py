"""The campaigns source's names, in one place: its group, landing prefix and job names.

They are contracts (the UI, the README, ``dagster job execute -j``, ``ingest``'s commands,
the contract snapshot). This module imports nothing, so the command line reads it without
loading Dagster.
"""

GROUP = "campaigns"
LANDING_PREFIX = "campaigns/"  # the landing sensor: campaigns/<sheet>.csv, campaigns/<scraped>.json
FULL_SYNC_JOB = "campaigns_full_sync_job"
SYNC_JOB = "campaigns_sync_job"
SFA_JOB = "campaigns_sfa_job"
PLAYLISTS_JOB = "campaigns_playlists_job"
SYNC_AND_PLAYLISTS_JOB = "campaigns_sync_and_playlists_job"
