"""Dagster objects of Genius CRM's CSV exports (DESIGN.md §10): per profile of
``csv_streams.PROFILES`` an asset ``genius/csv_<object>``, its checks, a job and a landing sensor
on ``crm/genius/<object>/``, all from the engine's factory; prospects also get the ZIP/state check
against ``hubspot_zipcodes`` (WARN)."""

from __future__ import annotations

from ....engine.profile_assets import csv_definitions
from ....engine.profile_geography import zip_state_check
from .csv_streams import PROFILES, PROSPECTS

defs = csv_definitions(PROFILES, extra_checks=[zip_state_check(PROSPECTS, "zip", "state")])
