"""Auth classes of the API client (DESIGN.md §10): one object per scheme, asked for its
headers on every attempt (so a signature is made afresh for each request and each retry, and
an OAuth token is refreshed before it expires), and told about a 401 (OAuth refreshes once).

* :class:`BearerToken` — ``Authorization: Bearer <token>`` (HubSpot private apps, Genius).
* :class:`ApiKeyHeader` — ``<header>: <key>`` (Arrivy's ``X-Auth-Key`` / ``X-Auth-Token``: one each).
* :class:`HttpBasic` — ``Authorization: Basic`` (LeadConduit: user ``API``, key as password; MarketSharp).
* :class:`OAuth2Refresh` — the refresh-token grant (HubSpot OAuth): refreshed
  ``refresh_margin_s`` before ``expires_in`` runs out and once on a 401; a refused refresh
  raises :class:`AuthRefused` at once, naming the variables to check.
* :class:`SignedHeader` — a header computed by a hook ``sign(method, url, body, now) -> value``
  on every attempt (MarketSharp's ``coy:key:epoch:hmac``).
* :class:`TokenExchange` — a username and password exchanged for an access token (Django REST
  framework SimpleJWT's ``POST /api/token/``: Genius), again once on a 401; refused
  credentials raise :class:`AuthRefused` at once, naming the variables.

Every class keeps its secrets out of ``repr`` and out of every message it raises.
"""

from __future__ import annotations

import base64
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .client import ApiClient


class AuthRefused(Exception):
    """Credentials were refused and retrying cannot help (a bad refresh token, a revoked
    key). The message names the variables to check, never their values."""


class Auth:
    """No auth. Subclasses override :meth:`headers` (called before every attempt) and
    :meth:`refresh_on_401` (True when a retry with new credentials makes sense)."""

    def headers(self, method: str, url: str, body: bytes | None, client: "ApiClient") -> dict[str, str]:
        return {}

    def refresh_on_401(self, client: "ApiClient") -> bool:
        """A static credential refused: :class:`AuthRefused` naming ``variables`` when the
        class has them (retrying cannot help), else False (the 401 is the answer)."""
        variables = getattr(self, "variables", ())
        if variables:
            raise AuthRefused("credentials refused (HTTP 401); check " + ", ".join(variables))
        return False

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


@dataclass(repr=False)
class BearerToken(Auth):
    """``Authorization: Bearer <token>``."""

    token: str
    #: the variables named when the API answers 401 (empty: a plain 401 error)
    variables: tuple[str, ...] = ()

    def headers(self, method, url, body, client):
        return {"Authorization": f"Bearer {self.token}"}


@dataclass(repr=False)
class ApiKeyHeader(Auth):
    """Fixed headers carrying keys: ``values`` maps header name -> key (one or more)."""

    values: Mapping[str, str]
    #: the variables named when the API answers 401 (empty: a plain 401 error)
    variables: tuple[str, ...] = ()

    def headers(self, method, url, body, client):
        return dict(self.values)


@dataclass(repr=False)
class HttpBasic(Auth):
    """``Authorization: Basic base64(username:password)``."""

    username: str
    password: str
    #: the variables named when the API answers 401 (empty: a plain 401 error)
    variables: tuple[str, ...] = ()

    def headers(self, method, url, body, client):
        raw = f"{self.username}:{self.password}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


@dataclass(repr=False)
class SignedHeader(Auth):
    """``header: sign(method, url, body, now)`` computed for every attempt (``now``: epoch
    seconds, float), so a retry never reuses a stale signature or timestamp."""

    header: str
    sign: Callable[[str, str, bytes | None, float], str]

    def headers(self, method, url, body, client):
        return {self.header: self.sign(method, url, body, time.time())}


@dataclass(repr=False)
class OAuth2Refresh(Auth):
    """OAuth2 refresh-token grant: ``POST token_url`` (form: ``grant_type=refresh_token``,
    ``client_id``, ``client_secret``, ``refresh_token``) -> ``{access_token, expires_in
    (seconds), refresh_token?}``. The access token is fetched on first use, again
    ``refresh_margin_s`` before it expires, and once on a 401. A rotated ``refresh_token`` in
    the answer replaces the old one (in memory). ``variables``: the names shown when the
    refresh is refused (e.g. ``HUBSPOT_REFRESH_TOKEN``). Raises :class:`AuthRefused` on a 4xx
    answer (no retry: a refused grant does not get better) and when the endpoint still fails
    after the client's retries."""

    token_url: str
    client_id: str
    client_secret: str
    refresh_token: str
    variables: tuple[str, ...] = ("client id", "client secret", "refresh token")
    refresh_margin_s: float = 300.0
    refreshes: int = 0
    _access: str | None = field(default=None, init=False)
    _refresh_at: float = field(default=0.0, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def headers(self, method, url, body, client):
        with self._lock:
            if self._access is None or time.monotonic() >= self._refresh_at:
                self._refresh(client)
            return {"Authorization": f"Bearer {self._access}"}

    def refresh_on_401(self, client):
        with self._lock:
            self._refresh(client)
        return True

    def _refresh(self, client: "ApiClient") -> None:
        data = {"grant_type": "refresh_token", "client_id": self.client_id, "client_secret": self.client_secret,
                "refresh_token": self.refresh_token}
        # the client's own retries (429, 5xx, timeouts): a busy token endpoint is not a refused
        # token (PostHog PR #63732's failure); no auth, no rate budget of the API
        resp = client.send("POST", self.token_url, data=data, auth=Auth(), budget=None, check=False)
        if 400 <= resp.status_code < 500:
            raise AuthRefused(f"OAuth2 token refresh refused: HTTP {resp.status_code}{_error_status(resp)}; check "
                              + ", ".join(self.variables))
        if resp.status_code != 200:
            raise AuthRefused(f"OAuth2 token endpoint failed: HTTP {resp.status_code} after retries")
        body = resp.json()
        self._access = body["access_token"]
        ttl = float(body.get("expires_in", 1800))
        # refreshed ``refresh_margin_s`` early, but never later than half-way (a short-lived token)
        self._refresh_at = time.monotonic() + ttl - min(self.refresh_margin_s, ttl / 2)
        if body.get("refresh_token"):
            self.refresh_token = body["refresh_token"]
        self.refreshes += 1


@dataclass(repr=False)
class TokenExchange(Auth):
    """A username and password exchanged for an access token: ``POST token_url`` with JSON
    ``{"username", "password"}`` -> ``{"access": <token>, "refresh": ...}`` (SimpleJWT's
    ``/api/token/``; the Genius API, crm/SEED_SYSTEM.md §3), sent as ``Authorization: <scheme>
    <token>``. Exchanged on first use and once again on a 401 (the access token expired; the
    client repeats the request once). ``variables``: the names shown when the exchange is
    refused (``GENIUS_USERNAME``, ``GENIUS_PASSWORD``). Raises :class:`AuthRefused` on a 4xx
    answer of the token endpoint (wrong credentials do not get better: no retry) and when it
    still fails after the client's retries (429, 5xx)."""

    token_url: str
    username: str
    password: str
    variables: tuple[str, ...] = ("username", "password")
    token_field: str = "access"
    scheme: str = "Bearer"
    exchanges: int = 0
    _access: str | None = field(default=None, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def headers(self, method, url, body, client):
        with self._lock:
            if self._access is None:
                self._exchange(client)
            return {"Authorization": f"{self.scheme} {self._access}"}

    def refresh_on_401(self, client):
        with self._lock:
            self._exchange(client)
        return True

    def _exchange(self, client: "ApiClient") -> None:
        resp = client.send("POST", self.token_url, json={"username": self.username, "password": self.password},
                           auth=Auth(), budget=None, check=False)
        if 400 <= resp.status_code < 500:
            raise AuthRefused(f"token exchange refused: HTTP {resp.status_code}; check " + ", ".join(self.variables))
        if resp.status_code != 200:
            raise AuthRefused(f"token endpoint failed: HTTP {resp.status_code} after retries")
        try:
            token = resp.json()[self.token_field]
        except (ValueError, KeyError, TypeError):
            raise AuthRefused(f"token endpoint answered without {self.token_field!r}; check "
                              + ", ".join(self.variables)) from None
        self._access = str(token)
        self.exchanges += 1


def _error_status(resp: Any) -> str:
    """`` (BAD_REFRESH_TOKEN)``: the error code of a token endpoint's JSON answer, if any."""
    try:
        body: Any = resp.json()
    except ValueError:
        return ""
    code = (body.get("status") or body.get("error")) if isinstance(body, dict) else None
    return f" ({code})" if isinstance(code, str) and code.isascii() and len(code) < 64 else ""
