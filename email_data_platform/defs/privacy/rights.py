"""Data subjects' rights: erasure requests carried out on every run."""

import dagster as dg

from email_data_platform.defs.connections import MailchimpResource, SendGridResource
from email_data_platform.defs.metadata import OWNERS, table_metadata
from email_data_platform.defs.pools import pool_for
from email_data_platform.defs.privacy.resources import PseudonymisationResource
from email_data_platform.defs.privacy.rights_resources import PiiEncryptionResource
from email_data_platform.defs.warehouse import WarehouseResource
from email_data_platform.lib.privacy.stage import (
    ERASURE_LOG,
    MailchimpMembers,
    SendGridMembers,
    pending_requests,
    process_erasures,
    sweep,
)


@dg.asset(
    key=["privacy", "erasure_log"],
    group_name="privacy",
    owners=OWNERS,
    kinds={"duckdb", "mailchimp", "sendgrid"},
    tags={"stage": "privacy", "pii": "false"},
    pool=pool_for("mailchimp", "sendgrid"),
)
def erasure_log(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource,
    pseudonymisation: PseudonymisationResource, pii_encryption: PiiEncryptionResource,
    mailchimp: MailchimpResource, sendgrid: SendGridResource,
) -> dg.MaterializeResult:
    """Evidence that people who asked to be erased (`edp privacy erase`) are gone: one row per
    erasure with the person's pseudonym, rows deleted per table, what Mailchimp and SendGrid
    confirmed, and the run. Each run first carries out pending requests: the person's rows are
    deleted from every warehouse table (raw data included), they are permanently deleted at
    every ESP, and keyed tombstones stop the same source data from bringing them back. Then it
    sweeps every table for anything tombstoned that came back anyway. It runs first in the
    graph, so nothing downstream is built from an erased person's data.
    """
    wh, keyring = warehouse.get(), pseudonymisation.keyring()
    pending = pending_requests(wh).height
    outcomes = []
    if pending:
        chimp, grid = mailchimp.client(), sendgrid.client()
        try:
            esps = [MailchimpMembers(chimp, mailchimp.list_id), SendGridMembers(grid)]
            outcomes = process_erasures(wh, keyring, pii_encryption.cipher(), esps,
                                        context.run_id)
        finally:
            chimp.close()
            grid.close()
    swept = sweep(wh, keyring, context.run_id)
    log = wh.read(ERASURE_LOG) if wh.exists(ERASURE_LOG) else None
    retrying = sum(not o.esp_ok for o in outcomes)
    if retrying:
        context.log.warning("%d erasures could not be confirmed at an ESP; retried next run",
                            retrying)
    return dg.MaterializeResult(metadata={
        **(table_metadata(log) if log is not None else {"dagster/row_count": 0}),
        "requests_processed": len(outcomes),
        "rows_deleted": sum(sum(o.rows_per_table.values()) for o in outcomes),
        "esp_retry_pending": retrying,
        "swept_rows_erased": sum(swept["erased"].values()),
        "swept_rows_anonymised": sum(swept["anonymised"].values()),
        "swept_tables": dg.MetadataValue.json(swept),
    })
