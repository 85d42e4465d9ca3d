"""Shared ConfigurableResources (DESIGN.md §2): warehouse, blob storage, HTTP, MySQL."""

from .http import DownloadRefused, HttpClient
from .mysql import MySQLResource
from .storage import BlobObject, BlobStore, LocalBlobStore, S3BlobStore, blob_store_from_url
from .warehouse import WarehouseResource

__all__ = [
    "BlobObject", "BlobStore", "DownloadRefused", "HttpClient", "LocalBlobStore", "MySQLResource",
    "S3BlobStore", "WarehouseResource", "blob_store_from_url",
]
