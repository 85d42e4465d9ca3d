"""Definitions of the Genius database sync (DESIGN.md §10): the ``genius_db`` multi-asset (one
asset per source table, with its foreign-key checks), the jobs and schedules, and the
``genius_db`` resource (:class:`MySQLResource`).

The resource gets ``GENIUS_DB_URL`` or the ``GENIUS_DB_*`` variables that are set when the code
location loads, as ``EnvVar`` (the UI shows the names, never the values); variables set later
(``ingest demo``) are read when the first run needs the source. Nothing set: a run fails fast
naming the variables; loading never needs them.
"""

from __future__ import annotations

import os

from dagster import Definitions, EnvVar

from ....resources.mysql import MySQLResource
from .db_assets import genius_db
from .db_jobs import JOBS, SCHEDULES
from .db_names import RESOURCE

FIELDS = (("url", "URL"), ("host", "HOST"), ("database", "NAME"), ("user", "USER"), ("password", "PASSWORD"))


def genius_db_resource() -> MySQLResource:
    """The source resource from the ``GENIUS_DB_*`` variables set now (``EnvVar`` each)."""
    kw: dict = {f: EnvVar(f"GENIUS_DB_{v}") for f, v in FIELDS if os.environ.get(f"GENIUS_DB_{v}")}
    if os.environ.get("GENIUS_DB_PORT"):
        kw["port"] = EnvVar.int("GENIUS_DB_PORT")
    return MySQLResource(**kw)


defs = Definitions(assets=[genius_db], jobs=JOBS, schedules=SCHEDULES,
                   resources={RESOURCE: genius_db_resource()})
