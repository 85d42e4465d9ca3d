"""Loading one tenant's landed NDJSON files of one entity into the warehouse.

The path (DESIGN.md §2): list ``tenants/<tenant_id>/`` in the BlobStore -> for each file of
the entity (key order = chunk order): skip it when the ``ingest_files`` ledger says this
content (sha256) already loaded — the sha256 is the landing sensor's (handed over in a
sensor run's config while the file's etag is unchanged), else a file the ledger has never
seen is hashed while it loads (read once), any other hashed first -> each row names its
file's ledger row (``_ingest_file_id``) -> read 2 MB slices of whole lines (gzip by magic bytes) ->
:class:`~ingestion_pipelines.engine.columnar.ColumnarParser` (Arrow: a slice parsed,
validated and rendered as COPY text at once; references to the tenant's parent rows checked
against their ids, loaded once per entity — in SQL instead when a parent has more than
``MAX_PARENT_IDS_IN_MEMORY`` rows), the lines it declines through the careful per-line
:class:`~.records.Parser` (which gives each bad line its reason), duplicate ids within a file
(:class:`FileIds`) -> batches of ~``batch_size`` rows (:class:`~ingestion_pipelines.engine.
copytext.CopyRows`, whole text blocks) -> :class:`~ingestion_pipelines.engine.staged.StagedUpsert`
(PostgreSQL: COPY straight into the table while the keys are new, the audit columns filled by
their defaults; else COPY into staging + upsert; other dialects: executemany) on one writer
thread per entity load (:class:`_Writer`) while the parser goes on — into the next file too
-> one commit per batch -> ledger row per file -> ``ANALYZE`` after a big load.

Every bad line (file, line number, reason, the raw line) goes to one failed-records NDJSON file
per (tenant, entity, run) in the BlobStore, written through a local temporary file so memory
stays flat; an optional field that does not parse only leaves its column NULL, and goes to the
warnings CSV beside it (:class:`CellWarnings`, DESIGN.md §9). Memory: the ids seen so far in the file (to report duplicates; ~36 bytes each,
~13 MB for a 350,000-line chunk file, see :class:`FileIds`) and the parent ids (8 bytes each
above 100,000), plus at most three batches and one slice (the raw text of a line the
database refuses is read again from the file afterwards). Measured on the seed's shapes: BENCHMARKS.md "tenants".
"""

from __future__ import annotations

import gc
from bisect import bisect_right
import hashlib
import io
import os
import posixpath
import queue
import re
import tempfile
import threading
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Callable, Iterator, Mapping

import orjson
import sqlalchemy as sa

from ...engine.copytext import CopyRows
from ...engine.landing import Location, sha256_of
from ...engine.ledger import already_loaded, record_file, rekey_file, seen_before
from ...engine.outcomes import WARNING_COLUMNS, CellWarning, IngestReport, ProgressLogger
from ...engine.result_files import ResultFileWriter, warnings_key
from .names import LANDING_PREFIX
from ...engine.schema import qualified_name
from ...engine.staged import StagedResult, StagedUpsert
from ...resources.storage import BlobObject, BlobStore
from . import schema
from ...engine.columnar import ColumnarParser
from .records import (FIELDS, SOURCE, BadLine, HashedIdSet, Parser, columns, copy_to_values, entity_of, hashes_of,
                      in_sorted, parent_refs)

RESULTS_PREFIX = "results/tenants"


def landing_prefix(tenant_id: str) -> str:
    """The BlobStore prefix of a tenant's landed files: ``tenants/<tenant_id>/``."""
    return f"{LANDING_PREFIX}{tenant_id}/"


def landed_files(store: BlobStore, tenant_id: str, entity: str | None = None) -> list[BlobObject]:
    """The tenant's landed data files (of ``entity`` when given), in key order."""
    out = []
    for obj in store.list(landing_prefix(tenant_id)):
        parsed = entity_of(posixpath.basename(obj.key), tenant_id)
        if parsed and (entity is None or parsed[0] == entity):
            out.append(obj)
    return out


def iter_lines(f: BinaryIO, chunk: int = 1 << 20) -> Iterator[bytes]:
    """The ``\\n``-separated lines of a binary stream (without the newline; a trailing
    ``\\r`` is removed), read ``chunk`` bytes at a time (see :func:`iter_slices`)."""
    for data in iter_slices(f, chunk):
        yield from _split_lines(data)


def _split_lines(data: bytes) -> list[bytes]:
    """The lines of a slice of whole lines (see :func:`iter_slices`), without their
    newlines; a trailing ``\r`` is removed."""
    return [ln[:-1] if ln.endswith(b"\r") else ln for ln in data.split(b"\n")[:-1]]


@dataclass
class FileResult:
    """One file's outcome: ``status`` loaded | skipped (already loaded) | failed."""

    uri: str
    name: str
    status: str
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    #: lines not loaded because a later line of the same batch has the same key (see
    #: :class:`~ingestion_pipelines.engine.staged.StagedResult`); listed in the failed-records file
    skipped: int = 0
    failed: int = 0
    #: optional fields that did not parse (their rows loaded with them NULL; see :class:`CellWarnings`)
    warnings: int = 0
    error: str | None = None
    #: database seconds per phase (copy, orphans, write) of the writer connection
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class EntityResult:
    """All files of one (tenant, entity) in one run, with totals in rows."""

    tenant_id: str
    entity: str
    files: list[FileResult] = field(default_factory=list)
    failed_rows_file: str | None = None
    failures_preview: list[dict[str, Any]] = field(default_factory=list)

    def total(self, attr: str, *, loaded_only: bool = False) -> int:
        """Sum of ``attr`` over the files (only those with status ``loaded`` when ``loaded_only``)."""
        return sum(getattr(f, attr) for f in self.files if not loaded_only or f.status == "loaded")

    @property
    def failed_files(self) -> list[FileResult]:
        """Files that failed part-way (their error in ``FileResult.error`` and the ledger)."""
        return [f for f in self.files if f.status == "failed"]

    def timings(self) -> dict[str, float]:
        """Database seconds per phase over all files (see :class:`FileResult`)."""
        out: dict[str, float] = {}
        for f in self.files:
            for k, v in f.timings.items():
                out[k] = out.get(k, 0.0) + v
        return out


class FailedRecords:
    """Streams bad lines to a temporary NDJSON file; :meth:`upload` puts it in the BlobStore.

    Each line: ``{"file": uri, "line": n, "error": reason, "raw": original line}`` (invalid
    UTF-8 in ``raw`` shown as ``\\xNN``)."""

    def __init__(self, preview: int = 10):
        fd, self.path = tempfile.mkstemp(prefix="failed-", suffix=".ndjson")
        self.f = os.fdopen(fd, "wb")
        self.count = 0
        self.preview: list[dict[str, Any]] = []
        self.preview_n = preview

    def add(self, uri: str, line: int, error: str, raw: bytes | None) -> None:
        rec = {"file": uri, "line": line, "error": error,
               "raw": raw.decode("utf-8", "backslashreplace")[:20_000] if raw is not None else None}
        self.f.write(orjson.dumps(rec) + b"\n")
        self.count += 1
        if len(self.preview) < self.preview_n:
            self.preview.append(rec)

    def upload(self, store: BlobStore, key: str) -> str | None:
        self.f.close()
        try:
            if not self.count:
                return None
            return store.put_file(key, self.path, content_type="application/x-ndjson")
        finally:
            os.unlink(self.path)


class CellWarnings:
    """The optional-cell rule's warnings of one entity load (DESIGN.md §9): each optional
    field that did not parse, its line loaded with that column NULL, streamed to a temporary
    CSV; :meth:`upload` puts it beside the failed-records file. Columns: ``file`` (its URI;
    one load reads many files) and :data:`~ingestion_pipelines.engine.outcomes.WARNING_COLUMNS`
    (``row`` = the line number, ``column`` = the field, ``value`` as the line wrote it: the
    tenants tables have no raw column, so this file is where the text is kept, ``reason``).
    ``report`` counts them and keeps the first ten for the materialization's listing."""

    def __init__(self) -> None:
        self.report = IngestReport(max_warnings_kept=10)
        self._file = ResultFileWriter(["file", *WARNING_COLUMNS], "csv")

    def add(self, uri: str, line: int, warnings: list[tuple[str, str, str]]) -> None:
        """Line ``line`` of ``uri`` loaded with these ``(field, value, reason)`` left NULL."""
        for column, value, reason in warnings:
            w = CellWarning(line, column, value, reason)
            self.report.warn(w)
            self._file.write([uri, *w.as_row()])

    def upload(self, store: BlobStore, failed_key: str) -> str | None:
        """The warnings file beside ``failed_key`` (:func:`~ingestion_pipelines.engine.
        result_files.warnings_key`); its URI, or None (nothing written) when there are none."""
        if not self.report.warnings_total:
            self._file.discard()
            return None
        return self._file.upload(store, warnings_key(failed_key))


class _Sha256:
    """sha256 and size (bytes) of the stored bytes read through :class:`_HashingReader`."""

    def __init__(self) -> None:
        self.h = hashlib.sha256()
        self.size = 0


class _HashingReader:
    """``read`` of a binary stream that also feeds what it reads to a :class:`_Sha256`."""

    def __init__(self, raw: BinaryIO, hasher: _Sha256):
        self.raw, self.hasher = raw, hasher

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.hasher.h.update(data)
        self.hasher.size += len(data)
        return data

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self.raw.close()


def _open_binary(store: BlobStore, obj: BlobObject, hasher: _Sha256 | None = None) -> tuple[BinaryIO, Callable[[], None]]:
    """The object's bytes (gunzipped when gzip by its magic bytes) and a close function;
    with ``hasher``, the stored bytes are hashed as they are read. A plain local file is read
    directly (the general reader's wrapping costs ~1 s of copying per GB)."""
    from ...engine.readers import open_binary

    raw = store.open(obj.key)
    peek = getattr(raw, "peek", None)
    if peek is not None and peek(2)[:2] != b"\x1f\x8b":
        return (raw if hasher is None else _HashingReader(raw, hasher)), raw.close
    if hasher is not None:
        raw = _HashingReader(raw, hasher)
    f = open_binary(raw)

    def close() -> None:
        f.close()
        raw.close()

    return f, close


def _open_lines(store: BlobStore, obj: BlobObject) -> tuple[Iterator[bytes], Callable[[], None]]:
    f, close = _open_binary(store, obj)
    return iter_lines(f), close


_SHA256_HEX = re.compile(r"[0-9a-f]{64}")

#: Bytes read per slice of a file for the columnar path (whole lines; ~12,000 order items).
#: Larger slices are no faster and keep more memory resident (8 MB: +90 MB peak RSS).
SLICE_BYTES = 2 << 20
#: A block Arrow refuses is halved down to this many lines, then parsed line by line.
MIN_COLUMNAR_LINES = 256


def iter_slices(f: BinaryIO, size: int = SLICE_BYTES) -> Iterator[bytes]:
    """Slices of about ``size`` bytes of a binary stream, each made of whole lines and ending
    with ``\\n`` (one is added to a last line without it)."""
    pending = b""
    while True:
        data = f.read(size)
        if not data:
            break
        if pending:
            data = pending + data
        cut = data.rfind(b"\n") + 1
        if not cut:
            pending = data
            continue
        pending = data[cut:]
        yield data[:cut]
    if pending:
        yield pending + b"\n"


def load_entity(conn: sa.Connection, store: BlobStore, tenant_id: str, entity: str, *, run_id: str,
                batch_size: int = 20_000, log: Any = None, should_stop: Callable[[], bool] = lambda: False,
                failed: FailedRecords | None = None, landed_sha256: Mapping[str, str] | None = None,
                warnings: CellWarnings | None = None) -> EntityResult:
    """Load every landed file of ``entity`` for ``tenant_id`` through ``conn`` (committed per
    batch and per ledger row). Returns an :class:`EntityResult`; bad lines go to ``failed``,
    optional fields that did not parse (their lines loaded) to ``warnings``.
    A file that fails part-way (e.g. a gzip truncated mid-file, a refused batch) is rolled back
    to its last committed batch, recorded as ``failed`` with its error in the ``ingest_files``
    ledger (so a later run loads it again) and in the result (``status="failed"``, ``error``),
    and the next file is loaded; the caller decides how to report it (see
    :attr:`EntityResult.failed_files`). Errors of the ledger itself (e.g. a lost connection)
    propagate.

    ``landed_sha256``: BlobStore key -> ``"<sha256>@<etag>"`` of files already hashed (by the
    landing sensor, :func:`~.sensors.plan_tick`); a file listed with its current etag (size
    and modification time) is not hashed again."""
    result = EntityResult(tenant_id, entity)
    table = schema.ENTITY_TABLES[entity]
    cols = columns(entity)
    refs = parent_refs(entity)
    progress = ProgressLogger(log, f"{entity} [{tenant_id}]", every_rows=500_000) if log is not None else None
    _load_files(conn, store, tenant_id, entity, landed_files(store, tenant_id, entity), result, table, cols, refs,
                run_id, batch_size, log, should_stop, failed, progress, landed_sha256 or {}, warnings)
    if progress is not None and progress.done:
        progress.finish()
    if conn.dialect.name == "postgresql" and result.total("inserted") + result.total("updated") >= ANALYZE_ABOVE:
        # current statistics after a bulk load (PostgreSQL's advice; autovacuum would come
        # later): the checks' scan then plans a parallel hash join (1.75 M order items:
        # 0.7 s instead of 1.4 s), and so do downstream queries
        conn.exec_driver_sql(f"ANALYZE {qualified_name(conn, table)}")
        conn.commit()
    return result


@dataclass
class _FileJob:
    """One file an entity load reads: its ledger key (``sha`` — a placeholder while a first
    load hashes it, see :func:`load_entity`), its outcome, and what the writer found."""

    obj: BlobObject
    sha: str
    size: int | None
    hasher: "_Sha256 | None"
    fr: FileResult
    #: the database error that stopped this file (set by the writer thread)
    error: BaseException | None = None
    db_failed: list[tuple[int, str]] = field(default_factory=list)
    db_skipped: list[tuple[int, str]] = field(default_factory=list)
    #: its ``ingest_files`` row (set by the writer when the row is created)
    file_id: int | None = None


def _load_files(conn, store, tenant_id, entity, files, result, table, cols, refs, run_id, batch_size,
                log, should_stop, failed, progress, landed_sha256: Mapping[str, str],
                warnings: CellWarnings | None = None) -> None:
    """The file loop of :func:`load_entity`: first the ledger decides which files load (a
    file loaded before is hashed — unless the sensor's hash of it still holds — and skipped
    when its content did); then this thread parses
    the files one after the other while one writer thread (:class:`_Writer`, on ``conn``)
    records each file's ledger row, COPYs its batches and closes its ledger row — so the
    parser is already in the next file while the last batch of the previous one is written
    (on one tenant's order items the writer used to wait ~45 ms at every file boundary).
    (Hashing the next file on a background thread, and two files at once on two
    connections, were tried: on two CPUs they only took time from the COPY.)"""
    plan: list[FileResult | _FileJob] = []
    for obj in files:
        name = posixpath.basename(obj.key)
        hasher: _Sha256 | None = None
        known, _, etag = landed_sha256.get(obj.key, "").partition("@")
        if _SHA256_HEX.fullmatch(known) and etag == obj.etag:  # hashed by the landing sensor, unchanged since
            sha, size = known, obj.size
        # a file the ledger has seen (loaded, or an attempt that failed) is hashed first; a
        # new one is hashed while it loads, its ledger row keyed by a placeholder until then
        # (so rekey_file never meets an earlier row of the same content, which rows of that
        # attempt would reference, except when two runs load the same new file at once)
        elif seen_before(conn, source=SOURCE, uri=obj.uri, tenant_id=tenant_id):
            sha, size = sha256_of(Location(uri=obj.uri, store=store, key=obj.key))
        else:  # a first load: the file is read once, hashed while it loads
            hasher = _Sha256()
            sha, size = f"pending:{run_id}"[:64], None
        if hasher is None and already_loaded(conn, source=SOURCE, uri=obj.uri, sha256=sha, tenant_id=tenant_id):
            plan.append(FileResult(obj.uri, name, "skipped"))
            if log is not None:
                log.info(f"{name}: already loaded (sha256 {sha[:12]}), skipped")
            continue
        plan.append(_FileJob(obj, sha, size, hasher, FileResult(obj.uri, name, "loaded")))
    jobs = [j for j in plan if isinstance(j, _FileJob)]
    ref_sets: list[tuple[str, Any, str]] = []
    if jobs and refs:
        ref_sets, refs = _parent_id_sets(conn, entity, tenant_id, refs)
        if refs:
            StagedUpsert(conn, table, cols, refs).analyze_parents()
    conn.commit()
    started: set[int] = set()
    if jobs:
        writer = _Writer(conn, store, entity, tenant_id, table, cols, refs, run_id, failed, progress, log,
                         warnings)
        try:
            for job in jobs:
                started.add(id(job))
                writer.begin(job)
                _parse_file(writer, store, job, entity, tenant_id, batch_size, ref_sets)
                if should_stop():
                    break
        except BaseException:
            writer.close(raise_error=False)  # the error in flight tells; the writer's own is logged
            raise
        writer.close()
    result.files.extend(j if isinstance(j, FileResult) else j.fr for j in plan
                        if isinstance(j, FileResult) or id(j) in started)


class _Writer:
    """The writer thread of one entity load: takes ``("begin", job)``, ``("batch", job,
    rows)`` and ``("end", job, parse_error)`` from a queue (at most one waiting: memory stays
    at ~three batches) and does the database work on ``conn`` in that order — the file's
    ledger row ``running``, one commit per batch (``synchronous_commit`` off: the ledger row
    that says ``succeeded`` commits synchronously afterwards), then the ledger row's outcome.

    A batch the database refuses as a whole (after :class:`~ingestion_pipelines.engine.
    staged.StagedUpsert` bisected it), an error reading the file, or a failure to read it
    again for the raw text of refused lines fails that file: rolled back to its last
    committed batch, the rest of its batches dropped, ``failed`` with the error in the
    ledger and in its :class:`FileResult`; the next file loads. An error of the ledger itself
    (e.g. a lost connection) stops the load: :meth:`check` and :meth:`close` raise it in the
    parsing thread."""

    def __init__(self, conn, store, entity, tenant_id, table, cols, refs, run_id, failed, progress, log,
                 warnings: CellWarnings | None = None):
        self.conn, self.store, self.entity, self.tenant_id = conn, store, entity, tenant_id
        self.table, self.cols, self.refs, self.run_id = table, cols, refs, run_id
        self.failed, self.progress, self.log, self.warnings = failed, progress, log, warnings
        self.pg = conn.dialect.name == "postgresql"
        self.lock = threading.Lock()
        self.fatal: BaseException | None = None
        self.loader: StagedUpsert | None = None
        self.work: queue.Queue = queue.Queue(maxsize=1)
        self.thread = threading.Thread(target=self._run, name=f"tenants-writer-{entity}", daemon=True)
        self.thread.start()

    # -- the parsing thread's side --------------------------------------------------------
    def begin(self, job: _FileJob) -> None:
        self.check()
        self.work.put(("begin", job))

    def batch(self, job: _FileJob, rows: CopyRows) -> None:
        self.check()
        self.work.put(("batch", job, rows))

    def end(self, job: _FileJob, parse_error: BaseException | None = None) -> None:
        self.work.put(("end", job, parse_error))

    def check(self) -> None:
        """Raise the ledger error that stopped the writer, if any."""
        if self.fatal is not None:
            raise self.fatal

    def close(self, raise_error: bool = True) -> None:
        """Let the writer finish what is queued, and stop it; raise its ledger error, if any
        (unless ``raise_error`` is False: then it is only logged)."""
        self.work.put(None)
        self.thread.join()
        if raise_error:
            self.check()
        elif self.fatal is not None and self.log is not None:
            self.log.error(f"the {self.entity} writer also failed: {type(self.fatal).__name__}: {self.fatal}")

    def bad(self, job: _FileJob, line: int, reason: str, raw: bytes | None, *, skipped: bool = False) -> None:
        """Count line ``line`` of ``job``'s file as failed (or, with ``skipped``, skipped:
        replaced by a later line of its batch) and write it to the failed records."""
        with self.lock:
            if skipped:
                job.fr.skipped += 1
                reason = f"skipped: {reason}"
            else:
                job.fr.failed += 1
            if self.failed is not None:
                self.failed.add(job.obj.uri, line, reason, raw)

    def warn(self, job: _FileJob, line: int, warnings: list[tuple[str, str, str]]) -> None:
        """Line ``line`` of ``job``'s file went into a batch with these optional fields
        ``(field, value, reason)`` NULL: count them and write them to the warnings."""
        with self.lock:
            job.fr.warnings += len(warnings)
            if self.warnings is not None:
                self.warnings.add(job.obj.uri, line, warnings)

    # -- the writer thread ----------------------------------------------------------------
    def _run(self) -> None:
        while True:
            item = self.work.get()
            if item is None:
                return
            if self.fatal is not None:
                continue  # drain: the parsing thread raises it
            try:
                getattr(self, "_" + item[0])(*item[1:])
            except BaseException as exc:  # noqa: BLE001 - a ledger error: re-raised in the parsing thread
                self.fatal = exc
                try:
                    self.conn.rollback()
                except Exception:  # noqa: BLE001 - the connection may be gone; the first error tells
                    pass

    def _begin(self, job: _FileJob) -> None:
        job.file_id = record_file(self.conn, source=SOURCE, uri=job.obj.uri, sha256=job.sha, size=job.size,
                                  status="running", run_id=self.run_id, tenant_id=self.tenant_id)
        self.conn.commit()
        # each row's lineage is its file's ledger row (schema: _ingest_file_id)
        self.loader = StagedUpsert(self.conn, self.table, self.cols, self.refs,
                                   audit={"_ingest_file_id": job.file_id}, async_commit=True)

    def _batch(self, job: _FileJob, batch: CopyRows) -> None:
        if job.error is not None:
            return  # the file already failed: its remaining batches are dropped
        loader = self.loader
        try:
            if self.pg:
                res: StagedResult = loader.load_copy(batch)
            else:
                res = loader.load_values([(ln, copy_to_values(self.entity, t.decode() if isinstance(t, bytes) else t))
                                          for ln, t in batch])
            self.conn.commit()
        except Exception as exc:  # noqa: BLE001 - this file fails; the others still load
            self.conn.rollback()
            job.error = exc.with_traceback(None)  # (a traceback would keep this batch alive)
            return
        fr = job.fr
        with self.lock:
            fr.inserted += res.inserted
            fr.updated += res.updated
            fr.unchanged += res.unchanged
            if self.progress is not None:
                self.progress.tick(len(batch))
        # rare: their raw lines are read again once the file is done
        job.db_failed.extend(res.failed)
        job.db_skipped.extend(res.skipped)

    def _end(self, job: _FileJob, parse_error: BaseException | None) -> None:
        conn, fr, obj = self.conn, job.fr, job.obj
        if self.loader is not None:
            for k, v in self.loader.timings.items():
                fr.timings[k] = fr.timings.get(k, 0.0) + v
            self.loader = None
        error = job.error or parse_error
        sha, size = job.sha, job.size
        if error is None:
            try:  # reading the file again may fail (moved, unreadable): that fails the file, not the load
                if job.db_failed:
                    _report_db_failures(self.store, obj, sorted(job.db_failed), lambda *a: self.bad(job, *a))
                if job.db_skipped:
                    _report_db_failures(self.store, obj, sorted(job.db_skipped), lambda *a: self.bad(job, *a, skipped=True))
            except Exception as exc:  # noqa: BLE001
                error = exc.with_traceback(None)
        if error is None:
            if job.hasher is not None:
                real = job.hasher.h.hexdigest()
                self._rekey(job, real)
                sha, size = real, job.hasher.size
        else:
            conn.rollback()
            fr.status, fr.error = "failed", f"{type(error).__name__}: {error}"[:2000]
            if job.hasher is not None:  # the ledger row gets the file's real sha256, if it can still be read
                try:
                    real, size = sha256_of(Location(uri=obj.uri, store=self.store, key=obj.key))
                    self._rekey(job, real)
                    sha = real
                except Exception:  # noqa: BLE001 - keep the placeholder: the row still tells the failure
                    conn.rollback()
        record_file(conn, source=SOURCE, uri=obj.uri, sha256=sha, size=size,
                    status="succeeded" if error is None else "failed", run_id=self.run_id, tenant_id=self.tenant_id,
                    rows_read=fr.rows_read, rows_loaded=fr.inserted + fr.updated, rows_failed=fr.failed, error=fr.error)
        conn.commit()
        if error is not None and self.log is not None:
            self.log.error(f"{fr.name}: failed, {fr.error}; continuing with the next file")

    def _rekey(self, job: _FileJob, real_sha: str) -> None:
        """Key ``job``'s ledger row by the file's real sha256. When a concurrent run recorded
        the same content first, its ledger row is kept (its rows may still be arriving) and
        this file's rows are pointed at it (a scan of the tenant's rows: rare)."""
        merged = rekey_file(self.conn, source=SOURCE, uri=job.obj.uri, tenant_id=self.tenant_id,
                            old_sha256=job.sha, new_sha256=real_sha)
        if merged is not None and job.file_id is not None:
            t = self.table
            self.conn.execute(t.update().where(t.c.tenant_id == self.tenant_id, t.c._ingest_file_id == job.file_id)
                              .values(_ingest_file_id=merged))
            job.file_id = merged


#: Rows written by one entity load above which the table is ANALYZEd at its end (~0.1-0.3 s;
#: below this the checks' scan is fast anyway and autovacuum catches up).
ANALYZE_ABOVE = 200_000


#: Parents with at most this many rows for the tenant are checked in memory (a set of their ids,
#: ~100 bytes each); bigger ones by the database (engine.staged's orphan check).
MAX_PARENT_IDS_IN_MEMORY = 2_000_000


#: Parents with more rows than this are held as a :class:`HashedIdSet` (8 bytes per id instead
#: of ~90 for a ``set`` of short strings; lookups ~0.3 µs slower).
COMPACT_ABOVE = 100_000


def _parent_id_sets(conn: sa.Connection, entity: str, tenant_id: str, refs: list) -> tuple[list, list]:
    """Split the references of ``entity`` into in-memory checks (``(field, id set, label)``
    for parents small enough, loaded once per entity load) and the rest (checked in SQL)."""
    in_memory, in_db = [], []
    for ref in refs:
        field = ref.columns[1]
        pt = ref.parent
        pid = pt.c[ref.parent_columns[1]]
        copied = _copy_out_ids(conn, pt, pid.name, tenant_id, limit=MAX_PARENT_IDS_IN_MEMORY + 1)
        if copied is not None:  # PostgreSQL: counted from the COPY data (no count(*) scan of the parent first)
            n, ids_iter = copied
        else:  # other dialects (and ids COPY would escape): counted, then streamed rows
            n = conn.execute(sa.select(sa.func.count()).select_from(pt).where(pt.c.tenant_id == tenant_id)).scalar() or 0
            ids_iter = None
        if n <= MAX_PARENT_IDS_IN_MEMORY:
            if ids_iter is None:
                ids_iter = conn.execute(sa.select(pid).where(pt.c.tenant_id == tenant_id)
                                        .execution_options(stream_results=True, yield_per=20_000)).scalars()
            ids = set(ids_iter) if n <= COMPACT_ABOVE else HashedIdSet(ids_iter)
            in_memory.append((field, ids, ref.label))
        else:
            in_db.append(ref)
    return in_memory, in_db


def _copy_out_ids(conn: sa.Connection, table: sa.Table, column: str, tenant_id: str,
                  limit: int) -> tuple[int, Iterator[str]] | None:
    """PostgreSQL: ``(count, values)`` of the tenant's ``column`` values of ``table`` (at most
    ``limit``) through one ``COPY .. TO STDOUT`` (500,000 order ids in ~0.1 s instead of ~1 s
    as fetched rows, and no ``count(*)`` scan before it), the values yielded from the COPY
    data 1 MB at a time (no list of them all); None on other dialects or when a value holds a
    character COPY escapes (then the caller fetches rows)."""
    if conn.dialect.name != "postgresql":
        return None
    rel = qualified_name(conn, table)
    raw = conn.connection.dbapi_connection
    buf = io.BytesIO()
    with raw.cursor() as cur:
        query = cur.mogrify(f'SELECT "{column}" FROM {rel} WHERE tenant_id = %s LIMIT %s', (tenant_id, limit)).decode()
        cur.copy_expert(f"COPY ({query}) TO STDOUT", buf)
    data = buf.getvalue()
    del buf
    if b"\\" in data:
        return None

    def values() -> Iterator[str]:
        pos, end = 0, len(data)
        while pos < end:
            cut = data.rfind(b"\n", pos, pos + (1 << 20)) + 1 or end
            yield from data[pos:cut].decode().split("\n")[:-1]
            pos = cut

    return data.count(b"\n"), values()


def _parse_file(writer: _Writer, store: BlobStore, job: _FileJob, entity: str, tenant_id: str, batch_size: int,
                ref_sets: list[tuple[str, Any, str]]) -> None:
    """Parse one file on this thread into batches of ~``batch_size`` rows for ``writer``
    (psycopg2 and Arrow release the GIL while they work, so parsing and COPY overlap across
    cores). Bad lines go to the failed records with their reason; the file's stored bytes
    are hashed as they are read when ``job.hasher`` is set. Stops early when the writer
    failed the file; an error reading the file (e.g. a gzip cut short) fails it: its ledger
    row is closed as failed and the next file loads. A ledger error or an interrupt
    propagates (after the file's end is queued)."""
    _gc_pause(True)  # the loop makes millions of short-lived objects and no cycles: the collector only costs (~4 %)
    parse: _FileParse | None = None
    parse_error: BaseException | None = None
    try:
        parse = _FileParse(writer, job, entity, tenant_id, ref_sets)
        f, close = _open_binary(store, job.obj, job.hasher)
        try:
            parse.send_batches(f, batch_size)
        finally:
            close()
    except Exception as exc:  # noqa: BLE001 - e.g. a truncated gzip: this file fails, the next loads
        if writer.fatal is not None:
            raise  # the ledger failed: the whole load stops (the writer drains what follows)
        parse_error = exc.with_traceback(None)  # (a traceback would keep this file's ids alive)
    except BaseException as exc:  # an interrupt: the file's ledger row is closed as failed, then it propagates
        parse_error = exc
        raise
    finally:
        _gc_pause(False)
        if parse is not None:
            job.fr.rows_read += parse.read
        writer.end(job, parse_error)


class _FileParse:
    """The parse of one file's lines into :class:`CopyRows` batches: each slice of whole lines
    through the columnar (Arrow) parser (:meth:`add_slice`), the lines it declines through the
    careful per-line parsers (:meth:`careful_line`), every row's id checked against the file's
    earlier ones (:meth:`add_rows`). ``read`` counts the non-blank lines seen; bad lines go to
    ``writer.bad`` with their reason."""

    def __init__(self, writer: _Writer, job: _FileJob, entity: str, tenant_id: str,
                 ref_sets: list[tuple[str, Any, str]]) -> None:
        self.writer, self.job = writer, job
        self.ids = FileIds()
        self.batch = CopyRows()
        self.read = 0
        self.misses = 0  # slices in a row of which Arrow read nothing
        #: line -> optional fields the careful path left NULL, told once the row is in the batch
        self.line_warnings: dict[int, list[tuple[str, str, str]]] = {}
        parser = Parser(entity, tenant_id, ref_sets=ref_sets or None)
        # Parser.parse inlined (it runs once per line of the careful path): the generated fast
        # parser, and the field-by-field one (which gives the reason) only when it declines
        self.fast, self.careful = parser._fast, parser._parse
        self.columnar = ColumnarParser(FIELDS[entity], fixed=("tenant_id", tenant_id),
                                       refs=[(fld, parent_ids) for fld, parent_ids, _ in (ref_sets or ())])

    def send_batches(self, f: BinaryIO, batch_size: int) -> None:
        """Read ``f`` slice by slice and hand ``writer`` a batch whenever it holds
        ``batch_size`` rows (whole blocks: a batch may exceed it by one slice), then the last
        one; stops when the writer failed the file."""
        writer, job = self.writer, self.job
        n = 1
        for data in iter_slices(f):
            count = data.count(b"\n")
            self.add_slice(data, n, count)
            n += count
            if job.error is not None:
                return  # the writer failed this file
            if len(self.batch) >= batch_size:
                writer.batch(job, self.batch)
                self.batch = CopyRows()
        if self.batch and job.error is None:
            writer.batch(job, self.batch)

    def add_slice(self, data: bytes, n0: int, count: int) -> None:
        """``count`` whole lines (``data`` ends with a newline), the first being line ``n0``:
        the columnar path, split in halves where Arrow refuses it (a malformed line, invalid
        UTF-8, a blank line), line by line below ``MIN_COLUMNAR_LINES``. After two slices in a
        row of which Arrow read nothing (e.g. a file whose ids are JSON numbers), the rest of
        the file goes line by line without trying."""
        todo = [(data, n0, count)]
        some_read = False
        while todo:
            data, n0, count = todo.pop()
            try_columnar = self.misses < 2
            pb = self.columnar.parse(data, count) if count >= MIN_COLUMNAR_LINES and try_columnar else None
            if pb is not None:
                some_read = True
                self.add_columnar(pb, data, n0, count)
                continue
            lines = _split_lines(data)
            if count >= 2 * MIN_COLUMNAR_LINES and try_columnar:
                mid = count // 2
                todo.append((b"\n".join(lines[mid:]) + b"\n", n0 + mid, count - mid))
                todo.append((b"\n".join(lines[:mid]) + b"\n", n0, mid))  # popped first
            else:
                careful_line = self.careful_line
                self.add_rows([r for k, raw in enumerate(lines) if (r := careful_line(n0 + k, raw)) is not None])
        self.misses = 0 if some_read else self.misses + 1

    def add_columnar(self, pb: Any, data: bytes, n0: int, count: int) -> None:
        """Adds the rows of a block the columnar parser read: as one block when none was
        rejected and its ids are all new, else row by row in line order (its rejected lines
        through the careful path), so duplicate ids are told as the careful path tells them."""
        if not pb.rejected and self.ids.add_block(n0, pb.ids, pb.id_array):
            self.read += count
            self.batch.add_block(n0, count, pb.text)
            return
        lines = _split_lines(data)
        rejected = set(pb.rejected)
        good = iter(zip(pb.ids, pb.rows))
        rows = []
        for k in range(count):
            if k in rejected:
                r = self.careful_line(n0 + k, lines[k])
                if r is not None:
                    rows.append(r)
                continue
            rid, row = next(good)
            self.read += 1
            rows.append((n0 + k, rid, row, lines[k]))
        self.add_rows(rows)

    def careful_line(self, n: int, raw: bytes) -> tuple[int, str, bytes, bytes] | None:
        """The careful path for line ``n``: the row ``(line, id, COPY text, raw line)`` for
        :meth:`add_rows`, or None (blank, or bad: reported)."""
        if not raw or raw.isspace():
            return None
        self.read += 1
        try:
            out = self.fast(raw)
        except Exception:  # noqa: BLE001 - anything unusual: the careful path decides
            out = None
        if out is None:
            warnings: list[tuple[str, str, str]] = []
            try:
                out = self.careful(raw, warnings)
            except BadLine as e:
                self.writer.bad(self.job, n, str(e), raw)
                return None
            if warnings:
                self.line_warnings[n] = warnings
        text, rid = out
        return n, rid, text.encode(), raw

    def add_rows(self, rows: list[tuple[int, str, bytes, bytes]]) -> None:
        """Rows ``(line, id, COPY text, raw line)`` in line order: each whose id is new in the
        file goes into the batch, a repeated one is reported with the line it was first seen
        at. The ids are checked against the file's earlier blocks all at once (:meth:`FileIds.
        hits`); only an id whose hash was seen before is looked up exactly."""
        ids, batch, pending = self.ids, self.batch, self.line_warnings
        seen_hash = ids.hits([r[1] for r in rows])
        for (n, rid, text, raw), maybe in zip(rows, seen_hash):
            first = ids.add(rid, n) if maybe else ids.add_new(rid, n)
            if first is not None:
                pending.pop(n, None)
                self.writer.bad(self.job, n, f"duplicate id {rid!r}: first seen at line {first}", raw)
                continue
            batch.add_row(n, text)
            if pending and n in pending:
                self.writer.warn(self.job, n, pending.pop(n))


_gc_lock = threading.Lock()
_gc_state = {"depth": 0, "was_on": False}


def _gc_pause(pause: bool) -> None:
    """Pause Python's cyclic garbage collector while at least one file is being parsed in
    this process (loads on several threads nest), and restore it as it was after the last."""
    with _gc_lock:
        if pause:
            if _gc_state["depth"] == 0:
                _gc_state["was_on"] = gc.isenabled()
                gc.disable()
            _gc_state["depth"] += 1
        else:
            _gc_state["depth"] -= 1
            if _gc_state["depth"] == 0 and _gc_state["was_on"]:
                gc.enable()


class FileIds:
    """The ids seen so far in one file, to report a repeated id with the line it was first
    seen at — exactly, in ~36 bytes per id (a 350,000-line chunk file: ~13 MB; a set of the
    id strings took ~110 bytes per id, ~40 MB).

    Whole blocks of ids (:meth:`add_block`, the columnar path) are kept as sorted NumPy runs
    of their 64-bit hashes with their line numbers (merged as they grow, like an LSM tree:
    a block is checked against O(log blocks) runs) plus the block's ids as an Arrow string
    array; a hash seen before makes :meth:`add_block` refuse the block, and the caller adds
    its ids one by one with :meth:`add`, which compares the id strings themselves (a hash
    match between different ids is told apart, never reported as a duplicate). Single lines
    (the careful path) are kept in a dict."""

    def __init__(self) -> None:
        self.runs: list[tuple[Any, Any]] = []  # (sorted int64 hashes, int64 line of each)
        self.blocks: list[tuple[int, Any]] = []  # (first line, Arrow ids of consecutive lines)
        self.starts: list[int] = []  # the blocks' first lines (ascending), to find a line's block
        self.single: dict[Any, int] = {}
        self.single_hashes: set[int] = set()

    def add_block(self, n0: int, block_ids: list, id_array: Any = None) -> bool:
        """Add the ids of lines ``n0, n0 + 1, ...`` (``id_array``: the same ids as an Arrow
        array, kept instead of the list); False (nothing added) when the hash of one of them
        was seen before or repeats within the block — the caller then adds them one by one."""
        import numpy as np

        k = len(block_ids)
        if not k:
            return True
        h = hashes_of(block_ids)
        order = np.argsort(h, kind="stable")
        hs = h[order]
        if k > 1 and bool((hs[1:] == hs[:-1]).any()):
            return False
        if self.single_hashes and not self.single_hashes.isdisjoint(hs.tolist()):
            return False
        if self._in_runs(hs).any():
            return False
        self.blocks.append((n0, id_array if id_array is not None else list(block_ids)))
        self.starts.append(n0)
        self.runs.append((hs, order.astype(np.int64) + n0))
        while len(self.runs) > 1 and len(self.runs[-2][0]) <= 2 * len(self.runs[-1][0]):
            (h1, l1), (h2, l2) = self.runs.pop(), self.runs.pop()
            hh = np.concatenate([h2, h1])
            o = np.argsort(hh, kind="stable")
            self.runs.append((hh[o], np.concatenate([l2, l1])[o]))
        return True

    def hits(self, rids: list) -> list[bool]:
        """Per id: True when its hash is in one of the blocks' runs (it may have been seen:
        :meth:`add` decides exactly), False when it is not (:meth:`add_new` suffices)."""
        if not self.runs or not rids:
            return [False] * len(rids)
        return self._in_runs(hashes_of(rids)).tolist()

    def _in_runs(self, h: Any) -> Any:
        """Per hash of ``h``, whether one of the runs holds it (a NumPy bool array)."""
        import numpy as np

        hit = np.zeros(len(h), dtype=bool)
        for rh, _ in self.runs:
            hit |= in_sorted(rh, h)
        return hit

    def add_new(self, rid: Any, n: int) -> int | None:
        """:meth:`add` for an id whose hash is in no block (see :meth:`hits`)."""
        first = self.single.get(rid)
        if first is not None:
            return first
        self.single[rid] = n
        self.single_hashes.add(hash(rid))
        return None

    def add(self, rid: Any, n: int) -> int | None:
        """Add the id of line ``n``; returns None, or the line it was first seen at."""
        first = self.first_line(rid)
        return first if first is not None else self.add_new(rid, n)

    def first_line(self, rid: Any) -> int | None:
        """The line ``rid`` was first seen at, or None."""
        import numpy as np

        if rid in self.single:
            best: int | None = self.single[rid]
        else:
            best = None
        h = hash(rid)
        starts = self.starts
        for rh, rl in self.runs:
            lo, hi = np.searchsorted(rh, h, "left"), np.searchsorted(rh, h, "right")
            for line in rl[lo:hi].tolist():  # usually none or one; compare the ids themselves
                n0, ids = self.blocks[bisect_right(starts, line) - 1]
                v = ids[line - n0]
                if (v.as_py() if hasattr(v, "as_py") else v) == rid and (best is None or line < best):
                    best = line
        return best


def _report_db_failures(store: BlobStore, obj: BlobObject, failures: list[tuple[int, str]],
                        bad: Callable[[int, str, bytes | None], None]) -> None:
    """Report the lines the database refused (``(line, reason)``, sorted by line) with their
    raw text, read again from the file (the batches keep no raw lines, to save memory)."""
    want = dict(failures)
    lines, close = _open_lines(store, obj)
    try:
        for n, raw in enumerate(lines, start=1):
            reason = want.pop(n, None)
            if reason is not None:
                bad(n, reason, raw)
                if not want:
                    break
    finally:
        close()
    for n, reason in want.items():  # pragma: no cover - the file changed while loading
        bad(n, reason, None)
