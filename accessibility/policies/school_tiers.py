"""School layout tiers: where schools sit, how far children travel, what consolidation does.

Design
------
The claim tested (Xuchang's consolidation tiers, 学校布局层级): high schools in the
county seat, middle schools in the county seat or larger townships, primary schools
in towns or large administrative villages; villages too far from their school are
candidates for township boarding schools (乡镇寄宿制学校).

In:  a :class:`~accessibility.pipeline.Study` (or its facilities and places), and the
     tier rules of ``accessibility/rules/tiers.yml`` (:func:`load_rules`, with
     overrides from the caller).
Out:
- :func:`settlement_of` — the settlement each school sits in, its level and size;
- :func:`compliance` — per school and tier served: allowed or an exception, and why;
- :func:`access_by_tier` — per village, travel time to the nearest school of each tier
  *by that tier's mode* and limit, and the boarding school for villages beyond it;
- :func:`consolidate` — a closure scenario on a built router (no rebuild, no re-snap):
  times before/after, reassigned villages, children affected, villages newly beyond
  the limit, optionally a capacity-aware assignment (:func:`assign_with_capacity`);
- :func:`add_layers` — the map overlays: schools by their verdict against the tier
  rule (:func:`school_states`), boarding candidates with their boarding school, and
  the scenario's closed schools and reassigned villages, each with its own legend.

A tier with no school in the data (e.g. an extract whose schools carry no tier) is
*no data*, not "every village beyond": its times are NaN, its villages are not
beyond, its shares are NaN with ``status`` ``no_data``, its key figures have no
value, and its boarding and scenario are skipped with a note
(:meth:`TierAccess.note_missing`, :func:`consolidate_or_skip`).

Units: distances in metres (in the study's metric CRS), times in minutes in tables
(seconds inside the engine), geometries of returned tables in EPSG:4326.
Tests: ``tests/test_school_tiers.py`` — hand-placed schools and places, a hand-built
network for a closure, the sample county, and the notebook end to end.
"""

from __future__ import annotations

import functools
import html
import logging
import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
from scipy.spatial import cKDTree

from .. import _yaml, classify, engine, network, pipeline
from .._errors import ValidationError
from ..export import figure
from ..labels import label
from ..report import Notes
from . import _overlays

log = logging.getLogger(__name__)

#: School tiers, youngest first.
TIERS: Final[tuple[str, ...]] = classify.TIERS["school"]
#: Settlement level of a school with no place nearby.
NONE: Final[str] = "none"
#: Settlement sizes; ``any`` only in rule conditions.
SIZES: Final[tuple[str, ...]] = ("large", "small", "unknown")
#: Reasons a school is an exception to its tier rule (``""`` when compliant).
REASONS: Final[tuple[str, ...]] = (
    "no_settlement",
    "level_not_allowed",
    "too_small",
    "too_large",
    "population_unknown",
    "tier_unknown",
)
#: Tier name used in compliance tables for schools whose tier is not known.
UNKNOWN_TIER: Final[str] = "unknown"

_WHERE = "tier rules (accessibility/rules/tiers.yml or the overrides passed)"
_TOP_KEYS = ("settlements", "tiers", "boarding", "map")
_TIER_KEYS = ("allowed", "mode", "limit_min", "school_age_share", "close")
_SETTLEMENT_KEYS = ("radius_m", "large_population", "size")


# =========================================================================== rules
@dataclass(frozen=True)
class Condition:
    """A settlement a rule refers to: a level and a size (``large``, ``small`` or ``any``)."""

    level: str
    size: str = "any"

    def matches(self, level: str, size: str) -> bool:
        """Whether a settlement of this level and size satisfies the condition."""
        return level == self.level and (self.size == "any" or size == self.size)

    def describe(self, lang: str = "zh") -> str:
        """Readable form, e.g. ``"乡镇驻地（较大）"`` / ``"township seat (large)"``."""
        what = _level_label(self.level, lang)
        if self.size == "any":
            return what
        size = label(f"schools_size.{self.size}", lang=lang)
        return f"{what}（{size}）" if lang == "zh" else f"{what} ({size})"


@dataclass(frozen=True)
class SettlementRule:
    """How a settlement level is recognised around a school and how its size is judged.

    Attributes
    ----------
    level
        Settlement level (``county_seat``, ``township_seat``, ``admin_village``…).
    radius_m
        A school within this many metres of the place node may sit in it.
    large_population
        Population from which a place of this level is ``large``; ``None`` when the
        size is fixed by ``size``.
    size
        ``large`` or ``small`` for every place of the level, or ``None``.
    """

    level: str
    radius_m: float
    large_population: float | None = None
    size: str | None = None

    def size_of(self, population: float) -> str:
        """``large``, ``small`` or ``unknown`` (population missing) for one place."""
        if self.size is not None:
            return self.size
        if population is None or not np.isfinite(population):
            return "unknown"
        assert self.large_population is not None
        return "large" if population >= self.large_population else "small"


@dataclass(frozen=True)
class TierRule:
    """The rule of one school tier (see ``rules/tiers.yml``).

    Attributes
    ----------
    tier
        ``primary``, ``middle`` or ``high``.
    allowed
        Settlements a school of the tier may sit in.
    mode
        Travel mode of the tier's pupils (``rules/speeds.yml``).
    limit_min
        Longest acceptable one-way trip, minutes.
    school_age_share
        Pupils of the tier per resident (0–1).
    close
        What a consolidation closes by default: conditions, or ``"noncompliant"``.
    """

    tier: str
    allowed: tuple[Condition, ...]
    mode: str
    limit_min: float
    school_age_share: float
    close: tuple[Condition, ...] | str

    def judge(self, level: str, size: str) -> tuple[bool, str]:
        """``(compliant, reason)`` for a school of this tier in a settlement of ``level``/``size``.

        The reason is ``""`` when compliant, else one of :data:`REASONS`.
        """
        if level == NONE and not any(c.level == NONE for c in self.allowed):
            return False, "no_settlement"
        same_level = [c for c in self.allowed if c.level == level]
        if not same_level:
            return False, "level_not_allowed"
        if any(c.matches(level, size) for c in same_level):
            return True, ""
        if size == "unknown":
            return False, "population_unknown"
        return False, "too_small" if size == "small" else "too_large"

    def describe_allowed(self, lang: str = "zh") -> str:
        """The allowed settlements as one readable string."""
        sep = "、" if lang == "zh" else "; "
        return sep.join(c.describe(lang) for c in self.allowed)


@dataclass(frozen=True)
class TierRules:
    """All tier rules: settlements, tiers, boarding levels, map classes.

    Build it with :func:`load_rules`; do not change it in place.
    """

    settlements: Mapping[str, SettlementRule]
    tiers: Mapping[str, TierRule]
    boarding_levels: tuple[str, ...]
    map_thresholds_min: tuple[float, ...]

    def tier(self, tier: str) -> TierRule:
        """The rule of one tier; a clear error for an unknown tier name."""
        check_tier(tier)
        return self.tiers[tier]

    def size_of(self, level: str, population: float) -> str:
        """Size of a settlement of ``level`` (``""`` for a level without a rule, e.g. ``none``)."""
        rule = self.settlements.get(level)
        return rule.size_of(population) if rule is not None else ""

    def thresholds_min(self, tiers: Sequence[str] = TIERS) -> list[float]:
        """Map classes: the configured thresholds plus each tier's limit, minutes, sorted."""
        values = set(self.map_thresholds_min) | {self.tier(t).limit_min for t in tiers}
        return sorted(values)

    def classes_min(self, tier: str) -> list[float]:
        """A tier's map classes, minutes: the configured thresholds below its limit, then
        the limit (``[15, 30]`` for a 30-minute tier), so the classes end at what the rule
        allows and the same minutes get the same colour as on every other map."""
        limit = self.tier(tier).limit_min
        return [t for t in self.map_thresholds_min if t < limit] + [limit]


def check_tier(tier: str) -> str:
    """Validate a school tier name."""
    if tier not in TIERS:
        msg = f"unknown school tier {tier!r}; choose one of: {', '.join(TIERS)}"
        raise ValidationError(msg)
    return tier


def check_tiers(tiers: Sequence[str] | None) -> tuple[str, ...]:
    """Validate a list of school tiers (``None``: all, youngest first)."""
    if tiers is None:
        return TIERS
    if isinstance(tiers, str):
        msg = f"tiers must be a list like ['primary', 'middle'], got the string {tiers!r}"
        raise ValidationError(msg)
    out = tuple(check_tier(t) for t in tiers)
    if not out:
        msg = "tiers is empty; name at least one of: " + ", ".join(TIERS)
        raise ValidationError(msg)
    if len(set(out)) != len(out):
        msg = f"tiers lists a tier twice: {list(out)}; list each tier once"
        raise ValidationError(msg)
    return out


@functools.cache
def _default_text() -> str:
    return resources.files("accessibility.rules").joinpath("tiers.yml").read_text("utf-8")


@functools.cache
def _default_rules() -> TierRules:
    return _parse(_yaml.load(_default_text()))


def load_rules(
    overrides: Mapping[str, Any] | None = None,
    *,
    modes: Mapping[str, str] | None = None,
    limits_min: Mapping[str, float] | None = None,
) -> TierRules:
    """The tier rules of ``rules/tiers.yml``, with a caller's overrides.

    Parameters
    ----------
    overrides
        A dict of the same shape as ``tiers.yml`` (e.g. a region's
        ``{"settlements": {"township_seat": {"large_population": 20000}}}``); mappings
        are merged key by key, lists replaced.
    modes
        Travel mode per tier, e.g. ``{"middle": "bicycle"}`` (on top of ``overrides``).
    limits_min
        Time limit per tier in minutes, e.g. ``{"primary": 20}``.

    Returns
    -------
    TierRules

    Raises
    ------
    ValidationError
        An unknown key, tier, level, size or mode; a radius, threshold, limit or share
        out of range. The message names the entry and what to write instead.
    """
    if overrides is None and not modes and not limits_min:
        return _default_rules()
    raw: dict[str, Any] = _yaml.load(_default_text())
    if overrides is not None:
        if not isinstance(overrides, Mapping):
            msg = f"tier rule overrides must be a dict shaped like rules/tiers.yml, got {type(overrides).__name__}"
            raise ValidationError(msg)
        raw = _yaml.merged(raw, overrides)
    for name, extra, key in (("modes", modes, "mode"), ("limits_min", limits_min, "limit_min")):
        if not extra:
            continue
        if not isinstance(extra, Mapping):
            msg = f"{name} must map tiers to values, e.g. {{'primary': ...}}; got {extra!r}"
            raise ValidationError(msg)
        per_tier = {check_tier(str(t)): {key: value} for t, value in extra.items()}
        raw = _yaml.merged(raw, {"tiers": per_tier})
    return _parse(raw)


def _number(value: Any, where: str, *, low: float, high: float = math.inf, open_low: bool) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = (value > low if open_low else value >= low) and value <= high
    if not ok:
        bound = f"> {low:g}" if open_low else f">= {low:g}"
        upper = f" and <= {high:g}" if math.isfinite(high) else ""
        msg = f"{_WHERE}: {where} must be a number {bound}{upper}, got {value!r}"
        raise ValidationError(msg)
    return float(value)


def _keys(entry: Any, allowed: Sequence[str], where: str) -> Mapping[str, Any]:
    if not isinstance(entry, Mapping):
        msg = f"{_WHERE}: {where} must be a mapping with keys {', '.join(allowed)}, got {entry!r}"
        raise ValidationError(msg)
    unknown = sorted(set(map(str, entry)) - set(allowed))
    if unknown:
        msg = f"{_WHERE}: unknown key(s) {unknown} in {where}; known: {', '.join(allowed)}"
        raise ValidationError(msg)
    return entry


def _conditions(raw: Any, where: str, levels: Sequence[str]) -> tuple[Condition, ...]:
    if not isinstance(raw, list):
        msg = f"{_WHERE}: {where} must be a list like [{{level: county_seat}}, {{level: township_seat, size: large}}]"
        raise ValidationError(msg)
    out = []
    for i, entry in enumerate(raw):
        item = _keys(entry, ("level", "size"), f"{where}[{i}]")
        level = str(item.get("level", ""))
        if level not in (*levels, NONE):
            msg = f"{_WHERE}: {where}[{i}] has level {level!r}; use one of {', '.join((*levels, NONE))}"
            raise ValidationError(msg)
        size = str(item.get("size", "any"))
        if size not in ("large", "small", "any"):
            msg = f"{_WHERE}: {where}[{i}] has size {size!r}; use large, small or any"
            raise ValidationError(msg)
        out.append(Condition(level, size))
    return tuple(out)


def _parse(raw: Any) -> TierRules:
    top = _keys(raw, _TOP_KEYS, "the top level")
    settlements_raw = top.get("settlements")
    if not isinstance(settlements_raw, Mapping) or not settlements_raw:
        msg = f"{_WHERE}: 'settlements' must map levels ({', '.join(classify.LEVELS)}) to {{radius_m: ..., large_population: ... | size: ...}}"
        raise ValidationError(msg)
    settlements: dict[str, SettlementRule] = {}
    for level, entry in settlements_raw.items():
        where = f"settlements.{level}"
        if level not in classify.LEVELS:
            msg = f"{_WHERE}: unknown settlement level {level!r}; use one of {', '.join(classify.LEVELS)}"
            raise ValidationError(msg)
        item = _keys(entry, _SETTLEMENT_KEYS, where)
        radius = _number(item.get("radius_m"), f"{where}.radius_m", low=0, open_low=True)
        large = item.get("large_population")
        size = item.get("size")
        if (large is None) == (size is None):
            msg = f"{_WHERE}: {where} needs exactly one of large_population (a population) or size (large or small)"
            raise ValidationError(msg)
        if size is not None and size not in ("large", "small"):
            msg = f"{_WHERE}: {where}.size must be large or small, got {size!r}"
            raise ValidationError(msg)
        if large is not None:
            large = _number(large, f"{where}.large_population", low=0, open_low=False)
        settlements[str(level)] = SettlementRule(str(level), radius, large, size)
    levels = tuple(settlements)

    tiers_raw = top.get("tiers")
    if not isinstance(tiers_raw, Mapping):
        msg = f"{_WHERE}: 'tiers' must map {', '.join(TIERS)} to their rules"
        raise ValidationError(msg)
    unknown = sorted(set(map(str, tiers_raw)) - set(TIERS))
    if unknown:
        msg = f"{_WHERE}: unknown tier(s) {unknown}; the school tiers are {', '.join(TIERS)}"
        raise ValidationError(msg)
    missing = [t for t in TIERS if t not in tiers_raw]
    if missing:
        msg = f"{_WHERE}: tiers {missing} have no rule; add them under 'tiers'"
        raise ValidationError(msg)
    tiers: dict[str, TierRule] = {}
    for tier in TIERS:
        where = f"tiers.{tier}"
        item = _keys(tiers_raw[tier], _TIER_KEYS, where)
        lacking = [k for k in _TIER_KEYS if k not in item]
        if lacking:
            msg = f"{_WHERE}: {where} lacks {lacking}; every tier needs {', '.join(_TIER_KEYS)}"
            raise ValidationError(msg)
        allowed = _conditions(item["allowed"], f"{where}.allowed", levels)
        if not allowed:
            msg = f"{_WHERE}: {where}.allowed is empty; list at least one settlement level"
            raise ValidationError(msg)
        mode = str(item["mode"])
        try:
            network.mode_rules(mode)
        except ValidationError as exc:
            msg = f"{_WHERE}: {where}.mode: {exc}"
            raise ValidationError(msg) from None
        limit = _number(item["limit_min"], f"{where}.limit_min", low=0, open_low=True)
        share = _number(
            item["school_age_share"], f"{where}.school_age_share", low=0, high=1, open_low=True
        )
        close_raw = item["close"]
        close: tuple[Condition, ...] | str
        if close_raw == "noncompliant":
            close = "noncompliant"
        else:
            close = _conditions(close_raw, f"{where}.close", levels)
        tiers[tier] = TierRule(tier, allowed, mode, limit, share, close)

    boarding = _keys(top.get("boarding") or {}, ("levels",), "boarding")
    b_levels = boarding.get("levels", ["county_seat", "township_seat"])
    if not isinstance(b_levels, list) or not b_levels or any(lv not in levels for lv in b_levels):
        msg = f"{_WHERE}: boarding.levels must be a non-empty list of settlement levels from {list(levels)}, got {b_levels!r}"
        raise ValidationError(msg)
    map_raw = _keys(top.get("map") or {}, ("thresholds_min",), "map")
    try:
        thresholds = engine.check_thresholds(map_raw.get("thresholds_min", [15, 30, 45, 60]))
    except ValidationError as exc:
        msg = f"{_WHERE}: map.thresholds_min: {exc}"
        raise ValidationError(msg) from None
    return TierRules(
        settlements=MappingProxyType(settlements),
        tiers=MappingProxyType(tiers),
        boarding_levels=tuple(str(lv) for lv in b_levels),
        map_thresholds_min=tuple(thresholds),
    )


def parse_close_rule(
    rule: str | Sequence[Mapping[str, Any]], rules: TierRules
) -> tuple[Condition, ...] | str:
    """Check a closure rule given by a caller: ``"noncompliant"`` or ``[{level:…, size:…}, …]``."""
    if rule == "noncompliant":
        return "noncompliant"
    if isinstance(rule, tuple) and all(isinstance(c, Condition) for c in rule):
        return rule
    if isinstance(rule, str):
        msg = f"a closure rule is 'noncompliant' or a list like [{{'level': 'admin_village', 'size': 'small'}}], got {rule!r}"
        raise ValidationError(msg)
    return _conditions(list(rule), "rule", tuple(rules.settlements))


# =========================================================================== helpers
def _level_label(level: str, lang: str) -> str:
    if level == NONE:
        return label("schools_ui.no_settlement", lang=lang)
    return label(f"level.{level}", lang=lang)


def _check_metric_crs(crs: Any) -> str:
    try:
        parsed = pyproj.CRS.from_user_input(crs)
    except (pyproj.exceptions.CRSError, TypeError) as exc:
        msg = f"crs {crs!r} is not a coordinate reference system; pass the study's metric CRS (study.crs, e.g. 'EPSG:32650')"
        raise ValidationError(msg) from exc
    if not parsed.is_projected:
        msg = f"crs {crs!r} is not projected; distances need metres: pass the study's metric CRS (study.crs, e.g. 'EPSG:32650')"
        raise ValidationError(msg)
    return parsed.to_string()


def _check_points(frame: Any, what: str, columns: Sequence[str] = ()) -> gpd.GeoDataFrame:
    if not isinstance(frame, gpd.GeoDataFrame):
        msg = f"{what} must be a GeoDataFrame with a CRS (e.g. study.{what}), got {type(frame).__name__}"
        raise ValidationError(msg)
    if frame.crs is None:
        msg = f"{what} has no CRS; set it (longitude/latitude: {what}.set_crs(4326))"
        raise ValidationError(msg)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        msg = f"{what} lacks the column(s) {missing}; use study.{what} or add them"
        raise ValidationError(msg)
    if not frame.index.is_unique:
        msg = f"{what} ids (the index) must be unique; drop or rename the duplicates"
        raise ValidationError(msg)
    return frame


def _xy(frame: gpd.GeoDataFrame, crs: str) -> np.ndarray:
    """Coordinates (metres, ``crs``) of a point on each geometry; NaN where there is none."""
    geoms = frame.geometry.to_crs(crs)
    empty = (geoms.isna() | geoms.is_empty).to_numpy()
    out = np.full((len(frame), 2), np.nan)
    if (~empty).any():
        pts = geoms[~empty].representative_point()
        out[~empty, 0] = pts.x.to_numpy()
        out[~empty, 1] = pts.y.to_numpy()
    return out


def _tiers_of(value: Any) -> list[str]:
    text = value if isinstance(value, str) else ""
    return [t for t in text.split(";") if t]


def _population_text(population: float) -> str:
    return f"{population:,.0f}" if population is not None and np.isfinite(population) else "?"


# =========================================================================== settlements
def _radii(rules: TierRules, radius_m: float | Mapping[str, float] | None) -> dict[str, float]:
    """Radius in metres per settlement level: the rules', replaced by ``radius_m``."""
    radii = {lvl: s.radius_m for lvl, s in rules.settlements.items()}
    if isinstance(radius_m, Mapping):
        unknown = sorted(set(radius_m) - set(radii))
        if unknown:
            msg = f"radius_m names unknown levels {unknown}; use {', '.join(radii)}"
            raise ValidationError(msg)
        radii.update({str(k): float(v) for k, v in radius_m.items()})
    elif radius_m is not None:
        radii = dict.fromkeys(radii, float(radius_m))
    bad = {k: v for k, v in radii.items() if not (np.isfinite(v) and v > 0)}
    if bad:
        msg = f"radius_m must be finite and > 0 metres, got {bad}"
        raise ValidationError(msg)
    return radii


def settlement_of(
    facilities: gpd.GeoDataFrame,
    places: gpd.GeoDataFrame,
    *,
    crs: str,
    radius_m: float | Mapping[str, float] | None = None,
    rules: TierRules | None = None,
) -> pd.DataFrame:
    """The settlement each facility sits in, with its level, population and size.

    For every settlement level of the rules (``county_seat``, ``township_seat``,
    ``admin_village``, ``natural_village``), the nearest place of that level within
    the level's radius is a candidate; the facility sits in the candidate it lies
    deepest in, i.e. with the smallest ``distance / radius`` (ties go to the higher
    level). A facility with no candidate sits in ``"none"``. Places of other levels
    (e.g. ``residential``) are ignored.

    Parameters
    ----------
    facilities
        Points (any CRS), index = facility id.
    places
        Place points (any CRS) with ``level`` and, when known, ``name`` and
        ``population`` (residents; NaN = unknown). ``study.places`` fits.
    crs
        A projected CRS in metres for the distances (``study.crs``).
    radius_m
        Metres; one number for every level, or a mapping level → metres for some;
        default (``None``): each level's ``radius_m`` in the rules.
    rules
        Tier rules (:func:`load_rules`; default: ``rules/tiers.yml``): radii and the
        ``large_population`` thresholds.

    Returns
    -------
    pandas.DataFrame
        Index = facility id; ``settlement_id``, ``settlement`` (name), ``level``
        (``"none"`` when none), ``population``, ``size`` (``large``, ``small``,
        ``unknown`` — no population — or ``""`` for ``none``), ``distance_m``
        (metres to the place node; NaN for ``none``).
    """
    rules = rules if rules is not None else load_rules()
    crs = _check_metric_crs(crs)
    _check_points(facilities, "facilities")
    _check_points(places, "places", ("level",))
    radii = _radii(rules, radius_m)

    n = len(facilities)
    f_xy = _xy(facilities, crs)
    valid = np.isfinite(f_xy).all(axis=1)
    if not valid.all():
        log.warning(
            "%d facilities without geometry sit in no settlement (ids %s)",
            int((~valid).sum()),
            facilities.index[~valid][:5].tolist(),
        )
    pl = places.loc[places["level"].isin(list(radii))]
    p_xy = _xy(pl, crs)
    p_ok = np.isfinite(p_xy).all(axis=1)
    best_score = np.full(n, np.inf)
    best_pos = np.full(n, -1, dtype=np.int64)
    best_dist = np.full(n, np.nan)
    levels = pl["level"].to_numpy()
    for level, radius in radii.items():  # rules order: higher levels first win ties
        sel = np.flatnonzero((levels == level) & p_ok)
        if sel.size == 0 or not valid.any():
            continue
        dist, idx = cKDTree(p_xy[sel]).query(f_xy[valid], k=1, distance_upper_bound=radius)
        found = np.isfinite(dist)
        score = np.full(n, np.inf)
        pos = np.full(n, -1, dtype=np.int64)
        d_all = np.full(n, np.nan)
        rows = np.flatnonzero(valid)[found]
        score[rows] = dist[found] / radius
        pos[rows] = sel[idx[found]]
        d_all[rows] = dist[found]
        better = score < best_score
        best_score[better], best_pos[better], best_dist[better] = (
            score[better],
            pos[better],
            d_all[better],
        )

    has = best_pos >= 0
    names = pl["name"] if "name" in pl.columns else pd.Series(None, index=pl.index, dtype=object)
    pops = (
        pd.to_numeric(pl["population"], errors="coerce")
        if "population" in pl.columns
        else pd.Series(np.nan, index=pl.index)
    )
    settlement_id = np.full(n, None, dtype=object)
    settlement = np.full(n, None, dtype=object)
    level = np.full(n, NONE, dtype=object)
    population = np.full(n, np.nan)
    settlement_id[has] = pl.index.to_numpy()[best_pos[has]]
    settlement[has] = names.to_numpy()[best_pos[has]]
    level[has] = levels[best_pos[has]]
    population[has] = pops.to_numpy(dtype=float)[best_pos[has]]
    size = [rules.size_of(lv, p) for lv, p in zip(level, population)]
    return pd.DataFrame(
        {
            "settlement_id": settlement_id,
            "settlement": settlement,
            "level": level,
            "population": population,
            "size": np.asarray(size, dtype=object),
            "distance_m": best_dist,
        },
        index=facilities.index,
    )


# =========================================================================== compliance
@dataclass
class Compliance:
    """The tier check of every school (see :func:`compliance`).

    Attributes
    ----------
    by_tier
        One row per (school, tier served), index ``(id, tier)``: ``name``, ``tiers``,
        ``confidence``, ``settlement``, ``settlement_id``, ``level``, ``size``,
        ``population``, ``distance_m``, ``allowed`` (readable), ``compliant`` (bool),
        ``reason`` (code, ``""`` when compliant), ``note`` (readable).
    schools
        One row per school (WGS-84 points), index = id: the school's columns, its
        settlement, ``{tier}_status`` (``compliant``, ``exception`` or ``""`` when the
        school does not serve the tier), ``compliant`` (every tier served is),
        ``reason`` and ``note`` (joined with ``; ``).
    exceptions
        The rows of ``by_tier`` that are not compliant.
    summary
        Per tier: ``schools``, ``compliant``, ``exceptions``, ``compliant_share``,
        ``in_<level>`` counts and one count per reason.
    lang
        Language of ``allowed`` and ``note``.
    """

    by_tier: pd.DataFrame
    schools: gpd.GeoDataFrame
    exceptions: pd.DataFrame
    summary: pd.DataFrame
    lang: str = "zh"


def _sources(data: Any, crs: str | None) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, str, Any]:
    if isinstance(data, pipeline.Study):
        return data.facilities, data.places, crs or data.crs, data.boundary.iloc[0]
    if isinstance(data, Mapping):
        missing = {"facilities", "places"} - set(data)
        if missing:
            msg = f"the tables passed lack {sorted(missing)}; pass {{'facilities': ..., 'places': ..., 'crs': ...}} or a Study"
            raise ValidationError(msg)
        the_crs = crs or data.get("crs")
        facilities, places = data["facilities"], data["places"]
    elif isinstance(data, tuple | list) and len(data) == 2:
        facilities, places = data
        the_crs = crs
    else:
        msg = f"pass a Study, a (facilities, places) pair or a dict with 'facilities' and 'places'; got {type(data).__name__}"
        raise ValidationError(msg)
    if the_crs is None:
        msg = "pass crs= (a metric CRS such as the study's, e.g. 'EPSG:32650') with tables"
        raise ValidationError(msg)
    return facilities, places, str(the_crs), None


def compliance(
    data: pipeline.Study | tuple[gpd.GeoDataFrame, gpd.GeoDataFrame] | Mapping[str, Any],
    rules: TierRules | None = None,
    *,
    crs: str | None = None,
    radius_m: float | Mapping[str, float] | None = None,
    lang: str = "zh",
) -> Compliance:
    """Check every school against its tier rule: does it sit in an allowed settlement?

    A combined school (nine-year, complete middle school…) is judged once per tier it
    serves: a nine-year school in a large administrative village complies for primary
    and is an exception for middle. A school with no settlement nearby is an exception
    (``no_settlement``); one whose settlement's size matters but whose population is
    unknown is an exception (``population_unknown``) rather than a guess; a school of
    no known tier is listed with tier ``"unknown"`` (``tier_unknown``).

    Parameters
    ----------
    data
        A :class:`~accessibility.pipeline.Study` (its schools inside the boundary are
        checked — those in the buffer belong to neighbours), or the tables:
        ``(facilities, places)`` or ``{"facilities": ..., "places": ..., "crs": ...}``
        (facilities with ``kind``, ``tiers``; places with ``level``, ``name``,
        ``population``).
    rules
        Tier rules (default: ``rules/tiers.yml``).
    crs
        Metric CRS for distances; default the study's (required with tables).
    radius_m
        Settlement radii, see :func:`settlement_of`.
    lang
        Language of ``allowed`` and ``note``: ``"zh"`` or ``"en"``.

    Returns
    -------
    Compliance
    """
    rules = rules if rules is not None else load_rules()
    label("schools_ui.title", lang=lang)  # checks lang
    facilities, places, crs, boundary = _sources(data, crs)
    _check_points(facilities, "facilities", ("kind", "tiers"))
    schools = facilities.loc[facilities["kind"] == "school"]
    if boundary is not None:
        inside = schools.within(boundary).to_numpy()
        if (~inside).any():
            log.info(
                "%d schools in the buffer outside the boundary are not checked (they serve "
                "villages across the border and still count for access)",
                int((~inside).sum()),
            )
        schools = schools.loc[inside]
    settle = settlement_of(schools, places, crs=crs, radius_m=radius_m, rules=rules)
    radii = _radii(rules, radius_m)
    unit = "米" if lang == "zh" else "m"
    sep = "、" if lang == "zh" else ", "
    radius_text = sep.join(f"{_level_label(k, lang)} {v:,.0f} {unit}" for k, v in radii.items())

    rows: list[dict[str, Any]] = []
    index: list[tuple[Hashable, str]] = []
    names = schools["name"] if "name" in schools.columns else pd.Series("", index=schools.index)
    confidence = (
        schools["confidence"]
        if "confidence" in schools.columns
        else pd.Series("", index=schools.index)
    )
    for fid, tiers_text in schools["tiers"].items():
        s = settle.loc[fid]
        base = {
            "name": names.loc[fid],
            "tiers": tiers_text if isinstance(tiers_text, str) else "",
            "confidence": confidence.loc[fid],
            "settlement": s["settlement"],
            "settlement_id": s["settlement_id"],
            "level": s["level"],
            "size": s["size"],
            "population": s["population"],
            "distance_m": s["distance_m"],
        }
        served = [t for t in _tiers_of(tiers_text) if t in rules.tiers]
        if not served:
            index.append((fid, UNKNOWN_TIER))
            rows.append(
                {
                    **base,
                    "allowed": "",
                    "compliant": False,
                    "reason": "tier_unknown",
                    "note": label("schools_reason.tier_unknown", lang=lang),
                }
            )
            continue
        for tier in served:
            rule = rules.tiers[tier]
            ok, reason = rule.judge(str(s["level"]), str(s["size"]))
            allowed = rule.describe_allowed(lang)
            note = ""
            if not ok:
                note = label(f"schools_reason.{reason}", lang=lang).format(
                    tier=label(f"tier.{tier}", lang=lang),
                    level=_level_label(str(s["level"]), lang),
                    settlement="?" if pd.isna(s["settlement"]) else s["settlement"],
                    population=_population_text(s["population"]),
                    allowed=allowed,
                    radius=radius_text,
                )
            index.append((fid, tier))
            rows.append(
                {**base, "allowed": allowed, "compliant": ok, "reason": reason, "note": note}
            )
    columns = [
        "name",
        "tiers",
        "confidence",
        "settlement",
        "settlement_id",
        "level",
        "size",
        "population",
        "distance_m",
        "allowed",
        "compliant",
        "reason",
        "note",
    ]
    idx_name = facilities.index.name or "id"
    by_tier = pd.DataFrame(
        rows,
        index=pd.MultiIndex.from_tuples(index, names=[idx_name, "tier"])
        if index
        else pd.MultiIndex.from_arrays([[], []], names=[idx_name, "tier"]),
        columns=columns,
    )
    by_tier["compliant"] = by_tier["compliant"].astype(bool)

    # one row per school
    wide = schools.drop(columns=[c for c in settle.columns if c in schools.columns]).join(settle)
    tiers_of_row = by_tier.index.get_level_values("tier")
    ids_of_row = by_tier.index.get_level_values(0)
    for tier in TIERS:
        status = pd.Series("", index=schools.index, dtype=object)
        mask = tiers_of_row == tier
        status.loc[ids_of_row[mask]] = np.where(
            by_tier["compliant"].to_numpy()[mask], "compliant", "exception"
        )
        wide[f"{tier}_status"] = status
    grouped = by_tier.groupby(level=0, sort=False)
    wide["compliant"] = grouped["compliant"].all().reindex(schools.index).fillna(False).astype(bool)
    wide["reason"] = (
        grouped["reason"].agg(lambda r: "; ".join(x for x in r if x)).reindex(schools.index)
    )
    wide["note"] = (
        grouped["note"].agg(lambda r: "; ".join(x for x in r if x)).reindex(schools.index)
    )

    exceptions = by_tier.loc[~by_tier["compliant"]]
    summary_rows = {}
    for tier in (*TIERS, UNKNOWN_TIER):
        part = by_tier.loc[tiers_of_row == tier]
        if tier == UNKNOWN_TIER and part.empty:
            continue
        row: dict[str, Any] = {
            "schools": len(part),
            "compliant": int(part["compliant"].sum()),
            "exceptions": int((~part["compliant"]).sum()),
            "compliant_share": float(part["compliant"].mean()) if len(part) else np.nan,
        }
        for level in (*rules.settlements, NONE):
            row[f"in_{level}"] = int((part["level"] == level).sum())
        for reason in REASONS:
            row[reason] = int((part["reason"] == reason).sum())
        summary_rows[tier] = row
    summary = pd.DataFrame.from_dict(summary_rows, orient="index")
    summary.index.name = "tier"
    log.info(
        "school tiers: %d schools checked, %d exceptions (%s)",
        len(schools),
        len(exceptions),
        ", ".join(f"{t}: {r['exceptions']}" for t, r in summary_rows.items()),
    )
    return Compliance(
        by_tier=by_tier, schools=wide, exceptions=exceptions, summary=summary, lang=lang
    )


# =========================================================================== access by tier
@dataclass
class TierAccess:
    """Travel time from every village to a school of each tier, by the tier's mode.

    Attributes
    ----------
    villages
        One row per village (WGS-84), index = village id: ``name``, ``level``,
        ``population``, ``leg_m``, ``snap_flag`` and per tier with
        ``key = "school_<tier>"``: ``{key}_time_min`` (minutes, by the tier's mode;
        ``inf`` unreachable, NaN when the data have no school of the tier),
        ``{key}_facility``, ``{key}_facility_name``, ``{key}_flag``,
        ``{key}_beyond`` (time above the limit or unreachable; false when the data
        have no school of the tier: no data, not beyond) and
        ``{key}_children`` (population × school-age share).
    boarding
        Boarding candidates: one row per (village, tier) beyond the limit, index
        ``(id, tier)``: ``name``, ``population``, ``children``, ``time_min``,
        ``limit_min``, ``mode``, ``nearest_school``/``_name``, ``boarding_school``/
        ``_name`` (the nearest school of the tier in a settlement of a boarding level:
        township or county seat), ``boarding_settlement``, ``boarding_level``,
        ``boarding_time_min``; ``boarding_school`` is missing when there is none.
    boarding_schools
        Per (tier, boarding school): ``name``, ``settlement``, ``villages``,
        ``children`` — the intake a boarding school would take.
    summary
        Per tier: ``mode``, ``limit_min``, ``schools``, ``villages``, ``population``,
        ``median_min``, ``p90_min``, ``max_min``, ``within_limit_share``,
        ``within_limit_pop_share``, ``beyond``, ``population_beyond``,
        ``children_beyond``, ``unreachable``, ``boarding_schools``,
        ``no_boarding_school`` and ``status`` (``ok``, or ``no_data`` for a tier with
        no school in the data: its shares and counts beyond are then NaN).
    studies
        The prepared study per travel mode (one per distinct mode of the tiers).
    rules, tiers
        What was computed.
    """

    villages: gpd.GeoDataFrame
    boarding: pd.DataFrame
    boarding_schools: pd.DataFrame
    summary: pd.DataFrame
    studies: dict[str, pipeline.Study]
    rules: TierRules
    tiers: tuple[str, ...]

    def study_for(self, tier: str) -> pipeline.Study:
        """The study (router) built for a tier's travel mode."""
        mode = self.rules.tier(tier).mode
        if mode not in self.studies:
            msg = f"no {mode} study was prepared for the {tier} tier; include {tier!r} in tiers"
            raise ValidationError(msg)
        return self.studies[mode]

    @property
    def groups(self) -> list[str]:
        """Facility groups of the tiers (``"school:primary"``…), e.g. for maps."""
        return [f"school:{t}" for t in self.tiers]

    def subtitle(self, lang: str = "zh") -> str:
        """Each tier's mode and limit in one line, for map subtitles."""
        parts = [
            label("schools_ui.tier_rule", lang=lang).format(
                tier=label(f"schools_tier_short.{t}", lang=lang),
                mode=label(f"mode.{self.rules.tier(t).mode}", lang=lang),
                limit=f"{self.rules.tier(t).limit_min:g}",
            )
            for t in self.tiers
        ]
        return " · ".join(parts)

    @property
    def missing(self) -> list[str]:
        """Tiers with no school in the data (their results are no data)."""
        return [t for t in self.tiers if int(self.summary.loc[t, "schools"]) == 0]

    def note_missing(self, notes: Notes) -> list[str]:
        """Record in ``notes`` each tier with no school in the data; return those tiers."""
        for tier in self.missing:
            notes.skip(
                "tier",
                "no_tier_schools",
                tier=tuple(label(f"schools_tier_short.{tier}", lang=g) for g in ("zh", "en")),
            )
        return self.missing


def tier_times(
    router: engine.Router,
    facilities: pd.DataFrame,
    tier: str,
    *,
    limit_min: float,
    population: pd.Series | None = None,
    school_age_share: float = 1.0,
) -> pd.DataFrame:
    """Nearest school of one tier for every origin of a router, and whether it is beyond a limit.

    Returns a table indexed by origin id with the ``school_<tier>_*`` columns described
    in :class:`TierAccess` (``_children`` only when ``population`` is given).
    """
    check_tier(tier)
    key = engine.group_key(f"school:{tier}")
    ids = classify.select(facilities, f"school:{tier}")
    if len(ids) == 0:
        log.warning("no school of tier %r in the data: its times are no data, not beyond", tier)
    near = router.nearest(ids)
    minutes = near["time_s"].to_numpy(float) / 60.0
    names = facilities["name"] if "name" in facilities.columns else pd.Series(dtype=object)
    out = pd.DataFrame(
        {
            f"{key}_time_min": minutes,
            f"{key}_facility": near["facility_id"].to_numpy(),
            f"{key}_facility_name": names.reindex(near["facility_id"]).to_numpy(),
            f"{key}_flag": near["flag"].to_numpy(),
            f"{key}_beyond": minutes > limit_min,  # inf (unreachable) is beyond, NaN is no data
        },
        index=near.index,
    )
    if population is not None:
        pop = pd.to_numeric(population.reindex(near.index), errors="coerce").to_numpy(float)
        out[f"{key}_children"] = pop * school_age_share
    return out


def _boarding(
    b_near: pd.DataFrame,
    table: pd.DataFrame,
    key: str,
    villages: gpd.GeoDataFrame,
    population: pd.Series,
    rule: TierRule,
    facilities: pd.DataFrame,
    settle: pd.DataFrame,
) -> pd.DataFrame:
    """Boarding candidates of one tier: villages beyond the limit and their boarding school."""
    b_id = b_near["facility_id"]
    names = villages["name"].to_numpy() if "name" in villages else None
    part = pd.DataFrame(
        {
            "name": names,
            "population": population.to_numpy(),
            "children": table[f"{key}_children"].to_numpy(),
            "time_min": table[f"{key}_time_min"].to_numpy(),
            "limit_min": rule.limit_min,
            "mode": rule.mode,
            "nearest_school": table[f"{key}_facility"].to_numpy(),
            "nearest_school_name": table[f"{key}_facility_name"].to_numpy(),
            "boarding_school": b_id.to_numpy(),
            "boarding_school_name": facilities["name"].reindex(b_id).to_numpy(),
            "boarding_settlement": settle["settlement"].reindex(b_id).to_numpy(),
            "boarding_level": settle["level"].reindex(b_id).to_numpy(),
            "boarding_time_min": b_near["time_s"].to_numpy(float) / 60.0,
        },
        index=pd.MultiIndex.from_arrays(
            [villages.index, np.full(len(villages), rule.tier, dtype=object)],
            names=[villages.index.name or "id", "tier"],
        ),
    )
    return part.loc[table[f"{key}_beyond"].to_numpy()]


def _access_summary(
    table: pd.DataFrame,
    key: str,
    population: pd.Series,
    rule: TierRule,
    schools: int,
    boarding: pd.DataFrame,
) -> dict[str, Any]:
    """One row of :attr:`TierAccess.summary`."""
    t = table[f"{key}_time_min"].to_numpy(float)
    beyond = table[f"{key}_beyond"].to_numpy()
    reach = np.isfinite(t)
    within = np.where(np.isnan(t), False, t <= rule.limit_min)
    pop = population.to_numpy(float)
    known = np.isfinite(pop)
    total = pop[known].sum()
    if schools == 0:  # no school of the tier in the data: no data, never 0 % or all beyond
        return {
            "mode": rule.mode,
            "limit_min": rule.limit_min,
            "school_age_share": rule.school_age_share,
            "schools": 0,
            "villages": len(t),
            "population": float(total),
            **dict.fromkeys(("median_min", "p90_min", "max_min"), np.nan),
            **dict.fromkeys(("within_limit_share", "within_limit_pop_share"), np.nan),
            **dict.fromkeys(("beyond", "population_beyond", "children_beyond"), np.nan),
            "unreachable": 0,
            "boarding_schools": 0,
            "no_boarding_school": 0,
            "status": "no_data",
        }
    return {
        "mode": rule.mode,
        "limit_min": rule.limit_min,
        "school_age_share": rule.school_age_share,
        "schools": schools,
        "villages": len(t),
        "population": float(total),
        "median_min": float(np.median(t[reach])) if reach.any() else np.nan,
        "p90_min": float(np.percentile(t[reach], 90)) if reach.any() else np.nan,
        "max_min": float(t[reach].max()) if reach.any() else np.nan,
        "within_limit_share": float(within.mean()) if t.size else np.nan,
        "within_limit_pop_share": float(pop[known & within].sum() / total) if total > 0 else np.nan,
        "beyond": int(beyond.sum()),
        "population_beyond": float(pop[known & beyond].sum()),
        "children_beyond": float(pop[known & beyond].sum() * rule.school_age_share),
        "unreachable": int((~reach & ~np.isnan(t)).sum()),
        "boarding_schools": int(boarding["boarding_school"].dropna().nunique()),
        "no_boarding_school": int(boarding["boarding_school"].isna().sum()),
        "status": "ok",
    }


def access_by_tier(
    region: str,
    unit: str | None = None,
    rules: TierRules | None = None,
    *,
    tiers: Sequence[str] | None = None,
    origin_levels: Sequence[str] = pipeline.DEFAULT_ORIGIN_LEVELS,
    origins: str | Path | None = None,
    grid_m: float | None = None,
    osm_file: Path | str | None = None,
    offline: bool = False,
    studies: Mapping[str, pipeline.Study] | None = None,
    radius_m: float | Mapping[str, float] | None = None,
    progress: bool | None = None,
) -> TierAccess:
    """Travel time from every village to the nearest school of each tier, by that tier's mode.

    One :func:`accessibility.pipeline.prepare` per distinct travel mode of the tiers
    (the network of each mode is cached on disk); tiers sharing a mode share its
    study. For every village beyond its tier's limit, the boarding school is the
    nearest school of that tier (by the tier's mode) sitting in a settlement of a
    boarding level (``rules/tiers.yml``: township or county seat).

    Parameters
    ----------
    region, unit
        As for :func:`accessibility.pipeline.prepare`.
    rules
        Tier rules (:func:`load_rules`); modes and limits come from here.
    tiers
        Tiers to compute; default all three.
    origin_levels
        Settlement levels used as villages (default administrative villages).
    origins, grid_m
        Where trips start (villages, places, a grid…), as for
        :func:`accessibility.pipeline.prepare`.
    osm_file, offline
        As for :func:`accessibility.pipeline.prepare`.
    studies
        Already prepared studies by mode name, reused instead of preparing again.
    radius_m
        Settlement radii for locating boarding schools, see :func:`settlement_of`.
    progress
        Progress bars; default ``settings.progress``.

    Returns
    -------
    TierAccess
    """
    rules = rules if rules is not None else load_rules()
    tier_list = check_tiers(tiers)
    given = dict(studies or {})
    for mode, study in given.items():
        if not isinstance(study, pipeline.Study) or study.mode != mode:
            msg = (
                f"studies must map each mode to a Study prepared with that mode; {mode!r} does not"
            )
            raise ValidationError(msg)
    built: dict[str, pipeline.Study] = {}
    for tier in tier_list:
        mode = rules.tier(tier).mode
        if mode in built:
            continue
        if mode in given:
            built[mode] = given[mode]
            continue
        log.info("preparing the %s network for %s schools", mode, tier)
        built[mode] = pipeline.prepare(
            region,
            unit=unit,
            mode=mode,
            osm_file=osm_file,
            offline=offline,
            origin_levels=origin_levels,
            origins=origins,
            grid_m=grid_m,
            progress=progress,
        )
    first = built[rules.tier(tier_list[0]).mode]
    for mode, study in built.items():
        if not study.origins.index.equals(first.origins.index):
            msg = f"the {mode} study has other villages than the {first.mode} study; prepare both for the same region, unit and origin levels"
            raise ValidationError(msg)

    base_cols = [
        c for c in ("name", "level", "population", "leg_m", "snap_flag") if c in first.origins
    ]
    villages = first.origins[[*base_cols, first.origins.geometry.name]].copy()
    population = (
        pd.to_numeric(villages["population"], errors="coerce")
        if "population" in villages.columns
        else pd.Series(np.nan, index=villages.index)
    )
    facilities = first.facilities
    schools = facilities.loc[facilities["kind"] == "school"]
    settle = settlement_of(schools, first.places, crs=first.crs, radius_m=radius_m, rules=rules)
    boarding_ids = settle.index[settle["level"].isin(rules.boarding_levels).to_numpy()]

    tables = []
    boarding_rows = []
    summary_rows = {}
    for tier in tier_list:
        rule = rules.tier(tier)
        study = built[rule.mode]
        key = engine.group_key(f"school:{tier}")
        table = tier_times(
            study.router,
            study.facilities,
            tier,
            limit_min=rule.limit_min,
            population=population,
            school_age_share=rule.school_age_share,
        )
        tables.append(table)
        tier_ids = classify.select(study.facilities, f"school:{tier}")
        b_ids = tier_ids[tier_ids.isin(boarding_ids)]
        part = _boarding(
            study.router.nearest(b_ids), table, key, villages, population, rule, facilities, settle
        )
        boarding_rows.append(part)
        summary_rows[tier] = _access_summary(table, key, population, rule, len(tier_ids), part)
    villages = villages.join(pd.concat(tables, axis=1))
    boarding = pd.concat(boarding_rows)
    loads = (
        boarding.dropna(subset=["boarding_school"])
        .reset_index()
        .groupby(["tier", "boarding_school"], sort=False)
        .agg(
            name=("boarding_school_name", "first"),
            settlement=("boarding_settlement", "first"),
            level=("boarding_level", "first"),
            villages=("time_min", "size"),
            children=("children", "sum"),
        )
    )
    summary = pd.DataFrame.from_dict(summary_rows, orient="index")
    summary.index.name = "tier"
    log.info(
        "villages beyond the limit: %s",
        ", ".join(f"{t} {r['beyond']}/{r['villages']}" for t, r in summary_rows.items()),
    )
    return TierAccess(
        villages=villages,
        boarding=boarding,
        boarding_schools=loads,
        summary=summary,
        studies=built,
        rules=rules,
        tiers=tier_list,
    )


# =========================================================================== scenarios
def scenario_table(
    router: engine.Router,
    tier_ids: Sequence[Hashable] | pd.Index,
    close_ids: Sequence[Hashable] | pd.Index,
    *,
    limit_min: float,
    population: pd.Series | None = None,
    school_age_share: float = 1.0,
    before: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Times before and after closing some schools of a set, on a built router.

    The "after" times are one multi-source search from the remaining schools
    (:meth:`accessibility.engine.Router.nearest`): no rebuild, no re-snap. Removing
    sources never shortens a trip, and a village whose nearest school stays open
    keeps its time.

    Parameters
    ----------
    router
        Built on the villages and (at least) these schools.
    tier_ids
        The schools open before the scenario.
    close_ids
        The schools closed (a subset of ``tier_ids``).
    limit_min
        Time limit, minutes.
    population
        Residents per village (index = origin id); children = population × share.
    school_age_share
        Pupils per resident (0–1).
    before
        ``router.nearest(tier_ids)`` when already computed (many scenarios on one
        baseline); computed otherwise.

    Returns
    -------
    pandas.DataFrame
        Index = origin id: ``before_min``, ``before_school``, ``after_min``,
        ``after_school``, ``delta_min`` (minutes; ``inf`` when the village loses every
        school it could reach), ``reassigned`` (its nearest school closed),
        ``children``, ``beyond_before``, ``beyond_after``, ``newly_beyond``,
        ``after_flag``.
    """
    ids = pd.Index(tier_ids)
    closed = pd.Index(close_ids)
    outside = closed[~closed.isin(ids)]
    if len(outside):
        msg = f"schools {outside[:5].tolist()} are closed but not in the set of open schools; close only schools of the tier"
        raise ValidationError(msg)
    remaining = ids[~ids.isin(closed)]
    if before is None:
        before = router.nearest(ids)
    elif not before.index.equals(router.origins.index) or "facility_id" not in before:
        msg = "before must be router.nearest(tier_ids) of this router (same origins, same columns)"
        raise ValidationError(msg)
    after = router.nearest(remaining)
    b_min = before["time_s"].to_numpy(float) / 60.0
    a_min = after["time_s"].to_numpy(float) / 60.0
    b_school = before["facility_id"].to_numpy()
    with np.errstate(invalid="ignore"):
        delta = np.where(a_min == b_min, 0.0, a_min - b_min)
    reassigned = pd.Index(b_school).isin(closed) if len(closed) else np.zeros(len(b_min), bool)
    beyond_before = ~(b_min <= limit_min)
    beyond_after = ~(a_min <= limit_min)
    if population is not None:
        pop = pd.to_numeric(population.reindex(before.index), errors="coerce").to_numpy(float)
        children = pop * school_age_share
    else:
        children = np.full(len(b_min), np.nan)
    return pd.DataFrame(
        {
            "before_min": b_min,
            "before_school": b_school,
            "after_min": a_min,
            "after_school": after["facility_id"].to_numpy(),
            "delta_min": delta,
            "reassigned": np.asarray(reassigned, dtype=bool),
            "children": children,
            "beyond_before": beyond_before,
            "beyond_after": beyond_after,
            "newly_beyond": beyond_after & ~beyond_before,
            "after_flag": after["flag"].to_numpy(),
        },
        index=before.index,
    )


def scenario_summary(table: pd.DataFrame, *, schools_before: int, closed: int) -> dict[str, Any]:
    """Totals of a :func:`scenario_table`: villages reassigned, children affected, new exceedances.

    ``children_affected`` is the sum of ``children`` over reassigned villages;
    ``mean_increase_min``/``max_increase_min`` are over reassigned villages that can
    still reach a school.
    """
    re = table["reassigned"].to_numpy()
    delta = table["delta_min"].to_numpy(float)
    finite = re & np.isfinite(delta)
    children = table["children"].to_numpy(float)
    newly = table["newly_beyond"].to_numpy()
    return {
        "schools_before": int(schools_before),
        "closed": int(closed),
        "schools_after": int(schools_before - closed),
        "villages": len(table),
        "reassigned": int(re.sum()),
        "children_affected": float(np.nansum(children[re])),
        "mean_increase_min": float(delta[finite].mean()) if finite.any() else 0.0,
        "max_increase_min": float(delta[finite].max()) if finite.any() else 0.0,
        "lost_access": int((re & ~np.isfinite(table["after_min"].to_numpy(float))).sum()),
        "beyond_before": int(table["beyond_before"].sum()),
        "beyond_after": int(table["beyond_after"].sum()),
        "newly_beyond": int(newly.sum()),
        "children_newly_beyond": float(np.nansum(children[newly])),
        "population_unknown": int((re & np.isnan(children)).sum()),
    }


def assign_with_capacity(
    router: engine.Router,
    demand: pd.Series,
    seats: pd.Series,
    *,
    search_limit_min: float,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Place children in schools with free seats, nearest pairs first (greedy).

    Method: every (village, school) pair within ``search_limit_min`` is listed with
    its travel time (:meth:`accessibility.engine.Router.pairs_within`, bounded
    searches); pairs are taken in order of increasing time, and each places
    ``min(children still unplaced in the village, seats still free in the school)``.
    This is a simple heuristic, not an optimal assignment: it never sends a child
    farther while a nearer free seat exists for that village at the moment the pair
    is reached, but it does not minimise the total travel time. Children with no
    free seat within the search limit stay unplaced.

    Parameters
    ----------
    router
        Built on the villages and schools.
    demand
        Children to place per village (index = origin id; NaN or ≤ 0: none).
    seats
        Free seats per school (index = facility id; ``inf`` = unlimited; ≤ 0: full).
    search_limit_min
        Longest trip considered, minutes.

    Returns
    -------
    (villages, schools)
        ``villages`` (index = origin id, rows with demand): ``children``,
        ``placed``, ``unplaced``, ``school`` (the school taking most of them),
        ``mean_min`` (placed children's mean time), ``max_min``.
        ``schools`` (index = facility id): ``seats``, ``assigned``, ``seats_left``.
    """
    limit = float(search_limit_min)
    if not np.isfinite(limit) or limit <= 0:
        msg = f"search_limit_min must be finite and > 0 minutes, got {search_limit_min!r}"
        raise ValidationError(msg)
    d = pd.to_numeric(demand, errors="coerce").fillna(0.0).clip(lower=0.0)
    d = d.loc[d > 0]
    s = pd.to_numeric(seats, errors="coerce").fillna(np.inf).clip(lower=0.0)
    open_ids = s.index[(s > 0).to_numpy()]
    o_pos = router.origins.index.get_indexer(d.index)
    if (o_pos < 0).any():
        msg = f"villages {d.index[o_pos < 0][:5].tolist()} are not origins of this router"
        raise ValidationError(msg)
    left_d = np.zeros(len(router.origins))
    left_d[o_pos] = d.to_numpy(float)
    placed = np.zeros(len(router.origins))
    time_sum = np.zeros(len(router.origins))
    time_max = np.zeros(len(router.origins))
    best_amount = np.zeros(len(router.origins))
    best_school = np.full(len(router.origins), None, dtype=object)
    given = pd.Series(0.0, index=s.index)
    if len(open_ids) and len(d):
        pairs = router.pairs_within(limit * 60.0, open_ids).tocoo()
        rows_in_set = np.unique(router.facilities.index.get_indexer(open_ids))
        fac_ids = router.facilities.index[rows_in_set]
        left_s = np.array(s.reindex(fac_ids), dtype=float)
        taken = np.zeros(len(fac_ids))
        want = left_d[pairs.col] > 0
        r, c, t = pairs.row[want], pairs.col[want], pairs.data[want]
        order = np.argsort(t, kind="stable")
        for k in order:
            o, f = c[k], r[k]
            if left_d[o] <= 0 or left_s[f] <= 0:
                continue
            amount = min(left_d[o], left_s[f])
            left_d[o] -= amount
            left_s[f] -= amount
            taken[f] += amount
            placed[o] += amount
            minutes = t[k] / 60.0
            time_sum[o] += amount * minutes
            time_max[o] = max(time_max[o], minutes)
            if amount > best_amount[o]:
                best_amount[o], best_school[o] = amount, fac_ids[f]
        given.loc[fac_ids] = taken
    schools = pd.DataFrame({"seats": s, "assigned": given, "seats_left": s - given})
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(placed > 0, time_sum / placed, np.nan)
    villages = pd.DataFrame(
        {
            "children": d.to_numpy(float),
            "placed": placed[o_pos],
            "unplaced": left_d[o_pos],
            "school": best_school[o_pos],
            "mean_min": mean[o_pos],
            "max_min": np.where(placed[o_pos] > 0, time_max[o_pos], np.nan),
        },
        index=d.index,
    )
    return villages, schools


@dataclass
class Scenario:
    """A school consolidation scenario (see :func:`consolidate`).

    Attributes
    ----------
    tier, mode, limit_min, school_age_share
        What the scenario is about.
    closed
        The closed schools, index = id: ``name``, ``tiers``, ``settlement``, ``level``,
        ``size``, ``villages_before`` (villages it was nearest to), ``children_before``.
    villages
        One row per village (WGS-84): ``name``, ``population`` and the columns of
        :func:`scenario_table`; with capacity, also ``capacity_school``,
        ``capacity_mean_min``, ``capacity_max_min``, ``unplaced_children``.
    summary
        Totals (:func:`scenario_summary`) plus ``tier``, ``mode``, ``limit_min``,
        ``school_age_share`` and, with capacity, ``children_placed``/``_unplaced``.
    capacity
        Per open school with capacity: ``capacity``, ``enrolment`` (given, or
        estimated as the children of the villages it was nearest to), ``seats``
        (free before), ``assigned``, ``seats_left``; ``None`` without capacities.
    """

    tier: str
    mode: str
    limit_min: float
    school_age_share: float
    closed: pd.DataFrame
    villages: gpd.GeoDataFrame
    summary: pd.Series
    capacity: pd.DataFrame | None = None


def _served(table: pd.DataFrame, schools: pd.Index) -> pd.DataFrame:
    """Villages and children each school was nearest to before a scenario (index = ``schools``)."""
    codes = schools.get_indexer(pd.Index(table["before_school"].to_numpy()))
    hit = codes >= 0
    children = np.nan_to_num(table["children"].to_numpy(float)[hit])
    return pd.DataFrame(
        {
            "villages": np.bincount(codes[hit], minlength=len(schools)).astype(int),
            "children": np.bincount(codes[hit], weights=children, minlength=len(schools)),
        },
        index=schools,
    )


def _capacity_scenario(
    router: engine.Router,
    facilities: pd.DataFrame,
    remaining: pd.Index,
    table: pd.DataFrame,
    *,
    search_limit_min: float,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Free seats of the open schools, then :func:`assign_with_capacity` of the displaced children.

    Returns the per-school table of :attr:`Scenario.capacity` and the per-village
    placement.
    """
    cap = pd.to_numeric(facilities.loc[remaining, "capacity"], errors="coerce")
    estimate = _served(table, remaining)["children"]
    if "enrolment" in facilities.columns:
        enrol = pd.to_numeric(facilities.loc[remaining, "enrolment"], errors="coerce")
        enrol = enrol.fillna(estimate)
    else:
        enrol = estimate
    seats = (cap - enrol).clip(lower=0.0).where(cap.notna(), np.inf)
    demand = table["children"].where(table["reassigned"], 0.0)
    v_cap, s_cap = assign_with_capacity(router, demand, seats, search_limit_min=search_limit_min)
    names = facilities["name"] if "name" in facilities.columns else pd.Series(dtype=object)
    per_school = pd.DataFrame(
        {
            "name": names.reindex(remaining).to_numpy(),
            "capacity": cap.to_numpy(float),
            "enrolment": enrol.to_numpy(float),
        },
        index=remaining,
    ).join(s_cap)
    return per_school, v_cap


def consolidate(
    study: pipeline.Study,
    tier: str,
    close_ids: Sequence[Hashable] | pd.Index | None = None,
    *,
    rule: str | Sequence[Mapping[str, Any]] | None = None,
    rules: TierRules | None = None,
    limit_min: float | None = None,
    school_age_share: float | None = None,
    capacity: bool | None = None,
    search_limit_min: float | None = None,
    radius_m: float | Mapping[str, float] | None = None,
    before: pd.DataFrame | None = None,
) -> Scenario:
    """Close some schools of a tier and recompute every village's trip on the same router.

    Parameters
    ----------
    study
        A prepared study, ideally with the tier's travel mode (``rules``); its router
        is reused: no rebuild, no re-snap.
    tier
        ``primary``, ``middle`` or ``high``.
    close_ids
        Ids of the schools to close (they must serve the tier). ``None``: close by
        ``rule``.
    rule
        ``"noncompliant"`` (every school of the tier that :func:`compliance` flags) or
        a list of settlements such as ``[{"level": "admin_village", "size": "small"}]``
        (schools sitting in one of them close); default the tier's ``close`` rule in
        ``rules/tiers.yml``. Only schools inside the study's boundary are closed.
    rules
        Tier rules (default ``rules/tiers.yml``).
    limit_min
        Time limit in minutes; default the tier's.
    school_age_share
        Pupils per resident (0–1); default the tier's.
    capacity
        Place the children of reassigned villages in schools with free seats
        (:func:`assign_with_capacity`); ``None``: when the facilities have a
        ``capacity`` column (seats; NaN = unlimited) with a value for at least one
        school of the tier. Free seats = ``capacity`` −
        ``enrolment`` (column, or the children of the villages each school was
        nearest to before the closure).
    search_limit_min
        Longest trip for the capacity-aware placement; default twice the limit.
    radius_m
        Settlement radii for the closure rule, see :func:`settlement_of`.
    before
        ``study.router.nearest(<the tier's school ids>)`` when already computed, to
        run many scenarios on one baseline with one search each; computed otherwise.

    Returns
    -------
    Scenario
    """
    rules = rules if rules is not None else load_rules()
    tier_rule = rules.tier(tier)
    limit = float(tier_rule.limit_min if limit_min is None else limit_min)
    share = float(tier_rule.school_age_share if school_age_share is None else school_age_share)
    if not np.isfinite(limit) or limit <= 0:
        msg = f"limit_min must be finite and > 0 minutes, got {limit_min!r}"
        raise ValidationError(msg)
    if not 0 < share <= 1:
        msg = f"school_age_share must be in (0, 1] (pupils per resident), got {school_age_share!r}"
        raise ValidationError(msg)
    if close_ids is not None and rule is not None:
        msg = "give either close_ids (schools to close) or rule (which schools close), not both"
        raise ValidationError(msg)
    if isinstance(close_ids, str):
        msg = f"close_ids must be a list of school ids, got the string {close_ids!r}"
        raise ValidationError(msg)
    if study.mode != tier_rule.mode:
        log.info(
            "the %s scenario uses the study's %s network (the tier rules say %s)",
            tier,
            study.mode,
            tier_rule.mode,
        )
    facilities = study.facilities
    tier_ids = classify.select(facilities, f"school:{tier}")
    if close_ids is not None:
        closed = pd.Index(list(close_ids))
        unknown = closed[~closed.isin(facilities.index)]
        if len(unknown):
            msg = f"no facility with id(s) {unknown[:5].tolist()} in this study; take ids from study.facilities"
            raise ValidationError(msg)
        other = closed[~closed.isin(tier_ids)]
        if len(other):
            msg = f"facilities {other[:5].tolist()} do not serve the {tier} tier; close schools of the tier only"
            raise ValidationError(msg)
        closed = closed.unique()
        settle = settlement_of(
            facilities.loc[closed], study.places, crs=study.crs, radius_m=radius_m, rules=rules
        )
    else:
        conditions = parse_close_rule(rule if rule is not None else tier_rule.close, rules)
        settle = settlement_of(
            facilities.loc[tier_ids], study.places, crs=study.crs, radius_m=radius_m, rules=rules
        )
        inside = facilities.loc[tier_ids].within(study.boundary.iloc[0]).to_numpy()
        levels, sizes = settle["level"].to_numpy(), settle["size"].to_numpy()
        if conditions == "noncompliant":
            hit = np.array([not tier_rule.judge(lv, sz)[0] for lv, sz in zip(levels, sizes)], bool)
        else:
            hit = np.array(
                [any(c.matches(lv, sz) for c in conditions) for lv, sz in zip(levels, sizes)],
                dtype=bool,
            )
        closed = tier_ids[hit & inside]
    population = (
        pd.to_numeric(study.origins["population"], errors="coerce")
        if "population" in study.origins.columns
        else None
    )
    table = scenario_table(
        study.router,
        tier_ids,
        closed,
        limit_min=limit,
        population=population,
        school_age_share=share,
        before=before,
    )
    summary = scenario_summary(table, schools_before=len(tier_ids), closed=len(closed))
    log.info(
        "%s scenario: %d of %d schools closed, %d villages reassigned, %.0f children affected, "
        "%d villages newly beyond %g min",
        tier,
        len(closed),
        len(tier_ids),
        summary["reassigned"],
        summary["children_affected"],
        summary["newly_beyond"],
        limit,
    )
    cols = [c for c in ("name", "level", "population") if c in study.origins.columns]
    villages = study.origins[[*cols, study.origins.geometry.name]].join(table)
    names = facilities["name"] if "name" in facilities.columns else pd.Series(dtype=object)
    villages.insert(
        villages.columns.get_loc("before_school") + 1,
        "before_school_name",
        names.reindex(table["before_school"]).to_numpy(),
    )
    villages.insert(
        villages.columns.get_loc("after_school") + 1,
        "after_school_name",
        names.reindex(table["after_school"]).to_numpy(),
    )
    closed_table = pd.DataFrame(
        facilities.loc[closed, [c for c in ("name", "tiers") if c in facilities.columns]]
    ).join(settle[["settlement", "level", "size"]])
    served = _served(table, closed)
    closed_table["villages_before"] = served["villages"].to_numpy()
    closed_table["children_before"] = served["children"].to_numpy()

    cap_table = None
    has_capacity = (
        "capacity" in facilities.columns
        and pd.to_numeric(facilities.loc[tier_ids, "capacity"], errors="coerce").notna().any()
    )
    want = has_capacity if capacity is None else bool(capacity)
    if want:
        if "capacity" not in facilities.columns:
            msg = "capacity=True needs a 'capacity' column (seats) in study.facilities; add it from a registry"
            raise ValidationError(msg)
        cap_table, v_cap = _capacity_scenario(
            study.router,
            facilities,
            tier_ids[~tier_ids.isin(closed)],
            table,
            search_limit_min=search_limit_min if search_limit_min is not None else 2 * limit,
        )
        villages["capacity_school"] = v_cap["school"].reindex(villages.index)
        villages["capacity_mean_min"] = v_cap["mean_min"].reindex(villages.index)
        villages["capacity_max_min"] = v_cap["max_min"].reindex(villages.index)
        villages["unplaced_children"] = v_cap["unplaced"].reindex(villages.index).fillna(0.0)
        summary["children_placed"] = float(v_cap["placed"].sum())
        summary["children_unplaced"] = float(v_cap["unplaced"].sum())
    head = {"tier": tier, "mode": study.mode, "limit_min": limit, "school_age_share": share}
    return Scenario(
        tier=tier,
        mode=study.mode,
        limit_min=limit,
        school_age_share=share,
        closed=closed_table,
        villages=villages,
        summary=pd.Series({**head, **summary}, name=tier),
        capacity=cap_table,
    )


def consolidate_or_skip(
    access: TierAccess,
    tier: str,
    close_ids: Sequence[Hashable] | pd.Index | None = None,
    *,
    notes: Notes,
    **options: Any,
) -> Scenario | None:
    """:func:`consolidate` on the tier's study, or ``None`` with a note when the data have no school of the tier.

    Parameters
    ----------
    access
        The result of :func:`access_by_tier` (its study for ``tier`` is used).
    tier, close_ids, **options
        As for :func:`consolidate`.
    notes
        Where the skip is recorded (section ``scenario``).
    """
    study = access.study_for(tier)
    if len(classify.select(study.facilities, f"school:{check_tier(tier)}")) == 0:
        names = tuple(label(f"schools_tier_short.{tier}", lang=g) for g in ("zh", "en"))
        notes.skip("scenario", "no_tier_schools", tier=names)
        return None
    return consolidate(study, tier, close_ids, **options)


def layers(
    checks: Compliance, access: TierAccess, scenario: Scenario | None, summary: pd.DataFrame
) -> dict[str, pd.DataFrame]:
    """GeoPackage layers of the school-tiers notebook (no ``scenario`` layer when it was skipped)."""
    out: dict[str, pd.DataFrame] = {"schools": checks.schools, "villages": access.villages}
    if scenario is not None:
        out["scenario"] = scenario.villages
    out.update({"boarding": access.boarding, "exceptions": checks.exceptions, "summary": summary})
    return out


# =========================================================================== report
def report(
    checks: Compliance, access: TierAccess, scenario: Scenario | None = None
) -> pd.DataFrame:
    """One summary row per tier: compliance, access and (for its tier) the scenario.

    Columns: the access summary (``mode``, ``limit_min``, ``beyond``…), the compliance
    counts prefixed ``schools_`` (``schools_checked``, ``schools_compliant``,
    ``schools_exceptions``…), and the scenario totals prefixed ``scenario_``.
    """
    comp = checks.summary.rename(columns={"schools": "checked"}).add_prefix("schools_")
    out = access.summary.join(comp, how="left")
    if scenario is not None:
        extra = scenario.summary.drop(labels=["tier", "mode", "limit_min", "school_age_share"])
        for key, value in extra.items():
            out.loc[scenario.tier, f"scenario_{key}"] = value
    return out


def key_figures(access: TierAccess) -> list[dict[str, Any]]:
    """Per tier, the access figures for the index page of a batch run.

    From :attr:`TierAccess.summary`, for each tier (youngest first):
    ``<tier>_coverage`` — the population share within the tier's limit by its mode
    (``within_limit_pop_share``, ``percent``) — and ``<tier>_beyond`` — the villages
    beyond the limit (``beyond``: slower or unreachable; ``count``). A tier with no
    school in the data gets both without a value and with status ``no_data``.

    Returns
    -------
    list of dict
        Figures for :func:`accessibility.export.write_figures`.
    """
    out = []
    for tier, row in access.summary.iterrows():
        fields = {
            "tier": tuple(label(f"schools_tier_short.{tier}", lang=g) for g in ("zh", "en")),
            "mode": tuple(label(f"mode.{row['mode']}", lang=g) for g in ("zh", "en")),
            "limit": f"{float(row['limit_min']):g}",
        }
        status = "no_data" if row.get("status") == "no_data" else None
        out.append(
            figure(
                f"{tier}_coverage",
                row["within_limit_pop_share"],
                "percent",
                label_key="schools_fig.coverage",
                status=status,
                **fields,
            )
        )
        out.append(
            figure(
                f"{tier}_beyond",
                row["beyond"],
                "count",
                label_key="schools_fig.beyond",
                status=status,
                **fields,
            )
        )
    return out


# --------------------------------------------------------------------------- Excel


def _soft(key: str, lang: str) -> Any:
    """Function turning a code into its label under ``key`` (a section), or leaving it."""

    def one(value: Any) -> Any:
        if not isinstance(value, str) or not value:
            return value
        try:
            return label(f"{key}.{value}", lang=lang)
        except ValidationError:
            return value

    return one


def excel_tables(
    checks: Compliance,
    access: TierAccess,
    scenario: Scenario | None = None,
    *,
    lang: str = "zh",
) -> dict[str, pd.DataFrame]:
    """The summary tables for :func:`accessibility.export.write_excel`, by sheet name in ``lang``.

    Sheets: the per-tier summary (:func:`report`), the schools outside their tier's
    rule, the boarding candidates and, with a scenario, every village before and
    after it. Tiers, modes and sizes are put in words; column names are kept, so
    give ``headers=excel_headers(lang=lang)`` to ``write_excel`` for the headers.
    """
    tier, mode = _soft("schools_tier_short", lang), _soft("mode", lang)
    size, level = _soft("schools_size", lang), _soft("level", lang)

    def words(frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.reset_index() if isinstance(frame.index, pd.MultiIndex) else frame.copy()
        if out.index.name == "tier":
            out.index = out.index.map(tier)
        for col, fn in (
            ("tier", tier),
            ("mode", mode),
            ("size", size),
            ("boarding_level", level),
            ("status", _soft("status", lang)),
            ("reason", _soft("schools_reason_short", lang)),
            ("confidence", _soft("confidence", lang)),
        ):
            if col in out.columns:
                out[col] = out[col].map(fn)
        return out

    sheets = {
        label("schools_sheet.summary", lang=lang): words(report(checks, access, scenario)),
        label("schools_sheet.exceptions", lang=lang): words(checks.exceptions),
        label("schools_sheet.boarding", lang=lang): words(access.boarding),
    }
    if scenario is not None:
        sheets[label("schools_sheet.scenario", lang=lang)] = words(scenario.villages)
    return sheets


def excel_headers(*, lang: str = "zh") -> dict[str, str]:
    """Column name → header in ``lang`` for the sheets of :func:`excel_tables`."""
    from ..labels import keys

    return {c: label(f"schools_col.{c}", lang=lang) for c in keys("schools_col")}


# =========================================================================== map overlays
#: Verdict of one school against its tier's rule, as drawn on the map.
SCHOOL_STATES: Final[tuple[str, ...]] = ("complies", "breaks", "cannot_tell")
#: Reasons that say the data do not suffice to judge (fix the places, radii or
#: tiers), rather than that the school breaks its rule.
UNDECIDED_REASONS: Final[tuple[str, ...]] = ("no_settlement", "population_unknown", "tier_unknown")
#: Marker shape and colour of each verdict (squares: schools; no travel-time colour).
STATE_STYLE: Final[dict[str, tuple[str, str]]] = {
    "complies": ("square", "#2c7bb6"),
    "breaks": ("square", "#c51b7d"),
    "cannot_tell": ("hollow_square", "#6d6d6d"),
}
#: Ring colour of boarding candidates, per tier.
BOARDING_COLOURS: Final[dict[str, str]] = {
    "primary": "#542788",
    "middle": "#8c510a",
    "high": "#01665e",
}
#: Boarding schools (diamonds) and the lines from their candidate villages.
BOARDING_SCHOOL_COLOUR: Final[str] = "#fee08b"
BOARDING_LINK_COLOUR: Final[str] = "#4d4d4d"
#: Classes of minutes added by a closure (limits, minutes) and their colours, then
#: the colour of a village left with no school within reach.
ADDED_MIN_LIMITS: Final[tuple[float, ...]] = (10.0, 30.0)
ADDED_MIN_COLOURS: Final[tuple[str, ...]] = ("#c6dbef", "#6baed6", "#08519c")
LOST_ACCESS_COLOUR: Final[str] = "#252525"
CLOSED_COLOUR: Final[str] = "#b2182b"


def school_states(checks: Compliance) -> pd.Series:
    """Each school's verdict against its tier's rule: ``complies``, ``breaks`` or ``cannot_tell``.

    A school *breaks* the rule when one tier it serves sits in a settlement the rule
    does not allow (``level_not_allowed``, ``too_small``, ``too_large``); otherwise it
    is *cannot tell* when a tier could not be judged for want of data (one of
    :data:`UNDECIDED_REASONS`: no settlement within the radii, a settlement of
    unknown population, a school of unknown tier); otherwise it *complies*.

    Returns
    -------
    pandas.Series
        Index = school id (as ``checks.schools``), values from :data:`SCHOOL_STATES`.
    """
    reasons = checks.by_tier["reason"]
    ids = reasons.index.get_level_values(0)
    broken = reasons.ne("") & ~reasons.isin(UNDECIDED_REASONS)
    undecided = reasons.isin(UNDECIDED_REASONS)
    out = pd.Series("complies", index=checks.schools.index, dtype=object)
    out.loc[pd.Index(ids[undecided.to_numpy()]).unique()] = "cannot_tell"
    out.loc[pd.Index(ids[broken.to_numpy()]).unique()] = "breaks"
    return out


def _name_or(value: Any, fallback_key: str, lang: str) -> str:
    """A place's or school's name, or a readable stand-in (never an internal id)."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    return label(fallback_key, lang=lang)


def _minutes_text(value: float) -> str:
    return f"{value:.0f}" if np.isfinite(value) else "∞"


def _tier_text(tier: str, lang: str) -> str:
    return label(f"schools_tier_short.{tier}", lang=lang)


def _tip(lines: Sequence[str]) -> str:
    """Tooltip HTML: the first line in bold, every line escaped."""
    first, *rest = [html.escape(str(x)) for x in lines]
    return "<br>".join([f"<b>{first}</b>", *rest])


def compliance_layer(
    checks: Compliance, *, lang: str = "zh", show: bool = True
) -> folium.FeatureGroup:
    """Schools as squares coloured by their verdict (:func:`school_states`), reasons in the tooltip.

    The tooltip gives the school's name, the settlement it sits in and, per tier it
    serves, whether it complies and why not (``checks``' notes, in ``checks.lang``,
    which must be ``lang``). The layer carries its own legend with the count of each
    verdict.
    """
    if checks.lang != lang:
        msg = f"the compliance check was made with lang={checks.lang!r}; call compliance(..., lang={lang!r}) for a {lang} map"
        raise ValidationError(msg)
    states = school_states(checks)
    name = label("schools_map.compliance_layer", lang=lang)
    layer = folium.FeatureGroup(name=name, show=show)
    schools = checks.schools
    names = schools["name"] if "name" in schools.columns else pd.Series(None, index=schools.index)
    colon = "：" if lang == "zh" else ": "
    for fid, state in states.items():
        geom = schools.geometry.loc[fid]
        if geom is None or geom.is_empty:
            continue
        school = _name_or(names.loc[fid], "schools_map.unnamed_school", lang)
        level = str(schools.loc[fid, "level"])
        where = (
            label("schools_map.in_no_settlement", lang=lang)
            if level == NONE
            else label("schools_map.in_settlement", lang=lang).format(
                settlement=_name_or(schools.loc[fid, "settlement"], f"level.{level}", lang),
                level=_level_label(level, lang),
            )
        )
        lines = [school, where]
        rows = checks.by_tier.xs(fid, level=0)
        for tier, row in rows.iterrows():
            reason = str(row["reason"])
            verdict = (
                "tip_complies"
                if not reason
                else ("tip_cannot_tell" if reason in UNDECIDED_REASONS else "tip_breaks")
            )
            text = label(f"schools_map.{verdict}", lang=lang)
            head = (
                label("schools_ui.title", lang=lang)
                if tier == UNKNOWN_TIER
                else _tier_text(str(tier), lang)
            )
            lines.append(f"{head}{colon}{text}" + (f"{colon}{row['note']}" if row["note"] else ""))
        shape, colour = STATE_STYLE[state]
        folium.Marker(
            location=(geom.y, geom.x),
            icon=_overlays.marker_icon(shape, colour, size=12),
            tooltip=_tip(lines),
        ).add_to(layer)
    counts = states.value_counts()
    rows_legend = [
        (*STATE_STYLE[s], label(f"schools_map.{s}", lang=lang).format(n=int(counts.get(s, 0))))
        for s in SCHOOL_STATES
        if counts.get(s, 0) or s != "cannot_tell"
    ]
    layer.add_child(_overlays.LayerLegend(name, rows_legend))
    return layer


def _village_points(access: TierAccess) -> gpd.GeoSeries:
    return access.villages.geometry


def boarding_layer(
    access: TierAccess, *, lang: str = "zh", show: bool = False
) -> folium.FeatureGroup:
    """Boarding candidates (rings, one colour per tier) joined by a line to the school that would board them.

    Boarding schools are diamonds whose tooltip gives their intake (villages and
    children per tier). A candidate with no school of its tier in a township or
    county seat gets no line, and its tooltip says so.
    """
    name = label("schools_map.boarding_layer", lang=lang)
    layer = folium.FeatureGroup(name=name, show=show)
    board = access.boarding
    villages = access.villages
    points = _village_points(access)
    levels = (
        villages["level"] if "level" in villages.columns else pd.Series("", index=villages.index)
    )
    school_points = (
        pd.concat([s.facilities.geometry for s in access.studies.values()]).groupby(level=0).first()
    )
    legend: list[tuple[str, str, str]] = []
    tiers_here = [t for t in access.tiers if t in set(board.index.get_level_values("tier"))]
    for tier in tiers_here:
        part = board.xs(tier, level="tier")
        rule = access.rules.tier(tier)
        colour = BOARDING_COLOURS[tier]
        radius = 8 + 3 * TIERS.index(tier)
        for vid, row in part.iterrows():
            geom = points.loc[vid]
            level = str(levels.loc[vid])
            head = _name_or(row["name"], "schools_map.unnamed_village", lang)
            if level in classify.LEVELS:
                head += (
                    f"（{_level_label(level, lang)}）"
                    if lang == "zh"
                    else f" ({_level_label(level, lang)})"
                )
            lines = [
                head,
                label("schools_map.tip_beyond", lang=lang).format(
                    tier=_tier_text(tier, lang),
                    mode=label(f"mode.{rule.mode}", lang=lang),
                    minutes=_minutes_text(float(row["time_min"])),
                    limit=f"{rule.limit_min:g}",
                ),
                label("schools_map.tip_nearest", lang=lang).format(
                    school=_name_or(row["nearest_school_name"], "schools_map.unnamed_school", lang)
                ),
            ]
            has_school = isinstance(row["boarding_school"], str) or pd.notna(row["boarding_school"])
            if has_school:
                lines.append(
                    label("schools_map.tip_boarding", lang=lang).format(
                        school=_name_or(
                            row["boarding_school_name"], "schools_map.unnamed_school", lang
                        ),
                        settlement=_name_or(
                            row["boarding_settlement"], f"level.{row['boarding_level']}", lang
                        ),
                        minutes=_minutes_text(float(row["boarding_time_min"])),
                    )
                )
            else:
                lines.append(label("schools_map.tip_no_boarding", lang=lang))
            if np.isfinite(float(row["children"])):
                lines.append(
                    label("schools_map.tip_children", lang=lang).format(
                        n=f"{float(row['children']):,.0f}"
                    )
                )
            if has_school and row["boarding_school"] in school_points.index:
                target = school_points.loc[row["boarding_school"]]
                folium.PolyLine(
                    [(geom.y, geom.x), (target.y, target.x)],
                    color=BOARDING_LINK_COLOUR,
                    weight=1,
                    opacity=0.6,
                    dash_array="4 3",
                    interactive=False,
                ).add_to(layer)
            folium.CircleMarker(
                location=(geom.y, geom.x),
                radius=radius,
                color=colour,
                weight=2.5,
                fill=False,
                tooltip=_tip(lines),
            ).add_to(layer)
        legend.append(
            (
                "ring",
                colour,
                label("schools_map.candidates", lang=lang).format(
                    tier=_tier_text(tier, lang), limit=f"{rule.limit_min:g}", n=len(part)
                ),
            )
        )
    loads = access.boarding_schools
    drawn = 0
    for (tier, sid), row in loads.iterrows():
        if sid not in school_points.index:
            continue
        geom = school_points.loc[sid]
        folium.Marker(
            location=(geom.y, geom.x),
            icon=_overlays.marker_icon("diamond", BOARDING_SCHOOL_COLOUR, size=13),
            tooltip=_tip(
                [
                    _name_or(row["name"], "schools_map.unnamed_school", lang),
                    label("schools_map.tip_intake", lang=lang).format(
                        tier=_tier_text(str(tier), lang),
                        villages=int(row["villages"]),
                        children=f"{float(row['children']):,.0f}",
                    ),
                ]
            ),
        ).add_to(layer)
        drawn += 1
    if len(board):
        legend.append(("dashed_line", BOARDING_LINK_COLOUR, label("schools_map.link", lang=lang)))
    if drawn:
        n_schools = loads.index.get_level_values(1).nunique()
        legend.append(
            (
                "diamond",
                BOARDING_SCHOOL_COLOUR,
                label("schools_map.boarding_school", lang=lang).format(n=n_schools),
            )
        )
    layer.add_child(_overlays.LayerLegend(name, legend))
    return layer


def added_minutes_class(delta_min: np.ndarray) -> np.ndarray:
    """Class of the minutes a closure adds: 0, 1… by :data:`ADDED_MIN_LIMITS`, ``-1`` when no school is left within reach."""
    delta = np.asarray(delta_min, dtype=float)
    out = np.searchsorted(np.asarray(ADDED_MIN_LIMITS), delta, side="right")
    return np.where(np.isfinite(delta), out, -1)


def scenario_layer(
    scenario: Scenario, access: TierAccess, *, lang: str = "zh", show: bool = False
) -> folium.FeatureGroup:
    """The consolidation scenario: closed schools (✕) and the villages they served, by minutes added.

    Each reassigned village is a dot coloured by the minutes the closure adds to its
    trip (:func:`added_minutes_class`), ringed in black when it is newly beyond the
    limit; its tooltip gives the school and time before and after.
    """
    tier_name = _tier_text(scenario.tier, lang)
    name = label("schools_map.scenario_layer", lang=lang).format(tier=tier_name)
    layer = folium.FeatureGroup(name=name, show=show)
    facilities = access.study_for(scenario.tier).facilities
    limit = f"{scenario.limit_min:g}"
    legend: list[tuple[str, str, str]] = []
    v = scenario.villages.loc[scenario.villages["reassigned"].to_numpy(bool)]
    classes = added_minutes_class(v["delta_min"].to_numpy(float))
    children = (
        pd.to_numeric(v["population"], errors="coerce") * scenario.school_age_share
        if "population" in v
        else None
    )
    for (vid, row), cls in zip(v.iterrows(), classes):
        geom = row.geometry
        colour = LOST_ACCESS_COLOUR if cls < 0 else ADDED_MIN_COLOURS[cls]
        lines = [
            _name_or(row.get("name"), "schools_map.unnamed_village", lang),
            label("schools_map.tip_before", lang=lang).format(
                school=_name_or(row["before_school_name"], "schools_map.unnamed_school", lang),
                minutes=_minutes_text(float(row["before_min"])),
            ),
            label("schools_map.tip_after", lang=lang).format(
                school=_name_or(row["after_school_name"], "schools_map.unnamed_school", lang)
                if np.isfinite(float(row["after_min"]))
                else "—",
                minutes=_minutes_text(float(row["after_min"])),
            ),
            label("schools_map.tip_added", lang=lang).format(
                minutes=_minutes_text(float(row["delta_min"]))
            ),
        ]
        if bool(row["newly_beyond"]):
            lines.append(label("schools_map.tip_newly_beyond", lang=lang).format(limit=limit))
        kids = float(children.loc[vid]) if children is not None else np.nan
        if np.isfinite(kids):
            lines.append(label("schools_map.tip_children", lang=lang).format(n=f"{kids:,.0f}"))
        folium.CircleMarker(
            location=(geom.y, geom.x),
            radius=float(np.clip(3 + np.sqrt(kids) / 3, 4, 11)) if np.isfinite(kids) else 5.0,
            color="#000000" if bool(row["newly_beyond"]) else "#ffffff",
            weight=2.5 if bool(row["newly_beyond"]) else 1,
            fill=True,
            fill_color=colour,
            fill_opacity=0.95,
            tooltip=_tip(lines),
        ).add_to(layer)
    for fid, row in scenario.closed.iterrows():
        if fid not in facilities.index:
            continue
        geom = facilities.geometry.loc[fid]
        folium.Marker(
            location=(geom.y, geom.x),
            icon=_overlays.marker_icon("cross", CLOSED_COLOUR, size=18),
            tooltip=_tip(
                [
                    _name_or(row.get("name"), "schools_map.unnamed_school", lang),
                    label("schools_map.tip_closed", lang=lang).format(
                        villages=int(row["villages_before"]),
                        children=f"{float(row['children_before']):,.0f}",
                    ),
                ]
            ),
        ).add_to(layer)
    if len(scenario.closed):
        legend.append(
            (
                "cross",
                CLOSED_COLOUR,
                label("schools_map.closed", lang=lang).format(n=len(scenario.closed)),
            )
        )
    lows = (0.0, *ADDED_MIN_LIMITS)
    highs = (*ADDED_MIN_LIMITS, np.inf)
    for cls, (colour, low, high) in enumerate(zip(ADDED_MIN_COLOURS, lows, highs)):
        if not (classes == cls).any():
            continue
        key = "added_below" if cls == 0 else ("added_above" if np.isinf(high) else "added_between")
        legend.append(
            (
                "dot",
                colour,
                label(f"schools_map.{key}", lang=lang).format(low=f"{low:g}", high=f"{high:g}"),
            )
        )
    if (classes < 0).any():
        legend.append(("dot", LOST_ACCESS_COLOUR, label("schools_map.lost_access", lang=lang)))
    if v["newly_beyond"].any():
        legend.append(
            ("ring", "#000000", label("schools_map.newly_beyond", lang=lang).format(limit=limit))
        )
    layer.add_child(
        _overlays.LayerLegend(name, legend, note=label("schools_map.size_note", lang=lang))
    )
    return layer


def add_layers(
    m: folium.Map,
    checks: Compliance,
    access: TierAccess,
    scenario: Scenario | None = None,
    *,
    lang: str = "zh",
) -> folium.Map:
    """Add the school-tier overlays to a map from :func:`accessibility.maps.access_map`; return the map.

    Three checkbox overlays, each with its own legend box (shown while it is ticked):
    schools by their verdict against the tier rule (:func:`compliance_layer`, shown),
    boarding candidates and their boarding schools (:func:`boarding_layer`) and, with
    a scenario, its closed schools and reassigned villages (:func:`scenario_layer`).
    They are inserted before the map's layer control so that it lists them.
    """
    label("schools_ui.title", lang=lang)  # checks lang
    _overlays.add_overlay(m, compliance_layer(checks, lang=lang))
    _overlays.add_overlay(m, boarding_layer(access, lang=lang))
    if scenario is not None:
        _overlays.add_overlay(m, scenario_layer(scenario, access, lang=lang))
    return m
