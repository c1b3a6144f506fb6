"""The ESP payload: what each destination receives, and nothing else.

One table for every destination (`activation.esp_payload`), one row per (destination, address).
Data minimisation is an allow-list per destination: the payload's columns are fixed, and the keys
inside `merge_fields` must be the vendor fields the destination maps (destinations.yaml). Phone,
address, date of birth and every internal score stay in the warehouse.

- `subscriber_hash` is Mailchimp's member id (md5 of the lower-cased email); every destination's
  sync state is keyed by it, so no state table holds an address.
- `merge_fields` is the JSON of the vendor fields sent (Mailchimp merge fields; SendGrid reserved
  and custom fields by name). Without a personalisation grant every personal field is sent empty:
  the person gets email and segment tags only.
- `consent_event_id` is the consent event that grants email marketing for the address (privacy's
  check proves it); it stays in the warehouse and is never sent.
- `payload_hash` is sha256 of the canonical JSON of what is sent (email, merge_fields, tags), so
  a sync can tell which members changed since they were last pushed.
"""

import json
import logging

import duckdb
import pandera.polars as pa
import polars as pl

from email_data_platform.lib.activation.destinations import PERSONAL_FIELDS, Destination
from email_data_platform.lib.profiles.emails import EMAIL_PATTERN

logger = logging.getLogger(__name__)

PAYLOAD_SCHEMA = {
    "destination": pl.Utf8, "email": pl.Utf8, "subscriber_hash": pl.Utf8,
    "consent_event_id": pl.Utf8, "merge_fields": pl.Utf8, "tags": pl.List(pl.Utf8),
    "payload_hash": pl.Utf8,
}
_TAGS = pl.List(pl.Utf8)


def build_esp_payload(audience: pl.DataFrame, features: pl.DataFrame,
                      memberships: pl.DataFrame, destinations: list[Destination]) -> pl.DataFrame:
    """One row per (destination, distinct email in the marketable audience).

    Args:
        audience: audiences.marketable_audience (entity_id, email, first_name, last_name, and
            when present consent_event_id and personalisation; absent personalisation = False).
        features: audiences.customer_features (entity_id, lifetime_value, ...).
        memberships: audiences.segments (entity_id, segment).
        destinations: the active destinations (destinations.yaml).
    """
    people = _people(audience, features)
    frames = [_for_destination(people, memberships, d) for d in destinations]
    payload = _add_hashes(pl.concat(frames, how="vertical_relaxed"))
    violations = allow_list_violations(payload, destinations)
    if violations:  # a programming error, not bad data: never ship it
        raise ValueError(f"payload breaks its allow-list: {violations}")
    return payload.select(list(PAYLOAD_SCHEMA)).sort("destination", "subscriber_hash")


def _people(audience: pl.DataFrame, features: pl.DataFrame) -> pl.DataFrame:
    """Audience rows with the personal fields, one per address (deterministically)."""
    wanted = [c for c in PERSONAL_FIELDS if c in features.columns and c not in audience.columns]
    optional = {"consent_event_id": pl.lit(None, pl.Utf8), "personalisation": pl.lit(False)}
    missing = {k: v for k, v in optional.items() if k not in audience.columns}
    return (
        audience.with_columns(**missing)
        .join(features.select("entity_id", *wanted), on="entity_id", how="left")
        .with_columns(email=pl.col("email").str.strip_chars().str.to_lowercase(),
                      personalisation=pl.col("personalisation").fill_null(False))
        .sort("email", "entity_id")
        .unique(subset="email", keep="first", maintain_order=True)
    )


def _for_destination(people: pl.DataFrame, memberships: pl.DataFrame,
                     destination: Destination) -> pl.DataFrame:
    received = memberships if destination.segments is None else memberships.filter(
        pl.col("segment").is_in(list(destination.segments)))
    tags = received.group_by("entity_id").agg(tags=pl.col("segment").unique().sort())
    rows = people.join(tags, on="entity_id", how="left").with_columns(
        tags=pl.col("tags").fill_null(pl.lit([], dtype=_TAGS)))
    if destination.segments:  # a segment list: only members of those segments are pushed
        rows = rows.filter(pl.col("tags").list.len() > 0)
    fields = {vendor_field: _field_value(ours, rows)
              for ours, vendor_field in destination.fields.items()}
    merge_fields = (pl.struct(**fields).struct.json_encode() if fields else pl.lit("{}"))
    return rows.select(
        destination=pl.lit(destination.name), email="email",
        consent_event_id=pl.col("consent_event_id").cast(pl.Utf8), merge_fields=merge_fields,
        tags=pl.col("tags") if destination.tags else pl.lit([], dtype=_TAGS),
    )


def _field_value(ours: str, rows: pl.DataFrame) -> pl.Expr:
    """One vendor field's value; personal ones are empty without a personalisation grant."""
    if ours == "segments":
        return pl.col("tags").list.join(",")
    if ours not in rows.columns:
        value = pl.lit("")
    elif rows.schema[ours].is_numeric():
        value = pl.col(ours).fill_null(0.0).round(2).cast(pl.Utf8)
    else:
        value = pl.col(ours).cast(pl.Utf8).fill_null("")
    return pl.when(pl.col("personalisation")).then(value).otherwise(pl.lit(""))


def _add_hashes(payload: pl.DataFrame) -> pl.DataFrame:
    """md5/sha256 run vectorised in DuckDB (polars has no stable cryptographic hash)."""
    con = duckdb.connect()
    try:
        con.register("payload", payload.to_arrow())
        hashed = con.execute(
            """
            select *, md5(lower(email)) as subscriber_hash,
                   sha256(to_json({'email': email, 'merge_fields': merge_fields::json,
                                   'tags': tags})::varchar) as payload_hash
            from payload
            """
        ).to_arrow_table()
    finally:
        con.close()
    return pl.from_arrow(hashed).with_columns(pl.col("tags").cast(_TAGS))


def allow_list_violations(payload: pl.DataFrame, destinations: list[Destination]) -> list[str]:
    """Every column, destination or merge field that is not on the allow-list."""
    allowed = {d.name: set(d.fields.values()) for d in destinations}
    problems = [f"column {c!r}" for c in payload.columns if c not in PAYLOAD_SCHEMA]
    if "destination" not in payload.columns or not payload.height:
        return problems
    for name in sorted(set(payload["destination"].unique().to_list())):
        if name not in allowed:
            problems.append(f"destination {name!r} is not declared")
            continue
        rows = payload.filter(pl.col("destination") == name)
        problems += [f"{name} merge field {k!r}" for k in merge_field_keys(rows)
                     if k not in allowed[name]]
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
    re-subscribe someone who unsubscribed at the ESP since our last pull of its events. Tags
    listed here are added; tags the member left are removed through the member-tags endpoint.
    """
    return {
        "email_address": row["email"],
        "status_if_new": "subscribed",
        "merge_fields": json.loads(row["merge_fields"]),
        "tags": list(row["tags"] or []),
    }


class EspPayloadModel(pa.DataFrameModel):
    """activation.esp_payload: one member per (destination, address), and our change hash."""

    destination: str
    email: str = pa.Field(str_matches=EMAIL_PATTERN)
    subscriber_hash: str = pa.Field(str_matches=r"^[0-9a-f]{32}$")
    consent_event_id: str = pa.Field(nullable=True)
    merge_fields: str = pa.Field(str_startswith="{")
    payload_hash: str = pa.Field(str_matches=r"^[0-9a-f]{64}$")

    class Config:
        strict = False
        unique = ["destination", "email"]
