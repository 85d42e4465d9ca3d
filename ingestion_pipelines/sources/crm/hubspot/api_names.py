"""Names of the HubSpot API sync, in one place (contracts: the UI, ``ingest sync-hubspot-*``,
``dagster job execute -j``, dagster.yaml's run-tag limit). Imports nothing, so the command line
reads it without loading Dagster.

Streams: ``contacts``, ``companies``, ``deals``, ``appointments`` (object 0-421),
``associations``; per stream: asset ``hubspot/<stream>``, job ``hubspot_<stream>``, command
``ingest sync-hubspot-<stream>``; all of them: job ``hubspot_all``, command
``ingest sync-hubspot-all``. Stream names are also the ``sync_state`` / ``sync_history`` streams
(source ``hubspot``).
"""

GROUP = "hubspot"
STREAMS = ("contacts", "companies", "deals", "appointments", "associations")
ALL_JOB = "hubspot_all"
INCREMENTAL_SCHEDULE = "hubspot_incremental_schedule"
FULL_SCHEDULE = "hubspot_full_schedule"
#: the multi-asset (one step) that syncs the selected streams, sharing one client and budget
ASSET_NAME = "hubspot_sync"
#: resource key of the portal (HubspotResource)
RESOURCE = "hubspot"
#: run tag naming the portal a run syncs (RULES: dagster.yaml limits each value to one run)
PORTAL_TAG = "hubspot/portal"
PORTAL = "default"


def job(stream: str) -> str:
    """The job of one stream: ``hubspot_contacts``."""
    return f"hubspot_{stream}"


def command(stream: str) -> str:
    """The ``ingest`` command of one stream (or ``all``): ``sync-hubspot-contacts``."""
    return f"sync-hubspot-{stream}"
