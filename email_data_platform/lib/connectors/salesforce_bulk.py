"""Salesforce Bulk API 2.0 query jobs: the bulk read for initial loads, as polars frames.

REST `queryAll` returns 2,000 records a request; a Bulk API 2.0 job runs the SOQL server-side
and serves CSV pages of up to `max_records` rows by locator. Each page is parsed into a polars
frame and handed on, so memory holds one page. Bulk CSV writes times with `Z` where REST writes
`+0000`: they are rewritten to REST's form so a record's version compares equal whichever path
read it. Bulk queries take no ORDER BY (the loader does not need one: it lands by id).
"""

import io
import time
from collections.abc import Iterator

import httpx
import polars as pl

from email_data_platform.lib.connectors.http import VendorAPIError

TIME_FIELDS = ("CreatedDate", "SystemModstamp", "LastModifiedDate")


def bulk_query_frames(client, soql: str, *, include_deleted: bool = True,
                      max_records: int = 100_000, poll_s: float = 0.5,
                      timeout_s: float = 3600.0) -> Iterator[pl.DataFrame]:
    """Every record of `soql` (a `SalesforceClient`'s org) as Utf8 frames, page by page.

    Raises VendorAPIError when the job fails, is aborted or outlasts `timeout_s`.
    """
    body = {"operation": "queryAll" if include_deleted else "query", "query": soql,
            "contentType": "CSV", "columnDelimiter": "COMMA", "lineEnding": "LF"}
    job = client.http.request("POST", f"{client.api}/jobs/query", json_body=body,
                              idempotent=False)
    path = f"{client.api}/jobs/query/{job['id']}"
    _await_completion(client, path, poll_s, timeout_s)
    locator = None
    while True:
        params = {"maxRecords": str(max_records), **({"locator": locator} if locator else {})}
        reply = _get_results(client, f"{path}/results", params)
        client.pages += 1
        if reply.content.strip():
            frame = pl.read_csv(io.BytesIO(reply.content), infer_schema=False)
            yield frame.with_columns(pl.col(c).str.replace(r"Z$", "+0000")
                                     for c in TIME_FIELDS if c in frame.columns)
        locator = reply.headers.get("sforce-locator")
        if not locator or locator == "null":
            return


def _await_completion(client, path: str, poll_s: float, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        state = client.http.request("GET", path).get("state")
        if state == "JobComplete":
            return
        if state in ("Failed", "Aborted") or time.monotonic() > deadline:
            raise VendorAPIError("salesforce", "GET", path, None,
                                 f"bulk query job ended {state or 'without a state'}")
        time.sleep(poll_s)


def _get_results(client, path: str, params: dict, attempts: int = 4) -> httpx.Response:
    """A CSV page (not JSON, so not through `HttpClient.request`), with the session's token;
    retried on a dropped connection, a 5xx or Salesforce's request-limit 403."""
    url = client.http._http.base_url.join(path)  # the client's instance URL
    for attempt in range(attempts):
        client.http.stats.requests += 1
        try:
            reply = httpx.get(url, params=params, timeout=300.0,
                              headers=client.http.auth_headers(client.http.tokens.token()))
        except httpx.TransportError:
            reply = None
        if reply is not None and reply.status_code == 401 and attempt == 0:
            client.http.tokens.refresh()
            continue
        if reply is not None and reply.status_code == 200:
            return reply
        retryable = reply is None or reply.status_code >= 500 or (
            reply.status_code == 403 and "REQUEST_LIMIT_EXCEEDED" in reply.text)
        if not retryable or attempt == attempts - 1:
            status = None if reply is None else reply.status_code
            raise VendorAPIError("salesforce", "GET", path, status,
                                 "bulk query results could not be read")
        time.sleep(min(30.0, 2.0**attempt))
    raise VendorAPIError("salesforce", "GET", path, None, "bulk query results not read")
