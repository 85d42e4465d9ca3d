"""Stages 2-4 and 7-8 of seed 002 as plain functions on a warehouse connection (the assets in
``assets.py`` wrap them): parse the CSV, then create/update ``clients``, ``vendors``,
``campaign_groups`` and ``spotify_campaigns``, and import ``campaign_playlists`` from the
scraped stream-data JSON files.

Sync rules (seed 002, "Duplicate Prevention" and "Data Preservation"):

* an existing campaign matches by normalised name (``campaign_key``) OR by track id (the
  normalised URL); it is updated under its existing id, never duplicated;
* within one CSV, a later row for the same campaign wins; the earlier one is reported skipped;
* ``sfa_url`` and ``created_at`` are ``fill_only`` (a value already stored always wins, so a
  hand-entered SFA URL survives a blank or stale CSV cell); client emails are merged with the
  ones already stored (never dropped); columns the CSV does not have (``phone``,
  ``contact_person``) are never written;
* campaigns absent from the CSV and playlist rows absent from a scrape are never deleted;
* only a missing Campaign name (or, in a scrape, playlist name) fails a row; an optional cell
  that does not parse is a warning on the ``spotify_campaigns`` (or ``campaign_playlists``)
  report and the row lands with that column empty (DESIGN.md §9).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

import sqlalchemy as sa

from ...engine import validate as v
from ...engine.load import LoadRun, PendingRow, TableLoad
from ...engine.outcomes import CellWarning, IngestReport, Outcome, RowOutcome
from ...engine.readers import FileFormatError, iter_records
from ...engine.schema import AUDIT_COLUMNS
from .normalise import CSV_COLUMNS, CampaignSong, best_variant, clean_name, name_key, parse_row
from .schema import campaign_groups, campaign_playlists, clients, make_id, spotify_campaigns, vendors


class CampaignCsvError(ValueError):
    """The file is not a campaign spreadsheet (unreadable, or the ``Campaign`` column is missing)."""


@dataclass
class ParsedCsv:
    """The normalised CSV: ``songs`` (one per campaign song, later rows win), ``failed`` and
    ``duplicates`` (row outcomes), ``rows_read`` (data records), ``columns`` (header),
    ``missing_columns`` (of the 25 expected), ``warnings`` (optional cells that did not parse,
    in row order; their rows are in ``songs``)."""

    songs: list[CampaignSong]
    failed: list[RowOutcome]
    duplicates: list[RowOutcome]
    rows_read: int
    columns: list[str]
    missing_columns: list[str]
    warnings: list[CellWarning] = field(default_factory=list)

    def by_status(self) -> dict[str, int]:
        """Campaign songs per normalised status."""
        return dict(sorted(Counter(s.values["status"] for s in self.songs).items()))


def parse_csv(source: Any, name: str | None = None) -> ParsedCsv:
    """Read and normalise a campaign CSV (a path, bytes or a binary file).

    Raises :class:`CampaignCsvError` when the file cannot be read or has no ``Campaign``
    column. Rows that cannot be read or normalised become failed outcomes (with the record)."""
    try:
        records = iter_records(source, "csv", name=name)
    except FileFormatError as e:
        raise CampaignCsvError(str(e)) from None
    columns = list(records.columns or [])
    if "Campaign" not in columns:
        raise CampaignCsvError(f"{name or 'file'}: no 'Campaign' column (header: {columns[:10]})")
    songs: dict[str, CampaignSong] = {}
    failed: list[RowOutcome] = []
    duplicates: list[RowOutcome] = []
    warnings: list[CellWarning] = []
    n = 0
    for rec in records:
        n += 1
        if not rec.ok:
            raw = dict(zip(columns, rec.raw)) if isinstance(rec.raw, list) else {"raw": rec.raw}
            failed.append(RowOutcome(rec.row, Outcome.FAILED, error=rec.error, record=raw))
            continue
        try:
            parsed = parse_row(rec.row, rec.data)
        except v.RowError as e:
            failed.append(RowOutcome(rec.row, Outcome.FAILED, error=str(e), record=rec.data))
            continue
        warnings.extend(parsed[0].warnings)
        for s in parsed:
            k = s.values["campaign_key"]
            if k in songs:
                old = songs.pop(k)
                duplicates.append(RowOutcome(old.row, Outcome.SKIPPED, key=k,
                                             error=f"duplicate campaign: row {rec.row} has the same campaign and wins"))
            songs[k] = s
    missing = [c for c in CSV_COLUMNS if c not in columns]
    return ParsedCsv(list(songs.values()), failed, duplicates, n, columns, missing, warnings)


@dataclass
class SyncResult:
    """Reports per table (``clients``, ``vendors``, ``campaign_groups``, ``spotify_campaigns``)
    plus ``not_in_csv``: campaigns in the warehouse that this CSV does not have (kept)."""

    reports: dict[str, IngestReport] = field(default_factory=dict)
    not_in_csv: int = 0


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _existing(conn: sa.Connection, table: sa.Table, cols: list[str], key: str, keys: Iterable[Any]) -> dict[Any, Mapping]:
    keys = list(keys)
    out: dict[Any, Mapping] = {}
    for i in range(0, len(keys), 500):
        q = sa.select(*[table.c[c] for c in cols]).where(table.c[key].in_(keys[i:i + 500]))
        for m in conn.execute(q).mappings():
            out[m[key]] = m
    return out


def _party_rows(conn: sa.Connection, table: sa.Table, kind: str, songs, now) -> tuple[dict, dict, list[PendingRow]]:
    """Clients or vendors (``kind``) of the parsed songs, one per normalised name (seed 002
    stages 2-3): ({key: id}, {key: display name}, rows for ``table``). The display name is
    the most frequent spelling (ties: the first seen); emails are the stored ones plus the new
    ones, in first-seen order; an existing party keeps its id."""
    names: dict[str, Counter] = defaultdict(Counter)
    first: dict[str, dict[str, int]] = defaultdict(dict)
    emails: dict[str, dict[str, None]] = defaultdict(dict)
    for s in songs:
        k = getattr(s, f"{kind}_key")
        if k:
            name = getattr(s, f"{kind}_name")
            names[k][name] += 1
            first[k].setdefault(name, s.row)
            for e in getattr(s, f"{kind}_emails"):
                emails[k][e] = None
    old = _existing(conn, table, ["id", "name_key", "emails"], "name_key", names)
    ids: dict[str, str] = {}
    display: dict[str, str] = {}
    rows = []
    for i, (k, variants) in enumerate(names.items()):
        prev = old.get(k)
        ids[k] = prev["id"] if prev else make_id(kind, k)
        display[k] = best_variant(variants, first[k])
        stored = list((prev or {}).get("emails") or [])
        merged = stored + [e for e in emails[k] if e not in stored]
        rows.append(PendingRow(i + 1, {"id": ids[k], "name_key": k, "name": display[k],
                                       "emails": merged or None, "created_at": now}))
    return ids, display, rows


def _run(conn, spec: TableLoad, rows: list[PendingRow], *, dry_run: bool, batch_size: int,
         audit: Mapping[str, Any], on_batch=None) -> IngestReport:
    return LoadRun(conn, spec, batch_size=batch_size, dry_run=dry_run, audit=audit, on_batch=on_batch).run(rows)


def sync_campaign_tables(conn: sa.Connection, parsed: ParsedCsv, *, dry_run: bool = False,
                         batch_size: int = 1000, audit: Mapping[str, Any] | None = None,
                         on_batch: Callable[[IngestReport, int], None] | None = None) -> SyncResult:
    """Stages 2-4 + the campaign groups of stage 8: load the four tables from ``parsed`` in
    one connection (clients, vendors, groups, then campaigns, so links always resolve).

    Each batch commits unless ``dry_run`` (the caller rolls back). Returns a
    :class:`SyncResult`; bad rows come back as failed outcomes, never raise; the CSV's
    warnings are on ``reports["spotify_campaigns"]``."""
    audit = dict(audit or {})
    now = _now()
    res = SyncResult()
    songs = parsed.songs

    # -- stages 2 and 3: clients and vendors (unique by normalised name; emails merged) -------------
    fill = frozenset({"id", "created_at"})
    client_ids, client_names, rows = _party_rows(conn, clients, "client", songs, now)
    res.reports["clients"] = _run(conn, TableLoad(clients, fill_only=fill), rows, dry_run=dry_run,
                                  batch_size=batch_size, audit=audit, on_batch=on_batch)
    vendor_ids, vendor_names, rows = _party_rows(conn, vendors, "vendor", songs, now)
    for r in rows:  # vendors also keep their first address in `email`
        r.values["email"] = r.values["emails"][0] if r.values["emails"] else None
    res.reports["vendors"] = _run(conn, TableLoad(vendors, fill_only=fill), rows, dry_run=dry_run,
                                  batch_size=batch_size, audit=audit, on_batch=on_batch)

    # -- salesperson display names (19 people, typed many ways) -------------------------------------
    snames: dict[str, Counter] = defaultdict(Counter)
    sfirst: dict[str, dict[str, int]] = defaultdict(dict)
    for s in songs:
        if s.salesperson_key:
            snames[s.salesperson_key][s.values["salesperson"]] += 1
            sfirst[s.salesperson_key].setdefault(s.values["salesperson"], s.row)
    salesperson = {k: best_variant(c, sfirst[k]) for k, c in snames.items()}

    # -- campaign groups (campaigns that cover several songs) --------------------------------------
    group_rows: dict[str, PendingRow] = {}
    gold = _existing(conn, campaign_groups, ["id", "name_key"], "name_key",
                     {s.group_key for s in songs if s.group_key})
    group_ids: dict[str, str] = {}
    for s in songs:
        if s.group_key and s.group_key not in group_rows:
            gid = gold[s.group_key]["id"] if s.group_key in gold else make_id("group", s.group_key)
            group_ids[s.group_key] = gid
            group_rows[s.group_key] = PendingRow(s.row, {
                "id": gid, "name_key": s.group_key, "name": s.group_name, "artist": s.values["artist"],
                "client_id": client_ids.get(s.client_key) if s.client_key else None,
                "song_count": s.song_count, "sale_price": s.values["sale_price"], "status": s.values["status"],
                "created_at": now})
    res.reports["campaign_groups"] = _run(conn, TableLoad(campaign_groups, fill_only=fill), list(group_rows.values()),
                                          dry_run=dry_run, batch_size=batch_size, audit=audit, on_batch=on_batch)

    # -- stage 4: campaigns, matched by name OR track id -------------------------------------------
    by_key: dict[str, str] = {}
    by_track: dict[str, str] = {}
    for cid, ck, tid in conn.execute(sa.select(spotify_campaigns.c.id, spotify_campaigns.c.campaign_key,
                                               spotify_campaigns.c.track_id)):
        by_key[ck] = cid
        if tid:
            by_track.setdefault(tid, cid)
    stored_ids = set(by_key.values())
    rows = []
    touched: set[str] = set()
    for s in songs:
        vals = dict(s.values)
        ck, tid = vals["campaign_key"], vals["track_id"]
        cid = by_key.get(ck) or (by_track.get(tid) if tid else None) or make_id("campaign", ck)
        by_key[ck] = cid
        if tid:
            by_track[tid] = cid
        touched.add(cid)
        vals.update(
            id=cid,
            client=client_names.get(s.client_key) if s.client_key else None,
            client_id=client_ids.get(s.client_key) if s.client_key else None,
            vendor=vendor_names.get(s.vendor_key) if s.vendor_key else None,
            vendor_id=vendor_ids.get(s.vendor_key) if s.vendor_key else None,
            salesperson=salesperson.get(s.salesperson_key) if s.salesperson_key else None,
            group_id=group_ids.get(s.group_key) if s.group_key else None,
            created_at=now,
        )
        rows.append(PendingRow(s.row, vals, record=s.record))
    spec = TableLoad(spotify_campaigns, key=("id",), fill_only=frozenset({"sfa_url", "created_at"}))
    rep = IngestReport()
    rep.extend(parsed.failed)
    rep.extend(parsed.duplicates)
    rep.add_warnings(parsed.warnings)
    res.reports["spotify_campaigns"] = _run(conn, spec, rows, dry_run=dry_run, batch_size=batch_size,
                                            audit=audit, on_batch=on_batch)
    res.reports["spotify_campaigns"].merge(rep)
    res.not_in_csv = len(stored_ids - touched)
    return res


# -- stage 7: playlists from scraped stream-data JSON ------------------------------------------------

#: Spotify's own algorithmic playlists (by name; curator Spotify or blank). Other Spotify-curated
#: playlists are editorial; any other curator is a vendor playlist.
_ALGO = re.compile(r"^(discover weekly|release radar|radio|.* radio|on repeat|repeat rewind|autoplay|"
                   r"your dj|dj|daylist|smart shuffle|daily mix( \d+)?|your top songs.*|mixed for you|"
                   r"made for you)$", re.I)


def classify_playlist(name: str, curator: str | None) -> str:
    """``algorithmic`` | ``editorial`` | ``vendor`` for a playlist (rule above; seed 002 stage 7
    "Algorithmic vs vendor playlist classification")."""
    spotify = (curator or "").strip().casefold() in ("", "spotify")
    if spotify and _ALGO.match((name or "").strip()):
        return "algorithmic"
    if (curator or "").strip().casefold() == "spotify":
        return "editorial"
    return "vendor"


@dataclass
class PlaylistsResult:
    """``report`` (one outcome per playlist entry), ``files`` read, ``unmatched`` files (track id
    of no campaign: (uri, track id)), ``bad_files`` ((uri, reason)), ``campaigns`` matched."""

    report: IngestReport
    files: int = 0
    unmatched: list[tuple[str, str]] = field(default_factory=list)
    bad_files: list[tuple[str, str]] = field(default_factory=list)
    campaigns: int = 0


def import_playlists(conn: sa.Connection, files: Iterable[tuple[str, bytes]], *, dry_run: bool = False,
                     batch_size: int = 1000, audit: Mapping[str, Any] | None = None) -> PlaylistsResult:
    """Load scraped stream-data files (``(uri, JSON bytes)``; one per song:
    ``{"track_id", "scraped_at", "playlists": [{"playlist_name", "playlist_curator",
    "streams_28d", "streams_7d", "streams_12m", "date_added"}]}``) into ``campaign_playlists``,
    matched to campaigns by track id. Upsert only: playlist history is never deleted, and
    ``first_seen_at`` keeps the first time a playlist was seen. An entry without a playlist
    name fails; a stream count or date that does not parse is a warning on ``report`` (row =
    the entry's number across the files) and lands empty."""
    docs: list[tuple[str, dict]] = []
    out = PlaylistsResult(IngestReport())
    for uri, data in files:
        out.files += 1
        try:
            doc = json.loads(data)
            if not isinstance(doc, dict) or not isinstance(doc.get("playlists"), list):
                raise ValueError("expected an object with a 'playlists' list")
            tid = str(doc.get("track_id") or "").strip()
            if not tid:
                from .normalise import track_ids
                ids = track_ids(doc.get("url") or doc.get("track_url"))
                tid = ids[0] if ids else ""
            if not tid:
                raise ValueError("no track_id")
            doc["track_id"] = tid
            docs.append((uri, doc))
        except (ValueError, v.FieldError) as e:
            out.bad_files.append((uri, str(e)[:300]))
    tids = sorted({d["track_id"] for _, d in docs})
    campaigns_of: dict[str, list[str]] = defaultdict(list)
    for i in range(0, len(tids), 500):
        q = sa.select(spotify_campaigns.c.id, spotify_campaigns.c.track_id).where(
            spotify_campaigns.c.track_id.in_(tids[i:i + 500])).order_by(spotify_campaigns.c.id)
        for cid, tid in conn.execute(q):
            campaigns_of[tid].append(cid)
    now = _now()
    rows: list[PendingRow | RowOutcome] = []
    warnings: list[CellWarning] = []
    matched: set[str] = set()
    n = 0
    for uri, doc in docs:
        cids = campaigns_of.get(doc["track_id"])
        if not cids:
            out.unmatched.append((uri, doc["track_id"]))
            continue
        try:
            scraped_at = v.timestamp(doc.get("scraped_at"), "scraped_at")
        except v.FieldError:
            scraped_at = None
        for item in doc["playlists"]:
            n += 1
            rec = {"file": uri, **(item if isinstance(item, dict) else {"item": item})}
            try:
                pname, curator, vals, cells = _playlist_entry(n, item)
            except v.RowError as e:
                rows.append(RowOutcome(n, Outcome.FAILED, error=f"{uri}: {e}", record=rec))
                continue
            warnings.extend(CellWarning(w.row, w.column, w.value, f"{uri}: {w.reason}") for w in cells.warnings)
            for cid in cids:
                matched.add(cid)
                rows.append(PendingRow(n, {
                    "campaign_id": cid, "track_id": doc["track_id"],
                    "playlist_key": f"{name_key(pname)}|{name_key(curator) or ''}",
                    "playlist_name": pname, "playlist_curator": curator,
                    "playlist_type": classify_playlist(pname, curator), **vals,
                    "scraped_at": scraped_at, "first_seen_at": scraped_at or now,
                }, record=rec))
    spec = TableLoad(campaign_playlists, fill_only=frozenset({"first_seen_at"}),
                     compare_exclude=frozenset(AUDIT_COLUMNS) | {"first_seen_at"})
    out.report = LoadRun(conn, spec, batch_size=batch_size, dry_run=dry_run, audit=dict(audit or {})).run(rows)
    out.report.add_warnings(warnings)
    out.campaigns = len(matched)
    return out


def _playlist_entry(n: int, item: Any) -> tuple[str, str | None, dict[str, Any], v.RowCells]:
    """One scraped playlist entry -> (name, curator, the stream/date columns, its cells).
    Raises :class:`~ingestion_pipelines.engine.validate.RowError` when it is not an object or
    has no playlist name; a stream count or date that does not parse reads as None, with a
    warning in the returned cells."""
    cells = v.RowCells(n)
    if not isinstance(item, dict):
        cells.fail("playlist", "not an object")
        cells.check()
    pname = clean_name(item.get("playlist_name") or item.get("name"))
    curator = clean_name(item.get("playlist_curator") or item.get("curator"))
    if not pname:
        cells.fail("playlist_name", "is required")
    vals = {name: cells.optional(v.integer, item.get(name), name, 0)
            for name in ("streams_28d", "streams_7d", "streams_12m")}
    vals["date_added"] = cells.optional(v.date, item.get("date_added"), "date_added")
    cells.check()
    return pname, curator, vals, cells
