"""The LeadConduit sync through Dagster and the ``ingest`` command, against the stand-in: the
``leadconduit_all`` job with the key from the environment (EnvVar) — both assets'
materialization metadata (DESIGN §10), the key in no log, metadata, history row or result
file; a missing key fails the step naming the variable; the names (jobs, tag, schedules
stopped); ``ingest sync-leadconduit-all`` in a subprocess (``--dry-run``, ``--limit``);
a lead imported from the CSV export and then seen by the API lands once, the API's columns
updated and the CSV-only ones kept."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from dagster import DagsterInstance, DefaultScheduleStatus, Definitions, EnvVar

from ingestion_pipelines.engine.api.definitions import api_definitions
from ingestion_pipelines.engine.profile_load import load_csv
from ingestion_pipelines.engine.sync_state import sync_history
from ingestion_pipelines.launch import materializations
from ingestion_pipelines.resources.storage import LocalBlobStore
from ingestion_pipelines.settings import DATA_DIR
from ingestion_pipelines.sources.crm.leadconduit.api_names import NAMES
from ingestion_pipelines.sources.crm.leadconduit.api_streams import EVENTS, LEADS_STREAM
from ingestion_pipelines.sources.crm.leadconduit.api_sync import LeadConduitResource, run
from ingestion_pipelines.sources.crm.leadconduit.csv_streams import LEADS
from ingestion_pipelines.standins.leadconduit import Account, Fault

from ingestion_pipelines_tests.conftest import patched_env

from .conftest import Syncer, assert_equal, resource, stored_leads

KEY_VARS = ("ACTIVEPROSPECT_API_KEY", "ACTIVEPROSPECT_API_TOKEN", "LEADCONDUIT_API_KEY")


def _defs(warehouse, tmp_path, key_var: bool = True) -> Definitions:
    """The system's definitions on ``warehouse``; ``key_var``: the key as an ``EnvVar`` (else
    read from the environment when the run needs it, as ``from_env`` does for an unset one)."""
    key = {"api_key": EnvVar("ACTIVEPROSPECT_API_KEY")} if key_var else {}
    res = LeadConduitResource(base_url=EnvVar("ACTIVEPROSPECT_BASE_URL"), account=f"dagster-{tmp_path.name[-8:]}",
                              backoff_seconds=0.01, **key)
    own = api_definitions(NAMES, (EVENTS, LEADS_STREAM), res, runner=run, kind="leadconduit")
    return Definitions.merge(own, Definitions(resources={
        "warehouse": warehouse, "blob_store": LocalBlobStore(root=str(tmp_path / "storage"))}))


def _everything_the_run_left(inst, run_id: str, warehouse, tmp_path: Path) -> str:
    texts = [(rec.user_message or "") + (repr(rec.dagster_event) if rec.dagster_event else "")
             for rec in inst.all_logs(run_id)]
    with warehouse.engine.connect() as c:
        texts += [repr(tuple(r)) for r in c.execute(sa.select(sync_history))]
    texts += [p.read_text(errors="replace") for p in (tmp_path / "storage").rglob("*") if p.is_file()]
    run_ = inst.get_run_by_id(run_id)
    return "\n".join([*texts, json.dumps(run_.run_config, default=str), repr(run_.tags)])


def test_all_job_metadata_and_no_key_anywhere(pg_warehouse, served, tmp_path):
    account = Account.seeded(21, leads=450, retries=10, api_key="lc-TOP-secret-9911")
    account.inject(Fault(503))
    server = served(account)
    job = _defs(pg_warehouse, tmp_path).resolve_job_def(NAMES.all_job)
    assert job.tags[NAMES.account_tag] == "default"
    env = {"ACTIVEPROSPECT_BASE_URL": server.url, "ACTIVEPROSPECT_API_KEY": account.api_key}
    with patched_env(env), DagsterInstance.ephemeral() as inst:
        res = job.execute_in_process(instance=inst, raise_on_error=False)
        assert res.success
        left = _everything_the_run_left(inst, res.run_id, pg_warehouse, tmp_path)
    mats = materializations(res)
    assert set(mats) == {"leadconduit/events", "leadconduit/leads"}
    ev, leads = mats["leadconduit/events"], mats["leadconduit/leads"]
    for k in ("mode", "status", "watermark_before", "watermark_after", "rows_read", "inserted", "updated",
              "unchanged", "deleted", "failed", "sync_history_id", "requests", "records_per_s", "dagster/row_count"):
        assert k in ev and k in leads, k
    n = len(account.events)
    assert (ev["mode"], ev["status"], ev["inserted"], ev["dagster/row_count"]) == ("full", "succeeded", n, n)
    assert ev["pages"] == -(-n // 1000) + 1 and ev["requests"] == ev["pages"] + 1  # + the retried 503
    assert ev["watermark_after"] == leads["watermark_after"] == account.events[-1]["id"]
    assert (leads["inserted"], leads["dagster/row_count"], leads["requests"]) == (450, 450, 0)
    assert_equal(account, pg_warehouse)
    assert account.api_key not in left and "retry 1" in left


def test_a_missing_key_fails_naming_the_variable(sqlite_warehouse, tmp_path):
    job = _defs(sqlite_warehouse, tmp_path, key_var=False).resolve_job_def(NAMES.job("events"))
    with patched_env({"ACTIVEPROSPECT_BASE_URL": "http://127.0.0.1:9"}, unset=KEY_VARS), \
            DagsterInstance.ephemeral() as inst:
        res = job.execute_in_process(instance=inst, raise_on_error=False)
    assert not res.success
    failure = next(e for e in res.all_events if e.event_type_value in ("STEP_FAILURE", "RUN_FAILURE"))
    text = failure.event_specific_data.error.message if failure.event_specific_data.error else failure.message
    assert "ACTIVEPROSPECT_API_KEY" in text


def test_names_jobs_and_schedules():
    from ingestion_pipelines.definitions import defs

    assert NAMES.streams == ("events", "leads")
    for j in ("leadconduit_events", "leadconduit_leads", "leadconduit_all"):
        assert defs.resolve_job_def(j).tags["leadconduit/account"] == "default"
    scheds = {s.name: s for s in defs.schedules if s.name.startswith("leadconduit_")}
    assert set(scheds) == {"leadconduit_incremental_schedule", "leadconduit_full_schedule"}
    assert all(s.default_status == DefaultScheduleStatus.STOPPED for s in scheds.values())
    assert LeadConduitResource().url == "https://app.leadconduit.com" or os.environ.get("ACTIVEPROSPECT_BASE_URL")


def test_the_ingest_command(served, tmp_path):
    account = Account.seeded(22, leads=80)
    server = served(account)
    db = tmp_path / "wh.db"
    env = {**os.environ, "ACTIVEPROSPECT_BASE_URL": server.url, "ACTIVEPROSPECT_API_KEY": account.api_key,
           "WAREHOUSE_URL": f"sqlite:///{db}", "INGEST_STATE_DIR": str(tmp_path / "state"),
           "DAGSTER_HOME": str(tmp_path / "home"), "INGEST_LOG_LEVEL": "WARNING"}
    ingest = str(Path(sys.executable).parent / "ingest")
    dry = subprocess.run([ingest, "sync-leadconduit-events", "--dry-run"], env=env, capture_output=True, text=True,
                         timeout=180)
    assert dry.returncode == 0, dry.stderr[-2000:]
    assert f"inserted={len(account.events)}" in dry.stdout
    out = subprocess.run([ingest, "sync-leadconduit-all", "--limit", "50"], env=env, capture_output=True, text=True,
                         timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "SUCCESS" in out.stdout and account.api_key not in out.stdout + out.stderr
    eng = sa.create_engine(f"sqlite:///{db}")
    with eng.connect() as c:
        assert c.execute(sa.text("select count(*) from leadconduit_events")).scalar() == 50
        derived = c.execute(sa.text("select count(*) from leadconduit_leads")).scalar()
    eng.dispose()
    assert 0 < derived <= 50


def test_a_csv_lead_updated_by_the_api_lands_once(warehouse, served, tmp_path):
    sample = DATA_DIR / "crm" / "leadconduit" / "leads.csv"
    r = load_csv(warehouse, LocalBlobStore(root=str(tmp_path / "s")), LEADS, str(sample))
    assert r.status == "succeeded"
    before = stored_leads(warehouse)
    lid = "5e8a00000000000000000000"  # the sample's first lead (Jennifer Taylor, sr_rep_id 9488)
    assert before[lid]["salesrabbit_rep_id"] == "9488" and before[lid]["outcome"] is None
    account = Account.seeded(23, leads=5)
    account.submit({"id": lid, "first_name": "Jennifer", "last_name": "Taylor-Reed",
                    "email": {"raw": "Jennifer.Taylor@Comcast.net", "normal": "jennifer.taylor@comcast.net"},
                    "phone_1": "2039574176", "postal_code": "06001"}, outcome="success")
    retry = account.retry(lid, outcome="failure")
    s = Syncer(warehouse, resource(served(account)))
    s.all()
    after = stored_leads(warehouse)
    assert len(after) == len(before) + 5  # the CSV lead landed once: same id
    got = after[lid]
    assert (got["last_name"], got["email"], got["phone_1"]) == ("Taylor-Reed", "jennifer.taylor@comcast.net", "+12039574176")
    assert (got["outcome"], got["reason"]) == ("failure", retry["reason"])
    assert got["salesrabbit_rep_id"] == "9488" and got["_source"] == s.client.base_url + "/events"  # CSV-only kept
    assert got["submission_timestamp"] is not None


def test_the_demo_step():
    """``ingest demo``'s LeadConduit step: the stand-in's demo account, ``leadconduit_all``, then
    exactly its changes (10 new leads, 3 retried)."""
    from ingestion_pipelines.cli.api_sync import demo_steps

    (step,) = [s for s in demo_steps() if s.label.startswith("leadconduit:")]
    with patched_env({}, unset=("WAREHOUSE_URL", "ACTIVEPROSPECT_BASE_URL", *KEY_VARS)):
        first, second = step.run()
    assert first.success and second.success
    leads = materializations(second)["leadconduit/leads"]
    assert (leads["mode"], leads["inserted"], leads["updated"]) == ("incremental", 10, 3)
    assert materializations(second)["leadconduit/events"]["unchanged"] == 0
