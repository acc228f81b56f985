"""Main roads as context: taken from a network, merged and simplified per class, drawn as lines.

In: a :class:`~accessibility.network.Network` or road lines with ``highway``. Out: one
simplified (Multi)LineString per class (:func:`simplify_roads`), its compact payload
and the element that draws it under every marker.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Final

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import MacroElement
from folium.template import Template

from accessibility._errors import ValidationError
from accessibility.network import Network

from .checks import _check_crs, _check_lonlat
from .payload import _js_json, _missing

logger = logging.getLogger(__package__)


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
