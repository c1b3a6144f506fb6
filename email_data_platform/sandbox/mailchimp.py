"""Mailchimp Marketing v3 simulator: one audience (list), its members, and campaign reports.

The audience starts empty (the platform pushes members); campaign reports replay the generator's
engagement history. Contract points kept: HTTP basic auth (any user, API key as password),
`offset`/`count` paging (count <= 1000), subscriber hash = md5 of the lowercased email, batch
subscribe of <= 500 members answering 200 with per-member errors, DELETE archives while
`actions/delete-permanent` erases for good (and refuses re-import), 10 simultaneous connections
per key, 429 beyond.
"""

import base64
import hashlib
import re
import threading
import time

import polars as pl
from starlette.requests import Request

from email_data_platform.sandbox.faults import FaultInjector
from email_data_platform.sandbox.mailchimp_reports import EngagementReports
from email_data_platform.sandbox.vendor import (
    Credential,
    Journal,
    Reply,
    VendorApp,
    VendorError,
    VendorSpec,
)

BATCH_LIMIT = 500
PAGE_LIMIT = 1000
STATUSES = {"subscribed", "unsubscribed", "cleaned", "pending", "transactional"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")


def subscriber_hash(email: str) -> str:
    return hashlib.md5(email.strip().lower().encode()).hexdigest()


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())


def _error_body(status: int, code: str, message: str) -> dict:
    titles = {400: "Invalid Resource", 401: "API Key Invalid", 404: "Resource Not Found",
              429: "Too Many Requests"}
    return {"type": "https://mailchimp.com/developer/marketing/docs/errors/",
            "title": titles.get(status, "Internal Server Error"), "status": status,
            "detail": message, "instance": "sandbox"}


def page_params(request: Request) -> tuple[int, int]:
    try:
        offset = int(request.query_params.get("offset", "0"))
        count = int(request.query_params.get("count", "10"))
    except ValueError:
        raise VendorError(400, "INVALID", "offset and count must be integers.") from None
    if not 1 <= count <= PAGE_LIMIT or offset < 0:
        raise VendorError(400, "INVALID", f"count must be 1..{PAGE_LIMIT}, offset >= 0.")
    return offset, count


class MailchimpSimulator:
    """Holds the audience's members in memory; engagement reports come from a polars frame."""

    def __init__(self, engagement: pl.DataFrame, journal: Journal, faults: FaultInjector):
        self.list_id = hashlib.md5(b"edp-sandbox-audience").hexdigest()[:10]
        self.api_key = Credential("sandbox")
        self.members: dict[str, dict] = {}
        self.erased: set[str] = set()
        self._lock = threading.Lock()
        self.reports = EngagementReports(engagement, self.list_id)
        spec = VendorSpec("mailchimp", self._authenticate, _error_body, max_concurrency=10,
                          throttle_code="TooManyRequests")
        self.app = VendorApp(spec, journal, faults)
        self._routes()

    def info(self, base_url: str) -> dict:
        return {"base_url": f"{base_url}/3.0", "api_key": f"{self.api_key.value}-us1",
                "list_id": self.list_id}

    def _authenticate(self, request: Request) -> bool:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            _, _, key = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            return False
        return self.api_key.matches(key.removesuffix("-us1"))

    def _routes(self) -> None:
        lists = "/3.0/lists/{list_id}"
        member = lists + "/members/{subscriber_hash}"
        self.app.route(lists, self.batch_subscribe, ["POST"])
        self.app.route(lists + "/members", self.list_members, ["GET"])
        self.app.route(member, self.get_member, ["GET"])
        self.app.route(member, self.put_member, ["PUT"])
        self.app.route(member, self.archive_member, ["DELETE"])
        self.app.route(member + "/actions/delete-permanent", self.delete_permanent, ["POST"])
        self.app.route(lists + "/abuse-reports", self.abuse_reports, ["GET"])
        self.app.route("/3.0/campaigns", self.campaigns, ["GET"])
        self.app.route("/3.0/reports/{campaign_id}/email-activity", self.email_activity, ["GET"])
        self.app.route("/3.0/reports/{campaign_id}/unsubscribed", self.unsubscribed, ["GET"])
        self.app.route("/3.0/reports/{campaign_id}/sent-to", self.sent_to, ["GET"])
        self.app.add_admin(self.stats, self.rotate)

    def rotate(self) -> dict:
        return {"api_key": f"{self.api_key.rotate()}-us1"}

    def stats(self) -> dict:
        with self._lock:
            members = list(self.members.values())
        by_status: dict[str, int] = {}
        for m in members:
            by_status[m["status"]] = by_status.get(m["status"], 0) + 1
        return {"list_id": self.list_id, "members": len(members), "by_status": by_status,
                "erased": len(self.erased), **self.reports.stats()}

    def _check_list(self, request: Request) -> None:
        if request.path_params["list_id"] != self.list_id:
            raise VendorError(404, "ResourceNotFound", "The requested resource could not be found.")

    def _upsert(self, item: dict, update_existing: bool) -> tuple[str, dict | str]:
        """One member write: ("created"|"updated", member) or ("error", message)."""
        email = str(item.get("email_address") or "")
        if not _EMAIL.match(email):
            return "error", f"{email} looks fake or invalid, please enter a real email address."
        key = subscriber_hash(email)
        if key in self.erased:
            return "error", (f"{email} was permanently deleted and cannot be re-imported. "
                             "The contact must re-subscribe to get back on the list.")
        status = item.get("status") or item.get("status_if_new")
        existing = self.members.get(key)
        if existing and existing["status"] != "archived" and not update_existing:
            return "error", f"{email} is already a list member."
        if existing is None and status not in STATUSES:
            return "error", f"Invalid status {status!r} for {email}."
        member = existing or {"id": key, "email_address": email, "unique_email_id": key[:10],
                              "list_id": self.list_id, "email_type": "html",
                              "timestamp_opt": _now(), "merge_fields": {}, "tags": []}
        if item.get("status") in STATUSES or existing is None or member["status"] == "archived":
            member["status"] = status if status in STATUSES else "subscribed"
        member["merge_fields"] = {**member["merge_fields"], **(item.get("merge_fields") or {})}
        if "tags" in item:
            member["tags"] = [{"id": i, "name": str(t)} for i, t in enumerate(item["tags"] or [])]
        member["tags_count"] = len(member["tags"])
        member["last_changed"] = _now()
        self.members[key] = member
        return ("updated" if existing else "created"), member

    async def batch_subscribe(self, request: Request) -> Reply:
        self._check_list(request)
        body = await request.json()
        items = body.get("members")
        if not isinstance(items, list) or len(items) > BATCH_LIMIT:
            raise VendorError(400, "InvalidResource",
                              f"members must be a list of at most {BATCH_LIMIT} members.")
        created, updated, errors = [], [], []
        with self._lock:
            for item in items:
                outcome, result = self._upsert(item, bool(body.get("update_existing")))
                if outcome == "error":
                    errors.append({"email_address": item.get("email_address"), "error": result,
                                   "error_code": "ERROR_GENERIC" if "already" not in result
                                   else "ERROR_CONTACT_EXISTS", "field": "", "field_message": ""})
                else:
                    (created if outcome == "created" else updated).append(dict(result))
        body = {"new_members": created, "updated_members": updated, "errors": errors,
                "total_created": len(created), "total_updated": len(updated),
                "error_count": len(errors), "_links": []}
        return Reply(body, written=len(created) + len(updated))

    async def list_members(self, request: Request) -> Reply:
        self._check_list(request)
        offset, count = page_params(request)
        wanted = request.query_params.get("status")
        with self._lock:
            members = [m for m in self.members.values()
                       if (m["status"] == wanted if wanted else m["status"] != "archived")]
        page = members[offset: offset + count]
        return Reply({"members": page, "list_id": self.list_id, "total_items": len(members)},
                     returned=len(page))

    def _member(self, request: Request) -> dict:
        self._check_list(request)
        with self._lock:
            member = self.members.get(request.path_params["subscriber_hash"])
        if member is None:
            raise VendorError(404, "ResourceNotFound", "The requested resource could not be found.")
        return member

    async def get_member(self, request: Request) -> Reply:
        return Reply(self._member(request), returned=1)

    async def put_member(self, request: Request) -> Reply:
        self._check_list(request)
        item = await request.json()
        if subscriber_hash(str(item.get("email_address") or "")) != request.path_params[
                "subscriber_hash"]:
            raise VendorError(400, "InvalidResource",
                              "The subscriber hash does not match the email address.")
        with self._lock:
            outcome, result = self._upsert(item, update_existing=True)
        if outcome == "error":
            raise VendorError(400, "InvalidResource", str(result))
        return Reply(result, written=1)

    async def archive_member(self, request: Request) -> Reply:
        member = self._member(request)
        with self._lock:
            member["status"], member["last_changed"] = "archived", _now()
        return Reply(None, status=204, written=1)

    async def delete_permanent(self, request: Request) -> Reply:
        member = self._member(request)
        with self._lock:
            self.members.pop(member["id"], None)
            self.erased.add(member["id"])
        return Reply(None, status=204, written=1)

    async def campaigns(self, request: Request) -> Reply:
        offset, count = page_params(request)
        body = self.reports.campaigns(offset, count, request.query_params.get("since_send_time"))
        return Reply(body, returned=len(body["campaigns"]))

    async def email_activity(self, request: Request) -> Reply:
        offset, count = page_params(request)
        body = self.reports.email_activity(request.path_params["campaign_id"], offset, count,
                                           request.query_params.get("since"))
        return Reply(body, returned=len(body["emails"]))

    async def sent_to(self, request: Request) -> Reply:
        offset, count = page_params(request)
        body = self.reports.sent_to(request.path_params["campaign_id"], offset, count)
        return Reply(body, returned=len(body["sent_to"]))

    async def unsubscribed(self, request: Request) -> Reply:
        offset, count = page_params(request)
        body = self.reports.unsubscribed(request.path_params["campaign_id"], offset, count)
        return Reply(body, returned=len(body["unsubscribes"]))

    async def abuse_reports(self, request: Request) -> Reply:
        self._check_list(request)
        offset, count = page_params(request)
        body = self.reports.abuse_reports(offset, count)
        return Reply(body, returned=len(body["abuse_reports"]))
