"""The tenants source's names, in one place: its group, partitions, landing keys and job names.

They are contracts (the UI, the README, ``dagster job execute -j``, ``ingest``'s commands,
the contract snapshot). This module imports nothing, so the command line reads it without
loading Dagster.
"""

GROUP = "tenants"
PARTITIONS = "tenants"  # the DynamicPartitionsDefinition: one partition per tenant id
LANDING_PREFIX = "tenants/"  # the landing sensor and bulk-ingest: tenants/tenants.csv, tenants/<id>/<file>
TENANTS_CSV_KEY = f"{LANDING_PREFIX}tenants.csv"
LOAD_JOB = "tenants_load_job"
FILES_JOB = "tenants_files_job"
