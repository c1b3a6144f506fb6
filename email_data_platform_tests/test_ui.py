"""A person's path through the Dagster UI in a real browser: see the graph, materialise it."""

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from email_data_platform_tests import waiting
from email_data_platform_tests.ports import reserved_port

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed"),
]

RUNS_QUERY = """{ runsOrError { ... on Runs { results { runId status } } } }"""


def graphql(port: int, query: str) -> dict:
    response = httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": query}, timeout=30)
    response.raise_for_status()
    return response.json()["data"]


def wait_until(predicate, timeout: float, what: str):
    """Poll the UI each second; while it starts, errors and partial answers mean "not yet"."""
    return waiting.wait_until(predicate, timeout, what, interval=1,
                              ignore=(httpx.HTTPError, KeyError, TypeError))


@pytest.fixture
def dagster_ui(tmp_path):
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "dagster_home")}
    proc = None
    with (tmp_path / "dev.log").open("w") as log:
        try:
            # The port stays reserved until the UI answers on it, so nothing else can take it.
            with reserved_port() as port:
                cmd = [sys.executable, "-m", "email_data_platform.cli", "dev",
                       "--port", str(port), "--contacts", "300", "--home", str(tmp_path / "edp"),
                       "--warehouse", str(tmp_path / "warehouse.duckdb")]
                proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True,
                                        stdout=log, stderr=subprocess.STDOUT)
                wait_until(lambda: graphql(port, "{ version }"), 180, "the Dagster UI")
            yield port, tmp_path
        finally:
            if proc is not None:
                _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    # SIGINT, as Ctrl-C: `edp dev` then stops its simulators, which run in their own session
    # (SIGTERM ended it without, and left them running). What is left of the group goes after.
    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def test_user_sees_the_graph_and_materialises_it_from_the_ui(dagster_ui):
    from playwright.sync_api import sync_playwright

    port, tmp_path = dagster_ui
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        # Wide: the catalog truncates long names in the middle ("activation / esp_pa…")
        # when columns (freshness, checks) share the width.
        page = browser.new_page(viewport={"width": 2400, "height": 1400})
        page.goto(f"http://127.0.0.1:{port}/assets", wait_until="networkidle")
        for asset in ("esp_payload", "splink_model", "marketable_audience"):
            page.get_by_text(asset).filter(visible=True).first.wait_for(timeout=60_000)
        # Global lineage -> Materialize all -> every daily partition: the initial load, one run.
        page.goto(f"http://127.0.0.1:{port}/asset-groups", wait_until="networkidle")
        page.get_by_role("button", name=re.compile("Materialize all")).first.click(timeout=60_000)
        page.get_by_role("button", name="All", exact=True).click(timeout=60_000)
        page.get_by_role("button", name=re.compile("Launch")).last.click(timeout=60_000)
        # The browser stays open until the launch has reached the server: a run exists.
        wait_until(lambda: graphql(port, RUNS_QUERY)["runsOrError"]["results"], 60,
                   "the run launched from the UI to be created")
        page.screenshot(path=str(tmp_path / "ui-launched.png"))
        browser.close()

    def finished_run():
        runs = graphql(port, RUNS_QUERY)["runsOrError"]["results"]
        done = [r for r in runs if r["status"] in ("SUCCESS", "FAILURE", "CANCELED")]
        return runs and len(done) == len(runs) and runs

    runs = wait_until(finished_run, 400, "the runs launched from the UI to finish")
    assert {r["status"] for r in runs} == {"SUCCESS"}, json.dumps(runs)


# The graph screenshot is kept as a CI artefact (CI collects this folder).
ARTIFACTS = Path(os.environ.get("EDP_ARTIFACTS_DIR", ROOT / "artifacts"))
STAGES = ("sources", "profiles", "identity", "privacy", "audiences", "activation",
          "observability")


def test_auditor_sees_every_stage_checks_schema_and_code_reference(dagster_ui):
    from playwright.sync_api import sync_playwright

    port, _ = dagster_ui
    base = f"http://127.0.0.1:{port}"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 2400, "height": 1400})
        page.goto(f"{base}/asset-groups", wait_until="networkidle")
        for stage in STAGES:  # each stage is a group box in the global asset graph
            page.get_by_text(stage, exact=True).filter(visible=True).first.wait_for(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "ui-asset-graph.png"), full_page=True)

        page.goto(f"{base}/assets/sources/crm_contacts?view=checks", wait_until="networkidle")
        for check in ("crm_contacts_no_anomaly", "crm_contacts_looks_healthy"):
            page.get_by_text(check).filter(visible=True).first.wait_for(timeout=60_000)

        # Before any run: the table schema (from the pandera model), the code reference (its
        # "Source code" link) and the freshness policy.
        # (The UI draws column lineage from a materialisation's metadata;
        # the definition-time lineage is checked through GraphQL in test_graphql_metadata.)
        page.goto(f"{base}/assets/audiences/segments", wait_until="networkidle")
        page.get_by_text("Source code").first.wait_for(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "ui-asset-definition.png"), full_page=True)
        for text in ("entity_id", "str_matches", "Fails if more than 26 hours"):
            page.get_by_text(text).filter(visible=True).first.wait_for(timeout=60_000)
        browser.close()
    assert (ARTIFACTS / "ui-asset-graph.png").stat().st_size > 10_000
