"""The privacy stage's facade: what the privacy assets and the other stages call.

Internals (ledger rules, per-address consent, the proof, the audit chain, pseudonym keys) live
in the sibling modules; callers outside `lib/privacy/` import from here only.

Tables (docs/tables.md): privacy.consent_events (append-only), privacy.consent_ledger,
privacy.address_consent, privacy.topic_preferences, privacy.audit_log.
"""

import logging
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from email_data_platform.lib.privacy import consent_events as feeds
from email_data_platform.lib.privacy.addresses import (
    ADDRESS_CONSENT_COLUMNS,
    build_address_consent,
    build_marketable_audience,
)
from email_data_platform.lib.privacy.audit import (
    ANCHORED,
    AuditEntry,
    append_audit_entries,
    read_audit_log,
    verify_chain,
    warehouse_id,
)
from email_data_platform.lib.privacy.audit_verify import AuditVerdict, verify_audit_log
from email_data_platform.lib.privacy.consent import (
    LEDGER_DECISION_COLUMNS,
    PART_ROWS,
    ConsentLedgerModel,
    MarketableAudienceModel,
    audience_rows_without_consent,
    build_consent_ledger,
    granted_entities,
    regroup_on_disk,
)
from email_data_platform.lib.privacy.proof import unproven_rows
from email_data_platform.lib.privacy.pseudonyms import (
    PseudonymKeyring,
    load_or_create_local_keyring,
    person_subjects,
    pseudonymised_view,
    with_subjects,
)
from email_data_platform.lib.profiles.dates import parse_timestamps
from email_data_platform.lib.profiles.emails import normalise_emails

logger = logging.getLogger(__name__)

PROFILES = "profiles.clean_profiles"
ENTITIES = "identity.entities"
LEDGER = "privacy.consent_ledger"
ADDRESS_CONSENT = "privacy.address_consent"
TOPICS = "privacy.topic_preferences"


def record_profiles(wh) -> pl.DataFrame:
    """record_id, entity_id, email, email_key, updated_at of every resolved clean profile."""
    return wh.query(
        f"select c.record_id, e.entity_id, c.email, c.email_key, c.updated_at from {PROFILES} c"
        f" join {ENTITIES} e using (record_id)")


def record_consent_events(wh, run_id: str) -> dict[str, int]:
    """Append every feed's new decisions to privacy.consent_events; counts offered per feed.

    Feed by feed, in this order (an event id offered twice is recorded as the first feed has
    it), the large ones read in parts of PART_ROWS: each part is appended in its own
    transaction, so memory stays bounded at any size. The table is append-only by event id: a
    run stopped half-way keeps what it added, and the next run adds the rest."""
    offered, new = {}, 0

    def offer(feed: str, frames) -> None:
        nonlocal new
        for frame in frames:
            offered[f"offered_{feed}"] = offered.get(f"offered_{feed}", 0) + frame.height
            new += feeds.append_new_events(wh, frame)

    if wh.exists("profiles.clean_consent_events"):
        offer("consent_platform", (feeds.from_consent_platform(part, run_id) for part in
                                   wh.query_in_parts("select * from profiles.clean_consent_events",
                                                     "event_id", PART_ROWS)))
    if wh.exists("profiles.clean_esp_events"):
        # only the stops leave the warehouse: at 1M contacts the table holds 3M opens and clicks
        offer("esp", [feeds.from_esp_events(wh.query(
            "select * from profiles.clean_esp_events where event_type in "
            f"({', '.join(repr(kind) for kind in feeds.ESP_WITHDRAWALS)})"), run_id)])
    if wh.exists("profiles.quarantine"):
        offer("esp_quarantined", [feeds.from_quarantined_esp_stops(wh.query(
            "select * from profiles.quarantine where table_name = 'esp_events'"), run_id)])
    offer("crm_opt_out", (feeds.from_crm_opt_outs(flags, run_id)
                          for flags in _crm_opt_out_flags(wh)))
    statuses = _crm_subscriptions(wh)
    offer("crm_subscriptions", [feeds.from_crm_subscriptions(statuses, run_id)])
    return {**offered, "new_events": new, "events_total": wh.row_count(feeds.EVENTS_TABLE),
            "unmapped_subscription_types": len(feeds.unmapped_subscription_types(statuses))}


def import_receipts(wh, path, run_id: str, source: str = "consent_import") -> dict:
    """Load a consent-management platform's receipt export into privacy.consent_events.

    Returns counts and the rejected grants (record key, rule, reason; no values)."""
    from pathlib import Path

    from email_data_platform.lib.privacy.receipts import read_receipts, receipts_as_raw_consent
    from email_data_platform.lib.profiles.stage import clean_consent_events

    path = Path(path)
    raw = receipts_as_raw_consent(read_receipts(path), source, path.name)
    if raw.height == 0:
        return {"receipt_rows": 0, "new_events": 0, "rejected": []}
    cleaned = clean_consent_events(raw, run_id)
    new = feeds.append_new_events(wh, feeds.from_consent_platform(cleaned.clean, run_id))
    counts = {"receipt_rows": raw.height, "new_events": new,
              "withdrawals": int((cleaned.clean["status"] == "withdrawn").sum()),
              "rejected_grants": cleaned.quarantine.height}
    append_audit_entries(wh, [AuditEntry("consent receipts imported", feeds.EVENTS_TABLE,
                                         counts | {"file": path.name})], run_id=run_id)
    return counts | {"rejected": cleaned.quarantine.select("record_key", "rule", "reason")
                     .to_dicts()}


def _crm_opt_out_flags(wh) -> Iterator[pl.DataFrame]:
    """Raw CRM opt-out flags with the address each record holds, clean or quarantined, in
    parts by record (nothing when none landed)."""
    if not wh.exists("sources.crm_contacts"):
        yield pl.DataFrame()
        return
    columns = wh.query("select * from sources.crm_contacts limit 0").columns
    if "email_opt_out" not in columns:
        yield pl.DataFrame()
        return
    for flags in wh.query_in_parts(
            "select record_id, source, email_opt_out, updated_at, extracted_at, email"
            " from sources.crm_contacts where email_opt_out is not null", "record_id",
            PART_ROWS):
        yield flags.with_columns(updated_at=parse_timestamps(flags["updated_at"]))


def _crm_subscriptions(wh) -> pl.DataFrame:
    """Raw CRM subscription statuses, times parsed (empty when none landed)."""
    if not wh.exists("sources.crm_subscriptions"):
        return pl.DataFrame()
    rows = wh.query("select source, email, subscription_name, status, legal_basis, occurred_at,"
                    " extracted_at from sources.crm_subscriptions")
    return rows.with_columns(occurred_at=parse_timestamps(rows["occurred_at"]))


@dataclass(frozen=True)
class Decisions:
    ledger: pl.DataFrame
    address_consent: pl.DataFrame
    topics: pl.DataFrame
    unattributed_events: int


def decide_consent(wh, merge_rule: str = "most_restrictive") -> Decisions:
    """Build and write the ledger (per person), address consent and topic preferences.

    The history is read twice, in parts by event; the rows each part reaches wait in Parquet
    files in a temporary folder until they are read back by person (or address) and decided.
    Memory then holds one part at a time, not the history or its attribution, which grow with
    every run."""
    keys = record_profiles(wh)
    # new parts of about PART_ROWS each if every event reached one record (most reach one)
    events = wh.row_count(feeds.EVENTS_TABLE) if wh.exists(feeds.EVENTS_TABLE) else 0
    parts = max(1, -(-events // PART_ROWS))
    with tempfile.TemporaryDirectory(prefix="edp_consent_") as folder:
        by_person, by_address = Path(folder, "by_person"), Path(folder, "by_address")
        by_person.mkdir()
        by_address.mkdir()
        result = build_consent_ledger(  # type: ignore[arg-type]
            feeds.read_events_in_parts(wh, feeds.DECISION_COLUMNS, PART_ROWS), keys,
            merge_rule=merge_rule, regroup=regroup_on_disk(by_person, parts))
        addresses = build_address_consent(
            feeds.read_events_in_parts(wh, feeds.DECISION_COLUMNS, PART_ROWS), keys,
            regroup=regroup_on_disk(by_address, parts))
    wh.write(LEDGER, result.ledger)
    wh.write(ADDRESS_CONSENT, addresses)
    wh.write(TOPICS, result.topics)
    return Decisions(result.ledger, addresses, result.topics, result.unattributed_events)


def build_audience(wh) -> tuple[pl.DataFrame, dict[str, int]]:
    """The marketable audience from the warehouse, each row with its proving consent event."""
    # erased people are already gone from every table (privacy/erasure_log runs first)
    # only the columns the rules read: at 1M people the whole tables held 1 GB more
    return build_marketable_audience(
        wh.read("identity.golden_profiles", ["entity_id", "first_name", "last_name"]),
        wh.read(LEDGER, LEDGER_DECISION_COLUMNS),
        wh.read(ADDRESS_CONSENT, ADDRESS_CONSENT_COLUMNS),
        record_profiles(wh), wh.read("audiences.customer_features", ["entity_id", "suppressed"]))


def prove_payload(wh, table: str = "activation.esp_payload",
                  row_key: str = "subscriber_hash") -> tuple[int, pl.DataFrame]:
    """(rows checked, unproven rows with their reason) for the rows about to be pushed."""
    columns = wh.query(f"select * from {table} limit 0").columns
    payload = wh.read(table, [c for c in (row_key, "email", "consent_event_id") if c in columns])
    if "consent_event_id" not in payload.columns:  # fail closed: no proof column, no proof
        payload = payload.with_columns(consent_event_id=pl.lit(None, pl.Utf8))
    if row_key not in payload.columns:
        payload = payload.with_row_index(row_key).with_columns(pl.col(row_key).cast(pl.Utf8))
    return payload.height, unproven_rows(wh, payload, row_key)


def analytics_subjects(wh) -> pl.DataFrame:
    """entity_id -> subject of each person's analytics pseudonym: their golden address's key."""
    golden = wh.query("select entity_id, email from identity.golden_profiles")
    keyed = normalise_emails(golden.with_columns(pl.col("email").str.strip_chars()))
    return person_subjects(keyed.with_columns(email_key=pl.when("email_valid").then(
        "email_key")))


__all__ = [
    "ANCHORED", "AuditVerdict", "verify_audit_log", "warehouse_id", "analytics_subjects",
    "with_subjects",
    "AuditEntry", "ConsentLedgerModel", "Decisions", "LEDGER_DECISION_COLUMNS",
    "MarketableAudienceModel",
    "PseudonymKeyring", "append_audit_entries",
    "audience_rows_without_consent", "build_audience", "decide_consent", "granted_entities",
    "import_receipts", "load_or_create_local_keyring", "prove_payload", "pseudonymised_view",
    "read_audit_log", "record_consent_events", "record_profiles", "verify_chain",
]

# --- data subjects' rights: erasure, access export, retention, PII encryption -------------------
from email_data_platform.lib.privacy.crypto import PiiCipher  # noqa: E402
from email_data_platform.lib.privacy.erasure import (  # noqa: E402
    ERASURE_LOG,
    REQUESTS,
    pending_requests,
    process_erasures,
    request_erasure,
    subject_pseudonym,
)
from email_data_platform.lib.privacy.esp_members import (  # noqa: E402
    MailchimpMembers,
    SendGridMembers,
)
from email_data_platform.lib.privacy.export import (  # noqa: E402
    audit_export,
    export_json,
    export_subject,
)
from email_data_platform.lib.privacy.keys import (  # noqa: E402
    cipher_from_environment,
    keyring_from_environment,
)
from email_data_platform.lib.privacy.retention import (  # noqa: E402
    RETENTION_LOG,
    anonymise_inactive,
    eligible_entities,
)
from email_data_platform.lib.privacy.tombstones import (  # noqa: E402
    TOMBSTONES,
    apply_tombstones,
    remaining_rows,
    sweep,
)

__all__ += [
    "ERASURE_LOG", "REQUESTS", "RETENTION_LOG", "TOMBSTONES", "MailchimpMembers", "PiiCipher",
    "SendGridMembers", "anonymise_inactive", "apply_tombstones", "audit_export",
    "cipher_from_environment", "eligible_entities", "export_json", "export_subject",
    "keyring_from_environment", "pending_requests", "process_erasures", "remaining_rows",
    "request_erasure", "subject_pseudonym", "sweep",
]
