"""CSV and TSV files, read line by line (memory is bounded whatever the file size):
:class:`CsvReader`.

The encoding is detected (:mod:`.encodings`), the delimiter sniffed (:func:`sniff_delimiter`)
unless given. Rows are numbered by the physical line where they start (header counted), so
"row 7" points at line 7 of the file in any text editor, whatever the line endings. NUL
characters are removed from the text because no warehouse text column (PostgreSQL ``text``)
can store U+0000; no other value is changed.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
from typing import Any, Iterator

from .encodings import DECODE_ERRORS, binary_kind, detect_encoding
from .opening import SAMPLE_BYTES, open_binary
from .records import FileFormatError, RecordIterator, SourceRecord
from .tables import TableReader, blank, check_columns, fit, fitted_record, header_columns

#: Largest CSV field accepted, in characters (``csv.field_size_limit``; the stdlib default of
#: 128 Ki characters is too small for real exports with long notes). Kept finite so that an
#: unbalanced quote cannot make one "field" swallow a multi-gigabyte file into memory.
MAX_FIELD_CHARS = 256 * 1024 * 1024

#: Delimiters tried when sniffing CSV (in order of preference on a tie).
CANDIDATE_DELIMITERS = (",", "\t", ";", "|")

_LINE_BREAK = re.compile(r"\r\n|\r|\n")

csv.field_size_limit(max(csv.field_size_limit(), MAX_FIELD_CHARS))


class CsvReader(TableReader):
    """One CSV/TSV file. Set-up (encoding, delimiter, header) happens in ``__init__`` so that
    a bad file fails at :func:`iter_records` time; :meth:`rows` then streams
    ``(start_line, cells)`` (cells is the ``csv.Error`` for a row that cannot be parsed) and
    :meth:`records` the :class:`SourceRecord` of each. Raises :class:`FileFormatError` for a
    binary file, an empty file or an unreadable header."""

    def __init__(self, source: Any, fmt: str, *, name: str | None, encoding: str | None,
                 delimiter: str | None, header_rows: int, columns: list[str] | None) -> None:
        self.format = fmt
        self.name = name
        self._where = f"{name}: " if name else ""
        self._f = open_binary(source)
        try:
            sample = self._f.peek(SAMPLE_BYTES)[:SAMPLE_BYTES]
            at_eof = len(sample) < SAMPLE_BYTES
            self.encoding = self._text_encoding(sample, at_eof, encoding)
            self._text = io.TextIOWrapper(self._f, encoding=self.encoding, errors=DECODE_ERRORS,
                                          newline="")
            self._offset = self._skip_lines(header_rows - 1)
            if delimiter or fmt == "tsv":
                self.delimiter, skip_space = delimiter or "\t", False
            else:
                self.delimiter, skip_space = self._sniff(sample, at_eof)
            self._reader = csv.reader(_text_lines(self._text), delimiter=self.delimiter,
                                      skipinitialspace=skip_space, strict=False)
            self.columns = self._read_columns(header_rows, check_columns(columns))
        except BaseException:
            self.close()
            raise

    def iterator(self) -> RecordIterator:
        """The records as the :class:`RecordIterator` that owns this reader."""
        return RecordIterator(self.format, self.records(), self.close, columns=self.columns,
                              encoding=self.encoding, delimiter=self.delimiter, name=self.name,
                              cell_rows=self.cell_rows)

    def cell_rows(self) -> Iterator[tuple[int, Any, str | None]]:
        """What :meth:`records` yields, without a record or dict per row (see
        :meth:`RecordIterator.cell_rows`): ``(line, cells, None)`` for a row that fits the
        header (``cells`` as read: at least one per column, extra cells all blank), else
        ``(line, cells or None, error)`` with :meth:`records`' error and ``raw``."""
        n = len(self.columns)
        for line, cells in self.rows():
            if type(cells) is list and len(cells) == n:  # the common case: no fitting to do
                yield line, cells, None
            elif isinstance(cells, Exception):
                yield line, None, f"row {line}: unreadable CSV: {cells}"
            else:
                yield line, cells, fit(cells, n, f"row {line}", pad=False)[1]

    def records(self) -> Iterator[SourceRecord]:
        keys = self.columns
        for line, cells in self.rows():
            if isinstance(cells, Exception):
                yield SourceRecord(line, None, f"row {line}: unreadable CSV: {cells}", None)
            else:
                yield fitted_record(line, cells, keys, f"row {line}", pad=False)

    def close(self) -> None:
        try:
            text = getattr(self, "_text", None)
            if text is not None:
                text.close()
        finally:
            self._f.close()

    def _text_encoding(self, sample: bytes, at_eof: bool, encoding: str | None) -> str:
        if encoding:
            enc = codecs.lookup(encoding).name
            if enc == "utf-8" and sample.startswith(codecs.BOM_UTF8):
                enc = "utf-8-sig"
        else:
            enc = detect_encoding(sample, at_eof)
        kind = binary_kind(sample, enc)
        if kind:
            raise FileFormatError(f"{self._where}this looks like {kind}, not CSV text")
        return enc

    def _skip_lines(self, n: int) -> int:
        """Skip up to ``n`` physical lines (the lines before the header); how many were."""
        skipped = 0
        for _ in range(max(n, 0)):
            if not self._text.readline():
                break
            skipped += 1
        return skipped

    def _sniff(self, sample: bytes, at_eof: bool) -> tuple[str, bool]:
        decoded = codecs.getincrementaldecoder(self.encoding)(errors=DECODE_ERRORS).decode(
            sample, final=at_eof)
        decoded = decoded.lstrip("\ufeff")
        skipped = self._offset
        if skipped:
            parts = _LINE_BREAK.split(decoded, maxsplit=skipped)
            decoded = parts[-1] if len(parts) > skipped else ""
        return sniff_delimiter(decoded, at_eof)

    def _read_columns(self, header_rows: int, given: list[str] | None) -> list[str]:
        if header_rows == 0 and given is not None:
            return given
        first = next(self._content_rows(), None)
        if first is not None and isinstance(first[1], Exception):
            what = "header row" if header_rows > 0 else "first row"
            raise FileFormatError(f"{self._where}the {what} cannot be read: {first[1]}")
        if header_rows > 0:
            return header_columns(first and first[1], given, self._where,
                                  "the file is empty: no header row")
        if first is None:
            return []
        self._pending = first
        # seed 003's failed-rows example names header-less columns col_0, col_1, ...
        return [f"col_{i}" for i in range(len(first[1]))]

    def _content_rows(self) -> Iterator[tuple[int, Any]]:
        """(start line, cells) for each non-blank record; csv errors become ``(line, exc)``."""
        reader, offset = self._reader, self._offset + 1
        while True:
            start = offset + reader.line_num
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:  # e.g. a field over MAX_FIELD_CHARS
                if offset + reader.line_num == start:
                    return  # no progress: give up rather than loop
                yield start, exc
                continue
            first = cells[0] if cells else ""
            if (first and not first.isspace()) or not blank(cells):  # (a first cell with text: not blank)
                yield start, cells


def sniff_delimiter(text: str, at_eof: bool) -> tuple[str, bool]:
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
    scores = _delimiter_scores(text, at_eof)
    if not scores:
        delimiter = ","
    elif len(scores) == 1:
        delimiter = next(iter(scores))
    else:
        best = max(scores.values())
        try:
            sniffed = csv.Sniffer().sniff(text[:8192], delimiters="".join(scores)).delimiter
        except csv.Error:
            sniffed = None
        if sniffed in scores and scores[sniffed] == best:
            delimiter = sniffed
        else:
            delimiter = next(d for d in CANDIDATE_DELIMITERS if d in scores and scores[d] == best)
    first_line = next((ln for ln in _LINE_BREAK.split(text) if ln.strip()), "")
    count = first_line.count(delimiter)
    skip_space = delimiter != " " and count > 0 and first_line.count(delimiter + " ") == count
    return delimiter, skip_space


def _delimiter_scores(text: str, at_eof: bool) -> dict[str, float]:
    """candidate -> share of the records after the header that have the header's number of
    columns, for each candidate that splits the header into 2+ columns."""
    scores: dict[str, float] = {}
    for d in CANDIDATE_DELIMITERS:
        try:
            rows = [r for r in itertools.islice(csv.reader(io.StringIO(text), delimiter=d), 200)
                    if not blank(r)]
        except csv.Error:
            continue
        if not at_eof and len(rows) > 2:
            rows = rows[:-1]  # may be cut short by the sample boundary
        if not rows or len(rows[0]) < 2:
            continue
        n = len(rows[0])
        body = rows[1:]
        fits = sum(1 for r in body if fit(r, n, "", pad=False)[1] is None)
        scores[d] = fits / len(body) if body else 1.0
    return scores


#: Characters of text decoded at a time for the csv module (:func:`_text_lines`).
TEXT_CHUNK_CHARS = 256 * 1024


def _text_lines(text: Any, size: int | None = None) -> Iterator[str]:
    """The lines of ``text`` (a text stream opened with ``newline=""``: lines end at ``\n``,
    ``\r\n`` or ``\r``, kept), NUL characters removed. Read ``size`` characters at a time,
    each piece cut after its last line end and split by ``io.StringIO(newline="")`` (the
    same line splitting as the stream's own iteration, in C: no Python work per line).
    ``size`` default: :data:`TEXT_CHUNK_CHARS`."""
    return itertools.chain.from_iterable(_line_blocks(text, size or TEXT_CHUNK_CHARS))


def _line_blocks(text: Any, size: int) -> Iterator[io.StringIO]:
    """Whole lines of ``text``, a block (``StringIO``) at a time (see :func:`_text_lines`).
    A ``\r`` at the very end of a piece waits for the next one (it may be half of ``\r\n``)."""
    parts: list[str] = []
    while True:
        chunk = text.read(size)
        if not chunk:
            break
        if "\x00" in chunk:
            chunk = chunk.replace("\x00", "")
        cut = chunk.rfind("\n") + 1 or chunk.rfind("\r", 0, len(chunk) - 1) + 1
        if not cut:  # no complete line yet (a long field)
            parts.append(chunk)
            continue
        parts.append(chunk[:cut])
        yield io.StringIO("".join(parts), newline="")
        parts = [chunk[cut:]]
    rest = "".join(parts)
    if rest:
        yield io.StringIO(rest, newline="")
