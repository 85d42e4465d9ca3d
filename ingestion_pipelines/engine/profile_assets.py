"""Dagster objects of CSV profiles, from one factory: :func:`csv_definitions`.

Per :class:`~.profiles.CsvProfile` (names derived from it, contracts of DESIGN.md §10):

* an asset ``<system>/csv_<object>`` (group ``<system>``, kinds ``csv`` + the warehouse) that
  loads one export with :func:`~.profile_load.load_csv` (config :class:`CsvFileConfig`: the
  landed file's location, ``force_refresh``, ``dry_run``, ``batch_size``) and materializes
  counts, the header mapping, the unmapped headers, a preview of the rows as they land, and
  the failed-rows and warnings files; its check ``rows_accounted_for`` (every row read is
  inserted, updated, unchanged, skipped or failed) is evaluated by the asset itself, from
  what the run read;
* an asset check ``no_duplicate_ids`` over the table (the key repeated in stored rows);
* a job ``csv_<system>_<object>_job`` (the asset and its checks);
* a landing sensor ``csv_<system>_<object>_sensor`` on ``crm/<system>/<object>/``
  (:func:`~.sensors.landing_sensor`: one run per new file content, the content token in the
  run key), stopped by default.

Profile-specific checks (e.g. :func:`~.profile_geography.zip_state_check`) are passed as
``extra_checks``; a check on a profile's asset key (:func:`profile_asset_key`) is part of
its job, as Dagster includes an asset's checks in an asset selection.
"""


from typing import Any, Sequence

import sqlalchemy as sa
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetSelection,
    AssetsDefinition,
    Config,
    Definitions,
    Failure,
    MaterializeResult,
    MetadataValue,
    RunConfig,
    RunRequest,
    asset,
    asset_check,
    define_asset_job,
)
from pydantic import Field as ConfigField

from .asset_metadata import file_link, table_metadata, warehouse_kind
from .checks import counts, none_found
from .outcomes import ProgressLogger
from .profile_load import CsvLoadResult, load_csv
from .profiles import CsvProfile
from .runs import run_terminating
from .sensors import LandingSpec, landing_sensor

__all__ = ["CsvFileConfig", "csv_definitions", "csv_op_name", "csv_run_config", "profile_asset_key"]

#: Names the landing sensors list (lower case); other objects under the prefix are ignored.
LANDED_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".xlsx")


class CsvFileConfig(Config):
    """Options of one CSV import (seed 004's ``csv_<system>_<object> FILE [--dry-run] [--force-refresh]``)."""

    file: str = ConfigField(default="", description="The export: a local path, file:// or s3:// URI, or a key in the "
                                                     "blob store. Empty: the profile's first sample in data/crm/.")
    force_refresh: bool = ConfigField(default=False, description="Load even when this content of this file was "
                                                                 "loaded before (ingest_files).")
    dry_run: bool = ConfigField(default=False, description="Report the mapping, a preview and what would be "
                                                           "inserted/updated/unchanged/failed; write nothing.")
    batch_size: int = ConfigField(default=0, description="Rows per batch (one transaction each); 0 = BATCH_SIZE "
                                                         "from the environment, else 5000.")
    preview_rows: int = ConfigField(default=10, description="Rows shown in the materialization's preview.")


def profile_asset_key(profile: CsvProfile) -> AssetKey:
    """The asset key of a profile: ``<system>/csv_<object in snake case>``."""
    return AssetKey(list(profile.asset_path))


def csv_op_name(profile: CsvProfile) -> str:
    """The asset's op name (the key in a run config's ``ops``)."""
    return "__".join(profile.asset_path)


def csv_run_config(profile: CsvProfile, file: str, *, dry_run: bool = False, force_refresh: bool = False,
                   batch_size: int = 0) -> RunConfig:
    """The typed run config of a profile's job for one file."""
    return RunConfig(ops={csv_op_name(profile): CsvFileConfig(file=file, dry_run=dry_run, force_refresh=force_refresh,
                                                              batch_size=batch_size)})


def _materialization(res: CsvLoadResult, rows_in_table: int) -> dict[str, Any]:
    """The materialization metadata of one load (DESIGN.md §6)."""
    md = res.metadata()
    md["dagster/row_count"] = rows_in_table
    md["failed_rows_file"] = file_link(res.failed_rows_file)
    md.update(res.report.warnings_metadata(res.warnings_file))
    md["warnings_file"] = file_link(res.warnings_file)
    if res.header_map is not None:
        md["header_mapping"] = MetadataValue.md(res.header_map.markdown())
    if res.preview:
        md["preview"] = MetadataValue.md(("_(dry run: nothing written)_\n\n" if res.dry_run else "")
                                         + res.preview_markdown())
    if res.report.failures:
        lines = ["| row | error |", "|---:|---|"] + [f"| {f.row} | {str(f.error).replace('|', '/')[:200]} |"
                                                     for f in res.report.failures[:10]]
        md["failed_preview"] = MetadataValue.md("\n".join(lines))
    return md


def _accounted(res: CsvLoadResult) -> AssetCheckResult:
    """``rows_accounted_for``: rows read = inserted + updated + unchanged + skipped + failed."""
    total = res.report.total
    return AssetCheckResult(check_name="rows_accounted_for", passed=total == res.rows_read,
                            metadata={"rows_read": res.rows_read, "rows_accounted_for": total, **res.counts})


def csv_asset(profile: CsvProfile) -> AssetsDefinition:
    """The asset that loads one export of ``profile`` (see the module docstring)."""
    key = profile_asset_key(profile)
    table = profile.target
    description = profile.description or (
        f"{profile.system} {profile.object} from a CSV export ({profile.command}), upserted into {table.name}.")

    @asset(key=key, group_name=profile.group, kinds={"csv", warehouse_kind()}, description=description,
           metadata={**table_metadata(table), "command": profile.command, "landing_prefix": profile.landing_prefix},
           required_resource_keys={"warehouse", "blob_store"},
           check_specs=[AssetCheckSpec("rows_accounted_for", asset=key,
                                       description="Every row read is inserted, updated, unchanged, skipped or failed.")])
    def _csv_asset(context: AssetExecutionContext, config: CsvFileConfig) -> MaterializeResult:
        # resources by key: the engine sits below resources.warehouse (import-linter's layers)
        warehouse, blob_store = context.resources.warehouse, context.resources.blob_store
        samples = profile.sample_paths()
        file = config.file or (str(samples[0]) if samples else "")
        if not file:
            raise Failure(description=f"{profile.command}: no file given (config `file`) and no sample in data/crm/")
        progress = ProgressLogger(context.log, f"{profile.command} {file}", every_rows=50_000)
        seen = {"n": 0}

        def on_batch(rows_read: int) -> None:
            progress.tick(rows_read - seen["n"])
            seen["n"] = rows_read

        try:
            res = load_csv(warehouse, blob_store, profile, file, run_id=context.run_id, dry_run=config.dry_run,
                           force_refresh=config.force_refresh, batch_size=config.batch_size or None,
                           preview_rows=config.preview_rows, on_batch=on_batch, should_stop=run_terminating(context))
        except FileNotFoundError as e:
            raise Failure(description=f"{profile.command}: {e}") from None
        if res.status == "failed":
            raise Failure(description=f"{profile.command}: {res.error}", metadata={"file": res.uri})
        progress.finish()
        if res.note():
            context.log.info(f"{profile.command}: {res.note()}")
        return MaterializeResult(metadata=_materialization(res, warehouse.count(table)), check_results=[_accounted(res)])

    return _csv_asset


def duplicate_ids_check(profile: CsvProfile):
    """``no_duplicate_ids``: stored rows (not marked deleted) whose key repeats (ERROR)."""
    table, key = profile.target, profile.key

    @asset_check(asset=profile_asset_key(profile), name="no_duplicate_ids",
                 description=f"No two live rows of {table.name} share the key ({', '.join(key)}).",
                 required_resource_keys={"warehouse"})
    def _check(context: AssetCheckExecutionContext) -> AssetCheckResult:
        warehouse = context.resources.warehouse
        live = [table.c._deleted_at.is_(None)] if "_deleted_at" in table.c else []
        repeated = (sa.select(*[table.c[k] for k in key]).where(*live).group_by(*[table.c[k] for k in key])
                    .having(sa.func.count() > 1).subquery())
        found = counts(warehouse, profile.metadata, duplicate_ids=sa.select(sa.func.count()).select_from(repeated))
        return none_found(found, severity=AssetCheckSeverity.ERROR, table=table.name)

    return _check


def csv_sensor(profile: CsvProfile, job):
    """The landing sensor of ``profile``: one run of ``job`` per new file content under
    ``crm/<system>/<object>/``."""

    def requests(context, landed) -> list[RunRequest]:
        return [RunRequest(run_key=f"{f.obj.key}:{f.token}", job_name=job.name,
                           run_config=csv_run_config(profile, f.obj.uri), tags={"crm/file": f.obj.key})
                for f in landed]

    return landing_sensor(LandingSpec(
        name=profile.sensor_name, prefix=profile.landing_prefix, jobs=[job], requests=requests,
        suffixes=LANDED_SUFFIXES, description=f"New {profile.system} {profile.object} exports under "
                                               f"{profile.landing_prefix}: one {profile.command} run per new file content."))


def csv_definitions(profiles: Sequence[CsvProfile], extra_checks: Sequence[Any] = ()) -> Definitions:
    """Everything of ``profiles`` (assets, checks, jobs, sensors) plus ``extra_checks``
    (asset checks on their assets, e.g. the ZIP/state check) as one ``Definitions``."""
    assets, checks, jobs, sensors = [], [], [], []
    for p in profiles:
        assets.append(csv_asset(p))
        checks.append(duplicate_ids_check(p))
        job = define_asset_job(p.job_name, selection=AssetSelection.assets(profile_asset_key(p)),
                               description=f"{p.command}: one {p.system} {p.object} export into {p.target.name}.")
        jobs.append(job)
        sensors.append(csv_sensor(p, job))
    return Definitions(assets=assets, asset_checks=[*checks, *extra_checks], jobs=jobs, sensors=sensors)
