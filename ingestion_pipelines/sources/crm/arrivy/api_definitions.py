"""Definitions of the Arrivy API sync (group ``arrivy``; DESIGN.md §10), built by the engine's
:func:`~ingestion_pipelines.engine.api.definitions.api_definitions` from ``api_streams.STREAMS``:
the ``arrivy_sync`` multi-asset (``arrivy/tasks``, ``arrivy/bookings``, ``arrivy/entities``,
``arrivy/groups``), jobs ``arrivy_<stream>`` / ``arrivy_all`` (tag ``arrivy/account``), the
stopped ``arrivy_incremental_schedule`` / ``arrivy_full_schedule`` and the ``arrivy`` resource.

:class:`ArrivyResource`: ``ARRIVY_API_URL`` (default ``https://app.arrivy.com/api``),
``ARRIVY_AUTH_KEY`` sent as ``X-Auth-Key`` and ``ARRIVY_API_KEY`` as ``X-Auth-Token``
(``crm/SEED_SYSTEM.md`` §7); variables set at load time are ``EnvVar`` s (names in the UI), a
missing one fails the run before any request, naming it.
"""

from __future__ import annotations

from typing import ClassVar

from ....engine.api import ApiKeyHeader
from ....engine.api.definitions import ApiResource, api_definitions
from .api_names import NAMES
from .api_streams import STREAMS


class ArrivyResource(ApiResource):
    """One Arrivy account: ``base_url``, ``auth_key`` (``X-Auth-Key``), ``api_key``
    (``X-Auth-Token``), and the engine's budget and retry fields."""

    SYSTEM: ClassVar[str] = "arrivy"
    VARIABLES: ClassVar[dict[str, tuple[str, ...]]] = {
        "base_url": ("ARRIVY_API_URL",), "auth_key": ("ARRIVY_AUTH_KEY",), "api_key": ("ARRIVY_API_KEY",)}
    DEFAULT_BASE_URL: ClassVar[str | None] = "https://app.arrivy.com/api"

    auth_key: str | None = None
    api_key: str | None = None

    def auth(self) -> ApiKeyHeader:
        auth_key, api_key = self.required("auth_key", "api_key")
        return ApiKeyHeader({"X-Auth-Key": auth_key, "X-Auth-Token": api_key},
                            variables=("ARRIVY_AUTH_KEY", "ARRIVY_API_KEY"))


defs = api_definitions(NAMES, STREAMS, ArrivyResource.from_env(account=NAMES.account))
