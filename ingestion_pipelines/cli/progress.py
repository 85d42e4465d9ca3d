"""One progress bar for the commands whose runs commit their progress to the warehouse:
:func:`committed_progress`, fed by a count query polled on a thread while the run goes on in
this process (the CRM CSV imports read ``ingest_files.rows_read`` of their file; the Genius
and HubSpot syncs ``sync_history.rows_read`` of their runs: :func:`rows_read_since`).

Counts come from what the run committed, so the bar never runs ahead of the warehouse.
"""

from __future__ import annotations

import datetime as dt
import sys
import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator

import click

if TYPE_CHECKING:  # pragma: no cover
    import sqlalchemy as sa


@contextmanager
def committed_progress(label: str, count: sa.Select, *, length: int | None = None,
                       every_s: float = 0.5) -> Iterator[None]:
    """A click progress bar on standard error while the block runs, moved to ``count`` (a
    scalar query: rows committed so far) every ``every_s`` seconds from a thread. ``length``:
    the rows expected (None: a ``label: N`` counter line instead of a bar). A query that fails (its table is not
    created yet, the database busy) keeps the last count."""
    from ..resources.warehouse import WarehouseResource

    engine = WarehouseResource().engine  # WAREHOUSE_URL read now, as the run reads it
    stop = threading.Event()

    def committed() -> Iterator[int]:
        done = 0
        while not stop.wait(every_s):
            try:
                with engine.connect() as conn:
                    now = int(conn.execute(count).scalar() or 0)
            except Exception:  # noqa: BLE001 - tables not created yet / busy
                now = done
            if now > done:
                yield now - done
                done = now

    def watch() -> None:
        if length is None:  # click's bar needs a length: a counter line instead
            total = 0
            for step in committed():
                total += step
                click.echo(f"\r{label}: {total:,}", file=sys.stderr, nl=False)
            if total:
                click.echo(file=sys.stderr)
            return
        with click.progressbar(length=length, label=label, file=sys.stderr, show_pos=True, show_eta=True) as bar:
            for step in committed():
                bar.update(step)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join(5)


def rows_read_since(source: str, since: dt.datetime | None = None) -> sa.Select:
    """Rows read by the syncs of ``source`` (``sync_history.rows_read``, summed) whose history
    rows started at ``since`` or later (default: a second before now, i.e. this command's runs)."""
    import sqlalchemy as sa

    from ..engine.sync_state import sync_history as h

    since = since or dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)
    return sa.select(sa.func.coalesce(sa.func.sum(h.c.rows_read), 0)).where(h.c.source == source,
                                                                           h.c.started_at >= since)
