"""Regressions from the code review: tenant ids with '_' in file names, repeated keys within a
batch, one bad file among good ones, tenants.csv through engine.readers (real SQLite and
PostgreSQL, local BlobStore)."""

import orjson
import sqlalchemy as sa

from ingestion_pipelines.sources.tenants import schema
from ingestion_pipelines.sources.tenants.loading import FailedRecords, landed_files, load_entity
from ingestion_pipelines.sources.tenants.records import entity_of
from ingestion_pipelines.sources.tenants.sensors import plan_tick
from ingestion_pipelines.sources.tenants.upload import plan_uploads


def _product(tid, pid, name="N", **kw):
    rec = {"tenant_id": tid, "product_id": pid, "sku": f"S{pid}", "name": name, "price": "1.50", "currency": "USD",
           "stock": 1, "active": True, "created_at": "2024-01-01T00:00:00+00:00"}
    rec.update(kw)
    return orjson.dumps(rec)


def _count(conn, entity, tid):
    t = schema.ENTITY_TABLES[entity]
    return conn.execute(sa.select(sa.func.count()).select_from(t).where(t.c.tenant_id == tid)).scalar()


def test_tenant_id_with_underscore_is_seen_and_loaded(tmp_path, warehouse, local_store):
    """``products_acme_co.ndjson`` belongs to tenant ``acme_co``: the sensor, landed_files,
    plan_uploads and the load all see it (it used to be ignored, the partition loading 0 rows)."""
    tid = "acme_co"
    assert entity_of("products_acme_co.ndjson") == ("products", "acme_co")
    assert entity_of("order_items_acme_co_chunk_0002.ndjson.gz") == ("order_items", "acme_co")
    assert entity_of("orders_acme_co_chunk_0002.ndjson") == ("orders", "acme_co")
    # a tenant id that itself ends in _chunk_<digits> is read right when the tenant is known
    assert entity_of("products_x_chunk_1_chunk_0003.ndjson", "x_chunk_1") == ("products", "x_chunk_1")
    assert entity_of("products_acme_co.ndjson", "acme") is None
    (tmp_path / f"products_{tid}.ndjson").write_bytes(_product(tid, "p1") + b"\n" + _product(tid, "p2") + b"\n")
    (tmp_path / f"order_items_{tid}_chunk_0000.ndjson").write_bytes(b"")
    plan = plan_uploads(tmp_path)
    assert sorted((p.key, p.tenant_id) for p in plan) == [
        (f"tenants/{tid}/order_items_{tid}_chunk_0000.ndjson", tid), (f"tenants/{tid}/products_{tid}.ndjson", tid)]
    assert [p.tenant_id for p in plan_uploads(tmp_path, tid)] == [tid, tid]
    local_store.put_file(f"tenants/{tid}/products_{tid}.ndjson", tmp_path / f"products_{tid}.ndjson")
    assert [o.key for o in landed_files(local_store, tid, "products")] == [f"tenants/{tid}/products_{tid}.ndjson"]
    new_tenants, run_keys, _, _, _ = plan_tick(local_store, None, set())
    assert new_tenants == [tid] and list(run_keys) == [tid]
    warehouse.setup(schema.metadata)
    with warehouse.connect() as conn:
        res = load_entity(conn, local_store, tid, "products", run_id="r1")
        assert (res.total("inserted"), _count(conn, "products", tid)) == (2, 2)


def test_id_1_and_string_1_are_one_key(warehouse, local_store):
    """``"product_id": 1`` and ``"product_id": "1"`` are the same natural key: the second line
    is reported as a duplicate instead of reaching the database twice in one batch (which
    PostgreSQL refused with CardinalityViolation, failing the whole load)."""
    tid = "t-dupe"
    lines = [_product(tid, 1, "first"), _product(tid, "1", "second"), _product(tid, "2")]
    local_store.put_bytes(f"tenants/{tid}/products_{tid}.ndjson", b"\n".join(lines) + b"\n")
    warehouse.setup(schema.metadata)
    failed = FailedRecords()
    with warehouse.connect() as conn:
        res = load_entity(conn, local_store, tid, "products", run_id="r", failed=failed)
        names = dict(conn.execute(sa.select(schema.products.c.product_id, schema.products.c.name)
                                  .where(schema.products.c.tenant_id == tid)).all())
    assert (res.total("inserted"), res.total("failed")) == (2, 1)
    assert names == {"1": "first", "2": "N"}
    uri = failed.upload(local_store, "results/test/dupe.ndjson")
    (rec,) = [orjson.loads(x) for x in local_store.get_bytes(local_store.key_from_uri(uri)).splitlines()]
    assert rec["line"] == 2 and "duplicate id" in rec["error"]


dmd = sa.MetaData()
dupes = sa.Table("review_dupes", dmd, sa.Column("k", sa.Text, nullable=False), sa.Column("id", sa.Text, nullable=False),
                 sa.Column("n", sa.Integer), sa.Column("_ingested_at", sa.DateTime(timezone=True)),
                 sa.Column("_source", sa.Text), sa.Column("_run_id", sa.String(64)),
                 sa.UniqueConstraint("k", "id", name="uq_review_dupes_natural_key"))


def test_staged_upsert_repeated_key_in_one_batch(pg_warehouse, sqlite_warehouse):
    """A key repeated within one batch no longer aborts the load: the last line of the key
    wins, the earlier ones come back as skipped — on the direct COPY path, the plain insert
    and the upsert (PostgreSQL), and on the generic path (SQLite)."""
    from ingestion_pipelines.engine.staged import StagedUpsert

    for wh in (pg_warehouse, sqlite_warehouse):
        wh.setup(dmd)
        with wh.connect() as conn:
            up = StagedUpsert(conn, dupes, ["k", "id", "n"], audit={"_source": "test", "_run_id": "r"})

            def load(rows):
                if wh is pg_warehouse:
                    out = up.load_copy([(ln, f"a\t{i}\t{n}") for ln, i, n in rows])
                else:
                    out = up.load_values([(ln, ("a", i, n)) for ln, i, n in rows])
                conn.commit()
                return out

            r1 = load([(1, "x", 1), (2, "y", 2), (3, "x", 3), (4, "x", 4)])  # fresh table: direct COPY path
            assert (r1.inserted, r1.failed, [ln for ln, _ in r1.skipped]) == (2, [], [1, 3])
            r2 = load([(5, "z", 5), (6, "z", 6)])  # new keys only: plain insert / upsert path
            assert (r2.inserted, [ln for ln, _ in r2.skipped]) == (1, [5])
            r3 = load([(7, "y", 7), (8, "y", 8), (9, "x", 4)])  # existing keys: upsert
            assert (r3.inserted, r3.updated, r3.unchanged, [ln for ln, _ in r3.skipped]) == (0, 1, 1, [7])
            rows = dict(conn.execute(sa.select(dupes.c.id, dupes.c.n)).all())
            assert rows == {"x": 4, "y": 8, "z": 6}, wh


def test_truncated_gzip_fails_only_its_file(warehouse, local_store):
    """A gzip truncated mid-file is recorded as failed (with its error) in ingest_files and
    fails the ``all_files_loaded`` check; the entity's other files and the downstream
    entities still load, and the run succeeds."""
    import gzip

    from dagster import DagsterInstance, materialize

    from ingestion_pipelines.engine.ledger import ingest_files
    from ingestion_pipelines.sources.tenants.assets import entity_assets

    tid = "t-trunc"
    good0 = b"\n".join(_product(tid, f"a{i}") for i in range(5)) + b"\n"
    good2 = b"\n".join(_product(tid, f"c{i}") for i in range(4)) + b"\n"
    bad = gzip.compress(b"\n".join(_product(tid, f"b{i}", name=f"name {i * 7919 % 10007}") for i in range(3000)) + b"\n")
    local_store.put_bytes(f"tenants/{tid}/products_{tid}_chunk_0000.ndjson", good0)
    local_store.put_bytes(f"tenants/{tid}/products_{tid}_chunk_0001.ndjson.gz", bad[: len(bad) // 2])
    local_store.put_bytes(f"tenants/{tid}/products_{tid}_chunk_0002.ndjson", good2)
    prices = b"\n".join(orjson.dumps({"tenant_id": tid, "price_id": f"pr{i}", "product_id": f"a{i}", "price": "2.00",
                                      "currency": "USD", "effective_at": "2024-01-01T00:00:00+00:00"}) for i in range(3))
    local_store.put_bytes(f"tenants/{tid}/price_history_{tid}.ndjson", prices + b"\n")
    wanted = [a for a in entity_assets if a.key.path[-1] in ("products", "price_history")]
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("tenants", [tid])
        r = materialize(wanted, partition_key=tid, instance=instance,
                        resources={"warehouse": warehouse, "blob_store": local_store}, raise_on_error=False)
        assert r.success
        checks = {(ev.asset_key.path[-1], ev.check_name): ev.passed for ev in r.get_asset_check_evaluations()}
        assert checks.pop(("products", "all_files_loaded")) is False
        assert all(checks.values()), checks
        md = r.asset_materializations_for_node("tenants__products")[0].metadata
        assert (md["files_loaded"].value, md["files_failed"].value) == (2, 1)
        md = r.asset_materializations_for_node("tenants__price_history")[0].metadata
        assert md["inserted"].value == 3
    with warehouse.connect() as conn:
        ids = set(conn.execute(sa.select(schema.products.c.product_id).where(schema.products.c.tenant_id == tid)).scalars())
        assert {f"a{i}" for i in range(5)} | {f"c{i}" for i in range(4)} <= ids
        ledger = {u.rsplit("/", 1)[1]: (st, err) for u, st, err in conn.execute(
            sa.select(ingest_files.c.uri, ingest_files.c.status, ingest_files.c.error).where(ingest_files.c.tenant_id == tid))}
    st, err = ledger[f"products_{tid}_chunk_0001.ndjson.gz"]
    assert st == "failed" and "EOFError" in err, err
    assert ledger[f"products_{tid}_chunk_0002.ndjson"][0] == "succeeded"


def test_code_location_loads_without_deprecation_warnings_from_tenants():
    """Loading the code location (fresh interpreter, every warning shown) gives no
    DeprecationWarning from the tenants source; tenants_files_job is still partitioned by
    tenant (inferred from its assets)."""
    import subprocess
    import sys

    code = ("import warnings; warnings.simplefilter('always')\n"
            "with warnings.catch_warnings(record=True) as w:\n"
            "    warnings.simplefilter('always')\n"
            "    import ingestion_pipelines.definitions as d\n"
            "for x in w:\n"
            "    if issubclass(x.category, DeprecationWarning) and '/ingestion_pipelines/' in x.filename:\n"
            "        print('WARNING', x.filename, x.lineno, x.message)\n"
            "job = d.defs.resolve_job_def('tenants_files_job')\n"
            "print('PARTITIONS', job.partitions_def.name)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "PARTITIONS tenants" in out.stdout
    ours = [ln for ln in out.stdout.splitlines() if ln.startswith("WARNING") and "/sources/tenants/" in ln]
    assert not ours, ours


def test_remote_partition_is_a_tag():
    """remote.py names a run's partition with the ``dagster/partition`` tag because the
    GraphQL ``launchRun`` ExecutionParams / ExecutionMetadata have no partition field; fails
    (so the tag can be replaced) once the installed dagster-graphql schema gets one."""
    from dagster_graphql.schema.inputs import GrapheneExecutionMetadata, GrapheneExecutionParams

    fields = {f.lower() for t in (GrapheneExecutionParams, GrapheneExecutionMetadata) for f in t._meta.fields}
    assert not {f for f in fields if "partition" in f}, fields


def test_tenants_csv_read_with_engine_readers(warehouse, local_store):
    """tenants.csv goes through engine.readers: a cp1252 file keeps its accents, a ragged row
    and an invalid row are failed rows with their physical row numbers in a CSV failed-rows
    file (original columns + import_error, formulas neutralised), and the file is recorded
    in ingest_files."""
    from dagster import DagsterInstance, materialize

    from ingestion_pipelines.engine.ledger import ingest_files
    from ingestion_pipelines.engine.result_files import read_back
    from ingestion_pipelines.sources.tenants.assets import tenants as tenants_asset

    body = ("tenant_id,name,domain,currency,country,created_at,api_key\r\n"
            "acme-1,Café Zürich AG,,CHF,CH,,\r\n"
            "ragged,Too,many,USD,US,,,extra\r\n"
            "\r\n"
            "=cmd,Evil,,,,,\r\n"
            "acme-2,Beta,,,,,\r\n").encode("cp1252")
    local_store.put_bytes("tenants/tenants.csv", body)
    with DagsterInstance.ephemeral() as instance:
        r = materialize([tenants_asset], instance=instance, resources={"warehouse": warehouse, "blob_store": local_store})
        assert r.success
        md = {k: v.value for k, v in r.asset_materializations_for_node("tenants__tenants")[0].metadata.items()}
        assert (md["created"], md["failed"]) == (2, 2)
        assert sorted(instance.get_dynamic_partitions("tenants")) == ["acme-1", "acme-2"]
    rows = read_back(local_store.get_bytes(local_store.key_from_uri(md["failed_rows_file"])), "csv")
    assert rows[0] == ["row", "tenant_id", "name", "domain", "currency", "country", "created_at", "api_key", "import_error"]
    by_row = {r[0]: r for r in rows[1:]}
    assert set(by_row) == {"3", "5"}
    assert "expected 7 columns" in by_row["3"][-1] and by_row["3"][1] == "ragged"
    assert by_row["5"][1] == "'=cmd" and "tenant_id" in by_row["5"][-1]
    with warehouse.connect() as conn:
        names = dict(conn.execute(sa.select(schema.tenants.c.tenant_id, schema.tenants.c.name)).all())
        ledger = conn.execute(sa.select(ingest_files.c.status, ingest_files.c.rows_loaded, ingest_files.c.rows_failed)
                              .where(ingest_files.c.uri == md["file"])).all()
    assert names["acme-1"] == "Café Zürich AG"
    assert ledger == [("succeeded", 2, 2)]


def test_unreadable_tenants_csv_recorded_as_failed(sqlite_warehouse, local_store):
    """A tenants.csv that is not text (here a PNG header) fails the asset and is recorded as
    failed, with the reader's error, in ingest_files."""
    from dagster import DagsterInstance, materialize

    from ingestion_pipelines.engine.ledger import ingest_files
    from ingestion_pipelines.sources.tenants.assets import tenants as tenants_asset

    local_store.put_bytes("tenants/tenants.csv", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    with DagsterInstance.ephemeral() as instance:
        r = materialize([tenants_asset], instance=instance, raise_on_error=False,
                        resources={"warehouse": sqlite_warehouse, "blob_store": local_store})
        assert not r.success
    with sqlite_warehouse.connect() as conn:
        (status, error), = conn.execute(sa.select(ingest_files.c.status, ingest_files.c.error)
                                        .where(ingest_files.c.uri.like("%tenants.csv"))).all()
    assert status == "failed" and error, error
