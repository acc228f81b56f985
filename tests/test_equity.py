"""Equity of travel times: Gini against hand-computed values, per-area arithmetic, ranking, townships."""

from __future__ import annotations

import itertools
import logging

import numpy as np
import pandas as pd
import pytest

from accessibility import engine, equity, network, snapping
from accessibility._errors import ValidationError

from .conftest import TEST_CRS, make_points, make_roads

INF = np.inf


def brute_gini(x: np.ndarray, w: np.ndarray) -> float:
    """The double-sum definition, term by term."""
    total = sum(
        wi * wj * abs(xi - xj) for (xi, wi), (xj, wj) in itertools.product(zip(x, w), repeat=2)
    )
    mean = float(np.sum(w * x) / np.sum(w))
    return total / (2 * np.sum(w) ** 2 * mean)


# --------------------------------------------------------------------------- gini


@pytest.mark.parametrize("values", [[7.0, 7.0, 7.0], [0.0, 0.0], [12.5]])
def test_equal_times_give_zero(values) -> None:
    assert equity.gini(values) == 0.0
    assert equity.gini(values, [3, 1, 2][: len(values)]) == 0.0


@pytest.mark.parametrize("n", [2, 3, 4, 10])
def test_one_has_everything_gives_n_minus_one_over_n(n: int) -> None:
    values = [0.0] * (n - 1) + [42.0]
    assert equity.gini(values) == pytest.approx((n - 1) / n)


def test_hand_computed_values() -> None:
    # [1, 2, 3]: sum over ordered pairs of |xi - xj| = 2 * (1 + 2 + 1) = 8; n² = 9; mean 2
    assert equity.gini([3.0, 1.0, 2.0]) == pytest.approx(8 / (2 * 9 * 2))
    # [10, 20] with weights [3, 1]: 2·3·1·10 = 60; W² = 16; weighted mean 12.5
    assert equity.gini([10.0, 20.0], [3.0, 1.0]) == pytest.approx(60 / (2 * 16 * 12.5))


def test_weighted_equals_repeated_observations() -> None:
    values, weights = [1.0, 3.0, 7.0, 7.0, 2.5], [2, 1, 3, 0, 4]
    repeated = np.repeat(values, weights)
    assert equity.gini(values, weights) == pytest.approx(equity.gini(repeated))


def test_matches_the_double_sum_and_has_no_unit() -> None:
    rng = np.random.default_rng(7)
    for _ in range(20):
        x = rng.exponential(20.0, size=int(rng.integers(2, 30)))
        w = rng.integers(0, 2000, size=x.size).astype(float) + 1
        g = equity.gini(x, w)
        assert g == pytest.approx(brute_gini(x, w), rel=1e-9)
        assert equity.gini(x * 60.0, w) == pytest.approx(g)  # minutes or seconds
        assert 0.0 <= g < 1.0


def test_unreachable_raise_drop_or_penalty() -> None:
    values, weights = [5.0, 10.0, INF], [1.0, 2.0, 3.0]
    with pytest.raises(ValidationError, match=r"1 of 3 values are unreachable.*unreachable='drop'"):
        equity.gini(values, weights)
    assert equity.gini(values, weights, unreachable="drop") == pytest.approx(
        equity.gini([5.0, 10.0], [1.0, 2.0])
    )
    assert equity.gini(values, weights, unreachable=60) == pytest.approx(
        equity.gini([5.0, 10.0, 60.0], weights)
    )


@pytest.mark.parametrize(
    ("values", "weights", "kwargs", "match"),
    [
        ([1.0, np.nan], None, {}, "NaN"),
        ([1.0, -2.0], None, {}, "negative"),
        ([1.0, 2.0], [1.0], {}, "same length"),
        ([1.0, 2.0], [1.0, -1.0], {}, "weights must be finite and >= 0"),
        ([1.0, 2.0], [1.0, np.nan], {}, "fill unknown populations"),
        ([1.0, 2.0], [0.0, 0.0], {}, "sum to 0"),
        ([], None, {}, "at least one value"),
        ([INF, INF], None, {"unreachable": "drop"}, "every value is unreachable"),
        ([1.0, INF], None, {"unreachable": "ignore"}, "'raise', 'drop' or a penalty"),
        ([1.0, INF], None, {"unreachable": -5}, "finite and >= 0"),
        (["a", "b"], None, {}, "must be numbers"),
    ],
)
def test_gini_bad_inputs(values, weights, kwargs, match) -> None:
    with pytest.raises(ValidationError, match=match):
        equity.gini(values, weights, **kwargs)


# --------------------------------------------------------------------------- by_area


@pytest.fixture
def table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "township": ["A", "A", "A", "B", "B"],
            "population": [100.0, 300.0, 100.0, 50.0, np.nan],
            "bus_time_min": [10.0, 20.0, INF, 5.0, 40.0],
        },
        index=pd.Index(["v1", "v2", "v3", "v4", "v5"], name="id"),
    )


def test_by_area_arithmetic(table) -> None:
    out = equity.by_area(table, time_col="bus_time_min", limits_min=[15, 30])
    assert list(out.index) == ["A", "B", equity.TOTAL]  # worst share beyond 30 min first
    a, b, total = out.loc["A"], out.loc["B"], out.loc[equity.TOTAL]
    assert (a["villages"], a["population"], a["population_unknown"], a["unreachable"]) == (
        3,
        500.0,
        0,
        1,
    )
    assert a["beyond_15_share"] == pytest.approx(2 / 3)  # 20 min and the unreachable one
    assert a["beyond_15_pop_share"] == pytest.approx(400 / 500)
    assert a["beyond_30_share"] == pytest.approx(1 / 3)
    assert a["beyond_30_pop_share"] == pytest.approx(100 / 500)
    assert a["median_min"] == 15.0 and a["max_min"] == 20.0
    assert a["mean_min"] == pytest.approx((10 * 100 + 20 * 300) / 400)
    # Gini of the reachable: 2·100·300·10 / (2 · 400² · 17.5)
    assert a["gini"] == pytest.approx(600_000 / (2 * 400**2 * 17.5))
    # B: v5's population is unknown: in village shares, not in population shares
    assert (b["villages"], b["population"], b["population_unknown"]) == (2, 50.0, 1)
    assert b["beyond_30_share"] == 0.5 and b["beyond_30_pop_share"] == 0.0
    assert b["median_min"] == 22.5 and b["max_min"] == 40.0 and b["gini"] == 0.0
    assert total["villages"] == 5 and total["population"] == 550.0
    assert total["beyond_15_pop_share"] == pytest.approx(400 / 550)
    assert total["median_min"] == 15.0
    assert total["gini"] == pytest.approx(equity.gini([10.0, 20.0, 5.0], [100.0, 300.0, 50.0]))


def test_by_area_unreachable_penalty_and_unweighted(table) -> None:
    out = equity.by_area(table, time_col="bus_time_min", limits_min=[15], unreachable=60.0)
    assert out.loc["A", "gini"] == pytest.approx(
        equity.gini([10.0, 20.0, 60.0], [100.0, 300.0, 100.0])
    )
    assert out.loc["A", "unreachable"] == 1
    with pytest.raises(ValidationError, match="unreachable"):
        equity.by_area(table, time_col="bus_time_min", limits_min=[15], unreachable="raise")
    plain = equity.by_area(
        table, time_col="bus_time_min", limits_min=[15], population_col=None, total=False
    )
    assert plain.loc["B", "gini"] == pytest.approx(equity.gini([5.0, 40.0]))
    assert plain.loc["B", "population"] == 2.0  # every village weighs 1
    assert equity.TOTAL not in plain.index


def test_by_area_reads_groups_and_population_from_origins(table) -> None:
    times = table[["bus_time_min"]]
    origins = table[["township", "population"]].iloc[::-1]  # order does not matter
    pd.testing.assert_frame_equal(
        equity.by_area(times, origins, time_col="bus_time_min", limits_min=[15, 30]),
        equity.by_area(table, time_col="bus_time_min", limits_min=[15, 30]),
    )


def test_by_area_villages_without_a_group_are_kept(table, caplog) -> None:
    table.loc["v4", "township"] = None
    with caplog.at_level(logging.WARNING, logger="accessibility.equity"):
        out = equity.by_area(table, time_col="bus_time_min", limits_min=[15])
    assert out["villages"].drop(equity.TOTAL).sum() == 5
    assert "no township value" in caplog.text


@pytest.mark.parametrize(
    ("change", "kwargs", "match"),
    [
        (None, {"time_col": "school_time_min"}, "no column 'school_time_min'"),
        ("all_nan", {}, "no facility"),
        ("one_nan", {}, "1 values of 'bus_time_min' are NaN"),
        ("negative", {}, "negative times"),
        (None, {"group_col": "county"}, "no column 'county'"),
        (None, {"limits_min": []}, "thresholds"),
        ("negative_pop", {}, "residents must be >= 0"),
    ],
)
def test_by_area_bad_inputs(table, change, kwargs, match) -> None:
    if change == "all_nan":
        table["bus_time_min"] = np.nan
    elif change == "one_nan":
        table.loc["v1", "bus_time_min"] = np.nan
    elif change == "negative":
        table.loc["v1", "bus_time_min"] = -1.0
    elif change == "negative_pop":
        table.loc["v1", "population"] = -5.0
    args = {"time_col": "bus_time_min", "limits_min": [15], **kwargs}
    with pytest.raises(ValidationError, match=match):
        equity.by_area(table, **args)


def test_by_area_origins_must_cover_the_table(table) -> None:
    with pytest.raises(ValidationError, match="not in origins"):
        equity.by_area(
            table[["bus_time_min"]],
            table[["township", "population"]].iloc[:3],
            time_col="bus_time_min",
            limits_min=[15],
        )


# --------------------------------------------------------------------------- worst_served


def test_worst_served_ranking(table) -> None:
    table["name"] = ["甲村", "乙村", "丙村", "丁村", "戊村"]
    table.loc["v4", "bus_time_min"] = 20.0  # ties with v2, smaller population
    out = equity.worst_served(table, time_col="bus_time_min", n=4)
    assert list(out.index) == [
        "v3",
        "v5",
        "v2",
        "v4",
    ]  # unreachable first, then by time, ties by population
    assert list(out["rank"]) == [1, 2, 3, 4]
    assert list(out.columns) == ["rank", "name", "township", "population", "bus_time_min"]
    everyone = equity.worst_served(table, time_col="bus_time_min", n=50)
    assert len(everyone) == 5


def test_worst_served_bad_inputs(table) -> None:
    for n in (0, -1, 2.5, True):
        with pytest.raises(ValidationError, match="whole number"):
            equity.worst_served(table, time_col="bus_time_min", n=n)
    with pytest.raises(ValidationError, match="no column 'kind'"):
        equity.worst_served(table, time_col="bus_time_min", columns=["kind"])


# --------------------------------------------------------------------------- assign_township


@pytest.fixture
def river_layout():
    """Two seats on a main road; village V3 lies closer to S1 but its only road leads to S2.

    Main road 1 (0,0) - 2 (1000,0) - 3 (3000,0) - 4 (4000,0); side road from V3 at
    5 (1500,1000) east to 6 (4000,1000) and down to 4. S1 at node 1, S2 at node 4.
    """
    roads = make_roads(
        {1: (0, 0), 2: (1000, 0), 3: (3000, 0), 4: (4000, 0), 5: (1500, 1000), 6: (4000, 1000)},
        [([1, 2, 3, 4], "residential", 0), ([5, 6, 4], "residential", 0)],
    )
    net = network.build(roads, mode="walk", crs=TEST_CRS)
    villages = make_points({"V1": (1000, 0), "V2": (3000, 0), "V3": (1500, 1000)})
    places = make_points({"S1": (0, 0), "S2": (4000, 0), "C": (2200, 0), "N": (1500, 1001)})
    places["name"] = ["一镇", "二镇", "城关镇", "某村"]
    places["level"] = ["township_seat", "township_seat", "county_seat", "natural_village"]
    return net, villages, places


def test_assign_township_by_network_and_straight_line(river_layout) -> None:
    net, villages, places = river_layout
    by_net = equity.assign_township(villages, places, network=net, levels=["township_seat"])
    assert by_net["township"].to_dict() == {"V1": "一镇", "V2": "二镇", "V3": "二镇"}
    assert (by_net["township_method"] == "network").all()
    # V3 walks 2500 + 1000 m to S2 at 4.5 km/h
    assert by_net.loc["V3", "township_time_min"] == pytest.approx(3500 / 75.0, rel=5e-3)
    assert by_net.loc["V3", "township_dist_m"] == pytest.approx(np.hypot(2500, 1000), rel=1e-6)
    line = equity.assign_township(
        villages, places, method="straight_line", crs=TEST_CRS, levels=["township_seat"]
    )
    assert line.loc["V3", "township"] == "一镇"
    assert line["township_time_min"].isna().all()
    assert (line["township_method"] == "straight_line").all()


def test_assign_township_counts_the_county_seat_and_reuses_a_router(river_layout) -> None:
    net, villages, places = river_layout
    o_snap = snapping.snap(net, villages)
    f_snap = snapping.snap(net, places.iloc[:1])
    router = engine.Router.build(net, o_snap, f_snap)
    by_router = equity.assign_township(villages, places, router=router)
    by_net = equity.assign_township(villages, places, network=net)
    pd.testing.assert_frame_equal(by_router, by_net)
    assert by_net.loc["V2", "township"] == "城关镇"  # 800 m from the county seat, 1000 m from S2
    assert set(by_net["township_id"]) <= {"S1", "S2", "C"}


def test_assign_township_unreachable_falls_back_to_straight_line(river_layout, caplog) -> None:
    *_, places = river_layout
    # V9 lies on a separate piece of road that reaches no seat
    roads = make_roads(
        {1: (0, 0), 2: (4000, 0), 3: (9000, 0), 4: (9000, 500)},
        [([1, 2], "residential", 0), ([3, 4], "residential", 0)],
    )
    split = network.build(roads, mode="walk", crs=TEST_CRS, largest_component=False)
    towns = make_points({"V1": (1000, 0), "V9": (9000, 250)})
    with caplog.at_level(logging.WARNING, logger="accessibility.equity"):
        out = equity.assign_township(towns, places, network=split, levels=["township_seat"])
    assert (
        out.loc["V9", "township_method"] == "straight_line" and out.loc["V9", "township"] == "二镇"
    )
    assert np.isnan(out.loc["V9", "township_time_min"])
    assert "reach no township seat" in caplog.text


def test_assign_township_bad_inputs(river_layout) -> None:
    net, villages, places = river_layout
    with pytest.raises(ValidationError, match="no places of levels"):
        equity.assign_township(villages, places, network=net, levels=["residential"])
    with pytest.raises(ValidationError, match="needs router="):
        equity.assign_township(villages, places, crs=TEST_CRS)
    with pytest.raises(ValidationError, match="metric CRS"):
        equity.assign_township(villages, places, method="straight_line")
    with pytest.raises(ValidationError, match="'network' or 'straight_line'"):
        equity.assign_township(villages, places, network=net, method="euclid")
    router = engine.Router.build(
        net, snapping.snap(net, villages.iloc[:1]), snapping.snap(net, places)
    )
    with pytest.raises(ValidationError, match="not in the router"):
        equity.assign_township(villages, places, router=router)
    with pytest.raises(ValidationError, match="'level' column"):
        equity.assign_township(villages, places.drop(columns="level"), network=net)
