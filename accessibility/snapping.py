"""Snapping points (villages, residences, facilities) onto a network's edges.

Design
------
In:  a :class:`~accessibility.network.Network` and a GeoDataFrame of points (any CRS;
     reprojected to the network's metric CRS), index = point id.
Out: a :class:`pandas.DataFrame` keyed by the same ids with, per point, the nearest
     road *segment* (not the nearest node), the position along it, the straight
     off-network leg in metres and in seconds (walked at ``settings.walk_speed_kmh``
     whatever the travel mode), and a flag: ``ok``; ``far`` when the leg exceeds
     the maximum snap distance; ``road_cut_off`` when the point's nearest road of
     the mode, within that distance, lies on a piece dropped from the network (not
     in its largest strongly connected component; :attr:`Network.cut_x`). Such
     points are still snapped (to the kept network) and routed — flagged, never
     dropped.
Rules: only segments of the network (those the mode may use) are candidates. A
     segment off the ground (:attr:`Network.raised`: tunnel, bridge, covered,
     layer ≠ 0) is taken only when no ground-level segment lies within the maximum
     snap distance; then the nearest segment of any level. A projection within
     :data:`END_TOLERANCE_M` of a segment's end is that end node (fraction 0 or 1).
Tests: ``tests/test_snapping.py`` — projections onto segment interiors and ends, leg
     arithmetic, the far flag, CRS handling, bad input; the grid search against an
     exhaustive search and against the former STRtree search on random networks
     (points inside, on segments, on nodes, far outside; long diagonals,
     zero-length and overlapping segments), also on masked subsets; tunnels beside
     streets, cut-off roads and segment ends on hand-written OSM files; the sample
     county's snap tables.

How
---
The nearest segment is found with a uniform grid built for each call, in compiled
code (numba, ``cache=True``) over the coordinate arrays themselves: no object per
segment, so the index costs a few bytes per segment (≈ 80 MB at 5.3M segments)
where one shapely line per segment and an STRtree cost ≈ 1.4 GB.

- Cells are squares of side ``max(sqrt(w·h / m), max(w, h) / m)`` metres, ``w × h``
  the extent of the segments and ``m`` half the number of segments (about two
  segments per cell on average; never more than ``3m + 1`` cells).
- Every segment is registered in every cell its bounding box overlaps: a first
  pass counts per cell, a second fills a CSR array cell → segments (int32).
- Per point, rings of cells around the point's cell are searched, ring ``k`` being
  the cells ``k`` steps away (the cell is computed without clamping to the grid, so
  a point far outside it starts at the first ring that reaches the grid). The best
  ``(distance, segment)`` is kept, ties to the lower segment index. After ring
  ``k`` every segment not yet seen lies in grid cells outside the square of rings
  ``0..k``; the search stops when the best distance is strictly less than the
  distance from the point to those cells (at least ``k`` cells, more for a point
  off the centre of its cell or outside the grid; less a margin of a few hundred
  ulps of the coordinates for rounding), or when the square covers the whole grid.
- The distance to a segment is computed exactly as the projection that follows
  (``t`` clipped to [0, 1], ``t = 0`` on a zero-length segment, ``hypot`` of the
  remainder), so the chosen segment and the reported leg agree bit for bit: the
  result is the lowest-index segment among those at the smallest computed
  distance, as an exhaustive search would give.

Columns of the snap table
-------------------------
``segment`` (int, index into ``network.seg_a``/``seg_b``), ``fraction`` (0–1, position
from ``seg_a`` to ``seg_b``), ``offset_m`` (metres from ``seg_a`` along the segment),
``leg_m`` (metres), ``leg_s`` (seconds), ``snap_x``/``snap_y`` (metric CRS), ``flag``.
"""

from __future__ import annotations

import logging
import math

import geopandas as gpd
import numba
import numpy as np
import pandas as pd
import shapely

from ._errors import ValidationError
from .network import Network
from .settings import settings

log = logging.getLogger(__name__)

FLAG_OK = "ok"
FLAG_FAR = "far"
#: The point's nearest road of the mode lies on a piece dropped from the network
#: (outside its largest strongly connected component): it is snapped to the kept
#: network all the same, and its times are estimates.
FLAG_ROAD_CUT_OFF = "road_cut_off"

#: A projection closer than this many metres to a segment's end *is* that end node
#: (fraction exactly 0 or 1): a point a rounding error inside a one-way segment must
#: not have to drive the whole segment to reach the node it stands on.
END_TOLERANCE_M = 1e-3
#: Metres by which a cut-off road must be nearer than every connected one for a point to
#: be flagged ``road_cut_off`` (unconnected stubs and driveways beside a street are common).
CUT_OFF_MARGIN_M = 20.0

#: Average number of segments per grid cell the cell size aims at.
SEGMENTS_PER_CELL = 2.0
#: Margin of the ring search's stopping test, in units of the coordinates' magnitude
#: (a few hundred ulps: covers the rounding of cell indices and distances).
_SLACK = 64.0 * float(np.finfo(float).eps)
#: Cell coordinates of points are clamped to this magnitude before conversion to int
#: (a point so far away is then compared with every segment: still exact).
_CELL_MAX = 2.0**52
_LOW32 = (1 << 32) - 1


def segment_lines(network: Network) -> np.ndarray:
    """Return the network's segments as shapely LineStrings in its metric CRS."""
    coords = np.stack(
        [
            np.column_stack([network.x[network.seg_a], network.y[network.seg_a]]),
            np.column_stack([network.x[network.seg_b], network.y[network.seg_b]]),
        ],
        axis=1,
    )
    return shapely.linestrings(coords)


@numba.njit(cache=True)
def _segment_distance(px: float, py: float, ax: float, ay: float, bx: float, by: float) -> float:
    """Distance in metres from a point to a segment, computed as :func:`snap` projects."""
    dx = bx - ax
    dy = by - ay
    len2 = dx * dx + dy * dy
    t = 0.0
    if len2 > 0.0:
        t = ((px - ax) * dx + (py - ay) * dy) / len2
        if t < 0.0:
            t = 0.0
        elif t > 1.0:
            t = 1.0
    sx = ax + t * dx
    sy = ay + t * dy
    return math.hypot(px - sx, py - sy)


@numba.njit(cache=True)
def _node_cells(x, y, x0, y0, cell, nx, ny, out):
    """Cell column ``i`` and row ``j`` of every node, as ``j << 32 | i`` (the grid covers
    every node; clipped for safety)."""
    for v in range(x.size):
        i = min(max(math.floor((x[v] - x0) / cell), 0), nx - 1)
        j = min(max(math.floor((y[v] - y0) / cell), 0), ny - 1)
        out[v] = (j << 32) | i


@numba.njit(cache=True)
def _count_cells(node_cell, seg_a, seg_b, nx, counts):
    """First pass: ``counts[c + 1]`` = number of segments whose bounding box overlaps cell ``c``.

    The cells of a segment's bounding box are those between its end nodes' cells
    (``floor`` is monotonic, so the cell of the smaller coordinate is the smaller cell).
    """
    for s in range(seg_a.size):
        ca = node_cell[seg_a[s]]
        cb = node_cell[seg_b[s]]
        ia, ja = ca & _LOW32, ca >> 32
        ib, jb = cb & _LOW32, cb >> 32
        for j in range(min(ja, jb), max(ja, jb) + 1):
            for i in range(min(ia, ib), max(ia, ib) + 1):
                counts[j * nx + i + 1] += 1


@numba.njit(cache=True)
def _fill_cells(node_cell, seg_a, seg_b, nx, indptr, entries):
    """Second pass: the segments of cell ``c`` (ascending) go to ``entries[indptr[c]:indptr[c + 1]]``."""
    fill = indptr[:-1].copy()
    for s in range(seg_a.size):
        ca = node_cell[seg_a[s]]
        cb = node_cell[seg_b[s]]
        ia, ja = ca & _LOW32, ca >> 32
        ib, jb = cb & _LOW32, cb >> 32
        for j in range(min(ja, jb), max(ja, jb) + 1):
            for i in range(min(ia, ib), max(ia, ib) + 1):
                c = j * nx + i
                entries[fill[c]] = s
                fill[c] += 1


@numba.njit(cache=True)
def _scan_cell(c, qx, qy, x, y, seg_a, seg_b, indptr, entries, best, best_seg):
    """Update ``(best, best_seg)`` with the segments of cell ``c`` (ties to the lower index)."""
    for e in range(indptr[c], indptr[c + 1]):
        s = entries[e]
        a = seg_a[s]
        b = seg_b[s]
        d = _segment_distance(qx, qy, x[a], y[a], x[b], y[b])
        if d < best or (d == best and s < best_seg):
            best = d
            best_seg = s
    return best, best_seg


@numba.njit(cache=True)
def _rect_distance(fx: float, fy: float, x0: float, x1: float, y0: float, y1: float) -> float:
    """Distance from ``(fx, fy)`` to the rectangle ``[x0, x1] × [y0, y1]`` (cell units)."""
    dx = max(x0 - fx, 0.0, fx - x1)
    dy = max(y0 - fy, 0.0, fy - y1)
    return math.hypot(dx, dy)


@numba.njit(cache=True)
def _outside_distance(fx, fy, ilo, ihi, jlo, jhi, nx, ny):
    """Distance in cell units from ``(fx, fy)`` to the grid cells outside the square
    ``ilo..ihi × jlo..jhi``; ``inf`` when the square covers the whole grid.

    Those cells form up to four strips: all columns left of ``ilo`` and right of
    ``ihi``, and the square's columns below ``jlo`` and above ``jhi``. For a point in
    its cell ``(ci, cj)`` and the square of rings ``0..k`` around it the distance is
    at least ``k``.
    """
    d = np.inf
    if ilo > 0:
        d = min(d, _rect_distance(fx, fy, 0.0, min(ilo, nx), 0.0, ny))
    if ihi < nx - 1:
        d = min(d, _rect_distance(fx, fy, max(ihi + 1, 0), nx, 0.0, ny))
    a = max(ilo, 0)
    b = min(ihi, nx - 1) + 1.0
    if a < b:
        if jlo > 0:
            d = min(d, _rect_distance(fx, fy, a, b, 0.0, jlo))
        if jhi < ny - 1:
            d = min(d, _rect_distance(fx, fy, a, b, jhi + 1.0, ny))
    return d


@numba.njit(cache=True)
def _nearest_in_grid(px, py, x, y, seg_a, seg_b, x0, y0, cell, nx, ny, scale, indptr, entries):
    """Nearest segment per point by ring search over the grid; -1 for a non-finite point."""
    out = np.full(px.size, -1, dtype=np.int64)
    for p in range(px.size):
        qx = px[p]
        qy = py[p]
        if not (math.isfinite(qx) and math.isfinite(qy)):
            continue
        # the point's position in cell units and its cell, not clamped to the grid (a
        # far point starts at the first ring that reaches the grid)
        fx = min(max((qx - x0) / cell, -_CELL_MAX), _CELL_MAX)
        fy = min(max((qy - y0) / cell, -_CELL_MAX), _CELL_MAX)
        ci = math.floor(fx)
        cj = math.floor(fy)
        tol = _SLACK * (abs(qx) + abs(qy) + scale)
        k = max(0, -ci, ci - (nx - 1), -cj, cj - (ny - 1))
        best = np.inf
        best_seg = -1
        while True:
            ilo, ihi, jlo, jhi = ci - k, ci + k, cj - k, cj + k
            for j in range(max(jlo, 0), min(jhi, ny - 1) + 1):
                if j == jlo or j == jhi:  # a full row of the ring
                    i0, i1, step = max(ilo, 0), min(ihi, nx - 1), 1
                else:  # its two side cells, where inside the grid
                    i0 = ilo if ilo >= 0 else ihi
                    i1 = ihi if ihi <= nx - 1 else ilo
                    step = max(ihi - ilo, 1)
                for i in range(i0, i1 + 1, step):
                    best, best_seg = _scan_cell(
                        j * nx + i, qx, qy, x, y, seg_a, seg_b, indptr, entries, best, best_seg
                    )
            # Every segment not seen yet lies in grid cells outside the square of rings
            # 0..k: stop when the best is closer than all of them.
            if best < _outside_distance(fx, fy, ilo, ihi, jlo, jhi, nx, ny) * cell - tol:
                break
            k += 1
        out[p] = best_seg
    return out


def nearest_segment(
    network: Network, px: np.ndarray, py: np.ndarray, *, mask: np.ndarray | None = None
) -> np.ndarray:
    """Return the index of the nearest segment to each point (ties: the lowest index).

    Parameters
    ----------
    network
        The network whose segments (``seg_a`` → ``seg_b``, straight, metric CRS) are
        searched; it must have at least one segment.
    px, py
        Point coordinates in the network's metric CRS, metres.
    mask
        Optional bool per segment: search only the segments where it is true.

    Returns
    -------
    numpy.ndarray
        int64 segment index per point; -1 where a coordinate is not finite (or the
        mask selects no segment). The distance is the one :func:`snap` reports as
        ``leg_m`` (same arithmetic), and among segments at the same smallest
        distance the lowest index is returned.
    """
    seg_a, seg_b = network.seg_a, network.seg_b
    if mask is None:
        return nearest_of(network.x, network.y, seg_a, seg_b, px, py)
    chosen = np.flatnonzero(np.asarray(mask, dtype=bool))
    if chosen.size == 0:
        return np.full(np.asarray(px).size, -1, dtype=np.int64)
    # the subset keeps the segments' order, so ties still go to the lowest index
    got = nearest_of(network.x, network.y, seg_a[chosen], seg_b[chosen], px, py)
    return np.where(got >= 0, chosen[np.maximum(got, 0)], -1)


def nearest_of(
    x: np.ndarray,
    y: np.ndarray,
    seg_a: np.ndarray,
    seg_b: np.ndarray,
    px: np.ndarray,
    py: np.ndarray,
) -> np.ndarray:
    """Nearest of the segments ``(x[seg_a], y[seg_a]) → (x[seg_b], y[seg_b])`` to each point.

    The grid search of :func:`nearest_segment` over any node coordinates and segment
    ends (at least one segment); same result: the lowest index at the smallest
    distance, -1 for a point without finite coordinates.
    """
    x = np.ascontiguousarray(x, dtype=float)
    y = np.ascontiguousarray(y, dtype=float)
    seg_a = np.ascontiguousarray(seg_a)
    seg_b = np.ascontiguousarray(seg_b)
    n_seg = seg_a.size
    x0, x1 = float(x.min()), float(x.max())
    y0, y1 = float(y.min()), float(y.max())
    w, h = x1 - x0, y1 - y0
    m = max(n_seg / SEGMENTS_PER_CELL, 1.0)
    cell = max(math.sqrt(w * h / m), max(w, h) / m)
    if not cell > 0.0:  # every node at one spot
        cell = 1.0
    nx = math.floor((x1 - x0) / cell) + 1
    ny = math.floor((y1 - y0) / cell) + 1
    idx = np.int32 if n_seg < 2**31 else np.int64
    node_cell = np.empty(x.size, dtype=np.int64)
    _node_cells(x, y, x0, y0, cell, nx, ny, node_cell)
    counts = np.zeros(nx * ny + 1, dtype=idx)
    _count_cells(node_cell, seg_a, seg_b, nx, counts)
    total = int(counts.sum(dtype=np.int64))
    if total < 2**31 and idx is np.int32:
        indptr = np.cumsum(counts, out=counts)
    else:
        indptr = np.cumsum(counts, dtype=np.int64)
    del counts
    entries = np.empty(total, dtype=idx)
    _fill_cells(node_cell, seg_a, seg_b, nx, indptr, entries)
    del node_cell
    scale = abs(x0) + abs(y0) + w + h + cell
    return _nearest_in_grid(
        np.ascontiguousarray(px, dtype=float),
        np.ascontiguousarray(py, dtype=float),
        x,
        y,
        seg_a,
        seg_b,
        x0,
        y0,
        cell,
        nx,
        ny,
        scale,
        indptr,
        entries,
    )


def snap(
    network: Network,
    points: gpd.GeoDataFrame,
    *,
    max_snap_m: float | None = None,
    walk_speed_kmh: float | None = None,
) -> pd.DataFrame:
    """Snap points to the nearest point on the nearest network segment.

    Parameters
    ----------
    network
        The travel mode's network (its segments are the snap targets).
    points
        Point geometries, any CRS (must be set); index = point id (unique).
    max_snap_m
        Legs longer than this many metres are flagged ``far``; default
        ``settings.max_snap_m``.
    walk_speed_kmh
        Speed of the off-network leg in km/h; default ``settings.walk_speed_kmh``.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``points``; columns as in the module docstring. The leg time is
        ``leg_s = leg_m / (walk_speed_kmh / 3.6)``.
    """
    max_snap_m = settings.max_snap_m if max_snap_m is None else float(max_snap_m)
    walk_speed_kmh = settings.walk_speed_kmh if walk_speed_kmh is None else float(walk_speed_kmh)
    if not isinstance(points, gpd.GeoDataFrame):
        msg = "points must be a GeoDataFrame of Point geometries with a CRS"
        raise ValidationError(msg)
    if points.crs is None:
        msg = "points have no CRS; set it (e.g. gdf.set_crs(4326) for longitude/latitude)"
        raise ValidationError(msg)
    if not points.index.is_unique:
        dup = points.index[points.index.duplicated()].unique()[:5].tolist()
        msg = f"point ids (the index) must be unique; duplicated: {dup}"
        raise ValidationError(msg)
    if walk_speed_kmh <= 0:
        msg = f"walk_speed_kmh must be > 0, got {walk_speed_kmh}"
        raise ValidationError(msg)
    if max_snap_m <= 0:
        msg = f"max_snap_m must be > 0 metres, got {max_snap_m}"
        raise ValidationError(msg)
    geom = points.geometry
    if len(points) and (geom.is_empty.any() or geom.isna().any()):
        bad = points.index[geom.is_empty | geom.isna()][:5].tolist()
        msg = f"points with empty or missing geometry: {bad}; drop or fix them before snapping"
        raise ValidationError(msg)
    if len(points) and not (geom.geom_type == "Point").all():
        bad = points.index[geom.geom_type != "Point"][:5].tolist()
        msg = f"only Point geometries can be snapped; got others for ids {bad} (use .representative_point())"
        raise ValidationError(msg)
    if network.n_segments == 0:
        msg = "the network has no segments to snap to"
        raise ValidationError(msg)

    columns = ["segment", "fraction", "offset_m", "leg_m", "leg_s", "snap_x", "snap_y", "flag"]
    if len(points) == 0:
        return pd.DataFrame({c: [] for c in columns}, index=points.index)

    pts = geom.to_crs(network.crs)
    px = pts.x.to_numpy()
    py = pts.y.to_numpy()
    # Nearest segment per point; ties resolved to the lowest segment index for determinism.
    seg = nearest_segment(network, px, py)
    if (seg < 0).any():
        bad = points.index[seg < 0][:5].tolist()
        msg = f"points without finite coordinates in {network.crs}: {bad}; check their CRS"
        raise ValidationError(msg)
    nearest_m = _project(network.x, network.y, network.seg_a[seg], network.seg_b[seg], px, py)[3]

    # A tunnel, bridge or covered way only when no ground-level road is within max_snap_m.
    raised = np.asarray(network.raised, dtype=bool)
    up = np.flatnonzero(raised[seg])
    ground_m = nearest_m.copy()  # distance to the nearest ground-level segment
    ground_m[up] = np.inf
    if up.size and not raised.all():
        ground = nearest_segment(network, px[up], py[up], mask=~raised)
        g_leg = _project(
            network.x, network.y, network.seg_a[ground], network.seg_b[ground], px[up], py[up]
        )[3]
        ground_m[up] = g_leg
        near = g_leg <= max_snap_m
        seg[up[near]] = ground[near]

    t, sx, sy, leg = _project(network.x, network.y, network.seg_a[seg], network.seg_b[seg], px, py)
    # A projection within END_TOLERANCE_M of an end is that end node; the leg stays
    # the distance to the road (it differs by less than the tolerance).
    ax, ay = network.x[network.seg_a[seg]], network.y[network.seg_a[seg]]
    bx, by = network.x[network.seg_b[seg]], network.y[network.seg_b[seg]]
    planar = np.hypot(bx - ax, by - ay)
    at_a = (t > 0.0) & (t * planar < END_TOLERANCE_M)
    at_b = (t < 1.0) & ((1.0 - t) * planar < END_TOLERANCE_M) & ~at_a
    t = np.where(at_a, 0.0, np.where(at_b, 1.0, t))
    sx = np.where(at_a, ax, np.where(at_b, bx, sx))
    sy = np.where(at_a, ay, np.where(at_b, by, sy))

    # Segment length along the network (geodesic), from any edge on the segment.
    seg_len = np.zeros(network.n_segments)
    seg_len[network.segment] = network.length_m
    flag = np.where(leg > max_snap_m, FLAG_FAR, FLAG_OK).astype(object)
    cut_off = _nearer_cut_off(network, px, py, nearest_m, ground_m, max_snap_m)
    flag[cut_off] = FLAG_ROAD_CUT_OFF
    n_far = int((flag == FLAG_FAR).sum())
    if n_far:
        log.warning(
            "%d of %d points are more than %.0f m from the nearest road (flagged 'far')",
            n_far,
            len(points),
            max_snap_m,
        )
    if cut_off.any():
        log.warning(
            "%d of %d points are nearest to a road cut off from the %s network (flagged "
            "'road_cut_off', e.g. %s): snapped to the network all the same, their times "
            "are estimates",
            int(cut_off.sum()),
            len(points),
            network.mode,
            points.index[cut_off][:5].tolist(),
        )
    return pd.DataFrame(
        {
            "segment": seg.astype(np.int64),
            "fraction": t,
            "offset_m": t * seg_len[seg],
            "leg_m": leg,
            "leg_s": leg / (walk_speed_kmh / 3.6),
            "snap_x": sx,
            "snap_y": sy,
            "flag": flag.astype(str),
        },
        index=points.index,
    )


def _project(
    x: np.ndarray,
    y: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    px: np.ndarray,
    py: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fraction ``t`` (0–1), projected point and distance of each point on its segment ``a → b``."""
    ax, ay = x[a], y[a]
    dx, dy = x[b] - ax, y[b] - ay
    len2 = dx * dx + dy * dy
    with np.errstate(invalid="ignore", divide="ignore"):
        t = ((px - ax) * dx + (py - ay) * dy) / len2
    t = np.where(len2 > 0, np.clip(t, 0.0, 1.0), 0.0)
    sx, sy = ax + t * dx, ay + t * dy
    return t, sx, sy, np.hypot(px - sx, py - sy)


def _nearer_cut_off(
    network: Network,
    px: np.ndarray,
    py: np.ndarray,
    nearest_m: np.ndarray,
    ground_m: np.ndarray,
    max_snap_m: float,
) -> np.ndarray:
    """Whether each point's own road of the mode is a cut-off one within ``max_snap_m``.

    The point's road is chosen among kept and cut-off segments (:attr:`Network.cut_x`)
    by the rule of :func:`snap`: the nearest ground-level one when one lies within
    ``max_snap_m``, else the nearest of any level. It is cut off when that is a
    cut-off segment nearer than the kept ones (``ground_m``: kept ground segments;
    ``nearest_m``: kept segments of any level) by more than :data:`CUT_OFF_MARGIN_M`,
    and within ``max_snap_m``; a point farther than that from every road is ``far``.
    A stub or driveway a few metres nearer than a connected street is no cause to
    call the time an estimate.
    """
    cut_x = np.asarray(network.cut_x, dtype=float)
    cut_y = np.asarray(network.cut_y, dtype=float)
    if cut_x.size == 0 or px.size == 0:
        return np.zeros(px.size, dtype=bool)
    starts = np.arange(0, cut_x.size, 2)
    cut_raised = np.asarray(network.cut_raised, dtype=bool)

    def distance(chosen: np.ndarray) -> np.ndarray:
        if chosen.size == 0:
            return np.full(px.size, np.inf)
        near = nearest_of(cut_x, cut_y, chosen, chosen + 1, px, py)
        return _project(cut_x, cut_y, chosen[near], chosen[near] + 1, px, py)[3]

    d_any = distance(starts)
    d_ground = d_any if not cut_raised.any() else distance(starts[~cut_raised])
    on_ground = np.minimum(ground_m, d_ground) <= max_snap_m
    margin = CUT_OFF_MARGIN_M
    return np.where(
        on_ground,
        d_ground + margin < ground_m,
        (d_any + margin < nearest_m) & (d_any <= max_snap_m),
    )


def merge(
    snap: pd.DataFrame,
    weights: np.ndarray | pd.Series,
    *,
    bucket_m: float,
    keys: np.ndarray | None = None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Merge snapped points whose walks differ by little, for searches and siting models.

    Points are merged when they share a segment, the same ``bucket_m`` stretch of it
    (``offset_m // bucket_m``), the same ``bucket_m`` band of leg length
    (``leg_m // bucket_m``) and the same ``keys`` value (e.g. covered now or not).
    Within a group positions differ by less than ``bucket_m`` along the street and
    legs by less than ``bucket_m``, so a member's time to anywhere differs from the
    group's by less than ``bucket_m`` at the segment's speed plus ``bucket_m`` walked.

    Parameters
    ----------
    snap
        A snap table (:func:`snap`), one row per point.
    weights
        Weight of each point (e.g. residents), aligned with ``snap``.
    bucket_m
        Bucket size in metres (> 0).
    keys
        Optional integer labels aligned with ``snap``: points with different labels
        are never merged.

    Returns
    -------
    merged, group
        ``merged``: one row per group (index ``0..G-1``) with the snap columns
        (``segment``; ``offset_m``, ``fraction``, ``leg_m``, ``leg_s``, ``snap_x``,
        ``snap_y`` as weight-averaged means, plain means where a group weighs
        nothing; ``flag`` of its first point), ``weight`` (summed) and ``points``;
        ``group``: the group of each input point (int64, aligned with ``snap``).
    """
    if not np.isfinite(bucket_m) or bucket_m <= 0:
        msg = f"bucket_m must be a positive number of metres, got {bucket_m!r}"
        raise ValidationError(msg)
    w = np.asarray(weights, dtype=float)
    if w.shape != (len(snap),):
        msg = f"weights must have one value per snapped point ({len(snap)}), got shape {w.shape}"
        raise ValidationError(msg)
    extra = np.zeros(len(snap), dtype=np.int64) if keys is None else np.asarray(keys, np.int64)
    parts = np.column_stack(
        [
            snap["segment"].to_numpy(np.int64),
            np.floor(snap["offset_m"].to_numpy(float) / bucket_m).astype(np.int64),
            np.floor(snap["leg_m"].to_numpy(float) / bucket_m).astype(np.int64),
            extra,
        ]
    )
    _, first, group = np.unique(parts, axis=0, return_index=True, return_inverse=True)
    group = group.ravel().astype(np.int64)
    # groups numbered in the order of their first point
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    group = rank[group]
    first = first[order]
    n = first.size
    total = np.bincount(group, weights=w, minlength=n)
    count = np.bincount(group, minlength=n).astype(float)
    light = total <= 0
    share = np.where(light[group], 1.0 / count[group], w / np.where(light, 1.0, total)[group])
    merged = pd.DataFrame(
        {"segment": snap["segment"].to_numpy(np.int64)[first]}, index=pd.RangeIndex(n)
    )
    for col in ("offset_m", "fraction", "leg_m", "leg_s", "snap_x", "snap_y"):
        if col in snap.columns:
            merged[col] = np.bincount(group, weights=share * snap[col].to_numpy(float), minlength=n)
    merged["flag"] = snap["flag"].to_numpy()[first]
    merged["weight"] = total
    merged["points"] = count.astype(np.int64)
    return merged, group
