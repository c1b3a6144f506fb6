"""Golden profiles: one row per entity, each attribute chosen by a survivorship rule.

Rules, per attribute (kept as data in `SURVIVORSHIP`):
- `most_recent`: the non-null value of the most recently updated record (contact details move).
- `most_frequent`: the value most records agree on, ties to the most recent (names, birthdays:
  a typo appears once, the true spelling many times).
- `source_priority`: the value from the most trusted source, then the most recent (company:
  the sales CRM is curated by hand, the marketing CRM by web forms).
Every value carries `<attribute>_source`: the record_id it came from, for audit and explanation.
"""

import polars as pl

SURVIVORSHIP: dict[str, str] = {
    "email": "most_recent",
    "first_name": "most_frequent",
    "last_name": "most_frequent",
    "date_of_birth": "most_frequent",
    "phone": "most_recent",
    "city": "most_recent",
    "postal_code": "most_recent",
    "country": "most_recent",
    "company": "source_priority",
}
# Lower rank wins. Sources not listed rank after all listed ones.
SOURCE_PRIORITY: dict[str, int] = {"salesforce": 0, "hubspot": 1}


def _recency() -> list[pl.Expr]:
    return [pl.col("updated_at").fill_null(pl.col("created_at")), pl.col("record_id")]


def _first_non_null(attributes: list[str]) -> list[pl.Expr]:
    """Per group, in frame order: the first non-null value and the record it came from."""
    return [
        expr
        for attribute in attributes
        for expr in (
            pl.col(attribute).first(ignore_nulls=True),
            pl.when(pl.col(attribute).is_not_null()).then(pl.col("record_id"))
            .first(ignore_nulls=True).alias(f"{attribute}_source"),
        )
    ]


def _ordered_rule(records: pl.LazyFrame, attributes: list[str], rule: str) -> pl.LazyFrame:
    """most_recent and source_priority: sort once, take the first non-null per entity."""
    keys, descending = _recency(), [True, False]
    if rule == "source_priority":
        rank = pl.col("source").replace_strict(
            SOURCE_PRIORITY, default=len(SOURCE_PRIORITY), return_dtype=pl.Int32)
        keys, descending = [rank, *keys], [False, *descending]
    ordered = records.sort(keys, descending=descending)
    return ordered.group_by("entity_id", maintain_order=False).agg(_first_non_null(attributes))


def _most_frequent(records: pl.LazyFrame, attribute: str) -> pl.LazyFrame:
    """The value most records agree on, ties to the most recent record holding it."""
    votes = (
        records.filter(pl.col(attribute).is_not_null())
        .sort(_recency(), descending=[True, False])
        .group_by("entity_id", attribute)
        .agg(pl.len().alias("votes"), pl.col("record_id").first().alias(f"{attribute}_source"),
             pl.col("updated_at").fill_null(pl.col("created_at")).max().alias("latest"))
    )
    return (
        votes.sort(["votes", "latest", f"{attribute}_source"], descending=[True, True, False])
        .group_by("entity_id").agg(pl.col(attribute).first(), pl.col(f"{attribute}_source").first())
    )


def _survive_many(records: pl.DataFrame, rules: dict[str, str]) -> pl.DataFrame:
    """Survivorship over entities with several records."""
    lazy = records.lazy()
    parts = [lazy.group_by("entity_id").agg(pl.len().cast(pl.Int64).alias("record_count"))]
    for rule in ("most_recent", "source_priority"):
        attributes = [a for a, r in rules.items() if r == rule]
        if attributes:
            parts.append(_ordered_rule(lazy, attributes, rule))
    parts += [_most_frequent(lazy, a) for a, r in rules.items() if r == "most_frequent"]
    unknown = {r for r in rules.values()} - {"most_recent", "source_priority", "most_frequent"}
    if unknown:
        raise ValueError(f"unknown survivorship rules: {sorted(unknown)}")
    frames = pl.collect_all(parts)
    golden = frames[0]
    for frame in frames[1:]:
        golden = golden.join(frame, on="entity_id", how="left")
    return golden


def _single_records(records: pl.DataFrame, attributes: list[str]) -> pl.DataFrame:
    """An entity of one record is that record; each value's source is the record itself."""
    return records.select(
        "entity_id", *attributes, pl.lit(1, dtype=pl.Int64).alias("record_count"),
        *(pl.when(pl.col(a).is_not_null()).then(pl.col("record_id")).alias(f"{a}_source")
          for a in attributes),
    )


def build_golden_profiles(
    profiles: pl.DataFrame,
    entities: pl.DataFrame,
    rules: dict[str, str] | None = None,
) -> pl.DataFrame:
    """One golden row per entity with the surviving value and its source record per attribute.

    Args:
        profiles: clean profiles (`profiles.clean_profiles` columns).
        entities: `record_id`, `entity_id`.
        rules: attribute -> rule name; defaults to `SURVIVORSHIP`.
    """
    rules = rules or SURVIVORSHIP
    needed = ["record_id", "source", "created_at", "updated_at", *rules]
    records = entities.select("record_id", "entity_id").join(profiles.select(needed),
                                                            on="record_id")
    return golden_from_records(records, rules)


def golden_from_records(records: pl.DataFrame, rules: dict[str, str] | None = None
                        ) -> pl.DataFrame:
    """`build_golden_profiles` for profiles already joined to their `entity_id`: every record
    of an entity must be in `records` (a build in parts cuts between entities, never inside)."""
    rules = rules or SURVIVORSHIP
    attributes = list(rules)
    several = pl.col("entity_id").is_duplicated()
    ordered = ["entity_id", *attributes, "record_count", *(f"{a}_source" for a in attributes)]
    golden = pl.concat([
        _single_records(records.filter(~several), attributes).select(ordered),
        _survive_many(records.filter(several), rules).select(ordered),
    ])
    return golden.sort("entity_id")
