"""The two readers: :func:`read_facilities` and :func:`read_villages`.

In: a file path and the caller's options (columns, datum, kind, encoding, boundary,
sheet, report folder). Out: a :class:`RegistryResult` whose table has the schema of
classified facilities or of classified places, and its report.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from ..._errors import ValidationError
from ...classify import KINDS, SUPPLY_TAGS, TIERS
from .columns import (
    FACILITY_COLUMNS,
    VILLAGE_COLUMNS,
    _allowed_kinds,
    _allowed_levels,
    _kind_words,
    _level_words,
    _order,
    _parse_group,
    _parse_tiers,
    _word_key,
)
from .rows import RegistryResult, _assign_ids, _finish, _non_negative, _read, _Report, _Row


def read_facilities(
    path: Path | str,
    *,
    columns: Mapping[str, str] | None = None,
    datum: str = "wgs84",
    kind: str | None = None,
    encoding: str | None = None,
    boundary: shapely.Geometry | None = None,
    report_dir: Path | str | None = None,
    sheet: str | int | None = None,
) -> RegistryResult:
    """Read an official list of facilities (schools, clinics, reading places, bus stops).

    Parameters
    ----------
    path
        ``.csv``/``.txt`` (UTF-8, UTF-8 with BOM, GBK or GB18030) or ``.xlsx``.
    columns
        The file's header → our field: ``name``, ``lon``, ``lat`` (required) and
        optionally ``id``, ``kind``, ``tier`` (Chinese words such as 小学, 九年一贯制,
        卫生院, 农家书屋, or our tier names; several separated by ``;`` or ``、``),
        ``group`` (``"school:primary"``), the supply figures ``beds``, ``doctors``
        and ``capacity`` (seats or places), ``address``. Fields not mapped are looked
        up among common headers (:data:`FACILITY_COLUMNS`: 名称, 学校名称, 经度, 纬度,
        类型, 学段, 实有床位数, 执业（助理）医师数, 学位数…).
    datum
        Datum of the file's coordinates: ``"wgs84"``, ``"gcj02"`` (Amap, Tencent) or
        ``"bd09"`` (Baidu). Converted to WGS-84 with :func:`accessibility.datum.to_wgs84`.
    kind
        Kind of every row (``school``, ``health``, ``reading``, ``bus``); when
        ``None`` it comes per row from the ``kind`` or ``group`` column or from the
        tier words.
    encoding
        Text encoding of a CSV; ``None`` tries UTF-8, UTF-8 with BOM, GBK and
        GB18030 in that order.
    boundary
        WGS-84 polygon (already buffered by the caller); rows outside are dropped.
    report_dir
        Folder for ``<file stem>_report.csv`` (UTF-8 with BOM, written atomically).
    sheet
        Excel sheet name or 0-based index (default: the first sheet).

    Returns
    -------
    RegistryResult
        ``table``: index ``id`` (the id column, else ``reg:<file stem>:<row>``),
        ``name``, ``kind``, ``tiers`` (";"-joined, possibly empty), ``confidence``
        and ``rule`` (both ``"registry"``), ``note`` (the row's flags), ``source``
        (``"registry"``), ``beds``, ``doctors`` and ``capacity`` (floats, NaN when
        absent or not a non-negative number), ``address``, ``row``
        (row in the file) and WGS-84 point geometry (EPSG:4326).

    Raises
    ------
    DataSourceError
        The file does not exist or is not a readable workbook.
    ValidationError
        Unknown datum or kind, undecodable text, no header with the required
        columns (the message lists the columns found), unknown sheet, or no way to
        tell the kind (no ``kind`` argument and no kind, group or tier column).
    """
    if kind is not None and kind not in KINDS:
        msg = f"unknown facility kind {kind!r}; choose one of: {_allowed_kinds()}"
        raise ValidationError(msg)
    path = Path(path)

    def fill(r: _Row, rep: _Report) -> None:
        row_kind: str | None = kind
        tiers = ""
        if kind is None and r.cells.get("kind"):
            row_kind = _kind_words().get(_word_key(r.cells["kind"]))
            if row_kind is None:
                reason = f"unknown kind {r.cells['kind']!r}; allowed: {_allowed_kinds()}"
                rep.add(r, "kind", reason, drop=True)
                return
        if r.cells.get("group"):
            g_kind, tiers, error = _parse_group(r.cells["group"])
            if error is None and row_kind is not None and g_kind != row_kind:
                error = f"group {r.cells['group']!r} is not of kind {row_kind}"
            if error is not None:
                rep.add(r, "group", error, drop=True)
                return
            row_kind = g_kind
        if r.cells.get("tier"):
            t_kind, t_tiers, error = _parse_tiers(r.cells["tier"], row_kind)
            if error is not None:
                rep.add(r, "tier", error, drop=True)
                return
            row_kind = t_kind
            tiers = _order(row_kind, tiers.split(";") + t_tiers.split(";")) if row_kind else ""
        if row_kind is None:
            fld = next((f for f in ("kind", "group", "tier") if f in rep.where), "name")
            rep.add(
                r,
                fld,
                f"kind unknown: fill the {fld} cell, or pass kind=... ({', '.join(KINDS)})",
                drop=True,
            )
            return
        if not tiers and len(TIERS[row_kind]) == 1:
            tiers = TIERS[row_kind][0]
        elif not tiers and ("tier" in rep.where or "group" in rep.where):
            rep.add(
                r,
                "tier" if "tier" in rep.where else "group",
                f"tier missing; the facility counts for kind {row_kind} but for no tier",
                drop=False,
            )
        r.values["kind"] = row_kind
        r.values["tiers"] = tiers
        for tag in SUPPLY_TAGS:
            r.values[tag] = _non_negative(r, rep, tag)

    rows, rep, sheet_rows = _read(
        path,
        columns=columns,
        defaults=FACILITY_COLUMNS,
        datum=datum,
        encoding=encoding,
        boundary=boundary,
        sheet=sheet,
        fill=fill,
        on_header=lambda rep: _check_kind_source(rep, kind, path),
    )
    good = [r for r in rows if not r.dropped]
    ids = _assign_ids(good, rep, path.stem)
    frame = pd.DataFrame(
        {
            "name": [r.cells.get("name", "") for r in good],
            "kind": [r.values["kind"] for r in good],
            "tiers": [r.values["tiers"] for r in good],
            "confidence": "registry",
            "rule": "registry",
            "note": ["; ".join(r.flags) for r in good],
            "source": "registry",
            **{tag: np.array([r.values[tag] for r in good], dtype=float) for tag in SUPPLY_TAGS},
            "address": [r.cells.get("address", "") for r in good],
            "row": np.array([r.row for r in good], dtype="int64"),
        },
        index=pd.Index(ids, name="id", dtype=object),
    )
    return _finish(rows, rep, sheet_rows, path, report_dir, frame)


def _check_kind_source(rep: _Report, kind: str | None, path: Path) -> None:
    """Check once per file that the kind of each row can be told."""
    if kind is not None or any(f in rep.where for f in ("kind", "group", "tier")):
        return
    header = [h for h in rep.header if h]
    msg = (
        f"{path.name}: cannot tell the facility kind: pass kind='school' (or health, reading, "
        f"bus), or add a kind, group or tier column (e.g. 类别 or 类型); columns found: {header}"
    )
    raise ValidationError(msg)


def read_villages(
    path: Path | str,
    *,
    columns: Mapping[str, str] | None = None,
    datum: str = "wgs84",
    encoding: str | None = None,
    boundary: shapely.Geometry | None = None,
    report_dir: Path | str | None = None,
    sheet: str | int | None = None,
) -> RegistryResult:
    """Read an official list of villages (administrative or natural) as origins.

    Parameters
    ----------
    path, datum, encoding, boundary, report_dir, sheet
        As for :func:`read_facilities`.
    columns
        The file's header → our field: ``name``, ``lon``, ``lat`` (required) and
        optionally ``id``, ``level`` (县城, 乡镇驻地, 行政村, 自然村… or our level
        names; default ``admin_village``), ``population`` (persons), ``unit`` (code of
        the administrative unit the village belongs to, kept as text). Defaults:
        :data:`VILLAGE_COLUMNS` (名称, 村名, 人口, 户籍人口, 编码, 代码…).

    Returns
    -------
    RegistryResult
        ``table``: index ``id`` (the id column, else ``reg:<file stem>:<row>``),
        ``name``, ``level``, ``population`` (float, NaN when absent), ``unit``,
        ``row``, WGS-84 point geometry (EPSG:4326).

    Raises
    ------
    DataSourceError, ValidationError
        As for :func:`read_facilities`.
    """
    path = Path(path)

    def fill(r: _Row, rep: _Report) -> None:
        text = r.cells.get("level", "")
        level = _level_words().get(_word_key(text)) if text else "admin_village"
        if level is None:
            rep.add(r, "level", f"unknown level {text!r}; allowed: {_allowed_levels()}", drop=True)
            return
        r.values["level"] = level
        r.values["population"] = _non_negative(r, rep, "population")

    rows, rep, sheet_rows = _read(
        path,
        columns=columns,
        defaults=VILLAGE_COLUMNS,
        datum=datum,
        encoding=encoding,
        boundary=boundary,
        sheet=sheet,
        fill=fill,
    )
    good = [r for r in rows if not r.dropped]
    ids = _assign_ids(good, rep, path.stem)
    frame = pd.DataFrame(
        {
            "name": [r.cells.get("name", "") for r in good],
            "level": [r.values["level"] for r in good],
            "population": np.array([r.values["population"] for r in good], dtype=float),
            "unit": [r.cells.get("unit", "") for r in good],
            "row": np.array([r.row for r in good], dtype="int64"),
        },
        index=pd.Index(ids, name="id", dtype=object),
    )
    return _finish(rows, rep, sheet_rows, path, report_dir, frame)
