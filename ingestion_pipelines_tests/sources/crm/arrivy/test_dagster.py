"""The Arrivy API sync through Dagster and the command line, against the stand-in: the
``arrivy_all`` job in process with the keys from the environment (EnvVar) — DESIGN §10
metadata per stream, no key anywhere in the run's logs, metadata, run config, sync history or
result files; the names (jobs, tag, schedules stopped); ``ingest sync-arrivy-*`` via click's
CliRunner (``--limit``, ``--dry-run``, a usage error)."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa
from click.testing import CliRunner
from dagster import DagsterInstance, DefaultScheduleStatus, Definitions, EnvVar

from ingestion_pipelines.engine.sync_state import sync_history
from ingestion_pipelines.launch import materializations
from ingestion_pipelines.resources.storage import LocalBlobStore
from ingestion_pipelines.sources.crm.arrivy import api_definitions as d
from ingestion_pipelines.sources.crm.arrivy.api_names import NAMES
from ingestion_pipelines.standins.arrivy import Account

from ingestion_pipelines_tests.conftest import patched_env

KEYS = {"ARRIVY_AUTH_KEY": "ak-TOP-secret-1357", "ARRIVY_API_KEY": "tk-TOP-secret-2468"}


def _account(seed: int, **kw) -> Account:
    return Account.seeded(seed=seed, auth_key=KEYS["ARRIVY_AUTH_KEY"], api_key=KEYS["ARRIVY_API_KEY"], **kw)


def _defs(warehouse, tmp_path) -> Definitions:
    res = d.ArrivyResource(base_url=EnvVar("ARRIVY_API_URL"), auth_key=EnvVar("ARRIVY_AUTH_KEY"),
                           api_key=EnvVar("ARRIVY_API_KEY"), account=f"dagster-{tmp_path.name[-8:]}", backoff_seconds=0.01)
    return Definitions(assets=d.defs.assets, jobs=d.defs.jobs, resources={
        "warehouse": warehouse, "blob_store": LocalBlobStore(root=str(tmp_path / "storage")), NAMES.resource: res})


def _everything_the_run_left(inst, run_id: str, warehouse, tmp_path: Path) -> str:
    texts = []
    for rec in inst.all_logs(run_id):
        texts.append(rec.user_message or "")
        if rec.dagster_event is not None:
            texts.append(repr(rec.dagster_event))
    with warehouse.engine.connect() as c:
        texts += [repr(tuple(r)) for r in c.execute(sa.select(sync_history))]
    texts += [p.read_text(errors="replace") for p in (tmp_path / "storage").rglob("*") if p.is_file()]
    run = inst.get_run_by_id(run_id)
    texts.append(json.dumps(run.run_config, default=str) + repr(run.tags))
    return "\n".join(texts)


def test_all_job_metadata_and_no_secret_anywhere(pg_warehouse, tmp_path):
    from ingestion_pipelines.standins.arrivy import serve

    acc = _account(21, tasks=140, bookings=9, entities=6, groups=2, page_size=60)
    acc.add("tasks", {"title": "a task without id", "updated": "2026-01-01T00:00:00Z"})
    job = _defs(pg_warehouse, tmp_path).resolve_job_def(NAMES.all_job)
    assert job.tags[NAMES.account_tag] == "default"
    with serve(acc) as server, patched_env({"ARRIVY_API_URL": server.url, **KEYS}), DagsterInstance.ephemeral() as inst:
        res = job.execute_in_process(instance=inst, raise_on_error=False)
        assert res.success
        left = _everything_the_run_left(inst, res.run_id, pg_warehouse, tmp_path)
    mats = materializations(res)
    assert set(mats) == {f"arrivy/{s}" for s in NAMES.streams}
    md = mats["arrivy/tasks"]
    for k in ("mode", "status", "watermark_before", "watermark_after", "rows_read", "inserted", "updated", "unchanged",
              "deleted", "failed", "sync_history_id", "requests", "pages", "records_per_s", "duration_s",
              "dagster/row_count", "failed_rows_file", "warnings", "warnings_file", "preview"):
        assert k in md, k
    assert (md["mode"], md["status"], md["inserted"], md["failed"], md["dagster/row_count"]) == ("full", "succeeded", 140, 1, 140)
    assert md["watermark_before"] == "" and md["watermark_after"] and md["requests"] == 4
    assert md["failed_rows_file"] and "task without id" in left  # the failed-rows file holds the record
    assert mats["arrivy/groups"]["inserted"] == 2
    assert not [s for s in KEYS.values() if s in left]


def test_a_wrong_key_fails_the_run_naming_the_variables(sqlite_warehouse, tmp_path):
    from ingestion_pipelines.standins.arrivy import serve

    acc = _account(22, tasks=5)
    job = _defs(sqlite_warehouse, tmp_path).resolve_job_def(NAMES.job("tasks"))
    env = {**KEYS, "ARRIVY_API_KEY": "tk-wrong-SECRET-0000"}
    with serve(acc) as server, patched_env({"ARRIVY_API_URL": server.url, **env}), DagsterInstance.ephemeral() as inst:
        res = job.execute_in_process(instance=inst, raise_on_error=False)
        left = _everything_the_run_left(inst, res.run_id, sqlite_warehouse, tmp_path)
    assert not res.success
    failure = next(e for e in res.all_events if e.event_type_value == "STEP_FAILURE")
    assert "ARRIVY_API_KEY" in failure.event_specific_data.error.message
    assert "SECRET-0000" not in left and KEYS["ARRIVY_AUTH_KEY"] not in left


def test_names_jobs_and_schedules():
    from ingestion_pipelines.definitions import defs

    jobs = {j.name: j for j in d.defs.jobs}
    assert set(jobs) == {"arrivy_tasks", "arrivy_bookings", "arrivy_entities", "arrivy_groups", "arrivy_all"}
    assert all(j.tags.get("arrivy/account") == "default" for j in jobs.values())
    scheds = {s.name: s for s in d.defs.schedules}
    assert set(scheds) == {"arrivy_incremental_schedule", "arrivy_full_schedule"}
    assert scheds["arrivy_incremental_schedule"].cron_schedule == "*/15 * * * *"
    assert all(s.default_status == DefaultScheduleStatus.STOPPED for s in scheds.values())
    assert scheds["arrivy_full_schedule"].job.name == "arrivy_all"
    repo = defs.get_repository_def()
    assert repo.get_job("arrivy_tasks") is not None and repo.get_job("csv_arrivy_tasks_job") is not None
    spec = {k.to_user_string(): a for a in d.defs.assets for k in a.keys}
    assert set(spec) == {"arrivy/tasks", "arrivy/bookings", "arrivy/entities", "arrivy/groups"}


def test_the_ingest_commands():
    """In process (CliRunner), so on the session's default warehouse: the code location binds
    ``WAREHOUSE_URL`` when first imported; rows are counted by this account's ids."""
    from ingestion_pipelines.cli import main
    from ingestion_pipelines.settings import default_warehouse_url
    from ingestion_pipelines.sources.crm.arrivy.api_streams import STREAMS
    from ingestion_pipelines.standins.arrivy import serve

    acc = _account(23, tasks=30, bookings=4, entities=3, groups=2)
    with serve(acc) as server, patched_env({"ARRIVY_API_URL": server.url, **KEYS}, unset=("WAREHOUSE_URL",)):
        runner = CliRunner()
        dry = runner.invoke(main, ["sync-arrivy-tasks", "--dry-run"])
        assert dry.exit_code == 0, dry.output
        assert "inserted=30" in dry.output and "SUCCESS" in dry.output
        out = runner.invoke(main, ["sync-arrivy-all", "--limit", "10"])
        assert out.exit_code == 0, out.output
        assert "arrivy/groups" in out.output and not [s for s in KEYS.values() if s in out.output]
        bad = runner.invoke(main, ["sync-arrivy-groups", "--full", "--since", "2026-01-01"])
        assert bad.exit_code == 2
        bad = runner.invoke(main, ["sync-arrivy-groups", "--since", "yesterday"])
        assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output
    eng = sa.create_engine(default_warehouse_url())
    with eng.connect() as c:
        counts = [c.execute(sa.select(sa.func.count()).select_from(s.table).where(
            s.table.c.id.in_(list(acc.records[s.name])))).scalar() for s in STREAMS]
    eng.dispose()
    assert counts == [10, 4, 3, 2]


def test_the_demo_step():
    """``ingest demo``'s Arrivy step: the stand-in's demo account, ``arrivy_all``, then exactly its changes."""
    from ingestion_pipelines.cli.api_sync import demo_steps

    (step,) = [s for s in demo_steps() if s.label.startswith("arrivy:")]
    with patched_env({}, unset=("WAREHOUSE_URL", "ARRIVY_API_URL", "ARRIVY_AUTH_KEY", "ARRIVY_API_KEY")):
        first, second = step.run()
    assert first.success and second.success
    tasks = materializations(second)["arrivy/tasks"]
    assert (tasks["mode"], tasks["inserted"], tasks["updated"]) == ("incremental", 3, 10)
