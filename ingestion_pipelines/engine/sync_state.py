"""Sync bookkeeping shared by every DB and API source (DESIGN.md §4, §10 "Sync rules"):
``sync_state`` (one watermark per stream) and ``sync_history`` (one row per stream per run).

Source-agnostic: a *source* is a system (``genius``, ``hubspot``, ...), a *stream* one table or
endpoint of it (``prospect``, ``contacts``, ...). Lifecycle of one stream in one run::

    ensure_tables(conn)                                   # once (WarehouseResource.setup does it too)
    sync = StreamSync.start(engine, "genius", "prospect", mode="incremental", run_id=run_id)
    since = sync.before                                  # Watermark | None: where the last run stopped
    for batch in ...:
        with engine.begin() as conn:                     # ONE transaction: the rows and their watermark
            ... upsert the batch through conn ...
            sync.commit_batch(conn, counts, watermark)   # same transaction; does not commit
    sync.finish(engine, "succeeded")                     # or "partial" / "failed", error=...

Rules it keeps (DESIGN.md §10):

* The watermark is the largest cursor among *committed* records: :meth:`StreamSync.commit_batch`
  writes ``sync_state`` in the caller's transaction, so a killed sync resumes from its last
  committed batch, and a rolled-back batch moves nothing. It never moves backwards: a batch whose
  watermark is not after the stored one (a lookback re-read) leaves it as it is (compared by
  :meth:`Watermark.sort_key`).
* An error is never success: :meth:`StreamSync.finish` records the status given (``failed`` or
  ``partial`` with what landed) and the error text; the watermark stays where the data is.
* ``sync_history`` counts are the committed counts (added in the batch's transaction), so a
  killed run's row (left ``running``) still says what landed.

Tables (created by :func:`ensure_tables`; columns a warehouse created earlier lacks are added):

``sync_state``: ``source``, ``stream`` (primary key), ``cursor`` (the watermark's cursor value
as text: ISO 8601 for timestamps), ``cursor_id`` (the tie-break id of the last record at that
cursor, text), ``updated_at`` (when it was written, UTC).

``sync_history``: ``id``, ``source``, ``stream``, ``mode`` (``full`` | ``incremental``),
``status`` (``running`` | ``succeeded`` | ``partial`` | ``failed``), ``rows_read``,
``inserted``, ``updated``, ``unchanged``, ``deleted``, ``failed``, ``watermark_before``,
``watermark_before_id``, ``watermark_after``, ``watermark_after_id``, ``error``, ``run_id``,
``started_at``, ``finished_at`` (UTC), ``details`` (JSON: anything else a source reports).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Mapping

import sqlalchemy as sa

from .schema import qualified_name

metadata = sa.MetaData()

sync_state = sa.Table(
    "sync_state", metadata,
    sa.Column("source", sa.String(64), primary_key=True),
    sa.Column("stream", sa.String(128), primary_key=True),
    sa.Column("cursor", sa.Text, nullable=True),
    sa.Column("cursor_id", sa.Text, nullable=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
)

#: The outcome counts a history row carries (a ``counts`` mapping may hold any of them).
COUNTS = ("rows_read", "inserted", "updated", "unchanged", "deleted", "failed")
STATUSES = ("running", "succeeded", "partial", "failed")
MODES = ("full", "incremental")

sync_history = sa.Table(
    "sync_history", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("stream", sa.String(128), nullable=False),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    *[sa.Column(c, sa.BigInteger, nullable=True) for c in COUNTS],
    sa.Column("watermark_before", sa.Text, nullable=True),
    sa.Column("watermark_before_id", sa.Text, nullable=True),
    sa.Column("watermark_after", sa.Text, nullable=True),
    sa.Column("watermark_after_id", sa.Text, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("run_id", sa.String(64), nullable=True),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("details", sa.JSON, nullable=True),
)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass(frozen=True)
class Watermark:
    """Where a stream stopped: ``cursor`` (the largest committed cursor value) and ``id`` (the
    key of the last record at that cursor: the keyset tie-break), both as text.

    Build one from typed values with :meth:`of` (a ``datetime`` becomes ISO 8601, anything else
    ``str``); read the cursor back as a datetime with :meth:`cursor_datetime`. ``id`` may be
    ``None`` (an API whose cursor alone orders its records)."""

    cursor: str | None
    id: str | None = None

    @classmethod
    def of(cls, cursor: Any, id: Any = None) -> "Watermark":
        """A watermark from typed values: datetimes/dates as ISO 8601, others as ``str``; a
        tuple id (a composite key) as its JSON list."""
        def text(v: Any) -> str | None:
            if v is None:
                return None
            if isinstance(v, (dt.datetime, dt.date, dt.time)):
                return v.isoformat()
            if isinstance(v, (tuple, list)):
                return json.dumps([text(x) if not isinstance(x, (int, float)) else x for x in v])
            return str(v)
        return cls(text(cursor), text(id))

    def cursor_datetime(self) -> dt.datetime | None:
        """The cursor as a ``datetime`` (ISO 8601 text; naive stays naive), or None. Raises
        ``ValueError`` when the cursor is not a timestamp."""
        return dt.datetime.fromisoformat(self.cursor) if self.cursor else None

    def sort_key(self) -> tuple:
        """An ordering key: by cursor, then by id; each compared as a number when it reads as
        one, else as a timestamp (ISO 8601, time zone dropped), else as text."""
        def part(v: str | None) -> tuple:
            if v is None:
                return (0,)
            try:
                return (1, float(v), "")
            except ValueError:
                pass
            try:
                return (2, 0.0, dt.datetime.fromisoformat(v).replace(tzinfo=None).isoformat())
            except ValueError:
                return (3, 0.0, v)
        return (part(self.cursor), part(self.id))


def ensure_tables(conn: sa.Connection) -> None:
    """Create ``sync_state`` / ``sync_history`` when missing, and add the columns of this
    module's shape that an existing table lacks (an earlier placeholder of the same names had
    fewer), NULL in existing rows. Idempotent; runs in the caller's transaction."""
    metadata.create_all(conn, checkfirst=True)
    insp = sa.inspect(conn)
    schema = (conn.get_execution_options().get("schema_translate_map") or {}).get(None)
    for t in metadata.sorted_tables:
        have = {c["name"] for c in insp.get_columns(t.name, schema=t.schema or schema)}
        for c in t.columns:
            if c.name not in have:
                ddl = sa.schema.CreateColumn(c).compile(dialect=conn.dialect)
                conn.exec_driver_sql(f"ALTER TABLE {qualified_name(conn, t)} ADD COLUMN {ddl}")


def read_watermark(conn: sa.Connection, source: str, stream: str) -> Watermark | None:
    """The stored watermark of ``source``/``stream``, or None when it never committed one."""
    row = conn.execute(sa.select(sync_state.c.cursor, sync_state.c.cursor_id).where(
        sync_state.c.source == source, sync_state.c.stream == stream)).first()
    return Watermark(row.cursor, row.cursor_id) if row and (row.cursor is not None or row.cursor_id is not None) else None


def write_watermark(conn: sa.Connection, source: str, stream: str, wm: Watermark) -> None:
    """Store ``wm`` as the watermark of ``source``/``stream`` in the caller's transaction
    (UPDATE, then INSERT when the stream has no row yet), whatever the stored one is. Normal
    syncs go through :meth:`StreamSync.commit_batch`, which never moves it backwards; this is
    for an operator's reset (``Watermark(None)`` clears it)."""
    t = sync_state
    vals = {"cursor": wm.cursor, "cursor_id": wm.id, "updated_at": _now()}
    if conn.execute(t.update().where(t.c.source == source, t.c.stream == stream).values(**vals)).rowcount == 0:
        conn.execute(t.insert().values(source=source, stream=stream, **vals))


@dataclass
class StreamSync:
    """One stream's sync in one run: its ``sync_history`` row (``history_id``) and the
    watermark it started from (``before``) and has committed so far (``after``).

    ``counts``: the committed counts so far (keys of :data:`COUNTS`). Build it with
    :meth:`start`; no method commits the caller's transaction except :meth:`start` and
    :meth:`finish`, which use their own."""

    source: str
    stream: str
    mode: str
    run_id: str | None
    history_id: int | None
    before: Watermark | None
    after: Watermark | None
    counts: dict[str, int]
    dry_run: bool = False
    #: compare watermarks as text (cursor, then id) instead of :meth:`Watermark.sort_key`: ids
    #: whose text order is their order (fixed-width hex ObjectIds, which ``sort_key`` may read
    #: as numbers); set by the caller after :meth:`start`
    text_order: bool = False

    @classmethod
    def start(cls, engine: sa.Engine, source: str, stream: str, *, mode: str, run_id: str | None = None,
              dry_run: bool = False) -> "StreamSync":
        """Read the stream's watermark and insert its ``running`` history row (committed at
        once, so the UI/SQL shows the running sync). ``mode``: ``full`` | ``incremental``.
        ``dry_run``: nothing is written, now or later (no history row, no watermark)."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        with engine.begin() as conn:
            before = read_watermark(conn, source, stream)
            hid = None
            if not dry_run:
                hid = conn.execute(sync_history.insert().values(
                    source=source, stream=stream, mode=mode, status="running", run_id=run_id, started_at=_now(),
                    watermark_before=before.cursor if before else None,
                    watermark_before_id=before.id if before else None,
                    **{c: 0 for c in COUNTS})).inserted_primary_key[0]
        return cls(source, stream, mode, run_id, hid, before, before, {c: 0 for c in COUNTS}, dry_run)

    def commit_batch(self, conn: sa.Connection, counts: Mapping[str, int], watermark: Watermark | None = None) -> None:
        """In the caller's transaction (the one that wrote the batch; the caller commits):
        add ``counts`` to the history row and, when ``watermark`` is after the stored one,
        store it in ``sync_state``. ``watermark=None``: counts only (a cursorless stream)."""
        for c in COUNTS:
            self.counts[c] += int(counts.get(c, 0))
        moved = watermark is not None and (self.after is None or self.order(watermark) > self.order(self.after))
        if self.dry_run:
            if moved:
                self.after = watermark
            return
        if moved:
            write_watermark(conn, self.source, self.stream, watermark)
        h = sync_history.c
        upd = {c: h[c] + int(counts.get(c, 0)) for c in COUNTS if counts.get(c)}
        if moved:
            upd.update(watermark_after=watermark.cursor, watermark_after_id=watermark.id)
        if upd:
            conn.execute(sync_history.update().where(h.id == self.history_id).values(**upd))
        if moved:
            self.after = watermark

    def order(self, w: Watermark) -> tuple:
        """The key watermarks of this stream are compared by (see :attr:`text_order`)."""
        return (w.cursor or "", w.id or "") if self.text_order else w.sort_key()

    def finish(self, engine: sa.Engine, status: str, error: str | None = None,
               details: Mapping[str, Any] | None = None) -> None:
        """Close the history row with ``status`` (``succeeded`` | ``partial`` | ``failed``),
        ``error`` (text, cut to 4,000 characters), ``details`` (JSON-able) and the finish time,
        in its own transaction. The counts and watermark are those committed by
        :meth:`commit_batch`."""
        if status not in STATUSES[1:]:
            raise ValueError(f"status must be one of {STATUSES[1:]}, not {status!r}")
        if self.dry_run:
            return
        after = self.after
        with engine.begin() as conn:
            conn.execute(sync_history.update().where(sync_history.c.id == self.history_id).values(
                status=status, error=(error or None) and error[:4000], finished_at=_now(),
                watermark_after=after.cursor if after else None, watermark_after_id=after.id if after else None,
                details=dict(details) if details else None))

    def metadata(self) -> dict[str, Any]:
        """The stream's sync as materialization metadata: ``mode``, ``watermark_before``,
        ``watermark_after`` (``cursor / id`` text, ``""`` when none), ``sync_history_id`` and the
        counts (DESIGN.md §10: the history is in the Dagster UI)."""
        def shown(w: Watermark | None) -> str:
            return "" if w is None else f"{w.cursor or ''}" + (f" / {w.id}" if w.id is not None else "")
        return {"mode": self.mode, "watermark_before": shown(self.before), "watermark_after": shown(self.after),
                "sync_history_id": self.history_id if self.history_id is not None else -1, **self.counts}


def history(conn: sa.Connection, source: str, stream: str | None = None, limit: int = 20) -> list[Mapping[str, Any]]:
    """The latest ``limit`` history rows of ``source`` (one ``stream`` when given), newest
    first, as mappings."""
    h = sync_history.c
    q = sa.select(sync_history).where(h.source == source)
    if stream is not None:
        q = q.where(h.stream == stream)
    return list(conn.execute(q.order_by(h.id.desc()).limit(limit)).mappings())
