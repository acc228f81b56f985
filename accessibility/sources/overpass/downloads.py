"""Entry points: a polygon's OSM data (:func:`download`) and boundary polygons (:func:`find_boundaries`).

In: a polygon or boundary names, a cache folder and the request options. Out: the
cached OSM XML file (one query, or tiles merged), or the boundaries as a
GeoDataFrame; a cached answer is returned without network access.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import shapely
from osmnx import settings as ox_settings
from tqdm import tqdm

from ..._errors import DataSourceError, ValidationError
from ...settings import settings
from .budget import _budget, _deadline
from .fetch import _endpoint, _Fetcher, _no_data
from .query import _validated_polygon, boundary_query, build_query, cache_key
from .tiles import MAX_QUERY_AREA_KM2, TILE_DIR, _area_km2, _merge, _tiles

log = logging.getLogger(__package__)


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


# --------------------------------------------------------------------------- boundaries


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
    from .. import extract

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
