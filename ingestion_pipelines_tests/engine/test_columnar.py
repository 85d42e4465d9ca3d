"""engine.columnar: the vectorised NDJSON path must be *conservative* — every row it renders
is exactly what the careful per-line parser (sources/tenants/records.Parser) renders, and
every other row comes back rejected (never silently dropped or altered). Checked on the
public naughty-strings corpus and on hand-made edge values of every field kind."""

from __future__ import annotations

import json

import orjson
import pytest

from ingestion_pipelines.engine.columnar import ColumnarParser
from ingestion_pipelines.sources.tenants.records import FIELDS, BadLine, HashedIdSet, Parser

TID = "t-1"


def _careful(entity: str, line: bytes, ref_sets=None):
    try:
        return Parser(entity, TID, ref_sets=ref_sets).parse(line)[0].encode()
    except BadLine:
        return None


def _check_block(entity: str, lines: list[bytes], ref_sets=None) -> tuple[int, int]:
    """Parse ``lines`` as one block; assert the columnar rows equal the careful ones and that
    every line is either rendered or rejected. Returns (rendered, rejected)."""
    cp = ColumnarParser(FIELDS[entity], fixed=("tenant_id", TID),
                        refs=[(f, ids) for f, ids, _ in (ref_sets or [])])
    data = b"\n".join(lines) + b"\n"
    pb = cp.parse(data, len(lines))
    if pb is None:  # Arrow refused the block: each line alone must be refused or agree
        rendered = rejected = 0
        for ln in lines:
            one = cp.parse(ln + b"\n", 1)
            if one is None or one.rejected:
                rejected += 1
                continue
            assert one.rows == [_careful(entity, ln, ref_sets)], ln
            rendered += 1
        return rendered, rejected
    index = pb.index if pb.index is not None else list(range(len(lines)))
    assert sorted(index + pb.rejected) == list(range(len(lines)))
    for i, row in zip(index, pb.rows):
        assert row == _careful(entity, lines[i], ref_sets), lines[i]
    assert pb.ids == [json.loads(lines[i])[FIELDS[entity][0][0]] for i in index]
    return len(pb.rows), len(pb.rejected)


def _product(**over) -> bytes:
    rec = {"tenant_id": TID, "product_id": "p1", "sku": "SKU-1", "name": "Lamp", "category": "Home",
           "price": "12.50", "currency": "EUR", "stock": 3, "active": True, "created_at": "2024-01-02T03:04:05+00:00"}
    rec.update(over)
    return orjson.dumps({k: v for k, v in rec.items() if v is not ...})


def test_naughty_strings_in_every_text_field_render_exactly_or_are_rejected(corpus):
    strings = json.loads((corpus / "naughty-strings" / "blns.json").read_text("utf-8"))
    lines = []
    for i, s in enumerate(strings):
        lines.append(_product(product_id=f"p{i}", name=s))
        lines.append(_product(product_id=f"q{i}", category=s))
        lines.append(_product(product_id=s or "empty", sku=f"s{i}"))
    rendered, rejected = _check_block("products", lines)
    assert rendered > len(strings)  # the ordinary strings go the fast way
    assert rejected > 0  # escapes, control characters, empty strings: the careful path decides


@pytest.mark.parametrize("over", [
    {"price": "12.5"}, {"price": "-0.01"}, {"price": "12.555"}, {"price": "1e3"}, {"price": " 1.00"},
    {"price": "1234567890123.00"}, {"stock": 2**31 - 1}, {"stock": 2**31}, {"stock": -(2**31 - 1)},
    {"active": False}, {"currency": "eur"}, {"currency": "XXX"}, {"category": None}, {"category": ...},
    {"created_at": "2024-02-29T00:00:00Z"}, {"created_at": "2023-02-29T00:00:00Z"},
    {"created_at": "2024-01-02T03:04:05"}, {"created_at": "2024-01-02 03:04:05+00:00"},
    {"created_at": "2024-01-02T03:04:05.123456+05:30"}, {"created_at": "2024-01-02T24:00:00+00:00"},
    {"created_at": " 2024-01-02T03:04:05+00:00"}, {"created_at": "2024-1-2T03:04:05+00:00"},
    {"created_at": "0000-03-08T08:29:30Z"}, {"created_at": "0001-03-08T08:29:30Z"}, {"price": "1.00\n"},
    {"price": "\u0661.00"}, {"stock": -0},
    {"tenant_id": "other"}, {"name": ""}, {"name": "a\\b"}, {"name": "tab\there"}, {"name": 'say "hi"'},
    {"product_id": "x" * 64}, {"product_id": "x" * 65}, {"name": "Ünïcödé ✓"}, {"sku": ...},
])
def test_product_edge_values(over):
    lines = [_product(product_id=f"p{i}") for i in range(3)] + [_product(**{"product_id": "edge", **over})]
    rendered, rejected = _check_block("products", lines)
    assert rendered + rejected == 4 and rendered >= 3


@pytest.mark.parametrize("email,country", [
    ("Ana@Example.org", "nl"), ("a@b", "NL"), ("ü@example.org", "NL"), ("a b@example.org", "NL"),
    ("a@example.org", "N1"), ("a@example.org", None), ("İ@example.org", "DE"), ("Tara.MÜLLER@Example.com", "CH"),
    ("JOSÉ.Ñúñez@correo.es", "ES"), ("Ĳsbrand@x.nl", "NL"), ("ǅemal@x.ba", "BA"), ("ΣΊΣΥΦΟΣ@x.gr", "GR"),
    ("ẞ@x.de", "DE"), ("a\u00a0b@x.org", "NL"), ("Ǆ@x.hr", "HR"),
])
def test_customer_emails_and_countries(email, country):
    rec = {"tenant_id": TID, "customer_id": "c9", "email": email, "first_name": "A", "last_name": "B",
           "country": country, "created_at": "2024-01-02T03:04:05Z"}
    lines = [orjson.dumps(rec)]
    assert sum(_check_block("customers", lines)) == 1


def test_latin_emails_take_the_columnar_path():
    """E-mail addresses with Latin letters (the generator's Müller, José ...) are rendered by
    the columnar path, lower-cased exactly as the careful parser does."""
    lines = [orjson.dumps({"tenant_id": TID, "customer_id": f"c{i}", "email": e, "first_name": "A", "last_name": "B",
                           "country": "DE", "created_at": "2024-01-02T03:04:05Z"})
             for i, e in enumerate(["Tara.Müller@Example.com", "josé@correo.es", "ÆSIR@x.dk", "plain@x.org"])]
    assert _check_block("customers", lines) == (4, 0)


def test_references_missing_parents_are_rejected_not_dropped():
    orders = HashedIdSet(f"o{i}" for i in range(200_000))  # above the compact threshold
    products = {"p1", "p2"}
    refs = [("order_id", orders, "order"), ("product_id", products, "product")]
    lines = []
    for i in range(300):
        oid = "o-missing" if i == 7 else f"o{i}"
        pid = "p-missing" if i == 11 else "p1"
        lines.append(orjson.dumps({"tenant_id": TID, "item_id": f"i{i}", "order_id": oid, "product_id": pid,
                                   "quantity": 1, "unit_price": "1.00", "currency": "USD"}))
    cp = ColumnarParser(FIELDS["order_items"], fixed=("tenant_id", TID), refs=[(f, s) for f, s, _ in refs])
    pb = cp.parse(b"\n".join(lines) + b"\n", len(lines))
    assert pb is not None and pb.rejected == [7, 11]
    assert len(pb.rows) == 298 and pb.index[:8] == [0, 1, 2, 3, 4, 5, 6, 8]
    assert orders.missing(["o1", "o-missing", "o199999"]) == ["o-missing"]


def test_blocks_arrow_cannot_read_are_refused_whole():
    cp = ColumnarParser(FIELDS["products"], fixed=("tenant_id", TID))
    good = _product()
    for bad in (b"{not json", b'{"tenant_id": "t-1", "stock": "3"}', b"[1, 2]", b"", b"   ",
                b'{"tenant_id": "t-1", "note": "\xff"}', b'{"tenant_id": "t-1", "note": NaN}',
                b'{"tenant_id": "t-1", "note": -Infinity}', b'{"tenant_id": "t-1", "note": "\\ud800"}',
                b'{"tenant_id": "t-1\xff"}', b'{"tenant_id": "t-1", "stock": 1.5}', _product(name="L\xe4mp").replace(b"\xc3\xa4", b"\xe4"),
                _product(product_id="p\xc3").replace(b"\xc3\x83", b"\xc3")):
        assert cp.parse(good + b"\n" + bad + b"\n", 2) is None, bad
    assert cp.parse(good + b"\r\n", 1).rows == [_careful("products", good)]


def test_two_records_on_one_line_with_a_blank_line_elsewhere_are_not_read_as_two_lines():
    """Arrow reads ``{..}{..}`` as two records and skips blank lines, so one of each would
    give the right count with the wrong lines: such a block is declined."""
    cp = ColumnarParser(FIELDS["products"], fixed=("tenant_id", TID))
    lines = [_product(product_id=f"p{i}") for i in range(300)]
    lines[10] = lines[10] + lines[11].replace(b'"p11"', b'"p11b"')
    for blank in (b"", b"  ", b"\r"):
        block = lines[:11] + [blank] + lines[12:]
        assert cp.parse(b"\n".join(block) + b"\n", len(block)) is None
