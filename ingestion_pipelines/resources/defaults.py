"""The shared resources every source's assets receive, built from the environment.

Resource keys (contracts for every source): ``warehouse`` (:class:`WarehouseResource`),
``blob_store`` (:class:`BlobStore`), ``http`` (:class:`HttpClient`).
"""

from __future__ import annotations

import os

from dagster import EnvVar

from .http import HttpClient
from .storage import blob_store_from_url
from .warehouse import WarehouseResource


def shared_resources() -> dict:
    """``{"warehouse", "blob_store", "http"}`` for ``Definitions``.

    ``WAREHOUSE_URL`` may carry a password, so when it is set it reaches the resource as an
    ``EnvVar`` (the UI shows the variable's name, never its value).
    """
    warehouse = WarehouseResource(url=EnvVar("WAREHOUSE_URL")) if os.environ.get("WAREHOUSE_URL") else WarehouseResource()
    return {
        "warehouse": warehouse,
        "blob_store": blob_store_from_url(),
        "http": HttpClient(),
    }
