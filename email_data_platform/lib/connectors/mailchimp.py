"""Mailchimp Marketing v3 connector: audience members (writes) and campaign engagement (reads).

The activation stage codes against `batch_upsert_members`, `run_batch_operations` (member tags,
archives and status changes, many per request), `archive_member`, `delete_member_permanently`
and `iter_members`; the sources stage reads engagement through
`iter_campaigns`, `iter_email_activity`, `iter_unsubscribes` and `iter_abuse_reports`, or, for
a large first load, `iter_reports_in_bulk` (the same pages through batch operations).
Mailchimp authenticates with HTTP basic auth: any user name, the API key as password.
"""

import base64
import gzip
import hashlib
import io
import json
import logging
import tarfile
import time
from collections import deque
from collections.abc import Iterator

import httpx

from email_data_platform.lib.connectors.http import (
    HttpClient,
    RequestBudget,
    RetryPolicy,
    StaticToken,
    TokenProvider,
    offset_pages,
)

logger = logging.getLogger(__name__)

BATCH_LIMIT = 500
OPERATIONS_LIMIT = 500  # operations per batch request we send (keeps each batch quick to run)
PAGE_SIZE = 1000
# Pages per read batch: ~50k recipients, so one batch's results stay tens of MB in memory.
READ_OPERATIONS = 50
READS_IN_FLIGHT = 3
REPORT_ITEMS = {"email-activity": "emails", "sent-to": "sent_to", "unsubscribed": "unsubscribes"}


def subscriber_hash(email: str) -> str:
    """Mailchimp's member id: md5 of the lowercased email address."""
    return hashlib.md5(email.strip().lower().encode()).hexdigest()


def _basic(api_key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"edp:{api_key}".encode()).decode()}


class MailchimpClient:
    def __init__(self, base_url: str, api_key: str | None = None,
                 token_provider: TokenProvider | None = None, *,
                 policy: RetryPolicy | None = None, budget: RequestBudget | None = None):
        if token_provider is None:
            if not api_key:
                raise ValueError("MailchimpClient needs an api_key or a token_provider")
            token_provider = StaticToken(api_key)
        self.http = HttpClient("mailchimp", base_url, token_provider, _basic, policy=policy,
                               budget=budget)

    def close(self) -> None:
        self.http.close()

    # -- audience writes -------------------------------------------------------------------
    def batch_upsert_members(self, list_id: str, members: list[dict]) -> dict:
        """Batch subscribe/update up to 500 members; returns Mailchimp's answer: its counts and
        `errors` (the members' records are left out).

        The call is an upsert (`update_existing`), so retrying it after a dropped connection
        cannot create duplicates. Per-member failures come back in `errors`, not as an exception.
        """
        if len(members) > BATCH_LIMIT:
            raise ValueError(f"Mailchimp accepts at most {BATCH_LIMIT} members per batch, "
                             f"got {len(members)}")
        # the members' full records are not needed back, only the errors: at 500 a call the
        # answer is most of the call's cost
        return self.http.request("POST", f"/lists/{list_id}",
                                 params={"exclude_fields": "new_members,updated_members"},
                                 json_body={"members": members, "update_existing": True})

    def update_member_tags(self, list_id: str, subscriber_hash: str, tags: list[dict]) -> None:
        """Set tags active or inactive ({"name", "status": "active"|"inactive"}) on one member."""
        self.http.request("POST", f"/lists/{list_id}/members/{subscriber_hash}/tags",
                          json_body={"tags": tags})

    def run_batch_operations(self, operations: list[dict], timeout_s: float = 600,
                             poll_s: float = 0.05) -> tuple[list[dict], int]:
        """Submit up to 500 operations ({method, path, body, operation_id}) as one batch, poll
        until Mailchimp has finished it, and return (each operation's result, status polls).

        A result is {operation_id, status_code, response (parsed JSON or None)}. Polls back off
        from `poll_s` to 2 s, so small batches answer fast and large ones cost few requests.
        """
        return self.wait_for_batch(self.submit_batch(operations), timeout_s, poll_s)

    def submit_batch(self, operations: list[dict]) -> dict:
        """Start one batch of up to 500 operations; returns Mailchimp's batch (with its id)."""
        if not 1 <= len(operations) <= OPERATIONS_LIMIT:
            raise ValueError(f"a batch holds 1..{OPERATIONS_LIMIT} operations, "
                             f"got {len(operations)}")
        return self.http.request("POST", "/batches", json_body={"operations": operations},
                                 idempotent=False)

    def wait_for_batch(self, batch: dict, timeout_s: float = 600,
                       poll_s: float = 0.05) -> tuple[list[dict], int]:
        """Poll a submitted batch until it finished; (each operation's result, polls)."""
        deadline, polls, wait = time.monotonic() + timeout_s, 0, poll_s
        while batch.get("status") != "finished":
            if time.monotonic() > deadline:
                raise TimeoutError(f"Mailchimp batch {batch.get('id')} still "
                                   f"{batch.get('status')} after {timeout_s:.0f} s")
            time.sleep(wait)
            wait = min(wait * 2, 2.0)
            batch = self.http.request("GET", f"/batches/{batch['id']}")
            polls += 1
        return _batch_results(batch.get("response_body_url") or ""), polls

    def read_pages_in_batches(self, requests: list[tuple[str, dict]],
                              per_batch: int = READ_OPERATIONS,
                              in_flight: int = READS_IN_FLIGHT) -> Iterator[tuple[int, dict]]:
        """GET many pages through batch operations, Mailchimp's bulk path for large reads:
        (index into `requests`, parsed page) for each, in order. Up to `in_flight` batches are
        submitted ahead, so Mailchimp works on the next while this one is read. A page the
        batch did not serve is asked for again over REST, so its error surfaces as it would
        there."""
        pending: deque[tuple[int, list, dict]] = deque()
        for start in range(0, len(requests), per_batch):
            chunk = requests[start:start + per_batch]
            pending.append((start, chunk, self.submit_batch([
                {"method": "GET", "path": path, "operation_id": str(start + i),
                 "params": {k: str(v) for k, v in params.items()}}
                for i, (path, params) in enumerate(chunk)])))
            if len(pending) >= in_flight:
                yield from self._read_batch(*pending.popleft())
        while pending:
            yield from self._read_batch(*pending.popleft())

    def _read_batch(self, start: int, chunk: list, batch: dict) -> Iterator[tuple[int, dict]]:
        results = {r["operation_id"]: r for r in self.wait_for_batch(batch)[0]}
        for i, (path, params) in enumerate(chunk, start):
            found = results.get(str(i)) or {}
            if found.get("status_code", 500) < 400 and isinstance(found.get("response"), dict):
                yield i, found["response"]
            else:
                logger.warning("mailchimp batch: %s answered %s; read over REST", path,
                               found.get("status_code"))
                yield i, self.http.request("GET", path, params=params)

    def iter_reports_in_bulk(self, wanted: list[tuple[str, str]]
                             ) -> Iterator[tuple[str, str, list[dict]]]:
        """(campaign id, report, items) for every page of each (campaign id, report) in
        `wanted` (reports: email-activity, sent-to, unsubscribed): the first pages in batches,
        then the pages their totals call for."""
        def page(campaign: str, report: str, offset: int) -> tuple[str, dict]:
            return f"/reports/{campaign}/{report}", {"offset": offset, "count": PAGE_SIZE}

        rest = []
        for index, body in self.read_pages_in_batches([page(c, r, 0) for c, r in wanted]):
            campaign, report = wanted[index]
            yield campaign, report, body.get(REPORT_ITEMS[report]) or []
            rest += [(campaign, report, offset) for offset in
                     range(PAGE_SIZE, int(body.get("total_items") or 0), PAGE_SIZE)]
        for index, body in self.read_pages_in_batches([page(*r) for r in rest]):
            campaign, report, _ = rest[index]
            yield campaign, report, body.get(REPORT_ITEMS[report]) or []

    def archive_member(self, list_id: str, subscriber_hash: str) -> None:
        """Archive (Mailchimp's DELETE); an already-absent member is not an error."""
        self.http.request("DELETE", f"/lists/{list_id}/members/{subscriber_hash}",
                          allow_status=(404,))

    def delete_member_permanently(self, list_id: str, subscriber_hash: str) -> None:
        """Erase for good (GDPR): Mailchimp then refuses to re-import the address."""
        self.http.request(
            "POST", f"/lists/{list_id}/members/{subscriber_hash}/actions/delete-permanent",
            allow_status=(404,))

    def get_member(self, list_id: str, subscriber_hash: str) -> dict | None:
        member = self.http.request("GET", f"/lists/{list_id}/members/{subscriber_hash}",
                                   allow_status=(404,))
        return None if member.get("_status") == 404 else member

    def member_total(self, list_id: str) -> int:
        """How many members the list holds (archived ones aside), in one small request."""
        page = self.http.request("GET", f"/lists/{list_id}/members",
                                 params={"count": 1, "fields": "total_items"})
        return int(page.get("total_items", 0))

    def iter_members(self, list_id: str, status: str | None = None) -> Iterator[dict]:
        """Every member (archived ones only when `status="archived"`), 1,000 per page."""

        def fetch(offset: int, count: int) -> tuple[list, int]:
            params = {"offset": offset, "count": count, **({"status": status} if status else {})}
            page = self.http.request("GET", f"/lists/{list_id}/members", params=params)
            return page.get("members") or [], int(page.get("total_items", 0))

        for page in offset_pages(fetch, PAGE_SIZE):
            yield from page

    # -- engagement reads ------------------------------------------------------------------
    def _offset_items(self, path: str, key: str, params: dict | None = None) -> Iterator[dict]:
        def fetch(offset: int, count: int) -> tuple[list, int]:
            page = self.http.request("GET", path,
                                     params={"offset": offset, "count": count, **(params or {})})
            return page.get(key) or [], int(page.get("total_items", 0))

        for page in offset_pages(fetch, PAGE_SIZE):
            yield from page

    def iter_campaigns(self, since_send_time: str | None = None) -> Iterator[dict]:
        params = {"since_send_time": since_send_time} if since_send_time else None
        return self._offset_items("/campaigns", "campaigns", params)

    def iter_email_activity(self, campaign_id: str, since: str | None = None) -> Iterator[dict]:
        """Per recipient: {email_address, activity: [{action, timestamp, ...}]}."""
        params = {"since": since} if since else None
        return self._offset_items(f"/reports/{campaign_id}/email-activity", "emails", params)

    def iter_sent_to(self, campaign_id: str) -> Iterator[dict]:
        """Recipients of a campaign; their send time is the campaign's `send_time`."""
        return self._offset_items(f"/reports/{campaign_id}/sent-to", "sent_to")

    def iter_unsubscribes(self, campaign_id: str) -> Iterator[dict]:
        return self._offset_items(f"/reports/{campaign_id}/unsubscribed", "unsubscribes")

    def iter_abuse_reports(self, list_id: str) -> Iterator[dict]:
        return self._offset_items(f"/lists/{list_id}/abuse-reports", "abuse_reports")


def _batch_results(url: str) -> list[dict]:
    """Download a finished batch's results (a tar.gz of JSON arrays; the link needs no auth)."""
    if not url:
        return []
    response = httpx.get(url, timeout=60, follow_redirects=True)
    response.raise_for_status()
    results = []
    data = response.content
    if data[:2] != b"\x1f\x8b":  # some proxies hand the archive back already decompressed
        data = gzip.compress(data)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for member in archive.getmembers():
            handle = archive.extractfile(member) if member.isfile() else None
            for item in json.loads(handle.read()) if handle else []:
                body = item.get("response")
                results.append({"operation_id": item.get("operation_id"),
                                "status_code": int(item.get("status_code") or 0),
                                "response": json.loads(body) if body else None})
    return results
