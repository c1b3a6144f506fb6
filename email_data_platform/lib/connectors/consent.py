"""Consent-management-platform feed connector (the contract is in `sandbox/consent.py`).

`GET /v1/consent-events?since=&cursor=&limit=` with an `X-API-Key` header, keyset-paged by an
opaque `next_cursor`; events come ordered by the time the platform recorded them.
"""

from collections.abc import Iterator

from email_data_platform.lib.connectors.http import (
    HttpClient,
    RequestBudget,
    RetryPolicy,
    StaticToken,
    TokenProvider,
    cursor_pages,
)

PAGE_SIZE = 1000


def _api_key_header(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


class ConsentFeedClient:
    def __init__(self, base_url: str, api_key: str | None = None,
                 token_provider: TokenProvider | None = None, *,
                 policy: RetryPolicy | None = None, budget: RequestBudget | None = None):
        if token_provider is None:
            if not api_key:
                raise ValueError("ConsentFeedClient needs an api_key or a token_provider")
            token_provider = StaticToken(api_key)
        self.http = HttpClient("consent", base_url, token_provider, _api_key_header,
                               policy=policy, budget=budget)
        self.total: int | None = None

    def close(self) -> None:
        self.http.close()

    def iter_events(self, since: str | None = None) -> Iterator[dict]:
        """Consent events recorded at or after `since` (ISO 8601), oldest first.

        After the listing, `total` holds the feed's own count for that window.
        """

        def fetch(cursor: str | None) -> tuple[list, str | None]:
            params = {"limit": PAGE_SIZE, **({"since": since} if since else {}),
                      **({"cursor": cursor} if cursor else {})}
            page = self.http.request("GET", "/v1/consent-events", params=params)
            if self.total is None:
                self.total = int(page.get("total", 0))
            return page.get("data") or [], page.get("next_cursor")

        self.total = None
        for page in cursor_pages(fetch):
            yield from page
