"""The real `ingest` console script: gen-dataset -> bulk-ingest (dry run, then landing with
--wait-for-completion) -> rows in PostgreSQL; load-tenants; a second bulk-ingest loads 0."""

import json
import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[3]
INGEST = [sys.executable, "-m", "ingestion_pipelines.cli"]


def _run(args, env):
    p = subprocess.run(INGEST + args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    return p.returncode, p.stdout + p.stderr


def test_cli_end_to_end(tmp_path, pg_url, pg_schema):
    eng = sa.create_engine(pg_url.replace("postgresql://", "postgresql+psycopg2://", 1))
    with eng.begin() as c:
        c.exec_driver_sql(f'CREATE SCHEMA "{pg_schema}"')
    env = {**os.environ, "WAREHOUSE_URL": f"{pg_url}?options=-csearch_path%3D{pg_schema}",
           "STORAGE_URL": str(tmp_path / "storage"), "DAGSTER_HOME": str(tmp_path / "dh"),
           "INGEST_STATE_DIR": str(tmp_path / "state")}
    (tmp_path / "dh").mkdir()
    (tmp_path / "dh" / "dagster.yaml").write_text((ROOT / "dagster.yaml").read_text())
    data = tmp_path / "gen"
    rc, out = _run(["gen-dataset", "--tenants", "2", "--products-per-tenant", "40", "--orders-per-tenant", "100",
                    "--chunk-size", "60", "--defects", "0.02", "--out", str(data), "--gzip"], env)
    assert rc == 0, out
    summary = json.loads((data / "dataset_summary.json").read_text())
    manifest = json.loads((data / "defects_manifest.json").read_text())["defects"]
    t1, t2 = summary["tenants"]

    rc, out = _run(["bulk-ingest", "--data-dir", str(data), "--dry-run", "--tenant-id", t1], env)
    assert rc == 0, out
    assert "would upload tenants.csv" in out and t2 not in out.split("tenant(s)")[1]
    assert not (tmp_path / "storage" / "tenants").exists()

    rc, out = _run(["load-tenants", "--file", str(data / "tenants.csv")], env)
    assert rc == 0, out
    assert "tenants/tenants: inserted=2" in out

    rc, out = _run(["bulk-ingest", "--data-dir", str(data), "--wait-for-completion"], env)
    assert rc == 0, out
    assert f"tenant {t1}: SUCCESS" in out and f"tenant {t2}: SUCCESS" in out
    assert "created=0" in out  # tenants already loaded by load-tenants
    with eng.connect() as c:
        for tid in (t1, t2):
            n = c.exec_driver_sql(f'SELECT count(*) FROM "{pg_schema}".order_items WHERE tenant_id = %(t)s', {"t": tid}).scalar()
            assert n == summary["good_records"][tid]["order_items"]
        failed = c.exec_driver_sql(f'SELECT sum(rows_failed) FROM "{pg_schema}".ingest_files').scalar()
    assert failed == len(manifest)

    # the same upload again: every file already loaded, nothing written
    rc, out = _run(["bulk-ingest", "--data-dir", str(data), "--wait-for-completion"], env)
    assert rc == 0, out
    for tid in (t1, t2):
        line = next(ln for ln in out.splitlines() if ln.startswith(f"tenant {tid}: "))
        assert "SUCCESS" in line and line.endswith("inserted=0 updated=0 unchanged=0 failed=0"), line
    eng.dispose()
