"""HubSpot sync against the stand-in enforcing HubSpot's limit (DESIGN.md §8; issue 14 "Speed").

The sync must be bound by the API's limit, never by our code: against the stand-in enforcing
``--per-interval`` requests per 10 s (HubSpot's 100), a full sync of ``--contacts`` contacts
(100 per page) should reach >= 90 % of the ceiling (``per_interval / 10 * 100`` records/s),
cause no 429 of its own making beyond the first probe, and lose no record under injected
faults. Reported: seconds, records/s, % of the ceiling, requests per record, 429s seen by the
stand-in, retries, and the check that the warehouse equals the portal (ids and a checksum).

Also (``--incremental``): touch ``--touched`` contacts (one share in the same millisecond) and
run the incremental sync: search at 5 requests/s, 200 per page (ceiling 1,000 records/s),
windows split past the 10,000 cap.

    .venv/bin/python benchmarks/hubspot_bench.py --contacts 50000            # PostgreSQL (TEST_POSTGRES_URL)
    .venv/bin/python benchmarks/hubspot_bench.py --contacts 10000 --sqlite --faults --incremental
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("INGEST_STATE_DIR", tempfile.mkdtemp(prefix="hubspot_bench_"))

import sqlalchemy as sa  # noqa: E402

from ingestion_pipelines.resources.warehouse import WarehouseResource  # noqa: E402
from ingestion_pipelines.sources.crm.hubspot.api_streams import OBJECTS  # noqa: E402
from ingestion_pipelines.sources.crm.hubspot.api_sync import HubspotResource, SyncOptions, sync_object  # noqa: E402
from ingestion_pipelines.sources.crm.hubspot.schema import TABLES, metadata  # noqa: E402
from ingestion_pipelines.standins.hubspot import DEFAULT_TOKEN, Fault, Limits, Portal, serve  # noqa: E402


def checksum_portal(portal: Portal) -> tuple[int, str]:
    h = hashlib.sha256()
    for rid in sorted(portal.live["contacts"]):
        h.update(f"{rid}:{portal.live['contacts'][rid].properties.get('lastmodifieddate')}\n".encode())
    return len(portal.live["contacts"]), h.hexdigest()


def checksum_warehouse(wh: WarehouseResource) -> tuple[int, str]:
    t = TABLES["contacts"]
    h = hashlib.sha256()
    with wh.engine.connect() as c:
        rows = c.execute(sa.select(t.c.id, t.c.raw).where(t.c._deleted_at.is_(None)).order_by(t.c.id)).all()
    for rid, raw in rows:
        raw = raw if isinstance(raw, dict) else json.loads(raw)
        h.update(f"{rid}:{raw['properties'].get('lastmodifieddate')}\n".encode())
    return len(rows), h.hexdigest()


def run(label: str, wh, res, portal, ceiling: float, **opts) -> dict:
    client = res.client()
    t0 = time.monotonic()
    r = sync_object(wh.engine, res, client, OBJECTS["contacts"], SyncOptions(run_id=uuid.uuid4().hex, **opts))
    secs = time.monotonic() - t0
    n = r.sync.counts["rows_read"]
    got, want = checksum_warehouse(wh), checksum_portal(portal)
    out = {"run": label, "status": r.status, "records": n, "seconds": round(secs, 1),
           "records_per_s": round(n / secs, 1), "pct_of_ceiling": round(100 * n / secs / ceiling, 1),
           "requests": int(r.details["requests"]), "requests_per_record": round(r.details["requests"] / max(n, 1), 4),
           "429_seen": int(client.stats["429"]), "retries": int(client.stats["retries"]),
           "budget_wait_s": round(client.stats["budget_wait_s"], 1), "equal_to_portal": got == want,
           "updated": r.sync.counts["updated"], "windows": r.details.get("windows"),
           "window_splits": r.details.get("window_splits")}
    print(json.dumps(out), flush=True)
    return out


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wh_reset(wh: WarehouseResource) -> None:
    """Empty the contacts table and its sync state (the next run is a first full sync again)."""
    from ingestion_pipelines.engine.sync_state import sync_state

    with wh.engine.begin() as c:
        c.execute(TABLES["contacts"].delete())
        c.execute(sync_state.delete())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--contacts", type=int, default=50_000)
    ap.add_argument("--per-interval", type=int, default=100, help="requests per 10 s the stand-in enforces")
    ap.add_argument("--sqlite", action="store_true")
    ap.add_argument("--faults", action="store_true", help="also a full sync with 5xx/423/timeouts injected")
    ap.add_argument("--incremental", action="store_true")
    ap.add_argument("--touched", type=int, default=12_000)
    ap.add_argument("--same-process", action="store_true", help="only the in-process stand-in runs")
    a = ap.parse_args()

    schema = None
    if a.sqlite:
        wh = WarehouseResource(url=f"sqlite:///{tempfile.mkdtemp()}/bench.db")
    else:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        wh = WarehouseResource(url=os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
                               schema_name=schema)
    wh.setup(metadata)
    t = time.monotonic()
    portal = Portal.seeded(1, contacts=a.contacts, companies=0, deals=0, appointments=0,
                           limits=Limits(per_interval=a.per_interval, interval_ms=10_000))
    print(f"portal of {a.contacts:,} contacts generated in {time.monotonic() - t:.1f} s; "
          f"warehouse {wh.display_url()} {schema or ''}", flush=True)
    ceiling = a.per_interval / 10 * 100
    try:
        if not a.same_process:
            # the stand-in in its own process (HubSpot does not share our CPU time); it generates
            # the same portal from the same seed, so `portal` here is the expected content
            port = _free_port()
            proc = subprocess.Popen([sys.executable, "-m", "ingestion_pipelines.standins.hubspot", "--port", str(port),
                                     "--seed", "1", "--contacts", str(a.contacts), "--companies", "0", "--deals", "0",
                                     "--appointments", "0", "--per-interval", str(a.per_interval)],
                                    stdout=subprocess.PIPE, text=True)
            try:
                proc.stdout.readline()
                url = f"http://127.0.0.1:{port}"
                res = HubspotResource(base_url=url, access_token=DEFAULT_TOKEN, portal=f"bench{uuid.uuid4().hex[:6]}",
                                      requests_per_interval=a.per_interval)
                run("full (stand-in in its own process)", wh, res, portal, ceiling, full=True)
            finally:
                proc.terminate()
                proc.wait(10)
            wh_reset(wh)
        with serve(portal) as server:
            res = HubspotResource(base_url=server.url, access_token=DEFAULT_TOKEN, portal=f"bench{uuid.uuid4().hex[:6]}",
                                  requests_per_interval=a.per_interval)
            run("full", wh, res, portal, ceiling, full=True)
            if a.faults:
                every = max(a.contacts // 100 // 12, 2)
                portal.inject(*[Fault(st, skip=every, delay_s=31.0 if st == 0 else 0.0)
                                for st in (502, 503, 0, 423, 524, 500, 504, 0)])
                res_f = res.model_copy(update={"timeout_seconds": 5.0})
                run("full + 8 faults", wh, res_f, portal, ceiling, full=True)
            if a.incremental:
                ids = sorted(portal.live["contacts"])[: a.touched]
                portal.touch("contacts", ids[: a.touched // 4], same_ms=True)
                portal.touch("contacts", ids[a.touched // 4:])
                run(f"incremental ({a.touched:,} touched)", wh, res, portal, 5 * 200)
    finally:
        if schema:
            with wh.engine.begin() as c:
                c.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


if __name__ == "__main__":
    main()
