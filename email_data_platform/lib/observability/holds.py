"""Holds: an anomaly stops every ESP sync until a person acknowledges it.

`observability.holds` is a warehouse table (not Dagster run state) so the hold binds any run,
any selection, any process that syncs against this warehouse, and survives restarts. A hold
is never deleted: acknowledging it records who released it, when and why. Written through the
warehouse's intent-level operations (append, upsert), so it works on every engine.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import polars as pl

HOLDS = "observability.holds"
HOLD_SCHEMA = {
    "hold_id": pl.Utf8, "opened_at": pl.Datetime("us", "UTC"), "rule": pl.Utf8,
    "asset": pl.Utf8, "message": pl.Utf8, "run_id": pl.Utf8,
    "acknowledged_at": pl.Datetime("us", "UTC"), "acknowledged_by": pl.Utf8,
    "ack_reason": pl.Utf8,
}


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
    run_id: str | None = None


def open_hold(warehouse, hold: Hold) -> str:
    """Record a new hold; returns its id (short: a person types it to acknowledge)."""
    hold_id = uuid.uuid4().hex[:10]
    row = {"hold_id": hold_id, "opened_at": datetime.now(UTC), "rule": hold.rule,
           "asset": hold.asset, "message": hold.message, "run_id": hold.run_id}
    warehouse.append(HOLDS, pl.DataFrame([row], schema=HOLD_SCHEMA))
    return hold_id


def all_holds(warehouse) -> pl.DataFrame:
    """Every hold ever opened, oldest first."""
    if not warehouse.exists(HOLDS):
        return pl.DataFrame(schema=HOLD_SCHEMA)
    return warehouse.query(f"select * from {HOLDS} order by opened_at")


def open_holds(warehouse) -> pl.DataFrame:
    """Unacknowledged holds, oldest first."""
    return all_holds(warehouse).filter(pl.col("acknowledged_at").is_null())


def open_hold_for(warehouse, asset: str, rule: str) -> str | None:
    """The id of an open hold on `asset` for `rule`, if any (one hold per cause, not per run)."""
    held = open_holds(warehouse).filter((pl.col("asset") == asset) & (pl.col("rule") == rule))
    return held["hold_id"][0] if held.height else None


def last_acknowledged_at(warehouse, asset: str, rule: str) -> datetime | None:
    """When a hold on `asset` for `rule` was last released: the accepted new baseline's start."""
    released = all_holds(warehouse).filter(
        (pl.col("asset") == asset) & (pl.col("rule") == rule)
        & pl.col("acknowledged_at").is_not_null())
    return released["acknowledged_at"].max() if released.height else None


def refuse_sync_while_held(warehouse) -> None:
    """The gate every ESP sync passes before pushing: raises SyncHeldError if any hold is open."""
    held = open_holds(warehouse)
    if held.height:
        raise SyncHeldError(held)


def acknowledge_hold(warehouse, hold_id: str, by: str, reason: str) -> dict:
    """Release one open hold, recording who and why. Returns the released hold."""
    if not by.strip() or not reason.strip():
        raise ValueError("acknowledging a hold needs a name (--by) and a reason (--reason)")
    found = all_holds(warehouse).filter(pl.col("hold_id") == hold_id)
    if not found.height:
        raise LookupError(f"no hold with id {hold_id!r} (see `edp alerts list`)")
    hold = found.row(0, named=True)
    if hold["acknowledged_at"] is not None:
        raise ValueError(f"hold {hold_id} was already acknowledged by {hold['acknowledged_by']} "
                         f"at {hold['acknowledged_at']:%Y-%m-%d %H:%M} UTC")
    hold.update(acknowledged_at=datetime.now(UTC), acknowledged_by=by.strip(),
                ack_reason=reason.strip())
    warehouse.upsert(HOLDS, pl.DataFrame([hold], schema=HOLD_SCHEMA), key=["hold_id"])
    return hold
