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

Modules
-------
=============  ===================================================================
``query``      the Overpass QL of a polygon's data and of boundary relations; the
               cache key and cache path of a query
``budget``     the per-query deadline and the region's or unit's total
               (:class:`RegionBudget`, :func:`region_budget`, the total in force)
``fetch``      one query over HTTP: endpoint, retries, slot waits, progress lines,
               checking and atomically caching the answer, the failure messages
``tiles``      cutting a large polygon into tiles and merging the tiles' answers
``downloads``  :func:`download` and :func:`find_boundaries`, which use all the above
=============  ===================================================================

Each module imports only those above it. The public names are here.
"""

from __future__ import annotations

from .budget import RegionBudget, region_budget
from .downloads import download, find_boundaries
from .fetch import CONNECT_TIMEOUT_S, MAX_WAIT_S, PROGRESS_EVERY_S, RETRY_STATUS
from .query import (
    MAX_QUERY_RINGS,
    MAX_QUERY_VERTICES,
    boundary_query,
    build_query,
    cache_key,
    cache_path,
)
from .tiles import MAX_QUERY_AREA_KM2, TILE_DIR
from .tiles import _area_km2 as _area_km2  # used by the tests
from .tiles import _tiles as _tiles  # used by the tests

__all__ = [
    "CONNECT_TIMEOUT_S",
    "MAX_QUERY_AREA_KM2",
    "MAX_QUERY_RINGS",
    "MAX_QUERY_VERTICES",
    "MAX_WAIT_S",
    "PROGRESS_EVERY_S",
    "RETRY_STATUS",
    "TILE_DIR",
    "RegionBudget",
    "boundary_query",
    "build_query",
    "cache_key",
    "cache_path",
    "download",
    "find_boundaries",
    "region_budget",
]
