"""Result files: rows written back to the BlobStore as CSV or XLSX (DESIGN.md §2 "outcome", §9).

Any source can use this for its failed-rows file (original columns + ``import_error``) or a
success file. Both formats are streamed: rows go to a local temporary file as they come
(CSV through :mod:`csv`, XLSX through openpyxl's ``write_only`` workbook, which keeps only
the current row in memory), and the finished file is uploaded with ``BlobStore.put_file``.
Memory stays flat whatever the number of rows.

Spreadsheet-formula neutralisation (DESIGN.md §9; OWASP "CSV injection"): every *text* cell
that starts with ``=``, ``+``, ``-`` or ``@`` gets a leading apostrophe (``'=1+1``), so a
spreadsheet shows the text instead of evaluating it. Numbers, dates and booleans are left as
they are (they cannot carry a formula). In XLSX, characters that the format cannot store
(ASCII control characters other than tab/newline/CR) are removed.

API (stable; other sources depend on it)::

    uri = write_rows(store, "imports/results/job-1/failed.csv", header, rows, "csv")

    with ResultFileWriter(header, "xlsx") as w:      # incremental form
        w.write(row)             # a sequence in header order, or a mapping by header name
        ...
        uri = w.upload(store, "imports/results/job-1/success.xlsx")

    # optional cells that did not parse (DESIGN.md §9), beside the failed-rows file
    uri = write_warnings(store, warnings_key("imports/results/job-1/failed.csv"), report.warnings)
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Iterable, Literal, Mapping, Sequence

from ..resources.storage import BlobStore
from .outcomes import WARNING_COLUMNS

ResultFormat = Literal["csv", "xlsx"]

# OWASP "CSV injection": = + - @, and TAB / CR (some spreadsheets strip them, then evaluate);
# the full-width ＝ ＋ － ＠ that some Excel locales also evaluate.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_FORMULA_FIRST = frozenset(FORMULA_PREFIXES)
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
# One XLSX worksheet holds at most 1,048,576 rows; the writer continues on a new sheet.
XLSX_MAX_ROWS = 1_048_576
_ILLEGAL_XLSX = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")


def neutralise(value: Any) -> Any:
    """``value`` made safe for a spreadsheet: a ``str`` starting with one of
    :data:`FORMULA_PREFIXES` (``= + - @``, TAB, CR, or their full-width forms) gets a leading
    ``'``; any other value is returned unchanged (``None`` stays ``None``)."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        import json

        value = json.dumps(value, default=str, ensure_ascii=False)
    elif isinstance(value, (dt.date, dt.datetime, dt.time)):
        value = value.isoformat()
    return neutralise(value)


def _xlsx_cell(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, decimal.Decimal)):
        return value
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None) if value.tzinfo else value  # XLSX has no time zones
    if isinstance(value, (dt.date, dt.time)):
        return value
    if isinstance(value, (dict, list)):
        import json

        value = json.dumps(value, default=str, ensure_ascii=False)
    s = str(value)
    s = _ILLEGAL_XLSX.sub("", s)
    if len(s) > 32767:  # the XLSX cell limit
        s = s[:32767]
    return neutralise(s)


class ResultFileWriter:
    """Streams rows into a temporary CSV (UTF-8 with BOM, so Excel reads accents) or XLSX
    file, then uploads it.

    ``header``: column names (list of str); ``fmt``: ``"csv"`` or ``"xlsx"``; ``temp_dir``:
    where the temporary file lives (default: the system temp dir). ``write(row)`` accepts a
    sequence in header order (shorter rows are padded with blanks; longer ones are kept, so
    ragged input rows lose nothing) or a mapping keyed by header name. ``rows_written``
    counts data rows. Raises ``ValueError`` for an unknown format.
    """

    def __init__(self, header: Sequence[str], fmt: ResultFormat | str = "csv", temp_dir: str | None = None):
        fmt = (fmt or "csv").lower()
        if fmt not in CONTENT_TYPES:
            raise ValueError(f"unknown result file format {fmt!r} (expected 'csv' or 'xlsx')")
        self.fmt = fmt
        self.header = [str(h) for h in header]
        self.rows_written = 0
        if temp_dir:
            Path(temp_dir).mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="result-", suffix=f".{fmt}", dir=temp_dir or None)
        os.close(fd)
        self.path = Path(name)
        self._closed = False
        if fmt == "csv":
            self._fh = open(self.path, "w", encoding="utf-8-sig", newline="")
            self._csv = csv.writer(self._fh)
            self._csv.writerow([_csv_cell(h) for h in self.header])
        else:
            from openpyxl import Workbook

            self._wb = Workbook(write_only=True)
            self._sheet_rows = 0
            self._new_sheet()

    def _new_sheet(self) -> None:
        n = len(self._wb.worksheets)
        self._ws = self._wb.create_sheet(title="results" if n == 0 else f"results_{n + 1}")
        self._ws.append([_xlsx_cell(h) for h in self.header])
        self._sheet_rows = 1

    def _as_list(self, row: Sequence[Any] | Mapping[str, Any]) -> list[Any]:
        if isinstance(row, list) and len(row) >= len(self.header):  # the common case, no copy
            return row
        if isinstance(row, Mapping):
            return [row.get(h) for h in self.header]
        vals = list(row)
        if len(vals) < len(self.header):
            vals.extend([None] * (len(self.header) - len(vals)))
        return vals

    def write(self, row: Sequence[Any] | Mapping[str, Any]) -> None:
        """Append one row (see the class docstring for its shapes)."""
        vals = self._as_list(row)
        if self.fmt == "csv":
            self._csv.writerow([v if type(v) is str and v[:1] not in _FORMULA_FIRST else _csv_cell(v)
                                for v in vals])
        else:
            if self._sheet_rows >= XLSX_MAX_ROWS:
                self._new_sheet()
            self._ws.append([_xlsx_cell(v) for v in vals])
            self._sheet_rows += 1
        self.rows_written += 1

    def write_many(self, rows: Iterable[Sequence[Any] | Mapping[str, Any]]) -> None:
        """Append rows (as :meth:`write`); for CSV one ``writerows`` call, with plain text
        cells (no formula prefix) passed through without a per-cell function call."""
        if self.fmt != "csv":
            for r in rows:
                self.write(r)
            return
        first, cell, as_list = _FORMULA_FIRST, _csv_cell, self._as_list
        out = [[v if type(v) is str and v[:1] not in first else cell(v) for v in as_list(r)] for r in rows]
        self._csv.writerows(out)
        self.rows_written += len(out)

    def close(self) -> Path:
        """Finish the file (idempotent); returns its local path."""
        if not self._closed:
            if self.fmt == "csv":
                self._fh.close()
            else:
                self._wb.save(str(self.path))
            self._closed = True
        return self.path

    def upload(self, store: BlobStore, key: str) -> str:
        """Close, upload to ``store`` at ``key``, delete the temporary file; returns the URI."""
        self.close()
        try:
            return store.put_file(key, self.path, content_type=CONTENT_TYPES[self.fmt])
        finally:
            self.discard()

    def discard(self) -> None:
        """Close and delete the temporary file without uploading."""
        if not self._closed:
            try:
                self.close()
            except Exception:  # noqa: BLE001 - we are throwing it away anyway
                self._closed = True
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> "ResultFileWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.discard()


def write_rows(store: BlobStore, key: str, header: Sequence[str],
               rows: Iterable[Sequence[Any] | Mapping[str, Any]], fmt: ResultFormat | str = "csv",
               *, temp_dir: str | None = None) -> str:
    """Write ``header`` + ``rows`` (streamed) as a CSV or XLSX file at ``key`` in ``store``;
    returns the stored object's URI (``file:///...`` or ``s3://bucket/key``).

    ``rows`` may be any iterable (a generator is fine: nothing is held in memory) of
    sequences in header order or mappings keyed by header name. Text cells are formula
    neutralised (see the module docstring). Raises ``ValueError`` for an unknown ``fmt``.
    """
    with ResultFileWriter(header, fmt, temp_dir=temp_dir) as w:
        w.write_many(rows)
        return w.upload(store, key)


def warnings_key(failed_key: str, fmt: ResultFormat | str = "csv") -> str:
    """Where the warnings file of a run goes: beside its failed-rows file, the same name with
    its last ``failed`` replaced by ``warnings`` and the extension by ``fmt``
    (``results/campaigns/R/campaign_csv_failed.csv`` ->
    ``results/campaigns/R/campaign_csv_warnings.csv``; ``.../failed_entities.csv`` ->
    ``.../warnings_entities.csv``). A name without ``failed`` gets ``_warnings`` appended."""
    folder, _, name = failed_key.rpartition("/")
    stem = name.rsplit(".", 1)[0] if "." in name else name
    at = stem.rfind("failed")
    stem = stem[:at] + "warnings" + stem[at + len("failed"):] if at >= 0 else stem + "_warnings"
    return (folder + "/" if folder else "") + f"{stem}.{(fmt or 'csv').lower()}"


def write_warnings(store: BlobStore, key: str, warnings: Iterable[Any],
                   fmt: ResultFormat | str = "csv", *, temp_dir: str | None = None) -> str:
    """Write a warnings file at ``key`` (see :func:`warnings_key`): one line per
    :class:`~.outcomes.CellWarning` — an optional cell that did not parse, its row kept —
    with the columns ``row, column, value, reason`` (:data:`~.outcomes.WARNING_COLUMNS`),
    ``value`` as written in the input. Formula neutralised like every result file; returns
    the URI. Raises ``ValueError`` for an unknown ``fmt``."""
    return write_rows(store, key, WARNING_COLUMNS, (w.as_row() for w in warnings), fmt, temp_dir=temp_dir)


def write_report_warnings(store: BlobStore, failed_key: str, report: Any,
                          fmt: ResultFormat | str = "csv", *, temp_dir: str | None = None) -> str:
    """The warnings file of ``report`` (an :class:`~.outcomes.IngestReport`) beside the
    failed-rows file ``failed_key`` (:func:`warnings_key`); returns its URI, or ``""`` when the
    report has no warnings or is a dry run (nothing is written then)."""
    if report.dry_run or not report.warnings:
        return ""
    return write_warnings(store, warnings_key(failed_key, fmt), report.warnings, fmt, temp_dir=temp_dir)


def read_back(data: bytes, fmt: ResultFormat | str) -> list[list[Any]]:
    """Parse a result file's bytes back into rows (header first) — for tests and previews.
    CSV cells come back as strings; XLSX cells as openpyxl gives them."""
    if fmt == "csv":
        return [list(r) for r in csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""))]
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(data), read_only=True)
    out: list[list[Any]] = []
    for i, ws in enumerate(wb.worksheets):
        for j, r in enumerate(ws.iter_rows(values_only=True)):
            if i > 0 and j == 0:
                continue  # the repeated header of continuation sheets
            out.append(list(r))
    return out
