"""The ESP sync refuses to push while a hold is open, in any run, and says why."""

import dagster as dg
import pytest

from email_data_platform.defs.activation import assets
from email_data_platform.defs.audiences import assets as audience_assets
from email_data_platform.defs.audiences import consented
from email_data_platform.defs.privacy import assets as privacy_assets
from email_data_platform.lib.connectors.mailchimp import MailchimpClient
from email_data_platform.lib.observability.stage import Hold, acknowledge_hold, open_hold
from email_data_platform.lib.warehouse import DuckDBWarehouse
from email_data_platform.sandbox.server import running_sandbox
from email_data_platform_tests.defs.activation.esp_resources import esp_sync_resources
from email_data_platform_tests.defs.privacy.upstream import AS_OF, seed_upstream

ASSETS = [privacy_assets.consent_events, privacy_assets.consent_ledger,
          audience_assets.customer_features,
          consented.marketable_audience, audience_assets.segments, assets.esp_payload,
          assets.esp_sync]


@pytest.fixture
def esp(tmp_path):
    with running_sandbox(tmp_path / "no_data", tmp_path / "journal.jsonl") as info:
        yield {**info["mailchimp"], "sandbox": info}


def _materialize(path, esp):
    return dg.materialize(
        ASSETS, raise_on_error=False, resources=esp_sync_resources(path, esp["sandbox"]),
        run_config={"ops": {"audiences__customer_features": {"config": {"as_of": AS_OF}}}},
    )


def _member_count(esp) -> int:
    client = MailchimpClient(esp["base_url"], esp["api_key"])
    try:
        return sum(1 for _ in client.iter_members(esp["list_id"]))
    finally:
        client.close()


def test_open_hold_stops_the_push_until_acknowledged(tmp_path, esp):
    path = str(tmp_path / "wh.duckdb")
    wh = DuckDBWarehouse(path)
    seed_upstream(wh)
    hold_id = open_hold(wh, Hold("row_count_drop", "sources/crm_contacts", "fell 40%"))
    wh.close()

    held = _materialize(path, esp)
    assert not held.success
    (failure,) = [e for e in held.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert hold_id in failure.step_failure_data.error.message
    assert _member_count(esp) == 0

    wh = DuckDBWarehouse(path)
    acknowledge_hold(wh, hold_id, by="ana", reason="partial CRM export, re-pulled")
    wh.close()
    released = _materialize(path, esp)
    assert released.success
    assert _member_count(esp) > 0
