"""Stage 9 of seed 002: verify data integrity, as numbers and a Markdown report.

:func:`integrity_metrics` counts (seed 002 "Report includes"): campaigns by status, clients,
vendors, groups, campaigns with SFA URLs and with playlist data, playlist records by type,
orphans (a campaign whose client/vendor/group is missing, a playlist whose campaign is missing),
invalid statuses, Active/Complete campaigns without data (no track, no SFA URL, no playlists),
and duplicates (two campaigns with the same track id or the same normalised name).
:func:`integrity_markdown` renders them for the Dagster UI. The asset checks in ``checks.py``
use the same numbers.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from .schema import STATUSES, campaign_groups, campaign_playlists, clients, spotify_campaigns, vendors


def _scalar(conn: sa.Connection, q) -> int:
    return int(conn.execute(q).scalar() or 0)


def orphan_counts(conn: sa.Connection) -> dict[str, int]:
    """Rows whose link points at a missing row: ``campaigns_without_client_row`` (client_id set,
    no such client), ``..._vendor_row``, ``..._group_row``, ``playlists_without_campaign``."""
    c = spotify_campaigns
    out = {}
    for name, col, parent in (("campaigns_without_client_row", c.c.client_id, clients),
                              ("campaigns_without_vendor_row", c.c.vendor_id, vendors),
                              ("campaigns_without_group_row", c.c.group_id, campaign_groups)):
        out[name] = _scalar(conn, sa.select(sa.func.count()).select_from(c).where(
            col.is_not(None), ~sa.exists().where(parent.c.id == col)))
    p = campaign_playlists
    out["playlists_without_campaign"] = _scalar(conn, sa.select(sa.func.count()).select_from(p).where(
        ~sa.exists().where(c.c.id == p.c.campaign_id)))
    return out


def duplicate_counts(conn: sa.Connection) -> dict[str, int]:
    """``duplicate_track_ids``: track ids shared by more than one campaign;
    ``duplicate_campaign_keys``: normalised names used twice (the unique constraint forbids it,
    counted anyway for warehouses written by other tools)."""
    c = spotify_campaigns
    out = {}
    for name, col in (("duplicate_track_ids", c.c.track_id), ("duplicate_campaign_keys", c.c.campaign_key)):
        sub = sa.select(col).where(col.is_not(None)).group_by(col).having(sa.func.count() > 1).subquery()
        out[name] = _scalar(conn, sa.select(sa.func.count()).select_from(sub))
    return out


def integrity_metrics(conn: sa.Connection) -> dict[str, Any]:
    """All the numbers of the integrity report (a flat dict; ``by_status`` and
    ``playlists_by_type`` are dicts; ``active_without_data_sample`` lists up to 20 campaigns)."""
    c, p = spotify_campaigns, campaign_playlists
    count = lambda t, *w: _scalar(conn, sa.select(sa.func.count()).select_from(t).where(*w))  # noqa: E731
    by_status = {s: 0 for s in STATUSES}
    for status, n in conn.execute(sa.select(c.c.status, sa.func.count()).group_by(c.c.status)):
        by_status[status] = int(n)
    with_playlists = sa.exists().where(p.c.campaign_id == c.c.id)
    live = c.c.status.in_(["Active", "Complete"])
    has_sfa = sa.and_(c.c.sfa_url.is_not(None), c.c.sfa_url != "")
    no_data = sa.and_(live, ~with_playlists)
    m: dict[str, Any] = {
        "campaigns": count(c),
        "by_status": by_status,
        "clients": count(clients),
        "vendors": count(vendors),
        "campaign_groups": count(campaign_groups),
        "campaigns_in_groups": count(c, c.c.group_id.is_not(None)),
        "campaigns_with_track_id": count(c, c.c.track_id.is_not(None)),
        "campaigns_with_sfa_url": count(c, has_sfa),
        "active_complete_without_sfa_url": count(c, live, ~has_sfa),
        "campaigns_with_playlist_data": count(c, with_playlists),
        "playlist_records": count(p),
        "playlists_by_type": {str(k): int(n) for k, n in conn.execute(
            sa.select(p.c.playlist_type, sa.func.count()).group_by(p.c.playlist_type).order_by(p.c.playlist_type))},
        "campaigns_without_client": count(c, c.c.client_id.is_(None)),
        "campaigns_without_vendor": count(c, c.c.vendor_id.is_(None)),
        "invalid_statuses": count(c, c.c.status.not_in(list(STATUSES))),
        "active_complete_without_data": count(c, no_data),
        "active_without_data_sample": [r[0] for r in conn.execute(
            sa.select(c.c.campaign).where(no_data, c.c.status == "Active").order_by(c.c.campaign).limit(20))],
        "other_status_values": {str(k or "(blank)"): int(n) for k, n in conn.execute(
            sa.select(c.c.status_raw, sa.func.count()).where(c.c.status == "Other")
            .group_by(c.c.status_raw).order_by(c.c.status_raw))},
        "sfa_unresolved_by_reason": {str(k): int(n) for k, n in conn.execute(
            sa.select(c.c.sfa_error, sa.func.count()).where(c.c.sfa_error.is_not(None), ~has_sfa)
            .group_by(c.c.sfa_error).order_by(c.c.sfa_error))},
    }
    m.update(orphan_counts(conn))
    m.update(duplicate_counts(conn))
    m["orphans"] = sum(v for k, v in m.items() if k.endswith(("_row", "_without_campaign")))
    m["duplicates"] = m["duplicate_track_ids"] + m["duplicate_campaign_keys"]
    return m


def integrity_markdown(m: dict[str, Any]) -> str:
    """The report as Markdown (seed 002 stage 9 "Report includes"): ✅ for facts, ⚠️ for
    things to look at."""
    ok, warn = "✅", "⚠️"
    total = m["campaigns"] or 1
    pct = lambda n: f"{100.0 * n / total:.0f}%"  # noqa: E731
    lines = ["# Campaign data integrity", "", "| metric | count | |", "|---|---:|---|",
             f"| {ok} Total campaigns | {m['campaigns']} | 100% |"]
    for s, n in m["by_status"].items():
        lines.append(f"| {ok} {s} campaigns | {n} | {pct(n)} |")
    lines += [
        f"| {ok} Clients | {m['clients']} | |",
        f"| {ok} Vendors | {m['vendors']} | |",
        f"| {ok} Campaign groups (multi-song) | {m['campaign_groups']} | {m['campaigns_in_groups']} songs |",
        f"| {ok} Campaigns with Spotify track URLs | {m['campaigns_with_track_id']} | {pct(m['campaigns_with_track_id'])} |",
        f"| {ok} Campaigns with SFA URLs | {m['campaigns_with_sfa_url']} | {pct(m['campaigns_with_sfa_url'])} |",
        f"| {ok} Campaigns with playlist data | {m['campaigns_with_playlist_data']} | {pct(m['campaigns_with_playlist_data'])} |",
        f"| {ok} Playlist records | {m['playlist_records']} | "
        + ", ".join(f"{k} {n}" for k, n in m["playlists_by_type"].items()) + " |",
        f"| {warn if m['active_complete_without_data'] else ok} Active/Complete campaigns without playlist data | "
        f"{m['active_complete_without_data']} | |",
        f"| {warn if m['active_complete_without_sfa_url'] else ok} Active/Complete campaigns without SFA URL | "
        f"{m['active_complete_without_sfa_url']} | |",
        f"| {warn if m['campaigns_without_client'] else ok} Campaigns without a client | {m['campaigns_without_client']} | |",
        f"| {warn if m['campaigns_without_vendor'] else ok} Campaigns without a vendor | {m['campaigns_without_vendor']} | |",
        f"| {warn if m['orphans'] else ok} Orphaned records | {m['orphans']} | |",
        f"| {warn if m['invalid_statuses'] else ok} Invalid statuses | {m['invalid_statuses']} | |",
        f"| {warn if m['duplicates'] else ok} Duplicates (same track or name) | {m['duplicates']} | |",
    ]
    if m["other_status_values"]:
        lines += ["", "**Statuses read as Other (raw values in the sheet)**", ""]
        lines += [f"- {raw}: {n}" for raw, n in m["other_status_values"].items()]
    if m["sfa_unresolved_by_reason"]:
        lines += ["", "**SFA URLs not resolved, by reason**", ""]
        lines += [f"- {reason}: {n}" for reason, n in m["sfa_unresolved_by_reason"].items()]
    if m["active_without_data_sample"]:
        lines += ["", "**Active campaigns without playlist data (first 20)**", ""]
        lines += [f"- {name}" for name in m["active_without_data_sample"]]
    return "\n".join(lines)
