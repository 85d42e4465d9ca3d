"""Paginators: how an endpoint's next page is asked for (DESIGN.md §10), as data.

Each paginator is a frozen dataclass with one method, ``next(request, body, records,
response) -> Request | None``: given the request that was sent, the decoded answer (JSON, or
the text of an XML feed), the records found in it and the ``requests`` response, it returns
the next request, or None when there is no next page. A paginator only ever sees a
*successful* answer: errors are raised by the client before paging (an error is never an
empty page).

* :class:`JsonCursor` — a cursor at a JSON path, sent back as a parameter or a body field
  (HubSpot list ``paging.next.after`` -> ``?after=``; HubSpot search -> ``{"after": ...}``).
* :class:`NextLink` — a full URL at a JSON path (``@odata.nextLink``, ``d.__next``,
  ``paging.next.link``); :class:`AtomNext` — ``<link rel="next" href>`` of an Atom feed.
* :class:`Offset` — ``$top``/``$skip`` style (MarketSharp): next while a page is full.
* :class:`PageNumber` — ``page=1,2,..`` (Arrivy): next until an empty page.
* :class:`AfterId` — the last record's id as ``after_id`` (LeadConduit ``/events``).

Next links (:class:`NextLink`, :class:`AtomNext`) pass :func:`same_origin`: a link to another
scheme, host or port fails the stream.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Sequence


@dataclass(frozen=True)
class Request:
    """One request of an endpoint: ``method``, ``url`` (absolute), ``params`` (query),
    ``json`` (body, or None), ``budget`` (the rate budget's name)."""

    method: str
    url: str
    params: Mapping[str, Any] = field(default_factory=dict)
    json: Mapping[str, Any] | None = None
    budget: str | None = "default"

    def with_params(self, **params: Any) -> "Request":
        return replace(self, params={**self.params, **params})

    def with_json(self, **values: Any) -> "Request":
        return replace(self, json={**(self.json or {}), **values})


def dig(body: Any, path: str) -> Any:
    """The value at a dotted ``path`` of decoded JSON (``""``: the body itself); None when
    any step is missing. Keys containing dots are not supported (none of our APIs has one)."""
    cur = body
    for part in [p for p in path.split(".") if p] if path else []:
        if isinstance(cur, Mapping):
            cur = cur.get(part)
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return None
    return cur


def same_origin(request: Request, link: str) -> str:
    """``link`` resolved against the request's URL; raises :class:`~.client.ApiError` (the
    stream fails, never an empty page) when it leaves the request's origin (scheme, host,
    port): a next link elsewhere could carry our credentials there (RULES §6)."""
    from urllib.parse import urljoin, urlsplit

    from .client import ApiError

    url = urljoin(request.url, link)

    def origin(u: str) -> tuple:
        s = urlsplit(u)
        return (s.scheme.lower(), (s.hostname or "").lower(), s.port or {"http": 80, "https": 443}.get(s.scheme.lower()))
    if origin(url) != origin(request.url):
        o = origin(url)
        raise ApiError(request.method, urlsplit(request.url).path, None,
                       f"next link to another origin refused ({o[0]}://{o[1]}:{o[2]})")
    return url


class Paginator:
    """No paging: one request."""

    def next(self, request: Request, body: Any, records: Sequence[Any], response: Any) -> Request | None:
        return None


@dataclass(frozen=True)
class JsonCursor(Paginator):
    """The cursor at ``path`` goes back as ``param`` (``in_body``: a field of the JSON body).
    No cursor (or an empty one) ends paging — even after a short or empty page that still
    has one, we follow it (Airbyte PR #80744's early stop)."""

    path: str = "paging.next.after"
    param: str = "after"
    in_body: bool = False

    def next(self, request, body, records, response):
        cursor = dig(body, self.path)
        if cursor in (None, ""):
            return None
        return request.with_json(**{self.param: cursor}) if self.in_body else request.with_params(**{self.param: cursor})


@dataclass(frozen=True)
class NextLink(Paginator):
    """A full next-page URL at ``path`` (``@odata.nextLink``, ``d.__next``, ``paging.next.link``);
    the URL carries the query, so the request's own ``params`` are dropped."""

    path: str = "@odata.nextLink"

    def next(self, request, body, records, response):
        link = dig(body, self.path) if not self.path.startswith("@") else (body or {}).get(self.path)
        return replace(request, url=same_origin(request, link), params={}) if link else None


_ATOM_NEXT = re.compile(r"""<link\b(?=[^>]*\brel=["']next["'])[^>]*\bhref=["']([^"']+)["']""", re.I)


@dataclass(frozen=True)
class AtomNext(Paginator):
    """``<link rel="next" href="...">`` of an Atom feed (OData v2 / WCF Data Services); ``body``
    is the feed's text. The href may be relative to the request URL. (Records of Atom feeds
    are read by the caller: issue 15's MarketSharp reader.)"""

    def next(self, request, body, records, response):
        m = _ATOM_NEXT.search(body if isinstance(body, str) else "")
        return replace(request, url=same_origin(request, m.group(1).replace("&amp;", "&")), params={}) if m else None


@dataclass(frozen=True)
class Offset(Paginator):
    """``limit_param=limit`` and ``offset_param=<records so far>``; next while a page is full
    (a short page is the last)."""

    limit: int = 1000
    limit_param: str = "$top"
    offset_param: str = "$skip"

    def first(self, request: Request) -> Request:
        return request.with_params(**{self.limit_param: self.limit, self.offset_param: 0})

    def next(self, request, body, records, response):
        if len(records) < self.limit:
            return None
        return request.with_params(**{self.offset_param: int(request.params.get(self.offset_param, 0)) + len(records)})


@dataclass(frozen=True)
class PageNumber(Paginator):
    """``param=start, start+1, ...``; next until a page comes back empty (Arrivy ignores page
    sizes, so a short page is not the end)."""

    param: str = "page"
    start: int = 1

    def first(self, request: Request) -> Request:
        return request.with_params(**{self.param: self.start})

    def next(self, request, body, records, response):
        if not records:
            return None
        return request.with_params(**{self.param: int(request.params.get(self.param, self.start)) + 1})


@dataclass(frozen=True)
class AfterId(Paginator):
    """The last record's ``id_field`` goes back as ``param`` (exclusive); next until an empty page."""

    param: str = "after_id"
    id_field: str = "id"

    def next(self, request, body, records, response):
        if not records:
            return None
        last = dig(records[-1], self.id_field)
        return request.with_params(**{self.param: last}) if last is not None else None
