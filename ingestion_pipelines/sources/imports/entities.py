"""The ``entities`` importer: rows of a spreadsheet into the artists tables (seed 000, "from
spreadsheet" workflow), without importing the artists source.

The tables ``entities`` and ``entity_roles`` belong to the artists source; this importer
*reflects* them from the warehouse (``sa.Table(..., autoload_with=conn)``) and writes through
the engine's :class:`~ingestion_pipelines.engine.load.BatchLoader`, so the artists schema is
reused through the database, not through code. When the tables do not exist yet, the import
fails with a message saying to run the artists source first.

Columns (header names, case-insensitive; only ``display_name`` — or ``name`` — is required,
and ``kind`` when given must be one; those, the natural key, are the only cells that fail a
row. Any other cell that does not parse — an email, phone, photo URL or ``is_internal`` — is
read as blank and reported as a warning (DESIGN.md §9): the row lands, and as blank never
overwrites, the warehouse keeps what it had; ``entities`` has no raw column, so the
warnings file keeps the text as written):
``kind`` (``PF`` person / ``PJ`` company; also ``person``/``company``; default ``PF``),
``display_name``, ``first_name``, ``last_name``, ``stage_name``, ``nationality``, ``gender``,
``email`` (validated), ``phone`` (E.164, default region from option ``phone_region``, US),
``address``, ``city``, ``state``, ``zip_code``, ``country``, ``notes``,
``profile_photo_url`` (http(s) URL, stored as given; photos are downloaded by the artists
source, not here), ``roles`` (comma/semicolon separated; the first is the primary role unless
the entity already has one, see below),
``is_internal`` (boolean, applies to the roles).

Identity is the artists identity rule (README.md "Artists fixtures"; the artists fixture
model): natural key (``kind``, ``name_key``) with the display name's internal whitespace
collapsed (the stored ``display_name`` too), stripped, and ``name_key`` its case-fold; an
existing entity keeps its ``id`` (a UUID for a new one). Blank cells never overwrite a value
already in the warehouse. Role names are lower-cased (as the artists source stores them) and
upserted on (``entity_id``, ``role``); roles the entity already has and the row does not name
are kept (a spreadsheet row adds roles, it does not remove them).

Primary role (the artists check ``one_primary_role``: at most one per entity): the row's
first role is made primary only when the entity has no primary role yet (in the warehouse or
from an earlier row of the same import); a role already stored keeps its ``primary_role``, a
new one is not primary. ``is_internal`` applies to the row's roles when the cell is filled;
blank keeps a stored role's flag (``false`` for a new role).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import sqlalchemy as sa

from ...engine import validate as v
from ...engine.load import BatchLoader, PendingRow, TableLoad
from ...resources.warehouse import WarehouseResource
from . import handlers as h

TEXT_FIELDS = ("first_name", "last_name", "stage_name", "nationality", "gender", "address", "city",
               "state", "zip_code", "country", "notes")
KINDS = {"pf": "PF", "person": "PF", "individual": "PF", "pessoa fisica": "PF", "pessoa física": "PF",
         "pj": "PJ", "company": "PJ", "organization": "PJ", "organisation": "PJ", "pessoa juridica": "PJ",
         "pessoa jurídica": "PJ"}
_ROLE_SPLIT = re.compile(r"[,;|]")


class ArtistsTablesMissing(RuntimeError):
    """The artists tables are not in the warehouse yet."""


def reflect_tables(conn: sa.Connection) -> tuple[sa.Table, sa.Table]:
    """(entities, entity_roles) reflected from the warehouse; :class:`ArtistsTablesMissing`
    when either is absent."""
    translate = conn.get_execution_options().get("schema_translate_map") or {}
    schema = translate.get(None)
    insp = sa.inspect(conn)
    missing = [t for t in ("entities", "entity_roles") if not insp.has_table(t, schema=schema)]
    if missing:
        raise ArtistsTablesMissing(
            f"the artists tables {', '.join(missing)} do not exist in the warehouse yet: "
            "materialize the artists source once (e.g. `ingest import-entities FIXTURE`) before importing entities")
    md = sa.MetaData()
    # schema given explicitly: reflection does not apply the connection's schema_translate_map
    ent = sa.Table("entities", md, schema=schema, autoload_with=conn)
    roles = sa.Table("entity_roles", md, schema=schema, autoload_with=conn)
    return ent, roles


def setup(warehouse: WarehouseResource) -> None:
    """Check that the artists tables exist (they are the artists source's to create)."""
    with warehouse.engine.connect() as conn:
        reflect_tables(conn)


def _tables(ctx: h.ImportContext) -> tuple[sa.Table, sa.Table]:
    t = ctx.cache.get("entities_tables")
    if t is None:
        t = reflect_tables(ctx.conn)
        ctx.cache["entities_tables"] = t
    return t


def clean_name(display_name: str) -> str:
    """A display name as the artists source stores it: runs of whitespace collapsed to one
    space, stripped (README.md "Artists fixtures", identity rule; the artists fixture model
    does ``" ".join(name.split())``)."""
    return " ".join(display_name.split())


def name_key(display_name: str) -> str:
    """The artists natural-key form of a display name (README.md "Artists fixtures", identity
    rule): internal whitespace collapsed, stripped, case-folded — so ``"The  Band"`` and
    ``" the band "`` are the same entity as the fixture's ``"The Band"``."""
    return clean_name(display_name).casefold()


def parse(row: h.Row, options: dict, warnings: list[dict] | None = None) -> tuple[dict[str, Any], list[str], bool | None]:
    """(entity values without id, roles, is_internal) from one row; raises ``ValueError``
    with every problem of the required cells (display name, kind) joined by ``; ``. Optional
    cells that do not parse read as None, each appended to ``warnings`` as ``{"column",
    "value", "reason"}`` (the handler result's warnings, see :mod:`.handlers`)."""
    errors: list[v.FieldError] = []
    vals: dict[str, Any] = {}
    warnings = [] if warnings is None else warnings

    def optional(fn, name, value, *args, **kw):
        try:
            return fn(value, name, *args, **kw)
        except v.FieldError as e:
            warnings.append({"column": name, "value": value, "reason": e.message})
            return None

    def get(*names: str) -> Any:
        for n in names:
            if row.has(n):
                return row.get(n)
        return None

    def field(fn, name, *args, **kw):
        try:
            return fn(*args, **kw)
        except v.FieldError as e:
            errors.append(e)
            return None

    display = field(v.text, "display_name", get("display_name", "name", "full_name"), "display_name", max_len=500)
    if display is None and not any(e.field == "display_name" for e in errors):
        first = field(v.text, "first_name", get("first_name"), "first_name") or ""
        last = field(v.text, "last_name", get("last_name"), "last_name") or ""
        display = " ".join(p for p in (first, last) if p) or None
    if display is not None:
        display = clean_name(display) or None
    if display is None:
        errors.append(v.FieldError("display_name", "required (or first_name / last_name)"))
    kind_raw = field(v.text, "kind", get("kind", "type"), "kind")
    kind = "PF"
    if kind_raw is not None:
        kind = KINDS.get(kind_raw.casefold(), "")
        if not kind:
            errors.append(v.FieldError("kind", f"{kind_raw!r} is not PF/PJ (person/company)"))
    for f in TEXT_FIELDS:
        if row.has(f):
            vals[f] = optional(v.text, f, row.get(f))
    if row.has("email"):
        vals["email"] = optional(v.email, "email", row.get("email"))
    if row.has("phone"):
        vals["phone"] = optional(v.phone, "phone", row.get("phone"), default_region=options.get("phone_region") or "US")
    if row.has("profile_photo_url"):
        vals["profile_photo_url"] = optional(v.url, "profile_photo_url", row.get("profile_photo_url"))
    roles_raw = optional(v.text, "roles", get("roles", "role"))
    # role names lower-cased, as the artists fixture model stores them ("Artist" == "artist")
    roles = [r.strip().lower() for r in _ROLE_SPLIT.split(roles_raw or "") if r.strip()]
    internal = optional(v.boolean, "is_internal", get("is_internal", "internal"))
    if errors:
        raise v.RowError(errors)
    vals.update(kind=kind, display_name=display, name_key=name_key(display))
    return vals, list(dict.fromkeys(roles)), internal


@h.batch_handler
def handle_batch(rows: list[tuple[int, h.Row]], import_job_id: str, options: dict) -> list[dict]:
    """Upsert a batch of entity rows and their roles; one result per row
    (``{"id", "outcome", "roles"}`` or the row's error).

    A row writes all or nothing: rows that do not parse, or whose entity the database refuses,
    write nothing; when a role is refused, :class:`RoleRefused` is raised so the runner rolls
    the batch back and bisects it (:func:`handlers.call_batch`), and that row then fails alone
    with ``roles: <reason>`` while the other rows land."""
    ctx = h.current()
    ent, roles_t = _tables(ctx)
    results: list[dict | None] = [None] * len(rows)
    parsed: list[tuple[int, int, dict, list[str], bool | None]] = []
    warned: dict[int, list[dict]] = {}
    for pos, (idx, row) in enumerate(rows):
        try:
            vals, roles, internal = parse(row, options, warned.setdefault(pos, []))
        except ValueError as e:
            results[pos] = {"ok": False, "error": str(e)}
            continue
        parsed.append((pos, idx, vals, roles, internal))
    if not parsed:
        return results  # type: ignore[return-value]
    # existing ids by natural key: an entity keeps its id
    keys = {(p[2]["kind"], p[2]["name_key"]) for p in parsed}
    existing: dict[tuple[str, str], str] = {}
    key_list = list(keys)
    for i in range(0, len(key_list), 500):
        chunk = key_list[i:i + 500]
        q = sa.select(ent.c.id, ent.c.kind, ent.c.name_key).where(sa.tuple_(ent.c.kind, ent.c.name_key).in_(chunk))
        for e_id, k, nk in ctx.conn.execute(q):
            existing[(k, nk)] = e_id
    pending = []
    for pos, idx, vals, roles, internal in parsed:
        k = (vals["kind"], vals["name_key"])
        eid = existing.get(k) or existing.setdefault(k, str(uuid.uuid4()))
        values = {"id": eid, **{c: (x if x is not None else ("" if c != "gender" else None))
                                for c, x in vals.items()}}
        pending.append(PendingRow(idx, values))
    blanks = frozenset(c for c in ent.c.keys() if c not in ("id", "kind", "name_key", "display_name")
                       and not c.startswith("_"))
    ld = BatchLoader(ctx.conn, TableLoad(ent, key=("kind", "name_key"), preserve_on_blank=blanks), ctx.audit)
    outs = {o.row: o for o in ld.load(pending)}
    known = _known_roles(ctx.conn, roles_t, sorted(set(existing.values())))
    role_rows: list[PendingRow] = []
    by_pos = {}
    for pos, idx, vals, roles, internal in parsed:
        o = outs[idx]
        eid = existing[(vals["kind"], vals["name_key"])]
        if o.outcome.value == "failed":
            results[pos] = {"ok": False, "error": o.error or "refused by the database"}
            continue
        by_pos[pos] = (eid, o.outcome.value, roles)
        have = known.setdefault(eid, {})
        has_primary = any(p for p, _ in have.values())
        for j, role in enumerate(roles):
            old_primary, old_internal = have.get(role, (False, False))
            primary = True if (j == 0 and not has_primary) else old_primary
            flag = internal if internal is not None else old_internal
            have[role] = (primary, flag)
            role_rows.append(PendingRow(idx, {"entity_id": eid, "role": role, "primary_role": primary,
                                              "is_internal": flag}))
    if role_rows:
        rl = BatchLoader(ctx.conn, TableLoad(roles_t, key=("entity_id", "role")), ctx.audit)
        bad_roles = {o.row: o.error for o in rl.load(role_rows) if o.outcome.value == "failed"}
    else:
        bad_roles = {}
    if bad_roles:
        # the entity rows (and the other roles) of a row whose role failed are already written:
        # raising rolls the batch's savepoint back and the runner bisects the batch, so that
        # row fails alone and writes nothing (see handlers.call_batch)
        idx = min(bad_roles)
        raise RoleRefused(f"roles: {bad_roles[idx]}")
    for pos, (eid, outcome, roles) in by_pos.items():
        results[pos] = {"ok": True, "result": {"id": eid, "outcome": outcome, "roles": roles,
                                               **({"warnings": warned[pos]} if warned.get(pos) else {})}}
    return results  # type: ignore[return-value]


def _known_roles(conn: sa.Connection, roles_t: sa.Table, ids: list[str]) -> dict[str, dict[str, tuple[bool, bool]]]:
    """``{entity_id: {role: (primary_role, is_internal)}}`` of the roles already stored for ``ids``."""
    out: dict[str, dict[str, tuple[bool, bool]]] = {}
    for i in range(0, len(ids), 500):
        q = sa.select(roles_t.c.entity_id, roles_t.c.role, roles_t.c.primary_role, roles_t.c.is_internal).where(
            roles_t.c.entity_id.in_(ids[i:i + 500]))
        for eid, role, primary, internal in conn.execute(q):
            out.setdefault(eid, {})[role] = (bool(primary), bool(internal))
    return out


class RoleRefused(ValueError):
    """A role of a row was refused by the database; raised so that the row's whole write
    (entity and roles) is rolled back, not only the role."""
