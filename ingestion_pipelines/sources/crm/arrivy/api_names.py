"""Names of the Arrivy API sync (contracts: the UI, ``ingest sync-arrivy-*``, ``dagster job
execute -j``, dagster.yaml's run-tag limit), from the engine's
:class:`~ingestion_pipelines.engine.api.names.ApiNames`. Imports no Dagster, so the command line
reads it cheaply.

Streams ``tasks``, ``bookings``, ``entities``, ``groups``: assets ``arrivy/<stream>``, jobs
``arrivy_<stream>`` and ``arrivy_all``, commands ``ingest sync-arrivy-<stream>`` and
``ingest sync-arrivy-all``, schedules ``arrivy_incremental_schedule`` / ``arrivy_full_schedule``,
run tag ``arrivy/account``, ``sync_state`` source ``arrivy``.
"""

from ....engine.api.names import ApiNames

NAMES = ApiNames("arrivy", ("tasks", "bookings", "entities", "groups"))
#: the stand-in ``ingest demo`` syncs from (its ``demo()``)
STANDIN = "ingestion_pipelines.standins.arrivy"
