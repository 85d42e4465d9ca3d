"""The API client: endpoint specs as data, and one request loop every API source shares.

An :class:`Endpoint` says where (``path`` with ``{placeholders}``, ``method``, fixed
``params`` / ``json``), where its records are in the answer (``records``: a dotted JSON path,
``""`` for a bare list), how it pages (a paginator of :mod:`.paginators`), which rate budget it
spends and which statuses are answers (``ok``; e.g. ``207`` for a partial batch read).
:meth:`ApiClient.pages` walks it and yields :class:`Page` objects.

:meth:`ApiClient.send` is the loop under every request:

1. the rate budget of the request (:class:`~.budget.RateBudget`) grants a slot;
2. the auth object gives its headers (signed afresh, OAuth refreshed before expiry);
3. the answer's rate-limit headers are folded into the budget;
4. a 401 refreshes the credentials once (when the auth can) and repeats;
5. a retryable answer or error — urllib3 ``Retry`` decides: 423, 429, 500, 502, 503, 504,
   524, connection errors and timeouts, with its exponential backoff, honouring
   ``Retry-After`` (also on 423 and 477) — waits and goes back to 1. A 429 without
   ``Retry-After`` also spends the whole budget window (no 429 storm). A daily-quota 429
   raises :class:`QuotaExhausted` at once (retrying cannot help until the quota resets);
6. a status not in ``ok`` (after the retries) raises :class:`ApiError`: an error is never an
   empty page.

``urllib3.Retry`` is used as the policy object (``is_retry``, ``increment``, ``sleep``)
rather than mounted in the ``HTTPAdapter``, because steps 1-2 must run again for every
attempt: an adapter-level retry would resend the same signature and skip the budget.
Messages and logs carry the method, the path (no query string: an API key may sit there) and
the status, never a header or a credential.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterator, Mapping, Sequence
from urllib.parse import urljoin, urlsplit

import orjson
import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError
from urllib3.util.retry import Retry

from .auth import Auth
from .budget import RateBudget
from .paginators import Paginator, Request, dig

RETRY_STATUSES = (423, 429, 500, 502, 503, 504, 524)


class ApiError(Exception):
    """A request that still failed after its retries: ``status`` (None for a connection
    error or timeout), ``method``, ``path``; the message holds a short, credential-free detail."""

    def __init__(self, method: str, path: str, status: int | None, detail: str):
        super().__init__(f"{method} {path}: " + (f"HTTP {status}" if status is not None else "no answer") + f": {detail}")
        self.method, self.path, self.status, self.detail = method, path, status, detail


class QuotaExhausted(ApiError):
    """The account's daily quota is spent (HubSpot ``policyName: DAILY``): the run stops
    cleanly, its committed state kept."""


class _Retry(Retry):
    #: Retry-After is honoured on these too (HubSpot: 423 locked, 477 migration in progress)
    RETRY_AFTER_STATUS_CODES = frozenset({413, 423, 429, 477, 503})

    def parse_retry_after(self, retry_after: str) -> float:
        """Seconds (fractions too: ``0.5``) or an HTTP date; a value that is neither means the
        backoff (urllib3 would raise ``InvalidHeader`` out of the request loop)."""
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            pass
        try:
            return super().parse_retry_after(retry_after)
        except Exception:  # noqa: BLE001 - urllib3's InvalidHeader: no usable wait, back off instead
            return 0.0


def default_retry(total: int = 6, backoff_factor: float = 0.5, backoff_max: float = 30.0) -> Retry:
    """The retry policy: ``total`` retries of :data:`RETRY_STATUSES`, connection errors and
    timeouts, any method (our POSTs are reads: search, batch read), backoff
    ``factor * 2**(n-1)`` seconds capped at ``backoff_max`` with up to 0.25 s of jitter,
    ``Retry-After`` honoured (at most 300 s)."""
    return _Retry(total=total, connect=total, read=total, status=total, other=total, allowed_methods=None,
                  status_forcelist=RETRY_STATUSES, backoff_factor=backoff_factor, backoff_max=backoff_max,
                  backoff_jitter=0.25, respect_retry_after_header=True, raise_on_status=False, retry_after_max=300)


@dataclass(frozen=True)
class Endpoint:
    """An endpoint spec (see the module docstring). ``path`` may hold ``{name}`` placeholders
    filled by :meth:`request`; ``records`` is the dotted path of the record list; ``decode``:
    ``(response, request) -> (body, records)`` for an answer that is not plain JSON (an Atom
    feed: :func:`~.odata.decode_page`); the paginator then sees that ``body``. A ``decode`` that
    cannot read the answer raises :class:`ApiError` (an unreadable page is never empty)."""

    path: str
    method: str = "GET"
    params: Mapping[str, Any] = field(default_factory=dict)
    json: Mapping[str, Any] | None = None
    records: str = "results"
    paginator: Paginator = field(default_factory=Paginator)
    budget: str | None = "default"
    ok: tuple[int, ...] = (200,)
    decode: Callable[[requests.Response, Request], tuple[Any, list[Any]]] | None = None

    def request(self, base_url: str, path_vars: Mapping[str, Any] | None = None,
                params: Mapping[str, Any] | None = None, json: Mapping[str, Any] | None = None) -> Request:
        """The first request: the path filled in, joined to ``base_url``, ``params`` / ``json``
        merged over the spec's (paginators with a ``first`` step add their parameters)."""
        path = self.path.format(**(path_vars or {}))
        body = {**(self.json or {}), **(json or {})} if (self.json is not None or json) else None
        req = Request(self.method, urljoin(base_url.rstrip("/") + "/", path.lstrip("/")),
                      {**self.params, **(params or {})}, body, self.budget)
        first = getattr(self.paginator, "first", None)
        return first(req) if first else req


@dataclass
class Page:
    """One answer of an endpoint: ``records`` (the list at the spec's path), ``body``
    (decoded JSON), ``status`` (``207``: partial, the body says what is missing), ``request``."""

    records: list[Any]
    body: Any
    status: int
    request: Request
    headers: Mapping[str, str]


@dataclass
class ApiClient:
    """Requests to one API account (see the module docstring).

    ``base_url``; ``auth`` (:mod:`.auth`); ``budgets``: rate budgets by name (a request
    names its budget; None or a name not here: unlimited); ``retry``: the urllib3 policy;
    ``timeout_s``: connect and read timeout (seconds); ``rate_headers``: the prefix of the
    API's rate-limit headers (``X-HubSpot-RateLimit-``); ``is_quota_429``: tells a daily-quota
    429 from a window one; ``log``: a logger (``warning`` on each retry).
    ``stats``: requests sent, retries, 429s, seconds waited for the budget, by name."""

    base_url: str
    auth: Auth = field(default_factory=Auth)
    budgets: Mapping[str, RateBudget] = field(default_factory=dict)
    retry: Retry = field(default_factory=default_retry)
    timeout_s: float = 30.0
    rate_headers: str = "X-HubSpot-RateLimit-"
    is_quota_429: Callable[[requests.Response], bool] = lambda resp: False
    log: Any = None
    user_agent: str = "ingestion_pipelines/0.1"
    stats: dict[str, float] = field(default_factory=lambda: {"requests": 0, "retries": 0, "429": 0, "budget_wait_s": 0.0})
    session: requests.Session = field(default_factory=requests.Session)

    def __post_init__(self) -> None:
        adapter = HTTPAdapter(max_retries=0, pool_connections=4, pool_maxsize=8)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = self.user_agent
        self.session.trust_env = False

    def __repr__(self) -> str:
        return f"ApiClient({self.base_url!r}, auth={self.auth!r})"

    def close(self) -> None:
        self.session.close()

    # -- one request ----------------------------------------------------------------------
    def send(self, method: str, url: str, *, params: Mapping[str, Any] | None = None, json: Any = None,
             data: Mapping[str, Any] | None = None, auth: Auth | None = None, budget: str | None = "default",
             ok: Sequence[int] = (200,), check: bool = True) -> requests.Response:
        """One request through the loop of the module docstring; returns the final response.
        ``check``: raise :class:`ApiError` unless its status is in ``ok`` (False: return any
        final response). Raises :class:`QuotaExhausted`, :class:`ApiError` (retries spent,
        or a status not in ``ok``), :class:`~.auth.AuthRefused`."""
        url = url if url.startswith(("http://", "https://")) else urljoin(self.base_url.rstrip("/") + "/", url.lstrip("/"))
        path = urlsplit(url).path
        auth = auth or self.auth
        bud = self.budgets.get(budget) if budget else None
        retry, refreshed = self.retry, False
        body = None if json is None else _json_bytes(json)
        while True:
            if bud is not None:
                self.stats["budget_wait_s"] += bud.acquire()
            headers = auth.headers(method, url, body, self)
            if body is not None:
                headers["Content-Type"] = "application/json"
            self.stats["requests"] += 1
            try:
                resp = self.session.request(method, url, params=params, data=body if body is not None else data,
                                            headers=headers, timeout=self.timeout_s)
            except requests.RequestException as exc:
                retry = self._again(retry, method, path, url, error=exc)
                continue
            if bud is not None:
                bud.observe(resp.headers, self.rate_headers)
            if resp.status_code == 401 and not refreshed and auth.refresh_on_401(self):
                refreshed = True
                continue
            if resp.status_code == 429:
                self.stats["429"] += 1
                if self.is_quota_429(resp):
                    raise QuotaExhausted(method, path, 429, "daily quota spent; the run stops, its state kept")
                if bud is not None and "Retry-After" not in resp.headers:
                    bud.saturate()
            if retry.is_retry(method, resp.status_code, "Retry-After" in resp.headers):
                try:
                    retry = self._again(retry, method, path, url, response=resp)
                except ApiError:
                    if check and resp.status_code not in ok:
                        raise
                    return resp
                continue
            if check and resp.status_code not in ok:
                raise ApiError(method, path, resp.status_code, _detail(resp))
            return resp

    def _again(self, retry: Retry, method: str, path: str, url: str, *, response: requests.Response | None = None,
               error: Exception | None = None) -> Retry:
        """Count one retry (``Retry.increment``) and sleep its backoff / ``Retry-After``;
        raises :class:`ApiError` when the retries are spent."""
        raw = response.raw if response is not None else None
        try:
            retry = retry.increment(method, url, response=raw, error=error)
        except MaxRetryError:
            what = _detail(response) if response is not None else type(error).__name__
            raise ApiError(method, path, response.status_code if response is not None else None,
                           f"{what} (after {len(retry.history)} retries)") from None
        self.stats["retries"] += 1
        reason = f"HTTP {response.status_code}" if response is not None else type(error).__name__
        if self.log is not None:
            self.log.warning(f"{method} {path}: {reason}; retry {len(retry.history)}")
        retry.sleep(raw)
        return retry

    # -- an endpoint, page by page ------------------------------------------------------------
    def pages(self, endpoint: Endpoint, path_vars: Mapping[str, Any] | None = None,
              params: Mapping[str, Any] | None = None, json: Mapping[str, Any] | None = None,
              max_pages: int | None = None) -> Iterator[Page]:
        """Every page of ``endpoint`` in order (at most ``max_pages``). Raises
        :class:`ApiError` for a failed request or an answer without a record list."""
        req: Request | None = endpoint.request(self.base_url, path_vars, params, json)
        n = 0
        while req is not None and (max_pages is None or n < max_pages):
            page = self.fetch(endpoint, req)
            yield page
            n += 1
            req = endpoint.paginator.next(req, page.body, page.records, None)

    def fetch(self, endpoint: Endpoint, req: Request) -> Page:
        """One request of ``endpoint`` (``req`` as built by :meth:`Endpoint.request` or a
        paginator) decoded into a :class:`Page`."""
        resp = self.send(req.method, req.url, params=req.params or None, json=req.json, budget=req.budget,
                         ok=endpoint.ok)
        if endpoint.decode is not None:
            body, records = endpoint.decode(resp, req)
            return Page(list(records), body, resp.status_code, replace(req), resp.headers)
        try:
            body = orjson.loads(resp.content)  # ~2x faster than json: pages of 100-200 records
        except orjson.JSONDecodeError:
            raise ApiError(req.method, urlsplit(req.url).path, resp.status_code, "answer is not JSON") from None
        records = dig(body, endpoint.records) if endpoint.records else body
        if records is None and resp.status_code == 404 and 404 in endpoint.ok:
            records = []
        if not isinstance(records, list):
            raise ApiError(req.method, urlsplit(req.url).path, resp.status_code,
                           f"no record list at {endpoint.records!r} in the answer")
        return Page(records, body, resp.status_code, replace(req), resp.headers)


def _json_bytes(value: Any) -> bytes:
    import json

    return json.dumps(value, separators=(",", ":")).encode()


def _detail(resp: requests.Response) -> str:
    """A short, safe detail of an error answer: its ``message``/``category`` when JSON, else
    the first 200 characters of the text."""
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:200].strip() or resp.reason or ""
    if isinstance(body, dict):
        parts = [str(body[k]) for k in ("category", "policyName", "message") if body.get(k)]
        return "; ".join(parts)[:300]
    return str(body)[:200]


def prefetch(items: Iterator[Any], depth: int = 2) -> Iterator[Any]:
    """``items`` (e.g. :meth:`ApiClient.pages`) read ahead on a thread, at most ``depth`` items
    ahead: the next page's request overlaps the writing of this one, so a sync runs at the pace
    of the slower of the two (the API's limit) rather than of their sum. An exception of
    ``items`` is raised here, at the point the failed item would have come; closing this
    generator early (``break``) stops the reader after the item it is on."""
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def reader() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put((item, None), timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put((done, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            q.put((done, exc))

    t = threading.Thread(target=reader, daemon=True, name="api-prefetch")
    t.start()
    try:
        while True:
            item, exc = q.get()
            if item is done:
                if exc is not None:
                    raise exc
                return
            yield item
    finally:
        stop.set()
        while t.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                t.join(0.05)
