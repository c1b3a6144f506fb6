"""Salesforce REST connector: OAuth 2.0 (three flows, salesforce_auth.py), SOQL with
`nextRecordsUrl` paging, incremental reads.

Incremental pulls filter on `SystemModstamp` (changes by users and by automation alike) and use
`queryAll`, which also returns deleted records (`IsDeleted = true`), so deletions arrive with the
same pull. A query's result is a server-side snapshot, so paging cannot skip records that change
while we read. Over-limit is 403 `REQUEST_LIMIT_EXCEEDED`, treated as a throttle.
"""

import re
from collections.abc import Callable, Iterator

import httpx

from email_data_platform.lib.connectors.http import (
    HttpClient,
    RequestBudget,
    RetryPolicy,
)
from email_data_platform.lib.connectors.hubspot import from_ms
from email_data_platform.lib.connectors.salesforce_auth import SalesforceOAuth

# Real orgs serve many API versions; v60.0 (Spring '24) is the oldest this connector was
# written against. Choose another with `api_version` (SALESFORCE_API_VERSION).
DEFAULT_API_VERSION = "v60.0"
API = f"/services/data/{DEFAULT_API_VERSION}"
CONTACT_FIELDS = ("Id", "FirstName", "LastName", "Email", "Phone", "Birthdate", "MailingCity",
                  "MailingPostalCode", "MailingCountry", "Account.Name", "CreatedDate",
                  "SystemModstamp", "IsDeleted", "HasOptedOutOfEmail")
OPPORTUNITY_FIELDS = ("Id", "Amount", "CurrencyIsoCode", "CloseDate", "StageName", "ContactId",
                      "CreatedDate", "SystemModstamp", "IsDeleted")
OBJECTS = {"contacts": ("Contact", CONTACT_FIELDS), "opportunities": ("Opportunity",
                                                                     OPPORTUNITY_FIELDS)}


def is_salesforce_throttle(response: httpx.Response) -> bool:
    return response.status_code == 429 or (
        response.status_code == 403 and "REQUEST_LIMIT_EXCEEDED" in response.text)


def api_path(version: str) -> str:
    """`/services/data/vNN.N` for `NN.N` or `vNN.N`."""
    version = version if version.startswith("v") else f"v{version}"
    if not re.fullmatch(r"v\d{2,3}\.\d", version):
        raise ValueError(f"Salesforce API version {version!r} must look like 'v60.0'")
    return f"/services/data/{version}"


def record_problem(record: object, fields: tuple[str, ...]) -> tuple[str, str] | None:
    if not isinstance(record, dict):
        return "record_not_object", f"record is a {type(record).__name__}, not an object"
    if not isinstance(record.get("Id"), str) or len(record["Id"]) not in (15, 18):
        return "missing_id", f"record Id {record.get('Id')!r} is missing or malformed"
    if not isinstance(record.get("SystemModstamp"), str):
        return "missing_property", "SystemModstamp is missing"
    return None


class SalesforceClient:
    """`auth` is any token provider (see salesforce_auth.py); without one, the client-credentials
    flow with `client_secret` or `secret_provider` against the instance URL."""

    def __init__(self, base_url: str, client_id: str, client_secret: str | None = None, *,
                 secret_provider: Callable[[], str] | None = None, auth=None,
                 api_version: str = DEFAULT_API_VERSION,
                 policy: RetryPolicy | None = None, budget: RequestBudget | None = None):
        if auth is None:
            if secret_provider is None:
                if not client_secret:
                    raise ValueError("SalesforceClient needs a client_secret, a secret_provider "
                                     "or an auth flow")
                secret_provider = lambda: client_secret  # noqa: E731
            auth = SalesforceOAuth(base_url, client_id, secret_provider)
        self.api = api_path(api_version)
        self.http = HttpClient("salesforce", base_url, auth, policy=policy, budget=budget,
                               is_throttle=is_salesforce_throttle)
        self.bad_records: list[dict] = []
        self.pages = 0

    def close(self) -> None:
        self.http.close()

    def query(self, soql: str, include_deleted: bool = False) -> Iterator[dict]:
        """Every record of a SOQL query, following `nextRecordsUrl`."""
        path = f"{self.api}/queryAll" if include_deleted else f"{self.api}/query"
        page = self.http.request("GET", path, params={"q": soql})
        while True:
            self.pages += 1
            yield from page.get("records") or []
            next_url = page.get("nextRecordsUrl")
            if page.get("done", True) or not next_url:
                return
            page = self.http.request("GET", next_url)

    def count(self, object_type: str) -> int:
        sobject, _ = OBJECTS[object_type]
        page = self.http.request("GET", f"{self.api}/query",
                                 params={"q": f"SELECT COUNT() FROM {sobject}"})
        return int(page.get("totalSize", 0))

    def iter_modified(self, object_type: str, since_ms: int | None = None,
                      until_ms: int | None = None) -> Iterator[dict]:
        """Records (deleted ones included) by SystemModstamp in [since, until), ascending."""
        sobject, fields = OBJECTS[object_type]
        conditions = []
        if since_ms is not None:
            conditions.append(f"SystemModstamp >= {from_ms(since_ms)}")
        if until_ms is not None:
            conditions.append(f"SystemModstamp < {from_ms(until_ms)}")
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        soql = (f"SELECT {', '.join(fields)} FROM {sobject}{where} "
                "ORDER BY SystemModstamp ASC, Id ASC")
        for record in self.query(soql, include_deleted=True):
            problem = record_problem(record, fields)
            if problem is None:
                yield record
            else:
                key = record.get("Id") if isinstance(record, dict) else None
                self.bad_records.append({"object": object_type, "record_key": str(key),
                                         "rule": problem[0], "reason": problem[1],
                                         "raw": record})

    def update(self, sobject: str, record_id: str, fields: dict) -> None:
        self.http.request("PATCH", f"{self.api}/sobjects/{sobject}/{record_id}", json_body=fields)

    def delete(self, sobject: str, record_id: str) -> None:
        self.http.request("DELETE", f"{self.api}/sobjects/{sobject}/{record_id}",
                          allow_status=(404,))
