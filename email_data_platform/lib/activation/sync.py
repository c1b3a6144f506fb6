"""Diff-based, resumable sync of one destination's payload rows to its ESP.

- Plan: compare the payload with the sync state (last pushed payload_hash per subscriber_hash).
  New or changed members are upserted, members whose state is `active` or `pending` but who left
  the payload are removed (the destination's `on_leave`), everyone else is left alone. A member
  the ESP rejected permanently (`rejected`) is not sent again until its row changes.
- Execute: upserts go in batches (the ESP's maximum). All members to upsert are first
  committed as `pending` (one transaction); members the ESP refuses with a transient error are
  re-sent on their own, up to `max_attempts` attempts in all, then recorded as failed (and stay
  pending, so the next run tries again); permanent refusals are recorded as `rejected`.
  Receipts and the state of their members are committed together (`commit_batch`) every
  `commit_every` members, and at once when the sync stops on an error. A killed process thus
  loses the receipts of at most that many members, who are still `pending`: the re-run re-plans
  from the committed state and sends them again, and upserts are idempotent at the ESP, so
  re-sending creates no duplicates. (A commit per ESP batch cost more than the push at 1M:
  every commit rewrites part of a state table of a million rows.)
- Dry run: only the plan is computed; nothing is sent and no state changes.

The vendor specifics (request shapes, batch operations, import jobs) live in `esp_targets.py`
behind the `EspTarget` protocol. The state holds subscriber hashes, payload hashes and segment
tags only, never an email address; ESP error messages are scrubbed of addresses.
"""

import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

import polars as pl

logger = logging.getLogger(__name__)

MAILCHIMP_MAX_BATCH = 500
STATE_SCHEMA = {
    "subscriber_hash": pl.Utf8, "payload_hash": pl.Utf8, "status": pl.Utf8,
    "tags": pl.List(pl.Utf8), "synced_at": pl.Datetime("us", "UTC"), "run_id": pl.Utf8,
}
RECEIPT_SCHEMA = {
    "subscriber_hash": pl.Utf8, "action": pl.Utf8, "status": pl.Utf8, "payload_hash": pl.Utf8,
    "error": pl.Utf8, "attempts": pl.Int64, "synced_at": pl.Datetime("us", "UTC"),
    "run_id": pl.Utf8,
}
_EMAIL = re.compile(r"[^@\s\"'<>]+@[^@\s\"'<>]+")


@dataclass(frozen=True)
class MemberFailure:
    """Why the ESP refused one member; permanent ones are not re-sent until the row changes."""

    error: str
    permanent: bool = False


class EspTarget(Protocol):
    """One destination's ESP, as the sync sees it (see esp_targets.py)."""

    batch_size: int
    removal_batch_size: int

    def upsert(self, rows: list[dict]) -> dict[str, MemberFailure]: ...

    def remove(self, rows: list[dict]) -> dict[str, MemberFailure]: ...


CommitBatch = Callable[[pl.DataFrame, pl.DataFrame], None]


@dataclass(frozen=True)
class SyncSettings:
    batch_size: int = 30_000  # members per write request, capped by each ESP's own maximum
    max_attempts: int = 3
    commit_every: int = 25_000  # members whose receipts and state are committed together
    # A broken upstream (an empty consent feed, a bad join) looks like "everyone left": refuse to
    # remove more than this share of the list in one sync unless an operator raises it.
    max_archive_fraction: float = 0.5
    archive_guard_minimum: int = 10  # small lists churn by large shares legitimately

    def __post_init__(self) -> None:
        if not 0 <= self.max_archive_fraction <= 1:
            raise ValueError(f"max_archive_fraction must be 0..1, not {self.max_archive_fraction}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {self.batch_size}")
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, not {self.max_attempts}")
        if self.commit_every < 1:
            raise ValueError(f"commit_every must be at least 1, not {self.commit_every}")


class MassArchiveError(RuntimeError):
    """The plan would remove an implausibly large share of the list."""


@dataclass(frozen=True)
class SyncPlan:
    upserts: pl.DataFrame  # payload rows to send, with the tags last pushed (previous_tags)
    archives: pl.DataFrame  # subscriber_hash of members who left the audience
    unchanged: int
    active_before: int = 0
    new_members: int = 0  # never pushed, or removed earlier and now back
    rejected_unchanged: int = 0  # refused for good earlier, row unchanged: not sent

    def counts(self) -> dict[str, int]:
        return {"to_upsert": self.upserts.height, "to_archive": self.archives.height,
                "unchanged": self.unchanged, "new_members": self.new_members,
                "changed_members": self.upserts.height - self.new_members,
                "active_before": self.active_before,
                "rejected_unchanged": self.rejected_unchanged}

    def check_archive_guard(self, settings: "SyncSettings") -> None:
        """Raise MassArchiveError when the plan removes more than the allowed share."""
        archives, limit = self.archives.height, settings.max_archive_fraction * self.active_before
        if archives > settings.archive_guard_minimum and archives > limit:
            raise MassArchiveError(
                f"sync would archive {archives} of {self.active_before} active members "
                f"(more than {settings.max_archive_fraction:.0%}); check the audience upstream, "
                "or raise max_archive_fraction for this run if the change is intended"
            )


@dataclass
class SyncSummary:
    upserted: int = 0
    archived: int = 0
    failed: int = 0
    rejected: int = 0
    unchanged: int = 0
    batches: int = 0
    failed_hashes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {"upserted": self.upserted, "archived": self.archived, "failed": self.failed,
                "rejected": self.rejected, "unchanged": self.unchanged, "batches": self.batches}


def empty_state() -> pl.DataFrame:
    return pl.DataFrame(schema=STATE_SCHEMA)


def forget_members_missing_at_esp(
    state: pl.DataFrame, esp_member_hashes: list[str]
) -> tuple[pl.DataFrame, int]:
    """Drop `active` state rows whose member the ESP no longer holds (deleted there, list reset),
    so the plan pushes them again instead of trusting a state the ESP contradicts. Members the
    ESP holds that we never pushed are left alone: they are not ours to archive."""
    present = pl.Series("subscriber_hash", esp_member_hashes, dtype=pl.Utf8)
    missing = (pl.col("status") == "active") & ~pl.col("subscriber_hash").is_in(present.implode())
    return state.filter(~missing), state.filter(missing).height


def plan_sync(payload: pl.DataFrame, state: pl.DataFrame) -> SyncPlan:
    """Which members to upsert (new/changed/returning) and which to remove (left).

    A `pending` member may or may not have reached the ESP (a crash or a rejection came before
    its receipt), so it is treated as possibly there: re-sent if still in the payload, removed
    if it left, so nobody who left the audience can stay subscribed because a sync crashed.
    """
    state = _with_tags(state)
    known = state.filter(pl.col("status").is_in(["active", "pending", "rejected"])).select(
        "subscriber_hash", pushed_hash="payload_hash", known_status="status",
        previous_tags="tags")
    compared = payload.join(known, on="subscriber_hash", how="left")
    same = pl.col("pushed_hash") == pl.col("payload_hash")
    changed = (pl.col("pushed_hash").is_null() | ~same
               | (pl.col("known_status") == "pending")).fill_null(True)
    upserts = compared.filter(changed)
    # a rejected update may have left an older version at the ESP: remove it when it leaves
    on_list = known.filter(pl.col("known_status").is_in(["active", "pending", "rejected"]))
    archives = on_list.join(payload, on="subscriber_hash", how="anti").select("subscriber_hash")
    rejected = compared.filter(~changed & (pl.col("known_status") == "rejected")).height
    return SyncPlan(
        upserts=upserts.with_columns(previous_tags=pl.when(pl.col("known_status") == "active")
                                     .then(pl.col("previous_tags")))
        .drop("pushed_hash", "known_status"),
        archives=archives.sort("subscriber_hash"),
        unchanged=payload.height - upserts.height - rejected,
        active_before=on_list.filter(pl.col("known_status") == "active").height,
        new_members=upserts.filter(pl.col("pushed_hash").is_null()).height,
        rejected_unchanged=rejected)


def _with_tags(state: pl.DataFrame) -> pl.DataFrame:
    """State written before tags were kept reads as no tags known."""
    if "tags" in state.columns:
        return state
    return state.with_columns(tags=pl.lit(None, dtype=pl.List(pl.Utf8)))


def execute_sync(target: EspTarget, plan: SyncPlan, commit_batch: CommitBatch, run_id: str,
                 settings: SyncSettings = SyncSettings()) -> SyncSummary:
    """Push the plan batch by batch, committing receipts and state every `commit_every` members.

    Before anything is sent, every member to upsert is committed as `pending` in one
    transaction (write-ahead), so a crash between the ESP applying a batch and our receipt
    leaves them known to the next plan (which re-sends them, or removes them if they left).
    """
    summary = SyncSummary(unchanged=plan.unchanged)
    size = min(settings.batch_size, target.batch_size)
    if plan.upserts.height:
        commit_batch(pl.DataFrame(schema=RECEIPT_SCHEMA), pending_state(plan.upserts, run_id))
    receipts_to_commit = _Receipts(commit_batch, summary, settings.commit_every)
    try:
        for batch in _chunks(plan.upserts, size):
            receipts = push_batch(target.upsert, batch, "upsert", run_id, settings.max_attempts)
            receipts_to_commit.add(receipts, batch, "upserted")
        for batch in _chunks(plan.archives,
                             min(settings.batch_size, target.removal_batch_size)):
            receipts = push_batch(target.remove, batch, "archive", run_id, settings.max_attempts)
            receipts_to_commit.add(receipts, batch, "archived")
    finally:  # what the ESP answered before an error is kept
        receipts_to_commit.commit()
    logger.info("esp sync finished: %s", summary.as_dict())
    return summary


class _Receipts:
    """Receipts and state updates of pushed batches, committed together once `every` members
    are waiting (and on `commit()`)."""

    def __init__(self, commit_batch: CommitBatch, summary: SyncSummary, every: int):
        self.commit_batch, self.summary, self.every = commit_batch, summary, every
        self.receipts: list[pl.DataFrame] = []
        self.states: list[pl.DataFrame] = []

    def add(self, receipts: pl.DataFrame, batch: pl.DataFrame, counter: str) -> None:
        done = receipts.filter(pl.col("status").is_in(["ok", "rejected"]))
        failed = receipts.filter(pl.col("status") == "failed")
        self.receipts.append(receipts)
        self.states.append(state_updates_from_receipts(done, batch))
        summary = self.summary
        setattr(summary, counter, getattr(summary, counter) + receipts.filter(
            pl.col("status") == "ok").height)
        summary.rejected += receipts.filter(pl.col("status") == "rejected").height
        summary.failed += failed.height
        summary.failed_hashes += failed["subscriber_hash"].to_list()
        summary.batches += 1
        if sum(r.height for r in self.receipts) >= self.every:
            self.commit()

    def commit(self) -> None:
        if not self.receipts:
            return
        receipts, states = pl.concat(self.receipts), pl.concat(self.states)
        self.receipts, self.states = [], []
        self.commit_batch(receipts, states)


def push_batch(send: Callable[[list[dict]], dict[str, MemberFailure]], batch: pl.DataFrame,
               action: str, run_id: str, max_attempts: int) -> pl.DataFrame:
    """Send one batch; re-send only members refused with a transient error, up to max_attempts.
    Receipts: ok, rejected (permanent, not re-sent until the row changes) or failed."""
    members = {row["subscriber_hash"]: row for row in batch.iter_rows(named=True)}
    pending, attempts = list(members), dict.fromkeys(members, 0)
    failures: dict[str, MemberFailure] = {}
    while pending:
        for member_hash in pending:
            attempts[member_hash] += 1
        answer = send([members[h] for h in pending])
        failures.update({h: f for h, f in answer.items() if h in members})
        for member_hash in pending:
            if member_hash not in answer:
                failures.pop(member_hash, None)
        pending = [h for h in pending if h in answer and not answer[h].permanent
                   and attempts[h] < max_attempts]
        if pending:
            logger.warning("esp refused %d members for now; retrying them", len(pending))
    synced_at = datetime.now(UTC)
    return pl.DataFrame([
        {"subscriber_hash": h, "action": action,
         "status": _receipt_status(failures.get(h)), "payload_hash": row.get("payload_hash"),
         "error": scrub_emails(failures[h].error) if h in failures else None,
         "attempts": attempts[h], "synced_at": synced_at, "run_id": run_id}
        for h, row in members.items()
    ], schema=RECEIPT_SCHEMA)


def _receipt_status(failure: MemberFailure | None) -> str:
    if failure is None:
        return "ok"
    return "rejected" if failure.permanent else "failed"


def pending_state(batch: pl.DataFrame, run_id: str) -> pl.DataFrame:
    """State rows announcing that these members are about to be sent."""
    return batch.select(
        "subscriber_hash", "payload_hash", status=pl.lit("pending"),
        tags=pl.lit(None, dtype=pl.List(pl.Utf8)),
        synced_at=pl.lit(datetime.now(UTC)).cast(STATE_SCHEMA["synced_at"]),
        run_id=pl.lit(run_id),
    )


def state_updates_from_receipts(receipts: pl.DataFrame, batch: pl.DataFrame) -> pl.DataFrame:
    """Settled receipts become the new state: upserts active (with the tags pushed) or
    rejected, removals archived."""
    tags = (batch.select("subscriber_hash", "tags") if "tags" in batch.columns
            else batch.select("subscriber_hash", tags=pl.lit(None, dtype=pl.List(pl.Utf8))))
    return receipts.join(tags, on="subscriber_hash", how="left").select(
        "subscriber_hash", "payload_hash",
        status=pl.when(pl.col("action") == "archive").then(pl.lit("archived"))
        .when(pl.col("status") == "rejected").then(pl.lit("rejected"))
        .otherwise(pl.lit("active")),
        tags=pl.when(pl.col("action") == "upsert").then(pl.col("tags")),
        synced_at="synced_at", run_id="run_id",
    )


def scrub_emails(text: str | None) -> str | None:
    """ESP error messages often quote the address; receipts must not."""
    return None if text is None else _EMAIL.sub("<email>", text)


def _chunks(frame: pl.DataFrame, size: int) -> Iterator[pl.DataFrame]:
    for offset in range(0, frame.height, size):
        yield frame.slice(offset, size)
