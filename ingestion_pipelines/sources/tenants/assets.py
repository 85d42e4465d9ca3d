"""Assets of the tenants source (group ``tenants``, seed 001).

* ``tenants/tenants`` — ``tenants.csv`` into the ``tenants`` table (the seed's ``load_tenants``),
  and each tenant registered as a partition of ``DynamicPartitionsDefinition(name="tenants")``.
* ``tenants/<entity>`` for products, customers, orders, order_items, price_history,
  stock_events — partitioned by tenant; each loads that tenant's landed NDJSON files
  (``tenants/<tenant_id>/`` in the BlobStore) of its entity, see :mod:`.loading`.
"""


import datetime as dt
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    Config,
    DynamicPartitionsDefinition,
    MaterializeResult,
    MetadataValue,
    asset,
)
from pydantic import Field

from ...engine.asset_metadata import file_link, table_metadata, warehouse_kind
from ...engine.landing import resolve_location, sha256_of
from ...engine.ledger import record_file
from ...engine.load import LoadRun, PendingRow, RowInvalid, TableLoad
from ...engine.outcomes import Outcome, RowOutcome
from ...engine.readers import iter_records
from ...engine.result_files import write_report_warnings, write_rows
from ...engine.validate import RowCells
from ...resources.storage import BlobStore
from ...resources.warehouse import WarehouseResource
from . import checks, schema
from .loading import RESULTS_PREFIX, SOURCE, CellWarnings, FailedRecords, load_entity
from .names import GROUP, PARTITIONS, TENANTS_CSV_KEY
from .records import ENTITIES, REFS, TENANT_ID_RE

tenant_partitions = DynamicPartitionsDefinition(name=PARTITIONS)
TENANTS_KEY = AssetKey([GROUP, "tenants"])
#: Shown on every asset of the source (filterable in the UI's catalog).
TAGS = {"seed": "001", "ingestion/method": "file"}
WAREHOUSE = warehouse_kind()
#: The run tag naming a per-tenant run's tenant (its partition key is the bare id).
TENANT_NAME_TAG = "ingestion/tenant_name"


class LoadTenantsConfig(Config):
    """Run config of ``tenants/tenants``."""

    file: str = Field(default=TENANTS_CSV_KEY,
                      description="tenants.csv: a key in the BlobStore, a local path, file:// or s3:// URI.")
    dry_run: bool = Field(default=False, description="Report what would change; write nothing, register no partition.")


class TenantFilesConfig(Config):
    """Run config of the per-tenant assets."""

    batch_size: int = Field(default=20_000, description="Rows per COPY/upsert batch (one commit each).")
    landed_sha256: dict[str, str] = Field(
        default_factory=dict,
        description="Set by the landing sensor: BlobStore key -> '<sha256>@<etag>' of this entity's files as the "
                    "sensor hashed them. A file whose etag (size and modification time) is unchanged is not "
                    "hashed again; any other file is hashed as it loads. Used only in runs a sensor requested.")


def _tenant_row(n: int, rec: dict[str, str], cells: RowCells) -> PendingRow:
    """One tenants.csv row under the optional-cell rule (DESIGN.md §9): a bad ``tenant_id`` or
    a missing ``name`` raises :class:`RowInvalid`; a ``created_at``, ``currency`` (3 letters)
    or ``country`` (2 letters) that does not parse is left empty and becomes a warning in
    ``cells`` (the tenants table has no raw column: the warnings file keeps the text)."""
    tid = (rec.get("tenant_id") or "").strip()
    if not TENANT_ID_RE.match(tid):
        raise RowInvalid(f"tenant_id {tid!r:.70}: expected 1-64 letters, digits, '-' or '_'")
    name = (rec.get("name") or "").strip()
    if not name:
        raise RowInvalid("missing required field name")
    created = (rec.get("created_at") or "").strip() or None
    created_at = None
    if created:
        try:
            created_at = dt.datetime.fromisoformat(created)
        except ValueError:
            cells.warn("created_at", rec.get("created_at"), "not an ISO 8601 timestamp")
        if created_at is not None and created_at.tzinfo is None:
            created_at = None
            cells.warn("created_at", rec.get("created_at"), "timestamp without a time zone")
    cur = _letter_code(cells, rec, "currency", 3)
    country = _letter_code(cells, rec, "country", 2)
    # The seed's api_key column is deliberately not stored (a secret has no place in the warehouse).
    return PendingRow(row=n, values={"tenant_id": tid, "name": name, "domain": (rec.get("domain") or "").strip() or None,
                                     "currency": cur, "country": country, "created_at": created_at}, record=rec)


def _letter_code(cells: RowCells, rec: dict[str, str], column: str, length: int) -> str | None:
    """``rec[column]`` as an upper-case code of ``length`` ASCII letters, None when blank;
    anything else is a warning in ``cells`` and None."""
    code = (rec.get(column) or "").strip().upper() or None
    if code is not None and not (len(code) == length and code.isascii() and code.isalpha()):
        cells.warn(column, rec.get(column), f"expected {length} letters")
        return None
    return code


def _preview(rows: list[dict[str, Any]], cols: list[str]) -> str:
    """A Markdown table of ``rows`` (``cols`` in order); a ``file`` column shows the file's
    name (its full URI is in the failed-rows file), other cells their first 160 characters."""
    if not rows:
        return "_no failed rows_"

    def cell(col: str, value: Any) -> str:
        text = str(value if value is not None else "")
        text = text.rsplit("/", 1)[-1] if col == "file" else text[:160]
        return text.replace("|", "\\|").replace("\n", " ")

    head = "| " + " | ".join(cols) + " |\n|" + "---|" * len(cols) + "\n"
    return head + "".join("| " + " | ".join(cell(c, r.get(c)) for c in cols) + " |\n" for r in rows)


def _partitions_md(names: dict[str, str], new: set[str], first: int = 50) -> str:
    """Tenant id (the partition key) beside its name, new partitions marked, as Markdown."""
    lines = ["| partition (tenant_id) | name | |", "|---|---|---|"]
    lines += [f"| {tid} | {name.replace('|', '/')} | {'new' if tid in new else ''} |"
              for tid, name in sorted(names.items())[:first]]
    if len(names) > first:
        lines.append(f"\n… and {len(names) - first} more")
    return "\n".join(lines)


@asset(key=TENANTS_KEY, group_name=GROUP, kinds={"csv", WAREHOUSE}, tags=TAGS, metadata=table_metadata(schema.tenants))
def tenants(context: AssetExecutionContext, config: LoadTenantsConfig, warehouse: WarehouseResource,
            blob_store: BlobStore) -> MaterializeResult:
    """Loads tenants.csv into the tenants table and registers each tenant as a partition."""
    warehouse.setup(schema.metadata)
    loc = resolve_location(config.file, blob_store)
    sha, size = sha256_of(loc)
    # engine.readers: encoding detected (UTF-8 with or without BOM, cp1252 ...), physical line
    # numbers, and a ragged row reported as a failed row instead of being padded or cut.
    header: list[str] = []
    valid: dict[int, str] = {}  # row number -> tenant id, for rows that passed validation
    names: dict[str, str] = {}  # tenant id -> name, for the partitions table in the metadata
    warnings: list = []  # CellWarning of the optional cells not read (their rows load)

    def rows(it):
        for sr in it:
            if not sr.ok:
                cells = list(sr.raw or [])
                rec = dict(zip(header, cells + [None] * (len(header) - len(cells))))
                extra = f"; cells past the header: {cells[len(header):]!r:.200}" if len(cells) > len(header) else ""
                yield RowOutcome(sr.row, Outcome.FAILED, error=f"{sr.error}{extra}", record=rec)
                continue
            cells = RowCells(sr.row)
            try:
                pending = _tenant_row(sr.row, sr.data, cells)
            except RowInvalid as e:
                yield RowOutcome(sr.row, Outcome.FAILED, error=str(e), record=sr.data)
                continue
            warnings.extend(cells.warnings)
            valid[sr.row] = pending.values["tenant_id"]
            names[pending.values["tenant_id"]] = pending.values["name"]
            yield pending

    with warehouse.connect(dry_run=config.dry_run) as conn, loc.open() as f:
        if not config.dry_run:
            record_file(conn, source=SOURCE, uri=loc.uri, sha256=sha, size=size, status="running",
                        run_id=context.run_id)
            conn.commit()
        run = LoadRun(conn, TableLoad(schema.tenants), batch_size=warehouse.batch_size, dry_run=config.dry_run,
                      audit={"_source": loc.uri, "_run_id": context.run_id})
        try:
            it = iter_records(f, "csv", name=loc.uri)  # FileFormatError: not readable as CSV
            header.extend(it.columns or [])
            report = run.run(rows(it))
            report.add_warnings(warnings)
        except Exception as exc:  # the file is recorded as failed, with its error, then the asset fails
            if not config.dry_run:
                conn.rollback()
                record_file(conn, source=SOURCE, uri=loc.uri, sha256=sha, size=size, status="failed",
                            run_id=context.run_id, error=f"{type(exc).__name__}: {exc}"[:2000])
                conn.commit()
            raise
        c = report.counts
        if not config.dry_run:
            record_file(conn, source=SOURCE, uri=loc.uri, sha256=sha, size=size, status="succeeded",
                        run_id=context.run_id, rows_read=sum(c.values()),
                        rows_loaded=c["inserted"] + c["updated"], rows_failed=c["failed"])
            conn.commit()
    failed_rows = {o.row for o in report.failures}
    good_ids = sorted({tid for n, tid in valid.items() if n not in failed_rows})
    new_parts: list[str] = []
    if not config.dry_run:
        existing = set(context.instance.get_dynamic_partitions(tenant_partitions.name))
        new_parts = [t for t in good_ids if t not in existing]
        if new_parts:
            context.instance.add_dynamic_partitions(tenant_partitions.name, new_parts)
    failed_uri = None
    failed_key = f"{RESULTS_PREFIX}/tenants_{context.run_id}_failed.csv"
    if report.failures and not config.dry_run:
        # the failed rows with their original columns + row + import_error (formulas neutralised)
        failed_uri = write_rows(
            blob_store, failed_key, ["row", *header, "import_error"],
            ([o.row, *[(o.record or {}).get(h) for h in header], o.error or "failed"] for o in report.failures), "csv")
    context.log.info(f"tenants: {report.summary()}; {len(new_parts)} new partition(s)")
    md: dict[str, Any] = {
        **({} if config.dry_run else {"dagster/row_count": warehouse.count(schema.tenants)}),
        "created": c["inserted"], **c, "new_partitions": len(new_parts), "dry_run": config.dry_run,
        "file": file_link(loc.uri), "failed_rows_file": file_link(failed_uri),
        "partitions": MetadataValue.md(_partitions_md({t: names[t] for t in good_ids}, set(new_parts))),
        "preview": MetadataValue.md(_preview([{"row": o.row, "error": o.error} for o in report.failures[:10]],
                                             ["row", "error"])),
        **report.warnings_metadata(write_report_warnings(blob_store, failed_key, report)),
    }
    return MaterializeResult(metadata=md)


def _sensor_hashes(context: AssetExecutionContext, config: TenantFilesConfig) -> dict[str, str]:
    """``config.landed_sha256`` when the run was requested by a sensor (Dagster tags it
    ``dagster/sensor_name``); a run launched by hand hashes its files itself, so a hash typed
    into the Launchpad cannot make the ledger skip or mislabel a file."""
    if not config.landed_sha256:
        return {}
    if context.run.tags.get("dagster/sensor_name"):
        return dict(config.landed_sha256)
    context.log.warning("landed_sha256 ignored: this run was not requested by a sensor; files are hashed as they load")
    return {}


def _name_the_run(context: AssetExecutionContext, warehouse: WarehouseResource, tenant_id: str) -> str | None:
    """The tenant's name from the tenants table (None when it is not there), also added to the
    run's tags as :data:`TENANT_NAME_TAG` so the run list shows it beside the partition key."""
    import sqlalchemy as sa

    with warehouse.engine.connect() as conn:
        name = conn.execute(sa.select(schema.tenants.c.name).where(schema.tenants.c.tenant_id == tenant_id)).scalar()
    if name and context.run.tags.get(TENANT_NAME_TAG) != name:
        context.instance.add_run_tags(context.run_id, {TENANT_NAME_TAG: name})
    return name


def _entity_asset(entity: str):
    key = AssetKey([GROUP, entity])
    deps = [TENANTS_KEY] + [AssetKey([GROUP, parent]) for _, parent in REFS.get(entity, [])]
    specs = [AssetCheckSpec(name, asset=key, description=checks.CHECK_DESCRIPTIONS[name])
             for name in checks.check_names(entity)]
    label = entity.replace("_", " ")

    @asset(key=key, group_name=GROUP, partitions_def=tenant_partitions, deps=deps, check_specs=specs,
           kinds={"ndjson", WAREHOUSE}, tags=TAGS, metadata=table_metadata(schema.metadata.tables[entity]), name=None,
           description=f"Loads a tenant's landed {label} NDJSON files into the {entity} table (COPY + upsert, idempotent per file).")
    def _load(context: AssetExecutionContext, config: TenantFilesConfig, warehouse: WarehouseResource,
              blob_store: BlobStore) -> MaterializeResult:
        tenant_id = context.partition_key
        warehouse.setup(schema.metadata)
        failed, warnings = FailedRecords(), CellWarnings()
        tenant_name = _name_the_run(context, warehouse, tenant_id)
        with warehouse.connect() as conn:
            res = load_entity(conn, blob_store, tenant_id, entity, run_id=context.run_id, batch_size=config.batch_size,
                              log=context.log, failed=failed, landed_sha256=_sensor_hashes(context, config),
                              warnings=warnings)
            # the good-records check counts files that loaded to their end; failed files
            # have their own check (all_files_loaded)
            written = sum(res.total(k, loaded_only=True) for k in ("inserted", "updated", "unchanged"))
            good = sum(res.total(k, loaded_only=True) * (1 if k == "rows_read" else -1)
                       for k in ("rows_read", "failed", "skipped"))
            counts = checks.scan_counts(conn, entity, tenant_id)
            results = checks.run_checks(conn, entity, tenant_id, good=good, written=written,
                                        failed_files={f.uri: f.error or "failed" for f in res.failed_files},
                                        counts=counts)
            rows_in_table = counts["rows"]
        failed_key = f"{RESULTS_PREFIX}/{tenant_id}/{entity}_{context.run_id}_failed.ndjson"
        uri = failed.upload(blob_store, failed_key)
        warnings_uri = warnings.upload(blob_store, failed_key)
        loaded = [f for f in res.files if f.status == "loaded"]
        skipped_files = [f for f in res.files if f.status == "skipped"]
        context.log.info(f"{entity} [{tenant_id}]: {len(loaded)} file(s) loaded, {len(skipped_files)} already loaded, "
                         f"{len(res.failed_files)} failed; "
                         f"inserted={res.total('inserted')} updated={res.total('updated')} "
                         f"unchanged={res.total('unchanged')} failed={res.total('failed')}")
        md: dict[str, Any] = {
            "dagster/row_count": rows_in_table,
            "tenant_name": tenant_name or "(not in the tenants table)",
            "inserted": res.total("inserted"), "updated": res.total("updated"),
            "unchanged": res.total("unchanged"), "skipped": res.total("skipped"), "failed": res.total("failed"),
            "rows_read": res.total("rows_read"), "files_loaded": len(loaded), "files_skipped": len(skipped_files),
            "files_failed": len(res.failed_files),
            "failed_rows_file": file_link(uri),
            "preview": MetadataValue.md(_preview(failed.preview, ["file", "line", "error"])),
            **warnings.report.warnings_metadata(warnings_uri),
            # database seconds per phase: measured on PostgreSQL's COPY path only (absent elsewhere)
            **{f"db_seconds_{k}": round(v, 2) for k, v in res.timings().items() if v},
        }
        check_results = [AssetCheckResult(asset_key=key, check_name=name, passed=passed, metadata=meta,
                                          severity=AssetCheckSeverity.ERROR)
                         for name, (passed, meta) in results.items()]
        return MaterializeResult(metadata=md, check_results=check_results)

    _load.__doc__ = f"Loads a tenant's landed {label} files into the {entity} table."
    return _load


entity_assets = [_entity_asset(e) for e in ENTITIES]
