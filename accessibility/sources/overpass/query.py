"""Overpass QL: the query for a polygon's data or for boundary relations, and its cache key.

In: a (Multi)Polygon in WGS-84 degrees (validated, simplified to fit a query) or the
names/refs of administrative boundaries, and osmnx's query settings. Out: the query
text, the cache key (a hash of it without ``[timeout:…]``/``[maxsize:…]``) and the
cache file of a polygon.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from pathlib import Path

import shapely
from osmnx import settings as ox_settings

from ..._errors import ValidationError
from ..._validate import check_degrees
from .. import osm

log = logging.getLogger(__package__)

#: At most this many vertices (all rings together) go into a query's ``poly:`` filters.
MAX_QUERY_VERTICES = 500
#: At most this many separate rings (parts of a MultiPolygon) go into one query.
MAX_QUERY_RINGS = 8
_NOT_KEY = re.compile(r"\[(?:timeout|maxsize):[^\]]*\]")


# --------------------------------------------------------------------------- query


def _filters() -> tuple[str, ...]:
    """Overpass statements (without the area filter) for what :func:`osm.read` uses."""
    return (
        'way["highway"]',
        'node["place"]',
        *(f'nwr["{key}"]' for key in osm.POI_KEYS),
        'node["highway"="bus_stop"]',
    )


def build_query(polygon: shapely.Geometry, *, timeout_s: int = 180) -> str:
    """Return the Overpass QL query (XML output) for the OSM data inside a polygon.

    The query selects ``highway`` ways, ``place`` nodes, nodes, ways and relations
    tagged ``amenity``, ``healthcare`` or ``public_transport``, and
    ``highway=bus_stop`` nodes, then everything they reference (``(._;>;);``), and
    prints it with ``out body qt;``. Buildings are not requested.

    The area filter is ``poly:"lat lon lat lon …"`` with 6 decimals (about 0.1 m).
    A MultiPolygon gives one filter per part; holes are ignored. When the polygon
    has more than :data:`MAX_QUERY_VERTICES` vertices or more than
    :data:`MAX_QUERY_RINGS` parts, it is grown slightly and simplified until it
    fits, and the simplified outline always covers the original.

    The settings line comes from ``osmnx.settings.overpass_settings`` (with
    ``{timeout}`` and ``{maxsize}`` filled in from ``timeout_s`` and
    ``osmnx.settings.overpass_memory``), its output format replaced by ``[out:xml]``.

    Parameters
    ----------
    polygon
        Polygon or MultiPolygon in WGS-84 degrees (longitude, latitude).
    timeout_s
        Time the server may spend on the query, in seconds (``[timeout:…]``).

    Returns
    -------
    str
        The query text.

    Raises
    ------
    ValidationError
        When the polygon is not a non-empty (Multi)Polygon in degrees, or
        ``timeout_s`` is not positive.
    """
    geom = _validated_polygon(polygon)
    if not isinstance(timeout_s, int) or isinstance(timeout_s, bool) or timeout_s <= 0:
        msg = f"timeout_s must be a positive whole number of seconds, got {timeout_s!r}"
        raise ValidationError(msg)
    rings = [" ".join(f"{lat:.6f} {lon:.6f}" for lon, lat in ring) for ring in _query_rings(geom)]
    lines = [f"{_settings_line(timeout_s)};", "("]
    for statement in _filters():
        lines.extend(f'  {statement}(poly:"{ring}");' for ring in rings)
    lines += [");", "(._;>;);", "out body qt;"]
    return "\n".join(lines) + "\n"


def cache_key(query: str) -> str:
    """Return the cache key of a query: 16 hex digits of the SHA-256 of its text.

    The ``[timeout:…]`` and ``[maxsize:…]`` settings are left out of the hash: they
    do not change the answer, so changing a timeout does not invalidate the cache.
    """
    return hashlib.sha256(_NOT_KEY.sub("", query).encode("utf-8")).hexdigest()[:16]


def cache_path(polygon: shapely.Geometry, *, cache_dir: Path | str) -> Path:
    """Return the file :func:`download` writes (or reuses) for ``polygon`` (WGS-84)."""
    return Path(cache_dir) / f"overpass_{cache_key(build_query(polygon))}.osm"


def _settings_line(timeout_s: int) -> str:
    template = str(ox_settings.overpass_settings)
    memory = ox_settings.overpass_memory
    maxsize = "" if memory is None else f"[maxsize:{int(memory)}]"
    try:
        line = template.format(timeout=timeout_s, maxsize=maxsize)
    except (KeyError, IndexError, ValueError) as exc:
        msg = (
            f"osmnx.settings.overpass_settings = {template!r} cannot be filled in ({exc!r}); "
            "it may only use the {timeout} and {maxsize} placeholders"
        )
        raise ValidationError(msg) from exc
    line = line.strip().rstrip(";")
    if re.search(r"\[out:[^\]]*\]", line):
        return re.sub(r"\[out:[^\]]*\]", "[out:xml]", line)
    return "[out:xml]" + line


def _validated_polygon(polygon: object) -> shapely.Geometry:
    if not isinstance(polygon, shapely.Geometry):
        msg = (
            f"polygon must be a shapely Polygon or MultiPolygon in WGS-84 degrees, "
            f"got {type(polygon).__name__}"
        )
        raise ValidationError(msg)
    if polygon.is_empty:
        msg = "polygon is empty; pass the region boundary (WGS-84 Polygon or MultiPolygon)"
        raise ValidationError(msg)
    parts = _polygon_parts(polygon)
    if not parts:
        msg = (
            f"polygon must be a Polygon or MultiPolygon, got a {polygon.geom_type}; "
            "buffer points or lines into an area first"
        )
        raise ValidationError(msg)
    check_degrees(polygon, "polygon")
    geom: shapely.Geometry = parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts)
    if not geom.is_valid:
        parts = _polygon_parts(shapely.make_valid(geom))
        geom = parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts)
    return geom


def _polygon_parts(geom: shapely.Geometry) -> list[shapely.Polygon]:
    if isinstance(geom, shapely.Polygon):
        return [] if geom.is_empty else [geom]
    if isinstance(geom, shapely.MultiPolygon | shapely.GeometryCollection):
        return [p for g in geom.geoms for p in _polygon_parts(g)]
    return []


def _query_rings(geom: shapely.Geometry) -> list[list[tuple[float, float]]]:
    """Exterior rings (lon, lat; not closed) of a polygon small enough for one query."""

    def rings_of(g: shapely.Geometry) -> list[list[tuple[float, float]]]:
        return [[(x, y) for x, y in p.exterior.coords[:-1]] for p in _polygon_parts(g)]

    def fits(rings: list[list[tuple[float, float]]]) -> bool:
        return len(rings) <= MAX_QUERY_RINGS and sum(map(len, rings)) <= MAX_QUERY_VERTICES

    rings = rings_of(geom)
    if fits(rings):
        return rings
    minx, miny, maxx, maxy = geom.bounds
    tol = max(maxx - minx, maxy - miny, 1e-4) / 2000.0
    for _ in range(60):
        # Douglas-Peucker moves the outline by at most tol / 2, so the result stays
        # outside the original by at least tol / 2; checked anyway.
        outline = geom.buffer(tol, quad_segs=2).simplify(tol / 2.0, preserve_topology=True)
        rings = rings_of(outline)
        if fits(rings):
            hull = shapely.MultiPolygon([shapely.Polygon(r) for r in rings])
            if hull.covers(geom):
                log.debug(
                    "query polygon simplified to %d ring(s), %d vertices (grown by %.2g°)",
                    len(rings),
                    sum(map(len, rings)),
                    tol,
                )
                return rings
        tol *= 1.5
    box = shapely.box(minx, miny, maxx, maxy).buffer(1e-4, join_style="mitre")
    return rings_of(box)


# --------------------------------------------------------------------------- boundary query


def boundary_query(
    *,
    names: Sequence[str] = (),
    admin_levels: Sequence[str] = (),
    refs: Sequence[str] = (),
    timeout_s: int = 180,
) -> str:
    """Overpass QL (XML output) for administrative boundary relations and their members.

    A relation matches when its ``name`` is one of ``names`` (or its ``ref`` one of
    ``refs``) and, when ``admin_levels`` are given, its ``admin_level`` is one of them.
    """
    if not names and not refs:
        msg = "a boundary lookup needs at least one name or ref"
        raise ValidationError(msg)
    level = "|".join(re.escape(str(v)) for v in admin_levels)
    level_filter = f'["admin_level"~"^({level})$"]' if level else ""
    statements = [
        f'relation["boundary"="administrative"]["{key}"="{_ql_escape(value)}"]{level_filter};'
        for key, values in (("name", names), ("ref", refs))
        for value in values
    ]
    return (
        f"{_settings_line(timeout_s)};\n(\n  "
        + "\n  ".join(statements)
        + "\n);\n(._;>;);\nout body qt;\n"
    )


def _ql_escape(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"')
