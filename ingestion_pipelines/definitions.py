"""The code location: every source's ``Definitions`` merged with the shared resources.

Each source folder exports ``defs`` from its own ``definitions.py``; adding a source is one
line in ``SOURCES``. ``dagster dev`` / ``dagster definitions validate`` load this module
(``[tool.dagster] module_name``); it must hold exactly one ``Definitions`` at module scope.
"""

import warnings

from dagster import BetaWarning, Definitions, in_process_executor, with_source_code_references
from dagster_shared.record import copy

from .resources.defaults import shared_resources
from .sources.artists import definitions as artists
from .sources.campaigns import definitions as campaigns
from .sources.crm import definitions as crm
from .sources.imports import definitions as imports
from .sources.tenants import definitions as tenants

SOURCES = (artists, tenants, campaigns, imports, crm)

# Every run executes its steps in one process (jobs that name no executor, and the UI's
# "Materialize", which runs the implicit asset job): the steps here are Python work that
# keeps the CPUs busy on its own (parser + writer threads), while Dagster's default
# multiprocess executor starts a fresh process per step, each importing the code location
# (~1.5 s of CPU, ~140 MB): one small tenant's six steps took 14.5 s that way, 4.6 s in
# process. Runs still go in parallel (one per tenant, dagster.yaml's run queue).
def _code_location() -> Definitions:
    """The sources' definitions merged with the shared resources and executor; every asset
    links to the file and line that defines it (the UI's code references: Dagster's
    ``with_source_code_references`` over the merged assets, so a new source gets them too)."""
    merged = Definitions.merge(
        *(source.defs for source in SOURCES),
        Definitions(resources=shared_resources(), executor=in_process_executor),
    )
    with warnings.catch_warnings():  # Dagster marks code references beta: no warning per asset on every load
        warnings.simplefilter("ignore", BetaWarning)
        return copy(merged, assets=with_source_code_references(list(merged.assets or [])))


defs = _code_location()
