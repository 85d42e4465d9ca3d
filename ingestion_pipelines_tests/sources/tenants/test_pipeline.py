"""gen-dataset -> land (local folder and moto S3) -> landing sensor -> per-tenant partition runs
-> rows in the real PostgreSQL; re-ingest loads 0; every injected defect reported."""

import hashlib

import orjson
import pytest
import sqlalchemy as sa
from dagster import DagsterInstance, build_sensor_context, materialize

from ingestion_pipelines.engine.ledger import ingest_files
from ingestion_pipelines.sources.tenants import schema
from ingestion_pipelines.sources.tenants.assets import entity_assets
from ingestion_pipelines.sources.tenants.assets import tenants as tenants_asset
from ingestion_pipelines.sources.tenants.generator import generate
from ingestion_pipelines.sources.tenants.records import ENTITIES
from ingestion_pipelines.sources.tenants.sensors import tenants_landing_sensor
from ingestion_pipelines.sources.tenants.upload import plan_uploads, upload


def _failed_lines(store, uri: str) -> list[dict]:
    key = store.key_from_uri(uri)
    return [orjson.loads(ln) for ln in store.get_bytes(key).splitlines()]


def _run_tick(instance, store, cursor=None):
    ctx = build_sensor_context(instance=instance, cursor=cursor, resources={"blob_store": store})
    return tenants_landing_sensor(ctx)


def _materialize_tenant(instance, warehouse, store, tid, run_config=None):
    """The tenant's run, with ``run_config`` (a sensor run request's: then tagged as the
    daemon tags a sensor's runs) and small batches."""
    ops = {f"tenants__{e}": {"config": {"batch_size": 300}} for e in ENTITIES}
    for op, cfg in ((run_config or {}).get("ops") or {}).items():
        ops[op]["config"].update(cfg["config"])
    return materialize(entity_assets, partition_key=tid, instance=instance,
                       resources={"warehouse": warehouse, "blob_store": store}, run_config={"ops": ops},
                       tags={"dagster/sensor_name": "tenants_landing_sensor"} if run_config else None)


@pytest.fixture(params=["local", "s3"])
def store(request):
    return request.getfixturevalue("local_store" if request.param == "local" else "s3_store")


def test_end_to_end_with_defects(tmp_path, pg_warehouse, store):
    data = tmp_path / "gen"
    summary = generate(data, tenants=2, products_per_tenant=80, orders_per_tenant=300, chunk_size=200,
                       seed=11, defects=0.02)
    manifest = summary.defects
    assert manifest
    upload(store, plan_uploads(data), concurrency=4)

    with DagsterInstance.ephemeral() as instance:
        # the sensor registers both tenants and asks one run each, plus the tenants.csv load
        res = _run_tick(instance, store)
        new = [t for r in res.dynamic_partitions_requests for t in r.partition_keys]
        assert sorted(new) == sorted(summary.tenants)
        by_job = {}
        for rr in res.run_requests:
            by_job.setdefault(rr.job_name, []).append(rr)
        assert sorted(r.partition_key for r in by_job["tenants_files_job"]) == sorted(summary.tenants)
        assert len(by_job["tenants_load_job"]) == 1
        assert all(r.run_key and r.tags.get("dagster/partition") is None for r in by_job["tenants_files_job"])
        # a second tick over the same landing area asks nothing more
        res2 = _run_tick(instance, store, res.cursor)
        assert not res2.run_requests and not res2.dynamic_partitions_requests

        # tenants.csv through the tenants asset (also registers partitions, idempotently)
        r = materialize([tenants_asset], instance=instance, resources={"warehouse": pg_warehouse, "blob_store": store})
        assert r.success
        md = r.asset_materializations_for_node("tenants__tenants")[0].metadata
        assert md["inserted"].value == 2
        assert sorted(instance.get_dynamic_partitions("tenants")) == sorted(summary.tenants)

        failed_seen = set()
        files_runs = {r.partition_key: r for r in by_job["tenants_files_job"]}
        for tid in summary.tenants:
            # as the sensor asked: locally its run config hands over the files' sha256
            result = _materialize_tenant(instance, pg_warehouse, store, tid, files_runs[tid].run_config)
            assert result.success
            for ev in result.get_asset_check_evaluations():
                assert ev.passed, (ev.check_name, ev.metadata)
            assert len(result.get_asset_check_evaluations()) == 6 * 4 + 4
            for e in ENTITIES:
                md = {k: v.value for k, v in result.asset_materializations_for_node(f"tenants__{e}")[0].metadata.items()}
                assert md["inserted"] == summary.good[tid][e], e
                assert md["dagster/row_count"] == summary.good[tid][e]
                if md["failed"]:
                    for rec in _failed_lines(store, md["failed_rows_file"]):
                        failed_seen.add((rec["file"].rsplit("/", 1)[1], rec["line"]))
                        assert rec["error"] and rec["raw"]
        # every injected defect is reported, and nothing else failed
        assert failed_seen == {(d["file"], d["line"]) for d in manifest}

        eng = pg_warehouse.engine
        with eng.connect() as c:
            for e in ENTITIES:
                n = c.execute(sa.select(sa.func.count()).select_from(schema.ENTITY_TABLES[e])).scalar()
                assert n == sum(summary.good[t][e] for t in summary.tenants)
            # typed values landed
            row = c.execute(sa.select(schema.orders).limit(1)).mappings().one()
            assert row["ordered_at"].tzinfo is not None and row["total"] > 0
            assert c.execute(sa.select(sa.func.count()).select_from(ingest_files)
                             .where(ingest_files.c.status == "succeeded")).scalar() == len(summary.files)  # tenants.csv too
            # the ledger holds each file's real sha256 (handed over by the sensor locally, hashed while
            # loading from S3)
            for uri, sha in c.execute(sa.select(ingest_files.c.uri, ingest_files.c.sha256)):
                assert sha == hashlib.sha256(store.get_bytes(store.key_from_uri(uri))).hexdigest(), uri

        # re-ingesting the same dataset loads 0 rows (the ledger skips every file)
        tid = summary.tenants[0]
        again = _materialize_tenant(instance, pg_warehouse, store, tid)
        for e in ENTITIES:
            md = again.asset_materializations_for_node(f"tenants__{e}")[0].metadata
            assert md["inserted"].value == md["updated"].value == md["failed"].value == 0
            assert md["files_loaded"].value == 0 and md["files_skipped"].value >= 1

        # a changed file re-loads with upsert semantics: 1 updated, the rest unchanged
        key = f"tenants/{tid}/products_{tid}_chunk_0000.ndjson"
        lines = store.get_bytes(key).splitlines()
        first_good = next(i for i, ln in enumerate(lines) if b'"sku"' in ln and ln.endswith(b"}") and b"-d" not in ln)
        rec = orjson.loads(lines[first_good])
        rec["name"] = "Renamed Product"
        lines[first_good] = orjson.dumps(rec)
        store.put_bytes(key, b"\n".join(lines) + b"\n")
        res3 = _run_tick(instance, store, res2.cursor)
        assert [r.partition_key for r in res3.run_requests] == [tid]
        assert res3.run_requests[0].run_key not in {r.run_key for r in by_job["tenants_files_job"]}
        changed = _materialize_tenant(instance, pg_warehouse, store, tid)
        md = {k: v.value for k, v in changed.asset_materializations_for_node("tenants__products")[0].metadata.items()}
        assert md["updated"] == 1 and md["inserted"] == 0 and md["unchanged"] == summary.good[tid]["products"] - 1
        with eng.connect() as c:
            assert c.execute(sa.select(schema.products.c.name).where(
                schema.products.c.tenant_id == tid, schema.products.c.product_id == rec["product_id"])).scalar() == "Renamed Product"


def test_sqlite_warehouse_and_foreign_tenant_rows(tmp_path, sqlite_warehouse, local_store):
    """The generic (non-PostgreSQL) path loads the same way; a record carrying another
    tenant's id is refused."""
    data = tmp_path / "gen"
    summary = generate(data, tenants=1, products_per_tenant=30, orders_per_tenant=60, seed=5, defects=0.03)
    upload(local_store, plan_uploads(data))
    tid = summary.tenants[0]
    key = f"tenants/{tid}/customers_{tid}.ndjson"
    extra = orjson.dumps({"tenant_id": "other-tenant", "customer_id": "cus_x", "email": "a@b.co", "first_name": "A",
                          "last_name": "B", "created_at": "2024-01-01T00:00:00+00:00"})
    local_store.put_bytes(key, local_store.get_bytes(key) + extra + b"\n")
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("tenants", [tid])
        r = _materialize_tenant(instance, sqlite_warehouse, local_store, tid)
        assert r.success
        assert all(ev.passed for ev in r.get_asset_check_evaluations())
        failed = set()
        for e in ENTITIES:
            md = r.asset_materializations_for_node(f"tenants__{e}")[0].metadata
            assert md["inserted"].value == summary.good[tid][e]
            if md["failed"].value:
                failed |= {(x["file"].rsplit("/", 1)[1], x["line"], x["error"][:9])
                           for x in _failed_lines(local_store, md["failed_rows_file"].value)}
    expected = {(d["file"], d["line"]) for d in summary.defects}
    assert {(f, ln) for f, ln, _ in failed} - expected == {(f"customers_{tid}.ndjson", summary.good[tid]["customers"]
                                                          + sum(1 for d in summary.defects if d["entity"] == "customers") + 1)}
    assert expected <= {(f, ln) for f, ln, _ in failed}
    assert any(err.startswith("tenant_id") for _, _, err in failed)


def test_tenants_csv_bad_rows_register_no_partition(sqlite_warehouse, local_store):
    local_store.put_bytes("tenants/tenants.csv", (
        "tenant_id,name,domain,currency,country,created_at,api_key\n"
        "acme-1,Acme Corp Inc,acme.example.com,USD,US,2024-01-01T00:00:00+00:00,api_key_acme-1\n"
        "bad id!,Broken,,,,,\n"
        "nameless,,,,,,\n"
        "late,Late Ltd,,EUR,DE,2024-01-01 10:00,\n"
        "acme-2,Beta LLC,,GBP,GB,,\n").encode())
    with DagsterInstance.ephemeral() as instance:
        r = materialize([tenants_asset], instance=instance, resources={"warehouse": sqlite_warehouse, "blob_store": local_store})
        assert r.success
        md = {k: v.value for k, v in r.asset_materializations_for_node("tenants__tenants")[0].metadata.items()}
        # "late" has a created_at without a time zone: an optional cell, so a warning (DESIGN.md §9)
        assert (md["created"], md["failed"], md["warnings"]) == (3, 2, 1)
        assert sorted(instance.get_dynamic_partitions("tenants")) == ["acme-1", "acme-2", "late"]
        from ingestion_pipelines.engine.result_files import read_back

        warned = read_back(local_store.get_bytes(local_store.key_from_uri(md["warnings_file"])), "csv")
        assert warned[1] == ["5", "created_at", "2024-01-01 10:00", "timestamp without a time zone"]

        failed_rows = read_back(local_store.get_bytes(local_store.key_from_uri(md["failed_rows_file"])), "csv")
        assert failed_rows[0][-1] == "import_error"
        errors = [r[-1] for r in failed_rows[1:]]
        assert any("tenant_id" in e for e in errors) and any("name" in e for e in errors)
        # the api_key column is not stored
        assert "api_key" not in schema.tenants.c
        r2 = materialize([tenants_asset], instance=instance, resources={"warehouse": sqlite_warehouse, "blob_store": local_store})
        md2 = {k: v.value for k, v in r2.asset_materializations_for_node("tenants__tenants")[0].metadata.items()}
        assert (md2["created"], md2["unchanged"], md2["new_partitions"]) == (0, 3, 0)


def test_sensor_hands_over_sha256_unless_the_file_changed(tmp_path, pg_warehouse, local_store):
    """From a local store the sensor's run config carries each file's sha256 with its etag
    (size + modification time): the run records that hash without reading the file to hash
    it. A file changed after the tick (new etag), or a value that is not a sha256, is hashed
    as it loads instead — the ledger always holds the content that loaded."""
    data = tmp_path / "gen"
    summary = generate(data, tenants=1, products_per_tenant=40, orders_per_tenant=120, seed=3, defects=0.0)
    upload(local_store, plan_uploads(data))
    tid = summary.tenants[0]
    with DagsterInstance.ephemeral() as instance:
        res = _run_tick(instance, local_store)
        instance.add_dynamic_partitions("tenants", [tid])
        rr = next(r for r in res.run_requests if r.job_name == "tenants_files_job")
        cfg = rr.run_config["ops"]
        products_key = f"tenants/{tid}/products_{tid}_chunk_0000.ndjson"
        customers_key = f"tenants/{tid}/customers_{tid}.ndjson"
        assert set(cfg) == {f"tenants__{e}" for e in ENTITIES}
        sha, _etag = cfg["tenants__products"]["config"]["landed_sha256"][products_key].split("@")
        assert sha == hashlib.sha256(local_store.get_bytes(products_key)).hexdigest()
        # after the tick: one file gains a record (its etag changes), another's hash is garbled
        rec = orjson.loads(local_store.get_bytes(products_key).splitlines()[0])
        rec["product_id"], rec["sku"] = "prd_late", "SKU-LATE"
        local_store.put_bytes(products_key, local_store.get_bytes(products_key) + orjson.dumps(rec) + b"\n")
        cfg["tenants__customers"]["config"]["landed_sha256"][customers_key] = "not-a-sha@" + \
            cfg["tenants__customers"]["config"]["landed_sha256"][customers_key].split("@")[1]
        r = _materialize_tenant(instance, pg_warehouse, local_store, tid, rr.run_config)
        assert r.success and all(ev.passed for ev in r.get_asset_check_evaluations())
        md = r.asset_materializations_for_node("tenants__products")[0].metadata
        assert md["inserted"].value == summary.good[tid]["products"] + 1
        with pg_warehouse.engine.connect() as c:
            ledger = dict(c.execute(sa.select(ingest_files.c.uri, ingest_files.c.sha256)
                                    .where(ingest_files.c.tenant_id == tid)).all())
        assert len(ledger) == len(summary.files) - 1  # every file but tenants.csv
        for uri, got in ledger.items():
            assert got == hashlib.sha256(local_store.get_bytes(local_store.key_from_uri(uri))).hexdigest(), uri


def test_landed_sha256_is_ignored_outside_sensor_runs(tmp_path, pg_warehouse, local_store):
    """A run launched by hand with ``landed_sha256`` in its config hashes its files itself:
    a wrong hash cannot reach the ledger."""
    data = tmp_path / "gen"
    summary = generate(data, tenants=1, products_per_tenant=20, orders_per_tenant=40, seed=4, defects=0.0)
    upload(local_store, plan_uploads(data))
    tid = summary.tenants[0]
    key = f"tenants/{tid}/products_{tid}_chunk_0000.ndjson"
    etag = next(o.etag for o in local_store.list(f"tenants/{tid}/") if o.key == key)
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("tenants", [tid])
        r = materialize(entity_assets, partition_key=tid, instance=instance,
                        resources={"warehouse": pg_warehouse, "blob_store": local_store},
                        run_config={"ops": {"tenants__products": {"config": {"landed_sha256": {key: "0" * 64 + "@" + etag}}}}})
        assert r.success
    with pg_warehouse.engine.connect() as c:
        got = c.execute(sa.select(ingest_files.c.sha256).where(ingest_files.c.uri.like(f"%/{key}"))).scalar_one()
    assert got == hashlib.sha256(local_store.get_bytes(key)).hexdigest()
