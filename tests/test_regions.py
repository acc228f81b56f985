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
