"""The imports source (see its definitions.py)."""
