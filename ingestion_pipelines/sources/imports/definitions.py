"""Definitions of the imports source (group `imports`): filled in by its issue."""

from dagster import Definitions

defs = Definitions()
