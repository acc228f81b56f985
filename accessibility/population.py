"""Where residents live: population as weighted points, from the best source a region has.

Design
------
In:  a gridded population raster (GeoTIFF in any CRS: WorldPop, GHS-POP), building
     footprints (OSM ``building=*``, WGS-84 polygons with ``building`` and
     ``levels``), residential land use, settlement points with a ``population``
     tag, or a user point file.
Out: a GeoDataFrame of points (EPSG:4326), index = the source's ids, with a
     ``population`` column (persons, float), a ``source`` column naming the
     method (``raster``, ``buildings``, ``landuse``, ``places`` or ``points``) and
     a ``fallback`` column (the figure comes from a rule of thumb, not a count).
     :func:`estimate` also stores the method in ``attrs["population_source"]``, a
     one-line description in ``attrs["population_note"]`` and the confidence of
     :func:`reliability` in ``attrs["population_confidence"]``, so every table and
     map can say where the numbers come from and how far they hold.
     :func:`to_origins` and :func:`to_cells` sum points to origins (nearest, in
     metres) or to polygons (grid cells). Reading rasters and summing points live in
     :mod:`accessibility.population_grid` (re-exported here).

Methods
-------
``raster``
    One point per raster cell overlapping the area, at the cell's centre::

        population = cell value × share of the cell's area inside the area

    The share is measured in the study's metric CRS; only the raster window over
    the area is read. The region file names the raster
    (``population: {raster: worldpop_chn_2020.tif}``). Counted, not inferred: the
    best source when a region has one.
``buildings``
    One point per residential footprint (its centroid)::

        population = footprint area (m², in a metric CRS) × levels × persons_per_m2

    ``persons_per_m2 = 0.025`` by default: about 40 m² of residential floor area per
    person, the order of magnitude of Chinese towns and cities (urban residents
    have roughly 35–45 m² each). A footprint without ``building:levels`` counts
    ``default_levels`` storeys. Residential means ``building`` is one of
    :data:`RESIDENTIAL_BUILDINGS`; the generic ``building=yes`` (most untagged
    footprints: shops, sheds and factories as well as homes) counts only when the
    caller says so (``include_yes=True``).
``landuse``
    Where footprints are missing but ``landuse=residential`` areas are mapped: the
    areas are cut by a square grid (``grid_m``, default 100 m) and each piece
    becomes a point at its centre::

        population = piece area (km², in a metric CRS) × persons_per_km2

    ``persons_per_km2 = 10,000`` by default (a gross residential density typical of
    Chinese towns; rural village land is sparser — override it).
``places``
    Settlement points (``place=*``) with a ``population`` tag. Levels are taken as
    disjoint (as in OSM, a town's figure is its seat, not its villages); points
    without a figure are left out and counted in the log.
``points``
    A user point file (GeoPackage, GeoJSON, shapefile, CSV read by GDAL…) or
    GeoDataFrame with a numeric population column.

:func:`estimate` picks for a :class:`~accessibility.pipeline.Study`: ``auto`` uses
the region's population raster when its file names one, else buildings when the
area has at least ``min_buildings`` residential footprints, else residential land
use when any is mapped, else places. Footprints are usually mapped in towns only, so a buildings-based
estimate describes the built-up area, not the villages around it.

Reliability
-----------
:func:`reliability` checks the share held by the largest point, the share
estimated by fallback rules, places without a figure and implausible densities
against the limits in ``rules/population.yml``, and rates the whole as ``high``,
``medium`` or ``low`` confidence. A ``low`` figure (or one from land use) is
stated as an estimate wherever coverage is reported.

Tests: ``tests/test_population.py`` — arithmetic on hand-made footprints, the
residential filter, the automatic choice and every validation branch;
``tests/test_population_raster.py`` — rasters in EPSG:4326, UTM and Mollweide
against hand-computed sums, the nearest-origin sums against a brute-force search,
each reliability limit, and the sample county's raster through :func:`estimate`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ._errors import ValidationError
from .population_grid import (
    _as_points,
    _check_gdf,
    _check_metric,
    _weights,
    _xy,
    from_raster,
    to_cells,
    to_origins,
)

if TYPE_CHECKING:
    from .pipeline import Study

__all__ = [
    "DEFAULT_PERSONS_PER_KM2",
    "DEFAULT_PERSONS_PER_M2",
    "METHODS",
    "RESIDENTIAL_BUILDINGS",
    "estimate",
    "from_buildings",
    "from_landuse",
    "from_places",
    "from_points",
    "from_raster",
    "reliability",
    "residential_mask",
    "to_cells",
    "to_origins",
]

log = logging.getLogger(__name__)

#: Persons per m² of floor area: 1 / 40 m² per person (Chinese towns).
DEFAULT_PERSONS_PER_M2: Final[float] = 0.025
#: OSM ``building=*`` values counted as homes (``yes`` only on request).
RESIDENTIAL_BUILDINGS: Final[tuple[str, ...]] = (
    "residential",
    "apartments",
    "house",
    "detached",
    "semidetached_house",
    "terrace",
    "bungalow",
    "dormitory",
    "farm",
)
#: Methods :func:`estimate` accepts.
METHODS: Final[tuple[str, ...]] = ("auto", "raster", "buildings", "landuse", "places", "points")
#: Residents per km² of residential land when only land use is mapped (a planning
#: order of magnitude for Chinese towns; villages are sparser: override it).
DEFAULT_PERSONS_PER_KM2: Final[float] = 10_000.0
#: Residential footprints needed for ``auto`` to prefer buildings over places.
DEFAULT_MIN_BUILDINGS: Final[int] = 50


def residential_mask(buildings: pd.DataFrame, *, include_yes: bool = False) -> pd.Series:
    """Which footprints count as homes.

    Parameters
    ----------
    buildings
        Table with a ``building`` column (the OSM value).
    include_yes
        Also count ``building=yes`` (untyped footprints).

    Returns
    -------
    pandas.Series
        Boolean, same index.
    """
    if "building" not in buildings.columns:
        msg = "buildings lack the 'building' column (the OSM building=* value)"
        raise ValidationError(msg)
    kinds = set(RESIDENTIAL_BUILDINGS) | ({"yes"} if include_yes else set())
    values = buildings["building"].astype("string").str.strip().str.lower()
    return values.isin(kinds).fillna(False).astype(bool)


def from_buildings(
    buildings: gpd.GeoDataFrame,
    *,
    crs: str,
    persons_per_m2: float = DEFAULT_PERSONS_PER_M2,
    default_levels: float = 1.0,
    residential_only: bool = True,
    include_yes: bool = False,
) -> gpd.GeoDataFrame:
    """Residents per building footprint, as points at the footprints' centroids.

    ``population = area_m2 × levels × persons_per_m2`` where ``area_m2`` is the
    footprint area in the metric ``crs`` and ``levels`` is ``building:levels``
    (``default_levels`` when missing or not positive).

    Parameters
    ----------
    buildings
        Footprints (Polygon/MultiPolygon, any CRS that is set), index = building id,
        with ``building`` and optionally ``levels`` (storeys above ground).
    crs
        Metric CRS in which areas are measured (e.g. the study's UTM zone).
    persons_per_m2
        Residents per m² of floor area; 0.025 = 40 m² per person (see the module
        docstring).
    default_levels
        Storeys assumed for a footprint without a usable ``levels`` value.
    residential_only
        Keep only :data:`RESIDENTIAL_BUILDINGS` (and ``yes`` with ``include_yes``);
        ``False`` counts every footprint.
    include_yes
        With ``residential_only``, also count the generic ``building=yes``.

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326 centroids, index = building id; columns ``building``, ``levels``
        (as used), ``area_m2``, ``floor_area_m2``, ``population`` (persons),
        ``source`` (``"buildings"``). Non-areal geometries (building nodes) are left
        out and logged.
    """
    _check_gdf(buildings, "buildings")
    _check_metric(crs)
    if not np.isfinite(persons_per_m2) or persons_per_m2 <= 0:
        msg = f"persons_per_m2 must be a positive number (0.025 = 40 m² per person), got {persons_per_m2!r}"
        raise ValidationError(msg)
    if not np.isfinite(default_levels) or default_levels <= 0:
        msg = f"default_levels must be a positive number of storeys, got {default_levels!r}"
        raise ValidationError(msg)
    keep = (
        residential_mask(buildings, include_yes=include_yes)
        if residential_only
        else pd.Series(True, index=buildings.index)
    )
    table = buildings.loc[keep.to_numpy()]
    geom = table.geometry
    areal = geom.notna() & ~geom.is_empty & geom.geom_type.isin(["Polygon", "MultiPolygon"])
    if (~areal).any():
        log.warning(
            "%d residential buildings have no footprint polygon (points or empty) and are left out",
            int((~areal).sum()),
        )
        table = table.loc[areal.to_numpy()]
    metric = table.geometry.to_crs(crs)
    area = metric.area.to_numpy(float)
    if "levels" in table.columns:
        raw = pd.to_numeric(table["levels"], errors="coerce").to_numpy(float)
    else:
        raw = np.full(len(table), np.nan)
    levels = np.where(np.isfinite(raw) & (raw > 0), raw, float(default_levels))
    floor = area * levels
    out = gpd.GeoDataFrame(
        {
            "building": table["building"].to_numpy(),
            "levels": levels,
            "area_m2": area,
            "floor_area_m2": floor,
            "population": floor * float(persons_per_m2),
            "source": "buildings",
            "fallback": ~(np.isfinite(raw) & (raw > 0)),
        },
        geometry=metric.centroid.to_crs(4326).to_numpy(),
        index=table.index.copy(),
        crs=4326,
    )
    log.info(
        "population from %d residential footprints: %.0f persons (%.0f m² floor area, %.3f persons/m²)",
        len(out),
        out["population"].sum(),
        floor.sum(),
        persons_per_m2,
    )
    return out


def from_places(places: gpd.GeoDataFrame, *, column: str = "population") -> gpd.GeoDataFrame:
    """Residents of settlement points with a population figure.

    Parameters
    ----------
    places
        Settlements (points, or areas drawn at a point on their surface), any CRS
        that is set, index = place id, with a numeric ``column``.
    column
        The population column (persons).

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326 points of the places with a positive figure; columns ``name`` and
        ``level`` when present, ``population``, ``source`` (``"places"``).
    """
    _check_gdf(places, "places")
    if column not in places.columns:
        msg = f"places have no {column!r} column; tag place nodes with population=* or give the column name"
        raise ValidationError(msg)
    pop = pd.to_numeric(places[column], errors="coerce")
    if (pop < 0).any():
        bad = places.index[(pop < 0).to_numpy()][:5].tolist()
        msg = f"negative population in column {column!r} for places {bad}; fix or drop them"
        raise ValidationError(msg)
    usable = (pop > 0).to_numpy()
    if (~usable).any():
        log.info("%d places have no population figure and are left out", int((~usable).sum()))
    table = places.loc[usable]
    columns = {c: table[c].to_numpy() for c in ("name", "level") if c in table.columns}
    out = gpd.GeoDataFrame(
        {
            **columns,
            "population": pop[usable].to_numpy(float),
            "source": "places",
            "fallback": False,
        },
        geometry=_as_points(table.geometry).to_crs(4326).to_numpy(),
        index=table.index.copy(),
        crs=4326,
    )
    out.attrs["places_total"] = len(places)
    out.attrs["places_without_figure"] = int((~usable).sum())
    return out


def from_points(
    path_or_gdf: Path | str | gpd.GeoDataFrame,
    column: str,
    *,
    layer: str | None = None,
) -> gpd.GeoDataFrame:
    """Residents from a user point file or GeoDataFrame (e.g. census blocks or grid cells).

    Parameters
    ----------
    path_or_gdf
        A file GeoPandas reads (GeoPackage, GeoJSON, shapefile…) or a GeoDataFrame;
        geometries in any CRS that is set (non-points are drawn at a point on their
        surface).
    column
        Name of the population column (persons, ≥ 0).
    layer
        Layer of a multi-layer file.

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326 points, index = the file's index (row number for files);
        ``population``, ``source`` (``"points"``), the other columns kept.
    """
    if isinstance(path_or_gdf, gpd.GeoDataFrame):
        gdf, where = path_or_gdf, "the points"
    else:
        path = Path(path_or_gdf)
        if not path.is_file():
            msg = f"population file {path} does not exist; give a GeoPackage/GeoJSON of points with a {column!r} column"
            raise ValidationError(msg)
        gdf = gpd.read_file(path, layer=layer) if layer else gpd.read_file(path)
        where = f"population file {path}"
    _check_gdf(gdf, where)
    if column not in gdf.columns:
        cols = ", ".join(c for c in gdf.columns if c != gdf.geometry.name)
        msg = f"{where} has no column {column!r}; its columns are: {cols}"
        raise ValidationError(msg)
    pop = pd.to_numeric(gdf[column], errors="coerce")
    bad = pop.isna() | (pop < 0)
    if bad.any():
        rows = gdf.index[bad.to_numpy()][:5].tolist()
        msg = f"{where}: column {column!r} must hold numbers ≥ 0; rows {rows} do not (fix or drop them)"
        raise ValidationError(msg)
    geom = gdf.geometry
    if geom.isna().any() or geom.is_empty.any():
        rows = gdf.index[(geom.isna() | geom.is_empty).to_numpy()][:5].tolist()
        msg = f"{where}: rows {rows} have no geometry; drop them"
        raise ValidationError(msg)
    out = gdf.drop(columns=[column, gdf.geometry.name]).copy()
    out["population"] = pop.to_numpy(float)
    out["source"] = "points"
    out["fallback"] = False
    return gpd.GeoDataFrame(out, geometry=_as_points(geom).to_crs(4326).to_numpy(), crs=4326)


def from_landuse(
    landuse: gpd.GeoDataFrame,
    *,
    crs: str,
    persons_per_km2: float = DEFAULT_PERSONS_PER_KM2,
    grid_m: float = 100.0,
) -> gpd.GeoDataFrame:
    """Population points from residential land-use areas (see the module docstring).

    Parameters
    ----------
    landuse
        Polygons (any CRS, set) of residential land, e.g. ``Study.landuse``.
    crs
        Metric CRS for areas and the grid (metres).
    persons_per_km2
        Residents per km² of residential land.
    grid_m
        Side of the grid squares, metres.

    Returns
    -------
    geopandas.GeoDataFrame
        One point (EPSG:4326) per piece of residential land, ``population`` and
        ``source="landuse"``; the population of each area is spread by piece area,
        so the total is ``area × persons_per_km2``.
    """
    gdf = _check_gdf(landuse, "landuse")
    _check_metric(crs)
    if not (np.isfinite(persons_per_km2) and persons_per_km2 > 0):
        msg = f"persons_per_km2 must be > 0, got {persons_per_km2!r}"
        raise ValidationError(msg)
    if not (np.isfinite(grid_m) and grid_m > 0):
        msg = f"grid_m must be > 0 metres, got {grid_m!r}"
        raise ValidationError(msg)
    areas = gdf.to_crs(crs)
    areas = areas.loc[~areas.geometry.is_empty & areas.geometry.notna()]
    empty = gpd.GeoDataFrame(
        {"population": [], "source": [], "fallback": [], "cell_m2": []}, geometry=[], crs=4326
    )
    if areas.empty:
        return empty
    union = shapely.union_all(areas.geometry.to_numpy())  # overlapping areas count once
    xmin, ymin, xmax, ymax = union.bounds
    xs = np.arange(np.floor(xmin / grid_m) * grid_m, xmax, grid_m)
    ys = np.arange(np.floor(ymin / grid_m) * grid_m, ymax, grid_m)
    gx, gy = np.meshgrid(xs, ys)
    cells = shapely.box(gx.ravel(), gy.ravel(), gx.ravel() + grid_m, gy.ravel() + grid_m)
    pieces = shapely.intersection(cells, union)
    keep = ~shapely.is_empty(pieces)
    pieces = pieces[keep]
    area_km2 = shapely.area(pieces) / 1e6
    keep = area_km2 > 0
    pieces, area_km2 = pieces[keep], area_km2[keep]
    points = gpd.GeoSeries(shapely.point_on_surface(pieces), crs=crs).to_crs(4326)
    out = gpd.GeoDataFrame(
        {
            "population": area_km2 * persons_per_km2,
            "source": "landuse",
            "fallback": True,
            "cell_m2": area_km2 * 1e6,
        },
        geometry=points.to_numpy(),
        index=pd.Index([f"landuse:{i}" for i in range(len(pieces))], name="id"),
        crs=4326,
    )
    return out


def estimate(
    study: Study,
    *,
    method: str = "auto",
    min_buildings: int = DEFAULT_MIN_BUILDINGS,
    persons_per_m2: float = DEFAULT_PERSONS_PER_M2,
    default_levels: float = 1.0,
    include_yes: bool = False,
    points: Path | str | gpd.GeoDataFrame | None = None,
    column: str = "population",
    persons_per_km2: float = DEFAULT_PERSONS_PER_KM2,
    raster: Path | str | None = None,
) -> gpd.GeoDataFrame:
    """Population points of a study area, stating which source was used and how far it holds.

    Parameters
    ----------
    study
        A prepared study (:func:`accessibility.pipeline.prepare`); its ``buildings``
        and ``places`` lie inside the area.
    method
        ``"auto"`` (the population raster when the region file names one, else
        buildings when at least ``min_buildings`` residential footprints exist, else
        residential land use when mapped, else places), ``"raster"``,
        ``"buildings"``, ``"landuse"``, ``"places"`` or ``"points"`` (needs ``points``).
    min_buildings
        Residential footprints ``auto`` needs to choose buildings.
    persons_per_m2, default_levels, include_yes
        Passed to :func:`from_buildings`.
    points
        User point file or GeoDataFrame for ``method="points"``.
    column
        Population column of ``points`` (and of the places).
    persons_per_km2
        Passed to :func:`from_landuse`.
    raster
        A population GeoTIFF for ``method="raster"`` (or ``auto``) instead of the
        one the region file names (``population: {raster: …}``).

    Returns
    -------
    geopandas.GeoDataFrame
        Points in EPSG:4326 with ``population``, ``source`` and ``fallback``;
        ``attrs["population_source"]`` is the method used,
        ``attrs["population_note"]`` says how the figures were made, and
        ``attrs["population_confidence"]`` (``high``/``medium``/``low``) and
        ``attrs["population_failed"]`` (failed checks, ``;``-separated) come from
        :func:`reliability` over the study boundary's area.

    Raises
    ------
    ValidationError
        Unknown method; a method whose data are missing (no raster named, no
        footprints, no place with a population, no ``points``); a result without
        residents.
    """
    if method not in METHODS:
        msg = f"unknown population method {method!r}; choose one of {', '.join(METHODS)}"
        raise ValidationError(msg)
    # made once per study: the audit, the analysis and the grid origins ask alike
    cache = getattr(study, "population_estimates", None)
    key = None
    if isinstance(cache, dict) and not isinstance(points, gpd.GeoDataFrame):
        key = estimate_key(
            method, min_buildings=min_buildings, persons_per_m2=persons_per_m2,
            default_levels=default_levels, include_yes=include_yes, points=points,
            column=column, persons_per_km2=persons_per_km2, raster=raster,
        )  # fmt: skip
        inputs = _estimate_inputs(study)
        key = (*key, tuple(id(x) for x in inputs))
        kept = cache.get(key)
        if kept is not None and all(a is b for a, b in zip(kept[0], inputs, strict=True)):
            return kept[1].copy()
    out = _estimate(
        study, method=method, min_buildings=min_buildings, persons_per_m2=persons_per_m2,
        default_levels=default_levels, include_yes=include_yes, points=points, column=column,
        persons_per_km2=persons_per_km2, raster=raster,
    )  # fmt: skip
    if key is not None:
        # kept with the very tables it was made from (held, so their ids stay theirs):
        # a study given other buildings, land use, places or boundary estimates afresh
        cache[key] = (inputs, out.copy())
    return out


#: :func:`estimate`'s options and their defaults (the key of a kept estimate).
_ESTIMATE_DEFAULTS: Final[dict[str, Any]] = {
    "min_buildings": DEFAULT_MIN_BUILDINGS,
    "persons_per_m2": DEFAULT_PERSONS_PER_M2,
    "default_levels": 1.0,
    "include_yes": False,
    "points": None,
    "column": "population",
    "persons_per_km2": DEFAULT_PERSONS_PER_KM2,
    "raster": None,
}


def estimate_key(method: str = "auto", **options: Any) -> tuple[Any, ...]:
    """The key under which a study keeps :func:`estimate`'s result for these arguments
    (defaults filled in): the method, then each option's name and value."""
    full = {**_ESTIMATE_DEFAULTS, **options}
    unknown = set(full) - set(_ESTIMATE_DEFAULTS)
    if unknown:
        msg = f"unknown population options {sorted(unknown)}"
        raise ValidationError(msg)
    return (method, *((k, str(v) if isinstance(v, Path) else v) for k, v in sorted(full.items())))


def _estimate_inputs(study: Any) -> tuple[Any, ...]:
    """The tables an estimate is made from (compared by identity)."""
    return tuple(getattr(study, k, None) for k in ("buildings", "landuse", "places", "boundary"))


def _estimate(
    study: Study,
    *,
    method: str,
    min_buildings: int,
    persons_per_m2: float,
    default_levels: float,
    include_yes: bool,
    points: Path | str | gpd.GeoDataFrame | None,
    column: str,
    persons_per_km2: float,
    raster: Path | str | None,
) -> gpd.GeoDataFrame:
    """:func:`estimate` without the study's memory of earlier results."""
    if method == "points" and points is None:
        msg = "method='points' needs points=<file or GeoDataFrame> with a population column"
        raise ValidationError(msg)
    if points is not None and method == "auto":
        method = "points"
    raster_path = Path(raster) if raster is not None else _region_raster(study)
    if method == "raster" and raster_path is None:
        msg = (
            "method='raster' needs a population raster: name it in the region file "
            "(population: {raster: worldpop.tif}, relative to data/raw/<region>/) or pass raster=<path>"
        )
        raise ValidationError(msg)
    if method == "auto" and raster_path is not None:
        method = "raster"
        log.info("population source: raster %s (named by the region)", raster_path)
    n_res = int(residential_mask(study.buildings, include_yes=include_yes).sum())
    landuse = getattr(study, "landuse", None)
    n_landuse = 0 if landuse is None else len(landuse)
    if method == "auto":
        if n_res >= min_buildings:
            method = "buildings"
        else:
            method = "landuse" if n_landuse else "places"
        log.info(
            "population source: %s (%d residential footprints; %d needed for buildings)",
            method,
            n_res,
            min_buildings,
        )
    if method == "raster":
        assert raster_path is not None
        out = from_raster(raster_path, study.boundary, crs=study.crs, band=_region_band(study))
        note = f"{len(out)} cells of the population raster {raster_path.name}"
    elif method == "buildings":
        if n_res == 0:
            msg = (
                "the area has no residential building footprints; use method='places' "
                "or give a point file with method='points'"
            )
            raise ValidationError(msg)
        out = from_buildings(
            study.buildings,
            crs=study.crs,
            persons_per_m2=persons_per_m2,
            default_levels=default_levels,
            include_yes=include_yes,
        )
        note = (
            f"{len(out)} residential building footprints × storeys × {persons_per_m2:g} persons/m² "
            f"({1 / persons_per_m2:.0f} m² per person)"
        )
    elif method == "landuse":
        if not n_landuse:
            msg = "the area has no landuse=residential polygons; use method='places' or 'points'"
            raise ValidationError(msg)
        out = from_landuse(landuse, crs=study.crs, persons_per_km2=persons_per_km2)
        note = f"{n_landuse} residential land-use areas × {persons_per_km2:g} persons/km²"
    elif method == "places":
        out = from_places(study.places, column=column)
        note = f"{len(out)} settlements with a population tag"
    else:
        assert points is not None
        out = from_points(points, column)
        note = f"{len(out)} user points, column {column!r}"
    if out.empty or not out["population"].sum() > 0:
        msg = f"population method {method!r} found no residents in {study.label('en')}; try another method"
        raise ValidationError(msg)
    out.attrs["population_source"] = method
    out.attrs["population_note"] = note
    checks = reliability(out, area_km2=_area_km2(study))
    out.attrs["population_confidence"] = checks.attrs["confidence"]
    out.attrs["population_failed"] = ";".join(checks.attrs["failed"])
    if checks.attrs["confidence"] != "high":
        log.warning(
            "population (%s) is of %s confidence: %s fail (see population.reliability)",
            method,
            checks.attrs["confidence"],
            ", ".join(checks.attrs["failed"]) or "mostly fallback figures",
        )
    return out


def _region_raster(study: Any) -> Path | None:
    """The population raster the study's region file names (as resolved when it was
    prepared, in ``study.meta["population_raster"]``), or None."""
    meta = getattr(study, "meta", None) or {}
    if meta.get("population_raster"):
        return Path(meta["population_raster"])
    region = getattr(study, "region", None)
    if region is None or not getattr(region, "population", None):
        return None
    return region.population_raster(getattr(study, "unit", None))


def _region_band(study: Any) -> int:
    region = getattr(study, "region", None)
    spec = getattr(region, "population", None) or {}
    return int(spec.get("band", 1))


def _area_km2(study: Any) -> float | None:
    """Area of the study boundary in km² (in the study's metric CRS), or None without one."""
    boundary = getattr(study, "boundary", None)
    if boundary is None or len(boundary) == 0:
        return None
    area = float(boundary.to_crs(study.crs).area.sum()) / 1e6
    return area if area > 0 else None


# --------------------------------------------------------------------------- reliability


def reliability_rules() -> dict[str, Any]:
    """The limits of :func:`reliability` (``rules/population.yml``)."""
    from importlib import resources

    from . import _yaml

    text = resources.files("accessibility.rules").joinpath("population.yml").read_text("utf-8")
    return _yaml.load(text)


def _fallback_mask(points: pd.DataFrame) -> np.ndarray:
    if "fallback" in points.columns:
        return points["fallback"].fillna(False).astype(bool).to_numpy()
    if "source" in points.columns:
        return (points["source"].astype(str) == "landuse").to_numpy()
    return np.zeros(len(points), bool)


def _max_density(points: gpd.GeoDataFrame, pop: np.ndarray, square_m: float) -> float:
    """Persons per km² of the densest point cell, or of the densest square for points without one."""
    if "cell_m2" in points.columns:
        cell = pd.to_numeric(points["cell_m2"], errors="coerce").to_numpy(float)
        ok = np.isfinite(cell) & (cell > 0)
        if ok.all():
            return float((pop / cell * 1e6).max())
    xy = _xy(points.geometry.to_crs(points.estimate_utm_crs()))
    keys = pd.MultiIndex.from_arrays(np.floor(xy / square_m).astype(np.int64).T)
    sums = pd.Series(pop).groupby(keys).sum()
    return float(sums.max() / (square_m**2 / 1e6))


def reliability(points: gpd.GeoDataFrame, *, area_km2: float | None = None) -> pd.DataFrame:
    """How far population points can be trusted: a few checks and an overall confidence.

    Checks (limits in ``rules/population.yml``):

    ``largest_point_share``
        Share of all residents at the single largest point (at most the limit,
        0.20: one lump deciding the result is suspicious).
    ``fallback_share``
        Share of residents whose figure comes from a fallback rule, not a count:
        land use × a density, or footprints without storeys (column ``fallback``;
        without it, ``source == "landuse"``).
    ``places_without_figure``
        Share of settlement points left out for lack of a population figure
        (only for :func:`from_places` results, which record it in ``attrs``).
    ``max_cell_density_km2``
        Persons per km² of the densest point cell (``cell_m2``: raster cells,
        land-use pieces) or, for points without a cell, of the densest square of
        ``density_square_m`` metres.
    ``area_density_low`` / ``area_density_high``
        Persons per km² of the whole area (with ``area_km2``): at least the minimum
        (1/km²: else the data miss most people) and at most the maximum.

    Parameters
    ----------
    points
        Population points with ``population`` (any CRS that is set).
    area_km2
        Area the points stand for, km² (e.g. the study boundary's area).

    Returns
    -------
    pandas.DataFrame
        Index ``check``; columns ``value``, ``limit``, ``ok`` (bool) and ``note``.
        ``attrs["confidence"]`` is ``high`` (every check passes), ``medium`` (one
        check fails) or ``low`` (the fallback share exceeds ``low_fallback_share``,
        or ``low_failed_checks`` checks fail); ``attrs["failed"]`` lists the failed
        checks.
    """
    points, pop = _weights(points)
    total = float(pop.sum())
    if total <= 0:
        msg = "no residents: the population points are empty or all zero"
        raise ValidationError(msg)
    rules = reliability_rules()
    lim = rules["limits"]
    rows: list[tuple[str, float, float, bool, str]] = []

    def at_most(check: str, value: float, note: str) -> None:
        rows.append((check, value, float(lim[check]), bool(value <= lim[check]), note))

    at_most("largest_point_share", float(pop.max()) / total, "share of residents at one point")
    fb = float(pop[_fallback_mask(points)].sum()) / total
    at_most("fallback_share", fb, "share of residents estimated by a fallback rule")
    n_places = points.attrs.get("places_total")
    if n_places:
        missing = float(points.attrs.get("places_without_figure", 0)) / float(n_places)
        at_most(
            "places_without_figure", missing, "share of settlements without a population figure"
        )
    density = _max_density(points, pop, float(rules["density_square_m"]))
    at_most("max_cell_density_km2", density, "persons per km² of the densest cell")
    if area_km2 is not None:
        if not (np.isfinite(area_km2) and area_km2 > 0):
            msg = f"area_km2 must be a positive area, got {area_km2!r}"
            raise ValidationError(msg)
        d = total / float(area_km2)
        low, high = float(lim["min_area_density_km2"]), float(lim["max_area_density_km2"])
        rows.append(
            ("area_density_low", d, low, bool(d >= low), "persons per km² of the area, at least")
        )
        rows.append(
            ("area_density_high", d, high, bool(d <= high), "persons per km² of the area, at most")
        )
    out = pd.DataFrame(rows, columns=["check", "value", "limit", "ok", "note"]).set_index("check")
    failed = [str(c) for c in out.index[~out["ok"]]]
    conf = rules["confidence"]
    if fb > float(conf["low_fallback_share"]) or len(failed) >= int(conf["low_failed_checks"]):
        confidence = "low"
    elif failed:
        confidence = "medium"
    else:
        confidence = "high"
    out.attrs["confidence"] = confidence
    out.attrs["failed"] = failed
    return out
