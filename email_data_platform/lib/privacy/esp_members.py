"""What erasure and retention do at each ESP, over the vendors' connectors.

Mailchimp: `delete-permanent` erases a member for good (Mailchimp then refuses to re-import the
address); archiving (its DELETE) keeps the member but stops all sends. SendGrid has no archive:
its marketing contact is deleted in both cases (its suppression lists are kept, so an address
that bounced or unsubscribed stays suppressed). Results are counts, never addresses; an ESP
error is reported by vendor and status only, since vendor messages can quote the address.
"""

import logging
from typing import Protocol

from email_data_platform.lib.connectors.http import VendorAPIError
from email_data_platform.lib.connectors.mailchimp import MailchimpClient
from email_data_platform.lib.connectors.sendgrid import SendGridClient
from email_data_platform.lib.privacy.subjects import subscriber_hash

logger = logging.getLogger(__name__)


class EspMembers(Protocol):
    name: str

    def erase(self, emails: set[str]) -> dict: ...

    def archive(self, emails: set[str]) -> dict: ...


class MailchimpMembers:
    name = "mailchimp"

    def __init__(self, client: MailchimpClient, list_id: str):
        self.client, self.list_id = client, list_id

    def _members(self, emails: set[str]) -> tuple[list[dict], int]:
        hashes = sorted({subscriber_hash(e) for e in emails})
        found = [m for m in (self.client.get_member(self.list_id, h) for h in hashes) if m]
        return found, len(hashes) - len(found)

    def erase(self, emails: set[str]) -> dict:
        found, absent = self._members(emails)
        for member in found:
            self.client.delete_member_permanently(self.list_id, member["id"])
        return {"deleted": len(found), "absent": absent}

    def archive(self, emails: set[str]) -> dict:
        found, absent = self._members(emails)
        active = [m for m in found if m.get("status") != "archived"]
        for member in active:
            self.client.archive_member(self.list_id, member["id"])
        return {"archived": len(active), "already_archived": len(found) - len(active),
                "absent": absent}


class SendGridMembers:
    name = "sendgrid"

    def __init__(self, client: SendGridClient):
        self.client = client

    def erase(self, emails: set[str]) -> dict:
        addresses = sorted({e.strip().lower() for e in emails})
        found = self.client.search_emails(addresses) if addresses else {}
        ids = sorted({c["id"] for c in found.values()})
        if ids:
            self.client.wait_for_job(self.client.delete_contacts(ids), timeout_s=120)
        return {"deleted": len(ids), "absent": len(addresses) - len(found)}

    archive = erase


def apply_at_esps(esps: list[EspMembers], emails: set[str], action: str) -> dict[str, dict]:
    """Run `erase` or `archive` at every ESP; one ESP failing does not stop the others."""
    results = {}
    for esp in esps:
        try:
            results[esp.name] = {"ok": True, **getattr(esp, action)(emails)}
        except VendorAPIError as error:
            results[esp.name] = {"ok": False, "error": f"{error.vendor} {error.method} failed "
                                                       f"with status {error.status}"}
            logger.warning("%s %s failed (status %s)", esp.name, action, error.status)
    return results
