"""HubSpot webhook signatures (``crm/APIS.md`` §1 "Webhooks v3"): :func:`verify` accepts a
request only with a valid signature, compared in constant time, and (v3) a timestamp within
five minutes.

* **v3** (``X-HubSpot-Signature-v3``): ``base64(HMAC-SHA256(secret, method + uri + body +
  timestamp))``, the timestamp in ``X-HubSpot-Request-Timestamp`` (epoch milliseconds); ``uri``
  is the full URL HubSpot called, with only the characters of :data:`DECODED` percent-decoded
  (HubSpot's request-validation page; the Python SDK's ``utils/signature.py``). A request older
  (or newer) than :data:`MAX_AGE_MS` is refused even when its HMAC matches (the SDK's
  ``MAX_ALLOWED_TIMESTAMP``): a captured request cannot be replayed later.
* **v1 / v2** (``X-HubSpot-Signature`` + ``X-HubSpot-Signature-Version``), older apps:
  ``sha256_hex(secret + body)`` and ``sha256_hex(secret + method + uri + body)``. They sign no
  timestamp, so nothing bounds a replay: accepted only when the caller allows them
  (``legacy=True``) and the request has no v3 header.

Pure functions, no I/O; nothing here logs, and :class:`Refused` messages never carry the
secret or a signature.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Mapping

#: a request's timestamp may be this far from our clock (milliseconds; APIS.md §1: 5 minutes)
MAX_AGE_MS = 300_000
#: the only percent-escapes HubSpot decodes before signing the URI (APIS.md §1)
DECODED = {"%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$", "%27": "'", "%28": "(",
           "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";"}
_ESCAPE = re.compile("|".join(DECODED), re.IGNORECASE)


class Refused(Exception):
    """The request is not HubSpot's: a missing, malformed or wrong signature, or a stale
    timestamp. ``str(e)`` is a short reason, safe to answer and to log."""


def verify(headers: Mapping[str, str], method: str, uri: str, body: bytes, secret: str, now_ms: int, *,
           legacy: bool = False, max_age_ms: int = MAX_AGE_MS) -> str:
    """Check one request; returns the signature version accepted (``v3``, ``v1``, ``v2``).

    ``headers``: case-insensitive (Starlette's ``Headers``, or lower-case keys); ``uri``: the
    full URL as HubSpot called it (scheme, host, path, query; not yet decoded); ``now_ms``:
    our clock. Raises :class:`Refused`."""
    if not secret:
        raise Refused("no webhook secret configured")
    get = _getter(headers)
    v3 = get("x-hubspot-signature-v3")
    if v3:
        ts = get("x-hubspot-request-timestamp")
        if not ts or not ts.isdigit():
            raise Refused("missing or malformed X-HubSpot-Request-Timestamp")
        if abs(now_ms - int(ts)) > max_age_ms:
            raise Refused("timestamp outside the 5-minute window")
        _same(signature_v3(secret, method, uri, body, ts), v3)
        return "v3"
    legacy_sig = get("x-hubspot-signature")
    if not legacy_sig:
        raise Refused("no X-HubSpot-Signature-v3 header")
    version = (get("x-hubspot-signature-version") or "v1").lower()
    if version not in ("v1", "v2"):
        raise Refused("unknown X-HubSpot-Signature-Version")
    if not legacy:
        raise Refused(f"{version} signatures are not accepted here (no timestamp); use v3")
    expected = signature_v1(secret, body) if version == "v1" else signature_v2(secret, method, uri, body)
    _same(expected, legacy_sig.lower())
    return version


def signature_v3(secret: str, method: str, uri: str, body: bytes, timestamp: str | int) -> str:
    """``base64(HMAC-SHA256(secret, method + decode_uri(uri) + body + timestamp))``."""
    msg = method.upper().encode() + decode_uri(uri).encode() + body + str(timestamp).encode()
    return base64.b64encode(hmac.new(secret.encode(), msg, hashlib.sha256).digest()).decode()


def signature_v2(secret: str, method: str, uri: str, body: bytes) -> str:
    """``sha256_hex(secret + method + uri + body)`` (v2: the URI as called, not decoded)."""
    return hashlib.sha256(secret.encode() + method.upper().encode() + uri.encode() + body).hexdigest()


def signature_v1(secret: str, body: bytes) -> str:
    """``sha256_hex(secret + body)``."""
    return hashlib.sha256(secret.encode() + body).hexdigest()


def decode_uri(uri: str) -> str:
    """``uri`` with only the escapes of :data:`DECODED` decoded (any case: ``%3a`` too); every
    other escape (``%20``, ``%25``...) stays as sent."""
    return _ESCAPE.sub(lambda m: DECODED[m.group(0).upper()], uri)


def _same(expected: str, given: str) -> None:
    if not hmac.compare_digest(expected.encode(), given.strip().encode()):
        raise Refused("signature does not match")


def _getter(headers: Mapping[str, str]):
    if hasattr(headers, "getlist"):  # Starlette Headers: case-insensitive already
        return headers.get
    low = {k.lower(): v for k, v in headers.items()}
    return low.get
