"""The reading circle on an offline web map: walk areas, residents (merged per cell in a city), plans, legend."""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, MacroElement
from folium.template import Template

from ..._errors import ValidationError
from ...labels import group_label, label
from ...maps import (
    BEYOND_COLOUR,
    BOUNDARY_COLOUR,
    NO_DATA_COLOUR,
    add_base_layers,
    add_title,
    minutes_colour,
)
from .. import _overlays
from .assessment import Assessment, _fmt_share, _target_text
from .tables import _method_text, _plan_row

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

#: Areas on the map are simplified to about 10 m (walk areas; the uncovered areas, discs
#: of ``gap_radius_m`` around residents, to about 20 m) and their coordinates kept to
#: about 1 m: a walk of 15 minutes is drawn no worse, in a fraction of the bytes. The
#: GeoPackage keeps them as computed.
AREA_DETAIL_DEG: Final[float] = 1e-4
AREA_PRECISION_DEG: Final[float] = 1e-5
#: Above this many residence points the map draws them merged per grid cell.
AGGREGATE_ABOVE: Final[int] = 3_000
#: Side of those cells, metres.
DEFAULT_CELL_M: Final[float] = 200.0
#: Colours of the map.
COVERED_COLOUR: Final[str] = minutes_colour(
    15.0
)  # within the walk: the green of ≤ 15 minutes on every map
UNCOVERED_COLOUR: Final[str] = BEYOND_COLOUR  # beyond it: the colour of the last class on every map
PLACE_COLOUR: Final[str] = "#1f2a5c"
#: One colour per site plan (greedy/optimal per target), in the order of the plans; the
#: walk area after a target's recommended plan is drawn in that plan's colour.
SITE_COLOURS: Final[tuple[str, ...]] = ("#7b3294", "#e66101", "#0571b0", "#a6611a", "#c51b7d")
#: Points drawn on the map above this number: only the uncovered ones.
MAX_MAP_POINTS: Final[int] = 20_000
#: Holes of a walk area up to this size (m²) are filled on the map: blocks ringed by
#: reached streets, whose homes are a short walk from one of them.
FILL_HOLES_M2: Final[float] = 200_000.0
_FONT: Final[str] = "'Helvetica Neue',Arial,'PingFang SC','Microsoft YaHei',sans-serif"


# --------------------------------------------------------------------------- map


def _geojson(
    gdf: gpd.GeoDataFrame,
    columns: Sequence[str] = (),
    *,
    simplify_deg: float = 0.0,
    precision_deg: float = 1e-6,
) -> dict[str, Any]:
    """GeoJSON of some columns (no per-feature bbox or id), coordinates rounded to
    ``precision_deg`` (1e-6° ≈ 0.1 m), optionally simplified."""
    frame = gdf[[*columns]].copy()
    geom = gdf.geometry.to_numpy()
    if simplify_deg > 0:
        geom = shapely.simplify(geom, simplify_deg, preserve_topology=True)
    geom = shapely.set_precision(geom, precision_deg)
    frame = gpd.GeoDataFrame(frame, geometry=geom, crs=4326)
    # no bounding box or id per feature: thousands of residents stay a map of a few MB
    return frame.to_geo_dict(show_bbox=False, drop_id=True)


def _point_layer(
    points: gpd.GeoDataFrame,
    tips: Sequence[str],
    *,
    name: str,
    colour: str | Sequence[str],
    radius: float | Sequence[float],
    outline: str = "#ffffff",
    weight: float = 0.5,
    show: bool = True,
) -> folium.FeatureGroup:
    """Circles drawn from one GeoJSON layer (compact for thousands of points), with tooltips."""
    n = len(points)
    colours = [colour] * n if isinstance(colour, str) else list(colour)
    radii = [float(radius)] * n if isinstance(radius, int | float) else [float(r) for r in radius]
    same = len(set(colours)) <= 1 and len(set(radii)) <= 1  # said once, not per point
    frame = gpd.GeoDataFrame(
        {"tip": [html.escape(t) for t in tips], "c": colours, "r": np.round(radii, 1)},
        geometry=points.geometry.to_numpy(),
        crs=4326,
    )
    layer = folium.FeatureGroup(name=name, show=show)
    if n:
        c0, r0 = colours[0], round(radii[0], 1)
        folium.GeoJson(
            _geojson(frame, ["tip"] if same else ["tip", "c", "r"], precision_deg=1e-5),
            marker=folium.CircleMarker(radius=4, weight=weight, color=outline, fill=True),
            style_function=lambda f: {
                "fillColor": f["properties"].get("c", c0),
                "radius": f["properties"].get("r", r0),
                "fillOpacity": 0.9,
                "color": outline,
                "weight": weight,
            },
            tooltip=folium.GeoJsonTooltip(fields=["tip"], labels=False),
        ).add_to(layer)
    return layer


def _legend(rows: Sequence[tuple[str, str, str]]) -> Element:
    """A fixed box in the bottom-left corner: (shape, colour, text) per row, shapes as
    drawn on the map (see :mod:`accessibility.policies._overlays`)."""
    items = "".join(
        '<div style="display:flex;align-items:center">'
        '<span style="flex:none;width:18px;text-align:center;line-height:0">'
        f"{_overlays.swatch(shape, c, size=11)}</span><span>{html.escape(t)}</span></div>"
        for shape, c, t in rows
    )
    style = (
        "position:fixed;bottom:64px;left:10px;z-index:1000;padding:6px 10px;font-size:12px;"
        "line-height:18px;background:rgba(255,255,255,0.93);border-radius:4px;"
        f"box-shadow:0 1px 4px rgba(0,0,0,0.3);font-family:{_FONT}"
    )
    element = Element(f'<div class="rc-legend" style="{style}">{items}</div>')
    element.rows = list(rows)  # what the legend explains, for checks
    return element


class _Residents(MacroElement):
    """Residence points of one layer as circles, from one compact array.

    Each point is ``[lat, lon, population, minutes or null, radius, place]`` (place:
    index into the names of the nearest reading places, or -1); the tooltip (residents,
    walk, nearest reading place) is built when the point is hovered. Thousands of
    points stay a few hundred kB, where one GeoJSON feature with its text each would be
    several MB.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            (function (layer) {
                var D = {{ this.data }};
                function tip(p) {
                    var t = p[3] === null ? D.none : p[3].toFixed(1) + " " + D.min;
                    var out = D.tip.replace("{population}", Math.round(p[2]).toLocaleString("en-US"))
                        .replace("{time}", t);
                    return p[5] < 0 ? out : out + "<br>" + D.near.replace("{name}", D.n[p[5]]);
                }
                D.p.forEach(function (p) {
                    L.circleMarker([p[0], p[1]], {
                        radius: p[4], color: "#ffffff", weight: 0.5, fillColor: D.c, fillOpacity: 0.9
                    }).bindTooltip(function () { return tip(p); }).addTo(layer);
                });
            })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__()
        self._name = "Residents"
        self.data = _js_json(data)


class _Areas(MacroElement):
    """Polygons of one layer from one compact array: coordinates as whole multiples of
    :data:`AREA_PRECISION_DEG`, each ring's points as differences from the previous
    one (``[lon0, lat0, dlon1, dlat1, ...]``), about a third of the bytes of GeoJSON.

    ``data``: ``{"a": [[ring, ...] per polygon], "t": [tooltip per polygon] or [],
    "s": Leaflet path style}``. Tooltips are plain text (escaped before).
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            (function (layer) {
                var D = {{ this.data }}, q = {{ this.unit }};
                D.a.forEach(function (poly, i) {
                    var rings = poly.map(function (r) {
                        var x = 0, y = 0, out = [];
                        for (var k = 0; k < r.length; k += 2) {
                            x += r[k]; y += r[k + 1];
                            out.push([y * q, x * q]);
                        }
                        return out;
                    });
                    var shape = L.polygon(rings, D.s);
                    if (D.t.length) shape.bindTooltip(D.t[i]);
                    shape.addTo(layer);
                });
            })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(
        self, polygons: Sequence[Any], style: dict[str, Any], tips: Sequence[str] = ()
    ) -> None:
        super().__init__()
        self._name = "Areas"
        self.unit = repr(AREA_PRECISION_DEG)
        packed, texts = [], []
        for k, poly in enumerate(polygons):
            for part in shapely.get_parts(poly):
                if not isinstance(part, shapely.Polygon) or part.is_empty:
                    continue
                rings = [part.exterior, *part.interiors]
                packed.append([_delta_ring(np.asarray(r.coords)[:-1]) for r in rings])
                if len(tips):
                    texts.append(tips[k])
        self.count = len(packed)
        self.data = _js_json({"a": packed, "t": texts, "s": style})


def _delta_ring(coords: np.ndarray) -> list[int]:
    """A ring's ``[lon, lat]`` points as whole units of :data:`AREA_PRECISION_DEG`, each
    point the difference from the one before (the first from zero)."""
    units = np.round(coords / AREA_PRECISION_DEG).astype(np.int64)
    steps = np.diff(units, axis=0, prepend=np.zeros((1, 2), dtype=np.int64))
    return steps.ravel().tolist()


def _js_json(obj: Any) -> str:
    """Compact JSON safe inside a ``<script>`` element."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escape)
    return text


def _place_names(facilities: gpd.GeoDataFrame, lang: str) -> pd.Series:
    """Each reading place's name, or what it is (its tier or kind) when it has none: never its id."""
    names = facilities["name"] if "name" in facilities else pd.Series(None, index=facilities.index)
    tiers = facilities["tiers"] if "tiers" in facilities else pd.Series("", index=facilities.index)
    out = []
    for name, tier in zip(names, tiers):
        if isinstance(name, str) and name.strip():
            out.append(name.strip())
            continue
        first = str(tier).split(";")[0] if isinstance(tier, str) and tier else ""
        try:
            out.append(group_label(f"reading:{first}" if first else "reading", lang=lang))
        except ValidationError:
            out.append(group_label("reading", lang=lang))
    return pd.Series(out, index=facilities.index, dtype=object)


def filled(areas: gpd.GeoDataFrame, max_hole_m2: float = FILL_HOLES_M2) -> gpd.GeoDataFrame:
    """Walk areas with their holes up to ``max_hole_m2`` square metres filled (EPSG:4326 in and out).

    A walk area is the reached streets widened by a few metres; the blocks they ring
    are holes in it, though their homes are a short walk from the streets around
    them. Filling the small holes draws the area walked, not only its streets.
    """
    if not len(areas) or max_hole_m2 <= 0:
        return areas
    crs = areas.estimate_utm_crs()
    metric = areas.geometry.to_crs(crs)

    def fill(poly: shapely.Polygon) -> shapely.Polygon:
        keep = [ring for ring in poly.interiors if shapely.Polygon(ring).area > max_hole_m2]
        return shapely.Polygon(poly.exterior, keep)

    out = []
    for geom in metric:
        if geom is None or geom.is_empty:
            out.append(geom)
        elif isinstance(geom, shapely.Polygon):
            out.append(fill(geom))
        else:
            out.append(shapely.union_all([fill(g) for g in shapely.get_parts(geom)]))
    return areas.set_geometry(gpd.GeoSeries(out, index=areas.index, crs=crs).to_crs(4326))


def resident_cells(points: gpd.GeoDataFrame, cell_m: float) -> gpd.GeoDataFrame:
    """Residence points merged per ``cell_m`` square cell and coverage state.

    One row per (cell, ``covered``): ``population`` (sum), ``points`` (how many),
    ``time_min`` (population-weighted mean of the known times; NaN when none is
    known), ``nearest`` (the nearest reading place of the most populous point),
    located at the population-weighted centre of its points (EPSG:4326).
    """
    if not np.isfinite(cell_m) or cell_m <= 0:
        msg = f"cell_m must be a positive number of metres, got {cell_m!r}"
        raise ValidationError(msg)
    if points.empty:
        return points
    crs = points.estimate_utm_crs()
    xy = points.geometry.to_crs(crs)
    x, y = xy.x.to_numpy(), xy.y.to_numpy()
    pop = points["population"].astype(float).clip(lower=0).fillna(0).to_numpy()
    t = points["time_min"].astype(float).to_numpy()
    frame = pd.DataFrame(
        {
            "i": np.floor(x / cell_m).astype(np.int64),
            "j": np.floor(y / cell_m).astype(np.int64),
            "covered": points["covered"].astype(bool).to_numpy(),
            "w": pop + 1e-9,  # a point of unknown or no residents still places its cell
            "wx": (pop + 1e-9) * x,
            "wy": (pop + 1e-9) * y,
            "population": pop,
            "known": np.where(np.isfinite(t), pop + 1e-9, 0.0),
            "wt": (pop + 1e-9) * np.where(np.isfinite(t), t, 0.0),
            "nearest": points["nearest"].to_numpy() if "nearest" in points else None,
        }
    )
    top = frame.sort_values("w", ascending=False, kind="stable").drop_duplicates(
        ["i", "j", "covered"]
    )
    keys = ["i", "j", "covered"]
    g = frame.groupby(keys, sort=True).agg(
        w=("w", "sum"), wx=("wx", "sum"), wy=("wy", "sum"), population=("population", "sum"),
        known=("known", "sum"), wt=("wt", "sum"), points=("w", "size"),
    )  # fmt: skip
    g = g.join(top.set_index(keys)["nearest"])
    with np.errstate(invalid="ignore", divide="ignore"):
        time_min = np.where(g["known"] > 0, g["wt"] / g["known"], np.nan)
    cells = gpd.GeoDataFrame(
        {
            "covered": g.index.get_level_values("covered").to_numpy(),
            "population": g["population"].to_numpy(),
            "points": g["points"].to_numpy(),
            "time_min": time_min,
            "nearest": g["nearest"].to_numpy(),
        },
        geometry=gpd.points_from_xy(g["wx"] / g["w"], g["wy"] / g["w"]),
        crs=crs,
    )
    return cells.to_crs(4326)


def map(
    result: Assessment,
    *,
    title: str | None = None,
    lang: str = "zh",
    boundary: gpd.GeoSeries | None = None,
    synthetic: bool = False,
    max_points: int = MAX_MAP_POINTS,
    cell_m: float | None = None,
    margin_m: float = 1_500.0,
    fill_holes_m2: float = FILL_HOLES_M2,
    source_note: str | None = None,
    notes: Any = (),
) -> folium.Map:
    """The reading circle on a map that works offline (save it with :func:`accessibility.maps.save_html`).

    Layers (switchable): the area within the walk of a reading place now (filled,
    see :func:`filled`); the same with the new sites of each target's recommended
    plan (off at first, in that plan's colour); uncovered residential areas;
    residents as circles (green covered, red not; only the uncovered ones when
    there are more than ``max_points``), whose tooltip names the nearest reading
    place; existing reading places; proposed sites per plan, one colour per plan
    (the first plan shown); the boundary. The legend lists every one of them, each
    plan with its colour. Areas are drawn within ``margin_m`` metres of the
    residents' extent (the rest is off the map's subject) and simplified to about
    2 m. No base tiles and no CDN asset: only Leaflet, which
    :func:`~accessibility.maps.save_html` inlines. No tooltip shows an internal id.

    Parameters
    ----------
    result
        Output of :func:`assess`.
    title
        Title text; default "15分钟阅读圈" / "15-minute reading circle" in ``lang``.
    lang
        ``"zh"`` or ``"en"``.
    boundary
        Outline to draw (EPSG:4326), e.g. ``study.boundary``.
    synthetic
        Show the synthetic-data notice (required for the sample region).
    max_points
        Largest number of resident points drawn.
    cell_m
        Draw residents merged per square cell of this many metres (one circle per
        cell and coverage state, at the residents' centre, sized by their number;
        see :func:`resident_cells`). Default: points as they are, or
        :data:`DEFAULT_CELL_M` cells when there are more than
        :data:`AGGREGATE_ABOVE` (a city's buildings). The GeoPackage keeps every
        point.
    margin_m
        Metres around the residents' extent within which areas are drawn.
    fill_holes_m2
        Holes of the walk areas up to this many square metres are filled (0: none).
    notes
        Sentences shown under the title with a warning sign (e.g. an
        :class:`accessibility.report.Notes`, given in ``lang``). Without a reading
        place in the data the title says so instead of a coverage, and residents are
        grey "no data" (无数据), not red "not covered".

    Returns
    -------
    folium.Map
    """
    label("reading_ui.title", lang=lang)  # checks lang
    minutes = f"{result.minutes:g}"
    title = title or label("reading_ui.title", lang=lang).format(minutes=minutes)
    cur = result.summary.loc["current"]
    fmt = "{:,.0f}"
    source_key = f"reading_ui.source_{result.population_source}"
    why = str(result.meta.get("estimate", ""))
    share_text = _fmt_share(float(cur["share"]))
    coverage_text = label("reading_ui.coverage_line", lang=lang).format(
        share=f"{label('reading_ui.estimate_mark', lang=lang)} {share_text}" if why else share_text,
        covered=fmt.format(cur["covered"]),
        population=fmt.format(cur["population"]),
        uncovered=fmt.format(cur["uncovered"]),
    )
    if why:
        estimate = label(f"reading_ui.estimate_{why}", lang=lang)
        coverage_text += f"（{estimate}）" if lang == "zh" else f" ({estimate})"
    lines = [
        coverage_text,
        label(source_key, lang=lang)
        if result.population_source in ("raster", "buildings", "landuse", "places", "points")
        else result.population_source,
    ]
    if result.no_data:
        lines[0] = label("reading_ui.no_places_line", lang=lang).format(
            population=fmt.format(cur["population"])
        )
    lines += [f"⚠ {t}" for t in (notes.texts(lang) if hasattr(notes, "texts") else notes)]
    pts = result.population
    crs = pts.estimate_utm_crs()
    frame = shapely.box(*pts.geometry.to_crs(crs).total_bounds).buffer(margin_m)
    window = gpd.GeoSeries([frame], crs=crs).to_crs(4326).iloc[0]
    west, south, east, north = pts.total_bounds
    m = folium.Map(
        location=[(south + north) / 2, (west + east) / 2],
        zoom_start=13,
        tiles=None,
        control_scale=True,
    )
    # only Leaflet itself is used; folium's other default assets are CDN files
    m.default_js = [(n, u) for n, u in folium.Map.default_js if n == "leaflet"]
    m.default_css = [(n, u) for n, u in folium.Map.default_css if n == "leaflet_css"]
    m.get_root().header.add_child(Element(f"<title>{html.escape(title)}</title>"), name="rc_title")
    m.get_root().header.add_child(
        Element("<style>.leaflet-container{background:#f3f1ec}</style>"), name="rc_style"
    )
    # base-layer choice: none (the default, offline), OpenStreetMap, Tianditu with $TIANDITU_KEY
    add_base_layers(m, lang=lang)

    def area_shapes(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        """Areas within the map's window, small holes filled."""
        clipped = gdf.clip(window) if len(gdf) else gdf
        clipped = clipped.loc[~clipped.geometry.is_empty]
        return filled(clipped, fill_holes_m2) if len(clipped) else clipped

    def area_layer(
        shapes: gpd.GeoDataFrame, name: str, style: dict[str, Any], *, show: bool
    ) -> folium.FeatureGroup:
        layer = folium.FeatureGroup(name=name, show=show)
        shapes = shapes.loc[~shapes.geometry.is_empty]
        if len(shapes):
            simple = shapely.simplify(
                shapes.geometry.to_numpy(), AREA_DETAIL_DEG, preserve_topology=True
            )
            layer.add_child(_Areas(simple, {**style, "interactive": False}))
        layer.add_to(m)
        return layer

    # one colour per site plan, in the order of the plans; the walk area after a
    # target's recommended plan in that plan's colour
    plan_keys = list(dict.fromkeys([*result.plans, *result.sites["scenario"]]))
    plan_colour = {k: SITE_COLOURS[i % len(SITE_COLOURS)] for i, k in enumerate(plan_keys)}
    legend: list[tuple[str, str, str]] = []
    now_name = label("reading_ui.isochrone_now", lang=lang).format(minutes=minutes)
    now_shapes = area_shapes(result.isochrones)
    now_area = shapely.union_all(now_shapes.geometry.to_numpy()) if len(now_shapes) else None
    area_layer(
        now_shapes,
        now_name,
        {"color": COVERED_COLOUR, "weight": 0, "fillColor": COVERED_COLOUR, "fillOpacity": 0.35},
        show=True,
    )
    legend.append(("area", COVERED_COLOUR, now_name))
    for key in result.isochrones_after.index:
        if int(result.isochrones_after.loc[key, "new_sites"]) == 0:
            continue  # the target is met already: the plan adds no area to draw
        target = _target_text(float(result.isochrones_after.loc[key, "target"]))
        colour = plan_colour.get(str(key), SITE_COLOURS[0])
        method = _method_text(_plan_row(result, str(key)), lang)
        name = label("reading_ui.isochrone_after", lang=lang).format(
            minutes=minutes, target=target, method=method
        )
        added = area_shapes(result.isochrones_after.loc[[key]])
        if now_area is not None and len(added):  # drawn over today's area: what the plan adds
            added = added.set_geometry(shapely.make_valid(added.geometry.difference(now_area)))
        area_layer(
            added,
            name,
            {"color": colour, "weight": 0, "fillColor": colour, "fillOpacity": 0.3},
            show=False,
        )
        legend.append(("area", colour, name))

    gaps = folium.FeatureGroup(name=label("reading_ui.uncovered_areas", lang=lang), show=True)
    if len(result.uncovered_areas):
        tips = [
            html.escape(label("reading_ui.area_tip", lang=lang).format(population=fmt.format(v)))
            for v in result.uncovered_areas["population"]
        ]
        simple = shapely.simplify(
            result.uncovered_areas.geometry.to_numpy(), 2 * AREA_DETAIL_DEG, preserve_topology=True
        )
        style = {
            "color": UNCOVERED_COLOUR,
            "weight": 1,
            "dashArray": "4 3",
            "fillColor": UNCOVERED_COLOUR,
            "fillOpacity": 0.12,
        }
        gaps.add_child(_Areas(simple, style, tips))
    gaps.add_to(m)
    legend.append(("area", UNCOVERED_COLOUR, label("reading_ui.uncovered_areas", lang=lang)))

    fac = result.facilities
    place_names = _place_names(fac, lang)
    place_pos = pd.Series(np.arange(len(fac)), index=fac.index)
    texts = {
        "min": label("ui.minutes", lang=lang),
        "none": html.escape(label("ui.no_data" if result.no_data else "ui.unreachable", lang=lang)),
        "tip": html.escape(label("reading_ui.resident_tip", lang=lang)),
        "near": html.escape(label("reading_ui.nearest_place", lang=lang)),
        "n": [html.escape(n) for n in place_names],
    }

    def resident_rows(rows: gpd.GeoDataFrame) -> list[list[Any]]:
        """``[lat, lon, population, minutes or None, radius, place]`` per point (see _Residents)."""
        pop = rows["population"].astype(float).clip(lower=0).fillna(0).to_numpy()
        t = rows["time_min"].astype(float).to_numpy()
        radius = np.clip(2 + np.sqrt(pop) / 8, 2, 8)
        near = (
            place_pos.reindex(rows["nearest"]).fillna(-1).astype(int).to_numpy()
            if "nearest" in rows and len(fac)
            else np.full(len(rows), -1)
        )
        lat, lon = rows.geometry.y.to_numpy(), rows.geometry.x.to_numpy()
        return [
            [
                round(float(y), 5),
                round(float(x), 5),
                round(float(p)),
                round(float(m), 1) if np.isfinite(m) else None,
                round(float(r), 1),
                int(k) if np.isfinite(m) else -1,
            ]
            for y, x, p, m, r, k in zip(lat, lon, pop, t, radius, near)
        ]

    shown = pts
    if cell_m is None and len(pts) > AGGREGATE_ABOVE:
        cell_m = DEFAULT_CELL_M
    if cell_m:  # a city: residents merged per grid cell and coverage, detail in the GeoPackage
        shown = resident_cells(pts, cell_m)
        texts["tip"] = html.escape(
            label("reading_ui.cell_tip", lang=lang).replace("{cell}", f"{cell_m:g}")
        )
    covered_pts = shown.loc[shown["covered"]] if len(shown) <= max_points else shown.iloc[:0]
    uncovered_pts = shown.loc[~shown["covered"]]
    not_covered = (
        ("reading_ui.residents_no_data", NO_DATA_COLOUR)
        if result.no_data
        else ("reading_ui.residents_uncovered", UNCOVERED_COLOUR)
    )
    for rows, key, colour in (
        (covered_pts, "reading_ui.residents_covered", COVERED_COLOUR),
        (uncovered_pts, *not_covered),
    ):
        layer = folium.FeatureGroup(name=label(key, lang=lang), show=True)
        if len(rows):
            layer.add_child(_Residents({**texts, "c": colour, "p": resident_rows(rows)}))
        layer.add_to(m)
        text = label(key, lang=lang)
        if cell_m:
            text += label("reading_ui.cells_note", lang=lang).format(cell=f"{cell_m:g}")
        legend.append(("dot", colour, text))

    _point_layer(
        fac,
        list(place_names),
        name=label("reading_ui.reading_places", lang=lang),
        colour=PLACE_COLOUR,
        radius=6,
        weight=2,
    ).add_to(m)
    legend.append(("dot", PLACE_COLOUR, label("reading_ui.reading_places", lang=lang)))

    tip_site = label("reading_ui.new_site_tip", lang=lang)
    for i, (key, group) in enumerate(result.sites.groupby("scenario", sort=False)):
        first = group.iloc[0]
        method = _method_text(_plan_row(result, str(key)), lang)
        name = label("reading_ui.new_sites", lang=lang).format(
            target=_target_text(float(first["target"])), method=method
        )
        tips = [  # the plan is named by its layer and legend: the tooltip says the site
            tip_site.format(step=int(st), gain=fmt.format(g))
            for st, g in zip(group["step"], group["gain"])
        ]
        colour = plan_colour[str(key)]
        _point_layer(
            group,
            tips,
            name=name,
            colour=colour,
            radius=7,
            outline="#000000",
            weight=2,
            show=(i == 0),
        ).add_to(m)
        legend.append(
            (
                "dot",
                colour,
                label("reading_ui.plan_legend", lang=lang).format(name=name, n=len(group)),
            )
        )

    if boundary is not None and len(boundary):
        outline = folium.FeatureGroup(name=label("ui.boundary", lang=lang), show=True)
        folium.GeoJson(
            _geojson(gpd.GeoDataFrame(geometry=boundary.to_crs(4326).to_numpy(), crs=4326)),
            style_function=lambda _: {
                "color": BOUNDARY_COLOUR,
                "weight": 1.5,
                "dashArray": "6 4",
                "fill": False,
            },
            interactive=False,
        ).add_to(outline)
        outline.add_to(m)
        legend.append(("dashed_line", BOUNDARY_COLOUR, label("ui.boundary", lang=lang)))

    add_title(m, title, lines, synthetic=synthetic, lang=lang, source_note=source_note)
    m.get_root().html.add_child(_legend(legend), name="rc_legend")
    folium.LayerControl(collapsed=False).add_to(m)
    pad = 0.003  # degrees, so that a single point is not drawn at the maximum zoom
    m.fit_bounds([[south - pad, west - pad], [north + pad, east + pad]])
    return m


def static_map_layers(
    result: Assessment, *, margin_m: float = 1_500.0
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Residence points and reading places for :func:`accessibility.static_map.render_png`.

    Use with ``group="reading"``: the walk time to the nearest reading place is
    copied to ``reading_time_min`` (the column the PNG map colours by), and only the
    reading places within ``margin_m`` metres of the residents' extent are kept, so
    the map shows the area the residents live in (as :func:`map` does), not the
    whole region. Above :data:`AGGREGATE_ABOVE` residence points (a city's
    buildings) they are merged per :data:`DEFAULT_CELL_M` cell and coverage state
    (:func:`resident_cells`), as on the web map.
    """
    pts = result.population
    cell_m = DEFAULT_CELL_M if len(pts) > AGGREGATE_ABOVE else None
    if cell_m is not None:
        pts = resident_cells(pts, cell_m)
    pts = pts.assign(reading_time_min=pts["time_min"].astype(float))
    pts.attrs["cell_m"] = cell_m
    crs = pts.estimate_utm_crs()
    window = shapely.box(*pts.geometry.to_crs(crs).total_bounds).buffer(margin_m)
    fac = result.facilities
    inside = fac.geometry.to_crs(crs).intersects(window).to_numpy()
    return pts, fac.loc[inside]


def png_subtitle(residents: gpd.GeoDataFrame, *, lang: str = "zh") -> str:
    """The PNG's subtitle for the residents of :func:`static_map_layers`: it says when
    they are drawn merged per cell."""
    cell_m = residents.attrs.get("cell_m")
    if cell_m is None:
        return label("reading_ui.png_subtitle", lang=lang)
    return label("reading_ui.png_subtitle_cells", lang=lang).format(cell_m=f"{cell_m:g}")
