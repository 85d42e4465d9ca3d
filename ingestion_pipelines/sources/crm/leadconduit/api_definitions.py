"""Dagster objects of the LeadConduit (ActiveProspect) API sync (DESIGN.md §6, §10), from the
engine's factory :func:`~ingestion_pipelines.engine.api.definitions.api_definitions`: the
multi-asset ``leadconduit_sync`` (assets ``leadconduit/events`` and ``leadconduit/leads``),
jobs ``leadconduit_events``, ``leadconduit_leads`` and ``leadconduit_all``, the schedules
``leadconduit_incremental_schedule`` / ``leadconduit_full_schedule`` (stopped by default) and
the account resource ``leadconduit`` (``ACTIVEPROSPECT_*`` read as ``EnvVar`` s: names shown,
never values). The runner is ``api_sync.run`` (``leads`` are derived from the stored events)."""

from __future__ import annotations

from ....engine.api.definitions import api_definitions
from .api_names import NAMES
from .api_streams import EVENTS, LEADS_STREAM
from .api_sync import LeadConduitResource, run

defs = api_definitions(NAMES, (EVENTS, LEADS_STREAM), LeadConduitResource.from_env(), runner=run, kind="leadconduit")
