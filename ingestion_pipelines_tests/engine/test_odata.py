"""The engine's OData reader (engine/api/odata.py) on the public corpora in
../shared/testdata/odata (read at test time) and on hostile XML: Atom feeds with ``m:type`` /
``m:null`` / complex values, V2 JSON (``d.results`` + ``__next``) and V4 JSON (``value`` +
``@odata.nextLink``) paging to their documented totals, next links to another origin refused
before any request, XML bombs and external entities refused, invalid XML characters cleaned,
and the paginator's ``$top``/``$skip`` / keyset / next-link steps."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from ingestion_pipelines.engine.api.odata import (
    ODataError, ODataPage, ODataPaging, clean_xml, datetime_literal, follow, json_ready,
    parse_atom, parse_json, since_filter,
)
from ingestion_pipelines.engine.api import ApiError
from ingestion_pipelines.engine.api.paginators import Request

FEED = ('<feed xml:base="http://svc.example/s.svc/" xmlns="http://www.w3.org/2005/Atom" '
        'xmlns:d="http://schemas.microsoft.com/ado/2007/08/dataservices" '
        'xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata">{entries}{link}</feed>')


def _entry(props: str) -> str:
    return f'<entry><content type="application/xml"><m:properties>{props}</m:properties></content></entry>'


class Files:
    """``fetch(url)`` over corpus files: the n-th request gets the n-th file; URLs recorded."""

    def __init__(self, paths, ctype):
        self.paths, self.ctype, self.urls = list(paths), ctype, []

    def __call__(self, url):
        self.urls.append(url)
        path = self.paths[len(self.urls) - 1]
        data = path.read_bytes()
        if self.ctype == "json" and b'"body"' in data[:400]:  # an assembled {request, body} file
            data = json.dumps(json.loads(data)["body"]).encode()
        return data, "application/json" if self.ctype == "json" else "application/atom+xml"


def test_v4_json_pages_give_the_91_customers(testdata):
    folder = testdata / "odata" / "sap-cloud-sdk-java-northwind-v4-json"
    fetch = Files(sorted(folder.glob("customers_page*.json")), "json")
    first = "https://services.odata.org/V4/Northwind/Northwind.svc/Customers?$select=CustomerID&$count=true"
    pages = list(follow(fetch, first))
    ids = [r["CustomerID"] for p in pages for r in p.records]
    assert [len(p.records) for p in pages] == [20, 20, 20, 20, 11]
    assert len(ids) == len(set(ids)) == 91 and ids[0] == "ALFKI" and ids[-1] == "WOLZA"
    assert {p.count for p in pages} == {91} and {p.kind for p in pages} == {"v4json"}
    # the relative nextLink resolved against the service, same origin
    assert fetch.urls[1] == ("https://services.odata.org/V4/Northwind/Northwind.svc/Customers?$count=true"
                             "&$select=CustomerID&$skiptoken='ERNSH'")


def test_v2_json_pages_and_their_count(testdata):
    folder = testdata / "odata" / "pyodata-v2-json-paging"
    fetch = Files([folder / "employees_page1.json", folder / "employees_page2.json"], "json")
    pages = list(follow(fetch, "http://odatapy.example.com/Employees?$inlinecount=allpages"))
    assert [r["ID"] for p in pages for r in p.records] == [21, 22, 23]
    assert pages[0].count == 3 and pages[0].kind == "v2json"
    assert fetch.urls[1] == "http://odatapy.example.com/Employees?$inlinecount=allpages&$skiptoken='opaque'"


def test_next_link_to_another_origin_is_refused_before_any_request(testdata):
    cases = json.loads((testdata / "odata" / "pyodata-v2-json-paging" / "next_link_origin_cases.json").read_text())
    root = cases["service_root"] + "/Employees"
    hostile, same = cases["cases"]
    sent = []

    def fetch(url):
        sent.append(url)
        if url == root:
            return json.dumps({"d": {"results": [{"ID": 1}], "__next": nxt}}).encode(), "application/json"
        return json.dumps(same["response"]).encode(), "application/json"

    nxt = hostile["next_url"]
    with pytest.raises(ApiError, match="another origin refused.*attacker.example.com") as e:
        list(follow(fetch, root))
    assert sent == [root] and "skiptoken" not in str(e.value)
    sent.clear()
    nxt = same["next_url"]
    got = [r["ID"] for p in follow(fetch, root) for r in p.records]
    assert got == [1, 23] and sent == [root, same["next_url"]]
    # the paginator refuses the same way (an ApiError: the stream fails, never an empty page)
    req = ODataPaging(10).first(Request("GET", root))
    with pytest.raises(ApiError, match="another origin refused"):
        ODataPaging(10).next(req, ODataPage([], hostile["next_url"]), [], None)


def test_the_atom_feed_repeated_across_pages_lands_once(testdata):
    folder = testdata / "odata" / "ruby_odata" / "partial"
    fetch = Files([folder / f"partial_feed_part_{i}.xml" for i in (1, 2, 3)], "atom")
    pages = list(follow(fetch, "http://test.com/test.svc/Partials"))
    assert len(pages) == 3 and pages[0].count == 3 and pages[-1].next_link is None
    assert fetch.urls[1:] == ["http://test.com/test.svc/Partials?$skiptoken='ERNSH'",
                              "http://test.com/test.svc/Partials?$skiptoken='ERNSH2'"]
    by_key = {r["CustomerID"]: r for p in pages for r in p.records}  # what an upsert on the key keeps
    assert list(by_key) == ["ALFKI"] and by_key["ALFKI"]["ContactName"] == "Maria Banders"
    assert by_key["ALFKI"]["Region"] is None  # m:null="true"


def test_atom_values_are_typed_by_m_type(testdata):
    cars = parse_atom((testdata / "odata" / "ruby_odata" / "int64_ids" / "result_cars.xml").read_bytes())
    assert cars.records == [{"id": 213, "color": "peach", "num_spots": None, "striped": None}]
    products = parse_atom((testdata / "odata" / "ruby_odata" / "sample_service"
                           / "result_multiple_category_products.xml").read_bytes())
    p = products.records[0]
    assert p["Price"] == Decimal("7.5000") and p["DiscontinuedDate"] is None
    assert p["AuditFields"]["CreateDate"] == dt.datetime(2011, 11, 13, 5, 0, 23, 547000)  # a complex value
    props = ('<d:a m:type="Edm.Int32">7</d:a><d:b m:type="Edm.Boolean">false</d:b>'
             '<d:c m:type="Edm.DateTimeOffset">2024-05-01T10:00:00.1234567-05:00</d:c>'
             '<d:g m:type="Edm.Guid">6F9619FF-8B86-D011-B42D-00C04FC964FF</d:g><d:n m:type="Edm.Int32">n/a</d:n>'
             '<d:t m:type="Edm.DateTime">2024-05-01T10:00:00</d:t><d:s>x &amp; y</d:s>')
    rec = parse_atom(FEED.format(entries=_entry(props), link="")).records[0]
    assert rec["a"] == 7 and rec["b"] is False and rec["s"] == "x & y" and rec["n"] == "n/a"
    assert rec["c"] == dt.datetime(2024, 5, 1, 15, 0, 0, 123456, tzinfo=dt.timezone.utc)
    assert rec["g"] == "6F9619FF-8B86-D011-B42D-00C04FC964FF" and rec["t"] == dt.datetime(2024, 5, 1, 10)
    assert json_ready(rec)["t"] == "2024-05-01T10:00:00" and json.dumps(json_ready(products.records[0]))


def test_error_documents_raise_with_their_message(testdata):
    folder = testdata / "odata" / "ruby_odata"
    with pytest.raises(ODataError, match="Resource not found for the segment 'Products'"):
        parse_atom((folder / "sample_service" / "result_single_product_not_found.xml").read_bytes())
    with pytest.raises(ODataError, match="no message"):
        parse_atom((folder / "error_without_message.xml").read_bytes())
    with pytest.raises(ODataError, match="no OData record list"):
        parse_json({"unexpected": 1})


BOMB = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<feed xmlns="http://www.w3.org/2005/Atom"><title>&lol3;</title></feed>"""
EXTERNAL = """<?xml version="1.0"?>
<!DOCTYPE feed [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<feed xmlns="http://www.w3.org/2005/Atom"><title>&xxe;</title></feed>"""
EXTERNAL_DTD = """<?xml version="1.0"?>
<!DOCTYPE feed SYSTEM "http://127.0.0.1:9/evil.dtd"><feed xmlns="http://www.w3.org/2005/Atom"/>"""


@pytest.mark.parametrize("doc", [BOMB, EXTERNAL, EXTERNAL_DTD], ids=["bomb", "external-entity", "external-dtd"])
def test_xml_bombs_and_external_entities_are_refused(doc):
    with pytest.raises(ODataError, match="unsafe XML"):
        parse_atom(doc.encode())


def test_invalid_xml_characters_are_cleaned():
    props = "<d:name>A\x00l\x0bi&#x1F;c&#0;e &#xE9;&#233;\x1b</d:name>"
    rec = parse_atom(FEED.format(entries=_entry(props), link="").encode()).records[0]
    assert rec["name"] == "Alice éé"
    assert clean_xml("ok\x08 &#x0B; &#10;") == ("ok  &#10;", 2)
    with pytest.raises(ODataError, match="not well-formed"):
        parse_atom(b"<feed><entry></feed>")


def test_v2_json_dates_and_metadata():
    body = {"d": {"results": [{"__metadata": {"uri": "x"}, "id": "a", "lastUpdate": "/Date(1704067200000)/",
                               "at": "/Date(1704067200000+0060)/", "Orders": {"__deferred": {"uri": "y"}}}]}}
    rec = parse_json(body).records[0]
    assert rec == {"id": "a", "lastUpdate": dt.datetime(2024, 1, 1),
                   "at": dt.datetime(2024, 1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1)))}


def test_request_literals():
    assert datetime_literal(dt.datetime(2024, 1, 1)) == "datetime'2024-01-01T00:00:00'"
    assert datetime_literal(dt.datetime(2024, 1, 1, 5, tzinfo=dt.timezone(dt.timedelta(hours=5)))) \
        == "datetime'2024-01-01T00:00:00'"
    assert since_filter("lastUpdate", dt.datetime(2024, 1, 1, 0, 0, 0, 123000)) == {
        "$filter": "lastUpdate gt datetime'2024-01-01T00:00:00.123000'"}


def test_paging_keyset_skip_and_next_links():
    pg = ODataPaging(3, cursor="lastUpdate")
    t = [dt.datetime(2024, 1, 1, 0, 0, i) for i in range(5)]
    base = "http://svc.example/s.svc/Contacts"
    req = pg.first(Request("GET", base, {"$orderby": "lastUpdate asc,id asc", "$filter": "lastUpdate gt x"}))
    assert req.params["$top"] == 3 and req.params["$skip"] == 0
    recs = [{"lastUpdate": t[0]}, {"lastUpdate": t[1]}, {"lastUpdate": t[1]}]
    nxt = pg.next(req, ODataPage(recs), recs, None)
    assert nxt.params["$filter"] == "lastUpdate ge datetime'2024-01-01T00:00:01'" and nxt.params["$skip"] == 2
    same = [{"lastUpdate": t[1]}] * 3  # a whole page at that value: skip on
    assert pg.next(nxt, ODataPage(same), same, None).params["$skip"] == 5
    assert pg.next(nxt, ODataPage(recs[:2]), recs[:2], None) is None  # a short page is the last
    # the service's next link first; when its chain ends after $top records, the query goes on
    linked = pg.next(req, ODataPage(recs[:1], "Contacts?$skiptoken=1"), recs[:1], None)
    assert linked.url == base + "?$skiptoken=1" and linked.params == {}
    cont = pg.next(linked, ODataPage(recs[1:]), recs[1:], None)
    assert cont.url == base and cont.params["$skip"] == 2 and cont.params["$orderby"] == "lastUpdate asc,id asc"
    plain = ODataPaging(2)
    r0 = plain.first(Request("GET", base, {"$orderby": "id asc"}))
    assert plain.next(r0, ODataPage([{}, {}]), [{}, {}], None).params["$skip"] == 2
