"""The Mailchimp simulator's audience: members keyed by subscriber hash, with the vendor's rules.

Kept apart from the HTTP layer so batch-subscribe, single calls and batch operations all apply
the same rules, and so the account can be saved and restored across restarts (`state.py`).
Every change is reported to `on_change(event, member)` (the webhook sender listens there).
"""

import hashlib
import re
import threading
import time
from collections.abc import Callable

STATUSES = {"subscribed", "unsubscribed", "cleaned", "pending", "transactional"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")


def subscriber_hash(email: str) -> str:
    return hashlib.md5(email.strip().lower().encode()).hexdigest()


def now_text() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())


class MemberError(Exception):
    """A member write the vendor refuses; `code` is Mailchimp's error code."""

    def __init__(self, message: str, code: str = "ERROR_GENERIC", status: int = 400):
        super().__init__(message)
        self.message, self.code, self.status = message, code, status


class MemberStore:
    """One audience's members; every method takes the lock, so callers need not."""

    def __init__(self, list_id: str, on_change: Callable[[str, dict], None] = lambda e, m: None):
        self.list_id = list_id
        self.members: dict[str, dict] = {}
        self.erased: set[str] = set()
        self.lock = threading.RLock()
        self.on_change = on_change
        self.version = 0  # bumped on every write; the state saver watches it

    # -- persistence -----------------------------------------------------------------------
    def snapshot(self) -> dict:
        with self.lock:
            return {"members": list(self.members.values()), "erased": sorted(self.erased)}

    def restore(self, saved: dict | None) -> None:
        if not saved:
            return
        with self.lock:
            self.members = {m["id"]: m for m in saved.get("members") or []}
            self.erased = set(saved.get("erased") or [])

    def _changed(self, event: str, member: dict) -> None:
        self.version += 1
        self.on_change(event, member)

    # -- reads -----------------------------------------------------------------------------
    def get(self, member_hash: str) -> dict:
        """By subscriber hash, or (as Mailchimp also accepts) by the email address itself."""
        if "@" in member_hash:
            member_hash = subscriber_hash(member_hash)
        with self.lock:
            member = self.members.get(member_hash)
        if member is None:
            raise MemberError("The requested resource could not be found.", "ResourceNotFound",
                              404)
        return member

    def listed(self, status: str | None) -> list[dict]:
        with self.lock:
            return [m for m in self.members.values()
                    if (m["status"] == status if status else m["status"] != "archived")]

    def counts(self) -> dict[str, int]:
        by_status: dict[str, int] = {}
        with self.lock:
            for member in self.members.values():
                by_status[member["status"]] = by_status.get(member["status"], 0) + 1
        return by_status

    # -- writes ----------------------------------------------------------------------------
    def upsert(self, item: dict, update_existing: bool = True, sync_tags: bool = False) -> tuple[
            str, dict]:
        """One member write: ("created"|"updated", member); MemberError when refused."""
        email = str(item.get("email_address") or "")
        if not _EMAIL.match(email):
            raise MemberError(f"{email} looks fake or invalid, please enter a real email "
                              "address.", "ERROR_GENERIC")
        key = subscriber_hash(email)
        with self.lock:
            if key in self.erased:
                raise MemberError(f"{email} was permanently deleted and cannot be re-imported. "
                                  "The contact must re-subscribe to get back on the list.",
                                  "ERROR_GENERIC")
            status = item.get("status") or item.get("status_if_new")
            existing = self.members.get(key)
            if existing and existing["status"] != "archived" and not update_existing:
                raise MemberError(f"{email} is already a list member.", "ERROR_CONTACT_EXISTS")
            if existing is None and status not in STATUSES:
                raise MemberError(f"Invalid status {status!r} for {email}.", "ERROR_GENERIC")
            member = existing or {"id": key, "email_address": email, "unique_email_id": key[:10],
                                  "list_id": self.list_id, "email_type": "html",
                                  "timestamp_opt": now_text(), "merge_fields": {}, "tags": []}
            if item.get("status") in STATUSES or existing is None or member["status"] == "archived":
                member["status"] = status if status in STATUSES else "subscribed"
            member["merge_fields"] = {**member["merge_fields"], **(item.get("merge_fields") or {})}
            if "tags" in item:
                names = [str(t.get("name") if isinstance(t, dict) else t) for t in item["tags"]
                         or []]
                kept = [] if sync_tags or existing is None else self._tag_names(member)
                self._set_tags(member, kept + [n for n in names if n not in kept])
            member["last_changed"] = now_text()
            self.members[key] = member
            self._changed("upsert", member)
        return ("updated" if existing else "created"), member

    def update_tags(self, member_hash: str, tags: list[dict]) -> None:
        """The member-tags endpoint: each {name, status: active|inactive} adds or removes."""
        if not isinstance(tags, list) or not tags:
            raise MemberError("tags must be a non-empty list.", "InvalidResource")
        member = self.get(member_hash)
        with self.lock:
            names = self._tag_names(member)
            for tag in tags:
                name, status = str(tag.get("name") or ""), str(tag.get("status") or "")
                if not name or status not in ("active", "inactive"):
                    raise MemberError("each tag needs a name and status active|inactive.",
                                      "InvalidResource")
                if status == "active" and name not in names:
                    names.append(name)
                if status == "inactive" and name in names:
                    names.remove(name)
            self._set_tags(member, names)
            self._changed("tags", member)

    def set_status(self, member_hash: str, status: str, event: str) -> dict:
        member = self.get(member_hash)
        with self.lock:
            member["status"], member["last_changed"] = status, now_text()
            self._changed(event, member)
        return member

    def delete_permanently(self, member_hash: str) -> None:
        member = self.get(member_hash)
        with self.lock:
            self.members.pop(member["id"], None)
            self.erased.add(member["id"])
            self._changed("delete", member)

    @staticmethod
    def _tag_names(member: dict) -> list[str]:
        return [t["name"] for t in member.get("tags") or []]

    @staticmethod
    def _set_tags(member: dict, names: list[str]) -> None:
        member["tags"] = [{"id": i, "name": n} for i, n in enumerate(names)]
        member["tags_count"] = len(names)
