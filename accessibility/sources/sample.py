"""The embedded sample region: a deterministic synthetic county, "示例县 / Sample County".

Design
------
In:  an output folder and an integer seed.
Out: four files (:class:`SampleFiles`):

- ``sample.osm`` — OSM XML 0.6 that any OSM reader (pyosmium, osmnx, QGIS) ingests
  exactly like a real extract: a county boundary relation, a river with a few
  bridges, a road hierarchy from ``trunk`` down to ``track``/``path`` whose ways
  share node ids at every junction, a gridded county seat with one-way streets and
  residential buildings, 10–14 township seats, 300–450 administrative villages
  (``population`` tags, log-normally skewed), natural villages, and facilities
  tagged and named as Chinese OSM mappers tag them (schools of every tier with
  some ``isced:level`` tags, distractors such as kindergartens and driving schools,
  clinics and hospitals, libraries and cultural stations, bus stops);
- ``boundary.geojson`` — the county polygon (WGS-84) as one GeoJSON Feature;
- ``population.tif`` — a gridded population raster like WorldPop's: persons per
  3″ cell (about 77 × 93 m here) in EPSG:4326, float32, nodata outside the county.
  It agrees with the settlements: the county seat's ``population`` tag is spread
  over its blocks in proportion to residential floor area, each township's evenly
  over its streets and 250 m or more around them (at most 15,000 persons per km²
  on average), each village's over a Gaussian around its
  node (a fifth of a village's figure over its natural villages), so the raster's
  total is the sum of the tags. It is
  drawn from its own random stream (seed and a constant), so the OSM file does
  not change with it;
- ``meta.json`` — seed, generator version, counts of everything generated, area
  and bounding box.

Real extracts have defects, and so does this one on purpose: a handful of road
fragments that touch nothing else, and a few villages whose place node lies more
than 300 m from any road.

Roads of secondary class or better form one network, as in a real county: the
trunk roads' connectors and the roads to the townships run into the ends of the
county seat's primary and secondary main streets, each township's two central
streets carry the class of its road link (the county road running through the
town as its main street) and the primary and secondary roads to a township end
at an end of one of them, and every seat's ``place`` node lies on the crossing
of its main streets.

The layout is drawn in a local metric frame (metres east and north of 114.0°E,
34.0°N, on the WGS-84 ellipsoid), which puts the county astride the UTM 49N/50N
zone border, and converted to longitude/latitude (7 decimals, about 1 cm) only
when written. Output depends on the seed alone: one ``numpy.random.Generator``
draws everything in a fixed order, elements are written sorted by id, tags sorted
by key, and no timestamps are written, so the same seed gives byte-identical
files. Everything is labelled synthetic: the ``generator`` attribute, the boundary
relation's ``note``, the GeoJSON properties and ``meta.json``.

Tests: ``tests/test_sample.py``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import numpy as np
import pyproj
import shapely
import shapely.ops
from scipy.spatial import cKDTree
from shapely.geometry import LineString, MultiPoint, Point, Polygon

from .._errors import ValidationError

logger = logging.getLogger(__name__)

#: Bump whenever the generated output changes for an unchanged seed.
GENERATOR_VERSION = "1.2.0"

#: The seed used when none is given.
DEFAULT_SEED = 2023

OSM_FILENAME = "sample.osm"
BOUNDARY_FILENAME = "boundary.geojson"
POPULATION_FILENAME = "population.tif"
META_FILENAME = "meta.json"

#: Cell of the population raster, degrees (3 arc-seconds, WorldPop's "100 m" grid).
POPULATION_CELL_DEG = 1.0 / 1200.0
#: Nodata value of the population raster (cells outside the county), as WorldPop's.
POPULATION_NODATA = -99999.0

COUNTY_NAME = "示例县"
COUNTY_NAME_EN = "Sample County"
SYNTHETIC_NOTE = (
    "synthetic data: a generated county for demonstration and testing, "
    "not a real place; do not use for planning"
)
OSM_GENERATOR = "accessibility sample generator (synthetic)"

#: Origin of the local metric frame (degrees, WGS-84).
ORIGIN_LON = 114.0
ORIGIN_LAT = 34.0

_WGS84_A = 6_378_137.0
_WGS84_E2 = 6.694_379_990_14e-3

XY = tuple[float, float]


@dataclass(frozen=True)
class SampleFiles:
    """Paths of the generated sample county files.

    Attributes
    ----------
    osm
        ``<out_dir>/sample.osm``: OSM XML 0.6, WGS-84 coordinates.
    boundary
        ``<out_dir>/boundary.geojson``: the county polygon as a GeoJSON Feature
        (WGS-84, RFC 7946) with properties ``name``, ``name_zh``, ``name_en``,
        ``synthetic`` (true) and ``seed``.
    meta
        ``<out_dir>/meta.json``: seed, generator version, ``synthetic: true``,
        counts of everything generated, area (km², UTM) and bounding box
        (degrees).
    population
        ``<out_dir>/population.tif``: persons per 3″ cell (GeoTIFF, EPSG:4326).
    """

    osm: Path
    boundary: Path
    meta: Path
    population: Path


# --------------------------------------------------------------------------- names

_SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董程曹袁邓许沈彭吕苏卢蒋蔡贾"
    "丁魏薛叶余潘杜戴夏钟田任姜范方石姚谭邹金陆郝孔白崔康毛秦史顾侯邵孟段雷钱尹常武乔贺龚"
)
_VILLAGE_PREFIXES = _SURNAMES + "东西南北前后大小上新老"
_VILLAGE_SUFFIXES = "庄营寨楼集店岗坡屯桥湾庙园堂寺河沟湖洼铺台岭井林"
_HAMLET_SUFFIXES = "庄湾营洼"

#: Township base names with their pinyin.
_TOWNSHIPS: tuple[tuple[str, str], ...] = (
    ("黄桥", "Huangqiao"),
    ("石固", "Shigu"),
    ("古城", "Gucheng"),
    ("柳林", "Liulin"),
    ("白庙", "Baimiao"),
    ("双河", "Shuanghe"),
    ("长店", "Changdian"),
    ("马集", "Maji"),
    ("杏园", "Xingyuan"),
    ("桃园", "Taoyuan"),
    ("龙湖", "Longhu"),
    ("青岗", "Qinggang"),
    ("大营", "Daying"),
    ("小召", "Xiaozhao"),
    ("官亭", "Guanting"),
    ("五里", "Wuli"),
    ("三岔", "Sancha"),
    ("高楼", "Gaolou"),
    ("东寨", "Dongzhai"),
    ("西韩", "Xihan"),
    ("南席", "Nanxi"),
    ("北坡", "Beipo"),
    ("安乐", "Anle"),
    ("永兴", "Yongxing"),
    ("太平", "Taiping"),
    ("丁营", "Dingying"),
    ("尚集", "Shangji"),
    ("灵井", "Lingjing"),
    ("椹涧", "Zhenjian"),
    ("范湖", "Fanhu"),
)

#: Street name stems for the county seat ("路" north–south, "街" east–west).
_STREET_STEMS = (
    "中山",
    "新华",
    "胜利",
    "和平",
    "健康",
    "育才",
    "光明",
    "幸福",
    "团结",
    "友谊",
    "工业",
    "商业",
    "兴业",
    "滨河",
    "迎宾",
    "振兴",
    "繁荣",
    "发展",
    "民主",
    "青年",
    "学院",
    "府前",
    "东风",
    "朝阳",
    "长安",
    "春晖",
    "建国",
    "黄河",
    "平安",
    "吉祥",
    "永兴",
    "新兴",
    "嵩山",
    "紫荆",
    "牡丹",
    "玉兰",
    "丁香",
    "银杏",
    "梧桐",
    "金穗",
    "丰收",
    "文昌",
    "文峰",
    "建安",
    "七里",
    "八一",
    "五一",
    "花园",
    "公园",
    "体育",
    "交通",
    "农业",
    "科技",
    "创业",
    "同心",
    "安康",
    "富强",
    "和谐",
    "文明",
    "诚信",
    "仁和",
    "德政",
    "清风",
    "明珠",
    "锦绣",
    "翠柳",
    "桂花",
    "荷花",
    "长青",
    "富民",
)
_TOWN_STREETS = (
    "中心街",
    "兴业路",
    "府前街",
    "新华路",
    "商业街",
    "文化路",
    "健康路",
    "工业路",
    "幸福路",
    "人民路",
    "建设路",
    "振兴路",
    "育才路",
    "友谊街",
    "和平街",
)
_ORDINALS = "一二三四五六七八九十"
_KINDERGARTENS = (
    "阳光幼儿园",
    "小天使幼儿园",
    "育英幼儿园",
    "金色童年幼儿园",
    "小博士幼儿园",
    "蓝天幼儿园",
)
_DRIVING_SCHOOLS = ("示例县通达驾校", "安顺驾校", "平安驾校")
_TRAINING_SCHOOLS = ("示例县阳光职业培训学校", "示例县金桥职业培训学校")

_ROAD_CLASSES = (
    "trunk",
    "primary",
    "secondary",
    "tertiary",
    "unclassified",
    "residential",
    "service",
    "track",
    "path",
    "footway",
)


# --------------------------------------------------------------------------- public API


def generate(out_dir: Path | str, *, seed: int = DEFAULT_SEED) -> SampleFiles:
    """Write the sample county files into ``out_dir``.

    Each file is written atomically (a temporary file in the same folder, then
    :func:`os.replace`); ``meta.json`` is written last, so its presence means the
    set is complete.

    Parameters
    ----------
    out_dir
        Folder to write into; created if missing.
    seed
        Seed of the random generator (a non-negative integer). The same seed
        always gives byte-identical files; another seed gives another county.

    Returns
    -------
    SampleFiles
        Paths of the three files.

    Raises
    ------
    ValidationError
        If ``seed`` is not a non-negative integer.
    """
    seed = _check_seed(seed)
    files = _paths(Path(out_dir))
    files.osm.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    county = _Builder(seed)
    county.build()
    osm_bytes, boundary_bytes, meta = _render(county)
    raster_bytes, raster_meta = _population_raster(county)
    _atomic_write(files.osm, osm_bytes)
    _atomic_write(files.boundary, boundary_bytes)
    _atomic_write(files.population, raster_bytes)
    meta["files"]["population"] = POPULATION_FILENAME
    meta["population_raster"] = raster_meta
    meta["osm_sha256"] = hashlib.sha256(osm_bytes).hexdigest()
    _atomic_write(
        files.meta, (json.dumps(meta, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    )
    counts = meta["counts"]
    logger.info(
        "sample county (synthetic, seed %d) written to %s: %d nodes, %d ways, %d villages, "
        "%.1f MB in %.1f s",
        seed,
        files.osm.parent,
        counts["nodes"],
        counts["ways"],
        counts["villages"],
        len(osm_bytes) / 1e6,
        time.perf_counter() - started,
    )
    return files


def ensure(out_dir: Path | str, *, seed: int = DEFAULT_SEED) -> SampleFiles:
    """Return the sample county files in ``out_dir``, generating them only when needed.

    The files are (re)generated when any of them is missing, when ``meta.json``
    cannot be read, or when its ``seed`` or ``generator_version`` differs from the
    requested seed and :data:`GENERATOR_VERSION`. Otherwise nothing is written.

    Parameters
    ----------
    out_dir
        Folder holding (or to hold) the files.
    seed
        Seed of the random generator (a non-negative integer).

    Returns
    -------
    SampleFiles
        Paths of the three files.
    """
    seed = _check_seed(seed)
    files = _paths(Path(out_dir))
    if all(p.is_file() for p in (files.osm, files.boundary, files.population, files.meta)):
        try:
            meta = json.loads(files.meta.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            meta = {}
        if (
            isinstance(meta, dict)
            and meta.get("seed") == seed
            and meta.get("generator_version") == GENERATOR_VERSION
        ):
            logger.debug("sample county in %s is up to date (seed %d)", files.osm.parent, seed)
            return files
        logger.info(
            "sample county in %s is stale (seed or generator version differs)", files.osm.parent
        )
    return generate(out_dir, seed=seed)


def _check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or int(seed) < 0:
        msg = f"seed must be a non-negative integer, got {seed!r}; pass e.g. seed=2023"
        raise ValidationError(msg)
    return int(seed)


def _paths(out_dir: Path) -> SampleFiles:
    return SampleFiles(
        osm=out_dir / OSM_FILENAME,
        boundary=out_dir / BOUNDARY_FILENAME,
        meta=out_dir / META_FILENAME,
        population=out_dir / POPULATION_FILENAME,
    )


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file next to ``path``, then rename it over ``path``.

    The temporary file is created with ordinary permissions (the process umask
    applies), unlike :func:`tempfile.mkstemp`'s owner-only files."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "xb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------- geometry helpers


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


# --------------------------------------------------------------------------- model


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


# --------------------------------------------------------------------------- builder


class _Builder:
    """Lays out the county in local metres; :func:`_render` writes it."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.roads: list[_Way] = []
        self.areas: list[_Way] = []  # closed ways that are not roads (buildings, campuses, park)
        self.pois: list[tuple[XY, dict[str, str]]] = []
        self.counts: dict[str, int] = {}
        self.townships: list[_Settlement] = []
        self.villages: list[_Settlement] = []
        self.hamlets: list[tuple[XY, str]] = []
        self.fragments: list[list[_Way]] = []
        self.keep_out: list[Any] = []
        self._keep_out_union: Any = None

    # ---------------------------------------------------------------- orchestration

    def build(self) -> None:
        self._make_boundary()
        self._make_county_seat()
        self._make_river()
        self._place_townships()
        self._place_villages()
        self._place_hamlets()
        self.store = _SegmentStore(self.river_line, self.side_polys)
        self._county_seat_streets()
        self._township_streets()
        self._trunks()
        self._township_roads()
        self._pick_isolated()
        self._village_roads()
        self._second_links()
        self._place_fragments()
        self._tracks()
        self._paths()
        self._park()
        self._bus_stops()
        self._facilities()
        self._buildings()
        _add_junctions(self.roads)

    def _count(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def _keep_out_geom(self) -> Any:
        if self._keep_out_union is None:
            self._keep_out_union = shapely.union_all(self.keep_out) if self.keep_out else Polygon()
            shapely.prepare(self._keep_out_union)
        return self._keep_out_union

    def _add_keep_out(self, geom: Any) -> None:
        self.keep_out.append(geom)
        self._keep_out_union = None

    def _side(self, p: XY) -> int:
        if self.side_polys[0].contains(Point(p)):
            return 0
        if self.side_polys[1].contains(Point(p)):
            return 1
        return -1

    def _add_road(
        self,
        coords: list[XY],
        tags: dict[str, str],
        *,
        owner: int,
        noded: bool = True,
        attachable: bool = True,
    ) -> _Way:
        """Add a road way and make it findable for later links (see :class:`_SegmentStore`)."""
        way = _Way(coords, tags, noded)
        self.roads.append(way)
        self.store.add(coords, owner=owner, attachable=attachable)
        return way

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


# --------------------------------------------------------------------------- layout helpers


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


# --------------------------------------------------------------------------- writing


class _NodeTable:
    """OSM nodes in id order; road vertices with equal coordinates share one node."""

    def __init__(self) -> None:
        self.xy: list[XY] = []
        self.tags: list[dict[str, str] | None] = []
        self._shared: dict[tuple[str, XY], int] = {}

    def shared(self, space: str, p: XY) -> int:
        key = (space, p)
        nid = self._shared.get(key)
        if nid is None:
            nid = self.new(p)
            self._shared[key] = nid
        return nid

    def new(self, p: XY, tags: dict[str, str] | None = None) -> int:
        self.xy.append(p)
        self.tags.append(tags)
        return len(self.xy)


def _render(c: _Builder) -> tuple[bytes, bytes, dict[str, Any]]:
    nodes = _NodeTable()
    ways: list[tuple[list[int], dict[str, str]]] = []

    # boundary: the ring split into a few ways, as real boundaries are
    ring = c.boundary_ring
    n_parts = 5
    cuts = [round(k * len(ring) / n_parts) for k in range(n_parts)] + [len(ring)]
    boundary_way_ids: list[int] = []
    for s, e in pairwise(cuts):
        pts = [ring[k % len(ring)] for k in range(s, e + 1)]
        ids = [nodes.shared("boundary", p) for p in pts]
        ways.append((ids, {"boundary": "administrative", "admin_level": "6"}))
        boundary_way_ids.append(len(ways))
    # river
    ways.append(
        (
            [nodes.shared("river", p) for p in c.river_coords],
            {"waterway": "river", "name": "清水河", "name:en": "Qingshui River"},
        )
    )
    # roads
    road_counts: dict[str, int] = {}
    oneway = 0
    for w in c.roads:
        ids = [nodes.shared("road", p) for p in w.coords]
        ways.append((ids, w.tags))
        hw = w.tags["highway"]
        road_counts[hw] = road_counts.get(hw, 0) + 1
        oneway += w.tags.get("oneway") == "yes"
    # closed non-road ways
    for k, w in enumerate(c.areas):
        ids = [nodes.shared(f"area{k}", p) for p in w.coords]
        ways.append((ids, w.tags))
    # places
    cs = c.cs
    cs_node = nodes.new(
        cs.centre or cs.xy,
        {
            "place": "town",
            "capital": "6",
            "name": cs.name,
            "name:en": cs.name_en,
            "population": str(cs.population),
            "note": "county seat of 示例县 (synthetic)",
        },
    )
    for t in c.townships:
        nodes.new(
            t.centre or t.xy,
            {
                "place": t.place,
                "capital": "8",
                "name": t.name,
                "name:en": t.name_en,
                "population": str(t.population),
            },
        )
    for v in c.villages:
        nodes.new(v.xy, {"place": "village", "name": v.name, "population": str(v.population)})
    for p, name in c.hamlets:
        nodes.new(p, {"place": "hamlet", "name": name})
    for p, tags in c.pois:
        nodes.new(p, tags)

    relation_tags = {
        "type": "boundary",
        "boundary": "administrative",
        "admin_level": "6",
        "name": COUNTY_NAME,
        "name:zh": COUNTY_NAME,
        "name:en": COUNTY_NAME_EN,
        "note": SYNTHETIC_NOTE,
    }
    members = [("way", wid, "outer") for wid in boundary_way_ids] + [
        ("node", cs_node, "admin_centre")
    ]

    xy = np.asarray(nodes.xy)
    lon, lat = _to_lonlat(xy)
    lon_s = [f"{v:.7f}" for v in lon]
    lat_s = [f"{v:.7f}" for v in lat]
    minlon, maxlon = min(float(s) for s in lon_s), max(float(s) for s in lon_s)
    minlat, maxlat = min(float(s) for s in lat_s), max(float(s) for s in lat_s)

    out: list[str] = ["<?xml version='1.0' encoding='UTF-8'?>"]
    out.append(f'<osm version="0.6" generator={quoteattr(OSM_GENERATOR)}>')
    out.append(
        f' <bounds minlat="{minlat:.7f}" minlon="{minlon:.7f}" maxlat="{maxlat:.7f}" maxlon="{maxlon:.7f}"/>'
    )
    for k, tags in enumerate(nodes.tags):
        head = f' <node id="{k + 1}" version="1" lat="{lat_s[k]}" lon="{lon_s[k]}"'
        if not tags:
            out.append(head + "/>")
            continue
        out.append(head + ">")
        out.extend(_tag_lines(tags))
        out.append(" </node>")
    for k, (ids, tags) in enumerate(ways):
        out.append(f' <way id="{k + 1}" version="1">')
        out.extend(f'  <nd ref="{n}"/>' for n in ids)
        out.extend(_tag_lines(tags))
        out.append(" </way>")
    out.append(' <relation id="1" version="1">')
    out.extend(f'  <member type="{t}" ref="{r}" role={quoteattr(role)}/>' for t, r, role in members)
    out.extend(_tag_lines(relation_tags))
    out.append(" </relation>")
    out.append("</osm>")
    osm_bytes = ("\n".join(out) + "\n").encode("utf-8")

    # boundary GeoJSON (counter-clockwise exterior ring, closed)
    bxy = np.asarray(c.boundary_ring)
    blon, blat = _to_lonlat(bxy)
    coords = [[round(float(x), 7), round(float(y), 7)] for x, y in zip(blon, blat)]
    if Polygon(coords).exterior.is_ccw is False:
        coords.reverse()
    coords.append(coords[0])
    feature = {
        "type": "Feature",
        "properties": {
            "name": COUNTY_NAME,
            "name_zh": COUNTY_NAME,
            "name_en": COUNTY_NAME_EN,
            "admin_level": 6,
            "synthetic": True,
            "seed": c.seed,
            "generator_version": GENERATOR_VERSION,
            "note": SYNTHETIC_NOTE,
        },
        "geometry": {"type": "Polygon", "coordinates": [coords]},
    }
    boundary_bytes = (json.dumps(feature, ensure_ascii=False) + "\n").encode("utf-8")

    # area in the UTM zone of the centroid
    poly = Polygon(coords)
    zone = int((poly.centroid.x + 180) // 6) + 1
    epsg = 32600 + zone
    to_utm = pyproj.Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True)
    area_km2 = round(
        shapely.transform(poly, lambda a: np.column_stack(to_utm.transform(a[:, 0], a[:, 1]))).area
        / 1e6,
        2,
    )

    far = _far_villages(c)
    counts: dict[str, Any] = {
        "nodes": len(nodes.xy),
        "ways": len(ways),
        "relations": 1,
        "county_seats": 1,
        "township_seats": len(c.townships),
        "towns": sum(t.place == "town" for t in c.townships),
        "xiang": sum(t.place == "village" for t in c.townships),
        "villages": len(c.villages),
        "hamlets": len(c.hamlets),
        "road_ways": sum(road_counts.values()),
        "road_ways_by_highway": dict(sorted(road_counts.items())),
        "oneway_ways": int(oneway),
        "bridges": c.counts.get("bridges", 0),
        "road_fragments": len(c.fragments),
        "villages_far_from_road": far,
        "villages_without_road_link": c.unlinked_villages,
        "buildings": c.counts.get("buildings", 0),
        "campus_polygons": c.counts.get("campus_polygons", 0),
        "bus_stops": c.counts.get("bus_stops", 0),
        "facilities": {
            k: v
            for k, v in sorted(c.counts.items())
            if k not in ("bridges", "buildings", "campus_polygons", "bus_stops")
        },
    }
    meta: dict[str, Any] = {
        "name": COUNTY_NAME,
        "name_en": COUNTY_NAME_EN,
        "synthetic": True,
        "note": SYNTHETIC_NOTE,
        "seed": c.seed,
        "generator_version": GENERATOR_VERSION,
        "files": {"osm": OSM_FILENAME, "boundary": BOUNDARY_FILENAME},
        "crs": "EPSG:4326",
        "area_km2": area_km2,
        "area_crs": f"EPSG:{epsg}",
        "bbox": [minlon, minlat, maxlon, maxlat],
        "population": {
            "county_seat": c.cs.population,
            "township_seats": sum(t.population for t in c.townships),
            "villages": sum(v.population for v in c.villages),
        },
        "counts": counts,
    }
    return osm_bytes, boundary_bytes, meta


def _population_raster(c: _Builder) -> tuple[bytes, dict[str, Any]]:
    """The county's population as a GeoTIFF (see the module docstring) and its description."""
    from affine import Affine
    from rasterio.io import MemoryFile
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng([c.seed, 1200])  # its own stream: the OSM file is unchanged
    cell = POPULATION_CELL_DEG
    lon_b, lat_b = _to_lonlat(np.asarray(c.boundary_ring))
    west = math.floor(lon_b.min() / cell - 2) * cell
    north = math.ceil(lat_b.max() / cell + 2) * cell
    width = math.ceil((lon_b.max() - west) / cell) + 2
    height = math.ceil((north - lat_b.min()) / cell) + 2
    # cell centres in a local equidistant frame (metres), for the kernels
    cols, rows = np.arange(width), np.arange(height)
    lon_c, lat_c = west + (cols + 0.5) * cell, north - (rows + 0.5) * cell
    local = pyproj.Transformer.from_crs(
        "EPSG:4326",
        f"+proj=aeqd +lat_0={ORIGIN_LAT} +lon_0={ORIGIN_LON} +datum=WGS84",
        always_xy=True,
    )
    glon, glat = np.meshgrid(lon_c, lat_c)
    gx, gy = local.transform(glon, glat)
    inside = shapely.contains_xy(
        Polygon(np.column_stack([lon_b, lat_b])), glon.ravel(), glat.ravel()
    ).reshape(glon.shape)
    grid = np.zeros((height, width))

    def spread(xy: XY, people: float, density_km2: float) -> None:
        """``people`` over a Gaussian whose 2σ disc holds them at ``density_km2`` on average."""
        sigma = max(math.sqrt(people / (4 * math.pi * density_km2 / 1e6)), 40.0)
        (lon,), (lat,) = _to_lonlat(np.asarray([xy]))
        px, py = local.transform(lon, lat)
        col, row = int((lon - west) / cell), int((north - lat) / cell)
        reach = math.ceil(2 * sigma / 75.0) + 1
        r0, r1 = max(row - reach, 0), min(row + reach + 1, height)
        c0, c1 = max(col - reach, 0), min(col + reach + 1, width)
        d2 = (gx[r0:r1, c0:c1] - px) ** 2 + (gy[r0:r1, c0:c1] - py) ** 2
        w = np.exp(-d2 / (2 * sigma**2)) * rng.lognormal(0.0, 0.15, d2.shape)
        w = np.where(inside[r0:r1, c0:c1] & (d2 <= (2 * sigma) ** 2), w, 0.0)
        if w.sum() > 0:
            grid[r0:r1, c0:c1] += people * w / w.sum()

    # the county seat: its figure in proportion to residential floor area
    floor_xy, floor_area = [], []
    for a in c.areas:
        kind = a.tags.get("building")
        if kind in ("residential", "apartments"):
            ring = Polygon(a.coords)
            floor_xy.append((ring.centroid.x, ring.centroid.y))
            floor_area.append(ring.area * float(a.tags.get("building:levels", "1")))
    if floor_xy:
        lon, lat = _to_lonlat(np.asarray(floor_xy))
        col = ((lon - west) / cell).astype(int)
        row = ((north - lat) / cell).astype(int)
        seat = np.zeros_like(grid)
        np.add.at(seat, (row, col), np.asarray(floor_area))
        # people live around their blocks, not only on the cell of the footprint
        seat = gaussian_filter(seat, sigma=1.0, truncate=2.0) * inside
        grid += c.cs.population * seat / seat.sum()
    else:
        spread(c.cs.xy, c.cs.population, 12_000.0)
    for t in c.townships:
        # evenly (with some noise) over the streets of the township seat and 250 m or more
        # around them: at most 15,000 persons per km² on average
        streets = MultiPoint([p for row in t.grid or [[t.xy]] for p in row]).convex_hull
        margin = 250.0
        while streets.buffer(margin).area < t.population / 0.015:
            margin += 50.0
        block = streets.buffer(margin)
        ring_lon, ring_lat = _to_lonlat(np.asarray(block.exterior.coords))
        cells = shapely.contains_xy(Polygon(np.column_stack([ring_lon, ring_lat])), glon, glat)
        w = np.where(cells & inside, rng.lognormal(0.0, 0.15, glon.shape), 0.0)
        if w.sum() > 0:
            grid += t.population * w / w.sum()
        else:
            spread(t.xy, t.population, 12_000.0)
    # a fifth of a village's figure lives in its natural villages (nearest village)
    village_people = np.asarray([v.population for v in c.villages], float)
    hamlet_people = np.zeros(len(c.hamlets))
    if c.hamlets:
        owner = cKDTree(np.asarray([v.xy for v in c.villages])).query(
            np.asarray([h[0] for h in c.hamlets])
        )[1]
        for k, i in enumerate(owner):
            n_h = int((owner == i).sum())
            hamlet_people[k] = 0.2 * village_people[i] / n_h
        village_people -= np.bincount(owner, weights=hamlet_people, minlength=len(c.villages))
    for v, people in zip(c.villages, village_people):
        spread(v.xy, float(people), 15_000.0)
    for (xy, _), people in zip(c.hamlets, hamlet_people):
        spread(xy, float(people), 15_000.0)
    data = np.where(inside, grid, POPULATION_NODATA).astype(np.float32)
    profile = {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "count": 1,
        "dtype": "float32",
        "crs": "EPSG:4326",
        "transform": Affine(cell, 0.0, west, 0.0, -cell, north),
        "nodata": POPULATION_NODATA,
        "compress": "deflate",
    }
    with MemoryFile() as mem:
        with mem.open(**profile) as dst:
            dst.write(data, 1)
            dst.update_tags(note=SYNTHETIC_NOTE, seed=str(c.seed), units="persons per cell")
        raster = bytes(mem.read())
    info = {
        "crs": "EPSG:4326",
        "cell_deg": cell,
        "width": width,
        "height": height,
        "nodata": POPULATION_NODATA,
        "total": round(float(data[inside].astype(float).sum()), 1),
        "populated_cells": int((data > 0).sum()),
        "sha256": hashlib.sha256(raster).hexdigest(),
    }
    return raster, info


def _tag_lines(tags: dict[str, str]) -> list[str]:
    return [f"  <tag k={quoteattr(k)} v={quoteattr(str(tags[k]))}/>" for k in sorted(tags)]


def _far_villages(c: _Builder) -> int:
    """Number of villages whose place node is more than 300 m from every road segment."""
    rows = [[p[0], p[1], q[0], q[1]] for w in c.roads for p, q in pairwise(w.coords)]
    tree = shapely.STRtree(shapely.linestrings(np.asarray(rows).reshape(-1, 2, 2)))
    pts = shapely.points(np.asarray([v.xy for v in c.villages]))
    _, dist = tree.query_nearest(pts, return_distance=True, all_matches=False)
    return int(np.sum(np.asarray(dist) > 300.0))
