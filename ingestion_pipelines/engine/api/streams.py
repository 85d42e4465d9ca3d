"""Declarative REST streams and the one runner every API source shares (DESIGN.md §10: "a new
stream is a spec entry, not new code").

:func:`sync_stream` ``(engine, client, source, stream, opts) -> StreamResult`` syncs one
:class:`RestStream` (an :class:`~.client.Endpoint`, a table and typed
:class:`~ingestion_pipelines.engine.profiles.Field` s read from record paths) into the
warehouse under DESIGN.md §10's sync rules:

* **Plan** (:func:`~.incremental.plan`): ``--since`` > ``--full`` > the watermark minus the
  stream's ``lookback`` > a full read when there is no watermark. An incremental read asks the
  endpoint with ``stream.since(start)``'s parameters (an ``id`` cursor: ``stream.after(cursor)``);
  a stream without ``since`` is always read in full.
* **Watermark** = the largest *committed* cursor, written by
  :class:`~.incremental.StreamWriter` in the batch's own transaction. A stream whose API answers
  in ascending cursor order (``ordered=True``) commits each page with its largest cursor; any
  other read commits its watermark only once it completes, as
  :func:`~.incremental.full_watermark` (the largest cursor read, never past the read's start),
  so a killed or failed read leaves the old watermark and the next run reads it again.
* **An error is never an empty page**: a request that still fails after the client's retries
  ends the stream ``failed`` in ``sync_history`` (what landed is counted; the watermark stays
  where the data is); the daily quota ends it ``partial``; a run being terminated stops it
  between pages (``partial``). Nothing is deleted: ``_deleted_at`` is set only where
  ``stream.deleted(record)`` gives positive evidence.
* **Rows**: each page is one batch (converted column by column by the engine's
  :class:`~ingestion_pipelines.engine.profiles.RowConverter`: DESIGN.md §9 — an optional cell
  that does not parse lands NULL and is a warning; a record without its key fails alone, into
  the failed-rows list). The upsert makes duplicates across pages and lookback overlaps
  harmless (an equal row is ``unchanged``). ``raw`` keeps the record as the API sent it.

A field's record paths are its ``aliases`` (dotted: ``customer_exact_location.lat``; the first
non-blank wins), or its ``name`` when it has none; ``""`` is the whole record (for a
``parse=`` that reads several keys). :func:`stream_table` derives a table from the fields
(their columns, ``raw``, the audit columns, ``_deleted_at``); :class:`SyncOptions` and
:class:`StreamResult` are shared with the HubSpot sync.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterator, Mapping, Sequence

import sqlalchemy as sa

from .. import validate as v
from ..load import PendingRow, TableLoad
from ..outcomes import Outcome, RowOutcome
from ..profiles import CsvProfile, Field, HeaderMap, RowConverter
from ..schema import AUDIT_COLUMNS, natural_key_constraint, record_columns
from ..sync_state import StreamSync, Watermark, ensure_tables, read_watermark
from .client import ApiClient, Endpoint, Page, prefetch
from .incremental import Plan, Stopped, StreamWriter, full_watermark, plan, stream_status
from .paginators import dig

__all__ = ["RestStream", "StreamResult", "SyncOptions", "parse_cursor_time", "record_paths", "stream_table", "sync_stream"]

CURSOR_TYPES = ("datetime", "id")


def parse_cursor_time(value: Any) -> dt.datetime | None:
    """A cursor value as an aware datetime: ISO 8601 (``Z`` or an offset; naive = UTC), US
    ``m/d/Y`` and the other forms :func:`~ingestion_pipelines.engine.validate.timestamp` reads,
    or epoch seconds / milliseconds (a number above 10**11 is milliseconds). None when blank;
    ``ValueError`` when it does not read as a time."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        secs = value / 1000 if value > 10**11 else value
        return dt.datetime.fromtimestamp(secs, dt.timezone.utc)
    if type(value) is str and len(value) >= 10 and value[4] == "-":  # ISO 8601, the usual case
        try:
            t = dt.datetime.fromisoformat(value)
            return t if t.tzinfo is not None else t.replace(tzinfo=dt.timezone.utc)
        except ValueError:
            pass
    try:
        return v.timestamp(value, "cursor", dt.timezone.utc)
    except v.FieldError as e:
        raise ValueError(str(e)) from None


@dataclass(frozen=True, eq=False)
class RestStream:
    """One API stream as data (module docstring).

    ``name``: the stream (``tasks``; also its ``sync_state`` stream); ``endpoint``: where and
    how it pages; ``table``: where rows land; ``fields``: the typed columns (record paths:
    module docstring); ``key``: the field name(s) of the natural key (required: a record
    without it fails alone); ``cursor``: the record path of the cursor (an updated time, or an
    ascending id), None for a stream read in full every time; ``cursor_type``: ``datetime`` |
    ``id``; ``cursor_order``: ``natural`` (:meth:`Watermark.sort_key`: numbers, times, text) |
    ``text`` (fixed-width ids whose text order is their order: hex ObjectIds); ``ordered``: the API returns records in ascending cursor order (each page then
    commits its watermark); ``since(start: aware datetime) -> params`` for an incremental
    read from a time (None: no incremental reads); ``after(cursor: str) -> params`` to resume
    after a stored ``id`` cursor; ``deleted(record) -> bool``: positive evidence of deletion
    (``_deleted_at`` = the record's cursor time, else the sync's start; False clears it: the
    record exists); ``records(page) -> list[dict]``: the records of a page to write (default
    ``page.records``; derive rows here, e.g. LeadConduit's leads from its events);
    ``path_vars``: the endpoint path's placeholders; ``params``: extra query parameters of
    every request; ``lookback``; ``parse_cursor``: cursor value -> aware datetime
    (default :func:`parse_cursor_time`); ``default_region`` / ``default_tz``: for phones and
    naive datetimes; ``preserve_on_blank`` / ``fill_only``: column ownership
    (:class:`~ingestion_pipelines.engine.upsert.TableLoad`); ``description``: the asset's
    one sentence; ``deps``: other streams of the system this one's asset depends on (lineage
    in the UI). Raises ``ValueError`` for an inconsistent spec."""

    name: str
    endpoint: Endpoint
    table: sa.Table
    fields: tuple[Field, ...]
    key: tuple[str, ...] = ("id",)
    cursor: str | None = None
    cursor_type: str = "datetime"
    cursor_order: str = "natural"
    ordered: bool = False
    since: Callable[[dt.datetime], Mapping[str, Any]] | None = None
    after: Callable[[str], Mapping[str, Any]] | None = None
    deleted: Callable[[Mapping[str, Any]], bool] | None = None
    records: Callable[[Page], list[dict]] | None = None
    path_vars: Mapping[str, Any] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    lookback: dt.timedelta = dt.timedelta(minutes=10)
    parse_cursor: Callable[[Any], dt.datetime | None] = parse_cursor_time
    default_region: str = "US"
    default_tz: str = "UTC"
    preserve_on_blank: frozenset[str] = frozenset()
    fill_only: frozenset[str] = frozenset()
    description: str = ""
    deps: tuple[str, ...] = ()
    _derived: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", tuple(self.fields))
        if isinstance(self.key, str):
            object.__setattr__(self, "key", (self.key,))
        if self.cursor_type not in CURSOR_TYPES:
            raise ValueError(f"{self.name}: cursor_type must be one of {CURSOR_TYPES}")
        if self.cursor_order not in ("natural", "text"):
            raise ValueError(f"{self.name}: cursor_order must be natural or text")
        if self.cursor_type == "id" and self.cursor and self.after is None:
            raise ValueError(f"{self.name}: an id cursor needs after=")
        if self.deleted is not None and "_deleted_at" not in self.table.c:
            raise ValueError(f"{self.name}: table {self.table.name} has no _deleted_at")
        self.converter_profile()  # raises on unknown key fields / columns the table lacks

    def converter_profile(self) -> CsvProfile:
        """The fields as the engine's converter sees them (aliases dropped: paths are ours)."""
        got = self._derived.get("profile")
        if got is None:
            got = CsvProfile(system=self.table.name, object=self.name,
                             fields=tuple(replace(f, aliases=()) for f in self.fields), key=self.key,
                             table=self.table, default_region=self.default_region, default_tz=self.default_tz)
            self._derived["profile"] = got
        return got

    def header_map(self) -> HeaderMap:
        """Every field's record paths as the "headers" of the converter (one position each)."""
        got = self._derived.get("hmap")
        if got is None:
            headers: list[str] = []
            positions: dict[str, tuple[int, ...]] = {}
            for f in self.fields:
                ps = []
                for p in record_paths(f):
                    if p not in headers:
                        headers.append(p)
                    ps.append(headers.index(p))
                positions[f.name] = tuple(ps)
            got = self._derived["hmap"] = HeaderMap(tuple(headers), positions, (), {})
        return got

    def getters(self) -> list[Callable[[Any], Any]]:
        """One :func:`path_getter` per path of :meth:`header_map`, in its order."""
        got = self._derived.get("getters")
        if got is None:
            got = self._derived["getters"] = [path_getter(p) for p in self.header_map().headers]
        return got

    def cursor_getter(self, rec: Any) -> Any:
        """The record's cursor value (None without a cursor)."""
        got = self._derived.get("cursor")
        if got is None:
            got = self._derived["cursor"] = path_getter(self.cursor) if self.cursor else (lambda rec: None)
        return got(rec)

    def key_getter(self, rec: Any) -> Any:
        """The record's one-field key (None for a composite key)."""
        got = self._derived.get("key")
        if got is None:
            got = self._derived["key"] = path_getter(self.key_path) if self.key_path is not None else (lambda rec: None)
        return got(rec)

    @property
    def key_path(self) -> str | None:
        """The record path of a one-field key (the watermark's tie-break id), else None."""
        if len(self.key) != 1:
            return None
        return record_paths(next(f for f in self.fields if f.name == self.key[0]))[0]

    def load_spec(self) -> TableLoad:
        """The table's load: ``_deleted_at`` alone is no change (``deleted`` is a function of the
        record, so ``raw`` changes whenever the evidence does): a mark keeps its first time."""
        return TableLoad(self.table, preserve_on_blank=self.preserve_on_blank, fill_only=self.fill_only,
                         compare_exclude=frozenset(AUDIT_COLUMNS) | {"_deleted_at"})


def stream_table(name: str, metadata: sa.MetaData, fields: Sequence[Field], key: Sequence[str] = ("id",),
                 comment: str = "") -> sa.Table:
    """A table derived from a stream's fields (DESIGN.md §10): each stored field's column
    (:meth:`Field.sql_type`, its ``description`` as the comment; the key NOT NULL), then
    ``raw``, the audit columns and ``_deleted_at``, the key as ``uq_<name>_natural_key``."""
    cols = [sa.Column(f.name, f.sql_type(), nullable=f.name not in key, comment=f.description or None)
            for f in fields if f.store]
    return sa.Table(name, metadata, *cols, *record_columns(), natural_key_constraint(name, *key), comment=comment or None)


def path_getter(path: str) -> Callable[[Any], Any]:
    """``getter(record)`` -> the value at a dotted ``path`` (as :func:`~.paginators.dig`, ~5x
    faster for plain dicts: a page of 500 records x 30 fields is 15,000 look-ups)."""
    if not path:
        return lambda rec: rec
    parts = path.split(".")
    if len(parts) == 1:
        key = parts[0]
        return lambda rec: rec.get(key) if type(rec) is dict else dig(rec, path)

    def get(rec: Any) -> Any:
        cur = rec
        for i, part in enumerate(parts):
            if type(cur) is not dict:  # a list, another mapping type, None: the general walk
                return dig(cur, ".".join(parts[i:])) if cur is not None else None
            cur = cur.get(part)
        return cur
    return get


def record_paths(f: Field) -> tuple[str, ...]:
    """The record paths a field reads: its aliases, or its name (module docstring)."""
    return tuple(f.aliases) if f.aliases else (f.name,)


@dataclass
class SyncOptions:
    """``full``; ``since`` (aware datetime: incremental from it, no lookback); ``limit``
    (records per stream, 0 = all; a limited read commits no end-of-read watermark);
    ``dry_run`` (everything read and compared, nothing written); ``run_id``;
    ``should_stop()`` (polled between pages); ``on_progress(n)`` (records read);
    ``properties``: per stream, the properties to read (HubSpot)."""

    full: bool = False
    since: dt.datetime | None = None
    limit: int = 0
    dry_run: bool = False
    run_id: str | None = None
    should_stop: Callable[[], bool] = lambda: False
    on_progress: Callable[[int], None] = lambda n: None
    properties: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class StreamResult:
    """One stream's outcome: ``sync`` (its history: counts, watermarks), ``status``
    (succeeded | partial | failed), ``error`` (credential-free text, ``""`` when none), the
    writer's ``report`` (failed rows, warnings), ``details`` (requests, pages, duration_s, ...
    for the metadata)."""

    sync: StreamSync
    status: str
    error: str
    report: Any
    details: dict[str, Any] = field(default_factory=dict)


def sync_stream(engine: sa.Engine, client: ApiClient, source: str, stream: RestStream, opts: SyncOptions,
                log: Any = None) -> StreamResult:
    """Sync ``stream`` of ``source`` (the ``sync_state`` source: the system) through
    ``client`` (module docstring). Never raises for an API failure (the result's ``status`` /
    ``error`` say it, and so does ``sync_history``); other exceptions close the history row
    ``failed`` and propagate. The table and ``sync_state`` must be creatable on ``engine``
    (they are created when missing)."""
    with engine.begin() as c:
        ensure_tables(c)
        stream.table.metadata.create_all(c, tables=[stream.table], checkfirst=True)
        before = read_watermark(c, source, stream.name)
    p, params = _plan(stream, before, opts)
    t0, req0 = time.monotonic(), client.stats["requests"]
    sync = StreamSync.start(engine, source, stream.name, mode=p.mode, run_id=opts.run_id, dry_run=opts.dry_run)
    sync.text_order = stream.cursor_order == "text"
    audit = {"_source": client.base_url.rstrip("/") + "/" + stream.endpoint.path.format(**stream.path_vars).lstrip("/"),
             "_run_id": opts.run_id}
    writer = StreamWriter(engine, stream.load_spec(), sync, audit, opts.dry_run)
    details: dict[str, Any] = {"pages": 0, "start": p.start.isoformat() if p.start else ""}
    with writer, stream_status(engine, sync) as ended:
        _read(writer, client, stream, opts, params, details)
    status, error = ended.status, ended.error
    details.update(requests=int(client.stats["requests"] - req0), duration_s=round(time.monotonic() - t0, 3),
                   warnings=writer.report.warnings_total)
    if log is not None and error:
        log.warning(f"{source} {stream.name}: {status}: {error}")
    sync.finish(engine, status, error=error or None, details=details)
    return StreamResult(sync, status, error, writer.report, details)


def _plan(stream: RestStream, before: Watermark | None, opts: SyncOptions) -> tuple[Plan, dict[str, Any]]:
    """The read's plan and the endpoint parameters that start it."""
    params = dict(stream.params)
    if stream.since is None and stream.after is None:
        return Plan("full", None), params
    if stream.cursor_type == "id" and opts.since is None:
        if opts.full or before is None or before.cursor is None or stream.after is None:
            return Plan("full", None), params
        return Plan("incremental", None), {**params, **stream.after(before.cursor)}
    if opts.since is not None and stream.since is None:
        raise ValueError(f"{stream.name}: this stream cannot start at a time (no since=)")
    p = plan(before, full=opts.full, since=opts.since, lookback=stream.lookback)
    if p.start is not None and stream.since is not None:
        params.update(stream.since(p.start))
    return p, params


def _read(writer: StreamWriter, client: ApiClient, stream: RestStream, opts: SyncOptions, params: dict[str, Any],
          details: dict[str, Any]) -> None:
    """Read every page of the plan and write it (module docstring); raises :class:`~.incremental.Stopped`
    when the run is being terminated, and the client's errors."""
    started = dt.datetime.now(dt.timezone.utc)
    conv = RowConverter(stream.converter_profile(), stream.header_map())
    pages: Iterator[Page] = client.pages(stream.endpoint, stream.path_vars, params)
    line, complete = 0, True
    best: tuple | None = None  # (sort key, Watermark) of the largest cursor read
    for page in prefetch(pages):
        records = stream.records(page) if stream.records is not None else page.records
        if opts.limit and line + len(records) >= opts.limit:
            records, complete = records[: opts.limit - line], False
        line, page_best = _write_page(writer, conv, stream, records, line, started,
                                      ordered=stream.ordered and stream.cursor is not None, order=writer.sync.order)
        if page_best is not None and (best is None or page_best[0] > best[0]):
            best = page_best
        details["pages"] += 1
        opts.on_progress(len(records))
        if not complete:
            break
        if opts.should_stop():
            raise Stopped()
    if complete and best is not None and not stream.ordered:
        wm = best[1]
        if stream.cursor_type == "datetime":
            t = full_watermark(best[1].cursor_datetime(), started)
            wm = Watermark.of(t, None if t < best[1].cursor_datetime() else best[1].id)
        writer.write([], wm, read=0)


def _write_page(writer: StreamWriter, conv: RowConverter, stream: RestStream, records: Sequence[Any], line: int,
                started: dt.datetime, *, ordered: bool, order: Callable[[Watermark], tuple]) -> tuple[int, tuple | None]:
    """Convert and upsert one page in one transaction (an ordered stream's with the
    watermark of its largest cursor). Returns the last line number and ``(sort key,
    Watermark)`` of the page's largest cursor (None when it has none)."""
    batch, bad, best = [], [], None
    getters = stream.getters()
    for rec in records:
        line += 1
        if not isinstance(rec, Mapping):
            bad.append(RowOutcome(line, Outcome.FAILED, error="record is not an object", record={"value": repr(rec)[:200]}))
            continue
        batch.append((line, [get(rec) for get in getters], rec))
        wm = _cursor_of(stream, rec)
        if wm is not None and (best is None or order(wm) > best[0]):
            best = (order(wm), wm)
    got = conv.convert_batch(batch)
    writer.report.add_warnings(got.warnings)
    failed = bad + [RowOutcome(row, Outcome.FAILED, error=str(err), record=_record_of(batch, row))
                    for row, _cells, err in got.failed]
    recs = {row: rec for row, _cells, rec in batch}
    for j, kind in enumerate(got.kinds):  # UTC: SQLite/MySQL drop an offset and read the wall time back as UTC
        if kind == "datetime":
            got.columns[j] = [x.astimezone(dt.timezone.utc) if x is not None and x.tzinfo is not None else x
                              for x in got.columns[j]]
    rows = []
    for row, vals in zip(got.rows, got.values()):
        values = dict(zip(got.names, vals))
        if stream.deleted is not None:
            values["_deleted_at"] = _deleted_at(stream, recs[row], started)
        rows.append(PendingRow(row, values, recs[row]))
    writer.write(rows, best[1] if (ordered and best) else None, read=len(records), failed=failed,
                 deleted_by="_deleted_at" if stream.deleted is not None else None)
    return line, best


def _record_of(batch: list[tuple[int, list, Any]], row: int) -> Any:
    return next((rec for r, _c, rec in batch if r == row), None)


def _cursor_of(stream: RestStream, rec: Mapping[str, Any]) -> Watermark | None:
    """The record's cursor as a :class:`Watermark` (with its key as the tie-break id), or
    None when it has none or it does not read (such a record still lands)."""
    if stream.cursor is None:
        return None
    raw = stream.cursor_getter(rec)
    key = stream.key_getter(rec)
    if raw is None or raw == "":
        return None
    if stream.cursor_type == "id":
        return Watermark.of(raw)
    try:
        t = stream.parse_cursor(raw)
    except (ValueError, TypeError):
        return None
    return Watermark.of(t, key) if t is not None else None


def _deleted_at(stream: RestStream, rec: Mapping[str, Any], started: dt.datetime) -> dt.datetime | None:
    """``_deleted_at`` of a record: None while it exists; on evidence of deletion its cursor
    time (the same on every re-read: unchanged), else the sync's start."""
    if not stream.deleted(rec):
        return None
    if stream.cursor and stream.cursor_type == "datetime":
        try:
            t = stream.parse_cursor(stream.cursor_getter(rec))
        except (ValueError, TypeError):
            t = None
        if t is not None:
            return t
    return started

