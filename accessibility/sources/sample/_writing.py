"""The built county as file contents: the OSM XML (nodes shared at junctions, ids in
order, tags sorted), the boundary GeoJSON, the metadata with its counts, and the
population raster drawn from its own random stream. In: a built :class:`_Builder`;
out: bytes and dictionaries, nothing written to disk."""

from __future__ import annotations

import hashlib
import json
import math
from itertools import pairwise
from typing import Any
from xml.sax.saxutils import quoteattr

import numpy as np
import pyproj
import shapely
from scipy.spatial import cKDTree
from shapely.geometry import MultiPoint, Polygon

from ._builder import _Builder
from ._constants import (
    BOUNDARY_FILENAME,
    COUNTY_NAME,
    COUNTY_NAME_EN,
    GENERATOR_VERSION,
    ORIGIN_LAT,
    ORIGIN_LON,
    OSM_FILENAME,
    OSM_GENERATOR,
    POPULATION_CELL_DEG,
    POPULATION_NODATA,
    SYNTHETIC_NOTE,
    XY,
)
from ._geometry import _to_lonlat


class _NodeTable:
    """OSM nodes in id order; road vertices with equal coordinates share one node."""

    def __init__(self) -> None:
        self.xy: list[XY] = []
        self.tags: list[dict[str, str] | None] = []
        self._shared: dict[tuple[str, XY], int] = {}

    def shared(self, space: str, p: XY) -> int:
        key = (space, p)
        nid = self._shared.get(key)
        if nid is None:
            nid = self.new(p)
            self._shared[key] = nid
        return nid

    def new(self, p: XY, tags: dict[str, str] | None = None) -> int:
        self.xy.append(p)
        self.tags.append(tags)
        return len(self.xy)


def _render(c: _Builder) -> tuple[bytes, bytes, dict[str, Any]]:
    nodes = _NodeTable()
    ways: list[tuple[list[int], dict[str, str]]] = []

    # boundary: the ring split into a few ways, as real boundaries are
    ring = c.boundary_ring
    n_parts = 5
    cuts = [round(k * len(ring) / n_parts) for k in range(n_parts)] + [len(ring)]
    boundary_way_ids: list[int] = []
    for s, e in pairwise(cuts):
        pts = [ring[k % len(ring)] for k in range(s, e + 1)]
        ids = [nodes.shared("boundary", p) for p in pts]
        ways.append((ids, {"boundary": "administrative", "admin_level": "6"}))
        boundary_way_ids.append(len(ways))
    # river
    ways.append(
        (
            [nodes.shared("river", p) for p in c.river_coords],
            {"waterway": "river", "name": "清水河", "name:en": "Qingshui River"},
        )
    )
    # roads
    road_counts: dict[str, int] = {}
    oneway = 0
    for w in c.roads:
        ids = [nodes.shared("road", p) for p in w.coords]
        ways.append((ids, w.tags))
        hw = w.tags["highway"]
        road_counts[hw] = road_counts.get(hw, 0) + 1
        oneway += w.tags.get("oneway") == "yes"
    # closed non-road ways
    for k, w in enumerate(c.areas):
        ids = [nodes.shared(f"area{k}", p) for p in w.coords]
        ways.append((ids, w.tags))
    # places
    cs = c.cs
    cs_node = nodes.new(
        cs.centre or cs.xy,
        {
            "place": "town",
            "capital": "6",
            "name": cs.name,
            "name:en": cs.name_en,
            "population": str(cs.population),
            "note": "county seat of 示例县 (synthetic)",
        },
    )
    for t in c.townships:
        nodes.new(
            t.centre or t.xy,
            {
                "place": t.place,
                "capital": "8",
                "name": t.name,
                "name:en": t.name_en,
                "population": str(t.population),
            },
        )
    for v in c.villages:
        nodes.new(v.xy, {"place": "village", "name": v.name, "population": str(v.population)})
    for p, name in c.hamlets:
        nodes.new(p, {"place": "hamlet", "name": name})
    for p, tags in c.pois:
        nodes.new(p, tags)

    relation_tags = {
        "type": "boundary",
        "boundary": "administrative",
        "admin_level": "6",
        "name": COUNTY_NAME,
        "name:zh": COUNTY_NAME,
        "name:en": COUNTY_NAME_EN,
        "note": SYNTHETIC_NOTE,
    }
    members = [("way", wid, "outer") for wid in boundary_way_ids] + [
        ("node", cs_node, "admin_centre")
    ]

    xy = np.asarray(nodes.xy)
    lon, lat = _to_lonlat(xy)
    lon_s = [f"{v:.7f}" for v in lon]
    lat_s = [f"{v:.7f}" for v in lat]
    minlon, maxlon = min(float(s) for s in lon_s), max(float(s) for s in lon_s)
    minlat, maxlat = min(float(s) for s in lat_s), max(float(s) for s in lat_s)

    out: list[str] = ["<?xml version='1.0' encoding='UTF-8'?>"]
    out.append(f'<osm version="0.6" generator={quoteattr(OSM_GENERATOR)}>')
    out.append(
        f' <bounds minlat="{minlat:.7f}" minlon="{minlon:.7f}" maxlat="{maxlat:.7f}" maxlon="{maxlon:.7f}"/>'
    )
    for k, tags in enumerate(nodes.tags):
        head = f' <node id="{k + 1}" version="1" lat="{lat_s[k]}" lon="{lon_s[k]}"'
        if not tags:
            out.append(head + "/>")
            continue
        out.append(head + ">")
        out.extend(_tag_lines(tags))
        out.append(" </node>")
    for k, (ids, tags) in enumerate(ways):
        out.append(f' <way id="{k + 1}" version="1">')
        out.extend(f'  <nd ref="{n}"/>' for n in ids)
        out.extend(_tag_lines(tags))
        out.append(" </way>")
    out.append(' <relation id="1" version="1">')
    out.extend(f'  <member type="{t}" ref="{r}" role={quoteattr(role)}/>' for t, r, role in members)
    out.extend(_tag_lines(relation_tags))
    out.append(" </relation>")
    out.append("</osm>")
    osm_bytes = ("\n".join(out) + "\n").encode("utf-8")

    # boundary GeoJSON (counter-clockwise exterior ring, closed)
    bxy = np.asarray(c.boundary_ring)
    blon, blat = _to_lonlat(bxy)
    coords = [[round(float(x), 7), round(float(y), 7)] for x, y in zip(blon, blat)]
    if Polygon(coords).exterior.is_ccw is False:
        coords.reverse()
    coords.append(coords[0])
    feature = {
        "type": "Feature",
        "properties": {
            "name": COUNTY_NAME,
            "name_zh": COUNTY_NAME,
            "name_en": COUNTY_NAME_EN,
            "admin_level": 6,
            "synthetic": True,
            "seed": c.seed,
            "generator_version": GENERATOR_VERSION,
            "note": SYNTHETIC_NOTE,
        },
        "geometry": {"type": "Polygon", "coordinates": [coords]},
    }
    boundary_bytes = (json.dumps(feature, ensure_ascii=False) + "\n").encode("utf-8")

    # area in the UTM zone of the centroid
    poly = Polygon(coords)
    zone = int((poly.centroid.x + 180) // 6) + 1
    epsg = 32600 + zone
    to_utm = pyproj.Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True)
    area_km2 = round(
        shapely.transform(poly, lambda a: np.column_stack(to_utm.transform(a[:, 0], a[:, 1]))).area
        / 1e6,
        2,
    )

    far = _far_villages(c)
    counts: dict[str, Any] = {
        "nodes": len(nodes.xy),
        "ways": len(ways),
        "relations": 1,
        "county_seats": 1,
        "township_seats": len(c.townships),
        "towns": sum(t.place == "town" for t in c.townships),
        "xiang": sum(t.place == "village" for t in c.townships),
        "villages": len(c.villages),
        "hamlets": len(c.hamlets),
        "road_ways": sum(road_counts.values()),
        "road_ways_by_highway": dict(sorted(road_counts.items())),
        "oneway_ways": int(oneway),
        "bridges": c.counts.get("bridges", 0),
        "road_fragments": len(c.fragments),
        "villages_far_from_road": far,
        "villages_without_road_link": c.unlinked_villages,
        "buildings": c.counts.get("buildings", 0),
        "campus_polygons": c.counts.get("campus_polygons", 0),
        "bus_stops": c.counts.get("bus_stops", 0),
        "facilities": {
            k: v
            for k, v in sorted(c.counts.items())
            if k not in ("bridges", "buildings", "campus_polygons", "bus_stops")
        },
    }
    meta: dict[str, Any] = {
        "name": COUNTY_NAME,
        "name_en": COUNTY_NAME_EN,
        "synthetic": True,
        "note": SYNTHETIC_NOTE,
        "seed": c.seed,
        "generator_version": GENERATOR_VERSION,
        "files": {"osm": OSM_FILENAME, "boundary": BOUNDARY_FILENAME},
        "crs": "EPSG:4326",
        "area_km2": area_km2,
        "area_crs": f"EPSG:{epsg}",
        "bbox": [minlon, minlat, maxlon, maxlat],
        "population": {
            "county_seat": c.cs.population,
            "township_seats": sum(t.population for t in c.townships),
            "villages": sum(v.population for v in c.villages),
        },
        "counts": counts,
    }
    return osm_bytes, boundary_bytes, meta


def _population_raster(c: _Builder) -> tuple[bytes, dict[str, Any]]:
    """The county's population as a GeoTIFF (see the module docstring) and its description."""
    from affine import Affine
    from rasterio.io import MemoryFile
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng([c.seed, 1200])  # its own stream: the OSM file is unchanged
    cell = POPULATION_CELL_DEG
    lon_b, lat_b = _to_lonlat(np.asarray(c.boundary_ring))
    west = math.floor(lon_b.min() / cell - 2) * cell
    north = math.ceil(lat_b.max() / cell + 2) * cell
    width = math.ceil((lon_b.max() - west) / cell) + 2
    height = math.ceil((north - lat_b.min()) / cell) + 2
    # cell centres in a local equidistant frame (metres), for the kernels
    cols, rows = np.arange(width), np.arange(height)
    lon_c, lat_c = west + (cols + 0.5) * cell, north - (rows + 0.5) * cell
    local = pyproj.Transformer.from_crs(
        "EPSG:4326",
        f"+proj=aeqd +lat_0={ORIGIN_LAT} +lon_0={ORIGIN_LON} +datum=WGS84",
        always_xy=True,
    )
    glon, glat = np.meshgrid(lon_c, lat_c)
    gx, gy = local.transform(glon, glat)
    inside = shapely.contains_xy(
        Polygon(np.column_stack([lon_b, lat_b])), glon.ravel(), glat.ravel()
    ).reshape(glon.shape)
    grid = np.zeros((height, width))

    def spread(xy: XY, people: float, density_km2: float) -> None:
        """``people`` over a Gaussian whose 2σ disc holds them at ``density_km2`` on average."""
        sigma = max(math.sqrt(people / (4 * math.pi * density_km2 / 1e6)), 40.0)
        (lon,), (lat,) = _to_lonlat(np.asarray([xy]))
        px, py = local.transform(lon, lat)
        col, row = int((lon - west) / cell), int((north - lat) / cell)
        reach = math.ceil(2 * sigma / 75.0) + 1
        r0, r1 = max(row - reach, 0), min(row + reach + 1, height)
        c0, c1 = max(col - reach, 0), min(col + reach + 1, width)
        d2 = (gx[r0:r1, c0:c1] - px) ** 2 + (gy[r0:r1, c0:c1] - py) ** 2
        w = np.exp(-d2 / (2 * sigma**2)) * rng.lognormal(0.0, 0.15, d2.shape)
        w = np.where(inside[r0:r1, c0:c1] & (d2 <= (2 * sigma) ** 2), w, 0.0)
        if w.sum() > 0:
            grid[r0:r1, c0:c1] += people * w / w.sum()

    # the county seat: its figure in proportion to residential floor area
    floor_xy, floor_area = [], []
    for a in c.areas:
        kind = a.tags.get("building")
        if kind in ("residential", "apartments"):
            ring = Polygon(a.coords)
            floor_xy.append((ring.centroid.x, ring.centroid.y))
            floor_area.append(ring.area * float(a.tags.get("building:levels", "1")))
    if floor_xy:
        lon, lat = _to_lonlat(np.asarray(floor_xy))
        col = ((lon - west) / cell).astype(int)
        row = ((north - lat) / cell).astype(int)
        seat = np.zeros_like(grid)
        np.add.at(seat, (row, col), np.asarray(floor_area))
        # people live around their blocks, not only on the cell of the footprint
        seat = gaussian_filter(seat, sigma=1.0, truncate=2.0) * inside
        grid += c.cs.population * seat / seat.sum()
    else:
        spread(c.cs.xy, c.cs.population, 12_000.0)
    for t in c.townships:
        # evenly (with some noise) over the streets of the township seat and 250 m or more
        # around them: at most 15,000 persons per km² on average
        streets = MultiPoint([p for row in t.grid or [[t.xy]] for p in row]).convex_hull
        margin = 250.0
        while streets.buffer(margin).area < t.population / 0.015:
            margin += 50.0
        block = streets.buffer(margin)
        ring_lon, ring_lat = _to_lonlat(np.asarray(block.exterior.coords))
        cells = shapely.contains_xy(Polygon(np.column_stack([ring_lon, ring_lat])), glon, glat)
        w = np.where(cells & inside, rng.lognormal(0.0, 0.15, glon.shape), 0.0)
        if w.sum() > 0:
            grid += t.population * w / w.sum()
        else:
            spread(t.xy, t.population, 12_000.0)
    # a fifth of a village's figure lives in its natural villages (nearest village)
    village_people = np.asarray([v.population for v in c.villages], float)
    hamlet_people = np.zeros(len(c.hamlets))
    if c.hamlets:
        owner = cKDTree(np.asarray([v.xy for v in c.villages])).query(
            np.asarray([h[0] for h in c.hamlets])
        )[1]
        for k, i in enumerate(owner):
            n_h = int((owner == i).sum())
            hamlet_people[k] = 0.2 * village_people[i] / n_h
        village_people -= np.bincount(owner, weights=hamlet_people, minlength=len(c.villages))
    for v, people in zip(c.villages, village_people):
        spread(v.xy, float(people), 15_000.0)
    for (xy, _), people in zip(c.hamlets, hamlet_people):
        spread(xy, float(people), 15_000.0)
    data = np.where(inside, grid, POPULATION_NODATA).astype(np.float32)
    profile = {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "count": 1,
        "dtype": "float32",
        "crs": "EPSG:4326",
        "transform": Affine(cell, 0.0, west, 0.0, -cell, north),
        "nodata": POPULATION_NODATA,
        "compress": "deflate",
    }
    with MemoryFile() as mem:
        with mem.open(**profile) as dst:
            dst.write(data, 1)
            dst.update_tags(note=SYNTHETIC_NOTE, seed=str(c.seed), units="persons per cell")
        raster = bytes(mem.read())
    info = {
        "crs": "EPSG:4326",
        "cell_deg": cell,
        "width": width,
        "height": height,
        "nodata": POPULATION_NODATA,
        "total": round(float(data[inside].astype(float).sum()), 1),
        "populated_cells": int((data > 0).sum()),
        "sha256": hashlib.sha256(raster).hexdigest(),
    }
    return raster, info


def _tag_lines(tags: dict[str, str]) -> list[str]:
    return [f"  <tag k={quoteattr(k)} v={quoteattr(str(tags[k]))}/>" for k in sorted(tags)]


def _far_villages(c: _Builder) -> int:
    """Number of villages whose place node is more than 300 m from every road segment."""
    rows = [[p[0], p[1], q[0], q[1]] for w in c.roads for p, q in pairwise(w.coords)]
    tree = shapely.STRtree(shapely.linestrings(np.asarray(rows).reshape(-1, 2, 2)))
    pts = shapely.points(np.asarray([v.xy for v in c.villages]))
    _, dist = tree.query_nearest(pts, return_distance=True, all_matches=False)
    return int(np.sum(np.asarray(dist) > 300.0))
