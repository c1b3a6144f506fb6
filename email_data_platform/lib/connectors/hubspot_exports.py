"""HubSpot CRM exports: the bulk read for initial loads, as polars frames in bounded batches.

Paging a million contacts at 100 per request costs 10,000 requests; an export is one request to
start, a few status polls and one file download (CSV, or a ZIP of CSVs past 1,000,000 rows).
The file is streamed to a temporary folder and read back in batches, so memory holds one batch,
never the portal. Columns arrive headed by property labels and are renamed to the internal
property names the REST API uses; `Record ID` becomes `id`. Incremental runs stay on search.
"""

import logging
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import polars as pl

from email_data_platform.lib.connectors.http import HttpClient, VendorAPIError

logger = logging.getLogger(__name__)

EXPORT_OBJECT_TYPES = {"contacts": "CONTACT", "deals": "DEAL"}
# Labels HubSpot heads export columns with, for the properties we read.
PROPERTY_LABELS = {
    "First Name": "firstname", "Last Name": "lastname", "Email": "email",
    "Phone Number": "phone", "Date of birth": "date_of_birth", "City": "city",
    "Postal Code": "zip", "Country/Region": "country", "Company Name": "company",
    "Create Date": "createdate", "Deal Name": "dealname", "Amount": "amount",
    "Currency": "deal_currency_code", "Close Date": "closedate", "Deal Stage": "dealstage",
    "Pipeline": "pipeline", "Record ID": "id", "Associated Contact IDs": "contact_ids",
    "Unsubscribed from all email": "hs_email_optout",
}
MODIFIED_LABEL = "Last Modified Date"


def export_frames(http: HttpClient, object_type: str, properties: tuple[str, ...],
                  modified_property: str, *, associated: str | None = None,
                  batch_rows: int = 50_000, poll_s: float = 0.5,
                  timeout_s: float = 3600.0) -> Iterator[pl.DataFrame]:
    """Every live record of `object_type` as Utf8 frames of up to `batch_rows` rows.

    Raises VendorAPIError when the export fails, is canceled or outlasts `timeout_s`.
    """
    body = {"exportType": "VIEW", "format": "CSV", "language": "EN",
            "exportName": f"edp {object_type} initial load",
            "objectType": EXPORT_OBJECT_TYPES[object_type],
            "objectProperties": list(properties)}
    if associated:
        body["associatedObjectType"] = associated
    task = http.request("POST", "/crm/v3/exports/export/async", json_body=body,
                        idempotent=False)
    url = _await_result(http, str(task["id"]), poll_s, timeout_s)
    labels = {**PROPERTY_LABELS, MODIFIED_LABEL: modified_property}
    with tempfile.TemporaryDirectory(prefix="edp-hubspot-export-") as folder:
        for path in _download(url, Path(folder)):
            scan = pl.scan_csv(path, infer_schema=False)
            names = scan.collect_schema().names()
            renamed = scan.rename({n: labels[n] for n in names if n in labels})
            yield from renamed.collect_batches(chunk_size=batch_rows)


def _await_result(http: HttpClient, task_id: str, poll_s: float, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    path = f"/crm/v3/exports/export/async/tasks/{task_id}/status"
    while True:
        status = http.request("GET", path)
        state = status.get("status")
        if state == "COMPLETE" and status.get("result"):
            return status["result"]
        if state in ("CANCELED", "CONFLICT") or time.monotonic() > deadline:
            raise VendorAPIError("hubspot", "GET", path, None,
                                 f"export {task_id} ended {state or 'without a status'}")
        time.sleep(poll_s)


def _download(url: str, folder: Path, attempts: int = 3) -> list[Path]:
    """Stream the file to disk (a pre-signed URL: no token is sent); unzip a ZIP."""
    target = folder / "export.download"
    for attempt in range(attempts):
        try:
            with httpx.stream("GET", url, timeout=httpx.Timeout(300.0, connect=10.0)) as reply:
                if reply.status_code != 200:
                    raise VendorAPIError("hubspot", "GET", "export file", reply.status_code,
                                         "the export file could not be downloaded")
                with target.open("wb") as file:
                    for chunk in reply.iter_bytes(1 << 20):
                        file.write(chunk)
            break
        except httpx.TransportError:
            if attempt == attempts - 1:
                raise
            time.sleep(2**attempt)
    if not zipfile.is_zipfile(target):
        return [target]
    with zipfile.ZipFile(target) as archive:
        names = sorted(n for n in archive.namelist() if n.endswith(".csv"))
        archive.extractall(folder, members=names)
    target.unlink()
    return [folder / name for name in names]
