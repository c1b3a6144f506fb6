"""The SendGrid simulator's Marketing Contacts account: contacts, lists, custom field
definitions and import jobs, with the vendor's rules, saved across restarts (`state.py`).

Upserts are validated per contact: a bad one (invalid address, unknown custom field id, unknown
list) is counted in the job's `errored_count` and listed at its `errors_url`, the rest apply.
"""

import csv
import io
import re
import threading
import time
import uuid
from collections.abc import Callable

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
RESERVED_FIELDS = ("first_name", "last_name", "email", "alternate_emails", "address_line_1",
                   "address_line_2", "city", "state_province_region", "postal_code", "country",
                   "phone_number", "whatsapp", "line", "facebook", "unique_name")
FIELD_TYPES = {"Text": "T", "Number": "N", "Date": "D"}


def _stamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class ContactError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


class ContactStore:
    def __init__(self, on_change: Callable[[str, dict], None] = lambda e, c: None):
        self.contacts: dict[str, dict] = {}  # lowercased email -> contact
        self.lists: dict[str, dict] = {}
        self.fields: dict[str, dict] = {}  # id -> {id, name, field_type}
        self.jobs: dict[str, dict] = {}
        self.job_errors: dict[str, list[tuple[str, str]]] = {}
        self.lock = threading.RLock()
        self.on_change = on_change

    def snapshot(self) -> dict:
        with self.lock:
            return {"contacts": list(self.contacts.values()), "lists": list(self.lists.values()),
                    "fields": list(self.fields.values())}

    def restore(self, saved: dict | None) -> None:
        if not saved:
            return
        with self.lock:
            self.contacts = {c["email"]: c for c in saved.get("contacts") or []}
            self.lists = {x["id"]: x for x in saved.get("lists") or []}
            self.fields = {f["id"]: f for f in saved.get("fields") or []}

    # -- lists and fields --------------------------------------------------------------------
    def create_list(self, name: str) -> dict:
        if not name or any(x["name"] == name for x in self.lists.values()):
            raise ContactError(400, f"list name {name!r} is empty or already in use")
        with self.lock:
            created = {"id": str(uuid.uuid4()), "name": name, "contact_count": 0}
            self.lists[created["id"]] = created
            self.on_change("list", created)
        return self.list_body(created["id"])

    def list_body(self, list_id: str) -> dict:
        with self.lock:
            found = self.lists.get(list_id)
            if found is None:
                raise ContactError(404, "list not found")
            count = sum(list_id in c.get("list_ids", []) for c in self.contacts.values())
        return {**found, "contact_count": count}

    def create_field(self, name: str, field_type: str) -> dict:
        if field_type not in FIELD_TYPES or not name or name in RESERVED_FIELDS:
            raise ContactError(400, f"field {name!r} of type {field_type!r} is not allowed")
        with self.lock:
            if any(f["name"] == name for f in self.fields.values()):
                raise ContactError(400, f"field {name!r} already exists")
            field = {"id": f"e{len(self.fields) + 1}_{FIELD_TYPES[field_type]}", "name": name,
                     "field_type": field_type}
            self.fields[field["id"]] = field
            self.on_change("field", field)
        return field

    # -- contacts ----------------------------------------------------------------------------
    def upsert(self, contacts: list[dict], list_ids: list[str], transient: list[bool]) -> str:
        """Apply the valid contacts; return the import job's id (errors listed per contact)."""
        created = updated = 0
        errors: list[tuple[str, str]] = []
        with self.lock:
            unknown_lists = [x for x in list_ids if x not in self.lists]
            for item, temporary in zip(contacts, transient, strict=True):
                email = str(item.get("email") or "").strip().lower()
                problem = self._problem(item, email, unknown_lists, temporary)
                if problem:
                    errors.append((email, problem))
                    continue
                existing = self.contacts.get(email)
                contact = existing or {"id": str(uuid.uuid4()), "email": email,
                                       "created_at": _stamp(), "list_ids": [],
                                       "custom_fields": {}}
                contact.update({k: v for k, v in item.items()
                                if k in RESERVED_FIELDS and k != "email"})
                contact["custom_fields"] = {**contact["custom_fields"],
                                            **(item.get("custom_fields") or {})}
                contact["list_ids"] = sorted(set(contact["list_ids"]) | set(list_ids))
                contact["updated_at"] = _stamp()
                self.contacts[email] = contact
                created, updated = created + (existing is None), updated + (existing is not None)
            if created or updated:
                self.on_change("upsert", {})
            return self._job("upsert", len(contacts), errors, created_count=created,
                             updated_count=updated, deleted_count=0)

    def _problem(self, item: dict, email: str, unknown_lists: list[str], temporary: bool):
        if temporary:
            return "temporary failure, please retry (injected)"
        if not _EMAIL.match(email):
            return "email is invalid"
        if unknown_lists:
            return f"list_ids {unknown_lists} do not exist"
        unknown = [k for k in (item.get("custom_fields") or {}) if k not in self.fields]
        if unknown:
            return f"custom field ids {unknown} do not exist"
        return None

    def remove_from_list(self, list_id: str, contact_ids: set[str]) -> str:
        with self.lock:
            if list_id not in self.lists:
                raise ContactError(404, "list not found")
            removed = 0
            for contact in self.contacts.values():
                if contact["id"] in contact_ids and list_id in contact["list_ids"]:
                    contact["list_ids"].remove(list_id)
                    removed += 1
                    self.on_change("list_removal", contact)
            return self._job("list_removal", len(contact_ids), [], removed_count=removed)

    def delete(self, contact_ids: set[str]) -> str:
        with self.lock:
            gone = [k for k, c in self.contacts.items() if c["id"] in contact_ids]
            for key in gone:
                self.on_change("delete", self.contacts.pop(key))
            return self._job("delete", len(contact_ids), [], deleted_count=len(gone))

    def _job(self, job_type: str, requested: int, errors: list, **counts) -> str:
        job_id = str(uuid.uuid4())
        now = _stamp()
        results = {"requested_count": requested, **counts, "errored_count": len(errors)}
        if errors:
            results["errors_url"] = f"/_results/{job_id}.csv"  # made absolute by the app
            self.job_errors[job_id] = errors
        self.jobs[job_id] = {"id": job_id, "status": "completed", "job_type": job_type,
                             "results": results, "started_at": now, "finished_at": now}
        return job_id

    def errors_csv(self, job_id: str) -> str | None:
        errors = self.job_errors.get(job_id)
        if errors is None:
            return None
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["email", "errors"])
        writer.writerows(errors)
        return out.getvalue()
