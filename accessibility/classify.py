"""Deciding what a mapped feature is: facility kind and tiers, settlement level.

Design
------
In:  candidate facilities (``pois`` of :mod:`accessibility.sources.osm`: name + OSM tags)
     and ``place=*`` nodes.
Out: the same rows with ``kind``, ``tiers`` (";"-joined), ``confidence`` (``tag``,
     ``name``, ``ambiguous``), ``rule`` (the id of the rule that decided) and ``note``;
     places get ``level`` and ``rule``. Features that are not facilities of this project
     (kindergartens, driving schools, colleges…) are dropped from :func:`facilities`'s
     result but listed by :func:`explain` and counted in the log.
Rules: ``rules/facilities.yml`` and ``rules/places.yml`` — data, read once; this module
     only interprets them. Tests: ``tests/test_classify.py`` covers every rule with
     names that must and must not match.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import geopandas as gpd
import pandas as pd

from . import _yaml
from ._errors import ValidationError

log = logging.getLogger(__name__)

KINDS = ("school", "health", "reading", "bus")
TIERS = {
    "school": ("primary", "middle", "high"),
    "health": ("village_clinic", "township_health_centre", "county_hospital"),
    "reading": ("library", "study_room", "cultural_station", "village_centre"),
    "bus": ("bus_stop",),
}
_BRACKETED = re.compile(r"[（(][^）)]*[）)]")
#: OSM tags read as a facility's supply (:mod:`accessibility.supply`): hospital beds,
#: doctors, and places (a school's pupils); kept as numeric columns of the same name.
SUPPLY_TAGS = ("beds", "doctors", "capacity")
LEVELS = ("county_seat", "township_seat", "admin_village", "natural_village", "residential")


@dataclass(frozen=True)
class Decision:
    """The outcome of classifying one feature."""

    kind: str | None
    tiers: tuple[str, ...]
    confidence: str
    rule: str
    note: str = ""


@dataclass(frozen=True)
class _Rule:
    id: str
    tags: tuple[tuple[str, frozenset[str]], ...]
    name: re.Pattern[str] | None
    data: dict[str, Any]

    def matches(self, tags: dict[str, str], name: str) -> bool:
        for key, values in self.tags:
            if key not in tags or ("*" not in values and tags[key] not in values):
                return False
        return self.name is None or bool(self.name.search(name))


def _load(file: str) -> dict[str, Any]:
    return _yaml.load(resources.files("accessibility.rules").joinpath(file).read_text("utf-8"))


def _compile(raw: list[dict[str, Any]]) -> tuple[_Rule, ...]:
    out = []
    for r in raw:
        tags = tuple((k, frozenset(str(v) for v in vs)) for k, vs in (r.get("tags") or {}).items())
        name = re.compile(r["name"]) if r.get("name") else None
        out.append(_Rule(id=r["id"], tags=tags, name=name, data=r))
    return tuple(out)


@cache
def _facility_rules() -> tuple[tuple[_Rule, ...], dict[str, str | None]]:
    table = _load("facilities.yml")
    levels = {str(k): v for k, v in table["school_levels"].items()}
    return _compile(table["rules"]), levels


@cache
def _place_rules() -> tuple[_Rule, ...]:
    return _compile(_load("places.yml")["rules"])


def _isced_tiers(tags: dict[str, str], levels: dict[str, str | None]) -> tuple[str, ...] | None:
    raw = tags.get("isced:level") or tags.get("school:level")
    if not raw:
        return None
    found: list[str] = []
    for part in re.split(r"[;,\s]+", raw.strip()):
        if re.fullmatch(r"\d-\d", part):
            lo, hi = int(part[0]), int(part[2])
            names = [levels.get(str(i)) for i in range(lo, hi + 1)]
        else:
            names = [levels.get(part)]
        found.extend(n for n in names if n)
    tiers = tuple(t for t in TIERS["school"] if t in found)
    return tiers or None


def classify_feature(tags: dict[str, str], name: str | None = None) -> Decision | None:
    """Classify one feature from its OSM tags and name.

    Returns ``None`` when no rule applies (the feature is not a candidate), a
    :class:`Decision` with ``kind=None`` when a rule says it is *not* a facility
    of this project (e.g. a kindergarten), else the kind, tiers and confidence.
    """
    name = name if name is not None else tags.get("name", "")
    # a bracketed part is a note, e.g. 城市书房（人民路店） or 第二人民医院（原XX镇卫生院）
    name = _BRACKETED.sub("", name)
    rules, levels = _facility_rules()
    for rule in rules:
        if not rule.matches(tags, name):
            continue
        d = rule.data
        if d.get("tiers_from_isced"):
            tiers = _isced_tiers(tags, levels)
            if tiers is None:
                continue
            return Decision(
                d["kind"], tiers, d.get("confidence", "tag"), rule.id, d.get("note", "")
            )
        return Decision(
            d.get("kind"),
            tuple(d.get("tiers") or ()),
            d.get("confidence", "name"),
            rule.id,
            d.get("note", ""),
        )
    return None


def facilities(pois: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Classify candidate facilities, keeping only those of a known kind.

    Parameters
    ----------
    pois
        Index = feature id; columns ``name`` and ``tags`` (dict of OSM tags), geometry
        in any CRS (kept as is).

    Returns
    -------
    geopandas.GeoDataFrame
        The facility rows with ``kind``, ``tiers`` (";"-joined, possibly empty),
        ``confidence``, ``rule`` and ``note`` added; the supply tags of
        :data:`SUPPLY_TAGS` (``beds``, ``doctors``, ``capacity``) as numbers (NaN when
        absent or not a number ≥ 0); ``tags`` dropped.
    """
    table = explain(pois)
    keep = table["kind"].notna()
    dropped = table.loc[~keep]
    if len(dropped):
        log.info(
            "%d mapped features are not facilities of this project (e.g. %s)",
            len(dropped),
            ", ".join(dropped["name"].astype(str).head(3)),
        )
    kept = table.loc[keep].copy()
    if "tags" in kept.columns:
        for key in SUPPLY_TAGS:
            kept[key] = [_tag_number(t, key) for t in kept["tags"]]
    return kept.drop(columns=["tags"], errors="ignore")


def _tag_number(tags: dict[str, str] | None, key: str) -> float:
    """A supply tag as a number (``beds=120`` → 120.0); NaN when absent or not a plain number ≥ 0."""
    raw = (tags or {}).get(key)
    try:
        value = float(str(raw).strip().replace(",", "")) if raw is not None else math.nan
    except ValueError:
        return math.nan
    return value if math.isfinite(value) and value >= 0 else math.nan


def explain(pois: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Like :func:`facilities` but keep every row, with ``kind`` missing when none applies."""
    missing = {"name", "tags"} - set(pois.columns)
    if missing:
        msg = f"candidate facilities lack columns {sorted(missing)}; expected 'name' and 'tags' (a dict per row)"
        raise ValidationError(msg)
    decisions = [
        classify_feature(t or {}, n if isinstance(n, str) else "")
        for t, n in zip(pois["tags"], pois["name"])
    ]
    out = pois.copy()
    out["kind"] = [d.kind if d else None for d in decisions]
    out["tiers"] = [";".join(d.tiers) if d else "" for d in decisions]
    out["confidence"] = [d.confidence if d and d.kind else "" for d in decisions]
    out["rule"] = [d.rule if d else "" for d in decisions]
    out["note"] = [d.note if d else "" for d in decisions]
    return out


def place_level(tags: dict[str, str], name: str = "") -> tuple[str | None, str]:
    """Return ``(level, rule id)`` for a place's tags and name; ``(None, "")`` when no rule applies."""
    for rule in _place_rules():
        if rule.matches(tags, name):
            return rule.data["level"], rule.id
    return None, ""


def places(places: gpd.GeoDataFrame, *, county_seat: str = "") -> gpd.GeoDataFrame:
    """Add ``level`` and ``level_rule`` to place nodes; rows of no known level are dropped.

    Parameters
    ----------
    places
        Columns ``place``, ``name`` and optionally ``capital``, ``admin_level`` (str).
    county_seat
        Name of the place that is the county seat when the data do not say so
        (a unit's ``seat`` in the region file); it wins over the tags.
    """
    if "place" not in places.columns:
        msg = "places lack the 'place' column (the OSM place=* value)"
        raise ValidationError(msg)
    levels = []
    for _, row in places.iterrows():
        tags = {
            k: str(row[k])
            for k in ("place", "capital", "admin_level")
            if k in row and isinstance(row[k], str) and row[k]
        }
        name = str(row.get("name", "") or "")
        if county_seat and name == county_seat:
            levels.append(("county_seat", "config.seat"))
        else:
            levels.append(place_level(tags, name))
    out = places.copy()
    out["level"] = [lv for lv, _ in levels]
    out["level_rule"] = [r for _, r in levels]
    if county_seat and "config.seat" not in out["level_rule"].to_numpy():
        log.warning(
            "the county seat %r named in the region file is not among the mapped places",
            county_seat,
        )
    return out.loc[out["level"].notna()]


def select(facilities: pd.DataFrame, group: str) -> pd.Index:
    """Return the ids of the facilities in a group.

    Parameters
    ----------
    facilities
        Classified facilities (``kind``, ``tiers``).
    group
        ``"kind"`` (every facility of the kind) or ``"kind:tier"`` (those serving the
        tier; a nine-year school serves both ``primary`` and ``middle``).
    """
    kind, tier = parse_group(group)
    mask = facilities["kind"] == kind
    if tier is not None:
        mask &= facilities["tiers"].fillna("").str.split(";").apply(lambda ts: tier in ts)
    return facilities.index[mask.to_numpy()]


def parse_group(group: str) -> tuple[str, str | None]:
    """Split and check a group string: ``"school:primary"`` → ``("school", "primary")``."""
    if not isinstance(group, str) or not group:
        msg = f"a facility group must be a string like 'school:primary' or 'health', got {group!r}"
        raise ValidationError(msg)
    kind, _, tier = group.partition(":")
    if kind not in KINDS:
        msg = f"unknown facility kind {kind!r} in {group!r}; choose one of: {', '.join(KINDS)}"
        raise ValidationError(msg)
    if tier and tier not in TIERS[kind]:
        msg = f"unknown tier {tier!r} for kind {kind!r}; choose one of: {', '.join(TIERS[kind])}"
        raise ValidationError(msg)
    return kind, (tier or None)
