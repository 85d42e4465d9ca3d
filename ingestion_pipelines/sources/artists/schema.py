"""Warehouse tables of the artists source (DESIGN.md §4): ``entities``, ``entity_roles``,
``social_media_accounts``.

Identity (documented in README.md): an entity is its ``id`` (a UUID string; kept from the
fixture when given, so an export re-imports to the same ids) and, as its natural key,
(``kind``, ``name_key``) where ``name_key`` is the display name stripped and case-folded
— so "Smiley" and " smiley " are one entity.
"""

import sqlalchemy as sa

from ...engine.schema import audit_columns, natural_key_constraint

metadata = sa.MetaData()

entities = sa.Table(
    "entities",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("kind", sa.String(2), sa.CheckConstraint("kind IN ('PF', 'PJ')", name="ck_entities_kind"), nullable=False),
    sa.Column("display_name", sa.Text, nullable=False),
    sa.Column("name_key", sa.Text, nullable=False),
    sa.Column("first_name", sa.Text, nullable=False, server_default=""),
    sa.Column("last_name", sa.Text, nullable=False, server_default=""),
    sa.Column("stage_name", sa.Text, nullable=False, server_default=""),
    sa.Column("nationality", sa.Text, nullable=False, server_default=""),
    sa.Column("gender", sa.Text, nullable=True),
    sa.Column("email", sa.Text, nullable=False, server_default=""),
    sa.Column("phone", sa.Text, nullable=False, server_default=""),
    sa.Column("address", sa.Text, nullable=False, server_default=""),
    sa.Column("city", sa.Text, nullable=False, server_default=""),
    sa.Column("state", sa.Text, nullable=False, server_default=""),
    sa.Column("zip_code", sa.Text, nullable=False, server_default=""),
    sa.Column("country", sa.Text, nullable=False, server_default=""),
    sa.Column("notes", sa.Text, nullable=False, server_default=""),
    sa.Column("profile_photo_url", sa.Text, nullable=False, server_default=""),  # as given in the fixture
    sa.Column("photo_uri", sa.Text, nullable=True),  # where the photo is stored (BlobStore URI)
    sa.Column("photo_sha256", sa.String(64), nullable=True),
    *audit_columns(),
    natural_key_constraint("entities", "kind", "name_key"),
)

entity_roles = sa.Table(
    "entity_roles",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("entity_id", sa.String(36), sa.ForeignKey("entities.id", ondelete="CASCADE"), nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("primary_role", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("is_internal", sa.Boolean, nullable=False, server_default=sa.false()),
    *audit_columns(),
    natural_key_constraint("entity_roles", "entity_id", "role"),
)

social_media_accounts = sa.Table(
    "social_media_accounts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("entity_id", sa.String(36), sa.ForeignKey("entities.id", ondelete="CASCADE"), nullable=False),
    sa.Column("platform", sa.Text, nullable=False),
    sa.Column("handle", sa.Text, nullable=False, server_default=""),
    sa.Column("url", sa.Text, nullable=False, server_default=""),
    sa.Column("display_name", sa.Text, nullable=False, server_default=""),
    sa.Column("follower_count", sa.BigInteger, sa.CheckConstraint("follower_count >= 0", name="ck_social_followers"), nullable=True),
    sa.Column("is_verified", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("is_primary", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("notes", sa.Text, nullable=False, server_default=""),
    *audit_columns(),
    natural_key_constraint("social_media_accounts", "entity_id", "platform", "handle", "url"),
)

ENTITY_FIELDS = (
    "first_name", "last_name", "stage_name", "nationality", "gender", "email", "phone", "address",
    "city", "state", "zip_code", "country", "notes",
)
