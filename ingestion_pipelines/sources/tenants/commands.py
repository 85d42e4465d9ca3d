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
    from .generator import generate

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
    from ...cli import run_and_report

    p = Path(file).expanduser()
    loc = str(p.resolve()) if p.exists() else file
    run_and_report("tenants_load_job", {"ops": {"tenants__tenants": {"config": {"file": loc, "dry_run": dry_run}}}})


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
    from ...resources.defaults import shared_resources
    from .upload import plan_uploads, upload

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
    from .assets import tenant_partitions
    from .remote import WebserverRuns

    web = WebserverRuns(url)
    warn = lambda r: click.echo(f"{r.label}: run {r.run_id} is still queued: is dagster-daemon running?", err=True)  # noqa: E731
    runs = []
    if any(not p.tenant_id for p in plan):
        load = web.submit("tenants", "tenants_load_job",
                          {"ops": {"tenants__tenants": {"config": {"file": "tenants/tenants.csv"}}}})
        click.echo(f"tenants: submitted run {load.run_id} to {url}")
        web.follow([load], _echo_run, queued_warning=warn)
        runs.append(load)
    web.add_partitions(tenant_partitions.name, tenants_seen)
    tenant_runs = [web.submit(f"tenant {tid}", "tenants_files_job", partition_key=tid) for tid in tenants_seen]
    web.follow(tenant_runs, _echo_run, queued_warning=warn)
    runs += tenant_runs
    return 0 if all(r.status == "SUCCESS" for r in runs) else 1


def _run_and_follow(plan, tenants_seen) -> int:
    from ...launch import launch, materializations

    ok = True
    if any(not p.tenant_id for p in plan):
        r = launch("tenants_load_job", {"ops": {"tenants__tenants": {"config": {"file": "tenants/tenants.csv"}}}})
        md = materializations(r).get("tenants/tenants", {})
        click.echo(f"tenants: {'SUCCESS' if r.success else 'FAILURE'} created={md.get('inserted', 0)} "
                   f"updated={md.get('updated', 0)} unchanged={md.get('unchanged', 0)} failed={md.get('failed', 0)}")
        ok = ok and r.success
    else:
        from .assets import tenant_partitions
        from ...launch import instance

        inst = instance()
        missing = [t for t in tenants_seen if not inst.has_dynamic_partition(tenant_partitions.name, t)]
        if missing:
            inst.add_dynamic_partitions(tenant_partitions.name, missing)
    for tid in tenants_seen:
        r = launch("tenants_files_job", partition_key=tid)
        mds = materializations(r)
        tot = {k: sum(int(md.get(k) or 0) for md in mds.values()) for k in ("inserted", "updated", "unchanged", "failed")}
        click.echo(f"tenant {tid}: {'SUCCESS' if r.success else 'FAILURE'} (run {r.run_id}) "
                   + " ".join(f"{k}={v}" for k, v in tot.items()))
        if any(md.get("failed") for md in mds.values()):
            for key, md in mds.items():
                if md.get("failed"):
                    click.echo(f"    {key}: failed rows file: {md.get('failed_rows_file')}")
        ok = ok and r.success
    return 0 if ok else 1


COMMANDS: list = [gen_dataset, load_tenants, bulk_ingest]
# (label, job name, run config) steps that `ingest demo` runs, in order.
DEMO_STEPS: list = [("tenants: generate 3 tenants, land and load them", "tenants_demo_job", {})]
