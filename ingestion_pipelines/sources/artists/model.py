"""The fixture format of seed 000 ("JSON Fixture Format") as pydantic record models.

A fixture is a JSON array of entity objects. Required: ``kind`` (``PF`` a physical person or
``PJ`` a legal entity; lower case accepted) and ``display_name``. Every other field is
optional and defaults as the seed says (empty string, or null for ``gender`` and
``follower_count``). Rules checked per entity (a broken rule fails that entity only):

* ``email``: syntax (email-validator), stored normalised;
* ``phone``: stored as E.164 when ``phonenumbers`` can parse it (international form, or a
  national number with the entity's country as region), else kept as typed;
* ``profile_photo_url``, social ``url``: http(s) URL, ``s3://`` URI, or a relative path;
* ``follower_count`` ≥ 0; at most one primary role; at most one primary social account;
* ``id``, when given, a UUID.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

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
                pass  # kept as typed (seed: optional free text); counted as a warning
        return self

    @property
    def name_key(self) -> str:
        return self.display_name.casefold()

    def row(self) -> dict[str, Any]:
        """Column values for ``entities`` (without id / photo columns)."""
        d = self.model_dump(exclude={"id", "roles", "social_media"})
        d["name_key"] = self.name_key
        return d


def parse_entity(obj: Any) -> Entity:
    """Validate one fixture element. Raises ``ValueError`` with a readable reason such as
    ``"kind: Input should be 'PF' or 'PJ'; email: The email address is not valid..."``."""
    if not isinstance(obj, dict):
        raise ValueError(f"expected an object, got {type(obj).__name__}")
    try:
        return Entity.model_validate(obj)
    except ValidationError as e:
        parts = []
        for err in e.errors(include_url=False):
            loc = ".".join(str(p) for p in err["loc"]) or "entity"
            msg = err["msg"].removeprefix("Value error, ")
            parts.append(f"{loc}: {msg}")
        raise ValueError("; ".join(parts)) from None


def phone_is_e164(phone: str) -> bool:
    return phone.startswith("+") and phone[1:].isdigit()
