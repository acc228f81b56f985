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
