import hashlib
import json

import polars as pl
import pytest

from email_data_platform.lib.activation.payload import (
    allow_list_violations,
    build_esp_payload,
    member_from_payload_row,
)

AUDIENCE = pl.DataFrame({
    "entity_id": ["e1", "e2"], "email": [" Ann@Example.com", "bob@example.com"],
    "first_name": ["Ann", None], "last_name": ["Lee", "Bo"],
    "phone": ["+441234", "+449999"],  # present upstream, must never reach the payload
})
FEATURES = pl.DataFrame({"entity_id": ["e1", "e2"], "lifetime_value": [12.5, 0.0],
                         "recency_days": [3, 4]})
SEGMENTS = pl.DataFrame({"entity_id": ["e1", "e1"], "segment": ["lapsed", "high_value"]})


def test_payload_is_minimised_and_shaped_for_mailchimp():
    payload = build_esp_payload(AUDIENCE, FEATURES, SEGMENTS)
    assert payload.columns == ["email", "subscriber_hash", "merge_fields", "tags", "payload_hash"]
    ann = payload.filter(pl.col("email") == "ann@example.com").row(0, named=True)
    assert ann["subscriber_hash"] == hashlib.md5(b"ann@example.com").hexdigest()
    assert json.loads(ann["merge_fields"]) == {
        "FNAME": "Ann", "LNAME": "Lee", "LTV": 12.5, "SEGMENTS": "high_value,lapsed"}
    assert ann["tags"] == ["high_value", "lapsed"]
    assert allow_list_violations(payload) == []
    assert "+441234" not in str(payload.to_dicts())


def test_payload_hash_changes_only_when_sent_content_changes():
    before = build_esp_payload(AUDIENCE, FEATURES, SEGMENTS)
    same = build_esp_payload(AUDIENCE, FEATURES.with_columns(recency_days=pl.lit(99)), SEGMENTS)
    changed = build_esp_payload(AUDIENCE, FEATURES.with_columns(lifetime_value=pl.lit(1.0)),
                                SEGMENTS)
    assert before["payload_hash"].to_list() == same["payload_hash"].to_list()
    assert set(before["payload_hash"]).isdisjoint(changed["payload_hash"])


def test_allow_list_violations_name_columns_and_merge_fields():
    payload = build_esp_payload(AUDIENCE, FEATURES, SEGMENTS).with_columns(
        phone=pl.lit("+44"), merge_fields=pl.lit('{"FNAME":"A","PHONE":"+44"}'))
    assert allow_list_violations(payload) == ["column 'phone'", "merge field 'PHONE'"]
    with pytest.raises(ValueError, match="no allow-list for destination"):
        allow_list_violations(payload, "carrier_pigeon")


def test_member_body_never_forces_resubscription():
    row = build_esp_payload(AUDIENCE, FEATURES, SEGMENTS).row(0, named=True)
    member = member_from_payload_row(row)
    assert member["status_if_new"] == "subscribed" and "status" not in member
    assert member["email_address"] == row["email"]
