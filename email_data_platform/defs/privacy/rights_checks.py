"""Checks on data subjects' rights: erased people are absent from every warehouse table."""

import dagster as dg

from email_data_platform.defs.privacy.resources import PseudonymisationResource
from email_data_platform.defs.warehouse import WarehouseResource
from email_data_platform.lib.privacy.stage import remaining_rows

ERASURE_LOG = dg.AssetKey(["privacy", "erasure_log"])


@dg.asset_check(
    asset=ERASURE_LOG,
    blocking=True,
    description="No warehouse table (raw, clean, identity, audiences, activation, any table the "
    "catalogue lists) holds a row whose address, record id, entity id, subscriber hash or "
    "pseudonym matches an erasure tombstone.",
)
def erased_subjects_absent(
    warehouse: WarehouseResource, pseudonymisation: PseudonymisationResource
) -> dg.AssetCheckResult:
    found = remaining_rows(warehouse.get(), pseudonymisation.keyring())
    return dg.AssetCheckResult(
        passed=not found,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"tables_with_erased_rows": len(found), "rows_found": sum(found.values()),
                  "tables": dg.MetadataValue.json(found)},
    )
