"""SendGrid v3 simulator: Marketing Contacts (writes, async jobs), lists, custom fields and the
suppression lists.

Contract points kept: Bearer API key (401 `{"errors": [...]}`), as the vendor's own SDK sends it;
`PUT /v3/marketing/contacts` takes up to 30,000 contacts or 6 MB (with `list_ids` and
`custom_fields` keyed by field id) and answers 202 with a `job_id`, whose status is read at
`GET /v3/marketing/contacts/imports/{id}` (per-contact errors at its `errors_url`, a CSV);
`POST /v3/marketing/contacts/search/emails` (<= 100 addresses);
`DELETE /v3/marketing/contacts?ids=`; lists (`/v3/marketing/lists`, removal of contacts by
id) and custom field definitions (`/v3/marketing/field_definitions`); suppression lists
(`/v3/suppression/bounces`,
`/spam_reports`, `/unsubscribes`) paged by `limit` (<= 500) and `offset`, filtered by
`start_time`/`end_time` (Unix seconds); `GET /v3/scopes` and `/v3/user/account`, which an SDK's
first script calls. Every answer carries `X-RateLimit-Limit/Remaining/Reset`; over the limit
SendGrid answers 429 with the reset time, not `Retry-After`. Given a state folder the account
(contacts, lists, fields) is kept across restarts. Suppressions come from an optional
`sendgrid_engagement` file (generator engagement shape).
"""

import json
import time
from pathlib import Path

import polars as pl
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from email_data_platform.sandbox.faults import FaultInjector
from email_data_platform.sandbox.sendgrid_contacts import (
    RESERVED_FIELDS,
    ContactError,
    ContactStore,
)
from email_data_platform.sandbox.sendgrid_webhook import EventWebhook
from email_data_platform.sandbox.state import StateFile
from email_data_platform.sandbox.vendor import (
    Credential,
    Journal,
    Reply,
    VendorApp,
    VendorError,
    VendorSpec,
)

MAX_CONTACTS, MAX_BYTES, PAGE_LIMIT, SEARCH_LIMIT = 30_000, 6 * 1024 * 1024, 500, 100
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


def _vendor_error(error: ContactError) -> VendorError:
    return VendorError(error.status, "INVALID", error.message)


class SendGridSimulator:
    def __init__(self, engagement: pl.DataFrame | None, journal: Journal,
                 faults: FaultInjector, state_dir: Path | None = None):
        self.api_key = Credential("SG.sandbox.")
        self.store = ContactStore(self._changed)
        self.state = StateFile(state_dir, "sendgrid",
                               lambda: {**self.store.snapshot(), **self.event_webhook.snapshot()})
        saved = self.state.load()
        self.store.restore(saved)
        self.event_webhook = EventWebhook(saved)
        self.suppressions = suppressions_frame(engagement)
        self.base_url = ""
        spec = VendorSpec("sendgrid", self._authenticate, _error_body,
                          rate_limit_headers=_rate_headers, retry_after_header=False)
        self.app = VendorApp(spec, journal, faults)
        self._routes()

    @property
    def contacts(self) -> dict[str, dict]:
        return self.store.contacts

    def _routes(self) -> None:
        base, route = "/v3/marketing/contacts", self.app.route
        route(base, self.upsert, ["PUT"])
        route(base, self.delete, ["DELETE"])
        route(base, self.sample, ["GET"])
        route(base + "/count", self.count, ["GET"])
        route(base + "/imports/{job_id}", self.job, ["GET"])
        route(base + "/search/emails", self.search_emails, ["POST"])
        route("/v3/marketing/lists", self.lists, ["GET", "POST"])
        route("/v3/marketing/lists/{list_id}", self.one_list, ["GET"])
        route("/v3/marketing/lists/{list_id}/contacts", self.remove_from_list, ["DELETE"])
        route("/v3/marketing/field_definitions", self.field_definitions, ["GET", "POST"])
        route("/v3/suppression/{kind}", self.suppression, ["GET"])
        route("/v3/scopes", self.scopes, ["GET"])
        route("/v3/user/account", self.account, ["GET"])
        route("/v3/user/webhooks/event/settings", self.webhook_settings, ["GET", "PATCH"])
        route("/v3/user/webhooks/event/settings/signed", self.webhook_signed, ["GET", "PATCH"])
        self.app.add_admin(self.stats, lambda: {"api_key": self.api_key.rotate()})
        self.app.route("/_sandbox/events", self.people_act, ["POST"], faults=False)
        # Import errors download like a signed link: no credentials, outside the vendor guard.
        self.app.routes.append(Route("/_results/{name}", self.job_errors, methods=["GET"]))

    def info(self, base_url: str) -> dict:
        self.base_url = base_url
        return {"base_url": base_url, "api_key": self.api_key.value}

    def start(self) -> None:
        self.state.start()

    def stop(self) -> None:
        self.state.stop()

    def _changed(self, event: str, contact: dict) -> None:
        self.state.mark_changed()

    def _authenticate(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and self.api_key.matches(token.strip())

    def stats(self) -> dict:
        counts = self.suppressions.group_by("event_type").len().to_dicts()
        return {"contacts": len(self.store.contacts), "jobs": len(self.store.jobs),
                "lists": {x["name"]: self.store.list_body(x["id"])["contact_count"]
                          for x in list(self.store.lists.values())},
                "suppressions": {c["event_type"]: c["len"] for c in counts}}

    async def upsert(self, request: Request) -> Reply:
        raw = await request.body()
        if len(raw) > MAX_BYTES:
            raise VendorError(413, "PAYLOAD_TOO_LARGE", "request body exceeds 6 MB")
        body = json.loads(raw)
        contacts, list_ids = body.get("contacts"), body.get("list_ids") or []
        if not isinstance(contacts, list) or not 1 <= len(contacts) <= MAX_CONTACTS:
            raise VendorError(400, "INVALID", f"contacts must hold 1..{MAX_CONTACTS} items")
        missing = [i for i, c in enumerate(contacts) if not str(c.get("email") or "").strip()]
        if missing:
            raise VendorError(400, "INVALID", f"contacts[{missing[0]}].email is required")
        job = self.store.upsert(contacts, list(list_ids),
                                self.app.faults.member_failures(len(contacts)))
        return Reply({"job_id": job}, status=202, written=len(contacts))

    async def job(self, request: Request) -> Reply:
        found = self.store.jobs.get(request.path_params["job_id"])
        if found is None:
            raise VendorError(404, "NOT_FOUND", "job not found")
        results = dict(found["results"])
        if "errors_url" in results:
            results["errors_url"] = self.base_url + results["errors_url"]
        return Reply({**found, "results": results})

    async def job_errors(self, request: Request) -> Response:
        text = self.store.errors_csv(request.path_params["name"].removesuffix(".csv"))
        if text is None:
            return Response(b"not found", 404)
        return Response(text, 200, media_type="text/csv")

    async def search_emails(self, request: Request) -> Reply:
        emails = (await request.json()).get("emails") or []
        if len(emails) > SEARCH_LIMIT:
            raise VendorError(400, "INVALID", f"at most {SEARCH_LIMIT} emails per search")
        with self.store.lock:
            result = {e: {"contact": self.store.contacts[e.lower()]} for e in emails
                      if e.lower() in self.store.contacts}
        if not result:
            raise VendorError(404, "NOT_FOUND", "No contacts found")
        return Reply({"result": result}, returned=len(result))

    async def delete(self, request: Request) -> Reply:
        ids = set(filter(None, request.query_params.get("ids", "").split(",")))
        if not ids:
            raise VendorError(400, "INVALID", "ids or delete_all_contacts is required")
        job = self.store.delete(ids)
        return Reply({"job_id": job}, status=202, written=len(ids))

    async def sample(self, request: Request) -> Reply:
        with self.store.lock:
            recent = sorted(self.store.contacts.values(), key=lambda c: c["updated_at"])[-50:]
        return Reply({"result": recent, "contact_count": len(self.store.contacts)},
                     returned=len(recent))

    async def count(self, request: Request) -> Reply:
        total = len(self.store.contacts)
        return Reply({"contact_count": total, "billable_count": total})

    async def lists(self, request: Request) -> Reply:
        try:
            if request.method == "POST":
                created = self.store.create_list(str((await request.json()).get("name") or ""))
                return Reply(created, status=201, written=1)
            result = [self.store.list_body(x) for x in list(self.store.lists)]
        except ContactError as error:
            raise _vendor_error(error) from None
        return Reply({"result": result, "_metadata": {"count": len(result)}},
                     returned=len(result))

    async def one_list(self, request: Request) -> Reply:
        try:
            return Reply(self.store.list_body(request.path_params["list_id"]), returned=1)
        except ContactError as error:
            raise _vendor_error(error) from None

    async def remove_from_list(self, request: Request) -> Reply:
        ids = set(filter(None, request.query_params.get("contact_ids", "").split(",")))
        if not ids:
            raise VendorError(400, "INVALID", "contact_ids is required")
        try:
            job = self.store.remove_from_list(request.path_params["list_id"], ids)
        except ContactError as error:
            raise _vendor_error(error) from None
        return Reply({"job_id": job}, status=202, written=len(ids))

    async def field_definitions(self, request: Request) -> Reply:
        if request.method == "POST":
            body = await request.json()
            try:
                field = self.store.create_field(str(body.get("name") or ""),
                                                str(body.get("field_type") or ""))
            except ContactError as error:
                raise _vendor_error(error) from None
            return Reply(field, status=201, written=1)
        reserved = [{"id": f"_rf_{n}", "name": n, "field_type": "Text"} for n in RESERVED_FIELDS]
        return Reply({"custom_fields": list(self.store.fields.values()),
                      "reserved_fields": reserved})

    async def webhook_settings(self, request: Request) -> Reply:
        if request.method == "PATCH":
            try:
                self.event_webhook.configure(await request.json())
            except ValueError as error:
                raise VendorError(400, "INVALID", str(error)) from None
            self.state.mark_changed()
        return Reply(self.event_webhook.settings())

    async def webhook_signed(self, request: Request) -> Reply:
        if request.method == "PATCH":
            self.event_webhook.signed = bool((await request.json()).get("enabled"))
            self.state.mark_changed()
        return Reply({"public_key": self.event_webhook.public_key()
                      if self.event_webhook.signed else ""})

    async def people_act(self, request: Request) -> Reply:
        """Admin: people bounce, report spam, unsubscribe, open, click: SendGrid posts the events
        to the Event Webhook (signed when signing is on)."""
        items = await request.json()
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise VendorError(400, "INVALID", "a JSON array of events is expected")
        return Reply({"sent": self.event_webhook.send(items)})

    async def scopes(self, request: Request) -> Reply:
        return Reply({"scopes": ["marketing.read", "marketing.write", "suppression.read",
                                 "user.webhooks.event.settings.read",
                                 "user.webhooks.event.settings.update"]})

    async def account(self, request: Request) -> Reply:
        return Reply({"type": "free", "reputation": 100.0})

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
