"""Names of the Genius REST API sync (contracts: the UI, ``ingest sync-genius-*``, ``dagster job
execute -j``, dagster.yaml's run-tag limit), from the engine's
:class:`~ingestion_pipelines.engine.api.names.ApiNames`. Imports no Dagster, so the command line
reads it cheaply.

Streams (DESIGN.md §10), parents first (the order ``genius_api_all`` runs them): ``divisions``,
``users``, ``services``, ``marketing-sources``, ``prospects``, ``appointments``. Per stream:
asset ``genius/api_<stream_snake>`` (group ``genius``; ``genius/<table>`` is the database
sync's asset and ``genius/csv_<object>`` the CSV import's, so the three methods that fill the
same ``genius_*`` tables never share an asset key), job ``genius_api_<stream_snake>``, command
``ingest sync-genius-<stream>``; all of them: job ``genius_api_all``, command
``ingest sync-genius-all``, schedules ``genius_api_incremental_schedule`` /
``genius_api_full_schedule``, multi-asset ``genius_api_sync``, resource key ``genius_api``, run
tag ``genius/account`` (the database sync's are ``genius_db_*`` and ``genius/table``).
``sync_state`` / ``sync_history``: source :data:`SOURCE` (``genius_api``: its own watermarks,
never the database sync's ``genius``), stream ``<stream>``.
"""

from ....engine.api.names import ApiNames

NAMES = ApiNames("genius", ("divisions", "users", "services", "marketing-sources", "prospects", "appointments"),
                 asset_prefix="api_", prefix="genius_api", sync_source="genius_api")

#: ``sync_state`` / ``sync_history`` source of the API sync (the database sync's is ``genius``)
SOURCE = NAMES.source
#: the stand-in ``ingest demo`` syncs from (its ``demo()``)
STANDIN = "ingestion_pipelines.standins.genius"
