"""Geometry in the local metric frame: points as ``(x, y)`` metres east and north of
the origin, their conversion to WGS-84 longitude/latitude, distances to segments, and
polylines (a road wiggled between two points, cut at positions, truncated where it
meets something)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import numpy as np
import shapely
from shapely.geometry import LineString

from ._constants import _WGS84_A, _WGS84_E2, ORIGIN_LAT, ORIGIN_LON, XY


def _xy(x: float, y: float) -> XY:
    return (float(x), float(y))


def _dist(a: XY, b: XY) -> float:
    return math.hypot(b[0] - a[0], b[1] - a[1])


def _to_lonlat(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local metres (east, north of the origin) → WGS-84 longitude, latitude in degrees."""
    x, y = xy[:, 0], xy[:, 1]
    rad = math.pi / 180.0
    phi0 = ORIGIN_LAT * rad

    def meridian_radius(phi: np.ndarray | float) -> np.ndarray | float:
        return _WGS84_A * (1 - _WGS84_E2) / (1 - _WGS84_E2 * np.sin(phi) ** 2) ** 1.5

    mid = phi0 + 0.5 * y / meridian_radius(phi0)
    phi = phi0 + y / meridian_radius(mid)
    normal = _WGS84_A / np.sqrt(1 - _WGS84_E2 * np.sin(phi) ** 2)
    lon = ORIGIN_LON + x / (normal * np.cos(phi)) / rad
    return lon, phi / rad


def _point_segment(px: float, py: float, seg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance (metres) from a point to each segment row ``ax, ay, bx, by`` and the
    clamped parameter of the nearest point along it."""
    ax, ay, bx, by = seg[:, 0], seg[:, 1], seg[:, 2], seg[:, 3]
    dx, dy = bx - ax, by - ay
    l2 = dx * dx + dy * dy
    t = ((px - ax) * dx + (py - ay) * dy) / np.where(l2 > 0, l2, 1.0)
    t = np.clip(t, 0.0, 1.0)
    return np.hypot(ax + t * dx - px, ay + t * dy - py), t


def _wiggle(
    rng: np.random.Generator,
    a: XY,
    b: XY,
    *,
    spacing: float,
    bend: float,
    max_bend: float,
    noise: float,
) -> list[XY]:
    """A road from ``a`` to ``b`` (exact end points) with intermediate vertices about
    ``spacing`` metres apart, a smooth sideways bend (at most ``bend`` × length or
    ``max_bend`` metres) and per-vertex jitter of ``noise`` metres."""
    length = _dist(a, b)
    n = max(1, round(length / spacing))
    amp1 = rng.uniform(-1.0, 1.0) * min(bend * length, max_bend)
    amp2 = rng.uniform(-0.5, 0.5) * min(bend * length, max_bend)
    if n == 1 or length == 0.0:
        return [a, b]
    s = (np.arange(1, n) + rng.uniform(-0.25, 0.25, n - 1)) / n
    jitter = rng.normal(0.0, noise, n - 1)
    jitter += np.where(jitter < 0, -0.3, 0.3) * noise  # never a perfectly straight road
    off = amp1 * np.sin(np.pi * s) + amp2 * np.sin(2 * np.pi * s) + jitter
    if np.max(np.abs(off)) < noise:
        off[(n - 1) // 2] += noise if off[(n - 1) // 2] >= 0 else -noise
    dx, dy = (b[0] - a[0]) / length, (b[1] - a[1]) / length
    xs = a[0] + (b[0] - a[0]) * s - dy * off
    ys = a[1] + (b[1] - a[1]) * s + dx * off
    return [a, *(_xy(x, y) for x, y in zip(xs, ys)), b]


def _cut(coords: Sequence[XY], positions: Sequence[float], *, snap: float = 0.5) -> list[list[XY]]:
    """Split a polyline at arc-length positions (metres); neighbouring pieces share
    the exact cut vertex, and a cut within ``snap`` metres of a vertex uses it."""
    arr = np.asarray(coords, dtype=float)
    seg = np.hypot(np.diff(arr[:, 0]), np.diff(arr[:, 1]))
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    pos = sorted(p for p in positions if snap < p < cum[-1] - snap)
    aug: list[XY] = []
    cuts: list[int] = []
    j = 0
    for k in range(len(coords)):
        aug.append(coords[k])
        if k == len(coords) - 1:
            break
        while j < len(pos) and pos[j] <= cum[k + 1]:
            p = pos[j]
            j += 1
            if p - cum[k] <= snap:
                cuts.append(len(aug) - 1)
            elif cum[k + 1] - p <= snap:
                cuts.append(len(aug))
            else:
                f = (p - cum[k]) / seg[k]
                ax, ay = coords[k]
                bx, by = coords[k + 1]
                aug.append(_xy(ax + f * (bx - ax), ay + f * (by - ay)))
                cuts.append(len(aug) - 1)
    bounds = [0, *sorted(set(cuts)), len(aug) - 1]
    return [aug[s : e + 1] for s, e in pairwise(bounds) if e > s]


def _truncate(coords: list[XY], stop: Any, *, margin: float) -> list[XY]:
    """Keep the part of a polyline before it first meets ``stop``, ``margin`` metres short."""
    line = LineString(coords)
    hit = line.intersection(stop)
    if hit.is_empty:
        return coords
    pts = shapely.points(shapely.get_coordinates(hit))
    first = float(np.min(shapely.line_locate_point(line, pts)))
    end = first - margin
    if end <= 1.0:
        return []
    return _cut(coords, [end])[0]
