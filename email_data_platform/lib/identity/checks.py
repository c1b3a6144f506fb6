"""Invariants of the identity tables, as counts of violations (zero everywhere = healthy).

Counted in SQL where the tables live: the checks run after every link, and reading 1M-row
tables into polars for a few counts cost ~0.5 s per check, most of a daily incremental run.
A row that repeats a key counts once per row (three rows of one record are three violations).
The SQL is portable (`not exists` rather than DuckDB's anti join) so it runs on every warehouse.
"""

from email_data_platform.lib.identity.stage import ENTITIES, GOLDEN, PAIRS, PROFILES


def _repeated(table: str, key: str) -> str:
    """Rows of `table` whose `key` appears more than once."""
    return (f"(select coalesce(sum(n), 0) from (select count(*) as n from {table}"
            f" group by {key} having count(*) > 1))")


def _missing(table: str, other: str, key: str) -> str:
    """Rows of `table` (a table or subquery) whose `key` is not in `other`."""
    return (f"(select count(*) from {table} t where not exists"
            f" (select 1 from {other} o where o.{key} = t.{key}))")


def _counts(warehouse, **counts: str) -> dict[str, int]:
    row = warehouse.query("select " + ", ".join(
        f"{sql} as {name}" for name, sql in counts.items())).row(0, named=True)
    return {name: int(value or 0) for name, value in row.items()}


def entity_coverage(warehouse) -> dict[str, int]:
    """Every clean record has exactly one entity row, and entities hold no unknown records."""
    return _counts(
        warehouse,
        records_without_entity=_missing(PROFILES, ENTITIES, "record_id"),
        records_with_several_entity_rows=_repeated(ENTITIES, "record_id"),
        entity_rows_for_unknown_records=_missing(ENTITIES, PROFILES, "record_id"),
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
        entities_without_golden_row=_missing(known, GOLDEN, "entity_id"),
        golden_rows_without_entity=_missing(GOLDEN, known, "entity_id"),
    )


def cluster_sizes(warehouse) -> dict[str, int]:
    """Counts of entities by size bucket, plus the largest entity's size."""
    row = warehouse.query(
        "select count(*) as entities, sum(case when n = 1 then 1 else 0 end) as size_1,"
        " sum(case when n between 2 and 3 then 1 else 0 end) as size_2_3,"
        " sum(case when n between 4 and 10 then 1 else 0 end) as size_4_10,"
        " sum(case when n > 10 then 1 else 0 end) as size_over_10, max(n) as largest"
        f" from (select count(*) as n from {ENTITIES} group by entity_id)").row(0, named=True)
    return {name: int(value or 0) for name, value in row.items()}
