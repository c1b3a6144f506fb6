import hashlib
import json

import polars as pl
import pytest

from email_data_platform.lib.activation.destinations import (
    DEFAULT_DESTINATIONS_PATH,
    DestinationDefinitionError,
    load_destinations,
    parse_destinations,
)
from email_data_platform.lib.activation.payload import (
    allow_list_violations,
    build_esp_payload,
    member_from_payload_row,
)

AUDIENCE = pl.DataFrame({
    "entity_id": ["e1", "e2"], "email": [" Ann@Example.com", "bob@example.com"],
    "first_name": ["Ann", None], "last_name": ["Lee", "Bo"],
    "phone": ["+441234", "+449999"],  # present upstream, must never reach the payload
    "consent_event_id": ["c1", "c2"], "personalisation": [True, False],
})
FEATURES = pl.DataFrame({"entity_id": ["e1", "e2"], "lifetime_value": [12.5, 0.0],
                         "recency_days": [3, 4]})
SEGMENTS = pl.DataFrame({"entity_id": ["e1", "e1", "e2"],
                         "segment": ["lapsed", "high_value", "lapsed"]})
DESTINATIONS = load_destinations(DEFAULT_DESTINATIONS_PATH)


def rows(payload, destination):
    return {r["email"]: r for r in payload.filter(pl.col("destination") == destination)
            .iter_rows(named=True)}


def test_one_row_per_destination_and_address_shaped_by_the_mapping():
    payload = build_esp_payload(AUDIENCE, FEATURES, SEGMENTS, DESTINATIONS)
    assert payload.columns == ["destination", "email", "subscriber_hash", "consent_event_id",
                               "merge_fields", "tags", "payload_hash"]
    ann = rows(payload, "mailchimp")["ann@example.com"]
    assert ann["subscriber_hash"] == hashlib.md5(b"ann@example.com").hexdigest()
    assert json.loads(ann["merge_fields"]) == {
        "FNAME": "Ann", "LNAME": "Lee", "LTV": "12.5", "SEGMENTS": "high_value,lapsed"}
    assert ann["tags"] == ["high_value", "lapsed"] and ann["consent_event_id"] == "c1"
    grid = rows(payload, "sendgrid")["ann@example.com"]
    assert json.loads(grid["merge_fields"]) == {"first_name": "Ann", "last_name": "Lee",
                                                "ltv": "12.5", "segments": "high_value,lapsed"}
    assert grid["tags"] == []  # SendGrid has no member tags: segments travel in a field
    assert allow_list_violations(payload, DESTINATIONS) == []
    assert "+441234" not in str(payload.to_dicts())


def test_without_a_personalisation_grant_only_email_and_tags_are_sent():
    payload = build_esp_payload(AUDIENCE, FEATURES, SEGMENTS, DESTINATIONS)
    bob = rows(payload, "mailchimp")["bob@example.com"]
    assert json.loads(bob["merge_fields"]) == {"FNAME": "", "LNAME": "", "LTV": "",
                                               "SEGMENTS": "lapsed"}
    assert bob["tags"] == ["lapsed"]
    # an audience without the new columns: nobody is personalised, consent ids are null
    bare = build_esp_payload(AUDIENCE.drop("personalisation", "consent_event_id"), FEATURES,
                             SEGMENTS, DESTINATIONS)
    assert json.loads(rows(bare, "mailchimp")["ann@example.com"]["merge_fields"])["FNAME"] == ""
    assert bare["consent_event_id"].null_count() == bare.height


def test_payload_hash_changes_only_when_sent_content_changes():
    before = build_esp_payload(AUDIENCE, FEATURES, SEGMENTS, DESTINATIONS)
    same = build_esp_payload(AUDIENCE.with_columns(consent_event_id=pl.lit("c9")),
                             FEATURES.with_columns(recency_days=pl.lit(99)), SEGMENTS,
                             DESTINATIONS)
    changed = build_esp_payload(AUDIENCE, FEATURES.with_columns(lifetime_value=pl.lit(1.0)),
                                SEGMENTS, DESTINATIONS)
    assert before["payload_hash"].to_list() == same["payload_hash"].to_list()
    ann = pl.col("email") == "ann@example.com"
    assert set(before.filter(ann)["payload_hash"]).isdisjoint(changed.filter(ann)["payload_hash"])


def test_a_destination_can_receive_only_some_segments():
    only = parse_destinations({"destinations": {"vip": {
        "vendor": "mailchimp", "segments": ["high_value"], "fields": {"first_name": "FNAME"}}}})
    payload = build_esp_payload(AUDIENCE, FEATURES, SEGMENTS, only)
    assert payload["email"].to_list() == ["ann@example.com"]
    assert payload["tags"].to_list() == [["high_value"]]


def test_allow_list_violations_name_columns_and_merge_fields():
    payload = build_esp_payload(AUDIENCE, FEATURES, SEGMENTS, DESTINATIONS).with_columns(
        phone=pl.lit("+44"), merge_fields=pl.lit('{"FNAME":"A","PHONE":"+44"}'))
    assert allow_list_violations(payload, DESTINATIONS) == [
        "column 'phone'", "mailchimp merge field 'PHONE'", "sendgrid merge field 'FNAME'",
        "sendgrid merge field 'PHONE'"]


@pytest.mark.parametrize(("body", "message"), [
    ({"vendor": "aol"}, "vendor must be one of"),
    ({"vendor": "mailchimp", "fields": {"phone": "PHONE"}}, "fields.phone: not a payload field"),
    ({"vendor": "mailchimp", "fields": {"first_name": "first name"}}, "not a valid mailchimp"),
    ({"vendor": "sendgrid"}, "needs a 'list' name"),
    ({"vendor": "sendgrid", "list": "x", "on_leave": "archive"}, "on_leave must be one of"),
    ({"vendor": "mailchimp", "segments": ["nope"]}, "unknown segments ['nope']"),
])
def test_destination_errors_name_the_destination_and_the_rule(body, message):
    with pytest.raises(DestinationDefinitionError, match=r"destination 'shop'") as error:
        parse_destinations({"destinations": {"shop": body}}, known_segments={"lapsed"})
    assert message in str(error.value)


def test_member_body_never_forces_resubscription():
    payload = build_esp_payload(AUDIENCE, FEATURES, SEGMENTS, DESTINATIONS)
    row = payload.row(0, named=True)
    member = member_from_payload_row(row)
    assert member["status_if_new"] == "subscribed" and "status" not in member
    assert member["email_address"] == row["email"]
