"""The HubSpot sync (DESIGN.md §10 "Sync rules"; ``crm/APIS.md`` §1), on the engine's API
machinery (:mod:`ingestion_pipelines.engine.api`) and sync state.

One object stream per run step (:func:`sync_object`):

1. **Properties**: the stream's list, or every name ``/crm/v3/properties/{object}`` gives.
2. **Full** (``--full``, or no watermark yet): the list endpoint, 100 per page, the
   properties split into chunks that keep each URL under ``url_limit`` (414 otherwise); the
   chunks of one page are read with the same ``after`` and merged by id. No watermark is
   committed until the listing completes; then :func:`~ingestion_pipelines.engine.api.full_watermark`
   (the largest last-modified time read, never past the listing's start).
3. **Incremental**: search on the last-modified property (``lastmodifieddate`` for contacts,
   ``hs_lastmodifieddate`` otherwise) ascending, in time windows from the watermark minus the
   lookback to now; a window whose ``total`` passes the search cap is split at the last time
   of its first page (the page's earlier records are kept, the window resumes at that time:
   no request wasted), and a millisecond that alone holds more than the cap is read by
   ``hs_object_id`` ascending (the id tie-break, keyset: no offset, no cap); each page is
   committed with the watermark of its last record. A
   window that yields fewer distinct records than its ``total`` (records moved out of it
   while it was paged, shifting the offsets) is read once more.
4. **Archived**: the ``archived=true`` listing; each record lands with ``_deleted_at`` =
   its ``archivedAt``. **Privacy deletions** (GDPR, known from the webhook only): a row that
   :mod:`.webhook_privacy` made a tombstone is never written again, whichever listing shows
   the id (:func:`~.webhook_privacy.withhold_erased`). **Merges**: the ids in a record's
   ``hs_merged_object_ids`` are marked ``_deleted_at`` with ``merged_into`` = the record.

Associations (:func:`sync_associations`): the v4 batch read for every live record of the
``from`` table, 1,000 inputs per request, each input's own pages followed. A pair missing
from a complete answer is marked ``_deleted_at``; an input in the ``errors`` of a 207 keeps
its stored pairs (partial is never "missing").

A request that fails after its retries fails the stream (``sync_history`` ``failed``; what
was committed stays, and so does the watermark); the daily quota ends it ``partial`` with
its state saved; a terminated run stops between pages (``partial``).
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence
from urllib.parse import urlencode

import sqlalchemy as sa
from dagster import ConfigurableResource, Failure

from ....engine import validate as v
from ....engine.api import (
    ApiClient, BearerToken, OAuth2Refresh, RateBudget, StreamWriter,
    Windows, default_retry, full_watermark, plan, prefetch,
)
from ....engine.api.incremental import Stopped, stream_status
from ....engine.api.streams import StreamResult, SyncOptions
from ....engine.load import PendingRow, TableLoad
from ....engine.outcomes import CellWarning, Outcome, RowOutcome
from ....engine.sync_state import StreamSync, Watermark, ensure_tables, read_watermark
from .api_streams import (
    ARCHIVED, ASSOCIATION_BATCH, ASSOCIATION_STREAMS, ASSOCIATIONS, LIST, OBJECTS, PROPERTIES, SEARCH,
    SEARCH_CAP, SEARCH_PAGE, URL_LIMIT, AssociationStream, ObjectStream,
)
from .schema import TABLES, hubspot_associations
from .webhook_privacy import withhold_erased

SOURCE = "hubspot"
DEFAULT_BASE_URL = "https://api.hubapi.com"
#: how far the API's clock may run ahead of ours (milliseconds): the incremental window's upper end
CLOCK_SKEW_MS = 300_000
MISSING_CREDENTIALS = ("HubSpot credentials missing: set HUBSPOT_ACCESS_TOKEN (a private-app token; "
                       "HUBSPOT_API_TOKEN is accepted) or HUBSPOT_CLIENT_ID, HUBSPOT_CLIENT_SECRET and "
                       "HUBSPOT_REFRESH_TOKEN (OAuth)")


class HubspotResource(ConfigurableResource):
    """One HubSpot portal: where it is, how we authenticate and its limits.

    ``base_url`` (``HUBSPOT_BASE_URL``; the OAuth token endpoint is ``<base>/oauth/v1/token``);
    ``access_token`` (``HUBSPOT_ACCESS_TOKEN`` / ``HUBSPOT_API_TOKEN``) or ``client_id`` /
    ``client_secret`` / ``refresh_token`` (``HUBSPOT_CLIENT_ID`` ...) — a field left unset reads
    its variable when the run needs it (so a stand-in started later, as ``ingest demo`` does,
    is found); ``portal``: the name of
    the rate budget and of the ``hubspot/portal`` run tag; ``requests_per_interval`` per
    ``interval_seconds`` (100 per 10 s) and ``search_per_second`` (5): the budget; the rest
    are the API's limits (lower them only for a stand-in) and the incremental ``lookback``."""

    base_url: str | None = None
    access_token: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    refresh_token: str | None = None
    portal: str = "default"
    requests_per_interval: int = 100
    interval_seconds: float = 10.0
    search_per_second: int = 5
    timeout_seconds: float = 30.0
    max_retries: int = 6
    backoff_seconds: float = 0.5
    lookback_minutes: float = 10.0
    url_limit: int = URL_LIMIT
    search_cap: int = SEARCH_CAP
    search_page: int = SEARCH_PAGE
    association_batch: int = ASSOCIATION_BATCH

    def __repr__(self) -> str:  # never show secrets
        return f"HubspotResource(base_url={self.url!r}, portal={self.portal!r})"

    @property
    def url(self) -> str:
        """The API's base URL: the field, ``HUBSPOT_BASE_URL``, or ``https://api.hubapi.com``."""
        return (self.base_url or os.environ.get("HUBSPOT_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")

    def auth(self):
        """The auth object: the private-app token, else OAuth; :class:`dagster.Failure` naming
        the variables when neither is configured."""
        env = os.environ.get
        token = self.access_token or env("HUBSPOT_ACCESS_TOKEN") or env("HUBSPOT_API_TOKEN")
        if token:
            return BearerToken(token)
        cid, secret = self.client_id or env("HUBSPOT_CLIENT_ID"), self.client_secret or env("HUBSPOT_CLIENT_SECRET")
        refresh = self.refresh_token or env("HUBSPOT_REFRESH_TOKEN")
        if cid and secret and refresh:
            return OAuth2Refresh(self.url + "/oauth/v1/token", cid, secret, refresh,
                                 variables=("HUBSPOT_REFRESH_TOKEN", "HUBSPOT_CLIENT_ID", "HUBSPOT_CLIENT_SECRET"))
        raise Failure(MISSING_CREDENTIALS)

    def client(self, log: Any = None) -> ApiClient:
        """An :class:`ApiClient` on the portal's shared budgets (``hubspot-<portal>`` and
        ``hubspot-<portal>-search``)."""
        budgets = {"default": RateBudget(f"hubspot-{self.portal}", self.requests_per_interval, self.interval_seconds),
                   "search": RateBudget(f"hubspot-{self.portal}-search", self.search_per_second, 1.0)}
        return ApiClient(self.url, self.auth(), budgets, default_retry(self.max_retries, self.backoff_seconds),
                         self.timeout_seconds, is_quota_429=_is_daily, log=log)


def _is_daily(resp) -> bool:
    try:
        return (resp.json() or {}).get("policyName") == "DAILY"
    except ValueError:
        return False


# -- records -> rows -----------------------------------------------------------------------

def parse_time(value: Any) -> dt.datetime | None:
    """HubSpot times: ISO-8601 (``2026-02-25T16:23:49.023Z``) or epoch milliseconds."""
    if value is None or value == "":
        return None
    s = str(value)
    if s.isdigit():
        return dt.datetime.fromtimestamp(int(s) / 1000, dt.timezone.utc)
    return dt.datetime.fromisoformat(s)  # 3.11+: reads the trailing Z


def _timestamp(value: Any, name: str) -> dt.datetime | None:
    try:
        return parse_time(value)
    except ValueError:
        raise v.FieldError(name, f"not a timestamp: {value!r}") from None


def _checked(convert: Callable[[Any, str], Any], memo: bool) -> Callable[[Any, str], tuple[Any, str | None]]:
    """``convert`` as ``(value, error)`` (an optional cell that does not parse is an error
    text, not an exception); ``memo``: remembered per distinct cell (phones, emails, owner
    ids and amounts repeat across records, junk such as ``555-0100`` most of all; the CSV
    profiles keep the same memo per distinct cell)."""
    def checked(raw: Any, prop: str) -> tuple[Any, str | None]:
        try:
            return convert(raw, prop), None
        except v.FieldError as e:
            return None, str(e)
    if not memo:
        return checked
    cached = functools.lru_cache(maxsize=1 << 16)(checked)

    def memoized(raw: Any, prop: str) -> tuple[Any, str | None]:
        try:
            return cached(raw, prop)
        except TypeError:  # an unhashable value (a list): converted without the memo
            return checked(raw, prop)
    return memoized


_CONVERTERS: dict[str, Callable[[Any, str], tuple[Any, str | None]]] = {
    "text": lambda value, name: (None if value == "" else value, None), "email": _checked(v.email, True),
    "phone": _checked(v.phone, True), "timestamp": _checked(_timestamp, False),
    "decimal": _checked(v.decimal, True), "integer": _checked(v.integer, True)}
_PLANS: dict[str, tuple[tuple[str, str, Callable[[Any, str], tuple[Any, str | None]]], ...]] = {}


def _plan(spec: ObjectStream) -> tuple[tuple[str, str, Callable[[Any, str], tuple[Any, str | None]]], ...]:
    """(column, property, converter) of each typed column of ``spec``, built once per object
    (kept by name: hashing the frozen spec on every record cost more than the conversion)."""
    plan_ = _PLANS.get(spec.name)
    if plan_ is None:
        plan_ = _PLANS[spec.name] = tuple((c.name, c.source, _CONVERTERS[c.kind]) for c in spec.columns)
    return plan_


def to_row(spec: ObjectStream, record: dict, line: int, warnings: list[CellWarning]) -> PendingRow:
    """One API record as a row of the stream's table (see ``schema.py``); a typed cell that
    does not parse is left NULL and listed in ``warnings``. Raises ``ValueError`` for a record
    without a numeric id."""
    props = record.get("properties") or {}
    values: dict[str, Any] = {"id": int(record["id"])}
    for name, prop, convert in _plan(spec):
        raw = props.get(prop)
        if raw is None:
            values[name] = None
            continue
        values[name], error = convert(raw, prop)
        if error is not None:
            warnings.append(CellWarning(line, prop, raw, error))
    archived_at = parse_time(record.get("archivedAt"))
    values.update(created_at=parse_time(record.get("createdAt")), updated_at=parse_time(record.get("updatedAt")),
                  archived_at=archived_at, merged_object_ids=props.get("hs_merged_object_ids") or None, raw=record,
                  _deleted_at=archived_at if record.get("archived") else None)
    return PendingRow(line, values, record)


def merged_losers(records: Sequence[dict]) -> dict[int, int]:
    """``{loser id: winner id}`` from the records' ``hs_merged_object_ids``."""
    out: dict[int, int] = {}
    for r in records:
        for x in str((r.get("properties") or {}).get("hs_merged_object_ids") or "").split(";"):
            if x.strip().isdigit() and int(x) != int(r["id"]):
                out[int(x)] = int(r["id"])
    return out


# -- reading -------------------------------------------------------------------------------

def property_names(client: ApiClient, spec: ObjectStream, chosen: Sequence[str] = ()) -> list[str]:
    """The properties to read: ``chosen`` (the run's list for this object), else the spec's,
    else every one ``/crm/v3/properties`` lists. The typed columns' and the last-modified
    property are always read."""
    wanted = list(chosen) or list(spec.properties)
    if wanted:
        return list(dict.fromkeys([*wanted, spec.lastmodified, "hs_merged_object_ids", *(c.source for c in spec.columns)]))
    page = next(client.pages(PROPERTIES, {"object": spec.object_type}))
    return [p["name"] for p in page.records]


def property_chunks(base_url: str, spec: ObjectStream, names: Sequence[str], url_limit: int) -> list[str]:
    """``names`` as comma lists, each short enough that the list URL (with ``limit`` and an
    ``after`` cursor) stays under ``url_limit`` characters."""
    fixed = len(base_url) + len(LIST.path.format(object=spec.object_type)) + len("?limit=100&after=") + 64
    chunks, cur = [], []
    for n in names:
        if cur and fixed + len(urlencode({"properties": ",".join(cur + [n])})) > url_limit:
            chunks.append(",".join(cur))
            cur = []
        cur.append(n)
    if cur:
        chunks.append(",".join(cur))
    return chunks


def list_pages(client: ApiClient, spec: ObjectStream, chunks: Sequence[str], archived: bool = False) -> Iterator[list[dict]]:
    """The list (or ``archived=true``) endpoint page by page, each page's property chunks
    merged by id (every chunk asked with the same ``after``)."""
    ep = ARCHIVED if archived else LIST
    req = ep.request(client.base_url, {"object": spec.object_type}, {"properties": chunks[0]} if chunks else None)
    while req is not None:
        page = client.fetch(ep, req)
        recs = {r["id"]: r for r in page.records}
        for chunk in chunks[1:]:
            for r in client.fetch(ep, req.with_params(properties=chunk)).records:
                if r["id"] in recs:
                    recs[r["id"]].setdefault("properties", {}).update(r.get("properties") or {})
        yield list(recs.values())
        req = ep.paginator.next(req, page.body, page.records, None)


@dataclass
class SearchStats:
    """What the windowed search did: ``windows`` read, ``splits``, ``rereads``, ``by_id`` windows."""

    windows: int = 0
    splits: int = 0
    rereads: int = 0
    by_id: int = 0


def _between(prop: str, lo: int, hi: int) -> list[dict]:
    return [{"filters": [{"propertyName": prop, "operator": "GTE", "value": str(lo)},
                         {"propertyName": prop, "operator": "LTE", "value": str(hi)}]}]


def search_pages(client: ApiClient, res: HubspotResource, spec: ObjectStream, props: list[str], lo: int, hi: int,
                 stats: SearchStats) -> Iterator[list[dict]]:
    """Pages of records with ``lo <= last-modified <= hi`` (epoch ms), in ascending
    last-modified order (module docstring, step 3). A window over the cap is split at the
    last time of its first page: that page's earlier records are kept (ascending order: none
    is missing below it) and the window resumes at that time; a window whose first page is one
    millisecond is split into that millisecond (read by id when it alone is over the cap) and
    the rest."""
    windows, lm = Windows.of(lo, hi), spec.lastmodified
    path = {"object": spec.object_type}
    while (w := windows.pop()) is not None:
        body = {"filterGroups": _between(lm, *w), "sorts": [{"propertyName": lm, "direction": "ASCENDING"}],
                "properties": props, "limit": res.search_page}
        for _attempt in range(3):
            pages = client.pages(SEARCH, path, json=body)
            first = next(pages)
            total = int(first.body.get("total") or 0)
            if total > res.search_cap:
                stats.splits += 1
                _split_over_cap(windows, w, first.records, lm, stats)
                if w[0] == w[1]:
                    stats.by_id += 1
                    yield from _search_by_id(client, res, spec, props, w[0])
                else:
                    last = _ms(parse_time(first.records[-1]["properties"][lm]))
                    below = [r for r in first.records if _ms(parse_time(r["properties"][lm])) < last]
                    if below:
                        yield below
                break
            stats.windows += 1
            seen: set[str] = set()
            for page in _chain(first, pages):
                seen.update(r["id"] for r in page.records)
                yield page.records
            if len(seen) >= total:
                break
            stats.rereads += 1


def _split_over_cap(windows: Windows, w: tuple[int, int], records: list[dict], lm: str, stats: SearchStats) -> None:
    """Queue what is left of window ``w`` after its first page ``records`` (see :func:`search_pages`)."""
    if w[0] == w[1]:
        return  # one millisecond: the caller reads it by id
    last = _ms(parse_time(records[-1]["properties"][lm]))
    if last > w[0]:
        windows.resume(w, last)
    else:  # the whole page is the window's first millisecond
        windows.pending[:0] = [(w[0], w[0]), (w[0] + 1, w[1])]


def _chain(first, rest):
    yield first
    yield from rest


def _search_by_id(client: ApiClient, res: HubspotResource, spec: ObjectStream, props: list[str], t: int) -> Iterator[list[dict]]:
    """Every record whose last-modified is exactly ``t``, by ``hs_object_id`` ascending (keyset:
    ``hs_object_id > last``), one first page per query: no offset, so no cap."""
    last = 0
    while True:
        body = {"filterGroups": [{"filters": [{"propertyName": spec.lastmodified, "operator": "EQ", "value": str(t)},
                                              {"propertyName": "hs_object_id", "operator": "GT", "value": str(last)}]}],
                "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}], "properties": props,
                "limit": res.search_page}
        page = next(client.pages(SEARCH, {"object": spec.object_type}, json=body))
        if page.records:
            yield page.records
            last = max(int(r["id"]) for r in page.records)
        if len(page.records) < res.search_page:
            return


# -- one stream ----------------------------------------------------------------------------

def _ms(d: dt.datetime) -> int:
    return int(d.timestamp() * 1000)


def sync_object(engine: sa.Engine, res: HubspotResource, client: ApiClient, spec: ObjectStream,
                opts: SyncOptions, log: Any = None) -> StreamResult:
    """Sync one object stream (module docstring); never raises for an API failure (the
    result's ``status`` / ``error`` say it), except :class:`AuthRefused` and a missing setup."""
    with engine.begin() as c:
        ensure_tables(c)
        before = read_watermark(c, SOURCE, spec.name)
    t0, req0 = time.monotonic(), client.stats["requests"]
    p = plan(before, full=opts.full, since=opts.since, lookback=dt.timedelta(minutes=res.lookback_minutes))
    sync = StreamSync.start(engine, SOURCE, spec.name, mode=p.mode, run_id=opts.run_id, dry_run=opts.dry_run)
    audit = {"_source": f"{res.url}/crm/v3/objects/{spec.object_type}", "_run_id": opts.run_id}
    writer = StreamWriter(engine, TableLoad(TABLES[spec.name]), sync, audit, opts.dry_run)
    stats, details = SearchStats(), {"archived": 0, "merged": 0}
    with writer, stream_status(engine, sync) as ended:
        ended.status, ended.error = _read_stream(writer, res, client, spec, opts, p, stats, details)
    status, error = ended.status, ended.error
    details.update(requests=client.stats["requests"] - req0, windows=stats.windows, window_splits=stats.splits,
                   window_rereads=stats.rereads, windows_by_id=stats.by_id,
                   duration_s=round(time.monotonic() - t0, 3), warnings=writer.report.warnings_total)
    sync.finish(engine, status, error=error or None, details=details)
    return StreamResult(sync, status, error, writer.report, details)


def _read_stream(writer: StreamWriter, res: HubspotResource, client: ApiClient, spec: ObjectStream,
                 opts: SyncOptions, p: Any, stats: SearchStats, details: dict) -> tuple[str, str]:
    """The reading part of :func:`sync_object`: the pages of the plan's mode written one by
    one, the full read's watermark once it completes, then the archived listing. Returns
    ``(status, error)``; API errors propagate."""
    started = dt.datetime.now(dt.timezone.utc)
    props = property_names(client, spec, opts.properties.get(spec.name, ()))
    details["properties"] = len(props)
    if p.mode == "full":
        chunks = property_chunks(res.url, spec, props, res.url_limit)
        details["property_chunks"] = len(chunks)
        pages: Iterator[list[dict]] = list_pages(client, spec, chunks)
    else:
        # the upper end allows for the API clock running ahead of ours (a later record
        # appended to the window is harmless: it sorts last)
        pages = search_pages(client, res, spec, props, _ms(p.start), _ms(started) + CLOCK_SKEW_MS, stats)
    max_seen: dt.datetime | None = None
    line, complete = 0, True
    for records in prefetch(pages):
        if opts.limit and line >= opts.limit:
            complete = False
            break
        records = records[: opts.limit - line] if opts.limit else records
        line, max_seen = _write_page(writer, spec, records, line, max_seen, p.mode)
        details["merged"] += _mark_merges(writer, records)
        opts.on_progress(len(records))
        if opts.should_stop():
            return "partial", "run terminated; the next run resumes"
    if p.mode == "full" and complete:
        wm_time = full_watermark(max_seen, started)
        writer.write([], Watermark.of(wm_time) if wm_time else None, read=0)
    if complete and not opts.limit:
        details["archived"] = _sync_archived(writer, client, spec, res, opts, line)
    return "succeeded", ""


def _write_page(writer: StreamWriter, spec: ObjectStream, records: list[dict], line: int,
                max_seen: dt.datetime | None, mode: str) -> tuple[int, dt.datetime | None]:
    """Upsert one page; incremental pages carry the watermark of their last record."""
    warnings: list[CellWarning] = []
    rows, failed = [], []
    for r in records:
        line += 1
        try:
            rows.append(to_row(spec, r, line, warnings))
        except (KeyError, ValueError, TypeError) as e:
            failed.append(RowOutcome(line, Outcome.FAILED, error=f"bad record: {e}", record=r))
    writer.report.add_warnings(warnings)
    times = [t for t in (parse_time((r.get("properties") or {}).get(spec.lastmodified)) for r in records) if t]
    if times:
        max_seen = max([max_seen, *times]) if max_seen else max(times)
    wm = None
    if mode == "incremental" and records and times:
        last = records[-1]
        last_t = parse_time((last.get("properties") or {}).get(spec.lastmodified))
        wm = Watermark.of(last_t, last["id"]) if last_t else None
    kept, withheld = withhold_erased(writer.engine, spec.name, rows)
    writer.write(kept, wm, failed=failed, read=len(kept) + withheld + len(failed))
    return line, max_seen


def _mark_merges(writer: StreamWriter, records: list[dict]) -> int:
    losers = merged_losers(records)
    n = 0
    by_winner: dict[int, list[int]] = {}
    for loser, winner in losers.items():
        by_winner.setdefault(winner, []).append(loser)
    now = dt.datetime.now(dt.timezone.utc)
    for winner, ids in by_winner.items():
        n += writer.mark({"_deleted_at": now, "merged_into": winner}, keys=ids)
    return n


def _sync_archived(writer: StreamWriter, client: ApiClient, spec: ObjectStream, res: HubspotResource,
                   opts: SyncOptions, line: int) -> int:
    """The ``archived=true`` listing (only the typed columns' properties: an archived record's
    ``raw`` keeps what it had); returns the records newly marked deleted."""
    wanted = sorted({c.source for c in spec.columns} | {"hs_merged_object_ids", spec.lastmodified})
    before = writer.deleted
    for records in prefetch(list_pages(client, spec, property_chunks(res.url, spec, wanted, res.url_limit), archived=True)):
        warnings: list[CellWarning] = []
        rows = []
        for r in records:
            line += 1
            row = to_row(spec, r, line, warnings)
            row.values.pop("raw")  # keep the full record read while it was live
            rows.append(row)
        kept, withheld = withhold_erased(writer.engine, spec.name, rows)
        writer.write(kept, None, read=len(kept) + withheld, deleted_by="_deleted_at")
        if opts.should_stop():
            break
    return writer.deleted - before


# -- associations ----------------------------------------------------------------------------

def read_associations(client: ApiClient, a: AssociationStream, ids: Sequence[int]) -> tuple[dict[int, list[dict]], list[dict]]:
    """``({from id: [to entries]}, errors)`` of one batch: complete answers only (each input's
    pages followed); ``errors`` as the 207 gave them (their inputs are not in the dict)."""
    path = {"from_object": OBJECTS[a.from_stream].object_type, "to_object": OBJECTS[a.to_stream].object_type}
    found: dict[int, list[dict]] = {}
    errors: list[dict] = []
    inputs = [{"id": str(i)} for i in ids]
    while inputs:
        page = next(client.pages(ASSOCIATIONS, path, json={"inputs": inputs}))
        errors.extend(page.body.get("errors") or [])
        inputs = []
        for r in page.records:
            fid = int(r["from"]["id"])
            found.setdefault(fid, []).extend(r.get("to") or [])
            after = ((r.get("paging") or {}).get("next") or {}).get("after")
            if after:
                inputs.append({"id": str(fid), "after": after})
    return found, errors


def association_rows(a: AssociationStream, found: dict[int, list[dict]], line: int) -> tuple[list[PendingRow], int]:
    rows = []
    for fid, targets in found.items():
        by_to: dict[int, list[dict]] = {}
        for t in targets:
            by_to.setdefault(int(t["toObjectId"]), []).extend(t.get("associationTypes") or [])
        for tid, types in sorted(by_to.items()):
            line += 1
            rows.append(PendingRow(line, {
                "from_object": a.from_stream, "from_id": fid, "to_object": a.to_stream, "to_id": tid,
                "type_ids": ";".join(sorted({str(x.get("typeId")) for x in types})) or None,
                "labels": ";".join(sorted({str(x["label"]) for x in types if x.get("label")})) or None,
                "raw": {"toObjectId": tid, "associationTypes": types}, "_deleted_at": None}))
    return rows, line


def sync_associations(engine: sa.Engine, res: HubspotResource, client: ApiClient, opts: SyncOptions,
                      log: Any = None) -> StreamResult:
    """Sync ``hubspot_associations`` for every association stream (module docstring)."""
    with engine.begin() as c:
        ensure_tables(c)
    t0, req0 = time.monotonic(), client.stats["requests"]
    sync = StreamSync.start(engine, SOURCE, "associations", mode="full", run_id=opts.run_id, dry_run=opts.dry_run)
    t = hubspot_associations
    writer = StreamWriter(engine, TableLoad(t), sync,
                          {"_source": f"{res.url}/crm/v4/associations", "_run_id": opts.run_id},
                          opts.dry_run)
    line, partial_inputs, details = 0, 0, {}
    with writer, stream_status(engine, sync, stopped="run terminated; the next run reads them again") as ended:
        for a in ASSOCIATION_STREAMS:
            src = TABLES[a.from_stream]
            with engine.connect() as c:
                q = sa.select(src.c.id).where(src.c._deleted_at.is_(None)).order_by(src.c.id)
                ids = [r[0] for r in c.execute(q.limit(opts.limit) if opts.limit else q)]
            for i in range(0, len(ids), res.association_batch):
                found, errors = read_associations(client, a, ids[i:i + res.association_batch])
                partial_inputs += sum(len((e.get("context") or {}).get("fromObjectId") or [1]) for e in errors)
                rows, line = association_rows(a, found, line)
                writer.write(rows, None)
                _mark_removed(writer, a, found)
                opts.on_progress(len(rows))
                if opts.should_stop():
                    raise Stopped()
    status, error = ended.status, ended.error
    details.update(requests=client.stats["requests"] - req0, inputs_without_complete_answer=partial_inputs,
                   duration_s=round(time.monotonic() - t0, 3))
    sync.finish(engine, status, error=error or None, details=details)
    return StreamResult(sync, status, error, writer.report, details)


def _mark_removed(writer: StreamWriter, a: AssociationStream, found: dict[int, list[dict]]) -> None:
    """Pairs of the complete answers' from-ids that the answer no longer lists: ``_deleted_at``."""
    if not found:
        return
    t = hubspot_associations
    pairs = [(fid, int(x["toObjectId"])) for fid, targets in found.items() for x in targets]
    cond = sa.and_(t.c.from_object == a.from_stream, t.c.to_object == a.to_stream, t.c.from_id.in_(list(found)),
                   sa.tuple_(t.c.from_id, t.c.to_id).not_in(pairs) if pairs else sa.true())
    writer.mark({"_deleted_at": dt.datetime.now(dt.timezone.utc)}, where=cond)
