"""SendGrid v3 connector: Marketing Contacts writes and the suppression lists.

Writes are asynchronous at SendGrid: `upsert_contacts` returns a job id and `wait_for_job`
polls the import status. Engagement SendGrid exposes over its API is the suppression lists
(bounces, spam reports, unsubscribes); opens and clicks only arrive through its Event Webhook.
Throttles are 429 with `X-RateLimit-Reset` (an epoch time), which the HTTP layer honours.
"""

import csv
import io
import json
import time
from collections.abc import Iterator

import httpx

from email_data_platform.lib.connectors.http import (
    HttpClient,
    RequestBudget,
    RetryPolicy,
    StaticToken,
    TokenProvider,
)

MAX_CONTACTS, MAX_BYTES, PAGE_LIMIT = 30_000, 6 * 1024 * 1024, 500
SEARCH_LIMIT = 100  # addresses per search/emails call
IDS_PER_CALL = 100  # contact ids per list-removal or delete call (keeps the URL short)
SUPPRESSION_EVENTS = {"bounces": "bounce", "spam_reports": "complaint",
                      "unsubscribes": "unsubscribe"}


class SendGridClient:
    def __init__(self, base_url: str, api_key: str | None = None,
                 token_provider: TokenProvider | None = None, *,
                 policy: RetryPolicy | None = None, budget: RequestBudget | None = None):
        if token_provider is None:
            if not api_key:
                raise ValueError("SendGridClient needs an api_key or a token_provider")
            token_provider = StaticToken(api_key)
        self.http = HttpClient("sendgrid", base_url, token_provider, policy=policy,
                               budget=budget)

    def close(self) -> None:
        self.http.close()

    def upsert_contacts(self, contacts: list[dict], list_ids: list[str] | None = None) -> str:
        """Queue an upsert of up to 30,000 contacts (6 MB); returns SendGrid's job id."""
        body = {"contacts": contacts, **({"list_ids": list_ids} if list_ids else {})}
        if len(contacts) > MAX_CONTACTS or len(json.dumps(body)) > MAX_BYTES:
            raise ValueError(f"SendGrid takes at most {MAX_CONTACTS} contacts or 6 MB per call")
        return self.http.request("PUT", "/v3/marketing/contacts", json_body=body)["job_id"]

    def import_status(self, job_id: str) -> dict:
        return self.http.request("GET", f"/v3/marketing/contacts/imports/{job_id}")

    def wait_for_job(self, job_id: str, timeout_s: float = 300, poll_s: float = 1.0) -> dict:
        """Poll an import job until it completes or fails; `_polls` says how many reads it took.

        Waits back off from `poll_s` to 5 s; the first read is immediate (small jobs are done).
        """
        deadline, polls, wait = time.monotonic() + timeout_s, 0, poll_s
        while True:
            status = self.import_status(job_id)
            polls += 1
            if status.get("status") in ("completed", "failed", "errored"):
                return {**status, "_polls": polls}
            if time.monotonic() > deadline:
                raise TimeoutError(f"SendGrid job {job_id} still {status.get('status')}")
            time.sleep(wait)
            wait = min(wait * 2, 5.0)

    def job_errors(self, job: dict) -> list[dict]:
        """Per-contact errors of a finished import ({email, error}), from its `errors_url`."""
        url = (job.get("results") or {}).get("errors_url")
        if not url:
            return []
        response = httpx.get(url, timeout=60, follow_redirects=True)  # a signed link, no auth
        response.raise_for_status()
        return [{"email": row.get("email") or "", "error": row.get("errors") or ""}
                for row in csv.DictReader(io.StringIO(response.text))]

    def lists(self) -> list[dict]:
        return self.http.request("GET", "/v3/marketing/lists",
                                 params={"page_size": 1000}).get("result") or []

    def create_list(self, name: str) -> dict:
        return self.http.request("POST", "/v3/marketing/lists", json_body={"name": name},
                                 idempotent=False)

    def list_contact_count(self, list_id: str) -> int:
        return int(self.http.request("GET", f"/v3/marketing/lists/{list_id}")["contact_count"])

    def field_definitions(self) -> list[dict]:
        return self.http.request("GET", "/v3/marketing/field_definitions").get(
            "custom_fields") or []

    def create_field(self, name: str, field_type: str) -> dict:
        return self.http.request("POST", "/v3/marketing/field_definitions",
                                 json_body={"name": name, "field_type": field_type},
                                 idempotent=False)

    def remove_from_list(self, list_id: str, contact_ids: list[str]) -> str:
        """Take up to 100 contacts off a list (they stay in the account); returns the job id."""
        return self.http.request("DELETE", f"/v3/marketing/lists/{list_id}/contacts",
                                 params={"contact_ids": ",".join(contact_ids)})["job_id"]

    def search_emails(self, emails: list[str]) -> dict[str, dict]:
        """email -> contact for the addresses SendGrid holds (absent ones are left out)."""
        found = self.http.request("POST", "/v3/marketing/contacts/search/emails",
                                  json_body={"emails": emails}, allow_status=(404,))
        return {e: r["contact"] for e, r in (found.get("result") or {}).items()}

    def delete_contacts(self, contact_ids: list[str]) -> str:
        return self.http.request("DELETE", "/v3/marketing/contacts",
                                 params={"ids": ",".join(contact_ids)})["job_id"]

    def contact_count(self) -> int:
        return int(self.http.request("GET", "/v3/marketing/contacts/count")["contact_count"])

    def iter_suppressions(self, kind: str, start_time: int | None = None,
                          end_time: int | None = None) -> Iterator[dict]:
        """Entries of one suppression list (`bounces`, `spam_reports`, `unsubscribes`)."""
        if kind not in SUPPRESSION_EVENTS:
            raise ValueError(f"unknown suppression list {kind!r}")
        params = {"limit": PAGE_LIMIT, **({"start_time": start_time} if start_time else {}),
                  **({"end_time": end_time} if end_time else {})}
        offset = 0
        while True:
            page = self.http.request("GET", f"/v3/suppression/{kind}",
                                     params={**params, "offset": offset})
            yield from page
            if len(page) < PAGE_LIMIT:
                return
            offset += PAGE_LIMIT
