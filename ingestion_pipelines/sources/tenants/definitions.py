"""Definitions of the tenants source (group `tenants`): filled in by its issue."""

from dagster import Definitions

defs = Definitions()
