"""The imports source's names, in one place: its group, landing prefix and job name.

They are contracts (the UI, the README, ``dagster job execute -j``, ``ingest``'s commands,
the contract snapshot; the job keeps the name seed 003's deployments used). This module
imports nothing, so the command line reads it without loading Dagster.
"""

GROUP = "imports"
LANDING_PREFIX = "imports/"  # the landing sensor: imports/<importer>/<file>
FILE_IMPORT_JOB = "imports_file_import"
