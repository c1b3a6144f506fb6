"""Salesforce REST simulator: OAuth 2.0 tokens, SOQL `query`/`queryAll`, sObject writes.

Contract points kept: `POST /services/oauth2/token` (client_credentials or refresh_token grant)
returns an access token; an unknown or expired token is a 401 `INVALID_SESSION_ID`;
`GET /services/data/v60.0/query?q=` answers `totalSize`, `done`, `records` and, while more
remain, `nextRecordsUrl` (2,000 per page, `Sforce-Query-Options: batchSize=` down to 200);
`queryAll` also returns deleted rows (`IsDeleted`); over the request limit Salesforce answers
403 `REQUEST_LIMIT_EXCEEDED` (never 429). Bulk API 2.0 query jobs: salesforce_bulk.py.
Data: `salesforce_contacts` and `salesforce_orders`
files in the generator's shape; without them the org is empty.
"""

import secrets
import threading
import time
from urllib.parse import parse_qs

import polars as pl
from starlette.requests import Request

from email_data_platform.sandbox.faults import FaultInjector
from email_data_platform.sandbox.hubspot_store import now_ms, parse_ms
from email_data_platform.sandbox.salesforce_bulk import SalesforceBulk
from email_data_platform.sandbox.salesforce_soql import parse
from email_data_platform.sandbox.vendor import (
    Credential,
    Journal,
    Reply,
    VendorApp,
    VendorError,
    VendorSpec,
)

API = "/services/data/v60.0"
SF_TIME = "%Y-%m-%dT%H:%M:%S%.3f+0000"
TIME_COLUMNS = {"CreatedDate", "SystemModstamp"}
SCHEMA = {
    "Contact": {"Id": "Id", "FirstName": "FirstName", "LastName": "LastName", "Email": "Email",
                "Phone": "Phone", "Birthdate": "Birthdate", "MailingCity": "MailingCity",
                "MailingPostalCode": "MailingPostalCode", "MailingCountry": "MailingCountry",
                "Account.Name": "Account.Name", "CreatedDate": "CreatedDate",
                "LastModifiedDate": "SystemModstamp", "SystemModstamp": "SystemModstamp",
                "IsDeleted": "IsDeleted", "HasOptedOutOfEmail": "HasOptedOutOfEmail"},
    "Opportunity": {"Id": "Id", "Name": "Name", "Amount": "Amount",
                    "CurrencyIsoCode": "CurrencyIsoCode", "CloseDate": "CloseDate",
                    "StageName": "StageName", "ContactId": "ContactId",
                    "CreatedDate": "CreatedDate", "LastModifiedDate": "SystemModstamp",
                    "SystemModstamp": "SystemModstamp", "IsDeleted": "IsDeleted"},
}
PREFIX = {"Contact": "003", "Opportunity": "006"}
CONTACT_SOURCE = {"FirstName": "first_name", "LastName": "last_name", "Email": "email",
                  "Phone": "phone", "Birthdate": "date_of_birth", "MailingCity": "city",
                  "MailingPostalCode": "postal_code", "MailingCountry": "country",
                  "Account.Name": "company"}


def sf_id(obj: str, number: pl.Expr) -> pl.Expr:
    """18-character Salesforce-style ids: key prefix + zero-padded number."""
    return pl.concat_str([pl.lit(PREFIX[obj]), number.cast(pl.Utf8).str.zfill(15)])


def contacts_org(contacts: pl.DataFrame | None, loaded_ms: int) -> pl.DataFrame:
    frame = contacts if contacts is not None else pl.DataFrame(schema={"id": pl.Utf8})
    cols = [(pl.col(src).cast(pl.Utf8) if src in frame.columns else pl.lit(None, pl.Utf8))
            .alias(dst) for dst, src in CONTACT_SOURCE.items()]
    stamp = (parse_ms("updated_at") if "updated_at" in frame.columns else pl.lit(None))
    created = (parse_ms("created_at") if "created_at" in frame.columns else pl.lit(None))
    return frame.select(sf_id("Contact", pl.col("id")).alias("Id"), *cols,
                        created.fill_null(loaded_ms).cast(pl.Int64).alias("CreatedDate"),
                        stamp.fill_null(loaded_ms).cast(pl.Int64).alias("SystemModstamp"),
                        pl.lit(False).alias("IsDeleted"), _opted_out(frame))


def _opted_out(frame: pl.DataFrame) -> pl.Expr:
    """`HasOptedOutOfEmail` is a checkbox: a boolean, never null."""
    flag = (pl.col("email_opt_out").cast(pl.Utf8).str.to_lowercase() == "true"
            if "email_opt_out" in frame.columns else pl.lit(False))
    return flag.fill_null(False).alias("HasOptedOutOfEmail")


def opportunities_org(orders: pl.DataFrame | None, loaded_ms: int) -> pl.DataFrame:
    if orders is None:
        return pl.DataFrame(schema={c: pl.Utf8 for c in SCHEMA["Opportunity"].values()
                                    if c not in ("Amount", "IsDeleted", *TIME_COLUMNS)}
                            | {"Amount": pl.Float64, "CreatedDate": pl.Int64,
                               "SystemModstamp": pl.Int64, "IsDeleted": pl.Boolean})
    stamp = parse_ms("updated_at").fill_null(loaded_ms)
    return orders.select(
        sf_id("Opportunity", pl.col("order_id")).alias("Id"),
        pl.concat_str([pl.lit("Order "), pl.col("order_id")]).alias("Name"),
        pl.col("amount").cast(pl.Float64, strict=False).alias("Amount"),
        pl.col("currency").alias("CurrencyIsoCode"), pl.col("order_date").alias("CloseDate"),
        pl.col("status").alias("StageName"),
        sf_id("Contact", pl.col("contact_id")).alias("ContactId"),
        stamp.alias("CreatedDate"), stamp.alias("SystemModstamp"), pl.lit(False).alias("IsDeleted"))


def _error_body(status: int, code: str, message: str) -> list:
    codes = {401: "INVALID_SESSION_ID", 403: "REQUEST_LIMIT_EXCEEDED", 404: "NOT_FOUND"}
    return [{"message": message, "errorCode": codes.get(status, code)}]


class SalesforceSimulator:
    def __init__(self, contacts: pl.DataFrame | None, orders: pl.DataFrame | None,
                 journal: Journal, faults: FaultInjector, token_ttl_s: float = 7200):
        loaded = now_ms()
        self.org = {"Contact": contacts_org(contacts, loaded),
                    "Opportunity": opportunities_org(orders, loaded)}
        self.client_id, self.client_secret = "sandbox-connected-app", Credential("sf-secret-")
        self.token_ttl_s = token_ttl_s
        self._tokens: dict[str, float] = {}  # access token -> expiry (monotonic)
        self._cursors: dict[str, tuple[pl.DataFrame, list[str], str, int]] = {}
        self._lock = threading.Lock()
        spec = VendorSpec("salesforce", self._authenticate, _error_body, throttle_status=403,
                          throttle_code="REQUEST_LIMIT_EXCEEDED")
        self.app = VendorApp(spec, journal, faults)
        self.app.route("/services/oauth2/token", self.token, ["POST"], faults=False)
        for verb in ("query", "queryAll"):
            self.app.route(f"{API}/{verb}", self.query, ["GET"])
        self.app.route(API + "/query/{locator}", self.more, ["GET"])
        self.app.route(API + "/sobjects/{object}/{record_id}", self.update, ["PATCH"])
        self.app.route(API + "/sobjects/{object}/{record_id}", self.delete, ["DELETE"])
        self.app.add_admin(self.stats, self.rotate)
        self.app.route("/_sandbox/expire_sessions", self.expire_sessions, ["POST"], faults=False)
        self.bulk = SalesforceBulk(self.org, SCHEMA, TIME_COLUMNS, API, self.app,
                                   self._authenticate)

    async def expire_sessions(self, request: Request) -> Reply:
        """Every access token stops working (as at session timeout); the secret stays valid."""
        with self._lock:
            expired = len(self._tokens)
            self._tokens.clear()
        return Reply({"expired": expired})

    def info(self, base_url: str) -> dict:
        return {"base_url": base_url, "client_id": self.client_id,
                "client_secret": self.client_secret.value}

    def rotate(self) -> dict:
        with self._lock:
            self._tokens.clear()  # revoke every session
        return {"client_secret": self.client_secret.rotate()}

    def stats(self) -> dict:
        return {obj: {"total": int((~frame["IsDeleted"]).sum()),
                      "deleted": int(frame["IsDeleted"].sum())} for obj, frame in self.org.items()}

    def _authenticate(self, request: Request) -> bool:
        if request.url.path == "/services/oauth2/token":
            return True
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        with self._lock:
            expiry = self._tokens.get(token)
        return scheme.lower() == "bearer" and expiry is not None and expiry > time.monotonic()

    async def token(self, request: Request) -> Reply:
        # Parsed by hand: starlette's form parser needs python-multipart, not a dependency here.
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        if (form.get("client_id") != self.client_id
                or not self.client_secret.matches(form.get("client_secret"))):
            return Reply({"error": "invalid_client", "error_description": "invalid client"}, 400)
        access = "00Dsandbox!" + secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[access] = time.monotonic() + self.token_ttl_s
        base = str(request.base_url).rstrip("/")
        return Reply({"access_token": access, "instance_url": base, "token_type": "Bearer",
                      "issued_at": str(now_ms()), "id": f"{base}/id/00Dsandbox/005sandbox"})

    def _render(self, obj: str, rows: pl.DataFrame, fields: list[str]) -> list[dict]:
        columns = SCHEMA[obj]
        shown = rows.select({"Id"} | {columns[f] for f in fields}).with_columns(
            pl.col(c).cast(pl.Datetime("ms", "UTC")).dt.strftime(SF_TIME)
            for c in TIME_COLUMNS if c in {columns[f] for f in fields})
        records = []
        for row in shown.to_dicts():
            record = {"attributes": {"type": obj, "url": f"{API}/sobjects/{obj}/{row['Id']}"}}
            for name in fields:
                value = row[columns[name]]
                if "." in name:  # a parent relationship field, nested as Salesforce does
                    parent, child = name.split(".", 1)
                    record[parent] = None if value is None else {
                        "attributes": {"type": parent}, child: value}
                else:
                    record[name] = value
            records.append(record)
        return records

    def _page(self, obj: str, rows: pl.DataFrame, fields: list[str], offset: int,
              batch: int, locator: str) -> Reply:
        page = rows.slice(offset, batch)
        body = {"totalSize": rows.height, "done": offset + batch >= rows.height,
                "records": self._render(obj, page, fields)}
        if not body["done"]:
            body["nextRecordsUrl"] = f"{API}/query/{locator}-{offset + batch}"
        return Reply(body, returned=page.height)

    async def query(self, request: Request) -> Reply:
        query = parse(request.query_params.get("q", ""), SCHEMA, TIME_COLUMNS)
        rows = self.org[query.object]
        if not request.url.path.endswith("queryAll"):
            rows = rows.filter(~pl.col("IsDeleted"))
        if query.where is not None:
            rows = rows.filter(query.where)
        by = [c for c, _ in query.order] + ["Id"]
        rows = rows.sort(by, descending=[d for _, d in query.order] + [False])
        if query.limit is not None:
            rows = rows.head(query.limit)
        if query.count_only:
            return Reply({"totalSize": rows.height, "done": True, "records": []})
        options = request.headers.get("sforce-query-options", "")
        batch = 2000
        if "batchSize=" in options:
            batch = max(200, min(2000, int(options.split("batchSize=")[1].split(",")[0])))
        locator = secrets.token_hex(8)
        with self._lock:
            self._cursors[locator] = (rows, query.fields, query.object, batch)
        return self._page(query.object, rows, query.fields, 0, batch, locator)

    async def more(self, request: Request) -> Reply:
        locator, _, offset = request.path_params["locator"].rpartition("-")
        with self._lock:
            cursor = self._cursors.get(locator)
        if cursor is None or not offset.isdigit():
            raise VendorError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        rows, fields, obj, batch = cursor
        return self._page(obj, rows, fields, int(offset), batch, locator)

    def _write(self, request: Request, changes: dict) -> None:
        obj, record_id = request.path_params["object"], request.path_params["record_id"]
        if obj not in self.org:
            raise VendorError(404, "NOT_FOUND", f"The requested resource does not exist: {obj}")
        with self._lock:
            frame = self.org[obj]
            if not frame.filter((pl.col("Id") == record_id) & ~pl.col("IsDeleted")).height:
                raise VendorError(404, "NOT_FOUND", f"Provided external ID field does not exist "
                                  f"or is not accessible: {record_id}")
            hit = pl.col("Id") == record_id
            updates = [pl.when(hit).then(pl.lit(v)).otherwise(pl.col(SCHEMA[obj][k]))
                       .alias(SCHEMA[obj][k]) for k, v in changes.items()]
            self.org[obj] = frame.with_columns(
                *updates, pl.when(hit).then(now_ms()).otherwise(pl.col("SystemModstamp"))
                .alias("SystemModstamp"))

    async def update(self, request: Request) -> Reply:
        body = await request.json()
        obj = request.path_params["object"]
        unknown = sorted(set(body) - set(SCHEMA.get(obj, {})) - {"Id"})
        if unknown or any(SCHEMA[obj][k] in TIME_COLUMNS or k == "IsDeleted" for k in body):
            raise VendorError(400, "INVALID_FIELD", f"Unable to update fields: {unknown}")
        self._write(request, body)
        return Reply(None, status=204, written=1)

    async def delete(self, request: Request) -> Reply:
        self._write(request, {"IsDeleted": True})
        return Reply(None, status=204, written=1)
