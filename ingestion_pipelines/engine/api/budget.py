"""A rate budget shared by every stream of one API account, in one process and across processes.

:class:`RateBudget` is a sliding-window log: at most ``limit`` requests in any ``interval_s``
window (HubSpot's limits are rolling windows: 100 per 10 s, search 5 per s). Before each
request :meth:`RateBudget.acquire` waits for a free slot and records the send time.

Where the log lives, and why: a small JSON file per account under the project's state dir
(``<state>/rate_budgets/<key>.json``), read and written under a ``filelock`` lock. Every
stream of a run, every thread, and every concurrent run on the machine (an ``ingest
sync-hubspot-*`` started while a scheduled run goes on: the CLI runs in process, outside
the run queue's ``hubspot/portal`` limit) then shares one budget. A file costs ~0.1 ms per
request; a warehouse row would cost a round trip and, on SQLite, take the same write lock as
the loads. Runs on other machines are kept apart by the run queue's tag limit and, should
they overlap anyway, by :meth:`RateBudget.observe`, which folds the server's own count
(``X-HubSpot-RateLimit-Remaining``) into the log.

The window is widened by ``margin_s`` (default 0.2 s): the server counts arrivals, we count
departures, and a request that travels faster than the one ``interval_s`` before it would
otherwise land inside the server's window.

A second, one-second window (``per_second``) caps bursts: HubSpot reports one
(``X-HubSpot-RateLimit-Secondly``: 11 for 110 per 10 s), so once an answer carries it the first
requests of a run no longer go out 100 at once (widened by 0.02 s only, so that it costs at
most 2 % of the rate the 10-second window allows).
"""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path
from typing import Mapping

from filelock import FileLock

from ...settings import state_dir

_PROCESS_LOCKS: dict[str, threading.Lock] = {}
_GUARD = threading.Lock()


def budget_dir() -> Path:
    """``<state>/rate_budgets`` (created)."""
    path = state_dir() / "rate_budgets"
    path.mkdir(parents=True, exist_ok=True)
    return path


class RateBudget:
    """At most ``limit`` requests per ``interval_s`` seconds for the account ``key`` (a name
    safe for a file: letters, digits, ``-_.``; never a secret), shared through
    ``<folder>/<key>.json`` (default :func:`budget_dir`). ``waited_s`` and ``acquired`` count
    this object's waits (seconds) and requests."""

    def __init__(self, key: str, limit: int, interval_s: float, *, margin_s: float = 0.2,
                 per_second: int | None = None, folder: Path | None = None):
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", key):
            raise ValueError(f"rate budget key {key!r}: use letters, digits, '-', '_', '.'")
        self.key, self.limit, self.interval_s, self.margin_s = key, int(limit), float(interval_s), margin_s
        self.per_second = per_second
        folder = folder or budget_dir()
        self.path = folder / f"{key}.json"
        self._file_lock = FileLock(str(folder / f"{key}.lock"))
        with _GUARD:
            self._lock = _PROCESS_LOCKS.setdefault(str(self.path), threading.Lock())
        self.waited_s = 0.0
        self.acquired = 0

    def __repr__(self) -> str:
        return f"RateBudget({self.key!r}, {self.limit}/{self.interval_s:g}s)"

    def _read(self, now: float) -> list[float]:
        try:
            stamps = json.loads(self.path.read_text() or "[]")
        except (FileNotFoundError, ValueError):
            stamps = []
        horizon = now - self.interval_s - self.margin_s
        return [t for t in stamps if t > horizon]

    def _write(self, stamps: list[float]) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(stamps))
        tmp.replace(self.path)

    def acquire(self) -> float:
        """Wait for a slot and take it; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock, self._file_lock:
                now = time.time()
                stamps = self._read(now)
                wait = self._wait(stamps, now)
                if wait <= 0:
                    stamps.append(now)
                    self._write(stamps)
                    self.acquired += 1
                    self.waited_s += waited
                    return waited
            pause = min(max(wait, 0.005), self.interval_s)
            time.sleep(pause)
            waited += pause

    def _wait(self, stamps: list[float], now: float) -> float:
        """Seconds until both windows have room (<= 0: now)."""
        wait = 0.0
        if len(stamps) >= self.limit:
            wait = stamps[len(stamps) - self.limit] + self.interval_s + self.margin_s - now
        if self.per_second:
            recent = [t for t in stamps if t > now - 1.02]
            if len(recent) >= self.per_second:
                wait = max(wait, recent[len(recent) - self.per_second] + 1.02 - now)
        return wait

    def observe(self, headers: Mapping[str, str], prefix: str = "X-HubSpot-RateLimit-") -> None:
        """Fold the server's view into the log: ``<prefix>Max`` lowers ``limit`` to it (never
        raises it past the configured one), ``<prefix>Secondly`` sets ``per_second`` (the
        burst cap), ``<prefix>Interval-Milliseconds`` sets the window,
        and when ``<prefix>Remaining`` says fewer requests are left than the log believes
        (another client of the account), the difference is logged as spent now."""
        def num(name: str) -> int | None:
            v = headers.get(prefix + name)
            return int(v) if v is not None and str(v).strip().isdigit() else None

        mx, remaining, interval = num("Max"), num("Remaining"), num("Interval-Milliseconds")
        secondly = num("Secondly")
        if mx:
            self.limit = min(self.limit, mx)
        if secondly:
            self.per_second = min(self.per_second or secondly, secondly)
        if interval:
            self.interval_s = interval / 1000.0
        if remaining is None:
            return
        with self._lock, self._file_lock:
            now = time.time()
            stamps = self._read(now)
            spent_elsewhere = (self.limit - remaining) - len(stamps)
            if spent_elsewhere > 0:
                self._write(stamps + [now] * spent_elsewhere)

    def saturate(self) -> None:
        """The server said 429 although the log had room: take every slot as spent now, so the
        next request waits a whole window (no 429 storm)."""
        with self._lock, self._file_lock:
            now = time.time()
            stamps = self._read(now)
            self._write(stamps + [now] * max(self.limit - len(stamps), 0))

    def reset(self) -> None:
        """Forget the log (tests, benchmarks)."""
        with self._lock, self._file_lock:
            self._write([])
