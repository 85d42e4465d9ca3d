"""HttpClient: every HTTP call the product makes to an API or a URL found in data.

* A ``requests.Session`` with a connect/read timeout on every call.
* Retries with exponential backoff on connection errors, 429 and 5xx, honouring
  ``Retry-After`` — urllib3's ``Retry`` does it (no hand-written loop).
* A minimum interval between requests (``rate_limit_per_second``), shared by threads.
* Auth: none, an API key header, a bearer token, HTTP Basic, or OAuth2 with a refresh token
  (the access token is refreshed once on a 401 and when it expires).
* :meth:`HttpClient.download` guards URLs that come from data (DESIGN.md §9): http/https only;
  private, loopback, link-local, multicast and reserved addresses refused unless
  ``allow_private_addresses``; every redirect hop re-checked; a size limit enforced while
  streaming; the ``Content-Type`` checked against an allow-list.

Secrets are fields fed by ``dagster.EnvVar``; they are never logged, and ``repr`` of the
resource hides them.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterable, Literal
from urllib.parse import urljoin, urlparse

import requests
from dagster import ConfigurableResource
from pydantic import Field, PrivateAttr
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry


class DownloadRefused(Exception):
    """A URL or its response broke a download rule (scheme, address, size, type, status).

    ``reason`` is a short human-readable message safe for logs (no credentials).
    """

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class Download:
    """A downloaded body: ``content`` (bytes), ``content_type`` (header, lower-cased, no
    parameters), ``url`` (final URL after redirects), ``size`` (bytes)."""

    content: bytes
    content_type: str
    url: str

    @property
    def size(self) -> int:
        return len(self.content)


def check_address_allowed(host: str, allow_private: bool) -> None:
    """Raise :class:`DownloadRefused` when ``host`` resolves to a non-public address.

    Every address the name resolves to must be global (RFC 1918, loopback 127/8 and ::1,
    link-local 169.254/16 incl. cloud metadata, multicast, reserved and unspecified are
    refused) unless ``allow_private``.
    """
    if not host:
        raise DownloadRefused("URL has no host")
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror as e:
        raise DownloadRefused(f"cannot resolve host {host!r}: {e.strerror or e}") from None
    if allow_private:
        return
    for info in infos:
        addr = ipaddress.ip_address(info[4][0].split("%")[0])
        if getattr(addr, "ipv4_mapped", None):
            addr = addr.ipv4_mapped
        if not addr.is_global or addr.is_multicast:
            raise DownloadRefused(f"address {addr} of host {host!r} is not public (private/loopback/link-local)")


class HttpClient(ConfigurableResource):
    """An HTTP client for APIs and downloads (see the module docstring for the rules).

    Fields: ``base_url`` (joined with relative paths), ``timeout_seconds`` (connect and
    read, seconds), ``max_retries``, ``backoff_factor`` (seconds; sleeps ``factor * 2**n``),
    ``max_backoff_seconds``, ``rate_limit_per_second`` (0 = no limit), ``auth_type``,
    ``api_key`` / ``api_key_header``, ``bearer_token``, ``username`` / ``password``, OAuth2
    ``token_url`` / ``client_id`` / ``client_secret`` / ``refresh_token``,
    ``allow_private_addresses`` (downloads), ``max_download_bytes`` (bytes),
    ``user_agent``.
    """

    base_url: str | None = None
    timeout_seconds: float = 30.0
    max_retries: int = 5
    backoff_factor: float = 0.5
    max_backoff_seconds: float = 60.0
    rate_limit_per_second: float = 0.0
    auth_type: Literal["none", "api_key", "bearer", "basic", "oauth2"] = "none"
    api_key: str | None = None
    api_key_header: str = "X-API-Key"
    bearer_token: str | None = None
    username: str | None = None
    password: str | None = None
    token_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    refresh_token: str | None = None
    allow_private_addresses: bool = Field(default=False, description="Allow downloads from private/loopback addresses (tests, intranets).")
    max_download_bytes: int = 10 * 1024 * 1024
    user_agent: str = "ingestion_pipelines/0.1"

    _session: requests.Session | None = PrivateAttr(default=None)
    _lock: Any = PrivateAttr(default_factory=threading.Lock)
    _next_slot: float = PrivateAttr(default=0.0)
    _access_token: str | None = PrivateAttr(default=None)
    _token_expiry: float = PrivateAttr(default=0.0)

    def __repr__(self) -> str:  # never show secrets
        return f"HttpClient(base_url={self.base_url!r}, auth_type={self.auth_type!r})"

    # -- session ----------------------------------------------------------------------
    def retry_policy(self) -> Retry:
        """urllib3 ``Retry``: connection errors, 429 and 5xx, ``Retry-After`` honoured, all methods."""
        return Retry(
            total=self.max_retries, connect=self.max_retries, read=self.max_retries,
            status=self.max_retries, backoff_factor=self.backoff_factor, backoff_max=self.max_backoff_seconds,
            status_forcelist=(429, 500, 502, 503, 504), allowed_methods=None,
            respect_retry_after_header=True, raise_on_status=False,
        )

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            s = requests.Session()
            adapter = HTTPAdapter(max_retries=self.retry_policy(), pool_connections=16, pool_maxsize=16)
            s.mount("http://", adapter)
            s.mount("https://", adapter)
            s.headers["User-Agent"] = self.user_agent
            s.trust_env = False  # no proxies/netrc picked up from the environment
            self._session = s
        return self._session

    def _throttle(self) -> None:
        if self.rate_limit_per_second <= 0:
            return
        with self._lock:
            now = time.monotonic()
            wait = self._next_slot - now
            self._next_slot = max(now, self._next_slot) + 1.0 / self.rate_limit_per_second
        if wait > 0:
            time.sleep(wait)

    # -- auth -------------------------------------------------------------------------
    def _refresh_oauth(self) -> str:
        from dagster import Failure

        if not (self.token_url and self.client_id and self.client_secret and self.refresh_token):
            raise Failure("OAuth2 is not configured: token URL, client id, client secret and refresh token are required")
        resp = self.session.post(self.token_url, data={
            "grant_type": "refresh_token", "client_id": self.client_id,
            "client_secret": self.client_secret, "refresh_token": self.refresh_token,
        }, timeout=self.timeout_seconds)
        if resp.status_code != 200:
            raise Failure(f"OAuth2 token refresh failed with HTTP {resp.status_code}")
        body = resp.json()
        self._access_token = body["access_token"]
        self._token_expiry = time.monotonic() + float(body.get("expires_in", 1800)) - 60
        return self._access_token

    def _auth_headers(self) -> dict[str, str]:
        if self.auth_type == "api_key" and self.api_key:
            return {self.api_key_header: self.api_key}
        if self.auth_type == "bearer" and self.bearer_token:
            return {"Authorization": f"Bearer {self.bearer_token}"}
        if self.auth_type == "oauth2":
            token = self._access_token or self.bearer_token
            if token is None or (self._access_token and time.monotonic() >= self._token_expiry):
                token = self._refresh_oauth()
            return {"Authorization": f"Bearer {token}"}
        return {}

    # -- API calls ----------------------------------------------------------------------
    def url(self, path: str) -> str:
        return urljoin(self.base_url.rstrip("/") + "/", path.lstrip("/")) if self.base_url and not path.startswith(("http://", "https://")) else path

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One API call (retried per :meth:`retry_policy`); returns the final response.

        A 401 under OAuth2 refreshes the token once and repeats the call. Raises
        ``requests.RequestException`` when the connection keeps failing.
        """
        kwargs.setdefault("timeout", self.timeout_seconds)
        auth = (self.username or "", self.password or "") if self.auth_type == "basic" else None
        headers = {**self._auth_headers(), **kwargs.pop("headers", {})}
        self._throttle()
        resp = self.session.request(method, self.url(path), headers=headers, auth=auth, **kwargs)
        if resp.status_code == 401 and self.auth_type == "oauth2" and self.refresh_token:
            headers["Authorization"] = f"Bearer {self._refresh_oauth()}"
            self._throttle()
            resp = self.session.request(method, self.url(path), headers=headers, auth=auth, **kwargs)
        return resp

    def get_json(self, path: str, **kwargs: Any) -> Any:
        """GET ``path`` and decode JSON; raises ``requests.HTTPError`` on a 4xx/5xx answer."""
        resp = self.request("GET", path, **kwargs)
        resp.raise_for_status()
        return resp.json()

    # -- guarded downloads ----------------------------------------------------------------
    def download(self, url: str, *, allowed_types: Iterable[str] = ("image/",),
                 max_bytes: int | None = None, max_redirects: int = 5) -> Download:
        """Download a URL that came from data, under the guard rules (module docstring).

        ``allowed_types``: content-type prefixes accepted (``"image/"``); ``max_bytes``
        (default ``max_download_bytes``). Raises :class:`DownloadRefused` with the reason.
        """
        limit = max_bytes or self.max_download_bytes
        allowed = tuple(allowed_types)
        current = url
        for _hop in range(max_redirects + 1):
            parsed = urlparse(current)
            if parsed.scheme not in ("http", "https"):
                raise DownloadRefused(f"scheme {parsed.scheme or '(none)'!r} not allowed (http/https only)")
            check_address_allowed(parsed.hostname or "", self.allow_private_addresses)
            self._throttle()
            try:
                resp = self.session.get(current, stream=True, allow_redirects=False, timeout=self.timeout_seconds)
            except requests.RequestException as e:
                raise DownloadRefused(f"download failed: {type(e).__name__}") from None
            with resp:
                if resp.is_redirect or resp.status_code in (301, 302, 303, 307, 308):
                    current = urljoin(current, resp.headers.get("Location", ""))
                    continue
                if resp.status_code != 200:
                    raise DownloadRefused(f"HTTP {resp.status_code}")
                ctype = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
                if allowed and not ctype.startswith(allowed):
                    raise DownloadRefused(f"content type {ctype or '(none)'!r} not allowed (expected {', '.join(allowed)})")
                declared = resp.headers.get("Content-Length")
                if declared and declared.isdigit() and int(declared) > limit:
                    raise DownloadRefused(f"too large: {int(declared):,} bytes > limit {limit:,}")
                buf = bytearray()
                for chunk in resp.iter_content(64 * 1024):
                    buf.extend(chunk)
                    if len(buf) > limit:
                        raise DownloadRefused(f"too large: over the limit of {limit:,} bytes")
                return Download(content=bytes(buf), content_type=ctype, url=current)
        raise DownloadRefused(f"more than {max_redirects} redirects")
