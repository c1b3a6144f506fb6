from datetime import UTC, date, datetime

import polars as pl

from email_data_platform.lib.identity import blocking_keys
from email_data_platform.lib.identity.incremental import (
    candidate_profiles,
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
