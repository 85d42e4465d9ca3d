"""A vectorised fast path for NDJSON records: Apache Arrow parses and validates a whole block
of lines at once and renders the rows that pass as PostgreSQL ``COPY`` text, with no Python
object per value.

It is *conservative*: a row is rendered only when a careful per-line parser (the source's own,
e.g. ``sources/tenants/records.Parser``) would accept it and give the very same COPY text.
Everything else comes back to the caller for the careful parser, which either accepts it or
gives the reason: a whole block (``parse`` returns None) that Arrow cannot read (malformed
JSON, a value of the wrong JSON type), that holds a blank line or invalid UTF-8 anywhere, or
— where records carry fields the schema does not read — ``NaN`` / ``Infinity`` / surrogate
escapes, which orjson refuses; single rows (``rejected``) with a value this path does not
vouch for (a backslash or control character to escape, an id given as a JSON number, a
calendar-impossible or year-0000 timestamp, an e-mail address with letters whose
lower case Arrow and Python disagree on, a reference to a
missing parent).

Field kinds (the same names the sources' field specs use):

=========  ==================================================================================
``id``     non-empty string of at most 64 characters
``str``    non-empty string
``int``    JSON integer in -(2**31-1) .. 2**31-1 (PostgreSQL ``integer``)
``money``  string amount ``-?\\d{1,12}(.\\d{1,2})?`` (e.g. ``"415.45"``)
``ts``     ISO 8601 timestamp with a time zone (``2023-03-08T08:29:30+00:00``, ``...Z``)
``bool``   ``true`` / ``false`` (rendered ``t`` / ``f``)
``email``  ``local@domain.tld``, ASCII or Latin letters (rendered lower-case)
``country`` two ASCII letters (rendered upper-case)
tuple      one of the tuple's strings (an enum)
=========  ==================================================================================

Optional fields render ``\\N`` when null or missing; a required one missing rejects the row.
Cost (measured on 1.75 M order items, one core, 2 MB blocks): ~1.2 µs per row for parse +
validation + reference checks + rendering, against ~4.3 µs for orjson + per-field Python
checks with the batching around them. Memory: parsing 2 MB blocks of order items raised peak
RSS by ~50 MB (measured with the parser alone).
"""

from __future__ import annotations

import datetime
import functools
import io
import re
from array import array
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pj

from .copytext import COPY_NULL

_MONEY = r"^-?\d{1,12}(?:\.\d{1,2})?$"
# ISO 8601 with a zone, the forms Python's datetime.fromisoformat and PostgreSQL both accept;
# calendar validity (Feb 30) is checked by Arrow's own timestamp parser afterwards.
_TS = (r"^(?:[1-9]\d{3}|0[1-9]\d{2}|00[1-9]\d|000[1-9])-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d"
       r"(?:\.\d{1,6})?(?:Z|[+-](?:[01]\d|2[0-3]):?[0-5]\d)$")
_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
_COUNTRY = r"^[A-Za-z]{2}$"
_MAX_INT = 2**31 - 1

# Arrow's default allocator here is mimalloc, which reserves its segments per thread and
# keeps them: the first comparison kernel on a 12,000-row column raised RSS by ~35 MB, and a
# load's peak by ~70 MB in all, for no speed gained (measured on order items). Arrow is used
# only by this module in this code location, so the process default becomes the system pool.
pa.set_memory_pool(pa.system_memory_pool())

_ARROW_TYPES = {"id": pa.string(), "str": pa.string(), "int": pa.int64(), "money": pa.string(),
                "ts": pa.string(), "bool": pa.bool_(), "email": pa.string(), "country": pa.string()}


def _arrow_type(kind: Any) -> pa.DataType:
    return pa.string() if isinstance(kind, tuple) else _ARROW_TYPES[kind]


@dataclass
class ParsedBlock:
    """The outcome of one block of ``n`` lines.

    ``text``: COPY text of the rows that passed, in line order, each ending with a newline;
    ``ids``: their id values (the first field), as ``str``; ``rejected``: indices of the
    lines the careful parser must handle; ``n``: the block's lines."""

    text: bytes
    ids: list[str]
    rejected: list[int]
    n: int
    #: ``ids`` as an Arrow string array (~20 bytes per id instead of ~60 for a ``str``), for
    #: callers that keep them (e.g. to tell where a repeated id was first seen)
    id_array: pa.Array | None = None

    @property
    def index(self) -> list[int] | None:
        """The line indices of the rows in ``text`` (None when every line passed: row ``i``
        is line ``i``)."""
        if not self.rejected:
            return None
        rejected = set(self.rejected)
        return [i for i in range(self.n) if i not in rejected]

    @property
    def rows(self) -> list[bytes]:
        """``text`` split into rows (without newlines)."""
        return self.text.split(b"\n")[:-1]


class ColumnarParser:
    """Parses NDJSON blocks of one record type with Arrow (see the module docstring).

    ``fields``: ``[(name, kind, required)]`` in output order, the first being the record's id.
    ``fixed``: ``(name, value)`` of a leading column every record must carry with exactly
    this value (e.g. ``("tenant_id", "<tenant>")``); it is rendered first.
    ``refs``: ``[(field, ids)]`` — the value of ``field`` must be ``in ids`` (any container;
    looked up once per distinct value of a block), else the row is rejected (the careful
    parser then reports the orphan)."""

    def __init__(self, fields: Sequence[tuple[str, Any, bool]], *, fixed: tuple[str, str] | None = None,
                 refs: Iterable[tuple[str, Any]] = ()):
        self.fields = list(fields)
        self.fixed = fixed
        self.refs = list(refs)
        cols = ([(fixed[0], pa.string())] if fixed else []) + [(f, _arrow_type(k)) for f, k, _ in self.fields]
        self.schema = pa.schema(cols)
        # "infer" first: a block whose records carry no other fields (the usual case) needs no
        # scan for tokens only orjson refuses (see _suspicious); "ignore" when inferring fails.
        self._infer = pj.ParseOptions(explicit_schema=self.schema, unexpected_field_behavior="infer")
        self._ignore = pj.ParseOptions(explicit_schema=self.schema, unexpected_field_behavior="ignore")
        # One thread: Arrow's thread pool keeps more memory resident for the same speed here
        # (measured on 2 MB slices of order items).
        self._read_options = pj.ReadOptions(block_size=4 << 20, use_threads=False)
        self._pool = pa.system_memory_pool()

    def read(self, data: bytes) -> pa.Table | None:
        """Arrow's reading of ``data`` (whole lines) with the schema's columns only, or None
        when Arrow refuses any of it — or reads a field the schema does not have next to a
        token orjson would refuse (see :func:`_suspicious`)."""
        t = self._read(data, self._infer)
        extra = t is None or t.num_columns > len(self.schema)
        if t is None:
            t = self._read(data, self._ignore)
        if t is None or (extra and _suspicious(data)):
            return None
        return t.select(self.schema.names) if t.num_columns > len(self.schema) else t

    def _read(self, data: bytes, options: pj.ParseOptions) -> pa.Table | None:
        try:
            return pj.read_json(pa.BufferReader(data), read_options=self._read_options,
                                parse_options=options, memory_pool=self._pool)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError, ValueError):
            return None

    def parse(self, data: bytes, n: int) -> ParsedBlock | None:
        """Parse ``data``: exactly ``n`` newline-terminated lines. Returns None when Arrow
        refuses the block or reads another number of records (blank lines); the caller then
        splits the block or parses its lines one by one."""
        if _declined(data):
            return None
        t = self.read(data)
        if t is None or t.num_rows != n:
            return None
        # (no UTF-8 check of the string columns: _declined checked the whole block, and Arrow
        # itself refuses a \u escape of a lone surrogate)
        t = t.combine_chunks()
        ok = pa.array([True] * n, pa.bool_()) if not self.fixed else None
        rendered = []
        if self.fixed:
            name, value = self.fixed
            ok = pc.fill_null(pc.equal(t[name], value), False)
            rendered.append(t[name])  # equal to ``value`` in every row that passes
        for name, kind, required in self.fields:
            col = t[name]
            valid, text = self._check(col, kind, n)
            present = pc.is_valid(col)
            if required:
                ok = pc.and_(ok, pc.and_(present, pc.fill_null(valid, False)))
            else:
                ok = pc.and_(ok, pc.or_(pc.invert(present), pc.fill_null(valid, False)))
                if not pa.types.is_string(text.type):
                    text = pc.cast(text, pa.string())
                text = pc.fill_null(text, COPY_NULL)
            rendered.append(text)
        for name, ids in self.refs:
            missing = _missing(ids, pc.unique(pc.filter(t[name], ok)).to_pylist())
            if missing:
                ok = pc.and_(ok, pc.invert(pc.fill_null(pc.is_in(t[name], value_set=pa.array(missing, pa.string())), False)))
        ok = ok.combine_chunks() if isinstance(ok, pa.ChunkedArray) else ok
        n_ok = ok.true_count  # (not pc.sum: Arrow's aggregations start a thread pool, ~35 MB)
        out = pa.table(rendered, names=[f"c{i}" for i in range(len(rendered))])
        if n_ok < n:
            out = out.filter(ok)
        text = _copy_text(out) if n_ok else b""
        id_col = t[self.fields[0][0]].chunk(0) if t.num_rows else pa.array([], pa.string())
        id_array = pc.filter(id_col, ok) if n_ok < n else id_col
        rejected = [] if n_ok == n else [i for i, f in enumerate(ok.to_pylist()) if not f]
        return ParsedBlock(text, id_array.to_pylist(), rejected, n, id_array)

    @staticmethod
    def _check(col: pa.Array, kind: Any, n: int) -> tuple[pa.Array, pa.Array]:
        """(values this path vouches for, their COPY text) of one column."""
        if isinstance(kind, tuple):  # a regex alternation: faster than is_in's hash set here
            return pc.match_substring_regex(col, "^(?:" + "|".join(re.escape(k) for k in kind) + ")$"), col
        if kind in ("id", "str"):
            valid = _clean(col)
            if kind == "id":
                valid = pc.and_(valid, pc.less_equal(pc.utf8_length(col), 64))
            return valid, col
        if kind == "int":
            valid = pc.and_(pc.greater_equal(col, -_MAX_INT), pc.less_equal(col, _MAX_INT))
            return valid, col  # written as its digits
        if kind == "money":
            return pc.match_substring_regex(col, _MONEY), col
        if kind == "ts":
            valid = pc.match_substring_regex(col, _TS)
            try:  # calendar validity (Feb 30, ...) by Arrow's ISO 8601 parser, for the values that look right
                pc.cast(pc.filter(col, pc.fill_null(valid, False)), pa.timestamp("us", tz="UTC"))
            except (pa.ArrowInvalid, ValueError):  # rare: find the impossible dates one by one
                valid = pa.array([bool(ok) and _calendar_ok(v) for ok, v in
                                  zip(pc.fill_null(valid, False).to_pylist(), col.to_pylist())], pa.bool_())
            return valid, col
        if kind == "bool":
            return pc.is_valid(col), pc.if_else(col, "t", "f")
        if kind == "email":
            if isinstance(col, pa.ChunkedArray):
                col = col.combine_chunks()
            if pc.string_is_ascii(col).false_count == 0:
                valid = pc.and_(_clean(col), pc.match_substring_regex(col, _EMAIL))
                return valid, pc.ascii_lower(col)
            # non-ASCII: only letters both lower-case mappings agree on (see _email_letters)
            valid = pc.and_(pc.and_(pc.match_substring_regex(col, _email_letters()), _clean(col)),
                            pc.match_substring_regex(col, _EMAIL))
            return valid, pc.utf8_lower(col)
        if kind == "country":
            return pc.match_substring_regex(col, _COUNTRY), pc.ascii_upper(col)
        raise ValueError(f"unknown field kind {kind!r}")


_CSV = pacsv.WriteOptions(include_header=False, delimiter="\t", quoting_style="none")


def _copy_text(table: pa.Table) -> bytes:
    """``table``'s rows as COPY text lines (tab-separated, newline-terminated): the vectorised
    form of :func:`~.copytext.copy_value`, for values that need no escaping (every value
    passed :func:`_clean`, which refuses the characters of :data:`~.copytext.COPY_SPECIALS`;
    NULL is :data:`~.copytext.COPY_NULL`). Arrow's CSV writer does it in one pass
    (~10x faster than joining the columns), except that it refuses a value with a double
    quote, which then goes through a row-wise join."""
    buf = io.BytesIO()
    try:
        pacsv.write_csv(table, buf, _CSV)
        return buf.getvalue()
    except pa.ArrowInvalid:
        cols = [pc.cast(c, pa.string()) if not pa.types.is_string(c.type) else c for c in table.columns]
        line = pc.binary_join_element_wise(*cols, pa.scalar("\n"), "\t")
        return _concat(line).replace(b"\t\n", b"\n")


# A blank or whitespace-only line: Arrow skips it, so a line holding two records elsewhere in
# the block would make the counts agree again (RE2 finds it in ~0.2 ms per 2 MB).
_BLANK_LINE = r"\n[ \t\r]*\n"
# Tokens Arrow reads in a field it is not asked for, where orjson refuses the line: NaN /
# Infinity (not JSON; a string merely containing the word matches too) and \\uD... escapes
# (surrogates, which orjson checks). ~3.5 ms per 2 MB, so only where other fields exist.
_SUSPICIOUS = r"NaN|Infinity|\\u[dD]"


def _one_value(data: bytes, type_: pa.DataType) -> pa.Array:
    """``data`` as a one-value Arrow array (no copy)."""
    return pa.Array.from_buffers(type_, 1, [None, pa.py_buffer(array("i", [0, len(data)]).tobytes()), pa.py_buffer(data)])


def _declined(data: bytes) -> bool:
    """Blocks this path leaves to the careful parser as a whole: bytes that are not valid
    UTF-8 anywhere (Arrow checks only the fields it reads; ~0.1 ms per 2 MB), and a blank or
    whitespace-only line."""
    if data.lstrip(b" \t\r")[:1] == b"\n":  # the first line is blank
        return True
    try:
        _one_value(data, pa.string()).validate(full=True)
    except pa.ArrowInvalid:
        return True
    return bool(pc.match_substring_regex(_one_value(data, pa.binary()), _BLANK_LINE)[0].as_py())


def _suspicious(data: bytes) -> bool:
    return bool(pc.match_substring_regex(_one_value(data, pa.binary()), _SUSPICIOUS)[0].as_py())


def _clean(col: pa.Array) -> pa.Array:
    """Values that need no COPY escaping (none of :data:`~.copytext.COPY_SPECIALS`) and that
    the careful parsers accept as they are:
    non-empty, printable (no tab, newline, CR, NUL or other control character; a few exotic
    spaces such as U+00A0 are refused too, and left to the careful path) and no backslash.
    (A regex for this, a negated Unicode class, made RE2 hold ~40 MB.)"""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    ok = pc.ascii_is_printable(col)
    if ok.false_count:
        ok = pc.utf8_is_printable(col)
    return pc.and_(pc.and_(ok, pc.greater(pc.binary_length(col), 0)), pc.invert(pc.match_substring(col, "\\")))


@functools.cache
def _email_letters() -> str:
    """A regex of e-mail addresses made of ASCII and the Latin letters (U+00C0..U+024F) whose
    lower case is the same one character by Arrow's ``utf8_lower`` (Unicode's simple case
    mapping) and by Python's ``str.lower`` (the full mapping, which the careful parsers use) —
    computed here, not assumed (``İ`` lower-cases to two characters in Python, for one).
    Other addresses go to the careful path."""
    cands = [chr(c) for c in range(0xC0, 0x250) if chr(c).isalpha() and chr(c).isprintable()]
    arrow = pc.utf8_lower(pa.array(cands, pa.string())).to_pylist()
    ok = "".join(c for c, a in zip(cands, arrow) if c.lower() == a and len(a) == 1)
    return "^[\\x00-\\x7f" + re.escape(ok) + "]*$"


def _calendar_ok(v: str) -> bool:
    try:
        return datetime.datetime.fromisoformat(v).tzinfo is not None
    except ValueError:
        return False


def _missing(ids: Any, values: list) -> list:
    """The ``values`` not in ``ids``: ``ids.missing(values)`` when the container has it
    (vectorised), a set difference for sets, else one lookup per value."""
    finder = getattr(ids, "missing", None)
    if finder is not None:
        return finder(values)
    if isinstance(ids, (set, frozenset)):
        return list(set(values).difference(ids))
    return [v for v in values if v not in ids]


def _concat(arr: pa.Array | pa.ChunkedArray) -> bytes:
    """The character data of a string array, all values back to back, as one ``bytes``."""
    chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
    out = []
    for c in chunks:
        if len(c) == 0:
            continue
        offsets = c.buffers()[1]
        data = c.buffers()[2]
        off = memoryview(offsets).cast("i")
        start, end = off[c.offset], off[c.offset + len(c)]
        out.append(bytes(memoryview(data)[start:end]) if data is not None else b"")
    return b"".join(out)
