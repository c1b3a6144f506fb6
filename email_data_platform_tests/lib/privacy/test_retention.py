"""Retention: exactly the people with no granted consent and no recent activity are anonymised.

People (see upstream.py), judged on 2026-11-28 with 365 days:
- e1 Ann, e7 Gus: granted consent -> kept, however inactive.
- e2 Bob: withdrew, profile untouched since 2024, but unsubscribed at the ESP in 2026 -> active.
- e4 Di: no grant; one record updated in June 2026 -> active.
- e3 Cy, e5 Ed, e6 Flo: no grant, nothing since 2024 -> anonymised. Flo's address is also on a
  record of Gus (h:10), so her address is left where it is Gus's.
"""

from datetime import UTC, datetime

import polars as pl
import pytest

from email_data_platform.lib.privacy import retention
from email_data_platform.lib.privacy.audit import read_audit_log
from email_data_platform.lib.privacy.retention import (
    RETENTION_LOG,
    anonymise_inactive,
    eligible_entities,
)
from email_data_platform.lib.sources.landing import land
from email_data_platform.lib.warehouse import DuckDBWarehouse
from email_data_platform_tests.lib.privacy.rights_data import (
    ELIGIBLE,
    KEY_SPEC,
    keyring,
    raw_contacts,
    seed_retention_warehouse,
)

AS_OF = datetime(2026, 11, 28, tzinfo=UTC)


@pytest.fixture
def wh(tmp_path):
    warehouse = DuckDBWarehouse(tmp_path / "wh.duckdb")
    seed_retention_warehouse(warehouse, keyring())
    yield warehouse
    warehouse.close()


def test_eligible_are_exactly_the_unconsented_inactive(wh):
    assert eligible_entities(wh, 365, AS_OF)["entity_id"].to_list() == ELIGIBLE
    assert eligible_entities(wh, 5000, AS_OF).height == 0


def test_anonymising_nulls_their_pii_everywhere_and_nobody_elses(wh):
    result = anonymise_inactive(wh, keyring(), [], 365, "run-r", AS_OF)
    assert result["people"] == 3
    golden = wh.read("identity.golden_profiles").sort("entity_id")
    blanked = golden.filter(pl.col("email").is_null())["entity_id"].to_list()
    assert blanked == ELIGIBLE
    assert golden.filter(pl.col("entity_id").is_in(ELIGIBLE))["first_name"].null_count() == 3
    profiles = wh.read("profiles.clean_profiles")
    assert sorted(profiles.filter(pl.col("email").is_null())["record_id"]) == ["h:4", "h:7",
                                                                                 "h:8"]
    assert profiles.height == 10  # rows stay; only personal fields go
    raw = wh.read("sources.crm_contacts").filter(pl.col("email").is_null())
    assert sorted(raw["record_id"]) == ["h:4", "h:7", "h:8"]
    events = wh.read("profiles.clean_esp_events").sort("event_id")
    assert events["email"].to_list() == ["bob@example.com", "flo@example.com", None]
    quarantine = wh.read("profiles.quarantine").sort("record_key")
    assert quarantine["raw_record"].null_count() == 1  # Cy's raw record


def test_log_and_audit_name_pseudonyms_only(wh):
    anonymise_inactive(wh, keyring(), [], 365, "run-r", AS_OF)
    log = wh.read(RETENTION_LOG)
    assert log.height == 3 and all(p.startswith("k1:") for p in log["entity_pseudonym"])
    (entry,) = read_audit_log(wh).filter(pl.col("action") == "inactive people anonymised"
                                          ).to_dicts()
    assert "@" not in entry["details"] and '"e3"' not in entry["details"]


def test_a_second_pass_finds_nobody_new(wh):
    anonymise_inactive(wh, keyring(), [], 365, "run-r", AS_OF)
    assert anonymise_inactive(wh, keyring(), [], 365, "run-s", AS_OF)["people"] == 0


def test_relanding_the_source_does_not_bring_their_pii_back(wh, monkeypatch):
    monkeypatch.setenv("EDP_PSEUDONYM_KEYS", KEY_SPEC)
    anonymise_inactive(wh, keyring(), [], 365, "run-r", AS_OF)
    land(wh, "sources.crm_contacts", raw_contacts(), "record_id", "updated_at")
    raw = wh.read("sources.crm_contacts").sort("record_id")
    assert sorted(raw.filter(pl.col("email").is_null())["record_id"]) == ["h:4", "h:7", "h:8"]
    assert raw.filter(pl.col("record_id") == "h:1")["first_name"].item() == "Ann"
    assert raw.height == 9


def test_batches_of_people_give_the_same_result(wh, monkeypatch):
    monkeypatch.setattr(retention, "BATCH_PEOPLE", 1)
    # Ed (e5) shares Cy's address: both eligible, so it goes even though they are in two batches
    wh.execute("update profiles.clean_profiles set email = 'cy@example.com',"
               " email_key = 'cy@example.com' where record_id = 'h:7'")
    result = anonymise_inactive(wh, keyring(), [], 365, "run-r", AS_OF)
    assert result["people"] == 3
    events = wh.read("profiles.clean_esp_events").sort("event_id")
    assert events["email"].to_list() == ["bob@example.com", "flo@example.com", None]
    golden = wh.read("identity.golden_profiles")
    assert sorted(golden.filter(pl.col("email").is_null())["entity_id"]) == ELIGIBLE
    assert wh.read(RETENTION_LOG).height == 3
