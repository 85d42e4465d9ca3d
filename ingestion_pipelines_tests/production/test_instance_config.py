"""The instance configuration: dagster.yaml's run-queue tag limits (RULES: one run per value of
ingestion/tenant, genius/table, hubspot/portal and each API system's <system>/account, and every
such tag a job of the code location sets is limited), the PostgreSQL variant chosen by
DAGSTER_PG_HOST (settings.default_dagster_home), and the tenants job setting its own tag."""

import re

import yaml
from dagster import DagsterInstance

from ingestion_pipelines.settings import GENERATED_MARK, PROJECT_ROOT, default_dagster_home
from ingestion_pipelines_tests.conftest import patched_env

PG = {"DAGSTER_PG_HOST": "127.0.0.1", "DAGSTER_PG_PORT": "5432", "DAGSTER_PG_USER": "postgres",
      "DAGSTER_PG_PASSWORD": "", "DAGSTER_PG_DB": "dagster"}


def test_run_queue_limits_one_run_per_tenant_table_portal_and_account():
    cfg = yaml.safe_load((PROJECT_ROOT / "dagster.yaml").read_text())["run_coordinator"]
    assert cfg["class"] == "QueuedRunCoordinator"
    limits = {lim["key"]: lim for lim in cfg["config"]["tag_concurrency_limits"]}
    assert {"ingestion/tenant", "genius/table", "hubspot/portal"} <= set(limits)
    assert all(lim["limit"] == 1 and lim["value"] == {"applyLimitPerUniqueValue": True} for lim in limits.values())


def test_every_exclusive_tag_a_job_sets_is_limited():
    """A job tagged ``<x>/tenant|table|portal|account`` (one run per value) has its limit in dagster.yaml."""
    from ingestion_pipelines.definitions import defs

    cfg = yaml.safe_load((PROJECT_ROOT / "dagster.yaml").read_text())["run_coordinator"]
    limited = {lim["key"] for lim in cfg["config"]["tag_concurrency_limits"]}
    exclusive = re.compile(r"^[a-z_]+/(tenant|table|portal|account)$")
    repo = defs.get_repository_def()
    tagged = {key: job.name for job in repo.get_all_jobs() for key in (job.tags or {}) if exclusive.match(key)}
    assert {"genius/table", "hubspot/portal"} <= set(tagged)  # ingestion/tenant: set per partition run
    assert {k: j for k, j in tagged.items() if k not in limited} == {}


def test_dagster_home_switches_storage_with_dagster_pg_host(tmp_path):
    home = tmp_path / "home"
    with patched_env({"DAGSTER_HOME": str(home)}, unset=tuple(PG)):
        default_dagster_home()
        sqlite_cfg = (home / "dagster.yaml").read_text()
        assert sqlite_cfg.startswith(GENERATED_MARK) and "storage" not in yaml.safe_load(sqlite_cfg)
        assert type(DagsterInstance.get().run_storage).__name__ == "SqliteRunStorage"
        with patched_env(PG):
            default_dagster_home()
            storage = yaml.safe_load((home / "dagster.yaml").read_text())["storage"]["postgres"]["postgres_db"]
            assert storage["hostname"] == {"env": "DAGSTER_PG_HOST"} and storage["password"] == {"env": "DAGSTER_PG_PASSWORD"}
            assert storage["scheme"] == "postgresql+psycopg2"
        default_dagster_home()  # DAGSTER_PG_HOST unset again: back to SQLite
        assert (home / "dagster.yaml").read_text() == sqlite_cfg


def test_a_hand_written_dagster_yaml_is_left_alone(tmp_path):
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with patched_env({"DAGSTER_HOME": str(tmp_path), **PG}):
        default_dagster_home()
    assert (tmp_path / "dagster.yaml").read_text() == "telemetry:\n  enabled: false\n"


def test_tenants_files_job_tags_each_partition_run_with_its_tenant():
    from ingestion_pipelines.definitions import defs

    job = defs.resolve_job_def("tenants_files_job")
    tags = job.partitioned_config.get_tags_for_partition_key("acme-1", job_name=job.name)
    assert tags["ingestion/tenant"] == "acme-1" and tags["dagster/partition"] == "acme-1"
