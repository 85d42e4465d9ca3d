"""The campaigns source (see its definitions.py)."""
