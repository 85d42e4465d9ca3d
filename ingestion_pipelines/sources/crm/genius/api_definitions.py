"""Definitions of the Genius REST API sync (group ``genius``; DESIGN.md §10), built by the
engine's :func:`~ingestion_pipelines.engine.api.definitions.api_definitions` from
:data:`.api_streams.STREAMS` and :data:`.api_names.NAMES`: the ``genius_api_sync`` multi-asset
(assets ``genius/api_<stream>``), jobs ``genius_api_<stream>`` and ``genius_api_all``, the
stopped schedules ``genius_api_incremental_schedule`` / ``genius_api_full_schedule``, and the
``genius_api`` resource (:class:`GeniusResource`); ``sync_state`` source ``genius_api``.

Credentials (DESIGN.md §10 "Variables"): ``GENIUS_BASE_URL`` (``GENIUS_API_URL`` accepted: the
seed's name), and either ``GENIUS_API_TOKEN`` (sent as a bearer token) or ``GENIUS_USERNAME`` /
``GENIUS_PASSWORD``, exchanged for an access token at ``POST <base>/api/token/`` (again once on
a 401, when it expired). None set, or a token or password the API refuses: the run fails at
once naming the variables, never their values.
"""

from __future__ import annotations

from typing import Any, ClassVar

from dagster import Failure

from ....engine.api import BearerToken, TokenExchange
from ....engine.api.definitions import ApiResource, api_definitions
from .api_names import NAMES
from .api_streams import STREAMS

TOKEN_PATH = "/api/token/"
MISSING = "Genius API credentials missing: set GENIUS_API_TOKEN, or GENIUS_USERNAME and GENIUS_PASSWORD"


class GeniusResource(ApiResource):
    """One Genius account (module docstring): ``base_url``, ``api_token`` or ``username`` /
    ``password``; a field left unset reads its variable when a run needs it."""

    SYSTEM: ClassVar[str] = "genius"
    VARIABLES: ClassVar[dict[str, tuple[str, ...]]] = {
        "base_url": ("GENIUS_BASE_URL", "GENIUS_API_URL"), "api_token": ("GENIUS_API_TOKEN",),
        "username": ("GENIUS_USERNAME",), "password": ("GENIUS_PASSWORD",)}

    api_token: str | None = None
    username: str | None = None
    password: str | None = None

    def auth(self) -> Any:
        """The token if set, else the username/password exchange; :class:`dagster.Failure`
        naming the variables when neither is complete."""
        token = self.value("api_token")
        if token:
            return BearerToken(token, variables=("GENIUS_API_TOKEN",))  # a 401: refused, naming it
        if not (self.value("username") or self.value("password")):
            raise Failure(MISSING)
        username, password = self.required("username", "password")
        return TokenExchange(self.url + TOKEN_PATH, username, password, variables=("GENIUS_USERNAME", "GENIUS_PASSWORD"))


defs = api_definitions(NAMES, STREAMS, GeniusResource.from_env())
