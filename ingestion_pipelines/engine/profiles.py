"""Declarative CSV profiles (DESIGN.md §10, "a CRM source is mostly data"): one
:class:`CsvProfile` per export (a system's object), made of :class:`Field` s.

A profile says, as data, what a CRM export holds: its canonical fields with a type, a
required flag and the header spellings each export version uses (``aliases``), its key, and
its table — derived from the fields (``<system>_<object>``: the fields' columns, ``raw``,
the audit columns) or an existing SQLAlchemy table (``table=``, e.g. a Genius table declared
by its DB source). Everything else is derived from it: the command ``csv-<system>-<object>``,
the landing prefix ``crm/<system>/<object>/``, the asset key, group, job and sensor names
(:class:`CsvProfile` properties), the header mapping (:func:`map_headers`) and the row
conversion (:class:`RowConverter`). Loading a file is :mod:`.profile_load`; the Dagster
objects are :mod:`.profile_assets`.

Field types and the normaliser of :mod:`.validate` each uses (blank cells are ``None``):

============  ==============================================================================
``text``      :func:`~.validate.text` (``max_length``)
``integer``   :func:`~.validate.integer` (``25,000``, ``50k``, ``12.0``)
``decimal``   :func:`~.validate.decimal` (``places``)
``money``     :func:`~.validate.decimal` with 2 places (``$1,200.50``, ``(300)``)
``boolean``   :func:`~.validate.boolean` (``TRUE/1/YES/Y`` ...)
``date``      :func:`~.validate.date` (US ``m/d/Y``, ISO, month names, Excel serials)
``datetime``  :func:`~.validate.timestamp` (ISO with ``Z``/offset, 12-hour times, Excel
              serials); a naive value is in the zone named by ``tz_field``'s cell (Arrivy's
              separate time-zone column) or else the profile's ``default_tz``; ``time_field``
              names a field whose cell is the time of day of this field's date cell
``time``      :func:`~.validate.time_of_day` (``14:30``, ``2:30 PM``, Excel fractions)
``phone``     :func:`~.validate.phone`: E.164, ``region`` or the profile's ``default_region``
``email``     :func:`~.validate.email` (email-validator), then lower-cased entirely
``zip``       :func:`~.validate.zipcode` (text: leading zeros, ZIP+4, Excel's apostrophe)
``us_state``  :func:`~.validate.us_state` (two-letter USPS code from a code or a name)
``json``      :func:`~.validate.json_cell` (JSON; JSONB on PostgreSQL)
============  ==============================================================================

``parse=`` replaces the type's normaliser for one field (``parse(value, field) -> value``,
raising :class:`~.validate.FieldError`), e.g. SalesPro's office id inside parentheses.
"""

from __future__ import annotations

import functools
import operator
import re
import unicodedata
from dataclasses import dataclass, field as dc_field
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa

from ..settings import DATA_DIR
from . import validate as v
from .outcomes import CellWarning
from .schema import JSON_TYPE, record_columns

__all__ = ["ConvertedBatch", "CsvProfile", "Field", "FIELD_TYPES", "HeaderMap", "JSON_TYPE", "MissingColumnsError",
           "RowConverter", "compact_header", "csv_metadata", "map_headers", "normalize_header", "raw_column",
           "raw_json_column"]

#: The field types (see the module docstring).
FIELD_TYPES = ("text", "integer", "decimal", "money", "boolean", "date", "datetime", "time", "phone",
               "email", "zip", "us_state", "json")

def raw_column(name: str = "raw") -> sa.Column:
    """The ``raw`` column alone (the first of :func:`~.schema.record_columns`)."""
    return record_columns(name)[0]


@dataclass(frozen=True)
class Field:
    """One canonical field of an export: ``name`` is its canonical name and table column.

    ``type``: one of :data:`FIELD_TYPES`; ``required``: a row without a usable value fails
    (key fields are always required); ``aliases``: other header spellings, in order of
    preference (headers match after :func:`normalize_header`, so case, spaces, punctuation,
    camelCase, ``#``/``No.`` need no alias); when several headers of a file match one field,
    the first non-blank of them (canonical name first, then ``aliases`` in order) is read.
    To prefer an alias over the canonical name, list the name among the aliases
    (``Field("id", aliases=("lead_id", "id", "_id"))`` reads ``lead_id`` first).
    Options: ``max_length`` (text), ``places`` (decimal; money is 2), ``region`` (phone,
    default the profile's), ``tz_field`` / ``time_field`` (datetime, see the module
    docstring), ``dayfirst`` (date/datetime: ``d/m/Y``), ``excel`` (date/datetime/time: read
    Excel serials; default True), ``plus4`` (zip: keep ZIP+4), ``true_values`` /
    ``false_values`` (boolean: more tokens, any case, e.g. ``("Active",)`` / ``("Inactive",)``,
    ``("duplicate",)``), ``choices`` (text: variant -> canonical value, through
    :func:`~.validate.choice`; anything else is a bad cell), ``parse`` (a normaliser of
    your own), ``column_type`` (the derived table's column type instead of the type's),
    ``store`` (False: read for another field, e.g. a ``time_field``, not a column),
    ``description``.
    """

    name: str
    type: str = "text"
    required: bool = False
    aliases: tuple[str, ...] = ()
    max_length: int | None = None
    places: int | None = None
    region: str | None = None
    tz_field: str | None = None
    time_field: str | None = None
    dayfirst: bool = False
    excel: bool = True
    plus4: bool = True
    true_values: tuple[str, ...] = ()
    false_values: tuple[str, ...] = ()
    choices: Mapping[str, str] | None = None
    parse: Callable[[Any, str], Any] | None = None
    column_type: Any = None
    store: bool = True
    description: str = ""

    def __post_init__(self) -> None:
        if self.type not in FIELD_TYPES:
            raise ValueError(f"field {self.name!r}: unknown type {self.type!r} (one of {', '.join(FIELD_TYPES)})")
        if isinstance(self.aliases, str):
            object.__setattr__(self, "aliases", (self.aliases,))
        if (self.tz_field or self.time_field) and self.type != "datetime":
            raise ValueError(f"field {self.name!r}: tz_field / time_field are for datetime fields")

    def spellings(self) -> tuple[str, ...]:
        """The header spellings of this field in order of preference: its name, then its
        aliases (or just the aliases when they list the name)."""
        return self.aliases if self.name in self.aliases else (self.name, *self.aliases)

    def sql_type(self) -> Any:
        """The column type of a derived table (``column_type`` when given)."""
        if self.column_type is not None:
            return self.column_type
        t = self.type
        if t == "text":
            return sa.String(self.max_length) if self.max_length else sa.Text()
        return {
            "integer": sa.BigInteger(), "decimal": sa.Numeric(20, self.places if self.places is not None else 6),
            "money": sa.Numeric(14, 2), "boolean": sa.Boolean(), "date": sa.Date(),
            "datetime": sa.DateTime(timezone=True), "time": sa.Time(), "phone": sa.String(20),
            "email": sa.String(320), "zip": sa.String(10), "us_state": sa.String(2), "json": JSON_TYPE,
        }[t]


# -- header normalisation ------------------------------------------------------------------

_NUMBER_SIGN = re.compile(r"#|\bno\.(?=\s|$|[_\W])|\bnr\.(?=\s|$|[_\W])", re.I)
_CAMEL_1 = re.compile(r"([a-z0-9])([A-Z])")
_CAMEL_2 = re.compile(r"([A-Z]+)([A-Z][a-z])")
_NON_WORD = re.compile(r"[\W_]+")


@functools.lru_cache(maxsize=4096)
def normalize_header(header: str) -> str:
    """A header in snake case, the form fields and aliases are compared in: NFKC, ``#`` and
    ``No.``/``Nr.`` -> ``number``, camelCase split (``customerLastName`` ->
    ``customer_last_name``, ``LeadID`` -> ``lead_id``), case folded, every run of
    punctuation or spaces -> ``_``, ends stripped (``"Mileage (in miles)"`` ->
    ``mileage_in_miles``, ``"customer.nameLast"`` -> ``customer_name_last``, ``"_id"`` -> ``id``)."""
    s = unicodedata.normalize("NFKC", str(header)).replace("\ufeff", "").strip()
    s = _NUMBER_SIGN.sub(" number ", s)
    s = _CAMEL_2.sub(r"\1_\2", _CAMEL_1.sub(r"\1_\2", s))
    return _NON_WORD.sub("_", s.casefold()).strip("_")


def compact_header(header: str) -> str:
    """:func:`normalize_header` without its underscores: the key headers are matched on, so
    ``FirstName``, ``first_name``, ``First Name`` and ``firstname`` are one header."""
    return normalize_header(header).replace("_", "")


class MissingColumnsError(ValueError):
    """A file lacks a required column. ``missing``: {field: the header spellings expected};
    ``found``: the file's headers. The message names both."""

    def __init__(self, missing: Mapping[str, Sequence[str]], found: Sequence[str], where: str = ""):
        self.missing = dict(missing)
        self.found = list(found)
        wanted = "; ".join(f"{f} (a header like {', '.join(repr(s) for s in spellings)})"
                           for f, spellings in self.missing.items())
        shown = ", ".join(repr(h) for h in self.found[:40]) + (" ..." if len(self.found) > 40 else "")
        super().__init__(f"{where}missing required column(s): {wanted}. Found {len(self.found)} column(s): {shown or 'none'}")


@dataclass(frozen=True)
class HeaderMap:
    """How one file's headers map onto a profile's fields.

    ``headers``: the file's headers as read; ``fields``: field name -> the positions of its
    headers, preferred first (a field with several matching headers reads the first
    non-blank); ``unmapped``: headers no field claims (kept in ``raw``, listed in the
    materialization); ``missing``: required fields no header matches -> {field: spellings}.
    """

    headers: tuple[str, ...]
    fields: Mapping[str, tuple[int, ...]]
    unmapped: tuple[str, ...]
    missing: Mapping[str, tuple[str, ...]]

    def mapping(self) -> list[tuple[str, str | None]]:
        """``(header, field or None)`` for each header, in file order."""
        by_pos = {p: f for f, ps in self.fields.items() for p in ps}
        return [(h, by_pos.get(i)) for i, h in enumerate(self.headers)]

    def check(self, where: str = "") -> None:
        """Raise :class:`MissingColumnsError` when a required field has no header."""
        if self.missing:
            raise MissingColumnsError(self.missing, self.headers, where)

    def markdown(self) -> str:
        """The mapping as a Markdown table (source header -> field), unmapped ones marked."""
        lines = ["| source header | field |", "|---|---|"]
        lines += [f"| {h.replace('|', '/')} | {f or '_(unmapped: kept in raw)_'} |" for h, f in self.mapping()]
        return "\n".join(lines)


def map_headers(headers: Sequence[str], profile: "CsvProfile") -> HeaderMap:
    """Match a file's ``headers`` to ``profile``'s fields (by :func:`compact_header` of the
    field name and each alias). Never raises; :meth:`HeaderMap.check` does for missing
    required columns."""
    lookup = profile.header_lookup()
    found: dict[str, list[tuple[int, int]]] = {}
    unmapped = []
    for pos, h in enumerate(headers):
        hit = lookup.get(compact_header(h))
        if hit is None:
            unmapped.append(h)
        else:
            fname, rank = hit
            found.setdefault(fname, []).append((rank, pos))
    fields = {f.name: tuple(p for _, p in sorted(found[f.name])) for f in profile.fields if f.name in found}
    missing = {f.name: f.spellings() for f in profile.fields
               if (f.required or f.name in profile.key) and f.name not in fields}
    return HeaderMap(tuple(headers), fields, tuple(unmapped), missing)


# -- the profile ---------------------------------------------------------------------------

_METADATA: dict[str, sa.MetaData] = {}


def csv_metadata(system: str) -> sa.MetaData:
    """The MetaData of ``system``'s derived CSV tables (one per system, so a system's tables
    are created together)."""
    return _METADATA.setdefault(system, sa.MetaData())


@dataclass(frozen=True, eq=False)
class CsvProfile:
    """One CSV export of a CRM system, as data.

    ``system`` (``leadconduit``) and ``object`` (``leads``, ``marketing-sources``: as in the
    command name) name it; ``fields``: its :class:`Field` s; ``key``: the key field name(s)
    (default ``("id",)``; required, the table's natural key); ``table``: an existing table
    to load (its columns must include every stored field), else one is derived
    (``table_name``, default ``<system>_<object in snake case>``: the stored fields, ``raw``,
    ``_ingested_at``, ``_source``, ``_run_id``, ``_deleted_at``); ``default_region`` (phones),
    ``default_tz`` (IANA name: naive datetimes), ``description`` (the asset's),
    ``samples`` (the committed sample exports ``ingest demo`` loads, in order; default the
    files ``data/crm/<system>/<object>.csv`` and ``<object>_*.csv`` that exist, object in
    snake case), ``encoding`` / ``delimiter`` (override the
    readers' detection), ``preserve_on_blank`` / ``fill_only`` (column ownership, as
    :class:`~.upsert.TableLoad`).
    Raises ``ValueError`` on an inconsistent profile (unknown key field, two fields claiming
    one header, a stored field the given table lacks).
    """

    system: str
    object: str
    fields: tuple[Field, ...]
    key: tuple[str, ...] = ("id",)
    table_name: str | None = None
    table: sa.Table | None = None
    default_region: str = "US"
    default_tz: str = "UTC"
    description: str = ""
    samples: tuple[Path, ...] | None = None
    encoding: str | None = None
    delimiter: str | None = None
    preserve_on_blank: frozenset[str] = frozenset()
    fill_only: frozenset[str] = frozenset()
    _derived: dict = dc_field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", tuple(self.fields))
        if isinstance(self.key, str):
            object.__setattr__(self, "key", (self.key,))
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.slug}: a field name repeats")
        for k in self.key:
            if k not in names:
                raise ValueError(f"{self.slug}: key field {k!r} is not a field")
        for f in self.fields:
            for other in (f.tz_field, f.time_field):
                if other and other not in names:
                    raise ValueError(f"{self.slug}: field {f.name!r} refers to unknown field {other!r}")
        self.header_lookup()  # raises on a header claimed twice
        if self.table is not None:
            lacking = [f.name for f in self.fields if f.store and f.name not in self.table.c]
            if lacking:
                raise ValueError(f"{self.slug}: table {self.table.name} has no column(s) {', '.join(lacking)}")
        ZoneInfo(self.default_tz)

    # -- names (contracts: DESIGN.md §10) --------------------------------------------
    @property
    def slug(self) -> str:
        """``<system>-<object>`` (``genius-marketing-sources``)."""
        return f"{self.system}-{self.object}"

    @property
    def snake(self) -> str:
        """``<system>_<object>`` in snake case (``genius_marketing_sources``)."""
        return f"{self.system}_{self.object}".replace("-", "_")

    @property
    def command(self) -> str:
        """The ``ingest`` subcommand: ``csv-<system>-<object>``."""
        return f"csv-{self.slug}"

    @property
    def landing_prefix(self) -> str:
        """Where landed exports wait for the sensor: ``crm/<system>/<object>/``."""
        return f"crm/{self.system}/{self.object}/"

    @property
    def group(self) -> str:
        return self.system

    @property
    def asset_path(self) -> tuple[str, str]:
        """The asset key's path: ``(<system>, csv_<object in snake case>)``."""
        return (self.system, "csv_" + self.object.replace("-", "_"))

    @property
    def job_name(self) -> str:
        return f"csv_{self.snake}_job"

    @property
    def sensor_name(self) -> str:
        return f"csv_{self.snake}_sensor"

    @property
    def ledger_source(self) -> str:
        """``ingest_files.source`` of this profile's files: ``csv_<system>_<object>``."""
        return f"csv_{self.snake}"

    def sample_paths(self) -> list[Path]:
        """The sample exports that exist (``samples``, or the default files named above)."""
        if self.samples is not None:
            return [Path(p) for p in self.samples if Path(p).exists()]
        folder, stem = DATA_DIR / "crm" / self.system, self.object.replace("-", "_")
        return sorted({*folder.glob(f"{stem}.csv"), *folder.glob(f"{stem}_*.csv")})

    # -- derived -----------------------------------------------------------------------
    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)

    def header_lookup(self) -> dict[str, tuple[str, int]]:
        """compact header -> (field name, rank: 0 = its name, 1.. = its aliases in order)."""
        got = self._derived.get("lookup")
        if got is None:
            got = {}
            for f in self.fields:
                for rank, spelling in enumerate(f.spellings()):
                    k = compact_header(spelling)
                    if k in got and got[k][0] != f.name:
                        raise ValueError(f"{self.slug}: header {spelling!r} would map to both "
                                         f"{got[k][0]!r} and {f.name!r}")
                    got.setdefault(k, (f.name, rank))
            self._derived["lookup"] = got
        return got

    @property
    def target(self) -> sa.Table:
        """The table rows land in: ``table``, or the one derived from the fields (built once,
        in :func:`csv_metadata` of the system)."""
        if self.table is not None:
            return self.table
        t = self._derived.get("table")
        if t is None:
            name = self.table_name or self.snake
            md = csv_metadata(self.system)
            t = md.tables.get(name)
            if t is None:
                cols = [sa.Column(f.name, f.sql_type(), primary_key=f.name in self.key,
                                  autoincrement=False, nullable=f.name not in self.key)
                        for f in self.fields if f.store]
                t = sa.Table(name, md, *cols, *record_columns())
            self._derived["table"] = t
        return t

    @property
    def metadata(self) -> sa.MetaData:
        """The MetaData to create before loading (``warehouse.setup(profile.metadata)``)."""
        return self.target.metadata

    def stored_fields(self) -> list[Field]:
        """The fields written to the table, in field order."""
        return [f for f in self.fields if f.store and f.name in self.target.c]


# -- row conversion ------------------------------------------------------------------------

#: Types whose normalised value is cached per distinct cell text (values repeat in exports:
#: states, ZIPs, flags, dates; phones and emails are slow to validate).
_CACHED = frozenset({"phone", "email", "zip", "us_state", "boolean", "date", "time", "integer", "money", "decimal"})
_CACHE_MAX = 20_000  # entries per column: a memo of distinct values is cleared when full
_US_TZ = {"EST": "America/New_York", "EDT": "America/New_York", "CST": "America/Chicago", "CDT": "America/Chicago",
          "MST": "America/Denver", "MDT": "America/Denver", "PST": "America/Los_Angeles",
          "PDT": "America/Los_Angeles", "AKST": "America/Anchorage", "AKDT": "America/Anchorage",
          "HST": "Pacific/Honolulu", "UTC": "UTC", "GMT": "UTC", "Z": "UTC"}


@functools.lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    """The time zone of a cell: an IANA name (``America/New_York``, ``US/Eastern``) or a US
    abbreviation (``EST``, ``PDT``: their region's zone). Raises ``ValueError`` (unknown)."""
    n = name.strip()
    try:
        return ZoneInfo(_US_TZ.get(n.upper(), n))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None


def _normaliser(f: Field, profile: CsvProfile) -> Callable[[Any, str], Any]:
    """``fn(value, field_name)`` for a non-datetime field (see the module docstring)."""
    if f.parse is not None:
        return f.parse
    t = f.type
    if t == "text" and f.choices:
        return functools.partial(v.choice, choices=dict(f.choices))
    if t == "text":
        return functools.partial(v.text, max_len=f.max_length)
    if t == "integer":
        return v.integer
    if t == "decimal":
        return functools.partial(v.decimal, places=f.places)
    if t == "money":
        return functools.partial(v.decimal, places=2 if f.places is None else f.places)
    if t == "boolean" and (f.true_values or f.false_values):
        extra = {**{x.strip().casefold(): True for x in f.true_values},
                 **{x.strip().casefold(): False for x in f.false_values}}

        def flag(value: Any, name: str) -> bool | None:
            got = extra.get(value.strip().casefold()) if isinstance(value, str) else None
            return got if got is not None else v.boolean(value, name)
        return flag
    if t == "boolean":
        return v.boolean
    if t == "date":
        return functools.partial(v.date, dayfirst=f.dayfirst, excel=f.excel)
    if t == "time":
        return functools.partial(v.time_of_day, excel=f.excel)
    if t == "phone":
        return functools.partial(v.phone, default_region=f.region or profile.default_region)
    if t == "email":
        def lower_email(value: Any, name: str) -> str | None:
            e = v.email(value, name)
            return e.lower() if e else e
        return lower_email
    if t == "zip":
        return functools.partial(v.zipcode, plus4=f.plus4)
    if t == "us_state":
        return v.us_state
    if t == "json":
        return v.json_cell
    raise AssertionError(t)  # datetime is read by RowConverter._datetime


_MISS = object()


def _cached(fn: Callable[[Any, str], Any]) -> Callable[[Any, str], Any]:
    """``fn`` memoised on the cell text (its result or its FieldError), bounded."""
    memo: dict[Any, Any] = {}

    def read(value: Any, name: str) -> Any:
        got = memo.get(value, _MISS) if type(value) is str else _MISS
        if got is _MISS:
            try:
                got = fn(value, name)
            except v.FieldError as e:
                got = e.with_traceback(None)  # kept: no frames (and their batch) kept with it
            if type(value) is str:
                if len(memo) >= _CACHE_MAX:
                    memo.clear()
                memo[value] = got
        if type(got) is v.FieldError:
            raise got
        return got

    return read


#: What a column reader returns for a batch: the values (``None`` where empty or bad) and
#: the bad cells as ``(index in the batch, FieldError)``.
ColumnOut = tuple[list[Any], list[tuple[int, v.FieldError]]]


def _each(fn: Callable[[Any, str], Any]) -> Callable[[list[Any], str], ColumnOut]:
    """A column reader calling ``fn(value, name)`` per cell."""
    def read(col: list[Any], name: str) -> ColumnOut:
        out, bad = [], []
        for i, x in enumerate(col):
            try:
                out.append(fn(x, name))
            except v.FieldError as e:
                out.append(None)
                bad.append((i, e.with_traceback(None)))
        return out, bad
    return read


def _memo_column(fn: Callable[[Any, str], Any]) -> Callable[[list[Any], str], ColumnOut]:
    """A column reader for values that repeat (states, flags, dates, amounts): ``fn`` once per
    distinct ``str`` cell (result or FieldError remembered, at most ``_CACHE_MAX``); other
    cells (XLSX numbers: ``1 == True`` must not share an entry) each time."""
    memo: dict[str, Any] = {}

    def read(col: list[Any], name: str) -> ColumnOut:
        get = memo.get
        out = [get(x, _MISS) if type(x) is str else _MISS for x in col]
        for i in [i for i, x in enumerate(out) if x is _MISS]:
            x = col[i]
            try:
                got = fn(x, name)
            except v.FieldError as e:
                got = e.with_traceback(None)  # kept: no frames (and their batch) kept with it
            if type(x) is str:
                if len(memo) >= _CACHE_MAX:
                    memo.clear()
                memo[x] = got
            out[i] = got
        bad = [(i, x) for i, x in enumerate(out) if type(x) is v.FieldError]
        for i, _ in bad:
            out[i] = None
        return out, bad
    return read


def _text_column(max_len: int | None) -> Callable[[list[Any], str], ColumnOut]:
    """:func:`~.validate.text` over a column: when every cell is a ``str`` and none holds a
    control character (``str.isprintable``, else one regex, over the whole column), the answer is each cell stripped
    (``None`` when empty); otherwise cell by cell."""
    slow = _each(functools.partial(v.text, max_len=max_len))

    def read(col: list[Any], name: str) -> ColumnOut:
        try:
            joined = "".join(col)
        except TypeError:  # a non-str cell (XLSX numbers, None)
            return slow(col, name)
        if not joined.isprintable() and v._CONTROL.search(joined):  # isprintable: no control character
            return slow(col, name)
        out = list(map(str.strip, col))
        if "" in out:
            out = [x or None for x in out]
        if max_len is not None and any(x is not None and len(x) > max_len for x in out):
            return slow(col, name)
        return out, []
    return read


def _fast_column(fast: Callable[[str], Any], full: Callable[[Any, str], Any],
                 memo: bool = True) -> Callable[[list[Any], str], ColumnOut]:
    """A column reader: ``fast(cell)`` (a validate fast path: the answer, or None when only
    the full normaliser can tell), else ``full(cell, name)`` (memoised unless ``memo=False``:
    timestamps rarely repeat)."""
    full = _cached(full) if memo else full

    def read(col: list[Any], name: str) -> ColumnOut:
        # an empty cell is None for every normaliser (blank); the rest through the fast path
        out = [(fast(x) if x else None) if type(x) is str else None for x in col]
        bad = []
        for i in [i for i, got in enumerate(out) if got is None]:
            x = col[i]
            if x == "":
                continue
            try:
                out[i] = full(x, name)
            except v.FieldError as e:
                bad.append((i, e.with_traceback(None)))
        return out, bad
    return read


def _timestamp_fast(tz: Any) -> Callable[[str], Any]:
    """:func:`~.validate.timestamp`'s common cases as a fast path: ISO 8601 (its first step,
    ``datetime.fromisoformat``) and US ``m/d/Y`` with an optional time
    (:func:`~.validate.us_datetime`); a naive value is in ``tz``. None for anything else
    (bare digits go to the full reader: Excel serials)."""
    from datetime import datetime

    iso, us = datetime.fromisoformat, v.us_datetime

    def fast(x: str) -> Any:
        if len(x) < 8 or x.isdigit():  # not YYYY-MM-DD... or m/d/YYYY...: no exception to pay for
            return None
        if x[4] == "-":
            try:
                d = iso(x)
            except ValueError:
                return None
        else:
            d = us(x)
            if d is None:
                return None
        return d if d.tzinfo is not None else d.replace(tzinfo=tz)
    return fast


def _email_fast(x: str) -> str | None:
    e = v.plain_email(x)
    return e.lower() if e is not None else None


def _lower_email(value: Any, name: str) -> str | None:
    e = v.email(value, name)
    return e.lower() if e else e


class RowConverter:
    """Converts the rows of one file under a :class:`HeaderMap` (DESIGN.md §9's rule), a
    batch at a time and column by column (each field's normaliser over the batch's column,
    with the fast paths of :mod:`.validate` and a cache per distinct cell), so the per-row
    Python work stays small.

    ``columns``: the table columns each converted row carries, in order: the stored fields
    the file has (a column the file lacks is never written, so a narrower export does not
    blank it), then ``raw`` when the table has it; ``kinds``: each column's field type
    (``"raw"`` for raw; ``"custom"`` for a ``parse=`` field). :meth:`convert_batch` gives
    the values of good rows (``raw`` = ``{header: cell}`` of the row as written, unmapped
    headers included), the failed rows (a key or required field missing or unusable) with
    their reason, and the optional cells that did not parse as
    :class:`~.outcomes.CellWarning` (column = the field, value = the cell as written; only
    for rows that are not failed).
    """

    def __init__(self, profile: CsvProfile, hmap: HeaderMap):
        self.profile, self.hmap = profile, hmap
        self.headers = list(hmap.headers)
        self.tz = ZoneInfo(profile.default_tz)
        self.plan = []
        for f in profile.stored_fields():
            if f.name in hmap.fields:
                self.plan.append((f.name, hmap.fields[f.name], self._reader(f), f.required or f.name in profile.key))
        self.with_raw = "raw" in profile.target.c
        self.columns = [p[0] for p in self.plan] + (["raw"] if self.with_raw else [])
        kinds = {f.name: ("custom" if f.parse else f.type) for f in profile.fields}
        self.kinds = [kinds[c] for c in self.columns[:len(self.plan)]] + (["raw"] if self.with_raw else [])
        self.key_index = [self.columns.index(k) for k in profile.key]
        table = profile.target
        self.naive = [j for j, c in enumerate(self.columns[:len(self.plan)])
                      if self.kinds[j] == "datetime" and isinstance(table.c[c].type, sa.DateTime)
                      and not table.c[c].type.timezone]

    def _reader(self, f: Field) -> Any:
        """The column reader of field ``f``: ``read(column, name)`` -> :data:`ColumnOut`, or,
        for a datetime that reads other cells of its row, ``read(column, name, rows)``."""
        if f.type == "datetime" and f.parse is None:
            if f.tz_field or f.time_field:
                return self._datetime_with_cells(f)
            full = functools.partial(v.timestamp, default_tz=self.tz, dayfirst=f.dayfirst, excel=f.excel)
            return _fast_column(_timestamp_fast(self.tz), full, memo=False) if not f.dayfirst else _each(full)
        if f.type == "text" and f.parse is None and not f.choices:
            return _text_column(f.max_length)
        fn = _normaliser(f, self.profile)
        region = f.region or self.profile.default_region
        if f.type == "phone" and f.parse is None and region in v._NANP_FAST:
            return _fast_column(v.nanp_e164, fn)
        if f.type == "email" and f.parse is None:
            return _fast_column(_email_fast, fn)
        return _memo_column(fn)

    def _datetime_with_cells(self, f: Field) -> Any:
        """A datetime whose time of day (``time_field``) or zone (``tz_field``) is in other
        cells of the same row."""
        hm = self.hmap
        time_pos = hm.fields.get(f.time_field, ()) if f.time_field else ()
        tz_pos = hm.fields.get(f.tz_field, ()) if f.tz_field else ()
        dayfirst, excel, default_tz, first = f.dayfirst, f.excel, self.tz, _first_filled

        def one(value: Any, name: str, cells: Sequence[Any]) -> Any:
            if v.is_blank(value):
                return None
            tz = default_tz
            tzname = first(cells, tz_pos) if tz_pos else None
            if tzname is not None:
                try:
                    tz = zone(str(tzname))
                except ValueError as e:
                    raise v.FieldError(name, str(e)) from None
            t = first(cells, time_pos) if time_pos else None
            if t is not None:
                tod = v.time_of_day(t, name, excel=excel)
                d = v.date(value, name, dayfirst, excel=excel)
                return v.timestamp(f"{d.isoformat()}T{tod.isoformat()}", name, tz)
            return v.timestamp(value, name, tz, dayfirst=dayfirst, excel=excel)

        def read(col: list[Any], name: str, rows: Sequence[Sequence[Any]]) -> ColumnOut:
            out, bad = [], []
            for i, (x, cells) in enumerate(zip(col, rows)):
                try:
                    out.append(one(x, name, cells))
                except v.FieldError as e:
                    out.append(None)
                    parts = [x, first(cells, time_pos) if time_pos else None, first(cells, tz_pos) if tz_pos else None]
                    bad.append((i, e.with_traceback(None), " ".join(str(p) for p in parts if p is not None)))  # the cells read
            return out, bad

        read.with_cells = True  # type: ignore[attr-defined]
        return read

    def convert_batch(self, rows: Sequence[tuple[int, Sequence[Any], dict[str, Any] | None]],
                      raw_json: bool = False) -> "ConvertedBatch":
        """Convert ``rows`` — ``(row number, cells, raw dict or None)`` each, cells in header
        order (at least one per header) — into a :class:`ConvertedBatch`. ``raw_json``: the
        ``raw`` column holds each row's record as JSON text (``orjson.dumps`` of the dict,
        kind ``"raw_json"``; :func:`raw_json_column`) instead of the dict."""
        kinds = self.kinds if not (raw_json and self.with_raw) else [*self.kinds[:-1], "raw_json"]
        if not rows:
            return ConvertedBatch(self.columns, kinds, [], [[] for _ in self.columns], [], [], [])
        cellrows = [r[1] for r in rows]
        by_position = list(zip(*cellrows))
        columns: list[list[Any]] = []
        errors: dict[int, list[v.FieldError]] = {}
        warned: list[tuple[int, str, Any, str]] = []
        for name, positions, read, required in self.plan:
            col = by_position[positions[0]] if len(positions) == 1 else [_first_filled(r, positions) for r in cellrows]
            vals, bad = read(col, name, cellrows) if hasattr(read, "with_cells") else read(col, name)
            for i, e, *shown in bad:
                if required:
                    errors.setdefault(i, []).append(e)
                else:
                    warned.append((i, name, shown[0] if shown else col[i], e.message))
            if required and None in vals:
                failed_here = {b[0] for b in bad}
                for i, x in enumerate(vals):
                    if x is None and i not in failed_here:
                        errors.setdefault(i, []).append(v.FieldError(name, "is required"))
            columns.append(vals)
        if self.with_raw and raw_json:
            columns.append(raw_json_column(self.headers, rows, by_position))
        elif self.with_raw:
            headers = self.headers
            columns.append([r[2] if r[2] is not None else dict(zip(headers, r[1])) for r in rows])
        for j in self.naive:  # a column without time zone keeps the wall time as written
            columns[j] = [x.replace(tzinfo=None) if x is not None else None for x in columns[j]]
        failed = [(rows[i][0], rows[i][1], v.RowError(errs)) for i, errs in sorted(errors.items())]
        keep = [i for i in range(len(rows)) if i not in errors]
        skipped = self._repeated_keys(rows, columns, keep)
        if errors or skipped:
            drop = {i for i, _ in skipped}
            keep = [i for i in keep if i not in drop]
            columns = [_pick(col, keep) for col in columns]
        warnings = [CellWarning(rows[i][0], name, value, msg) for i, name, value, msg in
                    sorted(warned, key=lambda w: w[0]) if i not in errors]
        return ConvertedBatch(self.columns, kinds, [rows[i][0] for i in keep], columns,
                              [cellrows[i] for i in keep], failed, warnings,
                              [(rows[i][0], reason) for i, reason in skipped])

    def _repeated_keys(self, rows: Sequence[tuple], columns: list[list[Any]], keep: list[int]) -> list[tuple[int, str]]:
        """``(index, reason)`` of the rows among ``keep`` whose key appears again on a later
        row of the batch: the later row wins (on every dialect alike)."""
        keys = list(zip(*[columns[j] for j in self.key_index]))
        last = {keys[i]: i for i in keep}
        if len(last) == len(keep):
            return []
        return [(i, f"duplicate key {'/'.join(map(str, keys[i]))}: replaced by row {rows[last[keys[i]]][0]} "
                    f"of the same batch") for i in keep if last[keys[i]] != i]

    def convert(self, row: int, cells: Sequence[Any], warnings: list[CellWarning],
                raw: dict[str, Any] | None = None) -> list[Any]:
        """One row (see :meth:`convert_batch`): its values as a list in :attr:`columns`
        order; its bad optional cells appended to ``warnings``. Raises
        :class:`~.validate.RowError` when the row fails."""
        got = self.convert_batch([(row, cells, raw)])
        warnings.extend(got.warnings)
        if got.failed:
            raise got.failed[0][2]
        return list(got.values()[0])

    def raw(self, cells: Sequence[Any]) -> dict[str, Any]:
        """``{header: cell}`` of a row as written (every header, mapped or not)."""
        return dict(zip(self.headers, cells))


#: The characters a JSON string escapes (``orjson``: ``"``, ``\\`` and C0 controls) and
#: surrogates (``orjson`` refuses them): a cell without any is its own JSON string body.
_JSON_SPECIAL = re.compile(r'[\x00-\x1f"\\\ud800-\udfff]')


def _json_plain(s: str) -> bool:
    """True when ``s`` holds no character of :data:`_JSON_SPECIAL` (``str.isprintable`` and
    two ``in`` scans in C; the regex only when something is not printable)."""
    if '"' in s or "\\" in s:
        return False
    return s.isprintable() or not _JSON_SPECIAL.search(s)


@functools.lru_cache(maxsize=64)
def _json_template(headers: tuple[str, ...]) -> str:
    """``{"h1":"%s","h2":"%s",...}`` for ``%`` formatting with a row's cells (headers as
    ``orjson`` writes them)."""
    import orjson

    return "{" + ",".join(orjson.dumps(h).decode().replace("%", "%%") + ':"%s"' for h in headers) + "}"


def raw_json_column(headers: Sequence[str], rows: Sequence[tuple[int, Sequence[Any], Any]],
                    by_position: Sequence[Sequence[Any]] = ()) -> list[str]:
    """Each row's raw record as JSON text: ``orjson.dumps(raw)`` when the row brings a raw
    dict, else ``orjson.dumps(dict(zip(headers, cells)))`` — the same text, made by one
    ``%`` format of the row's cells where every cell of the batch is a ``str`` needing no
    JSON escape (one regex search per column, ``by_position``: the batch's cells column by
    column, as ``zip(*cells)``) and the headers are distinct (a repeated header keeps its
    last cell in the dict); the other rows through ``orjson``."""
    import orjson

    dumps, n = orjson.dumps, len(headers)
    if len(set(headers)) < n or len(by_position) < n or any(r[2] is not None for r in rows):
        return [dumps(r[2] if r[2] is not None else dict(zip(headers, r[1]))).decode() for r in rows]
    special = _JSON_SPECIAL.search
    try:
        plain = all(_json_plain("".join(col)) for col in by_position[:n])
    except TypeError:  # a cell that is not a str (XLSX numbers, None)
        plain = False
    template = _json_template(tuple(headers))
    if plain:
        if all(len(r[1]) == n for r in rows):
            return [template % tuple(r[1]) for r in rows]
        return [template % tuple(r[1][:n]) for r in rows]
    out = []
    for r in rows:
        cells = r[1]
        try:
            ok = len(cells) >= n and not special("".join(cells[:n]))
        except TypeError:
            ok = False
        out.append(template % tuple(cells[:n]) if ok else dumps(dict(zip(headers, cells))).decode())
    return out


@dataclass
class ConvertedBatch:
    """One batch converted by :meth:`RowConverter.convert_batch`, kept column by column.

    ``names`` / ``kinds``: the converter's columns and their kinds; ``rows``: the row
    numbers of the good rows; ``columns``: per column, the good rows' values (``None`` where
    empty or a bad optional cell); ``cells``: the good rows' cells as read; ``failed``:
    ``(row, cells, RowError)`` of the rows that fail (a key or required field missing or
    unusable; ``str`` of the error is the reason); ``warnings``: the good rows' bad optional
    cells (:class:`~.outcomes.CellWarning`), in row order; ``skipped``: ``(row, reason)`` of
    rows whose key a later row of the batch repeats (the later row wins; not in ``rows``).
    A datetime bound for a column without time zone (an existing table's) is its wall time
    as written (tzinfo dropped).
    """

    names: list[str]
    kinds: list[str]
    rows: list[int]
    columns: list[list[Any]]
    cells: list[Sequence[Any]]
    failed: list[tuple[int, Sequence[Any], v.RowError]]
    warnings: list[CellWarning]
    skipped: list[tuple[int, str]] = dc_field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)

    def values(self) -> list[tuple]:
        """The good rows' values as tuples in ``names`` order."""
        return list(zip(*self.columns)) if self.columns else [() for _ in self.rows]


def _pick(col: Sequence[Any], keep: list[int]) -> list[Any]:
    """``[col[i] for i in keep]`` (in C: ``operator.itemgetter``)."""
    if len(keep) < 2:
        return [col[i] for i in keep]
    return list(operator.itemgetter(*keep)(col))


def _first_filled(cells: Sequence[Any], positions: tuple[int, ...]) -> Any:
    """The first cell at ``positions`` that holds something (not None, not all spaces)."""
    n = len(cells)
    for p in positions:
        c = cells[p] if p < n else None
        if c is not None and (not isinstance(c, str) or c.strip()):
            return c
    return None


def preview_cell(x: Any) -> str:
    """A value as one Markdown table cell (for previews)."""
    if x is None:
        return ""
    if isinstance(x, Decimal):
        x = format(x, "f")
    elif hasattr(x, "isoformat"):
        x = x.isoformat()
    elif isinstance(x, (dict, list)):
        import orjson

        x = orjson.dumps(x).decode()
    return str(x).replace("|", "/").replace("\n", " ")[:80]
