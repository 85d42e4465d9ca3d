"""Fixtures for the engine tests: the public corpora in ``../shared/testdata`` (DESIGN.md §7).

The corpora are read in place, never copied into the project. Where the folder is absent
(a user's own clone) the tests that need it skip with the reason, except under
``REQUIRE_SERVICES=1`` (CI), where they fail.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: <project root>/../shared/testdata
CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "testdata"


@pytest.fixture
def corpus() -> Path:
    """The public corpora folder; skips (or fails under REQUIRE_SERVICES=1) when absent."""
    if not CORPUS.is_dir():
        reason = f"public test corpora not found at {CORPUS} (../shared/testdata)"
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(reason + " and REQUIRE_SERVICES=1")
        pytest.skip(reason)
    return CORPUS
