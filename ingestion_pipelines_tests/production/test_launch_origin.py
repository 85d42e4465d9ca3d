"""Runs started by ``ingest`` (launch.launch) carry the code location's job origin, like runs
the webserver or ``dagster job launch`` start: the job's page lists them (runs filtered by the
repository label tag) and Re-execute finds their code location (``remote_job_origin``)."""

from dagster import DagsterInstance, RunConfig, RunsFilter
from dagster._core.storage.tags import REPOSITORY_LABEL_TAG

from ingestion_pipelines.launch import launch, materializations
from ingestion_pipelines.sources.artists.assets import ArtistsImportConfig
from ingestion_pipelines.sources.artists.names import IMPORT_JOB


def test_launched_run_has_the_workspace_job_origin():
    cfg = RunConfig(ops={"artists_import": ArtistsImportConfig(dry_run=True, skip_photos=True)})
    result = launch(IMPORT_JOB, cfg, tags={"test": "origin"})
    assert result.success
    assert materializations(result)["artists/entities"]["inserted"] == 37  # dry run: would insert
    run = DagsterInstance.get().get_run_by_id(result.run_id)
    origin = run.remote_job_origin
    assert (origin.location_name, origin.repository_origin.repository_name, origin.job_name) == (
        "ingestion_pipelines", "__repository__", IMPORT_JOB)
    assert run.job_code_origin.job_name == IMPORT_JOB
    assert run.tags["launched_by"] == "ingest-cli" and run.tags["test"] == "origin"
    # what the job's page in the UI asks for (dagster_graphql GraphenePipeline.resolve_runs)
    page = DagsterInstance.get().get_runs(RunsFilter(job_name=IMPORT_JOB, tags={
        REPOSITORY_LABEL_TAG: "__repository__@ingestion_pipelines"}))
    assert result.run_id in [r.run_id for r in page]
