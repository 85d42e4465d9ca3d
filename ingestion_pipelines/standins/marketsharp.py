"""A stand-in of MarketSharp's OData v2 API (WCF Data Services; ../shared/crm/APIS.md §3 and
§8), for tests and offline use.

Run it: ``python -m ingestion_pipelines.standins.marketsharp --port 8767 [--contacts 300 ...]``
(prints ``MARKETSHARP_BASE_URL`` and both kinds of credentials); or from a test::

    company = Company.seeded(seed=1, contacts=200)
    with serve(company) as server:        # a real HTTP server on a free loopback port
        requests.get(server.url + "/Contacts", headers=server.auth_headers())

What it does (knobs are fields of :class:`Company` / :class:`Knobs`, so a test can set them):

* ``GET /WcfDataService.svc/<Set>``: an Atom feed (``m:properties/d:*`` with ``m:type``,
  ``m:null="true"``) or, with ``$format=json`` or ``Accept: application/json``, V2 JSON
  (``{"d": {"results", "__next", "__count"}}``, datetimes as ``/Date(ms)/``). ``$filter``
  (comparisons ``eq ne gt ge lt le`` joined by ``and``; ``datetime'..'``, ``guid'..'``,
  numbers, ``'text'``, ``true``/``false``), ``$orderby`` (``p [asc|desc], ...``; nulls first),
  ``$top``, ``$skip``, ``$inlinecount=allpages``; ``$expand`` / ``$select`` ignored.
  Unknown set: 404; a filter it cannot read: 400 (an ``m:error`` document).
* Sets (seed 004's 23, :data:`SETS`): Contacts, Appointments, Jobs, Leads, Inquiries,
  Activities, Employees, Customers, Prospects (GUID ids, ``lastUpdate``, ``isActive``),
  ActivityResults and the reference sets (integer ids, ``name``, ``isActive``), Addresses and
  ContactPhones (GUID ids, no ``lastUpdate``). Records with ``isActive=false`` stay listed
  (MarketSharp's soft delete).
* Auth: HTTP Basic (``username`` / ``password``, as seed 004 configured it) or the signed
  header ``companyId:apiKey:epoch:base64(HMAC-SHA256(base64decode(secretKey),
  companyId+apiKey+epoch))``; a wrong signature or key, or an epoch more than
  ``max_skew_s`` away from now: 401.
* Faults (APIS.md §8): :meth:`Company.inject` queues answers with a status (429 with
  ``Retry-After``, 503, ...); ``Knobs.server_page`` pages by ``<link rel="next">``
  (``$skiptoken``) at most that many records; ``empty_last_page`` adds a next link to an empty
  page after the last; ``duplicate_across_pages`` repeats the previous page's last entry first
  on each later page; ``dirty_every`` writes invalid XML characters (raw control characters
  and ``&#x1F;`` references) into a text value of every n-th record of an Atom feed;
  ``cross_origin_next`` makes next links point to another origin.
* :func:`demo`: ``ingest demo``'s small company, served, with its variables and a change.
* Test operations: :meth:`Company.touch` (change records: a new ``lastUpdate``),
  :meth:`Company.deactivate` (``isActive=false``), :meth:`Company.create`; :meth:`Company.expected`
  gives a set's records as a client must land them; :attr:`Company.stats` counts requests.

This module imports nothing else of the project.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import random
import re
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, ContextManager, Iterator
from urllib.parse import urlencode
from xml.sax.saxutils import escape, quoteattr

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .serving import Served, running, start_app

SERVICE = "/WcfDataService.svc"
G, I, S, T, B = "Edm.Guid", "Edm.Int32", "Edm.String", "Edm.DateTime", "Edm.Boolean"
_MAIN_TAIL = (("isActive", B), ("lastUpdate", T))

#: entity set -> its properties (name, Edm type), ``id`` first (crm/APIS.md §3 field lists)
SETS: dict[str, tuple[tuple[str, str], ...]] = {
    "Contacts": (("id", G), ("companyId", I), ("firstName", S), ("lastName", S), ("email1", S), ("email2", S),
                 ("email3", S), ("businessName", S), ("source", S), ("creationDate", T), ("primaryAddressId", G),
                 ("contactPhoneId", G), *_MAIN_TAIL),
    "Appointments": (("id", G), ("inquiryId", G), ("salesperson1Id", G), ("setById", G), ("resultId", I),
                     ("appointmentDate", T), ("setDate", T), ("type", S), ("resultReason", S), ("createdDate", T),
                     *_MAIN_TAIL),
    "Jobs": (("id", G), ("contactId", G), ("inquiryId", G), ("number", S), ("name", S), ("status", S),
             ("saleDate", T), ("completedDate", T), ("appointmentId", G), *_MAIN_TAIL),
    "Leads": (("id", G), ("contactId", G), ("firstName", S), ("lastName", S), ("email", S), ("phone", S),
              ("source", S), ("status", S), ("creationDate", T), *_MAIN_TAIL),
    "Inquiries": (("id", G), ("contactId", G), ("inquiryDate", T), ("statusId", I), ("sourcePrimaryId", I),
                  ("sourceSecondaryId", I), ("productInterest", S), *_MAIN_TAIL),
    "Activities": (("id", G), ("contactId", G), ("activityType", S), ("resultId", I), ("dueDate", T),
                   ("completedDate", T), ("notes", S), *_MAIN_TAIL),
    "Employees": (("id", G), ("firstName", S), ("lastName", S), ("email", S), ("isSalesperson", B), *_MAIN_TAIL),
    "Customers": (("id", G), ("contactId", G), ("firstName", S), ("lastName", S), ("email", S), *_MAIN_TAIL),
    "Prospects": (("id", G), ("contactId", G), ("firstName", S), ("lastName", S), ("email", S), *_MAIN_TAIL),
    "ActivityResults": (("id", I), ("name", S), *_MAIN_TAIL),
    "Addresses": (("id", G), ("contactId", G), ("address1", S), ("city", S), ("state", S), ("zip", S), ("isActive", B)),
    "ContactPhones": (("id", G), ("contactId", G), ("phoneNumber", S), ("phoneType", S), ("isActive", B)),
}
REFERENCE_SETS = ("ContactTypes", "InquiryStatuses", "InquirySourcePrimaries", "InquirySourceSecondaries",
                  "AppointmentResults", "ActivityReferences", "ProductTypes", "ProductDetails", "ProductInterests",
                  "CustomFields", "Companies")
for _ref in REFERENCE_SETS:
    SETS[_ref] = (("id", I), ("name", S), ("isActive", B))

_NAMES = ["James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
          "María", "José", "Zoë", "O'Brien", "Nguyễn", "Ann & Co"]
_LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Müller", "<Lopez>"]
_SOURCES = ["Web", "Canvass", "Home Show", "Referral", "TV", None]
EPOCH = dt.datetime(1970, 1, 1)


@dataclass
class Knobs:
    """Fault and paging knobs (module docstring); defaults: a well-behaved service."""

    server_page: int = 0
    empty_last_page: bool = False
    duplicate_across_pages: bool = False
    dirty_every: int = 0
    cross_origin_next: bool = False
    max_skew_s: float = 300.0


@dataclass
class Fault:
    """``count`` answers with ``status`` (or, ``delay_s``, a late answer) for requests whose
    path contains ``path_contains``, after ``skip`` matching requests pass; ``retry_after``:
    its header (seconds)."""

    status: int = 503
    count: int = 1
    path_contains: str = ""
    skip: int = 0
    retry_after: str | None = None
    delay_s: float = 0.0


@dataclass
class Company:
    """One MarketSharp company: its records per set, credentials, knobs, faults, counters."""

    records: dict[str, dict[Any, dict[str, Any]]] = field(default_factory=lambda: {s: {} for s in SETS})
    knobs: Knobs = field(default_factory=Knobs)
    username: str = "standin-user"
    password: str = "standin-password"
    company_id: str = "4321"
    api_key: str = "standin-api-key"
    secret_key: str = base64.b64encode(b"standin-secret-key-for-hmac").decode()
    faults: list[Fault] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)
    _clock: dt.datetime = EPOCH
    _rng: random.Random = field(default_factory=lambda: random.Random(0))

    @classmethod
    def seeded(cls, seed: int = 0, contacts: int = 60, appointments: int = 40, jobs: int = 25, leads: int = 30,
               inquiries: int = 35, activities: int = 50, employees: int = 8, references: int = 5,
               customers: int = 10, prospects: int = 10,
               knobs: Knobs | None = None, **kw: Any) -> "Company":
        """A company of generated records (deterministic for a ``seed``; times over 2024-2025,
        about one record in eight inactive)."""
        c = cls(knobs=knobs or Knobs(), _rng=random.Random(seed), **kw)
        for name in (*REFERENCE_SETS, "ActivityResults"):
            c.create(name, references, historic=True)
        for name, n in (("Employees", employees), ("Contacts", contacts), ("Leads", leads), ("Inquiries", inquiries),
                        ("Appointments", appointments), ("Jobs", jobs), ("Activities", activities),
                        ("Customers", customers), ("Prospects", prospects), ("Addresses", contacts // 2),
                        ("ContactPhones", contacts // 2)):
            c.create(name, n, historic=True)
        return c

    # -- changing it ---------------------------------------------------------------------------
    def now(self) -> dt.datetime:
        """The service clock: naive UTC with milliseconds, never backwards, past every stored time."""
        wall = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        wall = wall.replace(microsecond=wall.microsecond // 1000 * 1000)
        self._clock = max(wall, self._clock + dt.timedelta(milliseconds=1))
        return self._clock

    def create(self, set_name: str, n: int, historic: bool = False) -> list[Any]:
        """``n`` generated records of ``set_name`` (``historic``: times in 2024-2025, else now)."""
        out = []
        with self.lock:
            recs = self.records[set_name]
            for _ in range(n):
                rec = self._generate(set_name, len(recs) + 1)
                if "lastUpdate" in rec:
                    if historic:
                        t = dt.datetime(2024, 1, 1) + dt.timedelta(milliseconds=self._rng.randint(0, 700 * 86_400_000))
                        rec["lastUpdate"] = t
                        self._clock = max(self._clock, t)
                    else:
                        rec["lastUpdate"] = self.now()
                recs[rec["id"]] = rec
                out.append(rec["id"])
        return out

    def _generate(self, set_name: str, n: int) -> dict[str, Any]:
        rng = self._rng
        rec: dict[str, Any] = {}
        for name, kind in SETS[set_name]:
            if name == "id":
                rec[name] = n if kind == I else str(uuid.UUID(int=rng.getrandbits(128), version=4))
            elif name == "isActive":
                rec[name] = rng.random() > 0.125
            elif kind == G:
                rec[name] = self._ref_guid(name) if rng.random() > 0.1 else None
            elif kind == I:
                rec[name] = rng.randint(1, 5) if rng.random() > 0.1 else None
            elif kind == B:
                rec[name] = rng.random() > 0.5
            elif kind == T:
                rec[name] = (dt.datetime(2023, 6, 1) + dt.timedelta(seconds=rng.randint(0, 60_000_000))
                             if rng.random() > 0.15 else None)
            else:
                rec[name] = self._text(name, set_name, n)
        return rec

    def _ref_guid(self, name: str) -> str | None:
        target = {"contactId": "Contacts", "inquiryId": "Inquiries", "appointmentId": "Appointments"}.get(name, "Employees")
        ids = list(self.records[target])
        return self._rng.choice(ids) if ids else str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _text(self, name: str, set_name: str, n: int) -> str | None:
        rng = self._rng
        if name in ("firstName",):
            return rng.choice(_NAMES)
        if name in ("lastName",):
            return rng.choice(_LAST)
        if name.startswith("email"):
            return f"user{n}.{set_name.lower()}@example.com" if rng.random() > 0.3 else None
        if name == "source":
            return rng.choice(_SOURCES)
        if name in ("phone", "phoneNumber"):
            return f"({rng.choice(['312', '415', '646', '702'])}) {rng.randint(200, 999)}-{rng.randint(1000, 9999)}"
        if name == "name" and "lastName" not in dict(SETS[set_name]):
            return f"{set_name[:-1]} {n}"
        return rng.choice([f"{name} {n}", f"{name} #{n} \"quoted\" & <b>", "", None, "ünïcødé ✓"])

    def touch(self, set_name: str, ids: list[Any], **changes: Any) -> None:
        """Change records: ``changes`` applied, ``lastUpdate`` = now (one ms apart)."""
        with self.lock:
            for i in ids:
                rec = self.records[set_name][i]
                rec.update(changes)
                if "lastUpdate" in rec:
                    rec["lastUpdate"] = self.now()

    def deactivate(self, set_name: str, ids: list[Any]) -> None:
        """MarketSharp's soft delete: ``isActive=false`` (and a new ``lastUpdate``)."""
        self.touch(set_name, ids, isActive=False)

    def inject(self, *faults: Fault) -> None:
        with self.lock:
            self.faults.extend(faults)

    def count(self, name: str, n: int = 1) -> None:
        self.stats[name] = self.stats.get(name, 0) + n

    def expected(self, set_name: str) -> dict[Any, dict[str, Any]]:
        """The set's records by id as a client must land them (copies)."""
        with self.lock:
            return {k: dict(v) for k, v in self.records[set_name].items()}

    # -- auth -----------------------------------------------------------------------------------
    def signature(self, epoch: str) -> str:
        """base64(HMAC-SHA256(base64decode(secret_key), company_id + api_key + epoch))."""
        mac = hmac.new(base64.b64decode(self.secret_key), f"{self.company_id}{self.api_key}{epoch}".encode(),
                       hashlib.sha256)
        return base64.b64encode(mac.digest()).decode()

    def signed_header(self, epoch: int | None = None) -> str:
        e = str(int(time.time()) if epoch is None else epoch)
        return f"{self.company_id}:{self.api_key}:{e}:{self.signature(e)}"

    def authorised(self, header: str | None) -> str | None:
        """None when ``header`` is valid Basic or a fresh, valid signature; else the reason."""
        if not header:
            return "no Authorization header"
        if header.startswith("Basic "):
            try:
                user, _, pw = base64.b64decode(header[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return "malformed Basic credentials"
            ok = hmac.compare_digest(user, self.username) and hmac.compare_digest(pw, self.password)
            return None if ok else "wrong username or password"
        parts = header.replace("%2B", "+").split(":")
        if len(parts) != 4 or not parts[2].isdigit():
            return "malformed signed header"
        coy, key, epoch, sig = parts
        if not (hmac.compare_digest(coy, self.company_id) and hmac.compare_digest(key, self.api_key)):
            return "unknown company or API key"
        if abs(time.time() - int(epoch)) > self.knobs.max_skew_s:
            return "stale timestamp"
        return None if hmac.compare_digest(sig, self.signature(epoch)) else "bad signature"


# -- queries ------------------------------------------------------------------------------------

class _BadQuery(ValueError):
    pass


_CMP = re.compile(r"^\s*(\w+)\s+(eq|ne|gt|ge|lt|le)\s+(.+?)\s*$", re.I)
_AND = re.compile(r"\s+and\s+", re.I)


def _literal(s: str) -> Any:
    s = s.strip()
    m = re.match(r"^(datetime|guid)'([^']*)'$", s, re.I)
    if m:
        if m.group(1).lower() == "guid":
            return m.group(2).lower()
        try:
            return dt.datetime.fromisoformat(m.group(2))
        except ValueError:
            raise _BadQuery(f"Unrecognized 'Edm.DateTime' literal '{m.group(2)}'") from None
    if s.startswith("'") and s.endswith("'"):
        return s[1:-1].replace("''", "'")
    if s.lower() in ("true", "false"):
        return s.lower() == "true"
    if s.lower() == "null":
        return None
    try:
        return int(s)
    except ValueError:
        raise _BadQuery(f"Syntax error at '{s}'") from None


def _compile_filter(text: str, props: dict[str, str]):
    """``$filter`` -> predicate(record) (module docstring's subset)."""
    text = text.strip()
    while text.startswith("(") and text.endswith(")"):
        text = text[1:-1].strip()
    tests = []
    for part in _AND.split(text) if text else []:
        part = part.strip().lstrip("(").rstrip(")")
        m = _CMP.match(part)
        if not m or m.group(1) not in props:
            raise _BadQuery(f"No property '{part.split()[0] if part.split() else part}' or syntax error in $filter")
        tests.append((m.group(1), m.group(2).lower(), _literal(m.group(3))))

    def keep(rec: dict[str, Any]) -> bool:
        for prop, op, lit in tests:
            v = rec.get(prop)
            if isinstance(v, str) and props[prop] == G:
                v = v.lower()
            if op == "eq" and not v == lit or op == "ne" and not v != lit:
                return False
            if op in ("gt", "ge", "lt", "le"):
                if v is None or lit is None:
                    return False
                try:
                    ok = {"gt": v > lit, "ge": v >= lit, "lt": v < lit, "le": v <= lit}[op]
                except TypeError:
                    raise _BadQuery(f"Operator '{op}' incompatible with operand types for '{prop}'") from None
                if not ok:
                    return False
        return True
    return keep


def _sorted(recs: list[dict[str, Any]], orderby: str, props: dict[str, str]) -> list[dict[str, Any]]:
    keys = []
    for part in [p.strip() for p in orderby.split(",") if p.strip()]:
        name, _, direction = part.partition(" ")
        if name not in props:
            raise _BadQuery(f"No property '{name}' in $orderby")
        keys.append((name, direction.strip().lower() == "desc"))
    for name, desc in reversed(keys or [("id", False)]):
        recs.sort(key=lambda r: (r.get(name) is not None, r.get(name) if r.get(name) is not None else 0), reverse=desc)
    return recs


def _query(company: Company, set_name: str, q: Any) -> tuple[list[dict[str, Any]], int, int | None, int | None]:
    """(this page's records, the offset they start at, the next page's offset or None, the
    records of ``$top`` left after this page or None). A ``$skiptoken`` is an offset."""
    props = dict(SETS[set_name])
    keep = _compile_filter(q.get("$filter", ""), props)
    recs = _sorted([r for r in company.records[set_name].values() if keep(r)], q.get("$orderby", ""), props)
    try:
        skip = int(q.get("$skiptoken") or q.get("$skip") or 0)
        top = int(q["$top"]) if q.get("$top") else None
    except ValueError:
        raise _BadQuery("$top, $skip and $skiptoken must be integers") from None
    end = len(recs) if top is None else min(len(recs), skip + top)
    k = company.knobs
    page_end = min(end, skip + k.server_page) if k.server_page else end
    start = skip - 1 if k.duplicate_across_pages and skip > 0 else skip
    page = [dict(r) for r in recs[start:page_end]]
    if k.server_page and page_end < end:
        nxt: int | None = page_end
    elif k.empty_last_page and page and page_end == end:
        nxt = page_end  # a next link to an empty page
    else:
        nxt = None
    return page, skip, nxt, (None if top is None else end - page_end)


# -- serialisation ---------------------------------------------------------------------------------

def _xml_value(v: Any, kind: str) -> str:
    if kind == T:
        return v.isoformat(timespec="milliseconds") if v.microsecond else v.isoformat()
    if kind == B:
        return "true" if v else "false"
    return escape(str(v))


def _dirty(text: str, n: int) -> str:
    """Invalid XML characters as peers meet them: raw controls and references to them."""
    return ["\x0b", "&#x1F;", "\x00", "&#0;", "\x1b"][n % 5] + text + "\x08"


def atom_feed(set_name: str, recs: list[dict[str, Any]], base: str, next_url: str | None, count: int | None,
              dirty_every: int = 0, start: int = 0) -> str:
    props = SETS[set_name]
    updated = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    out = [f'<?xml version="1.0" encoding="utf-8" standalone="yes"?>\n<feed xml:base={quoteattr(base + "/")} '
           'xmlns:d="http://schemas.microsoft.com/ado/2007/08/dataservices" '
           'xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata" '
           'xmlns="http://www.w3.org/2005/Atom">',
           f'<title type="text">{set_name}</title><id>{escape(base)}/{set_name}</id>'
           f'<updated>{updated}</updated>'
           f'<link rel="self" title="{set_name}" href="{set_name}" />']
    if count is not None:
        out.append(f"<m:count>{count}</m:count>")
    for i, rec in enumerate(recs):
        key = f"guid'{rec['id']}'" if props[0][1] == G else str(rec["id"])
        cells = []
        dirty = dirty_every and (start + i) % dirty_every == 0
        for name, kind in props:
            v = rec.get(name)
            t = "" if kind == S else f' m:type="{kind}"'
            if v is None:
                cells.append(f'<d:{name}{t} m:null="true" />')
            else:
                text = _xml_value(v, kind)
                if dirty and kind == S and v:
                    text, dirty = _dirty(text, start + i), False
                cells.append(f"<d:{name}{t}>{text}</d:{name}>")
        out.append(f"<entry><id>{escape(base)}/{set_name}({key})</id><title type=\"text\" />"
                   f"<updated>{updated}</updated><author><name /></author>"
                   f'<link rel="edit" title="{set_name[:-1]}" href="{set_name}({key})" />'
                   f'<category term="MarketSharpModel.{set_name[:-1]}" '
                   'scheme="http://schemas.microsoft.com/ado/2007/08/dataservices/scheme" />'
                   f'<content type="application/xml"><m:properties>{"".join(cells)}</m:properties></content></entry>')
    if next_url:
        out.append(f'<link rel="next" href={quoteattr(next_url)} />')
    out.append("</feed>")
    return "".join(out)


def _json_value(v: Any, kind: str) -> Any:
    if v is None:
        return None
    if kind == T:
        return f"/Date({int((v - EPOCH) / dt.timedelta(milliseconds=1))})/"
    return v


def json_page(set_name: str, recs: list[dict[str, Any]], base: str, next_url: str | None, count: int | None) -> dict:
    props = SETS[set_name]
    results = []
    for rec in recs:
        key = f"guid'{rec['id']}'" if props[0][1] == G else str(rec["id"])
        row: dict[str, Any] = {"__metadata": {"uri": f"{base}/{set_name}({key})", "type": f"MarketSharpModel.{set_name[:-1]}"}}
        row.update({name: _json_value(rec.get(name), kind) for name, kind in props})
        results.append(row)
    d: dict[str, Any] = {"results": results}
    if count is not None:
        d["__count"] = str(count)
    if next_url:
        d["__next"] = next_url
    return {"d": d}


def _error(status: int, message: str) -> Response:
    body = ('<?xml version="1.0" encoding="utf-8" standalone="yes"?>'
            '<error xmlns="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata">'
            f'<code></code><message xml:lang="en-US">{escape(message)}</message></error>')
    return Response(body, status_code=status, media_type="application/xml")


# -- the app -----------------------------------------------------------------------------------------

async def _fault(company: Company, path: str) -> Response | None:
    with company.lock:
        for f in company.faults:
            if f.path_contains in path:
                if f.skip > 0:
                    f.skip -= 1
                    return None
                f.count -= 1
                if f.count <= 0:
                    company.faults.remove(f)
                break
        else:
            return None
    company.count(f"fault_{f.status}")
    if f.delay_s:
        await asyncio.sleep(f.delay_s)
    headers = {"Retry-After": f.retry_after} if f.retry_after else {}
    return Response("injected fault", status_code=f.status, headers=headers, media_type="text/plain")


async def entity_set(request: Request) -> Response:
    company: Company = request.app.state.company
    company.count("requests")
    set_name = request.path_params["set"]
    fault = await _fault(company, request.url.path)
    if fault is not None:
        return fault
    why = company.authorised(request.headers.get("Authorization"))
    if why is not None:
        company.count("401")
        return Response(f"Unauthorized: {why}", status_code=401, media_type="text/plain")
    if set_name not in SETS:
        return _error(404, f"Resource not found for the segment '{set_name}'.")
    q = request.query_params
    try:
        with company.lock:
            recs, skip, nxt, left = _query(company, set_name, q)
            count = len(company.records[set_name]) if q.get("$inlinecount") == "allpages" else None
    except _BadQuery as e:
        return _error(400, str(e))
    base = str(request.base_url).rstrip("/") + SERVICE
    next_url = None
    if nxt is not None:
        params = {k: v for k, v in q.items() if k not in ("$skiptoken", "$skip", "$top")}
        params["$skiptoken"] = str(nxt)
        if left is not None:
            params["$top"] = str(left)
        next_url = f"{base}/{set_name}?{urlencode(params, safe='$,')}"
        if company.knobs.cross_origin_next:
            next_url = next_url.replace(str(request.base_url).rstrip("/"), "http://collector.invalid:8080")
    company.count("records", len(recs))
    if q.get("$format") == "json" or "json" in request.headers.get("Accept", ""):
        return JSONResponse(json_page(set_name, recs, base, next_url, count))
    body = atom_feed(set_name, recs, base, next_url, count, company.knobs.dirty_every, skip)
    return Response(body.encode("utf-8"), media_type="application/atom+xml;type=feed;charset=utf-8")


def app_for(company: Company) -> Starlette:
    app = Starlette(routes=[Route(SERVICE + "/{set}", entity_set, methods=["GET"])])
    app.state.company = company
    return app


@dataclass
class Server:
    """A running stand-in: ``url`` (the service root, ``http://127.0.0.1:<port>/WcfDataService.svc``)."""

    url: str
    company: Company
    served: Served

    def auth_headers(self, signed: bool = False) -> dict[str, str]:
        c = self.company
        if signed:
            return {"Authorization": c.signed_header()}
        return {"Authorization": "Basic " + base64.b64encode(f"{c.username}:{c.password}".encode()).decode()}

    def env(self, signed: bool = False) -> dict[str, str]:
        """The ``MARKETSHARP_*`` variables of a client of this stand-in."""
        c = self.company
        creds = ({"MARKETSHARP_COMPANY_ID": c.company_id, "MARKETSHARP_API_KEY": c.api_key,
                  "MARKETSHARP_SECRET_KEY": c.secret_key} if signed else
                 {"MARKETSHARP_USERNAME": c.username, "MARKETSHARP_PASSWORD": c.password})
        return {"MARKETSHARP_BASE_URL": self.url, **creds}

    def stop(self) -> None:
        self.served.stop()


def start(company: Company, host: str = "127.0.0.1", port: int = 0) -> Server:
    """Serve ``company`` on a thread (``port=0``: a free port); returns when it listens."""
    served = start_app(app_for(company), host, port, name="marketsharp")
    return Server(served.url + SERVICE, company, served)


def serve(company: Company, host: str = "127.0.0.1", port: int = 0) -> ContextManager[Server]:
    """:func:`start` as a context manager (stops the server afterwards)."""
    return running(start(company, host, port))


@contextmanager
def demo(seed: int = 4) -> Iterator[tuple[dict[str, str], Callable[[], None]]]:
    """``ingest demo``'s MarketSharp company (60 contacts and a few dozen records of each
    other set) served on a free loopback port: yields ``(variables, change)`` —
    ``MARKETSHARP_BASE_URL`` and the signed-header trio for it, and a change of 8 contacts
    (2 of them deactivated) and 3 new ones."""
    company = Company.seeded(seed)

    def change() -> None:
        ids = sorted(company.records["Contacts"])
        company.touch("Contacts", ids[:6], source="Referral")
        company.deactivate("Contacts", ids[6:8])
        company.create("Contacts", 3)

    with serve(company) as server:
        yield server.env(signed=True), change


def main(argv: list[str] | None = None) -> None:
    """``python -m ingestion_pipelines.standins.marketsharp --port N``: serve a seeded company."""
    ap = argparse.ArgumentParser(description="A local stand-in of MarketSharp's OData API.")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8767)
    ap.add_argument("--seed", type=int, default=0)
    for name, n in (("contacts", 300), ("appointments", 200), ("jobs", 120), ("leads", 150), ("inquiries", 180),
                    ("activities", 250), ("employees", 15)):
        ap.add_argument(f"--{name}", type=int, default=n, help=f"generated {name} [default {n}]")
    ap.add_argument("--server-page", type=int, default=0, help="page by next links of this many records")
    ap.add_argument("--dirty-every", type=int, default=0, help="invalid XML characters in every n-th record")
    a = ap.parse_args(argv)
    company = Company.seeded(a.seed, a.contacts, a.appointments, a.jobs, a.leads, a.inquiries, a.activities,
                             a.employees, knobs=Knobs(server_page=a.server_page, dirty_every=a.dirty_every))
    server = start(company, a.host, a.port)
    print(f"MarketSharp stand-in at {server.url}\n  MARKETSHARP_BASE_URL={server.url}\n"
          f"  Basic: MARKETSHARP_USERNAME={company.username} MARKETSHARP_PASSWORD={company.password}\n"
          f"  Signed: MARKETSHARP_COMPANY_ID={company.company_id} MARKETSHARP_API_KEY={company.api_key} "
          f"MARKETSHARP_SECRET_KEY={company.secret_key}\n(Ctrl-C stops it)", flush=True)
    server.served.wait()


if __name__ == "__main__":
    main()
