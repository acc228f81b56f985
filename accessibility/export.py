"""Writing results to files analysts open elsewhere: GeoPackage (QGIS), CSV and Excel.

Design
------
In:  result tables (GeoDataFrames in WGS-84 for layers; plain DataFrames for summaries).
Out: ``<name>.gpkg`` with one layer per table (attribute-only tables are written as
     layers without geometry), ``<name>_<table>.csv`` encoded UTF-8 with a byte
     order mark so Excel shows Chinese correctly, and ``<name>.xlsx`` with one sheet
     per table, headers in Chinese (or English) from ``rules/labels*.yml``, codes put
     in words (levels, flags, confidence, audit checks, road classes; booleans as
     是/否) and numbers kept as numbers (shares as percentages). A CSV written with a
     language (``write_csv(..., lang=...)``) is the table as its sheet shows it: the
     same headers and words, rounded as displayed, no stray index column. The GDAL
     bindings' INFO line per layer written is kept out of the log. Every write goes to a temporary file first and is
     renamed into place, so an interrupted run never leaves a half-written file
     that looks complete. ``<nb>_figures.json`` holds a run's key figures (a few
     labelled numbers) for the index page of a batch run (:func:`write_figures`,
     :func:`read_figures`).
Tests: ``tests/test_export.py`` — round trips; ``tests/test_tables_zh.py`` — the four
     notebooks' Chinese workbooks and CSVs, cell by cell; ``tests/test_quiet_outputs.py``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import logging
import math
import os
import re
import tempfile
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ._errors import ValidationError
from .classify import KINDS, TIERS
from .engine import LIMIT_PATTERN, group_key, parse_share_column
from .labels import LANGS, group_label, keys, label

log = logging.getLogger(__name__)


#: Loggers of the GDAL bindings that report every layer written at INFO ("Created 423
#: records"): quiet while this module writes, so a notebook's output holds no line per file.
_DRIVER_LOGGERS: Final[tuple[str, ...]] = ("pyogrio", "fiona")


@contextlib.contextmanager
def _quiet_drivers() -> Iterator[None]:
    """Raise the GDAL bindings' loggers to WARNING for the duration of a write."""
    loggers = [logging.getLogger(name) for name in _DRIVER_LOGGERS]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        if lg.getEffectiveLevel() < logging.WARNING:
            lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


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
            with _quiet_drivers():
                gdf.to_file(tmp, layer=name, driver="GPKG", engine="pyogrio")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


#: First characters that make a spreadsheet read a text as a formula (or a DDE call):
#: ``=``, ``+``, ``-``, ``@``, tab and carriage return (OWASP, "CSV Injection").
FORMULA_STARTS: Final[tuple[str, ...]] = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> Any:
    """A text a spreadsheet would run as a formula, made inert for a CSV file.

    Text starting with one of :data:`FORMULA_STARTS` gets a leading apostrophe
    (``=1+1`` → ``'=1+1``): Excel and WPS show it as text and run nothing. Other
    values, numbers included (``-1.5`` stays a number), are returned as they are.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _csv_safe_table(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with every text field neutralised by :func:`csv_safe`."""
    out = table.copy()
    for col in out.columns:
        if not (pd.api.types.is_numeric_dtype(out[col]) or pd.api.types.is_bool_dtype(out[col])):
            out[col] = out[col].map(csv_safe)
    return out


def write_csv(
    path: Path | str,
    frame: pd.DataFrame,
    *,
    lang: str | None = None,
    headers: Mapping[str, str] | None = None,
    translate_values: bool = True,
) -> Path:
    """Write a table as UTF-8 CSV with a BOM (opens in Excel with Chinese intact), atomically.

    Parameters
    ----------
    path
        Target ``.csv`` file (replaced if present).
    frame
        The table.
    lang
        ``None`` (default): column names as they are, the index as a column, values
        unrounded (for programs). ``"zh"`` or ``"en"``: the table as the workbook
        shows it (:func:`write_excel` with the same ``lang`` and ``headers``) —
        translated headers, codes in words, booleans as 是/否 (Yes/No), a plain
        0..n-1 index dropped, a geometry as ``lon``/``lat``, and numbers rounded as
        the workbook displays them: shares (0–1) to 0.001 (0.1 %), minutes to 0.1,
        counts and metres to whole numbers, degrees to 6 decimals, other numbers to
        3 decimals.
    headers
        Headers instead of the translated ones, by column name (with ``lang``).
    translate_values
        Show labels instead of codes (with ``lang``).
    """
    path = Path(path)
    if lang is None:
        table = _for_file(frame.drop(columns="geometry", errors="ignore"))
    else:
        if lang not in LANGS:
            msg = f"lang must be one of {', '.join(map(repr, LANGS))}; got {lang!r}"
            raise ValidationError(msg)
        _, _, shown, values, roles = _readable(
            frame, lang=lang, overrides=dict(headers or {}), translate_values=translate_values
        )
        table = pd.DataFrame({i: v for i, v in enumerate(values)}, index=range(len(frame)))
        for i, role in enumerate(roles):
            if role is not None:
                table[i] = _rounded(pd.to_numeric(table[i], errors="coerce"), _DECIMALS[role])
        table.columns = shown
    tmp = _tmp_beside(path)
    try:
        _csv_safe_table(table).to_csv(tmp, index=False, encoding="utf-8-sig", lineterminator="\r\n")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _rounded(values: pd.Series, decimals: int) -> pd.Series:
    """Values rounded for reading; a column of whole numbers is written as integers
    (``529384``, not ``529384.0``)."""
    out = values.astype(float).replace([np.inf, -np.inf], np.nan).round(decimals)
    present = out.dropna()
    if (present == present.round(0)).all():
        return out.astype("Int64")
    return out


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
        with _quiet_drivers():
            frame.to_crs(4326).to_file(tmp, driver="GeoJSON", engine="pyogrio")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


# --------------------------------------------------------------------------- Excel

#: Longest sheet name Excel accepts.
SHEET_NAME_MAX: Final[int] = 31
#: Characters Excel does not allow in sheet names.
_SHEET_FORBIDDEN: Final[str] = "[]:*?/\\"
#: Widest column, in characters (longer headers wrap).
_MAX_WIDTH: Final[int] = 40
#: Number formats by column role.
_FORMATS: Final[dict[str, str]] = {
    "share": "0.0%",
    "minutes": "0.0",
    "count": "#,##0",
    "metres": "#,##0",
    "degrees": "0.000000",
    "float": "#,##0.###",
}
_TEMPLATE_KEYS: Final[frozenset[str]] = frozenset(
    {
        "within_share",
        "within_pop_share",
        "group_time_min",
        "group_facility",
        "group_facility_name",
        "group_flag",
        "group_beyond_buffer",
        "group_n",
    }
)


@functools.cache
def _group_keys() -> dict[str, str]:
    """Column prefix → group, for every kind and kind:tier, longest prefix first."""
    groups = [*KINDS, *(f"{k}:{t}" for k in KINDS for t in TIERS.get(k, ()))]
    found = {group_key(g): g for g in groups}
    return dict(sorted(found.items(), key=lambda kv: -len(kv[0])))


def _split_group_column(name: str) -> tuple[str, str, str | None] | None:
    """``"school_primary_n15"`` → ``("school:primary", "group_n", "15")``; else ``None``."""
    for prefix, group in _group_keys().items():
        if not name.startswith(prefix + "_"):
            continue
        rest = name[len(prefix) + 1 :]
        if rest in {"time_min", "facility", "facility_name", "flag", "beyond_buffer"}:
            return group, f"group_{rest}", None
        count = re.fullmatch(rf"n({LIMIT_PATTERN})", rest)
        if count:
            return group, "group_n", count.group(1)
    return None


def column_header(name: str, *, lang: str = "zh") -> str:
    """The header people read for a result column (``rules/labels.yml``, section ``column``).

    Fixed columns (``name``, ``population``, ``leg_m``, ``median_min`` ...) have their
    own label; per-group and per-threshold columns are built from templates and
    group labels: ``school_primary_time_min`` → ``到最近小学的出行时间（分钟）``,
    ``health_n30`` → ``30分钟内医疗卫生数量``, ``within_15_share`` →
    ``15分钟内村庄占比``. Unknown columns keep their name.

    Parameters
    ----------
    name
        Column name as the package writes it.
    lang
        ``"zh"`` or ``"en"``.

    Returns
    -------
    str
    """
    if lang not in LANGS:
        msg = f"lang must be one of {', '.join(map(repr, LANGS))}; got {lang!r}"
        raise ValidationError(msg)
    if name in keys("column") and name not in _TEMPLATE_KEYS:
        return label(f"column.{name}", lang=lang)
    share = parse_share_column(name)
    if share is not None and share[0] == "within":
        what = "pop_share" if share[2] else "share"
        return label(f"column.within_{what}", lang=lang).format(t=share[1])
    split = _split_group_column(name)
    if split is not None:
        group, key, t = split
        return label(f"column.{key}", lang=lang).format(group=group_label(group, lang=lang), t=t)
    return name


def _value_labeller(name: str, lang: str) -> Any:
    """Function turning a code in column ``name`` into its label, or ``None``."""

    def soft(prefix: str) -> Any:
        def one(value: Any) -> Any:
            if not isinstance(value, str) or not value:
                return value
            try:
                return label(f"{prefix}.{value}", lang=lang)
            except ValidationError:
                return value

        return one

    if name == "level":
        return soft("level")
    if name == "level_rule":
        return soft("level_rule")
    if name == "confidence":
        return soft("confidence")
    if name == "check":
        return soft("audit_check")
    if name == "min_class":
        return soft("road_class")
    if name == "kind":
        return soft("kind")
    if name == "snap_flag" or name.endswith("_flag"):
        return soft("flag")
    if name == "status":
        return soft("status")
    if name == "tiers":
        tier = soft("tier")
        sep = "、" if lang == "zh" else ", "
        return lambda v: (
            sep.join(tier(t.strip()) for t in v.split(";") if t.strip())
            if isinstance(v, str)
            else v
        )
    if name == "group":

        def group(value: Any) -> Any:
            try:
                return group_label(value, lang=lang) if isinstance(value, str) else value
            except ValidationError:
                return value

        return group
    return None


#: ``frame.attrs`` key listing a table's columns that hold 0–1 shares under other
#: names than ``*share`` (e.g. ``value``, ``target``): shown as percentages.
SHARE_COLUMNS: Final[str] = "share_columns"

#: Decimals kept in a CSV written with a language, by column role (as the workbook shows them).
_DECIMALS: Final[dict[str, int]] = {
    "share": 3,
    "minutes": 1,
    "count": 0,
    "metres": 0,
    "degrees": 6,
    "float": 3,
}


def _column_role(name: str, values: pd.Series, shares: Sequence[str] = ()) -> str | None:
    """How to format a numeric column: share, minutes, count, metres, degrees or float."""
    if name.endswith("share") or name == "share" or name in shares:
        return "share"
    if name.endswith("_min"):
        return "minutes"
    if name.endswith("_m"):
        return "metres"
    if name in {"lon", "lat"}:
        return "degrees"
    if pd.api.types.is_bool_dtype(values):
        return None
    if pd.api.types.is_integer_dtype(values) or name in {"population", "origins", "unreachable"}:
        return "count"
    if pd.api.types.is_float_dtype(values):
        return "float"
    return None


def _excel_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Plain table for a sheet: index as a column, points as lon/lat, no geometry."""
    out = frame.copy()
    if isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name in frame.columns:
        geoms = frame.geometry
        if frame.crs is not None and frame.crs.to_epsg() != 4326:
            geoms = geoms.to_crs(4326)
        arr = geoms.to_numpy()
        ok = ~(shapely.is_missing(arr) | shapely.is_empty(arr))
        lon, lat = np.full(len(arr), np.nan), np.full(len(arr), np.nan)
        if ok.any() and frame.crs is not None:
            pts = shapely.point_on_surface(arr[ok])
            lon[ok], lat[ok] = shapely.get_x(pts), shapely.get_y(pts)
            out["lon"], out["lat"] = np.round(lon, 6), np.round(lat, 6)
        out = pd.DataFrame(out.drop(columns=frame.geometry.name))
    keep_index = frame.index.name is not None or not isinstance(frame.index, pd.RangeIndex)
    if keep_index:
        out = out.reset_index(names=frame.index.name or "id")
    else:
        out = out.reset_index(drop=True)
    return out


def _is_boolean(series: pd.Series) -> bool:
    """True for a bool column, or an object column holding only booleans and gaps."""
    if pd.api.types.is_bool_dtype(series):
        return True
    if series.dtype != object:
        return False
    present = [
        v for v in series.tolist() if v is not None and not (isinstance(v, float) and np.isnan(v))
    ]
    return bool(present) and all(isinstance(v, (bool, np.bool_)) for v in present)


def _readable(
    frame: pd.DataFrame,
    *,
    lang: str,
    overrides: Mapping[str, str],
    translate_values: bool,
) -> tuple[pd.DataFrame, list[str], list[str], list[list[Any]], list[str | None]]:
    """A table as people read it: ``(table, columns, headers, values per column, roles)``.

    Headers are translated, codes put in words, booleans shown as 是/否 (Yes/No), and
    each numeric column gets its role (share, minutes, count, metres, degrees, float).
    """
    table = _excel_table(frame)
    shares = [str(c) for c in frame.attrs.get(SHARE_COLUMNS, ())]
    columns = [str(c) for c in table.columns]
    shown: list[str] = []
    for col in columns:
        text = overrides.get(col) or column_header(col, lang=lang)
        if text in shown:  # two columns with one label: say which is which
            text = f"{text} ({col})"
        shown.append(text)
    values, roles = [], []
    yes, no = label("answer.yes", lang=lang), label("answer.no", lang=lang)
    for col in columns:
        series = table[col]
        numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
        roles.append(_column_role(col, series, shares) if numeric else None)
        if translate_values and _is_boolean(series):
            series = series.map(
                lambda v: v if not isinstance(v, (bool, np.bool_)) else (yes if v else no)
            )
        else:
            labeller = _value_labeller(col, lang) if translate_values else None
            if labeller is not None and not pd.api.types.is_numeric_dtype(series):
                series = series.map(labeller)
        values.append([_cell(v) for v in series.tolist()])
    return table, columns, shown, values, roles


def _cell(value: Any) -> Any:
    """A value openpyxl writes with its type: numbers stay numbers, missing → empty."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, (dt.datetime, dt.date, str)):
        return value
    if isinstance(value, (list, tuple, set, np.ndarray)):
        return "; ".join(str(v) for v in value)
    return str(value)


def _display_width(value: Any) -> int:
    """Width of a cell's text in Excel's character units (wide characters count 2)."""
    if value is None:
        return 0
    if isinstance(value, float):
        text = f"{value:,.2f}"
    elif isinstance(value, int) and not isinstance(value, bool):
        text = f"{value:,}"
    else:
        text = str(value)
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _sheet_name(raw: str, lang: str) -> str:
    name = str(raw).strip()
    try:
        name = label(f"ui.sheet_{name}", lang=lang)
    except ValidationError:
        pass
    bad = sorted({c for c in name if c in _SHEET_FORBIDDEN})
    if not name or bad or len(name) > SHEET_NAME_MAX or name.startswith("'"):
        msg = (
            f"sheet name {raw!r} cannot be used in Excel: names are 1–{SHEET_NAME_MAX} "
            f"characters, without {' '.join(_SHEET_FORBIDDEN)} and not starting with an "
            f"apostrophe (got {len(name)} characters{', with ' + ' '.join(bad) if bad else ''}); "
            "give a shorter name in `sheets`"
        )
        raise ValidationError(msg)
    return name


def write_excel(
    path: Path | str,
    sheets: Mapping[str, pd.DataFrame],
    *,
    lang: str = "zh",
    headers: Mapping[str, str] | None = None,
    translate_values: bool = True,
) -> Path:
    """Write tables as sheets of one Excel workbook (``.xlsx``) for reports, atomically.

    Each table becomes one sheet: the index becomes the first column (``id``,
    ``group``...; a plain 0..n-1 index is dropped) and a geometry column becomes
    ``lon``/``lat`` (WGS-84 degrees of the point, or of a point on the shape; empty
    for a missing geometry, dropped when the table has no CRS).
    Column headers are translated (:func:`column_header`), the header row is
    bold, frozen and filtered, and columns are sized to their content. Numbers
    stay numbers: shares (0–1) are shown as percentages, minutes with one
    decimal, counts and metres with thousands separators; infinite or missing
    values (unreachable) are empty cells. Columns named ``*share`` or listed in a
    table's ``attrs[SHARE_COLUMNS]`` (e.g. ``["value", "target"]``) are shares. With
    ``translate_values``, codes in ``group``, ``level``, ``level_rule``, ``kind``,
    ``tiers``, ``confidence``, ``check`` (the data audit), ``min_class`` (a road
    class), ``status`` and flag columns are shown as labels (``school:primary`` →
    小学, ``far_from_road`` → 距道路过远, ``ambiguous`` → 名称不明确（推测）) and
    booleans as 是/否 (Yes/No), never TRUE/FALSE. Known sheet names are translated
    too (``summary`` → 汇总, ``villages`` → 村庄, ``audit`` → 数据检查).

    Parameters
    ----------
    path
        Target ``.xlsx`` file (replaced if present; parent folders are created).
    sheets
        Sheet name → table, in sheet order. Names must fit Excel: at most 31
        characters, none of ``[ ] : * ? / \\``, unique (ignoring case).
    lang
        ``"zh"`` or ``"en"`` for headers, sheet names and labelled values.
    headers
        Headers to use instead of the translated ones, by column name (after the
        index became a column; ``lon``/``lat`` included).
    translate_values
        Show labels instead of codes in the columns listed above.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValidationError
        No sheet, a table that is not a DataFrame, an unusable or repeated sheet
        name, or an unknown ``lang``.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    path = Path(path)
    if lang not in LANGS:
        msg = f"lang must be one of {', '.join(map(repr, LANGS))}; got {lang!r}"
        raise ValidationError(msg)
    if not sheets:
        msg = "nothing to write: give at least one sheet, e.g. {'summary': summary}"
        raise ValidationError(msg)
    names: dict[str, str] = {}
    for raw, frame in sheets.items():
        if not isinstance(frame, pd.DataFrame):
            msg = f"sheet {raw!r} must be a pandas DataFrame; got {type(frame).__name__}"
            raise ValidationError(msg)
        name = _sheet_name(raw, lang)
        if name.casefold() in {n.casefold() for n in names.values()}:
            msg = (
                f"sheets {raw!r} and another sheet are both named {name!r} in the workbook "
                "(Excel ignores case); rename one"
            )
            raise ValidationError(msg)
        names[raw] = name
    overrides = dict(headers or {})

    wb = Workbook()
    wb.remove(wb.active)
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="E8E8E8")
    wrap = Alignment(wrap_text=True, vertical="top")
    for raw, frame in sheets.items():
        table, columns, shown, values, roles = _readable(
            frame, lang=lang, overrides=overrides, translate_values=translate_values
        )
        ws = wb.create_sheet(names[raw])
        ws.append(shown)
        for row in zip(*values) if values else ():
            ws.append(list(row))
        for cells in ws.iter_rows(min_row=2):
            for cell in cells:
                if cell.data_type == "f":  # a text starting with "=": data, never a formula
                    cell.data_type = "s"
        for j, _col in enumerate(columns, start=1):
            letter = get_column_letter(j)
            head = ws.cell(row=1, column=j)
            head.font, head.fill, head.alignment = bold, fill, wrap
            role = roles[j - 1]
            if role is not None:
                for cell in ws.iter_rows(min_row=2, min_col=j, max_col=j):
                    cell[0].number_format = _FORMATS[role]
            widest = max([_display_width(v) for v in values[j - 1]] or [0])
            if role == "share":
                widest = max(widest, 6)
            header_width = min(_display_width(shown[j - 1]), _MAX_WIDTH)
            ws.column_dimensions[letter].width = min(max(widest, header_width, 6) + 2, _MAX_WIDTH)
        ws.freeze_panes = "A2"
        if columns:
            ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{max(len(table), 1) + 1}"
        log.debug("sheet %s: %d rows, %d columns", names[raw], len(table), len(columns))

    tmp = _tmp_beside(path)
    try:
        wb.save(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    log.info("wrote %s (%s)", path, ", ".join(names.values()))
    return path


def write_text(path: Path | str, text: str) -> Path:
    """Write UTF-8 text (an HTML page, a JSON file), atomically; return ``path``."""
    path = Path(path)
    tmp = _tmp_beside(path)
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


# --------------------------------------------------------------------------- key figures

#: How a key figure is shown: ``percent`` (a 0–1 share, shown ``92.3%``), ``count``
#: (``1,234``), ``minutes`` (``12.5 分钟``) or ``number`` (anything else).
FIGURE_FORMATS: Final[tuple[str, ...]] = ("percent", "count", "minutes", "number")
_FIGURE_KEYS: Final[tuple[str, ...]] = ("key", "label_zh", "label_en", "value", "format")
#: Why a figure has no value: ``no_data`` (no facility of its group in the data).
FIGURE_STATUSES: Final[tuple[str, ...]] = ("no_data",)


def figure(
    key: str,
    value: Any,
    fmt: str,
    *,
    label_key: str | None = None,
    labels: tuple[str, str] | None = None,
    status: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """One key figure as stored in ``<nb>_figures.json``.

    Parameters
    ----------
    key
        Stable identifier, e.g. ``"school_primary_coverage"``.
    value
        The number (NumPy numbers are converted); NaN, infinity and ``None`` become
        ``None`` (not available). Whole-number counts are stored as integers.
    fmt
        One of :data:`FIGURE_FORMATS`.
    label_key
        A label (``"section.name"`` in ``rules/labels*.yml``) filled in with
        ``fields`` by :meth:`str.format`, in both languages.
    labels
        ``(zh, en)`` texts instead of ``label_key``.
    status
        Why the figure has no value, one of :data:`FIGURE_STATUSES` (e.g.
        ``"no_data"``: no facility of the group in the data, so no coverage — never
        0 %); the value is then ``None``.
    **fields
        Values for the placeholders of the label (strings, or ``(zh, en)`` pairs).

    Returns
    -------
    dict
        ``{"key", "label_zh", "label_en", "value", "format"}``, plus ``status`` when
        given.
    """
    if (label_key is None) == (labels is None):
        msg = f"figure {key!r}: give either label_key or labels"
        raise ValidationError(msg)
    if labels is None:
        texts = []
        for lang in LANGS:
            filled = {
                k: (v[LANGS.index(lang)] if isinstance(v, tuple) else v) for k, v in fields.items()
            }
            texts.append(label(str(label_key), lang=lang).format(**filled))
        labels = (texts[0], texts[1])
    out = {
        "key": key,
        "label_zh": labels[0],
        "label_en": labels[1],
        "value": None if status is not None else _figure_value(value, key, "figure"),
        "format": fmt,
    }
    if status is not None:
        out["status"] = status
    return check_figures([out], where="figure")[0]


def _figure_value(value: Any, key: Any, where: str) -> float | int | None:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        msg = f"{where}: figure {key!r} has value {value!r}; a value is a number or null"
        raise ValidationError(msg)
    if isinstance(value, (int, np.integer)):
        return int(value)
    number = float(value)
    return number if math.isfinite(number) else None


def check_figures(figures: Any, *, where: str = "figures") -> list[dict[str, Any]]:
    """Check a list of key figures and return clean copies (plain Python values).

    Each figure is a mapping with exactly ``key`` (non-empty text, unique),
    ``label_zh``, ``label_en`` (text), ``value`` (number or ``None``; NaN and
    infinity become ``None``) and ``format`` (one of :data:`FIGURE_FORMATS`), and
    optionally ``status`` (one of :data:`FIGURE_STATUSES`; the value is then ``None``).

    Raises
    ------
    ValidationError
        Naming ``where`` (e.g. the file) and what is wrong.
    """
    if isinstance(figures, (str, bytes, Mapping)) or not isinstance(figures, Sequence):
        msg = f"{where}: figures must be a list of {{key, label_zh, label_en, value, format}}; got {type(figures).__name__}"
        raise ValidationError(msg)
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, item in enumerate(figures):
        if not isinstance(item, Mapping):
            msg = f"{where}: figure {i} is a {type(item).__name__}, not a mapping"
            raise ValidationError(msg)
        missing = [k for k in _FIGURE_KEYS if k not in item]
        extra = sorted(str(k) for k in item if k not in (*_FIGURE_KEYS, "status"))
        if missing or extra:
            msg = f"{where}: figure {i} must have exactly the keys {', '.join(_FIGURE_KEYS)}"
            if missing:
                msg += f"; missing {', '.join(missing)}"
            if extra:
                msg += f"; unknown {', '.join(extra)}"
            raise ValidationError(msg)
        key = item["key"]
        if not isinstance(key, str) or not key.strip():
            msg = f"{where}: figure {i} has key {key!r}; a key is non-empty text"
            raise ValidationError(msg)
        if key in seen:
            msg = f"{where}: figure key {key!r} appears twice"
            raise ValidationError(msg)
        seen.add(key)
        for name in ("label_zh", "label_en"):
            if not isinstance(item[name], str):
                msg = f"{where}: figure {key!r} has {name} {item[name]!r}; labels are text"
                raise ValidationError(msg)
        if item["format"] not in FIGURE_FORMATS:
            msg = f"{where}: figure {key!r} has format {item['format']!r}; use one of {', '.join(FIGURE_FORMATS)}"
            raise ValidationError(msg)
        value = _figure_value(item["value"], key, where)
        if item["format"] == "count" and isinstance(value, float) and value.is_integer():
            value = int(value)
        clean: dict[str, Any] = {
            "key": key,
            "label_zh": item["label_zh"],
            "label_en": item["label_en"],
            "value": value,
            "format": item["format"],
        }
        if "status" in item and item["status"] is not None:
            if item["status"] not in FIGURE_STATUSES:
                msg = f"{where}: figure {key!r} has status {item['status']!r}; use one of {', '.join(FIGURE_STATUSES)}"
                raise ValidationError(msg)
            if value is not None:
                msg = f"{where}: figure {key!r} has status {item['status']!r} and a value; a figure with a status has none"
                raise ValidationError(msg)
            clean["status"] = item["status"]
        out.append(clean)
    return out


_WARNING_KEYS: Final[tuple[str, ...]] = ("section", "zh", "en")


def check_warnings(warnings: Any, *, where: str = "warnings") -> list[dict[str, str]]:
    """Check a run's warnings (sections skipped and why) and return clean copies.

    Each warning is a mapping with exactly ``section`` (a short key, e.g.
    ``"road_links"``), ``zh`` and ``en`` (the sentence shown to people).

    Raises
    ------
    ValidationError
        Naming ``where`` and what is wrong.
    """
    if isinstance(warnings, (str, bytes, Mapping)) or not isinstance(warnings, Sequence):
        msg = f"{where}: warnings must be a list of {{section, zh, en}}; got {type(warnings).__name__}"
        raise ValidationError(msg)
    out = []
    for i, item in enumerate(warnings):
        if (
            not isinstance(item, Mapping)
            or sorted(item) != sorted(_WARNING_KEYS)
            or not all(isinstance(item[k], str) and item[k].strip() for k in _WARNING_KEYS)
        ):
            msg = f"{where}: warning {i} must be {{section, zh, en}} with non-empty texts; got {item!r}"
            raise ValidationError(msg)
        out.append({k: str(item[k]) for k in _WARNING_KEYS})
    return out


def write_figures(
    path: Path | str,
    figures: Sequence[Mapping[str, Any]],
    *,
    warnings: Sequence[Mapping[str, str]] | Any = (),
    verdicts: Sequence[Mapping[str, Any]] = (),
) -> Path:
    """Write a run's key figures as ``{"figures": [...], "warnings": [...], "verdicts": [...]}``
    JSON (UTF-8), atomically.

    Parameters
    ----------
    path
        Target file, by convention ``data/processed/<region>[/<unit>]/<nb>_figures.json``.
    figures
        Key figures (see :func:`figure` and :func:`check_figures`), in display order.
    warnings
        The sections the run skipped and why (see :func:`check_warnings`), e.g. an
        :class:`accessibility.report.Notes`; the batch records such a run as ok with
        warnings.
    verdicts
        The verdicts on the report's claims (:func:`accessibility.verdicts.to_records`):
        each a mapping with at least ``claim`` and ``state``.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    clean = check_figures(figures, where=str(path))
    notes = check_warnings(list(warnings), where=str(path))
    said = check_verdicts(list(verdicts), where=str(path))
    text = json.dumps(
        {"figures": clean, "warnings": notes, "verdicts": said},
        ensure_ascii=False,
        indent=1,
        allow_nan=False,
    )
    write_text(path, text + "\n")
    log.info("wrote %s (%d figures)", path, len(clean))
    return path


def check_verdicts(verdicts: Any, *, where: str = "verdicts") -> list[dict[str, Any]]:
    """Verdict records, checked: a list of mappings, each with a ``claim`` and a ``state``
    (``holds``, ``not_met`` or ``cannot_tell``); values NaN → None."""
    if not isinstance(verdicts, list) or not all(isinstance(v, Mapping) for v in verdicts):
        msg = f"{where}: verdicts must be a list of mappings with claim and state"
        raise ValidationError(msg)
    out = []
    for i, v in enumerate(verdicts):
        if not v.get("claim") or v.get("state") not in ("holds", "not_met", "cannot_tell"):
            msg = f"{where}: verdict {i} needs a claim and a state of holds, not_met or cannot_tell; got {dict(v)!r}"
            raise ValidationError(msg)
        out.append({k: (None if isinstance(x, float) and not math.isfinite(x) else x) for k, x in v.items()})
    return out


def read_verdicts(path: Path | str) -> list[dict[str, Any]]:
    """The verdicts of a file written by :func:`write_figures` (none when absent or unreadable)."""
    return _read_part(path, "verdicts", check_verdicts)


def read_figures(path: Path | str) -> list[dict[str, Any]]:
    """Key figures from a file written by :func:`write_figures`.

    Returns
    -------
    list of dict
        The figures, checked; an empty list when the file does not exist.

    Raises
    ------
    ValidationError
        The file is not JSON or not ``{"figures": [...]}`` with valid figures; the
        message names the file.
    """
    path = Path(path)
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        msg = f"{path}: not a key-figures file (invalid JSON: {exc})"
        raise ValidationError(msg) from None
    if not isinstance(data, dict) or "figures" not in data:
        msg = f'{path}: a key-figures file holds {{"figures": [...]}}'
        raise ValidationError(msg)
    return check_figures(data["figures"], where=str(path))


def read_warnings(path: Path | str) -> list[dict[str, str]]:
    """The warnings of a file written by :func:`write_figures` (none when absent or unreadable)."""
    return _read_part(path, "warnings", check_warnings)


def _read_part(path: Path | str, key: str, check: Callable[..., list]) -> list:
    """One checked list of a figures file; an empty one, with a logged reason, when the
    file is absent, unreadable or the list is invalid (an index page still shows the rest)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return []
    if not isinstance(data, dict):
        return []
    try:
        return check(data.get(key, []), where=str(path))
    except ValidationError as exc:
        log.warning("%s not read: %s", key, exc)
        return []
