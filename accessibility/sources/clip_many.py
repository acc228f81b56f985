"""Clipping every unit of a province out of its extract in one read per pass.

Design
------
In:  a local OSM extract (``.osm.pbf`` or anything pyosmium reads, sorted by type then
     id) and a mapping of unit names to polygons in WGS-84 degrees (each polygon
     already buffered as the unit needs it).
Out: one ``.osm.pbf`` per unit in ``out_dir``, named as
     :func:`accessibility.sources.extract.clip_cached` names it
     (``clip_<key>.osm.pbf``), each holding exactly what
     :func:`~accessibility.sources.extract.clip` writes for that polygon: the same
     nodes, ways and relations, copied unchanged in the source's order.

How: :func:`clip_many` reads the extract three times, whatever the number of units:

1. **nodes** — the numpy PBF decoder of :mod:`~accessibility.sources.pbf_scan` (or
   pyosmium for other files) hands over the nodes in the units' joint bounding box.
   A grid over that box (about 2,000 cells per unit) says for each cell which units
   cover it whole (its nodes belong to them without a test) and which cross it (its
   nodes are tested with :func:`shapely.intersects_xy`, unit by unit, on the cell's
   nodes only). Each (node, unit) pair is kept as one int64 key ``id × n_units + unit``.
2. **ways and relations** — the way and relation blocks are decoded by
   :mod:`~accessibility.sources.pbf_blocks` (numba, on worker threads; the node
   blocks are decompressed but not decoded); the node ids of the ways are looked up
   in batches (:func:`numpy.searchsorted`) among the nodes inside, giving the units
   that keep each way whole, and its nodes are added to those units once the ways
   are over. Relations are kept per unit when a member node or way is kept, or (at
   any depth, in any order) a member relation is: the same rules as ``clip``.
3. **write** — the blocks are decoded again, :data:`CHUNK_OBJECTS` objects at a time;
   the kept (object, unit) pairs of a chunk are sorted by unit, then by position,
   and each unit's share is encoded as new blocks of at most 8,000 objects (its own
   string table; zlib level :data:`ZLIB_LEVEL`) appended to the unit's file. No
   object passes through Python: Python handles chunks and blocks. Each output goes
   to a temporary file renamed into place once complete, behind the header
   libosmium writes for ``clip``.

Files that are not PBF (``.osm`` XML etc.) or whose blocks the decoder refuses
(``bzip2``/``lz4``/``zstd`` blocks, history files) take the same passes through
pyosmium: every way, and every kept object once per unit, reaches Python (about 15 µs
per way and 4 µs per written object; the results are the same).

Keys are deduplicated by sorting (:func:`_unique`): numpy ≥ 2.3's hash-based
:func:`numpy.unique` took 15 times longer on these int64 keys.

Memory: no :class:`osmium.IdTracker` (one per unit would cost up to 1.5 GiB each with
today's node ids). The bound is 8 bytes per kept (object, unit) pair — the nodes
inside each unit plus the nodes of its ways, about 8 bytes × the province's nodes ×
(1 + the share in two units' buffers) — plus a batch of ways (≤ :data:`WAY_BATCH`
node refs) and, in pass 3, one decoded chunk (≈ 90 bytes per node, plus 17 per way
node ref: some 25–70 MB for :data:`CHUNK_OBJECTS`) with the blocks being encoded.
``benchmarks/README.md`` ("All units in one pass") measures it.

Cache: a unit whose file already exists in ``out_dir`` is not clipped again, so a
rerun on an unchanged extract reads nothing but the ends of the extract (its
identity); ``clip_cached`` of one unit finds the file ``clip_many`` wrote and
vice versa.

Tests: ``tests/test_clip_many.py`` (and ``tests/test_pbf_blocks.py``). Benchmark: ``benchmarks/bench_extract.py --many N``.
"""

from __future__ import annotations

import concurrent.futures
import logging
import lzma
import math
import os
import secrets
import struct
import time
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import osmium
import shapely
from tqdm.auto import tqdm

from .._errors import DataSourceError, ValidationError
from ..settings import settings
from . import extract, pbf_blocks, pbf_scan

log = logging.getLogger(__name__)

#: Node refs of ways gathered before one vectorised lookup (pass 2).
WAY_BATCH = 1 << 20
#: Candidate nodes gathered before the grid assigns them to units (pass 1).
NODE_BATCH = 1 << 20
#: Buffer of each unit's writer in pass 3, bytes (libosmium's default is 4 MiB).
WRITER_BUFFER = 1 << 20
#: Grid cells per unit in pass 1 (cells whose units cover them whole need no test).
CELLS_PER_UNIT = 2000
_MAX_CELLS = 1 << 22
#: Objects decoded together in pass 3 of a PBF file before they are sorted out by unit.
#: Smaller chunks write smaller blocks (a unit's share of a chunk is at least one
#: block); on the 150-unit benchmark 2**18 wrote fastest (1.8 s against 3.4 s for
#: 2**21, whose columns no longer fit in the processor's caches) with files 2 % larger.
CHUNK_OBJECTS = 1 << 18
#: zlib level of the blocks written in pass 3. libosmium's default is 6; level 1 took
#: half the write time of the 150-unit benchmark for files 5 % larger.
ZLIB_LEVEL = 1
_CORRUPT = (ValueError, IndexError, OverflowError, zlib.error, lzma.LZMAError)


@dataclass
class ClipManyStats:
    """What the last :func:`clip_many` did; read by tests and the benchmark.

    Attributes
    ----------
    clipped, reused
        Unit names clipped by this call, and those whose cached file was reused.
    nodes_scanned
        Nodes looked at in pass 1.
    pairs
        Kept (node, unit) pairs after pass 2 (the memory the node sets take is 8 bytes each).
    seconds
        Wall time of each pass, in seconds.
    """

    clipped: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    nodes_scanned: int = 0
    pairs: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


#: Statistics of the most recent :func:`clip_many` in this process.
last_stats = ClipManyStats()


def clip_many(
    src: Path | str,
    polygons: Mapping[str, shapely.Geometry],
    out_dir: Path | str,
) -> dict[str, Path]:
    """Clip every unit's polygon out of an extract, reading it once per pass.

    Each unit's file holds what ``extract.clip(src, polygon, out)`` writes (see its
    rules: nodes inside, ways with a node inside kept whole, relations with a kept
    member, members outside not added). Files already in ``out_dir`` under the
    unit's :func:`~accessibility.sources.extract.cache_key` are reused.

    Parameters
    ----------
    src
        The extract (``.osm.pbf`` fast path; ``.osm`` etc. through pyosmium), sorted
        by type then id.
    polygons
        Unit name → Polygon or MultiPolygon in WGS-84 lon/lat degrees, buffer included.
    out_dir
        Folder of the clips (created if missing), e.g. ``data/processed/<region>/``.

    Returns
    -------
    dict[str, Path]
        Unit name → its clip, for every unit, in the order of ``polygons``.

    Raises
    ------
    DataSourceError
        If ``src`` is missing or unreadable, or if some unit has no road in the
        extract: the other units are written first, then the error names each failed
        unit with the reason ``clip`` would give (outside the extract, no data there,
        no roads).
    ValidationError
        If ``polygons`` is empty, or a polygon is not a valid (Multi)Polygon in degrees
        (the message names the unit).
    """
    global last_stats
    src = extract._check_src(src)
    if not polygons:
        msg = "clip_many needs at least one unit polygon (name → polygon in WGS-84 degrees)"
        raise ValidationError(msg)
    checked: dict[str, shapely.Geometry] = {}
    for name, polygon in polygons.items():
        try:
            checked[name] = extract._check_polygon(polygon)
        except ValidationError as exc:
            msg = f"unit {name!r}: {exc}"
            raise ValidationError(msg) from exc
    out_dir = Path(out_dir)
    identity = extract.source_identity(src)
    outs = {
        name: out_dir / f"clip_{extract._cache_key(identity, poly)}.osm.pbf"
        for name, poly in checked.items()
    }
    stats = ClipManyStats()
    todo = [name for name in checked if not outs[name].is_file()]
    stats.reused = [name for name in checked if name not in todo]
    last_stats = stats
    if stats.reused:
        log.info("%d of %d clips reused from %s", len(stats.reused), len(checked), out_dir)
    if not todo:
        return outs
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    log.info("clipping %d units out of %s in one pass", len(todo), src.name)
    units = [checked[name] for name in todo]
    try:
        t0 = time.perf_counter()
        inside = _pass_nodes(src, units, stats)
        stats.seconds["nodes"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        kept = None
        if pbf_scan._is_pbf(src):
            try:
                kept = _pass_ways_relations_pbf(src, len(units), inside)
            except pbf_scan._UnsupportedPbf as exc:
                log.info("%s: %s; reading ways and relations with pyosmium", src.name, exc)
        if kept is None:
            kept = _pass_ways_relations(src, len(units), inside)
        stats.seconds["ways"] = time.perf_counter() - t0
    except RuntimeError as exc:
        msg = f"cannot read OSM file {src}: {exc}"
        raise DataSourceError(msg) from exc
    stats.pairs = kept.nodes.size
    failed = [i for i in range(len(units)) if kept.highways[i] == 0]
    good = [i for i in range(len(units)) if kept.highways[i] > 0]
    t0 = time.perf_counter()
    if good:
        targets = {i: outs[todo[i]] for i in good}
        written = False
        if pbf_scan._is_pbf(src):
            try:
                _write_pbf(src, kept, targets)
                written = True
            except pbf_scan._UnsupportedPbf as exc:
                log.info("%s: %s; writing the clips with pyosmium", src.name, exc)
        if not written:
            _write(src, kept, targets)
    stats.seconds["write"] = time.perf_counter() - t0
    stats.seconds["total"] = time.perf_counter() - started
    stats.clipped = [todo[i] for i in good]
    log.info(
        "%d clips written to %s in %.1f s (nodes %.1f s, ways and relations %.1f s, write %.1f s)",
        len(good),
        out_dir,
        stats.seconds["total"],
        stats.seconds["nodes"],
        stats.seconds["ways"],
        stats.seconds["write"],
    )
    if failed:
        reasons = []
        for i in failed:
            unit_stats = extract.ClipStats(
                nodes_inside=int(kept.inside_counts[i]), ways=int(kept.way_counts[i])
            )
            reasons.append(
                f"unit {todo[i]!r}: {extract._no_roads_message(src, units[i], unit_stats)}"
            )
        msg = (
            f"{len(failed)} of {len(units)} units have no road in {src.name} (the other "
            "clips are written): " + " | ".join(reasons)
        )
        raise DataSourceError(msg)
    return outs


# ----------------------------------------------------------------- pass 1: nodes


class _UnitGrid:
    """Which units a node belongs to, by a grid of cells over the units' joint box.

    Coordinates are libosmium's int 1e-7 degrees; cell ``(i, j)`` is the closed box
    from ``x0 + i·w`` to ``x0 + (i+1)·w`` (and likewise in y), so a node in a cell that
    a unit covers whole is inside that unit, and a node in a cell a unit does not
    meet is outside it.
    """

    def __init__(self, units: list[shapely.Geometry]) -> None:
        self.units = units
        bounds = np.array([u.bounds for u in units])
        p = pbf_scan._COORD_PRECISION
        self.box = (
            math.floor(bounds[:, 0].min() * p),
            math.floor(bounds[:, 1].min() * p),
            math.ceil(bounds[:, 2].max() * p),
            math.ceil(bounds[:, 3].max() * p),
        )
        x0, y0, x1, y1 = self.box
        cells = min(_MAX_CELLS, CELLS_PER_UNIT * len(units))
        area = max(1, (x1 - x0 + 1) * (y1 - y0 + 1))
        self.w = max(1, math.ceil(math.sqrt(area / cells)))
        self.nx = (x1 - x0) // self.w + 1
        self.ny = (y1 - y0) // self.w + 1
        cell_list: list[np.ndarray] = []
        unit_list: list[np.ndarray] = []
        full_list: list[np.ndarray] = []
        for u, poly in enumerate(units):
            bx0, by0, bx1, by1 = poly.bounds
            i0, j0 = self._cell_xy(math.floor(bx0 * p), math.floor(by0 * p))
            i1, j1 = self._cell_xy(math.ceil(bx1 * p), math.ceil(by1 * p))
            ii, jj = np.meshgrid(np.arange(i0, i1 + 1), np.arange(j0, j1 + 1))
            ii, jj = ii.ravel(), jj.ravel()
            boxes = shapely.box(
                (x0 + ii * self.w) / p,
                (y0 + jj * self.w) / p,
                (x0 + (ii + 1) * self.w) / p,
                (y0 + (jj + 1) * self.w) / p,
            )
            meets = shapely.intersects(poly, boxes)
            full = shapely.covers(poly, boxes[meets])
            cell_list.append((jj * self.nx + ii)[meets])
            unit_list.append(np.full(int(meets.sum()), u, np.int64))
            full_list.append(full)
        cell = np.concatenate(cell_list)
        order = np.argsort(cell, kind="stable")
        self.pair_unit = np.concatenate(unit_list)[order]
        self.pair_full = np.concatenate(full_list)[order]
        counts = np.bincount(cell, minlength=self.nx * self.ny)
        self.start = np.zeros(counts.size + 1, np.int64)
        np.cumsum(counts, out=self.start[1:])

    def _cell_xy(self, x: int, y: int) -> tuple[int, int]:
        x0, y0, _, _ = self.box
        i = min(max((x - x0) // self.w, 0), self.nx - 1)
        j = min(max((y - y0) // self.w, 0), self.ny - 1)
        return i, j

    def assign(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(index of the node, unit) of every node inside a unit (or on its edge)."""
        x0, y0, x1, y1 = self.box
        ok = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
        idx = np.flatnonzero(ok)
        cell = ((y[idx] - y0) // self.w) * self.nx + (x[idx] - x0) // self.w
        first = self.start[cell]
        counts = self.start[cell + 1] - first
        point = np.repeat(idx, counts)
        ends = np.cumsum(counts)
        pair = np.repeat(first - (ends - counts), counts) + np.arange(ends[-1] if ends.size else 0)
        unit = self.pair_unit[pair]
        inside = self.pair_full[pair].copy()
        test = np.flatnonzero(~inside)
        if test.size:
            by_unit = test[np.argsort(unit[test], kind="stable")]
            units_sorted = unit[by_unit]
            cuts = np.flatnonzero(np.diff(units_sorted)) + 1
            p = pbf_scan._COORD_PRECISION
            for part in np.split(by_unit, cuts):
                poly = self.units[int(unit[part[0]])]
                pts = point[part]
                inside[part] = shapely.intersects_xy(poly, x[pts] / p, y[pts] / p)
        return point[inside], unit[inside]


def _pass_nodes(src: Path, units: list[shapely.Geometry], stats: ClipManyStats) -> np.ndarray:
    """Sorted keys ``node id × n + unit`` of the nodes inside each unit (or on its edge)."""
    grid = _UnitGrid(units)
    n = len(units)
    keys: list[np.ndarray] = []
    pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    held = 0

    def flush() -> None:
        nonlocal held
        if not pending:
            return
        ids = np.concatenate([p[0] for p in pending])
        x = np.concatenate([p[1] for p in pending])
        y = np.concatenate([p[2] for p in pending])
        pending.clear()
        held = 0
        point, unit = grid.assign(x, y)
        keys.append(ids[point] * n + unit)

    def add(ids: np.ndarray, x: np.ndarray, y: np.ndarray) -> None:
        nonlocal held
        pending.append((ids, x, y))
        held += ids.size
        if held >= NODE_BATCH:
            flush()

    scanned = None
    if pbf_scan._is_pbf(src):
        try:
            scanned = pbf_scan._scan_pbf_nodes(src, grid.box, add)
        except pbf_scan._UnsupportedPbf as exc:
            log.info("%s: %s; scanning nodes with pyosmium instead", src.name, exc)
            keys.clear()
            pending.clear()
            held = 0
        except (IndexError, ValueError, OverflowError, zlib.error, lzma.LZMAError) as exc:
            msg = f"cannot read OSM file {src}: corrupt PBF data ({type(exc).__name__}: {exc})"
            raise DataSourceError(msg) from exc
    if scanned is None:
        scanned = pbf_scan._scan_osmium_nodes(src, grid.box, add)
    flush()
    stats.nodes_scanned = scanned
    inside = _unique(np.concatenate(keys)) if keys else np.zeros(0, np.int64)
    log.info("pass 1/3: %d nodes scanned, %d (node, unit) pairs inside", scanned, inside.size)
    return inside


# ------------------------------------------------- pass 2: ways, relations


@dataclass
class _Kept:
    """Sorted keys ``id × n + unit`` of what each unit keeps, and counts per unit."""

    n: int
    nodes: np.ndarray
    ways: np.ndarray
    relations: np.ndarray
    inside_counts: np.ndarray
    way_counts: np.ndarray
    highways: np.ndarray


def _unique(keys: np.ndarray) -> np.ndarray:
    """Sorted distinct values of an int64 array (by sorting: numpy 2.3+'s hash-based
    :func:`numpy.unique` took 15 times longer on these keys)."""
    keys = np.sort(keys)
    if keys.size < 2:
        return keys
    return keys[np.concatenate(([True], keys[1:] != keys[:-1]))]


def _split(keys: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sorted keys → unique ids, start of each id's units, units (CSR)."""
    ids = keys // n
    first = np.flatnonzero(np.concatenate(([True], ids[1:] != ids[:-1]))) if ids.size else ids
    start = np.append(first, ids.size).astype(np.int64)
    return ids[first], start, keys % n


def _units_of(
    refs: np.ndarray, table: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """(index into ``refs``, unit) for every unit holding each ref."""
    uniq, start, units = table
    pos = np.searchsorted(uniq, refs)
    pos_c = np.minimum(pos, max(uniq.size - 1, 0))
    hit = (pos < uniq.size) & (uniq[pos_c] == refs) if uniq.size else np.zeros(refs.size, bool)
    idx = np.flatnonzero(hit)
    first = start[pos_c[idx]]
    counts = start[pos_c[idx] + 1] - first
    ends = np.cumsum(counts)
    total = int(ends[-1]) if ends.size else 0
    pair = np.repeat(first - (ends - counts), counts) + np.arange(total)
    return np.repeat(idx, counts), units[pair]


class _WayPairs:
    """Pass 2's bookkeeping: the (way, unit) and (node, unit) keys of the kept ways."""

    def __init__(self, n: int, inside: np.ndarray) -> None:
        self.n = n
        self.inside = inside
        self.table = _split(inside, n)
        self.way_keys: list[np.ndarray] = []
        self.node_keys: list[np.ndarray] = [inside]
        self.way_counts = np.zeros(n, np.int64)
        self.highways = np.zeros(n, np.int64)

    def add(
        self, way_ids: np.ndarray, lengths: np.ndarray, ref_arr: np.ndarray, is_hw: np.ndarray
    ) -> None:
        """A batch of ways: ids, number of node refs of each, the refs, highway or not."""
        n = self.n
        if not way_ids.size:
            return
        way_of_ref = np.repeat(np.arange(way_ids.size), lengths)
        ref_idx, unit = _units_of(ref_arr, self.table)
        pairs = _unique(way_of_ref[ref_idx] * n + unit)
        w, u = pairs // n, pairs % n
        self.way_keys.append(way_ids[w] * n + u)
        self.way_counts += np.bincount(u, minlength=n)
        self.highways += np.bincount(u[is_hw[w]], minlength=n)
        # the nodes of each kept way, for each unit keeping it
        offsets = np.zeros(way_ids.size + 1, np.int64)
        np.cumsum(lengths, out=offsets[1:])
        counts = lengths[w]
        ends = np.cumsum(counts)
        total = int(ends[-1]) if ends.size else 0
        pos = np.repeat(offsets[w] - (ends - counts), counts) + np.arange(total)
        self.node_keys.append(_unique(ref_arr[pos] * n + np.repeat(u, counts)))

    def kept(self, relations: list[tuple[int, list[tuple[str, int]]]]) -> _Kept:
        n = self.n
        nodes = _unique(np.concatenate(self.node_keys))
        ways = np.sort(np.concatenate(self.way_keys)) if self.way_keys else np.zeros(0, np.int64)
        rels = _relations(relations, n, nodes, ways)
        return _Kept(
            n=n,
            nodes=nodes,
            ways=ways,
            relations=rels,
            inside_counts=np.bincount(self.inside % n, minlength=n),
            way_counts=self.way_counts,
            highways=self.highways,
        )


def _not_sorted(src: Path, way_id: int) -> DataSourceError:
    msg = (
        f"{src} is not sorted (way w{way_id} after a relation); sort it first, "
        "e.g. `osmium sort` (ways must come before relations)"
    )
    return DataSourceError(msg)


def _pass_ways_relations(src: Path, n: int, inside: np.ndarray) -> _Kept:
    """Ways with a node inside each unit (kept whole), their nodes, and relations
    (any file pyosmium reads; one way at a time through Python)."""
    pairs = _WayPairs(n, inside)
    ids: list[int] = []
    lens: list[int] = []
    refs: list[int] = []
    hw: list[bool] = []

    def flush() -> None:
        pairs.add(
            np.asarray(ids, np.int64),
            np.asarray(lens, np.int64),
            np.asarray(refs, np.int64),
            np.asarray(hw, bool),
        )
        ids.clear()
        lens.clear()
        refs.clear()
        hw.clear()

    relations: list[tuple[int, list[tuple[str, int]]]] = []
    ways_done = False
    with tqdm(
        desc=f"clip_many: ways and relations of {src.name}",
        unit=" objects",
        unit_scale=True,
        disable=not settings.progress,
    ) as bar:
        processor = osmium.FileProcessor(str(src), osmium.osm.WAY | osmium.osm.RELATION)
        for count, obj in enumerate(processor, 1):
            if not count & 0xFFFF:
                bar.update(0x10000)
            if obj.is_way():
                if ways_done:
                    raise _not_sorted(src, obj.id)
                way_refs = [nd.ref for nd in obj.nodes]
                ids.append(obj.id)
                lens.append(len(way_refs))
                refs.extend(way_refs)
                hw.append("highway" in obj.tags)
                if len(refs) >= WAY_BATCH:
                    flush()
                continue
            ways_done = True
            relations.append((obj.id, [(m.type, m.ref) for m in obj.members]))
    flush()
    return pairs.kept(relations)


def _decoded_blocks(src: Path, *, skip_nodes: bool, desc: str) -> Iterator[pbf_blocks.Block]:
    """The data blocks of a PBF file, decoded on worker threads, in file order.

    Raises ``pbf_scan._UnsupportedPbf`` for what :mod:`pbf_blocks` does not handle
    (the callers then use pyosmium) and :class:`DataSourceError` for corrupt data.
    """
    size = src.stat().st_size

    def work(blob: bytes) -> pbf_blocks.Block:
        return pbf_blocks.decode(pbf_scan._unpack_blob(blob), skip_nodes=skip_nodes)

    with (
        tqdm(
            total=size, desc=desc, unit="B", unit_scale=True, disable=not settings.progress
        ) as bar,
        concurrent.futures.ThreadPoolExecutor(pbf_scan._SCAN_THREADS) as pool,
    ):
        blobs = pbf_scan._read_blobs(src, bar)
        pending: list[concurrent.futures.Future[pbf_blocks.Block]] = []
        try:
            first = next(blobs, None)
            if first is None or first[0] != b"OSMHeader":
                msg = f"{src} is not a valid OSM PBF file (no OSMHeader block first)"
                raise DataSourceError(msg)
            required, _ = pbf_scan._header_features(pbf_scan._unpack_blob(first[1]))
            unknown = required - pbf_scan._KNOWN_FEATURES
            if unknown:
                msg = f"PBF features {sorted(unknown)}"
                raise pbf_scan._UnsupportedPbf(msg)
            window = 4 * pbf_scan._SCAN_THREADS
            for blob_type, blob in blobs:
                if blob_type != b"OSMData":
                    continue
                pending.append(pool.submit(work, blob))
                while len(pending) >= window:
                    yield pending.pop(0).result()
            while pending:
                yield pending.pop(0).result()
        except _CORRUPT as exc:
            msg = f"cannot read OSM file {src}: corrupt PBF data ({type(exc).__name__}: {exc})"
            raise DataSourceError(msg) from exc
        finally:
            blobs.close()
            for fut in pending:
                fut.cancel()


def _pass_ways_relations_pbf(src: Path, n: int, inside: np.ndarray) -> _Kept:
    """:func:`_pass_ways_relations` for a PBF file, ways decoded block by block (numba)."""
    pairs = _WayPairs(n, inside)
    relations: list[tuple[int, list[tuple[str, int]]]] = []
    batch: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    held = 0
    type_names = np.array(["n", "w", "r"])
    seen_relation = False

    def flush() -> None:
        nonlocal held
        if batch:
            pairs.add(*(np.concatenate([b[k] for b in batch]) for k in range(4)))
        batch.clear()
        held = 0

    for block in _decoded_blocks(
        src, skip_nodes=True, desc=f"clip_many: ways and relations of {src.name}"
    ):
        if not len(block):
            continue
        is_way = block.kind == pbf_blocks.WAY
        ways = np.flatnonzero(is_way)
        rels = np.flatnonzero(block.kind == pbf_blocks.RELATION)
        if ways.size:
            if seen_relation or (rels.size and rels[0] < ways[-1]):
                first_late = ways[0] if seen_relation else ways[ways > rels[0]][0]
                raise _not_sorted(src, int(block.ids[first_late]))
            lengths = np.diff(block.mem_start)
            owner = np.repeat(np.arange(len(block)), lengths)
            refs = block.refs[is_way[owner]]
            hw_index = [i for i, s in enumerate(block.strings) if s == b"highway"]
            tag_owner = np.repeat(np.arange(len(block)), np.diff(block.tag_start))
            has_hw = np.zeros(len(block), bool)
            has_hw[tag_owner[np.isin(block.keys, hw_index)]] = True
            batch.append((block.ids[ways], lengths[ways], refs, has_hw[ways]))
            held += refs.size
            if held >= WAY_BATCH:
                flush()
        if rels.size:
            seen_relation = True
            starts = block.mem_start.tolist()
            types = type_names[block.types].tolist()
            refs_all = block.refs.tolist()
            for e in rels.tolist():
                a, b = starts[e], starts[e + 1]
                relations.append((int(block.ids[e]), list(zip(types[a:b], refs_all[a:b]))))
    flush()
    return pairs.kept(relations)


def _relations(
    relations: list[tuple[int, list[tuple[str, int]]]],
    n: int,
    nodes: np.ndarray,
    ways: np.ndarray,
) -> np.ndarray:
    """Keys of the relations each unit keeps: a kept member node or way, or a kept
    member relation at any depth (a fixed point, as ``clip``'s waiting list gives)."""
    kept: dict[int, set[int]] = {}
    children: list[tuple[int, list[int]]] = []
    tables = {"n": _split(nodes, n), "w": _split(ways, n)}
    for kind, table in tables.items():
        rel_of: list[int] = []
        refs: list[int] = []
        for rel_id, members in relations:
            for mtype, ref in members:
                if mtype == kind:
                    rel_of.append(rel_id)
                    refs.append(ref)
        if not refs:
            continue
        idx, units = _units_of(np.asarray(refs, np.int64), table)
        rel_arr = np.asarray(rel_of, np.int64)[idx]
        for rel_id, unit in zip(rel_arr.tolist(), units.tolist()):
            kept.setdefault(rel_id, set()).add(unit)
    for rel_id, members in relations:
        sub = [ref for mtype, ref in members if mtype == "r"]
        if sub:
            children.append((rel_id, sub))
    changed = True
    while changed:
        changed = False
        for rel_id, sub in children:
            have = kept.setdefault(rel_id, set())
            for child in sub:
                extra = kept.get(child, set()) - have
                if extra:
                    have |= extra
                    changed = True
    keys = [rel_id * n + u for rel_id, units in kept.items() for u in units]
    return _unique(np.asarray(keys, np.int64))


# ----------------------------------------------------------------- pass 3: write


def _write(src: Path, kept: _Kept, outs: dict[int, Path]) -> None:
    """Write each unit's kept objects to its file, in one read of the source."""
    n = kept.n
    header = extract._clip_header(src)
    tmps = {u: out.with_name(f".{secrets.token_hex(4)}.part.{out.name}") for u, out in outs.items()}
    writers: dict[int, osmium.SimpleWriter] = {}
    tables = {
        "n": _split(kept.nodes, n),
        "w": _split(kept.ways, n),
        "r": _split(kept.relations, n),
    }
    try:
        for u, tmp in tmps.items():
            writers[u] = osmium.SimpleWriter(
                str(tmp), bufsz=WRITER_BUFFER, header=header, overwrite=True
            )
        with tqdm(
            desc=f"clip_many: writing {len(outs)} clips",
            unit=" objects",
            unit_scale=True,
            disable=not settings.progress,
        ) as bar:
            kind = ""
            uniq = start = units = np.zeros(0, np.int64)
            i = 0
            nxt = math.inf
            for count, obj in enumerate(osmium.FileProcessor(str(src)), 1):
                if not count & 0xFFFF:
                    bar.update(0x10000)
                t = obj.type_str()
                if t != kind:
                    kind = t
                    uniq, start, units = tables[t]
                    i = 0
                    nxt = int(uniq[0]) if uniq.size else math.inf
                oid = obj.id
                while nxt < oid:
                    i += 1
                    nxt = int(uniq[i]) if i < uniq.size else math.inf
                if nxt != oid:
                    continue
                for u in units[start[i] : start[i + 1]].tolist():
                    w = writers.get(u)
                    if w is not None:
                        w.add(obj)
        for w in writers.values():
            w.close()
        for u, out in outs.items():
            os.replace(tmps[u], out)
    except RuntimeError as exc:
        msg = (
            f"cannot clip {src} into {len(outs)} files in {next(iter(outs.values())).parent}: {exc}"
        )
        raise DataSourceError(msg) from exc
    finally:
        for w in writers.values():
            try:
                w.close()
            except RuntimeError:
                pass
        for tmp in tmps.values():
            tmp.unlink(missing_ok=True)


def _header_frame(src: Path, folder: Path) -> bytes:
    """The ``OSMHeader`` blob of a clip of ``src``, as libosmium writes it (from an
    empty file written with :func:`extract._clip_header`)."""
    tmp = folder / f".{secrets.token_hex(4)}.header.osm.pbf"
    try:
        with osmium.SimpleWriter(str(tmp), header=extract._clip_header(src), overwrite=True):
            pass
        data = tmp.read_bytes()
    finally:
        tmp.unlink(missing_ok=True)
    out = bytearray()
    pos = 0
    while pos + 4 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        head = memoryview(data)[pos + 4 : pos + 4 + length]
        blob_type, size = b"", 0
        for number, a, b in pbf_scan._fields(head):
            if number == 1:
                blob_type = bytes(head[a:b])
            elif number == 3:
                size = a
        end = pos + 4 + length + size
        if blob_type == b"OSMHeader":
            out += data[pos:end]
        pos = end
    return bytes(out)


def _write_pbf(src: Path, kept: _Kept, outs: dict[int, Path]) -> None:
    """:func:`_write` for a PBF file: blocks decoded and encoded with numba, no object
    passing through Python.

    The source's objects are decoded :data:`CHUNK_OBJECTS` at a time; the kept
    (object, unit) pairs of a chunk are sorted by unit, then by position in the file,
    and each unit's objects of the chunk are written as blocks of at most 8,000 (one
    kind each), encoded and compressed on worker threads. Each unit's file thus gets
    the kept objects in the source's order, with the header libosmium writes for
    :func:`extract.clip`.
    """
    n = kept.n
    folder = next(iter(outs.values())).parent
    tmps = {u: out.with_name(f".{secrets.token_hex(4)}.part.{out.name}") for u, out in outs.items()}
    tables = {
        pbf_blocks.NODE: _split(kept.nodes, n),
        pbf_blocks.WAY: _split(kept.ways, n),
        pbf_blocks.RELATION: _split(kept.relations, n),
    }
    wanted = np.zeros(n, bool)
    wanted[list(outs)] = True
    files: dict[int, BinaryIO] = {}
    chunk: list[pbf_blocks.Block] = []
    held = 0

    def write_chunk(pool: concurrent.futures.ThreadPoolExecutor) -> None:
        nonlocal held
        if not chunk:
            return
        big = pbf_blocks.concat(chunk) if len(chunk) > 1 else chunk[0]
        chunk.clear()
        held = 0
        encoder = pbf_blocks.Encoder(big)
        jobs: list[tuple[int, np.ndarray]] = []
        for kind in (pbf_blocks.NODE, pbf_blocks.WAY, pbf_blocks.RELATION):
            of_kind = np.flatnonzero(big.kind == kind)
            if not of_kind.size:
                continue
            idx, unit = _units_of(big.ids[of_kind], tables[kind])
            keep = wanted[unit]
            idx, unit = idx[keep], unit[keep]
            order = np.lexsort((idx, unit))
            sel, unit = of_kind[idx[order]], unit[order]
            cuts = np.flatnonzero(np.diff(unit)) + 1
            for part in np.split(np.arange(sel.size), cuts):
                if not part.size:
                    continue
                u = int(unit[part[0]])
                for a in range(0, part.size, pbf_blocks.MAX_ENTITIES):
                    piece = sel[part[a : a + pbf_blocks.MAX_ENTITIES]]
                    jobs.append((u, piece))
        window = 4 * pbf_scan._SCAN_THREADS
        pending: list[tuple[int, concurrent.futures.Future[bytes]]] = []

        def work(piece: np.ndarray) -> bytes:
            return pbf_blocks.frame(encoder.encode(piece), ZLIB_LEVEL)

        for u, piece in jobs:
            pending.append((u, pool.submit(work, piece)))
            while len(pending) >= window:
                v, fut = pending.pop(0)
                files[v].write(fut.result())
        for v, fut in pending:
            files[v].write(fut.result())

    try:
        header = _header_frame(src, folder)
        for u, tmp in tmps.items():
            fh = open(tmp, "wb")  # closed below, with the others
            files[u] = fh
            fh.write(header)
        with concurrent.futures.ThreadPoolExecutor(pbf_scan._SCAN_THREADS) as pool:
            for block in _decoded_blocks(
                src, skip_nodes=False, desc=f"clip_many: writing {len(outs)} clips"
            ):
                chunk.append(block)
                held += len(block)
                if held >= CHUNK_OBJECTS:
                    write_chunk(pool)
            write_chunk(pool)
        for fh in files.values():
            fh.close()
        for u, out in outs.items():
            os.replace(tmps[u], out)
    except _CORRUPT as exc:
        msg = f"cannot read OSM file {src}: corrupt PBF data ({type(exc).__name__}: {exc})"
        raise DataSourceError(msg) from exc
    except OSError as exc:
        msg = f"cannot clip {src} into {len(outs)} files in {folder}: {exc}"
        raise DataSourceError(msg) from exc
    finally:
        for fh in files.values():
            fh.close()
        for tmp in tmps.values():
            tmp.unlink(missing_ok=True)
