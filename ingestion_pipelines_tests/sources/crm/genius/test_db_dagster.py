"""The Genius database sync through Dagster: the ``genius_db_all`` job on the real MariaDB
(orphans land and their checks warn with examples; a failed table is reported while the
others sync), the names (jobs, tags, schedules stopped), MySQLResource's configuration
errors, and the real ``ingest db-genius-*`` command in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import sqlalchemy as sa
from dagster import AssetCheckSeverity, DagsterInstance, DefaultScheduleStatus, Definitions, Failure

from ingestion_pipelines.cli.genius_db import TABLES
from ingestion_pipelines.engine.sync_state import history
from ingestion_pipelines.launch import materializations
from ingestion_pipelines.resources.mysql import MySQLResource
from ingestion_pipelines.resources.storage import LocalBlobStore
from ingestion_pipelines.sources.crm.genius import db_definitions, db_names, schema
from ingestion_pipelines.sources.crm.genius.db_assets import genius_db
from ingestion_pipelines.sources.crm.genius.db_jobs import JOBS, genius_db_full_schedule, genius_db_incremental_schedule
from ingestion_pipelines.sources.crm.genius.db_streams import STREAMS
from ingestion_pipelines.sources.crm.genius.sample_db import ORPHAN_ID

from .helpers import assert_same, exec_


def _defs(mysql_url: str, warehouse, tmp_path) -> Definitions:
    store = LocalBlobStore(root=str(tmp_path / "storage"))
    return Definitions(assets=[genius_db], jobs=JOBS, resources={
        "warehouse": warehouse, "blob_store": store, "genius_db": MySQLResource(url=mysql_url)})


def test_all_job_lands_orphans_warns_and_goes_on_past_a_failed_table(genius, mysql_url, sqlite_warehouse, tmp_path):
    w, _src, written = genius
    exec_(w, "DROP TABLE user_title")  # this table fails; the others (users too) still sync
    defs = _defs(mysql_url, sqlite_warehouse, tmp_path)
    job = defs.resolve_job_def(db_names.ALL_JOB)
    assert job.tags[db_names.TABLE_TAG] == "all"
    assert job.tags[db_names.ACCOUNT_TAG] == "default"  # never beside a single-table or API sync of Genius
    with DagsterInstance.ephemeral() as inst:
        res = job.execute_in_process(instance=inst, raise_on_error=False)
    assert not res.success
    failure = next(e for e in res.all_events if e.event_type_value == "STEP_FAILURE")
    assert "user_title" in failure.event_specific_data.error.message
    mats = materializations(res)
    assert "genius/user_titles" not in mats and len(mats) == len(STREAMS) - 1
    md = mats["genius/appointments"]
    assert (md["mode"], md["inserted"], md["rows_read"], md["watermark_before"]) == ("full", written["appointment"],
                                                                                      written["appointment"], "")
    assert md["watermark_after"].startswith("2025-06-01T12:00:00 / ")
    assert_same(w, sqlite_warehouse, tables=[t for t in written if t != "user_title"])
    # orphans landed (appointment -> prospect ORPHAN_ID) and each FK check reports them as a WARN
    a = schema.genius_appointments
    with sqlite_warehouse.engine.connect() as c:
        orphans = c.execute(sa.select(sa.func.count()).select_from(a).where(a.c.prospect_id == ORPHAN_ID)).scalar()
        failed_hist = history(c, "genius", "user_title")[0]
    assert orphans > 0 and failed_hist["status"] == "failed" and "user_title" in failed_hist["error"]
    checks = {(e.asset_key.to_user_string(), e.check_name): e for e in res.get_asset_check_evaluations()}
    assert len(checks) == sum(len(st.foreign_keys) for st in STREAMS if st.source_table != "user_title")
    ev = checks[("genius/appointments", "prospect_id_has_parent")]
    assert not ev.passed and ev.severity == AssetCheckSeverity.WARN
    assert ev.metadata["orphans"].value == orphans and f"prospect_id={ORPHAN_ID}" in ev.metadata["examples"].value


def test_names_tags_and_schedules():
    from ingestion_pipelines.definitions import defs  # the code location: the genius part is in it
    for st in STREAMS:
        job = defs.resolve_job_def(db_names.table_job(st.table.name))
        assert job.tags[db_names.TABLE_TAG] == st.source_table
    assert [s for s, _w in TABLES] == [st.source_table for st in STREAMS]
    assert [w for _s, w in TABLES] == [st.table.name for st in STREAMS]
    assert genius_db_incremental_schedule.cron_schedule == "*/15 * * * *"
    assert genius_db_full_schedule.cron_schedule == "0 3 * * *"
    for s in (genius_db_incremental_schedule, genius_db_full_schedule):
        assert s.default_status == DefaultScheduleStatus.STOPPED and s.job_name == db_names.ALL_JOB
        assert defs.resolve_schedule_def(s.name) is not None


def test_source_configuration_fails_fast_naming_variables_and_hides_the_password(monkeypatch):
    for v in ("URL", "HOST", "PORT", "NAME", "USER", "PASSWORD"):
        monkeypatch.delenv(f"GENIUS_DB_{v}", raising=False)
    with pytest.raises(Failure, match="GENIUS_DB_URL, or GENIUS_DB_HOST, GENIUS_DB_NAME, GENIUS_DB_USER"):
        MySQLResource().sa_url()
    monkeypatch.setenv("GENIUS_DB_HOST", "db.example")
    with pytest.raises(Failure, match="GENIUS_DB_NAME, GENIUS_DB_USER"):
        MySQLResource().sa_url()
    monkeypatch.setenv("GENIUS_DB_NAME", "genius")
    monkeypatch.setenv("GENIUS_DB_USER", "reader")
    monkeypatch.setenv("GENIUS_DB_PASSWORD", "s3cr3t-pw")
    declared = db_definitions.genius_db_resource()  # the code location passes EnvVars (the UI shows names)
    assert declared.password.env_var_name == "GENIUS_DB_PASSWORD" and declared.host.env_var_name == "GENIUS_DB_HOST"
    r = MySQLResource()  # unset fields read from the environment
    assert "s3cr3t-pw" not in r.display_url() and "s3cr3t-pw" not in r.source_uri()
    assert r.sa_url().password == "s3cr3t-pw" and r.sa_url().query["charset"] == "utf8mb4"
    assert r.source_uri() == "mysql://db.example:3306/genius"


def test_ingest_command_runs_a_real_dagster_run(genius, mysql_url, tmp_path):
    w, _src, written = genius
    env = {**os.environ, "GENIUS_DB_URL": mysql_url, "WAREHOUSE_URL": f"sqlite:///{tmp_path / 'wh.db'}",
           "INGEST_STATE_DIR": str(tmp_path / "state"), "DAGSTER_HOME": str(tmp_path / "home")}
    ingest = [sys.executable, "-m", "ingestion_pipelines.cli"]
    out = subprocess.run([*ingest, "db-genius-prospects", "--max-records", "7"], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "genius/prospects: inserted=7 " in out.stdout and "SUCCESS" in out.stdout
    assert "genius rows read" in out.stderr  # the progress bar
    usage = subprocess.run([*ingest, "db-genius-all", "--full", "--since", "2025-01-01"], env=env,
                           capture_output=True, text=True, timeout=60)
    assert usage.returncode == 2 and "--full or --since" in usage.stderr
