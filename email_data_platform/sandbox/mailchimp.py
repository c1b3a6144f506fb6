"""Mailchimp Marketing v3 simulator: one audience (list), its members, and campaign reports.

The audience starts empty (the platform pushes members) and, given a state folder, keeps its
members across restarts as a real account does; campaign reports replay the generator's
engagement history. Contract points kept: HTTP basic auth (any user, API key as password, with or
without its `-us1` data-centre suffix) or an OAuth bearer token, as the vendor's own SDK sends
them; `offset`/`count` paging (count <= 1000); subscriber hash = md5 of the lowercased email;
batch subscribe of <= 500 members answering 200 with per-member errors (`sync_tags` replaces a
member's tags); the member-tags endpoint; batch operations (`/batches`, asynchronous, results as a
tar.gz); DELETE archives while `actions/delete-permanent` erases for good (and refuses
re-import); the read endpoints an SDK's first script calls (`/`, `/ping`, `/lists`); 10
simultaneous connections per key, 429 beyond.
"""

import base64
import hashlib
from pathlib import Path

import polars as pl
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from email_data_platform.sandbox.faults import FaultInjector
from email_data_platform.sandbox.mailchimp_batches import BatchRunner
from email_data_platform.sandbox.mailchimp_members import (
    MemberError,
    MemberStore,
    subscriber_hash,
)
from email_data_platform.sandbox.mailchimp_reports import (
    PAGE_LIMIT,
    EngagementReports,
    add_report_routes,
)
from email_data_platform.sandbox.mailchimp_webhooks import MailchimpWebhooks, add_webhook_routes
from email_data_platform.sandbox.state import StateFile
from email_data_platform.sandbox.vendor import (
    Credential,
    Journal,
    Reply,
    VendorApp,
    VendorError,
    VendorSpec,
)

__all__ = ["MailchimpSimulator", "subscriber_hash"]

BATCH_LIMIT = 500

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


def _member_error(error: MemberError) -> VendorError:
    return VendorError(error.status, error.code, error.message)


class MailchimpSimulator:
    """The audience lives in a MemberStore; engagement reports come from a polars frame."""

    def __init__(self, engagement: pl.DataFrame, journal: Journal, faults: FaultInjector,
                 state_dir: Path | None = None):
        self.list_id = hashlib.md5(b"edp-sandbox-audience").hexdigest()[:10]
        self.api_key = Credential("sandbox")
        self.store = MemberStore(self.list_id, self._member_changed)
        self.webhooks = MailchimpWebhooks(self.list_id)
        self.state = StateFile(state_dir, "mailchimp",
                               lambda: {**self.store.snapshot(), **self.webhooks.snapshot()})
        saved = self.state.load()
        self.store.restore(saved)
        self.webhooks.restore(saved)
        self.reports = EngagementReports(engagement, self.list_id)
        self.batches = BatchRunner(self.store, self.reports.read)
        self.base_url = ""
        spec = VendorSpec("mailchimp", self._authenticate, _error_body, max_concurrency=10,
                          throttle_code="TooManyRequests")
        self.app = VendorApp(spec, journal, faults)
        self._routes()

    @property
    def members(self) -> dict[str, dict]:
        return self.store.members

    def info(self, base_url: str) -> dict:
        self.base_url = base_url
        return {"base_url": f"{base_url}/3.0", "api_key": f"{self.api_key.value}-us1",
                "list_id": self.list_id}

    def start(self) -> None:
        self.state.start()

    def stop(self) -> None:
        self.state.stop()

    def _member_changed(self, event: str, member: dict) -> None:
        self.state.mark_changed()
        if not event.startswith("user:"):  # people's own actions are sent by member_event
            self.webhooks.send(event, member, source="api")

    def _authenticate(self, request: Request) -> bool:
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer":  # OAuth access tokens carry no data-centre suffix
            return self.api_key.matches(credential.strip())
        if scheme.lower() != "basic":
            return False
        try:
            _, _, key = base64.b64decode(credential).decode().partition(":")
        except ValueError:
            return False
        return self.api_key.matches(key.rpartition("-")[0] if "-" in key else key)

    def _routes(self) -> None:
        lists = "/3.0/lists/{list_id}"
        member = lists + "/members/{subscriber_hash}"
        route = self.app.route
        route("/3.0/", self.root, ["GET"])
        route("/3.0/ping", self.ping, ["GET"])
        route("/3.0/lists", self.all_lists, ["GET"])
        route(lists, self.one_list, ["GET"])
        route(lists, self.batch_subscribe, ["POST"])
        route(lists + "/members", self.list_members, ["GET"])
        route(lists + "/members", self.add_member, ["POST"])
        route(member, self.get_member, ["GET"])
        route(member, self.put_member, ["PUT", "PATCH"])
        route(member, self.archive_member, ["DELETE"])
        route(member + "/tags", self.member_tags, ["GET", "POST"])
        route(member + "/actions/delete-permanent", self.delete_permanent, ["POST"])
        route("/3.0/batches", self.batch_operations, ["GET", "POST"])
        route("/3.0/batches/{batch_id}", self.batch_status, ["GET"])
        add_report_routes(self.app, self.reports, self._check_list)
        self.app.add_admin(self.stats, self.rotate)
        add_webhook_routes(self)
        # Batch results download like an S3 link: no credentials, outside the vendor guard.
        self.app.routes.append(Route("/_results/{name}", self.batch_results, methods=["GET"]))

    def rotate(self) -> dict:
        return {"api_key": f"{self.api_key.rotate()}-us1"}

    def stats(self) -> dict:
        return {"list_id": self.list_id, "members": len(self.store.members),
                "by_status": self.store.counts(), "erased": len(self.store.erased),
                **self.reports.stats()}

    def _check_list(self, request: Request) -> None:
        if request.path_params["list_id"] != self.list_id:
            raise VendorError(404, "ResourceNotFound", "The requested resource could not be found.")

    def _list_body(self) -> dict:
        counts = self.store.counts()
        return {"id": self.list_id, "web_id": 1, "name": "EDP sandbox audience",
                "stats": {"member_count": counts.get("subscribed", 0),
                          "unsubscribe_count": counts.get("unsubscribed", 0),
                          "cleaned_count": counts.get("cleaned", 0)}}

    async def root(self, request: Request) -> Reply:
        return Reply({"account_id": "sandbox", "account_name": "EDP sandbox", "login_id": "1",
                      "total_subscribers": len(self.store.members)})

    async def ping(self, request: Request) -> Reply:
        return Reply({"health_status": "Everything's Chimpy!"})

    async def all_lists(self, request: Request) -> Reply:
        page_params(request)
        return Reply({"lists": [self._list_body()], "total_items": 1}, returned=1)

    async def one_list(self, request: Request) -> Reply:
        self._check_list(request)
        return Reply(self._list_body(), returned=1)

    async def batch_subscribe(self, request: Request) -> Reply:
        self._check_list(request)
        body = await request.json()
        items = body.get("members")
        if not isinstance(items, list) or len(items) > BATCH_LIMIT:
            raise VendorError(400, "InvalidResource",
                              f"members must be a list of at most {BATCH_LIMIT} members.")
        failures = self.app.faults.member_failures(len(items))
        created, updated, errors = [], [], []
        for item, transient in zip(items, failures, strict=True):
            try:
                if transient:
                    raise MemberError("Temporary error, please try again (injected).",
                                      "ERROR_TEMPORARY")
                outcome, member = self.store.upsert(item, bool(body.get("update_existing")),
                                                    bool(body.get("sync_tags")))
            except MemberError as error:
                errors.append({"email_address": item.get("email_address"),
                               "error": error.message, "error_code": error.code,
                               "field": "", "field_message": ""})
                continue
            (created if outcome == "created" else updated).append(dict(member))
        body = {"new_members": created, "updated_members": updated, "errors": errors,
                "total_created": len(created), "total_updated": len(updated),
                "error_count": len(errors), "_links": []}
        # `exclude_fields` trims the answer (top-level names here). Mailchimp documents it for
        # reads; if its write ignores it, the client only gets a larger answer and reads errors
        for name in request.query_params.get("exclude_fields", "").split(","):
            body.pop(name.strip(), None)
        return Reply(body, written=len(created) + len(updated))

    async def list_members(self, request: Request) -> Reply:
        self._check_list(request)
        offset, count = page_params(request)
        members = self.store.listed(request.query_params.get("status"))
        page = members[offset: offset + count]
        return Reply({"members": page, "list_id": self.list_id, "total_items": len(members)},
                     returned=len(page))

    def _member(self, request: Request) -> dict:
        self._check_list(request)
        try:
            return self.store.get(request.path_params["subscriber_hash"])
        except MemberError as error:
            raise _member_error(error) from None

    async def get_member(self, request: Request) -> Reply:
        return Reply(self._member(request), returned=1)

    async def put_member(self, request: Request) -> Reply:
        self._check_list(request)
        item = await request.json()
        wanted = request.path_params["subscriber_hash"]
        if request.method == "PATCH" and "email_address" not in item:
            item = {**item, "email_address": self._member(request)["email_address"]}
        if subscriber_hash(str(item.get("email_address") or "")) != wanted:
            raise VendorError(400, "InvalidResource",
                              "The subscriber hash does not match the email address.")
        try:
            _, member = self.store.upsert(item, update_existing=True)
        except MemberError as error:
            raise _member_error(error) from None
        return Reply(member, written=1)

    async def add_member(self, request: Request) -> Reply:
        """POST members: add one (the SDK's add_list_member); an existing member is an error."""
        self._check_list(request)
        try:
            _, member = self.store.upsert(await request.json(), update_existing=False)
        except MemberError as error:
            raise _member_error(error) from None
        return Reply(member, written=1)

    async def member_tags(self, request: Request) -> Reply:
        member = self._member(request)
        if request.method == "GET":
            tags = [{"id": t["id"], "name": t["name"], "date_added": member.get("last_changed")}
                    for t in member.get("tags") or []]
            return Reply({"tags": tags, "total_items": len(tags)}, returned=len(tags))
        try:
            self.store.update_tags(member["id"], (await request.json()).get("tags"))
        except MemberError as error:
            raise _member_error(error) from None
        return Reply(None, status=204, written=1)

    async def archive_member(self, request: Request) -> Reply:
        self.store.set_status(self._member(request)["id"], "archived", "archive")
        return Reply(None, status=204, written=1)

    async def delete_permanent(self, request: Request) -> Reply:
        self.store.delete_permanently(self._member(request)["id"])
        return Reply(None, status=204, written=1)

    async def batch_operations(self, request: Request) -> Reply:
        if request.method == "GET":
            batches = self.batches.listed()
            return Reply({"batches": batches, "total_items": len(batches)},
                         returned=len(batches))
        operations = (await request.json()).get("operations")
        try:
            batch = self.batches.submit(operations, f"{self.base_url}/_results")
        except MemberError as error:
            raise _member_error(error) from None
        return Reply(batch, written=len(operations))

    async def batch_status(self, request: Request) -> Reply:
        try:
            return Reply(self.batches.status(request.path_params["batch_id"]))
        except MemberError as error:
            raise _member_error(error) from None

    async def batch_results(self, request: Request) -> Response:
        archive = self.batches.result_archive(request.path_params["name"].removesuffix(".tar.gz"))
        if archive is None:
            return Response(b"NoSuchKey", 404)
        return Response(archive, 200, media_type="application/gzip")
