"""Origins for any place: villages, places, grids (square, H3), building clusters, files, auto."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from accessibility import origins
from accessibility._errors import ValidationError

CRS = "EPSG:32650"  # UTM 50N (Xuchang)
X0, Y0 = 640_000.0, 3_770_000.0


def _boundary(w: float = 2000.0, h: float = 1500.0) -> gpd.GeoSeries:
    """A rectangle in the metric CRS, returned in WGS-84 (as prepare hands it over)."""
    return gpd.GeoSeries([shapely.box(X0, Y0, X0 + w, Y0 + h)], crs=CRS).to_crs(4326)


def _points(xy: np.ndarray, pop: np.ndarray) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"population": pop}, geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=CRS
    ).to_crs(4326)


def _places(levels_places: list[tuple[str, str]]) -> gpd.GeoDataFrame:
    n = len(levels_places)
    xy = [(X0 + 100 + 150 * i, Y0 + 700) for i in range(n)]
    return gpd.GeoDataFrame(
        {
            "name": [f"p{i}" for i in range(n)],
            "level": [lv for lv, _ in levels_places],
            "place": [pl for _, pl in levels_places],
            "population": np.nan,
        },
        geometry=gpd.points_from_xy(*zip(*xy)) if n else [],
        crs=CRS,
        index=pd.Index([f"n{i}" for i in range(n)], name="id"),
    ).to_crs(4326)


NO_BUILDINGS = gpd.GeoDataFrame({"building": [], "levels": [], "name": []}, geometry=[], crs=4326)


def _choose(spec, *, places, buildings=NO_BUILDINGS, **options):
    """origins.choose on the test area (no footprints unless given), village level admin_village."""
    return origins.choose(
        spec,
        places=places,
        buildings=buildings,
        boundary=_boundary(),
        crs=CRS,
        levels=["admin_village"],
        **options,
    )


def test_square_grid_sums_population_per_cell_like_a_brute_force_assignment():
    rng = np.random.default_rng(5)
    # points inside the 2 km x 1.5 km area, plus a few outside it that must not count
    inside = np.column_stack([X0 + rng.uniform(1, 1999, 400), Y0 + rng.uniform(1, 1499, 400)])
    outside = np.array([[X0 - 300.0, Y0 + 10], [X0 + 2600.0, Y0 + 700]])
    xy = np.vstack([inside, outside])
    pop = rng.uniform(0.5, 20.0, len(xy))
    cell = 500.0
    out = origins.grid(_boundary(), crs=CRS, cell_m=cell, population=_points(xy, pop))

    # brute force: cell of each inside point by integer division
    keys = [f"g{math.floor(x / cell)}_{math.floor(y / cell)}" for x, y in inside]
    expected = pd.Series(pop[: len(inside)]).groupby(keys).sum()
    assert set(out.index) == set(expected.index)
    np.testing.assert_allclose(out.loc[expected.index, "population"], expected, rtol=1e-12)
    assert out["population"].sum() == pytest.approx(pop[: len(inside)].sum())
    # the origin is the population-weighted mean of the cell's points
    metric = out.to_crs(CRS)
    for key in expected.index[:5]:
        sel = np.array([k == key for k in keys])
        w = pop[: len(inside)][sel]
        assert metric.loc[key].geometry.x == pytest.approx(
            (inside[sel, 0] * w).sum() / w.sum(), abs=1e-3
        )
        assert metric.loc[key].geometry.y == pytest.approx(
            (inside[sel, 1] * w).sum() / w.sum(), abs=1e-3
        )
    assert (out["level"] == origins.GRID_LEVEL).all()
    assert out.crs.to_epsg() == 4326


def test_square_grid_leaves_out_cells_without_residents():
    xy = np.array([[X0 + 100.0, Y0 + 100], [X0 + 120.0, Y0 + 110], [X0 + 1800.0, Y0 + 1400]])
    out = origins.grid(
        _boundary(), crs=CRS, cell_m=500.0, population=_points(xy, np.array([1.0, 2.0, 0.0]))
    )
    # the third point has nobody: its cell is no origin
    assert list(out.index) == [f"g{math.floor((X0 + 100) / 500)}_{math.floor((Y0 + 100) / 500)}"]
    assert out["population"].iloc[0] == pytest.approx(3.0)


def test_square_grid_without_population_keeps_every_cell_with_unknown_population():
    boundary = _boundary(2000.0, 1500.0)
    out = origins.grid(boundary, crs=CRS, cell_m=500.0)
    # X0, Y0 are multiples of 500: exactly 4 x 3 cells meet the area (edge-touching cells have no area inside)
    assert len(out) == 12
    assert out["population"].isna().all()
    assert out.within(boundary.iloc[0].buffer(1e-9)).all()


def test_grid_cell_half_outside_gets_its_origin_inside_the_boundary():
    # an area not aligned on the grid: edge cells are cut, their origin lies inside
    boundary = gpd.GeoSeries(
        [shapely.box(X0 + 250, Y0 + 250, X0 + 1250, Y0 + 900)], crs=CRS
    ).to_crs(4326)
    out = origins.grid(boundary, crs=CRS, cell_m=500.0)
    assert len(out) == 3 * 2
    assert (
        out.to_crs(CRS).within(shapely.box(X0 + 249.9, Y0 + 249.9, X0 + 1250.1, Y0 + 900.1)).all()
    )


def test_h3_resolution_is_the_one_whose_area_is_nearest():
    import h3

    for cell in (100.0, 250.0, 500.0, 1000.0, 3000.0):
        areas = {r: h3.average_hexagon_area(r, unit="m^2") for r in range(16)}
        best = min(areas, key=lambda r: abs(math.log(areas[r] / cell**2)))
        assert origins.h3_resolution(cell) == best


def test_h3_grid_sums_population_per_hexagon_as_h3_assigns_points():
    import h3

    rng = np.random.default_rng(9)
    xy = np.column_stack([X0 + rng.uniform(1, 1999, 300), Y0 + rng.uniform(1, 1499, 300)])
    pop = rng.uniform(1.0, 5.0, len(xy))
    pts = _points(xy, pop)
    out = origins.grid(_boundary(), crs=CRS, cell_m=300.0, population=pts, shape="h3")
    res = origins.h3_resolution(300.0)
    cells = [h3.latlng_to_cell(p.y, p.x, res) for p in pts.geometry]
    expected = pd.Series(pop).groupby(cells).sum()
    # a point exactly on an edge may go either way; with random points none is
    assert set(out.index) == set(expected.index)
    np.testing.assert_allclose(out.loc[expected.index, "population"], expected, rtol=1e-9)


def test_auto_uses_villages_when_there_are_enough_else_a_grid_and_says_why():
    xy = np.array([[X0 + 100.0, Y0 + 100]])
    pop = _points(xy, np.array([5.0]))
    enough = _places([("admin_village", "village")] * 3)
    got = _choose(
        "auto",
        places=enough,
        population=pop,
    )
    assert got.kind == "villages" and len(got.table) == 3
    assert "3 settlements" in got.reason

    few = _places(
        [("admin_village", "village"), ("residential", "suburb"), ("residential", "suburb")]
    )
    got = _choose(
        "auto",
        places=few,
        population=pop,
        grid_m=250.0,
    )
    assert got.kind == "grid" and len(got.table) == 1
    assert "250 m population grid" in got.reason
    assert got.found["villages"] == 1 and got.found["place=suburb"] == 2


def test_villages_that_are_not_there_fail_with_what_was_found():
    city = _places([("residential", "suburb")] * 4 + [("county_seat", "city")])
    with pytest.raises(ValidationError) as err:
        _choose(
            "villages",
            places=city,
        )
    text = str(err.value)
    assert "0 settlements of levels [admin_village]" in text
    assert "4 suburb" in text and "1 city" in text
    assert "origins='places', 'grid' or 'auto'" in text


def test_places_take_every_settlement_level():
    city = _places([("residential", "suburb")] * 4 + [("county_seat", "city")])
    got = _choose(
        "places",
        places=city,
    )
    assert got.kind == "places" and len(got.table) == 5
    assert set(got.table["level"]) == {"residential", "county_seat"}


def test_building_clusters_group_footprints_closer_than_the_gap():
    from accessibility import population

    def square(x, y, s=10.0):
        return shapely.box(X0 + x, Y0 + y, X0 + x + s, Y0 + y + s)

    # cluster A: three houses 5 m apart; cluster B: two far away; one shed (not residential)
    feet = [
        square(100, 100),
        square(115, 100),
        square(130, 100),
        square(1500, 1000),
        square(1500, 1020),
        square(600, 600),
    ]
    kinds = ["house", "house", "residential", "apartments", "apartments", "shed"]
    b = gpd.GeoDataFrame(
        {
            "building": kinds,
            "levels": [1, 2, 1, 6, 6, 1],
            "name": ["", "", "", "幸福小区", "幸福小区", ""],
        },
        geometry=feet,
        crs=CRS,
        index=[f"w{i}" for i in range(6)],
    ).to_crs(4326)
    out = origins.building_clusters(b, crs=CRS, boundary=_boundary())
    assert len(out) == 2
    per = population.from_buildings(b, crs=CRS)["population"]
    sums = sorted(out["population"])
    assert sums[0] == pytest.approx(per.iloc[:3].sum())
    assert sums[1] == pytest.approx(per.iloc[3:5].sum())
    assert "幸福小区" in set(out["name"])
    assert (out["level"] == origins.BUILDINGS_LEVEL).all()


def test_origins_from_a_file_keep_points_inside_the_boundary(tmp_path):
    path = tmp_path / "homes.geojson"
    xy = np.array([[X0 + 100.0, Y0 + 100], [X0 + 900.0, Y0 + 800], [X0 - 500.0, Y0]])
    gdf = _points(xy, np.array([10.0, 20.0, 30.0]))
    gdf["name"] = ["一号", "二号", "外面"]
    gdf.to_file(path)
    got = _choose(
        str(path),
        places=_places([]),
    )
    assert got.kind == "file"
    assert list(got.table["name"]) == ["一号", "二号"]
    assert list(got.table["population"]) == [10.0, 20.0]


@pytest.mark.parametrize("bad", ["village", "", 3, "grid.txt"])
def test_unknown_choices_are_refused(bad):
    with pytest.raises(ValidationError, match="origins must be one of"):
        origins.check_spec(bad)


def test_grid_size_is_checked():
    with pytest.raises(ValidationError, match="grid_m must be a positive"):
        origins.grid(_boundary(), crs=CRS, cell_m=-5)
    with pytest.raises(ValidationError, match="choose a larger grid_m"):
        origins.grid(_boundary(), crs=CRS, cell_m=0.5)


def test_maps_name_the_origins_and_why_a_grid_was_used():
    from types import SimpleNamespace

    from accessibility.pipeline import Study

    auto = SimpleNamespace(
        meta={"origins_kind": "grid", "grid_m": 250.0, "origins_reason": "auto: 0 settlements"}
    )
    assert (
        Study.origins_note(auto, "zh") == "起点：人口网格（250 米）；数据中村庄不足，改用人口网格"
    )
    assert (
        Study.origins_note(auto, "en")
        == "Origins: population grid (250 m); too few villages in the data; a population grid instead"
    )
    chosen = SimpleNamespace(meta={"origins_kind": "places", "origins_reason": "chosen: places"})
    assert Study.origins_note(chosen, "zh") == "起点：居民点（含城区片区）"


def test_villages_without_population_tags_take_the_raster_cells_nearest_them(tmp_path):
    from types import SimpleNamespace

    from accessibility import pipeline

    boundary = _boundary(2000.0, 1500.0)
    w, s, e, n = boundary.total_bounds
    raster = tmp_path / "pop.tif"
    # 4 x 4 cells over the area, 10 persons each
    from affine import Affine

    from .test_population_raster import write_raster

    size = max(e - w, n - s) / 4
    write_raster(
        raster, np.full((4, 4), 10.0), crs="EPSG:4326", transform=Affine(size, 0, w, 0, -size, n)
    )
    reg = SimpleNamespace(population_raster=lambda unit: raster, population={"raster": "pop.tif"})
    villages = _places([("admin_village", "village")] * 3)
    chosen = origins.Origins(table=villages, kind="villages", reason="auto: 3 settlements")
    out, how = pipeline._origin_population(reg, None, villages, chosen, boundary, CRS)
    assert how == "raster"
    assert out["population_tag"].isna().all()
    # every person inside the boundary went to a village (brute force: the raster's sum inside)
    from accessibility import population

    cells = population.from_raster(raster, boundary, crs=CRS)
    assert out["population"].sum() == pytest.approx(cells["population"].sum())
    metric = cells.to_crs(CRS)
    vm = villages.to_crs(CRS)
    d = np.hypot(
        metric.geometry.x.to_numpy()[:, None] - vm.geometry.x.to_numpy()[None, :],
        metric.geometry.y.to_numpy()[:, None] - vm.geometry.y.to_numpy()[None, :],
    )
    expected = pd.Series(cells["population"].to_numpy()).groupby(d.argmin(axis=1)).sum()
    np.testing.assert_allclose(out["population"].to_numpy()[expected.index], expected.to_numpy())

    # mostly tagged villages keep their tags; the raster fills the one without
    tagged = villages.assign(population=[100.0, 200.0, np.nan])
    kept, how = pipeline._origin_population(reg, None, tagged, chosen, boundary, CRS)
    assert how == "tags+raster"
    assert kept["population"].tolist() == [100.0, 200.0, out["population"].iloc[2]]
    # every village tagged: the tags alone
    full = villages.assign(population=[100.0, 200.0, 300.0])
    assert pipeline._origin_population(reg, None, full, chosen, boundary, CRS)[1] == "tags"
    # a town that is no origin keeps its own people: they do not go to the villages around it
    town = _places([("admin_village", "village")] * 3 + [("county_seat", "town")])
    town = town.rename(index={"n3": "town"})
    with_town, _ = pipeline._origin_population(
        reg, None, villages, chosen, boundary, CRS, places=town
    )
    tm = town.to_crs(CRS)
    d = np.hypot(
        metric.geometry.x.to_numpy()[:, None] - tm.geometry.x.to_numpy()[None, :],
        metric.geometry.y.to_numpy()[:, None] - tm.geometry.y.to_numpy()[None, :],
    )
    nearest = d.argmin(axis=1)
    by_village = pd.Series(cells["population"].to_numpy()).groupby(nearest).sum()
    expected = [by_village.get(k, 0.0) for k in range(3)]
    np.testing.assert_allclose(with_town["population"].to_numpy(), expected)
    assert with_town["population"].sum() < cells["population"].sum()  # the town's share stays out
    # grid cells carry their own sums
    cells_chosen = origins.Origins(table=villages, kind="grid", reason="chosen: grid")
    assert (
        pipeline._origin_population(reg, None, villages, cells_chosen, boundary, CRS)[1] == "grid"
    )


def test_a_grid_from_land_use_is_an_estimate_and_its_figures_say_so():
    from accessibility import metrics

    xy = np.array([[X0 + 100.0, Y0 + 100], [X0 + 900.0, Y0 + 900]])
    pop = _points(xy, np.array([50.0, 70.0]))
    pop.attrs.update(population_source="landuse")
    got = _choose(
        "grid",
        places=_places([]),
        population=pop,
    )
    assert got.estimate == "landuse"
    counted = _points(xy, np.array([50.0, 70.0]))
    counted.attrs.update(population_source="raster", population_confidence="high")
    assert (
        _choose(
            "grid",
            places=_places([]),
            population=counted,
        ).estimate
        == ""
    )

    summary = pd.DataFrame(
        {"origins": [2], "within_30_share": [0.5], "within_30_pop_share": [0.6], "status": ["ok"]},
        index=pd.Index(["bus"], name="group"),
    )
    plain = metrics.key_figures(summary)
    marked = metrics.mark_estimate(plain, "landuse")
    assert metrics.mark_estimate(plain, "") == plain
    assert "估算" not in plain[0]["label_zh"]
    assert marked[0]["label_zh"] == "公交站：30分钟内人口占比（估算：居住用地推算）"
    assert marked[0]["label_en"].endswith("(estimate from residential land use)")
    assert marked[0]["value"] == plain[0]["value"] == 0.6
    assert marked[1] == plain[1]  # villages beyond: a count of origins, not of residents
    # a share of villages is not a share of residents; a label that says 估算 already stays
    other = [
        {
            "key": "v",
            "label_zh": "有公交站的行政村占比",
            "label_en": "villages",
            "value": 0.5,
            "format": "percent",
        },
        {
            "key": "r",
            "label_zh": "人口覆盖率（估算：居住用地推算）",
            "label_en": "x (estimate)",
            "value": 0.5,
            "format": "percent",
        },
    ]
    assert metrics.mark_estimate(other, "low_confidence") == other


def test_a_village_registry_stands_in_for_missing_mapped_villages():
    # rural OSM without villages but an official list: no error, no grid; the caller merges the list
    for spec in ("auto", "villages"):
        got = _choose(spec, places=_places([("residential", "suburb")]), village_registry=True)
        assert got.kind == "villages" and got.table.empty
        assert got.reason.endswith("villages from the village registry")
    # a grid asked for is still a grid
    assert _choose("grid", places=_places([]), village_registry=True).kind == "grid"


def test_a_grid_says_how_many_of_its_cells_hold_residents():
    from types import SimpleNamespace

    from accessibility.pipeline import Study

    xy = np.array([[X0 + 100.0, Y0 + 100], [X0 + 900.0, Y0 + 900]])
    got = _choose("grid", places=_places([]), population=_points(xy, np.array([5.0, 6.0])))
    # the 2 km x 1.5 km area meets 4 x 3 cells of 500 m (and slivers of its reprojected edge)
    assert got.found["grid_cells_with_residents"] == 2 and got.found["grid_cells"] >= 12
    assert f"2 of {got.found['grid_cells']} cells hold residents" in got.reason
    meta = {
        "origins_kind": "grid",
        "grid_m": 500.0,
        "origins_reason": got.reason,
        "origins_found": got.found,
    }
    note = Study.origins_note(SimpleNamespace(meta=meta), "zh")
    assert note == f"起点：人口网格（500 米）；{got.found['grid_cells']} 格中 2 格有居民数据"


def test_building_clusters_without_storeys_are_an_estimate():
    feet = [
        shapely.box(X0 + 100 + 40 * i, Y0 + 100, X0 + 110 + 40 * i, Y0 + 110) for i in range(12)
    ]
    untagged = gpd.GeoDataFrame(
        {"building": ["house"] * 12, "levels": [np.nan] * 12, "name": [""] * 12},
        geometry=feet,
        crs=CRS,
    ).to_crs(4326)
    got = _choose("buildings", places=_places([]), buildings=untagged)
    assert got.table.attrs["population_confidence"] == "low"  # every storey count guessed
    assert got.estimate == "low_confidence"
    tagged = untagged.assign(levels=3.0)
    assert _choose("buildings", places=_places([]), buildings=tagged).estimate == ""


def test_origins_from_a_csv_of_longitudes_and_latitudes(tmp_path):
    inside = _boundary().to_crs(CRS).iloc[0].centroid
    lon, lat = gpd.GeoSeries([inside], crs=CRS).to_crs(4326).iloc[0].coords[0]
    good = tmp_path / "homes.csv"
    good.write_text(
        f"名称,经度,纬度,population\n一号,{lon},{lat},12\n外面,0,0,5\n", encoding="utf-8-sig"
    )
    got = _choose(str(good), places=_places([]))
    assert got.kind == "file" and len(got.table) == 1 and got.table["population"].iloc[0] == 12.0
    bad = tmp_path / "nocoords.csv"
    bad.write_text("name,east,north\na,1,2\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="no coordinate columns; name them one of lon/lat"):
        _choose(str(bad), places=_places([]))
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("lon,lat\n114.1,34.0\n500,34.0\n", encoding="utf-8")
    with pytest.raises(ValidationError, match=r"rows \[3\] have no WGS-84"):
        _choose(str(wrong), places=_places([]))
