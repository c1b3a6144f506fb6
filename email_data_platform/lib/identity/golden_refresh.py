"""Golden profiles kept current without rebuilding every one of them.

A full rebuild reads every clean profile and entity (~5 s at 1M records); it builds in parts,
ranges of entity ids of about `PART_ROWS` records each, because golden rows are per entity and
the whole build held all 10M records of the largest benchmark in memory at once (13.4 GB). After
an incremental link only the entities it touched can have other golden values, so:
- each incremental entities run appends the entity ids it touched (before and after, and the
  entities of removed records) to `identity.golden_pending`, run after run, until golden
  profiles are next built; a full entities run drops the table, which makes the next build full;
- a build also takes the entities of records whose profile changed or left since they were
  linked (`updated_at` differs from `entities.record_updated_at`), as the identity delta
  does, so a build that runs after the profiles changed but before entities did still matches
  a full rebuild;
- the golden rows of those entities are rebuilt from all their records and swapped in one
  transaction, which also clears the pending ids it used.
A full build fills a staging table and swaps it in: readers never see golden profiles half built.
A build is full when golden profiles, the pending table or the rules' fingerprint
(`identity.golden_state`) are missing or differ. Either way the result equals a full rebuild.
"""

import polars as pl

from email_data_platform.lib.identity.golden import SURVIVORSHIP, golden_from_records
from email_data_platform.lib.warehouse import table_exists
from email_data_platform.lib.warehouse.base import key_ranges, part_starts_query

PROFILES = "profiles.clean_profiles"
ENTITIES = "identity.entities"
GOLDEN = "identity.golden_profiles"
PENDING = "identity.golden_pending"
STATE = "identity.golden_state"
BUILDING = "identity.golden_building"  # a full build's rows until they replace GOLDEN
NEEDED = ["record_id", "source", "created_at", "updated_at", *SURVIVORSHIP]
# Records per part of a build. Building golden rows costs ~1.3 KB of memory per record (the
# whole build of 10M records peaked at 13.4 GB), and each part costs one more scan of entities
# and profiles. At 10M: parts of 500k peaked at 2.1 GB; of 1M at 2.7 GB and were no faster.
PART_ROWS = 500_000


def fingerprint() -> str:
    return "; ".join(f"{attribute}={rule}" for attribute, rule in SURVIVORSHIP.items())


def mark_pending(con, touched: str) -> None:
    """Inside the entities transaction: add the entity ids of relation `touched`
    (column entity_id) to the pending ids, unless a full build is due anyway."""
    if table_exists(con, PENDING):
        con.execute(f"insert into {PENDING} select distinct entity_id from {touched}"
                    " where entity_id is not null")


def drop_pending(con) -> None:
    """Inside a full entities run's transaction: the next golden build is full."""
    con.execute(f"drop table if exists {PENDING}")


def _incremental_possible(warehouse) -> bool:
    if not all(warehouse.exists(t) for t in (GOLDEN, PENDING, STATE)):
        return False
    return warehouse.read(STATE)["fingerprint"].to_list() == [fingerprint()]


def refresh_golden(warehouse, part_rows: int = PART_ROWS) -> dict:
    """Bring golden profiles up to date, incrementally when possible. Returns a summary.

    `warehouse` is DuckDB (identity runs in a local DuckDB workspace on the other warehouses):
    the build reads its parts with DuckDB SQL on its connection."""
    if not _incremental_possible(warehouse):
        return _full_build(warehouse, part_rows)
    stale = _stale_entities(warehouse)
    # One transaction, parts inserted in it: its uncommitted rows (~0.6 KB each) grow with the
    # entities rebuilt, a small share of them after an incremental link.
    with warehouse.transaction(["identity"], __stale=stale) as con:
        con.execute(f"delete from {GOLDEN} where entity_id in (select entity_id from __stale)")
        rebuilt, parts = _build_in_parts(
            con, f"(select * from {ENTITIES} semi join __stale using (entity_id))", GOLDEN,
            part_rows)
        con.execute(f"delete from {PENDING} where entity_id in (select entity_id from __stale)")
        rows = con.execute(f"select count(*) from {GOLDEN}").fetchone()[0]
    return {"mode": "incremental", "rows": rows, "entities_rebuilt": rebuilt,
            "entities_checked": stale.height, "parts": parts}


def _full_build(warehouse, part_rows: int) -> dict:
    """Build every golden row into a staging table, a commit per part, then swap it in with
    the state and pending tables in one transaction. Inserting all parts inside one
    transaction instead held the uncommitted rows in memory (4.4 GB at 10M records)."""
    state = pl.DataFrame({"fingerprint": [fingerprint()]})
    with warehouse.connection() as con:
        con.execute(f"drop table if exists {BUILDING}")
        try:
            rows, parts = _build_in_parts(con, ENTITIES, BUILDING, part_rows)
        except BaseException:
            con.execute(f"drop table if exists {BUILDING}")
            raise
    with warehouse.transaction(["identity"], __state=state) as con:
        con.execute(f"drop table if exists {GOLDEN}")
        con.execute(f"alter table {BUILDING} rename to {GOLDEN.split('.')[1]}")
        con.execute(f"create or replace table {STATE} as select * from __state")
        con.execute(f"create or replace table {PENDING} (entity_id varchar)")
    return {"mode": "full", "rows": rows, "entities_rebuilt": rows, "parts": parts}


def _build_in_parts(con, scope: str, target: str, part_rows: int) -> tuple[int, int]:
    """Build the golden rows of the entities of relation `scope` (record_id, entity_id) one
    part at a time and insert them into table `target`, created from the first part when
    missing. Returns (rows, parts)."""
    columns = ", ".join(f"p.{column}" for column in NEEDED)
    starts = con.execute(part_starts_query(f"select entity_id from {scope}", "entity_id",
                                           part_rows)).fetchall()
    rows, conditions = 0, key_ranges("entity_id", [start for (start,) in starts])
    for condition, params in conditions:
        records = pl.from_arrow(con.execute(
            f"select s.entity_id, {columns} from (select record_id, entity_id from {scope}"
            f" where {condition}) s join {PROFILES} p using (record_id)", params
        ).to_arrow_table())
        golden = golden_from_records(records)
        del records
        con.register("__part", golden.to_arrow())
        con.execute(f"create table if not exists {target} as select * from __part limit 0")
        con.execute(f"insert into {target} by name select * from __part")
        con.unregister("__part")
        rows += golden.height
    return rows, len(conditions)


def _stale_entities(warehouse) -> pl.DataFrame:
    """Pending entity ids, and the entities of records changed or gone since they were linked."""
    return warehouse.query(
        f"select entity_id from {PENDING} union select e.entity_id from {ENTITIES} e"
        f" left join {PROFILES} p using (record_id) where p.record_id is null"
        " or p.updated_at is distinct from e.record_updated_at")
