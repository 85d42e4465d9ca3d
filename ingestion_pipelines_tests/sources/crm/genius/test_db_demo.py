"""`ingest demo`'s Genius step: builds the bundled SQLite sample (data/crm/genius/db) and syncs
it offline into the default warehouse of the isolated state dir; run again, nothing changes.
Needs no MySQL (the row path: SQLite source, SQLite warehouse)."""

from __future__ import annotations

import os

import sqlalchemy as sa

from ingestion_pipelines.cli.genius_db import DEMO_STEPS
from ingestion_pipelines.launch import materializations
from ingestion_pipelines.resources.warehouse import WarehouseResource
from ingestion_pipelines.sources.crm.genius import schema


def test_demo_step_syncs_the_sample_offline_and_again_changes_nothing():
    before = os.environ.get("GENIUS_DB_URL")
    # the default warehouse is shared by the session's tests: the Genius API's demo step writes
    # these same genius_* tables (same ids), so start from none of them
    schema.metadata.drop_all(WarehouseResource().engine)
    step, = DEMO_STEPS
    first, = step.run()
    assert first.success
    mats = materializations(first)
    assert len(mats) == len(schema.TABLES)
    assert mats["genius/prospects"]["mode"] == "full" and mats["genius/prospects"]["inserted"] == 60
    assert mats["genius/prospects"]["warnings"] > 0  # the sample's zero dates
    assert os.environ.get("GENIUS_DB_URL") == before  # the sample URL was for the demo's run only
    wh = WarehouseResource()
    with wh.engine.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(schema.genius_appointments)).scalar() == 90
    second, = step.run()  # a rebuilt sample with the same rows: nothing to write
    assert second.success
    again = materializations(second)
    assert sum(md["inserted"] + md["updated"] for md in again.values()) == 0
    assert again["genius/prospects"]["mode"] == "incremental"
