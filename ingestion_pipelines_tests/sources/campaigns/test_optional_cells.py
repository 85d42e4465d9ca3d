"""The optional-cell rule on campaign sheets (DESIGN.md §9, issue 11): a real-shaped sheet whose
Goal cells read ``50k`` (and some cells that no reader could parse: a goal of ``TBD``, a start
date ``TBD``, a price ``call``) loses no campaign and no client; the unreadable cells are
reported as warnings in the materialization and in a warnings file beside the failed-rows file."""

from __future__ import annotations

import csv
import io

import sqlalchemy as sa
from dagster import DagsterInstance, Definitions

from ingestion_pipelines.engine.result_files import read_back
from ingestion_pipelines.launch import materializations
from ingestion_pipelines.sources.campaigns import schema
from ingestion_pipelines.sources.campaigns.definitions import defs as campaigns_defs

from .conftest import SAMPLE_CSV

C = schema.spotify_campaigns


def _real_shaped_sheet(path) -> tuple[dict[str, int], set[int]]:
    """The sample with every 4th named row's Goal typed as people type it (``50k``, ``1.2M``,
    ``15K``), and every 25th named row's Goal/Start Date/Sale price unreadable; written to
    ``path``. Returns ({campaign cell: goal it should read as}, {indexes of the rows made
    unreadable})."""
    with open(SAMPLE_CSV, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        header, rows = list(reader.fieldnames), list(reader)
    goals: dict[str, int] = {}
    unreadable: set[int] = set()
    named = [(i, r) for i, r in enumerate(rows) if r["Campaign"].strip()]
    for n, (i, r) in enumerate(named):
        goal = int(r["Goal"].replace(",", "")) if r["Goal"].strip() else None
        if n % 25 == 0:
            r.update({"Goal": "TBD", "Start Date": "TBD", "Sale price": "call"})
            unreadable.add(i)
        elif n % 4 == 0 and goal:
            r["Goal"] = f"{goal / 1_000_000:g}M" if goal >= 1_000_000 else f"{goal / 1000:g}k"
            goals[" ".join(r["Campaign"].split())] = goal
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=header, lineterminator="\r\n")
    w.writeheader()
    w.writerows(rows)
    path.write_bytes(b"\xef\xbb\xbf" + buf.getvalue().encode())
    return goals, unreadable


def test_sheet_with_50k_goals_loses_no_campaign_and_reports_warnings(warehouse, local_store, tmp_path, expected):
    sheet = tmp_path / "campaigns.csv"
    goals, unreadable = _real_shaped_sheet(sheet)
    assert len(goals) > 100 and any(v.endswith("k") for v in _typed_goals(sheet))
    defs = Definitions.merge(campaigns_defs, Definitions(resources={"warehouse": warehouse, "blob_store": local_store}))
    job = defs.resolve_job_def("campaigns_sync_job")
    cfg = {"ops": {"campaigns_sync": {"config": {"csv": str(sheet)}}}}
    result = job.execute_in_process(run_config=cfg, instance=DagsterInstance.ephemeral())
    assert result.success
    md = materializations(result)
    camp = md["campaigns/spotify_campaigns"]
    # every campaign and client of the sample landed: the documented counts hold
    assert (camp["inserted"], camp["failed"], camp["skipped"]) == (expected["spotify_campaigns"], 2, 7)
    assert md["campaigns/clients"]["dagster/row_count"] == expected["clients"] == 203
    assert md["campaigns/campaign_csv"]["failed"] == 2  # the two rows without a campaign name, as before
    # three unreadable cells on each damaged row: counted, listed, and in the warnings file
    assert camp["warnings"] == md["campaigns/campaign_csv"]["warnings"] == 3 * len(unreadable)
    assert "| Goal | TBD |" in camp["warnings_preview"]
    key = local_store.key_from_uri(camp["warnings_file"])
    assert key.endswith("campaign_csv_warnings.csv")
    assert key.rpartition("/")[0] == local_store.key_from_uri(camp["failed_rows_file"]).rpartition("/")[0]
    lines = read_back(local_store.get_bytes(key), "csv")
    assert lines[0] == ["row", "column", "value", "reason"]
    assert len({int(r[0]) for r in lines[1:]}) == len(unreadable)  # row = the reader's line number
    assert sorted({(r[1], r[2]) for r in lines[1:]}) == [("Goal", "TBD"), ("Sale price", "call"), ("Start Date", "TBD")]
    with warehouse.engine.connect() as conn:
        stored = dict(conn.execute(sa.select(C.c.campaign, C.c.goal)).all())
        damaged = conn.execute(sa.select(C.c.goal, C.c.start_date, C.c.sale_price).where(C.c.goal.is_(None))).all()
    for campaign, goal in goals.items():
        if "/" not in campaign:  # multi-song cells become one row per song
            assert stored[campaign.replace("\u2013", "-")] == goal
    assert len(damaged) >= len(unreadable) and all(r.start_date is None and r.sale_price is None
                                                   for r in damaged if r.goal is None and r.sale_price is None)


def _typed_goals(sheet) -> list[str]:
    with open(sheet, encoding="utf-8-sig", newline="") as f:
        return [r["Goal"] for r in csv.DictReader(f)]
