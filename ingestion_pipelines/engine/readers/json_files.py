"""NDJSON and JSON files: :class:`JsonReader`.

NDJSON is streamed line by line (one JSON object per line; a bad line is a failed record).
A JSON array is parsed whole with orjson (the seed fixtures' format; such files are small):
an array of objects, or an array of arrays whose first array is the header (frictionless'
``table.json``). A ``.json`` file that is really NDJSON is read as NDJSON. JSON must be UTF-8
(RFC 8259).
"""

from __future__ import annotations

import codecs
import itertools
from typing import Any, Callable, Iterator

import orjson

from .opening import open_binary
from .records import FileFormatError, RecordIterator, SourceRecord
from .tables import blank, check_columns, fitted_record, normalize_headers


class JsonReader:
    """One NDJSON or JSON file (``fmt`` ``'ndjson'`` or ``'json'``). A JSON array is parsed
    here, so a file that is not JSON, or JSON that is not an array, raises
    :class:`FileFormatError` at :func:`iter_records` time; so does a UTF-16/32 file."""

    def __init__(self, source: Any, fmt: str, *, name: str | None, columns: list[str] | None) -> None:
        self.name = name
        where = f"{name}: " if name else ""
        self.format, payload, self.close = _open_json(source, fmt, where)
        self.columns: list[str] | None = None
        if self.format == "ndjson":
            self._lines: Iterator[tuple[int, bytes]] = payload
            self._records = _ndjson_records(payload)
        else:
            self.columns, self._records = _json_array(payload, columns, where)

    def iterator(self) -> RecordIterator:
        """The records as the :class:`RecordIterator` that owns this reader."""
        return RecordIterator(self.format, self._records, self.close, columns=self.columns,
                              name=self.name)

    def count(self) -> int:
        """How many records there are (NDJSON: non-blank lines, not parsed)."""
        if self.format == "ndjson":
            return sum(1 for _, line in self._lines if line.strip())
        return sum(1 for _ in self._records)


def _open_json(source: Any, fmt: str, where: str) -> tuple[str, Any, Callable[[], None]]:
    """("ndjson", numbered lines, close) or ("json", the whole content, no-op close).

    A ``.json`` file whose first two non-blank lines are each a JSON object on its own is
    NDJSON in disguise (csvkit's ``testjson_multiline.json``); only those lines are read to
    decide, so a large NDJSON file is still streamed.
    """
    f = open_binary(source)
    try:
        _refuse_non_utf8_json(f.peek(4)[:4], where)
        if fmt == "ndjson":
            return "ndjson", _numbered_lines(f), f.close
        consumed, objects = _leading_objects(f)
        if objects == 2:
            return "ndjson", _numbered_lines(f, consumed), f.close
        data = b"".join(consumed) + f.read()
    except BaseException:
        f.close()
        raise
    f.close()
    return "json", data, lambda: None


def _leading_objects(f: Any) -> tuple[list[bytes], int]:
    """(the lines read, how many of them are a JSON object on their own): reads until two
    object lines, or the first line that is not one."""
    consumed: list[bytes] = []
    objects = 0
    while objects < 2:
        line = f.readline()
        if not line:
            break
        consumed.append(line)
        s = line.strip()
        if len(consumed) == 1 and s.startswith(codecs.BOM_UTF8):
            s = s[len(codecs.BOM_UTF8):].strip()
        if not s:
            continue
        if not s.startswith(b"{"):
            break
        try:
            if not isinstance(orjson.loads(s), dict):
                break
        except orjson.JSONDecodeError:
            break
        objects += 1
    return consumed, objects


def _json_array(data: bytes, columns: list[str] | None, where: str
                ) -> tuple[list[str] | None, Iterator[SourceRecord]]:
    """(columns or None, records) of a JSON array document."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    if not data.strip():
        raise FileFormatError(f"{where}the file is empty: expected a JSON array of objects")
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise FileFormatError(f"{where}not valid JSON: {exc}") from exc
    if isinstance(doc, dict):
        keys = ", ".join(list(doc)[:10])
        raise FileFormatError(
            f"{where}the JSON document is an object, not an array of objects "
            f"(its keys: {keys or 'none'})")
    if not isinstance(doc, list):
        raise FileFormatError(f"{where}the JSON document is {_json_type(doc)}, not an array of objects")
    given = check_columns(columns)
    if doc and isinstance(doc[0], list) and doc[0] and all(isinstance(c, str) for c in doc[0]):
        if given is not None and len(given) != len(doc[0]):
            raise FileFormatError(f"{where}columns= gives {len(given)} names but the header array has "
                                  f"{len(doc[0])}")
        keys_ = given if given is not None else normalize_headers(doc[0])
        return keys_, _table_records(doc, keys_)
    return None, _object_records(doc)


def _object_records(items: list[Any]) -> Iterator[SourceRecord]:
    for i, item in enumerate(items, start=1):
        if isinstance(item, dict):
            yield SourceRecord(i, item, None, None)
        else:
            yield SourceRecord(i, None, f"item {i}: expected a JSON object, found {_json_type(item)}", item)


def _table_records(items: list[Any], keys: list[str]) -> Iterator[SourceRecord]:
    """The records of an array of arrays after its header array ``items[0]``."""
    for i, item in enumerate(items[1:], start=2):
        if not isinstance(item, list):
            yield SourceRecord(i, None, f"item {i}: expected an array, found {_json_type(item)}", item)
        elif not blank(item):
            yield fitted_record(i, item, keys, f"item {i}", pad=False)


def _ndjson_records(lines: Iterator[tuple[int, bytes]]) -> Iterator[SourceRecord]:
    for lineno, line in lines:
        s = line.strip()
        if not s:
            continue
        try:
            obj = orjson.loads(s)
        except orjson.JSONDecodeError as exc:
            yield _bad_line(lineno, s, exc)
            continue
        if isinstance(obj, dict):
            yield SourceRecord(lineno, obj, None, None)
        else:
            yield SourceRecord(lineno, None, f"line {lineno}: expected a JSON object, found {_json_type(obj)}",
                               s.decode("utf-8"))


def _bad_line(lineno: int, s: bytes, exc: orjson.JSONDecodeError) -> SourceRecord:
    """The failed record of an NDJSON line orjson refused: invalid UTF-8 or invalid JSON."""
    try:
        text = s.decode("utf-8")
    except UnicodeDecodeError as uexc:
        return SourceRecord(
            lineno, None,
            f"line {lineno}: invalid UTF-8 (byte 0x{s[uexc.start]:02x} at column {uexc.start + 1})",
            s.decode("utf-8", "replace"))
    return SourceRecord(lineno, None, f"line {lineno}: invalid JSON at column {exc.colno}: {exc.msg}", text)


def _numbered_lines(f: Any, first: list[bytes] | None = None) -> Iterator[tuple[int, bytes]]:
    n = 0
    for line in itertools.chain(first or (), f):
        n += 1
        if n == 1 and line.startswith(codecs.BOM_UTF8):
            line = line[len(codecs.BOM_UTF8):]
        yield n, line


def _refuse_non_utf8_json(head: bytes, where: str) -> None:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or (len(head) >= 2 and 0 in head[:2]):
        raise FileFormatError(f"{where}JSON must be UTF-8 (RFC 8259); this file is UTF-16/32")


def _json_type(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"
