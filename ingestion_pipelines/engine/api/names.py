"""The names of one system's API sync, derived in one place (contracts: the UI, ``ingest
sync-<system>-*``, ``dagster job execute -j``, dagster.yaml's run-tag limit, ``sync_state``).
Imports nothing of Dagster, so the command line reads it without loading the code location.

:class:`ApiNames` ``(system, streams)`` gives, per stream (``marketing-sources``: as in the
command; ``-`` becomes ``_`` where Dagster needs an identifier):

* asset ``<system>/<stream_snake>`` (``asset_prefix`` goes before the stream part, for a
  system whose other method already owns ``<system>/<stream>``: Genius' DB sync);
* job ``<system>_<stream_snake>``; command ``sync-<system>-<stream>``;
* ``sync_state`` / ``sync_history``: source ``<system>``, stream ``<stream>``;

and for the system: group ``<system>``, multi-asset ``<system>_sync``, job ``<system>_all``,
command ``sync-<system>-all``, schedules ``<system>_incremental_schedule`` (every 15 min) and
``<system>_full_schedule`` (nightly, ``full=True``), resource key ``<system>`` (``prefix``
replaces ``<system>`` in the jobs, schedules, multi-asset and resource key; ``sync_source`` in
``sync_state``: for a system whose other method owns those names) and run tag
``<system>/account`` = ``account`` (dagster.yaml's ``tag_concurrency_limits`` gives each value
one run at a time, so two syncs of one account never share its rate limit unknowingly).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ApiNames:
    """The names of ``system``'s API sync (module docstring). ``streams``: in the order the
    ``_all`` job runs them; ``account``: the run tag's value and the rate budget's name;
    ``asset_prefix``: put before each stream's asset name (``api_``: ``genius/api_users``);
    ``prefix``: the identifier prefix of the jobs, schedules, multi-asset and resource key
    (default ``system``; ``genius_api``: ``genius_api_users``, ``genius_api_all``);
    ``sync_source``: the ``sync_state`` source (default ``system``; ``genius_api``)."""

    system: str
    streams: tuple[str, ...]
    account: str = "default"
    asset_prefix: str = ""
    prefix: str = ""
    sync_source: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "streams", tuple(self.streams))
        if len(set(self.streams)) != len(self.streams) or "all" in self.streams:
            raise ValueError(f"{self.system}: stream names must be unique and not 'all'")

    @staticmethod
    def snake(stream: str) -> str:
        """``marketing-sources`` -> ``marketing_sources``."""
        return stream.replace("-", "_")

    # -- the system --------------------------------------------------------------------------
    @property
    def group(self) -> str:
        return self.system

    @property
    def ident(self) -> str:
        """The identifier prefix: ``prefix`` or ``system``."""
        return self.prefix or self.system

    @property
    def source(self) -> str:
        """``sync_state.source`` / ``sync_history.source``: ``sync_source`` or ``system``."""
        return self.sync_source or self.system

    @property
    def resource(self) -> str:
        """The resource key of the account (an :class:`~.definitions.ApiResource`): ``<prefix>``."""
        return self.ident

    @property
    def asset_name(self) -> str:
        """The multi-asset (one step) syncing the selected streams: ``<prefix>_sync``."""
        return f"{self.ident}_sync"

    @property
    def all_job(self) -> str:
        return f"{self.ident}_all"

    @property
    def incremental_schedule(self) -> str:
        return f"{self.ident}_incremental_schedule"

    @property
    def full_schedule(self) -> str:
        return f"{self.ident}_full_schedule"

    @property
    def account_tag(self) -> str:
        """The run tag naming the account: ``<system>/account``."""
        return f"{self.system}/account"

    @property
    def budget(self) -> str:
        """The rate budget's key (shared by every stream and run of the account)."""
        return f"{self.system}-{self.account}"

    # -- one stream (or ``all`` where it says so) ----------------------------------------------
    def asset_path(self, stream: str) -> tuple[str, str]:
        """``(<system>, <asset_prefix><stream_snake>)``."""
        return (self.system, self.asset_prefix + self.snake(stream))

    def job(self, stream: str) -> str:
        """``<prefix>_<stream_snake>`` (``all``: :attr:`all_job`)."""
        return self.all_job if stream == "all" else f"{self.ident}_{self.snake(stream)}"

    def command(self, stream: str) -> str:
        """The ``ingest`` command of one stream or ``all``: ``sync-<system>-<stream>``."""
        return f"sync-{self.system}-{stream}"
