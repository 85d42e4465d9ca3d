"""`ingest` commands of the HubSpot API sync (DESIGN.md §10; seed 004's
``sync_hubspot_<object> [--full] [--lastmodifieddate D] [--limit N] [--dry-run]``).

``ingest sync-hubspot-{contacts,companies,deals,appointments,associations}`` and
``ingest sync-hubspot-all``, each with ``--full``, ``--since DATETIME`` (= ``--lastmodifieddate``),
``--limit N`` (stop after N records per object), ``--dry-run``: one real Dagster run on the
``DAGSTER_HOME`` instance, a progress line on standard error (records committed so far, from
``sync_history``), then the run's summary. Auth: ``HUBSPOT_ACCESS_TOKEN`` (or
``HUBSPOT_API_TOKEN``) or ``HUBSPOT_CLIENT_ID`` + ``HUBSPOT_CLIENT_SECRET`` +
``HUBSPOT_REFRESH_TOKEN``; ``HUBSPOT_BASE_URL`` (default ``https://api.hubapi.com``).
``ingest demo`` starts the HubSpot stand-in on a free loopback port in this process and syncs a
small portal from it (offline).
"""

from __future__ import annotations

import datetime as dt
import os
import sys

import click

from ..sources.crm.hubspot import api_names as names
from .steps import DemoStep


def run_config(*, full: bool = False, since: str = "", limit: int = 0, dry_run: bool = False):
    """The typed ``dagster.RunConfig`` of a HubSpot job for these options."""
    from dagster import RunConfig

    from ..sources.crm.hubspot.api_definitions import HubspotSyncConfig

    return RunConfig(ops={names.ASSET_NAME: HubspotSyncConfig(full=full, since=since, limit=limit, dry_run=dry_run)})


def _run(job: str, full: bool, since: str, lastmodifieddate: str, limit: int | None, dry_run: bool) -> None:
    """Launch ``job`` with the options behind the progress line, print its summary, exit 0/1."""
    from ..launch import launch, summarize
    from .progress import committed_progress, rows_read_since

    if since and lastmodifieddate and since != lastmodifieddate:
        raise click.UsageError("--since and --lastmodifieddate are the same option: give one")
    since = since or lastmodifieddate
    if full and since:
        raise click.UsageError("use --full or --since, not both")
    if since:
        try:
            dt.datetime.fromisoformat(since.strip().replace("Z", "+00:00"))
        except ValueError:
            raise click.UsageError(f"--since: expected YYYY-MM-DD[THH:MM:SS], got {since!r}") from None
    with committed_progress("hubspot records", rows_read_since("hubspot")):
        result = launch(job, run_config(full=full, since=since, limit=limit or 0, dry_run=dry_run))
    click.echo(summarize(result))
    sys.exit(0 if result.success else 1)


def _command(stream: str) -> click.Command:
    what = "every HubSpot stream (contacts, companies, deals, appointments, then associations)" if stream == "all" \
        else f"HubSpot {stream}" + (" (object 0-421)" if stream == "appointments" else "")

    @click.command(names.command(stream))
    @click.option("--full", is_flag=True, help="Read every record (list endpoint), not only those changed since the watermark.")
    @click.option("--since", default="", metavar="DATETIME", help="Incremental from this time (YYYY-MM-DD[THH:MM:SS], UTC) instead of the watermark.")
    @click.option("--lastmodifieddate", default="", metavar="DATE", help="The seed's name of --since.")
    @click.option("--limit", type=click.IntRange(min=1), default=None, help="Stop after N records per object (for trying it out).")
    @click.option("--dry-run", is_flag=True, help="Read and compare everything; write nothing.")
    def cmd(full: bool, since: str, lastmodifieddate: str, limit: int | None, dry_run: bool) -> None:
        _run(names.ALL_JOB if stream == "all" else names.job(stream), full, since, lastmodifieddate, limit, dry_run)

    cmd.help = f"Sync {what} into the warehouse (incremental since the watermark; the first run reads everything)."
    return cmd


COMMANDS = [_command(s) for s in (*names.STREAMS, "all")]

#: the portal ``ingest demo`` serves from the stand-in
DEMO_PORTAL = {"contacts": 300, "companies": 40, "deals": 60, "appointments": 80}


def _demo() -> list:
    """Start the HubSpot stand-in on a free loopback port in this process, sync every stream
    from it with ``hubspot_all`` (``HUBSPOT_BASE_URL`` / ``HUBSPOT_ACCESS_TOKEN`` point at it for
    these runs only), change a few contacts (10 touched, 2 archived, 1 merged) and sync the
    contacts again (incremental: exactly those), stop it."""
    from ..launch import launch
    from ..standins import hubspot as standin

    portal = standin.Portal.seeded(seed=4, **DEMO_PORTAL)
    saved = {k: os.environ.get(k) for k in ("HUBSPOT_BASE_URL", "HUBSPOT_ACCESS_TOKEN")}
    with standin.serve(portal) as server:
        os.environ.update(HUBSPOT_BASE_URL=server.url, HUBSPOT_ACCESS_TOKEN=standin.DEFAULT_TOKEN)
        try:
            first = launch(names.ALL_JOB, run_config(), tags={"demo": "true"})
            ids = sorted(portal.live["contacts"])  # then some changes, and an incremental run
            portal.touch("contacts", ids[:10], same_ms=True)
            portal.archive("contacts", ids[10:12])
            portal.merge("contacts", ids[20], ids[21])
            return [first, launch(names.job("contacts"), run_config(), tags={"demo": "true"})]
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


DEMO_STEPS = [DemoStep("hubspot: sync a small portal from the HubSpot stand-in (local HTTP server, offline), "
                       "then its changes incrementally", _demo)]
