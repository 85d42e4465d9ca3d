"""Dagster objects of LeadConduit's CSV export of leads (DESIGN.md §10): the asset
``leadconduit/csv_leads``, its checks (with the ZIP/state check against ``hubspot_zipcodes``,
WARN), a job and a landing sensor on ``crm/leadconduit/leads/``, from the engine's factory."""

from __future__ import annotations

from ....engine.profile_assets import csv_definitions
from ....engine.profile_geography import zip_state_check
from .csv_streams import LEADS, PROFILES

defs = csv_definitions(PROFILES, extra_checks=[zip_state_check(LEADS, "postal_code", "state")])
