"""Extractions of event feeds: ESP engagement (Mailchimp) and consent decisions (the CMP).

Events are immutable, so landing is an upsert on the event id; the cursor is the newest event
time landed and each run re-reads an overlap before it (duplicates collapse on the id).
"""

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import polars as pl

from email_data_platform.lib.connectors.consent import ConsentFeedClient
from email_data_platform.lib.connectors.mailchimp import MailchimpClient, subscriber_hash
from email_data_platform.lib.connectors.sendgrid import SUPPRESSION_EVENTS, SendGridClient
from email_data_platform.lib.sources.landing import CursorStore, land, utc_now
from email_data_platform.lib.sources.pulls import (
    DEFAULT_OVERLAP_S,
    Extraction,
    Window,
    batched,
    finish,
)
from email_data_platform.lib.sources.records import (
    consent_frame,
    esp_events_frame,
    mailchimp_activity_events,
)
from email_data_platform.lib.warehouse import DuckDBWarehouse

logger = logging.getLogger(__name__)

# Events are narrow: batches this size hold ~100 MB of records at most, and fewer, larger
# batches mean fewer upserts scanning the growing table (3M events at 1M contacts).
EVENT_BATCH = 100_000
# Below this many recipients a first read takes at most a few hundred page requests: REST.
BULK_MIN_RECIPIENTS = 100_000
REPORTS = ("sent-to", "email-activity", "unsubscribed")


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _since(cursor: str | None, overlap_s: int) -> str | None:
    if cursor is None:
        return None
    moment = datetime.fromisoformat(cursor.replace("Z", "+00:00")) - timedelta(seconds=overlap_s)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _between(frame: pl.DataFrame, column: str, since: str | None,
             until: str | None) -> pl.DataFrame:
    """Keep rows whose timestamp lies in [since, until); compares instants, not strings."""
    if frame.is_empty() or (since is None and until is None):
        return frame
    stamp = pl.col(column).str.to_datetime(time_zone="UTC", strict=False, time_unit="ms")
    keep = pl.lit(True)
    if since is not None:
        keep &= stamp >= datetime.fromisoformat(since.replace("Z", "+00:00"))
    if until is not None:
        keep &= stamp < datetime.fromisoformat(until.replace("Z", "+00:00"))
    return frame.filter(keep | stamp.is_null())


def _report_events(campaign: dict, report: str, items) -> Iterator[dict]:
    """One report's items (sent-to, email-activity or unsubscribed) as flat events."""
    cid = campaign["id"]
    if report == "sent-to":  # Mailchimp gives no per-recipient send time: the campaign's
        yield from ({"campaign_id": cid, "email_id": s.get("email_id"),
                     "email": s.get("email_address"), "event_type": "sent",
                     "occurred_at": campaign.get("send_time")} for s in items)
    elif report == "email-activity":
        yield from mailchimp_activity_events(cid, items)
    else:
        yield from ({"campaign_id": cid, "email_id": u.get("email_id"),
                     "email": u.get("email_address"), "event_type": "unsubscribe",
                     "occurred_at": u.get("timestamp")} for u in items)


def _mailchimp_events(client: MailchimpClient, list_id: str, since: str | None,
                      bulk_min_recipients: int = BULK_MIN_RECIPIENTS) -> Iterator[dict]:
    """Sends, opens, clicks, bounces, unsubscribes and complaints, flattened to one shape,
    yielded as the pages arrive (a million contacts' events never sit in one list). A first
    read of campaigns that reached at least `bulk_min_recipients` goes through batch
    operations (the same pages, fifty a request) instead of a request per page."""
    campaigns = list(client.iter_campaigns())
    sent = sum(int(c.get("emails_sent") or 0) for c in campaigns)
    if since is None and sent >= bulk_min_recipients:
        logger.info("mailchimp: first read of %d campaigns (%d recipients) in batches",
                    len(campaigns), sent)
        by_id = {c["id"]: c for c in campaigns}
        wanted = [(c["id"], report) for c in campaigns for report in REPORTS]
        for cid, report, items in client.iter_reports_in_bulk(wanted):
            yield from _report_events(by_id[cid], report, items)
    else:
        for campaign in campaigns:
            cid = campaign["id"]
            # Recipient lists never change after the send: read them once, for new campaigns.
            if since is None or (campaign.get("send_time") or "") >= since:
                yield from _report_events(campaign, "sent-to", client.iter_sent_to(cid))
            yield from _report_events(campaign, "email-activity",
                                      client.iter_email_activity(cid, since=since))
            yield from _report_events(campaign, "unsubscribed", client.iter_unsubscribes(cid))
    yield from ({"campaign_id": a.get("campaign_id"), "email_id": a.get("email_id"),
                 "email": a.get("email_address"), "event_type": "complaint",
                 "occurred_at": a.get("date")} for a in client.iter_abuse_reports(list_id))


def extract_esp_events(wh: DuckDBWarehouse, client: MailchimpClient, list_id: str, run_id: str,
                       window: Window | None = None, overlap_s: int = DEFAULT_OVERLAP_S,
                       bulk_min_recipients: int = BULK_MIN_RECIPIENTS) -> Extraction:
    """Mailchimp engagement into `sources.esp_events`."""
    table = "sources.esp_events"
    run = Extraction("mailchimp", "engagement", table, run_id,
                     cursor_before=CursorStore(wh).get("mailchimp", "engagement"))
    if window is not None:
        run.mode, since, until = "window", _iso(window.start_ms), _iso(window.end_ms)
    else:
        run.mode = "incremental" if run.cursor_before else "full"
        since, until = _since(run.cursor_before, overlap_s), None
    newest = None
    # Landed batch by batch; the cursor moves only once all are landed (campaigns are not in
    # time order), so a crash re-reads the feed and the upsert on event_id absorbs it.
    events = _mailchimp_events(client, list_id, since, bulk_min_recipients)
    for batch in batched(events, EVENT_BATCH):
        frame = _between(esp_events_frame(batch, run_id, utc_now()), "occurred_at", since,
                         until)
        run.rows_fetched += len(batch)
        run.rows_landed += land(wh, table, frame, "event_id")
        # complaints and sends carry no activity time we could resume from
        stamps = frame.filter(~pl.col("event_type").is_in(["complaint", "sent"]))["occurred_at"]
        batch_newest = stamps.max()
        if batch_newest is not None:
            newest = max(newest or batch_newest, batch_newest)
    run.source_total = run.rows_fetched
    run.cursor_after = (run.cursor_before if run.mode == "window" or newest is None
                        else max(newest, run.cursor_before or newest))
    finish(wh, run, client.http, [], client.http.stats.requests,
           ("event_id", "occurred_at", "source = 'mailchimp'"))
    return run


def extract_sendgrid_events(wh: DuckDBWarehouse, client: SendGridClient, run_id: str,
                            window: Window | None = None,
                            overlap_s: int = DEFAULT_OVERLAP_S) -> Extraction:
    """SendGrid suppressions (bounces, spam reports, unsubscribes) into `sources.esp_events`."""
    table = "sources.esp_events"
    run = Extraction("sendgrid", "suppressions", table, run_id,
                     cursor_before=CursorStore(wh).get("sendgrid", "suppressions"))
    if window is not None:
        run.mode, start, end = "window", window.start_ms // 1000, window.end_ms // 1000
    else:
        run.mode = "incremental" if run.cursor_before else "full"
        start = int(run.cursor_before) - overlap_s if run.cursor_before else None
        end = None
    raw = [{"campaign_id": None, "email_id": subscriber_hash(entry["email"]),
            "email": entry["email"], "event_type": event_type,
            "occurred_at": _iso(entry["created"] * 1000), "created": entry["created"]}
           for kind, event_type in SUPPRESSION_EVENTS.items()
           for entry in client.iter_suppressions(kind, start, end)]
    frame = esp_events_frame(raw, run_id, utc_now(), source="sendgrid")
    run.rows_fetched = run.source_total = len(raw)
    run.rows_landed = land(wh, table, frame, "event_id")
    newest = max((r["created"] for r in raw), default=None)
    if run.mode != "window" and newest is not None:
        run.cursor_after = str(max(newest, int(run.cursor_before or 0)))
    else:
        run.cursor_after = run.cursor_before
    finish(wh, run, client.http, [], client.http.stats.requests,
           ("event_id", "occurred_at", "source = 'sendgrid'"))
    return run


def extract_consent(wh: DuckDBWarehouse, client: ConsentFeedClient, run_id: str,
                    window: Window | None = None,
                    overlap_s: int = DEFAULT_OVERLAP_S) -> Extraction:
    """Consent-platform events into `sources.consent_raw`."""
    table = "sources.consent_raw"
    run = Extraction("consent_platform", "consent_events", table, run_id,
                     cursor_before=CursorStore(wh).get("consent_platform", "consent_events"))
    if window is not None:
        run.mode, since, until = "window", _iso(window.start_ms), _iso(window.end_ms)
    else:
        run.mode = "incremental" if run.cursor_before else "full"
        since, until = _since(run.cursor_before, overlap_s), None
    newest = run.cursor_before
    for batch in batched(client.iter_events(since=since), EVENT_BATCH):
        frame = _between(consent_frame(batch, run_id, utc_now()), "recorded_at", since, until)
        run.rows_fetched += len(batch)
        run.rows_landed += land(wh, table, frame, "event_id", "recorded_at")
        batch_newest = frame["recorded_at"].max()
        if batch_newest is not None and run.mode != "window":
            newest = max(newest or batch_newest, batch_newest)
    run.source_total = client.total
    run.cursor_after = newest
    finish(wh, run, client.http, [], client.http.stats.requests,
           ("event_id", "recorded_at", "true"))
    return run
