"""Chinese map datums: GCJ-02 (Amap, Tencent) and BD-09 (Baidu) to and from WGS-84.

Design
------
Chinese official and commercial coordinates are rarely WGS-84. Maps approved for
publication in mainland China use **GCJ-02** (国测局坐标, "Mars coordinates"), a
deliberately distorted WGS-84: a smooth, non-linear offset of typically 100–700 m
that depends on position. Baidu adds its own layer on top, **BD-09**: a small
rotation and scaling about the origin plus a constant shift (another ~1 km).

In:  longitude and latitude in degrees (scalars or NumPy arrays of any shape).
Out: longitude and latitude in degrees, same shape; scalars in, floats out.

The GCJ-02 offset follows the published algorithm (the formulas have circulated
openly for years and are widely reproduced):

- with ``x = lon − 105`` and ``y = lat − 35``, two polynomial-plus-sines fields
  ``Δlon(x, y)`` and ``Δlat(x, y)`` give an offset in metres on a reference ellipsoid
  (Krasovsky 1940: semi-major axis ``a = 6 378 245 m``, squared eccentricity
  ``e² = 0.006 693 421 622 965 943 23``);
- the metres are turned into degrees with the meridian and prime-vertical radii of
  curvature at the point's latitude, and added to the WGS-84 position;
- points outside a rough bounding box of mainland China (lon 72.004–137.8347°E,
  lat 0.8293–55.8271°N) are left unchanged.

There is no closed-form inverse. :func:`gcj02_to_wgs84` solves ``forward(p) = q`` by
fixed-point iteration ``p ← p − (forward(p) − q)``; the offset changes so slowly with
position (its gradient is below 10⁻²) that each step gains two to three digits: five
steps bring every point below the stopping threshold of 10⁻¹⁰° (≈ 0.01 mm), well
inside the 10⁻⁷° the package promises.

BD-09 from GCJ-02 (``x_π = π · 3000 / 180``)::

    z = √(x² + y²) + 2·10⁻⁵ · sin(y · x_π)
    θ = atan2(y, x) + 3·10⁻⁶ · cos(x · x_π)
    bd_lon = z · cos θ + 0.0065,   bd_lat = z · sin θ + 0.006

Its usual inverse subtracts the same terms evaluated at the BD-09 point, which is off
by up to ~10⁻⁶°; :func:`bd09_to_gcj02` starts from that and refines it by the same
fixed-point iteration, so round trips close to machine precision. The Baidu layer has
no bounding box (the published algorithm applies it everywhere).

Tests: ``tests/test_datum.py`` — published reference pairs, round trips, offset sizes
in Henan, array shapes, passthrough outside China.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._errors import ValidationError

log = logging.getLogger(__name__)

__all__ = [
    "CHINA_BBOX",
    "DATUMS",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "check_datum",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "in_china",
    "to_wgs84",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

#: Datums :func:`to_wgs84` understands.
DATUMS = ("wgs84", "gcj02", "bd09")

#: Reference ellipsoid of GCJ-02 (Krasovsky 1940): semi-major axis in metres, e².
_A = 6378245.0
_EE = 0.00669342162296594323
#: Rough bounding box of mainland China, degrees (west, south, east, north).
CHINA_BBOX = (72.004, 0.8293, 137.8347, 55.8271)
_X_PI = math.pi * 3000.0 / 180.0
_TOL_DEG = 1e-10
_MAX_ITER = 50

_Coords = tuple[Any, Any]


def _as_arrays(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    if x.shape != y.shape:
        try:
            x, y = np.broadcast_arrays(x, y)
        except ValueError:
            msg = f"lon and lat must have the same shape; got {x.shape} and {y.shape}"
            raise ValidationError(msg) from None
    return x, y


def _out(lon: ArrayLike, lat: ArrayLike, x: NDArray[np.float64], y: NDArray[np.float64]) -> _Coords:
    """Return floats for scalar input, arrays otherwise."""
    if np.ndim(lon) == 0 and np.ndim(lat) == 0:
        return float(x), float(y)
    return x, y


def in_china(lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
    """Whether points lie in the rough bounding box where GCJ-02 applies.

    Parameters
    ----------
    lon, lat
        Degrees (any datum: the box is far coarser than the offsets).

    Returns
    -------
    numpy.ndarray of bool
        Same shape as the inputs (0-d for scalars).
    """
    x, y = _as_arrays(lon, lat)
    west, south, east, north = CHINA_BBOX
    return (x >= west) & (x <= east) & (y >= south) & (y <= north)


def _gcj_offset(
    lon: NDArray[np.float64], lat: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """GCJ-02 minus WGS-84 at WGS-84 points, in degrees (no bounding box applied)."""
    x = lon - 105.0
    y = lat - 35.0
    pi = np.pi
    sqrt_abs_x = np.sqrt(np.abs(x))
    # the short-period term in x is shared by both components
    ripple_x = (20.0 * np.sin(6.0 * pi * x) + 20.0 * np.sin(2.0 * pi * x)) * 2.0 / 3.0

    d_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x
    d_lat += ripple_x
    d_lat += (20.0 * np.sin(pi * y) + 40.0 * np.sin(pi * y / 3.0)) * 2.0 / 3.0
    d_lat += (160.0 * np.sin(pi * y / 12.0) + 320.0 * np.sin(pi * y / 30.0)) * 2.0 / 3.0

    d_lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x
    d_lon += ripple_x
    d_lon += (20.0 * np.sin(pi * x) + 40.0 * np.sin(pi * x / 3.0)) * 2.0 / 3.0
    d_lon += (150.0 * np.sin(pi * x / 12.0) + 300.0 * np.sin(pi * x / 30.0)) * 2.0 / 3.0

    phi = np.radians(lat)
    w2 = 1.0 - _EE * np.sin(phi) ** 2
    w = np.sqrt(w2)
    meridian_radius = _A * (1.0 - _EE) / (w2 * w)  # M, metres
    normal_radius = _A / w  # N, metres
    return (
        np.degrees(d_lon / (normal_radius * np.cos(phi))),
        np.degrees(d_lat / meridian_radius),
    )


def _gcj_forward(
    lon: NDArray[np.float64], lat: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    d_lon, d_lat = _gcj_offset(lon, lat)
    return lon + d_lon, lat + d_lat


_Forward = Callable[
    [NDArray[np.float64], NDArray[np.float64]], tuple[NDArray[np.float64], NDArray[np.float64]]
]


def _invert(
    forward: _Forward,
    lon: NDArray[np.float64],
    lat: NDArray[np.float64],
    start: tuple[NDArray[np.float64], NDArray[np.float64]],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Solve ``forward(p) = (lon, lat)`` by fixed-point iteration from ``start``."""
    px, py = np.array(start[0], dtype=np.float64), np.array(start[1], dtype=np.float64)
    for _ in range(_MAX_ITER):
        fx, fy = forward(px, py)
        ex, ey = fx - lon, fy - lat
        px = px - ex
        py = py - ey
        step = np.nanmax(np.abs(np.concatenate([ex.ravel(), ey.ravel()])), initial=0.0)
        if step < _TOL_DEG:
            break
    else:  # pragma: no cover - the map is a contraction; kept as a guard
        log.warning("datum inversion stopped after %d steps (last step %.2e°)", _MAX_ITER, step)
    return px, py


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> _Coords:
    """WGS-84 → GCJ-02 (the datum of Amap/高德 and Tencent/腾讯 maps).

    Parameters
    ----------
    lon, lat
        WGS-84 longitude and latitude, degrees; scalars or arrays of one shape.

    Returns
    -------
    tuple
        GCJ-02 ``(lon, lat)`` in degrees: floats for scalar input, else arrays.
        Points outside mainland China's bounding box (see :data:`CHINA_BBOX`) and
        missing values come back unchanged.
    """
    x, y = _as_arrays(lon, lat)
    gx, gy = _gcj_forward(x, y)
    inside = in_china(x, y)
    return _out(lon, lat, np.where(inside, gx, x), np.where(inside, gy, y))


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> _Coords:
    """GCJ-02 → WGS-84, exact to better than 10⁻⁷° (iterative inverse).

    Parameters
    ----------
    lon, lat
        GCJ-02 longitude and latitude, degrees; scalars or arrays of one shape.

    Returns
    -------
    tuple
        WGS-84 ``(lon, lat)`` in degrees. Points outside mainland China's bounding
        box come back unchanged, as the forward transform leaves them.
    """
    x, y = _as_arrays(lon, lat)
    inside = in_china(x, y)
    wx, wy = x.copy(), y.copy()
    if inside.any():
        xi, yi = x[inside], y[inside]
        wx[inside], wy[inside] = _invert(_gcj_forward, xi, yi, (xi, yi))
    return _out(lon, lat, wx, wy)


def _bd_forward(
    lon: NDArray[np.float64], lat: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    z = np.hypot(lon, lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> _Coords:
    """GCJ-02 → BD-09 (the datum of Baidu/百度 maps, "bd09ll").

    Parameters
    ----------
    lon, lat
        GCJ-02 longitude and latitude, degrees.

    Returns
    -------
    tuple
        BD-09 ``(lon, lat)`` in degrees (applied everywhere, no bounding box).
    """
    x, y = _as_arrays(lon, lat)
    bx, by = _bd_forward(x, y)
    return _out(lon, lat, bx, by)


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> _Coords:
    """BD-09 → GCJ-02, exact inverse of :func:`gcj02_to_bd09` (to ~10⁻¹⁰°).

    Parameters
    ----------
    lon, lat
        BD-09 longitude and latitude, degrees.

    Returns
    -------
    tuple
        GCJ-02 ``(lon, lat)`` in degrees.
    """
    x, y = _as_arrays(lon, lat)
    # the usual closed-form approximation, as the starting point
    u, v = x - 0.0065, y - 0.006
    z = np.hypot(u, v) - 0.00002 * np.sin(v * _X_PI)
    theta = np.arctan2(v, u) - 0.000003 * np.cos(u * _X_PI)
    gx, gy = _invert(_bd_forward, x, y, (z * np.cos(theta), z * np.sin(theta)))
    return _out(lon, lat, gx, gy)


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> _Coords:
    """WGS-84 → BD-09 (through GCJ-02); degrees in, degrees out."""
    x, y = _as_arrays(lon, lat)
    gx, gy = wgs84_to_gcj02(x, y)
    bx, by = gcj02_to_bd09(gx, gy)
    return _out(lon, lat, np.asarray(bx), np.asarray(by))


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> _Coords:
    """BD-09 → WGS-84 (through GCJ-02); degrees in, degrees out."""
    x, y = _as_arrays(lon, lat)
    gx, gy = bd09_to_gcj02(x, y)
    wx, wy = gcj02_to_wgs84(gx, gy)
    return _out(lon, lat, np.asarray(wx), np.asarray(wy))


_TO_WGS84: dict[str, Callable[[ArrayLike, ArrayLike], _Coords]] = {
    "gcj02": gcj02_to_wgs84,
    "bd09": bd09_to_wgs84,
}


def check_datum(datum: str) -> str:
    """Return ``datum`` normalised (lower case, no ``-``/``_``), or raise ValidationError.

    ``"GCJ-02"``, ``"gcj02"`` and ``"BD-09"`` are accepted spellings.
    """
    key = datum.strip().lower().replace("-", "").replace("_", "") if isinstance(datum, str) else ""
    if key not in DATUMS:
        msg = (
            f"unknown coordinate datum {datum!r}; use one of {', '.join(DATUMS)} "
            "(gcj02 for Amap/高德 or Tencent/腾讯 coordinates, bd09 for Baidu/百度, "
            "wgs84 for GPS and OpenStreetMap)"
        )
        raise ValidationError(msg)
    return key


def to_wgs84(lon: ArrayLike, lat: ArrayLike, *, datum: str) -> _Coords:
    """Convert coordinates in a named datum to WGS-84.

    Parameters
    ----------
    lon, lat
        Longitude and latitude in ``datum``, degrees; scalars or arrays.
    datum
        ``"wgs84"`` (returned unchanged), ``"gcj02"`` or ``"bd09"``; case and
        hyphens are ignored (``"GCJ-02"`` works).

    Returns
    -------
    tuple
        WGS-84 ``(lon, lat)`` in degrees: floats for scalar input, else arrays.

    Raises
    ------
    ValidationError
        If ``datum`` is not one of :data:`DATUMS`.
    """
    key = check_datum(datum)
    if key == "wgs84":
        x, y = _as_arrays(lon, lat)
        return _out(lon, lat, x.copy(), y.copy())
    return _TO_WGS84[key](lon, lat)
