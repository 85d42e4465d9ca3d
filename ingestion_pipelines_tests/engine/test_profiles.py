"""engine.profiles without a database: header normalisation and mapping (aliases, export
versions, unmapped headers, missing required columns), the derived names and table, row
conversion under the optional-cell rule, and validate's additions for CSV profiles (ZIP,
state, JSON, times, Excel serials) with their fast paths checked against the libraries."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from decimal import Decimal

import phonenumbers
import pytest
import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email

from ingestion_pipelines.engine import validate as v
from ingestion_pipelines.engine.profiles import (
    CsvProfile,
    Field,
    MissingColumnsError,
    RowConverter,
    compact_header,
    map_headers,
    normalize_header,
)
from ingestion_pipelines.engine.schema import JSON_TYPE

#: SalesPro appointments, both export versions (SEED_SYSTEM §1: before/after 07-07).
APPTS = CsvProfile("testsp", "appointments", key=("id",), fields=(
    Field("id", required=True, aliases=("_id",)),
    Field("customer_last_name", aliases=("customer.nameLast",)),
    Field("customer_first_name", aliases=("customer.nameFirst",)),
    Field("salesrep_email", "email", aliases=("salesrep.email",)),
    Field("sale_amount", "money"),
    Field("is_sale", "boolean"),
    Field("created_at", "datetime", aliases=("_created_at",)),
))


def test_headers_normalise_case_spaces_punctuation_camel_case_and_number_signs():
    assert normalize_header("customerLastName") == "customer_last_name"
    assert normalize_header("customer.nameLast") == "customer_name_last"
    assert normalize_header("  Lead ID ") == "lead_id" == normalize_header("LeadID") == normalize_header("leadId")
    assert normalize_header("Mileage (in miles)") == "mileage_in_miles"
    assert normalize_header("Lead #") == normalize_header("Lead No.") == normalize_header("lead number")
    assert normalize_header("ZIPCode") == "zip_code"
    assert normalize_header("\ufeffUser Object ID") == "user_object_id"
    assert normalize_header("_id") == "id"
    assert compact_header("First Name") == compact_header("firstname") == compact_header("FIRST_NAME")


@pytest.mark.parametrize("headers", [
    # before 07-07
    ["_id", "_created_at", "isSale", "customer.nameLast", "customer.nameFirst", "salesrep.email", "saleAmount"],
    # from 07-07
    ["_id", "_created_at", "isSale", "customerLastName", "customerFirstName", "salesRepEmail", "saleAmount"],
])
def test_both_export_versions_map_to_the_same_fields(headers):
    hm = map_headers(headers, APPTS)
    assert set(hm.fields) == {"id", "created_at", "is_sale", "customer_last_name", "customer_first_name",
                              "salesrep_email", "sale_amount"}
    assert hm.unmapped == () and not hm.missing


def test_unmapped_headers_are_listed_and_kept_in_raw():
    headers = ["_id", "customerLastName", "Jornaya LeadiD", "TrustedForm Cert URL"]
    hm = map_headers(headers, APPTS)
    assert hm.unmapped == ("Jornaya LeadiD", "TrustedForm Cert URL")
    assert ("Jornaya LeadiD", None) in hm.mapping() and ("customerLastName", "customer_last_name") in hm.mapping()
    assert "_(unmapped: kept in raw)_" in hm.markdown()
    values = RowConverter(APPTS, hm).convert(2, ["a1", "Smith", "LID-9", "https://cert"], [])
    assert values[-1] == {"_id": "a1", "customerLastName": "Smith", "Jornaya LeadiD": "LID-9",
                          "TrustedForm Cert URL": "https://cert"}


def test_missing_required_column_names_what_was_expected_and_found():
    hm = map_headers(["Customer", "Amount"], APPTS)
    assert hm.missing == {"id": ("id", "_id")}
    with pytest.raises(MissingColumnsError) as err:
        hm.check("appts.csv: ")
    msg = str(err.value)
    assert msg.startswith("appts.csv: missing required column(s): id (a header like 'id', '_id')")
    assert "Found 2 column(s): 'Customer', 'Amount'" in msg


def test_several_headers_of_one_field_read_the_first_filled_in_preference_order():
    p = CsvProfile("testlc", "leads", fields=(Field("id", aliases=("lead_id", "id", "leadId", "_id")), Field("name")))
    hm = map_headers(["id", "name", "Lead ID", "_id"], p)
    assert hm.fields["id"] == (2, 0, 3)  # lead_id (alias rank 0), then id, then _id
    conv = RowConverter(p, hm)
    assert conv.convert(2, ["event-1", "a", "L1", ""], [])[0] == "L1"
    assert conv.convert(3, ["event-2", "b", " ", "X"], [])[0] == "event-2"


def test_inconsistent_profiles_are_refused():
    with pytest.raises(ValueError, match="would map to both"):
        CsvProfile("t", "x", fields=(Field("id"), Field("zip_code", aliases=("id",))))
    with pytest.raises(ValueError, match="key field 'lead' is not a field"):
        CsvProfile("t", "x", key=("lead",), fields=(Field("id"),))
    with pytest.raises(ValueError, match="unknown type"):
        Field("id", "uuid")
    table = sa.Table("t_existing", sa.MetaData(), sa.Column("id", sa.BigInteger, primary_key=True))
    with pytest.raises(ValueError, match="has no column"):
        CsvProfile("t", "x", fields=(Field("id", "integer"), Field("name")), table=table)


def test_names_and_derived_table():
    p = CsvProfile("testgn", "marketing-sources", fields=(Field("id", "integer"), Field("label", max_length=80),
                                                          Field("start_time", "time", store=False)))
    assert (p.command, p.landing_prefix, p.job_name, p.sensor_name, p.asset_path, p.group) == (
        "csv-testgn-marketing-sources", "crm/testgn/marketing-sources/", "csv_testgn_marketing_sources_job",
        "csv_testgn_marketing_sources_sensor", ("testgn", "csv_marketing_sources"), "testgn")
    t = p.target
    assert t.name == "testgn_marketing_sources"
    assert [c.name for c in t.c] == ["id", "label", "raw", "_ingested_at", "_source", "_run_id", "_deleted_at"]
    assert [c.name for c in t.primary_key.columns] == ["id"] and isinstance(t.c.id.type, sa.BigInteger)
    assert t.c.label.type.length == 80 and t.c.raw.type is JSON_TYPE


def test_row_conversion_types_warnings_and_required_fields():
    p = CsvProfile("testcv", "rows", default_tz="America/New_York", fields=(
        Field("id", "integer", required=True), Field("email", "email"), Field("phone", "phone"),
        Field("zip", "zip"), Field("state", "us_state"), Field("amount", "money"), Field("active", "boolean",
        true_values=("Active",), false_values=("Inactive",)), Field("seen", "datetime"), Field("day", "date"),
        Field("at", "time"), Field("tags", "json"), Field("name", required=True)))
    headers = ["id", "email", "phone", "zip", "state", "amount", "active", "seen", "day", "at", "tags", "name"]
    conv = RowConverter(p, map_headers(headers, p))
    warnings: list = []
    good = conv.convert(2, ["7", "Ann@Example.COM", "1 (213) 373-4253", "'02134", "Massachusetts", "$1,200.50",
                            "Inactive", "2025-06-18T12:00:00Z", "45123", "2:30 PM", '["a", 1]', " Ann "], warnings)
    assert good[:-1] == [7, "ann@example.com", "+12133734253", "02134", "MA", Decimal("1200.50"), False,
                         dt.datetime(2025, 6, 18, 12, tzinfo=dt.timezone.utc), dt.date(2023, 7, 16), dt.time(14, 30),
                         ["a", 1], "Ann"]
    assert warnings == []
    bad = conv.convert(3, ["8", "bad@", "555-1234", "ABCDE", "Q", "TBD", "maybe", "06/18/2025 10:00 AM", "soon",
                           "25:00", "{x", "Bob"], warnings)
    assert bad[0] == 8 and bad[1:7] == [None] * 6 and bad[8:12] == [None, None, None, "Bob"]
    assert bad[7] == dt.datetime(2025, 6, 18, 10, tzinfo=bad[7].tzinfo)
    assert bad[7].utcoffset() == dt.timedelta(hours=-4)  # a naive value in the profile's zone (EDT)
    assert [w.column for w in warnings] == ["email", "phone", "zip", "state", "amount", "active", "day", "at", "tags"]
    assert all(w.row == 3 for w in warnings) and warnings[1].value == "555-1234"
    assert "a local number without an area code" in warnings[1].reason
    with pytest.raises(v.RowError) as err:
        conv.convert(4, ["x1", "", "", "", "", "", "", "", "", "", "", ""], warnings)
    assert err.value.fields == ["id", "name"] and "name: is required" in str(err.value)


def test_date_time_and_zone_in_separate_columns():
    p = CsvProfile("testar", "tasks", key=("task_id",), fields=(
        Field("task_id", "integer"), Field("start_at", "datetime", aliases=("Start Date",), time_field="start_time",
                                           tz_field="start_timezone"),
        Field("start_time", "time", aliases=("Start Time",), store=False), Field("start_timezone", "text")))
    conv = RowConverter(p, map_headers(["Task ID", "Start Date", "Start Time", "Start Timezone"], p))
    assert conv.columns == ["task_id", "start_at", "start_timezone", "raw"]
    w: list = []
    got = conv.convert(2, ["1", "06/23/2025", "02:30:00 PM", "America/Chicago"], w)
    assert got[1] == dt.datetime(2025, 6, 23, 14, 30, tzinfo=got[1].tzinfo) and got[1].utcoffset() == dt.timedelta(hours=-5)
    assert conv.convert(3, ["2", "06/23/2025", "", ""], w)[1] == dt.datetime(2025, 6, 23, tzinfo=dt.timezone.utc)
    conv.convert(4, ["3", "06/23/2025", "25:00:00 PM", "America/Chicago"], w)
    assert w[0].column == "start_at" and w[0].value == "06/23/2025 25:00:00 PM America/Chicago"


def test_a_column_without_time_zone_keeps_the_wall_time_as_written():
    table = sa.Table("testgn_naive", sa.MetaData(), sa.Column("id", sa.BigInteger, primary_key=True),
                     sa.Column("added", sa.DateTime(timezone=False)))
    p = CsvProfile("testgn", "naive", fields=(Field("id", "integer"), Field("added", "datetime")), table=table)
    conv = RowConverter(p, map_headers(["id", "added"], p))
    assert conv.columns == ["id", "added"]  # the table has no raw
    assert conv.convert(2, ["1", "2025-01-02T10:03:00-04:00"], []) == [1, dt.datetime(2025, 1, 2, 10, 3)]


def test_a_key_repeated_in_a_batch_keeps_the_later_row():
    p = CsvProfile("testdup", "rows", fields=(Field("id"), Field("n", "integer")))
    conv = RowConverter(p, map_headers(["id", "n"], p))
    got = conv.convert_batch([(2, ["a", "1"], None), (3, ["b", "2"], None), (4, ["a", "3"], None), (5, ["", "4"], None)])
    assert got.rows == [3, 4] and got.columns[1] == [2, 3]
    assert got.skipped == [(2, "duplicate key a: replaced by row 4 of the same batch")]
    assert [(r, str(e)) for r, _, e in got.failed] == [(5, "id: is required")]


# -- validate's additions --------------------------------------------------------------------

@pytest.mark.parametrize("raw, want", [
    ("02134", "02134"), ("'02134", "02134"), ("2134", "02134"), ("501", "00501"), ("2134.0", "02134"),
    ("02134-1234", "02134-1234"), ("021341234", "02134-1234"), ("21341234", "02134-1234"), ("12345-", "12345"),
    (" 12345 - 6789 ", "12345-6789"), ("", None), ("N/A", None),
])
def test_zipcodes(raw, want):
    assert v.zipcode(raw, "zip") == want


@pytest.mark.parametrize("raw", ["ABCDE", "123456", "12", "1234-5678x", "K1A 0B1"])
def test_bad_zipcodes(raw):
    with pytest.raises(v.FieldError, match="not a US ZIP code"):
        v.zipcode(raw, "zip")


def test_zip_plus4_can_be_cut():
    assert v.zipcode("02134-1234", "zip", plus4=False) == "02134"


def test_states_times_json_and_excel_serials():
    assert [v.us_state(s, "s") for s in ("ca", "C.A.", "california", "New York", "District of Columbia",
                                          "Washington, D.C.", "PR", "ae")] == ["CA", "CA", "CA", "NY", "DC", "DC", "PR", "AE"]
    with pytest.raises(v.FieldError, match="not a US state"):
        v.us_state("Cali", "s")
    assert v.time_of_day("14:30", "t") == dt.time(14, 30)
    assert v.time_of_day("02:30:05 pm", "t") == dt.time(14, 30, 5)
    assert v.time_of_day("12 AM", "t") == dt.time(0, 0)
    assert v.time_of_day("0.75", "t", excel=True) == dt.time(18, 0)
    for bad in ("14", "13 PM", "25:00", "TBD"):
        with pytest.raises(v.FieldError):
            v.time_of_day(bad, "t")
    assert v.json_cell('{"a": [1, 2]}', "j") == {"a": [1, 2]} and v.json_cell(["x"], "j") == ["x"]
    with pytest.raises(v.FieldError, match="not valid JSON"):
        v.json_cell("{a", "j")
    assert v.date("45123", "d", excel=True) == dt.date(2023, 7, 16) == v.date(45123, "d", excel=True)
    assert v.date("59", "d", excel=True) == dt.date(1900, 2, 28) and v.date("61", "d", excel=True) == dt.date(1900, 3, 1)
    assert v.date("20140102", "d", excel=True) == dt.date(2014, 1, 2)  # 8 digits: ISO, not a serial
    with pytest.raises(v.FieldError, match="not an Excel date serial"):
        v.date("60", "d", excel=True)
    with pytest.raises(v.FieldError):
        v.date("45123", "d")  # without excel=True a number is never a date
    assert v.timestamp("45123.5", "t", excel=True) == dt.datetime(2023, 7, 16, 12, tzinfo=dt.timezone.utc)
    assert v.timestamp("2025-06-18T12:00:00.000Z", "t") == dt.datetime(2025, 6, 18, 12, tzinfo=dt.timezone.utc)
    assert v.timestamp("2025-06-18T08:00:00-04:00", "t").utcoffset() == dt.timedelta(hours=-4)
    assert v.timestamp("06/23/2025 02:30:00 PM", "t") == dt.datetime(2025, 6, 23, 14, 30, tzinfo=dt.timezone.utc)


def _lib_phone(s: str) -> str | None:
    try:
        n = phonenumbers.parse(s, "US")
    except phonenumbers.NumberParseException:
        return None
    if phonenumbers.is_possible_number_with_reason(n) != phonenumbers.ValidationResult.IS_POSSIBLE:
        return None
    return phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164)


def test_nanp_fast_path_gives_what_phonenumbers_gives():
    numbers = ["2133734253", "2015550123", "9895551234", "2002002000"]
    forms = ["{a}{b}{c}", "({a}) {b}-{c}", "{a}-{b}-{c}", "{a}.{b}.{c}", "{a} {b} {c}", "1{a}{b}{c}", "1-{a}-{b}-{c}",
             "+1 {a} {b} {c}", "+1 ({a}) {b}-{c}", "+1{a}{b}{c}", "1 ({a}){b}-{c}", "({a}){b}{c}",
             "{a}-{b}-{c} x87", "({a}) {b}-{c} ext. 123", "{a}{b}{c}x1", "{a}.{b}.{c} Ext 9", "+1 {a} {b} {c} extension 42"]
    checked = 0
    for n, form in itertools.product(numbers, forms):
        s = form.format(a=n[:3], b=n[3:6], c=n[6:])
        fast = v.nanp_e164(s)
        assert fast is not None, s
        assert fast == _lib_phone(s), s
        checked += 1
    for s in ["213373425", "21337342531", "+44 20 7946 0958", "1213373425", "0213373425", "213-373-4253 #12", "+213 373 4253"]:
        assert v.nanp_e164(s) is None, s  # left to phonenumbers
    assert checked == 68


def test_plain_email_fast_path_agrees_with_email_validator(corpus):
    doc = json.loads((corpus / "validation-vectors" / "email-validator" / "email_validator_syntax_vectors.json").read_text())
    inputs = [c[0] for g in doc["groups"].values() for c in g["cases"] if isinstance(c, list) and c and isinstance(c[0], str)]
    inputs += ["Ann@Example.COM", "o'reilly@example.org", "a..b@c.com", "x@localhost", "x@a.test", "a@c.123",
               "José@Example.com", "zoë.smith@example.org", "日本@example.com", "e\u0301@example.com",
               "ab\u00b2@example.com", "ñ" * 40 + "@example.com", "zoë@exämple.com", "józef..k@example.com"]
    intl = 0
    used = 0
    for s in inputs:
        fast = v.plain_email(s.strip())
        if fast is None:
            continue
        used += 1
        try:
            lib = validate_email(s.strip(), check_deliverability=False).normalized  # email() strips first
        except EmailNotValidError:
            lib = None
        assert fast == lib, s
        intl += not s.isascii()
    assert used >= 10 and intl >= 3


@pytest.mark.parametrize("raw, want", [("12", Decimal("12")), ("1200.50", Decimal("1200.50")),
                                       ("$1200.50", Decimal("1200.50")), ("0012", Decimal("12"))])
def test_plain_amount_fast_path_matches_the_full_reading(raw, want):
    assert v.decimal(raw, "x") == want == v.decimal(" " + raw, "x")  # the padded form takes the full path
    assert v.decimal("1.234", "x", decimal_comma=True) == Decimal("1234")


def test_timestamp_fast_path_agrees_with_the_full_reader():
    """profiles' timestamp fast path (ISO, and validate.us_datetime for US m/d/Y) gives what
    validate.timestamp gives, on every string it answers; bad dates and hours are left to
    the full reader (which reports them)."""
    from zoneinfo import ZoneInfo

    from ingestion_pipelines.engine.profiles import _timestamp_fast

    tz = ZoneInfo("America/New_York")
    fast = _timestamp_fast(tz)
    dates = ["06/23/2025", "6/3/2025", "02/29/2024", "02/29/2025", "13/01/2025", "00/10/2025", "12/32/2025",
             "1/1/0001", "12/31/9999"]
    times = ["", " 2:30 PM", " 02:30:00 pm", " 12:00:00 AM", " 12:59 PM", " 0:30 AM", " 13:00 PM", " 14:30:00",
             " 23:59:59", " 24:00:00", " 9:60:00", " 10:30:61 AM", " 1:05:09 am", " 11:59:59 Pm"]
    answered = 0
    for d, t in itertools.product(dates, times):
        for s in (d + t, "2025-06-23T" + t.strip().split(" ")[0] if t else "2025-06-23"):
            got = fast(s)
            if got is None:
                continue
            answered += 1
            assert got == v.timestamp(s, "t", tz, excel=True) and got.tzinfo == v.timestamp(s, "t", tz, excel=True).tzinfo, s
    for s in ["06/23/2025 02:30:00 PM", "2025-06-23T10:00:00Z", "2025-06-23T10:00:00-04:00", "6/3/2025 2:30 PM"]:
        assert fast(s) is not None, s
    for s in ["06/23/2025  2:30 PM", " 06/23/2025", "06/23/25 2:30 PM", "45123", "06/23/2025 13:00 PM", "2/30/2025"]:
        assert fast(s) is None, s  # left to the full reader
    assert answered > 60


def test_raw_json_column_is_orjson_of_the_raw_dict():
    """profiles.raw_json_column (the PostgreSQL path's raw, made by one % format per row where
    no cell needs a JSON escape) gives exactly orjson.dumps of {header: cell}, on random rows
    with quotes, backslashes, controls, tabs, newlines, non-ASCII, '%', ragged and non-str
    cells, repeated headers and raw dicts given by the caller."""
    import random

    import orjson

    from ingestion_pipelines.engine.profiles import raw_json_column

    rng = random.Random(12)
    alphabet = ["a", "Z", "0", " ", "%", "%s", "é", "Zoë", "\u2028", "\U0001F600", '"', "\\", "\t", "\n", "\r",
                "\x00", "\x1f", "\x7f", "\x85", "\xa0", "'", ",", "{", "}"]

    def cell(special: bool) -> str:
        pool = alphabet if special else alphabet[:10]
        return "".join(rng.choice(pool) for _ in range(rng.randint(0, 6)))

    for trial in range(300):
        special = trial % 3 == 0
        headers = [cell(special) or f"h{i}" for i in range(rng.randint(1, 6))]
        if trial % 7 == 0:
            headers.append(headers[0])  # a repeated header: the dict keeps its last cell
        n = len(headers)
        rows = []
        for line in range(rng.randint(1, 8)):
            cells: list = [cell(special and rng.random() < 0.3) for _ in range(n)]
            if trial % 5 == 0 and line == 0:
                cells += ["", ""]  # a ragged row's extra blank cells
            if trial % 11 == 0 and line == 1:
                cells[0] = 12.5  # an XLSX number
            raw = {"given": cell(True)} if trial % 13 == 0 and line == 0 else None
            rows.append((line + 2, cells, raw))
        by_position = list(zip(*[r[1] for r in rows]))
        want = [orjson.dumps(r[2] if r[2] is not None else dict(zip(headers, r[1]))).decode() for r in rows]
        assert raw_json_column(headers, rows, by_position) == want, (headers, rows)
