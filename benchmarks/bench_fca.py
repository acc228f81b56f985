"""Benchmark of the supply-and-demand index (2SFCA family, ``accessibility.supply``).

Two sizes (issue 15):

- **county**: 500 villages and 300 health facilities on a road-like graph, by
  electric two-wheeler, 30-minute catchment: the pairs from the bounded searches
  (``Router.pairs_within``), the two sparse steps (``supply.two_step``) and the whole
  ``supply.index`` call; beside it, in the same run on the same cost table, PySAL
  ``access`` (``Access.two_stage_fca`` and ``enhanced_two_stage_fca``), and the largest
  relative difference between the two.
- **city**: 50,000 residence points and 1,000 facilities in a 12 × 12 km square of a
  larger graph, walking, 30-minute catchment: the
  same three stages; no origins × facilities matrix is made (the dense one would
  take ``50,000 × 1,000 × 8`` bytes = 400 MB).

Peak memory of each stage is the peak of the allocations it makes
(``tracemalloc``: numpy's arrays included); the process's peak resident set is printed
too. Set-up (graph, snapping, router) is timed apart.

Usage::

    .venv/bin/python benchmarks/bench_fca.py [--quick] [--repeat 5]

Prints a table on stdout and writes ``benchmarks/results/fca.json`` (git-ignored).
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
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy
import shapely

from accessibility import network as network_mod
from accessibility import snapping, supply
from accessibility.engine import Router

sys.path.insert(0, str(Path(__file__).resolve().parent))
from roadlike import CRS as ROADLIKE_CRS
from roadlike import roadlike

log = logging.getLogger("bench_fca")
HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "fca.json"
TIERS = ("village_clinic", "township_health_centre", "county_hospital")


def scatter(
    net: network_mod.Network,
    count: int,
    rng: np.random.Generator,
    prefix: str,
    *,
    side_km: float | None = None,
) -> gpd.GeoDataFrame:
    """``count`` points near random network nodes (±150 m), in the network's CRS; with
    ``side_km``, only nodes in a square of that side at the graph's centre (a city)."""
    pool = np.arange(net.n_nodes)
    if side_km is not None:
        cx, cy, half = np.median(net.x), np.median(net.y), side_km * 500.0
        pool = pool[(np.abs(net.x - cx) <= half) & (np.abs(net.y - cy) <= half)]
    at = pool[rng.integers(0, pool.size, count)]
    x = net.x[at] + rng.uniform(-150.0, 150.0, count)
    y = net.y[at] + rng.uniform(-150.0, 150.0, count)
    ids = pd.Index([f"{prefix}{i}" for i in range(count)], name="id")
    return gpd.GeoDataFrame(geometry=shapely.points(x, y), index=ids, crs=net.crs)


def measure(fn: Callable[[], Any], repeat: int) -> tuple[dict[str, float], Any]:
    """Median and minimum seconds over ``repeat`` calls, and the peak MiB of one traced call."""
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "median_s": float(np.median(times)),
        "min_s": float(np.min(times)),
        "peak_mib": peak / 2**20,
    }, out


def setup(
    nodes: int, n_origins: int, n_facilities: int, mode: str, seed: int, side_km: float | None
) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    net = network_mod.build(roadlike(nodes, seed=seed), mode=mode, crs=ROADLIKE_CRS)
    origins = scatter(net, n_origins, rng, "o", side_km=side_km)
    origins["population"] = np.round(rng.lognormal(np.log(1500), 0.5, n_origins))
    fac = scatter(net, n_facilities, rng, "f", side_km=side_km)
    fac["name"] = fac.index
    fac["kind"] = "health"
    fac["tiers"] = rng.choice(TIERS, size=n_facilities, p=[0.8, 0.17, 0.03])
    fac["beds"] = np.where(
        rng.random(n_facilities) < 0.5, rng.integers(0, 800, n_facilities), np.nan
    )
    router = Router.build(net, snapping.snap(net, origins), snapping.snap(net, fac))
    return {
        "net": net,
        "origins": origins,
        "facilities": fac,
        "router": router,
        "setup_s": time.perf_counter() - t0,
    }


def run_size(
    name: str,
    nodes: int,
    n_o: int,
    n_f: int,
    args: argparse.Namespace,
    *,
    mode: str,
    side_km: float | None,
    with_access: bool,
) -> dict[str, Any]:
    log.info("%s: %d nodes, %d origins, %d facilities, %s", name, nodes, n_o, n_f, mode)
    s = setup(nodes, n_o, n_f, mode, args.seed, side_km)
    router, fac, pop = s["router"], s["facilities"], s["origins"]["population"]
    dec = supply.decay("step", catchment_min=args.catchment)
    ids = router.facilities.index
    res: dict[str, Any] = {
        "nodes": s["net"].n_nodes,
        "edges": s["net"].n_edges,
        "origins": n_o,
        "facilities": n_f,
        "mode": mode,
        "side_km": side_km,
        "setup_s": s["setup_s"],
        "dense_matrix_mib": n_o * n_f * 8 / 2**20,
    }
    router.pairs_within(60.0, ids[:1])  # compile the bounded search before timing
    res["pairs_within"], pairs = measure(
        lambda: router.pairs_within(args.catchment * 60.0, ids), args.repeat
    )
    res["pairs"] = int(pairs.nnz)
    values = supply.supply_values(fac.loc[ids], "health", supply.load_rules().measure("beds"))[
        "supply"
    ].to_numpy()
    demand = pop.reindex(router.origins.index).to_numpy()
    res["two_step"], core = measure(
        lambda: supply.two_step(pairs, values, demand, dec, per=1000), args.repeat
    )
    res["index_call"], _ = measure(
        lambda: supply.index(router, fac, pop, "health", measure="beds", decay=dec, mode=mode),
        args.repeat,
    )
    if with_access:
        import access

        logging.getLogger("access").setLevel(logging.WARNING)
        coo = pairs.tocoo()
        cost = pd.DataFrame(
            {
                "origin": router.origins.index.to_numpy()[coo.col],
                "dest": ids.to_numpy()[coo.row],
                "cost": coo.data / 60.0,
            }
        )
        demand_df = pd.DataFrame(
            {"pop": demand}, index=pd.Index(router.origins.index, name="origin")
        )
        supply_df = pd.DataFrame({"beds": values}, index=pd.Index(ids, name="dest"))

        def pysal(kind: str) -> pd.Series:
            a = access.Access(
                demand_df=demand_df,
                demand_index=True,
                demand_value="pop",
                supply_df=supply_df,
                supply_index=True,
                supply_value="beds",
                cost_df=cost,
                cost_origin="origin",
                cost_dest="dest",
                cost_name="cost",
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if kind == "2sfca":
                    return a.two_stage_fca(name="x", max_cost=args.catchment)["x_beds"]
                zones = {
                    args.catchment / 3: 1.0,
                    2 * args.catchment / 3: 0.68,
                    args.catchment: 0.22,
                }
                return a.enhanced_two_stage_fca(
                    name="x", max_cost=args.catchment, weight_fn=access.weights.step_fn(zones)
                )["x_beds"]

        res["access_2sfca"], theirs = measure(lambda: pysal("2sfca"), args.repeat)
        theirs = theirs.reindex(router.origins.index).to_numpy() * 1000
        ok = core.reached > 0
        res["access_max_rel_diff_2sfca"] = float(
            np.max(np.abs(core.index[ok] - theirs[ok]) / np.abs(theirs[ok]).clip(1e-300))
        )
        dz = supply.decay("zones", catchment_min=args.catchment)
        res["two_step_e2sfca"], core_z = measure(
            lambda: supply.two_step(pairs, values, demand, dz, per=1000), args.repeat
        )
        res["access_e2sfca"], theirs_z = measure(lambda: pysal("e2sfca"), args.repeat)
        theirs_z = theirs_z.reindex(router.origins.index).to_numpy() * 1000
        res["access_max_rel_diff_e2sfca"] = float(
            np.max(np.abs(core_z.index[ok] - theirs_z[ok]) / np.abs(theirs_z[ok]).clip(1e-300))
        )
    return res


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="a smaller city (10,000 points, 200 facilities)"
    )
    parser.add_argument("--county-nodes", type=int, default=30_000)
    parser.add_argument("--city-nodes", type=int, default=100_000)
    parser.add_argument("--county-mode", default="ebike")
    parser.add_argument("--city-mode", default="walk")
    parser.add_argument(
        "--city-side-km",
        type=float,
        default=12.0,
        help="the city's points lie in a square this wide",
    )
    parser.add_argument("--catchment", type=float, default=30.0, help="minutes")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    out: dict[str, Any] = {
        "date": dt.date.today().isoformat(),
        "machine": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "pandas": pd.__version__,
            "cpus": os.cpu_count(),
        },
        "catchment_min": args.catchment,
    }
    out["county"] = run_size(
        "county",
        args.county_nodes,
        500,
        300,
        args,
        mode=args.county_mode,
        side_km=None,
        with_access=True,
    )
    n_o, n_f = (10_000, 200) if args.quick else (50_000, 1_000)
    out["city"] = run_size(
        "city",
        args.city_nodes,
        n_o,
        n_f,
        args,
        mode=args.city_mode,
        side_km=args.city_side_km,
        with_access=False,
    )
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(out, indent=2), "utf-8")

    print(f"catchment {args.catchment:g} min; step decay unless said")
    print("| size | stage | median | min | peak (traced) |")
    print("|---|---|---:|---:|---:|")
    for size in ("county", "city"):
        r = out[size]
        for stage in (
            "pairs_within",
            "two_step",
            "index_call",
            "two_step_e2sfca",
            "access_2sfca",
            "access_e2sfca",
        ):
            if stage in r:
                m = r[stage]
                print(
                    f"| {size} | {stage} | {m['median_s'] * 1e3:,.1f} ms | {m['min_s'] * 1e3:,.1f} ms "
                    f"| {m['peak_mib']:,.1f} MiB |"
                )
    for size in ("county", "city"):
        r = out[size]
        print(
            f"{size} ({r['mode']}): {r['nodes']:,} nodes, {r['origins']:,} origins × {r['facilities']:,} facilities, "
            f"{r['pairs']:,} pairs in reach (dense matrix would be {r['dense_matrix_mib']:,.0f} MiB); "
            f"set-up {r['setup_s']:.2f} s"
        )
    c = out["county"]
    print(
        f"county: max relative difference to access: 2SFCA {c['access_max_rel_diff_2sfca']:.1e}, "
        f"E2SFCA {c['access_max_rel_diff_e2sfca']:.1e}; process peak RSS {out['peak_rss_mib']:,.0f} MiB"
    )


if __name__ == "__main__":
    main()
