"""Benchmark of school-consolidation scenarios: workload W4 (scenario part).

100 scenarios, each closing a random 10 % of ~500 schools, on a 300k-node road-like
graph with 10,000 villages (``docs/performance.md``, shared docs: target < 10 s for
the 100). Every scenario reuses the built router (no rebuild, no re-snap): one
multi-source search from the remaining schools. The baseline, in the same run on the
same graph, re-snaps the remaining schools and rebuilds the router per scenario
(timed on a few scenarios and extrapolated to all).

Usage::

    .venv/bin/python benchmarks/bench_scenarios.py [--nodes 300000] [--scenarios 100] [--quick]

Prints a table on stdout, progress on stderr, and writes the numbers to
``benchmarks/results/scenarios.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import platform
import resource
import sys
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy
import shapely

from accessibility import network as network_mod
from accessibility import pipeline, regions, snapping
from accessibility.engine import Router
from accessibility.network import Network
from accessibility.policies import school_tiers

sys.path.insert(0, str(Path(__file__).resolve().parent))
from roadlike import CRS as ROADLIKE_CRS
from roadlike import roadlike

log = logging.getLogger("bench_scenarios")

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "scenarios.json"
TARGET_TOTAL_S = 10.0


def peak_rss_mb() -> float:
    """Peak resident set size of this process, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def scatter(net: Network, count: int, rng: np.random.Generator, prefix: str) -> gpd.GeoDataFrame:
    """``count`` points near random network nodes (±150 m in x and y), in the network's CRS."""
    at = rng.integers(0, net.n_nodes, count)
    x = net.x[at] + rng.uniform(-150.0, 150.0, count)
    y = net.y[at] + rng.uniform(-150.0, 150.0, count)
    ids = pd.Index([f"{prefix}{i}" for i in range(count)], name="id")
    return gpd.GeoDataFrame(geometry=shapely.points(x, y), index=ids, crs=net.crs)


def stats(times: list[float]) -> dict[str, float]:
    a = np.asarray(times)
    return {
        "n": len(a),
        "total_s": float(a.sum()),
        "mean_s": float(a.mean()),
        "median_s": float(np.median(a)),
        "p90_s": float(np.percentile(a, 90)),
        "min_s": float(a.min()),
        "max_s": float(a.max()),
    }


def as_study(
    net: Network,
    villages: gpd.GeoDataFrame,
    schools: gpd.GeoDataFrame,
    o_snap: pd.DataFrame,
    f_snap: pd.DataFrame,
    router: Router,
) -> pipeline.Study:
    """A :class:`Study` around the synthetic graph, so that the public ``consolidate`` runs on it."""
    box = shapely.box(*villages.to_crs(4326).total_bounds)
    places = gpd.GeoDataFrame({"name": [], "level": [], "population": []}, geometry=[], crs=4326)
    return pipeline.Study(
        region=regions.Region(name="roadlike", label_zh="合成路网", label_en="Road-like graph"),
        unit=None,
        mode=net.meta.get("mode", "walk_child"),
        crs=net.crs,
        boundary=gpd.GeoSeries([box], crs=4326),
        network=net,
        places=places,
        buildings=gpd.GeoDataFrame(geometry=[], crs=4326),
        origins=villages.to_crs(4326),
        facilities=schools.to_crs(4326),
        origin_snap=o_snap,
        facility_snap=f_snap,
        router=router,
    )


def run(args: argparse.Namespace) -> dict[str, Any]:
    rng = np.random.default_rng(args.seed)
    res: dict[str, Any] = {
        "date": dt.date.today().isoformat(),
        "machine": {
            "python": platform.python_version(),
            "scipy": scipy.__version__,
            "numpy": np.__version__,
            "pandas": pd.__version__,
            "cpus": os.cpu_count(),
        },
        "mode": args.mode,
        "villages": args.villages,
        "schools": args.schools,
        "scenarios": args.scenarios,
        "close_share": args.close_share,
    }

    log.info("road-like graph of %d nodes", args.nodes)
    roads = roadlike(args.nodes, seed=args.seed)
    t0 = time.perf_counter()
    net = network_mod.build(roads, mode=args.mode, crs=ROADLIKE_CRS)
    res.update(nodes=net.n_nodes, edges=net.n_edges, build_s=time.perf_counter() - t0)
    log.info("%d nodes, %d edges (%.2f s)", net.n_nodes, net.n_edges, res["build_s"])

    villages = scatter(net, args.villages, rng, "v")
    villages["name"] = villages.index
    villages["level"] = "admin_village"
    villages["population"] = np.round(rng.lognormal(np.log(1500), 0.5, len(villages)))
    schools = scatter(net, args.schools, rng, "s")
    schools["name"] = schools.index
    schools["kind"] = "school"
    schools["tiers"] = "primary"

    t0 = time.perf_counter()
    o_snap = snapping.snap(net, villages)
    f_snap = snapping.snap(net, schools)
    t_snap = time.perf_counter() - t0
    t0 = time.perf_counter()
    router = Router.build(net, o_snap, f_snap)
    t_router = time.perf_counter() - t0
    res.update(setup_snap_s=t_snap, setup_router_s=t_router)
    log.info("set-up: snap %.2f s, router %.2f s", t_snap, t_router)

    ids = schools.index
    n_close = round(args.close_share * len(ids))
    closures = [
        rng.choice(ids.to_numpy(), size=n_close, replace=False) for _ in range(args.scenarios)
    ]
    population = villages["population"]

    t0 = time.perf_counter()
    before = router.nearest(ids)
    res["baseline_search_s"] = time.perf_counter() - t0

    # ours, the core: one search per scenario on the built router
    core, kernel, summaries = [], [], []
    for close in closures:
        remaining = ids[~ids.isin(close)]
        t0 = time.perf_counter()
        router.nearest(remaining)
        kernel.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        table = school_tiers.scenario_table(
            router,
            ids,
            close,
            limit_min=args.limit_min,
            population=population,
            school_age_share=0.08,
            before=before,
        )
        summaries.append(
            school_tiers.scenario_summary(table, schools_before=len(ids), closed=len(close))
        )
        core.append(time.perf_counter() - t0)
    res["ours_core"] = stats(core)
    res["nearest_only"] = stats(kernel)
    log.info("core: %d scenarios in %.2f s", len(core), sum(core))

    # ours, the public call (Study in, Scenario with tables out)
    study = as_study(net, villages, schools, o_snap, f_snap, router)
    public = []
    for close in closures:
        t0 = time.perf_counter()
        school_tiers.consolidate(
            study,
            "primary",
            list(close),
            limit_min=args.limit_min,
            school_age_share=0.08,
            capacity=False,
            before=before,
        )
        public.append(time.perf_counter() - t0)
    res["ours_consolidate"] = stats(public)
    log.info("consolidate(): %d scenarios in %.2f s", len(public), sum(public))

    # baseline: re-snap the remaining schools and rebuild the router per scenario
    rebuild, parts = [], {"snap_s": [], "router_s": [], "nearest_s": []}
    max_diff = 0.0
    for k, close in enumerate(closures[: args.rebuild]):
        remaining = schools.loc[~ids.isin(close)]
        t0 = time.perf_counter()
        snap_k = snapping.snap(net, remaining)
        t1 = time.perf_counter()
        router_k = Router.build(net, o_snap, snap_k)
        t2 = time.perf_counter()
        near_k = router_k.nearest()
        t3 = time.perf_counter()
        rebuild.append(t3 - t0)
        parts["snap_s"].append(t1 - t0)
        parts["router_s"].append(t2 - t1)
        parts["nearest_s"].append(t3 - t2)
        ours = school_tiers.scenario_table(
            router, ids, close, limit_min=args.limit_min, before=before
        )
        diff = np.abs(near_k["time_s"].to_numpy() / 60.0 - ours["after_min"].to_numpy())
        max_diff = max(max_diff, float(np.nanmax(diff)))
        log.info("rebuild %d/%d: %.2f s", k + 1, args.rebuild, rebuild[-1])
    res["rebuild"] = stats(rebuild)
    res["rebuild"]["parts_mean_s"] = {k: float(np.mean(v)) for k, v in parts.items()}
    res["rebuild"]["extrapolated_total_s"] = float(np.mean(rebuild)) * args.scenarios
    res["check_max_diff_min"] = max_diff
    res["mean_reassigned"] = float(np.mean([s["reassigned"] for s in summaries]))
    res["mean_children_affected"] = float(np.mean([s["children_affected"] for s in summaries]))
    res["peak_rss_mb"] = peak_rss_mb()
    return res


def report(res: dict[str, Any]) -> None:
    n = res["scenarios"]
    core, pub, near, reb = (
        res["ours_core"],
        res["ours_consolidate"],
        res["nearest_only"],
        res["rebuild"],
    )
    print(
        f"\nW4 scenarios — road-like graph: {res['nodes']:,} nodes, {res['edges']:,} edges, mode "
        f"{res['mode']}; {res['villages']:,} villages, {res['schools']} schools, "
        f"{n} scenarios closing {res['close_share']:.0%} each\n"
    )
    print(
        f"set-up (once): network build {res['build_s']:.2f} s, snap {res['setup_snap_s']:.2f} s, "
        f"router {res['setup_router_s']:.2f} s, baseline search {res['baseline_search_s']:.3f} s\n"
    )
    print("| what | per scenario (median) | p90 | max | total for all |")
    print("|---|---:|---:|---:|---:|")
    for name, s in (
        ("Router.nearest(remaining) alone", near),
        ("ours: scenario_table + scenario_summary", core),
        ("ours: consolidate() (tables with names)", pub),
    ):
        print(
            f"| {name} | {s['median_s']:.3f} s | {s['p90_s']:.3f} s | {s['max_s']:.3f} s | "
            f"{s['total_s']:.2f} s |"
        )
    print(
        f"| baseline: re-snap + Router.build + nearest ({reb['n']} run) | {reb['median_s']:.3f} s | "
        f"{reb['p90_s']:.3f} s | {reb['max_s']:.3f} s | {reb['extrapolated_total_s']:.1f} s (extrap.) |"
    )
    parts = reb["parts_mean_s"]
    print(
        f"\nbaseline parts (mean): snap {parts['snap_s']:.3f} s, Router.build "
        f"{parts['router_s']:.3f} s, nearest {parts['nearest_s']:.3f} s"
    )
    ratio = reb["extrapolated_total_s"] / core["total_s"]
    full = res["nodes"] >= 250_000 and n == 100
    verdict = "met" if pub["total_s"] < TARGET_TOTAL_S else "MISSED"
    print(
        f"rebuild / ours (core): {ratio:.1f}×; consolidate() for all {n} scenarios: "
        f"{pub['total_s']:.2f} s; W4 target (100 scenarios < {TARGET_TOTAL_S:g} s at 300k nodes): "
        + (verdict if full else "n/a at this size")
    )
    print(
        f"check: ours vs rebuilt router, max difference {res['check_max_diff_min']:.2e} min; "
        f"mean villages reassigned {res['mean_reassigned']:.0f}, children affected "
        f"{res['mean_children_affected']:.0f}; peak RSS {res['peak_rss_mb']:.0f} MiB"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=300_000, help="graph size (default 300,000)")
    parser.add_argument("--villages", type=int, default=10_000)
    parser.add_argument("--schools", type=int, default=500)
    parser.add_argument("--scenarios", type=int, default=100)
    parser.add_argument("--close-share", type=float, default=0.10)
    parser.add_argument(
        "--rebuild", type=int, default=5, help="baseline scenarios timed (default 5)"
    )
    parser.add_argument("--mode", default="walk_child", help="travel mode (default walk_child)")
    parser.add_argument("--limit-min", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--quick", action="store_true", help="50k nodes, 20 scenarios, 2 rebuilds")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick:
        args.nodes, args.scenarios, args.rebuild = 50_000, 20, 2
    if not 0 < args.close_share < 1 or args.rebuild < 1 or args.scenarios < 1:
        parser.error("--close-share must be in (0, 1); --rebuild and --scenarios at least 1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    res = run(args)
    report(res)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.output.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(res, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, args.output)
    print(f"\nnumbers: {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
