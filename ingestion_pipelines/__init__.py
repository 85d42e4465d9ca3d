"""ingestion_pipelines: a Dagster code location that ingests business data into one SQL warehouse."""
