"""The two ESPs as sync targets: each turns payload rows into the vendor's fewest write requests
and answers which members it refused, transiently or for good.

- Mailchimp: upserts by batch subscribe (500 per request, tags added); tags a member left are
  removed through the member-tags endpoint, and people who leave are archived or unsubscribed,
  both as batch operations (500 per request, polled to completion) rather than one call each.
  Only the tags we set and the member left are removed, so a marketer's own tags stay.
- SendGrid: upserts by `PUT /v3/marketing/contacts` (30,000 or 6 MB per request) onto the
  destination's list, custom fields by id (created on first use); the import job is polled to
  completion and its per-contact errors become receipts. People who leave are taken off the
  list (or deleted), found by address in batches of 100.

Every target counts its write requests and job polls (`requests`), for metadata and benchmarks.
"""

import json
import logging
from collections import Counter

from email_data_platform.lib.activation.destinations import SENDGRID_RESERVED, Destination
from email_data_platform.lib.activation.payload import member_from_payload_row
from email_data_platform.lib.activation.sync import MemberFailure
from email_data_platform.lib.connectors.mailchimp import BATCH_LIMIT, OPERATIONS_LIMIT
from email_data_platform.lib.connectors.sendgrid import IDS_PER_CALL, MAX_BYTES, MAX_CONTACTS

logger = logging.getLogger(__name__)

# Mailchimp error codes that re-sending cannot fix; anything else is retried.
_MAILCHIMP_TRANSIENT = ("ERROR_TEMPORARY", "TooManyRequests", "INTERNAL")
_SENDGRID_TRANSIENT = ("temporary", "try again", "retry", "timeout")


def _mailchimp_failure(code: str, message: str) -> MemberFailure:
    transient = any(t.lower() in f"{code} {message}".lower() for t in _MAILCHIMP_TRANSIENT)
    return MemberFailure(f"{code}: {message}".strip(), permanent=not transient)


class MailchimpTarget:
    """One Mailchimp audience."""

    def __init__(self, client, list_id: str, destination: Destination):
        self.client, self.list_id, self.destination = client, list_id, destination
        self.batch_size, self.removal_batch_size = BATCH_LIMIT, OPERATIONS_LIMIT
        self.requests: Counter = Counter()
        self.state_key = list_id

    def present_members(self, expected: int) -> list[str] | None:
        """The members Mailchimp holds, or None when its count equals `expected` (our active
        members): one request instead of one per 1,000 members on a run where nothing was lost.
        A count that differs (a member lost, or a marketer's own) lists them all."""
        if self.client.member_total(self.list_id) == expected:
            return None
        return [m["id"] for m in self.client.iter_members(self.list_id)]

    def upsert(self, rows: list[dict]) -> dict[str, MemberFailure]:
        answer = self.client.batch_upsert_members(
            self.list_id, [member_from_payload_row(r) for r in rows])
        self.requests["writes"] += 1
        by_email = {r["email"]: r["subscriber_hash"] for r in rows}
        failures = {by_email[e["email_address"]]: _mailchimp_failure(
            str(e.get("error_code") or "ERROR"), str(e.get("error") or ""))
            for e in answer.get("errors") or [] if e.get("email_address") in by_email}
        untag = [r for r in rows if r["subscriber_hash"] not in failures and _left_tags(r)]
        if untag:
            operations = [{"method": "POST", "operation_id": r["subscriber_hash"],
                           "path": f"/lists/{self.list_id}/members/{r['subscriber_hash']}/tags",
                           "body": json.dumps({"tags": [{"name": t, "status": "inactive"}
                                                        for t in _left_tags(r)]})}
                          for r in untag]
            failures |= self._operations(operations)
        return failures

    def remove(self, rows: list[dict]) -> dict[str, MemberFailure]:
        archive = self.destination.on_leave == "archive"
        operations = [{"method": "DELETE" if archive else "PATCH",
                       "path": f"/lists/{self.list_id}/members/{r['subscriber_hash']}",
                       "operation_id": r["subscriber_hash"],
                       "body": "" if archive else json.dumps({"status": "unsubscribed"})}
                      for r in rows]
        return self._operations(operations)

    def _operations(self, operations: list[dict]) -> dict[str, MemberFailure]:
        results, polls = self.client.run_batch_operations(operations)
        self.requests["writes"] += 1
        self.requests["polls"] += polls
        failures = {}
        for result in results:
            status = result["status_code"]
            if status < 300 or status == 404:  # a member already gone is removed
                continue
            body = result.get("response") or {}
            failures[result["operation_id"]] = MemberFailure(
                f"{status}: {body.get('detail') or body.get('title') or ''}".strip(),
                permanent=400 <= status < 500 and status != 429)
        return failures


def _left_tags(row: dict) -> list[str]:
    return sorted(set(row.get("previous_tags") or []) - set(row.get("tags") or []))


class SendGridTarget:
    """One SendGrid Marketing Contacts list."""

    def __init__(self, client, destination: Destination):
        self.client, self.destination = client, destination
        self.batch_size, self.removal_batch_size = MAX_CONTACTS, 1000
        self.requests: Counter = Counter()
        self.state_key = f"sendgrid:{destination.list_name}"
        self._list_id: str | None = None
        self._field_ids: dict[str, str] = {}

    def prepare(self) -> None:
        """Find (or create) the list and the custom fields the mapping needs."""
        found = [x for x in self.client.lists() if x["name"] == self.destination.list_name]
        if found:
            self._list_id = found[0]["id"]
        else:
            self._list_id = self.client.create_list(self.destination.list_name)["id"]
            self.requests["writes"] += 1
        existing = {f["name"]: f["id"] for f in self.client.field_definitions()}
        for ours, name in self.destination.fields.items():
            if name in SENDGRID_RESERVED:
                continue
            if name not in existing:
                field_type = "Number" if ours in ("lifetime_value", "average_order_value") \
                    else "Text"
                existing[name] = self.client.create_field(name, field_type)["id"]
                self.requests["writes"] += 1
            self._field_ids[name] = existing[name]

    def list_is_empty(self) -> bool:
        """The list holds nobody (reset or deleted at SendGrid): state must not be trusted."""
        return self.client.list_contact_count(self._list_id) == 0

    def upsert(self, rows: list[dict]) -> dict[str, MemberFailure]:
        failures: dict[str, MemberFailure] = {}
        for chunk in _by_size([self._contact(r) for r in rows]):
            job = self.client.wait_for_job(
                self.client.upsert_contacts(chunk, list_ids=[self._list_id]), poll_s=0.05)
            self.requests["writes"] += 1
            self.requests["polls"] += job.get("_polls", 1)
            failures |= self._job_failures(job, rows)
        return failures

    def _contact(self, row: dict) -> dict:
        fields = json.loads(row["merge_fields"])
        contact = {"email": row["email"]}
        contact.update({k: v for k, v in fields.items() if k in SENDGRID_RESERVED})
        custom = {self._field_ids[k]: v for k, v in fields.items() if k not in SENDGRID_RESERVED}
        return {**contact, **({"custom_fields": custom} if custom else {})}

    def _job_failures(self, job: dict, rows: list[dict]) -> dict[str, MemberFailure]:
        by_email = {r["email"]: r["subscriber_hash"] for r in rows}
        if job.get("status") != "completed":  # the whole import failed: retry everyone
            return {h: MemberFailure(f"import job {job.get('status')}") for h in by_email.values()}
        failures = {}
        for error in self.client.job_errors(job):
            member = by_email.get(error["email"].strip().lower())
            if member:
                transient = any(t in error["error"].lower() for t in _SENDGRID_TRANSIENT)
                failures[member] = MemberFailure(error["error"], permanent=not transient)
        return failures

    def remove(self, rows: list[dict]) -> dict[str, MemberFailure]:
        """Rows need `email` (looked up by the stage); people SendGrid does not hold are done."""
        emails = [r["email"] for r in rows if r.get("email")]
        ids = []
        for offset in range(0, len(emails), 100):
            found = self.client.search_emails(emails[offset: offset + 100])
            ids += [contact["id"] for contact in found.values()]
        for offset in range(0, len(ids), IDS_PER_CALL):
            chunk = ids[offset: offset + IDS_PER_CALL]
            if self.destination.on_leave == "delete":
                self.client.delete_contacts(chunk)
            else:
                self.client.remove_from_list(self._list_id, chunk)
            self.requests["writes"] += 1
        # No address left in the warehouse (erased: privacy deleted them at every ESP already;
        # or gone from every source): recorded as refused, so an operator can see who.
        return {r["subscriber_hash"]: MemberFailure(
            "no address left in the warehouse to find the contact by", permanent=True)
            for r in rows if not r.get("email")}


def _by_size(contacts: list[dict]) -> list[list[dict]]:
    """Split so that no request exceeds SendGrid's 6 MB (with room for the envelope)."""
    chunks, current, size = [], [], 0
    for contact in contacts:
        length = len(json.dumps(contact)) + 2
        if current and size + length > MAX_BYTES - 64 * 1024:
            chunks.append(current)
            current, size = [], 0
        current.append(contact)
        size += length
    return chunks + ([current] if current else [])
