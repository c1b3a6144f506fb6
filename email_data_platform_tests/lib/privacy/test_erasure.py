"""Erasure in the warehouse: request, propagation to every table, tombstones at landing."""

import json

import polars as pl
import pytest

from email_data_platform.lib.privacy.audit import read_audit_log, verify_chain
from email_data_platform.lib.privacy.erasure import (
    ERASURE_LOG,
    REQUESTS,
    pending_requests,
    process_erasures,
    request_erasure,
)
from email_data_platform.lib.privacy.tombstones import (
    TOMBSTONES,
    apply_tombstones,
    remaining_rows,
    sweep,
)
from email_data_platform.lib.sources.landing import land
from email_data_platform.lib.warehouse import DuckDBWarehouse
from email_data_platform_tests.lib.privacy.rights_data import (
    KEY_SPEC,
    ROTATED_SPEC,
    SUBJECT_EMAIL,
    all_text,
    cipher,
    keyring,
    raw_contacts,
    raw_events,
    seed_rights_warehouse,
)

SUBJECT_MARKERS = ["ann@example.com", "ann+news", '"h:1"', '"h:2"', '"e1"', '"ann"', '"lee"']


@pytest.fixture
def wh(tmp_path):
    warehouse = DuckDBWarehouse(tmp_path / "wh.duckdb")
    seed_rights_warehouse(warehouse, keyring())
    yield warehouse
    warehouse.close()


def erase(wh, email=SUBJECT_EMAIL, record_id=None, ring=None):
    request_erasure(wh, cipher(), ring or keyring(), email=email, record_id=record_id)
    return process_erasures(wh, ring or keyring(), cipher(), [], run_id="run-1")


def test_request_holds_the_subject_encrypted_and_nowhere_in_clear(wh):
    request_erasure(wh, cipher(), keyring(), email=" Ann@Example.com")
    request = pending_requests(wh).row(0, named=True)
    assert request["status"] == "pending" and request["subject_encrypted"].startswith("e1:")
    assert "ann@example.com" not in json.dumps(wh.read(REQUESTS).to_dicts(), default=str).lower()
    assert "ann@" not in json.dumps(read_audit_log(wh).to_dicts(), default=str).lower()


def test_a_request_needs_exactly_one_subject_and_never_echoes_it(wh):
    with pytest.raises(ValueError) as error:
        request_erasure(wh, cipher(), keyring(), email="not-an-address")
    assert "not-an-address" not in str(error.value)
    with pytest.raises(ValueError):
        request_erasure(wh, cipher(), keyring(), email=SUBJECT_EMAIL, record_id="h:1")


def test_erasure_removes_every_trace_and_keeps_everyone_else(wh):
    before = all_text(wh)
    (outcome,) = erase(wh)
    after = all_text(wh)
    for marker in SUBJECT_MARKERS:
        assert marker in before and marker not in after, marker
    for other in ["bob@example.com", '"h:3"', "gus@example.com", "cy@example.com", "flo"]:
        assert other in after, other
    assert outcome.subject.record_ids == {"h:1", "h:2"} and outcome.subject.entity_ids == {"e1"}
    assert outcome.rows_per_table["sources.crm_contacts"] == 2
    assert outcome.rows_per_table["profiles.quarantine"] == 1  # her address in raw JSON
    assert outcome.rows_per_table["sources.esp_events"] == 2  # ANN@ and ann+news@ alike
    assert outcome.rows_per_table["audiences.analytics_features"] == 1  # by pseudonym
    assert remaining_rows(wh, keyring()) == {}
    assert pending_requests(wh).height == 0
    assert wh.read(REQUESTS)["subject_encrypted"].to_list() == [None]  # crypto-shredded


def test_erasure_by_record_id_reaches_the_persons_other_records(wh):
    (outcome,) = erase(wh, email=None, record_id="h:2")
    assert outcome.subject.record_ids == {"h:1", "h:2"}
    assert "ann@example.com" not in all_text(wh)


def test_evidence_and_audit_hold_pseudonyms_and_counts_only(wh):
    erase(wh)
    log = wh.read(ERASURE_LOG).row(0, named=True)
    assert log["subject_pseudonym"].startswith("k1:") and log["rows_deleted"] > 10
    assert json.loads(log["rows_per_table"])["identity.entities"] == 2
    audit = read_audit_log(wh)
    assert verify_chain(audit) is None
    assert set(audit["action"]) == {"audit chain started", "erasure requested", "subject erased"}
    people = audit.filter(pl.col("action") != "audit chain started")
    assert set(people["subject"]) == {log["subject_pseudonym"]}
    for table in (ERASURE_LOG, TOMBSTONES, "privacy.audit_log"):
        text = json.dumps(wh.read(table).to_dicts(), default=str).lower()
        assert "ann@" not in text and '"h:1"' not in text, table


def test_relanding_the_same_source_rows_does_not_bring_her_back(wh, monkeypatch):
    monkeypatch.setenv("EDP_PSEUDONYM_KEYS", KEY_SPEC)  # how landing finds the keys
    erase(wh)
    land(wh, "sources.crm_contacts", raw_contacts(), "record_id", "updated_at")
    land(wh, "sources.esp_events", raw_events(), "event_id")
    assert sorted(wh.read("sources.crm_contacts")["record_id"]) == [
        "h:3", "h:4", "h:5", "h:6", "h:7", "h:8", "h:9"]
    assert wh.read("sources.esp_events")["event_id"].to_list() == ["m2"]
    assert remaining_rows(wh, keyring()) == {}


def test_tombstones_match_after_a_key_rotation(wh):
    erase(wh)
    rotated = keyring(ROTATED_SPEC)  # k2 now active, k1 kept
    assert rotated.active_key_id == "k2"
    kept = apply_tombstones(wh, "sources.crm_contacts", raw_contacts(), rotated)
    assert "h:1" not in kept["record_id"].to_list() and kept.height == 7


def test_tombstones_fail_closed_without_their_key(wh):
    erase(wh)
    with pytest.raises(ValueError, match="k1"):
        apply_tombstones(wh, "sources.crm_contacts", raw_contacts(),
                         keyring("k2=second-secret-0123456789abcdef"))
    with pytest.raises(ValueError, match="not the keys"):  # same id, another secret
        apply_tombstones(wh, "sources.crm_contacts", raw_contacts(),
                         keyring("k1=another-secret-0123456789abcdef"))


def test_sweep_removes_copies_that_came_back_by_another_way(wh):
    erase(wh)
    wh.write("profiles.clean_profiles", pl.DataFrame(
        {"record_id": ["h:1", "h:3"], "email": ["x@y.com", "bob@example.com"]}), mode="append")
    wh.write("audiences.new_table", pl.DataFrame(
        {"contact_email": ["ANN@example.com", "gus@example.com"]}))
    assert remaining_rows(wh, keyring()) == {"profiles.clean_profiles": 1,
                                             "audiences.new_table": 1}
    swept = sweep(wh, keyring(), run_id="run-2")
    assert swept["erased"] == {"profiles.clean_profiles": 1, "audiences.new_table": 1}
    entry = read_audit_log(wh).filter(pl.col("action") == "tombstoned rows swept").row(
        0, named=True)
    assert entry["run_id"] == "run-2" and "x@y.com" not in entry["details"]
    assert remaining_rows(wh, keyring()) == {}
    assert wh.read("audiences.new_table")["contact_email"].to_list() == ["gus@example.com"]


def test_every_spelling_of_an_address_is_found(wh):
    wh.write("audiences.variants", pl.DataFrame({"email": [
        " A.nn+promo@GoogleMail.com", "ann@gmail.com", "anna@gmail.com", "nan@gmail.com"]}))
    erase(wh, email="ANN@gmail.com")
    assert sorted(wh.read("audiences.variants")["email"]) == ["anna@gmail.com", "nan@gmail.com"]


def test_columns_verified_clean_are_not_matched_again_until_they_change(wh):
    erase(wh)
    assert sweep(wh, keyring())["tables_matched"]
    assert sweep(wh, keyring())["tables_matched"] == {}  # nothing changed since
    assert remaining_rows(wh, keyring()) == {}
    wh.write("profiles.clean_profiles", pl.DataFrame(
        {"record_id": ["h:2"], "email": ["bob@example.com"]}), mode="append")
    assert remaining_rows(wh, keyring()) == {"profiles.clean_profiles": 1}
    swept = sweep(wh, keyring())
    # the changed columns: record_id, email and email_key (the appended row has none)
    assert swept["tables_matched"] == {"profiles.clean_profiles": 3}
    assert swept["erased"] == {"profiles.clean_profiles": 1}
