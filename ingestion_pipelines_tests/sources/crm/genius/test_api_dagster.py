"""The Genius API sync through Dagster, against the stand-in: the ``genius_api_all`` job with a
username and password from the environment (EnvVar; the access token expires mid-run and is
exchanged again) — its materialization metadata per DESIGN §10, and no password or token in the
run's logs, metadata, sync history or result files; a refused password fails the step naming
the variables; the names (asset keys apart from the database sync's, jobs, tag, stopped
schedules); the real ``ingest sync-genius-*`` command in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from dagster import DagsterInstance, DefaultScheduleStatus, Definitions, EnvVar

from ingestion_pipelines.engine.api.definitions import api_definitions
from ingestion_pipelines.launch import materializations
from ingestion_pipelines.resources.storage import LocalBlobStore
from ingestion_pipelines.sources.crm.genius import api_definitions as d
from ingestion_pipelines.sources.crm.genius.api_names import NAMES
from ingestion_pipelines.sources.crm.genius.api_streams import STREAMS
from ingestion_pipelines.standins.genius import DEFAULT_TOKEN, DEFAULT_USERNAME, Genius, Limits

from ingestion_pipelines_tests.conftest import patched_env
from ingestion_pipelines_tests.sources.crm.hubspot.test_dagster import _everything_the_run_left

from .test_api_helpers import served  # noqa: F401 - fixture

PASSWORD = "pw-TOP-secret-9911"
VARS = ("GENIUS_BASE_URL", "GENIUS_API_URL", "GENIUS_API_TOKEN", "GENIUS_USERNAME", "GENIUS_PASSWORD")


def _defs(warehouse, tmp_path) -> Definitions:
    res = d.GeniusResource(base_url=EnvVar("GENIUS_BASE_URL"), username=EnvVar("GENIUS_USERNAME"),
                           password=EnvVar("GENIUS_PASSWORD"), account=f"dagster-{tmp_path.name[-8:]}",
                           interval_seconds=0.5)
    return Definitions.merge(api_definitions(NAMES, STREAMS, res), Definitions(resources={
        "warehouse": warehouse, "blob_store": LocalBlobStore(root=str(tmp_path / "storage"))}))


def test_all_job_metadata_and_no_secret_anywhere(pg_warehouse, served, tmp_path):
    g = Genius.seeded(21, prospects=120, limits=Limits(max_limit=30, token_ttl_s=0.25))
    g.users = {DEFAULT_USERNAME: PASSWORD}
    g.on_page.append(lambda genius, stream, offset: __import__("time").sleep(0.3) if offset == 30 else None)
    g.records["prospects"][7]["add_date"] = "not a date"  # lands NULL, a cell warning; raw keeps it
    server = served(g)
    env = {"GENIUS_BASE_URL": server.url, "GENIUS_USERNAME": DEFAULT_USERNAME, "GENIUS_PASSWORD": PASSWORD}
    job = _defs(pg_warehouse, tmp_path).resolve_job_def(NAMES.all_job)
    assert job.tags[NAMES.account_tag] == "default"
    with patched_env(env, unset=("GENIUS_API_TOKEN", "GENIUS_API_URL")), DagsterInstance.ephemeral() as inst:
        res = job.execute_in_process(instance=inst, raise_on_error=False)
        assert res.success
        left = _everything_the_run_left(inst, res.run_id, pg_warehouse, tmp_path)
    mats = materializations(res)
    assert set(mats) == {f"genius/api_{NAMES.snake(s)}" for s in NAMES.streams}
    md = mats["genius/api_prospects"]
    for k in ("mode", "status", "watermark_before", "watermark_after", "rows_read", "inserted", "updated",
              "unchanged", "deleted", "failed", "sync_history_id", "requests", "pages", "records_per_s",
              "dagster/row_count", "preview"):
        assert k in md, k
    assert (md["mode"], md["status"], md["inserted"], md["pages"], md["dagster/row_count"]) == (
        "full", "succeeded", 120, 4, 120)
    assert md["watermark_after"] and not md["watermark_before"]
    assert md["warnings"] == 1 and md["warnings_file"]
    assert g.stats["tokens_issued"] >= 2  # the token expired mid-run and was exchanged again
    secrets = [PASSWORD, *g._access]
    assert not [s for s in secrets if s in left]


def test_a_refused_password_fails_naming_the_variables(sqlite_warehouse, served, tmp_path):
    g = Genius.seeded(22, prospects=5)
    server = served(g)
    env = {"GENIUS_BASE_URL": server.url, "GENIUS_USERNAME": DEFAULT_USERNAME, "GENIUS_PASSWORD": PASSWORD}
    job = _defs(sqlite_warehouse, tmp_path).resolve_job_def(NAMES.job("prospects"))
    with patched_env(env, unset=("GENIUS_API_TOKEN", "GENIUS_API_URL")), DagsterInstance.ephemeral() as inst:
        res = job.execute_in_process(instance=inst, raise_on_error=False)
        left = _everything_the_run_left(inst, res.run_id, sqlite_warehouse, tmp_path)
    assert not res.success
    failure = next(e for e in res.all_events if e.event_type_value == "STEP_FAILURE")
    assert "GENIUS_USERNAME, GENIUS_PASSWORD" in failure.event_specific_data.error.message
    assert PASSWORD not in left and g.stats["token_requests"] == 1


def test_names_jobs_and_schedules():
    from ingestion_pipelines.definitions import defs
    from ingestion_pipelines.sources.crm.genius.db_assets import KEYS as DB_KEYS

    repo = defs.get_repository_def()
    ours = {j for j in repo.job_names if j.startswith("genius_api_")}
    assert ours == {f"genius_api_{NAMES.snake(s)}" for s in NAMES.streams} | {"genius_api_all"}
    assert all(repo.get_job(j).tags.get("genius/account") == "default" for j in ours)
    scheds = {s.name: s for s in repo.schedule_defs if s.name.startswith("genius_api_")}
    assert set(scheds) == {"genius_api_incremental_schedule", "genius_api_full_schedule"}
    assert all(s.default_status == DefaultScheduleStatus.STOPPED and s.job_name == "genius_api_all" for s in scheds.values())
    keys = {k.to_user_string() for k in repo.asset_graph.get_all_asset_keys()}
    api_keys = {f"genius/api_{NAMES.snake(s)}" for s in NAMES.streams}
    assert api_keys <= keys and not api_keys & {k.to_user_string() for k in DB_KEYS.values()}
    assert NAMES.source == "genius_api" and [NAMES.command(s) for s in ("prospects", "all")] == [
        "sync-genius-prospects", "sync-genius-all"]


def test_the_ingest_command(served, tmp_path):
    g = Genius.seeded(23, prospects=80)
    server = served(g)
    db = tmp_path / "wh.db"
    env = {**os.environ, "GENIUS_API_URL": server.url, "GENIUS_API_TOKEN": DEFAULT_TOKEN,
           "WAREHOUSE_URL": f"sqlite:///{db}", "INGEST_STATE_DIR": str(tmp_path / "state"),
           "DAGSTER_HOME": str(tmp_path / "home"), "INGEST_LOG_LEVEL": "WARNING"}
    for k in ("GENIUS_BASE_URL", "GENIUS_USERNAME", "GENIUS_PASSWORD"):
        env.pop(k, None)
    ingest = str(Path(sys.executable).parent / "ingest")
    dry = subprocess.run([ingest, "sync-genius-prospects", "--dry-run"], env=env, capture_output=True, text=True,
                         timeout=180)
    assert dry.returncode == 0, dry.stderr[-2000:]
    assert "inserted=80" in dry.stdout and "dry run" in dry.stdout
    out = subprocess.run([ingest, "sync-genius-prospects", "--limit", "30"], env=env, capture_output=True, text=True,
                         timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "SUCCESS" in out.stdout and "inserted=30" in out.stdout and DEFAULT_TOKEN not in out.stdout + out.stderr
    eng = sa.create_engine(f"sqlite:///{db}")
    with eng.connect() as c:
        assert c.execute(sa.text("select count(*) from genius_prospects")).scalar() == 30
    eng.dispose()
    bad = subprocess.run([ingest, "sync-genius-all", "--full", "--since", "2025-01-01"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2


def test_the_demo_step():
    """``ingest demo``'s Genius step: the stand-in's demo account, ``genius_api_all``, then exactly its changes."""
    from ingestion_pipelines.cli.api_sync import demo_steps

    (step,) = [s for s in demo_steps() if s.label.startswith("genius:")]
    with patched_env({}, unset=("WAREHOUSE_URL", *VARS)):
        first, second = step.run()
    assert first.success and second.success
    mats = materializations(second)
    p, a = mats["genius/api_prospects"], mats["genius/api_appointments"]
    assert (p["mode"], p["inserted"], p["updated"], a["updated"]) == ("incremental", 3, 10, 5)
    assert mats["genius/api_users"]["inserted"] + mats["genius/api_users"]["updated"] == 0
