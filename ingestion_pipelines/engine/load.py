"""Batched, transactional upserts on a table's natural key, with per-row outcomes.

The per-row front end of the upsert core (:mod:`.upsert`; the counts-only one is
:class:`~.staged.StagedUpsert`). Two paths, one contract (DESIGN.md §2, "load"):

* PostgreSQL: the batch is ``COPY``-ed (text format) into a session-local staging table,
  orphans (``TableLoad.refs``) are removed from it in SQL, then one ``INSERT .. SELECT .. ON
  CONFLICT (natural key) DO UPDATE .. WHERE <something changed> RETURNING <key>, (xmax = 0)``
  writes it (:class:`~.upsert.PgStaging`). Rows not returned were unchanged (or skipped).
* Every other dialect (SQLite, MySQL/MariaDB): the existing rows of the batch are read with one
  ``SELECT .. WHERE key IN (..)`` (and their parents, for orphans), compared in Python, and written with one executemany
  ``INSERT`` and one executemany ``UPDATE``.

Each batch runs inside a savepoint. When it fails (a constraint, a value the database
refuses), the batch is rolled back and bisected until the bad rows are isolated: they are
reported as failed with the database's message, and every good row still lands.

Column ownership: only the columns present in a row are written; columns listed in
``preserve_on_blank`` are never overwritten by a blank (``None`` or all-space text) value, so a value
a person typed in by hand survives a sync from a source that has nothing for it. Columns listed
in ``fill_only`` are stronger: the source writes them only while the stored value is NULL or
blank, so a value already there (typed by hand, or written by an earlier run) always wins.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, StatementError

from .copytext import copy_value
from .outcomes import IngestReport, Outcome, RowOutcome
from .upsert import ParentRef, PgStaging, TableLoad, find_orphans, owned_value

__all__ = ["BatchLoader", "LoadRun", "ParentRef", "PendingRow", "RowInvalid", "TableLoad", "chunked",
           "db_message", "is_row_error", "run_bisected", "sync_children"]


@dataclass
class PendingRow:
    """One validated row waiting to be loaded.

    ``row`` is the input row number (for reports), ``values`` maps table column names to
    Python values (only the columns the source owns), ``record`` is the original input
    record (for the failed-rows file).
    """

    row: int
    values: dict[str, Any]
    record: Mapping[str, Any] | None = None
    key_cache: tuple | None = field(default=None, init=False, repr=False, compare=False)


def _norm(v: Any) -> Any:
    """A comparable form of a value as Python or a database driver may hand it back."""
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, (int, float, decimal.Decimal)):
        return decimal.Decimal(str(v)).normalize()
    if isinstance(v, dt.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=dt.timezone.utc)
        return v.astimezone(dt.timezone.utc)
    if isinstance(v, (dict, list)):
        return json.dumps(v, sort_keys=True, default=str)
    if isinstance(v, uuid.UUID):
        return str(v)
    return v


def _key_part(v: Any) -> str:
    t = type(v)
    if t is str:
        return v
    if t is int:
        return str(v)
    return str(_norm(v))


def _key_of(values: Mapping[str, Any], key: Sequence[str]) -> tuple:
    """A comparable key: the same for a value as Python holds it and as the database returns it."""
    return tuple(_key_part(values.get(k)) for k in key)


def _row_key(r: PendingRow, key: Sequence[str]) -> tuple:
    """``_key_of`` of a pending row, computed once per row."""
    k = r.key_cache
    if k is None:
        k = r.key_cache = _key_of(r.values, key)
    return k


# Enum members as module constants: attribute access on an Enum class is slow in a per-row loop.
INSERTED, UPDATED, UNCHANGED, SKIPPED, FAILED = (Outcome.INSERTED, Outcome.UPDATED, Outcome.UNCHANGED,
                                                 Outcome.SKIPPED, Outcome.FAILED)


class BatchLoader:
    """Loads :class:`PendingRow` batches into one table through one connection.

    ``audit`` gives the values of the audit columns (``_source``, ``_run_id``, ``_ingest_file_id``;
    those the table has);
    ``_ingested_at`` is set to now on every written row. Use :meth:`load` per batch; it
    returns one :class:`RowOutcome` per input row, in input order. Raises nothing for bad
    rows (they come back as failed); connection-level errors propagate.
    """

    def __init__(self, conn: sa.Connection, spec: TableLoad, audit: Mapping[str, Any] | None = None):
        self.conn = conn
        self.spec = spec
        self.table = spec.table
        self.audit = {k: v for k, v in (audit or {}).items() if k in self.table.c}
        self.is_postgres = conn.dialect.name == "postgresql"
        self._stagings: dict[tuple[str, ...], PgStaging] = {}  # PostgreSQL: per column set

    # -- public -----------------------------------------------------------------------
    def load(self, rows: Sequence[PendingRow]) -> list[RowOutcome]:
        """Load one batch (in a savepoint, bisected on failure); one outcome per row."""
        rows, dup_outcomes = self._dedupe(rows)
        return dup_outcomes + self._load_bisect(list(rows))

    # -- internals --------------------------------------------------------------------
    def _dedupe(self, rows: Sequence[PendingRow]) -> tuple[list[PendingRow], list[RowOutcome]]:
        """Within a batch, the last row with a given key wins; earlier ones are skipped."""
        last: dict[tuple, int] = {}
        for i, r in enumerate(rows):
            last[_row_key(r, self.spec.key)] = i
        if len(last) == len(rows):
            return list(rows), []
        keep, dups = [], []
        for i, r in enumerate(rows):
            k = _row_key(r, self.spec.key)
            if last[k] == i:
                keep.append(r)
            else:
                later = rows[last[k]].row
                dups.append(RowOutcome(r.row, SKIPPED, key=k,
                                       error=f"duplicate natural key {k}: row {later} has the same key and wins"))
        return keep, dups

    def _load_bisect(self, rows: list[PendingRow]) -> list[RowOutcome]:
        def failed(r: PendingRow, exc: Exception) -> list[RowOutcome]:
            return [RowOutcome(r.row, FAILED, key=_row_key(r, self.spec.key),
                               error=db_message(exc), record=r.record)]

        return run_bisected(self.conn, rows, self.write_batch, failed)

    def write_batch(self, rows: list[PendingRow]) -> list[RowOutcome]:
        """Write ``rows`` (no savepoint, no bisection: see :meth:`load`); one outcome per row.

        On PostgreSQL, rows that carry different column sets are written in one statement
        per column set, so a column a row does not carry is left as it is (as on the
        generic path), never set to NULL.
        """
        if not self.is_postgres:
            return self._write_generic(rows)
        groups: dict[frozenset, list[PendingRow]] = {}
        for r in rows:
            groups.setdefault(frozenset(r.values), []).append(r)
        if len(groups) == 1:
            return self._write_postgres(rows)
        by_row: dict[int, RowOutcome] = {}
        for group in groups.values():
            for r, o in zip(group, self._write_postgres(group)):
                by_row[id(r)] = o
        return [by_row[id(r)] for r in rows]

    def _columns(self, rows: list[PendingRow]) -> list[str]:
        cols: dict[str, None] = {}
        for r in rows:
            for c in r.values:
                if c not in self.table.c:
                    raise ValueError(f"unknown column {c!r} for table {self.table.name}")
                cols[c] = None
        return list(cols)

    def _audit_values(self) -> dict[str, Any]:
        vals = dict(self.audit)
        if "_ingested_at" in self.table.c:
            vals["_ingested_at"] = dt.datetime.now(dt.timezone.utc)
        return vals

    # generic (SQLite, MySQL, ...) ------------------------------------------------------
    def _write_generic(self, rows: list[PendingRow]) -> list[RowOutcome]:
        """Read the stored rows of the batch (``IN (..)``), decide each row's outcome and
        value in Python (:func:`~.upsert.owned_value`), then one executemany ``INSERT`` and one
        ``UPDATE``: these dialects cannot tell inserted / updated / unchanged from an upsert
        statement (MySQL's affected-rows count is per statement, SQLite has no ``xmax``)."""
        t, key = self.table, self.spec.key
        key_cols = [t.c[k] for k in key]
        cols = self._columns(rows)
        orphans = find_orphans(self.conn, self.spec.refs, [(i, r.values) for i, r in enumerate(rows)])
        existing: dict[tuple, Mapping[str, Any]] = {}
        keys = [tuple(r.values.get(k) for k in key) for r in rows]
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            cond = key_cols[0].in_([k[0] for k in chunk]) if len(key) == 1 else sa.tuple_(*key_cols).in_(chunk)
            for m in self.conn.execute(sa.select(t).where(cond)).mappings():
                existing[_key_of(m, key)] = m
        audit = self._audit_values()
        inserts, updates, out = [], [], []
        for i, r in enumerate(rows):
            k = _row_key(r, key)
            old = existing.get(k)
            if i in orphans:
                out.append(RowOutcome(r.row, FAILED, key=k, error=orphans[i], record=r.record))
            elif old is None:
                inserts.append({**{c: r.values.get(c) for c in cols}, **audit})
                out.append(RowOutcome(r.row, INSERTED, key=k))
            elif self.spec.on_existing == "skip":
                out.append(RowOutcome(r.row, SKIPPED, key=k, error=self.spec.skip_reason))
            else:
                new = {c: owned_value(self.spec, c, r.values.get(c, old[c]), old[c]) for c in cols}
                if any(_norm(new[c]) != _norm(old[c]) for c in cols
                       if c not in key and c not in self.spec.compare_exclude):
                    updates.append({**{f"_k_{k2}": old[k2] for k2 in key},
                                    **{f"_v_{c}": v for c, v in {**new, **audit}.items()}})
                    out.append(RowOutcome(r.row, UPDATED, key=k))
                else:
                    out.append(RowOutcome(r.row, UNCHANGED, key=k))
        if inserts:
            self.conn.execute(t.insert(), inserts)
        if updates:
            set_cols = [c[3:] for c in updates[0] if c.startswith("_v_")]
            stmt = t.update().where(*[t.c[k] == sa.bindparam(f"_k_{k}") for k in key]).values(
                {c: sa.bindparam(f"_v_{c}") for c in set_cols})
            self.conn.execute(stmt, updates)
        return out

    # PostgreSQL fast path ----------------------------------------------------------------
    def _write_postgres(self, rows: list[PendingRow]) -> list[RowOutcome]:
        """COPY the batch (line = position in ``rows``) into the staging table of its column
        set, drop orphans, upsert (:class:`~.upsert.PgStaging`); rows not returned by the
        upsert were unchanged (or skipped)."""
        key = self.spec.key
        cols = tuple(c for c in self._columns(rows) if c not in self.audit and c != "_ingested_at")
        stg = self._stagings.get(cols)
        if stg is None:
            stg = self._stagings[cols] = PgStaging(self.conn, self.spec, cols, self.audit)
        stg.copy([f"{i}\t" + "\t".join([copy_value(r.values.get(c)) for c in cols]) for i, r in enumerate(rows)])
        orphans = dict(stg.drop_orphans())
        returned = {_key_of(m._mapping, key): bool(m._inserted) for m in stg.upsert()}
        out = []
        for i, r in enumerate(rows):
            k = _row_key(r, key)
            if i in orphans:
                out.append(RowOutcome(r.row, FAILED, key=k, error=orphans[i], record=r.record))
            elif k in returned:
                out.append(RowOutcome(r.row, INSERTED if returned[k] else UPDATED, key=k))
            elif self.spec.on_existing == "skip":
                out.append(RowOutcome(r.row, SKIPPED, key=k, error=self.spec.skip_reason))
            else:
                out.append(RowOutcome(r.row, UNCHANGED, key=k))
        return out


def is_row_error(exc: BaseException) -> bool:
    """True when the database refused the *data* (a constraint, a value it cannot store), as
    opposed to a systemic fault (missing table, lost connection) that must stop the run."""
    from sqlalchemy.exc import DataError, IntegrityError

    if isinstance(exc, (IntegrityError, DataError)):
        return True
    if isinstance(exc, DBAPIError):  # ProgrammingError, OperationalError, ...
        return False
    if isinstance(exc, StatementError):  # a bind parameter could not be processed
        return True
    if isinstance(exc, (ValueError, TypeError)):
        return True
    mod = type(exc).__module__ or ""
    if mod.startswith("psycopg2"):  # raw COPY errors are not wrapped by SQLAlchemy
        import psycopg2

        return isinstance(exc, (psycopg2.DataError, psycopg2.IntegrityError))
    return False


def run_bisected(conn: sa.Connection, items: list[Any], write: Callable[[list[Any]], list[RowOutcome]],
                 failed: Callable[[Any, Exception], list[RowOutcome]]) -> list[RowOutcome]:
    """Run ``write(items)`` in a savepoint; when the database refuses it, roll back, split the
    items in halves and retry each, down to single items, which become ``failed(item, exc)``.

    A batch with k bad rows out of n costs about ``2·k·log2(n)`` extra statements; a clean
    batch costs one. Errors other than database/value errors propagate.
    """
    if not items:
        return []
    try:
        with conn.begin_nested():
            return write(items)
    except Exception as exc:
        if not is_row_error(exc):
            raise
        if len(items) == 1:
            return failed(items[0], exc)
        mid = len(items) // 2
        return run_bisected(conn, items[:mid], write, failed) + run_bisected(conn, items[mid:], write, failed)


def sync_children(conn: sa.Connection, spec: TableLoad, parent_column: str, parent_ids: Iterable[Any],
                  rows: Sequence[PendingRow], audit: Mapping[str, Any] | None = None) -> tuple[list[RowOutcome], dict[Any, int]]:
    """Make the children of ``parent_ids`` in ``spec.table`` equal ``rows``: upsert each row on
    the child natural key, then delete the children of those parents that ``rows`` no longer
    has. Returns (outcomes of ``rows``, {parent id: children deleted}). Used where a source
    replaces a collection (an entity's roles, an order's items) without churning ids.
    """
    parent_ids = list(parent_ids)
    outcomes = BatchLoader(conn, spec, audit).write_batch(list(rows)) if rows else []
    t = spec.table
    keep = {_row_key(r, spec.key) for r in rows}
    deleted: dict[Any, int] = {}
    cols = [t.c[k] for k in spec.key]
    if parent_column not in spec.key:
        cols.append(t.c[parent_column])
    for i in range(0, len(parent_ids), 500):
        chunk = parent_ids[i:i + 500]
        for e in conn.execute(sa.select(*cols).where(t.c[parent_column].in_(chunk))).mappings():
            if _key_of(e, spec.key) in keep:
                continue
            conn.execute(t.delete().where(*[t.c[k] == e[k] for k in spec.key]))
            deleted[e[parent_column]] = deleted.get(e[parent_column], 0) + 1
    return outcomes, deleted


def db_message(exc: Exception) -> str:
    """The database's own message for a refused row, without the SQL or the parameters."""
    orig = getattr(exc, "orig", None)
    msg = str(orig if orig is not None else exc).strip()
    msg = msg.split("\n[SQL:")[0]
    lines = [ln for ln in msg.splitlines() if ln.strip() and not ln.startswith(("CONTEXT:", "LINE ", " "))]
    return (lines[0] if lines else msg)[:500]


# -- the driver: validated records -> batches -> outcomes -----------------------------------

class RowInvalid(ValueError):
    """Raised by a row mapper to fail one row with a reason (it goes to the failed-rows file)."""


@dataclass
class LoadRun:
    """One pass of records into one table: batching, transactions, progress, dry run.

    ``conn`` is an open connection; each batch commits on its own unless ``dry_run`` (then
    nothing is committed, and the caller rolls back). ``should_stop`` is polled between
    batches (cancellation). ``on_batch(report)`` is called after every batch (progress).
    """

    conn: sa.Connection
    spec: TableLoad
    batch_size: int = 1000
    dry_run: bool = False
    audit: Mapping[str, Any] = field(default_factory=dict)
    should_stop: Callable[[], bool] = lambda: False
    on_batch: Callable[[IngestReport, int], None] | None = None
    report: IngestReport = field(default_factory=IngestReport)
    stopped: bool = False

    def run(self, rows: Iterable[PendingRow | RowOutcome]) -> IngestReport:
        """Load ``rows``; a :class:`RowOutcome` in the stream (a row that failed earlier, in
        reading or validation) is counted as it is. Returns the report (also ``self.report``)."""
        loader = BatchLoader(self.conn, self.spec, self.audit)
        self.report.dry_run = self.dry_run
        batch: list[PendingRow] = []
        pending_outcomes: list[RowOutcome] = []

        def flush() -> None:
            outs = loader.load(batch) if batch else []
            self.report.extend(pending_outcomes)
            self.report.extend(outs)
            if not self.dry_run:
                self.conn.commit()
            if self.on_batch:
                self.on_batch(self.report, len(batch) + len(pending_outcomes))
            batch.clear()
            pending_outcomes.clear()

        for item in rows:
            if isinstance(item, RowOutcome):
                pending_outcomes.append(item)
            else:
                batch.append(item)
            if len(batch) + len(pending_outcomes) >= self.batch_size:
                flush()
                if self.should_stop():
                    self.stopped = True
                    return self.report
        if batch or pending_outcomes:
            flush()
        return self.report


def chunked(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Lists of at most ``size`` items from ``items`` (streaming)."""
    buf: list[Any] = []
    for it in items:
        buf.append(it)
        if len(buf) >= size:
            yield buf
            buf = []
    if buf:
        yield buf
