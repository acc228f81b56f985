"""Reading OpenStreetMap files (``.osm``, ``.osm.pbf``) into the package's tables.

Design
------
In:  a local OSM file — a real extract or the generated sample county — read once,
     streaming, with pyosmium (node locations cached by libosmium, not in Python).
Out: :class:`OsmData`:

- ``roads`` — :class:`~accessibility.network.RoadData`: one row per consecutive node
  pair of every ``highway=*`` way, with the tags that routing needs (one-way,
  ``maxspeed``, one-way exemptions, access per mode, off the ground or not), and the
  coordinates of those nodes. A way cut by the extract's edge (some of its nodes
  are not in the file) keeps its segments between located nodes; such ways are
  counted in ``roads.meta["ways_clipped"]`` and logged. The outline of a pedestrian
  area (``highway=pedestrian`` + ``area=yes``) is read as class ``pedestrian_area``
  (see :data:`AREA_HIGHWAYS`); other ``area=yes`` highways are not roads;
- ``places`` — ``place=*`` nodes (WGS-84 points) with name, ``population``,
  ``capital``, ``admin_level``;
- ``buildings`` — footprints (WGS-84 polygons) of ``building=*`` closed ways and
  multipolygons, with ``building`` (the value) and ``levels`` (``building:levels``,
  NaN when untagged) — the basis of population estimates in towns;
- ``landuse`` — ``landuse=residential`` polygons (WGS-84), for population estimates
  where footprints are missing;
- ``pois`` — candidate facilities: nodes and closed or open ways tagged ``amenity``,
  ``healthcare``, ``public_transport`` or ``highway=bus_stop`` (a way is represented
  by the centroid of its nodes), with their full tags for classification.

Every table keeps OSM ids (``n123`` / ``w456`` for POIs). Nothing is classified here
(see :mod:`accessibility.classify`). An optional WGS-84 clip polygon keeps only what
lies inside it (roads: segments with at least one end inside).
Cache: with ``cache_dir``, what was read is kept as ``osm_<key>.pickle`` (a pickle of
the :class:`OsmData`, about 0.05 s to load where parsing a city of 150k road nodes and
38k buildings takes 3–4 s); the key hashes the file's content, the clip, this
module's own source and the pandas/geopandas/shapely versions, so a new file, clip,
reader or library reads afresh. Writes are atomic; an unreadable cache file is read
afresh and replaced. The cache is the project's own (``data/processed/``): it is
never read from elsewhere.
Tests: ``tests/test_osm.py`` — hand-written ``.osm`` files for every tag case; the
sample county end to end.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import logging
import os
import pickle
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import osmium
import pandas as pd
import shapely

from .._errors import DataSourceError
from ..network import RoadData
from . import sorting

log = logging.getLogger(__name__)

#: Tag keys that make an element a candidate facility.
POI_KEYS = ("amenity", "healthcare", "public_transport")
#: Tags that may exempt a one-way way for some modes (see ``rules/speeds.yml``).
EXEMPT_TAGS = ("oneway:bicycle", "cycleway")
#: Tags that may restrict a way to some modes (see ``access_tags`` in ``rules/speeds.yml``).
ACCESS_TAGS = ("access", "foot", "bicycle", "vehicle", "motor_vehicle", "motorcar", "motorroad")
#: ``highway=*`` values of ``area=yes`` ways that are read as roads, and the class
#: their outline gets: a pedestrian square's outline is walkable (its class is in the
#: walking modes' speed tables only), so walkers can cross the square's edge. Other
#: highway areas, and areas mapped as multipolygon relations, are not roads.
AREA_HIGHWAYS = {"pedestrian": "pedestrian_area"}
_ONEWAY_FORWARD = {"yes", "true", "1"}
_ONEWAY_BACKWARD = {"-1", "reverse"}


@dataclass
class OsmData:
    """What one OSM file holds for this package (see the module docstring)."""

    roads: RoadData
    places: gpd.GeoDataFrame
    pois: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    #: ``landuse=residential`` areas (WGS-84 polygons): where people live when no
    #: building footprints are mapped.
    landuse: gpd.GeoDataFrame
    fingerprint: str
    #: Set by the caller that knows the original source: its file name and date (ISO).
    source_name: str = ""
    source_date: str | None = None
    #: What ``source_date`` is: ``header``, ``osm_base`` or ``newest_object`` (a lower
    #: bound), see :mod:`accessibility.sources.dating`; ``""`` when undated.
    source_date_kind: str = ""


def file_hash(path: Path, *, chunk: int = 1 << 22) -> str:
    """Return the SHA-256 of a file's content (hex, 16 characters)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()[:16]


def parse_oneway(tags: dict[str, str]) -> int:
    """Return 1 (u→v only), -1 (v→u only) or 0 (both ways) for a way's tags."""
    value = tags.get("oneway", "").strip().lower()
    if value in _ONEWAY_FORWARD:
        return 1
    if value in _ONEWAY_BACKWARD:
        return -1
    if value == "no":
        return 0
    if tags.get("junction") in ("roundabout", "circular") or tags.get("highway") in (
        "motorway",
        "motorway_link",
    ):
        return 1
    return 0


def access_string(tags: osmium.osm.TagList | dict[str, str]) -> str:
    """Return a way's access tags as ``key=value`` pairs joined by ``;`` (``""`` when none).

    Only :data:`ACCESS_TAGS` are kept; a value is lowercased and cut at its first
    ``;`` (``"no;destination"`` → ``no``).
    """
    pairs = []
    for key in ACCESS_TAGS:
        value = tags.get(key)
        if value:
            pairs.append(f"{key}={value.split(';')[0].strip().lower()}")
    return ";".join(pairs)


def is_raised(tags: osmium.osm.TagList | dict[str, str]) -> bool:
    """Whether a way is off the ground: ``tunnel``, ``bridge`` or ``covered`` other than ``no``, or a ``layer`` other than 0."""
    if any(tags.get(key, "no").strip().lower() != "no" for key in ("tunnel", "bridge", "covered")):
        return True
    try:
        return float(tags.get("layer", "0").split(";")[0]) != 0.0
    except ValueError:
        return False


_SPEED = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(km/h|kmh|kph|mph)?\s*$", re.IGNORECASE)


def parse_maxspeed(value: str | None) -> float:
    """Return a ``maxspeed`` value in km/h, NaN when absent or not a number (e.g. ``CN:urban``)."""
    if not value:
        return float("nan")
    match = _SPEED.match(value.split(";")[0])
    if not match:
        return float("nan")
    speed = float(match.group(1))
    return speed * 1.609344 if (match.group(2) or "").lower() == "mph" else speed


_POP = re.compile(r"\d[\d,，]*")


def parse_population(value: str | None) -> float:
    """Return a ``population`` tag as a number, NaN when absent or unreadable ("约3,000人" → 3000)."""
    if not value:
        return float("nan")
    match = _POP.search(value)
    if not match:
        return float("nan")
    return float(match.group(0).replace(",", "").replace("，", ""))


def _way_names(names: dict[int, tuple[str, str]], segments: pd.DataFrame) -> pd.DataFrame:
    """The ``name`` and ``ref`` of the named ways that have a segment in ``segments``."""
    kept = set(segments["way"].unique().tolist()) if len(segments) else set()
    rows = [(w, n, r) for w, (n, r) in names.items() if w in kept]
    frame = pd.DataFrame(rows, columns=["way", "name", "ref"]).astype({"way": np.int64})
    return frame.set_index("way")


def _is_poi(tags: osmium.osm.TagList) -> bool:
    if any(k in tags for k in POI_KEYS):
        return True
    return tags.get("highway") == "bus_stop"


def read(
    path: Path | str,
    *,
    clip: shapely.Geometry | None = None,
    cache_dir: Path | str | None = None,
) -> OsmData:
    """Read an OSM file into roads, places and candidate facilities.

    Parameters
    ----------
    path
        ``.osm``, ``.osm.gz``, ``.osm.bz2`` or ``.osm.pbf`` file.
    clip
        Optional polygon in WGS-84 degrees; features outside it are left out (a road
        segment is kept when either end is inside). Pass the region boundary with its
        buffer so that villages near the edge can reach facilities just outside.
    cache_dir
        Keep what was read in this folder and read it from there next time (see the
        module docstring); ``None`` parses the file every time.

    Returns
    -------
    OsmData
        Tables in WGS-84 (EPSG:4326).
    """
    path = Path(path)
    if not path.is_file():
        msg = f"OSM file not found: {path}"
        raise DataSourceError(msg)
    fingerprint = file_hash(path)
    if clip is not None:
        fingerprint = hashlib.sha256(
            (fingerprint + shapely.to_wkb(clip, hex=True)).encode()
        ).hexdigest()[:16]
    if cache_dir is None:
        return _parse(path, clip=clip, fingerprint=fingerprint)
    cached = Path(cache_dir) / f"osm_{_cache_key(fingerprint)}.pickle"
    if cached.is_file():
        try:
            with open(cached, "rb") as fh:
                data = pickle.load(fh)
            if isinstance(data, OsmData) and data.fingerprint == fingerprint:
                log.info("read %s from its cache %s", path.name, cached.name)
                return data
        except Exception as exc:  # a damaged or foreign file: read afresh, replace it
            log.warning("cannot use the cached read %s (%s); reading %s again", cached, exc, path)
    data = _parse(path, clip=clip, fingerprint=fingerprint)
    _write_cache(data, cached)
    return data


@functools.cache
def _reader_stamp() -> str:
    """What the cached reads depend on besides the file: this module and the libraries."""
    import geopandas

    parts = [Path(__file__).read_bytes()]
    parts += [m.__version__.encode() for m in (pd, geopandas, shapely, np)]
    return hashlib.sha256(b"\0".join(parts)).hexdigest()[:16]


def _cache_key(fingerprint: str) -> str:
    return hashlib.sha256(f"{fingerprint}:{_reader_stamp()}".encode()).hexdigest()[:16]


def _write_cache(data: OsmData, path: Path) -> None:
    """Pickle ``data`` to ``path`` atomically; a failure only costs the next run a parse."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(data, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        finally:
            Path(tmp).unlink(missing_ok=True)
    except OSError as exc:
        log.warning("cannot keep what was read in %s: %s", path, exc)


def _parse(
    path: Path,
    *,
    clip: shapely.Geometry | None,
    fingerprint: str,
    sorted_from: Path | None = None,
) -> OsmData:
    """Parse ``path`` with pyosmium (see :func:`read`); ``sorted_from``: the file
    ``path`` is a sorted copy of (an order error then is final)."""

    seg_rows: list[tuple[int, int, int, str, int, float, str, str, bool]] = []
    way_names: dict[int, tuple[str, str]] = {}
    clipped_ways: list[int] = []
    node_lon: dict[int, float] = {}
    node_lat: dict[int, float] = {}
    places: list[dict[str, object]] = []
    pois: list[dict[str, object]] = []
    buildings: list[dict[str, object]] = []
    landuse: list[dict[str, object]] = []

    processor = (
        osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY | osmium.osm.AREA)
        .with_locations()
        .with_areas(osmium.filter.KeyFilter(*POI_KEYS, "place", "building", "landuse"))
    )
    try:
        for obj in processor:
            tags = obj.tags
            if obj.is_node():
                if not tags:
                    continue
                if "place" in tags:
                    places.append(_place_row("n", obj.id, obj.location.lon, obj.location.lat, tags))
                if _is_poi(tags):
                    pois.append(_poi_row("n", obj.id, obj.location.lon, obj.location.lat, tags))
                continue
            if obj.is_area():
                if tags.get("landuse") == "residential":
                    area = _area_polygon(obj)
                    if area is not None:
                        kind = "w" if obj.from_way() else "r"
                        landuse.append(
                            {
                                "id": f"{kind}{obj.orig_id()}",
                                "landuse": "residential",
                                "name": tags.get("name", ""),
                                "geometry": area,
                            }
                        )
                if "building" in tags and tags.get("building") != "no":
                    footprint = _area_polygon(obj)
                    if footprint is not None:
                        buildings.append(_building_row(obj, footprint, tags))
                # closed ways are handled as ways below; areas add multipolygon relations
                if obj.from_way() or not (_is_poi(tags) or "place" in tags):
                    continue
                centre = _area_centroid(obj)
                if centre is None:
                    continue
                if "place" in tags:
                    places.append(_place_row("r", obj.orig_id(), *centre, tags))
                if _is_poi(tags):
                    pois.append(_poi_row("r", obj.orig_id(), *centre, tags))
                continue
            # ways
            highway = tags.get("highway")
            if highway and tags.get("area") == "yes":
                highway = AREA_HIGHWAYS.get(highway)  # an area's outline, or nothing
            if highway:
                refs = [(n.ref, n.location) for n in obj.nodes]
                oneway = parse_oneway({k: v for k, v in tags})
                maxspeed = parse_maxspeed(tags.get("maxspeed"))
                exempt = ";".join(f"{k}={tags[k]}" for k in EXEMPT_TAGS if k in tags)
                access = access_string(tags)
                raised = is_raised(tags)
                if any(not loc.valid() for _, loc in refs):
                    clipped_ways.append(obj.id)
                if "name" in tags or "ref" in tags:
                    way_names[obj.id] = (tags.get("name", ""), tags.get("ref", ""))
                for (a, la), (b, lb) in itertools.pairwise(refs):
                    # a node outside the extract has no location: keep the runs of
                    # located nodes (the way's parts inside), count the way
                    if not (la.valid() and lb.valid()):
                        continue
                    seg_rows.append(
                        (obj.id, a, b, highway, oneway, maxspeed, exempt, access, raised)
                    )
                    node_lon[a], node_lat[a] = la.lon, la.lat
                    node_lon[b], node_lat[b] = lb.lon, lb.lat
            if _is_poi(tags) or "place" in tags:
                coords = [(n.location.lon, n.location.lat) for n in obj.nodes if n.location.valid()]
                if coords:
                    lon, lat = _centroid(coords)
                    if "place" in tags:
                        places.append(_place_row("w", obj.id, lon, lat, tags))
                    if _is_poi(tags):
                        pois.append(_poi_row("w", obj.id, lon, lat, tags))
    except RuntimeError as exc:  # libosmium reports corrupt input this way
        if sorting.is_order_error(exc) and sorted_from is None:  # read a sorted copy
            with tempfile.TemporaryDirectory() as tmp:
                copy = sorting.sort_file(path, Path(tmp) / "sorted.osm.pbf")
                return _parse(copy, clip=clip, fingerprint=fingerprint, sorted_from=path)
        if sorted_from is not None:
            msg = f"cannot read OSM file {sorted_from}, not even a sorted copy of it: {exc}"
        else:
            msg = f"cannot read OSM file {path}: {exc}"
        raise DataSourceError(msg) from exc

    nodes = pd.DataFrame(
        {"lon": pd.Series(node_lon, dtype=float), "lat": pd.Series(node_lat, dtype=float)}
    )
    nodes.index = nodes.index.astype(np.int64)
    nodes.index.name = "id"
    segments = pd.DataFrame(
        seg_rows,
        columns=[
            "way", "u", "v", "highway", "oneway", "maxspeed", "exempt", "access", "raised"
        ],
    )  # fmt: skip
    segments = segments.astype(
        {
            "way": np.int64,
            "u": np.int64,
            "v": np.int64,
            "oneway": np.int8,
            "maxspeed": float,
            "raised": bool,
        }
    )
    if clipped_ways:
        log.info(
            "%d highway ways cross the edge of %s (nodes missing from the file, e.g. ways %s): "
            "their parts inside are kept",
            len(clipped_ways),
            path.name,
            ", ".join(map(str, clipped_ways[:5])),
        )
    places_gdf = _frame(
        places, ["id", "name", "name_en", "place", "population", "capital", "admin_level"]
    )
    pois_gdf = _frame(pois, ["id", "osm_type", "osm_id", "name", "tags"])
    buildings_gdf = _frame(buildings, ["id", "building", "levels", "name"])
    landuse_gdf = _frame(landuse, ["id", "landuse", "name"])

    roads_in_file = not segments.empty
    if clip is not None:
        nodes, segments = clip_roads(nodes, segments, clip)
        places_gdf = places_gdf.loc[places_gdf.within(clip)]
        pois_gdf = pois_gdf.loc[pois_gdf.within(clip)]
        buildings_gdf = buildings_gdf.loc[buildings_gdf.intersects(clip)]
        landuse_gdf = landuse_gdf.loc[landuse_gdf.intersects(clip)]

    if segments.empty and not roads_in_file:
        msg = (
            f"{path} holds no road at all (no way tagged highway): it is not a full "
            "OpenStreetMap extract; use one with roads, e.g. a provincial .osm.pbf"
        )
        raise DataSourceError(msg)
    if segments.empty:
        msg = (
            f"{path} has roads, but none inside the clip area (bounds "
            f"{', '.join(f'{v:.4f}' for v in clip.bounds)}, lon/lat); is the region's "
            "boundary the right area, and does the file cover it?"
        )
        raise DataSourceError(msg)
    log.info(
        "read %s: %d road segments, %d places, %d candidate facilities, %d buildings",
        path.name,
        len(segments),
        len(places_gdf),
        len(pois_gdf),
        len(buildings_gdf),
    )
    roads = RoadData(
        nodes=nodes,
        segments=segments,
        fingerprint=fingerprint,
        meta={"ways_clipped": len(clipped_ways), "ways_clipped_ids": clipped_ways[:20]},
        ways=_way_names(way_names, segments),
    )
    return OsmData(
        roads=roads,
        places=places_gdf,
        pois=pois_gdf,
        buildings=buildings_gdf,
        landuse=landuse_gdf,
        fingerprint=fingerprint,
    )


def _centroid(coords: list[tuple[float, float]]) -> tuple[float, float]:
    if len(coords) >= 4 and coords[0] == coords[-1]:
        c = shapely.Polygon(coords).centroid
        if not c.is_empty:
            return float(c.x), float(c.y)
    arr = np.asarray(coords)
    return float(arr[:, 0].mean()), float(arr[:, 1].mean())


def _place_row(
    kind: str, osm_id: int, lon: float, lat: float, tags: osmium.osm.TagList
) -> dict[str, object]:
    return {
        "id": f"{kind}{osm_id}",
        "name": tags.get("name", ""),
        "name_en": tags.get("name:en", ""),
        "place": tags.get("place", ""),
        "population": parse_population(tags.get("population")),
        "capital": tags.get("capital", ""),
        "admin_level": tags.get("admin_level", ""),
        "geometry": shapely.Point(lon, lat),
    }


def _area_polygon(area: osmium.osm.Area) -> shapely.Geometry | None:
    """An area's footprint (outer rings minus inner rings, WGS-84), None when it has no valid ring."""
    polygons = []
    for outer in area.outer_rings():
        coords = [(n.lon, n.lat) for n in outer if n.location.valid()]
        if len(coords) < 4:
            continue
        holes = [
            [(n.lon, n.lat) for n in inner if n.location.valid()]
            for inner in area.inner_rings(outer)
        ]
        polygons.append(shapely.Polygon(coords, [h for h in holes if len(h) >= 4]))
    if not polygons:
        return None
    geom = polygons[0] if len(polygons) == 1 else shapely.MultiPolygon(polygons)
    return geom if geom.is_valid else shapely.make_valid(geom)


def _area_centroid(area: osmium.osm.Area) -> tuple[float, float] | None:
    """Centroid (lon, lat) of a multipolygon area, None when it has no valid ring."""
    geom = _area_polygon(area)
    if geom is None or geom.is_empty:
        return None
    c = geom.centroid
    return (float(c.x), float(c.y)) if not c.is_empty else None


def _building_row(
    area: osmium.osm.Area, footprint: shapely.Geometry, tags: osmium.osm.TagList
) -> dict[str, object]:
    kind = "w" if area.from_way() else "r"
    levels = parse_population(tags.get("building:levels"))  # same number parsing
    return {
        "id": f"{kind}{area.orig_id()}",
        "building": tags.get("building", "yes"),
        "levels": levels,
        "name": tags.get("name", ""),
        "geometry": footprint,
    }


def _poi_row(
    kind: str, osm_id: int, lon: float, lat: float, tags: osmium.osm.TagList
) -> dict[str, object]:
    return {
        "id": f"{kind}{osm_id}",
        "osm_type": {"n": "node", "w": "way", "r": "relation"}[kind],
        "osm_id": int(osm_id),
        "name": tags.get("name", ""),
        "tags": {k: v for k, v in tags},
        "geometry": shapely.Point(lon, lat),
    }


def _frame(rows: list[dict[str, object]], columns: list[str]) -> gpd.GeoDataFrame:
    if rows:
        frame = pd.DataFrame(rows)
    else:
        frame = pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
        frame["geometry"] = pd.Series(dtype=object)
    gdf = gpd.GeoDataFrame(frame, geometry="geometry", crs=4326)
    gdf = gdf.drop_duplicates("id").set_index("id")
    return gdf


def clip_roads(
    nodes: pd.DataFrame, segments: pd.DataFrame, clip: shapely.Geometry
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keep the road segments with at least one end inside ``clip``, and their nodes.

    Parameters
    ----------
    nodes, segments
        The tables of :class:`~accessibility.network.RoadData` (``lon``/``lat`` in
        WGS-84 degrees; ``u``, ``v`` node ids).
    clip
        Polygon in WGS-84 degrees.

    Returns
    -------
    tuple of pandas.DataFrame
        The nodes the kept segments use, and the kept segments (index reset).
    """
    inside = pd.Series(
        shapely.contains_xy(clip, nodes["lon"].to_numpy(), nodes["lat"].to_numpy()),
        index=nodes.index,
    )
    keep = inside.reindex(segments["u"]).to_numpy() | inside.reindex(segments["v"]).to_numpy()
    segments = segments.loc[keep].reset_index(drop=True)
    used = np.unique(np.concatenate([segments["u"].to_numpy(), segments["v"].to_numpy()]))
    return nodes.loc[used], segments
