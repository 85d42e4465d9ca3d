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
        COMMIT; result rows -> success / failed / warnings result files (temp files, streamed)
        cancel flag or run termination -> stop
    upload result files; import_jobs: succeeded | cancelled | failed, counts, files
"""

from __future__ import annotations

import contextlib
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
from ...engine.outcomes import WARNING_COLUMNS, CellWarning, IngestReport
from ...engine.result_files import ResultFileWriter
from ...engine.runtime import frozen_heap
from ...resources.storage import BlobStore
from ...resources.warehouse import WarehouseResource
from . import handlers as h
from . import job_records
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
    progress: log lines, import_jobs flushes, cancel checks), ``warnings`` (optional cells
    that did not parse, from the handlers' results: ``warnings_total`` and the first 20) and
    ``warnings_file`` (``{"uri", "url", "rows", "format"}`` of the warnings file, or None)."""

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
    warnings_file: dict[str, Any] | None = None
    warnings: IngestReport = field(default_factory=IngestReport)


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
    run = _ImportRun(warehouse, store, importer, file, options or ImportOptions(), job_id or str(uuid.uuid4()),
                     run_id, log or log_, should_stop or (lambda: False))
    cancelled_early = run.start()
    try:
        handler, records = run.open_input()
    except BaseException as e:
        run.finish("failed", str(e) if isinstance(e, h.HandlerError) else f"{type(e).__name__}: {e}")
        raise
    if cancelled_early:  # cancelled while queued: nothing to do
        records.close()
        return run.finish("cancelled")
    with records, run.engine.connect() as conn, frozen_heap():
        status = run.import_records(conn, handler, records)
    return run.finish(status)


#: Result files of an import, in the order they are uploaded: (kind, last header column).
_RESULT_KINDS = (("success", "import_result"), ("failed", "import_error"))


class _ImportRun:
    """The state of one :func:`run_import`: the job row, the input, the result files (success,
    failed, warnings: streamed to temporary files, uploaded by :meth:`finish`) and the counts
    (``state``: total, processed, ok, failed, preview, outcomes, progress_s)."""

    def __init__(self, warehouse: WarehouseResource, store: BlobStore, importer: str, file: str,
                 options: ImportOptions, job_id: str, run_id: str | None, log: Any,
                 should_stop: Callable[[], bool]):
        self.warehouse, self.store, self.importer, self.file = warehouse, store, importer, file
        self.options, self.job_id, self.run_id, self.log, self.should_stop = options, job_id, run_id, log, should_stop
        self.engine = warehouse.engine
        self.started = time.monotonic()
        self.state: dict[str, Any] = dict(total=None, processed=0, ok=0, failed=0, preview=[], outcomes={},
                                          progress_s=0.0)
        self.warnings = IngestReport(max_warnings_kept=20)  # counts + the first 20, for the preview
        self.writers: dict[str, ResultFileWriter] = {}
        self.cleanup: Callable[[], None] = lambda: None

    def start(self) -> bool:
        """Create / mark the ``import_jobs`` row running; True when it was cancelled while queued."""
        self.warehouse.setup(metadata)
        opts = self.options.as_dict()
        job_records.create_job(self.engine, self.job_id, self.importer, self.file, opts, self.run_id)
        prior = job_records.job_status(self.engine, self.job_id)
        job_records.update_job(self.engine, self.job_id, status="cancelling" if prior == "cancelling" else "running",
                        started_at=job_records.now(), run_id=self.run_id, options=opts, error_message=None)
        return prior == "cancelling"

    def open_input(self) -> tuple[Callable, readers.RecordIterator]:
        """(handler, records): resolve the importer's handler, prepare its tables, make the file
        local, count its records (``count_total_first``) and open the reader."""
        imp = get_importer(self.importer)
        handler = h.resolve(self.options.handler_path or imp.handler_path)
        if imp.setup is not None:
            imp.setup(self.warehouse)
        self.loc = resolve_location(self.file, self.store)
        self.fmt = readers.detect_format(self.loc.name)
        self.path, self.cleanup = _local_copy(self.loc, settings.temp_dir())
        self.read_opts = _read_options(self.options, self.loc.name)
        if self.options.count_total_first:
            total = self.state["total"] = readers.count_records(self.path, self.fmt, **self.read_opts)
            job_records.update_job(self.engine, self.job_id, total_rows=total, percentage=0.0 if total else None)
            self.log.info(f"import {self.job_id}: {total:,} rows to import from {self.loc.uri}")
        return handler, readers.iter_records(self.path, self.fmt, **self.read_opts)

    def import_records(self, conn: sa.Connection, handler: Callable, records: readers.RecordIterator) -> str:
        """Every batch of ``records`` through ``handler`` on ``conn``; ``"succeeded"`` or
        ``"cancelled"``. Any other way out rolls back the batch in progress, finishes the job
        (``cancelled`` for a run termination, else ``failed``) and re-raises."""
        columns, first, it = self._columns(records)
        self._open_writers(columns)
        ctx = h.ImportContext(conn=conn, job_id=self.job_id, run_id=self.run_id, file=self.loc.uri, columns=columns,
                              audit={"_source": self.loc.uri, "_run_id": self.run_id})
        token = h.set_current(ctx)
        batches = _Batches(self, conn, handler, columns)
        try:
            src, size = itertools.chain(first, it), self.options.batch_size
            for recs in iter(lambda: list(itertools.islice(src, size)), []):
                if batches.import_batch(recs):
                    self.log.warning(f"import {self.job_id}: cancelled after {self.state['processed']:,} rows "
                                     "(committed rows stay)")
                    return "cancelled"
            return "succeeded"
        except BaseException as e:
            with contextlib.suppress(Exception):
                conn.rollback()
            h.reset_current(token)
            token = None
            if isinstance(e, KeyboardInterrupt) or type(e).__name__ == "DagsterExecutionInterruptedError":
                self.log.warning(f"import {self.job_id}: run terminated; stopped after "
                                 f"{self.state['processed']:,} committed rows")
                self.finish("cancelled", "run terminated")
            else:
                self.finish("failed", f"{type(e).__name__}: {e}")
            raise
        finally:
            if token is not None:
                h.reset_current(token)

    def _columns(self, records: readers.RecordIterator) -> tuple[list[str], list, Iterator]:
        """(columns, records already read to find them, the rest). JSON objects: the union of
        every record's keys, in first-seen order (a key that first appears in a later record
        still gets its column, as csvkit's in2csv does); anything else without a header: the
        first readable record's keys."""
        columns = list(records.columns or [])
        it: Iterator[readers.SourceRecord] = iter(records)
        first: list[readers.SourceRecord] = []
        if not columns and self.fmt in ("ndjson", "json"):
            columns = _json_columns(self.path, self.fmt, self.read_opts)
        if not columns:
            for rec in it:
                first.append(rec)
                if rec.data is not None:
                    columns = [str(k) for k in rec.data]
                    break
        return columns, first, it

    def _open_writers(self, columns: list[str]) -> None:
        if not settings.result_files_enabled():
            return
        fmt, tmp = self.options.output_format, settings.temp_dir()
        for kind, last in _RESULT_KINDS:
            self.writers[kind] = ResultFileWriter(columns + [last], fmt, tmp)
        self.writers["warnings"] = ResultFileWriter(WARNING_COLUMNS, fmt, tmp)

    def _upload(self) -> dict[str, dict[str, Any] | None]:
        """Upload the result files that have rows (``{stem}_success|failed|warnings.{fmt}``
        under ``results/{job_id}/``; the warnings file is the failed file's neighbour, as
        :func:`~ingestion_pipelines.engine.result_files.warnings_key` names it); a file that
        cannot be written is logged, never hides the import's status."""
        files: dict[str, dict[str, Any] | None] = {"success": None, "failed": None, "warnings": None}
        stem = (posixpath.basename(self.file.rstrip("/")) or "input").split(".")[0] or "input"
        fmt = self.options.output_format
        for kind, w in self.writers.items():
            try:
                if w.rows_written == 0:
                    w.discard()
                    continue
                key = f"{settings.s3_prefix()}results/{self.job_id}/{stem}_{kind}.{fmt}"
                uri = w.upload(self.store, key)
                url = self.store.presigned_url(key, settings.presign_expires())
                files[kind] = {"uri": uri, "url": url, "rows": w.rows_written, "format": fmt}
                self.log.info(f"import {self.job_id}: {kind} file ({w.rows_written:,} rows): {uri}")
            except Exception as e:  # noqa: BLE001 - a result file must not hide the import's status
                self.log.error(f"import {self.job_id}: could not write the {kind} file: {e}")
                w.discard()
        self.writers.clear()
        return files

    def finish(self, status: str, error: str | None = None) -> ImportOutcome:
        """Upload the result files, write the job's final row, clean up; the outcome."""
        files = self._upload()
        st = self.state
        total = st["total"]
        if status == "succeeded" and total is None:
            total = st["processed"]
        pct = 100.0 if status == "succeeded" else _pct(st["processed"], total)
        values = dict(status=status, finished_at=job_records.now(), total_rows=total, processed_rows=st["processed"],
                      success_count=st["ok"], failure_count=st["failed"], percentage=pct, error_message=error)
        if self.options.create_result_file_records:
            values.update(success_file=files["success"], failed_file=files["failed"])
        job_records.update_job(self.engine, self.job_id, **values)
        self.cleanup()
        return ImportOutcome(job_id=self.job_id, status=status, total_rows=total, processed_rows=st["processed"],
                             success_count=st["ok"], failure_count=st["failed"], percentage=pct,
                             success_file=files["success"], failed_file=files["failed"], error_message=error,
                             elapsed=time.monotonic() - self.started, failed_preview=st["preview"],
                             outcomes=dict(st["outcomes"]), progress_seconds=st["progress_s"],
                             warnings_file=files["warnings"], warnings=self.warnings)


def _read_options(options: ImportOptions, name: str) -> dict[str, Any]:
    """The reader's keyword arguments from the import's options (only those the user set)."""
    read_opts: dict[str, Any] = dict(name=name, header_rows=options.header_rows)
    if options.encoding:
        read_opts["encoding"] = options.encoding
    if options.delimiter:
        read_opts["delimiter"] = options.delimiter
    if options.sheet:
        read_opts["sheet"] = int(options.sheet) if options.sheet.isdigit() else options.sheet
    return read_opts


class _Batches:
    """One batch at a time: rows -> handler -> result rows, progress, commit, result files."""

    def __init__(self, run: _ImportRun, conn: sa.Connection, handler: Callable, columns: list[str]):
        self.run, self.conn, self.handler = run, conn, handler
        self.columns, self.n_cols = columns, len(columns)
        self.row_cls = h.row_class(columns)
        self.batch_fn = h.is_batch(handler)
        self.handler_opts = run.options.as_dict()
        self.flush_n = settings.flush_every_n_batches()
        self.batch_no = 0
        job = import_jobs.c.id == run.job_id
        self.status_q = sa.select(import_jobs.c.status).where(job)
        self.progress_q = (import_jobs.update().where(job)
                           .values(processed_rows=sa.bindparam("processed_rows"),
                                   success_count=sa.bindparam("success_count"),
                                   failure_count=sa.bindparam("failure_count"), percentage=sa.bindparam("percentage"))
                           .returning(import_jobs.c.status))
        self.json_input = run.fmt in ("ndjson", "json")

    def import_batch(self, recs: list[readers.SourceRecord]) -> bool:
        """Import one batch and commit it; True when the import must stop (cancel flag or
        run termination seen)."""
        good = [(r.row, self._row(r)) for r in recs if r.error is None]
        if self.batch_fn:
            results = h.call_batch(self.handler, self.conn, good, self.run.job_id, self.handler_opts)
        else:
            results = [h.call_row(self.handler, self.conn, i, row, self.run.job_id, self.handler_opts)
                       for i, row in good]
        # result rows in input order; written to the result files once committed
        merged: Any = zip(good, results)
        if len(good) != len(recs):  # rows the reader could not read fail with its message
            merged = _merge_unreadable(recs, merged, self._raw_cells)
        succ, fail, warned = self._sort(merged)
        stop_now, counts = self._progress(len(recs))
        self.conn.commit()
        st = self.run.state
        st["processed"], st["ok"], st["failed"] = counts
        w = self.run.writers
        if succ and "success" in w:
            w["success"].write_many(succ)
        if fail and "failed" in w:
            w["failed"].write_many(fail)
        if warned and "warnings" in w:
            w["warnings"].write_many([x.as_row() for x in warned])
        return stop_now

    def _row(self, rec: readers.SourceRecord) -> h.Row:
        d = rec.data or {}
        if len(d) == self.n_cols and not self.json_input:
            return self.row_cls(list(d.values()))
        return self.row_cls([d.get(c) for c in self.columns])

    def _raw_cells(self, rec: readers.SourceRecord) -> list[Any]:
        raw, n_cols = rec.raw, self.n_cols
        if isinstance(raw, (list, tuple)):
            vals = list(raw)[:n_cols]
        else:
            vals = [raw] + [None] * max(n_cols - 1, 0) if n_cols else []
        return vals + [None] * (n_cols - len(vals))

    def _sort(self, merged: Any) -> tuple[list[list[Any]], list[list[Any]], list[CellWarning]]:
        """(success rows + result text, failed rows + error, the rows' cell warnings); counts
        the batch's ``n_ok`` / ``n_failed`` and the handlers' ``outcome`` values."""
        st, report = self.run.state, self.run.warnings
        outcomes, preview = st["outcomes"], st["preview"]
        keep_success = "success" in self.run.writers
        succ: list[list[Any]] = []
        fail: list[list[Any]] = []
        warned: list[CellWarning] = []
        self.n_ok = self.n_failed = 0
        for (i, row), (ok, val) in merged:
            if ok:
                self.n_ok += 1
                if type(val) is dict:
                    oc = val.get("outcome")
                    if type(oc) is str:
                        outcomes[oc] = outcomes.get(oc, 0) + 1
                    if "warnings" in val:
                        for w in _cell_warnings(i, val.pop("warnings")):
                            warned.append(w)
                            report.warn(w)
                if keep_success:
                    row.append(_result_text(val))
                    succ.append(row)
                continue
            self.n_failed += 1
            if len(preview) < 20:
                preview.append((i, val))
            fail.append(row + [val])
        return succ, fail, warned

    def _progress(self, n_recs: int) -> tuple[bool, tuple[int, int, int]]:
        """The log line; the cancel flag read (every batch) and the progress written (every
        ``flush_n`` batches) in the batch's own transaction, so it costs no extra commit and
        the counts in import_jobs are always those of committed rows. Returns (stop?, the
        counts once this batch commits: processed, ok, failed)."""
        run, st = self.run, self.run.state
        t_progress = time.perf_counter()
        processed, n_ok, n_failed = st["processed"] + n_recs, st["ok"] + self.n_ok, st["failed"] + self.n_failed
        self.batch_no += 1
        total = st["total"]
        pct = _pct(processed, total)
        rate = processed / max(time.monotonic() - run.started, 1e-9)
        of = f"/{total:,}" if total else ""
        pc = f" ({pct:.1f}%)" if pct is not None else ""
        run.log.info(f"import {run.job_id}: {processed:,}{of} rows{pc}, ok={n_ok:,} "
                     f"failed={n_failed:,}, {rate:,.0f} rows/s")
        if self.batch_no % self.flush_n == 0:
            job_now = self.conn.execute(self.progress_q, dict(processed_rows=processed, success_count=n_ok,
                                                              failure_count=n_failed, percentage=pct)).scalar()
        else:
            job_now = self.conn.execute(self.status_q).scalar()
        stop_now = job_now == "cancelling" or run.should_stop()
        st["progress_s"] += time.perf_counter() - t_progress
        return stop_now, (processed, n_ok, n_failed)


def _cell_warnings(row: int, items: Any) -> Iterator[CellWarning]:
    """A handler result's ``"warnings"`` (mappings with ``column``, ``value``, ``reason``, or
    :class:`CellWarning`) as warnings of input row ``row``."""
    for w in items or ():
        if isinstance(w, CellWarning):
            yield CellWarning(row, w.column, w.value, w.reason)
        else:
            yield CellWarning(row, str(w.get("column", "")), w.get("value"), str(w.get("reason", "")))


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


