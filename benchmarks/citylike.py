"""A generated central city for the reading-circle benchmark (``bench_city.py``).

A square street grid (``side_km`` wide, a street every ``spacing_m``, a node every
``node_spacing_m`` along each street), primary avenues every ``avenue_every`` streets,
named residential streets between; ``buildings_per_block`` apartment buildings
(``building=apartments`` with ``building:levels``) in each block; ``reading_places``
libraries scattered over the city; a ``place=city`` node at the centre with the
city's population, ``place=suburb`` districts, and optionally a few villages at the
edge. Written as a sorted ``.osm.pbf`` with pyosmium. Deterministic for a seed.

The defaults make the city of issue 16: 12 × 12 km, a street every 150 m, about
160,000 road nodes, 38,400 apartment buildings and 60 libraries.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import osmium

#: Centre of the generated city (near Xuchang's central city), degrees.
CENTRE_LON, CENTRE_LAT = 113.852, 34.036
_M_PER_DEG_LAT = 110_950.0


@dataclass(frozen=True)
class City:
    """Parameters of a generated city."""

    side_km: float = 12.0
    spacing_m: float = 150.0
    node_spacing_m: float = 12.5
    buildings_per_block: int = 6
    reading_places: int = 60
    avenue_every: int = 7
    districts: int = 9
    villages: int = 0
    seed: int = 7

    @property
    def streets(self) -> int:
        return round(self.side_km * 1000 / self.spacing_m) + 1

    def lonlat(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Metres from the south-west corner → degrees."""
        half = self.side_km * 500.0
        lat = CENTRE_LAT + (np.asarray(y, float) - half) / _M_PER_DEG_LAT
        lon = CENTRE_LON + (np.asarray(x, float) - half) / (
            _M_PER_DEG_LAT * math.cos(math.radians(CENTRE_LAT))
        )
        return lon, lat

    def bbox(self, margin_m: float = 0.0) -> list[float]:
        """``[west, south, east, north]`` of the city, widened by ``margin_m``."""
        side = self.side_km * 1000.0
        lon, lat = self.lonlat(
            np.array([-margin_m, side + margin_m]), np.array([-margin_m, side + margin_m])
        )
        return [
            round(float(lon[0]), 6),
            round(float(lat[0]), 6),
            round(float(lon[1]), 6),
            round(float(lat[1]), 6),
        ]


_STEMS = "人民 建设 文化 解放 和平 胜利 新华 中原 光明 幸福 团结 友谊 振兴 繁荣 育才 春晖 兴业 学院 健康 长青".split()


def _esc(text: str) -> str:
    return "".join(c if c.isalnum() or c in "_-.:()（）·" else f"%{ord(c):x}%" for c in text)


def _tags(tags: dict[str, str]) -> str:
    return ",".join(f"{_esc(k)}={_esc(v)}" for k, v in tags.items())


def write(city: City, path: Path) -> dict[str, Any]:
    """Write ``city`` to ``path`` (``.osm.pbf``); return counts."""
    rng = np.random.default_rng(city.seed)
    n = city.streets
    side = city.side_km * 1000.0
    per_street = round(side / city.node_spacing_m) + 1
    along = np.linspace(0.0, side, per_street)
    lines: list[str] = []
    nid = 1
    counts = {"road_nodes": 0, "streets": 0, "buildings": 0, "libraries": 0}
    # intersections are shared: node id of (i, j) = 1 + i * n + j
    cross_id = lambda i, j: 1 + i * n + j  # noqa: E731
    nid = 1 + n * n
    step = (per_street - 1) // (n - 1) if (per_street - 1) % (n - 1) == 0 else None
    if step is None:
        msg = "node_spacing_m must divide spacing_m"
        raise ValueError(msg)
    nodes: list[tuple[int, float, float]] = []
    for i in range(n):
        for j in range(n):
            nodes.append((cross_id(i, j), j * city.spacing_m, i * city.spacing_m))
    ways: list[tuple[list[int], dict[str, str]]] = []
    for horizontal in (True, False):
        for k in range(n):
            refs = []
            for s in range(per_street):
                if s % step == 0:
                    c = s // step
                    refs.append(cross_id(k, c) if horizontal else cross_id(c, k))
                else:
                    x, y = (
                        (along[s], k * city.spacing_m)
                        if horizontal
                        else (k * city.spacing_m, along[s])
                    )
                    nodes.append((nid, x, y))
                    refs.append(nid)
                    nid += 1
            avenue = k % city.avenue_every == 0
            stem = _STEMS[(k + (0 if horizontal else 7)) % len(_STEMS)]
            name = (
                f"{stem}{'大道' if avenue else ('街' if horizontal else '路')}{'' if avenue else k}"
            )
            tags = {"highway": "primary" if avenue else "residential", "name": name}
            ways.append((refs, tags))
    counts["road_nodes"] = len(nodes)
    counts["streets"] = len(ways)
    # buildings: a row of blocks of apartments, footprints 18 × 36 m
    bnodes: list[tuple[int, float, float]] = []
    bways: list[tuple[list[int], dict[str, str]]] = []
    per = city.buildings_per_block
    cols = max(1, math.ceil(math.sqrt(per)))
    rows_ = math.ceil(per / cols)
    for i in range(n - 1):
        for j in range(n - 1):
            x0, y0 = j * city.spacing_m, i * city.spacing_m
            cell_w = (city.spacing_m - 30.0) / cols
            cell_h = (city.spacing_m - 30.0) / rows_
            for b in range(per):
                cx = x0 + 15.0 + cell_w * (b % cols + 0.5) + rng.uniform(-3, 3)
                cy = y0 + 15.0 + cell_h * (b // cols + 0.5) + rng.uniform(-3, 3)
                hw, hh = min(9.0, cell_w / 2.5), min(18.0, cell_h / 2.5)
                ids = []
                for dx, dy in ((-hw, -hh), (hw, -hh), (hw, hh), (-hw, hh)):
                    bnodes.append((nid, cx + dx, cy + dy))
                    ids.append(nid)
                    nid += 1
                levels = int(rng.integers(6, 19))
                bways.append(
                    ([*ids, ids[0]], {"building": "apartments", "building:levels": str(levels)})
                )
    counts["buildings"] = len(bways)
    # points: libraries, districts, the city, villages
    pois: list[tuple[int, float, float, dict[str, str]]] = []
    for k in range(city.reading_places):
        x, y = rng.uniform(0.05 * side, 0.95 * side, 2)
        pois.append((nid, x, y, {"amenity": "library", "name": f"第{k + 1}阅览室"}))
        nid += 1
    counts["libraries"] = city.reading_places
    g = max(1, round(math.sqrt(city.districts)))
    for a in range(g):
        for b in range(g):
            x, y = (a + 0.5) * side / g, (b + 0.5) * side / g
            pois.append(
                (nid, x, y, {"place": "suburb", "name": f"{_STEMS[(a * g + b) % len(_STEMS)]}区"})
            )
            nid += 1
    pois.append(
        (
            nid,
            side / 2 + 20,
            side / 2 + 20,
            {"place": "city", "name": "许昌市（生成）", "population": "1000000", "capital": "6"},
        )
    )
    nid += 1
    for k in range(city.villages):
        angle = 2 * math.pi * k / max(city.villages, 1)
        x = side / 2 + 0.45 * side * math.cos(angle)
        y = side / 2 + 0.45 * side * math.sin(angle)
        pois.append((nid, x, y, {"place": "village", "name": f"边村{k + 1}", "population": "800"}))
        nid += 1
    # write: nodes (sorted by id), then ways
    all_nodes = sorted(nodes + bnodes, key=lambda t: t[0])
    ids = np.array([t[0] for t in all_nodes])
    lon, lat = city.lonlat(np.array([t[1] for t in all_nodes]), np.array([t[2] for t in all_nodes]))
    for i, x, y in zip(ids, lon, lat):
        lines.append(f"n{i} v1 x{x:.7f} y{y:.7f}")
    plon, plat = city.lonlat(np.array([p[1] for p in pois]), np.array([p[2] for p in pois]))
    for (i, _, _, tags), x, y in zip(pois, plon, plat):
        lines.append(f"n{i} v1 T{_tags(tags)} x{x:.7f} y{y:.7f}")
    wid = 1
    for refs, tags in ways + bways:
        lines.append(f"w{wid} v1 T{_tags(tags)} N{','.join(f'n{r}' for r in refs)}")
        wid += 1
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.pbf")
    tmp.unlink(missing_ok=True)
    with osmium.SimpleWriter(str(tmp)) as writer:
        chunk = 200_000
        for s in range(0, len(lines), chunk):
            text = "\n".join(lines[s : s + chunk]) + "\n"
            osmium.apply(osmium.io.FileBuffer(text.encode("utf-8"), "opl"), writer)
    tmp.replace(path)
    counts["parameters"] = asdict(city)
    return counts
