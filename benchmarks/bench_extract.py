"""Benchmark of ``accessibility.sources.extract``: clip a county out of a province-sized PBF.

The "province" is synthetic: a grid of sample counties (``accessibility.sources.sample``,
a few seeds, each county repeated and shifted in space) written into one sorted
``.osm.pbf`` under /tmp, with ids spread over the range real OSM ids use today so
that id sets cost what they would on a real extract. See ``benchmarks/README.md``.

Usage::

    .venv/bin/python benchmarks/bench_extract.py [--tiles 10000] [--seeds 6] [--quick]
        [--no-baseline] [--workdir /tmp/accessibility-bench-extract]
        [--many N [--many-single K]]

``--many N`` clips the first N tiles (each + 2 km): K of them one by one with
``extract.clip`` (the mean is extrapolated to N), all N with
``clip_many.clip_many`` in one pass, a rerun of it (nothing to clip), and, when
osmium-tool is installed, ``osmium extract --config --strategy complete_ways`` on
the same K units; results in ``benchmarks/results/extract_many.json``.

Each measurement runs in a fresh child process (so that its peak RSS is its own).
Prints a table on stdout, progress on stderr, and writes the numbers to
``benchmarks/results/extract.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import math
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import osmium
import osmium.version
import pyproj
import shapely

from accessibility.sources import sample

log = logging.getLogger("bench_extract")

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "extract.json"
#: Bump when the generated province changes for the same options.
PROVINCE_VERSION = "5"
#: Real OSM ids (2026): nodes up to about 1.3e10, ways 1.4e9, relations 2e7.
NODE_ID_RANGE = 12_500_000_000
WAY_ID_RANGE = 1_400_000_000
RELATION_ID_RANGE = 19_000_000
#: Consecutive ids a tile keeps together (an "edit session"), nodes and ways.
NODE_RUN = 32
WAY_RUN = 16
#: Buffer of the clip polygon around the county boundary, metres.
BUFFER_M = 2000.0


# ------------------------------------------------------------------ the province


def _opl_escape(text: str) -> str:
    return "".join(f"%{ord(c):x}%" if c in " ,=@%" or ord(c) < 32 else c for c in text)


def _opl_tags(tags: dict[str, str]) -> str:
    return ",".join(f"{_opl_escape(k)}={_opl_escape(v)}" for k, v in tags.items())


class _Seed:
    """One sample county held compactly: coordinates, OPL tag strings, local indices."""

    def __init__(self, path: Path, boundary: shapely.Geometry) -> None:
        node_ids: list[int] = []
        xs: list[int] = []
        ys: list[int] = []
        node_tags: list[str] = []
        ways: list[tuple[int, list[int], str]] = []
        self.relations: list[tuple[int, list[tuple[str, int, str]], dict[str, str]]] = []
        for obj in osmium.FileProcessor(str(path)):
            tags = {t.k: t.v for t in obj.tags}
            if obj.is_node():
                node_ids.append(obj.id)
                xs.append(obj.location.x)
                ys.append(obj.location.y)
                node_tags.append(_opl_tags(tags))
            elif obj.is_way():
                ways.append((obj.id, [n.ref for n in obj.nodes], _opl_tags(tags)))
            else:
                members = [(m.type, m.ref, m.role) for m in obj.members]
                self.relations.append((obj.id, members, tags))
        order = np.argsort(node_ids)
        self.node_ids = np.asarray(node_ids, np.int64)[order]
        self.x = np.asarray(xs, np.int64)[order]
        self.y = np.asarray(ys, np.int64)[order]
        self.node_tags = [node_tags[i] for i in order]
        ways.sort()
        self.way_ids = np.asarray([w[0] for w in ways], np.int64)
        self.way_refs = [np.searchsorted(self.node_ids, w[1]) for w in ways]
        self.way_tags = [w[2] for w in ways]
        self.boundary = boundary
        self.bounds = (
            self.x.min() / 1e7,
            self.y.min() / 1e7,
            self.x.max() / 1e7,
            self.y.max() / 1e7,
        )

    @property
    def n_nodes(self) -> int:
        return len(self.node_ids)

    @property
    def n_ways(self) -> int:
        return len(self.way_ids)


class _Layout:
    """Where tile ``k`` goes and which ids it gets."""

    def __init__(self, tiles: int, seeds: list[_Seed]) -> None:
        self.tiles = tiles
        self.seeds = seeds
        self.cols = math.ceil(math.sqrt(tiles))
        self.rows = math.ceil(tiles / self.cols)
        self.step_x = max(s.bounds[2] - s.bounds[0] for s in seeds) + 0.02
        self.step_y = max(s.bounds[3] - s.bounds[1] for s in seeds) + 0.02
        node_rounds = math.ceil(max(s.n_nodes for s in seeds) / NODE_RUN)
        way_rounds = math.ceil(max(s.n_ways for s in seeds) / WAY_RUN)
        self.node_rounds, self.way_rounds = node_rounds, way_rounds
        self.node_stride = max(1, NODE_ID_RANGE // (node_rounds * tiles * NODE_RUN))
        self.way_stride = max(1, WAY_ID_RANGE // (way_rounds * tiles * WAY_RUN))
        self.relation_stride = max(1, RELATION_ID_RANGE // (tiles * 8))
        self.centre = (self.rows // 2) * self.cols + self.cols // 2
        if self.centre >= tiles:
            self.centre = tiles // 2

    def seed(self, k: int) -> _Seed:
        return self.seeds[k % len(self.seeds)]

    def shift(self, k: int) -> tuple[int, int]:
        """Offset of tile ``k`` in 1e-7 degrees; the centre tile stays where the sample is."""
        col, row = k % self.cols, k // self.cols
        ccol, crow = self.centre % self.cols, self.centre // self.cols
        return (
            round((col - ccol) * self.step_x * 1e7),
            round((row - crow) * self.step_y * 1e7),
        )

    def node_id(self, k: int, local: np.ndarray) -> np.ndarray:
        run, pos = np.divmod(local, NODE_RUN)
        return ((run * self.tiles + k) * NODE_RUN + pos) * self.node_stride + 1

    def way_id(self, k: int, local: np.ndarray) -> np.ndarray:
        run, pos = np.divmod(local, WAY_RUN)
        return ((run * self.tiles + k) * WAY_RUN + pos) * self.way_stride + 1

    def relation_id(self, k: int, local: int) -> int:
        return (k * 8 + local) * self.relation_stride + 1

    def boundary(self, k: int) -> shapely.Geometry:
        dx, dy = self.shift(k)
        return shapely.transform(self.seed(k).boundary, lambda c: c + np.array([dx, dy]) / 1e7)


#: Timestamps objects get (picked by a hash of the id), 2010–2026.
_STAMPS = [
    dt.datetime.fromtimestamp(1_262_304_000 + i * 123_457, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for i in range(4096)
]


def _metadata(ids: np.ndarray, run: int, rounds: int, k: int, layout: _Layout) -> list[str]:
    """OPL ``v``/``c``/``t`` fields of a run of ids, like a public extract's (no user names).

    Most objects are as created in the run's edit session (version 1, one changeset,
    one time, later runs later); one in four was edited since (random version,
    changeset and time), so the metadata does not compress away.
    """
    order = run * layout.tiles + k
    stamp0 = order * (len(_STAMPS) - 1) // (rounds * layout.tiles)
    changeset0 = 1_000_000 + order * 37
    z = ids.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    z ^= z >> np.uint64(31)
    z *= np.uint64(0xBF58476D1CE4E5B9)
    h = (z >> np.uint64(20)).astype(np.int64)
    edited = (h & 3) == 0
    version = np.where(edited, 2 + (h >> 2) % 7, 1)
    changeset = np.where(edited, changeset0 + (h >> 5) % 100_000_000, changeset0)
    stamp = np.where(edited, np.maximum(stamp0, (h >> 30) % len(_STAMPS)), stamp0)
    return [
        f"v{v} c{c} t{_STAMPS[t]}"
        for v, c, t in zip(version.tolist(), changeset.tolist(), stamp.tolist())
    ]


def tile_name(k: int) -> tuple[str, str, str]:
    """Chinese name, English name and code of tile ``k``'s county (all synthetic)."""
    return f"合成县{k:04d}", f"Synthetic County {k:04d}", f"99{k:04d}"


#: What ``build_province(extra=...)`` adds: OPL lines of nodes, ways and relations,
#: each with ids above the tiles' (they are written after them, keeping the file sorted).
Extra = Callable[["_Layout"], tuple[list[str], list[str], list[str]]]


def build_province(
    path: Path, *, tiles: int, n_seeds: int, work: Path, extra: Extra | None = None
) -> dict[str, Any]:
    """Write the synthetic province (sorted ``.osm.pbf``) and return its description.

    ``extra(layout)`` gives objects to add after the tiles' (e.g. the province's and
    prefectures' boundaries, ``benchmarks/bench_province.py``)."""
    t0 = time.perf_counter()
    seeds: list[_Seed] = []
    for s in range(n_seeds):
        files = sample.generate(work / f"seed{s}", seed=1000 + s)
        boundary = shapely.from_geojson(files.boundary.read_text(encoding="utf-8"))
        if boundary.geom_type == "GeometryCollection":
            boundary = boundary.geoms[0]
        seeds.append(_Seed(files.osm, boundary))
        print(
            f"  seed {s}: {seeds[-1].n_nodes:,} nodes, {seeds[-1].n_ways:,} ways", file=sys.stderr
        )
    layout = _Layout(tiles, seeds)
    added = extra(layout) if extra is not None else ([], [], [])
    xmin = min(layout.shift(k)[0] for k in range(tiles)) / 1e7 + min(s.bounds[0] for s in seeds)
    xmax = max(layout.shift(k)[0] for k in range(tiles)) / 1e7 + max(s.bounds[2] for s in seeds)
    ymin = min(layout.shift(k)[1] for k in range(tiles)) / 1e7 + min(s.bounds[1] for s in seeds)
    ymax = max(layout.shift(k)[1] for k in range(tiles)) / 1e7 + max(s.bounds[3] for s in seeds)
    header = osmium.io.Header()
    header.set("generator", "accessibility benchmarks/bench_extract.py (synthetic province)")
    header.set("sorting", "Type_then_ID")
    header.add_box(osmium.osm.Box(xmin, ymin, xmax, ymax))

    counts = {"nodes": 0, "ways": 0, "relations": 0}
    tmp = path.with_name(f".part.{path.name}")
    tmp.unlink(missing_ok=True)
    lines: list[str] = []

    def flush(writer: osmium.SimpleWriter, force: bool = False) -> None:
        if lines and (force or len(lines) >= 200_000):
            osmium.apply(osmium.io.FileBuffer("".join(lines).encode("utf-8"), "opl"), writer)
            lines.clear()

    with osmium.SimpleWriter(str(tmp), header=header) as writer:
        # nodes, in id order: runs of NODE_RUN ids, tile after tile, round after round
        for r in range(layout.node_rounds):
            for k in range(tiles):
                seed = layout.seed(k)
                lo, hi = r * NODE_RUN, min((r + 1) * NODE_RUN, seed.n_nodes)
                if lo >= hi:
                    continue
                dx, dy = layout.shift(k)
                ids = layout.node_id(k, np.arange(lo, hi))
                meta = _metadata(ids, r, layout.node_rounds, k, layout)
                xs = (seed.x[lo:hi] + dx) / 1e7
                ys = (seed.y[lo:hi] + dy) / 1e7
                tags = seed.node_tags[lo:hi]
                lines.extend(
                    f"n{i} {m} x{x:.7f} y{y:.7f} T{t}\n"
                    for i, m, x, y, t in zip(ids.tolist(), meta, xs.tolist(), ys.tolist(), tags)
                )
                counts["nodes"] += hi - lo
                flush(writer)
            if r % 10 == 0:
                print(f"  nodes: round {r + 1}/{layout.node_rounds}", file=sys.stderr)
        lines.extend(added[0])
        counts["nodes"] += len(added[0])
        flush(writer, force=True)
        # ways, the same way
        for r in range(layout.way_rounds):
            for k in range(tiles):
                seed = layout.seed(k)
                lo, hi = r * WAY_RUN, min((r + 1) * WAY_RUN, seed.n_ways)
                if lo >= hi:
                    continue
                refs = seed.way_refs[lo:hi]
                gids = layout.node_id(k, np.concatenate(refs)).tolist()
                way_ids_arr = layout.way_id(k, np.arange(lo, hi))
                way_ids = way_ids_arr.tolist()
                meta = _metadata(way_ids_arr, r, layout.way_rounds, k, layout)
                pos = 0
                for w, m, local, r_local in zip(way_ids, meta, range(lo, hi), refs):
                    nd = ",".join(f"n{g}" for g in gids[pos : pos + len(r_local)])
                    pos += len(r_local)
                    lines.append(f"w{w} {m} T{seed.way_tags[local]} N{nd}\n")
                counts["ways"] += hi - lo
                flush(writer)
            if r % 5 == 0:
                print(f"  ways: round {r + 1}/{layout.way_rounds}", file=sys.stderr)
        lines.extend(added[1])
        counts["ways"] += len(added[1])
        flush(writer, force=True)
        # relations: the county boundaries, renamed per tile
        for k in range(tiles):
            seed = layout.seed(k)
            gnode = layout.node_id(k, np.arange(seed.n_nodes))
            way_local = {int(w): i for i, w in enumerate(seed.way_ids.tolist())}
            for local, (_, members, tags) in enumerate(seed.relations):
                tags = dict(tags)
                if tags.get("boundary") == "administrative":
                    zh, en, code = tile_name(k)
                    tags.update({"name": zh, "name:zh": zh, "name:en": en, "ref": code})
                out = []
                for kind, ref, role in members:
                    if kind == "n":
                        gid = int(gnode[np.searchsorted(seed.node_ids, ref)])
                    elif kind == "w":
                        gid = int(layout.way_id(k, np.asarray(way_local[ref])))
                    else:
                        gid = layout.relation_id(k, ref - 1)
                    out.append(f"{kind}{gid}@{_opl_escape(role)}")
                rid = layout.relation_id(k, local)
                (m,) = _metadata(np.asarray([rid]), 0, 1, k, layout)
                lines.append(f"r{rid} {m} T{_opl_tags(tags)} M{','.join(out)}\n")
                counts["relations"] += 1
        lines.extend(added[2])
        counts["relations"] += len(added[2])
        flush(writer, force=True)
    os.replace(tmp, path)
    centre = layout.centre
    meta = {
        "version": PROVINCE_VERSION,
        "tiles": tiles,
        "seeds": n_seeds,
        "size_bytes": path.stat().st_size,
        "counts": counts,
        "bbox": [xmin, ymin, xmax, ymax],
        "grid": [layout.cols, layout.rows],
        "max_node_id": int(
            layout.node_id(tiles - 1, np.asarray(layout.node_rounds * NODE_RUN - 1))
        ),
        "centre_tile": centre,
        "centre_name": tile_name(centre)[0],
        "centre_boundary_wkt": shapely.to_wkt(layout.boundary(centre), rounding_precision=7),
        # enough to rebuild any tile's boundary (``tile_boundary``) for --many
        "seed_boundaries_wkt": [shapely.to_wkt(s.boundary, rounding_precision=7) for s in seeds],
        "shifts": [list(layout.shift(k)) for k in range(tiles)],
        "build_s": time.perf_counter() - t0,
    }
    path.with_suffix(".json").write_text(
        json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    return meta


def ensure_province(path: Path, *, tiles: int, n_seeds: int) -> dict[str, Any]:
    meta_path = path.with_suffix(".json")
    if path.is_file() and meta_path.is_file():
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if (
            meta.get("version") == PROVINCE_VERSION
            and meta.get("tiles") == tiles
            and meta.get("seeds") == n_seeds
            and meta.get("size_bytes") == path.stat().st_size
        ):
            print(f"reusing {path} ({meta['size_bytes'] / 1e6:,.0f} MB)", file=sys.stderr)
            meta["reused"] = True
            return meta
    print(f"building {path}: {tiles} tiles from {n_seeds} sample counties", file=sys.stderr)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = build_province(path, tiles=tiles, n_seeds=n_seeds, work=path.parent / "seeds")
    meta["reused"] = False
    return meta


def clip_polygon(meta: dict[str, Any]) -> shapely.Geometry:
    """The centre county's boundary buffered by BUFFER_M metres (in UTM 50N), WGS-84."""
    return buffered(shapely.from_wkt(meta["centre_boundary_wkt"]))


def buffered(boundary: shapely.Geometry) -> shapely.Geometry:
    """``boundary`` (WGS-84) buffered by BUFFER_M metres in UTM 50N, back in WGS-84."""
    to_utm = pyproj.Transformer.from_crs(4326, 32650, always_xy=True)
    to_wgs = pyproj.Transformer.from_crs(32650, 4326, always_xy=True)

    def project(tr: pyproj.Transformer):
        return lambda c: np.column_stack(tr.transform(c[:, 0], c[:, 1]))

    return shapely.transform(
        shapely.transform(boundary, project(to_utm)).buffer(BUFFER_M), project(to_wgs)
    )


def tile_boundary(meta: dict[str, Any], k: int) -> shapely.Geometry:
    """Tile ``k``'s county boundary (WGS-84), from the seed boundaries and the shifts."""
    seed = shapely.from_wkt(meta["seed_boundaries_wkt"][k % meta["seeds"]])
    dx, dy = meta["shifts"][k]
    return shapely.transform(seed, lambda c: c + np.array([dx, dy]) / 1e7)


def many_polygons(meta: dict[str, Any], n: int) -> dict[str, shapely.Geometry]:
    """The first ``n`` tiles' boundaries, each buffered by BUFFER_M metres (UTM 50N)."""
    return {tile_name(k)[0]: buffered(tile_boundary(meta, k)) for k in range(n)}


# -------------------------------------------------------------- measurements


def _peak_rss_mb() -> float:
    """Peak resident memory of this process, MiB.

    ``VmHWM`` from ``/proc/self/status`` where there is one: ``ru_maxrss`` survives
    ``exec`` on Linux, so a child would report its parent's peak if that was higher.
    """
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def child_many(
    task: str, src: Path, meta: dict[str, Any], workdir: Path, n: int, k: int
) -> dict[str, Any]:
    """One measurement of ``--many``: ``n`` units, the first ``k`` of them one by one."""
    import shutil

    from accessibility.sources import clip_many, extract

    polygons = many_polygons(meta, n)
    result: dict[str, Any] = {"task": task, "units": n}
    rss_before = _peak_rss_mb()
    t0 = time.perf_counter()
    if task == "many-single":
        folder = workdir / "many-single"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        times = []
        for name in list(polygons)[:k]:
            t = time.perf_counter()
            extract.clip(src, polygons[name], folder / f"{name}.osm.pbf")
            times.append(time.perf_counter() - t)
        result.update(units=k, per_unit_s=times)
    elif task in ("many-onepass", "many-rerun"):
        folder = workdir / "many-onepass"
        if task == "many-onepass":
            shutil.rmtree(folder, ignore_errors=True)
        outs = clip_many.clip_many(src, polygons, folder)
        st = clip_many.last_stats
        result.update(
            clipped=len(st.clipped),
            reused=len(st.reused),
            passes_s=st.seconds,
            pairs=st.pairs,
            out_bytes=sum(p.stat().st_size for p in outs.values()),
            files={name: str(path) for name, path in outs.items()},
        )
    elif task == "many-osmium":
        folder = workdir / "many-osmium"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        extracts = []
        # osmium-tool keeps id sets per extract: 150 units at once were killed for memory
        # (2 cores, 23 GB), so it gets the same first K units as the one-by-one clips
        for i, (name, poly) in enumerate(list(polygons.items())[:k]):
            gj = folder / f"unit{i}.geojson"
            gj.write_text(
                json.dumps(
                    {
                        "type": "Feature",
                        "properties": {},
                        "geometry": json.loads(shapely.to_geojson(poly)),
                    }
                ),
                encoding="utf-8",
            )
            extracts.append(
                {
                    "output": f"{name}.osm.pbf",
                    "polygon": {"file_name": str(gj), "file_type": "geojson"},
                }
            )
        config = folder / "config.json"
        config.write_text(
            json.dumps({"directory": str(folder), "extracts": extracts}, ensure_ascii=False),
            encoding="utf-8",
        )
        t0 = time.perf_counter()  # the files above are not part of the time
        subprocess.run(
            [
                "osmium",
                "extract",
                "--config",
                str(config),
                "--strategy",
                "complete_ways",
                "--overwrite",
                "--no-progress",
                str(src),
            ],
            check=True,
            capture_output=True,
        )
        children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        result.update(osmium_peak_rss_mb=children, units=k)
    else:
        raise SystemExit(f"unknown task {task}")
    result["seconds"] = time.perf_counter() - t0
    result["rss_before_mb"] = rss_before
    result["peak_rss_mb"] = max(_peak_rss_mb(), result.get("osmium_peak_rss_mb", 0.0))
    return result


def child(task: str, src: Path, meta_path: Path, workdir: Path) -> dict[str, Any]:
    """Run one measurement in this (fresh) process and return its numbers."""
    from accessibility.settings import settings
    from accessibility.sources import extract, osm

    settings.progress = False
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if task.startswith("many-"):
        n, k = (int(v) for v in os.environ["BENCH_EXTRACT_MANY"].split(","))
        return child_many(task, src, meta, workdir, n, k)
    polygon = clip_polygon(meta)
    rss_before = _peak_rss_mb()
    out = workdir / "clip_centre.osm.pbf"
    result: dict[str, Any] = {"task": task}
    t0 = time.perf_counter()
    if task == "libosmium-read":
        osmium.apply(osmium.io.Reader(str(src)))
    elif task in ("clip", "clip-pyosmium-scan"):
        if task == "clip-pyosmium-scan":
            extract._is_pbf = lambda _path: False  # force pass 1 through pyosmium
        extract.clip(src, polygon, out, overwrite=True)
        s = extract.last_clip_stats
        result.update(
            scan=s.scan,
            passes_s=s.seconds,
            nodes_scanned=s.nodes_scanned,
            nodes_inside=s.nodes_inside,
            kept={"nodes": s.nodes, "ways": s.ways, "relations": s.relations},
            highways=s.highways,
            out_bytes=out.stat().st_size,
        )
    elif task == "find_boundaries":
        found = extract.find_boundaries(src, names=[meta["centre_name"]])
        boundary = shapely.from_wkt(meta["centre_boundary_wkt"])
        geom = found.geometry.iloc[0]
        result.update(
            found=len(found),
            area_rel_error=abs(geom.area - boundary.area) / boundary.area,
            symdiff_rel=shapely.symmetric_difference(geom, boundary).area / boundary.area,
        )
    elif task == "read-clip":
        data = osm.read(out)
        result.update(
            segments=len(data.roads.segments),
            places=len(data.places),
            pois=len(data.pois),
        )
    else:
        raise SystemExit(f"unknown task {task}")
    result["seconds"] = time.perf_counter() - t0
    result["rss_before_mb"] = rss_before
    result["peak_rss_mb"] = _peak_rss_mb()
    return result


def run_child(
    task: str, src: Path, meta_path: Path, workdir: Path, many: tuple[int, int] = (0, 0)
) -> dict[str, Any]:
    print(f"running {task} ...", file=sys.stderr)
    env = dict(os.environ, BENCH_EXTRACT_MANY=f"{many[0]},{many[1]}")
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        task,
        "--src",
        str(src),
        "--workdir",
        str(workdir),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"{task} failed")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def print_table(meta: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    size_mb = meta["size_bytes"] / 1e6
    c = meta["counts"]
    print(
        f"\nsynthetic province: {size_mb:,.0f} MB, {c['nodes']:,} nodes, {c['ways']:,} ways, "
        f"{c['relations']:,} relations; {meta['tiles']} county tiles ({meta['grid'][0]}×"
        f"{meta['grid'][1]}) from {meta['seeds']} seeds; node ids up to {meta['max_node_id']:,}"
    )
    print(f"clip polygon: tile {meta['centre_tile']} ({meta['centre_name']}) + {BUFFER_M:.0f} m\n")
    print("| task | time (s) | MB/s | peak RSS (MB) | RSS before (MB) | notes |")
    print("|---|---:|---:|---:|---:|---|")
    for r in rows:
        notes = ""
        if "passes_s" in r:
            p = r["passes_s"]
            notes = (
                f"scan={r['scan']}: nodes {p['nodes']:.1f} s ({r['nodes_scanned'] / p['nodes'] / 1e6:.1f} "
                f"M nodes/s), ways+relations {p['ways']:.1f} s, "
                f"write {p['write']:.1f} s; {r['nodes_inside']:,} nodes inside; kept "
                f"{r['kept']['nodes']:,} nodes, {r['kept']['ways']:,} ways ({r['highways']:,} highway), "
                f"{r['kept']['relations']} relations; {r['out_bytes'] / 1e6:.1f} MB out"
            )
        elif r["task"] == "find_boundaries":
            notes = f"{r['found']} found; area error {r['area_rel_error']:.1e}, sym. diff. {r['symdiff_rel']:.1e}"
        elif r["task"] == "read-clip":
            notes = f"osm.read of the clip: {r['segments']:,} segments, {r['places']} places, {r['pois']} POIs"
        rate = size_mb / r["seconds"] if r["task"] != "read-clip" else float("nan")
        rate_s = f"{rate:,.1f}" if not math.isnan(rate) else "—"
        print(
            f"| {r['task']} | {r['seconds']:,.1f} | {rate_s} | {r['peak_rss_mb']:,.0f} | "
            f"{r['rss_before_mb']:,.0f} | {notes} |"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiles", type=int, default=10000, help="county tiles (default 10000)")
    parser.add_argument("--seeds", type=int, default=6, help="distinct sample counties (default 6)")
    parser.add_argument("--quick", action="store_true", help="200 tiles, for a smoke run")
    parser.add_argument("--no-baseline", action="store_true", help="skip the pyosmium-scan clip")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/accessibility-bench-extract"))
    parser.add_argument(
        "--many",
        type=int,
        default=0,
        help="N: clip the first N tiles one by one, in one pass, and with osmium-tool",
    )
    parser.add_argument(
        "--many-single",
        type=int,
        default=10,
        help="of the N, how many to clip one by one (default 10)",
    )
    parser.add_argument(
        "--no-osmium-tool",
        action="store_true",
        help="with --many: skip `osmium extract --config` (it peaks at 14 GB for 5 units)",
    )
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--src", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        result = child(args.child, args.src, args.src.with_suffix(".json"), args.workdir)
        print(json.dumps(result))
        return 0

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    tiles = 200 if args.quick else args.tiles
    src = args.workdir / f"province_{tiles}x{args.seeds}.osm.pbf"
    meta = ensure_province(src, tiles=tiles, n_seeds=args.seeds)
    if args.many:
        return main_many(args, src, meta, tiles)
    tasks = ["libosmium-read", "clip", "read-clip", "find_boundaries"]
    if not args.no_baseline:
        tasks.insert(2, "clip-pyosmium-scan")
    rows = [run_child(t, src, src.with_suffix(".json"), args.workdir) for t in tasks]
    print_table(meta, rows)
    results = {
        "date": dt.date.today().isoformat(),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "pyosmium": osmium.version.pyosmium_release,
            "libosmium": osmium.version.libosmium_version,
        },
        "province": meta,
        "rows": rows,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"\nresults in {args.output}")
    return 0


def _ids(path: Path) -> dict[str, set[int]]:
    out: dict[str, set[int]] = {"n": set(), "w": set(), "r": set()}
    for obj in osmium.FileProcessor(str(path)):
        out[obj.type_str()].add(obj.id)
    return out


def main_many(args: argparse.Namespace, src: Path, meta: dict[str, Any], tiles: int) -> int:
    """``--many N``: N units one by one (the first K, extrapolated), in one pass, with osmium-tool."""
    import shutil

    n = min(args.many, tiles)
    k = min(args.many_single, n)
    many = (n, k)
    meta_path = src.with_suffix(".json")
    rows = [
        run_child(t, src, meta_path, args.workdir, many)
        for t in ("many-single", "many-onepass", "many-rerun")
    ]
    if args.no_osmium_tool:
        print("--no-osmium-tool: `osmium extract --config` not measured", file=sys.stderr)
    elif shutil.which("osmium"):
        rows.append(run_child("many-osmium", src, meta_path, args.workdir, many))
    else:
        print("osmium-tool not installed: `osmium extract --config` not measured", file=sys.stderr)
    single, onepass = rows[0], rows[1]
    mean_single = sum(single["per_unit_s"]) / len(single["per_unit_s"])
    # the same ids: the K single clips against their one-pass files; osmium-tool's files too
    files = onepass["files"]
    names = list(files)
    same = sum(
        _ids(args.workdir / "many-single" / f"{name}.osm.pbf") == _ids(Path(files[name]))
        for name in names[:k]
    )
    osmium_diff: dict[str, int] = {"n": 0, "w": 0, "r": 0}
    if len(rows) > 3:
        for name in names[:k]:
            a, b = _ids(args.workdir / "many-osmium" / f"{name}.osm.pbf"), _ids(Path(files[name]))
            for t in osmium_diff:
                osmium_diff[t] += len(a[t] ^ b[t])
    c = meta["counts"]
    print(
        f"\nsynthetic province: {meta['size_bytes'] / 1e6:,.0f} MB, {c['nodes']:,} nodes, "
        f"{c['ways']:,} ways, {c['relations']:,} relations; {tiles} tiles; node ids up to "
        f"{meta['max_node_id']:,}. Units: the first {n} tiles, each + {BUFFER_M:.0f} m\n"
    )
    print("| how | units | time (s) | peak RSS (MB) | notes |")
    print("|---|---:|---:|---:|---|")
    print(
        f"| clip, one by one | {k} of {n} | {sum(single['per_unit_s']):,.1f} | {single['peak_rss_mb']:,.0f} | "
        f"{mean_single:.2f} s per unit; × {n} units ≈ {mean_single * n:,.0f} s |"
    )
    p = onepass["passes_s"]
    print(
        f"| clip_many, one pass | {n} | {onepass['seconds']:,.1f} | {onepass['peak_rss_mb']:,.0f} | "
        f"nodes {p['nodes']:.1f} s, ways+relations {p['ways']:.1f} s, write {p['write']:.1f} s; "
        f"{onepass['pairs']:,} (node, unit) pairs; = {onepass['seconds'] / mean_single:.1f} single clips; "
        f"{same} of {k} units checked: same ids as clip |"
    )
    rerun = rows[2]
    print(
        f"| clip_many, rerun | {n} | {rerun['seconds']:,.2f} | {rerun['peak_rss_mb']:,.0f} | "
        f"{rerun['clipped']} clipped, {rerun['reused']} reused |"
    )
    if len(rows) > 3:
        o = rows[3]
        print(
            f"| osmium extract --config, complete_ways | {k} of {n} | {o['seconds']:,.1f} | {o['peak_rss_mb']:,.0f} | "
            f"= {o['seconds'] / mean_single:.1f} single clips for {k} units; ids differing from clip_many over {k} units: "
            f"{osmium_diff['n']} nodes, {osmium_diff['w']} ways, {osmium_diff['r']} relations |"
        )
    out = args.output.with_name("extract_many.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    for r in rows:
        r.pop("files", None)
    out.write_text(
        json.dumps(
            {
                "date": dt.date.today().isoformat(),
                "province": {x: meta[x] for x in ("size_bytes", "counts", "tiles")},
                "rows": rows,
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    print(f"\nresults in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
