"""Population points: floor-area arithmetic, the residential filter, the automatic choice, bad input."""

from __future__ import annotations

from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from accessibility import population
from accessibility._errors import ValidationError

from .conftest import TEST_CRS, lonlat, make_points


def rect(x: float, y: float, w: float, h: float) -> shapely.Polygon:
    """A w × h metre rectangle with its lower-left corner at layout (x, y), in WGS-84."""
    corners = [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]
    return shapely.Polygon([lonlat(*c) for c in corners])


def footprints(rows: dict[str, tuple[str, float, shapely.Geometry]]) -> gpd.GeoDataFrame:
    ids = list(rows)
    return gpd.GeoDataFrame(
        {
            "building": [rows[i][0] for i in ids],
            "levels": [rows[i][1] for i in ids],
            "name": "",
        },
        geometry=[rows[i][2] for i in ids],
        index=pd.Index(ids, name="id"),
        crs=4326,
    )


BUILDINGS = footprints(
    {
        "w1": ("apartments", 6, rect(0, 0, 40, 12)),  # 480 m² × 6 storeys = 2880 m²
        "w2": ("house", np.nan, rect(100, 0, 10, 10)),  # 100 m², storeys unknown
        "w3": ("yes", 2, rect(200, 0, 20, 10)),  # untyped: only with include_yes
        "w4": ("commercial", 3, rect(300, 0, 30, 30)),  # never residential
        "w5": ("residential", 0, rect(400, 0, 20, 20)),  # 0 storeys is not usable
    }
)


def test_floor_area_times_persons_per_square_metre() -> None:
    pop = population.from_buildings(BUILDINGS, crs=TEST_CRS)
    assert list(pop.index) == ["w1", "w2", "w5"]
    assert pop.crs.to_epsg() == 4326
    assert (pop["source"] == "buildings").all()
    np.testing.assert_allclose(pop["area_m2"], [480, 100, 400], rtol=1e-6)
    np.testing.assert_allclose(pop["levels"], [6, 1, 1])  # default_levels for missing and 0
    # 2880 m² × 0.025 = 72 persons; 100 m² × 1 × 0.025 = 2.5; 400 × 0.025 = 10
    np.testing.assert_allclose(pop["population"], [72, 2.5, 10], rtol=1e-6)
    # one point per footprint, at its centroid
    centre = shapely.Point(lonlat(20, 6))
    assert pop.geometry.loc["w1"].distance(centre) < 1e-7


def test_options_change_the_arithmetic() -> None:
    pop = population.from_buildings(
        BUILDINGS, crs=TEST_CRS, persons_per_m2=1 / 30, default_levels=3
    )
    np.testing.assert_allclose(pop["population"], [2880 / 30, 300 / 30, 1200 / 30], rtol=1e-6)
    assert population.DEFAULT_PERSONS_PER_M2 == pytest.approx(1 / 40)


def test_residential_filter() -> None:
    with_yes = population.from_buildings(BUILDINGS, crs=TEST_CRS, include_yes=True)
    assert list(with_yes.index) == ["w1", "w2", "w3", "w5"]
    everything = population.from_buildings(BUILDINGS, crs=TEST_CRS, residential_only=False)
    assert len(everything) == 5
    mask = population.residential_mask(BUILDINGS)
    assert mask.tolist() == [True, True, False, False, True]
    assert "yes" not in population.RESIDENTIAL_BUILDINGS


def test_building_nodes_are_left_out() -> None:
    mixed = pd.concat([BUILDINGS, footprints({"n9": ("house", 2, shapely.Point(lonlat(500, 0)))})])
    pop = population.from_buildings(mixed, crs=TEST_CRS)
    assert "n9" not in pop.index and len(pop) == 3


def test_places_with_a_figure() -> None:
    places = make_points({"a": (0, 0), "b": (500, 0), "c": (900, 0)})
    places["name"] = ["甲村", "乙村", "丙村"]
    places["level"] = "admin_village"
    places["population"] = [1200, np.nan, 800]
    pop = population.from_places(places)
    assert list(pop.index) == ["a", "c"]
    assert pop["population"].tolist() == [1200, 800]
    assert (pop["source"] == "places").all() and pop["name"].tolist() == ["甲村", "丙村"]


def test_points_from_a_file_and_a_frame(tmp_path) -> None:
    pts = make_points({0: (0, 0), 1: (100, 0)}).to_crs(TEST_CRS)
    pts["persons"] = [30, 45]
    path = tmp_path / "blocks.geojson"
    pts.to_file(path, driver="GeoJSON")
    pop = population.from_points(path, "persons")
    assert pop.crs.to_epsg() == 4326
    assert pop["population"].tolist() == [30, 45] and (pop["source"] == "points").all()
    assert population.from_points(pts, "persons")["population"].sum() == 75


def study_like(buildings: gpd.GeoDataFrame, places: gpd.GeoDataFrame) -> SimpleNamespace:
    return SimpleNamespace(
        buildings=buildings, places=places, crs=TEST_CRS, label=lambda lang="zh": "test county"
    )


def test_estimate_picks_buildings_when_there_are_enough() -> None:
    places = make_points({"a": (0, 0)})
    places["population"] = [5000]
    study = study_like(BUILDINGS, places)
    auto = population.estimate(study, min_buildings=3)
    assert auto.attrs["population_source"] == "buildings"
    assert (auto["source"] == "buildings").all()
    assert "0.025 persons/m²" in auto.attrs["population_note"]
    fallback = population.estimate(study, min_buildings=4)  # only three residential footprints
    assert fallback.attrs["population_source"] == "places"
    assert fallback["population"].tolist() == [5000]
    forced = population.estimate(study, method="buildings", min_buildings=100)
    assert forced.attrs["population_source"] == "buildings"
    given = population.estimate(study, method="points", points=places)
    assert given.attrs["population_source"] == "points"


def test_bad_inputs() -> None:
    with pytest.raises(ValidationError, match="not projected"):
        population.from_buildings(BUILDINGS, crs="EPSG:4326")
    with pytest.raises(ValidationError, match="persons_per_m2 must be a positive"):
        population.from_buildings(BUILDINGS, crs=TEST_CRS, persons_per_m2=0)
    with pytest.raises(ValidationError, match="default_levels"):
        population.from_buildings(BUILDINGS, crs=TEST_CRS, default_levels=-1)
    with pytest.raises(ValidationError, match="have no CRS"):
        population.from_buildings(BUILDINGS.set_crs(None, allow_override=True), crs=TEST_CRS)
    with pytest.raises(ValidationError, match="'building' column"):
        population.from_buildings(BUILDINGS.drop(columns="building"), crs=TEST_CRS)
    with pytest.raises(ValidationError, match="must be unique"):
        population.from_buildings(pd.concat([BUILDINGS, BUILDINGS]), crs=TEST_CRS)
    places = make_points({"a": (0, 0)})
    with pytest.raises(ValidationError, match="no 'population' column"):
        population.from_places(places)
    places["population"] = [-5]
    with pytest.raises(ValidationError, match="negative population"):
        population.from_places(places)
    with pytest.raises(
        ValidationError, match="has no column 'persons'; its columns are: population"
    ):
        population.from_points(places, "persons")
    with pytest.raises(ValidationError, match=r"must hold numbers ≥ 0; rows \['a'\]"):
        population.from_points(places, "population")
    with pytest.raises(ValidationError, match="does not exist"):
        population.from_points("/nowhere/blocks.gpkg", "population")
    study = study_like(BUILDINGS.iloc[:0], places.iloc[:0])
    with pytest.raises(ValidationError, match="unknown population method 'census'"):
        population.estimate(study, method="census")
    with pytest.raises(ValidationError, match="needs points="):
        population.estimate(study, method="points")
    with pytest.raises(ValidationError, match="no residential building footprints"):
        population.estimate(study, method="buildings")
    with pytest.raises(ValidationError, match="found no residents"):
        population.estimate(study)  # auto → places, and there are none


def test_residential_land_use_spread_over_a_grid() -> None:
    # a 300 m x 250 m residential area: 0.075 km^2 x 10,000 persons/km^2 = 750 residents
    areas = gpd.GeoDataFrame(
        {"landuse": ["residential"], "name": [""]},
        geometry=[rect(50, 30, 300, 250)],
        index=pd.Index(["w9"], name="id"),
        crs=4326,
    )
    pop = population.from_landuse(areas, crs=TEST_CRS, grid_m=100)
    assert pop["population"].sum() == pytest.approx(750, rel=1e-3)
    assert (pop["source"] == "landuse").all() and pop.crs.to_epsg() == 4326
    # pieces of the 100 m grid (aligned on multiples of 100 m in the metric CRS):
    # x 50-350 spans 4 columns, y 30-280 spans 3 rows
    assert len(pop) == 12
    assert pop.within(areas.geometry.iloc[0].buffer(1e-9)).all()
    # overlapping areas count once
    twice = pd.concat([areas, areas.set_axis(["w10"])])
    assert population.from_landuse(twice, crs=TEST_CRS)["population"].sum() == pytest.approx(
        750, rel=1e-3
    )
    with pytest.raises(ValidationError, match="persons_per_km2 must be > 0"):
        population.from_landuse(areas, crs=TEST_CRS, persons_per_km2=0)


def test_estimate_falls_back_to_land_use_before_places() -> None:
    places = make_points({"a": (0, 0)})
    places["population"] = [5000]
    study = study_like(BUILDINGS, places)
    study.landuse = gpd.GeoDataFrame(
        {"landuse": ["residential"]}, geometry=[rect(0, 0, 200, 200)], crs=4326
    )
    auto = population.estimate(study, min_buildings=4, persons_per_km2=5000)
    assert auto.attrs["population_source"] == "landuse"
    assert auto["population"].sum() == pytest.approx(0.04 * 5000, rel=1e-3)
    assert "residential land-use" in auto.attrs["population_note"]
    study.landuse = study.landuse.iloc[0:0]
    assert population.estimate(study, min_buildings=4).attrs["population_source"] == "places"
    with pytest.raises(ValidationError, match="no landuse=residential"):
        population.estimate(study, method="landuse")
