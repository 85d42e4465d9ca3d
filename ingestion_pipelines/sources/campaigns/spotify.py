"""Stage 5 of seed 002: collect Spotify for Artists (SFA) URLs of campaign songs.

The seed searched a roster tool by artist; we resolve from the track itself through the
Spotify Web API (client credentials flow): ``GET /v1/tracks?ids=<up to 50 ids>`` gives each
track's artists, and a song's SFA page is
``https://artists.spotify.com/c/artist/<first artist id>/song/<track id>/stats``.

:class:`SpotifyResource` wraps the shared :class:`~ingestion_pipelines.resources.http.HttpClient`
(urllib3 ``Retry`` on connection errors, 429 with ``Retry-After`` and 5xx; a minimum interval
between calls) and adds the token: ``POST <token_url>`` with HTTP Basic ``client_id:secret``
and ``grant_type=client_credentials``; the token is reused until it expires and fetched again
once on a 401. Credentials come only from ``SPOTIFY_CLIENT_ID`` / ``SPOTIFY_CLIENT_SECRET``
through ``dagster.EnvVar``; a missing one fails fast with a message naming the variable.

:func:`resolve_sfa_urls` is resumable: it only looks at Active/Complete campaigns whose
``sfa_url`` is still empty, writes each batch in its own transaction, and never overwrites a
value already there (``UPDATE .. WHERE sfa_url IS NULL OR sfa_url = ''``). A campaign that
cannot be resolved gets the reason in ``sfa_error`` and in the result.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import requests
import sqlalchemy as sa
from dagster import ConfigurableResource, Failure
from pydantic import PrivateAttr

from ...resources.http import HttpClient
from .schema import spotify_campaigns

SFA_URL = "https://artists.spotify.com/c/artist/{artist_id}/song/{track_id}/stats"


class SpotifyResource(ConfigurableResource):
    """The Spotify Web API with client credentials.

    Fields: ``client_id`` / ``client_secret`` (``SPOTIFY_CLIENT_ID`` / ``SPOTIFY_CLIENT_SECRET``),
    ``api_base_url`` (``SPOTIFY_API_BASE_URL``, default ``https://api.spotify.com/v1``),
    ``token_url`` (default ``https://accounts.spotify.com/api/token``; a relative path is joined
    to ``api_base_url``'s origin), ``rate_limit_per_second`` (calls/s), ``max_retries``,
    ``backoff_factor`` (seconds), ``timeout_seconds``.
    """

    client_id: str | None = None
    client_secret: str | None = None
    api_base_url: str = "https://api.spotify.com/v1"
    token_url: str = "https://accounts.spotify.com/api/token"
    rate_limit_per_second: float = 5.0
    max_retries: int = 5
    backoff_factor: float = 0.5
    timeout_seconds: float = 20.0

    _http: HttpClient | None = PrivateAttr(default=None)
    _token: str | None = PrivateAttr(default=None)
    _expiry: float = PrivateAttr(default=0.0)

    def __repr__(self) -> str:  # never show secrets
        return f"SpotifyResource(api_base_url={self.api_base_url!r})"

    def check_configured(self) -> None:
        """Raise ``dagster.Failure`` naming the missing ``SPOTIFY_*`` variables."""
        missing = [n for n, val in (("SPOTIFY_CLIENT_ID", self.client_id), ("SPOTIFY_CLIENT_SECRET", self.client_secret))
                   if not val]
        if missing:
            raise Failure(f"Spotify API not configured: set {', '.join(missing)}")

    @property
    def http(self) -> HttpClient:
        if self._http is None:
            self._http = HttpClient(base_url=self.api_base_url, rate_limit_per_second=self.rate_limit_per_second,
                                    max_retries=self.max_retries, backoff_factor=self.backoff_factor,
                                    timeout_seconds=self.timeout_seconds)
        return self._http

    def _fetch_token(self) -> str:
        self.check_configured()
        basic = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        resp = self.http.request("POST", self.token_url, data={"grant_type": "client_credentials"},
                                 headers={"Authorization": f"Basic {basic}"})
        if resp.status_code != 200:
            raise Failure(f"Spotify token request failed with HTTP {resp.status_code}")
        body = resp.json()
        self._token = body["access_token"]
        self._expiry = time.monotonic() + float(body.get("expires_in", 3600)) - 60
        return self._token

    def token(self) -> str:
        """A valid access token (cached until shortly before it expires)."""
        if self._token is None or time.monotonic() >= self._expiry:
            return self._fetch_token()
        return self._token

    def get(self, path: str, **params: Any) -> requests.Response:
        """``GET`` an API path with the bearer token (one refresh on 401); retried by the
        HttpClient policy. Returns the final response (the caller checks the status)."""
        resp = self.http.request("GET", path, params=params, headers={"Authorization": f"Bearer {self.token()}"})
        if resp.status_code == 401:
            resp = self.http.request("GET", path, params=params,
                                     headers={"Authorization": f"Bearer {self._fetch_token()}"})
        return resp

    def tracks(self, ids: list[str]) -> dict[str, dict | None]:
        """Track objects by id (``None`` for an id Spotify does not know), 50 ids per call.

        Raises ``requests.HTTPError`` when a call still fails after the retries."""
        out: dict[str, dict | None] = {}
        for i in range(0, len(ids), 50):
            chunk = ids[i:i + 50]
            resp = self.get("tracks", ids=",".join(chunk))
            resp.raise_for_status()
            items = resp.json().get("tracks") or []
            for tid, item in zip(chunk, items):
                out[tid] = item
        return out


@dataclass
class SfaResult:
    """``resolved`` (campaign id -> SFA URL), ``unresolved`` ((campaign, reason) pairs),
    ``candidates`` (campaigns looked at), ``api_calls``."""

    resolved: dict[str, str] = field(default_factory=dict)
    unresolved: list[tuple[str, str]] = field(default_factory=list)
    candidates: int = 0
    stopped: bool = False


def sfa_url_of(track: dict | None, track_id: str) -> tuple[str | None, str | None]:
    """(SFA URL, None) or (None, reason) for one track object of ``GET /v1/tracks``."""
    if track is None:
        return None, "track not found on Spotify"
    if track.get("is_local"):
        return None, "a local file, not a Spotify track"
    artists = [a for a in track.get("artists") or [] if a.get("id")]
    if not artists:
        return None, "track has no artist id"
    return SFA_URL.format(artist_id=artists[0]["id"], track_id=track_id), None


def resolve_sfa_urls(conn: sa.Connection, spotify: SpotifyResource, *, dry_run: bool = False, batch_size: int = 50,
                     limit: int | None = None, should_stop: Callable[[], bool] = lambda: False,
                     log: Any = None) -> SfaResult:
    """Fill ``sfa_url`` of Active/Complete campaigns that have none (see module docstring).

    Commits per batch unless ``dry_run``. Connection-level API failures (after retries) are
    recorded as the reason of the campaigns in that batch and the run goes on (fail soft)."""
    t = spotify_campaigns
    q = (sa.select(t.c.id, t.c.campaign, t.c.track_id)
         .where(t.c.status.in_(["Active", "Complete"]), sa.or_(t.c.sfa_url.is_(None), t.c.sfa_url == ""))
         .order_by(t.c.campaign_key))
    if limit:
        q = q.limit(limit)
    todo = conn.execute(q).all()
    conn.rollback()
    res = SfaResult(candidates=len(todo))
    with_track = [r for r in todo if r.track_id]
    for r in todo:
        if not r.track_id:
            res.unresolved.append((r.campaign, "no Spotify track URL in the sheet"))
    errors: dict[str, str] = {r.id: "no Spotify track URL in the sheet" for r in todo if not r.track_id}
    if with_track:
        spotify.check_configured()
    for i in range(0, len(with_track), batch_size):
        if should_stop():
            res.stopped = True
            break
        batch = with_track[i:i + batch_size]
        try:
            found = spotify.tracks(sorted({r.track_id for r in batch}))
            api_error = None
        except (requests.RequestException, ValueError) as e:
            found, api_error = {}, f"Spotify API error: {type(e).__name__}: {str(e)[:200]}"
        updates = []
        for r in batch:
            url, reason = (None, api_error) if api_error else sfa_url_of(found.get(r.track_id), r.track_id)
            if url:
                res.resolved[r.id] = url
                updates.append({"_id": r.id, "_url": url})
            else:
                res.unresolved.append((r.campaign, reason or "unknown"))
                errors[r.id] = reason or "unknown"
        if updates:
            conn.execute(t.update().where(t.c.id == sa.bindparam("_id"),
                                          sa.or_(t.c.sfa_url.is_(None), t.c.sfa_url == ""))
                         .values(sfa_url=sa.bindparam("_url"), sfa_error=None), updates)
        if not dry_run:
            conn.commit()
        if log is not None:
            log.info(f"sfa_urls: {min(i + batch_size, len(with_track)):,}/{len(with_track):,} tracks looked up, "
                     f"{len(res.resolved):,} resolved")
    if errors:
        conn.execute(t.update().where(t.c.id == sa.bindparam("_id")).values(sfa_error=sa.bindparam("_err")),
                     [{"_id": k, "_err": e} for k, e in errors.items()])
    if not dry_run:
        conn.commit()
    return res
