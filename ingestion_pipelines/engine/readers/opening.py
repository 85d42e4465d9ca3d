"""Telling a file's format from its name and opening its bytes: :func:`detect_format` and
:func:`open_binary`.

gzip is recognised by its magic bytes ``1f 8b`` (not by the file name) for every format; the
name only tells the format of what is inside (``a.csv.gz`` is CSV).
"""

from __future__ import annotations

import gzip
import io
import os
from pathlib import PurePosixPath
from typing import Any, BinaryIO

#: The formats :func:`~ingestion_pipelines.engine.readers.iter_records` reads.
FORMATS = ("csv", "tsv", "ndjson", "json", "xlsx")

#: Bytes sampled at the start of a file for encoding and delimiter detection (also the
#: buffer size of :func:`open_binary`, so that a full sample can be peeked).
SAMPLE_BYTES = 64 * 1024

GZIP_MAGIC = b"\x1f\x8b"

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


def resolve_format(source: Any, fmt: str | None, name: str | None) -> str:
    """``fmt`` checked (``'jsonl'`` = ``'ndjson'``), else :func:`detect_format` on ``name`` or
    the source's own name. Raises ``ValueError`` when neither tells."""
    if fmt is not None:
        fmt = fmt.lower().lstrip(".")
        if fmt == "jsonl":
            fmt = "ndjson"
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
        return fmt
    label = name or name_of(source)
    if label is None:
        raise ValueError("cannot tell the file format: pass fmt= or name=")
    return detect_format(label)


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
    inner, owned = open_source(path_or_file)
    try:
        head = inner.read(2)
        while isinstance(head, bytes) and len(head) == 1:  # a short read from a pipe
            more = inner.read(1)
            if not more:
                break
            head += more
        if isinstance(head, str):
            raise TypeError("expected a binary file (opened with 'rb'), got a text stream")
        if head == GZIP_MAGIC:
            plain = io.BufferedReader(_RawReader(inner, head, owned), SAMPLE_BYTES)
            gz = gzip.GzipFile(fileobj=plain, mode="rb")
            return io.BufferedReader(_RawReader(gz, b"", (gz, plain)), SAMPLE_BYTES)
        return io.BufferedReader(_RawReader(inner, head, owned), SAMPLE_BYTES)
    except BaseException:
        for obj in owned:
            obj.close()
        raise


def open_source(source: Any) -> tuple[Any, tuple]:
    """(a readable binary object, the objects we opened and must close) for a path, bytes or
    a binary file object. Raises ``TypeError`` for anything else."""
    if isinstance(source, (str, os.PathLike)):
        f = open(source, "rb")
        return f, (f,)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(bytes(source)), ()
    if hasattr(source, "read"):
        return source, ()
    raise TypeError(f"expected a path, bytes or a binary file object, got {type(source).__name__}")


def name_of(source: Any) -> str | None:
    """The path or file object's name, if it has one."""
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    name = getattr(source, "name", None)
    return name if isinstance(name, str) else None


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
