"""A stand-in of the Genius CRM REST API (``../shared/crm/SEED_SYSTEM.md`` §3; APIS.md §8), for
tests and offline use.

Run it: ``python -m ingestion_pipelines.standins.genius --port 8767 [--prospects 500 ...]``
(prints the base URL, a static API token and a username/password); or from a test::

    crm = Genius.seeded(seed=1, prospects=200)
    with serve(crm) as server:            # a real HTTP server on a free loopback port
        requests.get(server.url + "/api/customers/prospect/", headers=server.auth_headers())

Nothing about a real Genius API is public (APIS.md §4): the paths and item fields are the ones
the seed system read (SEED_SYSTEM.md §3, :data:`PATHS`); the other fields of an item are the
columns of the Genius MySQL table it comes from (SEED_SYSTEM.md §2), named as the database
names them, so the two ways into the warehouse carry the same record. Shapes are Django REST
framework's: foreign keys as integer ids (``division: 3``), small lookups nested (``group:
{id, label}``), ``DATE`` as ``YYYY-MM-DD``, ``DATETIME`` as naive ISO 8601 (``USE_TZ=False``:
the wall time the database holds), ``TIME`` as ``HH:MM:SS``, booleans as JSON booleans.

What it does (every knob is a field of :class:`Limits`, so a test can change it):

* ``GET <path>``: DRF ``LimitOffsetPagination`` — ``limit`` (or ``page_size``; default
  ``default_limit``, at most ``max_limit``), ``offset``; answer ``{count, next, previous,
  results}`` with absolute ``next``/``previous`` URLs (``next_origin`` puts another origin in
  them, for the client's refusal); ``updated_since`` (ISO 8601, inclusive: ``updated_at >=``);
  ordered by ``id`` (the model's ordering; ``ordering=[-]updated_at`` / ``-id`` also work). ``GET
  <path><id>/`` returns one record (404 ``{"detail": "Not found."}``).
* Auth: ``Authorization: Bearer <t>`` (or DRF's ``Token <t>``) with a static API token
  (:attr:`Genius.api_tokens`, never expires) or an access token from ``POST /api/token/``
  (JSON or form ``username``/``password`` -> ``{refresh, access}``, SimpleJWT's shape), which
  expires after ``token_ttl_s`` (401 ``token_not_valid``). Wrong credentials: 401 ``No active
  account found with the given credentials``; no header: 401 ``Authentication credentials were
  not provided.``
* Faults (:meth:`Genius.inject`): any status (429 with or without ``Retry-After``, 5xx) for
  requests whose path contains a text; ``empty_last_page`` (the last page's ``next`` leads to a
  page with no results), ``page_overlap`` (each page repeats the last records of the one before:
  duplicates across pages), ``per_second`` (DRF throttling: 429 with ``Retry-After``).
* Test operations: :meth:`Genius.touch` (change records: a new ``updated_at``),
  :meth:`Genius.create`, and :attr:`Genius.on_page` hooks called after each page is served (to
  change records while a sync pages); :attr:`Genius.stats` counts requests, tokens and 401s.

This module imports nothing else of the project.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import secrets
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, ContextManager, Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .serving import Served, running, start_app

#: stream -> list path (SEED_SYSTEM.md §3)
PATHS = {
    "users": "/api/users/users/",
    "divisions": "/api/divisions/division/",
    "prospects": "/api/customers/prospect/",
    "appointments": "/api/appointments/appointment/",
    "marketing-sources": "/api/marketing_sources/",
    "services": "/api/services/service/",
}
DEFAULT_TOKEN = "genius-standin-api-token-0000"
DEFAULT_USERNAME = "standin"
DEFAULT_PASSWORD = "standin-password"
#: the second a third of the generated records share as ``updated_at`` (ties on the cursor)
SAME_SECOND = dt.datetime(2025, 6, 1, 12, 0, 0)
FIRST = ["José", "Müller", "Françoise", "Zoë", "Ana", "Li", "Søren", "Chloé", "Ömer", "Ada"]
LAST = ["García", "Núñez", "Brontë", "O'Neil", "Smith", "Dvorak", "Weiß", "Lefèvre", "Kim", "Ólafsson"]


def iso(d: dt.datetime | dt.date | dt.time | None) -> str | None:
    """DRF's rendering: ``2025-06-01T12:00:00`` (microseconds only when set), ``2025-06-01``, ``08:30:00``."""
    return None if d is None else d.isoformat()


@dataclass
class Limits:
    """The paging, token and fault knobs (defaults: a plain DRF deployment)."""

    default_limit: int = 100
    max_limit: int = 500
    token_ttl_s: float = 300.0
    empty_last_page: bool = False
    page_overlap: int = 0
    per_second: int | None = None
    next_origin: str | None = None


@dataclass
class Fault:
    """``count`` answers with ``status`` for requests whose path contains ``path_contains``
    (after ``skip`` matching requests passed); ``retry_after``: the header's value, or None."""

    status: int = 503
    count: int = 1
    path_contains: str = ""
    skip: int = 0
    retry_after: str | None = None


@dataclass
class Genius:
    """The state of one Genius account: records per stream (``id -> dict`` as served, with
    ``updated_at`` as a datetime), credentials, limits, faults, hooks and counters."""

    limits: Limits = field(default_factory=Limits)
    api_tokens: set[str] = field(default_factory=lambda: {DEFAULT_TOKEN})
    users: dict[str, str] = field(default_factory=lambda: {DEFAULT_USERNAME: DEFAULT_PASSWORD})
    records: dict[str, dict[int, dict]] = field(default_factory=lambda: {s: {} for s in PATHS})
    faults: list[Fault] = field(default_factory=list)
    #: called as ``hook(genius, stream, offset)`` once each list page is built, before it is sent
    #: (outside the lock; a hook that sleeps holds the server's event loop: a slow page)
    on_page: list[Callable[["Genius", str, int], None]] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)
    _access: dict[str, float] = field(default_factory=dict)
    _clock: dt.datetime = dt.datetime(2025, 1, 1)
    _throttle: list[float] = field(default_factory=list)
    _rng: random.Random = field(default_factory=random.Random)
    lock: threading.RLock = field(default_factory=threading.RLock)

    # -- building ----------------------------------------------------------------------
    @classmethod
    def seeded(cls, seed: int = 0, divisions: int = 6, users: int = 20, services: int = 5,
               marketing_sources: int = 8, prospects: int = 60, appointments: int = 90,
               limits: Limits | None = None, **kw: Any) -> "Genius":
        """An account of generated records (deterministic for a ``seed``), ids from 1 per
        stream like the Genius tables', ``updated_at`` in May 2025 (a third at :data:`SAME_SECOND`),
        a few NULL and orphan foreign keys."""
        g = cls(limits=limits or Limits(), **kw)
        g._rng = random.Random(seed)
        for stream, n in (("divisions", divisions), ("users", users), ("services", services),
                          ("marketing-sources", marketing_sources), ("prospects", prospects),
                          ("appointments", appointments)):
            g.create(stream, n, historic=True)
        return g

    def now(self) -> dt.datetime:
        """The account's clock (naive, UTC wall time): never backwards, past every stored time."""
        with self.lock:
            self._clock = max(self._clock + dt.timedelta(microseconds=1), dt.datetime.now(dt.timezone.utc).replace(tzinfo=None))
            return self._clock

    def create(self, stream: str, n: int, historic: bool = False) -> list[int]:
        """Add ``n`` generated records to ``stream`` (ids after the largest), updated now
        (``historic``: at times of May 2025); returns their ids."""
        ids = []
        with self.lock:
            recs = self.records[stream]
            for _ in range(n):
                rid = max(recs, default=0) + 1
                rec = _GENERATORS[stream](self, rid, self._rng)
                if historic:
                    rec["updated_at"] = SAME_SECOND if rid % 3 == 0 else _may(self._rng)
                else:
                    rec["updated_at"] = self.now()
                recs[rid] = rec
                ids.append(rid)
        return ids

    def _ref(self, stream: str, null: float = 0.05, orphan: float = 0.01) -> int | None:
        x = self._rng.random()
        if x < null:
            return None
        if x < null + orphan:
            return 9_999_999
        return self._rng.choice(list(self.records[stream])) if self.records[stream] else None

    # -- test operations ----------------------------------------------------------------
    def touch(self, stream: str, ids: list[int], **changes: Any) -> dt.datetime:
        """Change records of ``stream`` (``changes``, default a new ``notes``/``label``-like
        text) and give each a new ``updated_at``; returns the last time set."""
        t = self._clock
        with self.lock:
            for rid in ids:
                rec = self.records[stream][rid]
                key = "label" if "label" in rec else ("last_name" if "last_name" in rec else "notes")
                rec.update(changes or {key: f"touched {rid}"})
                t = rec["updated_at"] = self.now()
        return t

    def inject(self, *faults: Fault) -> None:
        """Queue faults; each is used up after ``count`` matching requests."""
        with self.lock:
            self.faults.extend(faults)

    def count(self, name: str, n: int = 1) -> None:
        with self.lock:
            self.stats[name] = self.stats.get(name, 0) + n

    def as_json(self, stream: str, rid: int) -> dict:
        """One record as the API serves it (datetimes, dates and times as DRF renders them)."""
        return {k: iso(v) if isinstance(v, (dt.date, dt.time)) else v for k, v in self.records[stream][rid].items()}


def _may(rng: random.Random) -> dt.datetime:
    return dt.datetime(2025, 5, 1) + dt.timedelta(seconds=rng.randrange(0, 86_400 * 30))


def _division(g: Genius, i: int, rng: random.Random) -> dict:
    group = rng.randint(1, 3)
    return {"id": i, "label": f"Division {i}", "abbreviation": f"D{i}", "is_inactive": i % 9 == 0,
            "group": {"id": group, "label": f"Group {group}"}, "region": {"id": 1, "label": "East"},
            "is_utility": False, "is_corp": i == 1, "is_omniscient": False,
            "created_at": dt.datetime(2025, 1, 2, 9, 0)}


def _user(g: Genius, i: int, rng: random.Random) -> dict:
    return {"id": i, "division": g._ref("divisions"), "first_name": rng.choice(FIRST), "first_name_alt": None,
            "last_name": rng.choice(LAST), "email": f"user{i}@example.com", "personal_email": None,
            "birth_date": dt.date(1980, 1, 1) if i % 5 else None, "gender": {"id": 1 + i % 2, "label": "-"},
            "marital_status": {"id": 1, "label": "-"}, "time_zone_name": "America/New_York",
            "title": rng.randint(1, 4), "manager": None if i < 3 else rng.randint(1, 2),
            "hired_on": dt.date(2020, 1, 1), "start_date": dt.date(2020, 2, 1), "add_user": None,
            "add_datetime": dt.datetime(2025, 1, 3, 10, 0), "primary_phone": "+15555550100", "cell_phone": None,
            "is_inactive": i % 10 == 0,
            "inactive_on": dt.datetime(2025, 3, 1, 17, 0) if i % 10 == 0 else None, "inactive_reason": None,
            "inactive_reason_other": None, "primary_user": None}


def _service(g: Genius, i: int, rng: random.Random) -> dict:
    return {"id": i, "label": rng.choice(["Roofing", "Siding", "Windows", "Gutters", "Solar"]) + f" {i}",
            "is_active": i % 7 != 0, "is_lead_required": i % 2 == 0, "order_number": i}


def _marketing_source(g: Genius, i: int, rng: random.Random) -> dict:
    return {"id": i, "name": f"Campaign {i}", "description": None if i % 2 else "spring mailer",
            "is_active": True, "type": rng.randint(1, 3), "start_date": dt.date(2025, 1, 1), "end_date": None,
            "add_user": None, "add_date": dt.datetime(2025, 1, 4, 8, 0), "is_allow_lead_modification": True}


def _prospect(g: Genius, i: int, rng: random.Random) -> dict:
    return {"id": i, "division": g._ref("divisions"), "first_name": rng.choice(FIRST), "last_name": rng.choice(LAST),
            "alt_first_name": None, "alt_last_name": None, "address1": f"{i} Main St", "address2": None,
            "city": "Springfield", "county": None, "state": "VA", "zip": f"{22000 + i % 900:05d}",
            "phone1": "5555550100", "phone2": None, "email": f"p{i}@example.com", "notes": "note" if i % 4 else None,
            "add_user": g._ref("users", 0.5), "add_date": _may(rng), "marketsharp_id": None, "leap_customer_id": None,
            "third_party_source_id": None}


def _appointment(g: Genius, i: int, rng: random.Random) -> dict:
    return {"id": i, "prospect": g._ref("prospects"), "prospect_source": None, "user": g._ref("users"),
            "type": rng.randint(1, 3), "date": dt.date(2025, 6, 1) + dt.timedelta(days=i % 60),
            "time": dt.time(8 + i % 10, 30), "duration": dt.time(1, 30), "address1": f"{i} Oak Ave", "address2": None,
            "city": "Springfield", "state": "VA", "zip": "22150", "email": None, "notes": None if i % 3 else "🏠 home",
            "add_user": None, "add_date": _may(rng), "assign_date": None, "confirm_user": None, "confirm_date": None,
            "confirm_with": None, "spouses_present": i % 2 == 0, "is_complete": i % 4 == 0,
            "complete_outcome": None if i % 4 else rng.randint(1, 4), "complete_user": None, "complete_date": None,
            "marketsharp_id": None, "marketsharp_appt_type": None, "leap_estimate_id": None,
            "third_party_source_id": None}


_GENERATORS: dict[str, Callable[[Genius, int, random.Random], dict]] = {
    "divisions": _division, "users": _user, "services": _service, "marketing-sources": _marketing_source,
    "prospects": _prospect, "appointments": _appointment}


# -- the ASGI app --------------------------------------------------------------------------

def _detail(status: int, detail: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"detail": detail, **extra}, status_code=status)


def _fault(g: Genius, path: str) -> Response | None:
    """The next injected fault for ``path`` (or a throttled answer), if any."""
    with g.lock:
        for f in g.faults:
            if f.path_contains in path:
                if f.skip > 0:
                    f.skip -= 1
                    return None
                f.count -= 1
                if f.count <= 0:
                    g.faults.remove(f)
                break
        else:
            return _throttled(g)
    g.count(f"fault_{f.status}")
    headers = {"Retry-After": f.retry_after} if f.retry_after else {}
    if f.status >= 500:  # Django's and a proxy's error pages are HTML, not JSON
        return Response(f"<h1>Server Error ({f.status})</h1>", f.status, headers=headers, media_type="text/html")
    return JSONResponse({"detail": "Request was throttled." if f.status == 429 else "injected fault"},
                        status_code=f.status, headers=headers)


def _throttled(g: Genius) -> Response | None:
    """DRF's throttle: ``per_second`` requests a second, else 429 with ``Retry-After: 1``."""
    if not g.limits.per_second:
        return None
    now = time.monotonic()
    g._throttle[:] = [t for t in g._throttle if now - t < 1.0]
    if len(g._throttle) >= g.limits.per_second:
        g.count("throttled")
        return JSONResponse({"detail": "Request was throttled. Expected available in 1 second."},
                            status_code=429, headers={"Retry-After": "1"})
    g._throttle.append(now)
    return None


def _authenticated(g: Genius, request: Request) -> Response | None:
    """None when the request carries a valid token (``Bearer`` or ``Token``), else the 401."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() not in ("bearer", "token") or not token:
        g.count("401")
        return _detail(401, "Authentication credentials were not provided.")
    with g.lock:
        if token in g.api_tokens:
            return None
        expiry = g._access.get(token)
        if expiry is not None and time.time() < expiry:
            return None
    g.count("401")
    g.count("401_expired" if expiry is not None else "401_unknown")
    return _detail(401, "Given token not valid for any token type", code="token_not_valid",
                   messages=[{"token_class": "AccessToken", "token_type": "access",
                              "message": "Token is invalid or expired"}])


def _page_url(request: Request, g: Genius, offset: int | None, limit: int) -> str | None:
    """The absolute URL of the page at ``offset`` (the request's query with ``limit``/``offset``
    replaced, DRF's ``replace_query_param``); None for no page."""
    if offset is None:
        return None
    base = urlsplit(str(request.url))
    if g.limits.next_origin:
        o = urlsplit(g.limits.next_origin)
        base = base._replace(scheme=o.scheme, netloc=o.netloc)
    q = [(k, v) for k, v in parse_qsl(base.query, keep_blank_values=True) if k not in ("limit", "offset", "page_size")]
    q += [("limit", str(limit))] + ([("offset", str(offset))] if offset else [])
    return urlunsplit(base._replace(query=urlencode(q)))


def _int_param(request: Request, name: str, default: int) -> int:
    try:
        return int(request.query_params.get(name, default))
    except ValueError:
        raise _Invalid({name: ["A valid integer is required."]}) from None


class _Invalid(Exception):
    def __init__(self, errors: dict):
        self.errors = errors


def _selected(g: Genius, stream: str, request: Request) -> list[int]:
    """Ids of ``stream`` matching ``updated_since`` in the requested order (id by default)."""
    since_text = request.query_params.get("updated_since")
    since = None
    if since_text:
        try:
            since = dt.datetime.fromisoformat(since_text.replace("Z", "+00:00"))
        except ValueError:
            raise _Invalid({"updated_since": ["Enter a valid date/time."]}) from None
        if since.tzinfo is not None:
            since = since.astimezone(dt.timezone.utc).replace(tzinfo=None)
    recs = g.records[stream]
    ids = [i for i in sorted(recs) if since is None or recs[i]["updated_at"] >= since]
    ordering = request.query_params.get("ordering", "id")
    if ordering.lstrip("-") == "updated_at":
        ids.sort(key=lambda i: (recs[i]["updated_at"], i))
    return ids[::-1] if ordering.startswith("-") else ids


def list_page(g: Genius, stream: str, request: Request) -> tuple[Response, int]:
    """One page of ``stream`` (module docstring); returns the answer and its offset."""
    lim = g.limits
    limit = _int_param(request, "limit", _int_param(request, "page_size", lim.default_limit))
    limit = min(max(limit, 1), lim.max_limit)
    offset = max(_int_param(request, "offset", 0), 0)
    with g.lock:
        ids = _selected(g, stream, request)
        start = max(offset - lim.page_overlap, 0) if 0 < offset < len(ids) else offset
        results = [g.as_json(stream, i) for i in ids[start:offset + limit]]
    count = len(ids)
    nxt = offset + limit if offset + limit < count else None
    if nxt is None and lim.empty_last_page and offset < count:
        nxt = count  # the last page points at one more, empty page
    prev = max(offset - limit, 0) if offset > 0 else None
    body = {"count": count, "next": _page_url(request, g, nxt, limit),
            "previous": _page_url(request, g, prev, limit) if prev is not None else None, "results": results}
    return JSONResponse(body), offset


def _endpoint(stream: str):
    async def endpoint(request: Request) -> Response:
        g: Genius = request.app.state.genius
        g.count("requests")
        g.count(f"requests_{stream}")
        fault = _fault(g, request.url.path)
        if fault is not None:
            return fault
        denied = _authenticated(g, request)
        if denied is not None:
            return denied
        rid = request.path_params.get("id")
        try:
            if rid is not None:
                with g.lock:
                    if rid not in g.records[stream]:
                        return _detail(404, "Not found.")
                    return JSONResponse(g.as_json(stream, rid))
            resp, offset = list_page(g, stream, request)
        except _Invalid as e:
            return JSONResponse(e.errors, status_code=400)
        g.count("pages")
        for hook in list(g.on_page):
            hook(g, stream, offset)
        return resp
    return endpoint


async def token(request: Request) -> Response:
    """``POST /api/token/`` (JSON or form ``username``, ``password``) -> ``{refresh, access}``."""
    g: Genius = request.app.state.genius
    g.count("token_requests")
    fault = _fault(g, request.url.path)
    if fault is not None:
        return fault
    raw = await request.body()
    try:
        form = json.loads(raw) if raw.strip().startswith(b"{") else dict(parse_qsl(raw.decode("utf-8", "replace")))
    except ValueError:
        return _detail(400, "JSON parse error")
    missing = {k: ["This field is required."] for k in ("username", "password") if not form.get(k)}
    if missing:
        return JSONResponse(missing, status_code=400)
    with g.lock:
        if g.users.get(form["username"]) != form["password"]:
            g.count("token_refused")
            return _detail(401, "No active account found with the given credentials")
        access = "eyJ" + secrets.token_urlsafe(32)
        g._access[access] = time.time() + g.limits.token_ttl_s
    g.count("tokens_issued")
    return JSONResponse({"refresh": "eyJ" + secrets.token_urlsafe(32), "access": access})


def app_for(g: Genius) -> Starlette:
    """The ASGI app serving ``g``."""
    routes = [Route("/api/token/", token, methods=["POST"])]
    for stream, path in PATHS.items():
        routes += [Route(path, _endpoint(stream), methods=["GET"]),
                   Route(path + "{id:int}/", _endpoint(stream), methods=["GET"])]
    app = Starlette(routes=routes)
    app.state.genius = g
    return app


# -- running it ----------------------------------------------------------------------------

@dataclass
class Server:
    """A running stand-in: ``url`` (``http://127.0.0.1:<port>``), ``genius``, ``stop()``."""

    url: str
    genius: Genius
    served: Served

    def auth_headers(self, token: str = DEFAULT_TOKEN) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def stop(self) -> None:
        self.served.stop()


def start(g: Genius, host: str = "127.0.0.1", port: int = 0) -> Server:
    """Serve ``g`` on a thread (``port=0``: a free port); returns when it listens."""
    served = start_app(app_for(g), host, port, name="Genius")
    return Server(served.url, g, served)


def serve(g: Genius, host: str = "127.0.0.1", port: int = 0) -> ContextManager[Server]:
    """:func:`start` as a context manager (stops the server afterwards)."""
    return running(start(g, host, port))


@contextmanager
def demo(seed: int = 4) -> Iterator[tuple[dict[str, str], Callable[[], None]]]:
    """``ingest demo``'s Genius account (6 divisions, 20 users, 5 services, 8 marketing sources,
    150 prospects, 200 appointments) served on a free loopback port: yields ``(variables,
    change)`` — ``GENIUS_BASE_URL`` / ``GENIUS_API_TOKEN`` for it, and a change of 10 prospects,
    3 new ones and 5 appointments."""
    g = Genius.seeded(seed, prospects=150, appointments=200)

    def change() -> None:
        g.touch("prospects", sorted(g.records["prospects"])[:10])
        g.create("prospects", 3)
        g.touch("appointments", sorted(g.records["appointments"])[:5], notes="rescheduled")

    with serve(g) as server:
        yield {"GENIUS_BASE_URL": server.url, "GENIUS_API_TOKEN": DEFAULT_TOKEN}, change


def main(argv: list[str] | None = None) -> None:
    """``python -m ingestion_pipelines.standins.genius --port N``: serve a seeded account."""
    ap = argparse.ArgumentParser(description="A local stand-in of the Genius CRM REST API.")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8767)
    ap.add_argument("--seed", type=int, default=0)
    for stream, n in (("divisions", 6), ("users", 20), ("services", 5), ("marketing-sources", 8),
                      ("prospects", 500), ("appointments", 800)):
        ap.add_argument(f"--{stream}", type=int, default=n, help=f"generated {stream} [default {n}]")
    ap.add_argument("--token-ttl", type=float, default=300.0, help="access-token lifetime, seconds [default 300]")
    a = ap.parse_args(argv)
    g = Genius.seeded(a.seed, a.divisions, a.users, a.services, a.marketing_sources, a.prospects, a.appointments,
                      limits=Limits(token_ttl_s=a.token_ttl))
    server = start(g, a.host, a.port)
    print(f"Genius stand-in at {server.url}\n  GENIUS_BASE_URL={server.url}\n  GENIUS_API_TOKEN={DEFAULT_TOKEN}\n"
          f"  or GENIUS_USERNAME={DEFAULT_USERNAME} GENIUS_PASSWORD={DEFAULT_PASSWORD}\n(Ctrl-C stops it)", flush=True)
    server.served.wait()


if __name__ == "__main__":
    main()
