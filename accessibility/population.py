"""Where residents live: population as weighted points, from the best source a region has.

Design
------
In:  building footprints (OSM ``building=*``, WGS-84 polygons with ``building`` and
     ``levels``), settlement points with a ``population`` tag, or a user point file.
Out: a GeoDataFrame of points (EPSG:4326), index = the source's ids, with a
     ``population`` column (persons, float) and a ``source`` column naming the
     method (``buildings``, ``places`` or ``points``). :func:`estimate` also stores
     the method in ``attrs["population_source"]`` and a one-line description in
     ``attrs["population_note"]``, so every table and map can say where the
     numbers come from.

Methods
-------
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
buildings when the area has at least ``min_buildings`` residential footprints,
else residential land use when any is mapped, else places. Footprints are usually mapped in towns only, so a buildings-based
estimate describes the built-up area, not the villages around it.

Tests: ``tests/test_population.py`` — arithmetic on hand-made footprints, the
residential filter, the automatic choice and every validation branch.
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
    "residential_mask",
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
METHODS: Final[tuple[str, ...]] = ("auto", "buildings", "landuse", "places", "points")
#: Residents per km² of residential land when only land use is mapped (a planning
#: order of magnitude for Chinese towns; villages are sparser: override it).
DEFAULT_PERSONS_PER_KM2: Final[float] = 10_000.0
#: Residential footprints needed for ``auto`` to prefer buildings over places.
DEFAULT_MIN_BUILDINGS: Final[int] = 50


def _check_gdf(frame: Any, what: str) -> gpd.GeoDataFrame:
    if not isinstance(frame, gpd.GeoDataFrame):
        msg = f"{what} must be a GeoDataFrame, got {type(frame).__name__}"
        raise ValidationError(msg)
    if frame.crs is None:
        msg = f"{what} have no CRS; set it (e.g. gdf.set_crs(4326) for longitude/latitude)"
        raise ValidationError(msg)
    if not frame.index.is_unique:
        dup = frame.index[frame.index.duplicated()].unique()[:5].tolist()
        msg = f"{what} ids (the index) must be unique; duplicated: {dup}"
        raise ValidationError(msg)
    return frame


def _check_metric(crs: Any) -> None:
    from pyproj import CRS

    try:
        parsed = CRS.from_user_input(crs)
    except Exception as exc:
        msg = f"crs {crs!r} is not a coordinate reference system; pass a metric one such as 'EPSG:32650'"
        raise ValidationError(msg) from exc
    if not parsed.is_projected:
        msg = f"crs {crs!r} is not projected: areas need metres; pass the region's UTM zone (study.crs)"
        raise ValidationError(msg)


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
    return gpd.GeoDataFrame(
        {**columns, "population": pop[usable].to_numpy(float), "source": "places"},
        geometry=_as_points(table.geometry).to_crs(4326).to_numpy(),
        index=table.index.copy(),
        crs=4326,
    )


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
    return gpd.GeoDataFrame(out, geometry=_as_points(geom).to_crs(4326).to_numpy(), crs=4326)


def _as_points(geom: gpd.GeoSeries) -> gpd.GeoSeries:
    if (geom.geom_type == "Point").all():
        return geom
    return geom.representative_point()


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
    empty = gpd.GeoDataFrame({"population": [], "source": []}, geometry=[], crs=4326)
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
        {"population": area_km2 * persons_per_km2, "source": "landuse"},
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
) -> gpd.GeoDataFrame:
    """Population points of a study area, stating which source was used.

    Parameters
    ----------
    study
        A prepared study (:func:`accessibility.pipeline.prepare`); its ``buildings``
        and ``places`` lie inside the area.
    method
        ``"auto"`` (buildings when at least ``min_buildings`` residential footprints
        exist, else residential land use when mapped, else places), ``"buildings"``,
        ``"landuse"``, ``"places"`` or ``"points"`` (needs ``points``).
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

    Returns
    -------
    geopandas.GeoDataFrame
        Points in EPSG:4326 with ``population`` and ``source``;
        ``attrs["population_source"]`` is the method used and
        ``attrs["population_note"]`` says how the figures were made.

    Raises
    ------
    ValidationError
        Unknown method; a method whose data are missing (no footprints, no place
        with a population, no ``points``); a result without residents.
    """
    if method not in METHODS:
        msg = f"unknown population method {method!r}; choose one of {', '.join(METHODS)}"
        raise ValidationError(msg)
    if method == "points" and points is None:
        msg = "method='points' needs points=<file or GeoDataFrame> with a population column"
        raise ValidationError(msg)
    if points is not None and method == "auto":
        method = "points"
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
    if method == "buildings":
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
    return out
