"""Schedule of the artists source: a nightly fixture export of every entity (the seed's
``export_artists_fixture``), so the BlobStore always holds yesterday's entities as a fixture
that ``ingest import-entities`` re-imports to the same ids. Stopped by default: switch it on
under Automation in the UI (or ``dagster schedule start artists_export_schedule``)."""

from dagster import DefaultScheduleStatus, ScheduleDefinition

from .jobs import artists_export_job

artists_export_schedule = ScheduleDefinition(
    name="artists_export_schedule",
    job=artists_export_job,
    cron_schedule="0 3 * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.STOPPED,
    description="Every night at 03:00 UTC: export every entity as a fixture to exports/artists_fixture.json in the BlobStore.",
)
