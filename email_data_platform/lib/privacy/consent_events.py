"""`privacy.consent_events`: every consent decision the platform has heard of, append-only.

Each feed turns its source into rows of one shape (CONSENT_EVENT_SCHEMA): who (record id and/or
email key), what (purpose, granted or withdrawn), when (occurred_at, recorded_at), how (channel,
source system, legal basis, policy version, proof reference). The feeds:
- the consent platform (`profiles.clean_consent_events`), grants and withdrawals;
- CRM opt-out flags (HubSpot `hs_email_optout`, Salesforce `HasOptedOutOfEmail`, landed in
  `sources.crm_contacts.email_opt_out`): withdrawals only, a cleared flag is not a grant;
- CRM subscription statuses (HubSpot's per-type statuses, `sources.crm_subscriptions`): leaving
  a type withdraws the purpose or topic the taxonomy maps it to; joining grants topics only;
- ESP unsubscribes, complaints and hard bounces (`profiles.clean_esp_events`): withdrawals of
  email_marketing for that address;
- consent receipts imported with `edp consent import` (see receipts.py).
Rows are only ever added (by event id), so a decision survives its source losing it; erasure is
the one exception, and it is logged.
"""

import hashlib
import logging
from collections.abc import Iterator

import polars as pl

from email_data_platform.lib.privacy.taxonomy import load_taxonomy
from email_data_platform.lib.profiles.emails import normalise_emails

logger = logging.getLogger(__name__)

EVENTS_TABLE = "privacy.consent_events"
UTC = pl.Datetime("us", "UTC")
CONSENT_EVENT_SCHEMA = {
    "event_id": pl.Utf8, "record_id": pl.Utf8, "email": pl.Utf8, "email_key": pl.Utf8,
    "purpose": pl.Utf8, "status": pl.Utf8, "occurred_at": UTC, "recorded_at": UTC,
    "channel": pl.Utf8, "source_system": pl.Utf8, "legal_basis": pl.Utf8,
    "policy_version": pl.Utf8, "proof_reference": pl.Utf8, "metadata_issues": pl.Utf8,
    "run_id": pl.Utf8,
}
# ESP event types that withdraw email marketing for the address they happened to
ESP_WITHDRAWALS = ("unsubscribe", "complaint", "bounce")


# What a decision is made of: the rest (address as written, proof, issues) is evidence only.
DECISION_COLUMNS = ("event_id", "record_id", "email_key", "purpose", "status", "occurred_at",
                    "channel", "source_system", "policy_version")


def as_event_frame(frame: pl.DataFrame,
                   columns: tuple[str, ...] = DECISION_COLUMNS) -> pl.DataFrame:
    """`frame`'s `columns` of CONSENT_EVENT_SCHEMA, typed (missing ones null), so an empty
    history, even one with no columns at all, yields an empty ledger rather than an error.
    Only these columns are kept: at a million people a full-width history costs gigabytes."""
    return frame.select(
        [(pl.col(c) if c in frame.columns else pl.lit(None)).cast(CONSENT_EVENT_SCHEMA[c])
         .alias(c) for c in columns])


def conform_events(frame: pl.DataFrame, run_id: str) -> pl.DataFrame:
    """`frame` in CONSENT_EVENT_SCHEMA: missing columns null, legal basis from the taxonomy."""
    taxonomy = load_taxonomy()
    frame = frame.with_columns(
        [pl.lit(None, dtype).alias(c) for c, dtype in CONSENT_EVENT_SCHEMA.items()
         if c not in frame.columns]
    ).with_columns(run_id=pl.lit(run_id, pl.Utf8))
    basis = pl.col("purpose").replace_strict(
        {p: taxonomy.legal_basis(p) for p in taxonomy.purpose_names}, default="consent")
    return frame.with_columns(legal_basis=pl.coalesce("legal_basis", basis)).select(
        [pl.col(c).cast(t) for c, t in CONSENT_EVENT_SCHEMA.items()])


def from_consent_platform(clean: pl.DataFrame, run_id: str) -> pl.DataFrame:
    """Consent-platform decisions, as cleaned (bad grants are already in quarantine)."""
    return conform_events(clean.select(
        "event_id", "email", "email_key", "purpose", "status", "occurred_at", "channel",
        "policy_version", "metadata_issues", "legal_basis",
        record_id="contact_record_id", source_system="source",
        recorded_at=pl.coalesce("recorded_at", "extracted_at"),
        proof_reference=pl.coalesce("proof_reference",
                                    pl.concat_str("source", pl.lit(":"), "event_id")),
    ), run_id)


def from_esp_events(clean_esp: pl.DataFrame, run_id: str) -> pl.DataFrame:
    """Unsubscribes, complaints and hard bounces withdraw email marketing for that address.

    A bounce of unknown type counts as hard: when in doubt, do not send."""
    soft = (pl.col("bounce_type").str.to_lowercase() == "soft").fill_null(False) \
        if "bounce_type" in clean_esp.columns else pl.lit(False)
    stops = clean_esp.filter(pl.col("event_type").is_in(ESP_WITHDRAWALS) & ~soft)
    return conform_events(stops.select(
        "email", "email_key", "occurred_at",
        event_id=pl.concat_str(pl.lit("esp:"), "source", pl.lit(":"), "event_id"),
        purpose=pl.lit("email_marketing"), status=pl.lit("withdrawn"), channel=pl.lit("esp"),
        source_system="source", recorded_at="extracted_at",
        proof_reference=pl.concat_str("source", pl.lit(" "), "event_type", pl.lit(" "),
                                      "event_id"),
    ), run_id)


def from_quarantined_esp_stops(quarantine: pl.DataFrame, run_id: str) -> pl.DataFrame:
    """ESP unsubscribes, complaints and bounces the profiles stage quarantined (a bad time, an
    unknown source...) still withdraw: a stop is never lost to bad metadata. Taken from the raw
    record; dated when quarantined. Second deliveries of a kept event are skipped."""
    stops = quarantine.filter((pl.col("table_name") == "esp_events")
                              & (pl.col("rule") != "duplicate_event"))
    if stops.height == 0:
        return conform_events(pl.DataFrame(), run_id)
    raw = stops.select(
        "record_key", "rule", "quarantined_at",
        kind=pl.col("raw_record").str.json_path_match("$.event_type").str.strip_chars()
        .str.to_lowercase(),
        email=pl.col("raw_record").str.json_path_match("$.email").str.strip_chars(),
        source=pl.col("raw_record").str.json_path_match("$.source").fill_null("esp"),
    ).filter(pl.col("kind").is_in(ESP_WITHDRAWALS) & pl.col("email").is_not_null())
    keyed = normalise_emails(raw).filter(pl.col("email_valid"))
    return conform_events(keyed.select(
        "email", "email_key",
        event_id=pl.concat_str(pl.lit("esp:"), "source", pl.lit(":"), "record_key"),
        purpose=pl.lit("email_marketing"), status=pl.lit("withdrawn"), channel=pl.lit("esp"),
        occurred_at="quarantined_at", recorded_at="quarantined_at", source_system="source",
        metadata_issues=pl.concat_str(pl.lit("quarantined: "), "rule"),
        proof_reference=pl.concat_str("source", pl.lit(" "), "kind", pl.lit(" "), "record_key"),
    ), run_id)


OPT_OUT_WORDS = ("true", "1", "yes", "y", "opted_out")


def from_crm_opt_outs(contacts: pl.DataFrame, run_id: str) -> pl.DataFrame:
    """A CRM record flagged as opted out of email withdraws email marketing for that record and
    for the address it holds.

    `contacts` holds raw rows: record_id, source, email_opt_out and email (text as landed),
    updated_at (parsed; null when unreadable), extracted_at. Quarantined records count too: the
    address is normalised here, and a record whose update time cannot be read is dated when it
    was extracted. Only a set flag counts (a cleared one is no grant); its event id names the
    record and the time it was seen set, so the same flag is recorded once."""
    if "email_opt_out" not in contacts.columns:
        return conform_events(pl.DataFrame(), run_id)
    flag = pl.col("email_opt_out").cast(pl.Utf8).str.strip_chars().str.to_lowercase()
    opted_out = contacts.filter(flag.is_in(OPT_OUT_WORDS)).with_columns(
        email=pl.col("email").cast(pl.Utf8).str.strip_chars(),
        updated_at=pl.coalesce(pl.col("updated_at").cast(UTC), pl.col("extracted_at").cast(UTC)))
    keyed = normalise_emails(opted_out).with_columns(
        email=pl.when("email_valid").then("email"), email_key=pl.when("email_valid").then(
            "email_key"))
    return conform_events(keyed.select(
        "record_id", "email", "email_key",
        event_id=pl.concat_str(pl.lit("crm_opt_out:"), "record_id", pl.lit(":"),
                               pl.col("updated_at").dt.strftime("%Y-%m-%dT%H:%M:%SZ")),
        purpose=pl.lit("email_marketing"), status=pl.lit("withdrawn"), channel=pl.lit("crm"),
        occurred_at="updated_at", recorded_at="updated_at", source_system="source",
        proof_reference=pl.concat_str("source", pl.lit(" email opt-out flag on "), "record_id"),
    ), run_id)


SUBSCRIBED, NOT_SPECIFIED = "SUBSCRIBED", "NOT_SPECIFIED"


def from_crm_subscriptions(statuses: pl.DataFrame, run_id: str) -> pl.DataFrame:
    """CRM subscription statuses as decisions on the purpose or topic each type stands for.

    `statuses` holds raw rows: source, email, subscription_name, status, legal_basis (text as
    landed), occurred_at (parsed; null when unreadable), extracted_at. Only NOT_SPECIFIED
    decides nothing; SUBSCRIBED grants a topic (never a purpose: a CRM flag is no proof of
    consent); any other word withdraws. An unreadable time is dated at extraction. The event id
    is a hash of what was decided and when, so a status is recorded once and names no address."""
    if statuses.height == 0:
        return conform_events(pl.DataFrame(), run_id)
    taxonomy = load_taxonomy()
    state = pl.col("status").cast(pl.Utf8).str.strip_chars().str.to_uppercase()
    mapped = statuses.with_columns(
        purpose=pl.col("subscription_name").str.strip_chars().str.to_lowercase().replace_strict(
            taxonomy.subscription_types, default=None, return_dtype=pl.Utf8),
        decision=pl.when(state == SUBSCRIBED).then(pl.lit("granted"))
        .when(state == NOT_SPECIFIED).then(pl.lit(None)).otherwise(pl.lit("withdrawn")),
        occurred_at=pl.coalesce(pl.col("occurred_at").cast(UTC), pl.col("extracted_at")
                                .cast(UTC)),
        email=pl.col("email").cast(pl.Utf8).str.strip_chars(),
    )
    unmapped = unmapped_subscription_types(statuses)
    if unmapped:
        logger.warning("CRM subscription types not in the taxonomy decide nothing: %s", unmapped)
    topic_grant = (pl.col("decision") == "granted") & pl.col("purpose").is_in(taxonomy.topics)
    decided = mapped.filter(pl.col("purpose").is_not_null() & (
        (pl.col("decision") == "withdrawn") | topic_grant))
    keyed = normalise_emails(decided).with_columns(
        email=pl.when("email_valid").then("email"),
        email_key=pl.when("email_valid").then("email_key"))
    identity = pl.concat_str("source", "email_key", "subscription_name", "decision",
                             pl.col("occurred_at").dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ"),
                             separator="|", ignore_nulls=True)
    return conform_events(keyed.select(
        "email", "email_key", "purpose", "occurred_at",
        event_id=identity.map_elements(_digest, return_dtype=pl.Utf8),
        status="decision", channel=pl.lit("crm"), recorded_at="extracted_at",
        source_system="source", legal_basis=pl.col("legal_basis").cast(pl.Utf8).str.to_lowercase(),
        proof_reference=pl.concat_str("source", pl.lit(" subscription "), "subscription_name",
                                      pl.lit(" "), pl.col("status")),
    ), run_id)


def unmapped_subscription_types(statuses: pl.DataFrame) -> list[str]:
    """Subscription type names the taxonomy does not list (their statuses decide nothing)."""
    if "subscription_name" not in statuses.columns:
        return []
    names = statuses["subscription_name"].drop_nulls().str.strip_chars().unique()
    known = list(load_taxonomy().subscription_types)
    return sorted(names.filter(~names.str.to_lowercase().is_in(known)).to_list())


def _digest(text: str) -> str:
    return "crm_subscription:" + hashlib.sha256(text.encode()).hexdigest()[:32]


def append_new_events(warehouse, events: pl.DataFrame) -> int:
    """Add the events not yet recorded (by event_id); returns how many were new."""
    events = events.unique(subset="event_id", keep="first", maintain_order=True)
    if not warehouse.exists(EVENTS_TABLE):
        warehouse.write(EVENTS_TABLE, events)
        return events.height
    new = warehouse.insert_missing(EVENTS_TABLE, events, ["event_id"])
    logger.info("consent events: %d new of %d offered", new, events.height)
    return new


def read_events_in_parts(warehouse, columns: tuple[str, ...],
                         part_rows: int) -> Iterator[pl.DataFrame]:
    """`columns` of privacy.consent_events in parts of about `part_rows`, each event whole in
    one part (`Warehouse.query_in_parts`); one empty part when the table does not exist."""
    if not warehouse.exists(EVENTS_TABLE):
        yield pl.DataFrame(schema={c: CONSENT_EVENT_SCHEMA[c] for c in columns})
        return
    yield from warehouse.query_in_parts(
        f"select {', '.join(columns)} from {EVENTS_TABLE}", "event_id", part_rows)
