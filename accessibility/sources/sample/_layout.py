"""Layout helpers of the builder: street grids with their gates and perimeter, points
inside a block, angle tests for where a new road leaves or meets others, street tags,
and the noding pass that gives every at-grade meeting of roads a shared vertex."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import shapely
from scipy.spatial import cKDTree

from ._constants import XY
from ._geometry import _dist, _xy
from ._model import _Way


def _make_grid(
    rng: np.random.Generator,
    centre: XY,
    gaps_x: np.ndarray,
    gaps_y: np.ndarray,
    *,
    angle: float,
    jitter: float,
    warp: float,
) -> list[list[XY]]:
    """Street-grid intersections ``grid[row][col]`` (rows south→north, columns west→east)."""
    xs = np.concatenate([[0.0], np.cumsum(gaps_x)])
    ys = np.concatenate([[0.0], np.cumsum(gaps_y)])
    xs -= xs[-1] / 2
    ys -= ys[-1] / 2
    gx, gy = np.meshgrid(xs, ys)
    if warp > 0:
        gx = gx + warp * np.sin(gy / 1400.0 + rng.uniform(0, 2 * np.pi))
        gy = gy + warp * np.sin(gx / 1700.0 + rng.uniform(0, 2 * np.pi))
    gx = gx + rng.normal(0.0, jitter, gx.shape)
    gy = gy + rng.normal(0.0, jitter, gy.shape)
    c, s = math.cos(angle), math.sin(angle)
    px = centre[0] + gx * c - gy * s
    py = centre[1] + gx * s + gy * c
    return [[_xy(px[i, j], py[i, j]) for j in range(px.shape[1])] for i in range(px.shape[0])]


def _axis_gates(
    grid: list[list[XY]], *, cols: Sequence[int], rows: Sequence[int]
) -> list[tuple[XY, XY]]:
    """Both ends of the given grid columns and rows, each with the unit vector pointing
    out of the grid along its street (duplicates, as at a corner, kept once)."""
    ny, nx = len(grid), len(grid[0])
    ends: list[tuple[XY, XY]] = []
    for j in cols:
        ends += [(grid[0][j], grid[1][j]), (grid[ny - 1][j], grid[ny - 2][j])]
    for i in rows:
        ends += [(grid[i][0], grid[i][1]), (grid[i][nx - 1], grid[i][nx - 2])]
    out: list[tuple[XY, XY]] = []
    for end, inner in ends:
        if any(end == g for g, _ in out):
            continue
        d = _dist(inner, end)
        out.append((end, _xy((end[0] - inner[0]) / d, (end[1] - inner[1]) / d)))
    return out


def _perimeter(grid: list[list[XY]]) -> list[XY]:
    ny, nx = len(grid), len(grid[0])
    out: list[XY] = []
    for i in range(ny):
        for j in range(nx):
            if i in (0, ny - 1) or j in (0, nx - 1):
                out.append(grid[i][j])
    return out


def _nearest(points: Sequence[XY], target: XY) -> XY:
    return min(points, key=lambda p: (_dist(p, target), p))


def _bilinear(grid: list[list[XY]], i: int, j: int, s: float, t: float) -> XY:
    """Point at fractions ``s`` (west→east) and ``t`` (south→north) of block ``(i, j)``."""
    p00, p01, p10, p11 = grid[i][j], grid[i][j + 1], grid[i + 1][j], grid[i + 1][j + 1]
    x = (1 - s) * (1 - t) * p00[0] + s * (1 - t) * p01[0] + (1 - s) * t * p10[0] + s * t * p11[0]
    y = (1 - s) * (1 - t) * p00[1] + s * (1 - t) * p01[1] + (1 - s) * t * p10[1] + s * t * p11[1]
    return _xy(x, y)


def _inset(grid: list[list[XY]], i: int, j: int, s: int, t: int, margin: float) -> XY:
    """Corner ``(s, t)`` of block ``(i, j)`` moved ``margin`` metres into the block."""
    w = _dist(grid[i][j], grid[i][j + 1])
    h = _dist(grid[i][j], grid[i + 1][j])
    ms, mt = margin / w, margin / h
    return _bilinear(grid, i, j, ms if s == 0 else 1 - ms, mt if t == 0 else 1 - mt)


def _along(a: XY, b: XY, dist: float, offset: float) -> XY:
    """The point ``dist`` metres from ``a`` towards ``b``, ``offset`` metres to its right."""
    d = _dist(a, b)
    ux, uy = (b[0] - a[0]) / d, (b[1] - a[1]) / d
    return _xy(a[0] + dist * ux + offset * uy, a[1] + dist * uy - offset * ux)


def _leaves_clear(start: XY, nxt: XY, ways: Sequence[_Way], *, min_deg: float = 20.0) -> bool:
    """True when the segment ``start → nxt`` leaves ``start`` at least ``min_deg``
    degrees away from every segment of ``ways`` that also leaves ``start``."""
    length = _dist(start, nxt)
    if length == 0.0:
        return False
    dx, dy = (nxt[0] - start[0]) / length, (nxt[1] - start[1]) / length
    limit = math.cos(math.radians(min_deg))
    for w in ways:
        c = w.coords
        for k, p in enumerate(c):
            if p != start:
                continue
            for nb in (c[k - 1] if k > 0 else None, c[k + 1] if k + 1 < len(c) else None):
                if nb is None or nb == start:
                    continue
                e = _dist(start, nb)
                if ((nb[0] - start[0]) * dx + (nb[1] - start[1]) * dy) / e > limit:
                    return False
    return True


def _meets_at_angle(prev: XY, end: XY, direction: XY, *, min_deg: float = 15.0) -> bool:
    """True when the segment ``prev → end`` meets a line of unit ``direction`` at
    ``min_deg`` degrees or more."""
    length = _dist(prev, end)
    if length == 0.0:
        return False
    cos = abs((end[0] - prev[0]) * direction[0] + (end[1] - prev[1]) * direction[1]) / length
    return cos < math.cos(math.radians(min_deg))


def _street_tags(highway: str, name: str) -> dict[str, str]:
    tags = {"highway": highway, "name": name}
    if highway in ("primary", "secondary"):
        tags["lanes"] = "4" if highway == "primary" else "2"
        tags["surface"] = "asphalt"
    return tags


def _add_junctions(ways: list[_Way]) -> None:
    """Insert a shared vertex wherever two ``noded`` ways cross or one ends on another.

    Vertices with identical coordinates become one OSM node when written, so after
    this every at-grade meeting of roads is a junction. Bridges are not noded:
    whatever passes under them does not meet them.
    """
    idx = [k for k, w in enumerate(ways) if w.noded]
    seg_a: list[XY] = []
    seg_b: list[XY] = []
    owner: list[tuple[int, int]] = []
    for k in idx:
        c = ways[k].coords
        for s in range(len(c) - 1):
            seg_a.append(c[s])
            seg_b.append(c[s + 1])
            owner.append((k, s))
    if not seg_a:
        return
    a = np.asarray(seg_a)
    b = np.asarray(seg_b)
    tree = shapely.STRtree(shapely.linestrings(np.stack([a, b], axis=1)))
    left, right = tree.query(shapely.linestrings(np.stack([a, b], axis=1)))
    keep = left < right
    i, j = left[keep], right[keep]
    pa, pb, qa, qb = a[i], b[i], a[j], b[j]
    r = pb - pa
    s = qb - qa
    q = qa - pa
    rlen = np.hypot(r[:, 0], r[:, 1])
    slen = np.hypot(s[:, 0], s[:, 1])
    denom = r[:, 0] * s[:, 1] - r[:, 1] * s[:, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (q[:, 0] * s[:, 1] - q[:, 1] * s[:, 0]) / denom
        u = (q[:, 0] * r[:, 1] - q[:, 1] * r[:, 0]) / denom
        et, eu = 1e-3 / rlen, 1e-3 / slen
        proper = (
            (np.abs(denom) > 1e-9 * rlen * slen) & (t > et) & (t < 1 - et) & (u > eu) & (u < 1 - eu)
        )
    inserts: list[tuple[int, float, float, float]] = []  # (segment, parameter, x, y)
    for n in np.flatnonzero(proper):
        x = float(pa[n, 0] + t[n] * r[n, 0])
        y = float(pa[n, 1] + t[n] * r[n, 1])
        inserts.append((int(i[n]), float(t[n]), x, y))
        inserts.append((int(j[n]), float(u[n]), x, y))
    # an end point lying on the other segment's interior (T-junctions)
    for pts, seg_s, seg_e, seg_idx in (
        (qa, pa, pb, i),
        (qb, pa, pb, i),
        (pa, qa, qb, j),
        (pb, qa, qb, j),
    ):
        d = seg_e - seg_s
        l2 = d[:, 0] ** 2 + d[:, 1] ** 2
        with np.errstate(divide="ignore", invalid="ignore"):
            v = ((pts[:, 0] - seg_s[:, 0]) * d[:, 0] + (pts[:, 1] - seg_s[:, 1]) * d[:, 1]) / l2
            gap = np.hypot(
                seg_s[:, 0] + v * d[:, 0] - pts[:, 0], seg_s[:, 1] + v * d[:, 1] - pts[:, 1]
            )
            ev = 1e-3 / np.sqrt(l2)
            hit = (gap < 1e-3) & (v > ev) & (v < 1 - ev)
        for n in np.flatnonzero(hit):
            inserts.append((int(seg_idx[n]), float(v[n]), float(pts[n, 0]), float(pts[n, 1])))
    if not inserts:
        return
    inserts = _snap_inserts(inserts, a, b)
    inserts.sort()
    by_seg: dict[int, list[XY]] = {}
    for seg, _, x, y in inserts:
        lst = by_seg.setdefault(seg, [])
        if not lst or lst[-1] != (x, y):
            lst.append((x, y))
    g = 0
    for k in idx:
        c = ways[k].coords
        out: list[XY] = []
        for sidx in range(len(c) - 1):
            out.append(c[sidx])
            for p in by_seg.get(g, ()):
                if p != out[-1] and p != c[sidx + 1]:
                    out.append(p)
            g += 1
        out.append(c[-1])
        ways[k].coords = out


def _snap_inserts(
    inserts: list[tuple[int, float, float, float]],
    a: np.ndarray,
    b: np.ndarray,
    *,
    tol: float = 0.05,
) -> list[tuple[int, float, float, float]]:
    """Merge junction points closer than ``tol`` metres to each other or to an
    existing vertex, so that three roads meeting at almost one point share one node
    (coordinates are written to about 1 cm; near-misses would otherwise cross)."""
    verts = np.unique(np.concatenate([a, b]), axis=0)
    pts = np.asarray([(x, y) for _, _, x, y in inserts])
    allpts = np.concatenate([verts, pts])
    pairs = cKDTree(allpts).query_pairs(tol, output_type="ndarray")
    if len(pairs) == 0:
        return inserts
    parent = np.arange(len(allpts))

    def root(n: int) -> int:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = int(parent[n])
        return n

    for p, q in pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]:
        rp, rq = root(int(p)), root(int(q))
        if rp != rq:
            parent[max(rp, rq)] = min(rp, rq)
    out: list[tuple[int, float, float, float]] = []
    nv = len(verts)
    for n, (seg, t, _, _) in enumerate(inserts):
        r = root(nv + n)
        x, y = float(allpts[r, 0]), float(allpts[r, 1])
        if (x, y) in ((float(a[seg, 0]), float(a[seg, 1])), (float(b[seg, 0]), float(b[seg, 1]))):
            continue
        out.append((seg, t, x, y))
    return out
