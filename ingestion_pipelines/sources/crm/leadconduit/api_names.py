"""Names of the LeadConduit (ActiveProspect) API sync (contracts: the UI, ``ingest
sync-leadconduit-*``, ``dagster job execute -j``, dagster.yaml's run-tag limit), from the
engine's :class:`~ingestion_pipelines.engine.api.names.ApiNames`. Imports no Dagster, so the
command line reads it cheaply.

Streams ``events`` (``GET /events`` -> ``leadconduit_events``) and ``leads`` (derived from the
events -> ``leadconduit_leads``, the CSV import's table): assets ``leadconduit/events`` and
``leadconduit/leads``, jobs ``leadconduit_events``, ``leadconduit_leads`` and
``leadconduit_all``, commands ``ingest sync-leadconduit-events`` / ``-leads`` / ``-all``,
schedules ``leadconduit_incremental_schedule`` / ``leadconduit_full_schedule`` (stopped by
default), run tag ``leadconduit/account``, ``sync_state`` source ``leadconduit``.
"""

from ....engine.api.names import ApiNames

NAMES = ApiNames("leadconduit", ("events", "leads"))
#: the stand-in ``ingest demo`` syncs (its ``demo()``)
STANDIN = "ingestion_pipelines.standins.leadconduit"
