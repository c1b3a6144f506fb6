"""HubSpot CRM v3 connector: contacts and deals, full listings and incremental search.

Incremental pulls use the search API on the last-modified property, ascending. Instead of paging
a query by offset (which skips records when one is modified mid-listing and stops at HubSpot's
10,000-result cap), every page re-opens the window at the last timestamp seen: the window slides
forward, records sharing that timestamp are re-read and de-duplicated by id, and an instant
holding more than one page of records is drained by id. Archived records are read from the
`archived=true` listing and reported as deletions. Large initial loads read a CRM export
(hubspot_exports.py) instead of paging 100 records a request.
"""

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import polars as pl

from email_data_platform.lib.connectors.http import (
    HttpClient,
    RequestBudget,
    RetryPolicy,
    StaticToken,
    TokenProvider,
)
from email_data_platform.lib.connectors.hubspot_exports import export_frames

logger = logging.getLogger(__name__)

LIST_PAGE = 100
SEARCH_PAGE = 200
CONTACT_PROPERTIES = ("firstname", "lastname", "email", "phone", "date_of_birth", "city", "zip",
                      "country", "company", "createdate", "lastmodifieddate", "hs_email_optout")
DEAL_PROPERTIES = ("dealname", "amount", "deal_currency_code", "closedate", "dealstage",
                   "createdate", "hs_lastmodifieddate")
MODIFIED_PROPERTY = {"contacts": "lastmodifieddate", "deals": "hs_lastmodifieddate"}


def now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


def to_ms(stamp: str | int) -> int:
    """HubSpot timestamp (ISO 8601 or epoch ms, as text or a number) -> epoch ms."""
    if isinstance(stamp, int):
        return stamp
    text = str(stamp).strip()
    if text.isdigit():
        return int(text)
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def from_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def record_problem(record: object, required: str | None = None) -> tuple[str, str] | None:
    """(rule, reason) when a result object breaks HubSpot's contract, else None."""
    if not isinstance(record, dict):
        return "record_not_object", f"record is a {type(record).__name__}, not an object"
    object_id = record.get("id")
    if not isinstance(object_id, str) or not object_id.isdigit():
        return "missing_id", f"record id {object_id!r} is missing or not a numeric string"
    props = record.get("properties")
    if not isinstance(props, dict):
        return "wrong_type", f"properties is a {type(props).__name__}, not an object"
    wrong = sorted(k for k, v in props.items() if v is not None and not isinstance(v, str))
    if wrong:
        return "wrong_type", f"properties {wrong} are not strings"
    if required and not props.get(required):
        return "missing_property", f"property {required!r} is missing"
    return None


class HubSpotClient:
    """Reads (and, for tests and write-backs, updates) HubSpot CRM objects."""

    def __init__(self, base_url: str, access_token: str | None = None,
                 token_provider: TokenProvider | None = None, *,
                 policy: RetryPolicy | None = None, budget: RequestBudget | None = None,
                 clock_ms: Callable[[], int] = now_ms):
        self.clock_ms = clock_ms  # "now" for searches without an upper bound; tests fix it
        if token_provider is None:
            if not access_token:
                raise ValueError("HubSpotClient needs an access_token or a token_provider")
            token_provider = StaticToken(access_token)
        self.http = HttpClient("hubspot", base_url, token_provider, policy=policy, budget=budget)
        self.bad_records: list[dict] = []
        self.pages = 0

    def close(self) -> None:
        self.http.close()

    def _valid(self, object_type: str, results: list, required: str | None = None) -> list[dict]:
        """Keep good records; set bad ones aside with the rule they broke."""
        good = []
        for record in results:
            problem = record_problem(record, required)
            if problem is None:
                good.append(record)
                continue
            key = record.get("id") if isinstance(record, dict) else None
            self.bad_records.append({"object": object_type, "record_key": str(key),
                                     "rule": problem[0], "reason": problem[1], "raw": record})
        return good

    def iter_objects(self, object_type: str, properties: tuple[str, ...], *,
                     archived: bool = False, associations: str | None = None) -> Iterator[dict]:
        """Full listing, paged by `after`."""
        params: dict = {"limit": LIST_PAGE, "properties": ",".join(properties),
                        "archived": str(archived).lower()}
        if associations:
            params["associations"] = associations
        after = None
        while True:
            page = self.http.request("GET", f"/crm/v3/objects/{object_type}",
                                     params={**params, **({"after": after} if after else {})})
            self.pages += 1
            yield from self._valid(object_type, page.get("results") or [])
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return

    def iter_contacts(self, archived: bool = False) -> Iterator[dict]:
        return self.iter_objects("contacts", CONTACT_PROPERTIES, archived=archived)

    def iter_deals(self, archived: bool = False) -> Iterator[dict]:
        return self.iter_objects("deals", DEAL_PROPERTIES, archived=archived,
                                 associations="contacts")

    def export_objects(self, object_type: str, properties: tuple[str, ...], *,
                       associated: str | None = None, batch_rows: int = 50_000,
                       poll_s: float = 0.5) -> Iterator[pl.DataFrame]:
        """Every live object through a CRM export (the bulk path), as Utf8 frames of up to
        `batch_rows` rows: `id`, the properties, and `contact_ids` when associated. Rows whose
        id is not numeric are set aside in `bad_records` like a bad REST record."""
        prop = MODIFIED_PROPERTY[object_type]
        properties = (*properties, prop) if prop not in properties else properties
        for frame in export_frames(self.http, object_type, properties, prop,
                                   associated=associated, batch_rows=batch_rows, poll_s=poll_s):
            self.pages += 1
            numeric = frame["id"].str.contains(r"^[0-9]+$").fill_null(False)
            for row in frame.filter(~numeric).to_dicts():
                self.bad_records.append({"object": object_type, "record_key": str(row["id"]),
                                         "rule": "missing_id",
                                         "reason": "export row id is missing or not numeric",
                                         "raw": row})
            yield frame.filter(numeric)

    def count(self, object_type: str) -> int:
        """The source-reported number of (non-archived) objects, for reconciliation."""
        page = self.http.request("POST", f"/crm/v3/objects/{object_type}/search",
                                 json_body={"limit": 1, "filterGroups": []})
        return int(page.get("total", 0))

    def _search(self, object_type: str, filters: list[dict], sort_by: str,
                properties: tuple[str, ...]) -> dict:
        body = {"filterGroups": [{"filters": filters}], "limit": SEARCH_PAGE,
                "sorts": [{"propertyName": sort_by, "direction": "ASCENDING"}],
                "properties": list(properties)}
        page = self.http.request("POST", f"/crm/v3/objects/{object_type}/search", json_body=body)
        self.pages += 1
        return page

    def search_modified_since(self, object_type: str, since: int | str,
                              until: int | str | None = None,
                              properties: tuple[str, ...] | None = None) -> Iterator[dict]:
        """Every object modified in [since, until), ascending, each id at most once.

        `since`/`until` are epoch milliseconds or ISO 8601 strings; `until` defaults to now.
        """
        since_ms = to_ms(since)
        until_ms = to_ms(until) if until is not None else self.clock_ms() + 1
        prop = MODIFIED_PROPERTY[object_type]
        properties = properties or (CONTACT_PROPERTIES if object_type == "contacts"
                                    else DEAL_PROPERTIES)
        properties = (*properties, prop) if prop not in properties else properties
        lower, seen_at_lower = since_ms, set()
        while lower < until_ms:
            filters = [{"propertyName": prop, "operator": "GTE", "value": str(lower)},
                       {"propertyName": prop, "operator": "LT", "value": str(until_ms)}]
            page = self._search(object_type, filters, prop, properties)
            results = self._valid(object_type, page.get("results") or [], required=prop)
            if page.get("results") and not results:
                raise RuntimeError(f"hubspot {object_type}: a whole search page broke the "
                                   f"contract (see quarantine); cannot page past {lower}")
            fresh = [r for r in results
                     if not (to_ms(r["properties"][prop]) == lower and r["id"] in seen_at_lower)]
            yield from fresh
            has_more = bool((page.get("paging") or {}).get("next"))
            if not has_more:
                return
            if not fresh:  # a full page of one instant, all seen: drain that instant by id
                yield from self._drain_instant(object_type, lower, seen_at_lower, properties)
                lower, seen_at_lower = lower + 1, set()
                continue
            newest = to_ms(fresh[-1]["properties"][prop])
            at_newest = {r["id"] for r in fresh if to_ms(r["properties"][prop]) == newest}
            seen_at_lower = seen_at_lower | at_newest if newest == lower else at_newest
            lower = newest

    def _drain_instant(self, object_type: str, instant_ms: int, seen: set[str],
                       properties: tuple[str, ...]) -> Iterator[dict]:
        prop, last_id = MODIFIED_PROPERTY[object_type], 0
        logger.info("hubspot %s: draining instant %s by id", object_type, from_ms(instant_ms))
        while True:
            filters = [{"propertyName": prop, "operator": "EQ", "value": str(instant_ms)},
                       {"propertyName": "hs_object_id", "operator": "GT", "value": str(last_id)}]
            page = self._search(object_type, filters, "hs_object_id", properties)
            results = self._valid(object_type, page.get("results") or [])
            yield from (r for r in results if r["id"] not in seen)
            if not results or not (page.get("paging") or {}).get("next"):
                return
            last_id = max(int(r["id"]) for r in results)

    def deal_contact_ids(self, deal_ids: list[str]) -> dict[str, str]:
        """deal id -> associated contact id (v4 batch association read, 1,000 per call)."""
        found: dict[str, str] = {}
        for start in range(0, len(deal_ids), 1000):
            inputs = [{"id": d} for d in deal_ids[start:start + 1000]]
            page = self.http.request("POST", "/crm/v4/associations/deals/contacts/batch/read",
                                     json_body={"inputs": inputs})
            for result in page.get("results") or []:
                targets = result.get("to") or []
                if targets:
                    found[str(result["from"]["id"])] = str(targets[0]["toObjectId"])
        return found

    def update_objects(self, object_type: str, updates: dict[str, dict]) -> int:
        """Batch-update properties (100 per call). Returns objects updated."""
        items = [{"id": str(k), "properties": v} for k, v in updates.items()]
        for start in range(0, len(items), 100):
            self.http.request("POST", f"/crm/v3/objects/{object_type}/batch/update",
                              json_body={"inputs": items[start:start + 100]})
        return len(items)

    def archive_object(self, object_type: str, object_id: str) -> None:
        self.http.request("DELETE", f"/crm/v3/objects/{object_type}/{object_id}",
                          allow_status=(404,))
