"""COPY text encoding, tested as one: the row-wise encoder (copytext.copy_value) and its
vectorised form (columnar's Arrow renderer) give the same text, and every value that needs
escaping is left by the vectorised form to the row-wise one."""

import datetime as dt
import json

import pytest

from ingestion_pipelines.engine.columnar import ColumnarParser
from ingestion_pipelines.engine.copytext import COPY_NULL, COPY_SPECIALS, CopyLines, copy_escape, copy_value


def test_copy_value_rules():
    assert copy_value(None) == COPY_NULL == "\\N"
    assert copy_value("a\tb\nc\rd\\e") == "a\\tb\\nc\\rd\\\\e"
    assert copy_value("\\N") == "\\\\N"  # a literal backslash-N is not NULL
    assert (copy_value(True), copy_value(False), copy_value(7)) == ("t", "f", "7")
    assert copy_value(dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)) == "2026-01-02T03:04:05+00:00"
    assert copy_value({"a": "x\ty"}) == '{"a": "x\\\\ty"}'
    for bad in ("a\x00b", b"x\x00".decode()):
        with pytest.raises(ValueError):
            copy_value(bad)
    assert set(COPY_SPECIALS) == {"\\", "\t", "\n", "\r"} and copy_escape("plain") == "plain"


def test_copy_lines_stream():
    data = CopyLines(["a\tb", "c\td"], suffix="\tz", rows_per_read=1)
    assert b"".join(iter(lambda: data.read(), b"")) == b"a\tb\tz\nc\td\tz\n"


def test_columnar_renders_what_copy_value_renders():
    fields = [("id", "id", True), ("name", "str", False), ("n", "int", False), ("ok", "bool", False)]
    records = [{"id": "a1", "name": "Ann", "n": 3, "ok": True}, {"id": "a2", "name": None, "ok": False},
               {"id": "a3", "name": "tab\there", "n": 1}, {"id": "a4", "name": "back\\slash"},
               {"id": "a5", "name": "new\nline"}, {"id": "a6", "name": "ünï ©", "n": -5, "ok": None}]
    data = b"".join(json.dumps(r).encode() + b"\n" for r in records)
    block = ColumnarParser(fields).parse(data, len(records))
    assert block.rejected == [2, 3, 4]  # the values that need escaping go to the row-wise path
    expected = ["\t".join(copy_value(r.get(f)) for f, _, _ in fields) for i, r in enumerate(records) if i not in (2, 3, 4)]
    assert block.text.decode().splitlines() == expected
