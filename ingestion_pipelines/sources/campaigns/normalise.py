"""Stage 1 of seed 002: parse and normalise the "Spotify Playlisting-All Campaigns" CSV.

The CSV has 25 columns (:data:`CSV_COLUMNS`). One row is one campaign cell: ``Campaign`` is
"Artist - Song Name", or "Artist - Song A / Song B" for a campaign that covers several songs
(then ``URL`` holds one track link per song, in the same order, separated by commas, spaces or
newlines). :func:`parse_row` turns one row into one :class:`CampaignSong` per song.

Rules (seed 002, "Stage 1" and "Data mapping"; the field normalisers are the engine's
:mod:`~ingestion_pipelines.engine.validate`):

* status -> one of Active / Complete / Cancelled / Unreleased / Other (:data:`STATUS_VARIANTS`;
  casing, spelling and whitespace variants; blank or unknown -> Other, the raw text is kept);
* emails lower-cased, a cell may hold several (``,`` ``;`` ``/`` spaces, newlines);
* money (``$1,200.00``, ``USD 1,500``) -> ``Decimal`` with 2 places; goals/counts -> int, read
  as people type them (``50k``, ``1.2M``, ``25,000``);
* dates in the formats people type (``2024-03-05``, ``3/5/2024`` month first, ``March 5, 2024``,
  ``5-Mar-2024``);
* Spotify track links (``https://open.spotify.com/track/<id>?si=..``, ``/intl-de/track/<id>``,
  ``spotify:track:<id>``, without scheme) -> the 22-character track id and the canonical URL
  ``https://open.spotify.com/track/<id>``;
* names (client, vendor, salesperson, campaign) -> whitespace collapsed; their matching key is
  :func:`name_key` (case-folded, dashes unified).

Only the ``Campaign`` cell is required (DESIGN.md §9, the optional-cell rule): any other cell
that does not parse (a Goal of ``TBD``, a date ``31/31/2024``, an email that is not one, a link
that is not a track) leaves its column empty and becomes a :class:`~ingestion_pipelines.engine.
outcomes.CellWarning` on the row's songs; the campaign and its client still land.
``spotify_campaigns`` keeps the URL and Status cells as written (``url_raw``, ``status_raw``);
it has no raw record of the other columns, so the warnings file keeps their text.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Mapping

from ...engine import validate as v
from ...engine.outcomes import CellWarning
from .schema import STATUSES

CSV_COLUMNS = (
    "Campaign", "Client", "Goal", "Remaining", "Daily", "Weekly", "Salesperson", "Status", "URL",
    "SFA", "Vendor", "Start Date", "Sale price", "Paid Vendor?", "Curator Status", "Playlists",
    "Client Email", "Vendor Email", "Notes", "Last Modified", "SP Vendor Updates", "Invoice",
    "Update Client", "Playlist Links", "Vendor Cost",
)

#: status variants -> canonical status (matching ignores case, spaces, ``-`` and ``_``).
STATUS_VARIANTS: dict[str, str] = {
    "active": "Active", "actve": "Active", "activ": "Active", "running": "Active", "live": "Active",
    "in progress": "Active",
    "complete": "Complete", "completed": "Complete", "done": "Complete", "finished": "Complete",
    "cancelled": "Cancelled", "canceled": "Cancelled", "cancel": "Cancelled",
    "unreleased": "Unreleased", "not released": "Unreleased", "pre-release": "Unreleased",
    "prerelease": "Unreleased",
}

_TRACK = re.compile(
    r"(?:spotify:track:|open\.spotify\.com/(?:intl-[A-Za-z]{2}(?:-[A-Za-z]{2})?/)?(?:embed/)?track/)"
    r"([A-Za-z0-9]{22})")
_DASHES = str.maketrans({"\u2013": "-", "\u2014": "-", "\u2012": "-", "\u2212": "-"})
_SPACES = re.compile(r"\s+")


def clean_name(s: Any) -> str | None:
    """A display name: NFKC, dashes unified, whitespace collapsed and stripped; blank -> None."""
    if v.is_blank(s):
        return None
    s = unicodedata.normalize("NFKC", str(s)).translate(_DASHES)
    return _SPACES.sub(" ", s).strip() or None


def name_key(s: Any) -> str | None:
    """The matching key of a name: :func:`clean_name`, case-folded (``" ACME  records"`` and
    ``"Acme Records"`` give ``"acme records"``). Blank -> None."""
    c = clean_name(s)
    return c.casefold() if c else None


def normalise_status(raw: Any) -> str:
    """One of :data:`~.schema.STATUSES` for a raw status cell (blank/unknown -> ``"Other"``)."""
    try:
        return v.choice(raw, "Status", STATUS_VARIANTS) or "Other"
    except v.FieldError:
        return "Other"


def track_ids(cell: Any) -> list[str]:
    """The Spotify track ids in a URL cell, in order, without repeats (``[]`` when none).

    Raises :class:`~ingestion_pipelines.engine.validate.FieldError` when the cell has text but
    no track link (an album/playlist link, ``TBD``), so the value is not silently lost."""
    if v.is_blank(cell):
        return []
    ids = list(dict.fromkeys(_TRACK.findall(str(cell))))
    if not ids:
        raise v.FieldError("URL", f"not a Spotify track link: {str(cell).strip()[:120]!r}")
    return ids


def track_url(tid: str) -> str:
    """The canonical link of a track id."""
    return f"https://open.spotify.com/track/{tid}"


def split_campaign(cell: str) -> tuple[str | None, list[str]]:
    """``"Artist - Song A / Song B"`` -> (``"Artist"``, [``"Song A"``, ``"Song B"``]). Without
    ``" - "`` the whole cell is one song and the artist is None."""
    name = clean_name(cell) or ""
    artist, sep, songs = name.partition(" - ")
    if not sep:
        return None, [name]
    parts = [clean_name(p) for p in songs.split("/")]
    return artist.strip() or None, [p for p in parts if p] or [songs.strip()]


@dataclass
class CampaignSong:
    """One song of one campaign row, normalised. ``values`` maps ``spotify_campaigns`` columns
    (minus ids) to values; ``client_key`` / ``vendor_key`` / ``group_key`` / ``salesperson_key``
    are the matching keys (None when blank); ``row`` is the CSV line; ``warnings`` the row's
    optional cells that did not parse (the same list on every song of the row)."""

    row: int
    cell_key: str
    values: dict[str, Any]
    client_key: str | None
    client_name: str | None
    client_emails: list[str]
    vendor_key: str | None
    vendor_name: str | None
    vendor_emails: list[str]
    salesperson_key: str | None
    group_key: str | None = None
    group_name: str | None = None
    song_count: int = 1
    record: Mapping[str, Any] = field(default_factory=dict)
    warnings: list[CellWarning] = field(default_factory=list)


_MEMO: dict[tuple, tuple[bool, Any]] = {}
_MEMO_MAX = 100_000


def memo(fn, value: Any, fname: str, *args: Any) -> Any:
    """``fn(value, fname, *args)`` remembered per distinct cell value: a spreadsheet repeats the
    same client email, vendor, date and price on many rows, and email/date parsing is most of
    the parse time (BENCHMARKS.md). Errors are remembered too; lists come back as copies."""
    try:
        k = (fn, value, fname, args)
        hit = _MEMO.get(k)
    except TypeError:  # unhashable value
        return fn(value, fname, *args)
    if hit is None:
        try:
            hit = (True, fn(value, fname, *args))
        except v.FieldError as e:
            hit = (False, e)
        if len(_MEMO) >= _MEMO_MAX:
            _MEMO.clear()
        _MEMO[k] = hit
    ok, res = hit
    if not ok:
        raise v.FieldError(res.field, res.message)
    return list(res) if isinstance(res, list) else res


def _track_ids(cell: Any, _fname: str) -> list[str]:
    return track_ids(cell)


def _emails(cell: Any, fname: str) -> list[str]:
    if v.is_blank(cell):
        return []
    return v.emails(str(cell).replace("/", ","), fname) or []


def parse_row(row: int, data: Mapping[str, Any]) -> list[CampaignSong]:
    """Normalise one CSV record (header -> cell) into one :class:`CampaignSong` per song.

    Raises :class:`~ingestion_pipelines.engine.validate.RowError` only when the Campaign cell
    is blank (the one required field). Every other cell that does not parse (a bad date,
    amount, count, email, a URL that is not a track link, more track links than songs) is a
    warning in ``CampaignSong.warnings`` and its column is left empty (``url_raw`` keeps the
    URL cell as written)."""
    cells = v.RowCells(row, read=memo)
    cell = clean_name(data.get("Campaign"))
    if not cell:
        cells.fail("Campaign", "is required")
        cells.check()
    artist, songs = split_campaign(cell)
    tids = cells.optional(_track_ids, data.get("URL"), "URL") or []
    if len(tids) > len(songs):
        cells.warn("URL", data.get("URL"), f"{len(tids)} track links for {len(songs)} song(s)")
        tids = []
    client_emails = cells.optional(_emails, data.get("Client Email"), "Client Email") or []
    vendor_emails = cells.optional(_emails, data.get("Vendor Email"), "Vendor Email") or []
    sfa = cells.optional(v.url, data.get("SFA"), "SFA")
    common = _common_values(data, cells, client_emails, vendor_emails)
    multi = len(songs) > 1
    sfa_song = 0
    if sfa and multi:  # the SFA link names its track: give it to that song
        for i, t in enumerate(tids):
            if t in sfa:
                sfa_song = i
    out = []
    for i, song in enumerate(songs):
        tid = tids[i] if i < len(tids) else None
        campaign = f"{artist} - {song}" if artist else song
        vals = {
            **common,
            "campaign": campaign,
            "campaign_key": name_key(campaign),
            "artist": artist,
            "song": song,
            "track_id": tid,
            "url": track_url(tid) if tid else None,
            "sfa_url": sfa if i == sfa_song else None,
        }
        out.append(CampaignSong(
            row=row, cell_key=name_key(cell) or "", values=vals,
            client_key=name_key(common["client"]), client_name=common["client"], client_emails=client_emails,
            vendor_key=name_key(common["vendor"]), vendor_name=common["vendor"], vendor_emails=vendor_emails,
            salesperson_key=name_key(common["salesperson"]),
            group_key=name_key(cell) if multi else None, group_name=cell if multi else None,
            song_count=len(songs), record=data, warnings=cells.warnings,
        ))
    return out


def _common_values(data: Mapping[str, Any], cells: v.RowCells, client_emails: list[str],
                   vendor_emails: list[str]) -> dict[str, Any]:
    """The ``spotify_campaigns`` columns that every song of a row shares (all optional)."""
    def opt(name: str, fn, *args):
        return cells.optional(fn, data.get(name), name, *args)

    def txt(name: str):
        return v.text(data.get(name), name)

    return {
        "client": clean_name(data.get("Client")),
        "goal": opt("Goal", v.integer),
        "remaining": opt("Remaining", v.integer),
        "daily": opt("Daily", v.integer),
        "weekly": opt("Weekly", v.integer),
        "salesperson": clean_name(data.get("Salesperson")),
        "status": normalise_status(data.get("Status")),
        "status_raw": txt("Status"),
        "url_raw": txt("URL"),
        "vendor": clean_name(data.get("Vendor")),
        "start_date": opt("Start Date", v.date),
        "sale_price": opt("Sale price", v.decimal, 2),
        "paid_vendor": opt("Paid Vendor?", v.boolean),
        "curator_status": txt("Curator Status"),
        "playlists": txt("Playlists"),
        "client_email": client_emails or None,
        "vendor_email": ", ".join(vendor_emails) or None,
        "notes": txt("Notes"),
        "last_modified": opt("Last Modified", v.date),
        "sp_vendor_updates": txt("SP Vendor Updates"),
        "invoice": txt("Invoice"),
        "update_client": txt("Update Client"),
        "playlist_links": txt("Playlist Links"),
        "vendor_cost": opt("Vendor Cost", v.decimal, 2),
    }


def best_variant(variants: Counter, first_seen: Mapping[str, int]) -> str:
    """The display form among spellings of one name: mixed case beats all-lower/all-upper,
    then the most frequent, then the first seen (deterministic for a given file)."""
    def score(s: str):
        return (not (s.islower() or s.isupper()), variants[s], -first_seen.get(s, 0))
    return max(variants, key=score)


__all__ = ["CSV_COLUMNS", "STATUSES", "STATUS_VARIANTS", "CampaignSong", "best_variant", "clean_name",
           "name_key", "normalise_status", "parse_row", "split_campaign", "track_ids", "track_url"]

