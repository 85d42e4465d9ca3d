"""Assets of the campaigns source (group ``campaigns``; seed 002's stages).

* ``campaigns_sync`` (one step, one transaction scope): ``campaigns/campaign_csv`` (stage 1,
  parse and normalise), ``campaigns/clients`` (2), ``campaigns/vendors`` (3),
  ``campaigns/campaign_groups`` (8, multi-song campaigns) and ``campaigns/spotify_campaigns``
  (4). One step so a dry run sees its own would-be clients when it links campaigns, and the
  CSV is parsed once.
* ``campaigns/sfa_urls`` (5): SFA URLs from the Spotify Web API.
* ``campaigns/campaign_playlists`` (7): scraped stream-data JSON files.
* ``campaigns/integrity_report`` (9): the integrity report as Markdown (plus asset checks).
"""


from pathlib import Path

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    Config,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
    multi_asset,
)
from pydantic import Field

from ...engine.asset_metadata import file_link, table_metadata, warehouse_kind
from ...engine.landing import resolve_location, sha256_of
from ...engine.ledger import record_file
from ...engine.outcomes import IngestReport, ProgressLogger
from ...engine.result_files import write_report_warnings, write_rows
from ...engine.runs import run_terminating
from ...resources.storage import BlobStore
from ...resources.warehouse import WarehouseResource
from ...settings import DATA_DIR
from .integrity import integrity_markdown, integrity_metrics
from .names import GROUP
from .schema import campaign_groups, campaign_playlists, clients, metadata, spotify_campaigns, vendors
from .spotify import SpotifyResource, resolve_sfa_urls
from .sync import CampaignCsvError, import_playlists, parse_csv, sync_campaign_tables

SAMPLE_DIR = DATA_DIR / "campaigns"
SAMPLE_CSV = SAMPLE_DIR / "Spotify Playlisting-All Campaigns.csv"


def key(name: str) -> AssetKey:
    return AssetKey([GROUP, name])


CSV_KEY, CLIENTS_KEY, VENDORS_KEY = key("campaign_csv"), key("clients"), key("vendors")
GROUPS_KEY, CAMPAIGNS_KEY = key("campaign_groups"), key("spotify_campaigns")
SFA_KEY, PLAYLISTS_KEY, REPORT_KEY = key("sfa_urls"), key("campaign_playlists"), key("integrity_report")
#: Shown on every asset of the source (filterable in the UI's catalog).
TAGS = {"seed": "002", "ingestion/method": "file"}
WAREHOUSE = warehouse_kind()


class CampaignCsvConfig(Config):
    """Options of the CSV sync (seed 002 master script ``--csv``, ``--dry-run``)."""

    csv: str = Field(default=str(SAMPLE_CSV), description="The campaign CSV: a local path, file:// or s3:// URI, or a key in the blob store.")
    dry_run: bool = Field(default=False, description="Report what would be created/updated/unchanged; write nothing.")
    batch_size: int = Field(default=1000, description="Rows per load batch (one transaction each).")


class SfaConfig(Config):
    """Options of SFA URL collection (seed 002 stage 5)."""

    dry_run: bool = Field(default=False, description="Look the tracks up, write nothing.")
    batch_size: int = Field(default=50, description="Tracks per API call and per transaction (Spotify allows 50).")
    limit: int = Field(default=0, description="At most this many campaigns (0 = all).")


class PlaylistsConfig(Config):
    """Options of the playlist import (seed 002 stage 7)."""

    scraped: str = Field(default=str(SAMPLE_DIR / "scraped"), description="A local folder of scraped JSON files, or a prefix in the blob store.")
    files: list[str] = Field(default_factory=list, description="Only these files (locations); overrides `scraped`.")
    dry_run: bool = Field(default=False, description="Report what would be written; write nothing.")
    batch_size: int = Field(default=1000, description="Playlist rows per load batch.")


def _counts(rep: IngestReport) -> dict[str, int]:
    return dict(rep.counts)


def _preview(title: str, rep: IngestReport, extra: dict | None = None) -> MetadataValue:
    lines = [f"**{title}**" + ("  _(dry run: nothing written)_" if rep.dry_run else ""), "",
             "| outcome | rows |", "|---|---:|"]
    lines += [f"| {k} | {n} |" for k, n in rep.counts.items()]
    for k, val in (extra or {}).items():
        lines.append(f"| {k} | {val} |")
    if rep.failures:
        lines += ["", "| row | error |", "|---:|---|"]
        lines += [f"| {f.row} | {str(f.error).replace('|', '/')[:160]} |" for f in rep.failures[:5]]
    if rep.skipped:
        lines += ["", f"first skipped: row {rep.skipped[0].row}: {rep.skipped[0].error}"]
    return MetadataValue.md("\n".join(lines))


def _failed_file(store: BlobStore, run_id: str, name: str, rep: IngestReport, header: list[str]) -> str:
    if rep.dry_run or not rep.failures:
        return ""
    rows = [{**{h: (f.record or {}).get(h) for h in header}, "import_row": f.row, "import_error": f.error}
            for f in rep.failures]
    return write_rows(store, f"results/campaigns/{run_id}/{name}_failed.csv", header + ["import_row", "import_error"], rows)


def _warnings(store: BlobStore, run_id: str, name: str, rep: IngestReport) -> dict:
    """The warnings metadata of ``rep`` (DESIGN.md §9): ``warnings`` (count), ``warnings_file``
    (beside ``{name}_failed.csv``) and, when there are any, ``warnings_preview`` (first 10)."""
    return rep.warnings_metadata(write_report_warnings(store, f"results/campaigns/{run_id}/{name}_failed.csv", rep))


@multi_asset(
    name="campaigns_sync",
    specs=[
        AssetSpec(CSV_KEY, group_name=GROUP, description="The campaign CSV parsed and normalised (statuses, emails, money, dates, track ids).",
                  kinds={"csv"}, tags=TAGS),
        AssetSpec(CLIENTS_KEY, group_name=GROUP, deps=[CSV_KEY], description="Clients, unique by normalised name, with their emails merged into a list.",
                  kinds={"csv", WAREHOUSE}, tags=TAGS, metadata=table_metadata(clients)),
        AssetSpec(VENDORS_KEY, group_name=GROUP, deps=[CSV_KEY], description="Vendors running the campaigns, unique by normalised name.",
                  kinds={"csv", WAREHOUSE}, tags=TAGS, metadata=table_metadata(vendors)),
        AssetSpec(GROUPS_KEY, group_name=GROUP, deps=[CLIENTS_KEY], description="Campaign groups: campaigns sold as one that cover several songs.",
                  kinds={"csv", WAREHOUSE}, tags=TAGS, metadata=table_metadata(campaign_groups)),
        AssetSpec(CAMPAIGNS_KEY, group_name=GROUP, deps=[CLIENTS_KEY, VENDORS_KEY, GROUPS_KEY],
                  description="Spotify campaigns, one per song, matched by name or track URL and linked to client, vendor and group.",
                  kinds={"csv", WAREHOUSE}, tags=TAGS, metadata=table_metadata(spotify_campaigns)),
    ],
)
def campaigns_sync(context: AssetExecutionContext, config: CampaignCsvConfig, warehouse: WarehouseResource,
                   blob_store: BlobStore):
    """Stages 1-4 of seed 002: parse the campaign CSV and sync clients, vendors, groups and campaigns."""
    warehouse.setup(metadata)
    loc = resolve_location(config.csv, blob_store)
    try:
        sha, size = sha256_of(loc)
        with loc.open() as f:
            parsed = parse_csv(f, name=loc.name)
    except (CampaignCsvError, FileNotFoundError) as e:
        if not config.dry_run and not isinstance(e, FileNotFoundError):
            with warehouse.connect() as conn:
                record_file(conn, source=GROUP, uri=loc.uri, sha256=sha, size=size, status="failed",
                            run_id=context.run_id, error=str(e)[:1000])
        raise Failure(description=f"{loc.uri}: {e}") from None
    context.log.info(f"{loc.uri}: {parsed.rows_read} rows, {len(parsed.songs)} campaign songs, "
                     f"{len(parsed.failed)} failed, {len(parsed.duplicates)} duplicates, "
                     f"{len(parsed.warnings)} optional cells not read (warnings)")
    progress = ProgressLogger(context.log, "campaigns sync (rows of all 4 tables)", every_rows=1000)
    audit = {"_source": loc.uri, "_run_id": context.run_id}
    with warehouse.connect(dry_run=config.dry_run) as conn:
        res = sync_campaign_tables(conn, parsed, dry_run=config.dry_run, batch_size=config.batch_size, audit=audit,
                                   on_batch=lambda _r, n: progress.tick(n))
        if not config.dry_run:
            camp = res.reports["spotify_campaigns"]
            record_file(conn, source=GROUP, uri=loc.uri, sha256=sha, size=size, status="succeeded",
                        run_id=context.run_id, rows_read=parsed.rows_read, rows_loaded=camp.loaded,
                        rows_failed=camp.failed_total)
    progress.finish()
    header = parsed.columns
    failed_uri = _failed_file(blob_store, context.run_id, "campaign_csv", res.reports["spotify_campaigns"], header)
    warned = _warnings(blob_store, context.run_id, "campaign_csv", res.reports["spotify_campaigns"])
    common = {"csv": file_link(loc.uri), "dry_run": config.dry_run}

    by_status = parsed.by_status()
    yield MaterializeResult(asset_key=CSV_KEY, metadata={
        **common, "dagster/row_count": parsed.rows_read, "rows_read": parsed.rows_read,
        "campaign_songs": len(parsed.songs), "failed": len(parsed.failed), "skipped": len(parsed.duplicates),
        "missing_columns": ", ".join(parsed.missing_columns) or "none",
        "failed_rows_file": file_link(failed_uri), **warned,
        "preview": MetadataValue.md("| status | campaign songs |\n|---|---:|\n"
                                    + "\n".join(f"| {s} | {n} |" for s, n in by_status.items())),
        **{f"status_{s.lower()}": n for s, n in by_status.items()},
    })
    for k, name, table in ((CLIENTS_KEY, "clients", clients), (VENDORS_KEY, "vendors", vendors),
                           (GROUPS_KEY, "campaign_groups", campaign_groups),
                           (CAMPAIGNS_KEY, "spotify_campaigns", spotify_campaigns)):
        rep = res.reports[name]
        extra = {"in warehouse, not in this CSV (kept)": res.not_in_csv} if name == "spotify_campaigns" else None
        yield MaterializeResult(asset_key=k, metadata={
            **common, **_counts(rep), "dagster/row_count": warehouse.count(table),
            "failed_rows_file": file_link(failed_uri if name == "spotify_campaigns" else ""),
            **(warned if name == "spotify_campaigns" else {}),
            "preview": _preview(name, rep, extra),
            **({"not_in_csv": res.not_in_csv} if name == "spotify_campaigns" else {}),
        })


@asset(key=SFA_KEY, group_name=GROUP, deps=[CAMPAIGNS_KEY], kinds={"spotify", WAREHOUSE}, tags=TAGS)
def sfa_urls(context: AssetExecutionContext, config: SfaConfig, warehouse: WarehouseResource,
             spotify: SpotifyResource, blob_store: BlobStore) -> MaterializeResult:
    """Spotify for Artists URLs resolved from each Active/Complete campaign's track (resumable; hand-entered URLs kept)."""
    warehouse.setup(metadata)
    with warehouse.connect(dry_run=config.dry_run) as conn:
        res = resolve_sfa_urls(conn, spotify, dry_run=config.dry_run, batch_size=config.batch_size,
                               limit=config.limit or None, log=context.log, should_stop=run_terminating(context))
    if res.stopped:
        context.log.warning("sfa_urls: run terminated; the batches done so far are committed, the next run resumes")
    unresolved_uri = ""
    if res.unresolved and not config.dry_run:
        unresolved_uri = write_rows(blob_store, f"results/campaigns/{context.run_id}/sfa_unresolved.csv",
                                    ["campaign", "reason"], [list(u) for u in res.unresolved])
    reasons: dict[str, int] = {}
    for _c, r in res.unresolved:
        reasons[r] = reasons.get(r, 0) + 1
    md = ["| | campaigns |", "|---|---:|", f"| looked at | {res.candidates} |", f"| resolved | {len(res.resolved)} |"]
    md += [f"| not resolved: {r} | {n} |" for r, n in sorted(reasons.items())]
    md += ["", "first not resolved:", *[f"- {c}: {r}" for c, r in res.unresolved[:10]]]
    with warehouse.engine.connect() as conn:
        import sqlalchemy as sa
        with_sfa = conn.execute(sa.select(sa.func.count()).select_from(spotify_campaigns).where(
            spotify_campaigns.c.sfa_url.is_not(None), spotify_campaigns.c.sfa_url != "")).scalar()
    return MaterializeResult(metadata={
        "dagster/row_count": int(with_sfa or 0), "candidates": res.candidates, "updated": len(res.resolved),
        "inserted": 0, "unchanged": 0, "skipped": 0, "failed": len(res.unresolved), "dry_run": config.dry_run, "stopped": res.stopped,
        "failed_rows_file": file_link(unresolved_uri), "preview": MetadataValue.md("\n".join(md)),
    })


def _scraped_files(config: PlaylistsConfig, store: BlobStore):
    if config.files:
        for f in config.files:
            loc = resolve_location(f, store)
            yield loc.uri, loc.read_bytes()
        return
    p = Path(config.scraped).expanduser()
    if p.is_dir():
        for f in sorted(p.glob("*.json")):
            yield f.resolve().as_uri(), f.read_bytes()
        return
    for obj in store.list(config.scraped.strip("/") + "/"):
        if obj.key.lower().endswith(".json"):
            yield obj.uri, store.get_bytes(obj.key)


@asset(key=PLAYLISTS_KEY, group_name=GROUP, deps=[CAMPAIGNS_KEY], kinds={"json", WAREHOUSE}, tags=TAGS,
       metadata=table_metadata(campaign_playlists))
def campaign_playlists_asset(context: AssetExecutionContext, config: PlaylistsConfig, warehouse: WarehouseResource,
                             blob_store: BlobStore) -> MaterializeResult:
    """Playlist placements with 28-day/7-day/12-month streams from scraped JSON files, matched to campaigns by track id."""
    warehouse.setup(metadata)
    with warehouse.connect(dry_run=config.dry_run) as conn:
        res = import_playlists(conn, _scraped_files(config, blob_store), dry_run=config.dry_run,
                               batch_size=config.batch_size, audit={"_source": config.scraped if not config.files else "files",
                                                                    "_run_id": context.run_id})
    rep = res.report
    failed_uri = _failed_file(blob_store, context.run_id, "campaign_playlists", rep,
                              ["file", "playlist_name", "playlist_curator", "streams_28d", "streams_7d",
                               "streams_12m", "date_added"])
    warned = _warnings(blob_store, context.run_id, "campaign_playlists", rep)
    extra = {"files": res.files, "files unmatched (no campaign has the track)": len(res.unmatched),
             "bad files": len(res.bad_files), "campaigns matched": res.campaigns}
    md = _preview("campaign_playlists", rep, extra).value
    if res.unmatched:
        md += "\n\nunmatched: " + ", ".join(t for _u, t in res.unmatched[:10])
    if res.bad_files:
        md += "\n\nbad files: " + "; ".join(f"{u}: {r}" for u, r in res.bad_files[:5])
    return MaterializeResult(metadata={
        **_counts(rep), "dagster/row_count": warehouse.count(campaign_playlists), "dry_run": config.dry_run,
        "files": res.files, "files_unmatched": len(res.unmatched), "bad_files": len(res.bad_files),
        "campaigns_matched": res.campaigns, "failed_rows_file": file_link(failed_uri), **warned, "preview": MetadataValue.md(md),
    })


@asset(key=REPORT_KEY, group_name=GROUP, deps=[CAMPAIGNS_KEY, SFA_KEY, PLAYLISTS_KEY, CLIENTS_KEY, VENDORS_KEY],
       kinds={WAREHOUSE}, tags=TAGS)
def integrity_report(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    """The campaign data integrity report (counts, coverage, orphans, invalid statuses, duplicates) as Markdown."""
    warehouse.setup(metadata)
    with warehouse.engine.connect() as conn:
        m = integrity_metrics(conn)
    flat = {k: val for k, val in m.items() if isinstance(val, int)}
    flat.update({f"status_{s.lower()}": n for s, n in m["by_status"].items()})
    context.log.info(f"integrity: {m['campaigns']} campaigns, {m['orphans']} orphans, {m['duplicates']} duplicates")
    return MaterializeResult(metadata={**flat, "dagster/row_count": m["campaigns"],
                                       "report_markdown": MetadataValue.md(integrity_markdown(m))})
