"""Project-wide defaults read from the environment (names are contracts: DESIGN.md §3).

Everything that has a default here resolves to a folder under the project's local state
dir (``<project>/.local`` unless ``INGEST_STATE_DIR`` says otherwise), so that the
``ingest`` command, ``dagster dev`` and the tests of a fresh clone share one place.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = PROJECT_ROOT / "data"


def state_dir() -> Path:
    """The project's local state dir (``INGEST_STATE_DIR`` or ``<project>/.local``), created."""
    path = Path(os.environ.get("INGEST_STATE_DIR") or PROJECT_ROOT / ".local")
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_warehouse_url() -> str:
    """``WAREHOUSE_URL`` or a SQLite file ``<state>/warehouse.db``."""
    return os.environ.get("WAREHOUSE_URL") or f"sqlite:///{state_dir() / 'warehouse.db'}"


def default_storage_url() -> str:
    """``STORAGE_URL`` (a path or ``s3://bucket/prefix``) or the folder ``<state>/storage``."""
    return os.environ.get("STORAGE_URL") or str(state_dir() / "storage")


def default_dagster_home() -> Path:
    """``DAGSTER_HOME`` or ``<state>/dagster_home``; makes sure a ``dagster.yaml`` is in it."""
    home = Path(os.environ.get("DAGSTER_HOME") or state_dir() / "dagster_home")
    home.mkdir(parents=True, exist_ok=True)
    cfg = home / "dagster.yaml"
    template = PROJECT_ROOT / "dagster.yaml"
    if not cfg.exists() and template.exists():
        cfg.write_text(template.read_text())
    return home


def default_batch_size() -> int:
    """``BATCH_SIZE`` (rows per load batch), default 1000."""
    try:
        return max(1, int(os.environ.get("BATCH_SIZE", "1000")))
    except ValueError:
        return 1000
