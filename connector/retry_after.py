"""Reading a ``Retry-After`` header, from upstream APIs and webhook targets alike.

RFC 9110 §10.2.3 allows two forms: delta-seconds (``120``) and an HTTP-date
(``Wed, 21 Oct 2026 07:28:00 GMT``). Callers clamp the result to their own bounds: an upstream
rate limit to what the connector passes on, a webhook target to the retry policy's
``max_delay``.
"""

from __future__ import annotations

import datetime as dt
import email.utils


def parse_retry_after(value: str | None, *, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait that a ``Retry-After`` value asks for.

    :param value: the header's value, or ``None`` when there was none.
    :param now: the time an HTTP-date counts from (the current time by default).
    :return: the delta-seconds, or the seconds until the HTTP-date (0 once it has passed);
        ``None`` when the value is missing or neither form.
    """
    text = (value or "").strip()
    if not text:
        return None
    if text.isascii() and text.isdigit():  # str.isdigit alone takes "²", which float() refuses
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" and obsolete zones: RFC 9110 dates are in GMT
        when = when.replace(tzinfo=dt.UTC)
    start = now or dt.datetime.now(dt.UTC)
    return max(0.0, (when - start).total_seconds())
