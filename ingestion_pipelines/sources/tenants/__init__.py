"""The tenants source (see its definitions.py)."""
