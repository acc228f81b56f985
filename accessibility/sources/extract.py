"""Cutting a county out of a large OSM extract, streaming, and finding boundaries in it.

Design
------
In:  a local OSM extract (``.osm.pbf``, ``.osm``; a province or a whole country, over
     1 GB for China) and a polygon in WGS-84 degrees.
Out: a small ``.osm.pbf`` holding what the polygon needs, which
     :func:`accessibility.sources.osm.read` then reads in memory; or the boundary
     polygons of administrative units found in the extract.

:func:`clip` reads the extract three times and never holds more than one set of ids
(``keep``, an :class:`osmium.IdTracker`: bitmaps in C++) and a few decoded blocks:

1. **nodes** — the ids of every node inside the polygon (or on its edge) go into
   ``keep``. This is the only pass in which Python looks at every node, so it sets
   the speed. pyosmium hands nodes to Python one at a time (about 1.5–2 µs each;
   it has no bulk access to coordinates), so ``.osm.pbf`` files are instead
   scanned directly: the PBF blocks are decompressed (``zlib``) and the packed,
   delta-coded ``DenseNodes`` columns decoded with numpy, 8,000 nodes at a time,
   on worker threads (``zlib`` and numpy release the GIL): 13–17 M nodes/s on
   two cores against 0.6 M nodes/s through pyosmium. Each block gets a
   bounding-box pre-test on the integer coordinates, then a vectorised
   point-in-polygon test (:func:`shapely.intersects_xy` on a prepared geometry) for
   the nodes in the box. Coordinates are converted exactly as libosmium converts
   them, so both ways give the same nodes (``tests/test_extract.py`` checks). For
   XML input, or PBF files this decoder does not know (``lz4``/``zstd`` blocks,
   required features such as history or locations on ways), pass 1 falls back to
   pyosmium. When the file says it is sorted (``Sort.Type_then_ID``), the scan
   stops at the first block of ways. Both scans, and the reading of PBF blobs and
   blocks, are in :mod:`accessibility.sources.pbf_scan`; the test against the
   polygon is here.
2. **ways and relations** — a C++ filter (``keep.contains_filter()``) lets only the
   ways with a node in ``keep`` reach Python; each is kept whole: its id goes into
   ``keep`` at once, its node ids when the last way has passed (added earlier,
   they would let through ways that share only an outside node with a kept way).
   Relations come after the ways in a sorted file: one with a kept member (node,
   way or relation, at any nesting depth) is kept; its members outside are *not*
   added.
3. **write** — a C++ filter (``keep.id_filter()``) feeds a :class:`osmium.SimpleWriter`
   directly, so the kept objects are written without passing through Python, in
   the source's order, ids, coordinates, tags and metadata unchanged. The output is
   written to a temporary file next to ``out`` and renamed into place (atomic).

The extract must be sorted by type, then id (nodes, then ways, then relations), as
every published extract is; relations are matched against ways already seen.

Memory: an :class:`osmium.IdTracker` keeps one bit per possible id, in 4 MiB chunks of
2**25 ids allocated when an id in the chunk is first added. A county's nodes were
mapped over many years, so their ids spread over the whole id range and the node
set costs up to (highest node id) / 8 bytes: about 1.5 GiB with today's node ids
(1.25e10), *whatever the size of the extract* (ways add at most 0.2 GiB). The
benchmark measures this (``benchmarks/README.md``).

:func:`find_boundaries` reads the relations once (a C++ tag filter passes only
``boundary=administrative`` relations to Python, which matches names, levels and
codes; libosmium's area assembler registers them in the same read), then the member
ways' node ids (C++), then assembles only those areas, keeping node locations only
for the boundary nodes. Memory is bounded by the boundaries, not by the file.

:func:`clip_cached` keys the clip by the source file's identity and the polygon, so a
re-run reuses it (raw is read-only, derived is cached). Many units of one extract:
:func:`accessibility.sources.clip_many.clip_many` (one read per pass for all units,
same files under the same names).

Tests: ``tests/test_extract.py``. Benchmark: ``benchmarks/bench_extract.py``.
"""

from __future__ import annotations

import hashlib
import logging
import lzma
import math
import os
import secrets
import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import osmium
import osmium.area
import osmium.filter
import osmium.geom
import osmium.index
import osmium.io
import pandas as pd
import shapely
from tqdm.auto import tqdm

from .._errors import DataSourceError, ValidationError
from .._validate import check_degrees
from ..settings import settings

# The "as" imports keep names that moved to pbf_scan importable from here.
from .pbf_scan import (
    _COORD_PRECISION,
    _is_pbf,
    _scan_osmium_nodes,
    _scan_pbf_nodes,
    _UnsupportedPbf,
)
from .pbf_scan import _fields as _fields
from .pbf_scan import _unpack_blob as _unpack_blob

log = logging.getLogger(__name__)

#: Bump when the content :func:`clip` writes changes; part of the :func:`clip_cached` key.
CLIP_VERSION = "1"
#: Bytes hashed at each end of the source file for the :func:`clip_cached` key.
IDENTITY_BYTES = 1 << 20
#: Tag keys (besides keys starting ``ref:`` or ending ``:code``/``_code``) whose values
#: ``find_boundaries(refs=...)`` matches, in the order the ``ref`` column prefers them.
REF_KEYS = ("ref", "gb:code", "ref:gb", "admin_code", "ISO3166-2")
#: Header keys that date an extract's data, copied into a clip (see
#: :mod:`accessibility.sources.dating`).
DATE_HEADER_KEYS = (
    "osmosis_replication_timestamp",
    "osmosis_replication_sequence_number",
    "osmosis_replication_base_url",
    "timestamp",
)
#: Name tags ``find_boundaries(names=...)`` matches.
NAME_KEYS = ("name", "name:zh", "name:en")


@dataclass
class ClipStats:
    """What the last :func:`clip` did (also logged); read by the benchmark.

    Attributes
    ----------
    nodes_scanned
        Nodes looked at in pass 1 (fewer than the file holds when the scan stopped
        at the first way of a sorted file).
    nodes_inside, ways, nodes, relations
        Nodes inside the polygon; ways, nodes and relations written.
    highways
        Written ways with a ``highway`` tag.
    scan
        ``"numpy"`` (PBF decoded directly) or ``"pyosmium"`` (pass 1 through pyosmium).
    seconds
        Wall time of each pass, in seconds.
    """

    nodes_scanned: int = 0
    nodes_inside: int = 0
    ways: int = 0
    nodes: int = 0
    relations: int = 0
    highways: int = 0
    scan: str = ""
    seconds: dict[str, float] = field(default_factory=dict)


#: Statistics of the most recent :func:`clip` in this process.
last_clip_stats = ClipStats()


# --------------------------------------------------------------------------- public API


def clip(
    src: Path | str, polygon: shapely.Geometry, out: Path | str, *, overwrite: bool = False
) -> Path:
    """Write the part of an OSM extract that a polygon needs to a new file.

    Kept: every node inside the polygon (or on its edge); every way with at least
    one node inside, *complete* (all its nodes, so that roads crossing the edge keep
    their geometry); the nodes of kept ways; every relation with a kept member (at
    any nesting depth) — members outside are not added. Objects are copied
    unchanged (ids, tags, coordinates, metadata) in the source's order.

    Streaming in three passes (see the module docstring): memory is bounded by the
    set of kept ids, not by the size of the extract — though that set costs up to
    about 1.5 GB with today's node ids (a bitmap over the id range; see "Memory" in
    the module docstring). A county out of a 744 MB file takes about 35 s on two
    cores (``benchmarks/README.md``).

    Parameters
    ----------
    src
        The extract: ``.osm.pbf`` (fast path) or any file pyosmium reads
        (``.osm``, ``.osm.gz``, ``.osm.bz2``), sorted by type then id.
    polygon
        Polygon or MultiPolygon in WGS-84 longitude/latitude degrees (EPSG:4326).
        Pass the region boundary with its buffer so that places near the edge can
        reach facilities just outside.
    out
        Output file; its extension picks the format (``.osm.pbf`` recommended).
        Written atomically (temporary file in the same folder, then rename).
    overwrite
        Replace ``out`` if it exists; otherwise an existing ``out`` is an error.

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    DataSourceError
        If ``src`` is missing or unreadable, or if nothing of the polygon with a
        ``highway`` tag is in the extract. The message says which: the region lies
        outside the extract's bounding box (given from its header when it has one),
        the extract has no data inside the polygon, the file has no road at all, or
        its roads all lie elsewhere.
    ValidationError
        If ``polygon`` is not a non-empty, valid (Multi)Polygon in degrees, or
        ``out`` exists and ``overwrite`` is false.
    """
    src = _check_src(src)
    polygon = _check_polygon(polygon)
    out = Path(out)
    if out.exists() and not overwrite:
        msg = f"{out} exists; pass overwrite=True to replace it, or choose another path"
        raise ValidationError(msg)
    if out.resolve() == src.resolve():
        msg = f"clip output {out} is the source extract itself; raw data is read-only, write elsewhere"
        raise ValidationError(msg)

    global last_clip_stats
    stats = ClipStats()
    size = src.stat().st_size
    keep = osmium.IdTracker()
    started = time.perf_counter()
    log.info(
        "clipping %s (%.1f MB) to polygon with bounds %s",
        src.name,
        size / 1e6,
        _fmt_bounds(polygon.bounds),
    )
    try:
        # pass 1: nodes inside the polygon
        t0 = time.perf_counter()
        _pass_nodes(src, polygon, keep, stats)
        stats.seconds["nodes"] = time.perf_counter() - t0
        log.info(
            "pass 1/3 (%s): %d nodes scanned, %d inside, %.1f s",
            stats.scan,
            stats.nodes_scanned,
            stats.nodes_inside,
            stats.seconds["nodes"],
        )
        # pass 2: ways with a node inside, then relations with a kept member
        t0 = time.perf_counter()
        _pass_ways_relations(src, keep, stats)
        stats.seconds["ways"] = time.perf_counter() - t0
        log.info(
            "pass 2/3: %d ways (%d highway), %d relations kept, %.1f s",
            stats.ways,
            stats.highways,
            stats.relations,
            stats.seconds["ways"],
        )
    except RuntimeError as exc:  # libosmium reports corrupt input this way
        msg = f"cannot read OSM file {src}: {exc}"
        raise DataSourceError(msg) from exc

    if stats.highways == 0:
        raise DataSourceError(_no_roads_message(src, polygon, stats))

    # pass 3: write the kept objects, C++ end to end
    t0 = time.perf_counter()
    stats.nodes = len(keep.node_ids())
    _write_kept(src, keep, out)
    stats.seconds["write"] = time.perf_counter() - t0
    stats.seconds["total"] = time.perf_counter() - started
    last_clip_stats = stats
    log.info(
        "clip written to %s: %d nodes, %d ways, %d relations, %.1f MB; %.1f s in all (%.1f MB/s)",
        out,
        stats.nodes,
        stats.ways,
        stats.relations,
        out.stat().st_size / 1e6,
        stats.seconds["total"],
        size / 1e6 / max(stats.seconds["total"], 1e-9),
    )
    return out


def clip_cached(src: Path | str, polygon: shapely.Geometry, cache_dir: Path | str) -> Path:
    """:func:`clip` into ``cache_dir``, reusing an earlier clip of the same inputs.

    The file is ``cache_dir / f"clip_{key}.osm.pbf"``, with ``key`` the first 16 hex
    digits of a SHA-256 over :data:`CLIP_VERSION`, the source file's identity and the
    normalised polygon's WKB. The identity is the file's size, its modification time
    (ns) and the SHA-256 of its first and last MiB: hashing a 1 GB extract in full
    would take seconds on every run, while a replaced or re-downloaded extract
    changes its size or mtime, and an edited one its ends, in practice (an edit
    in the middle that keeps the size and mtime would go unnoticed). A new key
    means a new clip; old ones are left for the user to delete.

    Parameters
    ----------
    src
        The extract (see :func:`clip`).
    polygon
        (Multi)Polygon in WGS-84 degrees.
    cache_dir
        Folder for clips (created if missing), e.g. ``data/processed/<region>/``.

    Returns
    -------
    Path
        Path of the clip (reused or newly written).
    """
    src = _check_src(src)
    polygon = _check_polygon(polygon)
    cache_dir = Path(cache_dir)
    key = cache_key(src, polygon)
    out = cache_dir / f"clip_{key}.osm.pbf"
    if out.is_file():
        log.info("clip of %s reused from %s", src.name, out)
        return out
    cache_dir.mkdir(parents=True, exist_ok=True)
    return clip(src, polygon, out, overwrite=True)


def cache_key(src: Path | str, polygon: shapely.Geometry) -> str:
    """Return the :func:`clip_cached` key of a source file and a polygon (16 hex digits)."""
    return _cache_key(source_identity(src), polygon)


def _cache_key(identity: str, polygon: shapely.Geometry) -> str:
    """:func:`cache_key` from a :func:`source_identity` already computed (one per many clips)."""
    h = hashlib.sha256()
    h.update(f"extract.clip v{CLIP_VERSION}\n".encode())
    h.update(identity.encode())
    h.update(shapely.to_wkb(shapely.normalize(polygon)))
    return h.hexdigest()[:16]


def source_identity(path: Path | str) -> str:
    """Return a cheap identity of a large file: size, mtime (ns) and a hash of its ends.

    The ends are the first and last :data:`IDENTITY_BYTES` bytes (the whole file when
    it is smaller); see :func:`clip_cached` for why not the whole content.
    """
    path = Path(path)
    st = path.stat()
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        h.update(fh.read(IDENTITY_BYTES))
        if st.st_size > IDENTITY_BYTES:
            fh.seek(max(IDENTITY_BYTES, st.st_size - IDENTITY_BYTES))
            h.update(fh.read(IDENTITY_BYTES))
    return f"size={st.st_size};mtime_ns={st.st_mtime_ns};ends={h.hexdigest()}"


def find_boundaries(
    src: Path | str,
    *,
    names: Sequence[str] = (),
    admin_levels: Sequence[str] = (),
    refs: Sequence[str] = (),
    relations: Sequence[int] = (),
) -> gpd.GeoDataFrame:
    """Return administrative boundary polygons found in an OSM extract.

    Candidates are relations tagged ``boundary=administrative``. A criterion that is
    given must match (several values of one criterion: any may match; several
    criteria: all must match); with no criterion every administrative boundary is
    returned. Matching is exact after stripping spaces (``name:en`` ignores case):

    - ``names``: ``name``, ``name:zh`` or ``name:en`` (e.g. ``"鄢陵县"``);
    - ``admin_levels``: ``admin_level`` (``"6"`` is a county in China);
    - ``refs``: an administrative code in ``ref``, ``gb:code``, ``ref:gb``,
      ``admin_code``, ``ISO3166-2``, or any key starting ``ref:`` or ending
      ``:code``/``_code`` (e.g. ``"411024"``);
    - ``relations``: the relation's id (e.g. ``[3078386]``), which tells apart two
      units of the same name.

    Each matching relation's outer and inner member ways are assembled into a
    MultiPolygon by libosmium. Streaming: one read of the relations, one of the
    member ways' node ids, one to assemble (locations are kept only for boundary
    nodes).

    Parameters
    ----------
    src
        OSM extract (``.osm.pbf``, ``.osm``, ...), sorted by type then id.
    names, admin_levels, refs, relations
        Values to match (see above).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per boundary, in relation-id order, CRS EPSG:4326: ``osm_id``
        (relation id), ``name``, ``name_en``, ``admin_level``, ``ref`` (the first
        code tag found, ``""`` if none), ``tags`` (dict of all tags), ``geometry``
        (MultiPolygon, degrees). A relation that matches but cannot be assembled
        (e.g. cut by the extract's edge, so its ring is open) is left out with a
        logged warning and listed in ``attrs["incomplete"]`` (``osm_id``, ``name``,
        ``admin_level``, ``ways``: its member ways, ``ways_missing``: how many of them
        the file lacks; see :func:`incomplete_message`); no match gives an empty frame
        and a warning.

    Raises
    ------
    DataSourceError
        If ``src`` is missing or unreadable.
    ValidationError
        If a criterion is a single string instead of a sequence of strings.
    """
    query = {"names": names, "admin_levels": admin_levels, "refs": refs, "relations": relations}
    return find_boundaries_many(src, {"": query})[""]


@dataclass(frozen=True)
class _BoundaryQuery:
    names: set[str]
    names_en: set[str]
    levels: set[str]
    refs: set[str]
    relations: set[int]

    def matches(self, rel_id: int, tags: dict[str, str], ref_tags: dict[str, str]) -> bool:
        if self.relations and rel_id not in self.relations:
            return False
        if self.names and not _name_matches(tags, self.names, self.names_en):
            return False
        if self.levels and tags.get("admin_level", "").strip() not in self.levels:
            return False
        return not self.refs or any(v.strip() in self.refs for v in ref_tags.values())

    def describe(self) -> str:
        return (
            f"names={sorted(self.names)} admin_levels={sorted(self.levels)} "
            f"refs={sorted(self.refs)} relations={sorted(self.relations)}"
        )


def find_boundaries_many(
    src: Path | str, queries: Mapping[Any, Mapping[str, Sequence[Any]]]
) -> dict[Any, gpd.GeoDataFrame]:
    """:func:`find_boundaries` for several queries in one read of the extract.

    ``queries`` maps a key (e.g. a unit's code) to the criteria of
    :func:`find_boundaries` (``names``, ``admin_levels``, ``refs``, ``relations``;
    any may be left out). The relations matching any query are read and assembled
    once; each key gets the frame :func:`find_boundaries` would return for its query
    alone (rows, ``attrs["incomplete"]``). A province's units are looked up so in one
    pass instead of one pass each.
    """
    src = _check_src(src)
    wanted: dict[Any, _BoundaryQuery] = {}
    for key, q in queries.items():
        unknown = set(q) - {"names", "admin_levels", "refs", "relations"}
        if unknown:
            msg = f"unknown boundary criteria {sorted(unknown)}; use names, admin_levels, refs, relations"
            raise ValidationError(msg)
        want_names = _check_values("names", q.get("names", ()))
        wanted[key] = _BoundaryQuery(
            names=want_names,
            names_en={n.casefold() for n in want_names},
            levels=_check_values("admin_levels", q.get("admin_levels", ())),
            refs=_check_values("refs", q.get("refs", ())),
            relations=_check_ids("relations", q.get("relations", ())),
        )
    rows: dict[int, dict[str, object]] = {}
    matched: dict[Any, list[int]] = {key: [] for key in wanted}
    member_ways: dict[int, list[int]] = {}
    tracker = osmium.IdTracker()
    manager = osmium.area.AreaManager()
    started = time.perf_counter()
    bar = tqdm(
        total=3, desc=f"find_boundaries: {src.name}", unit="read", disable=not settings.progress
    )
    try:
        # read 1: relations; only boundary=administrative ones reach Python, and the
        # area assembler's first pass (C++) registers them on the way
        admin = osmium.filter.TagFilter(("boundary", "administrative"))
        processor = osmium.FileProcessor(str(src), osmium.osm.RELATION)
        for rel in processor.with_filter(admin).with_filter(manager.first_pass_handler()):
            tags = {t.k: t.v for t in rel.tags}
            ref_tags = _ref_tags(tags)
            hits = [key for key, q in wanted.items() if q.matches(rel.id, tags, ref_tags)]
            if not hits:
                continue
            for key in hits:
                matched[key].append(int(rel.id))
            rows[rel.id] = {
                "osm_id": int(rel.id),
                "name": tags.get("name", tags.get("name:zh", "")),
                "name_en": tags.get("name:en", ""),
                "admin_level": tags.get("admin_level", ""),
                "ref": next(iter(ref_tags.values()), ""),
                "tags": tags,
            }
            tracker.add_relation(rel.id)
            member_ways[rel.id] = sorted({m.ref for m in rel.members if m.type == "w"})
            for ref in member_ways[rel.id]:
                tracker.add_way(ref)
        log.info(
            "%s: %d administrative boundaries match (%.1f s)",
            src.name,
            len(rows),
            time.perf_counter() - started,
        )
        bar.update()
        geoms: dict[int, shapely.Geometry] = {}
        if rows:
            geoms = _assemble_areas(src, tracker, manager, list(rows), bar)
    except RuntimeError as exc:
        msg = f"cannot read OSM file {src}: {exc}"
        raise DataSourceError(msg) from exc
    finally:
        bar.close()

    missing = [i for i in rows if i not in geoms]
    incomplete: dict[int, dict[str, object]] = {}
    if missing:
        present = _ways_present(src, tracker)
        for i in missing:
            ways = member_ways[i]
            incomplete[i] = {
                "osm_id": i,
                "name": rows[i]["name"],
                "admin_level": rows[i]["admin_level"],
                "ways": len(ways),
                "ways_missing": sum(w not in present for w in ways),
            }
        log.warning(
            "%d matching boundary relation(s) could not be assembled into polygons (members "
            "missing from %s, or rings not closed) and are left out: %s",
            len(missing),
            src.name,
            ", ".join(
                f"r{r['osm_id']} {r['name']} ({r['ways_missing']} of {r['ways']} member ways missing)"
                for r in incomplete.values()
            ),
        )
    columns = ["osm_id", "name", "name_en", "admin_level", "ref", "tags"]
    out: dict[Any, gpd.GeoDataFrame] = {}
    for key, ids in matched.items():
        if not ids:
            log.warning(
                "no boundary=administrative relation in %s matches %s",
                src.name,
                wanted[key].describe(),
            )
        kept = [i for i in ids if i in geoms]
        frame = pd.DataFrame([rows[i] for i in kept], columns=columns)
        frame["osm_id"] = frame["osm_id"].astype(np.int64)
        found = gpd.GeoDataFrame(frame, geometry=[geoms[i] for i in kept], crs=4326)
        found.attrs["incomplete"] = [dict(incomplete[i]) for i in ids if i in incomplete]
        out[key] = found
    return out


def _ways_present(src: Path, tracker: osmium.IdTracker) -> set[int]:
    """Ids of the tracked ways that the file holds (one more read, ways only, C++ filter)."""
    try:
        processor = osmium.FileProcessor(str(src), osmium.osm.WAY).with_filter(tracker.id_filter())
        return {w.id for w in processor}
    except RuntimeError as exc:
        msg = f"cannot read OSM file {src}: {exc}"
        raise DataSourceError(msg) from exc


def incomplete_reason(record: dict[str, object]) -> str:
    """Why one boundary relation of ``find_boundaries(...).attrs["incomplete"]`` could not
    be assembled, e.g. "but 1 of its 4 member ways is missing: ..."."""
    missing, ways = record["ways_missing"], record["ways"]
    if missing:
        return (
            f"but {missing} of its {ways} member ways {'is' if missing == 1 else 'are'} missing: "
            "the extract was cut inside the boundary, so its ring cannot close"
        )
    return (
        f"with all {ways} member ways, but its rings do not close (nodes of those ways are "
        "missing from the extract, or the relation is broken in OpenStreetMap)"
    )


def incomplete_message(
    incomplete: Sequence[dict[str, object]], *, where: str, config: object
) -> str:
    """Say which boundary relations were found but could not be assembled, and what to do.

    ``incomplete`` is ``find_boundaries(...).attrs["incomplete"]``; ``where`` names the
    extract, ``config`` the region file the boundary is set in.
    """
    parts = [
        f"boundary relation {r['osm_id']} {r['name']} (admin_level {r['admin_level'] or '?'}) "
        f"was found in {where} {incomplete_reason(r)}"
        for r in incomplete
    ]
    return (
        "; ".join(parts)
        + ". The name is right: use an extract that covers the whole unit (e.g. its province), "
        f"or give the boundary in {config} as a file (boundary: {{file: x.geojson}}) or a box "
        "(boundary: {bbox: [west, south, east, north]})"
    )


# ----------------------------------------------------------------------- validation


def _check_src(src: Path | str) -> Path:
    src = Path(src)
    if not src.is_file():
        msg = f"OSM extract not found: {src} (download it, or pass the right path)"
        raise DataSourceError(msg)
    return src


def _check_polygon(polygon: object) -> shapely.Geometry:
    if not isinstance(polygon, shapely.Polygon | shapely.MultiPolygon):
        kind = getattr(polygon, "geom_type", type(polygon).__name__)
        msg = (
            f"clip polygon must be a shapely Polygon or MultiPolygon, got {kind}; for a "
            "GeoDataFrame pass gdf.to_crs(4326).union_all()"
        )
        raise ValidationError(msg)
    if polygon.is_empty:
        msg = "clip polygon is empty; pass the region boundary (WGS-84 degrees)"
        raise ValidationError(msg)
    check_degrees(polygon, "clip polygon")
    if not polygon.is_valid:
        msg = (
            f"clip polygon is not valid ({shapely.is_valid_reason(polygon)}); repair it "
            "with shapely.make_valid(polygon) first"
        )
        raise ValidationError(msg)
    # a private prepared copy: the caller's geometry is left as it was
    prepared = shapely.from_wkb(shapely.to_wkb(polygon))
    shapely.prepare(prepared)
    return prepared


def _check_values(name: str, values: Sequence[str]) -> set[str]:
    if isinstance(values, str):
        msg = f"{name} must be a list of strings, e.g. {name}=[{values!r}], not a single string"
        raise ValidationError(msg)
    return {str(v).strip() for v in values}


def _check_ids(name: str, values: Sequence[int]) -> set[int]:
    if isinstance(values, (str, int)):
        msg = f"{name} must be a list of relation ids, e.g. {name}=[{values!r}], not a single value"
        raise ValidationError(msg)
    ids = set()
    for v in values:
        if isinstance(v, bool) or not str(v).strip().isdigit() or int(v) <= 0:
            msg = f"{name}: {v!r} is not a relation id (a whole number > 0, e.g. 3078386)"
            raise ValidationError(msg)
        ids.add(int(v))
    return ids


def _fmt_bounds(bounds: Sequence[float]) -> str:
    return "(" + ", ".join(f"{v:.4f}" for v in bounds) + ")"


def _no_roads_message(src: Path, polygon: shapely.Geometry, stats: ClipStats) -> str:
    """Why a clip holds no road: the region is outside the extract, the extract has no
    data there, it has no roads at all, or its roads all lie elsewhere."""
    area = f"the polygon with bounds {_fmt_bounds(polygon.bounds)} (lon/lat)"
    box = _header_box(src)
    if stats.nodes_inside == 0:
        if box is None:
            return (
                f"no node of {src} lies inside {area}: the region is outside the extract "
                "(the extract's header gives no bounding box). Use an extract that covers "
                "the region, or check that the polygon is in WGS-84 lon/lat order."
            )
        if not polygon.intersects(shapely.box(*box)):
            return (
                f"the region is outside the extract: {area} does not meet the bounding box "
                f"{_fmt_bounds(box)} (lon/lat) that the header of {src} gives. Use an extract "
                "that covers the region, or check that the polygon is in WGS-84 lon/lat order."
            )
        return (
            f"no node of {src} lies inside {area}, although it is within the extract's "
            f"bounding box {_fmt_bounds(box)}: the extract has no data there (cut to "
            "another area, or filtered). Use an extract that covers the region."
        )
    if not _has_highway(src):
        return (
            f"{src} holds no road at all (no way tagged highway anywhere in the file; "
            f"{stats.nodes_inside} of its nodes lie inside {area}): it is not a full "
            "OpenStreetMap extract (an export of points of interest, buildings or "
            "boundaries?). Use a full extract such as a provincial .osm.pbf."
        )
    return (
        f"{src} has roads, but none inside {area}: {stats.nodes_inside} nodes and "
        f"{stats.ways} ways lie inside, none tagged highway. Check the region's boundary "
        "(is it the right area?), or use an extract whose roads cover it."
    )


def _has_highway(src: Path) -> bool:
    """Whether any way of the file has a ``highway`` tag (stops at the first)."""
    try:
        processor = osmium.FileProcessor(str(src), osmium.osm.WAY)
        for _ in processor.with_filter(osmium.filter.KeyFilter("highway")):
            return True
    except RuntimeError as exc:
        msg = f"cannot read OSM file {src}: {exc}"
        raise DataSourceError(msg) from exc
    return False


def _header_box(src: Path) -> tuple[float, float, float, float] | None:
    try:
        box = osmium.FileProcessor(str(src), osmium.osm.NOTHING).header.box()
    except RuntimeError:
        return None
    if not box.valid():
        return None
    bl, tr = box.bottom_left, box.top_right
    return (bl.lon, bl.lat, tr.lon, tr.lat)


# ----------------------------------------------------------------- pass 1: nodes


def _pass_nodes(
    src: Path,
    polygon: shapely.Geometry,
    keep: osmium.IdTracker,
    stats: ClipStats,
) -> None:
    """Add the ids of the nodes inside ``polygon`` (or on its edge) to ``keep``."""
    minx, miny, maxx, maxy = polygon.bounds
    box = (
        math.floor(minx * _COORD_PRECISION),
        math.floor(miny * _COORD_PRECISION),
        math.ceil(maxx * _COORD_PRECISION),
        math.ceil(maxy * _COORD_PRECISION),
    )

    def add(ids: np.ndarray, x: np.ndarray, y: np.ndarray) -> None:
        hits = shapely.intersects_xy(polygon, x / _COORD_PRECISION, y / _COORD_PRECISION)
        for node_id in ids[hits].tolist():
            keep.add_node(node_id)
        stats.nodes_inside += int(np.count_nonzero(hits))

    if _is_pbf(src):
        try:
            stats.nodes_scanned = _scan_pbf_nodes(src, box, add)
            stats.scan = "numpy"
            return
        except _UnsupportedPbf as exc:
            log.info("%s: %s; scanning nodes with pyosmium instead", src.name, exc)
            keep.node_ids().clear()
            stats.nodes_inside = 0
        except (IndexError, ValueError, OverflowError, zlib.error, lzma.LZMAError) as exc:
            msg = f"cannot read OSM file {src}: corrupt PBF data ({type(exc).__name__}: {exc})"
            raise DataSourceError(msg) from exc
    stats.nodes_scanned = _scan_osmium_nodes(src, box, add)
    stats.scan = "pyosmium"


# ------------------------------------------------- pass 2: ways, relations; pass 3


def _pass_ways_relations(src: Path, keep: osmium.IdTracker, stats: ClipStats) -> None:
    """Add the ways with a node inside, their nodes, and relations with a kept member."""
    way_filter = keep.contains_filter()  # a way passes when one of its nodes is in the set
    way_filter.enable_for(osmium.osm.WAY)
    # Nodes of kept ways wait here until the last way has been seen: added at once,
    # they would let through ways that share only an outside node with a kept way.
    way_nodes: list[int] = []
    ways_done = False
    # parent relation id → ids of its relation members, for relations not (yet) kept
    waiting: dict[int, list[int]] = {}
    with tqdm(
        desc=f"clip: ways and relations of {src.name}",
        unit=" objects",
        unit_scale=True,
        disable=not settings.progress,
    ) as bar:
        processor = osmium.FileProcessor(str(src), osmium.osm.WAY | osmium.osm.RELATION)
        for obj in processor.with_filter(way_filter):
            bar.update()
            if obj.is_way():
                if ways_done:
                    msg = (
                        f"{src} is not sorted (way w{obj.id} after a relation); sort it first, "
                        "e.g. `osmium sort` (ways must come before relations)"
                    )
                    raise DataSourceError(msg)
                keep.add_way(obj.id)
                way_nodes.extend(n.ref for n in obj.nodes)
                stats.ways += 1
                if "highway" in obj.tags:
                    stats.highways += 1
                continue
            if not ways_done:
                _add_nodes(keep, way_nodes)
                ways_done = True
            if keep.contains_any_references(obj):
                keep.add_relation(obj.id)
                stats.relations += 1
            else:
                children = [m.ref for m in obj.members if m.type == "r"]
                if children:
                    waiting[obj.id] = children
    if not ways_done:
        _add_nodes(keep, way_nodes)
    # a relation whose member relation was kept later in the file (or deeper) is kept too
    kept_relations = keep.relation_ids()
    changed = True
    while changed and waiting:
        changed = False
        for rel_id, children in list(waiting.items()):
            if any(c in kept_relations for c in children):
                keep.add_relation(rel_id)
                stats.relations += 1
                del waiting[rel_id]
                changed = True


def _add_nodes(keep: osmium.IdTracker, ids: list[int]) -> None:
    for node_id in np.unique(np.asarray(ids, dtype=np.int64)).tolist():
        keep.add_node(node_id)
    ids.clear()


def _write_kept(src: Path, keep: osmium.IdTracker, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{secrets.token_hex(4)}.part.{out.name}")
    header = _clip_header(src)
    try:
        with (
            tqdm(
                total=1,
                desc=f"clip: writing {out.name}",
                unit="read",
                disable=not settings.progress,
            ) as bar,
            osmium.SimpleWriter(str(tmp), header=header, overwrite=True) as writer,
        ):
            osmium.apply(osmium.io.Reader(str(src)), keep.id_filter(), writer)
            bar.update()
        os.replace(tmp, out)
    except RuntimeError as exc:
        msg = f"cannot clip {src} into {out}: {exc}"
        raise DataSourceError(msg) from exc
    finally:
        tmp.unlink(missing_ok=True)


def _clip_header(src: Path) -> osmium.io.Header:
    """The header of a clip of ``src``: generator, sorting and the extract's date keys."""
    source_header = osmium.FileProcessor(str(src), osmium.osm.NOTHING).header
    header = osmium.io.Header()
    header.set("generator", "accessibility.sources.extract.clip")
    if source_header.get("sorting", "") == "Type_then_ID":
        header.set("sorting", "Type_then_ID")
    for key in DATE_HEADER_KEYS:  # the clip dates its data as the extract did
        if source_header.get(key, ""):
            header.set(key, source_header.get(key))
    return header


# ------------------------------------------------------------------ boundaries


def _name_matches(tags: dict[str, str], names: set[str], names_en: set[str]) -> bool:
    if tags.get("name", "").strip() in names or tags.get("name:zh", "").strip() in names:
        return True
    return tags.get("name:en", "").strip().casefold() in names_en


def _ref_tags(tags: dict[str, str]) -> dict[str, str]:
    """Code-like tags of a boundary, preferred keys first."""
    found = {k: tags[k] for k in REF_KEYS if tags.get(k, "").strip()}
    for key in sorted(tags):
        if key in found or not tags[key].strip():
            continue
        if key.startswith("ref:") or key.endswith((":code", "_code")):
            found[key] = tags[key]
    return found


def _assemble_areas(
    src: Path,
    tracker: osmium.IdTracker,
    manager: osmium.area.AreaManager,
    relation_ids: list[int],
    bar: tqdm,
) -> dict[int, shapely.Geometry]:
    """Multipolygons of the tracked relations, with locations kept only for their nodes.

    ``manager`` has seen the relations (its first pass); ``tracker`` holds their ids
    and their member ways' ids.
    """
    # read 2 (C++): the node ids of the member ways
    tracker.complete_backward_references(str(src), relation_depth=0)
    bar.update()
    # read 3: assemble, passing only the tracked objects to the location store and
    # the assembler (relations the assembler saw but that were not selected never
    # get their ways, so they are never built)
    store = osmium.index.create_map("sparse_mem_array")
    locations = osmium.NodeLocationsForWays(store)
    locations.ignore_errors()
    areas = osmium.BufferIterator()
    osmium.apply(
        osmium.io.Reader(str(src), osmium.osm.NODE | osmium.osm.WAY | osmium.osm.RELATION),
        tracker.id_filter(),
        locations,
        manager.second_pass_to_buffer(areas),
    )
    bar.update()
    wkb = osmium.geom.WKBFactory()
    wanted = set(relation_ids)
    geoms: dict[int, shapely.Geometry] = {}
    for area in areas:
        if area.from_way() or area.orig_id() not in wanted:
            continue
        try:
            geom = shapely.from_wkb(wkb.create_multipolygon(area))
        except RuntimeError as exc:
            log.warning("boundary relation r%d: %s", area.orig_id(), exc)
            continue
        if not geom.is_empty:
            geoms[area.orig_id()] = geom
    return geoms
