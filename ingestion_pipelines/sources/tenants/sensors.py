"""The landing sensor of the tenants source (DESIGN.md §6).

It is the shared :func:`~ingestion_pipelines.engine.sensors.landing_sensor` over ``tenants/`` in
the BlobStore (``STORAGE_URL``: a local folder or an S3 prefix; cursor = last-modified
watermark, listings paged across ticks, 5,000 objects per tick, the files hashed on threads),
and returns one ``SensorResult`` that

* registers every tenant folder not yet a partition of ``tenants`` (``AddDynamicPartitionsRequest``),
* requests one run of ``tenants_files_job`` per tenant with new files (``partition_key=`` the
  tenant), whose ``run_key`` is built from the new files' content hashes (sha256 locally, the
  ETag on S3) — the seed's Idempotency-Key: the same upload never runs twice; from a local
  store the run's config hands each entity asset the sha256 of its files, so the run does
  not read each file a second time to hash it (``TenantFilesConfig.landed_sha256``),
* requests a run of ``tenants_load_job`` when ``tenants/tenants.csv`` changed.
"""

from __future__ import annotations

import functools
import hashlib
import posixpath
from typing import NamedTuple

from dagster import AddDynamicPartitionsRequest, RunConfig, RunRequest, SensorEvaluationContext

from ...engine.sensors import Landed, LandingSpec, Requests, landed_since, landing_sensor
from ...resources.storage import BlobObject, BlobStore
from .assets import LoadTenantsConfig, TenantFilesConfig, tenant_partitions
from .jobs import tenants_files_job, tenants_load_job
from .names import LANDING_PREFIX, TENANTS_CSV_KEY
from .records import TENANT_ID_RE, entity_of



class TickPlan(NamedTuple):
    """One tick's decisions (see :func:`plan_tick`)."""

    #: tenant ids seen for the first time (to register as partitions), sorted
    new_tenants: list[str]
    #: tenant id -> run_key of its run (``tenants:<tenant>:<digest of the files' content tokens>``)
    run_keys: dict[str, str]
    #: content token of ``tenants/tenants.csv`` when it changed, else None
    csv_token: str | None
    #: the cursor to store
    cursor: str
    #: tenant id -> entity -> {key: "<sha256>@<etag>"} of its new files, from a local store
    #: (whose files the tick hashed; S3 gives ETags instead, and nothing here): handed to the
    #: run, which then need not hash a file again while its etag (size + mtime) is unchanged
    landed_sha256: dict[str, dict[str, dict[str, str]]]


@functools.lru_cache(maxsize=1 << 14)  # asked by _accept, then by _plan: parsed once
def _entity(key: str) -> str | None:
    """The entity of a key ``tenants/<tenant_id>/<entity>_<tenant_id>[...].ndjson[.gz]``, else None."""
    parts = key.split("/")
    if len(parts) != 3 or not TENANT_ID_RE.match(parts[1]):
        return None
    parsed = entity_of(posixpath.basename(key), parts[1])
    return parsed[0] if parsed else None


def _accept(context, obj: BlobObject) -> bool:
    """``tenants/tenants.csv`` and tenant files; nothing else is hashed."""
    return obj.key == TENANTS_CSV_KEY or _entity(obj.key) is not None


def plan_tick(store: BlobStore, cursor: str | None, known: set[str], page_size: int = 5000) -> TickPlan:
    """One tick's decisions, without Dagster (a :class:`TickPlan`).

    Only ``tenants/tenants.csv`` and keys shaped
    ``tenants/<tenant_id>/<entity>_<tenant_id>[...].ndjson[.gz]`` count."""
    landed, cursor = landed_since(SPEC, store, cursor, page_size=page_size)
    return _plan(landed, cursor, known, store.is_remote())


def _plan(landed: list[Landed], cursor: str, known: set[str], remote: bool) -> TickPlan:
    """:func:`plan_tick` from the tick's accepted new objects and their content tokens."""
    per_tenant: dict[str, list[Landed]] = {}
    csv_token = None
    for f in landed:
        if f.obj.key == TENANTS_CSV_KEY:
            csv_token = f.token
        else:
            per_tenant.setdefault(f.obj.key.split("/")[1], []).append(f)
    run_keys = {}
    landed_sha: dict[str, dict[str, dict[str, str]]] = {}
    for tid, files in per_tenant.items():
        items = sorted(f"{f.obj.key}={f.token}" for f in files)
        digest = hashlib.sha256("\n".join(items).encode()).hexdigest()[:40]
        run_keys[tid] = f"tenants:{tid}:{digest}"
        if not remote:  # the tokens are the files' sha256
            for f in files:
                entity = _entity(f.obj.key)
                landed_sha.setdefault(tid, {}).setdefault(entity, {})[f.obj.key] = f"{f.token}@{f.obj.etag}"
    new_tenants = sorted(t for t in per_tenant if t not in known)
    return TickPlan(new_tenants, run_keys, csv_token, cursor, landed_sha)


def files_run_config(landed_sha256: dict[str, dict[str, str]]) -> RunConfig:
    """The run config of a tenant's ``tenants_files_job`` run handing each entity asset the
    sha256 of its files the tick computed (``{entity: {key: "sha256@etag"}}`` ->
    ``TenantFilesConfig.landed_sha256`` of op ``tenants__<entity>``)."""
    return RunConfig(ops={f"tenants__{e}": TenantFilesConfig(landed_sha256=files)
                          for e, files in sorted(landed_sha256.items())})


def _requests(context: SensorEvaluationContext, landed: list[Landed]) -> Requests:
    """The tick's runs and the new tenants' partitions, in one ``SensorResult``."""
    known = set(context.instance.get_dynamic_partitions(tenant_partitions.name))
    new_tenants, run_keys, csv_token, _cursor, landed_sha = _plan(landed, "", known,
                                                                  context.resources.blob_store.is_remote())
    requests = []
    if csv_token:
        requests.append(RunRequest(job_name=tenants_load_job.name, run_key=f"tenants.csv:{csv_token}",
                                   run_config=RunConfig(ops={"tenants__tenants": LoadTenantsConfig(file=TENANTS_CSV_KEY)})))
    for tid, rk in sorted(run_keys.items()):
        requests.append(RunRequest(job_name=tenants_files_job.name, partition_key=tid, run_key=rk,
                                   run_config=files_run_config(landed_sha.get(tid, {}))))
    if new_tenants or run_keys:
        context.log.info(f"{len(new_tenants)} new tenant(s), {len(run_keys)} tenant run(s) requested")
    partitions = [AddDynamicPartitionsRequest(tenant_partitions.name, new_tenants)] if new_tenants else []
    return Requests(requests, partitions)


SPEC = LandingSpec(
    name="tenants_landing_sensor", prefix=LANDING_PREFIX, jobs=[tenants_load_job, tenants_files_job],
    requests=_requests, accept=_accept, suffixes=(".ndjson", ".ndjson.gz", ".csv"), page_size=5000,
    description="Registers new tenants and requests one run per tenant for its newly landed files.")
tenants_landing_sensor = landing_sensor(SPEC)
