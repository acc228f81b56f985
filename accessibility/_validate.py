"""Checks of input shared by several modules (errors that say how to fix the input)."""

from __future__ import annotations

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
