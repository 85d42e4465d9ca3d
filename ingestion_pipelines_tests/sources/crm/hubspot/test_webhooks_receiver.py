"""The HubSpot webhook receiver, served by uvicorn on a loopback port, storing into the real
PostgreSQL: HubSpot's signature vectors (the v3 vector's ancient timestamp refused though its
HMAC matches), the URI decoding rule, the snowplow adapter's cases, 401/413/415/400 storing
nothing, duplicates stored once, /health, and nothing secret in the logs."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from contextlib import contextmanager

import pytest
import requests
import sqlalchemy as sa

from ingestion_pipelines.sources.crm.hubspot import webhook_events as ev
from ingestion_pipelines.sources.crm.hubspot.webhook_receiver import create_app
from ingestion_pipelines.sources.crm.hubspot.webhook_signature import (
    Refused, decode_uri, signature_v1, signature_v2, signature_v3, verify,
)
from ingestion_pipelines.standins.hubspot import WebhookEmitter
from ingestion_pipelines.standins.serving import start_app

SECRET = "wh-secret-TOP-5521"
VECTORS = "hubspot/webhooks/signature_test_vectors.json"
SNOWPLOW = "hubspot/webhooks/snowplow_hubspot_adapter_cases.json"


@contextmanager
def receiver(engine, secret: str = SECRET, **options):
    """The receiver app on uvicorn in a thread on 127.0.0.1 (a free port): yields its base URL."""
    served = start_app(create_app(engine, secret, **options), name="webhook-receiver")
    try:
        yield served.url
    finally:
        served.stop()


def stored(engine) -> list[dict]:
    with engine.connect() as c:
        return [dict(r._mapping) for r in c.execute(sa.select(ev.webhook_events).order_by(ev.webhook_events.c.seq))]


@pytest.fixture
def wh(pg_warehouse):
    return pg_warehouse


# -- signatures ------------------------------------------------------------------------------

def test_signature_vectors(testdata):
    data = json.loads((testdata / VECTORS).read_text())
    for v in data["vectors"]:
        body, secret = v["request_body"].encode(), v["client_secret"]
        got = {"v1": lambda: signature_v1(secret, body),
               "v2": lambda: signature_v2(secret, v["http_method"], v["url"], body),
               "v3": lambda: signature_v3(secret, v["http_method"], v["url"], body, v["timestamp"])}[v["signature_version"]]()
        assert got == v["expected_signature"], v["name"]
    v3 = next(v for v in data["vectors"] if v["name"] == "v3_post")
    headers = {"X-HubSpot-Signature-v3": v3["expected_signature"], "X-HubSpot-Request-Timestamp": str(v3["timestamp"])}
    body = v3["request_body"].encode()
    with pytest.raises(Refused, match="5-minute"):  # the HMAC matches, the timestamp is ancient
        verify(headers, "POST", v3["url"], body, v3["client_secret"], now_ms=int(time.time() * 1000))
    assert verify(headers, "POST", v3["url"], body, v3["client_secret"], now_ms=v3["timestamp"] + 299_000) == "v3"
    v1 = data["vectors"][0]
    legacy = {"X-HubSpot-Signature": v1["expected_signature"], "X-HubSpot-Signature-Version": "v1"}
    with pytest.raises(Refused, match="not accepted"):
        verify(legacy, "POST", v3["url"], body, v1["client_secret"], now_ms=0)
    assert verify(legacy, "POST", v3["url"], body, v1["client_secret"], now_ms=0, legacy=True) == "v1"
    with pytest.raises(Refused, match="does not match"):
        verify({**headers, "X-HubSpot-Signature-v3": "AAAA" + v3["expected_signature"][4:]}, "POST", v3["url"], body,
               v3["client_secret"], now_ms=v3["timestamp"])


def test_uri_decoding_rule():
    assert decode_uri("https://x.io/a%3Ab%2fc%3F%40%21%24%27%28%29%2A%2C%3B") == "https://x.io/a:b/c?@!$'()*,;"
    assert decode_uri("https://x.io/a%20b%25c%2Bd") == "https://x.io/a%20b%25c%2Bd"  # the others stay


def test_signed_batch_stored_and_duplicates_once(wh):
    with receiver(wh.engine) as url:
        em = WebhookEmitter(url + "/webhooks/hubspot?x=%3A1", SECRET)
        events = [em.event("contact.propertyChange", 100 + i, 1_700_000_000_000 + i, propertyName="email",
                           propertyValue=f"c{i}@example.com") for i in range(5)]
        assert em.post(events) == 200
        assert em.post(events[2:] + events[:1]) == 200  # redelivered, reordered
        r = requests.post(url + "/webhooks/hubspot", data=json.dumps(events[:2] + events[:2]),
                          headers=em.headers(json.dumps(events[:2] + events[:2]).encode()).copy())
        assert r.status_code == 401  # signed for the other URI (the query string is signed)
        seeded = WebhookEmitter(url + "/webhooks/hubspot/contacts/", SECRET)  # the seed's path
        seeded.next_event_id = 6
        assert seeded.post([seeded.event("deal.deletion", 7, 1_700_000_000_100)]) == 200
        assert requests.get(url + "/health").json() == {"status": "ok"}
    rows = stored(wh.engine)
    assert [r["event_id"] for r in rows] == [1, 2, 3, 4, 5, 6]
    first = rows[0]
    assert (first["subscription_type"], first["object_type"], first["object_id"], first["property_name"],
            first["property_value"], first["status"], first["attempt"]) == (
        "contact.propertyChange", "contacts", 100, "email", "c0@example.com", "pending", 0)
    assert first["occurred_at"].isoformat() == "2023-11-14T22:13:20+00:00" and first["received_at"] is not None
    assert (rows[-1]["object_type"], rows[-1]["subscription_type"]) == ("deals", "deal.deletion")


def test_refused_requests_store_nothing(wh, testdata, caplog):
    caplog.set_level(logging.INFO)
    cases = json.loads((testdata / SNOWPLOW).read_text())["cases"]
    with receiver(wh.engine, max_body=4096) as url:
        em = WebhookEmitter(url + "/webhooks/hubspot", SECRET)
        answers = {}
        for case in cases:
            body = (case["raw_body"] or "").encode()
            headers = {**em.headers(body), "Content-Type": case["content_type"]}
            r = requests.post(em.url, data=body, headers=headers)
            answers[case["name"]] = (r.status_code, r.json().get("error", ""))
        big = json.dumps([em.event("contact.creation", i, 1) for i in range(60)]).encode()
        answers["oversize"] = requests.post(em.url, data=big, headers=em.headers(big)).status_code
        many = json.dumps([em.event("contact.creation", i, 1) for i in range(101)], separators=(",", ":")).encode()
        with receiver(wh.engine) as url2:
            em2 = WebhookEmitter(url2 + "/webhooks/hubspot", SECRET)
            answers["101 events"] = requests.post(em2.url, data=many, headers=em2.headers(many)).status_code
        ok = json.dumps([em.event("contact.creation", 1, 1)]).encode()
        answers["stale"] = requests.post(em.url, data=ok, headers=em.headers(ok, int(time.time() * 1000) - 301_000)).status_code
        answers["wrong secret"] = WebhookEmitter(em.url, "other").post([em.event("contact.creation", 1, 1)])
        answers["unsigned"] = requests.post(em.url, data=ok, headers={"Content-Type": "application/json"}).status_code
    assert answers["unknown_subscription_type"] == (400, "event 0: no mapping for subscriptionType 'contact'")
    assert answers["invalid_json"] == (400, "body is not JSON")
    assert answers["wrong_content_type"] == (415, "expected Content-Type: application/json")
    assert answers["empty_body"] == (400, "empty body")
    assert answers["oversize"] == 413 and answers["101 events"] == 400
    assert answers["stale"] == answers["wrong secret"] == answers["unsigned"] == 401
    valid = {n: a for n, a in answers.items() if n in ("valid_contact_creation", "minimal_company_change")}
    assert valid == {"valid_contact_creation": (200, ""), "minimal_company_change": (200, "")}
    rows = {r["event_id"]: r for r in stored(wh.engine)}
    assert set(rows) == {1, 16}  # the two valid cases only
    assert rows[1]["occurred_at"].isoformat() == "2018-10-10T04:23:19.845000+00:00"
    assert (rows[16]["status"], rows[16]["object_type"]) == ("failed", "companies")  # no objectId: nothing to apply
    assert SECRET not in caplog.text and em.headers(ok)["X-HubSpot-Signature-v3"][:12] not in caplog.text
    assert "refused 401" in caplog.text


def test_event_log_on_mysql_and_sqlite(mysql_url, tmp_path):
    for url in (mysql_url, f"sqlite:///{tmp_path / 'w.db'}"):
        eng = sa.create_engine(url)
        ev.metadata.create_all(eng)
        now = dt.datetime.now(dt.timezone.utc)
        body = b'[{"eventId": 7, "subscriptionType": "object.propertyChange", "objectTypeId": "0-421", "objectId": 9},' \
               b' {"eventId": 8, "subscriptionType": "contact.merge", "objectId": 1, "primaryObjectId": 2}]'
        assert ev.store(eng, ev.parse_batch(body, now)) == (2, 0)
        assert ev.store(eng, ev.parse_batch(body, now)) == (0, 2)
        with eng.connect() as c:
            assert [(r.event_id, r.object_type, r.object_id) for r in ev.to_apply(c)] == [
                (7, "appointments", 9), (8, "contacts", 2)]  # a merge is applied to its winner
        eng.dispose()


def test_health_without_database(tmp_path):
    eng = sa.create_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with receiver(eng) as url:
        (tmp_path / "w.db").unlink()
        (tmp_path / "w.db").mkdir()  # the file is gone and cannot be recreated
        eng.dispose()
        assert requests.get(url + "/health").status_code == 503
        em = WebhookEmitter(url + "/webhooks/hubspot", SECRET)
        assert em.post([em.event("contact.creation", 1, 1)]) == 503  # not stored: not acknowledged
