"""`edp run` when a blocking check or a step fails: names and messages, exit 1, no traceback
(must show, issue 11). Real processes, real simulators, a real warehouse."""

import os

import pytest

from email_data_platform.lib.warehouse import DuckDBWarehouse
from email_data_platform.sandbox.generator import generate_dataset
from email_data_platform_tests.cli.test_cli import edp

SEED_COLUMNS = ("id", "first_name", "last_name", "email", "phone", "date_of_birth", "city",
                "postal_code")
SYNC = "key:activation/esp_sync or key:activation/sync_receipts"


def run(tmp_path, *args):
    result = edp("run", "--home", "edp", "--warehouse", "wh.duckdb", *args, cwd=tmp_path)
    assert "Traceback" not in result.stdout + result.stderr, result.stderr[-3000:]
    return result


@pytest.mark.slow
def test_blocking_check_and_held_step_are_named_with_their_message_and_exit_1(tmp_path):
    os.environ.pop("EDP_ALERT_WEBHOOK_URL", None)
    contacts = generate_dataset(100, seed=3).contacts.select(SEED_COLUMNS)
    contacts.write_csv(tmp_path / "full.csv")
    contacts.head(60).write_csv(tmp_path / "dropped.csv")

    first = run(tmp_path, "--seed-contacts", "full.csv", "--select", "key:sources/crm_contacts")
    assert first.returncode == 0, first.stdout[-3000:]
    assert "  done  sources/crm_contacts" in first.stdout  # progress as it goes

    dropped = run(tmp_path, "--seed-contacts", "dropped.csv", "--select",
                  "key:sources/crm_contacts")
    assert dropped.returncode == 1, dropped.stdout[-3000:]
    failures = dropped.stdout.split("what failed:")[1]
    assert ("check sources/crm_contacts:crm_contacts_no_anomaly: row_count: "
            "hubspot_source_total fell 40%"
            in failures)
    assert "run FAILED" in dropped.stdout

    held = run(tmp_path, "--seed-contacts", "dropped.csv", "--select", SYNC)
    assert held.returncode == 1, held.stdout[-3000:]
    assert "step activation__esp_sync: ESP sync held by 1 unacknowledged anomaly" in \
        held.stdout.split("what failed:")[1]
    table = [line.split() for line in held.stdout.splitlines()
             if line.startswith("activation/esp_sync ")]
    assert table and table[0][1] == "failed"

    listed = edp("alerts", "list", "--warehouse", "wh.duckdb", cwd=tmp_path)
    assert listed.returncode == 0 and "open holds (the ESP sync is held while any): 1" in \
        listed.stdout
    assert "not_configured" in listed.stdout


def test_ack_with_unknown_id_is_a_clear_error(tmp_path):
    warehouse = DuckDBWarehouse(tmp_path / "wh.duckdb")
    warehouse.execute("select 1")
    warehouse.close()
    result = edp("alerts", "ack", "nope", "--by", "ana", "--reason", "x", "--warehouse",
                 "wh.duckdb", cwd=tmp_path)
    assert result.returncode == 2
    assert "no hold with id 'nope'" in result.stderr
    assert "Traceback" not in result.stderr
