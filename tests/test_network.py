"""Networks per mode: speeds, one-way streets, the kept component, the cache."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from accessibility import engine, network, snapping
from accessibility._errors import ValidationError

from .conftest import TEST_CRS, make_points, make_roads

# A one-way clockwise square A-B-C-D (1 km sides) plus a two-way spur C-E and a
# separate two-node piece F-G far away.
SQUARE = {
    1: (0, 0),
    2: (1000, 0),
    3: (1000, 1000),
    4: (0, 1000),
    5: (2000, 1000),
    6: (9000, 9000),
    7: (9500, 9000),
}
SQUARE_WAYS = [
    ([1, 2, 3, 4, 1], "residential", 1),
    ([3, 5], "tertiary", 0),
    ([6, 7], "residential", 0),
]


def test_speeds_and_lengths_per_mode() -> None:
    roads = make_roads(SQUARE, SQUARE_WAYS)
    walk = network.build(roads, mode="walk", crs=TEST_CRS)
    car = network.build(roads, mode="car", crs=TEST_CRS)
    # walking ignores one-way: 4 square sides both ways + spur both ways
    assert walk.n_edges == 10
    # car: 4 one-way sides + the spur both ways
    assert car.n_edges == 6
    np.testing.assert_allclose(walk.length_m, 1000, rtol=2e-3)
    # 1 km at 4.5 km/h = 800 s; residential by car at 20 km/h = 180 s; tertiary 35 km/h
    np.testing.assert_allclose(walk.time_s, 800, rtol=2e-3)
    hw = np.asarray(car.highway_classes)[car.highway]
    np.testing.assert_allclose(car.time_s[hw == "residential"], 180, rtol=2e-3)
    np.testing.assert_allclose(car.time_s[hw == "tertiary"], 1000 / (35 / 3.6), rtol=2e-3)


def test_measured_lengths_replace_the_geodesic_where_given() -> None:
    """A ``length_m`` column (a road measured along a curve) sets the edges' length and
    time; NaN rows keep the geodesic distance between the nodes."""
    roads = make_roads(SQUARE, SQUARE_WAYS)
    plain = network.build(roads, mode="walk", crs=TEST_CRS)
    roads.segments["length_m"] = np.nan
    roads.segments.loc[roads.segments["highway"] == "tertiary", "length_m"] = 1500.0
    walk = network.build(roads, mode="walk", crs=TEST_CRS)
    hw = np.asarray(walk.highway_classes)[walk.highway]
    np.testing.assert_allclose(walk.length_m[hw == "tertiary"], 1500.0)
    np.testing.assert_allclose(walk.time_s[hw == "tertiary"], 1500.0 / (4.5 / 3.6))
    np.testing.assert_array_equal(walk.length_m[hw != "tertiary"], plain.length_m[hw != "tertiary"])


def test_largest_component_kept_and_drop_counted() -> None:
    roads = make_roads(SQUARE, SQUARE_WAYS)
    car = network.build(roads, mode="car", crs=TEST_CRS)
    assert set(car.node_id.tolist()) == {1, 2, 3, 4, 5}
    assert car.meta["nodes_dropped"] == 2
    assert car.meta["edges_dropped"] == 2
    assert car.meta["components"] == 2
    allparts = network.build(roads, mode="car", crs=TEST_CRS, largest_component=False)
    assert allparts.n_nodes == 7


def test_one_way_dead_end_is_dropped_for_car_not_for_walk() -> None:
    coords = {1: (0, 0), 2: (1000, 0), 3: (2000, 0)}
    roads = make_roads(coords, [([1, 2], "residential", 0), ([2, 3], "residential", 1)])
    car = network.build(roads, mode="car", crs=TEST_CRS)
    walk = network.build(roads, mode="walk", crs=TEST_CRS)
    assert 3 not in car.node_id.tolist()  # a car could enter node 3 but never leave
    assert car.meta["nodes_dropped"] == 1
    assert 3 in walk.node_id.tolist()


def test_reverse_oneway_and_exemption() -> None:
    coords = {1: (0, 0), 2: (1000, 0), 3: (1000, 1000)}
    roads = make_roads(coords, [([1, 2], "residential", -1), ([2, 3, 1], "residential", 0)])
    car = network.build(roads, mode="car", crs=TEST_CRS)
    pairs = {(int(car.node_id[a]), int(car.node_id[b])) for a, b in zip(car.u, car.v)}
    assert (2, 1) in pairs and (1, 2) not in pairs
    roads.segments.loc[roads.segments["way"] == 1, "exempt"] = "oneway:bicycle=no"
    bike = network.build(roads, mode="bicycle", crs=TEST_CRS)
    pairs = {(int(bike.node_id[a]), int(bike.node_id[b])) for a, b in zip(bike.u, bike.v)}
    assert (1, 2) in pairs and (2, 1) in pairs


def test_maxspeed_lowers_car_speed_only() -> None:
    coords = {1: (0, 0), 2: (1000, 0)}
    roads = make_roads(coords, [([1, 2], "primary", 0)])
    roads.segments["maxspeed"] = 30.0
    car = network.build(roads, mode="car", crs=TEST_CRS)
    np.testing.assert_allclose(car.time_s, 1000 / (30 / 3.6), rtol=2e-3)


def test_parallel_edges_keep_fastest() -> None:
    coords = {1: (0, 0), 2: (1000, 0)}
    roads = make_roads(coords, [([1, 2], "track", 0), ([1, 2], "primary", 0)])
    car = network.build(roads, mode="car", crs=TEST_CRS)
    m = car.csr()
    assert m.nnz == 2
    np.testing.assert_allclose(m.data, 1000 / (55 / 3.6), rtol=2e-3)


def test_cache_roundtrip_and_invalidation(tmp_path) -> None:
    roads = make_roads(SQUARE, SQUARE_WAYS)
    first = network.load_or_build(roads, mode="car", crs=TEST_CRS, cache_dir=tmp_path)
    files = list(tmp_path.glob("network_car_*.npz"))
    assert len(files) == 1
    again = network.load_or_build(roads, mode="car", crs=TEST_CRS, cache_dir=tmp_path)
    np.testing.assert_array_equal(first.time_s, again.time_s)
    assert again.meta == first.meta
    # a speed change invalidates
    network.load_or_build(
        roads, mode="car", crs=TEST_CRS, cache_dir=tmp_path, speed_overrides={"residential": 10}
    )
    assert len(list(tmp_path.glob("network_car_*.npz"))) == 2
    # a road change invalidates
    changed = make_roads({**SQUARE, 5: (2500, 1000)}, SQUARE_WAYS)
    network.load_or_build(changed, mode="car", crs=TEST_CRS, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("network_car_*.npz"))) == 3
    assert not list(tmp_path.glob("*.tmp"))


def test_bad_inputs() -> None:
    roads = make_roads(SQUARE, SQUARE_WAYS)
    with pytest.raises(ValidationError, match="unknown travel mode 'boat'"):
        network.build(roads, mode="boat", crs=TEST_CRS)
    with pytest.raises(ValidationError, match="positive number of km/h"):
        network.build(roads, mode="car", crs=TEST_CRS, speed_overrides={"residential": -5})
    footway = make_roads({1: (0, 0), 2: (10, 0)}, [([1, 2], "footway", 0)])
    with pytest.raises(ValidationError, match="no road usable by mode 'car'"):
        network.build(footway, mode="car", crs=TEST_CRS)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), True, "fast"])
def test_speed_overrides_must_be_finite_numbers(bad) -> None:
    roads = make_roads(SQUARE, SQUARE_WAYS)
    with pytest.raises(ValidationError, match="positive number of km/h"):
        network.build(roads, mode="car", crs=TEST_CRS, speed_overrides={"residential": bad})


# ----------------------------------------------------------------- node numbering
def test_hilbert_order_walks_a_grid_cell_by_cell() -> None:
    xs, ys = np.meshgrid(np.arange(32.0) * 50, np.arange(32.0) * 50)
    x, y = xs.ravel(), ys.ravel()
    order = network.hilbert_order(x, y, bits=5)
    assert sorted(order.tolist()) == list(range(x.size))
    steps = np.abs(np.diff(x[order])) + np.abs(np.diff(y[order]))
    assert np.all(steps == 50.0)  # every step to a neighbouring cell
    # points in one cell keep their input order; degenerate inputs
    assert network.hilbert_order(np.zeros(4), np.zeros(4)).tolist() == [0, 1, 2, 3]
    assert network.hilbert_order(np.array([5.0, 1.0]), np.array([0.0, 0.0])).tolist() == [1, 0]
    assert network.hilbert_order(np.array([]), np.array([])).size == 0
    with pytest.raises(ValidationError, match="one length"):
        network.hilbert_order(np.zeros(3), np.zeros(2))
    with pytest.raises(ValidationError, match="bits"):
        network.hilbert_order(np.zeros(3), np.zeros(3), bits=40)


def test_build_numbers_nodes_along_the_curve() -> None:
    from .test_engine import _random_layout

    coords, ways = _random_layout(np.random.default_rng(3), n=8)
    net = network.build(make_roads(coords, ways), mode="walk", crs=TEST_CRS)
    assert network.hilbert_order(net.x, net.y).tolist() == list(range(net.n_nodes))
    assert net.node_id.tolist() != sorted(net.node_id.tolist())  # not the OSM id order
    # edges and segments still join the same OSM nodes
    frame = net.edges_frame()
    for (a, b), hw in zip(frame[["u", "v"]].to_numpy(), frame["highway"]):
        assert any(
            hw == w_hw and any({a, b} == {p, q} for p, q in itertools.pairwise(ids))
            for ids, w_hw, _ in ways
        )


def test_renumber_nodes_checks_the_permutation() -> None:
    net = network.build(make_roads(SQUARE, SQUARE_WAYS), mode="walk", crs=TEST_CRS)
    for bad in ([0, 1, 2], [0, 0, 1, 2, 3], [0, 1, 2, 3, 9]):
        with pytest.raises(ValidationError, match="permutation"):
            network.renumber_nodes(net, np.array(bad))


def assert_same_results(a: engine.Router, b: engine.Router, thresholds: list[float]) -> None:
    """Two routers on differently numbered copies of one network give the same results.

    Times and counts must be equal exactly; the nearest facility may differ only
    where two facilities are exactly as near.
    """
    for ids in (None, a.facilities.index[::3]):
        na, nb = a.nearest(ids), b.nearest(ids)
        assert np.array_equal(na["time_s"].to_numpy(), nb["time_s"].to_numpy())
        assert na["flag"].equals(nb["flag"])
        moved = na.index[(na["facility_id"] != nb["facility_id"]).to_numpy()]
        for oid in moved:
            fa, fb = na.at[oid, "facility_id"], nb.at[oid, "facility_id"]
            t = na.at[oid, "time_s"]
            assert a.nearest([fa]).at[oid, "time_s"] == t
            assert a.nearest([fb]).at[oid, "time_s"] == t
        assert a.count_within(thresholds, ids).equals(b.count_within(thresholds, ids))
        pa, pb = a.pairs_within(max(thresholds), ids), b.pairs_within(max(thresholds), ids)
        assert pa.shape == pb.shape and (pa != pb).nnz == 0
        for limit in (min(thresholds), np.inf):
            ta = pd.Series(a.node_times(ids, limit_s=limit), index=a.network.node_id)
            tb = pd.Series(b.node_times(ids, limit_s=limit), index=b.network.node_id)
            assert np.array_equal(ta.to_numpy(), tb.reindex(ta.index).to_numpy())


def renumbered_routers(router: engine.Router, seed: int) -> list[engine.Router]:
    """The router rebuilt on its network numbered in OSM id order and at random (same snap tables)."""
    net = router.network
    rng = np.random.default_rng(seed)
    orders = [np.argsort(net.node_id, kind="stable"), rng.permutation(net.n_nodes)]
    return [
        engine.Router.build(network.renumber_nodes(net, order), router.origins, router.facilities)
        for order in orders
    ]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("mode", ["car", "walk"])
def test_node_numbering_changes_no_result(seed: int, mode: str) -> None:
    from .test_engine import _random_layout

    rng = np.random.default_rng(100 + seed)
    coords, ways = _random_layout(rng, n=7)
    roads = make_roads(coords, ways)
    net = network.build(roads, mode=mode, crs=TEST_CRS)
    origins = {f"o{k}": tuple(rng.uniform(-100, 1900, 2)) for k in range(25)}
    facilities = {f"f{k}": tuple(rng.uniform(-100, 1900, 2)) for k in range(8)}
    facilities["twin_a"] = facilities["twin_b"] = (900.0, 900.0)
    router = engine.Router.build(
        net, snapping.snap(net, make_points(origins)), snapping.snap(net, make_points(facilities))
    )
    # snapping does not depend on the numbering either
    for other in renumbered_routers(router, seed):
        assert snapping.snap(other.network, make_points(origins)).equals(router.origins)
        assert_same_results(router, other, [300.0, 900.0, 2400.0])


def test_cache_of_the_former_numbering_is_not_reused(tmp_path, monkeypatch) -> None:
    roads = make_roads(SQUARE, SQUARE_WAYS)
    assert network.FORMAT_VERSION >= 2  # 2: nodes in Hilbert order
    key = network.cache_key(roads, mode="walk", crs=TEST_CRS)
    monkeypatch.setattr(network, "FORMAT_VERSION", 1)
    assert network.cache_key(roads, mode="walk", crs=TEST_CRS) != key
    old = network.build(roads, mode="walk", crs=TEST_CRS).save(tmp_path / "old.npz")
    monkeypatch.undo()
    with pytest.raises(ValidationError, match="network format 1, expected"):
        network.Network.load(old)


# --------------------------------------------------------------------------- access per mode
# Hand-written OSM: a direct road 1-2 (1 km) carrying the tags under test and a public
# detour 1-3-4-2 (600 + 1000 + 600 m). A village 20 m south of node 1, a school 20 m
# south of node 2: the network time is 1000 m at the mode's speed when the mode may
# use the direct road, else 2200 m.
ACCESS_NODES = {1: (0, 0), 2: (1000, 0), 3: (0, 600), 4: (1000, 600)}
#: km/h of the classes used below, per mode (rules/speeds.yml)
RESIDENTIAL_KMH = {"walk": 4.5, "walk_child": 3.6, "bicycle": 12, "ebike": 16, "car": 20}


def network_seconds(path, mode: str) -> tuple[float, network.Network]:
    """Network time (without the legs) from the village to the school, and the network."""
    from accessibility.sources import osm

    net = network.build(osm.read(path).roads, mode=mode, crs=TEST_CRS)
    o = snapping.snap(net, make_points({"village": (0, -20)}))
    f = snapping.snap(net, make_points({"school": (1000, -20)}))
    res = engine.Router.build(net, o, f).nearest()
    legs = o["leg_s"].iloc[0] + f["leg_s"].iloc[0]
    return float(res["time_s"].iloc[0] - legs), net


def write_access_case(tmp_path, tags: dict[str, str]):
    from .osm_xml import write_osm

    return write_osm(
        tmp_path / "access.osm",
        ACCESS_NODES,
        [
            (10, [1, 2], {"highway": "residential", **tags}),
            (11, [1, 3, 4, 2], {"highway": "residential"}),
        ],
    )


@pytest.mark.parametrize(
    ("tags", "direct"),
    [
        ({}, {"walk": True, "bicycle": True, "car": True}),
        (
            {"access": "private"},
            {"walk": False, "walk_child": False, "bicycle": False, "car": False},
        ),
        ({"access": "private", "foot": "yes"}, {"walk": True, "bicycle": False, "car": False}),
        ({"access": "no", "motor_vehicle": "destination"}, {"walk": False, "car": True}),
        ({"foot": "no"}, {"walk": False, "walk_child": False, "bicycle": True, "car": True}),
        ({"vehicle": "no"}, {"walk": True, "bicycle": False, "ebike": False, "car": False}),
        ({"access": "no", "motorcar": "yes"}, {"car": True, "walk": False}),
        ({"motorcar": "private", "motor_vehicle": "yes"}, {"car": False, "walk": True}),
        ({"bicycle": "No", "vehicle": "yes"}, {"bicycle": False, "ebike": False, "car": True}),
        ({"motorroad": "yes"}, {"walk": False, "bicycle": False, "ebike": False, "car": True}),
        ({"access": "permissive"}, {"walk": True, "car": True}),
        ({"access": "destination"}, {"walk": True, "car": True}),
        ({"access": "designated"}, {"bicycle": True, "car": True}),
        # a farm track: closed to cars, walked and ridden by the villagers
        ({"motor_vehicle": "agricultural"}, {"car": False, "walk": True, "ebike": True}),
        ({"access": "forestry"}, {"car": False}),
    ],
)
def test_access_tags_per_mode(tmp_path, tags, direct) -> None:
    path = write_access_case(tmp_path, tags)
    for mode, uses_direct in direct.items():
        seconds, net = network_seconds(path, mode)
        metres = 1000.0 if uses_direct else 2200.0
        assert seconds == pytest.approx(metres / (RESIDENTIAL_KMH[mode] / 3.6), rel=3e-3), mode
        assert net.meta["access_denied_segments"] == (0 if uses_direct else 1), mode


@pytest.mark.parametrize(
    ("tags", "walk_direct"),
    [({}, True), ({"foot": "no"}, False), ({"foot": "designated"}, True)],
)
def test_cycleway_is_walked_unless_foot_no(tmp_path, tags, walk_direct) -> None:
    path = write_access_case(tmp_path, {"highway": "cycleway", **tags})
    for mode in ("walk", "walk_child"):
        seconds, _ = network_seconds(path, mode)
        metres = 1000.0 if walk_direct else 2200.0
        assert seconds == pytest.approx(metres / (RESIDENTIAL_KMH[mode] / 3.6), rel=3e-3)
    # a cyclist rides it at the cycleway speed; a car never uses it
    seconds, _ = network_seconds(path, "bicycle")
    assert seconds == pytest.approx(1000.0 / (15 / 3.6), rel=3e-3)
    seconds, _ = network_seconds(path, "car")
    assert seconds == pytest.approx(2200.0 / (20 / 3.6), rel=3e-3)


def test_pedestrian_area_outline_is_walked(tmp_path) -> None:
    """A square (area) between the village's and the school's streets: walkers cross
    along its outline, cars go round by the detour."""
    from .osm_xml import write_osm

    nodes = {**ACCESS_NODES, 5: (300, 0), 6: (700, 0), 7: (700, -200), 8: (300, -200)}
    path = write_osm(
        tmp_path / "square.osm",
        nodes,
        [
            (10, [1, 5], {"highway": "residential"}),
            (12, [6, 2], {"highway": "residential"}),
            (13, [5, 6, 7, 8, 5], {"highway": "pedestrian", "area": "yes"}),
            (11, [1, 3, 4, 2], {"highway": "residential"}),
        ],
    )
    seconds, _ = network_seconds(path, "walk")
    assert seconds == pytest.approx(1000.0 / (4.5 / 3.6), rel=3e-3)
    seconds, _ = network_seconds(path, "car")
    assert seconds == pytest.approx(2200.0 / (20 / 3.6), rel=3e-3)


def test_clipped_ways_keep_their_inside_part(tmp_path) -> None:
    """Way 20 runs 9-1-2-8 and way 21 runs 2-6-7, nodes 9, 8 and 7 outside the file."""
    from .osm_xml import write_osm

    nodes = {1: (0, 0), 2: (1000, 0), 6: (1000, 500), 7: (1000, 900), 8: (2000, 0), 9: (-900, 0)}
    path = write_osm(
        tmp_path / "clipped.osm",
        nodes,
        [
            (20, [9, 1, 2, 8], {"highway": "residential"}),
            (21, [2, 6, 7], {"highway": "residential"}),
        ],
        absent=[7, 8, 9],
    )
    from accessibility.sources import osm

    roads = osm.read(path).roads
    net = network.build(roads, mode="walk", crs=TEST_CRS)
    assert net.meta["ways_clipped"] == 2
    o = snapping.snap(net, make_points({"village": (0, -20)}))
    f = snapping.snap(net, make_points({"school": (1020, 500)}))
    res = engine.Router.build(net, o, f).nearest()
    seconds = res["time_s"].iloc[0] - o["leg_s"].iloc[0] - f["leg_s"].iloc[0]
    assert seconds == pytest.approx(1500.0 / (4.5 / 3.6), rel=3e-3)


def test_access_rules_and_tags_change_the_cache_key(monkeypatch) -> None:
    base = make_roads(SQUARE, SQUARE_WAYS)
    key = network.cache_key(base, mode="walk", crs=TEST_CRS)
    tagged = network.RoadData(nodes=base.nodes, segments=base.segments.assign(access="foot=no"))
    assert network.cache_key(tagged, mode="walk", crs=TEST_CRS) != key
    rules = network._speed_rules()
    changed = {**rules, "walk": {**rules["walk"], "access_tags": ["access"]}}
    monkeypatch.setattr(network, "_speed_rules", lambda: changed)
    assert network.cache_key(base, mode="walk", crs=TEST_CRS) != key


def test_raised_and_cut_off_segments_are_saved_and_selected(tmp_path) -> None:
    roads = make_roads(SQUARE, SQUARE_WAYS)
    roads.segments["raised"] = roads.segments["way"] == 2  # the spur 3-5
    net = network.build(roads, mode="walk", crs=TEST_CRS)
    assert net.raised.tolist() == [False] * 4 + [True]
    # the far piece 6-7 is cut off: its ends are kept, in the network's CRS
    assert net.cut_x.size == 2 and net.cut_y.size == 2
    assert abs(net.cut_x[1] - net.cut_x[0]) == pytest.approx(500, rel=3e-3)
    back = network.Network.load(net.save(tmp_path / "n.npz"))
    np.testing.assert_array_equal(back.raised, net.raised)
    np.testing.assert_array_equal(back.cut_x, net.cut_x)
    # a part of the network: the segments left out join the cut-off ones
    part = network.select_nodes(net, np.flatnonzero(net.node_id != 5))
    assert part.raised.tolist() == [False] * 4
    assert part.cut_x.size == 4
    assert part.cut_raised.tolist() == [False, True]  # the far piece, then the spur
    np.testing.assert_array_equal(back.cut_raised, net.cut_raised)
