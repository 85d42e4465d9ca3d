"""WarehouseResource.setup on the real PostgreSQL from several processes at once — what the
landing sensor's run requests and the multiprocess executor's parallel steps do on a fresh
warehouse. CREATE TABLE races used to fail one of them ("duplicate key value violates unique
constraint pg_type_typname_nsp_index")."""

import multiprocessing as mp

import sqlalchemy as sa


def _setup(url: str, schema: str, barrier) -> str:
    from ingestion_pipelines.resources.warehouse import WarehouseResource
    from ingestion_pipelines.sources.tenants import schema as tschema

    barrier.wait()
    try:
        WarehouseResource(url=url, schema_name=schema).setup(tschema.metadata)
        return "ok"
    except Exception as exc:  # noqa: BLE001 - reported to the test
        return f"{type(exc).__name__}: {exc}"[:300]


def test_concurrent_setup_on_a_fresh_schema(pg_url, pg_schema):
    ctx = mp.get_context("spawn")
    n = 4
    with ctx.Manager() as manager:
        barrier = manager.Barrier(n)
        # close + join, not the context manager's terminate(): terminate() kills idle workers
        # with SIGTERM, which a worker inherits as ignored when the test process ignores it
        # (seen once: a worker waiting for a task, the suite hung in Pool.__exit__)
        pool = ctx.Pool(n)
        try:
            results = pool.starmap(_setup, [(pg_url, pg_schema, barrier)] * n)
        finally:
            pool.close()
            pool.join()
    assert results == ["ok"] * n, results
    eng = sa.create_engine(pg_url.replace("postgresql://", "postgresql+psycopg2://", 1))
    with eng.connect() as c:
        tables = set(c.execute(sa.text("SELECT tablename FROM pg_tables WHERE schemaname = :s"), {"s": pg_schema}).scalars())
    eng.dispose()
    assert {"ingest_files", "products", "order_items"} <= tables
