"""Issue 3's proof: 50,000 contacts land exactly once through 5xx, 429 bursts and drops."""

import json

import pytest

from email_data_platform.sandbox.faults import FaultConfig
from email_data_platform.sandbox.server import running_sandbox
from email_data_platform_tests.defs.sources.sources_helpers import (
    crm_contacts,
    materialize,
    metadata,
    read,
)
from email_data_platform_tests.sandbox.sandbox_helpers import admin, write_small_dataset


@pytest.mark.slow
def test_50k_contacts_land_exactly_once_through_injected_faults(tmp_path):
    data_dir = write_small_dataset(tmp_path / "data", contacts=50_000, seed=5)
    # Retry-After is fractional here only to keep the suite fast; whole seconds work the same.
    faults = FaultConfig(seed=9, error_rate=0.10, burst_every=97, burst_length=3,
                         retry_after_s=0.2, drop_rate=0.02)
    journal = tmp_path / "journal.jsonl"
    with running_sandbox(data_dir, journal, faults) as info:
        result = materialize(info, tmp_path / "wh.duckdb", [crm_contacts],
                             retry_base_delay_s=0.02)
        expected = admin(info, "hubspot", "stats")["contacts"]
    meta = metadata(result, "sources/crm_contacts")
    landed = read(tmp_path / "wh.duckdb", "sources.crm_contacts")
    assert landed.height == landed["record_id"].n_unique() == expected["total"] == 50_000
    assert meta["hubspot_checksum"] == expected["checksum"]
    assert meta["hubspot_http_server_errors"] > 20 and meta["hubspot_http_throttles"] >= 3
    assert meta["hubspot_http_dropped_connections"] >= 1
    faults_seen = {json.loads(line)["fault"] for line in journal.read_text().splitlines()}
    assert {"5xx", "429_burst", "dropped"} <= faults_seen
