"""The code location: every source's ``Definitions`` merged with the shared resources.

Each source folder exports ``defs`` from its own ``definitions.py``; adding a source is one
line here. ``dagster dev`` / ``dagster definitions validate`` load this module
(``[tool.dagster] module_name``).
"""

from dagster import Definitions

from .resources.defaults import shared_resources
from .sources.artists.definitions import defs as artists_defs
from .sources.campaigns.definitions import defs as campaigns_defs
from .sources.imports.definitions import defs as imports_defs
from .sources.tenants.definitions import defs as tenants_defs

defs = Definitions.merge(
    artists_defs,
    tenants_defs,
    campaigns_defs,
    imports_defs,
    Definitions(resources=shared_resources()),
)
