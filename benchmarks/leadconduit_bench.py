"""LeadConduit API sync, measured: the stand-in (a real local HTTP server on a thread) with
``--leads`` generated leads (about 2.4 events each), synced into PostgreSQL (``--url``; a
fresh schema, dropped afterwards) with the production page size (1,000 events): the full
events read, the leads derived from them, then an incremental read after ``--new`` more
leads and retries. Prints events/s, leads/s, requests and the process's peak RSS.

    python benchmarks/leadconduit_bench.py --leads 20000 [--url postgresql://postgres@127.0.0.1:5432/test]

The stand-in runs in the same process and answers each page by scanning its list, so the
numbers are a floor for our side under a shared CPU, not the real API's pace (its limits are
not documented; the budget defaults to 100 requests per minute = 100,000 events per minute).
"""

from __future__ import annotations

import argparse
import resource
import time
import uuid

from ingestion_pipelines.engine.api.streams import SyncOptions
from ingestion_pipelines.resources.warehouse import WarehouseResource
from ingestion_pipelines.sources.crm.leadconduit.api_streams import EVENTS, LEADS_STREAM
from ingestion_pipelines.sources.crm.leadconduit.api_sync import LeadConduitResource, run
from ingestion_pipelines.sources.crm.leadconduit.schema import METADATAS
from ingestion_pipelines.standins.leadconduit import Account, serve


def _timed(label: str, fn):
    t0 = time.perf_counter()
    r = fn()
    secs = time.perf_counter() - t0
    c = r.sync.counts
    print(f"{label:<22} {r.status:<9} read={c['rows_read']:>7} ins={c['inserted']:>7} upd={c['updated']:>6} "
          f"{secs:7.2f} s  {c['rows_read'] / secs:8.0f}/s  requests={r.details.get('requests', 0)}")
    return r


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--leads", type=int, default=20000)
    ap.add_argument("--new", type=int, default=500)
    ap.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/test")
    a = ap.parse_args()
    account = Account.seeded(1, leads=a.leads, retries=a.leads // 20)
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    wh = WarehouseResource(url=a.url, schema_name=schema)
    wh.setup(*METADATAS)
    try:
        with serve(account) as server:
            res = LeadConduitResource(base_url=server.url, api_key=account.api_key, account=schema,
                                      requests_per_interval=10_000, interval_seconds=1.0)
            client = res.client()

            def go(stream, **kw):
                return lambda: run(wh.engine, client, "leadconduit", stream, SyncOptions(run_id=schema, **kw))
            print(f"{len(account.events)} events, {a.leads} leads")
            _timed("events full", go(EVENTS))
            _timed("leads derived", go(LEADS_STREAM))
            account.submit_many(a.new)
            for lid in account.lead_ids()[: a.new // 5]:
                account.retry(lid)
            _timed("events incremental", go(EVENTS))
            _timed("leads incremental", go(LEADS_STREAM))
            _timed("leads --full rebuild", go(LEADS_STREAM, full=True))
    finally:
        with wh.engine.begin() as c:
            c.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
