"""``DemoStep``: one step of ``ingest demo`` — a label and the runs it launches.

A source's ``DEMO_STEPS`` is a list of these. Most steps launch one job with a typed run
config (:meth:`DemoStep.job`); the tenants step generates and lands a dataset first and then
launches one run per tenant, so a step returns every run it launched and ``ingest demo``
prints each run's summary (outcome counts per asset) the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # pragma: no cover
    from dagster import ExecuteInProcessResult


@dataclass(frozen=True)
class DemoStep:
    """``label``: the line ``ingest demo`` prints before the step; ``run()``: launches the
    step's runs on the ``DAGSTER_HOME`` instance and returns their results, in order."""

    label: str
    run: Callable[[], list["ExecuteInProcessResult"]]

    @classmethod
    def job(cls, label: str, job_name: str, run_config: Callable[[], Any]) -> "DemoStep":
        """A step that launches ``job_name`` once with ``run_config()`` (a ``dagster.RunConfig``,
        built when the step runs so that defining the step imports no Dagster code)."""

        def run() -> list["ExecuteInProcessResult"]:
            from ..launch import launch

            return [launch(job_name, run_config(), tags={"demo": "true"})]

        return cls(label, run)
