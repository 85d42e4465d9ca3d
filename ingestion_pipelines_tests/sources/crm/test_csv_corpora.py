"""Public corpora and bad files through the CRM CSV path (issue 12, "Done when"):

* ``crm-exports/dedupe-examples/csv_example_messy_input.csv`` (real messy data: 3,337 rows,
  ~3,189 7-digit phones, multi-line quoted addresses, a misspelt header, dates in the email
  column) through the LeadConduit leads profile, whose aliases map its ``Id``, ``Address``,
  ``Zip``, ``Phone`` and ``Email Address``: every row accounted for, the bad phones and emails
  warnings (the rows land), the multi-line addresses intact, the unmapped headers in ``raw``;
* the encoding and dialect corpora (csvkit UTF-8 with/without BOM, UTF-16 BE/LE, Latin-1;
  frictionless BOM, ``;`` and Latin-1) through a profile declared here for their shapes;
* the four bad files: a missing required column, a header only, not a CSV, bad optional cells.

The expectations come from reading the corpus with Python's ``csv`` module here, not from the
engine.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import sqlalchemy as sa

from ingestion_pipelines.engine.ledger import ingest_files
from ingestion_pipelines.engine.profile_load import load_csv
from ingestion_pipelines.engine.profiles import CsvProfile, Field
from ingestion_pipelines.engine.result_files import read_back
from ingestion_pipelines.sources.crm.leadconduit.csv_streams import LEADS

from .test_csv_profiles import DATA, rows_of

#: csvkit's encoding examples (headers a,b,c or foo,bar,baz; last row 4,5,<non-ASCII>).
CSVKIT = CsvProfile("corpus", "csvkit", fields=(
    Field("a", "integer", required=True, aliases=("foo",)), Field("b", aliases=("bar",)), Field("c", aliases=("baz",))),
    key=("a",))
#: frictionless-data's table (id,name).
FRICTIONLESS = CsvProfile("corpus", "frictionless", fields=(Field("id", "integer", required=True), Field("name")))


def _digits(s: str) -> int:
    return sum(ch.isdigit() for ch in s)


def test_dedupe_messy_export_every_row_accounted_for(warehouse, local_store, testdata):
    path = testdata / "crm-exports" / "dedupe-examples" / "csv_example_messy_input.csv"
    with open(path, encoding="utf-8", newline="") as f:
        src = list(csv.DictReader(f))
    assert len(src) == 3337
    bad_phones = sum(_digits(r["Phone"]) not in (0, 10) for r in src)         # 7-digit, and 14/17-digit joins
    bad_emails = sum(bool(r["Email Address"].strip()) and "@" not in r["Email Address"] for r in src)
    assert bad_phones == 3191 and bad_emails == 134

    r = load_csv(warehouse, local_store, LEADS, str(path))
    assert r.status == "succeeded", r.error
    c = r.counts
    assert r.rows_read == 3337
    assert c["inserted"] + c.get("updated", 0) + c.get("unchanged", 0) + c.get("skipped", 0) + c["failed"] == 3337
    assert (c["inserted"], c["failed"]) == (3337, 0)                            # every Id is there and unique
    by_col: dict[str, int] = {}
    for w in _warnings(local_store, r):
        by_col[w["column"]] = by_col.get(w["column"], 0) + 1
    assert by_col == {"phone_1": bad_phones, "email": bad_emails}               # warnings, not lost rows
    assert r.report.warnings_total == bad_phones + bad_emails
    assert "Eearly Head Start Fund" in r.header_map.unmapped
    landed = {x["id"]: x for x in rows_of(warehouse, LEADS.target)}
    assert len(landed) == 3337
    multi = [s for s in src if "\n" in s["Address"]]
    assert len(multi) == 51
    for s in multi:
        assert landed[s["Id"]]["address_1"] == s["Address"].strip()           # multi-line address intact
        assert landed[s["Id"]]["raw"]["Address"] == s["Address"]               # and as written in raw
    seven = next(s for s in src if _digits(s["Phone"]) == 7)
    assert landed[seven["Id"]]["phone_1"] is None and landed[seven["Id"]]["raw"]["Phone"] == seven["Phone"]
    ten = [s for s in src if s["Zip"].strip() and len(s["Zip"].strip()) == 5]
    assert all(landed[s["Id"]]["postal_code"] == s["Zip"].strip() for s in ten)


def _warnings(store, result) -> list[dict]:
    """The warnings file as dicts (header row -> values)."""
    rows = read_back(store.get_bytes(store.key_from_uri(result.warnings_file)), "csv")
    return [dict(zip(rows[0], r)) for r in rows[1:]]


@pytest.mark.parametrize("name", ["test_utf8.csv", "test_utf8_bom.csv", "test_utf16_big.csv", "test_utf16_little.csv",
                                  "test_latin1.csv"])
def test_csvkit_encodings(name, sqlite_warehouse, local_store, testdata):
    r = load_csv(sqlite_warehouse, local_store, CSVKIT, str(testdata / "csvkit-examples" / name))
    assert r.status == "succeeded", r.error
    assert (r.rows_read, r.counts["inserted"], r.report.warnings_total) == (2, 2, 0)
    assert not r.header_map.unmapped                     # the BOM is not part of the first header
    got = {x["a"]: (x["b"], x["c"]) for x in rows_of(sqlite_warehouse, CSVKIT.target)}
    assert got == {1: ("2", "3"), 4: ("5", "©" if "latin1" in name else "ʤ")}


@pytest.mark.parametrize("name", ["table.csv", "bom.csv", "delimiter.csv", "table-delimiter.csv", "latin1.csv"])
def test_frictionless_encodings_and_delimiters(name, warehouse, local_store, testdata):
    r = load_csv(warehouse, local_store, FRICTIONLESS, str(testdata / "frictionless-data" / name))
    assert r.status == "succeeded", r.error
    got = {x["id"]: x["name"] for x in rows_of(warehouse, FRICTIONLESS.target)}
    assert got == {1: "english", 2: "©" if name == "latin1.csv" else "中国人"}


def _leads_file(tmp_path: Path, text: str, name: str = "leads.csv") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_missing_required_column_fails_the_file_at_once(warehouse, local_store, tmp_path):
    p = _leads_file(tmp_path, "First Name,Email,Phone\nAna,ana@example.com,(617) 555-0100\n")
    r = load_csv(warehouse, local_store, LEADS, str(p))
    assert r.status == "failed"
    assert "missing required column(s): id" in r.error and "'lead_id'" in r.error      # what it expected
    assert "'First Name', 'Email', 'Phone'" in r.error                                  # and what it found
    assert warehouse.count(LEADS.target) == 0
    with warehouse.engine.connect() as c:
        led = c.execute(sa.select(ingest_files.c.status, ingest_files.c.error)).one()
    assert led.status == "failed" and "missing required column" in led.error


def test_header_only_file_loads_nothing_and_says_so(warehouse, local_store, tmp_path):
    p = _leads_file(tmp_path, "Lead ID,First Name,Email\n")
    r = load_csv(warehouse, local_store, LEADS, str(p))
    assert r.status == "succeeded" and r.rows_read == 0
    assert r.note() == "the file has a header but no data rows: nothing to load"
    assert warehouse.count(LEADS.target) == 0


def test_not_a_csv_fails_with_a_reason(warehouse, local_store, tmp_path):
    photo = DATA.parent / "artists" / "photos" / "smiley.jpg"
    p = tmp_path / "leads.csv"                          # a JPEG renamed .csv (a wrong attachment)
    p.write_bytes(photo.read_bytes())
    r = load_csv(warehouse, local_store, LEADS, str(p))
    assert r.status == "failed" and r.error
    assert warehouse.count(LEADS.target) == 0
    with warehouse.engine.connect() as c:
        assert c.execute(sa.select(ingest_files.c.status)).scalar() == "failed"


def test_bad_optional_cells_are_warnings_and_lose_nothing(warehouse, local_store, tmp_path):
    p = _leads_file(tmp_path, (
        "Lead ID,Email,Phone,Submit Time,Cost,Zip Code,State,Is Duplicate\n"
        "L1,ana@example,226-2649,TBD,50k,ABCDE,Atlantis,maybe\n"
        "L2,bo@example.com,(617) 555-0101,6/3/2025 2:05:00 PM,\"$1,200.50\",'02134,ma,duplicate\n"
        ",no-key@example.com,,,,,,\n"))
    r = load_csv(warehouse, local_store, LEADS, str(p))
    assert (r.rows_read, r.counts["inserted"], r.counts["failed"]) == (3, 2, 1)
    ws = {(w["column"], w["value"]) for w in _warnings(local_store, r)}
    assert ws == {("email", "ana@example"), ("phone_1", "226-2649"), ("submission_timestamp", "TBD"),
                  ("postal_code", "ABCDE"), ("state", "Atlantis"), ("is_duplicate", "maybe")}
    by_id = {x["id"]: x for x in rows_of(warehouse, LEADS.target)}
    l1, l2 = by_id["L1"], by_id["L2"]
    assert (l1["email"], l1["phone_1"], l1["postal_code"], l1["state"]) == (None, None, None, None)
    assert str(l1["cost"]) == "50000.00" and l1["raw"]["Email"] == "ana@example"
    assert (l2["phone_1"], l2["postal_code"], l2["state"], l2["is_duplicate"]) == ("+16175550101", "02134", "MA", True)
    failed = read_back(local_store.get_bytes(local_store.key_from_uri(r.failed_rows_file)), "csv")
    assert len(failed) == 2 and "id" in failed[1][-1]     # the keyless row, with its reason
