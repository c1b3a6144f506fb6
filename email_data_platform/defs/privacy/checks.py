"""Privacy checks: the audit chain is intact; the ledger has one decision per person and purpose."""

import dagster as dg

from email_data_platform.defs.metadata import table_schema_check
from email_data_platform.defs.privacy.assets import latest_anchor
from email_data_platform.defs.warehouse import WarehouseResource
from email_data_platform.lib.privacy.stage import (
    ConsentLedgerModel,
    anchor_present,
    read_audit_log,
    verify_chain,
)

AUDIT_LOG = dg.AssetKey(["privacy", "audit_log"])
CONSENT_LEDGER = dg.AssetKey(["privacy", "consent_ledger"])


@dg.asset_check(
    asset=AUDIT_LOG,
    blocking=True,
    description="Every audit entry's hash matches its content and the previous entry's hash, "
    "and the entries anchored in Dagster's event log are still there: nothing was edited, "
    "deleted, reordered or cut from the end.",
)
def audit_chain_intact(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    log = read_audit_log(warehouse.get())
    broken_seq = verify_chain(log)
    anchor = latest_anchor(context.instance)
    anchor_found = anchor is None or anchor_present(log, *anchor)
    previous_found = _previous_anchor_found(context.instance)
    return dg.AssetCheckResult(
        passed=broken_seq is None and anchor_found and previous_found,
        metadata={"entries": log.height,
                  "first_broken_seq": broken_seq if broken_seq is not None else "none",
                  "anchored_seq": anchor[0] if anchor else "none",
                  "anchored_entry_present": anchor_found,
                  "previous_anchor_present": previous_found},
    )


def _previous_anchor_found(instance: dg.DagsterInstance) -> bool:
    event = instance.get_latest_materialization_event(AUDIT_LOG)
    if event is None or event.asset_materialization is None:
        return True
    flag = event.asset_materialization.metadata.get("previous_anchor_found")
    return True if flag is None else bool(flag.value)


consent_ledger_matches_schema = table_schema_check(
    CONSENT_LEDGER, "privacy.consent_ledger", ConsentLedgerModel, "entity_id",
    "consent_ledger_matches_schema",
)
