"""Matching registry facilities with OSM facilities by kind, distance and name, and combining them.

In: two facility tables (classified OSM, a registry's table) and a metric CRS. Out:
the merged table (one row per matched pair, the rest kept) and every candidate pair
with its distance, name similarity, score and status.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj

from ..._errors import ValidationError
from ...classify import SUPPLY_TAGS

log = logging.getLogger(__package__)


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
        ``kind``, ``tiers`` and each supply figure (``beds``, ``doctors``,
        ``capacity``) where present, OSM's fill the ones the registry leaves
        blank; position (geometry) from OSM, ``osm_id`` = the OSM id,
        ``source`` = ``"registry"``. Unmatched OSM rows keep their id (also in
        ``osm_id``) and ``source`` = ``"osm"``; unmatched registry rows keep
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
    # each supply figure the registry leaves blank is taken from its OSM match (an older
    # registry file may have no column for it at all)
    supply = [t for t in SUPPLY_TAGS if t in o.columns]
    for tag in supply:
        if tag not in reg.columns:
            reg[tag] = np.nan
    for rid, oid in matched.items():
        orow = o.loc[oid]
        reg.at[rid, "geometry"] = orow[geom_o]
        for col in ("name", "tiers"):
            if not (isinstance(reg.at[rid, col], str) and reg.at[rid, col]) and col in o.columns:
                reg.at[rid, col] = orow[col]
        for tag in supply:
            if pd.isna(reg.at[rid, tag]):
                reg.at[rid, tag] = orow[tag]
    rest = pd.DataFrame(o.loc[[i for i in o.index if i not in taken_o]].drop(columns=geom_o))
    rest["geometry"] = o.loc[rest.index].geometry.to_numpy()
    rest["osm_id"] = pd.Series(list(rest.index), index=rest.index, dtype=object)
    rest["match"] = "osm_only"
    rest["source"] = "osm"
    frames = [f for f in (reg, rest) if len(f)]
    combined = pd.concat(frames) if frames else reg
    combined.index.name = "id"
    for tag in SUPPLY_TAGS:
        if tag in combined.columns:
            combined[tag] = pd.to_numeric(combined[tag], errors="coerce").astype(float)
        else:
            combined[tag] = np.nan
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
            *SUPPLY_TAGS,
            "osm_id",
            "match",
        )
        if c in combined.columns
    ]
    rest_cols = [c for c in combined.columns if c not in order and c != "geometry"]
    combined = combined[[*order, *rest_cols, "geometry"]]
    return gpd.GeoDataFrame(combined, geometry="geometry", crs=out_crs)
