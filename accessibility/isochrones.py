"""Isochrones drawn from the reached street network, not from convex hulls.

Design
------
In:  a :class:`~accessibility.network.Network` and, for every network node, the
     travel time in seconds to the nearest facility of a set
     (:meth:`accessibility.engine.Router.node_times`); optionally the facilities'
     own positions on their segments with their leg times (so that the street a
     facility stands on is reached from the facility itself, not only from the
     segment's ends).
Out: one (multi)polygon per time limit (EPSG:4326): the parts of the streets from
     which a facility is reached within the limit, buffered by ``buffer_m`` metres
     and unioned.

How
---
A point at fraction ``f`` (0 at ``seg_a``, 1 at ``seg_b``) of a straight segment
reaches a facility within ``L`` seconds if one of these holds::

    f · t(b→a) + T(a) ≤ L        leave through seg_a
    (1 − f) · t(a→b) + T(b) ≤ L  leave through seg_b
    |f − f0| · t(towards f0) + s0 ≤ L   a source (facility) at f0 with time s0

where ``T`` are the node times and ``t(a→b)`` the segment's time in that direction
(``inf`` where the mode may not travel it). Each condition is an interval of
``f``; their union is the reached part of the segment (a fully reached segment
when both ends are within the limit and the middle is too). A node reached with
no time left is a zero-length interval, drawn as a dot, so it still shows. The pieces are
simplified by :data:`SIMPLIFY_M` (1 m), buffered by ``buffer_m`` in the metric CRS (round
ends of :data:`QUAD_SEGS` segments per quarter) and unioned: a street ends where its
reach ends, a dead end stays thin, and a block whose streets are all reached is
covered only as far as ``buffer_m`` reaches into it. Times along a segment are
proportional to its length, as in the engine.

Tests: ``tests/test_isochrones.py`` — a hand-built network: reached nodes and
edge parts inside, points just beyond the reach outside, no unreached node inside.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ._errors import ValidationError
from .network import Network

__all__ = ["polygons", "reached_intervals"]

log = logging.getLogger(__name__)

#: Metres the reached street lines are simplified by before they are buffered (far
#: below ``buffer_m``): a straight street mapped with a node every 10 m is one line.
SIMPLIFY_M = 1.0
#: Segments per quarter circle of the buffers' round ends and corners.
QUAD_SEGS = 3


def _segment_times(network: Network) -> tuple[np.ndarray, np.ndarray]:
    """Seconds over each segment ``seg_a → seg_b`` and ``seg_b → seg_a`` (inf: not allowed)."""
    t_ab = np.full(network.n_segments, np.inf)
    t_ba = np.full(network.n_segments, np.inf)
    fwd = np.asarray(network.forward, dtype=bool)
    np.minimum.at(t_ab, network.segment[fwd], network.time_s[fwd])
    np.minimum.at(t_ba, network.segment[~fwd], network.time_s[~fwd])
    return t_ab, t_ba


def _reach(budget: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    """Share of a segment covered with ``budget`` seconds left at a speed of ``seconds`` per segment.

    ``-1`` where the budget is negative (nothing reached, not even the start).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(seconds > 0, budget / seconds, np.inf)
    share = np.where(np.isfinite(seconds), share, 0.0)  # direction not allowed: start only
    return np.where(budget >= 0, np.minimum(share, 1.0), -1.0)


def reached_intervals(
    network: Network,
    node_times_s: np.ndarray,
    limit_s: float,
    *,
    sources: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Reached intervals of every segment within one limit.

    Parameters
    ----------
    network
        The network the node times were computed on.
    node_times_s
        Seconds from each node to the nearest facility (``inf``: not reached),
        shape ``(network.n_nodes,)``.
    limit_s
        Time limit in seconds.
    sources
        Optional points on segments from which time starts: columns ``segment``,
        ``fraction`` (0–1 from ``seg_a``) and ``time_s`` (seconds already spent,
        e.g. the facility's leg). A facility snap table with ``time_s = leg_s``.

    Returns
    -------
    pandas.DataFrame
        One row per reached interval: ``segment``, ``start``, ``end`` (fractions
        from ``seg_a``, ``start <= end``); overlapping intervals of a segment are
        merged. A zero-length interval is a reached point.
    """
    t_ab, t_ba = _segment_times(network)
    ta = node_times_s[network.seg_a]
    tb = node_times_s[network.seg_b]
    seg = np.arange(network.n_segments)
    from_a = _reach(limit_s - ta, t_ba)  # leave towards a: the walker moves b→a
    from_b = _reach(limit_s - tb, t_ab)
    parts = [
        pd.DataFrame({"segment": seg, "start": 0.0, "end": from_a}).loc[from_a >= 0],
        pd.DataFrame({"segment": seg, "start": 1.0 - from_b, "end": 1.0}).loc[from_b >= 0],
    ]
    if sources is not None and len(sources):
        s_seg = sources["segment"].to_numpy(np.int64)
        f0 = sources["fraction"].to_numpy(float)
        budget = limit_s - sources["time_s"].to_numpy(float)
        back = _reach(budget, t_ab[s_seg])  # points before f0 move a→b towards it
        ahead = _reach(budget, t_ba[s_seg])  # points after f0 move b→a towards it
        ok = budget >= 0
        parts.append(
            pd.DataFrame(
                {
                    "segment": s_seg[ok],
                    "start": np.clip(f0[ok] - back[ok], 0.0, 1.0),
                    "end": np.clip(f0[ok] + ahead[ok], 0.0, 1.0),
                }
            )
        )
    iv = pd.concat(parts, ignore_index=True).sort_values(["segment", "start", "end"])
    if iv.empty:
        return iv.reset_index(drop=True)
    # merge overlapping (or touching) intervals of a segment: sorted by start, a new
    # interval begins where the start lies beyond every end seen so far on the segment
    prev_end = iv.groupby("segment")["end"].cummax().groupby(iv["segment"]).shift()
    fresh = prev_end.isna().to_numpy() | (iv["start"].to_numpy() > prev_end.to_numpy())
    iv = iv.assign(g=np.cumsum(fresh))
    out = iv.groupby("g", sort=True).agg(
        segment=("segment", "first"), start=("start", "min"), end=("end", "max")
    )
    return out.reset_index(drop=True)


def polygons(
    network: Network,
    node_times_s: np.ndarray,
    *,
    limits_min: Sequence[float],
    buffer_m: float = 25.0,
    crs: str | None = None,
    sources: pd.DataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Isochrone polygons made of the street network reached within each limit.

    Parameters
    ----------
    network
        The travel mode's network.
    node_times_s
        Seconds from every network node to the nearest facility, shape
        ``(network.n_nodes,)`` (``inf`` where not reached), e.g.
        ``router.node_times(ids, limit_s=max(limits) * 60)``. The walker's own
        leg from a home to the street is not included (it differs per home).
    limits_min
        Time limits in minutes (> 0); one polygon per limit.
    buffer_m
        Metres drawn on each side of the reached streets (> 0).
    crs
        Metric CRS in which the buffer is drawn; default the network's (its ``x``
        and ``y`` are in it).
    sources
        Facilities on their segments (``segment``, ``fraction``, ``time_s``), see
        :func:`reached_intervals`; without them the segment a facility stands on
        is reached only from its ends.

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326, index ``minutes`` (the limits, sorted); columns ``reached_nodes``,
        ``reached_km`` (street length reached, km, from the straight segment
        geometry), ``area_km2`` (of the polygon, in the metric CRS) and
        ``geometry`` ((Multi)Polygon; empty when nothing is reached).
    """
    times = np.asarray(node_times_s, dtype=float)
    if times.shape != (network.n_nodes,):
        msg = f"node_times_s must have one value per network node ({network.n_nodes}), got shape {times.shape}"
        raise ValidationError(msg)
    if np.isnan(times).any():
        msg = "node_times_s holds NaN; use inf for nodes that are not reached"
        raise ValidationError(msg)
    try:
        limits = sorted({float(t) for t in limits_min})
    except (TypeError, ValueError) as exc:
        msg = f"limits_min must be numbers of minutes, e.g. [5, 10, 15]; got {limits_min!r}"
        raise ValidationError(msg) from exc
    if not limits or any(not np.isfinite(t) or t <= 0 for t in limits):
        msg = f"limits_min must be one or more finite, positive minutes, e.g. [15]; got {limits_min!r}"
        raise ValidationError(msg)
    if not np.isfinite(buffer_m) or buffer_m <= 0:
        msg = f"buffer_m must be a positive number of metres, got {buffer_m!r}"
        raise ValidationError(msg)
    if sources is not None:
        missing = {"segment", "fraction", "time_s"} - set(sources.columns)
        if missing:
            msg = f"sources lack columns {sorted(missing)}; give segment, fraction and time_s (e.g. a snap table with time_s = leg_s)"
            raise ValidationError(msg)
    work_crs = crs or network.crs
    x, y = network.x, network.y
    if work_crs != network.crs:
        pts = gpd.GeoSeries(shapely.points(x, y), crs=network.crs).to_crs(work_crs)
        x, y = pts.x.to_numpy(), pts.y.to_numpy()
    ax, ay = x[network.seg_a], y[network.seg_a]
    bx, by = x[network.seg_b], y[network.seg_b]

    rows = []
    geoms = []
    for limit in limits:
        limit_s = limit * 60.0
        iv = reached_intervals(network, times, limit_s, sources=sources)
        s = iv["segment"].to_numpy(np.int64)
        f1, f2 = iv["start"].to_numpy(float), iv["end"].to_numpy(float)
        p1 = np.column_stack([ax[s] + f1 * (bx[s] - ax[s]), ay[s] + f1 * (by[s] - ay[s])])
        p2 = np.column_stack([ax[s] + f2 * (bx[s] - ax[s]), ay[s] + f2 * (by[s] - ay[s])])
        is_line = f2 > f1
        lines = shapely.linestrings(np.stack([p1[is_line], p2[is_line]], axis=1))
        reached = np.flatnonzero(times <= limit_s)
        # a reached node lies on a reached line, or is a zero-length interval (a dot)
        dots = shapely.points(p1[~is_line, 0], p1[~is_line, 1])
        # joined street lines and lone points, each buffered, then one union (much
        # faster than buffering one huge multi-geometry)
        merged = shapely.line_merge(shapely.multilinestrings(lines)) if lines.size else None
        pieces = np.concatenate(
            [
                shapely.get_parts(merged) if merged is not None else np.array([], dtype=object),
                dots,
            ]
        )
        if pieces.size:
            # straight runs of many short segments simplified to 1 m before the buffer,
            # round ends of 3 segments per quarter: a fraction of the vertices to union
            pieces = shapely.simplify(pieces, SIMPLIFY_M)
            area = shapely.union_all(shapely.buffer(pieces, buffer_m, quad_segs=QUAD_SEGS))
        else:
            area = shapely.Polygon()
        geoms.append(area)
        rows.append(
            {
                "minutes": limit,
                "reached_nodes": int(reached.size),
                "reached_km": float(shapely.length(lines).sum() / 1000.0) if lines.size else 0.0,
                "area_km2": float(area.area / 1e6),
            }
        )
        log.debug(
            "isochrone %g min: %d nodes, %.1f km of street",
            limit,
            reached.size,
            rows[-1]["reached_km"],
        )
    out = gpd.GeoDataFrame(rows, geometry=geoms, crs=work_crs).set_index("minutes")
    return out.to_crs(4326)
