"""The row-handler contract of file imports (seed 003, "Define an Import Handler").

A **row handler** is a function referenced by dotted path (``"pkg.module.function"``)::

    def handler(row_index: int, row: Row, import_job_id: str, options: dict) -> dict:
        return {"ok": True, "result": {...}}        # or {"ok": False, "error": "..."}

A successful result may name the optional cells it could not read (DESIGN.md §9, the
optional-cell rule: the row still lands, those columns empty)::

        return {"ok": True, "result": {..., "warnings": [
            {"column": "phone", "value": "555-0100", "reason": "a local number without an area code"}]}}

The runner takes ``"warnings"`` out of the result (it is not written to the success file),
counts them and writes them to the warnings file beside the failed file (``row, column,
value, reason``). A row fails only for a missing or unusable key or required field.

``row_index`` is the 1-based record number in the file (the physical line / sheet row, as
:class:`~ingestion_pipelines.engine.readers.SourceRecord` numbers it); ``row`` is a
:class:`Row`: the list of cell values in column order (the seed's ``row[0]``, ``row[1]``),
which also answers ``row.get("email")`` by header name; ``options`` is the import's options
dict (the seed's options plus any extra ``KEY=VALUE`` the user gave).

A **batch handler** (for speed) takes a batch and returns one result per row, in order::

    @batch_handler
    def handler(rows: list[tuple[int, Row]], import_job_id: str, options: dict) -> list[dict]: ...

Database work goes through :func:`current` (an :class:`ImportContext` with the open
connection ``conn``); the runner commits once per batch. This replaces the seed's "global
cache" pattern: a batch handler gets the whole batch at once, so it can use one bulk
statement without module-level state.

Failure rules (enforced by :func:`call_row` / :func:`call_batch`, never by the handler):
a handler that raises fails only its row(s), with the exception's message (its database work
for that row is rolled back to a savepoint); a handler that returns anything other than
``{"ok": True, ...}`` / ``{"ok": False, "error": str}`` fails the row with a message saying so
and its database work is rolled back too (a batch's savepoint is released only when every
result is well-formed and there is one per row; see :func:`call_batch`).
"""

from __future__ import annotations

import contextvars
import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from ...engine.load import is_row_error


class Row(list):
    """One input row: a ``list`` of cell values in column order, plus ``columns`` (the header
    names) and :meth:`get` by column name (case-insensitive, surrounding spaces ignored).

    ``Row(values, columns)`` works anywhere; the import runner uses :func:`row_class` so that
    building a row costs no more than building a list."""

    columns: Sequence[str] = ()
    _index: Mapping[str, int] = {}

    def __init__(self, values: Sequence[Any] = (), columns: Sequence[str] | None = None,
                 index: Mapping[str, int] | None = None):
        super().__init__(values)
        if columns is not None:
            self.columns = columns
            self._index = index if index is not None else column_index(columns)

    def get(self, name: str, default: Any = None) -> Any:
        i = self._index.get(name.strip().casefold())
        if i is None or i >= len(self):
            return default
        return self[i]

    def has(self, name: str) -> bool:
        return name.strip().casefold() in self._index


def row_class(columns: Sequence[str]) -> type[Row]:
    """A :class:`Row` subclass bound to ``columns`` (``cls(values)`` builds a row at list speed)."""
    return type("Row", (_BoundRow,), {"columns": list(columns), "_index": column_index(columns)})


class _BoundRow(Row):
    __init__ = list.__init__  # type: ignore[assignment]


def column_index(columns: Sequence[str]) -> dict[str, int]:
    """``{casefolded stripped name: position}`` (the first of duplicate names wins)."""
    out: dict[str, int] = {}
    for i, c in enumerate(columns):
        out.setdefault(str(c).strip().casefold(), i)
    return out


@dataclass
class ImportContext:
    """What a handler may use while it runs: ``conn`` (the import's open SQLAlchemy
    connection; do not commit it), ``job_id``, ``run_id``, ``file`` (the input's URI),
    ``columns`` (header names), ``audit`` (values for ``_source``/``_run_id`` columns) and
    ``cache`` (a dict that lives for the whole import, for lookups a handler wants to keep)."""

    conn: sa.Connection
    job_id: str
    run_id: str | None = None
    file: str = ""
    columns: list[str] = field(default_factory=list)
    audit: dict[str, Any] = field(default_factory=dict)
    cache: dict[str, Any] = field(default_factory=dict)


_CURRENT: contextvars.ContextVar[ImportContext] = contextvars.ContextVar("import_context")


def current() -> ImportContext:
    """The :class:`ImportContext` of the import running now; ``RuntimeError`` outside one."""
    try:
        return _CURRENT.get()
    except LookupError:
        raise RuntimeError("no import is running: handlers get their connection from the import runner") from None


def set_current(ctx: ImportContext) -> contextvars.Token:
    return _CURRENT.set(ctx)


def reset_current(token: contextvars.Token) -> None:
    _CURRENT.reset(token)


def batch_handler(fn: Callable) -> Callable:
    """Mark ``fn(rows, import_job_id, options) -> list[result]`` as a batch handler."""
    fn.import_batch = True  # type: ignore[attr-defined]
    return fn


def is_batch(handler: Callable) -> bool:
    return bool(getattr(handler, "import_batch", False))


class HandlerError(ValueError):
    """The handler path cannot be resolved to a callable (the import fails before any row)."""


def resolve(path: str) -> Callable:
    """The callable at dotted ``path`` (``"pkg.mod.func"`` or ``"pkg.mod:func"``).
    Raises :class:`HandlerError` with the reason when it cannot be imported."""
    p = (path or "").strip()
    if ":" in p:
        mod_name, _, attr = p.partition(":")
    else:
        mod_name, _, attr = p.rpartition(".")
    if not mod_name or not attr:
        raise HandlerError(f"handler path {path!r} is not a dotted path like 'package.module.function'")
    try:
        module = importlib.import_module(mod_name)
    except Exception as e:  # noqa: BLE001 - any import failure is a configuration error
        raise HandlerError(f"handler path {path!r}: cannot import module {mod_name!r}: {e}") from e
    fn = getattr(module, attr, None)
    if fn is None or not callable(fn):
        raise HandlerError(f"handler path {path!r}: module {mod_name!r} has no callable {attr!r}")
    return fn


def check_result(res: Any) -> tuple[bool, Any]:
    """(ok, result-or-error message) from what a handler returned; a malformed return value
    becomes ``(False, "handler returned ... ")``."""
    if (type(res) is dict or isinstance(res, Mapping)) and "ok" in res:
        if res["ok"] is True:
            return True, res.get("result")
        if res["ok"] is False:
            err = res.get("error")
            return False, str(err) if err not in (None, "") else "handler reported a failure without an error message"
    shown = repr(res)
    if len(shown) > 200:
        shown = shown[:200] + "..."
    return False, ('handler returned ' + shown + ', expected {"ok": True, "result": ...} or {"ok": False, "error": "..."}')


def _exc_message(e: BaseException) -> str:
    orig = getattr(e, "orig", None)
    msg = str(orig if orig is not None else e).strip().split("\n[SQL:")[0].splitlines()
    text = msg[0] if msg else ""
    return (text or type(e).__name__)[:1000]


def _systemic(e: BaseException) -> bool:
    """A database fault that is not about the row (lost connection, missing table): it must
    stop the import instead of failing every row one by one."""
    return isinstance(e, DBAPIError) and not is_row_error(e)


def call_row(handler: Callable, conn: sa.Connection, index: int, row: Row, job_id: str,
             options: dict) -> tuple[bool, Any]:
    """Run a row handler for one row inside a savepoint; (ok, result or error message)."""
    try:
        with conn.begin_nested():
            res = handler(index, row, job_id, options)
            ok, val = check_result(res)
            if not ok:
                raise _RowRefused(val)
        return True, val
    except _RowRefused as r:
        return False, r.message
    except Exception as e:  # noqa: BLE001 - the contract: a raising handler fails its row only
        if _systemic(e):
            raise
        return False, _exc_message(e)


class _RowRefused(Exception):
    def __init__(self, message: str):
        self.message = message


def call_batch(handler: Callable, conn: sa.Connection, rows: list[tuple[int, Row]], job_id: str,
               options: dict) -> list[tuple[bool, Any]]:
    """Run a batch handler on ``rows`` inside a savepoint; one (ok, result/error) per row.

    The savepoint is released (the batch's writes kept) only when the handler returns a
    well-formed answer: a sequence of exactly ``len(rows)`` results, each
    ``{"ok": True, ...}`` or ``{"ok": False, ...}``. Otherwise it is rolled back:

    * the handler raises, or one of its results is malformed: the batch is bisected (halves
      retried, down to single rows, which fail with the exception's message or the
      "handler returned ..." message), so good rows still land and a bad row writes nothing;
    * a result list of the wrong length: every row of the batch fails with a message saying
      so and nothing of the batch is written (results cannot be matched to rows).

    A well-formed ``{"ok": False}`` result does not undo that row's writes: a batch handler
    must not write the rows it refuses (the savepoint covers the whole batch).
    """
    if not rows:
        return []
    try:
        with conn.begin_nested():
            res = handler(rows, job_id, options)
            if not isinstance(res, Sequence) or isinstance(res, (str, bytes)) or len(res) != len(rows):
                n = len(res) if isinstance(res, Sequence) else type(res).__name__
                raise _BatchRefused(f"batch handler returned {n} results for {len(rows)} rows", bisect=False)
            checked = [check_result(r) for r in res]
            for r, (ok, val) in zip(res, checked):
                if not ok and not _refusal(r):
                    raise _BatchRefused(val, bisect=True)  # malformed: roll back, find the row
        return checked
    except _BatchRefused as b:
        if not b.bisect:
            return [(False, b.message)] * len(rows)
        if len(rows) == 1:
            return [(False, b.message)]
    except Exception as e:  # noqa: BLE001
        if _systemic(e):
            raise
        if len(rows) == 1:
            return [(False, _exc_message(e))]
    mid = len(rows) // 2
    return (call_batch(handler, conn, rows[:mid], job_id, options)
            + call_batch(handler, conn, rows[mid:], job_id, options))


def _refusal(res: Any) -> bool:
    """True for a well-formed failure result (a mapping with ``"ok": False``)."""
    return isinstance(res, Mapping) and res.get("ok") is False


class _BatchRefused(Exception):
    def __init__(self, message: str, bisect: bool):
        self.message = message
        self.bisect = bisect
