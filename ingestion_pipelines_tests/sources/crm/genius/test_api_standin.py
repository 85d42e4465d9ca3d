"""The Genius stand-in itself behaves as the sync's tests assume (Django REST framework's
shapes, SEED_SYSTEM.md §3): limit/offset pages with ``count`` and absolute ``next`` /
``previous``, ``updated_since`` inclusive, the token endpoint and expiring tokens, DRF's error
bodies, injected faults and throttling."""

from __future__ import annotations

import time

import requests

from ingestion_pipelines.standins.genius import (
    DEFAULT_PASSWORD, DEFAULT_TOKEN, DEFAULT_USERNAME, PATHS, SAME_SECOND, Fault, Genius, Limits,
)

from .test_api_helpers import served  # noqa: F401 - fixture


def test_pages_and_filters(served):
    g = Genius.seeded(31, prospects=45, limits=Limits(max_limit=20))
    server = served(g)
    url, h = server.url + PATHS["prospects"], server.auth_headers()
    first = requests.get(url, params={"limit": 500}, headers=h).json()
    assert set(first) == {"count", "next", "previous", "results"}
    assert first["count"] == 45 and len(first["results"]) == 20 and first["previous"] is None
    assert first["next"] == f"{url}?limit=20&offset=20"  # absolute; the limit capped at max_limit
    last = requests.get(f"{url}?limit=20&offset=40", headers=h).json()
    assert last["next"] is None and last["previous"] == f"{url}?limit=20&offset=20" and len(last["results"]) == 5
    assert [r["id"] for r in first["results"]] == list(range(1, 21))  # id order
    rec = first["results"][0]
    assert isinstance(rec["division"], (int, type(None))) and rec["updated_at"].count(":") == 2 and "+" not in rec["updated_at"]
    since = requests.get(url, params={"updated_since": SAME_SECOND.isoformat()}, headers=h).json()
    assert since["count"] == sum(1 for r in g.records["prospects"].values() if r["updated_at"] >= SAME_SECOND)
    assert requests.get(url, params={"updated_since": "soon"}, headers=h).status_code == 400
    one = requests.get(f"{url}3/", headers={"Authorization": f"Token {DEFAULT_TOKEN}"})  # DRF's scheme works too
    assert one.json()["id"] == 3 and requests.get(f"{url}999/", headers=h).status_code == 404
    div = requests.get(server.url + PATHS["divisions"], headers=h).json()["results"][0]
    assert set(div["group"]) == {"id", "label"}


def test_tokens_errors_and_faults(served):
    g = Genius.seeded(32, prospects=3, limits=Limits(token_ttl_s=0.2, per_second=None))
    server = served(g)
    url = server.url + PATHS["users"]
    assert requests.get(url).json() == {"detail": "Authentication credentials were not provided."}
    bad = requests.post(server.url + "/api/token/", json={"username": DEFAULT_USERNAME, "password": "nope"})
    assert bad.status_code == 401 and "No active account" in bad.json()["detail"]
    assert requests.post(server.url + "/api/token/", json={"username": DEFAULT_USERNAME}).status_code == 400
    tok = requests.post(server.url + "/api/token/", data={"username": DEFAULT_USERNAME, "password": DEFAULT_PASSWORD}).json()
    assert set(tok) == {"refresh", "access"}
    auth = {"Authorization": f"Bearer {tok['access']}"}
    assert requests.get(url, headers=auth).status_code == 200
    time.sleep(0.25)
    expired = requests.get(url, headers=auth)
    assert expired.status_code == 401 and expired.json()["code"] == "token_not_valid"
    g.inject(Fault(429, retry_after="3"), Fault(429), Fault(503))
    h = server.auth_headers()
    a, b, c = (requests.get(url, headers=h) for _ in range(3))
    assert (a.status_code, a.headers.get("Retry-After"), b.status_code, "Retry-After" in b.headers) == (429, "3", 429, False)
    assert c.status_code == 503 and requests.get(url, headers=h).status_code == 200
    g.limits.per_second = 2
    codes = [requests.get(url, headers=h).status_code for _ in range(4)]
    assert 429 in codes and codes[0] == 200
