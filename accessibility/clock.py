"""Times shown to people, in China Standard Time (北京时间, UTC+8).

Maps and the batch index page are read by county officials in China, so the times
they show are written in China Standard Time whatever the machine's clock zone is:
``2026-12-04 16:21 北京时间 (UTC+8)``.

Design
------
In:  an aware :class:`datetime.datetime` (any zone), an ISO 8601 text (a manifest's
     ``started``), or nothing (now).
Out: the time converted to UTC+8 and written to the minute, with the zone named in
     the page's language.
Tests: ``tests/test_index_page.py`` (conversion from UTC and other zones, naive
     times, the English name, unreadable texts left as they are).
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from ._errors import ValidationError
from .labels import label

__all__ = ["CHINA_TZ", "china_time", "china_time_text"]

#: China Standard Time: UTC+8, no daylight saving.
CHINA_TZ: Final[dt.timezone] = dt.timezone(dt.timedelta(hours=8), "CST")


def china_time(when: dt.datetime | None = None, *, lang: str = "zh") -> str:
    """A time as shown on maps and pages: ``2026-12-04 16:21 北京时间 (UTC+8)``.

    Parameters
    ----------
    when
        An aware datetime in any zone; default now. A naive datetime is taken as
        the machine's local time.
    lang
        ``"zh"`` (北京时间) or ``"en"`` (China Standard Time).

    Returns
    -------
    str
    """
    moment = dt.datetime.now(dt.UTC) if when is None else when
    if not isinstance(moment, dt.datetime):
        msg = f"when must be a datetime; got {type(moment).__name__}"
        raise ValidationError(msg)
    local = moment.astimezone(CHINA_TZ)  # naive: read as the machine's local time
    return f"{local:%Y-%m-%d %H:%M} {label('ui.china_time', lang=lang)} (UTC+8)"


def china_time_text(text: str, *, lang: str = "zh") -> str:
    """An ISO 8601 time text (e.g. ``2026-12-04T08:21:07+00:00``) in China Standard Time.

    A text without a zone is taken as UTC (how the batch runner writes times); a text
    that is not an ISO time is returned unchanged.
    """
    try:
        moment = dt.datetime.fromisoformat(str(text).strip())
    except ValueError:
        return str(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return china_time(moment, lang=lang)
