"""Warehouse tables of the campaigns source (seed 002; names are contracts, DESIGN.md §4).

``clients``, ``vendors``, ``campaign_groups``, ``spotify_campaigns`` and ``campaign_playlists``.
Ids of clients, vendors, groups and campaigns are UUID strings derived from the row's natural
key (``uuid5``), so the same name gives the same id on every machine and every run, a dry run
can link campaigns to clients it has not written, and no id lookup is needed before a load.
A campaign keeps the id it was first given even when its name changes (the sync matches an
existing campaign by name OR by track id, then writes under the existing id).

Column ownership (DESIGN.md §2): the CSV sync writes only the columns it owns; ``sfa_url``
and ``created_at`` are ``fill_only`` (written while NULL, never overwritten); ``clients.phone``
/ ``contact_person`` and ``vendors.contact_person`` are never written by the CSV (hand-entered).
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from ...engine.schema import audit_columns, natural_key_constraint

metadata = sa.MetaData()

#: Namespace of the uuid5 ids of this source.
ID_NAMESPACE = uuid.UUID("6f0a1c52-9a4e-4d4f-a0f5-2c3f0d6e0a02")

#: JSON everywhere, JSONB on PostgreSQL (``json`` has no equality operator, and the upsert
#: compares old and new values).
JSON = sa.JSON().with_variant(JSONB(), "postgresql")

#: The normalised statuses (seed 002 "Status Breakdown").
STATUSES = ("Active", "Complete", "Cancelled", "Unreleased", "Other")


def make_id(kind: str, key: str) -> str:
    """The stable id (UUID string) of a ``kind`` (``client``, ``vendor``, ``group``,
    ``campaign``) with natural key ``key``."""
    return str(uuid.uuid5(ID_NAMESPACE, f"{kind}:{key}"))


clients = sa.Table(
    "clients", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name_key", sa.String(255), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("emails", JSON, nullable=True),
    sa.Column("phone", sa.String(32), nullable=True),
    sa.Column("contact_person", sa.Text, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
    *audit_columns(),
    natural_key_constraint("clients", "name_key"),
)

vendors = sa.Table(
    "vendors", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name_key", sa.String(255), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("email", sa.String(320), nullable=True),
    sa.Column("emails", JSON, nullable=True),
    sa.Column("contact_person", sa.Text, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
    *audit_columns(),
    natural_key_constraint("vendors", "name_key"),
)

campaign_groups = sa.Table(
    "campaign_groups", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name_key", sa.String(512), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("artist", sa.Text, nullable=True),
    sa.Column("client_id", sa.String(36), sa.ForeignKey("clients.id"), nullable=True),
    sa.Column("song_count", sa.Integer, nullable=False),
    sa.Column("sale_price", sa.Numeric(14, 2), nullable=True),
    sa.Column("status", sa.String(16), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
    *audit_columns(),
    natural_key_constraint("campaign_groups", "name_key"),
)

spotify_campaigns = sa.Table(
    "spotify_campaigns", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("campaign_key", sa.String(512), nullable=False),   # normalised "artist - song"
    sa.Column("campaign", sa.Text, nullable=False),             # "Artist - Song Name"
    sa.Column("artist", sa.Text, nullable=True),
    sa.Column("song", sa.Text, nullable=True),
    sa.Column("group_id", sa.String(36), sa.ForeignKey("campaign_groups.id"), nullable=True),
    sa.Column("client", sa.Text, nullable=True),
    sa.Column("client_id", sa.String(36), sa.ForeignKey("clients.id"), nullable=True),
    sa.Column("goal", sa.Integer, nullable=True),
    sa.Column("remaining", sa.Integer, nullable=True),
    sa.Column("daily", sa.Integer, nullable=True),
    sa.Column("weekly", sa.Integer, nullable=True),
    sa.Column("salesperson", sa.Text, nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("status_raw", sa.Text, nullable=True),
    sa.Column("url", sa.Text, nullable=True),                   # canonical https://open.spotify.com/track/<id>
    sa.Column("url_raw", sa.Text, nullable=True),
    sa.Column("track_id", sa.String(32), nullable=True),
    sa.Column("sfa_url", sa.Text, nullable=True),               # fill_only: hand-entered values survive
    sa.Column("sfa_error", sa.Text, nullable=True),             # why SFA resolution failed (owned by the SFA stage)
    sa.Column("vendor", sa.Text, nullable=True),
    sa.Column("vendor_id", sa.String(36), sa.ForeignKey("vendors.id"), nullable=True),
    sa.Column("start_date", sa.Date, nullable=True),
    sa.Column("sale_price", sa.Numeric(14, 2), nullable=True),
    sa.Column("paid_vendor", sa.Boolean, nullable=True),
    sa.Column("curator_status", sa.Text, nullable=True),
    sa.Column("playlists", sa.Text, nullable=True),
    sa.Column("client_email", JSON, nullable=True),          # list of lower-cased emails
    sa.Column("vendor_email", sa.Text, nullable=True),
    sa.Column("notes", sa.Text, nullable=True),
    sa.Column("last_modified", sa.Date, nullable=True),
    sa.Column("sp_vendor_updates", sa.Text, nullable=True),
    sa.Column("invoice", sa.Text, nullable=True),
    sa.Column("update_client", sa.Text, nullable=True),
    sa.Column("playlist_links", sa.Text, nullable=True),
    sa.Column("vendor_cost", sa.Numeric(14, 2), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
    *audit_columns(),
    natural_key_constraint("spotify_campaigns", "id"),
    sa.UniqueConstraint("campaign_key", name="uq_spotify_campaigns_campaign_key"),
)
sa.Index("ix_spotify_campaigns_track_id", spotify_campaigns.c.track_id)

campaign_playlists = sa.Table(
    "campaign_playlists", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("campaign_id", sa.String(36), sa.ForeignKey("spotify_campaigns.id"), nullable=False),
    sa.Column("track_id", sa.String(32), nullable=False),
    sa.Column("playlist_key", sa.String(512), nullable=False),  # normalised name + curator
    sa.Column("playlist_name", sa.Text, nullable=False),
    sa.Column("playlist_curator", sa.Text, nullable=True),
    sa.Column("playlist_type", sa.String(16), nullable=False),  # algorithmic | editorial | vendor
    sa.Column("streams_28d", sa.BigInteger, nullable=True),
    sa.Column("streams_7d", sa.BigInteger, nullable=True),
    sa.Column("streams_12m", sa.BigInteger, nullable=True),
    sa.Column("date_added", sa.Date, nullable=True),
    sa.Column("scraped_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=True),  # fill_only
    *audit_columns(),
    natural_key_constraint("campaign_playlists", "campaign_id", "playlist_key"),
)
