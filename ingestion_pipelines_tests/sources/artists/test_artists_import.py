"""The artists source end to end on SQLite and the real PostgreSQL: the committed sample
fixture, idempotency, --update-existing, --dry-run, bad files, export round trip."""

import csv
import json
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from dagster import DagsterInstance, materialize

from ingestion_pipelines.engine.ledger import ingest_files
from ingestion_pipelines.resources.http import HttpClient
from ingestion_pipelines.sources.artists.assets import artists_import, fixture_export
from ingestion_pipelines.sources.artists.checks import CHECKS
from ingestion_pipelines.sources.artists.schema import entities, entity_roles, social_media_accounts

from ...conftest import PROJECT_ROOT

SAMPLE = PROJECT_ROOT / "data" / "artists" / "artists_fixture.json"
SAMPLE_VALID = 37  # data/artists/README.md: 41 entities, 4 invalid, 2 with an optional field unread
SAMPLE_INVALID = 4


def run_import(warehouse, store, http=None, *, fixture, checks=True, **options):
    res = materialize(
        [artists_import, *(CHECKS if checks else [])],
        resources={"warehouse": warehouse, "blob_store": store, "http": http or HttpClient(max_retries=0)},
        run_config={"ops": {"artists_import": {"config": {"fixture": str(fixture), **options}}}},
        instance=DagsterInstance.ephemeral(), raise_on_error=False,
    )
    mats = {}
    for ev in res.get_asset_materialization_events():
        m = ev.event_specific_data.materialization
        mats[m.asset_key.to_user_string()] = {k: getattr(v, "value", v) for k, v in m.metadata.items()}
    return res, mats


def rows(warehouse, table, *cols):
    with warehouse.engine.connect() as c:
        return sorted(tuple(r) for r in c.execute(sa.select(*[table.c[x] for x in cols])).all())


def test_sample_fixture_lands_and_reports_bad_entities(warehouse, local_store):
    res, mats = run_import(warehouse, local_store, fixture=SAMPLE)
    assert res.success
    ent = mats["artists/entities"]
    assert ent["inserted"] == SAMPLE_VALID and ent["failed"] == SAMPLE_INVALID
    assert ent["dagster/row_count"] == SAMPLE_VALID
    # photos: 20 local images stored; 7 https (no internet here) + 3 refused ones reported
    assert ent["photos_downloaded"] == 20 and ent["photos_failed"] == 10
    assert warehouse.count(entities) == SAMPLE_VALID
    assert warehouse.count(entities, entities.c.photo_uri.is_not(None)) == 20
    assert warehouse.count(entity_roles) == mats["artists/entity_roles"]["inserted"] > SAMPLE_VALID
    assert warehouse.count(social_media_accounts) == mats["artists/social_media_accounts"]["inserted"]
    # phone normalised to E.164 where parseable
    (phone,) = rows(warehouse, entities, "phone")[0:0] or [None]
    with warehouse.engine.connect() as c:
        smiley = c.execute(sa.select(entities).where(entities.c.display_name == "Smiley")).mappings().one()
    assert smiley["phone"] == "+40721234567" and smiley["name_key"] == "smiley"
    # every stored photo is in the store, once per content
    stored = list(local_store.list("media/entity_photos/"))
    assert len(stored) == 20
    # failed-rows file: one line per bad entity, with its reason
    failed_csv = Path(local_store.key_from_uri(ent["failed_rows_file"]) and local_store._path(local_store.key_from_uri(ent["failed_rows_file"])))
    with open(failed_csv, newline="", encoding="utf-8") as f:
        failed = list(csv.DictReader(f))
    assert len(failed) == SAMPLE_INVALID
    reasons = " | ".join(r["import_error"] for r in failed)
    for expected in ("kind: Field required", "Input should be 'PF' or 'PJ'", "display_name is required",
                     "more than one primary role"):
        assert expected in reasons
    # optional fields that did not parse (DESIGN.md §9): the entities landed without them
    assert ent["warnings"] == 3 and "| 36 | email | not-an-email@ |" in ent["warnings_preview"]
    with open(local_store._path(local_store.key_from_uri(ent["warnings_file"])), newline="", encoding="utf-8-sig") as f:
        warned = list(csv.DictReader(f))
    assert local_store.key_from_uri(ent["warnings_file"]).rpartition("/")[0] == \
        local_store.key_from_uri(ent["failed_rows_file"]).rpartition("/")[0]
    assert [(w["row"], w["column"], w["value"]) for w in warned] == [
        ("13", "phone", "(555) 010-2030"), ("36", "email", "not-an-email@"), ("38", "social_media.0.follower_count", "-5")]
    with warehouse.engine.connect() as c:
        landed = dict(c.execute(sa.select(entities.c.display_name, entities.c.email).where(
            entities.c.display_name.in_(["Bad Email Person", "Negative Followers"]))).all())
        followers = c.execute(sa.select(social_media_accounts.c.follower_count).join(
            entities, entities.c.id == social_media_accounts.c.entity_id).where(
            entities.c.display_name == "Negative Followers")).scalars().all()
    assert landed == {"Bad Email Person": "", "Negative Followers": landed["Negative Followers"]} and followers == [None]
    failed_json = json.loads(local_store.get_bytes(local_store.key_from_uri(ent["failed_fixture_file"])))
    assert len(failed_json) == SAMPLE_INVALID and all("import_error" in e for e in failed_json)
    # the file is in the ledger
    with warehouse.engine.connect() as c:
        led = c.execute(sa.select(ingest_files)).mappings().one()
    assert led["status"] == "succeeded" and led["rows_read"] == 41 and led["rows_failed"] == SAMPLE_INVALID
    # checks ran and passed
    assert all(e.passed for e in res.get_asset_check_evaluations())
    assert len(res.get_asset_check_evaluations()) == len(CHECKS)


def test_reimport_changes_nothing_then_update_existing_updates(warehouse, local_store, tmp_path):
    run_import(warehouse, local_store, fixture=SAMPLE, checks=False)
    before = rows(warehouse, entities, "id", "display_name", "_ingested_at")
    _, mats = run_import(warehouse, local_store, fixture=SAMPLE, checks=False)
    ent = mats["artists/entities"]
    assert ent["skipped"] == SAMPLE_VALID and ent["inserted"] == ent["updated"] == 0
    assert ent["photos_downloaded"] == 0
    assert rows(warehouse, entities, "id", "display_name", "_ingested_at") == before

    # --update-existing with the same data: every entity unchanged, nothing rewritten
    _, mats = run_import(warehouse, local_store, fixture=SAMPLE, checks=False, update_existing=True)
    ent = mats["artists/entities"]
    assert ent["unchanged"] == SAMPLE_VALID and ent["updated"] == 0
    assert rows(warehouse, entities, "id", "display_name", "_ingested_at") == before

    # edit a copy (workflow 3): follower count changed, a social account removed, a city changed
    work = tmp_path / "fx"
    shutil.copytree(SAMPLE.parent, work)
    data = json.loads((work / "artists_fixture.json").read_text())
    smiley = next(e for e in data if e.get("display_name") == "Smiley")
    smiley["social_media"][0]["follower_count"] = 123
    inna = next(e for e in data if e.get("display_name") == "Inna")
    inna["social_media"] = inna["social_media"][:1]
    delia = next(e for e in data if e.get("display_name") == "Delia")
    delia["city"] = "Cluj-Napoca"
    (work / "artists_fixture.json").write_text(json.dumps(data))
    _, mats = run_import(warehouse, local_store, fixture=work / "artists_fixture.json", checks=False, update_existing=True)
    ent = mats["artists/entities"]
    assert ent["updated"] == 3 and ent["unchanged"] == SAMPLE_VALID - 3
    assert mats["artists/social_media_accounts"]["deleted"] == 1
    with warehouse.engine.connect() as c:
        f = c.execute(sa.select(social_media_accounts.c.follower_count).join(entities, entities.c.id == social_media_accounts.c.entity_id)
                      .where(entities.c.display_name == "Smiley", social_media_accounts.c.platform == "instagram")).scalar()
        city = c.execute(sa.select(entities.c.city).where(entities.c.display_name == "Delia")).scalar()
    assert f == 123 and city == "Cluj-Napoca"


def test_dry_run_writes_nothing_and_reports(warehouse, local_store):
    _, mats = run_import(warehouse, local_store, fixture=SAMPLE, checks=False, dry_run=True)
    ent = mats["artists/entities"]
    assert ent["dry_run"] is True
    assert ent["inserted"] == SAMPLE_VALID and ent["failed"] == SAMPLE_INVALID
    assert warehouse.count(entities) == 0 and warehouse.count(entity_roles) == 0
    assert warehouse.count(ingest_files) == 0
    assert ent["failed_rows_file"] == ""
    assert list(local_store.list("")) == []  # no photo, no result file written


@pytest.mark.parametrize("content, message", [
    (b"this is not json {", "not valid JSON"),
    (b'{"kind": "PF", "display_name": "x"}', "must be a JSON array"),
    (b"", "not valid JSON"),
])
def test_bad_fixture_file_fails_clearly_and_is_recorded(sqlite_warehouse, local_store, tmp_path, content, message):
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    res, _ = run_import(sqlite_warehouse, local_store, fixture=bad, checks=False)
    assert not res.success
    failure = next(e for e in res.all_events if e.event_type_value == "STEP_FAILURE")
    assert message in failure.event_specific_data.error.message
    with sqlite_warehouse.engine.connect() as c:
        led = c.execute(sa.select(ingest_files)).mappings().one()
    assert led["status"] == "failed" and message in led["error"]
    assert sqlite_warehouse.count(entities) == 0


def test_missing_fixture_fails_clearly(sqlite_warehouse, local_store, tmp_path):
    res, _ = run_import(sqlite_warehouse, local_store, fixture=tmp_path / "nope.json", checks=False)
    assert not res.success


def test_identity_by_id_then_by_case_insensitive_name(sqlite_warehouse, local_store, tmp_path):
    f = tmp_path / "a.json"
    f.write_text(json.dumps([{"kind": "PF", "display_name": "Smiley"},
                             {"kind": "pf", "display_name": "  SMILEY "}]))  # same identity twice
    _, mats = run_import(sqlite_warehouse, local_store, fixture=f, checks=False)
    assert mats["artists/entities"]["inserted"] == 1 and mats["artists/entities"]["failed"] == 1
    (eid,) = [r[0] for r in rows(sqlite_warehouse, entities, "id")]
    # renamed entity carrying its id: matched by id, updated (not duplicated)
    f.write_text(json.dumps([{"id": eid, "kind": "PF", "display_name": "Smiley Official"}]))
    _, mats = run_import(sqlite_warehouse, local_store, fixture=f, checks=False, update_existing=True)
    assert mats["artists/entities"]["updated"] == 1
    assert rows(sqlite_warehouse, entities, "id", "display_name") == [(eid, "Smiley Official")]


def test_naughty_strings_land_verbatim(sqlite_warehouse, local_store, tmp_path, testdata):
    blns = json.loads((testdata / "naughty-strings" / "blns.json").read_text())
    names = [s for s in blns if s.strip() and "\x00" not in s][:300]
    unique = {}
    for s in names:
        unique.setdefault(" ".join(s.split()).casefold(), s)
    f = tmp_path / "naughty.json"
    f.write_text(json.dumps([{"kind": "PJ", "display_name": s, "notes": s} for s in unique.values()]))
    _, mats = run_import(sqlite_warehouse, local_store, fixture=f, checks=False)
    ent = mats["artists/entities"]
    assert ent["inserted"] + ent["failed"] == len(unique)
    assert ent["inserted"] >= len(unique) - 5
    with sqlite_warehouse.engine.connect() as c:
        notes = set(c.execute(sa.select(entities.c.notes)).scalars())
    assert notes <= {s.strip() for s in unique.values()}


def test_export_then_import_into_empty_warehouse_reproduces_rows(warehouse, local_store, tmp_path):
    from ingestion_pipelines.resources.warehouse import WarehouseResource

    empty = WarehouseResource(url=f"sqlite:///{tmp_path / 'empty.db'}")
    run_import(warehouse, local_store, fixture=SAMPLE, checks=False)
    out = tmp_path / "export.json"
    res = materialize([fixture_export], resources={"warehouse": warehouse, "blob_store": local_store},
                      run_config={"ops": {"artists__fixture_export": {"config": {"output": str(out)}}}},
                      instance=DagsterInstance.ephemeral())
    assert res.success
    exported = json.loads(out.read_text())
    assert len(exported) == SAMPLE_VALID and all(e["id"] for e in exported)
    # internal only: the seed's --internal-only
    out2 = tmp_path / "internal.json"
    materialize([fixture_export], resources={"warehouse": warehouse, "blob_store": local_store},
                run_config={"ops": {"artists__fixture_export": {"config": {"output": str(out2), "internal_only": True}}}},
                instance=DagsterInstance.ephemeral())
    internal = json.loads(out2.read_text())
    assert 0 < len(internal) < len(exported)
    assert all(any(r["is_internal"] for r in e["roles"]) for e in internal)

    # import the export into an empty warehouse (same storage: photos are reused, not downloaded)
    _, mats = run_import(empty, local_store, fixture=out, checks=False)
    assert mats["artists/entities"]["inserted"] == SAMPLE_VALID and mats["artists/entities"]["failed"] == 0
    assert mats["artists/entities"]["photos_downloaded"] == 0
    # profile_photo_url records where a photo came *from*: after a round trip it is the
    # storage URI the export referenced; the stored photo itself (photo_uri, sha256) is equal.
    cols = [c.name for c in entities.columns if not c.name.startswith("_") and c.name != "profile_photo_url"]
    assert rows(empty, entities, *cols) == rows(warehouse, entities, *cols)
    rcols = ("entity_id", "role", "primary_role", "is_internal")
    assert rows(empty, entity_roles, *rcols) == rows(warehouse, entity_roles, *rcols)
    scols = ("entity_id", "platform", "handle", "url", "display_name", "follower_count", "is_verified", "is_primary", "notes")
    assert rows(empty, social_media_accounts, *scols) == rows(warehouse, social_media_accounts, *scols)


def test_optional_fields_that_do_not_parse_are_warnings_and_the_entity_lands(warehouse, local_store, tmp_path):
    fx = tmp_path / "optional.json"
    fx.write_text(json.dumps([
        {"kind": "PF", "display_name": "Typed Counts", "email": "nope@", "social_media": [
            {"platform": "instagram", "handle": "tc", "follower_count": "12.5k"},
            {"platform": "tiktok", "handle": "tc2", "follower_count": "lots", "is_verified": "maybe"},
            {"platform": "youtube", "url": "ftp://example.com/x"}]},
        {"kind": "XX", "display_name": "Bad Kind", "email": "also bad"},
    ]))
    res, mats = run_import(warehouse, local_store, fixture=fx, checks=False)
    ent = mats["artists/entities"]
    assert res.success and (ent["inserted"], ent["failed"], ent["warnings"]) == (1, 1, 5)  # email, count, flag, url, then the account
    with warehouse.engine.connect() as c:
        accounts = dict(c.execute(sa.select(social_media_accounts.c.platform, social_media_accounts.c.follower_count)).all())
        email = c.execute(sa.select(entities.c.email)).scalar_one()
    assert accounts == {"instagram": 12500, "tiktok": None} and email == ""
    body = local_store.get_bytes(local_store.key_from_uri(ent["warnings_file"])).decode("utf-8-sig")
    for text in ("email,nope@", "social_media.1.follower_count,lots", "social_media.1.is_verified,maybe",
                 "account dropped: a social account needs a handle or a url"):
        assert text in body
