"""Landing a generated dataset in the BlobStore (the seed's ``bulk_ingest.py`` upload part).

``tenants.csv`` goes to ``tenants/tenants.csv``; each tenant's data file to
``tenants/<tenant_id>/<file name>``. Uploads run concurrently (a bounded thread pool); a
file whose name is not a tenant data file (manifests, summaries) is not uploaded. A local
store on the data's filesystem lands each file as a read-only hard link, not a byte copy
(``LocalBlobStore``: why it is safe, and the trade-off).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ...resources.storage import BlobStore
from .loading import landing_prefix
from .names import TENANTS_CSV_KEY
from .records import entity_of


@dataclass(frozen=True)
class PlannedUpload:
    """One file to land: ``path`` (local), ``key`` (BlobStore key), ``tenant_id`` ('' for tenants.csv), ``size`` bytes."""

    path: Path
    key: str
    tenant_id: str
    size: int


def plan_uploads(data_dir: str | Path, tenant_id: str | None = None) -> list[PlannedUpload]:
    """What :func:`upload` would land from ``data_dir`` (only ``tenant_id``'s files when given;
    tenants.csv always). Raises ``FileNotFoundError`` when ``data_dir`` is not a folder."""
    d = Path(data_dir)
    if not d.is_dir():
        raise FileNotFoundError(f"not a folder: {d}")
    out = []
    csv = d / "tenants.csv"
    if csv.is_file():
        out.append(PlannedUpload(csv, TENANTS_CSV_KEY, "", csv.stat().st_size))
    for p in sorted(d.iterdir()):
        # with a tenant given, its names are matched exactly (its id may contain '_')
        parsed = entity_of(p.name, tenant_id) if tenant_id else entity_of(p.name)
        if not parsed or not p.is_file():
            continue
        tid = parsed[1]
        if tenant_id and tid != tenant_id:
            continue
        out.append(PlannedUpload(p, landing_prefix(tid) + p.name, tid, p.stat().st_size))
    return out


def upload(store: BlobStore, plan: list[PlannedUpload], *, concurrency: int = 8,
           on_done: Callable[[PlannedUpload], None] | None = None) -> list[str]:
    """Land every planned file (at most ``concurrency`` at a time); returns their URIs in plan
    order. Data files go first and tenants.csv last, so a sensor that sees tenants.csv also
    sees the data. Errors of a single upload propagate (after the others finish)."""
    data = [p for p in plan if p.tenant_id]
    last = [p for p in plan if not p.tenant_id]

    def one(p: PlannedUpload) -> str:
        uri = store.put_file(p.key, p.path, content_type="application/x-ndjson" if p.tenant_id else "text/csv", link=True)
        if on_done:
            on_done(p)
        return uri

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        uris = dict(zip(data, pool.map(one, data)))
    for p in last:
        uris[p] = one(p)
    return [uris[p] for p in plan]
