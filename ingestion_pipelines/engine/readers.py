"""Streaming record readers: CSV / TSV / NDJSON / JSON / XLSX, gzip, encodings (DESIGN.md §2 "read").

Every reader turns one input file into a stream of :class:`SourceRecord`: one per data row,
either with ``data`` (header -> value) or, when that one row cannot be read, with ``error``
(and the ``raw`` cells or line, for the failed-rows file). A file that cannot be read at all
raises :class:`FileFormatError` when :func:`iter_records` is called. Nothing here knows a source
by name; the rules come from public corpora (``../shared/testdata``, see the tests):

* memory is bounded whatever the file size: CSV, TSV and NDJSON are read line by line, XLSX
  row by row (openpyxl read-only mode). The one exception is a JSON array, which is parsed
  whole with orjson (that is the seed fixtures' format, and such files are small);
* gzip is recognised by its magic bytes ``1f 8b`` (not by the file name) for every format;
* CSV text encodings: a BOM decides (UTF-8, UTF-16 LE/BE, UTF-32); BOM-less UTF-16 is
  recognised by its pattern of NUL bytes; otherwise a 64 KiB sample is tried as UTF-8, then
  cp1252, then latin-1 (which always succeeds). A byte that does not decode later in the
  file never crashes the read: it is decoded as its cp1252 character (latin-1 for the five
  bytes cp1252 leaves undefined), which is what a stray Windows-1252 byte in a UTF-8 export
  almost always is. The row is kept (not failed) because it loses no information;
* CSV rows are numbered by the physical line where they start (header counted), so
  "row 7" points at line 7 of the file in any text editor, whatever the line endings.

The readers never change a value: stripping, null tokens and type conversion belong to
:mod:`ingestion_pipelines.engine.validate`. The only exceptions are header cells (see
:func:`normalize_headers`) and NUL characters in CSV text, which are removed because no
warehouse text column (PostgreSQL ``text``) can store U+0000.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import itertools
import os
import re
import shutil
import tempfile
import warnings
import zlib
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, BinaryIO, Callable, Iterator

import orjson

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

#: The formats :func:`iter_records` reads.
FORMATS = ("csv", "tsv", "ndjson", "json", "xlsx")

#: Bytes sampled at the start of a CSV file for encoding and delimiter detection.
SAMPLE_BYTES = 64 * 1024

#: Largest CSV field accepted, in characters (``csv.field_size_limit``; the stdlib default of
#: 128 Ki characters is too small for real exports with long notes). Kept finite so that an
#: unbalanced quote cannot make one "field" swallow a multi-gigabyte file into memory.
MAX_FIELD_CHARS = 256 * 1024 * 1024

#: Delimiters tried when sniffing CSV (in order of preference on a tie).
CANDIDATE_DELIMITERS = (",", "\t", ";", "|")

_GZIP_MAGIC = b"\x1f\x8b"
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # legacy .xls (and .doc, .msg)

_EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".json": "json",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
}

_BINARY_MAGICS = (
    (_ZIP_MAGIC, "a ZIP archive (an .xlsx workbook?)"),
    (_OLE_MAGIC, "an OLE2 file (a legacy .xls workbook?)"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"PAR1", "a Parquet file"),
    (b"BZh", "a bzip2 archive"),
    (b"\xfd7zXZ", "an xz archive"),
    (b"SQLite format 3", "an SQLite database"),
)
# C0 control bytes that do not occur in text (everything below 0x20 except \t \n \v \f \r) + DEL.
_CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 11, 12, 13)) + b"\x7f"

csv.field_size_limit(max(csv.field_size_limit(), MAX_FIELD_CHARS))
# openpyxl warns about every workbook extension it does not model (data validation lists,
# slicers ...) while it parses rows; the values it returns are unaffected.
warnings.filterwarnings("ignore", message="Unknown extension is not supported", category=UserWarning)


# --------------------------------------------------------------------------------------------
# decoding fallback
# --------------------------------------------------------------------------------------------

def _byte_to_char(b: int) -> str:
    try:
        return bytes([b]).decode("cp1252")
    except UnicodeDecodeError:
        return chr(b)  # latin-1 for 0x81 0x8d 0x8f 0x90 0x9d


_CP1252_FALLBACK = [_byte_to_char(b) for b in range(256)]
_ERRORS = "ingest-cp1252-fallback"


def _cp1252_fallback(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start:exc.end]
    return "".join(_CP1252_FALLBACK[b] for b in bad), exc.end


codecs.register_error(_ERRORS, _cp1252_fallback)


# --------------------------------------------------------------------------------------------
# public types
# --------------------------------------------------------------------------------------------

class FileFormatError(ValueError):
    """The whole file cannot be read: not JSON at all, JSON that is not an array of objects,
    an empty file with no header, a binary file passed as CSV, a corrupt workbook, a missing
    sheet. The message is human readable and names the file when its name is known; it goes
    as is into ``ingest_files.error`` (DESIGN.md §9)."""


@dataclass(frozen=True)
class SourceRecord:
    """One record read from an input file.

    ``row``: 1-based position of the record in the file. For CSV/TSV the physical line where
    the record starts, header line(s) counted (a record with a quoted newline spans several
    lines; blank lines are counted but yield no record); for XLSX the sheet row number; for
    NDJSON the line number; for a JSON array the 1-based index of the element.
    ``data``: header -> value, or ``None`` when the record could not be read. Values are
    ``str`` for CSV/TSV (never stripped or converted, so leading zeros survive), native JSON
    types for JSON/NDJSON, openpyxl cell values for XLSX (``str``, ``int``, ``float``,
    ``bool``, ``datetime`` ... or ``None`` for an empty cell).
    ``error``: why the record could not be read, prefixed with where, e.g.
    ``"row 4: expected 3 columns, found 4"`` or ``"line 7: invalid JSON: ..."``.
    ``raw``: what was read, for the failed-rows file (original columns + error): the list of
    cells as read (CSV/TSV/XLSX/JSON array-of-arrays; set on good records too, since a row
    can still fail validation later), or for a failed NDJSON/JSON record the line text or
    the JSON element (a good object record's ``data`` is already its original form).
    """

    row: int
    data: dict[str, Any] | None
    error: str | None
    raw: Any = None

    @property
    def ok(self) -> bool:
        """True when the record was read (``data`` is set, ``error`` is None)."""
        return self.error is None


class RecordIterator(Iterator[SourceRecord]):
    """The iterator :func:`iter_records` returns: an ``Iterator[SourceRecord]`` that also
    tells what was detected, and owns the open file.

    Attributes: ``format`` (one of :data:`FORMATS`), ``columns`` (the normalised header names
    for CSV/TSV/XLSX/JSON-array-of-arrays; ``None`` for objects, whose keys vary per record),
    ``encoding`` and ``delimiter`` (CSV/TSV only, else ``None``), ``sheet`` (XLSX: the title
    of the sheet read). Use it as a context manager, or call :meth:`close`, to release the
    file before the end of iteration; it closes itself once exhausted.
    """

    def __init__(self, fmt: str, records: Iterator[SourceRecord], close: Callable[[], None], *,
                 columns: list[str] | None = None, encoding: str | None = None,
                 delimiter: str | None = None, sheet: str | None = None,
                 name: str | None = None) -> None:
        self.format = fmt
        self.name = name
        self.columns = columns
        self.encoding = encoding
        self.delimiter = delimiter
        self.sheet = sheet
        self._records = records
        self._close = close
        self._closed = False

    def __iter__(self) -> "RecordIterator":
        return self

    def __next__(self) -> SourceRecord:
        if self._closed:
            raise StopIteration
        try:
            return next(self._records)
        except StopIteration:
            self.close()
            raise
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            # a truncated or corrupt .gz is only found when the reading gets there
            self.close()
            where = f"{self.name}: " if self.name else ""
            raise FileFormatError(f"{where}the compressed data is truncated or corrupt: {exc}") from exc
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Release the underlying file (idempotent)."""
        if not self._closed:
            self._closed = True
            try:
                close_gen = getattr(self._records, "close", None)
                if close_gen is not None:
                    close_gen()
            finally:
                self._close()

    def __enter__(self) -> "RecordIterator":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:
            pass


# --------------------------------------------------------------------------------------------
# format detection and opening
# --------------------------------------------------------------------------------------------

def detect_format(name: str) -> str:
    """The format of a file from its name: ``'csv'``, ``'tsv'``, ``'ndjson'``, ``'json'`` or
    ``'xlsx'``.

    A trailing ``.gz`` is ignored (``a.csv.gz`` -> ``'csv'``), case does not matter, a URL's
    query string is ignored. Extensions: ``.csv``; ``.tsv``/``.tab``; ``.ndjson``/``.jsonl``;
    ``.json``; ``.xlsx``/``.xlsm``. Raises ``ValueError`` for anything else (a legacy ``.xls``
    gets its own message: openpyxl cannot read it).
    """
    base = str(name).split("?", 1)[0].split("#", 1)[0]
    base = PurePosixPath(base.replace("\\", "/")).name.lower()
    if base.endswith(".gz"):
        base = base[:-3]
    suffix = PurePosixPath(base).suffix
    if suffix in _EXTENSIONS:
        return _EXTENSIONS[suffix]
    if suffix == ".xls":
        raise ValueError(f"{name}: legacy .xls workbooks are not supported; save it as .xlsx")
    raise ValueError(
        f"{name}: unknown file format {suffix or '(no extension)'!r}; expected one of "
        ".csv, .tsv, .tab, .ndjson, .jsonl, .json, .xlsx, .xlsm (optionally .gz)"
    )


class _RawReader(io.RawIOBase):
    """A raw, read-only stream over ``inner`` (anything with ``read``), after ``prefix``.

    ``readinto`` fills the buffer as far as the data goes, so a ``BufferedReader`` on top of
    it can ``peek`` a full sample. ``close`` closes the objects in ``owned``.
    """

    def __init__(self, inner: Any, prefix: bytes = b"", owned: tuple = ()) -> None:
        super().__init__()
        self._inner = inner
        self._prefix = prefix
        self._owned = owned

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        view = memoryview(b).cast("B")
        want = len(view)
        n = 0
        if self._prefix:
            n = min(want, len(self._prefix))
            view[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
        while n < want:
            data = self._inner.read(want - n)
            if not data:
                break
            if isinstance(data, str):
                raise TypeError("expected a binary file (opened with 'rb'), got a text stream")
            view[n:n + len(data)] = data
            n += len(data)
        return n

    def close(self) -> None:
        if not self.closed:
            try:
                for obj in self._owned:
                    obj.close()
            finally:
                super().close()


def _name_of(source: Any) -> str | None:
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    name = getattr(source, "name", None)
    return name if isinstance(name, str) else None


def _open_source(source: Any) -> tuple[Any, tuple]:
    """(a readable binary object, the objects we opened and must close)."""
    if isinstance(source, (str, os.PathLike)):
        f = open(source, "rb")
        return f, (f,)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(bytes(source)), ()
    if hasattr(source, "read"):
        return source, ()
    raise TypeError(f"expected a path, bytes or a binary file object, got {type(source).__name__}")


def open_binary(path_or_file: Any) -> BinaryIO:
    """Open a path (``str``/``PathLike``), ``bytes``, or a binary file object for reading,
    transparently gunzipping when the content starts with the gzip magic ``1f 8b`` (the name
    is not consulted: ``.gz`` files that are not gzip and gzip files without ``.gz`` both
    work).

    Returns an ``io.BufferedReader`` (with ``peek``) positioned at the start of the
    (decompressed) content. Closing it closes the file if this function opened it; a file
    object passed in is never closed. Raises ``OSError`` when the path cannot be opened and
    ``TypeError`` for a text-mode file object.
    """
    inner, owned = _open_source(path_or_file)
    try:
        head = inner.read(2)
        while isinstance(head, bytes) and len(head) == 1:  # a short read from a pipe
            more = inner.read(1)
            if not more:
                break
            head += more
        if isinstance(head, str):
            raise TypeError("expected a binary file (opened with 'rb'), got a text stream")
        if head == _GZIP_MAGIC:
            plain = io.BufferedReader(_RawReader(inner, head, owned), SAMPLE_BYTES)
            gz = gzip.GzipFile(fileobj=plain, mode="rb")
            return io.BufferedReader(_RawReader(gz, b"", (gz, plain)), SAMPLE_BYTES)
        return io.BufferedReader(_RawReader(inner, head, owned), SAMPLE_BYTES)
    except BaseException:
        for obj in owned:
            obj.close()
        raise


# --------------------------------------------------------------------------------------------
# headers
# --------------------------------------------------------------------------------------------

_HEADER_SPACE = re.compile(r"[\t\n\v\f\r]")
_HEADER_DROP = re.compile(r"[\x00-\x08\x0e-\x1f\x7f\ufeff]")
_WHITESPACE_RUN = re.compile(r"\s+")


def normalize_headers(cells: list[Any]) -> list[str]:
    """Header cells -> unique, clean column names (same length as ``cells``).

    Each cell: ``None`` -> ``''``; non-strings via ``str`` (a datetime via ``isoformat``, an
    integral float without ``.0``); ``\\t \\n \\v \\f \\r`` -> space and other control
    characters (and a stray BOM) removed, whitespace runs collapsed, ends stripped (csvkit's
    ``test_header_newline.csv``: ``"\\t\\n\\v\\f\\r start ..."`` -> ``"start end"``).
    A blank cell is named ``column_<n>`` with ``n`` its 1-based position; a repeated name
    gets ``_2``, ``_3`` ... (the first keeps its name; comparison is case-sensitive).
    """
    names: list[str] = []
    seen: set[str] = set()
    for i, cell in enumerate(cells, start=1):
        name = _WHITESPACE_RUN.sub(" ", _HEADER_DROP.sub("", _HEADER_SPACE.sub(" ", _cell_text(cell)))).strip()
        if not name:
            name = f"column_{i}"
        if name in seen:
            k = 2
            while f"{name}_{k}" in seen:
                k += 1
            name = f"{name}_{k}"
        seen.add(name)
        names.append(name)
    return names


def _cell_text(cell: Any) -> str:
    if cell is None:
        return ""
    if isinstance(cell, str):
        return cell
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if hasattr(cell, "isoformat"):
        return cell.isoformat()
    return str(cell)


def _blank(cells: Any) -> bool:
    """A row with no content: no cells, or only ``None`` / whitespace-only strings."""
    for c in cells:
        if c is None:
            continue
        if isinstance(c, str):
            if c.strip():
                return False
            continue
        return False
    return True


def _check_columns(columns: list[str] | None) -> list[str] | None:
    if columns is None:
        return None
    columns = [str(c) for c in columns]
    dupes = sorted({c for c in columns if columns.count(c) > 1})
    if dupes:
        raise ValueError(f"columns= has duplicate names: {', '.join(dupes)}")
    if not columns:
        raise ValueError("columns= is empty")
    return columns


def _fit(cells: list[Any], n: int, where: str, pad: bool) -> tuple[list[Any] | None, str | None]:
    """Cells fitted to ``n`` columns, or an error. Extra empty trailing cells are dropped;
    short rows are padded with ``None`` when ``pad`` (spreadsheets), else an error."""
    m = len(cells)
    if m == n:
        return cells, None
    if m > n:
        if _blank(cells[n:]):
            return cells[:n], None
        last = max(i for i, c in enumerate(cells) if not _blank((c,))) + 1
        return None, f"{where}: expected {n} columns, found {last}"
    if pad:
        return list(cells) + [None] * (n - m), None
    return None, f"{where}: expected {n} columns, found {m}"


# --------------------------------------------------------------------------------------------
# CSV / TSV
# --------------------------------------------------------------------------------------------

def _detect_encoding(sample: bytes, at_eof: bool) -> str:
    """The text encoding of a CSV sample (see the module docstring for the rules)."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if len(sample) >= 4 and 0 in sample:
        half = len(sample) // 2
        even, odd = sample[0::2].count(0), sample[1::2].count(0)
        if odd > 0.3 * half and even < 0.02 * half:
            return "utf-16-le"
        if even > 0.3 * half and odd < 0.02 * half:
            return "utf-16-be"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=at_eof)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        sample.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


def _binary_kind(sample: bytes, encoding: str) -> str | None:
    """A description of what a binary (non-text) sample looks like, or None for text."""
    for magic, what in _BINARY_MAGICS:
        if sample.startswith(magic):
            return what
    if encoding.startswith(("utf-16", "utf-32")):
        return None
    head = sample[:8192]
    if len(head) >= 64:
        controls = len(head) - len(head.translate(None, _CONTROL_BYTES))
        if controls > 0.05 * len(head):
            return "binary data (control bytes throughout)"
    return None


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _sniff_delimiter(text: str, at_eof: bool) -> tuple[str, bool]:
    """(delimiter, skipinitialspace) for a CSV text sample that starts at the header line.

    Each candidate (``, \\t ; |``) splits the sample with the csv module; a candidate counts
    only when it splits the first non-blank record (the header) into 2+ columns, and scores
    the share of later records with that many columns. One candidate: taken. Several:
    ``csv.Sniffer`` decides if it agrees with the best score, else the best score wins (ties
    by the order above). None: ``','`` (a one-column file). csv.Sniffer alone is not enough:
    it misreads one-column files and files whose values contain other candidates.
    ``skipinitialspace`` is set when every delimiter in the header line is followed by a
    space (``ID, Test`` with ``1, "quoted"``).
    """
    if not at_eof:
        cut = max(text.rfind("\n"), text.rfind("\r"))
        if cut > 0:
            text = text[:cut + 1]
    stats: dict[str, tuple[float, int]] = {}
    for d in CANDIDATE_DELIMITERS:
        try:
            rows = [r for r in itertools.islice(csv.reader(io.StringIO(text), delimiter=d), 200)
                    if not _blank(r)]
        except csv.Error:
            continue
        if not at_eof and len(rows) > 2:
            rows = rows[:-1]  # may be cut short by the sample boundary
        if not rows or len(rows[0]) < 2:
            continue
        n = len(rows[0])
        body = rows[1:]
        fits = sum(1 for r in body if _fit(r, n, "", pad=False)[1] is None)
        stats[d] = (fits / len(body) if body else 1.0, n)
    if not stats:
        delimiter = ","
    elif len(stats) == 1:
        delimiter = next(iter(stats))
    else:
        best = max(score for score, _ in stats.values())
        try:
            sniffed = csv.Sniffer().sniff(text[:8192], delimiters="".join(stats)).delimiter
        except csv.Error:
            sniffed = None
        if sniffed in stats and stats[sniffed][0] == best:
            delimiter = sniffed
        else:
            delimiter = next(d for d in CANDIDATE_DELIMITERS if d in stats and stats[d][0] == best)
    first_line = next((ln for ln in _LINE_BREAK.split(text) if ln.strip()), "")
    count = first_line.count(delimiter)
    skip_space = delimiter != " " and count > 0 and first_line.count(delimiter + " ") == count
    return delimiter, skip_space


def _strip_nul(lines: Any) -> Iterator[str]:
    for line in lines:
        yield line.replace("\x00", "") if "\x00" in line else line


class _CsvReader:
    """Set-up (encoding, delimiter, header) happens in ``__init__`` so that a bad file fails
    at :func:`iter_records` time; :meth:`rows` then streams ``(start_line, cells)``."""

    def __init__(self, source: Any, *, name: str | None, encoding: str | None,
                 delimiter: str | None, header_rows: int, columns: list[str] | None) -> None:
        self.name = name
        self._f = open_binary(source)
        try:
            self._setup(encoding, delimiter, header_rows, columns)
        except BaseException:
            self._f.close()
            raise

    def _where(self) -> str:
        return f"{self.name}: " if self.name else ""

    def _setup(self, encoding: str | None, delimiter: str | None, header_rows: int,
               columns: list[str] | None) -> None:
        sample = self._f.peek(SAMPLE_BYTES)[:SAMPLE_BYTES]
        at_eof = len(sample) < SAMPLE_BYTES
        if encoding:
            enc = codecs.lookup(encoding).name
            if enc == "utf-8" and sample.startswith(codecs.BOM_UTF8):
                enc = "utf-8-sig"
        else:
            enc = _detect_encoding(sample, at_eof)
        kind = _binary_kind(sample, enc)
        if kind:
            raise FileFormatError(f"{self._where()}this looks like {kind}, not CSV text")
        self.encoding = enc
        text = io.TextIOWrapper(self._f, encoding=enc, errors=_ERRORS, newline="")
        self._text = text
        skipped = 0
        for _ in range(max(header_rows - 1, 0)):
            if not text.readline():
                break
            skipped += 1
        self._offset = skipped
        if delimiter:
            self.delimiter, skip_space = delimiter, False
        else:
            decoded = codecs.getincrementaldecoder(enc)(errors=_ERRORS).decode(sample, final=at_eof)
            decoded = decoded.lstrip("\ufeff")
            if skipped:
                parts = _LINE_BREAK.split(decoded, maxsplit=skipped)
                decoded = parts[-1] if len(parts) > skipped else ""
            self.delimiter, skip_space = _sniff_delimiter(decoded, at_eof)
        self._reader = csv.reader(_strip_nul(text), delimiter=self.delimiter,
                                  skipinitialspace=skip_space, strict=False)
        self._pending: tuple[int, list[str]] | None = None
        given = _check_columns(columns)
        if header_rows > 0:
            first = next(self._physical_rows(), None)
            if first is None:
                raise FileFormatError(f"{self._where()}the file is empty: no header row")
            if isinstance(first[1], Exception):
                raise FileFormatError(f"{self._where()}the header row cannot be read: {first[1]}")
            header = list(first[1])
            while header and not header[-1].strip():
                header.pop()  # trailing empty header cells ("a,b,c,,") name no column
            if not header:
                raise FileFormatError(f"{self._where()}the header row is blank")
            if given is not None and len(given) != len(header):
                raise FileFormatError(
                    f"{self._where()}columns= gives {len(given)} names but the header row has "
                    f"{len(header)} columns")
            self.columns = given if given is not None else normalize_headers(header)
        elif given is not None:
            self.columns = given
        else:
            first = next(self._physical_rows(), None)
            if first is None:
                self.columns = []
            elif isinstance(first[1], Exception):
                raise FileFormatError(f"{self._where()}the first row cannot be read: {first[1]}")
            else:
                self._pending = first
                # seed 003's failed-rows example names header-less columns col_0, col_1, ...
                self.columns = [f"col_{i}" for i in range(len(first[1]))]

    def _physical_rows(self) -> Iterator[tuple[int, list[str]]]:
        """(start line, cells) for each non-blank record; csv errors become ``(line, exc)``."""
        reader = self._reader
        while True:
            start = self._offset + reader.line_num + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:  # e.g. a field over MAX_FIELD_CHARS
                if self._offset + reader.line_num + 1 == start:
                    return  # no progress: give up rather than loop
                yield start, exc  # type: ignore[misc]
                continue
            if not _blank(cells):
                yield start, cells

    def rows(self) -> Iterator[tuple[int, Any]]:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            yield pending
        yield from self._physical_rows()

    def records(self) -> Iterator[SourceRecord]:
        keys = self.columns
        n = len(keys)
        for line, cells in self.rows():
            if isinstance(cells, Exception):
                yield SourceRecord(line, None, f"row {line}: unreadable CSV: {cells}", None)
                continue
            fitted, err = _fit(cells, n, f"row {line}", pad=False)
            if err:
                yield SourceRecord(line, None, err, cells)
            else:
                yield SourceRecord(line, dict(zip(keys, fitted)), None, cells)

    def close(self) -> None:
        try:
            text = getattr(self, "_text", None)
            if text is not None:
                text.close()
        finally:
            self._f.close()


# --------------------------------------------------------------------------------------------
# NDJSON / JSON
# --------------------------------------------------------------------------------------------

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


def _ndjson_records(lines: Iterator[tuple[int, bytes]]) -> Iterator[SourceRecord]:
    for lineno, line in lines:
        s = line.strip()
        if not s:
            continue
        try:
            obj = orjson.loads(s)
        except orjson.JSONDecodeError as exc:
            try:
                s.decode("utf-8")
            except UnicodeDecodeError as uexc:
                yield SourceRecord(
                    lineno, None,
                    f"line {lineno}: invalid UTF-8 (byte 0x{s[uexc.start]:02x} at column {uexc.start + 1})",
                    s.decode("utf-8", "replace"))
                continue
            yield SourceRecord(lineno, None, f"line {lineno}: invalid JSON at column {exc.colno}: {exc.msg}",
                               s.decode("utf-8"))
            continue
        if isinstance(obj, dict):
            yield SourceRecord(lineno, obj, None, None)
        else:
            yield SourceRecord(lineno, None, f"line {lineno}: expected a JSON object, found {_json_type(obj)}",
                               s.decode("utf-8"))


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


def _as_json_table(items: list[Any], columns: list[str] | None
                   ) -> tuple[list[str], Iterator[SourceRecord]]:
    header = items[0]
    keys = columns if columns is not None else normalize_headers(header)
    n = len(keys)

    def gen() -> Iterator[SourceRecord]:
        for i, item in enumerate(items[1:], start=2):
            if not isinstance(item, list):
                yield SourceRecord(i, None, f"item {i}: expected an array, found {_json_type(item)}", item)
                continue
            if _blank(item):
                continue
            fitted, err = _fit(item, n, f"item {i}", pad=False)
            if err:
                yield SourceRecord(i, None, err, item)
            else:
                yield SourceRecord(i, dict(zip(keys, fitted)), None, item)
    return keys, gen()


# --------------------------------------------------------------------------------------------
# XLSX
# --------------------------------------------------------------------------------------------

def _xlsx_file(source: Any, where: str) -> tuple[Any, tuple]:
    """A seekable binary file holding the workbook (gunzipped if need be), and what to close."""
    owned: tuple = ()
    if isinstance(source, (str, os.PathLike)):
        f: Any = open(source, "rb")
        owned = (f,)
    elif isinstance(source, (bytes, bytearray, memoryview)):
        f = io.BytesIO(bytes(source))
    elif hasattr(source, "read"):
        f = source
    else:
        raise TypeError(f"expected a path, bytes or a binary file object, got {type(source).__name__}")
    try:
        seekable = getattr(f, "seekable", lambda: False)()
        if seekable:
            pos = f.tell()
            head = f.read(4)
            f.seek(pos)
        else:
            head = None
        if head is None or head[:2] == _GZIP_MAGIC:
            spool = tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024)
            with open_binary(f) as plain:
                shutil.copyfileobj(plain, spool, 1024 * 1024)
            for obj in owned:
                obj.close()
            owned = (spool,)
            spool.seek(0)
            f = spool
            head = spool.read(4)
            spool.seek(0)
        if head == _OLE_MAGIC:
            raise FileFormatError(f"{where}this is a legacy .xls workbook; save it as .xlsx")
        if head != _ZIP_MAGIC:
            raise FileFormatError(f"{where}not an .xlsx workbook (no ZIP signature)")
        return f, owned
    except BaseException:
        for obj in owned:
            obj.close()
        raise


class _XlsxReader:
    def __init__(self, source: Any, *, name: str | None, sheet: str | int | None,
                 header_rows: int, columns: list[str] | None) -> None:
        import openpyxl  # imported here: loading it costs ~0.1 s and CSV-only runs need none of it

        where = f"{name}: " if name else ""
        self._f, self._owned = _xlsx_file(source, where)
        self._wb = None
        try:
            try:
                self._wb = openpyxl.load_workbook(self._f, read_only=True, data_only=True)
            except Exception as exc:  # InvalidFileException, zipfile.BadZipFile, KeyError, XML errors
                raise FileFormatError(f"{where}not a readable .xlsx workbook: {exc}") from exc
            sheets = self._wb.worksheets
            if not sheets:
                raise FileFormatError(f"{where}the workbook has no worksheets")
            titles = ", ".join(repr(ws.title) for ws in sheets)
            if sheet is None:
                ws = sheets[0]
            elif isinstance(sheet, int) and not isinstance(sheet, bool):
                if not -len(sheets) <= sheet < len(sheets):
                    raise FileFormatError(f"{where}no sheet number {sheet} (0-based); sheets: {titles}")
                ws = sheets[sheet]
            else:
                match = [w for w in sheets if w.title == sheet]
                if not match:
                    raise FileFormatError(f"{where}no sheet named {sheet!r}; sheets: {titles}")
                ws = match[0]
            self.sheet = ws.title
            # The <dimension> tag some writers leave stale would cut rows off; read what is there.
            ws.reset_dimensions()
            self._rows = enumerate(ws.iter_rows(values_only=True), start=1)
            self._pending: tuple[int, tuple] | None = None
            given = _check_columns(columns)
            for _ in range(max(header_rows - 1, 0)):
                if next(self._rows, None) is None:
                    break
            if header_rows > 0:
                first = next(self._content_rows(), None)
                if first is None:
                    raise FileFormatError(f"{where}sheet {self.sheet!r} is empty: no header row")
                header = list(first[1])
                while header and _blank(header[-1:]):
                    header.pop()  # trailing empty header cells name no column
                if given is not None and len(given) != len(header):
                    raise FileFormatError(
                        f"{where}columns= gives {len(given)} names but the header row has "
                        f"{len(header)} columns")
                self.columns = given if given is not None else normalize_headers(header)
            elif given is not None:
                self.columns = given
            else:
                first = next(self._content_rows(), None)
                self._pending = first
                width = 0
                if first is not None:
                    width = max(i for i, c in enumerate(first[1]) if not _blank((c,))) + 1
                self.columns = [f"col_{i}" for i in range(width)]
        except BaseException:
            self.close()
            raise

    def _content_rows(self) -> Iterator[tuple[int, tuple]]:
        for number, values in self._rows:
            if not _blank(values):
                yield number, values

    def rows(self) -> Iterator[tuple[int, tuple]]:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            yield pending
        yield from self._content_rows()

    def records(self) -> Iterator[SourceRecord]:
        keys = self.columns
        n = len(keys)
        for number, values in self.rows():
            fitted, err = _fit(list(values), n, f"row {number}", pad=True)
            if err:
                yield SourceRecord(number, None, err, list(values))
            else:
                yield SourceRecord(number, dict(zip(keys, fitted)), None, list(values))

    def close(self) -> None:
        try:
            if self._wb is not None:
                self._wb.close()
        finally:
            for obj in self._owned:
                obj.close()


# --------------------------------------------------------------------------------------------
# entry points
# --------------------------------------------------------------------------------------------

def _resolve_format(source: Any, fmt: str | None, name: str | None) -> str:
    if fmt is not None:
        fmt = fmt.lower().lstrip(".")
        if fmt == "jsonl":
            fmt = "ndjson"
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
        return fmt
    label = name or _name_of(source)
    if label is None:
        raise ValueError("cannot tell the file format: pass fmt= or name=")
    return detect_format(label)


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
    if header_rows < 0:
        raise ValueError("header_rows must be >= 0")
    fmt = _resolve_format(source, fmt, name)
    label = name or _name_of(source)
    where = f"{label}: " if label else ""
    if fmt in ("csv", "tsv"):
        reader = _CsvReader(source, name=label, encoding=encoding,
                            delimiter=delimiter or ("\t" if fmt == "tsv" else None),
                            header_rows=header_rows, columns=columns)
        return RecordIterator(fmt, reader.records(), reader.close, columns=reader.columns,
                              encoding=reader.encoding, delimiter=reader.delimiter, name=label)
    if fmt == "xlsx":
        xreader = _XlsxReader(source, name=label, sheet=sheet, header_rows=header_rows, columns=columns)
        return RecordIterator(fmt, xreader.records(), xreader.close, columns=xreader.columns,
                              sheet=xreader.sheet, name=label)
    kind, payload, closer = _open_json(source, fmt, where)
    if kind == "ndjson":
        return RecordIterator("ndjson", _ndjson_records(payload), closer, name=label)
    return _json_array(payload, columns, where)


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
        if objects == 2:
            return "ndjson", _numbered_lines(f, consumed), f.close
        data = b"".join(consumed) + f.read()
    except BaseException:
        f.close()
        raise
    f.close()
    return "json", data, lambda: None


def _json_array(data: bytes, columns: list[str] | None, where: str) -> RecordIterator:
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
    given = _check_columns(columns)
    if doc and isinstance(doc[0], list) and doc[0] and all(isinstance(c, str) for c in doc[0]):
        if given is not None and len(given) != len(doc[0]):
            raise FileFormatError(f"{where}columns= gives {len(given)} names but the header array has "
                                  f"{len(doc[0])}")
        keys_, gen = _as_json_table(doc, given)
        return RecordIterator("json", gen, lambda: None, columns=keys_)

    def gen_objects() -> Iterator[SourceRecord]:
        for i, item in enumerate(doc, start=1):
            if isinstance(item, dict):
                yield SourceRecord(i, item, None, None)
            else:
                yield SourceRecord(i, None, f"item {i}: expected a JSON object, found {_json_type(item)}", item)
    return RecordIterator("json", gen_objects(), lambda: None)


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
    header_rows = options.get("header_rows", 1)
    if header_rows < 0:
        raise ValueError("header_rows must be >= 0")
    fmt_ = _resolve_format(source, fmt, options.get("name"))
    label = options.get("name") or _name_of(source)
    if fmt_ in ("csv", "tsv"):
        reader = _CsvReader(source, name=label, encoding=options.get("encoding"),
                            delimiter=options.get("delimiter") or ("\t" if fmt_ == "tsv" else None),
                            header_rows=header_rows, columns=options.get("columns"))
        try:
            return sum(1 for _ in reader.rows())
        finally:
            reader.close()
    if fmt_ == "xlsx":
        xreader = _XlsxReader(source, name=label, sheet=options.get("sheet"),
                              header_rows=header_rows, columns=options.get("columns"))
        try:
            return sum(1 for _ in xreader.rows())
        finally:
            xreader.close()
    kind, payload, closer = _open_json(source, fmt_, f"{label}: " if label else "")
    try:
        if kind == "ndjson":
            return sum(1 for _, line in payload if line.strip())
        return sum(1 for _ in _json_array(payload, options.get("columns"), f"{label}: " if label else ""))
    finally:
        closer()
