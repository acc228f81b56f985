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

Modules
-------
``style`` (travel-time classes, their colours by minutes and legend labels; fixed
symbol colours), ``checks`` (validation of the inputs), ``payload`` (the compact
rows and safe JSON a page carries), ``elements`` (the page's Branca elements, title
banner and legend HTML), ``roads`` (main roads taken, simplified and drawn as
context), ``base_layers`` (offline background, OpenStreetMap and Tianditu tiles,
scale bar), ``access`` (:func:`access_map`) and ``offline`` (Leaflet inlined,
:func:`render_html`, :func:`save_html`, :func:`inline`); each imports only the ones
before it (``offline`` needs ``base_layers``, not ``access``). The public names are
here, and so (outside ``__all__``) are :func:`inline`, ``InlineMap``,
``CUT_OFF_COLOUR`` and the checks and helpers :mod:`accessibility.static_map` shares.
"""

from __future__ import annotations

from accessibility.clock import china_time

from .access import access_map
from .base_layers import HTML_LANG, TIANDITU_ENV, add_base_layers, get_tianditu_key
from .checks import _check_boundary as _check_boundary
from .checks import _check_facilities as _check_facilities
from .checks import _check_groups as _check_groups
from .checks import _check_lang as _check_lang
from .checks import _check_lonlat as _check_lonlat
from .checks import _check_places as _check_places
from .elements import add_title, no_data_text
from .offline import InlineMap as InlineMap
from .offline import inline as inline
from .offline import render_html, save_html
from .payload import _radius as _radius
from .payload import _select_facilities as _select_facilities
from .payload import _valid_geometry as _valid_geometry
from .payload import no_data_group
from .roads import MAIN_ROAD_CLASSES, ROAD_STYLE, ROAD_TOLERANCE_M, main_roads, simplify_roads
from .style import (
    BACKGROUND_COLOUR,
    BEYOND_COLOUR,
    BOUNDARY_COLOUR,
    FACILITY_COLOUR,
    MINUTE_STOPS,
    NO_DATA_COLOUR,
    UNREACHABLE,
    UNREACHABLE_COLOUR,
    class_colours,
    class_labels,
    minutes_colour,
    time_class_colours,
    travel_time_classes,
)
from .style import CUT_OFF_COLOUR as CUT_OFF_COLOUR
from .style import _check_thresholds as _check_thresholds

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
