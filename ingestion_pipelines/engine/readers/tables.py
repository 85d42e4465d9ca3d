"""What the tabular readers (CSV/TSV, XLSX, a JSON array of arrays) share: header cells made
into column names (:func:`normalize_headers`, :func:`header_columns`), a row fitted to the
header (:func:`fitted_record`), and :class:`TableReader`, the streaming of content rows.

Header cells are the one place where the readers change what they read; values are never
touched (stripping, null tokens and types belong to :mod:`ingestion_pipelines.engine.validate`).
"""

from __future__ import annotations

import re
from typing import Any, Iterator

from .records import FileFormatError, SourceRecord

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


def header_columns(header: list[Any] | None, given: list[str] | None, where: str,
                   empty: str) -> list[str]:
    """The column names for a header row's cells: ``given`` (``columns=``, checked to have as
    many names as the header has columns) or :func:`normalize_headers`. Trailing empty header
    cells (``a,b,c,,``) name no column. Raises :class:`FileFormatError` with ``empty`` when
    there is no header row (``header`` is None) or it is blank."""
    if header is None:
        raise FileFormatError(f"{where}{empty}")
    header = list(header)
    while header and blank(header[-1:]):
        header.pop()
    if not header:
        raise FileFormatError(f"{where}the header row is blank")
    if given is not None and len(given) != len(header):
        raise FileFormatError(
            f"{where}columns= gives {len(given)} names but the header row has {len(header)} columns")
    return given if given is not None else normalize_headers(header)


def check_columns(columns: list[str] | None) -> list[str] | None:
    """``columns=`` as strings; raises ``ValueError`` when empty or with duplicate names."""
    if columns is None:
        return None
    columns = [str(c) for c in columns]
    dupes = sorted({c for c in columns if columns.count(c) > 1})
    if dupes:
        raise ValueError(f"columns= has duplicate names: {', '.join(dupes)}")
    if not columns:
        raise ValueError("columns= is empty")
    return columns


def fitted_record(number: int, cells: list[Any], keys: list[str], where: str,
                  pad: bool) -> SourceRecord:
    """The record of one row of ``cells`` under the header ``keys`` (``raw`` = the cells), or
    a failed record ``"<where>: expected X columns, found Y"`` (see :func:`fit`)."""
    fitted, err = fit(cells, len(keys), where, pad)
    if err:
        return SourceRecord(number, None, err, cells)
    return SourceRecord(number, dict(zip(keys, fitted)), None, cells)  # type: ignore[arg-type]


def fit(cells: list[Any], n: int, where: str, pad: bool) -> tuple[list[Any] | None, str | None]:
    """Cells fitted to ``n`` columns, or an error. Extra empty trailing cells are dropped;
    short rows are padded with ``None`` when ``pad`` (spreadsheets), else an error."""
    m = len(cells)
    if m == n:
        return cells, None
    if m > n:
        if blank(cells[n:]):
            return cells[:n], None
        last = max(i for i, c in enumerate(cells) if not blank((c,))) + 1
        return None, f"{where}: expected {n} columns, found {last}"
    if pad:
        return list(cells) + [None] * (n - m), None
    return None, f"{where}: expected {n} columns, found {m}"


def blank(cells: Any) -> bool:
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


class TableReader:
    """A file read as rows under a header. Subclasses set ``columns`` and ``_pending`` (the
    first content row when it was read to size a header-less file) and yield
    ``(row number, cells)`` for each non-blank row from :meth:`_content_rows`."""

    columns: list[str]
    _pending: tuple[int, Any] | None = None

    def _content_rows(self) -> Iterator[tuple[int, Any]]:
        raise NotImplementedError

    def rows(self) -> Iterator[tuple[int, Any]]:
        """``(row number, cells)`` for each non-blank row after the header."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            yield pending
        yield from self._content_rows()

    def count(self) -> int:
        """How many records :meth:`records` will yield (failed ones included)."""
        return sum(1 for _ in self.rows())


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
