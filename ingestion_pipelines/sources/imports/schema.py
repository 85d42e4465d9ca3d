"""Warehouse tables of the imports source (DESIGN.md §4).

``import_jobs`` (the contract): one row per import, with live progress. ``status`` moves
``queued -> running -> succeeded | failed | cancelled``; ``cancelling`` is the request flag
that ``ingest import-cancel`` sets and the running import honours at its next batch boundary.
``success_file`` / ``failed_file`` hold JSON ``{"uri": ..., "url": ..., "rows": n}``.

``employees`` is the table of the seed's example importer (upsert by email).
"""

import sqlalchemy as sa

from ...engine.schema import audit_columns, natural_key_constraint

metadata = sa.MetaData()

JOB_STATUSES = ("queued", "running", "cancelling", "succeeded", "failed", "cancelled")
TERMINAL_STATUSES = ("succeeded", "failed", "cancelled")

import_jobs = sa.Table(
    "import_jobs",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("importer", sa.String(128), nullable=False),
    sa.Column("file", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, server_default="queued"),
    sa.Column("total_rows", sa.BigInteger, nullable=True),
    sa.Column("processed_rows", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("success_count", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("failure_count", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("percentage", sa.Float, nullable=True),
    sa.Column("options", sa.JSON, nullable=True),
    sa.Column("success_file", sa.JSON, nullable=True),
    sa.Column("failed_file", sa.JSON, nullable=True),
    sa.Column("error_message", sa.Text, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("run_id", sa.String(64), nullable=True),
    sa.Index("ix_import_jobs_status", "status"),
)

employees = sa.Table(
    "employees",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    *audit_columns(),
    natural_key_constraint("employees", "email"),
)
