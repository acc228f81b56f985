"""Official lists (registries) of facilities and villages, from CSV or Excel files.

Design
------
In:  one file per list — ``.csv``/``.txt`` in UTF-8, UTF-8 with BOM, GBK or GB18030,
     or ``.xlsx`` — with a header row, a name and coordinates per row, in WGS-84,
     GCJ-02 (Amap/Tencent) or BD-09 (Baidu) as declared by the caller.
Out: :class:`RegistryResult` — the good rows as WGS-84 points (facilities in the
     schema of :func:`accessibility.classify.facilities`, villages in the schema of
     classified places) plus a **report** with one line per problem found, so that
     nothing disappears silently; and :func:`merge`, which matches registry
     facilities to OpenStreetMap facilities one to one.

Rows are checked one by one (see ``docs/registries.md`` for the user's view):

======================================================  ========  ===================
problem                                                 action    column in report
======================================================  ========  ===================
unknown kind, tier, group or settlement level           dropped   that column
coordinate missing (or 0)                               dropped   lon / lat column
coordinate not a decimal number                         dropped   lon / lat column
coordinate out of range (even when swapped)             dropped   lon / lat column
longitude and latitude swapped                          kept      lon / lat column
outside mainland China's bounding box (no boundary)     kept      lon / lat column
outside ``boundary``                                    dropped   lon / lat column
same name and within 1 m of an earlier row              dropped   name column
name missing                                            kept      name column
id missing or used by an earlier row (new id given)     kept      id column
capacity / population not a non-negative number         kept      that column
more cells than header columns (unquoted comma?)        kept      (empty)
======================================================  ========  ===================

Kept rows carry their flags in ``note``. Row numbers are those a spreadsheet shows:
the header is the row it sits on (row 1 in a plain file) and the first data row
follows it. Title rows above the header (common in official Excel files) are
skipped: the header is the first of the first ten rows in which the required columns
are found.

Tests: ``tests/test_registry.py`` (files under ``tests/data/registry/`` and built in
``tmp_path``).
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from .. import datum as _datum
from .. import export, labels
from .._errors import DataSourceError, ValidationError
from .._validate import check_degrees
from ..classify import KINDS, LEVELS, TIERS, parse_group

log = logging.getLogger(__name__)

__all__ = [
    "FACILITY_COLUMNS",
    "REPORT_COLUMNS",
    "VILLAGE_COLUMNS",
    "RegistryResult",
    "merge",
    "normalise_name",
    "read_facilities",
    "read_villages",
    "similarity",
]

#: Columns of the report, in order.
REPORT_COLUMNS = ("file", "row", "column", "value", "reason", "action")

#: Default header names (after normalisation: no spaces, lower case, no bracketed
#: suffix such as "（GCJ-02）") recognised for each field of a facility list.
FACILITY_COLUMNS: dict[str, tuple[str, ...]] = {
    "id": tuple(
        "id code 编码 代码 编号 标识码 学校标识码 学校代码 机构代码 统一社会信用代码".split()
    ),
    "name": tuple(
        "name 名称 学校名称 机构名称 医疗机构名称 单位名称 设施名称 站点名称 站名 图书馆名称".split()
    ),
    "kind": tuple("kind 设施类别 设施大类 类别 大类".split()),
    "tier": tuple("tier tiers 类型 级别 学段 办学类型 学校类型 机构类型 机构类别 设施类型".split()),
    "group": tuple("group 分组".split()),
    "capacity": tuple("capacity 容量 学位数 核定学位 床位数 座位数 规模".split()),
    "address": tuple("address 地址 详细地址 位置".split()),
    "lon": tuple("lon lng long longitude x 经度 东经".split()),
    "lat": tuple("lat latitude y 纬度 北纬".split()),
}
#: Default header names recognised for each field of a village list.
VILLAGE_COLUMNS: dict[str, tuple[str, ...]] = {
    "id": tuple(
        "id code 村编码 村代码 编码 代码 编号 区划代码 行政区划代码 统计用区划代码".split()
    ),
    "name": tuple("name 名称 村名 村庄名称 村名称 行政村 行政村名称 自然村 自然村名称".split()),
    "level": tuple("level 级别 类型 等级 村庄类型".split()),
    "population": tuple("population 人口 户籍人口 常住人口 总人口 人口数".split()),
    "unit": tuple("unit 所属单位 所属乡镇代码 乡镇代码 所属乡镇 乡镇".split()),
    "lon": FACILITY_COLUMNS["lon"],
    "lat": FACILITY_COLUMNS["lat"],
}
_REQUIRED = ("name", "lon", "lat")

#: Words (space-separated) for facility kinds beyond the labels in ``rules/labels.yml``.
_KIND_SYNONYMS: dict[str, str] = {
    "school": "学校 中小学 教育",
    "health": "医疗 医疗机构 卫生 医院",
    "reading": "阅读 图书 文化",
    "bus": "公交 公交站点 交通",
}
#: Words for tiers beyond the labels in ``rules/labels.yml`` (a combined school
#: serves several tiers, as in ``rules/facilities.yml``).
_TIER_SYNONYMS: dict[str, tuple[str, ...]] = {
    "九年一贯制": ("primary", "middle"),
    "九年一贯制学校": ("primary", "middle"),
    "九年制": ("primary", "middle"),
    "十二年一贯制": ("primary", "middle", "high"),
    "十二年一贯制学校": ("primary", "middle", "high"),
    "完全中学": ("middle", "high"),
    "完中": ("middle", "high"),
    "教学点": ("primary",),
    "完全小学": ("primary",),
    "中心小学": ("primary",),
    "初级中学": ("middle",),
    "高级中学": ("high",),
    "普通高中": ("high",),
    "卫生室": ("village_clinic",),
    "卫生所": ("village_clinic",),
    "卫生院": ("township_health_centre",),
    "中心卫生院": ("township_health_centre",),
    "社区卫生服务中心": ("township_health_centre",),
    "县医院": ("county_hospital",),
    "人民医院": ("county_hospital",),
    "中医院": ("county_hospital",),
    "县域医疗中心": ("county_hospital",),
    "图书馆": ("library",),
    "文化站": ("cultural_station",),
    "乡镇文化站": ("cultural_station",),
    "综合文化站": ("cultural_station",),
    "农家书屋": ("village_centre",),
    "综合性文化服务中心": ("village_centre",),
    "文化服务中心": ("village_centre",),
    "公交站点": ("bus_stop",),
    "客车停靠点": ("bus_stop",),
    "招呼站": ("bus_stop",),
}
#: Words (space-separated) for settlement levels beyond the labels in ``rules/labels.yml``.
_LEVEL_SYNONYMS: dict[str, str] = {
    "county_seat": "城关镇 中心城区 城区",
    "township_seat": "乡镇 镇区 集镇 镇 乡",
    "admin_village": "村 村委会",
    "natural_village": "村民小组 组",
    "residential": "社区 小区",
}
_TIER_SPLIT = re.compile(r"[;；,，、/／|+＋\s]+")
_BRACKETED = re.compile(r"[(\[（【].*?[)\]）】]")
_THOUSANDS = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_HEADER_SCAN = 10
_DUPLICATE_M = 1.0
_EXCEL = {".xlsx", ".xlsm"}
_TEXT = {".csv", ".txt", ".tsv"}
_ENCODINGS = ("utf-8", "utf-8-sig", "gbk", "gb18030")


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


# --------------------------------------------------------------------------- text


def _clean(text: str) -> str:
    """A cell as read, without BOM or zero-width characters and trimmed (full-width spaces too)."""
    return text.replace("\ufeff", "").replace("\u200b", "").strip()


def _header_key(text: str) -> str:
    """Normalised header for matching: NFKC, no spaces, lower case, no bracketed suffix."""
    key = re.sub(r"\s+", "", unicodedata.normalize("NFKC", _clean(text))).lower()
    stripped = _BRACKETED.sub("", key)
    return stripped or key


def _word_key(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", _clean(text))).lower()


def _cell_text(value: Any) -> str:
    """An Excel cell as text; whole floats lose their ``.0`` (codes, ids)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    return _clean(str(value))


# --------------------------------------------------------------------------- files


@dataclass
class _Sheet:
    """Rows of a file as text, with their spreadsheet row numbers."""

    file: str
    rows: list[tuple[int, list[str]]]
    encoding: str


def _decode(raw: bytes, path: Path, encoding: str | None) -> tuple[str, str]:
    if encoding is not None:
        try:
            name = codecs.lookup(encoding).name
        except LookupError:
            msg = f"unknown encoding {encoding!r} for {path.name}; use e.g. 'utf-8', 'gbk' or 'gb18030'"
            raise ValidationError(msg) from None
        try:
            text = raw.decode(name)
        except UnicodeDecodeError as exc:
            msg = (
                f"{path.name} is not valid {encoding} (bad byte at offset {exc.start}); "
                "leave encoding=None to detect UTF-8/GBK/GB18030, or give the right encoding"
            )
            raise ValidationError(msg) from None
        return text.removeprefix("\ufeff"), name
    first_error = 0
    for name in _ENCODINGS:
        try:
            text = raw.decode(name)
        except UnicodeDecodeError as exc:
            first_error = first_error or exc.start
            continue
        if name == "utf-8" and text.startswith("\ufeff"):
            continue  # report it as UTF-8 with BOM
        return text.removeprefix("\ufeff"), name
    hint = ""
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        hint = " The file starts with a UTF-16 mark: pass encoding='utf-16'."
    msg = (
        f"cannot decode {path.name} as UTF-8, GBK or GB18030 (bad byte at offset {first_error}); "
        "in Excel use 'Save as → CSV UTF-8', or pass encoding=... if you know it." + hint
    )
    raise ValidationError(msg)


def _delimiter(text: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()][:5]
    sample = "\n".join(lines)
    counts = {d: sample.count(d) for d in (",", "\t", ";", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _read_text(path: Path, encoding: str | None) -> _Sheet:
    text, used = _decode(path.read_bytes(), path, encoding)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    rows = [(i, [_clean(c) for c in rec]) for i, rec in enumerate(reader, start=1)]
    return _Sheet(path.name, rows, used)


def _read_excel(path: Path, sheet: str | int | None) -> _Sheet:
    try:
        import openpyxl
    except ImportError:  # pragma: no cover - depends on the environment
        msg = f"reading {path.name} needs openpyxl: pip install openpyxl (or save the sheet as CSV)"
        raise DataSourceError(msg) from None
    try:
        book = openpyxl.load_workbook(path, read_only=False, data_only=True)
    except Exception as exc:  # zip or XML errors of a damaged file
        msg = f"cannot open {path.name} as an Excel workbook ({exc}); re-save it as .xlsx or CSV"
        raise DataSourceError(msg) from None
    names = book.sheetnames
    if sheet is None:
        ws = book[names[0]]
    elif isinstance(sheet, int) and not isinstance(sheet, bool) and 0 <= sheet < len(names):
        ws = book[names[sheet]]
    elif isinstance(sheet, str) and sheet in names:
        ws = book[sheet]
    else:
        msg = f"{path.name} has no sheet {sheet!r}; its sheets are {names} (give a name or a 0-based index)"
        raise ValidationError(msg)
    rows = [
        (i, [_cell_text(v) for v in values])
        for i, values in enumerate(ws.iter_rows(min_row=1, values_only=True), start=1)
    ]
    book.close()
    return _Sheet(path.name, rows, "xlsx")


def _read_rows(path: Path | str, encoding: str | None, sheet: str | int | None) -> _Sheet:
    path = Path(path)
    if not path.is_file():
        msg = f"registry file not found: {path}; check the path (relative paths start at {Path.cwd()})"
        raise DataSourceError(msg)
    suffix = path.suffix.lower()
    if suffix in _EXCEL:
        if encoding is not None:
            log.info("encoding=%r ignored for the Excel file %s", encoding, path.name)
        return _read_excel(path, sheet)
    if suffix == ".xls":
        msg = f"{path.name} is an old-format Excel file; open it in Excel or WPS and save it as .xlsx or CSV"
        raise ValidationError(msg)
    if sheet is not None:
        msg = f"sheet={sheet!r} applies to Excel files only; {path.name} is a text file"
        raise ValidationError(msg)
    if suffix not in _TEXT:
        log.info("reading %s as CSV (unknown suffix %r)", path.name, suffix)
    return _read_text(path, encoding)


# --------------------------------------------------------------------------- columns


def _resolve(
    header: list[str],
    columns: Mapping[str, str] | None,
    defaults: Mapping[str, tuple[str, ...]],
) -> dict[str, int]:
    """Field → column index for one header row (fields not found are absent)."""
    keys = [_header_key(h) for h in header]
    found: dict[str, int] = {}
    if columns:
        for source, target in columns.items():
            key = _header_key(str(source))
            if key in keys:
                found[target] = keys.index(key)
    used = set(found.values())
    for fld, names in defaults.items():
        if fld in found:
            continue
        for name in names:
            if name in keys and keys.index(name) not in used:
                found[fld] = keys.index(name)
                used.add(found[fld])
                break
    return found


def _find_header(
    sheet: _Sheet,
    columns: Mapping[str, str] | None,
    defaults: Mapping[str, tuple[str, ...]],
) -> tuple[int, dict[str, int]]:
    """Position (in ``sheet.rows``) of the header and the column of each field."""
    if columns:
        unknown = sorted(set(columns.values()) - set(defaults))
        if unknown:
            msg = (
                f"columns maps to unknown fields {unknown}; the fields are "
                f"{', '.join(defaults)} (map the file's header to them, e.g. {{'学校名称': 'name'}})"
            )
            raise ValidationError(msg)
    nonempty = [i for i, (_, cells) in enumerate(sheet.rows) if any(cells)]
    if not nonempty:
        msg = f"{sheet.file} has no rows; expected a header row and one row per entry"
        raise ValidationError(msg)
    for pos in nonempty[:_HEADER_SCAN]:
        found = _resolve(sheet.rows[pos][1], columns, defaults)
        if all(f in found for f in _REQUIRED):
            return pos, found
    first = sheet.rows[nonempty[0]][1]
    found = _resolve(first, columns, defaults)
    missing = [f for f in _REQUIRED if f not in found]
    header = [h for h in first if h]
    expected = {f: defaults[f][:4] for f in missing}
    keys = {_header_key(h) for h in header}
    absent = [c for c in (columns or {}) if _header_key(str(c)) not in keys]
    msg = (
        f"{sheet.file}: no header row with the required columns; missing {missing} "
        f"(recognised headers include {expected}); columns found: {header}. "
        + (f"The columns argument names headers not in the file: {absent}. " if absent else "")
        + "Pass columns={'<your header>': '<field>', ...} to say which column is which"
    )
    raise ValidationError(msg)


# --------------------------------------------------------------------------- vocabularies


@cache
def _kind_words() -> dict[str, str]:
    words = {k: k for k in KINDS}
    for k in KINDS:
        for lang in labels.LANGS:
            words[_word_key(labels.label(f"kind.{k}", lang=lang))] = k
    words.update({_word_key(w): k for k, ws in _KIND_SYNONYMS.items() for w in ws.split()})
    return words


@cache
def _tier_words() -> dict[str, tuple[str, tuple[str, ...]]]:
    """Word → (kind, tiers): our names, the zh/en labels, and the synonyms above."""
    kind_of = {t: k for k, ts in TIERS.items() for t in ts}
    words: dict[str, tuple[str, tuple[str, ...]]] = {}
    for tier, kind in kind_of.items():
        words[tier] = (kind, (tier,))
        for lang in labels.LANGS:
            words[_word_key(labels.label(f"tier.{tier}", lang=lang))] = (kind, (tier,))
    for word, tiers in _TIER_SYNONYMS.items():
        words[_word_key(word)] = (kind_of[tiers[0]], tiers)
    return words


@cache
def _level_words() -> dict[str, str]:
    words = {lv: lv for lv in LEVELS}
    for lv in LEVELS:
        for lang in labels.LANGS:
            words[_word_key(labels.label(f"level.{lv}", lang=lang))] = lv
    words.update({_word_key(w): lv for lv, ws in _LEVEL_SYNONYMS.items() for w in ws.split()})
    return words


def _allowed_tiers(kind: str) -> str:
    named = [f"{t} ({labels.label(f'tier.{t}')})" for t in TIERS[kind]]
    extra = [w for w, ts in _TIER_SYNONYMS.items() if _tier_words()[_word_key(w)][0] == kind]
    return ", ".join(named) + (f"; also {', '.join(extra)}" if extra else "")


def _allowed_kinds() -> str:
    return ", ".join(f"{k} ({labels.label(f'kind.{k}')})" for k in KINDS)


def _allowed_levels() -> str:
    return ", ".join(f"{lv} ({labels.label(f'level.{lv}')})" for lv in LEVELS)


def _order(kind: str, tiers: Iterable[str]) -> str:
    got = set(tiers)
    return ";".join(t for t in TIERS[kind] if t in got)


def _parse_tiers(text: str, kind: str | None) -> tuple[str | None, str, str | None]:
    """``(kind, tiers, error)`` from a tier cell; ``kind`` given or inferred."""
    kinds: set[str] = set()
    tiers: list[str] = []
    for part in _TIER_SPLIT.split(text):
        if not part:
            continue
        hit = _tier_words().get(_word_key(part))
        if hit is None:
            if kind is not None:
                return (
                    kind,
                    "",
                    f"unknown tier {part!r} for kind {kind}; allowed: {_allowed_tiers(kind)}",
                )
            allowed = "; ".join(f"{k}: {_allowed_tiers(k)}" for k in KINDS)
            return None, "", f"unknown tier {part!r}; allowed: {allowed}"
        kinds.add(hit[0])
        tiers.extend(hit[1])
    if kind is not None:
        wrong = sorted(k for k in kinds if k != kind)
        if wrong:
            return (
                kind,
                "",
                (
                    f"tier {text!r} belongs to kind {wrong[0]}, not {kind}; "
                    f"allowed for {kind}: {_allowed_tiers(kind)}"
                ),
            )
    elif len(kinds) > 1:
        return None, "", f"tier {text!r} mixes kinds {sorted(kinds)}; give one kind per row"
    elif kinds:
        kind = kinds.pop()
    return kind, (_order(kind, tiers) if kind else ""), None


def _parse_group(text: str) -> tuple[str | None, str, str | None]:
    kind: str | None = None
    tiers: list[str] = []
    for part in _TIER_SPLIT.split(text):
        if not part:
            continue
        try:
            k, t = parse_group(part)
        except ValidationError as exc:
            return None, "", str(exc)
        if kind is not None and k != kind:
            return None, "", f"group {text!r} mixes kinds {kind} and {k}; give one kind per row"
        kind = k
        if t:
            tiers.append(t)
    return kind, (_order(kind, tiers) if kind else ""), None


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


# --------------------------------------------------------------------------- readers


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
        ``group`` (``"school:primary"``), ``capacity``, ``address``. Fields not mapped
        are looked up among common headers (:data:`FACILITY_COLUMNS`: 名称, 学校名称,
        经度, 纬度, 类型, 学段…).
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
        (``"registry"``), ``capacity`` (float, NaN when absent), ``address``, ``row``
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
        r.values["capacity"] = _non_negative(r, rep, "capacity")

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
            "capacity": np.array([r.values["capacity"] for r in good], dtype=float),
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


# --------------------------------------------------------------------------- region files

#: Options of a ``registries`` entry of a region file besides ``file``, per list:
#: those of :func:`read_facilities` / :func:`read_villages`, and for facilities
#: those of :func:`merge`.
ENTRY_OPTIONS: dict[str, tuple[str, ...]] = {
    "facilities": (
        "datum",
        "kind",
        "columns",
        "encoding",
        "sheet",
        "max_distance_m",
        "min_similarity",
    ),
    "villages": ("datum", "columns", "encoding", "sheet"),
}
#: The entry options that go to the readers.
READ_OPTIONS = ("datum", "kind", "columns", "encoding", "sheet")


def check_entry(entry: Any, *, what: str, where: str) -> dict[str, Any]:
    """Check one ``registries.facilities`` or ``registries.villages`` entry of a region file.

    Every option is checked for its type and allowed values before anything is
    read: ``datum`` (wgs84, gcj02, bd09), ``encoding`` (a codec Python knows),
    ``kind`` (a facility kind), ``columns`` (headers mapped to known fields),
    ``sheet`` (a name or a 0-based index, Excel files only), ``max_distance_m``
    (metres > 0) and ``min_similarity`` (0–1); unknown options are refused. Whether
    the file exists and decodes is checked by :func:`check_file`.

    Parameters
    ----------
    entry
        The entry as read from YAML, e.g. ``{file: schools.csv, datum: gcj02}``.
    what
        ``"facilities"`` or ``"villages"``.
    where
        What to name in messages (the region file).

    Returns
    -------
    dict
        The entry, with ``datum`` normalised (``GCJ-02`` → ``gcj02``).

    Raises
    ------
    ValidationError
        Naming the file, the entry, the option, the value and what is allowed.
    """
    if what not in ENTRY_OPTIONS:
        msg = f"{where}: registries take facilities and villages lists, not {what!r}"
        raise ValidationError(msg)
    example = "{file: schools.csv, datum: gcj02}"
    file = entry.get("file") if isinstance(entry, Mapping) else None
    if not isinstance(file, str) or not file:
        msg = f"{where}: every registries.{what} entry needs a file, e.g. {example}; got {entry!r}"
        raise ValidationError(msg)
    name = entry["file"]
    at = f"{where}: registries.{what} entry {name}"
    allowed = ENTRY_OPTIONS[what]
    unknown = sorted(set(entry) - {"file", *allowed})
    if unknown:
        msg = f"{at}: unknown option(s) {', '.join(map(repr, unknown))}; the options are {', '.join(allowed)}"
        raise ValidationError(msg)
    out = dict(entry)
    suffix = Path(name).suffix.lower()
    if suffix == ".xls":
        msg = f"{at}: {name} is an old-format Excel file; open it in Excel or WPS and save it as .xlsx or CSV"
        raise ValidationError(msg)
    if "datum" in entry:
        try:
            out["datum"] = _datum.check_datum(entry["datum"])
        except ValidationError as exc:
            raise ValidationError(f"{at}: {exc}") from None
    encoding = entry.get("encoding")
    if encoding is not None:
        try:
            codecs.lookup(encoding if isinstance(encoding, str) else "")
        except LookupError:
            msg = f"{at}: unknown encoding {encoding!r}; use e.g. utf-8, gbk or gb18030, or leave it out to detect them"
            raise ValidationError(msg) from None
    kind = entry.get("kind")
    if kind is not None and kind not in KINDS:
        msg = f"{at}: unknown kind {kind!r}; use one of {', '.join(KINDS)}"
        raise ValidationError(msg)
    columns = entry.get("columns")
    fields = FACILITY_COLUMNS if what == "facilities" else VILLAGE_COLUMNS
    if columns is not None and (
        not isinstance(columns, Mapping)
        or not all(isinstance(k, str) and v in fields for k, v in columns.items())
    ):
        msg = (
            f"{at}: columns must map the file's headers to fields ({', '.join(fields)}), "
            f"e.g. {{学校名称: name}}; got {columns!r}"
        )
        raise ValidationError(msg)
    sheet = entry.get("sheet")
    if sheet is not None:
        if isinstance(sheet, bool) or not (
            (isinstance(sheet, int) and sheet >= 0) or (isinstance(sheet, str) and sheet)
        ):
            msg = f"{at}: sheet must be a sheet name or a 0-based index, got {sheet!r}"
            raise ValidationError(msg)
        if suffix not in _EXCEL:
            msg = f"{at}: sheet applies to Excel files (.xlsx) only; remove it for {name}"
            raise ValidationError(msg)
    rules = {
        "max_distance_m": ("metres > 0, e.g. 300", lambda v: v > 0),
        "min_similarity": ("a number from 0 to 1, e.g. 0.5", lambda v: 0 <= v <= 1),
    }
    for option, (rule, ok) in rules.items():
        value = entry.get(option, 1)
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not number or not math.isfinite(value) or not ok(value):
            msg = f"{at}: {option} must be {rule}; got {value!r}"
            raise ValidationError(msg)
    return out


def check_file(path: Path, entry: Mapping[str, Any], *, where: str) -> None:
    """Check that an existing text registry file decodes with the entry's encoding.

    With no ``encoding`` the detection of :func:`read_facilities` is tried (UTF-8,
    UTF-8 with BOM, GBK, GB18030). Excel files and missing files are left to the
    reader (a missing file may be made by an earlier step).

    Raises
    ------
    ValidationError
        Naming the region file, the registry file and the encoding.
    """
    if not path.is_file() or path.suffix.lower() in _EXCEL:
        return
    try:
        _decode(path.read_bytes(), path, entry.get("encoding"))
    except ValidationError as exc:
        raise ValidationError(f"{where}: registry file {path}: {exc}") from None


# --------------------------------------------------------------------------- names


_DIGITS = str.maketrans("0123456789", "〇一二三四五六七八九")
#: Leading administrative names that registries add and OSM usually omits
#: (河南省, 许昌市, 建安区, 鄢陵县); "城市", "社区", "小区"… are not prefixes.
_ADMIN_PREFIX = re.compile(r"^[^\W\d_]{2,4}?(?:省|(?<!城)市|县|(?<![社园城景小校])区)")
#: Characters dropped everywhere: township/village markers and the ordinal 第.
_MARKERS = str.maketrans("", "", "镇乡村第")
#: Generic type words at the end of a name, longest first; removing them keeps
#: "王庄小学" and "李庄小学" apart.
_TYPE_SUFFIXES = tuple(
    sorted(
        {
            "十二年一贯制学校",
            "九年一贯制学校",
            "初级中学",
            "高级中学",
            "完全中学",
            "中心小学",
            "中心学校",
            "实验学校",
            "小学",
            "中学",
            "学校",
            "教学点",
            "中心卫生院",
            "卫生院",
            "卫生室",
            "卫生所",
            "社区卫生服务中心",
            "医院",
            "图书馆",
            "城市书房",
            "书房",
            "综合文化站",
            "文化站",
            "农家书屋",
            "综合性文化服务中心",
            "文化服务中心",
            "公交站",
            "站",
        },
        key=len,
        reverse=True,
    )
)


def normalise_name(name: object) -> str:
    """The part of a facility name that tells it apart from its neighbours.

    Steps: NFKC (full-width → half-width), lower case, keep letters and digits only
    (brackets are dropped, their content kept), Arabic digits → Chinese numerals
    (1 → 一), leading administrative names removed (河南省许昌市建安区…), the
    characters 镇, 乡, 村 and 第 removed, and one generic type word at the end removed
    (小学, 初级中学, 卫生院, 图书馆…), each only when something is left.

    Examples
    --------
    >>> normalise_name("许昌市建安区五女店镇中心小学")
    '五女店'
    >>> normalise_name("城关镇第1小学")
    '城关一'
    """
    if not isinstance(name, str):
        return ""
    text = unicodedata.normalize("NFKC", name).lower()
    text = "".join(ch for ch in text if ch.isalnum()).translate(_DIGITS)
    while True:
        m = _ADMIN_PREFIX.match(text)
        if not m or len(text) - m.end() < 2:
            break
        text = text[m.end() :]
    stripped = text.translate(_MARKERS)
    text = stripped or text
    for suffix in _TYPE_SUFFIXES:
        if text.endswith(suffix) and len(text) > len(suffix):
            text = text[: -len(suffix)]
            break
    return text


def _grams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)} if len(text) > 1 else {text}


def similarity(a: object, b: object) -> float:
    """Name similarity in [0, 1]: Dice coefficient of character bigrams of the normalised names.

    ``2·|A ∩ B| / (|A| + |B|)`` where ``A`` and ``B`` are the sets of adjacent
    character pairs of :func:`normalise_name` of each name (a one-character name is
    its own set). A missing or empty name has similarity 0 with everything.

    Examples
    --------
    >>> similarity("城关镇第一小学", "城关一小")
    0.8
    >>> similarity("王庄小学", "李庄小学")
    0.0
    """
    x, y = normalise_name(a), normalise_name(b)
    if not x or not y:
        return 0.0
    if x == y:
        return 1.0
    ga, gb = _grams(x), _grams(y)
    return 2.0 * len(ga & gb) / (len(ga) + len(gb))


# --------------------------------------------------------------------------- merge


_MERGE_NEEDS = ("name", "kind", "tiers")
_PAIR_COLUMNS = (
    "registry_id",
    "osm_id",
    "registry_name",
    "osm_name",
    "kind",
    "distance_m",
    "similarity",
    "score",
    "status",
)


def _check_merge_input(frame: gpd.GeoDataFrame, what: str) -> None:
    if not isinstance(frame, gpd.GeoDataFrame):
        msg = f"{what} must be a GeoDataFrame (got {type(frame).__name__})"
        raise ValidationError(msg)
    missing = [c for c in _MERGE_NEEDS if c not in frame.columns]
    if missing:
        msg = (
            f"{what} facilities lack columns {missing}; pass classified facilities "
            "(accessibility.classify.facilities) or the table of read_facilities"
        )
        raise ValidationError(msg)
    if frame.crs is None and len(frame):
        msg = f"{what} facilities have no CRS; set it (e.g. .set_crs(4326)) before merging"
        raise ValidationError(msg)
    if not frame.index.is_unique:
        msg = f"{what} facility ids (the index) are not unique; fix the ids before merging"
        raise ValidationError(msg)


def _tiers(value: object) -> set[str]:
    return {t for t in str(value).split(";") if t} if isinstance(value, str) else set()


def merge(
    osm: gpd.GeoDataFrame,
    registry: gpd.GeoDataFrame,
    *,
    max_distance_m: float = 300,
    min_similarity: float = 0.5,
    crs: str,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Match registry facilities to OSM facilities one to one and combine them.

    A registry facility and an OSM facility are *candidates* when they are of the
    same ``kind``, their ``tiers`` overlap or either has none, and they lie at most
    ``max_distance_m`` apart. A candidate pair is *acceptable* when the names'
    :func:`similarity` is at least ``min_similarity``. Acceptable pairs are taken
    greedily by decreasing score

    ``score = similarity × (1 − distance / (2 · max_distance_m))``

    (a pair at the distance limit counts half), each facility at most once.

    Parameters
    ----------
    osm
        Classified OSM facilities (index = OSM id; ``name``, ``kind``, ``tiers``),
        any CRS.
    registry
        Registry facilities (:func:`read_facilities`' ``table``), any CRS.
    max_distance_m
        Largest distance between a matched pair, metres (> 0).
    min_similarity
        Smallest name similarity of a matched pair, in [0, 1].
    crs
        Projected CRS in metres used to measure distances, e.g. the region's UTM
        zone (:func:`accessibility.regions.metric_crs`).

    Returns
    -------
    merged : geopandas.GeoDataFrame
        In the CRS of ``osm`` (of ``registry`` if ``osm`` has none). Matched pairs
        are one row under the registry id: registry values win for ``name``,
        ``kind``, ``tiers`` and ``capacity`` where present, position (geometry)
        from OSM, ``osm_id`` = the OSM id, ``source`` = ``"registry"``. Unmatched OSM
        rows keep their id (also in ``osm_id``) and ``source`` = ``"osm"``; unmatched registry rows keep
        theirs with ``source`` = ``"registry"``. Column ``match`` is ``"matched"``,
        ``"osm_only"`` or ``"registry_only"``.
    pairs : pandas.DataFrame
        Every candidate pair: ``registry_id``, ``osm_id``, names, ``kind``,
        ``distance_m``, ``similarity``, ``score`` and ``status`` — ``"matched"``,
        ``"low_similarity"`` (names too different) or ``"taken"`` (one side matched
        better elsewhere); sorted by decreasing score.

    Raises
    ------
    ValidationError
        Missing columns, no CRS on an input, duplicate ids or ids shared by both
        inputs, a geographic ``crs``, or parameters out of range.
    """
    _check_merge_input(osm, "osm")
    _check_merge_input(registry, "registry")
    if not (isinstance(max_distance_m, (int, float)) and max_distance_m > 0):
        msg = f"max_distance_m must be a positive number of metres, got {max_distance_m!r}"
        raise ValidationError(msg)
    if not (isinstance(min_similarity, (int, float)) and 0 <= min_similarity <= 1):
        msg = f"min_similarity must be between 0 and 1, got {min_similarity!r}"
        raise ValidationError(msg)
    try:
        metric = pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError:
        msg = f"crs {crs!r} is not a CRS pyproj understands; give e.g. 'EPSG:32650'"
        raise ValidationError(msg) from None
    if not metric.is_projected or metric.axis_info[0].unit_name not in ("metre", "meter"):
        msg = (
            f"crs {crs!r} must be projected in metres to measure distances; use the region's "
            "UTM zone (accessibility.regions.metric_crs)"
        )
        raise ValidationError(msg)
    shared = osm.index.intersection(registry.index)
    if len(shared):
        earlier = (
            osm.loc[shared, "source"].eq("registry").to_numpy()
            if "source" in osm.columns
            else np.zeros(len(shared), dtype=bool)
        )
        if earlier.all():
            msg = (
                f"ids {list(shared[:5])} of this registry are already used by registry "
                "facilities merged before it (another registry file?); give each registry "
                "file its own ids (or leave its id column empty)"
            )
        else:
            msg = (
                f"ids {list(shared[~earlier][:5])} are used by both OSM and registry "
                "facilities; give the registry its own ids (or leave its id column empty)"
            )
        raise ValidationError(msg)

    out_crs = osm.crs if osm.crs is not None else registry.crs
    o = osm.to_crs(metric) if len(osm) else osm.set_crs(metric, allow_override=True)
    r = registry.to_crs(metric) if len(registry) else registry.set_crs(metric, allow_override=True)
    o_pts = o.geometry.centroid
    r_pts = r.geometry.centroid

    pairs: list[dict[str, Any]] = []
    if len(o) and len(r):
        ri, oi = o_pts.sindex.query(r_pts.to_numpy(), predicate="dwithin", distance=max_distance_m)
        for i, j in zip(ri, oi):
            rr, oo = r.iloc[i], o.iloc[j]
            if rr["kind"] != oo["kind"]:
                continue
            rt, ot = _tiers(rr["tiers"]), _tiers(oo["tiers"])
            if rt and ot and not rt & ot:
                continue
            dist = float(r_pts.iloc[i].distance(o_pts.iloc[j]))
            sim = similarity(rr["name"], oo["name"])
            pairs.append(
                {
                    "registry_id": r.index[i],
                    "osm_id": o.index[j],
                    "registry_name": rr["name"],
                    "osm_name": oo["name"],
                    "kind": rr["kind"],
                    "distance_m": dist,
                    "similarity": sim,
                    "score": sim * (1.0 - dist / (2.0 * max_distance_m)),
                    "status": "low_similarity" if sim < min_similarity else "",
                }
            )
    pairs.sort(
        key=lambda p: (-p["score"], p["distance_m"], str(p["registry_id"]), str(p["osm_id"]))
    )
    taken_r: dict[Any, Any] = {}
    taken_o: set[Any] = set()
    for p in pairs:
        if p["status"]:
            continue
        if p["registry_id"] in taken_r or p["osm_id"] in taken_o:
            p["status"] = "taken"
            continue
        p["status"] = "matched"
        taken_r[p["registry_id"]] = p["osm_id"]
        taken_o.add(p["osm_id"])
    report = pd.DataFrame(pairs, columns=list(_PAIR_COLUMNS))

    merged = _combine(osm, registry, taken_r, taken_o, out_crs)
    log.info(
        "merge: %d matched, %d OSM only, %d registry only (within %g m, similarity ≥ %g)",
        len(taken_r),
        len(osm) - len(taken_o),
        len(registry) - len(taken_r),
        max_distance_m,
        min_similarity,
    )
    return merged, report


def _combine(
    osm: gpd.GeoDataFrame,
    registry: gpd.GeoDataFrame,
    matched: Mapping[Any, Any],
    taken_o: set[Any],
    out_crs: Any,
) -> gpd.GeoDataFrame:
    o = osm.to_crs(out_crs) if len(osm) and osm.crs is not None else osm
    r = registry.to_crs(out_crs) if len(registry) and registry.crs is not None else registry
    geom_o, geom_r = o.geometry.name, r.geometry.name
    reg = pd.DataFrame(r.drop(columns=geom_r))
    reg["geometry"] = r.geometry.to_numpy()
    reg["osm_id"] = pd.Series([matched.get(i) for i in reg.index], index=reg.index, dtype=object)
    reg["match"] = np.where(reg["osm_id"].notna(), "matched", "registry_only")
    reg["source"] = "registry"
    for rid, oid in matched.items():
        orow = o.loc[oid]
        reg.at[rid, "geometry"] = orow[geom_o]
        for col in ("name", "tiers"):
            if not (isinstance(reg.at[rid, col], str) and reg.at[rid, col]) and col in o.columns:
                reg.at[rid, col] = orow[col]
        if "capacity" in o.columns and pd.isna(reg.at[rid, "capacity"]):
            reg.at[rid, "capacity"] = orow["capacity"]
    rest = pd.DataFrame(o.loc[[i for i in o.index if i not in taken_o]].drop(columns=geom_o))
    rest["geometry"] = o.loc[rest.index].geometry.to_numpy()
    rest["osm_id"] = pd.Series(list(rest.index), index=rest.index, dtype=object)
    rest["match"] = "osm_only"
    rest["source"] = "osm"
    frames = [f for f in (reg, rest) if len(f)]
    combined = pd.concat(frames) if frames else reg
    combined.index.name = "id"
    if "capacity" in combined.columns:
        combined["capacity"] = pd.to_numeric(combined["capacity"], errors="coerce").astype(float)
    else:
        combined["capacity"] = np.nan
    order = [
        c
        for c in (
            "name",
            "kind",
            "tiers",
            "confidence",
            "rule",
            "note",
            "source",
            "capacity",
            "osm_id",
            "match",
        )
        if c in combined.columns
    ]
    rest_cols = [c for c in combined.columns if c not in order and c != "geometry"]
    combined = combined[[*order, *rest_cols, "geometry"]]
    return gpd.GeoDataFrame(combined, geometry="geometry", crs=out_crs)
