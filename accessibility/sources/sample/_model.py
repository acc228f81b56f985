"""The parts of the county as the builder holds them: a way (:class:`_Way`), a
settlement (:class:`_Settlement`), and the store of road segments already laid out
that later roads attach to (:class:`_SegmentStore`). All in local metres."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry import LineString, Polygon

from ._constants import XY
from ._geometry import _point_segment, _xy


@dataclass
class _Way:
    """A way in local metres: node positions, tags, and how it joins the network."""

    coords: list[XY]
    tags: dict[str, str]
    noded: bool = True  # junctions with crossing ways are added where they cross


@dataclass
class _Settlement:
    kind: str  # county_seat | township | village
    name: str
    xy: XY
    population: int
    side: int
    name_en: str = ""
    place: str = "village"
    base: str = ""
    grid: list[list[XY]] | None = None
    perimeter: list[XY] = field(default_factory=list)
    # the crossing of the main streets (where the place node is written), the ends of
    # the main streets (where roads from outside come in, with the outward direction)
    # and the main street ways themselves
    centre: XY | None = None
    gates: list[tuple[XY, XY]] = field(default_factory=list)
    main_streets: list[_Way] = field(default_factory=list)
    lane_vertices: list[XY] = field(default_factory=list)
    lanes: list[_Way] = field(default_factory=list)
    isolated: bool = False
    connected: bool = False


class _SegmentStore:
    """Road segments already laid out, for "nearest point on the network" queries.

    Rows: ``ax, ay, bx, by, owner, attachable, bank`` (metres); ``owner`` is a
    village index, -1 for the main network and -2 for farm tracks and paths;
    ``bank`` is the side of the river the segment's midpoint lies on (0 or 1, -1
    for slivers cut off by river bends).
    """

    def __init__(self, river: LineString, banks: tuple[Polygon, Polygon]) -> None:
        self._river = river
        self._banks = banks
        self._parts: list[np.ndarray] = []
        self._cache: np.ndarray | None = None

    def add(self, coords: Sequence[XY], *, owner: int, attachable: bool = True) -> None:
        a = np.asarray(coords, dtype=float)
        if len(a) < 2:
            return
        rows = np.empty((len(a) - 1, 7))
        rows[:, 0:2] = a[:-1]
        rows[:, 2:4] = a[1:]
        rows[:, 4] = owner
        if attachable:
            d = shapely.distance(shapely.points(a), self._river)
            rows[:, 5] = (d[:-1] > 250.0) & (d[1:] > 250.0)
        else:
            rows[:, 5] = 0.0
        mx, my = (a[:-1, 0] + a[1:, 0]) / 2, (a[:-1, 1] + a[1:, 1]) / 2
        rows[:, 6] = np.where(
            shapely.contains_xy(self._banks[0], mx, my),
            0,
            np.where(shapely.contains_xy(self._banks[1], mx, my), 1, -1),
        )
        self._parts.append(rows)
        self._cache = None

    @property
    def rows(self) -> np.ndarray:
        if self._cache is None:
            self._cache = np.concatenate(self._parts) if self._parts else np.empty((0, 7))
        return self._cache

    def candidates(
        self,
        p: XY,
        *,
        k: int,
        exclude: Sequence[int] = (),
        max_dist: float = math.inf,
        bank: int | None = None,
    ) -> list[tuple[float, XY, int, XY]]:
        """The ``k`` nearest attachable segments: ``(distance m, attach point, owner,
        unit direction of the segment)``, optionally only those on one ``bank``.

        The attach point is the nearest point on the segment, moved onto a segment
        end when within 3 m of it (so junctions reuse existing vertices)."""
        rows = self.rows
        if len(rows) == 0:
            return []
        d, t = _point_segment(p[0], p[1], rows)
        bad = rows[:, 5] == 0
        if exclude:
            bad |= np.isin(rows[:, 4], np.asarray(exclude, dtype=float))
        if bank is not None:
            bad |= rows[:, 6] != bank
        d = np.where(bad | (d > max_dist), np.inf, d)
        kk = min(k, len(d))
        idx = np.argpartition(d, kk - 1)[:kk]
        idx = idx[np.lexsort((idx, d[idx]))]
        out: list[tuple[float, XY, int, XY]] = []
        for i in idx:
            if not np.isfinite(d[i]):
                break
            ax, ay, bx, by, owner = rows[i, :5]
            seglen = math.hypot(bx - ax, by - ay)
            if t[i] * seglen < 3.0:
                q = _xy(ax, ay)
            elif (1.0 - t[i]) * seglen < 3.0:
                q = _xy(bx, by)
            else:
                q = _xy(ax + t[i] * (bx - ax), ay + t[i] * (by - ay))
            out.append((float(d[i]), q, int(owner), _xy((bx - ax) / seglen, (by - ay) / seglen)))
        return out

    def distance(self, points: np.ndarray) -> np.ndarray:
        """Distance (metres) from each point to the nearest stored segment."""
        rows = self.rows
        if len(rows) == 0:
            return np.full(len(points), np.inf)
        tree = shapely.STRtree(shapely.linestrings(rows[:, 0:4].reshape(-1, 2, 2)))
        _, dist = tree.query_nearest(
            shapely.points(points), return_distance=True, all_matches=False
        )
        return np.asarray(dist)
