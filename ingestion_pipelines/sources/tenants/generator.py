"""Synthetic multi-tenant e-commerce datasets (the seed 001 ``gen_dataset.py``), for tests,
the demo and benchmarks. A command-line helper (``ingest gen-dataset``), not a Dagster run.

Output folder layout (file names as in the seed)::

    tenants.csv                                   tenant_id,name,domain,currency,country,created_at,api_key
    products_<tenant_id>_chunk_0000.ndjson        chunked by --chunk-size records
    customers_<tenant_id>.ndjson
    orders_<tenant_id>_chunk_0000.ndjson          orders of chunk k ...
    order_items_<tenant_id>_chunk_0000.ndjson     ... and their items share the chunk number
    price_history_<tenant_id>_chunk_0000.ndjson
    stock_events_<tenant_id>_chunk_0000.ndjson
    defects_manifest.json                         what --defects injected, line by line
    dataset_summary.json                          good records per tenant and entity

Deterministic: the same arguments give byte-identical files. The good records do not depend
on ``--defects``: defects are *extra* lines inserted between good ones (so the good records
of a defective dataset are exactly those of the clean one). References are consistent: each
order's customer, each item's order and product exist, an order's ``total`` is the sum of its
items. Memory is bounded by one tenant's product prices (8 bytes per product); files stream.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip as gzip_mod
import json
import random
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, IO

import orjson

from .records import CURRENCIES, FIELDS, ORDER_STATUSES, REFS, STOCK_EVENT_TYPES

FIRST = ("Ana", "Bruno", "Carla", "Diego", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Kira", "Liam",
         "Maya", "Noah", "Olga", "Pedro", "Quinn", "Rosa", "Sven", "Tara", "Umar", "Vera", "Wen", "Yusuf", "Zoe",
         "José", "Zoë", "Łukasz", "Søren", "Amélie")
LAST = ("Silva", "Smith", "Müller", "García", "Rossi", "Dubois", "Kowalski", "Nguyen", "Tanaka", "Okafor",
        "Johansson", "O'Brien", "Costa", "Novak", "Haddad", "Kim", "Ivanova", "Fischer", "Moreau", "Patel")
CO_A = ("Acme", "Blue", "Northwind", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Vandelay", "Hooli",
        "Contoso", "Fabrikam", "Tailspin", "Wingtip", "Litware", "Adatum")
CO_B = ("Corp", "Solutions", "Trading", "Goods", "Supply", "Labs", "Retail", "Outfitters", "Market", "Works")
CO_C = ("Inc", "LLC", "Ltd", "GmbH", "S.A.", "BV")
ADJ = ("Classic", "Ultra", "Eco", "Smart", "Compact", "Deluxe", "Vintage", "Pro", "Mini", "Organic")
NOUN = ("Mug", "Backpack", "Lamp", "Sneaker", "Headphones", "Notebook", "Bottle", "Chair", "Jacket", "Watch",
        "Kettle", "Blender", "Tent", "Scarf", "Keyboard")
CATEGORIES = ("Home", "Outdoors", "Electronics", "Apparel", "Kitchen", "Office", "Sports", "Beauty")
COUNTRIES = ("US", "GB", "DE", "FR", "BR", "CA", "AU", "SE", "CH", "ES", "PT", "NL")
DOMAINS = ("example.com", "mail.test", "shop.example", "inbox.example.org")
DEFECT_KINDS = ("malformed_json", "missing_key", "wrong_type", "duplicate_id", "orphan_reference", "invalid_utf8")

EPOCH = int(dt.datetime(2023, 1, 1, tzinfo=dt.timezone.utc).timestamp())
SPAN = 2 * 365 * 86400
UTC = dt.timezone.utc


def _ts(sec: int) -> str:
    return dt.datetime.fromtimestamp(sec, UTC).isoformat()


@dataclass
class GenSummary:
    """What :func:`generate` wrote: ``files`` (paths), ``good`` ({tenant_id: {entity: n}}),
    ``defects`` (the manifest entries), ``tenants`` (tenant ids), ``rows`` (good + bad lines)."""

    out: Path
    tenants: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    good: dict[str, dict[str, int]] = field(default_factory=dict)
    defects: list[dict[str, Any]] = field(default_factory=list)
    rows: int = 0


class _Writer:
    """One entity's (chunked) NDJSON output for one tenant, with defect injection."""

    def __init__(self, gen: "_Gen", entity: str, tenant_id: str, chunked: bool):
        self.gen, self.entity, self.tenant_id, self.chunked = gen, entity, tenant_id, chunked
        self.chunk = -1
        self.f: IO[bytes] | None = None
        self.line = 0
        self.in_chunk = 0
        self.last: dict | None = None
        self.seq = 0
        self.id_field = FIELDS[entity][0][0]

    def open_chunk(self) -> None:
        self.close()
        self.chunk += 1
        name = f"{self.entity}_{self.tenant_id}"
        if self.chunked:
            name += f"_chunk_{self.chunk:04d}"
        name += ".ndjson" + (".gz" if self.gen.gzip else "")
        self.name = name
        path = self.gen.out / name
        path.unlink(missing_ok=True)  # a new file: one bulk-ingest landed by a (read-only) link keeps its bytes
        self.f = gzip_mod.open(path, "wb", compresslevel=1) if self.gen.gzip else open(path, "wb", buffering=1 << 20)
        self.gen.summary.files.append(path)
        self.line = 0
        self.in_chunk = 0
        self.last = None

    def write(self, rec: dict) -> None:
        if self.f is None:
            self.open_chunk()
        if self.gen.defects and self.gen.drng.random() < self.gen.defects:
            self._defect(rec)
        self.f.write(orjson.dumps(rec) + b"\n")  # type: ignore[union-attr]
        self.line += 1
        self.in_chunk += 1
        self.last = rec
        self.gen.count(self.tenant_id, self.entity)

    def _defect(self, rec: dict) -> None:
        rng = self.gen.drng
        kinds = [k for k in DEFECT_KINDS if (k != "orphan_reference" or self.entity in REFS)
                 and (k != "duplicate_id" or self.last is not None)]
        kind = rng.choice(kinds)
        self.seq += 1
        bad = dict(rec)
        bad[self.id_field] = f"{rec[self.id_field]}-d{self.seq}"
        spec = {f: k for f, k, _ in FIELDS[self.entity]}
        if kind == "malformed_json":
            raw = orjson.dumps(bad)[: -rng.randint(3, 12)]
        elif kind == "missing_key":
            required = [f for f, _, req in FIELDS[self.entity] if req and f != self.id_field]
            del bad[rng.choice(required)]
            raw = orjson.dumps(bad)
        elif kind == "wrong_type":
            typed = [f for f, k in spec.items() if k in ("int", "money", "ts", "bool")]
            f = rng.choice(typed)
            bad[f] = {"int": "seven", "money": "12,50 EUR", "ts": "last tuesday", "bool": "yes"}[spec[f]]
            raw = orjson.dumps(bad)
        elif kind == "duplicate_id":
            bad = dict(self.last)  # type: ignore[arg-type]
            raw = orjson.dumps(bad)
        elif kind == "orphan_reference":
            col = REFS[self.entity][rng.randrange(len(REFS[self.entity]))][0][1]
            bad[col] = f"missing-{self.seq:06d}"
            raw = orjson.dumps(bad)
        else:  # invalid_utf8: a Latin-1 byte where UTF-8 is expected
            bad[self.id_field] = f"{bad[self.id_field]}-caf\u00e9"
            raw = orjson.dumps(bad).replace("\u00e9".encode(), b"\xe9")
        self.f.write(raw + b"\n")  # type: ignore[union-attr]
        self.line += 1
        self.gen.summary.rows += 1
        self.gen.summary.defects.append({"tenant_id": self.tenant_id, "entity": self.entity, "file": self.name,
                                         "line": self.line, "kind": kind, "id": str(bad.get(self.id_field))})

    def close(self) -> None:
        if self.f is not None:
            self.f.close()
            self.f = None


class _Gen:
    def __init__(self, out: Path, seed: int, gzip: bool, defects: float, progress: Callable[[int], None] | None):
        self.out, self.seed, self.gzip, self.defects = out, seed, gzip, defects
        self.progress = progress
        self.summary = GenSummary(out=out)
        self.drng = random.Random(f"{seed}:defects")
        self._pending = 0

    def rng(self, *parts: Any) -> random.Random:
        return random.Random(":".join(map(str, (self.seed, *parts))))

    def count(self, tenant_id: str, entity: str) -> None:
        g = self.summary.good.setdefault(tenant_id, {})
        g[entity] = g.get(entity, 0) + 1
        self.summary.rows += 1
        self._pending += 1
        if self._pending >= 10_000 and self.progress:
            self.progress(self._pending)
            self._pending = 0

    def flush_progress(self) -> None:
        if self.progress and self._pending:
            self.progress(self._pending)
        self._pending = 0


def generate(out: str | Path, *, tenants: int, products_per_tenant: int, orders_per_tenant: int,
             customers_per_tenant: int | None = None, chunk_size: int = 100_000, seed: int = 42,
             gzip: bool = False, defects: float = 0.0,
             progress: Callable[[int], None] | None = None) -> GenSummary:
    """Write a dataset into ``out`` (created) and return its :class:`GenSummary`.

    Sizes are records per tenant; ``customers_per_tenant`` defaults to ``max(10,
    orders_per_tenant // 5)``; order items are 1–6 per order; price history and stock events
    are one per product each. ``defects`` (0..1) is the probability of a bad line before each
    good one (kinds: malformed JSON, missing key, wrong type, duplicate id, orphan reference,
    invalid UTF-8), listed in ``defects_manifest.json``. ``progress(n)`` is called every
    10,000 lines. Raises ``ValueError`` for negative sizes or a rate outside 0..1.
    """
    if min(tenants, products_per_tenant, orders_per_tenant) < 0 or not 0 <= defects <= 1 or chunk_size < 1:
        raise ValueError("sizes must be >= 0, chunk size >= 1 and the defect rate within 0..1")
    if orders_per_tenant and not products_per_tenant:
        raise ValueError("orders need at least one product per tenant")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    customers_per_tenant = customers_per_tenant if customers_per_tenant is not None else max(10, orders_per_tenant // 5)
    if orders_per_tenant and not customers_per_tenant:
        raise ValueError("orders need at least one customer per tenant")
    g = _Gen(out, seed, gzip, defects, progress)
    trng = g.rng("tenants")
    rows = []
    for i in range(tenants):
        tid = str(uuid.UUID(int=trng.getrandbits(128), version=4))
        name = f"{trng.choice(CO_A)} {trng.choice(CO_B)} {trng.choice(CO_C)}"
        rows.append({"tenant_id": tid, "name": name,
                     "domain": name.split()[0].lower() + f"{i}.example.com",
                     "currency": trng.choice(CURRENCIES), "country": trng.choice(COUNTRIES),
                     "created_at": _ts(EPOCH - trng.randrange(SPAN)), "api_key": f"api_key_{tid}"})
    (out / "tenants.csv").unlink(missing_ok=True)  # a new file, as above
    with open(out / "tenants.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["tenant_id", "name"])
        w.writeheader()
        w.writerows(rows)
    g.summary.files.append(out / "tenants.csv")
    for t in rows:
        _tenant(g, t, products_per_tenant, customers_per_tenant, orders_per_tenant, chunk_size)
        g.summary.tenants.append(t["tenant_id"])
    g.flush_progress()
    (out / "defects_manifest.json").write_text(json.dumps(
        {"seed": seed, "rate": defects, "defects": g.summary.defects}, indent=1))
    (out / "dataset_summary.json").write_text(json.dumps(
        {"seed": seed, "tenants": g.summary.tenants, "good_records": g.summary.good}, indent=1))
    return g.summary


def _tenant(g: _Gen, t: dict, n_products: int, n_customers: int, n_orders: int, chunk: int) -> None:
    tid, cur = t["tenant_id"], t["currency"]
    prices: list[int] = []
    # products
    r = g.rng(tid, "products")
    w = _Writer(g, "products", tid, chunked=True)
    for i in range(n_products):
        if w.in_chunk >= chunk or w.f is None:
            w.open_chunk()
        cents = r.randint(199, 49_999)
        prices.append(cents)
        adj, noun = r.choice(ADJ), r.choice(NOUN)
        w.write({"tenant_id": tid, "product_id": f"prd_{i:08d}", "sku": f"{noun[:3].upper()}-{adj[:2].upper()}-{i:06d}",
                 "name": f"{adj} {noun}", "category": r.choice(CATEGORIES), "price": f"{cents / 100:.2f}",
                 "currency": cur, "stock": r.randint(0, 500), "active": r.random() > 0.05,
                 "created_at": _ts(EPOCH + r.randrange(SPAN))})
    w.close()
    # customers (one file)
    r = g.rng(tid, "customers")
    w = _Writer(g, "customers", tid, chunked=False)
    w.open_chunk()
    for i in range(n_customers):
        fn, ln = r.choice(FIRST), r.choice(LAST)
        local = f"{fn}.{ln}".lower().replace("'", "").replace(" ", "")
        w.write({"tenant_id": tid, "customer_id": f"cus_{i:08d}", "email": f"{local}{i}@{r.choice(DOMAINS)}",
                 "first_name": fn, "last_name": ln, "country": r.choice(COUNTRIES),
                 "created_at": _ts(EPOCH + r.randrange(SPAN))})
    w.close()
    # orders + items, chunk-aligned
    r = g.rng(tid, "orders")
    wo = _Writer(g, "orders", tid, chunked=True)
    wi = _Writer(g, "order_items", tid, chunked=True)
    for i in range(n_orders):
        if wo.in_chunk >= chunk or wo.f is None:
            wo.open_chunk()
            wi.open_chunk()
        oid = f"ord_{i:09d}"
        n_items = r.randint(1, 6)
        total = 0
        items = []
        for k in range(n_items):
            p = r.randrange(n_products)
            q = r.randint(1, 4)
            total += q * prices[p]
            items.append({"tenant_id": tid, "item_id": f"{oid}-{k + 1}", "order_id": oid, "product_id": f"prd_{p:08d}",
                          "quantity": q, "unit_price": f"{prices[p] / 100:.2f}", "currency": cur})
        wo.write({"tenant_id": tid, "order_id": oid, "customer_id": f"cus_{r.randrange(n_customers):08d}",
                  "status": r.choice(ORDER_STATUSES), "currency": cur, "total": f"{total / 100:.2f}",
                  "item_count": n_items, "ordered_at": _ts(EPOCH + r.randrange(SPAN))})
        for it in items:
            wi.write(it)
    wo.close()
    wi.close()
    # price history and stock events: one per product each
    r = g.rng(tid, "prices")
    w = _Writer(g, "price_history", tid, chunked=True)
    for i in range(n_products):
        if w.in_chunk >= chunk or w.f is None:
            w.open_chunk()
        p = r.randrange(n_products)
        cents = max(99, prices[p] + r.randint(-500, 500))
        w.write({"tenant_id": tid, "price_id": f"prc_{i:08d}", "product_id": f"prd_{p:08d}",
                 "price": f"{cents / 100:.2f}", "currency": cur, "effective_at": _ts(EPOCH + r.randrange(SPAN))})
    w.close()
    r = g.rng(tid, "stock")
    w = _Writer(g, "stock_events", tid, chunked=True)
    for i in range(n_products):
        if w.in_chunk >= chunk or w.f is None:
            w.open_chunk()
        et = r.choice(STOCK_EVENT_TYPES)
        q = r.randint(1, 50)
        w.write({"tenant_id": tid, "event_id": f"stk_{i:08d}", "product_id": f"prd_{r.randrange(n_products):08d}",
                 "event_type": et, "quantity": -q if et == "sale" else q, "occurred_at": _ts(EPOCH + r.randrange(SPAN))})
    w.close()
