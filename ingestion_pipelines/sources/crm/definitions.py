"""Definitions of the CRM sources (DESIGN.md §10): each system's parts merged.

Each system folder exports ``defs`` from one module per ingestion method (its CSV exports,
its database, its API); adding one is a line in ``PARTS``.
"""

from __future__ import annotations

from dagster import Definitions

from .arrivy import api_definitions as arrivy_api
from .arrivy import csv_definitions as arrivy_csv
from .genius import api_definitions as genius_api
from .genius import csv_definitions as genius_csv
from .genius import db_definitions as genius_db
from .hubspot import api_definitions as hubspot_api
from .hubspot import csv_definitions as hubspot_csv
from .leadconduit import api_definitions as leadconduit_api
from .leadconduit import csv_definitions as leadconduit_csv
from .marketsharp import api_definitions as marketsharp_api
from .salespro import csv_definitions as salespro_csv

PARTS: tuple = (genius_db, hubspot_api, genius_csv, salespro_csv, leadconduit_csv, arrivy_csv, hubspot_csv,
                arrivy_api, leadconduit_api, genius_api, marketsharp_api)

defs = Definitions.merge(*(part.defs for part in PARTS)) if PARTS else Definitions()
