"""The HubSpot sync through Dagster, against the stand-in: the ``hubspot_all`` job with OAuth
credentials from the environment (EnvVar) — its materialization metadata per DESIGN §10, and
no token or secret anywhere in the run's logs, metadata, sync history or result files; a job
that fails names the variables, not their values; the names (jobs, tag, schedules stopped);
the real ``ingest sync-hubspot-*`` command in a subprocess (``--limit``, ``--dry-run``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from dagster import DagsterInstance, DefaultScheduleStatus, Definitions, EnvVar

from ingestion_pipelines.engine.sync_state import sync_history
from ingestion_pipelines.launch import materializations
from ingestion_pipelines.resources.storage import LocalBlobStore
from ingestion_pipelines.sources.crm.hubspot import api_definitions as d
from ingestion_pipelines.sources.crm.hubspot import api_names as names
from ingestion_pipelines.sources.crm.hubspot.api_sync import HubspotResource
from ingestion_pipelines.sources.crm.hubspot.schema import TABLES
from ingestion_pipelines.standins.hubspot import DEFAULT_TOKEN, Limits, Portal

from ingestion_pipelines_tests.conftest import patched_env


def _defs(warehouse, tmp_path) -> Definitions:
    res = HubspotResource(base_url=EnvVar("HUBSPOT_BASE_URL"), client_id=EnvVar("HUBSPOT_CLIENT_ID"),
                          client_secret=EnvVar("HUBSPOT_CLIENT_SECRET"), refresh_token=EnvVar("HUBSPOT_REFRESH_TOKEN"),
                          portal=f"dagster-{tmp_path.name[-8:]}")
    return Definitions(assets=[d.hubspot_sync], jobs=d.JOBS, resources={
        "warehouse": warehouse, "blob_store": LocalBlobStore(root=str(tmp_path / "storage")), "hubspot": res})


def _everything_the_run_left(inst, run_id: str, warehouse, tmp_path: Path) -> str:
    texts = []
    for rec in inst.all_logs(run_id):
        texts.append(rec.user_message or "")
        if rec.dagster_event is not None:
            texts.append(repr(rec.dagster_event))
    with warehouse.engine.connect() as c:
        texts += [repr(tuple(r)) for r in c.execute(sa.select(sync_history))]
    texts += [p.read_text(errors="replace") for p in (tmp_path / "storage").rglob("*") if p.is_file()]
    run = inst.get_run_by_id(run_id)
    texts.append(json.dumps(run.run_config, default=str) + repr(run.tags))
    return "\n".join(texts)


def test_all_job_metadata_and_no_secret_anywhere(warehouse, served, tmp_path):
    portal = Portal.seeded(13, contacts=220, companies=20, deals=30, appointments=30, limits=Limits(token_ttl_s=1.0))
    portal.client_secret = "cs-TOP-secret-4411"
    portal.refresh_tokens = {"rt-TOP-secret-7788"}
    server = served(portal)
    env = {"HUBSPOT_BASE_URL": server.url, "HUBSPOT_CLIENT_ID": portal.client_id,
           "HUBSPOT_CLIENT_SECRET": portal.client_secret, "HUBSPOT_REFRESH_TOKEN": "rt-TOP-secret-7788"}
    job = _defs(warehouse, tmp_path).resolve_job_def(names.ALL_JOB)
    assert job.tags[names.PORTAL_TAG] == "default"
    with patched_env(env), DagsterInstance.ephemeral() as inst:
        res = job.execute_in_process(instance=inst, raise_on_error=False)
        assert res.success
        left = _everything_the_run_left(inst, res.run_id, warehouse, tmp_path)
    mats = materializations(res)
    assert set(mats) == {f"hubspot/{s}" for s in names.STREAMS}
    md = mats["hubspot/contacts"]
    for k in ("mode", "status", "watermark_before", "watermark_after", "rows_read", "inserted", "updated",
              "unchanged", "deleted", "failed", "sync_history_id", "requests", "records_per_s", "dagster/row_count"):
        assert k in md, k
    assert (md["mode"], md["status"], md["inserted"], md["dagster/row_count"]) == ("full", "succeeded", 220, 220)
    assert md["watermark_after"] and md["warnings"] > 0 and md["warnings_file"]
    secrets = ["cs-TOP-secret-4411", "rt-TOP-secret-7788", DEFAULT_TOKEN, *portal._access]
    assert portal._access, "the run used OAuth access tokens"
    assert not [s for s in secrets if s in left]


def test_a_refused_token_fails_naming_the_variable(sqlite_warehouse, served, tmp_path):
    portal = Portal.seeded(14, contacts=10)
    server = served(portal)
    env = {"HUBSPOT_BASE_URL": server.url, "HUBSPOT_CLIENT_ID": portal.client_id,
           "HUBSPOT_CLIENT_SECRET": portal.client_secret, "HUBSPOT_REFRESH_TOKEN": "rt-revoked-5566"}
    job = _defs(sqlite_warehouse, tmp_path).resolve_job_def(names.job("contacts"))
    with patched_env(env), DagsterInstance.ephemeral() as inst:
        res = job.execute_in_process(instance=inst, raise_on_error=False)
        left = _everything_the_run_left(inst, res.run_id, sqlite_warehouse, tmp_path)
    assert not res.success
    failure = next(e for e in res.all_events if e.event_type_value == "STEP_FAILURE")
    assert "HUBSPOT_REFRESH_TOKEN" in failure.event_specific_data.error.message
    assert "rt-revoked-5566" not in left and portal.client_secret not in left


def test_names_jobs_and_schedules():
    from ingestion_pipelines.definitions import defs

    jobs = {j.name for j in d.JOBS}
    assert jobs == {f"hubspot_{s}" for s in names.STREAMS} | {"hubspot_all"}
    assert all(j.tags.get("hubspot/portal") == "default" for j in d.JOBS)
    scheds = {s.name: s for s in d.SCHEDULES}
    assert scheds["hubspot_incremental_schedule"].cron_schedule == "*/15 * * * *"
    assert all(s.default_status == DefaultScheduleStatus.STOPPED for s in scheds.values())
    assert scheds["hubspot_full_schedule"].job.name == "hubspot_all"
    assert set(TABLES) == {"contacts", "companies", "deals", "appointments"}
    assert defs.resolve_job_def("hubspot_contacts") is not None


def test_the_ingest_command(served, tmp_path):
    portal = Portal.seeded(15, contacts=150)
    server = served(portal)
    db = tmp_path / "wh.db"
    env = {**os.environ, "HUBSPOT_BASE_URL": server.url, "HUBSPOT_ACCESS_TOKEN": DEFAULT_TOKEN,
           "WAREHOUSE_URL": f"sqlite:///{db}", "INGEST_STATE_DIR": str(tmp_path / "state"),
           "DAGSTER_HOME": str(tmp_path / "home"), "INGEST_LOG_LEVEL": "WARNING"}
    for k in ("HUBSPOT_CLIENT_ID", "HUBSPOT_CLIENT_SECRET", "HUBSPOT_REFRESH_TOKEN", "HUBSPOT_API_TOKEN"):
        env.pop(k, None)
    ingest = str(Path(sys.executable).parent / "ingest")
    dry = subprocess.run([ingest, "sync-hubspot-contacts", "--dry-run"], env=env, capture_output=True, text=True, timeout=180)
    assert dry.returncode == 0, dry.stderr[-2000:]
    assert "inserted=150" in dry.stdout and "dry run" in dry.stdout
    out = subprocess.run([ingest, "sync-hubspot-contacts", "--limit", "50"], env=env, capture_output=True, text=True,
                         timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "SUCCESS" in out.stdout and "inserted=50" in out.stdout and DEFAULT_TOKEN not in out.stdout + out.stderr
    eng = sa.create_engine(f"sqlite:///{db}")
    with eng.connect() as c:
        assert c.execute(sa.text("select count(*) from hubspot_contacts")).scalar() == 50
    eng.dispose()
    bad = subprocess.run([ingest, "sync-hubspot-all", "--full", "--since", "2025-01-01"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2


def test_credentials_from_the_variables():
    import pytest
    from dagster import Failure

    from ingestion_pipelines.engine.api import BearerToken, OAuth2Refresh

    all_vars = ("HUBSPOT_ACCESS_TOKEN", "HUBSPOT_API_TOKEN", "HUBSPOT_CLIENT_ID", "HUBSPOT_CLIENT_SECRET",
                "HUBSPOT_REFRESH_TOKEN", "HUBSPOT_BASE_URL")
    with patched_env({"HUBSPOT_API_TOKEN": "pat-x"}, unset=tuple(v for v in all_vars if v != "HUBSPOT_API_TOKEN")):
        auth = HubspotResource().auth()
        assert isinstance(auth, BearerToken) and auth.token == "pat-x" and "pat-x" not in repr(auth)
        assert HubspotResource().url == "https://api.hubapi.com"
    with patched_env({"HUBSPOT_CLIENT_ID": "i", "HUBSPOT_CLIENT_SECRET": "s", "HUBSPOT_REFRESH_TOKEN": "r",
                      "HUBSPOT_BASE_URL": "http://127.0.0.1:1/"}, unset=("HUBSPOT_ACCESS_TOKEN", "HUBSPOT_API_TOKEN")):
        auth = HubspotResource().auth()
        assert isinstance(auth, OAuth2Refresh) and auth.token_url == "http://127.0.0.1:1/oauth/v1/token"
    with patched_env({}, unset=all_vars):
        with pytest.raises(Failure, match="HUBSPOT_ACCESS_TOKEN.*HUBSPOT_REFRESH_TOKEN"):
            HubspotResource().auth()
