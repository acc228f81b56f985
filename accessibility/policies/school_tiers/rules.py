"""The tier rules: settlements, tiers, boarding levels and map classes of ``rules/tiers.yml``.

In:  the packaged ``tiers.yml`` and a caller's overrides (any key, or modes and limits per tier).
Out: :class:`TierRules` (:func:`load_rules`; the defaults parsed once per process and
     cached here), the checks of tier names and closure rules, and the readable name
     of a settlement level.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Any, Final

import numpy as np

from ... import _yaml, classify, engine, network
from ..._errors import ValidationError
from ...labels import label

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
