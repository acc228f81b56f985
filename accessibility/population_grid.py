"""Residents on a grid: population rasters read, and population points summed to origins or cells.

Design
------
In:  a GeoTIFF of persons per cell in any CRS (WorldPop: 100 m cells in EPSG:4326;
     GHS-POP: 100 m cells in Mollweide), or population points of any source
     (:mod:`accessibility.population`), and a study area, origins or cells.
Out: :func:`from_raster` — one point per cell over the area (its centre, WGS-84), a cell
     partly inside counted by the share of its area inside (measured in metres), only the
     window over the area read; :func:`to_origins` — each point's people to the nearest
     origin (a KD-tree in metres, never degrees); :func:`to_cells` — points summed to the
     polygons that hold them. Shared input checks of the population modules live here too.
Tests: ``tests/test_population_raster.py`` — rasters in three CRSs against hand sums,
     windowed reads, nearest-origin and cell sums against brute force.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, Final

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ._errors import ValidationError
from ._validate import check_degrees

log = logging.getLogger("accessibility.population")

#: Smallest share of a raster cell inside the area that counts (below it: rounding slivers).
MIN_CELL_SHARE: Final[float] = 1e-6


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


def _as_points(geom: gpd.GeoSeries) -> gpd.GeoSeries:
    if (geom.geom_type == "Point").all():
        return geom
    return geom.representative_point()

# --------------------------------------------------------------------------- rasters


def _area_geometry(area: Any) -> shapely.Geometry:
    """The study area as one WGS-84 geometry (a geometry in degrees, or a GeoSeries/GeoDataFrame)."""
    if isinstance(area, gpd.GeoDataFrame | gpd.GeoSeries):
        if area.crs is None:
            msg = "the area has no CRS; set it (e.g. .set_crs(4326))"
            raise ValidationError(msg)
        geoms = area.geometry.to_crs(4326).to_numpy()
        geom = shapely.union_all(geoms[~shapely.is_empty(geoms) & ~pd.isna(geoms)])
    elif isinstance(area, shapely.Geometry):
        geom = area
    else:
        msg = f"the area must be a polygon in WGS-84 degrees or a GeoSeries/GeoDataFrame, got {type(area).__name__}"
        raise ValidationError(msg)
    if geom is None or geom.is_empty or geom.area <= 0:
        msg = "the area is empty or has no surface; give the study boundary (a polygon)"
        raise ValidationError(msg)
    check_degrees(geom, "area")
    return geom


def _apply(t: Any, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An affine transform applied to coordinate arrays (``x' = a·x + b·y + c``, ``y' = d·x + e·y + f``)."""
    return t.a * x + t.b * y + t.c, t.d * x + t.e * y + t.f


def _empty_raster_points() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "population": np.array([], float),
            "value": np.array([], float),
            "share": np.array([], float),
            "cell_m2": np.array([], float),
            "row": np.array([], np.int64),
            "col": np.array([], np.int64),
            "source": np.array([], object),
            "fallback": np.array([], bool),
        },
        geometry=[],
        index=pd.Index([], name="id", dtype=object),
        crs=4326,
    )


def from_raster(
    path: Path | str,
    area: Any,
    *,
    crs: str,
    band: int = 1,
) -> gpd.GeoDataFrame:
    """Population points from a gridded population raster (WorldPop, GHS-POP…), cut to an area.

    Each raster cell that overlaps the area becomes a point at the cell's centre::

        population = cell value (persons in the cell) × share of the cell's area inside the area

    where the share is measured in the metric ``crs`` (never in degrees). Only the
    window of the raster covering the area is read, so a country-sized raster costs
    no more than the county cut out of it. Cells that are nodata (the raster's
    nodata value or mask), not finite, negative or zero are left out.

    Parameters
    ----------
    path
        A GeoTIFF (or any single-band raster GDAL reads) in any CRS that is set:
        WorldPop's 100 m grids are in EPSG:4326 (3″ cells), GHS-POP's in Mollweide
        (ESRI:54009, 100 m cells). Values are persons per cell, not densities.
    area
        The study area: a (Multi)Polygon in WGS-84 degrees, or a GeoSeries /
        GeoDataFrame in any CRS (its geometries are merged), e.g. ``study.boundary``.
    crs
        Metric CRS in which cell areas and shares are measured (the study's UTM zone).
    band
        Band holding the population counts (1-based).

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326 points (cell centres), index ``raster:<row>:<col>`` (the cell's row
        and column in the whole raster); columns ``population`` (persons, float),
        ``value`` (the whole cell's persons), ``share`` (0–1, of the cell's area inside
        the area), ``cell_m2`` (m² of the cell inside the area), ``row``, ``col``,
        ``source`` (``"raster"``) and ``fallback`` (False: counted, not inferred).

    Raises
    ------
    ValidationError
        Missing or unreadable file, a raster without CRS, a band it does not have,
        a non-metric ``crs`` or an empty area.
    """
    import pyproj
    import rasterio
    from rasterio.windows import Window

    _check_metric(crs)
    path = Path(path)
    if not path.is_file():
        msg = f"population raster {path} does not exist; put the GeoTIFF there or fix population.raster in the region file"
        raise ValidationError(msg)
    geom = _area_geometry(area)
    try:
        src = rasterio.open(path)
    except rasterio.errors.RasterioIOError as exc:
        msg = f"population raster {path} cannot be read as a raster (GeoTIFF expected): {exc}"
        raise ValidationError(msg) from exc
    with src:
        if src.crs is None:
            msg = f"population raster {path} has no CRS; set it (e.g. gdal_edit.py -a_srs EPSG:4326 {path.name})"
            raise ValidationError(msg)
        if isinstance(band, bool) or not isinstance(band, int) or not 1 <= band <= src.count:
            msg = f"population raster {path} has {src.count} band(s); band must be 1…{src.count}, got {band!r}"
            raise ValidationError(msg)
        raster_crs = pyproj.CRS.from_wkt(src.crs.to_wkt())
        metric_area = gpd.GeoSeries([geom], crs=4326).to_crs(crs).iloc[0]
        # dense edges, so that the window covers the area in a curved projection too
        dense = shapely.segmentize(metric_area, 250.0)
        in_raster = gpd.GeoSeries([dense], crs=crs).to_crs(raster_crs).iloc[0]
        west, south, east, north = in_raster.bounds
        cols, rows = _apply(
            ~src.transform,
            np.array([west, east, west, east]),
            np.array([south, south, north, north]),
        )
        c0, c1 = max(math.floor(min(cols)), 0), min(math.ceil(max(cols)), src.width)
        r0, r1 = max(math.floor(min(rows)), 0), min(math.ceil(max(rows)), src.height)
        if c1 <= c0 or r1 <= r0:
            log.warning("population raster %s does not cover the area: no population points", path)
            return _empty_raster_points()
        data = src.read(band, window=Window(c0, r0, c1 - c0, r1 - r0), masked=True)
        transform = src.transform
        width, height = src.width, src.height
    values = np.ma.filled(data.astype(float), np.nan)
    keep = np.isfinite(values) & (values > 0)
    n_negative = int((np.isfinite(values) & (values < 0)).sum())
    if n_negative:
        log.warning("%d negative cells of %s left out (not persons)", n_negative, path.name)
    rr, cc = np.nonzero(keep)
    if rr.size == 0:
        return _empty_raster_points()
    value = values[rr, cc]
    row, col = rr + r0, cc + c0
    # cell corners in the raster's CRS (any affine transform, rotated ones included)
    to_metric = pyproj.Transformer.from_crs(raster_crs, crs, always_xy=True)
    corners = []
    for dc, dr in ((0, 0), (1, 0), (1, 1), (0, 1)):
        x, y = _apply(transform, col + dc, row + dr)
        corners.append(np.column_stack(to_metric.transform(np.asarray(x), np.asarray(y))))
    ring = np.stack([*corners, corners[0]], axis=1)
    cells = shapely.polygons(ring)
    cell_area = shapely.area(cells)
    shapely.prepare(metric_area)
    inside = shapely.contains(metric_area, cells)
    share = inside.astype(float)
    edge = ~inside & shapely.intersects(metric_area, cells)
    if edge.any():
        share[edge] = shapely.area(shapely.intersection(cells[edge], metric_area)) / cell_area[edge]
    use = share > MIN_CELL_SHARE  # not the slivers left by rounding along shared edges
    value, row, col, share, cell_area = value[use], row[use], col[use], share[use], cell_area[use]
    cx, cy = _apply(transform, col + 0.5, row + 0.5)
    to_wgs = pyproj.Transformer.from_crs(raster_crs, 4326, always_xy=True)
    lon, lat = to_wgs.transform(np.asarray(cx), np.asarray(cy))
    out = gpd.GeoDataFrame(
        {
            "population": value * share,
            "value": value,
            "share": share,
            "cell_m2": share * cell_area,
            "row": row.astype(np.int64),
            "col": col.astype(np.int64),
            "source": "raster",
            "fallback": False,
        },
        geometry=shapely.points(lon, lat),
        index=pd.Index([f"raster:{r}:{c}" for r, c in zip(row, col)], name="id"),
        crs=4326,
    )
    log.info(
        "population from %d cells of %s (window %d×%d of %d×%d): %.0f persons",
        len(out),
        path.name,
        c1 - c0,
        r1 - r0,
        width,
        height,
        out["population"].sum(),
    )
    return out


# --------------------------------------------------------------------------- sums per origin or cell


def _weights(points: Any) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    if not isinstance(points, gpd.GeoDataFrame) or points.crs is None:
        msg = "population points must be a GeoDataFrame with a CRS (see accessibility.population)"
        raise ValidationError(msg)
    if "population" not in points.columns:
        msg = "population points need a 'population' column (persons)"
        raise ValidationError(msg)
    pop = pd.to_numeric(points["population"], errors="coerce").to_numpy(float)
    bad = ~np.isfinite(pop) | (pop < 0)
    if bad.any():
        ids = points.index[bad][:5].tolist()
        msg = f"population must be a finite number ≥ 0 for every point; points {ids} are not"
        raise ValidationError(msg)
    return points, pop


def _xy(geom: gpd.GeoSeries) -> np.ndarray:
    pts = _as_points(geom)
    return np.column_stack([pts.x.to_numpy(float), pts.y.to_numpy(float)])


def to_origins(
    points: gpd.GeoDataFrame,
    origins: gpd.GeoDataFrame,
    *,
    crs: str,
    max_distance_m: float | None = None,
) -> pd.Series:
    """Sum population points to their nearest origin (a Voronoi assignment in metres).

    Each point's people go to the origin nearest to it in the metric ``crs`` (a
    KD-tree query; never in degrees). Polygon origins count at a point on their
    surface. Ties between equally near origins go to one of them.

    Parameters
    ----------
    points
        Population points (any CRS that is set) with a ``population`` column, e.g.
        from :func:`from_raster` or :func:`estimate`.
    origins
        Origins (villages, places, grid-cell centres…), any CRS that is set, unique
        index.
    crs
        Metric CRS for the distances (the study's UTM zone).
    max_distance_m
        Points farther than this from every origin are not assigned; their people
        are reported in ``attrs["unassigned"]`` (persons) and
        ``attrs["points_unassigned"]``. ``None``: every point is assigned.

    Returns
    -------
    pandas.Series
        Persons per origin (float, 0 for an origin no point is nearest to), indexed
        like ``origins``, named ``population``.
    """
    points, pop = _weights(points)
    _check_gdf(origins, "origins")
    _check_metric(crs)
    if max_distance_m is not None and not (np.isfinite(max_distance_m) and max_distance_m > 0):
        msg = f"max_distance_m must be a positive number of metres or None, got {max_distance_m!r}"
        raise ValidationError(msg)
    out = pd.Series(0.0, index=origins.index.copy(), name="population")
    unassigned = np.ones(len(points), bool)
    if len(origins) and len(points):
        from scipy.spatial import cKDTree

        tree = cKDTree(_xy(origins.geometry.to_crs(crs)))
        bound = np.inf if max_distance_m is None else float(max_distance_m)
        dist, idx = tree.query(_xy(points.geometry.to_crs(crs)), k=1, distance_upper_bound=bound)
        unassigned = ~np.isfinite(dist)
        out[:] = np.bincount(idx[~unassigned], weights=pop[~unassigned], minlength=len(origins))
    elif len(points) and pop.sum() > 0:
        log.warning("no origins: %.0f persons are not assigned", pop.sum())
    out.attrs["unassigned"] = float(pop[unassigned].sum())
    out.attrs["points_unassigned"] = int(unassigned.sum())
    if unassigned.any() and len(origins):
        log.info(
            "%d population points (%.0f persons) farther than %s m from every origin are not assigned",
            int(unassigned.sum()),
            out.attrs["unassigned"],
            max_distance_m,
        )
    return out


def to_cells(
    points: gpd.GeoDataFrame,
    cells: gpd.GeoDataFrame,
    *,
    crs: str | None = None,
) -> pd.Series:
    """Sum population points to the polygons (grid cells, districts) that contain them.

    Containment is decided in a metric CRS: ``crs`` when given, else the cells' own
    CRS when projected, else their UTM zone. A point on an edge shared by two cells
    goes to the first of them (in the cells' order); points in no cell are reported
    in ``attrs["unassigned"]`` (persons) and ``attrs["points_unassigned"]``.

    Parameters
    ----------
    points
        Population points (any CRS that is set) with a ``population`` column.
    cells
        Polygons, any CRS that is set, unique index.
    crs
        Metric CRS for the test (optional, see above).

    Returns
    -------
    pandas.Series
        Persons per cell (float, 0 for an empty cell), indexed like ``cells``, named
        ``population``.
    """
    points, pop = _weights(points)
    _check_gdf(cells, "cells")
    if crs is None:
        crs = cells.crs if cells.crs.is_projected else cells.estimate_utm_crs()
    else:
        _check_metric(crs)
    polys = cells.geometry.to_crs(crs).to_numpy()
    pts = shapely.points(_xy(points.geometry.to_crs(crs)))
    out = pd.Series(0.0, index=cells.index.copy(), name="population")
    assigned = np.zeros(len(points), bool)
    if len(cells) and len(points):
        pi, ci = shapely.STRtree(polys).query(pts, predicate="intersects")
        order = np.lexsort((ci, pi))
        pi, ci = pi[order], ci[order]
        first = np.unique(pi, return_index=True)[1]
        pi, ci = pi[first], ci[first]
        assigned[pi] = True
        out[:] = np.bincount(ci, weights=pop[pi], minlength=len(cells))
    out.attrs["unassigned"] = float(pop[~assigned].sum())
    out.attrs["points_unassigned"] = int((~assigned).sum())
    return out
