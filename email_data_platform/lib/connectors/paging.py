"""Paging helpers: cursor-style (`next` token) and offset-style (`offset`/`count`) listings."""

from collections.abc import Callable, Iterator
from typing import Any


def cursor_pages(fetch: Callable[[Any], tuple[list, Any]], start: Any = None) -> Iterator[list]:
    """Yield pages from `fetch(cursor) -> (items, next_cursor)` until next_cursor is None."""
    cursor, seen = start, set()
    while True:
        items, next_cursor = fetch(cursor)
        yield items
        if next_cursor is None:
            return
        if next_cursor in seen:
            raise RuntimeError(f"paging loop: cursor {next_cursor!r} came back twice")
        seen.add(next_cursor)
        cursor = next_cursor


def offset_pages(fetch: Callable[[int, int], tuple[list, int]], count: int) -> Iterator[list]:
    """Yield pages from `fetch(offset, count) -> (items, total_items)`."""
    offset = 0
    while True:
        items, total = fetch(offset, count)
        if items:
            yield items
        offset += count
        if not items or offset >= total:
            return
