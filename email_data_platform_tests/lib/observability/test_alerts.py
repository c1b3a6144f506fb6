import pytest

from email_data_platform.lib.observability.stage import (
    Alert,
    post_webhook,
    raise_alert,
    read_alerts,
)
from email_data_platform.lib.warehouse import DuckDBWarehouse
from email_data_platform_tests.webhook_receiver import webhook_receiver


@pytest.fixture
def wh(tmp_path):
    warehouse = DuckDBWarehouse(tmp_path / "wh.duckdb")
    yield warehouse
    warehouse.close()


def no_sleep(_seconds):
    pass


def test_alert_reaches_the_webhook_as_slack_json_and_is_recorded_delivered(wh):
    with webhook_receiver() as (url, received):
        row = raise_alert(wh, Alert("row_count", "hubspot_source_total fell 40%",
                                    "sources/crm_contacts", {"x": 1}, hold_id="abc123"), url)
    assert len(received) == 1
    assert received[0]["text"].startswith(":rotating_light: [row_count] sources/crm_contacts:")
    assert "edp alerts ack abc123" in received[0]["text"]
    assert received[0]["alert"]["hold_id"] == "abc123"
    assert row["delivery"] == "delivered" and row["attempts"] == 1 and row["last_status"] == 200
    stored = read_alerts(wh)
    assert stored["alert_id"].to_list() == [row["alert_id"]]


def test_server_errors_are_retried_until_accepted(wh):
    with webhook_receiver([500, 429]) as (url, received):
        row = raise_alert(wh, Alert("run_failure", "job main_job failed"), url, sleep=no_sleep)
    assert len(received) == 3
    assert row["delivery"] == "delivered" and row["attempts"] == 3


def test_a_refused_post_is_recorded_failed_not_delivered(wh):
    with webhook_receiver([404]) as (url, received):
        row = raise_alert(wh, Alert("run_failure", "job failed"), url, sleep=no_sleep)
    assert len(received) == 1  # a 4xx other than 429 is not retried
    assert row["delivery"] == "failed" and row["last_status"] == 404


def test_an_unreachable_webhook_keeps_the_alert_and_never_leaks_the_url(wh, caplog):
    secret_url = "http://127.0.0.1:9/services/SECRET-TOKEN"
    row = raise_alert(wh, Alert("k", "m"), secret_url, attempts=2, sleep=no_sleep)
    assert row["delivery"] == "failed" and row["attempts"] == 2
    assert row["last_error"] == "ConnectError"
    assert "SECRET-TOKEN" not in caplog.text
    assert "SECRET-TOKEN" not in str(read_alerts(wh).to_dicts())


def test_without_a_webhook_the_alert_is_kept_as_not_configured(wh):
    row = raise_alert(wh, Alert("k", "m"), None)
    assert row["delivery"] == "not_configured"
    assert post_webhook(None, {}).state == "not_configured"
