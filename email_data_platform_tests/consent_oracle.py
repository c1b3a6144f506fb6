"""An oracle for "may this address be mailed?", judged from raw source rows alone.

Deliberately written apart from the platform's code (plain Python over raw dicts, its own
address folding), so a test that compares the two catches a bug in either. The rules are the
issue's, read literally:
- an address may be mailed only with a grant of email_marketing for that very address: the
  event carries the address, or carries none and its record holds the address;
- a grant counts only with clean metadata (known channel, a policy version, a parseable past
  time); a status word that is not a grant word is a withdrawal, whatever else is wrong;
- the latest relevant event must not be a withdrawal, for the address itself and for every
  record holding the address (a withdrawal with no readable time counts from when it was
  received); the platform is stricter (any record of the person), so pushed addresses must be
  a subset of what this oracle allows;
- an ESP unsubscribe, complaint or bounce withdraws the address it happened to;
- a CRM record whose opt-out flag is set (HubSpot hs_email_optout, Salesforce
  HasOptedOutOfEmail, landed as email_opt_out) withdraws that record and the address it holds,
  as of the record's last update (or its extraction when that cannot be read);
- a CRM subscription status (HubSpot's per-type statuses) for a type the taxonomy maps to
  email_marketing withdraws its address unless it says SUBSCRIBED or NOT_SPECIFIED; SUBSCRIBED
  never grants (a CRM flag is no proof of consent).
"""

from datetime import UTC, datetime

from email_data_platform.lib.privacy.taxonomy import load_taxonomy

LATEST = datetime.max.replace(tzinfo=UTC)
ESP_STOPS = {"unsubscribe", "complaint", "bounce"}
FLAG_SET = {"true", "1", "yes", "y", "opted_out"}


def fold(email: str | None) -> str | None:
    """Lower-cased, trimmed, plus-tag removed, Gmail dots removed: one key per mailbox."""
    if not email or email.count("@") != 1:
        return None
    local, domain = email.strip().lower().split("@")
    domain = "gmail.com" if domain == "googlemail.com" else domain
    local = local.split("+", 1)[0] or local
    if domain == "gmail.com":
        local = local.replace(".", "")
    return f"{local}@{domain}" if local and "." in domain else None


def _time(text) -> datetime | None:
    if isinstance(text, datetime):
        return text if text.tzinfo else text.replace(tzinfo=UTC)
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")).astimezone(UTC)
    except (TypeError, ValueError):
        return None


def _events(contacts, consent_rows, esp_rows, now, subscription_rows=()):
    """(record, key, is_grant, valid_grant, time) per raw row that speaks to email marketing."""
    taxonomy = load_taxonomy()
    grant_words = set(taxonomy.grant_words)
    for row in consent_rows:
        word = str(row.get("status") or "").strip().lower()
        purpose = str(row.get("purpose") or "").strip().lower()
        if purpose != "email_marketing" and purpose in taxonomy.decision_subjects:
            continue  # another purpose: neither grants nor withdraws marketing email
        at = _time(row.get("occurred_at"))
        grant = word in grant_words
        valid = (grant and purpose == "email_marketing" and at is not None and at <= now
                 and str(row.get("channel") or "").strip().lower() in taxonomy.channels
                 and bool(row.get("policy_version")))
        if grant and not valid:
            continue  # a grant that cannot be proven is no grant
        received = _time(row.get("recorded_at")) or _time(row.get("extracted_at")) or LATEST
        yield row.get("contact_record_id"), fold(row.get("email")), grant, at or received
    for row in contacts:
        if str(row.get("email_opt_out") or "").strip().lower() in FLAG_SET:
            at = _time(row.get("updated_at")) or _time(row.get("extracted_at")) or LATEST
            yield row["record_id"], fold(row.get("email")), False, at
    for row in esp_rows:
        if str(row.get("event_type") or "").lower() in ESP_STOPS:
            yield None, fold(row.get("email")), False, _time(row.get("occurred_at")) or LATEST
    marketing = {name for name, subject in taxonomy.subscription_types.items()
                 if subject == "email_marketing"}
    for row in subscription_rows:
        name = str(row.get("subscription_name") or "").strip().lower()
        status = str(row.get("status") or "").strip().upper()
        if name in marketing and status not in {"SUBSCRIBED", "NOT_SPECIFIED"}:
            at = _time(row.get("occurred_at")) or _time(row.get("extracted_at")) or LATEST
            yield None, fold(row.get("email")), False, at


def mailable_addresses(contacts, consent_rows, esp_rows, now=None,
                       subscription_rows=()) -> set[str]:
    """Every folded address the raw data allows us to email."""
    now = now or datetime.now(UTC)
    holds = {}  # record -> folded address, latest version of each record
    for row in sorted(contacts, key=lambda r: str(r.get("updated_at") or "")):
        holds[row["record_id"]] = fold(row.get("email"))
    events = list(_events(contacts, consent_rows, esp_rows, now, subscription_rows))
    by_address: dict[str, list] = {}
    by_record: dict[str, list] = {}
    for record, key, grant, at in events:
        held = holds.get(record)
        if key is not None:
            by_address.setdefault(key, []).append((at, grant))
        if held is not None and (key is None or not grant):
            by_address.setdefault(held, []).append((at, grant))
        if record is not None:
            by_record.setdefault(record, []).append((at, grant))
        if key is not None:  # lenient for grants by address: this oracle knows no persons
            for other, other_key in holds.items():
                if other_key == key:
                    by_record.setdefault(other, []).append((at, grant))

    def latest_is_grant(history) -> bool:
        # latest first; at the same instant a withdrawal wins
        return max(history, key=lambda e: (e[0], not e[1]))[1]

    allowed = set()
    for key, history in by_address.items():
        holders = [r for r, held in holds.items() if held == key]
        if latest_is_grant(history) and all(
                latest_is_grant(by_record[r]) for r in holders if r in by_record):
            allowed.add(key)
    return allowed
