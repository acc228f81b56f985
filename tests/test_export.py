"""GeoPackage and CSV round trips."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from accessibility import export
from accessibility._errors import ValidationError


def test_geopackage_roundtrip(tmp_path) -> None:
    villages = gpd.GeoDataFrame(
        {"name": ["王庄村", "李村"], "bus_time_min": [12.5, np.inf], "bus_facility": ["n1", None]},
        geometry=[shapely.Point(114.0, 34.0), shapely.Point(114.1, 34.1)],
        index=pd.Index(["n10", "n11"], name="id"),
        crs=4326,
    )
    summary = pd.DataFrame({"within_15_share": [0.5]}, index=pd.Index(["bus"], name="group"))
    path = export.write_geopackage(
        tmp_path / "out" / "r.gpkg", {"villages": villages, "summary": summary}
    )
    assert sorted(pyogrio.list_layers(path)[:, 0]) == ["summary", "villages"]
    back = gpd.read_file(path, layer="villages")
    assert back.crs.to_epsg() == 4326
    assert back["id"].tolist() == ["n10", "n11"] and back["name"].tolist() == ["王庄村", "李村"]
    assert back["bus_time_min"].iloc[0] == 12.5 and pd.isna(back["bus_time_min"].iloc[1])
    assert pd.isna(back["bus_facility"].iloc[1])
    s = gpd.read_file(path, layer="summary")
    assert s["group"].tolist() == ["bus"]
    assert [p.name for p in tmp_path.joinpath("out").iterdir()] == ["r.gpkg"]


def test_csv_has_bom_and_chinese(tmp_path) -> None:
    path = export.write_csv(tmp_path / "s.csv", pd.DataFrame({"名称": ["王庄村"]}))
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and "王庄村".encode() in raw


def test_nothing_to_write(tmp_path) -> None:
    with pytest.raises(ValidationError, match="at least one layer"):
        export.write_geopackage(tmp_path / "x.gpkg", {})


def test_geojson_roundtrip(tmp_path) -> None:
    poly = gpd.GeoSeries([shapely.box(114.0, 34.0, 114.1, 34.1)], crs=4326)
    path = export.write_geojson(tmp_path / "b.geojson", poly)
    back = gpd.read_file(path)
    assert back.crs.to_epsg() == 4326 and back.geometry.iloc[0].equals(poly.iloc[0])
