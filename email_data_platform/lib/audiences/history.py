"""Segment membership history: when each entity entered and left each segment, across runs.

`audiences.segment_membership` holds one row per stay: (entity_id, segment, entered_at,
left_at); `left_at` is null while the entity is still a member. A build compares today's
memberships with the open stays: new memberships open a stay, ended ones close theirs, and an
entity that comes back gets a new stay, so the table answers "who was in `lapsed` on 1 March?".
"""

from datetime import datetime

import polars as pl

HISTORY_SCHEMA = {"entity_id": pl.Utf8, "segment": pl.Utf8,
                  "entered_at": pl.Datetime("us", "UTC"), "left_at": pl.Datetime("us", "UTC")}


def update_membership_history(history: pl.DataFrame | None, memberships: pl.DataFrame,
                              now: datetime) -> pl.DataFrame:
    """The history after today's memberships (entity_id, segment) were assigned at `now`."""
    history = (pl.DataFrame(schema=HISTORY_SCHEMA) if history is None
               else history.select(list(HISTORY_SCHEMA)).cast(HISTORY_SCHEMA))
    stamp = pl.lit(now).cast(HISTORY_SCHEMA["left_at"])
    current = memberships.select("entity_id", "segment").unique()
    is_open = pl.col("left_at").is_null()
    open_stays = history.filter(is_open)
    ended = open_stays.join(current, on=["entity_id", "segment"], how="anti").with_columns(
        left_at=stamp)
    still = open_stays.join(current, on=["entity_id", "segment"], how="semi")
    entered = current.join(open_stays, on=["entity_id", "segment"], how="anti").with_columns(
        entered_at=stamp, left_at=pl.lit(None, dtype=HISTORY_SCHEMA["left_at"]))
    stays = [history.filter(~is_open), ended, still, entered.select(list(HISTORY_SCHEMA))]
    return pl.concat(stays).sort("entity_id", "segment", "entered_at")


def members_at(history: pl.DataFrame, segment: str, when: datetime) -> pl.DataFrame:
    """Entity ids that were in `segment` at the instant `when`."""
    at = pl.lit(when).cast(HISTORY_SCHEMA["entered_at"])
    return history.filter((pl.col("segment") == segment) & (pl.col("entered_at") <= at)
                          & (pl.col("left_at").is_null() | (pl.col("left_at") > at))).select(
        "entity_id").unique().sort("entity_id")
