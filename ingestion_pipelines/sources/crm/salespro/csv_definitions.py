"""Dagster objects of SalesPro's CSV exports (DESIGN.md §10): per profile of ``csv_streams.PROFILES``
an asset ``salespro/csv_<object>``, its checks, a job and a landing sensor on ``crm/salespro/<object>/``,
all from the engine's factory."""

from __future__ import annotations

from ....engine.profile_assets import csv_definitions
from .csv_streams import PROFILES

defs = csv_definitions(PROFILES)
