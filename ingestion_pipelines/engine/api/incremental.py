"""The incremental state machine of API streams, on :mod:`~ingestion_pipelines.engine.sync_state`.

* :func:`plan` — where a stream's sync starts: ``--full`` (or no watermark yet) -> a full
  read; ``--since`` -> from that time; else the watermark minus the ``lookback`` (the
  source's index lags; the upsert makes the overlap harmless).
* :func:`full_watermark` — the watermark a completed *full* read may store: the largest
  cursor it read, but never past the time the read started (a full listing is in id order,
  not cursor order, so a record changed behind the reader has a cursor below later ones).
  A full read commits no watermark before it completes; a killed one leaves the old watermark.
* :class:`Windows` — time windows of a cursor range, split while a query over one holds
  more than a cap of results (HubSpot search: 10,000): halved, or resumed after what a
  first page already gave.
* :class:`StreamWriter` — one stream's writes: each batch upserted through
  :class:`~ingestion_pipelines.engine.load.BatchLoader` and its counts and watermark committed
  by :meth:`StreamSync.commit_batch` in the same transaction (dry run: rolled back), and
  :meth:`StreamWriter.mark` for positive evidence of deletion (merges). Nothing is deleted.
* :func:`stream_status` — the one mapping of what ends a stream's read to its ``sync_history``
  status (DESIGN.md §10: an error is never an empty page), with :class:`Stopped` for a run
  being terminated between batches.
"""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping, Sequence

import sqlalchemy as sa

from ..load import BatchLoader, PendingRow, TableLoad
from ..outcomes import IngestReport, Outcome, RowOutcome
from ..sync_state import StreamSync, Watermark
from .auth import AuthRefused
from .client import ApiError, QuotaExhausted


@dataclass(frozen=True)
class Plan:
    """``mode`` (``full`` | ``incremental``) and ``start`` (aware datetime; None for full)."""

    mode: str
    start: dt.datetime | None


def plan(before: Watermark | None, *, full: bool = False, since: dt.datetime | None = None,
         lookback: dt.timedelta = dt.timedelta(minutes=10)) -> Plan:
    """The sync of a stream, by precedence: ``since`` (incremental from it, no lookback) >
    ``full`` > the watermark minus ``lookback`` > a full read when there is no watermark."""
    if since is not None:
        return Plan("incremental", _aware(since))
    if full or before is None or before.cursor is None:
        return Plan("full", None)
    return Plan("incremental", _aware(before.cursor_datetime()) - lookback)


def full_watermark(max_seen: dt.datetime | None, started: dt.datetime) -> dt.datetime | None:
    """The watermark of a completed full read: ``min(max_seen, started)`` (module docstring)."""
    return None if max_seen is None else min(_aware(max_seen), _aware(started))


def _aware(d: dt.datetime) -> dt.datetime:
    return d if d.tzinfo is not None else d.replace(tzinfo=dt.timezone.utc)


@dataclass
class Windows:
    """Inclusive integer ranges ``[lo, hi]`` (epoch ms) to read in ascending order: take the
    next with :meth:`pop`; when a query over it returns more than the cap, :meth:`split` it
    (both halves go back in front, lower first). A one-millisecond window cannot be split:
    the caller reads it by another key (HubSpot: by id). ``splits`` counts the halvings."""

    pending: list[tuple[int, int]] = field(default_factory=list)
    splits: int = 0

    @classmethod
    def of(cls, lo: int, hi: int) -> "Windows":
        return cls([(lo, hi)] if lo <= hi else [])

    def pop(self) -> tuple[int, int] | None:
        return self.pending.pop(0) if self.pending else None

    def resume(self, window: tuple[int, int], lo: int) -> None:
        """The part of ``window`` from ``lo`` on is read next (its lower part was read from
        a first page: records ascending, so a window over the cap advances page by page
        without wasting the page that told its total)."""
        self.pending.insert(0, (lo, window[1]))
        self.splits += 1

    def split(self, window: tuple[int, int]) -> bool:
        """Halve ``window`` and queue both halves first; False when it is one millisecond."""
        lo, hi = window
        if hi <= lo:
            return False
        mid = (lo + hi) // 2
        self.pending[:0] = [(lo, mid), (mid + 1, hi)]
        self.splits += 1
        return True


_COUNT_OF = {Outcome.INSERTED: "inserted", Outcome.UPDATED: "updated", Outcome.UNCHANGED: "unchanged",
             Outcome.FAILED: "failed", Outcome.SKIPPED: "unchanged"}


class StreamWriter:
    """Writes one stream into its table through one connection (use as a context manager).

    ``spec``: the table's load spec; ``sync``: its :class:`StreamSync`; ``audit``: the audit
    values (``_source``, ``_run_id``); ``dry_run``: every batch rolled back. ``report``: the
    outcomes so far (failed rows with their records, for the failed-rows file)."""

    def __init__(self, engine: sa.Engine, spec: TableLoad, sync: StreamSync, audit: Mapping[str, Any],
                 dry_run: bool = False):
        self.engine, self.spec, self.sync, self.dry_run = engine, spec, sync, dry_run
        self.audit = dict(audit)
        self.report = IngestReport(dry_run=dry_run)
        self.deleted = 0
        self._conn: sa.Connection | None = None
        self._loader: BatchLoader | None = None

    def __enter__(self) -> "StreamWriter":
        self._conn = self.engine.connect()
        self._loader = BatchLoader(self._conn, self.spec, self.audit)
        return self

    def __exit__(self, *exc: Any) -> None:
        assert self._conn is not None
        self._conn.rollback()
        self._conn.close()

    def _end(self, counts: Mapping[str, int], watermark: Watermark | None) -> None:
        assert self._conn is not None
        self.sync.commit_batch(self._conn, counts, watermark)
        if self.dry_run:
            self._conn.rollback()
        else:
            self._conn.commit()

    def write(self, rows: Sequence[PendingRow], watermark: Watermark | None = None, *, read: int | None = None,
              failed: Iterable[RowOutcome] = (), deleted_by: str | None = None) -> list[RowOutcome]:
        """Upsert ``rows`` and commit them with ``watermark`` (None: counts only) in one
        transaction. ``read``: records read for this batch (default ``len(rows)`` + failed);
        ``failed``: rows that failed before loading (mapping); ``deleted_by``: a column that,
        when a row sets it and was written, counts the row as ``deleted`` (``_deleted_at``)."""
        assert self._loader is not None
        failed = list(failed)
        outs = self._loader.load(list(rows)) if rows else []
        self.report.extend(failed)
        self.report.extend(outs)
        counts = {"rows_read": read if read is not None else len(rows) + len(failed), "failed": len(failed)}
        for o in outs:
            counts[_COUNT_OF[o.outcome]] = counts.get(_COUNT_OF[o.outcome], 0) + 1
        if deleted_by:
            marked = {r.row for r in rows if r.values.get(deleted_by) is not None}
            n = sum(1 for o in outs if o.row in marked and o.outcome in (Outcome.INSERTED, Outcome.UPDATED))
            counts["deleted"] = n
            self.deleted += n
        self._end(counts, watermark)
        return outs

    def mark(self, values: Mapping[str, Any], *, keys: Sequence[Any] = (), key: str = "id",
             where: Any = None, only_live: str | None = "_deleted_at") -> int:
        """Positive evidence of deletion: ``UPDATE .. SET values`` of the rows whose ``key`` is
        in ``keys`` (or that match the SQL condition ``where``), and whose ``only_live`` column
        is NULL (a row marked already keeps its first mark); committed at once, counted as
        ``deleted``. Returns the rows marked."""
        assert self._conn is not None
        t, n = self.spec.table, 0
        conds = [where] if where is not None else [t.c[key].in_(list(keys[i:i + 500])) for i in range(0, len(keys), 500)]
        for cond in conds:
            q = t.update().where(cond)
            if only_live:
                q = q.where(t.c[only_live].is_(None))
            n += self._conn.execute(q.values(**values)).rowcount or 0
        self.deleted += n
        self._end({"deleted": n}, None)
        return n


class Stopped(Exception):
    """Raised by a reader between batches when its run is being terminated (``should_stop``)."""


@dataclass
class StreamStatus:
    """How a stream's read ended: ``status`` (succeeded | partial | failed) and ``error``."""

    status: str = "succeeded"
    error: str = ""


RESUMES = "run terminated; the next run resumes from the committed watermark"


@contextmanager
def stream_status(engine: sa.Engine, sync: StreamSync, stopped: str = RESUMES) -> Iterator[StreamStatus]:
    """Run a stream's read inside and record how it ended (DESIGN.md §10), in the yielded
    :class:`StreamStatus`: :class:`Stopped` -> ``partial`` with ``stopped`` as the error; the
    daily quota (:class:`~.client.QuotaExhausted`) -> ``partial``; a request that still failed
    after its retries or refused credentials (:class:`~.client.ApiError`,
    :class:`~.auth.AuthRefused`) -> ``failed`` (what landed stays counted, the watermark stays
    with it: never an empty page). Any other exception closes ``sync``'s history row
    ``failed`` and propagates. The caller finishes ``sync`` with the status otherwise."""
    out = StreamStatus()
    try:
        yield out
    except Stopped:
        out.status, out.error = "partial", stopped
    except QuotaExhausted as e:
        out.status, out.error = "partial", str(e)
    except (ApiError, AuthRefused) as e:
        out.status, out.error = "failed", str(e)
    except BaseException as e:
        sync.finish(engine, "failed", error=f"{type(e).__name__}: {e}")
        raise
