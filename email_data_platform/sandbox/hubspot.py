"""HubSpot CRM v3 simulator: contacts and deals, listing, search, writes, associations.

Faithful to the public contract where connectors depend on it: `GET /crm/v3/objects/{object}`
pages by `paging.next.after` (limit <= 100), `POST .../search` takes filterGroups/sorts/after and
refuses to page past 10,000 results with a 400, Bearer auth (401), 429 with `Retry-After` and
`X-HubSpot-RateLimit-*`. Writes move `lastmodifieddate` to now, like HubSpot does. CRM exports
(the bulk path for initial loads) are served by hubspot_exports.py, subscription types and
statuses (Communication Preferences v4) by hubspot_subscriptions.py.
"""

import polars as pl
from starlette.requests import Request

from email_data_platform.sandbox.faults import FaultInjector
from email_data_platform.sandbox.hubspot_exports import HubSpotExports
from email_data_platform.sandbox.hubspot_search import search_page
from email_data_platform.sandbox.hubspot_store import (
    ARCHIVED,
    ARCHIVED_AT,
    CONTACT_ID,
    CONTACTS,
    CREATED,
    DEALS,
    HUBSPOT_TIME,
    MODIFIED,
    ObjectTable,
)
from email_data_platform.sandbox.hubspot_subscriptions import (
    HubSpotSubscriptions,
    seeded_statuses,
)
from email_data_platform.sandbox.vendor import (
    Credential,
    Journal,
    Reply,
    VendorApp,
    VendorError,
    VendorSpec,
)

LIST_LIMIT = 100


def _error_body(status: int, code: str, message: str) -> dict:
    category = {401: "INVALID_AUTHENTICATION", 404: "OBJECT_NOT_FOUND", 429: "RATE_LIMITS"}
    body = {"status": "error", "message": message, "correlationId": "sandbox",
            "category": category.get(status, "VALIDATION_ERROR" if status < 500 else code)}
    if status == 429:
        body |= {"errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING"}
    return body


def _rate_headers(limit: int, remaining: int) -> dict:
    """The ten-secondly quota is nominal; a configured per-second limit shows as Secondly."""
    headers = {"X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
               "X-HubSpot-RateLimit-Max": "190", "X-HubSpot-RateLimit-Remaining": "189"}
    if limit:
        headers |= {"X-HubSpot-RateLimit-Secondly": str(limit),
                    "X-HubSpot-RateLimit-Secondly-Remaining": str(remaining)}
    return headers


def render_records(table: ObjectTable, rows: pl.DataFrame, properties: list[str],
                   associations: bool = False) -> list[dict]:
    """Rows -> HubSpot result objects, only the requested properties (vectorised render)."""
    spec = table.spec
    stamps = rows.with_columns(
        pl.col(c).cast(pl.Datetime("ms", "UTC")).dt.strftime(HUBSPOT_TIME) for c in (MODIFIED,
                                                                                   CREATED)
    )
    wanted = [p for p in properties if p in spec.properties]
    results = []
    for row in stamps.to_dicts():
        props = {p: row[p] for p in wanted}
        props["hs_object_id"] = str(row["id"])
        if "createdate" in properties:
            props["createdate"] = row[CREATED]
        if spec.modified_property in properties or "lastmodifieddate" in properties:
            props[spec.modified_property] = row[MODIFIED]
        record = {"id": str(row["id"]), "properties": props, "createdAt": row[CREATED],
                  "updatedAt": row[MODIFIED], "archived": row[ARCHIVED]}
        if row[ARCHIVED]:
            record["archivedAt"] = row[ARCHIVED_AT]
        if associations and row.get(CONTACT_ID) is not None:
            record["associations"] = {"contacts": {"results": [
                {"id": str(row[CONTACT_ID]), "type": "deal_to_contact"}]}}
        results.append(record)
    return results


def requested_properties(table: ObjectTable, request: Request) -> list[str]:
    values = request.query_params.getlist("properties")
    names = [p.strip() for v in values for p in v.split(",") if p.strip()]
    return names or list(table.spec.default_properties)


def corrupt_first_record(body: dict) -> None:
    """Fault: the first record of a page loses its id, the second gets a wrong-typed property."""
    results = body.get("results") or []
    if results:
        results[0].pop("id", None)
    if len(results) > 1:
        results[1]["properties"] = ["not", "an", "object"]


class HubSpotSimulator:
    """Holds contacts and deals, serves them over HubSpot's v3 API."""

    def __init__(self, contacts: pl.DataFrame, deals: pl.DataFrame, journal: Journal,
                 faults: FaultInjector, subscription_statuses: pl.DataFrame | None = None):
        self._statuses = subscription_statuses
        self.tables = {"contacts": ObjectTable(CONTACTS, contacts),
                       "deals": ObjectTable(DEALS, deals)}
        self.faults = faults
        self.token = Credential("pat-sandbox-")
        spec = VendorSpec("hubspot", self._authenticate, _error_body,
                          rate_limit_headers=_rate_headers)
        self.app = VendorApp(spec, journal, faults)
        self._share_one_modified()
        self._routes()

    def info(self, base_url: str) -> dict:
        return {"base_url": base_url, "access_token": self.token.value}

    def _authenticate(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and self.token.matches(token)

    def _share_one_modified(self) -> None:
        """Fault at load: many contacts share one lastmodifieddate (a bulk import)."""
        count = self.faults.config.shared_modified_count
        table = self.tables["contacts"]
        if count and table.active.height:
            ids = self.faults.choice(table.active["id"].to_list(), count)
            table.touch(ids, at_ms=int(table.active[MODIFIED].median()))

    def _table(self, request: Request) -> ObjectTable:
        name = request.path_params["object"]
        if name not in self.tables:
            raise VendorError(404, "OBJECT_NOT_FOUND", f"Unknown object type {name!r}.")
        return self.tables[name]

    def _routes(self) -> None:
        base = "/crm/v3/objects/{object}"
        self.app.route(base, self.list_objects, ["GET"])
        self.app.route(base, self.create_object, ["POST"])
        self.app.route(base + "/search", self.search, ["POST"])
        self.app.route(base + "/batch/update", self.batch_update, ["POST"])
        self.app.route(base + "/{object_id:int}", self.get_object, ["GET"])
        self.app.route(base + "/{object_id:int}", self.update_object, ["PATCH"])
        self.app.route(base + "/{object_id:int}", self.archive_object, ["DELETE"])
        self.app.route("/crm/v4/associations/deals/contacts/batch/read", self.read_associations,
                       ["POST"])
        self.app.add_admin(self.stats, self.rotate)
        self.exports = HubSpotExports(self.tables, self.app)
        contacts = self.tables["contacts"]
        statuses = (self._statuses if self._statuses is not None
                    else seeded_statuses(contacts.active))
        self.subscriptions = HubSpotSubscriptions(contacts, statuses, self.app)

    def stats(self) -> dict:
        return {**{name: table.stats() for name, table in self.tables.items()},
                "subscriptions": self.subscriptions.stats()}

    def rotate(self) -> dict:
        return {"access_token": self.token.rotate()}

    async def list_objects(self, request: Request) -> Reply:
        table = self._table(request)
        params = request.query_params
        limit = _int_param(params.get("limit", "10"), "limit")
        if not 1 <= limit <= LIST_LIMIT:
            raise VendorError(400, "VALIDATION_ERROR", f"limit must be 1..{LIST_LIMIT}.")
        after = _int_param(params.get("after", "0"), "after")
        archived = params.get("archived", "false").lower() == "true"
        rows = table.page_by_id(after, limit + 1, archived)
        page = rows.head(limit)
        body = {"results": render_records(table, page, requested_properties(table, request),
                                          associations="contacts" in params.get("associations",
                                                                                ""))}
        if rows.height > limit:
            next_after = str(rows["id"][limit])
            body["paging"] = {"next": {"after": next_after,
                                       "link": f"{request.url.path}?after={next_after}"}}
        self._modify_while_paging(table)
        return Reply(body, returned=page.height, corrupt=corrupt_first_record)

    def _modify_while_paging(self, table: ObjectTable) -> None:
        count = self.faults.config.modify_while_paging
        if count and table.active.height:
            table.touch(self.faults.choice(table.active["id"].to_list(), count))

    async def search(self, request: Request) -> Reply:
        table = self._table(request)
        query = await request.json()
        rows, total, next_after = search_page(table, query)
        props = query.get("properties") or list(table.spec.default_properties)
        body = {"total": total, "results": render_records(table, rows, props)}
        if next_after is not None:
            body["paging"] = {"next": {"after": str(next_after)}}
        self._modify_while_paging(table)
        return Reply(body, returned=rows.height, corrupt=corrupt_first_record)

    async def get_object(self, request: Request) -> Reply:
        table = self._table(request)
        object_id = request.path_params["object_id"]
        rows = table.frame.filter(pl.col("id") == object_id)
        if not rows.height:
            raise VendorError(404, "OBJECT_NOT_FOUND", f"Object {object_id} not found.")
        return Reply(render_records(table, rows, requested_properties(table, request))[0],
                     returned=1)

    async def create_object(self, request: Request) -> Reply:
        table = self._table(request)
        props = _validated_properties(table, (await request.json()).get("properties"))
        object_id = table.next_id()
        table.upsert_rows({object_id: props})
        rows = table.frame.filter(pl.col("id") == object_id)
        return Reply(render_records(table, rows, list(props) + ["createdate"])[0], status=201,
                     written=1)

    async def update_object(self, request: Request) -> Reply:
        table = self._table(request)
        object_id = request.path_params["object_id"]
        if table.get(object_id) is None:
            raise VendorError(404, "OBJECT_NOT_FOUND", f"Object {object_id} not found.")
        props = _validated_properties(table, (await request.json()).get("properties"))
        table.upsert_rows({object_id: props})
        rows = table.frame.filter(pl.col("id") == object_id)
        return Reply(render_records(table, rows, list(props))[0], written=1)

    async def batch_update(self, request: Request) -> Reply:
        table = self._table(request)
        inputs = (await request.json()).get("inputs") or []
        if len(inputs) > 100:
            raise VendorError(400, "VALIDATION_ERROR", "Batch size must be at most 100 inputs.")
        changes = {}
        for item in inputs:
            object_id = _int_param(str(item.get("id")), "id")
            if table.get(object_id) is None:
                raise VendorError(404, "OBJECT_NOT_FOUND", f"Object {object_id} not found.")
            changes[object_id] = _validated_properties(table, item.get("properties"))
        table.upsert_rows(changes)
        rows = table.frame.filter(pl.col("id").is_in(list(changes)))
        results = render_records(table, rows, list(table.spec.default_properties))
        return Reply({"status": "COMPLETE", "results": results}, written=len(changes))

    async def archive_object(self, request: Request) -> Reply:
        table = self._table(request)
        archived = table.archive(request.path_params["object_id"])
        return Reply(None, status=204, written=int(archived))

    async def read_associations(self, request: Request) -> Reply:
        inputs = (await request.json()).get("inputs") or []
        if len(inputs) > 1000:
            raise VendorError(400, "VALIDATION_ERROR", "Batch size must be at most 1000 inputs.")
        ids = [_int_param(str(i.get("id")), "id") for i in inputs]
        rows = self.tables["deals"].frame.filter(pl.col("id").is_in(ids))
        kind = [{"category": "HUBSPOT_DEFINED", "typeId": 3, "label": None}]
        results = [
            {"from": {"id": str(r["id"])},
             "to": [{"toObjectId": r[CONTACT_ID], "associationTypes": kind}]}
            for r in rows.select("id", CONTACT_ID).to_dicts() if r[CONTACT_ID] is not None
        ]
        return Reply({"status": "COMPLETE", "results": results}, returned=len(results))


def _int_param(value: str, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise VendorError(400, "VALIDATION_ERROR", f"{name} must be an integer.") from None


def _validated_properties(table: ObjectTable, props: object) -> dict:
    if not isinstance(props, dict):
        raise VendorError(400, "VALIDATION_ERROR", "properties must be an object.")
    unknown = sorted(set(props) - set(table.spec.properties))
    if unknown:
        raise VendorError(400, "VALIDATION_ERROR", f"Property values were not valid: {unknown}")
    return {k: None if v is None else str(v) for k, v in props.items()}
