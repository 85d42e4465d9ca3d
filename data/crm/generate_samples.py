"""Generate the CRM CSV samples (issue 12, DESIGN.md §10): one realistic export per object of
the CSV list, with the exact headers of ``../shared/crm/SEED_SYSTEM.md`` §1 and the mess real
exports have, plus the counts a correct first import must produce (``expected_counts.json``,
tabled in README.md).

Deterministic: ``random.Random(SEED)``; re-running gives byte-identical files. The counts come
from the script's own ground truth (each row is written knowing what it should become: landed,
superseded by a later row with the same key, failed; how many of its optional cells are bad),
never from parsing what it wrote, so the pipeline is checked against an independent answer.

Run from the project root::

    .venv/bin/python data/crm/generate_samples.py

Files (``data/crm/<system>/``): genius ``users.csv``, ``appointments.csv``, ``prospects.csv``,
``marketing_sources.csv``, ``marketing_source_types.csv`` (``<object in snake case>[_*].csv``:
the profiles' default sample paths); salespro
``appointments_2025-07-01.csv`` (headers before 07-07: ``customer.nameLast`` ...),
``appointments_2025-07-20.csv`` (after: ``customerLastName`` ...), ``users.csv`` (v2 export),
``users_v1.csv`` (v1 export), ``offices.csv``; leadconduit ``leads.csv``; arrivy ``tasks.csv``;
hubspot ``zipcodes.csv``.
"""

from __future__ import annotations

import csv
import io
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 20250707

# Real ZIPs (midwire/free_zipcode_data, US Census / GeoNames) -> (city, state, county): the
# reference the hubspot zipcodes sample carries and the other samples' addresses use.
ZIPS = {
    "02101": ("Boston", "MA", "SUFFOLK"), "02102": ("Boston", "MA", "SUFFOLK"),
    "02420": ("Lexington", "MA", "MIDDLESEX"), "02421": ("Lexington", "MA", "MIDDLESEX"),
    "02451": ("Waltham", "MA", "MIDDLESEX"), "02452": ("Waltham", "MA", "MIDDLESEX"),
    "01901": ("Lynn", "MA", "ESSEX"), "01902": ("Lynn", "MA", "ESSEX"),
    "01144": ("Springfield", "MA", "HAMPDEN"),
    "06001": ("Avon", "CT", "HARTFORD"), "06002": ("Bloomfield", "CT", "HARTFORD"),
    "06101": ("Hartford", "CT", "HARTFORD"), "06102": ("Hartford", "CT", "HARTFORD"),
    "07001": ("Avenel", "NJ", "MIDDLESEX"), "07002": ("Bayonne", "NJ", "HUDSON"),
    "07030": ("Hoboken", "NJ", "HUDSON"), "07031": ("North Arlington", "NJ", "BERGEN"),
    "08001": ("Alloway", "NJ", "SALEM"), "08002": ("Cherry Hill", "NJ", "CAMDEN"),
    "08030": ("Gloucester City", "NJ", "CAMDEN"), "08031": ("Bellmawr", "NJ", "CAMDEN"),
    "10001": ("New York", "NY", "NEW YORK"), "10002": ("New York", "NY", "NEW YORK"),
    "11201": ("Brooklyn", "NY", "KINGS"), "11202": ("Brooklyn", "NY", "KINGS"),
    "19101": ("Philadelphia", "PA", "PHILADELPHIA"), "19102": ("Philadelphia", "PA", "PHILADELPHIA"),
    "19110": ("Philadelphia", "PA", "PHILADELPHIA"), "19111": ("Philadelphia", "PA", "PHILADELPHIA"),
    "21201": ("Baltimore", "MD", "BALTIMORE CITY"), "21202": ("Baltimore", "MD", "BALTIMORE CITY"),
    "21210": ("Baltimore", "MD", "BALTIMORE CITY"), "21211": ("Baltimore", "MD", "BALTIMORE CITY"),
    "30301": ("Atlanta", "GA", "FULTON"), "30302": ("Atlanta", "GA", "FULTON"),
    "30310": ("Atlanta", "GA", "FULTON"), "30311": ("Atlanta", "GA", "FULTON"),
}
DIVISION_OF_STATE = {"MA": "Boston", "CT": "Hartford", "NJ": "New Jersey", "NY": "New York",
                     "PA": "Philadelphia", "MD": "Baltimore", "GA": "Atlanta"}
#: A real ZIP the sample reference does not carry (unknown against the sample, known against
#: the full us-zipcodes corpus) and one that exists nowhere.
CHICAGO_ZIP, NO_SUCH_ZIP = "60601", "99999"

FIRST = ["James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
         "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah",
         "Carlos", "Karen", "Daniel", "Lisa", "Matthew", "Nancy", "Anthony", "Betty", "Mark", "Sandra",
         "Luis", "Ashley", "Kevin", "Dorothy", "José", "Zoë", "Seán", "Nguyen"]
LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
        "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore",
        "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "O'Brien", "Müller", "Kowalski",
        "D'Angelo", "McCarthy", "Nguyen"]
STREETS = ["Main St", "Oak Ave", "Maple Dr", "Cedar Ln", "Elm St", "Washington Blvd", "Park Ave",
           "Lake Rd", "Hillcrest Dr", "River Rd", "Church St", "Highland Ave"]
MAIL_DOMAINS = ["gmail.com", "yahoo.com", "comcast.net", "aol.com", "outlook.com", "verizon.net"]
AREA_CODES = {"MA": ["617", "781", "978", "413"], "CT": ["860", "203"], "NJ": ["201", "973", "856"],
              "NY": ["212", "718", "646"], "PA": ["215", "267"], "MD": ["410", "443"], "GA": ["404", "678"],
              "IL": ["312"]}


@dataclass
class Sample:
    """One sample file and its ground truth.

    ``rows``: the data rows (lists of cells, in header order); ``keys``: each row's key, or
    ``None`` for a row that must fail; ``warnings``: bad optional cells per row; ``geo``: per
    row ``(zip5, state)`` for the ZIP/state check (``None`` where the export has no address).
    """

    path: str
    header: list[str]
    bom: bool = False
    crlf: bool = False
    rows: list[list[str]] = field(default_factory=list)
    keys: list[object] = field(default_factory=list)
    warnings: list[int] = field(default_factory=list)
    geo: list[tuple[str | None, str | None] | None] = field(default_factory=list)
    loaded_before: set = field(default_factory=set)   # keys an earlier sample of the same table landed

    def add(self, cells: dict[str, str], key: object, warnings: int = 0,
            geo: tuple[str | None, str | None] | None = None) -> None:
        unknown = set(cells) - set(self.header)
        assert not unknown, f"{self.path}: cells for no header: {unknown}"
        self.rows.append([cells.get(h, "") for h in self.header])
        self.keys.append(key)
        self.warnings.append(warnings)
        self.geo.append(geo)

    def write(self) -> None:
        buf = io.StringIO(newline="")
        w = csv.writer(buf, lineterminator="\r\n" if self.crlf else "\n")
        w.writerow(self.header)
        w.writerows(self.rows)
        data = buf.getvalue().encode("utf-8")
        out = HERE / self.path
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes((b"\xef\xbb\xbf" if self.bom else b"") + data)

    def expected(self, reference: set[str] | None = None, ref_state: dict[str, str] | None = None) -> dict:
        """The counts of a first import of this file (after ``loaded_before``)."""
        failed = sum(k is None for k in self.keys)
        landed = [k for k in self.keys if k is not None]
        last = {k: i for i, k in enumerate(self.keys) if k is not None}
        distinct = set(landed)
        out = {"rows": len(self.rows), "inserted": len(distinct - self.loaded_before),
               "updated": len(distinct & self.loaded_before), "unchanged": 0,
               "skipped": len(landed) - len(distinct), "failed": failed,
               "warnings": sum(w for k, w in zip(self.keys, self.warnings) if k is not None)}
        if reference is not None and any(g is not None for g in self.geo):
            unknown = mismatch = 0
            for i in last.values():
                z, st = self.geo[i] or (None, None)
                if z is None:
                    continue
                if z not in reference:
                    unknown += 1
                elif st is not None and ref_state.get(z) not in (None, st):
                    mismatch += 1
            out["zip_unknown"], out["zip_state_mismatch"] = unknown, mismatch
        return out


class Mess:
    """The ways real exports write one value (all deterministic through ``rng``)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def pick(self, seq):
        return self.rng.choice(seq)

    def person(self) -> tuple[str, str]:
        return self.pick(FIRST), self.pick(LAST)

    def phone(self, state: str = "MA") -> str:
        """A possible US number in one of the formats people and CRMs write."""
        a = self.pick(AREA_CODES.get(state, ["617"]))
        b, c = self.rng.randint(200, 989), self.rng.randint(0, 9999)
        return self.pick([f"({a}) {b}-{c:04d}", f"{a}-{b}-{c:04d}", f"{a}.{b}.{c:04d}", f"{a}{b}{c:04d}",
                          f"+1 {a} {b} {c:04d}", f"1-{a}-{b}-{c:04d}", f"+1{a}{b}{c:04d}",
                          f"{a} {b} {c:04d}", f"({a}){b}-{c:04d} x{self.rng.randint(10, 99)}"])

    def email(self, first: str, last: str) -> str:
        """An address in the case people type it (mixed case, padded now and then)."""
        local = self.pick([f"{first}.{last}", f"{first[0]}{last}", f"{first}{self.rng.randint(1, 99)}",
                           f"{last}.{first}"])
        local = "".join(ch for ch in local if ch.isascii() and (ch.isalnum() or ch == "."))
        addr = f"{local}@{self.pick(MAIL_DOMAINS)}"
        return self.pick([addr, addr.lower(), addr.upper(), addr.title(), f" {addr.lower()} "])

    def zip_cell(self, z: str) -> str:
        """A ZIP as exports write it: plain, Excel's leading apostrophe, ZIP+4."""
        return self.pick([z, z, z, f"'{z}", f"{z}-{self.rng.randint(1000, 9999)}"])

    def state_cell(self, st: str) -> str:
        return self.pick([st, st, st.lower(), f" {st}"])

    def street(self) -> str:
        return f"{self.rng.randint(1, 9999)} {self.pick(STREETS)}"

    def us_date(self, y: int, m: int, d: int) -> str:
        return self.pick([f"{m}/{d}/{y}", f"{m:02d}/{d:02d}/{y}"])

    def any_date(self, y: int, m: int, d: int) -> str:
        """A date as the Genius exports mix them: ISO or US."""
        return self.pick([f"{y}-{m:02d}-{d:02d}", f"{m}/{d}/{y}", f"{m:02d}/{d:02d}/{y}"])

    def time12(self, h: int, mi: int, s: int = 0) -> str:
        return f"{(h % 12) or 12:02d}:{mi:02d}:{s:02d} {'AM' if h < 12 else 'PM'}"

    def iso_z(self, y: int, m: int, d: int, h: int, mi: int, s: int, ms: bool = True) -> str:
        frac = f".{self.rng.randint(0, 999):03d}" if ms else ""
        return f"{y}-{m:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}{frac}Z"

    def place(self, zips: list[str] | None = None) -> tuple[str, str, str, str]:
        """(zip5, city, state, county) from the reference."""
        z = self.pick(zips or sorted(ZIPS))
        city, st, county = ZIPS[z]
        return z, city, st, county

    def parse_id(self) -> str:
        """A Parse objectId (SalesPro): 10 letters and digits."""
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        return "".join(self.rng.choice(alphabet) for _ in range(10))


# --------------------------------------------------------------------------------------------
# HubSpot zipcodes
# --------------------------------------------------------------------------------------------

def hubspot_zipcodes(m: Mess) -> Sample:
    """40 rows, CRLF: 37 ZIPs (Excel apostrophes, lower-case states, blank counties, padded
    cities), one ZIP typed twice (the later row wins), a blank ZIP and a non-ZIP (both fail),
    a misspelt state (a warning: the ZIP lands without a state)."""
    s = Sample("hubspot/zipcodes.csv", ["zipcode", "division", "city", "county", "state"], crlf=True)
    zips = sorted(ZIPS)
    for i, z in enumerate(zips):
        city, st, county = ZIPS[z]
        cells = {"zipcode": f"'{z}" if z.startswith("0") and i % 3 == 0 else z,
                 "division": DIVISION_OF_STATE[st], "city": f" {city} " if i % 7 == 3 else city,
                 "county": "" if i % 9 == 4 else county.title(),
                 "state": st.lower() if i % 5 == 2 else st}
        if z == "01144":
            s.add({**cells, "state": "Massachusets"}, z, warnings=1)
        else:
            s.add(cells, z)
        if z == "07030":
            s.add({**cells, "division": "North Jersey"}, z)          # re-typed: the later row wins
        if i == 20:
            s.add({"zipcode": "", "division": "New York", "city": "Yonkers", "state": "NY"}, None)
        if i == 30:
            s.add({"zipcode": "ABC12", "division": "Baltimore", "city": "Towson", "state": "MD"}, None)
    return s


def reference_states(zs: Sample) -> dict[str, str | None]:
    """ZIP -> state as the zipcodes sample lands (a misspelt state lands empty)."""
    out: dict[str, str | None] = {}
    for key, w, row in zip(zs.keys, zs.warnings, zs.rows):
        if key is not None:
            out[key] = None if w else ZIPS[key][1]
    return out


# --------------------------------------------------------------------------------------------
# LeadConduit leads
# --------------------------------------------------------------------------------------------

LEAD_HEADER = ["Lead ID", "First Name", "Last Name", "Email", "Phone", "Alternate Phone", "Street Address",
               "City", "State", "Zip Code", "Submit Time", "utm_source", "utm_medium", "utm_campaign", "kw",
               "IP", "Referrer", "Page URL", "Is Duplicate", "Cost", "Comments", "TrustedForm Cert URL",
               "sr_rep_id"]


def leadconduit_leads(m: Mess) -> Sample:
    """50 rows, UTF-8 with BOM: free-form headers mapped by aliases (``Zip Code``, ``Submit
    Time``, ``kw``, ``IP``, ``Referrer``, ``Page URL``, ``sr_rep_id``) and one nobody maps
    (``TrustedForm Cert URL``, kept in ``raw``); submit times in ISO ``Z``, ISO offsets and US
    12-hour; phones in nine formats; one lead exported twice; one without an id."""
    s = Sample("leadconduit/leads.csv", LEAD_HEADER, bom=True)
    bad = {5: ("Phone", "226-2649"), 11: ("Email", "mike.jones@gmail"), 17: ("Submit Time", "yesterday"),
           23: ("Cost", "free"), 29: ("Alternate Phone", "12345"), 35: ("Is Duplicate", "maybe")}
    for i in range(48):
        first, last = m.person()
        z, city, st, _ = m.place()
        if i == 40:
            z, city, st = CHICAGO_ZIP, "Chicago", "IL"
        if i == 41:
            z, city = NO_SUCH_ZIP, "Nowhere"
        if i == 42:
            z, city, st = "10001", "New York", "NJ"
        d, h, mi, sec = 1 + i % 28, 8 + i % 12, (i * 7) % 60, (i * 13) % 60
        submit = m.pick([m.iso_z(2025, 6, d, h, mi, sec, ms=False), f"2025-06-{d:02d}T{h:02d}:{mi:02d}:{sec:02d}-04:00",
                         f"06/{d:02d}/2025 {m.time12(h, mi, sec)}"])
        cells = {"Lead ID": f"{0x5e8a0000 + i * 7919:08x}{i:016x}", "First Name": first, "Last Name": last,
                 "Email": m.email(first, last), "Phone": m.phone(st),
                 "Alternate Phone": m.phone(st) if i % 4 == 0 else m.pick(["", "N/A"]),
                 "Street Address": m.street(), "City": city, "State": m.state_cell(st), "Zip Code": m.zip_cell(z),
                 "Submit Time": submit, "utm_source": m.pick(["google", "facebook", "bing", ""]),
                 "utm_medium": m.pick(["cpc", "social", ""]), "utm_campaign": m.pick(["spring-roofing", "windows_q2", ""]),
                 "kw": m.pick(["roof replacement", "vinyl windows", "siding contractor near me", ""]),
                 "IP": f"{m.rng.randint(11, 223)}.{m.rng.randint(0, 255)}.{m.rng.randint(0, 255)}.{m.rng.randint(1, 254)}",
                 "Referrer": m.pick(["https://www.google.com/", "https://m.facebook.com/", ""]),
                 "Page URL": m.pick(["https://get.example-home.com/roofing?utm_source=google", "https://get.example-home.com/windows"]),
                 "Is Duplicate": m.pick(["false", "FALSE", "0", "No", "", "true", "Y"]),
                 "Cost": m.pick(["$45.00", "38.5", "1,200", "$0", ""]),
                 "TrustedForm Cert URL": f"https://cert.trustedform.com/{i:040x}",
                 "sr_rep_id": m.pick(["", str(m.rng.randint(1000, 9999))])}
        if i == 8:
            cells["Comments"] = "Prefers evenings.\nGate code 4411 — dog in yard,\n\"friendly\"."
        warns = 0
        if i in bad:
            col, val = bad[i]
            cells[col] = val
            warns = 1
        s.add(cells, cells["Lead ID"], warns, geo=(z, st))
        if i == 14:   # the same lead exported again further down, with a corrected phone
            s.add({**cells, "Phone": m.phone(st)}, cells["Lead ID"], 0, geo=(z, st))
        if i == 30:
            s.add({**cells, "Lead ID": "", "Email": "no.id@example.com"}, None)
    return s


# --------------------------------------------------------------------------------------------
# Arrivy tasks
# --------------------------------------------------------------------------------------------

ARRIVY_HEADER = [
    "Task ID", "Task Title", "Template", "Group", "Status", "Timezone", "Instructions (task-details)", "Forms",
    "External ID", "Created by (company or team member)", "Created on", "Scheduled by", "Rescheduled (count)",
    "Crew Assigned by", "Booking ID", "Booking Name", "Route Name", "Assignees", "Resources", "Resource Template",
    "Employee IDs", "Customer ID", "First Name", "Last Name", "Company", "Email", "Mobile Number", "Address",
    "City", "State", "Zipcode", "Country", "Latitude", "Longitude", "Start Date", "Start Time", "End Date",
    "End Time", "Start Timezone", "End Timezone", "Duration", "Unscheduled", "Expected Start Date",
    "Expected End Date", "Actual Start Time", "Actual End Time", "Travel Time", "Wait Time", "Task Time",
    "Total Time", "Mileage (in miles)", "Rating", "Rating Text", "Outbound SMS (count)", "Inbound SMS (count)",
    "Outbound Email (count)", "Inbound Email (count)", "Template Extra Field Product Interest Primary",
    "Template Extra Field Product Interest Secondary", "Template Extra Field Primary Source",
    "Template Extra Field Secondary Source", "Complete", "Cancel", "Custom Cancel Test", "Appointment Confirmed",
    "Demo Sold", "On our way", "Start", "Exception", "Customer Extra Fields", "Task Extra Fields",
    "Resource Template Extra Field", "Resource Extra Field",
]
TZ_OF_STATE = {"MA": "America/New_York", "CT": "America/New_York", "NJ": "America/New_York",
               "NY": "America/New_York", "PA": "America/New_York", "MD": "America/New_York",
               "GA": "America/New_York", "IL": "America/Chicago"}


def arrivy_tasks(m: Mess) -> Sample:
    """32 rows: Arrivy's 73 columns; US dates, 12-hour times and a separate time-zone column;
    status columns holding the time the status was reached; JSON extra fields (one broken);
    multi-line instructions; one task exported twice; one without a Task ID."""
    s = Sample("arrivy/tasks.csv", ARRIVY_HEADER)
    bad = {4: ("Duration", "1h30"), 9: ("Customer Extra Fields", "{roof: old"), 15: ("Mobile Number", "867-5309"),
           21: ("Start Time", "25:00:00 PM"), 26: ("Unscheduled", "sometimes")}
    for i in range(30):
        first, last = m.person()
        z, city, st, _ = m.place()
        if i == 27:
            z, city, st = CHICAGO_ZIP, "Chicago", "IL"
        if i == 28:
            z, city, st = "19102", "Philadelphia", "NJ"
        tz = TZ_OF_STATE[st]
        d, h = 2 + i % 27, 8 + i % 9
        done = i % 3 == 0
        cells = {
            "Task ID": str(5066549580791808 + i * 104729), "Task Title": f"{m.pick(['Roof', 'Windows', 'Siding', 'Gutters'])} estimate - {last}",
            "Template": m.pick(["In-Home Estimate", "Install", "Inspection"]), "Group": DIVISION_OF_STATE.get(st, "Chicago"),
            "Status": "COMPLETE" if done else m.pick(["NOTSTARTED", "ENROUTE", "CANCELLED", "NOTSTARTED"]),
            "Timezone": tz, "Instructions (task-details)": "" if i % 5 else "Call on arrival.\nPark on street, not driveway.",
            "Forms": "", "External ID": m.pick(["", f"GEN-{40000 + i}"]), "Created by (company or team member)": m.pick(["Acme Home Co", "Dana Whitfield"]),
            "Created on": f"06/{1 + i % 22:02d}/2025 {m.time12(9 + i % 8, (i * 11) % 60, (i * 17) % 60)}",
            "Scheduled by": m.pick(["Dana Whitfield", "Scheduler Bot", ""]), "Rescheduled (count)": str(i % 3),
            "Crew Assigned by": m.pick(["Dana Whitfield", ""]), "Booking ID": m.pick(["", str(6192449487634432 + i)]),
            "Booking Name": m.pick(["", "Website booking"]), "Route Name": "", "Assignees": m.pick(["Mike Rossi", "Mike Rossi, Tara Lund", ""]),
            "Resources": "", "Resource Template": "", "Employee IDs": m.pick(["5700305828184064", "5700305828184064,6278454920118272", ""]),
            "Customer ID": str(4785074604081152 + i), "First Name": first, "Last Name": last,
            "Company": m.pick(["", "", f"{last} Properties LLC"]), "Email": m.email(first, last),
            "Mobile Number": m.phone(st), "Address": m.street(), "City": city, "State": m.state_cell(st),
            "Zipcode": m.zip_cell(z), "Country": m.pick(["US", "USA", "United States", ""]),
            "Latitude": m.pick([f"{39 + m.rng.random() * 3:.6f}", "", "n/a"]), "Longitude": m.pick([f"{-75 - m.rng.random() * 3:.6f}", ""]),
            "Start Date": f"06/{d:02d}/2025", "Start Time": m.time12(h, 0), "End Date": f"06/{d:02d}/2025",
            "End Time": m.time12(h + 2, 0), "Start Timezone": tz, "End Timezone": tz, "Duration": "120",
            "Unscheduled": m.pick(["false", "FALSE", "False"]), "Expected Start Date": f"06/{d:02d}/2025",
            "Expected End Date": f"06/{d:02d}/2025",
            "Actual Start Time": f"06/{d:02d}/2025 {m.time12(h, 7, 12)}" if done else "",
            "Actual End Time": f"06/{d:02d}/2025 {m.time12(h + 1, 52, 40)}" if done else "",
            "Travel Time": str(m.rng.randint(5, 55)) if done else "", "Wait Time": "0" if done else "",
            "Task Time": str(m.rng.randint(60, 130)) if done else "", "Total Time": str(m.rng.randint(70, 180)) if done else "",
            "Mileage (in miles)": f"{m.rng.random() * 40:.1f}" if done else "", "Rating": m.pick(["", "5", "4"]) if done else "",
            "Rating Text": m.pick(["", "Great crew, on time!"]) if done else "",
            "Outbound SMS (count)": str(m.rng.randint(0, 6)), "Inbound SMS (count)": str(m.rng.randint(0, 2)),
            "Outbound Email (count)": str(m.rng.randint(0, 3)), "Inbound Email (count)": "0",
            "Template Extra Field Product Interest Primary": m.pick(["Roofing", "Windows", "Siding", ""]),
            "Template Extra Field Product Interest Secondary": m.pick(["Gutters", ""]),
            "Template Extra Field Primary Source": m.pick(["HubSpot", "Angi", "Referral", ""]),
            "Template Extra Field Secondary Source": "",
            "Complete": f"06/{d:02d}/2025 {m.time12(h + 1, 52, 40)}" if done else "", "Cancel": "",
            "Custom Cancel Test": "", "Appointment Confirmed": f"06/{max(1, d - 1):02d}/2025 {m.time12(16, 5, 0)}",
            "Demo Sold": m.pick(["", f"06/{d:02d}/2025 {m.time12(h + 1, 45, 0)}"]) if done else "",
            "On our way": f"06/{d:02d}/2025 {m.time12(h - 1, 35, 3)}" if done else "",
            "Start": f"06/{d:02d}/2025 {m.time12(h, 7, 12)}" if done else "", "Exception": "",
            "Customer Extra Fields": m.pick(["", json.dumps({"Roof Age": str(m.rng.randint(5, 30)), "HOA": "No"})]),
            "Task Extra Fields": m.pick(["", json.dumps({"Lead Source": "HubSpot", "Genius Appointment": 40000 + i})]),
            "Resource Template Extra Field": "", "Resource Extra Field": "",
        }
        warns = 0
        if i in bad:
            col, val = bad[i]
            cells[col] = val
            warns = 1
        s.add(cells, int(cells["Task ID"]), warns, geo=(z, st))
        if i == 12:   # exported again after a reschedule: the later row wins
            s.add({**cells, "Start Date": f"06/{d + 1:02d}/2025", "Rescheduled (count)": "1"}, int(cells["Task ID"]), 0, geo=(z, st))
        if i == 19:
            s.add({**cells, "Task ID": "", "Task Title": "Draft task"}, None)
    return s


# --------------------------------------------------------------------------------------------
# SalesPro
# --------------------------------------------------------------------------------------------

SP_APPT_V1 = ["_id", "_created_at", "_updated_at", "isSale", "resultFullString", "customer.nameLast",
              "customer.nameFirst", "customer.estimateName", "salesrep.email", "salesrep.nameFirst",
              "salesrep.nameLast", "saleAmount"]
SP_APPT_V2 = ["_id", "_created_at", "_updated_at", "isSale", "resultFullString", "customerLastName",
              "customerFirstName", "estimateName", "salesRepEmail", "salesRepFirstName", "salesRepLastName",
              "saleAmount"]
REPS = [("Mike", "Rossi"), ("Tara", "Lund"), ("Dev", "Patel"), ("Gina", "Alvarez"), ("Sam", "Okoro")]
RESULTS = ["Sale - Financing", "Sale - Cash", "No Sale - Price", "No Sale - Think It Over", "Demo - Not Sold",
           "One Legger", "Reset"]


def _sp_appointment(m: Mess, pid: str, i: int, v1: bool, sale: bool | None = None) -> dict:
    first, last = m.person()
    rf, rl = REPS[i % len(REPS)]
    sale = (i % 3 == 0) if sale is None else sale
    names = (("customer.nameLast", "customer.nameFirst", "customer.estimateName", "salesrep.email",
              "salesrep.nameFirst", "salesrep.nameLast") if v1 else
             ("customerLastName", "customerFirstName", "estimateName", "salesRepEmail", "salesRepFirstName",
              "salesRepLastName"))
    day = 1 + i % 28
    return {"_id": pid, "_created_at": m.iso_z(2025, 6 if v1 else 7, day, 13, i % 60, 5),
            "_updated_at": m.iso_z(2025, 6 if v1 else 7, day, 18, i % 60, 41),
            "isSale": m.pick(["TRUE", "1", "YES", "Y", "true"]) if sale else m.pick(["FALSE", "0", "NO", "n", "false"]),
            "resultFullString": RESULTS[0 if sale else 2 + i % 5],
            names[0]: last, names[1]: first, names[2]: f"{last} - {m.pick(['Roof', 'Windows', 'Bath'])}",
            names[3]: m.pick([f"{rf}.{rl}@acmehome.com", f"{rf.upper()}.{rl}@AcmeHome.com"]),
            names[4]: rf, names[5]: rl,
            "saleAmount": m.pick(["12500.00", "$8,900", "23,450.5", "9875"]) if sale else m.pick(["", "0"])}


def salespro_appointments(m: Mess) -> tuple[Sample, Sample]:
    """Two exports of the same object: 07-01 with the old person headers (``customer.nameLast``
    ...; 26 rows, CRLF) and 07-20 with the new ones (``customerLastName`` ...; 25 rows, BOM),
    which re-exports 5 appointments of the first file with their sale recorded (updated)."""
    a = Sample("salespro/appointments_2025-07-01.csv", SP_APPT_V1, crlf=True)
    ids = [m.parse_id() for _ in range(24)]
    bad = {6: ("saleAmount", "TBD"), 13: ("isSale", "maybe")}
    for i, pid in enumerate(ids):
        cells = _sp_appointment(m, pid, i, v1=True, sale=False if i < 5 else None)
        w = 0
        if i in bad:
            cells[bad[i][0]] = bad[i][1]
            w = 1
        a.add(cells, pid, w)
        if i == 9:
            a.add({**cells, "resultFullString": "Reset"}, pid)
        if i == 17:
            a.add({**cells, "_id": ""}, None)
    b = Sample("salespro/appointments_2025-07-20.csv", SP_APPT_V2, bom=True, loaded_before=set(ids))
    for i in range(25):
        pid = ids[i] if i < 5 else m.parse_id()
        cells = _sp_appointment(m, pid, 100 + i, v1=False, sale=True if i < 5 else None)
        w = 0
        if i == 11:
            cells["_updated_at"] = "not a date"
            w = 1
        b.add(cells, pid, w)
    return a, b


SP_USERS_V2 = ["objectId", "username", "nameFirst", "nameLast", "email", "phoneNumber", "isActive", "isManager",
               "isAvailableToCall", "canActivateUsers", "canChangeSettings", "canSubmitCreditApps",
               "disableChangeCompany", "company", "selectedOffice", "allowedOffices", "identifier", "licenseNumber",
               "createdAt", "updatedAt", "lastLoginDate", "deactivatedDate"]
SP_USERS_V1 = ["User Object ID", "First Name", "Last Name", "Username", "Email", "Last Login", "Active/Inactive",
               "Send Credit Apps", "Search Other Users Estimates", "Assigned Office", "License Number",
               "Additional Amount", "Unique Identifier", "Job Representative ID"]
SP_OFFICES = ["objectId", "name", "companyId", "company", "canSearchAllEstimates", "last_edit_user", "createdAt",
              "updatedAt", "last_edit_date"]
OFFICE_NAMES = ["Boston", "Worcester", "Hartford", "Hoboken", "Cherry Hill", "Manhattan", "Brooklyn",
                "Philadelphia", "King of Prussia", "Baltimore", "Towson", "Atlanta", "Marietta", "Springfield",
                "Lynn", "Waltham", "Lexington", "Bayonne"]
COMPANY_ID = "Qx7Lm2Pz9A"


def salespro_offices(m: Mess) -> tuple[Sample, list[str]]:
    """20 rows: Parse ids, booleans in several spellings (one bad), ISO and US edit dates;
    one office exported twice, one without an objectId."""
    s = Sample("salespro/offices.csv", SP_OFFICES)
    ids = [m.parse_id() for _ in OFFICE_NAMES]
    for i, (oid, name) in enumerate(zip(ids, OFFICE_NAMES)):
        cells = {"objectId": oid, "name": f"{name} Office", "companyId": COMPANY_ID, "company": "Acme Home Co",
                 "canSearchAllEstimates": m.pick(["TRUE", "FALSE", "true", "0", "1", ""]),
                 "last_edit_user": m.pick(["", m.parse_id()]),
                 "createdAt": m.iso_z(2024, 1 + i % 12, 1 + i, 15, i, 11), "updatedAt": m.iso_z(2025, 8, 1 + i, 9, i, 2),
                 "last_edit_date": m.pick([m.iso_z(2025, 8, 1 + i, 9, i, 2), f"8/{1 + i}/2025 {m.time12(15, 4)}"])}
        w = 0
        if i == 7:
            cells["canSearchAllEstimates"], w = "sometimes", 1
        s.add(cells, oid, w)
        if i == 3:
            s.add({**cells, "name": f"{name} Office (NJ)"}, oid)
    s.add({"objectId": "", "name": "Test Office - delete me", "companyId": COMPANY_ID, "company": "Acme Home Co"}, None)
    return s, ids


def salespro_users(m: Mess, offices: list[str]) -> tuple[Sample, Sample]:
    """The v2 export (``users.csv``, 30 rows, BOM) and the older v1 export (``users_v1.csv``,
    20 rows) of other users: the same table, each header set mapped by aliases."""
    v2 = Sample("salespro/users.csv", SP_USERS_V2, bom=True)
    bad = {4: ("allowedOffices", "[\"" + offices[0] + "\", "), 10: ("phoneNumber", "555-0199"),
           16: ("email", "tara.lund@@acmehome.com"), 22: ("lastLoginDate", "never")}
    for i in range(28):
        first, last = m.person()
        uid = m.parse_id()
        user = f"{first[0].lower()}{last.lower()}".replace("'", "")
        active = i % 6 != 5
        cells = {"objectId": uid, "username": m.pick([user, f"{user}@acmehome.com"]), "nameFirst": first, "nameLast": last,
                 "email": m.pick(["", f"{first}.{last}@AcmeHome.com".replace("'", ""), f"{user}@acmehome.com"]),
                 "phoneNumber": m.phone(m.pick(["MA", "NJ", "PA"])), "isActive": "TRUE" if active else "FALSE",
                 "isManager": m.pick(["FALSE", "FALSE", "TRUE"]), "isAvailableToCall": m.pick(["TRUE", "FALSE", ""]),
                 "canActivateUsers": "FALSE", "canChangeSettings": m.pick(["FALSE", "TRUE"]),
                 "canSubmitCreditApps": m.pick(["TRUE", "FALSE"]), "disableChangeCompany": "TRUE",
                 "company": COMPANY_ID, "selectedOffice": m.pick(offices),
                 "allowedOffices": json.dumps(sorted(m.rng.sample(offices, 2))),
                 "identifier": f"REP{100 + i}", "licenseNumber": m.pick(["", f"HIC-{m.rng.randint(100000, 199999)}"]),
                 "createdAt": m.iso_z(2024, 1 + i % 12, 1 + i % 28, 12, i, 0), "updatedAt": m.iso_z(2025, 8, 1 + i % 12, 10, i, 0),
                 "lastLoginDate": m.iso_z(2025, 8, 1 + i % 12, 8, i, 30), "deactivatedDate": "" if active else m.iso_z(2025, 7, 30, 17, 0, 0)}
        w = 0
        if i in bad:
            cells[bad[i][0]] = bad[i][1]
            w = 1
        v2.add(cells, uid, w)
        if i == 8:
            v2.add({**cells, "isManager": "TRUE"}, uid)
    v2.add({"objectId": "", "username": "ghost", "nameFirst": "Ghost", "nameLast": "User"}, None)
    v1 = Sample("salespro/users_v1.csv", SP_USERS_V1)
    for i in range(20):
        first, last = m.person()
        uid = m.parse_id()
        off = m.pick(offices)
        cells = {"User Object ID": uid, "First Name": first, "Last Name": last,
                 "Username": f"{first[0].lower()}{last.lower()}{i}".replace("'", ""),
                 "Email": m.pick([f"{first}.{last}@acmehome.com".replace("'", ""), ""]),
                 "Last Login": m.pick([f"6/{1 + i}/2025", "", f"2025-06-{1 + i:02d}"]),
                 "Active/Inactive": m.pick(["Active", "Active", "Inactive"]),
                 "Send Credit Apps": m.pick(["Yes", "No"]), "Search Other Users Estimates": m.pick(["Yes", "No"]),
                 "Assigned Office": f"{m.pick(OFFICE_NAMES)} Office ({off})", "License Number": m.pick(["", "HIC-1234"]),
                 "Additional Amount": m.pick(["0", "150.00", "$1,250", ""]), "Unique Identifier": f"U{9000 + i}",
                 "Job Representative ID": m.pick(["", str(m.rng.randint(100, 999))])}
        w = 0
        if i == 6:
            cells["Additional Amount"], w = "ten", 1
        v1.add(cells, uid, w)
    return v2, v1


# --------------------------------------------------------------------------------------------
# Genius
# --------------------------------------------------------------------------------------------

GENIUS_USERS = ["user_id", "division_id", "first_name", "first_name_alt", "last_name", "email", "personal_email",
                "birth_date", "gender_id", "marital_status_id", "time_zone_name", "title_id", "manager_user_id",
                "hired_on", "start_date", "add_user_id", "add_datetime"]
GENIUS_APPTS = ["id", "prospect_id", "user_id", "type_id", "date", "time", "duration", "address1", "address2", "city",
                "state", "zip", "email", "notes", "add_user_id", "add_date", "assign_date", "confirm_user_id",
                "confirm_date", "confirm_with", "spouses_present", "is_complete", "complete_outcome_id",
                "complete_user_id", "complete_date"]
GENIUS_PROSPECTS = ["id", "division_id", "first_name", "last_name", "alt_first_name", "alt_last_name", "address1",
                    "address2", "city", "county", "state", "zip", "phone1", "phone2", "email", "notes", "add_user_id",
                    "add_date", "marketsharp_id", "leap_customer_id", "third_party_source_id", "updated_at"]
GENIUS_MS = ["id", "label", "type_id", "description", "start_date", "end_date", "add_user_id", "add_date", "is_active",
             "is_allow_lead_modification"]
GENIUS_MST = ["id", "label", "description", "is_active", "list_order"]
DIVISION_IDS = {"MA": 1, "CT": 2, "NJ": 3, "NY": 4, "PA": 5, "MD": 6, "GA": 7}


def genius_users(m: Mess) -> Sample:
    """30 rows: ISO and US dates mixed, a datetime ``add_datetime``, mixed-case emails (one
    bad personal email, one birth date ``TBD``), ``n/a`` for no manager; a user typed twice;
    a non-numeric ``user_id`` (the integer key: fails)."""
    s = Sample("genius/users.csv", GENIUS_USERS)
    for i in range(28):
        first, last = m.person()
        uid = 101 + i
        st = m.pick(list(DIVISION_IDS))
        cells = {"user_id": str(uid), "division_id": str(DIVISION_IDS[st]), "first_name": first,
                 "first_name_alt": m.pick(["", "", first[:3]]), "last_name": last,
                 "email": m.pick([f"{first}.{last}@AcmeHome.com", f"{first[0]}{last}@acmehome.com"]).replace("'", ""),
                 "personal_email": m.pick(["", m.email(first, last)]),
                 "birth_date": m.pick(["", m.any_date(1960 + i, 1 + i % 12, 1 + i % 27)]),
                 "gender_id": m.pick(["", "1", "2"]), "marital_status_id": m.pick(["", "1", "2", "3"]),
                 "time_zone_name": "US/Eastern", "title_id": str(m.pick([3, 5, 8, 12])),
                 "manager_user_id": "n/a" if i < 3 else str(101 + i % 3),
                 "hired_on": m.any_date(2018 + i % 6, 1 + i % 12, 1 + (i * 3) % 27),
                 "start_date": m.any_date(2018 + i % 6, 1 + i % 12, 2 + (i * 3) % 26),
                 "add_user_id": "101", "add_datetime": f"{2018 + i % 6}-{1 + i % 12:02d}-01 09:{i:02d}:44"}
        w = 0
        if i == 7:
            cells["birth_date"], w = "TBD", 1
        if i == 19:
            cells["personal_email"], w = "jdoe@yahoo,com", 1
        s.add(cells, uid, w)
        if i == 11:
            s.add({**cells, "title_id": "5"}, uid)
    s.add({"user_id": "EMP-77", "first_name": "Temp", "last_name": "Worker", "division_id": "1"}, None)
    return s


def genius_marketing_source_types(m: Mess) -> Sample:
    """20 rows: one ``list_order`` that is not a number (warning), ``is_active`` as 1/0/blank,
    a type typed twice, one without an id."""
    s = Sample("genius/marketing_source_types.csv", GENIUS_MST, crlf=True)
    labels = ["Internet", "TV", "Radio", "Print", "Direct Mail", "Referral", "Event", "Canvassing", "Home Show",
              "Retail", "Call Center", "Social Media", "Partner", "Yard Sign", "Email", "Lead Vendor", "Other", "Signage"]
    for i, label in enumerate(labels):
        cells = {"id": str(i + 1), "label": label, "description": m.pick(["", f"{label} leads"]),
                 "is_active": m.pick(["1", "1", "0", ""]), "list_order": str((i + 1) * 10)}
        w = 0
        if i == 5:
            cells["list_order"], w = "first", 1
        s.add(cells, i + 1, w)
        if i == 2:
            s.add({**cells, "description": "AM/FM radio"}, i + 1)
    s.add({"id": "", "label": "Unknown"}, None)
    return s


def genius_marketing_sources(m: Mess) -> Sample:
    """25 rows: a blank ``add_user_id`` (the seed skipped the row; here it lands), an end date
    ``ongoing`` (warning), booleans 1/0, one source typed twice, one without an id."""
    s = Sample("genius/marketing_sources.csv", GENIUS_MS)
    names = ["Google Ads", "Facebook", "Angi", "HomeAdvisor", "Yelp", "Home Depot Kiosk", "Spring Home Show",
             "Valpak", "Radio WBZ", "TV NBC10", "Door Knock", "Customer Referral", "Yard Sign", "HubSpot Form",
             "Bing Ads", "Nextdoor", "Modernize", "Porch", "Email Blast", "Trade Show", "Billboard I-95",
             "Call-in", "Website Chat"]
    for i, label in enumerate(names):
        cells = {"id": str(200 + i), "label": label, "type_id": str(1 + i % 17), "description": m.pick(["", f"{label} campaign"]),
                 "start_date": m.any_date(2023 + i % 2, 1 + i % 12, 1), "end_date": m.pick(["", m.any_date(2025, 12, 31)]),
                 "add_user_id": "" if i == 4 else str(101 + i % 5), "add_date": f"2023-{1 + i % 12:02d}-15 10:{i:02d}:00",
                 "is_active": m.pick(["1", "0", "1"]), "is_allow_lead_modification": m.pick(["0", "1", ""])}
        w = 0
        if i == 9:
            cells["end_date"], w = "ongoing", 1
        s.add(cells, 200 + i, w)
        if i == 13:
            s.add({**cells, "is_active": "0"}, 200 + i)
    s.add({"id": "", "label": "Deleted source", "type_id": "1"}, None)
    return s


def genius_prospects(m: Mess) -> Sample:
    """40 rows, UTF-8 with BOM: phones in many formats (one 7-digit), ZIPs with apostrophes
    and ZIP+4, a multi-line note, an unknown and a contradicting ZIP/state, a prospect typed
    twice, one without an id."""
    s = Sample("genius/prospects.csv", GENIUS_PROSPECTS, bom=True)
    for i in range(38):
        first, last = m.person()
        z, city, st, county = m.place()
        if i == 30:
            z, city, st, county = NO_SUCH_ZIP, "Nowhere", "MA", ""
        if i == 31:
            z, city, st, county = "02101", "Boston", "NH", "SUFFOLK"
        if i == 32:
            z, city, st, county = CHICAGO_ZIP, "Chicago", "IL", "COOK"
        pid = 50001 + i
        cells = {"id": str(pid), "division_id": str(DIVISION_IDS.get(st, 1)), "first_name": first, "last_name": last,
                 "alt_first_name": m.pick(["", "", m.pick(FIRST)]), "alt_last_name": m.pick(["", "", last]),
                 "address1": m.street(), "address2": m.pick(["", "", "Apt 2", "Unit B"]), "city": city,
                 "county": m.pick([county, county.title(), ""]), "state": m.state_cell(st), "zip": m.zip_cell(z),
                 "phone1": m.phone(st), "phone2": m.pick(["", "", m.phone(st)]), "email": m.pick(["", m.email(first, last)]),
                 "notes": m.pick(["", "", "Called twice, no answer"]), "add_user_id": str(101 + i % 5),
                 "add_date": f"2025-0{5 + i % 3}-{1 + i % 28:02d} 1{i % 10}:{(i * 7) % 60:02d}:00",
                 "marketsharp_id": m.pick(["", f"{m.rng.randint(10**7, 10**8 - 1)}"]),
                 "leap_customer_id": m.pick(["", str(m.rng.randint(10**5, 10**6))]),
                 "third_party_source_id": m.pick(["", str(m.rng.randint(1, 900))]),
                 "updated_at": f"2025-07-{1 + i % 28:02d} 08:{(i * 3) % 60:02d}:15"}
        if i == 3:
            cells["notes"] = "Wants estimate for roof + gutters.\nHusband works nights, call after 4pm.\n\"Do not text\""
        w = 0
        if i == 12:
            cells["phone1"], w = "555-0142", 1
        if i == 20:
            cells["add_date"], w = "0000-00-00 00:00:00", 1
        s.add(cells, pid, w, geo=(z, st))
        if i == 22:
            s.add({**cells, "phone2": m.phone(st)}, pid, 0, geo=(z, st))
        if i == 26:
            s.add({**cells, "id": "", "first_name": "Walk-in"}, None)
    return s


def genius_appointments(m: Mess) -> Sample:
    """40 rows: ``time`` as 24-hour and 12-hour text (one ``noonish``), ``duration`` as
    ``H:MM:SS``, US and ISO dates, flags 1/0, a multi-line note, an appointment typed twice,
    one without an id."""
    s = Sample("genius/appointments.csv", GENIUS_APPTS)
    for i in range(38):
        z, city, st, _ = m.place()
        first, last = m.person()
        aid = 70001 + i
        h, mi = 9 + i % 10, m.pick([0, 15, 30, 45])
        d = 1 + i % 28
        done = i % 2 == 0
        cells = {"id": str(aid), "prospect_id": str(50001 + i % 38), "user_id": str(101 + i % 28), "type_id": m.pick(["1", "2", "3"]),
                 "date": m.any_date(2025, 7, d), "time": m.pick([f"{h:02d}:{mi:02d}:00", m.time12(h, mi).replace(":00 ", " ")]),
                 "duration": m.pick(["1:30:00", "2:00:00", "01:00:00", ""]), "address1": m.street(),
                 "address2": m.pick(["", "", "Apt 3"]), "city": city, "state": m.state_cell(st), "zip": m.zip_cell(z),
                 "email": m.pick(["", m.email(first, last)]), "notes": m.pick(["", "Bring samples", "Spouse confirmed"]),
                 "add_user_id": str(101 + i % 5), "add_date": f"2025-06-{d:02d} 11:{i:02d}:00",
                 "assign_date": m.pick(["", f"2025-06-{d:02d} 15:00:00"]), "confirm_user_id": m.pick(["", "104"]),
                 "confirm_date": m.pick(["", m.us_date(2025, 6, d)]), "confirm_with": m.pick(["", "Homeowner", "Spouse"]),
                 "spouses_present": m.pick(["1", "0", ""]), "is_complete": "1" if done else "0",
                 "complete_outcome_id": m.pick(["3", "5", "7"]) if done else "",
                 "complete_user_id": str(101 + i % 28) if done else "",
                 "complete_date": f"2025-07-{d:02d} {h + 2:02d}:10:00" if done else ""}
        if i == 5:
            cells["notes"] = "Gate code #1942.\nDog in back yard —\nuse side door."
        w = 0
        if i == 14:
            cells["time"], w = "noonish", 1
        if i == 25:
            cells["confirm_date"], w = "31/06/2025", 1
        s.add(cells, aid, w)
        if i == 9:
            s.add({**cells, "is_complete": "1", "complete_outcome_id": "5"}, aid)
        if i == 33:
            s.add({**cells, "id": ""}, None)
    return s


def main() -> None:
    m = Mess(random.Random(SEED))
    zips = hubspot_zipcodes(m)
    offices, office_ids = salespro_offices(m)
    users_v2, users_v1 = salespro_users(m, office_ids)
    appt_v1, appt_v2 = salespro_appointments(m)
    samples = [zips, leadconduit_leads(m), arrivy_tasks(m), appt_v1, appt_v2, users_v2, users_v1, offices,
               genius_users(m), genius_appointments(m), genius_prospects(m), genius_marketing_sources(m),
               genius_marketing_source_types(m)]
    ref_state = reference_states(zips)
    reference = set(ref_state)
    counts = {}
    for s in samples:
        s.write()
        counts[s.path] = s.expected(reference, ref_state)
    (HERE / "expected_counts.json").write_text(json.dumps(counts, indent=2) + "\n")
    for path, c in counts.items():
        print(path, c)


if __name__ == "__main__":
    main()
