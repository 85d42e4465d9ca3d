"""A stand-in of the LeadConduit (ActiveProspect) events API (../shared/crm/APIS.md §2 and §8),
for tests and offline use.

Run it: ``python -m ingestion_pipelines.standins.leadconduit --port 8766 [--leads 300 --seed 1]``
(prints the base URL and the API key); or from a test::

    account = Account.seeded(seed=1, leads=200)
    with serve(account) as server:         # a real HTTP server on a free loopback port
        requests.get(server.url + "/events", params={"sort": "asc", "limit": 1000},
                     auth=("API", account.api_key), headers={"Accept": "application/json"})

What it does (the limits are fields of :class:`Limits`, so a test can lower them):

* Auth: HTTP Basic, the password must be the account's API key (any username: peers find
  LeadConduit ignores it) -> else 401 ``{"error": "Unauthorized"}``; a request without
  ``Accept: application/json`` -> 403 ``misconfigured csrf`` (checked after auth).
* ``GET /events``: a bare JSON array of events, ``sort`` ``asc`` | ``desc`` (default
  **desc**), ``limit`` 1..1000 (default 100; else 400), exclusive ``after_id`` /
  ``before_id`` (24-hex ObjectIds; else 400), inclusive ``start`` / ``end`` (ISO 8601 or epoch
  ms, on ``start_timestamp``), ``type`` (comma-separated). Paging ends on an empty array.
* ``GET /events/{id}``: one event, 404 when unknown.
* Events (:meth:`Account.submit`): a lead's ``source`` event (its ``vars.lead.id`` is the
  lead's own ObjectId, never the event id), then per-step ``filter`` / ``recipient`` events;
  later :meth:`Account.retry` (a ``retry`` event with the lead's new outcome) and
  :meth:`Account.feedback` (``feedback-received``). Event ids are ObjectIds that increase
  strictly (4-byte seconds, 5 random bytes per account, 3-byte counter), so their text order is
  their creation order. Lead fields are sometimes rich objects (``{"raw", "normal", "valid"}``)
  as LeadConduit sends phones, emails and postal codes.
* Faults (:meth:`Account.inject`, :class:`Fault`): any status (429 with or without
  ``Retry-After``, 500/502/503), ``short``: a page shorter than asked for while more remain,
  ``duplicate``: the page repeats the record just before ``after_id`` (the last record of the
  previous page), ``append``: new leads are submitted just before the page is answered (events
  appended while a sync runs), ``delay_s``.
* :attr:`Account.stats` counts requests, pages and faults; :meth:`Account.expected_leads` is
  the lead table a correct sync derives (for tests); :func:`demo` is ``ingest demo``'s account.

This module imports nothing else of the project.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import datetime as dt
import random
import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, ContextManager, Iterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .serving import Served, running, start_app

DEFAULT_KEY = "lc-standin-key-0000"
#: event types (APIS.md §2)
TYPES = ("source", "recipient", "filter", "feedback-received", "feedback-sent", "retry")
#: the types whose outcome is the lead's overall outcome (a retry reprocesses the whole lead)
LEAD_OUTCOME_TYPES = ("source", "retry")
_HEX24 = re.compile(r"^[0-9a-f]{24}$")

_FIRST = ("James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Sandra")
_LAST = ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Taylor", "Moore")
_PLACES = (("Avon", "CT", "06001"), ("Waltham", "MA", "02452"), ("Austin", "TX", "78701"),
           ("Denver", "CO", "80202"), ("Tampa", "FL", "33602"), ("Columbus", "OH", "43215"))
_FLOWS = (("5f1a0c0d0e0f000000000001", "Windows - Web"), ("5f1a0c0d0e0f000000000002", "Roofing - Paid Social"))
_SOURCES = (("5f1b0c0d0e0f000000000011", "Facebook Lead Ads"), ("5f1b0c0d0e0f000000000012", "Google Ads"),
            ("5f1b0c0d0e0f000000000013", "Angi"))
_RECIPIENTS = (("hubspot", "HubSpot"), ("salesrabbit", "SalesRabbit"))
_FILTER_REASONS = ("Duplicate lead", "Outside service area", "Phone invalid")


@dataclass
class Limits:
    """The API's limits (defaults = the real API's, APIS.md §2)."""

    max_limit: int = 1000
    default_limit: int = 100


@dataclass
class Fault:
    """``count`` answers of kind ``status`` (an HTTP status; ``retry_after`` header when set) or
    ``kind`` ``short`` (``short_to`` records) / ``duplicate`` / ``append`` (``append_leads``
    new leads) for ``/events`` requests, after ``skip`` matching requests pass first."""

    status: int = 503
    kind: str = "status"
    count: int = 1
    skip: int = 0
    retry_after: str | None = None
    short_to: int = 3
    append_leads: int = 5
    delay_s: float = 0.0


@dataclass
class Account:
    """One LeadConduit account: its events (ascending by id), API key, limits, faults, counters."""

    api_key: str = DEFAULT_KEY
    limits: Limits = field(default_factory=Limits)
    events: list[dict] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    clock_s: int = 1_750_000_000  # 2025-06-15: the seed system's months
    _counter: int = 0
    _process: bytes = b"\x5a\x11\x0c\xe0\x01"
    lock: threading.RLock = field(default_factory=threading.RLock)

    # -- building ----------------------------------------------------------------------
    @classmethod
    def seeded(cls, seed: int = 0, leads: int = 100, retries: int = 0, feedback: int = 0, **kw: Any) -> "Account":
        """An account with ``leads`` submitted leads (each 1-4 events), then ``retries`` retry
        events and ``feedback`` feedback-received events on random earlier leads."""
        acc = cls(rng=random.Random(seed), **kw)
        acc._process = bytes(acc.rng.randrange(256) for _ in range(5))
        acc.submit_many(leads)
        for _ in range(retries):
            acc.retry(acc.rng.choice(acc.lead_ids()))
        for _ in range(feedback):
            acc.feedback(acc.rng.choice(acc.lead_ids()))
        return acc

    def object_id(self) -> str:
        """A new ObjectId: 4-byte seconds, the account's 5 random bytes, a 3-byte counter."""
        self._counter += 1
        raw = self.clock_s.to_bytes(4, "big") + self._process + (self._counter % (1 << 24)).to_bytes(3, "big")
        return raw.hex()

    def _tick(self) -> int:
        self.clock_s += self.rng.randrange(1, 90)
        return self.clock_s * 1000 + self.rng.randrange(1000)

    def _lead_vars(self, lead_id: str) -> dict:
        r = self.rng
        first, last = r.choice(_FIRST), r.choice(_LAST)
        city, state, zip_ = r.choice(_PLACES)
        phone = f"{r.randrange(201, 989)}{r.randrange(200, 999)}{r.randrange(1000, 9999)}"
        email = f"{first}.{last}{r.randrange(100)}@example.com"
        lead: dict[str, Any] = {"id": lead_id, "first_name": first, "last_name": last, "city": city, "state": state,
                                "address_1": f"{r.randrange(1, 9999)} Main St", "country": "US"}
        if r.random() < 0.5:  # rich values, as LeadConduit types them
            lead["phone_1"] = {"raw": f"({phone[:3]}) {phone[3:6]}-{phone[6:]}", "normal": phone, "valid": True,
                               "type": "mobile"}
            lead["email"] = {"raw": email, "normal": email.lower(), "valid": True}
            lead["postal_code"] = {"raw": zip_, "normal": zip_, "valid": True}
        else:
            lead.update(phone_1=phone, email=email, postal_code=zip_)
        if r.random() < 0.3:
            lead["phone_2"] = f"{r.randrange(201, 989)}555{r.randrange(1000, 9999)}"
        if r.random() < 0.6:
            lead.update(utm_source=r.choice(("facebook", "google", "bing")), utm_medium="cpc",
                        utm_campaign=r.choice(("spring-roofing", "windows-2025")))
        return lead

    def _event(self, type_: str, lead_vars: dict, outcome: str, reason: str | None, **extra: Any) -> dict:
        start = self._tick()
        ms = self.rng.randrange(50, 900)
        ev = {"id": self.object_id(), "outcome": outcome, "reason": reason, "type": type_, "vars": lead_vars,
              "host": "app.leadconduit.com", "start_timestamp": start, "end_timestamp": start + ms, "ms": ms,
              "total_ms": ms + self.rng.randrange(0, 50), "version": "2.0.0", "cap_reached": False,
              "expires_at": _iso(start + 90 * 86_400_000), **extra}
        self.events.append(ev)
        return ev

    def submit(self, lead: dict | None = None, outcome: str | None = None) -> list[dict]:
        """Submit one lead (``lead``: its ``vars.lead``, generated when None; an ``id`` given
        is kept): its ``source`` event, then a ``filter`` event (failure: the reason) or one
        ``recipient`` event per recipient. Returns the events created."""
        with self.lock:
            r = self.rng
            lead = dict(lead) if lead is not None else self._lead_vars(self.object_id())
            lead.setdefault("id", self.object_id())
            flow, src = r.choice(_FLOWS), r.choice(_SOURCES)
            submitted = _iso(self.clock_s * 1000 + r.randrange(1000))
            vars_ = {"lead": lead, "submission": {"timestamp": submitted}, "flow": {"id": flow[0], "name": flow[1]},
                     "source": {"id": src[0], "name": src[1]}, "account": {"name": "Example Home Co"}}
            outcome = outcome or r.choices(("success", "failure", "error"), (80, 17, 3))[0]
            reason = None if outcome == "success" else (r.choice(_FILTER_REASONS) if outcome == "failure"
                                                        else "Recipient timeout")
            out = [self._event("source", vars_, outcome, reason, module_id="leadconduit-default.inbound",
                               acceptance_criteria={"rules": []}, appended={},
                               request={"method": "POST", "uri": "/flows/x/sources/y/submit"},
                               response={"status": 201, "body": {"outcome": outcome}})]
            if outcome == "failure":
                out.append(self._event("filter", vars_, "failure", reason, step_id=r.randrange(1, 4), key="filter"))
            elif outcome == "success":
                for key, name in _RECIPIENTS[:r.randrange(1, 3)]:
                    price = round(r.uniform(5, 60), 2)
                    out.append(self._event("recipient", vars_, "success", None, step_id=r.randrange(1, 9), key=key,
                                           cost=0, purchase_price=price, revenue=round(price * 1.5, 2),
                                           transactions=[{"host": f"{key}.example", "response": {"status": 200}}],
                                           **{key: {"outcome": "success", "name": name}}))
            return out

    def submit_many(self, n: int) -> list[dict]:
        with self.lock:
            return [e for _ in range(n) for e in self.submit()]

    def _source_of(self, lead_id: str) -> dict:
        return next(e for e in self.events if e["type"] == "source" and e["vars"]["lead"]["id"] == lead_id)

    def retry(self, lead_id: str, outcome: str | None = None) -> dict:
        """A ``retry`` event of the lead: it was reprocessed; ``outcome`` (default: flipped
        between success and failure) is its new overall outcome."""
        with self.lock:
            src = self._source_of(lead_id)
            now = self.lead_outcome(lead_id)[0]
            outcome = outcome or ("failure" if now == "success" else "success")
            reason = None if outcome == "success" else self.rng.choice(_FILTER_REASONS)
            return self._event("retry", src["vars"], outcome, reason)

    def feedback(self, lead_id: str) -> dict:
        """A ``feedback-received`` event (a recipient returned the lead); it does not change
        the lead's overall outcome."""
        with self.lock:
            src = self._source_of(lead_id)
            rid = next((e["id"] for e in self.events if e["type"] == "recipient"
                        and e["vars"]["lead"]["id"] == lead_id), None)
            return self._event("feedback-received", src["vars"], "success", None, recipient_event_id=rid,
                               feedback={"type": "return", "reason": "Wrong number"})

    # -- what a correct sync derives (tests) ---------------------------------------------
    def lead_ids(self) -> list[str]:
        return [e["vars"]["lead"]["id"] for e in self.events if e["type"] == "source"]

    def lead_outcome(self, lead_id: str) -> tuple[str, str | None]:
        """``(outcome, reason)`` of the lead's latest source/retry event."""
        last = [e for e in self.events if e["type"] in LEAD_OUTCOME_TYPES and e["vars"]["lead"]["id"] == lead_id][-1]
        return last["outcome"], last["reason"]

    def expected_leads(self) -> dict[str, dict]:
        """lead id -> ``{source_event_id, outcome, reason}``: what a correct sync derives (the
        lead's latest source event; the outcome of its latest source or retry event)."""
        out: dict[str, dict] = {}
        for e in self.events:
            lid = e["vars"]["lead"]["id"]
            if e["type"] == "source":  # a lead submitted again: its latest source event
                out[lid] = {"source_event_id": e["id"], "outcome": e["outcome"], "reason": e["reason"]}
            elif e["type"] in LEAD_OUTCOME_TYPES and lid in out:
                out[lid].update(outcome=e["outcome"], reason=e["reason"])
        return out

    # -- faults and counters ---------------------------------------------------------------
    def inject(self, *faults: Fault) -> None:
        with self.lock:
            self.faults.extend(faults)

    def count(self, name: str, n: int = 1) -> None:
        with self.lock:
            self.stats[name] = self.stats.get(name, 0) + n

    def _next_fault(self) -> Fault | None:
        with self.lock:
            for f in self.faults:
                if f.skip > 0:
                    f.skip -= 1
                    return None
                f.count -= 1
                if f.count <= 0:
                    self.faults.remove(f)
                return f
        return None


def _iso(ms: int) -> str:
    d = dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _ms(value: str) -> int:
    s = value.strip()
    if s.isdigit():
        return int(s)
    d = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    d = d if d.tzinfo else d.replace(tzinfo=dt.timezone.utc)
    return int(round(d.timestamp() * 1000))


# -- the HTTP side -----------------------------------------------------------------------

def _error(status: int, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _denied(account: Account, request: Request) -> Response | None:
    """Count the request; 401 unless Basic auth carries the API key as password; 403 without
    the JSON Accept."""
    account.count("requests")
    auth = request.headers.get("authorization", "")
    password = None
    if auth.lower().startswith("basic "):
        try:
            password = base64.b64decode(auth[6:].strip()).decode().partition(":")[2]
        except (binascii.Error, UnicodeDecodeError):
            password = None
    if password != account.api_key:
        account.count("401")
        return _error(401, "Unauthorized", **{"WWW-Authenticate": 'Basic realm="LeadConduit"'})
    if "application/json" not in request.headers.get("accept", ""):
        account.count("403")
        return _error(403, "misconfigured csrf: check Accept header is set properly")
    return None


def _query(account: Account, q: Any) -> tuple[list[dict], int] | Response:
    """The events a ``/events`` query selects, in its order, and its limit; or a 400."""
    try:
        limit = int(q.get("limit", account.limits.default_limit))
    except ValueError:
        return _error(400, "limit must be an integer")
    if not 1 <= limit <= account.limits.max_limit:
        return _error(400, f"limit must be between 1 and {account.limits.max_limit}")
    sort = q.get("sort", "desc")
    if sort not in ("asc", "desc"):
        return _error(400, "sort must be asc or desc")
    after, before = q.get("after_id"), q.get("before_id")
    for name, v in (("after_id", after), ("before_id", before)):
        if v is not None and not _HEX24.match(v):
            return _error(400, f"{name} must be a 24-character hex id")
    try:
        start = _ms(q["start"]) if q.get("start") else None
        end = _ms(q["end"]) if q.get("end") else None
    except ValueError:
        return _error(400, "start/end must be ISO 8601 times or epoch milliseconds")
    types = set(q["type"].split(",")) if q.get("type") else None
    evs = [e for e in account.events
           if (after is None or e["id"] > after) and (before is None or e["id"] < before)
           and (start is None or e["start_timestamp"] >= start) and (end is None or e["start_timestamp"] <= end)
           and (types is None or e["type"] in types)]
    return (evs if sort == "asc" else evs[::-1]), limit


async def list_events(request: Request) -> Response:
    account: Account = request.app.state.account
    if (denied := _denied(account, request)) is not None:
        return denied
    fault = account._next_fault()
    if fault is not None and fault.delay_s:
        await asyncio.sleep(fault.delay_s)
    if fault is not None and fault.kind == "status":
        account.count(f"fault_{fault.status}")
        headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
        return _error(fault.status, "injected fault", **headers)
    with account.lock:
        if fault is not None and fault.kind == "append":
            account.count("fault_append")
            account.submit_many(fault.append_leads)
        got = _query(account, request.query_params)
        if isinstance(got, Response):
            return got
        evs, limit = got
        page = evs[:limit]
        if fault is not None and fault.kind == "short" and len(evs) > fault.short_to:
            account.count("fault_short")
            page = evs[:fault.short_to]
        after = request.query_params.get("after_id")
        if fault is not None and fault.kind == "duplicate" and after:
            prev = [e for e in account.events if e["id"] <= after][-1:]
            account.count("fault_duplicate")
            page = prev + page[:limit - 1] if limit > 1 else prev
    account.count("pages")
    account.count("events_sent", len(page))
    return JSONResponse(page)


async def one_event(request: Request) -> Response:
    account: Account = request.app.state.account
    if (denied := _denied(account, request)) is not None:
        return denied
    eid = request.path_params["id"]
    with account.lock:
        ev = next((e for e in account.events if e["id"] == eid), None)
    return JSONResponse(ev) if ev is not None else _error(404, "Not found")


def app_for(account: Account) -> Starlette:
    """The ASGI app serving ``account``."""
    app = Starlette(routes=[Route("/events", list_events, methods=["GET"]),
                            Route("/events/{id}", one_event, methods=["GET"])])
    app.state.account = account
    return app


# -- running it ----------------------------------------------------------------------------

@dataclass
class Server:
    """A running stand-in: ``url`` (``http://127.0.0.1:<port>``), ``account``, ``stop()``."""

    url: str
    account: Account
    served: Served

    def stop(self) -> None:
        self.served.stop()


def start(account: Account, host: str = "127.0.0.1", port: int = 0) -> Server:
    """Serve ``account`` on a thread (``port=0``: a free port); returns when it listens."""
    served = start_app(app_for(account), host, port, name="LeadConduit")
    return Server(served.url, account, served)


def serve(account: Account, host: str = "127.0.0.1", port: int = 0) -> ContextManager[Server]:
    """:func:`start` as a context manager (stops the server afterwards)."""
    return running(start(account, host, port))


@contextmanager
def demo(seed: int = 4) -> Iterator[tuple[dict[str, str], Callable[[], None]]]:
    """``ingest demo``'s LeadConduit account (150 leads, about 370 events, 10 retries) served on
    a free loopback port: yields ``(variables, change)`` — ``ACTIVEPROSPECT_BASE_URL`` /
    ``ACTIVEPROSPECT_API_KEY`` for it, and a change: 10 new leads and a retry (a new outcome)
    of 3 earlier ones."""
    account = Account.seeded(seed=seed, leads=150, retries=10)

    def change() -> None:
        account.submit_many(10)
        for lid in account.lead_ids()[:3]:
            account.retry(lid)

    with serve(account) as server:
        yield {"ACTIVEPROSPECT_BASE_URL": server.url, "ACTIVEPROSPECT_API_KEY": account.api_key}, change


def main(argv: list[str] | None = None) -> None:
    """``python -m ingestion_pipelines.standins.leadconduit --port N``: serve a seeded account."""
    ap = argparse.ArgumentParser(description="A local stand-in of the LeadConduit (ActiveProspect) events API.")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8766)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--leads", type=int, default=300, help="generated leads [default 300]")
    ap.add_argument("--retries", type=int, default=20, help="retry events on earlier leads [default 20]")
    ap.add_argument("--feedback", type=int, default=10, help="feedback-received events [default 10]")
    a = ap.parse_args(argv)
    account = Account.seeded(a.seed, a.leads, a.retries, a.feedback)
    server = start(account, a.host, a.port)
    print(f"LeadConduit stand-in at {server.url} ({len(account.events)} events)\n"
          f"  ACTIVEPROSPECT_BASE_URL={server.url}\n  ACTIVEPROSPECT_API_KEY={account.api_key}\n(Ctrl-C stops it)",
          flush=True)
    server.served.wait()


if __name__ == "__main__":
    main()
