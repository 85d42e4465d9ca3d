"""One CSV export through its :class:`~.profiles.CsvProfile`: read, map, validate, upsert
(DESIGN.md §2's data path; the Dagster asset of :mod:`.profile_assets` and the benchmark call
:func:`load_csv`).

::

    sha256 of the file; already loaded (ingest_files: same uri + content, succeeded)? -> skipped
    engine.readers (encoding, BOM, delimiter, quoted newlines, ragged rows) -> headers
    map_headers -> a missing required column fails the file at once (recorded in the ledger)
    per row: RowConverter -> values + raw (bad optional cells -> warnings; bad key/required
        field -> failed row, written to the failed-rows file with its reason)
    per batch of BATCH_SIZE rows: StagedUpsert (PostgreSQL: COPY into the table or a staging
        table + one INSERT .. ON CONFLICT; other dialects: BatchLoader) -> inserted / updated /
        unchanged / skipped (a key repeated in the batch: the later row wins) / failed (the
        database refused the row); the ledger row's progress; COMMIT
    ledger: succeeded (or failed, with the error); failed-rows and warnings files uploaded

Memory is flat: rows stream from the reader in batches; failed rows and warnings stream to
temporary result files; only the first :data:`KEEP` of each stay in memory for the preview.
A dry run does all of it inside one transaction that is rolled back, records nothing in the
ledger and writes no file.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
import datetime as dt
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from ..resources.storage import BlobStore
from .copytext import COPY_NULL, copy_escape, copy_value
from .landing import Location, resolve_location, sha256_of
from .ledger import already_loaded, record_file
from .outcomes import WARNING_COLUMNS, CellWarning, IngestReport, Outcome, RowOutcome
from .profiles import ConvertedBatch, CsvProfile, HeaderMap, MissingColumnsError, RowConverter, map_headers, preview_cell
from .readers import FileFormatError, iter_records
from .runtime import frozen_heap
from .result_files import ResultFileWriter, warnings_key
from .schema import AUDIT_COLUMNS
from .staged import StagedResult, StagedUpsert
from .upsert import TableLoad

__all__ = ["CSV_BATCH_SIZE", "CsvLoadResult", "csv_batch_size", "load_csv"]

#: Rows per batch when neither the caller nor ``BATCH_SIZE`` says: one COPY + upsert + commit
#: per batch, so larger batches cost less per row (1,000-row batches spend ~a quarter of a
#: load in per-batch round trips); a repeated key is "the later row wins" within a batch.
CSV_BATCH_SIZE = 5000
#: Failed rows, skipped rows and warnings kept in memory for the preview (all go to the files).
KEEP = 1000


def csv_batch_size(given: int | None = None) -> int:
    """``given`` when positive, else ``BATCH_SIZE`` from the environment, else
    :data:`CSV_BATCH_SIZE`. Raises ``ValueError`` on a ``BATCH_SIZE`` that is not a positive
    integer (a typo must not silently become the default)."""
    if given and given > 0:
        return given
    env = os.environ.get("BATCH_SIZE")
    if not env:
        return CSV_BATCH_SIZE
    try:
        n = int(env)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"BATCH_SIZE must be a positive integer, not {env!r}")
    return n


@dataclass
class CsvLoadResult:
    """What :func:`load_csv` did with one file.

    ``status``: ``succeeded`` | ``skipped`` (this content of this file was loaded before) |
    ``failed`` (the file could not be read, or lacks a required column: ``error`` says what)
    | ``cancelled`` (stopped between batches; the committed batches stay) | ``dry_run``.
    ``report``: counts of every outcome (rows), warnings (count + the first :data:`KEEP`),
    the first failed and skipped rows; ``rows_read``: data rows read (each is counted in
    exactly one outcome); ``header_map``; ``preview``: the first rows as they land
    (column -> value, ``raw`` left out); ``failed_rows_file`` / ``warnings_file``: URIs
    (``""`` when none or a dry run); ``seconds``: wall time of the load.
    """

    profile: CsvProfile
    uri: str
    sha256: str = ""
    size: int = 0
    status: str = "succeeded"
    dry_run: bool = False
    error: str | None = None
    report: IngestReport = field(default_factory=lambda: IngestReport(max_failures_kept=KEEP, max_warnings_kept=KEEP))
    rows_read: int = 0
    header_map: HeaderMap | None = None
    encoding: str | None = None
    delimiter: str | None = None
    preview: list[dict[str, Any]] = field(default_factory=list)
    failed_rows_file: str = ""
    warnings_file: str = ""
    seconds: float = 0.0
    batch_size: int = 0

    @property
    def counts(self) -> dict[str, int]:
        return dict(self.report.counts)

    def preview_markdown(self) -> str:
        """The preview rows as a Markdown table (``""`` when there are none)."""
        if not self.preview:
            return ""
        cols = list(self.preview[0])
        lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        lines += ["| " + " | ".join(preview_cell(r.get(c)) for c in cols) + " |" for r in self.preview]
        return "\n".join(lines)

    def note(self) -> str:
        """One sentence on the file as a whole (empty, skipped, failed), ``""`` otherwise."""
        if self.status == "skipped":
            return f"already loaded: this content of {self.uri} was loaded before (use force_refresh / --force-refresh)"
        if self.status == "failed":
            return f"failed: {self.error}"
        if self.status == "cancelled":
            return f"cancelled after {self.rows_read} rows (the batches committed so far stay)"
        if self.rows_read == 0:
            return "the file has a header but no data rows: nothing to load"
        return ""

    def metadata(self) -> dict[str, Any]:
        """Materialization metadata (plain values; :mod:`.profile_assets` wraps Markdown)."""
        hm = self.header_map
        md: dict[str, Any] = {
            "file": self.uri, "sha256": self.sha256, "status": self.status, "dry_run": self.dry_run,
            "rows_read": self.rows_read, **self.counts, "warnings": self.report.warnings_total,
            "failed_rows_file": self.failed_rows_file, "warnings_file": self.warnings_file,
            "seconds": round(self.seconds, 3), "batch_size": self.batch_size,
            "rows_per_second": round(self.rows_read / self.seconds) if self.seconds > 0 else 0,
        }
        if self.encoding:
            md.update(encoding=self.encoding, delimiter=self.delimiter or "")
        if hm is not None:
            md.update(mapped_headers=sum(1 for _, f in hm.mapping() if f), unmapped_headers=len(hm.unmapped),
                      unmapped=", ".join(hm.unmapped))
        if self.note():
            md["note"] = self.note()
        return md


class _ResultFiles:
    """The failed-rows and warnings files of one load, streamed to temporary files as rows come
    (created on first use) and uploaded by :meth:`upload`; a dry run writes none."""

    def __init__(self, headers: list[str], enabled: bool):
        self.headers, self.enabled = headers, enabled
        self.failed: ResultFileWriter | None = None
        self.warned: ResultFileWriter | None = None

    def fail(self, row: int, cells: Any, reason: str) -> None:
        if not self.enabled:
            return
        if self.failed is None:
            self.failed = ResultFileWriter([*self.headers, "import_row", "import_error"])
        n = len(self.headers)
        cells = list(cells) if isinstance(cells, (list, tuple)) else [cells]
        extra = [c for c in cells[n:] if c not in (None, "")]
        self.failed.write([*cells[:n], *[None] * (n - len(cells[:n])), row, reason, *extra])

    def warn(self, warnings: list[CellWarning]) -> None:
        if not self.enabled:
            return
        if self.warned is None:
            self.warned = ResultFileWriter(WARNING_COLUMNS)
        self.warned.write_many([w.as_row() for w in warnings])

    def upload(self, store: BlobStore, failed_key: str) -> tuple[str, str]:
        """(failed-rows URI, warnings URI), ``""`` for a file that has no rows."""
        failed = self.failed.upload(store, failed_key) if self.failed else ""
        warned = self.warned.upload(store, warnings_key(failed_key)) if self.warned else ""
        return failed, warned

    def discard(self) -> None:
        for w in (self.failed, self.warned):
            if w is not None:
                w.discard()


def load_csv(warehouse: Any, store: BlobStore, profile: CsvProfile, location: str, *, run_id: str | None = None,
             dry_run: bool = False, force_refresh: bool = False, batch_size: int | None = None,
             preview_rows: int = 10, on_batch: Callable[[int], None] | None = None,
             should_stop: Callable[[], bool] | None = None) -> CsvLoadResult:
    """Load one export (``location``: a path, ``file://`` / ``s3://`` URI or a key in
    ``store``) into ``profile.target`` through ``warehouse`` (a
    :class:`~ingestion_pipelines.resources.warehouse.WarehouseResource`).

    ``dry_run``: everything runs in one transaction that is rolled back (would-be counts,
    mapping, preview; no ledger row, no result file). ``force_refresh``: load even when this
    content was loaded before. ``batch_size``: see :func:`csv_batch_size`. ``on_batch(rows
    read so far)`` after each committed batch; ``should_stop()`` is polled between batches.
    Returns a :class:`CsvLoadResult`; a file that cannot be read or lacks a required column
    is a ``failed`` result (recorded in ``ingest_files`` unless a dry run), not an exception.
    Raises ``FileNotFoundError`` (no such file), ``ValueError`` (bad ``BATCH_SIZE``) and
    database errors other than a refused row (after recording the failure in the ledger).
    """
    started = time.monotonic()
    loc = resolve_location(location, store)
    res = CsvLoadResult(profile, loc.uri, dry_run=dry_run, batch_size=csv_batch_size(batch_size))
    res.report.dry_run = dry_run
    res.sha256, res.size = sha256_of(loc)
    warehouse.setup(profile.metadata)
    ledger = dict(source=profile.ledger_source, uri=loc.uri, sha256=res.sha256, size=res.size)
    if not (dry_run or force_refresh):
        with warehouse.engine.connect() as conn:
            if already_loaded(conn, source=profile.ledger_source, uri=loc.uri, sha256=res.sha256):
                res.status = "skipped"
    records = _open_mapped(loc, profile, res) if res.status != "skipped" else None
    if res.status == "failed" and not dry_run:
        with warehouse.engine.begin() as conn:
            record_file(conn, **ledger, status="failed", run_id=run_id, error=(res.error or "")[:2000])
    if records is not None:
        _load_records(warehouse, store, records, res, run_id, preview_rows, on_batch, should_stop, ledger)
    res.seconds = time.monotonic() - started
    return res


def _open_mapped(loc: Location, profile: CsvProfile, res: CsvLoadResult):
    """The file's records with ``res.header_map`` set, or None with ``res`` failed (the file
    cannot be read, or lacks a required column)."""
    try:
        records = _open(loc, profile)
        res.encoding, res.delimiter = records.encoding, records.delimiter
        res.header_map = map_headers(records.columns or [], profile)
        res.header_map.check(f"{loc.name}: ")
        return records
    except (FileFormatError, MissingColumnsError, UnicodeError) as e:
        res.status, res.error = "failed", str(e)
        return None


def _load_records(warehouse: Any, store: BlobStore, records, res: CsvLoadResult, run_id: str | None,
                  preview_rows: int, on_batch, should_stop, ledger: dict) -> None:
    """The batches of an opened file, then its result files; on an error the ledger says
    ``failed`` (with the error) and the error propagates."""
    profile, dry_run = res.profile, res.dry_run
    files = _ResultFiles(list(res.header_map.headers), enabled=not dry_run)
    try:
        with records, warehouse.engine.connect() as conn, frozen_heap():
            _Load(conn, profile, res, files, run_id, preview_rows, on_batch, should_stop, ledger).run(records)
        if not dry_run:
            res.failed_rows_file, res.warnings_file = files.upload(
                store, f"results/crm/{profile.system}/{profile.object}/{run_id or 'local'}/{profile.object}_failed.csv")
    except BaseException as e:
        files.discard()
        if not dry_run:
            with warehouse.engine.begin() as conn:
                record_file(conn, **ledger, status="failed", run_id=run_id, rows_read=res.rows_read,
                            error=f"{type(e).__name__}: {e}"[:2000])
        raise


_TEXT_KINDS = frozenset({"text", "phone", "email", "zip", "us_state"})


def _copy_column(vals: list[Any], kind: str) -> list[str]:
    """One column of converted values in COPY text format (what :func:`~.copytext.copy_value`
    gives each, computed for the whole column where the kind allows)."""
    null = COPY_NULL
    if kind in _TEXT_KINDS:
        present = [x for x in vals if x is not None]
        joined = "".join(present)
        if "\\" in joined or "\t" in joined or "\n" in joined or "\r" in joined:
            return [null if x is None else copy_escape(x) for x in vals]
        return [null if x is None else x for x in vals] if len(present) < len(vals) else vals
    if kind in ("datetime", "date", "time"):
        return [null if x is None else x.isoformat() for x in vals]
    if kind == "boolean":
        return [null if x is None else ("t" if x else "f") for x in vals]
    if kind in ("integer", "decimal", "money"):
        return [null if x is None else str(x) for x in vals]
    if kind == "raw":
        return _copy_raw(vals)
    if kind == "raw_json":
        return _copy_json_texts(vals)
    return [copy_value(x) for x in vals]


def _copy_raw(vals: list[Any]) -> list[str]:
    """The ``raw`` column (``{header: cell}`` dicts) as COPY text: ``orjson.dumps`` of each
    (JSON text escapes every control character, so only a backslash needs escaping for
    COPY: :func:`~.copytext.copy_escape` runs only on the rows that have one, found by one
    search of the whole column)."""
    dumps = orjson.dumps
    return _copy_json_texts([None if x is None else dumps(x).decode() for x in vals])


def _copy_json_texts(texts: list[str | None]) -> list[str]:
    """JSON texts (``None``: NULL) as COPY text: JSON escapes every control character, so
    only a backslash needs escaping for COPY (:func:`~.copytext.copy_escape` runs only on
    the texts that have one, found by one search of the whole column)."""
    if None in texts:
        texts = [COPY_NULL if t is None else t for t in texts]
    if "\\" in "".join(texts):
        return [t if t is COPY_NULL else copy_escape(t) for t in texts]
    return texts


def copy_lines(batch: ConvertedBatch) -> list[str]:
    """The good rows of a converted batch as COPY text lines, rendered column by column."""
    cols = [_copy_column(col, kind) for col, kind in zip(batch.columns, batch.kinds)]
    return list(map("\t".join, zip(*cols)))


def _not_comparable(conn: sa.Connection, table: sa.Table) -> frozenset[str]:
    """The columns an unchanged row is not compared on: the audit columns, and on PostgreSQL
    a plain ``json`` column (no equality operator; ``engine.schema.JSON_TYPE`` is JSONB there)."""
    out = set(AUDIT_COLUMNS)
    if conn.dialect.name == "postgresql":
        out |= {c.name for c in table.c if isinstance(c.type.dialect_impl(conn.dialect), sa.JSON)
                and not isinstance(c.type.dialect_impl(conn.dialect), JSONB)}
    return frozenset(out)


def _portable(batch: ConvertedBatch) -> list[tuple]:
    """The batch's rows for dialects without a time-zone type (SQLite, MySQL: the driver
    writes a datetime's wall time and drops its offset): aware datetimes in UTC, which is how
    the loader reads a stored naive value back."""
    cols = list(batch.columns)
    for j, kind in enumerate(batch.kinds):
        if kind == "datetime":
            cols[j] = [x.astimezone(dt.timezone.utc) if x is not None and x.tzinfo is not None else x for x in cols[j]]
    return list(zip(*cols)) if cols else []


def _open(loc: Location, profile: CsvProfile):
    """The record iterator of a CSV/TSV (or XLSX, by name) export."""
    name = loc.name.lower()
    fmt = "xlsx" if name.endswith(".xlsx") else "tsv" if name.endswith((".tsv", ".tab")) else "csv"
    source: Any = loc.path if loc.path is not None else loc.open()
    return iter_records(source, fmt, name=loc.name, encoding=profile.encoding, delimiter=profile.delimiter)


class _Load:
    """The batch loop of one file on one connection (see :func:`load_csv`).

    Two threads: this one reads, converts and renders batch N+1 while a writer thread upserts
    and commits batch N (the database's work and Python's overlap: on PostgreSQL the writer
    mostly waits for the server, without the GIL). Every database call happens on the
    writer thread, one batch at a time; outcomes are counted here, in batch order."""

    def __init__(self, conn: sa.Connection, profile: CsvProfile, res: CsvLoadResult, files: _ResultFiles,
                 run_id: str | None, preview_rows: int, on_batch, should_stop, ledger: dict):
        self.conn, self.profile, self.res, self.files = conn, profile, res, files
        self.run_id, self.preview_rows, self.ledger = run_id, preview_rows, ledger
        self.on_batch, self.should_stop = on_batch, should_stop or (lambda: False)
        self.conv = RowConverter(profile, res.header_map)
        spec = TableLoad(profile.target, key=profile.key, preserve_on_blank=profile.preserve_on_blank,
                         fill_only=profile.fill_only, compare_exclude=_not_comparable(conn, profile.target))
        self.upsert = StagedUpsert(conn, spec, self.conv.columns, audit={"_source": res.uri, "_run_id": run_id},
                                   async_commit=not res.dry_run)
        self.pg = self.upsert.is_postgres
        self.started_at = dt.datetime.now(dt.timezone.utc)
        self.pending: tuple[Future, ConvertedBatch] | None = None

    def run(self, records) -> None:
        with ThreadPoolExecutor(1, thread_name_prefix="csv-writer") as writer:
            try:
                self._run(records, writer)
            finally:
                self._settle()  # the last batch (or, on an error, let it finish before we roll back)

    def _run(self, records, writer: ThreadPoolExecutor) -> None:
        res = self.res
        if not res.dry_run:
            writer.submit(self._ledger, "running").result()
        batch: list[tuple[int, Any, None]] = []
        size, n = res.batch_size, 0
        try:
            for n, got in enumerate(records.cell_rows(), 1):
                if got[2] is not None:  # (row, raw, error): the reader could not read this row
                    self._failed(*got)
                    continue
                batch.append(got)  # (row, cells, None): what convert_batch takes (raw from the cells)
                if len(batch) >= size:
                    res.rows_read = n
                    self._flush(batch, writer)
                    batch = []
                    if self.should_stop():
                        res.status = "cancelled"
                        break
            else:
                res.rows_read = n
                self._flush(batch, writer)
        finally:
            res.rows_read = max(res.rows_read, n)
        self._settle()
        writer.submit(self._finish).result()

    def _finish(self) -> None:
        res = self.res
        if res.dry_run:
            self.conn.rollback()
            res.status = "dry_run"
        else:
            self._ledger("succeeded" if res.status == "succeeded" else "failed",
                         error=None if res.status == "succeeded" else res.note())
            self.conn.commit()

    def _failed(self, row: int, cells: Any, reason: str) -> None:
        self.res.report.add(RowOutcome(row, Outcome.FAILED, error=reason))
        self.files.fail(row, cells if cells is not None else [], reason)

    def _flush(self, batch: list[tuple[int, Any, None]], writer: ThreadPoolExecutor) -> None:
        """Convert and render one batch here, then hand it to the writer (after counting the
        previous batch's outcomes)."""
        if not batch:
            return
        res = self.res
        got = self.conv.convert_batch(batch, raw_json=self.pg)
        for row, cells, err in got.failed:
            self._failed(row, cells, str(err))
        for row, reason in got.skipped:
            res.report.add(RowOutcome(row, Outcome.SKIPPED, error=reason))
        if got.warnings:
            res.report.add_warnings(got.warnings)
            self.files.warn(got.warnings)
        room = self.preview_rows - len(res.preview)
        if room > 0:
            res.preview.extend({"row": row, **{c: x for c, x in zip(got.names, vals) if c != "raw"}}
                               for row, vals in zip(got.rows[:room], got.values()[:room]))
        rows = list(zip(got.rows, copy_lines(got) if self.pg else _portable(got)))
        self._settle()
        self.pending = (writer.submit(self._write, rows, res.rows_read), got)

    def _write(self, rows: list[tuple[int, Any]], rows_read: int) -> StagedResult:
        """The writer thread: upsert one batch, record the progress, commit."""
        written = StagedResult()
        if rows:
            written = self.upsert.load_copy(rows) if self.pg else self.upsert.load_values(rows)
        if not self.res.dry_run:
            self._ledger("running", rows_read=rows_read)
            self.conn.commit()
        return written

    def _settle(self) -> None:
        """Wait for the batch the writer has (re-raising its error) and count its outcomes."""
        if self.pending is None:
            return
        future, got = self.pending
        self.pending = None
        self._count(future.result(), got)
        if self.on_batch:
            self.on_batch(self.res.rows_read)

    def _count(self, written: StagedResult, got: ConvertedBatch) -> None:
        counts = self.res.report.counts
        counts["inserted"] += written.inserted
        counts["updated"] += written.updated
        counts["unchanged"] += written.unchanged
        if written.failed:
            cells = dict(zip(got.rows, got.cells))
            for line, reason in written.failed:
                self._failed(line, cells.get(line, []), reason)
        for line, reason in written.skipped:
            self.res.report.add(RowOutcome(line, Outcome.SKIPPED, error=reason))

    def _ledger(self, status: str, error: str | None = None, rows_read: int | None = None) -> None:
        r = self.res.report
        record_file(self.conn, **self.ledger, status=status, run_id=self.run_id,
                    rows_read=self.res.rows_read if rows_read is None else rows_read,
                    rows_loaded=r.loaded, rows_failed=r.failed_total, error=error, started_at=self.started_at)
