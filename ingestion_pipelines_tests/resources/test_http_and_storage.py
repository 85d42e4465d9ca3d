"""HttpClient against local HTTP servers that behave like real APIs (429 + Retry-After, 5xx,
expiring OAuth tokens, slow responses), and both BlobStores."""

import json
import time

import pytest
import requests
from werkzeug import Response

from ingestion_pipelines.resources.http import DownloadRefused, HttpClient, check_address_allowed
from ingestion_pipelines.resources.storage import blob_store_from_url, clean_key


def test_retries_429_honouring_retry_after_then_succeeds(httpserver):
    hits = []

    def handler(request):
        hits.append(time.monotonic())
        if len(hits) < 3:
            return Response("slow down", status=429, headers={"Retry-After": "1"})
        return Response(json.dumps({"ok": True}), content_type="application/json")

    httpserver.expect_request("/api").respond_with_handler(handler)
    client = HttpClient(base_url=httpserver.url_for("/"), backoff_factor=0.01)
    assert client.get_json("/api") == {"ok": True}
    assert len(hits) == 3 and hits[1] - hits[0] >= 0.9 and hits[2] - hits[1] >= 0.9


def test_retries_5xx_then_gives_up_with_the_last_answer(httpserver):
    httpserver.expect_request("/down").respond_with_data("boom", status=503)
    client = HttpClient(base_url=httpserver.url_for("/"), max_retries=2, backoff_factor=0.01)
    resp = client.request("GET", "/down")
    assert resp.status_code == 503 and len(httpserver.log) == 3
    with pytest.raises(requests.HTTPError):
        client.get_json("/down")


def test_timeout_on_a_slow_response(httpserver):
    httpserver.expect_request("/slow").respond_with_handler(lambda r: (time.sleep(1.5), Response("late"))[1])
    client = HttpClient(base_url=httpserver.url_for("/"), timeout_seconds=0.3, max_retries=0)
    with pytest.raises(requests.exceptions.ConnectionError):
        client.request("GET", "/slow")


def test_oauth2_refreshes_an_expired_token_once(httpserver):
    tokens = iter(["tok-1", "tok-2"])
    httpserver.expect_request("/oauth/v1/token", method="POST").respond_with_handler(
        lambda r: Response(json.dumps({"access_token": next(tokens), "expires_in": 1800}), content_type="application/json"))

    def api(request):
        if request.headers.get("Authorization") != "Bearer tok-2":
            return Response(json.dumps({"status": "error", "category": "EXPIRED_AUTHENTICATION"}), status=401)
        return Response(json.dumps({"results": []}), content_type="application/json")

    httpserver.expect_request("/crm/v3/objects/contacts").respond_with_handler(api)
    client = HttpClient(base_url=httpserver.url_for("/"), auth_type="oauth2", token_url=httpserver.url_for("/oauth/v1/token"),
                        client_id="id", client_secret="s3cr3t-value", refresh_token="r3fr3sh-value", max_retries=0)
    assert client.get_json("/crm/v3/objects/contacts") == {"results": []}
    assert "s3cr3t" not in repr(client) and "r3fr3sh" not in repr(client)


def test_download_guard_rules(httpserver):
    for host in ("127.0.0.1", "10.0.0.8", "192.168.1.1", "169.254.169.254", "::1", "0.0.0.0"):
        with pytest.raises(DownloadRefused, match="not public"):
            check_address_allowed(host, allow_private=False)
    check_address_allowed("127.0.0.1", allow_private=True)
    client = HttpClient(max_retries=0)
    with pytest.raises(DownloadRefused, match="scheme"):
        client.download("file:///etc/passwd")
    with pytest.raises(DownloadRefused, match="not public"):
        client.download(httpserver.url_for("/x.png"))
    # a public-looking redirect chain cannot smuggle a private address in: each hop is checked
    httpserver.expect_request("/hop").respond_with_data("", status=302, headers={"Location": "http://169.254.169.254/latest"})
    allowed = HttpClient(allow_private_addresses=False, max_retries=0)
    with pytest.raises(DownloadRefused):
        allowed.download(httpserver.url_for("/hop"))
    # declared and undeclared sizes are both enforced
    httpserver.expect_request("/big").respond_with_data(b"x" * 5000, content_type="image/png")
    with pytest.raises(DownloadRefused, match="too large"):
        HttpClient(allow_private_addresses=True, max_retries=0).download(httpserver.url_for("/big"), max_bytes=1000)


def test_clean_key_refuses_escapes():
    assert clean_key("a/./b/../c.json") == "a/c.json"
    for bad in ("../x", "/etc/passwd", "a/../../x", "", "C:\\x"):
        with pytest.raises(ValueError):
            clean_key(bad)


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_blob_stores_put_list_page_open(kind, tmp_path, request):
    store = blob_store_from_url(str(tmp_path / "st")) if kind == "local" else request.getfixturevalue("s3_store")
    for i in range(5):
        store.put_bytes(f"landing/t{i % 2}/f{i}.ndjson", f"{i}\n".encode())
    store.put_bytes("other/x.txt", b"x")
    keys = [o.key for o in store.list("landing/")]
    assert keys == sorted(keys) and len(keys) == 5
    page1 = [o.key for o in store.list("landing/", limit=2)]
    page2 = [o.key for o in store.list("landing/", start_after=page1[-1], limit=10)]
    assert page1 + page2 == keys
    assert store.get_bytes("landing/t0/f0.ndjson") == b"0\n"
    assert store.key_from_uri(store.uri("landing/t0/f0.ndjson")) == "landing/t0/f0.ndjson"
    assert store.exists("other/x.txt") and not store.exists("other/y.txt")
    with pytest.raises(FileNotFoundError):
        store.open("nope/missing.json")
    with pytest.raises(ValueError):
        store.put_bytes("../escape", b"x")
    url = store.presigned_url("other/x.txt", 60)
    if kind == "s3":
        assert "Signature" in url or "X-Amz-Signature" in url
        assert requests.get(url, timeout=10).content == b"x"
