"""GCJ-02 / BD-09 ↔ WGS-84: published reference pairs, round trips, sizes, shapes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from accessibility import datum
from accessibility._errors import ValidationError


def ground_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Distance in metres between two nearby points (equirectangular)."""
    k = math.cos(math.radians((lat1 + lat2) / 2))
    return math.hypot((lon2 - lon1) * k * 111_320.0, (lat2 - lat1) * 110_574.0)


# --------------------------------------------------------------------------- reference pairs
#
# (1) The test script of the open-source JavaScript converter wandergis/coordtransform
#     (test/app.js) prints, for the input (116.404, 39.915) near Tiananmen, Beijing:
#       wgs84togcj02 -> (116.41024449916938, 39.91640428150164)
#       gcj02tobd09  -> (116.41036949371029, 39.92133699351021)
#       bd09togcj02  -> (116.39762729119315, 39.90865673957631)   (closed-form inverse)
#       gcj02towgs84 -> (116.39775550083061, 39.91359571849836)   (one-step inverse)
#     The same numbers are the expected values of hutool's CoordinateUtilTest and of
#     the coordtransform-rs tests.
# (2) Documentation of the R package geoChina (conv(), Jun Cai), Beijing railway station:
#     WGS-84 (39.90105, 116.42079), GCJ-02 (39.90245, 116.42703), BD-09 (39.90851, 116.43351),
#     lat/lon to 5 decimals, https://rdocumentation.org/packages/geoChina/versions/1.3.0/topics/conv
# (3) Alibaba Cloud address-purification API reference, "TransferCoord" example
#     (https://help.aliyun.com/zh/address-purification/addrpapi/developer-reference/
#     coordinate-system-conversion): GCJ02 "120.026268,30.279164" →
#     WGS84 "120.021519,30.281543", BD09 "120.032768,30.285238" (6 decimals).


def test_forward_matches_published_tiananmen_pair() -> None:
    # reference (1): the forward transform is deterministic, so it agrees to the last bits
    lon, lat = datum.wgs84_to_gcj02(116.404, 39.915)
    assert lon == pytest.approx(116.41024449916938, abs=1e-12)
    assert lat == pytest.approx(39.91640428150164, abs=1e-12)
    lon, lat = datum.gcj02_to_bd09(116.404, 39.915)
    assert lon == pytest.approx(116.41036949371029, abs=1e-12)
    assert lat == pytest.approx(39.92133699351021, abs=1e-12)


def test_inverses_refine_the_published_approximations() -> None:
    # reference (1): the published inverses are approximations; ours are exact inverses
    # of the forward transforms, a few 1e-7 degrees (a few centimetres) away from them
    lon, lat = datum.gcj02_to_wgs84(116.404, 39.915)
    assert abs(lon - 116.39775550083061) < 1e-6 and abs(lat - 39.91359571849836) < 1e-6
    assert datum.wgs84_to_gcj02(lon, lat) == pytest.approx((116.404, 39.915), abs=1e-9)
    lon, lat = datum.bd09_to_gcj02(116.404, 39.915)
    assert abs(lon - 116.39762729119315) < 1e-6 and abs(lat - 39.90865673957631) < 1e-6
    assert datum.gcj02_to_bd09(lon, lat) == pytest.approx((116.404, 39.915), abs=1e-12)


def test_beijing_railway_station() -> None:
    # reference (2), published to 5 decimals (≈ 1 m): agree within 1.5e-5 degrees
    wgs = (116.42079, 39.90105)
    assert datum.wgs84_to_gcj02(*wgs) == pytest.approx((116.42703, 39.90245), abs=1.5e-5)
    assert datum.wgs84_to_bd09(*wgs) == pytest.approx((116.43351, 39.90851), abs=1.5e-5)
    assert datum.gcj02_to_wgs84(116.42703, 39.90245) == pytest.approx(wgs, abs=1.5e-5)
    assert datum.bd09_to_wgs84(116.43351, 39.90851) == pytest.approx(wgs, abs=1.5e-5)


def test_hangzhou_pair_from_aliyun() -> None:
    # reference (3): BD-09 agrees to its 6 decimals
    assert datum.gcj02_to_bd09(120.026268, 30.279164) == pytest.approx(
        (120.032768, 30.285238), abs=1e-6
    )
    # its WGS-84 is the one-step approximation (≈ 1.5 m off); ours is exact, so it lies
    # within 2e-5 degrees of the published value and maps back onto the GCJ-02 input
    lon, lat = datum.gcj02_to_wgs84(120.026268, 30.279164)
    assert (lon, lat) == pytest.approx((120.021519, 30.281543), abs=2e-5)
    assert ground_m(lon, lat, 120.021519, 30.281543) < 2.0
    assert datum.wgs84_to_gcj02(lon, lat) == pytest.approx((120.026268, 30.279164), abs=1e-9)


# --------------------------------------------------------------------------- properties


@pytest.fixture
def china_points() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    return rng.uniform(74, 135, 5000), rng.uniform(18, 53, 5000)


def test_round_trips(china_points) -> None:
    lon, lat = china_points
    back = datum.gcj02_to_wgs84(*datum.wgs84_to_gcj02(lon, lat))
    assert np.abs(back[0] - lon).max() < 1e-7 and np.abs(back[1] - lat).max() < 1e-7
    back = datum.bd09_to_wgs84(*datum.wgs84_to_bd09(lon, lat))
    assert np.abs(back[0] - lon).max() < 1e-7 and np.abs(back[1] - lat).max() < 1e-7
    back = datum.bd09_to_gcj02(*datum.gcj02_to_bd09(lon, lat))
    assert np.abs(back[0] - lon).max() < 1e-7 and np.abs(back[1] - lat).max() < 1e-7
    # the other way round
    back = datum.wgs84_to_gcj02(*datum.gcj02_to_wgs84(lon, lat))
    assert np.abs(back[0] - lon).max() < 1e-7 and np.abs(back[1] - lat).max() < 1e-7


@pytest.mark.parametrize(
    ("place", "lon", "lat"),
    [("许昌市区", 113.852, 34.036), ("郑州", 113.625, 34.747), ("洛阳", 112.454, 34.619)],
)
def test_offsets_in_henan_are_a_few_hundred_metres(place: str, lon: float, lat: float) -> None:
    glon, glat = datum.wgs84_to_gcj02(lon, lat)
    shift = ground_m(lon, lat, glon, glat)
    assert 300 < shift < 800, place  # GCJ-02 moves Henan ~500-600 m, mostly eastwards
    assert glon > lon
    blon, blat = datum.wgs84_to_bd09(lon, lat)
    assert 800 < ground_m(lon, lat, blon, blat) < 1600  # Baidu adds another ~0.6-1 km


def test_scalars_give_floats_and_arrays_keep_shape() -> None:
    lon, lat = datum.wgs84_to_gcj02(113.85, 34.03)
    assert type(lon) is float and type(lat) is float
    grid_lon, grid_lat = np.meshgrid(np.linspace(113, 114, 4), np.linspace(33, 34, 3))
    for fn in (
        datum.wgs84_to_gcj02,
        datum.gcj02_to_wgs84,
        datum.gcj02_to_bd09,
        datum.bd09_to_gcj02,
        datum.wgs84_to_bd09,
        datum.bd09_to_wgs84,
    ):
        out_lon, out_lat = fn(grid_lon, grid_lat)
        assert out_lon.shape == (3, 4) and out_lat.shape == (3, 4), fn.__name__
        # element-wise equal to the scalar call
        assert out_lon[1, 2] == pytest.approx(fn(grid_lon[1, 2], grid_lat[1, 2])[0], abs=1e-12)
    lon_list, lat_list = datum.to_wgs84([113.85, 113.9], [34.03, 34.1], datum="gcj02")
    assert lon_list.shape == (2,) and lat_list.shape == (2,)


def test_missing_values_stay_missing() -> None:
    lon, lat = datum.gcj02_to_wgs84(np.array([np.nan, 113.9]), np.array([np.nan, 34.1]))
    assert np.isnan(lon[0]) and np.isnan(lat[0]) and np.isfinite(lon[1])


def test_outside_china_is_unchanged() -> None:
    points = [(2.3522, 48.8566), (-74.0, 40.7), (139.69, 35.69), (151.2, -33.9)]  # Paris…
    lon = np.array([p[0] for p in points])
    lat = np.array([p[1] for p in points])
    assert not datum.in_china(lon, lat).any()
    for fn in (datum.wgs84_to_gcj02, datum.gcj02_to_wgs84):
        out = fn(lon, lat)
        assert np.array_equal(out[0], lon) and np.array_equal(out[1], lat)
    assert datum.wgs84_to_gcj02(2.3522, 48.8566) == (2.3522, 48.8566)
    # mixed arrays: only the Chinese point moves
    out = datum.wgs84_to_gcj02(np.array([2.35, 113.85]), np.array([48.86, 34.03]))
    assert out[0][0] == 2.35 and out[0][1] != 113.85


def test_to_wgs84_dispatches_and_accepts_spellings() -> None:
    g = datum.wgs84_to_gcj02(113.85, 34.03)
    b = datum.wgs84_to_bd09(113.85, 34.03)
    assert datum.to_wgs84(113.85, 34.03, datum="wgs84") == (113.85, 34.03)
    assert datum.to_wgs84(*g, datum="gcj02") == pytest.approx((113.85, 34.03), abs=1e-9)
    assert datum.to_wgs84(*g, datum="GCJ-02") == pytest.approx((113.85, 34.03), abs=1e-9)
    assert datum.to_wgs84(*b, datum="BD-09") == pytest.approx((113.85, 34.03), abs=1e-9)


@pytest.mark.parametrize("bad", ["wgs-1984", "cgcs2000", "", "bd09mc"])
def test_unknown_datum(bad: str) -> None:
    with pytest.raises(
        ValidationError, match="unknown coordinate datum .* use one of wgs84, gcj02, bd09"
    ):
        datum.to_wgs84(113.85, 34.03, datum=bad)


def test_shape_mismatch() -> None:
    with pytest.raises(ValidationError, match="same shape"):
        datum.wgs84_to_gcj02(np.zeros(3), np.zeros(2))
