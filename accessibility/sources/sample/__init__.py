"""The embedded sample region: a deterministic synthetic county, "示例县 / Sample County".

Design
------
In:  an output folder and an integer seed.
Out: four files (:class:`SampleFiles`):

- ``sample.osm`` — OSM XML 0.6 that any OSM reader (pyosmium, osmnx, QGIS) ingests
  exactly like a real extract: a county boundary relation, a river with a few
  bridges, a road hierarchy from ``trunk`` down to ``track``/``path`` whose ways
  share node ids at every junction, a gridded county seat with one-way streets and
  residential buildings, 10–14 township seats, 300–450 administrative villages
  (``population`` tags, log-normally skewed), natural villages, and facilities
  tagged and named as Chinese OSM mappers tag them (schools of every tier with
  some ``isced:level`` tags, distractors such as kindergartens and driving schools,
  clinics and hospitals, libraries and cultural stations, bus stops);
- ``boundary.geojson`` — the county polygon (WGS-84) as one GeoJSON Feature;
- ``population.tif`` — a gridded population raster like WorldPop's: persons per
  3″ cell (about 77 × 93 m here) in EPSG:4326, float32, nodata outside the county.
  It agrees with the settlements: the county seat's ``population`` tag is spread
  over its blocks in proportion to residential floor area, each township's evenly
  over its streets and 250 m or more around them (at most 15,000 persons per km²
  on average), each village's over a Gaussian around its
  node (a fifth of a village's figure over its natural villages), so the raster's
  total is the sum of the tags. It is
  drawn from its own random stream (seed and a constant), so the OSM file does
  not change with it;
- ``meta.json`` — seed, generator version, counts of everything generated, area
  and bounding box.

Real extracts have defects, and so does this one on purpose: a handful of road
fragments that touch nothing else, and a few villages whose place node lies more
than 300 m from any road.

Roads of secondary class or better form one network, as in a real county: the
trunk roads' connectors and the roads to the townships run into the ends of the
county seat's primary and secondary main streets, each township's two central
streets carry the class of its road link (the county road running through the
town as its main street) and the primary and secondary roads to a township end
at an end of one of them, and every seat's ``place`` node lies on the crossing
of its main streets.

The layout is drawn in a local metric frame (metres east and north of 114.0°E,
34.0°N, on the WGS-84 ellipsoid), which puts the county astride the UTM 49N/50N
zone border, and converted to longitude/latitude (7 decimals, about 1 cm) only
when written. Output depends on the seed alone: one ``numpy.random.Generator``
draws everything in a fixed order, elements are written sorted by id, tags sorted
by key, and no timestamps are written, so the same seed gives byte-identical
files. Everything is labelled synthetic: the ``generator`` attribute, the boundary
relation's ``note``, the GeoJSON properties and ``meta.json``.

Modules
-------
=================  ================================================================
``_constants``     version, seed, file names, raster grid, frame origin,
                   :class:`SampleFiles`, the pools names are drawn from
``_geometry``      local metres ↔ WGS-84, distances to segments, polylines
``_model``         ways, settlements, the store of laid-out road segments
``_layout``        street grids, points in blocks, angle tests, junction noding
``_land``          stage mixin: outline, county seat grid, river, settlements
``_roads``         stage mixin: settlement streets, trunks, township roads, bridges
``_minor_roads``   stage mixin: village lanes and links, fragments, tracks, paths, park
``_facilities``    stage mixin: bus stops, facilities by tier, buildings
``_builder``       :class:`_Builder` (the mixins combined) and the order of the stages
``_writing``       OSM XML, boundary GeoJSON, metadata, population raster, as bytes
``_api``           :func:`generate` and :func:`ensure`: the files written atomically
=================  ================================================================

Each imports only the ones above it; every name is importable from here.

Tests: ``tests/test_sample.py``.
"""

from __future__ import annotations

import logging

from ._api import _atomic_write as _atomic_write
from ._api import _check_seed as _check_seed
from ._api import _paths as _paths
from ._api import ensure, generate
from ._builder import _Builder as _Builder
from ._constants import _DRIVING_SCHOOLS as _DRIVING_SCHOOLS
from ._constants import _HAMLET_SUFFIXES as _HAMLET_SUFFIXES
from ._constants import _KINDERGARTENS as _KINDERGARTENS
from ._constants import _ORDINALS as _ORDINALS
from ._constants import _ROAD_CLASSES as _ROAD_CLASSES
from ._constants import _STREET_STEMS as _STREET_STEMS
from ._constants import _SURNAMES as _SURNAMES
from ._constants import _TOWN_STREETS as _TOWN_STREETS
from ._constants import _TOWNSHIPS as _TOWNSHIPS
from ._constants import _TRAINING_SCHOOLS as _TRAINING_SCHOOLS
from ._constants import _VILLAGE_PREFIXES as _VILLAGE_PREFIXES
from ._constants import _VILLAGE_SUFFIXES as _VILLAGE_SUFFIXES
from ._constants import _WGS84_A as _WGS84_A
from ._constants import _WGS84_E2 as _WGS84_E2
from ._constants import (
    BOUNDARY_FILENAME,
    COUNTY_NAME,
    COUNTY_NAME_EN,
    DEFAULT_SEED,
    GENERATOR_VERSION,
    META_FILENAME,
    ORIGIN_LAT,
    ORIGIN_LON,
    OSM_FILENAME,
    OSM_GENERATOR,
    POPULATION_CELL_DEG,
    POPULATION_FILENAME,
    POPULATION_NODATA,
    SYNTHETIC_NOTE,
    XY,
    SampleFiles,
)
from ._geometry import _cut as _cut
from ._geometry import _dist as _dist
from ._geometry import _point_segment as _point_segment
from ._geometry import _to_lonlat as _to_lonlat
from ._geometry import _truncate as _truncate
from ._geometry import _wiggle as _wiggle
from ._geometry import _xy as _xy
from ._layout import _add_junctions as _add_junctions
from ._layout import _along as _along
from ._layout import _axis_gates as _axis_gates
from ._layout import _bilinear as _bilinear
from ._layout import _inset as _inset
from ._layout import _leaves_clear as _leaves_clear
from ._layout import _make_grid as _make_grid
from ._layout import _meets_at_angle as _meets_at_angle
from ._layout import _nearest as _nearest
from ._layout import _perimeter as _perimeter
from ._layout import _snap_inserts as _snap_inserts
from ._layout import _street_tags as _street_tags
from ._model import _SegmentStore as _SegmentStore
from ._model import _Settlement as _Settlement
from ._model import _Way as _Way
from ._writing import _far_villages as _far_villages
from ._writing import _NodeTable as _NodeTable
from ._writing import _population_raster as _population_raster
from ._writing import _render as _render
from ._writing import _tag_lines as _tag_lines

logger = logging.getLogger(__name__)

__all__ = [
    "BOUNDARY_FILENAME",
    "COUNTY_NAME",
    "COUNTY_NAME_EN",
    "DEFAULT_SEED",
    "GENERATOR_VERSION",
    "META_FILENAME",
    "ORIGIN_LAT",
    "ORIGIN_LON",
    "OSM_FILENAME",
    "OSM_GENERATOR",
    "POPULATION_CELL_DEG",
    "POPULATION_FILENAME",
    "POPULATION_NODATA",
    "SYNTHETIC_NOTE",
    "XY",
    "SampleFiles",
    "ensure",
    "generate",
]
