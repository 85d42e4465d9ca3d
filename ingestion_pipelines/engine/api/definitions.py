"""The Dagster objects of one system's API sync, built from its specs (DESIGN.md §6, §10):
:func:`api_definitions` ``(names, streams, resource) -> Definitions``.

* one multi-asset ``<system>_sync`` (one asset ``<system>/<stream>`` per stream, subsettable,
  one step sharing one client and one rate budget), group ``<system>``, kinds
  ``{<system>, <warehouse>}``, each asset's table schema in its definition metadata;
* a typed :class:`ApiSyncConfig` (``full``, ``since``, ``limit``, ``dry_run``);
* jobs ``<system>_<stream>`` and ``<system>_all``, tagged ``<system>/account``; schedules
  ``<system>_incremental_schedule`` (every 15 minutes) and ``<system>_full_schedule`` (nightly,
  ``full``), both stopped by default;
* each stream's materialization: ``status``, ``mode``, ``watermark_before`` →
  ``watermark_after``, the counts, ``sync_history_id``, ``requests``, ``pages``,
  ``records_per_s``, ``duration_s``, ``failed_rows_file`` / ``warnings_file`` (links),
  ``dagster/row_count`` and a Markdown ``preview``. A failed stream gets no materialization and
  fails the step (after the other streams ran), naming it.

:class:`ApiResource` is the base of every system's account resource: a subclass declares its
fields (``base_url`` and its secrets, ``str | None``), ``VARIABLES`` (field -> the environment
variable names that fill it, preferred first), ``DEFAULT_BASE_URL`` (or None: required) and
``auth()``. :meth:`ApiResource.from_env` builds it with every variable set at load time as
``EnvVar`` (the UI shows names, never values); a field left unset reads its variable when the
run needs it; a missing one fails fast naming it (:meth:`ApiResource.required`).
"""


import datetime as dt
import os
from typing import Any, Callable, ClassVar, Sequence

import sqlalchemy as sa
from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSelection,
    AssetSpec,
    Config,
    ConfigurableResource,
    DefaultScheduleStatus,
    Definitions,
    EnvVar,
    Failure,
    MaterializeResult,
    MetadataValue,
    RunConfig,
    ScheduleDefinition,
    define_asset_job,
    multi_asset,
)
from pydantic import Field as ConfigField

from ...resources.storage import BlobStore
from ..asset_metadata import file_link, table_metadata, warehouse_kind
from ..outcomes import ProgressLogger
from ..result_files import write_report_warnings, write_rows
from ..runs import run_terminating
from .auth import Auth
from .budget import RateBudget
from .client import ApiClient, default_retry
from .names import ApiNames
from .streams import RestStream, StreamResult, SyncOptions, sync_stream

__all__ = ["ApiResource", "ApiSyncConfig", "api_definitions", "parse_since", "stream_metadata"]

Runner = Callable[..., StreamResult]


class ApiResource(ConfigurableResource):
    """One account of an API (module docstring). Common fields: ``base_url`` (None: its
    variable, else ``DEFAULT_BASE_URL``); ``account`` (the rate budget's and run tag's name);
    ``requests_per_interval`` per ``interval_seconds`` (the shared budget); ``timeout_seconds``,
    ``max_retries``, ``backoff_seconds`` (the client's retry policy)."""

    #: the system (``arrivy``): the budget's name is ``<SYSTEM>-<account>``
    SYSTEM: ClassVar[str] = ""
    #: field -> environment variable names filling it, preferred first
    VARIABLES: ClassVar[dict[str, tuple[str, ...]]] = {}
    DEFAULT_BASE_URL: ClassVar[str | None] = None

    base_url: str | None = None
    account: str = "default"
    requests_per_interval: int = 100
    interval_seconds: float = 10.0
    timeout_seconds: float = 30.0
    max_retries: int = 5
    backoff_seconds: float = 0.5

    def __repr__(self) -> str:  # never a secret
        try:
            url = self.url
        except Failure:
            url = None
        return f"{type(self).__name__}(base_url={url!r}, account={self.account!r})"

    __str__ = __repr__

    @classmethod
    def from_env(cls, **kw: Any) -> "ApiResource":
        """The resource with every variable of ``VARIABLES`` set now as an ``EnvVar`` (the
        first set one per field); ``kw`` as given."""
        for f, variables in cls.VARIABLES.items():
            if f in kw:
                continue
            for var in variables:
                if os.environ.get(var):
                    kw[f] = EnvVar(var)
                    break
        return cls(**kw)

    def value(self, field: str) -> str | None:
        """``field``'s value: the field, else the first of its variables that is set now."""
        got = getattr(self, field, None)
        if got:
            return got
        for var in self.VARIABLES.get(field, ()):
            if os.environ.get(var):
                return os.environ[var]
        return None

    def required(self, *fields: str) -> list[str]:
        """The values of ``fields``; :class:`dagster.Failure` naming every variable of the
        missing ones (never a value)."""
        got = [self.value(f) for f in fields]
        missing = [f for f, x in zip(fields, got) if not x]
        if missing:
            wanted = " and ".join(" or ".join(self.VARIABLES.get(f, (f,))) for f in missing)
            raise Failure(f"{self.SYSTEM or type(self).__name__} credentials missing: set {wanted}")
        return got  # type: ignore[return-value]

    @property
    def url(self) -> str:
        """The API's base URL (no trailing ``/``); :class:`dagster.Failure` naming the variable
        when it is not set and there is no default."""
        got = self.value("base_url") or self.DEFAULT_BASE_URL
        if not got:
            wanted = " or ".join(self.VARIABLES.get("base_url", ("base_url",)))
            raise Failure(f"{self.SYSTEM or type(self).__name__} base URL missing: set {wanted}")
        return got.rstrip("/")

    def auth(self) -> Auth:
        """The auth object (:mod:`.auth`), from :meth:`required` values. Subclasses override."""
        return Auth()

    def client(self, log: Any = None) -> ApiClient:
        """An :class:`ApiClient` on the account's shared budget (``<SYSTEM>-<account>``).
        Raises :class:`dagster.Failure` for a missing variable (before any request)."""
        url, auth = self.url, self.auth()
        budget = RateBudget(f"{self.SYSTEM or 'api'}-{self.account}", self.requests_per_interval, self.interval_seconds)
        return ApiClient(url, auth, {"default": budget}, default_retry(self.max_retries, self.backoff_seconds),
                         self.timeout_seconds, rate_headers="X-RateLimit-", log=log)


class ApiSyncConfig(Config):
    """Options of an API sync run (the seed's ``sync_<system>_*`` options)."""

    full: bool = ConfigField(default=False, description="Read every record, not only those changed since the watermark.")
    since: str = ConfigField(default="", description="Incremental from this time (YYYY-MM-DD[THH:MM:SS], UTC) instead of the watermark.")
    limit: int = ConfigField(default=0, description="Stop each stream after this many records (0 = all; for trying it out).")
    dry_run: bool = ConfigField(default=False, description="Read and compare everything, write nothing.")

    def options(self, run_id: str, should_stop: Callable[[], bool]) -> SyncOptions:
        """The sync's options; ``Failure`` for a ``since`` that does not parse."""
        try:
            since = parse_since(self.since)
        except ValueError as e:
            raise Failure(str(e)) from None
        return SyncOptions(full=self.full, since=since, limit=self.limit, dry_run=self.dry_run, run_id=run_id,
                           should_stop=should_stop)


def parse_since(text: str) -> dt.datetime | None:
    """``--since`` text (``YYYY-MM-DD[THH:MM:SS][Z|+hh:mm]``; naive = UTC) as an aware
    datetime; None for ``""``. Raises ``ValueError`` naming the expected form."""
    if not text or not text.strip():
        return None
    try:
        d = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"since: expected YYYY-MM-DD[THH:MM:SS], got {text!r}") from None
    return d if d.tzinfo else d.replace(tzinfo=dt.timezone.utc)


def stream_metadata(names: ApiNames, stream: str, table: sa.Table, r: StreamResult, warehouse: Any,
                    store: BlobStore, run_id: str) -> dict[str, Any]:
    """One stream's materialization metadata (module docstring); writes its failed-rows and
    warnings files (``results/<system>/<run>/<stream>_failed.csv``) unless a dry run."""
    d = r.details
    secs = max(float(d.get("duration_s", 0.0)), 1e-6)
    key = f"results/{names.system}/{run_id}/{names.snake(stream)}_failed.csv"
    failed_file = ""
    if r.report.failures and not r.sync.dry_run:
        failed_file = write_rows(store, key, ["row", "error", "record"],
                                 [[f.row, f.error, _record_text(f.record)] for f in r.report.failures])
    warn_file = "" if r.sync.dry_run else write_report_warnings(store, key, r.report)
    counts = r.sync.metadata()
    lines = [f"**{names.system} {stream}**: {r.status} ({counts['mode']})"
             + ("  _(dry run: nothing written)_" if r.sync.dry_run else ""), "", "| | |", "|---|---:|"]
    lines += [f"| {k} | {counts[k]} |" for k in ("rows_read", "inserted", "updated", "unchanged", "deleted", "failed")]
    lines += [f"| watermark | {counts['watermark_before'] or '-'} → {counts['watermark_after'] or '-'} |",
              f"| requests | {d.get('requests', 0)} |", f"| pages | {d.get('pages', 0)} |"]
    if r.error:
        lines += ["", f"error: {r.error}"]
    return {**counts, "status": r.status, "error": r.error, "dry_run": r.sync.dry_run,
            "requests": int(d.get("requests", 0)), "pages": int(d.get("pages", 0)),
            "duration_s": float(d.get("duration_s", 0.0)), "records_per_s": round(counts["rows_read"] / secs, 1),
            "dagster/row_count": warehouse.count(table), "failed_rows_file": file_link(failed_file),
            **r.report.warnings_metadata(warn_file), "warnings_file": file_link(warn_file),
            "preview": MetadataValue.md("\n".join(lines))}


def _record_text(record: Any) -> str:
    import orjson

    try:
        return orjson.dumps(record, default=str).decode()[:2000] if record is not None else ""
    except TypeError:
        return repr(record)[:2000]


def api_definitions(names: ApiNames, streams: Sequence[RestStream], resource: ApiResource, *,
                    runner: Runner = sync_stream, kind: str | None = None) -> Definitions:
    """The Definitions of one system's API sync (module docstring). ``streams``: one spec per
    name of ``names.streams`` (run in that order); ``resource``: the account (bound under
    ``names.resource``); ``runner``: ``(engine, client, source, stream, opts, log=) ->
    StreamResult`` (default :func:`~.streams.sync_stream`); ``kind``: the system's kind in the
    UI (default the system). Raises ``ValueError`` when streams and names disagree."""
    by_name = {s.name: s for s in streams}
    if tuple(by_name) != names.streams:
        raise ValueError(f"{names.system}: streams {tuple(by_name)} do not match names {names.streams}")
    keys = {s: AssetKey(list(names.asset_path(s))) for s in names.streams}
    specs = [AssetSpec(keys[s], group_name=names.group, skippable=True, kinds={kind or names.system, warehouse_kind()},
                       deps=[keys[d] for d in by_name[s].deps],
                       description=by_name[s].description or f"{names.system} {s} from the API into {by_name[s].table.name}.",
                       metadata=table_metadata(by_name[s].table)) for s in names.streams]
    metadatas = list({id(s.table.metadata): s.table.metadata for s in streams}.values())

    @multi_asset(name=names.asset_name, specs=specs, can_subset=True,
                 required_resource_keys={"warehouse", "blob_store", names.resource})
    def _sync(context: AssetExecutionContext, config: ApiSyncConfig):
        warehouse = context.resources.warehouse  # WarehouseResource (a layer above the engine)
        store: BlobStore = context.resources.blob_store
        res: ApiResource = getattr(context.resources, names.resource)
        warehouse.setup(*metadatas)
        client = res.client(log=context.log)
        opts = config.options(context.run_id, run_terminating(context))
        failed: list[str] = []
        try:
            for s in [s for s in names.streams if keys[s] in context.selected_asset_keys]:
                progress = ProgressLogger(context.log, f"{names.system} {s}", every_rows=5000)
                opts.on_progress = progress.tick
                r = runner(warehouse.engine, client, names.source, by_name[s], opts, log=context.log)
                progress.finish()
                context.log.info(f"{names.system} {s}: {r.status}; " + " ".join(
                    f"{k}={r.sync.counts[k]}" for k in ("rows_read", "inserted", "updated", "unchanged", "deleted", "failed")))
                if r.status == "failed":
                    context.log.error(f"{names.system} {s} failed: {r.error}")
                    failed.append(f"{s}: {r.error}")
                    continue
                yield MaterializeResult(asset_key=keys[s], metadata=stream_metadata(
                    names, s, by_name[s].table, r, warehouse, store, context.run_id))
                if "daily quota" in r.error:
                    context.log.warning(f"{names.system}: the daily quota is spent; the run ends here, its state saved")
                    break
        finally:
            client.close()
        if failed:
            raise Failure(f"{names.system} sync failed for: " + "; ".join(failed))

    _sync.__doc__ = f"Sync the selected {names.system} API streams under one client and rate budget."
    tags = {names.account_tag: names.account}
    jobs = [define_asset_job(names.job(s), selection=AssetSelection.assets(keys[s]), tags=tags,
                             description=f"Sync {names.system} {s} (incremental since the watermark; full with config).")
            for s in names.streams]
    every = define_asset_job(names.all_job, selection=AssetSelection.assets(*keys.values()), tags=tags,
                             description=f"Sync every {names.system} stream: {', '.join(names.streams)}.")
    schedules = [
        ScheduleDefinition(name=names.incremental_schedule, job=every, cron_schedule="*/15 * * * *",
                           execution_timezone="UTC", default_status=DefaultScheduleStatus.STOPPED,
                           description=f"Every 15 minutes: every {names.system} stream, incremental since its watermark."),
        ScheduleDefinition(name=names.full_schedule, job=every, cron_schedule="45 2 * * *", execution_timezone="UTC",
                           default_status=DefaultScheduleStatus.STOPPED,
                           run_config=RunConfig(ops={names.asset_name: ApiSyncConfig(full=True)}),
                           description=f"Nightly (02:45 UTC): a full read of every {names.system} stream."),
    ]
    return Definitions(assets=[_sync], jobs=[*jobs, every], schedules=schedules, resources={names.resource: resource})
