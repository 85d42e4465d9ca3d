"""Benchmark of the CRM CSV path (issue 12, "Speed") on PostgreSQL: a LeadConduit-shaped export
of ``--rows`` rows (default 1 M) imported through the ``leadconduit-leads`` profile, against
references on the same file, machine and run (DESIGN.md §8):

* ``profile``: ``engine.profile_load.load_csv`` with the profile (sha256 + ledger, readers,
  header mapping, every phone to E.164, every email through email-validator, timestamps in
  three formats, ZIPs, states, money, booleans; upsert with outcomes per row; failed-rows and
  warnings files) — what the asset and ``ingest csv-leadconduit-leads`` run;
* ``cli``: ``ingest csv-leadconduit-leads FILE`` as a subprocess, from its start (a Dagster
  run: imports, instance, run launch, the asset, its checks);
* ``copy``: raw ``COPY`` of the same CSV into an unindexed text table (the floor);
* ``to_sql``: ``pandas.read_csv`` (chunks of 100,000 rows, every column text) +
  ``DataFrame.to_sql(chunksize=10_000)`` (its default executemany: SQLAlchemy 2's batched
  "insertmanyvalues") into a new table;
* ``seed``: the original system's way (``csv_leadconduit_leads``, SEED_SYSTEM §1): DictReader,
  headers lower-cased with ``' '``/``-``/``.`` -> ``_`` and its aliases, phones as digits kept
  from 10 digits, emails kept with ``@`` and ``.`` and lower-cased, timestamps made aware in
  UTC, ``$``/``,`` stripped from amounts, then batches of 500 rows, each one multi-row
  ``INSERT .. ON CONFLICT DO NOTHING`` (``bulk_create(ignore_conflicts=True)``) in its own
  transaction.

Each method runs in a fresh child process on an empty schema, so its peak RSS (``VmHWM``) is
its own; ``--sizes`` repeats ``profile`` on smaller files to show memory is flat. Prints one
line per run and a Markdown table for BENCHMARKS.md. Never run by the tests.

    .venv/bin/python benchmarks/crm_csv_bench.py [--rows 1000000] [--sizes 100000]
        [--methods profile,copy,to_sql,seed,cli] [--repeat 1] [--batch-size N]
        [--pg postgresql://postgres@127.0.0.1:5432/test] [--keep DIR] [--profile-out FILE]

``--profile-out FILE`` runs the ``profile`` method under cProfile and writes the stats there
(``python -m pstats FILE``), to see where the time goes.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HEADER = ["Lead ID", "First Name", "Last Name", "Email", "Phone", "Alternate Phone", "Street Address", "City",
          "State", "Zip Code", "Submit Time", "utm_source", "utm_medium", "utm_campaign", "kw", "IP", "Referrer",
          "Page URL", "Is Duplicate", "Cost", "TrustedForm Cert URL"]
FIRST = ["James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
         "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Carlos", "Karen",
         "Daniel", "Lisa", "Matthew", "Nancy", "José", "Zoë"]
LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
        "Hernandez", "Lopez", "Wilson", "Anderson", "Taylor", "Moore", "Jackson", "Lee", "O'Brien", "Nguyen"]
PLACES = [("02101", "Boston", "MA", "617"), ("06101", "Hartford", "CT", "860"), ("07030", "Hoboken", "NJ", "201"),
          ("10001", "New York", "NY", "212"), ("19102", "Philadelphia", "PA", "215"),
          ("21201", "Baltimore", "MD", "410"), ("30301", "Atlanta", "GA", "404"), ("60601", "Chicago", "IL", "312")]
DOMAINS = ["gmail.com", "Yahoo.com", "COMCAST.NET", "aol.com", "outlook.com"]


def _phone(i: int, area: str) -> str:
    """A possible US number, distinct per row, in one of nine formats; every 1,000th has
    7 digits (a warning, not a lost row)."""
    b, c = 200 + (i * 7) % 790, (i * 13) % 10000
    if i % 1000 == 999:
        return f"{b}-{c:04d}"
    k = i % 9
    return (f"({area}) {b}-{c:04d}", f"{area}-{b}-{c:04d}", f"{area}.{b}.{c:04d}", f"{area}{b}{c:04d}",
            f"+1 {area} {b} {c:04d}", f"1-{area}-{b}-{c:04d}", f"+1{area}{b}{c:04d}", f"{area} {b} {c:04d}",
            f"({area}){b}-{c:04d} x{i % 90 + 10}")[k]


def _submit(i: int) -> str:
    """A submit time, distinct per row: ISO ``Z``, ISO ``-04:00`` or US 12-hour."""
    s = 1_750_000_000 + i * 7
    d = datetime.fromtimestamp(s, timezone.utc)
    k = i % 3
    if k == 0:
        return d.strftime("%Y-%m-%dT%H:%M:%SZ")
    if k == 1:
        return d.strftime("%Y-%m-%dT%H:%M:%S-04:00")
    return d.strftime("%m/%d/%Y %I:%M:%S %p")


def make_csv(path: Path, n: int, seed: int = 12) -> Path:
    """``n`` LeadConduit-shaped rows (see the module docstring): distinct lead ids, emails,
    phones and timestamps; every 10,000th row has no lead id (a failed row)."""
    rng = random.Random(seed)
    with open(path, "w", newline="", encoding="utf-8", buffering=1 << 20) as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for i in range(n):
            first, last = FIRST[i % len(FIRST)], LAST[(i * 7) % len(LAST)]
            z, city, st, area = PLACES[i % len(PLACES)]
            local = f"{first}.{last}{i}".replace("'", "")
            email = f"{local}@{DOMAINS[i % len(DOMAINS)]}"
            w.writerow([
                "" if i % 10_000 == 9_999 else f"{0x5e8a0000 + i:08x}{i:016x}", first, last,
                email.upper() if i % 4 == 0 else email, _phone(i, area), _phone(i + 3, area) if i % 5 == 0 else "",
                f"{1 + i % 9999} Main St", city, st.lower() if i % 6 == 0 else st,
                f"'{z}" if i % 7 == 0 else (f"{z}-{i % 10000:04d}" if i % 7 == 1 else z), _submit(i),
                ("google", "facebook", "bing", "")[i % 4], ("cpc", "social", "")[i % 3], "spring-roofing",
                ("roof replacement", "vinyl windows", "")[i % 3], f"10.{i % 250}.{(i // 250) % 250}.{rng.randint(1, 254)}",
                "https://www.google.com/", "https://get.example-home.com/roofing", ("false", "TRUE", "0", "Y")[i % 4],
                ("$45.00", "38.5", "1,200", "")[i % 4], f"https://cert.trustedform.com/{i:040x}",
            ])
    return path


# --------------------------------------------------------------------------------------------
# the methods (each in its own child process)
# --------------------------------------------------------------------------------------------

def _pg(url: str):
    import sqlalchemy as sa

    return sa.create_engine(url.replace("postgresql://", "postgresql+psycopg2://", 1))


def method_profile(a) -> dict:
    from ingestion_pipelines.engine.profile_load import load_csv
    from ingestion_pipelines.resources.storage import LocalBlobStore
    from ingestion_pipelines.resources.warehouse import WarehouseResource
    from ingestion_pipelines.sources.crm.leadconduit.csv_streams import LEADS

    wh = WarehouseResource(url=a.pg, schema_name=a.schema, batch_size=a.batch_size or 1000)
    store = LocalBlobStore(root=tempfile.mkdtemp(prefix="crm-bench-store-"))
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        if a.profile_out:
            import cProfile

            prof = cProfile.Profile()
            r = prof.runcall(load_csv, wh, store, LEADS, a.csv, batch_size=a.batch_size or None)
            prof.dump_stats(a.profile_out)
        else:
            r = load_csv(wh, store, LEADS, a.csv, batch_size=a.batch_size or None)
        secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    finally:
        shutil.rmtree(store.root, ignore_errors=True)
    return {"rows": r.rows_read, "seconds": secs, "cpu_s": round(cpu, 1), "status": r.status, **r.counts,
            "warnings": r.report.warnings_total}


def method_cli(a) -> dict:
    """``ingest csv-leadconduit-leads FILE`` from its start, as a user runs it."""
    env = {**os.environ, "WAREHOUSE_URL": a.pg, "INGEST_STATE_DIR": tempfile.mkdtemp(prefix="crm-bench-state-"),
           "PGOPTIONS": f"-c search_path={a.schema}"}
    if a.batch_size:
        env["BATCH_SIZE"] = str(a.batch_size)
    eng = _pg(a.pg)
    with eng.begin() as c:
        c.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{a.schema}"')
    t0 = time.perf_counter()
    p = subprocess.run([str(Path(sys.executable).parent / "ingest"), "csv-leadconduit-leads", a.csv],
                       capture_output=True, text=True, env=env, cwd=ROOT)
    secs = time.perf_counter() - t0
    if p.returncode:
        raise SystemExit(p.stdout[-2000:] + p.stderr[-3000:])
    with eng.connect() as c:
        n = c.exec_driver_sql(f'SELECT count(*) FROM "{a.schema}".leadconduit_leads').scalar()
    shutil.rmtree(env["INGEST_STATE_DIR"], ignore_errors=True)
    return {"rows": a.rows, "landed": n, "seconds": secs, "peak_rss_mb_command": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
            "stdout_tail": p.stdout[-1500:]}


def method_copy(a) -> dict:
    eng = _pg(a.pg)
    with eng.begin() as c:
        c.exec_driver_sql(f'CREATE SCHEMA "{a.schema}"')
        c.exec_driver_sql(f'CREATE TABLE "{a.schema}".raw ({", ".join(f"c{i} text" for i in range(len(HEADER)))})')
    raw = eng.raw_connection()
    t0 = time.perf_counter()
    with raw.cursor() as cur, open(a.csv, encoding="utf-8") as f:
        cur.copy_expert(f'COPY "{a.schema}".raw FROM STDIN WITH (FORMAT csv, HEADER true)', f)
    raw.commit()
    secs = time.perf_counter() - t0
    raw.close()
    with eng.connect() as c:
        n = c.exec_driver_sql(f'SELECT count(*) FROM "{a.schema}".raw').scalar()
    return {"rows": n, "seconds": secs}


def method_to_sql(a) -> dict:
    import pandas as pd

    eng = _pg(a.pg)
    with eng.begin() as c:
        c.exec_driver_sql(f'CREATE SCHEMA "{a.schema}"')
    t0 = time.perf_counter()
    n = 0
    for chunk in pd.read_csv(a.csv, dtype=str, keep_default_na=False, chunksize=100_000):
        chunk.to_sql("leads", eng, schema=a.schema, if_exists="append", index=False, chunksize=10_000)
        n += len(chunk)
    return {"rows": n, "seconds": time.perf_counter() - t0}


SEED_ALIASES = {"firstname": "first_name", "fname": "first_name", "phone": "phone_1", "phone1": "phone_1",
                "primary_phone": "phone_1", "phone_number": "phone_1", "secondary_phone": "phone_2",
                "alternate_phone": "phone_2", "address": "address_1", "street_address": "address_1",
                "zip": "postal_code", "zip_code": "postal_code", "postalcode": "postal_code",
                "created_at": "submission_timestamp", "timestamp": "submission_timestamp",
                "submit_time": "submission_timestamp", "date_submitted": "submission_timestamp", "kw": "keyword",
                "search_term": "keyword", "ip": "ip_address", "referrer": "referring_url", "lp": "landing_page",
                "page_url": "landing_page"}
SEED_COLUMNS = ["lead_id", "first_name", "last_name", "email", "phone_1", "phone_2", "address_1", "city", "state",
                "postal_code", "submission_timestamp", "utm_source", "utm_medium", "utm_campaign", "keyword",
                "ip_address", "referring_url", "landing_page", "is_duplicate", "cost", "full_data", "import_source"]
SEED_FORMATS = ("%Y-%m-%d %H:%M:%S", "%m/%d/%Y %H:%M:%S", "%Y-%m-%d", "%m/%d/%Y", "%m-%d-%Y", "%Y/%m/%d",
                "%m/%d/%Y %I:%M:%S %p")


def _seed_row(row: dict) -> tuple | None:
    """The seed's cleaning of one DictReader row (SEED_SYSTEM §1, LeadConduit leads)."""
    d = {}
    for k, val in row.items():
        key = k.strip().lower().replace(" ", "_").replace("-", "_").replace(".", "_")
        d[SEED_ALIASES.get(key, key)] = (val or "").strip()
    lead_id = next((d[k] for k in ("lead_id", "id", "leadid", "_id") if d.get(k)), None)
    if not lead_id:
        return None
    for p in ("phone_1", "phone_2"):
        digits = "".join(ch for ch in d.get(p, "") if ch.isdigit())
        d[p] = digits if len(digits) >= 10 else None
    e = d.get("email", "")
    d["email"] = e.lower() if "@" in e and "." in e else None
    ts = d.get("submission_timestamp", "")
    when = None
    if ts:
        try:
            when = datetime.fromisoformat(ts.replace("Z", "+00:00"))
        except ValueError:
            for fmt in SEED_FORMATS:
                try:
                    when = datetime.strptime(ts, fmt)
                    break
                except ValueError:
                    pass
        if when is not None and when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
    cost = d.get("cost", "").replace("$", "").replace(",", "")
    return (lead_id, d.get("first_name"), d.get("last_name"), d["email"], d["phone_1"], d["phone_2"],
            d.get("address_1"), d.get("city"), d.get("state"), d.get("postal_code"), when, d.get("utm_source"),
            d.get("utm_medium"), d.get("utm_campaign"), d.get("keyword"), d.get("ip_address"), d.get("referring_url"),
            d.get("landing_page"), d.get("is_duplicate", "").lower() in ("true", "1", "yes", "y", "duplicate"),
            cost or None, json.dumps(row), "csv")


def method_seed(a) -> dict:
    from psycopg2.extras import execute_values

    eng = _pg(a.pg)
    with eng.begin() as c:
        c.exec_driver_sql(f'CREATE SCHEMA "{a.schema}"')
        c.exec_driver_sql(
            f'CREATE TABLE "{a.schema}".ingestion_leadconduit_lead (lead_id varchar(50) PRIMARY KEY, first_name text, '
            "last_name text, email text, phone_1 text, phone_2 text, address_1 text, city text, state text, "
            "postal_code text, submission_timestamp timestamptz, utm_source text, utm_medium text, utm_campaign text, "
            "keyword text, ip_address text, referring_url text, landing_page text, is_duplicate boolean, "
            "cost numeric(12,2), full_data jsonb, import_source text)")
    raw = eng.raw_connection()
    sql = (f'INSERT INTO "{a.schema}".ingestion_leadconduit_lead ({", ".join(SEED_COLUMNS)}) VALUES %s '
           "ON CONFLICT (lead_id) DO NOTHING")
    t0 = time.perf_counter()
    n = landed = 0
    with raw.cursor() as cur, open(a.csv, encoding="utf-8", newline="") as f:
        batch: list[tuple] = []
        for row in csv.DictReader(f):
            n += 1
            got = _seed_row(row)
            if got is not None:
                batch.append(got)
            if len(batch) == 500:
                execute_values(cur, sql, batch, page_size=500)
                raw.commit()
                landed += len(batch)
                batch = []
        if batch:
            execute_values(cur, sql, batch, page_size=500)
            raw.commit()
            landed += len(batch)
    secs = time.perf_counter() - t0
    raw.close()
    return {"rows": n, "landed": landed, "seconds": secs}


METHODS = {"profile": method_profile, "cli": method_cli, "copy": method_copy, "to_sql": method_to_sql,
           "seed": method_seed}
LABELS = {"profile": "profile (`load_csv`, leadconduit-leads)", "cli": "`ingest csv-leadconduit-leads` (from its start)",
          "copy": "raw COPY into a text table (reference)", "to_sql": "pandas read_csv + to_sql (executemany, 10,000)",
          "seed": "seed's way: batches of 500, one multi-row INSERT each"}


class _WithoutPandas:
    """An import hook that makes ``import pandas`` fail, as in a run process (pyarrow imports
    pandas whenever it is installed: +34 MB resident the code location does not use)."""

    def find_spec(self, name, path=None, target=None):
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


def child(a) -> None:
    if a.method == "profile":
        sys.meta_path.insert(0, _WithoutPandas())
    out = METHODS[a.method](a)
    hwm = next((ln for ln in Path("/proc/self/status").read_text().splitlines() if ln.startswith("VmHWM:")), None)
    out["peak_rss_mb"] = int(hwm.split()[1]) / 1024 if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(out, default=str))


def run_child(method: str, **kw) -> dict:
    cmd = [sys.executable, __file__, "--child", method]
    for k, val in kw.items():
        if val is not None:
            cmd += [f"--{k.replace('_', '-')}", str(val)]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    line = next((ln for ln in p.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if p.returncode or not line:
        sys.stderr.write(p.stdout[-3000:] + p.stderr[-5000:])
        raise SystemExit(f"{method} failed")
    return json.loads(line[7:])


def _quiesce(eng) -> None:
    """A CHECKPOINT and the OS's dirty pages flushed between methods, so the next one does not
    pay the last one's write-back (as benchmarks/tenants_bench.py)."""
    try:
        with eng.begin() as c:
            c.exec_driver_sql("CHECKPOINT")
    except Exception:  # noqa: BLE001
        pass
    os.sync()
    time.sleep(1)


def _median(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2


def _table(runs: dict[str, list[dict]]) -> None:
    copy = [r["rows"] / r["seconds"] for r in runs.get("copy", [])]
    copy_rate = _median(copy) if copy else None
    print("\n| method | rows | seconds | rows/s | vs raw COPY | peak RSS (MB) |\n|---|---:|---:|---:|---:|---:|")
    for label, rs in runs.items():
        rates = [r["rows"] / r["seconds"] for r in rs]
        secs = _median([r["seconds"] for r in rs])
        rate = _median(rates)
        ratio = f"{rate / copy_rate:.0%}" if copy_rate else ""
        rng = f" ({min(rates):,.0f}–{max(rates):,.0f})" if len(rs) > 1 else ""
        name, _, size = label.partition("@")
        shown = LABELS.get(name, name) + (f", {int(size):,}-row file" if size else "")
        print(f"| {shown} | {rs[0]['rows']:,} | {secs:.1f} | {rate:,.0f}{rng} | {ratio} | {max(r['peak_rss_mb'] for r in rs):.0f} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pg", default=os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--sizes", default="100000", help="extra row counts for the profile method (flat memory)")
    ap.add_argument("--methods", default="profile,copy,to_sql,seed")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=0, help="rows per batch for profile/cli (default BATCH_SIZE)")
    ap.add_argument("--keep", default=None, help="keep (and reuse) the generated CSVs in this folder")
    ap.add_argument("--profile-out", default=None)
    ap.add_argument("--child", dest="method"), ap.add_argument("--schema"), ap.add_argument("--csv")
    a = ap.parse_args()
    if a.method:
        return child(a)
    work = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="crm-bench-"))
    work.mkdir(parents=True, exist_ok=True)

    def data(n: int) -> Path:
        p = work / f"leads_{n}.csv"
        if not p.exists():
            t0 = time.perf_counter()
            make_csv(p, n)
            print(f"generated {n:,} rows ({p.stat().st_size / 1e6:,.0f} MB) in {time.perf_counter() - t0:.1f}s", flush=True)
        return p

    big = data(a.rows)
    eng = _pg(a.pg)
    runs: dict[str, list[dict]] = {}
    plan = [(m, a.rows, big) for m in a.methods.split(",") if m]
    plan += [("profile", n, data(n)) for n in (int(x) for x in a.sizes.split(",") if x) if n != a.rows]
    try:
        for _ in range(a.repeat):
            for method, n, path in plan:
                schema = f"bench_crm_{method}_{uuid.uuid4().hex[:8]}"
                try:
                    r = run_child(method, pg=a.pg, schema=schema, csv=path, rows=n, batch_size=a.batch_size or None,
                                  profile_out=a.profile_out if method == "profile" else None)
                finally:
                    with eng.begin() as c:
                        c.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
                label = method if n == a.rows else f"{method}@{n}"
                runs.setdefault(label, []).append(r)
                print(f"{label}: {r['rows']:,} rows in {r['seconds']:.1f}s = {r['rows'] / r['seconds']:,.0f} rows/s, "
                      f"peak RSS {r['peak_rss_mb']:.0f} MB  {json.dumps({k: v for k, v in r.items() if k not in ('rows', 'seconds', 'peak_rss_mb')})}",
                      flush=True)
                _quiesce(eng)
    finally:
        eng.dispose()
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
    _table(runs)


if __name__ == "__main__":
    main()
