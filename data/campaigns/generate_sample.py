"""Generate the campaigns sample (deterministic): a messy "Spotify Playlisting-All Campaigns"
CSV of the seed's size plus scraped stream-data JSON files, and the counts a correct sync
must produce (``expected_counts.json``, also tabled in README.md).

The counts come from this script's own ground truth (what it meant to write), never from
parsing the files it wrote, so the pipeline is checked against an independent answer.

Run from the project root::

    .venv/bin/python data/campaigns/generate_sample.py

Shape (seed 002): 25 columns; 653 campaign cells (Complete 325, Active 265, Cancelled 43,
Unreleased 14, Other 6), 203 clients, 19 salespersons, ~15 vendors; a few duplicated rows,
two rows without a campaign name (they fail), several multi-song campaigns.
"""

from __future__ import annotations

import csv
import json
import random
import shutil
import string
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
CSV_NAME = "Spotify Playlisting-All Campaigns.csv"
SCRAPED_DIR = HERE / "scraped"

COLUMNS = [
    "Campaign", "Client", "Goal", "Remaining", "Daily", "Weekly", "Salesperson", "Status", "URL",
    "SFA", "Vendor", "Start Date", "Sale price", "Paid Vendor?", "Curator Status", "Playlists",
    "Client Email", "Vendor Email", "Notes", "Last Modified", "SP Vendor Updates", "Invoice",
    "Update Client", "Playlist Links", "Vendor Cost",
]
STATUS_MIX = {"Complete": 325, "Active": 265, "Cancelled": 43, "Unreleased": 14, "Other": 6}
STATUS_VARIANTS = {
    "Complete": ["Complete", "complete", "COMPLETE", " Complete ", "Completed", "completed", "Done"],
    "Active": ["Active", "active", "ACTIVE", " Active", "Actve", "Running", "active "],
    "Cancelled": ["Cancelled", "cancelled", "Canceled", "canceled", "CANCELLED "],
    "Unreleased": ["Unreleased", "unreleased", "Not Released", "Pre-release", "UNRELEASED"],
    "Other": ["On Hold", "Paused", "Refunded", "", "TBD", "Waiting on client"],
}
FIRST = ["Ava", "Liam", "Noah", "Mia", "Zoe", "Eli", "Ivy", "Leo", "Max", "Ruby", "Nina", "Omar", "Jade",
         "Kai", "Luca", "Maya", "Rosa", "Theo", "Yara", "Ezra", "Cleo", "Dante", "Iris", "Jonah"]
LAST = ["Stone", "Rivera", "Brooks", "Chen", "Patel", "Moreau", "Kim", "Novak", "Silva", "Okafor", "Reyes",
        "Walsh", "Haddad", "Lindqvist", "Costa", "Bauer", "Nakamura", "Frost", "Vega", "Mercer"]
LABEL_WORDS = ["Nova", "Echo", "Velvet", "Neon", "Golden", "Atlas", "Orbit", "Lunar", "Crimson", "Harbor",
               "Signal", "Wild", "Pulse", "Static", "Ember", "Cobalt", "Prism", "Summit", "Drift", "Vapor"]
LABEL_KINDS = ["Records", "Music", "Entertainment", "Management", "Sound", "Collective"]
SONG_A = ["Midnight", "Broken", "Golden", "Electric", "Silent", "Paper", "Summer", "Lost", "Neon", "Velvet",
          "Wild", "Falling", "Ocean", "City", "Cold", "Burning", "Sweet", "Hollow", "Crystal", "Faded"]
SONG_B = ["Hearts", "Lights", "Dreams", "Roads", "Skies", "Echoes", "Waves", "Fire", "Rain", "Games",
          "Nights", "Ghosts", "Lines", "Love", "Rivers", "Stars", "Days", "Walls", "Wings", "Shadows"]
VENDORS = ["Playlist Push", "SubmitHub Pros", "Indie Curators", "Daily Playlists", "Groover Team",
           "Soundplate", "Musosoup Crew", "Omari MC", "Viral Vibes", "Chill Nation", "Lofi Street",
           "Hip Hop Hub", "EDM Finds", "Country Roads PR", "Latin Beat"]
ALGORITHMIC = ["Discover Weekly", "Release Radar", "Radio", "Daily Mix 1", "Daily Mix 3", "On Repeat",
               "Autoplay", "Your DJ"]
EDITORIAL = ["New Music Friday", "Fresh Finds", "Chill Vibes", "Pop Rising", "Indie Pop", "Lorem"]


def track_id(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(22))


def vary_case_space(rng: random.Random, s: str) -> str:
    r = rng.random()
    if r < 0.12:
        return s.lower()
    if r < 0.18:
        return s.upper()
    if r < 0.28:
        return f"  {s} "
    if r < 0.34:
        return s.replace(" ", "  ", 1)
    return s


def url_variant(rng: random.Random, tid: str) -> str:
    return rng.choice([
        f"https://open.spotify.com/track/{tid}",
        f"https://open.spotify.com/track/{tid}?si={track_id(rng)[:16]}",
        f"https://open.spotify.com/intl-de/track/{tid}",
        f"https://open.spotify.com/intl-pt/track/{tid}?si=abc&context=spotify%3Aplaylist%3A1",
        f"spotify:track:{tid}",
        f"open.spotify.com/track/{tid}",
        f" https://open.spotify.com/track/{tid} ",
    ])


def date_variant(rng: random.Random, y: int, m: int, d: int) -> str:
    months = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
              "October", "November", "December"]
    return rng.choice([
        f"{y:04d}-{m:02d}-{d:02d}",
        f"{m}/{d}/{y}",
        f"{m:02d}/{d:02d}/{y}",
        f"{months[m - 1]} {d}, {y}",
        f"{months[m - 1][:3]} {d} {y}",
        f"{d}-{months[m - 1][:3]}-{y}",
    ])


def money_variant(rng: random.Random, cents: int) -> str:
    whole, frac = divmod(cents, 100)
    return rng.choice([
        f"${whole:,}.{frac:02d}", f"{whole}", f"${whole}", f" ${whole:,} ", f"{whole:,}.{frac:02d}", f"USD {whole:,}",
    ]) if frac == 0 else rng.choice([f"${whole:,}.{frac:02d}", f"{whole}.{frac:02d}"])


def main() -> None:
    rng = random.Random(20021)

    # -- people --------------------------------------------------------------------------------
    clients: list[dict] = []
    seen: set[str] = set()
    while len(clients) < 203:
        if rng.random() < 0.55:
            name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        else:
            name = f"{rng.choice(LABEL_WORDS)} {rng.choice(LABEL_KINDS)}"
        if name.casefold() in seen:
            continue
        seen.add(name.casefold())
        slug = name.lower().replace(" ", ".")
        emails = [f"{slug}@example.com"]
        if rng.random() < 0.2:
            emails.append(f"booking.{slug}@example.org")
        clients.append({"name": name, "emails": emails})
    salespersons = [f"{f} {l}" for f, l in zip(rng.sample(FIRST, 19), rng.sample(LAST, 19))]
    vendors = [{"name": v, "email": f"team@{v.lower().replace(' ', '')}.example"} for v in VENDORS]

    # -- campaigns (ground truth) ------------------------------------------------------------------
    statuses = [s for s, n in STATUS_MIX.items() for _ in range(n)]
    rng.shuffle(statuses)
    artists = [f"{rng.choice(FIRST)} {rng.choice(['', 'The ', 'DJ '])}{rng.choice(LAST)}".replace("  ", " ")
               for _ in range(260)]
    used_names: set[str] = set()
    cells: list[dict] = []
    multi_idx = set(rng.sample(range(653), 9))
    three_song = set(sorted(multi_idx)[:2])
    for i, status in enumerate(statuses):
        artist = rng.choice(artists)
        nsongs = (3 if i in three_song else 2) if i in multi_idx else 1
        songs = []
        while len(songs) < nsongs:
            song = f"{rng.choice(SONG_A)} {rng.choice(SONG_B)}"
            if song not in songs and f"{artist} - {song}".casefold() not in used_names:
                songs.append(song)
        for s in songs:
            used_names.add(f"{artist} - {s}".casefold())
        # songs without a URL: mostly unreleased / some others
        has_url = not (status == "Unreleased" or rng.random() < 0.08)
        tids = [track_id(rng) for _ in songs] if has_url else []
        client = clients[i % len(clients)] if i < len(clients) else rng.choice(clients)
        vendor = rng.choice(vendors) if rng.random() < 0.9 else None
        y, m, d = 2023 + rng.randint(0, 2), rng.randint(1, 12), rng.randint(1, 28)
        cents = rng.choice([30000, 45000, 60000, 85000, 120000, 150000, 250000, 99950, 47550])
        goal = rng.choice([5000, 10000, 15000, 20000, 25000, 50000, 100000])
        sfa = None
        if has_url and rng.random() < 0.35:
            sfa = [f"https://artists.spotify.com/c/artist/{track_id(rng)}/song/{t}/stats" for t in tids][0]
        cells.append(dict(artist=artist, songs=songs, tids=tids, status=status, client=client,
                          salesperson=rng.choice(salespersons), vendor=vendor, date=(y, m, d),
                          cents=cents, goal=goal, sfa=sfa))

    # -- CSV rows ------------------------------------------------------------------------------------
    rows: list[list[str]] = []
    shown_emails: set[str] = set()
    for c in cells:
        sep = rng.choice([" / ", "/", " / "])
        campaign = f"{c['artist']} - {sep.join(c['songs'])}"
        if rng.random() < 0.1:
            campaign = campaign.replace(" - ", " – ", 1)  # en dash typed by a Mac
        urls = [url_variant(rng, t) for t in c["tids"]]
        url_cell = rng.choice([", ", "\n", " "]).join(urls) if len(urls) > 1 else (urls[0] if urls else "")
        emails = list(c["client"]["emails"])
        shown = emails[:1] if len(emails) == 1 or rng.random() < 0.5 else emails
        shown = [e.upper() if rng.random() < 0.15 else (e.title() if rng.random() < 0.1 else e) for e in shown]
        email_cell = rng.choice([", ", "; ", " / ", "\n"]).join(shown) if rng.random() > 0.07 else ""
        if email_cell:
            shown_emails.update(e.lower() for e in shown)
        goal = c["goal"]
        status_cell = rng.choice(STATUS_VARIANTS[c["status"]])
        vendor = c["vendor"]
        row = {
            "Campaign": vary_case_space(rng, campaign) if rng.random() < 0.15 else campaign,
            "Client": vary_case_space(rng, c["client"]["name"]),
            "Goal": rng.choice([f"{goal:,}", str(goal)]),
            "Remaining": str(rng.randint(0, goal)) if c["status"] == "Active" else "0",
            "Daily": str(rng.randint(50, 900)) if c["status"] == "Active" else "",
            "Weekly": str(rng.randint(300, 6000)) if c["status"] == "Active" else "",
            "Salesperson": vary_case_space(rng, c["salesperson"]),
            "Status": status_cell,
            "URL": url_cell,
            "SFA": c["sfa"] or "",
            "Vendor": vary_case_space(rng, vendor["name"]) if vendor else "",
            "Start Date": date_variant(rng, *c["date"]) if rng.random() > 0.05 else "",
            "Sale price": money_variant(rng, c["cents"]),
            "Paid Vendor?": rng.choice(["TRUE", "FALSE", "yes", "", "no"]),
            "Curator Status": rng.choice(["Accepted", "Pending", "", "Rejected"]),
            "Playlists": rng.choice(["", "3 playlists", "Chill Vibes, Indie Mix"]),
            "Client Email": email_cell,
            "Vendor Email": (vendor["email"].upper() if rng.random() < 0.2 else vendor["email"]) if vendor and rng.random() > 0.1 else "",
            "Notes": rng.choice(["", "", "Client wants weekly updates", "=HYPERLINK(\"x\")", "paid in 2 parts",
                                 "Line one\nline two", "résumé – naïve café ✓"]),
            "Last Modified": date_variant(rng, 2025, rng.randint(1, 6), rng.randint(1, 28)),
            "SP Vendor Updates": rng.choice(["", "sent", "waiting"]),
            "Invoice": rng.choice(["", f"INV-{rng.randint(1000, 9999)}"]),
            "Update Client": rng.choice(["", "yes", "no"]),
            "Playlist Links": "",
            "Vendor Cost": money_variant(rng, c["cents"] // 3 // 100 * 100) if vendor else "",
        }
        rows.append([row[k] for k in COLUMNS])
    # duplicated rows (same campaign, typed again; whitespace/casing may differ): the later wins,
    # and the content is the same, so the outcome does not depend on which one wins
    dup_src = rng.sample(range(len(rows)), 7)
    for j in dup_src:
        dup = list(rows[j])
        dup[0] = f" {dup[0]} "
        rows.insert(rng.randint(j + 1, len(rows)), dup)
    # two rows without a campaign name: they fail (Campaign is required)
    bad = ["" for _ in COLUMNS]
    bad[1], bad[7], bad[18] = "Ghost Client", "Active", "row typed without a campaign"
    rows.insert(100, list(bad))
    bad2 = ["" for _ in COLUMNS]
    bad2[2], bad2[18] = "1000", "   "
    bad2[0] = "   "
    rows.insert(400, bad2)

    with open(HERE / CSV_NAME, "w", newline="", encoding="utf-8-sig") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(COLUMNS)
        w.writerows(rows)

    # -- scraped stream data (one JSON file per song) ---------------------------------------------
    if SCRAPED_DIR.exists():
        shutil.rmtree(SCRAPED_DIR)
    SCRAPED_DIR.mkdir()
    songs_with_tid = [(c, s, t) for c in cells if c["status"] in ("Active", "Complete")
                      for s, t in zip(c["songs"], c["tids"])]
    scraped = rng.sample(songs_with_tid, 90)
    playlist_rows = 0
    kinds = Counter()
    for c, song, tid in scraped:
        n = rng.randint(3, 12)
        pls = []
        names: set[tuple[str, str]] = set()
        while len(pls) < n:
            r = rng.random()
            if r < 0.35:
                name, curator, kind = rng.choice(ALGORITHMIC), "Spotify", "algorithmic"
            elif r < 0.45:
                name, curator, kind = rng.choice(EDITORIAL), "Spotify", "editorial"
            else:
                v = rng.choice(vendors)["name"]
                name, curator, kind = f"{rng.choice(LABEL_WORDS)} {rng.choice(SONG_B)}", v, "vendor"
            if (name.casefold(), curator.casefold()) in names:
                continue
            names.add((name.casefold(), curator.casefold()))
            s28 = rng.randint(0, 40000)
            pls.append({"playlist_name": name, "playlist_curator": curator, "streams_28d": s28,
                        "streams_7d": s28 // rng.randint(3, 6), "streams_12m": s28 * rng.randint(2, 9),
                        "date_added": f"{c['date'][0]}-{c['date'][1]:02d}-{rng.randint(1, 28):02d}"})
            kinds[kind] += 1
        playlist_rows += len(pls)
        doc = {"track_id": tid, "artist": c["artist"], "song": song,
               "scraped_at": "2025-06-01T03:00:00Z", "playlists": pls}
        (SCRAPED_DIR / f"{tid}.json").write_text(json.dumps(doc) + "\n")
    for k in range(2):  # songs no campaign has: reported as unmatched, nothing loaded
        tid = track_id(rng)
        doc = {"track_id": tid, "artist": "Nobody", "song": f"Unknown {k}", "scraped_at": "2025-06-01T03:00:00Z",
               "playlists": [{"playlist_name": "Radio", "playlist_curator": "Spotify", "streams_28d": 1,
                              "streams_7d": 0, "streams_12m": 3, "date_added": "2025-01-01"}]}
        (SCRAPED_DIR / f"{tid}.json").write_text(json.dumps(doc) + "\n")

    # -- expected counts (ground truth) --------------------------------------------------------
    songs_by_status = Counter()
    for c in cells:
        songs_by_status[c["status"]] += len(c["songs"])
    n_songs = sum(len(c["songs"]) for c in cells)
    expected = {
        "csv_data_rows": len(rows),
        "campaign_cells": len(cells),
        "duplicate_rows": 7,
        "failed_rows": 2,
        "multi_song_campaigns": len(multi_idx),
        "clients": len({c["client"]["name"].casefold() for c in cells}),
        "client_emails": len(shown_emails),
        "vendors": len({c["vendor"]["name"] for c in cells if c["vendor"]}),
        "salespersons": len({c["salesperson"] for c in cells}),
        "spotify_campaigns": n_songs,
        "campaign_groups": len(multi_idx),
        "campaigns_by_status": dict(sorted(songs_by_status.items())),
        "campaign_cells_by_status": dict(STATUS_MIX),
        "campaigns_with_track_id": sum(len(c["tids"]) for c in cells),
        "campaigns_with_sfa_url": sum(1 for c in cells if c["sfa"]),
        "campaigns_without_client": 0,
        "campaigns_without_vendor": sum(len(c["songs"]) for c in cells if not c["vendor"]),
        "active_complete_without_sfa": sum(
            len(c["songs"]) - (1 if c["sfa"] else 0) for c in cells if c["status"] in ("Active", "Complete")),
        "active_complete_without_sfa_with_track": sum(
            len(c["tids"]) - (1 if c["sfa"] else 0) for c in cells if c["status"] in ("Active", "Complete")),
        "scraped_files": len(scraped) + 2,
        "scraped_files_matched": len(scraped),
        "scraped_files_unmatched": 2,
        "campaign_playlists": playlist_rows,
        "campaign_playlists_by_type": dict(sorted(kinds.items())),
        "campaigns_with_playlist_data": len(scraped),
    }
    (HERE / "expected_counts.json").write_text(json.dumps(expected, indent=2) + "\n")
    print(json.dumps(expected, indent=2))


if __name__ == "__main__":
    main()
