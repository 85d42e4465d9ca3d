"""Dagster objects of HubSpot's CSV export of ZIP codes (DESIGN.md §10): the asset
``hubspot/csv_zipcodes`` (the geography reference the other systems' ZIP/state checks read),
its checks, a job and a landing sensor on ``crm/hubspot/zipcodes/``, from the engine's factory."""

from __future__ import annotations

from ....engine.profile_assets import csv_definitions
from .csv_streams import PROFILES

defs = csv_definitions(PROFILES)
