"""Snapping points onto the nearest segment: positions, legs, flags, bad input."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from accessibility import network, snapping
from accessibility._errors import ValidationError

from .conftest import TEST_CRS, make_points, make_roads

# An L: 1-2 along x (1 km), 2-3 along y (1 km).
L_COORDS = {1: (0, 0), 2: (1000, 0), 3: (1000, 1000)}
L_WAYS = [([1, 2, 3], "residential", 0)]


@pytest.fixture
def walk_net() -> network.Network:
    return network.build(make_roads(L_COORDS, L_WAYS), mode="walk", crs=TEST_CRS)


def test_snaps_to_segment_interior_not_node(walk_net) -> None:
    pts = make_points({"a": (300, 40), "b": (1060, 700), "c": (-80, -60)})
    s = snapping.snap(walk_net, pts)
    seg_nodes = {
        i: {int(walk_net.node_id[walk_net.seg_a[k]]), int(walk_net.node_id[walk_net.seg_b[k]])}
        for i, k in s["segment"].items()
    }
    assert seg_nodes["a"] == {1, 2} and seg_nodes["b"] == {2, 3}
    # distance along from node 1 (or 2) in metres, within projection scale error
    a_from_1 = (
        s.loc["a", "offset_m"]
        if walk_net.node_id[walk_net.seg_a[s.loc["a", "segment"]]] == 1
        else 1000 - s.loc["a", "offset_m"]
    )
    assert a_from_1 == pytest.approx(300, rel=3e-3)
    assert s.loc["a", "leg_m"] == pytest.approx(40, rel=3e-3)
    assert s.loc["b", "leg_m"] == pytest.approx(60, rel=3e-3)
    # beyond the segment's end: clamped to node 1, leg is the distance to it
    assert s.loc["c", "leg_m"] == pytest.approx(100, rel=3e-3)
    assert s.loc["c", "fraction"] in (0.0, 1.0)


def test_leg_seconds_use_walk_speed_and_far_flag(walk_net) -> None:
    pts = make_points({"near": (500, 90), "far": (500, 450)})
    s = snapping.snap(walk_net, pts, max_snap_m=300, walk_speed_kmh=3.6)
    assert s.loc["near", "leg_s"] == pytest.approx(90, rel=3e-3)  # 3.6 km/h = 1 m/s
    assert s.loc["far", "leg_s"] == pytest.approx(450, rel=3e-3)
    assert s["flag"].to_dict() == {"near": "ok", "far": "far"}


def test_accepts_other_crs_and_keeps_index(walk_net) -> None:
    pts = make_points({10: (200, 10), 20: (800, -10)}).to_crs(TEST_CRS)
    s = snapping.snap(walk_net, pts)
    assert list(s.index) == [10, 20]
    assert s["leg_m"].to_numpy() == pytest.approx([10, 10], rel=3e-3)


def test_empty_points(walk_net) -> None:
    empty = gpd.GeoDataFrame(geometry=[], crs=4326)
    s = snapping.snap(walk_net, empty)
    assert len(s) == 0 and "leg_m" in s.columns


def test_bad_inputs(walk_net) -> None:
    pts = make_points({"a": (0, 0)})
    with pytest.raises(ValidationError, match="no CRS"):
        snapping.snap(walk_net, gpd.GeoDataFrame(geometry=[shapely.Point(114, 34)]))
    with pytest.raises(ValidationError, match="unique"):
        snapping.snap(
            walk_net,
            gpd.GeoDataFrame(geometry=[shapely.Point(114, 34)] * 2, index=[1, 1], crs=4326),
        )
    with pytest.raises(ValidationError, match="only Point"):
        snapping.snap(
            walk_net, gpd.GeoDataFrame(geometry=[shapely.box(114, 34, 114.1, 34.1)], crs=4326)
        )
    with pytest.raises(ValidationError, match="max_snap_m"):
        snapping.snap(walk_net, pts, max_snap_m=0)
    with pytest.raises(ValidationError, match="walk_speed_kmh"):
        snapping.snap(walk_net, pts, walk_speed_kmh=-1)
    with pytest.raises(ValidationError, match="GeoDataFrame"):
        snapping.snap(walk_net, np.zeros(3))  # type: ignore[arg-type]
