"""Counting helpers for the sources' asset checks: :func:`counts` and :func:`none_found`.

Every standalone check of a source is one ``@asset_check`` function (Dagster's own style for
checks that read the warehouse after a materialization, as dagster-open-platform's
``fivetran/py/checks.py``) that counts offending rows with SQLAlchemy and returns an
``AssetCheckResult`` whose metadata names each count. Severity is chosen per check: ERROR
(the default) where the data is wrong, WARN where it is only suspicious. Checks that need
what a run read (the tenants' per-partition checks) are emitted by their asset instead
(``check_specs`` + ``MaterializeResult(check_results=...)``).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from dagster import AssetCheckResult, AssetCheckSeverity


def counts(warehouse, metadata: sa.MetaData, **queries: sa.Select) -> dict[str, int]:
    """Each query's scalar (a count) by name, in one connection, after creating the source's
    tables (``metadata``) so that a check before the first load counts zero."""
    warehouse.setup(metadata)
    with warehouse.engine.connect() as conn:
        return {name: int(conn.execute(q).scalar() or 0) for name, q in queries.items()}


def none_found(found: dict[str, int], *, severity: AssetCheckSeverity = AssetCheckSeverity.ERROR,
               **metadata: Any) -> AssetCheckResult:
    """Passed when every count in ``found`` is 0; the counts (and ``metadata``) as metadata."""
    return AssetCheckResult(passed=not any(found.values()), severity=severity, metadata={**found, **metadata})
