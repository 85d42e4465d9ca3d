"""`ingest` subcommands of the imports source (DESIGN.md §5, seed 003):

* ``ingest import-file IMPORTER FILE [--option KEY=VALUE ...] [--wait] [--url URL]``: put the
  file in the landing area (``<IMPORT_S3_PREFIX>incoming/<job id>/<name>`` in the BlobStore;
  not under ``imports/``, so the landing sensor does not start it a second time), create the
  ``import_jobs`` row, and launch the run: through the webserver's GraphQL API when ``--url``
  (or ``DAGSTER_WEBSERVER_URL``) is given, else on the local ``DAGSTER_HOME`` instance in a
  detached process (:mod:`.imports_local_run`). Returns at once; ``--wait`` shows a progress bar until
  the job ends. Prints the job's status JSON (without ``--wait``: as it is at launch).
* ``ingest import-status ID``: the seed's status JSON of one job.
* ``ingest import-cancel ID``: ask the job to stop at its next batch boundary (the flag in
  ``import_jobs``), and ask the instance to terminate its Dagster run.

Exit codes: 0 when the run was launched (with ``--wait``: when the job ended ``succeeded`` or
``cancelled``; rows may have failed: see ``failure_count`` and the failed file), 1 when the
job failed or is unknown, 2 on a usage error.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import click

from ..settings import DATA_DIR
from ..sources.imports import job_records, settings
from ..sources.imports.importers import IMPORTERS
from ..sources.imports import names
from ..sources.imports.schema import metadata
from .steps import DemoStep


def _resources():
    """(warehouse, blob store) as the code location builds them (WAREHOUSE_URL, STORAGE_URL),
    usable outside a run (the location's own warehouse holds an EnvVar, resolved by Dagster)."""
    from ..resources.storage import blob_store_from_url
    from ..resources.warehouse import WarehouseResource

    return WarehouseResource(), blob_store_from_url()


def _store_has(store, key: str) -> bool:
    try:
        return store.exists(key)
    except ValueError:  # an absolute path that is not a file
        return False


def _parse_options(pairs: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for p in pairs:
        k, sep, v = p.partition("=")
        if not sep or not k.strip():
            raise click.BadParameter(f"{p!r} is not KEY=VALUE", param_hint="--option")
        out[k.strip()] = v.strip()
    return out


def _bar(job: dict | None, width: int = 30) -> str:
    if not job:
        return "waiting for the import to start..."
    total, done = job.get("total_rows"), job.get("processed_rows") or 0
    pct = job.get("percentage")
    if pct is None and total:
        pct = 100.0 * done / total
    fill = int(width * (pct or 0) / 100)
    of = f"/{total:,}" if total else ""
    return (f"[{'#' * fill}{'.' * (width - fill)}] {pct or 0:5.1f}% {done:,}{of} rows "
            f"ok={job.get('success_count') or 0:,} failed={job.get('failure_count') or 0:,} {job['status']}")


def _watch(engine, job_id: str, stop: threading.Event, interval: float = 0.5) -> None:
    """Print a one-line progress bar (stderr) until ``stop`` is set."""
    last = ""
    while not stop.is_set():
        try:
            line = _bar(job_records.get_job(engine, job_id))
        except Exception:  # noqa: BLE001 - the table may be busy for a moment
            line = last
        if line != last:
            click.echo("\r" + line.ljust(len(last)), nl=False, err=True)
            last = line
        stop.wait(interval)
    click.echo("\r" + _bar(job_records.get_job(engine, job_id)).ljust(len(last)), err=True)


@click.command("import-file")
@click.argument("importer", type=click.Choice(sorted(IMPORTERS)))
@click.argument("file", type=str)
@click.option("--option", "-o", "options", multiple=True, metavar="KEY=VALUE",
              help="An import option (batch_size, count_total_first, header_rows, output_format, "
                   "create_result_file_records, handler_path, encoding, delimiter, sheet) or an extra handler option.")
@click.option("--wait", is_flag=True, help="Show a progress bar until the import ends.")
@click.option("--url", default=lambda: os.environ.get("DAGSTER_WEBSERVER_URL", ""),
              help="Dagster webserver URL: launch through its GraphQL API (default: DAGSTER_WEBSERVER_URL; "
                   "empty = run on the local DAGSTER_HOME instance, in a detached process).")
def import_file(importer: str, file: str, options: tuple[str, ...], wait: bool, url: str) -> None:
    """Import FILE with IMPORTER (seed 003): one Dagster run; prints the job's status JSON."""
    from ..sources.imports.jobs import run_config
    from ..sources.imports.runner import new_job_id

    opts = _parse_options(options)
    warehouse, store = _resources()
    warehouse.setup(metadata)
    job_id = new_job_id()
    local = Path(file).expanduser()
    if local.is_file():
        key = f"{settings.s3_prefix()}incoming/{job_id}/{local.name}"
        location = store.put_file(key, local)
    elif "://" in file or _store_has(store, file):
        location = file
    else:
        raise click.BadParameter(f"no such file: {file}", param_hint="FILE")
    cfg = run_config(importer, location, job_id, **opts).to_config_dict()  # JSON: crosses a process or HTTP
    job_records.create_job(warehouse.engine, job_id, importer, location, opts)
    click.echo(f"import job {job_id}: {importer} <- {location}", err=True)
    if url:
        ok = _launch_graphql(url, cfg, job_id, warehouse.engine, wait)
    else:
        ok = _launch_local(cfg, job_id, warehouse.engine, wait)
    job = job_records.get_job(warehouse.engine, job_id)
    click.echo(json.dumps(job_records.status_json(job), indent=2, default=str) if job else f"job {job_id} not found")
    sys.exit(0 if ok else 1)


@contextmanager
def _progress_bar(engine, job_id: str) -> Iterator[None]:
    """Show the job's progress bar (:func:`_watch`, on a thread) while the block runs."""
    stop = threading.Event()
    watcher = threading.Thread(target=_watch, args=(engine, job_id, stop), daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join(5)


def _launch_local(cfg: dict, job_id: str, engine, wait: bool) -> bool:
    """Start the run in a detached process on the DAGSTER_HOME instance (see :mod:`.imports_local_run`)
    and return at once; with ``wait``, show the progress bar until the job ends. True unless
    the job failed (or the process died before ending it)."""
    from .imports_local_run import log_path, spawn

    proc = spawn(job_id, cfg)
    click.echo(f"started import job {job_id} (process {proc.pid}; log: {log_path(job_id)})", err=True)
    if not wait:
        return True
    with _progress_bar(engine, job_id):
        while True:
            status = job_records.job_status(engine, job_id)
            if job_records.is_terminal(status):
                break
            if proc.poll() is not None:  # ended without ending the job
                status = job_records.job_status(engine, job_id)
                break
            time.sleep(0.3)
        try:
            proc.wait(60)  # the run's own end (Dagster events) follows the job's
        except Exception:  # noqa: BLE001 - the import itself is over
            pass
    click.echo(f"import job {job_id}: {status} (run log: {log_path(job_id)})", err=True)
    return status in ("succeeded", "cancelled")


def _launch_graphql(url: str, cfg: dict, job_id: str, engine, wait: bool) -> bool:
    """Submit the run to the webserver at ``url`` (GraphQL) and return at once; with ``wait``,
    follow it with the progress bar until it ends. True when it succeeded (or not waited for)."""
    from urllib.parse import urlparse

    from dagster_graphql import DagsterGraphQLClient

    from ..sources.imports.names import FILE_IMPORT_JOB

    u = urlparse(url if "://" in url else f"http://{url}")
    client = DagsterGraphQLClient(u.hostname or "localhost", port_number=u.port, use_https=u.scheme == "https")
    run_id = client.submit_job_execution(FILE_IMPORT_JOB, run_config=cfg, tags={"imports/job_id": job_id,
                                                                         "launched_by": "ingest-cli"})
    job_records.update_job(engine, job_id, run_id=run_id)
    click.echo(f"launched run {run_id} on {url}", err=True)
    if not wait:
        return True
    queued_since, warned = time.monotonic(), False
    with _progress_bar(engine, job_id):
        while True:
            status = client.get_run_status(run_id).value
            if status in ("SUCCESS", "FAILURE", "CANCELED"):
                break
            if status == "QUEUED" and not warned and time.monotonic() - queued_since > 30:
                click.echo(f"\nrun {run_id} is still queued: is dagster-daemon running for this instance?", err=True)
                warned = True
            time.sleep(1.0)
    click.echo(f"run {run_id}: {status}", err=True)
    return status == "SUCCESS"


def _existing_job(job_id: str):
    """(warehouse, the ``import_jobs`` row of ``job_id`` as a dict); exits 1 with a message
    on standard error when there is no such job."""
    warehouse, _ = _resources()
    warehouse.setup(metadata)
    job = job_records.get_job(warehouse.engine, job_id)
    if job is None:
        click.echo(f"no import job {job_id}", err=True)
        sys.exit(1)
    return warehouse, job


@click.command("import-status")
@click.argument("job_id")
def import_status(job_id: str) -> None:
    """Print the status JSON of import job JOB_ID (seed 003, "Check Status")."""
    _, job = _existing_job(job_id)
    click.echo(json.dumps(job_records.status_json(job), indent=2, default=str))


@click.command("import-cancel")
@click.argument("job_id")
def import_cancel(job_id: str) -> None:
    """Cancel import job JOB_ID: it stops at its next batch boundary and ends `cancelled`
    (committed batches stay; result files cover the processed rows). A run still queued on
    the instance is removed from the queue; a running one gets a termination request through
    the instance (it ends CANCELED)."""
    from dagster import DagsterRunStatus

    warehouse, job = _existing_job(job_id)
    run_id = job.get("run_id")
    inst = run = None
    if run_id and not job_records.is_terminal(job["status"]):
        try:
            from ..launch import instance

            inst = instance()
            run = inst.get_run_by_id(run_id)
            if run is not None and not run.is_finished and run.status not in (DagsterRunStatus.QUEUED,
                                                                              DagsterRunStatus.NOT_STARTED):
                # First the instance: the run is marked CANCELING (the asset sees it between
                # batches and ends the run CANCELED); a run started by the webserver or daemon
                # is also interrupted through its code server. Then the flag, below.
                inst.run_launcher.terminate(run_id)
                click.echo(f"termination of run {run_id} requested", err=True)
        except Exception as e:  # noqa: BLE001 - the flag alone still stops the import
            click.echo(f"(could not reach the run {run_id} on the instance: {e})", err=True)
    status = job_records.request_cancel(warehouse.engine, job_id)
    if status == "cancelling" and inst is not None and run is not None and run.status in (
            DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED):
        try:
            inst.run_coordinator.cancel_run(run_id)
            job_records.update_job(warehouse.engine, job_id, status="cancelled", finished_at=job_records.now())
            status = "cancelled"
        except Exception as e:  # noqa: BLE001
            click.echo(f"(could not remove the run {run_id} from the queue: {e})", err=True)
    click.echo(f"import job {job_id}: {status}")


COMMANDS: list = [import_file, import_status, import_cancel]
def _demo_config() -> dict:
    from ..sources.imports.jobs import run_config

    return run_config("employees", str(DATA_DIR / "imports" / "employees.csv"))


DEMO_STEPS = [
    DemoStep.job("imports: employees sample (good and bad rows)", names.FILE_IMPORT_JOB,
                 lambda: _demo_config()),
]
