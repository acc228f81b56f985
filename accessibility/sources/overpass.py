"""Online OpenStreetMap data: raw OSM XML from an Overpass API, cached as a file.

Design
------
In:  a region polygon (WGS-84) and a cache folder, normally the region's
     ``data/raw/<region>/``.
Out: the path of an OSM XML file that :func:`accessibility.sources.osm.read` reads
     exactly like a local extract, so online and offline data share one ingestion
     path. The query asks for what that reader uses and nothing else: ``highway``
     ways, ``place`` nodes, elements tagged with one of :data:`osm.POI_KEYS
     <accessibility.sources.osm.POI_KEYS>`, ``highway=bus_stop`` nodes, and every node
     and way these reference. Buildings are left out (too big for a county query).

Configuration lives where osmnx users already set it, in :mod:`osmnx.settings`:
``overpass_url`` (the API base, e.g. ``"https://overpass-api.de/api"``; requests go
to ``<base>/interpreter``; ``settings.overpass_url`` or the environment variable
``ACCESSIBILITY_OVERPASS_URL`` name another, which kernels started by the runner
inherit), ``requests_timeout`` (seconds, also the query's
``[timeout:…]``), ``overpass_settings`` (extra query settings such as
``[date:"2024-01-01T00:00:00Z"]``; the output format is always forced to XML),
``overpass_memory`` (``[maxsize:…]``), ``overpass_rate_limit`` (ask
``<base>/status`` for a free slot before each request), ``http_user_agent``,
``http_referer``, ``http_accept_language`` and ``requests_kwargs`` (proxies,
certificates, authentication).

Cache. The file is ``cache_dir / f"overpass_{key}.osm"`` where ``key`` is the first
16 hex digits of the SHA-256 of the query text without its ``[timeout:…]`` and
``[maxsize:…]`` settings (they do not change the answer), so the endpoint and the
timeouts are not part of the key while the polygon, the filters and a ``[date:…]``
are. An existing file is returned at once, without any network access. A response
is cached only when it is complete: HTTP 200, an ``<osm>`` root, no Overpass
``<remark>`` (Overpass answers 200 with ``<remark> runtime error: …`` on timeouts and
out-of-memory, sometimes after part of the data) and a closing ``</osm>``. Files
are written atomically (a temporary file in the same folder, then :func:`os.replace`),
each with a sidecar ``overpass_{key}.json`` (query, endpoint, timestamp, bytes,
SHA-256, the data's ``osm_base`` time).

Failures. Connection errors, timeouts, HTTP 429/500/502/503/504, runtime-error
remarks and truncated responses are retried with exponential backoff (a
``Retry-After`` header is obeyed, up to :data:`MAX_WAIT_S`); any other HTTP status
fails at once. Each query (a boundary, a region's data, one tile) has a deadline,
``settings.overpass_deadline`` (180 s unless set; ``--overpass-deadline`` on the
command line): connection and read timeouts, backoff and slot waits are cut to what
is left, a retry or wait that would end after it is not begun, and a line is logged
every :data:`PROGRESS_EVERY_S` seconds while a query waits. A download that is
receiving data is not cut. When no attempt got any answer (refused or timed-out
connections, a status page or query left unanswered) the error is
:class:`ServerUnreachableError`, which the runner and the batch read as "do not start
the other units that need this server"; a server that answered but failed raises
:class:`DataSourceError`. Either says what failed, where the cache would be and how to
work from a local extract (``--osm-file`` or ``source: {kind: osm_file, ...}``).

Region total. All the queries made while one region or unit is prepared (its
boundary, its data, every tile) share a total, ``settings.overpass_region_deadline``
(900 s unless set; ``--overpass-region-deadline`` on the command line):
:func:`accessibility.pipeline.prepare` opens :func:`region_budget` around the boundary
and the data, and each query's deadline is the smaller of its own and what is left of
the total. The total counts the time queries spend waiting, retrying and receiving;
cached answers, reading them and merging tiles cost nothing. When it runs out, the
query in progress stops and the unit fails with one message naming the region or unit,
the seconds spent, the queries answered and read from the cache, and how to go on
(a larger total, or a local extract); tiles already downloaded stay cached. It is a
:class:`ServerUnreachableError` only when the server answered none of the region's
queries. A download that is receiving data is not cut, so it may overrun the total;
the next query then fails at once. Outside :func:`region_budget` each call of
:func:`download` or :func:`find_boundaries` has a total of its own. The progress lines
say what is left of the total.

Large polygons. Above :data:`MAX_QUERY_AREA_KM2` the polygon is cut along a grid of
cells of at most that area; each piece is downloaded and cached on its own (under
``cache_dir / "overpass_tiles"``, so an interrupted run resumes), then the pieces are
merged with pyosmium into the one cache file: nodes, then ways, then relations,
each sorted by id, every element once. Memory is bounded by one tile: each tile is
sorted on its own, then the sorted tiles are merged as streams.

Tests: ``tests/test_overpass.py`` — a local stand-in HTTP server replays recorded
responses from ``tests/data/overpass/`` (slowly, for the region total), and one that
never answers checks the deadline, the region total and the progress lines; no test
touches the network.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import email.utils
import hashlib
import heapq
import json
import logging
import math
import os
import re
import secrets
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import Any

import geopandas as gpd
import osmium
import pyproj
import requests
import shapely
from osmnx import settings as ox_settings
from tqdm import tqdm

from .._errors import DataSourceError, ServerUnreachableError, ValidationError
from .._validate import check_degrees
from ..settings import (
    OVERPASS_REGION_DEADLINE_ENV,
    OVERPASS_URL_ENV,
    check_seconds,
    settings,
)
from . import osm

log = logging.getLogger(__name__)

#: A polygon larger than this (km², on the WGS-84 ellipsoid) is downloaded in tiles.
MAX_QUERY_AREA_KM2 = 2500.0
#: At most this many vertices (all rings together) go into a query's ``poly:`` filters.
MAX_QUERY_VERTICES = 500
#: At most this many separate rings (parts of a MultiPolygon) go into one query.
MAX_QUERY_RINGS = 8
#: Longest wait, in seconds, for a ``Retry-After`` header, a backoff step or a free slot.
MAX_WAIT_S = 300.0
#: HTTP statuses that are retried; any other status but 200 fails at once.
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
#: Seconds allowed to open a connection (the read timeout is the query timeout plus a margin).
CONNECT_TIMEOUT_S = 30.0
#: Seconds between two progress lines while a query waits for its answer.
PROGRESS_EVERY_S = 15.0
#: Sub-folder of the cache folder that keeps the tiles of large polygons.
TILE_DIR = "overpass_tiles"

_READ_MARGIN_S = 30.0
_CHUNK = 1 << 16
_PROBE = 1 << 16
_TYPE_ORDER = {"n": 0, "w": 1, "r": 2}
_GEOD = pyproj.Geod(ellps="WGS84")
_NOT_KEY = re.compile(r"\[(?:timeout|maxsize):[^\]]*\]")
_OSM_ROOT = re.compile(rb"^\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--.*?-->\s*)*<osm[\s>/]", re.DOTALL)
_REMARK = re.compile(rb"<remark>(.*?)</remark>", re.DOTALL)
_OSM_BASE = re.compile(rb'<meta[^>]*\bosm_base="([^"]*)"')
_SLOTS_FREE = re.compile(r"^\d+ slots? available now", re.MULTILINE)
_SLOT_AFTER = re.compile(r"Slot available after: \S+, in (-?\d+) seconds?")

#: Indirection so that tests can record waits instead of sleeping.
_sleep = time.sleep


def _filters() -> tuple[str, ...]:
    """Overpass statements (without the area filter) for what :func:`osm.read` uses."""
    return (
        'way["highway"]',
        'node["place"]',
        *(f'nwr["{key}"]' for key in osm.POI_KEYS),
        'node["highway"="bus_stop"]',
    )


# --------------------------------------------------------------------------- region total


@dataclass
class RegionBudget:
    """The time all the Overpass queries made for one region or unit may still take.

    Attributes
    ----------
    name
        What is being prepared, for messages (e.g. ``"region xuchang unit 411024"``).
    total_s
        Seconds the queries may take together.
    spent_s
        Seconds spent so far on queries sent to the server (waiting, retrying,
        receiving); reading cached answers and merging tiles are not counted.
    answered
        Queries answered completely (and cached).
    cached
        Answers read from the cache (they cost nothing).
    reached
        Whether the server gave any answer (an HTTP status, a status page) to a query
        made within this total.
    """

    name: str
    total_s: float
    spent_s: float = 0.0
    answered: int = 0
    cached: int = 0
    reached: bool = False

    @property
    def left_s(self) -> float:
        """Seconds left of the total (negative once a download overran it)."""
        return self.total_s - self.spent_s

    def summary(self, label: str) -> str:
        """One sentence: the total ran out while query ``label`` was under way."""
        return (
            f"Overpass download stopped: the queries for {self.name} used up their total "
            f"of {self.total_s:g} s: {self.spent_s:.1f} s spent, {self.answered} "
            f"quer{'y' if self.answered == 1 else 'ies'} answered and {self.cached} read "
            f"from the cache before {label} was cut off"
        )

    def used_up(self, label: str, *, cache_dir: Path) -> str:
        """The message of a query (``label``) stopped because the total ran out: what
        happened and how to go on."""
        kept = (
            f" The answers downloaded stay in {cache_dir}, so a rerun asks only for the rest."
            if self.answered
            else ""
        )
        return (
            f"{self.summary(label)}.{kept} To go on, allow more time "
            "(--overpass-region-deadline SECONDS on `run` or `batch`, or the environment "
            f"variable {OVERPASS_REGION_DEADLINE_ENV}), or read a local OSM extract "
            f"instead: {_LOCAL_EXTRACT}"
        )


_BUDGET: contextvars.ContextVar[RegionBudget | None] = contextvars.ContextVar(
    "overpass_region_budget", default=None
)


@contextlib.contextmanager
def region_budget(seconds: float | None = None, *, name: str) -> Iterator[RegionBudget]:
    """Let the Overpass queries made inside the ``with`` block take ``seconds`` in all.

    Every query of :func:`download` and :func:`find_boundaries` made inside the block
    (a boundary, a region's data, each tile) draws on one total: its own deadline
    becomes the smaller of the per-query deadline and what is left of the total, and
    once the total is used up the query fails with a :class:`DataSourceError` that
    names ``name``, the seconds spent and the queries done, and says how to go on
    (:class:`ServerUnreachableError` when the server answered none of the block's
    queries). Cached answers cost nothing. A download that is receiving data is not
    cut, so the total can be overrun by it; the next query then fails at once.

    Each block starts a fresh total; a block inside another replaces it until it ends.
    Outside any block, each call of :func:`download` or :func:`find_boundaries` has a
    total of its own.

    Parameters
    ----------
    seconds
        The total, in seconds; ``None`` means ``settings.overpass_region_deadline``
        (900 s unless set).
    name
        What is being prepared, named in messages, e.g. ``"region xuchang unit 411024"``.

    Yields
    ------
    RegionBudget
        The total and what has been spent of it.

    Raises
    ------
    ValidationError
        When ``seconds`` (or the setting) is not a number of seconds > 0.
    """
    total = (
        settings.overpass_region_deadline if seconds is None else check_seconds(seconds, "seconds")
    )
    budget = RegionBudget(name=name, total_s=total)
    token = _BUDGET.set(budget)
    try:
        yield budget
    finally:
        _BUDGET.reset(token)


@contextlib.contextmanager
def _budget(name: str) -> Iterator[RegionBudget]:
    """The region's total in force, else one for this call alone."""
    budget = _BUDGET.get()
    if budget is not None:
        yield budget
        return
    with region_budget(name=name) as own:
        yield own


# --------------------------------------------------------------------------- query


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


# --------------------------------------------------------------------------- download


def download(
    polygon: shapely.Geometry,
    *,
    cache_dir: Path,
    url: str | None = None,
    retries: int = 3,
    backoff_s: float = 2.0,
    timeout_s: int | None = None,
    offline: bool = False,
    deadline_s: float | None = None,
) -> Path:
    """Download the OSM data inside a polygon from Overpass, or reuse the cached file.

    Parameters
    ----------
    polygon
        Polygon or MultiPolygon in WGS-84 degrees; usually the region boundary with
        its buffer. Above :data:`MAX_QUERY_AREA_KM2` it is downloaded in tiles that
        are merged into one file.
    cache_dir
        Folder of the cached files (the region's ``data/raw/<region>/``); created
        when something is written.
    url
        Overpass API base URL (``…/api``) or interpreter URL (``…/api/interpreter``);
        ``None`` means ``osmnx.settings.overpass_url``. Not part of the cache key.
    retries
        Retries after the first attempt of each request, on connection errors,
        timeouts, HTTP 429/500/502/503/504, Overpass runtime errors and truncated
        responses.
    backoff_s
        Wait before the first retry, in seconds; doubled before each further retry
        (capped at :data:`MAX_WAIT_S`). A ``Retry-After`` header replaces it.
    timeout_s
        Query timeout in seconds, sent as ``[timeout:…]``; the HTTP read timeout is
        this plus a margin. ``None`` means ``osmnx.settings.requests_timeout``.
    offline
        Never touch the network: return the cached file or raise.
    deadline_s
        Seconds the query (each tile's, for a large polygon) may take, retries and
        waits included, before it fails; ``None`` means
        ``settings.overpass_deadline`` (180 s unless set). What is left of the
        region's total (:func:`region_budget`; outside one, a total for this call,
        ``settings.overpass_region_deadline``) cuts it further. Connection and read
        timeouts, backoff and slot waits are cut to what is left; a download that
        is receiving data is not cut.

    Returns
    -------
    Path
        ``cache_dir / "overpass_<key>.osm"``, an OSM XML file for
        :func:`accessibility.sources.osm.read`.

    Raises
    ------
    ValidationError
        On an invalid polygon or option.
    ServerUnreachableError
        When the server gave no answer at all before the deadline (refused or timed
        out connections, no reply to the query); a :class:`DataSourceError`. The
        message says how to work from a local extract instead.
    DataSourceError
        When the data is neither cached nor downloadable (server errors after every
        retry or at the deadline, the region's total used up, ``offline=True``
        without cache, a rejected query); the message says how to work offline with
        ``--osm-file``.
    """
    geom = _validated_polygon(polygon)
    if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
        msg = f"retries must be a whole number ≥ 0, got {retries!r}"
        raise ValidationError(msg)
    if not (isinstance(backoff_s, int | float) and math.isfinite(backoff_s) and backoff_s >= 0):
        msg = f"backoff_s must be a number of seconds ≥ 0, got {backoff_s!r}"
        raise ValidationError(msg)
    if timeout_s is None:
        timeout_s = max(1, math.ceil(float(ox_settings.requests_timeout)))
    deadline = _deadline(deadline_s)
    query = build_query(geom, timeout_s=timeout_s)
    cache_dir = Path(cache_dir)
    target = cache_dir / f"overpass_{cache_key(query)}.osm"
    endpoint = _endpoint(url)
    with _budget(f"the download of {target.name}") as budget:
        if target.is_file():
            budget.cached += 1
            log.info(
                "Overpass: using the cached download %s (%s bytes)",
                target,
                f"{target.stat().st_size:,}",
            )
            return target
        fetch = _Fetcher(
            endpoint=endpoint,
            target=target,
            retries=retries,
            backoff_s=float(backoff_s),
            timeout_s=timeout_s,
            deadline_s=deadline,
            budget=budget,
        )
        try:
            tile_paths = _fetch_polygon(geom, query, fetch, offline=offline)
        finally:
            fetch.close()
    if tile_paths:
        _merge(tile_paths, target, query=query, endpoint=endpoint)
    return target


def _fetch_polygon(
    geom: shapely.Geometry, query: str, fetch: _Fetcher, *, offline: bool
) -> list[Path]:
    """Fetch ``query`` (for ``geom``) into ``fetch.target``, or its tiles into
    :data:`TILE_DIR` when ``geom`` is large; return the tiles to merge (none for one
    query)."""
    target, endpoint, timeout_s = fetch.target, fetch.endpoint, fetch.timeout_s
    cache_dir = target.parent
    tiles = _tiles(geom, MAX_QUERY_AREA_KM2)
    tile_paths: list[Path] = []
    if len(tiles) == 1:
        if offline:
            raise DataSourceError(_no_data("offline=True and nothing is cached", target, endpoint))
        cache_dir.mkdir(parents=True, exist_ok=True)
        fetch(query, target, label="whole polygon")
        return tile_paths

    log.info(
        "Overpass: the polygon covers %s km² (> %s km²); downloading it as %d tiles",
        f"{_area_km2(geom):,.0f}",
        f"{MAX_QUERY_AREA_KM2:,.0f}",
        len(tiles),
    )
    with tqdm(tiles, desc="Overpass tiles", unit="tile", disable=not settings.progress) as bar:
        for number, tile in enumerate(bar, start=1):
            tile_query = build_query(tile, timeout_s=timeout_s)
            tile_path = cache_dir / TILE_DIR / f"overpass_{cache_key(tile_query)}.osm"
            if tile_path.is_file():
                fetch.budget.cached += 1
                log.info("Overpass: tile %d/%d cached at %s", number, len(tiles), tile_path)
            elif offline:
                reason = (
                    f"offline=True and tile {number} of {len(tiles)} is not cached ({tile_path})"
                )
                raise DataSourceError(_no_data(reason, target, endpoint))
            else:
                tile_path.parent.mkdir(parents=True, exist_ok=True)
                fetch(tile_query, tile_path, label=f"tile {number}/{len(tiles)}")
            tile_paths.append(tile_path)
    return tile_paths


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


def find_boundaries(
    *,
    names: Sequence[str] = (),
    admin_levels: Sequence[str] = (),
    refs: Sequence[str] = (),
    cache_dir: Path,
    url: str | None = None,
    retries: int = 3,
    backoff_s: float = 2.0,
    offline: bool = False,
    deadline_s: float | None = None,
) -> gpd.GeoDataFrame:
    """Administrative boundary polygons downloaded from Overpass (cached like :func:`download`).

    The relations and their member ways and nodes are stored as
    ``cache_dir / "overpass_<key>.osm"`` and assembled into polygons by
    :func:`accessibility.sources.extract.find_boundaries`, the same code that finds
    boundaries in a local extract.

    ``deadline_s`` and the errors are those of :func:`download`.

    Returns
    -------
    geopandas.GeoDataFrame
        As :func:`accessibility.sources.extract.find_boundaries` (EPSG:4326); empty
        when nothing matches.
    """
    from . import extract

    deadline = _deadline(deadline_s)
    timeout_s = max(1, math.ceil(float(ox_settings.requests_timeout)))
    query = boundary_query(names=names, admin_levels=admin_levels, refs=refs, timeout_s=timeout_s)
    cache_dir = Path(cache_dir)
    target = cache_dir / f"overpass_{cache_key(query)}.osm"
    endpoint = _endpoint(url)
    with _budget(f"the boundary lookup {target.name}") as budget:
        if target.is_file():
            budget.cached += 1
        else:
            if offline:
                raise DataSourceError(
                    _no_data("offline=True and the boundary is not cached", target, endpoint)
                )
            cache_dir.mkdir(parents=True, exist_ok=True)
            fetch = _Fetcher(
                endpoint=endpoint,
                target=target,
                retries=retries,
                backoff_s=float(backoff_s),
                timeout_s=timeout_s,
                deadline_s=deadline,
                budget=budget,
            )
            try:
                fetch(query, target, label="boundary")
            finally:
                fetch.close()
    return extract.find_boundaries(target, names=names, admin_levels=admin_levels, refs=refs)


def _endpoint(url: str | None) -> str:
    """The interpreter URL: ``url``, else ``settings.overpass_url``, else the
    ``ACCESSIBILITY_OVERPASS_URL`` environment variable, else osmnx's setting."""
    if url is None:
        url = settings.overpass_url or os.environ.get(OVERPASS_URL_ENV) or None
    base = str(ox_settings.overpass_url if url is None else url).strip().rstrip("/")
    if not base:
        msg = (
            "no Overpass URL: set osmnx.settings.overpass_url (e.g. 'https://overpass-api.de/api')"
        )
        raise ValidationError(msg)
    return base if base.endswith("/interpreter") else base + "/interpreter"


def _deadline(deadline_s: float | None) -> float:
    if deadline_s is None:
        return settings.overpass_deadline
    return check_seconds(deadline_s, "deadline_s")


#: How to work from a local extract instead, in the message of every failed download.
_LOCAL_EXTRACT = (
    "`accessibility run --region <name> --osm-file henan-latest.osm.pbf`, or "
    "`source: {kind: osm_file, path: henan-latest.osm.pbf}` in the region file (the "
    "path relative to data/raw/<region>/), where the file is a provincial (or "
    "national) .osm.pbf extract, e.g. from Geofabrik's China extracts "
    "(https://download.geofabrik.de/asia/china.html) or a mirror of them; it is "
    "clipped to the region boundary."
)


def _no_data(reason: str, target: Path, endpoint: str) -> str:
    return (
        f"Overpass download failed: {reason}. No cached copy exists at {target}. "
        f"To work without network, read a local OSM extract instead: {_LOCAL_EXTRACT} "
        "To retry online, check the network and the "
        f"Overpass endpoint {endpoint} (the environment variable {OVERPASS_URL_ENV} or "
        "osmnx.settings.overpass_url names another instance, e.g. "
        "'https://overpass.kumi.systems/api'; --overpass-deadline SECONDS waits longer), "
        "then run again; whatever was already downloaded is kept."
    )


class _Retry(Exception):
    """A failed attempt worth repeating.

    ``answered``: the server answered (an HTTP status, part of a body), so it is
    reachable though it failed this time.
    """

    def __init__(
        self, message: str, *, retry_after: float | None = None, answered: bool = False
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.answered = answered


class _OutOfTime(Exception):
    """The next step (a retry, a wait for a slot) would end after the deadline.

    ``answered``: the server answered on the way (its status page named the wait).
    """

    def __init__(self, message: str, *, answered: bool = False) -> None:
        super().__init__(message)
        self.answered = answered


class _Progress:
    """Log a line every :data:`PROGRESS_EVERY_S` seconds while a query waits or downloads.

    ``receiving`` is set once the answer has begun to arrive.
    """

    def __init__(
        self, label: str, endpoint: str, started: float, end: float, budget: RegionBudget
    ) -> None:
        self.label, self.endpoint, self.started, self.end = label, endpoint, started, end
        self.budget = budget
        self.receiving = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="overpass-progress")

    def _run(self) -> None:
        while not self._stop.wait(PROGRESS_EVERY_S):
            now = time.monotonic()
            if self.receiving:
                log.info(
                    "Overpass: receiving %s from %s: %.0f s so far",
                    self.label,
                    self.endpoint,
                    now - self.started,
                )
                continue
            log.info(
                "Overpass: still waiting for %s from %s: %.0f s so far, gives up in %s s (%s)",
                self.label,
                self.endpoint,
                now - self.started,
                _s(max(0.0, self.end - now)),
                _total_left(self.budget, now - self.started),
            )

    def __enter__(self) -> _Progress:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class _Fetcher:
    """POST queries to one endpoint with retries; write complete answers atomically.

    ``target`` is the file the caller asked for (named in error messages); a tile
    is written to its own path.
    """

    endpoint: str
    target: Path
    retries: int
    backoff_s: float
    timeout_s: int
    deadline_s: float
    budget: RegionBudget
    _session: requests.Session | None = None

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            self._session = requests.Session()
            self._session.headers.update(
                {
                    "User-Agent": ox_settings.http_user_agent,
                    "Referer": ox_settings.http_referer,
                    "Accept-Language": ox_settings.http_accept_language,
                }
            )
        return self._session

    def _request_kwargs(self, *, timeout: tuple[float, float]) -> dict[str, Any]:
        kwargs = dict(ox_settings.requests_kwargs or {})
        headers = dict(self.session.headers)
        headers.update(kwargs.pop("headers", None) or {})
        kwargs.update(headers=headers, timeout=timeout)
        return kwargs

    def __call__(self, query: str, dest: Path, *, label: str) -> None:
        """Fetch one query into ``dest``, within :attr:`deadline_s` seconds and what is
        left of the region's total (:attr:`budget`).

        Raises :class:`ServerUnreachableError` when no attempt got an answer from the
        server, :class:`DataSourceError` when it answered but failed every time; when
        the region's total ran out, either (unreachable only if no query of the region
        got an answer) with the message of :meth:`RegionBudget.used_up`.
        """
        budget = self.budget
        total_left = budget.left_s
        if total_left <= 0:  # a download that overran the total came before
            raise DataSourceError(budget.used_up(label, cache_dir=self.target.parent))
        seconds = min(self.deadline_s, total_left)
        by_total = total_left < self.deadline_s
        attempts = self.retries + 1
        started = time.monotonic()
        end = started + seconds
        last_error = ""
        retry_after: float | None = None
        answered = False
        out_of_time = False
        made = 0
        log.info(
            "Overpass: asking %s for %s (up to %d attempts; gives up after %s s; %s)",
            self.endpoint,
            label,
            attempts,
            _s(seconds),
            _total_left(budget, 0.0),
        )
        try:
            for attempt in range(1, attempts + 1):
                if attempt > 1:
                    wait = _retry_wait(attempt - 1, self.backoff_s, retry_after)
                    left = end - time.monotonic()
                    if wait >= left:
                        raise _OutOfTime(
                            f"a retry in {wait:.1f} s would come after the deadline "
                            f"({max(left, 0.0):.0f} s left)"
                        )
                    log.warning(
                        "Overpass: %s; retrying in %.1f s (attempt %d of %d, gives up in %.0f s)",
                        last_error,
                        wait,
                        attempt,
                        attempts,
                        left,
                    )
                    _sleep(wait)
                if end - time.monotonic() <= 0:
                    raise _OutOfTime("the deadline passed")
                made += 1
                try:
                    with _Progress(label, self.endpoint, started, end, budget) as progress:
                        self._wait_for_slot(end)
                        log.info(
                            "Overpass: POST %s (%s, attempt %d/%d, query %s bytes)",
                            self.endpoint,
                            label,
                            attempt,
                            attempts,
                            f"{len(query.encode()):,}",
                        )
                        self._attempt(query, dest, end, progress)
                except _Retry as exc:
                    last_error, retry_after = str(exc), exc.retry_after
                    answered = answered or exc.answered
                    continue
                budget.answered += 1
                budget.reached = True
                return
        except _OutOfTime as exc:
            last_error = f"{last_error}; {exc}" if last_error else str(exc)
            answered = answered or exc.answered
            out_of_time = True
        finally:
            budget.spent_s += time.monotonic() - started
        budget.reached = budget.reached or answered
        if by_total and (out_of_time or budget.left_s <= 0):
            log.error("%s", budget.summary(label))
            reason = budget.used_up(label, cache_dir=self.target.parent)
            if not budget.reached:
                raise ServerUnreachableError(reason)
            raise DataSourceError(reason)
        seconds = time.monotonic() - started
        tried = f"{made} attempt(s) in {seconds:.0f} s (deadline {self.deadline_s:g} s)"
        if not answered:
            reason = f"no answer from {self.endpoint}: {tried}; last error: {last_error}"
            log.error("Overpass: %s", reason)
            raise ServerUnreachableError(_no_data(reason, self.target, self.endpoint))
        reason = f"{tried} at {self.endpoint} failed; last error: {last_error}"
        raise DataSourceError(_no_data(reason, self.target, self.endpoint))

    def _attempt(self, query: str, dest: Path, end: float, progress: _Progress) -> None:
        started = time.monotonic()
        left = max(end - started, 0.001)  # connecting and each read: at most what is left
        timeout = (
            min(CONNECT_TIMEOUT_S, float(self.timeout_s), left),
            min(self.timeout_s + _READ_MARGIN_S, left),
        )
        tmp = _tmp_name(dest)
        try:
            try:
                response = self.session.post(
                    self.endpoint,
                    data={"data": query},
                    stream=True,
                    **self._request_kwargs(timeout=timeout),
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise _Retry(f"{type(exc).__name__}: {exc}") from exc
            except requests.RequestException as exc:
                reason = f"cannot send the request to {self.endpoint}: {exc}"
                raise DataSourceError(_no_data(reason, self.target, self.endpoint)) from exc
            with response:
                progress.receiving = True
                status = response.status_code
                if status in RETRY_STATUS:
                    raise _Retry(
                        f"HTTP {status} {response.reason}",
                        retry_after=_parse_retry_after(response.headers.get("Retry-After")),
                        answered=True,
                    )
                if status != 200:
                    reason = (
                        f"{self.endpoint} answered HTTP {status} {response.reason}: "
                        f"{_excerpt(response)}"
                    )
                    raise DataSourceError(_no_data(reason, self.target, self.endpoint))
                digest = hashlib.sha256()
                size = 0
                try:
                    with open(tmp, "xb") as fh:
                        for chunk in response.iter_content(_CHUNK):
                            fh.write(chunk)
                            digest.update(chunk)
                            size += len(chunk)
                except requests.RequestException as exc:
                    raise _Retry(
                        f"connection lost during the download ({size:,} bytes saved): {exc}",
                        answered=True,
                    ) from exc
            seconds = time.monotonic() - started
            log.info(
                "Overpass: HTTP %d, %s bytes in %.1f s from %s",
                status,
                f"{size:,}",
                seconds,
                self.endpoint,
            )
            try:
                osm_base = _check_osm_xml(
                    tmp, size=size, endpoint=self.endpoint, target=self.target
                )
            except _Retry as exc:  # an answer came, incomplete or with an error remark
                exc.answered = True
                raise
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)
        _write_sidecar(
            dest,
            {
                "query": query,
                "url": self.endpoint,
                "timestamp": _now(),
                "bytes": size,
                "sha256": digest.hexdigest(),
                "osm_base": osm_base,
            },
        )
        log.info("Overpass: cached %s (%s bytes)", dest, f"{size:,}")

    def _wait_for_slot(self, end: float) -> None:
        """Ask ``<base>/status`` how long until a query slot is free, and wait that long.

        No answer from the status page counts as a failed attempt (the server is
        not reached); a wait that would end after the deadline stops the query.
        """
        if not ox_settings.overpass_rate_limit:
            return
        status_url = self.endpoint.rsplit("/", 1)[0] + "/status"
        left = max(end - time.monotonic(), 0.001)
        try:
            kwargs = self._request_kwargs(
                timeout=(min(CONNECT_TIMEOUT_S, left), min(CONNECT_TIMEOUT_S, left))
            )
            with self.session.get(status_url, **kwargs) as response:
                text = response.text if response.status_code == 200 else ""
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise _Retry(f"no answer from {status_url}: {type(exc).__name__}: {exc}") from exc
        except requests.RequestException as exc:
            log.debug("Overpass: no status from %s (%s)", status_url, exc)
            return
        pause = _slot_pause(text)
        if pause > 0:
            pause = min(pause, MAX_WAIT_S)
            left = end - time.monotonic()
            if pause >= left:
                msg = f"the next free query slot at {status_url} is {pause:.0f} s away, after the deadline"
                raise _OutOfTime(msg, answered=True)
            log.info("Overpass: waiting %.0f s for a free slot at %s", pause, status_url)
            _sleep(pause)


def _total_left(budget: RegionBudget, running_s: float) -> str:
    """What is left of the region's total while a query has run ``running_s`` seconds."""
    left = max(0.0, budget.left_s - running_s)
    return f"{_s(left)} s left of the {budget.total_s:g} s total for {budget.name}"


def _s(seconds: float) -> str:
    """Seconds as a short number: 900, 1.25, 59.8."""
    return f"{seconds:g}" if seconds == round(seconds, 2) else f"{seconds:.1f}"


def _retry_wait(retry: int, backoff_s: float, retry_after: float | None) -> float:
    """Seconds to wait before retry number ``retry`` (1, 2, …)."""
    if retry_after is not None:
        return min(max(retry_after, 0.0), MAX_WAIT_S)
    return min(backoff_s * 2.0 ** (retry - 1), MAX_WAIT_S)


def _parse_retry_after(value: str | None) -> float | None:
    """A ``Retry-After`` header (seconds or an HTTP date) as seconds from now."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def _slot_pause(status_text: str) -> float:
    """Seconds until a slot is free, from the text of Overpass's ``/status`` page."""
    if _SLOTS_FREE.search(status_text):
        return 0.0
    waits = [int(s) for s in _SLOT_AFTER.findall(status_text)]
    return float(max(0, min(waits))) if waits else 0.0


def _excerpt(response: requests.Response, limit: int = 300) -> str:
    try:
        text = next(response.iter_content(4096, decode_unicode=True), "") or ""
    except requests.RequestException:
        return "(no body)"
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = re.sub(r"<[^>]+>", " ", text)
    text = re.sub(r"\s+", " ", text).strip()
    return (text[:limit] + "…") if len(text) > limit else (text or "(no body)")


def _check_osm_xml(path: Path, *, size: int, endpoint: str, target: Path) -> str | None:
    """Raise unless ``path`` holds one complete OSM XML answer; return its ``osm_base``."""
    if size == 0:
        raise _Retry("empty response")
    with open(path, "rb") as fh:
        head = fh.read(_PROBE)
        fh.seek(max(0, size - _PROBE))
        tail = fh.read()
    head = head.removeprefix(b"\xef\xbb\xbf")
    if not _OSM_ROOT.match(head):
        start = head[:120].decode("utf-8", "replace").strip()
        reason = (
            f"the answer from {endpoint} is not OSM XML (it starts with {start!r}); "
            "is osmnx.settings.overpass_url an Overpass API?"
        )
        raise DataSourceError(_no_data(reason, target, endpoint))
    for part in (head, tail):
        remark = _REMARK.search(part)
        if remark:
            text = remark.group(1).decode("utf-8", "replace").strip()
            raise _Retry(f"Overpass remark: {text}")
    if not tail.rstrip().endswith(b"</osm>"):
        raise _Retry(f"truncated response ({size:,} bytes, no closing </osm>)")
    base = _OSM_BASE.search(head)
    return base.group(1).decode() if base else None


def _tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def _write_sidecar(data_path: Path, meta: dict[str, Any]) -> None:
    path = data_path.with_suffix(".json")
    tmp = _tmp_name(path)
    try:
        with open(tmp, "x", encoding="utf-8") as fh:
            json.dump(meta, fh, ensure_ascii=False, indent=2)
            fh.write("\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


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
