"""Minor roads: the villages' lanes and their links to the network (a few villages
left without any), road fragments that touch nothing else, farm tracks, footpaths
between villages, and the county seat's park. In: the main network in the segment
store; out: more roads, ``fragments`` and the park area."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely
from shapely.geometry import LineString, Point

from ._constants import XY
from ._geometry import _dist, _point_segment, _truncate, _wiggle, _xy
from ._layout import _bilinear, _inset, _leaves_clear, _meets_at_angle, _nearest
from ._model import _Settlement, _Way

logger = logging.getLogger(__package__)


class _MinorRoadsMixin:
    """Village roads, defects, tracks, paths, park (a part of :class:`~._builder._Builder`)."""

    # ---------------------------------------------------------------- villages

    def _pick_isolated(self) -> None:
        """Choose 4–7 villages far from the main roads that will get no road at all."""
        rng = self.rng
        pts = np.asarray([v.xy for v in self.villages])
        dist = self.store.distance(pts)
        self.village_main_dist = dist
        want = int(rng.integers(4, 8))
        chosen: list[int] = []
        for threshold in (900.0, 700.0, 550.0):
            for i in rng.permutation(len(self.villages)):
                i = int(i)
                if len(chosen) >= want:
                    break
                if dist[i] < threshold or i in chosen:
                    continue
                if any(_dist(self.villages[i].xy, self.villages[j].xy) < 2500 for j in chosen):
                    continue
                chosen.append(i)
            if len(chosen) >= want:
                break
        for i in sorted(chosen):
            self.villages[i].isolated = True
            self._add_keep_out(Point(self.villages[i].xy).buffer(460.0))

    def _village_lanes(self, v: _Settlement) -> list[_Way]:
        """A village's own lanes: a loop, a crossing, or a lane with a branch, sized by population."""
        rng = self.rng
        r = float(np.clip(90 + 70 * math.log(v.population / 600.0), 80, 200))
        c = v.xy
        style = rng.uniform()
        ways: list[_Way] = []
        if style < 0.4:
            m = int(rng.integers(5, 8))
            phi0 = rng.uniform(0, 2 * np.pi)
            ang = phi0 + 2 * np.pi * (np.arange(m) + rng.uniform(-0.3, 0.3, m)) / m
            rad = r * rng.uniform(0.75, 1.2, m)
            ring = [
                _xy(c[0] + rr * math.cos(a), c[1] + rr * math.sin(a)) for rr, a in zip(rad, ang)
            ]
            ways.append(_Way([*ring, ring[0]], {"highway": "residential"}))
        else:
            phi = rng.uniform(0, np.pi)
            e = (math.cos(phi), math.sin(phi))
            f = (-e[1], e[0])
            j1 = rng.normal(0, 8.0, 2)
            lane = [
                _xy(c[0] - r * e[0], c[1] - r * e[1]),
                _xy(c[0] - 0.5 * r * e[0] + j1[0] * f[0], c[1] - 0.5 * r * e[1] + j1[0] * f[1]),
                c,
                _xy(c[0] + 0.5 * r * e[0] + j1[1] * f[0], c[1] + 0.5 * r * e[1] + j1[1] * f[1]),
                _xy(c[0] + r * e[0], c[1] + r * e[1]),
            ]
            ways.append(_Way(lane, {"highway": "residential"}))
            if style < 0.75:
                r2 = r * rng.uniform(0.6, 1.0)
                cross = [
                    _xy(c[0] - r2 * f[0], c[1] - r2 * f[1]),
                    c,
                    _xy(c[0] + r2 * f[0] + rng.normal(0, 8), c[1] + r2 * f[1] + rng.normal(0, 8)),
                ]
                ways.append(
                    _Way(
                        cross, {"highway": "residential" if rng.uniform() < 0.6 else "unclassified"}
                    )
                )
            else:
                root = lane[1] if rng.uniform() < 0.5 else lane[3]
                length = r * rng.uniform(0.5, 0.9)
                sgn = 1.0 if rng.uniform() < 0.5 else -1.0
                branch = [
                    root,
                    _xy(
                        root[0] + sgn * 0.5 * length * f[0] + rng.normal(0, 5),
                        root[1] + sgn * 0.5 * length * f[1],
                    ),
                    _xy(
                        root[0] + sgn * length * f[0],
                        root[1] + sgn * length * f[1] + rng.normal(0, 5),
                    ),
                ]
                ways.append(_Way(branch, {"highway": "residential"}))
        if rng.uniform() < 0.15:
            ways[0].tags["name"] = v.base + "村中心街"
        verts: list[XY] = []
        for w in ways:
            for p in w.coords:
                if p not in verts:
                    verts.append(p)
        v.lane_vertices = verts
        v.lanes = ways
        return ways

    def _link_ok(self, coords: list[XY], *, max_len: float) -> bool:
        """A new minor road is acceptable: not too long, not across the river, clear of
        villages left without roads and of fragments, not doubling an existing road."""
        line = LineString(coords)
        if line.length > max_len or line.intersects(self.river_line):
            return False
        if self._keep_out_geom().intersects(line):
            return False
        rows = self.store.rows
        if len(rows) == 0:
            return True
        beside = 0
        for f in (0.25, 0.5, 0.75):
            p = line.interpolate(f, normalized=True)
            d, _ = _point_segment(p.x, p.y, rows)
            beside += float(d.min()) < 40.0
        return beside < 2

    def _link(
        self,
        v: _Settlement,
        *,
        k: int,
        exclude: Sequence[int],
        min_dist: float = 0.0,
        max_dist: float = math.inf,
        max_len: float,
    ) -> tuple[list[XY], int] | None:
        """A road from village ``v``'s lanes to the nearest suitable point of the network
        on the same bank: no river crossing, clear of villages left without roads, and
        meeting other roads at an angle (no near-parallel overlaps)."""
        for d, q, owner, direction in self.store.candidates(
            v.xy, k=k, exclude=exclude, max_dist=max_dist, bank=v.side
        ):
            if d < min_dist:
                continue
            start = _nearest(v.lane_vertices, q)
            if _dist(start, q) < 5.0:
                continue
            coords = _wiggle(self.rng, start, q, spacing=230, bend=0.03, max_bend=120, noise=5.0)
            if not _leaves_clear(start, coords[1], v.lanes) or not _meets_at_angle(
                coords[-2], q, direction
            ):
                continue
            if self._side(q) != v.side or not self._link_ok(coords, max_len=max_len):
                continue
            return coords, owner
        return None

    def _village_roads(self) -> None:
        """Lanes for every other village and an unclassified road to the nearest network point
        on the same bank; villages nearest the network first, so later ones can join earlier ones."""
        order_key: dict[int, float] = {}
        for i, v in enumerate(self.villages):
            if not v.isolated:
                near = self.store.candidates(v.xy, k=1, bank=v.side)
                order_key[i] = near[0][0] if near else math.inf
        order = sorted(order_key, key=lambda i: (order_key[i], i))
        self.village_link_owner: dict[int, int] = {}
        failed = 0
        for i in order:
            v = self.villages[i]
            lanes = self._village_lanes(v)
            found = self._link(v, k=80, exclude=[i], max_len=6000.0)
            self.roads.extend(lanes)
            if found is None:
                failed += 1
                logger.debug("village %s has no road link", v.name)
                continue
            link, owner = found
            self.village_link_owner[i] = owner
            self._add_road(link, {"highway": "unclassified", "surface": "concrete"}, owner=i)
            for w in lanes:
                self.store.add(w.coords, owner=i)
            v.connected = True
        self.unlinked_villages = failed

    def _second_links(self) -> None:
        """A second road for about a fifth of the villages, which closes loops in the network."""
        rng = self.rng
        for i, v in enumerate(self.villages):
            if not v.connected or rng.uniform() >= 0.22:
                continue
            first = self.village_link_owner.get(i, -1)
            found = self._link(
                v, k=40, exclude=[i, first, -2], min_dist=300.0, max_dist=2500.0, max_len=2800.0
            )
            if found is not None:
                self._add_road(
                    found[0], {"highway": "unclassified", "surface": "concrete"}, owner=i
                )

    # ---------------------------------------------------------------- defects and minor roads

    def _place_fragments(self) -> None:
        """3–6 small clusters of roads that touch nothing else (a real-data defect)."""
        rng = self.rng
        want = int(rng.integers(3, 7))
        zone = self.boundary.buffer(-900.0)
        shapely.prepare(zone)
        minx, miny, maxx, maxy = self.boundary.bounds
        centres: list[XY] = []
        vill = np.asarray([v.xy for v in self.villages])
        for clearance in (650.0, 560.0, 480.0):
            cand = np.column_stack([rng.uniform(minx, maxx, 3000), rng.uniform(miny, maxy, 3000)])
            ok = shapely.contains_xy(zone, cand[:, 0], cand[:, 1])
            cand = cand[ok]
            road_d = self.store.distance(cand)
            river_d = shapely.distance(shapely.points(cand), self.river_line)
            cs_d = shapely.distance(shapely.points(cand), self.cs_hull)
            for p, rd, wd, cd in zip(cand, road_d, river_d, cs_d):
                if len(centres) >= want:
                    break
                if rd < clearance or wd < 450 or cd < 1500:
                    continue
                if np.min(np.hypot(vill[:, 0] - p[0], vill[:, 1] - p[1])) < 550:
                    continue
                if any(_dist(_xy(*p), c) < 2000 for c in centres):
                    continue
                centres.append(_xy(*p))
            if len(centres) >= want:
                break
        kinds = ("track", "unclassified", "service", "residential")
        for c in centres:
            hw = kinds[int(rng.integers(len(kinds)))]
            phi = rng.uniform(0, np.pi)
            e = (math.cos(phi), math.sin(phi))
            half = rng.uniform(120, 210)
            a = _xy(c[0] - half * e[0], c[1] - half * e[1])
            b = _xy(c[0] + half * e[0], c[1] + half * e[1])
            main = _wiggle(rng, a, b, spacing=90, bend=0.05, max_bend=25, noise=3.0)
            tags = {"highway": hw}
            if hw == "track":
                tags["tracktype"] = "grade3"
            ways = [_Way(main, tags)]
            for _ in range(int(rng.integers(1, 3))):
                root = main[int(rng.integers(1, len(main) - 1))] if len(main) > 2 else main[0]
                sgn = 1.0 if rng.uniform() < 0.5 else -1.0
                length = rng.uniform(70, 170)
                tip = _xy(root[0] - sgn * length * e[1], root[1] + sgn * length * e[0])
                ways.append(
                    _Way([root, tip], {"highway": "track" if hw != "service" else "service"})
                )
            self.fragments.append(ways)
            self.roads.extend(ways)
            for w in ways:
                self._add_keep_out(LineString(w.coords).buffer(220.0))

    def _track_stop(self) -> Any:
        return shapely.union_all(
            [
                self.river_line,
                self.boundary.exterior,
                self.cs_hull.buffer(150.0).exterior,
            ]
        )

    def _tracks(self) -> None:
        """Farm tracks from villages and from roads into the fields, stopping short of the river."""
        rng = self.rng
        stop = self._track_stop()
        shapely.prepare(stop)
        starts: list[tuple[XY, float | None, list[_Way]]] = []
        for v in self.villages:
            if not v.connected:
                continue
            for _ in range(min(int(rng.poisson(0.9)), 3)):
                starts.append(
                    (v.lane_vertices[int(rng.integers(len(v.lane_vertices)))], None, v.lanes)
                )
        feeders = [
            w
            for w in self.roads
            if w.tags.get("highway") in ("unclassified", "tertiary", "secondary")
            and w.noded
            and len(w.coords) >= 3
        ]
        for _ in range(len(self.villages) // 4):
            w = feeders[int(rng.integers(len(feeders)))]
            k = int(rng.integers(1, len(w.coords) - 1))
            p, q = w.coords[k - 1], w.coords[k + 1]
            heading = (
                math.atan2(q[1] - p[1], q[0] - p[0])
                + (1 if rng.uniform() < 0.5 else -1) * math.pi / 2
            )
            starts.append((w.coords[k], heading + rng.uniform(-0.25, 0.25), [w]))
        for start, heading, around in starts:
            if self.cs_hull.distance(Point(start)) < 300:
                continue
            ang = rng.uniform(0, 2 * np.pi) if heading is None else heading
            length = rng.uniform(300, 1000)
            end = _xy(start[0] + length * math.cos(ang), start[1] + length * math.sin(ang))
            coords = _wiggle(rng, start, end, spacing=160, bend=0.015, max_bend=20, noise=2.5)
            coords = _truncate(coords, stop, margin=35.0)
            if (
                len(coords) < 2
                or LineString(coords).length < 120
                or self._keep_out_geom().intersects(LineString(coords))
            ):
                continue
            if not _leaves_clear(start, coords[1], around):
                continue
            near = self.store.candidates(coords[-1], k=4, max_dist=140.0)
            if near and _dist(near[0][1], coords[-1]) > 1.0:
                ext = [*coords[:-1], near[0][1]] if len(coords) > 2 else [coords[0], near[0][1]]
                if (
                    self._link_ok(ext, max_len=2000.0)
                    and _meets_at_angle(ext[-2], ext[-1], near[0][3])
                    and _dist(ext[-2], ext[-1]) > 5.0
                ):
                    coords = ext
            tags = {
                "highway": "track",
                "tracktype": ("grade2", "grade3", "grade4")[int(rng.integers(3))],
                "surface": ("unpaved", "dirt", "ground", "compacted")[int(rng.integers(4))],
            }
            self._add_road(coords, tags, owner=-2)

    def _paths(self) -> None:
        """A few footpaths between neighbouring villages."""
        rng = self.rng
        pts = np.asarray([v.xy for v in self.villages])
        for v in self.villages:
            if not v.connected or rng.uniform() >= 0.07:
                continue
            d = np.hypot(pts[:, 0] - v.xy[0], pts[:, 1] - v.xy[1])
            for j in np.argsort(d, kind="stable")[1:4]:
                o = self.villages[int(j)]
                if not o.connected or not 900 <= d[j] <= 2000 or o.side != v.side:
                    continue
                a = _nearest(v.lane_vertices, o.xy)
                b = _nearest(o.lane_vertices, a)
                coords = _wiggle(rng, a, b, spacing=120, bend=0.06, max_bend=80, noise=6.0)
                if not self._link_ok(coords, max_len=2200.0) or LineString(coords).intersects(
                    self.cs_hull
                ):
                    continue
                if not (
                    _leaves_clear(a, coords[1], v.lanes) and _leaves_clear(b, coords[-2], o.lanes)
                ):
                    continue
                self._add_road(coords, {"highway": "path"}, owner=-2)
                break

    def _park(self) -> None:
        """A park in the county seat with two footways across it."""
        grid = self.cs.grid
        assert grid is not None
        i, j = self.cs_reserved["park"]
        p00, p01, p10, p11 = grid[i][j], grid[i][j + 1], grid[i + 1][j], grid[i + 1][j + 1]
        self._add_road(
            [p00, _bilinear(grid, i, j, 0.5, 0.45), p11], {"highway": "footway"}, owner=-1
        )
        self._add_road(
            [p01, _bilinear(grid, i, j, 0.45, 0.55), p10], {"highway": "footway"}, owner=-1
        )
        ring = [_inset(grid, i, j, s, t, 6.0) for s, t in ((0, 0), (1, 0), (1, 1), (0, 1))]
        self.areas.append(_Way([*ring, ring[0]], {"leisure": "park", "name": "人民公园"}))
