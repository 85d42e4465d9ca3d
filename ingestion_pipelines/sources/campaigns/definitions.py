"""Definitions of the campaigns source (group `campaigns`): filled in by its issue."""

from dagster import Definitions

defs = Definitions()
