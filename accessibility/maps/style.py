"""Colours and legend texts of travel-time classes, the same on every map.

In: class limits in minutes (and travel times). Out: class codes
(:func:`travel_time_classes`), fill colours keyed by minutes
(:func:`time_class_colours`, :func:`minutes_colour`) and legend labels
(:func:`class_labels`); also the fixed colours of unreachable, no-data,
facility, cut-off and boundary symbols.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt

from accessibility._errors import ValidationError
from accessibility.engine import check_thresholds
from accessibility.labels import label

#: Class code of an origin with no finite travel time (NaN or inf minutes).
UNREACHABLE: Final[int] = -1
#: Fill colour of unreachable origins.
UNREACHABLE_COLOUR: Final[str] = "#a3a3a3"
#: Fill colour of every origin of a group with no facility in the data ("no data",
#: 无数据): lighter than unreachable, so the two are never confused.
NO_DATA_COLOUR: Final[str] = "#dcdcdc"
#: Fill colour of facility markers (drawn with a white ring, above the origins).
FACILITY_COLOUR: Final[str] = "#1f2a5c"
#: Outline (dotted) of an origin whose nearest road is cut off from the network: its time is an estimate.
CUT_OFF_COLOUR: Final[str] = "#7b3294"
#: Line colour of the boundary outline (dashed).
BOUNDARY_COLOUR: Final[str] = "#4d4d4d"
#: Map background when no base tiles are shown.
BACKGROUND_COLOUR: Final[str] = "#f3f1ec"
#: Travel-time colour ramp, best (shortest) first; :func:`class_colours` samples it evenly.
_RAMP: Final[tuple[str, ...]] = ("#1a9850", "#91cf60", "#fdae61", "#f46d43", "#d73027")
#: Colour of a travel-time class by the upper limit of its minutes (see
#: :func:`minutes_colour`): ``(minutes, colour)`` stops, interpolated between them and
#: held beyond the first and last. "≤ 15" is always this green, "15–30" this orange.
MINUTE_STOPS: Final[tuple[tuple[float, str], ...]] = (
    (5.0, "#006837"),
    (15.0, "#1a9850"),
    (20.0, "#91cf60"),
    (25.0, "#fee08b"),
    (30.0, "#fdae61"),
    (45.0, "#f46d43"),
    (60.0, "#d73027"),
    (120.0, "#c2243a"),
)
#: Colour of the open class above the last limit ("> 30 分钟"), on every map: a dark
#: red, apart from every bounded class.
BEYOND_COLOUR: Final[str] = "#a50026"


def _check_thresholds(thresholds_min: Sequence[float]) -> np.ndarray:
    th = np.asarray(check_thresholds(thresholds_min), dtype=float)
    if len(th) != len(list(thresholds_min)) or list(th) != [float(t) for t in thresholds_min]:
        msg = (
            f"thresholds_min must be strictly increasing, e.g. [15, 30]; got {list(thresholds_min)}"
        )
        raise ValidationError(msg)
    return th


def travel_time_classes(
    minutes: npt.ArrayLike, thresholds_min: Sequence[float]
) -> npt.NDArray[np.int64]:
    """Travel-time class of each value.

    With thresholds ``t_0 < t_1 < ... < t_{n-1}`` (minutes), class ``0`` is
    ``minutes <= t_0``, class ``k`` is ``t_{k-1} < minutes <= t_k`` and class ``n`` is
    ``minutes > t_{n-1}``: a value exactly on a threshold belongs to the lower class
    (15 minutes is "within 15 minutes"). NaN and ±inf give :data:`UNREACHABLE`.

    Parameters
    ----------
    minutes
        Travel times in minutes (scalar or array).
    thresholds_min
        Class limits in minutes, positive and strictly increasing.

    Returns
    -------
    numpy.ndarray
        Integer classes, same shape as ``minutes``; ``UNREACHABLE`` (-1) where the
        time is not finite.
    """
    th = _check_thresholds(thresholds_min)
    t = np.asarray(minutes, dtype=float)
    finite = np.isfinite(t)
    classes = np.searchsorted(th, np.where(finite, t, 0.0), side="left")
    return np.where(finite, classes, UNREACHABLE).astype(np.int64)


def _hex_to_rgb(colour: str) -> tuple[int, int, int]:
    value = colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def class_colours(n_classes: int) -> list[str]:
    """Fill colours for ``n_classes`` travel-time classes, green (short) to red (long).

    The colours depend on the number of classes only, so the same minutes may get
    different colours on two maps; draw with :func:`time_class_colours` instead.

    Parameters
    ----------
    n_classes
        Number of classes, i.e. ``len(thresholds_min) + 1``.

    Returns
    -------
    list of str
        ``#rrggbb`` colours sampled evenly along a green–orange–red ramp.
    """
    if n_classes < 1:
        msg = f"n_classes must be at least 1; got {n_classes}"
        raise ValidationError(msg)
    if n_classes == 1:
        return [_RAMP[0]]
    out = []
    for i in range(n_classes):
        pos = i * (len(_RAMP) - 1) / (n_classes - 1)
        lo = min(math.floor(pos), len(_RAMP) - 2)
        frac = pos - lo
        a, b = _hex_to_rgb(_RAMP[lo]), _hex_to_rgb(_RAMP[lo + 1])
        rgb = (round(a[j] + (b[j] - a[j]) * frac) for j in range(3))
        out.append("#" + "".join(f"{v:02x}" for v in rgb))
    return out


def minutes_colour(upper_min: float | None) -> str:
    """Colour of a travel-time class, keyed by the upper limit of its minutes.

    The same limit gives the same colour on every map, whatever the other classes
    are: a class "≤ 15" or "10–15" is the green of 15 minutes, "15–30" the orange of
    30 minutes, and the open class above the last limit ("> 30") is always
    :data:`BEYOND_COLOUR`. Limits between the :data:`MINUTE_STOPS` are interpolated
    (so classes of one map get distinct colours); below 5 and above 120 minutes the
    end colours hold.

    Parameters
    ----------
    upper_min
        The class's upper limit in minutes; ``None`` or ``inf`` for the open class
        above the last limit.

    Returns
    -------
    str
        ``#rrggbb``.

    Raises
    ------
    ValidationError
        If ``upper_min`` is NaN or not positive.
    """
    if upper_min is None or upper_min == math.inf:
        return BEYOND_COLOUR
    value = float(upper_min)
    if not value > 0 or math.isnan(value):
        msg = f"a class limit must be a positive number of minutes; got {upper_min!r}"
        raise ValidationError(msg)
    stops = MINUTE_STOPS
    if value <= stops[0][0]:
        return stops[0][1]
    for (t0, c0), (t1, c1) in itertools.pairwise(stops):
        if value <= t1:
            frac = (value - t0) / (t1 - t0)
            a, b = _hex_to_rgb(c0), _hex_to_rgb(c1)
            return "#" + "".join(f"{round(a[j] + (b[j] - a[j]) * frac):02x}" for j in range(3))
    return stops[-1][1]


def time_class_colours(thresholds_min: Sequence[float]) -> list[str]:
    """Colours of the travel-time classes of ``thresholds_min``, keyed by their minutes.

    The one palette for every map (HTML and PNG): class ``k`` (up to ``t_k``) gets
    :func:`minutes_colour` of ``t_k`` and the last class (above ``t_{n-1}``)
    :data:`BEYOND_COLOUR`. ``[15, 30]`` and ``[15, 30, 60]`` both draw "≤ 15" in
    the same green and "15–30" in the same orange.

    Parameters
    ----------
    thresholds_min
        Class limits in minutes, positive and strictly increasing.

    Returns
    -------
    list of str
        ``len(thresholds_min) + 1`` colours ``#rrggbb``, shortest class first.
    """
    th = _check_thresholds(thresholds_min)
    return [minutes_colour(float(t)) for t in th] + [BEYOND_COLOUR]


def _fmt_minutes(value: float) -> str:
    return f"{value:g}"


def class_labels(thresholds_min: Sequence[float], *, lang: str = "zh") -> list[str]:
    """Legend text of each travel-time class (not including "unreachable").

    Parameters
    ----------
    thresholds_min
        Class limits in minutes, e.g. ``[15, 30]``.
    lang
        ``"zh"`` or ``"en"``.

    Returns
    -------
    list of str
        E.g. ``["≤ 15 分钟", "15–30 分钟", "> 30 分钟"]``.
    """
    th = _check_thresholds(thresholds_min)
    unit = label("ui.minutes", lang=lang)
    parts = [f"≤ {_fmt_minutes(th[0])}"]
    parts += [f"{_fmt_minutes(a)}–{_fmt_minutes(b)}" for a, b in itertools.pairwise(th)]
    parts.append(f"> {_fmt_minutes(th[-1])}")
    return [f"{p} {unit}" for p in parts]
