"""The other two ways to start an import, as users do: the `dagster` CLI with run config, and
`ingest import-file --url` through a real dagster-webserver's GraphQL API (subprocesses)."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from ingestion_pipelines.sources.imports.assets import JOB_NAME, run_config

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
                                             output_format="xlsx", batch_size=4)))
    out = subprocess.run([str(BIN / "dagster"), "job", "execute", "-m", "ingestion_pipelines.definitions", "-a", "defs",
                          "-j", JOB_NAME, "-c", str(cfg)], env=env, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    st = _status(env, "cli-job-1")
    assert (st["status"], st["success_count"], st["failure_count"]) == ("succeeded", 5, 3)
    assert st["result_files"]["success_file"]["uri"].endswith("employees_success.xlsx")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_import_file_through_webserver_graphql(tmp_path):
    env = _env(tmp_path)
    port = _free_port()
    web = subprocess.Popen([str(BIN / "dagster-webserver"), "-m", "ingestion_pipelines.definitions", "-a", "defs",
                            "-h", "127.0.0.1", "-p", str(port)], env=env, cwd=ROOT,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import requests

        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/server_info", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            time.sleep(1)
        else:
            pytest.fail("dagster-webserver did not start within 120 s")
        out = subprocess.run([str(BIN / "ingest"), "import-file", "employees", str(DATA / "employees.csv"),
                              "--url", f"http://127.0.0.1:{port}", "--wait", "-o", "batch_size=3"],
                             env=env, capture_output=True, text=True, cwd=ROOT, timeout=300)
        assert out.returncode == 0, out.stderr[-3000:]
        assert "launched run" in out.stderr and "SUCCESS" in out.stderr
        st = json.loads(out.stdout[out.stdout.index("{"):])
        assert (st["status"], st["processed_rows"], st["failure_count"]) == ("succeeded", 8, 3)
        assert st["run_id"]
    finally:
        web.terminate()
        web.wait(30)
