"""Bounded searches: against scipy's limited Dijkstra and the dense per-facility searches, and their memory."""

from __future__ import annotations

import subprocess
import sys
import tracemalloc

import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from scipy.sparse.csgraph import dijkstra

from accessibility import _bounded, engine, network, snapping
from accessibility._errors import ValidationError
from accessibility.settings import settings

from .conftest import TEST_CRS, make_points, make_roads
from .test_engine import _random_layout


# ----------------------------------------------------------------- references
def random_graph(rng: np.random.Generator, *, integer: bool) -> sparse.csr_matrix:
    """A directed graph in 1–4 pieces: two-way and one-way edges, some of zero time, a few parallel ones."""
    n = int(rng.integers(5, 80))
    pieces = np.sort(rng.choice(np.arange(1, n), size=int(rng.integers(0, 4)), replace=False))
    label = np.searchsorted(pieces, np.arange(n), side="right")
    m = int(rng.integers(n, 4 * n))
    a = rng.integers(0, n, m)
    b = rng.integers(0, n, m)
    same = label[a] == label[b]
    a, b = a[same], b[same]
    w = rng.integers(0, 6, a.size).astype(float) if integer else rng.uniform(0, 100, a.size)
    w[rng.random(a.size) < 0.05] = 0.0
    two_way = rng.random(a.size) < 0.7
    u = np.concatenate([a, b[two_way]])
    v = np.concatenate([b, a[two_way]])
    w = np.concatenate([w, w[two_way]])
    return network.csr_from_edges(u, v, w, n)


def random_origins(rng: np.random.Generator, n: int, *, integer: bool):
    """Origins hanging between two nodes: some one-way (an inf part), some on a node (0 s)."""
    k = int(rng.integers(1, 40))
    prev_node, next_node = rng.integers(0, n, k), rng.integers(0, n, k)
    if integer:
        prev_s, next_s = rng.integers(0, 4, k).astype(float), rng.integers(0, 4, k).astype(float)
        leg = rng.integers(0, 3, k).astype(float)
    else:
        prev_s, next_s = rng.uniform(0, 30, k), rng.uniform(0, 30, k)
        leg = rng.uniform(0, 20, k)
    prev_s[rng.random(k) < 0.2] = np.inf
    next_s[rng.random(k) < 0.2] = np.inf
    on_node = rng.random(k) < 0.15
    prev_s[on_node], next_s[on_node] = 0.0, 0.0
    leg[rng.random(k) < 0.2] = 0.0
    return prev_node, next_node, prev_s, next_s, leg


def dense_totals(graph, sources, limit, prev_node, next_node, prev_s, next_s, leg):
    """The former way: a dense sources × nodes search, then every origin from its two nodes."""
    if len(sources) == 0:
        return np.empty((0, leg.size))
    dist = dijkstra(graph, directed=True, indices=sources, limit=limit)
    via_next = dist[:, next_node] + next_s
    via_prev = dist[:, prev_node] + prev_s
    return np.where(via_next <= via_prev, via_next, via_prev) + leg[None, :]


CASES = [(seed, integer) for seed in range(30) for integer in (True, False)]


# ----------------------------------------------------------------- kernels
@pytest.mark.parametrize(("seed", "integer"), CASES)
def test_reach_equals_scipy_limited_dijkstra(seed: int, integer: bool) -> None:
    rng = np.random.default_rng(seed)
    g = random_graph(rng, integer=integer)
    n = g.shape[0]
    csr = _bounded.csr_arrays(g)
    work = _bounded.Workspace(n)
    full = dijkstra(g, directed=True, indices=0)
    finite = full[np.isfinite(full) & (full > 0)]
    # limits equal to a node's time exactly, between times, and beyond everything
    limits = [0.0, *rng.choice(finite, size=min(3, finite.size), replace=False), 7.3, 1e9]
    for limit in limits:
        sources = rng.integers(0, n, int(rng.integers(1, 4)))
        sources = np.concatenate([sources, sources[:1]])  # a repeated source
        ref = dijkstra(g, directed=True, indices=sources, min_only=True, limit=limit)
        nodes, times = _bounded.reach(csr, sources, limit, work=work)
        assert np.unique(nodes).size == nodes.size
        got = np.full(n, np.inf)
        got[nodes] = times
        assert np.array_equal(got, ref), (limit, sources)
        assert np.isinf(work.dist).all()  # the workspace is left clean
    sources = rng.integers(0, n, 6)
    each = _bounded.reach_each(csr, sources, 9.0)
    alone = dijkstra(g, directed=True, indices=sources, limit=9.0)
    assert each.tolist() == np.isfinite(alone).sum(axis=1).tolist()


def test_large_reach_grows_the_heap() -> None:
    rng = np.random.default_rng(5)
    n = 20_000
    u, v = rng.integers(0, n, 6 * n), rng.integers(0, n, 6 * n)
    g = network.csr_from_edges(u, v, rng.uniform(0, 10, u.size), n)
    csr = _bounded.csr_arrays(g)
    for limit in (15.0, 40.0, 1e6):
        ref = dijkstra(g, directed=True, indices=[0, 1, 2], min_only=True, limit=limit)
        nodes, times = _bounded.reach(csr, [0, 1, 2], limit)
        got = np.full(n, np.inf)
        got[nodes] = times
        assert np.array_equal(got, ref)
    assert nodes.size > 10_000


def test_a_node_with_more_edges_than_the_heap_holds() -> None:
    # a hub with 5,000 spokes (the heap starts with room for 1,024) and a ring
    # through the spoke ends, searched from the hub and from a spoke end
    rng = np.random.default_rng(9)
    k = 5_000
    ends = np.arange(1, k + 1)
    ring = np.roll(ends, -1)
    u = np.concatenate([np.zeros(k, np.int64), ends, ends, ring])
    v = np.concatenate([ends, np.zeros(k, np.int64), ring, ends])
    w = np.concatenate([rng.uniform(0, 50, k)] * 2 + [rng.uniform(0, 5, k)] * 2)
    g = network.csr_from_edges(u, v, w, k + 1)
    csr = _bounded.csr_arrays(g)
    sources = np.array([0, 7, 0, 4_000])
    for limit in (20.0, 60.0, 1e6):
        ref = dijkstra(g, directed=True, indices=sources, limit=limit)
        assert (
            _bounded.reach_each(csr, sources, limit).tolist()
            == np.isfinite(ref).sum(axis=1).tolist()
        )
        nodes, times = _bounded.reach(csr, sources[:2], limit)
        got = np.full(k + 1, np.inf)
        got[nodes] = times
        assert np.array_equal(got, ref[:2].min(axis=0))
        # every node an origin, sitting on it: counts and pairs from the same searches
        attached = _bounded.attach_origins(
            np.arange(k + 1), np.arange(k + 1), np.zeros(k + 1), np.zeros(k + 1), k + 1
        )
        counts = _bounded.count_within(csr, sources, [limit / 2, limit], attached, np.zeros(k + 1))
        assert counts[:, 1].tolist() == (ref <= limit).sum(axis=0).tolist()
        assert counts[:, 0].tolist() == (ref <= limit / 2).sum(axis=0).tolist()
        row, origin, secs = _bounded.pairs_within(csr, sources, limit, attached, np.zeros(k + 1))
        assert np.array_equal(np.maximum(ref[row, origin], _bounded.ZERO_S), secs)
        assert row.size == int(np.isfinite(ref).sum())


@pytest.mark.parametrize(("seed", "integer"), CASES)
def test_counts_and_pairs_equal_the_dense_searches(seed: int, integer: bool) -> None:
    rng = np.random.default_rng(1000 + seed)
    g = random_graph(rng, integer=integer)
    n = g.shape[0]
    csr = _bounded.csr_arrays(g)
    prev_node, next_node, prev_s, next_s, leg = random_origins(rng, n, integer=integer)
    attached = _bounded.attach_origins(prev_node, next_node, prev_s, next_s, n)
    sources = rng.integers(0, n, int(rng.integers(0, 12)))
    unbounded = dense_totals(g, sources, np.inf, prev_node, next_node, prev_s, next_s, leg)
    finite = unbounded[np.isfinite(unbounded)]
    # thresholds met exactly by some totals, plus arbitrary ones
    picks = rng.choice(finite, size=min(2, finite.size), replace=False) if finite.size else []
    thresholds = np.unique(np.concatenate([picks, [0.0, 5.5, 40.0]]))
    limit = float(thresholds.max())
    totals = dense_totals(g, sources, limit, prev_node, next_node, prev_s, next_s, leg)

    counts = _bounded.count_within(csr, sources, thresholds, attached, leg)
    expected = (totals[:, :, None] <= thresholds[None, None, :]).sum(axis=0)
    assert counts.shape == (leg.size, thresholds.size)
    assert np.array_equal(counts, expected)

    for lim in thresholds:
        lim = float(lim)
        t = dense_totals(g, sources, lim, prev_node, next_node, prev_s, next_s, leg)
        r, o, s = _bounded.pairs_within(csr, sources, lim, attached, leg)
        got = np.zeros((len(sources), leg.size))
        got[r, o] = s
        r_ref, o_ref = np.nonzero(t <= lim)
        want = np.zeros_like(got)
        want[r_ref, o_ref] = np.maximum(t[r_ref, o_ref], _bounded.ZERO_S)
        assert r.size == r_ref.size
        assert np.array_equal(got, want)
        assert np.all(np.diff(r) >= 0)  # rows in source order


def test_origin_lists_skip_one_way_parts_and_keep_the_node_itself() -> None:
    ptr, origin, part = _bounded.attach_origins(
        np.array([0, 1, 2]),
        np.array([1, 2, 2]),
        np.array([np.inf, 3.0, 0.0]),
        np.array([5.0, np.inf, 0.0]),
        4,
    )
    entries = {
        u: sorted(zip(origin[ptr[u] : ptr[u + 1]], part[ptr[u] : ptr[u + 1]])) for u in range(4)
    }
    assert entries == {0: [], 1: [(0, 5.0), (1, 3.0)], 2: [(2, 0.0), (2, 0.0)], 3: []}


def test_kernel_arguments_are_checked() -> None:
    g = network.csr_from_edges(np.array([0]), np.array([1]), np.array([1.0]), 2)
    csr = _bounded.csr_arrays(g)
    with pytest.raises(ValidationError, match="source nodes"):
        _bounded.reach(csr, [5], 1.0)
    with pytest.raises(ValidationError, match="limit must be finite"):
        _bounded.reach(csr, [0], np.inf)
    with pytest.raises(ValidationError, match=">= 0 seconds"):
        _bounded.csr_arrays(
            network.csr_from_edges(np.array([0]), np.array([1]), np.array([-1.0]), 2)
        )
    with pytest.raises(ValidationError, match="workspace"):
        _bounded.reach(csr, [0], 1.0, work=_bounded.Workspace(3))


def test_works_in_a_fresh_process() -> None:
    code = (
        "import numpy as np\n"
        "from accessibility import _bounded, network\n"
        "g = network.csr_from_edges(np.array([0, 1]), np.array([1, 2]), np.array([2.0, 3.0]), 3)\n"
        "nodes, t = _bounded.reach(_bounded.csr_arrays(g), [0], 4.0)\n"
        "assert nodes.tolist() == [0, 1] and t.tolist() == [0.0, 2.0], (nodes, t)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


# ----------------------------------------------------------------- Router
def dense_router_totals(r: engine.Router, ids, limit: float) -> tuple[np.ndarray, np.ndarray]:
    """Facility rows and the facilities × origins totals, the way the Router used to compute them."""
    rows = (
        np.arange(len(r.facilities))
        if ids is None
        else np.unique(r.facilities.index.get_indexer(pd.Index(ids)))
    )
    leg = r.origins["leg_s"].to_numpy(float)
    totals = dense_totals(
        r.reverse,
        r.facility_door[rows],
        limit,
        r.origin_prev,
        r.origin_next,
        r.origin_prev_s,
        r.origin_next_s,
        leg,
    )
    return rows, totals


def assert_router_matches_dense(r: engine.Router, ids, thresholds: list[float]) -> None:
    _, totals = dense_router_totals(r, ids, max(thresholds))
    th = np.asarray(thresholds)
    counts = r.count_within(thresholds, ids)
    expected = (totals[:, :, None] <= th[None, None, :]).sum(axis=0)
    assert np.array_equal(counts.to_numpy(), expected)
    assert counts.columns.tolist() == [float(t) for t in thresholds]
    limit = float(thresholds[0])
    _, t = dense_router_totals(r, ids, limit)
    pairs = r.pairs_within(limit, ids)
    assert pairs.shape == t.shape
    within = t <= limit
    got = pairs.toarray()
    assert np.array_equal(got > 0, within)
    assert np.array_equal(got[within], np.maximum(t[within], 1e-9))
    # node times under a limit: the former min-only search with a limit
    rows = (
        np.arange(len(r.facilities))
        if ids is None
        else np.unique(r.facilities.index.get_indexer(pd.Index(ids)))
    )
    n = r.network.n_nodes
    if rows.size:
        ref = dijkstra(
            r.reverse, directed=True, indices=r.facility_door[rows], min_only=True, limit=limit
        )[:n]
    else:
        ref = np.full(n, np.inf)
    assert np.array_equal(r.node_times(ids, limit_s=limit), ref)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("mode", ["car", "walk"])
def test_router_counts_pairs_and_node_times_equal_the_dense_way(seed: int, mode: str) -> None:
    rng = np.random.default_rng(seed)
    coords, ways = _random_layout(rng)
    net = network.build(make_roads(coords, ways), mode=mode, crs=TEST_CRS)
    origins = {f"o{k}": tuple(rng.uniform(-100, 1600, 2)) for k in range(15)}
    facilities = {f"f{k}": tuple(rng.uniform(-100, 1600, 2)) for k in range(6)}
    facilities["twin_a"] = facilities["twin_b"] = (700.0, 700.0)  # two facilities at one point
    facilities["at_o0"] = origins["o0"]
    node = int(rng.integers(net.n_nodes))
    origins["on_node"] = (net.x[node] - 250_000.0, net.y[node] - 3_765_000.0)
    r = engine.Router.build(
        net, snapping.snap(net, make_points(origins)), snapping.snap(net, make_points(facilities))
    )
    nearest = r.nearest()["time_s"].to_numpy(float)
    exact = float(np.sort(nearest[np.isfinite(nearest)])[len(nearest) // 2])  # met exactly
    thresholds = [exact, 120.0, 900.0, 3600.0]
    assert_router_matches_dense(r, None, thresholds)
    assert_router_matches_dense(r, ["f1", "twin_a", "f1", "twin_b", "at_o0"], thresholds)
    assert_router_matches_dense(r, [], thresholds)
    assert r.pairs_within(600.0, []).shape == (0, len(origins))


@pytest.fixture(scope="module")
def sample_router(tmp_path_factory):
    from accessibility import pipeline

    settings.root = tmp_path_factory.mktemp("root")
    try:
        return pipeline.prepare("sample", mode="walk", progress=False).router
    finally:
        settings.root = None


def test_sample_county_equals_the_dense_way(sample_router: engine.Router) -> None:
    r = sample_router
    assert_router_matches_dense(r, None, [900.0, 1800.0])
    some = r.facilities.index[::7]
    assert_router_matches_dense(r, some, [600.0, 1200.0])


def test_sample_county_results_do_not_depend_on_the_node_numbering(
    sample_router: engine.Router,
) -> None:
    from .test_network import assert_same_results, renumbered_routers

    for other in renumbered_routers(sample_router, 0):
        assert_same_results(sample_router, other, [600.0, 900.0, 1800.0])


# ----------------------------------------------------------------- memory
def chain_router(n: int, n_facilities: int, n_origins: int) -> engine.Router:
    """A two-way chain of ``n`` nodes, 60 s per link, built without geometry (cheap at millions of nodes)."""
    a = np.arange(n - 1, dtype=np.int32)
    b = a + 1
    seg = np.arange(n - 1, dtype=np.int32)
    net = network.Network(
        mode="walk",
        crs=TEST_CRS,
        node_id=np.arange(n, dtype=np.int64),
        x=np.arange(n, dtype=float) * 75.0,
        y=np.zeros(n),
        lon=np.zeros(n),
        lat=np.zeros(n),
        u=np.concatenate([a, b]),
        v=np.concatenate([b, a]),
        length_m=np.full(2 * (n - 1), 75.0),
        time_s=np.full(2 * (n - 1), 60.0),
        highway=np.zeros(2 * (n - 1), dtype=np.int16),
        highway_classes=["residential"],
        segment=np.concatenate([seg, seg]),
        seg_a=a,
        seg_b=b,
        forward=np.concatenate([np.ones(n - 1, bool), np.zeros(n - 1, bool)]),
    )

    def table(k: int, prefix: str, rng: np.random.Generator) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "segment": rng.integers(0, n - 1, k),
                "fraction": rng.choice([0.0, 0.25, 0.5, 1.0], k),
                "leg_s": np.zeros(k),
                "leg_m": np.zeros(k),
                "flag": "ok",
            },
            index=pd.Index([f"{prefix}{i}" for i in range(k)]),
        )

    rng = np.random.default_rng(7)
    return engine.Router.build(net, table(n_origins, "o", rng), table(n_facilities, "f", rng))


def test_count_within_memory_does_not_grow_with_the_graph_per_facility() -> None:
    n = 2_000_000
    r = chain_router(n, n_facilities=200, n_origins=5_000)
    few = r.facilities.index[:1]
    r.count_within([240.0], few)  # lazily prepared arrays and compiled code
    peaks = {}
    for name, ids in (("one", few), ("all", None)):
        tracemalloc.start()
        counts = r.count_within([240.0], ids)
        peaks[name] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    # one distance array and one touched list of n slots (8 bytes each), once per call;
    # the dense way needed 64 × n floats per chunk (1 GB here)
    assert peaks["all"] < 3 * 8 * n, peaks
    assert peaks["all"] - peaks["one"] < 1_000_000, peaks
    # at most 4 links from a facility door: 9 nodes around each; origins at nodes or
    # between them
    _, totals = dense_router_totals_small(r)
    assert np.array_equal(counts[240.0].to_numpy(), (totals <= 240.0).sum(axis=0))


def dense_router_totals_small(r: engine.Router) -> tuple[None, np.ndarray]:
    """Totals facilities × origins on the chain from closed-form positions (no search)."""

    def pos(table: pd.DataFrame) -> np.ndarray:
        return table["segment"].to_numpy() + table["fraction"].to_numpy()

    return None, np.abs(pos(r.facilities)[:, None] - pos(r.origins)[None, :]) * 60.0
