"""The vocabulary of a registry file: the headers accepted for each field and the cell words.

In: header cells and kind, tier, group or level cells as read. Out: normalised keys
for matching (NFKC, no spaces, lower case, no bracketed suffix), and the kind, tiers
and level each word stands for, with the allowed values spelled out for messages.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable
from functools import cache
from typing import Any

from ... import labels
from ..._errors import ValidationError
from ...classify import KINDS, LEVELS, TIERS, parse_group

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
    # a supply figure (classify.SUPPLY_TAGS): where several headers of one field are
    # in a file, the first listed wins (beds open before beds planned); 执业（助理）医师数
    # is read as 执业医师数 (the bracket dropped)
    "beds": tuple(
        "beds 实有床位数 实有床位 开放床位数 开放床位 床位数 床位 核定床位数 核定床位 "
        "编制床位数 编制床位".split()
    ),
    "doctors": tuple(
        "doctors 执业医师数 执业医师 医师数 医师人数 医生数 医生人数 乡村医生数 "
        "乡村医生人数 乡村医生".split()
    ),
    "capacity": tuple("capacity 容量 学位数 核定学位 座位数 规模".split()),
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
