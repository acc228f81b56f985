"""The road network of secondary class and above: named streets of the county seat
and of each township seat, trunk roads with their connectors, and the roads tying the
townships to the county seat and to each other, with bridges where they cross the
river. In: the settlements; out: roads in ``roads`` and in the segment store."""

from __future__ import annotations

import math
from itertools import pairwise

import numpy as np
import shapely
from shapely.geometry import LineString, Point

from ._constants import _ORDINALS, _STREET_STEMS, _TOWN_STREETS, XY
from ._geometry import _cut, _dist, _point_segment, _wiggle, _xy
from ._layout import _axis_gates, _make_grid, _nearest, _perimeter, _street_tags


class _RoadsMixin:
    """Settlement streets and main roads (a part of :class:`~._builder._Builder`)."""

    # ---------------------------------------------------------------- streets in settlements

    def _county_seat_streets(self) -> None:
        """Named streets of the county seat grid: ring roads, primary and secondary axes, one-way
        residential streets in both directions, a few streets stopping short of the ring.

        The ends of the axes are the gates where the roads from outside come in, and the
        crossing of the two primary axes (人民路 and 建设路) is the town's centre."""
        rng = self.rng
        grid = self.cs.grid
        assert grid is not None
        ny, nx = len(grid), len(grid[0])
        jc, ic = nx // 2, ny // 2
        j2 = jc + int(rng.choice([-1, 1])) * int(rng.integers(4, 6))
        i2 = ic + int(rng.choice([-1, 1])) * int(rng.integers(3, 5))
        self.cs.centre = grid[ic][jc]
        self.cs.gates = _axis_gates(grid, cols=(jc, j2), rows=(ic, i2))
        stems = [str(s) for s in rng.permutation(np.asarray(_STREET_STEMS, dtype=object))]
        col_names: dict[int, tuple[str, str]] = {
            jc: ("人民路", "primary"),
            j2: ("文化路", "secondary"),
            0: ("西环路", "tertiary"),
            nx - 1: ("东环路", "tertiary"),
        }
        row_names: dict[int, tuple[str, str]] = {
            ic: ("建设路", "primary"),
            i2: ("解放街", "secondary"),
            0: ("南环路", "tertiary"),
            ny - 1: ("北环路", "tertiary"),
        }
        for j in range(nx):
            if j not in col_names:
                col_names[j] = (stems.pop() + "路", "residential")
        for i in range(ny):
            if i not in row_names:
                row_names[i] = (stems.pop() + "街", "residential")
        self.cs_col_names, self.cs_row_names = col_names, row_names
        res_cols = [j for j in range(nx) if col_names[j][1] == "residential"]
        res_rows = [i for i in range(ny) if row_names[i][1] == "residential"]
        oneway_cols = sorted(int(j) for j in rng.choice(res_cols, 4, replace=False))
        oneway_rows = sorted(int(i) for i in rng.choice(res_rows, 3, replace=False))
        present = np.zeros((ny, nx), dtype=bool)
        # columns (north-south streets) first, then rows (east-west streets)
        for along_rows, names, oneway_lines, n_lines, n_cells in (
            (False, col_names, oneway_cols, nx, ny),
            (True, row_names, oneway_rows, ny, nx),
        ):
            for k in range(n_lines):
                name, hw = names[k]
                lo, hi = 0, n_cells - 1
                if hw == "residential" and k not in oneway_lines and rng.uniform() < 0.25:
                    lo, hi = int(rng.integers(0, 3)), n_cells - 1 - int(rng.integers(0, 3))
                cells = [(k, c) if along_rows else (c, k) for c in range(lo, hi + 1)]
                coords = [grid[i][j] for i, j in cells]
                tags = _street_tags(hw, name)
                if k in oneway_lines:
                    tags["oneway"] = "yes"
                    if oneway_lines.index(k) % 2 == 1:
                        coords.reverse()
                for i, j in cells:
                    present[i, j] = True
                self._add_road(coords, tags, owner=-1)
        self.cs_present = present
        # cells reserved for campuses and a park (never on the perimeter ring)
        cells = [(i, j) for i in range(1, ny - 2) for j in range(1, nx - 2)]
        picks = rng.permutation(len(cells))
        reserved: dict[str, tuple[int, int]] = {}
        for key in ("park", "high_school", "hospital", "college"):
            for k in picks:
                i, j = cells[int(k)]
                if any(abs(i - a) + abs(j - b) < 3 for a, b in reserved.values()):
                    continue
                if key == "park" and not (
                    present[i, j]
                    and present[i + 1, j + 1]
                    and present[i, j + 1]
                    and present[i + 1, j]
                ):
                    continue
                reserved[key] = (i, j)
                break
        self.cs_reserved = reserved

    def _township_streets(self) -> None:
        """A small grid of 2–4 streets each way in every township seat.

        The middle column and middle row are its main streets (tertiary here; they take the
        class of the township's road link in :meth:`_township_roads`), their crossing is the
        town's centre and their ends are the gates where roads from outside come in."""
        rng = self.rng
        for t in self.townships:
            nlx = 2 + int(t.population > 14_000) + int(t.population > 26_000)
            nly = max(2, nlx - int(rng.integers(0, 2)))
            gaps_x = rng.uniform(150, 300, nlx - 1)
            gaps_y = rng.uniform(150, 300, nly - 1)
            grid = _make_grid(
                rng, t.xy, gaps_x, gaps_y, angle=rng.uniform(-0.5, 0.5), jitter=4.0, warp=0.0
            )
            t.grid = grid
            t.perimeter = _perimeter(grid)
            names = [str(s) for s in rng.permutation(np.asarray(_TOWN_STREETS, dtype=object))]
            jm, im = nlx // 2, nly // 2
            t.centre = grid[im][jm]
            t.gates = _axis_gates(grid, cols=(jm,), rows=(im,))
            for j in range(nlx):
                hw = "tertiary" if j == jm else "residential"
                way = self._add_road(
                    [grid[i][j] for i in range(nly)], _street_tags(hw, names.pop()), owner=-1
                )
                if j == jm:
                    t.main_streets.append(way)
            for i in range(nly):
                hw = "tertiary" if i == im else "residential"
                way = self._add_road(
                    [grid[i][j] for j in range(nlx)], _street_tags(hw, names.pop()), owner=-1
                )
                if i == im:
                    t.main_streets.append(way)
            t.connected = True

    # ---------------------------------------------------------------- main roads

    def _main_road(self, coords: list[XY], tags: dict[str, str]) -> None:
        """Add a main road, turning the stretches where it crosses the river into bridges."""
        line = LineString(coords)
        hit = line.intersection(self.river_line)
        if hit.is_empty:
            self._add_road(coords, tags, owner=-1)
            return
        pts = shapely.points(shapely.get_coordinates(hit))
        s = np.sort(shapely.line_locate_point(line, pts))
        groups: list[list[float]] = [[float(s[0]), float(s[0])]]
        for v in s[1:]:
            if v - groups[-1][1] < 600.0:
                groups[-1][1] = float(v)
            else:
                groups.append([float(v), float(v)])
        positions: list[float] = []
        for lo, hi in groups:
            positions += [lo - self.rng.uniform(40, 90), hi + self.rng.uniform(40, 90)]
        for piece in _cut(coords, positions):
            if LineString(piece).intersects(self.river_line):
                n = self.counts.get("bridges", 0) + 1
                btags = dict(tags, bridge="yes", layer="1")
                btags["bridge:name"] = (
                    f"清水河{_ORDINALS[(n - 1) % 10]}号桥" if n <= 10 else f"清水河{n}号桥"
                )
                self._add_road(piece, btags, owner=-1, noded=False, attachable=False)
                self._count("bridges")
            else:
                self._add_road(piece, dict(tags), owner=-1)

    def _line_across(self, through: XY, angle: float) -> tuple[XY, XY]:
        """End points on the boundary of the straight chord through ``through`` at ``angle``."""
        d = (math.cos(angle), math.sin(angle))
        far = LineString(
            [
                (through[0] - 80_000 * d[0], through[1] - 80_000 * d[1]),
                (through[0] + 80_000 * d[0], through[1] + 80_000 * d[1]),
            ]
        )
        inter = far.intersection(self.boundary)
        parts = list(getattr(inter, "geoms", [inter]))
        best = min(parts, key=lambda g: g.distance(Point(through)))
        c = list(best.coords)
        return _xy(*c[0]), _xy(*c[-1])

    def _trunks(self) -> None:
        """One or two trunk roads across the county, passing by the county seat, with a connector."""
        rng = self.rng
        cs = self.cs.xy
        river_angle = math.atan2(
            self.river_coords[-1][1] - self.river_coords[0][1],
            self.river_coords[-1][0] - self.river_coords[0][0],
        )
        n_trunks = int(rng.integers(1, 3))
        refs_g = ("G107", "G220", "G230", "G311", "G343")
        hull_pts = np.asarray(self.cs_hull.exterior.coords)
        for k in range(n_trunks):
            if k == 0:
                angle = river_angle + math.pi / 2 + rng.uniform(-0.45, 0.45)
                side = 1.0 if rng.uniform() < 0.5 else -1.0
            else:
                angle = river_angle + rng.uniform(-0.35, 0.35)
                river_side = np.sign(
                    np.dot(
                        np.asarray(self.river_coords[len(self.river_coords) // 2]) - cs,
                        [-math.sin(angle), math.cos(angle)],
                    )
                )
                side = -float(river_side) if river_side != 0 else 1.0
            nrm = np.asarray([-math.sin(angle), math.cos(angle)])
            reach = float(np.max((hull_pts - np.asarray(cs)) @ (side * nrm)))
            offset = side * (reach + rng.uniform(700, 1500))
            through = _xy(cs[0] + offset * nrm[0], cs[1] + offset * nrm[1])
            a, b = self._line_across(through, angle)
            coords = _wiggle(rng, a, b, spacing=220, bend=0.012, max_bend=350, noise=4.0)
            if k == 0 or rng.uniform() < 0.5:
                ref = str(rng.choice(refs_g))
                name = ref[1:] + "国道"
            else:
                ref = f"S{int(rng.integers(210, 250))}"
                name = ref[1:] + "省道"
            tags = {
                "highway": "trunk",
                "ref": ref,
                "name": name,
                "lanes": "4",
                "surface": "asphalt",
            }
            self._main_road(coords, tags)
            # connector from an end of one of the county seat's main streets to the trunk,
            # away from the river: the main street carries on outwards until it meets the trunk
            best = self._trunk_connector(coords)
            conn = _wiggle(rng, best[1], best[2], spacing=200, bend=0.01, max_bend=60, noise=3.0)
            self._main_road(
                conn,
                {
                    "highway": "primary",
                    "name": "迎宾大道" if k == 0 else "工业大道",
                    "surface": "asphalt",
                },
            )

    def _trunk_connector(self, trunk: list[XY]) -> tuple[float, XY, XY]:
        """``(length, gate, point on the trunk)`` of the connector from the county seat to a trunk.

        Preferred: a main street carried on straight out of its gate until it meets the trunk
        at least 300 m from the river without crossing it; else the gate nearest to the trunk
        (still away from the river where possible)."""
        line = LineString(trunk)
        straight: list[tuple[float, XY, XY]] = []
        for gate, out in self.cs.gates:
            ray = LineString([gate, (gate[0] + 9000.0 * out[0], gate[1] + 9000.0 * out[1])])
            hit = ray.intersection(line)
            if hit.is_empty:
                continue
            pts = shapely.get_coordinates(hit)
            d = np.hypot(pts[:, 0] - gate[0], pts[:, 1] - gate[1])
            k = int(np.argmin(d))
            q = _xy(pts[k, 0], pts[k, 1])
            if self.river_line.distance(Point(q)) <= 300.0:
                continue
            if LineString([gate, q]).intersects(self.river_line):
                continue
            straight.append((float(d[k]), gate, q))
        if straight:
            return min(straight)
        rows = np.asarray([[p[0], p[1], q[0], q[1]] for p, q in pairwise(trunk)])
        options: list[tuple[float, XY, XY]] = []
        for gate, _ in self.cs.gates:
            d, t = _point_segment(gate[0], gate[1], rows)
            i = int(np.argmin(d))
            ax, ay, bx, by = rows[i]
            if t[i] < 0.02:
                q = _xy(ax, ay)
            elif t[i] > 0.98:
                q = _xy(bx, by)
            else:
                q = _xy(ax + t[i] * (bx - ax), ay + t[i] * (by - ay))
            options.append((float(d[i]), gate, q))
        options.sort()
        return next(
            (o for o in options if self.river_line.distance(Point(o[2])) > 300.0), options[0]
        )

    def _township_roads(self) -> None:
        """Primary and secondary roads tying every township to the county seat (a tree, crossing
        the river on bridges), then tertiary roads between neighbouring townships.

        Primary and secondary roads run from an end of one of the main streets of the county
        seat or of the township they come from to an end of one of the main streets of the
        township they go to, and each township's main streets take the class of its link."""
        rng = self.rng
        cs = self.cs
        order = sorted(
            range(len(self.townships)), key=lambda i: (_dist(self.townships[i].xy, cs.xy), i)
        )
        max_bridges = 1 + int(rng.integers(0, 2))
        used_bridges = 0
        linked: list[int] = []
        n_primary = 0
        refs = iter(range(1, 200))
        self.town_links: set[tuple[int, int]] = set()
        for i in order:
            t = self.townships[i]
            options: list[tuple[float, int]] = []
            if t.side == cs.side:
                options.append((_dist(t.xy, cs.xy), -1))
            elif used_bridges < max_bridges or not any(
                self.townships[j].side == t.side for j in linked
            ):
                options.append((_dist(t.xy, cs.xy) * (1.0 if used_bridges == 0 else 1.2), -1))
            for j in linked:
                o = self.townships[j]
                if o.side == t.side:
                    options.append((_dist(t.xy, o.xy) + 0.35 * _dist(o.xy, cs.xy), j))
            _, target = min(options)
            target_side = cs.side if target == -1 else self.townships[target].side
            if target == -1:
                start = _nearest([g for g, _ in cs.gates], t.xy)
                end = _nearest([g for g, _ in t.gates], start)
                if t.side != cs.side:
                    used_bridges += 1
                if n_primary < 4:
                    n_primary += 1
                    tags = {
                        "highway": "primary",
                        "name": f"城{t.base[0]}公路",
                        "ref": f"S{int(rng.integers(250, 340))}",
                        "surface": "asphalt",
                    }
                else:
                    tags = {
                        "highway": "secondary",
                        "name": f"城{t.base[0]}路",
                        "ref": f"X{next(refs):03d}",
                        "surface": "asphalt",
                    }
            else:
                o = self.townships[target]
                start = _nearest([g for g, _ in o.gates], t.xy)
                end = _nearest([g for g, _ in t.gates], start)
                tags = {
                    "highway": "secondary",
                    "name": f"{o.base[0]}{t.base[0]}路",
                    "ref": f"X{next(refs):03d}",
                    "surface": "asphalt",
                }
                self.town_links.add((min(i, target), max(i, target)))
            coords = self._road_between(start, end, same_side=(t.side == target_side))
            self._main_road(coords, tags)
            linked.append(i)
            # the road runs through the town as its main street
            for way in t.main_streets:
                way.tags = _street_tags(tags["highway"], way.tags["name"])
        # a few tertiary roads between neighbouring townships on the same bank
        pairs = sorted(
            (_dist(a.xy, b.xy), i, j)
            for i, a in enumerate(self.townships)
            for j, b in enumerate(self.townships)
            if i < j and a.side == b.side and (i, j) not in self.town_links
        )
        extra = 0
        yref = iter(range(1, 200))
        for d, i, j in pairs:
            if d > 14_000 or extra >= len(self.townships) // 2 + 1:
                break
            if extra >= 2 and rng.uniform() > 0.7:
                continue
            a, b = self.townships[i], self.townships[j]
            start = _nearest(a.perimeter, b.xy)
            end = _nearest(b.perimeter, start)
            coords = self._road_between(start, end, same_side=True)
            if LineString(coords).intersects(self.river_line):
                continue
            tags = {
                "highway": "tertiary",
                "name": f"{a.base[0]}{b.base[0]}线",
                "ref": f"Y{next(yref):03d}",
            }
            self._main_road(coords, tags)
            extra += 1

    def _road_between(self, a: XY, b: XY, *, same_side: bool) -> list[XY]:
        coords = _wiggle(self.rng, a, b, spacing=210, bend=0.04, max_bend=600, noise=6.0)
        if same_side:
            for _ in range(6):
                if not LineString(coords).intersects(self.river_line):
                    break
                coords = _wiggle(self.rng, a, b, spacing=210, bend=0.01, max_bend=150, noise=4.0)
        return coords
