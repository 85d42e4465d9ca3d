"""The HubSpot webhook receiver (DESIGN.md §10 "Webhooks"; ``crm/APIS.md`` §1): a Starlette
app, :func:`create_app`, served by uvicorn with :func:`serve` (``ingest webhooks serve``).

``POST /webhooks/hubspot`` (and the seed's ``/webhooks/hubspot/contacts/``), per request:

1. the body is read up to ``max_body`` bytes: past it **413** (``Content-Length`` checked first);
2. the signature (:func:`~.webhook_signature.verify`: v3 with a timestamp within 5 minutes;
   v1/v2 only with ``legacy``) — else **401**;
3. ``Content-Type`` must be ``application/json`` — else **415**;
4. the body must be a batch of events (:func:`~.webhook_events.parse_batch`) — else **400**;
5. the events are inserted into ``webhook_events`` and committed (one transaction, on a
   worker thread) — then **200** ``{"stored": n, "duplicates": d}``. A database error answers
   **503**: HubSpot retries, so an event is acknowledged only once it is stored.

A refused request stores nothing. ``GET /health`` answers 200 ``{"status": "ok"}`` when the
database answers, else 503. Logs carry the route, the status, the reason and the counts, never
a header, a signature, the secret or an event's values.

The URI a v3 signature covers is rebuilt from the request: ``public_url`` (the URL HubSpot is
configured with, e.g. ``https://hooks.example.com``, for a receiver behind a proxy) joined to
the raw path and query, else the scheme and ``Host`` the request came with.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from . import webhook_events as ev
from .webhook_signature import Refused, verify

PATHS = ("/webhooks/hubspot", "/webhooks/hubspot/contacts/")
#: the largest body accepted (bytes): 100 events with long property values (HubSpot allows
#: 65,536 characters per value) stay under it
MAX_BODY = 8 * 1024 * 1024
log = logging.getLogger("ingestion_pipelines.webhooks")


class _TooLarge(Exception):
    pass


def create_app(engine: sa.Engine, secret: str, *, max_body: int = MAX_BODY, legacy: bool = False,
               public_url: str | None = None) -> Starlette:
    """The receiver's ASGI app, storing into ``engine``'s ``webhook_events`` (created when
    missing). ``secret``: the app's client secret (``HUBSPOT_WEBHOOK_SECRET``); ``legacy``:
    accept v1/v2 signatures; ``public_url``: see the module docstring. ``ValueError`` without
    a secret."""
    if not secret:
        raise ValueError("HUBSPOT_WEBHOOK_SECRET is not set: the receiver cannot check signatures")
    ev.metadata.create_all(engine, checkfirst=True)

    async def receive(request: Request) -> JSONResponse:
        t0 = time.perf_counter()
        try:
            body = await _body(request, max_body)
            verify(request.headers, request.method, _uri(request, public_url), body, secret,
                   int(time.time() * 1000), legacy=legacy)
            ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if ctype != "application/json":
                return _refuse(request, 415, "expected Content-Type: application/json")
            rows = ev.parse_batch(body, dt.datetime.now(dt.timezone.utc))
        except _TooLarge:
            return _refuse(request, 413, f"body larger than {max_body} bytes")
        except Refused as e:
            return _refuse(request, 401, str(e))
        except ev.BadBatch as e:
            return _refuse(request, 400, str(e))
        try:
            stored, dupes = await run_in_threadpool(ev.store, engine, rows)
        except sa.exc.SQLAlchemyError as e:
            log.error("%s: events not stored (%s); answered 503, HubSpot retries", request.url.path, type(e).__name__)
            return JSONResponse({"error": "events not stored; retry"}, status_code=503)
        log.info("%s: %d events stored, %d duplicates (%.1f ms)", request.url.path, stored, dupes,
                 (time.perf_counter() - t0) * 1000)
        return JSONResponse({"stored": stored, "duplicates": dupes})

    async def health(_request: Request) -> JSONResponse:
        try:
            await run_in_threadpool(_ping, engine)
        except sa.exc.SQLAlchemyError as e:
            return JSONResponse({"status": "database unavailable", "error": type(e).__name__}, status_code=503)
        return JSONResponse({"status": "ok"})

    routes = [Route(p, receive, methods=["POST"]) for p in PATHS] + [Route("/health", health, methods=["GET"])]
    return Starlette(routes=routes)


def _ping(engine: sa.Engine) -> None:
    with engine.connect() as c:
        c.execute(sa.text("SELECT 1"))


async def _body(request: Request, limit: int) -> bytes:
    """The body, at most ``limit`` bytes (:class:`_TooLarge` past it, before reading it all)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _TooLarge()
    chunks, n = [], 0
    async for chunk in request.stream():
        n += len(chunk)
        if n > limit:
            raise _TooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


def _uri(request: Request, public_url: str | None) -> str:
    """The full URL HubSpot signed: ``public_url`` or scheme://Host, then the raw path and query."""
    raw = request.scope.get("raw_path") or request.url.path.encode()
    path = raw.decode("latin-1") + (("?" + request.scope["query_string"].decode("latin-1"))
                                    if request.scope.get("query_string") else "")
    base = public_url.rstrip("/") if public_url else f"{request.url.scheme}://{request.headers.get('host', '')}"
    return base + path


def _refuse(request: Request, status: int, reason: str) -> JSONResponse:
    log.warning("%s: refused %d: %s", request.url.path, status, reason)
    return JSONResponse({"error": reason}, status_code=status)


def serve(engine: sa.Engine, secret: str, host: str = "127.0.0.1", port: int = 8090, **options: Any) -> None:
    """Serve :func:`create_app` with uvicorn until interrupted (``options``: those of
    :func:`create_app`). No access log of headers; uvicorn's own log at ``info``."""
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(create_app(engine, secret, **options), host=host, port=port, log_level="info",
                access_log=False, lifespan="off")
