"""The detached process behind ``ingest import-file`` without ``--url``: runs one import job on
the ``DAGSTER_HOME`` instance (:func:`ingestion_pipelines.launch.launch`: the same in-process
execution as ``dagster job execute``), so the CLI can return at once while the
run goes on; ``dagster dev``'s UI lists it, ``ingest import-status`` / ``import-cancel`` work
on it while it runs.

Usage (what :func:`spawn` runs)::

    python -m ingestion_pipelines.cli.imports_local_run JOB_ID RUN_CONFIG_JSON

Exit code 0 when the Dagster run succeeded, 1 otherwise. Output (the run's log and summary)
goes to ``<DAGSTER_HOME>/imports-launch/<job id>.log``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def log_path(job_id: str) -> Path:
    """Where the detached run of ``job_id`` writes its output."""
    from ..settings import default_dagster_home

    d = default_dagster_home() / "imports-launch"
    d.mkdir(parents=True, exist_ok=True)
    return d / f"{job_id}.log"


def spawn(job_id: str, run_config: dict) -> subprocess.Popen:
    """Start the detached run (new session: a Ctrl-C of the launching shell does not reach it);
    returns its process. Environment: the caller's (WAREHOUSE_URL, STORAGE_URL, DAGSTER_HOME)."""
    from ..settings import default_dagster_home

    env = {**os.environ, "DAGSTER_HOME": str(default_dagster_home())}
    root = Path(__file__).resolve().parents[3]
    with open(log_path(job_id), "ab") as out:
        return subprocess.Popen([sys.executable, "-m", __name__, job_id, json.dumps(run_config)],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                                cwd=str(root), start_new_session=True)


def main(argv: list[str]) -> int:
    """Run the import job ``argv[1]`` with run config ``argv[2]`` (JSON); 0 = run succeeded."""
    job_id, cfg = argv[1], json.loads(argv[2])
    from ..launch import launch, summarize
    from ..sources.imports.names import FILE_IMPORT_JOB

    try:
        result = launch(FILE_IMPORT_JOB, cfg, tags={"imports/job_id": job_id, "imports/pid": str(os.getpid())})
    except BaseException as e:  # the run never started: say so in import_jobs
        from ..resources.warehouse import WarehouseResource
        from ..sources.imports import job_records

        try:
            engine = WarehouseResource().engine
            if job_records.job_status(engine, job_id) in ("queued", "cancelling"):
                job_records.update_job(engine, job_id, status="failed", finished_at=job_records.now(),
                                error_message=f"could not start the run: {type(e).__name__}: {e}")
        finally:
            raise
    print(summarize(result), flush=True)
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
