"""Nearest-facility times and counts: hand-worked cases and a brute-force property test."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from accessibility import engine, network, snapping
from accessibility._errors import ValidationError

from .conftest import TEST_CRS, make_points, make_roads

REL = 3e-3  # layout metres vs geodesic lengths


def router(coords, ways, mode, origins, facilities, **snap_kw) -> engine.Router:
    net = network.build(make_roads(coords, ways), mode=mode, crs=TEST_CRS, **snap_kw)
    o = snapping.snap(net, make_points(origins))
    f = snapping.snap(net, make_points(facilities))
    return engine.Router.build(net, o, f)


# A one-way clockwise square of 1 km sides: A(1)->B(2)->C(3)->D(4)->A(1).
SQUARE = {1: (0, 0), 2: (1000, 0), 3: (1000, 1000), 4: (0, 1000)}
ONEWAY_SQUARE = [([1, 2, 3, 4, 1], "residential", 1)]
CAR_SIDE_S = 1000 / (20 / 3.6)  # 180 s per residential side by car
WALK_SIDE_S = 1000 / (4.5 / 3.6)  # 800 s per side on foot


def test_one_way_time_to_differs_from_time_from() -> None:
    # origin at A, facility at B: one side by car. Swapped: three sides.
    to_b = router(SQUARE, ONEWAY_SQUARE, "car", {"o": (0, 0)}, {"f": (1000, 0)}).nearest()
    from_b = router(SQUARE, ONEWAY_SQUARE, "car", {"o": (1000, 0)}, {"f": (0, 0)}).nearest()
    assert to_b.loc["o", "time_s"] == pytest.approx(CAR_SIDE_S, rel=REL)
    assert from_b.loc["o", "time_s"] == pytest.approx(3 * CAR_SIDE_S, rel=REL)
    walk = router(SQUARE, ONEWAY_SQUARE, "walk", {"o": (1000, 0)}, {"f": (0, 0)}).nearest()
    assert walk.loc["o", "time_s"] == pytest.approx(WALK_SIDE_S, rel=REL)


def test_two_points_on_one_one_way_segment() -> None:
    # origin 700 m along A->B, facility 200 m along it: the car must go round the block:
    # 300 m to B, three sides, 200 m from A = 3.5 sides.
    r = router(SQUARE, ONEWAY_SQUARE, "car", {"o": (700, 0)}, {"f": (200, 0)})
    assert r.nearest().loc["o", "time_s"] == pytest.approx(3.5 * CAR_SIDE_S, rel=REL)
    # the other way round it is 500 m straight along the segment
    r = router(SQUARE, ONEWAY_SQUARE, "car", {"o": (200, 0)}, {"f": (700, 0)})
    assert r.nearest().loc["o", "time_s"] == pytest.approx(0.5 * CAR_SIDE_S, rel=REL)


def test_off_network_legs_are_walked_and_added() -> None:
    # origin 100 m south of A's side midpoint, facility 50 m north of C.
    # car: 500 m to B + one side to C, plus 100 m + 50 m walked at 4.5 km/h.
    r = router(SQUARE, ONEWAY_SQUARE, "car", {"o": (500, -100)}, {"f": (1000, 1050)})
    res = r.nearest()
    expected = 1.5 * CAR_SIDE_S + 150 / (4.5 / 3.6)
    assert res.loc["o", "time_s"] == pytest.approx(expected, rel=REL)
    assert res.loc["o", "leg_m"] == pytest.approx(100, rel=REL)
    assert res.loc["o", "flag"] == "ok"


def test_same_place_on_one_way_segment_is_zero_time() -> None:
    r = router(SQUARE, ONEWAY_SQUARE, "car", {"o": (600, 20)}, {"f": (600, -20)})
    assert r.nearest().loc["o", "time_s"] == pytest.approx(40 / 1.25, rel=REL)


def test_point_beyond_segment_end_joins_the_node() -> None:
    # the facility lies beyond node A on the extension of D->A, so it snaps to A itself;
    # a car reaches A from B only by going round: 3 sides. It must not need to enter
    # the one-way side D->A from its far end.
    r = router(SQUARE, ONEWAY_SQUARE, "car", {"o": (1000, 0)}, {"f": (-30, -30)})
    res = r.nearest()
    assert res.loc["o", "time_s"] == pytest.approx(
        3 * CAR_SIDE_S + math.hypot(30, 30) / 1.25, rel=REL
    )


def test_origin_between_two_facilities_on_a_one_way_segment() -> None:
    # A->B is one-way; facilities at 200 m and 800 m, origin at 500 m: the one ahead
    # is 300 m away; the one behind needs the whole loop.
    r = router(
        SQUARE, ONEWAY_SQUARE, "car", {"o": (500, 0)}, {"behind": (200, 0), "ahead": (800, 0)}
    )
    res = r.nearest()
    assert res.loc["o", "facility_id"] == "ahead"
    assert res.loc["o", "time_s"] == pytest.approx(0.3 * CAR_SIDE_S, rel=REL)
    assert r.nearest(["behind"]).loc["o", "time_s"] == pytest.approx(3.7 * CAR_SIDE_S, rel=REL)
    assert r.count_within([0.31 * CAR_SIDE_S, 3.8 * CAR_SIDE_S]).loc["o"].tolist() == [1, 2]


def test_far_origin_is_flagged_but_routed() -> None:
    r = router(SQUARE, ONEWAY_SQUARE, "walk", {"far": (500, -800)}, {"f": (500, 0)})
    res = r.nearest()
    assert res.loc["far", "flag"] == "far_from_road"
    assert res.loc["far", "time_s"] == pytest.approx(800 / (4.5 / 3.6), rel=REL)


def test_nearest_picks_the_right_facility_and_reports_its_id() -> None:
    r = router(
        SQUARE, ONEWAY_SQUARE, "car", {"o": (0, 0)}, {"behind": (0, 300), "ahead": (1000, 500)}
    )
    res = r.nearest()
    # "behind" is 300 m back against the one-way flow: 3 sides + 700 m; "ahead" is 1.5 sides
    assert res.loc["o", "facility_id"] == "ahead"
    assert res.loc["o", "time_s"] == pytest.approx(1.5 * CAR_SIDE_S, rel=REL)
    only_behind = r.nearest(["behind"])
    assert only_behind.loc["o", "facility_id"] == "behind"
    assert only_behind.loc["o", "time_s"] == pytest.approx(3.7 * CAR_SIDE_S, rel=REL)


def test_two_components_unreachable() -> None:
    coords = {**SQUARE, 5: (5000, 0), 6: (6000, 0)}
    ways = [([1, 2, 3, 4, 1], "residential", 0), ([5, 6], "residential", 0)]
    net = network.build(
        make_roads(coords, ways), mode="walk", crs=TEST_CRS, largest_component=False
    )
    o = snapping.snap(net, make_points({"island": (5500, 10), "main": (0, 10)}))
    f = snapping.snap(net, make_points({"f": (1000, 10)}))
    res = engine.Router.build(net, o, f).nearest()
    assert res.loc["island", "flag"] == "unreachable"
    assert math.isinf(res.loc["island", "time_s"]) and pd.isna(res.loc["island", "facility_id"])
    assert res.loc["main", "flag"] == "ok"
    assert res.loc["main", "time_s"] == pytest.approx(WALK_SIDE_S + 10 / 1.25 * 2, rel=REL)


def test_empty_facility_set_is_flagged() -> None:
    r = router(SQUARE, ONEWAY_SQUARE, "walk", {"o": (0, 0)}, {"f": (1000, 0)})
    res = r.nearest([])
    assert res.loc["o", "flag"] == "no_facility"
    assert np.isnan(res.loc["o", "time_s"])
    counts = r.count_within([600.0], [])
    assert counts.loc["o", 600.0] == 0


def test_count_within_thresholds() -> None:
    # walk; facilities at 0, 500, 1500 and 2500 m from the origin around the square
    r = router(
        SQUARE,
        ONEWAY_SQUARE,
        "walk",
        {"o": (0, 0)},
        {"f0": (0, 0), "f1": (500, 0), "f2": (1000, 500), "f3": (500, 1000)},
    )
    m = 1 / 1.25  # seconds per metre on foot
    counts = r.count_within([400 * m, 1000 * m, 1600 * m])
    # f3 is 1500 m both ways round
    assert counts.loc["o"].tolist() == [1, 2, 4]


def test_node_times_for_isochrones() -> None:
    # walk from a facility at B: A and C are one side away, D two
    r = router(SQUARE, ONEWAY_SQUARE, "walk", {"o": (0, 0)}, {"f": (1000, 0)})
    t = r.node_times()
    by_id = dict(zip(r.network.node_id.tolist(), t.tolist()))
    assert by_id[2] == pytest.approx(0.0, abs=1e-9)
    assert by_id[1] == pytest.approx(WALK_SIDE_S, rel=REL) and by_id[3] == pytest.approx(
        WALK_SIDE_S, rel=REL
    )
    assert by_id[4] == pytest.approx(2 * WALK_SIDE_S, rel=REL)
    bounded = r.node_times(limit_s=1.5 * WALK_SIDE_S)
    assert np.isinf(bounded).sum() == 1
    assert np.isinf(r.node_times([])).all()


def test_unknown_facility_ids_and_bad_thresholds() -> None:
    r = router(SQUARE, ONEWAY_SQUARE, "walk", {"o": (0, 0)}, {"f": (1000, 0)})
    with pytest.raises(ValidationError, match="not in this router"):
        r.nearest(["nope"])
    with pytest.raises(ValidationError, match="> 0 seconds"):
        r.count_within([0])
    with pytest.raises(ValidationError, match="limit_s must be finite"):
        r.pairs_within(float("inf"))


# ----------------------------------------------------------------- property test
def _random_layout(rng: np.random.Generator, n: int = 6):
    coords = {}
    for i in range(n):
        for j in range(n):
            coords[i * n + j + 1] = (i * 300 + rng.uniform(-60, 60), j * 300 + rng.uniform(-60, 60))
    ways = []
    classes = ["primary", "tertiary", "residential", "track"]
    for i in range(n):
        for j in range(n):
            here = i * n + j + 1
            for di, dj in ((1, 0), (0, 1)):
                if i + di < n and j + dj < n and rng.random() < 0.85:
                    there = (i + di) * n + j + dj + 1
                    ways.append(
                        ([here, there], classes[rng.integers(4)], int(rng.choice([0, 0, 1, -1])))
                    )
    return coords, ways


def _part(share: float, full: float) -> float:
    """Time over ``share`` of a segment; no time at all for a point at the node itself."""
    return 0.0 if share == 0 else share * full


def _brute_force(net: network.Network, o: pd.DataFrame, f: pd.DataFrame) -> pd.DataFrame:
    """Independent reference: networkx all-pairs times on the plain network, then
    every way out of each origin's segment and into each facility's segment."""
    g = nx.DiGraph()
    for a, b, t in zip(net.u, net.v, net.time_s):
        if not g.has_edge(a, b) or g[a][b]["t"] > t:
            g.add_edge(int(a), int(b), t=float(t))
    d = dict(nx.all_pairs_dijkstra_path_length(g, weight="t"))

    def seg_time(seg: int, forward: bool) -> float:
        sel = (net.segment == seg) & (net.forward == forward)
        return float(net.time_s[sel].min()) if sel.any() else math.inf

    best = {}
    for oid, orow in o.iterrows():
        s, t = int(orow["segment"]), float(orow["fraction"])
        exits = {
            int(net.seg_b[s]): _part(1 - t, seg_time(s, True)),
            int(net.seg_a[s]): _part(t, seg_time(s, False)),
        }
        candidates = []
        for fid, frow in f.iterrows():
            s2, t2 = int(frow["segment"]), float(frow["fraction"])
            entries = {
                int(net.seg_a[s2]): _part(t2, seg_time(s2, True)),
                int(net.seg_b[s2]): _part(1 - t2, seg_time(s2, False)),
            }
            tt = math.inf
            for x, cx in exits.items():
                for y, cy in entries.items():
                    tt = min(tt, cx + d.get(x, {}).get(y, math.inf) + cy)
            if s2 == s:
                if t2 == t:
                    tt = 0.0
                if t2 > t:
                    tt = min(tt, (t2 - t) * seg_time(s, True))
                if t2 < t:
                    tt = min(tt, (t - t2) * seg_time(s, False))
            candidates.append((tt + orow["leg_s"] + frow["leg_s"], fid))
        best[oid] = min(candidates)
    return pd.DataFrame(best, index=["time_s", "facility_id"]).T


@hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), mode=st.sampled_from(["car", "walk", "ebike"]))
def test_multi_source_equals_brute_force_minimum(seed: int, mode: str) -> None:
    rng = np.random.default_rng(seed)
    coords, ways = _random_layout(rng)
    net = network.build(make_roads(coords, ways), mode=mode, crs=TEST_CRS)
    origins = {f"o{k}": tuple(rng.uniform(-100, 1600, 2)) for k in range(12)}
    facilities = {f"f{k}": tuple(rng.uniform(-100, 1600, 2)) for k in range(4)}
    facilities["f_at_o0"] = origins["o0"]  # same place as an origin: zero network time
    facilities["f_by_o1"] = (origins["o1"][0] + 40, origins["o1"][1])  # likely the same segment
    facilities["f_by_o1b"] = (origins["o1"][0] - 40, origins["o1"][1])
    o = snapping.snap(net, make_points(origins))
    f = snapping.snap(net, make_points(facilities))
    r = engine.Router.build(net, o, f)
    ours = r.nearest()
    ref = _brute_force(net, o, f)
    np.testing.assert_allclose(
        ours["time_s"].astype(float), ref["time_s"].astype(float), rtol=1e-9, atol=1e-6
    )
    # the facility returned achieves the minimum (ties may name another facility)
    for oid in origins:
        alone = r.nearest([ours.loc[oid, "facility_id"]]).loc[oid, "time_s"]
        assert alone == pytest.approx(ref.loc[oid, "time_s"], rel=1e-9)
    # counts within a threshold equal the brute-force count over single facilities
    limit = float(np.median(ref["time_s"].astype(float)))
    per_f = pd.concat([r.nearest([fid])["time_s"] for fid in facilities], axis=1)
    expected = (per_f <= limit).sum(axis=1)
    assert r.count_within([limit])[limit].tolist() == expected.tolist()
    # every pair within the limit, with its time, equals the single-facility results
    pairs = r.pairs_within(limit).toarray()
    single = per_f.to_numpy().T  # facilities x origins
    within = single <= limit
    assert np.array_equal(pairs > 0, within)
    np.testing.assert_allclose(
        pairs[within], np.maximum(single[within], 1e-9), rtol=1e-9, atol=1e-6
    )


def test_no_facility_in_the_data_is_not_unreachable() -> None:
    """A group without facilities (no data) and one whose only facility no village reaches."""
    from accessibility import metrics

    coords = {**SQUARE, 5: (5000, 0), 6: (6000, 0)}
    ways = [([1, 2, 3, 4, 1], "residential", 0), ([5, 6], "residential", 0)]
    net = network.build(
        make_roads(coords, ways), mode="walk", crs=TEST_CRS, largest_component=False
    )
    o = snapping.snap(net, make_points({"a": (0, 10), "b": (1000, 10)}))
    fac = make_points({"clinic": (5500, 10)})  # on the island: facilities exist, none reachable
    fac["kind"], fac["tiers"], fac["name"] = "health", "", "Island clinic"
    r = engine.Router.build(net, o, snapping.snap(net, fac))
    table = engine.access(r, fac, ["health", "bus"], thresholds_min=[15])
    assert np.isinf(table["health_time_min"]).all()
    assert (table["health_flag"] == engine.FLAG_UNREACHABLE).all()
    assert table["bus_time_min"].isna().all()
    assert (table["bus_flag"] == engine.FLAG_NO_FACILITY).all()
    s = metrics.summary(
        table, pd.Series({"a": 5.0, "b": 7.0}), ["health", "bus"], thresholds_min=[15]
    )
    assert s.loc["health", "status"] == "none_reachable" and s.loc["health", "unreachable"] == 2
    assert s.loc["health", "within_15_pop_share"] == 0.0
    assert s.loc["bus", "status"] == "no_data" and s.loc["bus", "unreachable"] == 0
    assert np.isnan(s.loc["bus", "within_15_pop_share"])
