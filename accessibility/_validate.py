"""Checks of input shared by several modules (errors that say how to fix the input)."""

from __future__ import annotations

import pyproj
import shapely

from ._errors import ValidationError


def check_degrees(geom: shapely.Geometry, what: str) -> None:
    """Raise :class:`ValidationError` unless ``geom`` lies in longitude/latitude degrees (WGS-84).

    Parameters
    ----------
    geom
        A non-empty geometry.
    what
        How the message names it (``"boundary"``, ``"clip polygon"``…).
    """
    minx, miny, maxx, maxy = geom.bounds
    if not (-180.0 <= minx <= maxx <= 180.0 and -90.0 <= miny <= maxy <= 90.0):
        msg = (
            f"{what} bounds ({minx:.6g}, {miny:.6g}, {maxx:.6g}, {maxy:.6g}) are not "
            "longitude/latitude degrees (not WGS-84 degrees; reproject it with .to_crs(4326) "
            "first, and check that x is longitude and y latitude)"
        )
        raise ValidationError(msg)


def check_metric_crs(crs: str) -> None:
    """Raise :class:`ValidationError` unless ``crs`` is a projected CRS in metres.

    Parameters
    ----------
    crs
        Anything :func:`pyproj.CRS.from_user_input` reads (``"EPSG:32649"``, WKT…).
    """
    try:
        parsed = pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError as exc:
        msg = f"crs {crs!r} is not a coordinate reference system; pass e.g. 'EPSG:32649'"
        raise ValidationError(msg) from exc
    units = {axis.unit_name for axis in parsed.axis_info}
    if not parsed.is_projected or units != {"metre"}:
        msg = f"crs {crs!r} must be projected in metres (e.g. a UTM zone such as 'EPSG:32649')"
        raise ValidationError(msg)
