"""Large polygons: cut into grid tiles of bounded area, and merge the tiles' answers.

In: a polygon in degrees (cut into tiles of at most :data:`MAX_QUERY_AREA_KM2`), or
the cached tile files. Out: the tiles, or one OSM XML file holding every element
once, sorted by type and id, with a sidecar listing the tiles.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import logging
import math
import os
import tempfile
from collections.abc import Iterator
from operator import itemgetter
from pathlib import Path
from typing import Any

import osmium
import pyproj
import shapely

from ..._errors import DataSourceError
from .fetch import _now, _tmp_name, _write_sidecar
from .query import _polygon_parts

log = logging.getLogger(__package__)

#: A polygon larger than this (km², on the WGS-84 ellipsoid) is downloaded in tiles.
MAX_QUERY_AREA_KM2 = 2500.0
#: Sub-folder of the cache folder that keeps the tiles of large polygons.
TILE_DIR = "overpass_tiles"

_TYPE_ORDER = {"n": 0, "w": 1, "r": 2}
_GEOD = pyproj.Geod(ellps="WGS84")


# --------------------------------------------------------------------------- tiles


def _area_km2(geom: shapely.Geometry) -> float:
    area_m2, _ = _GEOD.geometry_area_perimeter(geom)
    return abs(area_m2) / 1e6


def _tiles(geom: shapely.Geometry, max_area_km2: float) -> list[shapely.Geometry]:
    """Cut ``geom`` (degrees) along a grid of cells of at most ``max_area_km2`` each."""
    if _area_km2(geom) <= max_area_km2:
        return [geom]
    minx, miny, maxx, maxy = geom.bounds
    side_km = math.sqrt(max_area_km2)
    # a degree of longitude is widest at the latitude nearest the equator
    nearest_equator = 0.0 if miny <= 0.0 <= maxy else min(abs(miny), abs(maxy))
    km_per_deg_lon = 111.320 * math.cos(math.radians(nearest_equator))
    km_per_deg_lat = 111.694  # the longest degree of latitude (at the poles)
    nx = max(1, math.ceil((maxx - minx) * km_per_deg_lon / side_km))
    ny = max(1, math.ceil((maxy - miny) * km_per_deg_lat / side_km))
    dx, dy = (maxx - minx) / nx, (maxy - miny) / ny
    tiles = []
    for j in range(ny):
        for i in range(nx):
            cell = shapely.box(
                minx + i * dx, miny + j * dy, minx + (i + 1) * dx, miny + (j + 1) * dy
            )
            parts = [p for p in _polygon_parts(geom.intersection(cell)) if p.area > 0]
            if parts:
                tiles.append(parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts))
    return tiles


# --------------------------------------------------------------------------- merge


def _merge(tile_paths: list[Path], dest: Path, *, query: str, endpoint: str) -> None:
    """Merge tile files into one OSM XML file, each element once, sorted by type and id.

    Each tile is sorted (and de-duplicated) on its own with pyosmium's
    ``MergeInputReader`` into a temporary PBF file; the sorted files are then merged
    as streams, so memory holds one tile at a time.
    """
    counts = {"n": 0, "w": 0, "r": 0}
    duplicates = 0
    tmp = _tmp_name(dest)
    try:
        with tempfile.TemporaryDirectory(prefix=f".{dest.stem}.merge-", dir=dest.parent) as work:
            sorted_files = []
            for number, path in enumerate(tile_paths):
                out = Path(work) / f"tile{number:04d}.osm.pbf"
                reader = osmium.MergeInputReader()
                try:
                    reader.add_file(str(path))
                    writer = osmium.SimpleWriter(str(out))
                    try:
                        reader.apply(writer, simplify=True)
                    finally:
                        writer.close()
                except RuntimeError as exc:
                    msg = f"cannot read the cached Overpass tile {path}: {exc}; delete it and run again"
                    raise DataSourceError(msg) from exc
                del reader
                sorted_files.append(out)

            header = osmium.io.Header()
            header.set("generator", "accessibility.sources.overpass (merged Overpass tiles)")
            writer = osmium.SimpleWriter(osmium.io.File(str(tmp), "osm"), header=header)
            try:
                previous: tuple[int, int] | None = None
                streams = [_sorted_elements(p) for p in sorted_files]
                for key, obj in heapq.merge(*streams, key=itemgetter(0)):
                    if key == previous:
                        duplicates += 1
                        continue
                    previous = key
                    writer.add(obj)
                    counts[obj.type_str()] += 1
            finally:
                writer.close()
        digest = hashlib.sha256()
        with open(tmp, "rb") as fh:
            while block := fh.read(1 << 22):
                digest.update(block)
        size = tmp.stat().st_size
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    tiles_meta = []
    for path in tile_paths:
        side = path.with_suffix(".json")
        base = (
            json.loads(side.read_text(encoding="utf-8")).get("osm_base") if side.is_file() else None
        )
        tiles_meta.append({"file": f"{TILE_DIR}/{path.name}", "osm_base": base})
    _write_sidecar(
        dest,
        {
            "query": query,
            "url": endpoint,
            "timestamp": _now(),
            "bytes": size,
            "sha256": digest.hexdigest(),
            "tiles": tiles_meta,
            "elements": {"nodes": counts["n"], "ways": counts["w"], "relations": counts["r"]},
        },
    )
    log.info(
        "Overpass: merged %d tiles into %s: %d nodes, %d ways, %d relations "
        "(%d duplicates dropped, %s bytes)",
        len(tile_paths),
        dest,
        counts["n"],
        counts["w"],
        counts["r"],
        duplicates,
        f"{size:,}",
    )


def _sorted_elements(path: Path) -> Iterator[tuple[tuple[int, int], Any]]:
    for obj in osmium.FileProcessor(str(path)):
        yield (_TYPE_ORDER[obj.type_str()], obj.id), obj
