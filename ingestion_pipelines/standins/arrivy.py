"""A stand-in of the Arrivy API (../shared/crm/APIS.md §5 and §8, SEED_SYSTEM.md §7), for tests
and offline use.

Run it: ``python -m ingestion_pipelines.standins.arrivy --port 8767 [--tasks 500 ...]`` (prints
the base URL and the keys); or from a test::

    account = Account.seeded(seed=1, tasks=300)
    with serve(account) as server:            # a real HTTP server on a free loopback port
        requests.get(server.url + "/tasks", headers=server.auth_headers())

What it does:

* Auth: ``X-Auth-Key`` and ``X-Auth-Token`` must both match (``DEFAULT_AUTH_KEY`` /
  ``DEFAULT_API_KEY``), else 401 ``{"message": "Invalid credentials"}``.
* ``GET /tasks``, ``/bookings``, ``/entities``, ``/groups``: ``page`` (1-based); ``page_size`` /
  ``items_per_page`` are ignored (``Account.page_size`` records per page, 500 by default, or
  the sizes of ``Account.page_sizes`` in turn: short pages that are not the last); an empty
  list ends paging. Ordered by creation time, then id (new records go last). Tasks, entities
  and groups answer a bare list; bookings ``{results, has_next, next_page, total_count,
  current_page, page_size}``. ``updated_after`` (``%Y-%m-%dT%H:%M:%SZ`` or any ISO 8601;
  tasks also ``last_sync``): records updated at or after it. Tasks: ``from`` / ``to`` bound the
  start time. ``GET /<stream>/{id}``: one record or 404.
* Faults (:meth:`Account.inject`): any status (429 with or without ``Retry-After``, 500, 502,
  503) for the next N requests of a path or page; :attr:`Account.duplicates` repeats the last
  record of each page at the top of the next; :meth:`Account.on_page` runs a change (a touch,
  a new record) after a page is served, i.e. records changed between pages.
* Test operations: :meth:`Account.touch`, :meth:`Account.create`, :meth:`Account.add`;
  :attr:`Account.stats` counts requests by path and status.

Record shapes follow peer DW's ``models/arrivy.py`` as APIS.md §5 lists them (times ISO 8601;
start/end with an offset and an ``_original_iso_str`` / ``_timezone``; ids large integers).

This module imports nothing else of the project.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, ContextManager, Iterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .serving import Served, running, start_app

DEFAULT_AUTH_KEY = "arrivy-standin-auth-key"
DEFAULT_API_KEY = "arrivy-standin-api-key"
STREAMS = ("tasks", "bookings", "entities", "groups")
#: streams answered as ``{results, has_next, ...}`` (the rest: a bare list)
DICT_PAGES = frozenset({"bookings"})
STATUSES = ("NOTSTARTED", "ENROUTE", "STARTED", "COMPLETE", "CANCELLED", "EXCEPTION")
ZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles")
_OFFSETS = {"America/New_York": -5, "America/Chicago": -6, "America/Denver": -7, "America/Los_Angeles": -8}
_FIRST = ("Ana", "Ben", "Carla", "Dev", "Eve", "Femi", "Gus", "Hana", "Ivan", "June", "Kofi", "Lena")
_LAST = ("Smith", "Ng", "Garcia", "Okafor", "Brown", "Kowalski", "Ito", "Haddad", "Lopez", "Meyer")
_CITIES = (("Austin", "TX", "78701"), ("Denver", "CO", "80202"), ("Tampa", "FL", "33602"), ("Boise", "ID", "83702"))


def iso(t: dt.datetime) -> str:
    """``2026-11-02T10:15:30.123456Z`` (UTC)."""
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Fault:
    """The next ``times`` requests of ``path`` (``/tasks``; None: any) — of ``page`` only
    when given — answer ``status`` (``retry_after``: the ``Retry-After`` seconds, or None)."""

    status: int
    path: str | None = None
    page: int | None = None
    times: int = 1
    retry_after: float | None = None


@dataclass
class Account:
    """The data and behaviour of one Arrivy account (module docstring). ``records``: stream
    -> id -> record (the API's JSON); ``page_size``; ``page_sizes`` (cycled when given);
    ``duplicates``; ``auth_key`` / ``api_key``."""

    records: dict[str, dict[int, dict]] = field(default_factory=lambda: {s: {} for s in STREAMS})
    page_size: int = 500
    page_sizes: tuple[int, ...] = ()
    duplicates: bool = False
    auth_key: str = DEFAULT_AUTH_KEY
    api_key: str = DEFAULT_API_KEY
    stats: dict[str, int] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    hooks: dict[tuple[str, int], list[Callable[["Account"], None]]] = field(default_factory=dict)
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    _next_id: int = 5066549580791808
    _lock: threading.RLock = field(default_factory=threading.RLock)

    @classmethod
    def seeded(cls, seed: int = 0, tasks: int = 100, bookings: int = 20, entities: int = 10, groups: int = 3,
               **kw: Any) -> "Account":
        """An account with generated records, created over the past 60 days."""
        acc = cls(rng=random.Random(seed), **kw)
        for stream, n in (("groups", groups), ("entities", entities), ("bookings", bookings), ("tasks", tasks)):
            acc.create(stream, n, historic=True)
        return acc

    # -- data ----------------------------------------------------------------------------------
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.timezone.utc)

    def create(self, stream: str, n: int, historic: bool = False) -> list[int]:
        """``n`` new records of ``stream`` (``historic``: created in the past 60 days, else now)."""
        ids = []
        with self._lock:
            for _ in range(n):
                self._next_id += self.rng.randint(1, 9999)
                rid = self._next_id
                created = self.now() - dt.timedelta(seconds=self.rng.randint(3600, 60 * 86400)) if historic else self.now()
                rec = _GENERATORS[stream](self, rid, created)
                rec.update(id=rid, created=iso(created), updated=iso(created if historic else self.now()))
                self.records[stream][rid] = rec
                ids.append(rid)
        return ids

    def add(self, stream: str, record: dict) -> None:
        """Serve ``record`` as it is (any shape, e.g. without ``id``), last in order."""
        with self._lock:
            key = record.get("id") if isinstance(record.get("id"), int) else -(len(self.records[stream]) + 1)
            self.records[stream][key] = record

    def touch(self, stream: str, ids: list[int], **changes: Any) -> None:
        """Change records: ``changes`` (default a new ``title`` / ``name``), ``updated`` = now."""
        with self._lock:
            for rid in ids:
                rec = self.records[stream][rid]
                upd = changes or {("title" if "title" in rec else "name"): f"{rec.get('title') or rec.get('name')} (changed)"}
                rec.update(upd, updated=iso(self.now()))
        time.sleep(0.002)  # the next touch gets a later time

    def inject(self, *faults: Fault) -> None:
        with self._lock:
            self.faults.extend(faults)

    def on_page(self, stream: str, page: int, change: Callable[["Account"], None]) -> None:
        """Run ``change(account)`` right after page ``page`` of ``stream`` is served."""
        self.hooks.setdefault((stream, page), []).append(change)

    def count(self, name: str) -> None:
        self.stats[name] = self.stats.get(name, 0) + 1

    def ordered(self, stream: str) -> list[dict]:
        """The records in the API's order: created, then id."""
        return sorted(self.records[stream].values(), key=lambda r: (str(r.get("created") or ""), str(r.get("id"))))

    def page_bounds(self, page: int) -> tuple[int, int]:
        """``[start, end)`` of a 1-based page in the ordered list."""
        if not self.page_sizes:
            return (page - 1) * self.page_size, page * self.page_size
        sizes = [self.page_sizes[i % len(self.page_sizes)] for i in range(page)]
        return sum(sizes[:-1]), sum(sizes)

    def fault_for(self, path: str, page: int | None) -> Fault | None:
        with self._lock:
            for f in self.faults:
                if f.times > 0 and (f.path is None or f.path == path) and (f.page is None or f.page == page):
                    f.times -= 1
                    return f
        return None


def _person(acc: Account) -> tuple[str, str]:
    return acc.rng.choice(_FIRST), acc.rng.choice(_LAST)


def _task(acc: Account, rid: int, created: dt.datetime) -> dict:
    r = acc.rng
    first, last = _person(acc)
    zone = r.choice(ZONES)
    tz = dt.timezone(dt.timedelta(hours=_OFFSETS[zone]))
    start = (created + dt.timedelta(days=r.randint(1, 20))).astimezone(tz).replace(minute=0, second=0, microsecond=0)
    end = start + dt.timedelta(hours=r.choice((1, 2, 3)))
    city, state, zipcode = r.choice(_CITIES)
    status = r.choice(STATUSES)
    # about one task in 25 has a phone or an email that does not parse (a warning, never a lost row)
    phone = "555-01" if r.random() < 0.02 else r.choice(("+1 512 555 01%02d" % r.randint(0, 99),
                                                         "(303) 555-01%02d" % r.randint(0, 99)))
    email = "not-an-email" if r.random() < 0.02 else r.choice((f"{first}.{last}@example.com".lower(),
                                                               f"{first}@example.org".lower()))
    entities = sorted(acc.records["entities"])[:3]
    bookings = sorted(acc.records["bookings"])
    return {
        "title": f"Estimate {first} {last}", "details": r.choice(("Gate code 1234", "", "Call on arrival")),
        "start_datetime": start.isoformat(), "start_datetime_original_iso_str": start.isoformat(),
        "start_datetime_timezone": zone, "end_datetime": end.isoformat(), "end_datetime_original_iso_str": end.isoformat(),
        "end_datetime_timezone": zone, "due_datetime": None, "status": status, "status_title": status.title(),
        "template_type": "TASK", "template": 5710239819104256, "duration": int((end - start).total_seconds() // 60),
        "unscheduled": False, "customer_id": 6000000000000000 + r.randint(1, 10**6),
        "customer_first_name": first, "customer_last_name": last, "customer_email": email, "customer_phone": phone,
        "customer_mobile_number": None, "customer_address_line_1": f"{r.randint(10, 9999)} Main St",
        "customer_address_line_2": "", "customer_city": city, "customer_state": state, "customer_zipcode": zipcode,
        "customer_country": "US",
        "customer_exact_location": {"lat": round(30 + r.random() * 10, 6), "lng": round(-105 + r.random() * 20, 6)},
        "entity_ids": entities[: r.randint(0, len(entities))], "crew_ids": [], "worker_ids": [],
        "external_id": f"EXT-{rid % 100000}", "booking_id": r.choice(bookings) if bookings and r.random() < 0.3 else None,
        "extra_fields": {"Product Interest": r.choice(("Roofing", "Windows", "Siding"))},
        "template_extra_fields": [{"name": "Primary Source", "value": r.choice(("TV", "Web", "Referral"))}],
    }


def _booking(acc: Account, rid: int, created: dt.datetime) -> dict:
    r = acc.rng
    first, last = _person(acc)
    start = (created + dt.timedelta(days=r.randint(1, 30))).replace(minute=0, second=0, microsecond=0)
    return {"title": f"Booking {first} {last}", "start_datetime": start.isoformat(),
            "end_datetime": (start + dt.timedelta(hours=1)).isoformat(), "status": r.choice(("CONFIRMED", "PENDING")),
            "customer_id": 6000000000000000 + r.randint(1, 10**6), "customer_name": f"{first} {last}",
            "customer_email": f"{first}.{last}@example.com".lower(), "customer_phone": "+15125550%03d" % r.randint(0, 999),
            "task_ids": [], "extra_fields": {}}


def _entity(acc: Account, rid: int, created: dt.datetime) -> dict:
    r = acc.rng
    first, last = _person(acc)
    return {"name": f"{first} {last}", "type": r.choice(("CREW", "EMPLOYEE", "VEHICLE")),
            "email": f"{first}.{last}@crew.example.com".lower(), "phone": "+13035550%03d" % r.randint(0, 999),
            "group_id": next(iter(sorted(acc.records["groups"])), None), "is_active": r.random() > 0.1,
            "external_id": f"E{rid % 1000}", "extra_fields": {}}


def _group(acc: Account, rid: int, created: dt.datetime) -> dict:
    r = acc.rng
    city, state, zipcode = r.choice(_CITIES)
    return {"name": f"{city} office", "email": f"{city.lower()}@example.com", "phone": "+15125550100",
            "address_line_1": f"{r.randint(10, 999)} Office Park", "city": city, "state": state, "zipcode": zipcode,
            "country": "US", "timezone": r.choice(ZONES), "url_safe_id": f"{city.lower()}-office"}


_GENERATORS: dict[str, Callable[[Account, int, dt.datetime], dict]] = {
    "tasks": _task, "bookings": _booking, "entities": _entity, "groups": _group}


# -- the app ---------------------------------------------------------------------------------------

def _since(request: Request, stream: str) -> dt.datetime | None:
    raw = request.query_params.get("updated_after") or (request.query_params.get("last_sync") if stream == "tasks" else None)
    if not raw:
        return None
    t = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


def _time(value: Any) -> dt.datetime | None:
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None


def _denied(acc: Account, request: Request) -> Response | None:
    h = request.headers
    if h.get("X-Auth-Key") != acc.auth_key or h.get("X-Auth-Token") != acc.api_key:
        acc.count("401")
        return JSONResponse({"message": "Invalid credentials"}, status_code=401)
    return None


def _faulted(acc: Account, path: str, page: int | None) -> Response | None:
    f = acc.fault_for(path, page)
    if f is None:
        return None
    acc.count(str(f.status))
    headers = {"Retry-After": str(f.retry_after)} if f.retry_after is not None else {}
    body = {"message": "Too many requests"} if f.status == 429 else {"message": "Server error"}
    return JSONResponse(body, status_code=f.status, headers=headers)


async def list_records(request: Request) -> Response:
    acc: Account = request.app.state.account
    stream = request.path_params["stream"]
    acc.count(f"GET /{stream}")
    if stream not in STREAMS:
        return JSONResponse({"message": "Not found"}, status_code=404)
    if (denied := _denied(acc, request)) is not None:
        return denied
    try:
        page = int(request.query_params.get("page", "1"))
        since = _since(request, stream)
        lo, hi = _time(request.query_params.get("from")), _time(request.query_params.get("to"))
    except ValueError:
        return JSONResponse({"message": "Bad request"}, status_code=400)
    if page < 1:
        return JSONResponse({"message": "page must be >= 1"}, status_code=400)
    if (faulted := _faulted(acc, f"/{stream}", page)) is not None:
        return faulted
    with acc._lock:
        rows = acc.ordered(stream)
        if since is not None:
            rows = [r for r in rows if (_time(r.get("updated")) or since) >= since]
        if stream == "tasks" and (lo or hi):
            rows = [r for r in rows if r.get("start_datetime") and (lo is None or _time(r["start_datetime"]) >= lo)
                    and (hi is None or _time(r["start_datetime"]) <= hi)]
        start, end = acc.page_bounds(page)
        if acc.duplicates and page > 1 and start > 0:
            start -= 1
        chunk = [dict(r) for r in rows[start:end]]
        total = len(rows)
    for change in acc.hooks.pop((stream, page), []):
        change(acc)
    if stream in DICT_PAGES:
        return JSONResponse({"results": chunk, "has_next": end < total, "next_page": page + 1 if end < total else None,
                             "total_count": total, "current_page": page, "page_size": len(chunk)})
    return JSONResponse(chunk)


async def one_record(request: Request) -> Response:
    acc: Account = request.app.state.account
    stream = request.path_params["stream"]
    if (denied := _denied(acc, request)) is not None:
        return denied
    try:
        rec = acc.records.get(stream, {}).get(int(request.path_params["rid"]))
    except ValueError:
        rec = None
    return JSONResponse(rec) if rec is not None else JSONResponse({"message": "Not found"}, status_code=404)


def app_for(account: Account) -> Starlette:
    """The ASGI app serving ``account``."""
    app = Starlette(routes=[Route("/{stream}", list_records, methods=["GET"]),
                            Route("/{stream}/{rid}", one_record, methods=["GET"])])
    app.state.account = account
    return app


# -- running it ------------------------------------------------------------------------------------

@dataclass
class Server:
    """A running stand-in: ``url`` (``http://127.0.0.1:<port>``), ``account``, ``stop()``."""

    url: str
    account: Account
    served: Served

    def auth_headers(self) -> dict[str, str]:
        return {"X-Auth-Key": self.account.auth_key, "X-Auth-Token": self.account.api_key}

    def stop(self) -> None:
        self.served.stop()


def start(account: Account, host: str = "127.0.0.1", port: int = 0) -> Server:
    """Serve ``account`` on a thread (``port=0``: a free port); returns when it listens."""
    served = start_app(app_for(account), host, port, name="arrivy")
    return Server(served.url, account, served)


def serve(account: Account, host: str = "127.0.0.1", port: int = 0) -> ContextManager[Server]:
    """:func:`start` as a context manager (stops the server afterwards)."""
    return running(start(account, host, port))


@contextmanager
def demo(seed: int = 4) -> Iterator[tuple[dict[str, str], Callable[[], None]]]:
    """``ingest demo``'s Arrivy account (120 tasks, 30 bookings, 12 entities, 4 groups) served on
    a free loopback port: yields ``(variables, change)`` — ``ARRIVY_API_URL`` / ``ARRIVY_AUTH_KEY``
    / ``ARRIVY_API_KEY`` for it, and a change of 10 tasks and 3 new ones."""
    account = Account.seeded(seed=seed, tasks=120, bookings=30, entities=12, groups=4)

    def change() -> None:
        account.touch("tasks", sorted(account.records["tasks"])[:10])
        account.create("tasks", 3)

    with serve(account) as server:
        yield ({"ARRIVY_API_URL": server.url, "ARRIVY_AUTH_KEY": account.auth_key, "ARRIVY_API_KEY": account.api_key},
               change)


def main(argv: list[str] | None = None) -> None:
    """``python -m ingestion_pipelines.standins.arrivy --port N``: serve a seeded account."""
    ap = argparse.ArgumentParser(description="A local stand-in of the Arrivy API.")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8767)
    ap.add_argument("--seed", type=int, default=0)
    for stream, n in (("tasks", 500), ("bookings", 50), ("entities", 20), ("groups", 4)):
        ap.add_argument(f"--{stream}", type=int, default=n, help=f"generated {stream} [default {n}]")
    ap.add_argument("--page-size", type=int, default=500, help="records per page [default 500]")
    a = ap.parse_args(argv)
    account = Account.seeded(a.seed, a.tasks, a.bookings, a.entities, a.groups, page_size=a.page_size)
    server = start(account, a.host, a.port)
    print(f"Arrivy stand-in at {server.url}\n  ARRIVY_API_URL={server.url}\n  ARRIVY_AUTH_KEY={account.auth_key}\n"
          f"  ARRIVY_API_KEY={account.api_key}\n(Ctrl-C stops it)", flush=True)
    server.served.wait()


if __name__ == "__main__":
    main()
