"""The ESP payload: the minimum each destination needs, and nothing else.

Data minimisation is an allow-list per destination: the payload's columns and the keys inside
`merge_fields` must all be on the destination's list. Phone, address, date of birth and every
internal score stay in the warehouse.

`subscriber_hash` is Mailchimp's member id: md5 of the lower-cased email. `payload_hash` is
sha256 of the canonical JSON of what is sent (email, merge_fields, tags), so a sync can tell
which members changed since they were last pushed.
"""

import json
import logging
from dataclasses import dataclass

import duckdb
import pandera.polars as pa
import polars as pl

from email_data_platform.lib.profiles.emails import EMAIL_PATTERN

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AllowList:
    columns: frozenset[str]
    merge_fields: frozenset[str]


DESTINATION_ALLOW_LISTS = {
    "mailchimp": AllowList(
        columns=frozenset({"email", "subscriber_hash", "merge_fields", "tags", "payload_hash"}),
        merge_fields=frozenset({"FNAME", "LNAME", "LTV", "SEGMENTS"}),
    ),
}
PAYLOAD_SCHEMA = {
    "email": pl.Utf8, "subscriber_hash": pl.Utf8, "merge_fields": pl.Utf8,
    "tags": pl.List(pl.Utf8), "payload_hash": pl.Utf8,
}


def build_esp_payload(
    audience: pl.DataFrame, features: pl.DataFrame, memberships: pl.DataFrame,
    destination: str = "mailchimp",
) -> pl.DataFrame:
    """One row per distinct email in the marketable audience, shaped for `destination`.

    Args:
        audience: audiences.marketable_audience (entity_id, email, first_name, last_name).
        features: audiences.customer_features (entity_id, lifetime_value).
        memberships: audiences.segments (entity_id, segment).
    """
    tags = memberships.group_by("entity_id").agg(tags=pl.col("segment").unique().sort())
    rows = (
        audience.join(features.select("entity_id", "lifetime_value"), on="entity_id", how="left")
        .join(tags, on="entity_id", how="left")
        .with_columns(
            email=pl.col("email").str.strip_chars().str.to_lowercase(),
            tags=pl.col("tags").fill_null(pl.lit([], dtype=pl.List(pl.Utf8))),
        )
        # one member per address: the audience already guarantees it, this keeps it deterministic
        .sort("email", "entity_id")
        .unique(subset="email", keep="first", maintain_order=True)
    )
    merge_fields = pl.struct(
        FNAME=pl.col("first_name").fill_null(""),
        LNAME=pl.col("last_name").fill_null(""),
        LTV=pl.col("lifetime_value").fill_null(0.0).round(2),
        SEGMENTS=pl.col("tags").list.join(","),
    ).struct.json_encode()
    payload = rows.select("email", merge_fields=merge_fields, tags="tags")
    payload = _add_hashes(payload)
    violations = allow_list_violations(payload, destination)
    if violations:  # a programming error, not bad data: never ship it
        raise ValueError(f"payload for {destination} breaks its allow-list: {violations}")
    return payload.select(list(PAYLOAD_SCHEMA)).sort("subscriber_hash")


def _add_hashes(payload: pl.DataFrame) -> pl.DataFrame:
    """md5/sha256 run vectorised in DuckDB (polars has no stable cryptographic hash)."""
    con = duckdb.connect()
    try:
        con.register("payload", payload.to_arrow())
        hashed = con.execute(
            """
            select email, merge_fields, tags,
                   md5(lower(email)) as subscriber_hash,
                   sha256(to_json({'email': email, 'merge_fields': merge_fields::json,
                                   'tags': tags})::varchar) as payload_hash
            from payload
            """
        ).to_arrow_table()
    finally:
        con.close()
    return pl.from_arrow(hashed).with_columns(pl.col("tags").cast(pl.List(pl.Utf8)))


def allow_list_for(destination: str) -> AllowList:
    if destination not in DESTINATION_ALLOW_LISTS:
        raise ValueError(f"no allow-list for destination {destination!r}; "
                         f"known: {sorted(DESTINATION_ALLOW_LISTS)}")
    return DESTINATION_ALLOW_LISTS[destination]


def allow_list_violations(payload: pl.DataFrame, destination: str = "mailchimp") -> list[str]:
    """Every column or merge field that is not on the destination's allow-list."""
    allow = allow_list_for(destination)
    problems = [f"column {c!r}" for c in payload.columns if c not in allow.columns]
    if "merge_fields" in payload.columns and payload.height:
        problems += [f"merge field {k!r}" for k in merge_field_keys(payload)
                     if k not in allow.merge_fields]
    return problems


def merge_field_keys(payload: pl.DataFrame) -> list[str]:
    """Every key used in any row's merge_fields JSON (all rows scanned, not a sample)."""
    con = duckdb.connect()
    try:
        con.register("payload", payload.select("merge_fields").to_arrow())
        keys = con.execute(
            "select distinct unnest(json_keys(merge_fields::json)) as k from payload order by k"
        ).fetchall()
    finally:
        con.close()
    return [k for (k,) in keys]


def member_from_payload_row(row: dict) -> dict:
    """The Mailchimp batch member body for one payload row.

    Only `status_if_new` is set: sending `status: subscribed` for an existing member would
    re-subscribe someone who unsubscribed at the ESP since our last pull of its events.
    """
    return {
        "email_address": row["email"],
        "status_if_new": "subscribed",
        "merge_fields": json.loads(row["merge_fields"]),
        "tags": list(row["tags"] or []),
    }


class EspPayloadModel(pa.DataFrameModel):
    """activation.esp_payload: one member per address, Mailchimp's id and our change hash."""

    email: str = pa.Field(unique=True, str_matches=EMAIL_PATTERN)
    subscriber_hash: str = pa.Field(unique=True, str_matches=r"^[0-9a-f]{32}$")
    merge_fields: str = pa.Field(str_startswith="{")
    payload_hash: str = pa.Field(str_matches=r"^[0-9a-f]{64}$")

    class Config:
        strict = False
