"""How long one landing-sensor tick takes over 10,000 landed objects (issue 3: under 10 s).

    .venv/bin/python benchmarks/tenants_sensor_tick.py [--objects 10000] [--s3]

Lands ``--objects`` small NDJSON files for 100 tenants in a fresh local store (or, with
``--s3``, in a bucket on an in-process moto server), then times ticks of ``plan_tick`` (the
sensor's whole decision: listing page, content tokens, run keys) until the listing completes.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--objects", type=int, default=10_000)
    ap.add_argument("--s3", action="store_true")
    args = ap.parse_args()
    from ingestion_pipelines.sources.tenants.sensors import plan_tick

    if args.s3:
        import os

        import boto3
        from moto.server import ThreadedMotoServer

        from ingestion_pipelines.resources.storage import S3BlobStore

        server = ThreadedMotoServer(ip_address="127.0.0.1", port=5077, verbose=False)
        server.start()
        os.environ.update({"AWS_ENDPOINT_URL": "http://127.0.0.1:5077", "AWS_ACCESS_KEY_ID": "x",
                           "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1"})
        bucket = f"b-{uuid.uuid4().hex[:8]}"
        boto3.client("s3", endpoint_url="http://127.0.0.1:5077", region_name="us-east-1").create_bucket(Bucket=bucket)
        store = S3BlobStore(bucket=bucket, prefix="landing")
    else:
        from ingestion_pipelines.resources.storage import LocalBlobStore

        store = LocalBlobStore(root=tempfile.mkdtemp(prefix="tick-"))
    tenants = [str(uuid.UUID(int=i + 1, version=4)) for i in range(100)]
    line = b'{"tenant_id":"x","order_id":"o","customer_id":"c"}\n' * 20

    def put(i: int) -> None:
        tid = tenants[i % len(tenants)]
        store.put_bytes(f"tenants/{tid}/orders_{tid}_chunk_{i:04d}.ndjson", line)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, range(args.objects)))
    print(f"landed {args.objects:,} objects in {time.perf_counter() - t0:.1f}s")
    cursor, ticks = None, []
    while True:
        t0 = time.perf_counter()
        new, keys, _, cursor, _ = plan_tick(store, cursor, known=set())
        ticks.append(time.perf_counter() - t0)
        print(f"tick {len(ticks)}: {len(keys)} tenant run(s), {ticks[-1]:.2f}s")
        if '"start_after"' not in cursor:
            break
    print(f"{'s3 (moto)' if args.s3 else 'local'}: {args.objects:,} objects in {len(ticks)} tick(s), "
          f"slowest tick {max(ticks):.2f}s, total {sum(ticks):.2f}s")


if __name__ == "__main__":
    main()
