"""The synthetic sample county: determinism, readability by pyosmium, plausibility.

The county is generated once per module (a fraction of a second) and read back
with pyosmium, the way a real extract is read. Distances are measured in UTM 50N
metres (the county straddles 114°E, the 49N/50N border; the scale error this far
from the central meridian is about 0.15 %, far below the margins tested here).
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import networkx as nx
import numpy as np
import osmium
import pyproj
import pytest
import shapely
from shapely.geometry import LineString, Polygon, shape

from accessibility._errors import ValidationError
from accessibility.sources import sample

SEED = 2023
UTM = "EPSG:32650"
ROAD_CLASSES_REQUIRED = (
    "trunk",
    "primary",
    "secondary",
    "tertiary",
    "unclassified",
    "residential",
    "track",
)

_to_utm = pyproj.Transformer.from_crs("EPSG:4326", UTM, always_xy=True)


@dataclass
class OsmFile:
    nodes: dict[int, tuple[float, float, dict[str, str]]]
    ways: list[tuple[int, list[int], dict[str, str]]]
    relations: list[tuple[int, list[tuple[str, int, str]], dict[str, str]]]

    def utm(self, node_id: int) -> tuple[float, float]:
        lon, lat, _ = self.nodes[node_id]
        x, y = _to_utm.transform(lon, lat)
        return float(x), float(y)

    def tagged_nodes(self) -> Iterator[tuple[int, dict[str, str]]]:
        for nid, (_, _, tags) in self.nodes.items():
            if tags:
                yield nid, tags

    def features(self) -> Iterator[dict[str, str]]:
        """Tags of every tagged node and way (facilities may be either)."""
        for _, tags in self.tagged_nodes():
            yield tags
        for _, _, tags in self.ways:
            yield tags


def _read(path: Path) -> OsmFile:
    nodes: dict[int, tuple[float, float, dict[str, str]]] = {}
    ways: list[tuple[int, list[int], dict[str, str]]] = []
    relations: list[tuple[int, list[tuple[str, int, str]], dict[str, str]]] = []
    for obj in osmium.FileProcessor(str(path)):
        if obj.is_node():
            nodes[obj.id] = (obj.location.lon, obj.location.lat, dict(obj.tags))
        elif obj.is_way():
            ways.append((obj.id, [n.ref for n in obj.nodes], dict(obj.tags)))
        elif obj.is_relation():
            members = [(m.type, m.ref, m.role) for m in obj.members]
            relations.append((obj.id, members, dict(obj.tags)))
    return OsmFile(nodes, ways, relations)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> sample.SampleFiles:
    return sample.generate(tmp_path_factory.mktemp("sample"), seed=SEED)


@pytest.fixture(scope="module")
def osm(files: sample.SampleFiles) -> OsmFile:
    return _read(files.osm)


@pytest.fixture(scope="module")
def meta(files: sample.SampleFiles) -> dict:
    return json.loads(files.meta.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def roads(osm: OsmFile) -> list[tuple[int, list[int], dict[str, str]]]:
    return [w for w in osm.ways if "highway" in w[2]]


@pytest.fixture(scope="module")
def road_tree(osm: OsmFile, roads: list) -> shapely.STRtree:
    """Every road segment (consecutive node pair) as a UTM line."""
    segs = []
    for _, refs, _ in roads:
        pts = [osm.utm(n) for n in refs]
        segs.extend(LineString([a, b]) for a, b in pairwise(pts))
    return shapely.STRtree(segs)


@pytest.fixture(scope="module")
def river(osm: OsmFile) -> LineString:
    (refs,) = [r for _, r, t in osm.ways if t.get("waterway") == "river"]
    return LineString([osm.utm(n) for n in refs])


def _villages(osm: OsmFile) -> list[tuple[int, dict[str, str]]]:
    return [
        (n, t) for n, t in osm.tagged_nodes() if t.get("place") == "village" and "capital" not in t
    ]


def _distance_to_roads(osm: OsmFile, tree: shapely.STRtree, node_ids: list[int]) -> np.ndarray:
    pts = shapely.points([osm.utm(n) for n in node_ids])
    _, dist = tree.query_nearest(pts, return_distance=True, all_matches=False)
    return np.asarray(dist)


# ------------------------------------------------------------------ determinism


def test_same_seed_gives_identical_bytes(files: sample.SampleFiles, tmp_path: Path) -> None:
    again = sample.generate(tmp_path, seed=SEED)
    for a, b in (
        (files.osm, again.osm),
        (files.boundary, again.boundary),
        (files.meta, again.meta),
        (files.population, again.population),
    ):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_other_seed_gives_another_county(files: sample.SampleFiles, tmp_path: Path) -> None:
    other = sample.generate(tmp_path, seed=SEED + 1)
    assert other.osm.read_bytes() != files.osm.read_bytes()
    assert other.boundary.read_bytes() != files.boundary.read_bytes()
    assert other.population.read_bytes() != files.population.read_bytes()
    assert json.loads(other.meta.read_text(encoding="utf-8"))["seed"] == SEED + 1


@pytest.mark.parametrize("seed", [-1, 1.5, "7", True, None])
def test_bad_seed_is_rejected(seed: object, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="seed must be a non-negative integer"):
        sample.generate(tmp_path, seed=seed)  # type: ignore[arg-type]
    assert not any(tmp_path.iterdir())


# ------------------------------------------------------------------ the file as an OSM reader sees it


def test_file_names_and_no_leftover_temp_files(files: sample.SampleFiles) -> None:
    assert files.osm.name == "sample.osm"
    assert files.boundary.name == "boundary.geojson"
    assert files.meta.name == "meta.json"
    assert files.population.name == "population.tif"
    assert sorted(p.name for p in files.osm.parent.iterdir()) == [
        "boundary.geojson",
        "meta.json",
        "population.tif",
        "sample.osm",
    ]


def test_xml_root_bounds_and_ids(files: sample.SampleFiles, osm: OsmFile) -> None:
    root = ET.parse(files.osm).getroot()  # well-formed XML, every value escaped
    assert root.tag == "osm"
    assert root.get("version") == "0.6"
    assert root.get("generator") == "accessibility sample generator (synthetic)"
    assert "timestamp" not in files.osm.read_text(encoding="utf-8")
    bounds = root.find("bounds")
    assert bounds is not None
    lons = [v[0] for v in osm.nodes.values()]
    lats = [v[1] for v in osm.nodes.values()]
    assert float(bounds.get("minlon")) == pytest.approx(min(lons), abs=1e-7)
    assert float(bounds.get("maxlat")) == pytest.approx(max(lats), abs=1e-7)
    # positive sequential ids, written in order
    assert list(osm.nodes) == list(range(1, len(osm.nodes) + 1))
    assert [w[0] for w in osm.ways] == list(range(1, len(osm.ways) + 1))
    # 7-decimal coordinates
    first = root.find("node")
    assert first is not None and len(first.get("lat").split(".")[1]) == 7


def test_counts_match_meta(osm: OsmFile, roads: list, meta: dict) -> None:
    counts = meta["counts"]
    assert counts["nodes"] == len(osm.nodes)
    assert counts["ways"] == len(osm.ways)
    assert counts["relations"] == len(osm.relations) == 1
    places = [t for _, t in osm.tagged_nodes() if "place" in t]
    assert counts["county_seats"] == sum(t.get("capital") == "6" for t in places)
    assert counts["township_seats"] == sum(t.get("capital") == "8" for t in places)
    assert counts["villages"] == len(_villages(osm))
    assert counts["hamlets"] == sum(t["place"] == "hamlet" for t in places)
    assert counts["buildings"] == sum("building" in t for _, _, t in osm.ways)
    assert counts["bus_stops"] == sum(t.get("highway") == "bus_stop" for _, t in osm.tagged_nodes())
    assert counts["road_ways"] == len(roads)
    by_class: dict[str, int] = {}
    for _, _, t in roads:
        by_class[t["highway"]] = by_class.get(t["highway"], 0) + 1
    assert counts["road_ways_by_highway"] == by_class
    assert counts["oneway_ways"] == sum(t.get("oneway") == "yes" for _, _, t in roads)
    assert counts["bridges"] == sum(t.get("bridge") == "yes" for _, _, t in roads)


def test_everything_is_labelled_synthetic(
    files: sample.SampleFiles, osm: OsmFile, meta: dict
) -> None:
    (_, _, rel_tags) = osm.relations[0]
    assert "synthetic" in rel_tags["note"]
    props = json.loads(files.boundary.read_text(encoding="utf-8"))["properties"]
    assert props["synthetic"] is True
    assert props["seed"] == SEED
    assert props["name"] == props["name_zh"] == "示例县"
    assert props["name_en"] == "Sample County"
    assert meta["synthetic"] is True
    assert meta["seed"] == SEED
    assert meta["generator_version"] == sample.GENERATOR_VERSION


# ------------------------------------------------------------------ boundary


def test_boundary_relation_closes_into_the_geojson_polygon(
    files: sample.SampleFiles, osm: OsmFile
) -> None:
    (_, members, tags) = osm.relations[0]
    assert tags["type"] == "boundary"
    assert tags["boundary"] == "administrative"
    assert tags["admin_level"] == "6"
    assert tags["name"] == "示例县"
    assert tags["name:en"] == "Sample County"
    outer = [ref for kind, ref, role in members if kind == "w" and role == "outer"]
    assert len(outer) >= 2
    ways = {wid: refs for wid, refs, _ in osm.ways}
    ring = list(ways[outer[0]])
    for wid in outer[1:]:
        assert ways[wid][0] == ring[-1], "outer ways must chain end to start"
        ring += ways[wid][1:]
    assert ring[0] == ring[-1]
    rel_poly = Polygon([osm.nodes[n][:2] for n in ring])
    geo = shape(json.loads(files.boundary.read_text(encoding="utf-8"))["geometry"])
    assert rel_poly.is_valid and geo.is_valid
    assert rel_poly.symmetric_difference(geo).area < 1e-9 * geo.area + 1e-12


def test_area_and_position(files: sample.SampleFiles, meta: dict) -> None:
    geo = shape(json.loads(files.boundary.read_text(encoding="utf-8"))["geometry"])
    minx, _, maxx, _ = geo.bounds
    assert minx < 114.0 < maxx, "the county must straddle the UTM 49N/50N border"
    assert abs(geo.centroid.x - 114.0) < 0.1 and abs(geo.centroid.y - 34.0) < 0.1
    for epsg in ("EPSG:32649", "EPSG:32650"):
        tr = pyproj.Transformer.from_crs("EPSG:4326", epsg, always_xy=True)
        x, y = tr.transform(*geo.exterior.xy)
        area = Polygon(zip(x, y, strict=True)).area / 1e6
        assert 900 <= area <= 1200, (epsg, area)
    assert 900 <= meta["area_km2"] <= 1200
    assert meta["bbox"][0] < 114.0 < meta["bbox"][2]


# ------------------------------------------------------------------ settlements


def test_settlement_hierarchy(osm: OsmFile) -> None:
    places = [t for _, t in osm.tagged_nodes() if "place" in t]
    seats = [t for t in places if t.get("capital") == "6"]
    assert len(seats) == 1
    (seat,) = seats
    assert seat["place"] == "town" and seat["name"] == "城关镇" and seat["name:en"]
    assert 120_000 <= int(seat["population"]) <= 200_000
    towns = [t for t in places if t.get("capital") == "8"]
    assert 10 <= len(towns) <= 14
    for t in towns:
        assert t["name"][-1] in "镇乡"
        assert t["place"] == ("town" if t["name"].endswith("镇") else "village")
        assert 8_000 <= int(t["population"]) <= 40_000
    assert any(t["name"].endswith("乡") for t in towns)


def test_villages_are_many_unique_and_skewed(osm: OsmFile) -> None:
    villages = [t for _, t in _villages(osm)]
    assert 300 <= len(villages) <= 450
    names = [t["name"] for t in villages]
    assert len(set(names)) == len(names)
    assert all(len(n) == 3 and n.endswith("村") for n in names)
    pop = np.asarray([int(t["population"]) for t in villages])
    assert pop.min() >= 300 and pop.max() <= 6000
    assert np.median(pop) < pop.mean()
    assert any(t.get("place") == "hamlet" and "population" not in t for _, t in osm.tagged_nodes())


def test_buildings_only_in_the_county_seat(osm: OsmFile) -> None:
    (seat_id,) = [n for n, t in osm.tagged_nodes() if t.get("capital") == "6"]
    sx, sy = osm.utm(seat_id)
    buildings = [(refs, t) for _, refs, t in osm.ways if "building" in t]
    assert 300 <= len(buildings) <= 2000
    for refs, t in buildings:
        assert t["building"] in ("residential", "apartments")
        assert 2 <= int(t["building:levels"]) <= 18
        assert refs[0] == refs[-1] and len(refs) >= 4
        x, y = osm.utm(refs[0])
        assert np.hypot(x - sx, y - sy) < 4_000


def test_population_raster_agrees_with_the_settlements(
    files: sample.SampleFiles, osm: OsmFile, meta: dict
) -> None:
    import rasterio

    with rasterio.open(files.population) as src:
        assert src.crs.to_epsg() == 4326
        assert src.res == pytest.approx((1 / 1200, 1 / 1200))
        data = src.read(1, masked=True)
        transform = src.transform
    # every tagged person is in the raster: its total is the sum of the settlement figures
    tags = sum(int(t["population"]) for _, t in osm.tagged_nodes() if "population" in t)
    assert tags == sum(meta["population"].values())
    assert float(data.sum()) == pytest.approx(tags, rel=1e-5)
    assert meta["population_raster"]["total"] == pytest.approx(tags, rel=1e-6)
    assert (data.compressed() >= 0).all()
    # nodata outside the county, people inside it
    geo = shape(json.loads(files.boundary.read_text(encoding="utf-8"))["geometry"])
    rows, cols = np.indices(data.shape)
    lon = transform.c + (cols + 0.5) * transform.a
    lat = transform.f + (rows + 0.5) * transform.e
    inside = shapely.contains_xy(geo, lon, lat)
    assert np.array_equal(~data.mask, inside)
    # people where the villages and townships are: the cell of each settlement node is populated
    for n, t in osm.tagged_nodes():
        if t.get("place") in ("village", "town") and "population" in t:
            lon_n, lat_n, _ = osm.nodes[n]
            r = int((transform.f - lat_n) / -transform.e)
            c = int((lon_n - transform.c) / transform.a)
            assert data[r, c] > 0, t["name"]
    # the county seat's figure lies within 400 m of its buildings' hull (and few others live there)
    (seat_id,) = [n for n, t in osm.tagged_nodes() if t.get("capital") == "6"]
    corners = [osm.nodes[refs[0]][:2] for _, refs, t in osm.ways if "building" in t]
    hull = shapely.MultiPoint(corners).convex_hull
    to_utm = pyproj.Transformer.from_crs(4326, UTM, always_xy=True)
    hx, hy = to_utm.transform(*np.asarray(hull.exterior.coords).T)
    ux, uy = to_utm.transform(lon, lat)
    near = shapely.dwithin(Polygon(np.column_stack([hx, hy])), shapely.points(ux, uy), 400.0)
    seat = int(osm.nodes[seat_id][2]["population"])
    assert 0.999 * seat <= float(data[near & inside].sum()) <= 1.03 * seat


# ------------------------------------------------------------------ roads


def test_road_hierarchy_and_names(roads: list) -> None:
    classes = {t["highway"] for _, _, t in roads}
    assert set(ROAD_CLASSES_REQUIRED) <= classes
    assert classes & {"footway", "path"}
    trunks = [t for _, _, t in roads if t["highway"] == "trunk"]
    assert 1 <= len({t.get("ref") for t in trunks}) <= 2
    assert any(t.get("ref", "").startswith("G") for t in trunks)
    street_names = {t.get("name") for _, _, t in roads}
    assert {"人民路", "建设路", "文化路", "解放街"} <= street_names


def test_roads_are_not_straight_lines(osm: OsmFile, roads: list) -> None:
    checked = 0
    for _, refs, t in roads:
        if (
            t["highway"] in ("trunk", "primary", "secondary", "unclassified")
            and "bridge" not in t
            and len(refs) > 4
        ):
            pts = [osm.utm(n) for n in refs]
            chord = LineString([pts[0], pts[-1]])
            if chord.length < 800:
                continue
            assert max(chord.distance(shapely.Point(p)) for p in pts) > 1.0
            checked += 1
    assert checked > 20


def test_network_is_connected_apart_from_a_few_fragments(
    osm: OsmFile, roads: list, meta: dict
) -> None:
    g = nx.Graph()
    for _, refs, _ in roads:
        g.add_edges_from(pairwise(refs))
    parts = sorted(nx.connected_components(g), key=len, reverse=True)
    assert len(parts[0]) > 0.9 * g.number_of_nodes()
    assert (
        3
        <= len(parts) - 1
        <= meta["counts"]["road_fragments"] + meta["counts"]["villages_without_road_link"]
    )
    # junctions are shared nodes: many nodes belong to more than one way
    ways_per_node: dict[int, int] = {}
    for _, refs, _ in roads:
        for n in set(refs):
            ways_per_node[n] = ways_per_node.get(n, 0) + 1
    assert sum(c >= 2 for c in ways_per_node.values()) > 500


_MAIN_CLASSES = frozenset(
    {"motorway", "trunk", "primary", "secondary"}
    | {f"{c}_link" for c in ("motorway", "trunk", "primary", "secondary")}
)


def _main_road_graph(osm: OsmFile, roads: list) -> nx.MultiDiGraph:
    """Directed graph of the car-usable ways of class secondary or better (one-way
    ways in their direction only), nodes at UTM positions."""
    g = nx.MultiDiGraph()
    for wid, refs, t in roads:
        if t["highway"] not in _MAIN_CLASSES or t.get("access") == "no":
            continue
        if t.get("motor_vehicle") == "no" or t.get("motorcar") == "no":
            continue
        oneway = t.get("oneway", "no")
        if t.get("junction") == "roundabout" and oneway == "no":
            oneway = "yes"
        for a, b in pairwise(refs):
            if oneway in ("yes", "true", "1"):
                g.add_edge(a, b, way=wid)
            elif oneway == "-1":
                g.add_edge(b, a, way=wid)
            else:
                g.add_edge(a, b, way=wid)
                g.add_edge(b, a, way=wid)
    for n in g.nodes:
        g.nodes[n]["xy"] = osm.utm(n)
    return g


def test_seats_lie_on_one_network_of_secondary_or_better_roads(osm: OsmFile, roads: list) -> None:
    """As in a real county, national, provincial and county roads run into the main
    streets of the county seat and through the township seats: every seat's place
    node is a node of a secondary-or-better road, and on those roads alone every
    township seat reaches the county seat and back."""
    g = _main_road_graph(osm, roads)
    ids = list(g.nodes)
    tree = shapely.STRtree(shapely.points([g.nodes[n]["xy"] for n in ids]))
    seats: dict[str, int] = {}
    for n, t in osm.tagged_nodes():
        if t.get("capital") not in ("6", "8"):
            continue
        k, dist = tree.query_nearest(
            shapely.Point(osm.utm(n)), return_distance=True, all_matches=False
        )
        assert float(dist[0]) <= 1.0, (t["name"], float(dist[0]))
        seats[t["name"]] = ids[int(k[0])]
    county = seats.pop("城关镇")
    assert 10 <= len(seats) <= 14
    from_county = nx.descendants(g, county) | {county}
    to_county = nx.ancestors(g, county) | {county}
    assert sorted(n for n, v in seats.items() if v not in from_county) == []
    assert sorted(n for n, v in seats.items() if v not in to_county) == []
    parts = list(nx.weakly_connected_components(g))
    assert len(parts) == 1, sorted(len(p) for p in parts)
    assert {county, *seats.values()} <= parts[0]


def test_roads_meet_only_at_shared_nodes(osm: OsmFile, roads: list) -> None:
    """Apart from bridges, no two road segments cross without a common node."""
    segs = []
    for _, refs, t in roads:
        if t.get("bridge") == "yes":
            continue
        pts = [osm.nodes[n][:2] for n in refs]
        segs.extend(LineString([a, b]) for a, b in pairwise(pts))
    tree = shapely.STRtree(segs)
    pairs = tree.query(segs, predicate="crosses")
    assert pairs.shape[1] == 0, f"{pairs.shape[1] // 2} unnoded crossings"


def test_some_villages_hang_in_the_fields(
    osm: OsmFile, road_tree: shapely.STRtree, meta: dict
) -> None:
    ids = [n for n, _ in _villages(osm)]
    dist = _distance_to_roads(osm, road_tree, ids)
    far = int(np.sum(dist > 300))
    assert 3 <= far <= 8
    assert far == meta["counts"]["villages_far_from_road"]
    # every other village has a road within its cluster
    assert np.sort(dist)[-far - 1] < 290


def test_one_way_streets_run_both_ways(osm: OsmFile, roads: list) -> None:
    oneway = [refs for _, refs, t in roads if t.get("oneway") == "yes"]
    assert len(oneway) >= 4
    headings = set()
    for refs in oneway:
        (x0, y0), (x1, y1) = osm.utm(refs[0]), osm.utm(refs[-1])
        dx, dy = x1 - x0, y1 - y0
        headings.add(("E" if dx > 0 else "W") if abs(dx) > abs(dy) else ("N" if dy > 0 else "S"))
    assert {"N", "S"} <= headings or {"E", "W"} <= headings
    assert len(headings) >= 3


def test_river_is_crossed_only_by_a_few_bridges(
    osm: OsmFile, roads: list, river: LineString
) -> None:
    (tags,) = [t for _, _, t in osm.ways if t.get("waterway") == "river"]
    assert tags["name"] == "清水河"
    bridges = [(refs, t) for _, refs, t in roads if t.get("bridge") == "yes"]
    assert 1 <= len(bridges) < 10
    for refs, t in bridges:
        assert t["layer"] == "1"
        assert LineString([osm.utm(n) for n in refs]).intersects(river)
    for _, refs, t in roads:
        if t.get("bridge") != "yes":
            assert not LineString([osm.utm(n) for n in refs]).intersects(river), t


# ------------------------------------------------------------------ facilities


def _names(osm: OsmFile, **tags: str) -> list[str]:
    return [
        t.get("name", "") for t in osm.features() if all(t.get(k) == v for k, v in tags.items())
    ]


def test_every_facility_kind_is_present(osm: OsmFile) -> None:
    schools = _names(osm, amenity="school")
    for suffix in (
        "小学",
        "教学点",
        "初级中学",
        "高级中学",
        "完全中学",
        "九年一贯制学校",
        "职业培训学校",
    ):
        assert any(n.endswith(suffix) for n in schools), suffix
    assert any(n.endswith("高中") for n in schools)
    assert "示例县第一高级中学" in schools
    assert any(
        n.endswith(("镇中心学校", "乡中心学校", "镇九年一贯制学校", "乡九年一贯制学校"))
        for n in schools
    )
    isced = {t.get("isced:level") for t in osm.features() if t.get("amenity") == "school"}
    assert {"1", "2", "3"} <= isced and "1;2" in isced
    assert any(n.endswith("幼儿园") for n in _names(osm, amenity="kindergarten"))
    assert any(n.endswith("驾校") for n in _names(osm, amenity="driving_school"))
    assert any(n.endswith("职业技术学院") for n in _names(osm, amenity="college"))
    clinics = _names(osm, amenity="clinic") + _names(osm, healthcare="clinic")
    assert any(n.endswith("村卫生室") for n in clinics)
    assert any(t.get("healthcare") == "clinic" and "amenity" not in t for t in osm.features())
    hospitals = set(_names(osm, amenity="hospital") + _names(osm, healthcare="hospital"))
    assert any(n.endswith("卫生院") for n in hospitals)
    assert {"示例县人民医院", "示例县中医院"} <= hospitals
    libraries = _names(osm, amenity="library")
    assert "示例县图书馆" in libraries
    assert 3 <= sum(n.startswith("城市书房(") and n.endswith("店)") for n in libraries) <= 8
    assert any(n.endswith("农家书屋") for n in libraries)
    centres = _names(osm, amenity="community_centre")
    assert any(n.endswith("综合文化站") for n in centres)
    assert any(n.endswith("综合性文化服务中心") for n in centres)
    stops = [t for t in osm.features() if t.get("highway") == "bus_stop"]
    assert stops and all(t["name"].endswith("站") for t in stops)
    assert any(t.get("public_transport") == "platform" for t in stops)


def test_some_facilities_are_campus_polygons(osm: OsmFile) -> None:
    closed = [
        t
        for _, refs, t in osm.ways
        if refs[0] == refs[-1] and t.get("amenity") in ("school", "hospital")
    ]
    assert any(t["amenity"] == "school" for t in closed)
    assert any(t["amenity"] == "hospital" for t in closed)


def test_tiers_follow_settlements_with_a_few_exceptions(osm: OsmFile) -> None:
    seat = next(n for n, t in osm.tagged_nodes() if t.get("capital") == "6")
    sx, sy = osm.utm(seat)
    high = [
        n
        for n, t in osm.tagged_nodes()
        if t.get("amenity") == "school" and t.get("isced:level") == "3"
    ]
    near = [np.hypot(osm.utm(n)[0] - sx, osm.utm(n)[1] - sy) < 4_000 for n in high]
    assert sum(near) >= 1 and not all(near), "high schools in the county seat, one in a township"


def test_bus_stops_are_on_roads(osm: OsmFile, road_tree: shapely.STRtree) -> None:
    ids = [n for n, t in osm.tagged_nodes() if t.get("highway") == "bus_stop"]
    assert len(ids) > 50
    assert float(np.max(_distance_to_roads(osm, road_tree, ids))) <= 30.0
    # most villages but not all have a stop named after them
    names = {osm.nodes[n][2]["name"] for n in ids}
    villages = [t["name"] for _, t in _villages(osm)]
    served = sum((v + "站") in names or (v[:-1] + "站") in names for v in villages)
    assert 0.5 * len(villages) < served < len(villages)


# ------------------------------------------------------------------ ensure


def test_ensure_keeps_fresh_files_and_regenerates_stale_ones(tmp_path: Path) -> None:
    first = sample.ensure(tmp_path, seed=5)
    stamps = {p: p.stat().st_mtime_ns for p in (first.osm, first.boundary, first.meta)}
    os.utime(first.osm, ns=(1_000_000_000, 1_000_000_000))
    stamps[first.osm] = first.osm.stat().st_mtime_ns
    again = sample.ensure(tmp_path, seed=5)
    assert again == first
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps

    meta = json.loads(first.meta.read_text(encoding="utf-8"))
    meta["seed"] = 6
    first.meta.write_text(json.dumps(meta), encoding="utf-8")
    sample.ensure(tmp_path, seed=5)
    assert first.osm.stat().st_mtime_ns != stamps[first.osm]
    assert json.loads(first.meta.read_text(encoding="utf-8"))["seed"] == 5

    first.boundary.unlink()
    sample.ensure(tmp_path, seed=5)
    assert first.boundary.is_file()

    first.population.unlink()
    sample.ensure(tmp_path, seed=5)
    assert first.population.is_file()
