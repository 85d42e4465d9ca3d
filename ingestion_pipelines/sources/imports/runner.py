"""One import, end to end, outside Dagster (the asset, the CLI tests and the benchmark call
:func:`run_import`): read the file in batches, call the row handler, commit per batch,
record progress in ``import_jobs``, write the success and failed result files, honour
cancellation at batch boundaries.

Flow (seed 003, "AsyncImportProgressMixin"; improved: batch-aware handlers, bisection of a
failing batch, progress written with the batch it counts)::

    import_jobs row: queued -> running
    count the records first (count_total_first) -> total_rows
    for each batch of batch_size records:
        rows the reader could not read -> failed (the reader's message)
        handler(rows) in a savepoint -> ok/result or error per row
        progress line in the log; in the batch's transaction: import_jobs progress every
            N batches, the cancel flag (import_jobs.status = 'cancelling') every batch
        COMMIT; result rows -> success / failed result files (temp files, streamed)
        cancel flag or run termination -> stop
    upload result files; import_jobs: succeeded | cancelled | failed, counts, files
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import json
import logging
import posixpath
import shutil
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import orjson
import sqlalchemy as sa

from ...engine import readers
from ...engine.landing import resolve_location
from ...engine.result_files import ResultFileWriter
from ...resources.storage import BlobStore
from ...resources.warehouse import WarehouseResource
from . import handlers as h
from . import jobs
from . import settings
from .importers import get_importer
from .schema import import_jobs, metadata

log_ = logging.getLogger(__name__)


@dataclass
class ImportOptions:
    """The seed's import options (seed 003, "Configuration Options") plus reader hints.

    ``batch_size`` rows per handler call / commit / progress line (default
    ``IMPORT_DEFAULT_BATCH_SIZE``, 500); ``count_total_first`` count the records before the
    import so progress has a percentage; ``header_rows`` header rows (the last one names the
    columns; 0 = no header, columns ``col_0``, ``col_1`` ...); ``output_format`` ``csv`` or
    ``xlsx`` for result files; ``create_result_file_records`` record the result files (URI
    and download URL) in ``import_jobs`` (when false they are still written, and named in the
    run's metadata and log only); ``handler_path`` dotted path overriding the importer's
    default handler; ``encoding`` / ``delimiter`` / ``sheet`` override detection; ``extra``
    any other ``KEY=VALUE`` for the handler.
    """

    batch_size: int = field(default_factory=settings.default_batch_size)
    count_total_first: bool = True
    header_rows: int = 1
    output_format: str = "csv"
    create_result_file_records: bool = True
    handler_path: str = ""
    encoding: str = ""
    delimiter: str = ""
    sheet: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.output_format = (self.output_format or "csv").lower()
        if self.output_format not in ("csv", "xlsx"):
            raise ValueError(f"output_format must be 'csv' or 'xlsx', not {self.output_format!r}")
        if self.batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        if self.header_rows < 0:
            raise ValueError("header_rows must be >= 0")

    def as_dict(self) -> dict[str, Any]:
        """The options dict handlers receive (and ``import_jobs.options`` stores)."""
        d = {k: v for k, v in asdict(self).items() if k != "extra"}
        d.update(self.extra)
        return d


@dataclass
class ImportOutcome:
    """What one import did: the final ``import_jobs`` values (counts in rows, percentage
    0-100), result-file URIs/URLs, ``elapsed`` seconds, ``failed_preview`` (first 20
    (row, error)), ``outcomes`` (counts of the ``"outcome"`` key handlers put in their
    results: inserted / updated / unchanged / skipped), ``progress_seconds`` (time spent on
    progress: log lines, import_jobs flushes, cancel checks)."""

    job_id: str
    status: str
    total_rows: int | None
    processed_rows: int
    success_count: int
    failure_count: int
    percentage: float | None
    success_file: dict[str, Any] | None
    failed_file: dict[str, Any] | None
    error_message: str | None
    elapsed: float
    failed_preview: list[tuple[int, str]] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)
    progress_seconds: float = 0.0


def _local_copy(loc, tmpdir: str | None) -> tuple[Path, Callable[[], None]]:
    """A local path for ``loc`` (downloaded, streamed, when it lives in S3) + its cleanup."""
    if loc.path is not None:
        return loc.path, lambda: None
    d = tempfile.mkdtemp(prefix="import-", dir=tmpdir)
    p = Path(d) / (loc.name or "input")
    with loc.open() as src, open(p, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    return p, lambda: shutil.rmtree(d, ignore_errors=True)


def _pct(processed: int, total: int | None) -> float | None:
    if not total:
        return None
    return round(min(100.0, 100.0 * processed / total), 2)


def _result_text(res: Any) -> str:
    if res is None:
        return ""
    if isinstance(res, str):
        return res
    try:
        return orjson.dumps(res, default=str).decode()
    except TypeError:  # e.g. non-str dict keys orjson refuses
        return json.dumps(res, default=str, ensure_ascii=False, separators=(",", ":"))


def run_import(warehouse: WarehouseResource, store: BlobStore, importer: str, file: str,
               options: ImportOptions | None = None, *, job_id: str | None = None, run_id: str | None = None,
               log: Any = None, should_stop: Callable[[], bool] | None = None) -> ImportOutcome:
    """Run one import of ``file`` (a local path, ``file://`` / ``s3://`` URI or a key in
    ``store``) with importer ``importer`` (see :mod:`.importers`); returns its outcome.

    The ``import_jobs`` row ``job_id`` (created when absent) is kept up to date. Ends with
    status ``succeeded`` (rows may have failed: see the failed file), ``cancelled`` (the
    cancel flag or ``should_stop()`` was seen between batches; committed batches stay), or
    ``failed``: then the error is recorded and re-raised (:class:`~.handlers.HandlerError`
    for a bad handler path, :class:`~ingestion_pipelines.engine.readers.FileFormatError` /
    ``ValueError`` / ``FileNotFoundError`` for an unreadable file, database errors).
    A ``KeyboardInterrupt`` (Dagster's run termination) rolls back the batch in progress,
    ends the job ``cancelled`` with result files for the committed rows, and propagates.
    """
    options = options or ImportOptions()
    log = log or log_
    job_id = job_id or str(uuid.uuid4())
    should_stop = should_stop or (lambda: False)
    started = time.monotonic()
    warehouse.setup(metadata)
    engine = warehouse.engine
    jobs.create_job(engine, job_id, importer, file, options.as_dict(), run_id)
    prior = jobs.job_status(engine, job_id)
    jobs.update_job(engine, job_id, status="cancelling" if prior == "cancelling" else "running",
                    started_at=jobs.now(), run_id=run_id, options=options.as_dict(), error_message=None)
    cancelled_early = prior == "cancelling"

    state: dict[str, Any] = dict(total=None, processed=0, ok=0, failed=0, preview=[], outcomes={}, progress_s=0.0)
    writers: dict[str, ResultFileWriter] = {}
    cleanup: Callable[[], None] = lambda: None
    fmt_out = options.output_format
    enable_files = settings.result_files_enabled()

    def finish(status: str, error: str | None = None) -> ImportOutcome:
        files: dict[str, dict[str, Any] | None] = {"success": None, "failed": None}
        loc_name = posixpath.basename(file.rstrip("/")) or "input"
        stem = loc_name.split(".")[0] or "input"
        for kind, w in writers.items():
            try:
                if w.rows_written == 0:
                    w.discard()
                    continue
                key = f"{settings.s3_prefix()}results/{job_id}/{stem}_{kind}.{fmt_out}"
                uri = w.upload(store, key)
                url = store.presigned_url(key, settings.presign_expires())
                files[kind] = {"uri": uri, "url": url, "rows": w.rows_written, "format": fmt_out}
                log.info(f"import {job_id}: {kind} file ({w.rows_written:,} rows): {uri}")
            except Exception as e:  # noqa: BLE001 - a result file must not hide the import's status
                log.error(f"import {job_id}: could not write the {kind} file: {e}")
                w.discard()
        writers.clear()
        total = state["total"]
        if status == "succeeded" and total is None:
            total = state["processed"]
        pct = 100.0 if status == "succeeded" else _pct(state["processed"], total)
        values = dict(status=status, finished_at=jobs.now(), total_rows=total, processed_rows=state["processed"],
                      success_count=state["ok"], failure_count=state["failed"], percentage=pct,
                      error_message=error)
        if options.create_result_file_records:
            values.update(success_file=files["success"], failed_file=files["failed"])
        jobs.update_job(engine, job_id, **values)
        cleanup()
        return ImportOutcome(job_id=job_id, status=status, total_rows=total, processed_rows=state["processed"],
                             success_count=state["ok"], failure_count=state["failed"], percentage=pct,
                             success_file=files["success"], failed_file=files["failed"], error_message=error,
                             elapsed=time.monotonic() - started, failed_preview=state["preview"],
                             outcomes=dict(state["outcomes"]), progress_seconds=state["progress_s"])

    try:
        imp = get_importer(importer)
        handler = h.resolve(options.handler_path or imp.handler_path)
        if imp.setup is not None:
            imp.setup(warehouse)
        loc = resolve_location(file, store)
        fmt = readers.detect_format(loc.name)
        path, cleanup = _local_copy(loc, settings.temp_dir())
        read_opts: dict[str, Any] = dict(name=loc.name, header_rows=options.header_rows)
        if options.encoding:
            read_opts["encoding"] = options.encoding
        if options.delimiter:
            read_opts["delimiter"] = options.delimiter
        if options.sheet:
            read_opts["sheet"] = int(options.sheet) if options.sheet.isdigit() else options.sheet
        if options.count_total_first:
            state["total"] = readers.count_records(path, fmt, **read_opts)
            jobs.update_job(engine, job_id, total_rows=state["total"], percentage=0.0 if state["total"] else None)
            log.info(f"import {job_id}: {state['total']:,} rows to import from {loc.uri}")
        records = readers.iter_records(path, fmt, **read_opts)
    except BaseException as e:
        finish("failed", f"{type(e).__name__}: {e}" if not isinstance(e, h.HandlerError) else str(e))
        raise

    if cancelled_early:  # cancelled while queued: nothing to do
        records.close()
        return finish("cancelled")

    with records, engine.connect() as conn, _frozen_heap():
        columns = list(records.columns or [])
        it: Iterator[readers.SourceRecord] = iter(records)
        first: list[readers.SourceRecord] = []
        if not columns and fmt in ("ndjson", "json"):
            # JSON objects: the union of every record's keys, in first-seen order (a key that
            # first appears in a later record still gets its column, as csvkit's in2csv does)
            columns = _json_columns(path, fmt, read_opts)
        if not columns:  # anything else without a header: the first readable record's keys
            for rec in it:
                first.append(rec)
                if rec.data is not None:
                    columns = [str(k) for k in rec.data]
                    break
        row_cls = h.row_class(columns)
        if enable_files:
            writers["success"] = ResultFileWriter(columns + ["import_result"], fmt_out, settings.temp_dir())
            writers["failed"] = ResultFileWriter(columns + ["import_error"], fmt_out, settings.temp_dir())
        ctx = h.ImportContext(conn=conn, job_id=job_id, run_id=run_id, file=loc.uri, columns=columns,
                              audit={"_source": loc.uri, "_run_id": run_id})
        token = h.set_current(ctx)
        handler_opts = options.as_dict()
        batch_fn = h.is_batch(handler)
        flush_n = settings.flush_every_n_batches()
        n_cols = len(columns)
        batch_no = 0
        status_q = sa.select(import_jobs.c.status).where(import_jobs.c.id == job_id)
        progress_q = (import_jobs.update().where(import_jobs.c.id == job_id)
                      .values(processed_rows=sa.bindparam("processed_rows"), success_count=sa.bindparam("success_count"),
                              failure_count=sa.bindparam("failure_count"), percentage=sa.bindparam("percentage"))
                      .returning(import_jobs.c.status))
        status = "succeeded"

        def to_row(rec: readers.SourceRecord) -> h.Row:
            d = rec.data or {}
            if len(d) == n_cols and fmt != "ndjson" and fmt != "json":
                vals = list(d.values())
            else:
                vals = [d.get(c) for c in columns]
            return row_cls(vals)

        def raw_cells(rec: readers.SourceRecord) -> list[Any]:
            raw = rec.raw
            if isinstance(raw, (list, tuple)):
                vals = list(raw)[:n_cols]
            else:
                vals = [raw] + [None] * max(n_cols - 1, 0) if n_cols else []
            return vals + [None] * (n_cols - len(vals))

        def batches() -> Iterator[list[readers.SourceRecord]]:
            src, size = itertools.chain(first, it), options.batch_size
            return iter(lambda: list(itertools.islice(src, size)), [])

        try:
            for recs in batches():
                good = [(r.row, to_row(r)) for r in recs if r.error is None]
                sw, fw = writers.get("success"), writers.get("failed")
                if batch_fn:
                    results = h.call_batch(handler, conn, good, job_id, handler_opts)
                else:
                    results = [h.call_row(handler, conn, i, row, job_id, handler_opts) for i, row in good]
                # result rows in input order; written to the result files once committed
                merged: Any = zip(good, results)
                if len(good) != len(recs):  # rows the reader could not read fail with its message
                    merged = _merge_unreadable(recs, merged, raw_cells)
                outcomes, preview = state["outcomes"], state["preview"]
                succ: list[list[Any]] = []
                fail: list[list[Any]] = []
                n_ok = n_failed = 0
                for (i, row), (ok, val) in merged:
                    if ok:
                        n_ok += 1
                        if type(val) is dict:
                            oc = val.get("outcome")
                            if type(oc) is str:
                                outcomes[oc] = outcomes.get(oc, 0) + 1
                        if sw is not None:
                            row.append(_result_text(val))
                            succ.append(row)
                        continue
                    n_failed += 1
                    if len(preview) < 20:
                        preview.append((i, val))
                    if fw is not None:
                        fail.append(row + [val])
                processed, n_ok, n_failed = state["processed"] + len(recs), state["ok"] + n_ok, state["failed"] + n_failed
                batch_no += 1
                # progress: log line; cancel flag read (every batch) and progress written (every
                # flush_n batches) in the batch's own transaction, so it costs no extra commit and
                # the counts in import_jobs are always those of committed rows
                t_progress = time.perf_counter()
                now = time.monotonic()
                total = state["total"]
                pct = _pct(processed, total)
                rate = processed / max(now - started, 1e-9)
                of = f"/{total:,}" if total else ""
                pc = f" ({pct:.1f}%)" if pct is not None else ""
                log.info(f"import {job_id}: {processed:,}{of} rows{pc}, ok={n_ok:,} "
                         f"failed={n_failed:,}, {rate:,.0f} rows/s")
                if batch_no % flush_n == 0:
                    job_now = conn.execute(progress_q, dict(processed_rows=processed, success_count=n_ok,
                                                            failure_count=n_failed, percentage=pct)).scalar()
                else:
                    job_now = conn.execute(status_q).scalar()
                stop_now = job_now == "cancelling" or should_stop()
                state["progress_s"] += time.perf_counter() - t_progress
                conn.commit()
                state["processed"], state["ok"], state["failed"] = processed, n_ok, n_failed
                if succ:
                    sw.write_many(succ)
                if fail:
                    fw.write_many(fail)
                if stop_now:
                    status = "cancelled"
                    log.warning(f"import {job_id}: cancelled after {state['processed']:,} rows (committed rows stay)")
                    break
        except BaseException as e:
            try:
                conn.rollback()
            except Exception:  # noqa: BLE001
                pass
            h.reset_current(token)
            interrupted = isinstance(e, KeyboardInterrupt) or type(e).__name__ == "DagsterExecutionInterruptedError"
            if interrupted:
                log.warning(f"import {job_id}: run terminated; stopped after {state['processed']:,} committed rows")
                finish("cancelled", "run terminated")
            else:
                finish("failed", f"{type(e).__name__}: {e}")
            raise
        h.reset_current(token)
    return finish(status)


@contextlib.contextmanager
def _frozen_heap() -> Iterator[None]:
    """Collect garbage once, then move every live object (the interpreter with Dagster and
    SQLAlchemy loaded: ~150k objects) out of the collector's view (``gc.freeze``) while the
    import runs, and back afterwards. Each full collection otherwise walks that whole heap:
    measured 23 full collections costing ~1.9 s of a 10.5 s, 200k-row import (18 %); with the
    heap frozen, 0.1 s. Rows are still collected as usual (they are not part of the frozen
    heap)."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _json_columns(path: Path, fmt: str, read_opts: dict[str, Any]) -> list[str]:
    """The union of the keys of every JSON object in the file, in first-seen order: one extra
    streamed pass over an NDJSON/JSON input (the result files' header must be known before
    their first row; measured cost: the parse only, no handler or database work)."""
    keys: dict[str, None] = {}
    with readers.iter_records(path, fmt, **read_opts) as recs:
        for rec in recs:
            if rec.data:
                keys.update(dict.fromkeys(rec.data))
    return [str(k) for k in keys]


def _merge_unreadable(recs: list, merged: Iterator, raw_cells: Callable) -> Iterator:
    """``merged`` (pairs for the readable records, in order) with a failed pair
    ``((row, raw cells), (False, reader message))`` put back at each unreadable record."""
    for r in recs:
        if r.error is None:
            yield next(merged)
        else:
            yield (r.row, raw_cells(r)), (False, r.error)


def new_job_id() -> str:
    """A fresh job id (UUID4 string)."""
    return str(uuid.uuid4())


