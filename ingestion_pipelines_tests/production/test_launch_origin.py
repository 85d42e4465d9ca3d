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


def test_sigterm_still_stops_ingest_after_a_run_under_nohup():
    """Under nohup or in a background job SIGINT is ignored; Dagster then leaves SIGTERM
    ignored after an in-process run, so `kill` could no longer stop `ingest`. launch restores
    SIGTERM's handler (checked in a child process with SIGINT ignored)."""
    import subprocess
    import sys

    code = (
        "import signal\n"
        "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        "from dagster import RunConfig\n"
        "from ingestion_pipelines.launch import launch\n"
        "from ingestion_pipelines.sources.artists.assets import ArtistsImportConfig\n"
        "from ingestion_pipelines.sources.artists.names import IMPORT_JOB\n"
        "cfg = RunConfig(ops={'artists_import': ArtistsImportConfig(dry_run=True, skip_photos=True)})\n"
        "assert launch(IMPORT_JOB, cfg).success\n"
        "print(int(signal.getsignal(signal.SIGTERM)))\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.strip().splitlines()[-1] == str(int(__import__("signal").SIG_DFL))
