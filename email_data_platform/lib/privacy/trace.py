"""Why was this address emailed, or not? The answer an auditor asks for, from the warehouse.

`trace_address` follows one address through every stage: the source records that hold it, the
person (entity) they resolved to, the consent events and decisions for the address and the
person (channel, time, proof), suppression, the audience row and the event that proved it, the
segments, the payload fields sent and the ESP receipts. Rows carry the run id that wrote them
where the table keeps one; `runs` adds the Dagster run that last built each table.
"""

import hashlib
from typing import Any

import polars as pl

from email_data_platform.lib.profiles.emails import normalise_emails


def email_key_of(email: str) -> tuple[str, str | None]:
    """(normalised address, matching key) the way the profiles stage derives them."""
    row = normalise_emails(pl.DataFrame({"email": [email.strip()]})).row(0, named=True)
    return row["email"], row["email_key"] if row["email_valid"] else None


def _reader(warehouse):
    def read(table: str, where: str, params: list) -> list[dict]:
        if not warehouse.exists(table):
            return []
        return warehouse.query(f"select * from {table} where {where}", params).to_dicts()
    return read


def trace_address(warehouse, email: str) -> dict[str, Any]:
    """Everything that decided whether `email` was emailed; `verdict` sums it up."""
    address, key = email_key_of(email)
    if key is None:
        raise ValueError(f"{email!r} is not a valid email address")
    read = _reader(warehouse)
    records = read("profiles.clean_profiles", "email_key = ? order by record_id", [key])
    record_ids = [r["record_id"] for r in records]
    entities = read("identity.entities", "list_contains(?, record_id)", [record_ids])
    entity_ids = sorted({e["entity_id"] for e in entities})
    member_hash = hashlib.md5(address.encode()).hexdigest()
    trace = {
        "email": address, "email_key": key,
        "source_records": [{k: r.get(k) for k in ("record_id", "source", "updated_at",
                                                   "extracted_at")} for r in records],
        "entities": entities,
        "consent_events": read(
            "privacy.consent_events",
            "email_key = ? or list_contains(?, record_id) order by occurred_at, event_id",
            [key, record_ids]),
        "address_consent": read("privacy.address_consent", "email_key = ? order by purpose",
                                [key]),
        "person_consent": read("privacy.consent_ledger",
                               "list_contains(?, entity_id) order by entity_id, purpose",
                               [entity_ids]),
        "features": read("audiences.customer_features", "list_contains(?, entity_id)",
                         [entity_ids]),
        "audience": read("audiences.marketable_audience", "email = ?", [address]),
        "segments": read("audiences.segments", "list_contains(?, entity_id) order by segment",
                         [entity_ids]),
        "payload": read("activation.esp_payload", "email = ?", [address]),
        "receipts": read("activation.sync_receipts", "subscriber_hash = ? order by synced_at",
                         [member_hash]),
    }
    trace["verdict"] = verdict(trace)
    return trace


def verdict(trace: dict[str, Any]) -> str:
    """One sentence: emailed (with the proving event) or the first rule that stopped it."""
    if trace["audience"]:
        row = trace["audience"][0]
        sent = any(r.get("status") == "ok" for r in trace["receipts"])
        pushed = "pushed to the ESP" if sent else "in the audience, not yet pushed"
        return f"{pushed}; consent proven by event {row['consent_event_id']}"
    if not trace["source_records"]:
        return "not emailed: no source record holds this address"
    marketing = [d for d in trace["address_consent"] if d["purpose"] == "email_marketing"]
    if not marketing:
        return "not emailed: this address has no email_marketing consent event of its own"
    if marketing[0]["status"] != "granted":
        return f"not emailed: the address withdrew (event {marketing[0]['event_id']})"
    person = [d for d in trace["person_consent"] if d["purpose"] == "email_marketing"]
    withdrawn = [d for d in person if d["status"] != "granted"]
    if withdrawn:
        return f"not emailed: the person withdrew (event {withdrawn[0]['event_id']})"
    if any(f.get("suppressed") for f in trace["features"]):
        return "not emailed: suppressed at the ESP (bounce, complaint or unsubscribe)"
    return ("not emailed: another address of this person was chosen, or the inbox is shared "
            "with someone who may not be emailed")


def explain_activation(warehouse, entity_id: str) -> dict[str, Any]:
    """The trace of a person (entity), keyed by the address they were or would be emailed at."""
    read = _reader(warehouse)
    chosen = read("audiences.marketable_audience", "entity_id = ?", [entity_id])
    golden = read("identity.golden_profiles", "entity_id = ?", [entity_id])
    email = (chosen or golden or [{}])[0].get("email")
    if not email:
        raise LookupError(f"entity {entity_id!r} has no address to trace")
    return trace_address(warehouse, email)
