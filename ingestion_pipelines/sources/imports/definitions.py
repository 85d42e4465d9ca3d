"""Definitions of the imports source (group ``imports``, seed 003): the import asset and
job, its counts check, the landing sensor. Resources (``warehouse``, ``blob_store``) come from the root."""

from dagster import Definitions

from .assets import import_job
from .checks import import_counts_add_up
from .jobs import JOBS
from .sensors import imports_landing_sensor

defs = Definitions(assets=[import_job], asset_checks=[import_counts_add_up], jobs=JOBS,
                   sensors=[imports_landing_sensor])
