"""PostgreSQL ``COPY`` text format: the one place its escaping rules live.

:func:`copy_value` renders one Python value, :func:`copy_escape` one string; :class:`CopyLines`
and :class:`CopyRows` hand rendered rows to ``copy_expert`` without one big buffer. The
vectorised renderer in :mod:`.columnar` writes only values that need no escaping under
:data:`COPY_SPECIALS` (its ``_clean``), so its output is what :func:`copy_value` gives for the
same values (pinned by ``engine/test_copytext.py``).

Format (PostgreSQL docs, "COPY", text format): columns separated by a tab, rows by a newline,
NULL written ``\\N``; a backslash, tab, newline or carriage return inside a value is written as
``\\\\``, ``\\t``, ``\\n``, ``\\r``; NUL cannot be stored in a text value at all (ValueError).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Sequence

#: What COPY writes for NULL.
COPY_NULL = "\\N"
#: The characters a value must not carry unescaped, and how each is written.
COPY_SPECIALS = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
_ESC = str.maketrans(COPY_SPECIALS)


def copy_escape(s: str) -> str:
    """``s`` escaped for COPY text format. Raises ``ValueError`` on NUL."""
    if "\\" in s or "\t" in s or "\n" in s or "\r" in s:
        s = s.translate(_ESC)
    if "\x00" in s:
        raise ValueError("NUL character in value")
    return s


def copy_value(v: Any) -> str:
    """One Python value in COPY text format: ``None`` -> ``\\N``, booleans ``t``/``f``,
    dates/times ISO 8601, dicts/lists as JSON, anything else ``str(v)``; escaped by
    :func:`copy_escape` (ValueError on NUL)."""
    if type(v) is str:  # the common case first
        return copy_escape(v)
    if v is None:
        return COPY_NULL
    if isinstance(v, bool):
        return "t" if v else "f"
    if isinstance(v, (dt.datetime, dt.date, dt.time)):
        return v.isoformat()
    if isinstance(v, (dict, list)):
        v = json.dumps(v, default=str)
    return copy_escape(str(v))


class CopyLines:
    """A read-only binary stream over ``texts`` (COPY text rows without newline, all ``str``
    or all UTF-8 ``bytes``), each followed by ``suffix`` and a newline, in ``read(size)``
    slices of about ``rows_per_read`` rows, so COPY gets its data without one big buffer of
    the whole batch (a batch of 20,000 rows would otherwise be a ~5 MB string plus its
    encoding, per writer, per batch)."""

    def __init__(self, texts: Sequence[str] | Sequence[bytes], suffix: str = "", rows_per_read: int = 500):
        self.texts = texts
        self.raw = bool(texts) and isinstance(texts[0], bytes)
        self.end = (suffix + "\n").encode() if self.raw else suffix + "\n"
        self.i = 0
        self.step = rows_per_read * 4 if self.raw else rows_per_read

    def read(self, size: int = -1) -> bytes:
        i, texts = self.i, self.texts
        if i >= len(texts):
            return b""
        j = min(len(texts), i + self.step)
        self.i = j
        end = self.end
        if self.raw:
            return end.join(texts[i:j]) + end
        return (end.join(texts[i:j]) + end).encode()

    def readline(self, size: int = -1) -> bytes:  # pragma: no cover - not used by COPY FROM
        return self.read(size)


class CopyRows(Sequence):
    """Rows for COPY kept as whole blocks of COPY text — ``(first line, row count,
    b"row\\nrow\\n...")`` as a vectorised parser renders them — plus single ``(line, text)``
    rows. A clean batch goes to COPY block by block (:meth:`chunks`) without a Python object
    per row; the row-wise view (``batch[i]``, slicing, iteration: ``(line, bytes)`` pairs,
    in the order added) is built only when needed — bisecting a refused batch, staging with
    line numbers, other dialects."""

    def __init__(self) -> None:
        self.blocks: list[tuple[int, int, bytes]] = []
        self.n = 0
        self._rows: list[tuple[int, bytes]] | None = None

    def add_block(self, first_line: int, count: int, text: bytes) -> None:
        """``count`` rows of consecutive lines from ``first_line``; ``text`` ends with a newline."""
        if count:
            self.blocks.append((first_line, count, text))
            self.n += count
            self._rows = None

    def add_row(self, line: int, text: bytes) -> None:
        self.add_block(line, 1, text + b"\n")

    def __len__(self) -> int:
        return self.n

    def rows(self) -> list[tuple[int, bytes]]:
        if self._rows is None:
            out: list[tuple[int, bytes]] = []
            for n0, count, text in self.blocks:
                out.extend(zip(range(n0, n0 + count), text.split(b"\n")[:count]))
            self._rows = out
        return self._rows

    def __getitem__(self, i):  # type: ignore[override]
        return self.rows()[i]

    def __iter__(self):
        return iter(self.rows())

    def chunks(self) -> list[bytes]:
        """The COPY text, block by block (each ends with a newline)."""
        return [text for _, _, text in self.blocks]


class Chunks:
    """A read-only binary stream over a list of ``bytes`` chunks (for ``copy_expert``)."""

    def __init__(self, chunks: list[bytes]):
        self.it = iter(chunks)

    def read(self, size: int = -1) -> bytes:
        return next(self.it, b"")

    def readline(self, size: int = -1) -> bytes:  # pragma: no cover - not used by COPY FROM
        return self.read(size)
