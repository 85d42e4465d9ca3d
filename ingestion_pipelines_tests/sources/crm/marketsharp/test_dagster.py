"""The MarketSharp sync through Dagster and the command line, against the stand-in: the
``marketsharp_all`` job in process with the signed-header trio from the environment (EnvVar) —
every set materialized with DESIGN §10 metadata, and no key, secret or signature anywhere in
the run's logs, metadata, run config, sync history or result files; missing credentials fail
the run naming the variables; the names (jobs, tag, schedules stopped); ``ingest
sync-marketsharp-*`` via click's CliRunner."""

from __future__ import annotations

import time

import sqlalchemy as sa
from click.testing import CliRunner
from dagster import DagsterInstance, DefaultScheduleStatus, Definitions, EnvVar

from ingestion_pipelines.launch import materializations
from ingestion_pipelines.resources.storage import LocalBlobStore
from ingestion_pipelines.sources.crm.marketsharp import api_definitions as d
from ingestion_pipelines.sources.crm.marketsharp.api_names import NAMES, SETS
from ingestion_pipelines.sources.crm.marketsharp.schema import TABLES
from ingestion_pipelines.standins.marketsharp import Company

from ingestion_pipelines_tests.conftest import patched_env
from ingestion_pipelines_tests.sources.crm.hubspot.test_dagster import _everything_the_run_left

from .test_auth import ALL_VARIABLES

SECRET = "c2VjcmV0LW9mLXRoZS10ZXN0LVRPUA=="  # base64 of "secret-of-the-test-TOP"
API_KEY = "ak-TOP-secret-9753"


def _defs(warehouse, tmp_path) -> Definitions:
    res = d.MarketSharpResource(base_url=EnvVar("MARKETSHARP_BASE_URL"), company_id=EnvVar("MARKETSHARP_COMPANY_ID"),
                                api_key=EnvVar("MARKETSHARP_API_KEY"), secret_key=EnvVar("MARKETSHARP_SECRET_KEY"),
                                account=f"dagster-{tmp_path.name[-8:]}", backoff_seconds=0.01)
    return Definitions(assets=d.defs.assets, jobs=d.defs.jobs, resources={
        "warehouse": warehouse, "blob_store": LocalBlobStore(root=str(tmp_path / "storage")), NAMES.resource: res})


def test_all_job_metadata_and_no_secret_anywhere(pg_warehouse, served, tmp_path):
    company = Company.seeded(11, contacts=40, api_key=API_KEY, secret_key=SECRET)
    server = served(company)
    job = _defs(pg_warehouse, tmp_path).resolve_job_def(NAMES.all_job)
    assert job.tags[NAMES.account_tag] == "default"
    t0 = int(time.time())
    with patched_env(server.env(signed=True)), DagsterInstance.ephemeral() as inst:
        res = job.execute_in_process(instance=inst, raise_on_error=False)
        assert res.success
        left = _everything_the_run_left(inst, res.run_id, pg_warehouse, tmp_path)
    mats = materializations(res)
    assert set(mats) == {f"marketsharp/{NAMES.snake(s)}" for s in NAMES.streams}
    md = mats["marketsharp/contacts"]
    for k in ("mode", "status", "watermark_before", "watermark_after", "rows_read", "inserted", "updated", "unchanged",
              "deleted", "failed", "sync_history_id", "requests", "pages", "records_per_s", "duration_s",
              "dagster/row_count", "preview"):
        assert k in md, k
    inactive = sum(1 for r in company.records["Contacts"].values() if not r["isActive"])
    assert (md["mode"], md["status"], md["inserted"], md["deleted"], md["dagster/row_count"]) == (
        "full", "succeeded", 40, inactive, 40)
    assert md["watermark_after"] and mats["marketsharp/contact_types"]["inserted"] == 5
    signatures = [company.signature(str(e)) for e in range(t0 - 2, int(time.time()) + 2)]
    assert not [s for s in (SECRET, API_KEY, *signatures) if s in left]


def test_missing_credentials_fail_the_run_naming_the_variables(sqlite_warehouse, tmp_path):
    res = d.MarketSharpResource(base_url="http://127.0.0.1:9/WcfDataService.svc", account="missing")
    defs = Definitions(assets=d.defs.assets, jobs=d.defs.jobs, resources={
        "warehouse": sqlite_warehouse, "blob_store": LocalBlobStore(root=str(tmp_path / "storage")), NAMES.resource: res})
    with patched_env({}, unset=ALL_VARIABLES), DagsterInstance.ephemeral() as inst:
        run = defs.resolve_job_def(NAMES.job("contacts")).execute_in_process(instance=inst, raise_on_error=False)
    assert not run.success
    failure = next(e for e in run.all_events if e.event_type_value == "STEP_FAILURE")
    assert "MARKETSHARP_COMPANY_ID" in failure.event_specific_data.error.message
    assert "MARKETSHARP_USERNAME" in failure.event_specific_data.error.message


def test_names_jobs_and_schedules():
    from ingestion_pipelines.definitions import defs

    jobs = {j.name: j for j in d.defs.jobs}
    assert {"marketsharp_contacts", "marketsharp_inquiry_source_primaries", "marketsharp_all"} <= set(jobs)
    assert len(jobs) == len(SETS) + 1 and all(j.tags.get("marketsharp/account") == "default" for j in jobs.values())
    scheds = {s.name: s for s in d.defs.schedules}
    assert set(scheds) == {"marketsharp_incremental_schedule", "marketsharp_full_schedule"}
    assert all(s.default_status == DefaultScheduleStatus.STOPPED for s in scheds.values())
    assert defs.get_repository_def().get_job("marketsharp_all") is not None
    assert {t.name for t in TABLES.values()} >= {"marketsharp_contacts", "marketsharp_appointments", "marketsharp_jobs",
                                                 "marketsharp_leads", "marketsharp_inquiries", "marketsharp_activities",
                                                 "marketsharp_employees", "marketsharp_contact_types"}


def test_the_ingest_commands(served):
    """In process (CliRunner), so on the session's default warehouse (the code location binds
    ``WAREHOUSE_URL`` when first imported); rows are counted by this company's ids."""
    from ingestion_pipelines.cli import main
    from ingestion_pipelines.settings import default_warehouse_url

    company = Company.seeded(12, contacts=12, password="pw-TOP-secret-8642")
    server = served(company)
    signed = ("MARKETSHARP_COMPANY_ID", "MARKETSHARP_API_KEY", "MARKETSHARP_SECRET_KEY")
    with patched_env(server.env(), unset=("WAREHOUSE_URL", *signed)):
        runner = CliRunner()
        dry = runner.invoke(main, ["sync-marketsharp-contacts", "--dry-run"])
        assert dry.exit_code == 0, dry.output
        assert "inserted=12" in dry.output and "SUCCESS" in dry.output
        out = runner.invoke(main, ["sync-marketsharp-contacts", "--full", "--limit", "5"])
        assert out.exit_code == 0, out.output
        assert "pw-TOP-secret-8642" not in dry.output + out.output
        bad = runner.invoke(main, ["sync-marketsharp-jobs", "--full", "--since", "2026-01-01"])
        assert bad.exit_code == 2
    eng = sa.create_engine(default_warehouse_url())
    with eng.connect() as c:
        t = TABLES["contacts"]
        n = c.execute(sa.select(sa.func.count()).select_from(t).where(t.c.id.in_(list(company.records["Contacts"])))).scalar()
    eng.dispose()
    assert n == 5


def test_the_demo_step():
    """``ingest demo``'s MarketSharp step: the stand-in's demo company, ``marketsharp_all``, then exactly its changes."""
    from ingestion_pipelines.cli.api_sync import demo_steps

    (step,) = [s for s in demo_steps() if s.label.startswith("marketsharp:")]
    with patched_env({}, unset=("WAREHOUSE_URL", *ALL_VARIABLES)):
        first, second = step.run()
    assert first.success and second.success
    contacts = materializations(second)["marketsharp/contacts"]
    assert (contacts["mode"], contacts["inserted"], contacts["updated"]) == ("incremental", 3, 8)
    assert contacts["deleted"] >= 2
