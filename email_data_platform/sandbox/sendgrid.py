"""SendGrid v3 simulator: Marketing Contacts (writes, async jobs) and suppression lists.

Contract points kept: Bearer API key (401 `{"errors": [...]}`); `PUT /v3/marketing/contacts`
takes up to 30,000 contacts or 6 MB and answers 202 with a `job_id`, whose status is read at
`GET /v3/marketing/contacts/imports/{id}`; `POST /v3/marketing/contacts/search/emails`;
`DELETE /v3/marketing/contacts?ids=`; suppression lists (`/v3/suppression/bounces`,
`/spam_reports`, `/unsubscribes`) paged by `limit` (<= 500) and `offset`, filtered by
`start_time`/`end_time` (Unix seconds). Every answer carries `X-RateLimit-Limit/Remaining/Reset`;
over the limit SendGrid answers 429 with the reset time, not `Retry-After`. Suppressions come
from an optional `sendgrid_engagement` file (generator engagement shape).
"""

import threading
import time
import uuid

import polars as pl
from starlette.requests import Request

from email_data_platform.sandbox.faults import FaultInjector
from email_data_platform.sandbox.vendor import (
    Credential,
    Journal,
    Reply,
    VendorApp,
    VendorError,
    VendorSpec,
)

MAX_CONTACTS, MAX_BYTES, PAGE_LIMIT = 30_000, 6 * 1024 * 1024, 500
SUPPRESSIONS = {"bounces": "bounce", "spam_reports": "complaint", "unsubscribes": "unsubscribe"}


def _error_body(status: int, code: str, message: str) -> dict:
    return {"errors": [{"field": None, "message": message}]}


def _rate_headers(limit: int, remaining: int) -> dict:
    return {"X-RateLimit-Limit": str(limit or 600), "X-RateLimit-Remaining": str(
        remaining if limit else 599), "X-RateLimit-Reset": str(int(time.time()) + 1)}


def suppressions_frame(engagement: pl.DataFrame | None) -> pl.DataFrame:
    if engagement is None or engagement.is_empty():
        return pl.DataFrame(schema={"email": pl.Utf8, "event_type": pl.Utf8, "created": pl.Int64})
    stamp = pl.col("occurred_at").str.to_datetime(time_zone="UTC", strict=False, time_unit="ms")
    return (engagement.filter(pl.col("event_type").is_in(list(SUPPRESSIONS.values())))
            .select("email", "event_type", (stamp.cast(pl.Int64) // 1000).alias("created"))
            .drop_nulls("created")
            # a suppression list holds each address once, with its latest entry
            .sort("created").unique(["email", "event_type"], keep="last").sort(["created",
                                                                                 "email"]))


class SendGridSimulator:
    def __init__(self, engagement: pl.DataFrame | None, journal: Journal,
                 faults: FaultInjector):
        self.api_key = Credential("SG.sandbox.")
        self.contacts: dict[str, dict] = {}  # lowercased email -> contact
        self.jobs: dict[str, dict] = {}
        self.suppressions = suppressions_frame(engagement)
        self._lock = threading.Lock()
        spec = VendorSpec("sendgrid", self._authenticate, _error_body,
                          rate_limit_headers=_rate_headers, retry_after_header=False)
        self.app = VendorApp(spec, journal, faults)
        base = "/v3/marketing/contacts"
        self.app.route(base, self.upsert, ["PUT"])
        self.app.route(base, self.delete, ["DELETE"])
        self.app.route(base + "/count", self.count, ["GET"])
        self.app.route(base + "/imports/{job_id}", self.job, ["GET"])
        self.app.route(base + "/search/emails", self.search_emails, ["POST"])
        self.app.route("/v3/suppression/{kind}", self.suppression, ["GET"])
        self.app.add_admin(self.stats, lambda: {"api_key": self.api_key.rotate()})

    def info(self, base_url: str) -> dict:
        return {"base_url": base_url, "api_key": self.api_key.value}

    def _authenticate(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and self.api_key.matches(token)

    def stats(self) -> dict:
        counts = self.suppressions.group_by("event_type").len().to_dicts()
        return {"contacts": len(self.contacts), "jobs": len(self.jobs),
                "suppressions": {c["event_type"]: c["len"] for c in counts}}

    def _job(self, job_type: str, results: dict) -> str:
        job_id = str(uuid.uuid4())
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.jobs[job_id] = {"id": job_id, "status": "completed", "job_type": job_type,
                             "results": results, "started_at": now, "finished_at": now}
        return job_id

    async def upsert(self, request: Request) -> Reply:
        raw = await request.body()
        if len(raw) > MAX_BYTES:
            raise VendorError(413, "PAYLOAD_TOO_LARGE", "request body exceeds 6 MB")
        contacts = (await request.json()).get("contacts")
        if not isinstance(contacts, list) or not 1 <= len(contacts) <= MAX_CONTACTS:
            raise VendorError(400, "INVALID", f"contacts must hold 1..{MAX_CONTACTS} items")
        missing = [i for i, c in enumerate(contacts) if not str(c.get("email") or "").strip()]
        if missing:
            raise VendorError(400, "INVALID", f"contacts[{missing[0]}].email is required")
        created = updated = 0
        with self._lock:
            for item in contacts:
                key = item["email"].strip().lower()
                existing = self.contacts.get(key)
                contact = existing or {"id": str(uuid.uuid4()), "email": key,
                                       "created_at": time.time()}
                contact.update({k: v for k, v in item.items() if k != "email"})
                contact["updated_at"] = time.time()
                self.contacts[key] = contact
                created, updated = created + (existing is None), updated + (existing is not None)
            job = self._job("upsert", {"requested_count": len(contacts), "created_count": created,
                                       "updated_count": updated, "deleted_count": 0,
                                       "errored_count": 0})
        return Reply({"job_id": job}, status=202, written=len(contacts))

    async def job(self, request: Request) -> Reply:
        found = self.jobs.get(request.path_params["job_id"])
        if found is None:
            raise VendorError(404, "NOT_FOUND", "job not found")
        return Reply(found)

    async def search_emails(self, request: Request) -> Reply:
        emails = (await request.json()).get("emails") or []
        with self._lock:
            result = {e: {"contact": self.contacts[e.lower()]} for e in emails
                      if e.lower() in self.contacts}
        if not result:
            raise VendorError(404, "NOT_FOUND", "No contacts found")
        return Reply({"result": result}, returned=len(result))

    async def delete(self, request: Request) -> Reply:
        ids = set(filter(None, request.query_params.get("ids", "").split(",")))
        if not ids:
            raise VendorError(400, "INVALID", "ids or delete_all_contacts is required")
        with self._lock:
            gone = [k for k, c in self.contacts.items() if c["id"] in ids]
            for key in gone:
                del self.contacts[key]
            job = self._job("delete", {"requested_count": len(ids), "deleted_count": len(gone)})
        return Reply({"job_id": job}, status=202, written=len(gone))

    async def count(self, request: Request) -> Reply:
        return Reply({"contact_count": len(self.contacts), "billable_count": len(self.contacts)})

    async def suppression(self, request: Request) -> Reply:
        kind = request.path_params["kind"]
        if kind not in SUPPRESSIONS:
            raise VendorError(404, "NOT_FOUND", f"unknown suppression list {kind!r}")
        params = request.query_params
        try:
            limit, offset = int(params.get("limit", "500")), int(params.get("offset", "0"))
            start, end = int(params.get("start_time", "0")), params.get("end_time")
        except ValueError:
            raise VendorError(400, "INVALID", "limit, offset and times must be integers") from None
        if not 1 <= limit <= PAGE_LIMIT:
            raise VendorError(400, "INVALID", f"limit must be 1..{PAGE_LIMIT}")
        rows = self.suppressions.filter((pl.col("event_type") == SUPPRESSIONS[kind])
                                        & (pl.col("created") >= start))
        if end is not None:
            rows = rows.filter(pl.col("created") < int(end))
        page = rows.slice(offset, limit).select("created", "email").to_dicts()
        extra = {"bounces": {"reason": "550 5.1.1 mailbox unavailable", "status": "5.1.1"},
                 "spam_reports": {"ip": "127.0.0.1"}, "unsubscribes": {}}[kind]
        return Reply([{**row, **extra} for row in page], returned=len(page))
