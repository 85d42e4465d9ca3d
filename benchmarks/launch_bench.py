#!/usr/bin/env python
"""Per-run cost of two ways to run a job in this process on one instance, interleaved:
``job.execute_in_process`` (what ``ingest`` did before issue 17: no job origin) against
``ingestion_pipelines.launch.launch`` (the run created with the code location's job origin,
executed by Dagster's ``execute_run_iterator``). Job: ``artists_export_job`` (small, so the
launch path dominates). Usage: ``INGEST_STATE_DIR=/tmp/lb python benchmarks/launch_bench.py 10``
(runs per path). Prints the median and minimum wall time per run, in ms."""
import os, time, statistics, sys
os.environ.setdefault("INGEST_LOG_LEVEL", "WARNING")
from ingestion_pipelines.launch import launch, instance
from ingestion_pipelines.definitions import defs
inst = instance()
job = defs.resolve_job_def("artists_export_job")
cfg = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
def old():
    return job.execute_in_process(run_config=cfg, instance=inst, raise_on_error=False, tags={"launched_by": "ingest-cli"})
def new():
    return launch("artists_export_job", instance_=inst)
new(); old()  # warm both (imports, caches)
t = {"old": [], "new": []}
for i in range(int(sys.argv[1])):
    for name, fn in (("old", old), ("new", new)):
        t0 = time.perf_counter(); r = fn(); t[name].append(time.perf_counter() - t0); assert r.success
for k, v in t.items():
    print(f"{k}: median {statistics.median(v)*1000:.0f} ms, min {min(v)*1000:.0f} ms over {len(v)} runs")
