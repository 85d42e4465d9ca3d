"""`ingest demo`'s tenants step: generates, lands and loads 3 tenants offline (default SQLite
warehouse and local storage of the isolated state dir); a second demo loads nothing new."""

import sqlalchemy as sa

from ingestion_pipelines.cli.tenants import DEMO_STEPS
from ingestion_pipelines.settings import default_warehouse_url
from ingestion_pipelines.sources.tenants import schema


def test_demo_step():
    # the session's isolated state dir (conftest): default SQLite warehouse and local storage
    step, = DEMO_STEPS
    runs = step.run()
    assert len(runs) == 4 and all(r.success for r in runs)  # tenants.csv + one run per tenant
    eng = sa.create_engine(default_warehouse_url())
    with eng.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(schema.tenants)).scalar() >= 3
        n_items = c.execute(sa.select(sa.func.count()).select_from(schema.order_items)).scalar()
        assert n_items > 3 * 3000
        assert c.execute(sa.select(sa.func.count(sa.distinct(schema.orders.c.tenant_id)))).scalar() >= 3
    # the same demo again: the ledger skips every landed file
    assert all(r.success for r in step.run())
    with eng.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(schema.order_items)).scalar() == n_items
    eng.dispose()
