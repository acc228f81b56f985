"""Isochrones from the reached streets: reached nodes and edge parts inside, the rest outside."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely

from accessibility import engine, isochrones, network, snapping
from accessibility._errors import ValidationError

from .conftest import TEST_CRS, lonlat, make_points, make_roads

WALK = 4.5 / 3.6  # m/s
BUF = 10.0  # metres of buffer in these tests
EPS = 3.0  # metres of slack: layout metres vs geodesic lengths (≈ 0.04 %)

# A street along x with a side street going north from node 2:
#   5 (400, 600)
#   |
#   1 (0,0) --- 2 (400,0) --- 3 (800,0) --- 4 (1200,0)
COORDS = {1: (0, 0), 2: (400, 0), 3: (800, 0), 4: (1200, 0), 5: (400, 600)}
WAYS = [([1, 2, 3, 4], "residential", 0), ([2, 5], "residential", 0)]


@pytest.fixture(scope="module")
def net() -> network.Network:
    return network.build(make_roads(COORDS, WAYS), mode="walk", crs=TEST_CRS)


def times_from(net: network.Network, facility_xy: tuple[float, float], limit_s: float):
    o = snapping.snap(net, make_points({"o": (0, 0)}))
    f = snapping.snap(net, make_points({"f": facility_xy}))
    router = engine.Router.build(net, o, f)
    sources = pd.DataFrame(
        {"segment": f["segment"], "fraction": f["fraction"], "time_s": f["leg_s"]}
    )
    return router.node_times(limit_s=limit_s), sources


def inside(poly: shapely.Geometry, x: float, y: float) -> bool:
    return bool(poly.contains(shapely.Point(lonlat(x, y))))


def test_reached_nodes_and_edge_parts_from_a_facility_at_a_node(net) -> None:
    # 6 minutes at 1.25 m/s = 450 m: node 2 (400 m) and 50 m beyond it on both streets
    limit_min = 6
    times, _ = times_from(net, (0, 0), limit_min * 60)
    iso = isochrones.polygons(net, times, limits_min=[limit_min], buffer_m=BUF)
    assert iso.crs.to_epsg() == 4326
    poly = iso.geometry.iloc[0]
    assert iso.loc[6.0, "reached_nodes"] == 2
    assert iso.loc[6.0, "reached_km"] == pytest.approx(0.5, rel=2e-3)
    reach = limit_min * 60 * WALK  # 450 m of street
    for x, y in [(0, 0), (200, 0), (400, 0), (reach - 5, 0), (400, reach - 400 - 5)]:
        assert inside(poly, x, y), (x, y)
    # the buffer reaches BUF beyond the reached part of a partly reached edge, no further
    assert inside(poly, reach + BUF - EPS, 0)
    assert not inside(poly, reach + BUF + EPS, 0)
    assert inside(poly, 400, reach - 400 + BUF - EPS)
    assert not inside(poly, 400, reach - 400 + BUF + EPS)
    # no unreached node, and nothing off the streets beyond the buffer
    for x, y in [(800, 0), (1200, 0), (400, 600), (200, BUF + EPS), (200, -BUF - EPS)]:
        assert not inside(poly, x, y), (x, y)


def test_a_facility_inside_a_segment_reaches_both_ways(net) -> None:
    # facility at x = 600 on the segment 2–3; 2 minutes = 150 m each way: [450, 750]
    times, sources = times_from(net, (600, 0), 120)
    assert not np.isfinite(times).any() or (times[np.isfinite(times)] > 120).all()
    with_src = isochrones.polygons(net, times, limits_min=[2], buffer_m=BUF, sources=sources)
    poly = with_src.geometry.iloc[0]
    for x in (460, 600, 740, 450 - BUF + EPS, 750 + BUF - EPS):
        assert inside(poly, x, 0), x
    for x in (450 - BUF - EPS, 750 + BUF + EPS, 400, 800):
        assert not inside(poly, x, 0), x
    # without the facility's own position only the segment ends count: nothing is reached
    bare = isochrones.polygons(net, times, limits_min=[2], buffer_m=BUF)
    assert bare.geometry.iloc[0].is_empty and bare["area_km2"].iloc[0] == 0


def test_longer_limits_contain_shorter_ones(net) -> None:
    times, sources = times_from(net, (600, 0), 20 * 60)
    iso = isochrones.polygons(net, times, limits_min=[10, 2, 5], sources=sources)
    assert list(iso.index) == [2.0, 5.0, 10.0]
    assert iso["area_km2"].is_monotonic_increasing
    g = iso.geometry
    assert g.loc[10.0].buffer(1e-7).contains(g.loc[5.0])
    assert g.loc[5.0].buffer(1e-7).contains(g.loc[2.0])
    # 10 minutes = 750 m from x = 600: every node but the far end of the side street
    assert iso.loc[10.0, "reached_nodes"] == 4
    assert not inside(g.loc[10.0], 400, 600)


def test_reached_intervals_merge_overlaps(net) -> None:
    node = {int(osm): i for i, osm in enumerate(net.node_id)}
    times = np.full(net.n_nodes, np.inf)
    times[[node[1], node[2]]] = 0.0  # both ends of the segment 1–2 are sources
    iv = isochrones.reached_intervals(net, times, 0.75 * 400 / WALK)
    by_seg = {int(r.segment): (r.start, r.end) for r in iv.itertuples()}
    assert len(iv) == len(by_seg)  # one merged interval per segment
    first = next(
        s for s in range(net.n_segments) if {net.seg_a[s], net.seg_b[s]} == {node[1], node[2]}
    )
    assert by_seg[first] == (0.0, 1.0)  # 75 % from each end: reached whole


def test_one_way_streets_are_reached_only_against_their_direction() -> None:
    # a clockwise one-way square of 1 km sides; a car must reach the facility at node 2
    square = {1: (0, 0), 2: (1000, 0), 3: (1000, 1000), 4: (0, 1000)}
    car = network.build(
        make_roads(square, [([1, 2, 3, 4, 1], "residential", 1)]), mode="car", crs=TEST_CRS
    )
    side_s = 1000 / (20 / 3.6)
    times, sources = times_from(car, (1000, 0), side_s / 2)
    poly = isochrones.polygons(
        car, times, limits_min=[side_s / 2 / 60], buffer_m=BUF, sources=sources
    ).geometry.iloc[0]
    assert inside(poly, 700, 0)  # on 1→2, 300 m before the facility
    assert not inside(poly, 300, 0)  # 700 m before it: too far
    assert not inside(poly, 1000, 300)  # just after it on 2→3: a car must go round the block


def test_bad_inputs(net) -> None:
    times = np.zeros(net.n_nodes)
    with pytest.raises(ValidationError, match="one value per network node"):
        isochrones.polygons(net, times[:-1], limits_min=[5])
    with pytest.raises(ValidationError, match="NaN; use inf"):
        isochrones.polygons(net, np.full(net.n_nodes, np.nan), limits_min=[5])
    with pytest.raises(ValidationError, match="limits_min must be one or more"):
        isochrones.polygons(net, times, limits_min=[0])
    with pytest.raises(ValidationError, match="limits_min must be numbers"):
        isochrones.polygons(net, times, limits_min=["soon"])
    with pytest.raises(ValidationError, match="buffer_m must be a positive"):
        isochrones.polygons(net, times, limits_min=[5], buffer_m=0)
    with pytest.raises(ValidationError, match=r"sources lack columns \['time_s'\]"):
        isochrones.polygons(
            net, times, limits_min=[5], sources=pd.DataFrame({"segment": [0], "fraction": [0.5]})
        )
