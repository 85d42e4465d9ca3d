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

import importlib
from typing import TYPE_CHECKING, Any

#: name -> the submodule defining it. Loaded on first use (PEP 562), so that importing a light
#: submodule (``names``: read by the ``ingest`` command line) pays for nothing else here.
_EXPORTS = {
    **dict.fromkeys(("ApiKeyHeader", "Auth", "AuthRefused", "BearerToken", "HttpBasic", "OAuth2Refresh", "SignedHeader",
                     "TokenExchange"), "auth"),
    "RateBudget": "budget",
    **dict.fromkeys(("ApiClient", "ApiError", "Endpoint", "Page", "QuotaExhausted", "default_retry", "prefetch"), "client"),
    **dict.fromkeys(("Plan", "StreamWriter", "Windows", "full_watermark", "plan"), "incremental"),
    **dict.fromkeys(("AfterId", "AtomNext", "JsonCursor", "NextLink", "Offset", "PageNumber", "Paginator", "Request", "dig",
                     "same_origin"), "paginators"),
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from .auth import ApiKeyHeader, Auth, AuthRefused, BearerToken, HttpBasic, OAuth2Refresh, SignedHeader, TokenExchange
    from .budget import RateBudget
    from .client import ApiClient, ApiError, Endpoint, Page, QuotaExhausted, default_retry, prefetch
    from .incremental import Plan, StreamWriter, Windows, full_watermark, plan
    from .paginators import (AfterId, AtomNext, JsonCursor, NextLink, Offset, PageNumber, Paginator, Request, dig,
                             same_origin)
