"""The artists source's names, in one place: its group, landing prefix and job names.

They are contracts (the UI, the README, ``dagster job execute -j``, ``ingest``'s commands,
the contract snapshot). This module imports nothing, so the command line reads it without
loading Dagster.
"""

GROUP = "artists"
LANDING_PREFIX = "artists/"  # the fixture sensor: artists/<fixture>.json
IMPORT_JOB = "artists_import_job"
EXPORT_JOB = "artists_export_job"
UPLOAD_MEDIA_JOB = "artists_upload_media_job"
