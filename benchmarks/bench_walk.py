"""W3 on a walk graph of realistic density: bounded counts and per-origin searches.

See ``docs/performance.md`` (shared docs) for the workload and its targets and
``benchmarks/README.md`` for what the numbers mean. Not part of the tests; asserts
nothing about time.

Graphs
------
``walk``: :func:`walklike`, a synthetic walk network whose intersections lie 40–120 m
apart (like the footways, alleys and residential streets of towns and villages in
OSM), with shape nodes on some ways, as an OSM read gives them. ``roadlike``: the
road-like graph of ``benchmarks/roadlike.py`` (lines 150–400 m apart), the graph the
earlier W3 numbers were measured on. Both have about 300,000 nodes and are built with
``network.build(mode="walk")``.

Node orders
-----------
Every measurement runs on the same graph twice, back to back: nodes numbered in OSM
id order (as ``network.build`` numbered them before it ordered nodes in space) and in
Hilbert-curve order (:func:`accessibility.network.hilbert_order`). The two routers
share the snap tables (segments keep their indices), and their results are compared:
counts, pairs and nearest times must be equal exactly.

Timing
------
Searches from single origins start from each origin's nearer segment end on the
forward graph. Batch times (``_bounded.reach_each``, one compiled call over many
origins) are the best of at least 3 runs, each after reading 256 MiB so that the
caches hold none of the graph: networkx searches each origin once, and repeating a
small set of origins would otherwise measure warm searches. ``one call`` times one
``_bounded.reach`` call per origin from Python (each origin once).

W1 part: ``Router.nearest`` per kind (mode car, 4 kinds of 20, 100, 250 and 500
facilities, 10,000 origins) on the road-like graph in both node orders, with the
scipy search inside it alone, as in ``bench_engine.py``.

Usage::

    .venv/bin/python benchmarks/bench_walk.py [--graphs walk,roadlike] [--parts w3,w1]
        [--nodes 300000] [--origins 10000] [--nx-sample 300] [--scipy-sample 200] [--seed 0]

Prints tables on stdout, progress on stderr, and writes the numbers to
``benchmarks/results/walk.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import logging
import math
import platform
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyproj
from scipy.sparse.csgraph import dijkstra

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from accessibility.network import RoadData  # noqa: E402

log = logging.getLogger("bench_walk")

RESULTS = HERE / "results" / "walk.json"
#: The metric CRS the walk layout is drawn in (UTM 50N) and its south-west corner, metres.
CRS = "EPSG:32650"
X0, Y0 = 250_000.0, 3_765_000.0
KINDS = {"bus": 500, "reading": 200}
W1_KINDS = {"k20": 20, "k100": 100, "k250": 250, "k500": 500}
THRESHOLDS_S = [900.0, 1800.0]
BUCKETS = [0, 100, 300, 1_000, 3_000, 10_000, math.inf]

_MINOR = np.array(
    ["residential", "footway", "service", "path", "living_street", "track"], dtype=object
)
_MINOR_P = np.array([0.4, 0.25, 0.15, 0.1, 0.05, 0.05])
_WAY_LEN = 6  # segments per minor way
_ART_LEN = 30  # segments per arterial way


# --------------------------------------------------------------------------- the walk graph
def walklike(
    n_nodes: int,
    *,
    seed: int = 0,
    spacing_m: tuple[float, float] = (40.0, 120.0),
    jitter_m: float = 12.0,
    shape_share: float = 0.3,
) -> RoadData:
    """Return a walk network of about ``n_nodes`` nodes as road data.

    Parameters
    ----------
    n_nodes
        Approximate number of nodes, intersections and shape nodes together.
    seed
        Seed of the random layout; the same seed gives the same roads.
    spacing_m
        Range of the distance between neighbouring grid lines, metres; each line
        has its own (uniform in the range).
    jitter_m
        Every intersection is moved by up to this many metres in x and y.
    shape_share
        Share of the kept grid segments that get a shape node (a bend of the way,
        moved up to ``jitter_m`` off the straight line) in their middle.

    Returns
    -------
    RoadData
        Nodes (index = OSM-like ids in random order, ``lon``/``lat``) and segments
        (``way``, ``u``, ``v``, ``highway``, ``oneway`` 0, ``maxspeed`` NaN,
        ``exempt`` ""). Every 25th grid line is ``secondary``, every 8th
        ``tertiary``; the others are cut into ways of 6 segments, ``residential``,
        ``footway``, ``service``, ``path``, ``living_street`` or ``track``. About
        20 % of the minor segments and 2 % of the others are removed (blocks, dead
        ends), and footpaths cross 6 % of the cells diagonally.
    """
    if n_nodes < 16:
        msg = f"n_nodes must be at least 16, got {n_nodes}"
        raise ValueError(msg)
    rng = np.random.default_rng(seed)
    # kept segments per grid node ≈ 2 · 0.8 + 0.06, so shape nodes add ≈ 1.66 · share
    n_grid = n_nodes / (1.0 + 1.66 * shape_share)
    nc = max(4, round(math.sqrt(n_grid)))
    nr = max(4, math.ceil(n_grid / nc))
    n = nr * nc
    lo, hi = spacing_m
    xs = np.concatenate([[0.0], np.cumsum(rng.uniform(lo, hi, nc - 1))])
    ys = np.concatenate([[0.0], np.cumsum(rng.uniform(lo, hi, nr - 1))])
    gx = np.tile(xs, nr) + rng.uniform(-jitter_m, jitter_m, n)
    gy = np.repeat(ys, nc) + rng.uniform(-jitter_m, jitter_m, n)

    grid = np.arange(n, dtype=np.int64).reshape(nr, nc)
    r_h, c_h = np.divmod(np.arange(nr * (nc - 1)), nc - 1)
    c_v, r_v = np.divmod(np.arange((nr - 1) * nc), nr - 1)
    h_cls = np.where(r_h % 25 == 0, 0, np.where(r_h % 8 == 0, 1, 2))
    v_cls = np.where(c_v % 25 == 0, 0, np.where(c_v % 8 == 0, 1, 2))
    h_way = r_h * (nc // _WAY_LEN + 1) + np.where(h_cls == 2, c_h // _WAY_LEN, c_h // _ART_LEN)
    v_way = (
        nr * (nc // _WAY_LEN + 1)
        + c_v * (nr // _WAY_LEN + 1)
        + np.where(v_cls == 2, r_v // _WAY_LEN, r_v // _ART_LEN)
    )
    u = np.concatenate([grid[r_h, c_h], grid[r_v, c_v]])
    v = np.concatenate([grid[r_h, c_h + 1], grid[r_v + 1, c_v]])
    way = np.concatenate([h_way, v_way])
    cls = np.concatenate([h_cls, v_cls])

    # diagonal footpaths, each its own way
    n_cells = (nr - 1) * (nc - 1)
    cells = rng.choice(n_cells, size=int(0.06 * n_cells), replace=False)
    cr, cc = np.divmod(cells, nc - 1)
    anti = rng.random(cells.size) < 0.5
    u = np.concatenate([u, np.where(anti, grid[cr, cc + 1], grid[cr, cc])])
    v = np.concatenate([v, np.where(anti, grid[cr + 1, cc], grid[cr + 1, cc + 1])])
    way = np.concatenate([way, way.max() + 1 + np.arange(cells.size)])
    cls = np.concatenate([cls, np.full(cells.size, 3)])

    n_lines = u.size - cells.size
    keep = np.ones(u.size, dtype=bool)
    keep[:n_lines] = rng.random(n_lines) >= np.where(cls[:n_lines] == 2, 0.2, 0.02)
    u, v, way, cls = u[keep], v[keep], way[keep], cls[keep]

    # shape nodes: split some segments in two at a point moved off the straight line
    split = rng.random(u.size) < shape_share
    k = int(split.sum())
    mid = n + np.arange(k)
    mx = 0.5 * (gx[u[split]] + gx[v[split]]) + rng.uniform(-jitter_m, jitter_m, k)
    my = 0.5 * (gy[u[split]] + gy[v[split]]) + rng.uniform(-jitter_m, jitter_m, k)
    gx, gy = np.concatenate([gx, mx]), np.concatenate([gy, my])
    u = np.concatenate([u[~split], u[split], mid])
    v = np.concatenate([v[~split], mid, v[split]])
    way = np.concatenate([way[~split], way[split], way[split]])
    cls = np.concatenate([cls[~split], cls[split], cls[split]])

    ways, way_idx = np.unique(way, return_inverse=True)
    minor_of_way = _MINOR[rng.choice(_MINOR.size, size=ways.size, p=_MINOR_P)]
    highway = np.empty(u.size, dtype=object)
    highway[cls == 0] = "secondary"
    highway[cls == 1] = "tertiary"
    highway[cls == 3] = "footway"
    minor = cls == 2
    highway[minor] = minor_of_way[way_idx[minor]]

    n_all = gx.size
    to_wgs = pyproj.Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
    lon, lat = to_wgs.transform(X0 + gx, Y0 + gy)
    osm_id = 2_000_000_000 + rng.permutation(n_all).astype(np.int64)
    nodes = pd.DataFrame({"lon": lon, "lat": lat}, index=pd.Index(osm_id, name="id"))
    segments = pd.DataFrame(
        {
            "way": ways[way_idx].astype(np.int64) + 1,
            "u": osm_id[u],
            "v": osm_id[v],
            "highway": highway,
            "oneway": np.zeros(u.size, dtype=np.int8),
            "maxspeed": np.full(u.size, np.nan),
            "exempt": np.full(u.size, "", dtype=object),
        }
    )
    return RoadData(nodes=nodes, segments=segments, fingerprint=f"walklike-{n_nodes}-{seed}")


# --------------------------------------------------------------------------- helpers
def best_of(fn: Callable[[], Any], *, min_s: float = 0.3, min_reps: int = 3) -> tuple[float, Any]:
    """Best wall time of ``fn`` over at least ``min_reps`` runs and ``min_s`` seconds (one run if it takes over 1 s)."""
    t0 = time.perf_counter()
    out = fn()
    best = time.perf_counter() - t0
    if best > 1.0:
        return best, out
    spent, reps = best, 1
    while reps < min_reps or spent < min_s:
        t0 = time.perf_counter()
        fn()
        t = time.perf_counter() - t0
        best, spent, reps = min(best, t), spent + t, reps + 1
    return best, out


_SCRATCH: np.ndarray | None = None


def evict_caches() -> None:
    """Read 256 MiB, so that the CPU caches hold none of the graph (every timed search starts cold)."""
    global _SCRATCH
    if _SCRATCH is None:
        _SCRATCH = np.ones(32 * 2**20)
    float(_SCRATCH.sum())


def per_item(fn: Callable[[], Any], n_items: int, *, min_s: float = 0.2) -> float:
    """Seconds per item of a batch call: best of at least 3 runs, each after :func:`evict_caches`.

    A run over 1 s is not repeated. Without the eviction, repeating a call on a
    small set of origins would find their part of the graph in the caches and
    measure a warm search, which a real run of many origins (and networkx, timed
    once per origin) does not get.
    """
    fn()
    best, spent, reps = math.inf, 0.0, 0
    while reps < 3 or spent < min_s:
        evict_caches()
        t0 = time.perf_counter()
        fn()
        t = time.perf_counter() - t0
        best, spent, reps = min(best, t), spent + t, reps + 1
        if t > 1.0:
            break
    return best / max(n_items, 1)


def origin_nodes(net: Any, snap: pd.DataFrame) -> np.ndarray:
    """The network node nearer (along its segment) to each snapped origin."""
    seg = snap["segment"].to_numpy(np.int64)
    frac = snap["fraction"].to_numpy(float)
    return np.where(frac < 0.5, net.seg_a[seg], net.seg_b[seg]).astype(np.int64)


def bucket_label(lo: float, hi: float) -> str:
    return f"{lo:,}–{hi:,}" if math.isfinite(hi) else f"≥ {lo:,}"


# --------------------------------------------------------------------------- one graph
def run_graph(name: str, roads: RoadData, crs: str, args: argparse.Namespace) -> dict[str, Any]:
    import networkx as nx
    from bench_engine import random_points

    from accessibility import _bounded, network, snapping
    from accessibility.engine import Router

    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    built = network.build(roads, mode="walk", crs=crs)
    t_build = time.perf_counter() - t0
    log.info("[%s] built: %d nodes, %d edges, %.2f s", name, built.n_nodes, built.n_edges, t_build)
    seg_len = np.zeros(built.n_segments)
    seg_len[built.segment] = built.length_m
    jitter = float(np.median(seg_len))
    origins = random_points(built, args.origins, rng, "o", jitter_m=jitter)
    fac = pd.concat(
        [random_points(built, k, rng, f"{kind}-", jitter_m=jitter) for kind, k in KINDS.items()]
    )
    # segments keep their indices whatever the node order, so one snap serves both orders
    t0 = time.perf_counter()
    o_snap = snapping.snap(built, origins)
    f_snap = snapping.snap(built, fac)
    t_snap = time.perf_counter() - t0
    kind_ids = {k: f_snap.index[f_snap.index.str.startswith(f"{k}-")] for k in KINDS}

    orders = {
        "osm-id": np.argsort(built.node_id, kind="stable"),
        "hilbert": network.hilbert_order(built.x, built.y),
    }
    res: dict[str, Any] = {
        "graph": name,
        "nodes": built.n_nodes,
        "edges": built.n_edges,
        "median_segment_m": jitter,
        "build_s": t_build,
        "snap_s": t_snap,
        "origins": args.origins,
        "kinds": KINDS,
        "thresholds_s": THRESHOLDS_S,
        "orders": {},
    }
    nets: dict[str, Any] = {}
    routers: dict[str, Any] = {}
    outs: dict[str, dict[str, Any]] = {}
    o_node: dict[str, np.ndarray] = {}
    sample_rows = rng.choice(args.origins, size=min(args.nx_sample, args.origins), replace=False)
    for label, order in orders.items():
        net = network.renumber_nodes(built, order)
        nets[label] = net
        t0 = time.perf_counter()
        router = Router.build(net, o_snap, f_snap)
        t_router = time.perf_counter() - t0
        routers[label] = router
        router.count_within(THRESHOLDS_S, kind_ids["bus"][:5])  # CSR arrays, origin lists
        r: dict[str, Any] = {"router_build_s": t_router, "count_s": {}, "nearest_s": {}}
        out: dict[str, Any] = {"count": {}, "nearest": {}, "pairs": {}}
        for kind, ids in kind_ids.items():
            t_c, counts = best_of(
                lambda ids=ids, router=router: router.count_within(THRESHOLDS_S, ids)
            )
            t_n, near = best_of(lambda ids=ids, router=router: router.nearest(ids))
            _, pairs = best_of(
                lambda ids=ids, router=router: router.pairs_within(THRESHOLDS_S[0], ids),
                min_s=0.0,
                min_reps=1,
            )
            r["count_s"][kind], r["nearest_s"][kind] = t_c, t_n
            out["count"][kind], out["nearest"][kind], out["pairs"][kind] = counts, near, pairs
        r["count_total_s"] = sum(r["count_s"].values())
        r["nearest_total_s"] = sum(r["nearest_s"].values())
        log.info(
            "[%s/%s] count_within %.4f s, nearest %.4f s (both kinds)",
            name,
            label,
            r["count_total_s"],
            r["nearest_total_s"],
        )
        outs[label] = out
        o_node[label] = origin_nodes(net, o_snap)
        res["orders"][label] = r

    # results of the two orders must agree
    a, b = outs["osm-id"], outs["hilbert"]
    agree: dict[str, Any] = {"counts": True, "pairs": True, "nearest_time": True}
    moved = 0
    for kind in KINDS:
        agree["counts"] &= bool(a["count"][kind].equals(b["count"][kind]))
        pa, pb = a["pairs"][kind], b["pairs"][kind]
        agree["pairs"] &= bool((pa != pb).nnz == 0)
        ta, tb = a["nearest"][kind]["time_s"].to_numpy(), b["nearest"][kind]["time_s"].to_numpy()
        agree["nearest_time"] &= bool(np.array_equal(ta, tb))
        fa, fb = a["nearest"][kind]["facility_id"], b["nearest"][kind]["facility_id"]
        moved += int((fa != fb).sum())
    agree["nearest_facility_changed"] = moved
    res["agree"] = agree
    log.info("[%s] orders agree: %s", name, agree)

    # per-origin searches, forward from each origin's nearer node, both orders
    csr = {label: _bounded.csr_arrays(net.csr()) for label, net in nets.items()}
    fwd = {label: net.csr() for label, net in nets.items()}
    work = {label: _bounded.Workspace(net.n_nodes) for label, net in nets.items()}
    g = None
    per: dict[str, Any] = {}
    for limit in THRESHOLDS_S:
        reached = {
            label: _bounded.reach_each(csr[label], o_node[label], limit, work=work[label])
            for label in nets
        }
        same_reach = bool(np.array_equal(reached["osm-id"], reached["hilbert"]))
        n_reached = reached["hilbert"]
        entry: dict[str, Any] = {
            "mean_reached": float(n_reached.mean()),
            "same_reach": same_reach,
            "orders": {},
        }
        sample = sample_rows  # rows into the origins, the same for every order and tool
        for label in nets:
            nodes, cs, wk = o_node[label], csr[label], work[label]
            batch = per_item(
                lambda nodes=nodes, cs=cs, wk=wk, lim=limit: _bounded.reach_each(
                    cs, nodes, lim, work=wk
                ),
                nodes.size,
            )
            wrapped = np.empty(nodes.size)
            for i, o in enumerate(nodes.tolist()):
                t0 = time.perf_counter()
                _bounded.reach(cs, [o], limit, work=wk)
                wrapped[i] = time.perf_counter() - t0
            n_sc = min(args.scipy_sample, sample.size)
            t0 = time.perf_counter()
            for o in nodes[sample[:n_sc]].tolist():
                dijkstra(fwd[label], directed=True, indices=o, limit=limit)
            scipy_per = (time.perf_counter() - t0) / n_sc
            buckets = []
            for lo, hi in itertools.pairwise(BUCKETS):
                sel = (n_reached >= lo) & (n_reached < hi)
                if not sel.any():
                    continue
                sub = nodes[sel]
                buckets.append(
                    {
                        "reached": bucket_label(lo, hi),
                        "origins": int(sel.sum()),
                        "mean_reached": float(n_reached[sel].mean()),
                        "batch_us": 1e6
                        * per_item(
                            lambda sub=sub, cs=cs, wk=wk, lim=limit: _bounded.reach_each(
                                cs, sub, lim, work=wk
                            ),
                            sub.size,
                        ),
                        "call_us": 1e6 * float(wrapped[sel].mean()),
                    }
                )
            entry["orders"][label] = {
                "batch_us": batch * 1e6,
                "call_us": float(wrapped.mean()) * 1e6,
                "scipy_us": scipy_per * 1e6,
                "scipy_sample": n_sc,
                "ns_per_reached_node": batch * 1e9 / float(n_reached.mean()),
                "buckets": buckets,
            }
            log.info(
                "[%s/%s] %.0f s: batch %.1f µs, call %.1f µs, scipy %.1f µs per origin",
                name,
                label,
                limit,
                batch * 1e6,
                float(wrapped.mean()) * 1e6,
                scipy_per * 1e6,
            )

        # networkx with a cutoff on the sampled origins (its dict graph does not depend on
        # the numbering; searched on the Hilbert-numbered graph), against ours on the same origins
        if g is None:
            t0 = time.perf_counter()
            coo = fwd["hilbert"].tocoo()
            g = nx.DiGraph()
            g.add_nodes_from(range(nets["hilbert"].n_nodes))
            g.add_weighted_edges_from(zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist()))
            res["nx_convert_s"] = time.perf_counter() - t0
        nx_secs = np.empty(sample.size)
        nx_agree = True
        for i, o in enumerate(o_node["hilbert"][sample].tolist()):
            t0 = time.perf_counter()
            d = nx.single_source_dijkstra_path_length(g, o, cutoff=limit, weight="weight")
            nx_secs[i] = time.perf_counter() - t0
            nx_agree &= len(d) == n_reached[sample[i]]
        sample_reached = n_reached[sample]
        nx_rows = []
        for lo, hi in [*itertools.pairwise(BUCKETS), (0, math.inf)]:
            sel = (sample_reached >= lo) & (sample_reached < hi)
            if not sel.any():
                continue
            row: dict[str, Any] = {
                "reached": "all" if (lo, hi) == (0, math.inf) else bucket_label(lo, hi),
                "origins": int(sel.sum()),
                "mean_reached": float(sample_reached[sel].mean()),
                "nx_us": 1e6 * float(nx_secs[sel].mean()),
            }
            for label in nets:
                sub = o_node[label][sample[sel]]
                cs, wk = csr[label], work[label]
                row[f"ours_{label}_us"] = 1e6 * per_item(
                    lambda sub=sub, cs=cs, wk=wk, lim=limit: _bounded.reach_each(
                        cs, sub, lim, work=wk
                    ),
                    sub.size,
                )
                row[f"nx_over_{label}"] = row["nx_us"] / row[f"ours_{label}_us"]
            nx_rows.append(row)
        entry["nx"] = {"sample": int(sample.size), "agree": bool(nx_agree), "rows": nx_rows}
        per[str(int(limit))] = entry
    res["per_origin"] = per
    res["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return res


def run_w1(name: str, roads: RoadData, crs: str, args: argparse.Namespace) -> dict[str, Any]:
    """W1-style ``Router.nearest`` (mode car, 4 kinds) in OSM-id and Hilbert node order."""
    from bench_engine import random_points

    from accessibility import network, snapping
    from accessibility.engine import Router

    rng = np.random.default_rng(args.seed + 1)
    built = network.build(roads, mode="car", crs=crs)
    origins = random_points(built, args.origins, rng, "o")
    fac = pd.concat([random_points(built, k, rng, f"{kind}-") for kind, k in W1_KINDS.items()])
    o_snap, f_snap = snapping.snap(built, origins), snapping.snap(built, fac)
    kind_ids = {k: f_snap.index[f_snap.index.str.startswith(f"{k}-")] for k in W1_KINDS}
    orders = {
        "osm-id": np.argsort(built.node_id, kind="stable"),
        "hilbert": network.hilbert_order(built.x, built.y),
    }
    res: dict[str, Any] = {"graph": name, "nodes": built.n_nodes, "edges": built.n_edges}
    near: dict[str, dict[str, pd.DataFrame]] = {}
    for label, order in orders.items():
        router = Router.build(network.renumber_nodes(built, order), o_snap, f_snap)
        router.nearest(kind_ids["k20"])
        times, kernel, near[label] = {}, {}, {}
        for kind, ids in kind_ids.items():
            doors = router.facility_door[np.unique(router.facilities.index.get_indexer(ids))]
            times[kind], near[label][kind] = best_of(lambda r=router, ids=ids: r.nearest(ids))
            kernel[kind], _ = best_of(
                lambda r=router, doors=doors: dijkstra(
                    r.reverse, directed=True, indices=doors, min_only=True
                )
            )
        res[label] = {"nearest_s": times, "kernel_s": kernel, "total_s": sum(times.values())}
        log.info("[w1 %s/%s] nearest, 4 kinds: %.3f s", name, label, sum(times.values()))
    a, b = near["osm-id"], near["hilbert"]
    res["times_equal"] = all(
        np.array_equal(a[k]["time_s"].to_numpy(), b[k]["time_s"].to_numpy()) for k in W1_KINDS
    )
    res["facility_changed"] = int(
        sum((a[k]["facility_id"] != b[k]["facility_id"]).sum() for k in W1_KINDS)
    )
    return res


# --------------------------------------------------------------------------- report
def fmt(x: float, digits: int = 3) -> str:
    if x == 0:
        return "0"
    mag = math.floor(math.log10(abs(x)))
    return f"{x:,.{max(0, digits - 1 - mag)}f}"


def report(results: dict[str, Any]) -> None:
    for res in results["graphs"]:
        o, h = res["orders"]["osm-id"], res["orders"]["hilbert"]
        print(
            f"\n## {res['graph']}: {res['nodes']:,} nodes, {res['edges']:,} edges, median segment "
            f"{res['median_segment_m']:.0f} m; mode walk; {res['origins']:,} origins"
        )
        print(
            "\nWhole calls (seconds, both kinds: "
            + ", ".join(f"{k} {n}" for k, n in KINDS.items())
            + "):\n"
        )
        print("| call | OSM-id order | Hilbert order | OSM-id / Hilbert |")
        print("|---|---:|---:|---:|")
        for key, label in (
            ("count_total_s", "`count_within([900, 1800])`"),
            ("nearest_total_s", "`nearest`"),
        ):
            print(f"| {label} | {fmt(o[key])} | {fmt(h[key])} | {o[key] / h[key]:.2f}× |")
        ag = res["agree"]
        print(
            f"\nResults of the two orders: counts equal {ag['counts']}, pairs equal {ag['pairs']}, "
            f"nearest times equal {ag['nearest_time']}, nearest facility changed for "
            f"{ag['nearest_facility_changed']} origin-kind pairs."
        )
        for limit, e in res["per_origin"].items():
            eo, eh = e["orders"]["osm-id"], e["orders"]["hilbert"]
            print(
                f"\n### {int(limit) // 60} min — mean {e['mean_reached']:,.0f} nodes reached "
                f"(same in both orders: {e['same_reach']})\n"
            )
            print("| per origin | OSM-id order | Hilbert order |")
            print("|---|---:|---:|")
            print(
                f"| compiled loop (`reach_each`, all origins) | {fmt(eo['batch_us'])} µs | {fmt(eh['batch_us'])} µs |"
            )
            print(f"| one `reach` call each | {fmt(eo['call_us'])} µs | {fmt(eh['call_us'])} µs |")
            print(
                f"| ns per reached node (compiled loop) | {eo['ns_per_reached_node']:.0f} | {eh['ns_per_reached_node']:.0f} |"
            )
            print(
                f"| scipy `dijkstra(limit=)` ({eo['scipy_sample']} origins) | {fmt(eo['scipy_us'])} µs | {fmt(eh['scipy_us'])} µs |"
            )
            print(
                "\n| nodes reached | origins | mean reached | compiled loop µs (id / Hilbert) | one call µs (id / Hilbert) |"
            )
            print("|---|---:|---:|---:|---:|")
            for bo, bh in zip(eo["buckets"], eh["buckets"]):
                print(
                    f"| {bo['reached']} | {bo['origins']:,} | {bo['mean_reached']:,.0f} | "
                    f"{fmt(bo['batch_us'])} / {fmt(bh['batch_us'])} | {fmt(bo['call_us'])} / {fmt(bh['call_us'])} |"
                )
            nxe = e["nx"]
            print(
                f"\nnetworkx `single_source_dijkstra_path_length(cutoff={int(float(limit))})` on "
                f"{nxe['sample']} of the same origins (reached-node counts agree: {nxe['agree']}):\n"
            )
            print(
                "| nodes reached | origins | mean reached | networkx µs | ours µs (id) | nx/ours (id) | ours µs (Hilbert) | nx/ours (Hilbert) |"
            )
            print("|---|---:|---:|---:|---:|---:|---:|---:|")
            for row in nxe["rows"]:
                print(
                    f"| {row['reached']} | {row['origins']:,} | {row['mean_reached']:,.0f} | {fmt(row['nx_us'])} | "
                    f"{fmt(row['ours_osm-id_us'])} | {row['nx_over_osm-id']:.1f}× | "
                    f"{fmt(row['ours_hilbert_us'])} | {row['nx_over_hilbert']:.1f}× |"
                )


def report_w1(results: dict[str, Any]) -> None:
    if not results.get("w1"):
        return
    print("\n## W1-style `Router.nearest` (mode car; 4 kinds: 20, 100, 250, 500 facilities)\n")
    print(
        "| graph | nodes | OSM-id order s | Hilbert order s | id / Hilbert | scipy search alone, id / Hilbert s | times equal | nearest facility changed |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for w in results["w1"]:
        o, h = w["osm-id"], w["hilbert"]
        ko, kh = sum(o["kernel_s"].values()), sum(h["kernel_s"].values())
        print(
            f"| {w['graph']} | {w['nodes']:,} | {fmt(o['total_s'])} | {fmt(h['total_s'])} | "
            f"{o['total_s'] / h['total_s']:.2f}× | {fmt(ko)} / {fmt(kh)} | {w['times_equal']} | {w['facility_changed']} |"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graphs", default="walk,roadlike", help="any of walk,roadlike")
    parser.add_argument(
        "--parts", default="w3,w1", help="w3 (walk mode, both graphs), w1 (car, road-like)"
    )
    parser.add_argument("--nodes", type=int, default=300_000)
    parser.add_argument("--origins", type=int, default=10_000)
    parser.add_argument(
        "--nx-sample", type=int, default=300, help="origins also searched with networkx"
    )
    parser.add_argument("--scipy-sample", type=int, default=200, help="of them, also with scipy")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)

    import networkx
    import numba
    import scipy

    results: dict[str, Any] = {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "numba": numba.__version__,
            "networkx": networkx.__version__,
            "processor": platform.processor() or platform.machine(),
        },
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "graphs": [],
        "w1": [],
    }
    parts = set(args.parts.split(","))
    for name in [g for g in args.graphs.split(",") if g]:
        if name == "walk":
            roads = walklike(args.nodes, seed=args.seed)
            crs = CRS
        elif name == "roadlike":
            from roadlike import CRS as ROAD_CRS
            from roadlike import roadlike

            roads, crs = roadlike(args.nodes, seed=args.seed), ROAD_CRS
        else:
            parser.error(f"unknown graph {name!r}; choose walk or roadlike")
        if "w3" in parts:
            results["graphs"].append(run_graph(name, roads, crs, args))
        if "w1" in parts and name == "roadlike":
            results["w1"].append(run_w1(name, roads, crs, args))
        del roads
    report(results)
    report_w1(results)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=1, default=float), encoding="utf-8")
    print(f"\nnumbers written to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
