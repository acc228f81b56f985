"""Bounded Dijkstra searches compiled to machine code, for counts, pairs and isochrones.

Design
------
In:  a graph as CSR arrays (``indptr``, ``indices``, ``data`` = edge seconds, all
     ``>= 0``), source nodes, a time limit in seconds; for counts and pairs, the
     origins attached to graph nodes (:func:`attach_origins`: each origin is reached
     through one or two nodes, at a part-segment time, plus its own leg).
Out: :func:`reach` — nodes within the limit of the nearest source and their times;
     :func:`reach_each` — how many nodes each source reaches on its own;
     :func:`count_within` — per origin and threshold, the number of sources within
     it; :func:`pairs_within` — every (source, origin, seconds) within the limit.

How
---
One binary heap with lazy deletion (a node may sit in the heap several times; a
popped entry whose key exceeds the node's distance is skipped). The heap grows
(doubling) only between nodes: the main loop pauses before a node whose edges might
not fit, so its arrays never change inside that loop (which keeps the loop about
twice as fast as one that may swap in grown arrays at any push). The distance array
is allocated once per batch call (inf everywhere) and, after each source, reset
only on the nodes the search touched (a list kept as it goes), so a search costs
``O(reached · log reached)`` whatever the size of the graph: there is no
sources × nodes array and nothing of size ``n_nodes`` per source. An edge is
relaxed only when its end is within the limit (``d <= limit``, like
``scipy.sparse.csgraph.dijkstra(limit=...)``), so every touched node ends the
search with its final distance. The origins attached to each touched node are
then visited; an origin's time for the source is the smaller over its nodes of
``(d + part_s) + leg_s`` (kept in a scratch array reset through a touched-origins
list), and counts use ``<=`` against each threshold. The loops over sources run
inside compiled code (numba, ``cache=True``: compiled once per machine, loaded
from the cache afterwards).

Tests: ``tests/test_bounded.py`` — against ``scipy.sparse.csgraph.dijkstra(limit=...)``
and against the dense searches on random directed graphs with one-way edges and
several components; memory of a count on a two-million-node graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numba
import numpy as np
from scipy import sparse

from ._errors import ValidationError

__all__ = [
    "Workspace",
    "attach_origins",
    "count_within",
    "csr_arrays",
    "pairs_within",
    "reach",
    "reach_each",
]

#: Zero-time pairs are stored as this many seconds so that a sparse matrix keeps them.
ZERO_S = 1e-9
_HEAP0 = 1024  # initial heap capacity (entries); doubled when full


# ------------------------------------------------------------------ compiled parts
@numba.njit(cache=True)
def _grow(keys: np.ndarray, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The heap's arrays at twice the capacity."""
    grown_k = np.empty(2 * keys.size, np.float64)
    grown_k[: keys.size] = keys
    grown_n = np.empty(2 * nodes.size, np.int64)
    grown_n[: nodes.size] = nodes
    return grown_k, grown_n


@numba.njit(cache=True, inline="always")
def _sift_up(keys: np.ndarray, nodes: np.ndarray, i: int, key: float, node: int) -> None:
    """Put ``(key, node)`` at slot ``i`` of the heap (its last, free slot) and restore the order."""
    while i > 0:
        parent = (i - 1) >> 1
        if keys[parent] <= key:
            break
        keys[i] = keys[parent]
        nodes[i] = nodes[parent]
        i = parent
    keys[i] = key
    nodes[i] = node


@numba.njit(cache=True, inline="always")
def _pop(keys: np.ndarray, nodes: np.ndarray, size: int) -> tuple[float, int, int]:
    """Remove the smallest entry of a non-empty heap; return it and the new size."""
    key = keys[0]
    node = nodes[0]
    size -= 1
    if size > 0:
        last_k = keys[size]
        last_n = nodes[size]
        i = 0
        while True:
            child = 2 * i + 1
            if child >= size:
                break
            if child + 1 < size and keys[child + 1] < keys[child]:
                child += 1
            if keys[child] >= last_k:
                break
            keys[i] = keys[child]
            nodes[i] = nodes[child]
            i = child
        keys[i] = last_k
        nodes[i] = last_n
    return key, node, size


@numba.njit(cache=True, inline="always")
def _settle(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    limit: float,
    dist: np.ndarray,
    touched: np.ndarray,
    n_touched: int,
    keys: np.ndarray,
    nodes: np.ndarray,
    size: int,
) -> tuple[int, int]:
    """Run a search on from a heap of ``size`` entries, until the heap is empty or could overflow.

    Returns ``(n_touched, size)``: ``size`` is 0 when the search is done; otherwise
    the next node's edges might not fit in the heap, which must grow before this is
    called again (the search then goes on where it stopped). The heap's arrays are
    never replaced in this loop, which keeps it about twice as fast as one that may
    swap in grown arrays at any push.
    """
    cap = keys.size
    while size > 0:
        top = nodes[0]
        if size + (indptr[top + 1] - indptr[top]) > cap:
            return n_touched, size
        d, u, size = _pop(keys, nodes, size)
        if d > dist[u]:
            continue  # a stale entry: u was reached faster since
        for j in range(indptr[u], indptr[u + 1]):
            v = indices[j]
            nd = d + data[j]
            if nd <= limit and nd < dist[v]:
                if dist[v] == np.inf:
                    touched[n_touched] = v
                    n_touched += 1
                dist[v] = nd
                _sift_up(keys, nodes, size, nd, v)
                size += 1
    return n_touched, 0


@numba.njit(cache=True, inline="always")
def _finish(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    limit: float,
    dist: np.ndarray,
    touched: np.ndarray,
    n_touched: int,
    keys: np.ndarray,
    nodes: np.ndarray,
    size: int,
) -> tuple[int, np.ndarray, np.ndarray]:
    """Settle the heap to the end, growing it when needed; returns ``n_touched`` and the heap's arrays."""
    while True:
        n_touched, size = _settle(
            indptr, indices, data, limit, dist, touched, n_touched, keys, nodes, size
        )
        if size == 0:
            return n_touched, keys, nodes
        keys, nodes = _grow(keys, nodes)


@numba.njit(cache=True)
def _search(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    sources: np.ndarray,
    limit: float,
    dist: np.ndarray,
    touched: np.ndarray,
    keys: np.ndarray,
    nodes: np.ndarray,
) -> tuple[int, np.ndarray, np.ndarray]:
    """Dijkstra from all ``sources`` (time 0) up to ``limit`` seconds.

    ``dist`` must be inf on entry everywhere; on return it holds the final times
    of the ``touched[:n]`` nodes (``n`` returned) and inf elsewhere. Returns the
    heap arrays too, which may have grown.
    """
    n_touched = 0
    size = 0
    for s in sources:
        if dist[s] > 0.0:
            if dist[s] == np.inf:
                touched[n_touched] = s
                n_touched += 1
            dist[s] = 0.0
            if size == keys.size:
                keys, nodes = _grow(keys, nodes)
            _sift_up(keys, nodes, size, 0.0, s)
            size += 1
    return _finish(indptr, indices, data, limit, dist, touched, n_touched, keys, nodes, size)


@numba.njit(cache=True, inline="always")
def _search_one(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    source: int,
    limit: float,
    dist: np.ndarray,
    touched: np.ndarray,
    keys: np.ndarray,
    nodes: np.ndarray,
) -> tuple[int, np.ndarray, np.ndarray]:
    """:func:`_search` from one source, without a sources array; the heap must have room for one entry."""
    touched[0] = source
    dist[source] = 0.0
    keys[0] = 0.0
    nodes[0] = source
    return _finish(indptr, indices, data, limit, dist, touched, 1, keys, nodes, 1)


@numba.njit(cache=True)
def _origin_best(
    n_touched: int,
    touched: np.ndarray,
    dist: np.ndarray,
    o_ptr: np.ndarray,
    o_origin: np.ndarray,
    o_part: np.ndarray,
    leg_s: np.ndarray,
    best: np.ndarray,
    o_touched: np.ndarray,
) -> int:
    """Smallest ``(d + part_s) + leg_s`` per origin over the touched nodes; returns how many origins were met.

    ``best`` must be inf on entry for every origin; the met origins are listed in
    ``o_touched``.
    """
    n_o = 0
    for i in range(n_touched):
        u = touched[i]
        d = dist[u]
        for e in range(o_ptr[u], o_ptr[u + 1]):
            o = o_origin[e]
            t = (d + o_part[e]) + leg_s[o]
            if t < best[o]:
                if best[o] == np.inf:
                    o_touched[n_o] = o
                    n_o += 1
                best[o] = t
    return n_o


@numba.njit(cache=True, inline="always")
def _reset(dist: np.ndarray, touched: np.ndarray, n_touched: int) -> None:
    for i in range(n_touched):
        dist[touched[i]] = np.inf


@numba.njit(cache=True)
def _count_kernel(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    sources: np.ndarray,
    thresholds: np.ndarray,
    o_ptr: np.ndarray,
    o_origin: np.ndarray,
    o_part: np.ndarray,
    leg_s: np.ndarray,
    dist: np.ndarray,
    touched: np.ndarray,
    best: np.ndarray,
    o_touched: np.ndarray,
    counts: np.ndarray,
) -> None:
    limit = thresholds.max()
    keys = np.empty(_HEAP0, np.float64)
    nodes = np.empty(_HEAP0, np.int64)
    for s in sources:
        n_touched, keys, nodes = _search_one(
            indptr, indices, data, s, limit, dist, touched, keys, nodes
        )
        n_o = _origin_best(
            n_touched, touched, dist, o_ptr, o_origin, o_part, leg_s, best, o_touched
        )
        for i in range(n_o):
            o = o_touched[i]
            t = best[o]
            for k in range(thresholds.size):
                if t <= thresholds[k]:
                    counts[o, k] += 1
            best[o] = np.inf
        _reset(dist, touched, n_touched)


@numba.njit(cache=True)
def _pairs_kernel(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    sources: np.ndarray,
    limit: float,
    o_ptr: np.ndarray,
    o_origin: np.ndarray,
    o_part: np.ndarray,
    leg_s: np.ndarray,
    dist: np.ndarray,
    touched: np.ndarray,
    best: np.ndarray,
    o_touched: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    keys = np.empty(_HEAP0, np.float64)
    nodes = np.empty(_HEAP0, np.int64)
    cap = _HEAP0
    out_row = np.empty(cap, np.int64)
    out_origin = np.empty(cap, np.int64)
    out_s = np.empty(cap, np.float64)
    n_out = 0
    for r in range(sources.size):
        n_touched, keys, nodes = _search_one(
            indptr, indices, data, sources[r], limit, dist, touched, keys, nodes
        )
        n_o = _origin_best(
            n_touched, touched, dist, o_ptr, o_origin, o_part, leg_s, best, o_touched
        )
        for i in range(n_o):
            o = o_touched[i]
            t = best[o]
            if t <= limit:
                if n_out == cap:
                    cap *= 2
                    grown_r = np.empty(cap, np.int64)
                    grown_r[:n_out] = out_row
                    grown_o = np.empty(cap, np.int64)
                    grown_o[:n_out] = out_origin
                    grown_s = np.empty(cap, np.float64)
                    grown_s[:n_out] = out_s
                    out_row, out_origin, out_s = grown_r, grown_o, grown_s
                out_row[n_out] = r
                out_origin[n_out] = o
                out_s[n_out] = max(t, ZERO_S)
                n_out += 1
            best[o] = np.inf
        _reset(dist, touched, n_touched)
    return out_row[:n_out].copy(), out_origin[:n_out].copy(), out_s[:n_out].copy()


@numba.njit(cache=True)
def _reach_kernel(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    sources: np.ndarray,
    limit: float,
    dist: np.ndarray,
    touched: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    keys = np.empty(_HEAP0, np.float64)
    nodes = np.empty(_HEAP0, np.int64)
    n_touched, keys, nodes = _search(
        indptr, indices, data, sources, limit, dist, touched, keys, nodes
    )
    reached = touched[:n_touched].copy()
    times = np.empty(n_touched, np.float64)
    for i in range(n_touched):
        times[i] = dist[reached[i]]
    _reset(dist, touched, n_touched)
    return reached, times


@numba.njit(cache=True)
def _reach_each_kernel(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    sources: np.ndarray,
    limit: float,
    dist: np.ndarray,
    touched: np.ndarray,
) -> np.ndarray:
    keys = np.empty(_HEAP0, np.float64)
    nodes = np.empty(_HEAP0, np.int64)
    sizes = np.empty(sources.size, np.int64)
    for i in range(sources.size):
        n_touched, keys, nodes = _search_one(
            indptr, indices, data, sources[i], limit, dist, touched, keys, nodes
        )
        sizes[i] = n_touched
        _reset(dist, touched, n_touched)
    return sizes


# ------------------------------------------------------------------ Python side
def csr_arrays(graph: sparse.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR arrays of ``graph`` in the dtypes the kernels take: int64 ``indptr``, int32 ``indices``, float64 ``data``.

    Arrays already of those dtypes are not copied. Edge weights (seconds) must be
    ``>= 0``.
    """
    if graph.shape[0] != graph.shape[1]:
        msg = f"graph must be square, got shape {graph.shape}"
        raise ValidationError(msg)
    indptr = np.ascontiguousarray(graph.indptr, dtype=np.int64)
    indices = np.ascontiguousarray(graph.indices, dtype=np.int32)
    data = np.ascontiguousarray(graph.data, dtype=np.float64)
    if data.size and not data.min() >= 0:
        msg = "edge times must be >= 0 seconds (and not NaN)"
        raise ValidationError(msg)
    return indptr, indices, data


@dataclass
class Workspace:
    """Work arrays of one graph's searches, reused between calls of :func:`reach`.

    ``dist`` (seconds, inf between calls) and ``touched`` have one slot per node:
    allocated once, each call then costs ``O(reached · log reached)``.
    """

    n_nodes: int
    dist: np.ndarray = field(init=False, repr=False)
    touched: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.dist = np.full(self.n_nodes, np.inf)
        self.touched = np.empty(self.n_nodes, dtype=np.int64)


def _workspace(work: Workspace | None, n: int) -> Workspace:
    if work is None:
        return Workspace(n)
    if work.n_nodes != n:
        msg = f"workspace is for {work.n_nodes} nodes, the graph has {n}"
        raise ValidationError(msg)
    return work


def _sources(sources: np.ndarray, n: int) -> np.ndarray:
    src = np.ascontiguousarray(sources, dtype=np.int64).ravel()
    if src.size == 1:  # one search per call: spare the two reductions (most of the call's cost)
        bad = not 0 <= int(src[0]) < n
    else:
        bad = bool(src.size) and (src.min() < 0 or src.max() >= n)
    if bad:
        msg = f"source nodes must lie in 0..{n - 1}"
        raise ValidationError(msg)
    return src


def _limit(limit_s: float) -> float:
    limit = float(limit_s)
    if not np.isfinite(limit) or limit < 0:
        msg = f"limit must be finite and >= 0 seconds, got {limit_s!r}"
        raise ValidationError(msg)
    return limit


def reach(
    csr: tuple[np.ndarray, np.ndarray, np.ndarray],
    sources: np.ndarray,
    limit_s: float,
    *,
    work: Workspace | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Nodes within ``limit_s`` seconds of the nearest of ``sources`` and their times.

    Parameters
    ----------
    csr
        ``(indptr, indices, data)`` of the graph, as from :func:`csr_arrays`
        (seconds per edge).
    sources
        Node indices, each at time 0 (repeats allowed).
    limit_s
        Time limit, seconds (finite, ``>= 0``); a node at exactly the limit is reached.
    work
        Work arrays to reuse (one per graph, e.g. for many small searches); a
        fresh one is made when ``None``.

    Returns
    -------
    tuple of numpy.ndarray
        ``(nodes, seconds)``, int64 and float64, each node once, in the order the
        search first reached them (not sorted by time).
    """
    indptr, indices, data = csr
    n = indptr.size - 1
    src = _sources(sources, n)
    limit = _limit(limit_s)
    work = _workspace(work, n)
    return _reach_kernel(indptr, indices, data, src, limit, work.dist, work.touched)


def reach_each(
    csr: tuple[np.ndarray, np.ndarray, np.ndarray],
    sources: np.ndarray,
    limit_s: float,
    *,
    work: Workspace | None = None,
) -> np.ndarray:
    """How many nodes lie within ``limit_s`` seconds of each source, searched one by one.

    Same graph, limit and ``work`` as :func:`reach`; one bounded search per source
    inside compiled code (e.g. the size of each village's reach). Returns int64
    counts, one per source (the source itself included).
    """
    indptr, indices, data = csr
    n = indptr.size - 1
    src = _sources(sources, n)
    limit = _limit(limit_s)
    work = _workspace(work, n)
    return _reach_each_kernel(indptr, indices, data, src, limit, work.dist, work.touched)


def attach_origins(
    prev_node: np.ndarray,
    next_node: np.ndarray,
    prev_s: np.ndarray,
    next_s: np.ndarray,
    n_nodes: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lists of the origins reached through each node: ``(ptr, origin, part_s)``, CSR-like.

    Origin ``o`` leaves its segment through ``prev_node[o]`` (taking ``prev_s[o]``
    seconds) or through ``next_node[o]`` (``next_s[o]``); a way that is ``inf``
    (the mode may not travel it) is left out. The entries of node ``u`` are
    ``origin[ptr[u]:ptr[u + 1]]`` with their part-segment seconds ``part_s``.
    """
    prev_node = np.asarray(prev_node, dtype=np.int64)
    next_node = np.asarray(next_node, dtype=np.int64)
    prev_s = np.asarray(prev_s, dtype=np.float64)
    next_s = np.asarray(next_s, dtype=np.float64)
    n_o = prev_node.size
    ids = np.arange(n_o, dtype=np.int64)
    ok_next, ok_prev = np.isfinite(next_s), np.isfinite(prev_s)
    node = np.concatenate([next_node[ok_next], prev_node[ok_prev]])
    origin = np.concatenate([ids[ok_next], ids[ok_prev]])
    part = np.concatenate([next_s[ok_next], prev_s[ok_prev]])
    if node.size and (node.min() < 0 or node.max() >= n_nodes):
        msg = f"origin nodes must lie in 0..{n_nodes - 1}"
        raise ValidationError(msg)
    order = np.argsort(node, kind="stable")
    ptr = np.zeros(n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(node, minlength=n_nodes), out=ptr[1:])
    return ptr, origin[order], part[order]


def _check_attached(
    n: int, attached: tuple[np.ndarray, np.ndarray, np.ndarray], leg_s: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    o_ptr, o_origin, o_part = attached
    if o_ptr.size != n + 1:
        msg = f"origin lists are for {o_ptr.size - 1} nodes, the graph has {n}"
        raise ValidationError(msg)
    leg = np.ascontiguousarray(leg_s, dtype=np.float64)
    if o_origin.size and o_origin.max() >= leg.size:
        msg = "origin lists refer to more origins than leg_s has"
        raise ValidationError(msg)
    return (
        np.ascontiguousarray(o_ptr, dtype=np.int64),
        np.ascontiguousarray(o_origin, dtype=np.int64),
        np.ascontiguousarray(o_part, dtype=np.float64),
        leg,
    )


def count_within(
    csr: tuple[np.ndarray, np.ndarray, np.ndarray],
    sources: np.ndarray,
    thresholds_s: np.ndarray,
    attached: tuple[np.ndarray, np.ndarray, np.ndarray],
    leg_s: np.ndarray,
) -> np.ndarray:
    """Per origin and threshold, how many sources are within it (one bounded search per source).

    Parameters
    ----------
    csr
        The graph (seconds), as from :func:`csr_arrays`; searched *from* the sources,
        so pass the reversed graph to count times *to* them.
    sources
        One node per source (e.g. facility doors); each is counted separately,
        repeats included.
    thresholds_s
        Time limits, seconds (finite, ``>= 0``); a source counts for an origin when
        ``(d + part_s) + leg_s <= T`` through one of its nodes.
    attached
        The origins' lists from :func:`attach_origins`.
    leg_s
        Each origin's own leg, seconds.

    Returns
    -------
    numpy.ndarray
        int64, shape ``(n_origins, n_thresholds)``.
    """
    indptr, indices, data = csr
    n = indptr.size - 1
    src = _sources(sources, n)
    thresholds = np.ascontiguousarray(thresholds_s, dtype=np.float64).ravel()
    for t in thresholds:
        _limit(t)
    o_ptr, o_origin, o_part, leg = _check_attached(n, attached, leg_s)
    counts = np.zeros((leg.size, thresholds.size), dtype=np.int64)
    if src.size == 0 or thresholds.size == 0:
        return counts
    work = Workspace(n)
    best = np.full(leg.size, np.inf)
    o_touched = np.empty(leg.size, dtype=np.int64)
    _count_kernel(
        indptr,
        indices,
        data,
        src,
        thresholds,
        o_ptr,
        o_origin,
        o_part,
        leg,
        work.dist,
        work.touched,
        best,
        o_touched,
        counts,
    )
    return counts


def pairs_within(
    csr: tuple[np.ndarray, np.ndarray, np.ndarray],
    sources: np.ndarray,
    limit_s: float,
    attached: tuple[np.ndarray, np.ndarray, np.ndarray],
    leg_s: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (source, origin) pair within ``limit_s`` seconds, one bounded search per source.

    Same inputs as :func:`count_within` with one limit. Returns ``(row, origin,
    seconds)``: ``row`` indexes ``sources``; ``seconds`` is ``(d + part_s) +
    leg_s`` (the best over the origin's nodes), ``<= limit_s``, and ``1e-9`` where it
    is zero. Rows come in ``sources`` order.
    """
    indptr, indices, data = csr
    n = indptr.size - 1
    src = _sources(sources, n)
    limit = _limit(limit_s)
    o_ptr, o_origin, o_part, leg = _check_attached(n, attached, leg_s)
    if src.size == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float64)
    work = Workspace(n)
    best = np.full(leg.size, np.inf)
    o_touched = np.empty(leg.size, dtype=np.int64)
    return _pairs_kernel(
        indptr,
        indices,
        data,
        src,
        limit,
        o_ptr,
        o_origin,
        o_part,
        leg,
        work.dist,
        work.touched,
        best,
        o_touched,
    )
