"""The `ingest` command and the `dagster` CLI in real subprocesses, as a user runs them:
runs land on the DAGSTER_HOME instance, the summary is printed, exit codes are 0 / 1 / 2."""

import json
import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from dagster import DagsterInstance

from ...conftest import PROJECT_ROOT

BIN = Path(sys.executable).parent
SAMPLE = PROJECT_ROOT / "data" / "artists" / "artists_fixture.json"


def env_for(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text((PROJECT_ROOT / "dagster.yaml").read_text())
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update({"INGEST_STATE_DIR": str(tmp_path / "state"), "DAGSTER_HOME": str(home),
                "WAREHOUSE_URL": f"sqlite:///{tmp_path / 'wh.db'}", "STORAGE_URL": str(tmp_path / "storage")})
    return env


def run(args, env, timeout=240):
    return subprocess.run(args, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=timeout)


def count(tmp_path, table):
    eng = sa.create_engine(f"sqlite:///{tmp_path / 'wh.db'}")
    with eng.connect() as c:
        return c.exec_driver_sql(f"select count(*) from {table}").scalar()


def test_ingest_import_entities_dry_run_real_run_bad_file_and_usage(tmp_path):
    env = env_for(tmp_path)
    p = run([BIN / "ingest", "import-entities", str(SAMPLE), "--dry-run"], env)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "dry run" in p.stdout and "inserted=37" in p.stdout and "failed=4" in p.stdout
    assert count(tmp_path, "entities") == 0

    p = run([BIN / "ingest", "import-entities", str(SAMPLE)], env)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "SUCCESS" in p.stdout and "inserted=37" in p.stdout and "failed rows file:" in p.stdout
    assert count(tmp_path, "entities") == 37

    p = run([BIN / "ingest", "import-entities", str(SAMPLE)], env)
    assert p.returncode == 0 and "skipped=37" in p.stdout

    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    p = run([BIN / "ingest", "import-entities", str(bad)], env)
    assert p.returncode == 1 and "FAILURE" in p.stdout and "not valid JSON" in p.stdout

    p = run([BIN / "ingest", "import-entities"], env)
    assert p.returncode == 2 and "Missing argument" in p.stderr

    out = tmp_path / "export.json"
    p = run([BIN / "ingest", "export-artists", "--output", str(out), "--internal-only"], env)
    assert p.returncode == 0, p.stdout + p.stderr
    exported = json.loads(out.read_text())
    assert exported and all(any(r["is_internal"] for r in e["roles"]) for e in exported)

    # every run is on the DAGSTER_HOME instance, so `dagster dev` on it shows the history
    os.environ["DAGSTER_HOME"], saved = env["DAGSTER_HOME"], os.environ["DAGSTER_HOME"]
    try:
        with DagsterInstance.get() as inst:
            assert len(inst.get_runs()) == 5
    finally:
        os.environ["DAGSTER_HOME"] = saved


def test_dagster_cli_validate_and_materialize_group(tmp_path):
    env = env_for(tmp_path)
    p = run([BIN / "dagster", "definitions", "validate", "-m", "ingestion_pipelines.definitions"], env)
    assert p.returncode == 0, p.stdout + p.stderr
    p = run([BIN / "dagster", "asset", "materialize", "-m", "ingestion_pipelines.definitions",
             "--select", "group:artists"], env, timeout=400)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert count(tmp_path, "entities") == 37
    assert (tmp_path / "storage" / "exports" / "artists_fixture.json").exists()
