"""Keyset streaming from a SQL source table into a warehouse table (DESIGN.md §10, "Sync rules").

A table is data: a :class:`SqlStream` (source table, warehouse table, cursor column, foreign
keys, column renames); :func:`sync_stream` runs it with :class:`SyncOptions`. Knows no source
by name; the source is any SQLAlchemy engine (MySQL/MariaDB through
:class:`~ingestion_pipelines.resources.mysql.MySQLResource`, or SQLite for the demo).

Modes (recorded in ``sync_history`` through :mod:`.sync_state`):

* ``incremental`` (a stream with a cursor and a stored watermark, or ``since``): keyset pages
  ``WHERE cursor >= <watermark - lookback> AND (cursor, key) > <last row> ORDER BY cursor, key
  LIMIT page_size`` (never OFFSET). Rows with a NULL cursor are not seen (the full sync sees them).
  The watermark (cursor and key of a batch's last row) is stored in the transaction that wrote
  the batch; the lookback re-reads rows that committed late, and the upsert makes the overlap
  harmless (unchanged rows are not written).
* ``full`` (``full=True``, the first sync of a stream, or a stream without cursor): keyset
  pages by key over the whole table. Only changed rows are written. When the scan completed
  (not cut by ``max_records`` or a stop, not a ``source_table`` override), warehouse rows of this
  source whose key the source no longer has get ``_deleted_at`` (never deleted); a row that comes
  back gets ``_deleted_at = NULL``. The watermark becomes the largest cursor seen, stored with
  the deletion marks once the scan completed.

Each page is one query on a server-side cursor (``yield_per``: pymysql's unbuffered
``SSCursor``), ended before the next page so no snapshot is held for the whole table; pages
are read on a thread one batch ahead of the writes (:func:`_prefetch`). Each batch is one
warehouse transaction that also carries its counts and watermark; a refused batch is bisected
down to its bad rows, reported with key and database message, while the rest lands. Writers:

* :class:`_MySqlToPgWriter` (MySQL/MariaDB into PostgreSQL): the source renders each row as
  one line of COPY text, staged and upserted by the upsert core's
  :class:`~.upsert.PgStaging` (the speed path: see its docstring and BENCHMARKS.md);
* :class:`_RowWriter` (any other pair, e.g. the demo's SQLite): values converted in Python and
  written by :class:`~.load.BatchLoader`.

Both type values by the warehouse column (:func:`to_column` is the rule; the MySQL writer
spells the same rule in SQL): zero dates become NULL with a cell warning, ``TIME`` a time of
day (else NULL with a warning), ``DECIMAL`` a ``Decimal``, ``tinyint(1)`` a ``bool``; text
dates (SQLite, and MySQL's own text: :func:`~..resources.mysql.text_temporals`) are parsed.
``raw`` keeps the record as the source sent it (JSON: dates and times as the source's text,
a zero date included).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import logging
import queue
import threading
from array import array
from contextlib import closing
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import sqlalchemy as sa

from .load import BatchLoader, PendingRow, TableLoad
from .outcomes import CellWarning, IngestReport, Outcome, RowOutcome
from .schema import AUDIT_COLUMNS, natural_key
from .sync_state import StreamSync, Watermark, ensure_tables, read_watermark
from .staged import StagedUpsert

#: Warehouse columns that are bookkeeping, not source data.
BOOKKEEPING = frozenset((*AUDIT_COLUMNS, "raw", "_deleted_at"))

log_ = logging.getLogger(__name__)


@dataclass(frozen=True)
class ForeignKey:
    """Child warehouse column ``column`` references ``parent_column`` of the parent stream whose
    source table is ``parent``. Not a constraint: orphans land, a check reports them."""

    column: str
    parent: str
    parent_column: str = "id"


@dataclass(frozen=True, eq=False)
class SqlStream:
    """One source table synced into one warehouse table.

    ``source_table``: the source's table name (also the stream name in ``sync_state``);
    ``table``: the warehouse table, whose data columns (all but ``raw``, the audit columns and
    ``_deleted_at``) are the columns read, named as the source names them except ``renames``
    (source column -> warehouse column, e.g. ``{"user_id": "id"}``); its natural key is the
    stream's key. ``cursor``: the source's change timestamp column (``None``: read in full
    every time). ``exclude``: source columns never read, not even into ``raw`` (e.g. ``ssn``).
    """

    source_table: str
    table: sa.Table
    cursor: str | None = "updated_at"
    foreign_keys: tuple[ForeignKey, ...] = ()
    renames: Mapping[str, str] = field(default_factory=dict)
    exclude: frozenset[str] = frozenset()

    @property
    def columns(self) -> list[str]:
        """The warehouse data columns, in table order."""
        return [c.name for c in self.table.columns if c.name not in BOOKKEEPING]

    def source_column(self, column: str) -> str:
        """The source name of warehouse column ``column``."""
        back = {w: s for s, w in self.renames.items()}
        return back.get(column, column)

    @cached_property
    def key(self) -> tuple[str, ...]:
        """The warehouse key columns (the table's natural key)."""
        return natural_key(self.table)

    @cached_property
    def source_key(self) -> tuple[str, ...]:
        return tuple(self.source_column(k) for k in self.key)


@dataclass(frozen=True)
class SyncOptions:
    """How to run a stream: ``full`` (read everything; mark what the source no longer has),
    ``since`` (incremental from this source timestamp instead of the watermark; no lookback),
    ``max_records`` (stop after this many rows read; None = all), ``source_table`` (read this
    table or view of the same shape instead: the seed's ``--table``), ``dry_run`` (run
    everything, commit nothing), ``batch_size`` (rows per warehouse transaction),
    ``page_size`` (rows per keyset query), ``lookback`` (re-read this far before the
    watermark)."""

    full: bool = False
    since: dt.datetime | None = None
    max_records: int | None = None
    source_table: str | None = None
    dry_run: bool = False
    batch_size: int = 1000
    page_size: int = 50_000
    lookback: dt.timedelta = dt.timedelta(minutes=5)


@dataclass
class SyncResult:
    """What one stream's sync did: ``mode``, ``status`` (as in ``sync_history``), ``report``
    (row outcomes, failed rows with key and database message, cell warnings), ``sync`` (its
    history row and watermarks), ``complete`` (the whole range was read), ``deleted`` (rows
    marked ``_deleted_at``), ``stopped`` (the run was terminated mid-table), ``missing_columns`` (warehouse columns the source lacks: NULL)."""

    stream: SqlStream
    mode: str
    status: str
    report: IngestReport
    sync: StreamSync
    complete: bool
    stopped: bool = False
    deleted: int = 0
    missing_columns: list[str] = field(default_factory=list)
    source: str = ""


# -- values ---------------------------------------------------------------------------------

class CellError(ValueError):
    """A source value the warehouse column cannot hold (the cell lands NULL with a warning)."""


def _zero_date(s: str) -> bool:
    return s.startswith("0000-00-00") or s.startswith("00000000")


def _text(v: Any) -> str:
    return v.decode("utf-8", errors="replace") if isinstance(v, bytes) else str(v)


def _datetime(v: Any) -> dt.datetime:
    if type(v) is dt.datetime:
        return v
    if isinstance(v, dt.date):
        return v if isinstance(v, dt.datetime) else dt.datetime(v.year, v.month, v.day)
    s = _text(v)
    if _zero_date(s):
        raise CellError(f"zero date {s!r}")
    try:
        return dt.datetime.fromisoformat(s)
    except ValueError:
        raise CellError(f"not a datetime: {s!r}") from None


def _date(v: Any) -> dt.date:
    if type(v) is dt.date:
        return v
    if isinstance(v, dt.datetime):
        return v.date()
    s = _text(v)
    if _zero_date(s):
        raise CellError(f"zero date {s!r}")
    try:
        return dt.date.fromisoformat(s[:10])
    except ValueError:
        raise CellError(f"not a date: {s!r}") from None


_DAY = dt.timedelta(days=1)


def _time(v: Any) -> dt.time:
    if isinstance(v, dt.timedelta):  # pymysql's TIME
        if not dt.timedelta(0) <= v < _DAY:
            raise CellError(f"TIME {v} is not a time of day")
        return (dt.datetime.min + v).time()
    if isinstance(v, dt.time):
        return v
    try:
        return dt.time.fromisoformat(_text(v))
    except ValueError:
        raise CellError(f"not a time: {v!r}") from None


_TRUE, _FALSE = frozenset(("1", "true", "t", "yes", "y")), frozenset(("0", "false", "f", "no", "n", ""))


def _bool(v: Any) -> bool:
    if type(v) is int or type(v) is bool:
        return bool(v)
    if isinstance(v, bytes):  # BIT(1)
        return any(v)
    if isinstance(v, str):
        t = v.strip().lower()
        if t in _TRUE or t in _FALSE:
            return t in _TRUE
        raise CellError(f"not a boolean: {v!r}")
    return bool(v)


def _decimal(v: Any) -> decimal.Decimal:
    if type(v) is decimal.Decimal:
        return v
    try:
        return decimal.Decimal(_text(v).strip())
    except decimal.InvalidOperation:
        raise CellError(f"not a number: {v!r}") from None


def _int(v: Any) -> int:
    if type(v) is int:
        return v
    try:
        return int(_text(v).strip())
    except ValueError:
        raise CellError(f"not an integer: {v!r}") from None


def _str(v: Any) -> str:
    return v if type(v) is str else _text(v)


def converter(type_: sa.types.TypeEngine) -> Callable[[Any], Any]:
    """The function that turns a non-NULL source value (as the driver returned it) into a value
    of warehouse column type ``type_`` (see :func:`to_column`), chosen once per column."""
    for kind, fn in ((sa.DateTime, _datetime), (sa.Date, _date), (sa.Time, _time), (sa.Boolean, _bool),
                     (sa.Integer, _int)):
        if isinstance(type_, kind):
            return fn
    if isinstance(type_, sa.Numeric) and not isinstance(type_, sa.Float):
        return _decimal
    return _str


def to_column(v: Any, type_: sa.types.TypeEngine) -> Any:
    """``v`` as the source driver returned it, as a value of warehouse column type ``type_``:
    ``DATETIME``/``DATE`` text (SQLite) parsed, ``TIME`` (a ``timedelta``) a time of day,
    ``DECIMAL`` a ``Decimal``, ``tinyint(1)``/``BIT(1)``/text flags a bool, bytes UTF-8 text.
    Raises :class:`CellError` (with the reason) for a zero date, a ``TIME`` outside one day or
    a text that does not parse."""
    return None if v is None else converter(type_)(v)


def _raw_default(v: Any) -> Any:
    return v.decode("utf-8", errors="replace") if isinstance(v, bytes) else str(v)


def raw_value(v: Any) -> Any:
    """``v`` as JSON keeps it: numbers and text as they are, everything else (dates, times,
    decimals) as the source's text form (``str``), bytes as UTF-8 (replacing what is not)."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return _raw_default(v)


def raw_json(names: Sequence[str], row: Sequence[Any]) -> str:
    """The record ``row`` (values in the order of ``names``) as JSON text, the way
    :func:`raw_value` writes each value (one C-level ``json.dumps``; non-ASCII kept as is)."""
    return json.dumps(dict(zip(names, row)), default=_raw_default, ensure_ascii=False)


# -- reading --------------------------------------------------------------------------------

def _after(cols: Sequence[sa.ColumnElement], last: Sequence[Any]) -> sa.ColumnElement:
    """``(c1, c2, ..) > (v1, v2, ..)`` spelled as ORs (index-friendly on every dialect)."""
    ors = []
    for i, c in enumerate(cols):
        ors.append(sa.and_(*[cols[j] == last[j] for j in range(i)], c > last[i]))
    return sa.or_(*ors)


def keyset_rows(conn: sa.Connection, src: sa.TableClause, order: Sequence[str], *, columns: Sequence | None = None,
                where: Sequence = (), page_size: int = 50_000, batch_size: int = 1000, limit: int | None = None,
                ) -> Iterator[list[sa.Row]]:
    """Batches (lists of rows: tuples of ``columns``, default every column of ``src``; the
    ``order`` columns among them) of ``src`` in ``order``
    (a unique ordering: the cursor then the key, or the key), read in keyset pages of
    ``page_size`` on a server-side cursor (``yield_per``), at most ``limit`` rows. The source
    transaction ends after every page, so no snapshot is held for the whole table."""
    cols = [src.c[c] for c in order]
    columns = list(columns) if columns is not None else list(src.c)
    pos = [[getattr(c, "name", None) for c in columns].index(c) for c in order]
    last: list[Any] | None = None
    left = limit
    while left is None or left > 0:
        n = page_size if left is None else min(page_size, left)
        q = sa.select(*columns).select_from(src).where(*where).order_by(*cols).limit(n)
        if last is not None:
            q = q.where(_after(cols, last))
        got, res = 0, None
        try:
            res = conn.execution_options(yield_per=batch_size).execute(q)
            for part in res.partitions():
                got += len(part)
                last = [part[-1][i] for i in pos]
                yield part
        finally:
            if res is not None:
                res.close()  # a page left early (stop, limit): the driver discards the rest quietly
            conn.rollback()
        if left is not None:
            left -= got
        if got < n:
            return


def source_columns(conn: sa.Connection, table: str) -> dict[str, sa.types.TypeEngine]:
    """The columns of source table (or view) ``table``: name -> reflected type, in table order.
    Raises ``sqlalchemy.exc.NoSuchTableError``."""
    return {c["name"]: c["type"] for c in sa.inspect(conn).get_columns(table)}


# -- the sync -------------------------------------------------------------------------------

def sync_stream(source: sa.Engine, warehouse: sa.Engine, stream: SqlStream, opts: SyncOptions = SyncOptions(), *,
                source_name: str, source_uri: str, run_id: str | None = None, log: Any = log_,
                should_stop: Callable[[], bool] = lambda: False,
                on_batch: Callable[[IngestReport, int], None] | None = None) -> SyncResult:
    """Sync ``stream`` from ``source`` into ``warehouse`` (its tables created by the caller;
    ``sync_state`` / ``sync_history`` here). ``source_name``: the system in ``sync_state``
    (``genius``); ``source_uri``: where the rows come from without credentials
    (``mysql://host:3306/db``), ``_source`` is ``<source_uri>/<table read>``. ``on_batch(report,
    rows)`` after every committed batch; ``should_stop()`` between batches. Raises what the
    source or the warehouse raise beyond bad rows, after recording ``failed`` in the history."""
    with warehouse.begin() as c:
        ensure_tables(c)
        before = read_watermark(c, source_name, stream.source_table)
    incremental = bool(stream.cursor) and not opts.full and (opts.since is not None or before is not None)
    mode = "incremental" if incremental else "full"
    sync = StreamSync.start(warehouse, source_name, stream.source_table, mode=mode, run_id=run_id,
                            dry_run=opts.dry_run)
    name = opts.source_table or stream.source_table
    result = SyncResult(stream, mode, "running", IngestReport(dry_run=opts.dry_run), sync, False,
                        source=f"{source_uri}/{name}")
    try:
        src, cols = _source_table(source, stream, name, result, log)
        _run(source, warehouse, stream, opts, src, cols, result, run_id, log, should_stop, on_batch)
    except BaseException as exc:
        result.status = "failed"
        sync.finish(warehouse, "failed", error=f"{type(exc).__name__}: {exc}", details=_details(result))
        raise
    result.status = "partial" if result.report.failed_total or result.stopped else "succeeded"
    sync.finish(warehouse, result.status, details=_details(result))
    return result


def _source_table(source: sa.Engine, stream: SqlStream, name: str, result: SyncResult, log: Any
                  ) -> tuple[sa.TableClause, list[tuple[str, str, Any]]]:
    """The source table ``name`` to select from (its columns but ``exclude``) and the
    ``(warehouse column, source column, type)`` triples read. Records the warehouse columns
    the source lacks in ``result`` (they stay NULL; logged). Raises ``ValueError`` when the
    key or the cursor is missing, ``NoSuchTableError`` when the table is."""
    with source.connect() as sconn:
        have = source_columns(sconn, name)
    missing_key = [k for k in (*stream.source_key, *([stream.cursor] if stream.cursor else [])) if k not in have]
    if missing_key:
        raise ValueError(f"source table {name} lacks the key/cursor column(s) {', '.join(missing_key)}")
    cols = [(w, stream.source_column(w), stream.table.c[w].type) for w in stream.columns
            if stream.source_column(w) in have]
    result.missing_columns = [w for w in stream.columns if stream.source_column(w) not in have]
    if result.missing_columns:
        log.warning(f"{name}: the source has no column(s) {', '.join(result.missing_columns)}; they stay NULL")
    # untyped columns: values come as the driver returns them (typed by the warehouse column);
    # the reflected types ride along in ``info`` (the MySQL -> PostgreSQL writer's JSON needs them)
    src = sa.table(name, *[sa.column(c) for c in have if c not in stream.exclude])
    src.info = {"types": have}
    return src, cols


def _details(result: SyncResult) -> dict[str, Any]:
    rep = result.report
    return {"source": result.source, "complete": result.complete, "skipped": rep.counts["skipped"],
            "warnings": rep.warnings_total, "missing_columns": result.missing_columns,
            "failed_rows": [{"key": list(f.key) if isinstance(f.key, tuple) else f.key, "error": f.error}
                            for f in rep.failures[:20]]}


class _RowWriter:
    """Any source into any warehouse: each row converted in Python (:func:`converter` per
    column, ``raw`` built from the values) and written by :class:`~.load.BatchLoader`.
    ``columns``: what to select (every column of ``src``)."""

    def __init__(self, wconn: sa.Connection, stream: SqlStream, src: sa.TableClause,
                 cols: list[tuple[str, str, Any]], audit: Mapping[str, Any], rep: IngestReport):
        self.names = tuple(src.c.keys())
        self.columns = list(src.c)
        self.cols = tuple((w, self.names.index(s), converter(t), s) for w, s, t in cols)
        self.key = stream.key
        self.raw_text = wconn.dialect.name == "postgresql"  # COPY takes the JSON text as it is
        self.loader, self.rep = BatchLoader(wconn, TableLoad(stream.table), audit), rep

    def write(self, batch: Sequence[Sequence[Any]], lineno: int) -> tuple[dict[str, int], list[RowOutcome]]:
        """Write ``batch`` (row ``lineno + 1`` first): ``(counts by outcome, the failed and
        skipped rows' outcomes)``."""
        pending, failed = [], []
        for row in batch:
            lineno += 1
            item = self._convert(row, lineno)
            (failed if isinstance(item, RowOutcome) else pending).append(item)
        counts = {"inserted": 0, "updated": 0, "unchanged": 0, "skipped": 0, "failed": 0}
        rows = []
        for o in self.loader.load(pending) + failed:
            counts[o.outcome.value] += 1
            if o.outcome in (Outcome.FAILED, Outcome.SKIPPED):
                rows.append(o)
        return counts, rows

    def _convert(self, row: Sequence[Any], lineno: int) -> PendingRow | RowOutcome:
        """One source row as a :class:`PendingRow` (typed values, ``raw``, ``_deleted_at`` NULL);
        a bad optional cell lands NULL with a warning; a bad or NULL key fails the row."""
        values: dict[str, Any] = {}
        for w, i, conv, s in self.cols:
            v = row[i]
            if v is None:
                values[w] = None
                continue
            try:
                values[w] = conv(v)
            except CellError as e:
                if w in self.key:
                    return RowOutcome(lineno, Outcome.FAILED, key=v, error=f"{s}: {e}",
                                      record=dict(zip(self.names, map(raw_value, row))))
                self.rep.warn(CellWarning(lineno, s, raw_value(v), str(e)))
                values[w] = None
        raw: Any = (raw_json(self.names, row) if self.raw_text
                    else {k: raw_value(v) for k, v in zip(self.names, row)})
        if any(values[k] is None for k in self.key):
            return RowOutcome(lineno, Outcome.FAILED, key=tuple(values[k] for k in self.key), error="NULL key",
                              record=raw)
        values["raw"] = raw
        values["_deleted_at"] = None
        return PendingRow(lineno, values, raw)


#: SQL (MySQL) for a backslash, and the COPY text of NULL.
_BS, _NULL = "CHAR(92)", "CONCAT(CHAR(92), 'N')"


def _mysql_escaped(e: str) -> str:
    """``e`` (a MySQL text expression) escaped for PostgreSQL's COPY text format."""
    for ch, code in (("CHAR(92)", "CHAR(92)"), ("CHAR(9)", "'t'"), ("CHAR(10)", "'n'"), ("CHAR(13)", "'r'")):
        e = f"REPLACE({e}, {ch}, CONCAT({_BS}, {code}))"
    return e


#: MySQL regular expressions a text value must match to be read into a typed column, as the
#: Python path reads it (:func:`_int`, :func:`_decimal`, :func:`_bool`: surrounding whitespace
#: allowed; :func:`_date`: the first ten characters; ``fromisoformat`` for datetimes and times,
#: here without a UTC offset and with at least hours and minutes), then bounded by the column's
#: range in :func:`_mysql_cell`, so a value PostgreSQL would refuse never reaches its COPY.
_MYSQL_INT = "^[[:space:]]*[-+]?[0-9]+[[:space:]]*$"
_MYSQL_DECIMAL = "^[[:space:]]*[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]{1,4})?[[:space:]]*$"
_MYSQL_BOOL = "^[[:space:]]*(1|0|true|false|t|f|yes|no|y|n|)[[:space:]]*$"
_MYSQL_TRUE = "^[[:space:]]*(1|true|t|yes|y)[[:space:]]*$"
_MYSQL_DATE = "^[0-9]{4}-[0-9]{2}-[0-9]{2}"
_MYSQL_DATETIME = "^[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]{1,6})?)?)?$"
_MYSQL_TIME = "^[0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]{1,6})?)?$"
#: PostgreSQL's integer ranges, by SQLAlchemy type (most specific first).
_INT_RANGES = ((sa.SmallInteger, 2**15), (sa.BigInteger, 2**63), (sa.Integer, 2**31))


def _mysql_cell(q: str, type_: sa.types.TypeEngine, source_type: Any = None, *, key: bool = False
                ) -> tuple[str, str | None]:
    """(COPY text expression, NULL-ing condition or None) of source column ``q`` (quoted)
    for warehouse type ``type_``, following :func:`to_column`: zero or partial-zero dates and
    a TIME outside one day become NULL (the condition makes the cell warning); a NULL stays
    NULL. A text source column (``source_type`` a string type, e.g. a ``--table`` view) read
    into a typed column is checked first (:data:`_MYSQL_INT` and the others, the column's range):
    a value that is not a number, flag, date or time of that kind becomes NULL with a warning
    too (DESIGN.md §9: an optional cell never costs its row). A ``key`` column is never NULLed:
    its text goes to PostgreSQL as it is, which refuses a bad one with its own message, and
    the row fails."""
    text = isinstance(source_type, sa.String)
    if key and text:
        return f"IFNULL({_mysql_escaped(q)}, {_NULL})", None
    bad = None
    if isinstance(type_, (sa.DateTime, sa.Date, sa.Time)):
        kind = "TIME" if isinstance(type_, sa.Time) else "DATETIME" if isinstance(type_, sa.DateTime) else "DATE"
        v = q
        if text:
            rx, arg = {"TIME": (_MYSQL_TIME, q), "DATETIME": (_MYSQL_DATETIME, q), "DATE": (_MYSQL_DATE, f"LEFT({q}, 10)")}[kind]
            v = f"CAST({arg} AS {kind}{'' if kind == 'DATE' else '(6)'})"
        if kind == "TIME":
            bad = f"(TIME_TO_SEC({v}) < 0 OR TIME_TO_SEC({v}) >= 86400)"
        else:
            bad = f"(YEAR({v}) = 0 OR MONTH({v}) = 0 OR DAYOFMONTH({v}) = 0)"
            if text:  # a 30 February is NULL in MariaDB's default mode, kept under ALLOW_INVALID_DATES
                bad = f"({bad} OR DAYOFMONTH({v}) > DAYOFMONTH(LAST_DAY({v})))"
        if text:
            bad = f"({q} NOT REGEXP '{rx}' OR {v} IS NULL OR {bad})"
        e = f"IF({bad}, NULL, {v})"
    elif isinstance(type_, sa.Boolean):
        if text:
            bad = f"(LOWER({q}) NOT REGEXP '{_MYSQL_BOOL}')"
            e = f"IF({q} IS NULL OR {bad}, NULL, IF(LOWER({q}) REGEXP '{_MYSQL_TRUE}', 't', 'f'))"
        else:
            e = f"IF({q} IS NULL, NULL, IF({q}, 't', 'f'))"
    elif isinstance(type_, (sa.Integer, sa.Numeric)):
        if text:
            bad = _mysql_number_bad(q, type_)
            e = f"IF({bad}, NULL, {_mysql_escaped(q)})"  # PostgreSQL skips the surrounding whitespace
        else:
            e = q
    else:
        e = _mysql_escaped(q)
    return f"IFNULL({e}, {_NULL})", bad


def _mysql_number_bad(q: str, type_: sa.types.TypeEngine) -> str:
    """The MySQL condition under which text ``q`` is not a number ``type_`` can hold: not of
    the form, or outside the integer type's range, or (``NUMERIC(p, s)``) with ``p - s`` or
    more integer digits once rounded to ``s`` decimals."""
    if isinstance(type_, sa.Integer):
        lim = next(n for t, n in _INT_RANGES if isinstance(type_, t))
        return f"({q} NOT REGEXP '{_MYSQL_INT}' OR CAST({q} AS DECIMAL(65, 0)) NOT BETWEEN {-lim} AND {lim - 1})"
    cond = f"{q} NOT REGEXP '{_MYSQL_DECIMAL}'"
    p, sc = getattr(type_, "precision", None), getattr(type_, "scale", None)
    if isinstance(type_, sa.Float):
        cond += f" OR ABS(CAST({q} AS DECIMAL(65, 30))) >= 1e300"
    elif p is not None:
        cond += f" OR ABS(ROUND(CAST({q} AS DECIMAL(65, 30)), {sc or 0})) >= POW(10, {p - (sc or 0)})"
    return f"({cond})"


def _mysql_json(src: sa.TableClause, q: Callable[[str], str]) -> str:
    """A MySQL expression of the row as a JSON object (``raw``): numbers as numbers, everything
    else as ``JSON_QUOTE`` of its text (dates as the server prints them, a zero date included),
    NULL as ``null``. Built with ``CONCAT`` (measured: ~35 % cheaper than ``JSON_OBJECT`` on
    MariaDB 10.11 for a 31-column row)."""
    types = getattr(src, "info", {}).get("types", {})
    parts = []
    for i, n in enumerate(src.c.keys()):
        lit = ("{" if i == 0 else ",") + json.dumps(n) + ":"
        parts.append("'" + lit.replace("\\", "\\\\").replace("'", "''") + "'")
        number = isinstance(types.get(n), (sa.Integer, sa.Numeric)) and not isinstance(types.get(n), sa.Float)
        parts.append(f"IFNULL({q(n) if number else f'JSON_QUOTE({q(n)})'}, 'null')")
    return f"CONCAT({', '.join(parts)}, '}}')"


def _null_reason(type_: sa.types.TypeEngine) -> str:
    """The warning of a cell :func:`_mysql_cell` set NULL, by warehouse type."""
    if isinstance(type_, sa.Time):
        return "not a time of day"
    if isinstance(type_, (sa.DateTime, sa.Date)):
        return "zero or invalid date"
    return "not a flag" if isinstance(type_, sa.Boolean) else "not a number"


class _MySqlToPgWriter:
    """MySQL/MariaDB into PostgreSQL: the source renders each row as one line of COPY text (typed
    cells as :func:`_mysql_cell` says, ``raw`` as a JSON object of every column (:func:`_mysql_json`),
    ``_deleted_at`` NULL), plus a field naming the cells it set NULL (``column=value`` pairs,
    the cell warnings); Python only pairs each line with its row number. The lines go through
    the upsert core's counts front end, :class:`~.staged.StagedUpsert`: straight into the table
    with one ``COPY`` while no key of a batch exists yet (a first full sync writes each row
    once), then staged and upserted (``INSERT .. ON CONFLICT .. WHERE changed``; a key repeated
    in the batch: the last line wins); a refused batch is bisected down to its bad rows (key +
    database message). Commits do not wait for their WAL flush: each batch's watermark is in
    its own transaction, so a crash loses batches together with their watermarks, and the
    history row that says the sync ended is committed synchronously after them.

    Measured on 1 M appointments (BENCHMARKS.md "genius (database sync)"): PostgreSQL's side of a
    first full sync 13.2 s with the direct COPY against 23.8 s staged; MariaDB's rendering of the
    lines ~10 s on its own core."""

    def __init__(self, wconn: sa.Connection, stream: SqlStream, src: sa.TableClause,
                 cols: list[tuple[str, str, Any]], audit: Mapping[str, Any], rep: IngestReport, order: Sequence[str]):
        def q(n: str) -> str:  # a MySQL identifier (names come from the specs, never from data)
            return "`" + n.replace("`", "``") + "`"

        types = getattr(src, "info", {}).get("types", {})
        cells, bad = [], []
        for _w, s, t in cols:
            e, b = _mysql_cell(q(s), t, types.get(s), key=s in stream.source_key)
            cells.append(e)
            if b:
                bad.append(f"IF({b}, CONCAT('{s}=', CAST({q(s)} AS CHAR)), NULL)")
        cells += [_mysql_escaped(_mysql_json(src, q)), _NULL]
        self.columns = [src.c[c] for c in order] + [
            sa.literal_column(f"CONVERT(CONCAT_WS(CHAR(31), {', '.join(bad)}) USING utf8mb4)" if bad else "''").label("_nulled"),
            # bytes (BINARY): the driver hands the UTF-8 line over as it is, COPY takes it as it is
            sa.literal_column(f"CAST(CONVERT(CONCAT_WS(CHAR(9), {', '.join(cells)}) USING utf8mb4) AS BINARY)")
            .label("_copy_line")]
        self.key_pos = [order.index(k) for k in stream.source_key]
        self.reasons = {s: _null_reason(t) for _w, s, t in cols}
        self.rep = rep
        self.upsert = StagedUpsert(wconn, TableLoad(stream.table), [w for w, _s, _t in cols] + ["raw", "_deleted_at"],
                                   audit=audit, async_commit=True)

    def write(self, batch: Sequence[Sequence[Any]], lineno: int) -> tuple[dict[str, int], list[RowOutcome]]:
        """Write ``batch`` (row ``lineno + 1`` first): ``(counts by outcome, the failed and
        skipped rows' outcomes)`` (no object per written row: a batch's counts come from
        :meth:`~.staged.StagedUpsert.load_copy`)."""
        lines = []
        for n, row in enumerate(batch, lineno + 1):
            if row[-2]:
                for part in row[-2].split("\x1f"):
                    col, _, val = part.partition("=")
                    self.rep.warn(CellWarning(n, col, val, f"{self.reasons.get(col, 'not read')}: {val!r}"))
            lines.append((n, row[-1]))
        res = self.upsert.load_copy(lines)
        counts = {"inserted": res.inserted, "updated": res.updated, "unchanged": res.unchanged,
                  "skipped": len(res.skipped), "failed": len(res.failed)}

        def outcome(line: int, kind: Outcome, error: str) -> RowOutcome:
            row = batch[line - lineno - 1]
            return RowOutcome(line, kind, key=tuple(row[i] for i in self.key_pos), error=error,
                              record={"copy_line": _text(row[-1][:4000])} if kind is Outcome.FAILED else None)

        return counts, ([outcome(n, Outcome.FAILED, e) for n, e in res.failed]
                        + [outcome(n, Outcome.SKIPPED, e) for n, e in res.skipped])


def _range(stream: SqlStream, opts: SyncOptions, result: SyncResult, src: sa.TableClause, log: Any
           ) -> tuple[list, list[str], list[str]]:
    """``(where, selected order columns, keyset ordering)`` of the scan: incremental from the
    watermark minus the lookback (or ``since``) in ``(cursor, key)`` order; full in key order
    (the cursor selected too, for the watermark)."""
    if result.mode == "incremental":
        since = opts.since
        if since is None:
            since = result.sync.before.cursor_datetime() - opts.lookback  # type: ignore[union-attr]
        log.info(f"{stream.source_table}: incremental from {since} (watermark {result.sync.before})")
        order = [stream.cursor, *stream.source_key]
        return [src.c[stream.cursor].is_not(None), src.c[stream.cursor] >= since], order, order
    log.info(f"{stream.source_table}: full scan of {src.name}")
    return [], [*stream.source_key, *([stream.cursor] if stream.cursor else [])], list(stream.source_key)


def _run(source: sa.Engine, warehouse: sa.Engine, stream: SqlStream, opts: SyncOptions, src: sa.TableClause,
         cols: list[tuple[str, str, Any]], result: SyncResult, run_id: str | None, log: Any,
         should_stop: Callable[[], bool], on_batch) -> None:
    """The read -> write loop of :func:`sync_stream` (fills ``result``): keyset batches, each
    written (:class:`_MySqlToPgWriter` from MySQL into PostgreSQL, :class:`_RowWriter`
    otherwise) and committed with its counts and watermark."""
    sync, rep = result.sync, result.report
    where, order, ordering = _range(stream, opts, result, src, log)
    top: tuple[Any, Any] | None = None  # (cursor, key) of the last row with the largest cursor
    lineno = 0
    audit = {"_source": result.source, "_run_id": run_id}
    seen = _SeenKeys()

    def batches() -> Iterator[list[sa.Row]]:  # on the reader thread, with its own source connection
        with source.connect() as sconn:
            yield from keyset_rows(sconn, src, ordering, columns=writer.columns, where=where,
                                   page_size=opts.page_size, batch_size=opts.batch_size, limit=opts.max_records)

    with warehouse.connect() as wconn:
        if source.dialect.name == "mysql" and warehouse.dialect.name == "postgresql":
            writer: Any = _MySqlToPgWriter(wconn, stream, src, cols, audit, rep, order)
        else:
            writer = _RowWriter(wconn, stream, src, cols, audit, rep)
        names = [getattr(c, "name", None) for c in writer.columns]
        cpos = names.index(stream.cursor) if stream.cursor else None
        kpos = [names.index(k) for k in stream.source_key]
        stopped = False
        with closing(_prefetch(batches)) as reader:  # closed (its thread ended) however the loop ends
            for batch in reader:
                if result.mode == "full":
                    seen.add_batch(batch, kpos)
                counts, rows = writer.write(batch, lineno)
                lineno += len(batch)
                for k in ("inserted", "updated", "unchanged"):
                    rep.counts[k] += counts[k]
                rep.extend(rows)  # failed and skipped rows: counted and kept for the report
                wm = None
                if cpos is not None:
                    if result.mode == "incremental":  # rows come in cursor order: the last one is the largest
                        last = _top(batch[-1:], cpos, kpos, None)
                        wm = Watermark.of(*last) if last else None
                    else:
                        top = _top(batch, cpos, kpos, top)
                sync.commit_batch(wconn, {**counts, "rows_read": len(batch)}, wm)
                if not opts.dry_run:
                    wconn.commit()
                if on_batch:
                    on_batch(rep, len(batch))
                if should_stop():
                    stopped = True
                    log.warning(f"{stream.source_table}: stopping (run terminated); committed batches stay")
                    break
        result.stopped = stopped
        result.complete = not stopped and (opts.max_records is None or sync.counts["rows_read"] < opts.max_records)
        if result.complete and result.mode == "full":
            if opts.source_table and opts.source_table != stream.source_table:
                log.info(f"{stream.source_table}: read from {opts.source_table}; no rows marked deleted")
            else:
                result.deleted = _mark_deleted(warehouse, wconn, stream, seen, result.source.rsplit("/", 1)[0] + "/")
            sync.commit_batch(wconn, {"deleted": result.deleted}, Watermark.of(*top) if top else None)
        if opts.dry_run:
            wconn.rollback()
        else:
            wconn.commit()


def _top(rows: Sequence[Sequence[Any]], cpos: int, kpos: list[int], top: tuple | None) -> tuple | None:
    """``(cursor datetime, key)`` of the row with the largest cursor among ``top`` and
    ``rows`` (source rows; cursor at ``cpos``, key at ``kpos``; in key order, so a tie goes to
    the later row). NULL and zero-date cursors are skipped. One ``max`` per batch; texts are
    parsed by ``fromisoformat`` in one pass, each on its own only in a batch holding a bad one."""
    cands = [(v, i) for i, r in enumerate(rows) if type(v := r[cpos]) is dt.datetime]
    texts = [(v, i) for i, r in enumerate(rows) if type(v := r[cpos]) is str]
    slow = [(v, i) for i, r in enumerate(rows) if type(v := r[cpos]) not in (dt.datetime, str, type(None))]
    try:  # the usual batch: every text a valid date (the server's text, see resources.mysql)
        cands += [(dt.datetime.fromisoformat(v), i) for v, i in texts]
    except ValueError:  # a zero or invalid date among them: each text on its own
        slow += texts
    for v, i in slow:
        try:
            cands.append((_datetime(v), i))
        except CellError:
            continue
    if not cands:
        return top
    c, i = max(cands)  # equal cursors: the larger index, the later row
    if top is None or c >= top[0]:
        r = rows[i]
        top = (c, r[kpos[0]] if len(kpos) == 1 else tuple(r[k] for k in kpos))
    return top


class _SeenKeys:
    """The keys a full scan read, compactly: single integer keys in an ``array('q')`` (8 bytes
    each: 16 MB for 2 M rows), others in a set. :meth:`missing` compares them with the
    warehouse's keys, so no second scan of the source is needed."""

    def __init__(self) -> None:
        self.ints: array | None = array("q")
        self.other: set = set()

    def add_batch(self, rows: Sequence[Sequence[Any]], kpos: list[int]) -> None:
        """:meth:`add` the key (the values at ``kpos``) of each of ``rows``; a batch of single
        integer keys in one ``array.extend``."""
        if self.ints is not None and len(kpos) == 1:
            vals = [r[kpos[0]] for r in rows]
            if all(type(v) is int for v in vals):
                try:
                    self.ints.extend(array("q", vals))  # built first: all or nothing
                    return
                except OverflowError:  # e.g. BIGINT UNSIGNED above 2**63 - 1: keys as tuples
                    pass
        for r in rows:
            self.add(tuple(r[i] for i in kpos))

    def add(self, key: tuple) -> None:
        if self.ints is not None and len(key) == 1 and type(key[0]) is int and -2**63 <= key[0] < 2**63:
            self.ints.append(key[0])
            return
        if self.ints is not None:  # not all single integers: keep them all as tuples
            self.other.update((k,) for k in self.ints)
            self.ints = None
        self.other.add(key)

    def missing(self, chunks: Iterable[Sequence[Sequence[Any]]]) -> list[tuple]:
        """The keys (tuples) in ``chunks`` (lists of key rows) that were not seen. Integer keys
        are looked up in the sorted seen keys with NumPy one chunk at a time (memory holds one
        chunk of them); a key that is not a single integer is not seen."""
        if self.ints is None:
            return [tuple(k) for chunk in chunks for k in chunk if tuple(k) not in self.other]
        import numpy as np

        have = np.frombuffer(self.ints, dtype=np.int64) if len(self.ints) else np.zeros(0, np.int64)
        if len(have) > 1 and not (have[1:] >= have[:-1]).all():  # key order can differ from int order
            have = np.sort(have)
        out: list[tuple] = []
        for chunk in chunks:
            ints = [k[0] for k in chunk if len(k) == 1 and type(k[0]) is int]
            out += [tuple(k) for k in chunk if len(k) != 1 or type(k[0]) is not int]
            if ints and len(have):
                want = np.array(ints, dtype=np.int64)
                hit = have[np.minimum(np.searchsorted(have, want), len(have) - 1)] == want
                out += [(k,) for k in want[~hit].tolist()]
            else:
                out += [(k,) for k in ints]
        return out


def _mark_deleted(warehouse: sa.Engine, wconn: sa.Connection, stream: SqlStream, seen: _SeenKeys,
                  source_prefix: str) -> int:
    """After a completed full scan: set ``_deleted_at`` on the warehouse rows written from this
    source database (``_source`` starts with ``source_prefix``, whichever table or copy of it
    they were read from; rows another source wrote, e.g. a CSV export, are left alone) whose key
    the scan did not read (``seen``). The warehouse's keys are streamed in fetched chunks, in
    no particular order. Returns the rows marked."""
    t, key = stream.table, stream.key
    cols = [t.c[k] for k in key]
    q = sa.select(*cols).where(t.c._deleted_at.is_(None), t.c._source.startswith(source_prefix, autoescape=True))
    with warehouse.connect() as rconn:
        missing = seen.missing(rconn.execution_options(yield_per=10_000).execute(q).partitions())
    now = dt.datetime.now(dt.timezone.utc)
    for i in range(0, len(missing), 500):
        chunk = missing[i:i + 500]
        cond = cols[0].in_([k[0] for k in chunk]) if len(key) == 1 else sa.tuple_(*cols).in_(chunk)
        wconn.execute(t.update().where(cond).values(_deleted_at=now))
    return len(missing)


def _prefetch(batches: Callable[[], Iterator[Any]], depth: int = 2) -> Iterator[Any]:
    """The items of ``batches()``, produced on a thread up to ``depth`` ahead, so the source's
    reading (and its driver's parsing) overlaps the warehouse's writing of the previous batch.
    An exception of the producer is raised here; closing this generator stops the producer."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop, done = threading.Event(), object()

    def produce() -> None:
        try:
            for item in batches():
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(done)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            q.put(exc)

    thread = threading.Thread(target=produce, name="sql-sync-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                q.get(timeout=0.2)
            except queue.Empty:
                pass
        thread.join()
