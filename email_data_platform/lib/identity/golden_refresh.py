"""Golden profiles kept current without rebuilding every one of them.

A full rebuild reads every clean profile and entity (~5 s at 1M records). After an incremental
link only the entities it touched can have other golden values, so:
- each incremental entities run appends the entity ids it touched (before and after, and the
  entities of removed records) to `identity.golden_pending`, run after run, until golden
  profiles are next built; a full entities run drops the table, which makes the next build full;
- a build also takes the entities of records whose profile changed or left since they were
  linked (`updated_at` differs from `entities.record_updated_at`), as the identity delta
  does, so a build that runs after the profiles changed but before entities did still matches
  a full rebuild;
- the golden rows of those entities are rebuilt from all their records and swapped in one
  transaction, which also clears the pending ids it used.
A build is full when golden profiles, the pending table or the rules' fingerprint
(`identity.golden_state`) are missing or differ. Either way the result equals a full rebuild.
"""

import polars as pl

from email_data_platform.lib.identity.golden import SURVIVORSHIP, build_golden_profiles
from email_data_platform.lib.warehouse import table_exists

PROFILES = "profiles.clean_profiles"
ENTITIES = "identity.entities"
GOLDEN = "identity.golden_profiles"
PENDING = "identity.golden_pending"
STATE = "identity.golden_state"
NEEDED = ["record_id", "source", "created_at", "updated_at", *SURVIVORSHIP]


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


def refresh_golden(warehouse) -> dict:
    """Bring golden profiles up to date, incrementally when possible. Returns a summary."""
    if not _incremental_possible(warehouse):
        golden = build_golden_profiles(warehouse.read(PROFILES, NEEDED),
                                       warehouse.read(ENTITIES, ["record_id", "entity_id"]))
        state = pl.DataFrame({"fingerprint": [fingerprint()]})
        with warehouse.transaction(["identity"], __golden=golden, __state=state) as con:
            con.execute(f"create or replace table {GOLDEN} as select * from __golden")
            con.execute(f"create or replace table {STATE} as select * from __state")
            con.execute(f"create or replace table {PENDING} (entity_id varchar)")
        return {"mode": "full", "rows": golden.height, "entities_rebuilt": golden.height}
    stale = _stale_entities(warehouse)
    with warehouse.transaction([], __stale=stale) as con:
        records = pl.from_arrow(con.execute(
            f"select record_id, entity_id from {ENTITIES} semi join __stale using (entity_id)"
        ).to_arrow_table())
        con.register("__records", records.select("record_id").to_arrow())
        profiles = pl.from_arrow(con.execute(
            f"select {', '.join(NEEDED)} from {PROFILES} semi join __records using (record_id)"
        ).to_arrow_table())
        con.unregister("__records")
    rebuilt = build_golden_profiles(profiles, records)
    with warehouse.transaction(["identity"], __stale=stale, __rebuilt=rebuilt) as con:
        con.execute(f"delete from {GOLDEN} where entity_id in (select entity_id from __stale)")
        con.execute(f"insert into {GOLDEN} by name select * from __rebuilt")
        con.execute(f"delete from {PENDING} where entity_id in (select entity_id from __stale)")
        rows = con.execute(f"select count(*) from {GOLDEN}").fetchone()[0]
    return {"mode": "incremental", "rows": rows, "entities_rebuilt": rebuilt.height,
            "entities_checked": stale.height}


def _stale_entities(warehouse) -> pl.DataFrame:
    """Pending entity ids, and the entities of records changed or gone since they were linked."""
    return warehouse.query(
        f"select entity_id from {PENDING} union select e.entity_id from {ENTITIES} e"
        f" left join {PROFILES} p using (record_id) where p.record_id is null"
        " or p.updated_at is distinct from e.record_updated_at")
