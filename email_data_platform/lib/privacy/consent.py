"""The consent ledger: one decision per person (entity) and purpose.

Consent is explicit only: a person with no event for a purpose has no consent for it, and the
ledger has no row for that pair. Events arrive per source record (`contact_record_id`); identity
resolution maps records to entities. The rule that turns events into one decision:

1. Per source record and purpose, the latest event (`occurred_at`) is that record's current
   decision. Two events of one record at the same instant resolve to `withdrawn`.
2. Per entity and purpose, under the default `most_restrictive` merge rule: if any of the entity's
   records currently says `withdrawn`, the entity is `withdrawn` (deciding row: the latest of those
   withdrawals); otherwise it is `granted` (deciding row: the latest grant). A record with no event
   for the purpose is silent: it neither grants nor withdraws. This protects people wrongly merged
   with someone else (household members) from inheriting another person's grant.
   Under `latest_event`, the entity's latest event wins outright (ties at the same instant resolve
   to `withdrawn`): choose it only where identity resolution is trusted to never over-merge.
3. Ties between deciding rows of equal time and status resolve to the smallest `record_id`, so the
   ledger is deterministic.
"""

import logging
from dataclasses import dataclass
from typing import Literal

import pandera.polars as pa
import polars as pl

from email_data_platform.lib.profiles.emails import EMAIL_PATTERN
from email_data_platform.lib.profiles.schemas import UtcDatetime

logger = logging.getLogger(__name__)

PURPOSES = ("email_marketing", "personalisation", "analytics")
STATUSES = ("granted", "withdrawn")
MergeRule = Literal["most_restrictive", "latest_event"]

LEDGER_COLUMNS = [
    "entity_id",
    "purpose",
    "status",
    "channel",
    "source",
    "policy_version",
    "decided_at",
    "record_id",
]

# withdrawn sorts before granted so that "first after sorting" is the restrictive choice
_RESTRICTIVENESS = pl.when(pl.col("status") == "withdrawn").then(0).otherwise(1)


@dataclass(frozen=True)
class ConsentLedgerResult:
    """The ledger plus what could not be attributed (reported, never silently dropped)."""

    ledger: pl.DataFrame
    unmatched_events: int  # valid events attributed to no one (unknown record/address, shared)
    invalid_events: pl.DataFrame


def validate_consent_events(events: pl.DataFrame) -> pl.DataFrame:
    """Return the events that break a rule, with `rule` naming it (empty frame when all pass)."""
    checks = {
        "purpose_known": pl.col("purpose").is_in(PURPOSES),
        "status_known": pl.col("status").is_in(STATUSES),
        "occurred_at_present": pl.col("occurred_at").is_not_null(),
        "has_subject": pl.col("contact_record_id").is_not_null() | pl.col("email").is_not_null(),
    }
    failures = [
        events.filter(~expr.fill_null(False)).select("event_id").with_columns(rule=pl.lit(name))
        for name, expr in checks.items()
    ]
    return pl.concat(failures).unique(subset="event_id", keep="first", maintain_order=True)


def build_consent_ledger(
    consent_events: pl.DataFrame,
    entities: pl.DataFrame,
    merge_rule: MergeRule = "most_restrictive",
    record_emails: pl.DataFrame | None = None,
) -> ConsentLedgerResult:
    """Turn record-level consent events into one decision per (entity_id, purpose).

    Args:
        consent_events: `profiles.clean_consent_events` (event_id, source, contact_record_id,
            email, purpose, status, channel, occurred_at, policy_version).
        entities: `identity.entities` (record_id, entity_id).
        merge_rule: how records of one entity combine; see the module docstring.
        record_emails: (record_id, email) of clean profiles, to attribute events that carry only
            an email address (see `attribute_events`).
    """
    if merge_rule not in ("most_restrictive", "latest_event"):
        raise ValueError(f"merge_rule must be most_restrictive or latest_event, not {merge_rule!r}")
    invalid = validate_consent_events(consent_events)
    if invalid.height:
        logger.warning("%d consent events break a rule and are ignored", invalid.height)
    valid = consent_events.join(invalid.select("event_id"), on="event_id", how="anti")
    mapped = attribute_events(valid, entities, record_emails)
    unmatched = valid.join(mapped.select("event_id").unique(), on="event_id", how="anti").height
    if unmatched:
        logger.warning("%d consent events match no entity; not attributed", unmatched)
    if merge_rule == "latest_event":
        ledger = _latest_decision(mapped, ["entity_id", "purpose"])
    else:
        per_record = _latest_decision(mapped, ["entity_id", "record_id", "purpose"])
        ledger = _most_restrictive_across_records(per_record)
    ledger = ledger.select(LEDGER_COLUMNS).sort("entity_id", "purpose")
    return ConsentLedgerResult(ledger=ledger, unmatched_events=unmatched, invalid_events=invalid)


def attribute_events(
    events: pl.DataFrame, entities: pl.DataFrame, record_emails: pl.DataFrame | None
) -> pl.DataFrame:
    """Events with the (record_id, entity_id) they belong to, renamed for the ledger.

    Events naming a record map through identity. Events carrying only an email map to every
    record with that address, but conservatively: a withdrawal reaches every person using the
    address; a grant counts only when the address belongs to exactly one person (a grant from
    a shared inbox cannot say which person gave it).
    """
    entity_of = entities.select("record_id", "entity_id")
    by_record = events.filter(pl.col("contact_record_id").is_not_null()).join(
        entity_of, left_on="contact_record_id", right_on="record_id", how="inner"
    ).with_columns(record_id=pl.col("contact_record_id"))
    frames = [by_record]
    if record_emails is not None:
        holders = record_emails.select(
            "record_id", email=pl.col("email").str.to_lowercase()).join(entity_of, on="record_id")
        by_email = (
            events.filter(pl.col("contact_record_id").is_null())
            .with_columns(email=pl.col("email").str.to_lowercase())
            .join(holders, on="email", how="inner")
            .with_columns(people=pl.col("entity_id").n_unique().over("event_id"))
            .filter((pl.col("status") == "withdrawn") | (pl.col("people") == 1))
            .drop("people")
        )
        frames.append(by_email)
    return pl.concat(frames, how="diagonal_relaxed").drop("contact_record_id").rename(
        {"occurred_at": "decided_at"})


def _latest_decision(events: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Latest event per key; at equal times withdrawn beats granted, then smallest record_id."""
    return (
        events.sort(
            [pl.col("decided_at"), _RESTRICTIVENESS, pl.col("record_id"), pl.col("event_id")],
            descending=[True, False, False, False],
        )
        .group_by(keys, maintain_order=True)
        .first()
    )


def _most_restrictive_across_records(per_record: pl.DataFrame) -> pl.DataFrame:
    """Any record currently withdrawn -> withdrawn (latest withdrawal); else the latest grant."""
    return (
        per_record.sort(
            [_RESTRICTIVENESS, pl.col("decided_at"), pl.col("record_id")],
            descending=[False, True, False],
        )
        .group_by(["entity_id", "purpose"], maintain_order=True)
        .first()
    )


def granted_entities(ledger: pl.DataFrame, purpose: str) -> pl.DataFrame:
    """Entities whose current decision for `purpose` is granted (explicit consent only)."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown consent purpose {purpose!r}; expected one of {PURPOSES}")
    return ledger.filter((pl.col("purpose") == purpose) & (pl.col("status") == "granted")).select(
        "entity_id", "policy_version", consent_decided_at="decided_at"
    )


VALID_EMAIL = EMAIL_PATTERN  # the profiles stage's rule, so "valid" means the same everywhere
AUDIENCE_COLUMNS = ["entity_id", "email", "first_name", "last_name", "policy_version",
                    "consent_decided_at"]


def build_marketable_audience(
    golden_profiles: pl.DataFrame,
    ledger: pl.DataFrame,
    features: pl.DataFrame,
    erased_entity_ids: pl.Series | None = None,
) -> tuple[pl.DataFrame, dict[str, int]]:
    """People we may email: granted email_marketing, not suppressed, not erased, valid email.

    An address held by several entities (a shared family inbox) is marketable only when every
    entity holding it is: one person's grant must not mail an inbox another person withdrew from.
    Returns the audience and how many people each rule excluded (for metadata, no PII).
    """
    people = golden_profiles.select(
        "entity_id", "first_name", "last_name",
        email=pl.col("email").str.strip_chars().str.to_lowercase(),
    )
    consented = granted_entities(ledger, "email_marketing")
    suppressed = features.filter(pl.col("suppressed")).select("entity_id")
    erased = pl.DataFrame({"entity_id": erased_entity_ids if erased_entity_ids is not None
                           else pl.Series([], dtype=pl.Utf8)}).cast(pl.Utf8)
    flagged = people.join(consented, on="entity_id", how="left").with_columns(
        has_consent=pl.col("consent_decided_at").is_not_null(),
        is_suppressed=pl.col("entity_id").is_in(suppressed["entity_id"].implode()),
        is_erased=pl.col("entity_id").is_in(erased["entity_id"].implode()),
        valid_email=pl.col("email").str.contains(VALID_EMAIL).fill_null(False),
    )
    flagged = flagged.with_columns(
        eligible=pl.col("has_consent") & ~pl.col("is_suppressed") & ~pl.col("is_erased")
        & pl.col("valid_email")
    ).with_columns(
        inbox_shared_with_ineligible=(~pl.col("eligible").all().over("email"))
        & pl.col("email").is_not_null()
    )
    audience = flagged.filter(pl.col("eligible") & ~pl.col("inbox_shared_with_ineligible"))
    # one row per address: the smallest entity_id represents a shared inbox deterministically
    audience = audience.sort("entity_id").unique(subset="email", keep="first").sort("entity_id")
    exclusions = {
        "people": people.height,
        "no_email_marketing_consent": flagged.filter(~pl.col("has_consent")).height,
        "suppressed_at_esp": flagged.filter(pl.col("is_suppressed")).height,
        "erased": flagged.filter(pl.col("is_erased")).height,
        "invalid_email": flagged.filter(~pl.col("valid_email")).height,
        "inbox_shared_with_ineligible": flagged.filter(
            pl.col("eligible") & pl.col("inbox_shared_with_ineligible")).height,
        "marketable": audience.height,
    }
    return audience.select(AUDIENCE_COLUMNS), exclusions


def audience_rows_without_consent(audience: pl.DataFrame, ledger: pl.DataFrame) -> pl.DataFrame:
    """Audience rows whose entity has no current email_marketing grant (must be empty)."""
    return audience.join(granted_entities(ledger, "email_marketing"), on="entity_id", how="anti")


class ConsentLedgerModel(pa.DataFrameModel):
    """privacy.consent_ledger: one decision per (entity_id, purpose)."""

    entity_id: str
    purpose: str = pa.Field(isin=list(PURPOSES))
    status: str = pa.Field(isin=list(STATUSES))
    channel: str = pa.Field(nullable=True)
    source: str = pa.Field(nullable=True)
    policy_version: str = pa.Field(nullable=True)
    decided_at: UtcDatetime
    record_id: str

    class Config:
        strict = False
        unique = ["entity_id", "purpose"]


class MarketableAudienceModel(pa.DataFrameModel):
    """audiences.marketable_audience: one row per person and per address, valid emails only."""

    entity_id: str = pa.Field(unique=True)
    email: str = pa.Field(unique=True, str_matches=EMAIL_PATTERN)
    first_name: str = pa.Field(nullable=True)
    last_name: str = pa.Field(nullable=True)

    class Config:
        strict = False
