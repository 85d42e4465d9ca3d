"""Definitions of the campaigns source (group ``campaigns``, seed 002): assets, checks, the
jobs of ``jobs.py``, the landing sensor. Resource ``spotify``
(:class:`SpotifyResource`): credentials from ``SPOTIFY_CLIENT_ID`` / ``SPOTIFY_CLIENT_SECRET``
through ``EnvVar`` (only when set, so that loading the code location never needs them; the SFA
asset then fails fast naming the missing variable), base URL ``SPOTIFY_API_BASE_URL``, token
URL ``SPOTIFY_TOKEN_URL`` (optional; for a stand-in of the API).
"""

from __future__ import annotations

import os

from dagster import Definitions, EnvVar

from .assets import campaign_playlists_asset, campaigns_sync, integrity_report, sfa_urls
from .checks import CHECKS
from .jobs import JOBS
from .sensors import campaigns_landing_sensor
from .spotify import SpotifyResource


def spotify_resource() -> SpotifyResource:
    """The ``spotify`` resource from the ``SPOTIFY_*`` variables that are set."""
    kw: dict = {}
    for fld, var in (("client_id", "SPOTIFY_CLIENT_ID"), ("client_secret", "SPOTIFY_CLIENT_SECRET"),
                     ("api_base_url", "SPOTIFY_API_BASE_URL"), ("token_url", "SPOTIFY_TOKEN_URL")):
        if os.environ.get(var):
            kw[fld] = EnvVar(var)
    return SpotifyResource(**kw)


defs = Definitions(
    assets=[campaigns_sync, sfa_urls, campaign_playlists_asset, integrity_report],
    asset_checks=CHECKS,
    jobs=JOBS,
    sensors=[campaigns_landing_sensor],
    resources={"spotify": spotify_resource()},
)
