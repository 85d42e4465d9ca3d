"""The campaigns source as Dagster runs it: jobs with their asset checks and the integrity report,
the landing sensor, and the real `ingest sync-campaigns` / `dagster` command lines."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import sqlalchemy as sa
from dagster import DagsterInstance, Definitions, build_sensor_context

from ingestion_pipelines.launch import materializations
from ingestion_pipelines.resources.warehouse import WarehouseResource
from ingestion_pipelines.settings import PROJECT_ROOT
from ingestion_pipelines.sources.campaigns import schema
from ingestion_pipelines.cli.campaigns import sync_run_config
from ingestion_pipelines.sources.campaigns.definitions import defs as campaigns_defs
from ingestion_pipelines.sources.campaigns.names import LANDING_PREFIX as PREFIX

from .conftest import SAMPLE_CSV, SCRAPED


def _defs(warehouse, store) -> Definitions:
    return Definitions.merge(campaigns_defs, Definitions(resources={"warehouse": warehouse, "blob_store": store}))


def test_demo_step_runs_offline_with_checks_and_report(warehouse, local_store):
    # the run config `ingest demo`'s campaigns step uses (cli/campaigns.py DEMO_STEPS)
    job = _defs(warehouse, local_store).resolve_job_def("campaigns_sync_and_playlists_job")
    run_config = sync_run_config(str(SAMPLE_CSV), str(SCRAPED), False, sfa=False)
    with DagsterInstance.ephemeral() as inst:
        result = job.execute_in_process(run_config=run_config, instance=inst)
        assert result.success
        md = materializations(result)
        assert md["campaigns/spotify_campaigns"]["inserted"] == 664
        assert md["campaigns/spotify_campaigns"]["dagster/row_count"] == 664
        assert md["campaigns/clients"]["dagster/row_count"] == 203
        assert md["campaigns/campaign_playlists"]["inserted"] == 690
        assert md["campaigns/campaign_csv"]["failed"] == 2
        failed_file = md["campaigns/spotify_campaigns"]["failed_rows_file"]
        assert failed_file and local_store.exists(local_store.key_from_uri(failed_file))
        body = local_store.get_bytes(local_store.key_from_uri(failed_file)).decode()
        assert body.count("Campaign: is required") == 2
        report = md["campaigns/integrity_report"]["report_markdown"]
        assert "| ✅ Total campaigns | 664 |" in report and "| ✅ Orphaned records | 0 |" in report
        checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
        assert checks == {"campaigns_have_no_orphans": True, "campaign_statuses_valid": True,
                          "campaigns_not_duplicated": True, "clients_unique_and_used": True,
                          "playlists_linked": True, "active_campaigns_have_data": False}
        # result files live outside the landing prefix: the sensor never re-imports them
        assert not local_store.key_from_uri(failed_file).startswith(PREFIX)
        sensor = _defs(warehouse, local_store).resolve_sensor_def("campaigns_landing_sensor")
        assert not sensor(build_sensor_context(instance=inst, resources={"blob_store": local_store})).run_requests
        again = job.execute_in_process(run_config=run_config, instance=inst)
        md2 = materializations(again)
        assert md2["campaigns/spotify_campaigns"]["unchanged"] == 664
        assert md2["campaigns/campaign_playlists"]["unchanged"] == 690


def test_dry_run_job_reports_per_table_and_writes_nothing(sqlite_warehouse, local_store):
    job = _defs(sqlite_warehouse, local_store).resolve_job_def("campaigns_sync_job")
    cfg = {"ops": {"campaigns_sync": {"config": {"csv": str(SAMPLE_CSV), "dry_run": True}}}}
    result = job.execute_in_process(run_config=cfg, instance=DagsterInstance.ephemeral())
    md = materializations(result)
    assert md["campaigns/spotify_campaigns"]["inserted"] == 664 and md["campaigns/spotify_campaigns"]["dry_run"]
    assert md["campaigns/clients"]["inserted"] == 203 and md["campaigns/vendors"]["inserted"] == 15
    assert sqlite_warehouse.count(schema.spotify_campaigns) == 0
    assert not md["campaigns/spotify_campaigns"]["failed_rows_file"]


def test_sfa_job_without_credentials_fails_naming_the_variable(sqlite_warehouse, local_store, monkeypatch):
    monkeypatch.delenv("SPOTIFY_CLIENT_ID", raising=False)
    monkeypatch.delenv("SPOTIFY_CLIENT_SECRET", raising=False)
    d = _defs(sqlite_warehouse, local_store)
    d.resolve_job_def("campaigns_sync_job").execute_in_process(instance=DagsterInstance.ephemeral())
    result = d.resolve_job_def("campaigns_sfa_job").execute_in_process(instance=DagsterInstance.ephemeral(),
                                                                        raise_on_error=False)
    assert not result.success
    failure = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"][0]
    assert "SPOTIFY_CLIENT_ID" in failure.event_specific_data.error.message


def test_sensor_requests_runs_for_new_csv_and_json_once(sqlite_warehouse, local_store):
    local_store.put_file(f"{PREFIX}drop/campaigns.csv", SAMPLE_CSV)
    jsons = sorted(SCRAPED.glob("*.json"))[:3]
    for p in jsons:
        local_store.put_file(f"{PREFIX}scraped/{p.name}", p)
    local_store.put_file(f"{PREFIX}readme.txt", SAMPLE_CSV)  # ignored suffix
    sensor = _defs(sqlite_warehouse, local_store).resolve_sensor_def("campaigns_landing_sensor")
    with DagsterInstance.ephemeral() as inst:
        ctx = build_sensor_context(instance=inst, resources={"blob_store": local_store})
        res = sensor(ctx)
        reqs = res.run_requests
        assert sorted(r.job_name for r in reqs) == ["campaigns_playlists_job", "campaigns_sync_job"]
        csv_req = [r for r in reqs if r.job_name == "campaigns_sync_job"][0]
        assert csv_req.run_config["ops"]["campaigns_sync"]["config"]["csv"].endswith("drop/campaigns.csv")
        json_req = [r for r in reqs if r.job_name == "campaigns_playlists_job"][0]
        assert len(json_req.run_config["ops"]["campaigns__campaign_playlists"]["config"]["files"]) == 3
        ctx2 = build_sensor_context(instance=inst, cursor=res.cursor, resources={"blob_store": local_store})
        assert not (sensor(ctx2).run_requests or [])  # nothing new: no runs


def _cli_env(tmp_path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPOTIFY_")}
    env.update(WAREHOUSE_URL=f"sqlite:///{tmp_path / 'wh.db'}", STORAGE_URL=str(tmp_path / "storage"),
               DAGSTER_HOME=str(tmp_path / "dh"), INGEST_STATE_DIR=str(tmp_path / "state"))
    (tmp_path / "dh").mkdir()
    shutil.copy(PROJECT_ROOT / "dagster.yaml", tmp_path / "dh" / "dagster.yaml")
    return env


def test_cli_sync_campaigns_dry_run_then_real_then_usage_error(tmp_path):
    env = _cli_env(tmp_path)
    ingest = [sys.executable, "-m", "ingestion_pipelines.cli", "sync-campaigns"]
    dry = subprocess.run([*ingest, "--csv", str(SAMPLE_CSV), "--sync-only", "--dry-run"], env=env,
                         capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=180)
    assert dry.returncode == 0, dry.stderr[-2000:]
    assert "campaigns/spotify_campaigns: inserted=664" in dry.stdout and "dry run" in dry.stdout
    full = subprocess.run([*ingest, "--csv", str(SAMPLE_CSV)], env=env, capture_output=True, text=True,
                          cwd=PROJECT_ROOT, timeout=180)
    assert full.returncode == 0, full.stderr[-2000:]
    assert "SFA URL resolution skipped: SPOTIFY_CLIENT_ID" in full.stdout
    assert "campaigns/campaign_playlists: inserted=690" in full.stdout
    wh = WarehouseResource(url=env["WAREHOUSE_URL"])
    with wh.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.spotify_campaigns)).scalar() == 664
    bad = subprocess.run([*ingest, "--sync-only"], env=env, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=180)
    assert bad.returncode == 2 and "--csv FILE is required" in bad.stderr


def test_run_config_helper_drops_sfa_when_asked():
    cfg = sync_run_config("x.csv", None, True, sfa=False).to_config_dict()
    assert set(cfg["ops"]) == {"campaigns_sync", "campaigns__campaign_playlists"}
    assert cfg["ops"]["campaigns_sync"]["config"]["csv"] == "x.csv"
    assert cfg["ops"]["campaigns_sync"]["config"]["dry_run"] is True
    assert cfg["ops"]["campaigns__campaign_playlists"]["config"]["dry_run"] is True


def test_sensor_on_s3_landing(sqlite_warehouse, s3_store):
    s3_store.put_file(f"{PREFIX}new.csv", SAMPLE_CSV)
    sensor = _defs(sqlite_warehouse, s3_store).resolve_sensor_def("campaigns_landing_sensor")
    with DagsterInstance.ephemeral() as inst:
        res = sensor(build_sensor_context(instance=inst, resources={"blob_store": s3_store}))
        (req,) = res.run_requests
        assert req.job_name == "campaigns_sync_job" and req.run_key.startswith(f"csv:{PREFIX}new.csv:")
        csv_uri = req.run_config["ops"]["campaigns_sync"]["config"]["csv"]
        assert csv_uri.startswith("s3://")
        job = _defs(sqlite_warehouse, s3_store).resolve_job_def("campaigns_sync_job")
        result = job.execute_in_process(run_config=req.run_config, instance=inst)
        assert result.success and sqlite_warehouse.count(schema.spotify_campaigns) == 664


def test_dagster_cli_materializes_the_sync(tmp_path):
    env = _cli_env(tmp_path)
    cmd = [sys.executable, "-m", "dagster", "asset", "materialize", "-m", "ingestion_pipelines.definitions",
           "--select", "campaigns/campaign_csv,campaigns/clients,campaigns/vendors,campaigns/campaign_groups,"
           "campaigns/spotify_campaigns"]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=240)
    assert out.returncode == 0, out.stderr[-3000:]
    wh = WarehouseResource(url=env["WAREHOUSE_URL"])
    assert wh.count(schema.spotify_campaigns) == 664 and wh.count(schema.clients) == 203


def test_not_a_campaign_sheet_fails_the_run_and_is_recorded(sqlite_warehouse, local_store, tmp_path):
    from ingestion_pipelines.engine.ledger import ingest_files

    bad = tmp_path / "orders.csv"
    bad.write_text("order_id,total\n1,2\n")
    job = _defs(sqlite_warehouse, local_store).resolve_job_def("campaigns_sync_job")
    result = job.execute_in_process(run_config={"ops": {"campaigns_sync": {"config": {"csv": str(bad)}}}},
                                    instance=DagsterInstance.ephemeral(), raise_on_error=False)
    assert not result.success
    failure = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"][0]
    assert "no 'Campaign' column" in failure.event_specific_data.error.message
    with sqlite_warehouse.engine.connect() as conn:
        (row,) = conn.execute(sa.select(ingest_files.c.status, ingest_files.c.error)).all()
    assert row.status == "failed" and "Campaign" in row.error
    assert sqlite_warehouse.count(schema.spotify_campaigns) == 0
