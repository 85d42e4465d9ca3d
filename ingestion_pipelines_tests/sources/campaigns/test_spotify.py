"""SFA URL collection (seed 002 stage 5) against a local stand-in of the Spotify Web API that
serves the real response shapes of ../shared/testdata/spotify (client credentials token,
``GET /v1/tracks?ids=``, 429 with Retry-After, a 5xx, an expiring token)."""

from __future__ import annotations

import base64
import copy
import json

import pytest
import sqlalchemy as sa
from dagster import Failure
from werkzeug import Request, Response

from ingestion_pipelines.sources.campaigns import schema
from ingestion_pipelines.sources.campaigns.spotify import SpotifyResource, resolve_sfa_urls
from ingestion_pipelines.sources.campaigns.sync import parse_csv, sync_campaign_tables

from .conftest import SAMPLE_CSV

C = schema.spotify_campaigns


class SpotifyStandIn:
    """Behaves like accounts.spotify.com/api/token + api.spotify.com/v1/tracks."""

    def __init__(self, testdata, unknown: set[str], local: set[str]):
        self.track = json.loads((testdata / "spotify" / "tracks" / "GetTrackRequest.json").read_text())
        several = json.loads((testdata / "spotify" / "tracks" / "GetSeveralTracksRequest.json").read_text())
        assert set(several) == {"tracks"}
        self.unknown, self.local = unknown, local
        self.calls = {"token": 0, "tracks": 0, "429": 0, "500": 0, "401": 0}
        self.tokens: set[str] = set()
        self.fail_next = ["429", "500"]
        self.expire_after = 3  # the first token stops working after 3 track calls

    def token(self, request: Request) -> Response:
        self.calls["token"] += 1
        auth = request.headers.get("Authorization", "")
        if auth != "Basic " + base64.b64encode(b"cid:secret").decode() or request.form.get("grant_type") != "client_credentials":
            return Response(json.dumps({"error": "invalid_client"}), 400, content_type="application/json")
        tok = f"tok{self.calls['token']}"
        self.tokens = {tok}
        return Response(json.dumps({"access_token": tok, "token_type": "Bearer", "expires_in": 3600}),
                        content_type="application/json")

    def tracks(self, request: Request) -> Response:
        if self.fail_next:
            kind = self.fail_next.pop(0)
            self.calls[kind] += 1
            if kind == "429":
                return Response("", 429, headers={"Retry-After": "1"})
            return Response("upstream error", 500)
        tok = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if tok not in self.tokens or (tok == "tok1" and self.calls["tracks"] >= self.expire_after):
            self.calls["401"] += 1
            return Response(json.dumps({"error": {"status": 401, "message": "The access token expired"}}), 401,
                            content_type="application/json")
        self.calls["tracks"] += 1
        ids = request.args["ids"].split(",")
        assert len(ids) <= 50
        out = []
        for tid in ids:
            if tid in self.unknown:
                out.append(None)
                continue
            t = copy.deepcopy(self.track)
            t["id"], t["uri"] = tid, f"spotify:track:{tid}"
            t["artists"][0]["id"] = "ART" + tid[:6]
            if tid in self.local:
                t["is_local"] = True
            out.append(t)
        return Response(json.dumps({"tracks": out}), content_type="application/json")


@pytest.fixture
def synced(warehouse):
    warehouse.setup(schema.metadata)
    with warehouse.connect() as conn:
        sync_campaign_tables(conn, parse_csv(SAMPLE_CSV))
    return warehouse


def _spotify(httpserver, **kw) -> SpotifyResource:
    return SpotifyResource(client_id="cid", client_secret="secret", api_base_url=httpserver.url_for("/v1"),
                           token_url=httpserver.url_for("/api/token"), rate_limit_per_second=0,
                           backoff_factor=0.01, **kw)


def test_sfa_urls_resolved_resumable_and_never_overwritten(synced, httpserver, testdata, expected):
    wh = synced
    with wh.engine.connect() as conn:
        todo = conn.execute(sa.select(C.c.id, C.c.track_id).where(
            C.c.status.in_(["Active", "Complete"]), C.c.sfa_url.is_(None)).order_by(C.c.campaign_key)).all()
        hand_before = dict(conn.execute(sa.select(C.c.id, C.c.sfa_url).where(C.c.sfa_url.is_not(None))).all())
    with_track = [r for r in todo if r.track_id]
    assert len(todo) == expected["active_complete_without_sfa"] == 414
    assert len(with_track) == expected["active_complete_without_sfa_with_track"] == 369
    unknown, local = {with_track[5].track_id}, {with_track[7].track_id}
    api = SpotifyStandIn(testdata, unknown, local)
    httpserver.expect_request("/api/token", method="POST").respond_with_handler(api.token)
    httpserver.expect_request("/v1/tracks", method="GET").respond_with_handler(api.tracks)
    spotify = _spotify(httpserver)

    # first pass stops after 100 campaigns (as if interrupted); the second resumes
    with wh.connect() as conn:
        first = resolve_sfa_urls(conn, spotify, batch_size=50, limit=100)
    with wh.connect() as conn:
        second = resolve_sfa_urls(conn, spotify, batch_size=50)
    assert first.candidates == 100 and second.candidates == 414 - len(first.resolved)
    resolved = {**first.resolved, **second.resolved}
    assert len(resolved) == 369 - 2
    reasons = sorted({r for _c, r in second.unresolved})
    assert reasons == ["a local file, not a Spotify track", "no Spotify track URL in the sheet", "track not found on Spotify"]
    assert api.calls["429"] == 1 and api.calls["500"] == 1 and api.calls["401"] == 1 and api.calls["token"] == 2
    with wh.engine.connect() as conn:
        rows = {r.id: r for r in conn.execute(sa.select(C))}
    t = with_track[0]
    assert rows[t.id].sfa_url == f"https://artists.spotify.com/c/artist/ART{t.track_id[:6]}/song/{t.track_id}/stats"
    assert rows[with_track[5].id].sfa_error == "track not found on Spotify" and rows[with_track[5].id].sfa_url is None
    assert all(rows[i].sfa_url == u for i, u in hand_before.items())  # hand-entered URLs untouched
    # a third pass has only the unresolvable ones left, and a re-sync of the CSV keeps the new URLs
    with wh.connect() as conn:
        third = resolve_sfa_urls(conn, spotify)
        res = sync_campaign_tables(conn, parse_csv(SAMPLE_CSV))
    assert third.candidates == 414 - 367 and not third.resolved
    assert res.reports["spotify_campaigns"].counts["unchanged"] == 664
    assert wh.count(C, C.c.sfa_url.is_not(None)) == 204 + 367


def test_missing_credentials_fail_fast_naming_the_variable(sqlite_warehouse):
    wh = sqlite_warehouse
    wh.setup(schema.metadata)
    with wh.connect() as conn:
        sync_campaign_tables(conn, parse_csv(SAMPLE_CSV))
    with wh.connect() as conn, pytest.raises(Failure, match="SPOTIFY_CLIENT_SECRET"):
        resolve_sfa_urls(conn, SpotifyResource(client_id="cid"))


def test_unreachable_api_fails_soft_with_the_reason(sqlite_warehouse):
    wh = sqlite_warehouse
    wh.setup(schema.metadata)
    with wh.connect() as conn:
        sync_campaign_tables(conn, parse_csv(SAMPLE_CSV))
    dead = SpotifyResource(client_id="cid", client_secret="s", api_base_url="http://127.0.0.1:9/v1",
                           token_url="http://127.0.0.1:9/api/token", max_retries=0, timeout_seconds=2)
    with wh.connect() as conn:
        res = resolve_sfa_urls(conn, dead, limit=5)
    assert res.candidates == 5 and not res.resolved
    assert all(r.startswith(("Spotify API error: ConnectionError", "no Spotify track URL")) for _c, r in res.unresolved)
    with wh.engine.connect() as conn:
        errs = conn.execute(sa.select(C.c.sfa_error).where(C.c.sfa_error.is_not(None))).scalars().all()
    assert len(errs) == 5 and wh.count(C, C.c.sfa_url.is_not(None)) == 204


def test_sfa_asset_with_resource_from_spotify_variables(sqlite_warehouse, local_store, httpserver, testdata, monkeypatch):
    from dagster import DagsterInstance, Definitions

    from ingestion_pipelines.launch import materializations
    from ingestion_pipelines.sources.campaigns.assets import campaigns_sync, integrity_report, sfa_urls
    from ingestion_pipelines.sources.campaigns.definitions import spotify_resource

    api = SpotifyStandIn(testdata, set(), set())
    api.fail_next = []
    httpserver.expect_request("/api/token", method="POST").respond_with_handler(api.token)
    httpserver.expect_request("/v1/tracks", method="GET").respond_with_handler(api.tracks)
    monkeypatch.setenv("SPOTIFY_CLIENT_ID", "cid")
    monkeypatch.setenv("SPOTIFY_CLIENT_SECRET", "secret")
    monkeypatch.setenv("SPOTIFY_API_BASE_URL", httpserver.url_for("/v1"))
    monkeypatch.setenv("SPOTIFY_TOKEN_URL", httpserver.url_for("/api/token"))
    api.expire_after = 10_000
    d = Definitions(assets=[campaigns_sync, sfa_urls, integrity_report],
                    resources={"warehouse": sqlite_warehouse, "blob_store": local_store, "spotify": spotify_resource()})
    result = d.resolve_implicit_global_asset_job_def().execute_in_process(instance=DagsterInstance.ephemeral())
    md = materializations(result)["campaigns/sfa_urls"]
    assert (md["candidates"], md["updated"], md["failed"]) == (414, 369, 45)
    assert md["dagster/row_count"] == 204 + 369
    body = local_store.get_bytes(local_store.key_from_uri(md["failed_rows_file"])).decode()
    assert body.count("no Spotify track URL in the sheet") == 45
    assert "cid" not in repr(spotify_resource()) and "secret" not in str(md)
