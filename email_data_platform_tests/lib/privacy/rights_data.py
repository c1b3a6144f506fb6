"""A tiny warehouse for the rights tests: the privacy upstream people (upstream.py) plus raw
source rows, a quarantined raw record, an analytics view, match pairs and ESP receipts, so every
kind of identifying column is present somewhere.

Ann (e1: h:1, h:2) is the subject erased or exported; Bob (e2: h:3) shares a match pair with
her, so the tests can see that a pair names no one else.
"""

import json
from datetime import UTC, datetime

import polars as pl

from email_data_platform.lib.privacy.crypto import PiiCipher
from email_data_platform.lib.privacy.pseudonyms import PseudonymKeyring
from email_data_platform.lib.privacy.subjects import subscriber_hash
from email_data_platform.lib.warehouse import DuckDBWarehouse
from email_data_platform_tests.defs.privacy.upstream import PEOPLE, seed_upstream

SUBJECT_EMAIL, SUBJECT_RECORDS, SUBJECT_ENTITY = "ann@example.com", ["h:1", "h:2"], "e1"
ELIGIBLE = ["e3", "e5", "e6"]  # retention: no granted consent, nothing since 2024 (as of 2026-11)
RAW_SPELLING = "  Ann@Example.COM "  # how a CRM may hold it
KEY_SPEC = "k1=first-secret-0123456789abcdef"
ROTATED_SPEC = KEY_SPEC + ",k2=second-secret-0123456789abcdef"


def keyring(spec: str = KEY_SPEC) -> PseudonymKeyring:
    return PseudonymKeyring.from_spec(spec, spec.split(",")[-1].partition("=")[0])


def cipher() -> PiiCipher:
    return PiiCipher({"e1": b"0" * 32}, "e1")


def raw_contacts() -> pl.DataFrame:
    rows = [(r, first, last, RAW_SPELLING if e == SUBJECT_ENTITY else email)
            for e, records, first, last, email in PEOPLE for r in records]
    return pl.DataFrame({
        "record_id": [r[0] for r in rows], "source": ["hubspot"] * len(rows),
        "first_name": [r[1] for r in rows], "last_name": [r[2] for r in rows],
        "email": [r[3] for r in rows], "phone": ["+447700900123"] * len(rows),
        "updated_at": ["2026-11-01T00:00:00Z"] * len(rows)})


def raw_events() -> pl.DataFrame:
    return pl.DataFrame({"event_id": ["m1", "m2", "m3"], "source": ["mailchimp"] * 3,
                         "email": ["ANN@example.com", "gus@example.com", "ann+news@example.com"],
                         "event_type": ["open", "open", "click"],
                         "occurred_at": ["2026-11-02T00:00:00Z"] * 3})


def seed_rights_warehouse(wh: DuckDBWarehouse, ring: PseudonymKeyring) -> None:
    seed_upstream(wh)
    wh.write("sources.crm_contacts", raw_contacts())
    wh.write("sources.esp_events", raw_events())
    wh.write("profiles.quarantine", pl.DataFrame({
        "source": ["hubspot", "hubspot"], "table_name": ["crm_contacts"] * 2,
        "record_key": ["hubspot:77", "hubspot:78"], "rule": ["invalid_phone"] * 2,
        "reason": ["phone"] * 2,
        "raw_record": [json.dumps({"id": "77", "email": "Ann@Example.com", "phone": "x"}),
                       json.dumps({"id": "78", "email": "cy@example.com", "phone": "x"})]}))
    wh.write("identity.match_pairs", pl.DataFrame({
        "record_id_l": ["h:1", "h:3"], "record_id_r": ["h:3", "h:4"],
        "match_probability": [0.2, 0.1]}))
    # Ann is known by her address's pseudonym, as analytics_features derives it
    wh.write("audiences.analytics_features", pl.DataFrame({
        "person_pseudonym": [ring.pseudonym(SUBJECT_EMAIL), ring.pseudonym("entity:e7")],
        "lifetime_value": [600.0, 0.0]}))
    wh.write("activation.sync_receipts", pl.DataFrame({
        "subscriber_hash": [subscriber_hash(SUBJECT_EMAIL), subscriber_hash("gus@example.com")],
        "status": ["ok", "ok"], "synced_at": [datetime(2026, 11, 3, tzinfo=UTC)] * 2}))
    wh.write("audiences.segments", pl.DataFrame(
        {"entity_id": ["e1", "e7"], "segment": ["high_value", "new_customer"]}))
    wh.write("privacy.consent_ledger", pl.DataFrame({
        "entity_id": ["e1", "e2", "e7"], "purpose": ["email_marketing"] * 3,
        "status": ["granted", "withdrawn", "granted"], "record_id": ["h:1", "h:3", "h:9"]}))


def seed_retention_warehouse(wh: DuckDBWarehouse, ring: PseudonymKeyring) -> None:
    """The rights warehouse with activity dates (see test_retention.py for who is eligible)."""
    seed_rights_warehouse(wh, ring)
    records = [(r, e, email) for e, rs, _, _, email in PEOPLE for r in rs] + [
        ("h:10", "e7", "flo@example.com")]  # Flo's address is also on a record of Gus
    updated = {"h:5": datetime(2026, 6, 1, tzinfo=UTC)}
    wh.write("identity.entities", pl.DataFrame(
        {"record_id": [r for r, _, _ in records], "entity_id": [e for _, e, _ in records]}))
    wh.write("profiles.clean_profiles", pl.DataFrame({
        "record_id": [r for r, _, _ in records], "email": [m for _, _, m in records],
        "email_key": [m for _, _, m in records],
        "first_name": ["Someone"] * len(records), "phone": ["+447700900123"] * len(records),
        "updated_at": [updated.get(r, datetime(2024, 1, 1, tzinfo=UTC)) for r, _, _ in records],
    }))
    wh.write("profiles.clean_esp_events", pl.DataFrame({
        "event_id": ["x1", "x2", "x3"], "email": ["bob@example.com", "flo@example.com",
                                                  "cy@example.com"],
        "email_key": ["bob@example.com", "flo@example.com", "cy@example.com"],
        "event_type": ["unsubscribe", "open", "sent"],
        "occurred_at": [datetime(2026, 9, 1, tzinfo=UTC), datetime(2024, 2, 1, tzinfo=UTC),
                        datetime(2026, 11, 1, tzinfo=UTC)]}))  # a send is not Cy's activity


def all_text(wh: DuckDBWarehouse, skip: tuple[str, ...] = ()) -> str:
    """Every value of every table (as text, lowercased), to search for leftovers."""
    tables = wh.query("select schema_name || '.' || table_name as t from duckdb_tables()")["t"]
    parts = []
    for table in tables:
        if table in skip:
            continue
        parts.append(json.dumps(wh.read(table).to_dicts(), default=str))
    return "\n".join(parts).lower()
