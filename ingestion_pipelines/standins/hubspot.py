"""A stand-in of the HubSpot CRM API (../shared/crm/APIS.md §1 and §8), for tests and offline use.

Run it: ``python -m ingestion_pipelines.standins.hubspot --port 8765 [--contacts 500 ...]``
(prints the base URL and the private-app token); or from a test::

    portal = Portal.seeded(seed=1, contacts=300)
    with serve(portal) as server:          # a real HTTP server on a free loopback port
        requests.get(server.url + "/crm/v3/objects/contacts", headers=server.auth_headers())

Response shapes follow the recorded calls in ``../shared/testdata/hubspot`` (ids as strings,
every property value a string or ``null``, ISO-8601 times with milliseconds and ``Z``,
``paging.next.{after, link}`` on the list, ``paging.next.after`` only on search).

What it does (all limits are fields of :class:`Limits`, so a test can lower them):

* ``GET /crm/v3/objects/{type}``: ``limit`` (<= 100), opaque ``after``, ``properties``,
  ``archived=true``; ordered by id. Types: ``contacts`` (``0-1``), ``companies`` (``0-2``),
  ``deals`` (``0-3``), appointments ``0-421`` (also ``appointments``).
* ``POST /crm/v3/objects/{type}/search``: ``filterGroups`` (<= 5 groups, <= 25 filters;
  EQ NEQ GT GTE LT LTE BETWEEN IN HAS_PROPERTY NOT_HAS_PROPERTY; datetimes as epoch ms or
  ISO), one sort (ties by id), ``limit`` <= 200, numeric ``after``, ``total``; 400 when
  ``after + limit`` passes ``search_cap`` (10,000); never archived; ``index_lag_ms`` hides
  records modified in the last moments; no rate-limit headers.
* ``POST /crm/v3/objects/{type}/batch/read``: 200 / 207 (``OBJECT_NOT_FOUND``) / 404.
* ``GET /crm/v3/properties/{type}``: the property definitions.
* ``POST /crm/v4/associations/{from}/{to}/batch/read``: <= 1000 inputs (else 400), per-input
  paging (``assoc_page_size``), 207 with ``errors`` for unknown ids and ids without
  associations (``crm.associations.NO_ASSOCIATIONS_FOUND``).
* Merges: the winner's ``hs_merged_object_ids`` (``;``-separated) names the losers, which
  vanish from the listings (not archived).
* Limits: a rolling window (``per_interval`` requests per ``interval_ms``, default 100 per
  10 s) and search ``search_per_second`` (5/s), optional ``daily``; 429 bodies with
  ``policyName`` TEN_SECONDLY_ROLLING / SECONDLY / DAILY, ``Retry-After`` on every
  ``retry_after_every``-th 429 only; ``X-HubSpot-RateLimit-*`` headers on non-search answers.
* Auth: private-app tokens and OAuth (``POST /oauth/v1/token`` and ``/oauth/2026-03/token``,
  refresh grant; 400 ``BAD_REFRESH_TOKEN``); an access token past its ``token_ttl_s`` gets
  401 ``EXPIRED_AUTHENTICATION``, an unknown one 401 ``INVALID_AUTHENTICATION``.
* 414 for a URL longer than ``url_limit`` characters; faults injected with
  :meth:`Portal.inject` (any status, or a delay longer than the client's timeout).
* :class:`WebhookEmitter`: HubSpot's webhook sender (v3-signed batches, retries).
* Test operations: :meth:`Portal.touch` (several records in the same millisecond if asked),
  :meth:`Portal.archive`, :meth:`Portal.merge`, :meth:`Portal.create`; :attr:`Portal.stats`
  counts requests and 429s by policy.

This module imports nothing else of the project.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import functools
import random
import secrets
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any, ContextManager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .serving import Served, running, start_app

#: object type name -> canonical key; ``0-421`` is the Appointment object
TYPES = {"contacts": "contacts", "0-1": "contacts", "companies": "companies", "0-2": "companies",
         "deals": "deals", "0-3": "deals", "0-421": "0-421", "appointments": "0-421"}
TYPE_IDS = {"contacts": "0-1", "companies": "0-2", "deals": "0-3", "0-421": "0-421"}
#: the last-modified property of each type (contacts differ from the rest)
LASTMODIFIED = {"contacts": "lastmodifieddate", "companies": "hs_lastmodifieddate", "deals": "hs_lastmodifieddate",
                "0-421": "hs_lastmodifieddate"}
CREATED = {"contacts": "createdate", "companies": "createdate", "deals": "createdate", "0-421": "hs_createdate"}
#: (from, to) -> (typeId, label) of the HubSpot-defined association (ids are the documented
#: defaults where known; 0-421's are assumed)
ASSOC_TYPES = {("contacts", "companies"): (279, None), ("companies", "contacts"): (280, None),
               ("deals", "contacts"): (3, None), ("contacts", "deals"): (4, None),
               ("deals", "companies"): (341, None), ("companies", "deals"): (342, None),
               ("0-421", "contacts"): (966, None), ("contacts", "0-421"): (967, None)}
DEFAULT_TOKEN = "pat-na1-standin-0000"

_DATETIME = "datetime"


def iso(ms: int) -> str:
    """Epoch milliseconds -> ``2026-02-25T16:23:49.023Z`` (HubSpot's form)."""
    d = dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


@functools.lru_cache(maxsize=1 << 20)
def to_ms(v: str) -> int:
    """Epoch ms from a filter value: digits (epoch ms) or ISO-8601 (cached: every search
    compares the same stored values again)."""
    s = str(v).strip()
    if s.lstrip("-").isdigit():
        return int(s)
    d = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    if d.tzinfo is None:
        d = d.replace(tzinfo=dt.timezone.utc)
    return int(round(d.timestamp() * 1000))


def _prop(name: str, label: str, type_: str = "string", field_type: str = "text", group: str = "contactinformation",
          hubspot_defined: bool = True) -> dict:
    return {"name": name, "label": label, "type": type_, "fieldType": field_type, "groupName": group,
            "options": [], "hidden": False, "calculated": False, "hubspotDefined": hubspot_defined,
            "modificationMetadata": {"archivable": True, "readOnlyDefinition": hubspot_defined,
                                     "readOnlyValue": False}}


_COMMON = [("hs_object_id", "Record ID", "number", "number"), ("hubspot_owner_id", "Owner", "enumeration", "select"),
           ("hs_merged_object_ids", "Merged record IDs", "enumeration", "checkbox")]
_SPECIFIC = {
    "contacts": [("firstname", "First Name"), ("lastname", "Last Name"), ("email", "Email"),
                 ("phone", "Phone Number"), ("mobilephone", "Mobile Phone Number"), ("company", "Company Name"),
                 ("address", "Street Address"), ("city", "City"), ("state", "State/Region"),
                 ("zip", "Postal Code"), ("lifecyclestage", "Lifecycle Stage"), ("hs_lead_status", "Lead Status"),
                 ("division", "Division"), ("marketsharp_id", "MarketSharp ID"),
                 ("original_lead_source", "Original Lead Source"), ("ap_leadid", "ActiveProspect Lead ID"),
                 ("createdate", "Create Date", _DATETIME), ("lastmodifieddate", "Last Modified Date", _DATETIME)],
    "companies": [("name", "Company name"), ("domain", "Company domain"), ("phone", "Phone Number"),
                  ("city", "City"), ("state", "State/Region"), ("industry", "Industry"),
                  ("lifecyclestage", "Lifecycle Stage"), ("annualrevenue", "Annual Revenue", "number"),
                  ("createdate", "Create Date", _DATETIME),
                  ("hs_lastmodifieddate", "Last Modified Date", _DATETIME)],
    "deals": [("dealname", "Deal Name"), ("amount", "Amount", "number"), ("dealstage", "Deal Stage"),
              ("pipeline", "Pipeline"), ("dealtype", "Deal Type"), ("closedate", "Close Date", _DATETIME),
              ("createdate", "Create Date", _DATETIME),
              ("hs_lastmodifieddate", "Last Modified Date", _DATETIME)],
    "0-421": [("hs_appointment_name", "Appointment name"), ("hs_appointment_start", "Start", _DATETIME),
              ("hs_appointment_end", "End", _DATETIME), ("hs_appointment_status", "Status"),
              ("first_name", "First name"), ("last_name", "Last name"), ("email", "Email"),
              ("phone1", "Phone"), ("genius_appointment_id", "Genius appointment id", "number"),
              ("hs_createdate", "Create Date", _DATETIME),
              ("hs_lastmodifieddate", "Last Modified Date", _DATETIME)],
}


def property_definitions(obj: str, extra: int = 0) -> list[dict]:
    """The ``/crm/v3/properties/{obj}`` results: the common and type-specific properties, plus
    ``extra`` custom text properties ``custom_field_<n>_<padding>`` (long names, for the URL limit)."""
    out = [_prop(n, lbl, t, ft) for n, lbl, t, ft in _COMMON]
    for spec in _SPECIFIC[obj]:
        name, label, type_ = (spec + ("string",))[:3]
        out.append(_prop(name, label, type_, "date" if type_ == _DATETIME else "text"))
    out += [_prop(f"custom_field_{i:04d}_standin_property", f"Custom {i}", group="custom", hubspot_defined=False)
            for i in range(extra)]
    return out


@functools.lru_cache(maxsize=64)
def _types(obj: str, extra: int) -> dict[str, str]:
    return {d["name"]: d["type"] for d in property_definitions(obj, extra)}


@dataclass
class Limits:
    """Every limit and fault knob of the stand-in (defaults = the real API's)."""

    per_interval: int = 100
    interval_ms: int = 10_000
    search_per_second: int = 5
    daily: int | None = None
    retry_after_every: int = 2
    list_max: int = 100
    search_max: int = 200
    search_cap: int = 10_000
    batch_max: int = 100
    assoc_batch_max: int = 1000
    assoc_page_size: int = 500
    url_limit: int = 16_000
    token_ttl_s: float = 1800.0
    index_lag_ms: int = 0


@dataclass
class Fault:
    """``count`` answers with ``status`` (or, ``delay_s``, a late answer) for requests whose
    path contains ``path_contains``; ``skip`` matching requests pass first."""

    status: int = 503
    count: int = 1
    path_contains: str = ""
    delay_s: float = 0.0
    skip: int = 0
    retry_after: str | None = None


@dataclass
class Record:
    id: int
    properties: dict[str, str | None]
    created_ms: int
    updated_ms: int
    archived_ms: int | None = None


@dataclass
class Portal:
    """The state of one portal: objects, associations, tokens, limits, faults and counters."""

    limits: Limits = field(default_factory=Limits)
    portal_id: int = 147893286
    tokens: set[str] = field(default_factory=lambda: {DEFAULT_TOKEN})
    client_id: str = "standin-client-id"
    client_secret: str = "standin-client-secret"
    refresh_tokens: set[str] = field(default_factory=lambda: {"standin-refresh-token"})
    extra_properties: int = 0
    live: dict[str, dict[int, Record]] = field(default_factory=lambda: {t: {} for t in TYPE_IDS})
    archived: dict[str, dict[int, Record]] = field(default_factory=lambda: {t: {} for t in TYPE_IDS})
    assoc: dict[tuple[str, str], dict[int, list[int]]] = field(default_factory=dict)
    stats: dict[str, int] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    _access: dict[str, float] = field(default_factory=dict)
    _window: deque = field(default_factory=deque)
    _search_window: deque = field(default_factory=deque)
    _day_count: int = 0
    _clock_ms: int = 0
    _next_id: int = 100_000_000_001
    lock: threading.RLock = field(default_factory=threading.RLock)

    # -- building ----------------------------------------------------------------------
    @classmethod
    def seeded(cls, seed: int = 0, contacts: int = 100, companies: int = 20, deals: int = 30, appointments: int = 40,
               extra_properties: int = 0, limits: Limits | None = None, **kw: Any) -> "Portal":
        """A portal of generated objects (deterministic for a ``seed``), times spread over
        2024-2025, associations: contact -> company, deal -> contact and company,
        appointment -> contact."""
        p = cls(limits=limits or Limits(), extra_properties=extra_properties, **kw)
        rng = random.Random(seed)
        p._clock_ms = to_ms("2024-01-01T00:00:00Z")
        for obj, n in (("companies", companies), ("contacts", contacts), ("deals", deals), ("0-421", appointments)):
            p.create(obj, n, rng=rng, historic=True)
        return p

    def now_ms(self) -> int:
        """The portal's clock: wall time, never going backwards, and past every stored time."""
        self._clock_ms = max(self._clock_ms + 1, int(time.time() * 1000))
        return self._clock_ms

    def create(self, obj: str, n: int, rng: random.Random | None = None, historic: bool = False) -> list[int]:
        """Create ``n`` generated records of type ``obj`` (with associations), created and
        modified now (``historic``: at random times of 2024-2025); returns their ids."""
        obj = TYPES[obj]
        rng = rng or random.Random(self._next_id)
        ids = []
        with self.lock:
            base = to_ms("2024-01-01T00:00:00Z")
            for _ in range(n):
                rid = self._next_id
                self._next_id += rng.randint(1, 40)
                if historic:
                    created = base + rng.randint(0, 700 * 86_400_000)
                    updated = created + rng.randint(0, 30 * 86_400_000)
                else:
                    created = updated = self.now_ms()
                props = self._generate(obj, rid, rng)
                props[CREATED[obj]] = iso(created)
                props[LASTMODIFIED[obj]] = iso(updated)
                self.live[obj][rid] = Record(rid, props, created, updated)
                self._associate_new(obj, rid, rng)
                ids.append(rid)
        return ids

    def _generate(self, obj: str, rid: int, rng: random.Random) -> dict[str, str | None]:
        first = rng.choice(["Maria", "Brian", "Ana", "José", "Zoë", "Li", "O'Brien", "Test"])
        last = rng.choice(["Johnson (Sample Contact)", "Halligan (Sample Contact)", "Nguyen", "Müller", "Smith"])
        phone = rng.choice(["+1234567890", "+1-555-123-4568", "(212) 555-0142", "2135550199", None, "555-0100"])
        owner = rng.choice([None, "75542385", "81237645"])
        p: dict[str, str | None] = {"hs_object_id": str(rid), "hubspot_owner_id": owner, "hs_merged_object_ids": None}
        if obj == "contacts":
            p.update(firstname=first, lastname=last, email=rng.choice([f"c{rid}@example.com", None, f"C{rid}@Example.COM"]),
                     phone=phone, mobilephone=None, company=rng.choice([None, "HubSpot", "Acme, Inc."]),
                     address=None, city=rng.choice(["Brisbane", "Cambridge", None]), state=rng.choice(["MA", "NY", None]),
                     zip=rng.choice(["02139", "10001", None]), lifecyclestage=rng.choice(["lead", "customer", "subscriber"]),
                     hs_lead_status=rng.choice([None, "NEW", "OPEN"]), division=None, marketsharp_id=None,
                     original_lead_source=rng.choice([None, "OFFLINE", "ORGANIC_SEARCH"]), ap_leadid=None)
        elif obj == "companies":
            p.update(name=rng.choice(["HubSpot", "Acme, Inc.", "Globex", "Initech"]) + f" {rid % 1000}",
                     domain=f"c{rid}.example.com", phone=phone, city=rng.choice(["Cambridge", None]),
                     state=rng.choice(["MA", None]), industry=rng.choice([None, "COMPUTER_SOFTWARE"]),
                     lifecyclestage="lead", annualrevenue=rng.choice([None, "1000000", "2500000.50"]))
        elif obj == "deals":
            p.update(dealname=f"Deal {rid % 10000}", amount=rng.choice(["3000", "5000.00", None, "1250.5"]),
                     dealstage=rng.choice(["appointmentscheduled", "closedwon", "closedlost"]), pipeline="default",
                     dealtype=rng.choice([None, "newbusiness"]),
                     closedate=rng.choice([None, iso(to_ms("2025-06-30T00:00:00Z"))]))
        else:
            start = to_ms("2025-01-01T09:00:00Z") + rng.randint(0, 300) * 86_400_000
            p.update(hs_appointment_name=f"Appointment {rid % 10000}", hs_appointment_start=iso(start),
                     hs_appointment_end=iso(start + 3_600_000), hs_appointment_status=rng.choice(["scheduled", "completed"]),
                     first_name=first, last_name=last, email=f"a{rid}@example.com", phone1=phone,
                     genius_appointment_id=str(rng.randint(1, 99999)))
        for i in range(self.extra_properties):
            p[f"custom_field_{i:04d}_standin_property"] = rng.choice([None, None, f"value {i}"])
        return p

    def _associate_new(self, obj: str, rid: int, rng: random.Random) -> None:
        targets = {"contacts": ["companies"], "deals": ["contacts", "companies"], "0-421": ["contacts"]}.get(obj, [])
        for to in targets:
            pool = list(self.live[to])
            if pool and rng.random() < 0.8:
                self._link(obj, rid, to, rng.choice(pool))

    def _link(self, a: str, aid: int, b: str, bid: int) -> None:
        for (f, fid, t, tid) in ((a, aid, b, bid), (b, bid, a, aid)):
            lst = self.assoc.setdefault((f, t), {}).setdefault(fid, [])
            if tid not in lst:
                lst.append(tid)

    # -- test operations ----------------------------------------------------------------
    def touch(self, obj: str, ids: list[int], same_ms: bool = False, at_ms: int | None = None) -> int:
        """Change a property of each record and bump its last-modified time (one shared
        millisecond when ``same_ms``/``at_ms``); returns the last time set (epoch ms)."""
        obj = TYPES[obj]
        with self.lock:
            shared = at_ms if at_ms is not None else (self.now_ms() if same_ms else None)
            t = 0
            for rid in ids:
                rec = self.live[obj][rid]
                t = shared if shared is not None else self.now_ms()
                self._clock_ms = max(self._clock_ms, t)
                rec.updated_ms = t
                rec.properties[LASTMODIFIED[obj]] = iso(t)
                key = {"contacts": "lifecyclestage", "companies": "industry", "deals": "dealstage"}.get(obj, "hs_appointment_status")
                rec.properties[key] = f"touched-{t}"
            return t

    def archive(self, obj: str, ids: list[int]) -> None:
        """Archive (soft-delete) records: they leave the list and search, and appear in ``archived=true``."""
        obj = TYPES[obj]
        with self.lock:
            for rid in ids:
                rec = self.live[obj].pop(rid)
                rec.archived_ms = self.now_ms()
                self.archived[obj][rid] = rec

    def merge(self, obj: str, winner: int, loser: int) -> None:
        """Merge ``loser`` into ``winner``: the loser vanishes (not archived), the winner's
        ``hs_merged_object_ids`` names it and its last-modified time moves."""
        obj = TYPES[obj]
        with self.lock:
            self.live[obj].pop(loser)
            rec = self.live[obj][winner]
            merged = [x for x in (rec.properties.get("hs_merged_object_ids") or "").split(";") if x]
            rec.properties["hs_merged_object_ids"] = ";".join(merged + [str(loser)])
            t = self.now_ms()
            rec.updated_ms = t
            rec.properties[LASTMODIFIED[obj]] = iso(t)

    def inject(self, *faults: Fault) -> None:
        """Queue faults (:class:`Fault`); each is used up after ``count`` matching requests."""
        with self.lock:
            self.faults.extend(faults)

    def count(self, name: str, n: int = 1) -> None:
        self.stats[name] = self.stats.get(name, 0) + n

    # -- serialisation ------------------------------------------------------------------
    def as_json(self, obj: str, rec: Record, props: list[str] | None, base_url: str) -> dict:
        lm, created = LASTMODIFIED[obj], CREATED[obj]
        names = props if props is not None else ["hs_object_id", created, lm] + (
            ["email", "firstname", "lastname"] if obj == "contacts" else [])
        known = rec.properties
        chosen = {n: known.get(n) for n in names if n in known or n in self._property_names(obj)}
        chosen.update({"hs_object_id": str(rec.id), created: known.get(created), lm: known.get(lm)})
        out = {"id": str(rec.id), "properties": dict(sorted(chosen.items())), "createdAt": iso(rec.created_ms),
               "updatedAt": iso(rec.updated_ms), "archived": rec.archived_ms is not None,
               "url": f"https://app.hubspot.com/contacts/{self.portal_id}/record/{TYPE_IDS[obj]}/{rec.id}"}
        if rec.archived_ms is not None:
            out["archivedAt"] = iso(rec.archived_ms)
        return out

    def _property_names(self, obj: str) -> set[str]:
        return set(_types(obj, self.extra_properties))

    def property_types(self, obj: str) -> dict[str, str]:
        return _types(obj, self.extra_properties)


# -- the ASGI app --------------------------------------------------------------------------

def _error(status: int, message: str, category: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"status": "error", "message": message, "correlationId": str(uuid.uuid4()),
                         "category": category, **extra}, status_code=status)


class _Denied(Exception):
    def __init__(self, response: Response):
        self.response = response


def _rate_headers(portal: Portal, used: int) -> dict[str, str]:
    lim = portal.limits
    secondly = max(round(lim.per_interval * 1000 / lim.interval_ms), 1)
    h = {"X-HubSpot-RateLimit-Interval-Milliseconds": str(lim.interval_ms),
         "X-HubSpot-RateLimit-Max": str(lim.per_interval),
         "X-HubSpot-RateLimit-Remaining": str(max(lim.per_interval - used, 0)),
         # the same average rate per second (recorded: Max 110 per 10,000 ms, Secondly 11)
         "X-HubSpot-RateLimit-Secondly": str(secondly),
         "X-HubSpot-RateLimit-Secondly-Remaining": str(max(secondly - 1, 0))}
    if lim.daily is not None:
        h["X-HubSpot-RateLimit-Daily"] = str(lim.daily)
        h["X-HubSpot-RateLimit-Daily-Remaining"] = str(max(lim.daily - portal._day_count, 0))
    return h


def _limited(portal: Portal, policy: str, message: str) -> Response:
    portal.count(f"429_{policy}")
    portal.count("429")
    resp = JSONResponse({"status": "error", "message": message, "errorType": "RATE_LIMIT",
                         "correlationId": str(uuid.uuid4()), "policyName": policy,
                         "requestId": str(uuid.uuid4())}, status_code=429)
    if portal.limits.retry_after_every and portal.stats["429"] % portal.limits.retry_after_every == 0:
        resp.headers["Retry-After"] = "1"
    return resp


def _admit(portal: Portal, request: Request, search: bool) -> dict[str, str]:
    """Auth, URL length, daily and rolling limits for one request; returns the rate-limit
    headers to send (none on search). Raises :class:`_Denied` with the answer otherwise."""
    lim = portal.limits
    if len(str(request.url)) > lim.url_limit:
        raise _Denied(Response("<html><body><h1>414 Request-URI Too Large</h1></body></html>", status_code=414,
                               media_type="text/html"))
    auth = request.headers.get("authorization", "")
    token = auth[7:] if auth.lower().startswith("bearer ") else ""
    if token not in portal.tokens:
        expiry = portal._access.get(token)
        if expiry is None:
            raise _Denied(_error(401, "Authentication credentials not found. This API supports OAuth 2.0 "
                                      "authentication and you can find more details at "
                                      "https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                                 "INVALID_AUTHENTICATION"))
        if time.time() >= expiry:
            ago = int(time.time() - expiry)
            raise _Denied(_error(401, f"The OAuth token used to make this call expired {ago} second(s) ago.",
                                 "EXPIRED_AUTHENTICATION", context={"expire time": [iso(int(expiry * 1000))]}))
    now = time.monotonic()
    if lim.daily is not None and portal._day_count >= lim.daily:
        raise _Denied(_limited(portal, "DAILY", "You have reached your daily limit."))
    if search:
        win = portal._search_window
        while win and now - win[0] >= 1.0:
            win.popleft()
        if len(win) >= lim.search_per_second:
            raise _Denied(_limited(portal, "SECONDLY", "You have reached your secondly limit."))
        win.append(now)
        portal._day_count += 1
        return {}
    win = portal._window
    while win and (now - win[0]) * 1000 >= lim.interval_ms:
        win.popleft()
    if len(win) >= lim.per_interval:
        raise _Denied(_limited(portal, "TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit."))
    win.append(now)
    portal._day_count += 1
    return _rate_headers(portal, len(win))


async def _fault(portal: Portal, path: str) -> Response | None:
    """The next injected fault for ``path``, if any (a delay is slept here)."""
    with portal.lock:
        for f in portal.faults:
            if f.path_contains in path:
                if f.skip > 0:
                    f.skip -= 1
                    return None
                f.count -= 1
                if f.count <= 0:
                    portal.faults.remove(f)
                fault = f
                break
        else:
            return None
    portal.count(f"fault_{fault.status}")
    if fault.delay_s:
        await asyncio.sleep(fault.delay_s)
    headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
    body = {"status": "error", "message": "injected fault", "correlationId": str(uuid.uuid4()),
            "category": "LOCKED" if fault.status == 423 else "INTERNAL_ERROR"}
    return JSONResponse(body, status_code=fault.status, headers=headers)


def _obj(request: Request) -> str:
    t = TYPES.get(request.path_params["object"])
    if t is None:
        raise _Denied(_error(400, f"Unable to infer object type from: {request.path_params['object']}", "VALIDATION_ERROR"))
    return t


def _guarded(search: bool = False):
    """Wrap an endpoint: count it, apply faults and limits, add the rate-limit headers."""
    def wrap(fn):
        async def endpoint(request: Request) -> Response:
            portal: Portal = request.app.state.portal
            portal.count("requests")
            fault = await _fault(portal, request.url.path)
            if fault is not None:
                return fault
            try:
                with portal.lock:
                    headers = _admit(portal, request, search)
                body = await request.body()
                with portal.lock:
                    resp = fn(portal, request, body)
            except _Denied as d:
                return d.response
            resp.headers.update(headers)
            portal.count("ok")
            return resp
        return endpoint
    return wrap


def _b64(n: int) -> str:
    return base64.urlsafe_b64encode(str(n).encode()).decode().rstrip("=")


def _unb64(s: str) -> int:
    try:
        return int(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)).decode())
    except (ValueError, UnicodeDecodeError):
        raise _Denied(_error(400, f"Invalid input: after={s!r}", "VALIDATION_ERROR")) from None


def _json_body(body: bytes) -> dict:
    import json

    try:
        return json.loads(body or b"{}")
    except ValueError:
        raise _Denied(_error(400, "Invalid input JSON", "VALIDATION_ERROR")) from None


@_guarded()
def list_objects(portal: Portal, request: Request, _body: bytes) -> Response:
    obj, q = _obj(request), request.query_params
    limit = min(max(int(q.get("limit", "10")), 1), portal.limits.list_max)
    props = [p for p in q.get("properties", "").split(",") if p] or None
    store = portal.archived[obj] if q.get("archived", "false").lower() == "true" else portal.live[obj]
    start = _unb64(q["after"]) if q.get("after") else 0
    ids = sorted(i for i in store if i >= start)
    page = ids[:limit]
    base = str(request.base_url).rstrip("/")
    out: dict[str, Any] = {"results": [portal.as_json(obj, store[i], props, base) for i in page]}
    if len(ids) > limit:
        after = _b64(ids[limit])
        out["paging"] = {"next": {"after": after, "link": f"{base}{request.url.path}?after={after}"}}
    return JSONResponse(out)


def _matches(value: str | None, f: dict, kind: str) -> bool:
    op = f.get("operator", "EQ")
    if op == "HAS_PROPERTY":
        return value not in (None, "")
    if op == "NOT_HAS_PROPERTY":
        return value in (None, "")
    if value in (None, ""):
        return op == "NEQ"

    def conv(v: Any) -> Any:
        if kind == _DATETIME:
            return to_ms(v)
        if kind == "number":
            return float(v)
        return str(v).lower()

    x = conv(value)
    if op == "IN":
        return x in {conv(v) for v in f.get("values", [])}
    if op == "BETWEEN":
        return conv(f["value"]) <= x <= conv(f["highValue"])
    y = conv(f.get("value"))
    return {"EQ": x == y, "NEQ": x != y, "GT": x > y, "GTE": x >= y, "LT": x < y, "LTE": x <= y}.get(op, False)


_OPS = {"EQ": lambda x, y: x == y, "NEQ": lambda x, y: x != y, "GT": lambda x, y: x > y,
        "GTE": lambda x, y: x >= y, "LT": lambda x, y: x < y, "LTE": lambda x, y: x <= y}


def _compile(f: dict, obj: str, kinds: dict[str, str]):
    """A test ``record -> bool`` for one search filter: the last-modified time and the id are
    read from the record's own fields (every search filters on them); others by :func:`_matches`."""
    name, op = f.get("propertyName"), f.get("operator", "EQ")
    if op in _OPS and name in (LASTMODIFIED[obj], "hs_object_id"):
        cmp, y = _OPS[op], (to_ms(f.get("value")) if name != "hs_object_id" else int(float(f.get("value"))))
        if name == "hs_object_id":
            return lambda r: cmp(r.id, y)
        return lambda r: cmp(r.updated_ms, y)
    kind = kinds.get(name, "string")
    return lambda r: _matches(str(r.id) if name == "hs_object_id" else r.properties.get(name), f, kind)


@_guarded(search=True)
def search_objects(portal: Portal, request: Request, body: bytes) -> Response:
    obj, req, lim = _obj(request), _json_body(body), portal.limits
    groups, sorts = req.get("filterGroups") or [], req.get("sorts") or []
    if len(groups) > 5 or sum(len(g.get("filters") or []) for g in groups) > 25 or len(sorts) > 1:
        return _error(400, "Search supports up to 5 filterGroups, 25 filters and one sort", "VALIDATION_ERROR")
    limit = min(max(int(req.get("limit", 10)), 1), lim.search_max)
    after = int(req.get("after") or 0)
    if after + limit > lim.search_cap:
        return _error(400, f"Search results are limited to {lim.search_cap} (after={after}, limit={limit})",
                      "VALIDATION_ERROR")
    kinds = portal.property_types(obj)
    visible_before = portal.now_ms() - lim.index_lag_ms
    tests = [[_compile(f, obj, kinds) for f in g.get("filters") or []] for g in groups]

    def keep(rec: Record) -> bool:
        if lim.index_lag_ms and rec.updated_ms > visible_before:
            return False
        return not tests or any(all(t(rec) for t in g) for g in tests)

    found = [r for r in portal.live[obj].values() if keep(r)]
    if sorts:
        s = sorts[0]
        name = s["propertyName"] if isinstance(s, dict) else str(s).lstrip("-")
        desc = (s.get("direction", "ASCENDING") if isinstance(s, dict) else ("DESCENDING" if str(s).startswith("-") else "")) == "DESCENDING"
        kind = kinds.get(name, "string")

        def sort_key(r: Record):
            if name == LASTMODIFIED[obj]:
                return (0, r.updated_ms, r.id)
            if name == "hs_object_id":
                return (0, r.id, r.id)
            v = r.properties.get(name)
            if v in (None, ""):
                return (1, 0, r.id)
            return (0, to_ms(v) if kind == _DATETIME else float(v) if kind == "number" else str(v), r.id)
        found.sort(key=sort_key, reverse=desc)
    else:
        found.sort(key=lambda r: r.id)
    page = found[after:after + limit]
    props = req.get("properties") or None
    base = str(request.base_url).rstrip("/")
    out: dict[str, Any] = {"total": len(found), "results": [portal.as_json(obj, r, props, base) for r in page]}
    if after + limit < len(found):
        out["paging"] = {"next": {"after": str(after + limit)}}
    return JSONResponse(out)


@_guarded()
def batch_read(portal: Portal, request: Request, body: bytes) -> Response:
    obj, req = _obj(request), _json_body(body)
    inputs = req.get("inputs") or []
    if len(inputs) > portal.limits.batch_max:
        return _error(400, f"Batch size is limited to {portal.limits.batch_max}", "VALIDATION_ERROR")
    base = str(request.base_url).rstrip("/")
    store = portal.archived[obj] if req.get("archived") else portal.live[obj]
    found, missing = [], []
    for i in inputs:
        rid = int(i["id"]) if str(i.get("id", "")).isdigit() else None
        (found if rid in store else missing).append(rid if rid in store else str(i.get("id")))
    if not found:
        return _error(404, "Could not get some records", "OBJECT_NOT_FOUND")
    now = iso(portal.now_ms())
    out: dict[str, Any] = {"status": "COMPLETE", "results": [portal.as_json(obj, store[r], req.get("properties"), base)
                                                             for r in found],
                           "startedAt": now, "completedAt": now}
    if missing:
        out["numErrors"] = 1
        out["errors"] = [{"status": "error", "category": "OBJECT_NOT_FOUND", "message": "Could not get some records",
                          "context": {"ids": [str(m) for m in missing]}}]
        return JSONResponse(out, status_code=207)
    return JSONResponse(out)


@_guarded()
def properties(portal: Portal, request: Request, _body: bytes) -> Response:
    return JSONResponse({"results": property_definitions(_obj(request), portal.extra_properties)})


@_guarded()
def assoc_batch_read(portal: Portal, request: Request, body: bytes) -> Response:
    frm = TYPES.get(request.path_params["from"])
    to = TYPES.get(request.path_params["to"])
    if frm is None or to is None:
        return _error(400, "Unknown object type", "VALIDATION_ERROR")
    inputs = _json_body(body).get("inputs") or []
    lim = portal.limits
    if len(inputs) > lim.assoc_batch_max:
        return _error(400, f"Batch read is limited to {lim.assoc_batch_max} inputs", "VALIDATION_ERROR")
    links = portal.assoc.get((frm, to), {})
    type_id, label = ASSOC_TYPES.get((frm, to), (0, None))
    results, errors = [], []
    base = str(request.base_url).rstrip("/")
    for i in inputs:
        sid = str(i.get("id", ""))
        rid = int(sid) if sid.isdigit() else None
        if rid not in portal.live[frm]:
            errors.append({"status": "error", "category": "OBJECT_NOT_FOUND", "subCategory": "crm.associations.OBJECT_NOT_FOUND",
                           "message": f"No {frm} with id {sid}", "context": {"fromObjectId": [sid]}})
            continue
        targets = sorted(links.get(rid, []))
        if not targets:
            errors.append({"status": "error", "category": "OBJECT_NOT_FOUND",
                           "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                           "message": f"No {to} is associated with {frm} {sid}.", "context": {"fromObjectId": [sid]}})
            continue
        start = int(i.get("after") or 0)
        page = targets[start:start + lim.assoc_page_size]
        item: dict[str, Any] = {"from": {"id": sid}, "to": [
            {"toObjectId": t, "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": label}]}
            for t in page]}
        if start + lim.assoc_page_size < len(targets):
            nxt = str(start + lim.assoc_page_size)
            item["paging"] = {"next": {"after": nxt, "link": f"{base}{request.url.path}?after={nxt}"}}
        results.append(item)
    now = iso(portal.now_ms())
    out: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": now, "completedAt": now}
    if errors:
        out.update(numErrors=len(errors), errors=errors)
        return JSONResponse(out, status_code=207)
    return JSONResponse(out)


async def token(request: Request) -> Response:
    """``POST /oauth/v1/token`` (form): the refresh-token grant."""
    portal: Portal = request.app.state.portal
    portal.count("token_requests")
    fault = await _fault(portal, request.url.path)
    if fault is not None:
        return fault
    from urllib.parse import parse_qsl

    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
    with portal.lock:
        ok = (form.get("grant_type") == "refresh_token" and form.get("client_id") == portal.client_id
              and form.get("client_secret") == portal.client_secret and form.get("refresh_token") in portal.refresh_tokens)
        if not ok:
            return JSONResponse({"status": "BAD_REFRESH_TOKEN", "message": "missing or unknown refresh token",
                                 "error": "invalid_grant",
                                 "error_description": "refresh token is invalid, expired or revoked",
                                 "correlationId": str(uuid.uuid4())}, status_code=400)
        access = "CN" + secrets.token_urlsafe(24)
        portal._access[access] = time.time() + portal.limits.token_ttl_s
        portal.count("tokens_issued")
    return JSONResponse({"token_type": "bearer", "refresh_token": form.get("refresh_token"),
                         "access_token": access, "expires_in": int(portal.limits.token_ttl_s)})


def app_for(portal: Portal) -> Starlette:
    """The ASGI app serving ``portal``."""
    routes = [
        Route("/crm/v3/objects/{object}", list_objects, methods=["GET"]),
        Route("/crm/v3/objects/{object}/search", search_objects, methods=["POST"]),
        Route("/crm/v3/objects/{object}/batch/read", batch_read, methods=["POST"]),
        Route("/crm/v3/properties/{object}", properties, methods=["GET"]),
        Route("/crm/v4/associations/{from}/{to}/batch/read", assoc_batch_read, methods=["POST"]),
        Route("/oauth/v1/token", token, methods=["POST"]),
        Route("/oauth/2026-03/token", token, methods=["POST"]),
    ]
    app = Starlette(routes=routes)
    app.state.portal = portal
    return app


# -- the webhook emitter (APIS.md §1 "Webhooks v3", §8) -----------------------------------

#: the escapes HubSpot decodes in the URI before it signs it (APIS.md §1)
_SIGNED_DECODED = {"%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$", "%27": "'", "%28": "(",
                   "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";"}


@dataclass
class WebhookEmitter:
    """HubSpot's side of a webhook subscription: :meth:`event` builds an event (``eventId``
    counting up), :meth:`post` sends a batch (at most 100) to ``url`` signed with v3
    (``timestamp_ms``: now unless given, e.g. a stale one), and retries a non-2xx answer or a
    connection failure up to ``retries`` times (HubSpot: 10 over 24 h), ``attemptNumber``
    counting up. Returns the last answer's status (None: no answer)."""

    url: str
    secret: str
    portal_id: int = 147893286
    next_event_id: int = 1
    timeout_s: float = 5.0

    def event(self, subscription_type: str, object_id: int, occurred_ms: int, **extra: Any) -> dict:
        e = {"eventId": self.next_event_id, "subscriptionId": 25458, "portalId": self.portal_id, "appId": 177698,
             "occurredAt": occurred_ms, "subscriptionType": subscription_type, "attemptNumber": 0,
             "objectId": object_id, "changeSource": "CRM", **extra}
        self.next_event_id += 1
        return e

    def headers(self, body: bytes, timestamp_ms: int | None = None, method: str = "POST") -> dict[str, str]:
        import hashlib
        import hmac
        import re

        ts = str(int(time.time() * 1000) if timestamp_ms is None else timestamp_ms)
        uri = re.sub("|".join(_SIGNED_DECODED), lambda m: _SIGNED_DECODED[m.group(0).upper()], self.url, flags=re.I)
        mac = hmac.new(self.secret.encode(), method.encode() + uri.encode() + body + ts.encode(), hashlib.sha256)
        return {"Content-Type": "application/json", "X-HubSpot-Signature-v3": base64.b64encode(mac.digest()).decode(),
                "X-HubSpot-Request-Timestamp": ts}

    def post(self, events: list[dict], retries: int = 0, timestamp_ms: int | None = None,
             session: Any = None) -> int | None:
        import json

        import requests

        http = session or requests
        status = None
        for attempt in range(retries + 1):
            body = json.dumps([{**e, "attemptNumber": attempt} for e in events]).encode()
            try:
                status = http.post(self.url, data=body, headers=self.headers(body, timestamp_ms),
                                   timeout=self.timeout_s).status_code
            except requests.RequestException:
                status = None
            if status is not None and 200 <= status < 300:
                break
        return status


# -- running it ----------------------------------------------------------------------------

@dataclass
class Server:
    """A running stand-in: ``url`` (``http://127.0.0.1:<port>``), ``portal``, ``stop()``."""

    url: str
    portal: Portal
    served: Served

    def auth_headers(self, token: str = DEFAULT_TOKEN) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def stop(self) -> None:
        """Stop serving; a request still held by an injected delay is cut off."""
        self.served.stop()


def start(portal: Portal, host: str = "127.0.0.1", port: int = 0) -> Server:
    """Serve ``portal`` with uvicorn on a thread (``port=0``: a free port); returns when it listens
    (HTTP heads up to 256 KiB: the property lists a URL may carry below the 414 limit)."""
    served = start_app(app_for(portal), host, port, name="hubspot", h11_max_incomplete_event_size=256 * 1024)
    return Server(served.url, portal, served)


def serve(portal: Portal, host: str = "127.0.0.1", port: int = 0) -> ContextManager[Server]:
    """:func:`start` as a context manager (stops the server afterwards)."""
    return running(start(portal, host, port))


def main(argv: list[str] | None = None) -> None:
    """``python -m ingestion_pipelines.standins.hubspot --port N``: serve a seeded portal."""
    ap = argparse.ArgumentParser(description="A local stand-in of the HubSpot CRM API.")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--seed", type=int, default=0)
    for obj, n in (("contacts", 500), ("companies", 50), ("deals", 80), ("appointments", 120)):
        ap.add_argument(f"--{obj}", type=int, default=n, help=f"generated {obj} [default {n}]")
    ap.add_argument("--extra-properties", type=int, default=0, help="custom properties per object (long URLs)")
    ap.add_argument("--per-interval", type=int, default=100, help="requests per 10 s [default 100]")
    ap.add_argument("--token-ttl", type=float, default=1800.0, help="OAuth access-token lifetime, seconds")
    a = ap.parse_args(argv)
    portal = Portal.seeded(a.seed, a.contacts, a.companies, a.deals, a.appointments, a.extra_properties,
                           limits=Limits(per_interval=a.per_interval, token_ttl_s=a.token_ttl))
    server = start(portal, a.host, a.port)
    print(f"HubSpot stand-in at {server.url}\n  HUBSPOT_BASE_URL={server.url}\n  HUBSPOT_ACCESS_TOKEN={DEFAULT_TOKEN}\n"
          f"  OAuth: HUBSPOT_CLIENT_ID={portal.client_id} HUBSPOT_CLIENT_SECRET={portal.client_secret} "
          f"HUBSPOT_REFRESH_TOKEN={next(iter(portal.refresh_tokens))}\n(Ctrl-C stops it)", flush=True)
    server.served.wait()


if __name__ == "__main__":
    main()
