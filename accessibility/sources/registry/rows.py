"""Checking the rows of a registry file, and the report of every problem found.

In: the text rows and header of a file, the declared datum and an optional boundary.
Out: rows with WGS-84 coordinates (swapped or out-of-range coordinates, boundary and
duplicates handled as the package docstring's table says), their ids, the report
lines, and the :class:`RegistryResult` built from a table of the good rows.
"""

from __future__ import annotations

import logging
import math
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ... import datum as _datum
from ... import export
from ..._errors import ValidationError
from ..._validate import check_degrees
from .columns import _DUPLICATE_M, _THOUSANDS, REPORT_COLUMNS, _clean
from .files import _find_header, _read_rows, _Sheet

log = logging.getLogger(__package__)


@dataclass
class RegistryResult:
    """What :func:`read_facilities` and :func:`read_villages` return.

    Attributes
    ----------
    table
        The good rows: index ``id``, WGS-84 points (EPSG:4326).
    report
        One line per problem found: ``file``, ``row`` (as a spreadsheet shows it,
        header = its own row), ``column`` (the file's header), ``value`` (the cell as
        read), ``reason``, ``action`` (``"dropped"`` or ``"kept"``). A row can appear
        more than once (e.g. flagged as swapped, then dropped outside the boundary).
    encoding
        The text encoding used (``utf-8``, ``utf-8-sig``, ``gbk``, ``gb18030`` or the
        one given), or ``"xlsx"`` for Excel files.
    report_path
        Where the report was written, when a ``report_dir`` was given.
    """

    table: gpd.GeoDataFrame
    report: pd.DataFrame
    encoding: str
    report_path: Path | None = None


# --------------------------------------------------------------------------- rows


@dataclass
class _Row:
    row: int
    cells: dict[str, str]
    lon: float = math.nan
    lat: float = math.nan
    values: dict[str, Any] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    dropped: bool = False


class _Report:
    def __init__(self, file: str, header: list[str], where: dict[str, int]) -> None:
        self.file = file
        self.header = header
        self.where = where
        self.lines: list[tuple[str, int, str, str, str, str]] = []

    def column(self, fld: str) -> str:
        i = self.where.get(fld)
        return self.header[i] if i is not None and i < len(self.header) else ""

    def add(
        self, r: _Row, fld: str | None, reason: str, *, drop: bool, value: str | None = None
    ) -> None:
        col = self.column(fld) if fld else ""
        val = value if value is not None else (r.cells.get(fld, "") if fld else "")
        self.lines.append((self.file, r.row, col, val, reason, "dropped" if drop else "kept"))
        if drop:
            r.dropped = True
        else:
            r.flags.append(reason)

    def frame(self) -> pd.DataFrame:
        out = pd.DataFrame(self.lines, columns=list(REPORT_COLUMNS))
        out["row"] = out["row"].astype("int64")
        return out.sort_values("row", kind="stable").reset_index(drop=True)


def _number(text: str) -> float | None:
    """A decimal number from a cell; ``None`` when it is not one."""
    t = unicodedata.normalize("NFKC", _clean(text)).replace("°", "").replace(" ", "")
    if _THOUSANDS.fullmatch(t):
        t = t.replace(",", "")
    try:
        value = float(t)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _coordinates(r: _Row, rep: _Report) -> None:
    """Parse lon/lat into ``r``; drop or flag as the module docstring says."""
    parsed: dict[str, float] = {}
    for fld in ("lon", "lat"):
        text = r.cells.get(fld, "")
        if not text:
            rep.add(r, fld, f"{fld} missing", drop=True)
            return
        value = _number(text)
        if value is None:
            rep.add(r, fld, f"{fld} is not a decimal number of degrees (like 113.85)", drop=True)
            return
        if value == 0:
            rep.add(r, fld, f"{fld} is 0, which stands for a missing coordinate", drop=True)
            return
        parsed[fld] = value
    lon, lat = parsed["lon"], parsed["lat"]
    if bool(_datum.in_china(lon, lat)):
        r.lon, r.lat = lon, lat
        return
    if bool(_datum.in_china(lat, lon)) or (abs(lat) > 90 and abs(lon) <= 90):
        if abs(lon) > 180 or abs(lat) > 180:
            rep.add(r, "lat", "coordinates out of range even when swapped", drop=True)
            return
        rep.add(
            r,
            "lat",
            "longitude and latitude swapped in the file; swapped back",
            drop=False,
            value=f"{r.cells['lon']}, {r.cells['lat']}",
        )
        r.lon, r.lat = lat, lon
        return
    if abs(lon) > 180 or abs(lat) > 90:
        rep.add(
            r,
            "lat",
            "coordinates out of range (longitude ±180, latitude ±90)",
            drop=True,
            value=f"{r.cells['lon']}, {r.cells['lat']}",
        )
        return
    rep.add(
        r,
        "lon",
        "outside mainland China's bounding box; check the coordinates",
        drop=False,
        value=f"{r.cells['lon']}, {r.cells['lat']}",
    )
    r.lon, r.lat = lon, lat


def _non_negative(r: _Row, rep: _Report, fld: str) -> float:
    text = r.cells.get(fld, "")
    if not text:
        return math.nan
    value = _number(text)
    if value is None or value < 0:
        rep.add(r, fld, f"{fld} is not a non-negative number; left empty", drop=False)
        return math.nan
    return value


def _check_boundary(boundary: shapely.Geometry | None) -> None:
    if boundary is None:
        return
    if not isinstance(boundary, shapely.Geometry) or boundary.is_empty:
        msg = "boundary must be a non-empty shapely (Multi)Polygon in WGS-84 degrees"
        raise ValidationError(msg)
    check_degrees(boundary, "boundary")


def _ground_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Distance in metres, equirectangular (exact enough below a kilometre)."""
    k = math.cos(math.radians((lat1 + lat2) / 2))
    return math.hypot((lon2 - lon1) * k * 111_320.0, (lat2 - lat1) * 110_574.0)


def _read(
    path: Path | str,
    *,
    columns: Mapping[str, str] | None,
    defaults: Mapping[str, tuple[str, ...]],
    datum: str,
    encoding: str | None,
    boundary: shapely.Geometry | None,
    sheet: str | int | None,
    fill: Callable[[_Row, _Report], None],
    on_header: Callable[[_Report], None] | None = None,
) -> tuple[list[_Row], _Report, _Sheet]:
    """Steps shared by both readers.

    ``on_header`` checks the columns found once; ``fill`` checks one row's
    list-specific cells and sets ``values`` (or drops the row).
    """
    datum = _datum.check_datum(datum)
    _check_boundary(boundary)
    sheet_rows = _read_rows(path, encoding, sheet)
    pos, where = _find_header(sheet_rows, columns, defaults)
    header = sheet_rows.rows[pos][1]
    rep = _Report(sheet_rows.file, header, where)
    if on_header is not None:
        on_header(rep)
    rows: list[_Row] = []
    for number, cells in sheet_rows.rows[pos + 1 :]:
        if not any(cells):
            continue
        r = _Row(number, {f: (cells[i] if i < len(cells) else "") for f, i in where.items()})
        rows.append(r)
        fill(r, rep)
        if r.dropped:
            continue
        _coordinates(r, rep)
        if r.dropped:
            continue
        if not r.cells.get("name"):
            rep.add(r, "name", "name missing", drop=False)
        extra = [c for c in cells[len(header) :] if c]
        if extra:
            rep.add(
                r,
                None,
                f"{len(extra)} cell(s) beyond the header's {len(header)} columns, ignored; "
                "a comma inside a value must be quoted",
                drop=False,
                value=", ".join(extra),
            )
    good = [r for r in rows if not r.dropped]
    if good:
        lon, lat = _datum.to_wgs84(
            np.array([r.lon for r in good]), np.array([r.lat for r in good]), datum=datum
        )
        for r, x, y in zip(good, np.asarray(lon), np.asarray(lat)):
            r.lon, r.lat = float(x), float(y)
    if boundary is not None:
        inside = shapely.covers(
            boundary, shapely.points(np.array([[r.lon, r.lat] for r in good]).reshape(-1, 2))
        )
        for r, ok in zip(good, np.atleast_1d(inside)):
            if not ok:
                rep.add(
                    r,
                    "lon",
                    "outside the boundary",
                    drop=True,
                    value=f"{r.cells['lon']}, {r.cells['lat']}",
                )
    seen: dict[str, list[_Row]] = {}
    for r in rows:
        if r.dropped:
            continue
        key = r.cells.get("name", "")
        twin = next(
            (s for s in seen.get(key, []) if _ground_m(s.lon, s.lat, r.lon, r.lat) <= _DUPLICATE_M),
            None,
        )
        if twin is not None:
            rep.add(r, "name", f"duplicate of row {twin.row} (same name, within 1 m)", drop=True)
        else:
            seen.setdefault(key, []).append(r)
    return rows, rep, sheet_rows


def _assign_ids(rows: list[_Row], rep: _Report, stem: str) -> list[str]:
    ids: list[str] = []
    first: dict[str, int] = {}
    has_column = "id" in rep.where
    for r in rows:
        fallback = f"reg:{stem}:{r.row}"
        given = r.cells.get("id", "")
        if not given:
            if has_column:
                rep.add(r, "id", f"id missing; this row gets id {fallback}", drop=False)
            ids.append(fallback)
        elif given in first:
            rep.add(
                r,
                "id",
                f"id already used by row {first[given]}; this row gets id {fallback}",
                drop=False,
            )
            ids.append(fallback)
        else:
            first[given] = r.row
            ids.append(given)
    return ids


def _finish(
    rows: list[_Row],
    rep: _Report,
    sheet: _Sheet,
    path: Path,
    report_dir: Path | str | None,
    frame: pd.DataFrame,
) -> RegistryResult:
    good = [r for r in rows if not r.dropped]
    table = gpd.GeoDataFrame(
        frame,
        geometry=gpd.points_from_xy([r.lon for r in good], [r.lat for r in good]),
        crs="EPSG:4326",
    )
    report = rep.frame()
    report_path = None
    if report_dir is not None:
        report_path = export.write_csv(Path(report_dir) / f"{path.stem}_report.csv", report)
    dropped = report.loc[report["action"] == "dropped", "row"].nunique()
    flagged = report.loc[report["action"] == "kept", "row"].nunique()
    log.info(
        "%s (%s): %d rows, %d kept (%d flagged), %d dropped%s",
        sheet.file,
        sheet.encoding,
        len(rows),
        len(table),
        flagged,
        dropped,
        f"; report in {report_path}" if report_path else "",
    )
    return RegistryResult(
        table=table, report=report, encoding=sheet.encoding, report_path=report_path
    )
