"""Snapping points onto the nearest segment: positions, legs, flags, bad input; the grid
search against an exhaustive search, the former STRtree search and the sample county."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from accessibility import engine, network, pipeline, snapping
from accessibility._errors import ValidationError
from accessibility.settings import settings

from .conftest import TEST_CRS, X0, Y0, make_points, make_roads

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


def test_non_finite_point_coordinates_are_rejected(walk_net) -> None:
    pts = gpd.GeoDataFrame(geometry=[shapely.Point(0.0, np.inf)], index=["x"], crs=TEST_CRS)
    with pytest.raises(ValidationError, match="finite"):
        snapping.snap(walk_net, pts)


# --------------------------------------------------------------------------- grid search
# The nearest-segment search against two references: the former STRtree search (kept
# here) and an exhaustive search with the same arithmetic as ``snap``'s projection.


def strtree_nearest(net: network.Network, px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """The former search: one shapely line per segment, STRtree, lowest index on ties."""
    tree = shapely.STRtree(snapping.segment_lines(net))
    idx, _ = tree.query_nearest(shapely.points(px, py), all_matches=True, return_distance=True)
    pair = pd.DataFrame({"point": idx[0], "segment": idx[1]}).sort_values(["point", "segment"])
    pair = pair.drop_duplicates("point")
    assert np.array_equal(pair["point"].to_numpy(), np.arange(px.size))
    return pair["segment"].to_numpy()


def strtree_snap(net: network.Network, points: gpd.GeoDataFrame, max_snap_m: float) -> pd.DataFrame:
    """``snap`` after validation with STRtree searches, for whole-table comparisons: the
    nearest segment, a ground-level one within ``max_snap_m`` instead of a raised one,
    ends within ``END_TOLERANCE_M`` taken as the end, the cut-off flag."""
    pts = points.geometry.to_crs(net.crs)
    px, py = pts.x.to_numpy(), pts.y.to_numpy()
    seg = strtree_nearest(net, px, py).copy()
    lines = snapping.segment_lines(net)
    nearest_m = shapely.distance(shapely.points(px, py), lines[seg])
    ground = np.flatnonzero(~net.raised)
    up = np.flatnonzero(net.raised[seg])
    if up.size and ground.size:
        tree = shapely.STRtree(lines[ground])
        idx, d = tree.query_nearest(shapely.points(px[up], py[up]), return_distance=True)
        pair = pd.DataFrame({"p": idx[0], "s": ground[idx[1]], "d": d}).sort_values(["p", "s"])
        pair = pair.drop_duplicates("p")
        near = pair["d"].to_numpy() <= max_snap_m
        seg[up[pair["p"].to_numpy()[near]]] = pair["s"].to_numpy()[near]
    t, sx, sy, leg = project(net, seg, px, py)
    ax, ay = net.x[net.seg_a[seg]], net.y[net.seg_a[seg]]
    bx, by = net.x[net.seg_b[seg]], net.y[net.seg_b[seg]]
    planar = np.hypot(bx - ax, by - ay)
    for i in range(t.size):
        if 0.0 < t[i] and t[i] * planar[i] < snapping.END_TOLERANCE_M:
            t[i], sx[i], sy[i] = 0.0, ax[i], ay[i]
        elif t[i] < 1.0 and (1.0 - t[i]) * planar[i] < snapping.END_TOLERANCE_M:
            t[i], sx[i], sy[i] = 1.0, bx[i], by[i]
    flag = np.where(leg > max_snap_m, snapping.FLAG_FAR, snapping.FLAG_OK).astype(object)
    if net.cut_x.size:
        # the point's road among kept and cut-off segments, by the same level rule
        cut = shapely.linestrings(np.stack([net.cut_x, net.cut_y], axis=1).reshape(-1, 2, 2))
        d_cut = shapely.distance(shapely.points(px, py)[:, None], cut[None, :])
        d_any = d_cut.min(axis=1)
        d_ground = np.where(net.cut_raised[None, :], np.inf, d_cut).min(axis=1)
        kept_ground = np.where(
            net.raised[None, :], np.inf, shapely.distance(shapely.points(px, py)[:, None], lines)
        ).min(axis=1)
        on_ground = np.minimum(kept_ground, d_ground) <= max_snap_m
        margin = snapping.CUT_OFF_MARGIN_M
        cut_off = np.where(
            on_ground,
            d_ground + margin < kept_ground,
            (d_any + margin < nearest_m) & (d_any <= max_snap_m),
        )
        flag[cut_off] = snapping.FLAG_ROAD_CUT_OFF
    flag = flag.astype(str)
    seg_len = np.zeros(net.n_segments)
    seg_len[net.segment] = net.length_m
    return pd.DataFrame(
        {
            "segment": seg.astype(np.int64),
            "fraction": t,
            "offset_m": t * seg_len[seg],
            "leg_m": leg,
            "leg_s": leg / (settings.walk_speed_kmh / 3.6),
            "snap_x": sx,
            "snap_y": sy,
            "flag": flag,
        },
        index=points.index,
    )


def project(
    net: network.Network, seg: np.ndarray, px: np.ndarray, py: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fraction, projected point and leg (metres) of each point on its segment, as ``snap``."""
    ax, ay = net.x[net.seg_a[seg]], net.y[net.seg_a[seg]]
    bx, by = net.x[net.seg_b[seg]], net.y[net.seg_b[seg]]
    dx, dy = bx - ax, by - ay
    len2 = dx * dx + dy * dy
    with np.errstate(invalid="ignore", divide="ignore"):
        t = ((px - ax) * dx + (py - ay) * dy) / len2
    t = np.where(len2 > 0, np.clip(t, 0.0, 1.0), 0.0)
    sx, sy = ax + t * dx, ay + t * dy
    return t, sx, sy, np.hypot(px - sx, py - sy)


def exhaustive_nearest(net: network.Network, px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """Lowest-index segment at the smallest leg, every segment tried for every point."""
    out = np.empty(px.size, dtype=np.int64)
    every = np.arange(net.n_segments)
    for i in range(px.size):
        _, _, _, leg = project(net, every, np.full(every.size, px[i]), np.full(every.size, py[i]))
        out[i] = int(np.argmin(leg))  # the first of equal minima
    return out


def make_net(x: np.ndarray, y: np.ndarray, seg_a: np.ndarray, seg_b: np.ndarray) -> network.Network:
    """A network straight from node coordinates (layout metres) and segment ends."""
    n, m = x.size, seg_a.size
    length = np.hypot(x[seg_b] - x[seg_a], y[seg_b] - y[seg_a])
    return network.Network(
        mode="walk",
        crs=TEST_CRS,
        node_id=np.arange(n, dtype=np.int64),
        x=X0 + np.asarray(x, dtype=float),
        y=Y0 + np.asarray(y, dtype=float),
        lon=np.zeros(n),
        lat=np.zeros(n),
        u=np.asarray(seg_a, dtype=np.int32),
        v=np.asarray(seg_b, dtype=np.int32),
        length_m=length,
        time_s=length,
        highway=np.zeros(m, dtype=np.int16),
        highway_classes=["residential"],
        segment=np.arange(m, dtype=np.int32),
        seg_a=np.asarray(seg_a, dtype=np.int32),
        seg_b=np.asarray(seg_b, dtype=np.int32),
        forward=np.ones(m, dtype=bool),
    )


def street_grid(rng: np.random.Generator, side: int, spacing: float) -> network.Network:
    """A jittered street grid with some cells' diagonals and a few long diagonal roads."""
    gx, gy = np.meshgrid(np.arange(side) * spacing, np.arange(side) * spacing)
    x = gx.ravel() + rng.uniform(-0.2, 0.2, side * side) * spacing
    y = gy.ravel() + rng.uniform(-0.2, 0.2, side * side) * spacing
    node = np.arange(side * side).reshape(side, side)
    a = [node[:, :-1].ravel(), node[:-1, :].ravel(), node[:-1, :-1].ravel()[::7]]
    b = [node[:, 1:].ravel(), node[1:, :].ravel(), node[1:, 1:].ravel()[::7]]
    long_a = rng.integers(0, side * side, 12)
    long_b = rng.integers(0, side * side, 12)
    a = np.concatenate([*a, long_a, [node[0, 0], node[0, -1]]])
    b = np.concatenate([*b, long_b, [node[-1, -1], node[-1, 0]]])  # the two full diagonals
    keep = rng.random(a.size) > 0.1
    return make_net(x, y, a[keep], b[keep])


def degenerate_net(rng: np.random.Generator) -> network.Network:
    """Collinear overlapping segments, duplicated and reversed ones, zero-length ones."""
    line_x = np.array([0.0, 100.0, 200.0, 300.0, 400.0, 250.0])
    line_y = np.zeros(line_x.size)
    x = np.concatenate([line_x, [50.0, 50.0, 330.0, 330.0], rng.uniform(-200, 600, 20)])
    y = np.concatenate([line_y, [80.0, 80.0, -60.0, -60.0], rng.uniform(-200, 200, 20)])
    a = [0, 1, 0, 2, 0, 3, 4, 1, 0, 6, 8, 7, 5, 5]
    b = [2, 3, 3, 4, 4, 2, 0, 3, 2, 7, 9, 7, 1, 5]  # (0,2) twice, (3,2)~(2,3), zero-length 7-7, 5-5
    extra = np.arange(10, x.size)
    a = np.concatenate([a, extra[:-1]])
    b = np.concatenate([b, extra[1:]])
    return make_net(x, y, a, b)


def sample_points(
    rng: np.random.Generator, net: network.Network, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Points inside the extent, on segments, exactly on nodes, on node coordinates'
    grid lines, and far outside the extent in every direction (metric CRS)."""
    x0, x1, y0, y1 = net.x.min(), net.x.max(), net.y.min(), net.y.max()
    w, h = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
    inside_x = rng.uniform(x0 - 0.1 * w, x1 + 0.1 * w, n)
    inside_y = rng.uniform(y0 - 0.1 * h, y1 + 0.1 * h, n)
    s = rng.integers(0, net.n_segments, n)
    t = rng.random(n)
    t[: n // 10] = 0.5
    ax, ay = net.x[net.seg_a[s]], net.y[net.seg_a[s]]
    on_x = ax + t * (net.x[net.seg_b[s]] - ax)
    on_y = ay + t * (net.y[net.seg_b[s]] - ay)
    nodes = rng.integers(0, net.x.size, n // 2)
    grid_x = net.x[rng.integers(0, net.x.size, n // 4)]
    grid_y = rng.uniform(y0, y1, n // 4)
    angle = rng.uniform(0, 2 * np.pi, n // 2)
    dist = np.exp(rng.uniform(np.log(10 * (w + h)), np.log(1e7), n // 2))
    far_x = (x0 + x1) / 2 + dist * np.cos(angle)
    far_y = (y0 + y1) / 2 + dist * np.sin(angle)
    corners_x = np.array([x0 - 5e3, x1 + 5e3, x0 - 5e3, x1 + 5e3, x0 - 1e6, x1 + 0.5])
    corners_y = np.array([y0 - 5e3, y0 - 5e3, y1 + 5e3, y1 + 5e3, (y0 + y1) / 2, y0 - 0.5])
    px = np.concatenate([inside_x, on_x, net.x[nodes], grid_x, far_x, corners_x])
    py = np.concatenate([inside_y, on_y, net.y[nodes], grid_y, far_y, corners_y])
    return px, py


def check_against_references(net: network.Network, px: np.ndarray, py: np.ndarray) -> int:
    """Assert the grid search equals the exhaustive one and agrees with the STRtree one;
    return how many points the STRtree resolved to another segment at the same distance."""
    got = snapping.nearest_segment(net, px, py)
    np.testing.assert_array_equal(got, exhaustive_nearest(net, px, py))
    ref = strtree_nearest(net, px, py)
    leg_got = project(net, got, px, py)[3]
    leg_ref = project(net, ref, px, py)[3]
    np.testing.assert_allclose(leg_got, leg_ref, rtol=0, atol=1e-9)
    differ = np.flatnonzero(got != ref)
    if differ.size:
        lines = snapping.segment_lines(net)
        pts = shapely.points(px[differ], py[differ])
        d_got = shapely.distance(pts, lines[got[differ]])
        d_ref = shapely.distance(pts, lines[ref[differ]])
        np.testing.assert_allclose(d_got, d_ref, rtol=0, atol=1e-9)
        # a tie: the lower index, unless the projection's arithmetic puts it strictly closer
        assert (
            (leg_got[differ] < leg_ref[differ])
            | ((leg_got[differ] == leg_ref[differ]) & (got[differ] < ref[differ]))
        ).all()
    return int(differ.size)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_grid_search_on_street_grids(seed) -> None:
    rng = np.random.default_rng(seed)
    net = street_grid(rng, side=int(rng.integers(8, 30)), spacing=float(rng.uniform(30, 400)))
    px, py = sample_points(rng, net, 600)
    check_against_references(net, px, py)


def test_grid_search_on_random_segments() -> None:
    """Segments between random nodes: long, crossing, of every direction."""
    rng = np.random.default_rng(7)
    x, y = rng.uniform(0, 20_000, 300), rng.uniform(0, 8_000, 300)
    net = make_net(x, y, rng.integers(0, 300, 500), rng.integers(0, 300, 500))
    px, py = sample_points(rng, net, 400)
    check_against_references(net, px, py)


def test_grid_search_ties_zero_length_and_overlaps() -> None:
    rng = np.random.default_rng(11)
    net = degenerate_net(rng)
    px, py = sample_points(rng, net, 400)
    # points on the shared line and at the zero-length segments
    line = X0 + np.array([-50.0, 0.0, 60.0, 100.0, 150.0, 250.0, 300.0, 399.0, 450.0])
    px = np.concatenate([px, line, line, X0 + np.array([50.0, 52.0, 330.0, 250.0])])
    py = np.concatenate(
        [py, np.full(line.size, Y0), np.full(line.size, Y0 + 7.0), Y0 + np.array([80, 81, -61, 0])]
    )
    check_against_references(net, px, py)
    got = snapping.nearest_segment(net, px[-4:], py[-4:])
    # duplicated / reversed / overlapping segments: the lowest index at the smallest leg
    assert got.tolist() == [9, 9, 10, 1]


def test_grid_search_degenerate_extents() -> None:
    rng = np.random.default_rng(3)
    # every node on one horizontal line; then every node at one spot
    line = make_net(
        np.sort(rng.uniform(0, 5000, 50)), np.zeros(50), np.arange(49), np.arange(1, 50)
    )
    px, py = sample_points(rng, line, 200)
    check_against_references(line, px, py)
    spot = make_net(np.zeros(3), np.zeros(3), np.array([0, 1]), np.array([1, 2]))
    px, py = sample_points(rng, spot, 50)
    assert (snapping.nearest_segment(spot, px, py) == 0).all()
    one = make_net(np.array([0.0, 10.0]), np.array([0.0, 10.0]), np.array([0]), np.array([1]))
    px, py = sample_points(rng, one, 50)
    assert (snapping.nearest_segment(one, px, py) == 0).all()


def test_snap_table_equals_the_strtree_one_on_a_street_grid() -> None:
    rng = np.random.default_rng(5)
    net = street_grid(rng, side=25, spacing=250.0)
    px, py = sample_points(rng, net, 500)
    pts = gpd.GeoDataFrame(geometry=shapely.points(px, py), crs=TEST_CRS)
    got = snapping.snap(net, pts, max_snap_m=500.0)
    ref = strtree_snap(net, pts, 500.0)
    same = got["segment"] == ref["segment"]
    assert same.mean() > 0.99
    pd.testing.assert_frame_equal(got[same], ref[same], check_exact=True)
    np.testing.assert_allclose(got["leg_m"], ref["leg_m"], rtol=0, atol=1e-9)
    assert (got["flag"] == ref["flag"]).all()


# --------------------------------------------------------------------------- sample county
@pytest.fixture(scope="module")
def sample_study(tmp_path_factory):
    settings.root = tmp_path_factory.mktemp("root")
    try:
        return pipeline.prepare("sample", mode="walk", progress=False)
    finally:
        settings.root = None


def test_sample_county_snap_tables_are_unchanged(sample_study) -> None:
    st = sample_study
    max_snap_m = st.meta["max_snap_m"]
    for points, table in [(st.origins, st.origin_snap), (st.facilities, st.facility_snap)]:
        ref = strtree_snap(st.network, points, max_snap_m)
        pd.testing.assert_frame_equal(table, ref, check_exact=True)
    # and many more points over the county and around it
    net = st.network
    rng = np.random.default_rng(0)
    px, py = sample_points(rng, net, 3000)
    pts = gpd.GeoDataFrame(geometry=shapely.points(px, py), crs=net.crs)
    got = snapping.snap(net, pts, max_snap_m=max_snap_m)
    pd.testing.assert_frame_equal(got, strtree_snap(net, pts, max_snap_m), check_exact=True)


# --------------------------------------------------------------------------- masks
@pytest.mark.parametrize("seed", [0, 1])
def test_grid_search_on_a_subset_of_segments(seed) -> None:
    rng = np.random.default_rng(seed)
    net = street_grid(rng, side=20, spacing=150.0)
    px, py = sample_points(rng, net, 300)
    for share in (0.5, 0.05):
        mask = rng.random(net.n_segments) < share
        got = snapping.nearest_segment(net, px, py, mask=mask)
        chosen = np.flatnonzero(mask)
        expected = np.empty(px.size, dtype=np.int64)
        for i in range(px.size):
            leg = project(net, chosen, np.full(chosen.size, px[i]), np.full(chosen.size, py[i]))[3]
            expected[i] = chosen[int(np.argmin(leg))]
        np.testing.assert_array_equal(got, expected)
    none = snapping.nearest_segment(net, px, py, mask=np.zeros(net.n_segments, dtype=bool))
    assert (none == -1).all()


# --------------------------------------------------------------------------- road rules on OSM
def read_net(path, mode: str) -> network.Network:
    from accessibility.sources import osm

    return network.build(osm.read(path).roads, mode=mode, crs=TEST_CRS)


def segment_ways(net: network.Network, seg: int) -> set[int]:
    return {int(net.node_id[net.seg_a[seg]]), int(net.node_id[net.seg_b[seg]])}


@pytest.mark.parametrize(
    ("tags", "raised"),
    [
        ({"tunnel": "yes", "layer": "-1"}, True),
        ({"bridge": "yes"}, True),
        ({"layer": "1"}, True),
        ({"covered": "yes"}, True),
        ({"tunnel": "no", "layer": "0"}, False),
    ],
)
def test_ground_street_is_preferred_to_a_tunnel_beside_it(tmp_path, tags, raised) -> None:
    """A street 1-2 and, 30 m north of it, a tunnel 3-4 joined at both ends; the
    village is 6 m from the tunnel and 24 m from the street."""
    from .osm_xml import write_osm

    nodes = {1: (0, 0), 2: (1000, 0), 3: (0, 30), 4: (1000, 30)}
    path = write_osm(
        tmp_path / "tunnel.osm",
        nodes,
        [
            (1, [1, 2], {"highway": "residential"}),
            (2, [3, 4], {"highway": "residential", **tags}),
            (3, [1, 3], {"highway": "service"}),
            (4, [2, 4], {"highway": "service"}),
        ],
    )
    net = read_net(path, "walk")
    village = make_points({"v": (500, 24)})
    s = snapping.snap(net, village, max_snap_m=300)
    f = snapping.snap(net, make_points({"school": (1000, -20)}), max_snap_m=300)
    res = engine.Router.build(net, s, f).nearest()
    seconds = res["time_s"].iloc[0] - s["leg_s"].iloc[0] - f["leg_s"].iloc[0]
    if raised:
        assert segment_ways(net, s["segment"].iloc[0]) == {1, 2}
        assert s["leg_m"].iloc[0] == pytest.approx(24, rel=3e-3)
        assert seconds == pytest.approx(500 / 1.25, rel=3e-3)
    else:
        assert segment_ways(net, s["segment"].iloc[0]) == {3, 4}
        assert s["leg_m"].iloc[0] == pytest.approx(6, rel=3e-2)
        assert seconds == pytest.approx((500 + 30) / 1.25, rel=3e-3)
    # no ground road within max_snap_m: the nearest, raised or not
    s = snapping.snap(net, village, max_snap_m=20)
    assert segment_ways(net, s["segment"].iloc[0]) == {3, 4}


def test_a_tunnel_closed_to_cars_is_never_a_car_snap(tmp_path) -> None:
    from .osm_xml import write_osm

    nodes = {1: (0, 0), 2: (1000, 0), 3: (0, 30), 4: (1000, 30)}
    path = write_osm(
        tmp_path / "tunnel.osm",
        nodes,
        [
            (1, [1, 2], {"highway": "residential"}),
            (2, [3, 4], {"highway": "service", "tunnel": "yes", "layer": "-4", "motorcar": "no"}),
            (3, [1, 3], {"highway": "service"}),
            (4, [2, 4], {"highway": "service"}),
        ],
    )
    net = read_net(path, "car")
    s = snapping.snap(net, make_points({"v": (500, 29)}), max_snap_m=10)
    assert segment_ways(net, s["segment"].iloc[0]) != {3, 4}
    assert s["flag"].iloc[0] == snapping.FLAG_FAR


def test_one_way_segment_end_within_tolerance_is_the_end_node(tmp_path) -> None:
    """One-way 1 -> 2 (1 km), back 2 -> 3 -> 1 two-way, a two-way street 0 - 1 (500 m)
    to the school at node 0. A point 0.5 mm inside 1 -> 2 stands on node 1: by car it
    drives 500 m to the school (90 s at 20 km/h), not round the loop (about 2,780 m)."""
    from .osm_xml import write_osm

    nodes = {1: (0, 0), 2: (1000, 0), 3: (500, 400), 10: (-500, 0)}
    path = write_osm(
        tmp_path / "oneway.osm",
        nodes,
        [
            (1, [1, 2], {"highway": "residential", "oneway": "yes"}),
            (2, [2, 3, 1], {"highway": "residential"}),
            (3, [10, 1], {"highway": "residential"}),
        ],
    )
    net = read_net(path, "car")
    n1 = int(np.flatnonzero(net.node_id == 1)[0])
    n2 = int(np.flatnonzero(net.node_id == 2)[0])
    ux, uy = net.x[n2] - net.x[n1], net.y[n2] - net.y[n1]
    unit = np.array([ux, uy]) / np.hypot(ux, uy)
    pts = {
        "start_half_mm": (net.x[n1], net.y[n1], 0.0005),
        "end_half_mm": (net.x[n2], net.y[n2], -0.0005),
        "start_2_mm": (net.x[n1], net.y[n1], 0.002),
    }
    geoms = [shapely.Point(x + d * unit[0], y + d * unit[1]) for x, y, d in pts.values()]
    points = gpd.GeoDataFrame(geometry=geoms, index=list(pts), crs=TEST_CRS)
    s = snapping.snap(net, points)
    one_way = s.loc["start_half_mm", "segment"]
    assert segment_ways(net, one_way) == {1, 2}
    start_frac = 0.0 if net.seg_a[one_way] == n1 else 1.0
    assert s.loc["start_half_mm", "fraction"] == start_frac
    assert s.loc["end_half_mm", "fraction"] == 1.0 - start_frac
    assert s.loc["start_half_mm", ["snap_x", "snap_y"]].tolist() == [net.x[n1], net.y[n1]]
    assert 0.0 < s.loc["start_2_mm", "fraction"] < 1.0
    school = snapping.snap(net, make_points({"school": (-520, 0)}))
    res = engine.Router.build(net, s, school).nearest()
    network_s = res["time_s"] - s["leg_s"] - school["leg_s"].iloc[0]
    assert network_s["start_half_mm"] == pytest.approx(500 / (20 / 3.6), rel=3e-3)
    loop_m = 1000 + 2 * np.hypot(500, 400) + 500
    assert network_s["start_2_mm"] == pytest.approx(loop_m / (20 / 3.6), rel=3e-3)


def test_village_on_a_cut_off_road(tmp_path) -> None:
    """A square of streets and, inside it, a road 10-11 joined to nothing: the village
    10 m from that road is flagged road_cut_off, snapped to the square and routed."""
    from .osm_xml import write_osm

    nodes = {
        1: (0, 0),
        2: (1000, 0),
        3: (1000, 1000),
        4: (0, 1000),
        10: (200, 150),
        11: (800, 150),
        20: (200, -14),
        21: (800, -14),
        30: (300, 40),
        31: (700, 40),
    }
    path = write_osm(
        tmp_path / "cut.osm",
        nodes,
        [
            (1, [1, 2, 3, 4, 1], {"highway": "residential"}),
            (2, [10, 11], {"highway": "residential"}),
            # a cut-off tunnel under the street: the street is the "ok" village's road
            (3, [20, 21], {"highway": "residential", "tunnel": "yes", "layer": "-1"}),
            # a stub beside the street, joined to nothing: a few metres nearer is no cause
            (4, [30, 31], {"highway": "service"}),
        ],
    )
    net = read_net(path, "walk")
    assert 10 not in net.node_id and net.cut_x.size == 6
    assert net.cut_raised.tolist() == [False, True, False]
    villages = make_points(
        {
            "cut": (500, 140),
            "far": (500, 500),
            "ok": (500, -10),
            "stub": (500, 22),
            "yard": (500, 35),
        }
    )
    s = snapping.snap(net, villages, max_snap_m=300)
    assert s["flag"].to_dict() == {
        "cut": snapping.FLAG_ROAD_CUT_OFF,
        "far": snapping.FLAG_FAR,
        "ok": snapping.FLAG_OK,
        "stub": snapping.FLAG_OK,  # 18 m from the stub, 22 m from the street: 4 m apart
        "yard": snapping.FLAG_ROAD_CUT_OFF,  # 5 m from the stub, 35 m from the street
    }
    assert segment_ways(net, s.loc["cut", "segment"]) == {1, 2}
    assert s.loc["cut", "leg_m"] == pytest.approx(140, rel=3e-3)
    school = snapping.snap(net, make_points({"school": (1000, -20)}))
    res = engine.Router.build(net, s, school).nearest()
    assert res.loc["cut", "flag"] == engine.FLAG_CUT_OFF == "road_cut_off"
    assert res.loc["ok", "flag"] == "ok" and res.loc["far", "flag"] == "far_from_road"
    network_s = res.loc["cut", "time_s"] - s.loc["cut", "leg_s"] - school["leg_s"].iloc[0]
    assert network_s == pytest.approx(500 / 1.25, rel=3e-3)


def test_merge_groups_points_whose_walks_differ_by_little() -> None:
    # one street (0,0)-(100,0) and one (0,0)-(0,100); walk 1.25 m/s
    net = network.build(
        make_roads({1: (0, 0), 2: (100, 0), 3: (0, 100)}, [([1, 2], "residential", 0), ([1, 3], "residential", 0)]),
        mode="walk",
        crs=TEST_CRS,
    )  # fmt: skip
    pts = make_points(
        {
            "a": (42, 3),  # along 42 m, leg 3 m
            "b": (47, -8),  # the same 10 m stretch and band of leg: merged with a
            "c": (52, 3),  # the next stretch
            "d": (44, 14),  # the next band of leg
            "e": (3, 45),  # the other street
            "f": (46, 5),  # like a and b, but a different key
        }
    )
    snap = snapping.snap(net, pts)
    w = np.array([1.0, 3.0, 5.0, 7.0, 11.0, 13.0])
    keys = np.array([0, 0, 0, 0, 0, 1])
    merged, group = snapping.merge(snap, w, bucket_m=10.0, keys=keys)
    assert list(group) == [0, 0, 1, 2, 3, 4]
    assert list(merged["points"]) == [2, 1, 1, 1, 1]
    assert merged["weight"].tolist() == [4.0, 5.0, 7.0, 11.0, 13.0]
    # weight-averaged positions and legs
    ab = snap.loc[["a", "b"]]
    assert ab["offset_m"].to_list() == pytest.approx([42, 47], abs=0.1)
    assert ab["leg_m"].to_list() == pytest.approx([3, 8], abs=0.1)
    for col in ("offset_m", "leg_m", "fraction", "snap_x"):
        assert merged.loc[0, col] == pytest.approx((ab[col].iloc[0] * 1 + ab[col].iloc[1] * 3) / 4)
    assert merged.loc[0, "leg_s"] == pytest.approx(merged.loc[0, "leg_m"] / 1.25)
    assert merged.loc[0, "segment"] == snap.loc["a", "segment"]
    # a member's time to anywhere differs from its group's by < 2 buckets walked
    lib = snapping.snap(net, make_points({"lib": (100, 0)}))
    router = engine.Router.build(net, snap, lib)
    grouped = engine.Router.build(net, merged, lib)
    t_pts = router.nearest()["time_s"].to_numpy()
    t_grp = grouped.nearest()["time_s"].to_numpy()[group]
    assert np.abs(t_pts - t_grp).max() < 2 * 10 / 1.25
    # unweighted groups take plain means; without keys nothing is split by them
    merged0, group0 = snapping.merge(snap, np.zeros(6), bucket_m=10.0)
    assert list(group0) == [0, 0, 1, 2, 3, 0]
    assert merged0.loc[0, "offset_m"] == pytest.approx(snap.loc[["a", "b", "f"], "offset_m"].mean())
    with pytest.raises(ValidationError, match="bucket_m must be"):
        snapping.merge(snap, w, bucket_m=0)
    with pytest.raises(ValidationError, match="one value per snapped point"):
        snapping.merge(snap, w[:3], bucket_m=10)
