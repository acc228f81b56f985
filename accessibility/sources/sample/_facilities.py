"""What stands by the roads: bus stops, the facilities of every settlement tier
(schools and their distractors, clinics and hospitals, libraries and cultural
stations, some as campus polygons) and the county seat's residential buildings.
In: the finished road network; out: ``pois``, ``areas`` and ``counts``."""

from __future__ import annotations

import math
from itertools import pairwise

import numpy as np

from ._constants import (
    _DRIVING_SCHOOLS,
    _KINDERGARTENS,
    _ORDINALS,
    _ROAD_CLASSES,
    _TRAINING_SCHOOLS,
    XY,
)
from ._geometry import _dist, _point_segment, _xy
from ._layout import _along, _bilinear, _inset
from ._model import _Settlement, _Way


class _FacilitiesMixin:
    """Bus stops, facilities and buildings (a part of :class:`~._builder._Builder`)."""

    # ---------------------------------------------------------------- bus stops

    def _bus_stops(self) -> None:
        """Bus stops beside roads: townships, most villages, and the county seat's main streets."""
        rng = self.rng
        road_rows: list[list[float]] = []
        fragment_ways = {id(w) for f in self.fragments for w in f}
        for w in self.roads:
            hw = w.tags.get("highway", "")
            if not w.noded or hw not in (
                "trunk",
                "primary",
                "secondary",
                "tertiary",
                "unclassified",
            ):
                continue
            if id(w) in fragment_ways:
                continue
            code = _ROAD_CLASSES.index(hw)
            for p, q in pairwise(w.coords):
                road_rows.append([p[0], p[1], q[0], q[1], code])
        rows = np.asarray(road_rows)
        main = rows[rows[:, 4] <= 3]

        def stop_at(centre: XY, table: np.ndarray, max_dist: float) -> XY | None:
            d, t = _point_segment(centre[0], centre[1], table)
            k = int(np.argmin(d))
            if d[k] > max_dist:
                return None
            ax, ay, bx, by = table[k, :4]
            seglen = math.hypot(bx - ax, by - ay)
            tt = float(np.clip(t[k], 0.1, 0.9))
            qx, qy = ax + tt * (bx - ax), ay + tt * (by - ay)
            off = (
                0.0
                if rng.uniform() < 0.3
                else rng.uniform(2.0, 6.0) * (1 if rng.uniform() < 0.5 else -1)
            )
            return _xy(qx - off * (by - ay) / seglen, qy + off * (bx - ax) / seglen)

        for t in self.townships:
            p = stop_at(t.xy, main, 900.0) or stop_at(t.xy, rows, 2000.0)
            if p is not None:
                self._bus_stop(p, t.base + "站")
        for v in self.villages:
            if not v.connected or rng.uniform() >= 0.8:
                continue
            p = stop_at(v.xy, main, 700.0) or stop_at(v.xy, rows[rows[:, 4] == 4], 500.0)
            if p is not None:
                self._bus_stop(p, v.name + "站" if rng.uniform() < 0.6 else v.base + "站")
        # county seat: along primary and secondary streets, named after the crossing
        grid = self.cs.grid
        assert grid is not None
        ny, nx = len(grid), len(grid[0])
        for j, (name, hw) in sorted(self.cs_col_names.items()):
            if hw not in ("primary", "secondary"):
                continue
            for i in range(1, ny - 1, 3):
                cross = self.cs_row_names[i][0]
                self._bus_stop(_along(grid[i][j], grid[i + 1][j], 25.0, 4.0), f"{name}{cross}口站")
        for i, (name, hw) in sorted(self.cs_row_names.items()):
            if hw not in ("primary", "secondary"):
                continue
            for j in range(2, nx - 1, 3):
                cross = self.cs_col_names[j][0]
                self._bus_stop(_along(grid[i][j], grid[i][j + 1], 25.0, 4.0), f"{name}{cross}口站")

    def _bus_stop(self, p: XY, name: str) -> None:
        tags = {"highway": "bus_stop", "name": name}
        if self.rng.uniform() < 0.5:
            tags["public_transport"] = "platform"
            tags["bus"] = "yes"
        self.pois.append((p, tags))
        self._count("bus_stops")

    # ---------------------------------------------------------------- facilities

    def _poi(self, p: XY, tags: dict[str, str], kind: str) -> None:
        self.pois.append((p, tags))
        self._count(kind)

    def _cs_point(self) -> XY:
        grid = self.cs.grid
        assert grid is not None
        ny, nx = len(grid), len(grid[0])
        reserved = set(self.cs_reserved.values())
        while True:
            i, j = int(self.rng.integers(0, ny - 1)), int(self.rng.integers(0, nx - 1))
            if (i, j) not in reserved:
                return _bilinear(
                    grid, i, j, self.rng.uniform(0.25, 0.75), self.rng.uniform(0.25, 0.75)
                )

    def _town_point(self, t: _Settlement) -> XY:
        grid = t.grid
        assert grid is not None
        ny, nx = len(grid), len(grid[0])
        i, j = int(self.rng.integers(0, ny - 1)), int(self.rng.integers(0, nx - 1))
        return _bilinear(grid, i, j, self.rng.uniform(0.2, 0.8), self.rng.uniform(0.2, 0.8))

    def _village_point(self, v: _Settlement) -> XY:
        rng = self.rng
        if v.lane_vertices:
            base = v.lane_vertices[int(rng.integers(len(v.lane_vertices)))]
            dist = rng.uniform(12, 40)
        else:
            base = v.xy
            dist = rng.uniform(20, 80)
        ang = rng.uniform(0, 2 * np.pi)
        return _xy(base[0] + dist * math.cos(ang), base[1] + dist * math.sin(ang))

    def _campus(self, key: str, tags: dict[str, str], kind: str) -> None:
        grid = self.cs.grid
        assert grid is not None
        i, j = self.cs_reserved[key]
        ring = [_inset(grid, i, j, s, t, 14.0) for s, t in ((0, 0), (1, 0), (1, 1), (0, 1))]
        self.areas.append(_Way([*ring, ring[0]], tags))
        self._count(kind)
        self._count("campus_polygons")

    def _facilities(self) -> None:
        """Schools, distractors, health facilities and reading places, by settlement tier."""
        self._county_seat_facilities()
        self._township_facilities()
        self._village_facilities()

    def _county_seat_facilities(self) -> None:
        rng = self.rng
        school = {"amenity": "school"}
        self._campus(
            "high_school",
            {**school, "name": "示例县第一高级中学", "isced:level": "3"},
            "school_high",
        )
        self._poi(
            self._cs_point(),
            {**school, "name": "示例县第二高级中学", "isced:level": "3"},
            "school_high",
        )
        if rng.uniform() < 0.6:
            self._poi(self._cs_point(), {**school, "name": "示例县实验高中"}, "school_high")
        self._poi(
            self._cs_point(),
            {**school, "name": "示例县育英完全中学", "isced:level": "2;3"},
            "school_complete",
        )
        for k in range(int(rng.integers(2, 4))):
            tags = {**school, "name": f"城关镇第{_ORDINALS[k]}初级中学"}
            if k == 0 or rng.uniform() < 0.6:
                tags["isced:level"] = "2"
            self._poi(self._cs_point(), tags, "school_middle")
        self._poi(self._cs_point(), {**school, "name": "示例县实验中学"}, "school_ambiguous")
        self._poi(
            self._cs_point(),
            {**school, "name": "城关镇九年一贯制学校", "isced:level": "1;2"},
            "school_nine_year",
        )
        for k in range(int(rng.integers(4, 7))):
            tags = {**school, "name": f"城关镇第{_ORDINALS[k]}小学"}
            if rng.uniform() < 0.5:
                tags["isced:level"] = "1"
            self._poi(self._cs_point(), tags, "school_primary")
        self._poi(
            self._cs_point(),
            {**school, "name": "示例县实验小学", "isced:level": "1"},
            "school_primary",
        )
        self._poi(
            self._cs_point(),
            {**school, "name": self.cs_col_names[len(self.cs_col_names) // 2 - 2][0] + "小学"},
            "school_primary",
        )
        # distractors
        self._poi(
            self._cs_point(),
            {"amenity": "kindergarten", "name": "示例县第一幼儿园"},
            "kindergartens",
        )
        for name in _KINDERGARTENS[: int(rng.integers(3, 6))]:
            self._poi(self._cs_point(), {"amenity": "kindergarten", "name": name}, "kindergartens")
        for name in _DRIVING_SCHOOLS[: int(rng.integers(2, 4))]:
            self._poi(
                self._cs_point(), {"amenity": "driving_school", "name": name}, "driving_schools"
            )
        for name in _TRAINING_SCHOOLS[: int(rng.integers(1, 3))]:
            self._poi(self._cs_point(), {**school, "name": name}, "training_schools")
        self._campus("college", {"amenity": "college", "name": "示例县职业技术学院"}, "colleges")
        # health
        self._campus(
            "hospital",
            {
                "amenity": "hospital",
                "healthcare": "hospital",
                "name": "示例县人民医院",
                "emergency": "yes",
            },
            "county_hospitals",
        )
        self._poi(
            self._cs_point(),
            {"amenity": "hospital", "healthcare": "hospital", "name": "示例县中医院"},
            "county_hospitals",
        )
        # reading
        self._poi(self._cs_point(), {"amenity": "library", "name": "示例县图书馆"}, "libraries")
        streets = [n for n, hw in self.cs_col_names.values()] + [
            n for n, hw in self.cs_row_names.values()
        ]
        picks = rng.permutation(len(streets))[: int(rng.integers(3, 9))]
        for k in sorted(int(x) for x in picks):
            self._poi(
                self._cs_point(),
                {"amenity": "library", "name": f"城市书房({streets[k]}店)"},
                "city_study_rooms",
            )

    def _township_facilities(self) -> None:
        rng = self.rng
        school = {"amenity": "school"}
        by_pop = sorted(
            range(len(self.townships)), key=lambda i: (-self.townships[i].population, i)
        )
        no_station = {
            int(i) for i in rng.permutation(len(self.townships))[: int(rng.integers(1, 3))]
        }
        for rank, i in enumerate(by_pop):
            t = self.townships[i]
            name, base = t.name, t.base
            # health centre: tags vary the way mappers vary them
            r = rng.uniform()
            tags = {"name": f"{name}卫生院"}
            if r < 0.7:
                tags.update(amenity="hospital", healthcare="hospital")
            elif r < 0.85:
                tags["amenity"] = "hospital"
            else:
                tags["healthcare"] = "hospital"
            if rank == 0:
                # the largest township's health centre is mapped as its grounds
                grid = t.grid
                assert grid is not None
                ring = [_inset(grid, 0, 0, a, b, 15.0) for a, b in ((0, 0), (1, 0), (1, 1), (0, 1))]
                self.areas.append(
                    _Way(
                        [*ring, ring[0]], {**tags, "amenity": "hospital", "healthcare": "hospital"}
                    )
                )
                self._count("township_health_centres")
                self._count("campus_polygons")
            else:
                self._poi(self._town_point(t), tags, "township_health_centres")
            tags = {**school, "name": f"{name}中心小学"}
            if rng.uniform() < 0.5:
                tags["isced:level"] = "1"
            self._poi(self._town_point(t), tags, "school_primary")
            if rank == 0:
                self._poi(
                    self._town_point(t),
                    {**school, "name": f"{base}高中", "isced:level": "3"},
                    "school_high",
                )
            if t.population >= 22_000:
                tags = {**school, "name": f"{name}第一初级中学"}
                if rng.uniform() < 0.6:
                    tags["isced:level"] = "2"
                self._poi(self._town_point(t), tags, "school_middle")
                if rank <= 1:
                    self._poi(
                        self._town_point(t),
                        {**school, "name": f"{name}第二初级中学"},
                        "school_middle",
                    )
            elif rng.uniform() < 0.5:
                tags = {**school, "name": f"{name}九年一贯制学校"}
                if rng.uniform() < 0.7:
                    tags["isced:level"] = "1;2"
                self._poi(self._town_point(t), tags, "school_nine_year")
            else:
                tags = {**school, "name": f"{name}中心学校"}
                if rng.uniform() < 0.3:
                    tags["isced:level"] = "1;2"
                self._poi(self._town_point(t), tags, "school_nine_year")
            self._poi(
                self._town_point(t),
                {"amenity": "kindergarten", "name": f"{name}中心幼儿园"},
                "kindergartens",
            )
            if i not in no_station:
                self._poi(
                    self._town_point(t),
                    {"amenity": "community_centre", "name": f"{name}综合文化站"},
                    "township_cultural_stations",
                )

    def _village_facilities(self) -> None:
        rng = self.rng
        school = {"amenity": "school"}
        # remote small villages: farthest from any township seat or the county seat
        seats = np.asarray([self.cs.xy] + [t.xy for t in self.townships])
        pts = np.asarray([v.xy for v in self.villages])
        remote = np.min(
            np.hypot(pts[:, None, 0] - seats[None, :, 0], pts[:, None, 1] - seats[None, :, 1]),
            axis=1,
        )
        small = [i for i, v in enumerate(self.villages) if v.population < 1500]
        small.sort(key=lambda i: (-remote[i], i))
        teaching_points = set(small[: int(rng.integers(2, 5))])
        n_lib = 0
        for i, v in enumerate(self.villages):
            base, name = v.base, v.name
            if rng.uniform() < 0.88:
                r = rng.uniform()
                tags = {"name": f"{name}卫生室"}
                if r < 0.45:
                    tags["amenity"] = "clinic"
                elif r < 0.8:
                    tags.update(amenity="clinic", healthcare="clinic")
                else:
                    tags["healthcare"] = "clinic"
                self._poi(self._village_point(v), tags, "village_clinics")
            if i in teaching_points:
                self._poi(
                    self._village_point(v),
                    {**school, "name": f"{name}教学点", "isced:level": "1"},
                    "school_teaching_point",
                )
            elif (v.population >= 2000 and rng.uniform() < 0.85) or rng.uniform() < 0.03:
                tags = {**school, "name": f"{base}小学"}
                if rng.uniform() < 0.4:
                    tags["isced:level"] = "1"
                self._poi(self._village_point(v), tags, "school_primary")
            if rng.uniform() < (0.3 if v.population >= 2000 else 0.05):
                self._poi(
                    self._village_point(v),
                    {"amenity": "kindergarten", "name": f"{base}幼儿园"},
                    "kindergartens",
                )
            if rng.uniform() < 0.25:
                self._poi(
                    self._village_point(v),
                    {"amenity": "community_centre", "name": f"{name}综合性文化服务中心"},
                    "village_cultural_centres",
                )
            if rng.uniform() < 0.02 or (n_lib < 2 and i >= len(self.villages) - 2):
                self._poi(
                    self._village_point(v),
                    {"amenity": "library", "name": f"{name}农家书屋"},
                    "farmhouse_libraries",
                )
                n_lib += 1

    # ---------------------------------------------------------------- buildings

    def _buildings(self) -> None:
        """Residential buildings and apartment blocks in the county seat's blocks."""
        rng = self.rng
        grid = self.cs.grid
        assert grid is not None
        ny, nx = len(grid), len(grid[0])
        reserved = set(self.cs_reserved.values())
        e1 = (math.cos(self.cs_angle), math.sin(self.cs_angle))
        e2 = (-e1[1], e1[0])
        cx, cy = self.cs.xy
        half = max(_dist(self.cs.xy, p) for p in self.cs.perimeter)
        n = 0
        for i in range(ny - 1):
            for j in range(nx - 1):
                if (i, j) in reserved:
                    continue
                w = _dist(grid[i][j], grid[i][j + 1])
                h = _dist(grid[i][j], grid[i + 1][j])
                ns = 1 + int(w > 130) + int(w > 200)
                nt = 1 + int(h > 130) + int(h > 200)
                usable_w, usable_h = w - 2 * 14.0, h - 2 * 14.0
                centre_d = _dist(_bilinear(grid, i, j, 0.5, 0.5), (cx, cy)) / half
                for a in range(ns):
                    for b in range(nt):
                        if rng.uniform() < 0.2 or n >= 2000:
                            continue
                        s = (14.0 + usable_w * (a + 0.5) / ns) / w
                        t = (14.0 + usable_h * (b + 0.5) / nt) / h
                        c = _bilinear(grid, i, j, s, t)
                        sub_w, sub_h = usable_w / ns, usable_h / nt
                        along_x = rng.uniform() < 0.5
                        length = min(60.0, 0.8 * (sub_w if along_x else sub_h)) * rng.uniform(
                            0.7, 1.0
                        )
                        width = min(18.0, 0.55 * (sub_h if along_x else sub_w)) * rng.uniform(
                            0.7, 1.0
                        )
                        if length < 8 or width < 6:
                            continue
                        u, v = (e1, e2) if along_x else (e2, e1)
                        ring = [
                            _xy(
                                c[0] + su * length / 2 * u[0] + sv * width / 2 * v[0],
                                c[1] + su * length / 2 * u[1] + sv * width / 2 * v[1],
                            )
                            for su, sv in ((-1, -1), (1, -1), (1, 1), (-1, 1))
                        ]
                        if rng.uniform() < (0.8 if centre_d < 0.5 else 0.4):
                            levels = int(rng.choice([6, 7, 11, 12, 15, 18, 9, 17]))
                            kind = "apartments"
                        else:
                            levels = int(rng.integers(2, 7))
                            kind = "residential"
                        self.areas.append(
                            _Way(
                                [*ring, ring[0]], {"building": kind, "building:levels": str(levels)}
                            )
                        )
                        n += 1
        self._count("buildings", n)
