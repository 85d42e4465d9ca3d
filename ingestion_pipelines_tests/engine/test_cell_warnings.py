"""The optional-cell rule's shared parts (DESIGN.md §9): numbers as people type them,
RowCells (required fields fail a row, optional ones warn), IngestReport's warnings and the
warnings file beside the failed-rows file."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ingestion_pipelines.engine import validate as v
from ingestion_pipelines.engine.outcomes import CellWarning, IngestReport
from ingestion_pipelines.engine.result_files import read_back, warnings_key, write_warnings


@pytest.mark.parametrize("typed, value", [
    ("25,000", Decimal(25000)), ("50k", Decimal(50000)), ("50K", Decimal(50000)),
    ("1.2M", Decimal(1200000)), ("1.5 million", Decimal(1500000)), ("3bn", Decimal(3 * 10**9)),
    ("$1,200.50", Decimal("1200.50")), ("€200", Decimal(200)), ("(300)", Decimal(-300)),
    ("$1.5k", Decimal(1500)), ("2k EUR", Decimal(2000)), ("(1.2k)", Decimal(-1200)),
    ("1.234,5", Decimal("1234.5")), ("1,234", Decimal(1234)), ("0.5k", Decimal(500)),
])
def test_numbers_as_people_type_them(typed, value):
    assert v.decimal(typed, "n") == value


@pytest.mark.parametrize("typed, comma, value", [
    ("1.234,5", True, Decimal("1234.5")), ("1,234", True, Decimal("1.234")),
    ("1.234", True, Decimal(1234)), ("1.234.567,89", True, Decimal("1234567.89")),
    ("1,234", False, Decimal(1234)), ("1.234", False, Decimal("1.234")),
    ("€ 2.500,00", True, Decimal(2500)),
])
def test_decimal_comma_option(typed, comma, value):
    assert v.decimal(typed, "n", decimal_comma=comma) == value


@pytest.mark.parametrize("typed, comma", [("1,5", False), ("1.234,5", False), ("1.23", True)])
def test_decimal_comma_option_refuses_the_other_locale(typed, comma):
    with pytest.raises(v.FieldError):
        v.decimal(typed, "n", decimal_comma=comma)


def test_integer_reads_suffixes_and_refuses_fractions():
    assert v.integer("50k", "Goal") == 50000
    assert v.integer("1.2M", "Goal") == 1200000
    assert v.integer("25,000", "Goal") == 25000
    for bad in ("1.2345k", "TBD", "k", "50 kg"):
        with pytest.raises(v.FieldError):
            v.integer(bad, "Goal")


def test_row_cells_required_fails_optional_warns():
    cells = v.RowCells(7)
    assert cells.optional(v.integer, "TBD", "Goal") is None
    assert cells.optional(v.integer, "50k", "Daily") == 50000
    cells.check()  # optional cells never fail the row
    assert cells.warnings == [CellWarning(7, "Goal", "TBD", "not a number: 'TBD'")]
    cells.required(v.email, "nope", "Email")
    with pytest.raises(v.RowError, match="Email"):
        cells.check()


def test_report_counts_merges_and_lists_warnings():
    a, b = IngestReport(max_warnings_kept=2), IngestReport()
    a.add_warnings([CellWarning(1, "Goal", "x", "bad"), CellWarning(2, "Goal", "y|z", "bad")])
    a.warn(CellWarning(3, "Goal", "w", "bad"))  # counted, not kept
    b.warn(CellWarning(4, "Phone", "123", "too short"))
    a.merge(b)
    assert a.warnings_total == 4 and len(a.warnings) == 2
    listing = a.warnings_listing(first=1)
    assert "4 optional cell(s)" in listing and "| 1 | Goal | x | bad |" in listing and "3 more" in listing
    assert IngestReport().warnings_listing() == ""


def test_warnings_file_beside_failed_rows_file_neutralised(local_store):
    assert warnings_key("results/campaigns/r1/campaign_csv_failed.csv") == "results/campaigns/r1/campaign_csv_warnings.csv"
    assert warnings_key("artists/results/r1/failed_entities.csv") == "artists/results/r1/warnings_entities.csv"
    assert warnings_key("t/a_r1_failed.ndjson", "xlsx") == "t/a_r1_warnings.xlsx"
    ws = [CellWarning(2, "Goal", "50 kg", "not a number: '50 kg'"), CellWarning(3, "Notes", "=cmd()", "x")]
    for fmt in ("csv", "xlsx"):
        uri = write_warnings(local_store, f"w/run_warnings.{fmt}", ws, fmt)
        rows = read_back(local_store.get_bytes(f"w/run_warnings.{fmt}"), fmt)
        assert uri.endswith(f"run_warnings.{fmt}")
        assert rows[0] == ["row", "column", "value", "reason"]
        assert [str(c) for c in rows[1]] == ["2", "Goal", "50 kg", "not a number: '50 kg'"]
        assert rows[2][2] == "'=cmd()"
