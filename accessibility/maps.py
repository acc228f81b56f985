"""Interactive access maps (Folium / Leaflet) that open with no internet.

:func:`access_map` draws, for each facility group, the origins (villages) as circles
coloured by travel-time class, with that group's facilities on top; one group is
shown at a time, chosen with radio buttons above a legend that follows it (its
group, mode, limit and classes). Class colours are keyed by minutes
(:func:`time_class_colours`), so "≤ 15" is the same green on every map and in the
PNG. :func:`save_html` writes the map as one self-contained HTML file (``<html
lang="zh-CN">``): Leaflet's JavaScript and CSS are inlined from the
``django-js-lib-leaflet`` wheel and no script or stylesheet is fetched from a CDN.

Base layers (:func:`add_base_layers`) are radio choices in the layer control. The
default needs no network: a light background with, optionally, the main roads
(trunk to tertiary, see :func:`main_roads` and :func:`simplify_roads`) drawn as
thin grey vector lines carried in the page. Web tiles are optional decoration:
OpenStreetMap, and Tianditu (天地图) vector tiles with annotation when a browser key
is set in the environment variable ``TIANDITU_KEY``. The map works without them.

All geometries are expected in EPSG:4326 (WGS 84 longitude/latitude); times are in
minutes. Labels come from :mod:`accessibility.labels`.

Design
------
In:  origins with ``{group}_time_min`` columns, facilities, groups and class limits
     (common, or per group with their modes).
Out: a folium map whose page carries its data once (``var D``) and one call per
     group; the legend and the group choice are built in the page from the groups'
     own legends, and a metric scale bar replaces folium's miles-and-feet one.
Tests: ``tests/test_maps.py`` (classes, colours by minutes, per-group legends,
     tooltips, the script run under node, offline HTML) and ``tests/test_browser.py``
     (the sample maps in headless Chromium: one group at a time, legend colours).
"""

from __future__ import annotations

import base64
import functools
import html
import itertools
import json
import logging
import math
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Final

import folium
import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from branca.element import Element, MacroElement
from folium.template import Template

from accessibility._errors import ValidationError
from accessibility.classify import parse_group, select
from accessibility.clock import china_time
from accessibility.engine import check_thresholds, group_key
from accessibility.labels import LANGS, group_label, keys, label
from accessibility.network import Network

__all__ = [
    "BACKGROUND_COLOUR",
    "BEYOND_COLOUR",
    "BOUNDARY_COLOUR",
    "FACILITY_COLOUR",
    "HTML_LANG",
    "MAIN_ROAD_CLASSES",
    "MINUTE_STOPS",
    "NO_DATA_COLOUR",
    "ROAD_STYLE",
    "ROAD_TOLERANCE_M",
    "TIANDITU_ENV",
    "UNREACHABLE",
    "UNREACHABLE_COLOUR",
    "access_map",
    "add_base_layers",
    "add_title",
    "china_time",
    "class_colours",
    "class_labels",
    "get_tianditu_key",
    "main_roads",
    "minutes_colour",
    "no_data_group",
    "no_data_text",
    "render_html",
    "save_html",
    "simplify_roads",
    "time_class_colours",
    "travel_time_classes",
]

logger = logging.getLogger(__name__)

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
#: Decimal places kept for longitude/latitude (6 ≈ 0.1 m).
_COORD_DECIMALS: Final[int] = 6
#: Road classes drawn as context, widest first; ``<class>_link`` ramps join their class.
MAIN_ROAD_CLASSES: Final[tuple[str, ...]] = ("trunk", "primary", "secondary", "tertiary")
#: Line width (screen pixels) and colour of each road class on the maps.
ROAD_STYLE: Final[dict[str, tuple[float, str]]] = {
    "trunk": (2.6, "#8f8f8f"),
    "primary": (2.0, "#9c9c9c"),
    "secondary": (1.5, "#a8a8a8"),
    "tertiary": (1.0, "#b4b4b4"),
}
#: Line width and colour of any other class passed to :func:`simplify_roads`.
_ROAD_STYLE_OTHER: Final[tuple[float, str]] = (0.8, "#c0c0c0")
#: Simplification tolerance for road lines, metres (below a pixel at zoom 12).
ROAD_TOLERANCE_M: Final[float] = 10.0
#: Decimal places kept for road vertices (5 ≈ 1 m).
_ROAD_DECIMALS: Final[int] = 5
#: Environment variable holding a Tianditu (天地图) browser key (``tk``).
TIANDITU_ENV: Final[str] = "TIANDITU_KEY"
#: Tianditu WMTS tiles in Web Mercator ("_w"); ``{s}`` is one of the subdomains t0–t7.
_TIANDITU_URL: Final[str] = (
    "https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile"
    "&VERSION=1.0.0&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
    "&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={key}"
)
_TIANDITU_SUBDOMAINS: Final[str] = "01234567"
_TIANDITU_ATTR: Final[str] = '&copy; <a href="https://www.tianditu.gov.cn/">天地图 Tianditu</a>'


# --------------------------------------------------------------------------- classes


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


# --------------------------------------------------------------------------- validation


def _check_lang(lang: str) -> None:
    if lang not in LANGS:
        msg = f"lang must be one of {', '.join(map(repr, LANGS))}; got {lang!r}"
        raise ValidationError(msg)


def _check_crs(crs: Any, what: str) -> None:
    if crs is None:
        msg = (
            f"{what} has no CRS; if its coordinates are longitude/latitude call "
            f"{what}.set_crs(4326), otherwise set its real CRS and call {what}.to_crs(4326)"
        )
        raise ValidationError(msg)
    if crs.to_epsg() != 4326:
        msg = (
            f"{what} must be in EPSG:4326 (WGS 84 longitude/latitude), not {crs.to_string()}; "
            f"call {what}.to_crs(4326) first"
        )
        raise ValidationError(msg)


def _check_boundary(boundary: Any) -> gpd.GeoSeries | None:
    """A boundary as a GeoSeries in EPSG:4326 (a GeoDataFrame's geometry is taken), or None."""
    if boundary is None:
        return None
    if isinstance(boundary, gpd.GeoDataFrame):
        boundary = boundary.geometry
    if not isinstance(boundary, gpd.GeoSeries):
        msg = f"boundary must be a GeoSeries in EPSG:4326; got {type(boundary).__name__}"
        raise ValidationError(msg)
    _check_crs(boundary.crs, "boundary")
    return boundary


def _check_lonlat(lon: np.ndarray, lat: np.ndarray, what: str) -> None:
    if np.any(np.abs(lon) > 180) or np.any(np.abs(lat) > 90):
        msg = (
            f"{what} is labelled EPSG:4326 but has coordinates outside ±180°/±90° "
            "(they look projected, e.g. metres); set its real CRS with "
            f"{what}.set_crs(..., allow_override=True) and then call {what}.to_crs(4326)"
        )
        raise ValidationError(msg)


def _check_groups(groups: Sequence[str]) -> list[str]:
    if isinstance(groups, str):
        msg = (
            f"groups must be a list of group strings, e.g. [{groups!r}]; got the string {groups!r}"
        )
        raise ValidationError(msg)
    out = [str(g).strip() for g in groups]
    if not out:
        msg = "groups is empty; name at least one group, e.g. ['school:primary'] or ['health']"
        raise ValidationError(msg)
    seen: set[str] = set()
    for g in out:
        parse_group(g)
        if g in seen:
            msg = f"group {g!r} is listed twice in groups; list each group once"
            raise ValidationError(msg)
        seen.add(g)
    return out


def _check_places(places: gpd.GeoDataFrame, groups: list[str]) -> None:
    if not isinstance(places, gpd.GeoDataFrame):
        msg = f"places must be a GeoDataFrame of origins in EPSG:4326; got {type(places).__name__}"
        raise ValidationError(msg)
    if places.empty:
        msg = (
            "places is empty: there are no origins to draw; check the region's places "
            "table and the unit filter before mapping"
        )
        raise ValidationError(msg)
    _check_crs(places.crs, "places")
    for g in groups:
        col = f"{group_key(g)}_time_min"
        if col not in places.columns:
            msg = (
                f"places has no column {col!r} for group {g!r}; the engine writes one "
                "'<group>_time_min' column per group (travel minutes, NaN when unreachable): "
                "compute access for this group or remove it from `groups`"
            )
            raise ValidationError(msg)
        column = places[col]
        numeric = (
            pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
        ) or pd.api.types.infer_dtype(column, skipna=True) in {
            "floating",
            "integer",
            "empty",
            "mixed-integer-float",
        }
        if not numeric:
            msg = (
                f"places[{col!r}] (group {g!r}) must hold numbers (minutes, NaN when "
                f"unreachable); got dtype {places[col].dtype}: convert it with pd.to_numeric"
            )
            raise ValidationError(msg)
        values = places[col].to_numpy(dtype=float)
        if np.any(values < 0):
            bad = places.index[values < 0][:5].tolist()
            msg = (
                f"places[{col!r}] (group {g!r}) has negative travel times at ids {bad}; "
                "times must be minutes ≥ 0 (NaN or inf when unreachable)"
            )
            raise ValidationError(msg)


def _check_facilities(facilities: gpd.GeoDataFrame, groups: list[str]) -> None:
    if not isinstance(facilities, gpd.GeoDataFrame):
        msg = (
            "facilities must be a GeoDataFrame in EPSG:4326 with columns name, kind, tiers; "
            f"got {type(facilities).__name__}"
        )
        raise ValidationError(msg)
    if facilities.empty:
        return
    _check_crs(facilities.crs, "facilities")
    if "kind" not in facilities.columns:
        msg = "facilities has no 'kind' column (school, health, reading or bus); add it"
        raise ValidationError(msg)
    if "tiers" not in facilities.columns and any(parse_group(g)[1] for g in groups):
        msg = (
            "facilities has no 'tiers' column but groups name tiers (e.g. 'school:primary'); "
            "add 'tiers' (';'-joined tier names, e.g. 'primary;middle') or use bare kinds"
        )
        raise ValidationError(msg)


# --------------------------------------------------------------------------- data


def _points_lonlat(geoms: gpd.GeoSeries) -> tuple[np.ndarray, np.ndarray]:
    pts = shapely.point_on_surface(geoms.to_numpy())
    lon = np.round(shapely.get_x(pts), _COORD_DECIMALS)
    lat = np.round(shapely.get_y(pts), _COORD_DECIMALS)
    return lon, lat


def _valid_geometry(gdf: gpd.GeoDataFrame, what: str) -> gpd.GeoDataFrame:
    ok = ~(gdf.geometry.isna() | gdf.geometry.is_empty)
    if not ok.all():
        bad = gdf.index[~ok]
        logger.warning(
            "%s: %d row(s) without geometry are not drawn (ids %s)",
            what,
            len(bad),
            bad[:5].tolist(),
        )
    return gdf[ok]


def _missing(value: Any) -> bool:
    """Whether a scalar cell is missing (None, NaN, NA, NaT)."""
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _text(value: Any, fallback: str = "") -> str:
    """HTML-escaped text of a cell, ``fallback`` when missing or blank."""
    text = "" if _missing(value) else str(value).strip()
    return html.escape(text if text else fallback)


def _radius(population: float) -> float:
    """Marker radius in screen pixels: 3 px, growing with log10 of population, ≤ 9 px."""
    if not np.isfinite(population) or population <= 0:
        return 3.5
    return round(min(9.0, 3.0 + 1.5 * math.log10(1.0 + population / 100.0)), 1)


def _soft_label(key: str, raw: str, lang: str) -> str:
    """Label of ``key``, or ``raw`` itself when the table has none."""
    try:
        return label(key, lang=lang)
    except ValidationError:
        return raw


def _js_json(obj: Any) -> str:
    """Compact JSON that is safe to place inside a ``<script>`` element."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for char, escape in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escape)
    return text


def _round_coords(obj: Any) -> Any:
    if isinstance(obj, (list, tuple)):
        if obj and isinstance(obj[0], (int, float)):
            return [round(float(v), _COORD_DECIMALS) for v in obj]
        return [_round_coords(v) for v in obj]
    return obj


def _place_rows(places: gpd.GeoDataFrame, lang: str) -> tuple[list[list[Any]], list[str], set[str]]:
    """Shared per-origin rows: ``[lat, lon, name, level index, population, radius, flag, leg_m]``
    (flag 0 ok, 1 far from the road, 2 nearest road cut off from the network), and the
    flags present."""
    lon, lat = _points_lonlat(places.geometry)
    _check_lonlat(lon, lat, "places")
    n = len(places)
    names = (
        places["name"] if "name" in places.columns else pd.Series([None] * n, index=places.index)
    )
    levels = (
        places["level"] if "level" in places.columns else pd.Series([None] * n, index=places.index)
    )
    pops = (
        pd.to_numeric(places["population"], errors="coerce").to_numpy(dtype=float)
        if "population" in places.columns
        else np.full(n, np.nan)
    )
    flags = (
        places["snap_flag"].astype("string").fillna("ok").str.strip()
        if "snap_flag" in places.columns
        else pd.Series(["ok"] * n, index=places.index, dtype="string")
    )
    code = np.where(flags.eq("far"), 1, np.where(flags.eq("road_cut_off"), 2, 0))
    legs = (
        pd.to_numeric(places["leg_m"], errors="coerce").to_numpy(dtype=float)
        if "leg_m" in places.columns
        else np.full(n, np.nan)
    )
    missing = [c for c in ("name", "level", "population", "snap_flag", "leg_m") if c not in places]
    if missing:
        logger.warning("places has no column(s) %s; tooltips show them as unknown", missing)

    level_texts: list[str] = []
    level_index: dict[str, int] = {}
    unknown = label("ui.unknown", lang=lang)
    unnamed = label("ui.unnamed", lang=lang)
    rows: list[list[Any]] = []
    for i, pid in enumerate(places.index):
        raw_level = "" if _missing(levels.iloc[i]) else str(levels.iloc[i]).strip()
        level_text = (
            html.escape(_soft_label(f"level.{raw_level}", raw_level, lang)) if raw_level else ""
        )
        if level_text not in level_index:
            level_index[level_text] = len(level_texts)
            level_texts.append(level_text)
        pop = pops[i]
        rows.append(
            [
                float(lat[i]),
                float(lon[i]),
                _text(_name_or_none(names.iloc[i], pid), fallback=unnamed),
                level_index[level_text],
                f"{pop:,.0f}" if np.isfinite(pop) else html.escape(unknown),
                _radius(pop),
                int(code[i]),
                round(float(legs[i])) if np.isfinite(legs[i]) else None,
            ]
        )
    present = {name for name, c in (("far", 1), ("road_cut_off", 2)) if (code == c).any()}
    return rows, level_texts, present


def _name_or_none(value: Any, row_id: Any) -> str | None:
    """A name to show, or ``None`` when it is missing, blank or the row's own id."""
    if _missing(value):
        return None
    text = str(value).strip()
    return text if text and text != str(row_id) else None


def _select_facilities(facilities: gpd.GeoDataFrame, group: str) -> gpd.GeoDataFrame:
    """Facilities of a group (see :func:`accessibility.classify.select`)."""
    if facilities.empty:
        return facilities
    return facilities[facilities.index.isin(select(facilities, group))]


def _facility_tip(name: str | None, group: str, tiers: Sequence[str], lang: str) -> str:
    """Tooltip of a facility (HTML): its name, then the group and its tiers, each said once.

    A facility without a name is named by its group; no internal id is shown.
    """
    group_text = group_label(group, lang=lang)
    sep = "、" if lang == "zh" else ", "
    tier_texts = list(dict.fromkeys(_soft_label(f"tier.{t}", t, lang) for t in tiers))
    said = {name, group_text} if name else {group_text}
    extra = [t for t in tier_texts if t not in said]
    head = name if name else f"{group_text} ({label('ui.unnamed', lang=lang)})"
    lines = [f"<b>{html.escape(head)}</b>"]
    second = [group_text] if name and name != group_text else []
    if extra:
        second.append(sep.join(extra))
    if second:
        lines.append(html.escape(" · ".join(second)))
    return "<br>".join(lines)


def _facility_rows(selected: gpd.GeoDataFrame, group: str, lang: str) -> list[list[Any]]:
    """Per-facility rows: ``[lat, lon, tooltip html]``."""
    selected = _valid_geometry(selected, "facilities")
    if selected.empty:
        return []
    lon, lat = _points_lonlat(selected.geometry)
    _check_lonlat(lon, lat, "facilities")
    rows = []
    has_name = "name" in selected.columns
    has_tiers = "tiers" in selected.columns
    for i, fid in enumerate(selected.index):
        name = _name_or_none(selected["name"].iloc[i] if has_name else None, fid)
        tiers: list[str] = []
        if has_tiers and not _missing(selected["tiers"].iloc[i]):
            tiers = [t.strip() for t in str(selected["tiers"].iloc[i]).split(";") if t.strip()]
        rows.append([float(lat[i]), float(lon[i]), _facility_tip(name, group, tiers, lang)])
    return rows


def _nearest_names(
    places: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame, key: str
) -> list[str | None]:
    """Name of the nearest facility per origin: ``{key}_facility_name``, else the name
    of facility ``{key}_facility`` in ``facilities``, else ``None``."""
    names: list[str | None] = [None] * len(places)
    name_col, id_col = f"{key}_facility_name", f"{key}_facility"
    ids = places[id_col].tolist() if id_col in places.columns else [None] * len(places)
    if name_col in places.columns:
        for i, value in enumerate(places[name_col]):
            names[i] = _name_or_none(value, ids[i])
    if id_col in places.columns and "name" in facilities.columns and not facilities.empty:
        lookup = facilities["name"][~facilities.index.duplicated()].to_dict()
        for i, fid in enumerate(ids):
            if names[i] is None and not _missing(fid):
                names[i] = _name_or_none(lookup.get(fid), fid)
    return names


def _group_payload(
    places: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    group: str,
    thresholds: np.ndarray,
    lang: str,
    mode: str | None = None,
) -> dict[str, Any]:
    """Per-group data: times ``t`` (min, 1 decimal), classes ``c``, class colours ``k``,
    nearest-name index ``f`` into ``fn``, facility rows ``x``, the group label ``g`` (with
    the mode ``m`` for tooltips) and ``nd`` (no data)."""
    key = group_key(group)
    minutes = places[f"{key}_time_min"].to_numpy(dtype=float)
    classes = travel_time_classes(minutes, thresholds)
    selected = _select_facilities(facilities, group)
    no_data = no_data_group(minutes, selected)
    if no_data:
        logger.warning(
            "group %r: no facility of this kind in the data; drawn as 'no data', not unreachable",
            group,
        )
    elif np.all(classes == UNREACHABLE):
        logger.warning(
            "group %r: all %d places are unreachable (no finite %s_time_min); "
            "check the engine run for this group",
            group,
            len(places),
            key,
        )
    nearest = _nearest_names(places, facilities, key)
    fac_names: list[str] = []
    fac_index: dict[str, int] = {}
    f: list[int | None] = []
    for cls, name in zip(classes, nearest):
        if cls == UNREACHABLE or name is None:
            f.append(None)
            continue
        text = _text(name)
        if text not in fac_index:
            fac_index[text] = len(fac_names)
            fac_names.append(text)
        f.append(fac_index[text])
    if selected.empty and not no_data:
        logger.warning("group %r: no facilities match; only the places are drawn", group)
    return {
        "nd": int(no_data),
        "g": html.escape(group_label(group, lang=lang)),
        "m": html.escape(label(f"mode.{mode}", lang=lang)) if mode else "",
        "t": [round(float(v), 1) if np.isfinite(v) else None for v in minutes],
        "c": classes.tolist(),
        "k": time_class_colours(list(thresholds)),
        "f": f,
        "fn": fac_names,
        "x": _facility_rows(selected, group, lang),
    }


def no_data_group(minutes: np.ndarray, selected: pd.DataFrame) -> bool:
    """Whether a group is *no data* (无数据): no facility of it given and no time known.

    ``minutes`` are the origins' times (NaN: no data; ``inf``: unreachable) and
    ``selected`` the group's facilities. A group with facilities, or with any time,
    is never no data: its villages without a finite time are unreachable.
    """
    return bool(len(minutes)) and bool(np.all(np.isnan(minutes))) and len(selected) == 0


def _boundary_geojson(boundary: gpd.GeoSeries) -> dict[str, Any]:
    geoms = [g for g in boundary.to_numpy() if g is not None and not g.is_empty]
    features = []
    for geom in geoms:
        mapping = shapely.geometry.mapping(shapely.set_precision(geom, 10.0**-_COORD_DECIMALS))
        mapping = {"type": mapping["type"], "coordinates": _round_coords(mapping["coordinates"])}
        features.append({"type": "Feature", "properties": {}, "geometry": mapping})
    return {"type": "FeatureCollection", "features": features}


# --------------------------------------------------------------------------- elements

_STYLE = """
#{map}.leaflet-container {{
  font-family: "Helvetica Neue", Arial, "PingFang SC", "Microsoft YaHei",
    "Noto Sans CJK SC", sans-serif;
}}
.acc-legend {{
  padding: 6px 10px; font-size: 12px; line-height: 18px;
  background: rgba(255, 255, 255, 0.93); border-radius: 4px;
  box-shadow: 0 1px 4px rgba(0, 0, 0, 0.3);
}}
.acc-legend .acc-lt, .acc-groups .acc-lt {{ font-weight: 600; margin-bottom: 2px; }}
.acc-legend .acc-lg {{ color: #333; margin-bottom: 2px; }}
.acc-legend i {{
  display: inline-block; width: 12px; height: 12px; margin-right: 6px;
  border-radius: 50%; vertical-align: -1px; box-sizing: border-box;
  box-shadow: 0 0 0 1px rgba(0, 0, 0, 0.25);
}}
.acc-legend i.acc-line {{
  width: 16px; height: 0; border-radius: 0; box-shadow: none; vertical-align: 4px;
}}
.acc-legend .acc-note {{ color: #555; font-size: 11px; }}
.acc-groups {{
  padding: 6px 10px; font-size: 12px; line-height: 20px;
  background: rgba(255, 255, 255, 0.93); border-radius: 4px;
  box-shadow: 0 1px 4px rgba(0, 0, 0, 0.3);
}}
.acc-groups label {{ display: block; cursor: pointer; white-space: nowrap; }}
.acc-groups input {{ margin: 0 4px 0 0; vertical-align: -2px; }}
"""


class _AccessLayers(MacroElement):
    """Shared data and drawing code for every group layer of one map.

    Emits ``var <name> = {addGroup, addBoundary, addControls, show, groups}``; each
    group layer then calls ``<name>.addGroup(<feature group>, {...});`` on one line,
    and :class:`_GroupControls` adds the legend and the group choice (radio buttons)
    once every group is known. ``show(i)`` puts group ``i`` on the map, takes every
    other group off, and redraws the legend for it: one group is visible at a time.
    """

    _template = Template(
        """
        {% macro header(this, kwargs) %}
        <style>{{ this.style }}</style>
        {% endmacro %}
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = (function (map) {
                var D = {{ this.data }};
                var groups = [], radios = [], legendBox = null;
                var pane = map.createPane("accBoundary");
                pane.style.zIndex = 350;
                pane.style.pointerEvents = "none";
                function tip(g, i) {
                    var p = D.p[i], t = g.t[i], f = g.f[i], s = D.s;
                    var lv = D.lv[p[3]];
                    var out = "<b>" + p[2] + "</b>" + (lv ? " (" + lv + ")" : "") +
                        "<br>" + s.pop + ": " + p[4] +
                        "<br>" + s.time + " · " + g.g + (g.m ? " (" + g.m + ")" : "") + ": " +
                        (t === null ? (g.nd ? s.nodata : s.unreachable) :
                            (p[6] === 2 ? "≈ " : "") + t.toFixed(1) + " " + s.min) +
                        "<br>" + s.nearest + ": " + (f === null ? "—" : g.fn[f]);
                    if (p[6] === 1) {
                        out += "<br><i>⚠ " + s.far +
                            (p[7] === null ? "" : " (" + s.leg + " " + p[7] + " " + s.m + ")") + "</i>";
                    } else if (p[6] === 2) {
                        out += "<br><i>⚠ " + s.cut + "</i>";
                    }
                    return out;
                }
                function addGroup(layer, g) {
                    groups.push({layer: layer, g: g});
                    var tipOf = function (marker) { return tip(g, marker.options.accIndex); };
                    for (var i = 0; i < D.p.length; i++) {
                        var p = D.p[i], c = g.c[i], far = p[6] === 1, cut = p[6] === 2;
                        L.circleMarker([p[0], p[1]], {
                            radius: p[5], weight: far || cut ? 1.6 : 0.8,
                            color: far ? "#000000" : (cut ? D.cut : "#ffffff"),
                            dashArray: far ? "3 3" : (cut ? "1 2" : null),
                            fillColor: g.nd ? D.nd : (c < 0 ? D.un : g.k[c]),
                            fillOpacity: 0.9, accIndex: i
                        }).bindTooltip(tipOf).addTo(layer);
                    }
                    for (var j = 0; j < g.x.length; j++) {
                        var q = g.x[j];
                        L.circleMarker([q[0], q[1]], {
                            radius: 4.5, weight: 2, color: "#ffffff",
                            fillColor: D.fac, fillOpacity: 1
                        }).bindTooltip(q[2]).addTo(layer);
                    }
                }
                function addBoundary(layer, geojson) {
                    L.geoJSON(geojson, {
                        pane: "accBoundary", interactive: false,
                        style: {color: D.bd, weight: 1.5, dashArray: "6 4", fill: false}
                    }).addTo(layer);
                }
                function show(i) {
                    for (var j = 0; j < groups.length; j++) {
                        var layer = groups[j].layer;
                        if (j === i && !map.hasLayer(layer)) { map.addLayer(layer); }
                        if (j !== i && map.hasLayer(layer)) { map.removeLayer(layer); }
                        if (radios[j]) { radios[j].checked = j === i; }
                    }
                    if (legendBox && groups[i]) { legendBox.innerHTML = groups[i].g.lg; }
                    api.active = i;
                }
                function addControls(chooseTitle) {
                    var legend = L.control({position: "bottomleft"});
                    legend.onAdd = function () {
                        legendBox = L.DomUtil.create("div", "acc-legend");
                        L.DomEvent.disableClickPropagation(legendBox);
                        return legendBox;
                    };
                    legend.addTo(map);
                    if (groups.length > 1) {
                        var chooser = L.control({position: "bottomleft"});
                        chooser.onAdd = function () {
                            var box = L.DomUtil.create("div", "acc-groups");
                            var head = L.DomUtil.create("div", "acc-lt", box);
                            head.innerHTML = chooseTitle;
                            groups.forEach(function (entry, j) {
                                var row = L.DomUtil.create("label", "", box);
                                var input = L.DomUtil.create("input", "", row);
                                input.type = "radio";
                                input.name = "{{ this.get_name() }}_group";
                                var name = L.DomUtil.create("span", "", row);
                                name.innerHTML = " " + entry.g.n;
                                L.DomEvent.on(input, "change", function () { show(j); });
                                radios.push(input);
                            });
                            L.DomEvent.disableClickPropagation(box);
                            L.DomEvent.disableScrollPropagation(box);
                            return box;
                        };
                        chooser.addTo(map);
                    }
                    show(0);
                }
                var api = {
                    addGroup: addGroup, addBoundary: addBoundary, addControls: addControls,
                    show: show, groups: groups, active: -1
                };
                return api;
            })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, data: dict[str, Any], style: str) -> None:
        super().__init__()
        self._name = "AccessLayers"
        self.data = _js_json(data)
        self.style = style


class _GroupMarkers(MacroElement):
    """Adds one group's origins and facilities to its parent FeatureGroup."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            {{ this.shared.get_name() }}.addGroup({{ this._parent.get_name() }}, {{ this.data }});
        {% endmacro %}
        """
    )

    def __init__(self, shared: _AccessLayers, data: dict[str, Any]) -> None:
        super().__init__()
        self._name = "GroupMarkers"
        self.shared = shared
        self.data = _js_json(data)


class _BoundaryOutline(MacroElement):
    """Adds a boundary outline (GeoJSON, EPSG:4326) to its parent FeatureGroup."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            {{ this.shared.get_name() }}.addBoundary({{ this._parent.get_name() }}, {{ this.data }});
        {% endmacro %}
        """
    )

    def __init__(self, shared: _AccessLayers, geojson: dict[str, Any]) -> None:
        super().__init__()
        self._name = "BoundaryOutline"
        self.shared = shared
        self.data = _js_json(geojson)


class _TitleBox(MacroElement):
    """The title as a banner across the top of the map (HTML given, already escaped),
    with the layer control in the same type as the panels (12 px).

    The top corners' controls (zoom, verdicts, layers) are moved below the banner,
    at load and whenever the window is resized, so nothing is drawn over the title
    whatever its length, language or number of lines.
    """

    _template = Template(
        """
        {% macro header(this, kwargs) %}
        <style>
        .acc-title {
          position: absolute; top: 0; left: 0; right: 0; z-index: 1000;
          padding: 5px 14px 6px; text-align: center;
          background: rgba(255, 255, 255, 0.95); box-shadow: 0 1px 4px rgba(0, 0, 0, 0.3);
          font-family: "Helvetica Neue", Arial, "PingFang SC", "Microsoft YaHei",
            "Noto Sans CJK SC", sans-serif; line-height: 1.45;
        }
        .acc-title .acc-h { font-size: 16px; font-weight: 600; }
        .acc-title .acc-sub { font-size: 12px; color: #444; }
        .acc-title .acc-src { font-size: 11px; color: #666; }
        .acc-title .acc-syn { font-size: 12px; color: #b00020; font-weight: 600; }
        .acc-title .acc-warn { font-size: 11px; color: #8a5a00; }
        .leaflet-container .leaflet-control-layers {
          font-family: "Helvetica Neue", Arial, "PingFang SC", "Microsoft YaHei",
            "Noto Sans CJK SC", sans-serif; font-size: 12px; line-height: 1.6;
        }
        </style>
        {% endmacro %}
        {% macro script(this, kwargs) %}
            (function (map) {
                var root = map.getContainer();
                var box = L.DomUtil.create("div", "acc-title", root);
                box.innerHTML = {{ this.content }};
                L.DomEvent.disableClickPropagation(box);
                L.DomEvent.disableScrollPropagation(box);
                var fit = function () {
                    var below = box.offsetHeight + "px";
                    root.querySelectorAll(".leaflet-top").forEach(function (el) { el.style.top = below; });
                };
                fit();
                map.on("resize", fit);  // Leaflet follows the window's size
            })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, content_html: str) -> None:
        super().__init__()
        self._name = "TitleBox"
        self.content = _js_json(content_html)


def add_title(
    m: folium.Map,
    title: str,
    subtitle: str | Sequence[str] | None = None,
    *,
    synthetic: bool = False,
    lang: str = "zh",
    source_note: str | None = None,
    notes: Any = None,
) -> folium.Map:
    """Add a title banner across the top of a map, the one every map of the suite has.

    Parameters
    ----------
    m
        The map.
    title
        The heading, e.g. ``"示例甲县 · 15分钟阅读圈"`` (plain text; escaped here).
    subtitle
        One line or several under the heading (what is measured, the headline figure).
    synthetic
        Add the red "synthetic data, for demonstration only" line.
    lang
        Language of that line.
    source_note
        The data's source and date, in small grey type.
    notes
        Warnings shown with a ⚠ sign: strings or an
        :class:`accessibility.report.Notes` (its texts in ``lang``).

    Returns
    -------
    folium.Map
        ``m``, for chaining.
    """
    content = _title_html(
        title,
        subtitle,
        synthetic=synthetic,
        lang=lang,
        source_note=source_note,
        notes=_note_texts(notes, lang),
    )
    m.add_child(_TitleBox(content))
    return m


class _GroupControls(MacroElement):
    """The legend (bottom left) and, above it, the choice of group (radio buttons).

    Added after every group layer; the legend's text follows the group shown.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            {{ this.shared.get_name() }}.addControls({{ this.title }});
        {% endmacro %}
        """
    )

    def __init__(self, shared: _AccessLayers, choose_title: str) -> None:
        super().__init__()
        self._name = "GroupControls"
        self.shared = shared
        self.title = _js_json(html.escape(choose_title))


def _legend_title(
    group: str, *, lang: str, mode: str | None = None, limit: float | None = None
) -> tuple[str, str]:
    """The legend's two title lines for a group: ``图例 · 小学`` and
    ``出行时间 · 步行 · 标准 ≤ 15 分钟`` (mode and limit when known)."""
    first = f"{label('ui.legend', lang=lang)} · {group_label(group, lang=lang)}"
    parts = [label("ui.travel_time", lang=lang)]
    if mode:
        parts.append(label(f"mode.{mode}", lang=lang))
    if limit is not None:
        parts.append(
            f"{label('ui.limit', lang=lang)} ≤ {_fmt_minutes(limit)} {label('ui.minutes', lang=lang)}"
        )
    return first, " · ".join(parts)


def _legend_html(
    group: str,
    thresholds: np.ndarray,
    *,
    lang: str,
    any_far: bool,
    no_data: bool = False,
    any_cut_off: bool = False,
    mode: str | None = None,
    limit: float | None = None,
    lines: Sequence[tuple[str, str]] = (),
) -> str:
    """The legend of one group: its title, its classes in their colours, and every other
    symbol its layer draws (each swatch drawn like the marker: fill and ring), then the
    context ``lines`` (``(css border, text)``: boundary, roads)."""

    def row(swatch_style: str, text: str, kind: str = "") -> str:
        cls = f' class="{kind}"' if kind else ""
        return f'<div><i{cls} style="{swatch_style}"></i>{html.escape(text)}</div>'

    first, second = _legend_title(group, lang=lang, mode=mode, limit=limit)
    parts = [
        f'<div class="acc-lt">{html.escape(first)}</div>',
        f'<div class="acc-lg">{html.escape(second)}</div>',
    ]
    ring = "border:1px solid #ffffff"
    if no_data:
        parts.append(row(f"background:{NO_DATA_COLOUR};{ring}", no_data_text([group], lang=lang)))
    else:
        colours = time_class_colours(list(thresholds))
        for colour, text in zip(colours, class_labels(list(thresholds), lang=lang)):
            parts.append(row(f"background:{colour};{ring}", text))
        parts.append(
            row(f"background:{UNREACHABLE_COLOUR};{ring}", label("ui.unreachable", lang=lang))
        )
    parts.append(
        row(
            f"background:{FACILITY_COLOUR};border:2px solid #ffffff;"
            f"box-shadow:0 0 0 1px {FACILITY_COLOUR}",
            label("ui.facilities", lang=lang),
        )
    )
    if any_far:
        parts.append(
            row(
                "background:#dddddd;border:1.5px dashed #000000",
                label("ui.far_from_road", lang=lang),
            )
        )
    if any_cut_off:
        parts.append(
            row(
                f"background:#dddddd;border:1.5px dotted {CUT_OFF_COLOUR}",
                label("ui.road_cut_off", lang=lang),
            )
        )
    for border, text in lines:
        parts.append(row(f"border-top:{border}", text, "acc-line"))
    parts.append(
        f'<div class="acc-note">{html.escape(label("ui.size_by_population", lang=lang))}</div>'
    )
    return "".join(parts)


def no_data_text(groups: Sequence[str], *, lang: str = "zh") -> str:
    """Legend text for groups without data: ``无数据（数据中无此类设施）：高中、阅读场所``."""
    sep, colon = ("、", "：") if lang == "zh" else (", ", ": ")
    head = f"{label('ui.no_data', lang=lang)} ({label('ui.no_data_note', lang=lang)})"
    if lang == "zh":
        head = f"{label('ui.no_data', lang=lang)}（{label('ui.no_data_note', lang=lang)}）"
    names = sep.join(group_label(g, lang=lang) for g in groups)
    return f"{head}{colon}{names}" if names else head


def _title_html(
    title: str,
    subtitle: str | Sequence[str] | None,
    *,
    synthetic: bool,
    lang: str,
    source_note: str | None = None,
    notes: Sequence[str] = (),
) -> str:
    parts = [f'<div class="acc-h">{html.escape(title)}</div>']
    lines = [subtitle] if isinstance(subtitle, str) else list(subtitle or [])
    parts += [f'<div class="acc-sub">{html.escape(str(line))}</div>' for line in lines if line]
    if source_note:
        parts.append(f'<div class="acc-src">{html.escape(source_note)}</div>')
    if synthetic:
        parts.append(
            f'<div class="acc-syn">{html.escape(label("ui.synthetic_notice", lang=lang))}</div>'
        )
    for note in notes:
        parts.append(f'<div class="acc-warn">⚠ {html.escape(str(note))}</div>')
    return "".join(parts)


def _bounds(
    places_lonlat: tuple[np.ndarray, np.ndarray],
    extra: list[list[Any]],
    boundary: gpd.GeoSeries | None,
) -> list[list[float]]:
    lon, lat = places_lonlat
    lons = [float(np.min(lon)), float(np.max(lon))] + [r[1] for r in extra]
    lats = [float(np.min(lat)), float(np.max(lat))] + [r[0] for r in extra]
    if boundary is not None and not boundary.empty:
        minx, miny, maxx, maxy = boundary.total_bounds
        if np.all(np.isfinite([minx, miny, maxx, maxy])):
            lons += [float(minx), float(maxx)]
            lats += [float(miny), float(maxy)]
    south, north, west, east = min(lats), max(lats), min(lons), max(lons)
    pad = 0.005  # degrees (~500 m), so a single point is not drawn at the maximum zoom
    if north - south < pad:
        south, north = south - pad, north + pad
    if east - west < pad:
        west, east = west - pad, east + pad
    return [[south, west], [north, east]]


# --------------------------------------------------------------------------- roads and base layers


def _road_class(value: Any) -> str:
    """Normalised ``highway`` value: first of a list, stripped, ``_link`` folded in."""
    if isinstance(value, (list, tuple, np.ndarray)):
        value = value[0] if len(value) else None
    if _missing(value):
        return ""
    text = str(value).strip().lower()
    return text.removesuffix("_link")


def main_roads(net: Network, *, classes: Sequence[str] = MAIN_ROAD_CLASSES) -> gpd.GeoDataFrame:
    """Road segments of a network's main classes as lines, for drawing context.

    Parameters
    ----------
    net
        A network from :func:`accessibility.network.load_or_build` (any mode; the
        study's own network is fine: only its kept, connected part is drawn).
    classes
        OSM ``highway`` classes to keep; ``<class>_link`` ramps count as ``<class>``.

    Returns
    -------
    geopandas.GeoDataFrame
        One two-point LineString per undirected segment, EPSG:4326, with column
        ``highway`` (the class, links folded in). Pass it to :func:`access_map` or
        :func:`accessibility.static_map.render_png` as ``roads``.
    """
    wanted = _check_classes(classes)
    seg_class = np.full(net.n_segments, "", dtype=object)
    names = np.array([_road_class(h) for h in net.highway_classes], dtype=object)
    seg_class[np.asarray(net.segment)] = names[np.asarray(net.highway)]
    keep = np.flatnonzero(np.isin(seg_class, list(wanted)))
    a, b = np.asarray(net.seg_a)[keep], np.asarray(net.seg_b)[keep]
    lon, lat = np.asarray(net.lon, dtype=float), np.asarray(net.lat, dtype=float)
    coords = np.stack([np.column_stack([lon[a], lat[a]]), np.column_stack([lon[b], lat[b]])], 1)
    lines = shapely.linestrings(coords) if len(keep) else np.array([], dtype=object)
    logger.debug("main roads: %d of %d segments", len(keep), net.n_segments)
    return gpd.GeoDataFrame(
        {"highway": seg_class[keep].astype(str)}, geometry=list(lines), crs=4326
    )


def _check_classes(classes: Sequence[str]) -> list[str]:
    if isinstance(classes, str):
        msg = f"classes must be a list of highway classes, e.g. [{classes!r}]; got a string"
        raise ValidationError(msg)
    out = [_road_class(c) for c in classes]
    if not out or not all(out):
        msg = f"classes must name at least one OSM highway class, e.g. ['trunk', 'primary']; got {list(classes)!r}"
        raise ValidationError(msg)
    return list(dict.fromkeys(out))


def _check_roads(roads: gpd.GeoDataFrame) -> None:
    if not isinstance(roads, gpd.GeoDataFrame):
        msg = (
            "roads must be a GeoDataFrame of LineStrings in EPSG:4326 with a 'highway' "
            f"column (e.g. from maps.main_roads(study.network)); got {type(roads).__name__}"
        )
        raise ValidationError(msg)
    if roads.empty:
        return
    _check_crs(roads.crs, "roads")
    if "highway" not in roads.columns:
        msg = (
            "roads has no 'highway' column; it holds the OSM road class of each line "
            "(trunk, primary, secondary, tertiary, ...) and decides what is drawn"
        )
        raise ValidationError(msg)
    kinds = roads.geometry.geom_type
    bad = roads.index[kinds.notna() & ~kinds.isin(["LineString", "MultiLineString"])]
    if len(bad):
        msg = (
            f"roads must hold LineStrings; rows {bad[:5].tolist()} are "
            f"{sorted(set(kinds.loc[bad]))}: keep only the road lines"
        )
        raise ValidationError(msg)
    minx, miny, maxx, maxy = roads.total_bounds
    _check_lonlat(np.array([minx, maxx]), np.array([miny, maxy]), "roads")


def simplify_roads(
    roads: gpd.GeoDataFrame,
    *,
    classes: Sequence[str] = MAIN_ROAD_CLASSES,
    tolerance_m: float = ROAD_TOLERANCE_M,
) -> gpd.GeoDataFrame:
    """Merge, simplify and round road lines of the main classes, one row per class.

    Lines of a class are joined where they meet end to end, simplified with the
    Douglas–Peucker algorithm in the local UTM zone (``tolerance_m`` metres), and
    their coordinates rounded to 5 decimal places (about 1 m); repeated vertices
    left by rounding are removed. This keeps a county's roads to a few hundred
    kilobytes in a self-contained map.

    Parameters
    ----------
    roads
        Road lines in EPSG:4326 with a ``highway`` column (OSM class; a list is read
        as its first item; ``<class>_link`` counts as ``<class>``).
    classes
        Classes to keep, in drawing order (first = drawn on top).
    tolerance_m
        Largest distance, metres, between a simplified line and the original.

    Returns
    -------
    geopandas.GeoDataFrame
        Index = class (only classes present), column ``highway`` and a
        (Multi)LineString geometry in EPSG:4326.

    Raises
    ------
    ValidationError
        If ``roads`` is not a GeoDataFrame of lines in EPSG:4326 with ``highway``,
        or ``tolerance_m`` is negative or not finite.
    """
    _check_roads(roads)
    wanted = _check_classes(classes)
    if not np.isfinite(tolerance_m) or tolerance_m < 0:
        msg = f"tolerance_m must be a finite number of metres ≥ 0; got {tolerance_m!r}"
        raise ValidationError(msg)
    empty = gpd.GeoDataFrame({"highway": pd.Series(dtype=str)}, geometry=[], crs=4326)
    if roads.empty:
        return empty
    roads = roads[~(roads.geometry.isna() | roads.geometry.is_empty)]
    cls = roads["highway"].map(_road_class)
    roads = roads[cls.isin(wanted)]
    if roads.empty:
        return empty
    metric = roads.estimate_utm_crs()
    projected = roads.geometry.to_crs(metric)
    cls = cls.loc[roads.index].to_numpy()
    rows, geoms = [], []
    for name in wanted:
        parts = shapely.get_parts(projected.to_numpy()[cls == name])
        if len(parts) == 0:
            continue
        merged = shapely.line_merge(shapely.multilinestrings(parts))
        simple = shapely.simplify(merged, tolerance_m, preserve_topology=False)
        rows.append(name)
        geoms.append(simple)
    out = gpd.GeoSeries(geoms, index=rows, crs=metric).to_crs(4326)
    decimals = _ROAD_DECIMALS
    rounded = shapely.transform(out.to_numpy(), lambda xy: np.round(xy, decimals))
    rounded = shapely.remove_repeated_points(rounded)
    cleaned = []
    for geom in rounded:
        lines = [p for p in shapely.get_parts(geom) if shapely.get_num_points(p) >= 2]
        cleaned.append(shapely.multilinestrings(lines) if lines else None)
    result = gpd.GeoDataFrame({"highway": rows}, geometry=cleaned, index=rows, crs=4326)
    result = result[result.geometry.notna()]
    logger.debug(
        "roads simplified: %s vertices in %s",
        int(shapely.get_num_coordinates(result.geometry.to_numpy()).sum()),
        list(result.index),
    )
    return result


def _road_payload(simple: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    """Per class (drawn last = on top, so reversed): width ``w``, colour ``c`` and lines
    ``l`` as flat ``[lat, lon, lat, lon, ...]`` lists."""
    out = []
    for name, geom in zip(simple.index[::-1], simple.geometry.to_numpy()[::-1]):
        width, colour = ROAD_STYLE.get(str(name), _ROAD_STYLE_OTHER)
        lines = []
        for part in shapely.get_parts(geom):
            xy = shapely.get_coordinates(part)
            flat = np.round(xy[:, ::-1], _ROAD_DECIMALS).ravel()
            lines.append([float(v) for v in flat])
        out.append({"w": width, "c": colour, "l": lines})
    return out


class _RoadLines(MacroElement):
    """Draws road lines (below every marker) into its parent layer."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            (function (map, layer, R) {
                if (!map.getPane("accRoads")) {
                    var pane = map.createPane("accRoads");
                    pane.style.zIndex = 340;
                    pane.style.pointerEvents = "none";
                }
                for (var k = 0; k < R.length; k++) {
                    var lines = R[k].l.map(function (f) {
                        var pts = [];
                        for (var i = 0; i < f.length; i += 2) { pts.push([f[i], f[i + 1]]); }
                        return pts;
                    });
                    L.polyline(lines, {
                        pane: "accRoads", interactive: false, color: R[k].c, weight: R[k].w,
                        opacity: 0.9, lineCap: "round", lineJoin: "round"
                    }).addTo(layer);
                }
            })({{ this.map_name }}, {{ this._parent.get_name() }}, {{ this.data }});
        {% endmacro %}
        """
    )

    def __init__(self, map_name: str, payload: list[dict[str, Any]]) -> None:
        super().__init__()
        self._name = "RoadLines"
        self.map_name = map_name
        self.data = _js_json(payload)


def get_tianditu_key(key: str | None = None) -> str | None:
    """The Tianditu browser key to use: ``key``, else ``$TIANDITU_KEY``, else ``None``.

    Parameters
    ----------
    key
        A key given explicitly; ``None`` reads the environment variable
        :data:`TIANDITU_ENV`; an empty string means no Tianditu layer.

    Returns
    -------
    str or None
        The key (letters and digits), or ``None`` when none is set.

    Raises
    ------
    ValidationError
        If the key holds anything but letters and digits (the key itself is not
        repeated in the message).
    """
    source = "the tianditu_key argument"
    if key is None:
        key, source = os.environ.get(TIANDITU_ENV, ""), f"${TIANDITU_ENV}"
    key = key.strip()
    if not key:
        return None
    if not re.fullmatch(r"[0-9A-Za-z]{8,128}", key):
        msg = (
            f"the Tianditu key in {source} must be the letters and digits of a browser key "
            f"(the 'tk' shown at console.tianditu.gov.cn); it has {len(key)} characters, "
            "some of them not letters or digits"
        )
        raise ValidationError(msg)
    return key


class _Background(MacroElement):
    """Sets the map's background colour (seen where no tiles are drawn)."""

    _template = Template(
        """
        {% macro header(this, kwargs) %}
        <style>#{{ this._parent.get_name() }} { background: {{ this.colour }}; }</style>
        {% endmacro %}
        """
    )

    def __init__(self, colour: str) -> None:
        super().__init__()
        self._name = "Background"
        self.colour = colour


class _MetricScale(MacroElement):
    """A scale bar in metres and kilometres only (no miles or feet), bottom right."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            L.control.scale({
                position: "bottomright", metric: true, imperial: false, maxWidth: 160
            }).addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "MetricScale"


#: The ``<html lang>`` of a page in each language.
HTML_LANG: Final[dict[str, str]] = {"zh": "zh-CN", "en": "en"}
#: Attribute of a map that records its language (set by :func:`add_base_layers`).
_LANG_ATTR: Final[str] = "_acc_lang"


def add_base_layers(
    m: folium.Map,
    *,
    lang: str,
    roads: gpd.GeoDataFrame | None = None,
    tianditu_key: str | None = None,
    tiles: bool = True,
) -> list[str]:
    """Add the base-layer choices (radio buttons in the layer control) to a map.

    1. **No basemap** (shown when the map opens, works offline): a light
       background and, when ``roads`` is given, the main roads as thin grey lines
       (see :func:`simplify_roads`) carried inside the page.
    2. **OpenStreetMap** tiles (``tiles=True``; need internet).
    3. **Tianditu (天地图)** vector tiles with their annotation layer (Chinese, or
       English with ``lang="en"``), when a key is given or set in ``$TIANDITU_KEY``
       (``tiles=True``; need internet). The key ends up in the page, as Tianditu
       browser keys are meant to.

    Add a :class:`folium.LayerControl` after this (and after the overlays) to
    let people switch. Tile layers are decoration: markers, legend and outline
    never depend on them. The map also gets a metric scale bar (bottom right; any
    scale folium would add in miles and feet is turned off) and remembers ``lang``
    for the ``<html lang>`` of :func:`render_html`.

    Parameters
    ----------
    m
        The map (created with ``tiles=None``).
    lang
        ``"zh"`` or ``"en"`` for the layer names.
    roads
        Optional road lines in EPSG:4326 with ``highway`` (e.g.
        :func:`main_roads` of the study's network); only trunk, primary,
        secondary and tertiary roads are drawn.
    tianditu_key
        Tianditu browser key; ``None`` reads ``$TIANDITU_KEY``; ``""`` never adds it.
    tiles
        Offer web tiles at all; ``False`` keeps only the offline base layer.

    Returns
    -------
    list of str
        Names of the base layers added, the one shown first.

    Raises
    ------
    ValidationError
        Bad ``lang``, bad ``roads`` (see :func:`simplify_roads`) or a malformed key.
    """
    _check_lang(lang)
    key = get_tianditu_key(tianditu_key) if tiles else None
    simple = simplify_roads(roads) if roads is not None else None
    has_roads = simple is not None and not simple.empty
    m.add_child(_Background(BACKGROUND_COLOUR))
    m.control_scale = False  # folium's scale shows miles and feet too
    m.add_child(_MetricScale())
    setattr(m, _LANG_ATTR, lang)

    names = [label("ui.basemap_roads" if has_roads else "ui.basemap_none", lang=lang)]
    offline = folium.FeatureGroup(name=names[0], overlay=False, control=tiles, show=True)
    if has_roads:
        offline.add_child(_RoadLines(m.get_name(), _road_payload(simple)))
    m.add_child(offline)

    if tiles:
        names.append(label("ui.basemap_osm", lang=lang))
        folium.TileLayer(
            "OpenStreetMap", name=names[-1], overlay=False, control=True, show=False
        ).add_to(m)
    if key is not None:
        names.append(label("ui.basemap_tianditu", lang=lang))
        tianditu = folium.FeatureGroup(name=names[-1], overlay=False, control=True, show=False)
        for layer in ("vec", "cva" if lang == "zh" else "eva"):  # roads, then place names
            folium.TileLayer(
                _TIANDITU_URL.format(layer=layer, key=key),
                attr=_TIANDITU_ATTR,
                subdomains=_TIANDITU_SUBDOMAINS,
                max_zoom=18,
                overlay=False,
                control=False,
                show=True,
            ).add_to(tianditu)
        m.add_child(tianditu)
        logger.info(
            "Tianditu base layer added (key from %s)",
            "the argument" if tianditu_key else f"${TIANDITU_ENV}",
        )
    return names


# --------------------------------------------------------------------------- public


def access_map(
    places: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    *,
    groups: Sequence[str],
    thresholds_min: Sequence[float],
    title: str,
    lang: str = "zh",
    boundary: gpd.GeoSeries | None = None,
    synthetic: bool = False,
    subtitle: str | None = None,
    basemap: bool = True,
    roads: gpd.GeoDataFrame | None = None,
    tianditu_key: str | None = None,
    source_note: str | None = None,
    notes: Sequence[str] | Any = (),
    mode: str | None = None,
    group_thresholds_min: Mapping[str, Sequence[float]] | None = None,
    group_modes: Mapping[str, str] | None = None,
    group_limits_min: Mapping[str, float] | None = None,
) -> folium.Map:
    """Map of travel time from each origin to its nearest facility, one group at a time.

    Each group (``"kind"`` or ``"kind:tier"``) becomes a layer named with its
    label, chosen with radio buttons above the legend (bottom left): one group is
    visible at a time, and the legend follows it (its group, mode, limit and
    classes). A group's layer holds every origin as a circle coloured by its
    travel-time class (see :func:`travel_time_classes`; colours by minutes from
    :func:`time_class_colours`, the same on every map; grey when unreachable), sized gently by
    population (3–9 px), outlined black and dashed when the origin is far from the
    road (``snap_flag == "far"``), and that group's facilities as dark dots with a
    white ring. A group with no facility in the data and no known time is *no
    data* (无数据), not unreachable: its layer's name says so, its origins are drawn
    light grey (:data:`NO_DATA_COLOUR`) with "no data" in their tooltips, and the
    legend names it. The first group is shown when the map opens. The map has a
    title banner across the top (:func:`add_title`), the group choice and legend (bottom left), an optional
    boundary outline, a metric scale, and base layers and context overlays (the
    layer control, top right; see :func:`add_base_layers`): none (a light background
    and the main roads, when given; shown first, works offline), OpenStreetMap
    tiles and, with a key, Tianditu (天地图) tiles. Layers added afterwards with
    ``folium.FeatureGroup(...).add_to(m)`` (before the layer control, see
    :func:`accessibility.policies.services.add_seats_layer`) are check boxes there.

    Parameters
    ----------
    places
        Origins in EPSG:4326, index = place id. Columns ``name``, ``level``,
        ``population`` (may be NaN), ``leg_m`` (metres walked to the road),
        ``snap_flag`` (``"ok"``/``"far"``) and, per group with
        ``key = group.replace(":", "_")``: ``{key}_time_min`` (minutes; NaN or inf
        when unreachable, required), ``{key}_facility`` (nearest facility id) and
        ``{key}_facility_name`` (both optional). Non-point geometries are drawn at
        a point on their surface.
    facilities
        Facilities in EPSG:4326, index = facility id, with ``name``, ``kind``
        (school, health, reading, bus) and ``tiers`` (``;``-joined tier names).
        ``"kind:tier"`` selects facilities of that kind whose tiers include the
        tier; a bare ``"kind"`` selects every facility of that kind.
    groups
        Groups to draw, e.g. ``["school:primary", "health", "reading"]``.
    thresholds_min
        Class limits in minutes, positive and increasing; ``[15, 30]`` gives the
        classes ≤ 15, 15–30 and > 30 minutes (a limit belongs to the lower class).
    title
        Title shown at the top of the map (and as the page title).
    lang
        ``"zh"`` or ``"en"`` for every label.
    boundary
        Optional outline (e.g. the county) in EPSG:4326, drawn as a dashed line.
    synthetic
        Show the synthetic-data notice under the title (required for the
        generated sample region).
    subtitle
        Optional second line of the title (e.g. travel mode).
    source_note
        Optional line under the title saying where the data come from and when
        (e.g. :meth:`accessibility.pipeline.Study.data_note`).
    basemap
        Offer web tiles (OpenStreetMap; Tianditu when a key is set) as base layers
        besides the offline one; they are never shown when the map opens.
    roads
        Optional road lines in EPSG:4326 with a ``highway`` column (e.g.
        ``main_roads(study.network)``); trunk, primary, secondary and tertiary
        roads are simplified (:func:`simplify_roads`) and drawn as thin grey lines.
    tianditu_key
        Tianditu browser key; ``None`` reads the environment variable
        ``TIANDITU_KEY``; ``""`` never adds the Tianditu layer.
    notes
        Sentences shown under the title with a warning sign, e.g. the sections the
        run skipped (an :class:`accessibility.report.Notes` gives its texts in
        ``lang``).
    mode
        Travel mode of every group (``rules/speeds.yml``, e.g. ``"ebike"``), named in
        the legend's title and the tooltips; ``None`` names none.
    group_thresholds_min
        Class limits of some groups, by group (e.g. ``{"school:high": [60]}``); the
        others use ``thresholds_min``.
    group_modes
        Travel mode of some groups, by group (e.g. ``{"bus": "walk"}``), over ``mode``.
    group_limits_min
        The limit a group's claim sets (minutes), said in its legend's title; by
        default the single limit of a group given one in ``group_thresholds_min``.

    Returns
    -------
    folium.Map
        Save it with :func:`save_html` to get a file that works offline.

    Raises
    ------
    ValidationError
        Bad ``lang``, groups, thresholds or modes (also per group, or for a group
        not drawn); empty ``places``; inputs not in EPSG:4326; a missing
        ``{key}_time_min`` column or negative times; roads that are not lines with
        ``highway``; a malformed Tianditu key.
    """
    _check_lang(lang)
    group_list = _check_groups(groups)
    thresholds = _check_thresholds(thresholds_min)
    per_group = _per_group_options(
        group_list, thresholds, mode, group_thresholds_min, group_modes, group_limits_min
    )
    _check_places(places, group_list)
    _check_facilities(facilities, group_list)
    boundary = _check_boundary(boundary)
    if roads is not None:
        _check_roads(roads)
    get_tianditu_key(tianditu_key)  # fail on a malformed key before any work

    places = _valid_geometry(places, "places")
    if places.empty:
        msg = "places has no row with a geometry; give the origins point geometries in EPSG:4326"
        raise ValidationError(msg)

    place_rows, level_texts, flags_present = _place_rows(places, lang)
    payloads = [
        _group_payload(places, facilities, g, per_group[g][0], lang, per_group[g][1])
        for g in group_list
    ]

    strings = {
        "pop": label("ui.population", lang=lang),
        "time": label("ui.travel_time", lang=lang),
        "min": label("ui.minutes", lang=lang),
        "m": label("ui.metres", lang=lang),
        "nearest": label("ui.nearest_facility", lang=lang),
        "unreachable": label("ui.unreachable", lang=lang),
        "nodata": no_data_text((), lang=lang),
        "far": label("ui.far_from_road", lang=lang),
        "cut": label("ui.road_cut_off_tip", lang=lang),
        "leg": label("ui.walk_to_road", lang=lang),
    }
    shared_data = {
        "p": place_rows,
        "lv": level_texts,
        "s": {k: html.escape(v) for k, v in strings.items()},
        "un": UNREACHABLE_COLOUR,
        "nd": NO_DATA_COLOUR,
        "fac": FACILITY_COLOUR,
        "cut": CUT_OFF_COLOUR,
        "bd": BOUNDARY_COLOUR,
    }

    lonlat = (np.array([r[1] for r in place_rows]), np.array([r[0] for r in place_rows]))
    bounds = _bounds(lonlat, [r for p in payloads for r in p["x"]], boundary)
    centre = [(bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2]

    m = folium.Map(location=centre, zoom_start=10, tiles=None, prefer_canvas=True)
    # Only Leaflet itself is needed; folium's other defaults (jQuery, Bootstrap,
    # awesome-markers, Font Awesome) are CDN assets this map does not use.
    m.default_js = [(n, u) for n, u in folium.Map.default_js if n == "leaflet"]
    m.default_css = [(n, u) for n, u in folium.Map.default_css if n == "leaflet_css"]
    m.get_root().header.add_child(
        Element(f"<title>{html.escape(title)}</title>"), name="acc_page_title"
    )

    base_names = add_base_layers(
        m, lang=lang, roads=roads, tianditu_key=tianditu_key, tiles=basemap
    )
    lines: list[tuple[str, str]] = []  # context drawn on the map, in every group's legend
    if boundary is not None and not boundary.empty:
        lines.append((f"1.5px dashed {BOUNDARY_COLOUR}", label("ui.boundary", lang=lang)))
    if base_names[0] == label("ui.basemap_roads", lang=lang):
        width, colour = ROAD_STYLE["primary"]
        lines.append((f"{width:g}px solid {colour}", label("ui.main_roads", lang=lang)))
    shared = _AccessLayers(shared_data, _STYLE.format(map=m.get_name()))
    m.add_child(shared)

    used_names: set[str] = set()
    any_far, any_cut = "far" in flags_present, "road_cut_off" in flags_present
    for i, (group, payload) in enumerate(zip(group_list, payloads)):
        name = group_label(group, lang=lang)
        if name in used_names:  # e.g. "bus" and "bus:bus_stop" share a label
            name = f"{name} ({group})"
        used_names.add(name)
        if payload["nd"]:
            name = f"{name} · {label('ui.no_data', lang=lang)}"
        th, group_mode, limit = per_group[group]
        payload["n"] = html.escape(name)
        payload["lg"] = _legend_html(
            group,
            th,
            lang=lang,
            any_far=any_far,
            no_data=bool(payload["nd"]),
            any_cut_off=any_cut,
            mode=group_mode,
            limit=limit,
            lines=lines,
        )
        # not in the layer control: the group choice (radio buttons) shows one at a time
        layer = folium.FeatureGroup(name=name, overlay=True, control=False, show=(i == 0))
        layer.add_child(_GroupMarkers(shared, payload))
        m.add_child(layer)

    if boundary is not None and not boundary.empty:
        outline = folium.FeatureGroup(name=label("ui.boundary", lang=lang), show=True)
        outline.add_child(_BoundaryOutline(shared, _boundary_geojson(boundary)))
        m.add_child(outline)

    add_title(
        m, title, subtitle, synthetic=synthetic, lang=lang, source_note=source_note, notes=notes
    )
    m.add_child(_GroupControls(shared, label("ui.choose_group", lang=lang)))
    folium.LayerControl(collapsed=False).add_to(m)
    m.fit_bounds(bounds, padding=(20, 20))
    logger.debug("access map: %d places, groups %s", len(places), group_list)
    return m


def _check_mode(mode: Any, what: str) -> str:
    if not isinstance(mode, str) or not mode.strip():
        msg = f"{what} must name a travel mode, e.g. 'walk' or 'ebike'; got {mode!r}"
        raise ValidationError(msg)
    mode = mode.strip()
    known = keys("mode")
    if mode not in known:
        msg = f"{what} {mode!r} is not a travel mode; use one of {', '.join(known)}"
        raise ValidationError(msg)
    return mode


def _per_group_options(
    groups: list[str],
    thresholds: np.ndarray,
    mode: str | None,
    group_thresholds_min: Mapping[str, Sequence[float]] | None,
    group_modes: Mapping[str, str] | None,
    group_limits_min: Mapping[str, float] | None,
) -> dict[str, tuple[np.ndarray, str | None, float | None]]:
    """Per group: its class limits, its mode and the limit its legend states."""
    common_mode = _check_mode(mode, "mode") if mode is not None else None
    options = {
        "group_thresholds_min": group_thresholds_min or {},
        "group_modes": group_modes or {},
        "group_limits_min": group_limits_min or {},
    }
    for what, given in options.items():
        if not isinstance(given, Mapping):
            msg = f"{what} must map groups to values, e.g. {{'health': ...}}; got {type(given).__name__}"
            raise ValidationError(msg)
        unknown = [g for g in given if g not in groups]
        if unknown:
            msg = f"{what} names {unknown}, which are not in groups {groups}; drop them or add the group"
            raise ValidationError(msg)
    out: dict[str, tuple[np.ndarray, str | None, float | None]] = {}
    for g in groups:
        own = options["group_thresholds_min"].get(g)
        th = _check_thresholds(own) if own is not None else thresholds
        g_mode = options["group_modes"].get(g)
        g_mode = _check_mode(g_mode, f"group_modes[{g!r}]") if g_mode is not None else common_mode
        limit = options["group_limits_min"].get(g)
        if limit is None and own is not None and len(th) == 1:
            limit = float(th[0])
        if limit is not None:
            limit = float(limit)
            if not math.isfinite(limit) or limit <= 0:
                msg = f"group_limits_min[{g!r}] must be a positive number of minutes; got {limit!r}"
                raise ValidationError(msg)
        out[g] = (th, g_mode, limit)
    return out


def _note_texts(notes: Any, lang: str) -> list[str]:
    """Texts of ``notes``: a :class:`accessibility.report.Notes` (in ``lang``) or strings."""
    if notes is None:
        return []
    if hasattr(notes, "texts"):
        return list(notes.texts(lang))
    if isinstance(notes, str):
        return [notes]
    return [str(n) for n in notes]


# --------------------------------------------------------------------------- self-contained HTML

#: CDN assets folium adds by default that a self-contained map does without.
_DROPPABLE = re.compile(
    r"jquery|bootstrap|awesome-markers|awesome\.rotate|fontawesome|font-awesome|glyphicons",
    re.IGNORECASE,
)
_SCRIPT_SRC = re.compile(
    r"<script\b[^>]*?\bsrc\s*=\s*(?:\"(?P<u1>[^\"]*)\"|'(?P<u2>[^']*)'|(?P<u3>[^\s>]+))"
    r"[^>]*>\s*</script\s*>",
    re.IGNORECASE,
)
_LINK = re.compile(r"<link\b[^>]*>", re.IGNORECASE)
_HREF = re.compile(
    r"\bhref\s*=\s*(?:\"(?P<u1>[^\"]*)\"|'(?P<u2>[^']*)'|(?P<u3>[^\s>]+))", re.IGNORECASE
)
_INLINE_SCRIPT = re.compile(
    r"<script\b(?![^>]*\bsrc\s*=)[^>]*>(?P<body>.*?)</script\s*>", re.IGNORECASE | re.DOTALL
)
_JQUERY_USE = re.compile(r"(?<![\w$])(?:\$|jQuery)\s*[(.]")
_IMPORT = re.compile(r"@import\b", re.IGNORECASE)
_CSS_URL = re.compile(r"url\((?P<q>['\"]?)(?P<path>images/[^'\")]+)(?P=q)\)")
_EXTERNAL_SRC = re.compile(r"<script\b[^>]*\bsrc\s*=", re.IGNORECASE)
_EXTERNAL_HREF = re.compile(r"<link\b[^>]*\bhref\s*=\s*[\"']?(?:https?:)?//", re.IGNORECASE)


def _url(match: re.Match[str]) -> str:
    return match.group("u1") or match.group("u2") or match.group("u3") or ""


def _basename(url: str) -> str:
    return url.split("?", 1)[0].split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1].lower()


@functools.cache
def _leaflet_assets() -> tuple[str, str, dict[str, str]]:
    """Leaflet's JS, its CSS with images as data URIs, and the marker icon data URIs."""
    try:
        root = resources.files("js_lib_leaflet").joinpath("static", "js_lib_leaflet")
        js = root.joinpath("leaflet.js").read_text("utf-8")
        css = root.joinpath("leaflet.css").read_text("utf-8")
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        msg = (
            "Leaflet's files were not found; install the 'django-js-lib-leaflet' package "
            "(it ships leaflet.js and leaflet.css) into this environment"
        )
        raise RuntimeError(msg) from exc

    def data_uri(rel: str) -> str:
        data = root.joinpath(*rel.split("/")).read_bytes()
        return "data:image/png;base64," + base64.b64encode(data).decode("ascii")

    css = _CSS_URL.sub(lambda mt: f'url("{data_uri(mt.group("path"))}")', css)
    icons = {
        "iconUrl": data_uri("images/marker-icon.png"),
        "iconRetinaUrl": data_uri("images/marker-icon-2x.png"),
        "shadowUrl": data_uri("images/marker-shadow.png"),
    }
    return js.replace("</script", "<\\/script"), css.replace("</style", "<\\/style"), icons


def render_html(m: folium.Map, *, lang: str | None = None) -> str:
    """Render a map to one HTML document that loads nothing from the network.

    Leaflet's JS and CSS are inlined (CSS images as ``data:`` URIs); folium's other
    default CDN assets (jQuery, Bootstrap, awesome-markers, Font Awesome, ...) are
    removed. Tile URLs inside the page's own script are kept (tiles are optional).
    The page says its language: ``<html lang="zh-CN">`` (``"en"`` in English).

    Parameters
    ----------
    m
        A folium map, e.g. from :func:`access_map`.
    lang
        ``"zh"`` or ``"en"``; default the language the map was made in (recorded by
        :func:`add_base_layers`), else ``"zh"``.

    Returns
    -------
    str
        The HTML document.

    Raises
    ------
    ValidationError
        If the map loads a script or stylesheet this function cannot inline
        (e.g. a folium plugin), or uses a removed library (awesome-markers icons
        from ``folium.Icon``, or jQuery).
    RuntimeError
        If the rendered page has no Leaflet script or an external asset survives.
    """
    lang = lang if lang is not None else getattr(m, _LANG_ATTR, "zh")
    _check_lang(lang)
    page = m.get_root().render()
    page = re.sub(
        r"<html\b[^>]*>", f'<html lang="{HTML_LANG[lang]}">', page, count=1, flags=re.IGNORECASE
    )
    js, css, icons = _leaflet_assets()

    inline_code = "\n".join(mt.group("body") for mt in _INLINE_SCRIPT.finditer(page))
    if "L.AwesomeMarkers" in inline_code:
        msg = (
            "the map uses folium.Icon (awesome-markers), which needs CDN scripts and fonts; "
            "draw points with folium.CircleMarker instead so the map works offline"
        )
        raise ValidationError(msg)
    if _JQUERY_USE.search(inline_code):
        msg = (
            "the map's script uses jQuery ($), which is not bundled; avoid features that need "
            "it (e.g. folium.Popup with an html Element, or Map(..., objects_to_stay_in_front))"
        )
        raise ValidationError(msg)

    unknown: list[str] = []
    found = {"js": 0, "css": 0}
    marker_fix = ""
    if "L.marker(" in inline_code:
        marker_fix = (
            '<script>L.Icon.Default.imagePath = "";'
            f"L.Icon.Default.mergeOptions({_js_json(icons)});</script>"
        )

    def replace_script(mt: re.Match[str]) -> str:
        url = _url(mt)
        if _basename(url) == "leaflet.js":
            found["js"] += 1
            return "" if found["js"] > 1 else f"<script>\n{js}\n</script>{marker_fix}"
        if _DROPPABLE.search(url):
            return ""
        unknown.append(url)
        return mt.group(0)

    def replace_link(mt: re.Match[str]) -> str:
        href = _HREF.search(mt.group(0))
        if href is None:
            return mt.group(0)
        url = _url(href)
        if _basename(url) == "leaflet.css":
            found["css"] += 1
            return "" if found["css"] > 1 else f"<style>\n{css}\n</style>"
        if _DROPPABLE.search(url):
            return ""
        unknown.append(url)
        return mt.group(0)

    page = _SCRIPT_SRC.sub(replace_script, page)
    page = _LINK.sub(replace_link, page)
    if unknown:
        msg = (
            f"the map loads {', '.join(unknown)} from outside the page; save_html can only "
            "inline Leaflet itself. Remove the plugin or element that adds these assets "
            "(or bundle them yourself) so the map works offline"
        )
        raise ValidationError(msg)
    if found["js"] == 0 or found["css"] == 0:
        msg = "the rendered map has no Leaflet <script>/<link> to replace; is it a folium.Map?"
        raise RuntimeError(msg)
    styles = re.findall(r"<style\b[^>]*>(.*?)</style\s*>", page, re.IGNORECASE | re.DOTALL)
    if (
        _EXTERNAL_SRC.search(page)
        or _EXTERNAL_HREF.search(page)
        or any(_IMPORT.search(s) for s in styles)
    ):
        msg = "an external script or stylesheet is still referenced after inlining Leaflet"
        raise RuntimeError(msg)
    return _CJK_ESCAPE.sub(_cjk_char, page)


#: ``\uXXXX`` escapes of CJK characters and full-width punctuation in the page's script
#: data (JSON is written ASCII-only), not preceded by an escaping backslash: written as
#: the characters themselves, half the bytes in UTF-8 and the same string to JavaScript.
_CJK_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u(3[0-9a-f]{3}|[4-9][0-9a-f]{3}|ff[0-9a-e][0-9a-f])")


def _cjk_char(mt: re.Match[str]) -> str:
    return mt.group(1) + chr(int(mt.group(2), 16))


def save_html(m: folium.Map, path: Path | str, *, lang: str | None = None) -> Path:
    """Write a map as one self-contained HTML file (see :func:`render_html`).

    The file is written to a temporary file in the same folder and then moved over
    ``path`` (atomic: readers never see a half-written map); missing parent
    folders are created.

    Parameters
    ----------
    m
        A folium map, e.g. from :func:`access_map`.
    path
        Output file, e.g. ``maps/<region>/<unit>_school.html``.
    lang
        Language of the page (``<html lang>``); default the map's own.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    page = render_html(m, lang=lang)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(page)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp_name, 0o644)  # mkstemp makes it private; maps are for sharing
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    logger.info("wrote %s (%.0f kB)", path, path.stat().st_size / 1024)
    return path


class InlineMap:
    """A self-contained map shown inside a notebook (an ``<iframe srcdoc>``).

    Folium's own notebook display loads Leaflet from a CDN; this one carries
    Leaflet inline, so analysts without internet see the map too.
    """

    def __init__(self, page: str, *, height_px: int = 600) -> None:
        self.page = page
        self.height_px = int(height_px)

    def _repr_html_(self) -> str:
        srcdoc = html.escape(self.page, quote=True)
        return (
            f'<iframe srcdoc="{srcdoc}" style="width:100%;height:{self.height_px}px;border:none" '
            'sandbox="allow-scripts"></iframe>'
        )


def inline(m: folium.Map, *, height_px: int = 600) -> InlineMap:
    """Return an object that displays ``m`` in a notebook without any network access."""
    return InlineMap(render_html(m), height_px=height_px)
