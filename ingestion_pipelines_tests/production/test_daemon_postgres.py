"""The production shape on the machine's PostgreSQL: the Dagster instance in a fresh database
(``dagster.postgres.yaml``), the warehouse in another, the real ``dagster-webserver`` and
``dagster-daemon`` on ``workspace.yaml``. A schedule ticks and its run succeeds; a sensor
started through the webserver requests a run that succeeds; a run started by ``ingest`` is
re-executed through the webserver; two runs with the same ``ingestion/tenant`` tag never run
at the same time (dagster.yaml's run queue limits).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import NamedTuple

import pytest
import sqlalchemy as sa
from dagster import DagsterInstance, RunConfig, RunsFilter
from dagster._core.scheduler.instigation import ScheduleInstigatorData

from ingestion_pipelines_tests.conftest import PROJECT_ROOT, patched_env
from ingestion_pipelines_tests.production import services as svc

SCHEDULE, SENSOR = "artists_export_schedule", "artists_fixture_sensor"
FIXTURE = PROJECT_ROOT / "data" / "artists" / "artists_fixture.json"

_TICKS = """query($s: %(sel)s!) { %(field)s(%(arg)s: $s) { __typename
  ... on %(type)s { %(state)s { status ticks(limit: 5) { status runIds error { message } } } }
  ... on PythonError { message } } }"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """Databases, DAGSTER_HOME, the webserver; the schedule started (through the webserver)
    with its start moved a day back, so the daemon's first pass has a tick due; then the
    daemon. Yields ``(webserver URL, state dir, warehouse URL)``; the test process's own
    Dagster instance is the same PostgreSQL one."""
    tmp = tmp_path_factory.mktemp("pg_stack")
    with svc.fresh_databases("dagster", "warehouse") as (instance_db, warehouse_db):
        env = {**svc.postgres_instance_env(instance_db, tmp / "home"), "INGEST_STATE_DIR": str(tmp / "state"),
               "WAREHOUSE_URL": warehouse_db}
        with patched_env(env, unset=("STORAGE_URL",)), svc.webserver(env, tmp / "logs") as url:
            instance = DagsterInstance.get()
            try:
                _start_schedule_a_day_ago(url, instance)
                with svc.daemon(env, tmp / "logs"):
                    yield Stack(url, tmp / "state", warehouse_db, instance)
            finally:
                instance.dispose()


class Stack(NamedTuple):
    url: str  # the webserver
    state: Path  # INGEST_STATE_DIR of every process (storage/ is the BlobStore)
    warehouse_db: str  # WAREHOUSE_URL
    instance: DagsterInstance  # the same PostgreSQL instance as the webserver's and the daemon's


def _start_schedule_a_day_ago(url: str, instance: DagsterInstance) -> None:
    res = svc.graphql(url, """mutation($s: ScheduleSelector!) { startSchedule(scheduleSelector: $s) {
        __typename ... on ScheduleStateResult { scheduleState { status } } ... on PythonError { message } } }""",
                      {"s": svc.selector(scheduleName=SCHEDULE)})["startSchedule"]
    assert res["__typename"] == "ScheduleStateResult", res
    [state] = [s for s in instance.all_instigator_state() if s.name == SCHEDULE]
    data = state.instigator_data
    instance.update_instigator_state(state.with_data(ScheduleInstigatorData(
        data.cron_schedule, start_timestamp=time.time() - 25 * 3600)))


def _ticks(url: str, kind: str, name: str) -> list[dict]:
    q = _TICKS % ({"sel": "ScheduleSelector", "field": "scheduleOrError", "arg": "scheduleSelector",
                   "type": "Schedule", "state": "scheduleState"} if kind == "schedule" else
                  {"sel": "SensorSelector", "field": "sensorOrError", "arg": "sensorSelector",
                   "type": "Sensor", "state": "sensorState"})
    key = "scheduleName" if kind == "schedule" else "sensorName"
    data = svc.graphql(url, q, {"s": svc.selector(**{key: name})})
    return next(iter(data.values()))[f"{kind}State"]["ticks"]


def _finished(url: str, run_id: str) -> str | None:
    status = svc.run_status(url, run_id)
    return status if status in svc.TERMINAL else None


def _run_of_tick(url: str, kind: str, name: str, timeout: float = 150) -> str:
    """Wait for a successful tick of ``name`` that requested a run; that run's id."""
    def ticked():
        for t in _ticks(url, kind, name):
            assert t["status"] != "FAILURE", t["error"]
            if t["status"] == "SUCCESS" and t["runIds"]:
                return t["runIds"][0]
        return None
    return svc.wait_for(ticked, timeout, f"a {kind} tick of {name} with a run", every=1)


def test_schedule_tick_launches_a_run_that_succeeds(stack):
    url, state = stack.url, stack.state
    run_id = _run_of_tick(url, "schedule", SCHEDULE)
    assert svc.wait_for(lambda: _finished(url, run_id), 150, f"scheduled run {run_id}") == "SUCCESS"
    assert (state / "storage" / "exports" / "artists_fixture.json").is_file()  # the export's output


def test_sensor_requests_a_run_that_succeeds(stack):
    url, state, warehouse_db = stack.url, stack.state, stack.warehouse_db
    landing = state / "storage" / "artists"
    landing.mkdir(parents=True, exist_ok=True)
    shutil.copy(FIXTURE, landing / "fixture.json")
    res = svc.graphql(url, """mutation($s: SensorSelector!) { startSensor(sensorSelector: $s) {
        __typename ... on Sensor { sensorState { status } } ... on PythonError { message } } }""",
                      {"s": svc.selector(sensorName=SENSOR)})["startSensor"]
    assert res == {"__typename": "Sensor", "sensorState": {"status": "RUNNING"}}, res
    run_id = _run_of_tick(url, "sensor", SENSOR)
    assert svc.wait_for(lambda: _finished(url, run_id), 150, f"sensor run {run_id}") == "SUCCESS"
    eng = sa.create_engine(warehouse_db)
    with eng.connect() as c:
        assert c.exec_driver_sql("SELECT count(*) FROM entities").scalar() == 37  # data/artists/README.md
    eng.dispose()


def test_run_started_by_ingest_is_reexecuted_through_the_webserver(stack):
    from ingestion_pipelines.launch import launch
    from ingestion_pipelines.sources.artists.assets import ArtistsImportConfig

    url = stack.url
    parent = launch("artists_import_job", RunConfig(ops={"artists_import": ArtistsImportConfig(
        dry_run=True, skip_photos=True, fixture=str(FIXTURE))}))
    assert parent.success
    child = svc.reexecute(url, parent.run_id)
    assert svc.wait_for(lambda: _finished(url, child), 150, f"re-execution {child}") == "SUCCESS"
    run = stack.instance.get_run_by_id(child)
    assert run.parent_run_id == parent.run_id and run.job_name == "artists_import_job"


def test_runs_with_the_same_tenant_tag_never_run_at_once(stack):
    url = stack.url
    tags = {"ingestion/tenant": "tenant-under-test"}
    ids = [svc.launch_run(url, "artists_export_job", tags=tags) for _ in range(2)]
    seen_together = []

    def both_done():
        statuses = [svc.run_status(url, i) for i in ids]
        if sum(s in ("STARTING", "STARTED") for s in statuses) > 1:
            seen_together.append(statuses)
        return all(s in svc.TERMINAL for s in statuses) and statuses

    assert svc.wait_for(both_done, 180, "both tagged runs", every=0.3) == ["SUCCESS", "SUCCESS"]
    assert not seen_together
    records = sorted(stack.instance.get_run_records(RunsFilter(run_ids=ids)), key=lambda r: r.start_time)
    assert records[0].end_time <= records[1].start_time, "the second run started before the first ended"
