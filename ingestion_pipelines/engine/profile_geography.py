"""The ZIP/state asset check of CSV profiles (issue 12, "Geography"): rows whose ZIP code the
reference does not know, or whose state contradicts the ZIP's state.

The reference is the warehouse table ``hubspot_zipcodes`` (DESIGN.md §10: ``zipcode`` text of 5
digits, ``state`` two-letter USPS code), loaded by ``ingest csv-hubspot-zipcodes`` from the
HubSpot export or a public ZIP list (``../shared/testdata/us-zipcodes``: 42,366 ZIPs). It is
named here, not imported: a source never imports another (RULES, import-linter), so the
engine holds the two columns it reads (:data:`ZIP_REFERENCE`), and a missing table is
reported, not an error.

Usage, in a system's ``csv_definitions.py``::

    defs = csv_definitions(PROFILES, extra_checks=[zip_state_check(LEADS, "postal_code", "state")])

The check is WARN (a lead with a mistyped ZIP is suspicious, not wrong data) and lists up to
``examples`` offending rows (key, ZIP, state, the reference's state) as a Markdown table.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from dagster import AssetCheckResult, AssetCheckSeverity, AssetChecksDefinition, AssetKey, MetadataValue, asset_check

from .profile_assets import profile_asset_key
from .profiles import CsvProfile

#: The reference table, by name (the HubSpot CSV profile's derived table): only what is read.
ZIP_REFERENCE = sa.Table(
    "hubspot_zipcodes", sa.MetaData(),
    sa.Column("zipcode", sa.String(10), primary_key=True),
    sa.Column("state", sa.String(2)),
)
#: The asset that loads the reference (``hubspot/csv_zipcodes``): the check's extra upstream.
ZIP_REFERENCE_ASSET = AssetKey(["hubspot", "csv_zipcodes"])


def zip_state_counts(conn: sa.Connection, table: sa.Table, zip_col: str, state_col: str, key: tuple[str, ...],
                     *, schema: str | None = None, examples: int = 10) -> dict[str, Any]:
    """Counts of ``table``'s live rows (``_deleted_at`` NULL when the table has it) against
    :data:`ZIP_REFERENCE`, on the ZIP's first 5 characters (ZIP+4 ``02134-1234`` -> ``02134``):

    * ``zip_unknown``: a ZIP the reference does not have;
    * ``zip_state_mismatch``: a known ZIP whose row state and reference state are both set and
      differ;
    * ``rows_with_zip``: rows with a ZIP; ``reference_zips``: rows of the reference (0 or a
      missing table: nothing was compared, both counts are 0);
    * ``unknown_examples`` / ``mismatch_examples``: up to ``examples`` rows each as dicts
      (the ``key`` columns, ``zip``, ``state``, ``reference_state``).

    ``schema``: where the reference lives when it must be looked up (PostgreSQL test schemas);
    ``conn`` should carry the same schema translation as the load (the warehouse engine's).
    """
    out: dict[str, Any] = {"zip_unknown": 0, "zip_state_mismatch": 0, "rows_with_zip": 0, "reference_zips": 0,
                           "unknown_examples": [], "mismatch_examples": []}
    live = [table.c._deleted_at.is_(None)] if "_deleted_at" in table.c else []
    z, st = table.c[zip_col], table.c[state_col]
    out["rows_with_zip"] = conn.execute(sa.select(sa.func.count()).select_from(table).where(z.is_not(None), *live)).scalar()
    if not sa.inspect(conn).has_table(ZIP_REFERENCE.name, schema=schema):
        return out
    ref = ZIP_REFERENCE
    out["reference_zips"] = conn.execute(sa.select(sa.func.count()).select_from(ref)).scalar()
    if not out["reference_zips"]:
        return out
    joined = table.outerjoin(ref, ref.c.zipcode == sa.func.substr(z, 1, 5))
    base = [z.is_not(None), *live]
    rules = {"unknown": ref.c.zipcode.is_(None),
             "mismatch": sa.and_(ref.c.zipcode.is_not(None), st.is_not(None), ref.c.state.is_not(None),
                                 st != ref.c.state)}
    cols = [*(table.c[k] for k in key), z.label("zip"), st.label("state"), ref.c.state.label("reference_state")]
    for name, rule in rules.items():
        counted = f"zip_{name}" if name == "unknown" else "zip_state_mismatch"
        out[counted] = conn.execute(sa.select(sa.func.count()).select_from(joined).where(*base, rule)).scalar()
        rows = conn.execute(sa.select(*cols).select_from(joined).where(*base, rule)
                            .order_by(*(table.c[k] for k in key)).limit(examples)).mappings()
        out[f"{name}_examples"] = [dict(r) for r in rows]
    return out


def _markdown(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "none"
    head = list(rows[0])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join("" if r[h] is None else str(r[h]) for h in head) + " |" for r in rows]
    return "\n".join(lines)


def zip_state_check(profile: CsvProfile, zip_field: str, state_field: str, *, examples: int = 10) -> AssetChecksDefinition:
    """A WARN ``@asset_check`` ``zip_state_known`` on ``profile``'s asset: passes when no live
    row has an unknown ZIP or a state that contradicts its ZIP (see :func:`zip_state_counts`);
    the metadata carries both counts, the rows compared, the reference's size and the examples.
    An empty or missing reference fails the check (WARN) saying so: nothing could be verified.
    Raises ``ValueError`` when the fields are not columns of the profile's table."""
    table = profile.target
    for f in (zip_field, state_field):
        if f not in table.c:
            raise ValueError(f"{profile.slug}: {f!r} is not a column of {table.name}")

    @asset_check(asset=profile_asset_key(profile), name="zip_state_known",
                 additional_deps=[ZIP_REFERENCE_ASSET], blocking=False, required_resource_keys={"warehouse"},
                 description=f"{table.name}: every {zip_field} is a ZIP of hubspot_zipcodes and {state_field} "
                             "agrees with that ZIP's state (WARN; examples listed).")
    def _check(context) -> AssetCheckResult:
        warehouse = context.resources.warehouse
        warehouse.setup(profile.metadata)
        with warehouse.engine.connect() as conn:
            got = zip_state_counts(conn, table, zip_field, state_field, profile.key,
                                   schema=getattr(warehouse, "schema_name", None), examples=examples)
        meta: dict[str, Any] = {k: got[k] for k in ("zip_unknown", "zip_state_mismatch", "rows_with_zip", "reference_zips")}
        meta["unknown_examples"] = MetadataValue.md(_markdown(got["unknown_examples"]))
        meta["mismatch_examples"] = MetadataValue.md(_markdown(got["mismatch_examples"]))
        if not got["reference_zips"]:
            meta["note"] = "hubspot_zipcodes is empty or missing: load a ZIP list with `ingest csv-hubspot-zipcodes`"
            return AssetCheckResult(passed=False, severity=AssetCheckSeverity.WARN, metadata=meta)
        passed = not (got["zip_unknown"] or got["zip_state_mismatch"])
        return AssetCheckResult(passed=passed, severity=AssetCheckSeverity.WARN, metadata=meta)

    return _check
