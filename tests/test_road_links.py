"""Township road links: routes, lower-class pieces, both directions, the tolerance rules."""

from __future__ import annotations

import itertools
import json

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from accessibility import network
from accessibility._errors import ValidationError
from accessibility.policies import road_links as rl

from .conftest import TEST_CRS, make_points, make_roads


def _places(points: dict[str, tuple[float, float]], county: str = "C"):
    places = make_points(points)
    places["name"] = [f"{k}镇" for k in points]
    places["level"] = ["county_seat" if k == county else "township_seat" for k in points]
    places["population"] = 10_000.0
    return places


def _named(roads: network.RoadData, names: dict[int, tuple[str, str]]) -> network.RoadData:
    ways = pd.DataFrame(
        [(w, n, r) for w, (n, r) in names.items()], columns=["way", "name", "ref"]
    ).set_index("way")
    return network.RoadData(nodes=roads.nodes, segments=roads.segments, ways=ways)


@pytest.fixture
def gap():
    """County seat C on a 10 km primary road (1 → 2); township T at the end of a 1,000 m
    residential street (2 → 3) leaving the primary road; township M on the primary road
    beyond a 300 m residential gap in its middle (2 → 4 residential, 4 → 5 primary)."""
    roads = make_roads(
        {1: (0, 0), 2: (10_000, 0), 3: (10_000, 1_000), 4: (10_300, 0), 5: (20_000, 0)},
        [
            ([1, 2], "primary", 0),
            ([2, 3], "residential", 0),
            ([2, 4], "residential", 0),
            ([4, 5], "primary", 0),
        ],
    )
    roads = _named(roads, {1: ("许昌大道", "S220"), 2: ("幸福街", ""), 3: ("", "")})
    places = _places({"C": (0, 0), "T": (10_000, 1_000), "M": (20_000, 0)})
    return roads, places


def test_a_residential_gap_at_the_seat_is_linked_only_within_the_allowance(gap) -> None:
    roads, places = gap
    for town_m, linked in ((999.0, False), (1_000.0, True), (1_500.0, True)):
        rule = rl.Tolerance("custom", township_end_m=town_m, county_seat_end_m=0.0)
        t = rl.road_links(roads, places, crs=TEST_CRS, min_class="secondary", rule=rule).table
        assert bool(t.loc["T", "connected"]) is linked, town_m
        assert not t.loc["T", "connected_strict"]  # class roads only: 1,000 m are not
        assert t.loc["T", "lower_m"] == pytest.approx(1_000, rel=1e-3)
        assert t.loc["T", "township_end_lower_m"] == pytest.approx(1_000, rel=1e-3)
        assert t.loc["T", "county_seat_end_lower_m"] == 0.0
        assert t.loc["T", "beyond_m"] == pytest.approx(max(1_000 - town_m, 0), abs=2)
    default = rl.road_links(roads, places, crs=TEST_CRS)
    t = default.table
    assert rl.tolerance("default").township_end_m == 500  # the rules data
    assert not t.loc["T", "connected"] and t.loc["T", "reason"] == "lower_class_gap"
    assert t.loc["T", "failed_direction"] == "both"
    assert t.loc["T", "lower_share"] == pytest.approx(1_000 / 11_000, rel=1e-3)
    assert t.loc["T", "route_km"] == pytest.approx(11.0, rel=1e-3)
    assert t.loc["T", "lower_pieces"] == "幸福街 (residential) 1,000 m"


def test_the_same_gap_as_a_county_seat_street(gap) -> None:
    roads, places = gap
    swapped = places.copy()
    swapped["level"] = ["township_seat", "county_seat", "township_seat"]  # T is the county seat
    t = rl.road_links(roads, swapped, crs=TEST_CRS).table
    # C's route ends in T's 1,000 m street: within the county seat's 1,000 m
    assert t.loc["C", "county_seat_end_lower_m"] == pytest.approx(1_000, rel=1e-3)
    assert t.loc["C", "township_end_lower_m"] == 0.0
    assert t.loc["C", "connected"] and not t.loc["C", "connected_strict"]
    assert t.loc["C", "reason"] == "within_tolerance"


def test_a_gap_in_the_middle_is_never_forgiven(gap) -> None:
    roads, places = gap
    generous = rl.Tolerance("generous", township_end_m=5_000, county_seat_end_m=5_000)
    t = rl.road_links(roads, places, crs=TEST_CRS, rule=generous).table
    assert t.loc["M", "middle_lower_m"] == pytest.approx(300, rel=1e-3)
    assert t.loc["M", "township_end_lower_m"] == 0 and t.loc["M", "county_seat_end_lower_m"] == 0
    assert not t.loc["M", "connected"] and t.loc["M", "beyond_m"] == pytest.approx(300, rel=1e-3)
    assert t.loc["M", "lower_pieces"] == "— (residential) 300 m"  # way 3 has no name
    assert t.loc["T", "connected"]  # 1,000 m at T's end is within 5,000 m


def test_a_one_way_primary_road_counts_in_its_direction_only() -> None:
    """T → C on a one-way primary road; back only on a tertiary road."""
    roads = make_roads(
        {1: (0, 0), 2: (8_000, 0), 3: (8_000, 3_000), 4: (0, 3_000)},
        [([2, 1], "primary", 1), ([1, 4, 3, 2], "tertiary", 0)],
    )
    places = _places({"C": (0, 0), "T": (8_000, 0)})
    check = rl.road_links(roads, places, crs=TEST_CRS)
    t = check.table
    assert not t.loc["T", "connected"] and not t.loc["T", "connected_strict"]
    assert t.loc["T", "failed_direction"] == "from_county_seat"
    assert t.loc["T", "direction"] == "from_county_seat"
    assert t.loc["T", "lower_m"] == pytest.approx(14_000, rel=1e-3)  # the tertiary loop
    routes = check.meta["routes"]
    to = routes.loc[routes["direction"] == "to_county_seat"]
    assert to["highway"].tolist() == ["primary"] and not to["lower"].any()
    assert to["length_m"].sum() == pytest.approx(8_000, rel=1e-3)
    back = routes.loc[routes["direction"] == "from_county_seat"]
    assert set(back["highway"]) == {"tertiary"} and back["worse"].all() and not to["worse"].any()
    # on foot the one-way does not bind: linked both ways
    walk = rl.road_links(roads, places, crs=TEST_CRS, mode="walk").table
    assert walk.loc["T", "connected_strict"] and walk.loc["T", "failed_direction"] == ""


def test_a_seat_on_a_piece_of_its_own_has_no_route() -> None:
    roads = make_roads(
        {1: (0, 0), 2: (5_000, 0), 3: (9_000, 0), 4: (9_500, 0)},
        [([1, 2], "primary", 0), ([3, 4], "primary", 0)],
    )
    places = _places({"C": (0, 0), "T": (5_000, 0), "I": (9_500, 0)})
    check = rl.road_links(roads, places, crs=TEST_CRS)
    t = check.table
    assert t.loc["I", "reason"] == "no_route" and not t.loc["I", "connected"]
    assert t.loc["I", "failed_direction"] == "both" and np.isinf(t.loc["I", "beyond_m"])
    assert np.isinf(t.loc["I", "time_all_min"])
    assert t.loc["T", "reason"] == "class_roads_only" and t.loc["T", "connected_strict"]
    assert t.loc["T", "detour"] == pytest.approx(1.0)
    s = check.summary.loc["township_links"]
    assert (s["connected"], s["connected_strict"], s["no_route"]) == (1, 1, 1)


def test_the_sensitivity_table_states_both_rules(gap) -> None:
    roads, places = gap
    check = rl.road_links(roads, places, crs=TEST_CRS)
    sens = check.meta["sensitivity"]
    assert sens.index.tolist() == ["default", "strict"]
    assert sens.loc["default", ["township_end_m", "county_seat_end_m"]].tolist() == [500, 1000]
    assert sens.loc["strict", ["township_end_m", "county_seat_end_m"]].tolist() == [0, 0]
    assert sens["connected"].tolist() == [0, 0]
    wide = rl.road_links(
        roads, places, crs=TEST_CRS, rule=rl.Tolerance("wide", 1_000.0, 1_000.0)
    ).meta["sensitivity"]
    assert wide.index.tolist() == ["wide", "strict"]
    assert wide["connected"].tolist() == [1, 0]
    assert wide["share_connected"].tolist() == [0.5, 0.0]
    s = rl.road_links(roads, places, crs=TEST_CRS, rule=rl.Tolerance("wide", 1e3, 1e3)).summary
    assert s.loc["township_links", "share_connected"] == 0.5
    assert s.loc["township_links", "share_connected_strict"] == 0.0


def test_a_seat_between_the_nodes_of_a_segment() -> None:
    """The seats lie inside long segments: the partial edges carry their class."""
    roads = make_roads(
        {1: (0, 0), 2: (6_000, 0), 3: (6_000, 2_000)},
        [([1, 2], "secondary", 0), ([2, 3], "unclassified", 0)],
    )
    places = _places({"C": (2_000, 10), "T": (6_000, 1_500), "U": (4_000, -10)})
    t = rl.road_links(roads, places, crs=TEST_CRS).table
    assert t.loc["T", "lower_m"] == pytest.approx(1_500, rel=1e-3)
    assert t.loc["T", "route_km"] == pytest.approx(5.5, rel=1e-3)
    assert t.loc["U", "lower_m"] == 0 and t.loc["U", "route_km"] == pytest.approx(2.0, rel=1e-3)
    assert t.loc["U", "leg_m"] == pytest.approx(10, abs=0.5)


def _reference_lower_m(roads: network.RoadData, good: set[str], a: int, b: int) -> float:
    """Fewest metres of lower-class road from node a to node b (networkx, car one-ways)."""
    net = network.build(roads, mode="car", crs=TEST_CRS, largest_component=False)
    g = nx.DiGraph()
    for u, v, length, hw in zip(net.u, net.v, net.length_m, net.highway):
        w = 0.0 if net.highway_classes[hw] in good else float(length)
        key = (int(net.node_id[u]), int(net.node_id[v]))
        g.add_edge(*key, w=min(w, g.edges[key]["w"]) if g.has_edge(*key) else w)
    try:
        return float(nx.dijkstra_path_length(g, a, b, weight="w"))
    except (nx.NetworkXNoPath, nx.NodeNotFound):
        return np.inf


@pytest.mark.parametrize("seed", range(6))
def test_lower_class_metres_match_a_networkx_reference(seed) -> None:
    """On random grids of mixed classes and one-way streets, the fewest lower-class metres
    each way equal networkx's, and "strict" means a route of class roads exists."""
    rng = np.random.default_rng(seed)
    side = 6
    coords = {
        i * side + j + 1: (j * 700.0 + rng.uniform(-50, 50), i * 700.0 + rng.uniform(-50, 50))
        for i in range(side)
        for j in range(side)
    }
    classes = ["primary", "secondary", "tertiary", "residential"]
    ways = []
    for i, j in itertools.product(range(side), range(side)):
        here = i * side + j + 1
        for other in ([here + 1] if j + 1 < side else []) + ([here + side] if i + 1 < side else []):
            if rng.uniform() < 0.15:
                continue  # a missing street
            oneway = int(rng.choice([0, 0, 0, 1, -1]))
            ways.append(([here, other], str(rng.choice(classes, p=[0.2, 0.3, 0.2, 0.3])), oneway))
    roads = make_roads(coords, ways)
    used = set(roads.segments["u"]) | set(roads.segments["v"])
    ids = sorted(used)
    county = ids[len(ids) // 2]
    towns = [int(x) for x in rng.choice([i for i in ids if i != county], 5, replace=False)]
    places = _places({"C": coords[county], **{f"T{k}": coords[n] for k, n in enumerate(towns)}})
    check = rl.road_links(roads, places, crs=TEST_CRS, min_class="secondary")
    good = set(rl.classes_at_least("secondary"))
    routes = check.meta["routes"]
    for k, node in enumerate(towns):
        seat = f"T{k}"
        to = _reference_lower_m(roads, good, node, county)
        back = _reference_lower_m(roads, good, county, node)
        row = check.table.loc[seat]
        if np.isinf(to) or np.isinf(back):
            assert row["reason"] == "no_route"
            continue
        mine = routes.loc[(routes["seat"] == seat) & routes["lower"]]
        for direction, ref in (("to_county_seat", to), ("from_county_seat", back)):
            got = mine.loc[mine["direction"] == direction, "length_m"].sum()
            assert got == pytest.approx(ref, abs=0.5), (seed, seat, direction)
        assert bool(row["connected_strict"]) == (max(to, back) <= 0.5)
        assert row["lower_m"] == pytest.approx(
            routes.loc[
                (routes["seat"] == seat) & routes["worse"] & routes["lower"], "length_m"
            ].sum()
        )


def test_bad_inputs(gap) -> None:
    roads, places = gap
    with pytest.raises(ValidationError, match="pass crs="):
        rl.road_links(roads, places)
    with pytest.raises(ValidationError, match="unknown road class"):
        rl.road_links(roads, places, crs=TEST_CRS, min_class="class2")
    with pytest.raises(ValidationError, match="RoadData or a Network"):
        rl.road_links("roads.osm", places, crs=TEST_CRS)
    with pytest.raises(ValidationError, match="unknown road-link rule 'loose'"):
        rl.road_links(roads, places, crs=TEST_CRS, rule="loose")
    with pytest.raises(ValidationError, match="township_end_m must be a number of metres >= 0"):
        rl.Tolerance("x", township_end_m=-1.0, county_seat_end_m=0.0)
    net = network.build(roads, mode="car", crs=TEST_CRS)
    with pytest.raises(ValidationError, match="give road data to use mode 'walk'"):
        rl.road_links(net, places, mode="walk")
    two = places.copy()
    two.loc["T", "level"] = "county_seat"
    with pytest.raises(ValidationError, match="exactly one county seat.*found 2"):
        rl.road_links(roads, two, crs=TEST_CRS)
    with pytest.raises(ValidationError, match="no township seats"):
        rl.road_links(roads, places.loc[["C"]], crs=TEST_CRS)


# --------------------------------------------------------------------------- the county of test_services


def test_hand_worked_county(county) -> None:
    """C's place node is 300 m down a residential street from the roads; A is on a secondary
    road, B on a tertiary road only, D on a secondary road that goes on as tertiary for 4 km."""
    roads, places = county
    check = rl.road_links(roads, places, min_class="secondary", crs=TEST_CRS)
    t = check.table
    assert list(t.index) == ["A", "B", "D"]  # township seats only
    assert t["reason"].to_dict() == {
        "A": "within_tolerance",  # 300 m of C's street, within the county seat's 1,000 m
        "B": "lower_class_gap",
        "D": "lower_class_gap",
    }
    assert t["connected"].to_dict() == {"A": True, "B": False, "D": False}
    assert not t["connected_strict"].any()
    assert t.loc["A", "county_seat_end_lower_m"] == pytest.approx(300, rel=1e-3)
    assert t.loc["B", "lower_m"] == pytest.approx(8_300, rel=1e-3)
    # D: 4 km of tertiary and C's 300 m street make one run at the county seat's end
    assert t.loc["D", "county_seat_end_lower_m"] == pytest.approx(4_300, rel=1e-3)
    assert t.loc["D", "beyond_m"] == pytest.approx(3_300, rel=1e-3)
    words = rl.lower_pieces(check, lang="zh")
    assert words["D"] == "无名道路（三级道路（乡道、支路））3,998 米；无名道路（居住区道路）300 米"
    assert rl.lower_pieces(check, lang="zh", first=1)["D"] == (
        "无名道路（三级道路（乡道、支路））3,998 米；另有 1 段"
    )
    assert (
        rl.lower_pieces(check, lang="en")["A"] == "Unnamed road (residential) 300 m"
    )  # metres along the ground
    # by car: 45 km/h on secondary, 35 on tertiary, 20 in C's street
    street_min = 300 / (20 / 0.06)
    assert t.loc["A", "route_min"] == pytest.approx(8000 / 750 + street_min, rel=5e-3)
    assert t.loc["A", "time_all_min"] == pytest.approx(t.loc["A", "route_min"])
    assert t.loc["B", "route_min"] == pytest.approx(8000 / (35 / 0.06) + street_min, rel=5e-3)
    assert t.loc["A", "leg_m"] == pytest.approx(50, abs=1)
    s = check.summary.loc["township_links"]
    assert (s["township_seats"], s["connected"], s["connected_strict"]) == (3, 1, 0)
    assert s["mode"] == "car" and s["county_seat_leg_m"] == pytest.approx(0, abs=1)
    assert check.table.crs.to_epsg() == 4326


def test_a_network_gives_the_same_figures_as_its_road_data(county) -> None:
    roads, places = county
    net = network.build(roads, mode="car", crs=TEST_CRS, largest_component=False)
    from_net = rl.road_links(net, places)
    from_roads = rl.road_links(roads, places, crs=TEST_CRS)
    pd.testing.assert_frame_equal(
        pd.DataFrame(from_net.table.drop(columns=["geometry", "lower_pieces"])),
        pd.DataFrame(from_roads.table.drop(columns=["geometry", "lower_pieces"])),
    )
    again = network.build(rl.roads_from_network(net), mode="car", crs=TEST_CRS)
    assert again.n_edges == net.n_edges


def test_no_road_of_the_class_at_all(county, caplog) -> None:
    roads, places = county
    with caplog.at_level("WARNING", logger="accessibility.policies.road_links"):
        check = rl.road_links(roads, places, min_class="trunk", crs=TEST_CRS)
    assert not check.table["connected"].any()
    assert (check.table["lower_share"] == 1.0).all()
    assert np.isfinite(check.table["time_all_min"]).all()
    assert "no road of class trunk" in caplog.text


# --------------------------------------------------------------------------- map layers


def _markers(layer) -> list[tuple[str, str]]:
    """(fill colour, tooltip) of every seat marker of a layer."""
    import folium

    out = []
    for child in layer._children.values():
        if isinstance(child, folium.CircleMarker):
            tip = next(c.text for c in child._children.values() if isinstance(c, folium.Tooltip))
            out.append((child.options["fillColor"].lower(), tip))
    return out


def _lines(layer) -> list[tuple[str, str | None, str]]:
    """(colour, dash pattern, tooltip) of every line of a layer."""
    import folium

    out = []
    for child in layer._children.values():
        if isinstance(child, folium.PolyLine):
            tip = next(c.text for c in child._children.values() if isinstance(c, folium.Tooltip))
            out.append((child.options["color"].lower(), child.options.get("dashArray"), tip))
    return out


def test_seats_layer_says_why_in_words(county) -> None:
    from accessibility import maps
    from accessibility.policies import _overlays, road_links_map

    roads, places = county
    places = places.copy()
    places.loc["D", "name"] = None  # an unnamed seat is not shown by its id
    check = rl.road_links(roads, places, min_class="secondary", crs=TEST_CRS)
    layer = road_links_map.seats_layer(check, lang="zh")
    markers = _markers(layer)
    (legend,) = [c for c in layer._children.values() if isinstance(c, _overlays.LayerLegend)]
    drawn = {c for c, _ in markers}
    assert drawn <= legend.colours and drawn == _overlays.drawn_colours(layer)
    assert not legend.colours & {c.lower() for c in maps.class_colours(5)}
    assert "默认规则" in json.loads(legend.content)
    tips = {tip.split("</b>")[0].removeprefix("<b>"): tip for _, tip in markers}
    assert set(tips) == {"甲镇", "乙乡", "未命名乡镇驻地"}
    a = tips["甲镇"]
    assert "已连通（仅两端有允许范围内的低等级街道）" in a
    assert "县城端 300 米" in a and "严格规则（全程次要道路（secondary）及以上）：未连通" in a
    b = tips["乙乡"]
    assert "未连通（路线中有超出允许范围的低等级道路）" in b and "未通过的方向：双向" in b
    en = road_links_map.seats_layer(check, lang="en")
    assert "Linked (lower-class streets only at the ends, within the rule)" in _markers(en)[0][1]


def test_routes_layer_colours_by_class_and_marks_lower_pieces(gap, tmp_path) -> None:
    import folium

    from accessibility import maps
    from accessibility.policies import _overlays, road_links_map

    roads, places = gap
    check = rl.road_links(roads, places, crs=TEST_CRS)
    layer = road_links_map.routes_layer(check, lang="zh")
    lines = _lines(layer)
    (legend,) = [c for c in layer._children.values() if isinstance(c, _overlays.LayerLegend)]
    assert {c for c, _, _ in lines} == legend.colours == _overlays.drawn_colours(layer)
    lower = [x for x in lines if x[0] == road_links_map.LOWER_COLOUR]
    assert lower and all(dash for _, dash, _ in lower)
    assert any("幸福街" in tip and "1,000 米" in tip for _, _, tip in lower)
    primary = [tip for c, _, tip in lines if c == road_links_map.ROUTE_COLOURS["primary"]]
    assert sorted(tip.split("<br>")[2] for tip in primary) == ["无名道路", *["许昌大道 (S220)"] * 2]
    m = folium.Map(tiles=None)
    folium.LayerControl().add_to(m)
    road_links_map.add_routes_layer(m, check, lang="zh")
    road_links_map.add_seats_layer(m, check, lang="zh")
    children = list(m._children.values())
    assert isinstance(children[-1], folium.LayerControl)  # both went in before the control
    assert maps.save_html(m, tmp_path / "r.html").stat().st_size < 1_000_000
    with pytest.raises(ValidationError, match="result of road_links"):
        road_links_map.routes_layer(rl.ServiceCheck("bus", check.table, check.summary))


def test_a_street_split_into_several_ways_is_one_piece() -> None:
    roads = make_roads(
        {1: (0, 0), 2: (6_000, 0), 3: (6_000, 400), 4: (6_000, 1_000)},
        [([1, 2], "primary", 0), ([2, 3], "residential", 0), ([3, 4], "residential", 0)],
    )
    roads = _named(roads, {1: ("许昌大道", ""), 2: ("幸福街", ""), 3: ("幸福街", "")})
    places = _places({"C": (0, 0), "T": (6_000, 1_000)})
    check = rl.road_links(roads, places, crs=TEST_CRS)
    assert check.table.loc["T", "lower_pieces"] == "幸福街 (residential) 1,000 m"
    routes = check.meta["routes"]
    to = routes.loc[routes["direction"] == "to_county_seat"]
    assert to["road"].tolist() == ["幸福街", "许昌大道"]
    assert to["way"].tolist() == [3, 1]  # the first way of each piece
