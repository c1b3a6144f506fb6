"""Diff-based, resumable sync of the ESP payload to a Mailchimp-like list.

- Plan: compare the payload with the sync state (last successfully pushed payload_hash per
  subscriber_hash). New or changed members are upserted, members whose state is `active` but who
  left the payload are archived, everyone else is left alone.
- Execute: upserts go in batches (Mailchimp's maximum is 500). A batch's members are first
  committed as `pending`; members the ESP rejects are re-sent, up to `max_attempts` attempts in
  all, then recorded as failed (and stay pending). After each batch, its receipts and the state of
  its successful members (`active`) are committed together (`commit_batch`), so a crash loses at
  most the batch in flight, and a re-run re-plans from the committed state: members already
  pushed are unchanged and are not sent again; pending ones are re-sent if still wanted and
  archived if they left. Upserts are idempotent at the ESP, so re-sending creates no duplicates.
- Dry run: only the plan is computed; nothing is sent and no state changes.

The state holds subscriber hashes and payload hashes only, never an email address; ESP error
messages are scrubbed of email addresses before they are stored.
"""

import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import polars as pl

from email_data_platform.lib.activation.payload import member_from_payload_row
from email_data_platform.lib.connectors.mailchimp import subscriber_hash

logger = logging.getLogger(__name__)

MAILCHIMP_MAX_BATCH = 500
STATE_SCHEMA = {
    "subscriber_hash": pl.Utf8, "payload_hash": pl.Utf8, "status": pl.Utf8,
    "synced_at": pl.Datetime("us", "UTC"), "run_id": pl.Utf8,
}
RECEIPT_SCHEMA = {
    "subscriber_hash": pl.Utf8, "action": pl.Utf8, "status": pl.Utf8, "payload_hash": pl.Utf8,
    "error": pl.Utf8, "attempts": pl.Int64, "synced_at": pl.Datetime("us", "UTC"),
    "run_id": pl.Utf8,
}
_EMAIL = re.compile(r"[^@\s\"'<>]+@[^@\s\"'<>]+")


class EspClient(Protocol):
    """The slice of MailchimpClient the sync needs."""

    def batch_upsert_members(self, list_id: str, members: list[dict]) -> dict: ...

    def archive_member(self, list_id: str, subscriber_hash: str) -> Any: ...


CommitBatch = Callable[[pl.DataFrame, pl.DataFrame], None]


@dataclass(frozen=True)
class SyncSettings:
    batch_size: int = MAILCHIMP_MAX_BATCH
    max_attempts: int = 3
    # A broken upstream (an empty consent feed, a bad join) looks like "everyone left": refuse to
    # archive more than this share of the list in one sync unless an operator raises it.
    max_archive_fraction: float = 0.5
    archive_guard_minimum: int = 10  # small lists churn by large shares legitimately

    def __post_init__(self) -> None:
        if not 0 <= self.max_archive_fraction <= 1:
            raise ValueError(f"max_archive_fraction must be 0..1, not {self.max_archive_fraction}")
        if not 1 <= self.batch_size <= MAILCHIMP_MAX_BATCH:
            raise ValueError(f"batch_size must be 1..{MAILCHIMP_MAX_BATCH}, not {self.batch_size}")
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, not {self.max_attempts}")


class MassArchiveError(RuntimeError):
    """The plan would archive an implausibly large share of the list."""


@dataclass(frozen=True)
class SyncPlan:
    upserts: pl.DataFrame  # payload rows to send
    archives: pl.DataFrame  # subscriber_hash of members who left the audience
    unchanged: int
    active_before: int = 0
    new_members: int = 0  # never pushed, or archived earlier and now back

    def counts(self) -> dict[str, int]:
        return {"to_upsert": self.upserts.height, "to_archive": self.archives.height,
                "unchanged": self.unchanged, "new_members": self.new_members,
                "changed_members": self.upserts.height - self.new_members,
                "active_before": self.active_before}

    def check_archive_guard(self, settings: "SyncSettings") -> None:
        """Raise MassArchiveError when the plan archives more than the allowed share."""
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
    unchanged: int = 0
    batches: int = 0
    failed_hashes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {"upserted": self.upserted, "archived": self.archived, "failed": self.failed,
                "unchanged": self.unchanged, "batches": self.batches}


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
    """Which members to upsert (new/changed/returning) and which to archive (left).

    A `pending` member may or may not have reached the ESP (a crash or a rejection came before
    its receipt), so it is treated as possibly there: re-sent if still in the payload, archived
    if it left, so nobody who left the audience can stay subscribed because a sync crashed.
    """
    on_list = state.filter(pl.col("status").is_in(["active", "pending"])).select(
        "subscriber_hash", pushed_hash="payload_hash", pending=pl.col("status") == "pending"
    )
    compared = payload.join(on_list, on="subscriber_hash", how="left")
    changed = (pl.col("pushed_hash").is_null() | (pl.col("pushed_hash") != pl.col("payload_hash"))
               | pl.col("pending").fill_null(False))
    upserts = compared.filter(changed)
    archives = on_list.join(payload, on="subscriber_hash", how="anti").select("subscriber_hash")
    active = on_list.filter(~pl.col("pending"))
    return SyncPlan(upserts=upserts.drop("pushed_hash", "pending"),
                    archives=archives.sort("subscriber_hash"),
                    unchanged=payload.height - upserts.height, active_before=active.height,
                    new_members=upserts.filter(pl.col("pushed_hash").is_null()).height)


def execute_sync(
    client: EspClient, list_id: str, plan: SyncPlan, commit_batch: CommitBatch, run_id: str,
    settings: SyncSettings = SyncSettings(),
) -> SyncSummary:
    """Push the plan batch by batch, committing receipts and state after every batch.

    Before a batch is sent its members are committed as `pending` (write-ahead), so a crash
    between the ESP applying a batch and our receipt leaves them known to the next plan.
    """
    summary = SyncSummary(unchanged=plan.unchanged)
    for batch in _chunks(plan.upserts, settings.batch_size):
        commit_batch(pl.DataFrame(schema=RECEIPT_SCHEMA), pending_state(batch, run_id))
        receipts = push_upsert_batch(client, list_id, batch, run_id, settings.max_attempts)
        _commit(receipts, commit_batch, summary, "upserted")
    for batch in _chunks(plan.archives, settings.batch_size):
        receipts = push_archive_batch(client, list_id, batch, run_id, settings.max_attempts)
        _commit(receipts, commit_batch, summary, "archived")
    logger.info("esp sync finished: %s", summary.as_dict())
    return summary


def _commit(receipts: pl.DataFrame, commit_batch: CommitBatch, summary: SyncSummary,
            counter: str) -> None:
    ok = receipts.filter(pl.col("status") == "ok")
    failed = receipts.filter(pl.col("status") == "failed")
    commit_batch(receipts, state_updates_from_receipts(ok))
    setattr(summary, counter, getattr(summary, counter) + ok.height)
    summary.failed += failed.height
    summary.failed_hashes += failed["subscriber_hash"].to_list()
    summary.batches += 1


def push_upsert_batch(
    client: EspClient, list_id: str, batch: pl.DataFrame, run_id: str, max_attempts: int
) -> pl.DataFrame:
    """Upsert one batch; re-send only the members the ESP rejected, up to max_attempts."""
    members = {row["subscriber_hash"]: row for row in batch.iter_rows(named=True)}
    pending, attempts, errors = list(members), dict.fromkeys(members, 0), {}
    while pending:
        for member_hash in pending:
            attempts[member_hash] += 1
        body = [member_from_payload_row(members[h]) for h in pending]
        response = client.batch_upsert_members(list_id, body)
        errors = _errors_by_hash(response)
        pending = [h for h in pending if h in errors and attempts[h] < max_attempts]
        if pending:
            logger.warning("esp rejected %d members; retrying", len(pending))
    synced_at = datetime.now(UTC)
    return pl.DataFrame(
        [
            {"subscriber_hash": h, "action": "upsert",
             "status": "failed" if h in errors else "ok", "payload_hash": row["payload_hash"],
             "error": errors.get(h), "attempts": attempts[h], "synced_at": synced_at,
             "run_id": run_id}
            for h, row in members.items()
        ],
        schema=RECEIPT_SCHEMA,
    )


def push_archive_batch(
    client: EspClient, list_id: str, batch: pl.DataFrame, run_id: str, max_attempts: int
) -> pl.DataFrame:
    """Archive members one call each (the API has no batch archive); a 404 counts as done."""
    rows = []
    for member_hash in batch["subscriber_hash"].to_list():
        error, attempt = None, 0
        for attempt in range(1, max_attempts + 1):  # noqa: B007 (attempt is read after the loop)
            try:
                client.archive_member(list_id, member_hash)
                error = None
                break
            except Exception as exc:  # the connector raises its own types; keep the message only
                if _status_code(exc) == 404:
                    error = None
                    break
                error = scrub_emails(f"{type(exc).__name__}: {exc}")
        rows.append({"subscriber_hash": member_hash, "action": "archive",
                     "status": "failed" if error else "ok", "payload_hash": None,
                     "error": error, "attempts": attempt, "synced_at": datetime.now(UTC),
                     "run_id": run_id})
    return pl.DataFrame(rows, schema=RECEIPT_SCHEMA)


def pending_state(batch: pl.DataFrame, run_id: str) -> pl.DataFrame:
    """State rows announcing that these members are about to be sent."""
    return batch.select(
        "subscriber_hash", "payload_hash", status=pl.lit("pending"),
        synced_at=pl.lit(datetime.now(UTC)).cast(STATE_SCHEMA["synced_at"]),
        run_id=pl.lit(run_id),
    )


def state_updates_from_receipts(ok_receipts: pl.DataFrame) -> pl.DataFrame:
    """Successful receipts become the new state: upserts are active, archives archived."""
    return ok_receipts.select(
        "subscriber_hash", "payload_hash",
        status=pl.when(pl.col("action") == "archive").then(pl.lit("archived"))
        .otherwise(pl.lit("active")),
        synced_at="synced_at", run_id="run_id",
    )


def scrub_emails(text: str | None) -> str | None:
    """ESP error messages often quote the address; receipts must not."""
    return None if text is None else _EMAIL.sub("<email>", text)


def _errors_by_hash(response: dict) -> dict[str, str]:
    errors = {}
    for error in response.get("errors") or []:
        email = error.get("email_address") or ""
        message = f"{error.get('error_code') or 'ERROR'}: {error.get('error') or ''}".strip()
        errors[subscriber_hash(email)] = scrub_emails(message)
    return errors


def _status_code(exc: Exception) -> int | None:
    """HTTP status of a connector error (VendorAPIError.status, httpx-style status_code)."""
    for code in (getattr(exc, "status", None), getattr(exc, "status_code", None),
                 getattr(getattr(exc, "response", None), "status_code", None)):
        if isinstance(code, int):
            return code
    return None


def _chunks(frame: pl.DataFrame, size: int) -> Iterator[pl.DataFrame]:
    for offset in range(0, frame.height, size):
        yield frame.slice(offset, size)
