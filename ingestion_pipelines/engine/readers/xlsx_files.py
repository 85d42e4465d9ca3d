"""XLSX workbooks, read row by row (openpyxl read-only mode, cached formula values):
:class:`XlsxReader`.

A gzipped workbook, or one from a stream that cannot seek, is first spooled to a temporary
file (in memory up to 32 MiB), since a ZIP archive is read from its end.
"""

from __future__ import annotations

import shutil
import tempfile
import warnings
from typing import Any, Iterator

from .opening import GZIP_MAGIC, open_binary, open_source
from .records import FileFormatError, RecordIterator, SourceRecord
from .tables import TableReader, blank, check_columns, fitted_record, header_columns

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # legacy .xls (and .doc, .msg)

# openpyxl warns about every workbook extension it does not model (data validation lists,
# slicers ...) while it parses rows; the values it returns are unaffected.
warnings.filterwarnings("ignore", message="Unknown extension is not supported", category=UserWarning)


class XlsxReader(TableReader):
    """One worksheet of a workbook: ``sheet`` (name or 0-based index; default the first),
    ``header_rows`` and ``columns`` as for CSV, counted in sheet rows. Empty rows are skipped,
    short rows padded with ``None``; a non-empty cell past the header is a failed record.
    Raises :class:`FileFormatError` for a file that is not a readable workbook, a missing
    sheet or an empty one."""

    def __init__(self, source: Any, *, name: str | None, sheet: str | int | None,
                 header_rows: int, columns: list[str] | None) -> None:
        import openpyxl  # imported here: loading it costs ~0.1 s and CSV-only runs need none of it

        self.name = name
        self._where = f"{name}: " if name else ""
        self._f, self._owned = _xlsx_file(source, self._where)
        self._wb = None
        try:
            try:
                self._wb = openpyxl.load_workbook(self._f, read_only=True, data_only=True)
            except Exception as exc:  # InvalidFileException, zipfile.BadZipFile, KeyError, XML errors
                raise FileFormatError(f"{self._where}not a readable .xlsx workbook: {exc}") from exc
            ws = _pick_sheet(self._wb, sheet, self._where)
            self.sheet = ws.title
            # The <dimension> tag some writers leave stale would cut rows off; read what is there.
            ws.reset_dimensions()
            self._rows = enumerate(ws.iter_rows(values_only=True), start=1)
            for _ in range(max(header_rows - 1, 0)):
                if next(self._rows, None) is None:
                    break
            self.columns = self._read_columns(header_rows, check_columns(columns))
        except BaseException:
            self.close()
            raise

    def iterator(self) -> RecordIterator:
        """The records as the :class:`RecordIterator` that owns this reader."""
        return RecordIterator("xlsx", self.records(), self.close, columns=self.columns,
                              sheet=self.sheet, name=self.name)

    def records(self) -> Iterator[SourceRecord]:
        keys = self.columns
        for number, values in self.rows():
            yield fitted_record(number, list(values), keys, f"row {number}", pad=True)

    def close(self) -> None:
        try:
            if self._wb is not None:
                self._wb.close()
        finally:
            for obj in self._owned:
                obj.close()

    def _read_columns(self, header_rows: int, given: list[str] | None) -> list[str]:
        if header_rows == 0 and given is not None:
            return given
        first = next(self._content_rows(), None)
        if header_rows > 0:
            return header_columns(first and first[1], given, self._where,
                                  f"sheet {self.sheet!r} is empty: no header row")
        self._pending = first
        width = 0
        if first is not None:
            width = max(i for i, c in enumerate(first[1]) if not blank((c,))) + 1
        return [f"col_{i}" for i in range(width)]

    def _content_rows(self) -> Iterator[tuple[int, tuple]]:
        for number, values in self._rows:
            if not blank(values):
                yield number, values


def _pick_sheet(wb: Any, sheet: str | int | None, where: str) -> Any:
    """The worksheet ``sheet`` names (title or 0-based index; None = the first)."""
    sheets = wb.worksheets
    if not sheets:
        raise FileFormatError(f"{where}the workbook has no worksheets")
    titles = ", ".join(repr(ws.title) for ws in sheets)
    if sheet is None:
        return sheets[0]
    if isinstance(sheet, int) and not isinstance(sheet, bool):
        if not -len(sheets) <= sheet < len(sheets):
            raise FileFormatError(f"{where}no sheet number {sheet} (0-based); sheets: {titles}")
        return sheets[sheet]
    match = [w for w in sheets if w.title == sheet]
    if not match:
        raise FileFormatError(f"{where}no sheet named {sheet!r}; sheets: {titles}")
    return match[0]


def _xlsx_file(source: Any, where: str) -> tuple[Any, tuple]:
    """A seekable binary file holding the workbook (gunzipped if need be), and what to close."""
    f, owned = open_source(source)
    try:
        seekable = getattr(f, "seekable", lambda: False)()
        if seekable:
            pos = f.tell()
            head = f.read(4)
            f.seek(pos)
        else:
            head = None
        if head is None or head[:2] == GZIP_MAGIC:
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
