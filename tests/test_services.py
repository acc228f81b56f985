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

from accessibility import engine, equity, metrics, network, pipeline, report, runner, snapping
from accessibility._errors import ValidationError
from accessibility.policies import services
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
    assert table["claim"].tolist() == ["county_hospital"] * 2 + ["township_links"] * 2
    assert table["value"].tolist()[:2] == [0.75, 0.75]
    # the stated (default) rule, then the strict one: A's route ends in C's 300 m street
    assert table["value"].tolist()[2:] == pytest.approx([1 / 3, 0.0])
    assert table.loc[2, "reported"] == 0.961
    assert table.loc[2, "gap"] == pytest.approx(table.loc[2, "value"] - 0.961)
    assert "secondary" in table.loc[2, "measure"]  # the grade stands for its OSM class
    assert "Default rule" in table.loc[2, "measure"] and "Strict rule" in table.loc[3, "measure"]
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
        "township_links_strict",
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
    assert values["township_links_strict"] == pytest.approx(links.table["connected_strict"].mean())
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
    """The sample's county seat and townships sit on their main roads, as real seats do: the
    strict and the default rule agree, and every route stays on secondary-or-better roads."""
    ebike, _ = sample
    check = services.road_links(ebike.roads, ebike.places, crs=ebike.crs, min_class="secondary")
    n_towns = int((ebike.places["level"] == "township_seat").sum())
    assert len(check.table) == n_towns > 0
    s = check.summary.loc["township_links"]
    assert s["connected"] == s["connected_strict"] == n_towns
    assert (check.table["lower_m"] == 0).all() and (check.table["failed_direction"] == "").all()
    assert (check.table["route_min"] >= check.table["time_all_min"] - 1e-6).all()
    routes = check.meta["routes"]
    assert set(routes["seat"]) == set(check.table.index) and not routes["lower"].any()
    assert (routes["road"] != "").mean() > 0.9  # the generator names its main roads
    primary = services.road_links(ebike.roads, ebike.places, crs=ebike.crs, min_class="primary")
    assert primary.summary.loc["township_links", "share_connected"] < 1.0  # some are secondary


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
        assert len(summary) == 5  # 2 clinic limits, bus, roads under the default and the strict rule


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
