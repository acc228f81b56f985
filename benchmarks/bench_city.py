"""Benchmark of the 15-minute reading circle on a generated central city (issue 16).

The city is ``benchmarks/citylike.py``: by default 12 × 12 km, a street every 150 m
(about 160,000 road nodes), 38,400 apartment buildings, 60 libraries. It is written
into a fresh project root with a region file (``source: osm_file``), the
``reading_circle`` notebook is run once to fill the caches (clip, networks), and then
measured on cached data:

- the notebook end to end (``accessibility run``, a child process): wall time and
  the peak resident memory of the process tree (its kernel included);
- the same work in stages, in this process, each timed: prepare (read, network,
  snap), residents, searches and isochrones, each plan's solve, the map;
- the sizes of the HTML map and the PNG;
- with ``--baseline``: the exact plans as they were solved before (scipy's HiGHS,
  cold, 60 s per model) beside the new ones (greedy start, time limit), in the same
  run.

Usage::

    .venv/bin/python benchmarks/bench_city.py [--side-km 12] [--spacing-m 150]
        [--buildings-per-block 6] [--reading-places 60] [--quick] [--baseline]
        [--root DIR] [--json out.json]

Prints a table and writes the numbers to ``benchmarks/results/city.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import citylike

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "city.json"
REGION = "citybench"


def _region_file(root: Path, city: citylike.City) -> Path:
    path = root / "regions" / f"{REGION}.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    west, south, east, north = city.bbox()
    path.write_text(
        "label_zh: 生成的中心城区\n"
        "label_en: Generated central city\n"
        "synthetic: true\n"
        "source: {kind: osm_file, path: city.osm.pbf}\n"
        f"boundary: {{bbox: [{west}, {south}, {east}, {north}]}}\n"
        "buffer_m: 1500\n"
        "origins: {kind: auto}\n",
        encoding="utf-8",
    )
    return path


def _run_notebook(root: Path) -> dict[str, Any]:
    """``accessibility run`` in a child process: wall seconds and the tree's peak RSS."""
    code = (
        "import resource, subprocess, sys, time, json\n"
        "t = time.perf_counter()\n"
        "rc = subprocess.run([sys.executable, '-m', 'accessibility.cli', '--root', sys.argv[1], 'run',"
        " '--region', sys.argv[2], '--notebook', 'reading_circle'], capture_output=True, text=True)\n"
        "s = time.perf_counter() - t\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
        "print(json.dumps({'seconds': s, 'peak_mb': peak, 'rc': rc.returncode, 'err': rc.stderr[-2000:]}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(root), REGION], capture_output=True, text=True, check=True
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["rc"] != 0:
        raise SystemExit(f"the notebook failed:\n{result['err']}")
    return result


class _Timer:
    """Wraps functions of modules and adds up their seconds by stage name."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self._undo: list[Callable[[], None]] = []

    def wrap(self, owner: Any, name: str, stage: str) -> None:
        original = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[stage] += time.perf_counter() - t0

        setattr(owner, name, timed)
        self._undo.append(lambda: setattr(owner, name, original))

    def restore(self) -> None:
        for undo in reversed(self._undo):
            undo()


def _stages(root: Path, *, baseline: bool) -> dict[str, Any]:
    """The notebook's work called directly, each stage timed (cached data)."""
    import accessibility as acc
    from accessibility import engine, isochrones, siting, snapping
    from accessibility.policies import reading_circle

    acc.configure(root=root, progress=False)
    timer = _Timer()
    out: dict[str, Any] = {}
    t0 = time.perf_counter()
    study = acc.pipeline.prepare(
        REGION, mode="walk", speed_overrides=reading_circle.walk_speed_overrides(4.5)
    )
    out["prepare_s"] = time.perf_counter() - t0
    timer.wrap(reading_circle, "estimate_population", "residents")
    timer.wrap(snapping, "snap", "snap")
    timer.wrap(engine.Router, "nearest", "searches")
    timer.wrap(engine.Router, "pairs_within", "searches")
    timer.wrap(engine.Router, "node_times", "searches")
    timer.wrap(isochrones, "polygons", "isochrones")
    timer.wrap(siting, "greedy", "greedy")
    timer.wrap(siting, "exact", "exact")
    inputs: list[dict[str, Any]] = []
    timed_exact = siting.exact

    def keep_inputs(coverage: Any, weights: Any, **kw: Any) -> Any:
        inputs.append({"coverage": coverage, "weights": weights, **kw})
        return timed_exact(coverage, weights, **kw)

    siting.exact = keep_inputs
    try:
        t0 = time.perf_counter()
        result = reading_circle.assess(study, minutes=15, targets=[0.95, 1.0])
        out["assess_s"] = time.perf_counter() - t0
    finally:
        siting.exact = timed_exact
        timer.restore()
    out.update({f"{k}_s": v for k, v in timer.seconds.items()})
    t0 = time.perf_counter()
    fmap = reading_circle.map(result, boundary=study.boundary, synthetic=True)
    path = acc.maps.save_html(fmap, root / "bench_map.html")
    out["map_s"] = time.perf_counter() - t0
    out["map_mb"] = path.stat().st_size / 1e6
    out["residents"] = float(result.population["population"].sum())
    out["residence_points"] = len(result.population)
    out["reading_places"] = len(result.facilities)
    out["network_nodes"] = int(study.network.n_nodes)
    out["coverage"] = float(result.summary.loc["current", "share"])
    out["plans"] = {
        key: {
            "sites": len(plan.sites),
            "share_after": plan.share_after,
            "status": plan.status,
            **{
                k: plan.meta.get(k)
                for k in (
                    "seconds", "candidates", "model_candidates", "dominated_candidates",
                    "model_demand", "variables", "proof", "gap", "bound",
                )
            },
        }
        for key, plan in result.plans.items()
    }  # fmt: skip
    if baseline:
        out["baseline_exact"] = _baseline_exact(inputs)
    return out


def _baseline_exact(inputs: list[dict[str, Any]]) -> dict[str, Any]:
    """The exact plans as solved before: scipy's HiGHS, cold start, the tie-break objective,
    60 s per model, on the same coverage the new solver got."""
    import numpy as np
    from scipy import sparse
    from scipy.optimize import Bounds, LinearConstraint, milp

    out = {}
    for case in inputs:
        m = sparse.csr_matrix(case["coverage"])
        m.data[:] = 1.0
        weights = np.asarray(case["weights"], dtype=float)
        covered = np.asarray(case["covered"], dtype=bool)
        m = m[:, ~covered]
        w = weights[~covered]
        hit = np.asarray(m.sum(axis=0)).ravel() > 0
        m, w = m[:, hit].tocsc(), w[hit]
        # demand points covered by the same candidates merged, as before
        keys: dict[bytes, int] = {}
        groups = np.array(
            [
                keys.setdefault(m.indices[m.indptr[c] : m.indptr[c + 1]].tobytes(), len(keys))
                for c in range(m.shape[1])
            ]
        )
        n_x, n_y = m.shape[0], len(keys)
        wg = np.bincount(groups, weights=w, minlength=n_y)
        r, c = m.nonzero()
        g = sparse.csr_matrix((np.ones(r.size), (groups[c], r)), shape=(n_y, n_x))
        g.data[:] = 1.0
        total = weights.sum()
        need = min(case["target"] * total - weights[covered].sum(), wg.sum()) - 1e-9 * total
        t0 = time.perf_counter()
        res = milp(
            np.r_[np.ones(n_x), -0.5 * wg / total],
            constraints=[
                LinearConstraint(
                    sparse.hstack([-g, sparse.identity(n_y)], format="csr"), -np.inf, 0.0
                ),
                LinearConstraint(
                    sparse.csr_matrix(np.r_[np.zeros(n_x), wg / total][None, :]),
                    need / total,
                    np.inf,
                ),
            ],
            integrality=np.ones(n_x + n_y),
            bounds=Bounds(0, 1),
            options={"time_limit": 60.0, "mip_rel_gap": 1e-9},
        )
        out[f"{case['target']:g}"] = {
            "seconds": time.perf_counter() - t0,
            "status": "optimal"
            if res.status == 0
            else "time_limit"
            if res.status == 1
            else str(res.status),
            "sites": round(res.x[:n_x].sum()) if res.x is not None else None,
            "variables": n_x + n_y,
        }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--side-km", type=float, default=12.0)
    ap.add_argument("--spacing-m", type=float, default=150.0)
    ap.add_argument("--node-spacing-m", type=float, default=12.5)
    ap.add_argument("--buildings-per-block", type=int, default=6)
    ap.add_argument("--reading-places", type=int, default=60)
    ap.add_argument("--villages", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="a 3 km city")
    ap.add_argument("--baseline", action="store_true", help="also solve the exact plans as before")
    ap.add_argument("--root", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    city = citylike.City(
        side_km=3.0 if args.quick else args.side_km,
        spacing_m=args.spacing_m,
        node_spacing_m=args.node_spacing_m,
        buildings_per_block=args.buildings_per_block,
        reading_places=args.reading_places if not args.quick else max(4, args.reading_places // 16),
        villages=args.villages,
    )
    root = args.root or Path(tempfile.mkdtemp(prefix="bench-city-"))
    src = root / "data" / "raw" / REGION / "city.osm.pbf"
    t0 = time.perf_counter()
    counts = citylike.write(city, src)
    gen_s = time.perf_counter() - t0
    _region_file(root, city)
    print(f"city in {root}: {counts} ({gen_s:.1f} s)", file=sys.stderr)
    first = _run_notebook(root)  # fills the caches
    print(f"first run (caches filled): {first['seconds']:.1f} s", file=sys.stderr)
    cached = _run_notebook(root)
    maps_dir = root / "maps" / REGION
    stages = _stages(root, baseline=args.baseline)
    record = {
        "date": dt.date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "city": counts,
        "notebook_first_s": first["seconds"],
        "notebook_s": cached["seconds"],
        "notebook_peak_mb": cached["peak_mb"],
        "html_mb": (maps_dir / "reading_circle.html").stat().st_size / 1e6,
        "png_mb": (maps_dir / "reading_circle.png").stat().st_size / 1e6,
        "stages": stages,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(record, indent=2, ensure_ascii=False, default=str) + "\n")
    print(json.dumps(record, indent=2, ensure_ascii=False, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
