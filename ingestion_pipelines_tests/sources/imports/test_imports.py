"""imports source: handler contract, import_jobs progress, result files, cancel, sensor, CLI.

Real SQLite and PostgreSQL warehouses, real local and S3 (moto server) blob stores; assertions
on what landed in the tables and in the result files.
"""

import gzip
import io
import json
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from dagster import Definitions, build_sensor_context, materialize

from ingestion_pipelines.engine.result_files import read_back
from ingestion_pipelines.sources.imports import job_records
from ingestion_pipelines.sources.imports.assets import import_job
from ingestion_pipelines.sources.imports.jobs import import_file_job, run_config
from ingestion_pipelines.sources.imports.names import FILE_IMPORT_JOB as JOB_NAME
from ingestion_pipelines.sources.imports.runner import ImportOptions, run_import
from ingestion_pipelines.sources.imports.schema import employees, import_jobs
from ingestion_pipelines.sources.imports.sensors import imports_landing_sensor

DATA = Path(__file__).resolve().parents[3] / "data" / "imports"
H = "ingestion_pipelines_tests.sources.imports.helpers"


def _file_rows(store, f):
    key = store.key_from_uri(f["uri"])
    return read_back(store.get_bytes(key), f["format"])


def _emails(wh):
    with wh.engine.connect() as c:
        return dict(c.execute(sa.select(employees.c.email, employees.c.name)).all())


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_asset_employees_good_and_bad_rows(warehouse, local_store, fmt):
    from ingestion_pipelines.sources.imports.checks import import_counts_add_up

    res = materialize([import_job, import_counts_add_up], resources={"warehouse": warehouse, "blob_store": local_store},
                      run_config=run_config("employees", str(DATA / "employees.csv"), "job-1",
                                            batch_size=3, output_format=fmt))
    assert res.success
    evals = res.get_asset_check_evaluations()
    assert len(evals) == 1 and evals[0].passed
    md = {k: getattr(v, "value", v) for k, v in res.asset_materializations_for_node("imports__import_job")[0].metadata.items()}
    assert md["dagster/row_count"] == 8 and md["failed"] == 3 and md["inserted"] == 4 and md["updated"] == 1
    job = job_records.status_json(job_records.get_job(warehouse.engine, "job-1"))
    assert job["status"] == "succeeded" and job["total_rows"] == 8 and job["processed_rows"] == 8
    assert (job["success_count"], job["failure_count"], job["percentage"]) == (5, 3, 100.0)
    assert job["started_at"] and job["finished_at"] and job["error_message"] is None
    sf, ff = job["result_files"]["success_file"], job["result_files"]["failed_file"]
    assert sf["uri"].endswith(f"employees_success.{fmt}") and "/uploads/imports/results/job-1/" in sf["uri"]
    assert md["failed_rows_file"] == ff["uri"]
    ok = _file_rows(local_store, {**sf, "format": fmt})
    bad = _file_rows(local_store, {**ff, "format": fmt})
    assert ok[0] == ["name", "email", "import_result"]
    assert bad[0] == ["name", "email", "import_error"]
    assert [r[1] for r in ok[1:]][:2] == ["ana.souza@example.com", "bruno.lima@example.com"]
    assert ok[3][0] == "'=HYPERLINK(\"http://evil.example\")"  # formula neutralised
    assert json.loads(ok[5][2])["outcome"] == "updated"
    errors = {r[1] or "": r[2] for r in bad[1:]}
    assert errors["no-name@example.com"] == "Name is required"
    assert errors["not-an-email"].startswith("Invalid email:")
    assert errors[""] == "Email is required"
    landed = _emails(warehouse)
    assert landed == {"ana.souza@example.com": "Ana Souza Updated", "bruno.lima@example.com": "Bruno Lima",
                      "formula@example.com": '=HYPERLINK("http://evil.example")',
                      "elodie.martin@example.fr": "Élodie Martin"}
    # the ids in the results are the rows' ids in the table
    with warehouse.engine.connect() as c:
        ids = dict(c.execute(sa.select(employees.c.email, employees.c.id)).all())
    assert {r[1]: json.loads(r[2])["id"] for r in ok[1:]} == ids
    # re-running the same file changes nothing
    o = run_import(warehouse, local_store, "employees", str(DATA / "employees.csv"))
    assert o.outcomes == {"unchanged": 4, "updated": 1} or o.outcomes.get("inserted", 0) == 0


def test_inputs_xlsx_ndjson_latin1_gzip_s3(sqlite_warehouse, s3_store, tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["Email", "Name"])  # other column order: found by header name
    ws.append(["x1@example.com", "Xavier"])
    ws.append(["bad", "Yara"])
    xlsx = io.BytesIO()
    wb.save(xlsx)
    s3_store.put_bytes("in/people.xlsx", xlsx.getvalue())
    o = run_import(sqlite_warehouse, s3_store, "employees", "in/people.xlsx", ImportOptions(output_format="xlsx"))
    assert (o.success_count, o.failure_count) == (1, 1)
    assert o.failed_file["uri"].startswith(f"s3://{s3_store.bucket}/landing/uploads/imports/results/")
    import requests

    assert "Signature" in o.failed_file["url"] and "Expires" in o.failed_file["url"]  # presigned
    assert read_back(requests.get(o.failed_file["url"], timeout=10).content, "xlsx")[0][-1] == "import_error"
    assert _file_rows(s3_store, o.failed_file)[1] == ["bad", "Yara", "Invalid email: An email address must have an @-sign."]

    nd = b'{"name": "Zed", "email": "zed@example.com"}\nnot json\n{"name": "", "email": "q@example.com"}\n'
    (tmp_path / "p.ndjson").write_bytes(nd)
    o = run_import(sqlite_warehouse, s3_store, "employees", str(tmp_path / "p.ndjson"))
    assert (o.processed_rows, o.success_count, o.failure_count) == (3, 1, 2)
    errs = [r[2] for r in _file_rows(s3_store, o.failed_file)[1:]]
    assert errs[0].startswith("line 2") and errs[1] == "Name is required"
    # a key first seen in a later record extends the columns (union, as csvkit's in2csv)
    nd = (b'{"name": "Ann", "email": "ann@example.com"}\n'
          b'{"email": "bob@example.com", "name": "Bob", "dept": "R&D"}\n{"name": "Cy", "email": "bad"}\n')
    (tmp_path / "u.ndjson").write_bytes(nd)
    o = run_import(sqlite_warehouse, s3_store, "employees", str(tmp_path / "u.ndjson"))
    assert (o.processed_rows, o.success_count, o.failure_count) == (3, 2, 1)
    ok_rows = _file_rows(s3_store, o.success_file)
    assert ok_rows[0] == ["name", "email", "dept", "import_result"]
    assert [r[:3] for r in ok_rows[1:]] == [["Ann", "ann@example.com", ""], ["Bob", "bob@example.com", "R&D"]]
    assert _file_rows(s3_store, o.failed_file)[1][:3] == ["Cy", "bad", ""]

    latin = "nome;email\nJosé Ñandú;jose@example.com\n".encode("latin-1")
    (tmp_path / "l.csv.gz").write_bytes(gzip.compress(latin))
    o = run_import(sqlite_warehouse, s3_store, "employees", str(tmp_path / "l.csv.gz"))
    assert o.success_count == 1  # delimiter sniffed, encoding detected, positional columns
    assert _emails(sqlite_warehouse)["jose@example.com"] == "José Ñandú"


def test_employees_fast_path_agrees_with_parse(sqlite_warehouse, local_store, tmp_path):
    """Rows the batch handler validates inline and rows it leaves to parse() end the same way."""
    import csv

    from ingestion_pipelines.sources.imports.employees import parse
    from ingestion_pipelines.sources.imports.handlers import row_class

    rows = [["  Ann  ", "ann@EXAMPLE.com"], ["N/A", "na@example.com"], ["tab\there", "tab@example.com"],
            ["x" * 501, "long@example.com"], ["Zoë", "zoe@example.com"], ["  ", "blank@example.com"],
            ["Bob", " bob@example.org "], ["Eve", "eve@localhost"], ["Dan", "dan@xn--bcher-kva.example"]]
    src = tmp_path / "tricky.csv"
    with open(src, "w", newline="") as f:
        csv.writer(f).writerows([["name", "email"], *rows])
    o = run_import(sqlite_warehouse, local_store, "employees", str(src), ImportOptions(batch_size=4))
    got = {r[1]: ("ok", json.loads(r[2])["email"]) for r in _file_rows(local_store, o.success_file)[1:]}
    got.update({r[1]: ("failed", r[2]) for r in _file_rows(local_store, o.failed_file)[1:]})
    cls = row_class(["name", "email"])
    for name, email in rows:
        try:
            want = ("ok", parse(cls([name, email]))["email"])
        except ValueError as e:
            want = ("failed", str(e))
        assert got[email] == want, (name, email)


def test_handler_contract(sqlite_warehouse, local_store, tmp_path):
    p = tmp_path / "h.csv"
    p.write_text("name,email\nok1,a@x.com\nboom,b@x.com\ngarbage,c@x.com\nrefuse,d@x.com\nok2,e@x.com\n")
    o = run_import(sqlite_warehouse, local_store, "employees", str(p),
                   ImportOptions(handler_path=f"{H}.raising_handler", batch_size=2))
    errs = {r[0]: r[2] for r in _file_rows(local_store, o.failed_file)[1:]}
    assert errs["boom"] == "kaboom on purpose"
    assert errs["garbage"].startswith("handler returned {'success': True}, expected")
    assert errs["refuse"] == "refused by handler"
    assert o.success_count == 2 and json.loads(_file_rows(local_store, o.success_file)[2][2]) == {"n": 6}

    o = run_import(sqlite_warehouse, local_store, "employees", str(p),
                   ImportOptions(handler_path=f"{H}.raising_batch_handler", batch_size=5))
    assert (o.success_count, o.failure_count) == (4, 1)  # bisected down to the bad row
    assert _file_rows(local_store, o.failed_file)[1][2] == "batch contains boom"

    with pytest.raises(Exception, match="cannot import module"):
        run_import(sqlite_warehouse, local_store, "employees", str(p), ImportOptions(handler_path="no.such.mod.fn"),
                   job_id="bad-handler")
    job = job_records.get_job(sqlite_warehouse.engine, "bad-handler")
    assert job["status"] == "failed" and "no.such.mod" in job["error_message"]


def test_row_handler_seed_shape_same_result(warehouse, local_store):
    o = run_import(warehouse, local_store, "employees", str(DATA / "employees.csv"),
                   ImportOptions(handler_path="ingestion_pipelines.sources.imports.employees.handle_row"))
    assert (o.success_count, o.failure_count) == (5, 3)
    assert _emails(warehouse)["ana.souza@example.com"] == "Ana Souza Updated"


def _big_csv(path: Path, n: int) -> Path:
    with open(path, "w") as f:
        f.write("name,email\n")
        for i in range(n):
            f.write(f"Person {i},p{i}@example.com\n")
    return path


def test_cancel_via_cli_stops_at_batch_boundary(sqlite_warehouse, local_store, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from ingestion_pipelines.cli import main

    monkeypatch.setenv("IMPORT_PROGRESS_DB_FLUSH_EVERY_N_BATCHES", "1")
    monkeypatch.setenv("WAREHOUSE_URL", sqlite_warehouse.url)
    src = _big_csv(tmp_path / "many.csv", 4000)  # ~20 s uncancelled: the cancel never races its end
    sqlite_warehouse.setup(import_jobs.metadata)
    box = {}
    t = threading.Thread(target=lambda: box.setdefault("o", run_import(
        sqlite_warehouse, local_store, "employees", str(src),
        ImportOptions(batch_size=20, handler_path=f"{H}.slow_batch_handler", extra={"sleep": "0.1"}), job_id="c1")))
    t.start()
    deadline = time.time() + 30
    while time.time() < deadline:
        j = job_records.get_job(sqlite_warehouse.engine, "c1")
        if j and j["processed_rows"] >= 40:
            break
        time.sleep(0.05)
    r = CliRunner().invoke(main, ["import-cancel", "c1"])
    assert r.exit_code == 0 and ("cancelling" in r.output or "cancelled" in r.output), r.output
    t.join(60)
    o = box["o"]
    assert o.status == "cancelled" and 40 <= o.processed_rows < 4000 and o.processed_rows % 20 == 0
    assert len(_emails(sqlite_warehouse)) == o.processed_rows == o.success_count  # committed batches stay
    assert len(_file_rows(local_store, o.success_file)) == o.processed_rows + 1
    st = json.loads(CliRunner().invoke(main, ["import-status", "c1"]).output)
    assert st["status"] == "cancelled" and st["processed_rows"] == o.processed_rows
    assert st["result_files"]["success_file"]["uri"] == o.success_file["uri"]


def test_run_termination_stops_between_batches(sqlite_warehouse, local_store, tmp_path):
    src = _big_csv(tmp_path / "t.csv", 100)
    calls = {"n": 0}

    def stop():
        calls["n"] += 1
        return calls["n"] >= 2

    o = run_import(sqlite_warehouse, local_store, "employees", str(src), ImportOptions(batch_size=10),
                   should_stop=stop)
    assert (o.status, o.processed_rows, o.percentage) == ("cancelled", 20, 20.0)
    assert len(_emails(sqlite_warehouse)) == 20


def test_sensor_one_run_per_content(sqlite_warehouse, local_store):
    content = (DATA / "employees.csv").read_bytes()
    local_store.put_bytes("imports/employees/a.csv", content)
    local_store.put_bytes("imports/unknown/x.csv", content)
    local_store.put_bytes("imports/employees/notes.txt", b"hello")
    ctx = build_sensor_context(resources={"blob_store": local_store, "warehouse": sqlite_warehouse})
    res = imports_landing_sensor(ctx)
    assert len(res.run_requests) == 1
    req = res.run_requests[0]
    assert req.run_key.startswith("employees:")
    # the run the sensor asked for really imports the file
    result = materialize([import_job], resources={"warehouse": sqlite_warehouse, "blob_store": local_store},
                         run_config=req.run_config)
    assert result.success
    job_id = req.tags["imports/job_id"]
    assert job_records.get_job(sqlite_warehouse.engine, job_id)["success_count"] == 5
    # the same content dropped again (same or other name): same run_key, and skipped
    time.sleep(0.01)
    local_store.put_bytes("imports/employees/a.csv", content)
    local_store.put_bytes("imports/employees/copy.csv", content)
    ctx2 = build_sensor_context(cursor=res.cursor, resources={"blob_store": local_store, "warehouse": sqlite_warehouse})
    res2 = imports_landing_sensor(ctx2)
    assert not res2.run_requests
    # new content: a new run
    local_store.put_bytes("imports/employees/b.csv", content + b"New Person,new@example.com\n")
    res3 = imports_landing_sensor(build_sensor_context(cursor=res2.cursor, resources={
        "blob_store": local_store, "warehouse": sqlite_warehouse}))
    assert len(res3.run_requests) == 1 and res3.run_requests[0].run_key != req.run_key


def test_cli_import_file_wait_and_status(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from ingestion_pipelines.cli import main

    monkeypatch.setenv("WAREHOUSE_URL", f"sqlite:///{tmp_path / 'w.db'}")
    monkeypatch.setenv("STORAGE_URL", str(tmp_path / "storage"))
    r = CliRunner().invoke(main, ["import-file", "employees", str(DATA / "employees.csv"), "--wait",
                                  "--option", "batch_size=2", "-o", "output_format=xlsx", "--url", ""])
    assert r.exit_code == 0, r.output
    out = r.stdout
    st = json.loads(out[out.index("{"):])
    assert st["status"] == "succeeded" and (st["success_count"], st["failure_count"]) == (5, 3)
    assert "/uploads/imports/incoming/" in st["file"]
    assert st["result_files"]["failed_file"]["uri"].endswith("employees_failed.xlsx")
    assert "100.0%" in r.stderr and "8/8 rows" in r.stderr  # the progress bar's last line
    r2 = CliRunner().invoke(main, ["import-status", st["id"]])
    assert json.loads(r2.output)["processed_rows"] == 8
    assert CliRunner().invoke(main, ["import-status", "nope"]).exit_code == 1
    assert CliRunner().invoke(main, ["import-file", "employees", str(tmp_path / "missing.csv")]).exit_code == 2


def test_terminating_the_dagster_run_stops_the_asset(sqlite_warehouse, local_store, tmp_path):
    """What the UI's "Terminate" does first: the run is marked CANCELING; the asset sees it
    between batches, ends the job `cancelled` with result files, and keeps committed rows."""
    from dagster import DagsterInstance, DagsterRunStatus

    src = _big_csv(tmp_path / "term.csv", 300)
    inst = DagsterInstance.ephemeral()
    box = {}
    cfg = run_config("employees", str(src), "term-1", batch_size=10, handler_path=f"{H}.slow_batch_handler",
                     sleep="0.1")
    t = threading.Thread(target=lambda: box.setdefault("r", materialize(
        [import_job], resources={"warehouse": sqlite_warehouse, "blob_store": local_store}, run_config=cfg,
        instance=inst, raise_on_error=False)))
    t.start()
    deadline = time.time() + 30
    run = None
    while time.time() < deadline:
        runs = inst.get_runs()
        if runs and runs[0].status == DagsterRunStatus.STARTED:
            j = job_records.get_job(sqlite_warehouse.engine, "term-1") if sa.inspect(
                sqlite_warehouse.engine).has_table("import_jobs") else None
            if j and j["status"] == "running":
                run = runs[0]
                break
        time.sleep(0.05)
    assert run is not None
    inst.report_run_canceling(run)
    t.join(60)
    job = job_records.get_job(sqlite_warehouse.engine, "term-1")
    assert job["status"] == "cancelled" and 0 < job["processed_rows"] < 300
    assert len(_emails(sqlite_warehouse)) == job["success_count"] == job["processed_rows"]
    assert job["success_file"]["rows"] == job["processed_rows"]
    assert not box["r"].success and inst.get_run_by_id(run.run_id).status == DagsterRunStatus.CANCELED


def test_settings_result_files_switches(sqlite_warehouse, local_store, monkeypatch):
    monkeypatch.setenv("IMPORT_S3_PREFIX", "custom/results-root")
    o = run_import(sqlite_warehouse, local_store, "employees", str(DATA / "employees.csv"),
                   ImportOptions(create_result_file_records=False), job_id="s1")
    assert "/custom/results-root/results/s1/" in o.failed_file["uri"]  # written...
    assert job_records.get_job(sqlite_warehouse.engine, "s1")["failed_file"] is None  # ...but not recorded
    monkeypatch.setenv("IMPORT_ENABLE_RESULT_FILES", "false")
    o = run_import(sqlite_warehouse, local_store, "employees", str(DATA / "employees.csv"), job_id="s2")
    assert o.success_file is None and o.failed_file is None and o.failure_count == 3
    assert not list(local_store.list("custom/results-root/results/s2"))


def test_interrupt_mid_batch_rolls_back_that_batch(warehouse, local_store, tmp_path):
    src = _big_csv(tmp_path / "int.csv", 100)  # data rows are lines 2..101; row 26 is in the 3rd batch
    with pytest.raises(KeyboardInterrupt):
        run_import(warehouse, local_store, "employees", str(src),
                   ImportOptions(batch_size=10, handler_path=f"{H}.interrupted_batch_handler"), job_id="int-1")
    job = job_records.get_job(warehouse.engine, "int-1")
    assert (job["status"], job["processed_rows"], job["error_message"]) == ("cancelled", 20, "run terminated")
    assert len(_emails(warehouse)) == 20  # the interrupted batch left nothing behind
    assert job["success_file"]["rows"] == 20


def test_sensor_on_s3_uses_etag(sqlite_warehouse, s3_store):
    content = (DATA / "employees.csv").read_bytes()
    s3_store.put_bytes("imports/employees/one.csv", content)
    s3_store.put_bytes("imports/employees/two.csv", content)  # same content, other name
    res = imports_landing_sensor(build_sensor_context(resources={"blob_store": s3_store, "warehouse": sqlite_warehouse}))
    assert len(res.run_requests) == 1  # one run per content, whatever the names
    cfg = res.run_requests[0].run_config["ops"]["imports__import_job"]["config"]
    o = run_import(sqlite_warehouse, s3_store, cfg["importer"], cfg["file"], job_id=cfg["job_id"])
    assert (o.success_count, o.failure_count) == (5, 3)


def test_bad_batch_results_roll_back_the_batch(warehouse, local_store, tmp_path):
    """A wrong number of results fails every row AND leaves nothing written (the savepoint is
    rolled back, not released); a malformed result rolls back only its own row."""
    p = tmp_path / "b.csv"
    p.write_text("name,email\nok1,a@x.com\nok2,b@x.com\ngarbage,c@x.com\nok3,d@x.com\nok4,e@x.com\n")
    o = run_import(warehouse, local_store, "employees", str(p),
                   ImportOptions(handler_path=f"{H}.short_batch_handler", batch_size=10))
    assert (o.success_count, o.failure_count) == (0, 5)
    assert {r[2] for r in _file_rows(local_store, o.failed_file)[1:]} == {"batch handler returned 4 results for 5 rows"}
    assert _emails(warehouse) == {}

    o = run_import(warehouse, local_store, "employees", str(p),
                   ImportOptions(handler_path=f"{H}.malformed_batch_handler", batch_size=10))
    assert (o.success_count, o.failure_count) == (4, 1)
    bad = _file_rows(local_store, o.failed_file)[1:]
    assert bad[0][0] == "garbage" and bad[0][2].startswith("handler returned {'success': True}, expected")
    assert _emails(warehouse) == {"a@x.com": "ok1", "b@x.com": "ok2", "d@x.com": "ok3", "e@x.com": "ok4"}


def test_sensor_looks_up_prior_jobs_in_one_query_per_tick(warehouse, local_store):
    """Many new files in one tick: the import_jobs status lookup is one connection and one
    query (not one per file); a succeeded job's content is skipped, a failed one's retried."""
    from ingestion_pipelines.sources.imports.schema import metadata
    from ingestion_pipelines.sources.imports.sensors import JOB_ID_NAMESPACE
    from ingestion_pipelines.engine.landing import content_token, scan_landing
    import uuid

    warehouse.setup(metadata)
    base = (DATA / "employees.csv").read_bytes()
    for i in range(6):
        local_store.put_bytes(f"imports/employees/f{i}.csv", base + f"P{i},p{i}@example.com\n".encode())
    tokens = {o.key.rsplit("/", 1)[1]: content_token(local_store, o)
              for o in scan_landing(local_store, "imports/", None).new}
    job = {n: str(uuid.uuid5(JOB_ID_NAMESPACE, f"employees:{t}")) for n, t in tokens.items()}
    job_records.create_job(warehouse.engine, job["f0.csv"], "employees", "f0.csv", {})
    job_records.update_job(warehouse.engine, job["f0.csv"], status="succeeded")
    job_records.create_job(warehouse.engine, job["f1.csv"], "employees", "f1.csv", {})
    job_records.update_job(warehouse.engine, job["f1.csv"], status="failed")

    eng = warehouse.engine
    seen = {"connects": 0, "queries": 0}

    def on_connect(conn):
        seen["connects"] += 1

    def on_exec(conn, cursor, statement, params, context, executemany):
        seen["queries"] += "import_jobs" in statement

    sa.event.listen(eng, "engine_connect", on_connect)
    sa.event.listen(eng, "before_cursor_execute", on_exec)
    try:
        res = imports_landing_sensor(build_sensor_context(resources={"blob_store": local_store, "warehouse": warehouse}))
    finally:
        sa.event.remove(eng, "engine_connect", on_connect)
        sa.event.remove(eng, "before_cursor_execute", on_exec)
    assert seen == {"connects": 1, "queries": 1}
    got = {r.tags["imports/job_id"] for r in res.run_requests}
    assert got == {job[f"f{i}.csv"] for i in range(1, 6)}  # f0 succeeded before: skipped; f1 failed: retried
