"""Row handlers used by the imports tests (referenced by dotted path, as users do)."""

import time

from ingestion_pipelines.sources.imports import handlers as h


def raising_handler(row_index, row, import_job_id, options):
    if row.get("name") == "boom":
        raise RuntimeError("kaboom on purpose")
    if row.get("name") == "garbage":
        return {"success": True}
    if row.get("name") == "refuse":
        return {"ok": False, "error": "refused by handler"}
    return {"ok": True, "result": {"n": row_index}}


@h.batch_handler
def slow_batch_handler(rows, import_job_id, options):
    """Sleeps per batch (so a test can cancel mid-import) and writes each row to employees."""
    from ingestion_pipelines.sources.imports.employees import handle_batch

    time.sleep(float(options.get("sleep", "0.05")))
    return handle_batch(rows, import_job_id, options)


@h.batch_handler
def raising_batch_handler(rows, import_job_id, options):
    """Fails a whole batch when any row is 'boom' (bisection must isolate it)."""
    if any(r.get("name") == "boom" for _, r in rows):
        raise ValueError("batch contains boom")
    return [{"ok": True, "result": {"n": i}} for i, _ in rows]


@h.batch_handler
def interrupted_batch_handler(rows, import_job_id, options):
    """Writes rows like the employees handler, but the batch holding row 26 is interrupted the
    way Dagster's run termination interrupts a step (a KeyboardInterrupt inside user code)."""
    from ingestion_pipelines.sources.imports.employees import handle_batch

    if any(i == 26 for i, _ in rows):
        handle_batch(rows, import_job_id, options)  # written, then interrupted: must roll back
        raise KeyboardInterrupt
    return handle_batch(rows, import_job_id, options)


@h.batch_handler
def short_batch_handler(rows, import_job_id, options):
    """Writes every row like the employees handler, then returns one result too few."""
    from ingestion_pipelines.sources.imports.employees import handle_batch

    return handle_batch(rows, import_job_id, options)[:-1]


@h.batch_handler
def malformed_batch_handler(rows, import_job_id, options):
    """Writes every row like the employees handler; the row named 'garbage' gets a malformed result."""
    from ingestion_pipelines.sources.imports.employees import handle_batch

    out = handle_batch(rows, import_job_id, options)
    return [{"success": True} if r.get("name") == "garbage" else o for (_, r), o in zip(rows, out)]
