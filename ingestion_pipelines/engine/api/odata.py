"""The OData reader of the API engine: :func:`decode_page` turns one OData answer (an Atom
feed, V2 JSON or V4 JSON) into an :class:`ODataPage`, and :class:`ODataPaging` asks for the
next one. Any OData source can use it (MarketSharp's WCF Data Service: ``crm/APIS.md`` §3).

* **Atom** (OData v1/v2, WCF Data Services): each ``atom:entry``'s ``m:properties/d:*``
  becomes a record, values typed by ``m:type`` (:func:`typed`; ``m:null="true"`` is None, a
  complex value a dict); ``<link rel="next">`` (relative to ``xml:base``) is the next page;
  ``m:count`` the total. The text is cleaned of characters XML 1.0 forbids (and of character
  references to them) before parsing (:func:`clean_xml`), and parsed with ``defusedxml`` with
  DTDs forbidden: no entity expansion (an XML bomb), no external entity or DTD is fetched
  (DESIGN.md §9). An ``m:error`` document raises :class:`ODataError` with its message.
* **V2 JSON** ``{"d": {"results": [...], "__next": url, "__count": "n"}}`` (or ``{"d": [...]}``),
  ``/Date(ms)/`` values as datetimes, ``__metadata`` / ``__deferred`` dropped;
  **V4 JSON** ``{"value": [...], "@odata.nextLink": url, "@odata.count": n}``.
* A next link is resolved against the feed's base and must keep the request's origin
  (scheme, host, port; :func:`~.paginators.same_origin`): another origin raises
  :class:`~.client.ApiError` before any request is sent to it (pyodata's
  ``test_next_url_cross_origin_raises``).
* Requests: :func:`datetime_literal` (``datetime'2024-01-01T00:00:00'``), :func:`since_filter`
  (``$filter=<field> gt datetime'..'``), :class:`ODataPaging` (``$top``/``$skip`` or the
  service's next link).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Any, Iterator, Mapping
from urllib.parse import urljoin, urlsplit

import orjson
from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET

from .client import ApiError
from .paginators import Paginator, Request, same_origin

__all__ = ["ODataError", "ODataPage", "ODataPaging", "ODataRequest", "clean_xml", "datetime_literal", "decode",
           "decode_page", "follow", "json_ready", "next_url", "parse_atom", "parse_json", "since_filter", "typed"]

ATOM = "{http://www.w3.org/2005/Atom}"
M = "{http://schemas.microsoft.com/ado/2007/08/dataservices/metadata}"
XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"


class ODataError(ApiError):
    """An answer that is not a readable OData page: unsafe or broken XML, an ``m:error``
    document, JSON without a record list. The message is short and credential-free."""

    def __init__(self, detail: str, path: str = ""):
        super().__init__("GET", path, None, detail)
        self.args = (f"OData answer of {path or 'the service'} refused: {detail}",)


@dataclass
class ODataPage:
    """One decoded answer: ``records`` (dicts of typed values), ``next_link`` (as written:
    maybe relative), ``base`` (what a relative link is resolved against: ``xml:base``, else
    None = the request URL), ``count`` (``m:count`` / ``__count`` / ``@odata.count``), ``kind``
    (``atom`` | ``v2json`` | ``v4json``)."""

    records: list[dict[str, Any]]
    next_link: str | None = None
    base: str | None = None
    count: int | None = None
    kind: str = "atom"


# -- values ------------------------------------------------------------------------------------

_INTS = frozenset({"Edm.Int16", "Edm.Int32", "Edm.Int64", "Edm.Byte", "Edm.SByte"})
_FLOATS = frozenset({"Edm.Double", "Edm.Single"})
_FRACTION = re.compile(r"(\.\d{6})\d+")


def typed(text: str | None, edm_type: str | None) -> Any:
    """The Python value of an Atom property's text by its ``m:type`` (None / Edm.String: the
    text): integers -> int, Edm.Decimal -> Decimal, Double/Single -> float, Edm.Boolean -> bool,
    Edm.DateTime -> naive datetime (as the service wrote it; 7 fraction digits cut to 6),
    Edm.DateTimeOffset -> aware datetime, Edm.Guid -> the text (checked as a GUID); a text
    that does not read as its type stays the text (DESIGN.md §9: never cost the row)."""
    if text is None:
        return None
    if not edm_type or edm_type == "Edm.String":
        return text
    s = text.strip()
    try:
        if edm_type in _INTS:
            return int(s)
        if edm_type == "Edm.Decimal":
            return Decimal(s)
        if edm_type in _FLOATS:
            return float(s)
        if edm_type == "Edm.Boolean":
            return {"true": True, "1": True, "false": False, "0": False}[s.lower()]
        if edm_type in ("Edm.DateTime", "Edm.DateTimeOffset"):
            d = dt.datetime.fromisoformat(_FRACTION.sub(r"\1", s).replace("Z", "+00:00"))
            return d.replace(tzinfo=None) if edm_type == "Edm.DateTime" and d.utcoffset() == dt.timedelta(0) else d
        if edm_type == "Edm.Guid":
            uuid.UUID(s)
            return s
    except (ValueError, KeyError, InvalidOperation):
        return text
    return text


_JSON_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")


def _json_value(v: Any) -> Any:
    """A V2 JSON value: ``/Date(ms[+-offset minutes])/`` -> datetime (naive UTC without an
    offset, else aware), a nested object -> its JSON values; anything else as sent."""
    if isinstance(v, str) and v.startswith("/Date("):
        m = _JSON_DATE.match(v)
        if m:
            d = dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=int(m.group(1)))
            if m.group(2):
                mins = int(m.group(2))
                return d.replace(tzinfo=dt.timezone.utc).astimezone(dt.timezone(dt.timedelta(minutes=mins)))
            return d
    if isinstance(v, dict):
        return {k: _json_value(x) for k, x in v.items() if k != "__metadata"}
    return v


def json_ready(record: Mapping[str, Any]) -> dict[str, Any]:
    """``record`` with JSON values only (for ``raw``): datetimes as ISO 8601 (a naive one
    stays naive), Decimals as their text, nested dicts likewise."""
    out: dict[str, Any] = {}
    for k, v in record.items():
        if isinstance(v, (dt.datetime, dt.date)):
            v = v.isoformat()
        elif isinstance(v, Decimal):
            v = str(v)
        elif isinstance(v, Mapping):
            v = json_ready(v)
        out[k] = v
    return out


# -- Atom ----------------------------------------------------------------------------------------

# XML 1.0 Char: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]
_BAD_CHARS = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_CHAR_REF = re.compile(r"&#(x[0-9a-fA-F]+|[0-9]+);")
_DECL_ENCODING = re.compile(rb"""^<\?xml[^>]*encoding=["']([A-Za-z0-9._-]+)["']""")


def _allowed(cp: int) -> bool:
    return cp in (0x9, 0xA, 0xD) or 0x20 <= cp <= 0xD7FF or 0xE000 <= cp <= 0xFFFD or 0x10000 <= cp <= 0x10FFFF


def clean_xml(text: str) -> tuple[str, int]:
    """``text`` without the characters XML 1.0 forbids (NUL, control characters, lone
    surrogates) and without character references to them (``&#x1F;``, ``&#0;``), which
    peers strip before parsing (``crm/APIS.md`` §3); references to allowed characters stay.
    Returns ``(text, characters removed)``."""
    removed = 0

    def ref(m: re.Match) -> str:
        nonlocal removed
        body = m.group(1)
        cp = int(body[1:], 16) if body[0] in "xX" else int(body)
        if _allowed(cp):
            return m.group(0)
        removed += 1
        return ""

    text, n = _BAD_CHARS.subn("", text)
    removed += n
    if "&#" in text:
        text = _CHAR_REF.sub(ref, text)
    return text, removed


def _text_of(content: bytes | str) -> str:
    """The document's text: its BOM or XML declaration's encoding (default UTF-8; bytes that
    do not decode become U+FFFD rather than failing the page)."""
    if isinstance(content, str):
        return content
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        return content.decode("utf-16", errors="replace")
    m = _DECL_ENCODING.match(content.lstrip(b"\xef\xbb\xbf"))
    enc = m.group(1).decode() if m else "utf-8"
    try:
        return content.decode(enc, errors="replace").lstrip("\ufeff")
    except LookupError:
        return content.decode("utf-8", errors="replace").lstrip("\ufeff")


_DECL = re.compile(r"^\s*<\?xml[^>]*\?>")


def parse_atom(content: bytes | str, path: str = "") -> ODataPage:
    """An Atom feed (or a single ``entry``) -> :class:`ODataPage` (module docstring).
    Raises :class:`ODataError` for a DTD or entity declaration (refused, never expanded),
    broken XML, an ``m:error`` document or another root. ``path``: for messages."""
    text, _ = clean_xml(_text_of(content))
    text = _DECL.sub("", text, count=1)  # the text is decoded: its encoding declaration no longer applies
    try:
        root = SafeET.fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as e:
        raise ODataError(f"unsafe XML ({type(e).__name__}: DTDs and entities are not accepted)", path) from None
    except SafeET.ParseError as e:
        raise ODataError(f"not well-formed XML ({e})", path) from None
    if root.tag == M + "error":
        msg = root.findtext(M + "message") or root.findtext(M + "code") or "no message"
        raise ODataError(f"the service answered an error: {msg.strip()[:300]}", path)
    if root.tag == ATOM + "entry":
        return ODataPage([_entry(root)], base=root.get(XML_BASE))
    if root.tag != ATOM + "feed":
        raise ODataError(f"not an Atom feed (root {root.tag})", path)
    nxt = next((link.get("href") for link in root.findall(ATOM + "link") if link.get("rel") == "next"), None)
    count = root.findtext(M + "count")
    return ODataPage([_entry(e) for e in root.findall(ATOM + "entry")], nxt, root.get(XML_BASE),
                     int(count) if count and count.strip().isdigit() else None)


def _entry(entry: Any) -> dict[str, Any]:
    """An entry's ``m:properties`` (under ``atom:content``, or beside it for a media entry)."""
    props = entry.find(f"{ATOM}content/{M}properties")
    if props is None:
        props = entry.find(M + "properties")
    return {} if props is None else _properties(props)


def _properties(el: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for child in el:
        name = child.tag.rsplit("}", 1)[-1]
        if child.get(M + "null") == "true":
            out[name] = None
        elif len(child):  # a complex value: its own properties
            out[name] = _properties(child)
        else:
            out[name] = typed(child.text or "", child.get(M + "type"))
    return out


# -- JSON ------------------------------------------------------------------------------------------

def parse_json(body: Any, path: str = "") -> ODataPage:
    """V2 (``d``) or V4 (``value``) JSON, decoded -> :class:`ODataPage`; raises
    :class:`ODataError` when it holds no record list."""
    if isinstance(body, dict) and "d" in body:
        d = body["d"]
        if isinstance(d, list):
            return ODataPage([_json_record(r) for r in d], kind="v2json")
        if isinstance(d, dict) and isinstance(d.get("results"), list):
            count = d.get("__count")
            return ODataPage([_json_record(r) for r in d["results"]], d.get("__next"), None,
                             int(count) if str(count or "").isdigit() else None, "v2json")
        if isinstance(d, dict):
            return ODataPage([_json_record(d)], kind="v2json")
    if isinstance(body, dict) and isinstance(body.get("value"), list):
        count = body.get("@odata.count")
        return ODataPage([{k: v for k, v in r.items() if not k.startswith("@odata.")} for r in body["value"]],
                         body.get("@odata.nextLink"), None, int(count) if isinstance(count, int) else None, "v4json")
    if isinstance(body, dict) and "error" in body:
        err = body["error"]
        msg = err.get("message") if isinstance(err, dict) else err
        msg = msg.get("value") if isinstance(msg, dict) else msg
        raise ODataError(f"the service answered an error: {str(msg)[:300]}", path)
    raise ODataError("no OData record list (d.results, d or value) in the JSON answer", path)


def _json_record(r: Any) -> dict[str, Any]:
    if not isinstance(r, dict):
        return {"value": r}
    return {k: _json_value(v) for k, v in r.items()
            if k != "__metadata" and not (isinstance(v, dict) and "__deferred" in v)}


def decode(content: bytes, content_type: str | None, path: str = "") -> ODataPage:
    """One answer's bytes -> :class:`ODataPage`: JSON when the content type says JSON (or the
    body starts with ``{``), else Atom. Raises :class:`ODataError`."""
    if "json" in (content_type or "").lower() or content.lstrip()[:1] == b"{":
        try:
            body = orjson.loads(content)
        except orjson.JSONDecodeError:
            raise ODataError("answer is not JSON", path) from None
        return parse_json(body, path)
    return parse_atom(content, path)


def decode_page(response: Any, request: Request) -> tuple[ODataPage, list[dict[str, Any]]]:
    """The ``Endpoint.decode`` hook: a ``requests`` response -> ``(page, records)`` (:func:`decode`)."""
    page = decode(response.content, response.headers.get("Content-Type"), urlsplit(request.url).path)
    return page, page.records


# -- requests and paging -----------------------------------------------------------------------------

def datetime_literal(d: dt.datetime) -> str:
    """An OData v2 ``Edm.DateTime`` literal: ``datetime'2024-01-01T00:00:00'`` (an aware
    value in UTC, written without offset; microseconds when it has them)."""
    if d.tzinfo is not None:
        d = d.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return f"datetime'{d.isoformat(timespec='microseconds' if d.microsecond else 'seconds')}'"


def since_filter(prop: str, start: dt.datetime, op: str = "gt") -> dict[str, str]:
    """``{"$filter": "<prop> gt datetime'..'"}``: the incremental read of ``crm/APIS.md`` §3."""
    return {"$filter": f"{prop} {op} {datetime_literal(start)}"}


def next_url(page: ODataPage, request_url: str) -> str | None:
    """The page's next link as an absolute URL (relative to ``xml:base``, else the request),
    or None; raises :class:`~.client.ApiError` when it leaves the request's origin
    (:func:`~.paginators.same_origin`)."""
    if not page.next_link:
        return None
    url = urljoin(urljoin(request_url, page.base) if page.base else request_url, page.next_link.strip())
    return same_origin(Request("GET", request_url), url)


@dataclass(frozen=True)
class ODataRequest(Request):
    """A :class:`~.paginators.Request` that remembers, while it follows a service's next
    links, the request that started the chain (``chain_params``) and the records read since
    (``chain_read``): when the links end, a query cut by our ``$top`` goes on from there."""

    chain_params: Mapping[str, Any] | None = None
    chain_url: str | None = None
    chain_read: int = 0


@dataclass(frozen=True)
class ODataPaging(Paginator):
    """How an OData entity set pages (DESIGN.md §10): the service's next link when a page has
    one (origin-checked), else, while the query gave ``top``
    records (a full page, or a chain of next links that long), the next ``$skip``.

    With ``cursor`` (a property the request is ordered by ascending, ``$orderby=<cursor>
    asc,id asc``), the next query is ``$filter=<cursor> ge <last value>`` with ``$skip`` = the
    records of the page at that value: records changed while the set is paged move past the
    reader instead of shifting unread ones into pages already read (a plain ``$skip`` loses
    those). Counting only one page's ties can re-read a record, never skip one (the upsert
    makes a re-read harmless). ``body``: an :class:`ODataPage` (``decode_page``), or a
    decoded JSON answer / Atom text."""

    top: int = 5000
    cursor: str | None = None

    def first(self, request: Request) -> ODataRequest:
        return ODataRequest(request.method, request.url, {**request.params, "$top": self.top, "$skip": 0},
                            request.json, request.budget)

    def next(self, request, body, records, response):
        page = body if isinstance(body, ODataPage) else (
            parse_atom(body) if isinstance(body, (str, bytes)) else parse_json(body))
        chain_params = getattr(request, "chain_params", None)
        base_params = dict(chain_params if chain_params is not None else request.params)
        base_url = getattr(request, "chain_url", None) or request.url
        read = getattr(request, "chain_read", 0) + len(records)
        url = next_url(page, request.url)
        if url is not None:
            return ODataRequest(request.method, url, {}, request.json, request.budget, base_params, base_url, read)
        if not self.top or read < self.top:
            return None
        nxt = ODataRequest(request.method, base_url, base_params, request.json, request.budget)
        skip = int(base_params.get("$skip", 0) or 0)
        last = records[-1].get(self.cursor) if self.cursor and records else None
        if not isinstance(last, dt.datetime):
            return nxt.with_params(**{"$skip": skip + read})
        flt = f"{self.cursor} ge {datetime_literal(last)}"
        ties = sum(1 for r in records if r.get(self.cursor) == last)
        if base_params.get("$filter") == flt and ties == len(records) == read:  # a whole page at one value
            ties += skip
        return nxt.with_params(**{"$filter": flt, "$skip": ties})


def follow(fetch: Any, url: str, max_pages: int = 10_000) -> Iterator[ODataPage]:
    """Every page of a feed from ``url`` by its next links (origin-checked before each
    request): ``fetch(url) -> (content bytes, content type)``. For callers without an
    :class:`~.client.ApiClient` (tests, one-off reads)."""
    for _ in range(max_pages):
        content, ctype = fetch(url)
        page = decode(content, ctype, urlsplit(url).path)
        yield page
        nxt = next_url(page, url)
        if nxt is None:
            return
        url = nxt

