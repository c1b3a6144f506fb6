"""Invariants of the identity tables, as counts of violations (zero everywhere = healthy)."""

import polars as pl


def check_entity_coverage(profiles: pl.DataFrame, entities: pl.DataFrame) -> dict[str, int]:
    """Every clean record has exactly one entity row, and entities hold no unknown records."""
    return {
        "records_without_entity": profiles.join(entities, on="record_id", how="anti").height,
        "records_with_several_entity_rows": int(entities["record_id"].is_duplicated().sum()),
        "entity_rows_for_unknown_records": entities.join(profiles, on="record_id",
                                                         how="anti").height,
    }


def check_pairs(pairs: pl.DataFrame) -> dict[str, int]:
    """Pairs are stored once, left id < right id, with probabilities in [0, 1]."""
    return {
        "duplicate_pairs": int(pairs.select("record_id_l", "record_id_r").is_duplicated().sum()),
        "unordered_or_self_pairs": pairs.filter(
            pl.col("record_id_l") >= pl.col("record_id_r")).height,
        "probabilities_out_of_range": pairs.filter(
            ~pl.col("match_probability").is_between(0, 1)
            | pl.col("match_probability").is_null()).height,
    }


def check_golden_profiles(golden: pl.DataFrame, entities: pl.DataFrame) -> dict[str, int]:
    """One golden row per entity, none for entities that do not exist."""
    known = entities.select("entity_id").unique()
    return {
        "duplicate_golden_rows": int(golden["entity_id"].is_duplicated().sum()),
        "entities_without_golden_row": known.join(golden, on="entity_id", how="anti").height,
        "golden_rows_without_entity": golden.join(known, on="entity_id", how="anti").height,
    }
