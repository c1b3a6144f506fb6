"""Consent receipts exported by a consent-management platform, into privacy.consent_events.

Accepted shapes (JSON list, `{"content": [...]}` as OneTrust pages it, JSON lines, or CSV):
- OneTrust data subjects: `Identifier` (or `identifier`) and `Purposes`, each with `Name` (or
  `Id`), `Status` (ACTIVE, CONFIRMED, WITHDRAWN, OPT_OUT, EXPIRED, NOT_GIVEN...), a date
  (`LastTransactionCreationDate`, `ConsentDate`, `WithdrawalDate`), `Version`, and optionally
  `ReceiptId` / `CollectionPointId` as proof;
- flat rows (CSV): identifier, purpose, status, date, policy_version[, receipt_id].
The identifier is an email address, or a record id such as `hubspot:123`. Purpose names are
matched to the taxonomy by their words ("Email Marketing" -> email_marketing). Rows go through
the same cleaning as the consent platform's feed: a withdrawal is always kept, a grant without
provable metadata is reported and not imported. Importing the same file twice adds nothing.
"""

import csv
import hashlib
import io
import json
from pathlib import Path

import polars as pl

# OneTrust's own status names; anything else goes through the taxonomy's status words
PLATFORM_STATUSES = {"active": "granted", "confirmed": "granted"}
DATE_FIELDS = ("LastTransactionCreationDate", "ConsentDate", "WithdrawalDate", "date",
               "consent_date", "occurred_at", "InteractionDate")


def read_receipts(path: Path) -> list[dict]:
    """Flat receipt rows (identifier, purpose, status, date, version, receipt) from a file."""
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".csv":
        return [_flat(row, row) for row in csv.DictReader(io.StringIO(text))]
    stripped = text.lstrip()
    if stripped.startswith("[") or stripped.startswith("{\"content\"") or (
            stripped.startswith("{") and "\n{" not in stripped.strip()):
        loaded = json.loads(text)
        subjects = loaded.get("content", [loaded]) if isinstance(loaded, dict) else loaded
    else:
        subjects = [json.loads(line) for line in text.splitlines() if line.strip()]
    rows = []
    for subject in subjects:
        purposes = subject.get("Purposes") or subject.get("purposes")
        if purposes is None:
            rows.append(_flat(subject, subject))
        else:
            rows.extend(_flat(subject, purpose) for purpose in purposes)
    return rows


def _get(record: dict, *names: str):
    lowered = {k.lower(): v for k, v in record.items()}
    for name in names:
        if lowered.get(name.lower()) not in (None, ""):
            return lowered[name.lower()]
    return None


def _flat(subject: dict, purpose: dict) -> dict:
    return {
        "identifier": _get(subject, "Identifier", "identifier", "email", "subject"),
        "purpose": _get(purpose, "Name", "purpose", "PurposeName", "Id"),
        "status": _get(purpose, "Status", "TransactionType", "status"),
        "date": _get(purpose, *DATE_FIELDS) or _get(subject, *DATE_FIELDS),
        "version": _get(purpose, "Version", "policy_version", "PurposeVersion"),
        "receipt": _get(purpose, "ReceiptId", "receipt_id", "CollectionPointId")
        or _get(subject, "ReceiptId", "receipt_id", "CollectionPointId"),
    }


def purpose_name(text) -> str | None:
    """"Email Marketing" / "email-marketing" -> "email_marketing" (taxonomy spelling)."""
    if text is None:
        return None
    return "_".join(str(text).strip().lower().replace("-", " ").split())


def receipts_as_raw_consent(rows: list[dict], source: str, file_name: str) -> pl.DataFrame:
    """Receipt rows in the shape of `sources.consent_raw`, ready for the consent cleaning."""
    raw = []
    for index, row in enumerate(rows, start=1):
        identifier = str(row["identifier"] or "").strip() or None
        is_email = identifier is not None and "@" in identifier
        status = str(row["status"] or "").strip()
        fingerprint = json.dumps([identifier, row["purpose"], status, row["date"]], default=str)
        raw.append({
            "event_id": f"import:{hashlib.sha256(fingerprint.encode()).hexdigest()[:24]}",
            "source": source,
            "contact_record_id": None if is_email else identifier,
            "email": identifier if is_email else None,
            "purpose": purpose_name(row["purpose"]),
            "status": PLATFORM_STATUSES.get(status.lower(), status),
            "channel": "import",
            "occurred_at": None if row["date"] is None else str(row["date"]),
            "policy_version": None if row["version"] is None else str(row["version"]),
            "proof_reference": str(row["receipt"] or f"{file_name}#{index}"),
            "legal_basis": None,
        })
    return pl.DataFrame(raw, schema=dict.fromkeys(raw[0] if raw else ["event_id"], pl.Utf8))
