"""Benchmark of the engine at province scale (W2), of bounded searches (W3), and pandana as a peer.

See ``docs/performance.md`` (shared docs) for the workloads and targets and
``benchmarks/README.md`` for what each number means. Every job runs in a fresh
child process, so its peak memory (``ru_maxrss``) is its own; ratios are measured
within one child, on the same graph.

Usage::

    .venv/bin/python benchmarks/bench_scale.py [--workloads compile,w2,w3,pandana]
        [--w2-sizes 1000000,3000000] [--w2-origins 100000] [--w3-nodes 300000]
        [--w3-origins 10000] [--pandana-sizes 1000000]

Prints tables on stdout, progress on stderr, and writes the numbers to
``benchmarks/results/scale.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import logging
import math
import os
import pickle
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil
from scipy.sparse.csgraph import dijkstra

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

log = logging.getLogger("bench_scale")

RESULTS = HERE / "results" / "scale.json"
W2_KINDS = {"k20": 20, "k50": 50, "k100": 100, "k200": 200, "k350": 350, "k500": 500}
W3_KINDS = {"k20": 20, "k100": 100, "k250": 250, "k500": 500}
W3_THRESHOLDS_S = [900.0, 1800.0]
CHUNK = 64  # sources per dense search in the former count_within


# --------------------------------------------------------------------------- helpers
def peak_rss_mb() -> float:
    """Peak resident set size of this process, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def timed(fn: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def make_points(net: Any, count: int, rng: np.random.Generator, prefix: str) -> Any:
    from bench_engine import random_points

    return random_points(net, count, rng, prefix)


def dense_counts(router: Any, ids: pd.Index, thresholds: np.ndarray) -> np.ndarray:
    """The former ``Router.count_within``: scipy searches from 64 facilities at a time, dense rows."""
    rows = np.unique(router.facilities.index.get_indexer(ids))
    leg = router.origins["leg_s"].to_numpy(float)
    counts = np.zeros((len(router.origins), thresholds.size), dtype=np.int64)
    for start in range(0, rows.size, CHUNK):
        doors = router.facility_door[rows[start : start + CHUNK]]
        dist = dijkstra(router.reverse, directed=True, indices=doors, limit=thresholds.max())
        via_next = dist[:, router.origin_next] + router.origin_next_s
        via_prev = dist[:, router.origin_prev] + router.origin_prev_s
        total = np.where(via_next <= via_prev, via_next, via_prev) + leg[None, :]
        counts += (total[:, :, None] <= thresholds[None, None, :]).sum(axis=0)
    return counts


# --------------------------------------------------------------------------- jobs (children)
def job_compile(spec: dict[str, Any]) -> dict[str, Any]:
    """Import and first calls of the compiled searches on a tiny graph (cache as the environment says)."""
    t_import, _ = timed(lambda: __import__("accessibility._bounded"))
    from accessibility import _bounded, network

    g = network.csr_from_edges(
        np.array([0, 1, 2]), np.array([1, 2, 0]), np.array([1.0, 2.0, 3.0]), 3
    )
    csr = _bounded.csr_arrays(g)
    att = _bounded.attach_origins(np.arange(3), np.arange(3), np.zeros(3), np.zeros(3), 3)
    t_reach, _ = timed(lambda: _bounded.reach(csr, [0], 10.0))
    t_count, _ = timed(lambda: _bounded.count_within(csr, [0, 1], [5.0], att, np.zeros(3)))
    t_pairs, _ = timed(lambda: _bounded.pairs_within(csr, [0, 1], 5.0, att, np.zeros(3)))
    t_again, _ = timed(lambda: _bounded.count_within(csr, [0, 1], [5.0], att, np.zeros(3)))
    return {
        "cache": spec["cache"],
        "import_s": t_import,
        "first_reach_s": t_reach,
        "first_count_s": t_count,
        "first_pairs_s": t_pairs,
        "first_calls_s": t_reach + t_count + t_pairs,
        "second_count_s": t_again,
    }


def job_w2_graph(spec: dict[str, Any]) -> dict[str, Any]:
    from roadlike import CRS, roadlike

    from accessibility import network

    n, tmp = spec["nodes"], Path(spec["tmp"])
    t_roads, roads = timed(lambda: roadlike(n, seed=spec["seed"]))
    rss_roads = rss_mb()
    t_build, net = timed(lambda: network.build(roads, mode="car", crs=CRS))
    net.save(tmp / f"net_{n}.npz")
    return {
        "nodes": net.n_nodes,
        "edges": net.n_edges,
        "roadlike_s": t_roads,
        "build_s": t_build,
        "rss_after_roads_mb": rss_roads,
        "peak_rss_mb": peak_rss_mb(),
    }


def job_w2_snap(spec: dict[str, Any]) -> dict[str, Any]:
    from accessibility import snapping
    from accessibility.network import Network

    n, tmp = spec["nodes"], Path(spec["tmp"])
    net = Network.load(tmp / f"net_{n}.npz")
    rng = np.random.default_rng(spec["seed"])
    origins = make_points(net, spec["origins"], rng, "o")
    fac = pd.concat([make_points(net, k, rng, f"{kind}-") for kind, k in W2_KINDS.items()])
    rss_before = rss_mb()
    t_o, snap_o = timed(lambda: snapping.snap(net, origins))
    t_f, snap_f = timed(lambda: snapping.snap(net, fac))
    with open(tmp / f"snap_{n}.pkl", "wb") as fh:
        pickle.dump((snap_o, snap_f), fh)
    return {
        "snap_origins_s": t_o,
        "snap_facilities_s": t_f,
        "rss_before_mb": rss_before,
        "peak_rss_mb": peak_rss_mb(),
    }


def job_w2_engine(spec: dict[str, Any]) -> dict[str, Any]:
    from bench_engine import measure, nearest_net_node

    from accessibility.engine import Router
    from accessibility.network import Network

    n, tmp = spec["nodes"], Path(spec["tmp"])
    t_load, net = timed(lambda: Network.load(tmp / f"net_{n}.npz"))
    with open(tmp / f"snap_{n}.pkl", "rb") as fh:
        snap_o, snap_f = pickle.load(fh)
    rss_loaded = rss_mb()
    t_router, router = timed(lambda: Router.build(net, snap_o, snap_f))
    rss_router = rss_mb()
    rev = net.csr().T.tocsr()
    f_node = pd.Series(nearest_net_node(net, snap_f), index=snap_f.index)
    res: dict[str, Any] = {
        "nodes": net.n_nodes,
        "augmented_nodes": int(router.reverse.shape[0]),
        "origins": len(snap_o),
        "load_s": t_load,
        "router_build_s": t_router,
        "rss_loaded_mb": rss_loaded,
        "rss_after_router_mb": rss_router,
        "ours_s": {},
        "scipy_s": {},
        "agree": True,
    }
    for kind in W2_KINDS:
        ids = snap_f.index[snap_f.index.str.startswith(f"{kind}-")]
        nodes = np.unique(f_node.loc[ids].to_numpy())
        t_ours, out = measure(lambda ids=ids: router.nearest(ids))
        t_scipy, _ = measure(
            lambda nodes=nodes: dijkstra(
                rev, directed=True, indices=nodes, min_only=True, return_predecessors=True
            )
        )
        res["ours_s"][kind], res["scipy_s"][kind] = t_ours, t_scipy
        res["agree"] &= bool(np.isfinite(out["time_s"]).all())
        log.info("[w2 %d] %s: ours %.3f s, scipy %.3f s", n, kind, t_ours, t_scipy)
    res["peak_rss_mb"] = peak_rss_mb()
    return res


def job_w3(spec: dict[str, Any]) -> dict[str, Any]:
    import networkx as nx
    from roadlike import CRS, roadlike

    from accessibility import _bounded, network, snapping
    from accessibility.engine import Router

    rng = np.random.default_rng(spec["seed"])
    net = network.build(roadlike(spec["nodes"], seed=spec["seed"]), mode="walk", crs=CRS)
    origins = make_points(net, spec["origins"], rng, "o")
    fac = pd.concat([make_points(net, k, rng, f"{kind}-") for kind, k in W3_KINDS.items()])
    router = Router.build(net, snapping.snap(net, origins), snapping.snap(net, fac))
    th = np.asarray(W3_THRESHOLDS_S)
    res: dict[str, Any] = {
        "nodes": net.n_nodes,
        "edges": net.n_edges,
        "origins": len(router.origins),
        "thresholds_s": W3_THRESHOLDS_S,
        "new_s": {},
        "dense_s": {},
        "agree": True,
    }
    kind_ids = {k: fac.index[fac.index.str.startswith(f"{k}-")] for k in W3_KINDS}
    t_first, _ = timed(lambda: router.count_within(W3_THRESHOLDS_S, kind_ids["k20"]))
    res["first_call_s"] = t_first  # numba cache load + origin lists + CSR arrays
    for kind, ids in kind_ids.items():
        t_new, new = timed(lambda ids=ids: router.count_within(W3_THRESHOLDS_S, ids))
        t_dense, old = timed(lambda ids=ids: dense_counts(router, ids, th))
        res["new_s"][kind], res["dense_s"][kind] = t_new, t_dense
        res["agree"] &= bool(np.array_equal(new.to_numpy(), old))
        log.info("[w3] %s: bounded %.3f s, dense %.3f s", kind, t_new, t_dense)

    # per-origin searches forward from each origin's nearest node
    fwd = net.csr()
    csr = _bounded.csr_arrays(fwd)
    work = _bounded.Workspace(net.n_nodes)
    seg = router.origins["segment"].to_numpy()
    frac = router.origins["fraction"].to_numpy()
    o_node = np.where(frac < 0.5, net.seg_a[seg], net.seg_b[seg]).astype(np.int64)
    sample = rng.choice(o_node, size=min(spec["sample"], o_node.size), replace=False)
    per: dict[str, Any] = {}
    g = None
    for limit in W3_THRESHOLDS_S:
        # one call per origin through the Python wrapper (includes its overhead) ...
        secs = []
        for o in sample.tolist():
            t0 = time.perf_counter()
            _bounded.reach(csr, [o], limit, work=work)
            secs.append(time.perf_counter() - t0)
        wrapped = np.asarray(secs)
        # ... and the compiled searches alone: one batch call per bucket of reach sizes
        reached_a = _bounded.reach_each(csr, sample, limit, work=work)
        _bounded.reach_each(csr, sample, limit, work=work)  # warm
        t0 = time.perf_counter()
        _bounded.reach_each(csr, sample, limit, work=work)
        batch_per = (time.perf_counter() - t0) / sample.size
        # scipy with a limit, one origin per call (allocates and initialises O(nodes) each time)
        n_sc = min(spec["scipy_sample"], sample.size)
        t0 = time.perf_counter()
        for o in sample[:n_sc].tolist():
            dijkstra(fwd, directed=True, indices=o, limit=limit)
        scipy_per = (time.perf_counter() - t0) / n_sc
        # networkx with a cutoff
        if g is None:
            coo = fwd.tocoo()
            g = nx.DiGraph()
            g.add_nodes_from(range(net.n_nodes))
            g.add_weighted_edges_from(zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist()))
        n_nx = min(spec["nx_sample"], sample.size)
        nx_secs, agree = [], True
        for i, o in enumerate(sample[:n_nx].tolist()):
            t0 = time.perf_counter()
            d = nx.single_source_dijkstra_path_length(g, o, cutoff=limit, weight="weight")
            nx_secs.append(time.perf_counter() - t0)
            agree &= len(d) == reached_a[i]
        nx_per = float(np.mean(nx_secs))
        t0 = time.perf_counter()
        _bounded.reach_each(csr, sample[:n_nx], limit, work=work)
        ours_same = (time.perf_counter() - t0) / n_nx
        edges = [0, 100, 300, 1_000, 3_000, 10_000, math.inf]
        buckets = []
        for lo, hi in itertools.pairwise(edges):
            sel = (reached_a >= lo) & (reached_a < hi)
            if sel.any():
                reps = max(1, int(2_000 // sel.sum()))
                t0 = time.perf_counter()
                for _ in range(reps):
                    _bounded.reach_each(csr, sample[sel], limit, work=work)
                per_o = (time.perf_counter() - t0) / reps / sel.sum()
                buckets.append(
                    {
                        "reached": f"{lo:,}–{hi:,}" if math.isfinite(hi) else f"≥ {lo:,}",
                        "origins": int(sel.sum()),
                        "mean_reached": float(reached_a[sel].mean()),
                        "us_per_origin": per_o * 1e6,
                        "us_per_1000_nodes": per_o * 1e9 / float(reached_a[sel].mean()),
                    }
                )
        per[str(int(limit))] = {
            "sample": int(sample.size),
            "mean_reached": float(reached_a.mean()),
            "ours_mean_s": batch_per,
            "ours_wrapped_mean_s": float(wrapped.mean()),
            "ours_nx_sample_mean_s": ours_same,
            "scipy_per_origin_s": scipy_per,
            "scipy_sample": n_sc,
            "nx_per_origin_s": nx_per,
            "nx_sample": n_nx,
            "nx_agree": agree,
            "buckets": buckets,
            "corr_time_reached": float(np.corrcoef(reached_a, wrapped)[0, 1]),
        }
        log.info(
            "[w3] per origin %s s: ours %.1f µs, scipy %.1f µs, nx %.1f µs",
            limit,
            batch_per * 1e6,
            scipy_per * 1e6,
            nx_per * 1e6,
        )
    res["per_origin"] = per
    res["peak_rss_mb"] = peak_rss_mb()
    return res


def job_pandana(spec: dict[str, Any]) -> dict[str, Any]:
    """pandana ``nearest_pois`` (and ``aggregate`` counts on the walk graph) against ours, same process."""
    from bench_engine import measure, nearest_net_node, stdout_to_stderr
    from roadlike import CRS, roadlike

    from accessibility import _bounded, network, snapping
    from accessibility.engine import Router

    try:
        import pandana
    except Exception as exc:
        return {"available": False, "reason": str(exc)}
    rng = np.random.default_rng(spec["seed"])
    kinds = W3_KINDS if spec["graph"] == "w3" else W2_KINDS
    if spec["graph"] == "w3":
        net = network.build(roadlike(spec["nodes"], seed=spec["seed"]), mode="walk", crs=CRS)
        origins = make_points(net, spec["origins"], rng, "o")
        fac = pd.concat([make_points(net, k, rng, f"{kind}-") for kind, k in kinds.items()])
        snap_o, snap_f = snapping.snap(net, origins), snapping.snap(net, fac)
    else:
        tmp = Path(spec["tmp"])
        net = network.Network.load(tmp / f"net_{spec['nodes']}.npz")
        with open(tmp / f"snap_{spec['nodes']}.pkl", "rb") as fh:
            snap_o, snap_f = pickle.load(fh)
    router = Router.build(net, snap_o, snap_f)
    f_node = pd.Series(nearest_net_node(net, snap_f), index=snap_f.index)
    fwd = net.csr()
    coo = fwd.tocoo()
    rev = fwd.T.tocsr()
    x, y = pd.Series(net.x), pd.Series(net.y)
    res: dict[str, Any] = {
        "available": True,
        "version": pandana.__version__,
        "graph": spec["graph"],
        "nodes": net.n_nodes,
        "ours_nearest_s": {},
        "pandana_nearest_s": {},
        "ours_count_s": {},
        "ours_count_all_nodes_s": {},
        "pandana_aggregate_s": {},
    }
    kind_nodes = {}
    for kind in kinds:
        ids = snap_f.index[snap_f.index.str.startswith(f"{kind}-")]
        kind_nodes[kind] = (ids, np.unique(f_node.loc[ids].to_numpy()))
    ref = {
        kind: dijkstra(rev, directed=True, indices=nodes, min_only=True)
        for kind, (_, nodes) in kind_nodes.items()
    }
    maxdist = max(float(d[np.isfinite(d)].max()) for d in ref.values()) * 1.01 + 1.0
    with stdout_to_stderr():
        t_ch, pnet = timed(
            lambda: pandana.Network(
                x,
                y,
                pd.Series(coo.row),
                pd.Series(coo.col),
                pd.DataFrame({"t": coo.data}),
                twoway=False,
            )
        )
        res["pandana_setup_s"] = t_ch
        log.info("[pandana %s %d] set-up %.1f s", spec["graph"], net.n_nodes, t_ch)
        max_diff = 0.0
        for kind, (ids, nodes) in kind_nodes.items():
            px, py = x.iloc[nodes].reset_index(drop=True), y.iloc[nodes].reset_index(drop=True)

            def query(kind: str = kind, px: pd.Series = px, py: pd.Series = py) -> pd.DataFrame:
                pnet.set_pois(category=kind, maxdist=maxdist, maxitems=1, x_col=px, y_col=py)
                return pnet.nearest_pois(maxdist, kind, num_pois=1)

            res["pandana_nearest_s"][kind], out = measure(query)
            res["ours_nearest_s"][kind], _ = measure(lambda ids=ids: router.nearest(ids))
            got = out[1].reindex(range(net.n_nodes)).to_numpy(float)
            max_diff = max(max_diff, float(np.abs(got - ref[kind]).max()))
        res["nearest_max_abs_diff_s"] = max_diff
        if spec["graph"] == "w3":
            # counts within T: pandana aggregates at every node; ours for the origins, and
            # ours with every network node as an origin (the same question pandana answers)
            every = _bounded.attach_origins(
                np.arange(net.n_nodes),
                np.arange(net.n_nodes),
                np.zeros(net.n_nodes),
                np.full(net.n_nodes, np.inf),
                net.n_nodes,
            )
            rev_csr = _bounded.csr_arrays(rev)
            zeros = np.zeros(net.n_nodes)
            agree = True
            for kind, (ids, nodes) in kind_nodes.items():
                res["ours_count_s"][kind], _ = measure(
                    lambda ids=ids: router.count_within(W3_THRESHOLDS_S, ids)
                )
                res["ours_count_all_nodes_s"][kind], ours_all = measure(
                    lambda nodes=nodes: _bounded.count_within(
                        rev_csr, nodes, np.asarray(W3_THRESHOLDS_S), every, zeros
                    )
                )

                def agg(nodes: np.ndarray = nodes) -> list[np.ndarray]:
                    pnet.set(pd.Series(nodes), variable=pd.Series(np.ones(nodes.size)), name="f")
                    return [
                        pnet.aggregate(t, type="count", decay="flat", name="f").to_numpy()
                        for t in W3_THRESHOLDS_S
                    ]

                res["pandana_aggregate_s"][kind], counts = measure(agg)
                for j, c in enumerate(counts):
                    # single-precision distances: allow a few nodes at the edge to differ
                    agree &= bool(np.mean(np.rint(c) != ours_all[:, j]) < 1e-3)
            res["aggregate_agree"] = agree
    res["peak_rss_mb"] = peak_rss_mb()
    return res


JOBS = {
    "compile": job_compile,
    "w2_graph": job_w2_graph,
    "w2_snap": job_w2_snap,
    "w2_engine": job_w2_engine,
    "w3": job_w3,
    "pandana": job_pandana,
}


# --------------------------------------------------------------------------- parent
def run_child(job: str, spec: dict[str, Any], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run one job in a fresh Python process; return its result with wall time and peak RSS."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        out = Path(fh.name)
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        job,
        json.dumps(spec),
        str(out),
    ]
    log.info("job %s %s", job, {k: v for k, v in spec.items() if k != "tmp"})
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env={**os.environ, **(env or {})}, check=False)
    wall = time.perf_counter() - t0
    try:
        if done.returncode != 0:
            return {"job": job, "error": f"exit code {done.returncode}", "wall_s": wall}
        res = json.loads(out.read_text("utf-8"))
    finally:
        out.unlink(missing_ok=True)
    res.update(job=job, wall_s=wall)
    return res


def child_main(job: str, spec_json: str, out: str) -> int:
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S"
    )
    logging.getLogger("accessibility").setLevel(logging.WARNING)
    res = JOBS[job](json.loads(spec_json))
    Path(out).write_text(json.dumps(res, default=float), encoding="utf-8")
    return 0


def fmt(x: float | None, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}" if abs(x) < 1 else f"{x:.2f}"


def report(results: dict[str, Any]) -> None:
    comp = results.get("compile", [])
    if comp:
        print("\n## First call of the compiled searches (fresh process, tiny graph)\n")
        print(
            "| numba cache | import s | first reach s | first count s | first pairs s | second count s |"
        )
        print("|---|---:|---:|---:|---:|---:|")
        for c in comp:
            if "error" in c:
                print(f"| {c.get('cache')} | error: {c['error']} |||||")
                continue
            print(
                f"| {c['cache']} | {fmt(c['import_s'])} | {fmt(c['first_reach_s'])} | {fmt(c['first_count_s'])} "
                f"| {fmt(c['first_pairs_s'])} | {fmt(c['second_count_s'])} |"
            )
    w2 = results.get("w2", [])
    if w2:
        print("\n## W2 province (mode car; seconds; peak RSS per job, MiB)\n")
        print(
            "| nodes | edges | roadlike s | build s | peak build | snap origins s | snap fac. s | peak snap "
            "| Router.build s | peak engine | ours (6 kinds) s | scipy s | ours/scipy | worst kind |"
        )
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in w2:
            g, s, e = r.get("graph", {}), r.get("snap", {}), r.get("engine", {})
            if any("error" in x for x in (g, s, e)):
                print(
                    f"| {r['size']:,} | error: {g.get('error') or s.get('error') or e.get('error')} |"
                )
                continue
            ours, sc = sum(e["ours_s"].values()), sum(e["scipy_s"].values())
            worst = max(e["ours_s"][k] / e["scipy_s"][k] for k in W2_KINDS)
            print(
                f"| {g['nodes']:,} | {g['edges']:,} | {fmt(g['roadlike_s'])} | {fmt(g['build_s'])} | {g['peak_rss_mb']:,.0f} "
                f"| {fmt(s['snap_origins_s'])} | {fmt(s['snap_facilities_s'])} | {s['peak_rss_mb']:,.0f} "
                f"| {fmt(e['router_build_s'])} | {e['peak_rss_mb']:,.0f} | {fmt(ours)} | {fmt(sc)} | {ours / sc:.2f}× | {worst:.2f}× |"
            )
        for r in w2:
            e = r.get("engine", {})
            if "ours_s" in e:
                per = ", ".join(
                    f"{k[1:]}: {e['ours_s'][k]:.3f}/{e['scipy_s'][k]:.3f}" for k in W2_KINDS
                )
                print(f"  {r['size']:,}: per kind ours/scipy s — {per}")
    w3 = results.get("w3")
    if w3 and "error" not in w3:
        print(
            f"\n## W3 bounded (mode walk; {w3['nodes']:,} nodes, {w3['origins']:,} origins; counts within "
            f"{'/'.join(str(int(t // 60)) for t in W3_THRESHOLDS_S)} min)\n"
        )
        print("| kind | count_within (bounded) s | former dense chunks s | dense/bounded |")
        print("|---|---:|---:|---:|")
        for k in W3_KINDS:
            a, b = w3["new_s"][k], w3["dense_s"][k]
            print(f"| {k[1:]} facilities | {fmt(a)} | {fmt(b)} | {b / a:,.1f}× |")
        a, b = sum(w3["new_s"].values()), sum(w3["dense_s"].values())
        print(f"| total | {fmt(a)} | {fmt(b)} | {b / a:,.1f}× |")
        print(
            f"\nfirst call in the process (cache load, lists): {fmt(w3['first_call_s'])} s; results equal: {w3['agree']}"
        )
        for lim, p in w3["per_origin"].items():
            print(
                f"\nper origin, limit {int(lim) // 60} min ({p['sample']} origins; mean {p['mean_reached']:.0f} nodes reached): "
                f"ours {p['ours_mean_s'] * 1e6:.1f} µs (one call each through reach(): {p['ours_wrapped_mean_s'] * 1e6:.1f} µs); scipy limit {p['scipy_per_origin_s'] * 1e6:,.0f} µs "
                f"({p['scipy_per_origin_s'] / p['ours_mean_s']:,.0f}×, {p['scipy_sample']} origins); networkx cutoff "
                f"{p['nx_per_origin_s'] * 1e6:,.0f} µs ({p['nx_per_origin_s'] / p['ours_nx_sample_mean_s']:,.0f}× ours on the same "
                f"{p['nx_sample']} origins; same nodes reached: {p['nx_agree']}); corr(time, reached) {p['corr_time_reached']:.2f}"
            )
            print("| nodes reached | origins | mean reached | µs per origin | µs per 1,000 nodes |")
            print("|---|---:|---:|---:|---:|")
            for bk in p["buckets"]:
                print(
                    f"| {bk['reached']} | {bk['origins']} | {bk['mean_reached']:,.0f} | {bk['us_per_origin']:,.1f} "
                    f"| {bk['us_per_1000_nodes']:,.1f} |"
                )
    pdn = results.get("pandana", [])
    if pdn:
        print("\n## pandana peer (seconds; same process, same graph)\n")
        for p in pdn:
            if not p.get("available"):
                print(f"pandana not measured: {p.get('reason') or p.get('error')}")
                continue
            on, pn = sum(p["ours_nearest_s"].values()), sum(p["pandana_nearest_s"].values())
            print(
                f"{p['graph']} {p['nodes']:,} nodes: pandana set-up {fmt(p['pandana_setup_s'])} s; nearest_pois "
                f"{fmt(pn)} s vs Router.nearest {fmt(on)} s ({pn / on:.1f}×; with set-up {(pn + p['pandana_setup_s']) / on:.1f}×); "
                f"max |diff| vs scipy {p['nearest_max_abs_diff_s']:.2f} s; peak {p['peak_rss_mb']:,.0f} MiB"
            )
            if p["pandana_aggregate_s"]:
                oc, oa = sum(p["ours_count_s"].values()), sum(p["ours_count_all_nodes_s"].values())
                pa = sum(p["pandana_aggregate_s"].values())
                print(
                    f"  counts within {'/'.join(str(int(t // 60)) for t in W3_THRESHOLDS_S)} min: pandana aggregate "
                    f"(every node) {fmt(pa)} s; ours every node {fmt(oa)} s ({pa / oa:.1f}×); ours Router.count_within "
                    f"(origins) {fmt(oc)} s ({pa / oc:.1f}×); counts agree: {p['aggregate_agree']}"
                )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workloads", default="compile,w2,w3,pandana")
    parser.add_argument("--w2-sizes", default="1000000,3000000")
    parser.add_argument("--w2-origins", type=int, default=100_000)
    parser.add_argument("--w3-nodes", type=int, default=300_000)
    parser.add_argument("--w3-origins", type=int, default=10_000)
    parser.add_argument("--w3-sample", type=int, default=2_000, help="origins searched one by one")
    parser.add_argument("--nx-sample", type=int, default=50, help="of them, also with networkx")
    parser.add_argument("--scipy-sample", type=int, default=200, help="of them, also with scipy")
    parser.add_argument(
        "--pandana-sizes", default="1000000", help="W2 sizes also run through pandana ('' for none)"
    )
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child_main(*args.child)

    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S"
    )
    work = {w.strip() for w in args.workloads.split(",") if w.strip()}
    sizes = [int(s) for s in args.w2_sizes.split(",") if s.strip()]
    pd_sizes = [int(s) for s in args.pandana_sizes.split(",") if s.strip()]
    import numba
    import scipy

    results: dict[str, Any] = {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "ram_gb": round(psutil.virtual_memory().total / 1e9, 1),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "numba": numba.__version__,
        },
        "args": {k: str(v) for k, v in vars(args).items()},
    }
    print(
        f"bench_scale {results['date']} ({results['machine']['cpus']} CPUs, "
        f"{results['machine']['ram_gb']} GB, Python {results['machine']['python']}, numba {numba.__version__})"
    )
    with tempfile.TemporaryDirectory(prefix="bench_scale_") as tmp:
        if "compile" in work:
            cold = Path(tmp) / "numba-cold"
            cold.mkdir()
            results["compile"] = [
                run_child("compile", {"cache": "empty (compiles)"}, {"NUMBA_CACHE_DIR": str(cold)}),
                run_child("compile", {"cache": "filled (loads)"}, {"NUMBA_CACHE_DIR": str(cold)}),
            ]
        if "w2" in work or "pandana" in work:
            results["w2"] = []
            for n in sizes:
                spec = {"nodes": n, "seed": args.seed, "tmp": tmp, "origins": args.w2_origins}
                entry: dict[str, Any] = {"size": n}
                entry["graph"] = run_child("w2_graph", spec)
                entry["snap"] = run_child("w2_snap", spec)
                if "w2" in work:
                    entry["engine"] = run_child("w2_engine", spec)
                if "pandana" in work and n in pd_sizes:
                    results.setdefault("pandana", []).append(
                        run_child("pandana", {**spec, "graph": "w2"})
                    )
                results["w2"].append(entry)
                for f in Path(tmp).glob(f"*_{n}.*"):
                    f.unlink()
        if "w3" in work:
            results["w3"] = run_child(
                "w3",
                {
                    "nodes": args.w3_nodes,
                    "origins": args.w3_origins,
                    "seed": args.seed,
                    "sample": args.w3_sample,
                    "nx_sample": args.nx_sample,
                    "scipy_sample": args.scipy_sample,
                },
            )
        if "pandana" in work:
            results.setdefault("pandana", []).append(
                run_child(
                    "pandana",
                    {
                        "nodes": args.w3_nodes,
                        "origins": args.w3_origins,
                        "seed": args.seed,
                        "graph": "w3",
                    },
                )
            )
    if "w2" not in work:
        results.pop("w2", None)
    report(results)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    print(f"\nresults in {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
