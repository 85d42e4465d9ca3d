"""Profile photos (seed 000, "Photo URL Types"): fetch, check, store, deduplicate.

A ``profile_photo_url`` is one of:

1. an S3 object: ``s3://bucket/key``, virtual-hosted
   ``https://bucket.s3[.-]region.amazonaws.com/key`` or path-style
   ``https://s3[.-]region.amazonaws.com/bucket/key`` — read with boto3 (honours
   ``AWS_ENDPOINT_URL``) only when the bucket is the store's own or listed in
   ``allowed_buckets`` (the pipeline's credentials must not read just any bucket a fixture
   names); an https URL of another bucket is downloaded as a public URL (rule 3), and an
   ``s3://`` URI of another bucket is refused;
2. a URI of the configured BlobStore (an exported fixture's photos): read in place;
3. any other http(s) URL: downloaded through :meth:`HttpClient.download` (public
   addresses only, size limit, ``image/*`` content type);
4. a path relative to the fixture file, confined to the fixture's folder (no ``..``, no
   absolute paths).

The bytes must decode as an image (Pillow: JPEG, PNG, GIF, WebP) no larger than the limit.
Photos are stored once per content under ``media/entity_photos/<sha256>.<ext>``; a photo whose
content is already stored is *reused*.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

from ...engine.landing import Location
from ...resources.http import DownloadRefused, HttpClient
from ...resources.storage import BlobStore, S3BlobStore

PHOTO_PREFIX = "media/entity_photos"
IMAGE_FORMATS = {"JPEG": ("jpg", "image/jpeg"), "PNG": ("png", "image/png"), "GIF": ("gif", "image/gif"),
                 "WEBP": ("webp", "image/webp")}
_VHOST = re.compile(r"^(?P<bucket>[a-z0-9.\-]+)\.s3(?:[.-](?P<region>[a-z0-9-]+))?\.amazonaws\.com$")
_PATH = re.compile(r"^s3(?:[.-](?P<region>[a-z0-9-]+))?\.amazonaws\.com$")


class PhotoError(Exception):
    """A photo could not be fetched or is not acceptable; ``str()`` is the reason."""


@dataclass
class StoredPhoto:
    """A photo in the BlobStore: ``uri``, ``sha256`` (hex), ``size`` (bytes), ``reused``
    (True when that content was already stored)."""

    uri: str
    sha256: str
    size: int
    reused: bool


def parse_s3_url(url: str) -> tuple[str, str] | None:
    """(bucket, key) of an S3 URL in any of the three forms, else None."""
    if url.startswith("s3://"):
        bucket, _, key = url[5:].partition("/")
        return (bucket, key) if bucket and key else None
    p = urlparse(url)
    if p.scheme not in ("http", "https") or not p.hostname:
        return None
    host = p.hostname.lower()
    path = unquote(p.path.lstrip("/"))
    m = _VHOST.match(host)
    if m and path:
        return m.group("bucket"), path
    if _PATH.match(host):
        bucket, _, key = path.partition("/")
        return (bucket, key) if bucket and key else None
    return None


def _read_limited(stream, max_bytes: int) -> bytes:
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise PhotoError(f"too large: over the limit of {max_bytes:,} bytes")
    return data


def fetch_photo(ref: str, fixture: Location, store: BlobStore, http: HttpClient, max_bytes: int,
                allowed_buckets: frozenset[str] = frozenset()) -> bytes:
    """The bytes of the photo ``ref`` (module docstring for the forms). Raises :class:`PhotoError`."""
    ref = ref.strip()
    own_key = store.key_from_uri(ref) if "://" in ref else None
    if own_key is not None:
        try:
            with store.open(own_key) as f:
                return _read_limited(f, max_bytes)
        except FileNotFoundError:
            raise PhotoError(f"not found in storage: {ref}") from None
    if ref.startswith("file://"):
        raise PhotoError("file:// URLs outside the storage are not allowed; use a path relative to the fixture")
    s3 = parse_s3_url(ref)
    own_bucket = getattr(store, "bucket", None)
    if s3 is not None and s3[0] != own_bucket and s3[0] not in allowed_buckets:
        if ref.startswith("s3://"):
            raise PhotoError(f"bucket {s3[0]!r} is not allowed (the store's bucket or photo_s3_buckets)")
        s3 = None  # an https URL of another bucket: a public download below
    if s3 is not None:
        bucket, key = s3
        try:
            src = S3BlobStore(bucket=bucket, prefix="")
            with src.open(key) as body:
                return _read_limited(body, max_bytes)
        except PhotoError:
            raise
        except Exception as e:  # noqa: BLE001 - any boto failure: try the public URL, else report
            if ref.startswith("s3://"):
                raise PhotoError(f"S3 read failed: {type(e).__name__}: {str(e)[:200]}") from None
    if ref.lower().startswith(("http://", "https://")):
        try:
            return http.download(ref, allowed_types=("image/",), max_bytes=max_bytes).content
        except DownloadRefused as e:
            raise PhotoError(e.reason) from None
    if "://" in ref:
        raise PhotoError(f"unsupported URL scheme in {ref[:40]!r}")
    try:
        loc = fixture.sibling(ref)
    except ValueError as e:
        raise PhotoError(str(e)) from None
    try:
        with loc.open() as f:
            return _read_limited(f, max_bytes)
    except (FileNotFoundError, IsADirectoryError):
        raise PhotoError(f"local photo not found: {ref}") from None


def image_kind(data: bytes) -> tuple[str, str]:
    """(file extension, content type) of image bytes; :class:`PhotoError` if not an image."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = img.format
            img.verify()
    except Image.DecompressionBombError:
        raise PhotoError("image dimensions too large (decompression bomb guard)") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise PhotoError(f"not an image ({type(e).__name__})") from None
    if fmt not in IMAGE_FORMATS:
        raise PhotoError(f"image format {fmt} not accepted (JPEG, PNG, GIF, WebP)")
    return IMAGE_FORMATS[fmt]


def store_photo(store: BlobStore, data: bytes, *, dry_run: bool = False) -> StoredPhoto:
    """Check ``data`` is an image and store it by content hash (nothing written when ``dry_run``)."""
    ext, ctype = image_kind(data)
    digest = hashlib.sha256(data).hexdigest()
    key = f"{PHOTO_PREFIX}/{digest}.{ext}"
    reused = store.exists(key)
    if not reused and not dry_run:
        store.put_bytes(key, data, content_type=ctype)
    return StoredPhoto(uri=store.uri(key), sha256=digest, size=len(data), reused=reused)
