"""``python -m ingestion_pipelines.cli``: the ``ingest`` console script."""

from . import run

run()
