"""The engine's API machinery (DESIGN.md §10), shared by every API source: a stream is a spec.

* :mod:`.client` — :class:`Endpoint` (an endpoint spec as data), :class:`ApiClient` (the one
  request loop: budget, auth, retries with urllib3 ``Retry``, errors never empty pages),
  :class:`Page`, :class:`ApiError`, :class:`QuotaExhausted`, :func:`prefetch` (read ahead on a thread).
* :mod:`.auth` — :class:`BearerToken`, :class:`ApiKeyHeader`, :class:`HttpBasic`,
  :class:`OAuth2Refresh`, :class:`SignedHeader`, :class:`TokenExchange`; :class:`AuthRefused`.
* :mod:`.paginators` — :class:`JsonCursor`, :class:`NextLink`, :class:`AtomNext`,
  :class:`Offset`, :class:`PageNumber`, :class:`AfterId`; :func:`same_origin` (next links).
* :mod:`.budget` — :class:`RateBudget`: a sliding-window budget per account, shared across
  streams, threads and processes (a file under the state dir, ``filelock``).
* :mod:`.incremental` — :func:`plan`, :func:`full_watermark`, :class:`Windows`,
  :class:`StreamWriter` (batches and their watermark in one transaction).
* :mod:`.streams` — :class:`~.streams.RestStream` (a stream as data) and
  :func:`~.streams.sync_stream`, the one runner of every declarative API stream;
  :mod:`.names` — :class:`~.names.ApiNames` (Dagster-free); :mod:`.definitions` — the Dagster
  factory :func:`~.definitions.api_definitions` and :class:`~.definitions.ApiResource` (imported
  from their modules: they pull in Dagster and the profiles).
* :mod:`.odata` — the OData reader (Atom / V2 / V4 JSON) for :attr:`Endpoint.decode`.
"""

from .auth import ApiKeyHeader, Auth, AuthRefused, BearerToken, HttpBasic, OAuth2Refresh, SignedHeader, TokenExchange
from .budget import RateBudget
from .client import ApiClient, ApiError, Endpoint, Page, QuotaExhausted, default_retry, prefetch
from .incremental import Plan, StreamWriter, Windows, full_watermark, plan
from .paginators import (AfterId, AtomNext, JsonCursor, NextLink, Offset, PageNumber, Paginator, Request, dig,
                         same_origin)

__all__ = ["AfterId", "ApiClient", "ApiError", "ApiKeyHeader", "AtomNext", "Auth", "AuthRefused", "BearerToken",
           "Endpoint", "HttpBasic", "JsonCursor", "NextLink", "OAuth2Refresh", "Offset", "Page", "PageNumber",
           "Paginator", "Plan", "QuotaExhausted", "RateBudget", "Request", "SignedHeader", "StreamWriter", "TokenExchange",
           "Windows", "default_retry", "dig", "full_watermark", "plan", "prefetch", "same_origin"]
