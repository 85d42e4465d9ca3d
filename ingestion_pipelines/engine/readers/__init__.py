"""Streaming record readers: CSV / TSV / NDJSON / JSON / XLSX, gzip, encodings (DESIGN.md §2 "read").

:func:`iter_records` turns one input file into a stream of :class:`SourceRecord`: one per data
row, either with ``data`` (header -> value) or, when that one row cannot be read, with
``error`` (and the ``raw`` cells or line, for the failed-rows file); a file that cannot be read
at all raises :class:`FileFormatError` when :func:`iter_records` is called. Memory is bounded
whatever the file size (the one exception is a JSON array, parsed whole), gzip is recognised
by content, and the readers never change a value: stripping, null tokens and type conversion
belong to :mod:`ingestion_pipelines.engine.validate`. Nothing here knows a source by name; the
rules come from public corpora (``../shared/testdata``, see the tests).

Modules: :mod:`.records` (the record, iterator and error types), :mod:`.opening` (format from
the name, opening and gunzipping), :mod:`.encodings` (CSV text encodings), :mod:`.tables`
(headers and rows shared by the tabular formats), :mod:`.csv_files`, :mod:`.xlsx_files`,
:mod:`.json_files` (one reader class per format).
"""

from __future__ import annotations

from typing import Any

from .csv_files import CsvReader
from .json_files import JsonReader
from .opening import FORMATS, detect_format, name_of, open_binary, resolve_format
from .records import FileFormatError, RecordIterator, SourceRecord
from .tables import normalize_headers
from .xlsx_files import XlsxReader

__all__ = [
    "FileFormatError",
    "FORMATS",
    "RecordIterator",
    "SourceRecord",
    "count_records",
    "detect_format",
    "iter_records",
    "normalize_headers",
    "open_binary",
]


def iter_records(source: Any, fmt: str | None = None, *, name: str | None = None,
                 encoding: str | None = None, delimiter: str | None = None, header_rows: int = 1,
                 sheet: str | int | None = None, columns: list[str] | None = None) -> RecordIterator:
    """Stream the records of one file as :class:`SourceRecord`, in file order.

    ``source``: a path, ``bytes``, or a binary file object (never closed by us; gzip is
    detected by content). ``fmt``: one of :data:`FORMATS` (``'jsonl'`` = ``'ndjson'``), else
    :func:`detect_format` on ``name`` or the path / file object's name. ``name`` is also used
    in :class:`FileFormatError` messages.

    CSV/TSV: ``encoding`` overrides detection; ``delimiter`` overrides sniffing (TSV is
    ``'\\t'``); ``header_rows=N`` skips N-1 physical lines and takes the next non-blank record
    as the header (the seed 003 option; ``0`` = no header: keys ``col_0``, ``col_1`` ... as in
    seed 003's failed-rows file); ``columns`` replaces the header names (it must have as many
    names as the header has columns). Blank lines, and rows whose cells are all empty
    (``,,,``), are skipped. A row with a different number of cells is a failed record
    ``"row N: expected X columns, found Y"`` (extra *empty* trailing cells are fine).
    XLSX: ``sheet`` (name or 0-based index; default the first worksheet), ``header_rows`` and
    ``columns`` as for CSV, counted in sheet rows; empty rows skipped; cached formula values
    (``data_only``); short rows padded with ``None``; a non-empty cell past the header is a
    failed record like a ragged CSV row.
    NDJSON: one JSON object per line; a bad line (invalid JSON or UTF-8, or not an object) is a
    failed record with its line number. JSON: an array of objects (a non-object element is a
    failed record ``"item N: ..."``), or an array of arrays whose first array is the header
    (frictionless' ``table.json``); a ``.json`` file that is really NDJSON (first two lines
    are objects on their own, as csvkit's ``testjson_multiline.json``) is read as NDJSON.

    Returns a :class:`RecordIterator`. Raises, before the first record: :class:`FileFormatError`
    (unreadable file), ``ValueError`` (unknown format, bad arguments), ``OSError``.
    """
    return _open_reader(source, fmt, name=name, encoding=encoding, delimiter=delimiter,
                        header_rows=header_rows, sheet=sheet, columns=columns).iterator()


def count_records(source: Any, fmt: str | None = None, **options: Any) -> int:
    """How many records :func:`iter_records` (same arguments) will yield, failed ones
    included: for a progress percentage (seed 003's ``count_total_first``).

    Cheaper than iterating: CSV rows are parsed but no dicts are built, NDJSON lines are
    counted without JSON parsing (a non-blank line is a record), XLSX rows are counted from
    cell values. Reads the whole source, so pass a path (a file object would be consumed).
    Raises what :func:`iter_records` raises.
    """
    unknown = set(options) - {"name", "encoding", "delimiter", "header_rows", "sheet", "columns"}
    if unknown:
        raise TypeError(f"count_records() got unexpected options: {', '.join(sorted(unknown))}")
    reader = _open_reader(source, fmt, **options)
    try:
        return reader.count()
    finally:
        reader.close()


def _open_reader(source: Any, fmt: str | None, *, name: str | None = None,
                 encoding: str | None = None, delimiter: str | None = None, header_rows: int = 1,
                 sheet: str | int | None = None,
                 columns: list[str] | None = None) -> CsvReader | XlsxReader | JsonReader:
    """The reader of ``source``'s format, set up (header read), for both entry points."""
    if header_rows < 0:
        raise ValueError("header_rows must be >= 0")
    fmt = resolve_format(source, fmt, name)
    label = name or name_of(source)
    if fmt in ("csv", "tsv"):
        return CsvReader(source, fmt, name=label, encoding=encoding, delimiter=delimiter,
                         header_rows=header_rows, columns=columns)
    if fmt == "xlsx":
        return XlsxReader(source, name=label, sheet=sheet, header_rows=header_rows, columns=columns)
    return JsonReader(source, fmt, name=label, columns=columns)
