"""The text encoding of a CSV file, and whether it is text at all: :func:`detect_encoding`,
:func:`binary_kind`, and the decoding error handler :data:`DECODE_ERRORS`.

Rules: a BOM decides (UTF-8, UTF-16 LE/BE, UTF-32); BOM-less UTF-16 is recognised by its
pattern of NUL bytes; otherwise the 64 KiB sample is tried as UTF-8, then cp1252, then
latin-1 (which always succeeds). A byte that does not decode later in the file never crashes
the read: it is decoded as its cp1252 character (latin-1 for the five bytes cp1252 leaves
undefined), which is what a stray Windows-1252 byte in a UTF-8 export almost always is. The
row is kept (not failed) because it loses no information.
"""

from __future__ import annotations

import codecs

#: The ``errors=`` name of the cp1252 fallback decoder (registered with :mod:`codecs`).
DECODE_ERRORS = "ingest-cp1252-fallback"

_BINARY_MAGICS = (
    (b"PK\x03\x04", "a ZIP archive (an .xlsx workbook?)"),
    (b"\xd0\xcf\x11\xe0", "an OLE2 file (a legacy .xls workbook?)"),
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


def detect_encoding(sample: bytes, at_eof: bool) -> str:
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


def binary_kind(sample: bytes, encoding: str) -> str | None:
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


def _byte_to_char(b: int) -> str:
    try:
        return bytes([b]).decode("cp1252")
    except UnicodeDecodeError:
        return chr(b)  # latin-1 for 0x81 0x8d 0x8f 0x90 0x9d


_CP1252_FALLBACK = [_byte_to_char(b) for b in range(256)]


def _cp1252_fallback(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start:exc.end]
    return "".join(_CP1252_FALLBACK[b] for b in bad), exc.end


codecs.register_error(DECODE_ERRORS, _cp1252_fallback)
