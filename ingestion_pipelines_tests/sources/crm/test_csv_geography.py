"""The ZIP/state check (issue 12, "Geography"): ``hubspot_zipcodes`` is the reference; leads,
prospects and tasks whose ZIP it does not know, or whose state contradicts the ZIP, are counted
and listed (``engine.profile_geography``), against the samples' own reference and against the
public ``us-zipcodes`` corpus (42,366 ZIPs with leading zeros) loaded through the HubSpot
zipcodes profile (its ``code`` header is an alias of ``zipcode``)."""

from __future__ import annotations

import csv

import pytest
from dagster import AssetCheckSeverity, build_asset_check_context

from ingestion_pipelines.engine.profile_geography import zip_state_check, zip_state_counts
from ingestion_pipelines.engine.profile_load import load_csv

from .test_csv_profiles import DATA, EXPECTED, profile, rel, rows_of

#: profile slug -> (zip field, state field)
CHECKED = {"leadconduit-leads": ("postal_code", "state"), "genius-prospects": ("zip", "state"),
           "arrivy-tasks": ("zipcode", "state")}
#: Against the full corpus (data/crm/README.md): 60601 is a real ZIP, 99999 is nobody's.
FULL = {"leadconduit-leads": (1, 1), "genius-prospects": (1, 1), "arrivy-tasks": (0, 1)}


def _counts(warehouse, slug: str) -> dict:
    p = profile(slug)
    z, st = CHECKED[slug]
    with warehouse.engine.connect() as conn:
        return zip_state_counts(conn, p.target, z, st, p.key, schema=warehouse.schema_name)


def _load(warehouse, store, slug: str) -> None:
    p = profile(slug)
    for path in p.sample_paths():
        assert load_csv(warehouse, store, p, str(path)).status == "succeeded"


def test_samples_against_the_sample_reference(warehouse, local_store):
    _load(warehouse, local_store, "hubspot-zipcodes")
    for slug in CHECKED:
        _load(warehouse, local_store, slug)
        got = _counts(warehouse, slug)
        e = EXPECTED[rel(profile(slug).sample_paths()[0])]
        assert (got["zip_unknown"], got["zip_state_mismatch"]) == (e["zip_unknown"], e["zip_state_mismatch"]), slug
        assert got["reference_zips"] == 37
        assert len(got["unknown_examples"]) == e["zip_unknown"]
    leads = _counts(warehouse, "leadconduit-leads")
    assert {x["zip"][:5] for x in leads["unknown_examples"]} == {"60601", "99999"}
    (m,) = leads["mismatch_examples"]
    assert (m["zip"][:5], m["state"], m["reference_state"]) == ("10001", "NJ", "NY")


def test_against_the_us_zipcodes_corpus(warehouse, local_store, testdata):
    zips = profile("hubspot-zipcodes")
    path = testdata / "us-zipcodes" / "all_us_zipcodes.csv"
    r = load_csv(warehouse, local_store, zips, str(path))
    assert r.status == "succeeded", r.error
    assert (r.rows_read, r.counts["inserted"], r.counts["failed"]) == (42366, 42366, 0)
    assert set(r.header_map.unmapped) == {"area_code", "lat", "lon"}      # kept in raw
    with open(path, encoding="utf-8", newline="") as f:
        first = next(csv.DictReader(f))
    (z,) = rows_of(warehouse, zips.target, zips.target.c.zipcode == first["code"])
    assert (z["zipcode"], z["city"], z["state"], z["raw"]["lat"]) == ("00501", "Holtsville", "NY", first["lat"])
    for slug, want in FULL.items():
        _load(warehouse, local_store, slug)
        got = _counts(warehouse, slug)
        assert (got["zip_unknown"], got["zip_state_mismatch"]) == want, slug


def test_without_a_reference_nothing_is_compared(sqlite_warehouse, local_store):
    _load(sqlite_warehouse, local_store, "leadconduit-leads")
    got = _counts(sqlite_warehouse, "leadconduit-leads")
    assert (got["reference_zips"], got["zip_unknown"], got["zip_state_mismatch"]) == (0, 0, 0)
    assert got["rows_with_zip"] == 48


@pytest.mark.parametrize("with_reference", [True, False])
def test_the_asset_check_warns_with_examples(with_reference, sqlite_warehouse, local_store):
    if with_reference:
        _load(sqlite_warehouse, local_store, "hubspot-zipcodes")
    _load(sqlite_warehouse, local_store, "genius-prospects")
    check = zip_state_check(profile("genius-prospects"), "zip", "state")
    (key,) = check.check_keys
    assert (key.asset_key.path, key.name) == (["genius", "csv_prospects"], "zip_state_known")
    result = check(build_asset_check_context(resources={"warehouse": sqlite_warehouse}))
    assert result.passed is False and result.severity == AssetCheckSeverity.WARN
    md = {k: getattr(v, "value", v) for k, v in result.metadata.items()}
    if with_reference:
        assert (md["zip_unknown"], md["zip_state_mismatch"], md["reference_zips"]) == (2, 1, 37)
        assert "| 99999 | MA |" in md["unknown_examples"] and "| 02101-1821 | NH | MA |" in md["mismatch_examples"]
    else:
        assert md["reference_zips"] == 0 and "ingest csv-hubspot-zipcodes" in md["note"]


def test_a_field_that_is_not_a_column_is_refused():
    with pytest.raises(ValueError, match="not a column"):
        zip_state_check(profile("leadconduit-leads"), "zip", "state")
