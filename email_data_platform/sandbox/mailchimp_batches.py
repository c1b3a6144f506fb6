"""Mailchimp batch operations (`POST /batches`): many member calls in one request, run
asynchronously. Status goes pending -> started -> finished; the results are a gzipped tar of
JSON files, each an array of {status_code, operation_id, response}, downloaded without auth from
`response_body_url` (an S3 link at the real vendor).

Supported operations are the member calls the simulator serves one by one: PUT/PATCH/DELETE
`/lists/{id}/members/{hash}`, POST `.../members/{hash}/tags` and
`.../members/{hash}/actions/delete-permanent`; and GETs of the report pages (campaigns,
email activity, recipients, unsubscribes, abuse reports) with their query in `params`, the bulk
path for reading a large account's engagement.
"""

import io
import json
import re
import tarfile
import threading
import uuid
from collections.abc import Callable

from email_data_platform.sandbox.mailchimp_members import MemberError, MemberStore, now_text

MAX_OPERATIONS = 500  # we keep batches to 500 operations, Mailchimp's batch-subscribe size
_MEMBER_PATH = re.compile(
    r"^/?(?:3\.0/)?lists/(?P<list>[^/]+)/members/(?P<hash>[0-9a-f]{32})(?P<rest>/tags|"
    r"/actions/delete-permanent)?$")


class BatchRunner:
    """Runs submitted batches in a background thread, one at a time, as Mailchimp does."""

    def __init__(self, store: MemberStore,
                 read: Callable[[str, dict], tuple[int, dict]] | None = None):
        self.store = store
        self.read = read  # GET operations: (path, params) -> (status, body)
        self.batches: dict[str, dict] = {}
        self.results: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def submit(self, operations: list, results_base_url: str) -> dict:
        if not isinstance(operations, list) or not 1 <= len(operations) <= MAX_OPERATIONS:
            raise MemberError(f"operations must hold 1..{MAX_OPERATIONS} items.",
                              "InvalidResource")
        batch_id = uuid.uuid4().hex[:10]
        batch = {"id": batch_id, "status": "pending", "total_operations": len(operations),
                 "finished_operations": 0, "errored_operations": 0,
                 "submitted_at": now_text(), "completed_at": "", "response_body_url": "",
                 "_results_url": f"{results_base_url}/{batch_id}.tar.gz"}
        with self._lock:
            self.batches[batch_id] = batch
        threading.Thread(target=self._run, args=(batch, operations), daemon=True).start()
        return _public(batch)

    def status(self, batch_id: str) -> dict:
        with self._lock:
            batch = self.batches.get(batch_id)
        if batch is None:
            raise MemberError("The requested resource could not be found.", "ResourceNotFound",
                              404)
        return _public(batch)

    def listed(self) -> list[dict]:
        with self._lock:
            return [_public(b) for b in self.batches.values()]

    def result_archive(self, batch_id: str) -> bytes | None:
        with self._lock:
            return self.results.get(batch_id)

    def _run(self, batch: dict, operations: list) -> None:
        batch["status"] = "started"
        responses = []
        for operation in operations:
            status, body = self._apply(operation if isinstance(operation, dict) else {})
            responses.append({"status_code": status, "operation_id": (
                operation.get("operation_id") if isinstance(operation, dict) else None),
                "response": json.dumps(body)})
            batch["finished_operations"] += 1
            batch["errored_operations"] += status >= 400
        archive = _tar_gz(batch["id"], responses)
        with self._lock:
            self.results[batch["id"]] = archive
            batch.update(status="finished", completed_at=now_text(),
                         response_body_url=batch["_results_url"])

    def _apply(self, operation: dict) -> tuple[int, dict | None]:
        method = str(operation.get("method") or "").upper()
        if method == "GET" and self.read is not None:
            params = operation.get("params")
            return self.read(str(operation.get("path") or ""),
                             params if isinstance(params, dict) else {})
        match = _MEMBER_PATH.match(str(operation.get("path") or ""))
        if match is None or match["list"] != self.store.list_id:
            return 404, {"title": "Resource Not Found", "status": 404,
                         "detail": "The requested resource could not be found."}
        try:
            body = json.loads(operation.get("body") or "{}")
            return self._member_call(method, match["hash"], match["rest"] or "", body)
        except MemberError as error:
            return error.status, {"title": error.code, "status": error.status,
                                  "detail": error.message}
        except ValueError:
            return 400, {"title": "Invalid Resource", "status": 400,
                         "detail": "The body is not valid JSON."}

    def _member_call(self, method: str, member_hash: str, rest: str, body: dict):
        if rest == "/tags" and method == "POST":
            self.store.update_tags(member_hash, body.get("tags"))
            return 204, None
        if rest == "/actions/delete-permanent" and method == "POST":
            self.store.delete_permanently(member_hash)
            return 204, None
        if not rest and method == "DELETE":
            self.store.set_status(member_hash, "archived", "archive")
            return 204, None
        if not rest and method == "PATCH" and set(body) <= {"status"}:
            return 200, self.store.set_status(member_hash, str(body.get("status")),
                                              str(body.get("status")))
        if not rest and method in ("PUT", "PATCH"):
            return 200, self.store.upsert(body, update_existing=True)[1]
        return 405, {"title": "Method Not Allowed", "status": 405,
                     "detail": f"{method} is not allowed here."}


def _public(batch: dict) -> dict:
    return {k: v for k, v in batch.items() if not k.startswith("_")}


def _tar_gz(batch_id: str, responses: list[dict]) -> bytes:
    buffer = io.BytesIO()
    # fast compression: the archive is built for each batch, and its cost is not the client's
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=1) as archive:
        data = json.dumps(responses).encode()
        info = tarfile.TarInfo(f"{batch_id}/0.json")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
