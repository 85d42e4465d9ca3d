"""`ingest webhooks serve [--host H] [--port P]`: the HubSpot webhook receiver (DESIGN.md §10
"Webhooks"), in the foreground until Ctrl-C.

It stores every signed event in ``webhook_events`` of the warehouse (``WAREHOUSE_URL``, else the
local SQLite file) before it answers 2xx; the ``hubspot_webhooks_sensor`` (turn it on in the UI,
with ``dagster-daemon`` running) applies them to the HubSpot tables. Variables:
``HUBSPOT_WEBHOOK_SECRET`` (the HubSpot app's client secret: required),
``HUBSPOT_WEBHOOK_PUBLIC_URL`` (the URL HubSpot calls, e.g. ``https://hooks.example.com``, when
the receiver sits behind a proxy that changes the scheme or host), and the API variables of
``ingest sync-hubspot-*`` for the sensor's runs. Not a Dagster run (Dagster is imported only for the
warehouse resource that reads WAREHOUSE_URL).
"""

from __future__ import annotations

import os

import click

SECRET = "HUBSPOT_WEBHOOK_SECRET"
PUBLIC_URL = "HUBSPOT_WEBHOOK_PUBLIC_URL"


@click.group("webhooks")
def webhooks() -> None:
    """Receive webhooks (HubSpot) into the warehouse's webhook_events."""


@webhooks.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: every interface).")
@click.option("--port", type=click.IntRange(0, 65535), default=8090, show_default=True, help="Port to listen on.")
@click.option("--public-url", default=None, metavar="URL",
              help=f"The URL HubSpot calls (scheme and host), when a proxy changes them [env {PUBLIC_URL}].")
@click.option("--legacy-signatures", is_flag=True,
              help="Also accept v1/v2 signatures (older apps; they sign no timestamp, so replays are not bounded).")
@click.option("--max-body-bytes", type=click.IntRange(min=1024), default=None,
              help="Largest request body accepted (413 past it) [default 8 MiB].")
def serve(host: str, port: int, public_url: str | None, legacy_signatures: bool, max_body_bytes: int | None) -> None:
    """Serve POST /webhooks/hubspot (and /webhooks/hubspot/contacts/) and GET /health."""
    from ..resources.warehouse import WarehouseResource
    from ..sources.crm.hubspot import webhook_receiver

    secret = os.environ.get(SECRET, "")
    if not secret:
        raise click.UsageError(f"{SECRET} is not set: the receiver needs the HubSpot app's client secret "
                               "to check signatures")
    warehouse = WarehouseResource()
    click.echo(f"HubSpot webhook receiver on http://{host}:{port}{webhook_receiver.PATHS[0]} "
               f"(warehouse {warehouse.display_url()}); Ctrl-C stops it", err=True)
    options = {"legacy": legacy_signatures, "public_url": public_url or os.environ.get(PUBLIC_URL) or None}
    if max_body_bytes:
        options["max_body"] = max_body_bytes
    webhook_receiver.serve(warehouse.engine, secret, host, port, **options)


COMMANDS = [webhooks]
DEMO_STEPS: list = []
