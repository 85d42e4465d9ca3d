"""Fixtures of the campaigns tests: the committed sample and its documented counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingestion_pipelines.settings import DATA_DIR

SAMPLE = DATA_DIR / "campaigns"
SAMPLE_CSV = SAMPLE / "Spotify Playlisting-All Campaigns.csv"
SCRAPED = SAMPLE / "scraped"


@pytest.fixture
def expected() -> dict:
    """data/campaigns/expected_counts.json (the generator's ground truth, tabled in README.md)."""
    return json.loads((SAMPLE / "expected_counts.json").read_text())


def scraped_files(folder: Path = SCRAPED) -> list[tuple[str, bytes]]:
    return [(p.as_uri(), p.read_bytes()) for p in sorted(folder.glob("*.json"))]
