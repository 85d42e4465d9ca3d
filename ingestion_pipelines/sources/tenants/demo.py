"""``ingest demo``'s tenants step: a small generated dataset, landed and loaded (offline).

One op job, ``tenants_demo_job``: generate 3 tenants (a few thousand rows each, a few
defects) into a temporary folder, land it in the BlobStore (``tenants/...``), then launch on
the same instance a ``tenants_load_job`` run and one ``tenants_files_job`` run per tenant
partition — so the UI shows the real asset runs, exactly as the landing sensor would.
"""


import tempfile

from dagster import Config, Failure, job, op
from pydantic import Field

from ...resources.storage import BlobStore
from .generator import generate
from .upload import plan_uploads, upload


class DemoConfig(Config):
    """Size of the demo dataset."""

    tenants: int = Field(default=3, description="Tenants to generate.")
    products_per_tenant: int = Field(default=400, description="Products per tenant.")
    orders_per_tenant: int = Field(default=1000, description="Orders per tenant (1-6 items each).")
    defects: float = Field(default=0.002, description="Probability of a bad line before each good one.")
    seed: int = Field(default=7, description="Generator seed.")


@op(description="Generate a small tenant dataset, land it, and run the tenant assets on it.")
def tenants_demo_op(context, config: DemoConfig, blob_store: BlobStore) -> None:
    from ...launch import launch, materializations

    with tempfile.TemporaryDirectory(prefix="tenants-demo-") as tmp:
        summary = generate(tmp, tenants=config.tenants, products_per_tenant=config.products_per_tenant,
                           orders_per_tenant=config.orders_per_tenant, chunk_size=5000, seed=config.seed,
                           defects=config.defects)
        upload(blob_store, plan_uploads(tmp))
    context.log.info(f"generated and landed {summary.rows} lines for {len(summary.tenants)} tenants "
                     f"({len(summary.defects)} injected defects)")
    runs = [("tenants", launch("tenants_load_job", instance_=context.instance, tags={"demo": "true"}))]
    for tid in summary.tenants:
        runs.append((tid, launch("tenants_files_job", partition_key=tid, instance_=context.instance, tags={"demo": "true"})))
    failed = [name for name, r in runs if not r.success]
    for name, r in runs:
        for key, md in materializations(r).items():
            context.log.info(f"{name} {key}: inserted={md.get('inserted')} updated={md.get('updated')} "
                             f"unchanged={md.get('unchanged')} failed={md.get('failed')}")
    if failed:
        raise Failure(f"tenant runs failed: {', '.join(failed)}")


@job(description="Demo: generate, land and load a small multi-tenant dataset.")
def tenants_demo_job():
    tenants_demo_op()
