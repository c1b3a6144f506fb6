"""Consent per address, and the marketable audience built on it.

A person's consent is not enough to mail an address: a merged entity can hold a typo'd copy of
the consented address, or a work address that never consented. So every address needs its own
current grant, and every audience row carries the event that proves it.

An event decides for an address (its email key) when:
- it carries that address itself; or
- it carries no address and its record holds that address now.
A withdrawal also decides for the address its record holds now, so an unsubscribe recorded
against a CRM record stops mail to that record's address too. Per address and purpose the
latest event wins; at the same instant withdrawn wins. An address nobody holds still gets its
decision: a withdrawal that reaches no person suppresses its address.
"""

from collections.abc import Iterable

import polars as pl

from email_data_platform.lib.frames import owned
from email_data_platform.lib.privacy.consent import (
    RESTRICTIVENESS,
    Regroup,
    event_parts,
    expand_all_purposes,
    granted_entities,
    regroup_in_memory,
)
from email_data_platform.lib.profiles.emails import EMAIL_PATTERN

ADDRESS_CONSENT_COLUMNS = ["email_key", "purpose", "status", "event_id", "decided_at"]
AUDIENCE_COLUMNS = ["entity_id", "email", "first_name", "last_name", "policy_version",
                    "consent_decided_at", "consent_event_id", "personalisation"]


def build_address_consent(events: pl.DataFrame | Iterable[pl.DataFrame],
                          record_keys: pl.DataFrame,
                          regroup: Regroup = regroup_in_memory) -> pl.DataFrame:
    """One decision per (email_key, purpose): privacy.address_consent.

    `events`: privacy.consent_events, whole or in parts by event id (see event_parts).
    `record_keys`: record_id, email_key of every clean profile (its current address).
    `regroup`: how the rows reached per event are split again by address."""
    current = record_keys.select("record_id", held_key="email_key")
    # part by part (see in_parts): which addresses an event decides for is per event, the
    # latest decision per address
    reached = (_addresses_reached(part, current) for part in event_parts(events))
    decided = pl.concat([owned(  # copied out of the part: see consent.build_consent_ledger
        part.sort([pl.col("occurred_at"), RESTRICTIVENESS, pl.col("event_id")],
                  descending=[True, False, False], nulls_last=True)
        .group_by(["email_key", "purpose"], maintain_order=True).first()
        .select(*ADDRESS_CONSENT_COLUMNS[:-1], "occurred_at"))
        for part in regroup(reached, "email_key")])
    return decided.rename({"occurred_at": "decided_at"}).select(ADDRESS_CONSENT_COLUMNS).sort(
        "email_key", "purpose")


def _addresses_reached(events: pl.DataFrame, current: pl.DataFrame) -> pl.DataFrame:
    """One row per (event, purpose, address it decides for), the address in `email_key`."""
    with_holder = expand_all_purposes(events).join(current, on="record_id", how="left")
    own = with_holder.filter(pl.col("email_key").is_not_null())
    via_record = with_holder.filter(
        pl.col("held_key").is_not_null()
        & (pl.col("email_key").is_null() | (pl.col("status") == "withdrawn"))
    ).with_columns(email_key="held_key")
    return pl.concat([own, via_record])


def build_marketable_audience(
    golden_profiles: pl.DataFrame,
    ledger: pl.DataFrame,
    address_consent: pl.DataFrame,
    record_profiles: pl.DataFrame,
    features: pl.DataFrame,
    erased_entity_ids: pl.Series | None = None,
) -> tuple[pl.DataFrame, dict[str, int]]:
    """People we may email, each at one address with its own current grant, with the proof.

    A person qualifies with a current email_marketing grant in the ledger, not suppressed at
    the ESP, not erased. Their address is the most recently granted of their records'
    addresses whose own decision is a current grant (valid addresses only). An address held by
    several people (a shared inbox) is mailed only when every holder qualifies.

    Args:
        golden_profiles: entity_id, first_name, last_name.
        ledger: privacy.consent_ledger.
        address_consent: privacy.address_consent.
        record_profiles: record_id, entity_id, email, email_key, updated_at per clean profile.
        features: entity_id, suppressed.
    Returns the audience and how many people each rule excluded (for metadata, no PII).
    """
    consented = granted_entities(ledger, "email_marketing")
    suppressed = features.filter(pl.col("suppressed")).select("entity_id")
    erased = pl.Series("entity_id", [] if erased_entity_ids is None else erased_entity_ids,
                       dtype=pl.Utf8)
    people = golden_profiles.select("entity_id", "first_name", "last_name").with_columns(
        has_consent=pl.col("entity_id").is_in(consented["entity_id"].implode()),
        is_suppressed=pl.col("entity_id").is_in(suppressed["entity_id"].implode()),
        is_erased=pl.col("entity_id").is_in(erased.implode()),
    ).with_columns(qualifies=pl.col("has_consent") & ~pl.col("is_suppressed")
                   & ~pl.col("is_erased"))
    candidates = _granted_addresses(record_profiles, address_consent)
    holders = candidates.join(people.select("entity_id", "qualifies"), on="entity_id", how="left")
    shared_with_ineligible = holders.group_by("email_key").agg(
        blocked=~pl.col("qualifies").fill_null(False).all())
    chosen = (
        holders.filter(pl.col("qualifies").fill_null(False))
        .join(shared_with_ineligible, on="email_key")
        .filter(~pl.col("blocked"))
        .sort(["entity_id", "decided_at", "updated_at", "email"],
              descending=[False, True, True, False], nulls_last=True)
        .unique(subset="entity_id", keep="first", maintain_order=True)
        # one row per address: the smallest entity_id represents a shared inbox
        .sort("email_key", "entity_id").unique(subset="email_key", keep="first",
                                                maintain_order=True)
    )
    personalised = granted_entities(ledger, "personalisation")["entity_id"].implode()
    audience = chosen.join(people, on="entity_id").join(consented, on="entity_id").select(
        "entity_id", "email", "first_name", "last_name", "policy_version", "consent_decided_at",
        consent_event_id="event_id",
        personalisation=pl.col("entity_id").is_in(personalised),
    ).sort("entity_id")
    with_address = holders.filter(pl.col("qualifies").fill_null(False))["entity_id"].unique()
    exclusions = {
        "people": people.height,
        "no_email_marketing_consent": people.filter(~pl.col("has_consent")).height,
        "suppressed_at_esp": people.filter(pl.col("is_suppressed")).height,
        "erased": people.filter(pl.col("is_erased")).height,
        "no_address_with_its_own_grant": people.filter(
            pl.col("qualifies") & ~pl.col("entity_id").is_in(with_address.implode())).height,
        "inbox_shared_with_ineligible": with_address.len() - chosen.height,
        "marketable": audience.height,
    }
    return audience.select(AUDIENCE_COLUMNS), exclusions


def _granted_addresses(record_profiles: pl.DataFrame, address_consent: pl.DataFrame):
    """(entity_id, email_key, email, updated_at, event_id, decided_at) for every valid address
    of a record whose own current email_marketing decision is a grant."""
    grants = address_consent.filter(
        (pl.col("purpose") == "email_marketing") & (pl.col("status") == "granted"))
    valid = record_profiles.filter(
        pl.col("email_key").is_not_null()
        & pl.col("email").str.contains(EMAIL_PATTERN).fill_null(False))
    # the address as the person's most recently updated record spells it
    latest = valid.sort("updated_at", descending=True, nulls_last=True).unique(
        subset=["entity_id", "email_key"], keep="first", maintain_order=True)
    return latest.join(grants.select("email_key", "event_id", "decided_at"), on="email_key")
