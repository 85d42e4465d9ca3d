"""Warehouse tables of the tenants source (DESIGN.md §4): ``tenants``, ``products``,
``customers``, ``orders``, ``order_items``, ``price_history``, ``stock_events``.

Every table is keyed by ``tenant_id`` + the record's own id (seed 001: each tenant's data
is uploaded with that tenant's API key, so ids are only unique inside a tenant). Money is
``NUMERIC(14, 2)`` with an ISO-4217 ``currency``; timestamps are ``timestamptz``.

Audit columns: ``tenants`` has DESIGN.md §4's ``_ingested_at``, ``_source``, ``_run_id``.
The six per-tenant tables, bulk-loaded file by file (millions of rows), have
``_ingested_at`` and ``_ingest_file_id``, the ``ingest_files`` row of the file each row came
from, which holds its URI (``_source``), sha256 and loading run (``_run_id``)::

    SELECT o.*, f.uri AS _source, f.run_id AS _run_id
    FROM orders o JOIN ingest_files f ON f.id = o._ingest_file_id

(measured: the URI and run id on each row made the heap 2.7 times wider and the COPY 55-75 %
slower, see :func:`~ingestion_pipelines.engine.schema.audit_columns`).
"""

import sqlalchemy as sa

from ...engine.schema import audit_columns, natural_key_constraint

metadata = sa.MetaData()

TENANT_ID = sa.String(64)
ID = sa.String(64)
MONEY = sa.Numeric(14, 2)
TS = sa.DateTime(timezone=True)

tenants = sa.Table(
    "tenants", metadata,
    sa.Column("tenant_id", TENANT_ID, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("domain", sa.Text, nullable=True),
    sa.Column("currency", sa.String(3), nullable=True),
    sa.Column("country", sa.String(2), nullable=True),
    sa.Column("created_at", TS, nullable=True),
    *audit_columns(),
    natural_key_constraint("tenants", "tenant_id"),
)

products = sa.Table(
    "products", metadata,
    sa.Column("tenant_id", TENANT_ID, nullable=False),
    sa.Column("product_id", ID, nullable=False),
    sa.Column("sku", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("category", sa.Text, nullable=True),
    sa.Column("price", MONEY, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("stock", sa.Integer, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    *audit_columns(ledger=True),
    natural_key_constraint("products", "tenant_id", "product_id"),
)

customers = sa.Table(
    "customers", metadata,
    sa.Column("tenant_id", TENANT_ID, nullable=False),
    sa.Column("customer_id", ID, nullable=False),
    sa.Column("email", sa.Text, nullable=False),
    sa.Column("first_name", sa.Text, nullable=False),
    sa.Column("last_name", sa.Text, nullable=False),
    sa.Column("country", sa.String(2), nullable=True),
    sa.Column("created_at", TS, nullable=False),
    *audit_columns(ledger=True),
    natural_key_constraint("customers", "tenant_id", "customer_id"),
)

orders = sa.Table(
    "orders", metadata,
    sa.Column("tenant_id", TENANT_ID, nullable=False),
    sa.Column("order_id", ID, nullable=False),
    sa.Column("customer_id", ID, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("total", MONEY, nullable=False),
    sa.Column("item_count", sa.Integer, nullable=False),
    sa.Column("ordered_at", TS, nullable=False),
    *audit_columns(ledger=True),
    natural_key_constraint("orders", "tenant_id", "order_id"),
)

order_items = sa.Table(
    "order_items", metadata,
    sa.Column("tenant_id", TENANT_ID, nullable=False),
    sa.Column("item_id", ID, nullable=False),
    sa.Column("order_id", ID, nullable=False),
    sa.Column("product_id", ID, nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("unit_price", MONEY, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    *audit_columns(ledger=True),
    natural_key_constraint("order_items", "tenant_id", "item_id"),
)

price_history = sa.Table(
    "price_history", metadata,
    sa.Column("tenant_id", TENANT_ID, nullable=False),
    sa.Column("price_id", ID, nullable=False),
    sa.Column("product_id", ID, nullable=False),
    sa.Column("price", MONEY, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("effective_at", TS, nullable=False),
    *audit_columns(ledger=True),
    natural_key_constraint("price_history", "tenant_id", "price_id"),
)

stock_events = sa.Table(
    "stock_events", metadata,
    sa.Column("tenant_id", TENANT_ID, nullable=False),
    sa.Column("event_id", ID, nullable=False),
    sa.Column("product_id", ID, nullable=False),
    sa.Column("event_type", sa.String(16), nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("occurred_at", TS, nullable=False),
    *audit_columns(ledger=True),
    natural_key_constraint("stock_events", "tenant_id", "event_id"),
)

# Per-tenant entity tables, in load order (parents before children).
ENTITY_TABLES = {t.name: t for t in (products, customers, orders, order_items, price_history, stock_events)}
