"""Population rasters, sums per origin and per cell, and the reliability check.

Rasters are written in ``tmp_path`` with rasterio, in EPSG:4326 (as WorldPop),
UTM 50N and Mollweide (ESRI:54009, as GHS-POP); every expected sum is worked out
by hand from the cells the area covers.
"""

from __future__ import annotations

from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import rasterio
import shapely
from affine import Affine

from accessibility import pipeline, population, regions
from accessibility._errors import ValidationError
from accessibility.settings import settings

from .conftest import TEST_CRS, X0, Y0, lonlat, make_points

NODATA = -9999.0


def write_raster(path, data, *, crs, transform, nodata=NODATA) -> None:
    data = np.asarray(data, dtype="float32")
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=data.shape[1],
        height=data.shape[0],
        count=1,
        dtype="float32",
        crs=crs,
        transform=transform,
        nodata=nodata,
    ) as dst:
        dst.write(data, 1)


def polygon_from(crs: str, corners: list[tuple[float, float]]) -> shapely.Polygon:
    """A polygon drawn in ``crs`` coordinates, returned in WGS-84 (as a study boundary is)."""
    to_wgs = pyproj.Transformer.from_crs(crs, 4326, always_xy=True)
    lon, lat = to_wgs.transform(*np.asarray(corners, float).T)
    return shapely.Polygon(np.column_stack([lon, lat]))


# --------------------------------------------------------------------------- rasters

# A 4 × 5 grid of 0.001° cells whose top-left corner is at 114.3°E, 34.01°N. Row 0 is
# the northernmost. Cell (r, c) spans longitudes 114.3 + c/1000 … + (c+1)/1000.
DEG = 0.001
WEST, NORTH = 114.3, 34.01
GRID = np.array(
    [
        [1.0, 2.0, 3.0, 4.0, 5.0],
        [10.0, 20.0, NODATA, 40.0, 50.0],
        [100.0, -7.0, 300.0, 0.0, 500.0],
        [1000.0, 2000.0, 3000.0, 4000.0, 5000.0],
    ]
)


def test_a_degree_raster_summed_over_an_area(tmp_path) -> None:
    path = tmp_path / "worldpop.tif"
    write_raster(path, GRID, crs="EPSG:4326", transform=Affine(DEG, 0, WEST, 0, -DEG, NORTH))
    # the area: columns 1–2 whole and column 3's western half, rows 1–2 (not rows 0 and 3)
    west, east = WEST + 1 * DEG, WEST + 3.5 * DEG
    north, south = NORTH - 1 * DEG, NORTH - 3 * DEG
    area = shapely.box(west, south, east, north)
    pts = population.from_raster(path, area, crs=TEST_CRS)
    # row 1: 20 + (nodata) + 40/2; row 2: (-7 left out) + 300 + (0 left out)
    assert pts["population"].sum() == pytest.approx(20 + 40 / 2 + 300, rel=1e-4)
    assert sorted(pts.index) == ["raster:1:1", "raster:1:3", "raster:2:2"]
    assert (pts["source"] == "raster").all() and not pts["fallback"].any()
    assert pts.loc["raster:1:3", "share"] == pytest.approx(0.5, abs=1e-4)
    assert pts.loc["raster:1:3", "value"] == 40
    # points at the cell centres, in WGS-84
    assert pts.crs.to_epsg() == 4326
    centre = pts.geometry.loc["raster:2:2"]
    assert (centre.x, centre.y) == pytest.approx((WEST + 2.5 * DEG, NORTH - 2.5 * DEG))
    # cell areas in metres, checked against the geodesic area of the cell
    geod = pyproj.Geod(ellps="WGS84")
    cell = shapely.box(WEST + 2 * DEG, NORTH - 3 * DEG, WEST + 3 * DEG, NORTH - 2 * DEG)
    geodesic = abs(geod.geometry_area_perimeter(cell)[0])
    assert pts.loc["raster:2:2", "cell_m2"] == pytest.approx(geodesic, rel=2e-3)
    assert pts.loc["raster:1:3", "cell_m2"] == pytest.approx(geodesic / 2, rel=2e-3)


def test_a_utm_raster_with_a_cell_half_inside(tmp_path) -> None:
    path = tmp_path / "utm.tif"
    # 100 m cells, top-left corner at (X0, Y0 + 300): 3 rows × 4 columns
    data = np.arange(1, 13, dtype=float).reshape(3, 4) * 10  # 10 … 120
    write_raster(path, data, crs=TEST_CRS, transform=Affine(100, 0, X0, 0, -100, Y0 + 300))
    # x from 100 to 350 (columns 1, 2 and half of 3), y from 0 to 200 (rows 1 and 2)
    area = polygon_from(
        TEST_CRS, [(X0 + 100, Y0), (X0 + 350, Y0), (X0 + 350, Y0 + 200), (X0 + 100, Y0 + 200)]
    )
    pts = population.from_raster(path, area, crs=TEST_CRS)
    # row 1: 60 + 70 + 80/2; row 2: 100 + 110 + 120/2
    assert pts["population"].sum() == pytest.approx(60 + 70 + 40 + 100 + 110 + 60, rel=1e-6)
    assert len(pts) == 6
    np.testing.assert_allclose(pts["cell_m2"].sort_values(), [5000, 5000, 1e4, 1e4, 1e4, 1e4])
    centre = pts.geometry.loc["raster:2:1"]
    assert (centre.x, centre.y) == pytest.approx(lonlat(150, 50), abs=1e-9)


def test_a_mollweide_raster_as_ghs_pop(tmp_path) -> None:
    moll = "ESRI:54009"
    x0, y0 = pyproj.Transformer.from_crs(4326, moll, always_xy=True).transform(114.3, 34.0)
    x0, y0 = round(x0, -2), round(y0, -2)
    path = tmp_path / "ghs_pop.tif"
    data = np.array([[5.0, 6.0, 7.0], [8.0, NODATA, 9.0], [1.0, 2.0, 3.0]])
    write_raster(path, data, crs=moll, transform=Affine(100, 0, x0, 0, -100, y0))
    # the top two rows, the first column whole and the third half
    area = polygon_from(moll, [(x0, y0 - 200), (x0 + 250, y0 - 200), (x0 + 250, y0), (x0, y0)])
    pts = population.from_raster(path, area, crs=TEST_CRS)
    assert pts["population"].sum() == pytest.approx(5 + 6 + 7 / 2 + 8 + 9 / 2, rel=1e-3)
    assert pts.loc["raster:0:2", "share"] == pytest.approx(0.5, abs=1e-3)
    assert "raster:1:1" not in pts.index  # nodata


def test_only_the_window_over_the_area_is_read(tmp_path, monkeypatch) -> None:
    path = tmp_path / "large.tif"
    n = 2000
    rows, cols = np.indices((n, n))
    data = (rows * n + cols).astype(float)  # every cell's value is its number
    write_raster(path, data, crs=TEST_CRS, transform=Affine(100, 0, X0, 0, -100, Y0 + n * 100))
    # two cells near the far corner: row 1995, columns 1990 and 1991
    x, y = X0 + 1990 * 100, Y0 + (n - 1996) * 100
    area = polygon_from(TEST_CRS, [(x, y), (x + 200, y), (x + 200, y + 100), (x, y + 100)])
    seen = []
    read = rasterio.io.DatasetReader.read

    def spy(self, *args, **kwargs):
        out = read(self, *args, **kwargs)
        seen.append(out.shape)
        return out

    monkeypatch.setattr(rasterio.io.DatasetReader, "read", spy)
    pts = population.from_raster(path, area, crs=TEST_CRS)
    expected = (1995 * n + 1990) + (1995 * n + 1991)
    assert pts["population"].sum() == pytest.approx(expected, rel=1e-6)
    assert sorted(pts.index) == ["raster:1995:1990", "raster:1995:1991"]
    assert len(seen) == 1 and seen[0][0] * seen[0][1] <= 16


def test_an_area_outside_the_raster_and_bad_rasters(tmp_path) -> None:
    path = tmp_path / "worldpop.tif"
    write_raster(path, GRID, crs="EPSG:4326", transform=Affine(DEG, 0, WEST, 0, -DEG, NORTH))
    far = shapely.box(100.0, 20.0, 100.01, 20.01)
    assert population.from_raster(path, far, crs="EPSG:32647").empty
    area = shapely.box(WEST, NORTH - 2 * DEG, WEST + 2 * DEG, NORTH)
    with pytest.raises(ValidationError, match="does not exist"):
        population.from_raster(tmp_path / "none.tif", area, crs=TEST_CRS)
    with pytest.raises(ValidationError, match="not projected"):
        population.from_raster(path, area, crs="EPSG:4326")
    with pytest.raises(ValidationError, match="band must be 1"):
        population.from_raster(path, area, crs=TEST_CRS, band=2)
    no_crs = tmp_path / "no_crs.tif"
    write_raster(no_crs, GRID, crs=None, transform=Affine(DEG, 0, WEST, 0, -DEG, NORTH))
    with pytest.raises(ValidationError, match="has no CRS"):
        population.from_raster(no_crs, area, crs=TEST_CRS)
    text = tmp_path / "text.tif"
    text.write_text("not a raster")
    with pytest.raises(ValidationError, match="cannot be read"):
        population.from_raster(text, area, crs=TEST_CRS)
    with pytest.raises(ValidationError, match="not longitude/latitude"):
        population.from_raster(path, shapely.box(X0, Y0, X0 + 100, Y0 + 100), crs=TEST_CRS)


# --------------------------------------------------------------------------- sums


def random_points(rng, n, spread_m, *, lat=34.0):
    """Points scattered over ``spread_m`` metres around (114.3°E, lat), in WGS-84."""
    to_wgs = pyproj.Transformer.from_crs(TEST_CRS, 4326, always_xy=True)
    cx, cy = pyproj.Transformer.from_crs(4326, TEST_CRS, always_xy=True).transform(114.3, lat)
    x = cx + rng.uniform(-spread_m, spread_m, n)
    y = cy + rng.uniform(-spread_m, spread_m, n)
    lon, la = to_wgs.transform(x, y)
    return gpd.GeoDataFrame(geometry=shapely.points(lon, la), crs=4326), x, y


def test_to_origins_matches_a_brute_force_nearest_search() -> None:
    rng = np.random.default_rng(3)
    pts, px, py = random_points(rng, 400, 3000)
    pts["population"] = rng.uniform(0, 50, len(pts))
    origins, ox, oy = random_points(rng, 25, 3000)
    origins.index = pd.Index([f"o{i}" for i in range(len(origins))], name="id")
    sums = population.to_origins(pts, origins, crs=TEST_CRS)
    d = np.hypot(px[:, None] - ox[None, :], py[:, None] - oy[None, :])
    nearest = d.argmin(axis=1)
    expected = np.bincount(nearest, weights=pts["population"], minlength=len(origins))
    assert list(sums.index) == list(origins.index)
    np.testing.assert_allclose(sums.to_numpy(), expected, rtol=1e-9)
    assert sums.attrs["unassigned"] == 0
    # with a distance limit, the points beyond it are reported, not assigned
    limited = population.to_origins(pts, origins, crs=TEST_CRS, max_distance_m=300)
    near = d.min(axis=1) <= 300
    expected = np.bincount(nearest[near], weights=pts["population"][near], minlength=len(origins))
    np.testing.assert_allclose(limited.to_numpy(), expected, rtol=1e-9)
    assert limited.attrs["unassigned"] == pytest.approx(pts["population"][~near].sum())
    assert limited.attrs["points_unassigned"] == int((~near).sum())


def test_to_origins_measures_metres_not_degrees() -> None:
    # at 60°N a degree of longitude is half a degree of latitude: 0.009° east is
    # about 500 m, 0.006° north about 667 m; in degrees the eastern origin is farther
    crs = "EPSG:32633"
    home = gpd.GeoDataFrame({"population": [100.0]}, geometry=[shapely.Point(15.0, 60.0)], crs=4326)
    origins = gpd.GeoDataFrame(
        geometry=[shapely.Point(15.009, 60.0), shapely.Point(15.0, 60.006)],
        index=pd.Index(["east", "north"]),
        crs=4326,
    )
    sums = population.to_origins(home, origins, crs=crs)
    assert sums.to_dict() == {"east": 100.0, "north": 0.0}
    with pytest.raises(ValidationError, match="not projected"):
        population.to_origins(home, origins, crs="EPSG:4326")
    with pytest.raises(ValidationError, match="max_distance_m"):
        population.to_origins(home, origins, crs=crs, max_distance_m=0)


def test_to_cells_sums_points_by_containing_polygon() -> None:
    rng = np.random.default_rng(5)
    pts, px, py = random_points(rng, 300, 450)
    pts["population"] = rng.integers(1, 20, len(pts)).astype(float)
    # a 3 × 3 grid of 200 m cells over the middle; points outside every cell are reported
    cx, cy = pyproj.Transformer.from_crs(4326, TEST_CRS, always_xy=True).transform(114.3, 34.0)
    boxes, ids = [], []
    for i in range(3):
        for j in range(3):
            boxes.append(
                shapely.box(
                    cx - 300 + 200 * i, cy - 300 + 200 * j, cx - 100 + 200 * i, cy - 100 + 200 * j
                )
            )
            ids.append(f"c{i}{j}")
    cells = gpd.GeoDataFrame(geometry=boxes, index=pd.Index(ids), crs=TEST_CRS).to_crs(4326)
    sums = population.to_cells(pts, cells)
    expected = []
    for b in boxes:
        x0, y0, x1, y1 = b.bounds
        inside = (px >= x0) & (px < x1) & (py >= y0) & (py < y1)
        expected.append(pts["population"][inside].sum())
    np.testing.assert_allclose(sums.to_numpy(), expected, rtol=1e-9)
    covered = sum(expected)
    assert sums.attrs["unassigned"] == pytest.approx(pts["population"].sum() - covered)
    # a point on the edge two cells share goes to one of them only (the first)
    edge = gpd.GeoDataFrame(
        {"population": [7.0]},
        geometry=[shapely.Point(cx - 100, cy - 200)],
        crs=TEST_CRS,
    )
    one = population.to_cells(edge, cells.to_crs(TEST_CRS))
    assert one.sum() == 7.0 and one["c00"] == 7.0


# --------------------------------------------------------------------------- reliability


def spread_points(values, *, step_m=500.0, **columns):
    # off the 1 km squares' edges (multiples of 1,000 m in UTM 50N) by a quarter step
    pts = make_points({f"p{i}": ((i + 0.5) * step_m, 500.0) for i in range(len(values))})
    pts["population"] = np.asarray(values, float)
    for k, v in columns.items():
        pts[k] = v
    return pts


def test_reliability_passes_on_even_counted_points() -> None:
    pts = spread_points([100.0] * 10, source="raster", fallback=False)
    table = population.reliability(pts, area_km2=10.0)
    assert table["ok"].all()
    assert table.attrs["confidence"] == "high" and table.attrs["failed"] == []
    assert table.loc["largest_point_share", "value"] == pytest.approx(0.1)
    assert table.loc["fallback_share", "value"] == 0
    # 10 × 100 persons in 10 km²
    assert table.loc["area_density_low", "value"] == pytest.approx(100.0)
    # 1 km squares: two points each (500 m apart, none on a square's edge)
    assert table.loc["max_cell_density_km2", "value"] == pytest.approx(200.0)


def test_each_reliability_limit_trips() -> None:
    limits = population.reliability_rules()["limits"]
    # one point holds 91 % of the people
    lump = population.reliability(spread_points([1000.0, 50.0, 50.0]))
    assert not lump.loc["largest_point_share", "ok"]
    assert lump.loc["largest_point_share", "value"] == pytest.approx(1000 / 1100)
    assert lump.attrs["confidence"] == "medium" and lump.attrs["failed"] == ["largest_point_share"]
    # most people from residential land use: a fallback, low confidence on its own
    land = spread_points([100.0] * 10, source="landuse")
    land.loc[["p0"], "source"] = "raster"
    t = population.reliability(land)
    assert t.loc["fallback_share", "value"] == pytest.approx(0.9)
    assert not t.loc["fallback_share", "ok"] and t.attrs["confidence"] == "low"
    # a small fallback share: beyond the limit but not low by itself
    few = spread_points([100.0] * 10, fallback=[True] + [False] * 9)
    t = population.reliability(few)
    assert t.loc["fallback_share", "value"] == pytest.approx(0.1)
    assert t.loc["fallback_share", "ok"] == (0.1 <= limits["fallback_share"])
    # settlements without a figure (recorded by from_places)
    places = spread_points([100.0] * 10)
    places.attrs.update(places_total=30, places_without_figure=20)
    t = population.reliability(places)
    assert t.loc["places_without_figure", "value"] == pytest.approx(2 / 3)
    assert not t.loc["places_without_figure", "ok"]
    # a cell of 10,000 m² holding 1,000 persons is 100,000 per km²
    dense = spread_points([100.0] * 9 + [1000.0 / 10], cell_m2=[1e4] * 9 + [1e3])
    t = population.reliability(dense)
    assert t.loc["max_cell_density_km2", "value"] == pytest.approx(100_000)
    assert not t.loc["max_cell_density_km2", "ok"]
    # points without cells: the densest 1 km square (all ten points within 10 m)
    crowd = spread_points([10_000.0] * 10, step_m=1.0)
    t = population.reliability(crowd)
    assert t.loc["max_cell_density_km2", "value"] == pytest.approx(100_000)
    # an almost empty area and an impossibly dense one; two failures make it low
    sparse = population.reliability(spread_points([5.0] * 10), area_km2=1000.0)
    assert not sparse.loc["area_density_low", "ok"] and sparse.loc["area_density_high", "ok"]
    assert sparse.attrs["confidence"] == "medium"
    packed = population.reliability(crowd, area_km2=1.0)
    assert not packed.loc["area_density_high", "ok"]
    assert packed.attrs["confidence"] == "low"
    assert set(packed.attrs["failed"]) == {"max_cell_density_km2", "area_density_high"}
    with pytest.raises(ValidationError, match="no residents"):
        population.reliability(spread_points([0.0, 0.0]))
    with pytest.raises(ValidationError, match="area_km2"):
        population.reliability(spread_points([1.0]), area_km2=0)


def test_fallback_columns_of_each_source() -> None:
    buildings = gpd.GeoDataFrame(
        {"building": ["house", "house"], "levels": [2, np.nan]},
        geometry=[
            shapely.box(*lonlat(0, 0), *lonlat(10, 10)),
            shapely.box(*lonlat(50, 0), *lonlat(60, 10)),
        ],
        index=pd.Index(["b1", "b2"]),
        crs=4326,
    )
    pts = population.from_buildings(buildings, crs=TEST_CRS)
    assert pts["fallback"].tolist() == [False, True]  # storeys unknown: a fallback
    t = population.reliability(pts)
    # b1: 100 m² × 2, b2: 100 m² × 1 → a third of the people from default storeys
    assert t.loc["fallback_share", "value"] == pytest.approx(1 / 3, rel=1e-3)
    places = make_points({"a": (0, 0), "b": (900, 0), "c": (0, 900)})
    places["population"] = [100, np.nan, 0]
    from_places = population.from_places(places)
    assert from_places.attrs["places_without_figure"] == 2
    assert from_places.attrs["places_total"] == 3


# --------------------------------------------------------------------------- regions and studies


def test_estimate_uses_the_raster_given_or_named(tmp_path) -> None:
    path = tmp_path / "utm.tif"
    data = np.full((3, 4), 25.0)
    write_raster(path, data, crs=TEST_CRS, transform=Affine(100, 0, X0, 0, -100, Y0 + 300))
    boundary = gpd.GeoSeries(
        [polygon_from(TEST_CRS, [(X0, Y0), (X0 + 400, Y0), (X0 + 400, Y0 + 300), (X0, Y0 + 300)])],
        crs=4326,
    )
    study = SimpleNamespace(
        buildings=gpd.GeoDataFrame({"building": []}, geometry=[], crs=4326),
        places=make_points({}),
        crs=TEST_CRS,
        boundary=boundary,
        label=lambda lang="zh": "test",
    )
    pts = population.estimate(study, raster=path)
    assert pts.attrs["population_source"] == "raster"
    assert pts["population"].sum() == pytest.approx(12 * 25.0, rel=1e-6)
    assert pts.attrs["population_confidence"] == "high"
    assert "population raster utm.tif" in pts.attrs["population_note"]
    with pytest.raises(ValidationError, match="needs a population raster"):
        population.estimate(study, method="raster")
    # named by a region file, relative to the region's raw folder
    region = regions.Region(
        name="rastered", label_zh="栅格", label_en="Rastered", population={"raster": "pop.tif"}
    )
    settings.root = tmp_path
    try:
        assert region.population_raster() == tmp_path / "data" / "raw" / "rastered" / "pop.tif"
        region.raw_dir.mkdir(parents=True)
        path.rename(region.raw_dir / "pop.tif")
        study.region, study.unit = region, None
        named = population.estimate(study)
        assert named.attrs["population_source"] == "raster"
        assert named["population"].sum() == pytest.approx(300.0, rel=1e-6)
    finally:
        settings.root = None


def test_a_raster_elsewhere_is_an_input_of_batch_runs(tmp_path) -> None:
    from accessibility import batch

    raster = tmp_path / "shared" / "worldpop.tif"
    raster.parent.mkdir()
    raster.write_bytes(b"cells")
    region = regions.Region(
        name="r",
        label_zh="r",
        label_en="r",
        boundary={"file": "boundary.geojson"},
        population={"raster": str(raster)},
    )
    settings.root = tmp_path
    try:
        assert raster in batch._data_files(region, None)  # a changed raster reruns the runs
    finally:
        settings.root = None


@pytest.fixture(scope="module")
def sample_study(tmp_path_factory):
    root = tmp_path_factory.mktemp("root")
    settings.root = root
    try:
        return pipeline.prepare("sample", mode="walk", progress=False), root
    finally:
        settings.root = None


def test_the_sample_county_raster_through_estimate(sample_study) -> None:
    study, root = sample_study
    raw = root / "data" / "raw" / "sample"
    # resolved when the study was prepared, so later changes of the project root do not matter
    assert study.meta["population_raster"] == str(raw / "population.tif")
    pts = population.estimate(study)
    assert pts.attrs["population_source"] == "raster"
    assert pts.attrs["population_confidence"] == "high"
    # independent sum: every raster cell whose centre lies in the boundary, whole
    with rasterio.open(raw / "population.tif") as src:
        data = src.read(1, masked=True)
        t = src.transform
    rows, cols = np.indices(data.shape)
    lon, lat = t.c + (cols + 0.5) * t.a, t.f + (rows + 0.5) * t.e
    inside = shapely.contains_xy(study.boundary.union_all(), lon, lat)
    whole = float(data.filled(0)[inside].sum())
    assert pts["population"].sum() == pytest.approx(whole, rel=5e-3)
    # summed to the villages by nearest village, nobody is lost
    per_village = population.to_origins(pts, study.origins, crs=study.crs)
    assert per_village.sum() == pytest.approx(pts["population"].sum())
    assert list(per_village.index) == list(study.origins.index)
    # villages hold roughly their own tagged figure (their cells are nearest to them)
    tagged = study.origins["population"].astype(float)
    ratio = per_village.sum() / tagged.sum()
    assert 1.0 < ratio < 2.5  # plus the county seat and the township seats
