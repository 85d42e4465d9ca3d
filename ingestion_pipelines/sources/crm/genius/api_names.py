"""Names of the Genius REST API sync (contracts: the UI, ``ingest sync-genius-*``, ``dagster job
execute -j``, dagster.yaml's run-tag limit), from the engine's
:class:`~ingestion_pipelines.engine.api.names.ApiNames`. Imports no Dagster, so the command line
reads it cheaply.

Streams (DESIGN.md §10), parents first (the order ``genius_all`` runs them): ``divisions``,
``users``, ``services``, ``marketing-sources``, ``prospects``, ``appointments``. Per stream:
asset ``genius/api_<stream_snake>`` (group ``genius``; ``genius/<table>`` is the database
sync's asset and ``genius/csv_<object>`` the CSV import's, so the three methods that fill the
same ``genius_*`` tables never share an asset key), job ``genius_<stream_snake>``, command
``ingest sync-genius-<stream>``; all of them: job ``genius_all``, command
``ingest sync-genius-all``, schedules ``genius_incremental_schedule`` /
``genius_full_schedule``, run tag ``genius/account``. ``sync_state`` / ``sync_history``: source
:data:`SOURCE` (``genius_api``: its own watermarks, never the database sync's), stream
``<stream>``.
"""

from ....engine.api.names import ApiNames

NAMES = ApiNames("genius", ("divisions", "users", "services", "marketing-sources", "prospects", "appointments"),
                 asset_prefix="api_", prefix="genius_api", sync_source="genius_api")

#: ``sync_state`` / ``sync_history`` source of the API sync (the database sync's is ``genius``)
SOURCE = NAMES.source
#: the stand-in ``ingest demo`` syncs from (its ``demo()``)
STANDIN = "ingestion_pipelines.standins.genius"
