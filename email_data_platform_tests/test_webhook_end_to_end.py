"""A person unsubscribes at Mailchimp; the webhook, the receiver, the sensor and esp_webhook_job
take them off SendGrid too (the whole graph, real simulators and receiver; slow)."""

import time

import dagster as dg
import httpx
import pytest

from email_data_platform.cli.run import materialise
from email_data_platform.cli.sandbox_process import sandbox_env
from email_data_platform.defs.activation.webhooks import esp_webhook_sensor
from email_data_platform.lib.connectors.sendgrid import SendGridClient
from email_data_platform.lib.warehouse import DuckDBWarehouse
from email_data_platform.sandbox.generator import generate_dataset, write_dataset
from email_data_platform.sandbox.server import running_sandbox
from email_data_platform_tests.test_end_to_end import environment

pytestmark = pytest.mark.slow


def _on_both(path) -> str:
    wh = DuckDBWarehouse(path)
    try:
        return wh.query("select email from activation.esp_payload group by email having "
                        "count(distinct destination) = 2 order by email limit 1")["email"][0]
    finally:
        wh.close()


def test_an_unsubscribe_at_mailchimp_removes_the_person_at_sendgrid(tmp_path):
    from email_data_platform.definitions import defs as load_defs

    write_dataset(generate_dataset(400, seed=11), tmp_path / "data")
    spool = tmp_path / "webhooks" / "spool"
    with running_sandbox(tmp_path / "data", tmp_path / "journal.jsonl",
                         webhook_spool=spool) as info:
        env = sandbox_env(info) | {"EDP_HOME": str(tmp_path), "EDP_ALERT_WEBHOOK_URL": "",
                                   "EDP_WAREHOUSE_PATH": str(tmp_path / "wh.duckdb")}
        with environment(env), dg.DagsterInstance.ephemeral() as instance:
            first, _ = materialise(None, instance)
            assert first.success
            email = _on_both(tmp_path / "wh.duckdb")
            chimp = info["mailchimp"]
            httpx.post(chimp["base_url"].removesuffix("/3.0") + "/_sandbox/member-event",
                       auth=("u", chimp["api_key"]), json={"email": email, "type": "unsubscribe"})
            deadline = time.monotonic() + 30
            while not list(spool.glob("*.json")):
                assert time.monotonic() < deadline, "the webhook never reached the spool"
                time.sleep(0.05)
            definitions = load_defs()
            with dg.build_sensor_context(instance=instance, resources={
                    key: definitions.resources[key] for key in ("webhook_spool", "warehouse")},
                    ) as context:
                request = esp_webhook_sensor(context)
            assert isinstance(request, dg.RunRequest)
            job = definitions.resolve_job_def("esp_webhook_job")
            assert job.execute_in_process(instance=instance, tags=request.tags).success
        grid = SendGridClient(info["sendgrid"]["base_url"], info["sendgrid"]["api_key"])
        contact = grid.search_emails([email])[email]
        grid.close()
    assert contact["list_ids"] == []  # off the destination's list at SendGrid
    wh = DuckDBWarehouse(tmp_path / "wh.duckdb")
    events = wh.query("select source, event_type from sources.esp_events where email = ?",
                      [email])
    assert ("mailchimp_webhook", "unsubscribe") in events.rows()
    assert wh.query("select count(*) as n from activation.esp_payload where email = ?",
                    [email])["n"][0] == 0
