from datetime import UTC, date, datetime

import polars as pl

from email_data_platform.lib.identity import blocking_keys
from email_data_platform.lib.identity.incremental import (
    candidate_profiles,
    find_delta_in_warehouse,
    load_delta,
    save_delta,
    store_pairs,
)
from email_data_platform.lib.identity.linking import PAIR_SCHEMA
from email_data_platform.lib.identity.matching import prepare_matching_frame
from email_data_platform.lib.identity.resolve import Delta
from email_data_platform.lib.identity.settings import DEFAULT_BLOCKING_RULES
from email_data_platform.lib.warehouse import DuckDBWarehouse


def profile(record_id, first, last, email=None, phone=None, dob=None, postcode=None):
    return {"record_id": record_id, "first_name": first, "last_name": last, "email_key": email,
            "phone": phone, "date_of_birth": dob, "postal_code": postcode, "city": None,
            "updated_at": datetime(2026, 1, 1, tzinfo=UTC)}


SCHEMA = {"record_id": pl.Utf8, "first_name": pl.Utf8, "last_name": pl.Utf8,
          "email_key": pl.Utf8, "phone": pl.Utf8, "date_of_birth": pl.Date,
          "postal_code": pl.Utf8, "city": pl.Utf8, "updated_at": pl.Datetime("us", "UTC")}


def test_candidates_are_existing_profiles_sharing_a_derived_blocking_key(tmp_path):
    existing = [
        profile("h:1", "Robert", "Stine", dob=date(1980, 5, 1)),  # nickname + dob only
        profile("h:2", "Ann", "Lee", postcode="LS1 1BA", dob=date(1990, 1, 2)),  # dob+postcode
        profile("h:3", "Mia", "Cruz", email="mia@x.com"),  # email
        profile("h:4", "Stone", "Bob", dob=date(1980, 5, 1)),  # swapped names + dob
        profile("h:5", "Zed", "Void", email="zed@x.com", dob=date(1970, 3, 3)),  # unrelated
    ]
    new = [
        profile("n:1", "Bob", "Stone", dob=date(1980, 5, 1)),
        profile("n:2", "Joan", "Leigh", postcode="ls11ba", dob=date(1990, 1, 2)),
        profile("n:3", "Mia", "Cruz", email="mia@x.com"),
    ]
    warehouse = DuckDBWarehouse(tmp_path / "w.duckdb")
    warehouse.write("profiles.clean_profiles", pl.DataFrame(existing + new, schema=SCHEMA))
    delta_frame, _ = prepare_matching_frame(pl.DataFrame(new, schema=SCHEMA))
    found = candidate_profiles(warehouse, delta_frame, DEFAULT_BLOCKING_RULES)
    warehouse.close()
    assert sorted(found["record_id"]) == ["h:1", "h:2", "h:3", "h:4"]


EXISTING = [
    profile("h:1", "Mia", "Cruz", email="mia@x.com"),
    profile("h:2", "Zed", "Void", email="zed@x.com", dob=date(1970, 3, 3)),
]
NEW = [profile("n:1", "Mia", "Cruz", email="mia@x.com")]


def _warehouse(tmp_path, rows) -> DuckDBWarehouse:
    warehouse = DuckDBWarehouse(tmp_path / "w.duckdb")
    warehouse.write("profiles.clean_profiles", pl.DataFrame(rows, schema=SCHEMA))
    return warehouse


def test_stored_keys_written_for_other_rules_are_rebuilt(tmp_path):
    warehouse = _warehouse(tmp_path, EXISTING + NEW)
    # Keys stored for the phone rule only: the email match would be missed if they were used.
    blocking_keys.save_keys(warehouse, pl.DataFrame(EXISTING, schema=SCHEMA),
                            DEFAULT_BLOCKING_RULES[1:2])
    delta_frame, _ = prepare_matching_frame(pl.DataFrame(NEW, schema=SCHEMA))
    found = candidate_profiles(warehouse, delta_frame, DEFAULT_BLOCKING_RULES)
    warehouse.close()
    assert found["record_id"].to_list() == ["h:1"]


def test_an_incremental_link_replaces_the_stored_keys_of_changed_records(tmp_path):
    changed = [{**EXISTING[1], "email_key": "mia@x.com"}]
    warehouse = _warehouse(tmp_path, [EXISTING[0], *changed, *NEW])
    blocking_keys.save_keys(warehouse, pl.DataFrame(EXISTING, schema=SCHEMA),
                            DEFAULT_BLOCKING_RULES)
    warehouse.write("identity.match_pairs", pl.DataFrame(schema=PAIR_SCHEMA))
    delta = Delta(pl.Series(["h:2"]), pl.Series([], dtype=pl.Utf8))
    store_pairs(warehouse, delta, pl.DataFrame(changed, schema=SCHEMA),
                pl.DataFrame(schema=PAIR_SCHEMA), DEFAULT_BLOCKING_RULES)
    delta_frame, _ = prepare_matching_frame(pl.DataFrame(NEW, schema=SCHEMA))
    found = candidate_profiles(warehouse, delta_frame, DEFAULT_BLOCKING_RULES)
    warehouse.close()
    assert sorted(found["record_id"]) == ["h:1", "h:2"]


def test_the_delta_tells_new_records_from_changed_and_removed_ones(tmp_path):
    warehouse = DuckDBWarehouse(tmp_path / "w.duckdb")
    later = datetime(2026, 2, 1, tzinfo=UTC)
    profiles = pl.DataFrame([profile("h:1", "A", "B"), {**profile("h:2", "C", "D"),
                             "updated_at": later}, profile("n:1", "E", "F")], schema=SCHEMA)
    warehouse.write("profiles.clean_profiles", profiles)
    linked_at = datetime(2026, 1, 1, tzinfo=UTC)
    warehouse.write("identity.entities", pl.DataFrame({
        "record_id": ["h:1", "h:2", "h:9"], "entity_id": ["e1", "e2", "e9"],
        "entity_first_seen_at": [linked_at] * 3, "record_updated_at": [linked_at] * 3}))
    delta = find_delta_in_warehouse(warehouse)
    save_delta(warehouse, delta)
    loaded = load_delta(warehouse)
    warehouse.close()
    for found in (delta, loaded):
        assert sorted(found.changed_ids) == ["h:2", "n:1"]
        assert found.linked_ids.to_list() == ["h:2"]
        assert sorted(found.stale_ids) == ["h:2", "h:9"]
    # Not knowing which records were linked before, every changed record counts as stale.
    assert sorted(Delta(pl.Series(["h:2", "n:1"]), pl.Series(["h:9"])).stale_ids) == [
        "h:2", "h:9", "n:1"]


def test_new_records_leave_stored_pairs_alone_and_changed_ones_replace_theirs(tmp_path):
    warehouse = _warehouse(tmp_path, [*EXISTING, *NEW])
    blocking_keys.save_keys(warehouse, pl.DataFrame(EXISTING, schema=SCHEMA),
                            DEFAULT_BLOCKING_RULES)
    stored = pl.DataFrame({"record_id_l": ["h:1"], "record_id_r": ["h:2"],
                           "match_weight": [9.0], "match_probability": [0.99]}, schema=PAIR_SCHEMA)
    warehouse.write("identity.match_pairs", stored)
    new = Delta(pl.Series(["n:1"]), pl.Series([], dtype=pl.Utf8), linked_ids=pl.Series(
        [], dtype=pl.Utf8))
    store_pairs(warehouse, new, pl.DataFrame(NEW, schema=SCHEMA),
                pl.DataFrame(schema=PAIR_SCHEMA), DEFAULT_BLOCKING_RULES)
    after_new = warehouse.read("identity.match_pairs")
    changed = Delta(pl.Series(["h:2"]), pl.Series([], dtype=pl.Utf8),
                    linked_ids=pl.Series(["h:2"]))
    store_pairs(warehouse, changed, pl.DataFrame(EXISTING[1:], schema=SCHEMA),
                pl.DataFrame(schema=PAIR_SCHEMA), DEFAULT_BLOCKING_RULES)
    after_changed = warehouse.read("identity.match_pairs")
    keys = warehouse.read(blocking_keys.KEYS)["record_id"].sort().to_list()
    warehouse.close()
    assert after_new.equals(stored) and after_changed.height == 0
    assert keys == ["h:1", "h:2", "n:1"]  # one key row per record, the changed one replaced


def test_the_saved_delta_keeps_the_changed_records_updated_at(tmp_path):
    warehouse = DuckDBWarehouse(tmp_path / "w.duckdb")
    stamps = pl.DataFrame({"record_id": ["h:1"], "updated_at": [datetime(2026, 1, 2, tzinfo=UTC)]},
                          schema={"record_id": pl.Utf8, "updated_at": pl.Datetime("us", "UTC")})
    save_delta(warehouse, Delta(stamps["record_id"], pl.Series(["h:9"]), stamps))
    loaded = load_delta(warehouse)
    # Without stamps (or with only removals) the delta still round-trips.
    save_delta(warehouse, Delta(pl.Series([], dtype=pl.Utf8), pl.Series(["h:9"])))
    removals_only = load_delta(warehouse)
    warehouse.close()
    assert loaded.changed_stamps.equals(stamps) and loaded.removed_ids.to_list() == ["h:9"]
    assert removals_only.size == 0 and removals_only.removed_ids.to_list() == ["h:9"]
