from datetime import UTC, datetime

import polars as pl

from email_data_platform.lib.identity.golden import build_golden_profiles


def profile(record_id, source, first, email, company, phone, updated_day):
    return {"record_id": record_id, "source": source, "first_name": first, "last_name": "Lee",
            "email": email, "phone": phone, "date_of_birth": None, "city": "Leeds",
            "postal_code": "LS11BA", "country": "GB", "company": company,
            "created_at": datetime(2024, 1, 1, tzinfo=UTC),
            "updated_at": datetime(2024, 1, updated_day, tzinfo=UTC)}


def test_survivorship_rules_pick_values_and_name_their_source():
    profiles = pl.DataFrame([
        profile("hubspot:1", "hubspot", "Anne", "old@x.com", "Web Form Ltd", "+447700900001", 1),
        profile("hubspot:2", "hubspot", "Anne", None, None, "+447700900002", 20),
        profile("salesforce:3", "salesforce", "Anna", "new@x.com", "Acme Corp", None, 10),
        profile("hubspot:4", "hubspot", "Solo", "solo@x.com", None, None, 5),
    ])
    entities = pl.DataFrame({"record_id": ["hubspot:1", "hubspot:2", "salesforce:3", "hubspot:4"],
                             "entity_id": ["E1", "E1", "E1", "E2"]})
    golden = build_golden_profiles(profiles, entities)
    e1 = golden.filter(pl.col("entity_id") == "E1").row(0, named=True)
    assert (e1["first_name"], e1["first_name_source"]) == ("Anne", "hubspot:2")  # 2 votes
    assert (e1["email"], e1["email_source"]) == ("new@x.com", "salesforce:3")  # latest non-null
    assert (e1["phone"], e1["phone_source"]) == ("+447700900002", "hubspot:2")
    assert (e1["company"], e1["company_source"]) == ("Acme Corp", "salesforce:3")  # priority
    assert e1["record_count"] == 3
    assert golden.height == 2 and golden["entity_id"].to_list() == ["E1", "E2"]
    assert golden.filter(pl.col("entity_id") == "E2")["company"].to_list() == [None]
