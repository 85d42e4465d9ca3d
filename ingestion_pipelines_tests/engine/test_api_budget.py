"""engine.api.RateBudget: the sliding window holds across threads and processes (one file per
account), folds the server's rate-limit headers in, and the incremental helpers' rules."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import threading
import time

from ingestion_pipelines.engine.api import RateBudget, Windows, full_watermark, plan
from ingestion_pipelines.engine.sync_state import Watermark


def _spend(folder: str, n: int, out) -> None:
    b = RateBudget("shared", 4, 1.5, margin_s=0.0, folder=__import__("pathlib").Path(folder))
    for _ in range(n):
        b.acquire()
        out.put(time.time())


def _max_in_window(stamps: list[float], width: float) -> int:
    stamps = sorted(stamps)
    return max(sum(1 for t in stamps[i:] if t - s < width) for i, s in enumerate(stamps))


def test_two_processes_share_one_window(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_spend, args=(str(tmp_path), 6, out)) for _ in range(2)]
    for p in procs:
        p.start()
    stamps = [out.get(timeout=60) for _ in range(12)]
    for p in procs:
        p.join(10)
    # 12 requests at 4 per 1.5 s take >= 3 s, and no window holds more than 4 (the stamps are
    # taken just after each grant, and a loaded machine may delay one: the window checked is 1 s)
    assert _max_in_window(stamps, 1.0) <= 4
    assert max(stamps) - min(stamps) >= 2.9


def test_threads_share_one_window(tmp_path):
    b = RateBudget("threads", 5, 1.5, margin_s=0.0, folder=tmp_path)
    stamps: list[float] = []
    lock = threading.Lock()

    def spend():
        for _ in range(5):
            b.acquire()
            with lock:
                stamps.append(time.time())

    ts = [threading.Thread(target=spend) for _ in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    # 15 grants at 5 per 1.5 s take >= 3 s; the stamps are taken just after each grant (a loaded
    # machine may delay one), so the window checked is narrower than the budget's
    assert len(stamps) == 15 and max(stamps) - min(stamps) >= 2.9
    assert _max_in_window(stamps, 1.0) <= 5


def test_observe_folds_in_the_servers_count(tmp_path):
    b = RateBudget("observed", 100, 10, folder=tmp_path)
    b.acquire()
    b.observe({"X-HubSpot-RateLimit-Max": "110", "X-HubSpot-RateLimit-Remaining": "60",
               "X-HubSpot-RateLimit-Interval-Milliseconds": "10000"})
    assert b.limit == 100  # never raised past the configured budget
    assert len(b._read(time.time())) == 40  # 100 - 60 spent: 39 by someone else
    b.observe({"X-HubSpot-RateLimit-Max": "50", "X-HubSpot-RateLimit-Remaining": "50"})
    assert b.limit == 50
    b.saturate()
    assert len(b._read(time.time())) >= 50


def test_the_secondly_header_caps_bursts(tmp_path):
    b = RateBudget("burst", 100, 10, folder=tmp_path)
    b.observe({"X-HubSpot-RateLimit-Max": "100", "X-HubSpot-RateLimit-Secondly": "4"})
    assert b.per_second == 4
    t0 = time.time()
    for _ in range(9):  # 4 now, 4 a second later, 1 a second after that
        b.acquire()
    assert time.time() - t0 >= 2.0


def test_plan_precedence_and_full_watermark():
    wm = Watermark.of(dt.datetime(2025, 5, 1, 12, tzinfo=dt.timezone.utc), "7")
    since = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    assert plan(None).mode == "full"
    assert plan(wm, full=True).mode == "full"
    assert plan(wm, since=since, full=True).start == since
    p = plan(wm, lookback=dt.timedelta(minutes=10))
    assert p.mode == "incremental" and p.start == dt.datetime(2025, 5, 1, 11, 50, tzinfo=dt.timezone.utc)
    start = dt.datetime(2025, 6, 1, tzinfo=dt.timezone.utc)
    assert full_watermark(dt.datetime(2025, 7, 1, tzinfo=dt.timezone.utc), start) == start
    assert full_watermark(dt.datetime(2025, 5, 1, tzinfo=dt.timezone.utc), start).month == 5
    assert full_watermark(None, start) is None


def test_windows_split_in_order():
    w = Windows.of(0, 9)
    first = w.pop()
    assert w.split(first) and w.pop() == (0, 4)
    assert w.split((0, 4)) and w.pending == [(0, 2), (3, 4), (5, 9)]
    assert not w.split((3, 3))
    w.resume((5, 9), 7)  # the part of (5, 9) from 7 on comes next
    assert w.pop() == (7, 9)
