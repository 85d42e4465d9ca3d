"""What every reader yields and raises: :class:`SourceRecord` (one row of a file, read or
failed), :class:`RecordIterator` (the stream :func:`~ingestion_pipelines.engine.readers.iter_records`
returns, which owns the open file) and :class:`FileFormatError` (the whole file cannot be read).
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from typing import Any, Callable, Iterator


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
                 name: str | None = None,
                 cell_rows: Callable[[], Iterator[tuple[int, Any, str | None]]] | None = None) -> None:
        self.format = fmt
        self.name = name
        self.columns = columns
        self.encoding = encoding
        self.delimiter = delimiter
        self.sheet = sheet
        self._records = records
        self._close = close
        self._closed = False
        self._cell_rows = cell_rows

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

    def cell_rows(self) -> Iterator[tuple[int, Any, str | None]]:
        """The same rows as the records, for a caller that wants each row's cells as a list
        rather than a :class:`SourceRecord` (no record or dict built per row: the CRM CSV
        profiles' bulk path). Yields ``(row, cells, None)`` for a record that was read —
        ``cells`` in :attr:`columns` order, at least one per column (a CSV row's cells as
        read, whose extra cells are blank; ``data``'s values when ``raw`` is shorter) — or
        ``(row, raw, error)`` for one that was not (``raw`` and ``error`` as the record's).
        Use either this or the iteration, not both; errors and closing as for iteration."""
        if self._cell_rows is not None:
            rows = self._cell_rows()
        else:
            width = len(self.columns or ())
            rows = ((r.row, r.raw, r.error) if r.error is not None else
                    (r.row, r.raw if isinstance(r.raw, list) and len(r.raw) >= width else list(r.data.values()), None)
                    for r in self._records)
        if self._closed:
            return
        try:
            yield from rows
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            where = f"{self.name}: " if self.name else ""
            raise FileFormatError(f"{where}the compressed data is truncated or corrupt: {exc}") from exc
        finally:
            self.close()

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


class FileFormatError(ValueError):
    """The whole file cannot be read: not JSON at all, JSON that is not an array of objects,
    an empty file with no header, a binary file passed as CSV, a corrupt workbook, a missing
    sheet. The message is human readable and names the file when its name is known; it goes
    as is into ``ingest_files.error`` (DESIGN.md §9)."""
