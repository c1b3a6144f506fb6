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


def _ranked(records: pl.DataFrame, attribute: str, rule: str) -> pl.DataFrame:
    """Candidate values of one attribute, best first within each entity."""
    candidates = records.filter(pl.col(attribute).is_not_null())
    recency = [pl.col("updated_at").fill_null(pl.col("created_at")), pl.col("record_id")]
    if rule == "most_recent":
        keys, descending = recency, [True, False]
    elif rule == "most_frequent":
        candidates = candidates.with_columns(
            pl.len().over("entity_id", attribute).alias("_votes")
        )
        keys, descending = [pl.col("_votes"), *recency], [True, True, False]
    elif rule == "source_priority":
        candidates = candidates.with_columns(
            pl.col("source").replace_strict(
                SOURCE_PRIORITY, default=len(SOURCE_PRIORITY), return_dtype=pl.Int32
            ).alias("_rank")
        )
        keys, descending = [pl.col("_rank"), *recency], [False, True, False]
    else:
        raise ValueError(f"unknown survivorship rule {rule!r} for {attribute}")
    return candidates.sort(keys, descending=descending)


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
    records = entities.select("record_id", "entity_id").join(profiles, on="record_id")
    golden = records.group_by("entity_id").agg(pl.len().cast(pl.Int64).alias("record_count"))
    for attribute, rule in rules.items():
        winners = (
            _ranked(records, attribute, rule)
            .unique("entity_id", keep="first", maintain_order=True)
            .select("entity_id", attribute, pl.col("record_id").alias(f"{attribute}_source"))
        )
        golden = golden.join(winners, on="entity_id", how="left")
    ordered = ["entity_id", *rules, "record_count", *(f"{a}_source" for a in rules)]
    return golden.select(ordered).sort("entity_id")
