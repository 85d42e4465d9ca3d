"""Launching real Dagster runs from the ``ingest`` command, and summarising their outcome.

Runs execute in process on the instance in ``DAGSTER_HOME`` (default
``<project>/.local/dagster_home``, shared with ``dagster dev`` started from the README), so
the UI lists every run the command line started, with its logs and materializations.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from dagster import DagsterInstance, ExecuteInProcessResult, RunConfig

from .settings import default_dagster_home


def instance() -> DagsterInstance:
    """The persistent instance of ``DAGSTER_HOME`` (set to the project default when unset)."""
    os.environ["DAGSTER_HOME"] = str(default_dagster_home())
    return DagsterInstance.get()


def launch(job_name: str, run_config: RunConfig | dict[str, Any] | None = None, *, partition_key: str | None = None,
           tags: dict[str, str] | None = None, instance_: DagsterInstance | None = None) -> ExecuteInProcessResult:
    """Run the job ``job_name`` of the code location; never raises for a failed run (inspect
    ``result.success``). ``run_config`` is a typed :class:`dagster.RunConfig` (or its dict
    form). Raises ``KeyError``-like Dagster errors for an unknown job."""
    from .definitions import defs

    job = defs.resolve_job_def(job_name)
    inst = instance_ or instance()
    level = os.environ.get("INGEST_LOG_LEVEL", "INFO")
    if isinstance(run_config, RunConfig):  # its dict form carries empty sections ("loggers": {})
        run_config = {k: v for k, v in run_config.to_config_dict().items() if v}
    run_config = {"loggers": {"console": {"config": {"log_level": level}}}, **(run_config or {})}
    return job.execute_in_process(run_config=run_config, instance=inst, raise_on_error=False,
                                  partition_key=partition_key, tags={"launched_by": "ingest-cli", **(tags or {})})


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
