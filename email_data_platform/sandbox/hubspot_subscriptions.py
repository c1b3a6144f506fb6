"""HubSpot subscription types and per-address statuses (Communication Preferences v4).

Shape of the public API, as the connector depends on it:
- `GET /communication-preferences/v4/definitions` answers `{"status", "results": [definition]}`,
  a definition being `id` (a numeric string), `name`, `description`, `purpose`,
  `communicationMethod`, `isActive`, `isDefault`, `isInternal`, `createdAt`, `updatedAt`;
- `POST /communication-preferences/v4/statuses/batch/read?channel=EMAIL` with `{"inputs":
  [email, ...]}` (at most 100 here) answers `{"status": "COMPLETE", "results": [{
  "subscriberIdString", "statuses": [status]}], "startedAt", "completedAt"}`; a status holds
  `subscriptionId` (a number), `subscriptionName`, `status` (SUBSCRIBED, NOT_SUBSCRIBED or
  NOT_SPECIFIED), `source`, `legalBasis`, `legalBasisExplanation`, `channel`, `timestamp`;
- `POST /communication-preferences/v4/statuses/{subscriberIdString}?channel=EMAIL` with
  `subscriptionId`, `statusState`, `legalBasis`... sets one status. As in HubSpot, a change moves
  the `lastmodifieddate` of the contacts holding that address (their per-type opt-out property
  changed), which is how an incremental pull knows whose statuses to read again.
The v3 endpoints HubSpot's own Python SDK (hubspot-api-client 12) calls are served over the
same statuses: `GET /communication-preferences/v3/definitions` (`subscriptionDefinitions`),
`GET .../v3/status/email/{emailAddress}` (`recipient`, `subscriptionStatuses`) and
`POST .../v3/subscribe` / `.../v3/unsubscribe` (`emailAddress`, `subscriptionId`).

Statuses come from the data set's `hubspot_subscriptions` table when it has one (email,
subscription_name, status, timestamp), otherwise a few are drawn per contact from its id (a
stable hash, no shared random state): some addresses left the newsletter or the offers, some
subscribed to the newsletter.
"""

import threading
import time
from datetime import UTC, datetime

import polars as pl
from starlette.requests import Request

from email_data_platform.sandbox.hubspot_store import MODIFIED, ObjectTable
from email_data_platform.sandbox.vendor import Reply, VendorApp, VendorError

BATCH_LIMIT = 100
STATES = ("SUBSCRIBED", "NOT_SUBSCRIBED", "NOT_SPECIFIED")
# HubSpot's default types (Marketing Information, One to One, Customer Service) plus a
# preference centre's own; ids are portal-specific in HubSpot, so consumers map by name.
DEFINITIONS = (
    ("1001", "Marketing Information", "Marketing offers and updates.", "Marketing", True),
    ("1002", "One to One", "One to one emails.", "Sales", True),
    ("1003", "Customer Service Communication", "Feedback and service requests.",
     "Customer Service", True),
    ("1004", "Newsletter", "Our monthly newsletter.", "Marketing", False),
    ("1005", "Offers", "Discounts and promotions.", "Marketing", False),
    ("1006", "Product updates", "What is new in our products.", "Marketing", False),
)
STATUS_SCHEMA = {"email_key": pl.Utf8, "email": pl.Utf8, "subscription_id": pl.Int64,
                 "status": pl.Utf8, "source": pl.Utf8, "legal_basis": pl.Utf8,
                 "timestamp_ms": pl.Int64}
# seeded statuses per contact: (share in 1,000 by id hash, subscription id, status)
SEEDED = ((0, 40, 1004, "NOT_SUBSCRIBED"), (40, 70, 1005, "NOT_SUBSCRIBED"),
          (70, 170, 1004, "SUBSCRIBED"))


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def seeded_statuses(contacts: pl.DataFrame) -> pl.DataFrame:
    """A few statuses per contact, drawn from a hash of its id (stable across runs)."""
    with_email = contacts.filter(pl.col("email").is_not_null()).select(
        "email", MODIFIED, bucket=(pl.col("id").hash(seed=11) % 1000).cast(pl.Int64))
    parts = [with_email.filter(pl.col("bucket").is_between(low, high - 1)).select(
        pl.col("email").str.strip_chars().str.to_lowercase().alias("email_key"), "email",
        pl.lit(sub_id, pl.Int64).alias("subscription_id"), pl.lit(state).alias("status"),
        pl.lit("PREFERENCE_CENTER").alias("source"),
        pl.lit("CONSENT_WITH_NOTICE").alias("legal_basis"),
        pl.col(MODIFIED).cast(pl.Int64).alias("timestamp_ms"))
        for low, high, sub_id, state in SEEDED]
    return pl.concat(parts).unique(["email_key", "subscription_id"], keep="first")


def statuses_from_table(table: pl.DataFrame, loaded_ms: int) -> pl.DataFrame:
    """A data set's `hubspot_subscriptions` (email, subscription_name, status, timestamp)."""
    ids = {name.lower(): int(i) for i, name, *_ in DEFINITIONS}
    stamp = pl.col("timestamp").cast(pl.Utf8).str.to_datetime(time_zone="UTC", strict=False,
                                                             time_unit="ms").cast(pl.Int64)
    return table.select(
        pl.col("email").str.strip_chars().str.to_lowercase().alias("email_key"), "email",
        pl.col("subscription_name").str.to_lowercase().replace_strict(
            ids, default=None, return_dtype=pl.Int64).alias("subscription_id"),
        pl.col("status").str.to_uppercase(), pl.lit("IMPORT").alias("source"),
        pl.lit("CONSENT_WITH_NOTICE").alias("legal_basis"),
        stamp.fill_null(loaded_ms).alias("timestamp_ms"),
    ).filter(pl.col("subscription_id").is_not_null())


def _corrupt_first_status(body: dict) -> None:
    """Fault: the first status of a batch loses its subscription id."""
    for result in body.get("results") or []:
        if result.get("statuses"):
            result["statuses"][0].pop("subscriptionId", None)
            return


class HubSpotSubscriptions:
    """Subscription statuses per address; routes added to the HubSpot simulator's app."""

    def __init__(self, contacts: ObjectTable, statuses: pl.DataFrame, app: VendorApp):
        self.contacts = contacts
        self._lock = threading.Lock()
        self.statuses = statuses.cast(STATUS_SCHEMA).select(list(STATUS_SCHEMA))
        base = "/communication-preferences/v4"
        app.route(base + "/definitions", self.definitions, ["GET"])
        app.route(base + "/statuses/batch/read", self.batch_read, ["POST"])
        app.route(base + "/statuses/{subscriber}", self.set_status, ["POST"])
        v3 = "/communication-preferences/v3"
        app.route(v3 + "/definitions", self.definitions_v3, ["GET"])
        app.route(v3 + "/status/email/{subscriber}", self.status_v3, ["GET"])
        app.route(v3 + "/subscribe", self.subscribe_v3, ["POST"])
        app.route(v3 + "/unsubscribe", self.unsubscribe_v3, ["POST"])

    @property
    def statuses(self) -> pl.DataFrame:
        return self._statuses

    @statuses.setter
    def statuses(self, frame: pl.DataFrame) -> None:
        self._statuses, self._by_key = frame, None

    def _rows_of(self, keys) -> dict[str, list[dict]]:
        """Status rows per address key: a batch read looks up its 100 addresses in an index
        (built once after each change), not by scanning every status."""
        with self._lock:
            if self._by_key is None:
                index: dict[str, list[dict]] = {}
                for row in self._statuses.iter_rows(named=True):
                    index.setdefault(row["email_key"], []).append(row)
                self._by_key = index
            return {key: self._by_key.get(key, []) for key in keys}

    @staticmethod
    def _definitions() -> list[dict]:
        created = _iso(1_577_836_800_000)
        return [{"id": i, "name": name, "description": text, "purpose": purpose,
                 "communicationMethod": "Email", "isActive": True, "isDefault": default,
                 "isInternal": False, "createdAt": created, "updatedAt": created,
                 "businessUnitId": 0} for i, name, text, purpose, default in DEFINITIONS]

    async def definitions(self, request: Request) -> Reply:
        results = self._definitions()
        return Reply({"status": "COMPLETE", "results": results, **self._times()},
                     returned=len(results))

    async def definitions_v3(self, request: Request) -> Reply:
        results = self._definitions()
        return Reply({"subscriptionDefinitions": results}, returned=len(results))

    async def status_v3(self, request: Request) -> Reply:
        subscriber = request.path_params["subscriber"]
        rows = self.statuses.filter((pl.col("email_key") == subscriber.strip().lower())
                                    & (pl.col("status") != "NOT_SPECIFIED"))
        return Reply({"recipient": subscriber,
                      "subscriptionStatuses": [self._render_v3(r) for r in rows.to_dicts()]},
                     returned=rows.height)

    async def subscribe_v3(self, request: Request) -> Reply:
        return await self._update_v3(request, "SUBSCRIBED")

    async def unsubscribe_v3(self, request: Request) -> Reply:
        return await self._update_v3(request, "NOT_SUBSCRIBED")

    async def _update_v3(self, request: Request, state: str) -> Reply:
        body = await request.json()
        subscriber = body.get("emailAddress")
        if not isinstance(subscriber, str) or "@" not in subscriber:
            raise VendorError(400, "VALIDATION_ERROR", "emailAddress must be an email address.")
        row = self._set(subscriber, body.get("subscriptionId"), state, body.get("legalBasis"))
        return Reply(self._render_v3(row), written=1)

    @staticmethod
    def _render_v3(row: dict) -> dict:
        _, name, text, *_ = next(d for d in DEFINITIONS if int(d[0]) == row["subscription_id"])
        status = {"id": str(row["subscription_id"]), "name": name, "description": text,
                  "status": row["status"], "sourceOfStatus": "SUBSCRIPTION_STATUS"}
        return status | ({"legalBasis": row["legal_basis"]} if row["legal_basis"] else {})

    @staticmethod
    def _times() -> dict:
        now = _iso(int(time.time() * 1000))
        return {"requestedAt": now, "startedAt": now, "completedAt": now}

    @staticmethod
    def _channel(request: Request) -> None:
        if request.query_params.get("channel") != "EMAIL":
            raise VendorError(400, "VALIDATION_ERROR", "channel must be EMAIL.")

    async def batch_read(self, request: Request) -> Reply:
        self._channel(request)
        inputs = (await request.json()).get("inputs")
        if not isinstance(inputs, list) or not all(isinstance(i, str) for i in inputs):
            raise VendorError(400, "VALIDATION_ERROR", "inputs must be a list of strings.")
        if len(inputs) > BATCH_LIMIT:
            raise VendorError(400, "VALIDATION_ERROR",
                              f"Batch size must be at most {BATCH_LIMIT} inputs.")
        keys = {i.strip().lower(): i for i in inputs}
        names = {int(i): name for i, name, *_ in DEFINITIONS}
        results = [{"subscriberIdString": keys[key],
                    "statuses": [self._render(row, keys[key], names) for row in rows]}
                   for key, rows in self._rows_of(keys).items()]
        return Reply({"status": "COMPLETE", "results": results, **self._times()},
                     returned=len(results), corrupt=_corrupt_first_status)

    @staticmethod
    def _render(row: dict, subscriber: str, names: dict[int, str]) -> dict:
        return {"subscriberIdString": subscriber, "subscriptionId": row["subscription_id"],
                "subscriptionName": names.get(row["subscription_id"]),
                "status": row["status"], "source": row["source"], "channel": "EMAIL",
                "legalBasis": row["legal_basis"], "legalBasisExplanation": None,
                "setStatusSuccessReason": None, "businessUnitId": 0,
                "timestamp": _iso(row["timestamp_ms"])}

    async def set_status(self, request: Request) -> Reply:
        self._channel(request)
        body = await request.json()
        subscriber = request.path_params["subscriber"]
        state = str(body.get("statusState", "")).upper()
        if state not in STATES:
            raise VendorError(400, "VALIDATION_ERROR", f"statusState must be one of {STATES}.")
        row = self._set(subscriber, body.get("subscriptionId"), state, body.get("legalBasis"))
        names = {int(i): name for i, name, *_ in DEFINITIONS}
        return Reply(self._render(row, subscriber, names), written=1)

    def _set(self, subscriber: str, subscription_id: object, state: str,
             legal_basis: str | None) -> dict:
        """Store one status; touch the contacts holding the address, as HubSpot does."""
        try:
            sub_id = int(str(subscription_id))
        except ValueError:
            sub_id = None
        if sub_id not in {int(i) for i, *_ in DEFINITIONS}:
            raise VendorError(400, "VALIDATION_ERROR", "subscriptionId is not a subscription.")
        key, now = subscriber.strip().lower(), int(time.time() * 1000)
        row = {"email_key": key, "email": subscriber, "subscription_id": sub_id, "status": state,
               "source": "API", "legal_basis": legal_basis, "timestamp_ms": now}
        with self._lock:
            kept = self.statuses.filter((pl.col("email_key") != key)
                                        | (pl.col("subscription_id") != sub_id))
            self.statuses = pl.concat([kept, pl.DataFrame([row], schema=STATUS_SCHEMA)])
        holders = self.contacts.active.filter(
            pl.col("email").str.strip_chars().str.to_lowercase() == key)["id"].to_list()
        self.contacts.touch(holders, at_ms=now)
        return row

    def stats(self) -> dict:
        return {"statuses": self.statuses.height}
