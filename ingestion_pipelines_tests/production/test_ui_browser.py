"""The UI users work in, in a real browser: Playwright driving Debian's Chromium against the real
``dagster-webserver`` and ``dagster-daemon`` on a test DAGSTER_HOME (the project's dagster.yaml,
SQLite storage, the run queue). The asset graph shows every group; an asset materialised from
the UI shows its outcome counts and its failed-rows file as a link; a run started by ``ingest``
is re-executed from the UI; a sensor is switched on. Screenshots are kept in
``.local/artifacts/test_ui_browser/`` (git-ignored). Without Chromium (``apt-get install
chromium``) or Playwright the test skips with the reason, except under REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from dagster import DagsterInstance, RunConfig, RunsFilter

from ingestion_pipelines_tests.conftest import PROJECT_ROOT, patched_env, service_missing
from ingestion_pipelines_tests.production import services as svc

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = PROJECT_ROOT / ".local" / "artifacts" / "test_ui_browser"
ASSET = "campaigns/spotify_campaigns"  # part of campaigns_sync: its default config is the sample CSV
SENSOR = "artists_fixture_sensor"


@pytest.fixture
def browser_page():
    """A Chromium page (1600x1000) through Playwright; skips when either is missing."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        service_missing("playwright not installed (pip install -e '.[dev]')")
    if not CHROMIUM.exists():
        service_missing(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = browser.new_context(viewport={"width": 1600, "height": 1000}).new_page()
        page.set_default_timeout(60_000)
        try:
            yield page
        finally:
            browser.close()


def _open(page, url: str, *, first_visit: bool = False) -> None:
    """Go to ``url``; on the first visit, wait for the UI's community dialog (it shows once,
    a moment after the page) and dismiss it; later visits dismiss it only if it is there."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.goto(url, wait_until="networkidle")
    skip = page.get_by_role("button", name="Skip")
    try:
        skip.wait_for(timeout=15_000 if first_visit else 1_000)
        skip.click()
    except PlaywrightTimeout:
        pass


def _shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_the_ui_tells_the_story(tmp_path, browser_page):
    from ingestion_pipelines.definitions import defs
    from ingestion_pipelines.launch import launch
    from ingestion_pipelines.settings import default_dagster_home
    from ingestion_pipelines.sources.artists.assets import ArtistsImportConfig

    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    env = {"DAGSTER_HOME": str(tmp_path / "home"), "INGEST_STATE_DIR": str(tmp_path / "state")}
    page = browser_page
    with patched_env(env, unset=("WAREHOUSE_URL", "STORAGE_URL", "DAGSTER_PG_HOST")):
        default_dagster_home()
        parent = launch("artists_import_job", RunConfig(ops={"artists_import": ArtistsImportConfig(skip_photos=True)}))
        assert parent.success
        instance = DagsterInstance.get()
        # the daemon first: it loads the code location while the webserver does
        with svc.daemon(env, ARTIFACTS / "logs"), svc.webserver(env, ARTIFACTS / "logs") as url:
            # 1. the asset graph shows every group of the code location
            groups = sorted({spec.group_name for spec in defs.resolve_all_asset_specs()})
            _open(page, f"{url}/asset-groups", first_visit=True)
            for group in groups:
                page.get_by_text(group, exact=True).first.wait_for()
            _shot(page, "01_asset_graph")

            # 2. materialise an asset from its page (its multi-asset's other assets come along)
            _open(page, f"{url}/assets/{ASSET}")
            page.locator("button", has_text="Materialize").first.click()
            page.get_by_role("button", name="Confirm").click()
            run_id = svc.wait_for(lambda: _asset_run(instance), 60, "the UI's materialization run")
            assert svc.wait_for(lambda: _finished(url, run_id), 150, f"run {run_id}") == "SUCCESS"
            md = _latest_metadata(instance, ASSET)
            _open(page, f"{url}/assets/{ASSET}")
            page.get_by_text("inserted", exact=True).first.wait_for()
            page.get_by_text(str(md["inserted"]), exact=True).first.wait_for()
            link = page.locator(f"a[href='{md['failed_rows_file']}']")
            link.first.wait_for()
            assert md["failed_rows_file"].endswith("campaign_csv_failed.csv") and md["failed"] > 0
            link.first.scroll_into_view_if_needed()
            _shot(page, "02_materialization_counts_and_failed_rows_link")

            # 3. the run `ingest` started is re-executed from its page
            _open(page, f"{url}/runs/{parent.run_id}")
            page.locator("button", has_text="Re-execute").first.click()
            page.wait_for_url(lambda u: "/runs/" in u and parent.run_id not in u)
            child = page.url.rstrip("/").rsplit("/", 1)[1]
            assert svc.wait_for(lambda: _finished(url, child), 150, f"re-execution {child}") == "SUCCESS"
            assert instance.get_run_by_id(child).parent_run_id == parent.run_id
            _open(page, f"{url}/runs/{child}")
            page.get_by_text("Success", exact=True).first.wait_for()
            _shot(page, "03_reexecuted_ingest_run")

            # 4. a sensor is switched on
            _open(page, f"{url}/locations/{svc.REPOSITORY}@{svc.LOCATION}/sensors/{SENSOR}")
            page.locator("label:has(input[type=checkbox])").first.click()  # the "Running" switch
            svc.wait_for(lambda: _sensor_status(url) == "RUNNING", 30, f"{SENSOR} running")
            _shot(page, "04_sensor_on")
        instance.dispose()


def _asset_run(instance: DagsterInstance) -> str | None:
    """The id of the run the UI launched for :data:`ASSET` (the implicit asset job), if any."""
    runs = instance.get_runs(RunsFilter(job_name="__ASSET_JOB"), limit=1)
    return runs[0].run_id if runs else None


def _finished(url: str, run_id: str) -> str | None:
    status = svc.run_status(url, run_id)
    return status if status in svc.TERMINAL else None


def _latest_metadata(instance: DagsterInstance, key: str) -> dict:
    from dagster import AssetKey

    event = instance.get_latest_materialization_event(AssetKey(key.split("/")))
    mat = event.asset_materialization
    return {k: getattr(v, "value", v) for k, v in mat.metadata.items()}


def _sensor_status(url: str) -> str:
    data = svc.graphql(url, "query($s: SensorSelector!) { sensorOrError(sensorSelector: $s) { "
                            "... on Sensor { sensorState { status } } } }", {"s": svc.selector(sensorName=SENSOR)})
    return data["sensorOrError"]["sensorState"]["status"]
