"""engine.staged on the real PostgreSQL: COPY + orphan check + plain insert / upsert, and a
value the database refuses isolated by bisection while the rest of the batch lands."""

import sqlalchemy as sa

from ingestion_pipelines.engine.staged import ParentRef, StagedUpsert
from ingestion_pipelines.sources.tenants.records import BadLine, Parser

md = sa.MetaData()
parent = sa.Table("parents", md, sa.Column("k", sa.Text, nullable=False), sa.Column("id", sa.Text, nullable=False),
                  sa.UniqueConstraint("k", "id", name="uq_parents_natural_key"))
child = sa.Table("children", md, sa.Column("k", sa.Text, nullable=False), sa.Column("id", sa.Text, nullable=False),
                 sa.Column("pid", sa.Text), sa.Column("n", sa.Integer), sa.Column("_ingested_at", sa.DateTime(timezone=True)),
                 sa.Column("_source", sa.Text), sa.Column("_run_id", sa.String(64)),
                 sa.UniqueConstraint("k", "id", name="uq_children_natural_key"))


def test_copy_orphans_bisect_and_upsert(pg_warehouse):
    pg_warehouse.setup(md)
    with pg_warehouse.connect() as conn:
        conn.execute(parent.insert(), [{"k": "t", "id": "p1"}, {"k": "t", "id": "p2"}])
        conn.commit()
        su = StagedUpsert(conn, child, ["k", "id", "pid", "n"], [ParentRef(("k", "pid"), parent, ("k", "id"), "parent")],
                          audit={"_source": "file:///x", "_run_id": "r1"})
        rows = [(1, "t\tc1\tp1\t1"), (2, "t\tc2\tp9\t2"), (3, "t\tc3\tp2\tnot-a-number"), (4, "t\tc4\tp2\t4")]
        res = su.load_copy(rows)
        conn.commit()
        assert (res.inserted, res.updated, res.unchanged) == (2, 0, 0)
        failed = dict(res.failed)
        assert set(failed) == {2, 3}
        assert "orphan reference: parent t/p9" in failed[2] and "integer" in failed[3]
        # the same keys again: the plain insert conflicts, the loader switches to the upsert
        res2 = su.load_copy([(1, "t\tc1\tp1\t1"), (2, "t\tc4\tp2\t40"), (3, "t\tc5\tp2\t5")])
        conn.commit()
        assert (res2.inserted, res2.updated, res2.unchanged, res2.failed) == (1, 1, 1, [])
        got = dict(conn.execute(sa.select(child.c.id, child.c.n)).all())
        assert got == {"c1": 1, "c4": 40, "c5": 5}
        assert set(conn.execute(sa.select(child.c._source)).scalars()) == {"file:///x"}


def test_direct_copy_bisect_then_upsert(pg_warehouse):
    """Without SQL reference checks, fresh keys are COPYed straight into the table (audit
    values on every line); a refused value is bisected out; the first existing key rolls the
    batch back and switches the loader to staging + upsert."""
    pg_warehouse.setup(md)
    with pg_warehouse.connect() as conn:
        conn.execute(child.delete())
        conn.commit()
        su = StagedUpsert(conn, child, ["k", "id", "pid", "n"], audit={"_source": "file:///d\tx", "_run_id": "r2"})
        assert su.direct
        res = su.load_copy([(1, "t\td1\tp1\t1"), (2, "t\td2\tp1\tbad"), (3, "t\td3\t\\N\t3")])
        conn.commit()
        assert (res.inserted, res.updated, res.unchanged) == (2, 0, 0)
        assert [ln for ln, _ in res.failed] == [2] and su.direct
        rows = conn.execute(sa.select(child.c.id, child.c.pid, child.c._source, child.c._run_id,
                                      child.c._ingested_at).order_by(child.c.id)).all()
        assert [(r.id, r.pid, r._source, r._run_id) for r in rows] == [("d1", "p1", "file:///d\tx", "r2"),
                                                                       ("d3", None, "file:///d\tx", "r2")]
        assert all(r._ingested_at is not None for r in rows)
        res2 = su.load_copy([(1, "t\td1\tp1\t1"), (2, "t\td3\tp1\t30"), (3, "t\td4\tp1\t4")])
        conn.commit()
        assert (res2.inserted, res2.updated, res2.unchanged, res2.failed) == (1, 1, 1, []) and not su.direct
        assert dict(conn.execute(sa.select(child.c.id, child.c.n)).all()) == {"d1": 1, "d3": 30, "d4": 4}


def test_parser_reasons():
    p = Parser("order_items", "t1")
    ok = b'{"tenant_id":"t1","item_id":"i","order_id":"o","product_id":"p","quantity":2,"unit_price":"1.50","currency":"EUR"}'
    assert p.parse(ok) == ("t1\ti\to\tp\t2\t1.50\tEUR", "i")
    cases = {
        b'{"tenant_id":"t1"': "malformed JSON",
        b'[1,2]': "expected a JSON object",
        ok.replace(b'"t1"', b'"t2"', 1): "does not belong to tenant t1",
        ok.replace(b'"quantity":2,', b''): "missing required field quantity",
        ok.replace(b'"quantity":2', b'"quantity":2.5'): "quantity: expected an integer",
        ok.replace(b'"1.50"', b'"1.505"'): "unit_price: expected an amount",
        ok.replace(b'"EUR"', b'"XXX"'): "currency: 'XXX' is not one of",
        ok.replace(b'"i"', b'"caf\xe9"'): "invalid UTF-8",
        ok.replace(b'"i"', b'"a\\u0000b"'): "NUL",
    }
    for line, reason in cases.items():
        try:
            p.parse(line)
        except BadLine as e:
            assert reason in str(e), (line, str(e))
        else:
            raise AssertionError(f"accepted {line!r}")
    o = Parser("orders", "t1")
    base = b'{"tenant_id":"t1","order_id":"o","customer_id":"c","status":"paid","currency":"USD","total":"3.00","item_count":1,"ordered_at":"%s"}'
    assert o.parse(base % b"2024-05-01T10:00:00+02:00")[0].endswith("2024-05-01T10:00:00+02:00")
    for bad in (b"2024-05-01T10:00:00", b"yesterday"):
        try:
            o.parse(base % bad)
        except BadLine as e:
            assert "ordered_at" in str(e)
        else:
            raise AssertionError(bad)


def test_generated_fast_parser_agrees_with_the_careful_one(tmp_path):
    from ingestion_pipelines.sources.tenants.generator import generate
    from ingestion_pipelines.sources.tenants.records import entity_of

    s = generate(tmp_path, tenants=1, products_per_tenant=40, orders_per_tenant=80, seed=8, defects=0.1)
    tid = s.tenants[0]
    n_fast = 0
    for path in s.files:
        parsed = entity_of(path.name)
        if not parsed:
            continue
        p = Parser(parsed[0], tid, ref_sets=[("product_id", {"prd_00000001"}, "product")]
                   if parsed[0] == "stock_events" else None)
        for line in path.read_bytes().splitlines() + [line.replace(b'"GBP"', b'"gbp"') for line in
                                                       path.read_bytes().splitlines()[:3]]:
            try:
                fast = p._fast(line)
            except Exception:  # noqa: BLE001
                fast = None
            try:
                careful = p._parse(line)
            except BadLine:
                careful = None
            if fast is not None:
                n_fast += 1
                assert fast == careful, line
    assert n_fast > 300


def test_line_refused_by_database_reported_with_raw_text(pg_warehouse, local_store):
    """A value the parser accepts but PostgreSQL refuses (a UTC offset of +23:00) is bisected
    out of its COPY batch and reported with its line number and raw text (read again from the
    file); every other line lands."""
    from ingestion_pipelines.sources.tenants import schema
    from ingestion_pipelines.sources.tenants.loading import FailedRecords, load_entity

    import orjson

    tid = "t-refused"
    lines = []
    for i in range(7):
        ts = "2024-01-01T00:00:00+23:00" if i == 4 else "2024-01-01T00:00:00+00:00"
        lines.append(orjson.dumps({"tenant_id": tid, "product_id": f"p{i}", "sku": f"S{i}", "name": f"N {i}",
                                   "price": "1.50", "currency": "USD", "stock": i, "active": True, "created_at": ts}))
    local_store.put_bytes(f"tenants/{tid}/products_{tid}_chunk_0000.ndjson", b"\n".join(lines) + b"\n")
    pg_warehouse.setup(schema.metadata)
    failed = FailedRecords()
    with pg_warehouse.connect() as conn:
        res = load_entity(conn, local_store, tid, "products", run_id="r", batch_size=3, failed=failed)
        n = conn.execute(sa.select(sa.func.count()).select_from(schema.ENTITY_TABLES["products"])
                         .where(schema.ENTITY_TABLES["products"].c.tenant_id == tid)).scalar()
    assert (res.total("inserted"), res.total("failed"), n) == (6, 1, 6)
    uri = failed.upload(local_store, "results/test/refused.ndjson")
    (rec,) = [orjson.loads(x) for x in local_store.get_bytes(local_store.key_from_uri(uri)).splitlines()]
    assert rec["line"] == 5 and rec["raw"] == lines[4].decode() and "range" in rec["error"].lower()


def test_hashed_id_set_references_agree_with_a_set():
    """Large parents are held as a HashedIdSet (sorted 64-bit hashes); the generated fast
    path (lookup inlined) and the careful path accept and refuse the same lines as with a set."""
    from ingestion_pipelines.sources.tenants.records import HashedIdSet

    orders = [f"ord_{i:09d}" for i in range(0, 2000, 2)]
    hs = HashedIdSet(iter(orders))
    assert len(hs) == 1000 and "ord_000000002" in hs and "ord_000000003" not in hs and 7 not in hs
    line = b'{"tenant_id":"t1","item_id":"i%d","order_id":"%s","product_id":"p1","quantity":2,"unit_price":"1.50","currency":"EUR"}'
    for refs in ([("order_id", set(orders), "order")], [("order_id", hs, "order")]):
        p = Parser("order_items", "t1", ref_sets=refs + [("product_id", {"p1"}, "product")])
        assert p.parse(line % (1, b"ord_000000004"))[1] == "i1"
        assert p._fast(line % (1, b"ord_000000004")) is not None
        for oid in (b"ord_000000005", b"ord_999999999", b""):
            try:
                p.parse(line % (2, oid))
            except BadLine as e:
                assert ("orphan reference: order" in str(e)) or ("order_id" in str(e)), str(e)
            else:
                raise AssertionError(oid)


def test_audit_values_without_and_with_column_defaults(pg_warehouse):
    """A table made without ``setup`` has no audit defaults: the direct COPY appends the audit
    values to each line. ``ensure_audit_defaults`` adds them once (a second call alters
    nothing); from then on the COPY leaves the audit columns to the defaults and this
    transaction's settings — the rows carry the same values either way."""
    from ingestion_pipelines.engine.schema import audit_defaults_in_place, ensure_audit_defaults

    md2 = sa.MetaData()
    t = sa.Table("audited", md2, sa.Column("k", sa.Text, nullable=False), sa.Column("id", sa.Text, nullable=False),
                 sa.Column("_ingested_at", sa.DateTime(timezone=True)), sa.Column("_source", sa.Text),
                 sa.Column("_run_id", sa.String(64)), sa.UniqueConstraint("k", "id", name="uq_audited_natural_key"))
    with pg_warehouse.connect() as conn:
        md2.create_all(conn)
        conn.commit()
        assert not audit_defaults_in_place(conn, t)
        su = StagedUpsert(conn, t, ["k", "id"], audit={"_source": "s3://b/tenants/a/x.ndjson", "_run_id": "run-1"})
        assert su.load_copy([(1, "t\ta")]).inserted == 1
        conn.commit()
        assert sorted(ensure_audit_defaults(conn, md2)) == ["audited._ingested_at", "audited._run_id", "audited._source"]
        assert ensure_audit_defaults(conn, md2) == []
        conn.commit()
        assert audit_defaults_in_place(conn, t)
        su = StagedUpsert(conn, t, ["k", "id"], audit={"_source": "s3://b/tenants/a/y.ndjson", "_run_id": "run-2"})
        assert su.load_copy([(1, b"t\tb")]).inserted == 1
        conn.commit()
        rows = conn.execute(sa.select(t.c.id, t.c._source, t.c._run_id, t.c._ingested_at).order_by(t.c.id)).all()
        assert [(r.id, r._source, r._run_id) for r in rows] == [("a", "s3://b/tenants/a/x.ndjson", "run-1"),
                                                               ("b", "s3://b/tenants/a/y.ndjson", "run-2")]
        assert all(r._ingested_at is not None for r in rows)
        # a writer that sets nothing gets NULLs, not the previous transaction's values
        conn.execute(t.insert().values(k="t", id="c"))
        conn.commit()
        assert conn.execute(sa.select(t.c._source, t.c._run_id).where(t.c.id == "c")).one() == (None, None)


def test_first_load_hashes_while_loading_and_records_the_real_sha256(pg_warehouse, tmp_path):
    """A file never loaded before is read once (hashed while it loads); its ledger row ends
    with the file's real sha256 and size, so loading it again is skipped — and a changed
    file is hashed first, then loaded."""
    import hashlib

    import orjson

    from ingestion_pipelines.engine.ledger import ingest_files
    from ingestion_pipelines.resources.storage import LocalBlobStore
    from ingestion_pipelines.sources.tenants import schema
    from ingestion_pipelines.sources.tenants.loading import FailedRecords, load_entity

    pg_warehouse.setup(schema.metadata)
    store = LocalBlobStore(root=str(tmp_path))
    key = "tenants/t9/products_t9_chunk_0000.ndjson"
    rows = [{"tenant_id": "t9", "product_id": f"p{i}", "sku": f"S{i}", "name": "Lamp", "price": "1.00",
             "currency": "EUR", "stock": 1, "active": True, "created_at": "2024-01-01T00:00:00Z"} for i in range(600)]
    body = b"".join(orjson.dumps(r) + b"\n" for r in rows)
    (tmp_path / key).parent.mkdir(parents=True)
    (tmp_path / key).write_bytes(body)
    with pg_warehouse.connect() as conn:
        res = load_entity(conn, store, "t9", "products", run_id="run-a", failed=FailedRecords())
        assert res.total("inserted") == 600
        led = conn.execute(sa.select(ingest_files.c.sha256, ingest_files.c.size, ingest_files.c.status)
                           .where(ingest_files.c.tenant_id == "t9")).all()
        assert led == [(hashlib.sha256(body).hexdigest(), len(body), "succeeded")]
        again = load_entity(conn, store, "t9", "products", run_id="run-b", failed=FailedRecords())
        assert [f.status for f in again.files] == ["skipped"]
        body2 = body.replace(b'"Lamp"', b'"Desk lamp"', 1)
        (tmp_path / key).write_bytes(body2)
        third = load_entity(conn, store, "t9", "products", run_id="run-c", failed=FailedRecords())
        assert (third.total("inserted"), third.total("updated"), third.total("unchanged")) == (0, 1, 599)
        shas = set(conn.execute(sa.select(ingest_files.c.sha256).where(ingest_files.c.tenant_id == "t9")).scalars())
        assert shas == {hashlib.sha256(body).hexdigest(), hashlib.sha256(body2).hexdigest()}


def test_files_arrow_declines_still_load_line_by_line(pg_warehouse, tmp_path):
    """Integer ids (which Arrow's typed reader refuses), a blank line, a line holding two
    records and invalid UTF-8 in a field the table does not keep: every good line loads,
    every bad one is reported with its own line number."""
    import os

    import orjson

    from ingestion_pipelines.resources.storage import LocalBlobStore
    from ingestion_pipelines.sources.tenants import schema
    from ingestion_pipelines.sources.tenants.loading import FailedRecords, load_entity

    pg_warehouse.setup(schema.metadata)
    store = LocalBlobStore(root=str(tmp_path))

    def rec(i, pid):
        return orjson.dumps({"tenant_id": "t8", "product_id": pid, "sku": f"S{i}", "name": "Lamp", "price": "1.00",
                             "currency": "EUR", "stock": 1, "active": True, "created_at": "2024-01-01T00:00:00Z"})

    ints = [rec(i, i) for i in range(3000)]
    mixed = [rec(i, f"p{i}") for i in range(3000)]
    mixed[100] = mixed[100] + mixed[101].replace(b'"p101"', b'"p101b"')  # two records on line 101
    mixed[200] = b""  # blank line 201
    mixed[300] = mixed[300].replace(b'"Lamp"', b'"Lamp", "note": "\xff"')  # line 301
    d = tmp_path / "tenants" / "t8"
    d.mkdir(parents=True)
    (d / "products_t8_chunk_0000.ndjson").write_bytes(b"\n".join(ints) + b"\n")
    (d / "products_t8_chunk_0001.ndjson").write_bytes(b"\n".join(mixed) + b"\n")
    failed = FailedRecords()
    with pg_warehouse.connect() as conn:
        res = load_entity(conn, store, "t8", "products", run_id="run-i", failed=failed)
    assert [f.status for f in res.files] == ["loaded", "loaded"]
    assert res.files[0].inserted == 3000
    # file 2: 3000 lines, one blank (not read), line 101 (p100 + p101b) malformed, line 301
    # invalid UTF-8: 2997 rows (p101 itself is line 102)
    assert (res.files[1].rows_read, res.files[1].failed, res.files[1].inserted) == (2999, 2, 2997)
    failed.f.close()
    with open(failed.path, "rb") as fh:
        bad = [orjson.loads(ln) for ln in fh]
    os.unlink(failed.path)
    assert [(b["line"], b["error"].split(":")[0]) for b in bad] == [(101, "malformed JSON"), (301, "invalid UTF-8")]
