"""The data a map page carries: compact rows per origin and per group, as safe JSON.

In: checked places, facilities, groups and their class limits. Out: shared origin rows
(:func:`_place_rows`), per-group rows (:func:`_group_payload`), the boundary as
rounded GeoJSON, and :func:`_js_json` to write any of them inside a ``<script>``.
"""

from __future__ import annotations

import html
import json
import logging
import math
from collections.abc import Sequence
from typing import Any, Final

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from accessibility._errors import ValidationError
from accessibility.classify import select
from accessibility.engine import group_key
from accessibility.labels import group_label, label

from .checks import _check_lonlat
from .style import UNREACHABLE, time_class_colours, travel_time_classes

logger = logging.getLogger(__package__)


#: Decimal places kept for longitude/latitude (6 ≈ 0.1 m).
_COORD_DECIMALS: Final[int] = 6


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
