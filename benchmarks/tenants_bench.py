"""Benchmark of the tenants source (issue 3, DESIGN.md §8): end-to-end ingestion against raw
COPY, a batched INSERT of 1,000 rows and ``pandas.to_sql`` — same rows, same machine, one run.

    .venv/bin/pip install -e ".[dev,bench]"   # pandas, for the to_sql reference
    .venv/bin/python benchmarks/tenants_bench.py --rows 5000000 [--pg postgresql://postgres@127.0.0.1:5432/test]
        [--reference-rows 500000] [--keep DIR] [--methods e2e,copy,e2e_par,insert,to_sql] [--repeat N]

1. generates a dataset (2 tenants; products, customers, orders, items, price history, stock
   events in the seed's proportions) and lands it in a local BlobStore;
2. ``e2e``: landing sensor tick + one real ``tenants_files_job``-equivalent materialization
   per tenant partition (``materialize(entity_assets, partition_key=...)``), into a fresh
   PostgreSQL schema — files landed -> rows in PostgreSQL, checks included; ``e2e_par``: the
   same with the tenant runs at the same time, one process each (as the run coordinator
   starts the sensor's run requests); peak RSS is then given per run process;
3. ``copy``: raw ``COPY`` of the same good rows (pre-rendered TSV, not timed) into the same
   tables with the same unique keys, in a fresh schema: the ceiling;
4. ``insert``: parse NDJSON + multi-row ``INSERT`` of 1,000 rows per statement (Django's
   ``bulk_create(batch_size=1000)``, the original system) and ``to_sql``: parse + DataFrame
   per 50,000 rows + ``to_sql(method="multi", chunksize=1000)`` — both on the first
   ``--reference-rows`` rows of the order items + orders (they are slow), reported as rows/s.

Each method runs in its own subprocess so its peak RSS (VmHWM) is its own, on an empty schema
that is dropped right after it, followed by a CHECKPOINT and an OS sync (a schema left behind
made PostgreSQL checkpoint its ~2.5 GB during the next method and slowed that one by ~20 %;
the write-back of a dropped one still cost the next method a little). ``--repeat N`` runs the methods N
times interleaved (e2e, copy, e2e, copy, ...) and reports medians and ranges: this machine's
speed drifts by ±15 % from one minute to the next. Prints a Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# ``--base DIR`` runs the methods named ``<method>@base`` with the code of DIR (a worktree of
# an earlier commit): the child processes get it as BENCH_CODE and import it first
CODE = Path(os.environ.get("BENCH_CODE") or ROOT)
sys.path.insert(0, str(CODE))



def _load_partition(entity_assets, tenant, inst, wh, store, batch_size, db: dict, run_config: dict | None) -> int:
    """Materialise the six per-tenant assets for one partition with the sensor's run config
    (checks must pass); add each entity's DB seconds into ``db``; return the rows inserted."""
    from dagster import materialize

    from ingestion_pipelines.sources.tenants.records import ENTITIES

    ops = {f"tenants__{e}": {"config": {"batch_size": batch_size}} for e in ENTITIES}
    for op, cfg in ((run_config or {}).get("ops") or {}).items():
        ops[op]["config"].update(cfg["config"])
    r = materialize(entity_assets, partition_key=tenant, instance=inst, resources={"warehouse": wh, "blob_store": store},
                    run_config={"ops": ops}, tags={"dagster/sensor_name": "tenants_landing_sensor"})  # as the daemon tags it
    assert r.success
    rows = 0
    for e in ENTITIES:
        md = r.asset_materializations_for_node(f"tenants__{e}")[0].metadata
        rows += md["inserted"].value
        for k, v in md.items():
            if k.startswith("db_seconds_"):
                db[k[11:]] = db.get(k[11:], 0.0) + v.value
    assert all(ev.passed for ev in r.get_asset_check_evaluations())
    return rows

def _pg_engine(url: str, schema: str | None = None):
    import sqlalchemy as sa

    from ingestion_pipelines.resources.warehouse import normalize_url

    eng = sa.create_engine(normalize_url(url))
    if schema:
        with eng.begin() as c:
            c.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    return eng


def _files(data: Path):
    from ingestion_pipelines.sources.tenants.records import ENTITIES, entity_of

    out = []
    for e in ENTITIES:
        for p in sorted(data.iterdir()):
            parsed = entity_of(p.name)
            if parsed and parsed[0] == e:
                out.append((e, parsed[1], p))
    return out


def method_e2e(args) -> dict:
    from dagster import DagsterInstance, build_sensor_context

    from ingestion_pipelines.resources.storage import LocalBlobStore
    from ingestion_pipelines.resources.warehouse import WarehouseResource
    from ingestion_pipelines.sources.tenants.assets import entity_assets
    from ingestion_pipelines.sources.tenants.sensors import tenants_landing_sensor

    store = LocalBlobStore(root=args.store)
    wh = WarehouseResource(url=args.pg, schema_name=args.schema)
    t0 = time.perf_counter()
    rows = 0
    db: dict[str, float] = {}
    with DagsterInstance.ephemeral() as inst:
        res = tenants_landing_sensor(build_sensor_context(instance=inst, resources={"blob_store": store}))
        for req in res.dynamic_partitions_requests:
            inst.add_dynamic_partitions("tenants", list(req.partition_keys))
        t_sensor = time.perf_counter() - t0
        for rr in res.run_requests:
            if rr.job_name != "tenants_files_job":
                continue
            rows += _load_partition(entity_assets, rr.partition_key, inst, wh, store, args.batch_size, db, rr.run_config)
    return {"rows": rows, "seconds": time.perf_counter() - t0, "sensor_seconds": t_sensor,
            "db_seconds": {k: round(v, 1) for k, v in db.items()}}


def _render_tsv(data: Path, out: Path, limit_entities=None, limit_rows=None) -> dict[str, int]:
    """Good rows of every file as COPY text (via the loader's own parser), per entity."""
    from ingestion_pipelines.sources.tenants.records import BadLine, Parser

    counts: dict[str, int] = {}
    handles = {}
    for e, tid, p in _files(data):
        if limit_entities and e not in limit_entities:
            continue
        parser = Parser(e, tid)
        f = handles.get(e) or open(out / f"{e}.tsv", "w", encoding="utf-8")
        handles[e] = f
        seen = set()
        with open(p, "rb") as src:
            for line in src:
                if limit_rows and counts.get(e, 0) >= limit_rows:
                    break
                try:
                    text, rid = parser.parse(line.rstrip(b"\n"))
                except BadLine:
                    continue
                if rid in seen:
                    continue
                seen.add(rid)
                f.write(text + "\n")
                counts[e] = counts.get(e, 0) + 1
    for f in handles.values():
        f.close()
    return counts


def method_copy(args) -> dict:
    from ingestion_pipelines.sources.tenants import schema as tschema

    eng = _pg_engine(args.pg, args.schema).execution_options(schema_translate_map={None: args.schema})
    tschema.metadata.create_all(eng)
    tsv = Path(args.tsv)
    t0 = time.perf_counter()
    rows = _copy_tsv_files(eng, args.schema, tsv)
    return {"rows": rows, "seconds": time.perf_counter() - t0}


def _copy_tsv_files(eng, schema: str, tsv_dir: Path) -> int:
    """COPY every ``<entity>.tsv`` of ``tsv_dir`` into ``schema.<entity>`` in one transaction
    (the raw-COPY reference); returns the rows copied."""
    from ingestion_pipelines.sources.tenants.records import columns

    rows = 0
    raw = eng.raw_connection()
    try:
        cur = raw.cursor()
        for tsv in sorted(tsv_dir.glob("*.tsv")):
            cols = ", ".join(f'"{c}"' for c in columns(tsv.stem))
            with open(tsv, "rb") as f:
                cur.copy_expert(f'COPY "{schema}"."{tsv.stem}" ({cols}) FROM STDIN', f, size=1 << 20)
            rows += cur.rowcount
        raw.commit()
    finally:
        raw.close()
    return rows


def _parsed_rows(args):
    import orjson

    from ingestion_pipelines.sources.tenants.records import FIELDS

    n = 0
    for e, tid, p in _files(Path(args.data)):
        if e not in ("orders", "order_items"):
            continue
        names = ["tenant_id"] + [f for f, _, _ in FIELDS[e]]
        with open(p, "rb") as f:
            for line in f:
                if n >= args.reference_rows:
                    return
                try:
                    obj = orjson.loads(line)
                    vals = tuple(obj[c] for c in names)
                except Exception:  # noqa: BLE001 - defects are not the point here
                    continue
                n += 1
                yield e, names, vals


def method_insert(args) -> dict:
    from psycopg2.extras import execute_values

    from ingestion_pipelines.sources.tenants import schema as tschema

    eng = _pg_engine(args.pg, args.schema).execution_options(schema_translate_map={None: args.schema})
    tschema.metadata.create_all(eng)
    t0 = time.perf_counter()
    raw = eng.raw_connection()
    rows = 0
    try:
        cur = raw.cursor()
        batch: dict[str, list] = {}
        names_of = {}

        def flush(e):
            cols = ", ".join(f'"{c}"' for c in names_of[e])
            execute_values(cur, f'INSERT INTO "{args.schema}"."{e}" ({cols}) VALUES %s', batch[e], page_size=1000)
            raw.commit()
            batch[e] = []

        for e, names, vals in _parsed_rows(args):
            names_of[e] = names
            batch.setdefault(e, []).append(vals)
            rows += 1
            if len(batch[e]) >= 1000:
                flush(e)
        for e in list(batch):
            if batch[e]:
                flush(e)
    finally:
        raw.close()
    return {"rows": rows, "seconds": time.perf_counter() - t0}


def method_to_sql(args) -> dict:
    import pandas as pd

    from ingestion_pipelines.sources.tenants import schema as tschema

    eng = _pg_engine(args.pg, args.schema).execution_options(schema_translate_map={None: args.schema})
    tschema.metadata.create_all(eng)
    t0 = time.perf_counter()
    rows = 0
    buf: dict[str, list] = {}
    names_of = {}

    def flush(e):
        df = pd.DataFrame(buf[e], columns=names_of[e])
        df.to_sql(e, eng, schema=args.schema, if_exists="append", index=False, method="multi", chunksize=1000)
        buf[e] = []

    for e, names, vals in _parsed_rows(args):
        names_of[e] = names
        buf.setdefault(e, []).append(vals)
        rows += 1
        if len(buf[e]) >= 50_000:
            flush(e)
    for e in list(buf):
        if buf[e]:
            flush(e)
    return {"rows": rows, "seconds": time.perf_counter() - t0}


def method_e2e_par(args) -> dict:
    """``e2e`` with the tenant partition runs at the same time, each in its own process — what
    the sensor's run requests get from the QueuedRunCoordinator (``max_concurrent_runs: 4``)."""
    from dagster import DagsterInstance, build_sensor_context

    from ingestion_pipelines.resources.storage import LocalBlobStore
    from ingestion_pipelines.resources.warehouse import WarehouseResource
    from ingestion_pipelines.sources.tenants import schema as tschema
    from ingestion_pipelines.sources.tenants.sensors import tenants_landing_sensor

    store = LocalBlobStore(root=args.store)
    WarehouseResource(url=args.pg, schema_name=args.schema).setup(tschema.metadata)  # once, not racing
    t0 = time.perf_counter()
    with DagsterInstance.ephemeral() as inst:
        res = tenants_landing_sensor(build_sensor_context(instance=inst, resources={"blob_store": store}))
    t_sensor = time.perf_counter() - t0
    runs = [rr for rr in res.run_requests if rr.job_name == "tenants_files_job"]
    procs = [subprocess.Popen([sys.executable, __file__, "--child", "e2e_tenant", "--tenant", rr.partition_key,
                               "--pg", args.pg, "--schema", args.schema, "--store", str(args.store),
                               "--batch-size", str(args.batch_size), "--run-config", json.dumps(rr.run_config)],
                              stdout=subprocess.PIPE, text=True) for rr in runs]
    outs = []
    for p in procs:
        stdout, _ = p.communicate()
        line = next((ln for ln in stdout.splitlines() if ln.startswith("RESULT ")), None)
        if p.returncode or not line:
            raise SystemExit(f"tenant run failed: {stdout[-2000:]}")
        outs.append(json.loads(line[7:]))
    db: dict[str, float] = {}
    for o in outs:
        for k, v in o["db_seconds"].items():
            db[k] = db.get(k, 0.0) + v
    return {"rows": sum(o["rows"] for o in outs), "seconds": time.perf_counter() - t0, "sensor_seconds": t_sensor,
            "db_seconds": {k: round(v, 1) for k, v in db.items()},
            "run_peak_rss_mb": [round(o["peak_rss_mb"]) for o in outs]}


def method_e2e_tenant(args) -> dict:
    """One tenant partition run (a child of ``e2e_par``)."""
    from dagster import DagsterInstance

    from ingestion_pipelines.resources.storage import LocalBlobStore
    from ingestion_pipelines.resources.warehouse import WarehouseResource
    from ingestion_pipelines.sources.tenants.assets import entity_assets

    store = LocalBlobStore(root=args.store)
    wh = WarehouseResource(url=args.pg, schema_name=args.schema)
    rows, db = 0, {}
    with DagsterInstance.ephemeral() as inst:
        inst.add_dynamic_partitions("tenants", [args.tenant])
        rows += _load_partition(entity_assets, args.tenant, inst, wh, store, args.batch_size, db,
                                json.loads(args.run_config or "{}"))
    return {"rows": rows, "db_seconds": db}


_CLI = ("import sys\n"
        "class NoPandas:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'pandas' or name.startswith('pandas.'):\n"
        "            raise ModuleNotFoundError(name, name=name)\n"
        "sys.meta_path.insert(0, NoPandas())\n"
        "from ingestion_pipelines.cli import run\n"
        "run()\n")


def method_cli(args) -> dict:
    """The user's path, timed from the command's start: ``ingest bulk-ingest --data-dir D
    --wait-for-completion`` as a subprocess (its own ``DAGSTER_HOME``, ``STORAGE_URL`` and
    state folder on the data's filesystem, ``WAREHOUSE_URL`` with this schema first on the
    search_path; as deployed, without pandas), then, after a CHECKPOINT and sync, raw COPY of
    the same good rows into tables made ``(LIKE <the run's table> INCLUDING ALL)`` in a second
    schema (same keys, same audit-column defaults). Peak RSS is the command's process."""
    from urllib.parse import quote

    from ingestion_pipelines.sources.tenants.records import ENTITIES

    home = Path(args.data).parent / f"cli-{args.schema}"
    env = {**os.environ, "DAGSTER_HOME": str(home / "dagster_home"), "STORAGE_URL": str(home / "storage"),
           "INGEST_STATE_DIR": str(home / "state"), "PYTHONPATH": str(CODE),
           "WAREHOUSE_URL": args.pg + ("&" if "?" in args.pg else "?") + "options=" + quote(f"-csearch_path={args.schema}")}
    (home / "dagster_home").mkdir(parents=True)
    eng = _pg_engine(args.pg, args.schema)
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", _CLI, "bulk-ingest", "--data-dir", args.data, "--wait-for-completion"],
                       env=env, cwd=home, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if p.returncode:
        raise SystemExit(f"bulk-ingest failed ({p.returncode}): {p.stdout[-3000:]}{p.stderr[-3000:]}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    with eng.begin() as c:
        rows = sum(c.exec_driver_sql(f'SELECT count(*) FROM "{args.schema}"."{e}"').scalar() for e in ENTITIES)
    shutil.rmtree(home, ignore_errors=True)
    ref = args.schema + "_copy"
    with eng.begin() as c:
        c.exec_driver_sql(f'CREATE SCHEMA "{ref}"')
        for e in ENTITIES:
            c.exec_driver_sql(f'CREATE TABLE "{ref}"."{e}" (LIKE "{args.schema}"."{e}" INCLUDING ALL)')
        c.exec_driver_sql(f'DROP SCHEMA "{args.schema}" CASCADE')
    _quiesce(eng)
    t1 = time.perf_counter()
    copied = _copy_tsv_files(eng, ref, Path(args.tsv))
    copy_seconds = time.perf_counter() - t1
    with eng.begin() as c:
        c.exec_driver_sql(f'DROP SCHEMA "{ref}" CASCADE')
    assert copied == rows, (copied, rows)
    return {"rows": rows, "seconds": seconds, "copy_seconds": copy_seconds, "vs_copy": copy_seconds / seconds,
            "cli_peak_rss_mb": peak, "stdout_tail": p.stdout[-400:]}


METHODS = {"cli": method_cli, "e2e": method_e2e, "e2e_par": method_e2e_par, "e2e_tenant": method_e2e_tenant, "copy": method_copy, "insert": method_insert, "to_sql": method_to_sql}


class _WithoutPandas:
    """An import hook that makes ``import pandas`` fail as when it is not installed."""

    def find_spec(self, name, path=None, target=None):
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


def child(args) -> None:
    if args.method.startswith("e2e"):
        # As deployed: the code location does not depend on pandas (it is in the "bench" extra
        # for the to_sql reference), but pyarrow imports it whenever it is installed (+34 MB
        # resident); the end-to-end processes run without it, as a run process would.
        sys.meta_path.insert(0, _WithoutPandas())
    out = METHODS[args.method](args)
    # VmHWM (peak RSS of this process image); ru_maxrss would carry the parent's peak across exec
    hwm = next((ln for ln in Path("/proc/self/status").read_text().splitlines() if ln.startswith("VmHWM:")), None)
    out["peak_rss_mb"] = int(hwm.split()[1]) / 1024 if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(out))


def run_child(method: str, base: str | None = None, **kw) -> dict:
    """Run ``method`` (``<name>@base``: with the code of ``base``) in a child process."""
    name, _, at = method.partition("@")
    cmd = [sys.executable, __file__, "--child", name]
    for k, v in kw.items():
        cmd += [f"--{k.replace('_', '-')}", str(v)]
    env = dict(os.environ)
    if at:
        if not base:
            raise SystemExit(f"{method}: give --base DIR")
        env["BENCH_CODE"] = base
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    line = next((ln for ln in p.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if p.returncode or not line:
        sys.stderr.write(p.stdout[-3000:] + p.stderr[-5000:])
        raise SystemExit(f"{method} failed")
    return json.loads(line[7:])


def _quiesce(eng) -> None:
    """Let the next method start on a quiet machine: a CHECKPOINT (the last method's WAL and
    dirty buffers written now, not during the next one), the OS's dirty pages flushed, a
    second's pause. Without it each method paid part of the previous one's write-back."""
    try:
        with eng.begin() as c:
            c.exec_driver_sql("CHECKPOINT")  # superuser or pg_checkpoint; skipped when not allowed
    except Exception:  # noqa: BLE001
        pass
    os.sync()
    time.sleep(1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000, help="Approximate good rows in the dataset.")
    ap.add_argument("--pg", default=os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    ap.add_argument("--reference-rows", type=int, default=300_000)
    ap.add_argument("--batch-size", type=int, default=20_000)
    ap.add_argument("--methods", default="e2e,copy,insert,to_sql")
    ap.add_argument("--keep", default=None, help="Keep the generated data in this folder (reused when present).")
    ap.add_argument("--repeat", type=int, default=1,
                    help="Run the methods this many times, interleaved (e2e, copy, e2e, copy, ...); the table "
                         "gives each method's median and range (this machine's speed drifts by ±15 %%).")
    ap.add_argument("--tenants", type=int, default=2, help="Tenants in the dataset (the rows are shared out).")
    ap.add_argument("--base", default=None,
                    help="A worktree of an earlier commit: methods named <method>@base run with its code.")
    ap.add_argument("--child", dest="method", default=None)
    ap.add_argument("--store"), ap.add_argument("--schema"), ap.add_argument("--tsv"), ap.add_argument("--data")
    ap.add_argument("--tenant"), ap.add_argument("--run-config")
    args = ap.parse_args()
    if args.method:
        return child(args)

    from ingestion_pipelines.sources.tenants.generator import generate
    from ingestion_pipelines.sources.tenants.upload import plan_uploads, upload
    from ingestion_pipelines.resources.storage import LocalBlobStore

    work = Path(tempfile.mkdtemp(prefix="tenants-bench-"))
    data = Path(args.keep) if args.keep else work / "data"
    # rows per tenant ~ 3 P + O/5 + O + 3.5 O with P = O / 10
    orders = max(100, int(args.rows / args.tenants / 4.99))
    products = max(10, orders // 10)
    if not (data / "dataset_summary.json").exists():
        t0 = time.perf_counter()
        generate(data, tenants=args.tenants, products_per_tenant=products, orders_per_tenant=orders, chunk_size=100_000, seed=1,
                 defects=0.0)
        print(f"generated in {time.perf_counter() - t0:.1f}s", flush=True)
    good = json.loads((data / "dataset_summary.json").read_text())["good_records"]
    total = sum(sum(v.values()) for v in good.values())
    store_root = work / "store"
    store_root.mkdir()
    t0 = time.perf_counter()
    upload(LocalBlobStore(root=str(store_root)), plan_uploads(data))
    print(f"landed {total:,} good rows in {time.perf_counter() - t0:.1f}s", flush=True)
    tsv = work / "tsv"
    tsv.mkdir()
    _render_tsv(data, tsv)
    eng = _pg_engine(args.pg)
    schemas = []
    runs: dict[str, list[dict]] = {}
    _quiesce(eng)  # the TSV just written (~0.5 GB per 5 M rows) is flushed now, not during the first method
    try:
        for _ in range(args.repeat):
            for method in args.methods.split(","):
                schema = f"bench_{method.replace('@', '_')}_{uuid.uuid4().hex[:8]}"
                schemas += [schema, schema + "_copy"]
                r = run_child(method, base=args.base, pg=args.pg, schema=schema, store=store_root, tsv=tsv, data=data,
                              reference_rows=args.reference_rows, batch_size=args.batch_size)
                runs.setdefault(method, []).append(r)
                print(_one_line(method, r), flush=True)
                with eng.begin() as c:  # each run starts from an empty schema; keep the disk flat
                    c.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
                _quiesce(eng)
    finally:
        with eng.begin() as c:
            for s_ in schemas:
                c.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{s_}" CASCADE')
        shutil.rmtree(work, ignore_errors=True)
    _table(args.repeat, runs)


def _one_line(method: str, r: dict) -> str:
    if "copy_seconds" in r:
        return (f"{method}: {r['rows']:,} rows in {r['seconds']:.1f}s, raw COPY {r['copy_seconds']:.1f}s: "
                f"{r['vs_copy']:.0%} of COPY, command's peak RSS {r['cli_peak_rss_mb']:.0f} MB")
    line = f"{method}: {r['rows']:,} rows in {r['seconds']:.1f}s = {r['rows'] / r['seconds']:,.0f} rows/s, peak RSS {r['peak_rss_mb']:.0f} MB"
    if "run_peak_rss_mb" in r:
        line += f", per-run peak RSS {r['run_peak_rss_mb']} MB"
    if "db_seconds" in r:
        line += f", db seconds {r['db_seconds']}, sensor tick {r['sensor_seconds']:.1f}s"
    return line


LABELS = {"cli": "`ingest bulk-ingest --wait-for-completion` (the command, from its start)",
          "e2e": "end to end (sensor + partition runs one after the other)",
          "e2e_par": "end to end (sensor + partition runs at the same time)", "copy": "raw COPY (reference)",
          "insert": "batched INSERT, 1,000 rows", "to_sql": "pandas to_sql(method=multi)"}


def _median(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2


def _table(repeat: int, runs: dict[str, list[dict]]) -> None:
    """The Markdown table: medians (range) per method; ``cli`` against its own COPY run (same
    child, right after it), the others against the ``copy`` method's median rate."""
    copy_rate = _median([r["rows"] / r["seconds"] for r in runs["copy"]]) if "copy" in runs else None
    print(f"\n{repeat} interleaved run(s) per method; medians (range)\n")
    print("| method | rows | seconds | rows/s | vs raw COPY | peak RSS (MB) |\n|---|---:|---:|---:|---:|---:|")
    span = lambda xs, f: f"{f(_median(xs))}" + (f" ({f(min(xs))}–{f(max(xs))})" if len(xs) > 1 else "")  # noqa: E731
    for m, rs in runs.items():
        name, _, at = m.partition("@")
        label = LABELS.get(name, name) + (f" [{at}]" if at else "")
        secs = [r["seconds"] for r in rs]
        rates = [r["rows"] / r["seconds"] for r in rs]
        if "vs_copy" in rs[0]:
            ratios = [r["vs_copy"] for r in rs]
            rss_s = f"{max(r['cli_peak_rss_mb'] for r in rs):.0f}"
        else:
            ratios = [x / copy_rate for x in rates] if copy_rate else []
            rss_s = f"{max(r['peak_rss_mb'] for r in rs):.0f}"
            if "run_peak_rss_mb" in rs[0]:
                rss_s += " + runs " + " + ".join(str(max(r["run_peak_rss_mb"][i] for r in rs))
                                                 for i in range(len(rs[0]["run_peak_rss_mb"])))
        ratio_s = span(ratios, lambda v: f"{v:.0%}") if ratios else ""
        print(f"| {label} | {rs[0]['rows']:,} | {span(secs, lambda v: f'{v:.1f}')} | {span(rates, lambda v: f'{v:,.0f}')} | "
              f"{ratio_s} | {rss_s} |")

if __name__ == "__main__":
    main()
