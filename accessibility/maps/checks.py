"""Validation of what the maps are given: language, CRS, boundary, groups, places, facilities.

Each check returns nothing (or the input in its checked form) and raises
:class:`~accessibility._errors.ValidationError` with a message saying how to fix it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from accessibility._errors import ValidationError
from accessibility.classify import parse_group
from accessibility.engine import group_key
from accessibility.labels import LANGS


def _check_lang(lang: str) -> None:
    if lang not in LANGS:
        msg = f"lang must be one of {', '.join(map(repr, LANGS))}; got {lang!r}"
        raise ValidationError(msg)


def _check_crs(crs: Any, what: str) -> None:
    if crs is None:
        msg = (
            f"{what} has no CRS; if its coordinates are longitude/latitude call "
            f"{what}.set_crs(4326), otherwise set its real CRS and call {what}.to_crs(4326)"
        )
        raise ValidationError(msg)
    if crs.to_epsg() != 4326:
        msg = (
            f"{what} must be in EPSG:4326 (WGS 84 longitude/latitude), not {crs.to_string()}; "
            f"call {what}.to_crs(4326) first"
        )
        raise ValidationError(msg)


def _check_boundary(boundary: Any) -> gpd.GeoSeries | None:
    """A boundary as a GeoSeries in EPSG:4326 (a GeoDataFrame's geometry is taken), or None."""
    if boundary is None:
        return None
    if isinstance(boundary, gpd.GeoDataFrame):
        boundary = boundary.geometry
    if not isinstance(boundary, gpd.GeoSeries):
        msg = f"boundary must be a GeoSeries in EPSG:4326; got {type(boundary).__name__}"
        raise ValidationError(msg)
    _check_crs(boundary.crs, "boundary")
    return boundary


def _check_lonlat(lon: np.ndarray, lat: np.ndarray, what: str) -> None:
    if np.any(np.abs(lon) > 180) or np.any(np.abs(lat) > 90):
        msg = (
            f"{what} is labelled EPSG:4326 but has coordinates outside ±180°/±90° "
            "(they look projected, e.g. metres); set its real CRS with "
            f"{what}.set_crs(..., allow_override=True) and then call {what}.to_crs(4326)"
        )
        raise ValidationError(msg)


def _check_groups(groups: Sequence[str]) -> list[str]:
    if isinstance(groups, str):
        msg = (
            f"groups must be a list of group strings, e.g. [{groups!r}]; got the string {groups!r}"
        )
        raise ValidationError(msg)
    out = [str(g).strip() for g in groups]
    if not out:
        msg = "groups is empty; name at least one group, e.g. ['school:primary'] or ['health']"
        raise ValidationError(msg)
    seen: set[str] = set()
    for g in out:
        parse_group(g)
        if g in seen:
            msg = f"group {g!r} is listed twice in groups; list each group once"
            raise ValidationError(msg)
        seen.add(g)
    return out


def _check_places(places: gpd.GeoDataFrame, groups: list[str]) -> None:
    if not isinstance(places, gpd.GeoDataFrame):
        msg = f"places must be a GeoDataFrame of origins in EPSG:4326; got {type(places).__name__}"
        raise ValidationError(msg)
    if places.empty:
        msg = (
            "places is empty: there are no origins to draw; check the region's places "
            "table and the unit filter before mapping"
        )
        raise ValidationError(msg)
    _check_crs(places.crs, "places")
    for g in groups:
        col = f"{group_key(g)}_time_min"
        if col not in places.columns:
            msg = (
                f"places has no column {col!r} for group {g!r}; the engine writes one "
                "'<group>_time_min' column per group (travel minutes, NaN when unreachable): "
                "compute access for this group or remove it from `groups`"
            )
            raise ValidationError(msg)
        column = places[col]
        numeric = (
            pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
        ) or pd.api.types.infer_dtype(column, skipna=True) in {
            "floating",
            "integer",
            "empty",
            "mixed-integer-float",
        }
        if not numeric:
            msg = (
                f"places[{col!r}] (group {g!r}) must hold numbers (minutes, NaN when "
                f"unreachable); got dtype {places[col].dtype}: convert it with pd.to_numeric"
            )
            raise ValidationError(msg)
        values = places[col].to_numpy(dtype=float)
        if np.any(values < 0):
            bad = places.index[values < 0][:5].tolist()
            msg = (
                f"places[{col!r}] (group {g!r}) has negative travel times at ids {bad}; "
                "times must be minutes ≥ 0 (NaN or inf when unreachable)"
            )
            raise ValidationError(msg)


def _check_facilities(facilities: gpd.GeoDataFrame, groups: list[str]) -> None:
    if not isinstance(facilities, gpd.GeoDataFrame):
        msg = (
            "facilities must be a GeoDataFrame in EPSG:4326 with columns name, kind, tiers; "
            f"got {type(facilities).__name__}"
        )
        raise ValidationError(msg)
    if facilities.empty:
        return
    _check_crs(facilities.crs, "facilities")
    if "kind" not in facilities.columns:
        msg = "facilities has no 'kind' column (school, health, reading or bus); add it"
        raise ValidationError(msg)
    if "tiers" not in facilities.columns and any(parse_group(g)[1] for g in groups):
        msg = (
            "facilities has no 'tiers' column but groups name tiers (e.g. 'school:primary'); "
            "add 'tiers' (';'-joined tier names, e.g. 'primary;middle') or use bare kinds"
        )
        raise ValidationError(msg)
