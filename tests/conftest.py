"""Shared fixtures: small road networks laid out in metres and turned into WGS-84."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

from accessibility.network import RoadData
from accessibility.settings import settings

#: Test layouts are drawn in UTM 50N metres, near 114.3°E 34.0°N.
TEST_CRS = "EPSG:32650"
X0, Y0 = 250_000.0, 3_765_000.0

_to_wgs = pyproj.Transformer.from_crs(TEST_CRS, "EPSG:4326", always_xy=True)


def lonlat(x: float, y: float) -> tuple[float, float]:
    """Layout metres (relative to X0, Y0) → lon/lat."""
    lon, lat = _to_wgs.transform(X0 + x, Y0 + y)
    return float(lon), float(lat)


def make_roads(
    coords: dict[int, tuple[float, float]],
    ways: Iterable[tuple[Sequence[int], str, int]],
) -> RoadData:
    """Road data from node positions in metres and ``(node ids, highway, oneway)`` ways."""
    nodes = pd.DataFrame(
        [(nid, *lonlat(x, y)) for nid, (x, y) in coords.items()], columns=["id", "lon", "lat"]
    ).set_index("id")
    rows = []
    for way_id, (ids, highway, oneway) in enumerate(ways, start=1):
        for a, b in itertools.pairwise(ids):
            rows.append((way_id, a, b, highway, oneway, np.nan, ""))
    segments = pd.DataFrame(
        rows, columns=["way", "u", "v", "highway", "oneway", "maxspeed", "exempt"]
    )
    segments["oneway"] = segments["oneway"].astype(np.int8)
    return RoadData(nodes=nodes, segments=segments)


def make_points(points: dict[object, tuple[float, float]]) -> gpd.GeoDataFrame:
    """Points from layout metres, in WGS-84, index = the dict's keys."""
    ids = list(points)
    geoms = [shapely.Point(*lonlat(*points[i])) for i in ids]
    return gpd.GeoDataFrame(geometry=geoms, index=pd.Index(ids, name="id"), crs=4326)


def check_excel_and_png(processed: Path, maps_dir: Path, notebook: str, header: str) -> None:
    """A notebook wrote ``<notebook>.xlsx`` (Chinese or English headers) and ``<notebook>.png``."""
    import openpyxl

    wb = openpyxl.load_workbook(processed / f"{notebook}.xlsx")
    assert len(wb.sheetnames) >= 3
    first = [c.value for c in wb.worksheets[0][1]]
    assert "结论" in first or "Verdict" in first  # the verdicts on the report's claims come first
    assert header in [c.value for c in wb.worksheets[1][1]]
    assert (maps_dir / f"{notebook}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path_factory: pytest.TempPathFactory):
    """Every test starts from default settings with progress bars off."""
    saved = dict(vars(settings))
    settings.progress = False
    yield
    for key, value in saved.items():
        setattr(settings, key, value)


@pytest.fixture
def county():
    """Road links: county seat C at the origin; A east on a secondary road; B north on a tertiary road only;
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
