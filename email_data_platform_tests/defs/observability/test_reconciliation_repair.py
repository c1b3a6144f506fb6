"""Reconciliation against the Mailchimp simulator: history per run, the fast count path, and
a targeted repair that re-pushes exactly the member the ESP lost."""

import dagster as dg
import polars as pl
import pytest

from email_data_platform.defs.activation import assets
from email_data_platform.defs.connections import MailchimpResource
from email_data_platform.defs.observability.assets import reconciliation
from email_data_platform.defs.warehouse import WarehouseResource
from email_data_platform.lib.connectors.mailchimp import MailchimpClient
from email_data_platform.lib.profiles.stage import empty_quarantine
from email_data_platform.lib.warehouse import DuckDBWarehouse
from email_data_platform.sandbox.server import running_sandbox
from email_data_platform_tests.defs.observability.test_hold_gate import _materialize
from email_data_platform_tests.defs.privacy.upstream import seed_upstream


@pytest.fixture
def esp(tmp_path):
    with running_sandbox(tmp_path / "no_data", tmp_path / "journal.jsonl") as info:
        yield {**info["mailchimp"], "sandbox": info}


def reconcile(path, esp, **config):
    wh = DuckDBWarehouse(path)
    # The reconciliation also reads these; empty ones keep this test about the ESP.
    if not wh.exists("profiles.quarantine"):
        wh.write("profiles.quarantine", empty_quarantine())
    for table, key in [("sources.crm_contacts", "record_id"),
                       ("sources.crm_orders", "order_record_id")]:
        if not wh.exists(table):
            wh.write(table, pl.DataFrame(schema={key: pl.Utf8}))
    wh.close()
    result = dg.materialize(
        [reconciliation], resources={
            "warehouse": WarehouseResource(path=path), "mailchimp": MailchimpResource(
                base_url=esp["base_url"], api_key=esp["api_key"], list_id=esp["list_id"])},
        run_config={"ops": {"observability__reconciliation": {"config": config}}})
    (materialization,) = result.asset_materializations_for_node("observability__reconciliation")
    return {k: v.value for k, v in materialization.metadata.items()}


def esp_row(path) -> dict:
    wh = DuckDBWarehouse(path)
    try:
        rows = wh.read("observability.reconciliation").filter(
            pl.col("check") == "ESP members = synced state")
    finally:
        wh.close()
    return rows.row(0, named=True)


@pytest.mark.slow
def test_lost_member_is_found_and_re_pushed_alone(tmp_path, esp):
    path = str(tmp_path / "wh.duckdb")
    wh = DuckDBWarehouse(path)
    seed_upstream(wh)
    wh.close()
    assert _materialize(path, esp).success
    first = reconcile(path, esp)
    assert esp_row(path)["ok"] and first["esp_members_listed"] is False

    client = MailchimpClient(esp["base_url"], esp["api_key"])
    lost = next(iter(client.iter_members(esp["list_id"])))["id"]
    client.archive_member(esp["list_id"], lost)  # e.g. archived by hand in Mailchimp
    client.close()

    found = reconcile(path, esp)
    assert not esp_row(path)["ok"] and found["members_requeued"] == 1
    assert found["esp_members_listed"] is True
    resent = _materialize(path, esp)
    assert resent.success
    sync = [m for m in resent.asset_materializations_for_node("activation__esp_sync")
            if m.asset_key == assets.ESP_SYNC][0].metadata
    assert sync["upserted"].value == 1, [(k, v.value) for k, v in sync.items() if "schema" not in k]
    reconcile(path, esp)
    assert esp_row(path)["ok"]

    wh = DuckDBWarehouse(path)
    history = wh.read("observability.reconciliation_history")
    wh.close()
    assert history["run_id"].n_unique() == 3
