"""Privacy checks: the audit chain is intact; the ledger has one decision per person and purpose."""

import dagster as dg
import polars as pl

from email_data_platform.defs.warehouse import WarehouseResource
from email_data_platform.lib.audit import read_audit_log, verify_chain

AUDIT_LOG = dg.AssetKey(["privacy", "audit_log"])
CONSENT_LEDGER = dg.AssetKey(["privacy", "consent_ledger"])


@dg.asset_check(
    asset=AUDIT_LOG,
    blocking=True,
    description="Every audit entry's hash matches its content and the previous entry's hash: "
    "nothing was edited, deleted or reordered.",
)
def audit_chain_intact(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    log = read_audit_log(warehouse.get())
    broken_seq = verify_chain(log)
    return dg.AssetCheckResult(
        passed=broken_seq is None,
        metadata={"entries": log.height,
                  "first_broken_seq": broken_seq if broken_seq is not None else "none"},
    )


@dg.asset_check(
    asset=CONSENT_LEDGER,
    blocking=True,
    description="One decision per (person, purpose), statuses granted/withdrawn only.",
)
def consent_ledger_well_formed(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    ledger = warehouse.get().read("privacy.consent_ledger")
    duplicates = ledger.select("entity_id", "purpose").is_duplicated().sum()
    bad_status = ledger.filter(~pl.col("status").is_in(["granted", "withdrawn"])).height
    return dg.AssetCheckResult(
        passed=duplicates == 0 and bad_status == 0,
        metadata={"duplicate_decisions": int(duplicates), "unknown_status_rows": bad_status},
    )
