"""Definitions of the imports source (group ``imports``, seed 003): the import asset and
job, its counts check, the landing sensor. Resources (``warehouse``, ``blob_store``) come from the root."""

from dagster import Definitions

from .assets import import_file_job, import_job
from .checks import import_counts_add_up
from .sensors import imports_landing_sensor

defs = Definitions(assets=[import_job], asset_checks=[import_counts_add_up], jobs=[import_file_job],
                   sensors=[imports_landing_sensor])
