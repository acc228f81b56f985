"""School layout tiers: compliance on hand-placed schools, closures on a hand-built network,
rule validation, the sample county, and the notebook end to end."""

from __future__ import annotations

import html
import json
import re

import folium
import geopandas as gpd
import nbformat
import numpy as np
import openpyxl
import pandas as pd
import pyogrio
import pytest
import shapely

from accessibility import engine, maps, network, pipeline, regions, runner, snapping
from accessibility._errors import ValidationError
from accessibility.policies import _overlays
from accessibility.policies import school_tiers as st
from accessibility.settings import settings

from .conftest import TEST_CRS, check_excel_and_png, lonlat, make_points, make_roads

REL = 3e-3  # layout metres vs geodesic lengths
WALK_M_PER_MIN = 4.5 / 3.6 * 60  # 75 m per minute on foot


# --------------------------------------------------------------------------- hand-placed
def _places() -> gpd.GeoDataFrame:
    table = {
        "cs": ((0, 0), "county_seat", 100_000, "城关镇"),
        "ts_big": ((10_000, 0), "township_seat", 30_000, "大镇"),
        "ts_small": ((20_000, 0), "township_seat", 8_000, "小乡"),
        "av_big": ((0, 10_000), "admin_village", 3_000, "大村"),
        "av_small": ((10_000, 10_000), "admin_village", 900, "小村"),
        "av_nopop": ((20_000, 10_000), "admin_village", np.nan, "无人口村"),
        "nv": ((30_000, 0), "natural_village", np.nan, "自然村"),
    }
    places = make_points({k: v[0] for k, v in table.items()})
    places["level"] = [v[1] for v in table.values()]
    places["population"] = [v[2] for v in table.values()]
    places["name"] = [v[3] for v in table.values()]
    return places


def _schools() -> gpd.GeoDataFrame:
    table = {
        "h_cs": ((500, 0), "school", "high"),
        "h_village": ((100, 10_000), "school", "high"),
        "nine_big": ((50, 10_050), "school", "primary;middle"),
        "m_ts_big": ((10_100, 0), "school", "middle"),
        "m_ts_small": ((20_100, 0), "school", "middle"),
        "p_nopop": ((20_050, 10_000), "school", "primary"),
        "p_alone": ((40_000, 40_000), "school", "primary"),
        "p_natural": ((30_100, 0), "school", "primary"),
        "no_tier": ((600, 0), "school", ""),
        "clinic": ((0, 50), "health", "village_clinic"),
    }
    schools = make_points({k: v[0] for k, v in table.items()})
    schools["kind"] = [v[1] for v in table.values()]
    schools["tiers"] = [v[2] for v in table.values()]
    schools["name"] = list(table)
    return schools


@pytest.fixture(scope="module")
def checks() -> st.Compliance:
    return st.compliance((_schools(), _places()), crs=TEST_CRS, lang="en")


def test_settlement_of_hand_placed_schools() -> None:
    s = st.settlement_of(_schools(), _places(), crs=TEST_CRS)
    assert s.loc["h_cs", "settlement_id"] == "cs" and s.loc["h_cs", "size"] == "large"
    assert s.loc["h_cs", "distance_m"] == pytest.approx(500, rel=REL)
    assert s.loc["nine_big", ["settlement_id", "level", "size"]].tolist() == [
        "av_big",
        "admin_village",
        "large",
    ]
    assert s.loc["m_ts_small", "size"] == "small"
    assert s.loc["p_nopop", "size"] == "unknown"
    assert s.loc["p_natural", ["level", "size"]].tolist() == ["natural_village", "small"]
    assert s.loc["p_alone", "level"] == st.NONE and pd.isna(s.loc["p_alone", "settlement_id"])
    assert np.isnan(s.loc["p_alone", "distance_m"]) and s.loc["p_alone", "size"] == ""
    # a radius for every level: 150 m leaves the county-seat school in no settlement
    tight = st.settlement_of(_schools(), _places(), crs=TEST_CRS, radius_m=150)
    assert tight.loc["h_cs", "level"] == st.NONE
    assert tight.loc["h_village", "level"] == "admin_village"


def test_school_sits_in_the_settlement_it_lies_deepest_in() -> None:
    places = make_points({"town": (0, 0), "village": (1000, 0)})
    places["level"] = ["township_seat", "admin_village"]
    places["population"] = [20_000, 1_000]
    schools = make_points({"a": (600, 0), "b": (300, 0)})
    s = st.settlement_of(schools, places, crs=TEST_CRS)
    # a: 600/1500 = 0.40 of the town's radius, 400/600 = 0.67 of the village's
    assert s.loc["a", "settlement_id"] == "town"
    # b: 300/1500 = 0.20 against 700 m, beyond the village's 600 m
    assert s.loc["b", "settlement_id"] == "town"
    schools = make_points({"c": (900, 0)})
    assert st.settlement_of(schools, places, crs=TEST_CRS).loc["c", "settlement_id"] == "village"


def test_high_school_in_a_village_is_an_exception(checks) -> None:
    row = checks.by_tier.loc[("h_village", "high")]
    assert not row["compliant"] and row["reason"] == "level_not_allowed"
    assert "Administrative village" in row["note"] and "County seat" in row["note"]
    assert checks.by_tier.loc[("h_cs", "high"), "compliant"]
    assert ("h_village", "high") in checks.exceptions.index


def test_nine_year_school_in_a_large_village_is_judged_per_tier(checks) -> None:
    assert checks.by_tier.loc[("nine_big", "primary"), "compliant"]
    middle = checks.by_tier.loc[("nine_big", "middle")]
    assert not middle["compliant"] and middle["reason"] == "level_not_allowed"
    wide = checks.schools.loc["nine_big"]
    assert wide["primary_status"] == "compliant" and wide["middle_status"] == "exception"
    assert wide["high_status"] == "" and not wide["compliant"]


def test_reasons_for_size_missing_population_and_no_settlement(checks) -> None:
    bt = checks.by_tier
    assert bt.loc[("m_ts_big", "middle"), "compliant"]
    assert bt.loc[("m_ts_small", "middle"), "reason"] == "too_small"
    assert "8,000" in bt.loc[("m_ts_small", "middle"), "note"]
    assert bt.loc[("p_nopop", "primary"), "reason"] == "population_unknown"
    assert bt.loc[("p_alone", "primary"), ["level", "reason"]].tolist() == [
        st.NONE,
        "no_settlement",
    ]
    assert bt.loc[("p_natural", "primary"), "reason"] == "level_not_allowed"
    assert bt.loc[("no_tier", st.UNKNOWN_TIER), "reason"] == "tier_unknown"
    assert "clinic" not in bt.index.get_level_values(0)


def test_compliance_summary_counts(checks) -> None:
    s = checks.summary
    assert s.loc["primary", ["schools", "compliant", "exceptions"]].tolist() == [4, 1, 3]
    assert s.loc["middle", ["schools", "compliant", "exceptions"]].tolist() == [3, 1, 2]
    assert s.loc["high", ["schools", "compliant", "exceptions"]].tolist() == [2, 1, 1]
    assert s.loc["primary", "in_none"] == 1 and s.loc["middle", "too_small"] == 1
    assert s.loc[st.UNKNOWN_TIER, "tier_unknown"] == 1
    assert len(checks.exceptions) == int(s["exceptions"].sum())


def test_overrides_change_the_verdict() -> None:
    rules = st.load_rules({"settlements": {"township_seat": {"large_population": 5_000}}})
    res = st.compliance((_schools(), _places()), rules, crs=TEST_CRS)
    assert res.by_tier.loc[("m_ts_small", "middle"), "compliant"]
    assert "较大" in res.by_tier.loc[("m_ts_small", "middle"), "allowed"]  # zh by default


# --------------------------------------------------------------------------- rules
def test_default_rules() -> None:
    rules = st.load_rules()
    assert rules is st.load_rules()  # read once
    assert [rules.tier(t).mode for t in st.TIERS] == ["walk_child", "ebike", "car"]
    assert rules.tier("high").allowed == (st.Condition("county_seat"),)
    assert rules.tier("primary").school_age_share == pytest.approx(0.08)
    assert set(rules.boarding_levels) == {"county_seat", "township_seat"}
    assert 45 in rules.thresholds_min()
    changed = st.load_rules(modes={"middle": "bicycle"}, limits_min={"primary": 20})
    assert changed.tier("middle").mode == "bicycle" and changed.tier("primary").limit_min == 20
    assert 20 in changed.thresholds_min(["primary"])
    # a tier's map classes end at its limit and keep the shared limits below it
    assert rules.classes_min("primary") == [15, 30] and rules.classes_min("high") == [15, 30, 45]
    assert changed.classes_min("primary") == [15, 20]
    assert st.load_rules().tier("middle").mode == "ebike"  # defaults untouched


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"tiers": {"primary": {"limit_min": -5}}},
            r"tiers\.primary\.limit_min must be a number > 0",
        ),
        (
            {"tiers": {"middle": {"mode": "rocket"}}},
            r"tiers\.middle\.mode: unknown travel mode 'rocket'",
        ),
        (
            {"tiers": {"high": {"school_age_share": 1.5}}},
            r"school_age_share must be a number > 0 and <= 1",
        ),
        (
            {"tiers": {"high": {"allowed": [{"level": "city"}]}}},
            r"tiers\.high\.allowed\[0\] has level 'city'",
        ),
        ({"tiers": {"high": {"allowed": []}}}, r"allowed is empty"),
        (
            {"tiers": {"high": {"close": [{"level": "county_seat", "size": "huge"}]}}},
            r"size 'huge'",
        ),
        ({"tiers": {"college": {}}}, r"unknown tier\(s\) \['college'\]"),
        ({"tiers": {"primary": {"speed": 3}}}, r"unknown key\(s\) \['speed'\] in tiers\.primary"),
        ({"zones": {}}, r"unknown key\(s\) \['zones'\] in the top level"),
        ({"settlements": {"township_seat": {"size": "large"}}}, r"exactly one of large_population"),
        (
            {"settlements": {"admin_village": {"radius_m": 0}}},
            r"settlements\.admin_village\.radius_m must be a number > 0",
        ),
        (
            {"settlements": {"hamlet": {"radius_m": 100, "size": "small"}}},
            r"unknown settlement level 'hamlet'",
        ),
        ({"boarding": {"levels": ["admin_town"]}}, r"boarding\.levels must be a non-empty list"),
        ({"map": {"thresholds_min": [0]}}, r"map\.thresholds_min"),
    ],
)
def test_rules_validation(overrides, message) -> None:
    with pytest.raises(ValidationError, match=message):
        st.load_rules(overrides)


def test_rules_validation_of_keywords_and_inputs() -> None:
    with pytest.raises(ValidationError, match="unknown school tier 'kindergarten'"):
        st.load_rules(modes={"kindergarten": "walk"})
    with pytest.raises(ValidationError, match="must be a dict shaped like rules/tiers.yml"):
        st.load_rules(["primary"])  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="not projected"):
        st.settlement_of(_schools(), _places(), crs="EPSG:4326")
    with pytest.raises(ValidationError, match="lacks the column"):
        st.settlement_of(_schools(), _places().drop(columns="level"), crs=TEST_CRS)
    with pytest.raises(ValidationError, match="pass crs="):
        st.compliance((_schools(), _places()))
    with pytest.raises(ValidationError, match="radius_m names unknown levels"):
        st.settlement_of(_schools(), _places(), crs=TEST_CRS, radius_m={"city": 5})
    with pytest.raises(ValidationError, match="tiers must be a list"):
        st.check_tiers("primary")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="'noncompliant' or a list"):
        st.parse_close_rule("small ones", st.load_rules())


# --------------------------------------------------------------------------- hand-built closure
# A straight residential road 0 → 4,000 m (nodes every 1,000 m). Schools A at 0 m, B at
# 2,000 m, C at 4,000 m, on the road. Villages at 500, 1,500, 2,500, 3,500 and 2,000 m.
# Walking at 4.5 km/h (75 m/min). Closing B: v1 (B 500 m → A 1,500 m), v2 (B 500 m →
# C 1,500 m) and v4 (B 0 m → A or C 2,000 m) get longer trips; v0 and v3 do not.
LINE = {i: (1000.0 * i, 0.0) for i in range(5)}
SCHOOLS = {"A": (0.0, 0.0), "B": (2000.0, 0.0), "C": (4000.0, 0.0)}
VILLAGES = {
    "v0": (500.0, 0.0),
    "v1": (1500.0, 0.0),
    "v2": (2500.0, 0.0),
    "v3": (3500.0, 0.0),
    "v4": (2000.0, 0.0),
}
POPULATION = {"v0": 800.0, "v1": 1000.0, "v2": 2000.0, "v3": 600.0, "v4": 500.0}


def _line_study(facility_columns: dict[str, list] | None = None) -> pipeline.Study:
    net = network.build(
        make_roads(LINE, [(list(LINE), "residential", 0)]), mode="walk", crs=TEST_CRS
    )
    facilities = make_points(SCHOOLS)
    facilities["kind"] = "school"
    facilities["tiers"] = "primary"
    facilities["name"] = [f"{k} school" for k in SCHOOLS]
    for col, values in (facility_columns or {}).items():
        facilities[col] = values
    origins = make_points(VILLAGES)
    origins["name"] = list(VILLAGES)
    origins["level"] = "admin_village"
    origins["population"] = [POPULATION[k] for k in VILLAGES]
    # A and C in large villages, B in a small one
    places = make_points({"pa": (0, 300), "pb": (2000, 300), "pc": (4000, 300)})
    places["level"] = "admin_village"
    places["population"] = [3000, 800, 3000]
    places["name"] = ["甲村", "乙村", "丙村"]
    o_snap = snapping.snap(net, origins)
    f_snap = snapping.snap(net, facilities)
    w, s = lonlat(-1000, -1000)
    e, n = lonlat(5000, 1000)
    return pipeline.Study(
        region=regions.Region(name="line", label_zh="测试线", label_en="Test line"),
        unit=None,
        mode="walk",
        crs=TEST_CRS,
        boundary=gpd.GeoSeries([shapely.box(w, s, e, n)], crs=4326),
        network=net,
        places=places,
        buildings=gpd.GeoDataFrame(geometry=[], crs=4326),
        origins=origins,
        facilities=facilities,
        origin_snap=o_snap,
        facility_snap=f_snap,
        router=engine.Router.build(net, o_snap, f_snap),
    )


WALK_RULES = {"modes": {"primary": "walk", "middle": "walk", "high": "walk"}}


def test_schools_without_a_tier_are_no_data_not_every_village_beyond() -> None:
    """Three schools, none with a tier: every tier is no data; its sections say why they were skipped."""
    from accessibility import maps, report
    from accessibility.static_map import draw_map

    from .test_maps import group_names

    rules = st.load_rules(**WALK_RULES)
    study = _line_study({"tiers": ["", "", ""]})
    access = st.access_by_tier("line", rules=rules, studies={"walk": study})
    v = access.villages
    for key in ("school_primary", "school_middle", "school_high"):
        assert v[f"{key}_time_min"].isna().all()
        assert (v[f"{key}_flag"] == engine.FLAG_NO_FACILITY).all()
        assert not v[f"{key}_beyond"].any()  # no data is not beyond
    s = access.summary
    assert (s["status"] == "no_data").all() and (s["schools"] == 0).all()
    assert s["within_limit_pop_share"].isna().all() and s["beyond"].isna().all()
    assert access.boarding.empty and access.boarding_schools.empty
    figures = st.key_figures(access)
    assert all(f["value"] is None and f["status"] == "no_data" for f in figures)

    notes = report.Notes()
    assert access.note_missing(notes) == ["primary", "middle", "high"]
    assert st.consolidate_or_skip(access, "primary", notes=notes, rules=rules) is None
    assert [n["section"] for n in notes] == ["tier", "tier", "tier", "scenario"]
    assert notes.texts("en")[0].startswith("Primary: access, boarding and scenario: no school")
    # the rest still comes out: compliance (tier unknown), report, workbook, layers, maps
    checks = st.compliance(study, rules, lang="en")
    assert (checks.exceptions["reason"] == "tier_unknown").all() and len(checks.exceptions) == 3
    summary = st.report(checks, access, None)
    assert list(summary.index) == ["primary", "middle", "high"]
    sheets = st.excel_tables(checks, access, None, lang="en")
    assert len(sheets) == 3 and sheets[next(iter(sheets))]["status"].str.startswith("No data").all()
    assert "scenario" not in st.layers(checks, access, None, summary)
    fmap = maps.access_map(
        access.villages.to_crs(4326), study.facilities, groups=access.groups,
        thresholds_min=rules.thresholds_min(access.tiers), title="t", notes=notes,
    )  # fmt: skip
    names = group_names(maps.render_html(fmap))
    assert [n for n in names if n.endswith(" · 无数据")] == [
        "小学 · 无数据",
        "初中 · 无数据",
        "高中 · 无数据",
    ]
    fig = draw_map(
        access.villages.to_crs(4326), study.facilities, group=access.groups[0],
        thresholds_min=rules.thresholds_min(access.tiers[:1]), title="t",
    )  # fmt: skip
    texts = [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text"))]
    assert "无数据（数据中无此类设施）：小学" in texts and "不可达" not in texts


def test_one_tier_with_schools_and_two_without() -> None:
    from accessibility import report

    rules = st.load_rules(**WALK_RULES)
    study = _line_study({"tiers": ["primary", "", ""]})
    access = st.access_by_tier("line", rules=rules, studies={"walk": study})
    assert access.summary["status"].to_dict() == {
        "primary": "ok",
        "middle": "no_data",
        "high": "no_data",
    }
    primary = access.summary.loc["primary"]
    # school A at 0 m; villages at 500, 1,500, 2,500, 3,500 and 2,000 m; a limit of 15 min
    t = access.villages["school_primary_time_min"]
    limit = rules.tier("primary").limit_min
    assert (
        primary["beyond"]
        == int((t > limit).sum())
        == int((np.array([500, 1500, 2500, 3500, 2000]) / WALK_M_PER_MIN > limit).sum())
    )
    notes = report.Notes()
    assert access.note_missing(notes) == ["middle", "high"]
    scenario = st.consolidate_or_skip(access, "primary", [], notes=notes, rules=rules)
    assert scenario is not None and len(notes) == 2


def test_closing_one_school_raises_exactly_the_expected_villages() -> None:
    study = _line_study()
    table = st.scenario_table(
        study.router,
        ["A", "B", "C"],
        ["B"],
        limit_min=15,
        population=study.origins["population"],
        school_age_share=0.08,
    )
    expected_before = {"v0": 500, "v1": 500, "v2": 500, "v3": 500, "v4": 0}
    expected_after = {"v0": 500, "v1": 1500, "v2": 1500, "v3": 500, "v4": 2000}
    for v in VILLAGES:
        assert table.loc[v, "before_min"] == pytest.approx(
            expected_before[v] / WALK_M_PER_MIN, rel=REL, abs=1e-9
        )
        assert table.loc[v, "after_min"] == pytest.approx(
            expected_after[v] / WALK_M_PER_MIN, rel=REL
        )
    changed = ["v1", "v2", "v4"]
    assert table.index[table["reassigned"]].tolist() == changed
    assert table.loc[["v0", "v3"], "delta_min"].eq(0).all()
    assert table.loc[["v0", "v3"], "after_school"].tolist() == ["A", "C"]
    assert table.loc["v1", "after_school"] == "A" and table.loc["v2", "after_school"] == "C"
    # 15 minutes = 1,125 m: v1, v2 (1,500 m) and v4 (2,000 m) newly beyond
    assert table.index[table["newly_beyond"]].tolist() == changed
    summary = st.scenario_summary(table, schools_before=3, closed=1)
    assert summary["reassigned"] == 3 and summary["schools_after"] == 2
    assert summary["children_affected"] == pytest.approx((1000 + 2000 + 500) * 0.08)
    assert summary["children_newly_beyond"] == pytest.approx(280.0)
    assert summary["max_increase_min"] == pytest.approx(2000 / WALK_M_PER_MIN, rel=REL)


def test_closing_nothing_or_everything() -> None:
    study = _line_study()
    same = st.scenario_table(study.router, ["A", "B", "C"], [], limit_min=15)
    assert not same["reassigned"].any() and same["delta_min"].eq(0).all()
    gone = st.scenario_table(study.router, ["A", "B", "C"], ["A", "B", "C"], limit_min=15)
    assert gone["reassigned"].all() and gone["after_flag"].eq(engine.FLAG_NO_FACILITY).all()
    assert gone["beyond_after"].all()
    with pytest.raises(ValidationError, match="not in the set of open schools"):
        st.scenario_table(study.router, ["A", "C"], ["B"], limit_min=15)


def test_consolidate_by_default_rule_closes_the_small_village_school() -> None:
    study = _line_study()
    sc = st.consolidate(study, "primary", limit_min=15, school_age_share=0.08)
    assert sc.closed.index.tolist() == ["B"]
    assert sc.closed.loc["B", ["settlement", "size", "villages_before"]].tolist() == [
        "乙村",
        "small",
        3,
    ]
    assert sc.closed.loc["B", "children_before"] == pytest.approx(280.0)
    assert sc.summary["children_affected"] == pytest.approx(280.0)
    assert sc.summary["reassigned"] == 3 and sc.capacity is None
    assert sc.villages.loc["v1", "after_school_name"] == "A school"
    assert sc.villages.crs.to_epsg() == 4326
    by_ids = st.consolidate(study, "primary", ["B"], limit_min=15)
    pd.testing.assert_series_equal(by_ids.villages["after_min"], sc.villages["after_min"])
    none = st.consolidate(study, "primary", rule=[{"level": "natural_village"}], limit_min=15)
    assert none.closed.empty and none.summary["reassigned"] == 0


def test_consolidate_input_errors() -> None:
    study = _line_study()
    with pytest.raises(ValidationError, match="either close_ids"):
        st.consolidate(study, "primary", ["B"], rule="noncompliant")
    with pytest.raises(ValidationError, match="no facility with id"):
        st.consolidate(study, "primary", ["Z"])
    with pytest.raises(ValidationError, match="do not serve the middle tier"):
        st.consolidate(study, "middle", ["B"])
    with pytest.raises(ValidationError, match="unknown school tier"):
        st.consolidate(study, "nursery", ["B"])
    with pytest.raises(ValidationError, match="school_age_share must be in"):
        st.consolidate(study, "primary", ["B"], school_age_share=2)
    with pytest.raises(ValidationError, match="needs a 'capacity' column"):
        st.consolidate(study, "primary", ["B"], capacity=True)


def test_capacity_aware_assignment_nearest_pairs_first() -> None:
    # A has 100 - 60 = 40 free seats, C 1,000. Displaced: v1 80, v2 160, v4 40 children.
    # Pairs by time: v1-A 20 min (40 placed, A full), v2-C 20 (160), v4-C 26.7 (40),
    # v1-C 33.3 (the other 40 of v1).
    study = _line_study({"capacity": [100, 50, 1000], "enrolment": [60, 30, 0]})
    sc = st.consolidate(
        study, "primary", ["B"], limit_min=15, school_age_share=0.08, search_limit_min=60
    )
    v = sc.villages
    assert v.loc[["v1", "v2", "v4"], "unplaced_children"].tolist() == pytest.approx([0, 0, 0])
    assert v.loc["v2", "capacity_school"] == "C" and v.loc["v4", "capacity_school"] == "C"
    mean_v1 = (40 * 1500 + 40 * 2500) / 80 / WALK_M_PER_MIN
    assert v.loc["v1", "capacity_mean_min"] == pytest.approx(mean_v1, rel=REL)
    assert v.loc["v1", "capacity_max_min"] == pytest.approx(2500 / WALK_M_PER_MIN, rel=REL)
    assert np.isnan(v.loc["v0", "capacity_mean_min"])  # not displaced
    cap = sc.capacity
    assert cap.loc["A", ["seats", "assigned", "seats_left"]].tolist() == pytest.approx([40, 40, 0])
    assert cap.loc["C", "assigned"] == pytest.approx(160 + 40 + 40)
    assert sc.summary["children_placed"] == pytest.approx(280.0)
    # C with 100 seats: v2 gets 100 of 160, v4 and the rest of v1 find no seat
    tight = st.consolidate(
        _line_study({"capacity": [100, 50, 100], "enrolment": [60, 30, 0]}),
        "primary",
        ["B"],
        limit_min=15,
        school_age_share=0.08,
        search_limit_min=60,
    )
    assert tight.summary["children_unplaced"] == pytest.approx(40 + 60 + 40)
    assert tight.villages.loc["v4", "unplaced_children"] == pytest.approx(40)


def test_capacity_estimates_enrolment_when_missing() -> None:
    # no enrolment column: A's enrolment = v0's 64 children, C's = v3's 48
    study = _line_study({"capacity": [100, 50, np.nan]})
    sc = st.consolidate(study, "primary", ["B"], limit_min=15, school_age_share=0.08)
    assert sc.capacity.loc["A", "enrolment"] == pytest.approx(64)
    assert sc.capacity.loc["A", "seats"] == pytest.approx(36)
    assert np.isinf(sc.capacity.loc["C", "seats"])  # no capacity given: unlimited
    # the default search limit is twice the limit, 30 min = 2,250 m: v1 has only A
    # (1,500 m, 36 seats) within it, so 80 - 36 = 44 of its children find no seat
    assert sc.villages.loc["v1", "unplaced_children"] == pytest.approx(44)
    assert sc.summary["children_unplaced"] == pytest.approx(44)


# --------------------------------------------------------------------------- the sample county
@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> st.TierAccess:
    settings.root = tmp_path_factory.mktemp("root")
    try:
        return st.access_by_tier("sample", progress=False)
    finally:
        settings.root = None


def test_sample_every_village_gets_a_time_per_tier(sample) -> None:
    assert set(sample.studies) == {"walk_child", "ebike", "car"}
    v = sample.villages
    assert len(v) == len(sample.study_for("primary").origins)
    for tier in st.TIERS:
        t = v[f"school_{tier}_time_min"]
        assert np.isfinite(t).all(), tier
        limit = sample.rules.tier(tier).limit_min
        assert (v[f"school_{tier}_beyond"] == (t > limit)).all()
        assert sample.summary.loc[tier, "beyond"] == int((t > limit).sum())
    # a faster mode to fewer schools; the car reaches the nearest high school in time mostly
    assert sample.summary.loc["high", "within_limit_share"] > 0.9


def test_sample_boarding_candidates_are_township_or_county_seat_schools(sample) -> None:
    b = sample.boarding
    assert len(b) == int(sample.summary["beyond"].sum()) > 0
    assert set(b["boarding_level"]) <= {"township_seat", "county_seat"}
    assert (b["time_min"] > b["limit_min"]).all()
    assert (b["boarding_time_min"] >= b["time_min"] - 1e-9).all()  # a subset is never nearer
    facilities = sample.study_for("primary").facilities
    for tier in b.index.get_level_values("tier").unique():
        ids = b.xs(tier, level="tier")["boarding_school"]
        assert facilities.loc[ids, "tiers"].str.contains(tier).all()
    loads = sample.boarding_schools
    assert loads["villages"].sum() == len(b)


def test_sample_compliance_and_scenario(sample) -> None:
    study = sample.study_for("primary")
    checks = st.compliance(study, sample.rules)
    high = checks.by_tier.xs("high", level="tier")
    # a high school in a township seat (杏园高中) is an exception; the county seat's comply
    assert (high.loc[~high["compliant"], "level"] == "township_seat").all()
    assert high.loc[high["level"] == "county_seat", "compliant"].all()
    assert set(checks.summary.index) == set(st.TIERS)
    sc = st.consolidate(study, "primary", rules=sample.rules)
    v = sc.villages
    assert len(sc.closed) > 0 and (sc.closed["size"] == "small").all()
    assert (v["after_min"] >= v["before_min"] - 1e-9).all()
    kept = ~v["reassigned"]
    assert (v.loc[kept, "after_min"] == v.loc[kept, "before_min"]).all()
    before = sample.villages["school_primary_time_min"]
    np.testing.assert_allclose(v["before_min"], before)
    report = st.report(checks, sample, sc)
    assert report.loc["primary", "scenario_closed"] == len(sc.closed)


def test_sample_key_figures_match_the_villages(sample) -> None:
    figures = {f["key"]: f for f in st.key_figures(sample)}
    assert list(figures) == [f"{t}_{k}" for t in st.TIERS for k in ("coverage", "beyond")]
    v = sample.villages
    pop = v["population"].astype(float)
    known = pop.notna()
    for tier in st.TIERS:
        limit = sample.rules.tier(tier).limit_min
        t = v[f"school_{tier}_time_min"]
        within = (t <= limit).to_numpy()
        share = pop[known & within].sum() / pop[known].sum()
        assert figures[f"{tier}_coverage"]["value"] == pytest.approx(share), tier
        assert figures[f"{tier}_beyond"]["value"] == int((~within).sum()), tier
        assert figures[f"{tier}_coverage"]["value"] == pytest.approx(
            sample.summary.loc[tier, "within_limit_pop_share"]
        )
    assert figures["primary_coverage"]["label_zh"].startswith("小学：儿童步行")
    assert figures["high_beyond"]["label_en"] == "High: villages beyond 45 min"


# --------------------------------------------------------------------------- notebook
def _self_contained(html: str) -> bool:
    scripts = re.findall(r"<script[^>]*\bsrc\s*=\s*['\"]([^'\"]+)", html, re.I)
    sheets = re.findall(r"<link[^>]*\bhref\s*=\s*['\"]([^'\"]+)", html, re.I)
    return not [u for u in scripts + sheets if re.match(r"(https?:)?//", u)]


@pytest.mark.slow
def test_notebook_runs_with_defaults(tmp_path) -> None:
    settings.root = tmp_path
    (result,) = runner.run("school_tiers", region="sample", progress=False)
    assert result.notebook.is_file() and result.map_html.is_file()
    html = result.map_html.read_text("utf-8")
    assert _self_contained(html)
    assert "合成数据" in html and "学校布局层级" in html
    gpkg = tmp_path / "data" / "processed" / "sample" / "school_tiers.gpkg"
    layers = set(pyogrio.list_layers(gpkg)[:, 0])
    assert {"schools", "villages", "scenario", "boarding", "summary"} <= layers
    villages = gpd.read_file(gpkg, layer="villages")
    assert {"school_primary_time_min", "school_high_time_min"} <= set(villages.columns)
    summary = pyogrio.read_dataframe(gpkg, layer="summary")  # codes; the CSV is the workbook's sheet
    assert summary["tier"].tolist() == list(st.TIERS)
    shown = pd.read_csv(gpkg.parent / "school_tiers_summary.csv", encoding="utf-8-sig")
    assert shown.iloc[:, 0].tolist() == ["小学", "初中", "高中"]
    check_excel_and_png(gpkg.parent, tmp_path / "maps" / "sample", "school_tiers", "学段")
    sheet = openpyxl.load_workbook(gpkg.parent / "school_tiers.xlsx")["分学段汇总"]
    assert [sheet.cell(row=r, column=1).value for r in (2, 3, 4)] == ["小学", "初中", "高中"]
    nb = nbformat.read(result.notebook, as_version=4)
    assert not [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]


@pytest.mark.slow
def test_notebook_runs_with_other_parameters(tmp_path) -> None:
    settings.root = tmp_path
    params = {
        "tiers": ["middle", "high"],
        "modes": {"middle": "bicycle"},
        "limits_min": {"high": 30},
        "scenario_tier": "middle",
        "close": ["n14773"],  # 杏园镇第一初级中学 of the sample county
        "lang": "en",
    }
    (result,) = runner.run("school_tiers", region="sample", parameters=params, progress=False)
    html = result.map_html.read_text("utf-8")
    assert _self_contained(html) and "School layout tiers" in html
    summary = pyogrio.read_dataframe(
        tmp_path / "data" / "processed" / "sample" / "school_tiers.gpkg", layer="summary"
    ).set_index("tier")
    assert summary.index.tolist() == ["middle", "high"]
    assert summary.loc["middle", "mode"] == "bicycle" and summary.loc["high", "limit_min"] == 30
    assert summary.loc["middle", "scenario_closed"] == 1
    scenario = gpd.read_file(
        tmp_path / "data" / "processed" / "sample" / "school_tiers.gpkg", layer="scenario"
    )
    assert scenario["reassigned"].any()
    check_excel_and_png(
        tmp_path / "data" / "processed" / "sample",
        tmp_path / "maps" / "sample",
        "school_tiers",
        "Tier",
    )


def test_capacity_column_without_values_is_not_used() -> None:
    # a registry merge adds an empty capacity column: no capacity-aware placement
    study = _line_study({"capacity": [np.nan, np.nan, np.nan]})
    assert st.consolidate(study, "primary", ["B"], limit_min=15).capacity is None
    forced = st.consolidate(study, "primary", ["B"], limit_min=15, capacity=True)
    assert np.isinf(forced.capacity["seats"]).all()
    assert forced.summary["children_unplaced"] == pytest.approx(0)


# --------------------------------------------------------------------------- map overlays
#: Internal ids that must never reach a reader: OSM node/way ids, generated ids.
_ID = re.compile(r"\b(?:[nwr]\d{3,}|new_\d+|raster:\d+)\b")
_HEX = re.compile(r"#[0-9a-fA-F]{6}\b")


def _symbols(layer) -> list[dict]:
    """Every marker and line of a layer: kind, location, colour drawn, tooltip text."""
    out = []
    for child in layer._children.values():
        tip = next((c.text for c in child._children.values() if isinstance(c, folium.Tooltip)), "")
        if isinstance(child, folium.CircleMarker):
            o = child.options
            colour = o["fillColor"] if o.get("fill") else o["color"]
            out.append(
                {
                    "kind": "circle",
                    "at": tuple(child.location),
                    "colour": colour.lower(),
                    "outline": o["color"].lower(),
                    "tip": tip,
                }
            )
        elif isinstance(child, folium.PolyLine):
            out.append(
                {
                    "kind": "line",
                    "at": tuple(map(tuple, child.locations)),
                    "colour": child.options["color"].lower(),
                    "tip": tip,
                }
            )
        elif isinstance(child, folium.Marker):
            icon = next(c for c in child._children.values() if isinstance(c, folium.DivIcon))
            colours = [
                c.lower()
                for c in _HEX.findall(icon.options["html"])
                if c.lower() not in ("#ffffff", "#222222")
            ]
            out.append(
                {
                    "kind": "marker",
                    "at": tuple(child.location),
                    "colour": colours[0],
                    "html": icon.options["html"],
                    "tip": tip,
                }
            )
    return out


def _legend(layer) -> _overlays.LayerLegend:
    (legend,) = [c for c in layer._children.values() if isinstance(c, _overlays.LayerLegend)]
    return legend


def _check_legend_and_tips(layer) -> list[dict]:
    symbols = _symbols(layer)
    legend = _legend(layer)
    drawn = {s["colour"] for s in symbols}
    assert drawn <= legend.colours, (
        f"{layer.layer_name}: {drawn - legend.colours} not in the legend"
    )
    assert drawn == _overlays.drawn_colours(layer)
    for s in symbols:
        assert not _ID.search(s["tip"]), s["tip"]
    return symbols


def _expected_state(reasons: set[str]) -> str:
    # worked out from the rule's wording, not from the module's constants
    if reasons & {"level_not_allowed", "too_small", "too_large"}:
        return "breaks"
    if reasons & {"no_settlement", "population_unknown", "tier_unknown"}:
        return "cannot_tell"
    return "complies"


def test_school_states_on_hand_placed_schools(checks) -> None:
    states = st.school_states(checks)
    assert states.to_dict() == {
        "h_cs": "complies",
        "h_village": "breaks",
        "nine_big": "breaks",  # complies for primary, breaks for middle
        "m_ts_big": "complies",
        "m_ts_small": "breaks",
        "p_nopop": "cannot_tell",  # a village of unknown population
        "p_alone": "cannot_tell",  # no settlement within the radii
        "p_natural": "breaks",
        "no_tier": "cannot_tell",
    }


def test_compliance_layer_on_hand_placed_schools(checks) -> None:
    layer = st.compliance_layer(checks, lang="en")
    assert layer.layer_name == "Schools against their tier's rule" and layer.show
    symbols = _check_legend_and_tips(layer)
    assert len(symbols) == len(checks.schools)
    at = {(round(g.y, 9), round(g.x, 9)): fid for fid, g in checks.schools.geometry.items()}
    colour_of = {"complies": "#2c7bb6", "breaks": "#c51b7d", "cannot_tell": "#6d6d6d"}
    for s in symbols:
        fid = at[(round(s["at"][0], 9), round(s["at"][1], 9))]
        reasons = set(checks.by_tier.xs(fid, level=0)["reason"]) - {""}
        state = _expected_state(reasons)
        assert s["colour"] == colour_of[state], fid
        assert s["tip"].startswith(f"<b>{fid}</b>")  # the school's name (here its id)
        for note in checks.by_tier.xs(fid, level=0)["note"]:
            assert html.escape(note) in s["tip"]
    tip = {at[(round(s["at"][0], 9), round(s["at"][1], 9))]: s["tip"] for s in symbols}
    assert "Primary: complies<br>Middle: breaks the rule: Middle school in a" in tip["nine_big"]
    assert "cannot tell" in tip["p_nopop"] and "no settlement nearby" in tip["p_alone"]
    assert [t for _, _, t in _legend(layer).rows] == [
        "Complies with its tier's rule (2)",
        "Breaks its tier's rule (4)",
        "Cannot tell: data lacking (3)",
    ]
    with pytest.raises(ValidationError, match="lang='en'"):
        st.compliance_layer(checks, lang="zh")


@pytest.fixture(scope="module")
def sample_overlays(sample):
    study = sample.study_for("primary")
    checks = st.compliance(study, sample.rules, lang="zh")
    scenario = st.consolidate(study, "primary", rules=sample.rules)
    return checks, scenario


def test_sample_compliance_layer_colours_and_reasons(sample, sample_overlays) -> None:
    checks, _ = sample_overlays
    layer = st.compliance_layer(checks, lang="zh")
    symbols = _check_legend_and_tips(layer)
    schools = checks.schools
    assert len(symbols) == len(schools)
    at = {(round(g.y, 9), round(g.x, 9)): fid for fid, g in schools.geometry.items()}
    breaks = 0
    for s in symbols:
        fid = at[(round(s["at"][0], 9), round(s["at"][1], 9))]
        rows = checks.by_tier.xs(fid, level=0)
        state = _expected_state(set(rows["reason"]) - {""})
        breaks += state == "breaks"
        assert s["colour"] == st.STATE_STYLE[state][1]
        assert s["tip"].startswith(f"<b>{html.escape(schools.loc[fid, 'name'])}</b>")
        assert ("不符合" in s["tip"]) == (state == "breaks")
    # every school outside its rule is magenta: the tiers' exceptions, counted per school
    assert breaks == checks.exceptions.index.get_level_values(0).nunique() > 0
    assert f"不符合学段规则（{breaks} 所）" in [t for _, _, t in _legend(layer).rows]


def test_sample_boarding_layer(sample) -> None:
    layer = st.boarding_layer(sample, lang="zh")
    assert not layer.show and layer.layer_name == "寄宿制候选村及寄宿学校"
    symbols = _check_legend_and_tips(layer)
    rings = [s for s in symbols if s["kind"] == "circle"]
    lines = [s for s in symbols if s["kind"] == "line"]
    b = sample.boarding
    assert len(rings) == len(b)
    assert len(lines) == int(b["boarding_school"].notna().sum())
    per_tier = {s["colour"] for s in rings}
    assert len(per_tier) == b.index.get_level_values("tier").nunique()  # one colour per tier
    # each candidate's tooltip names its village and the school that would board it
    tips = [s["tip"] for s in rings]
    for (vid, tier), row in b.iterrows():
        assert any(
            t.startswith(f"<b>{row['name']}") and str(row["boarding_school_name"]) in t
            for t in tips
        ), (vid, tier)
    diamonds = [s for s in symbols if s["kind"] == "marker"]
    assert len(diamonds) == len(sample.boarding_schools)


def test_sample_scenario_layer_before_and_after(sample, sample_overlays) -> None:
    _, scenario = sample_overlays
    layer = st.scenario_layer(scenario, sample, lang="zh")
    symbols = _check_legend_and_tips(layer)
    crosses = [s for s in symbols if s["kind"] == "marker"]
    dots = [s for s in symbols if s["kind"] == "circle"]
    assert len(crosses) == len(scenario.closed) > 0
    v = scenario.villages
    moved = v.loc[v["reassigned"]]
    assert len(dots) == len(moved) > 0
    by_place = {(round(g.y, 9), round(g.x, 9)): vid for vid, g in moved.geometry.items()}
    for s in dots:
        vid = by_place[(round(s["at"][0], 9), round(s["at"][1], 9))]
        added = float(moved.loc[vid, "after_min"] - moved.loc[vid, "before_min"])
        expected = "#c6dbef" if added < 10 else ("#6baed6" if added < 30 else "#08519c")
        assert s["colour"] == expected, vid
        assert f"增加 {added:.0f} 分钟" in s["tip"]
        assert str(moved.loc[vid, "before_school_name"]) in s["tip"]
        assert str(moved.loc[vid, "after_school_name"]) in s["tip"]
        assert (s["outline"] == "#000000") == bool(moved.loc[vid, "newly_beyond"])
    for s, (_, row) in zip(crosses, scenario.closed.iterrows()):
        assert s["tip"].startswith(f"<b>{row['name']}</b>")


def test_sample_map_with_overlays_stays_small(sample, sample_overlays, tmp_path) -> None:
    checks, scenario = sample_overlays
    study = sample.study_for("primary")
    fmap = maps.access_map(
        sample.villages,
        study.facilities,
        groups=sample.groups,
        thresholds_min=sample.rules.thresholds_min(sample.tiers),
        title="t",
        lang="zh",
        boundary=study.boundary,
    )
    st.add_layers(fmap, checks, sample, scenario, lang="zh")
    path = maps.save_html(fmap, tmp_path / "school_tiers.html")
    page = path.read_text("utf-8")
    assert path.stat().st_size < 5_000_000
    # the layer control lists every overlay (its names are written as text)
    control = page[page.index("overlays") :]
    for name in (
        "学校布局是否符合学段规则",
        "寄宿制候选村及寄宿学校",
        "撤并方案（小学）：撤并前后",
    ):
        assert json.dumps(name, ensure_ascii=False) in control, name  # written as text
