"""The code location's contract names against a committed snapshot (``contract_snapshot.json``).

Asset keys with their groups, jobs, sensors (with the jobs they target), schedules and asset
checks are names people and scripts use: the UI, the README, ``dagster job execute -j``,
cursors and run keys stored on the instance. This test makes a rename a visible decision: a
change to any of them fails here with what was added and removed.

To accept a change on purpose, regenerate the snapshot and commit it with the change::

    UPDATE_CONTRACT_SNAPSHOT=1 .venv/bin/pytest -q ingestion_pipelines_tests/test_contract.py

and name every old -> new rename in the commit message (and in the README where it is used).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

SNAPSHOT = Path(__file__).with_name("contract_snapshot.json")


def contract_names() -> dict[str, object]:
    """The contract of ``ingestion_pipelines.definitions.defs``: ``assets`` (key -> group),
    ``jobs``, ``sensors`` (name -> targeted job names), ``schedules`` (name -> job name) and
    ``asset_checks`` (``asset_key:check_name``), every list sorted."""
    from ingestion_pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    assets = {k.to_user_string(): graph.get(k).group_name for k in graph.materializable_asset_keys}
    checks = sorted(f"{c.asset_key.to_user_string()}:{c.name}" for c in graph.asset_check_keys)
    repo = defs.get_repository_def()
    jobs = sorted(j for j in repo.job_names if not j.startswith("__"))  # __ASSET_JOB is Dagster's own
    sensors = {s.name: sorted(t.job_name for t in s.targets) for s in repo.sensor_defs}
    schedules = {s.name: s.job_name for s in repo.schedule_defs}
    return {"assets": dict(sorted(assets.items())), "jobs": jobs, "sensors": dict(sorted(sensors.items())),
            "schedules": dict(sorted(schedules.items())), "asset_checks": checks}


def _differences(old: dict, new: dict) -> list[str]:
    lines = []
    for part in sorted(set(old) | set(new)):
        a, b = old.get(part) or {}, new.get(part) or {}
        if a == b:
            continue
        if isinstance(a, dict) or isinstance(b, dict):
            a, b = dict(a), dict(b)
            for name in sorted(set(a) | set(b)):
                if name not in b:
                    lines.append(f"  {part}: removed {name}")
                elif name not in a:
                    lines.append(f"  {part}: added {name} ({b[name]})")
                elif a[name] != b[name]:
                    lines.append(f"  {part}: {name} changed {a[name]} -> {b[name]}")
        else:
            lines += [f"  {part}: removed {n}" for n in sorted(set(a) - set(b))]
            lines += [f"  {part}: added {n}" for n in sorted(set(b) - set(a))]
    return lines


def test_contract_names_match_the_snapshot():
    current = contract_names()
    if os.environ.get("UPDATE_CONTRACT_SNAPSHOT") == "1":
        SNAPSHOT.write_text(json.dumps(current, indent=2) + "\n")
    snapshot = json.loads(SNAPSHOT.read_text())
    diff = _differences(snapshot, current)
    assert not diff, ("the code location's contract names changed (a rename breaks the UI, the README, "
                      "scripts and stored cursors/run keys):\n" + "\n".join(diff) +
                      "\nIf this is intended: UPDATE_CONTRACT_SNAPSHOT=1 .venv/bin/pytest -q "
                      "ingestion_pipelines_tests/test_contract.py, commit contract_snapshot.json, "
                      "and name each old -> new rename in the commit message.")
