"""Region configs and the per-region projection."""

from __future__ import annotations

import pytest
import shapely

from accessibility import regions
from accessibility._errors import UnknownRegionError, ValidationError
from accessibility.settings import settings


def test_builtin_sample_region() -> None:
    r = regions.load("sample")
    assert r.synthetic and "合成" in r.label_zh and "synthetic" in r.label_en
    assert r.source["kind"] == "sample"
    assert "sample" in regions.available()


def test_project_region_file_wins_and_unknown_region(tmp_path) -> None:
    settings.root = tmp_path
    (tmp_path / "regions").mkdir()
    (tmp_path / "regions" / "demo.yml").write_text(
        "label_zh: 演示\nlabel_en: Demo\nsource: {kind: osm_file, path: demo.osm}\n",
        encoding="utf-8",
    )
    assert regions.load("demo").label_en == "Demo"
    assert regions.load("demo").raw_dir == tmp_path / "data" / "raw" / "demo"
    with pytest.raises(UnknownRegionError, match="unknown region 'atlantis'.*demo.*sample"):
        regions.load("atlantis")
    (tmp_path / "regions" / "bad.yml").write_text("label_zh: x\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="lacks the key 'label_en'"):
        regions.load("bad")


@pytest.mark.parametrize(
    ("lon", "lat", "epsg"),
    [
        (113.5, 34.0, "EPSG:32649"),
        (114.2, 34.0, "EPSG:32650"),
        (116.4, 39.9, "EPSG:32650"),
        (-70.6, -33.4, "EPSG:32719"),
    ],
)
def test_metric_crs_follows_location(lon, lat, epsg) -> None:
    assert regions.metric_crs(shapely.Point(lon, lat).buffer(0.1)) == epsg


def test_metric_crs_rejects_projected_input() -> None:
    with pytest.raises(ValidationError, match="WGS-84"):
        regions.metric_crs(shapely.Point(250000, 3765000).buffer(100))


def test_xuchang_units_match_the_admin_codes() -> None:
    r = regions.load("xuchang")
    assert not r.synthetic and r.per_unit
    assert {u.code: u.name for u in r.units} == {
        "411002": "魏都区",
        "411003": "建安区",
        "411024": "鄢陵县",
        "411025": "襄城县",
        "411081": "禹州市",
        "411082": "长葛市",
    }
    assert all(u.boundary["osm"]["admin_level"] == "6" for u in r.units)
    assert r.unit("鄢陵县").code == "411024"
    with pytest.raises(ValidationError, match="has no unit '999999'.*411024 鄢陵县"):
        r.unit("999999")
    central = regions.load("xuchang_central")
    assert central.boundary["expand_m"] > 0 and not central.per_unit


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ({}, "exactly one of"),
        ({"file": "a.geojson", "bbox": [0, 0, 1, 1]}, "exactly one of"),
        ({"shape": "a.geojson"}, "exactly one of"),
        ({"osm": {"admin_level": "6"}}, "malformed"),
        ({"circle": {"lon": 113.8, "lat": 34.0}}, "malformed"),
        ({"bbox": [113.8, 34.0]}, "malformed"),
        ({"file": "a.geojson", "expand_m": -5}, "expand_m"),
    ],
)
def test_bad_boundary_specs(spec, match) -> None:
    with pytest.raises(ValidationError, match=match):
        regions.check_boundary_spec(spec, where="test.yml")


def test_unit_without_code_is_rejected(tmp_path) -> None:
    settings.root = tmp_path
    (tmp_path / "regions").mkdir()
    (tmp_path / "regions" / "u.yml").write_text(
        "label_zh: x\nlabel_en: x\nsource: {kind: overpass}\nunits:\n  - {name: 某县}\n",
        encoding="utf-8",
    )
    with pytest.raises(ValidationError, match="every unit needs a code and a name"):
        regions.load("u")


def test_region_is_named_after_its_file(tmp_path) -> None:
    settings.root = tmp_path
    (tmp_path / "regions").mkdir()
    text = "label_zh: x\nlabel_en: x\nsource: {kind: sample}\nboundary: {file: boundary.geojson}\n"
    (tmp_path / "regions" / "mycopy.yml").write_text("name: sample\n" + text, encoding="utf-8")
    with pytest.raises(ValidationError, match="a region is named after its file"):
        regions.load("mycopy")
    (tmp_path / "regions" / "mycopy.yml").write_text(text, encoding="utf-8")
    assert regions.load("mycopy").name == "mycopy"


def test_units_with_sources_of_their_own() -> None:
    r = regions.load("samples")
    assert r.synthetic and r.per_unit
    a, b = r.units
    assert a.source == {"kind": "sample", "seed": 11} and b.source == {"kind": "sample", "seed": 12}
    assert r.source_of(a) == a.source and r.source_of(None) == r.source
    assert r.raw_dir_of(a) == r.raw_dir / "999001" and r.raw_dir_of(None) == r.raw_dir
    assert not a.boundary  # a generated unit uses the boundary generated with it


def test_a_single_unit_with_its_own_source_is_per_unit(tmp_path) -> None:
    settings.root = tmp_path
    (tmp_path / "regions").mkdir()
    (tmp_path / "regions" / "one.yml").write_text(
        "label_zh: 一县\nlabel_en: One\nsynthetic: true\n"  # no region source: every unit has one
        'units:\n  - {code: "1", name: 甲, source: {kind: osm_file, path: a.osm.pbf}}\n',
        encoding="utf-8",
    )
    r = regions.load("one")
    assert r.per_unit and r.source == {}
    assert r.source_of(r.units[0])["path"] == "a.osm.pbf"
    assert r.raw_dir_of(r.units[0]) == tmp_path / "data" / "raw" / "one" / "1"


@pytest.mark.parametrize(
    ("source", "match"),
    [
        (
            "{kind: sampel, seed: 11}",
            r"unit 999002: unknown data source 'sampel'.*sample, osm_file, overpass",
        ),
        ("{seed: 11}", r"unit 999002: unknown data source None"),
        ("sample", r"unit 999002: unknown data source 'sample'"),
        ("{kind: sample}", r"unit 999002: a sample source needs an integer seed.*got seed None"),
        ("{kind: sample, seed: '12'}", r"unit 999002: a sample source needs an integer seed.*'12'"),
        ("{kind: sample, seed: 1.5}", r"unit 999002: a sample source needs an integer seed"),
        ("{kind: sample, seed: true}", r"unit 999002: a sample source needs an integer seed"),
        ("{kind: sample, seed: -1}", r"unit 999002: a sample source needs an integer seed"),
        (
            "{kind: sample, seed: 12, villages: 40}",
            r"unit 999002: a sample source takes seed.*\['villages'\]",
        ),
        ("{kind: osm_file}", r"unit 999002: an osm_file source needs the path"),
    ],
)
def test_bad_unit_sources_name_the_file_and_unit(tmp_path, source, match) -> None:
    settings.root = tmp_path
    (tmp_path / "regions").mkdir()
    path = tmp_path / "regions" / "bad.yml"
    path.write_text(
        "label_zh: 坏\nlabel_en: Bad\nsource: {kind: sample, seed: 2023}\nunits:\n"
        '  - {code: "999001", name: 甲, source: {kind: sample, seed: 11}}\n'
        f'  - {{code: "999002", name: 乙, source: {source}}}\n',
        encoding="utf-8",
    )
    with pytest.raises(ValidationError, match=match) as info:
        regions.load("bad")
    assert str(path) in str(info.value)


def test_region_sources_are_checked(tmp_path) -> None:
    settings.root = tmp_path
    (tmp_path / "regions").mkdir()
    (tmp_path / "regions" / "r.yml").write_text(
        "label_zh: x\nlabel_en: x\nsource: {kind: shapefile}\n", encoding="utf-8"
    )
    with pytest.raises(ValidationError, match=r"r.yml: unknown data source 'shapefile'"):
        regions.load("r")
    (tmp_path / "regions" / "r.yml").write_text(
        "label_zh: x\nlabel_en: x\nsource: {kind: sample, seed: abc}\n", encoding="utf-8"
    )
    with pytest.raises(ValidationError, match="needs an integer seed"):
        regions.load("r")
    # a unit without a source of its own needs the region's
    (tmp_path / "regions" / "r.yml").write_text(
        "label_zh: x\nlabel_en: x\nunits:\n"
        '  - {code: "1", name: 甲, source: {kind: sample, seed: 1}}\n  - {code: "2", name: 乙}\n',
        encoding="utf-8",
    )
    with pytest.raises(ValidationError, match="lacks the key 'source'"):
        regions.load("r")


def test_the_sample_names_its_population_raster() -> None:
    r = regions.load("sample")
    assert r.population == {"raster": "population.tif", "band": 1}
    assert r.population_raster() == r.raw_dir / "population.tif"
    assert regions.load("samples").population_raster() is None


def test_population_rasters_in_region_files(tmp_path) -> None:
    settings.root = tmp_path
    (tmp_path / "regions").mkdir()
    path = tmp_path / "regions" / "r.yml"
    head = "label_zh: x\nlabel_en: x\nsource: {kind: osm_file, path: r.osm.pbf}\n"
    path.write_text(head + "population: {raster: worldpop_chn_2020.tif}\n", encoding="utf-8")
    r = regions.load("r")
    assert r.population_raster() == tmp_path / "data" / "raw" / "r" / "worldpop_chn_2020.tif"
    absolute = tmp_path / "elsewhere" / "ghs_pop.tif"
    path.write_text(head + f"population: {{raster: {absolute}, band: 2}}\n", encoding="utf-8")
    r = regions.load("r")
    assert (r.population_raster(), r.population["band"]) == (absolute, 2)
    # a unit with data of its own reads a relative raster from its own raw folder
    unit = regions.Unit(code="7", name="甲", source={"kind": "sample", "seed": 7})
    r2 = regions.Region(name="g", label_zh="g", label_en="g", population={"raster": "p.tif"})
    assert r2.population_raster(unit) == tmp_path / "data" / "raw" / "g" / "7" / "p.tif"
    for spec, match in (
        ("worldpop.tif", "population must be a mapping"),
        ("{file: worldpop.tif}", r"population takes raster, band; remove \['file'\]"),
        ("{band: 1}", "population needs the raster file name"),
        ("{raster: people.csv}", "must be a GeoTIFF"),
        ("{raster: p.tif, band: 0}", "band must be an integer ≥ 1"),
    ):
        path.write_text(head + f"population: {spec}\n", encoding="utf-8")
        with pytest.raises(ValidationError, match=match) as info:
            regions.load("r")
        assert str(path) in str(info.value)
