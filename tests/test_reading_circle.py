"""The reading circle: a grid with a hand-worked answer, the sample county, and the notebook end to end."""

from __future__ import annotations

import html
import json
import re
from types import SimpleNamespace

import folium
import geopandas as gpd
import nbformat
import numpy as np
import openpyxl
import pandas as pd
import pyogrio
import pytest
import shapely
from scipy import sparse

from accessibility import classify, maps, network, pipeline, runner, siting, snapping
from accessibility._errors import ValidationError
from accessibility.policies import reading_circle
from accessibility.policies.reading_circle import web_map
from accessibility.settings import settings

from .conftest import TEST_CRS, check_excel_and_png, lonlat, make_points, make_roads

# A ladder of two streets 500 m apart (y = 0 and y = 500), x = 0…3000, with a rung
# every 500 m. Walking at 1.25 m/s, 15 minutes is 1125 m. The library is at (0, 0);
# a school at (2500, 0) is not a reading place.
#   A (300, 0)    100 residents:  300 m            covered
#   B (1000, 0)   200 residents: 1000 m            covered
#   C (700, 500)  300 residents:  500 + 700 m      not covered
#   D (2500, 0)   400 residents: 2500 m            not covered
#   E (100, 500)   50 residents:  500 + 100 m      covered
# share = (100 + 200 + 50) / 1050 = 1/3; 700 residents not covered.
XS = range(0, 3001, 500)
COORDS = {
    **{i + 1: (x, 0) for i, x in enumerate(XS)},
    **{i + 11: (x, 500) for i, x in enumerate(XS)},
}
WAYS = [
    (list(range(1, 8)), "residential", 0),
    (list(range(11, 18)), "residential", 0),
    *[([i + 1, i + 11], "residential", 0) for i in range(7)],
]
HOMES = {"A": (300, 0), "B": (1000, 0), "C": (700, 500), "D": (2500, 0), "E": (100, 500)}
PEOPLE = {"A": 100, "B": 200, "C": 300, "D": 400, "E": 50}


@pytest.fixture(scope="module")
def grid() -> SimpleNamespace:
    net = network.build(make_roads(COORDS, WAYS), mode="walk", crs=TEST_CRS)
    fac = make_points({"lib": (0, 0), "school": (2500, 0)})
    fac["kind"] = ["reading", "school"]
    fac["tiers"] = ["library", "primary"]
    fac["name"] = ["图书馆", "小学"]
    places = make_points({"p": (0, 0)})
    places["name"], places["level"] = "甲村", "admin_village"
    return SimpleNamespace(
        crs=TEST_CRS,
        network=net,
        facilities=fac,
        facility_snap=snapping.snap(net, fac),
        places=places,
        buildings=gpd.GeoDataFrame({"building": []}, geometry=[], crs=4326),
        meta={"max_snap_m": 300.0},
        mode="walk",
        label=lambda lang="zh": "grid",
    )


def homes() -> gpd.GeoDataFrame:
    pts = make_points(HOMES)
    pts["population"] = [PEOPLE[k] for k in pts.index]
    return pts


def halves() -> gpd.GeoDataFrame:
    west = shapely.Polygon(
        [lonlat(x, y) for x, y in [(-100, -100), (1500, -100), (1500, 600), (-100, 600)]]
    )
    east = shapely.Polygon(
        [lonlat(x, y) for x, y in [(1500, -100), (3100, -100), (3100, 600), (1500, 600)]]
    )
    return gpd.GeoDataFrame({"name": ["west", "east"]}, geometry=[west, east], crs=4326)


def test_coverage_on_a_grid(grid) -> None:
    res = reading_circle.assess(
        grid, population=homes(), targets=[0.6, 1.0], areas=halves(), gap_radius_m=150
    )
    pop = res.population
    assert pop.loc[["A", "B", "E"], "covered"].all() and not pop.loc[["C", "D"], "covered"].any()
    np.testing.assert_allclose(
        pop.loc[["A", "B", "C", "E"], "time_min"],
        np.array([300, 1000, 1200, 600]) / 1.25 / 60,
        rtol=3e-3,
    )
    assert res.share == pytest.approx(1 / 3)
    assert res.uncovered_population == pytest.approx(700)
    assert sorted(res.uncovered.index) == ["C", "D"]
    assert len(res.facilities) == 1  # the school does not count
    # by area: west holds A, B, C, E (650, 350 covered), east holds D (400, none)
    west, east = res.by_area.set_index("name").loc[["west", "east"]].itertuples()
    assert (west.population, west.covered, east.population, east.covered) == (650, 350, 400, 0)
    # the isochrone holds the library's street up to 1125 m, not C or D
    iso = res.isochrones.geometry.iloc[0]
    for xy, expected in [
        ((0, 0), True),
        ((1000, 0), True),
        ((700, 500), False),
        ((2500, 0), False),
    ]:
        assert iso.contains(shapely.Point(lonlat(*xy))) == expected, xy
    # candidates: node (2500, 0) inside D's gap, and (500, 500), the node nearest C's gap
    assert sorted(res.candidates["node"].map(lambda n: int(grid.network.node_id[n]))) == [6, 12]
    s = res.summary
    assert list(s.index) == ["current", "greedy_60", "exact_60", "greedy_100", "exact_100"]
    # 60 %: the site at D (400 residents) is enough: 750 / 1050
    assert s.loc["greedy_60", "new_sites"] == 1 and s.loc["exact_60", "new_sites"] == 1
    assert s.loc["greedy_60", "share"] == pytest.approx(750 / 1050)
    assert res.plans["greedy_60"].sites == ["new_6"]
    # everyone: both sites
    assert s.loc["exact_100", "new_sites"] == 2 and s.loc["exact_100", "share"] == pytest.approx(1)
    assert bool(s.loc["exact_100", "reached"]) and s.loc["exact_100", "uncovered"] == pytest.approx(
        0
    )
    sites = res.sites.loc[res.sites["scenario"] == "greedy_100"]
    assert sites["gain"].tolist() == [400, 300] and sites.crs.to_epsg() == 4326
    # the after-isochrone of the full plan reaches D and C
    after = res.isochrones_after.loc["exact_100"].geometry
    assert after.contains(shapely.Point(lonlat(2500, 0)))
    assert after.contains(shapely.Point(lonlat(700, 500)))


def test_key_figures_on_a_grid(grid) -> None:
    res = reading_circle.assess(grid, population=homes(), targets=[0.6, 1.0], areas=None)
    figures = {f["key"]: f for f in reading_circle.key_figures(res)}
    assert list(figures) == [
        "coverage",
        "uncovered",
        "uncovered_points",
        "new_sites_60",
        "new_sites_100",
    ]
    # worked by hand above: A, B and E (350 of 1,050 residents) within 15 minutes
    pop = res.population
    assert figures["coverage"]["value"] == pytest.approx(350 / 1050)
    assert figures["coverage"]["value"] == pytest.approx(
        pop.loc[pop["time_min"] <= 15, "population"].sum() / pop["population"].sum()
    )
    assert figures["uncovered"]["value"] == pytest.approx(700)
    assert figures["uncovered_points"]["value"] == int((pop["time_min"] > 15).sum()) == 2
    # the site at D reaches 60 %; both sites reach everyone (the exact plans)
    assert figures["new_sites_60"]["value"] == 1 and figures["new_sites_100"]["value"] == 2
    assert figures["coverage"]["label_zh"] == "步行15分钟内人口覆盖率"
    assert figures["new_sites_100"]["label_en"] == "New reading places for 100% coverage"
    assert [f["format"] for f in figures.values()] == ["percent", *["count"] * 4]
    # a plan that cannot reach its target has no number of sites
    only_d = make_points({"site_D": (2500, 20)})
    res = reading_circle.assess(
        grid, population=homes(), candidates=only_d, targets=[1.0], areas=None
    )
    figures = {f["key"]: f for f in reading_circle.key_figures(res)}
    assert figures["new_sites_100"]["value"] is None


def test_user_candidates_and_an_unreachable_target(grid) -> None:
    only_d = make_points({"site_D": (2500, 20)})
    res = reading_circle.assess(
        grid, population=homes(), candidates=only_d, targets=[1.0], areas=None
    )
    s = res.summary
    assert res.by_area is None
    assert s.loc["greedy_100", "status"] == "target_unreachable"
    assert not s.loc["greedy_100", "reached"]
    assert s.loc["greedy_100", "share"] == pytest.approx(750 / 1050)
    assert s.loc["exact_100", "best_share"] == pytest.approx(750 / 1050)


def test_merged_residents_keep_coverage_within_a_tenth_of_a_point(grid) -> None:
    """Residents merged for the siting searches and models (10 m along and off the
    street): today's coverage is unchanged and every plan's within 0.1 point."""
    n = 3000
    people = _street_residents(n)
    kw = dict(population=people, targets=[0.6, 0.95, 1.0], areas=None)
    merged = reading_circle.assess(grid, merge_m=10.0, **kw)
    plain = reading_circle.assess(grid, merge_m=None, **kw)
    assert plain.meta["demand_points"] == n and merged.meta["demand_points"] < 0.8 * n
    a, b = merged.summary, plain.summary
    assert a.loc["current", "share"] == b.loc["current", "share"]
    assert list(a.index) == list(b.index)
    for key in a.index.drop("current"):
        assert abs(a.loc[key, "share"] - b.loc[key, "share"]) <= 0.001, key
        assert bool(a.loc[key, "reached"]) == bool(b.loc[key, "reached"]), key
    # each plan's coverage is every resident's, recomputed unmerged
    pd.testing.assert_series_equal(
        merged.population["covered"], plain.population["covered"], check_names=False
    )
    with pytest.raises(ValidationError, match="merge_m must be a positive"):
        reading_circle.assess(grid, merge_m=-1.0, **kw)


def _street_residents(n: int = 3000, seed: int = 3) -> gpd.GeoDataFrame:
    """``n`` residents along both streets of the ladder, 2–30 m off them."""
    rng = np.random.default_rng(seed)
    street = rng.integers(0, 2, n)
    xs = rng.uniform(0, 3000, n)
    ys = street * 500 + rng.choice([-1, 1], n) * rng.uniform(2, 30, n)
    people = make_points({f"h{i}": (x, y) for i, (x, y) in enumerate(zip(xs, ys))})
    people["population"] = rng.integers(1, 60, n).astype(float)
    return people


def test_a_model_too_large_is_solved_on_thinned_candidates_and_says_so(grid, caplog) -> None:
    people = _street_residents()
    full = reading_circle.assess(grid, population=people, targets=[0.95], areas=None)
    size = full.plans["exact_95"].meta["variables"]
    with caplog.at_level("WARNING"):
        res = reading_circle.assess(
            grid, population=people, targets=[0.95], areas=None, exact_max_vars=size - 1
        )
    row = res.summary.loc["exact_95"]
    plan = res.plans["exact_95"]
    assert row["approx_grid_m"] == plan.meta["approximation_grid_m"] > 200
    assert plan.meta["variables"] <= size - 1 and bool(row["reached"])
    # solved on fewer candidates, thinned from the same ones
    assert plan.meta["candidates"] < full.plans["exact_95"].meta["candidates"]
    assert all(str(site).startswith("new_") for site in plan.sites)
    assert "an approximation" in caplog.text
    # the tables, the workbook and the map name it
    words = f"近似整数规划选址（候选点按{row['approx_grid_m']:g}米网格抽稀）"
    assert words in reading_circle.labelled(res.summary, lang="zh").index[2]
    page = maps.render_html(reading_circle.map(res, lang="zh"))
    assert words in page
    assert np.isnan(full.summary.loc["exact_95", "approx_grid_m"])
    # too large even on the coarsest grid: skipped, as before
    none = reading_circle.assess(
        grid, population=people, targets=[0.95], areas=None, exact_max_vars=3
    )
    assert none.summary.loc["exact_95", "status"] == "skipped" and "exact_95" not in none.plans


def test_thinned_keeps_one_candidate_per_cell_nearest_its_centre() -> None:
    from accessibility.policies.reading_circle.assessment import _thinned

    pts = make_points({"a": (10, 10), "b": (90, 90), "c": (60, 40), "d": (150, 50), "e": (260, 10)})
    # 200 m cells: a to d share the first, b nearest its centre (100, 100); e is alone
    assert list(pts.index[_thinned(pts, TEST_CRS, 200.0)]) == ["b", "e"]
    assert list(pts.index[_thinned(pts, TEST_CRS, 20.0)]) == list(pts.index)


def test_tables_and_map(grid) -> None:
    res = reading_circle.assess(grid, population=homes(), targets=[1.0])
    zh = reading_circle.labelled(res.summary, lang="zh")
    assert zh.index[0] == "现状" and "人口覆盖率" in zh.columns
    en = reading_circle.labelled(res.summary, lang="en")
    assert en.index.tolist()[1:] == [
        "greedy (not proven optimal), target 100%",
        "optimal (proven), target 100%",
    ]
    assert en.loc["Current", "Share covered"] == pytest.approx(0.333)
    page = maps.render_html(reading_circle.map(res, lang="en", synthetic=True))
    assert "15-minute reading circle" in page and "合成数据" in page
    assert not re.search(r"<(script|link)[^>]*(src|href)\s*=\s*['\"]?(https?:)?//", page)
    layers = res.layers()
    assert {"population", "isochrones", "uncovered", "proposed_sites", "coverage_summary"} <= set(
        layers
    )


def test_a_coverage_from_a_rough_estimate_says_so(grid) -> None:
    # counted residents: one point (D) holds 38 % of them, so medium confidence, no marker
    counted = reading_circle.assess(grid, population=homes(), targets=[1.0], areas=None)
    assert counted.summary.loc["current", "confidence"] == "medium"
    assert counted.summary.loc["current", "estimate"] == ""
    page = maps.render_html(reading_circle.map(counted, lang="zh"))
    assert "居民覆盖率 33.3%" in page and "估算" not in page
    assert "estimate" not in reading_circle.key_figures(counted)[0]["label_en"]
    # the same residents estimated from residential land use
    land = homes()
    land.attrs.update(population_source="landuse", population_note="5 land-use pieces")
    res = reading_circle.assess(grid, population=land, targets=[1.0], areas=None)
    assert (res.summary["estimate"] == "landuse").all()
    zh = reading_circle.labelled(res.summary, lang="zh")
    assert (zh["人口估算说明"] == "估算：居住用地推算").all()
    en = reading_circle.labelled(res.summary, lang="en")
    assert (en["Population estimate"] == "estimate from residential land use").all()
    page = maps.render_html(reading_circle.map(res, lang="zh"))
    assert "居民覆盖率 约 33.3%" in page and "（估算：居住用地推算）" in page
    page = maps.render_html(reading_circle.map(res, lang="en"))
    assert "≈ 33.3% of residents covered" in page
    assert "(estimate from residential land use)" in page
    figure = reading_circle.key_figures(res)[0]
    assert figure["label_zh"] == "步行15分钟内人口覆盖率（估算：居住用地推算）"
    assert figure["value"] == pytest.approx(350 / 1050)
    # counted points of low confidence are an estimate too
    low = homes()
    low.attrs.update(population_confidence="low")
    res = reading_circle.assess(grid, population=low, targets=[1.0], areas=None)
    assert res.summary.loc["current", "estimate"] == "low_confidence"
    page = maps.render_html(reading_circle.map(res, lang="en"))
    assert "≈ 33.3%" in page and "estimate: population data of low confidence" in page


def test_no_reading_place_reports_the_residents_and_no_coverage(grid, tmp_path) -> None:
    from accessibility import report, static_map

    from .test_static_map import texts

    no_library = SimpleNamespace(**{**vars(grid), "facilities": grid.facilities.drop(index="lib")})
    no_library.facility_snap = grid.facility_snap.drop(index="lib")
    none = make_points({})
    for areas, candidates in ((halves(), "uncovered_nodes"), (None, none)):
        res = reading_circle.assess(
            no_library, population=homes(), targets=[1.0], areas=areas, candidates=candidates
        )
        cur = res.summary.loc["current"]
        assert res.no_data and cur["status"] == "no_data"
        assert cur["population"] == sum(PEOPLE.values()) and cur["points"] == len(HOMES)
        assert np.isnan(
            [cur["share"], cur["covered"], cur["uncovered"], cur["uncovered_points"]]
        ).all()
        figures = {f["key"]: f for f in reading_circle.key_figures(res)}
        for key in ("coverage", "uncovered", "uncovered_points"):
            assert figures[key]["value"] is None and figures[key]["status"] == "no_data"
        notes = report.Notes()
        assert res.note_missing(notes)
        if areas is not None:  # candidates from the residents' areas: a plan from nothing
            assert res.by_area["share"].isna().all() and res.by_area["population"].sum() == 1050
            assert list(res.plans) == ["greedy_100", "exact_100"]
            assert bool(res.summary.loc["exact_100", "reached"])
            assert [n["section"] for n in notes] == ["reading_coverage"]
        else:  # no candidate either: no plan
            assert res.plans == {} and list(res.summary.index) == ["current"]
            assert [n["section"] for n in notes] == ["reading_coverage", "siting"]
    assert "no reading place" in notes.texts("en")[0]
    page = maps.render_html(reading_circle.map(res, lang="en", notes=notes))
    assert "No reading place in the data: about 1,050 residents" in page
    assert (
        "Residents (no reading place in the data)" in page and "Residents not covered" not in page
    )
    assert maps.NO_DATA_COLOUR in page
    residents, places = reading_circle.static_map_layers(res)
    fig = static_map.draw_map(residents, places, group="reading", thresholds_min=[15], title="t")
    shown = texts(fig)
    assert "无数据（数据中无此类设施）：阅读场所" in shown and "不可达" not in shown
    sheets = reading_circle.excel_tables(res, lang="en")
    assert next(iter(sheets.values()))["status"].iloc[0].startswith("no data")


def test_walk_speed_overrides() -> None:
    same = reading_circle.walk_speed_overrides(4.5)
    speeds = network.mode_rules("walk")["speeds_kmh"]
    assert same == pytest.approx({h: float(v) for h, v in speeds.items()})
    slow = reading_circle.walk_speed_overrides(3.6)
    assert slow["residential"] == pytest.approx(3.6)
    assert slow["steps"] == pytest.approx(speeds["steps"] * 0.8)
    with pytest.raises(ValidationError, match="walking speed in km/h"):
        reading_circle.walk_speed_overrides(0)


def test_bad_arguments(grid) -> None:
    with pytest.raises(ValidationError, match="minutes must be a positive"):
        reading_circle.assess(grid, population=homes(), minutes=0)
    with pytest.raises(ValidationError, match="unknown facility kind 'books'"):
        reading_circle.assess(grid, population=homes(), kinds=["books"])
    with pytest.raises(ValidationError, match=r"targets must be shares in \(0, 1\]"):
        reading_circle.assess(grid, population=homes(), targets=[95])
    with pytest.raises(ValidationError, match="candidates must be 'uncovered_nodes'"):
        reading_circle.assess(grid, population=homes(), candidates="everywhere")
    with pytest.raises(ValidationError, match="areas must be 'nearest_place'"):
        reading_circle.assess(grid, population=homes(), areas="districts")
    bad = homes()
    bad.loc["A", "population"] = -1
    with pytest.raises(ValidationError, match=r"points \['A'\]"):
        reading_circle.assess(grid, population=bad)
    with pytest.raises(ValidationError, match="grid_m must be a positive"):
        reading_circle.assess(grid, population=homes(), grid_m=0)
    clash = make_points({"lib": (2500, 0)})
    with pytest.raises(ValidationError, match="also facility ids"):
        reading_circle.assess(grid, population=homes(), candidates=clash)


# --------------------------------------------------------------------------- the sample county


SAMPLE_EXACT_INPUTS: list[dict] = []


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    settings.root = tmp_path_factory.mktemp("root")
    solve = siting.exact

    def recorded(coverage, weights, **kw):  # the models the plans solve, for a reference
        SAMPLE_EXACT_INPUTS.append({"coverage": coverage, "weights": weights, **kw})
        return solve(coverage, weights, **kw)

    siting.exact = recorded
    try:
        study = pipeline.prepare("sample", mode="walk", progress=False)
        return study, reading_circle.assess(study)
    finally:
        siting.exact = solve
        settings.root = None


def test_sample_county_coverage_and_plans(sample) -> None:
    study, res = sample
    # the region file names the county's population raster: every resident of the county
    assert res.population_source == "raster"
    assert res.summary.loc["current", "confidence"] == "high"
    assert res.summary.loc["current", "estimate"] == ""
    assert len(res.facilities) == len(classify.select(study.facilities, "reading"))
    s = res.summary
    cur = s.loc["current"]
    assert 0 < cur["share"] < 1
    assert cur["uncovered"] == pytest.approx(cur["population"] * (1 - cur["share"]))
    pop = res.population
    assert (pop.loc[pop["covered"], "time_min"] <= 15).all()
    assert (pop.loc[~pop["covered"], "time_min"] > 15).all()
    assert cur["covered"] == pytest.approx(pop.loc[pop["covered"], "population"].sum())
    for target in (95, 100):
        g, e = s.loc[f"greedy_{target}"], s.loc[f"exact_{target}"]
        if target == 100 and not e["reached"]:
            # cells in the fields, hundreds of metres off the roads: no candidate site
            # is within the walk of them
            assert e["status"] == g["status"] == "target_unreachable"
            assert e["share"] == pytest.approx(e["best_share"]) and e["best_share"] < 1
        else:
            assert g["reached"] and e["reached"]
            assert g["share"] >= target / 100 - 1e-9 and e["share"] >= target / 100 - 1e-9
        assert e["new_sites"] <= g["new_sites"]
        assert (res.sites["scenario"] == f"exact_{target}").sum() == e["new_sites"]
    assert not res.isochrones.geometry.iloc[0].is_empty
    assert res.uncovered_areas["population"].sum() == pytest.approx(cur["uncovered"])
    assert res.by_area["population"].sum() == pytest.approx(cur["population"])


def test_the_png_draws_many_residents_merged_per_cell_and_says_so(sample, grid) -> None:
    _, res = sample
    assert len(res.population) > reading_circle.AGGREGATE_ABOVE
    cells, _ = reading_circle.static_map_layers(res)
    assert cells.attrs["cell_m"] == reading_circle.DEFAULT_CELL_M
    assert len(cells) < len(res.population) / 2
    assert cells["population"].sum() == pytest.approx(res.population["population"].sum())
    # a cell is covered or not as a whole: its time stays on its side of the limit
    assert (cells.loc[cells["covered"], "reading_time_min"] <= 15).all()
    assert (cells.loc[~cells["covered"], "reading_time_min"].dropna() > 15).all()
    assert "200米网格合并" in reading_circle.png_subtitle(cells)
    few = reading_circle.assess(grid, population=homes(), targets=[1.0], areas=None)
    points, _ = reading_circle.static_map_layers(few)
    assert points.attrs["cell_m"] is None and len(points) == len(homes())
    assert reading_circle.png_subtitle(points, lang="en") == (
        "Residence points by walk to the nearest reading place"
    )


def test_sample_exact_plans_equal_a_cold_solve_without_a_time_limit(sample) -> None:
    """The sample county's siting models, solved as ``assess`` solves them (greedy start,
    reduced model, two stages, a time limit) against scipy's own HiGHS interface, cold
    and unlimited: the fewest sites, then the most residents with that many."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    _, res = sample
    # the two targets' models are solved side by side: recorded in either order
    cases = sorted(SAMPLE_EXACT_INPUTS, key=lambda c: c["target"])
    assert [c["target"] for c in cases] == [0.95, 1.0]
    for case in cases:
        row = res.summary.loc[f"exact_{round(case['target'] * 100)}"]
        kw = {k: v for k, v in case.items() if k not in ("coverage", "weights", "tie_break_s")}
        plan = siting.exact(case["coverage"], case["weights"], **{**kw, "time_limit_s": 30})
        assert plan.meta["proof"] == "optimal" and plan.meta["coverage_proof"] == "optimal"
        m = sparse.csr_matrix(case["coverage"], dtype=float)
        m.data[:] = 1.0
        w = np.asarray(case["weights"], dtype=float)
        covered = np.asarray(case["covered"], dtype=bool)
        m, wk = m[:, ~covered], w[~covered]
        hit = np.asarray(m.sum(axis=0)).ravel() > 0
        m, wk = m[:, hit].tocsr(), wk[hit]
        n_x, n_y = m.shape
        link = LinearConstraint(sparse.hstack([-m.T, sparse.identity(n_y)]).tocsr(), -np.inf, 0)
        need = min(case["target"] * w.sum(), w[covered].sum() + wk.sum()) - w[covered].sum()
        fewest = milp(
            np.r_[np.ones(n_x), np.zeros(n_y)],
            constraints=[link, LinearConstraint(np.r_[np.zeros(n_x), wk][None, :], need * (1 - 1e-9), np.inf)],
            integrality=np.ones(n_x + n_y), bounds=Bounds(0, 1),
        )  # fmt: skip
        assert fewest.status == 0
        k = round(fewest.x[:n_x].sum())
        assert len(plan.sites) == k
        # the plan in the tables has as few sites, proven so within its time limit
        assert row["new_sites"] == k and row["proof"] == "optimal" and row["optimality_gap"] == 0
        most = milp(
            np.r_[np.zeros(n_x), -wk / wk.sum()],
            constraints=[link, LinearConstraint(np.r_[np.ones(n_x), np.zeros(n_y)][None, :], 0, k)],
            integrality=np.ones(n_x + n_y), bounds=Bounds(0, 1),
        )  # fmt: skip
        assert most.status == 0
        reached = np.asarray(m[most.x[:n_x] > 0.5].sum(axis=0)).ravel() > 0
        assert plan.after == pytest.approx(w[covered].sum() + wk[reached].sum(), rel=1e-9)


# --------------------------------------------------------------------------- the notebook


def _check_outputs(root, *, title: str) -> None:
    html = (root / "maps" / "sample" / "reading_circle.html").read_text("utf-8")
    scripts = re.findall(r"<script[^>]*\bsrc\s*=\s*['\"]([^'\"]+)", html, re.I)
    sheets = re.findall(r"<link[^>]*\bhref\s*=\s*['\"]([^'\"]+)", html, re.I)
    assert not [u for u in scripts + sheets if re.match(r"(https?:)?//", u)]
    assert "合成数据" in html and title in html
    gpkg = root / "data" / "processed" / "sample" / "reading_circle.gpkg"
    layers = set(pyogrio.list_layers(gpkg)[:, 0])
    assert {"population", "isochrones", "uncovered", "proposed_sites", "coverage_summary"} <= layers
    summary = pd.read_csv(
        root / "data" / "processed" / "sample" / "reading_circle_summary.csv", encoding="utf-8-sig"
    )
    assert len(summary) >= 3
    executed = nbformat.read(root / "runs" / "sample" / "reading_circle.ipynb", as_version=4)
    assert any(c.get("outputs") for c in executed.cells if c.cell_type == "code")


@pytest.mark.slow
def test_notebook_runs_with_defaults(tmp_path) -> None:
    settings.root = tmp_path
    (result,) = runner.run("reading_circle", region="sample", parameters={}, progress=False)
    assert result.map_html.is_file()
    _check_outputs(tmp_path, title="15分钟阅读圈")
    processed, maps_dir = tmp_path / "data" / "processed" / "sample", tmp_path / "maps" / "sample"
    check_excel_and_png(processed, maps_dir, "reading_circle", "人口覆盖率")
    assert openpyxl.load_workbook(processed / "reading_circle.xlsx").sheetnames[:2] == [
        "结论",
        "覆盖情况",
    ]


@pytest.mark.slow
def test_notebook_runs_with_other_parameters(tmp_path) -> None:
    settings.root = tmp_path
    params = {"minutes": 10, "lang": "en", "walk_speed_kmh": 4.0, "targets": [0.9]}
    runner.run("reading_circle", region="sample", parameters=params, progress=False)
    _check_outputs(tmp_path, title="10-minute reading circle")
    summary = pd.read_csv(
        tmp_path / "data" / "processed" / "sample" / "reading_circle_summary.csv",
        encoding="utf-8-sig",
    )
    assert summary["Scenario"].tolist()[0] == "Current"
    assert set(summary["Walk limit (min)"]) == {10}
    check_excel_and_png(
        tmp_path / "data" / "processed" / "sample",
        tmp_path / "maps" / "sample",
        "reading_circle",
        "Share covered",
    )


# --------------------------------------------------------------------------- the map's content
_ID = re.compile(r"\b(?:[nwr]\d{3,}|new_\d+|raster:\d+)\b")


def _map_parts(m) -> tuple[dict[str, list], dict[str, set[str]], list[tuple[str, str, str]]]:
    """Resident rows per layer, colours drawn per layer, and the legend's rows."""
    residents: dict[str, list] = {}
    colours: dict[str, set[str]] = {}
    for layer in m._children.values():
        if not isinstance(layer, folium.FeatureGroup):
            continue
        drawn = colours.setdefault(layer.layer_name, set())
        for child in layer._children.values():
            if isinstance(child, web_map._Residents):
                data = json.loads(child.data)
                residents[layer.layer_name] = [data, *residents.get(layer.layer_name, [])]
                drawn.add(data["c"].lower())
            elif isinstance(child, folium.GeoJson):
                for feature in child.data["features"]:
                    style = child.style_function(feature)
                    if style.get("fill", True) and "fillColor" in style:
                        drawn.add(style["fillColor"].lower())
    legend = m.get_root().html._children["rc_legend"].rows
    return residents, colours, legend


def _tips(m) -> list[str]:
    out = []
    for layer in m._children.values():
        for child in getattr(layer, "_children", {}).values():
            if isinstance(child, folium.GeoJson) and "features" in child.data:
                out += [str(f["properties"].get("tip", "")) for f in child.data["features"]]
    return out


def test_map_residents_name_their_nearest_reading_place(grid) -> None:
    # a second reading place, without a name, 500 m from D
    fac = pd.concat([grid.facilities, make_points({"sr": (2500, 500)})])
    fac.loc["sr", ["kind", "tiers", "name"]] = ["reading", "study_room", None]
    two = SimpleNamespace(**{**vars(grid), "facilities": fac})
    two.facility_snap = snapping.snap(grid.network, fac)
    res = reading_circle.assess(two, population=homes(), targets=[1.0])
    m = reading_circle.map(res, lang="zh")
    residents, colours, legend = _map_parts(m)
    rows = {}
    for data in [d for ds in residents.values() for d in ds]:
        for lat, lon, pop, minutes, _, k in data["p"]:
            rows[(round(lat, 5), round(lon, 5))] = (pop, minutes, data["n"][k] if k >= 0 else None)
    assert len(rows) == len(HOMES)
    # nearest by hand: D (2500, 0) is 500 m from the study room, 2500 m from the library;
    # C (700, 500) is 1200 m from the library and 1800 m from the study room
    expected = {"A": "图书馆", "B": "图书馆", "C": "图书馆", "D": "城市书房", "E": "图书馆"}
    for home, (x, y) in HOMES.items():
        lon, lat = lonlat(x, y)
        pop, minutes, place = rows[(round(lat, 5), round(lon, 5))]
        assert place == expected[home], home
        assert pop == PEOPLE[home]
    d_lon, d_lat = lonlat(*HOMES["D"])
    assert rows[(round(d_lat, 5), round(d_lon, 5))][1] == pytest.approx(500 / 75, abs=0.06)
    # every colour drawn is in the legend; nothing shows an id
    legend_colours = {c.lower() for _, c, _ in legend}
    for name, drawn in colours.items():
        assert drawn <= legend_colours, name
    tips = _tips(m)
    assert tips and not [t for t in tips if _ID.search(t) or "sr" in t.split()]
    sites = set(map(str, res.sites["site"]))
    assert not [t for t in tips if any(f"({s})" in t or t.endswith(s) for s in sites)]
    assert "城市书房" in tips  # the unnamed reading place is shown by what it is


def test_filled_fills_small_holes_only() -> None:
    def square(x0: float, y0: float, side: float) -> list[tuple[float, float]]:
        return [
            lonlat(x, y)
            for x, y in [(x0, y0), (x0 + side, y0), (x0 + side, y0 + side), (x0, y0 + side)]
        ]

    # a 3 km square with a 200 m hole (4 ha) and a 1 km hole (100 ha)
    area = shapely.Polygon(square(0, 0, 3000), [square(200, 200, 200), square(1500, 1500, 1000)])
    frame = gpd.GeoDataFrame(geometry=[area, shapely.MultiPolygon([area])], crs=4326)
    out = reading_circle.filled(frame, max_hole_m2=200_000)
    metric = out.to_crs(TEST_CRS).geometry
    for geom in metric:
        assert len(shapely.get_parts(geom)) == 1
        holes = list(shapely.get_parts(geom)[0].interiors)
        assert len(holes) == 1
        assert shapely.Polygon(holes[0]).area == pytest.approx(1_000_000, rel=1e-3)
        assert geom.area == pytest.approx(9_000_000 - 1_000_000, rel=1e-3)
    assert reading_circle.filled(frame, max_hole_m2=0).geometry.equals(frame.geometry)


def test_sample_map_plans_legend_names_and_size(sample, tmp_path) -> None:
    study, res = sample
    m = reading_circle.map(res, lang="zh", boundary=study.boundary, synthetic=True)
    residents, colours, legend = _map_parts(m)
    # each site plan in its own colour, each in the legend
    plans = list(res.sites["scenario"].unique())
    plan_rows = [r for r in legend if r[2].startswith("建议新增阅读点（")]
    assert len(plan_rows) == len(plans) >= 2
    assert len({c for _, c, _ in plan_rows}) == len(plans)
    for key, (_, _, text) in zip(plans, plan_rows):
        assert text.endswith(f"：{(res.sites['scenario'] == key).sum()} 处")
    legend_colours = {c.lower() for _, c, _ in legend}
    for name, drawn in colours.items():
        assert drawn <= legend_colours, name
    # more than 3,000 residence points: drawn merged per 200 m cell and coverage state,
    # every resident counted once, on the side of the coverage they are on
    pts = res.population
    cells = {k: [row for d in ds for row in d["p"]] for k, ds in residents.items()}
    assert len(pts) > reading_circle.AGGREGATE_ABOVE
    covered_cells, uncovered_cells = cells["已覆盖居民"], cells["未覆盖居民"]
    assert any(text == "已覆盖居民（按 200 米网格合并）" for _, _, text in legend)
    assert len(covered_cells) + len(uncovered_cells) < len(pts) / 2
    cur = res.summary.loc["current"]
    # rows carry whole persons: the sums agree to half a person per cell
    assert sum(r[2] for r in covered_cells) == pytest.approx(cur["covered"], abs=len(covered_cells))
    assert sum(r[2] for r in uncovered_cells) == pytest.approx(
        cur["uncovered"], abs=len(uncovered_cells)
    )
    assert all(r[3] is None or r[3] <= 15 for r in covered_cells)
    assert all(r[3] is None or r[3] >= 15 for r in uncovered_cells)  # shown to 0.1 min
    assert not [t for t in _tips(m) if _ID.search(t)]
    path = maps.save_html(m, tmp_path / "reading_circle.html")
    assert path.stat().st_size < 1_000_000
    # drawn point by point on request: every resident, with the name of its nearest place
    each = reading_circle.map(res, lang="zh", boundary=study.boundary, synthetic=True, cell_m=0)
    residents, _, _ = _map_parts(each)
    drawn_rows = [row for ds in residents.values() for d in ds for row in d["p"]]
    assert len(drawn_rows) == len(pts)
    names = dict(zip(res.facilities.index, res.facilities["name"]))
    (data_cov,) = residents["已覆盖居民"]
    got = sorted(data_cov["n"][row[5]] for row in data_cov["p"])
    want = sorted(html.escape(names[i]) for i in pts.loc[pts["covered"], "nearest"])
    assert got == want


def test_resident_cells_sum_residents_per_cell_and_coverage() -> None:
    """Four points in two 200 m cells (one split by coverage): three cells, the sums and
    population-weighted times and centres worked out by hand."""
    from .conftest import make_points

    pts = make_points({"a": (10, 10), "b": (110, 10), "c": (150, 150), "d": (310, 10)})
    pts["population"] = [100.0, 300.0, 50.0, 20.0]
    pts["time_min"] = [4.0, 8.0, 20.0, np.inf]
    pts["covered"] = [True, True, False, False]
    pts["nearest"] = ["L1", "L2", "L1", None]
    cells = reading_circle.resident_cells(pts, 200.0).sort_values("population")
    assert cells["population"].tolist() == [20.0, 50.0, 400.0]
    assert cells["points"].tolist() == [1, 1, 2]
    assert cells["covered"].tolist() == [False, False, True]
    big = cells.iloc[-1]
    assert big["time_min"] == pytest.approx((100 * 4 + 300 * 8) / 400)
    assert big["nearest"] == "L2"  # the most populous point's
    assert np.isnan(cells.iloc[0]["time_min"])  # unreachable: no known time
    xy = gpd.GeoSeries([big.geometry], crs=4326).to_crs(TEST_CRS).iloc[0]
    from .conftest import X0

    assert xy.x - X0 == pytest.approx((100 * 10 + 300 * 110) / 400, abs=0.5)
    with pytest.raises(ValidationError, match="cell_m must be a positive number"):
        reading_circle.resident_cells(pts, 0.0)


def test_areas_are_packed_without_losing_more_than_the_precision() -> None:
    from accessibility.policies.reading_circle.web_map import AREA_PRECISION_DEG, _Areas

    ring = [(113.80001, 34.0), (113.81234, 34.0), (113.81234, 34.01111), (113.80001, 34.0)]
    hole = [(113.805, 34.002), (113.806, 34.002), (113.806, 34.003), (113.805, 34.002)]
    poly = shapely.MultiPolygon(
        [shapely.Polygon(ring, [hole]), shapely.box(113.9, 34.1, 113.91, 34.11)]
    )
    el = _Areas([poly], {"color": "#123456"}, ["一片"])
    data = json.loads(el.data)
    assert el.count == 2 and data["t"] == ["一片", "一片"]  # one tooltip per drawn part
    decoded = []
    for r in data["a"][0]:
        xy = np.cumsum(np.asarray(r).reshape(-1, 2), axis=0) * AREA_PRECISION_DEG
        decoded.append(xy)
    assert np.allclose(decoded[0], np.asarray(ring[:-1]), atol=AREA_PRECISION_DEG / 2 + 1e-12)
    assert np.allclose(decoded[1], np.asarray(hole[:-1]), atol=AREA_PRECISION_DEG / 2 + 1e-12)
