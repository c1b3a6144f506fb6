"""Campaign reports for the Mailchimp simulator, replaying the generator's engagement history.

Mailchimp spreads engagement over several endpoints: opens, clicks and bounces per recipient in
`/reports/{id}/email-activity`, unsubscribes in `/reports/{id}/unsubscribed`, spam complaints
in `/lists/{id}/abuse-reports`. Events are kept in one polars frame; pages are cut from it.
"""

import hashlib
import re
from functools import lru_cache

import polars as pl

ACTIVITY_ACTIONS = ("open", "click", "bounce")
MAILCHIMP_TIME = "%Y-%m-%dT%H:%M:%S+00:00"
_EMPTY = pl.DataFrame(schema={"email": pl.Utf8, "event_type": pl.Utf8, "occurred_at": pl.Utf8,
                              "campaign_id": pl.Utf8})


@lru_cache(maxsize=200_000)
def _md5(email: str) -> str:
    return hashlib.md5(email.lower().encode()).hexdigest()


PAGE_LIMIT = 1000
_READS = re.compile(r"^/?(?:3\.0/)?(?:reports/(?P<campaign>[^/]+)/(?P<report>email-activity|"
                    r"sent-to|unsubscribed)|lists/(?P<list>[^/]+)/(?P<abuse>abuse-reports)|"
                    r"(?P<campaigns>campaigns))$")


class EngagementReports:
    def __init__(self, engagement: pl.DataFrame | None, list_id: str):
        self.list_id = list_id
        frame = _EMPTY if engagement is None or engagement.is_empty() else engagement
        stamp = pl.col("occurred_at").cast(pl.Utf8).str.to_datetime(
            time_zone="UTC", strict=False, time_unit="ms")
        self.events = frame.select(
            pl.col("email").cast(pl.Utf8),
            pl.col("event_type").cast(pl.Utf8).str.to_lowercase(),
            stamp.alias("at"),
            pl.col("campaign_id").cast(pl.Utf8),
        ).filter(pl.col("email").is_not_null() & pl.col("at").is_not_null()
                 & pl.col("campaign_id").is_not_null())
        self.events = self.events.with_columns(
            timestamp=pl.col("at").dt.strftime(MAILCHIMP_TIME)).sort(["campaign_id", "email", "at"])
        self._selections: dict[tuple, tuple[pl.DataFrame, pl.Series]] = {}
        self._campaigns = (
            self.events.group_by("campaign_id")
            .agg(send_time=pl.col("at").min(), emails_sent=pl.col("email").n_unique())
            .sort(["send_time", "campaign_id"])
        )

    def stats(self) -> dict:
        counts = self.events.group_by("event_type").len().to_dicts()
        return {"campaigns": self._campaigns.height,
                "engagement_events": {c["event_type"]: c["len"] for c in counts}}

    def campaigns(self, offset: int, count: int, since_send_time: str | None) -> dict:
        frame = self._campaigns
        if since_send_time:
            since = pl.Series([since_send_time]).str.to_datetime(time_zone="UTC",
                                                                 time_unit="ms")[0]
            frame = frame.filter(pl.col("send_time") > since)
        page = frame.slice(offset, count).with_columns(pl.col("send_time").dt.strftime(
            MAILCHIMP_TIME))
        campaigns = [
            {"id": c["campaign_id"], "type": "regular", "status": "sent",
             "emails_sent": c["emails_sent"], "send_time": c["send_time"],
             "recipients": {"list_id": self.list_id},
             "settings": {"title": f"Campaign {c['campaign_id']}"}}
            for c in page.to_dicts()
        ]
        return {"campaigns": campaigns, "total_items": frame.height}

    def _selection(self, campaign_id: str, actions: tuple[str, ...],
                   since: str | None = None) -> tuple[pl.DataFrame, pl.Series]:
        """(the campaign's events of these kinds, sorted by email; their distinct emails).

        The events are sorted by campaign and email and never change, so a campaign's block is
        found by binary search and kept for its next pages: a page no longer scans every event
        of the account (at 1M contacts, most of the simulator's time on a bulk read)."""
        key = (campaign_id, actions, since)
        found = self._selections.get(key)
        if found is None:
            column = self.events["campaign_id"]
            low = int(column.search_sorted(campaign_id, side="left"))
            high = int(column.search_sorted(campaign_id, side="right"))
            events = self.events.slice(low, high - low).filter(
                pl.col("event_type").is_in(actions))
            if since:
                cutoff = pl.Series([since]).str.to_datetime(time_zone="UTC", time_unit="ms")[0]
                events = events.filter(pl.col("at") > cutoff)
            if len(self._selections) >= 32:
                self._selections.clear()
            found = self._selections[key] = (events, events["email"].unique(maintain_order=True))
        return found

    def email_activity(self, campaign_id: str, offset: int, count: int,
                       since: str | None) -> dict:
        events, emails = self._selection(campaign_id, ACTIVITY_ACTIONS, since)
        wanted = emails.slice(offset, count)
        page = events.clear()
        if wanted.len():  # the page's emails are one run of the email-sorted events
            column = events["email"]
            low = int(column.search_sorted(wanted[0], side="left"))
            page = events.slice(low, int(column.search_sorted(wanted[-1], side="right")) - low)
        grouped = page.group_by("email", maintain_order=True).agg(
            activity=pl.struct(action="event_type", timestamp="timestamp"))
        rows = [
            {"campaign_id": campaign_id, "list_id": self.list_id, "list_is_active": True,
             "email_id": _md5(r["email"]), "email_address": r["email"],
             "activity": [{**a, "ip": "", **({"type": "hard"} if a["action"] == "bounce" else {})}
                          for a in r["activity"]]}
            for r in grouped.to_dicts()
        ]
        return {"emails": rows, "campaign_id": campaign_id, "total_items": emails.len()}

    def sent_to(self, campaign_id: str, offset: int, count: int) -> dict:
        """Recipients of a campaign (Mailchimp gives no per-recipient send time)."""
        _, sent = self._selection(campaign_id, ("sent",))
        rows = [
            {"email_id": _md5(email), "email_address": email, "merge_fields": {},
             "vip": False, "status": "sent", "campaign_id": campaign_id, "list_id": self.list_id}
            for email in sent.slice(offset, count).to_list()
        ]
        return {"sent_to": rows, "campaign_id": campaign_id, "total_items": sent.len()}

    def unsubscribed(self, campaign_id: str, offset: int, count: int) -> dict:
        events, _ = self._selection(campaign_id, ("unsubscribe",))
        rows = [
            {"email_id": _md5(r["email"]), "email_address": r["email"], "merge_fields": {},
             "vip": False, "timestamp": r["timestamp"], "reason": "", "campaign_id": campaign_id,
             "list_id": self.list_id, "list_is_active": True}
            for r in events.slice(offset, count).to_dicts()
        ]
        return {"unsubscribes": rows, "campaign_id": campaign_id, "total_items": events.height}

    def read(self, path: str, params: dict) -> tuple[int, dict]:
        """A GET on a report path inside a batch operation: (status, body), as the REST route
        would answer it."""
        match = _READS.match(path or "")
        if match is None or (match["list"] and match["list"] != self.list_id):
            return 404, {"title": "Resource Not Found", "status": 404,
                         "detail": "The requested resource could not be found."}
        try:
            offset, count = int(params.get("offset", 0)), int(params.get("count", 10))
        except (TypeError, ValueError):
            offset, count = -1, 0
        if not 1 <= count <= PAGE_LIMIT or offset < 0:
            return 400, {"title": "Invalid Resource", "status": 400,
                         "detail": f"count must be 1..{PAGE_LIMIT}, offset >= 0."}
        if match["campaigns"]:
            return 200, self.campaigns(offset, count, params.get("since_send_time"))
        if match["abuse"]:
            return 200, self.abuse_reports(offset, count)
        campaign = match["campaign"]
        if match["report"] == "email-activity":
            return 200, self.email_activity(campaign, offset, count, params.get("since"))
        if match["report"] == "sent-to":
            return 200, self.sent_to(campaign, offset, count)
        return 200, self.unsubscribed(campaign, offset, count)

    def abuse_reports(self, offset: int, count: int) -> dict:
        events = self.events.filter(pl.col("event_type") == "complaint").sort(["at", "email"])
        page = events.slice(offset, count).with_row_index("n", offset=offset + 1)
        rows = [
            {"id": r["n"], "campaign_id": r["campaign_id"], "list_id": self.list_id,
             "email_id": _md5(r["email"]), "email_address": r["email"], "merge_fields": {},
             "vip": False, "date": r["timestamp"]}
            for r in page.to_dicts()
        ]
        return {"abuse_reports": rows, "list_id": self.list_id, "total_items": events.height}


def add_report_routes(app, reports: "EngagementReports", check_list) -> None:
    """Campaigns, per-campaign reports and abuse reports, paged like the rest of the API."""
    from email_data_platform.sandbox.mailchimp import page_params
    from email_data_platform.sandbox.vendor import Reply

    async def campaigns(request):
        offset, count = page_params(request)
        body = reports.campaigns(offset, count, request.query_params.get("since_send_time"))
        return Reply(body, returned=len(body["campaigns"]))

    async def email_activity(request):
        offset, count = page_params(request)
        body = reports.email_activity(request.path_params["campaign_id"], offset, count,
                                      request.query_params.get("since"))
        return Reply(body, returned=len(body["emails"]))

    async def sent_to(request):
        offset, count = page_params(request)
        body = reports.sent_to(request.path_params["campaign_id"], offset, count)
        return Reply(body, returned=len(body["sent_to"]))

    async def unsubscribed(request):
        offset, count = page_params(request)
        body = reports.unsubscribed(request.path_params["campaign_id"], offset, count)
        return Reply(body, returned=len(body["unsubscribes"]))

    async def abuse_reports(request):
        check_list(request)
        offset, count = page_params(request)
        body = reports.abuse_reports(offset, count)
        return Reply(body, returned=len(body["abuse_reports"]))

    app.route("/3.0/lists/{list_id}/abuse-reports", abuse_reports, ["GET"])
    app.route("/3.0/campaigns", campaigns, ["GET"])
    app.route("/3.0/reports/{campaign_id}/email-activity", email_activity, ["GET"])
    app.route("/3.0/reports/{campaign_id}/unsubscribed", unsubscribed, ["GET"])
    app.route("/3.0/reports/{campaign_id}/sent-to", sent_to, ["GET"])
