"""Benchmark of a whole province through the batch: every notebook for every county unit.

What it does
------------
1. Builds a synthetic province with ``bench_extract.build_province`` (imported): N
   county tiles (``合成县kkkk``, admin_level 6, code ``99kkkk``) from six sample
   counties, plus, written after them by :func:`boundaries`, the province's boundary
   (``合成省``, admin_level 4) and its prefectures' (``合成市pp``, admin_level 5: blocks
   of ``--prefecture-size`` × ``--prefecture-size`` tiles; the last tile is left out
   of every prefecture, like a county the province administers directly). Built
   once under ``--workdir`` and reused while its description matches.
2. Writes the region file with ``accessibility regions from-extract PROVINCE
   --parent 合成省 --level 6 --name synprov`` (timed), and marks it synthetic.
3. Runs ``accessibility batch synprov`` in a fresh project root: the units are
   clipped out of the province in one pass, then every notebook (or ``--notebooks``)
   runs for every unit on the local Dask cluster. Wall time and peak memory: the
   sum of the resident memory of the batch and all its descendants (the Dask
   workers and their kernels; ``accessibility.batch.descendants_rss``), sampled
   every 0.1 s (``bench_e2e.measure``).
4. Runs the same command again: it must clip nothing and run nothing (every run up
   to date); the benchmark fails when it does.

Prints a table and writes ``benchmarks/results/province.json`` (``--json``: print
the JSON instead). See benchmarks/README.md, "A province through the batch".

Usage::

    .venv/bin/python benchmarks/bench_province.py --units 6 --prefecture-size 2   # small
    .venv/bin/python benchmarks/bench_province.py                               # 150 units
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import bench_e2e
import bench_extract
import numpy as np
import shapely

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "province.json"
#: Bump when the generated boundaries change for the same options.
BOUNDARIES_VERSION = "1"
REGION = "synprov"
PROVINCE = "合成省"
#: Ids of the added objects: above every id the tiles use (bench_extract's ranges).
NODE_ID0 = 13_000_000_001
WAY_ID0 = 1_500_000_001
RELATION_ID0 = 20_000_001
#: Gap between a tile's cell edge and its neighbour's tiles, degrees (tiles are 0.02° apart).
EDGE_DEG = 0.01


def prefecture_name(p: int) -> tuple[str, str]:
    return f"合成市{p:02d}", f"Synthetic Prefecture {p:02d}"


def cells(layout: Any) -> list[shapely.Polygon]:
    """A rectangle per tile, between its neighbours: the tile's column and row edges
    EDGE_DEG before the leftmost (lowest) sample county of the next column (row)."""
    x0 = min(s.bounds[0] for s in layout.seeds)
    y0 = min(s.bounds[1] for s in layout.seeds)
    out = []
    for k in range(layout.tiles):
        dx, dy = layout.shift(k)
        left, bottom = x0 + dx / 1e7 - EDGE_DEG, y0 + dy / 1e7 - EDGE_DEG
        out.append(shapely.box(left, bottom, left + layout.step_x, bottom + layout.step_y))
    return out


def prefectures(layout: Any, size: int) -> dict[int, list[int]]:
    """Prefecture number → its tiles: blocks of ``size`` × ``size`` tiles of the grid;
    the last tile in none."""
    blocks: dict[int, list[int]] = {}
    per_row = math.ceil(layout.cols / size)
    for k in range(layout.tiles - 1):
        col, row = k % layout.cols, k // layout.cols
        blocks.setdefault((row // size) * per_row + col // size, []).append(k)
    return {p: tiles for p, (_, tiles) in enumerate(sorted(blocks.items()), start=1)}


def boundaries(layout: Any, size: int) -> tuple[list[str], list[str], list[str]]:
    """OPL lines of the province's and the prefectures' boundaries (one closed way per
    outer ring), for ``bench_extract.build_province(extra=...)``."""
    grid = cells(layout)
    nodes: list[str] = []
    ways: list[str] = []
    relations: list[str] = []

    def relation(polygon: shapely.Geometry, tags: dict[str, str]) -> None:
        members = []
        parts = polygon.geoms if polygon.geom_type == "MultiPolygon" else [polygon]
        for part in parts:
            ring = np.asarray(part.exterior.coords)[:-1]
            first = NODE_ID0 + len(nodes)
            for x, y in ring:
                nodes.append(f"n{NODE_ID0 + len(nodes)} x{x:.7f} y{y:.7f}\n")
            refs = [f"n{first + i}" for i in range(len(ring))] + [f"n{first}"]
            way = WAY_ID0 + len(ways)
            ways.append(f"w{way} T N{','.join(refs)}\n")
            members.append(f"w{way}@outer")
        all_tags = {"type": "boundary", "boundary": "administrative", **tags}
        rel = RELATION_ID0 + len(relations)
        relations.append(f"r{rel} T{bench_extract._opl_tags(all_tags)} M{','.join(members)}\n")

    province = shapely.box(*shapely.unary_union(grid).bounds).buffer(EDGE_DEG, join_style="mitre")
    relation(province, {"name": PROVINCE, "name:en": "Synthetic Province", "admin_level": "4"})
    for p, tiles in prefectures(layout, size).items():
        zh, en = prefecture_name(p)
        shape = shapely.unary_union([grid[k] for k in tiles]).simplify(1e-9)
        relation(shape, {"name": zh, "name:en": en, "admin_level": "5"})
    return nodes, ways, relations


def ensure_province(path: Path, units: int, size: int) -> dict[str, Any]:
    """The province file for ``units`` tiles: built, or reused when its description matches."""
    meta_path = path.with_suffix(".json")
    want = {"boundaries": BOUNDARIES_VERSION, "prefecture_size": size}
    if path.is_file() and meta_path.is_file():
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if (
            meta.get("version") == bench_extract.PROVINCE_VERSION
            and meta.get("tiles") == units
            and all(meta.get(k) == v for k, v in want.items())
            and meta.get("size_bytes") == path.stat().st_size
        ):
            print(f"reusing {path}", file=sys.stderr)
            return meta
    print(f"building {path}: {units} county tiles", file=sys.stderr)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = bench_extract.build_province(
        path,
        tiles=units,
        n_seeds=6,
        work=path.parent / "seeds",
        extra=lambda layout: boundaries(layout, size),
    )
    meta.update(want)
    meta_path.write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
    return meta


def _clips(root: Path) -> dict[str, float]:
    """The clipped extracts of the region and their modification times."""
    folder = root / "data" / "processed" / REGION / "extracts"
    return {p.name: p.stat().st_mtime for p in sorted(folder.glob("*"))} if folder.is_dir() else {}


def _batch_json(root: Path) -> dict[str, Any]:
    return json.loads((root / "runs" / REGION / "batch.json").read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=150, help="county units (default 150)")
    parser.add_argument("--notebooks", help="notebooks, comma-separated (default: every notebook)")
    parser.add_argument(
        "--prefecture-size",
        type=int,
        default=3,
        help="a prefecture is a block of N × N tiles (default 3)",
    )
    parser.add_argument("--jobs", type=int, help="batch workers (default: the batch's own)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/accessibility-bench-province"))
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.units < 2 or args.prefecture_size < 1:
        parser.error(
            f"--units must be 2 or more and --prefecture-size 1 or more; got {args.units}, {args.prefecture_size}"
        )

    src = args.workdir / f"province_{args.units}_p{args.prefecture_size}.osm.pbf"
    meta = ensure_province(src, args.units, args.prefecture_size)
    root = args.workdir / f"project_{args.units}"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    log = args.workdir / f"batch_{args.units}.log"
    log.unlink(missing_ok=True)
    base = [*bench_e2e.EXE, "--root", str(root)]

    t0 = time.perf_counter()
    cmd = [*base, "regions", "from-extract", str(src), "--parent", PROVINCE, "--name", REGION]
    wall, peak, code = bench_e2e.measure(cmd, root, log)
    if code != 0:
        raise SystemExit(f"regions from-extract failed ({code}); see {log}")
    region_file = root / "regions" / f"{REGION}.yml"
    text = region_file.read_text(encoding="utf-8")
    region_file.write_text(text.replace("synthetic: false", "synthetic: true", 1), encoding="utf-8")
    region = {"seconds": wall, "peak_rss_mb": peak, "build_s": time.perf_counter() - t0}

    batch = [*base, "batch", REGION]
    if args.notebooks:
        batch += ["--notebooks", args.notebooks]
    if args.jobs:
        batch += ["--jobs", str(args.jobs)]
    print(f"batch of {args.units} units: {' '.join(batch)}", file=sys.stderr)
    wall1, peak1, code1 = bench_e2e.measure(batch, root, log)
    first = _batch_json(root)
    clips1 = _clips(root)
    print("second run (everything up to date)", file=sys.stderr)
    wall2, peak2, code2 = bench_e2e.measure(batch, root, log)
    second = _batch_json(root)
    clips2 = _clips(root)

    runs = first["runs"]
    statuses: dict[str, int] = {}
    for r in runs:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    per_notebook: dict[str, list[float]] = {}
    for r in runs:
        if r.get("seconds") is not None:
            per_notebook.setdefault(r["notebook"], []).append(r["seconds"])
    units = len({r["unit"] for r in runs})
    result = {
        "date": dt.date.today().isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "province": {
            k: meta[k] for k in ("tiles", "size_bytes", "counts", "grid", "prefecture_size")
        },
        "prefectures": len(prefectures_of(root)),
        "region_file": region,
        "first": {
            "seconds": wall1,
            "peak_rss_mb": peak1,
            "exit": code1,
            "units": units,
            "runs": len(runs),
            "statuses": statuses,
            "clips": len(clips1),
            "per_unit_s": wall1 / units,
            "run_seconds_sum": sum(sum(v) for v in per_notebook.values()),
            "run_seconds_mean": {nb: sum(v) / len(v) for nb, v in per_notebook.items()},
            "run_peak_rss_mb_max": max((r.get("peak_rss_mb") or 0 for r in runs), default=0),
            "warnings": sum(r.get("warnings") or 0 for r in runs),
            "failed": [
                f"{r['unit']}/{r['notebook']}: {str(r.get('error'))[:300]}"
                for r in runs
                if r["status"] != "ok"
            ],
        },
        "second": {
            "seconds": wall2,
            "peak_rss_mb": peak2,
            "exit": code2,
            "ran": len(second["ran"]),
            "skipped": len(second["skipped"]),
            "clips_rewritten": sum(clips2.get(n) != t for n, t in clips1.items()),
        },
        "log": str(log),
        "index": str(root / "maps" / REGION / "index.html"),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print_table(result)
    resumed = result["second"]
    if resumed["ran"] or resumed["clips_rewritten"] or resumed["skipped"] != len(runs):
        print(f"the second run was not all cached: {resumed}", file=sys.stderr)
        return 1
    return 0 if code1 == 0 else 1


def prefectures_of(root: Path) -> set[str]:
    """The prefectures the written region file gives its units."""
    import yaml

    data = yaml.safe_load((root / "regions" / f"{REGION}.yml").read_text(encoding="utf-8"))
    return {u["prefecture"] for u in data["units"] if u.get("prefecture")}


def print_table(r: dict[str, Any]) -> None:
    p, f, s = r["province"], r["first"], r["second"]
    c = p["counts"]
    print(
        f"\nsynthetic province: {p['tiles']} county units in {r['prefectures']} prefectures "
        f"(+ 1 in none); {p['size_bytes'] / 1e6:,.1f} MB, {c['nodes']:,} nodes, {c['ways']:,} ways\n"
    )
    print("| step | time (s) | peak RSS, whole tree (MB) | notes |")
    print("|---|---:|---:|---|")
    rf = r["region_file"]
    print(f"| regions from-extract | {rf['seconds']:,.1f} | {rf['peak_rss_mb']:,.0f} | |")
    means = ", ".join(f"{nb} {v:.1f} s" for nb, v in f["run_seconds_mean"].items())
    print(
        f"| batch, first run | {f['seconds']:,.1f} | {f['peak_rss_mb']:,.0f} | {f['units']} units, "
        f"{f['runs']} runs {f['statuses']}; {f['clips']} clips; **{f['per_unit_s']:.1f} s per unit** "
        f"(wall); runs' own time {f['run_seconds_sum']:,.0f} s, mean per run: {means}; "
        f"largest kernel {f['run_peak_rss_mb_max']:,.0f} MB; {f['warnings']} warnings |"
    )
    print(
        f"| batch, second run | {s['seconds']:,.1f} | {s['peak_rss_mb']:,.0f} | ran {s['ran']}, "
        f"skipped {s['skipped']}, clips rewritten {s['clips_rewritten']} |"
    )
    for line in f["failed"]:
        print(f"  not ok: {line}")
    print(f"\nindex page: {r['index']}\nlog: {r['log']}")


if __name__ == "__main__":
    sys.exit(main())
