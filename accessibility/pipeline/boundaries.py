"""The boundary of a region or unit, and the area whose data it reads.

In:  a region's (or unit's) boundary specification: a file, a box, a circle or an OSM
     administrative boundary looked up in an extract or on Overpass. Out: the boundary
     polygon (:func:`study_area`, cached under ``boundaries/``), the clip area with
     ``buffer_m`` (:func:`clip_area`) and many units' boundaries found in one read of an
     extract (:func:`prefetch_boundaries`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import shapely

from .. import export, regions
from .._errors import DataSourceError, ValidationError
from .inputs import _sample_files

log = logging.getLogger(__package__)


def boundary_spec(region: regions.Region, unit: regions.Unit | None) -> dict[str, Any]:
    """The boundary specification of a region or of one of its units.

    A unit without a boundary of its own is looked up as an OSM administrative
    boundary with its name at admin level 6, except a generated (``sample``) unit,
    whose boundary is the ``boundary.geojson`` generated in its raw folder.
    """
    if unit is not None and not unit.boundary and not region.per_unit and region.boundary:
        unit = None  # the only unit of a region is the region itself
    if unit is None:
        if not region.boundary:
            if region.units and all(u.source for u in region.units):
                codes = ", ".join(u.code for u in region.units)
                msg = (
                    f"region {region.name!r} is a group of units with data of their own and has "
                    f"no boundary as a whole; prepare one unit at a time (unit= one of {codes})"
                )
            else:
                msg = f"region {region.name!r} has no boundary; add one to {region.config_path}"
            raise ValidationError(msg)
        return region.boundary
    if not unit.boundary and unit.source.get("kind") == "sample":
        from ..sources import sample

        return {"file": sample.BOUNDARY_FILENAME}
    return unit.boundary or {"osm": {"name": unit.name, "admin_level": "6"}}


def study_area(
    region: regions.Region,
    unit: regions.Unit | None = None,
    *,
    osm_file: Path | str | None = None,
    offline: bool = False,
) -> gpd.GeoSeries:
    """The polygon (WGS-84, one row) a region or unit covers, from its boundary specification.

    OSM administrative boundaries are looked up in ``osm_file`` when given, else
    downloaded; the result is cached under ``data/processed/<region>/boundaries/``
    (``data/processed/<region>/<code>/boundaries/`` for a unit with its own source).
    Boundary files are read from the raw folder (:meth:`Region.raw_dir_of`).
    ``expand_m`` grows the polygon in the metric CRS of its location.
    """
    spec = boundary_spec(region, unit)
    if region.source_of(unit).get("kind") == "sample":
        _sample_files(region, unit)  # the sample's boundary file is generated with it
    if "file" in spec:
        polygon = read_boundary(region.raw_dir_of(unit) / spec["file"])
    elif "bbox" in spec:
        w, s, e, n = (float(v) for v in spec["bbox"])
        polygon = gpd.GeoSeries([shapely.box(w, s, e, n)], crs=4326)
    elif "circle" in spec:
        c = spec["circle"]
        centre = gpd.GeoSeries([shapely.Point(float(c["lon"]), float(c["lat"]))], crs=4326)
        crs = regions.metric_crs(centre.iloc[0])
        polygon = centre.to_crs(crs).buffer(float(c["radius_m"]), quad_segs=32).to_crs(4326)
    else:
        polygon = _osm_boundary(region, spec["osm"], unit=unit, osm_file=osm_file, offline=offline)
    expand = float(spec.get("expand_m", 0) or 0)
    if expand:
        crs = regions.metric_crs(polygon.iloc[0])
        polygon = polygon.to_crs(crs).buffer(expand).to_crs(4326)
    return gpd.GeoSeries([polygon.iloc[0]], crs=4326)


def clip_area(
    region: regions.Region,
    unit: regions.Unit | None = None,
    *,
    osm_file: Path | str | None = None,
    offline: bool = False,
    crs: str | None = None,
) -> tuple[gpd.GeoSeries, shapely.Geometry, str]:
    """The area whose OSM data a region or unit reads: its boundary plus ``buffer_m``.

    :func:`prepare` reads :func:`load_osm` inside this polygon, and a batch clips it
    ahead of the kernels (:mod:`accessibility.batch`), so both must compute it here.

    Parameters
    ----------
    region, unit
        As in :func:`study_area` (``osm_file`` is where OSM boundaries are looked up;
        :func:`prepare` passes the region's own extract when its source is one).
    crs
        Metric CRS (metres) the buffer is drawn in; default the UTM zone of the
        boundary's centroid (:func:`accessibility.regions.metric_crs`).

    Returns
    -------
    tuple
        The boundary (WGS-84 GeoSeries, one row), the clip polygon (WGS-84 degrees:
        the boundary buffered by the region's ``buffer_m`` metres in ``crs``) and the
        CRS used.
    """
    boundary = study_area(region, unit, osm_file=osm_file, offline=offline)
    if crs is None:
        crs = regions.metric_crs(boundary.iloc[0])
    clip = boundary.to_crs(crs).buffer(region.buffer_m).to_crs(4326).iloc[0]
    return boundary, clip, crs


def _boundary_criteria(query: dict[str, Any]) -> dict[str, list[Any]]:
    """A region file's ``osm:`` boundary query as the criteria of
    :func:`accessibility.sources.extract.find_boundaries`."""
    names = [str(n) for n in ([query["name"]] if "name" in query else query.get("names", []))]
    return {
        "names": names,
        "admin_levels": [str(query["admin_level"])] if "admin_level" in query else [],
        "refs": [str(query["ref"])] if "ref" in query else [],
        "relations": [int(query["relation"])] if "relation" in query else [],
    }


def _boundary_cache(
    region: regions.Region,
    query: dict[str, Any],
    unit: regions.Unit | None,
    osm_file: Path | str | None,
) -> Path:
    """Where the boundary found for ``query`` is kept: it depends on where it is looked
    up, the extract (its identity) or Overpass."""
    c = _boundary_criteria(query)
    if osm_file is not None:
        from ..sources import extract

        where_key = extract.source_identity(osm_file)
    else:
        where_key = "overpass"
    criteria = [c["names"], c["admin_levels"], c["refs"], where_key]
    if c["relations"]:
        criteria.append(c["relations"])
    key = hashlib.sha256(json.dumps(criteria, ensure_ascii=False).encode()).hexdigest()[:12]
    own = unit is not None and bool(unit.source)
    base = region.processed_dir / unit.code if own else region.processed_dir
    return base / "boundaries" / f"boundary_{key}.geojson"


def _osm_boundary(
    region: regions.Region,
    query: dict[str, Any],
    *,
    unit: regions.Unit | None = None,
    osm_file: Path | str | None,
    offline: bool,
) -> gpd.GeoSeries:
    c = _boundary_criteria(query)
    cache = _boundary_cache(region, query, unit, osm_file)
    if cache.is_file():
        return read_boundary(cache)
    if osm_file is not None:
        from ..sources import extract

        found = extract.find_boundaries(Path(osm_file), **c)
        where = f"the extract {osm_file}"
    else:
        from ..sources import overpass

        found = overpass.find_boundaries(
            names=c["names"],
            admin_levels=c["admin_levels"],
            refs=c["refs"],
            cache_dir=region.raw_dir_of(unit) / "overpass",
            offline=offline,
        )
        where = "OpenStreetMap (Overpass)"
        if c["relations"]:  # Overpass is asked by name; the relation id picks among namesakes
            incomplete = found.attrs.get("incomplete", [])
            found = found[found["osm_id"].isin(c["relations"])]
            found.attrs["incomplete"] = [r for r in incomplete if r["osm_id"] in c["relations"]]
    polygon = _one_boundary(region, found, c, where)
    cache.parent.mkdir(parents=True, exist_ok=True)
    export.write_geojson(cache, polygon)
    return polygon


def _one_boundary(
    region: regions.Region, found: gpd.GeoDataFrame, c: dict[str, list[Any]], where: str
) -> gpd.GeoSeries:
    """The one boundary ``found`` for criteria ``c``; none, several, or one that could
    not be assembled raise a :class:`DataSourceError` saying what to do."""
    names, levels, refs, relations = c["names"], c["admin_levels"], c["refs"], c["relations"]
    if found.empty and found.attrs.get("incomplete"):
        from ..sources import extract

        msg = extract.incomplete_message(
            found.attrs["incomplete"], where=where, config=region.config_path
        )
        raise DataSourceError(msg)
    if found.empty:
        which = f"{names or refs}" + (f" with relation id {relations[0]}" if relations else "")
        msg = (
            f"no administrative boundary named {which} (admin_level {levels or 'any'}) in {where}; "
            f"check the name in {region.config_path}, or give the boundary as a file: boundary: {{file: x.geojson}}"
        )
        raise DataSourceError(msg)
    if len(found) > 1:
        listed = "; ".join(
            f"relation {r.osm_id} {r.name} (admin_level {r.admin_level})"
            for r in found.itertuples()
        )
        msg = f"several boundaries match {names or refs} in {where}: {listed}; add admin_level or ref to the region file"
        raise DataSourceError(msg)
    return gpd.GeoSeries([found.geometry.iloc[0]], crs=4326)


def prefetch_boundaries(
    region: regions.Region,
    units: Sequence[regions.Unit | None],
    osm_file: Path | str,
) -> list[str]:
    """Look up the OSM boundaries of many units in one read of ``osm_file``.

    A province batch needs some 160 county boundaries from one extract; looked up one
    by one, each reads the whole province file (three passes). Here every unit whose
    boundary is an OSM query (``boundary_spec``) and not yet kept is looked up at
    once (:func:`accessibility.sources.extract.find_boundaries_many`) and kept where
    :func:`study_area` finds it, so each run reads its boundary from the cache. A
    unit whose boundary is missing, ambiguous or incomplete is left out: its run
    looks it up and says why.

    Returns
    -------
    list of str
        The codes of the units (``""``: the region as a whole) whose boundary was
        kept now.
    """
    from ..sources import extract

    pending: dict[str, tuple[dict[str, Any], Path]] = {}
    for unit in units:
        try:
            spec = boundary_spec(region, unit)
        except ValidationError:
            continue
        if "osm" not in spec:
            continue
        cache = _boundary_cache(region, spec["osm"], unit, osm_file)
        if not cache.is_file():
            pending[unit.code if unit is not None else ""] = (spec["osm"], cache)
    if not pending:
        return []
    queries = {code: _boundary_criteria(query) for code, (query, _) in pending.items()}
    found = extract.find_boundaries_many(Path(osm_file), queries)
    kept: list[str] = []
    for code, (_, cache) in pending.items():
        try:
            polygon = _one_boundary(region, found[code], queries[code], f"the extract {osm_file}")
        except DataSourceError as exc:
            log.info("%s: boundary left to the run (%s)", code or region.name, exc)
            continue
        cache.parent.mkdir(parents=True, exist_ok=True)
        export.write_geojson(cache, polygon)
        kept.append(code)
    log.info("%d of %d boundaries found in one read of %s", len(kept), len(pending), osm_file)
    return kept


def read_boundary(path: Path | None) -> gpd.GeoSeries:
    """Read a boundary file (GeoJSON, GeoPackage…) as one WGS-84 polygon."""
    if path is None or not Path(path).is_file():
        msg = f"boundary file not found: {path}; add it under data/raw/<region>/ or set 'boundary.file' in the region config"
        raise DataSourceError(msg)
    gdf = gpd.read_file(path)
    if gdf.empty:
        msg = f"boundary file {path} holds no geometry"
        raise DataSourceError(msg)
    if gdf.crs is None:
        gdf = gdf.set_crs(4326)
    geom = shapely.union_all(gdf.to_crs(4326).geometry.to_numpy())
    return gpd.GeoSeries([geom], crs=4326)
