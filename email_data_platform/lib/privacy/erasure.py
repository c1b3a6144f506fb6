"""The right to erasure (GDPR Art. 17, CCPA delete): a request now, the erasure at the next run.

`request_erasure` stores who is to be erased in `privacy.erasure_requests`, the subject
encrypted (AES-GCM, bound to its request id) and otherwise only as a keyed pseudonym.
`process_erasures` then, per pending request: finds every record, address and entity of the
person; tombstones them (keyed hashes, so re-ingested copies are recognised); deletes their rows
from every warehouse table, raw included; erases them at every ESP; and writes the evidence to
`privacy.erasure_log` (pseudonyms and counts only). Once the ESPs confirmed, the encrypted
subject is wiped: only the tombstones remain. If an ESP failed, the request stays open with the
identifiers found (encrypted) and the next run retries.
"""

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import polars as pl

from email_data_platform.lib.privacy.audit import AuditEntry, append_audit_entries
from email_data_platform.lib.privacy.crypto import PiiCipher
from email_data_platform.lib.privacy.esp_members import EspMembers, apply_at_esps
from email_data_platform.lib.privacy.pseudonyms import PseudonymKeyring, pseudonyms_of
from email_data_platform.lib.privacy.subjects import (
    Subject,
    catalogue,
    email_keys,
    resolve_subject,
)
from email_data_platform.lib.privacy.tombstones import ERASED, delete_rows, record_tombstones
from email_data_platform.lib.warehouse import Warehouse

logger = logging.getLogger(__name__)

REQUESTS = "privacy.erasure_requests"
ERASURE_LOG = "privacy.erasure_log"
PENDING, DONE, RETRY = "pending", "done", "esp_retry"
REQUEST_SCHEMA = {"request_id": pl.Utf8, "subject_kind": pl.Utf8, "subject_pseudonym": pl.Utf8,
                  "subject_encrypted": pl.Utf8, "status": pl.Utf8, "requested_by": pl.Utf8,
                  "requested_at": pl.Datetime("us", "UTC"),
                  "processed_at": pl.Datetime("us", "UTC"), "run_id": pl.Utf8}
LOG_SCHEMA = {"request_id": pl.Utf8, "subject_pseudonym": pl.Utf8, "run_id": pl.Utf8,
              "erased_at": pl.Datetime("us", "UTC"), "records": pl.Int64, "addresses": pl.Int64,
              "entities": pl.Int64, "rows_deleted": pl.Int64, "rows_per_table": pl.Utf8,
              "tombstones": pl.Int64, "esp_results": pl.Utf8, "status": pl.Utf8,
              # always null: entity ids are not kept after erasure (the rows are gone and the
              # tombstones hold keyed hashes); the column is here for readers that filter on it
              "entity_id": pl.Utf8}


def _context(request_id: str) -> str:
    return f"{REQUESTS}:{request_id}"


def subject_pseudonym(keyring: PseudonymKeyring, email: str | None, record_id: str | None
                      ) -> str:
    """The pseudonym an erasure is filed and audited under (of the email key, else record id)."""
    if email:
        return keyring.pseudonym(next(iter(email_keys([email]).values())))
    return keyring.pseudonym(record_id)


def request_erasure(wh: Warehouse, cipher: PiiCipher, keyring: PseudonymKeyring,
                    email: str | None = None, record_id: str | None = None,
                    requested_by: str = "edp privacy erase", run_id: str = "cli") -> str:
    """Record an erasure request for an address or a record id; returns its request id."""
    if bool(email) == bool(record_id):
        raise ValueError("an erasure request names exactly one of an email address or a "
                         "record id")
    if email and "@" not in email:
        raise ValueError("erasure request: the subject given is not an email address "
                         "(use --record for a record id)")
    request_id = str(uuid.uuid4())
    pseudonym = subject_pseudonym(keyring, email, record_id)
    subject = {"email": email.strip() if email else None, "record_id": record_id}
    row = pl.DataFrame([{
        "request_id": request_id, "subject_kind": "email" if email else "record_id",
        "subject_pseudonym": pseudonym,
        "subject_encrypted": cipher.encrypt(json.dumps(subject), _context(request_id)),
        "status": PENDING, "requested_by": requested_by, "requested_at": datetime.now(UTC),
        "processed_at": None, "run_id": None}], schema=REQUEST_SCHEMA)
    wh.write(REQUESTS, row, mode="append")
    append_audit_entries(wh, [AuditEntry("erasure requested", pseudonym,
                                         {"request_id": request_id,
                                          "subject_kind": row["subject_kind"][0]},
                                         actor=requested_by)], run_id=run_id)
    return request_id


def pending_requests(wh: Warehouse) -> pl.DataFrame:
    if not wh.exists(REQUESTS):
        return pl.DataFrame(schema=REQUEST_SCHEMA)
    return wh.query(f"select * from {REQUESTS} where status in (?, ?) order by requested_at",
                    [PENDING, RETRY])


@dataclass
class ErasureOutcome:
    request_id: str
    pseudonym: str
    rows_per_table: dict[str, int]
    esp_results: dict[str, dict]
    tombstones: int
    subject: Subject

    @property
    def esp_ok(self) -> bool:
        return all(r.get("ok") for r in self.esp_results.values())


def process_erasures(wh: Warehouse, keyring: PseudonymKeyring, cipher: PiiCipher,
                     esps: list[EspMembers], run_id: str) -> list[ErasureOutcome]:
    """Carry out every pending request (see the module docstring); returns what was done."""
    outcomes = []
    for request in pending_requests(wh).iter_rows(named=True):
        outcome = _erase_one(wh, keyring, cipher, esps, request)
        _finish(wh, cipher, request, outcome, run_id)
        outcomes.append(outcome)
    return outcomes


def _erase_one(wh: Warehouse, keyring: PseudonymKeyring, cipher: PiiCipher,
               esps: list[EspMembers], request: dict) -> ErasureOutcome:
    stored = json.loads(cipher.decrypt(request["subject_encrypted"],
                                       _context(request["request_id"])))
    tables = catalogue(wh)
    subject = resolve_subject(wh, tables, email=stored.get("email"),
                              record_id=stored.get("record_id"))
    # identifiers found by an earlier attempt whose ESP step failed (rows already deleted)
    subject.emails.update(stored.get("emails", []))
    subject.email_keys.update(stored.get("email_keys", []))
    subject.record_ids.update(stored.get("record_ids", []))
    subject.entity_ids.update(stored.get("entity_ids", []))
    subject.pseudonyms.update(pseudonyms_of(keyring, subject.email_keys, subject.entity_ids))
    # tombstones first: from here on landing drops the person, even if a later step fails
    tombstones = record_tombstones(wh, keyring, subject, ERASED, request["request_id"])
    rows = delete_rows(wh, tables, subject)
    esp_results = apply_at_esps(esps, subject.emails | subject.email_keys, "erase")
    return ErasureOutcome(request["request_id"], request["subject_pseudonym"], rows,
                          esp_results, tombstones, subject)


def _finish(wh: Warehouse, cipher: PiiCipher, request: dict, outcome: ErasureOutcome,
            run_id: str) -> None:
    """Log the evidence, close (or keep open for an ESP retry) the request, audit it."""
    now, subject = datetime.now(UTC), outcome.subject
    status = DONE if outcome.esp_ok else RETRY
    log = pl.DataFrame([{
        "request_id": outcome.request_id, "subject_pseudonym": outcome.pseudonym,
        "run_id": run_id, "erased_at": now, "records": len(subject.record_ids),
        "addresses": len(subject.email_keys), "entities": len(subject.entity_ids),
        "rows_deleted": sum(outcome.rows_per_table.values()),
        "rows_per_table": json.dumps(outcome.rows_per_table, sort_keys=True),
        "tombstones": outcome.tombstones,
        "esp_results": json.dumps(outcome.esp_results, sort_keys=True), "status": status,
    }], schema=LOG_SCHEMA)
    wh.write(ERASURE_LOG, log, mode="append")
    remembered = None
    if status == RETRY:
        remembered = cipher.encrypt(json.dumps({
            "emails": sorted(subject.emails), "email_keys": sorted(subject.email_keys),
            "record_ids": sorted(subject.record_ids), "entity_ids": sorted(subject.entity_ids)}),
            _context(outcome.request_id))
    wh.execute(f"update {REQUESTS} set status = ?, processed_at = ?, run_id = ?,"
               " subject_encrypted = ? where request_id = ?",
               [status, now, run_id, remembered, outcome.request_id])
    append_audit_entries(wh, [AuditEntry("subject erased", outcome.pseudonym, {
        "request_id": outcome.request_id, "status": status,
        "rows_deleted": sum(outcome.rows_per_table.values()),
        "tables": len(outcome.rows_per_table), "records": len(subject.record_ids),
        "esp": {name: {k: v for k, v in r.items() if k != "error"}
                for name, r in outcome.esp_results.items()},
    })], run_id=run_id)
    logger.info("erasure %s: %d rows deleted in %d tables, status %s", outcome.request_id,
                sum(outcome.rows_per_table.values()), len(outcome.rows_per_table), status)
