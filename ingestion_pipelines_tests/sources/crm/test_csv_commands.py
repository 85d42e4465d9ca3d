"""Every ``ingest csv-<system>-<object>`` command of DESIGN.md §10's CSV list on its committed
samples, as a user runs them (issue 12, "Done when"): real Dagster runs on a fresh
``DAGSTER_HOME`` instance, into SQLite and into PostgreSQL, with the documented counts
(``data/crm/expected_counts.json``); a second run changes nothing (skipped: the same content
was loaded; two files, the rule is tested on all samples in ``test_csv_profiles``); ``--dry-run`` prints the mapping, a preview and the would-be counts
and writes nothing; the ZIP/state checks warn with the documented counts.

One child process per warehouse (the two side by side) runs all the commands (click's runner on ``ingest``'s own group,
so each command is the real one: its options, ``launch``, the run, the summary it prints) with
that warehouse in its environment, the way ``WAREHOUSE_URL`` reaches a user's runs; the child
reports what each command printed and exited with.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap

import sqlalchemy as sa

from ...conftest import PROJECT_ROOT
from .test_csv_profiles import CSV_LIST, EXPECTED, OUTCOMES, PROFILES, rel

#: The child: runs ``ingest <command> FILE`` (then the first two again, then a dry run of the leads) with
#: click's runner and prints one JSON line per call: args, exit code, output.
CHILD = textwrap.dedent("""
    import json, sys
    from click.testing import CliRunner
    from ingestion_pipelines.cli import main
    from ingestion_pipelines.cli.crm_csv import PROFILES
    runner = CliRunner()
    def ingest(*args):
        r = runner.invoke(main, list(args), catch_exceptions=False)
        print("CALL " + json.dumps({"args": args, "exit": r.exit_code, "out": r.output}), flush=True)
    calls = [(p.command, str(f)) for p in PROFILES for f in p.sample_paths()]
    for cmd, f in calls:
        ingest(cmd, f)
    for cmd, f in calls[:2]:
        ingest(cmd, f)
    leads = next(p for p in PROFILES if p.command == "csv-leadconduit-leads")
    ingest("csv-leadconduit-leads", str(leads.sample_paths()[0]), "--dry-run", "--force-refresh")
    from dagster import AssetCheckKey, DagsterInstance
    from ingestion_pipelines.engine.profile_assets import profile_asset_key
    keys = [AssetCheckKey(profile_asset_key(p), n) for p in PROFILES
            for n in ("rows_accounted_for", "no_duplicate_ids", "zip_state_known")]
    latest = DagsterInstance.get().event_log_storage.get_latest_asset_check_execution_by_key(keys)
    for k, rec in latest.items():
        ev = rec.event.dagster_event.event_specific_data
        md = {m: getattr(v, "value", v) for m, v in ev.metadata.items() if m in ("zip_unknown", "zip_state_mismatch")}
        print("CHECK " + json.dumps({"check": k.to_user_string(), "passed": ev.passed,
                                     "severity": ev.severity.value, **md}), flush=True)
""")

_COUNT = re.compile(r"\b(inserted|updated|unchanged|skipped|failed|rows_read|warnings)=(\d+)")


def _start(tmp_path, warehouse_url: str) -> subprocess.Popen:
    """The child on a fresh DAGSTER_HOME / state / storage under ``tmp_path``, writing into
    ``warehouse_url`` (started, not awaited: the two warehouses' children run side by side)."""
    home = tmp_path / "dagster_home"
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text((PROJECT_ROOT / "dagster.yaml").read_text())
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update({"DAGSTER_HOME": str(home), "INGEST_STATE_DIR": str(tmp_path / "state"),
                "WAREHOUSE_URL": warehouse_url, "STORAGE_URL": str(tmp_path / "storage"), "BATCH_SIZE": "1000"})
    return subprocess.Popen([sys.executable, "-c", CHILD], env=env, cwd=PROJECT_ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _finish(child: subprocess.Popen) -> tuple[list[dict], dict[str, dict]]:
    """What the child's commands printed (CALL lines) and its checks' last evaluations (CHECK lines)."""
    out, err = child.communicate(timeout=600)
    assert child.returncode == 0, out[-3000:] + err[-5000:]
    calls = [json.loads(line[5:]) for line in out.splitlines() if line.startswith("CALL ")]
    checks = {c["check"]: c for c in (json.loads(line[6:]) for line in out.splitlines() if line.startswith("CHECK "))}
    return calls, checks


def _counts(out: str) -> dict[str, int]:
    """The asset's counts from the summary line ``<system>/csv_<object>: inserted=.. ...``."""
    line = next(ln for ln in out.splitlines() if "/csv_" in ln and "inserted=" in ln)
    got = dict((k, int(v)) for k, v in _COUNT.findall(line))
    return {"rows": got["rows_read"], **{k: got[k] for k in OUTCOMES}, "warnings": got["warnings"]}


def _check_checks(checks: dict[str, dict]) -> None:
    """The last evaluation of each profile's checks: every row accounted for, no duplicate
    ids; the ZIP/state check of leads, prospects and tasks warns with the documented counts."""
    zips = {"leadconduit/csv_leads": "leadconduit/leads.csv", "genius/csv_prospects": "genius/prospects.csv",
            "arrivy/csv_tasks": "arrivy/tasks.csv"}
    assert {k for k in checks if k.endswith(":zip_state_known")} == {f"{a}:zip_state_known" for a in zips}
    for key, c in checks.items():
        asset, _, name = key.partition(":")
        if name == "zip_state_known":
            e = EXPECTED[zips[asset]]
            assert (c["passed"], c["severity"]) == (False, "WARN")
            assert (c["zip_unknown"], c["zip_state_mismatch"]) == (e["zip_unknown"], e["zip_state_mismatch"]), key
        else:
            assert c["passed"], key
    assert len(checks) == 2 * len(PROFILES) + 3


def _check_commands(calls: list[dict]) -> None:
    n = sum(len(p.sample_paths()) for p in PROFILES)
    first, second, dry = calls[:n], calls[n:-1], calls[-1]
    assert len(first) == len(EXPECTED) == n and len(second) == 2
    assert {c["args"][0] for c in first} == {f"csv-{s}" for s in CSV_LIST}
    assert sorted(rel(c["args"][1]) for c in first) == sorted(EXPECTED)
    for c in first:
        assert c["exit"] == 0 and "SUCCESS" in c["out"], c["out"]
        e = EXPECTED[rel(c["args"][1])]
        assert _counts(c["out"]) == {k: e[k] for k in ("rows", *OUTCOMES, "warnings")}, c["args"]
        if e["failed"]:
            assert "failed rows file:" in c["out"]
    for c in second:
        assert c["exit"] == 0, c["out"]
        assert "already loaded" in c["out"] and "inserted=0" in c["out"], c["out"]
    out = dry["out"]
    assert dry["exit"] == 0 and "Dry run: nothing was written." in out
    assert "Header mapping (source header -> field):" in out and "| Zip Code | postal_code |" in out
    assert "Unmapped headers (kept in raw): TrustedForm Cert URL" in out
    assert "Would be: inserted=0 updated=0 unchanged=48 skipped=1 failed=1 (of 50 rows read; 6 cell warnings)" in out


def _tables(url: str, schema: str | None = None) -> dict[str, int]:
    eng = sa.create_engine(url)
    try:
        with eng.connect() as c:
            return {p.target.name: c.execute(sa.select(sa.func.count()).select_from(
                sa.table(p.target.name, schema=schema))).scalar() for p in PROFILES}
    finally:
        eng.dispose()


def _landed() -> dict[str, int]:
    """Rows each table holds after all samples (distinct keys; salespro appointments 24 + 20,
    users 28 + 20)."""
    out: dict[str, int] = {}
    for p in PROFILES:
        out[p.target.name] = out.get(p.target.name, 0) + sum(EXPECTED[rel(f)]["inserted"] for f in p.sample_paths())
    return out


def test_every_command_on_sqlite_and_postgresql(tmp_path, pg_url, pg_schema):
    pg = pg_url.replace("postgresql://", "postgresql+psycopg2://", 1)
    eng = sa.create_engine(pg)
    with eng.begin() as c:
        c.exec_driver_sql(f'CREATE SCHEMA "{pg_schema}"')
    eng.dispose()
    sqlite_url = f"sqlite:///{tmp_path / 'wh.db'}"
    children = {"sqlite": _start(tmp_path / "sqlite", sqlite_url),
                # the runs' tables land in this test's schema
                "postgresql": _start(tmp_path / "postgresql", f"{pg_url}?options=-csearch_path%3D{pg_schema}")}
    results = {name: _finish(child) for name, child in children.items()}
    for name, (calls, checks) in results.items():
        _check_commands(calls)
        _check_checks(checks)
    assert _tables(sqlite_url) == _landed()
    assert _tables(pg, pg_schema) == _landed()
