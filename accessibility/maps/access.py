"""The access map: origins coloured by travel time to each facility group, one group at a time.

In: places with ``{group}_time_min`` columns, facilities, groups and class limits
(common or per group, with modes). Out: a folium map assembled from the checks,
payloads, elements and base layers of the other modules (:func:`access_map`).
"""

from __future__ import annotations

import html
import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import folium
import geopandas as gpd
import numpy as np
from branca.element import Element

from accessibility._errors import ValidationError
from accessibility.labels import group_label, keys, label

from .base_layers import add_base_layers, get_tianditu_key
from .checks import (
    _check_boundary,
    _check_facilities,
    _check_groups,
    _check_lang,
    _check_places,
)
from .elements import (
    _STYLE,
    _AccessLayers,
    _BoundaryOutline,
    _GroupControls,
    _GroupMarkers,
    _legend_html,
    add_title,
    no_data_text,
)
from .payload import _boundary_geojson, _group_payload, _place_rows, _valid_geometry
from .roads import ROAD_STYLE, _check_roads
from .style import (
    BOUNDARY_COLOUR,
    CUT_OFF_COLOUR,
    FACILITY_COLOUR,
    NO_DATA_COLOUR,
    UNREACHABLE_COLOUR,
    _check_thresholds,
)

logger = logging.getLogger(__package__)


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
