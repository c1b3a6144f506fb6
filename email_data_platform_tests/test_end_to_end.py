"""The whole asset graph on a small generated data set against the vendor simulators."""

import os
from contextlib import contextmanager

import dagster as dg
import polars as pl
import pytest

from email_data_platform.cli.run import materialise
from email_data_platform.cli.sandbox_process import sandbox_env
from email_data_platform.cli.summary import summarise
from email_data_platform.lib.connectors.mailchimp import MailchimpClient
from email_data_platform.lib.warehouse import DuckDBWarehouse
from email_data_platform.sandbox.generator import DEFAULT_AS_OF, generate_dataset, write_dataset
from email_data_platform.sandbox.server import running_sandbox
from email_data_platform_tests.consent_oracle import fold, mailable_addresses

CONTACTS = 600


@contextmanager
def environment(values: dict[str, str]):
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One materialisation of the whole graph; the ESP's members read while it still runs."""
    home = tmp_path_factory.mktemp("edp")
    dataset = generate_dataset(CONTACTS, seed=7)
    write_dataset(dataset, home / "data")
    with running_sandbox(home / "data", home / "journal.jsonl") as info:
        env = sandbox_env(info) | {
            "EDP_HOME": str(home),
            "EDP_WAREHOUSE_PATH": str(home / "warehouse.duckdb"),
            "EDP_TRUTH_PATH": str(home / "data" / "truth.parquet"),
            "EDP_ALERT_WEBHOOK_URL": "",  # alerts stay in observability.alerts
            # judged as of the day the data set describes, not the day the test runs
            "EDP_AS_OF": DEFAULT_AS_OF.isoformat(),
        }
        with environment(env), dg.DagsterInstance.ephemeral() as instance:
            result, keys = materialise(None, instance)
            summary = summarise(result, keys, instance)
        client = MailchimpClient(info["mailchimp"]["base_url"], info["mailchimp"]["api_key"])
        try:
            members = list(client.iter_members(info["mailchimp"]["list_id"]))
        finally:
            client.close()
    warehouse = DuckDBWarehouse(home / "warehouse.duckdb")
    yield {"summary": summary, "warehouse": warehouse, "members": members,
           "dataset": dataset, "home": home}
    warehouse.close()


def test_every_asset_materialises_and_every_blocking_check_passes(run):
    summary = run["summary"]
    assert summary.ok, [line for line in summary.lines if line.status != "ok"] + \
        summary.blocking_failures
    assert all(line.status == "ok" for line in summary.lines)
    missing_rows = [line.asset for line in summary.lines if line.rows is None]
    assert not missing_rows, f"no dagster/row_count metadata: {missing_rows}"


def test_raw_rows_are_clean_or_quarantined(run):
    wh = run["warehouse"]
    raw = wh.read("sources.crm_contacts")
    assert raw.height == CONTACTS
    clean = wh.read("profiles.clean_profiles")
    quarantined = wh.read("profiles.quarantine").filter(pl.col("table_name") == "crm_contacts")
    assert clean.height + quarantined.height == raw.height
    assert set(clean["record_id"]) | set(quarantined["record_key"]) == set(raw["record_id"])
    assert quarantined.height > 0, "the generator's invalid rows must land in quarantine"


def test_every_clean_record_has_one_entity(run):
    wh = run["warehouse"]
    clean = wh.read("profiles.clean_profiles")
    entities = wh.read("identity.entities")
    assert entities["record_id"].n_unique() == entities.height
    assert set(entities["record_id"]) == set(clean["record_id"])
    assert entities["entity_id"].n_unique() < clean.height, "duplicates must merge"


def test_no_address_without_its_own_current_consent_reached_the_esp(run):
    """Judged from the raw source tables alone, by an oracle written apart from the platform."""
    wh = run["warehouse"]
    assert wh.read("activation.esp_payload").height > 0
    allowed = mailable_addresses(wh.read("sources.crm_contacts").to_dicts(),
                                 wh.read("sources.consent_raw").to_dicts(),
                                 wh.read("sources.esp_events").to_dicts())
    pushed = {fold(m["email_address"]) for m in run["members"]}
    assert pushed and pushed <= allowed, sorted(pushed - allowed)[:5]


PERSONAL = {"email", "email_address", "email_key", "phone", "mobile", "first_name", "last_name",
            "full_name", "name"}


def test_no_table_tagged_non_pii_holds_an_email_phone_or_name_column(run):
    from email_data_platform.definitions import defs

    graph = defs().resolve_asset_graph()
    wh = run["warehouse"]
    offenders = {}
    for key in graph.get_all_asset_keys():
        table = ".".join(key.path)
        if graph.get(key).tags.get("pii") == "true" or not wh.exists(table):
            continue
        held = set(wh.query(f"select * from {table} limit 0").columns)
        found = {c for c in held if c in PERSONAL or c.endswith("_email")}
        if found:
            offenders[table] = sorted(found)
    assert offenders == {}
    inventory = wh.read("privacy.data_inventory")
    assert inventory.filter(pl.col("table") == "profiles.clean_profiles")[
        "personal_columns"].item().startswith("first_name, last_name, email")
    assert (run["home"] / "privacy" / "data_inventory.csv").exists()


def test_esp_holds_exactly_the_pushed_members(run):
    pushed = run["warehouse"].read("activation.esp_payload").filter(
        pl.col("destination") == "mailchimp")  # one payload row per destination and address
    esp_hashes = {m["id"] for m in run["members"] if m["status"] == "subscribed"}
    assert esp_hashes == set(pushed["subscriber_hash"])
    assert len(run["members"]) == pushed.height


def test_reconciliation_agrees(run):
    reconciliation = run["warehouse"].read("observability.reconciliation")
    assert reconciliation.height >= 4
    assert reconciliation["ok"].all(), reconciliation.filter(~pl.col("ok")).to_dicts()


def test_simulators_journaled_the_requests(run):
    journal = (run["home"] / "journal.jsonl").read_text().splitlines()
    assert any('"hubspot"' in line for line in journal)
    assert any('"mailchimp"' in line and '"POST"' in line for line in journal)


@pytest.mark.slow
def test_the_graph_runs_with_each_step_in_its_own_process(tmp_path):
    """`edp run --step-processes` (on the sources, to keep it short: forking costs seconds a
    step): every asset and blocking check OK, with each step run in a process of its own
    (forked for it), never in the run's process."""
    from email_data_platform.cli.run import materialise_in_step_processes

    write_dataset(generate_dataset(300, seed=11), tmp_path / "data")
    (tmp_path / "dg").mkdir()
    with running_sandbox(tmp_path / "data", tmp_path / "journal.jsonl") as info:
        env = sandbox_env(info) | {
            "EDP_HOME": str(tmp_path), "EDP_WAREHOUSE_PATH": str(tmp_path / "wh.duckdb"),
            "EDP_ALERT_WEBHOOK_URL": "", "EDP_AS_OF": DEFAULT_AS_OF.isoformat()}
        with environment(env), dg.DagsterInstance.local_temp(str(tmp_path / "dg")) as instance:
            summary = materialise_in_step_processes("group:sources", instance)
            run_id = instance.get_run_records(limit=1)[0].dagster_run.run_id
            starts = [r.dagster_event for r in instance.all_logs(run_id)
                      if r.dagster_event and r.dagster_event.event_type_value == "STEP_START"]
    assert summary.ok, summary
    assert all(line.status == "ok" for line in summary.lines), summary
    step_pids = {event.pid for event in starts}
    assert len(summary.lines) == 5 and len(starts) > 12  # the five sources and their checks
    assert os.getpid() not in step_pids and len(step_pids) == len(starts)
