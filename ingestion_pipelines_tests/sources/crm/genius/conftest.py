"""Fixtures of the Genius database sync tests: a per-test MariaDB database (``mysql_url``, see
the root conftest) filled by the sample generator."""

from __future__ import annotations

import pytest

from ingestion_pipelines.sources.crm.genius.sample_db import fill

from .helpers import source, writer


@pytest.fixture
def genius(mysql_url):
    """``(writer engine, read-only source engine, rows per table)`` of a filled Genius source."""
    w = writer(mysql_url)
    written = fill(w, seed=1)
    src = source(mysql_url)
    yield w, src, written
    src.dispose()
    w.dispose()
