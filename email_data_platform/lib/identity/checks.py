"""Invariants of the identity tables, as counts of violations (zero everywhere = healthy).

Counted in SQL where the tables live: the checks run after every link, and reading 1M-row
tables into polars for a few counts cost ~0.5 s per check, most of a daily incremental run.
A row that repeats a key counts once per row (three rows of one record are three violations).
"""

from email_data_platform.lib.identity.stage import ENTITIES, GOLDEN, PAIRS, PROFILES


def _repeated(table: str, key: str) -> str:
    """Rows of `table` whose `key` appears more than once."""
    return (f"(select coalesce(sum(n), 0) from (select count(*) as n from {table}"
            f" group by {key} having count(*) > 1))")


def _counts(warehouse, **counts: str) -> dict[str, int]:
    row = warehouse.query("select " + ", ".join(
        f"{sql} as {name}" for name, sql in counts.items())).row(0, named=True)
    return {name: int(value or 0) for name, value in row.items()}


def entity_coverage(warehouse) -> dict[str, int]:
    """Every clean record has exactly one entity row, and entities hold no unknown records."""
    return _counts(
        warehouse,
        records_without_entity=f"(select count(*) from {PROFILES} anti join {ENTITIES}"
                               " using (record_id))",
        records_with_several_entity_rows=_repeated(ENTITIES, "record_id"),
        entity_rows_for_unknown_records=f"(select count(*) from {ENTITIES} anti join"
                                        f" {PROFILES} using (record_id))",
    )


def pair_problems(warehouse) -> dict[str, int]:
    """Pairs are stored once, left id < right id, with probabilities in [0, 1]."""
    return _counts(
        warehouse,
        duplicate_pairs=_repeated(PAIRS, "record_id_l, record_id_r"),
        unordered_or_self_pairs=f"(select count(*) from {PAIRS}"
                                " where record_id_l >= record_id_r)",
        probabilities_out_of_range=f"(select count(*) from {PAIRS} where match_probability"
                                   " is null or match_probability not between 0 and 1)",
    )


def golden_problems(warehouse) -> dict[str, int]:
    """One golden row per entity, none for entities that do not exist."""
    known = f"(select distinct entity_id from {ENTITIES})"
    return _counts(
        warehouse,
        duplicate_golden_rows=_repeated(GOLDEN, "entity_id"),
        entities_without_golden_row=f"(select count(*) from {known} anti join {GOLDEN}"
                                    " using (entity_id))",
        golden_rows_without_entity=f"(select count(*) from {GOLDEN} anti join {known}"
                                   " using (entity_id))",
    )


def cluster_sizes(warehouse) -> dict[str, int]:
    """Counts of entities by size bucket, plus the largest entity's size."""
    row = warehouse.query(
        "select count(*) as entities, count(*) filter (where n = 1) as size_1,"
        " count(*) filter (where n between 2 and 3) as size_2_3,"
        " count(*) filter (where n between 4 and 10) as size_4_10,"
        " count(*) filter (where n > 10) as size_over_10, max(n) as largest"
        f" from (select count(*) as n from {ENTITIES} group by entity_id)").row(0, named=True)
    return {name: int(value or 0) for name, value in row.items()}
