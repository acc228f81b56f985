"""Public-service claims: road links, bus stops and clinics on hand-built networks, the sample county, the notebook."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from types import SimpleNamespace

import folium
import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pyogrio
import pytest

from accessibility import engine, equity, maps, metrics, network, pipeline, report, runner, snapping
from accessibility._errors import ValidationError
from accessibility.policies import _overlays, services
from accessibility.settings import settings

from .conftest import TEST_CRS, check_excel_and_png, make_points, make_roads

WALK_M_PER_MIN = 4500 / 60  # 4.5 km/h


# --------------------------------------------------------------------------- road classes


def test_classes_at_least() -> None:
    assert services.classes_at_least("primary") == [
        "motorway",
        "trunk",
        "primary",
        "motorway_link",
        "trunk_link",
        "primary_link",
    ]
    assert services.classes_at_least("grade_ii") == services.classes_at_least("secondary")
    assert services.classes_at_least("secondary_link") == services.classes_at_least("secondary")
    assert "tertiary" in services.classes_at_least("tertiary")
    assert "tertiary" not in services.classes_at_least("secondary")
    with pytest.raises(ValidationError, match="unknown road class 'footway'.*road_classes.yml"):
        services.classes_at_least("footway")


# --------------------------------------------------------------------------- road links


@pytest.fixture
def county():
    """County seat C at the origin; A east on a secondary road; B north on a tertiary road only;
    D west on a secondary road that stops 4 km short of C and goes on as tertiary.

    Roads (metres): 1 (0,0) - 2 (4000,0) - 3 (8000,0) secondary; 1 - 4 (0,4000) - 5 (0,8000)
    tertiary; 6 (-8000,0) - 7 (-4000,0) secondary; 7 - 1 tertiary; a residential street
    inside C from 1 to 8 (0,-300).
    """
    roads = make_roads(
        {
            1: (0, 0),
            2: (4000, 0),
            3: (8000, 0),
            4: (0, 4000),
            5: (0, 8000),
            6: (-8000, 0),
            7: (-4000, 0),
            8: (0, -300),
        },
        [
            ([1, 2, 3], "secondary", 0),
            ([1, 4, 5], "tertiary", 0),
            ([6, 7], "secondary", 0),
            ([7, 1], "tertiary", 0),
            ([1, 8], "residential", 0),
        ],
    )
    places = make_points(
        {"C": (0, -300), "A": (8000, 50), "B": (50, 8000), "D": (-8000, 60), "V": (100, 100)}
    )
    places["name"] = ["城关镇", "甲镇", "乙乡", "丁镇", "某村"]
    places["level"] = [
        "county_seat",
        "township_seat",
        "township_seat",
        "township_seat",
        "admin_village",
    ]
    places["population"] = [100_000.0, 20_000.0, 10_000.0, 15_000.0, 800.0]
    return roads, places


def test_township_on_a_tertiary_road_is_not_linked_at_secondary(county) -> None:
    roads, places = county
    check = services.road_links(
        roads, places, min_class="secondary", crs=TEST_CRS, town_radius_m=500, county_radius_m=500
    )
    t = check.table
    assert list(t.index) == ["A", "B", "D"]  # township seats only
    assert t["connected"].to_dict() == {"A": True, "B": False, "D": False}
    assert t["reason"].to_dict() == {
        "A": "connected",
        "B": "no_class_road_near_seat",  # no secondary road within 500 m of B
        "D": "no_class_route",  # on a secondary road that does not reach C
    }
    assert t.loc["A", "access_m"] == pytest.approx(50, abs=1)
    assert t.loc["B", "access_m"] == pytest.approx(8000, rel=1e-3)  # down to the road on y = 0
    # by car at 45 km/h on secondary, 35 km/h on tertiary, 20 km/h in C's street (300 m)
    street_min = 300 / (20 / 0.06)
    assert t.loc["A", "time_good_min"] == pytest.approx(8000 / 750 + street_min, rel=5e-3)
    assert t.loc["A", "time_all_min"] == pytest.approx(t.loc["A", "time_good_min"])
    assert t.loc["A", "detour"] == pytest.approx(1.0)
    assert np.isinf(t.loc["B", "time_good_min"]) and np.isnan(t.loc["B", "detour"])
    assert t.loc["B", "time_all_min"] == pytest.approx(8000 / (35 / 0.06) + street_min, rel=5e-3)
    s = check.summary.loc["township_links"]
    assert (s["township_seats"], s["connected"]) == (3, 1)
    assert s["share_connected"] == pytest.approx(1 / 3)
    assert s["mode"] == "car" and s["county_seat_access_m"] == pytest.approx(300, rel=1e-3)
    assert check.table.crs.to_epsg() == 4326


def test_township_on_a_tertiary_road_is_linked_at_tertiary(county) -> None:
    roads, places = county
    check = services.road_links(
        roads, places, min_class="tertiary", crs=TEST_CRS, town_radius_m=500, county_radius_m=500
    )
    assert check.table["connected"].all()
    assert check.summary.loc["township_links", "share_connected"] == 1.0


def test_town_streets_count_only_inside_the_seat_area(county) -> None:
    roads, places = county
    # C's place node is 300 m down a residential street from the secondary road
    tight = services.road_links(
        roads, places, min_class="secondary", crs=TEST_CRS, town_radius_m=500, county_radius_m=200
    )
    assert tight.table["reason"].to_dict() == {
        "A": "county_seat_off_class_roads",
        "B": "no_class_road_near_seat",
        "D": "county_seat_off_class_roads",
    }
    assert tight.summary.loc["township_links", "connected"] == 0


def test_network_and_road_data_give_the_same_answer(county) -> None:
    roads, places = county
    net = network.build(roads, mode="car", crs=TEST_CRS)
    from_net = services.road_links(net, places, town_radius_m=500, county_radius_m=500)
    from_roads = services.road_links(
        roads, places, crs=TEST_CRS, town_radius_m=500, county_radius_m=500
    )
    pd.testing.assert_frame_equal(
        pd.DataFrame(from_net.table.drop(columns="geometry")),
        pd.DataFrame(from_roads.table.drop(columns="geometry")),
    )
    again = network.build(services.roads_from_network(net), mode="car", crs=TEST_CRS)
    assert again.n_edges == net.n_edges
    assert again.time_s.sum() == pytest.approx(net.time_s.sum())


def test_no_road_of_the_class_at_all(county, caplog) -> None:
    roads, places = county
    with caplog.at_level(logging.WARNING, logger="accessibility.policies.services"):
        check = services.road_links(roads, places, min_class="trunk", crs=TEST_CRS)
    assert not check.table["connected"].any()
    assert (check.table["reason"] == "no_class_road_near_seat").all()
    assert np.isfinite(check.table["time_all_min"]).all()
    assert "no road of class trunk" in caplog.text


def test_road_links_bad_inputs(county) -> None:
    roads, places = county
    with pytest.raises(ValidationError, match="pass crs="):
        services.road_links(roads, places)
    with pytest.raises(ValidationError, match="unknown road class"):
        services.road_links(roads, places, crs=TEST_CRS, min_class="class2")
    with pytest.raises(ValidationError, match="RoadData or a Network"):
        services.road_links("roads.osm", places, crs=TEST_CRS)
    with pytest.raises(ValidationError, match="town_radius_m must be >= 0"):
        services.road_links(roads, places, crs=TEST_CRS, town_radius_m=-1)
    two = places.copy()
    two.loc["A", "level"] = "county_seat"
    with pytest.raises(ValidationError, match="exactly one county seat.*found 2"):
        services.road_links(roads, two, crs=TEST_CRS)
    with pytest.raises(ValidationError, match="found 0.*seat: <name>"):
        services.road_links(roads, places.drop(index="C"), crs=TEST_CRS)
    with pytest.raises(ValidationError, match="no township seats"):
        services.road_links(roads, places.loc[["C", "V"]], crs=TEST_CRS)


# --------------------------------------------------------------------------- bus and clinics


@pytest.fixture
def line():
    """A 3 km residential road from (0,0) to (3000,0), walked at 4.5 km/h."""
    roads = make_roads({1: (0, 0), 2: (1000, 0), 3: (3000, 0)}, [([1, 2, 3], "residential", 0)])
    return network.build(roads, mode="walk", crs=TEST_CRS)


def _study(net: network.Network, villages: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame):
    router = engine.Router.build(net, snapping.snap(net, villages), snapping.snap(net, facilities))
    return SimpleNamespace(mode=net.mode, router=router, origins=villages, facilities=facilities)


def test_bus_access_arithmetic(line) -> None:
    villages = make_points({"v1": (300, 0), "v2": (1500, 0), "v3": (1500, 200)})
    villages["name"] = ["一村", "二村", "三村"]
    villages["population"] = [100.0, 200.0, 300.0]
    stops = make_points({"s1": (0, 0)})
    stops[["kind", "tiers", "name"]] = ["bus", "bus_stop", "村口站"]
    check = services.bus_access(_study(line, villages, stops), limit_min=15)
    t = check.table
    # 300 m, 1500 m and 200 m (to the road) + 1500 m, walked at 75 m/min
    expected = [300 / WALK_M_PER_MIN, 1500 / WALK_M_PER_MIN, 1700 / WALK_M_PER_MIN]
    np.testing.assert_allclose(t["bus_time_min"], expected, rtol=5e-3)
    assert t["bus_served"].tolist() == [True, False, False]
    assert t["bus_n15"].tolist() == [1, 0, 0]
    s = check.summary.loc["bus"]
    assert (s["villages"], s["stops"], s["served"], s["unserved"]) == (3, 1, 1, 2)
    assert s["served_share"] == pytest.approx(1 / 3)
    assert s["served_pop_share"] == pytest.approx(100 / 600)
    assert s["unserved_population"] == 500.0
    assert s["max_min"] == pytest.approx(expected[2], rel=5e-3)


def test_bus_access_is_a_walk(line) -> None:
    villages = make_points({"v1": (300, 0)})
    villages["population"] = [100.0]
    stops = make_points({"s1": (0, 0)})
    stops[["kind", "tiers", "name"]] = ["bus", "bus_stop", "站"]
    study = _study(line, villages, stops)
    study.mode = "ebike"
    with pytest.raises(ValidationError, match="mode='walk'"):
        services.bus_access(study)
    study.mode = "walk"
    with pytest.raises(ValidationError, match="thresholds"):
        services.bus_access(study, limit_min=0)
    with pytest.raises(ValidationError, match="population"):
        services.bus_access(
            SimpleNamespace(
                mode="walk", router=study.router, origins=villages[["geometry"]], facilities=stops
            )
        )


@pytest.fixture
def clinics_case(line):
    villages = make_points({"o1": (0, 0), "o2": (2000, 0)})
    villages["name"] = ["东村", "西村"]
    villages["population"] = [100.0, 300.0]
    facilities = make_points({"vc": (300, 0), "thc": (1500, 0), "ch": (3000, 0)})
    facilities["kind"] = "health"
    facilities["tiers"] = ["village_clinic", "township_health_centre", "county_hospital"]
    facilities["name"] = ["卫生室", "卫生院", "人民医院"]
    return line, villages, facilities


def test_clinic_access_arithmetic(clinics_case) -> None:
    line, villages, facilities = clinics_case
    check = services.clinic_access(_study(line, villages, facilities), limits_min=[15, 30])
    t = check.table
    minutes = {  # metres along the road / 75 m per minute
        "health_village_clinic_time_min": [300, 1700],
        "health_township_health_centre_time_min": [1500, 500],
        "health_county_hospital_time_min": [3000, 1000],
    }
    for col, metres in minutes.items():
        np.testing.assert_allclose(t[col], np.array(metres) / WALK_M_PER_MIN, rtol=5e-3)
    s = check.summary
    assert list(s.index) == [
        "health:village_clinic",
        "health:township_health_centre",
        "health:county_hospital",
    ]
    assert s["within_15_share"].tolist() == [0.5, 0.5, 0.5]
    assert s["within_15_pop_share"].tolist() == [0.25, 0.75, 0.75]
    assert s["within_30_share"].tolist() == [1.0, 1.0, 0.5]
    assert s["within_30_pop_share"].tolist() == [1.0, 1.0, 0.75]
    assert s["facilities"].tolist() == [1, 1, 1]
    assert (s["mode"] == "walk").all()


def test_clinic_access_without_a_tier(clinics_case, caplog) -> None:
    line, villages, facilities = clinics_case
    study = _study(line, villages, facilities.drop(index="ch"))
    with caplog.at_level(logging.WARNING):
        check = services.clinic_access(study, limits_min=[30])
    row = check.summary.loc["health:county_hospital"]
    assert bool(row["no_facility"]) and row["facilities"] == 0
    assert np.isnan(row["within_30_share"]) and row["status"] == "no_data"  # no data, not 0 %
    assert "county_hospital" in caplog.text
    with pytest.raises(ValidationError, match="unknown health tiers"):
        services.clinic_access(study, tiers=["hospital"])
    with pytest.raises(ValidationError, match="tiers must be a list"):
        services.clinic_access(study, tiers="county_hospital")
    with pytest.raises(ValidationError, match="prepared study"):
        services.clinic_access(SimpleNamespace(mode="walk"))


def test_claims_table(clinics_case, county) -> None:
    line, villages, facilities = clinics_case
    clinics = services.clinic_access(_study(line, villages, facilities), limits_min=[15, 30])
    roads, places = county
    links = services.road_links(roads, places, crs=TEST_CRS, min_class="grade_ii")
    table = services.claims(clinics=clinics, roads=links, lang="en")
    assert table["claim"].tolist() == ["county_hospital", "county_hospital", "township_links"]
    assert table["value"].tolist()[:2] == [0.75, 0.75]
    assert table.loc[2, "reported"] == 0.961
    assert table.loc[2, "gap"] == pytest.approx(table.loc[2, "value"] - 0.961)
    assert "secondary" in table.loc[2, "measure"]  # the grade stands for its OSM class
    assert "合成" not in table.to_string()
    assert "县级医院" in services.claims(clinics=clinics, lang="zh").loc[0, "measure"]
    with pytest.raises(ValidationError, match="at least one result"):
        services.claims()


def test_key_figures_are_the_claims(clinics_case, county, line) -> None:
    net, villages, facilities = clinics_case
    clinics = services.clinic_access(_study(net, villages, facilities), limits_min=[15, 30])
    stops = make_points({"s1": (0, 0)})
    stops[["kind", "tiers", "name"]] = ["bus", "bus_stop", "村口站"]
    bus = services.bus_access(_study(line, villages, stops), limit_min=15)
    roads, places = county
    links = services.road_links(roads, places, crs=TEST_CRS, min_class="grade_ii")
    figures = services.key_figures(clinics=clinics, bus=bus, roads=links)
    assert [f["key"] for f in figures] == [
        "county_hospital_15",
        "county_hospital_30",
        "bus_every_village",
        "township_links",
    ]
    values = {f["key"]: f["value"] for f in figures}
    # the county hospital at 3,000 m: 西村 (300 residents) is 1,000 m away, 东村 3,000 m
    t = clinics.table["health_county_hospital_time_min"]
    pop = clinics.table["population"]
    for limit in (15, 30):
        share = pop[t <= limit].sum() / pop.sum()
        assert values[f"county_hospital_{limit}"] == pytest.approx(share) == pytest.approx(0.75)
    # the stop at 0 m: 东村 is at it, 西村 2,000 m away (27 minutes)
    assert values["bus_every_village"] == pytest.approx(bus.table["bus_served"].mean()) == 0.5
    assert values["township_links"] == pytest.approx(links.table["connected"].mean())
    table = services.claims(clinics=clinics, bus=bus, roads=links, lang="zh")
    assert [f["value"] for f in figures] == table["value"].tolist()
    assert [f["label_zh"] for f in figures] == table["measure"].tolist()
    assert [f["label_en"] for f in figures] == (
        services.claims(clinics=clinics, bus=bus, roads=links, lang="en")["measure"].tolist()
    )
    assert {f["format"] for f in figures} == {"percent"}
    assert [f["key"] for f in services.key_figures(bus=bus)] == ["bus_every_village"]
    with pytest.raises(ValidationError, match="at least one result"):
        services.key_figures()


# --------------------------------------------------------------------------- missing inputs


def test_road_links_are_skipped_without_township_seats(county) -> None:
    roads, places = county
    notes = report.Notes()
    assert (
        services.road_links_or_skip(roads, places.loc[["C", "V"]], notes=notes, crs=TEST_CRS)
        is None
    )
    assert [n["section"] for n in notes] == ["road_links"]
    assert "no township seats" in notes.texts("en")[0]
    no_county = places.drop(index="C")
    assert services.missing_seats(no_county) == "no_county_seat"
    assert services.road_links_or_skip(roads, no_county, notes=notes, crs=TEST_CRS) is None
    assert "county seat" in notes.texts("en")[1]
    fine = report.Notes()
    links = services.road_links_or_skip(roads, places, notes=fine, crs=TEST_CRS)
    assert (
        not fine
        and links.table["connected"].to_dict()
        == services.road_links(roads, places, crs=TEST_CRS).table["connected"].to_dict()
    )


def _no_seat_case(line, *, hospital: bool, stop: bool):
    villages = make_points({"o1": (0, 0), "o2": (2000, 0)})
    villages["name"] = ["东村", "西村"]
    villages["population"] = [100.0, 300.0]
    villages["level"] = "admin_village"
    rows = {
        "vc": (300, 0),
        **({"ch": (3000, 0)} if hospital else {}),
        **({"s1": (0, 0)} if stop else {}),
    }
    facilities = make_points(rows)
    facilities["kind"] = ["health", *(["health"] if hospital else []), *(["bus"] if stop else [])]
    facilities["tiers"] = [
        "village_clinic",
        *(["county_hospital"] if hospital else []),
        *(["bus_stop"] if stop else []),
    ]
    facilities["name"] = facilities.index
    study = _study(line, villages, facilities)
    study.places = villages  # villages only: no township seat, no county seat
    return study


def test_services_without_seats_or_hospital_write_what_they_can(line) -> None:
    """No township seat and no county hospital: clinics and buses still come out, the rest says why."""
    study = _no_seat_case(line, hospital=False, stop=True)
    notes = report.Notes()
    clinics = services.clinic_access(study, limits_min=[15, 30])
    bus = services.bus_access(study, limit_min=15)
    links = services.road_links_or_skip(line, study.places, notes=notes)
    assert links is None
    fair = services.township_equity(study, clinics, bus, notes=notes)
    assert list(fair.tables) == ["worst_bus"]  # no township, no county hospital
    assert "township" not in fair.villages.columns and "bus_time_min" in fair.villages.columns
    assert [n["section"] for n in notes] == ["road_links", "township_equity", "group"]
    assert "County hospital" in notes.texts("en")[2] and "no data" in notes.texts("en")[2]
    claims = services.claims(clinics=clinics, bus=bus, roads=links, lang="en")
    assert claims["status"].tolist() == ["no_data", "no_data", "ok"]
    assert claims["value"].isna().tolist() == [True, True, False]
    figures = services.key_figures(clinics=clinics, bus=bus, roads=links)
    assert [f.get("status") for f in figures] == ["no_data", "no_data", None]
    assert figures[2]["value"] == 0.5  # 东村 at the stop; 西村 27 minutes away
    sheets = services.excel_tables(
        claims=claims, clinics=clinics, bus=bus, roads=None, equity=fair.tables, lang="en"
    )
    assert "Township road links" not in sheets and "Township seats" not in sheets
    assert sheets["Summary"]["status"].tolist()[0].startswith("No data")
    layers = services.layers(
        villages=fair.villages,
        claims=claims,
        clinics=clinics,
        bus=bus,
        roads=None,
        tables=fair.tables,
    )
    assert list(layers) == ["villages", "clinics", "bus", "claims", "worst_bus"]
    m = folium.Map()
    assert services.add_seats_layer(m, None) is m


def test_bus_without_stops_is_no_data(line) -> None:
    study = _no_seat_case(line, hospital=True, stop=False)
    bus = services.bus_access(study, limit_min=15)
    row = bus.summary.loc["bus"]
    assert row["stops"] == 0 and row["status"] == "no_data" and np.isnan(row["served_share"])
    (figure,) = services.key_figures(bus=bus)
    assert figure["value"] is None and figure["status"] == "no_data"


# --------------------------------------------------------------------------- the sample county


@pytest.fixture(scope="module")
def sample_root(tmp_path_factory):
    return tmp_path_factory.mktemp("services_root")


@pytest.fixture(scope="module")
def sample(sample_root):
    settings.root = sample_root
    try:
        ebike = pipeline.prepare("sample", mode="ebike", progress=False)
        walk = pipeline.prepare("sample", mode="walk", progress=False)
    finally:
        settings.root = None
    return ebike, walk


def test_sample_clinics_agree_with_metrics_summary(sample) -> None:
    ebike, _ = sample
    check = services.clinic_access(ebike, limits_min=[15, 30])
    groups = [f"health:{t}" for t in services.HEALTH_TIERS]
    results = ebike.access(groups, thresholds_min=[15, 30])
    expected = metrics.summary(results, results["population"], groups, thresholds_min=[15, 30])
    pd.testing.assert_frame_equal(check.summary[expected.columns], expected)
    shares = check.summary.filter(like="_share")
    assert ((shares >= 0) & (shares <= 1)).all().all()
    # nearer tiers are nearer: a village clinic is reached sooner than a county hospital
    assert (
        check.summary.loc["health:village_clinic", "median_min"]
        < check.summary.loc["health:county_hospital", "median_min"]
    )
    assert len(check.table) == len(ebike.origins)


def test_sample_bus_agrees_with_metrics_summary(sample) -> None:
    _, walk = sample
    check = services.bus_access(walk, limit_min=15)
    results = walk.access(["bus"], thresholds_min=[15])
    expected = metrics.summary(results, results["population"], ["bus"], thresholds_min=[15])
    s = check.summary.loc["bus"]
    assert 0 <= s["served_share"] <= 1 and 0 <= s["served_pop_share"] <= 1
    assert s["served_share"] == pytest.approx(expected.loc["bus", "within_15_share"])
    assert s["served_pop_share"] == pytest.approx(expected.loc["bus", "within_15_pop_share"])
    assert s["served"] + s["unserved"] == len(walk.origins)
    assert s["unserved"] == (results["bus_time_min"] > 15).sum()


def test_sample_road_links(sample) -> None:
    ebike, _ = sample
    good = services.road_links(ebike.network, ebike.places, min_class="secondary")
    strict = services.road_links(ebike.network, ebike.places, min_class="primary")
    n_towns = int((ebike.places["level"] == "township_seat").sum())
    assert len(good.table) == n_towns > 0
    # the generator ties every township to the county seat with primary or secondary roads
    assert good.summary.loc["township_links", "share_connected"] == 1.0
    share = strict.summary.loc["township_links", "share_connected"]
    assert 0 <= share < 1
    connected = good.table["connected"]
    assert (
        good.table.loc[connected, "time_good_min"]
        >= good.table.loc[connected, "time_all_min"] - 1e-6
    ).all()


def test_sample_equity(sample) -> None:
    ebike, _ = sample
    towns = equity.assign_township(ebike.origins, ebike.places, router=ebike.router)
    assert towns.index.equals(ebike.origins.index)
    assert towns["township_method"].eq("network").all()
    seats = ebike.places.loc[ebike.places["level"].isin(equity.SEAT_LEVELS)]
    assert set(towns["township_id"]) <= set(seats.index)
    check = services.clinic_access(ebike, limits_min=[15, 30])
    table = check.table.join(towns)
    col = "health_county_hospital_time_min"
    out = equity.by_area(table, time_col=col, limits_min=[15, 30])
    assert out.loc[equity.TOTAL, "villages"] == len(ebike.origins)
    assert out["villages"].drop(equity.TOTAL).sum() == len(ebike.origins)
    assert ((out["gini"] >= 0) & (out["gini"] < 1)).all()
    assert out.loc[equity.TOTAL, "beyond_30_pop_share"] == pytest.approx(
        1 - check.summary.loc["health:county_hospital", "within_30_pop_share"]
    )
    worst = equity.worst_served(table, time_col=col, n=5)
    assert worst[col].is_monotonic_decreasing and worst[col].iloc[0] == table[col].max()


# --------------------------------------------------------------------------- the notebook

_EXTERNAL = re.compile(
    r"<script[^>]*\bsrc\s*=\s*['\"]?(?:https?:)?//|<link[^>]*\bhref\s*=\s*['\"]?(?:https?:)?//",
    re.I,
)


@pytest.mark.slow
@pytest.mark.parametrize(
    "parameters",
    [
        {},
        {
            "clinic_mode": "bicycle",
            "clinic_limits_min": [10, 20, 40],
            "bus_limit_min": 10,
            "min_road_class": "primary",
            "lang": "en",
        },
    ],
    ids=["defaults", "other_parameters"],
)
def test_notebook_runs(tmp_path, parameters) -> None:
    settings.root = tmp_path
    try:
        (result,) = runner.run("services", region="sample", parameters=parameters, progress=False)
    finally:
        settings.root = None
    processed = tmp_path / "data" / "processed" / "sample"
    html_path = tmp_path / "maps" / "sample" / "services.html"
    assert result.map_html == html_path and html_path.is_file()
    assert result.notebook.is_file()
    html = html_path.read_text("utf-8")
    assert not _EXTERNAL.search(html)
    gpkg = processed / "services.gpkg"
    layers = set(pyogrio.list_layers(gpkg)[:, 0])
    assert {"villages", "township_seats", "claims", "equity_hospital", "equity_bus"} <= layers
    villages = gpd.read_file(gpkg, layer="villages")
    assert {"township", "bus_time_min", "health_county_hospital_time_min"} <= set(villages.columns)
    summary = pyogrio.read_dataframe(gpkg, layer="claims")  # codes; the CSV is the workbook's sheet
    assert summary["value"].between(0, 1).all()
    shown = pd.read_csv(processed / "services_summary.csv", encoding="utf-8-sig")
    assert len(shown) == len(summary)
    assert (processed / "services_equity.csv").is_file()
    english = parameters.get("lang") == "en"
    check_excel_and_png(
        processed, tmp_path / "maps" / "sample", "services", "Measure" if english else "测算口径"
    )
    if parameters.get("lang") == "en":
        assert "Synthetic data" in html and "Township seats linked to the county seat (" in html
        assert "Share of residents within 40 min" in summary["measure"].iloc[2]
    else:
        assert "合成数据" in html and "示例县" in html
        assert len(summary) == 4  # 2 clinic limits, bus, roads


def _without_seats_or_hospitals(source: Path, target: Path) -> Path:
    """The sample's OSM file with its township seats made villages and its hospitals clinics."""
    text = source.read_text("utf-8")

    def demote(match: re.Match[str]) -> str:
        node = match.group(0)
        if re.search(r'k="(capital|admin_level)" v="[456]"', node):
            return node  # the county seat stays
        return node.replace('k="place" v="town"', 'k="place" v="village"')

    text = re.sub(r"<node\b[^>]*>.*?</node>", demote, text, flags=re.S)
    text = re.sub(r'\s*<tag k="(capital|admin_level)" v="8"\s*/>', "", text)
    text = text.replace('k="amenity" v="hospital"', 'k="amenity" v="clinic"')
    text = text.replace('k="healthcare" v="hospital"', 'k="healthcare" v="clinic"')
    target.write_text(text, "utf-8")
    return target


@pytest.mark.slow
def test_notebook_without_township_seats_writes_what_it_can(sample, sample_root, tmp_path) -> None:
    """Clinic and bus results are computed; road links, township equity and the hospital say why not."""
    osm = _without_seats_or_hospitals(
        sample_root / "data" / "raw" / "sample" / "sample.osm", tmp_path / "no_seats.osm"
    )
    settings.root = tmp_path
    try:
        (result,) = runner.run(
            "services", region="sample", parameters={"osm_file": str(osm)}, progress=False
        )
    finally:
        settings.root = None
    processed = tmp_path / "data" / "processed" / "sample"
    assert result.map_html.is_file() and (tmp_path / "maps" / "sample" / "services.png").is_file()
    data = json.loads((processed / "services_figures.json").read_text("utf-8"))
    assert [w["section"] for w in data["warnings"]] == ["group", "road_links", "township_equity"]
    figures = {f["key"]: f for f in data["figures"]}
    assert figures["county_hospital_30"]["status"] == "no_data"
    assert figures["county_hospital_30"]["value"] is None and "township_links" not in figures
    assert 0 < figures["bus_every_village"]["value"] <= 1
    layers = set(pyogrio.list_layers(processed / "services.gpkg")[:, 0])
    assert {"villages", "clinics", "bus", "claims", "worst_bus"} <= layers
    assert not layers & {"township_seats", "road_links", "equity_hospital", "worst_hospital"}
    sheets = openpyxl.load_workbook(processed / "services.xlsx").sheetnames
    assert sheets[-1] == "未分析部分" and "乡镇道路连通" not in sheets
    page = result.map_html.read_text("utf-8")
    assert page.count("acc-warn") == 1 + 3  # the style rule and one line per note under the title


# --------------------------------------------------------------------------- map layer
_ID = re.compile(r"\b(?:[nwr]\d{3,}|new_\d+)\b")


def _seat_markers(layer) -> list[tuple[tuple[float, float], str, str]]:
    """(location, fill colour, tooltip) of every seat marker of a layer."""
    out = []
    for child in layer._children.values():
        if isinstance(child, folium.CircleMarker):
            tip = next(c.text for c in child._children.values() if isinstance(c, folium.Tooltip))
            out.append((tuple(child.location), child.options["fillColor"].lower(), tip))
    return out


def test_seats_layer_has_its_own_colours_legend_and_class_times(county) -> None:
    roads, places = county
    places = places.copy()
    places.loc["D", "name"] = None  # an unnamed seat is not shown by its id
    check = services.road_links(
        roads, places, min_class="secondary", crs=TEST_CRS, town_radius_m=500, county_radius_m=500
    )
    layer = services.seats_layer(check, lang="zh")
    assert layer.layer_name == "乡镇驻地连通县城（次要道路（secondary）及以上）"
    markers = _seat_markers(layer)
    assert len(markers) == 3
    (legend,) = [c for c in layer._children.values() if isinstance(c, _overlays.LayerLegend)]
    drawn = {c for _, c, _ in markers}
    assert drawn <= legend.colours and drawn == _overlays.drawn_colours(layer)
    # not a travel-time colour: the villages' classes stay unambiguous
    assert not legend.colours & {c.lower() for c in maps.class_colours(5)}
    assert len(drawn) == 2  # linked, not linked
    by_name = {tip.split("</b>")[0].removeprefix("<b>"): (c, tip) for _, c, tip in markers}
    assert set(by_name) == {"甲镇", "乙乡", "未命名乡镇驻地"}
    linked_colour, a_tip = by_name["甲镇"]
    assert {by_name["乙乡"][0], by_name["未命名乡镇驻地"][0]} == drawn - {linked_colour}
    # the time over roads of the class, worked out by hand: 8 km of secondary at 45 km/h
    # and C's 300 m street at 20 km/h
    good = 8000 / 750 + 300 / (20 / 0.06)
    assert f"经次要道路（secondary）及以上道路到县城：{good:.0f} 分钟" in a_tip
    assert f"经全部道路到县城：{good:.0f} 分钟" in a_tip
    b_tip = by_name["乙乡"][1]
    assert "经次要道路（secondary）及以上道路：无法到达县城" in b_tip
    every = 8000 / (35 / 0.06) + 300 / (20 / 0.06)
    assert f"经全部道路到县城：{every:.0f} 分钟" in b_tip
    assert "距最近的次要道路（secondary）及以上道路 8,000 米" in b_tip
    assert [t for _, _, t in legend.rows] == [
        "经次要道路（secondary）及以上道路连通县城（1 个）",
        "未经次要道路（secondary）及以上道路连通（2 个）",
    ]
    en = services.seats_layer(check, lang="en")
    assert "To the county seat over secondary-or-better roads: 12 min" in _seat_markers(en)[0][2]


def test_sample_seats_layer(sample, tmp_path) -> None:
    ebike, _ = sample
    check = services.road_links(ebike.network, ebike.places, min_class="primary")
    layer = services.seats_layer(check, lang="zh")
    markers = _seat_markers(layer)
    assert len(markers) == len(check.table)
    linked = {c for (_, c, _), ok in zip(markers, check.table["connected"]) if ok}
    unlinked = {c for (_, c, _), ok in zip(markers, check.table["connected"]) if not ok}
    assert len(linked) <= 1 and len(unlinked) <= 1 and not linked & unlinked
    for (_, _, tip), (_, seat) in zip(markers, check.table.iterrows()):
        assert tip.startswith(f"<b>{seat['name']}</b>") and not _ID.search(tip)
        good = seat["time_good_min"]
        if np.isfinite(good):
            assert f"及以上道路到县城：{good:.0f} 分钟" in tip
    m = folium.Map(tiles=None)
    folium.LayerControl().add_to(m)
    services.add_seats_layer(m, check, lang="zh")
    children = list(m._children.values())
    assert isinstance(children[-1], folium.LayerControl)  # the layer went in before the control
    assert maps.save_html(m, tmp_path / "s.html").stat().st_size < 5_000_000
