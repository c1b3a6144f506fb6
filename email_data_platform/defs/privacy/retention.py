"""Retention: a daily job that anonymises people with no valid consent and no recent activity.

An op job rather than an asset: it changes existing tables in place and must not run inside
every `edp run` (the main job materialises every asset), only on its own schedule or on demand.
"""

import dagster as dg

from email_data_platform.defs.connections import MailchimpResource, SendGridResource
from email_data_platform.defs.pools import pool_for
from email_data_platform.defs.privacy.resources import PseudonymisationResource
from email_data_platform.defs.warehouse import WarehouseResource
from email_data_platform.lib import clock
from email_data_platform.lib.privacy.stage import (
    MailchimpMembers,
    SendGridMembers,
    anonymise_inactive,
    eligible_entities,
)


class RetentionConfig(dg.Config):
    inactive_days: int = 730
    """Anonymise people without valid consent whose last activity is older than this."""
    as_of: str = ""
    """ISO 8601 instant to judge inactivity at (default: now); for replays and tests."""
    dry_run: bool = False
    """Count who would be anonymised; change nothing."""


@dg.op(tags={"stage": "privacy"}, pool=pool_for("mailchimp", "sendgrid"))
def anonymise_inactive_people(
    context: dg.OpExecutionContext, config: RetentionConfig, warehouse: WarehouseResource,
    pseudonymisation: PseudonymisationResource, mailchimp: MailchimpResource,
    sendgrid: SendGridResource,
) -> dict:
    """Null the personal data of everyone with no granted consent for any purpose and no
    activity (record update, order, ESP event) for `inactive_days`; archive them at the ESPs."""
    wh = warehouse.get()
    as_of = clock.as_of(config.as_of)
    if config.dry_run:
        eligible = eligible_entities(wh, config.inactive_days, as_of).height
        context.log.info("retention dry run: %d people eligible", eligible)
        return {"people": eligible, "dry_run": True}
    keyring = pseudonymisation.keyring()
    chimp, grid = mailchimp.client(), sendgrid.client()
    try:
        esps = [MailchimpMembers(chimp, mailchimp.list_id), SendGridMembers(grid)]
        result = anonymise_inactive(wh, keyring, esps, config.inactive_days, context.run_id,
                                    as_of)
    finally:
        chimp.close()
        grid.close()
    summary = {"people": result["people"], "rows": sum(result["rows_per_table"].values()),
               "tables": len(result["rows_per_table"]), "esp": result["esp"]}
    context.log.info("retention: %s", summary)
    return summary


@dg.job(
    name="privacy_retention_job",
    description="Anonymise people with no valid consent and no activity for the configured "
    "number of days; archive their ESP members.",
    tags={"stage": "privacy"},
    executor_def=dg.in_process_executor,
)
def privacy_retention_job():
    anonymise_inactive_people()


privacy_retention_schedule = dg.ScheduleDefinition(
    name="privacy_retention_daily",
    job=privacy_retention_job,
    cron_schedule="30 4 * * *",
    execution_timezone="UTC",
    # on by default: retention is the privacy policy, not an option (README, "Schedules")
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every night, before the daily refresh: anonymise lapsed, inactive people.",
)
