"""From a region name to a ready :class:`~accessibility.engine.Router`, in one call.

Design
------
In:  a region (name or :class:`~accessibility.regions.Region`), a travel mode, and
     optionally a local OSM file.
Out: a :class:`Study` holding every intermediate a notebook shows: boundary, metric
     CRS, network (cached under ``data/processed/<region>/``), origins (settlements of
     the chosen levels, inside the boundary), facilities (classified, inside the
     boundary plus its buffer), both snap tables and the router.
Steps: raw data (the sample generator writes ``data/raw/sample/``; a real region reads
     the given extract) → :func:`accessibility.sources.osm.read` clipped to the
     buffered boundary → :mod:`accessibility.classify` → :mod:`accessibility.dedup`
     (one place mapped twice counts once) → :mod:`accessibility.network`
     → :mod:`accessibility.snapping` → :class:`accessibility.engine.Router`.
     The Overpass queries of the boundary and the data share one total
     (:func:`accessibility.sources.overpass.region_budget`).
     An osmnx graph (``graph=``) replaces the roads of the OSM data
     (:func:`accessibility.convert.roads_from_osmnx`), cut to the same area; places
     and facilities still come from the region's source.
Units: a unit with a data source of its own reads (or generates) it in
     ``data/raw/<region>/<code>/`` (:func:`generate_samples` makes every generated
     one). A unit of a region split by unit on shared data (:func:`is_split`) gets an
     exact horizon (:func:`exact_horizon_s`): its times up to it equal the unsplit
     analysis, later ones are upper bounds and :meth:`Study.access` marks them; its
     network treats roads leaving the data area as connected (:func:`open_network`).
     See ``docs/architecture.md``, "Splitting a region by unit".
Tests: ``tests/test_pipeline.py`` on the sample county; ``tests/test_split.py`` for a
     region split by unit.

Modules
-------
=================  ==================================================================
``split``          a unit of a region split by unit: :func:`is_split`, the exact
                   horizon (:func:`exact_horizon_s`, :func:`buffer_for`,
                   :func:`max_speed_kmh`), the unit's :func:`open_network`
``study``          the :class:`Study` dataclass (folders, labels, data note, access)
``inputs``         raw sources (generated samples, the region's extract), :func:`load_osm`,
                   the official registries (:func:`apply_registries`)
``boundaries``     boundary specification → polygon (:func:`study_area`), the clip area
                   (:func:`clip_area`), boundaries of many units in one read
``origins``        choosing the origins and their residents
``assemble``       :func:`prepare`: every stage in order, under one Overpass total
=================  ==================================================================

Each module imports only the ones above it. The public names are re-exported here, and
the private helpers that tests and benchmarks call (``_osm_boundary``,
``_region_osm_file``, ``_choose_origins``, ``_origin_population``).
"""

from __future__ import annotations

from .assemble import prepare
from .boundaries import _osm_boundary as _osm_boundary
from .boundaries import (
    boundary_spec,
    clip_area,
    prefetch_boundaries,
    read_boundary,
    study_area,
)
from .inputs import _region_osm_file as _region_osm_file
from .inputs import (
    apply_registries,
    clips_dir,
    generate_samples,
    load_osm,
    local_extract,
)
from .origins import DEFAULT_ORIGIN_LEVELS, TAGS_ENOUGH
from .origins import _choose_origins as _choose_origins
from .origins import _origin_population as _origin_population
from .split import (
    EXACT_MARGIN,
    buffer_for,
    exact_horizon_s,
    is_split,
    max_speed_kmh,
    open_network,
)
from .study import Study

__all__ = [
    "DEFAULT_ORIGIN_LEVELS",
    "EXACT_MARGIN",
    "TAGS_ENOUGH",
    "Study",
    "apply_registries",
    "boundary_spec",
    "buffer_for",
    "clip_area",
    "clips_dir",
    "exact_horizon_s",
    "generate_samples",
    "is_split",
    "load_osm",
    "local_extract",
    "max_speed_kmh",
    "open_network",
    "prefetch_boundaries",
    "prepare",
    "read_boundary",
    "study_area",
]
