"""Definitions of the MarketSharp API sync (group ``marketsharp``; DESIGN.md §10), built by the
engine's :func:`~ingestion_pipelines.engine.api.definitions.api_definitions` from
``api_streams.STREAMS``: the ``marketsharp_sync`` multi-asset (one asset per entity set), jobs
``marketsharp_<stream>`` / ``marketsharp_all`` (tag ``marketsharp/account``), the stopped
``marketsharp_incremental_schedule`` / ``marketsharp_full_schedule`` and the ``marketsharp`` resource.

:class:`MarketSharpResource`: ``MARKETSHARP_BASE_URL`` (default
``https://api4.marketsharpm.com/WcfDataService.svc``) and either the signed header
(``MARKETSHARP_COMPANY_ID``, ``MARKETSHARP_API_KEY``, ``MARKETSHARP_SECRET_KEY``:
:func:`signature`, made afresh for every request and retry) or HTTP Basic
(``MARKETSHARP_USERNAME`` / ``MARKETSHARP_PASSWORD``, as seed 004 configured it). A missing or
unusable variable fails the run before any request, naming it; credentials the service
refuses (401) fail the stream naming the variables, never their values.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Any, ClassVar

from dagster import Failure

from ....engine.api import ApiClient, HttpBasic, SignedHeader
from ....engine.api.definitions import ApiResource, api_definitions
from .api_names import NAMES
from .api_streams import STREAMS

SIGNED_VARIABLES = ("MARKETSHARP_COMPANY_ID", "MARKETSHARP_API_KEY", "MARKETSHARP_SECRET_KEY")
BASIC_VARIABLES = ("MARKETSHARP_USERNAME", "MARKETSHARP_PASSWORD")


def signature(company_id: str, api_key: str, secret: bytes, epoch: int) -> str:
    """The ``Authorization`` value ``companyId:apiKey:epoch:base64(HMAC-SHA256(secret,
    companyId + apiKey + epoch))`` (``crm/APIS.md`` §3; ``secret``: the base64-decoded
    ``MARKETSHARP_SECRET_KEY``; ``epoch``: Unix seconds)."""
    mac = hmac.new(secret, f"{company_id}{api_key}{epoch}".encode(), hashlib.sha256).digest()
    return f"{company_id}:{api_key}:{epoch}:{base64.b64encode(mac).decode()}"


class _Signed(SignedHeader):
    """The signed header; a 401 raises ``AuthRefused`` naming the variables (the engine's
    static-credential rule: a signature made afresh cannot help)."""

    variables = (*SIGNED_VARIABLES, "the clock")


class MarketSharpResource(ApiResource):
    """One MarketSharp company: ``base_url``, the signed-header trio or Basic credentials,
    ``prefer_json`` (ask ``Accept: application/json;odata=verbose``; the reader takes what the
    service answers, Atom or JSON), and the engine's budget and retry fields."""

    SYSTEM: ClassVar[str] = "marketsharp"
    VARIABLES: ClassVar[dict[str, tuple[str, ...]]] = {
        "base_url": ("MARKETSHARP_BASE_URL",), "company_id": ("MARKETSHARP_COMPANY_ID",),
        "api_key": ("MARKETSHARP_API_KEY",), "secret_key": ("MARKETSHARP_SECRET_KEY",),
        "username": ("MARKETSHARP_USERNAME",), "password": ("MARKETSHARP_PASSWORD",)}
    DEFAULT_BASE_URL: ClassVar[str | None] = "https://api4.marketsharpm.com/WcfDataService.svc"

    company_id: str | None = None
    api_key: str | None = None
    secret_key: str | None = None
    username: str | None = None
    password: str | None = None
    prefer_json: bool = False

    def auth(self) -> SignedHeader | HttpBasic:
        """The signed header when any of its variables is set (then all three are required),
        else Basic; :class:`dagster.Failure` naming the variables when neither is configured."""
        if any(self.value(f) for f in ("company_id", "api_key", "secret_key")):
            company_id, api_key, secret_key = self.required("company_id", "api_key", "secret_key")
            try:
                secret = base64.b64decode(secret_key, validate=True)
            except (binascii.Error, ValueError):
                raise Failure("marketsharp: MARKETSHARP_SECRET_KEY is not base64 (the key as MarketSharp issued it)") from None
            return _Signed("Authorization", lambda m, u, b, now: signature(company_id, api_key, secret, int(now)))
        if any(self.value(f) for f in ("username", "password")):
            username, password = self.required("username", "password")
            return HttpBasic(username, password, variables=BASIC_VARIABLES)
        raise Failure("marketsharp credentials missing: set " + ", ".join(SIGNED_VARIABLES)
                      + " (signed header), or " + " and ".join(BASIC_VARIABLES) + " (Basic)")

    def client(self, log: Any = None) -> ApiClient:
        client = super().client(log)
        client.session.headers["Accept"] = ("application/json;odata=verbose, application/atom+xml;q=0.5"
                                            if self.prefer_json else "application/atom+xml, application/xml;q=0.9")
        return client


defs = api_definitions(NAMES, STREAMS, MarketSharpResource.from_env(account=NAMES.account))
