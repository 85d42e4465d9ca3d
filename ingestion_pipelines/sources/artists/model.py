"""The fixture format of seed 000 ("JSON Fixture Format") as pydantic record models.

A fixture is a JSON array of entity objects. Required: ``kind`` (``PF`` a physical person or
``PJ`` a legal entity; lower case accepted) and ``display_name``; ``id``, when given, must be
a UUID (it is the key). Every other field is optional and defaults as the seed says (empty
string, or null for ``gender`` and ``follower_count``).

The optional-cell rule (DESIGN.md §9; :func:`parse_entity`): only those three fail an entity,
and so do the entity-wide rules (at most one primary role, at most one primary social
account, no role twice). An optional field that does not parse — an ``email`` that is not
one, a ``follower_count`` of ``lots`` or ``-5``, a social ``url`` that is not http(s), a flag
that is not yes/no — is left at its default and reported as a
:class:`~ingestion_pipelines.engine.outcomes.CellWarning` (the tables have no raw column: the
warnings file keeps the value as written). A social account left with neither handle nor url
is dropped with a warning. Field rules:

* ``email``: syntax (email-validator), stored normalised;
* ``phone``: stored as E.164 when ``phonenumbers`` can parse it (international form, or a
  national number with the entity's country as region), else kept as typed (free text,
  seed 000) with a warning;
* ``profile_photo_url``, social ``url``: http(s) URL, ``s3://`` URI, or a relative path;
* ``follower_count``: a whole number ≥ 0, read as people type it (``12,000``, ``12k``, ``1.2M``).
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ...engine import validate as v
from ...engine.outcomes import CellWarning

# Country names that appear in fixtures -> phone regions (the seed's example is Romanian).
COUNTRY_REGIONS = {
    "romania": "RO", "united states": "US", "usa": "US", "us": "US", "united kingdom": "GB", "uk": "GB",
    "germany": "DE", "france": "FR", "spain": "ES", "italy": "IT", "moldova": "MD", "brazil": "BR",
    "canada": "CA", "mexico": "MX", "netherlands": "NL", "sweden": "SE", "nigeria": "NG",
}


def _s(v: Any) -> str:
    return "" if v is None else str(v).strip()


class Role(BaseModel):
    """One ``roles[]`` item: ``role`` (text, default ``artist``), ``primary_role``, ``is_internal``."""

    model_config = ConfigDict(extra="ignore")
    role: str = "artist"
    primary_role: bool = False
    is_internal: bool = False

    @field_validator("role", mode="before")
    @classmethod
    def _role(cls, v: Any) -> str:
        s = _s(v).lower()
        if not s:
            raise ValueError("role must not be blank")
        return s


class SocialAccount(BaseModel):
    """One ``social_media[]`` item (seed 000): platform, handle, url, display_name,
    follower_count (≥ 0 or null), is_verified, is_primary, notes."""

    model_config = ConfigDict(extra="ignore")
    platform: str
    handle: str = ""
    url: str = ""
    display_name: str = ""
    follower_count: int | None = Field(default=None, ge=0)
    is_verified: bool = False
    is_primary: bool = False
    notes: str = ""

    @field_validator("platform", mode="before")
    @classmethod
    def _platform(cls, v: Any) -> str:
        s = _s(v).lower()
        if not s:
            raise ValueError("platform is required")
        return s

    @field_validator("handle", "display_name", "notes", mode="before")
    @classmethod
    def _text(cls, v: Any) -> str:
        return _s(v)

    @field_validator("follower_count", mode="before")
    @classmethod
    def _followers(cls, value: Any) -> int | None:
        try:
            return v.integer(value, "follower_count", min_value=0)
        except v.FieldError as e:
            raise ValueError(e.message) from None

    @field_validator("url", mode="before")
    @classmethod
    def _url(cls, v: Any) -> str:
        s = _s(v)
        if s and not s.lower().startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return s

    @model_validator(mode="after")
    def _identified(self) -> "SocialAccount":
        if not self.handle and not self.url:
            raise ValueError("a social account needs a handle or a url")
        return self


class Entity(BaseModel):
    """One fixture entity (seed 000). ``name_key`` is derived: the display name stripped and
    case-folded (the identity rule in :mod:`.schema`)."""

    model_config = ConfigDict(extra="ignore")
    id: str | None = None
    kind: Literal["PF", "PJ"]
    display_name: str
    first_name: str = ""
    last_name: str = ""
    stage_name: str = ""
    nationality: str = ""
    gender: str | None = None
    email: str = ""
    phone: str = ""
    address: str = ""
    city: str = ""
    state: str = ""
    zip_code: str = ""
    country: str = ""
    notes: str = ""
    profile_photo_url: str = ""
    roles: list[Role] = []
    social_media: list[SocialAccount] = []

    @field_validator("kind", mode="before")
    @classmethod
    def _kind(cls, v: Any) -> Any:
        return _s(v).upper() if isinstance(v, str) else v

    @field_validator("profile_photo_url", mode="after")
    @classmethod
    def _photo_ref(cls, v: str) -> str:
        if v and any(ord(c) < 32 for c in v):
            raise ValueError("profile_photo_url contains control characters")
        return v

    @field_validator("display_name", mode="before")
    @classmethod
    def _display_name(cls, v: Any) -> str:
        s = " ".join(_s(v).split())
        if not s:
            raise ValueError("display_name is required")
        return s

    @field_validator("first_name", "last_name", "stage_name", "nationality", "address", "city", "state",
                     "zip_code", "country", "notes", "profile_photo_url", "phone", mode="before")
    @classmethod
    def _text(cls, v: Any) -> str:
        return _s(v)

    @field_validator("gender", mode="before")
    @classmethod
    def _gender(cls, v: Any) -> str | None:
        return _s(v) or None

    @field_validator("id", mode="before")
    @classmethod
    def _id(cls, v: Any) -> str | None:
        s = _s(v)
        if not s:
            return None
        try:
            return str(uuid.UUID(s))
        except ValueError:
            raise ValueError("id must be a UUID") from None

    @field_validator("email", mode="before")
    @classmethod
    def _email(cls, v: Any) -> str:
        s = _s(v)
        if not s:
            return ""
        try:
            return validate_email(s, check_deliverability=False).normalized
        except EmailNotValidError as e:
            raise ValueError(str(e)) from None

    @field_validator("roles", "social_media", mode="before")
    @classmethod
    def _lists(cls, v: Any) -> Any:
        return [] if v is None else v

    @model_validator(mode="after")
    def _rules(self) -> "Entity":
        if sum(r.primary_role for r in self.roles) > 1:
            raise ValueError("more than one primary role")
        if sum(s.is_primary for s in self.social_media) > 1:
            raise ValueError("more than one primary social media account")
        seen = set()
        for r in self.roles:
            if r.role in seen:
                raise ValueError(f"role {r.role!r} listed twice")
            seen.add(r.role)
        if self.phone:
            region = COUNTRY_REGIONS.get(self.country.lower())
            try:
                num = phonenumbers.parse(self.phone, region)
                if phonenumbers.is_possible_number(num):
                    self.phone = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
            except phonenumbers.NumberParseException:
                pass  # kept as typed (seed: optional free text); reported as a warning
        return self

    @property
    def name_key(self) -> str:
        return self.display_name.casefold()

    def row(self) -> dict[str, Any]:
        """Column values for ``entities`` (without id / photo columns)."""
        d = self.model_dump(exclude={"id", "roles", "social_media"})
        d["name_key"] = self.name_key
        return d


#: Entity fields that may not be dropped: a bad value fails the entity (the key and the
#: required fields). Roles are a rule of the entity, not a cell, so their errors fail too.
REQUIRED = frozenset({"kind", "display_name", "id", "roles"})


def parse_entity(obj: Any, row: int = 0) -> tuple[Entity, list[CellWarning]]:
    """Validate one fixture element (``row``: its 1-based index, for the warnings) under the
    optional-cell rule: returns the entity and the warnings of the optional fields that did not
    parse (each left at its default; a social account that has neither handle nor url after
    that is dropped). Raises ``ValueError`` with a readable reason when a required field, the
    key or an entity-wide rule is broken, such as ``"kind: Input should be 'PF' or 'PJ';
    display_name: display_name is required"``."""
    if not isinstance(obj, dict):
        raise ValueError(f"expected an object, got {type(obj).__name__}")
    data, warnings = obj, []
    while True:  # each pass drops at least one field or account, or raises
        try:
            entity = Entity.model_validate(data)
        except ValidationError as e:
            data = _drop_optional(data, e.errors(include_url=False), row, warnings)
            continue
        _phone_warning(obj, entity, row, warnings)
        return entity, warnings


def _where(loc: tuple) -> str:
    return ".".join(str(p) for p in loc) or "entity"


def _drop_optional(data: dict, errors: list[dict], row: int, warnings: list[CellWarning]) -> dict:
    """``data`` without the optional fields (or social accounts) named by ``errors``, with a
    warning for each; raises ``ValueError`` listing every error when one is not optional."""
    fatal = [err for err in errors if not _optional_loc(err["loc"])]
    if fatal:
        raise ValueError("; ".join(f"{_where(err['loc'])}: {err['msg'].removeprefix('Value error, ')}"
                                   for err in errors))
    data = {**data, "social_media": [dict(a) if isinstance(a, dict) else a for a in data.get("social_media") or []]}
    dropped_accounts = set()
    for err in errors:
        loc, reason = err["loc"], err["msg"].removeprefix("Value error, ")
        if loc[0] == "social_media" and len(loc) == 2:  # the account as a whole
            dropped_accounts.add(loc[1])
            warnings.append(CellWarning(row, _where(loc), data["social_media"][loc[1]], f"account dropped: {reason}"))
        elif loc[0] == "social_media":
            warnings.append(CellWarning(row, _where(loc), data["social_media"][loc[1]].pop(loc[2]), reason))
        else:
            warnings.append(CellWarning(row, _where(loc), data.pop(loc[0]), reason))
    data["social_media"] = [a for i, a in enumerate(data["social_media"]) if i not in dropped_accounts]
    return data


def _optional_loc(loc: tuple) -> bool:
    """True for an optional entity field, or a social account or one of its fields other
    than its platform."""
    if not loc or loc[0] in REQUIRED:
        return False
    if loc[0] == "social_media":
        return len(loc) >= 2 and isinstance(loc[1], int) and (len(loc) == 2 or loc[2] != "platform")
    return True


def _phone_warning(obj: dict, entity: Entity, row: int, warnings: list[CellWarning]) -> None:
    if entity.phone and not phone_is_e164(entity.phone):
        warnings.append(CellWarning(row, "phone", obj.get("phone"),
                                    "not a possible phone number for the entity's country; kept as typed"))


def phone_is_e164(phone: str) -> bool:
    return phone.startswith("+") and phone[1:].isdigit()
