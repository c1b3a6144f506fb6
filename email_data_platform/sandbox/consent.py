"""Consent-management-platform (CMP) simulator: the feed of consent decisions.

Real CMPs (OneTrust, Usercentrics, Didomi) differ; this one keeps the common core:

- `GET /v1/consent-events?since=ISO&cursor=TOKEN&limit=N` (limit <= 1000), header `X-API-Key`.
  Events are ordered by `recorded_at` (when the CMP stored them) then `event_id`; `since` keeps
  events recorded at or after that instant. The answer is
  `{"data": [event...], "next_cursor": str | null, "total": int}`; `next_cursor` is an opaque
  keyset token, so events recorded while a client pages are never skipped.
- Each event: event_id, contact_id, email, purpose, status (`granted`/`withdrawn`), channel,
  occurred_at, policy_version, proof_reference (the platform's receipt id), recorded_at.
- `POST /v1/consent-events` records new events (a JSON list); they get `recorded_at` = now.
"""

import base64
import json
import threading
import time

import polars as pl
from starlette.requests import Request

from email_data_platform.sandbox.faults import FaultInjector
from email_data_platform.sandbox.vendor import (
    Credential,
    Journal,
    Reply,
    VendorApp,
    VendorError,
    VendorSpec,
)

PAGE_LIMIT = 1000
FIELDS = ("event_id", "contact_id", "email", "purpose", "status", "channel", "occurred_at",
          "policy_version", "proof_reference")
ISO = "%Y-%m-%dT%H:%M:%S%.3fZ"


def _error_body(status: int, code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


def _encode_cursor(recorded_ms: int, event_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([recorded_ms, event_id]).encode()).decode()


def _decode_cursor(token: str) -> tuple[int, str]:
    try:
        recorded_ms, event_id = json.loads(base64.urlsafe_b64decode(token.encode()))
        return int(recorded_ms), str(event_id)
    except (ValueError, TypeError):
        raise VendorError(400, "INVALID_CURSOR", "cursor is not a token this API issued.") from None


def _first_at(events: pl.DataFrame, recorded_ms: int) -> int:
    """Offset of the first event recorded at or after `recorded_ms`."""
    return int(events["_recorded_ms"].search_sorted(recorded_ms, side="left"))


def _after(events: pl.DataFrame, recorded_ms: int, event_id: str) -> int:
    """Offset of the first event after the cursor's (recorded_ms, event_id)."""
    low = _first_at(events, recorded_ms)
    high = int(events["_recorded_ms"].search_sorted(recorded_ms, side="right"))
    # ids sort nulls first, so the ids at or before the cursor's are a prefix of the instant
    at_or_before = (events["event_id"].slice(low, high - low) <= event_id).fill_null(True)
    return low + int(at_or_before.sum())


class ConsentSimulator:
    def __init__(self, consent: pl.DataFrame | None, journal: Journal, faults: FaultInjector):
        self.api_key = Credential("cmp_")
        self.clock = time.time  # when posted events are recorded; tests fix it
        self._lock = threading.Lock()
        frame = consent if consent is not None else pl.DataFrame(schema=dict.fromkeys(FIELDS,
                                                                                       pl.Utf8))
        self.events = self._prepare(frame)
        spec = VendorSpec("consent", self._authenticate, _error_body)
        self.app = VendorApp(spec, journal, faults)
        self.app.route("/v1/consent-events", self.list_events, ["GET"])
        self.app.route("/v1/consent-events", self.record_events, ["POST"])
        self.app.add_admin(self.stats, self.rotate)

    @staticmethod
    def _prepare(frame: pl.DataFrame, recorded_ms: int | None = None) -> pl.DataFrame:
        frame = frame.select([(pl.col(f).cast(pl.Utf8) if f in frame.columns
                               else pl.lit(None, pl.Utf8)).alias(f) for f in FIELDS])
        occurred = pl.col("occurred_at").str.to_datetime(time_zone="UTC", strict=False,
                                                         time_unit="ms").cast(pl.Int64)
        recorded = pl.lit(recorded_ms, pl.Int64) if recorded_ms else occurred.fill_null(0)
        return frame.with_columns(_recorded_ms=recorded).sort(["_recorded_ms", "event_id"])

    def info(self, base_url: str) -> dict:
        return {"base_url": base_url, "api_key": self.api_key.value}

    def _authenticate(self, request: Request) -> bool:
        return self.api_key.matches(request.headers.get("x-api-key"))

    def rotate(self) -> dict:
        return {"api_key": self.api_key.rotate()}

    def stats(self) -> dict:
        return {"events": self.events.height}

    async def list_events(self, request: Request) -> Reply:
        params = request.query_params
        try:
            limit = int(params.get("limit", "100"))
        except ValueError:
            raise VendorError(400, "INVALID_LIMIT", "limit must be an integer.") from None
        if not 1 <= limit <= PAGE_LIMIT:
            raise VendorError(400, "INVALID_LIMIT", f"limit must be 1..{PAGE_LIMIT}.")
        events = self.events  # sorted by (_recorded_ms, event_id): pages are found by search
        start = 0
        if params.get("since"):
            since = pl.Series([params["since"]]).str.to_datetime(
                time_zone="UTC", strict=False, time_unit="ms").cast(pl.Int64)[0]
            if since is None:
                raise VendorError(400, "INVALID_SINCE", "since must be an ISO 8601 timestamp.")
            start = _first_at(events, since)
        total = events.height - start
        if params.get("cursor"):
            start = max(start, _after(events, *_decode_cursor(params["cursor"])))
        page = events.slice(start, limit + 1)
        rows = page.head(limit).with_columns(
            recorded_at=pl.col("_recorded_ms").cast(pl.Datetime("ms", "UTC")).dt.strftime(ISO))
        last = rows.tail(1).to_dicts()
        next_cursor = (_encode_cursor(last[0]["_recorded_ms"], last[0]["event_id"])
                       if page.height > limit else None)
        data = rows.drop("_recorded_ms").to_dicts()
        return Reply({"data": data, "next_cursor": next_cursor, "total": total},
                     returned=len(data))

    async def record_events(self, request: Request) -> Reply:
        items = await request.json()
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise VendorError(400, "INVALID_BODY", "body must be a JSON list of events.")
        missing = [i for i in items if not i.get("event_id")]
        if missing:
            raise VendorError(400, "INVALID_EVENT", "every event needs an event_id.")
        incoming = self._prepare(pl.DataFrame(items, infer_schema_length=None),
                                 int(self.clock() * 1000))
        with self._lock:
            self.events = pl.concat([self.events, incoming]).sort(["_recorded_ms", "event_id"])
        return Reply({"recorded": incoming.height}, status=201, written=incoming.height)
