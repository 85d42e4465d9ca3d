"""The CRM CSV profiles on their samples (issue 12, "Done when"): every profile of DESIGN.md
§10's CSV list loads its committed sample(s) (``data/crm/<system>/``) on SQLite and on
PostgreSQL with the counts ``data/crm/generate_samples.py`` documents (``expected_counts.json``,
its own ground truth, not a parse of the files); a second run of the same content is skipped,
a forced one changes nothing; a dry run writes nothing; the values land cleaned (E.164 phones,
lower-case emails, ZIPs with their zeros, aware times from Arrivy's zone column) with the row
as written in ``raw``.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from ingestion_pipelines.engine.profile_load import load_csv
from ingestion_pipelines.engine.profiles import CsvProfile
from ingestion_pipelines.sources.crm.arrivy.csv_streams import PROFILES as ARRIVY
from ingestion_pipelines.sources.crm.genius.csv_streams import PROFILES as GENIUS
from ingestion_pipelines.sources.crm.hubspot.csv_streams import PROFILES as HUBSPOT
from ingestion_pipelines.sources.crm.leadconduit.csv_streams import PROFILES as LEADCONDUIT
from ingestion_pipelines.sources.crm.salespro.csv_streams import PROFILES as SALESPRO

DATA = Path(__file__).resolve().parents[3] / "data" / "crm"
EXPECTED = json.loads((DATA / "expected_counts.json").read_text())
#: Every CSV profile, in the order a demo loads them (the ZIP reference first).
PROFILES: tuple[CsvProfile, ...] = (*HUBSPOT, *LEADCONDUIT, *ARRIVY, *SALESPRO, *GENIUS)
#: DESIGN.md §10's CSV list (the commands' objects).
CSV_LIST = {"genius-users", "genius-appointments", "genius-prospects", "genius-marketing-sources",
            "genius-marketing-source-types", "salespro-appointments", "salespro-users", "salespro-offices",
            "leadconduit-leads", "arrivy-tasks", "hubspot-zipcodes"}
OUTCOMES = ("inserted", "updated", "unchanged", "skipped", "failed")


def profile(slug: str) -> CsvProfile:
    return next(p for p in PROFILES if p.slug == slug)


def rel(path: Path) -> str:
    """A sample's key in expected_counts.json (``leadconduit/leads.csv``)."""
    return Path(path).resolve().relative_to(DATA).as_posix()


def counts(result) -> dict[str, int]:
    """A load's counts in expected_counts.json's shape."""
    return {"rows": result.rows_read, **{k: result.counts.get(k, 0) for k in OUTCOMES},
            "warnings": result.report.warnings_total}


def expected(path: Path) -> dict[str, int]:
    e = EXPECTED[rel(path)]
    return {k: e[k] for k in ("rows", *OUTCOMES, "warnings")}


def instant(x: datetime | None) -> datetime | None:
    """A stored timestamp as an aware instant: SQLite hands back timestamps without their zone
    (SQLAlchemy stores them as text), which must then be UTC."""
    return x if x is None or x.tzinfo else x.replace(tzinfo=timezone.utc)


def rows_of(warehouse, table: sa.Table, *where) -> list[dict]:
    with warehouse.engine.connect() as c:
        return [dict(r) for r in c.execute(sa.select(table).where(*where)).mappings()]


def test_every_object_of_the_csv_list_has_a_profile_and_a_sample():
    assert {p.slug for p in PROFILES} == CSV_LIST
    for p in PROFILES:
        assert p.sample_paths(), f"{p.slug}: no sample in data/crm/{p.system}/"
        assert p.target.name == p.snake, p.slug          # <system>_<object>: genius_marketing_sources ...
    assert sorted(rel(f) for p in PROFILES for f in p.sample_paths()) == sorted(EXPECTED)
    assert profile("salespro-appointments").sample_paths()[0].name == "appointments_2025-07-01.csv"  # old headers first


@pytest.mark.parametrize("slug", sorted(CSV_LIST))
def test_sample_loads_with_documented_counts_then_changes_nothing(slug, warehouse, local_store):
    p = profile(slug)
    table = p.target
    landed: set = set()
    for path in p.sample_paths():
        first = load_csv(warehouse, local_store, p, str(path), run_id="r1")
        assert first.status == "succeeded", first.error
        assert counts(first) == expected(path), path.name
        assert sum(first.counts.get(k, 0) for k in OUTCOMES) == first.rows_read   # every row accounted for
        assert not first.header_map.missing
        landed |= {tuple(r[k] for k in p.key) for r in rows_of(warehouse, table)}
        again = load_csv(warehouse, local_store, p, str(path), run_id="r2")
        assert again.status == "skipped"                   # same content: skipped through ingest_files
        forced = load_csv(warehouse, local_store, p, str(path), run_id="r3", force_refresh=True)
        e = expected(path)
        assert counts(forced) == {**e, "inserted": 0, "updated": 0, "unchanged": e["inserted"] + e["updated"]}, path.name
    assert warehouse.count(table) == len(landed)


@pytest.mark.parametrize("slug", ["leadconduit-leads", "genius-prospects"])
def test_dry_run_writes_nothing(slug, warehouse, local_store):
    p = profile(slug)
    path = p.sample_paths()[0]
    r = load_csv(warehouse, local_store, p, str(path), dry_run=True)
    assert r.status == "dry_run"
    e = expected(path)
    assert counts(r) == e                                  # the counts it would have
    assert r.preview and r.header_map is not None
    assert warehouse.count(p.target) == 0
    assert not r.failed_rows_file and not r.warnings_file
    assert not list(local_store.list("results/"))
    from ingestion_pipelines.engine.ledger import ingest_files

    assert warehouse.count(ingest_files) == 0
    assert load_csv(warehouse, local_store, p, str(path)).counts["inserted"] == e["inserted"]  # not skipped after


def test_leads_land_cleaned_with_raw_kept(warehouse, local_store):
    p = profile("leadconduit-leads")
    r = load_csv(warehouse, local_store, p, str(DATA / "leadconduit" / "leads.csv"))
    assert r.header_map.unmapped == ("TrustedForm Cert URL",)
    by_id = {x["id"]: x for x in rows_of(warehouse, p.target)}
    first = by_id["5e8a00000000000000000000"]
    assert first["phone_1"] == "+12039574176" and first["phone_2"] == "+18603913965"   # (860)391-3965 x87
    assert first["email"] == "jennifer.taylor@comcast.net"
    assert first["postal_code"] == "06001-9859" and first["state"] == "CT"
    assert instant(first["submission_timestamp"]) == datetime(2025, 6, 1, 8, 0, tzinfo=timezone.utc)
    assert first["is_duplicate"] is True and first["salesrabbit_rep_id"] == "9488"
    assert first["raw"]["TrustedForm Cert URL"].startswith("https://cert.trustedform.com/")
    assert first["raw"]["Phone"] == "2039574176"         # the cell as written
    third = by_id["5e8a3dde0000000000000002"]
    assert third["postal_code"] == "06002" and third["state"] == "CT"                 # '06002, ct
    assert third["cost"] == Decimal("38.50")
    note = next(x for x in by_id.values() if x["comments"])
    assert note["comments"] == 'Prefers evenings.\nGate code 4411 — dog in yard,\n"friendly".'
    bad = {(w.column, w.value) for w in r.report.warnings}
    assert ("phone_1", "226-2649") in bad and ("email", "mike.jones@gmail") in bad
    seven = next(x for x in by_id.values() if x["raw"]["Phone"] == "226-2649")
    assert seven["phone_1"] is None                      # the row landed, the cell is empty, raw keeps it
    assert r.failed_rows_file and r.warnings_file


def test_arrivy_times_are_read_in_the_zone_columns(warehouse, local_store):
    p = profile("arrivy-tasks")
    load_csv(warehouse, local_store, p, str(DATA / "arrivy" / "tasks.csv"))
    t = rows_of(warehouse, p.target, p.target.c.id == 5066549580791808)[0]
    ny = ZoneInfo("America/New_York")
    assert instant(t["start_at"]) == datetime(2025, 6, 2, 8, 0, tzinfo=ny)       # 12:00 UTC
    assert instant(t["end_at"]) == datetime(2025, 6, 2, 10, 0, tzinfo=ny)
    assert instant(t["created_on"]) == datetime(2025, 6, 1, 9, 0, 0, tzinfo=ny)
    assert instant(t["completed_at"]) == datetime(2025, 6, 2, 9, 52, 40, tzinfo=ny)
    assert t["instructions"] == "Call on arrival.\nPark on street, not driveway."
    assert t["start_timezone"] == "America/New_York" and "Start Time" in t["raw"]
    chicago = rows_of(warehouse, p.target, p.target.c.city == "Chicago")[0]
    assert chicago["timezone"] == "America/Chicago"
    assert instant(chicago["start_at"]) == datetime(2025, 6, 2, 8, 0, tzinfo=ZoneInfo("America/Chicago"))   # 13:00 UTC


def test_salespro_header_versions_land_in_the_same_columns(warehouse, local_store):
    appts, users = profile("salespro-appointments"), profile("salespro-users")
    for path in appts.sample_paths():
        load_csv(warehouse, local_store, appts, str(path))
    rows = rows_of(warehouse, appts.target)
    assert len(rows) == 44                               # 24 + 20 new; 5 re-exported ones updated
    for r in rows:
        assert r["customer_last_name"] and r["sales_rep_email"] == r["sales_rep_email"].lower()
    old_hdr = [r for r in rows if "customer.nameLast" in r["raw"]]
    new_hdr = [r for r in rows if "customerLastName" in r["raw"]]
    assert (len(old_hdr), len(new_hdr)) == (19, 25)       # the 5 re-exported ones carry the new headers now
    with open(appts.sample_paths()[0], encoding="utf-8") as f:
        first_ids = {line.split(",", 1)[0] for line in f}
    again = [r for r in new_hdr if r["id"] in first_ids]
    assert len(again) == 5 and all(r["is_sale"] and r["sale_amount"] > 0 for r in again)
    for path in users.sample_paths():
        load_csv(warehouse, local_store, users, str(path))
    us = rows_of(warehouse, users.target)
    v1 = [u for u in us if "User Object ID" in u["raw"]]
    assert len(us) == 48 and len(v1) == 20
    assert {u["is_active"] for u in v1} == {True, False}
    assert all(u["selected_office"] and "(" not in u["selected_office"] for u in v1)   # the id inside (...)
    v2_lists = [u["allowed_offices"] for u in us if str(u["raw"].get("allowedOffices", "")).endswith("]")]
    assert len(v2_lists) == 27 and all(isinstance(x, list) and len(x) == 2 for x in v2_lists)  # 28 - 1 broken


def test_genius_exports_land_in_the_genius_tables(warehouse, local_store):
    from ingestion_pipelines.sources.crm.genius import schema

    users, appts = profile("genius-users"), profile("genius-appointments")
    assert users.target is schema.genius_users and appts.target is schema.genius_appointments
    load_csv(warehouse, local_store, users, str(DATA / "genius" / "users.csv"))
    load_csv(warehouse, local_store, appts, str(DATA / "genius" / "appointments.csv"))
    u = rows_of(warehouse, schema.genius_users, schema.genius_users.c.id == 101)[0]
    assert isinstance(u["id"], int) and u["manager_user_id"] is None      # "n/a"
    assert {"gender_id", "marital_status_id", "time_zone_name"} <= set(u["raw"])  # no column: kept in raw
    a = {r["id"]: r for r in rows_of(warehouse, schema.genius_appointments)}
    assert str(a[70001]["time"]) == "09:15:00" and str(a[70002]["time"]) == "10:00:00"   # 24-hour and 12-hour
    assert str(a[70001]["duration"]) == "02:00:00" and a[70001]["is_complete"] is True
    assert a[70006]["notes"] == "Gate code #1942.\nDog in back yard —\nuse side door."
