"""The `entities` importer writes into the artists tables, found by reflection (the artists
source's code is not imported: the tables are created here the way its schema describes)."""

from pathlib import Path

import pytest
import sqlalchemy as sa

from ingestion_pipelines.engine.result_files import read_back
from ingestion_pipelines.engine.schema import audit_columns, natural_key_constraint
from ingestion_pipelines.sources.imports import job_records
from ingestion_pipelines.sources.imports.runner import ImportOptions, run_import

DATA = Path(__file__).resolve().parents[3] / "data" / "imports"


def _artists_tables(wh, *role_constraints):
    md = sa.MetaData()
    t = lambda *cols: [sa.Column(c, sa.Text, nullable=False, server_default="") for c in cols]  # noqa: E731
    sa.Table("entities", md, sa.Column("id", sa.String(36), primary_key=True),
             sa.Column("kind", sa.String(2), nullable=False), sa.Column("display_name", sa.Text, nullable=False),
             sa.Column("name_key", sa.Text, nullable=False),
             *t("first_name", "last_name", "stage_name", "nationality"), sa.Column("gender", sa.Text),
             *t("email", "phone", "address", "city", "state", "zip_code", "country", "notes", "profile_photo_url"),
             sa.Column("photo_uri", sa.Text), sa.Column("photo_sha256", sa.String(64)),
             *audit_columns(), natural_key_constraint("entities", "kind", "name_key"))
    sa.Table("entity_roles", md, sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
             sa.Column("entity_id", sa.String(36), sa.ForeignKey("entities.id", ondelete="CASCADE"), nullable=False),
             sa.Column("role", sa.Text, nullable=False),
             sa.Column("primary_role", sa.Boolean, nullable=False, server_default=sa.false()),
             sa.Column("is_internal", sa.Boolean, nullable=False, server_default=sa.false()),
             *audit_columns(), natural_key_constraint("entity_roles", "entity_id", "role"), *role_constraints)
    wh.setup(md)
    return md.tables["entities"], md.tables["entity_roles"]


def test_entities_missing_tables(sqlite_warehouse, local_store):
    with pytest.raises(Exception, match="artists tables entities, entity_roles do not exist"):
        run_import(sqlite_warehouse, local_store, "entities", str(DATA / "entities.csv"), job_id="e0")
    assert job_records.get_job(sqlite_warehouse.engine, "e0")["status"] == "failed"


def test_entities_from_spreadsheet(warehouse, local_store):
    ent, roles = _artists_tables(warehouse)
    with warehouse.engine.begin() as c:  # an entity already there keeps its id and its hand-typed notes
        c.execute(ent.insert().values(id="11111111-1111-1111-1111-111111111111", kind="PF", display_name="smiley",
                                      name_key="smiley", notes="typed by hand"))
    o = run_import(warehouse, local_store, "entities", str(DATA / "entities.csv"))
    assert (o.success_count, o.failure_count) == (3, 2)
    errs = [r[-1] for r in read_back(local_store.get_bytes(local_store.key_from_uri(o.failed_file["uri"])), "csv")[1:]]
    assert errs[0].startswith("display_name: required")
    assert errs[1].startswith("kind: 'XX' is not PF/PJ")
    # Luna Park's email is not one: an optional cell, so the row lands without it, with a warning
    assert o.warnings.warnings_total == 1
    warned = read_back(local_store.get_bytes(local_store.key_from_uri(o.warnings_file["uri"])), "csv")
    assert warned[0] == ["row", "column", "value", "reason"] and warned[1][:3] == ["6", "email", "luna@example"]
    assert o.warnings_file["uri"].rpartition("/")[0] == o.failed_file["uri"].rpartition("/")[0]
    with warehouse.engine.connect() as c:
        rows = {r.name_key: r for r in c.execute(sa.select(ent))}
        rl = sorted((r.entity_id, r.role, r.primary_role, r.is_internal) for r in c.execute(sa.select(roles)))
    smiley = rows["smiley"]
    assert smiley.id == "11111111-1111-1111-1111-111111111111" and smiley.display_name == "Smiley"
    assert smiley.notes == "typed by hand" and smiley.first_name == "João" and smiley.phone == "+5511912345678"
    assert rows["acme records"].kind == "PJ" and len(rows["acme records"].id) == 36
    assert rows["luna park"].email == "" and rows["luna park"].first_name == "Luna"
    assert rl == sorted([(smiley.id, "artist", True, False), (smiley.id, "producer", False, False),
                         (rows["acme records"].id, "label", True, True), (rows["luna park"].id, "artist", True, False)])
    o2 = run_import(warehouse, local_store, "entities", str(DATA / "entities.csv"), ImportOptions(output_format="xlsx"))
    assert o2.outcomes == {"unchanged": 3}


def test_entities_optional_cells_that_do_not_parse_are_warnings(warehouse, local_store, tmp_path):
    ent, roles = _artists_tables(warehouse)
    with warehouse.engine.begin() as c:  # a stored phone survives an unreadable cell (blank never overwrites)
        c.execute(ent.insert().values(id="22222222-2222-2222-2222-222222222222", kind="PF", display_name="Kept",
                                      name_key="kept", phone="+40721234567"))
    sheet = tmp_path / "people.csv"
    sheet.write_text("kind,display_name,email,phone,profile_photo_url,is_internal\n"
                     "PF,Kept,kept@example.com,555-0100,,\n"
                     "PF,New One,not an email,,www.example.com/p.jpg,maybe\n"
                     ",Blank Kind Is Fine,,,,\n"
                     "XX,Bad Kind,,,,\n")
    o = run_import(warehouse, local_store, "entities", str(sheet))
    assert (o.success_count, o.failure_count, o.warnings.warnings_total) == (3, 1, 4)
    assert [(w.row, w.column, w.value) for w in o.warnings.warnings] == [
        (2, "phone", "555-0100"), (3, "email", "not an email"), (3, "profile_photo_url", "www.example.com/p.jpg"),
        (3, "is_internal", "maybe")]
    with warehouse.engine.connect() as c:
        got = {r.name_key: r for r in c.execute(sa.select(ent))}
    assert got["kept"].phone == "+40721234567" and got["kept"].email == "kept@example.com"
    assert got["new one"].email == "" and got["new one"].profile_photo_url == "" and "blank kind is fine" in got
    success = read_back(local_store.get_bytes(local_store.key_from_uri(o.success_file["uri"])), "csv")
    assert all("warnings" not in r[-1] for r in success[1:])  # warnings go to their own file only


def test_entities_row_with_refused_role_writes_nothing(warehouse, local_store, tmp_path):
    """A row whose role the database refuses fails and leaves neither its entity nor its other
    roles behind; the other rows of the batch land."""
    ent, roles = _artists_tables(warehouse, sa.CheckConstraint("role <> 'forbidden'", name="ck_test_role"))
    p = tmp_path / "e.csv"
    p.write_text("kind,display_name,roles\nPF,Good One,artist\nPF,Bad Role,\"artist, forbidden\"\n"
                 "PF,Good Two,\"producer, artist\"\n")
    o = run_import(warehouse, local_store, "entities", str(p))
    assert (o.success_count, o.failure_count) == (2, 1)
    failed = read_back(local_store.get_bytes(local_store.key_from_uri(o.failed_file["uri"])), "csv")[1:]
    assert [(r[1], r[-1][:7]) for r in failed] == [("Bad Role", "roles: ")]
    with warehouse.engine.connect() as c:
        names = {r.name_key: r.id for r in c.execute(sa.select(ent))}
        rl = sorted((r.entity_id, r.role) for r in c.execute(sa.select(roles)))
    assert set(names) == {"good one", "good two"}
    assert rl == sorted([(names["good one"], "artist"), (names["good two"], "producer"), (names["good two"], "artist")])


def test_entities_identity_and_primary_role_follow_the_artists_rules(warehouse, local_store, tmp_path):
    """Identity as the artists fixtures (README "Artists fixtures"): whitespace collapsed, then
    case-folded, so "The  Band" is the fixture's "The Band"; role names lower-cased; the row's
    first role is primary only while the entity has none, so no entity ends with two."""
    ent, roles = _artists_tables(warehouse)
    band = "22222222-2222-2222-2222-222222222222"
    with warehouse.engine.begin() as c:  # as the artists fixture import leaves it
        c.execute(ent.insert().values(id=band, kind="PF", display_name="The Band", name_key="the band"))
        c.execute(roles.insert().values(entity_id=band, role="artist", primary_role=True, is_internal=True))
    p = tmp_path / "e.csv"
    p.write_text("kind,display_name,roles,is_internal\n"
                 "PF,\"  The  Band \",\"Producer, Artist\",\n"
                 "PF,New   Act,\"singer, dancer\",false\n"
                 "PF,new act,\"dancer, writer\",\n")
    o = run_import(warehouse, local_store, "entities", str(p))
    assert (o.success_count, o.failure_count) == (3, 0)
    with warehouse.engine.connect() as c:
        ents = {r.name_key: (r.id, r.display_name) for r in c.execute(sa.select(ent))}
        rl = {(r.entity_id, r.role): (r.primary_role, r.is_internal) for r in c.execute(sa.select(roles))}
    assert set(ents) == {"the band", "new act"}
    assert ents["the band"] == (band, "The Band") and ents["new act"][1] == "new act"  # last row's spelling
    act = ents["new act"][0]
    assert rl == {(band, "artist"): (True, True), (band, "producer"): (False, False),
                  (act, "singer"): (True, False), (act, "dancer"): (False, False), (act, "writer"): (False, False)}


def test_entities_asset_reports_warnings_in_its_metadata(warehouse, local_store):
    from dagster import materialize

    from ingestion_pipelines.sources.imports.assets import import_job
    from ingestion_pipelines.sources.imports.jobs import run_config

    _artists_tables(warehouse)
    res = materialize([import_job], resources={"warehouse": warehouse, "blob_store": local_store},
                      run_config=run_config("entities", str(DATA / "entities.csv"), "ent-md"))
    md = {k: getattr(v, "value", v) for k, v in res.asset_materializations_for_node("imports__import_job")[0].metadata.items()}
    assert (md["success_count"], md["failed"], md["warnings"]) == (3, 2, 1)
    assert md["warnings_file"].endswith("/results/ent-md/entities_warnings.csv")
    assert "| 6 | email | luna@example |" in md["warnings_preview"]
    assert local_store.exists(local_store.key_from_uri(md["warnings_file"]))
