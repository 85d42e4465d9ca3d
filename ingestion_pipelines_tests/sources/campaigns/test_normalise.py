"""Stage 1 normalisation rules (seed 002): statuses, track links, emails, money, dates, names."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from ingestion_pipelines.engine import validate as v
from ingestion_pipelines.sources.campaigns.normalise import (
    name_key, normalise_status, parse_row, split_campaign, track_ids,
)

TID = "4uLU6hMCjMI75M1A2tKUQC"


@pytest.mark.parametrize("raw,want", [
    ("Active", "Active"), (" ACTIVE ", "Active"), ("actve", "Active"), ("Running", "Active"),
    ("Completed", "Complete"), ("done", "Complete"), (" Complete ", "Complete"),
    ("canceled", "Cancelled"), ("CANCELLED ", "Cancelled"), ("Not Released", "Unreleased"),
    ("pre-release", "Unreleased"), ("On Hold", "Other"), ("", "Other"), (None, "Other"), ("TBD", "Other"),
])
def test_status_variants(raw, want):
    assert normalise_status(raw) == want


@pytest.mark.parametrize("cell", [
    f"https://open.spotify.com/track/{TID}", f"https://open.spotify.com/track/{TID}?si=0a1b2c3d4e5f",
    f"https://open.spotify.com/intl-de/track/{TID}", f"https://open.spotify.com/intl-pt/track/{TID}?si=x&context=y",
    f"spotify:track:{TID}", f"open.spotify.com/track/{TID}", f"  https://open.spotify.com/track/{TID}  ",
    f"https://open.spotify.com/embed/track/{TID}",
])
def test_track_link_forms(cell):
    assert track_ids(cell) == [TID]


def test_track_links_several_and_bad():
    other = "7ouMYWpwJ422jRcDASZB7P"
    assert track_ids(f"https://open.spotify.com/track/{TID},\nspotify:track:{other}") == [TID, other]
    assert track_ids("") == []
    with pytest.raises(v.FieldError, match="not a Spotify track link"):
        track_ids(f"https://open.spotify.com/album/{TID}")


def test_names_and_campaign_split():
    assert name_key("  ACME   records ") == name_key("Acme Records") == "acme records"
    assert split_campaign("Ava Stone – Golden Hearts") == ("Ava Stone", ["Golden Hearts"])
    assert split_campaign("Ava Stone - Golden Hearts / Cold  Rain/Neon Days") == (
        "Ava Stone", ["Golden Hearts", "Cold Rain", "Neon Days"])
    assert split_campaign("Just A Title") == (None, ["Just A Title"])


def test_parse_row_multi_song_and_fields():
    other = "7ouMYWpwJ422jRcDASZB7P"
    rows = parse_row(5, {
        "Campaign": " Ava Stone - Golden Hearts / Cold Rain ", "Client": " acme  Records", "Goal": "10,000",
        "Status": " completed", "URL": f"spotify:track:{TID}\nhttps://open.spotify.com/intl-fr/track/{other}?si=1",
        "SFA": f"https://artists.spotify.com/c/artist/X/song/{other}/stats", "Start Date": "March 5, 2024",
        "Sale price": "$1,200.50", "Client Email": "A@Acme.COM / b@acme.com; a@acme.com", "Last Modified": "3/6/2024",
        "Paid Vendor?": "yes", "Vendor Cost": "USD 400",
    })
    assert [r.values["campaign"] for r in rows] == ["Ava Stone - Golden Hearts", "Ava Stone - Cold Rain"]
    assert [r.values["track_id"] for r in rows] == [TID, other]
    assert rows[0].values["sfa_url"] is None and rows[1].values["sfa_url"].endswith(f"/song/{other}/stats")
    r = rows[0].values
    assert (r["status"], r["goal"], r["sale_price"], r["vendor_cost"]) == ("Complete", 10000, Decimal("1200.50"), Decimal("400.00"))
    assert (r["start_date"], r["last_modified"]) == (dt.date(2024, 3, 5), dt.date(2024, 3, 6))
    assert r["client_email"] == ["a@acme.com", "b@acme.com"] and r["paid_vendor"] is True
    assert rows[0].group_key == rows[1].group_key == "ava stone - golden hearts / cold rain"
    assert rows[0].client_key == "acme records"


def test_parse_row_errors_are_collected():
    with pytest.raises(v.RowError, match="Campaign: is required"):
        parse_row(2, {"Campaign": "  ", "Client": "x"})



def test_optional_cells_that_do_not_parse_are_warnings_not_failures():
    bad = {"Campaign": "A - B", "Client": "Acme", "Start Date": "31/31/2024", "Sale price": "lots",
           "Client Email": "nope", "Goal": "TBD", "URL": "https://open.spotify.com/album/x"}
    (song,) = parse_row(3, bad)
    assert {w.column for w in song.warnings} == {"Start Date", "Sale price", "Client Email", "Goal", "URL"}
    assert all(w.row == 3 and w.value == bad[w.column] for w in song.warnings)
    r = song.values
    assert (r["start_date"], r["sale_price"], r["client_email"], r["goal"], r["track_id"]) == (None,) * 5
    assert r["url_raw"] == bad["URL"] and song.client_key == "acme"


def test_goals_as_people_type_them():
    for typed, goal in (("50k", 50000), ("50K", 50000), ("1.2M", 1200000), ("25,000", 25000), ("10 000", 10000)):
        (song,) = parse_row(2, {"Campaign": "A - B", "Goal": typed, "Daily": "1.5k"})
        assert (song.values["goal"], song.values["daily"], song.warnings) == (goal, 1500, [])
