"""Shared test fixtures: real PostgreSQL, MySQL/MariaDB, a moto S3 server on loopback, and
the public corpora in ../shared/testdata (DESIGN.md §7).

A missing service skips its tests with the reason, except under ``REQUIRE_SERVICES=1`` (CI),
where it fails them.
"""

from __future__ import annotations

import os
import sys
import socket
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TESTDATA = PROJECT_ROOT.parent / "shared" / "testdata"
REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"
TEST_POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
TEST_MYSQL_URL = os.environ.get("TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test")


def pytest_configure(config) -> None:
    """A suite started where SIGINT is ignored (a background job of a shell script, nohup)
    gets Python's SIGINT handler back: Dagster maps SIGTERM to SIGINT's handler after every
    in-process run (``dagster._utils.interrupts``), so SIGTERM would become ignored too, for
    this process and every child it starts (seen: a multiprocessing pool's terminate() hung)."""
    import signal

    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@contextmanager
def patched_env(set_: dict[str, str], unset: tuple[str, ...] = ()):
    """Set and unset environment variables for a block, restoring them afterwards."""
    saved = {k: os.environ.get(k) for k in (*set_, *unset)}
    os.environ.update(set_)
    for k in unset:
        os.environ.pop(k, None)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def service_missing(reason: str) -> None:
    """Skip (or, under REQUIRE_SERVICES=1, fail) the current test because ``reason``."""
    if REQUIRE_SERVICES:
        pytest.fail(f"required service missing: {reason}")
    pytest.skip(reason)


@pytest.fixture(autouse=True, scope="session")
def _isolated_state(tmp_path_factory):
    """Keep tests away from the developer's own state dir, warehouse and DAGSTER_HOME."""
    state = tmp_path_factory.mktemp("state")
    (state / "dagster_home").mkdir()
    (state / "dagster_home" / "dagster.yaml").write_text((PROJECT_ROOT / "dagster.yaml").read_text())
    with patched_env({"INGEST_STATE_DIR": str(state), "DAGSTER_HOME": str(state / "dagster_home")},
                     unset=("WAREHOUSE_URL", "STORAGE_URL")):
        yield state


@pytest.fixture(autouse=True)
def _fresh_code_location_when_env_changed():
    """Before each test, forget a code location (``ingestion_pipelines.definitions``,
    ``launch.code_location``'s cache, Dagster's reconstructed job) that an earlier test
    imported under other variables.

    ``shared_resources()`` binds the warehouse when the module is imported: ``EnvVar
    ("WAREHOUSE_URL")`` while the variable is set, else the default SQLite path of that
    moment's state folder. A process that runs ``ingest`` imports it once, under its own
    environment; a test session does not, and a test that patched ``WAREHOUSE_URL`` (the
    daemon test) would leave later in-process launches a variable that no longer exists."""
    mod = sys.modules.get("ingestion_pipelines.definitions")
    if mod is not None:
        from dagster import EnvVar

        from ingestion_pipelines.settings import default_warehouse_url

        url = getattr((mod.defs.resources or {}).get("warehouse"), "url", None)
        current = bool(os.environ.get("WAREHOUSE_URL")) if isinstance(url, EnvVar) else url == default_warehouse_url()
        if not current:
            from dagster._core.definitions.reconstruct import ReconstructableJob

            del sys.modules["ingestion_pipelines.definitions"]
            launch = sys.modules.get("ingestion_pipelines.launch")
            if launch is not None:
                launch.code_location.cache_clear()
            # Dagster keeps the last job it reconstructed (lru_cache on these NamedTuple
            # methods, keyed by the equal-by-value origin): forget it too.
            ReconstructableJob.get_definition.cache_clear()
            ReconstructableJob.get_repository_definition.cache_clear()
    yield


@pytest.fixture(autouse=True)
def _close_warehouse_pools():
    """After each test, close the pooled connections of the process-wide warehouse engines
    (``resources.warehouse._ENGINES``: one per URL and schema, and many tests use a schema of
    their own). Without it the suite held ~100 idle PostgreSQL connections by its last third
    and met ``FATAL: sorry, too many clients already``. A disposed engine stays usable: it
    opens new connections when asked."""
    yield
    from ingestion_pipelines.resources import warehouse

    for eng in list(warehouse._ENGINES.values()):
        eng.dispose()


@pytest.fixture
def testdata() -> Path:
    """The public corpora folder (../shared/testdata)."""
    if not TESTDATA.is_dir():
        service_missing(f"public corpora not found at {TESTDATA}")
    return TESTDATA


@pytest.fixture
def pg_url() -> str:
    """The PostgreSQL test database URL (checked reachable)."""
    try:
        eng = sa.create_engine(TEST_POSTGRES_URL.replace("postgresql://", "postgresql+psycopg2://", 1))
        with eng.connect():
            pass
        eng.dispose()
    except Exception as e:  # noqa: BLE001
        service_missing(f"PostgreSQL not reachable at {TEST_POSTGRES_URL}: {type(e).__name__}")
    return TEST_POSTGRES_URL


@pytest.fixture
def pg_schema(pg_url):
    """A fresh PostgreSQL schema for one test, dropped afterwards: yields its name."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    yield name
    eng = sa.create_engine(pg_url.replace("postgresql://", "postgresql+psycopg2://", 1))
    with eng.begin() as c:
        c.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    eng.dispose()


@pytest.fixture
def pg_warehouse(pg_url, pg_schema):
    """A WarehouseResource on the real PostgreSQL, in its own schema."""
    from ingestion_pipelines.resources.warehouse import WarehouseResource

    return WarehouseResource(url=pg_url, schema_name=pg_schema)


@pytest.fixture
def sqlite_warehouse(tmp_path):
    """A WarehouseResource on a fresh SQLite file."""
    from ingestion_pipelines.resources.warehouse import WarehouseResource

    return WarehouseResource(url=f"sqlite:///{tmp_path / 'warehouse.db'}")


@pytest.fixture(params=["sqlite", "postgresql"])
def warehouse(request):
    """Each test using it runs once on SQLite and once on the real PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_warehouse")
    return request.getfixturevalue("pg_warehouse")


@pytest.fixture
def mysql_url():
    """A fresh MySQL/MariaDB database for one test (dropped afterwards): yields its URL."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    try:
        eng = sa.create_engine(TEST_MYSQL_URL)
        with eng.begin() as c:
            c.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    except Exception as e:  # noqa: BLE001
        service_missing(f"MySQL not reachable at {TEST_MYSQL_URL}: {type(e).__name__}")
    url = sa.engine.make_url(TEST_MYSQL_URL).set(database=name).render_as_string(hide_password=False)
    yield url
    with eng.begin() as c:
        c.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
    eng.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_webserver(env: dict, timeout: float = 120):
    """A real ``dagster-webserver`` for the code location on a free loopback port, with
    ``env`` (DAGSTER_HOME, WAREHOUSE_URL, ...); yields its base URL, stops it afterwards."""
    import subprocess
    import sys
    import time

    import requests

    port = _free_port()
    web = subprocess.Popen([str(Path(sys.executable).parent / "dagster-webserver"), "-m", "ingestion_pipelines.definitions",
                            "-a", "defs", "-h", "127.0.0.1", "-p", str(port)], env=env, cwd=PROJECT_ROOT,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                if requests.get(f"{url}/server_info", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.5)
        else:
            pytest.fail(f"dagster-webserver did not start within {timeout:.0f} s")
        yield url
    finally:
        web.terminate()
        web.wait(30)


@pytest.fixture(scope="session")
def s3_endpoint():
    """A real S3 endpoint on loopback (moto's server mode); sets AWS_ENDPOINT_URL and
    dummy credentials for the session. Yields the endpoint URL."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as e:
        service_missing(f"moto server not installed: {e}")
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    env = {"AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1"}
    with patched_env(env):
        yield url
    server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint) -> str:
    """A fresh bucket on the moto server: yields its name."""
    import boto3

    name = f"b-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_store(s3_bucket):
    """An S3BlobStore on a fresh moto bucket, under prefix ``landing``."""
    from ingestion_pipelines.resources.storage import S3BlobStore

    return S3BlobStore(bucket=s3_bucket, prefix="landing")


@pytest.fixture
def local_store(tmp_path):
    """A LocalBlobStore in a fresh folder."""
    from ingestion_pipelines.resources.storage import LocalBlobStore

    root = tmp_path / "storage"
    root.mkdir()
    return LocalBlobStore(root=str(root))
