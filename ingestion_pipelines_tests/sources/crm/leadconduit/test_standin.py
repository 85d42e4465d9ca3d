"""The LeadConduit stand-in behaves like the real API where our sync depends on it
(``crm/APIS.md`` §2, §8): Basic auth with the key as password (any user), 403 without
``Accept: application/json``, a bare array in *descending* order by default, ``limit``
1..1000, exclusive ``after_id`` / ``before_id``, inclusive ``start``, event types, strictly
increasing ObjectIds, and leads keyed by ``vars.lead.id``."""

from __future__ import annotations

import requests

from ingestion_pipelines.standins.leadconduit import Account

JSON = {"Accept": "application/json"}


def test_the_events_api(served):
    account = Account.seeded(31, leads=20, retries=3, feedback=2)
    url = served(account).url + "/events"
    auth = ("API", account.api_key)
    assert requests.get(url, auth=("API", "nope"), headers=JSON).status_code == 401
    assert requests.get(url, auth=auth).status_code == 403  # no JSON Accept: "misconfigured csrf"
    assert requests.get(url, auth=("X", account.api_key), headers=JSON).status_code == 200  # any user
    for bad in ({"limit": 0}, {"limit": 1001}, {"after_id": "xyz"}, {"sort": "up"}):
        assert requests.get(url, auth=auth, headers=JSON, params=bad).status_code == 400, bad
    ids = [e["id"] for e in account.events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids) and all(len(i) == 24 for i in ids)
    default = requests.get(url, auth=auth, headers=JSON).json()
    assert [e["id"] for e in default] == ids[::-1][:100]  # desc, 100 by default
    page = requests.get(url, auth=auth, headers=JSON, params={"sort": "asc", "limit": 5, "after_id": ids[4]}).json()
    assert [e["id"] for e in page] == ids[5:10]
    between = requests.get(url, auth=auth, headers=JSON,
                           params={"sort": "asc", "after_id": ids[1], "before_id": ids[4]}).json()
    assert [e["id"] for e in between] == ids[2:4]
    start = account.events[7]["start_timestamp"]
    assert requests.get(url, auth=auth, headers=JSON, params={"sort": "asc", "start": start}).json()[0]["id"] == ids[7]
    sources = requests.get(url, auth=auth, headers=JSON, params={"type": "source", "limit": 1000}).json()
    assert len(sources) == 20 and {e["vars"]["lead"]["id"] for e in sources} == set(account.expected_leads())
    assert all(e["vars"]["lead"]["id"] != e["id"] for e in sources)
    one = requests.get(f"{url}/{ids[3]}", auth=auth, headers=JSON)
    assert one.json()["id"] == ids[3] and requests.get(f"{url}/{'0' * 24}", auth=auth, headers=JSON).status_code == 404
