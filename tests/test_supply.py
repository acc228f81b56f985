"""Supply against demand (2SFCA family): a hand-worked case, PySAL ``access``, the sample county, edge cases."""

from __future__ import annotations

import math

import access  # PySAL access (dev extras): the independent reference
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from accessibility import classify, engine, equity, network, pipeline, snapping, supply
from accessibility._errors import ValidationError
from accessibility.settings import settings

from .conftest import TEST_CRS, make_points, make_roads

REL = 1e-9
E2SFCA_ZONES = {10.0: 1.0, 20.0: 0.68, 30.0: 0.22}  # Luo & Qi (2009)


def dai_gaussian(t: float, t0: float) -> float:
    """Dai (2010): G(t) = (exp(-(t/t0)²/2) - exp(-1/2)) / (1 - exp(-1/2)) for t <= t0, else 0."""
    if t > t0:
        return 0.0
    return (math.exp(-0.5 * (t / t0) ** 2) - math.exp(-0.5)) / (1.0 - math.exp(-0.5))


# --------------------------------------------------------------------------- the hand-worked case
#
# Two clinics, three villages, travel minutes (catchment 30 min; "—" = beyond it):
#
#              V1 (1,000)   V2 (2,000)   V3 (500)     beds
#   clinic A      10           25           40 —        12
#   clinic B      50 —         20            5           5
#
# 2SFCA (step): demand in reach of A = 1,000 + 2,000 = 3,000 → R_A = 12 / 3,000 = 0.004;
# of B = 2,000 + 500 = 2,500 → R_B = 5 / 2,500 = 0.002. Per 1,000 residents:
#   V1 = 1000 · R_A = 4.0;  V2 = 1000 · (R_A + R_B) = 6.0;  V3 = 1000 · R_B = 2.0.
# Check: 1,000·4 + 2,000·6 + 500·2 = 17,000 = 1,000 · (12 + 5) beds.
#
# E2SFCA, zones 0–10 / 10–20 / 20–30 min weighted 1 / 0.68 / 0.22:
#   w(A,V1) = 1 (10 min is in the first zone), w(A,V2) = 0.22, w(B,V2) = 0.68, w(B,V3) = 1.
#   D_A = 1,000·1 + 2,000·0.22 = 1,440 → R_A = 12 / 1,440 = 1/120;
#   D_B = 2,000·0.68 + 500·1 = 1,860 → R_B = 5 / 1,860 = 1/372.
#   V1 = 1000/120 = 8.3333…; V2 = 1000·(0.22/120 + 0.68/372) = 1.8333… + 1.8279… = 3.6612…;
#   V3 = 1000/372 = 2.6881…
# Check: 1,000·8.3333 + 2,000·3.6613 + 500·2.6882 = 8,333.3 + 7,322.6 + 1,344.1 = 17,000.

HAND_MIN = {("A", "V1"): 10, ("A", "V2"): 25, ("B", "V2"): 20, ("B", "V3"): 5}
HAND_POP = np.array([1000.0, 2000.0, 500.0])
HAND_BEDS = np.array([12.0, 5.0])


def hand_pairs() -> sparse.csr_matrix:
    rows = {"A": 0, "B": 1}
    cols = {"V1": 0, "V2": 1, "V3": 2}
    r = [rows[f] for f, _ in HAND_MIN]
    c = [cols[o] for _, o in HAND_MIN]
    return sparse.csr_matrix(
        (np.array(list(HAND_MIN.values()), float) * 60.0, (r, c)), shape=(2, 3)
    )


def test_hand_case_2sfca() -> None:
    out = supply.two_step(
        hand_pairs(), HAND_BEDS, HAND_POP, supply.decay("step", catchment_min=30), per=1000
    )
    np.testing.assert_allclose(out.index, [4.0, 6.0, 2.0], rtol=1e-12)
    np.testing.assert_allclose(out.demand, [3000.0, 2500.0], rtol=1e-12)
    np.testing.assert_allclose(out.ratio, [4.0, 2.0], rtol=1e-12)  # beds per 1,000 in reach
    assert out.reached.tolist() == [1, 2, 1]
    assert out.origins_in_reach.tolist() == [2, 2]


def test_hand_case_e2sfca() -> None:
    dec = supply.decay("zones", catchment_min=30, zones=E2SFCA_ZONES)
    out = supply.two_step(hand_pairs(), HAND_BEDS, HAND_POP, dec, per=1000)
    expected = [1000 / 120, 1000 * (0.22 / 120 + 0.68 / 372), 1000 / 372]
    np.testing.assert_allclose(out.index, expected, rtol=1e-12)
    np.testing.assert_allclose(out.demand, [1440.0, 1860.0], rtol=1e-12)
    assert float(out.index @ HAND_POP) == pytest.approx(1000 * HAND_BEDS.sum(), rel=1e-12)


def test_hand_case_through_a_router() -> None:
    # A straight residential street walked at 4.5 km/h (75 m a minute): clinic A at
    # 1,000 m, B at 4,000 m; V1 at 250 m (10 min from A, 50 from B), V2 at 2,500 m
    # (20 min from each), V3 at 5,500 m (20 min from B, 60 from A). Catchment 30 min,
    # step: D_A = 1,000 + 2,000, D_B = 2,000 + 500: the same 4 / 6 / 2 as above.
    net = network.build(
        make_roads({1: (0, 0), 2: (6000, 0)}, [([1, 2], "residential", 0)]),
        mode="walk",
        crs=TEST_CRS,
    )
    villages = make_points({"V1": (250, 0), "V2": (2500, 0), "V3": (5500, 0)})
    clinics = make_points({"A": (1000, 0), "B": (4000, 0)})
    clinics["name"] = ["甲卫生院", "乙卫生院"]
    clinics["kind"] = "health"
    clinics["tiers"] = "township_health_centre"
    clinics["beds"] = [12.0, 5.0]
    router = engine.Router.build(net, snapping.snap(net, villages), snapping.snap(net, clinics))
    pop = pd.Series(HAND_POP, index=villages.index)
    res = supply.index(
        router, clinics, pop, "health", measure="beds", decay=supply.decay("step", catchment_min=30)
    )
    np.testing.assert_allclose(res.origins["index"].to_numpy(), [4.0, 6.0, 2.0], rtol=1e-12)
    assert res.origins["status"].tolist() == ["ok"] * 3
    assert res.facilities["defaulted"].tolist() == [False, False]
    row = res.summary.iloc[0]
    assert row["defaulted_share"] == 0 and row["confidence"] == "high"
    assert row["index_pop_mean"] == pytest.approx(17000 / 3500, rel=1e-12)
    # a 15-minute catchment leaves V2 and V3 with nothing in reach: a real 0
    short = supply.index(
        router, clinics, pop, "health", measure="beds", decay=supply.decay("step", catchment_min=15)
    )
    assert short.origins["index"].tolist() == [12.0, 0.0, 0.0]  # 12 beds for V1's 1,000
    assert short.origins["status"].tolist() == ["ok", "none_in_reach", "none_in_reach"]
    # B reaches no one within 15 minutes: its 5 beds serve nobody, and that is said
    assert short.summary.iloc[0]["facilities_without_demand"] == 1
    assert short.summary.iloc[0]["supply_without_demand"] == 5.0
    assert np.isnan(short.facilities.loc["B", "ratio"])


def test_hand_case_per_township() -> None:
    out = supply.two_step(
        hand_pairs(), HAND_BEDS, HAND_POP, supply.decay("step", catchment_min=30), per=1000
    )
    res = supply.SupplyIndex(
        origins=pd.DataFrame(
            {"index": out.index, "status": "ok", "reached": out.reached, "population": HAND_POP},
            index=["V1", "V2", "V3"],
        ),
        facilities=pd.DataFrame(),
        summary=pd.DataFrame(),
        meta={},
    )
    table = supply.by_township(res, pd.Series(["甲镇", "甲镇", "乙乡"], index=["V1", "V2", "V3"]))
    # 甲镇: (1,000·4 + 2,000·6) / 3,000 = 16/3; Gini of 4 (×1,000) and 6 (×2,000):
    # Σ w_i w_j |x_i − x_j| = 2·1,000·2,000·2 = 8e6, over 2·W²·μ = 2·9e6·16/3 = 9.6e7 → 1/12.
    assert table.loc["甲镇", "index_pop_mean"] == pytest.approx(16 / 3, rel=1e-12)
    assert table.loc["甲镇", "gini"] == pytest.approx(1 / 12, rel=1e-12)
    assert table.loc["乙乡", "gini"] == 0.0
    assert table.loc[equity.TOTAL, "index_pop_mean"] == pytest.approx(17000 / 3500, rel=1e-12)
    assert table.loc[equity.TOTAL, "origins"] == 3


# --------------------------------------------------------------------------- PySAL access


def access_index(
    cost: pd.DataFrame, pop: pd.Series, beds: pd.Series, how: str, catchment: float
) -> pd.Series:
    """The same index from PySAL access on the same cost table (minutes), per 1,000."""
    demand = pd.DataFrame({"pop": pop.to_numpy()}, index=pd.Index(pop.index, name="origin"))
    supply_df = pd.DataFrame({"beds": beds.to_numpy()}, index=pd.Index(beds.index, name="dest"))
    a = access.Access(
        demand_df=demand,
        demand_index=True,
        demand_value="pop",
        supply_df=supply_df,
        supply_index=True,
        supply_value="beds",
        cost_df=cost,
        cost_origin="origin",
        cost_dest="dest",
        cost_name="cost",
    )
    if how == "step":
        out = a.two_stage_fca(name="x", max_cost=catchment)
    elif how == "zones":
        out = a.enhanced_two_stage_fca(
            name="x", max_cost=catchment, weight_fn=access.weights.step_fn(E2SFCA_ZONES)
        )
    else:
        out = a.two_stage_fca(
            name="x", max_cost=catchment, weight_fn=lambda t: dai_gaussian(t, catchment)
        )
    return out["x_beds"].reindex(pop.index) * 1000.0


def cost_table(pairs: sparse.csr_matrix, f_ids, o_ids) -> pd.DataFrame:
    coo = pairs.tocoo()
    return pd.DataFrame(
        {
            "origin": np.asarray(o_ids)[coo.col],
            "dest": np.asarray(f_ids)[coo.row],
            "cost": coo.data / 60.0,
        }
    )


def check_against_access(pairs, f_ids, o_ids, pop, beds, how, catchment) -> np.ndarray:
    zones = E2SFCA_ZONES if how == "zones" else None
    dec = supply.decay(how, catchment_min=catchment, zones=zones)
    ours = supply.two_step(pairs, beds.to_numpy(), pop.to_numpy(), dec, per=1000)
    theirs = access_index(cost_table(pairs, f_ids, o_ids), pop, beds, how, catchment).to_numpy()
    reached = ours.reached > 0
    # access leaves origins with no facility in reach out (NaN); ours says 0, and why
    assert np.isnan(theirs[~reached]).all()
    assert (ours.index[~reached] == 0).all()
    np.testing.assert_allclose(ours.index[reached], theirs[reached], rtol=REL, atol=0)
    return ours.index


@pytest.mark.parametrize("how", ["step", "zones", "gaussian"])
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_random_cases_equal_access(how: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_f, n_o = int(rng.integers(3, 25)), int(rng.integers(10, 120))
    minutes = rng.uniform(0.5, 60.0, size=(n_f, n_o))
    minutes[rng.random((n_f, n_o)) < 0.3] = np.inf  # unreachable pairs
    keep = minutes <= 30.0
    pairs = sparse.csr_matrix(np.where(keep, minutes * 60.0, 0.0))
    # every facility with residents in reach (access divides 0 by 0 otherwise)
    pop = pd.Series(rng.integers(1, 5000, n_o).astype(float), index=[f"o{i}" for i in range(n_o)])
    beds = pd.Series(rng.integers(0, 400, n_f).astype(float), index=[f"f{j}" for j in range(n_f)])
    has = np.asarray(pairs.sum(axis=1)).ravel() > 0
    pairs = pairs[has]
    beds = beds[has]
    index = check_against_access(pairs, beds.index, pop.index, pop, beds, how, 30.0)
    # supply is conserved: Σ pop_i A_i = 1,000 Σ S_j over facilities with demand
    assert float(index @ pop.to_numpy()) == pytest.approx(1000 * beds.sum(), rel=1e-9)


# --------------------------------------------------------------------------- decays


def test_step_decay_closed_at_the_catchment() -> None:
    d = supply.decay("step", catchment_min=30)
    assert d.weights([0, 29.999, 30, 30.0001]).tolist() == [1, 1, 1, 0]
    assert d.method == "2SFCA"


def test_gaussian_decay_is_dais() -> None:
    d = supply.decay("gaussian", catchment_min=30)
    t = np.array([0.0, 7.5, 15.0, 29.0, 30.0, 31.0])
    np.testing.assert_allclose(
        d.weights(t), [dai_gaussian(x, 30) for x in t], rtol=1e-12, atol=1e-15
    )
    assert d.weights([0.0])[0] == 1.0 and d.weights([30.0])[0] == 0.0
    assert d.method == "G2SFCA"


def test_zone_decay_boundaries_and_rule_zones() -> None:
    d = supply.decay("zones", catchment_min=30, zones=E2SFCA_ZONES)
    got = d.weights([0, 10, 10.001, 20, 20.5, 30, 30.5]).tolist()
    assert got == [1.0, 1.0, 0.68, 0.68, 0.22, 0.22, 0.0]
    # the rule's zones are thirds of the catchment: 15 / 30 / 45 for a 45-minute tier
    d45 = supply.decay("zones", catchment_min=45)
    assert d45.zone_ends_min == (15.0, 30.0, 45.0)
    assert d45.zone_weights == (1.0, 0.68, 0.22)
    assert d45.method == "E2SFCA" and "15–30" in d45.describe("en")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kind": "cosine", "catchment_min": 30}, "decay must be one of"),
        ({"kind": "step", "catchment_min": 0}, "catchment_min must be"),
        ({"kind": "step", "catchment_min": float("nan")}, "catchment_min must be"),
        ({"kind": "step", "catchment_min": 30, "zones": {30: 1}}, "zones are for"),
        ({"kind": "zones", "catchment_min": 30, "zones": {10: 1, 20: 0.5}}, "last zone must end"),
        ({"kind": "zones", "catchment_min": 30, "zones": {10: 1, 30: -1}}, "weights must be"),
    ],
)
def test_decay_refuses_bad_input(kwargs, match) -> None:
    with pytest.raises(ValidationError, match=match):
        supply.decay(**kwargs)


# --------------------------------------------------------------------------- supply values


def facility_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "name": ["县医院", "甲镇卫生院", "乙乡卫生院", "丙村卫生室"],
            "kind": "health",
            "tiers": [
                "county_hospital",
                "township_health_centre",
                "township_health_centre",
                "village_clinic",
            ],
            "beds": [620.0, np.nan, np.nan, np.nan],
            "capacity": [np.nan, 55.0, np.nan, np.nan],  # no beds stated: capacity stands in
        },
        index=["h1", "h2", "h3", "h4"],
    )


def test_supply_values_stated_then_default() -> None:
    rules = supply.load_rules()
    m = rules.measure("beds")
    got = supply.supply_values(facility_table(), "health", m)
    d_thc, d_vc = m.defaults["township_health_centre"], m.defaults["village_clinic"]
    assert got["supply"].tolist() == [620.0, 55.0, d_thc, d_vc]
    assert got["supply_from"].tolist() == ["beds", "capacity", "default", "default"]
    assert got["defaulted"].tolist() == [False, False, True, True]


def test_defaulted_share_and_confidence() -> None:
    # one clinic reaching every village: the summary's shares come from the facility table
    rules = supply.load_rules(
        {"measures": {"beds": {"defaults": {"township_health_centre": 45, "village_clinic": 0}}}}
    )
    f = facility_table()
    vals = supply.supply_values(f, "health", rules.measure("beds"))
    expected_share = (45.0 + 0.0) / (620.0 + 55.0 + 45.0 + 0.0)
    assert vals.loc[vals["defaulted"], "supply"].sum() / vals["supply"].sum() == pytest.approx(
        expected_share
    )
    assert rules.confidence(expected_share) == "high"  # 6 % <= 10 %
    assert rules.confidence(0.3) == "medium" and rules.confidence(0.9) == "low"
    assert rules.confidence(float("nan")) == "low"
    # through index(): a router with every facility on one street
    net = network.build(
        make_roads({1: (0, 0), 2: (3000, 0)}, [([1, 2], "residential", 0)]),
        mode="walk",
        crs=TEST_CRS,
    )
    pts = make_points({"h1": (100, 0), "h2": (200, 0), "h3": (300, 0), "h4": (400, 0)})
    f = pts.join(f)
    villages = make_points({"v1": (150, 0), "v2": (350, 0)})
    router = engine.Router.build(net, snapping.snap(net, villages), snapping.snap(net, f))
    res = supply.index(
        router,
        f,
        pd.Series([800.0, 1200.0], index=villages.index),
        "health",
        measure="beds",
        decay=supply.decay("step", catchment_min=30),
        rules=rules,
    )
    row = res.summary.iloc[0]
    assert row["defaulted_share"] == pytest.approx(expected_share)
    assert row["facilities_defaulted"] == 2 and row["confidence"] == "high"
    # everything in reach of both villages: each gets all 720 beds over 2,000 residents
    np.testing.assert_allclose(res.origins["index"], [360.0, 360.0], rtol=1e-12)


def test_registry_beds_and_doctors_reach_supply(tmp_path) -> None:
    # a county's health list with 实有床位数 and 执业（助理）医师数, merged with OSM: the
    # stated figures are the supply (never a default), the OSM figure of a matched
    # clinic the list leaves blank is kept, and only blank-everywhere rows default
    from accessibility.sources import registry

    path = tmp_path / "health.csv"
    path.write_text(
        "机构名称,机构类型,经度,纬度,实有床位数,执业（助理）医师数\n"
        "示例县人民医院,县级医院,113.850,34.030,520,148\n"
        "东河镇卫生院,乡镇卫生院,113.860,34.040,,15\n"
        "王庄村卫生室,村卫生室,113.870,34.050,,\n",
        encoding="utf-8",
    )
    reg = registry.read_facilities(path).table
    osm = gpd.GeoDataFrame(
        {
            "name": ["东河镇卫生院", "李庄村卫生室"],
            "kind": "health",
            "tiers": ["township_health_centre", "village_clinic"],
            "beds": [42.0, np.nan],
            "doctors": [np.nan, 1.0],
            "capacity": np.nan,
        },
        geometry=gpd.points_from_xy([113.8601, 113.880], [34.0401, 34.060]),
        index=pd.Index(["n1", "n2"], name="id"),
        crs=4326,
    )
    merged, _ = registry.merge(osm, reg, crs=TEST_CRS)
    rules = supply.load_rules()
    beds = supply.supply_values(merged, "health", rules.measure("beds"))
    doctors = supply.supply_values(merged, "health", rules.measure("doctors"))
    ids = [*reg.index, "n2"]
    vc = "village_clinic"
    b_vc = rules.measure("beds").defaults[vc]
    assert beds.loc[ids, "supply"].tolist() == [520.0, 42.0, b_vc, b_vc]
    assert beds.loc[ids, "defaulted"].tolist() == [False, False, True, True]
    d_vc = rules.measure("doctors").defaults[vc]
    assert doctors.loc[ids, "supply"].tolist() == [148.0, 15.0, d_vc, 1.0]
    assert doctors.loc[ids, "defaulted"].tolist() == [False, False, True, False]


def test_school_seats_split_between_tiers_by_years() -> None:
    m = supply.load_rules().measure("seats")
    f = pd.DataFrame(
        {
            "kind": "school",
            "tiers": ["primary;middle", "primary", "primary;middle"],
            "capacity": [900.0, 300.0, np.nan],
        },
        index=["s1", "s2", "s3"],
    )
    primary = supply.supply_values(f, "school:primary", m)
    middle = supply.supply_values(f, "school:middle", m)
    # a nine-year school's 900 seats: 6 years of primary, 3 of middle → 600 + 300
    assert primary["supply"].tolist() == [600.0, 300.0, m.defaults["primary"]]
    assert middle.loc[["s1", "s3"], "supply"].tolist() == [300.0, m.defaults["middle"]]


def test_supply_values_refuse_a_measure_of_another_kind() -> None:
    with pytest.raises(ValidationError, match="counts school facilities"):
        supply.supply_values(facility_table(), "health", supply.load_rules().measure("seats"))


def test_rules_refuse_bad_overrides() -> None:
    with pytest.raises(ValidationError, match="must be a finite number >= 0"):
        supply.load_rules({"measures": {"beds": {"defaults": {"county_hospital": -5}}}})
    with pytest.raises(ValidationError, match="unknown health tier"):
        supply.load_rules({"measures": {"beds": {"defaults": {"clinic": 5}}}})
    with pytest.raises(ValidationError, match="unknown supply measure"):
        supply.load_rules().measure("nurses")
    with pytest.raises(ValidationError, match="last zone must end"):
        supply.load_rules({"decay": {"zones": {"ends": [0.5, 0.9], "weights": [1, 0.5]}}})


def test_classify_keeps_supply_tags() -> None:
    pois = make_points({"n1": (0, 0), "n2": (10, 0), "n3": (20, 0)})
    pois["name"] = ["示例县人民医院", "甲镇中心小学", "乙镇卫生院"]
    pois["tags"] = [
        {"amenity": "hospital", "healthcare": "hospital", "beds": "620", "doctors": "180"},
        {"amenity": "school", "capacity": "1,200"},
        {"amenity": "hospital", "beds": "about forty"},
    ]
    out = classify.facilities(pois)
    assert out.loc["n1", "beds"] == 620.0 and out.loc["n1", "doctors"] == 180.0
    assert out.loc["n2", "capacity"] == 1200.0
    assert np.isnan(out.loc["n3", "beds"])  # not a number: no value, never 0
    assert "tags" not in out.columns


# --------------------------------------------------------------------------- what cannot be measured


def line_router(villages: dict, clinics: dict):
    net = network.build(
        make_roads({1: (0, 0), 2: (6000, 0)}, [([1, 2], "residential", 0)]),
        mode="walk",
        crs=TEST_CRS,
    )
    v = make_points(villages)
    c = make_points(clinics) if clinics else make_points({"x": (0, 0)}).iloc[:0]
    c["name"] = [f"卫生院{i}" for i in range(len(c))]
    c["kind"] = "health"
    c["tiers"] = "township_health_centre"
    c["beds"] = 10.0
    return engine.Router.build(net, snapping.snap(net, v), snapping.snap(net, c)), c


def test_no_facility_is_no_data_not_zero() -> None:
    router, clinics = line_router({"v1": (100, 0), "v2": (900, 0)}, {})
    res = supply.index(
        router,
        clinics,
        pd.Series([100.0, 200.0], index=["v1", "v2"]),
        "health",
        measure="beds",
        decay=supply.decay("step", catchment_min=30),
    )
    assert res.origins["index"].isna().all()
    assert (res.origins["status"] == supply.STATUS_NO_FACILITY).all()
    row = res.summary.iloc[0]
    assert row["status"] == "no_facility" and row["confidence"] == "low"
    assert np.isnan(row["index_pop_mean"]) and np.isnan(row["gini"])


def test_unknown_population_is_no_data_and_not_demand() -> None:
    # v1 (100 residents) and v2 (unknown) both 1–2 min from one clinic of 10 beds:
    # v2 is not counted, so v1 has 10 beds for 100 residents = 100 per 1,000; v2 has none given
    router, clinics = line_router({"v1": (100, 0), "v2": (200, 0)}, {"c": (150, 0)})
    res = supply.index(
        router,
        clinics,
        pd.Series([100.0, np.nan], index=["v1", "v2"]),
        "health",
        measure="beds",
        decay=supply.decay("step", catchment_min=30),
    )
    assert res.origins.loc["v1", "index"] == pytest.approx(100.0, rel=1e-12)
    assert np.isnan(res.origins.loc["v2", "index"])
    assert res.origins.loc["v2", "status"] == supply.STATUS_POPULATION_UNKNOWN
    assert res.summary.iloc[0]["origins_population_unknown"] == 1


def test_zero_demand_facility_serves_no_one() -> None:
    # clinic c2 reaches only v2, which has no residents: its ratio is undefined (NaN);
    # v2 is within reach of a facility (status ok) and gets 0 from it, not inf
    router, clinics = line_router(
        {"v1": (100, 0), "v2": (5900, 0)}, {"c1": (200, 0), "c2": (5800, 0)}
    )
    res = supply.index(
        router,
        clinics,
        pd.Series([500.0, 0.0], index=["v1", "v2"]),
        "health",
        measure="beds",
        decay=supply.decay("step", catchment_min=10),
    )
    assert res.origins["index"].tolist() == [20.0, 0.0]  # 10 beds / 500 residents
    assert res.origins["status"].tolist() == ["ok", "ok"]
    assert np.isnan(res.facilities.loc["c2", "ratio"])
    assert res.summary.iloc[0]["facilities_without_demand"] == 1


def test_index_refuses_bad_input() -> None:
    router, clinics = line_router({"v1": (100, 0)}, {"c": (150, 0)})
    pop = pd.Series([100.0], index=["v1"])
    dec = supply.decay("step", catchment_min=30)
    with pytest.raises(ValidationError, match="share"):
        supply.index(router, clinics, pop, "health", measure="beds", decay=dec, share=0)
    with pytest.raises(ValidationError, match="shares no id"):
        supply.index(
            router, clinics, pd.Series([1.0], index=["zz"]), "health", measure="beds", decay=dec
        )
    with pytest.raises(ValidationError, match="finite and >= 0"):
        supply.index(
            router, clinics, pd.Series([-1.0], index=["v1"]), "health", measure="beds", decay=dec
        )
    with pytest.raises(ValidationError, match="counts health facilities"):
        supply.index(router, clinics, pop, "school:primary", measure="beds", decay=dec)


# --------------------------------------------------------------------------- the sample county


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    settings.root = tmp_path_factory.mktemp("supply_root")
    try:
        return pipeline.prepare("sample", mode="ebike", progress=False)
    finally:
        settings.root = None


@pytest.mark.parametrize("how", ["step", "zones", "gaussian"])
def test_sample_county_equals_access(sample, how: str) -> None:
    res = supply.health(
        sample, measure="beds", decay_kind=how, zones=E2SFCA_ZONES if how == "zones" else None
    )
    ids = res.facilities.index
    pairs = sample.router.pairs_within(30 * 60.0, ids)
    pop = sample.origins["population"].reindex(sample.router.origins.index)
    assert pop.notna().all() and (pop > 0).all()
    beds = res.facilities["supply"]
    with_demand = np.asarray(pairs.getnnz(axis=1)) > 0
    pairs, beds = pairs[with_demand], beds[with_demand]
    index = check_against_access(pairs, beds.index, pop.index, pop, beds, how, 30.0)
    np.testing.assert_allclose(res.origins["index"].to_numpy(), index, rtol=1e-12)
    row = res.summary.iloc[0]
    assert row["index_pop_mean"] == pytest.approx(1000 * beds.sum() / pop.sum(), rel=1e-9)
    assert row["gini"] == pytest.approx(equity.gini(index, pop.to_numpy()), rel=1e-12)


def test_sample_county_schools(sample) -> None:
    from accessibility.policies import school_tiers

    class Tiers:  # the one tier whose mode the sample study has
        rules = school_tiers.load_rules(modes={"middle": "ebike"})
        tiers = ("middle",)

        def study_for(self, tier):
            return sample

    (res,) = supply.schools(Tiers()).values()
    rule = Tiers.rules.tier("middle")
    assert (
        res.meta["share"] == rule.school_age_share and res.meta["catchment_min"] == rule.limit_min
    )
    children = res.origins["demand"].to_numpy()
    np.testing.assert_allclose(
        children, res.origins["population"].to_numpy() * rule.school_age_share
    )
    seats = res.facilities.loc[res.facilities["demand"] > 0, "supply"].sum()
    assert float(res.origins["index"] @ children) == pytest.approx(seats, rel=1e-9)
