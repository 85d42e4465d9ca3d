"""The landing sensor's listing paged across ticks (moto S3 and local), and run keys that
follow content, not names or times."""

import pytest

from ingestion_pipelines.sources.tenants.generator import generate
from ingestion_pipelines.sources.tenants.sensors import plan_tick
from ingestion_pipelines.sources.tenants.upload import plan_uploads, upload


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_paged_ticks_cover_every_tenant_once(tmp_path, request, kind):
    store = request.getfixturevalue("local_store" if kind == "local" else "s3_store")
    summary = generate(tmp_path / "gen", tenants=3, products_per_tenant=5, orders_per_tenant=20, chunk_size=5, seed=2)
    plan = plan_uploads(tmp_path / "gen")
    upload(store, plan)
    store.put_bytes("tenants/README.txt", b"not data")  # ignored
    store.put_bytes(f"tenants/{summary.tenants[0]}/notes.ndjson", b"{}")  # not a data file name: ignored
    cursor, ticks, requested, tenants_new = None, 0, {}, set()
    while True:
        ticks += 1
        new, keys, csv_token, cursor, _ = plan_tick(store, cursor, known=tenants_new, page_size=7)
        tenants_new |= set(new)
        for tid, rk in keys.items():
            requested.setdefault(tid, []).append(rk)
        if csv_token:
            requested.setdefault("csv", []).append(csv_token)
        if '"start_after"' not in cursor:
            break
    assert ticks == -(-(len(plan) + 2) // 7)  # every object listed once, 7 per tick
    assert tenants_new == set(summary.tenants)
    assert set(requested) == set(summary.tenants) | {"csv"}
    # nothing new: nothing requested
    new, keys, csv_token, cursor2, _ = plan_tick(store, cursor, known=tenants_new)
    assert (new, keys, csv_token) == ([], {}, None)
    # run keys follow content, not names or times: the same content re-uploaded gets the same
    # run key (so Dagster skips it), changed content a new one
    tid = summary.tenants[1]
    one = [p for p in plan if p.tenant_id == tid]
    keys_before = plan_tick(store, None, known=tenants_new, page_size=10_000).run_keys
    upload(store, one)
    keys_again = plan_tick(store, None, known=tenants_new, page_size=10_000).run_keys
    assert keys_again[tid] == keys_before[tid]
    # a file landed right after a tick (same second as the watermark; S3 times have 1 s
    # resolution) is still picked up by the next tick, and only once
    extra = f"tenants/{tid}/stock_events_{tid}_chunk_9999.ndjson"
    store.put_bytes(extra, b"{}\n")
    _, keys_new, _, cursor3, _ = plan_tick(store, cursor2, known=tenants_new)
    assert tid in keys_new
    assert plan_tick(store, cursor3, known=tenants_new)[1] == {}
    key = one[0].key
    store.put_bytes(key, store.get_bytes(key) + b"\n")
    keys_changed = plan_tick(store, None, known=tenants_new, page_size=10_000).run_keys
    assert keys_changed[tid] not in (keys_before[tid], keys_new[tid])
