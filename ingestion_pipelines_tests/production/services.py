"""The production shape's processes for the tests of this folder: a fresh PostgreSQL database,
a ``DAGSTER_HOME`` whose instance lives in it (``dagster.postgres.yaml``), and the real
``dagster-webserver`` and ``dagster-daemon`` on the project's ``workspace.yaml`` (location
``ingestion_pipelines``, as ``ingest ui`` and the Docker image serve it), plus a small client
of the webserver's GraphQL API.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import requests
import sqlalchemy as sa

from ingestion_pipelines_tests.conftest import PROJECT_ROOT, TEST_POSTGRES_URL, _free_port, service_missing

BIN = Path(sys.executable).parent
LOCATION, REPOSITORY = "ingestion_pipelines", "__repository__"
TERMINAL = ("SUCCESS", "FAILURE", "CANCELED")


@contextmanager
def fresh_databases(*prefixes: str) -> Iterator[list[str]]:
    """One new PostgreSQL database per prefix on the test server (``TEST_POSTGRES_URL``'s
    host, port and user), dropped afterwards (their connections ended first); yields their
    URLs. A server that cannot be reached skips (or, with REQUIRE_SERVICES=1, fails)."""
    base = sa.engine.make_url(TEST_POSTGRES_URL).set(drivername="postgresql+psycopg2")
    names = [f"{p}_{uuid.uuid4().hex[:10]}" for p in prefixes]
    try:
        admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            for n in names:
                c.exec_driver_sql(f'CREATE DATABASE "{n}"')
    except sa.exc.OperationalError as e:
        service_missing(f"PostgreSQL not reachable at {TEST_POSTGRES_URL}: {type(e).__name__}")
    try:
        yield [base.set(database=n).render_as_string(hide_password=False) for n in names]
    finally:
        with admin.connect() as c:
            for n in names:
                c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)')
        admin.dispose()


def postgres_instance_env(instance_db_url: str, home: Path) -> dict[str, str]:
    """The environment that puts the Dagster instance of ``home`` in ``instance_db_url``:
    the five ``DAGSTER_PG_*`` variables and ``DAGSTER_HOME``, its ``dagster.yaml`` written by
    the project's own :func:`~ingestion_pipelines.settings.default_dagster_home`."""
    url = sa.engine.make_url(instance_db_url)
    env = {"DAGSTER_HOME": str(home), "DAGSTER_PG_HOST": url.host or "127.0.0.1",
           "DAGSTER_PG_PORT": str(url.port or 5432), "DAGSTER_PG_USER": url.username or "postgres",
           "DAGSTER_PG_PASSWORD": url.password or "", "DAGSTER_PG_DB": url.database}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        from ingestion_pipelines.settings import default_dagster_home

        default_dagster_home()
    finally:
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    return env


@contextmanager
def dagster_process(name: str, args: list[str], env: dict[str, str], logs: Path) -> Iterator[subprocess.Popen]:
    """``<venv>/bin/<args[0]> args[1:]`` in the project folder with ``env`` added to this
    process's environment, its output in ``logs/<name>.log``; stopped (SIGTERM, then SIGKILL
    after 30 s) afterwards."""
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / f"{name}.log", "wb") as out:
        proc = subprocess.Popen([str(BIN / args[0]), *args[1:]], env={**os.environ, **env}, cwd=PROJECT_ROOT,
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextmanager
def webserver(env: dict[str, str], logs: Path, timeout: float = 180) -> Iterator[str]:
    """``dagster-webserver`` on ``workspace.yaml`` on a free loopback port; yields its URL once
    the code location is loaded (fails after ``timeout`` s with the log's tail)."""
    url = f"http://127.0.0.1:{_free_port()}"
    args = ["dagster-webserver", "-w", str(PROJECT_ROOT / "workspace.yaml"), "-h", "127.0.0.1", "-p", url.rsplit(":", 1)[1]]
    with dagster_process("webserver", args, env, logs) as proc:
        wait_for(lambda: _location_loaded(url), timeout, f"the webserver at {url} loading {LOCATION}",
                 procs=[proc], logs=logs)
        yield url


@contextmanager
def daemon(env: dict[str, str], logs: Path) -> Iterator[subprocess.Popen]:
    """``dagster-daemon run`` on ``workspace.yaml`` (run queue, schedules, sensors)."""
    with dagster_process("daemon", ["dagster-daemon", "run", "-w", str(PROJECT_ROOT / "workspace.yaml")], env, logs) as p:
        yield p


def _location_loaded(url: str) -> bool:
    try:
        data = graphql(url, "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus "
                            "locationOrLoadError { __typename ... on PythonError { message } } } } } }")
    except (requests.RequestException, GraphQLError):
        return False
    for entry in data["workspaceOrError"]["locationEntries"]:
        if entry["name"] == LOCATION and entry["loadStatus"] == "LOADED":
            err = entry["locationOrLoadError"]
            if err and err["__typename"] == "PythonError":
                raise GraphQLError(f"{LOCATION} did not load: {err['message']}")
            return True
    return False


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, *, every: float = 0.5,
             procs: Sequence[subprocess.Popen] = (), logs: Path | None = None) -> Any:
    """Poll ``predicate`` until it returns a truthy value (returned) or ``timeout`` seconds
    pass: then raise ``AssertionError`` naming ``what`` (with the tail of each log in
    ``logs``). A process of ``procs`` that exits meanwhile fails at once."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if any(p.poll() is not None for p in procs):
            break
        time.sleep(every)
    tails = ""
    if logs:
        tails = "".join(f"\n--- {f.name}\n" + f.read_text(errors="replace")[-3000:] for f in sorted(logs.glob("*.log")))
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}{tails}")


class GraphQLError(RuntimeError):
    """The webserver answered with GraphQL errors."""


def graphql(url: str, query: str, variables: dict | None = None) -> dict:
    """POST ``query`` to ``url``/graphql; its ``data``. Raises :class:`GraphQLError` on errors."""
    r = requests.post(f"{url}/graphql", json={"query": query, "variables": variables or {}}, timeout=30)
    r.raise_for_status()
    body = r.json()
    if body.get("errors"):
        raise GraphQLError(str(body["errors"]))
    return body["data"]


def selector(**names: str) -> dict[str, str]:
    """A GraphQL selector of this code location plus ``names`` (``sensorName=...``, ...)."""
    return {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, **names}


LAUNCH_RUN = """mutation($p: ExecutionParams!) { launchRun(executionParams: $p) { __typename
  ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
  ... on RunConfigValidationInvalid { errors { message } } ... on InvalidStepError { invalidStepKey } } }"""

REEXECUTE = """mutation($r: ReexecutionParams!) { launchRunReexecution(reexecutionParams: $r) { __typename
  ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }"""


def launch_run(url: str, job: str, run_config: dict | None = None, tags: dict[str, str] | None = None) -> str:
    """Launch ``job`` through the webserver (the run queue); its run id."""
    params = {"selector": {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "jobName": job},
              "runConfigData": run_config or {},
              "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]}}
    res = graphql(url, LAUNCH_RUN, {"p": params})["launchRun"]
    assert res["__typename"] == "LaunchRunSuccess", res
    return res["run"]["runId"]


def reexecute(url: str, parent_run_id: str) -> str:
    """Re-execute every step of ``parent_run_id`` through the webserver, as the UI's
    Re-execute button does; the new run's id."""
    res = graphql(url, REEXECUTE, {"r": {"parentRunId": parent_run_id, "strategy": "ALL_STEPS"}})
    res = res["launchRunReexecution"]
    assert res["__typename"] == "LaunchRunSuccess", res
    return res["run"]["runId"]


def run_status(url: str, run_id: str) -> str:
    """The run's status (``QUEUED``, ``STARTED``, ``SUCCESS``, ...)."""
    return graphql(url, "query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }",
                   {"id": run_id})["runOrError"]["status"]
