"""`ingest bulk-ingest --wait-for-completion --url`: the runs are submitted to and followed
through a real dagster-webserver's GraphQL API (a subprocess on a free loopback port, with a
temporary DAGSTER_HOME), into the real PostgreSQL."""

import json
import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from ...conftest import running_webserver

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
INGEST = [sys.executable, "-m", "ingestion_pipelines.cli"]


def test_bulk_ingest_follows_runs_through_webserver(tmp_path, pg_url, pg_schema):
    eng = sa.create_engine(pg_url.replace("postgresql://", "postgresql+psycopg2://", 1))
    with eng.begin() as c:
        c.exec_driver_sql(f'CREATE SCHEMA "{pg_schema}"')
    home = tmp_path / "dh"
    home.mkdir()
    # DefaultRunCoordinator: a submitted run starts at once (no dagster-daemon in the test);
    # SyncInMemoryRunLauncher: it runs inside the webserver (no process start per run, ~10 s each
    # here), so the client polls runs that are already finished: status and counts still come
    # from the GraphQL API
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\nrun_coordinator:\n"
                                       "  module: dagster.core.run_coordinator\n  class: DefaultRunCoordinator\n"
                                       "run_launcher:\n  module: dagster._core.launcher.sync_in_memory_run_launcher\n"
                                       "  class: SyncInMemoryRunLauncher\n")
    env = {**os.environ, "WAREHOUSE_URL": f"{pg_url}?options=-csearch_path%3D{pg_schema}",
           "STORAGE_URL": str(tmp_path / "storage"), "DAGSTER_HOME": str(home),
           "INGEST_STATE_DIR": str(tmp_path / "state")}
    data = tmp_path / "gen"
    p = subprocess.run(INGEST + ["gen-dataset", "--tenants", "2", "--products-per-tenant", "20", "--orders-per-tenant",
                                 "50", "--defects", "0.02", "--seed", "5", "--out", str(data)],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    summary = json.loads((data / "dataset_summary.json").read_text())
    manifest = json.loads((data / "defects_manifest.json").read_text())["defects"]
    t1, t2 = summary["tenants"]

    with running_webserver(env) as url:
        p = subprocess.run(INGEST + ["bulk-ingest", "--data-dir", str(data), "--wait-for-completion", "--url", url],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
        out = p.stdout + p.stderr
        assert p.returncode == 0, out
    assert "tenants: SUCCESS" in out and "created=2" in out
    good = {tid: sum(summary["good_records"][tid].values()) for tid in (t1, t2)}
    bad = {tid: sum(1 for d in manifest if d["tenant_id"] == tid) for tid in (t1, t2)}
    for tid in (t1, t2):
        line = next(ln for ln in out.splitlines() if ln.startswith(f"tenant {tid}: SUCCESS"))
        assert f"inserted={good[tid]} updated=0 unchanged=0 failed={bad[tid]}" in line, out
    with eng.connect() as c:
        n = c.exec_driver_sql(f'SELECT count(*) FROM "{pg_schema}".orders').scalar()
    assert n == sum(summary["good_records"][tid]["orders"] for tid in (t1, t2))
