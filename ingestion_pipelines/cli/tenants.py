"""`ingest` subcommands of the tenants source (DESIGN.md §5, seed 001):

* ``ingest gen-dataset`` — the seed's ``gen_dataset.py`` (a local helper, not a Dagster run);
* ``ingest load-tenants --file tenants.csv`` — the seed's ``manage.py load_tenants`` (a run of
  ``tenants/tenants``, which also registers the tenant partitions);
* ``ingest bulk-ingest --data-dir DIR`` — the seed's ``bulk_ingest.py``: lands the files in the
  BlobStore; ``--wait-for-completion`` then runs the tenants and per-tenant loads (on the local
  instance, or through a webserver's GraphQL API with ``--url``) and prints each tenant's status
  and counts.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from ..sources.tenants import names
from .steps import DemoStep


@click.command("gen-dataset")
@click.option("--tenants", "n_tenants", type=click.IntRange(min=0), default=5, show_default=True, help="Number of tenants.")
@click.option("--products-per-tenant", type=click.IntRange(min=0), default=1000, show_default=True)
@click.option("--orders-per-tenant", type=click.IntRange(min=0), default=5000, show_default=True)
@click.option("--customers-per-tenant", type=click.IntRange(min=0), default=None, help="Default: orders / 5 (at least 10).")
@click.option("--chunk-size", type=click.IntRange(min=1), default=100_000, show_default=True, help="Records per chunk file.")
@click.option("--seed", type=int, default=42, show_default=True, help="Same seed, same files.")
@click.option("--out", "out", type=click.Path(file_okay=False), default="generated_data", show_default=True)
@click.option("--gzip", is_flag=True, help="Write .ndjson.gz files.")
@click.option("--defects", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Probability of a bad line before each good one (listed in defects_manifest.json).")
def gen_dataset(n_tenants, products_per_tenant, orders_per_tenant, customers_per_tenant, chunk_size, seed, out, gzip, defects):
    """Generate a synthetic multi-tenant e-commerce dataset (tenants.csv + NDJSON files)."""
    from ..sources.tenants.generator import generate

    cust = customers_per_tenant if customers_per_tenant is not None else max(10, orders_per_tenant // 5)
    estimate = n_tenants * (products_per_tenant * 3 + cust + int(orders_per_tenant * 4.5))
    t0 = time.monotonic()
    with click.progressbar(length=max(estimate, 1), label="generating", file=sys.stderr) as bar:
        summary = generate(out, tenants=n_tenants, products_per_tenant=products_per_tenant,
                           orders_per_tenant=orders_per_tenant, customers_per_tenant=customers_per_tenant,
                           chunk_size=chunk_size, seed=seed, gzip=gzip, defects=defects, progress=bar.update)
    dt = time.monotonic() - t0
    click.echo(f"wrote {summary.rows:,} lines in {len(summary.files)} files to {Path(out).resolve()} "
               f"in {dt:.1f}s ({summary.rows / max(dt, 1e-9):,.0f} lines/s)")
    click.echo(f"tenants: {len(summary.tenants)}; injected defects: {len(summary.defects)}"
               + (" (see defects_manifest.json)" if summary.defects else ""))


@click.command("load-tenants")
@click.option("--file", "file", required=True, help="tenants.csv: a local path, a BlobStore key, file:// or s3:// URI.")
@click.option("--dry-run", is_flag=True, help="Report what would change; write nothing.")
def load_tenants(file, dry_run):
    """Load tenants.csv into the tenants table and register each tenant as a partition."""
    from ..launch import run_and_report

    p = Path(file).expanduser()
    loc = str(p.resolve()) if p.exists() else file
    run_and_report(names.LOAD_JOB, _load_config(loc, dry_run))


@click.command("bulk-ingest")
@click.option("--data-dir", required=True, type=click.Path(exists=True, file_okay=False), help="A gen-dataset output folder.")
@click.option("--tenant-id", default=None, help="Only this tenant's files (tenants.csv is always landed).")
@click.option("--dry-run", is_flag=True, help="List what would be uploaded; upload nothing.")
@click.option("--wait-for-completion", is_flag=True,
              help="After landing, run the loads on the local instance and print each tenant's status and counts.")
@click.option("--url", default=None,
              help="Dagster webserver URL (http://host:port): with --wait-for-completion, launch and follow the "
                   "runs through its GraphQL API instead of the local instance.")
@click.option("--verbose", "-v", is_flag=True, help="Print every file.")
@click.option("--concurrency", type=click.IntRange(1, 64), default=8, show_default=True, help="Parallel uploads.")
def bulk_ingest(data_dir, tenant_id, dry_run, wait_for_completion, url, verbose, concurrency):
    """Land a generated dataset in the BlobStore (STORAGE_URL) under tenants/<tenant_id>/."""
    from ..resources.defaults import shared_resources
    from ..sources.tenants.upload import plan_uploads, upload

    store = shared_resources()["blob_store"]
    plan = plan_uploads(data_dir, tenant_id)
    tenants_seen = sorted({p.tenant_id for p in plan if p.tenant_id})
    if tenant_id and tenant_id not in tenants_seen:
        raise click.UsageError(f"no files for tenant {tenant_id} in {data_dir}")
    total = sum(p.size for p in plan)
    click.echo(f"{len(plan)} file(s), {total / 1e6:,.1f} MB, {len(tenants_seen)} tenant(s) -> {store.uri('tenants/')}")
    if dry_run or verbose:
        for p in plan:
            click.echo(f"  {'would upload' if dry_run else 'upload'} {p.path.name} -> {p.key} ({p.size:,} bytes)")
    if dry_run:
        return
    t0 = time.monotonic()
    with click.progressbar(length=max(total, 1), label="uploading", file=sys.stderr) as bar:
        upload(store, plan, concurrency=concurrency, on_done=lambda p: bar.update(p.size))
    click.echo(f"landed {len(plan)} file(s) in {time.monotonic() - t0:.1f}s")
    if not wait_for_completion:
        click.echo("the landing sensor (tenants_landing_sensor) picks them up; or use --wait-for-completion")
        return
    sys.exit(_follow_webserver(url, plan, tenants_seen) if url else _run_and_follow(plan, tenants_seen))


def _echo_run(r) -> None:
    if r.status not in ("SUCCESS", "FAILURE", "CANCELED"):
        click.echo(f"{r.label}: {r.status} (run {r.run_id})")
        return
    tot = r.totals()
    names = ("created", "updated", "unchanged", "failed") if r.label == "tenants" else tuple(tot)
    click.echo(f"{r.label}: {r.status} (run {r.run_id}) "
               + " ".join(f"{n}={v}" for n, v in zip(names, tot.values())))
    for key, md in sorted(r.assets.items()):
        if md.get("failed"):
            click.echo(f"    {key}: failed={md['failed']} failed rows file: {md.get('failed_rows_file')}")


def _follow_webserver(url: str, plan, tenants_seen) -> int:
    """``--wait-for-completion --url``: the tenants load, then one run per tenant, submitted to
    and followed through the webserver's GraphQL API (see :mod:`.remote`). Exit code 0 when
    every run succeeded."""
    from ..sources.tenants.assets import tenant_partitions
    from ..sources.tenants.remote import WebserverRuns

    web = WebserverRuns(url)
    warn = lambda r: click.echo(f"{r.label}: run {r.run_id} is still queued: is dagster-daemon running?", err=True)  # noqa: E731
    runs = []
    if any(not p.tenant_id for p in plan):
        load = web.submit("tenants", names.LOAD_JOB, _load_config().to_config_dict())
        click.echo(f"tenants: submitted run {load.run_id} to {url}")
        web.follow([load], _echo_run, queued_warning=warn)
        runs.append(load)
    web.add_partitions(tenant_partitions.name, tenants_seen)
    tenant_runs = [web.submit(f"tenant {tid}", names.FILES_JOB, partition_key=tid) for tid in tenants_seen]
    web.follow(tenant_runs, _echo_run, queued_warning=warn)
    runs += tenant_runs
    return 0 if all(r.status == "SUCCESS" for r in runs) else 1


def _load_config(file: str | None = None, dry_run: bool = False):
    """The typed run config of ``tenants_load_job`` (``tenants/tenants`` reads ``file``,
    default the landed ``tenants/tenants.csv``)."""
    from dagster import RunConfig

    from ..sources.tenants.assets import LoadTenantsConfig

    return RunConfig(ops={"tenants__tenants": LoadTenantsConfig(dry_run=dry_run, **({"file": file} if file else {}))})


def _run_and_follow(plan, tenants_seen) -> int:
    """``--wait-for-completion``: :func:`run_tenant_loads` on the local instance, printing
    each run's status and counts as it ends. Exit code 0 when every run succeeded."""
    ok = True
    for label, result in run_tenant_loads(tenants_seen, load_tenants_csv=any(not p.tenant_id for p in plan)):
        _echo_local(label, result)
        ok = ok and result.success
    return 0 if ok else 1


def run_tenant_loads(tenant_ids, *, load_tenants_csv: bool, tags: dict[str, str] | None = None):
    """Launch, one after the other on the ``DAGSTER_HOME`` instance, the ``tenants_load_job``
    run (when ``load_tenants_csv``: it also registers the partitions) and one
    ``tenants_files_job`` run per tenant id; yields ``(label, ExecuteInProcessResult)`` as
    each run ends (label ``tenants`` or ``tenant <id>``)."""
    from ..launch import instance, launch
    from ..sources.tenants.assets import tenant_partitions

    if load_tenants_csv:
        yield "tenants", launch(names.LOAD_JOB, _load_config(), tags=tags)
    else:
        inst = instance()
        missing = [t for t in tenant_ids if not inst.has_dynamic_partition(tenant_partitions.name, t)]
        if missing:
            inst.add_dynamic_partitions(tenant_partitions.name, missing)
    for tid in tenant_ids:
        yield f"tenant {tid}", launch(names.FILES_JOB, partition_key=tid, tags=tags)


def _echo_local(label: str, r) -> None:
    """One line per run: status, run id and the outcome counts summed over its assets
    (``created`` for the tenants table's inserts), then each failed-rows file."""
    from ..launch import materializations

    mds = materializations(r)
    tot = {k: sum(int(md.get(k) or 0) for md in mds.values()) for k in ("inserted", "updated", "unchanged", "failed")}
    names = {"inserted": "created"} if label == "tenants" else {}
    click.echo(f"{label}: {'SUCCESS' if r.success else 'FAILURE'} (run {r.run_id}) "
               + " ".join(f"{names.get(k, k)}={v}" for k, v in tot.items()))
    for key, md in mds.items():
        if md.get("failed"):
            click.echo(f"    {key}: failed rows file: {md.get('failed_rows_file')}")


def _demo_runs():
    """``ingest demo``'s tenants step: generate 3 small tenants (a few defects) into a
    temporary folder, land them in the BlobStore, then the same runs as
    ``bulk-ingest --wait-for-completion``; returns every run's result."""
    import tempfile

    from ..resources.defaults import shared_resources
    from ..sources.tenants.generator import generate
    from ..sources.tenants.upload import plan_uploads, upload

    with tempfile.TemporaryDirectory(prefix="tenants-demo-") as tmp:
        summary = generate(tmp, tenants=3, products_per_tenant=400, orders_per_tenant=1000, chunk_size=5000,
                           seed=7, defects=0.002)
        upload(shared_resources()["blob_store"], plan_uploads(tmp))
    click.echo(f"generated and landed {summary.rows:,} lines for {len(summary.tenants)} tenants "
               f"({len(summary.defects)} injected defects)")
    return [r for _, r in run_tenant_loads(summary.tenants, load_tenants_csv=True, tags={"demo": "true"})]


COMMANDS: list = [gen_dataset, load_tenants, bulk_ingest]
DEMO_STEPS = [DemoStep("tenants: generate 3 tenants, land and load them", _demo_runs)]
