"""The source-agnostic data path: read -> map -> validate -> load -> outcomes (DESIGN.md §2).

The engine knows no source by name. Sources describe their tables (SQLAlchemy Core), their
header aliases and their per-row validation; the engine streams, validates, loads in
transactional batches, and accounts for every row.
"""
