"""Loading one tenant's landed NDJSON files of one entity into the warehouse.

The path (DESIGN.md §2): list ``tenants/<tenant_id>/`` in the BlobStore -> for each file of
the entity (key order = chunk order): skip it when the ``ingest_files`` ledger says this
content (sha256) already loaded — a file never loaded before is not hashed first but while it
loads, so it is read once -> read 2 MB slices of whole lines (gzip by magic bytes) ->
:class:`~ingestion_pipelines.engine.columnar.ColumnarParser` (Arrow: a slice parsed,
validated and rendered as COPY text at once; references to the tenant's parent rows checked
against their ids, loaded once per entity — in SQL instead when a parent has more than
``MAX_PARENT_IDS_IN_MEMORY`` rows), the lines it declines through the careful per-line
:class:`~.records.Parser` (which gives each bad line its reason), duplicate ids within a file
(:class:`FileIds`) -> batches of ~``batch_size`` rows (:class:`~ingestion_pipelines.engine.
staged.CopyRows`, whole text blocks) -> :class:`~ingestion_pipelines.engine.staged.StagedUpsert`
(PostgreSQL: COPY straight into the table while the keys are new, the audit columns filled by
their defaults; else COPY into staging + upsert; other dialects: executemany) on a writer
thread while the next slice is parsed -> one commit per batch -> ledger row -> ``ANALYZE``
after a big load.

Every bad line (file, line number, reason, the raw line) goes to one failed-records NDJSON file
per (tenant, entity, run) in the BlobStore, written through a local temporary file so memory
stays flat. Memory: the ids seen so far in the file (to report duplicates; ~100 bytes each,
~40 MB for a 350,000-line chunk file) and the parent ids (8 bytes each above 100,000), plus at
most three batches and one slice (the raw text of a line the database refuses is read again
from the file afterwards). Measured on the seed's shapes: BENCHMARKS.md "tenants".
"""

from __future__ import annotations

import gc
import hashlib
import io
import os
import posixpath
import queue
import tempfile
import threading
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Callable, Iterator

import orjson
import sqlalchemy as sa

from ...engine.landing import Location, sha256_of
from ...engine.ledger import already_loaded, loaded_before, record_file, rekey_file
from ...engine.outcomes import ProgressLogger
from ...engine.schema import qualified_name
from ...engine.staged import CopyRows, StagedResult, StagedUpsert
from ...resources.storage import BlobObject, BlobStore
from . import schema
from ...engine.columnar import ColumnarParser
from .records import FIELDS, BadLine, HashedIdSet, Parser, columns, copy_to_values, entity_of, parent_refs

SOURCE = "tenants"
LANDING_PREFIX = "tenants/"
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
        for ln in data.split(b"\n")[:-1]:
            yield ln[:-1] if ln.endswith(b"\r") else ln


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
    error: str | None = None
    #: database seconds per phase (copy, orphans, write), summed over the writer connections
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
                failed: FailedRecords | None = None) -> EntityResult:
    """Load every landed file of ``entity`` for ``tenant_id`` through ``conn`` (committed per
    batch and per ledger row). Returns an :class:`EntityResult`; bad lines go to ``failed``.
    A file that fails part-way (e.g. a gzip truncated mid-file, a refused batch) is rolled back
    to its last committed batch, recorded as ``failed`` with its error in the ``ingest_files``
    ledger (so a later run loads it again) and in the result (``status="failed"``, ``error``),
    and the next file is loaded; the caller decides how to report it (see
    :attr:`EntityResult.failed_files`). Errors of the ledger itself (e.g. a lost connection)
    propagate."""
    result = EntityResult(tenant_id, entity)
    table = schema.ENTITY_TABLES[entity]
    cols = columns(entity)
    refs = parent_refs(entity)
    progress = ProgressLogger(log, f"{entity} [{tenant_id}]", every_rows=200_000) if log is not None else None
    _load_files(conn, store, tenant_id, entity, landed_files(store, tenant_id, entity), result, table, cols, refs,
                run_id, batch_size, log, should_stop, failed, progress)
    if progress is not None and progress.done:
        progress.finish()
    if conn.dialect.name == "postgresql" and result.total("inserted") + result.total("updated") >= ANALYZE_ABOVE:
        # current statistics after a bulk load (PostgreSQL's advice; autovacuum would come
        # later): the checks' scan then plans a parallel hash join (1.75 M order items:
        # 0.7 s instead of 1.4 s), and so do downstream queries
        conn.exec_driver_sql(f"ANALYZE {qualified_name(conn, table)}")
        conn.commit()
    return result


def _load_files(conn, store, tenant_id, entity, files, result, table, cols, refs, run_id, batch_size,
                log, should_stop, failed, progress) -> None:
    """The file loop of :func:`load_entity`. (Hashing the next file on a background thread
    was tried: on two CPUs it only took time from the COPY.)"""
    analyzed = False
    ref_sets: list[tuple[str, Any, str]] = []
    for obj in files:
        name = posixpath.basename(obj.key)
        hasher: _Sha256 | None = None
        if loaded_before(conn, source=SOURCE, uri=obj.uri, tenant_id=tenant_id):
            sha, size = sha256_of(Location(uri=obj.uri, store=store, key=obj.key))
            if already_loaded(conn, source=SOURCE, uri=obj.uri, sha256=sha, tenant_id=tenant_id):
                result.files.append(FileResult(obj.uri, name, "skipped"))
                if log is not None:
                    log.info(f"{name}: already loaded (sha256 {sha[:12]}), skipped")
                continue
        else:  # a first load: the file is read once, hashed while it loads
            hasher = _Sha256()
            sha, size = f"pending:{run_id}"[:64], None
        record_file(conn, source=SOURCE, uri=obj.uri, sha256=sha, size=size, status="running",
                    run_id=run_id, tenant_id=tenant_id)
        if refs and not analyzed:
            ref_sets, refs = _parent_id_sets(conn, entity, tenant_id, refs)
            if refs:
                StagedUpsert(conn, table, cols, refs).analyze_parents()
            analyzed = True
        conn.commit()
        fr = FileResult(obj.uri, name, "loaded")
        try:
            _load_file(conn, store, obj, entity, tenant_id, table, cols, refs, run_id, batch_size,
                       fr, failed, progress, ref_sets=ref_sets, hasher=hasher)
            if hasher is not None:
                real = hasher.h.hexdigest()
                rekey_file(conn, source=SOURCE, uri=obj.uri, tenant_id=tenant_id, old_sha256=sha, new_sha256=real)
                sha, size = real, hasher.size
        except Exception as exc:  # noqa: BLE001 - this file fails; the others still load
            conn.rollback()
            fr.status, fr.error = "failed", f"{type(exc).__name__}: {exc}"[:2000]
            if hasher is not None:  # the ledger row gets the file's real sha256, if it can still be read
                try:
                    real, size = sha256_of(Location(uri=obj.uri, store=store, key=obj.key))
                    rekey_file(conn, source=SOURCE, uri=obj.uri, tenant_id=tenant_id, old_sha256=sha, new_sha256=real)
                    sha = real
                except Exception:  # noqa: BLE001 - keep the placeholder: the row still tells the failure
                    conn.rollback()
            record_file(conn, source=SOURCE, uri=obj.uri, sha256=sha, size=size, status="failed", run_id=run_id,
                        tenant_id=tenant_id, rows_read=fr.rows_read, rows_loaded=fr.inserted + fr.updated,
                        rows_failed=fr.failed, error=fr.error)
            conn.commit()
            result.files.append(fr)
            if log is not None:
                log.error(f"{name}: failed, {fr.error}; continuing with the next file")
            if should_stop():
                break
            continue
        record_file(conn, source=SOURCE, uri=obj.uri, sha256=sha, size=size, status="succeeded", run_id=run_id,
                    tenant_id=tenant_id, rows_read=fr.rows_read, rows_loaded=fr.inserted + fr.updated,
                    rows_failed=fr.failed)
        conn.commit()
        result.files.append(fr)
        if should_stop():
            break


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
        n = conn.execute(sa.select(sa.func.count()).select_from(pt).where(pt.c.tenant_id == tenant_id)).scalar() or 0
        if n <= MAX_PARENT_IDS_IN_MEMORY:
            ids_iter = _copy_out_ids(conn, pt, pid.name, tenant_id)
            if ids_iter is None:  # other dialects (and ids COPY would escape): streamed rows
                ids_iter = conn.execute(sa.select(pid).where(pt.c.tenant_id == tenant_id)
                                        .execution_options(stream_results=True, yield_per=20_000)).scalars()
            ids = set(ids_iter) if n <= COMPACT_ABOVE else HashedIdSet(ids_iter)
            in_memory.append((field, ids, ref.label))
        else:
            in_db.append(ref)
    return in_memory, in_db


def _copy_out_ids(conn: sa.Connection, table: sa.Table, column: str, tenant_id: str) -> Iterator[str] | None:
    """PostgreSQL: the tenant's ``column`` values of ``table`` through one ``COPY .. TO STDOUT``
    (500,000 order ids in ~0.1 s instead of ~1 s as fetched rows), yielded from the COPY
    data 1 MB at a time (no list of them all); None on other dialects or when a value holds
    a character COPY escapes (then the caller fetches rows)."""
    if conn.dialect.name != "postgresql":
        return None
    rel = qualified_name(conn, table)
    raw = conn.connection.dbapi_connection
    buf = io.BytesIO()
    with raw.cursor() as cur:
        query = cur.mogrify(f'SELECT "{column}" FROM {rel} WHERE tenant_id = %s', (tenant_id,)).decode()
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

    return values()


def _load_file(conn, store, obj, entity, tenant_id, table, cols, refs, run_id, batch_size, fr: FileResult,
               failed: FailedRecords | None, progress: ProgressLogger | None, writers: int = 1,
               ref_sets: list[tuple[str, Any, str]] | None = None, hasher: "_Sha256 | None" = None) -> None:
    """Parse in this thread while a writer thread sends the previous batch to the database
    (psycopg2 and Arrow release the GIL while they work), so parsing and COPY overlap across
    cores; at most ``writers + 2`` batches are in memory. ``writers`` > 1 (PostgreSQL) gives
    each writer its own connection; the default is one, which measured faster on two CPUs
    (two COPYs into the same index contend, and the parser needs the other CPU). With
    ``hasher`` the file's stored bytes are hashed as they are read (see :func:`load_entity`)."""
    parser = Parser(entity, tenant_id, ref_sets=ref_sets or None)
    audit = {"_source": obj.uri, "_run_id": run_id}
    pg = conn.dialect.name == "postgresql"
    writers = max(1, writers) if pg else 1
    ids = FileIds()
    lock = threading.Lock()

    def bad(line: int, reason: str, raw: bytes | None) -> None:
        with lock:
            fr.failed += 1
            if failed is not None:
                failed.add(obj.uri, line, reason, raw)

    def skip(line: int, reason: str, raw: bytes | None) -> None:
        with lock:
            fr.skipped += 1
            if failed is not None:
                failed.add(obj.uri, line, f"skipped: {reason}", raw)

    db_failed: list[tuple[int, str]] = []
    db_skipped: list[tuple[int, str]] = []

    def flush(wconn, loader: StagedUpsert, batch: list[tuple[int, str]]) -> None:
        if pg:
            res: StagedResult = loader.load_copy(batch)
        else:
            res = loader.load_values([(ln, copy_to_values(entity, t.decode() if isinstance(t, bytes) else t))
                                      for ln, t in batch])
        wconn.commit()
        with lock:
            fr.inserted += res.inserted
            fr.updated += res.updated
            fr.unchanged += res.unchanged
            if progress is not None:
                progress.tick(len(batch))
        if res.failed or res.skipped:  # rare: their raw lines are read again once the file is done
            with lock:
                db_failed.extend(res.failed)
                db_skipped.extend(res.skipped)

    work: queue.Queue = queue.Queue(maxsize=1)
    errors: list[BaseException] = []

    def writer(index: int) -> None:
        own = index > 0 or writers > 1
        wconn = conn.engine.connect() if own else conn
        try:
            loader = StagedUpsert(wconn, table, cols, refs, audit=audit, async_commit=True)  # the ledger row commits synchronously
            while True:
                item = work.get()
                if item is None:
                    with lock:
                        for k, v in loader.timings.items():
                            fr.timings[k] = fr.timings.get(k, 0.0) + v
                    return
                if errors:
                    continue  # drain after a failure
                try:
                    flush(wconn, loader, item)
                except BaseException as exc:  # re-raised in the reading thread
                    errors.append(exc)
                    wconn.rollback()
        finally:
            if own:
                wconn.close()

    threads = [threading.Thread(target=writer, args=(i,), name=f"tenants-writer-{entity}-{i}", daemon=True)
               for i in range(writers)]
    for t in threads:
        t.start()
    f, close = _open_binary(store, obj, hasher)
    batch = CopyRows()
    # Parser.parse inlined (this runs once per line of the careful path): the generated fast
    # parser, and the field-by-field one (which gives the reason) only when it declines
    fast, careful = parser._fast, parser._parse
    columnar = ColumnarParser(FIELDS[entity], fixed=("tenant_id", tenant_id),
                              refs=[(fld, parent_ids) for fld, parent_ids, _ in (ref_sets or ())])
    read = 0

    def one_line(n: int, raw: bytes) -> None:
        """The careful path for one line: parse, check the id is new in the file, add it."""
        nonlocal read
        if not raw or raw.isspace():
            return
        read += 1
        try:
            out = fast(raw)
        except Exception:  # noqa: BLE001 - anything unusual: the careful path decides
            out = None
        if out is None:
            try:
                out = careful(raw)
            except BadLine as e:
                bad(n, str(e), raw)
                return
        text, rid = out
        first = ids.add(rid, n)
        if first is not None:
            bad(n, f"duplicate id {rid!r}: first seen at line {first}", raw)
            return
        batch.add_row(n, text.encode())

    def split(data: bytes) -> list[bytes]:
        return [ln[:-1] if ln.endswith(b"\r") else ln for ln in data.split(b"\n")[:-1]]

    misses = 0  # slices in a row of which Arrow read nothing

    def block(data: bytes, n0: int, count: int) -> None:
        """``count`` whole lines (``data`` ends with a newline), the first being line ``n0``:
        the columnar path, split in halves where Arrow refuses it (a malformed line, invalid
        UTF-8, a blank line), line by line below ``MIN_COLUMNAR_LINES``. (Iterative: a
        recursive closure would be a reference cycle keeping this file's ids alive.) After two
        slices in a row of which Arrow read nothing (e.g. a file whose ids are JSON numbers),
        the rest of the file goes line by line without trying."""
        nonlocal misses
        todo = [(data, n0, count)]
        some_read = False
        while todo:
            data, n0, count = todo.pop()
            pb = columnar.parse(data, count) if count >= MIN_COLUMNAR_LINES and misses < 2 else None
            if pb is None:
                lines = split(data)
                if count >= 2 * MIN_COLUMNAR_LINES and misses < 2:
                    mid = count // 2
                    todo.append((b"\n".join(lines[mid:]) + b"\n", n0 + mid, count - mid))
                    todo.append((b"\n".join(lines[:mid]) + b"\n", n0, mid))  # popped first
                else:
                    for k, raw in enumerate(lines):
                        one_line(n0 + k, raw)
                continue
            some_read = True
            parsed(pb, data, n0, count)
        misses = 0 if some_read else misses + 1

    def parsed(pb, data: bytes, n0: int, count: int) -> None:
        """Adds the rows of a block the columnar parser read (its rejected lines through the
        careful path, in line order)."""
        nonlocal read
        if not pb.rejected and ids.add_block(n0, pb.ids):
            read += count
            batch.add_block(n0, count, pb.text)
            return
        # in line order, so duplicate ids are told exactly as the careful path tells them
        lines = split(data)
        rejected = set(pb.rejected)
        good = iter(zip(pb.ids, pb.rows))
        for k in range(count):
            n = n0 + k
            if k in rejected:
                one_line(n, lines[k])
                continue
            rid, row = next(good)
            read += 1
            first = ids.add(rid, n)
            if first is not None:
                bad(n, f"duplicate id {rid!r}: first seen at line {first}", lines[k])
                continue
            batch.add_row(n, row)

    _gc_pause(True)  # the loop makes millions of short-lived objects and no cycles: the collector only costs (~4 %)
    try:
        n = 1
        for data in iter_slices(f):
            count = data.count(b"\n")
            block(data, n, count)
            n += count
            if errors:
                break
            if len(batch) >= batch_size:  # whole blocks: a batch may exceed batch_size by one slice
                work.put(batch)
                batch = CopyRows()
        if batch and not errors:
            work.put(batch)
    finally:
        _gc_pause(False)
        fr.rows_read += read
        for _ in threads:
            work.put(None)
        for t in threads:
            t.join()
        close()
    if errors:
        raise errors[0]
    if db_failed:
        _report_db_failures(store, obj, sorted(db_failed), bad)
    if db_skipped:
        _report_db_failures(store, obj, sorted(db_skipped), skip)


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
    seen at. Whole blocks of new ids are added in bulk (:meth:`add_block`: one set update,
    ~0.1 µs per id) and keep their ids list, so a first line is found again only when a
    duplicate turns up (rare); single lines go through :meth:`add`. Memory: one set entry
    per id of the file (~100,000 per chunk file of the seed's generator)."""

    def __init__(self) -> None:
        self.seen: set[Any] = set()
        self.blocks: list[tuple[int, list]] = []  # (first line, ids of consecutive lines)
        self.single: dict[Any, int] = {}

    def add_block(self, n0: int, block_ids: list) -> bool:
        """Add the ids of lines ``n0, n0 + 1, ...``; False (nothing added) when one of them
        was seen before or repeats within the block — the caller then adds them one by one."""
        seen = self.seen
        if not seen.isdisjoint(block_ids):
            return False
        before = len(seen)
        seen.update(block_ids)
        if len(seen) - before != len(block_ids):
            seen.difference_update(block_ids)  # none of them was there before
            return False
        self.blocks.append((n0, block_ids))
        return True

    def add(self, rid: Any, n: int) -> int | None:
        """Add the id of line ``n``; returns None, or the line it was first seen at."""
        if rid in self.seen:
            return self.first_line(rid)
        self.seen.add(rid)
        self.single[rid] = n
        return None

    def first_line(self, rid: Any) -> int | None:
        if rid in self.single:
            return self.single[rid]
        for n0, block_ids in self.blocks:
            try:
                return n0 + block_ids.index(rid)
            except ValueError:
                continue
        return None


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
