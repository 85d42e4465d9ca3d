"""The other two ways to start an import, as users do: the `dagster` CLI with run config, and
`ingest import-file --url` through a real dagster-webserver's GraphQL API (subprocesses)."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from ingestion_pipelines.sources.imports.jobs import run_config
from ingestion_pipelines.sources.imports.names import FILE_IMPORT_JOB as JOB_NAME

from ...conftest import running_webserver

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "data" / "imports"
BIN = Path(sys.executable).parent


def _env(tmp_path: Path) -> dict:
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    # DefaultRunCoordinator: a submitted run starts at once (no dagster-daemon in the test)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\nrun_coordinator:\n"
                                       "  module: dagster.core.run_coordinator\n  class: DefaultRunCoordinator\n")
    return {**os.environ, "DAGSTER_HOME": str(home), "WAREHOUSE_URL": f"sqlite:///{tmp_path / 'w.db'}",
            "STORAGE_URL": str(tmp_path / "storage"), "INGEST_STATE_DIR": str(tmp_path / "state")}


def _status(env: dict, job_id: str) -> dict:
    out = subprocess.run([str(BIN / "ingest"), "import-status", job_id], env=env, capture_output=True, text=True,
                         cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_dagster_cli_job_execute_with_config(tmp_path):
    env = _env(tmp_path)
    cfg = tmp_path / "run.yaml"
    cfg.write_text(yaml.safe_dump(run_config("employees", str(DATA / "employees.csv"), "cli-job-1",
                                             output_format="xlsx", batch_size=4).to_config_dict()))
    out = subprocess.run([str(BIN / "dagster"), "job", "execute", "-m", "ingestion_pipelines.definitions", "-a", "defs",
                          "-j", JOB_NAME, "-c", str(cfg)], env=env, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    st = _status(env, "cli-job-1")
    assert (st["status"], st["success_count"], st["failure_count"]) == ("succeeded", 5, 3)
    assert st["result_files"]["success_file"]["uri"].endswith("employees_success.xlsx")


def test_import_file_through_webserver_graphql(tmp_path):
    env = _env(tmp_path)
    with running_webserver(env) as url:
        out = subprocess.run([str(BIN / "ingest"), "import-file", "employees", str(DATA / "employees.csv"),
                              "--url", url, "--wait", "-o", "batch_size=3"],
                             env=env, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "launched run" in out.stderr and "SUCCESS" in out.stderr
    st = json.loads(out.stdout[out.stdout.index("{"):])
    assert (st["status"], st["processed_rows"], st["failure_count"]) == ("succeeded", 8, 3)
    assert st["run_id"]


def _ingest(env: dict, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "ingest"), *args], env=env, capture_output=True, text=True, cwd=ROOT,
                          timeout=timeout)


def _job(env: dict, job_id: str) -> dict:
    import sqlalchemy as sa

    from ingestion_pipelines.sources.imports import job_records

    eng = sa.create_engine(env["WAREHOUSE_URL"])
    try:
        return job_records.get_job(eng, job_id) or {}
    finally:
        eng.dispose()


def _run_status(env: dict, job_id: str):
    from dagster import DagsterInstance

    with DagsterInstance.from_config(env["DAGSTER_HOME"]) as inst:
        runs = [r for r in inst.get_runs() if r.tags.get("imports/job_id") == job_id]
        return runs[0].status if runs else None


def _wait_for(pred, timeout: float = 90, every: float = 0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(every)
    raise AssertionError("timed out")


def test_import_file_local_returns_at_once_status_cancel_and_wait(tmp_path):
    """`ingest import-file` without --url: the run goes on in a detached process on the
    DAGSTER_HOME instance; import-status follows it; import-cancel stops it (flag + run
    termination through the instance: the Dagster run ends CANCELED); --wait shows the bar."""
    from dagster import DagsterRunStatus

    env = _env(tmp_path)
    src = tmp_path / "many.csv"
    src.write_text("name,email\n" + "".join(f"P {i},p{i}@example.com\n" for i in range(600)))
    # the cancel case gets a file that takes ~5 min uncancelled: starting `ingest import-cancel`
    # (a cold Python + Dagster start) must never race the import's end on a loaded CI machine
    big = tmp_path / "big.csv"
    big.write_text("name,email\n" + "".join(f"P {i},p{i}@example.com\n" for i in range(20000)))
    slow = ["-o", "batch_size=10", "-o", "handler_path=ingestion_pipelines_tests.sources.imports.helpers.slow_batch_handler",
            "-o", "sleep=0.15"]
    # 1. returns at once with the job id; the import then progresses and finishes
    out = _ingest(env, "import-file", "employees", str(src), *slow)
    assert out.returncode == 0, out.stderr[-3000:]
    st = json.loads(out.stdout)
    job_id = st["id"]
    assert st["status"] in ("queued", "running") and st["processed_rows"] < 600
    assert "started import job" in out.stderr
    mid = _wait_for(lambda: (lambda j: j if j.get("status") == "running" and 0 < j["processed_rows"] < 600 else None)(
        _job(env, job_id)))
    assert mid["processed_rows"] % 10 == 0
    seen = _status(env, job_id)  # import-status while it runs
    assert seen["status"] in ("running", "succeeded") and seen["processed_rows"] >= mid["processed_rows"]
    done = _wait_for(lambda: (lambda j: j if j.get("status") == "succeeded" else None)(_job(env, job_id)))
    assert (done["processed_rows"], done["success_count"], done["percentage"]) == (600, 600, 100.0)
    _wait_for(lambda: _run_status(env, job_id) == DagsterRunStatus.SUCCESS, timeout=60)

    # 2. import-cancel on a running run
    out = _ingest(env, "import-file", "employees", str(big), *slow)
    job2 = json.loads(out.stdout)["id"]
    _wait_for(lambda: (lambda j: j.get("status") == "running" and j["processed_rows"] >= 20)(_job(env, job2)))
    c = _ingest(env, "import-cancel", job2)
    # the command prints the job's state as it reads it back: "cancelling", or already
    # "cancelled" when the run stopped at its batch boundary first (both right)
    assert c.returncode == 0 and ("cancelling" in c.stdout or "cancelled" in c.stdout), c.stdout
    assert "termination of run" in c.stderr, c.stderr
    end = _wait_for(lambda: (lambda j: j if j.get("status") == "cancelled" else None)(_job(env, job2)))
    assert 20 <= end["processed_rows"] < 20000 and end["processed_rows"] % 10 == 0
    assert end["success_file"]["rows"] == end["processed_rows"]
    _wait_for(lambda: _run_status(env, job2) == DagsterRunStatus.CANCELED, timeout=60)

    # 3. --wait: the progress bar until the job ends
    w = _ingest(env, "import-file", "employees", str(DATA / "employees.csv"), "--wait", "-o", "batch_size=2")
    assert w.returncode == 0, w.stderr[-3000:]
    st = json.loads(w.stdout)
    assert st["status"] == "succeeded" and (st["success_count"], st["failure_count"]) == (5, 3)
    assert "100.0%" in w.stderr and "8/8 rows" in w.stderr
