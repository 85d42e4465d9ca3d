"""The code location: every source's ``Definitions`` merged with the shared resources.

Each source folder exports ``defs`` from its own ``definitions.py``; adding a source is one
line in ``SOURCES``. ``dagster dev`` / ``dagster definitions validate`` load this module
(``[tool.dagster] module_name``); it must hold exactly one ``Definitions`` at module scope.
"""

from dagster import Definitions

from .resources.defaults import shared_resources
from .sources.artists import definitions as artists
from .sources.campaigns import definitions as campaigns
from .sources.imports import definitions as imports
from .sources.tenants import definitions as tenants

SOURCES = (artists, tenants, campaigns, imports)

defs = Definitions.merge(
    *(source.defs for source in SOURCES),
    Definitions(resources=shared_resources()),
)
