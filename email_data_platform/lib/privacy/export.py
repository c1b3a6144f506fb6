"""The right of access (GDPR Art. 15): everything the warehouse holds on one person, as JSON.

The person is found exactly as erasure finds them (their addresses, records, entity, subscriber
hashes and analytics pseudonyms, in every table of the catalogue), so what an export shows is
what an erasure would delete. Each table's rows come with the table they were read from; where a
row pairs the person with another record (identity.match_pairs), the other record's id is
withheld. Consent history, segments and ESP receipts are also listed on their own.
"""

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from email_data_platform.lib.privacy.audit import AuditEntry, append_audit_entries
from email_data_platform.lib.privacy.pseudonyms import PseudonymKeyring, pseudonyms_of
from email_data_platform.lib.privacy.subjects import (
    Subject,
    TableIdentifiers,
    catalogue,
    matching_predicates,
    resolve_subject,
    where_clause,
)
from email_data_platform.lib.warehouse import Warehouse

WITHHELD = "(another record, withheld)"
CONSENT_TABLES = ("privacy.consent_events", "privacy.consent_ledger",
                  "profiles.clean_consent_events", "sources.consent_raw")


def subject_rows(wh: Warehouse, entry: TableIdentifiers, subject: Subject) -> list[dict]:
    """The rows of one table that belong to the subject, other people's ids withheld."""
    predicates = matching_predicates(wh, entry, subject)
    if not predicates:
        return []
    sql, params = where_clause(predicates)
    rows = wh.query(f"select * from {entry.table} where {sql}", params).to_dicts()
    for row in rows:
        for column in entry.pair_columns:
            if row.get(column) is not None and row[column] not in subject.record_ids:
                row[column] = WITHHELD
    return rows


def export_subject(wh: Warehouse, keyring: PseudonymKeyring, email: str | None = None,
                   record_id: str | None = None) -> dict[str, Any]:
    """Everything held on the person with this address or record id (see module docstring)."""
    if bool(email) == bool(record_id):
        raise ValueError("an export names exactly one of an email address or a record id")
    tables = catalogue(wh)
    subject = resolve_subject(wh, tables, email=email, record_id=record_id)
    subject.pseudonyms.update(pseudonyms_of(keyring, subject.email_keys, subject.entity_ids))
    held = {entry.table: rows for entry in tables if (rows := subject_rows(wh, entry, subject))}
    return {
        "generated_at": datetime.now(UTC).isoformat(),
        "subject": {"addresses": sorted(subject.emails | subject.email_keys),
                    "record_ids": sorted(subject.record_ids),
                    "entity_ids": sorted(subject.entity_ids)},
        "tables": {table: {"source_table": table, "rows": rows} for table, rows in held.items()},
        "consent_history": {t: held[t] for t in CONSENT_TABLES if t in held},
        "segments": sorted({r["segment"] for r in held.get("audiences.segments", [])}),
        "esp_receipts": held.get("activation.sync_receipts", []),
    }


def export_json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, default=_json_value)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return str(value)


def audit_export(wh: Warehouse, document: dict[str, Any], pseudonym: str, run_id: str,
                 actor: str = "edp privacy export") -> None:
    """One audit entry per export: who (as a pseudonym), how many rows from how many tables."""
    tables = document["tables"]
    append_audit_entries(wh, [AuditEntry("subject data exported", pseudonym, {
        "tables": len(tables), "rows": sum(len(t["rows"]) for t in tables.values()),
        "records": len(document["subject"]["record_ids"]),
    }, actor=actor)], run_id=run_id)
