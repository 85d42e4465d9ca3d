"""engine.readers against public corpora (../shared/testdata, expectations from its README)
and against inputs made in tmp_path (gzip, bad NDJSON, naughty strings, binary files)."""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
import tracemalloc
from datetime import datetime

import openpyxl
import pytest

from ingestion_pipelines.engine.readers import (
    FileFormatError,
    SourceRecord,
    count_records,
    detect_format,
    iter_records,
    normalize_headers,
    open_binary,
)


def read(path, *args, **kwargs) -> list[SourceRecord]:
    with iter_records(path, *args, **kwargs) as records:
        return list(records)


def data(records: list[SourceRecord]) -> list[dict]:
    assert all(r.ok for r in records), [r.error for r in records if not r.ok]
    return [r.data for r in records]


def values(records: list[SourceRecord]) -> list[list[str]]:
    """The table as strings, header names aside (to compare formats that type values)."""
    return [[str(v) for v in d.values()] for d in data(records)]


# ---------------------------------------------------------------------------------------------
# csv-spectrum: every case against its json
# ---------------------------------------------------------------------------------------------

SPECTRUM = ["comma_in_quotes", "empty", "empty_crlf", "escaped_quotes", "json", "newlines",
            "newlines_crlf", "quotes_and_newlines", "simple", "simple_crlf", "utf8"]


@pytest.mark.parametrize("case", SPECTRUM)
def test_csv_spectrum(corpus, case):
    path = corpus / "csv-spectrum" / "csvs" / f"{case}.csv"
    expected = json.loads((corpus / "csv-spectrum" / "json" / f"{case}.json").read_text("utf-8"))
    assert data(read(path)) == expected
    assert count_records(path) == len(expected)


def test_csv_spectrum_location_coordinates(corpus):
    # Upstream's json is a single object and expects another phone number (README "Known
    # upstream bug"): compare with Python's own DictReader instead.
    path = corpus / "csv-spectrum" / "csvs" / "location_coordinates.csv"
    with open(path, newline="", encoding="utf-8") as f:
        expected = list(csv.DictReader(f))
    got = data(read(path))
    assert got == expected
    assert got[0]["Contact Phone Number"] == "2095257564"
    assert "\ufffd" in got[0]["Location Coordinates"]


def test_csv_spectrum_row_numbers_are_start_lines(corpus):
    records = read(corpus / "csv-spectrum" / "csvs" / "quotes_and_newlines.csv")
    assert [r.row for r in records] == [2, 5]
    records = read(corpus / "csv-spectrum" / "csvs" / "newlines_crlf.csv")
    assert [r.row for r in records] == [2, 3, 5]


# ---------------------------------------------------------------------------------------------
# csvkit examples
# ---------------------------------------------------------------------------------------------

def test_csvkit_bad_ragged_rows_reported_good_row_kept(corpus):
    records = read(corpus / "csvkit-examples" / "bad.csv")
    assert [(r.row, r.error) for r in records if not r.ok] == [
        (2, "row 2: expected 3 columns, found 4"),
        (3, "row 3: expected 3 columns, found 2"),
    ]
    assert records[0].raw == ["1", "27", "", "I'm too long!"]
    assert records[1].data is None
    assert [r.data for r in records if r.ok] == [
        {"column_a": "0", "column_b": "mixed types.... uh oh", "column_c": "17"}]


def test_csvkit_mac_newlines(corpus):
    records = read(corpus / "csvkit-examples" / "mac_newlines.csv")
    # CR-only line endings; the quoted CR is kept as it is in the file (values are never
    # rewritten, as csv-spectrum's newlines_crlf keeps its "\r\n").
    assert data(records) == [{"a": "1", "b": "2", "c": "3"},
                             {"a": "Once upon\ra time", "b": "5", "c": "6"}]
    assert [r.row for r in records] == [2, 3]


def test_csvkit_null_byte(corpus):
    assert data(read(corpus / "csvkit-examples" / "null_byte.csv")) == [{"a": "", "b": "2", "c": "3"}]


def test_csvkit_latin1(corpus):
    path = corpus / "csvkit-examples" / "test_latin1.csv"
    with iter_records(path) as records:
        rows = data(list(records))
        assert records.encoding == "cp1252"
    assert rows[-1] == {"a": "4", "b": "5", "c": "©"}
    assert data(read(path, encoding="latin-1")) == rows


@pytest.mark.parametrize("name", ["test_utf8.csv", "test_utf8_bom.csv", "test_utf16_big.csv",
                                  "test_utf16_little.csv"])
def test_csvkit_unicode_encodings_same_table(corpus, name):
    records = read(corpus / "csvkit-examples" / name)
    assert values(records) == [["1", "2", "3"], ["4", "5", "ʤ"]]
    columns = list(records[0].data)
    assert columns == (["foo", "bar", "baz"] if name.startswith("test_utf8") else ["a", "b", "c"])


def test_csvkit_tsv_sniffed(corpus):
    expected = data(read(corpus / "csvkit-examples" / "dummy.csv"))
    path = corpus / "csvkit-examples" / "dummy.tsv"
    with iter_records(path, "csv") as records:  # forced through the sniffer
        assert data(list(records)) == expected
        assert records.delimiter == "\t"
    assert data(read(path)) == expected  # by name: tsv


def test_csvkit_header_newline(corpus):
    with iter_records(corpus / "csvkit-examples" / "test_header_newline.csv") as records:
        rows = list(records)
        assert records.columns == ["start end", "b", "c"]
    assert data(rows) == [{"start end": "d", "b": "e", "c": "f"}]
    assert rows[0].row == 8  # the header spans 7 physical lines (\n and \r both end a line)


def test_csvkit_empty_file_is_a_file_format_error(corpus):
    # Decision: a file without even a header row is a bad *file* (recorded in ingest_files),
    # not a file with zero rows. Without a header (header_rows=0) it is simply empty.
    path = corpus / "csvkit-examples" / "empty.csv"
    with pytest.raises(FileFormatError, match="empty"):
        iter_records(path)
    with pytest.raises(FileFormatError, match="empty"):
        count_records(path)
    assert read(path, header_rows=0) == []


def test_csvkit_skip_lines(corpus):
    expected = data(read(corpus / "csvkit-examples" / "dummy.csv"))
    records = read(corpus / "csvkit-examples" / "test_skip_lines.csv", header_rows=4)
    assert data(records) == expected
    assert records[0].row == 5


def test_csvkit_no_leading_zeroes(corpus):
    assert data(read(corpus / "csvkit-examples" / "test_no_leading_zeroes.csv")) == [
        {"a": "01", "b": "00.11", "c": "0.1"}]


def test_csvkit_empty_columns(corpus):
    # header "a,b,c,," : trailing blank header cells name no column; rows with extra
    # *empty* trailing cells are fine; an all-empty row is skipped.
    assert data(read(corpus / "csvkit-examples" / "test_empty_columns.csv")) == [
        {"a": "a", "b": "", "c": ""}, {"a": "", "b": "", "c": "c"}]
    records = read(corpus / "csvkit-examples" / "test_extra_header.csv")
    assert [r.error for r in records] == ["row 2: expected 4 columns, found 3"]


def _xlsx_expected(corpus) -> list[list[str]]:
    with open(corpus / "csvkit-examples" / "testxlsx_converted.csv", newline="", encoding="utf-8") as f:
        return list(csv.reader(f))[1:]


def _xlsx_as_text(column: str, value) -> str:
    if value is None:
        return ""
    if column == "date":
        return value.date().isoformat()
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _check_test_xlsx(records: list[SourceRecord], expected: list[list[str]], first_row: int) -> None:
    assert len(records) == len(expected) == 5
    for record, want in zip(records, expected):
        if record.ok:
            got = [_xlsx_as_text(k, v) for k, v in record.data.items()]
            assert got == want[:7] and want[7] == ""
        else:
            # A value past the header's last column is a ragged row, reported with its cells
            # (nothing is silently trimmed).
            assert record.error == f"row {record.row}: expected 7 columns, found 8"
            assert record.raw[7] == want[7] == "Extra data beyond headers will be trimmed"
    assert records[0].row == first_row
    assert records[0].data["date"] == datetime(1971, 1, 1)
    assert records[0].data["datetime"] == datetime(1971, 1, 1, 4, 14)
    assert records[0].data["integer"] == 40 and records[0].data["boolean"] is True
    assert records[-1].data["text"] == "Unicode! Σ"


def test_csvkit_xlsx(corpus):
    path = corpus / "csvkit-examples" / "test.xlsx"
    with iter_records(path) as records:
        rows = list(records)
        assert records.columns == ["text", "date", "integer", "boolean", "float", "datetime", "empty_column"]
        assert records.sheet == "Sheet1"
    _check_test_xlsx(rows, _xlsx_expected(corpus), first_row=2)
    assert count_records(path) == 5
    skipped = read(corpus / "csvkit-examples" / "test_skip_lines.xlsx", header_rows=4)
    _check_test_xlsx(skipped, _xlsx_expected(corpus), first_row=5)


def test_csvkit_xlsx_sheets(corpus):
    path = corpus / "csvkit-examples" / "sheets.xlsx"
    _check_test_xlsx(read(path, sheet="data"), _xlsx_expected(corpus), first_row=2)
    _check_test_xlsx(read(path, sheet=1), _xlsx_expected(corpus), first_row=2)
    with open(corpus / "csvkit-examples" / "testxlsx_unicode_converted.csv", encoding="utf-8") as f:
        unicode_expected = list(csv.DictReader(f))
    assert [{k: str(v) for k, v in d.items()} for d in data(read(path, sheet="ʤ"))] == unicode_expected
    with pytest.raises(FileFormatError, match="no sheet named 'nope'.*'not this one', 'data', 'ʤ'"):
        iter_records(path, sheet="nope")
    with pytest.raises(FileFormatError, match="no sheet number 7"):
        iter_records(path, sheet=7)
    with pytest.raises(FileFormatError, match="'not this one' is empty"):
        iter_records(path)  # the first sheet is empty


def test_csvkit_ndjson_named_json(corpus):
    # testjson_multiline.json is NDJSON despite its name; it is read as such.
    with iter_records(corpus / "csvkit-examples" / "testjson_multiline.json") as records:
        assert data(list(records)) == [{"a": 2, "b": 3}, {"b": 2, "d": 4}]
        assert records.format == "ndjson"


def test_csvkit_json_array(corpus):
    rows = data(read(corpus / "csvkit-examples" / "testjson.json"))
    assert len(rows) == 5 and rows[0]["text"] == "Chicago Reader" and rows[0]["integer"] == 40
    nested = data(read(corpus / "csvkit-examples" / "testjson_nested.json"))
    assert nested[0]["nested"]["nested"]["date"] == "1971-01-01"


def test_xls_is_refused_clearly(corpus):
    with pytest.raises(ValueError, match="legacy .xls"):
        iter_records(corpus / "csvkit-examples" / "dummy.xls")
    with pytest.raises(FileFormatError, match="legacy .xls"):
        iter_records(corpus / "csvkit-examples" / "dummy.xls", "xlsx")


# ---------------------------------------------------------------------------------------------
# frictionless-data
# ---------------------------------------------------------------------------------------------

TABLE = [["1", "english"], ["2", "中国人"]]


@pytest.mark.parametrize("name", ["table.csv", "bom.csv", "delimiter.csv", "table-delimiter.csv",
                                  "table.ndjson", "table.jsonl", "table.xlsx", "table.json"])
def test_frictionless_same_table(corpus, name):
    records = read(corpus / "frictionless-data" / name)
    assert values(records) == TABLE
    assert list(records[0].data) == ["id", "name"]
    assert count_records(corpus / "frictionless-data" / name) == 2


def test_frictionless_latin1(corpus):
    assert values(read(corpus / "frictionless-data" / "latin1.csv")) == [["1", "english"], ["2", "©"]]


def test_frictionless_table_json_array_of_arrays(corpus):
    # Decision: an array of arrays is supported, its first array being the header.
    with iter_records(corpus / "frictionless-data" / "table.json") as records:
        rows = list(records)
        assert records.columns == ["id", "name"]
    assert [r.row for r in rows] == [2, 3]
    assert rows[0].data == {"id": 1, "name": "english"}


def test_frictionless_xlsx_sheets(corpus):
    path = corpus / "frictionless-data" / "table.xlsx"
    assert read(path, sheet="Лист1") == read(path)
    # "Sheet 2" has no header row: a blank row, then the data from column A.
    records = read(path, sheet="Sheet 2", header_rows=0)
    assert values(records) == TABLE and list(records[0].data) == ["col_0", "col_1"]
    assert [r.row for r in records] == [2, 3]


def test_frictionless_defective_rows(corpus):
    records = read(corpus / "frictionless-data" / "defective-rows.csv")
    assert [(r.row, r.error, r.raw) for r in records] == [
        (2, "row 2: expected 3 columns, found 2", ["1101", "John"]),
        (3, "row 3: expected 3 columns, found 4", ["1102", "Julie", "26", "Potatoes"]),
    ]


@pytest.mark.parametrize("name", ["blank-rows.csv", "blank-rows-multiple.csv"])
def test_frictionless_blank_rows_skipped(corpus, name):
    path = corpus / "frictionless-data" / name
    assert data(read(path)) == [{"id": "1101", "name": "John", "age": "30"},
                                {"id": "1102", "name": "Julie", "age": "26"}]
    assert count_records(path) == 2


def test_frictionless_blank_header_named(corpus):
    assert data(read(corpus / "frictionless-data" / "blank-headers.csv"))[0] == {
        "id": "1101", "column_2": "John", "age": "30"}


@pytest.mark.parametrize("name", ["issue-1009-comma.csv", "issue-1009-semicolon.csv"])
def test_frictionless_leading_zero_kept(corpus, name):
    assert data(read(corpus / "frictionless-data" / name)) == [{"fieldNameA": "0123", "fieldNameB": "c"}]


def test_frictionless_leading_zeros_no_final_newline(corpus):
    assert data(read(corpus / "frictionless-data" / "leading-zeros.csv")) == [
        {"value": "01"}, {"value": "002"}, {"value": "00003"}]


def test_frictionless_utf8_and_long_quoted_fields(corpus):
    assert data(read(corpus / "frictionless-data" / "table-infer-utf8.csv"))[-1]["name"] == "Iñtërnâtiônàlizætiøn"
    rows = data(read(corpus / "frictionless-data" / "doublequote.csv"))
    assert len(rows) == 5 and rows[0]["AÑO"] == "2019" and rows[0]["pbi"] == ".003465"
    assert "'\"se concebirá" in rows[1]["DESCRIPCIONPROGRAMA"]


def test_frictionless_space_after_delimiter(corpus):
    # "ID, Test" / '1, "Test line 1"': every delimiter of the header is followed by a space,
    # so fields may start with one before their opening quote.
    rows = data(read(corpus / "frictionless-data" / "escaping.csv"))
    assert rows[:2] == [{"ID": "1", "Test": "Test line 1"}, {"ID": "2", "Test": 'Test " line 2'}]


# ---------------------------------------------------------------------------------------------
# bigger real files: papaparse, dedupe-examples, us-zipcodes
# ---------------------------------------------------------------------------------------------

def test_papaparse_bom_sample(corpus):
    with iter_records(corpus / "papaparse" / "utf-8-bom-sample.csv") as records:
        list(records)
        assert records.columns == ["A", "B", "C"]


def test_crm_export_multiline_addresses(corpus):
    path = corpus / "crm-exports" / "dedupe-examples" / "csv_example_input_with_true_ids.csv"
    with open(path, newline="", encoding="utf-8") as f:
        expected = list(csv.DictReader(f))
    rows = data(read(path))
    assert rows == expected and len(rows) == 3337
    assert count_records(path) == 3337
    assert rows[0]["Site name"] == "Chicago Commons\nAssociation St Catherine's - St. Lucy School"
    assert "Eearly Head Start Fund" in rows[0]


def test_us_zipcodes_keep_leading_zeros(corpus):
    path = corpus / "us-zipcodes" / "all_us_zipcodes.csv"
    with iter_records(path) as records:
        first = next(records)
    assert first.data["code"] == "00501" and first.row == 2
    assert count_records(path) == 42366


def test_count_matches_iteration_on_every_corpus_file(corpus):
    for folder in ("csv-spectrum/csvs", "csvkit-examples", "frictionless-data"):
        for path in sorted((corpus / folder).iterdir()):
            try:
                detect_format(path.name)
            except ValueError:
                continue  # LICENSE, COPYING, .xls
            try:
                n = len(read(path))
            except FileFormatError:
                with pytest.raises(FileFormatError):
                    count_records(path)
                continue
            assert count_records(path) == n, path.name


# ---------------------------------------------------------------------------------------------
# made in tmp_path
# ---------------------------------------------------------------------------------------------

def test_gzip_detected_by_magic_bytes_for_every_format(corpus, tmp_path):
    for name in ("table.csv", "table.ndjson", "table.json", "bom.csv", "table.xlsx"):
        raw = (corpus / "frictionless-data" / name).read_bytes()
        gz = tmp_path / f"{name}.gz"
        gz.write_bytes(gzip.compress(raw))
        assert values(read(gz)) == TABLE, name
        assert count_records(gz) == 2
        # gzip content under a plain name, and as an unnamed file object
        disguised = tmp_path / name
        disguised.write_bytes(gzip.compress(raw))
        assert values(read(disguised)) == TABLE, name
        with open(gz, "rb") as f:
            assert values(read(f, detect_format(name))) == TABLE, name


def test_ndjson_bad_lines_are_failed_records(tmp_path):
    path = tmp_path / "events.ndjson"
    path.write_bytes(b'{"a": 1}\n'
                     b'\n'
                     b'{bad json}\n'
                     b'[1, 2]\n'
                     b'{"a": "caf\xe9"}\n'
                     b'{"a": 2}\r\n'
                     b'   \n'
                     b'{"a": 3}')
    records = read(path)
    assert [(r.row, r.data) for r in records if r.ok] == [(1, {"a": 1}), (6, {"a": 2}), (8, {"a": 3})]
    failed = [r for r in records if not r.ok]
    assert [r.row for r in failed] == [3, 4, 5]
    assert failed[0].error.startswith("line 3: invalid JSON at column 2: ") and failed[0].raw == "{bad json}"
    assert failed[1].error == "line 4: expected a JSON object, found an array"
    assert failed[2].error == "line 5: invalid UTF-8 (byte 0xe9 at column 11)"
    assert count_records(path) == 6


def test_json_whole_file_errors(tmp_path):
    cases = {
        b"": "empty",
        b"not json at all": "not valid JSON",
        b'{"results": [{"a": 1}], "paging": {}}': "an object, not an array of objects .*results, paging",
        b"42": "a number, not an array",
    }
    for content, message in cases.items():
        path = tmp_path / "x.json"
        path.write_bytes(content)
        with pytest.raises(FileFormatError, match=message):
            iter_records(path)
    path.write_bytes(b'[{"a": 1}, 2, [3], {"a": 4}]')
    records = read(path)
    assert [(r.row, r.error) for r in records] == [
        (1, None), (2, "item 2: expected a JSON object, found a number"),
        (3, "item 3: expected a JSON object, found an array"), (4, None)]


def test_naughty_strings_round_trip_through_csv(corpus, tmp_path):
    strings = json.loads((corpus / "naughty-strings" / "blns.json").read_text("utf-8"))
    path = tmp_path / "naughty.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "value"])
        for i, s in enumerate(strings):
            writer.writerow([i, s])
    records = read(path)
    assert [r.data for r in records] == [{"id": str(i), "value": s} for i, s in enumerate(strings)]
    assert count_records(path) == len(strings)
    rows = [r.row for r in records]
    assert rows == sorted(rows) and rows[0] == 2


def test_binary_files_are_refused(corpus, tmp_path):
    blob = tmp_path / "blob.csv"
    blob.write_bytes(random.Random(0).randbytes(20000))
    with pytest.raises(FileFormatError, match="binary"):
        iter_records(blob)
    with pytest.raises(FileFormatError, match="ZIP archive"):
        iter_records(corpus / "frictionless-data" / "table.xlsx", "csv")
    with pytest.raises(FileFormatError, match="not an .xlsx workbook"):
        iter_records(corpus / "frictionless-data" / "table.csv", "xlsx")


def test_undecodable_byte_after_the_sample_does_not_crash(tmp_path):
    path = tmp_path / "late.csv"
    body = b"".join(b"%d,plain ascii row\n" % i for i in range(10000))  # > 64 KiB sample
    path.write_bytes(b"id,name\n" + body + b"10000,caf\xe9\n10001,na\xefve \xe2\x9c\x93\n")
    with iter_records(path) as records:
        rows = list(records)
        assert records.encoding == "utf-8"
    assert rows[-2].data == {"id": "10000", "name": "café"}  # the stray cp1252 byte
    assert rows[-1].data == {"id": "10001", "name": "naïve ✓"}
    assert len(rows) == 10002


def test_utf16_without_bom_and_cp1252(tmp_path):
    path = tmp_path / "u16.csv"
    path.write_bytes("id;name\r\n1;Zoë\r\n".encode("utf-16-le"))
    with iter_records(path) as records:
        assert data(list(records)) == [{"id": "1", "name": "Zoë"}]
        assert records.encoding == "utf-16-le" and records.delimiter == ";"
    path.write_bytes("id|name\n1|€ “quoted” naïve\n".encode("cp1252"))
    assert data(read(path)) == [{"id": "1", "name": "€ “quoted” naïve"}]


def test_huge_field(tmp_path):
    big = "x" * (2 * 1024 * 1024)  # far above csv's default 128 Ki field limit
    path = tmp_path / "big.csv"
    path.write_text(f'id,note\n1,"{big}"\n2,small\n', encoding="utf-8")
    assert data(read(path)) == [{"id": "1", "note": big}, {"id": "2", "note": "small"}]


def test_header_options(corpus, tmp_path):
    path = corpus / "csvkit-examples" / "dummy.csv"
    assert data(read(path, header_rows=0)) == [{"col_0": "a", "col_1": "b", "col_2": "c"},
                                               {"col_0": "1", "col_1": "2", "col_2": "3"}]
    assert data(read(path, columns=["x", "y", "z"])) == [{"x": "1", "y": "2", "z": "3"}]
    assert data(read(path, header_rows=0, columns=["x", "y", "z"]))[0] == {"x": "a", "y": "b", "z": "c"}
    with pytest.raises(FileFormatError, match="columns= gives 2 names"):
        iter_records(path, columns=["x", "y"])
    dup = tmp_path / "dup.csv"
    dup.write_text("Name,name,Name, ,\tName\n1,2,3,4,5\n", encoding="utf-8")
    with iter_records(dup) as records:
        list(records)
        assert records.columns == ["Name", "name", "Name_2", "column_4", "Name_3"]


def test_normalize_headers():
    assert normalize_headers(["\ufeffid", " a\tb ", None, 2019, 1.0, "a b", "\x00x\x1b"]) == [
        "id", "a b", "column_3", "2019", "1", "a b_2", "x"]


def test_file_objects_and_bytes(corpus):
    raw = (corpus / "frictionless-data" / "table.csv").read_bytes()
    assert values(read(io.BytesIO(raw), name="upload.csv")) == TABLE
    assert values(read(raw, "csv")) == TABLE

    class Pipe(io.RawIOBase):  # not seekable, returns short reads
        def __init__(self, data):
            self._data = data

        def readable(self):
            return True

        def readinto(self, b):
            n = min(len(b), 3, len(self._data))
            b[:n], self._data = self._data[:n], self._data[n:]
            return n

    assert values(read(Pipe(raw), "csv")) == TABLE
    xlsx = (corpus / "frictionless-data" / "table.xlsx").read_bytes()
    assert values(read(Pipe(xlsx), "xlsx")) == TABLE
    with pytest.raises(ValueError, match="pass fmt= or name="):
        iter_records(io.BytesIO(raw))
    with open(corpus / "frictionless-data" / "table.csv", encoding="utf-8") as text_mode:
        with pytest.raises(TypeError, match="binary"):
            iter_records(text_mode)


def test_open_binary(tmp_path):
    plain = tmp_path / "a.txt"
    plain.write_bytes(b"hello")
    with open_binary(plain) as f:
        assert f.read() == b"hello"
    zipped = tmp_path / "a.bin"
    zipped.write_bytes(gzip.compress(b"hello gz"))
    with open_binary(zipped) as f:
        assert f.read() == b"hello gz"
    with open(zipped, "rb") as src:
        with open_binary(src) as f:
            assert f.read() == b"hello gz"
        assert not src.closed  # a file object passed in is not ours to close


def test_detect_format():
    assert detect_format("a.CSV") == "csv"
    assert detect_format("s3://b/k/a.csv.gz") == "csv"
    assert detect_format("x.tsv") == detect_format("x.tab") == "tsv"
    assert detect_format("x.jsonl") == detect_format("x.ndjson.gz") == "ndjson"
    assert detect_format("x.json") == "json"
    assert detect_format("https://h/x.xlsx?sig=1") == "xlsx"
    with pytest.raises(ValueError, match="legacy .xls"):
        detect_format("x.xls")
    with pytest.raises(ValueError, match="unknown file format"):
        detect_format("x.parquet")


def test_xlsx_ragged_and_short_rows(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["id", "name", None])
    ws.append([1, "a"])
    ws.append([None, None, None])
    ws.append([2, "b", None, "note"])
    ws.append([3])
    path = tmp_path / "t.xlsx"
    wb.save(path)
    records = read(path)
    assert [(r.row, r.data, r.error) for r in records] == [
        (2, {"id": 1, "name": "a"}, None),
        (4, None, "row 4: expected 2 columns, found 4"),
        (5, {"id": 3, "name": None}, None),
    ]


def test_streaming_memory_is_bounded(tmp_path):
    path = tmp_path / "big.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8", newline="") as f:
        f.write("id,email,note\n")
        for i in range(100_000):
            f.write(f'{i},user{i}@example.com,"line one\nline two {i}"\n')
    tracemalloc.start()
    try:
        n = 0
        for record in iter_records(path):
            assert record.ok
            n += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n == 100_000
    assert peak < 8 * 1024 * 1024, peak  # the decompressed file is ~5 MB; we hold a window


def test_truncated_gzip_is_a_file_format_error(tmp_path):
    path = tmp_path / "cut.csv.gz"
    full = gzip.compress(b"id,name\n" + b"".join(b"%d,row %d\n" % (i, i) for i in range(50000)))
    path.write_bytes(full[: len(full) // 2])
    records = iter_records(path)
    with pytest.raises(FileFormatError, match="cut.csv.gz: the compressed data is truncated or corrupt"):
        for record in records:
            assert record.ok
    with pytest.raises(TypeError, match="unexpected options: shet"):
        count_records(path, shet="x")


# -- the bulk path (RecordIterator.cell_rows) gives what the records give ----------------------

def _as_cell_rows(path, **kw):
    """What cell_rows must yield, derived from the records (the reference path)."""
    with iter_records(path, **kw) as records:
        width = len(records.columns or ())
        return [(r.row, r.raw, r.error) if r.error is not None else
                (r.row, r.raw if isinstance(r.raw, list) and len(r.raw) >= width else list(r.data.values()), None)
                for r in records]


def _cell_rows(path, **kw):
    with iter_records(path, **kw) as records:
        return list(records.cell_rows())


_TRICKY = {
    "crlf_quoted.csv": b'id,note\r\n1,"two\r\nlines"\r\n2,plain\r\n\r\n3,"x\ry"\r\n',
    "cr_only.csv": b"id,note\r1,a\r2,b\r\r3,c\r",
    "ragged_nul.csv": b"id,a,b\n1,x,y\n2,x\n3,x,y,,\n4,x,y,z\n5,x\x00y,z\n,,\n6, ,\n",
    "bom_semicolon.csv": "\ufeffid;name\n1;José\n2;\"a;b\"\n".encode("utf-8"),
    "utf16_tab.tsv": "id\tname\r\n1\tZoë\r\n2\t\"q\tq\"\r\n".encode("utf-16"),
    "latin1.csv": "id,name\n1,Fran\xe7ois\n2,M\xfcller\n".encode("latin-1"),
    "no_final_newline.csv": b"id,note\n1,a\n2,\"open\nquote",
}


@pytest.mark.parametrize("chunk", [None, 1, 3, 7])
def test_cell_rows_match_the_records(tmp_path, testdata, monkeypatch, chunk):
    """Every CSV/TSV of the corpora and the tricky inputs above (CRLF and CR line ends,
    quoted newlines, ragged rows, NUL, BOM, UTF-16, Latin-1, ``;``/TAB), read in chunks small
    enough to cut a CRLF, a quoted field and a multi-byte character: same rows, cells,
    errors as the records."""
    from ingestion_pipelines.engine.readers import csv_files

    if chunk:
        monkeypatch.setattr(csv_files, "TEXT_CHUNK_CHARS", chunk)
    paths = []
    for name, content in _TRICKY.items():
        (tmp_path / name).write_bytes(content)
        paths.append(tmp_path / name)
    if chunk in (None, 7):
        paths += sorted(p for p in testdata.rglob("*") if p.suffix.lower() in (".csv", ".tsv") and p.stat().st_size < 200_000)
    compared = 0
    for p in paths:
        try:
            expected = _as_cell_rows(p)
        except (FileFormatError, ValueError, UnicodeError):
            continue
        assert _cell_rows(p) == expected, p
        compared += 1
    assert compared >= len(_TRICKY)


def test_cell_rows_of_other_formats_match_the_records(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["id", "name", "when"])
    ws.append([1, "a", datetime(2024, 1, 2)])
    ws.append([2])
    ws.append([3, "c", None, "extra"])
    wb.save(tmp_path / "t.xlsx")
    (tmp_path / "t.ndjson").write_text('{"id": 1}\nnot json\n{"id": 2, "x": "y"}\n')
    for p in (tmp_path / "t.xlsx", tmp_path / "t.ndjson"):
        assert _cell_rows(p) == _as_cell_rows(p)
