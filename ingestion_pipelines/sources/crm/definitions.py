"""Definitions of the CRM sources (DESIGN.md §10): each system's parts merged.

Each system folder exports ``defs`` from one module per ingestion method (its CSV exports,
its database, its API); adding one is a line in ``PARTS``.
"""

from __future__ import annotations

from dagster import Definitions

from .genius import db_definitions as genius_db
from .hubspot import api_definitions as hubspot_api

PARTS: tuple = (genius_db, hubspot_api)

defs = Definitions.merge(*(part.defs for part in PARTS)) if PARTS else Definitions()
