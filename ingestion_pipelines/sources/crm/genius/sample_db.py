"""A generator of Genius source data (the tables of :mod:`.source_schema`), for the demo's
SQLite database (``data/crm/genius/db/``), the tests' and the benchmark's MariaDB databases.

Deterministic for a seed. It writes what a real Genius database holds and the sync must
survive: NULL foreign keys, orphans (references to ids that do not exist), MySQL zero dates
(``0000-00-00 00:00:00``: on MySQL the session's ``sql_mode`` is cleared to allow them),
accented names in ``latin1`` columns, 4-byte UTF-8 (emoji) in ``utf8mb4`` columns, and many
rows sharing one ``updated_at`` second (:data:`SAME_SECOND`).
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any, Iterator

import sqlalchemy as sa

from .source_schema import source_metadata

#: The one second a third of the prospects and appointments share as ``updated_at``.
SAME_SECOND = dt.datetime(2025, 6, 1, 12, 0, 0)
#: The zero date as MySQL returns it.
ZERO = "0000-00-00 00:00:00"
FIRST = ["José", "Müller", "Françoise", "Zoë", "Ana", "Li", "Søren", "Chloé", "Ömer", "Ada"]
LAST = ["García", "Núñez", "Brontë", "O'Neil", "Smith", "Dvorak", "Weiß", "Lefèvre", "Kim", "Ólafsson"]
EMOJI = ["🏠 home", "😀", "𝄞 clef", "🚀", "家"]
#: Ids no parent table has (orphan references).
ORPHAN_ID = 9_999_999


def create(engine: sa.Engine | sa.Connection, prefix: str = "") -> sa.MetaData:
    """Create the Genius source tables (``prefix`` + name) on ``engine``; returns their metadata."""
    md = source_metadata(prefix)
    md.create_all(engine)
    return md


def _ts(rng: random.Random, base: dt.datetime) -> dt.datetime:
    return base + dt.timedelta(seconds=rng.randrange(0, 86_400 * 30))


def rows(counts: dict[str, int] | None = None, seed: int = 0, start_id: int = 1) -> Iterator[tuple[str, list[dict]]]:
    """``(source table, rows)`` chunks in parent-first order. ``counts``: rows per big table
    (``prospect``, ``appointment``, ...; defaults small); ids start at ``start_id``."""
    n = {"division_group": 3, "division": 6, "user_title": 4, "user_data": 20, "service": 5, "appointment_type": 3,
         "appointment_outcome_type": 2, "appointment_outcome": 4, "marketing_source_type": 3, "marketing_source": 8,
         "prospect": 60, "lead": 20, "prospect_source": 80, "appointment": 90, "appointment_to_service": 120,
         "quote": 40, **(counts or {})}
    rng = random.Random(seed)
    base = dt.datetime(2025, 5, 1)
    ids = {t: range(start_id, start_id + n[t]) for t in n}

    def ref(t: str, null: float = 0.05, orphan: float = 0.01) -> int | None:
        x = rng.random()
        if x < null:
            return None
        if x < null + orphan:
            return ORPHAN_ID
        return rng.choice(ids[t])

    def upd(i: int) -> dt.datetime:
        return SAME_SECOND if i % 3 == 0 else _ts(rng, base)

    yield "division_group", [dict(id=i, group_label=f"Group {i}", region=rng.choice(["East", "West"]),
                                  default_time_zone_name="America/New_York", is_active=True, hub_account_id=None,
                                  created_at=base, updated_at=upd(i)) for i in ids["division_group"]]
    yield "user_title", [dict(id=i, title=f"Title {i}", abbreviation=f"T{i}", roles="sales", type_id=1, section_id=1,
                              sort=i, pay_component_group_id=None, is_active=True, is_unique_per_division=False)
                         for i in ids["user_title"]]
    yield "service", [dict(id=i, label=rng.choice(["Roofing", "Siding", "Windows", "Gutters", "Solar"]) + f" {i}",
                           is_active=True, is_lead_required=i % 2 == 0, order_number=i) for i in ids["service"]]
    yield "appointment_type", [dict(id=i, label=f"Type {i}", is_active=True) for i in ids["appointment_type"]]
    yield "appointment_outcome_type", [dict(id=i, label=f"Outcome type {i}", sort_idx=i, is_active=True)
                                       for i in ids["appointment_outcome_type"]]
    yield "appointment_outcome", [dict(id=i, type_id=ref("appointment_outcome_type", 0.1, 0), label=f"Outcome {i}",
                                       is_active=True) for i in ids["appointment_outcome"]]
    yield "marketing_source_type", [dict(id=i, label=f"Source type {i}", description=None, is_active=True, list_order=i)
                                    for i in ids["marketing_source_type"]]
    yield "division", [dict(id=i, group_id=ref("division_group", 0.1, 0.1), region_id=1, label=f"Division {i}",
                            abbreviation=f"D{i}", is_utility=False, is_corp=i == start_id, is_omniscient=False,
                            is_inactive=False, created_at=base, updated_at=upd(i)) for i in ids["division"]]
    yield "marketing_source", [dict(id=i, type_id=ref("marketing_source_type"), label=f"Campaign {i}", description="",
                                    start_date=dt.date(2025, 1, 1), end_date=None, add_user_id=None, add_date=base,
                                    is_active=True, is_allow_lead_modification=True, updated_at=upd(i))
                               for i in ids["marketing_source"]]
    yield "user_data", [dict(user_id=i, division_id=ref("division"), title_id=ref("user_title"), manager_user_id=None,
                             first_name=rng.choice(FIRST) + (" " + rng.choice(EMOJI) if i % 7 == 0 else ""),
                             first_name_alt=None, last_name=rng.choice(LAST), email=f"user{i}@example.com",
                             personal_email=None, primary_phone="+15555550100", cell_phone=None,
                             birth_date=dt.date(1980, 1, 1) if i % 5 else None, hired_on=dt.date(2020, 1, 1),
                             start_date=dt.date(2020, 2, 1), add_user_id=None, add_datetime=base, is_inactive=False,
                             inactive_on=None, inactive_reason_id=None, inactive_reason_other=None,
                             primary_user_id=None, updated_at=upd(i), ssn="000-00-0000") for i in ids["user_data"]]
    yield from _chunks("prospect", (dict(
        id=i, division_id=ref("division"), first_name=rng.choice(FIRST), last_name=rng.choice(LAST),
        alt_first_name=None, alt_last_name=None, address1=f"{i} Main St" + (" " + rng.choice(EMOJI) if i % 11 == 0 else ""),
        address2=None, city="Springfield", county=None, state="VA", zip=f"{22000 + i % 900:05d}",
        phone1="5555550100", phone2=None, email=f"p{i}@example.com", notes="note" if i % 4 else None,
        add_user_id=ref("user_data", 0.5), add_date=ZERO if i % 13 == 0 else _ts(rng, base),
        marketsharp_id=None, leap_customer_id=None, third_party_source_id=None, updated_at=upd(i))
        for i in ids["prospect"]))
    yield from _chunks("lead", (dict(
        lead_id=i, division_id=ref("division"), first_name=rng.choice(FIRST), last_name=rng.choice(LAST),
        address1=None, address2=None, city=None, state=None, zip=None, email=None, phone1="5555550100", phone2=None,
        phone3=None, phone4=None, source="web", status="new", marketing_source_id=ref("marketing_source"),
        prospect_id=ref("prospect", 0.3), notes=None, express_consent_set_by=None, express_consent_upload_date=None,
        added_by=None, added_on=_ts(rng, base), updated_at=upd(i)) for i in ids["lead"]))
    yield from _chunks("prospect_source", (dict(
        id=i, prospect_id=ref("prospect"), marketing_source_id=ref("marketing_source"), source_date=_ts(rng, base),
        notes=None, add_user_id=None, add_date=_ts(rng, base), updated_at=upd(i)) for i in ids["prospect_source"]))
    yield from _chunks("appointment", (dict(
        id=i, prospect_id=ref("prospect"), prospect_source_id=ref("prospect_source", 0.2), user_id=ref("user_data"),
        type_id=ref("appointment_type", 0.02), date=dt.date(2025, 6, 1) + dt.timedelta(days=i % 60),
        time=dt.time(8 + i % 10, 30), duration=dt.time(1, 30), address1=f"{i} Oak Ave", address2=None,
        city="Springfield", state="VA", zip="22150", email=None, notes=None if i % 3 else rng.choice(EMOJI),
        add_user_id=None, add_date=_ts(rng, base), assign_date=ZERO if i % 17 == 0 else None, confirm_user_id=None,
        confirm_date=None, confirm_with=None, spouses_present=i % 2 == 0, is_complete=i % 4 == 0,
        complete_outcome_id=ref("appointment_outcome", 0.6), complete_user_id=None, complete_date=None,
        marketsharp_id=None, marketsharp_appt_type=None, leap_estimate_id=None, third_party_source_id=None,
        updated_at=upd(i)) for i in ids["appointment"]))
    pairs = sorted({(rng.choice(ids["appointment"]), rng.choice(ids["service"]))
                    for _ in range(n["appointment_to_service"])})
    yield "appointment_to_service", [dict(appointment_id=a, service_id=s) for a, s in pairs]
    yield from _chunks("quote", (dict(
        id=i, prospect_id=ref("prospect"), appointment_id=ref("appointment", 0.2), job_id=None, client_cid=None,
        service_id=ref("service"), label=f"Quote {i}", description=None,
        amount=Decimal(rng.randrange(10_000, 5_000_000)) / 100, expire_date=dt.date(2025, 12, 31), status_id=1,
        contract_file_id=None, estimate_file_id=None, add_user_id=None, add_date=_ts(rng, base), updated_at=upd(i))
        for i in ids["quote"]))


def _chunks(table: str, it, size: int = 5000) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    buf: list[dict] = []
    for r in it:
        buf.append(r)
        if len(buf) >= size:
            yield table, buf
            buf = []
    if buf:
        yield table, buf


def fill(engine: sa.Engine, counts: dict[str, int] | None = None, seed: int = 0, prefix: str = "") -> dict[str, int]:
    """Create the tables and insert :func:`rows` (one transaction per chunk); returns rows per
    table. On MySQL the session allows zero dates (``sql_mode = ''``)."""
    md = create(engine, prefix)
    written: dict[str, int] = {}
    for table, chunk in rows(counts, seed):
        with engine.begin() as conn:
            if conn.dialect.name == "mysql":
                conn.exec_driver_sql("SET SESSION sql_mode = ''")
            conn.execute(md.tables[prefix + table].insert(), chunk)
        written[table] = written.get(table, 0) + len(chunk)
    return written
