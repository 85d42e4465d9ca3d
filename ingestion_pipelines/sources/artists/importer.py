"""Import and export of entity fixtures (seed 000: ``import_entities_fixture``,
``export_artists_fixture``, ``upload_media_to_s3``), on the engine's data path.

read (JSON array) -> validate (:mod:`.model`) -> resolve identity -> photos (concurrent)
-> load (entities upserted on ``id``; roles and social accounts synced per entity, in one
savepoint per batch, bisected on failure) -> outcomes, failed-entities files, warnings file
(optional fields that did not parse: the entity landed without them, DESIGN.md §9), ledger.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

import orjson
import sqlalchemy as sa

from ...engine import ledger
from ...engine.landing import Location
from ...engine.load import BatchLoader, PendingRow, TableLoad, chunked, db_message, run_bisected, sync_children
from ...engine.outcomes import IngestReport, Outcome, ProgressLogger, RowOutcome
from ...engine.result_files import write_report_warnings, write_rows
from ...resources.http import HttpClient
from ...resources.storage import BlobStore
from .model import Entity, parse_entity, phone_is_e164
from .photos import PhotoError, fetch_photo, store_photo
from .schema import ENTITY_FIELDS, entities, entity_roles, metadata, social_media_accounts

SOURCE = "artists"


class FixtureError(ValueError):
    """The fixture as a whole cannot be imported (not JSON, not an array); ``str()`` says why."""


@dataclass
class ImportOptions:
    """Seed 000's options: ``dry_run``, ``skip_photos``, ``update_existing``; plus
    ``batch_size`` (entities per transaction), ``photo_workers`` (concurrent downloads),
    ``max_photo_bytes`` (bytes) and ``photo_s3_buckets`` (buckets other than the store's that
    may be read with the pipeline's S3 credentials)."""

    dry_run: bool = False
    skip_photos: bool = False
    update_existing: bool = False
    batch_size: int = 200
    photo_workers: int = 8
    max_photo_bytes: int = 10 * 1024 * 1024
    photo_s3_buckets: frozenset[str] = frozenset()


@dataclass
class ImportResult:
    """What one fixture import did.

    ``entities``: the entities' :class:`IngestReport` (inserted / updated / unchanged /
    skipped / failed, one row per fixture element; its ``warnings`` are the optional fields
    that did not parse, row = the element's 1-based index); ``roles`` / ``social``: counts of child
    rows inserted / updated / unchanged / deleted; ``photos``: downloaded / reused / failed
    / skipped counts; ``photo_errors``: (entity index, display name, reason);
    ``phone_not_e164``: entities whose phone was kept as typed; ``failed_rows_file`` and
    ``failed_fixture_file``: URIs (None when nothing failed or in a dry run);
    ``warnings_file``: the warnings' URI beside them (None when there are none or in a dry run).
    """

    uri: str
    sha256: str
    size: int
    entities: IngestReport = field(default_factory=IngestReport)
    roles: dict[str, int] = field(default_factory=lambda: {"inserted": 0, "updated": 0, "unchanged": 0, "deleted": 0})
    social: dict[str, int] = field(default_factory=lambda: {"inserted": 0, "updated": 0, "unchanged": 0, "deleted": 0})
    photos: dict[str, int] = field(default_factory=lambda: {"downloaded": 0, "reused": 0, "failed": 0, "skipped": 0})
    photo_errors: list[tuple[int, str, str]] = field(default_factory=list)
    phone_not_e164: int = 0
    failed_rows_file: str | None = None
    failed_fixture_file: str | None = None
    warnings_file: str | None = None
    dry_run: bool = False


def read_fixture(loc: Location) -> tuple[list[Any], str, int]:
    """(elements, sha256, size in bytes) of a fixture. Raises :class:`FixtureError` when the
    file is missing, is not JSON, or is not a JSON array."""
    try:
        data = loc.read_bytes()
    except FileNotFoundError:
        raise FixtureError(f"fixture not found: {loc.uri}") from None
    digest = hashlib.sha256(data).hexdigest()
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise FixtureError(f"fixture is not valid JSON: {e}") from None
    if not isinstance(doc, list):
        raise FixtureError(f"fixture must be a JSON array of entities (seed 000), got a JSON {type(doc).__name__}")
    return doc, digest, len(data)


@dataclass
class _Planned:
    row: int                  # 1-based position in the fixture
    raw: Any
    entity: Entity
    entity_id: str
    existing: dict[str, Any] | None
    photo_ref: str | None = None  # to fetch; None = keep what is there
    photo: dict[str, Any] = field(default_factory=dict)


def _resolve_identities(conn: sa.Connection, batch: list[tuple[int, Any, Entity]]) -> dict[int, dict[str, Any] | None]:
    """Existing entity row per fixture row: by ``id`` when given and known, else by
    (kind, name_key)."""
    ids = [e.id for _, _, e in batch if e.id]
    keys = [(e.kind, e.name_key) for _, _, e in batch]
    by_id: dict[str, dict] = {}
    by_key: dict[tuple, dict] = {}
    cols = [entities.c.id, entities.c.kind, entities.c.name_key, entities.c.profile_photo_url,
            entities.c.photo_uri, entities.c.photo_sha256]
    for i in range(0, max(len(ids), len(keys)), 400):
        cond = []
        if ids[i:i + 400]:
            cond.append(entities.c.id.in_(ids[i:i + 400]))
        if keys[i:i + 400]:
            cond.append(sa.tuple_(entities.c.kind, entities.c.name_key).in_(keys[i:i + 400]))
        for m in conn.execute(sa.select(*cols).where(sa.or_(*cond))).mappings():
            by_id[m["id"]] = dict(m)
            by_key[(m["kind"], m["name_key"])] = dict(m)
    return {row: (by_id.get(e.id) if e.id and e.id in by_id else by_key.get((e.kind, e.name_key)))
            for row, _, e in batch}


def _child_rows(p: _Planned) -> tuple[list[PendingRow], list[PendingRow]]:
    roles = [PendingRow(p.row, {"entity_id": p.entity_id, "role": r.role, "primary_role": r.primary_role,
                                "is_internal": r.is_internal}) for r in p.entity.roles]
    social = [PendingRow(p.row, {"entity_id": p.entity_id, "platform": s.platform, "handle": s.handle, "url": s.url,
                                 "display_name": s.display_name, "follower_count": s.follower_count,
                                 "is_verified": s.is_verified, "is_primary": s.is_primary, "notes": s.notes})
              for s in p.entity.social_media]
    return roles, social


def import_fixture(loc: Location, *, conn: sa.Connection, store: BlobStore, http: HttpClient,
                   options: ImportOptions, run_id: str, log: logging.Logger | Any,
                   should_stop: Callable[[], bool] = lambda: False) -> ImportResult:
    """Import the fixture at ``loc`` through ``conn`` (commits per batch; nothing when
    ``options.dry_run``). Raises :class:`FixtureError` for an unreadable fixture (after
    recording it in ``ingest_files``); bad entities and photos are reported, never raised."""
    started = dt.datetime.now(dt.timezone.utc)
    try:
        elements, digest, size = read_fixture(loc)
    except FixtureError as e:
        if not options.dry_run:
            sha, sz = _hash_or_empty(loc)
            ledger.record_file(conn, source=SOURCE, uri=loc.uri, sha256=sha, size=sz, status="failed",
                               run_id=run_id, error=str(e), started_at=started)
            conn.commit()
        raise
    res = ImportResult(uri=loc.uri, sha256=digest, size=size, dry_run=options.dry_run)
    res.entities.dry_run = options.dry_run
    audit = {"_source": loc.uri, "_run_id": run_id}
    progress = ProgressLogger(log, "artists/entities", total=len(elements), every_rows=1000)

    # validate
    valid: list[tuple[int, Any, Entity]] = []
    for i, obj in enumerate(elements):
        try:
            entity, warnings = parse_entity(obj, i + 1)
            valid.append((i + 1, obj, entity))
            res.entities.add_warnings(warnings)
        except ValueError as e:
            name = obj.get("display_name") if isinstance(obj, dict) else None
            res.entities.add(RowOutcome(i + 1, Outcome.FAILED, error=f"entity #{i + 1} ({name or 'no name'}): {e}", record=obj if isinstance(obj, dict) else {"value": obj}))
    progress.tick(len(elements) - len(valid))

    spec = TableLoad(entities, key=("id",), on_existing="update" if options.update_existing else "skip",
                     skip_reason="already exists (use update_existing to update)",
                     compare_exclude=frozenset({"_ingested_at", "_source", "_run_id"}))
    role_spec = TableLoad(entity_roles)
    social_spec = TableLoad(social_media_accounts)
    seen_ids: dict[str, int] = {}

    for batch in chunked(valid, options.batch_size):
        existing = _resolve_identities(conn, batch)
        plans: list[_Planned] = []
        for row, raw, ent in batch:
            old = existing[row]
            eid = old["id"] if old else (ent.id or str(uuid.uuid4()))
            if eid in seen_ids:
                res.entities.add(RowOutcome(row, Outcome.FAILED, key=eid, record=raw,
                                            error=f"entity #{row} ({ent.display_name}): same identity as entity #{seen_ids[eid]} in this fixture"))
                continue
            seen_ids[eid] = row
            plan = _Planned(row, raw, ent, eid, old)
            if old and not options.update_existing:
                plan.photo_ref = None
            elif options.skip_photos:
                if ent.profile_photo_url:
                    res.photos["skipped"] += 1
            elif ent.profile_photo_url:
                if old and old["profile_photo_url"] == ent.profile_photo_url and old["photo_uri"]:
                    plan.photo = {"photo_uri": old["photo_uri"], "photo_sha256": old["photo_sha256"]}
                    res.photos["reused"] += 1
                else:
                    plan.photo_ref = ent.profile_photo_url
            elif old:
                plan.photo = {"photo_uri": None, "photo_sha256": None}  # photo removed from the fixture
            if not phone_is_e164(ent.phone) and ent.phone:
                res.phone_not_e164 += 1
            plans.append(plan)

        _fetch_photos(plans, loc, store, http, options, res)

        def write(items: list[_Planned]) -> list[RowOutcome]:
            loader = BatchLoader(conn, spec, audit)
            rows = []
            for p in items:
                values = {"id": p.entity_id, "kind": p.entity.kind, **p.entity.row(), **p.photo}
                if options.skip_photos:  # leave stored photos alone
                    values.pop("photo_uri", None)
                    values.pop("photo_sha256", None)
                rows.append(PendingRow(p.row, values, p.raw))
            outs = loader.write_batch(rows)
            touched = [p for p, o in zip(items, outs) if o.outcome in (Outcome.INSERTED, Outcome.UPDATED, Outcome.UNCHANGED)]
            role_rows, social_rows = [], []
            for p in touched:
                r, s = _child_rows(p)
                role_rows += r
                social_rows += s
            parent_ids = [p.entity_id for p in touched]
            row_of = {p.entity_id: p.row for p in touched}
            changed_rows: set[int] = set()
            attempt = {"roles": {}, "social": {}}
            for child_rows, cspec, name in ((role_rows, role_spec, "roles"), (social_rows, social_spec, "social")):
                couts, deleted = sync_children(conn, cspec, "entity_id", parent_ids, child_rows, audit)
                counts = attempt[name]
                counts["deleted"] = sum(deleted.values())
                changed_rows.update(row_of[pid] for pid in deleted)
                for o in couts:
                    counts[o.outcome.value] = counts.get(o.outcome.value, 0) + 1
                    if o.outcome in (Outcome.INSERTED, Outcome.UPDATED):
                        changed_rows.add(o.row)
            final = []
            for o in outs:
                if o.outcome is Outcome.UNCHANGED and o.row in changed_rows:
                    o = RowOutcome(o.row, Outcome.UPDATED, key=o.key)
                final.append(o)
            # every statement of this attempt succeeded: only now count its child rows
            for name, target in (("roles", res.roles), ("social", res.social)):
                for k, v in attempt[name].items():
                    target[k] = target.get(k, 0) + v
            return final

        def failed(p: _Planned, exc: Exception) -> list[RowOutcome]:
            return [RowOutcome(p.row, Outcome.FAILED, key=p.entity_id, record=p.raw,
                               error=f"entity #{p.row} ({p.entity.display_name}): {db_message(exc)}")]

        outs = run_bisected(conn, plans, write, failed)
        res.entities.extend(outs)
        if not options.dry_run:
            conn.commit()
        progress.tick(len(batch))
        if should_stop():
            log.warning("artists import stopped at a batch boundary (run terminated)")
            break
    progress.finish()

    if res.entities.failures and not options.dry_run:
        res.failed_rows_file, res.failed_fixture_file = _write_failed(store, run_id, res.entities.failures)
    res.warnings_file = write_report_warnings(store, f"{_failed_base(run_id)}/failed_entities.csv", res.entities) or None
    if not options.dry_run:
        ledger.record_file(conn, source=SOURCE, uri=loc.uri, sha256=digest, size=size, status="succeeded",
                           run_id=run_id, rows_read=len(elements), rows_loaded=res.entities.loaded,
                           rows_failed=res.entities.failed_total, started_at=started)
        conn.commit()
    return res


def _hash_or_empty(loc: Location) -> tuple[str, int | None]:
    try:
        data = loc.read_bytes()
        return hashlib.sha256(data).hexdigest(), len(data)
    except OSError:
        return "", None


def _fetch_photos(plans: list[_Planned], loc: Location, store: BlobStore, http: HttpClient,
                  options: ImportOptions, res: ImportResult) -> None:
    """Fetch and store the photos of ``plans`` concurrently (one fetch per distinct URL)."""
    todo = [p for p in plans if p.photo_ref]
    if not todo:
        return
    refs = sorted({p.photo_ref for p in todo})

    def one(ref: str):
        try:
            data = fetch_photo(ref, loc, store, http, options.max_photo_bytes, options.photo_s3_buckets)
            return store_photo(store, data, dry_run=options.dry_run), None
        except PhotoError as e:
            return None, str(e)
        except Exception as e:  # noqa: BLE001 - a photo never fails the import: report it
            return None, f"unexpected {type(e).__name__}: {str(e)[:200]}"

    with ThreadPoolExecutor(max_workers=max(1, options.photo_workers)) as pool:
        results = dict(zip(refs, pool.map(one, refs)))
    counted: set[str] = set()  # contents counted as downloaded in this run (by sha256)
    for p in todo:
        stored, err = results[p.photo_ref]
        if stored is None:
            res.photos["failed"] += 1
            res.photo_errors.append((p.row, p.entity.display_name, f"{p.photo_ref[:120]}: {err}"))
            if p.existing:  # keep the photo the entity already has
                p.photo = {}
            else:
                p.photo = {"photo_uri": None, "photo_sha256": None}
            continue
        p.photo = {"photo_uri": stored.uri, "photo_sha256": stored.sha256}
        if stored.reused or stored.sha256 in counted:
            res.photos["reused"] += 1
        else:
            res.photos["downloaded"] += 1
        counted.add(stored.sha256)


def _failed_base(run_id: str) -> str:
    """The folder of a run's failed-entities and warnings files in the BlobStore."""
    return f"failed/artists/{run_id}"


def _write_failed(store: BlobStore, run_id: str, failures: list[RowOutcome]) -> tuple[str, str]:
    """Write the failed entities twice: a CSV (top-level fields + ``import_error``,
    formulas neutralised) and a JSON fixture (each entity + ``import_error``) that can be
    fixed and re-imported. Returns their URIs."""
    base = _failed_base(run_id)
    header_fields = ["index", "kind", "display_name", *ENTITY_FIELDS, "profile_photo_url", "roles", "social_media", "import_error"]
    rows = []
    fixture = []
    for f in failures:
        rec = f.record if isinstance(f.record, dict) else {}
        row = {"index": f.row, **{k: rec.get(k) for k in header_fields if k in rec}, "import_error": f.error}
        for k in ("roles", "social_media"):
            if k in rec:
                row[k] = json.dumps(rec[k], ensure_ascii=False, default=str)
        rows.append(row)
        fixture.append({**rec, "import_error": f.error})
    csv_uri = write_rows(store, f"{base}/failed_entities.csv", header_fields, rows, "csv")
    json_uri = store.put_bytes(f"{base}/failed_entities.json",
                               json.dumps(fixture, indent=2, ensure_ascii=False, default=str).encode(),
                               content_type="application/json")
    return csv_uri, json_uri


# -- export (seed: export_artists_fixture) ----------------------------------------------------

def export_fixture(conn: sa.Connection, *, internal_only: bool = False) -> list[dict[str, Any]]:
    """Entities as a seed-000 fixture (a list of dicts), each with its ``id``, its roles and
    social accounts, and ``profile_photo_url`` = where the photo is stored (its storage URI)
    or, without a stored photo, the URL it came from. ``internal_only``: only entities with
    an ``is_internal`` role (the seed's ``--internal-only``)."""
    q = sa.select(entities).order_by(entities.c.display_name, entities.c.id)
    if internal_only:
        internal = sa.select(entity_roles.c.entity_id).where(entity_roles.c.is_internal == sa.true())
        q = q.where(entities.c.id.in_(internal))
    ents = [dict(m) for m in conn.execute(q).mappings()]
    ids = [e["id"] for e in ents]
    roles: dict[str, list] = {}
    social: dict[str, list] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        for m in conn.execute(sa.select(entity_roles).where(entity_roles.c.entity_id.in_(chunk)).order_by(entity_roles.c.id)).mappings():
            roles.setdefault(m["entity_id"], []).append(
                {"role": m["role"], "primary_role": bool(m["primary_role"]), "is_internal": bool(m["is_internal"])})
        for m in conn.execute(sa.select(social_media_accounts).where(social_media_accounts.c.entity_id.in_(chunk)).order_by(social_media_accounts.c.id)).mappings():
            social.setdefault(m["entity_id"], []).append({
                "platform": m["platform"], "handle": m["handle"], "url": m["url"], "display_name": m["display_name"],
                "follower_count": m["follower_count"], "is_verified": bool(m["is_verified"]),
                "is_primary": bool(m["is_primary"]), "notes": m["notes"]})
    out = []
    for e in ents:
        item = {"id": e["id"], "kind": e["kind"], "display_name": e["display_name"]}
        item.update({k: e[k] for k in ENTITY_FIELDS})
        item["profile_photo_url"] = e["photo_uri"] or e["profile_photo_url"]
        item["roles"] = roles.get(e["id"], [])
        item["social_media"] = social.get(e["id"], [])
        out.append(item)
    return out


__all__ = ["FixtureError", "ImportOptions", "ImportResult", "export_fixture", "import_fixture", "metadata", "read_fixture"]
