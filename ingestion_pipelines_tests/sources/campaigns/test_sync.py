"""Full sync of the committed sample on SQLite and PostgreSQL: exact documented counts, a second
sync changes nothing, an edited CSV updates only what changed, hand-entered values survive,
playlist history is kept, and a dry run writes nothing (seed 002 sync rules)."""

from __future__ import annotations

import csv
import io
import json

import sqlalchemy as sa

from ingestion_pipelines.sources.campaigns import schema
from ingestion_pipelines.sources.campaigns.integrity import integrity_metrics
from ingestion_pipelines.sources.campaigns.sync import import_playlists, parse_csv, sync_campaign_tables

from .conftest import SAMPLE_CSV, SCRAPED, scraped_files

C = schema.spotify_campaigns


def _sync(wh, source=SAMPLE_CSV, dry_run=False):
    parsed = parse_csv(source if not isinstance(source, bytes) else io.BytesIO(source), name="campaigns.csv")
    with wh.connect(dry_run=dry_run) as conn:
        return sync_campaign_tables(conn, parsed, dry_run=dry_run, batch_size=200)


def _counts(res) -> dict[str, dict[str, int]]:
    return {k: {o: n for o, n in r.counts.items() if n} for k, r in res.reports.items()}


def test_full_sync_exact_counts_then_nothing_changes(warehouse, expected):
    warehouse.setup(schema.metadata)
    res = _sync(warehouse)
    assert _counts(res) == {
        "clients": {"inserted": 203}, "vendors": {"inserted": 15}, "campaign_groups": {"inserted": 9},
        "spotify_campaigns": {"inserted": 664, "skipped": 7, "failed": 2},
    }
    assert [f.row for f in res.reports["spotify_campaigns"].failures] and all(
        "Campaign: is required" in f.error for f in res.reports["spotify_campaigns"].failures)
    with warehouse.connect() as conn:
        pl = import_playlists(conn, scraped_files())
        assert pl.report.counts["inserted"] == expected["campaign_playlists"] == 690
        assert (pl.files, len(pl.unmatched), pl.campaigns) == (92, 2, 90)
        m = integrity_metrics(conn)
        emails = {r.name_key: r.emails for r in conn.execute(sa.select(schema.clients))}
        by_status = dict(conn.execute(sa.select(C.c.status, sa.func.count()).group_by(C.c.status)).all())
    # the documented counts (data/campaigns/README.md, expected_counts.json)
    assert (m["campaigns"], m["clients"], m["vendors"], m["campaign_groups"]) == (664, 203, 15, 9)
    assert by_status == expected["campaigns_by_status"] == {"Active": 268, "Cancelled": 43, "Complete": 333,
                                                            "Other": 6, "Unreleased": 14}
    assert m["campaigns_with_track_id"] == expected["campaigns_with_track_id"] == 601
    assert m["campaigns_with_sfa_url"] == expected["campaigns_with_sfa_url"] == 204
    assert m["campaigns_without_vendor"] == expected["campaigns_without_vendor"] == 57
    assert m["active_complete_without_sfa_url"] == expected["active_complete_without_sfa"] == 414
    assert m["campaigns_with_playlist_data"] == 90
    assert m["playlists_by_type"] == expected["campaign_playlists_by_type"]
    assert (m["orphans"], m["duplicates"], m["invalid_statuses"], m["campaigns_without_client"]) == (0, 0, 0, 0)
    assert sum(len(e or []) for e in emails.values()) == expected["client_emails"] == 228
    assert all(e == e.lower() for es in emails.values() for e in (es or []))

    again = _sync(warehouse)
    assert _counts(again) == {
        "clients": {"unchanged": 203}, "vendors": {"unchanged": 15}, "campaign_groups": {"unchanged": 9},
        "spotify_campaigns": {"unchanged": 664, "skipped": 7, "failed": 2},
    }
    with warehouse.connect() as conn:
        assert import_playlists(conn, scraped_files()).report.counts["unchanged"] == 690


def _edit(rows: list[dict], header: list[str]) -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=header, lineterminator="\r\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue().encode()


def test_edited_csv_updates_only_what_changed_and_hand_entered_values_survive(warehouse):
    warehouse.setup(schema.metadata)
    _sync(warehouse)
    with open(SAMPLE_CSV, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        header, rows = list(reader.fieldnames), list(reader)
    seen: dict[str, int] = {}
    for r in rows:
        seen[r["Campaign"].strip().casefold()] = seen.get(r["Campaign"].strip().casefold(), 0) + 1
    single = [r for r in rows if r["Campaign"].strip() and "/" not in r["Campaign"] and r["URL"].strip()
              and seen[r["Campaign"].strip().casefold()] == 1]
    with_sfa = [r for r in single if r["SFA"]]
    without_sfa = [r for r in single if not r["SFA"] and r["Status"].strip().lower() == "active"]
    a, b = with_sfa[0], with_sfa[1]            # SFA cell blanked / replaced by a stale value
    c, d, f_ = without_sfa[0], without_sfa[1], without_sfa[2]
    hand = without_sfa[3]                       # SFA typed into the warehouse by hand
    a_sfa, b_sfa = a["SFA"], b["SFA"]
    a["SFA"] = ""
    b["SFA"] = "https://artists.spotify.com/c/artist/STALE/song/x/stats"
    c["Status"] = "Cancelled"                   # update
    old_name = d["Campaign"].strip()
    d["Campaign"] = old_name + " (Radio Edit)"  # rename, same URL: matched by URL, updated
    f_["SFA"] = "https://artists.spotify.com/c/artist/NEW/song/y/stats"  # empty in warehouse: filled
    for r in single[:40]:
        r["Client Email"] = r["Client Email"].upper()  # only email casing: no change
    with warehouse.connect() as conn:
        key = lambda r: r["Campaign"].strip().replace("\u2013", "-").casefold()  # noqa: E731
        hand_key = " ".join(key(hand).split())
        conn.execute(C.update().where(C.c.campaign_key == hand_key).values(sfa_url="https://hand/entered"))
        conn.execute(schema.clients.update().where(schema.clients.c.id == sa.select(C.c.client_id).where(
            C.c.campaign_key == hand_key).scalar_subquery()).values(phone="+15555550100"))
        before = {r.campaign_key: r for r in conn.execute(sa.select(C))}
    res = _sync(warehouse, _edit(rows, header))
    assert _counts(res)["spotify_campaigns"] == {"updated": 3, "unchanged": 661, "skipped": 7, "failed": 2}
    assert _counts(res)["clients"] == {"unchanged": 203}
    with warehouse.connect() as conn:
        after = {r.campaign_key: r for r in conn.execute(sa.select(C))}
        phone = conn.execute(sa.select(sa.func.count()).select_from(schema.clients).where(
            schema.clients.c.phone == "+15555550100")).scalar()
    assert len(after) == 664 and phone == 1
    norm = lambda s: " ".join(s.strip().replace("\u2013", "-").split()).casefold()  # noqa: E731
    assert after[norm(a["Campaign"])].sfa_url == a_sfa.strip()
    assert after[norm(b["Campaign"])].sfa_url == b_sfa.strip()
    assert after[norm(c["Campaign"])].status == "Cancelled"
    assert norm(old_name) not in after
    renamed = after[norm(d["Campaign"])]
    assert renamed.id == before[norm(old_name)].id and renamed.campaign.endswith("(Radio Edit)")
    assert renamed.created_at == before[norm(old_name)].created_at  # timestamps kept
    assert after[norm(f_["Campaign"])].sfa_url.endswith("/NEW/song/y/stats")
    assert after[hand_key].sfa_url == "https://hand/entered"


def test_playlist_history_is_never_deleted(warehouse, tmp_path):
    warehouse.setup(schema.metadata)
    _sync(warehouse)
    files = scraped_files()
    with warehouse.connect() as conn:
        import_playlists(conn, files)
    uri, data = files[0]
    doc = json.loads(data)
    dropped = doc["playlists"].pop()             # the playlist disappeared from the new scrape
    doc["playlists"][0]["streams_28d"] += 1000    # and one playlist has new numbers
    doc["scraped_at"] = "2025-07-01T03:00:00Z"
    with warehouse.connect() as conn:
        first_seen = conn.execute(sa.select(schema.campaign_playlists.c.first_seen_at).where(
            schema.campaign_playlists.c.playlist_name == doc["playlists"][0]["playlist_name"],
            schema.campaign_playlists.c.track_id == doc["track_id"])).scalar()
        res = import_playlists(conn, [(uri, json.dumps(doc).encode())])
        n = len(doc["playlists"])
        assert (res.report.counts["updated"], res.report.counts["unchanged"]) == (n, 0)  # scraped_at moved
        rows = {r.playlist_name: r for r in conn.execute(sa.select(schema.campaign_playlists).where(
            schema.campaign_playlists.c.track_id == doc["track_id"]))}
    assert dropped["playlist_name"] in rows                   # kept
    top = rows[doc["playlists"][0]["playlist_name"]]
    assert top.streams_28d == doc["playlists"][0]["streams_28d"]
    assert top.first_seen_at == first_seen                    # first-seen timestamp kept
    assert warehouse.count(schema.campaign_playlists) == 690


def test_dry_run_reports_and_writes_nothing(warehouse):
    warehouse.setup(schema.metadata)
    res = _sync(warehouse, dry_run=True)
    assert _counts(res)["spotify_campaigns"] == {"inserted": 664, "skipped": 7, "failed": 2}
    assert res.reports["spotify_campaigns"].dry_run
    for t in (schema.clients, schema.vendors, schema.campaign_groups, C):
        assert warehouse.count(t) == 0


def test_bad_playlist_files_and_items_are_reported(sqlite_warehouse):
    wh = sqlite_warehouse
    wh.setup(schema.metadata)
    _sync(wh)
    uri, data = scraped_files()[0]
    doc = json.loads(data)
    doc["playlists"][0]["streams_28d"] = "lots"  # optional: a warning, the entry lands
    doc["playlists"][1]["playlist_name"] = " "  # required: the entry fails
    files = [(uri, json.dumps(doc).encode()), ("file:///bad.json", b"{not json"), ("file:///x.json", b"[]")]
    with wh.connect() as conn:
        res = import_playlists(conn, files)
        streams = conn.execute(sa.select(schema.campaign_playlists.c.streams_28d).where(
            schema.campaign_playlists.c.playlist_name == doc["playlists"][0]["playlist_name"])).scalars().all()
    assert res.report.counts["failed"] == 1 and "playlist_name: is required" in res.report.failures[0].error
    assert [(w.row, w.column, w.value) for w in res.report.warnings] == [(1, "streams_28d", "lots")]
    assert uri in res.report.warnings[0].reason and streams and set(streams) == {None}
    assert [u for u, _r in res.bad_files] == ["file:///bad.json", "file:///x.json"]
    assert res.report.counts["inserted"] == len(doc["playlists"]) - 1
    assert SCRAPED.is_dir()
