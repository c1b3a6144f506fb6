"""One verdict on the audit log: its chain, and its anchor outside the warehouse.

Fails closed: a broken link, a missing anchored entry, or a chain that says it was anchored but
whose anchor cannot be found (lost, or kept by another Dagster home) all fail.
"""

from dataclasses import dataclass

import polars as pl

from email_data_platform.lib.privacy.audit import (
    ChainBreak,
    anchor_present,
    first_break,
    warehouse_id,
    was_anchored,
)
from email_data_platform.lib.privacy.pseudonyms import PseudonymKeyring

ANCHOR_STATES = {
    "not_anchored_yet": "no anchor yet, and the chain was never anchored",
    "present": "the anchored entry is present and unchanged",
    "anchored_entry_missing": "the anchored entry was cut from the log or rewritten",
    "anchor_lost": "the chain was anchored before, but no anchor for this warehouse was found",
}


@dataclass(frozen=True)
class AuditVerdict:
    entries: int
    warehouse_id: str | None
    broken: ChainBreak | None
    anchor: tuple[int, str] | None
    anchor_state: str

    @property
    def passed(self) -> bool:
        return self.broken is None and self.anchor_state in ("not_anchored_yet", "present")

    def describe(self) -> str:
        chain = (f"first broken entry: seq {self.broken.seq} ({self.broken.reason})"
                 if self.broken else f"chain intact ({self.entries} entries)")
        return f"{chain}; anchor: {ANCHOR_STATES[self.anchor_state]}"


def verify_audit_log(log: pl.DataFrame, anchor: tuple[int, str] | None,
                     keyring: PseudonymKeyring | None = None) -> AuditVerdict:
    """Judge `log` against `anchor`, the (seq, hash) last anchored for its warehouse."""
    if anchor is not None:
        state = "present" if anchor_present(log, *anchor) else "anchored_entry_missing"
    else:
        state = "anchor_lost" if was_anchored(log) else "not_anchored_yet"
    return AuditVerdict(entries=log.height, warehouse_id=warehouse_id(log),
                        broken=first_break(log, keyring), anchor=anchor, anchor_state=state)
