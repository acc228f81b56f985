"""One place mapped twice counts once: merging duplicate facilities after classification.

Design
------
In:  classified facilities (:func:`accessibility.classify.facilities`: ``name``,
     ``kind``, ``tiers``, ``confidence``, ``rule``, ``note``; ``osm_type`` or an id
     starting ``n``/``w``/``r``; optionally ``source``), points in any CRS, and a
     metric CRS to measure distances in.
Out: :func:`merge` returns the facilities without the duplicates and a table of what
     was merged (one row per dropped facility: ``kept``, ``dropped``, ``kind``,
     ``kept_name``, ``dropped_name``, ``distance_m``, ``rule``), which the audit lists.
How: OSM often maps one place twice: a school as a node at its gate *and* as its
     grounds or building with the same name; a bus stop as ``highway=bus_stop`` *and*
     as ``public_transport=platform``. Counted twice, such a place doubles the
     facility counts, and with them the "facilities within 15 min" figures. The rules
     (``duplicates`` in ``rules/facilities.yml``) pair a row to keep with a row to
     drop: same kind, within a distance, names equal after :func:`normalise_name`
     (or one unnamed, for stops). Pairs are decided nearest first. The kept row is
     the node where a node and an area pair (mappers put it at the entrance or the
     main building, where people go), the ``highway=bus_stop`` of a stop, the lower
     id of two nodes. It keeps its point, id and name; its tiers become the union of
     the tiers of the group's most confident rows (``tag`` beats ``name`` beats
     ``ambiguous``, so a guess never adds a tier to a tagged school), and
     ``confidence``, ``rule`` and ``note`` come from the most confident row. A row
     that took another is never dropped by a later rule, so each dropped row names
     the row that stands for it. Registry rows (``source == "registry"``) are never
     merged here: :func:`accessibility.sources.registry.merge` matches them later.
Tests: ``tests/test_dedup.py`` (hand-made tables and a hand-written OSM file read
     through :mod:`accessibility.sources.osm`).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ._errors import ValidationError
from .classify import SUPPLY_TAGS, TIERS, _load

log = logging.getLogger(__name__)

#: Columns of the table of merged facilities.
COLUMNS = ("kept", "dropped", "kind", "kept_name", "dropped_name", "distance_m", "rule")
_RANK = {"tag": 0, "name": 1, "ambiguous": 2}
_TYPES = {"n": "node", "w": "way", "r": "relation"}
_BRACKETED = re.compile(r"[(\[【][^)\]】]*[)\]】]")
_NAMES = ("same", "same_or_unnamed")


@dataclass(frozen=True)
class _Rule:
    id: str
    kinds: frozenset[str]
    keep: dict[str, frozenset[str]]
    drop: dict[str, frozenset[str]]
    max_distance_m: float
    names: str
    one_to_one: bool


def _side(raw: Any, rule_id: str) -> dict[str, frozenset[str]]:
    side = {k: frozenset(str(v) for v in vs) for k, vs in (raw or {}).items()}
    unknown = set(side) - {"types", "rules"}
    if unknown or not side:
        msg = f"duplicate rule {rule_id}: keep/drop take 'types' and/or 'rules', got {sorted(side)}"
        raise ValidationError(msg)
    return side


@cache
def rules() -> tuple[_Rule, ...]:
    """The duplicate rules of ``rules/facilities.yml``, in order."""
    out = []
    for r in _load("facilities.yml").get("duplicates") or ():
        if r.get("names", "same") not in _NAMES:
            msg = f"duplicate rule {r['id']}: names must be one of {_NAMES}, got {r['names']!r}"
            raise ValidationError(msg)
        out.append(
            _Rule(
                id=r["id"],
                kinds=frozenset(r.get("kinds") or TIERS),
                keep=_side(r.get("keep"), r["id"]),
                drop=_side(r.get("drop"), r["id"]),
                max_distance_m=float(r["max_distance_m"]),
                names=r.get("names", "same"),
                one_to_one=bool(r.get("one_to_one", False)),
            )
        )
    return tuple(out)


def normalise_name(name: object) -> str:
    """A facility name as compared here: NFKC (full-width → half-width), bracketed
    notes removed, no whitespace, case folded; ``""`` for a missing name.

    Examples
    --------
    >>> normalise_name("王庄 小学（东校区）")
    '王庄小学'
    >>> normalise_name("ＡＢＣ Library")
    'abclibrary'
    """
    if not isinstance(name, str):
        return ""
    text = unicodedata.normalize("NFKC", name)
    text = _BRACKETED.sub("", text)
    return re.sub(r"\s+", "", text).casefold()


def empty_table() -> pd.DataFrame:
    """The table of merged facilities with no rows."""
    return pd.DataFrame(
        {c: pd.Series(dtype=float if c == "distance_m" else object) for c in COLUMNS}
    )


def merge(facilities: gpd.GeoDataFrame, *, crs: str) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Merge facilities that are one place mapped twice.

    Parameters
    ----------
    facilities
        Classified facilities, one point per row (any CRS), index = facility id.
    crs
        Metric CRS (metres) in which distances are measured, e.g. the study's UTM zone.

    Returns
    -------
    (geopandas.GeoDataFrame, pandas.DataFrame)
        The facilities without the dropped rows (kept rows with their merged tiers,
        same columns, order and CRS), and the merged table (columns :data:`COLUMNS`,
        one row per dropped facility, ``distance_m`` in metres to the kept row).
    """
    missing = {"name", "kind", "tiers"} - set(facilities.columns)
    if missing:
        msg = f"facilities lack columns {sorted(missing)}; pass the result of classify.facilities"
        raise ValidationError(msg)
    if facilities.empty or not rules():
        return facilities, empty_table()
    if not facilities.index.is_unique:
        dup = facilities.index[facilities.index.duplicated()].unique()[:5].tolist()
        msg = f"facility ids repeat: {dup}; duplicates are found among distinct ids"
        raise ValidationError(msg)
    pts = facilities.geometry.to_crs(crs)
    xy = np.column_stack([pts.x.to_numpy(float), pts.y.to_numpy(float)])
    ids = facilities.index.to_numpy()
    kinds = facilities["kind"].astype(str).to_numpy()
    names = np.array([normalise_name(n) for n in facilities["name"]], dtype=object)
    types = _types(facilities)
    classified = (
        facilities["rule"].fillna("").astype(str).to_numpy()
        if "rule" in facilities.columns
        else np.full(len(facilities), "", dtype=object)
    )
    eligible = np.ones(len(facilities), dtype=bool)
    if "source" in facilities.columns:
        eligible &= (facilities["source"] != "registry").to_numpy()
    eligible &= np.isfinite(xy).all(axis=1)
    tree = shapely.STRtree(shapely.points(np.where(np.isfinite(xy), xy, 0.0)))

    dropped_by: dict[int, tuple[int, float, str]] = {}  # dropped row -> (kept row, m, rule)
    keepers: set[int] = set()
    for rule in rules():

        def fits(side: dict[str, frozenset[str]], i: int, rule: _Rule = rule) -> bool:
            return (
                eligible[i]
                and kinds[i] in rule.kinds
                and types[i] in side.get("types", (types[i],))
                and classified[i] in side.get("rules", (classified[i],))
            )

        cand = np.flatnonzero(eligible)
        left, right = tree.query(
            shapely.points(xy[cand]), predicate="dwithin", distance=rule.max_distance_m
        )
        pairs: dict[tuple[int, int], float] = {}
        for a, b in zip(cand[left], right):
            if a == b or kinds[a] != kinds[b] or not _names_agree(names[a], names[b], rule.names):
                continue
            pair = _orient(int(a), int(b), fits, rule, keepers, ids)
            if pair is None:
                continue
            pairs[pair] = float(np.hypot(*(xy[pair[0]] - xy[pair[1]])))
        taken: set[int] = set()
        for (k, d), dist in sorted(
            pairs.items(), key=lambda p: (p[1], str(ids[p[0][0]]), str(ids[p[0][1]]))
        ):
            if k in dropped_by or d in dropped_by or d in keepers:
                continue
            if rule.one_to_one and k in taken:
                continue
            dropped_by[d] = (k, dist, rule.id)
            keepers.add(k)
            taken.add(k)

    if not dropped_by:
        return facilities, empty_table()
    out = facilities.copy()
    groups: dict[int, list[int]] = {}
    for d, (k, _, _) in dropped_by.items():
        groups.setdefault(k, [k]).append(d)
    for k, members in groups.items():
        _combine(out, facilities, k, members)
    order = sorted(dropped_by, key=lambda d: (dropped_by[d][2], str(ids[d])))
    table = pd.DataFrame(
        {
            "kept": [ids[dropped_by[d][0]] for d in order],
            "dropped": [ids[d] for d in order],
            "kind": [kinds[d] for d in order],
            "kept_name": [facilities["name"].iloc[dropped_by[d][0]] for d in order],
            "dropped_name": [facilities["name"].iloc[d] for d in order],
            "distance_m": [round(dropped_by[d][1], 1) for d in order],
            "rule": [dropped_by[d][2] for d in order],
        },
        columns=list(COLUMNS),
    )
    out = out.loc[~np.isin(np.arange(len(out)), list(dropped_by))].copy()
    counts = table["rule"].value_counts()
    log.info(
        "%d facilities mapped twice merged into the row that stands for them (%s)",
        len(table),
        ", ".join(f"{n} by {r}" for r, n in counts.items()),
    )
    return out, table


def _types(facilities: gpd.GeoDataFrame) -> np.ndarray:
    """``node``/``way``/``relation`` per row, from ``osm_type`` or the id's first letter."""
    from_id = [_TYPES.get(str(i)[:1], "") for i in facilities.index]
    if "osm_type" not in facilities.columns:
        return np.array(from_id, dtype=object)
    given = facilities["osm_type"].where(facilities["osm_type"].notna(), "").astype(str)
    return np.array([g or f for g, f in zip(given, from_id)], dtype=object)


def _names_agree(a: str, b: str, how: str) -> bool:
    if a and b:
        return a == b
    return how == "same_or_unnamed" and bool(a or b)


def _orient(
    a: int, b: int, fits: Any, rule: _Rule, keepers: set[int], ids: np.ndarray
) -> tuple[int, int] | None:
    """``(kept, dropped)`` for a pair under a rule, or None when neither way fits.

    When both ways fit (two nodes), the row that already took another keeps, else the
    lower OSM id (the older object).
    """
    ab = fits(rule.keep, a) and fits(rule.drop, b)
    ba = fits(rule.keep, b) and fits(rule.drop, a)
    if ab and ba:
        if (a in keepers) != (b in keepers):
            return (a, b) if a in keepers else (b, a)
        return (a, b) if _id_key(ids[a]) <= _id_key(ids[b]) else (b, a)
    if ab:
        return a, b
    if ba:
        return b, a
    return None


def _id_key(fid: object) -> tuple[int, str]:
    text = str(fid)
    digits = text[1:] if text[:1] in _TYPES else text
    return (int(digits), text) if digits.isdigit() else (0, text)


def _combine(
    out: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame, kept: int, members: list[int]
) -> None:
    """Set the kept row's tiers (and its confidence, rule, note) from its group."""
    conf = (
        facilities["confidence"].fillna("").astype(str).to_numpy()
        if "confidence" in facilities.columns
        else np.full(len(facilities), "", dtype=object)
    )
    best = min(_RANK.get(conf[m], len(_RANK)) for m in members)
    top = [m for m in members if _RANK.get(conf[m], len(_RANK)) == best]
    kind = str(facilities["kind"].iloc[kept])
    found: set[str] = set()
    for m in top:
        value = facilities["tiers"].iloc[m]
        found.update(t for t in str(value if isinstance(value, str) else "").split(";") if t)
    tiers = [t for t in TIERS.get(kind, ()) if t in found]
    tiers += sorted(found - set(tiers))
    col = out.columns.get_loc("tiers")
    out.iloc[kept, col] = ";".join(tiers)
    source = kept if kept in top else top[0]
    for name in ("confidence", "rule", "note"):
        if name in out.columns and source != kept:
            out.iloc[kept, out.columns.get_loc(name)] = facilities[name].iloc[source]
    # a supply figure (beds, doctors, places) mapped on one of the two: the kept row's
    # own first, else the surest row's, else any member's (one facility: never summed)
    for name in SUPPLY_TAGS:
        if name not in out.columns:
            continue
        values = pd.to_numeric(facilities[name], errors="coerce")
        for m in (kept, *top, *members):
            if np.isfinite(values.iloc[m]):
                out.iloc[kept, out.columns.get_loc(name)] = float(values.iloc[m])
                break
