"""Dagster objects of Arrivy's CSV export of tasks (DESIGN.md §10): the asset ``arrivy/csv_tasks``,
its checks (with the ZIP/state check against ``hubspot_zipcodes``, WARN), a job and a landing
sensor on ``crm/arrivy/tasks/``, from the engine's factory."""

from __future__ import annotations

from ....engine.profile_assets import csv_definitions
from ....engine.profile_geography import zip_state_check
from .csv_streams import PROFILES, TASKS

defs = csv_definitions(PROFILES, extra_checks=[zip_state_check(TASKS, "zipcode", "state")])
