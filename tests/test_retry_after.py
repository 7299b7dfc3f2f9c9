"""The one ``Retry-After`` reader, and how upstream calls and webhook deliveries clamp it."""

from __future__ import annotations

import datetime as dt
import email.utils

import httpx
import pytest

from connector.providers._http import retry_after_seconds
from connector.retry_after import parse_retry_after

NOW = dt.datetime(2026, 10, 21, 7, 28, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("Wed, 21 Oct 2026 07:30:00 GMT", 120.0),
        ("Wednesday, 21-Oct-26 07:29:00 GMT", 60.0),  # RFC 850, obsolete but allowed
        ("Wed Oct 21 07:28:30 2026", 30.0),  # asctime, obsolete but allowed
        ("Wed, 21 Oct 2026 07:00:00 GMT", 0.0),  # already passed
    ],
)
def test_retry_after_reads_delta_seconds_and_http_dates(value: str, seconds: float) -> None:
    assert parse_retry_after(value, now=NOW) == seconds


@pytest.mark.parametrize("value", [None, "", "  ", "-5", "1.5", "soon", "²", "Wed, 99 Foo 2026"])
def test_retry_after_is_none_when_missing_or_unreadable(value: str | None) -> None:
    assert parse_retry_after(value, now=NOW) is None


def _answer(retry_after: str | None) -> httpx.Response:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return httpx.Response(429, headers=headers)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("9", 9), ("0", 1), ("86400", 3600), (None, 60), ("soon", 60)],
)
def test_an_upstream_retry_after_is_clamped_to_one_second_to_an_hour(
    value: str | None, seconds: int
) -> None:
    assert retry_after_seconds(_answer(value), default=60) == seconds


def test_an_upstream_retry_after_date_rounds_up_to_whole_seconds() -> None:
    when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=90)
    seconds = retry_after_seconds(_answer(email.utils.format_datetime(when, usegmt=True)), 60)
    assert 88 <= seconds <= 91
