"""The counts-only front end of the upsert core (:mod:`.upsert`): pre-validated rows already in
COPY text form, PostgreSQL ``COPY`` into a staging table that also carries each row's input
line number, orphan rows rejected in SQL, then one upsert per batch.

Source-agnostic (any source whose parser produces rows already in COPY text form can use it):
the caller formats each row once (no per-row Python objects beyond one ``str``), and the
database does the rest. Compared with :class:`~.load.BatchLoader` (the per-row front end over
the same core, :class:`~.upsert.PgStaging`), this path

* keeps no per-row outcome object: a batch returns counts (inserted / updated / unchanged)
  plus the failed rows only (line number and reason) — :meth:`StagedResult.from_outcomes`
  gives the same result from per-row outcomes, which is how other dialects get it;
* writes the audit columns (``_ingested_at`` = ``now()``, ``_source`` / ``_run_id`` or
  ``_ingest_file_id``, whichever the table has) in the upsert, not in every COPY line;
* takes two shortcuts while every key is new (below).

Column ownership and orphan checks come from the table's :class:`~.upsert.TableLoad` (pass one
instead of the bare table), the same rules as :class:`~.load.BatchLoader` on every dialect.

When no reference must be checked in SQL, a batch first goes straight into the table with one
``COPY`` (audit values appended to each line) in a savepoint; the first unique violation rolls
it back and the loader uses the staging path from then on (see :attr:`StagedUpsert.direct`).
Staged rows go in with a plain ``INSERT .. SELECT`` until the first existing key, then with the
upsert. (A fresh row has no stored value to own, so both shortcuts honour column ownership.)

A batch runs in a savepoint through :func:`~.load.run_bisected`: if the database refuses a
value, the batch is bisected down to the bad lines and every good row still lands.

Other dialects: :meth:`StagedUpsert.load_values` runs :class:`~.load.BatchLoader` (with its
``IN (..)`` lookup for the parent references), so the same caller code runs on SQLite/MySQL.
"""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import psycopg2
import sqlalchemy as sa

from .copytext import Chunks, CopyLines, CopyRows, copy_escape
from .load import BatchLoader, PendingRow, db_message, run_bisected
from .outcomes import Outcome, RowOutcome
from .schema import AUDIT_COLUMNS, AUDIT_SETTINGS, audit_defaults_in_place, qualified_name
from .upsert import ParentRef, PgStaging, TableLoad

__all__ = ["StagedResult", "StagedUpsert"]


@dataclass
class StagedResult:
    """Counts of one or more batches, in rows, plus ``failed`` and ``skipped``: ``(line,
    reason)`` pairs (``skipped``: earlier lines of a natural key repeated later in the same
    batch — the last line of a key wins)."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)

    def add(self, other: "StagedResult") -> None:
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.failed.extend(other.failed)
        self.skipped.extend(other.skipped)

    @classmethod
    def from_outcomes(cls, outcomes: Iterable[RowOutcome]) -> "StagedResult":
        """The counts of per-row outcomes (failed and skipped rows by line, sorted)."""
        res = cls()
        for o in outcomes:
            if o.outcome is Outcome.INSERTED:
                res.inserted += 1
            elif o.outcome is Outcome.UPDATED:
                res.updated += 1
            elif o.outcome is Outcome.FAILED:
                res.failed.append((o.row, o.error or o.outcome.value))
            elif o.outcome is Outcome.SKIPPED:
                res.skipped.append((o.row, o.error or "duplicate key: replaced by a later line of the same batch"))
            else:
                res.unchanged += 1
        res.failed.sort()
        res.skipped.sort()
        return res


class StagedUpsert:
    """Upserts batches of rows into a table on its natural key, counting outcomes.

    ``table``: the table, or its :class:`~.upsert.TableLoad` (key, column ownership, refs).
    ``columns``: the table columns each row carries, in order (audit columns excluded).
    ``refs``: parent references checked per row (added to the spec's). ``audit``:
    ``_source`` / ``_run_id`` / ``_ingest_file_id`` values.

    :meth:`load_copy` takes ``[(line, copy_text_line)]`` (PostgreSQL only; ``copy_text_line``
    is the row's values in COPY text format, tab-separated, without the line number).
    :meth:`load_values` takes ``[(line, values_tuple)]`` (any dialect; Python values).
    Both return a :class:`StagedResult`; database refusals of single rows come back as
    failed lines, connection-level errors propagate.
    """

    def __init__(self, conn: sa.Connection, table: sa.Table | TableLoad, columns: Sequence[str],
                 refs: Sequence[ParentRef] = (), audit: Mapping[str, Any] | None = None,
                 async_commit: bool = False):
        self.conn = conn
        #: PostgreSQL: the caller's commit of each batch does not wait for its WAL flush
        #: (``SET LOCAL synchronous_commit = off``; one fsync per 20,000-row batch otherwise).
        #: Safe where the caller records "done" later in a synchronously committed row (e.g.
        #: the ``ingest_files`` ledger): a crash can only lose a suffix of the batches, and
        #: then the ledger does not say "succeeded" either, so the file loads again.
        self.async_commit = async_commit
        spec = table if isinstance(table, TableLoad) else TableLoad(table)
        if refs:
            spec = TableLoad(**{**spec.__dict__, "refs": spec.refs + tuple(refs)})
        self.spec, self.table = spec, spec.table
        self.columns = list(columns)
        self.refs = list(spec.refs)
        self.audit = dict(audit or {})
        self.key = spec.key
        self.is_postgres = conn.dialect.name == "postgresql"
        self._staging: PgStaging | None = None
        self._plain_ok = True
        #: COPY straight into ``table`` (no staging, each row written once) while no key of a
        #: batch exists yet; off for good after the first unique violation, and when a
        #: reference must be checked in SQL (that needs the staged rows).
        self.direct = self.is_postgres and not self.refs
        #: the table's audit columns have the session-setting defaults (checked on first use)
        self._audit_defaults: bool | None = None
        #: seconds spent per phase (copy, orphans, write), summed over batches
        self.timings: dict[str, float] = {"copy": 0.0, "orphans": 0.0, "write": 0.0}

    def _q(self, t: sa.Table) -> str:
        return qualified_name(self.conn, t)

    def analyze_parents(self) -> None:
        """``ANALYZE`` the parent tables' referenced columns (PostgreSQL), so the orphan checks
        plan with current row counts after a bulk load of the parents. Call once per load."""
        if not self.is_postgres:
            return
        for ref in self.refs:
            cols = ", ".join(f'"{c}"' for c in ref.parent_columns)
            self.conn.exec_driver_sql(f"ANALYZE {self._q(ref.parent)} ({cols})")

    # -- PostgreSQL --------------------------------------------------------------------
    def load_copy(self, rows: Sequence[tuple[int, str]] | Sequence[tuple[int, bytes]] | CopyRows) -> StagedResult:
        if not rows:
            return StagedResult()
        if self.async_commit:
            self.conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
        if self._staging is None:
            audit = {c: self.audit.get(c) for c in AUDIT_COLUMNS if c in self.table.c and c != "_ingested_at"}
            self._staging = PgStaging(self.conn, self.spec, self.columns, audit)
        stg = self._staging

        def write(batch: list[tuple[int, str]]) -> list[StagedResult]:
            clock = time.perf_counter
            t0 = clock()
            if self.direct:
                done = self._copy_direct(batch)
                if done is not None:
                    self.timings["copy"] += clock() - t0
                    return [done]
                t0 = clock()
            stg.copy([b"%d\t%s" % (line, text) for line, text in batch] if isinstance(batch[0][1], bytes)
                     else [f"{line}\t{text}" for line, text in batch])
            t1 = clock()
            res = StagedResult(failed=stg.drop_orphans())
            t2 = clock()
            res.inserted, res.updated = self._write_staged(stg, res)
            t3 = clock()
            tm = self.timings
            tm["copy"] += t1 - t0
            tm["orphans"] += t2 - t1
            tm["write"] += t3 - t2
            res.unchanged = len(batch) - len(res.failed) - len(res.skipped) - res.inserted - res.updated
            return [res]

        def failed(item: tuple[int, str], exc: Exception) -> list[StagedResult]:
            return [StagedResult(failed=[(item[0], db_message(exc))])]

        total = StagedResult()
        items = rows if isinstance(rows, CopyRows) else list(rows)
        for r in run_bisected(self.conn, items, write, failed):
            total.add(r)
        return total

    def _write_staged(self, stg: PgStaging, res: StagedResult) -> tuple[int, int]:
        """(inserted, updated) of the staged rows; repeated keys are added to ``res.skipped``."""
        if self._plain_ok:
            # Fresh rows (the common case) go in with a plain INSERT, cheaper than the
            # speculative insertion of ON CONFLICT; the first key that already exists
            # rolls this back and switches this loader to the upsert for good.
            try:
                with self.conn.begin_nested():
                    return stg.insert_plain(), 0
            except sa.exc.IntegrityError as exc:
                if not isinstance(exc.orig, psycopg2.errors.UniqueViolation):
                    raise
                self._plain_ok = False
        # A key repeated within the batch makes ON CONFLICT DO UPDATE raise
        # CardinalityViolation ("cannot affect row a second time"): then the earlier lines of
        # each repeated key are removed from staging (reported as skipped) and the upsert runs
        # again. Costs nothing while keys are unique.
        try:
            with self.conn.begin_nested():
                return stg.upsert_counts()
        except psycopg2.errors.CardinalityViolation:
            for line, shown in stg.dedupe():
                res.skipped.append((line, f"duplicate key {shown}: replaced by a later line of the same batch"))
            return stg.upsert_counts()

    def _copy_direct(self, batch: Sequence[tuple[int, str | bytes]]) -> StagedResult | None:
        """COPY ``batch`` straight into the table in a savepoint. The audit values come from
        the columns' defaults and this transaction's settings when the table has them
        (:func:`~.schema.ensure_audit_defaults`), else they are appended to every line.
        Returns the counts, or None when a key already exists (the savepoint is rolled back,
        and this loader uses the staging path from then on). Other database errors propagate
        (to :func:`~.load.run_bisected`, which rolls back its own savepoint, around this one,
        and bisects the batch)."""
        if self._audit_defaults is None:
            self._audit_defaults = audit_defaults_in_place(self.conn, self.table)
        settings = None
        if self._audit_defaults:
            suffix, cols = "", self.columns
            settings = [(AUDIT_SETTINGS[c], "" if self.audit.get(c) is None else str(self.audit[c]))
                        for c in AUDIT_SETTINGS if c in self.table.c]
        else:
            audit_cols = [c for c in AUDIT_COLUMNS if c in self.table.c]
            ts = datetime.datetime.now(datetime.timezone.utc).isoformat()
            vals = [ts if c == "_ingested_at" else
                    ("\\N" if self.audit.get(c) is None else copy_escape(str(self.audit[c]))) for c in audit_cols]
            suffix, cols = "".join("\t" + v for v in vals), self.columns + audit_cols
        collist = ", ".join(f'"{c}"' for c in cols)
        with self.conn.connection.dbapi_connection.cursor() as cur:
            cur.execute("SAVEPOINT _staged_direct")
            try:
                if settings:
                    cur.execute("SELECT " + ", ".join("set_config(%s, %s, true)" for _ in settings),
                                [v for pair in settings for v in pair])
                data = (Chunks(batch.chunks()) if isinstance(batch, CopyRows) and not suffix
                        else CopyLines([t for _, t in batch], suffix))
                cur.copy_expert(f"COPY {self._q(self.table)} ({collist}) FROM STDIN", data, size=1 << 20)
            except psycopg2.errors.UniqueViolation:
                cur.execute("ROLLBACK TO SAVEPOINT _staged_direct")
                self.direct = False
                self._plain_ok = False
                return None
            n = cur.rowcount
            cur.execute("RELEASE SAVEPOINT _staged_direct")
        return StagedResult(inserted=n)

    # -- any dialect -----------------------------------------------------------------------
    def load_values(self, rows: Sequence[tuple[int, tuple]]) -> StagedResult:
        """``[(line, values in column order)]`` through :class:`~.load.BatchLoader` (orphans,
        ownership and duplicates as there); the counts of its outcomes."""
        if not rows:
            return StagedResult()
        pending = [PendingRow(row=line, values=dict(zip(self.columns, v))) for line, v in rows]
        return StagedResult.from_outcomes(BatchLoader(self.conn, self.spec, self.audit).load(pending))
