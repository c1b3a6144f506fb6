"""Holds: an anomaly stops every ESP sync until a person acknowledges it.

`observability.holds` is a warehouse table (not Dagster run state) so the hold binds any run,
any selection, any process that syncs against this warehouse, and survives restarts. A hold
is never deleted: acknowledging it records who released it, when and why.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import polars as pl

HOLDS = "observability.holds"
_CREATE = f"""
create table if not exists {HOLDS} (
    hold_id varchar primary key, opened_at timestamptz not null, rule varchar not null,
    asset varchar not null, message varchar not null, alert_id varchar, run_id varchar,
    acknowledged_at timestamptz, acknowledged_by varchar, ack_reason varchar
)"""


class SyncHeldError(RuntimeError):
    """Raised instead of pushing to the ESP while an unacknowledged hold exists."""

    def __init__(self, holds: pl.DataFrame):
        self.holds = holds
        listed = "; ".join(f"{h['hold_id']} ({h['rule']} on {h['asset']}: {h['message']})"
                           for h in holds.iter_rows(named=True))
        super().__init__(
            f"ESP sync held by {holds.height} unacknowledged anomal"
            f"{'y' if holds.height == 1 else 'ies'}: {listed}. Nothing was pushed. Review, then "
            "release with `edp alerts ack HOLD_ID --by NAME --reason TEXT`."
        )


@dataclass(frozen=True)
class Hold:
    rule: str
    asset: str
    message: str
    alert_id: str | None = None
    run_id: str | None = None


def ensure_holds_table(warehouse) -> None:
    with warehouse.transaction(["observability"]) as con:
        con.execute(_CREATE)


def open_hold(warehouse, hold: Hold) -> str:
    """Record a new hold; returns its id (short, typed by a person acknowledging it)."""
    hold_id = uuid.uuid4().hex[:10]
    with warehouse.transaction(["observability"]) as con:
        con.execute(_CREATE)
        con.execute(
            f"insert into {HOLDS} (hold_id, opened_at, rule, asset, message, alert_id, run_id)"
            " values (?, ?, ?, ?, ?, ?, ?)",
            [hold_id, datetime.now(UTC), hold.rule, hold.asset, hold.message, hold.alert_id,
             hold.run_id],
        )
    return hold_id


def open_holds(warehouse) -> pl.DataFrame:
    """Unacknowledged holds, oldest first."""
    ensure_holds_table(warehouse)
    return warehouse.query(
        f"select * from {HOLDS} where acknowledged_at is null order by opened_at")


def all_holds(warehouse) -> pl.DataFrame:
    ensure_holds_table(warehouse)
    return warehouse.query(f"select * from {HOLDS} order by opened_at")


def refuse_sync_while_held(warehouse) -> None:
    """The gate every ESP sync passes before pushing: raises SyncHeldError if any hold is open."""
    held = open_holds(warehouse)
    if held.height:
        raise SyncHeldError(held)


def acknowledge_hold(warehouse, hold_id: str, by: str, reason: str) -> dict:
    """Release one open hold, recording who and why. Returns the released hold."""
    if not by.strip() or not reason.strip():
        raise ValueError("acknowledging a hold needs a name (--by) and a reason (--reason)")
    with warehouse.transaction(["observability"]) as con:
        con.execute(_CREATE)
        found = con.execute(f"select acknowledged_at from {HOLDS} where hold_id = ?",
                            [hold_id]).fetchall()
        if not found:
            raise KeyError(f"no hold with id {hold_id!r} (see `edp alerts list`)")
        if found[0][0] is not None:
            raise ValueError(f"hold {hold_id} was already acknowledged at {found[0][0]}")
        con.execute(
            f"update {HOLDS} set acknowledged_at = ?, acknowledged_by = ?, ack_reason = ?"
            " where hold_id = ?", [datetime.now(UTC), by.strip(), reason.strip(), hold_id])
    released = warehouse.query(f"select * from {HOLDS} where hold_id = ?", [hold_id])
    return released.row(0, named=True)
