"""Names of the Genius database sync, in one place (contracts: the UI, ``ingest db-genius-*``,
``dagster job execute -j``, dagster.yaml's run-tag limits). Imports nothing, so the command
line reads it without loading Dagster.

Per table (``<objects>`` = the warehouse table without ``genius_``, e.g. ``prospects``,
``appointment_services``, ``users``): asset ``genius/<objects>``, job ``genius_db_<objects>``,
command ``ingest db-genius-<objects with dashes>``. Source table names (``prospect``,
``user_data``, ...) are the stream names in ``sync_state`` / ``sync_history`` and the value of
the run tag ``genius/table``.
"""

GROUP = "genius"
#: The job of every table in dependency order, and the schedules that run it.
ALL_JOB = "genius_db_all"
INCREMENTAL_SCHEDULE = "genius_db_incremental_schedule"
FULL_SCHEDULE = "genius_db_full_schedule"
#: Run tag naming the Genius source table a run syncs (RULES: dagster.yaml limits each value to one run);
#: ``genius_db_all`` runs carry the value ``all``.
TABLE_TAG = "genius/table"
#: Run tag of every Genius sync, database and API alike (value ``default``: one Genius account):
#: dagster.yaml limits each value to one run, so a ``genius_db_all`` run never overlaps a
#: single-table run, and the DB and API syncs, which write the same ``genius_*`` tables, never
#: land interleaved reads of one record. The API sync's ``ApiNames.account_tag`` is the same.
ACCOUNT_TAG, ACCOUNT = "genius/account", "default"
#: The multi-asset (one step) that syncs the selected tables.
ASSET_NAME = "genius_db"
#: Resource key of the source database (MySQLResource).
RESOURCE = "genius_db"


def objects(warehouse_table: str) -> str:
    """``genius_prospect_sources`` -> ``prospect_sources``."""
    return warehouse_table.removeprefix("genius_")


def table_job(warehouse_table: str) -> str:
    """The job syncing one table: ``genius_db_prospects``."""
    return f"genius_db_{objects(warehouse_table)}"


def command(warehouse_table: str) -> str:
    """The ``ingest`` command of one table: ``db-genius-prospect-sources``."""
    return "db-genius-" + objects(warehouse_table).replace("_", "-")
