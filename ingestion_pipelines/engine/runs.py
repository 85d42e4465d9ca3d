"""Helpers for long loops inside a Dagster run (DESIGN.md §6: stop cleanly when terminated)."""

from __future__ import annotations

import time
from typing import Callable

from dagster import AssetExecutionContext, DagsterRunStatus


def run_terminating(context: AssetExecutionContext, every_seconds: float = 2.0) -> Callable[[], bool]:
    """A ``should_stop()`` for batch loops: True once the run is being terminated (the UI's
    Terminate, or ``instance.run_launcher.terminate``: status CANCELING or CANCELED). The run
    record is read at most once every ``every_seconds`` seconds."""
    last = {"t": 0.0, "stop": False}

    def check() -> bool:
        now = time.monotonic()
        if now - last["t"] >= every_seconds:
            last["t"] = now
            run = context.instance.get_run_by_id(context.run_id)
            last["stop"] = run is not None and run.status in (DagsterRunStatus.CANCELING, DagsterRunStatus.CANCELED)
        return last["stop"]

    return check
