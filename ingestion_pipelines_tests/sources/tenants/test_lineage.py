"""Row lineage of the per-tenant tables: each row's ``_ingest_file_id`` names the
``ingest_files`` ledger row of the file it came from (its URI, sha256 and loading run), through
first loads, changed files, a failed attempt loaded again, two runs racing on one new file, an
old table without the column, and the tenant-isolation check (sources/tenants/schema.py)."""

import hashlib

import sqlalchemy as sa

from ingestion_pipelines.engine.ledger import ingest_files
from ingestion_pipelines.engine.schema import qualified_name
from ingestion_pipelines.sources.tenants import checks, schema
from ingestion_pipelines.sources.tenants.loading import FailedRecords, load_entity

from .landed import land, product_lines, refuse_boom

P = schema.products


def _lineage(conn, tid: str) -> dict[str, tuple]:
    """product_id -> (file name, sha256, run_id, status) of its ledger row (None when dangling)."""
    q = (sa.select(P.c.product_id, ingest_files.c.uri, ingest_files.c.sha256, ingest_files.c.run_id,
                   ingest_files.c.status)
         .select_from(P.outerjoin(ingest_files, ingest_files.c.id == P.c._ingest_file_id))
         .where(P.c.tenant_id == tid))
    return {pid: (uri.rsplit("/", 1)[1] if uri else None, sha, run, st) for pid, uri, sha, run, st in conn.execute(q)}


def test_rows_name_their_files_ledger_row(pg_warehouse, tmp_path):
    """First load: every row names its own file's ledger row (real sha256, the run). A changed
    file gets a new ledger row: the updated row names it, the unchanged rows keep the row of
    the content they were written from (it stays in the ledger)."""
    pg_warehouse.setup(schema.metadata)
    tid = "ln1"
    a, b = f"products_{tid}_chunk_0000.ndjson", f"products_{tid}_chunk_0001.ndjson"
    body_a, body_b = product_lines(tid, "a", 300), product_lines(tid, "b", 200)
    store = land(tmp_path, tid, {a: body_a, b: body_b})

    def sha(body: bytes) -> str:
        return hashlib.sha256(body).hexdigest()

    with pg_warehouse.connect() as conn:
        load_entity(conn, store, tid, "products", run_id="run-1", batch_size=64, failed=FailedRecords())
        lin = _lineage(conn, tid)
        assert len(lin) == 500
        assert {v for k, v in lin.items() if k.startswith("a")} == {(a, sha(body_a), "run-1", "succeeded")}
        assert {v for k, v in lin.items() if k.startswith("b")} == {(b, sha(body_b), "run-1", "succeeded")}
        body_b2 = product_lines(tid, "b", 200, names={7: "Desk lamp"})
        land(tmp_path, tid, {b: body_b2})
        res = load_entity(conn, store, tid, "products", run_id="run-2", batch_size=64, failed=FailedRecords())
        assert (res.total("updated"), res.total("unchanged")) == (1, 199)
        lin = _lineage(conn, tid)
        assert lin["b7"] == (b, sha(body_b2), "run-2", "succeeded")
        assert {v for k, v in lin.items() if k.startswith("b") and k != "b7"} == {(b, sha(body_b), "run-1", "succeeded")}
        assert {v for k, v in lin.items() if k.startswith("a")} == {(a, sha(body_a), "run-1", "succeeded")}


def test_a_failed_attempt_and_its_retry_share_one_ledger_row(pg_warehouse, tmp_path):
    """A first load that fails part-way leaves its committed rows naming its ledger row
    (``failed``, keyed by the real sha256). The retry hashes the file first and records the
    same ledger row again, so no row is left naming a deleted one."""
    pg_warehouse.setup(schema.metadata)
    tid = "ln2"
    name = f"products_{tid}_chunk_0000.ndjson"
    body = product_lines(tid, "a", 20_000, names={15_000: "boom"})
    store = land(tmp_path, tid, {name: body})
    with pg_warehouse.connect() as conn:
        rel = qualified_name(conn, P)
        refuse_boom(conn, rel)
        first = load_entity(conn, store, tid, "products", run_id="run-1", batch_size=300, failed=FailedRecords())
        assert first.files[0].status == "failed" and 0 < first.files[0].inserted < 20_000
        assert set(_lineage(conn, tid).values()) == {(name, hashlib.sha256(body).hexdigest(), "run-1", "failed")}
        conn.exec_driver_sql(f"DROP TRIGGER boom ON {rel}")
        conn.commit()
        again = load_entity(conn, store, tid, "products", run_id="run-2", batch_size=300, failed=FailedRecords())
        assert again.files[0].status == "loaded" and again.total("inserted") == 20_000 - first.files[0].inserted
        lin = _lineage(conn, tid)
        assert len(lin) == 20_000
        assert set(lin.values()) == {(name, hashlib.sha256(body).hexdigest(), "run-2", "succeeded")}
        assert conn.execute(sa.select(sa.func.count()).select_from(ingest_files)
                            .where(ingest_files.c.tenant_id == tid)).scalar() == 1


def test_a_concurrent_attempt_of_the_same_new_file_is_merged(pg_warehouse, tmp_path):
    """Two runs load the same new file at once: both hash it while loading, under placeholder
    ledger rows. Here the other run (played by a trigger on the ledger) records the file's
    real sha256 and writes a row of it while this run loads; at its end this run's rekey keeps
    the other run's ledger row (that run may still be writing rows naming it), drops its own
    placeholder row and points its rows at the kept one."""
    pg_warehouse.setup(schema.metadata)
    tid = "ln3"
    name = f"products_{tid}_chunk_0000.ndjson"
    body = product_lines(tid, "a", 400)
    store = land(tmp_path, tid, {name: body})
    real = hashlib.sha256(body).hexdigest()
    with pg_warehouse.connect() as conn:
        led, prod = qualified_name(conn, ingest_files), qualified_name(conn, P)
        conn.exec_driver_sql(f"""
            CREATE OR REPLACE FUNCTION pg_temp.other_run() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE other bigint;
            BEGIN
              IF left(NEW.sha256, 8) = 'pending:' THEN
                INSERT INTO {led} (uri, sha256, source, tenant_id, status, run_id)
                VALUES (NEW.uri, '{real}', NEW.source, NEW.tenant_id, 'running', 'run-other') RETURNING id INTO other;
                INSERT INTO {prod} (tenant_id, product_id, sku, name, price, currency, stock, active, created_at,
                                    _ingest_file_id)
                VALUES ('{tid}', 'a5', 'S5', 'Lamp', 1.00, 'EUR', 1, true, '2024-01-01T00:00:00Z', other);
              END IF;
              RETURN NULL;
            END $$""")
        conn.exec_driver_sql(f"CREATE TRIGGER other_run AFTER INSERT ON {led} FOR EACH ROW "
                             "EXECUTE FUNCTION pg_temp.other_run()")
        conn.commit()
        res = load_entity(conn, store, tid, "products", run_id="run-1", batch_size=100, failed=FailedRecords())
        assert (res.total("inserted"), res.total("unchanged")) == (399, 1)
        lin = _lineage(conn, tid)
        assert len(lin) == 400 and set(lin.values()) == {(name, real, "run-1", "succeeded")}
        # the other run's ledger row is the one kept (rows it writes later still name it)
        ids = set(conn.execute(sa.select(ingest_files.c.id).where(ingest_files.c.tenant_id == tid)).scalars())
        assert ids == set(conn.execute(sa.select(P.c._ingest_file_id).where(P.c.tenant_id == tid)).scalars())
        assert len(ids) == 1 and conn.execute(sa.select(P.c._ingest_file_id).where(
            P.c.tenant_id == tid, P.c.product_id == "a5")).scalar() in ids


def test_tenant_isolation_check_reads_the_ledger(pg_warehouse, tmp_path):
    """A row of tenant A that names tenant B's file fails A's isolation check; a row without
    a ledger reference (written before the column existed) is counted apart."""
    pg_warehouse.setup(schema.metadata)
    store = land(tmp_path, "ta", {"products_ta_chunk_0000.ndjson": product_lines("ta", "a", 50)})
    land(tmp_path, "tb", {"products_tb_chunk_0000.ndjson": product_lines("tb", "b", 50)})
    with pg_warehouse.connect() as conn:
        for tid in ("ta", "tb"):
            load_entity(conn, store, tid, "products", run_id=f"run-{tid}", failed=FailedRecords())
        assert checks.scan_counts(conn, "products", "ta") == {"rows": 50, "foreign": 0, "no_lineage": 0}
        b_file = conn.execute(sa.select(ingest_files.c.id).where(ingest_files.c.tenant_id == "tb")).scalar_one()
        conn.execute(P.update().where(P.c.tenant_id == "ta", P.c.product_id == "a1").values(_ingest_file_id=b_file))
        conn.execute(P.update().where(P.c.tenant_id == "ta", P.c.product_id == "a2").values(_ingest_file_id=None))
        conn.commit()
        counts = checks.scan_counts(conn, "products", "ta")
        assert counts == {"rows": 50, "foreign": 1, "no_lineage": 1}
        out = checks.run_checks(conn, "products", "ta", good=0, written=0, counts=counts)
        assert out["tenant_isolation"] == (False, {"rows_from_other_sources": 1, "rows_without_file_id": 1})
        assert checks.scan_counts(conn, "products", "tb")["foreign"] == 0


def test_setup_adds_the_file_id_to_a_table_created_before_it(pg_warehouse, tmp_path):
    """A products table created with DESIGN.md §4's ``_source``/``_run_id`` (before the
    per-tenant tables named their ledger row) gets ``_ingest_file_id`` from setup, its old rows
    NULL there, and loads again."""
    from ingestion_pipelines.engine.schema import audit_columns, natural_key_constraint

    old = sa.MetaData()
    sa.Table("products", old, *[sa.Column(c.name, c.type, nullable=c.nullable) for c in P.c
                                if not c.name.startswith("_")],
             *audit_columns(), natural_key_constraint("products", "tenant_id", "product_id"))
    with pg_warehouse.engine.begin() as conn:
        old.create_all(conn)
        conn.execute(old.tables["products"].insert().values(
            tenant_id="tl", product_id="old1", sku="S", name="Old", price=1, currency="EUR", stock=1, active=True,
            created_at="2024-01-01T00:00:00Z", _source="file:///old.ndjson", _run_id="run-0"))
    pg_warehouse.setup(schema.metadata)
    store = land(tmp_path, "tl", {"products_tl_chunk_0000.ndjson": product_lines("tl", "a", 30)})
    with pg_warehouse.connect() as conn:
        res = load_entity(conn, store, "tl", "products", run_id="run-1", failed=FailedRecords())
        assert res.total("inserted") == 30
        lin = _lineage(conn, "tl")
        assert lin.pop("old1") == (None, None, None, None)
        assert {v[2] for v in lin.values()} == {"run-1"}
        assert checks.scan_counts(conn, "products", "tl") == {"rows": 31, "foreign": 0, "no_lineage": 1}


def test_setup_adds_the_file_id_on_sqlite_too(sqlite_warehouse, tmp_path):
    """The default warehouse (SQLite) of an earlier version gets the column as well."""
    from ingestion_pipelines.engine.schema import audit_columns, natural_key_constraint

    old = sa.MetaData()
    sa.Table("products", old, *[sa.Column(c.name, c.type, nullable=c.nullable) for c in P.c
                                if not c.name.startswith("_")],
             *audit_columns(), natural_key_constraint("products", "tenant_id", "product_id"))
    with sqlite_warehouse.engine.begin() as conn:
        old.create_all(conn)
    sqlite_warehouse.setup(schema.metadata)
    store = land(tmp_path, "ts", {"products_ts_chunk_0000.ndjson": product_lines("ts", "a", 20)})
    with sqlite_warehouse.connect() as conn:
        assert load_entity(conn, store, "ts", "products", run_id="run-1", failed=FailedRecords()).total("inserted") == 20
        assert {v[2] for v in _lineage(conn, "ts").values()} == {"run-1"}
