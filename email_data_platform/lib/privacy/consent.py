"""The consent ledger: one decision per person (entity) and purpose, from `privacy.consent_events`.

Consent is explicit only: a person with no event for a purpose has no consent for it, and the
ledger has no row for that pair. The rules that turn events into one decision:

1. Attribution. An event names a record, an address (its email key), or both.
   - A withdrawal reaches the record it names AND every record holding its address, whoever
     they belong to. A withdrawal nobody holds still suppresses its address (addresses.py).
   - A grant counts for the record it names; a grant that names only an address counts for
     the record holding it, and only when the address belongs to exactly one person (a grant
     from a shared inbox cannot say which person gave it).
   - A withdrawal whose purpose was unknown (`all`) withdraws every purpose and topic.
2. Per source record and purpose, the latest event is that record's current decision. Two
   events at the same instant resolve to `withdrawn`.
3. Per entity and purpose, under the default `most_restrictive` rule: if any of the entity's
   records currently says `withdrawn`, the entity is `withdrawn`; otherwise `granted`. A record
   with no event is silent. Under `latest_event`, the entity's latest event wins outright (ties
   withdraw): choose it only where identity resolution never over-merges.
4. Ties between deciding rows resolve to the smallest record_id, then event_id: deterministic.

Whether a person may be emailed *at a given address* is decided per address in addresses.py.
"""

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandera.polars as pa
import polars as pl

from email_data_platform.lib.frames import owned
from email_data_platform.lib.privacy.consent_events import as_event_frame
from email_data_platform.lib.privacy.taxonomy import ALL_PURPOSES, load_taxonomy
from email_data_platform.lib.profiles.emails import EMAIL_PATTERN
from email_data_platform.lib.profiles.schemas import UtcDatetime

logger = logging.getLogger(__name__)

STATUSES = ("granted", "withdrawn")
MergeRule = Literal["most_restrictive", "latest_event"]
LEDGER_COLUMNS = ["entity_id", "purpose", "status", "channel", "source", "policy_version",
                  "decided_at", "record_id", "event_id"]
# what granted_entities reads of the ledger
LEDGER_DECISION_COLUMNS = ["entity_id", "purpose", "status", "policy_version", "decided_at"]
# Rows per part where the rules are applied part by part (in_parts, the stage's reads). One part
# of attribution joins against every record's keys: on the 1M warehouse the ledger step peaked
# at 2.0 GB with parts of 500k events and 1.7 GB with 250k, a few seconds slower.
PART_ROWS = 250_000
# withdrawn sorts before granted so that "first after sorting" is the restrictive choice
RESTRICTIVENESS = pl.when(pl.col("status") == "withdrawn").then(0).otherwise(1)


def purposes() -> tuple[str, ...]:
    return load_taxonomy().purpose_names


@dataclass(frozen=True)
class ConsentLedgerResult:
    """Decisions per purpose and per topic, plus how many events reached no person."""

    ledger: pl.DataFrame  # purposes only: privacy.consent_ledger
    topics: pl.DataFrame  # preference-centre topics: privacy.topic_preferences
    unattributed_events: int  # events that named no known record or address


def expand_all_purposes(events: pl.DataFrame) -> pl.DataFrame:
    """A withdrawal of `all` becomes one withdrawal per purpose and topic (same event id)."""
    subjects = pl.lit(list(load_taxonomy().decision_subjects), dtype=pl.List(pl.Utf8))
    return events.with_columns(
        purpose=pl.when(pl.col("purpose") == ALL_PURPOSES).then(subjects)
        .otherwise(pl.concat_list(pl.col("purpose")))
    ).explode("purpose")


def attribute_to_records(events: pl.DataFrame, record_keys: pl.DataFrame) -> pl.DataFrame:
    """(event columns..., record_id, entity_id) for every record an event reaches (rule 1).

    `record_keys`: record_id, entity_id, email_key of every known record."""
    known = record_keys.select("record_id", "entity_id")
    by_record = events.filter(pl.col("record_id").is_not_null()).join(
        known, on="record_id", how="inner")
    holders = record_keys.filter(pl.col("email_key").is_not_null()).select(
        "email_key", held_by="record_id", holder_entity="entity_id")
    reached = events.filter(pl.col("email_key").is_not_null()).join(
        holders, on="email_key", how="inner")
    # a grant by address alone counts only where the address is one person's; people are
    # counted per event on those rows only, not on every row the join produced
    by_address_alone = ~(pl.col("status") == "withdrawn").fill_null(False) & pl.col(
        "record_id").is_null()
    grants_by_address = reached.filter(by_address_alone).filter(
        pl.col("holder_entity").n_unique().over("event_id", "purpose") == 1)
    by_address = pl.concat([reached.filter(pl.col("status") == "withdrawn"),
                            grants_by_address]).drop("record_id").rename(
        {"held_by": "record_id", "holder_entity": "entity_id"})
    return pl.concat([by_record, by_address.select(by_record.columns)]).unique(
        subset=["event_id", "purpose", "record_id"], keep="first", maintain_order=True)


def latest_decision(events: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Latest event per key; at equal times withdrawn beats granted, then smallest ids."""
    return (
        events.sort([pl.col("occurred_at"), RESTRICTIVENESS, pl.col("record_id"),
                     pl.col("event_id")], descending=[True, False, False, False],
                    nulls_last=True)
        .group_by(keys, maintain_order=True)
        .first()
    )


def in_parts(frame: pl.DataFrame, key: str) -> Iterator[pl.DataFrame]:
    """The frame in parts of about PART_ROWS rows, every row of one `key` in the same part.

    The rules are applied part by part where they never look across parts (attribution per
    event, decisions per person): the joins and sorts then hold one part's copies at a time
    (at 1M contacts the whole ledger's intermediates passed 3 GB)."""
    parts = -(-frame.height // PART_ROWS)
    if parts <= 1:
        yield frame
        return
    for part in range(parts):
        yield frame.filter(hash_bucket(key, parts) == part)


def hash_bucket(key: str, parts: int) -> pl.Expr:
    """Which of `parts` parts a row belongs in, by its `key`. A row whose key is null still
    lands in a part: no event may be left out of the decisions."""
    return (pl.col(key).hash(seed=0) % parts).fill_null(0)


def event_parts(events: pl.DataFrame | Iterable[pl.DataFrame]) -> Iterator[pl.DataFrame]:
    """Consent events in parts by event id: a frame is split here (in_parts); an iterable is
    taken as parts already split so (as `read_events_in_parts` reads them from the warehouse,
    never holding the whole history)."""
    if isinstance(events, pl.DataFrame):
        yield from in_parts(as_event_frame(events), "event_id")
        return
    for part in events:
        yield as_event_frame(part)


Regroup = Callable[[Iterable[pl.DataFrame], str], Iterable[pl.DataFrame]]


def regroup_in_memory(parts: Iterable[pl.DataFrame], key: str) -> Iterator[pl.DataFrame]:
    """Parts split one way (by event) joined and split again by `key` (by person, address)."""
    yield from in_parts(pl.concat(list(parts)), key)


def regroup_on_disk(folder: Path, parts: int) -> Regroup:
    """A regroup that spills: each part is written to Parquet files in `folder` (which must
    be empty, and is the caller's to delete), one file per new part by hash of the key, then
    each new part's files are read back alone. The rows never sit in memory at once, and each
    file is read once. `parts`: how many new parts (about rows / PART_ROWS)."""
    def regroup(frames: Iterable[pl.DataFrame], key: str) -> Iterator[pl.DataFrame]:
        for number, frame in enumerate(frames):
            for part in range(parts):
                frame.filter(hash_bucket(key, parts) == part).write_parquet(
                    folder / f"{part:05d}-{number:06d}.parquet")
        for part in range(parts):
            yield pl.read_parquet(folder / f"{part:05d}-*.parquet")
    return regroup


def decide_per_entity(mapped: pl.DataFrame, merge_rule: MergeRule) -> pl.DataFrame:
    """One row per (entity_id, purpose) from the attributed events (rules 2-4)."""
    if merge_rule == "latest_event":
        return latest_decision(mapped, ["entity_id", "purpose"])
    per_record = latest_decision(mapped, ["entity_id", "record_id", "purpose"])
    return (per_record.sort([RESTRICTIVENESS, pl.col("occurred_at"), pl.col("record_id"),
                             pl.col("event_id")], descending=[False, True, False, False])
            .group_by(["entity_id", "purpose"], maintain_order=True).first())


def build_consent_ledger(
    events: pl.DataFrame | Iterable[pl.DataFrame], record_keys: pl.DataFrame,
    merge_rule: MergeRule = "most_restrictive", regroup: Regroup = regroup_in_memory,
) -> ConsentLedgerResult:
    """Turn `privacy.consent_events` into one decision per (entity_id, purpose or topic).

    Args:
        events: privacy.consent_events (CONSENT_EVENT_SCHEMA of consent_events.py), whole or
            in parts by event id (see event_parts).
        record_keys: record_id, entity_id, email_key of every clean profile.
        merge_rule: how records of one entity combine; see the module docstring.
        regroup: how the rows attributed per event are split again by person.
    """
    if merge_rule not in ("most_restrictive", "latest_event"):
        raise ValueError(f"merge_rule must be most_restrictive or latest_event, not {merge_rule!r}")
    unattributed = 0

    def attributed() -> Iterator[pl.DataFrame]:
        nonlocal unattributed
        for part in event_parts(events):  # attribution is per event
            reached = attribute_to_records(expand_all_purposes(part), record_keys)
            unattributed += part.join(reached.select("event_id").unique(), on="event_id",
                                      how="anti").height
            yield reached

    # decisions are per person; each part's decisions are copied out of the part (owned), or
    # every part's rows would stay resident behind the few decided
    decided = pl.concat([owned(decide_per_entity(part, merge_rule))
                         for part in regroup(attributed(), "entity_id")])
    if unattributed:
        logger.warning("%d consent events reach no known record (withdrawals among them still "
                       "suppress their address)", unattributed)
    decided = decided.rename({"occurred_at": "decided_at", "source_system": "source"}).select(
        LEDGER_COLUMNS).sort("entity_id", "purpose")
    is_purpose = pl.col("purpose").is_in(purposes())
    topics = decided.filter(~is_purpose).rename({"purpose": "topic"})
    return ConsentLedgerResult(ledger=decided.filter(is_purpose), topics=topics,
                               unattributed_events=unattributed)


def granted_entities(ledger: pl.DataFrame, purpose: str) -> pl.DataFrame:
    """Entities whose current decision for `purpose` is granted (explicit consent only)."""
    if purpose not in purposes():
        raise ValueError(f"unknown consent purpose {purpose!r}; expected one of {purposes()}")
    if ledger.height == 0:
        return pl.DataFrame(schema={"entity_id": pl.Utf8, "policy_version": pl.Utf8,
                                    "consent_decided_at": pl.Datetime("us", "UTC")})
    return ledger.filter((pl.col("purpose") == purpose) & (pl.col("status") == "granted")).select(
        "entity_id", "policy_version", consent_decided_at="decided_at"
    )


def audience_rows_without_consent(audience: pl.DataFrame, ledger: pl.DataFrame) -> pl.DataFrame:
    """Audience rows whose entity has no current email_marketing grant (must be empty)."""
    return audience.join(granted_entities(ledger, "email_marketing"), on="entity_id", how="anti")


class ConsentLedgerModel(pa.DataFrameModel):
    """privacy.consent_ledger: one decision per (entity_id, purpose)."""

    entity_id: str
    purpose: str = pa.Field(isin=list(purposes()))
    status: str = pa.Field(isin=list(STATUSES))
    channel: str = pa.Field(nullable=True)
    source: str = pa.Field(nullable=True)
    policy_version: str = pa.Field(nullable=True)
    decided_at: UtcDatetime
    record_id: str
    event_id: str

    class Config:
        strict = False
        unique = ["entity_id", "purpose"]


class MarketableAudienceModel(pa.DataFrameModel):
    """audiences.marketable_audience: one row per person and per address, each with its proof."""

    entity_id: str = pa.Field(unique=True)
    email: str = pa.Field(unique=True, str_matches=EMAIL_PATTERN)
    first_name: str = pa.Field(nullable=True)
    last_name: str = pa.Field(nullable=True)
    consent_event_id: str
    personalisation: bool

    class Config:
        strict = False
