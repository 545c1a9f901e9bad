"""Cursor pages over id-ordered collections and Okta's ``Link`` headers.

Okta pages with an opaque ``after`` cursor and ``Link`` headers, one per relation:
``<https://org/api/v1/users?limit=200>; rel="self"`` and, while more results exist,
``<https://org/api/v1/users?after=00u...&limit=200>; rel="next"``
(https://developer.okta.com/docs/api/#pagination). Here the cursor is the id of the
last item of the page; the next page starts after it by bisection, so a page costs
O(log n + limit) for plain lists.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar
from urllib.parse import urlencode

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of results and the cursor of the next one (None on the last page)."""

    items: list[T]
    next_cursor: str | None


def page_after(
    ids: Sequence[str],
    lookup: Callable[[str], T],
    *,
    after: str | None,
    limit: int,
    accept: Callable[[T], bool] | None = None,
) -> Page[T]:
    """Return up to ``limit`` items whose ids follow ``after`` and which ``accept`` keeps.

    ``ids`` must be sorted. A next cursor is given only when at least one more
    accepted item follows the page.
    """
    start = bisect_right(ids, after) if after else 0
    items: list[T] = []
    last_id: str | None = None
    for index in range(start, len(ids)):
        item = lookup(ids[index])
        if accept is not None and not accept(item):
            continue
        if len(items) == limit:
            return Page(items, last_id)
        items.append(item)
        last_id = ids[index]
    return Page(items, None)


def link_headers(
    base_url: str,
    path: str,
    params: Sequence[tuple[str, str]],
    *,
    next_cursor: str | None,
    limit: int,
) -> list[str]:
    """Build the ``Link`` header values: ``self`` always, ``next`` when there is a cursor.

    ``next`` carries ``after`` first, then ``limit``, then the request's other
    parameters, the order Okta uses. ``self`` must come before ``next``: okta SDK 3.x
    folds response headers into a dict, which keeps only the last ``Link`` header, and
    ``PaginationHelper.extract_next_cursor`` reads the cursor from that one.
    """
    url = base_url.rstrip("/") + path
    links = [f'<{url}{_query(params)}>; rel="self"']
    if next_cursor is not None:
        rest = [(k, v) for k, v in params if k not in ("after", "limit")]
        next_params = [("after", next_cursor), ("limit", str(limit)), *rest]
        links.append(f'<{url}{_query(next_params)}>; rel="next"')
    return links


def _query(params: Sequence[tuple[str, str]]) -> str:
    return "?" + urlencode(list(params)) if params else ""
