"""Must show (issue 11): a 40% drop in the CRM's contacts reaches a local webhook receiver, and
no ESP sync, in any later run, pushes anything until `edp alerts ack`."""

import dagster as dg
import pytest

from email_data_platform.cli import main
from email_data_platform.defs.observability.alerts import AlertsResource
from email_data_platform.defs.observability.anomalies import anomaly_checks
from email_data_platform.defs.sources.assets import crm_contacts
from email_data_platform.lib.observability.stage import open_holds
from email_data_platform.lib.privacy.audit import read_audit_log
from email_data_platform.lib.warehouse import DuckDBWarehouse
from email_data_platform.sandbox.server import running_sandbox
from email_data_platform_tests.defs.observability.test_hold_gate import (
    _materialize as sync_audience,
)
from email_data_platform_tests.defs.observability.test_hold_gate import _member_count
from email_data_platform_tests.defs.privacy.upstream import seed_upstream
from email_data_platform_tests.defs.sources.sources_helpers import hubspot_client
from email_data_platform_tests.defs.sources.sources_helpers import resources as source_resources
from email_data_platform_tests.sandbox.sandbox_helpers import write_small_dataset
from email_data_platform_tests.webhook_receiver import webhook_receiver

CONTACTS_CHECKS = [c for c in anomaly_checks
                   if {k.asset_key for k in c.check_keys} == {crm_contacts.key}]


def pull_contacts(info, path, instance, url):
    resources = {**source_resources(info, path), "alerts": AlertsResource(webhook_url=url)}
    result = dg.materialize([crm_contacts, *CONTACTS_CHECKS], instance=instance,
                            resources=resources, raise_on_error=False)
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation


def archive_share_of_hubspot_contacts(info, share: float) -> int:
    client = hubspot_client(info)
    try:
        ids = [contact["id"] for contact in client.iter_contacts()]
        doomed = ids[: int(len(ids) * share)]
        for object_id in doomed:
            client.archive_object("contacts", object_id)
        return len(doomed)
    finally:
        client.close()


@pytest.mark.slow
def test_a_40_percent_drop_alerts_the_webhook_and_holds_every_sync_until_acked(tmp_path):
    data = write_small_dataset(tmp_path / "data", contacts=300, seed=5)
    path = tmp_path / "wh.duckdb"
    with (dg.DagsterInstance.ephemeral() as instance, webhook_receiver() as (url, received),
          running_sandbox(data, tmp_path / "journal.jsonl") as info):
        assert pull_contacts(info, path, instance, url).passed
        archive_share_of_hubspot_contacts(info, 0.4)
        dropped = pull_contacts(info, path, instance, url)
        assert not dropped.passed and dropped.severity == dg.AssetCheckSeverity.ERROR

    assert len(received) == 1
    assert "sources/crm_contacts: hubspot_source_total fell 40%" in received[0]["text"]
    wh = DuckDBWarehouse(path)
    (hold_id,) = open_holds(wh)["hold_id"].to_list()
    seed_upstream(wh)
    wh.close()

    with running_sandbox(tmp_path / "no_data", tmp_path / "esp.jsonl") as esp_info:
        esp = {**esp_info["mailchimp"], "sandbox": esp_info}
        for _ in range(2):  # any number of later runs: still nothing pushed
            held = sync_audience(str(path), esp)
            assert not held.success
            assert _member_count(esp) == 0
        assert main(["alerts", "ack", hold_id, "--by", "ana", "--reason",
                     "HubSpot duplicates removed on purpose", "--warehouse", str(path)]) == 0
        assert sync_audience(str(path), esp).success
        assert _member_count(esp) > 0

    wh = DuckDBWarehouse(path)
    acks = read_audit_log(wh).filter(read_audit_log(wh)["action"] == "hold acknowledged")
    assert acks["actor"].to_list() == ["ana"]
    wh.close()
