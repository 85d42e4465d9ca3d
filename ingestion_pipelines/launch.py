"""Launching real Dagster runs from the ``ingest`` command, and summarising their outcome.

Runs execute in this process on the instance in ``DAGSTER_HOME`` (default
``<project>/.local/dagster_home``, shared with ``dagster dev`` started from the README), as
the run worker of a run the webserver launched would: the run is created with the code
location's job origin (``remote_job_origin``: location ``ingestion_pipelines`` of
``workspace.yaml``, repository ``__repository__``; and the job's Python origin), then
executed by Dagster's own ``execute_run_iterator``. So a run started here is listed on its
job's page and the timeline, and **Re-execute** in the UI works on it, like a run started
from the UI or ``dagster job launch`` — without starting a code server (no extra process,
no extra second per run).
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import sys
import threading
from typing import TYPE_CHECKING, Any, Iterator

from dagster import DagsterInstance, ExecuteInProcessResult, RunConfig

from .settings import PROJECT_ROOT, default_dagster_home

if TYPE_CHECKING:  # pragma: no cover
    from dagster._core.definitions.reconstruct import ReconstructableRepository
    from dagster._core.remote_origin import RemoteRepositoryOrigin

#: The module ``workspace.yaml`` loads and the attribute holding its ``Definitions``.
DEFINITIONS_MODULE, DEFINITIONS_ATTRIBUTE = "ingestion_pipelines.definitions", "defs"
WORKSPACE_FILE = PROJECT_ROOT / "workspace.yaml"


def instance() -> DagsterInstance:
    """The persistent instance of ``DAGSTER_HOME`` (set to the project default when unset)."""
    os.environ["DAGSTER_HOME"] = str(default_dagster_home())
    return DagsterInstance.get()


@functools.lru_cache(maxsize=1)
def code_location() -> tuple["ReconstructableRepository", "RemoteRepositoryOrigin"]:
    """The code location as this process loads it (a reconstructable repository of
    :data:`DEFINITIONS_MODULE`) and as the webserver names it (the origin of the single
    location in :data:`WORKSPACE_FILE`, read without starting its server). Raises
    ``ValueError`` when the workspace file does not hold exactly one location."""
    from dagster._core.definitions.reconstruct import ReconstructableRepository
    from dagster._core.remote_origin import RemoteRepositoryOrigin
    from dagster._core.workspace.load import location_origins_from_yaml_paths

    origins = location_origins_from_yaml_paths([str(WORKSPACE_FILE)])
    if len(origins) != 1:
        raise ValueError(f"{WORKSPACE_FILE} must hold one code location, found {len(origins)}")
    recon = ReconstructableRepository.for_module(DEFINITIONS_MODULE, DEFINITIONS_ATTRIBUTE, str(PROJECT_ROOT))
    return recon, RemoteRepositoryOrigin(origins[0], recon.get_definition().name)


def launch(job_name: str, run_config: RunConfig | dict[str, Any] | None = None, *, partition_key: str | None = None,
           tags: dict[str, str] | None = None, instance_: DagsterInstance | None = None) -> ExecuteInProcessResult:
    """Run the job ``job_name`` of the code location in this process and return its result
    (events, the stored run); never raises for a failed run (inspect ``result.success``).
    ``run_config`` is a typed :class:`dagster.RunConfig` (or its dict form); ``partition_key``
    must exist in the job's partitions. Raises Dagster's errors for an unknown job, an
    unknown partition or an invalid run config (before any run is created)."""
    from dagster._core.execution.api import create_execution_plan, execute_run_iterator
    from dagster._core.execution.execute_in_process import merge_run_tags
    from dagster._core.remote_origin import RemoteJobOrigin

    recon_repo, repo_origin = code_location()
    recon_job = recon_repo.get_reconstructable_job(job_name)
    job = recon_job.get_definition()
    inst = instance_ or instance()
    level = os.environ.get("INGEST_LOG_LEVEL", "INFO")
    if isinstance(run_config, RunConfig):  # its dict form carries empty sections ("loggers": {})
        run_config = {k: v for k, v in run_config.to_config_dict().items() if v}
    run_config = {"loggers": {"console": {"config": {"log_level": level}}}, **(run_config or {})}
    run_tags = merge_run_tags(job_def=job, partition_key=partition_key, asset_selection=None, instance=inst,
                              run_config=run_config, tags={"launched_by": "ingest-cli", **(tags or {})})
    plan = create_execution_plan(recon_job, run_config=run_config, instance_ref=inst.get_ref(), tags=run_tags)
    run = inst.create_run_for_job(job_def=job, execution_plan=plan, run_config=run_config, tags=run_tags,
                                  remote_job_origin=RemoteJobOrigin(repo_origin, job_name),
                                  job_code_origin=recon_job.get_python_origin())
    with _sigterm_kept():
        events = list(execute_run_iterator(recon_job, run, inst))
    return ExecuteInProcessResult(event_list=events, dagster_run=inst.get_run_by_id(run.run_id),
                                  output_capture=None, job_def=job)


@contextlib.contextmanager
def _sigterm_kept() -> Iterator[None]:
    """Restore SIGTERM's handler after a block that runs Dagster in process: Dagster sets SIGTERM
    to SIGINT's handler when a run's interrupt capture ends (``dagster._utils.interrupts``), and
    under ``nohup`` or in a background job SIGINT is ignored, so ``ingest`` would then ignore
    SIGTERM (``kill``, systemd's stop) for the rest of its life, and so would its children."""
    main = threading.current_thread() is threading.main_thread()
    saved = signal.getsignal(signal.SIGTERM) if main else None
    try:
        yield
    finally:
        if main and saved is not None:
            signal.signal(signal.SIGTERM, saved)


def run_and_report(job_name: str, run_config: RunConfig | dict[str, Any] | None = None, **kwargs: Any) -> None:
    """Launch ``job_name``, print its :func:`summarize`, and exit the process 0 when the run
    succeeded (rows may still have failed), 1 when it failed: the ``ingest`` convention."""
    import click

    result = launch(job_name, run_config, **kwargs)
    click.echo(summarize(result))
    sys.exit(0 if result.success else 1)


SUMMARY_KEYS = ("inserted", "updated", "unchanged", "skipped", "failed")


def materializations(result: ExecuteInProcessResult) -> dict[str, dict[str, Any]]:
    """Asset key (``a/b``) -> its materialization metadata values (plain Python)."""
    out: dict[str, dict[str, Any]] = {}
    for ev in result.get_asset_materialization_events():
        mat = ev.event_specific_data.materialization  # type: ignore[union-attr]
        out[mat.asset_key.to_user_string()] = {k: getattr(v, "value", v) for k, v in mat.metadata.items()}
    return out


def summarize(result: ExecuteInProcessResult) -> str:
    """A human summary: run id (and partition) and status, then one line per materialised asset with its
    outcome counts, failed-rows and warnings files, then the failure message of a failed run."""
    partition = result.dagster_run.tags.get("dagster/partition")
    lines = [f"run {result.run_id}{f' (partition {partition})' if partition else ''}: "
             f"{'SUCCESS' if result.success else 'FAILURE'}"]
    for key, md in materializations(result).items():
        counts = [f"{k}={md[k]}" for k in SUMMARY_KEYS if k in md]
        extra = [f"{k}={v}" for k, v in md.items() if k not in SUMMARY_KEYS and isinstance(v, (int, float))
                 and not isinstance(v, bool) and not k.startswith("dagster/")]
        rows = md.get("dagster/row_count")
        line = f"  {key}: " + " ".join(counts + extra)
        if rows is not None:
            line += f"  (rows in table: {rows})"
        if md.get("dry_run"):
            line += "  [dry run: nothing written]"
        lines.append(line)
        for k in ("failed_rows_file", "warnings_file", "output", "report"):
            if md.get(k):
                lines.append(f"    {k.replace('_', ' ')}: {md[k]}")
    if not result.success:
        for ev in result.all_events:
            if ev.event_type_value == "STEP_FAILURE":
                err = ev.event_specific_data.error  # type: ignore[union-attr]
                lines.append(f"  step {ev.step_key} failed: {err.message.strip() if err else ''}")
    return "\n".join(lines)
