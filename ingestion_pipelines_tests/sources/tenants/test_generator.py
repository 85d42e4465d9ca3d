"""The dataset generator: deterministic, referentially consistent, defects exactly as listed."""

import gzip
import hashlib
import json
from pathlib import Path

import orjson
import pytest

from ingestion_pipelines.sources.tenants.generator import generate
from ingestion_pipelines.sources.tenants.records import Parser, entity_of


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_deterministic_and_consistent(tmp_path):
    a = generate(tmp_path / "a", tenants=2, products_per_tenant=50, orders_per_tenant=120, chunk_size=40, seed=3)
    b = generate(tmp_path / "b", tenants=2, products_per_tenant=50, orders_per_tenant=120, chunk_size=40, seed=3)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    c = generate(tmp_path / "c", tenants=2, products_per_tenant=50, orders_per_tenant=120, chunk_size=40, seed=4)
    assert c.tenants != a.tenants
    # names as in the seed; orders and items share chunk numbers
    names = {p.name for p in (tmp_path / "a").iterdir()}
    tid = a.tenants[0]
    assert {f"products_{tid}_chunk_0000.ndjson", f"products_{tid}_chunk_0001.ndjson", f"customers_{tid}.ndjson",
            f"orders_{tid}_chunk_0002.ndjson", f"order_items_{tid}_chunk_0002.ndjson",
            f"price_history_{tid}_chunk_0000.ndjson", f"stock_events_{tid}_chunk_0000.ndjson", "tenants.csv"} <= names
    recs: dict[str, list[dict]] = {}
    for p in (tmp_path / "a").glob(f"*_{tid}*.ndjson"):
        ent = entity_of(p.name)[0]
        recs.setdefault(ent, []).extend(orjson.loads(ln) for ln in p.read_bytes().splitlines())
    assert len(recs["products"]) == 50 and len(recs["orders"]) == 120 and len(recs["customers"]) == 24
    products = {r["product_id"]: r for r in recs["products"]}
    orders = {r["order_id"]: r for r in recs["orders"]}
    customers = {r["customer_id"] for r in recs["customers"]}
    assert all(o["customer_id"] in customers for o in orders.values())
    per_order: dict[str, list[dict]] = {}
    for it in recs["order_items"]:
        assert it["order_id"] in orders and it["product_id"] in products
        assert it["unit_price"] == products[it["product_id"]]["price"]
        per_order.setdefault(it["order_id"], []).append(it)
    for oid, o in orders.items():
        items = per_order[oid]
        assert 1 <= len(items) <= 6 and o["item_count"] == len(items)
        assert round(sum(i["quantity"] * float(i["unit_price"]) for i in items), 2) == float(o["total"])
    # every good line passes the loader's own parser
    parser = Parser("orders", tid)
    for line in (tmp_path / "a" / f"orders_{tid}_chunk_0000.ndjson").read_bytes().splitlines():
        parser.parse(line)


def test_defects_are_extra_lines_listed_in_the_manifest(tmp_path):
    clean = generate(tmp_path / "clean", tenants=2, products_per_tenant=60, orders_per_tenant=150, seed=9)
    bad = generate(tmp_path / "bad", tenants=2, products_per_tenant=60, orders_per_tenant=150, seed=9, defects=0.05)
    assert bad.good == clean.good
    manifest = json.loads((tmp_path / "bad" / "defects_manifest.json").read_text())["defects"]
    assert manifest == bad.defects and len(manifest) > 20
    kinds = {d["kind"] for d in manifest}
    assert kinds == {"malformed_json", "missing_key", "wrong_type", "duplicate_id", "orphan_reference", "invalid_utf8"}
    by_file: dict[str, set[int]] = {}
    for d in manifest:
        by_file.setdefault(d["file"], set()).add(d["line"])
    for name, lines in by_file.items():
        all_lines = (tmp_path / "bad" / name).read_bytes().splitlines()
        good = [ln for i, ln in enumerate(all_lines, 1) if i not in lines]
        assert good == (tmp_path / "clean" / name).read_bytes().splitlines()


def test_gzip_and_bad_arguments(tmp_path):
    s = generate(tmp_path, tenants=1, products_per_tenant=5, orders_per_tenant=5, gzip=True)
    gz = [p for p in s.files if p.name.endswith(".ndjson.gz")]
    assert gz and all(gzip.decompress(p.read_bytes()) for p in gz)
    with pytest.raises(ValueError):
        generate(tmp_path / "x", tenants=1, products_per_tenant=0, orders_per_tenant=5)
    with pytest.raises(ValueError):
        generate(tmp_path / "x", tenants=1, products_per_tenant=5, orders_per_tenant=5, defects=2)
