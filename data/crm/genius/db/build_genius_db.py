"""Build the demo's Genius CRM database: a small SQLite copy of the Genius MySQL schema with
sample rows (``crm/SEED_SYSTEM.md`` §2; the tables of
``ingestion_pipelines/sources/crm/genius/source_schema.py``, the rows of ``sample_db.py``:
NULL foreign keys, orphans, zero dates, accented and emoji names, rows sharing one
``updated_at`` second).

    python data/crm/genius/db/build_genius_db.py [PATH]   # default: <state dir>/genius_sample.db

prints the ``GENIUS_DB_URL`` to use (``sqlite:///PATH``). ``ingest demo`` builds it the same way
(:func:`build`) and syncs it offline. An existing file at PATH is replaced.
"""

from __future__ import annotations

import sys
from pathlib import Path


def build(path: str | Path) -> str:
    """Write the sample database at ``path`` (replacing it); returns its SQLAlchemy URL."""
    import sqlalchemy as sa

    from ingestion_pipelines.sources.crm.genius.sample_db import fill

    path = Path(path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    engine = sa.create_engine(url)
    fill(engine, seed=4)
    engine.dispose()
    return url


if __name__ == "__main__":
    from ingestion_pipelines.settings import state_dir

    print(build(sys.argv[1] if len(sys.argv) > 1 else state_dir() / "genius_sample.db"))
