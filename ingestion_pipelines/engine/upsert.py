"""The upsert core: how one table's load spec (:class:`TableLoad`) becomes the statements that
write a batch, on every dialect, for both front ends (:class:`~.load.BatchLoader`, per-row
outcomes; :class:`~.staged.StagedUpsert`, counts only).

* :func:`owned_sql` / :func:`owned_value` — column ownership (``preserve_on_blank``,
  ``fill_only``), as a SQL expression (PostgreSQL's ``ON CONFLICT .. DO UPDATE``) and as the
  same rule in Python (the SQLite/MySQL path, which reads the stored row anyway to tell
  inserted / updated / unchanged: neither dialect can say so from one upsert statement).
* :class:`PgStaging` — PostgreSQL: a session-local staging table carrying each row's input
  line (``_line``), ``COPY`` into it, orphans deleted in SQL (reported by line), and one
  ``INSERT .. SELECT .. ON CONFLICT (key) DO UPDATE SET <owned values> WHERE <something
  changed>`` built with SQLAlchemy's ``postgresql.insert(..).on_conflict_do_update()``,
  returning either the written keys with ``(xmax = 0)`` or the counts.
* :func:`find_orphans` — the same reference check by ``IN (..)`` lookups, for other dialects.

Speed: the statement is built once per staging table and executed through SQLAlchemy (its
compiled cache). Measured against the same SQL text on the raw cursor: 0.5–2 ms more per
batch (empty batches, 300 runs), under 1 % of a 20,000-row batch, and no change in the tenants
benchmark; so SQLAlchemy's construct is used. The COPY and the orphan probes stay raw driver
calls (psycopg2's ``copy_expert`` has no SQLAlchemy form; the probes are text built from the
references, run on the COPY's cursor).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any, Iterable, Literal, Mapping, Sequence

import psycopg2
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from .copytext import Chunks, CopyLines
from .schema import AUDIT_COLUMNS, natural_key, qualified_name


@dataclass(frozen=True)
class ParentRef:
    """``columns`` of the child table must match ``parent_columns`` of a row in ``parent``
    (e.g. ``("tenant_id", "order_id")`` -> ``orders(tenant_id, order_id)``); ``label`` names
    the reference in error messages. A row whose reference has no parent fails (orphan); a
    NULL in any of ``columns`` is no reference, never an orphan (as a SQL foreign key reads it,
    and as PostgreSQL's staged check always treated it)."""

    columns: tuple[str, ...]
    parent: sa.Table
    parent_columns: tuple[str, ...]
    label: str = ""

    def reason(self, shown: str) -> str:
        """The failure reason of an orphan whose reference reads ``shown`` (``a/b``)."""
        return f"orphan reference: {self.label or self.parent.name} {shown} not found"


@dataclass
class TableLoad:
    """How to load rows into one table.

    ``table``: the SQLAlchemy table; ``key``: its natural key columns (default: the
    ``uq_<table>_natural_key`` constraint or the primary key); ``on_existing``:
    ``"update"`` (upsert) or ``"skip"`` (an existing row is left alone and reported as
    skipped with ``skip_reason``); ``preserve_on_blank``: columns a blank value never
    overwrites; ``fill_only``: columns written only while the stored value is NULL/blank (the
    source never owns a value already there, e.g. a hand-entered SFA URL or a first-seen
    timestamp); ``compare_exclude``: columns that do not count as a change; ``refs``: parent
    references every row must satisfy (orphans fail, with their reason, and are not written).
    """

    table: sa.Table
    key: tuple[str, ...] = ()
    on_existing: Literal["update", "skip"] = "update"
    preserve_on_blank: frozenset[str] = frozenset()
    fill_only: frozenset[str] = frozenset()
    compare_exclude: frozenset[str] = frozenset(AUDIT_COLUMNS)
    skip_reason: str = "already exists"
    refs: tuple[ParentRef, ...] = ()

    def __post_init__(self) -> None:
        if not self.key:
            self.key = natural_key(self.table)
        self.refs = tuple(self.refs)


def blank(v: Any) -> bool:
    """NULL or an all-whitespace string: what ``preserve_on_blank`` / ``fill_only`` call blank."""
    return v is None or (isinstance(v, str) and v.strip() == "")


def owned_value(spec: TableLoad, c: str, new: Any, old: Any) -> Any:
    """The value column ``c`` of an existing row gets from a source value ``new`` when it
    holds ``old`` (the rule :func:`owned_sql` writes in SQL)."""
    if c in spec.preserve_on_blank and blank(new):
        new = old
    if c in spec.fill_only and not blank(old):
        new = old
    return new


def owned_sql(spec: TableLoad, c: str, new: sa.ColumnElement, old: sa.ColumnElement) -> sa.ColumnElement:
    """:func:`owned_value` as a SQL expression over the incoming (``new``) and stored
    (``old``) values of column ``c`` (text columns: blank = NULL or all spaces)."""
    text = isinstance(spec.table.c[c].type, (sa.String, sa.Text))

    def present(x: sa.ColumnElement) -> sa.ColumnElement:  # NULL when blank
        return sa.case((sa.func.btrim(x) == "", None), else_=x) if text else x

    if c in spec.preserve_on_blank:
        new = sa.func.coalesce(present(new), old)
    if c in spec.fill_only:
        new = sa.func.coalesce(present(old), new)
    return new


def conflict_update(spec: TableLoad, cols: Sequence[str], new_of, old_of) -> tuple[dict, Any]:
    """``(SET mapping, WHERE condition)`` of the update of an existing row, for the written
    columns ``cols``: each non-key column gets its :func:`owned_sql` value; the row is
    updated only when a compared column (not in ``compare_exclude``) would change
    (``IS DISTINCT FROM``). ``new_of(c)`` / ``old_of(c)``: the incoming / stored column.
    An empty SET means there is nothing to update (``DO NOTHING``)."""
    sets, old, new = {}, [], []
    for c in cols:
        if c in spec.key:
            continue
        v = owned_sql(spec, c, new_of(c), old_of(c))
        sets[c] = v
        if c not in spec.compare_exclude:
            old.append(old_of(c))
            new.append(v)
    if not old:
        return sets, sa.false()
    if len(old) == 1:
        return sets, old[0].is_distinct_from(new[0])
    return sets, sa.tuple_(*old).is_distinct_from(sa.tuple_(*new))


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


class PgStaging:
    """PostgreSQL: the staging table of ``spec.table`` for the data columns ``columns``
    (``_line bigint`` first), and the statements that move a staged batch into the table.

    ``audit``: values of the audit columns (``_source``, ``_run_id``, ``_ingest_file_id``)
    written by the upsert, not staged; ``_ingested_at`` (when the table has it) is ``now()``.
    Use: :meth:`copy` the lines (``"<line>\\t<COPY text of columns>"``), :meth:`drop_orphans`,
    then :meth:`upsert` (per-row keys) or :meth:`upsert_counts`. Errors propagate.
    """

    def __init__(self, conn: sa.Connection, spec: TableLoad, columns: Sequence[str], audit: Mapping[str, Any]):
        self.conn, self.spec, self.columns = conn, spec, list(columns)
        t = spec.table
        self.audit_cols = (["_ingested_at"] if "_ingested_at" in t.c else []) + [c for c in audit if c != "_ingested_at"]
        self.params = {c: audit[c] for c in self.audit_cols if c != "_ingested_at"}
        tag = zlib.crc32("\t".join(self.columns).encode()) % 100000
        self.name = f"_stl_{t.name}"[:50] + f"_{tag}"
        cols = ", ".join(f'"{c}"' for c in self.columns)
        # run before every COPY (a catalog lookup): a savepoint rolled back since may have taken it
        self._create = (f'CREATE TEMP TABLE IF NOT EXISTS "{self.name}" AS SELECT 0::bigint AS _line, {cols} '
                        f"FROM {qualified_name(conn, t)} WITH NO DATA")
        _raise_temp_buffers(conn)
        # pg_temp: the session's temporary schema, never renamed by a schema_translate_map
        self.table = sa.table(self.name, *[sa.column(c) for c in ["_line"] + self.columns], schema="pg_temp")
        self._stmt = self._statement()

    def _statement(self):
        spec, t, stg = self.spec, self.spec.table, self.table
        audit = [sa.func.now() if c == "_ingested_at" else sa.bindparam(c, type_=t.c[c].type) for c in self.audit_cols]
        names, select = self.columns + self.audit_cols, sa.select(*[stg.c[c] for c in self.columns], *audit)
        self._plain = sa.insert(t).from_select(names, select)
        ins = pg.insert(t).from_select(names, select)
        key = [t.c[k] for k in spec.key]
        sets, where = (conflict_update(spec, self.columns + self.audit_cols, lambda c: ins.excluded[c], lambda c: t.c[c])
                       if spec.on_existing == "update" else ({}, None))
        if sets:
            return ins.on_conflict_do_update(index_elements=key, set_=sets, where=where)
        return ins.on_conflict_do_nothing(index_elements=key)

    def copy(self, lines: Sequence[str] | Sequence[bytes] | list[bytes], chunks: bool = False) -> None:
        """Replace the staged rows with ``lines`` (or, ``chunks=True``, with whole blocks of
        lines each ending in a newline)."""
        raw = self.conn.connection.dbapi_connection
        collist = ", ".join(["_line"] + [f'"{c}"' for c in self.columns])
        self.conn.exec_driver_sql(self._create)  # (through SQLAlchemy: a missing table is its DBAPIError)
        with raw.cursor() as cur:
            cur.execute(f'TRUNCATE "{self.name}"')
            cur.copy_expert(f'COPY "{self.name}" ({collist}) FROM STDIN',
                            Chunks(list(lines)) if chunks else CopyLines(lines), size=1 << 20)

    def drop_orphans(self) -> list[tuple[int, str]]:
        """Delete the staged rows whose references (``spec.refs``) have no parent; returns
        their ``(line, reason)``. The distinct referenced keys of the batch are probed (items of
        one order share its key, so there are fewer probes than rows), after an ``ANALYZE`` of
        the staged reference columns so the planner picks index probes or a hash anti-join."""
        refs = self.spec.refs
        if not refs:
            return []
        q = lambda tb: qualified_name(self.conn, tb)  # noqa: E731
        ref_cols = ", ".join(dict.fromkeys(f'"{c}"' for r in refs for c in r.columns))
        out: list[tuple[int, str]] = []
        with self.conn.connection.dbapi_connection.cursor() as cur:
            cur.execute(f'ANALYZE "{self.name}" ({ref_cols})')
            for ref in refs:
                cc = ", ".join(f'"{c}"' for c in ref.columns)
                cond = " AND ".join(f'p."{pc}" = k."{c}"' for c, pc in zip(ref.columns, ref.parent_columns))
                find = (f'SELECT {", ".join(f"k.{chr(34)}{c}{chr(34)}" for c in ref.columns)} '
                        f'FROM (SELECT DISTINCT {cc} FROM "{self.name}" WHERE ({cc}) IS NOT NULL) k '
                        f"WHERE NOT EXISTS (SELECT 1 FROM {q(ref.parent)} p WHERE {cond})")
                cur.execute(find)
                if not cur.fetchall():
                    continue
                shown = " || '/' || ".join(f's."{c}"::text' for c in ref.columns)
                cur.execute("CREATE TEMP TABLE IF NOT EXISTS _staged_missing AS " + find + " WITH NO DATA")
                cur.execute("TRUNCATE _staged_missing")
                cur.execute("INSERT INTO _staged_missing " + find)
                cur.execute(f'DELETE FROM "{self.name}" s WHERE ({cc}) IN (SELECT {cc} FROM _staged_missing) '
                            f"RETURNING s._line, {shown}")
                out.extend((line, ref.reason(shown)) for line, shown in cur.fetchall())
                cur.execute("DROP TABLE _staged_missing")
        return out

    def upsert(self) -> list[sa.Row]:
        """Write the staged rows; returns ``(key columns..., _inserted)`` of each row written
        (inserted or changed; an unchanged or skipped row is not returned)."""
        if not hasattr(self, "_keys"):
            t = self.spec.table
            self._keys = self._stmt.returning(*[t.c[k] for k in self.spec.key],
                                              sa.literal_column("(xmax = 0)").label("_inserted"))
        return self.conn.execute(self._keys, self.params).all()

    def upsert_counts(self) -> tuple[int, int]:
        """Write the staged rows; returns (inserted, updated). Raises psycopg2's
        ``CardinalityViolation`` (unwrapped) when a key repeats within the staged rows."""
        if not hasattr(self, "_counts"):
            w = self._stmt.returning(sa.literal_column("(xmax = 0)").label("ins")).cte("w")
            self._counts = sa.select(sa.func.count().filter(w.c.ins), sa.func.count().filter(sa.not_(w.c.ins)))
        try:
            ins, upd = self.conn.execute(self._counts, self.params).one()
        except sa.exc.DBAPIError as exc:
            if isinstance(exc.orig, psycopg2.errors.CardinalityViolation):
                raise exc.orig from None
            raise
        return ins, upd

    def insert_plain(self) -> int:
        """A plain ``INSERT .. SELECT`` of the staged rows (no conflict clause; cheaper than
        ON CONFLICT's speculative insertion while every key is new). Returns the rows inserted;
        raises on an existing key."""
        return self.conn.execute(self._plain, self.params).rowcount

    def dedupe(self) -> list[tuple[int, str]]:
        """Delete every staged row whose key appears again on a later line (the last line of
        a key wins); returns the deleted ``(line, key text)``, in line order."""
        key = self.spec.key
        cond = " AND ".join(f's."{k}" = d."{k}"' for k in key)
        shown = " || '/' || ".join(f's."{k}"::text' for k in key)
        res = self.conn.exec_driver_sql(f'DELETE FROM "{self.name}" s USING "{self.name}" d WHERE {cond} '
                                        f"AND s._line < d._line RETURNING s._line, {shown}")
        return sorted(tuple(r) for r in res)


def find_orphans(conn: sa.Connection, refs: Iterable[ParentRef], rows: Sequence[tuple[int, Mapping[str, Any]]]
                 ) -> dict[int, str]:
    """Any dialect: ``{line: reason}`` of the ``(line, values)`` rows whose references have no
    parent, found by ``IN (..)`` lookups of the distinct referenced keys (500 per query)."""
    out: dict[int, str] = {}
    for ref in refs:
        wanted = {tuple(v.get(c) for c in ref.columns) for line, v in rows if line not in out}
        wanted = [k for k in wanted if None not in k]
        found: set[tuple] = set()
        pcols = [ref.parent.c[c] for c in ref.parent_columns]
        for i in range(0, len(wanted), 500):
            q = sa.select(*pcols).where(sa.tuple_(*pcols).in_(wanted[i:i + 500]))
            found.update(tuple(r) for r in conn.execute(q))
        for line, v in rows:
            k = tuple(v.get(c) for c in ref.columns)
            if line not in out and None not in k and k not in found:
                out[line] = ref.reason("/".join(map(str, k)))
    return out
