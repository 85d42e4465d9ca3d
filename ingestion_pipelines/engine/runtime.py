"""Interpreter settings for the length of one load (shared by every bulk path: the CRM CSV
profiles' :mod:`.profile_load` and the imports runner)."""

from __future__ import annotations

import contextlib
import gc
from typing import Iterator

__all__ = ["frozen_heap"]

#: Allocations (net of deallocations) before a collection of the youngest generation while a
#: load runs (CPython's default is 700).
YOUNG_THRESHOLD = 50_000


@contextlib.contextmanager
def frozen_heap() -> Iterator[None]:
    """Keep the cyclic garbage collector off a load's back, and restore it afterwards.

    Collects once, then moves every live object (the interpreter with Dagster and SQLAlchemy
    loaded: ~150k objects) out of the collector's view (``gc.freeze``), and lets the youngest
    generation grow to :data:`YOUNG_THRESHOLD` objects before a collection. Each full
    collection otherwise walks that whole heap (measured: 23 full collections, ~1.9 s of a
    10.5 s, 200k-row import), and a batch allocates ~20 objects per row, none in a cycle, so
    every young collection is pure cost (measured 34 -> 14 µs per row to render a CSV
    batch). Objects made during the load are still collected as usual (they are not part of
    the frozen heap).
    """
    threshold = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()
