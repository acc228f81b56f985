"""The land, first stage of the builder: the county outline, the county seat's place
and street grid, the river that splits the county into two banks, and where township
seats, villages and natural villages lie. In: the random generator; out: ``boundary``,
``cs``, ``river_line``, ``side_polys``, ``townships``, ``villages``, ``hamlets``."""

from __future__ import annotations

import math

import numpy as np
import shapely
import shapely.ops
from shapely.geometry import LineString, MultiPoint, Point, Polygon

from ._constants import (
    _HAMLET_SUFFIXES,
    _SURNAMES,
    _TOWNSHIPS,
    _VILLAGE_PREFIXES,
    _VILLAGE_SUFFIXES,
    XY,
)
from ._geometry import _dist, _xy
from ._layout import _make_grid, _perimeter
from ._model import _Settlement


class _LandMixin:
    """Boundary, river and settlements (a part of :class:`~._builder._Builder`)."""

    # ---------------------------------------------------------------- boundary and river

    def _make_boundary(self) -> None:
        """An irregular star-shaped county outline of 960–1,140 km² around the origin."""
        rng = self.rng
        n = 144
        theta = 2 * np.pi * (np.arange(n) + rng.uniform(-0.3, 0.3, n)) / n
        r = np.ones(n)
        amps = rng.uniform(0.02, 0.11, 6) / np.sqrt(np.arange(1, 7))
        phases = rng.uniform(0, 2 * np.pi, 6)
        for k in range(6):
            r += amps[k] * np.cos((k + 1) * theta + phases[k])
        r += rng.normal(0.0, 0.012, n)
        r = np.maximum(r, 0.55)
        x, y = r * np.cos(theta), r * np.sin(theta)
        unit_area = 0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))
        target = rng.uniform(960e6, 1140e6)
        scale = math.sqrt(target / unit_area)
        self.centre = _xy(rng.uniform(-1500, 1500), rng.uniform(-1500, 1500))
        ring = [
            _xy(self.centre[0] + scale * xi, self.centre[1] + scale * yi) for xi, yi in zip(x, y)
        ]
        self.boundary_ring = ring
        self.boundary = Polygon(ring)
        shapely.prepare(self.boundary)

    def _make_county_seat(self) -> None:
        """Position and street grid (100–250 m blocks, slightly rotated and warped) of the county seat."""
        rng = self.rng
        cx = self.centre[0] + rng.uniform(-2000, 2000)
        cy = self.centre[1] + rng.uniform(-2000, 2000)
        nx, ny = int(rng.integers(18, 24)), int(rng.integers(15, 20))
        gaps_x = rng.uniform(105, 245, nx - 1)
        gaps_y = rng.uniform(105, 245, ny - 1)
        angle = rng.uniform(-0.14, 0.14)
        self.cs_angle = angle
        grid = _make_grid(rng, (cx, cy), gaps_x, gaps_y, angle=angle, jitter=5.0, warp=35.0)
        pop = int(round(rng.integers(120_000, 200_001), -2))
        self.cs = _Settlement(
            kind="county_seat",
            name="城关镇",
            xy=_xy(cx, cy),
            population=pop,
            side=0,
            name_en="Chengguan Town",
            place="town",
            base="城关镇",
            grid=grid,
        )
        self.cs.perimeter = _perimeter(grid)
        self.cs_hull = MultiPoint([p for row in grid for p in row]).convex_hull
        shapely.prepare(self.cs_hull)

    def _make_river(self) -> None:
        """A meandering river 4.8–8 km from the county seat that cuts the county into two banks
        (20–42 % of the area on the far bank)."""
        rng = self.rng
        cs = self.cs.xy
        for _ in range(60):
            alpha = rng.uniform(-0.6, 0.45)
            u = (math.cos(alpha), math.sin(alpha))
            nrm = (-u[1], u[0])
            sgn = 1.0 if rng.uniform() < 0.5 else -1.0
            d = rng.uniform(4800, 8000)
            s = np.arange(-45_000.0, 45_000.1, 120.0)
            off = rng.normal(0.0, 12.0, len(s))
            for k in range(3):
                amp = rng.uniform(250, 850) / (k + 1)
                lam = rng.uniform(3500, 14_000)
                off += amp * np.sin(2 * np.pi * s / lam + rng.uniform(0, 2 * np.pi))
            bx, by = cs[0] + sgn * d * nrm[0], cs[1] + sgn * d * nrm[1]
            xs = bx + s * u[0] + off * nrm[0]
            ys = by + s * u[1] + off * nrm[1]
            coords = [_xy(x, y) for x, y in zip(xs, ys)]
            line = LineString(coords)
            if line.distance(self.cs_hull) < 1500:
                continue
            pieces = sorted(
                (g for g in shapely.ops.split(self.boundary, line).geoms if g.area > 0),
                key=lambda g: -g.area,
            )
            home = [g for g in pieces if g.contains(Point(cs))]
            if not home:
                continue
            other = [g for g in pieces if g is not home[0]]
            if not other:
                continue
            frac = other[0].area / self.boundary.area
            if not 0.2 <= frac <= 0.42 or home[0].area / self.boundary.area < 0.5:
                continue
            break
        else:  # pragma: no cover - the loop always finds a river for sane parameters
            msg = f"could not lay out a river for seed {self.seed}"
            raise RuntimeError(msg)
        self.river_line = line
        shapely.prepare(self.river_line)
        self.side_polys = (home[0], other[0])
        for g in self.side_polys:
            shapely.prepare(g)
        inside = shapely.contains_xy(self.boundary.buffer(1500.0), xs, ys)
        first = max(int(np.argmax(inside)) - 1, 0)
        last = min(len(xs) - 1 - int(np.argmax(inside[::-1])) + 1, len(xs) - 1)
        self.river_coords = coords[first : last + 1]

    # ---------------------------------------------------------------- settlements

    def _place_townships(self) -> None:
        """10–14 township seats, at least 6 km apart, on both banks in proportion to their area."""
        rng = self.rng
        n = int(rng.integers(10, 15))
        frac_b = self.side_polys[1].area / self.boundary.area
        n_b = int(min(max(round(n * frac_b), 2), n - 4))
        zones = [g.buffer(-1800.0) for g in self.side_polys]
        for z in zones:
            shapely.prepare(z)
        minx, miny, maxx, maxy = self.boundary.bounds
        points: list[XY] = []
        sides: list[int] = []
        for side, quota in ((1, n_b), (0, n - n_b)):
            dmin, fails, placed = 6000.0, 0, 0
            while placed < quota:
                p = _xy(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
                ok = zones[side].contains(Point(p)) and _dist(p, self.cs.xy) >= 6500.0
                ok = ok and all(_dist(p, q) >= dmin for q in points)
                if ok:
                    points.append(p)
                    sides.append(side)
                    placed += 1
                    continue
                fails += 1
                if fails % 1500 == 0:
                    dmin *= 0.9
        pops = np.exp(rng.uniform(math.log(8500), math.log(38_000), n))
        names = rng.permutation(len(_TOWNSHIPS))[:n]
        order_by_pop = np.argsort(pops, kind="stable")
        n_xiang = int(rng.integers(1, 4))
        xiang = {int(i) for i in order_by_pop[:n_xiang]}
        for i in range(n):
            base, pinyin = _TOWNSHIPS[int(names[i])]
            is_xiang = i in xiang
            self.townships.append(
                _Settlement(
                    kind="township",
                    name=base + ("乡" if is_xiang else "镇"),
                    xy=points[i],
                    population=int(round(pops[i], -1)),
                    side=sides[i],
                    name_en=pinyin + (" Township" if is_xiang else " Town"),
                    place="village" if is_xiang else "town",
                    base=base,
                )
            )

    def _place_villages(self) -> None:
        """320–430 administrative villages about 1 km apart with log-normal populations (500–5,000)."""
        rng = self.rng
        n = int(rng.integers(320, 431))
        zone = shapely.union_all([g.buffer(-550.0) for g in self.side_polys])
        shapely.prepare(zone)
        cs_zone = self.cs_hull.buffer(900.0)
        shapely.prepare(cs_zone)
        towns = np.asarray([t.xy for t in self.townships])
        minx, miny, maxx, maxy = self.boundary.bounds
        accepted = np.empty((0, 2))
        spacing = 1000.0
        rounds = 0
        while len(accepted) < n:
            rounds += 1
            if rounds % 40 == 0:
                spacing *= 0.95
            cand = np.column_stack([rng.uniform(minx, maxx, 512), rng.uniform(miny, maxy, 512)])
            ok = shapely.contains_xy(zone, cand[:, 0], cand[:, 1])
            ok &= ~shapely.contains_xy(cs_zone, cand[:, 0], cand[:, 1])
            dt = np.min(
                np.hypot(
                    cand[:, None, 0] - towns[None, :, 0], cand[:, None, 1] - towns[None, :, 1]
                ),
                axis=1,
            )
            ok &= dt >= 1300.0
            for p in cand[ok]:
                if (
                    len(accepted)
                    and np.min(np.hypot(accepted[:, 0] - p[0], accepted[:, 1] - p[1])) < spacing
                ):
                    continue
                accepted = np.vstack([accepted, p])
                if len(accepted) == n:
                    break
        pops = np.clip(rng.lognormal(math.log(1400.0), 0.55, n), 500, 5000)
        taken = {t.base for t in self.townships}
        combos = [a + b for a in _VILLAGE_PREFIXES for b in _VILLAGE_SUFFIXES]
        names: list[str] = []
        for i in rng.permutation(len(combos)):
            stem = combos[int(i)]
            if stem in taken:
                continue
            taken.add(stem)
            names.append(stem)
            if len(names) == n:
                break
        for i in range(n):
            p = _xy(accepted[i, 0], accepted[i, 1])
            self.villages.append(
                _Settlement(
                    kind="village",
                    name=names[i] + "村",
                    xy=p,
                    population=round(float(pops[i])),
                    side=self._side(p),
                    base=names[i],
                )
            )

    def _place_hamlets(self) -> None:
        """Natural villages (``place=hamlet``) 420–750 m from about a third of the villages."""
        rng = self.rng
        used: set[str] = set()
        zone = self.boundary.buffer(-300.0)
        for v in self.villages:
            if rng.uniform() >= 0.35:
                continue
            ang = rng.uniform(0, 2 * np.pi)
            dist = rng.uniform(420, 750)
            p = _xy(v.xy[0] + dist * math.cos(ang), v.xy[1] + dist * math.sin(ang))
            name = (
                _SURNAMES[int(rng.integers(len(_SURNAMES)))]
                + "家"
                + _HAMLET_SUFFIXES[int(rng.integers(4))]
            )
            if (
                name in used
                or not zone.contains(Point(p))
                or self.river_line.distance(Point(p)) < 250
            ):
                continue
            if self.cs_hull.distance(Point(p)) < 500:
                continue
            used.add(name)
            self.hamlets.append((p, name))
