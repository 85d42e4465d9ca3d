"""BlobStore: where landing files, photos and result files live (DESIGN.md §2, §3).

``STORAGE_URL`` picks the implementation: a local path gives :class:`LocalBlobStore`, an
``s3://bucket/prefix`` URL gives :class:`S3BlobStore` (dagster-aws ``S3Resource`` inside,
honouring ``AWS_ENDPOINT_URL`` for MinIO / moto). Assets type their parameter as
:class:`BlobStore`, so tests and local runs swap the implementation, not the asset.

Keys are ``/``-separated relative paths (``artists/fixture.json``); a key never escapes the
store's root (``..`` and absolute keys raise ``ValueError``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import posixpath
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

from dagster import ConfigurableResource
from pydantic import Field, PrivateAttr


@dataclass(frozen=True)
class BlobObject:
    """One stored object: ``key`` (relative to the store root), ``size`` (bytes),
    ``last_modified`` (aware UTC datetime), ``etag`` (S3 ETag or a size+mtime token locally),
    ``uri`` (``file:///...`` path or ``s3://bucket/key``)."""

    key: str
    size: int
    last_modified: dt.datetime
    etag: str
    uri: str


def clean_key(key: str) -> str:
    """Normalise a relative key; raises ``ValueError`` for absolute keys or ``..`` escapes."""
    k = key.replace("\\", "/").strip()
    if k.startswith("/") or (len(k) > 1 and k[1] == ":"):
        raise ValueError(f"absolute key not allowed: {key!r}")
    norm = posixpath.normpath(k) if k else ""
    if norm in ("", ".") or norm == ".." or norm.startswith("../"):
        raise ValueError(f"key escapes the store: {key!r}")
    return norm


class BlobStore(ConfigurableResource):
    """Abstract blob store. Subclasses implement the byte operations below."""

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> str:
        """Store ``data`` at ``key``; returns the object's URI."""
        raise NotImplementedError

    def put_file(self, key: str, path: str | Path, content_type: str | None = None, *, link: bool = False) -> str:
        """Store the local file at ``path`` under ``key`` (streamed); returns the URI.

        ``link=True`` lets the store share the file's bytes instead of copying them where it
        can (:class:`LocalBlobStore`: a hard link, made read-only; see there); S3 uploads."""
        raise NotImplementedError

    def open(self, key: str) -> BinaryIO:
        """A readable binary stream of ``key``; ``FileNotFoundError`` when absent."""
        raise NotImplementedError

    def get_bytes(self, key: str) -> bytes:
        with self.open(key) as f:
            return f.read()

    def exists(self, key: str) -> bool:
        raise NotImplementedError

    def delete(self, key: str) -> None:
        raise NotImplementedError

    def list(self, prefix: str = "", start_after: str | None = None, limit: int | None = None) -> Iterator[BlobObject]:
        """Objects under ``prefix`` in key order, after ``start_after`` (for paging)."""
        raise NotImplementedError

    def uri(self, key: str) -> str:
        """The URI of ``key`` (``file:///abs/path`` or ``s3://bucket/prefix/key``)."""
        raise NotImplementedError

    def key_from_uri(self, uri: str) -> str | None:
        """The key of a URI inside this store, or None when it points elsewhere."""
        raise NotImplementedError

    def presigned_url(self, key: str, expires_in: int = 3600) -> str:
        """A URL to download ``key`` (S3: presigned for ``expires_in`` seconds; local: file URI)."""
        return self.uri(key)

    def is_remote(self) -> bool:
        return False


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _read_only_link(src: Path, dst: Path) -> bool:
    """Hard-link ``src`` at ``dst`` and take the write permission off the (shared) file;
    False, with nothing made, when the link is refused (another filesystem, no links)."""
    try:
        os.link(src, dst)
    except OSError:
        return False
    mode = os.stat(dst).st_mode
    os.chmod(dst, mode & ~0o222)
    return True


class LocalBlobStore(BlobStore):
    """Blobs as files under ``root`` (default: ``STORAGE_URL`` or ``<state>/storage``).

    ``put_file(..., link=True)`` (``ingest bulk-ingest``) lands a file on the store's
    filesystem as a hard link instead of a byte copy (5 M tenant rows are ~1 GB: the copy and
    its write-back cost seconds). The landed file and the source are then one file, so the
    link also takes the write permission off both: an in-place edit of the source (``>>``, an
    editor writing in place) fails instead of silently changing a file that was loaded.
    Editors that save by writing a new file and renaming it break the link, and the landed
    file keeps the bytes that were landed. The trade-off, for root (permissions do not stop
    it) or after a ``chmod u+w``: an in-place write changes the landed file too. That is never
    a silent change of loaded rows: the ledger keeps the sha256 of the bytes each load parsed
    (a first load hashes as it reads), the file's etag (size + modification time) changes, so
    the landing sensor hashes it again and loads the new content as a new version, as if it
    had been landed again; only the bytes behind the earlier ledger row's URI are gone.
    Another filesystem (``EXDEV``) or a refused link falls back to a copy.
    """

    root: str = Field(description="Folder that holds every object.")

    def _path(self, key: str) -> Path:
        return Path(self.root) / clean_key(key)

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> str:
        p = self._path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(p.name + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, p)
        return self.uri(key)

    def put_file(self, key: str, path: str | Path, content_type: str | None = None, *, link: bool = False) -> str:
        p = self._path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        if link and p.exists() and os.path.samefile(path, p):  # landed by an earlier link
            return self.uri(key)
        tmp = p.with_name(p.name + ".part")
        tmp.unlink(missing_ok=True)
        if not (link and _read_only_link(Path(path), tmp)):
            shutil.copyfile(path, tmp)
        os.replace(tmp, p)
        return self.uri(key)

    def open(self, key: str) -> BinaryIO:
        return open(self._path(key), "rb")

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def list(self, prefix: str = "", start_after: str | None = None, limit: int | None = None) -> Iterator[BlobObject]:
        root = Path(self.root)
        base = root / clean_key(prefix) if prefix.strip("/") else root
        if not base.exists():
            return
        keys = []
        for dirpath, _dirs, files in os.walk(base):
            for name in files:
                if name.endswith(".part"):
                    continue
                keys.append(Path(dirpath, name).relative_to(root).as_posix())
        keys.sort()
        n = 0
        for k in keys:
            if start_after is not None and k <= start_after:
                continue
            st = (root / k).stat()
            yield BlobObject(
                key=k, size=st.st_size,
                last_modified=dt.datetime.fromtimestamp(st.st_mtime, dt.timezone.utc),
                etag=f"{st.st_size:x}-{st.st_mtime_ns:x}", uri=self.uri(k))
            n += 1
            if limit is not None and n >= limit:
                return

    def uri(self, key: str) -> str:
        return self._path(key).resolve().as_uri()

    def key_from_uri(self, uri: str) -> str | None:
        if uri.startswith("file://"):
            from urllib.parse import unquote, urlparse

            path = Path(unquote(urlparse(uri).path))
        elif uri.startswith("/"):
            path = Path(uri)
        else:
            return None
        try:
            return path.resolve().relative_to(Path(self.root).resolve()).as_posix()
        except ValueError:
            return None


class S3BlobStore(BlobStore):
    """Blobs in ``s3://bucket/prefix`` through dagster-aws's ``S3Resource`` (boto3).

    ``endpoint_url`` defaults to ``AWS_ENDPOINT_URL`` (MinIO, moto server); credentials come
    from the usual AWS environment / profile chain, never from this config.
    """

    bucket: str
    prefix: str = ""
    endpoint_url: str | None = Field(default_factory=lambda: os.environ.get("AWS_ENDPOINT_URL") or None)
    region_name: str | None = Field(default_factory=lambda: os.environ.get("AWS_DEFAULT_REGION") or "us-east-1")

    _client = PrivateAttr(default=None)

    @property
    def client(self):
        if self._client is None:
            from dagster_aws.s3 import S3Resource

            self._client = S3Resource(endpoint_url=self.endpoint_url, region_name=self.region_name).get_client()
        return self._client

    def _full(self, key: str) -> str:
        k = clean_key(key)
        p = self.prefix.strip("/")
        return f"{p}/{k}" if p else k

    def _rel(self, full: str) -> str:
        p = self.prefix.strip("/")
        return full[len(p) + 1:] if p else full

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> str:
        extra = {"ContentType": content_type} if content_type else {}
        self.client.put_object(Bucket=self.bucket, Key=self._full(key), Body=data, **extra)
        return self.uri(key)

    def put_file(self, key: str, path: str | Path, content_type: str | None = None, *, link: bool = False) -> str:
        extra = {"ExtraArgs": {"ContentType": content_type}} if content_type else {}
        self.client.upload_file(str(path), self.bucket, self._full(key), **extra)
        return self.uri(key)

    def open(self, key: str) -> BinaryIO:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._full(key))["Body"]
        except self.client.exceptions.NoSuchKey as e:
            raise FileNotFoundError(self.uri(key)) from e

    def get_bytes(self, key: str) -> bytes:
        body = self.open(key)
        try:
            return body.read()
        finally:
            body.close()

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._full(key))
            return True
        except ClientError:
            return False

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._full(key))

    def list(self, prefix: str = "", start_after: str | None = None, limit: int | None = None) -> Iterator[BlobObject]:
        full_prefix = self._full(prefix) if prefix.strip("/") else self.prefix.strip("/")
        if full_prefix and prefix.endswith("/"):
            full_prefix += "/"
        elif full_prefix and not prefix:
            full_prefix += "/"
        kwargs = {"Bucket": self.bucket, "Prefix": full_prefix}
        if start_after:
            kwargs["StartAfter"] = self._full(start_after)
        n = 0
        for page in self.client.get_paginator("list_objects_v2").paginate(**kwargs):
            for o in page.get("Contents", []):
                rel = self._rel(o["Key"])
                yield BlobObject(key=rel, size=o["Size"], last_modified=o["LastModified"],
                                 etag=o["ETag"].strip('"'), uri=f"s3://{self.bucket}/{o['Key']}")
                n += 1
                if limit is not None and n >= limit:
                    return

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._full(key)}"

    def key_from_uri(self, uri: str) -> str | None:
        head = f"s3://{self.bucket}/"
        if not uri.startswith(head):
            return None
        full = uri[len(head):]
        p = self.prefix.strip("/")
        if p and not full.startswith(p + "/"):
            return None
        return self._rel(full)

    def presigned_url(self, key: str, expires_in: int = 3600) -> str:
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": self._full(key)}, ExpiresIn=expires_in)

    def is_remote(self) -> bool:
        return True


def blob_store_from_url(url: str | None = None) -> BlobStore:
    """The store for ``url`` (default ``STORAGE_URL``): ``s3://bucket/prefix`` or a local path."""
    from ..settings import default_storage_url

    url = url or default_storage_url()
    if url.startswith("s3://"):
        rest = url[len("s3://"):]
        bucket, _, prefix = rest.partition("/")
        return S3BlobStore(bucket=bucket, prefix=prefix.strip("/"))
    if url.startswith("file://"):
        from urllib.parse import unquote, urlparse

        url = unquote(urlparse(url).path)
    Path(url).mkdir(parents=True, exist_ok=True)
    return LocalBlobStore(root=str(Path(url).resolve()))
