"""The CSV profile engine end to end on real SQLite and PostgreSQL, with a small profile of its
own (engine.profile_load, engine.profile_assets, cli/crm_csv): what lands in the table, the
ledger and the result files for a header mapping with export-version aliases and unmapped
headers, a missing required column, a header-only file, a file that is not CSV, bad optional
cells, a re-run of the same file, a re-export with changes, a dry run, several batches; the
Dagster asset, checks and landing sensor; the real ``ingest csv-...`` command on a sample."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from dagster import DagsterInstance, Definitions, build_sensor_context

from ingestion_pipelines.engine.ledger import ingest_files
from ingestion_pipelines.engine.profile_assets import csv_definitions, csv_run_config, profile_asset_key
from ingestion_pipelines.engine.profile_load import load_csv
from ingestion_pipelines.engine.profiles import CsvProfile, Field
from ingestion_pipelines.engine.result_files import read_back
from ingestion_pipelines.launch import materializations
from ingestion_pipelines.settings import DATA_DIR, PROJECT_ROOT

#: A small LeadConduit-like export, two header versions (SEED_SYSTEM §1's alias style).
LEADS = CsvProfile("enginetest", "leads", fields=(
    Field("id", required=True, aliases=("lead_id", "id", "leadId", "_id")),
    Field("first_name", aliases=("fname",)),
    Field("email", "email"),
    Field("phone_1", "phone", aliases=("phone", "primary_phone")),
    Field("postal_code", "zip", aliases=("zip", "postalcode")),
    Field("state", "us_state"),
    Field("amount", "money"),
    Field("submitted_at", "datetime", aliases=("created_at", "timestamp")),
    Field("is_duplicate", "boolean", true_values=("duplicate",)),
))

V1 = ("lead_id,FirstName,Email,Phone,Zip,State,Amount,created_at,is_duplicate,TrustedForm Cert URL\r\n"
      "L1,Ann,Ann@Example.COM,(213) 373-4253,'02134,ma,$1.50,2025-06-18T12:00:00Z,no,https://cert/1\r\n"
      "L2,Bob,bob@example.org,555-1234,ABCDE,Q,TBD,tomorrow,duplicate,https://cert/2\r\n"
      ",NoKey,,,,,,,,\r\n"
      'L3,"Cy\nMulti",cy@example.org,2133734254,021341234,NY,12,2025-06-18T08:00:00-04:00,yes,\r\n')
# the next export version: other spellings, a column less (phone), one more unmapped one
V2 = ("Lead ID;fname;email;postalcode;state;amount;timestamp;is_duplicate;Jornaya LeadiD\n"
      "L1;Ann;ann@example.com;02134;MA;1.50;2025-06-18T12:00:00Z;no;J1\n"
      "L2;Robert;bob@example.org;;;;;duplicate;J2\n"
      "L4;Dee;dee@example.org;10001;NY;3;2025-06-19T12:00:00Z;no;J4\n")


def _write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    return p


def _rows(warehouse, profile: CsvProfile = LEADS) -> dict:
    t = profile.target
    with warehouse.engine.connect() as conn:
        return {r.id: r._mapping for r in conn.execute(sa.select(t))}


def _ledger(warehouse) -> list:
    with warehouse.engine.connect() as conn:
        return [r._mapping for r in conn.execute(sa.select(ingest_files).where(
            ingest_files.c.source == LEADS.ledger_source).order_by(ingest_files.c.id))]


def test_export_lands_typed_with_raw_warnings_and_failed_rows(warehouse, local_store, tmp_path):
    path = _write(tmp_path, "leads.csv", "\ufeff" + V1)  # BOM, CRLF, a quoted newline
    r = load_csv(warehouse, local_store, LEADS, str(path), run_id="run-1")
    assert r.status == "succeeded" and r.rows_read == 4
    assert r.counts == {"inserted": 3, "updated": 0, "unchanged": 0, "skipped": 0, "failed": 1}
    assert r.header_map.unmapped == ("TrustedForm Cert URL",)
    rows = _rows(warehouse)
    assert set(rows) == {"L1", "L2", "L3"}
    l1, l2, l3 = rows["L1"], rows["L2"], rows["L3"]
    assert (l1["email"], l1["phone_1"], l1["postal_code"], l1["state"], str(l1["amount"])) == (
        "ann@example.com", "+12133734253", "02134", "MA", "1.50")
    assert l1["raw"]["TrustedForm Cert URL"] == "https://cert/1" and l1["raw"]["Zip"] == "'02134"
    assert l1["_source"] == path.resolve().as_uri() and l1["_run_id"] == "run-1" and l1["_deleted_at"] is None
    assert l3["first_name"] == "Cy\nMulti" and l3["postal_code"] == "02134-1234" and l3["is_duplicate"] is True
    stamp, utc = l3["submitted_at"], dt.timezone.utc  # 08:00-04:00; SQLite keeps it as naive UTC
    assert (stamp if stamp.tzinfo else stamp.replace(tzinfo=utc)) == dt.datetime(2025, 6, 18, 12, tzinfo=utc)
    # the bad optional cells of L2: the row landed with those columns empty, the text kept in raw
    assert (l2["phone_1"], l2["postal_code"], l2["state"], l2["amount"], l2["submitted_at"]) == (None,) * 5
    assert l2["is_duplicate"] is True and l2["raw"]["Amount"] == "TBD"
    assert r.report.warnings_total == 5
    warned = read_back(local_store.get_bytes(local_store.key_from_uri(r.warnings_file)), "csv")
    assert warned[0] == ["row", "column", "value", "reason"]
    assert [w[1] for w in warned[1:]] == ["phone_1", "postal_code", "state", "amount", "submitted_at"]
    assert all(w[0] == "3" for w in warned[1:]) and warned[1][2] == "555-1234"
    failed = read_back(local_store.get_bytes(local_store.key_from_uri(r.failed_rows_file)), "csv")
    assert failed[0][-2:] == ["import_row", "import_error"] and failed[1][1] == "NoKey"
    assert failed[1][-2:] == ["4", "id: is required"]
    (led,) = _ledger(warehouse)
    assert (led["status"], led["rows_read"], led["rows_loaded"], led["rows_failed"]) == ("succeeded", 4, 3, 1)


def test_same_file_skipped_re_export_updates_only_what_changed(warehouse, local_store, tmp_path):
    path = _write(tmp_path, "leads.csv", V1)
    assert load_csv(warehouse, local_store, LEADS, str(path)).counts["inserted"] == 3
    again = load_csv(warehouse, local_store, LEADS, str(path))
    assert again.status == "skipped" and again.rows_read == 0 and "already loaded" in again.note()
    forced = load_csv(warehouse, local_store, LEADS, str(path), force_refresh=True)
    assert forced.counts == {"inserted": 0, "updated": 0, "unchanged": 3, "skipped": 0, "failed": 1}
    before = _rows(warehouse)
    v2 = _write(tmp_path, "leads_v2.csv", V2)
    r = load_csv(warehouse, local_store, LEADS, str(v2))
    assert r.counts == {"inserted": 1, "updated": 2, "unchanged": 0, "skipped": 0, "failed": 0}
    rows = _rows(warehouse)
    assert rows["L2"]["first_name"] == "Robert" and rows["L4"]["postal_code"] == "10001"
    # the v2 export has no phone column: the stored phones are not blanked
    assert rows["L1"]["phone_1"] == "+12133734253" and rows["L3"]["phone_1"] == before["L3"]["phone_1"]
    assert rows["L1"]["raw"]["Jornaya LeadiD"] == "J1"  # raw is the latest export's record
    assert [x["status"] for x in _ledger(warehouse)] == ["succeeded", "succeeded"]


def test_dry_run_writes_nothing_and_reports_what_would_happen(warehouse, local_store, tmp_path):
    path = _write(tmp_path, "leads.csv", V1)
    r = load_csv(warehouse, local_store, LEADS, str(path), dry_run=True)
    assert r.status == "dry_run" and r.counts["inserted"] == 3 and r.counts["failed"] == 1
    assert [p["id"] for p in r.preview] == ["L1", "L2", "L3"] and r.preview[0]["email"] == "ann@example.com"
    assert "| row | id | first_name |" in r.preview_markdown()
    assert _rows(warehouse) == {} and _ledger(warehouse) == []
    assert r.failed_rows_file == r.warnings_file == "" and not list(local_store.list("results/"))
    assert load_csv(warehouse, local_store, LEADS, str(path)).counts["inserted"] == 3  # a dry run is no "already loaded"


def test_bad_files_give_a_clear_outcome(warehouse, local_store, tmp_path):
    missing = _write(tmp_path, "missing.csv", "FirstName,Email\nAnn,a@b.com\n")
    r = load_csv(warehouse, local_store, LEADS, str(missing))
    assert r.status == "failed" and "missing required column(s): id (a header like 'lead_id', 'id'" in r.error
    assert "Found 2 column(s): 'FirstName', 'Email'" in r.error
    header_only = _write(tmp_path, "header.csv", "lead_id,FirstName,Email\r\n")
    h = load_csv(warehouse, local_store, LEADS, str(header_only))
    assert h.status == "succeeded" and h.rows_read == 0 and h.report.total == 0 and "no data rows" in h.note()
    png = tmp_path / "leads.csv"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    n = load_csv(warehouse, local_store, LEADS, str(png))
    assert n.status == "failed" and "not CSV" in n.error
    assert _rows(warehouse) == {}
    statuses = {Path(x["uri"]).name: (x["status"], x["error"] or "") for x in _ledger(warehouse)}
    assert statuses["missing.csv"][0] == "failed" and "missing required column" in statuses["missing.csv"][1]
    assert statuses["header.csv"] == ("succeeded", "") and statuses["leads.csv"][0] == "failed"


def test_encodings_delimiters_and_ragged_rows(warehouse, local_store, tmp_path):
    latin1 = _write(tmp_path, "latin1.csv", "lead_id;FirstName\nL1;Zoë\nL2;José\n", "latin-1")
    r = load_csv(warehouse, local_store, LEADS, str(latin1))
    assert r.counts["inserted"] == 2 and _rows(warehouse)["L2"]["first_name"] == "José"
    utf16 = _write(tmp_path, "utf16.csv", "lead_id\tFirstName\r\nL3\tÅsa\r\n", "utf-16")
    assert load_csv(warehouse, local_store, LEADS, str(utf16)).counts["inserted"] == 1
    ragged = _write(tmp_path, "ragged.csv", "lead_id,FirstName\nL4,Al\nL5,Bo,extra\nL6,Cy,,\n")
    g = load_csv(warehouse, local_store, LEADS, str(ragged))
    assert g.counts["inserted"] == 2 and g.counts["failed"] == 1
    assert "expected 2 columns, found 3" in g.report.failures[0].error
    assert _rows(warehouse)["L3"]["first_name"] == "Åsa"


def test_several_batches_and_a_key_repeated_across_and_within_them(warehouse, local_store, tmp_path):
    lines = ["lead_id,FirstName"] + [f"L{i},n{i}" for i in range(1, 8)] + ["L2,again", "L8,x", "L8,y"]
    path = _write(tmp_path, "many.csv", "\n".join(lines) + "\n")
    r = load_csv(warehouse, local_store, LEADS, str(path), batch_size=3)
    # batches: L1-L3 | L4-L6 | L7 L2 L8 | L8 -> L2 updates its earlier row; the two L8 sit in different batches
    assert r.rows_read == 10 and r.report.total == 10
    assert r.counts == {"inserted": 8, "updated": 2, "unchanged": 0, "skipped": 0, "failed": 0}
    rows = _rows(warehouse)
    assert rows["L2"]["first_name"] == "again" and rows["L8"]["first_name"] == "y"
    within = load_csv(warehouse, local_store, LEADS, str(path), batch_size=100, force_refresh=True)
    assert within.counts["skipped"] == 2 and within.counts["unchanged"] == 8
    assert within.report.skipped[0].error == "duplicate key L2: replaced by row 9 of the same batch"


GENIUSLIKE = sa.Table(
    "enginetest_users", sa.MetaData(),
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False), sa.Column("first_name", sa.String(50)),
    sa.Column("hired_on", sa.DateTime(timezone=False)), sa.Column("raw", sa.JSON), sa.Column("_source", sa.Text),
    sa.Column("_run_id", sa.String(64)), sa.Column("_ingested_at", sa.DateTime(timezone=True)))
USERS = CsvProfile("enginetest", "users", key=("id",), table=GENIUSLIKE, fields=(
    Field("id", "integer", aliases=("user_id",)), Field("first_name"), Field("hired_on", "datetime")))


def test_a_profile_onto_an_existing_table(warehouse, local_store, tmp_path):
    path = _write(tmp_path, "users.csv", "user_id,first_name,hired_on,title_id\n7,Ann,2024-03-01 09:30:00,3\n"
                                         "8,Bob,03/02/2024 2:00 PM,4\n")
    r = load_csv(warehouse, local_store, USERS, str(path))
    assert r.counts["inserted"] == 2
    rows = _rows(warehouse, USERS)
    assert rows[7]["hired_on"] == dt.datetime(2024, 3, 1, 9, 30)
    assert rows[8]["hired_on"].hour == 14 and rows[8]["raw"]["title_id"] == "4"
    again = load_csv(warehouse, local_store, USERS, str(path), force_refresh=True)
    assert again.counts["unchanged"] == 2


def _defs(warehouse, store) -> Definitions:
    return Definitions.merge(csv_definitions([LEADS]), Definitions(resources={"warehouse": warehouse, "blob_store": store}))


def test_asset_checks_and_sensor(sqlite_warehouse, local_store, tmp_path):
    defs = _defs(sqlite_warehouse, local_store)
    job = defs.resolve_job_def(LEADS.job_name)
    path = _write(tmp_path, "leads.csv", V1)
    with DagsterInstance.ephemeral() as inst:
        result = job.execute_in_process(run_config=csv_run_config(LEADS, str(path)), instance=inst)
        assert result.success
        md = materializations(result)[profile_asset_key(LEADS).to_user_string()]
        assert (md["inserted"], md["failed"], md["warnings"], md["dagster/row_count"]) == (3, 1, 5, 3)
        assert md["unmapped"] == "TrustedForm Cert URL" and "| lead_id | id |" in md["header_mapping"]
        assert "| L1 |" in md["preview"] and md["failed_rows_file"].startswith("file://")
        assert {e.check_name: e.passed for e in result.get_asset_check_evaluations()} == {
            "rows_accounted_for": True, "no_duplicate_ids": True}
        bad = _write(tmp_path, "bad.csv", "FirstName\nAnn\n")
        failed = job.execute_in_process(run_config=csv_run_config(LEADS, str(bad)), instance=inst, raise_on_error=False)
        assert not failed.success
        err = [e for e in failed.all_events if e.event_type_value == "STEP_FAILURE"][0].event_specific_data.error
        assert "missing required column(s): id" in err.message
        # the landing sensor: one run per new file content, never twice
        local_store.put_file(f"{LEADS.landing_prefix}2025/leads.csv", path)
        local_store.put_file(f"{LEADS.landing_prefix}notes.pdf", path)
        sensor = defs.resolve_sensor_def(LEADS.sensor_name)
        tick = sensor(build_sensor_context(instance=inst, resources={"blob_store": local_store}))
        (req,) = tick.run_requests
        assert req.job_name == LEADS.job_name and req.run_key.startswith(f"{LEADS.landing_prefix}2025/leads.csv:")
        assert req.run_config["ops"]["enginetest__csv_leads"]["config"]["file"].endswith("2025/leads.csv")
        nxt = sensor(build_sensor_context(instance=inst, cursor=tick.cursor, resources={"blob_store": local_store}))
        assert not (nxt.run_requests or [])


def _cli_env(tmp_path) -> dict:
    env = dict(os.environ)
    env.update(WAREHOUSE_URL=f"sqlite:///{tmp_path / 'wh.db'}", STORAGE_URL=str(tmp_path / "storage"),
               DAGSTER_HOME=str(tmp_path / "dh"), INGEST_STATE_DIR=str(tmp_path / "state"), BATCH_SIZE="7")
    (tmp_path / "dh").mkdir()
    shutil.copy(PROJECT_ROOT / "dagster.yaml", tmp_path / "dh" / "dagster.yaml")
    return env


def test_cli_dry_run_then_import(tmp_path):
    sample = DATA_DIR / "crm" / "hubspot" / "zipcodes.csv"
    env = _cli_env(tmp_path)
    ingest = [sys.executable, "-m", "ingestion_pipelines.cli", "csv-hubspot-zipcodes", str(sample)]
    dry = subprocess.run([*ingest, "--dry-run"], env=env, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=300)
    assert dry.returncode == 0, dry.stdout[-3000:] + dry.stderr[-3000:]
    assert "Header mapping (source header -> field):" in dry.stdout and "First rows as they would land:" in dry.stdout
    assert "Dry run: nothing was written." in dry.stdout and "Would be: inserted=" in dry.stdout
    full = subprocess.run(ingest, env=env, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=300)
    assert full.returncode == 0, full.stdout[-3000:] + full.stderr[-3000:]
    assert "hubspot/csv_zipcodes: inserted=" in full.stdout and "batch_size=7" in full.stdout
    eng = sa.create_engine(env["WAREHOUSE_URL"])
    with eng.connect() as conn:
        landed = conn.execute(sa.text("SELECT count(*) FROM hubspot_zipcodes")).scalar()
    eng.dispose()
    assert landed > 0 and f"(rows in table: {landed})" in full.stdout
    missing = subprocess.run([*ingest[:-1], str(tmp_path / "nope" / "z.csv")], env=env, capture_output=True, text=True,
                             cwd=PROJECT_ROOT, timeout=300)
    assert missing.returncode == 2 and "no such file" in missing.stderr
