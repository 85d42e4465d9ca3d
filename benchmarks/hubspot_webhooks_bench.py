"""HubSpot webhooks under a burst (DESIGN.md §8, §10 "Webhooks"; issue 16 "Load and faults").

The real receiver (``ingest webhooks serve``, its own process) on a loopback port, storing into
PostgreSQL (a fresh schema); the HubSpot stand-in in this process with ``--contacts`` contacts,
synced once into ``hubspot_contacts``. Then ``--events`` signed events at ``--rate`` events/s in
batches of ``--batch`` from ``--senders`` threads (HubSpot: up to 10 at once per account): each
event is a real change made in the stand-in just before it is sent (a property change, or with
``--deletes`` / ``--merges`` shares a deletion or a merge), ``--dupes`` of them sent again in a
later batch, every batch shuffled and a tenth of the events held back one batch (reordering).
While the burst runs the sensor ticks every ``--tick-seconds`` and its run executes in this
process, as the daemon would run it; once the burst ends, ticks until no event waits.

Reported: the receiver's answer times (p50 / p99 / max, ms), every distinct event stored once,
the apply runs (events, seconds, requests), the lag ``occurredAt`` -> stored and
``occurredAt`` -> landed (p50 / p99 / max, s), and the check that the warehouse equals the
stand-in (live ids with their last-modified time; deleted and merged ids marked).

    .venv/bin/python benchmarks/hubspot_webhooks_bench.py --events 10000 --rate 500
    .venv/bin/python benchmarks/hubspot_webhooks_bench.py --events 2000 --rate 200 --contacts 1000
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("INGEST_STATE_DIR", tempfile.mkdtemp(prefix="hubspot_webhooks_bench_"))

import requests  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from ingestion_pipelines.resources.warehouse import WarehouseResource  # noqa: E402
from ingestion_pipelines.sources.crm.hubspot import webhook_definitions as wd  # noqa: E402
from ingestion_pipelines.sources.crm.hubspot import webhook_events as ev  # noqa: E402
from ingestion_pipelines.sources.crm.hubspot.api_streams import OBJECTS  # noqa: E402
from ingestion_pipelines.sources.crm.hubspot.api_sync import HubspotResource, SyncOptions, sync_object  # noqa: E402
from ingestion_pipelines.sources.crm.hubspot.schema import TABLES, metadata  # noqa: E402
from ingestion_pipelines.standins.hubspot import DEFAULT_TOKEN, Limits, Portal, WebhookEmitter, serve, to_ms  # noqa: E402

SECRET = "bench-webhook-secret"


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))] if xs else 0.0


def start_receiver(url: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "WAREHOUSE_URL": url, "HUBSPOT_WEBHOOK_SECRET": SECRET}
    proc = subprocess.Popen([sys.executable, "-m", "ingestion_pipelines.cli", "webhooks", "serve", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(600):
        try:
            if requests.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except requests.ConnectionError:
            time.sleep(0.1)
    raise SystemExit("the receiver did not start")


class Burst:
    """The event producer: real changes in the stand-in, batches with duplicates and reordering."""

    def __init__(self, portal: Portal, em: WebhookEmitter, a: argparse.Namespace):
        self.portal, self.em, self.a = portal, em, a
        self.rng = random.Random(7)
        self.pool = sorted(portal.live["contacts"])
        self.later: list[dict] = []  # held back or duplicated, sent with the next batch
        self.sent_ids: set[int] = set()
        self.deleted: set[int] = set()
        self.merged: dict[int, int] = {}

    def _one(self) -> dict:
        r, p, em = self.rng.random(), self.portal, self.em
        if r < self.a.deletes and len(self.pool) > 10:
            oid = self.pool.pop(self.rng.randrange(len(self.pool)))
            p.archive("contacts", [oid])
            self.deleted.add(oid)
            return em.event("contact.deletion", oid, p.now_ms())
        if r < self.a.deletes + self.a.merges and len(self.pool) > 10:
            loser = self.pool.pop(self.rng.randrange(len(self.pool)))
            winner = self.rng.choice(self.pool)
            p.merge("contacts", winner, loser)
            self.merged[loser] = winner
            return em.event("contact.merge", winner, p.now_ms(), primaryObjectId=winner, mergedObjectIds=[loser])
        oid = self.rng.choice(self.pool)
        t = p.touch("contacts", [oid])
        return em.event("contact.propertyChange", oid, t, propertyName="lifecyclestage",
                        propertyValue=p.live["contacts"][oid].properties["lifecyclestage"])

    def batch(self, n: int) -> list[dict]:
        out, self.later = self.later[:100 - n], self.later[100 - n:]
        for _ in range(n):
            e = self._one()
            self.sent_ids.add(e["eventId"])
            if self.rng.random() < self.a.dupes:
                self.later.append(dict(e))
            (self.later if self.rng.random() < 0.1 else out).append(e)
        self.rng.shuffle(out)
        return out


def send_burst(burst: Burst, a: argparse.Namespace) -> tuple[list[float], int]:
    """Send ``a.events`` events at ``a.rate``/s; returns (answer times in ms, non-200 answers)."""
    q: queue.Queue = queue.Queue(maxsize=64)
    times: list[float] = []
    bad = [0]
    lock = threading.Lock()

    def sender() -> None:
        with requests.Session() as http:
            while (events := q.get()) is not None:
                body = json.dumps(events).encode()
                t0 = time.perf_counter()
                r = http.post(burst.em.url, data=body, headers=burst.em.headers(body), timeout=10)
                with lock:
                    times.append((time.perf_counter() - t0) * 1000)
                    bad[0] += r.status_code != 200

    threads = [threading.Thread(target=sender, daemon=True) for _ in range(a.senders)]
    for t in threads:
        t.start()
    t0, made = time.monotonic(), 0
    while made < a.events:
        n = min(a.batch, a.events - made)
        with burst.portal.lock:
            q.put(burst.batch(n))
        made += n
        wait = t0 + made / a.rate - time.monotonic()
        if wait > 0:
            time.sleep(wait)
    if burst.later:
        q.put(burst.later)
    for _ in threads:
        q.put(None)
    for t in threads:
        t.join()
    return times, bad[0]


def ticker(defs, inst, wh, stop: threading.Event, every: float, runs: list[dict]) -> None:
    """Sensor ticks every ``every`` seconds until ``stop``; then until nothing waits."""
    from dagster import build_sensor_context

    job = defs.resolve_job_def(wd.JOB)
    cursor = None
    while True:
        t0 = time.monotonic()
        out = wd.hubspot_webhooks_sensor(build_sensor_context(instance=inst, resources={"warehouse": wh},
                                                              cursor=cursor, definitions=defs))
        cursor = out.cursor
        for req in out.run_requests:
            r0 = time.monotonic()
            res = job.execute_in_process(run_config=req.run_config, instance=inst)
            mat = [e.event_specific_data.materialization for e in res.all_events if e.event_type_value == "ASSET_MATERIALIZATION"]
            md = {k: v.value for k, v in mat[0].metadata.items()} if mat else {}
            runs.append({"events": md.get("covered"), "applied": md.get("applied"), "failed": md.get("failed"),
                         "requests": md.get("requests"), "seconds": round(time.monotonic() - r0, 2)})
        if stop.is_set() and not out.run_requests:
            return
        time.sleep(max(0.0, every - (time.monotonic() - t0)) if not stop.is_set() else 0.5)


def check(wh: WarehouseResource, portal: Portal, burst: Burst) -> dict:
    t = TABLES["contacts"]
    with wh.engine.connect() as c:
        live = dict(c.execute(sa.select(t.c.id, t.c.lastmodifieddate).where(t.c._deleted_at.is_(None))).all())
        gone = dict(c.execute(sa.select(t.c.id, t.c.merged_into).where(t.c._deleted_at.is_not(None))).all())
        e = ev.webhook_events.c
        stored = c.execute(sa.select(sa.func.count(), sa.func.count(sa.distinct(e.event_id)))).one()
        statuses = ev.counts(c)
        lags = c.execute(sa.select(sa.extract("epoch", e.received_at - e.occurred_at),
                                   sa.extract("epoch", e.applied_at - e.occurred_at))).all()
    want = {rid: rec.properties["lastmodifieddate"] for rid, rec in portal.live["contacts"].items()}
    stale = sorted(i for i in set(want) & set(live) if round(live[i].timestamp() * 1000) != to_ms(want[i]))
    return {"stored_rows": stored[0], "distinct_stored": stored[1], "distinct_sent": len(burst.sent_ids),
            "statuses": statuses, "warehouse_equals_standin": set(live) == set(want) and not stale,
            "live_missing": len(set(want) - set(live)), "live_extra": len(set(live) - set(want)), "stale": len(stale),
            "deleted_marked": burst.deleted <= set(gone),
            "merged_marked": all(gone.get(lo) == w for lo, w in burst.merged.items()),
            "stored_lag_s": [round(pct([float(x[0]) for x in lags], p), 3) for p in (0.5, 0.99, 1.0)],
            "landed_lag_s": [round(pct([float(x[1]) for x in lags if x[1] is not None], p), 3) for p in (0.5, 0.99, 1.0)]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=10_000)
    ap.add_argument("--rate", type=float, default=500.0, help="events per second")
    ap.add_argument("--batch", type=int, default=50, help="events per request (<= 100)")
    ap.add_argument("--senders", type=int, default=4, help="concurrent requests (HubSpot: up to 10)")
    ap.add_argument("--dupes", type=float, default=0.05)
    ap.add_argument("--deletes", type=float, default=0.01)
    ap.add_argument("--merges", type=float, default=0.005)
    ap.add_argument("--contacts", type=int, default=3000)
    ap.add_argument("--tick-seconds", type=float, default=15.0)
    a = ap.parse_args()
    from dagster import DagsterInstance, Definitions

    pg = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    schema = f"bench_wh_{uuid.uuid4().hex[:8]}"
    wh = WarehouseResource(url=pg, schema_name=schema)
    wh.setup(metadata, ev.metadata)
    portal = Portal.seeded(5, contacts=a.contacts, companies=1, deals=1, appointments=1, limits=Limits())
    load = os.getloadavg()
    with serve(portal) as server:
        res = HubspotResource(base_url=server.url, access_token=DEFAULT_TOKEN, portal=f"bench-{uuid.uuid4().hex[:6]}")
        sync_object(wh.engine, res, res.client(), OBJECTS["contacts"], SyncOptions(run_id="bench-initial"))
        port = free_port()
        proc = start_receiver(f"{pg}?options=-csearch_path%3D{schema}", port)
        defs = Definitions(assets=[wd.webhook_events], jobs=[wd.hubspot_webhooks_job],
                           sensors=[wd.hubspot_webhooks_sensor], resources={"warehouse": wh, "hubspot": res})
        burst = Burst(portal, WebhookEmitter(f"http://127.0.0.1:{port}/webhooks/hubspot", SECRET), a)
        runs: list[dict] = []
        stop = threading.Event()
        with DagsterInstance.ephemeral() as inst:
            tick = threading.Thread(target=ticker, args=(defs, inst, wh, stop, a.tick_seconds, runs))
            t0 = time.monotonic()
            tick.start()
            times, bad = send_burst(burst, a)
            burst_s = time.monotonic() - t0
            stop.set()
            tick.join()
            total_s = time.monotonic() - t0
        proc.terminate()
        proc.wait(10)
        result = check(wh, portal, burst)
    with sa.create_engine(wh.url.replace("postgresql://", "postgresql+psycopg2://", 1)).begin() as c:
        c.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    print(json.dumps({"args": vars(a), "loadavg_before": [round(x, 2) for x in load],
                      "loadavg_after": [round(x, 2) for x in os.getloadavg()], "requests": len(times), "non_200": bad,
                      "answer_ms_p50_p99_max": [round(statistics.median(times), 1), round(pct(times, 0.99), 1),
                                                round(max(times), 1)],
                      "burst_s": round(burst_s, 1), "events_per_s_sent": round(a.events / burst_s, 1),
                      "until_all_landed_s": round(total_s, 1), "runs": runs, **result}, indent=1))


if __name__ == "__main__":
    main()
