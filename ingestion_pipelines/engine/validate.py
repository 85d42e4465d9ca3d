"""Per-field normalisers used by every source's row validation (DESIGN.md §2 "validate").

Each normaliser takes a raw cell value (a ``str`` from CSV, a JSON value, an openpyxl cell
value) and the name of the field it belongs to, and

* returns ``None`` for blank input: ``None``, ``''``, whitespace only, or one of the null
  tokens ``NA``, ``N/A``, ``NONE``, ``NULL``, ``.`` in any case (csvkit's default null
  tokens, see ``csvkit-examples/blanks.csv``);
* returns the normalised value otherwise;
* raises :class:`FieldError` (a ``ValueError`` carrying ``.field``) with a human readable
  message when the value is not acceptable.

A source validates a row by calling the normalisers it needs, collecting the
:class:`FieldError` s, and raising one :class:`RowError` with all of them, so the failed-rows
file says everything that is wrong with a row at once. Only required fields (keys and the
fields a row cannot be without) fail a row: an optional cell that does not parse is a
:class:`~.outcomes.CellWarning` and reads as empty (DESIGN.md §9); :class:`RowCells` keeps
both lists for one row.

Leading and trailing whitespace is always stripped before a value is interpreted: spreadsheet
cells and CSV fields carry it all the time (``crm-exports/dedupe-examples``), and nobody means
it.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
import warnings
from datetime import date as _date
from datetime import datetime as _datetime
from datetime import time as _time
from datetime import timedelta, timezone, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Iterable, Mapping
from urllib.parse import urlsplit

import phonenumbers
from dateutil import parser as _dateparser
from email_validator import EmailNotValidError, validate_email

from .outcomes import CellWarning

__all__ = [
    "FieldError",
    "NULL_TOKENS",
    "RowCells",
    "RowError",
    "boolean",
    "choice",
    "date",
    "decimal",
    "email",
    "emails",
    "integer",
    "is_blank",
    "phone",
    "text",
    "time_of_day",
    "timestamp",
    "url",
    "us_state",
    "json_cell",
    "zipcode",
]

#: Cell values that mean "no value", compared case-insensitively after stripping
#: (csvkit's null tokens: ``csvkit-examples/blanks.csv`` -> ``blanks_converted.csv``).
NULL_TOKENS = frozenset({"", "na", "n/a", "none", "null", "."})


class FieldError(ValueError):
    """One field's value is not acceptable.

    ``field``: the field (canonical column) name; ``message``: why, in words a person
    fixing the file understands. ``str(err)`` is ``"<field>: <message>"``.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class RowError(ValueError):
    """All that is wrong with one row: a list of :class:`FieldError`.

    ``str(err)`` joins them with ``"; "``, e.g.
    ``"email: The email address is not valid...; phone: not a possible phone number"``;
    that string is what the failed-rows file's ``import_error`` column shows.
    """

    def __init__(self, errors: Iterable[FieldError]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(str(e) for e in self.errors))

    @property
    def fields(self) -> list[str]:
        """The names of the fields in error, in order."""
        return [e.field for e in self.errors]


class RowCells:
    """Reads one row's cells under the optional-cell rule (DESIGN.md §9): a required field
    that does not parse fails the row; an optional one becomes a :class:`CellWarning` and
    reads as ``None``, so the row still lands with that column empty.

    ``row``: the row's number (for the warnings); ``read``: how a normaliser is called,
    ``read(fn, value, field, *args)`` (default: ``fn(value, field, *args)``; a source may
    pass a memoising reader). Usage::

        cells = RowCells(rec.row)
        name = cells.required(text, data.get("Name"), "Name")
        goal = cells.optional(integer, data.get("Goal"), "Goal")
        cells.check()          # raises RowError when a required field was in error
        report.add_warnings(cells.warnings)
    """

    def __init__(self, row: int, read: Any = None) -> None:
        self.row = row
        self.errors: list[FieldError] = []
        self.warnings: list[CellWarning] = []
        self._read = read

    def _call(self, fn: Any, value: Any, field: str, *args: Any) -> Any:
        return self._read(fn, value, field, *args) if self._read else fn(value, field, *args)

    def required(self, fn: Any, value: Any, field: str, *args: Any) -> Any:
        """``fn(value, field, *args)``; a :class:`FieldError` is kept for :meth:`check`."""
        try:
            return self._call(fn, value, field, *args)
        except FieldError as e:
            self.errors.append(e)
            return None

    def optional(self, fn: Any, value: Any, field: str, *args: Any) -> Any:
        """``fn(value, field, *args)``; a :class:`FieldError` becomes a warning
        (row, ``field``, ``value`` as written, the error's message) and the result ``None``."""
        try:
            return self._call(fn, value, field, *args)
        except FieldError as e:
            self.warn(field, value, e.message)
            return None

    def warn(self, field: str, value: Any, reason: str) -> None:
        """Record an optional cell that was not read (for checks a normaliser does not make)."""
        self.warnings.append(CellWarning(self.row, field, value, reason))

    def fail(self, field: str, message: str) -> None:
        """Record a required-field error (for checks a normaliser does not make)."""
        self.errors.append(FieldError(field, message))

    def check(self) -> None:
        """Raise :class:`RowError` with every required-field error, if there was one."""
        if self.errors:
            raise RowError(self.errors)


def is_blank(v: Any) -> bool:
    """True for ``None``, empty or whitespace-only strings and the csvkit null tokens
    (:data:`NULL_TOKENS`, case-insensitive); False for anything else (``0``, ``False``)."""
    if v is None:
        return True
    if isinstance(v, str):
        return v.strip().lower() in NULL_TOKENS
    if isinstance(v, float) and math.isnan(v):
        return True  # pandas / openpyxl NaN
    return False


def _as_str(v: Any) -> str:
    """A non-blank cell value as a stripped string (integral floats without ``.0``)."""
    if isinstance(v, str):
        return v.strip()
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (_datetime, _date, _time)):
        return v.isoformat()
    return str(v).strip()


# --------------------------------------------------------------------------------------------
# text
# --------------------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def text(v: Any, field: str, max_len: int | None = None, *, null_tokens: bool = False) -> str | None:
    """A free-text value: stripped ``str`` with control characters removed (C0 except
    ``\\t`` and ``\\n``, DEL, and C1 — so ``\\r\\n`` becomes ``\\n`` and a NUL, which
    PostgreSQL text cannot hold, disappears). Numbers and dates are turned into text
    (``60302.0`` -> ``'60302'``, a date -> ISO 8601).

    ``max_len``: maximum length in characters (Unicode code points) after cleaning; longer
    -> :class:`FieldError` ``"longer than N characters (M)"``. Blank -> ``None``.
    Free text keeps ``NA``, ``Null``, ``.`` as written (a surname, Namibia's code); pass
    ``null_tokens=True`` to read csvkit's null tokens as blank.
    """
    if v is None or (null_tokens and is_blank(v)):
        return None
    s = _CONTROL.sub("", _as_str(v)).strip()
    if not s:
        return None
    if max_len is not None and len(s) > max_len:
        raise FieldError(field, f"longer than {max_len} characters ({len(s)})")
    return s


# --------------------------------------------------------------------------------------------
# email
# --------------------------------------------------------------------------------------------

def email(v: Any, field: str, **options: Any) -> str | None:
    """One email address, checked for syntax by email-validator (``validate_email(...,
    check_deliverability=False)``: no DNS lookups during an import) and returned in its
    normalized form: the domain lower-cased and IDNA-normalized, the local part as the
    library normalizes it (its case is kept: local parts are case-sensitive per RFC 5321).

    ``options`` go to ``validate_email`` (e.g. ``allow_quoted_local=True``,
    ``allow_display_name=True``, ``test_environment=True``); the library's defaults refuse
    quoted local parts, display names (``Name <a@b.c>``) and domain literals. The value is
    stripped first. Invalid -> :class:`FieldError` whose message is the library's (e.g.
    ``"An email address must have an @-sign."``). Blank -> ``None``.
    """
    if is_blank(v):
        return None
    s = _as_str(v)
    if not options:
        plain = plain_email(s)
        if plain is not None:
            return plain
    options.setdefault("check_deliverability", False)
    try:
        return validate_email(s, **options).normalized
    except EmailNotValidError as exc:
        raise FieldError(field, str(exc)) from None


# A plain ASCII address (dot-atom local part, letter-only TLD, no punycode): for these,
# email-validator's answer is known without running it — valid, normalized = the domain
# lower-cased. Anything else (quoted, Unicode, IDNA, odd lengths, special-use domains) goes
# to the library. ~3 µs instead of ~100 µs per address; the equivalence is tested against
# email-validator's own vectors (testdata/validation-vectors/email-validator).
_ATOM_ASCII = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_LOCAL = re.compile(rf"{_ATOM_ASCII}(?:\.{_ATOM_ASCII})*")
_PLAIN_DOMAIN = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}")
try:
    from email_validator import SPECIAL_USE_DOMAIN_NAMES as _SPECIAL_DOMAINS
except ImportError:  # pragma: no cover
    _SPECIAL_DOMAINS = ["arpa", "invalid", "local", "localhost", "onion", "test"]
_SPECIAL_SUFFIXES = tuple("." + d for d in _SPECIAL_DOMAINS)


# The same with letters beyond ASCII in the local part (José@, zoë.smith@: SMTPUTF8, which
# email-validator allows by default and normalizes to NFC): only letters (categories L*),
# already in NFC, within 64 UTF-8 bytes; the domain stays ASCII.
_ATOM_INTL = r"[\w!#$%&'*+/=?^`{|}~-]+"
_INTL_LOCAL = re.compile(rf"{_ATOM_INTL}(?:\.{_ATOM_INTL})*")


def _intl_local_ok(local: str) -> bool:
    return (len(local.encode()) <= 64 and unicodedata.is_normalized("NFC", local)
            and all(ch.isascii() or unicodedata.category(ch)[0] == "L" for ch in local))


@functools.lru_cache(maxsize=4096)
def _plain_domain(domain: str) -> str | None:
    """``domain`` lower-cased when a plain address may have it (ASCII labels, letter-only
    TLD, no ``--`` (punycode), not a special-use name), else None. Memoised: domains repeat."""
    if not _PLAIN_DOMAIN.fullmatch(domain) or "--" in domain:
        return None
    d = domain.lower()
    if d in _SPECIAL_DOMAINS or d.endswith(_SPECIAL_SUFFIXES):
        return None
    return d


def plain_email(s: str) -> str | None:
    """The normalized form :func:`email` gives a plain address (``s`` stripped): a dot-atom
    local part (ASCII, or with letters beyond ASCII) and a plain domain (see
    :func:`_plain_domain`), normalized = the domain lower-cased; None when email-validator
    itself must decide. Never a different answer from the library (a fast path, not a second
    validator: tested against its own vectors, testdata/validation-vectors/email-validator);
    ~3 µs instead of ~100 µs per address."""
    at = s.find("@")  # the local part cannot hold an "@", so this is where it ends
    if at < 1 or at > 64:
        return None
    domain = _plain_domain(s[at + 1:])
    if domain is None:
        return None
    local = s[:at]
    if s.isascii():
        if len(s) > 254 or not _PLAIN_LOCAL.fullmatch(local):
            return None
    elif len(s.encode()) > 254 or not _INTL_LOCAL.fullmatch(local) or not _intl_local_ok(local):
        return None
    return local + "@" + domain


_EMAIL_SPLIT = re.compile(r"[,;\s]+")


def emails(v: Any, field: str, **options: Any) -> list[str] | None:
    """Several email addresses in one cell (or a list), separated by ``,`` ``;``, spaces or
    newlines -> the unique addresses, each normalized by :func:`email` and then lower-cased
    entirely (for de-duplication and matching), in first-seen order.

    A bad address -> :class:`FieldError` ``"'<address>': <library message>"``. Blank (or no
    address at all) -> ``None``.
    """
    if is_blank(v):
        return None
    parts = v if isinstance(v, (list, tuple)) else _EMAIL_SPLIT.split(_as_str(v))
    out: list[str] = []
    seen: set[str] = set()
    for part in parts:
        if is_blank(part):
            continue
        part = _as_str(part)
        try:
            normalized = email(part, field, **options)
        except FieldError as exc:
            raise FieldError(field, f"{part!r}: {exc.message}") from None
        if normalized is None:
            continue
        normalized = normalized.lower()
        if normalized not in seen:
            seen.add(normalized)
            out.append(normalized)
    return out or None


# --------------------------------------------------------------------------------------------
# phone
# --------------------------------------------------------------------------------------------

_REASONS = {
    phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "a local number without an area code",
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "invalid country code",
    phonenumbers.ValidationResult.TOO_SHORT: "too short",
    phonenumbers.ValidationResult.TOO_LONG: "too long",
    phonenumbers.ValidationResult.INVALID_LENGTH: "invalid length",
}


_FLOAT_DIGITS = re.compile(r"^\d{5,}\.0+$")
# A North American number written the usual ways — 2133734253, (213) 373-4253, 213.373.4253,
# 1-213-373-4253, +1 213 373 4253, optionally "x12" / "ext. 12" — with a NANP area code and
# exchange ([2-9]xx): for these,
# with a NANP default region, phonenumbers' answer is known (possible; E.164 "+1" + the ten
# digits). Tested against phonenumbers on its own vectors (testdata/validation-vectors/phone).
_NANP_FAST = frozenset({"US", "CA"})
_NANP_PLAIN = re.compile(r"(?:\+?1[ .\-]?)?\(?([2-9]\d{2})\)?[ .\-]?([2-9]\d{2})[ .\-]?(\d{4})"
                         r"(?:\s*(?:x|ext\.?|extension)\s*\d{1,6})?\Z", re.I)  # (E.164 drops an extension)


def nanp_e164(s: str) -> str | None:
    """The E.164 form :func:`phone` gives ``s`` with a NANP default region (US, CA) when
    ``s`` is a North American number written the usual ways (see ``_NANP_PLAIN``), else None
    (then only phonenumbers can tell). A fast path, never a different answer."""
    m = _NANP_PLAIN.match(s)
    return "+1" + m[1] + m[2] + m[3] if m else None


def phone(v: Any, field: str, default_region: str | None = "US", *,
          require_valid: bool = False) -> str | None:
    """A phone number in E.164 (``'+12133734253'``), parsed by ``phonenumbers`` (Google's
    libphonenumber metadata) with ``default_region`` for numbers written without ``+``.

    Accepted when the number is *possible* (its length fits the region's numbering plan),
    not only when it is *valid* (matches an allocated range): a number's range can be
    allocated after the metadata was built, and refusing a customer's real number is worse
    than keeping an unallocated one. But a possible-for-local-dialling-only number — the
    7-digit numbers without an area code that fill real CRM exports
    (``crm-exports/dedupe-examples``: ~3,200 of 3,337 rows) — is refused, because no E.164
    number can be made from it: ``"not a possible phone number for region US (a local number
    without an area code)"``. ``require_valid=True`` also demands ``is_valid_number``.

    Extensions (``x123``, ``ext. 123``) are dropped: E.164 has no extension. Excel numbers
    and their text form (``2133734253.0``, as pandas writes a float column) are read as
    digits. Unparseable -> :class:`FieldError` ``"not a phone
    number: ..."``. Blank -> ``None``.
    """
    if is_blank(v):
        return None
    if isinstance(v, bool):
        raise FieldError(field, "not a phone number: a boolean")
    s = _as_str(v)
    if _FLOAT_DIGITS.match(s):
        s = s.split(".", 1)[0]  # "2133734253.0": a float column written out by pandas/Excel
    if default_region in _NANP_FAST and not require_valid:
        fast = nanp_e164(s)
        if fast is not None:  # what phonenumbers gives these, without parsing (~40x faster)
            return fast
    try:
        num = phonenumbers.parse(s, default_region)
    except phonenumbers.NumberParseException as exc:
        message = getattr(exc, "_msg", None) or str(exc)
        raise FieldError(field, f"not a phone number: {message}") from None
    reason = phonenumbers.is_possible_number_with_reason(num)
    if s.lstrip().startswith("+") or default_region is None:
        region = phonenumbers.region_code_for_country_code(num.country_code)
    else:
        region = default_region
    if reason != phonenumbers.ValidationResult.IS_POSSIBLE:
        detail = _REASONS.get(reason, "impossible")
        raise FieldError(field, f"not a possible phone number for region {region} ({detail})")
    if require_valid and not phonenumbers.is_valid_number(num):
        raise FieldError(field, f"not a valid phone number for region {region}")
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)


# --------------------------------------------------------------------------------------------
# url
# --------------------------------------------------------------------------------------------

def url(v: Any, field: str, schemes: tuple[str, ...] = ("http", "https")) -> str | None:
    """An absolute URL, parsed with ``urllib.parse.urlsplit``: its scheme must be one of
    ``schemes`` (case-insensitive) and it must have a host; no whitespace or control
    characters inside; a port, if any, must be a number in 0-65535.

    Returns the stripped URL unchanged (no normalisation). A bare ``www.example.com`` is
    refused with a hint to add ``https://``. This checks syntax only; a download must still
    go through the network safety rules of DESIGN.md §9. Blank -> ``None``.
    """
    if is_blank(v):
        return None
    s = _as_str(v)
    if any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in s):
        raise FieldError(field, f"not a URL (contains whitespace or control characters): {s!r}")
    try:
        parts = urlsplit(s)
        parts.port  # raises ValueError for a bad port
    except ValueError as exc:
        raise FieldError(field, f"not a URL ({exc}): {s!r}") from None
    allowed = " or ".join(schemes)
    if not parts.scheme:
        hint = " (add https://)" if "." in s.split("/", 1)[0] else ""
        raise FieldError(field, f"not an absolute URL, expected {allowed}{hint}: {s!r}")
    if parts.scheme.lower() not in schemes:
        raise FieldError(field, f"URL scheme must be {allowed}, not {parts.scheme!r}")
    if not parts.hostname:
        raise FieldError(field, f"URL has no host: {s!r}")
    return s


# --------------------------------------------------------------------------------------------
# numbers
# --------------------------------------------------------------------------------------------

# Thousands separators besides ',' and '.': spaces (incl. no-break, thin, narrow no-break)
# and the Swiss apostrophes.
_GROUP_CHARS = re.compile(r"[ \u00a0\u2009\u202f'\u2019]")
_CURRENCY_WORDS = frozenset({
    "usd", "eur", "gbp", "jpy", "cny", "rmb", "chf", "cad", "aud", "nzd", "brl", "mxn",
    "inr", "rub", "pln", "czk", "huf", "sek", "nok", "dkk", "ron", "lei", "leu", "bgn",
    "try", "zar", "hkd", "sgd", "krw", "ils", "uah", "ars", "clp", "cop", "pen",
    "kr", "zł", "kč", "ft", "руб", "р", "fr", "sfr", "r$", "us$", "c$", "a$", "nz$", "hk$",
    "s$", "mx$", "au$", "ca$",
})
_LEAD = re.compile(r"^([^\d\s().,+\-\u2212]+)\s*")
_TRAIL = re.compile(r"\s*([^\d\s().,+\-\u2212]+)$")
_PLAIN_NUMBER = re.compile(r"^(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
#: Magnitude suffixes people type after a number (``50k``, ``1.2M``, ``3 bn``), any case.
_SCALES = {"k": 3, "thousand": 3, "m": 6, "mm": 6, "mn": 6, "million": 6, "b": 9, "bn": 9, "billion": 9}
_SCALE = re.compile(r"(?<=[\d.,])\s*(" + "|".join(sorted(_SCALES, key=len, reverse=True)) + r")$", re.I)


def _is_currency(token: str) -> bool:
    t = token.lower().rstrip(".")
    if t in _CURRENCY_WORDS:
        return True
    if all(unicodedata.category(c) == "Sc" for c in token):
        return True  # $ € £ ¥ ₹ ₽ ₩ ...
    # letters followed by a symbol: R$, US$, C$, kr$ ...
    return unicodedata.category(token[-1]) == "Sc" and token[:-1].isalpha() and len(token) <= 4


def _strip_currency(s: str) -> str:
    m = _LEAD.match(s)
    if m and _is_currency(m.group(1)):
        s = s[m.end():]
    m = _TRAIL.search(s)
    if m and _is_currency(m.group(1)):
        s = s[:m.start()]
    return s.strip()


def _group_ok(int_part: str, sep: str) -> bool:
    groups = int_part.split(sep)
    if not groups[0].isdigit() or len(groups[0]) > 3:
        return False
    rest = groups[1:]
    if all(len(g) == 3 and g.isdigit() for g in rest):
        return True
    # Indian grouping: 12,34,567
    return (len(rest) >= 2 and all(len(g) == 2 and g.isdigit() for g in rest[:-1])
            and len(rest[-1]) == 3 and rest[-1].isdigit())


def _split_scale(s: str) -> tuple[str, int]:
    """``"1.2M"`` -> (``"1.2"``, 6): the number without its magnitude suffix, and the power of
    ten the suffix stands for (0 when there is none)."""
    m = _SCALE.search(s)
    if not m:
        return s, 0
    return s[:m.start()].strip(), _SCALES[m.group(1).lower()]


def _separators(s: str, original: str, field: str, decimal_comma: bool | None) -> str:
    """``s`` (digits, ``,`` and ``.`` only) with the thousands separators removed and the
    decimal separator as ``.``. ``decimal_comma``: True when the locale writes ``1.234,5``,
    False when it writes ``1,234.5``, None to tell from the text (see :func:`decimal`)."""
    comma, dot = s.rfind(","), s.rfind(".")
    if decimal_comma is not None:
        dec, grp = (",", ".") if decimal_comma else (".", ",")
        int_part, _, frac = s.rpartition(dec) if dec in s else (s, "", "")
        if grp in int_part and not _group_ok(int_part, grp):
            raise FieldError(field, f"not a number (misplaced {grp!r}): {original!r}")
        if grp in frac or (dec in s and dec in int_part):
            raise FieldError(field, f"not a number: {original!r}")
        return int_part.replace(grp, "") + ("." + frac if dec in s else "")
    if comma >= 0 and dot >= 0:
        dec, grp = (",", ".") if comma > dot else (".", ",")
        int_part, _, frac = s.rpartition(dec)
        if not _group_ok(int_part, grp):
            raise FieldError(field, f"not a number (misplaced {grp!r}): {original!r}")
        return int_part.replace(grp, "") + "." + frac
    if comma >= 0:
        int_part = s.split(",")
        if len(int_part) > 2 or (len(int_part[1]) == 3 and int_part[0] not in ("", "0")
                                 and len(int_part[0]) <= 3):
            # "1,234" and "1,234,567": US thousands
            if not _group_ok(s, ","):
                raise FieldError(field, f"not a number (misplaced ','): {original!r}")
            return s.replace(",", "")
        return s.replace(",", ".")  # "1,5", "12,34": European decimal comma
    if s.count(".") > 1:
        # "1.234.567": European thousands
        if not _group_ok(s, "."):
            raise FieldError(field, f"not a number (misplaced '.'): {original!r}")
        return s.replace(".", "")
    return s


# Plain unsigned amounts (``12``, ``1200.50``, ``$1200.50``): Decimal of the digits, which is
# what the full reading below gives them unless decimal_comma=True (a fast path).
_SIMPLE_NUMBER = re.compile(r"\$?(\d{1,15}(?:\.\d{1,12})?)\Z")


def _parse_number(v: Any, field: str, decimal_comma: bool | None = None) -> Decimal:
    """A non-blank value as a finite Decimal (see :func:`decimal` for the accepted forms)."""
    if type(v) is str and decimal_comma is not True:  # ("1.234" is 1234 under decimal_comma)
        m = _SIMPLE_NUMBER.match(v)
        if m:
            return Decimal(m[1])
    if isinstance(v, bool):
        raise FieldError(field, "expected a number, got a boolean")
    if isinstance(v, int):
        return Decimal(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise FieldError(field, f"not a finite number: {v!r}")
        return Decimal(repr(v))
    if isinstance(v, Decimal):
        if not v.is_finite():
            raise FieldError(field, f"not a finite number: {v!r}")
        return v
    original = _as_str(v)
    s = original.replace("\u2212", "-")  # U+2212 MINUS SIGN
    negative = False
    for _ in range(2):  # "-$12", "$-12", "($12)", "$(12)"
        if s.startswith("(") and s.endswith(")"):
            negative, s = True, s[1:-1].strip()
        if s[:1] in ("+", "-"):
            if s[0] == "-":
                negative = not negative
            s = s[1:].strip()
        s = _strip_currency(s)
    if s.endswith("-") and not negative:  # accounting exports: "12.00-"
        negative, s = True, s[:-1].strip()
    s, scale = _split_scale(s)
    s = _GROUP_CHARS.sub("", s)
    if not s:
        raise FieldError(field, f"not a number: {original!r}")
    s = _separators(s, original, field, decimal_comma)
    if not _PLAIN_NUMBER.match(s):
        raise FieldError(field, f"not a number: {original!r}")
    try:
        d = Decimal(s)
        if scale:  # 50k: 5.0E+4 written out as 50000
            d = d.scaleb(scale)
            d = d.quantize(Decimal(1)) if d.as_tuple().exponent > 0 else d
    except InvalidOperation:
        raise FieldError(field, f"not a number: {original!r}") from None
    return -d if negative else d


def integer(v: Any, field: str, min_value: int | None = None,
            max_value: int | None = None, *, decimal_comma: bool | None = None) -> int | None:
    """A whole number: ``int``; integral ``float``/``Decimal`` (``12.0``, Excel's numbers);
    strings as people type numbers (every form :func:`decimal` reads: ``"1,234"``,
    ``"1 234"``, ``"1.234.567"``, ``"50k"``, ``"1.2M"``, ``"$1,200"``, ``"(300)"``) whose
    value is whole (``"12.0"``, ``"1.5k"``). Refused: fractions (``"12.5"``), booleans, NaN,
    anything else -> :class:`FieldError`. ``min_value`` / ``max_value`` are inclusive
    bounds; ``decimal_comma`` as for :func:`decimal`. Blank -> ``None``.
    """
    if is_blank(v):
        return None
    if isinstance(v, bool):
        raise FieldError(field, "expected an integer, got a boolean")
    if isinstance(v, int):
        n = v
    else:
        d = _parse_number(v, field, decimal_comma)
        if d != d.to_integral_value():
            raise FieldError(field, f"not a whole number: {_as_str(v)!r}")
        n = int(d)
    if min_value is not None and n < min_value:
        raise FieldError(field, f"must be at least {min_value} (got {n})")
    if max_value is not None and n > max_value:
        raise FieldError(field, f"must be at most {max_value} (got {n})")
    return n


def decimal(v: Any, field: str, places: int | None = None,
            min_value: Decimal | int | None = None, *, decimal_comma: bool | None = None) -> Decimal | None:
    """An exact decimal number (``decimal.Decimal``), e.g. money.

    Strings may carry a currency, leading or trailing: a symbol (``$ € £ ¥ ₹`` ... any
    Unicode currency symbol), letters + symbol (``R$``, ``US$``), an ISO code (``USD``,
    ``EUR``, ``RON`` ...) or a word (``lei``, ``kr``, ``zł``); thousands separators
    (``,`` ``.`` spaces, ``'``); a sign, ``(12.00)`` or ``12.00-`` for negatives.
    The decimal separator is the LAST of ``,``/``.`` when both occur (``"1.234,56"`` and
    ``"1,234.56"`` are both 1234.56); a lone ``,`` is a thousands separator when followed by
    exactly three digits after 1-3 digits (``"1,234"`` = 1234), else a decimal comma
    (``"1,5"`` = 1.5); several ``.`` are thousands separators (``"200.000.000"``, csvkit's
    ``test_locale.csv``). ``decimal_comma=True`` (a locale that writes ``1.234,5``: de, fr,
    pt-BR, ro ...) makes ``,`` always the decimal separator and ``.`` a thousands separator
    (``"1,234"`` = 1.234); ``False`` the reverse (``"1,5"`` is refused); ``None`` (default)
    guesses as above. A magnitude suffix multiplies: ``k``/``thousand`` (``"50k"`` = 50000),
    ``m``/``mm``/``mn``/``million`` (``"1.2M"`` = 1200000), ``b``/``bn``/``billion``, any
    case, after the number and before a trailing currency (``"$1.5k"``, ``"2k EUR"``).
    Floats are converted through ``repr`` (``1.1`` -> ``1.1``).

    ``places``: quantize to that many decimal places, rounding half up. ``min_value``:
    inclusive lower bound. NaN/Infinity and anything unparseable -> :class:`FieldError`.
    Blank -> ``None``.
    """
    if is_blank(v):
        return None
    d = _parse_number(v, field, decimal_comma)
    if places is not None:
        d = d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if min_value is not None and d < Decimal(min_value):
        raise FieldError(field, f"must be at least {min_value} (got {d})")
    return d


# --------------------------------------------------------------------------------------------
# boolean / choice
# --------------------------------------------------------------------------------------------

_TRUE = frozenset({"true", "t", "yes", "y", "1", "on"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "off"})


def boolean(v: Any, field: str) -> bool | None:
    """``True``/``False`` from ``true/false``, ``t/f``, ``yes/no``, ``y/n``, ``1/0``,
    ``on/off`` (any case, stripped), Python bools, and the numbers 1/0 (Excel, JSON).
    Anything else -> :class:`FieldError`. Blank -> ``None`` (note ``"none"`` is a null
    token, not False)."""
    if is_blank(v):
        return None
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float, Decimal)) and v in (0, 1):
        return bool(v)
    s = _as_str(v).lower()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise FieldError(field, f"not a yes/no value: {_as_str(v)!r}")


_CHOICE_KEY = re.compile(r"[\s_\-]+")


def _choice_key(s: str) -> str:
    return _CHOICE_KEY.sub("", unicodedata.normalize("NFKC", s)).casefold()


def choice(v: Any, field: str, choices: Mapping[str, str]) -> str | None:
    """The canonical value for one of a fixed set of values.

    ``choices`` maps variants to canonical values (``{"closed won": "closedwon", ...}``);
    each canonical value also matches itself. Matching ignores case, whitespace, ``_`` and
    ``-`` (``"Closed-Won"`` = ``"closed won"`` = ``"CLOSED_WON"``). No match ->
    :class:`FieldError` listing the allowed canonical values. Blank -> ``None``.
    """
    if is_blank(v):
        return None
    s = _as_str(v)
    lookup, allowed = _choice_table(tuple(choices.items()))
    found = lookup.get(_choice_key(s))
    if found is None:
        raise FieldError(field, f"{s!r} is not one of: {allowed}")
    return found


@functools.lru_cache(maxsize=256)
def _choice_table(items: tuple[tuple[str, str], ...]) -> tuple[dict[str, str], str]:
    lookup: dict[str, str] = {}
    for variant, canonical in items:
        lookup.setdefault(_choice_key(canonical), canonical)
    for variant, canonical in items:
        lookup.setdefault(_choice_key(variant), canonical)
    return lookup, ", ".join(sorted({canonical for _, canonical in items}))


# --------------------------------------------------------------------------------------------
# dates and timestamps
# --------------------------------------------------------------------------------------------

# d/m/y, m/d/y, y-m-d with / - or . and an optional time; the separators must agree.
_NUMERIC_DATE = re.compile(
    r"^(?P<a>\d{1,4})(?P<sep>[/.\-])(?P<b>\d{1,2})(?P=sep)(?P<c>\d{1,4})"
    r"(?:[ T]+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,](?P<f>\d{1,6}))?)?"
    r"\s*(?P<ampm>[AaPp]\.?[Mm]\.?)?)?"
    r"\s*(?P<tz>Z|[+-]\d{2}:?\d{2}|UTC|GMT)?$"
)
_HAS_LETTER = re.compile(r"[^\W\d_]")
_US_TZ = {
    "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7,
    "AKST": -9, "AKDT": -8, "HST": -10,
}
_TZINFOS = {name: hours * 3600 for name, hours in _US_TZ.items()}
_DEFAULT_A = _datetime(2001, 1, 1)
_DEFAULT_B = _datetime(2002, 2, 2)


def _year(y: str) -> int:
    n = int(y)
    if len(y) <= 2:
        return n + (2000 if n < 69 else 1900)  # strptime's %y pivot
    return n


def _numeric(s: str, field: str, dayfirst: bool) -> _datetime | None:
    """A naive or aware datetime for the numeric forms, None if ``s`` is not one."""
    m = _NUMERIC_DATE.match(s)
    if not m:
        return None
    a, b, c, sep = m["a"], m["b"], m["c"], m["sep"]
    if len(a) == 4:
        y, mo, d, order = int(a), int(b), int(c), "year-month-day"
        if len(c) > 2:
            raise FieldError(field, f"not a date: {s!r}")
    elif len(c) in (2, 4):
        if sep == "." or dayfirst:
            d, mo, order = int(a), int(b), "day.month.year" if sep == "." else "day/month/year"
        else:
            mo, d, order = int(a), int(b), "month/day/year"
        y = _year(c)
    else:
        raise FieldError(field, f"not a date: {s!r}")
    hour = int(m["H"] or 0)
    if m["ampm"]:
        if not 1 <= hour <= 12:
            raise FieldError(field, f"not a valid time: {s!r}")
        hour = hour % 12 + (12 if m["ampm"][0] in "Pp" else 0)
    try:
        dt = _datetime(y, mo, d, hour, int(m["M"] or 0), int(m["S"] or 0),
                       int((m["f"] or "0").ljust(6, "0")))
    except ValueError:
        raise FieldError(field, f"not a valid date in {order} order: {s!r}") from None
    tz = m["tz"]
    if tz:
        if tz in ("Z", "UTC", "GMT"):
            dt = dt.replace(tzinfo=timezone.utc)
        else:
            sign = -1 if tz[0] == "-" else 1
            digits = tz[1:].replace(":", "")
            dt = dt.replace(tzinfo=timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))))
    return dt


# US month-first dates as exports write them, with an optional time (12-hour with AM/PM, or
# 24-hour): 06/23/2025, 6/23/2025 2:30 PM, 06/23/2025 02:30:00 pm, 06/23/2025 14:30:00.
_US_DATETIME = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})(?: (\d{1,2}):(\d{2})(?::(\d{2}))?(?: ([AaPp])[Mm])?)?\Z")


def us_datetime(s: str) -> _datetime | None:
    """The naive datetime :func:`timestamp` / :func:`date` read (month first) from a US
    date ``s`` written as above (no surrounding spaces, four-digit year), else None (then
    only the full reader can tell, e.g. a bad date or hour, which it reports). A fast path
    of :func:`_numeric` for the common form, never a different answer (tested)."""
    m = _US_DATETIME.match(s)
    if m is None:
        return None
    mo, d, y, hh, mi, ss, ampm = m.groups()
    hour = int(hh) if hh else 0
    if ampm:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if ampm in "Pp" else 0)
    try:
        return _datetime(int(y), int(mo), int(d), hour, int(mi) if mi else 0, int(ss) if ss else 0)
    except ValueError:
        return None


#: Excel's 1900 date system: serial 1 = 1900-01-01; serial 60 is the 1900-02-29 that never
#: was (Lotus 1-2-3's leap-year bug, kept by Excel), so serials from 61 count from 1899-12-30.
_EXCEL_EPOCH = _datetime(1899, 12, 30)
_EXCEL_MAX = 2958465  # 9999-12-31
_EXCEL_NUMBER = re.compile(r"^\d{1,7}(?:\.\d+)?$")


def _excel_serial(v: Any, field: str) -> _datetime | None:
    """The datetime of an Excel serial day number (``45123``, ``45123.5`` = noon; a number
    or its text), or None when ``v`` is not such a number (an 8-digit ``20140102`` is ISO)."""
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float, Decimal)):
        n = float(v)
    elif isinstance(v, str) and _EXCEL_NUMBER.match(v.strip()) and len(v.strip().split(".")[0]) != 8:
        n = float(v)
    else:
        return None
    if not 1 <= n <= _EXCEL_MAX + 1 or 60 <= n < 61:
        raise FieldError(field, f"not an Excel date serial (1-{_EXCEL_MAX}, not 60): {_as_str(v)!r}")
    base = _EXCEL_EPOCH if n >= 61 else _EXCEL_EPOCH + timedelta(days=1)
    return base + timedelta(microseconds=round(n * 86_400_000_000))


def _parse_datetime(v: Any, field: str, dayfirst: bool, excel: bool = False) -> _datetime:
    """A datetime (naive or aware) from a non-blank value; see :func:`date` for the rules."""
    if isinstance(v, _datetime):
        return v
    if isinstance(v, _date):
        return _datetime(v.year, v.month, v.day)
    if excel:
        got = _excel_serial(v, field)
        if got is not None:
            return got
    if isinstance(v, (bool, int, float, Decimal)):
        raise FieldError(field, f"a number is not a date: {v!r}")
    s = _as_str(v)
    # 1. ISO 8601 (what every API and database export writes). Digits-only must be YYYYMMDD.
    if not (s.isdigit() and len(s) != 8) and "/" not in s:  # (ISO never has a "/": skip its exception)
        try:
            return _datetime.fromisoformat(s)
        except ValueError:
            pass
    # 2. The numeric forms people type: 02/01/2014, 2.1.2014, 1/2/14 10:30 PM ...
    got = _numeric(s, field, dayfirst)
    if got is not None:
        return got
    # 3. Anything else must have a letter (a month or day name, a zone); a bare number such
    #    as "4.5" is never a date (csvkit's date_like_number.csv).
    if not _HAS_LETTER.search(s):
        raise FieldError(field, f"not a date: {s!r}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", _dateparser.UnknownTimezoneWarning)
            a = _dateparser.parse(s, dayfirst=dayfirst, default=_DEFAULT_A, tzinfos=_TZINFOS)
            b = _dateparser.parse(s, dayfirst=dayfirst, default=_DEFAULT_B, tzinfos=_TZINFOS)
    except _dateparser.UnknownTimezoneWarning as exc:
        raise FieldError(field, f"unknown time zone name in {s!r}") from None
    except (ValueError, OverflowError):
        raise FieldError(field, f"not a date: {s!r}") from None
    if (a.year, a.month, a.day) != (b.year, b.month, b.day):
        raise FieldError(field, f"incomplete date (needs year, month and day): {s!r}")
    return a


def date(v: Any, field: str, dayfirst: bool = False, *, excel: bool = False) -> _date | None:
    """A calendar date (``datetime.date``).

    Tried in order: ``datetime``/``date`` objects (Excel cells; a datetime gives its date);
    ISO 8601 (``datetime.fromisoformat``: ``2014-01-02``, ``20140102`` — 8 digits only —,
    ``2014-01-02T10:00:00Z`` gives its date as written); the numeric forms ``m/d/Y``,
    ``m/d/y``, ``m-d-Y`` (or ``d/m/Y``... with ``dayfirst=True``, csvkit's
    ``test_date_format.csv``), ``d.m.Y`` (dots are always day-first), ``Y/m/d``, with an
    optional time; then, for text with a month name (``Jan 2, 2014``, ``2 January 2014``,
    ``Thu, 02 Jan 2014``), ``dateutil.parser`` with ``dayfirst``, refusing partial dates
    (``"March 2014"``) instead of filling in today's day. Two-digit years pivot like
    ``strptime``'s ``%y`` (69-99 -> 19xx). A number (``4.5``, csvkit's
    ``date_like_number.csv``) is never a date, and an impossible date in the expected order
    (``31/12/2012`` month-first) is an error, not silently read the other way round.
    ``excel=True`` also reads a number of up to 7 digits (not 8: ``20140102`` stays ISO),
    or its text, as an Excel serial day (``45123`` = 2023-07-16; a spreadsheet saved to CSV
    with an unformatted date column writes these).
    Bad -> :class:`FieldError`. Blank -> ``None``.
    """
    if is_blank(v):
        return None
    dt = _parse_datetime(v, field, dayfirst, excel)
    return _date(dt.year, dt.month, dt.day)


def timestamp(v: Any, field: str, default_tz: tzinfo = timezone.utc, *,
              dayfirst: bool = False, excel: bool = False) -> _datetime | None:
    """A point in time: a timezone-aware ``datetime``.

    Accepts what :func:`date` accepts, plus times (``2014-01-02T10:30:00+02:00``,
    ``1/2/2014 10:30 PM``, ``Thu, 02 Jan 2014 10:30:00 GMT``; the US zone abbreviations EST,
    CDT, PST ... are known, other names are an error rather than silently ignored). A value
    without an offset (naive, or a bare date = midnight) is taken to be in ``default_tz``.
    The offset given is kept (not converted to UTC; aware datetimes compare by instant).
    ISO 8601 with ``Z`` or an offset (``2025-06-18T12:00:00.000Z``) and 12-hour times
    (``06/23/2025 02:30:00 PM``) are read as written. Numbers (epoch seconds or ms are
    ambiguous) -> :class:`FieldError`, unless ``excel=True``: then an Excel serial
    (``45123.5`` = 2023-07-16 12:00, in ``default_tz``) as for :func:`date`.
    Blank -> ``None``.
    """
    if is_blank(v):
        return None
    dt = _parse_datetime(v, field, dayfirst, excel)
    if dt.tzinfo is None or dt.tzinfo.utcoffset(dt) is None:
        dt = dt.replace(tzinfo=default_tz)
    return dt


_TIME = re.compile(r"^(?P<H>\d{1,2})(?::(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,](?P<f>\d{1,6}))?)?)?"
                   r"\s*(?P<ampm>[AaPp]\.?[Mm]\.?)?$")


def time_of_day(v: Any, field: str, *, excel: bool = False) -> _time | None:
    """A time of day (``datetime.time``, naive): ``14:30``, ``14:30:05``, ``14:30:05.250``,
    12-hour ``2:30 PM``, ``02:30:00 pm``, ``2 PM``, ``2:30 a.m.``; ISO ``T14:30:00``; a
    ``time`` or ``datetime`` object (its time). ``excel=True`` also reads a day fraction
    (``0.5`` = 12:00, as Excel stores times). A bare hour needs AM/PM (``14`` alone is not a
    time). Bad (``25:00``, ``13 PM``, ``TBD``) -> :class:`FieldError`. Blank -> ``None``.
    """
    if is_blank(v):
        return None
    if isinstance(v, _datetime):
        return v.time()
    if isinstance(v, _time):
        return v
    if excel and isinstance(v, (int, float, Decimal, str)) and not isinstance(v, bool):
        try:
            frac = float(v)
        except ValueError:
            frac = None
        if frac is not None and 0 <= frac < 1:
            us = round(frac * 86_400_000_000)
            return (_datetime.min + timedelta(microseconds=min(us, 86_399_999_999))).time()
    s = _as_str(v).lstrip("T")
    m = _TIME.match(s)
    if not m or (m["M"] is None and not m["ampm"]):
        raise FieldError(field, f"not a time of day: {s!r}")
    hour = int(m["H"])
    if m["ampm"]:
        if not 1 <= hour <= 12:
            raise FieldError(field, f"not a 12-hour time: {s!r}")
        hour = hour % 12 + (12 if m["ampm"][0] in "Pp" else 0)
    try:
        return _time(hour, int(m["M"] or 0), int(m["S"] or 0), int((m["f"] or "0").ljust(6, "0")))
    except ValueError:
        raise FieldError(field, f"not a valid time: {s!r}") from None


# --------------------------------------------------------------------------------------------
# US postal: ZIP codes and states
# --------------------------------------------------------------------------------------------

_ZIP = re.compile(r"^(\d{3,5})(?:\s*-\s*(\d{4})?)?$")
_ZIP_DIGITS = re.compile(r"^\d{8,9}$")


def zipcode(v: Any, field: str, *, plus4: bool = True) -> str | None:
    """A US ZIP code as text: ``'02134'`` or, ZIP+4, ``'02134-1234'``.

    Read the way spreadsheets mangle them: Excel's leading apostrophe (``'02134``, typed to
    keep the zero) is dropped; a number that lost its leading zeros (``2134``, ``501``, or
    ``2134.0`` from a float column) is padded back to 5 digits; 9 digits (or 8: a ZIP+4 that
    lost its zero) are split 5-4; ``12345-`` is ``12345``. ``plus4=False`` keeps only the 5
    digits. Anything else (letters, 6 or 7 digits) -> :class:`FieldError`
    ``"not a US ZIP code: ..."``. Blank -> ``None``.
    """
    if type(v) is str and len(v) == 5 and v.isdigit() and v.isascii():
        return v  # the common case, as the rules below read it
    if is_blank(v):
        return None
    if isinstance(v, bool):
        raise FieldError(field, "not a US ZIP code: a boolean")
    s = _as_str(v).lstrip("'\u2019").strip()
    if _FLOAT_ZIP.match(s):
        s = s.split(".", 1)[0]
    if _ZIP_DIGITS.match(s):
        s = s.zfill(9)
        s = s[:5] + "-" + s[5:]
    m = _ZIP.match(s)
    if not m:
        raise FieldError(field, f"not a US ZIP code: {_as_str(v)!r}")
    five = m[1].zfill(5)
    return five + "-" + m[2] if plus4 and m[2] else five


_FLOAT_ZIP = re.compile(r"^\d{3,9}\.0+$")

#: USPS codes of the states, DC, the territories and the military "states".
US_STATES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
    "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia",
    "FL": "Florida", "GA": "Georgia", "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois",
    "IN": "Indiana", "IA": "Iowa", "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana",
    "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan", "MN": "Minnesota",
    "MS": "Mississippi", "MO": "Missouri", "MT": "Montana", "NE": "Nebraska", "NV": "Nevada",
    "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico", "NY": "New York",
    "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma", "OR": "Oregon",
    "PA": "Pennsylvania", "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota",
    "TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont", "VA": "Virginia",
    "WA": "Washington", "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming",
    "AS": "American Samoa", "GU": "Guam", "MP": "Northern Mariana Islands", "PR": "Puerto Rico",
    "VI": "U.S. Virgin Islands", "UM": "U.S. Minor Outlying Islands", "FM": "Micronesia",
    "MH": "Marshall Islands", "PW": "Palau",
    "AA": "Armed Forces Americas", "AE": "Armed Forces Europe", "AP": "Armed Forces Pacific",
}
_STATE_KEY = re.compile(r"[\W_]+")


def _state_key(s: str) -> str:
    return _STATE_KEY.sub("", unicodedata.normalize("NFKC", s)).casefold()


_STATE_LOOKUP = {
    **{_state_key(name): code for code, name in US_STATES.items()},
    **{_state_key(code): code for code in US_STATES},
    _state_key("Washington DC"): "DC", _state_key("Washington D.C."): "DC",
    _state_key("Virgin Islands"): "VI", _state_key("US Virgin Islands"): "VI",
    _state_key("Federated States of Micronesia"): "FM",
}


def us_state(v: Any, field: str) -> str | None:
    """A US state (or DC, territory, military state) as its two-letter USPS code
    (:data:`US_STATES`), from the code in any case (``ca``, ``C.A.``) or the name
    (``California``, ``new york``, ``District of Columbia``, ``Washington, D.C.``).
    Anything else -> :class:`FieldError` ``"not a US state: ..."``. Blank -> ``None``.
    """
    if is_blank(v):
        return None
    s = _as_str(v)
    code = _STATE_LOOKUP.get(_state_key(s))
    if code is None:
        raise FieldError(field, f"not a US state: {s!r}")
    return code


# --------------------------------------------------------------------------------------------
# JSON cells
# --------------------------------------------------------------------------------------------

def json_cell(v: Any, field: str) -> Any:
    """A JSON value written in a cell (``["a","b"]``, ``{"k": 1}``) parsed into Python
    (``list``, ``dict``, ``str``, numbers, booleans); a ``dict`` or ``list`` (a JSON
    reader's value) is returned as it is. Invalid JSON -> :class:`FieldError`
    ``"not valid JSON: ..."`` with the parser's message. Blank -> ``None`` (and so is JSON
    ``null``)."""
    if isinstance(v, (dict, list)):
        return v
    if is_blank(v):
        return None
    import orjson

    try:
        return orjson.loads(_as_str(v))
    except orjson.JSONDecodeError as exc:
        raise FieldError(field, f"not valid JSON: {exc}") from None
