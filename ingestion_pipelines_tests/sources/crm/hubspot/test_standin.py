"""The HubSpot stand-in answers in the shapes of the real, recorded API calls
(``../shared/testdata/hubspot/nango-recorded``, read in place), and enforces the limits the
sync depends on; our record mapping reads the recorded records themselves."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
import requests

from ingestion_pipelines.engine.outcomes import CellWarning
from ingestion_pipelines.sources.crm.hubspot.api_streams import OBJECTS
from ingestion_pipelines.sources.crm.hubspot.api_sync import to_row
from ingestion_pipelines.standins.hubspot import Limits, Portal

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def recorded(testdata, name: str) -> dict:
    return json.loads((testdata / "hubspot" / "nango-recorded" / "responses" / name).read_text())


def test_list_and_search_shapes_match_the_recordings(testdata, served):
    rec_list = recorded(testdata, "list-deals__get_crm_v3_objects_deals.json")
    rec_search = recorded(testdata, "search-deals__post_crm_v3_objects_deals_search.json")
    server = served(Portal.seeded(1, deals=120))
    h = server.auth_headers()
    got = requests.get(server.url + "/crm/v3/objects/deals", headers=h,
                       params=rec_list["request"]["params"]).json()
    want_rec = rec_list["body"]["results"][0]
    assert set(got["results"][0]) == set(want_rec)
    assert set(got["results"][0]["properties"]) == set(want_rec["properties"])
    assert set(got["paging"]["next"]) == {"after", "link"}
    for r in got["results"]:
        assert isinstance(r["id"], str) and r["archived"] is False
        assert all(v is None or isinstance(v, str) for v in r["properties"].values())
        assert ISO_MS.match(r["createdAt"]) and ISO_MS.match(r["updatedAt"])
    assert ISO_MS.match(want_rec["createdAt"])
    s = requests.post(server.url + "/crm/v3/objects/deals/search", headers=h, json=rec_search["request"]["data"])
    body = s.json()
    assert set(body) == set(rec_search["body"]) == {"total", "results", "paging"}
    assert set(body["paging"]["next"]) == set(rec_search["body"]["paging"]["next"]) == {"after"}
    assert body["paging"]["next"]["after"] == rec_search["body"]["paging"]["next"]["after"] == "5"


def test_rate_limit_headers_as_recorded(testdata, served):
    rec = recorded(testdata, "list-contacts__get_crm_v3_objects_contacts.json")
    names = {k for k in rec["headers"] if k.startswith("x-hubspot-ratelimit")}
    server = served(Portal.seeded(1, contacts=5))
    r = requests.get(server.url + "/crm/v3/objects/contacts", headers=server.auth_headers())
    assert names and names <= {k.lower() for k in r.headers}
    search = requests.post(server.url + "/crm/v3/objects/contacts/search", headers=server.auth_headers(), json={})
    assert not [k for k in search.headers if k.lower().startswith("x-hubspot-ratelimit")]  # none on search


def test_limits_the_sync_depends_on(served):
    portal = Portal.seeded(1, contacts=300, limits=Limits(search_cap=250, search_per_second=100))
    server = served(portal)
    h = server.auth_headers()
    search = server.url + "/crm/v3/objects/contacts/search"
    assert requests.post(search, headers=h, json={"limit": 200, "after": "100"}).status_code == 400
    assert requests.post(search, headers=h, json={"limit": 50, "after": "200"}).status_code == 200
    assert requests.post(search, headers=h, json={"sorts": [{"propertyName": "a"}, {"propertyName": "b"}]}).status_code == 400
    assert requests.get(server.url + "/crm/v3/objects/contacts", headers=h,
                        params={"properties": "p" * 16_500}).status_code == 414
    ids = [{"id": str(i)} for i in range(1001)]
    assert requests.post(server.url + "/crm/v4/associations/contacts/companies/batch/read", headers=h,
                         json={"inputs": ids}).status_code == 400
    unknown = requests.get(server.url + "/crm/v3/objects/contacts", headers={"Authorization": "Bearer nope"})
    assert unknown.status_code == 401 and unknown.json()["category"] == "INVALID_AUTHENTICATION"
    portal._access["expired"] = 0.0
    exp = requests.get(server.url + "/crm/v3/objects/contacts", headers={"Authorization": "Bearer expired"})
    assert exp.status_code == 401 and exp.json()["category"] == "EXPIRED_AUTHENTICATION"
    assert "expired" in exp.json()["message"]
    bad = requests.post(server.url + "/oauth/v1/token", data={"grant_type": "refresh_token", "refresh_token": "x"})
    assert bad.status_code == 400 and bad.json()["status"] == "BAD_REFRESH_TOKEN"


def test_search_orders_ties_and_filters_by_time(served):
    portal = Portal.seeded(2, contacts=50, limits=Limits(search_per_second=100))
    ids = sorted(portal.live["contacts"])
    t = portal.touch("contacts", ids[:7], same_ms=True)
    server = served(portal)
    body = {"filterGroups": [{"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": str(t)}]}],
            "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}], "limit": 100}
    got = requests.post(server.url + "/crm/v3/objects/contacts/search", headers=server.auth_headers(), json=body).json()
    assert got["total"] == 7 and [int(r["id"]) for r in got["results"]] == ids[:7]


@pytest.mark.parametrize("name,stream", [("list-contacts__get_crm_v3_objects_contacts.json", "contacts"),
                                         ("list-deals__get_crm_v3_objects_deals.json", "deals"),
                                         ("list-companies__get_crm_v3_objects_companies.json", "companies")])
def test_recorded_records_map_onto_our_tables(testdata, name, stream):
    records = recorded(testdata, name)["body"]["results"]
    warnings: list[CellWarning] = []
    rows = [to_row(OBJECTS[stream], r, i, warnings) for i, r in enumerate(records, 1)]
    assert [r.values["id"] for r in rows] == [int(r["id"]) for r in records]
    assert all(r.values["created_at"] is not None and r.values["raw"] is rec for r, rec in zip(rows, records))
    if stream == "contacts":
        phones = {r.record["properties"]["phone"]: r.values["phone"] for r in rows if r.record["properties"].get("phone")}
        assert phones.get("+1-555-123-4568") == "+15551234568"
        assert "+1234567890" not in {p for p in phones.values() if p}  # 9 national digits: a warning, cell empty
        assert any(w.column == "phone" and w.value == "+1234567890" for w in warnings)
    if stream == "deals":
        amounts = [(r.record["properties"]["amount"], r.values["amount"]) for r in rows if r.record["properties"].get("amount")]
        assert amounts and all(Decimal(raw) == typed for raw, typed in amounts)
