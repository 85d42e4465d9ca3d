"""The import asset of group ``imports``: one run = one import of one file (seed 003).

Its job and run config are in ``jobs.py``.
"""

from dagster import AssetExecutionContext, AssetKey, Config, MaterializeResult, MetadataValue, asset
from dagster import DagsterExecutionInterruptedError, DagsterRunStatus
from pydantic import Field

from ...engine.asset_metadata import file_link, warehouse_kind
from ...engine.runs import run_terminating
from ...resources.storage import BlobStore
from ...resources.warehouse import WarehouseResource
from . import settings
from .runner import ImportOptions, ImportOutcome, new_job_id, run_import

IMPORT_JOB_KEY = AssetKey(["imports", "import_job"])
IMPORT_OP_NAME = "imports__import_job"


class ImportFileConfig(Config):
    """One import: importer, file, and the seed's options (seed 003, "Configuration Options")."""

    importer: str = Field(description="Importer name: employees | entities (see sources/imports/importers.py).")
    file: str = Field(description="The input file: a local path, file:// or s3:// URI, or a key in the BlobStore. "
                                  "CSV (any encoding, delimiter sniffed), XLSX, NDJSON; gzip ok.")
    job_id: str = Field(default="", description="import_jobs id to use (default: a new UUID).")
    batch_size: int = Field(default=0, description="Rows per batch (0 = IMPORT_DEFAULT_BATCH_SIZE, 500).")
    count_total_first: bool = Field(default=True, description="Count rows first so progress has a percentage.")
    header_rows: int = Field(default=1, description="Header rows; the last names the columns (0 = none).")
    output_format: str = Field(default="csv", description="Result files format: csv | xlsx.")
    create_result_file_records: bool = Field(default=True, description="Record result files (URI + URL) in import_jobs.")
    handler_path: str = Field(default="", description="Dotted path overriding the importer's default row handler.")
    encoding: str = Field(default="", description="CSV text encoding (default: detected).")
    delimiter: str = Field(default="", description="CSV delimiter (default: sniffed).")
    sheet: str = Field(default="", description="XLSX sheet name or 0-based index (default: the first).")
    extra_options: dict[str, str] = Field(default_factory=dict, description="Extra options passed to the handler.")

    def to_options(self) -> ImportOptions:
        return ImportOptions(
            batch_size=self.batch_size or settings.default_batch_size(), count_total_first=self.count_total_first,
            header_rows=self.header_rows, output_format=self.output_format,
            create_result_file_records=self.create_result_file_records, handler_path=self.handler_path,
            encoding=self.encoding, delimiter=self.delimiter, sheet=self.sheet, extra=dict(self.extra_options))


def _preview(o: ImportOutcome) -> str:
    lines = [f"**{o.status}**: {o.processed_rows:,} rows processed ({o.success_count:,} ok, "
             f"{o.failure_count:,} failed) in {o.elapsed:.1f} s"]
    if o.failed_preview:
        lines += ["", "| row | import_error |", "|---|---|"]
        for row, err in o.failed_preview[:10]:
            lines.append(f"| {row} | {str(err).replace('|', '/')[:200]} |")
    return "\n".join(lines)


@asset(key=IMPORT_JOB_KEY, group_name="imports", kinds={"csv", "xlsx", warehouse_kind()},
       tags={"seed": "003", "ingestion/method": "file"})
def import_job(context: AssetExecutionContext, config: ImportFileConfig, warehouse: WarehouseResource,
               blob_store: BlobStore) -> MaterializeResult:
    """Imports one file row by row through an importer's handler, tracking live progress in import_jobs and writing success/failed result files."""
    run_id = context.run_id
    job_id = config.job_id or new_job_id()
    context.log.info(f"import job {job_id}: importer={config.importer} file={config.file}")
    o = run_import(warehouse, blob_store, config.importer, config.file, config.to_options(), job_id=job_id,
                   run_id=run_id, log=context.log, should_stop=run_terminating(context))
    if o.status == "cancelled":
        # a cancelled import (`ingest import-cancel`, the UI's Terminate) ends its run CANCELED,
        # as Dagster ends an interrupted run; the job's counts and result files are recorded
        run = context.instance.get_run_by_id(run_id)
        if run is not None and run.status != DagsterRunStatus.CANCELING:
            context.instance.report_run_canceling(run, message=f"import job {job_id} was cancelled")
        raise DagsterExecutionInterruptedError(f"import job {job_id} cancelled after {o.processed_rows:,} rows")
    md = {
        "dagster/row_count": o.processed_rows,
        "import_job_id": o.job_id,
        "status": o.status,
        "total_rows": o.total_rows if o.total_rows is not None else -1,
        "processed_rows": o.processed_rows,
        "success_count": o.success_count,
        "failure_count": o.failure_count,
        "percentage": o.percentage if o.percentage is not None else 0.0,
        "inserted": o.outcomes.get("inserted", 0),
        "updated": o.outcomes.get("updated", 0),
        "unchanged": o.outcomes.get("unchanged", 0),
        "skipped": o.outcomes.get("skipped", 0),
        "failed": o.failure_count,
        "failed_rows_file": file_link(o.failed_file["uri"] if o.failed_file else ""),
        "success_file": file_link(o.success_file["uri"] if o.success_file else ""),
        **o.warnings.warnings_metadata(o.warnings_file["uri"] if o.warnings_file else ""),
        "elapsed_s": round(o.elapsed, 3),
        "preview": MetadataValue.md(_preview(o)),
    }
    return MaterializeResult(metadata=md)
