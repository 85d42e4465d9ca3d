"""engine.api's request loop against real local HTTP servers: the HubSpot stand-in (paging,
limits, faults, OAuth) and pytest-httpserver (the paginators and auth schemes HubSpot does not
use). No mock of our code: every request crosses a socket."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest
import requests
from werkzeug.wrappers import Request as WRequest
from werkzeug.wrappers import Response as WResponse

from ingestion_pipelines.engine.api import (
    AfterId, ApiClient, ApiError, ApiKeyHeader, AtomNext, AuthRefused, BearerToken, Endpoint, HttpBasic,
    JsonCursor, NextLink, OAuth2Refresh, Offset, PageNumber, QuotaExhausted, RateBudget, SignedHeader,
    default_retry,
)
from ingestion_pipelines.standins.hubspot import DEFAULT_TOKEN, Fault, Limits, Portal, serve

LIST = Endpoint("/crm/v3/objects/{object}", params={"limit": 100}, paginator=JsonCursor())


@pytest.fixture
def budgets(tmp_path):
    return {"default": RateBudget("test-default", 1000, 10, folder=tmp_path),
            "search": RateBudget("test-search", 5, 1, folder=tmp_path)}


def client(server, budgets, **kw) -> ApiClient:
    kw.setdefault("retry", default_retry(6, 0.05))
    return ApiClient(server.url, kw.pop("auth", BearerToken(DEFAULT_TOKEN)), budgets, **kw)


def test_cursor_pages_every_record_once(budgets):
    portal = Portal.seeded(1, contacts=345)
    with serve(portal) as s:
        pages = list(client(s, budgets).pages(LIST, {"object": "contacts"}))
    ids = [r["id"] for p in pages for r in p.records]
    assert len(pages) == 4 and len(ids) == len(set(ids)) == 345
    assert set(map(int, ids)) == set(portal.live["contacts"])


def test_faults_are_retried_and_never_an_empty_page(budgets):
    portal = Portal.seeded(1, contacts=250)
    portal.inject(Fault(502), Fault(503, retry_after="0"), Fault(504), Fault(524), Fault(423), Fault(500),
                  Fault(0, delay_s=1.5))
    with serve(portal) as s:
        c = client(s, budgets, timeout_s=0.5, retry=default_retry(8, 0.01))
        ids = [r["id"] for p in c.pages(LIST, {"object": "contacts"}) for r in p.records]
        assert len(ids) == 250 and c.stats["retries"] == 7
        portal.inject(Fault(503, count=50))
        with pytest.raises(ApiError) as e:
            list(client(s, budgets, retry=default_retry(3, 0.01)).pages(LIST, {"object": "contacts"}))
    assert e.value.status == 503 and "after 3 retries" in str(e.value)


def test_429_with_and_without_retry_after(tmp_path):
    portal = Portal.seeded(1, contacts=50, limits=Limits(per_interval=3, interval_ms=2000, retry_after_every=2))
    with serve(portal) as s:
        c = client(s, {"default": RateBudget("shared", 100, 1, folder=tmp_path)}, retry=default_retry(10, 0.05))
        for _ in range(2):  # another client spends the window: our next call meets a 429
            time.sleep(2.05)
            for _ in range(3):
                requests.get(s.url + "/crm/v3/objects/contacts", headers=s.auth_headers())
            assert c.send("GET", "/crm/v3/objects/contacts").status_code == 200
    assert c.stats["429"] >= 2 and portal.stats["429"] >= 2
    # one 429 came without Retry-After (the budget waited a window), one with it (honoured)
    assert portal.stats["429"] // portal.limits.retry_after_every >= 1


def test_budget_learns_the_limit_from_the_headers(tmp_path):
    portal = Portal.seeded(1, contacts=5, limits=Limits(per_interval=4, interval_ms=1000))
    with serve(portal) as s:
        c = client(s, {"default": RateBudget("learned", 100, 10, folder=tmp_path)})
        for _ in range(10):
            c.send("GET", "/crm/v3/objects/contacts")
    assert c.budgets["default"].limit == 4 and c.budgets["default"].interval_s == 1.0
    assert portal.stats.get("429", 0) <= 1  # at most the first probe


def test_daily_quota_stops_at_once(budgets):
    portal = Portal.seeded(1, contacts=5, limits=Limits(daily=2))
    with serve(portal) as s:
        c = client(s, budgets, is_quota_429=lambda r: r.json().get("policyName") == "DAILY")
        c.send("GET", "/crm/v3/objects/contacts")
        c.send("GET", "/crm/v3/objects/contacts")
        with pytest.raises(QuotaExhausted):
            c.send("GET", "/crm/v3/objects/contacts")
    assert c.stats["retries"] == 0


def test_414_is_an_error_not_a_page(budgets):
    with serve(Portal.seeded(1, contacts=5)) as s:
        with pytest.raises(ApiError) as e:
            client(s, budgets).send("GET", "/crm/v3/objects/contacts", params={"properties": "x" * 17_000})
    assert e.value.status == 414


def test_oauth_refreshed_before_expiry_and_once_on_401(budgets):
    portal = Portal.seeded(1, contacts=5, limits=Limits(token_ttl_s=1.0))
    with serve(portal) as s:
        auth = OAuth2Refresh(s.url + "/oauth/v1/token", portal.client_id, portal.client_secret,
                             "standin-refresh-token", refresh_margin_s=0.3)
        c = client(s, budgets, auth=auth)
        c.send("GET", "/crm/v3/objects/contacts")
        time.sleep(0.8)  # inside the margin: refreshed before use, no 401 seen
        c.send("GET", "/crm/v3/objects/contacts")
        assert auth.refreshes == 2
        portal._access.clear()  # the server forgets the token: a 401, one refresh, the call repeated
        assert c.send("GET", "/crm/v3/objects/contacts").status_code == 200
        assert auth.refreshes == 3
        bad = OAuth2Refresh(s.url + "/oauth/v1/token", portal.client_id, portal.client_secret, "revoked",
                            variables=("HUBSPOT_REFRESH_TOKEN",))
        with pytest.raises(AuthRefused, match="BAD_REFRESH_TOKEN.*HUBSPOT_REFRESH_TOKEN") as e:
            client(s, budgets, auth=bad).send("GET", "/crm/v3/objects/contacts")
    assert "revoked" not in str(e.value) and portal.client_secret not in str(e.value)


def test_expired_token_without_refresh_is_an_error(budgets):
    portal = Portal.seeded(1, contacts=5)
    portal._access["old"] = time.time() - 5
    with serve(portal) as s:
        with pytest.raises(ApiError) as e:
            client(s, budgets, auth=BearerToken("old")).send("GET", "/crm/v3/objects/contacts")
    assert e.value.status == 401 and "EXPIRED_AUTHENTICATION" in str(e.value) and "old" not in e.value.path


def test_207_is_a_partial_page(budgets):
    portal = Portal.seeded(1, contacts=5)
    ids = list(portal.live["contacts"])
    ep = Endpoint("/crm/v3/objects/contacts/batch/read", method="POST", ok=(200, 207))
    with serve(portal) as s:
        page = next(client(s, budgets).pages(ep, json={"inputs": [{"id": str(ids[0])}, {"id": "999"}]}))
    assert page.status == 207 and [r["id"] for r in page.records] == [str(ids[0])]
    assert page.body["errors"][0]["category"] == "OBJECT_NOT_FOUND"


# -- the paginators and auth schemes of the other APIs (issue 15), on pytest-httpserver ------------

def test_next_link_offset_page_number_after_id(httpserver, budgets):
    data = list(range(1, 8))

    def odata(req: WRequest):
        skip = int(req.args.get("skip", 0))
        body = {"value": [{"id": i} for i in data[skip:skip + 3]]}
        if skip + 3 < len(data):
            body["@odata.nextLink"] = httpserver.url_for(f"/odata?skip={skip + 3}")
        return WResponse(__import__("json").dumps(body), content_type="application/json")

    def offset(req: WRequest):
        top, skip = int(req.args["$top"]), int(req.args["$skip"])
        return WResponse(__import__("json").dumps({"d": {"results": [{"id": i} for i in data[skip:skip + top]]}}),
                         content_type="application/json")

    def pages(req: WRequest):
        p = int(req.args["page"])
        return WResponse(__import__("json").dumps([{"id": i} for i in data[(p - 1) * 4:p * 4]]), content_type="application/json")

    def events(req: WRequest):
        after = int(req.args.get("after_id", 0))
        return WResponse(__import__("json").dumps([{"id": i} for i in data if i > after][:2]), content_type="application/json")

    for path, fn in (("/odata", odata), ("/offset", offset), ("/pages", pages), ("/events", events)):
        httpserver.expect_request(path).respond_with_handler(fn)
    c = ApiClient(httpserver.url_for("/"), budgets=budgets)
    specs = [Endpoint("/odata", records="value", paginator=NextLink("@odata.nextLink")),
             Endpoint("/offset", records="d.results", paginator=Offset(3)),
             Endpoint("/pages", records="", paginator=PageNumber()),
             Endpoint("/events", records="", paginator=AfterId())]
    for ep in specs:
        got = [r["id"] for p in c.pages(ep) for r in p.records]
        assert got == data, ep.path


def test_atom_next_link(httpserver):
    feed = '<feed xmlns="http://www.w3.org/2005/Atom"><link rel="next" href="Contacts?$skiptoken=5&amp;x=1"/></feed>'
    httpserver.expect_request("/svc/Contacts").respond_with_data(feed, content_type="application/atom+xml")
    req = Endpoint("/svc/Contacts", records="").request(httpserver.url_for("/"))
    nxt = AtomNext().next(req, feed, [], None)
    assert nxt is not None and nxt.url.endswith("/svc/Contacts?$skiptoken=5&x=1")
    assert AtomNext().next(req, "<feed/>", [], None) is None


def test_signed_header_is_made_afresh_on_every_retry(httpserver, budgets):
    secret, seen = b"k3y", []

    def sign(method, url, body, now):
        stamp = f"{now:.6f}"
        return "coy:key:" + stamp + ":" + base64.b64encode(hmac.new(secret, stamp.encode(), hashlib.sha256).digest()).decode()

    def handler(req: WRequest):
        seen.append(req.headers["Authorization"])
        return WResponse("{}", status=503 if len(seen) < 3 else 200, content_type="application/json")

    httpserver.expect_request("/signed").respond_with_handler(handler)
    c = ApiClient(httpserver.url_for("/"), SignedHeader("Authorization", sign), budgets, retry=default_retry(4, 0.01))
    assert c.send("GET", "/signed").status_code == 200
    assert len(seen) == 3 and len(set(seen)) == 3  # three attempts, three signatures


def test_basic_and_key_headers(httpserver, budgets):
    httpserver.expect_request("/basic", headers={"Authorization": "Basic " + base64.b64encode(b"API:s3cret").decode()}
                              ).respond_with_json([])
    httpserver.expect_request("/keys", headers={"X-Auth-Key": "a", "X-Auth-Token": "b"}).respond_with_json([])
    assert ApiClient(httpserver.url_for("/"), HttpBasic("API", "s3cret"), budgets).send("GET", "/basic").ok
    assert ApiClient(httpserver.url_for("/"), ApiKeyHeader({"X-Auth-Key": "a", "X-Auth-Token": "b"}),
                     budgets).send("GET", "/keys").ok
    assert "s3cret" not in repr(HttpBasic("API", "s3cret"))


def test_no_record_list_is_an_error(httpserver, budgets):
    httpserver.expect_request("/odd").respond_with_json({"unexpected": True})
    with pytest.raises(ApiError, match="no record list"):
        list(ApiClient(httpserver.url_for("/"), budgets=budgets).pages(Endpoint("/odd")))
