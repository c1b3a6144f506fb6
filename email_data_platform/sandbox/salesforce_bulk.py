"""Salesforce Bulk API 2.0 query jobs for the simulator: the bulk path of large initial loads.

Shape of the public API:
- `POST /services/data/vXX.X/jobs/query` with `operation` (query or queryAll), `query` (SOQL),
  `contentType` CSV, `columnDelimiter` COMMA, `lineEnding` LF answers 200 with the job
  (`id` 750..., `state` UploadComplete, `object`, `operation`, `apiVersion`);
- `GET .../jobs/query/{id}` reports InProgress at the first poll, then JobComplete with
  `numberRecordsProcessed`;
- `GET .../jobs/query/{id}/results?maxRecords=&locator=` answers CSV (header = the SOQL's field
  names, `Account.Name` for parent fields; null as an empty field; times with `Z`, not `+0000`)
  with `Sforce-Locator` (the next locator, or `null` after the last page) and
  `Sforce-NumberOfRecords`; a job's results before JobComplete are a 400 `INVALIDJOBSTATE`.
- `ORDER BY` is not supported by Bulk API 2.0 queries (400), as upstream.
Results are served without fault injection (the job endpoints have it).
"""

import json
import secrets
import time

import polars as pl
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from email_data_platform.sandbox.salesforce_soql import parse
from email_data_platform.sandbox.vendor import Reply, VendorApp, VendorError

BULK_TIME = "%Y-%m-%dT%H:%M:%S%.3fZ"
DEFAULT_MAX_RECORDS = 50_000


class SalesforceBulk:
    """Query jobs over the simulator's org; routes added to its app."""

    def __init__(self, org: dict[str, pl.DataFrame], schema: dict, time_columns: set[str],
                 api: str, app: VendorApp, authenticate):
        self.org, self.schema, self.time_columns = org, schema, time_columns
        self.api, self.app, self.authenticate = api, app, authenticate
        self.jobs: dict[str, dict] = {}
        app.route(f"{api}/jobs/query", self.create, ["POST"])
        app.route(api + "/jobs/query/{job_id}", self.status, ["GET"])
        app.routes.append(Route(api + "/jobs/query/{job_id}/results", self.results,
                                methods=["GET"]))

    async def create(self, request: Request) -> Reply:
        body = await request.json()
        operation = body.get("operation")
        if operation not in ("query", "queryAll"):
            raise VendorError(400, "INVALIDJOB", "operation must be query or queryAll")
        if (body.get("contentType") or "CSV") != "CSV":
            raise VendorError(400, "INVALIDJOB", "contentType must be CSV")
        soql = body.get("query") or ""
        if " order by " in soql.lower():
            raise VendorError(400, "API_ERROR", "ORDER BY is not supported in Bulk API 2.0")
        query = parse(soql, self.schema, self.time_columns)
        job_id = "750" + secrets.token_hex(6).upper()[:12]
        self.jobs[job_id] = {"query": query, "operation": operation, "polls": 0, "rows": None}
        return Reply(self._info(job_id, "UploadComplete"))

    def _info(self, job_id: str, state: str) -> dict:
        job = self.jobs[job_id]
        info = {"id": job_id, "operation": job["operation"], "object": job["query"].object,
                "state": state, "concurrencyMode": "Parallel", "contentType": "CSV",
                "apiVersion": float(self.api.rsplit("v", 1)[1]), "lineEnding": "LF",
                "columnDelimiter": "COMMA"}
        if job["rows"] is not None:
            info["numberRecordsProcessed"] = job["rows"].height
        return info

    async def status(self, request: Request) -> Reply:
        job = self.jobs.get(request.path_params["job_id"])
        if job is None:
            raise VendorError(404, "NOT_FOUND", "The requested resource does not exist")
        job["polls"] += 1
        if job["polls"] == 1:
            return Reply(self._info(request.path_params["job_id"], "InProgress"))
        if job["rows"] is None:
            job["rows"] = self._rows(job)
        return Reply(self._info(request.path_params["job_id"], "JobComplete"))

    def _rows(self, job: dict) -> pl.DataFrame:
        query = job["query"]
        rows = self.org[query.object]
        if job["operation"] == "query":
            rows = rows.filter(~pl.col("IsDeleted"))
        if query.where is not None:
            rows = rows.filter(query.where)
        if query.limit is not None:
            rows = rows.head(query.limit)
        columns = self.schema[query.object]
        return rows.sort("Id").select(
            (pl.col(columns[f]).cast(pl.Datetime("ms", "UTC")).dt.strftime(BULK_TIME)
             if columns[f] in self.time_columns
             else pl.col(columns[f]).cast(pl.Utf8).str.to_lowercase()
             if rows.schema[columns[f]] == pl.Boolean
             else pl.col(columns[f]).cast(pl.Utf8)).alias(f)
            for f in query.fields)

    async def results(self, request: Request) -> Response:
        started = time.perf_counter()
        response = self._results(request)
        self.app.journal.record(vendor="salesforce", method="GET", path=request.url.path,
                                query=request.url.query, status=response.status_code,
                                records_returned=int(response.headers.get(
                                    "sforce-numberofrecords", 0)),
                                records_written=0, fault=None,
                                ms=round((time.perf_counter() - started) * 1000, 1))
        return response

    def _results(self, request: Request) -> Response:
        if not self.authenticate(request):
            return _error(401, "INVALID_SESSION_ID", "Session expired or invalid")
        job = self.jobs.get(request.path_params["job_id"])
        if job is None:
            return _error(404, "NOT_FOUND", "The requested resource does not exist")
        if job["rows"] is None:
            return _error(400, "INVALIDJOBSTATE", "Job is not complete")
        params = request.query_params
        size = max(1, int(params.get("maxRecords") or DEFAULT_MAX_RECORDS))
        start = int(params.get("locator") or 0)
        page = job["rows"].slice(start, size)
        following = start + size
        locator = str(following) if following < job["rows"].height else "null"
        return Response(page.write_csv(null_value=""), 200, media_type="text/csv",
                        headers={"Sforce-Locator": locator,
                                 "Sforce-NumberOfRecords": str(page.height)})


def _error(status: int, code: str, message: str) -> Response:
    return Response(json.dumps([{"errorCode": code, "message": message}]), status,
                    media_type="application/json")
