"""A fast path for pre-validated rows: PostgreSQL ``COPY`` into a staging table that also
carries each row's input line number, orphan rows rejected in SQL, then one upsert per batch.

Source-agnostic (any source whose parser produces rows already in COPY text form can use it):
the caller formats each row once (no per-row Python objects beyond one ``str``), and the
database does the rest. Compared with :class:`~.load.BatchLoader`, this path

* keeps no per-row outcome object: a batch returns counts (inserted / updated / unchanged)
  plus the failed rows only (line number and reason);
* checks references to parent tables in the database (``DELETE .. WHERE NOT EXISTS ..
  RETURNING _line``), so an orphan is reported with its line number and never written;
* writes the audit columns (``_ingested_at`` = ``now()``, ``_source`` / ``_run_id`` or
  ``_ingest_file_id``, whichever the table has) in the
  upsert, not in every COPY line.

When no reference must be checked in SQL, a batch first goes straight into the table with one
``COPY`` (audit values appended to each line) in a savepoint; the first unique violation rolls
it back and the loader uses the staging path from then on (see :attr:`StagedUpsert.direct`).

A batch runs in a savepoint through :func:`~.load.run_bisected`: if the database refuses a
value, the batch is bisected down to the bad lines and every good row still lands.

Other dialects: :class:`StagedUpsert` falls back to :class:`~.load.BatchLoader` (with an
``IN (..)`` lookup for the parent references), so the same caller code runs on SQLite/MySQL.
"""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import psycopg2
import sqlalchemy as sa

from .load import BatchLoader, PendingRow, TableLoad, run_bisected

try:
    from .load import db_message
except ImportError:  # older name
    from .load import _db_message as db_message
from .outcomes import Outcome
from .schema import AUDIT_COLUMNS, AUDIT_SETTINGS, audit_defaults_in_place, natural_key, qualified_name


@dataclass(frozen=True)
class ParentRef:
    """``columns`` of the child table must match ``parent_columns`` of a row in ``parent``
    (e.g. ``("tenant_id", "order_id")`` -> ``orders(tenant_id, order_id)``); ``label`` names
    the reference in error messages."""

    columns: tuple[str, ...]
    parent: sa.Table
    parent_columns: tuple[str, ...]
    label: str = ""


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


_ESC = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_escape(s: str) -> str:
    """``s`` escaped for PostgreSQL's COPY text format. Raises ``ValueError`` on NUL."""
    if "\\" in s or "\t" in s or "\n" in s or "\r" in s:
        s = s.translate(_ESC)
    if "\x00" in s:
        raise ValueError("NUL character in value")
    return s


class CopyLines:
    """A read-only binary stream over ``texts`` (COPY text rows without newline, all ``str``
    or all UTF-8 ``bytes``), each followed by ``suffix`` and a newline, in ``read(size)``
    slices of about ``rows_per_read`` rows, so COPY gets its data without one big buffer of
    the whole batch (a batch of 20,000 rows would otherwise be a ~5 MB string plus its
    encoding, per writer, per batch)."""

    def __init__(self, texts: Sequence[str] | Sequence[bytes], suffix: str = "", rows_per_read: int = 500):
        self.texts = texts
        self.raw = bool(texts) and isinstance(texts[0], bytes)
        self.end = (suffix + "\n").encode() if self.raw else suffix + "\n"
        self.i = 0
        self.step = rows_per_read * 4 if self.raw else rows_per_read

    def read(self, size: int = -1) -> bytes:
        i, texts = self.i, self.texts
        if i >= len(texts):
            return b""
        j = min(len(texts), i + self.step)
        self.i = j
        end = self.end
        if self.raw:
            return end.join(texts[i:j]) + end
        return (end.join(texts[i:j]) + end).encode()

    def readline(self, size: int = -1) -> bytes:  # pragma: no cover - not used by COPY FROM
        return self.read(size)


class CopyRows(Sequence):
    """Rows for COPY kept as whole blocks of COPY text — ``(first line, row count,
    b"row\\nrow\\n...")`` as a vectorised parser renders them — plus single ``(line, text)``
    rows. A clean batch goes to COPY block by block (:meth:`chunks`) without a Python object
    per row; the row-wise view (``batch[i]``, slicing, iteration: ``(line, bytes)`` pairs,
    in the order added) is built only when needed — bisecting a refused batch, staging with
    line numbers, other dialects."""

    def __init__(self) -> None:
        self.blocks: list[tuple[int, int, bytes]] = []
        self.n = 0
        self._rows: list[tuple[int, bytes]] | None = None

    def add_block(self, first_line: int, count: int, text: bytes) -> None:
        """``count`` rows of consecutive lines from ``first_line``; ``text`` ends with a newline."""
        if count:
            self.blocks.append((first_line, count, text))
            self.n += count
            self._rows = None

    def add_row(self, line: int, text: bytes) -> None:
        self.add_block(line, 1, text + b"\n")

    def __len__(self) -> int:
        return self.n

    def rows(self) -> list[tuple[int, bytes]]:
        if self._rows is None:
            out: list[tuple[int, bytes]] = []
            for n0, count, text in self.blocks:
                out.extend(zip(range(n0, n0 + count), text.split(b"\n")[:count]))
            self._rows = out
        return self._rows

    def __getitem__(self, i):  # type: ignore[override]
        return self.rows()[i]

    def __iter__(self):
        return iter(self.rows())

    def chunks(self) -> list[bytes]:
        """The COPY text, block by block (each ends with a newline)."""
        return [text for _, _, text in self.blocks]


class _Chunks:
    """A read-only binary stream over a list of ``bytes`` chunks (for ``copy_expert``)."""

    def __init__(self, chunks: list[bytes]):
        self.it = iter(chunks)

    def read(self, size: int = -1) -> bytes:
        return next(self.it, b"")

    def readline(self, size: int = -1) -> bytes:  # pragma: no cover - not used by COPY FROM
        return self.read(size)


def _raise_temp_buffers(conn: sa.Connection, size: str = "256MB") -> None:
    """Give the session's temporary tables ``size`` of local buffers (PostgreSQL's default,
    8MB, makes a 50,000-row staging batch spill to disk). Only possible before the session's
    first use of a temporary table; later attempts are ignored."""
    if conn.info.get("_staged_temp_buffers"):
        return
    conn.info["_staged_temp_buffers"] = True
    try:
        with conn.begin_nested():
            conn.exec_driver_sql(f"SET temp_buffers = '{size}'")
    except sa.exc.DBAPIError:
        pass


class StagedUpsert:
    """Upserts batches of rows into ``table`` on its natural key.

    ``columns``: the table columns each row carries, in order (audit columns excluded).
    ``refs``: parent references checked per row. ``audit``: ``_source`` / ``_run_id`` / ``_ingest_file_id`` values.

    :meth:`load_copy` takes ``[(line, copy_text_line)]`` (PostgreSQL only; ``copy_text_line``
    is the row's values in COPY text format, tab-separated, without the line number).
    :meth:`load_values` takes ``[(line, values_tuple)]`` (any dialect; Python values).
    Both return a :class:`StagedResult`; database refusals of single rows come back as
    failed lines, connection-level errors propagate.
    """

    def __init__(self, conn: sa.Connection, table: sa.Table, columns: Sequence[str],
                 refs: Sequence[ParentRef] = (), audit: Mapping[str, Any] | None = None,
                 async_commit: bool = False):
        self.conn = conn
        #: PostgreSQL: the caller's commit of each batch does not wait for its WAL flush
        #: (``SET LOCAL synchronous_commit = off``; one fsync per 20,000-row batch otherwise).
        #: Safe where the caller records "done" later in a synchronously committed row (e.g.
        #: the ``ingest_files`` ledger): a crash can only lose a suffix of the batches, and
        #: then the ledger does not say "succeeded" either, so the file loads again.
        self.async_commit = async_commit
        self.table = table
        self.columns = list(columns)
        self.refs = list(refs)
        self.audit = dict(audit or {})
        self.key = natural_key(table)
        self.is_postgres = conn.dialect.name == "postgresql"
        self._staging: str | None = None
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

    # -- PostgreSQL --------------------------------------------------------------------
    def _ensure_staging(self) -> str:
        if self._staging is None:
            name = f"_stl_{self.table.name}"[:60]
            cols = ", ".join(f'"{c}"' for c in self.columns)
            _raise_temp_buffers(self.conn)
            self.conn.exec_driver_sql(
                f'CREATE TEMP TABLE IF NOT EXISTS "{name}" AS SELECT 0::bigint AS _line, {cols} '
                f"FROM {self._q(self.table)} WITH NO DATA")
            self._staging = name
        return self._staging

    def _upsert_sql(self, stg: str) -> str:
        cols = self.columns
        audit_cols = [c for c in AUDIT_COLUMNS if c in self.table.c]
        collist = ", ".join(f'"{c}"' for c in cols + audit_cols)
        audit_vals = []
        for c in audit_cols:
            audit_vals.append("now()" if c == "_ingested_at" else f"%({c})s")
        select = ", ".join([f's."{c}"' for c in cols] + audit_vals)
        nonkey = [c for c in cols if c not in self.key]
        keylist = ", ".join(f'"{k}"' for k in self.key)
        if nonkey:
            sets = ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in nonkey + audit_cols)
            old = ", ".join(f't."{c}"' for c in nonkey)
            new = ", ".join(f'EXCLUDED."{c}"' for c in nonkey)
            where = f"ROW({old}) IS DISTINCT FROM ROW({new})"
            conflict = f"DO UPDATE SET {sets} WHERE {where}"
        else:
            conflict = "DO NOTHING"
        return (f"WITH w AS (INSERT INTO {self._q(self.table)} AS t ({collist}) "
                f'SELECT {select} FROM "{stg}" s ON CONFLICT ({keylist}) {conflict} '
                f"RETURNING (xmax = 0) AS ins) "
                f"SELECT count(*) FILTER (WHERE ins), count(*) FILTER (WHERE NOT ins) FROM w")

    def analyze_parents(self) -> None:
        """``ANALYZE`` the parent tables' referenced columns (PostgreSQL), so the orphan checks
        plan with current row counts after a bulk load of the parents. Call once per load."""
        if not self.is_postgres:
            return
        for ref in self.refs:
            cols = ", ".join(f'"{c}"' for c in ref.parent_columns)
            self.conn.exec_driver_sql(f"ANALYZE {self._q(ref.parent)} ({cols})")

    def _insert_sql(self, stg: str) -> str:
        audit_cols = [c for c in AUDIT_COLUMNS if c in self.table.c]
        collist = ", ".join(f'"{c}"' for c in self.columns + audit_cols)
        vals = ["now()" if c == "_ingested_at" else f"%({c})s" for c in audit_cols]
        select = ", ".join([f's."{c}"' for c in self.columns] + vals)
        return f'INSERT INTO {self._q(self.table)} ({collist}) SELECT {select} FROM "{stg}" s'

    def _dedupe_sql(self, stg: str) -> str:
        """Deletes from staging every row whose natural key appears again on a later line of
        the batch (the last line of a key is kept), returning ``(line, key text)``."""
        cond = " AND ".join(f's."{k}" = d."{k}"' for k in self.key)
        shown = " || '/' || ".join(f's."{k}"::text' for k in self.key)
        return f'DELETE FROM "{stg}" s USING "{stg}" d WHERE {cond} AND s._line < d._line RETURNING s._line, {shown}'

    def _orphan_sqls(self, stg: str) -> list[tuple[str, str, ParentRef]]:
        """Per reference: a query for the *distinct* referenced keys of the batch that have no
        parent (items of one order share its key, so there are fewer probes than rows), and a
        statement removing the staged rows with those keys, returning their line numbers."""
        out = []
        for ref in self.refs:
            cc = ", ".join(f'"{c}"' for c in ref.columns)
            cond = " AND ".join(f'p."{pc}" = k."{c}"' for c, pc in zip(ref.columns, ref.parent_columns))
            find = (f'SELECT {", ".join(f"k.{chr(34)}{c}{chr(34)}" for c in ref.columns)} '
                    f'FROM (SELECT DISTINCT {cc} FROM "{stg}") k '
                    f"WHERE NOT EXISTS (SELECT 1 FROM {self._q(ref.parent)} p WHERE {cond})")
            shown = " || '/' || ".join(f's."{c}"::text' for c in ref.columns)
            delete = (f'DELETE FROM "{stg}" s WHERE ({cc}) IN (SELECT {cc} FROM _staged_missing) '
                      f"RETURNING s._line, {shown}")
            out.append((find, delete, ref))
        return out

    def load_copy(self, rows: Sequence[tuple[int, str]] | Sequence[tuple[int, bytes]] | CopyRows) -> StagedResult:
        if not rows:
            return StagedResult()
        if self.async_commit:
            self.conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
        stg = self._ensure_staging()
        upsert = self._upsert_sql(stg)
        plain = self._insert_sql(stg)
        orphans = self._orphan_sqls(stg)
        ref_cols = ", ".join(dict.fromkeys(f'"{c}"' for r in self.refs for c in r.columns))
        collist = ", ".join(["_line"] + [f'"{c}"' for c in self.columns])
        copy_sql = f'COPY "{stg}" ({collist}) FROM STDIN'
        params = {c: self.audit.get(c) for c in AUDIT_COLUMNS if c != "_ingested_at"}

        def write(batch: list[tuple[int, str]]) -> list[StagedResult]:
            raw = self.conn.connection.dbapi_connection
            res = StagedResult()
            clock = time.perf_counter
            t0 = clock()
            if self.direct:
                done = self._copy_direct(raw, batch)
                if done is not None:
                    self.timings["copy"] += clock() - t0
                    return [done]
                t0 = clock()
            with raw.cursor() as cur:
                cur.execute(f'TRUNCATE "{stg}"')
                staged = ([b"%d\t%s" % (line, text) for line, text in batch] if isinstance(batch[0][1], bytes)
                          else [f"{line}\t{text}" for line, text in batch])
                cur.copy_expert(copy_sql, CopyLines(staged), size=1 << 20)
                t1 = clock()
                if orphans:
                    # Statistics for the batch, so the planner picks index probes (small batch,
                    # big parent) or a hash anti-join (big batch, small parent) itself.
                    cur.execute(f'ANALYZE "{stg}" ({ref_cols})')
                for find, delete, ref in orphans:
                    cur.execute(find)
                    missing = cur.fetchall()
                    if not missing:
                        continue
                    cur.execute("CREATE TEMP TABLE IF NOT EXISTS _staged_missing AS " + find + " WITH NO DATA")
                    cur.execute("TRUNCATE _staged_missing")
                    cur.execute("INSERT INTO _staged_missing " + find)
                    cur.execute(delete)
                    for line, shown in cur.fetchall():
                        res.failed.append((line, f"orphan reference: {ref.label or ref.parent.name} {shown} not found"))
                    cur.execute("DROP TABLE _staged_missing")
                t2 = clock()
                ins = upd = None
                if self._plain_ok:
                    # Fresh rows (the common case) go in with a plain INSERT, cheaper than the
                    # speculative insertion of ON CONFLICT; the first key that already exists
                    # rolls this back and switches this loader to the upsert for good.
                    cur.execute("SAVEPOINT _staged_plain")
                    try:
                        cur.execute(plain, params)
                        ins, upd = cur.rowcount, 0
                        cur.execute("RELEASE SAVEPOINT _staged_plain")
                    except psycopg2.errors.UniqueViolation:
                        cur.execute("ROLLBACK TO SAVEPOINT _staged_plain")
                        self._plain_ok = False
                if ins is None:
                    # A key repeated within the batch makes ON CONFLICT DO UPDATE raise
                    # CardinalityViolation ("cannot affect row a second time"): then the earlier
                    # lines of each repeated key are removed from staging (reported as skipped)
                    # and the upsert runs again. Costs nothing while keys are unique.
                    cur.execute("SAVEPOINT _staged_upsert")
                    try:
                        cur.execute(upsert, params)
                    except psycopg2.errors.CardinalityViolation:
                        cur.execute("ROLLBACK TO SAVEPOINT _staged_upsert")
                        cur.execute(self._dedupe_sql(stg))
                        for line, shown in sorted(cur.fetchall()):
                            res.skipped.append((line, f"duplicate key {shown}: replaced by a later line of the same batch"))
                        cur.execute(upsert, params)
                    ins, upd = cur.fetchone()
                    cur.execute("RELEASE SAVEPOINT _staged_upsert")
            t3 = clock()
            tm = self.timings
            tm["copy"] += t1 - t0
            tm["orphans"] += t2 - t1
            tm["write"] += t3 - t2
            res.inserted, res.updated = ins, upd
            res.unchanged = len(batch) - len(res.failed) - len(res.skipped) - ins - upd
            return [res]

        def failed(item: tuple[int, str], exc: Exception) -> list[StagedResult]:
            return [StagedResult(failed=[(item[0], db_message(exc))])]

        total = StagedResult()
        items = rows if isinstance(rows, CopyRows) else list(rows)
        for r in run_bisected(self.conn, items, write, failed):
            total.add(r)
        return total

    def _copy_direct(self, raw: Any, batch: Sequence[tuple[int, str | bytes]]) -> StagedResult | None:
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
        with raw.cursor() as cur:
            cur.execute("SAVEPOINT _staged_direct")
            try:
                if settings:
                    cur.execute("SELECT " + ", ".join("set_config(%s, %s, true)" for _ in settings),
                                [v for pair in settings for v in pair])
                data = (_Chunks(batch.chunks()) if isinstance(batch, CopyRows) and not suffix
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
        res = StagedResult()
        if not rows:
            return res
        good = list(rows)
        for ref in self.refs:
            idx = [self.columns.index(c) for c in ref.columns]
            wanted = {tuple(v[i] for i in idx) for _, v in good}
            found: set[tuple] = set()
            pcols = [ref.parent.c[c] for c in ref.parent_columns]
            wl = list(wanted)
            for i in range(0, len(wl), 500):
                chunk = wl[i:i + 500]
                q = sa.select(*pcols).where(sa.tuple_(*pcols).in_(chunk))
                found.update(tuple(r) for r in self.conn.execute(q))
            keep = []
            for line, v in good:
                k = tuple(v[i] for i in idx)
                if k in found:
                    keep.append((line, v))
                else:
                    res.failed.append((line, f"orphan reference: {ref.label or ref.parent.name} {'/'.join(map(str, k))} not found"))
            good = keep
        loader = BatchLoader(self.conn, TableLoad(self.table), self.audit)
        pending = [PendingRow(row=line, values=dict(zip(self.columns, v))) for line, v in good]
        for o in loader.load(pending):
            if o.outcome is Outcome.INSERTED:
                res.inserted += 1
            elif o.outcome is Outcome.UPDATED:
                res.updated += 1
            elif o.outcome is Outcome.FAILED:
                res.failed.append((o.row, o.error or o.outcome.value))
            elif o.outcome is Outcome.SKIPPED:  # an earlier line of a key repeated in the batch
                res.skipped.append((o.row, o.error or "duplicate key: replaced by a later line of the same batch"))
            else:
                res.unchanged += 1
        res.failed.sort()
        res.skipped.sort()
        return res
