"""engine.result_files: CSV/XLSX result files with formula neutralisation, local and S3."""

import datetime as dt

import pytest

from ingestion_pipelines.engine.result_files import ResultFileWriter, neutralise, read_back, write_rows

HEADER = ["name", "email", "import_error"]
ROWS = [
    ["=HYPERLINK(\"http://evil\")", "a@x.com", "bad"],
    ["+1", "-2", "@SUM(A1)"],
    {"name": "Zoë", "email": None, "import_error": "ok"},
    ["short"],
    [-5, 3.5, dt.date(2024, 1, 2)],
]


def test_neutralise():
    assert neutralise("=1+1") == "'=1+1"
    assert neutralise("a=b") == "a=b"
    assert neutralise(-5) == -5
    assert neutralise(None) is None


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_write_rows_local(local_store, fmt):
    uri = write_rows(local_store, f"results/out.{fmt}", HEADER, iter(ROWS), fmt)
    assert uri.startswith("file://")
    rows = read_back(local_store.get_bytes(f"results/out.{fmt}"), fmt)
    assert rows[0] == HEADER
    assert rows[1][0] == "'=HYPERLINK(\"http://evil\")"
    assert rows[2] == ["'+1", "'-2", "'@SUM(A1)"]
    assert rows[3][0] == "Zoë"
    assert rows[4][0] == "short"
    if fmt == "csv":
        assert rows[5] == ["-5", "3.5", "2024-01-02"]
    else:
        assert rows[5][0] == -5 and rows[5][1] == 3.5


def test_write_rows_s3(s3_store):
    uri = write_rows(s3_store, "results/out.xlsx", HEADER, ROWS, "xlsx")
    assert uri == f"s3://{s3_store.bucket}/landing/results/out.xlsx"
    assert read_back(s3_store.get_bytes("results/out.xlsx"), "xlsx")[1][0].startswith("'=")


def test_writer_discard_and_bad_format(tmp_path):
    with pytest.raises(ValueError):
        ResultFileWriter(HEADER, "pdf")
    w = ResultFileWriter(HEADER, "csv", temp_dir=str(tmp_path / "t"))
    w.write(["x", "\x01y", "z"])
    w.discard()
    assert not w.path.exists()


def test_tab_cr_and_full_width_formula_prefixes_are_neutralised(local_store):
    from ingestion_pipelines.engine.result_files import neutralise, read_back, write_rows

    risky = ["\t=1+1", "\r=1+1", "\uff1dSUM(A1)", "\uff0b1", "\uff0d1", "\uff20x"]
    assert all(neutralise(x) == "'" + x for x in risky)
    uri = write_rows(local_store, "r/risky.csv", ["v"], [[x] for x in risky], "csv")
    rows = read_back(local_store.get_bytes(local_store.key_from_uri(uri)), "csv")
    assert [r[0] for r in rows[1:]] == ["'" + x for x in risky]
