"""HubSpot subscription types and per-address statuses (Communication Preferences v4).

`hs_email_optout` only says whether an address left all email. Which types it left (a
newsletter, offers) or joined is read here: the portal's definitions once, then the statuses of
a batch of addresses per call (`POST /communication-preferences/v4/statuses/batch/read`).
"""

from collections.abc import Iterable, Iterator

from email_data_platform.lib.connectors.hubspot import HubSpotClient

BASE = "/communication-preferences/v4"
BATCH = 100


def subscription_definitions(client: HubSpotClient) -> dict[str, str]:
    """subscription id (as text) -> name, every definition the portal has, archived included."""
    page = client.http.request("GET", f"{BASE}/definitions")
    return {str(d["id"]): str(d.get("name") or "") for d in page.get("results") or []
            if isinstance(d, dict) and d.get("id") is not None}


def status_problem(status: object) -> tuple[str, str] | None:
    """(rule, reason) when a status object breaks the contract, else None."""
    if not isinstance(status, dict):
        return "record_not_object", f"status is a {type(status).__name__}, not an object"
    if not str(status.get("subscriptionId", "")).strip().isdigit():
        return "missing_id", f"subscriptionId {status.get('subscriptionId')!r} is not a number"
    if not isinstance(status.get("status"), str):
        return "wrong_type", f"status {status.get('status')!r} is not a string"
    return None


def iter_subscription_statuses(client: HubSpotClient, emails: Iterable[str],
                               batch: int = BATCH) -> Iterator[dict]:
    """Every status HubSpot holds for `emails`, each with its `subscriberIdString`. A status
    that breaks the contract goes to `client.bad_records` with its rule."""
    emails = list(emails)
    for start in range(0, len(emails), batch):
        page = client.http.request("POST", f"{BASE}/statuses/batch/read",
                                   params={"channel": "EMAIL"},
                                   json_body={"inputs": emails[start:start + batch]})
        client.pages += 1
        for result in page.get("results") or []:
            subscriber = result.get("subscriberIdString") if isinstance(result, dict) else None
            for status in (result.get("statuses") or []) if isinstance(result, dict) else []:
                problem = status_problem(status)
                if problem is None:
                    yield {"subscriberIdString": subscriber, **status}
                    continue
                client.bad_records.append({"object": "subscriptions",
                                           "record_key": str(subscriber), "rule": problem[0],
                                           "reason": problem[1], "raw": status})
