"""engine.asset_metadata: the column schema and table name the UI shows, kinds, file links."""

from dagster import MetadataValue, TableSchema

from ingestion_pipelines.engine.asset_metadata import file_link, table_metadata, warehouse_kind
from ingestion_pipelines.sources.artists.schema import entities, entity_roles
from ingestion_pipelines.sources.tenants.schema import order_items


def test_table_metadata_lists_every_column_with_its_constraints():
    md = table_metadata(entities)
    schema = md["dagster/column_schema"]
    assert isinstance(schema, TableSchema) and md["dagster/table_name"] == "entities"
    cols = {c.name: c for c in schema.columns}
    assert list(cols) == [c.name for c in entities.columns]
    assert cols["id"].type == "VARCHAR(36)"
    assert (cols["id"].constraints.nullable, cols["id"].constraints.unique) == (False, True)
    assert "primary key" in cols["id"].constraints.other
    assert cols["kind"].constraints.other == ["check kind IN ('PF', 'PJ')"]
    assert cols["first_name"].constraints.other == ["default ''"]
    assert cols["gender"].constraints.nullable is True
    assert cols["_run_id"].description == "The Dagster run that last wrote the row."
    assert schema.constraints.other == ["natural key (kind, name_key)"]
    roles = {c.name: c for c in table_metadata(entity_roles)["dagster/column_schema"].columns}
    assert roles["entity_id"].constraints.other == ["references entities.id"]


def test_ledger_tables_describe_their_file_id():
    cols = {c.name: c for c in table_metadata(order_items)["dagster/column_schema"].columns}
    assert cols["_ingest_file_id"].type == "BIGINT"
    assert "ingest_files" in cols["_ingest_file_id"].description


def test_warehouse_kind_names_the_dialect():
    assert warehouse_kind("sqlite:///x.db") == "sqlite"
    assert warehouse_kind("postgresql://postgres@127.0.0.1/test") == "postgres"
    assert warehouse_kind("mysql+pymysql://root@127.0.0.1/test") == "mysql"
    assert warehouse_kind() == "sqlite"  # the tests' isolated state: no WAREHOUSE_URL


def test_file_link():
    assert file_link("file:///tmp/failed.csv") == MetadataValue.url("file:///tmp/failed.csv")
    assert file_link("s3://bucket/failed/x.csv") == MetadataValue.url("s3://bucket/failed/x.csv")
    assert file_link("/tmp/a.csv") == MetadataValue.path("/tmp/a.csv")
    assert file_link("") == "" and file_link(None) == ""
