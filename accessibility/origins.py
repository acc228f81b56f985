"""Where trips start: origins for any place, from villages to a population grid.

Design
------
In:  what :func:`accessibility.pipeline.prepare` has read for an area — classified
     settlement points (``level``, ``place``, ``name``, ``population``), residential
     building footprints, population points (any source of
     :mod:`accessibility.population`) — the boundary (WGS-84), the metric CRS, and a
     choice of origins.
Out: :class:`Origins`: a GeoDataFrame of points (EPSG:4326, inside the boundary) with
     ``name``, ``level``, ``population`` (persons, NaN when unknown), plus the kind
     that was used, why, and what the data held (so an error or the audit can say
     "0 villages; 47 residential places, 1 city").
Choices (``kind``):

``villages``
    Settlements of the chosen levels (default ``admin_village``), as before. Rural
    China maps villages as ``place=village``; city centres have none.
``places``
    Every settlement point of any level, including ``suburb``, ``quarter`` and
    ``neighbourhood``: the named parts of a city.
``grid``
    Square cells of ``grid_m`` metres (in the metric CRS, aligned on its multiples)
    covering the boundary. ``h3``: H3 hexagons of the resolution whose average
    area is nearest ``grid_m²``. With population points, a cell's origin is the
    population-weighted mean of its points and its population their sum; cells
    with no resident are left out (nobody starts a trip there). Without any
    population data every cell inside the boundary is kept, at the point of the
    cell nearest its centre inside the boundary, with population NaN.
``buildings``
    Residential building footprints grouped into clusters (footprints closer than
    ``gap_m`` to each other join one cluster); one origin per cluster at the
    population-weighted centre of its footprints, population = their sum (see
    :func:`accessibility.population.from_buildings`).
a file
    A point file (GeoPackage, GeoJSON, shapefile…; polygons count by a point inside
    them) with optional ``name`` and ``population`` columns; points outside the
    boundary are left out and counted.
``auto``
    ``villages`` when the area holds at least :data:`AUTO_MIN_VILLAGES` of them,
    else ``grid`` — the reason is stated.

Tests: ``tests/test_origins.py`` — every kind on hand-made places, footprints and
population points (cell sums against a brute-force assignment, H3 resolution, empty
cells, points outside), ``auto``'s choice, the error that lists what was found; and the
notebooks on a real extract (``tests/test_real_osm.py``).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ._errors import DataSourceError, ValidationError

log = logging.getLogger(__name__)

KINDS = ("auto", "villages", "places", "grid", "h3", "buildings")
#: Villages ``auto`` needs in an area to use them; below, it uses a grid.
AUTO_MIN_VILLAGES = 3
DEFAULT_GRID_M = 500.0
DEFAULT_GAP_M = 30.0
#: Level given to origins that are not settlements.
GRID_LEVEL = "grid_cell"
#: Share of a cell's area that must lie inside the boundary for an unpopulated grid to keep it.
MIN_CELL_SHARE = 1e-4
BUILDINGS_LEVEL = "building_cluster"
FILE_LEVEL = "point"


@dataclass
class Origins:
    """Origins of an area and how they were chosen (see the module docstring)."""

    table: gpd.GeoDataFrame
    kind: str
    reason: str
    #: What the data held: counts of settlements by ``place`` value, footprints, population points
    found: dict[str, int] = field(default_factory=dict)
    #: Why the origins' residents are only an estimate (``landuse``, ``low_confidence``), or ``""``
    estimate: str = ""


def found_text(found: dict[str, int]) -> str:
    """``found`` as a phrase: ``"0 villages; 47 suburb, 1 city; 812 residential footprints"``."""
    places = ", ".join(
        f"{n} {k.removeprefix('place=')}" for k, n in found.items() if k.startswith("place=") and n
    )
    parts = [f"{found.get('villages', 0)} villages"]
    parts.append(places or "no other settlement points")
    parts.append(f"{found.get('residential_footprints', 0)} residential footprints")
    if found.get("population_points"):
        parts.append(f"{found['population_points']} population points")
    return "; ".join(parts)


def check_spec(kind: Any) -> str:
    """Validate an origins choice: one of :data:`KINDS` or the path of a point file."""
    if isinstance(kind, gpd.GeoDataFrame):
        return "file"
    if not isinstance(kind, (str, Path)) or not str(kind).strip():
        msg = f"origins must be one of {', '.join(KINDS)} or a point file; got {kind!r}"
        raise ValidationError(msg)
    text = str(kind).strip()
    if text in KINDS:
        return text
    if Path(text).suffix.lower() in {
        ".gpkg",
        ".geojson",
        ".json",
        ".shp",
        ".csv",
        ".fgb",
        ".parquet",
    }:
        return "file"
    msg = f"origins must be one of {', '.join(KINDS)} or a point file (.gpkg, .geojson, .shp, .csv…); got {text!r}"
    raise ValidationError(msg)


def _empty() -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(
        {
            "name": pd.Series(dtype=object),
            "level": pd.Series(dtype=object),
            "population": pd.Series(dtype=float),
        },
        geometry=gpd.GeoSeries([], crs=4326),
    )
    frame.index.name = "id"
    return frame


def _frame(ids: list[str], names: list[str], level: str, pop: Any, points: Any) -> gpd.GeoDataFrame:
    if not len(ids):
        return _empty()
    out = gpd.GeoDataFrame(
        {"name": names, "level": level, "population": np.asarray(pop, dtype=float)},
        geometry=gpd.GeoSeries(np.asarray(points, dtype=object), crs=4326).to_numpy(),
        crs=4326,
        index=pd.Index(ids, name="id"),
    )
    return out


def villages(places: gpd.GeoDataFrame, levels: Any) -> gpd.GeoDataFrame:
    """Settlements of ``levels`` (classified places inside the area)."""
    out = places.loc[places["level"].isin(list(levels))].copy()
    if "population" not in out.columns:
        out["population"] = np.nan
    return out


def all_places(places: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Every classified settlement point, whatever its level."""
    out = places.loc[places["level"].notna() & (places["level"].astype(str) != "")].copy()
    if "population" not in out.columns:
        out["population"] = np.nan
    return out


def _square_cells(
    boundary: shapely.Geometry, cell_m: float
) -> tuple[list[str], list[shapely.Geometry]]:
    """Square cells of side ``cell_m`` (metric CRS, aligned on its multiples) meeting ``boundary``."""
    x0, y0, x1, y1 = boundary.bounds
    i0, j0 = math.floor(x0 / cell_m), math.floor(y0 / cell_m)
    i1, j1 = math.floor(x1 / cell_m), math.floor(y1 / cell_m)
    n = (i1 - i0 + 1) * (j1 - j0 + 1)
    if n > 2_000_000:
        msg = (
            f"a grid of {cell_m:g} m over this area would hold {n:,} cells; choose a larger grid_m"
        )
        raise ValidationError(msg)
    ii, jj = np.meshgrid(np.arange(i0, i1 + 1), np.arange(j0, j1 + 1))
    ii, jj = ii.ravel(), jj.ravel()
    boxes = shapely.box(ii * cell_m, jj * cell_m, (ii + 1) * cell_m, (jj + 1) * cell_m)
    shapely.prepare(boundary)
    hit = shapely.intersects(boundary, boxes)
    ids = [f"g{int(i)}_{int(j)}" for i, j in zip(ii[hit], jj[hit])]
    return ids, list(boxes[hit])


def h3_resolution(cell_m: float) -> int:
    """The H3 resolution whose average hexagon area is nearest ``cell_m²`` (by log ratio)."""
    import h3

    target = math.log(cell_m * cell_m)
    return min(
        range(16), key=lambda r: abs(math.log(h3.average_hexagon_area(r, unit="m^2")) - target)
    )


def _h3_cells(
    boundary_wgs: shapely.Geometry, cell_m: float, crs: str
) -> tuple[list[str], list[shapely.Geometry]]:
    import h3

    res = h3_resolution(cell_m)
    # cells whose centre lies in the boundary grown by one cell, so that edge cells count
    grown = gpd.GeoSeries([boundary_wgs], crs=4326).to_crs(crs).buffer(2.0 * cell_m).to_crs(4326)
    cells = sorted(h3.geo_to_cells(grown.iloc[0], res))
    polys = [shapely.Polygon([(lon, lat) for lat, lon in h3.cell_to_boundary(c)]) for c in cells]
    metric = gpd.GeoSeries(polys, crs=4326).to_crs(crs)
    return cells, list(metric.to_numpy())


def grid(
    boundary: gpd.GeoSeries,
    *,
    crs: str,
    cell_m: float = DEFAULT_GRID_M,
    population: gpd.GeoDataFrame | None = None,
    shape: str = "square",
) -> gpd.GeoDataFrame:
    """Grid cells as origins (see the module docstring).

    Parameters
    ----------
    boundary
        The area (one polygon; any CRS).
    crs
        Metric CRS the cells are laid out and measured in.
    cell_m
        Side of a square cell, or ``sqrt`` of the target hexagon area, metres.
    population
        Population points (``population`` column, any CRS) or None.
    shape
        ``"square"`` or ``"h3"``.

    Returns
    -------
    geopandas.GeoDataFrame
        Origins in EPSG:4326 indexed by cell id (``g<col>_<row>`` in units of
        ``cell_m``, or the H3 cell), ``level`` = :data:`GRID_LEVEL`.
    """
    if not (isinstance(cell_m, (int, float)) and math.isfinite(cell_m) and cell_m > 0):
        msg = f"grid_m must be a positive number of metres, got {cell_m!r}"
        raise ValidationError(msg)
    area = boundary.to_crs(crs).iloc[0]
    if shape == "h3":
        ids, cells = _h3_cells(boundary.to_crs(4326).iloc[0], cell_m, crs)
    elif shape == "square":
        ids, cells = _square_cells(area, float(cell_m))
    else:
        msg = f"grid shape must be 'square' or 'h3', got {shape!r}"
        raise ValidationError(msg)
    cells_gs = gpd.GeoSeries(cells, crs=crs, index=pd.Index(ids, name="id"))
    if population is not None and len(population):
        pts = population.to_crs(crs)
        geom = pts.geometry
        if not (geom.geom_type == "Point").all():
            geom = geom.representative_point()
        weights = pd.to_numeric(pts["population"], errors="coerce").fillna(0.0).to_numpy(float)
        inside = shapely.contains_xy(area, geom.x.to_numpy(), geom.y.to_numpy())
        px, py, pw = geom.x.to_numpy()[inside], geom.y.to_numpy()[inside], weights[inside]
        which = _cell_of(px, py, cells_gs, shape=shape, cell_m=float(cell_m))
        ok = (which >= 0) & (pw > 0)
        which, px, py, pw = which[ok], px[ok], py[ok], pw[ok]
        n = len(cells_gs)
        total = np.bincount(which, weights=pw, minlength=n)
        sx = np.bincount(which, weights=pw * px, minlength=n)
        sy = np.bincount(which, weights=pw * py, minlength=n)
        used = np.flatnonzero(total > 0)
        points = gpd.GeoSeries(
            shapely.points(sx[used] / total[used], sy[used] / total[used]), crs=crs
        ).to_crs(4326)
        out = _frame(
            [ids[k] for k in used], [""] * used.size, GRID_LEVEL, total[used], points.to_numpy()
        )
        out.attrs["cells_in_area"] = n
        return out
    # no population data: every cell inside the boundary, at its point nearest the centre
    pieces = cells_gs.intersection(area)
    # a cell whose part inside is a sliver (the boundary's reprojection) is no cell of the area
    keep = ~pieces.is_empty & (pieces.area > MIN_CELL_SHARE * cells_gs.area)
    pieces, full = pieces[keep], cells_gs[keep]
    centres = full.centroid
    inside_centre = shapely.contains_xy(area, centres.x.to_numpy(), centres.y.to_numpy())
    nearest = shapely.get_point(shapely.shortest_line(pieces.to_numpy(), centres.to_numpy()), 0)
    points = np.where(inside_centre, centres.to_numpy(), nearest)
    pts = gpd.GeoSeries(points, crs=crs).to_crs(4326)
    return _frame(
        list(pieces.index),
        [""] * len(pieces),
        GRID_LEVEL,
        np.full(len(pieces), np.nan),
        pts.to_numpy(),
    )


def _cell_of(
    px: np.ndarray, py: np.ndarray, cells: gpd.GeoSeries, *, shape: str, cell_m: float
) -> np.ndarray:
    """Position in ``cells`` of the cell holding each point, -1 for none."""
    if shape == "square":
        lookup = {cid: k for k, cid in enumerate(cells.index)}
        keys = [f"g{int(i)}_{int(j)}" for i, j in zip(np.floor(px / cell_m), np.floor(py / cell_m))]
        return np.array([lookup.get(k, -1) for k in keys], dtype=np.int64)
    tree = shapely.STRtree(cells.to_numpy())
    pts = shapely.points(px, py)
    pairs = tree.query(pts, predicate="within")
    out = np.full(px.size, -1, dtype=np.int64)
    out[pairs[0][::-1]] = pairs[1][::-1]  # a point on a shared edge goes to its first cell
    return out


def building_clusters(
    buildings: gpd.GeoDataFrame,
    *,
    crs: str,
    boundary: gpd.GeoSeries,
    gap_m: float = DEFAULT_GAP_M,
    **population_options: Any,
) -> gpd.GeoDataFrame:
    """Residential footprints grouped into clusters, one origin per cluster (module docstring).

    ``population_options`` go to :func:`accessibility.population.from_buildings`.
    """
    from . import population

    mask = population.residential_mask(
        buildings, include_yes=population_options.get("include_yes", False)
    )
    res = buildings.loc[mask]
    if res.empty:
        return _empty()
    pop = population.from_buildings(res, crs=crs, **population_options)
    feet = res.loc[pop.index].to_crs(crs)
    area = boundary.to_crs(crs).iloc[0]
    grown = shapely.union_all(feet.geometry.buffer(gap_m / 2.0).to_numpy())
    blobs = list(getattr(grown, "geoms", [grown]))
    tree = shapely.STRtree(blobs)
    centres = pop.to_crs(crs).geometry
    owner = tree.query(centres.to_numpy(), predicate="within")
    cluster = np.full(len(centres), -1, dtype=np.int64)
    cluster[owner[0]] = owner[1]
    missing = cluster < 0  # a centroid outside its own grown footprint (odd shapes)
    if missing.any():
        cluster[missing] = tree.nearest(centres.to_numpy()[missing])
    w = pop["population"].to_numpy(float)
    x, y = centres.x.to_numpy(), centres.y.to_numpy()
    n = len(blobs)
    total = np.bincount(cluster, weights=w, minlength=n)
    cx = np.bincount(cluster, weights=w * x, minlength=n) / np.where(total > 0, total, 1)
    cy = np.bincount(cluster, weights=w * y, minlength=n) / np.where(total > 0, total, 1)
    names = (
        feet["name"].fillna("").astype(str).to_numpy() if "name" in feet else np.full(len(feet), "")
    )
    keep = [k for k in range(n) if total[k] > 0 and shapely.contains_xy(area, cx[k], cy[k])]
    label = []
    for k in keep:
        named = [s for s in names[cluster == k] if s]
        label.append(pd.Series(named).mode().iloc[0] if named else "")
    pts = gpd.GeoSeries(shapely.points(cx[keep], cy[keep]), crs=crs).to_crs(4326)
    out = _frame(
        [f"b{k}" for k in range(len(keep))], label, BUILDINGS_LEVEL, total[keep], pts.to_numpy()
    )
    # how far footprints x storeys hold (storeys guessed where untagged): see population.reliability
    out.attrs["population_confidence"] = population.reliability(pop).attrs["confidence"]
    return out


#: Column pairs a CSV of origins may hold its WGS-84 coordinates in (first found wins).
CSV_COORDINATES = (("lon", "lat"), ("longitude", "latitude"), ("x", "y"), ("经度", "纬度"))


def _read_csv(path: Path) -> gpd.GeoDataFrame:
    """A CSV of points with WGS-84 longitude/latitude columns (:data:`CSV_COORDINATES`)."""
    table = pd.read_csv(path, encoding="utf-8-sig")
    columns = {str(c).strip().lower(): c for c in table.columns}
    for lon, lat in CSV_COORDINATES:
        if lon in columns and lat in columns:
            x = pd.to_numeric(table[columns[lon]], errors="coerce")
            y = pd.to_numeric(table[columns[lat]], errors="coerce")
            bad = ~(x.between(-180, 180) & y.between(-90, 90))
            if bad.any():
                rows = (table.index[bad][:5] + 2).tolist()  # line numbers, after the header
                msg = f"origins file {path}: rows {rows} have no WGS-84 longitude/latitude in {lon}/{lat}"
                raise ValidationError(msg)
            return gpd.GeoDataFrame(table, geometry=gpd.points_from_xy(x, y), crs=4326)
    pairs = ", ".join("/".join(p) for p in CSV_COORDINATES)
    msg = (
        f"origins file {path} has no coordinate columns; name them one of {pairs} (WGS-84 degrees)"
    )
    raise ValidationError(msg)


def from_file(
    source: Path | str | gpd.GeoDataFrame, *, boundary: gpd.GeoSeries
) -> gpd.GeoDataFrame:
    """Origins from a point file or GeoDataFrame (``name`` and ``population`` optional).

    Any file GDAL reads with its CRS (GeoPackage, GeoJSON, shapefile…), or a CSV with
    WGS-84 longitude/latitude columns (:data:`CSV_COORDINATES`).
    """
    if isinstance(source, gpd.GeoDataFrame):
        gdf = source.copy()
    else:
        path = Path(source)
        if not path.is_file():
            msg = f"origins file {path} does not exist"
            raise DataSourceError(msg)
        gdf = _read_csv(path) if path.suffix.lower() == ".csv" else gpd.read_file(path)
    if gdf.crs is None:
        msg = f"origins {source!r} have no coordinate reference system; save them with one (e.g. EPSG:4326)"
        raise ValidationError(msg)
    gdf = gdf.to_crs(4326)
    if not (gdf.geometry.geom_type == "Point").all():
        gdf = gdf.set_geometry(gdf.geometry.representative_point())
    inside = gdf.within(boundary.to_crs(4326).iloc[0])
    if (~inside).any():
        log.info(
            "origins file: %d of %d points lie outside the boundary and are left out",
            int((~inside).sum()),
            len(gdf),
        )
    gdf = gdf.loc[inside]
    if "population" in gdf:
        pop = pd.to_numeric(gdf["population"], errors="coerce").to_numpy(float)
    else:
        pop = np.full(len(gdf), np.nan)
    names = gdf["name"].fillna("").astype(str).tolist() if "name" in gdf else [""] * len(gdf)
    ids = [str(i) for i in gdf.index] if gdf.index.is_unique else [f"p{i}" for i in range(len(gdf))]
    return _frame(ids, names, FILE_LEVEL, pop, gdf.geometry.to_numpy())


def choose(
    spec: Any,
    *,
    places: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    boundary: gpd.GeoSeries,
    crs: str,
    levels: Any,
    population: gpd.GeoDataFrame | None = None,
    grid_m: float = DEFAULT_GRID_M,
    village_registry: bool = False,
) -> Origins:
    """Origins of the chosen kind (see the module docstring).

    With ``village_registry`` (the region lists its villages officially), ``auto`` and
    ``villages`` take the mapped villages — possibly none — which the caller replaces
    by the registry's: a grid is never built in their place.

    Raises
    ------
    ValidationError
        An unknown choice, or a choice that finds no origin; the message says what
        the data hold and which choice would work.
    """
    kind = check_spec(spec)
    counts = (
        places["place"].astype(str).value_counts() if "place" in places else pd.Series(dtype=int)
    )
    vill = villages(places, levels)
    from .population import residential_mask

    found = {
        "villages": len(vill),
        **{f"place={k}": int(v) for k, v in counts.items() if k},
        "residential_footprints": int(residential_mask(buildings).sum()) if len(buildings) else 0,
        "population_points": 0 if population is None else len(population),
    }
    level_text = ", ".join(levels)
    if village_registry and kind in ("auto", "villages"):
        reason = f"{'auto' if kind == 'auto' else 'chosen'}: villages from the village registry"
        return Origins(table=vill, kind="villages", reason=reason, found=found)
    if kind == "auto":
        if len(vill) >= AUTO_MIN_VILLAGES:
            kind, reason = (
                "villages",
                f"auto: {len(vill)} settlements of levels {level_text} in the area",
            )
        else:
            kind = "grid"
            reason = (
                f"auto: {len(vill)} settlements of levels {level_text} (fewer than {AUTO_MIN_VILLAGES}); "
                f"a {grid_m:g} m population grid instead"
            )
    else:
        reason = f"chosen: {kind}"
    if kind == "villages":
        table = vill
    elif kind == "places":
        table = all_places(places)
    elif kind in ("grid", "h3"):
        table = grid(
            boundary,
            crs=crs,
            cell_m=grid_m,
            population=population,
            shape="h3" if kind == "h3" else "square",
        )
        if population is None or not len(population):
            reason += "; no population data: every cell counts, population unknown"
        else:
            if "population_source" in population.attrs:
                reason += f"; population from {population.attrs['population_source']}"
            n_cells = int(table.attrs.get("cells_in_area", len(table)))
            found.update(grid_cells=n_cells, grid_cells_with_residents=len(table))
            reason += (
                f"; {len(table)} of {n_cells} cells hold residents (the others none that the "
                "data show)"
            )
    elif kind == "buildings":
        table = building_clusters(buildings, crs=crs, boundary=boundary)
    else:
        table = from_file(spec, boundary=boundary)
        reason = f"chosen: the file {spec if not isinstance(spec, gpd.GeoDataFrame) else 'given'}"
    if table.empty:
        hint = {
            "villages": "origins='places', 'grid' or 'auto'",
            "places": "origins='grid' or 'buildings'",
            "buildings": "origins='grid' or 'places'",
        }.get(kind, "another origins choice")
        what = kind if kind != "villages" else f"settlements of levels [{level_text}]"
        msg = f"no origins: 0 {what} inside the boundary (the data hold {found_text(found)}); use {hint}"
        raise ValidationError(msg)
    estimate = ""
    if kind == "buildings" and table.attrs.get("population_confidence") == "low":
        estimate = "low_confidence"
    if kind in ("grid", "h3") and population is not None and len(population):
        if population.attrs.get("population_source") == "landuse":
            estimate = "landuse"
        elif population.attrs.get("population_confidence") == "low":
            estimate = "low_confidence"
    return Origins(table=table, kind=kind, reason=reason, found=found, estimate=estimate)
