"""The Genius MySQL source tables themselves (``crm/SEED_SYSTEM.md`` §2), as SQLAlchemy tables
built from the specs of ``db_streams.py``: source names (``user_data.user_id``,
``lead.lead_id``), the source's types (``DATETIME``, ``DATE``, ``TIME``, ``DECIMAL(14,2)``,
``tinyint(1)`` booleans), a primary key on the key, an index on ``(updated_at, key)`` where the
table has a cursor, and the columns the sync never reads (``user_data.ssn``).

Used to build the demo's SQLite copy (``data/crm/genius/db/``) and the tests' and benchmark's
MariaDB databases; never used against the real Genius database (the sync only reads it).
Prospect names are ``latin1`` columns on MySQL (as in older Genius installs), so reading them
through a ``utf8mb4`` session is exercised.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from .db_streams import STREAMS

#: Source columns that exist at the source but are never read (``SqlStream.exclude``).
EXTRA_COLUMNS = {"user_data": (("ssn", sa.String(11)),)}
#: ``(table, column)`` stored as ``latin1`` on MySQL.
LATIN1 = {("prospect", "first_name"), ("prospect", "last_name")}


def _type(table: str, column: str, type_: sa.types.TypeEngine) -> sa.types.TypeEngine:
    if (table, column) in LATIN1:
        return sa.String(100).with_variant(mysql.VARCHAR(100, charset="latin1"), "mysql")
    if isinstance(type_, sa.BigInteger):
        return sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    if isinstance(type_, sa.DateTime):
        # MySQL: plain DATETIME as Genius has it (Dagster's own storage makes sa.DateTime compile to
        # DATETIME(6) on MySQL once it is imported); SQLite: text as MySQL prints it (a zero date fits)
        return sa.DateTime().with_variant(mysql.DATETIME(), "mysql").with_variant(sa.String(26), "sqlite")
    return type_


def source_metadata(prefix: str = "") -> sa.MetaData:
    """A fresh ``MetaData`` with every Genius source table (named ``prefix + <source table>``)."""
    md = sa.MetaData()
    for st in STREAMS:
        name = prefix + st.source_table
        cols = [sa.Column(st.source_column(w), _type(st.source_table, st.source_column(w), st.table.c[w].type),
                          primary_key=w in st.key, autoincrement=False)
                for w in st.columns]
        cols += [sa.Column(c, t) for c, t in EXTRA_COLUMNS.get(st.source_table, ())]
        t = sa.Table(name, md, *cols, mysql_charset="utf8mb4")
        if st.cursor:
            sa.Index(f"ix_{name}_{st.cursor}", t.c[st.cursor], *[t.c[k] for k in st.source_key])
    return md
