"""Networks per mode: speeds, one-way streets, the kept component, the cache."""

from __future__ import annotations

import numpy as np
import pytest

from accessibility import network
from accessibility._errors import ValidationError

from .conftest import TEST_CRS, make_roads

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
