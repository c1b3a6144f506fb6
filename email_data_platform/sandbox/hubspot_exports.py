"""HubSpot CRM exports for the simulator: the bulk path an initial load of a large portal takes.

Shape of the public API (CRM Exports v3):
- `POST /crm/v3/exports/export/async` with `exportType` (VIEW), `format` (CSV; XLSX and XLS
  exist upstream, the simulator answers 400), `exportName`, `objectType` (CONTACT or DEAL, or
  the ids 0-1 / 0-3), `objectProperties` and an optional `associatedObjectType` answers 202
  with the task `id`;
- `GET /crm/v3/exports/export/async/tasks/{taskId}/status` reports PROCESSING, then COMPLETE
  with `result`: a pre-signed download URL that needs no token and expires after 5 minutes;
- the file holds every live (non-archived) record, one column per requested property, headed
  by the property's label, the id as `Record ID`, associated ids as `Associated <Object> IDs`
  (semicolon-separated). Over 1,000,000 rows the file is a ZIP of CSVs of up to 1,000,000 rows.
- Limits: one export at a time per portal (a second is refused while one is in progress) and
  30 in a rolling 24 hours (429).
Timestamps are written as the REST API renders them (ISO 8601 UTC), so a record exported and
later searched carries the same version string.
"""

import io
import secrets
import time
import zipfile
from collections import deque

import polars as pl
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from email_data_platform.sandbox.hubspot_store import (
    CONTACT_ID,
    CREATED,
    HUBSPOT_TIME,
    MODIFIED,
    ObjectTable,
)
from email_data_platform.sandbox.vendor import Reply, VendorApp, VendorError

OBJECT_TYPES = {"CONTACT": "contacts", "0-1": "contacts", "DEAL": "deals", "0-3": "deals"}
LABELS = {
    "firstname": "First Name", "lastname": "Last Name", "email": "Email",
    "phone": "Phone Number", "date_of_birth": "Date of birth", "city": "City",
    "zip": "Postal Code", "country": "Country/Region", "company": "Company Name",
    "hs_email_optout": "Unsubscribed from all email",
    "createdate": "Create Date", "lastmodifieddate": "Last Modified Date",
    "dealname": "Deal Name", "amount": "Amount", "deal_currency_code": "Currency",
    "closedate": "Close Date", "dealstage": "Deal Stage", "pipeline": "Pipeline",
    "hs_lastmodifieddate": "Last Modified Date", "hs_object_id": "Record ID",
}
ROWS_PER_FILE = 1_000_000
EXPORTS_PER_DAY = 30
URL_TTL_S = 300


class HubSpotExports:
    """Export tasks over the simulator's object tables; routes added to its app."""

    def __init__(self, tables: dict[str, ObjectTable], app: VendorApp):
        self.tables, self.app = tables, app
        self.tasks: dict[str, dict] = {}
        self.files: dict[str, tuple[float, bytes, str]] = {}
        self.started: deque[float] = deque()
        app.route("/crm/v3/exports/export/async", self.start, ["POST"])
        app.route("/crm/v3/exports/export/async/tasks/{task_id}/status", self.status, ["GET"])
        app.routes.append(Route("/sandbox-files/exports/{token}", self.download, methods=["GET"]))

    async def start(self, request: Request) -> Reply:
        body = await request.json()
        if (body.get("format") or "CSV").upper() != "CSV":
            raise VendorError(400, "VALIDATION_ERROR", "The sandbox exports CSV only.")
        object_name = OBJECT_TYPES.get(str(body.get("objectType", "")).upper())
        if object_name is None:
            raise VendorError(400, "VALIDATION_ERROR", "objectType must be CONTACT or DEAL.")
        properties = list(body.get("objectProperties") or [])
        table = self.tables[object_name]
        known = {*table.spec.properties, "createdate", table.spec.modified_property,
                 "hs_object_id"}
        unknown = sorted(set(properties) - known)
        if not properties or unknown:
            raise VendorError(400, "VALIDATION_ERROR",
                              f"objectProperties must name known properties: {unknown}")
        self._admit()
        task_id = str(secrets.randbelow(10**9))
        self.tasks[task_id] = {"object": object_name, "properties": properties, "polls": 0,
                               "associated": body.get("associatedObjectType"),
                               "requested_at": time.time()}
        return Reply({"id": task_id, "links": {
            "status": f"/crm/v3/exports/export/async/tasks/{task_id}/status"}}, status=202)

    def _admit(self) -> None:
        now = time.time()
        while self.started and now - self.started[0] > 86_400:
            self.started.popleft()
        if any(t.get("status") != "COMPLETE" for t in self.tasks.values()):
            raise VendorError(400, "VALIDATION_ERROR", "Another export is in progress.")
        if len(self.started) >= EXPORTS_PER_DAY:
            raise VendorError(429, "RATE_LIMITS", f"At most {EXPORTS_PER_DAY} exports a day.")
        self.started.append(now)

    async def status(self, request: Request) -> Reply:
        task = self.tasks.get(request.path_params["task_id"])
        if task is None:
            raise VendorError(404, "OBJECT_NOT_FOUND", "Unknown export task.")
        task["polls"] += 1
        if task["polls"] == 1:  # a real export is never ready at the first poll
            return Reply({"status": "PROCESSING", "requestedAt": task["requested_at"]})
        if "result" not in task:
            token = secrets.token_urlsafe(16)
            payload, media = self._file(task)
            self.files[token] = (time.time() + URL_TTL_S, payload, media)
            task.update(status="COMPLETE", rows=task.get("rows"),
                        result=f"{str(request.base_url).rstrip('/')}/sandbox-files/exports/{token}")
        return Reply({"status": "COMPLETE", "result": task["result"], "numErrors": 0,
                      "requestedAt": task["requested_at"]})

    def _file(self, task: dict) -> tuple[bytes, str]:
        frame = export_frame(self.tables[task["object"]], task["properties"],
                             task["associated"])
        task["rows"] = frame.height
        if frame.height <= ROWS_PER_FILE:
            return frame.write_csv().encode(), "text/csv"
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for part, start in enumerate(range(0, frame.height, ROWS_PER_FILE)):
                chunk = frame.slice(start, ROWS_PER_FILE).write_csv()
                archive.writestr(f"{task['object']}-{part + 1}.csv", chunk)
        return buffer.getvalue(), "application/zip"

    async def download(self, request: Request) -> Response:
        token = request.path_params["token"]
        expires, payload, media = self.files.get(token, (0.0, b"", ""))
        status = 200 if time.time() < expires else 403
        self.app.journal.record(vendor="hubspot", method="GET", path="/sandbox-files/exports",
                                query="", status=status, records_returned=0, records_written=0,
                                fault=None, ms=0.0)
        if status != 200:
            return Response(b"<Error><Code>AccessDenied</Code><Message>Request has expired"
                            b"</Message></Error>", 403, media_type="application/xml")
        return Response(payload, 200, media_type=media)


def export_frame(table: ObjectTable, properties: list[str], associated: str | None
                 ) -> pl.DataFrame:
    """Every live record: `Record ID`, the requested properties by label, associations."""
    rows = table.active
    stamps = {"createdate": CREATED, table.spec.modified_property: MODIFIED}
    columns = [pl.col("id").cast(pl.Utf8).alias("Record ID")]
    for prop in properties:
        if prop == "hs_object_id":
            continue
        if prop in stamps:
            value = pl.col(stamps[prop]).cast(pl.Datetime("ms", "UTC")).dt.strftime(HUBSPOT_TIME)
        else:
            value = pl.col(prop).cast(pl.Utf8)
        columns.append(value.alias(LABELS.get(prop, prop)))
    if associated and str(associated).upper() in ("CONTACT", "0-1") and CONTACT_ID in rows.columns:
        columns.append(pl.col(CONTACT_ID).cast(pl.Utf8).alias("Associated Contact IDs"))
    return rows.select(columns)
