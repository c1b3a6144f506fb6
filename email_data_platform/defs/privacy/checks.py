"""Privacy checks: the audit chain is intact; the ledger has one decision per person and purpose."""

import dagster as dg

from email_data_platform.defs.privacy.metadata import table_schema_check
from email_data_platform.defs.warehouse import WarehouseResource
from email_data_platform.lib.audit import read_audit_log, verify_chain
from email_data_platform.lib.consent import ConsentLedgerModel

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


consent_ledger_matches_schema = table_schema_check(
    CONSENT_LEDGER, "privacy.consent_ledger", ConsentLedgerModel, "entity_id",
    "consent_ledger_matches_schema",
)
