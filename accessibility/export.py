"""Writing results to files analysts open elsewhere: GeoPackage (QGIS) and CSV (Excel).

Design
------
In:  result tables (GeoDataFrames in WGS-84 for layers; plain DataFrames for summaries).
Out: ``<name>.gpkg`` with one layer per table (attribute-only tables are written as
     layers without geometry), and ``<name>_<table>.csv`` encoded UTF-8 with a byte
     order mark so Excel shows Chinese correctly. Every write goes to a temporary
     file first and is renamed into place, so an interrupted run never leaves a
     half-written file that looks complete.
Tests: ``tests/test_export.py`` — round trips.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from ._errors import ValidationError

log = logging.getLogger(__name__)


def _tmp_beside(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.partial-", suffix=path.suffix)
    os.close(fd)
    os.unlink(tmp)  # drivers want to create the file themselves
    return Path(tmp)


def _for_file(frame: pd.DataFrame) -> pd.DataFrame:
    """Copy with the index as a column, infinities as missing and objects as text."""
    out = frame.reset_index()
    for col in out.columns:
        if col == "geometry":
            continue
        s = out[col]
        if pd.api.types.is_float_dtype(s):
            out[col] = s.replace([np.inf, -np.inf], np.nan)
        elif s.dtype == object or isinstance(s.dtype, pd.StringDtype):
            out[col] = s.map(
                lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)
            )
    return out


def write_geopackage(path: Path | str, layers: Mapping[str, pd.DataFrame]) -> Path:
    """Write tables as layers of one GeoPackage, atomically.

    Parameters
    ----------
    path
        Target ``.gpkg`` file (replaced if present).
    layers
        Layer name → table. GeoDataFrames keep their geometry and CRS; other tables
        become attribute-only layers. The index becomes a column (``id``…).
        Unreachable times (``inf``) are stored as NULL.
    """
    path = Path(path)
    if not layers:
        msg = "nothing to write: give at least one layer"
        raise ValidationError(msg)
    tmp = _tmp_beside(path)
    try:
        for name, frame in layers.items():
            table = _for_file(frame)
            if isinstance(frame, gpd.GeoDataFrame):
                gdf = gpd.GeoDataFrame(table, geometry=frame.geometry.name, crs=frame.crs)
            else:
                gdf = gpd.GeoDataFrame(table)
            gdf.to_file(tmp, layer=name, driver="GPKG", engine="pyogrio")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def write_csv(path: Path | str, frame: pd.DataFrame) -> Path:
    """Write a table as UTF-8 CSV with a BOM (opens in Excel with Chinese intact), atomically."""
    path = Path(path)
    tmp = _tmp_beside(path)
    try:
        _for_file(frame.drop(columns="geometry", errors="ignore")).to_csv(
            tmp, index=False, encoding="utf-8-sig"
        )
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def write_geojson(path: Path | str, geometries: gpd.GeoSeries | gpd.GeoDataFrame) -> Path:
    """Write geometries as GeoJSON (EPSG:4326), atomically."""
    path = Path(path)
    frame = (
        geometries
        if isinstance(geometries, gpd.GeoDataFrame)
        else gpd.GeoDataFrame(geometry=geometries)
    )
    tmp = _tmp_beside(path)
    try:
        frame.to_crs(4326).to_file(tmp, driver="GeoJSON", engine="pyogrio")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path
