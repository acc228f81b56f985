"""Benchmark of the routing engine: workload W1 and the cache-load part of W4.

See ``docs/performance.md`` (shared docs) for the workloads and targets and
``benchmarks/README.md`` for what each number means. Every ratio is measured in one
run, in one process, on the same graph.

Usage::

    .venv/bin/python benchmarks/bench_engine.py [--sizes 50000,300000] [--origins 10000] [--quick]

Prints tables on stdout, progress on stderr, and writes the numbers to
``benchmarks/results/engine.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import datetime as dt
import gc
import json
import logging
import math
import os
import platform
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import scipy
import shapely
from scipy.sparse.csgraph import dijkstra

from accessibility import convert, snapping
from accessibility import network as network_mod
from accessibility.engine import Router
from accessibility.network import Network, RoadData

sys.path.insert(0, str(Path(__file__).resolve().parent))
from roadlike import CRS as ROADLIKE_CRS
from roadlike import roadlike

log = logging.getLogger("bench_engine")

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "engine.json"
KINDS = {"k20": 20, "k100": 100, "k250": 250, "k500": 500}
MODE = "car"
#: A measurement taking at least this long is not repeated.
SLOW_S = 1.0

TARGETS = {
    "ours_vs_scipy": "ours/scipy <= 1.5",
    "nx_multi_vs_ours": "nx multi-source/ours >= 10",
    "loop_vs_ours": "per-origin loop/ours >= 1000",
    "pandana_vs_ours": "pandana (CH + queries)/ours > 1",
    "cache_load": "GraphML load/npz load >= 10",
}


# --------------------------------------------------------------------------- helpers
def measure(
    fn: Callable[[], Any], *, repeat: int = 3, min_total_s: float = 0.3, max_repeat: int = 25
) -> tuple[float, Any]:
    """Best wall time over repeated calls of ``fn`` and the last result.

    A call slower than ``SLOW_S`` is not repeated. Otherwise ``fn`` runs at least
    ``repeat`` times and, for millisecond-scale calls, until ``min_total_s`` has been
    spent (at most ``max_repeat`` calls), which keeps noisy small machines honest.
    """
    best, result, total, calls = math.inf, None, 0.0, 0
    while True:
        t0 = time.perf_counter()
        result = fn()
        elapsed = time.perf_counter() - t0
        best, total, calls = min(best, elapsed), total + elapsed, calls + 1
        if elapsed >= SLOW_S or calls >= max_repeat or (calls >= repeat and total >= min_total_s):
            break
        if repeat == 1:
            break
    return best, result


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send what C/C++ code prints on file descriptor 1 to stderr (pandana talks a lot)."""
    libc = ctypes.CDLL(None)
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        libc.fflush(None)
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def peak_rss_mb() -> float:
    """Peak resident set size of this process, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def ratio(num: float | None, den: float | None) -> float | None:
    if num is None or den is None or den <= 0:
        return None
    return num / den


def fmt_s(x: float | None) -> str:
    if x is None:
        return "n/a"
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 1:
        return f"{x:.2f}"
    if x >= 0.01:
        return f"{x:.3f}"
    return f"{x:.4f}"


def fmt_r(x: float | None) -> str:
    if x is None:
        return "n/a"
    if x >= 100:
        return f"{x:,.0f}×"
    return f"{x:.2f}×"


def write_results(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, path)


def random_points(
    net: Network, count: int, rng: np.random.Generator, prefix: str, jitter_m: float = 150.0
) -> gpd.GeoDataFrame:
    """Points inside the graph's extent: a random network node moved by up to ±jitter_m in x and y."""
    node = rng.integers(0, net.n_nodes, count)
    x = net.x[node] + rng.uniform(-jitter_m, jitter_m, count)
    y = net.y[node] + rng.uniform(-jitter_m, jitter_m, count)
    index = pd.Index([f"{prefix}{i}" for i in range(count)], name="id")
    return gpd.GeoDataFrame(geometry=shapely.points(x, y), index=index, crs=net.crs)


def nearest_net_node(net: Network, snap: pd.DataFrame) -> np.ndarray:
    """The network node closer (along the segment) to each snapped point."""
    seg = snap["segment"].to_numpy(np.int64)
    frac = snap["fraction"].to_numpy(float)
    return np.where(frac < 0.5, net.seg_a[seg], net.seg_b[seg]).astype(np.int64)


def loop_sample_size(n_nodes: int) -> int:
    """Origins searched one by one with networkx: 20 at 50k nodes, 5 at 300k, up to 50 on small graphs."""
    return int(min(50, max(5, round(1e6 / max(n_nodes, 1)))))


# --------------------------------------------------------------------------- graphs
def sample_county(tmp: Path) -> tuple[RoadData, str] | None:
    """Road data and metric CRS of the generated sample county, or None (with a printed note)."""
    try:
        from accessibility.regions import metric_crs
        from accessibility.sources import osm, sample  # type: ignore[attr-defined]

        files = sample.ensure(tmp / "sample")
        data = osm.read(files.osm)
    except Exception as exc:
        print(f"note: sample county skipped ({type(exc).__name__}: {exc})")
        return None
    roads = data.roads
    lon, lat = roads.nodes["lon"].to_numpy(), roads.nodes["lat"].to_numpy()
    crs = metric_crs(shapely.box(lon.min(), lat.min(), lon.max(), lat.max()))
    return roads, crs


# --------------------------------------------------------------------------- W1
def bench_graph(
    name: str, roads: RoadData, crs: str, *, n_origins: int, n_loop: int | None, seed: int
) -> tuple[dict[str, Any], Network]:
    rng = np.random.default_rng(seed)
    res: dict[str, Any] = {"graph": name, "mode": MODE, "origins": n_origins, "kinds": KINDS}

    log.info("[%s] network.build", name)
    t_build, net = measure(lambda: network_mod.build(roads, mode=MODE, crs=crs), repeat=1)
    res.update(nodes=net.n_nodes, edges=net.n_edges, segments=net.n_segments, build_s=t_build)
    log.info("[%s] %d nodes, %d edges, built in %.2f s", name, net.n_nodes, net.n_edges, t_build)

    origins_pts = random_points(net, n_origins, rng, "o")
    fac_pts = pd.concat([random_points(net, k, rng, f"{kind}-") for kind, k in KINDS.items()])
    kind_ids = {kind: fac_pts.index[fac_pts.index.str.startswith(f"{kind}-")] for kind in KINDS}

    # ---- set-up: snapping + Router.build
    log.info("[%s] snapping and Router.build", name)
    t_snap_o, snap_o = measure(lambda: snapping.snap(net, origins_pts))
    t_snap_f, snap_f = measure(lambda: snapping.snap(net, fac_pts))
    t_router, router = measure(lambda: Router.build(net, snap_o, snap_f))
    res["setup_s"] = t_snap_o + t_snap_f + t_router
    res["setup_parts_s"] = {
        "snap_origins": t_snap_o,
        "snap_facilities": t_snap_f,
        "router_build": t_router,
    }
    res["augmented_nodes"] = int(router.reverse.shape[0])

    # ---- ours, its search kernel alone, and the raw scipy call on the network (measured
    #      back to back per kind so that machine noise hits all three alike)
    log.info("[%s] ours, kernel and raw scipy per kind", name)
    t_csr, rev_csr = measure(lambda: net.csr().T.tocsr())
    res["scipy_prep_s"] = t_csr
    f_node_all = pd.Series(nearest_net_node(net, snap_f), index=snap_f.index)
    f_nodes = {kind: np.unique(f_node_all.loc[ids].to_numpy()) for kind, ids in kind_ids.items()}
    door_all = pd.Series(router.facility_door, index=snap_f.index)
    ours: dict[str, float] = {}
    ours_out: dict[str, pd.DataFrame] = {}
    kernel_t: dict[str, float] = {}
    scipy_t: dict[str, float] = {}
    scipy_d: dict[str, np.ndarray] = {}
    for kind, ids in kind_ids.items():
        ours[kind], ours_out[kind] = measure(lambda ids=ids: router.nearest(ids))
        doors = door_all.loc[ids].to_numpy()
        kernel_t[kind], _ = measure(
            lambda doors=doors: dijkstra(
                router.reverse,
                directed=True,
                indices=doors,
                min_only=True,
                return_predecessors=True,
            )
        )
        nodes = f_nodes[kind]
        scipy_t[kind], out = measure(
            lambda nodes=nodes: dijkstra(
                rev_csr, directed=True, indices=nodes, min_only=True, return_predecessors=True
            )
        )
        scipy_d[kind] = out[0]
    res["ours_s"] = ours
    res["kernel_s"] = kernel_t
    res["scipy_s"] = scipy_t

    # ---- networkx: conversion, multi-source per kind
    log.info("[%s] networkx conversion", name)
    coo = net.csr().tocoo()
    rows, cols, w = coo.row.tolist(), coo.col.tolist(), coo.data.tolist()

    def to_nx() -> nx.DiGraph:
        g = nx.DiGraph()
        g.add_nodes_from(range(net.n_nodes))
        g.add_weighted_edges_from(zip(cols, rows, w))  # reversed: v -> u
        return g

    t_conv, g_rev = measure(to_nx, repeat=1)
    rows = cols = w = []  # free the lists
    res["nx_convert_s"] = t_conv
    log.info("[%s] networkx multi-source per kind", name)
    nx_t: dict[str, float] = {}
    nx_agree = True
    for kind, nodes in f_nodes.items():
        srcs = set(nodes.tolist())
        nx_t[kind], d = measure(
            lambda srcs=srcs: nx.multi_source_dijkstra_path_length(g_rev, srcs, weight="weight")
        )
        arr = np.full(net.n_nodes, np.inf)
        arr[np.fromiter(d.keys(), dtype=np.int64, count=len(d))] = np.fromiter(
            d.values(), dtype=float, count=len(d)
        )
        nx_agree &= bool(np.allclose(arr, scipy_d[kind], rtol=1e-9, atol=1e-6))
    res["nx_multi_s"] = nx_t
    res["agree_nx_multi_vs_scipy"] = nx_agree

    # ---- per-origin networkx loop on the forward graph (one search serves all kinds)
    n_loop = n_loop or loop_sample_size(net.n_nodes)
    log.info("[%s] per-origin networkx loop on %d origins", name, n_loop)
    g_fwd = g_rev.reverse(copy=False)
    o_node_all = nearest_net_node(net, snap_o)
    loop_nodes = rng.choice(o_node_all, size=min(n_loop, o_node_all.size), replace=False)
    kind_node_lists = {kind: nodes.tolist() for kind, nodes in f_nodes.items()}
    loop_agree = True
    t0 = time.perf_counter()
    loop_out = []
    for o in loop_nodes.tolist():
        d = nx.single_source_dijkstra_path_length(g_fwd, o, weight="weight")
        loop_out.append(
            {
                kind: min((d.get(f, math.inf) for f in fl), default=math.inf)
                for kind, fl in kind_node_lists.items()
            }
        )
    t_loop = time.perf_counter() - t0
    for o, got in zip(loop_nodes.tolist(), loop_out):
        for kind in KINDS:
            loop_agree &= bool(np.isclose(got[kind], scipy_d[kind][o], rtol=1e-9, atol=1e-6))
    per_origin = t_loop / len(loop_nodes)
    res["loop"] = {
        "origins_sampled": len(loop_nodes),
        "per_origin_s": per_origin,
        "extrapolated_s": per_origin * n_origins,
    }
    res["agree_loop_vs_scipy"] = loop_agree
    g_fwd = g_rev = None  # free the graphs
    gc.collect()

    # ---- correctness of ours: networkx multi-source on Router.reverse itself
    log.info("[%s] correctness check on Router.reverse", name)
    g_aug = nx.from_scipy_sparse_array(router.reverse, create_using=nx.DiGraph)
    check_rows = rng.choice(len(snap_o), size=min(5, len(snap_o)), replace=False)
    leg_s = snap_o["leg_s"].to_numpy(float)
    ours_agree = True
    max_diff = 0.0
    for kind, ids in kind_ids.items():
        d = nx.multi_source_dijkstra_path_length(
            g_aug, set(door_all.loc[ids].tolist()), weight="weight"
        )
        for r in check_rows.tolist():
            via_next = d.get(int(router.origin_next[r]), math.inf) + router.origin_next_s[r]
            via_prev = d.get(int(router.origin_prev[r]), math.inf) + router.origin_prev_s[r]
            expect = min(via_next, via_prev) + leg_s[r]
            got = float(ours_out[kind]["time_s"].iloc[r])
            max_diff = max(max_diff, abs(expect - got))
            ours_agree &= bool(np.isclose(expect, got, rtol=1e-9, atol=1e-6))
    res["agree_ours_vs_nx_on_router"] = ours_agree
    res["agree_ours_max_abs_diff_s"] = max_diff
    res["agree_checked_origins"] = int(check_rows.size)
    del g_aug
    gc.collect()

    # ---- pandana (contraction hierarchies)
    res["pandana"] = bench_pandana(name, net, coo, f_nodes, scipy_d)
    del coo
    gc.collect()

    # ---- ratios
    ours_sum = sum(ours.values())
    res["ours_sum_s"] = ours_sum
    res["kernel_sum_s"] = sum(kernel_t.values())
    res["scipy_sum_s"] = sum(scipy_t.values())
    res["nx_multi_sum_s"] = sum(nx_t.values())
    pd_res = res["pandana"]
    res["ratios"] = {
        "ours_vs_scipy": ratio(ours_sum, res["scipy_sum_s"]),
        "kernel_vs_scipy": ratio(res["kernel_sum_s"], res["scipy_sum_s"]),
        "nx_multi_vs_ours": ratio(res["nx_multi_sum_s"], ours_sum),
        "loop_vs_ours": ratio(res["loop"]["extrapolated_s"], ours_sum),
        "pandana_query_vs_ours": ratio(pd_res.get("query_sum_s"), ours_sum),
        "pandana_vs_ours": ratio(pd_res.get("total_s"), ours_sum),
        "pandana_vs_ours_with_setup": ratio(pd_res.get("total_s"), ours_sum + res["setup_s"]),
    }
    return res, net


def bench_pandana(
    name: str,
    net: Network,
    coo: Any,
    f_nodes: dict[str, np.ndarray],
    scipy_d: dict[str, np.ndarray],
) -> dict[str, Any]:
    try:
        import pandana
    except Exception as exc:
        print(f"note: pandana not measured ({type(exc).__name__}: {exc})")
        return {"available": False, "reason": str(exc)}
    log.info("[%s] pandana: contraction hierarchies", name)
    x, y = pd.Series(net.x), pd.Series(net.y)
    finite = [d[np.isfinite(d)].max() for d in scipy_d.values()]
    maxdist = float(max(finite)) * 1.01 + 1.0
    with stdout_to_stderr():
        t_ch, pnet = measure(
            lambda: pandana.Network(
                x,
                y,
                pd.Series(coo.row),
                pd.Series(coo.col),
                pd.DataFrame({"time_s": coo.data}),
                twoway=False,
            ),
            repeat=1,
        )
        q_t: dict[str, float] = {}
        max_abs = 0.0
        agree = True
        for kind, nodes in f_nodes.items():
            px, py = x.iloc[nodes].reset_index(drop=True), y.iloc[nodes].reset_index(drop=True)

            def query(kind: str = kind, px: pd.Series = px, py: pd.Series = py) -> pd.DataFrame:
                pnet.set_pois(category=kind, maxdist=maxdist, maxitems=1, x_col=px, y_col=py)
                return pnet.nearest_pois(maxdist, kind, num_pois=1)

            q_t[kind], out = measure(query)
            got = out[1].reindex(range(net.n_nodes)).to_numpy(float)
            ref = scipy_d[kind]
            # pandana keeps single-precision times: allow 0.1 % + 0.1 s
            diff = np.abs(got - ref)
            max_abs = max(max_abs, float(diff.max()))
            agree &= bool(np.all(diff <= 1e-3 * ref + 0.1))
    log.info("[%s] pandana done", name)
    query_sum = sum(q_t.values())
    return {
        "available": True,
        "version": pandana.__version__,
        "maxdist_s": maxdist,
        "ch_setup_s": t_ch,
        "query_s": q_t,
        "query_sum_s": query_sum,
        "total_s": t_ch + query_sum,
        "max_abs_diff_vs_scipy_s": max_abs,
        "agree_vs_scipy": agree,
    }


# --------------------------------------------------------------------------- W4 (I/O)
def bench_cache_load(name: str, net: Network, tmp: Path) -> dict[str, Any]:
    res: dict[str, Any] = {"graph": name, "nodes": net.n_nodes, "edges": net.n_edges}
    npz = tmp / "network.npz"
    log.info("[%s] cache: Network.save / Network.load", name)
    res["npz_save_s"], _ = measure(lambda: net.save(npz), repeat=1)
    res["npz_load_s"], loaded = measure(lambda: Network.load(npz))
    res["npz_mb"] = npz.stat().st_size / 1e6
    res["npz_roundtrip_ok"] = bool(
        np.array_equal(loaded.time_s, net.time_s) and np.array_equal(loaded.u, net.u)
    )
    del loaded

    log.info("[%s] cache: the network as an osmnx MultiDiGraph (convert.to_osmnx)", name)
    g = convert.to_osmnx(net)
    graphml = tmp / "network.graphml"
    reader = "osmnx.io.load_graphml"
    try:
        import osmnx

        log.info("[%s] cache: osmnx.io.save_graphml", name)
        res["graphml_save_s"], _ = measure(lambda: osmnx.io.save_graphml(g, graphml), repeat=1)
        log.info("[%s] cache: osmnx.io.load_graphml", name)
        res["graphml_load_s"], back = measure(lambda: osmnx.io.load_graphml(graphml), repeat=1)
    except Exception as exc:
        print(
            f"note: osmnx GraphML I/O failed ({type(exc).__name__}: {exc}); using networkx read/write_graphml"
        )
        reader = "networkx.read_graphml"
        if not graphml.exists():
            res["graphml_save_s"], _ = measure(lambda: nx.write_graphml(g, graphml), repeat=1)
        res["graphml_load_s"], back = measure(lambda: nx.read_graphml(graphml), repeat=1)
    g = None  # free the graph
    gc.collect()
    res["graphml_reader"] = reader
    res["graphml_mb"] = graphml.stat().st_size / 1e6
    res["graphml_roundtrip_edges"] = int(back.number_of_edges())
    del back
    gc.collect()
    res["ratio_graphml_vs_npz"] = ratio(res["graphml_load_s"], res["npz_load_s"])
    return res


# --------------------------------------------------------------------------- report
def print_graph(res: dict[str, Any]) -> None:
    p = res["pandana"]
    sp = res["setup_parts_s"]
    print(
        f"\n== {res['graph']}: {res['nodes']:,} nodes, {res['edges']:,} edges ({res['mode']}), "
        f"{res['origins']:,} origins, kinds {'/'.join(str(k) for k in KINDS.values())} facilities"
    )
    print(f"  network.build            {fmt_s(res['build_s'])} s")
    print(
        f"  set-up                   {fmt_s(res['setup_s'])} s  (snap origins {fmt_s(sp['snap_origins'])}, "
        f"snap facilities {fmt_s(sp['snap_facilities'])}, Router.build {fmt_s(sp['router_build'])})"
    )
    print(
        f"  augmented graph          {res['augmented_nodes']:,} nodes (network + split points + doors)"
    )
    print(
        f"  networkx conversion      {fmt_s(res['nx_convert_s'])} s;  csr().T for scipy {fmt_s(res['scipy_prep_s'])} s"
    )
    if p.get("available"):
        print(f"  pandana CH set-up        {fmt_s(p['ch_setup_s'])} s")
    header = (
        f"  {'kind':<6} {'ours s':>9} {'kernel s':>9} {'scipy s':>9} {'ours/scipy':>10} {'kern/scipy':>10} "
        f"{'nx-multi s':>11} {'nx/ours':>9} {'pandana q s':>12} {'pd q/ours':>9}"
    )
    print(header)
    for kind in [*KINDS, "sum"]:
        if kind == "sum":
            o, k, s, n = (
                res["ours_sum_s"],
                res["kernel_sum_s"],
                res["scipy_sum_s"],
                res["nx_multi_sum_s"],
            )
            q = p.get("query_sum_s")
        else:
            o, k, s, n = (
                res["ours_s"][kind],
                res["kernel_s"][kind],
                res["scipy_s"][kind],
                res["nx_multi_s"][kind],
            )
            q = p.get("query_s", {}).get(kind)
        print(
            f"  {kind:<6} {fmt_s(o):>9} {fmt_s(k):>9} {fmt_s(s):>9} {fmt_r(ratio(o, s)):>10} {fmt_r(ratio(k, s)):>10} {fmt_s(n):>11} "
            f"{fmt_r(ratio(n, o)):>9} {fmt_s(q):>12} {fmt_r(ratio(q, o)):>9}"
        )
    lp = res["loop"]
    r = res["ratios"]
    print(
        f"  per-origin networkx loop: {fmt_s(lp['per_origin_s'])} s/origin ({lp['origins_sampled']} sampled) → "
        f"{fmt_s(lp['extrapolated_s'])} s for {res['origins']:,} origins; loop/ours = {fmt_r(r['loop_vs_ours'])}"
    )
    if p.get("available"):
        print(
            f"  pandana CH + queries {fmt_s(p['total_s'])} s: /ours = {fmt_r(r['pandana_vs_ours'])}, "
            f"/(ours + our set-up) = {fmt_r(r['pandana_vs_ours_with_setup'])}"
        )
    yn = {True: "yes", False: "NO"}
    print(
        f"  agree: {yn[res['agree_ours_vs_nx_on_router']]} (ours vs networkx on Router.reverse, "
        f"{res['agree_checked_origins']} origins × {len(KINDS)} kinds, max |diff| {res['agree_ours_max_abs_diff_s']:.2e} s); "
        f"nx multi-source vs scipy: {yn[res['agree_nx_multi_vs_scipy']]}; loop vs scipy: {yn[res['agree_loop_vs_scipy']]}"
        + (
            f"; pandana vs scipy: {yn[p['agree_vs_scipy']]} (single precision; max |diff| {p['max_abs_diff_vs_scipy_s']:.2f} s)"
            if p.get("available")
            else ""
        )
    )


def print_summary(results: dict[str, Any]) -> None:
    print(
        "\n## W1 summary (seconds, summed over the 4 kinds; ours = Router.nearest, "
        "kernel = its scipy search on Router.reverse alone)\n"
    )
    print(
        "| graph | nodes | edges | build | set-up | ours | kernel | raw scipy | ours/scipy | kernel/scipy | nx multi | nx/ours "
        "| nx loop (extrap.) | loop/ours | pandana CH | pandana queries | pandana total/ours |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for g in results["graphs"]:
        r, p = g["ratios"], g["pandana"]
        print(
            f"| {g['graph']} | {g['nodes']:,} | {g['edges']:,} | {fmt_s(g['build_s'])} | {fmt_s(g['setup_s'])} "
            f"| {fmt_s(g['ours_sum_s'])} | {fmt_s(g['kernel_sum_s'])} | {fmt_s(g['scipy_sum_s'])} | {fmt_r(r['ours_vs_scipy'])} "
            f"| {fmt_r(r['kernel_vs_scipy'])} "
            f"| {fmt_s(g['nx_multi_sum_s'])} | {fmt_r(r['nx_multi_vs_ours'])} | {fmt_s(g['loop']['extrapolated_s'])} "
            f"| {fmt_r(r['loop_vs_ours'])} | {fmt_s(p.get('ch_setup_s'))} | {fmt_s(p.get('query_sum_s'))} "
            f"| {fmt_r(r['pandana_vs_ours'])} |"
        )
    print("\nTargets:")
    for g in results["graphs"]:
        r = g["ratios"]
        checks = [
            ("ours_vs_scipy", r["ours_vs_scipy"], lambda x: x <= 1.5),
            ("nx_multi_vs_ours", r["nx_multi_vs_ours"], lambda x: x >= 10),
            ("loop_vs_ours", r["loop_vs_ours"], lambda x: x >= 1000),
            ("pandana_vs_ours", r["pandana_vs_ours"], lambda x: x > 1),
        ]
        marks = [
            f"{TARGETS[k]}: {'n/a' if v is None else ('met' if ok(v) else 'MISSED')} ({fmt_r(v)})"
            for k, v, ok in checks
        ]
        g["targets"] = {k: (None if v is None else bool(ok(v))) for k, v, ok in checks}
        print(f"  {g['graph']}: " + "; ".join(marks))
    c = results.get("cache_load")
    if c:
        print("\n## W4 cache load\n")
        print(
            "| graph | nodes | edges | npz MB | GraphML MB | Network.load s | GraphML load s | reader | GraphML/npz |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---|---:|")
        print(
            f"| {c['graph']} | {c['nodes']:,} | {c['edges']:,} | {c['npz_mb']:.1f} | {c['graphml_mb']:.1f} "
            f"| {fmt_s(c['npz_load_s'])} | {fmt_s(c['graphml_load_s'])} | {c['graphml_reader']} | {fmt_r(c['ratio_graphml_vs_npz'])} |"
        )
        ok = c["ratio_graphml_vs_npz"] is not None and c["ratio_graphml_vs_npz"] >= 10
        c["target_met"] = ok
        print(f"\nTarget {TARGETS['cache_load']}: {'met' if ok else 'MISSED'}")


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", default="50000,300000", help="road-like graph sizes in nodes, comma separated"
    )
    parser.add_argument(
        "--origins",
        type=int,
        default=None,
        help="random origins per graph (default 10000; 2000 with --quick)",
    )
    parser.add_argument(
        "--loop-origins",
        type=int,
        default=None,
        help="origins searched one by one with networkx (default by graph size)",
    )
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: sample county and graphs up to 50k nodes, fewer origins",
    )
    parser.add_argument(
        "--no-cache-load", action="store_true", help="skip the npz vs GraphML load benchmark"
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=RESULTS,
        help="JSON file for the numbers (default: %(default)s)",
    )
    args = parser.parse_args(argv)

    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S"
    )
    logging.getLogger("accessibility").setLevel(logging.WARNING)

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if args.quick:
        sizes = [s for s in sizes if s <= 50_000] or [50_000]
    n_origins = args.origins or (2_000 if args.quick else 10_000)
    n_loop = args.loop_origins or (5 if args.quick else None)

    results: dict[str, Any] = {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "networkx": nx.__version__,
        },
        "args": vars(args),
        "targets": TARGETS,
        "graphs": [],
        "notes": [],
    }
    print(
        f"bench_engine {results['date']}  ({results['machine']['cpus']} CPUs, Python {results['machine']['python']}, "
        f"scipy {scipy.__version__}, networkx {nx.__version__}); mode {MODE}; {n_origins:,} origins"
    )

    largest: tuple[str, Network] | None = None
    with tempfile.TemporaryDirectory(prefix="bench_engine_") as tmpdir:
        tmp = Path(tmpdir)
        graphs: list[tuple[str, Callable[[], tuple[RoadData, str] | None]]] = [
            ("sample county", lambda: sample_county(tmp))
        ]
        graphs += [
            (
                f"roadlike-{s // 1000}k" if s >= 1000 else f"roadlike-{s}",
                lambda s=s: (roadlike(s, seed=args.seed), ROADLIKE_CRS),
            )
            for s in sizes
        ]
        for i, (name, make) in enumerate(graphs):
            log.info("[%s] preparing road data", name)
            made = make()
            if made is None:
                results["notes"].append(f"{name}: skipped (not available)")
                continue
            roads, crs = made
            res, net = bench_graph(
                name, roads, crs, n_origins=n_origins, n_loop=n_loop, seed=args.seed + i
            )
            results["graphs"].append(res)
            print_graph(res)
            write_results(results, args.output)
            if name.startswith("roadlike") and (
                largest is None or net.n_nodes > largest[1].n_nodes
            ):
                largest = (name, net)
            del roads, net
            gc.collect()

        if largest is not None and not args.no_cache_load:
            results["cache_load"] = bench_cache_load(largest[0], largest[1], tmp)
            gc.collect()

    print_summary(results)
    results["peak_rss_mb"] = peak_rss_mb()
    print(f"\npeak RSS {results['peak_rss_mb']:,.0f} MiB; results in {args.output}")
    write_results(results, args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
