"""What the supply indices are made of: the rules of ``rules/supply.yml`` and the decays.

Part of :mod:`accessibility.supply` (its docstring has the design): the statuses and
confidence levels, :class:`SupplyRules` (measures, defaults per tier, the health
catchment and mode, confidence thresholds) read and checked by :func:`load_rules`, and
:class:`Decay` (step, Gaussian, E2SFCA zones) made by :func:`decay`. Tested in
``tests/test_supply.py``.
"""

from __future__ import annotations

import functools
import itertools
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import _yaml
from .._errors import ValidationError
from ..classify import TIERS

log = logging.getLogger(__name__)

#: Distance-decay functions of :class:`Decay`.
DECAYS: tuple[str, ...] = ("step", "gaussian", "zones")
#: The method each decay makes, as the literature names it.
METHODS: dict[str, str] = {"step": "2SFCA", "gaussian": "G2SFCA", "zones": "E2SFCA"}

#: Status of an origin's index.
STATUS_OK = "ok"
#: No facility of the group within the catchment: the index is a real 0.
STATUS_NONE_IN_REACH = "none_in_reach"
#: The origin's residents are unknown: no index (NaN), and not counted in any demand.
STATUS_POPULATION_UNKNOWN = "population_unknown"
#: No facility of the group in the data: no index anywhere (NaN), never 0.
STATUS_NO_FACILITY = "no_facility"

#: Confidence of a result from the share of its supply that is defaulted.
CONFIDENCE_LEVELS: tuple[str, ...] = ("high", "medium", "low")

_WHERE = "rules/supply.yml"
_EXP_HALF = math.exp(-0.5)


# --------------------------------------------------------------------------- rules


@functools.cache
def _default_text() -> str:
    return resources.files("accessibility.rules").joinpath("supply.yml").read_text("utf-8")


def _nonneg(value: Any, where: str) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0:
        msg = f"{_WHERE}: {where} must be a finite number >= 0, got {value!r}"
        raise ValidationError(msg)
    return float(value)


@dataclass(frozen=True)
class Measure:
    """What is counted at a facility of one kind (see ``measures`` in ``rules/supply.yml``)."""

    name: str
    kind: str
    columns: tuple[str, ...]
    per: float
    defaults: Mapping[str, float]
    source: str
    split_by_years: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class SupplyRules:
    """The parsed ``rules/supply.yml``; build it with :func:`load_rules`."""

    measures: Mapping[str, Measure]
    reach: Mapping[str, Mapping[str, Any]]
    default_decay: str
    zone_ends: tuple[float, ...]
    zone_weights: tuple[float, ...]
    confidence_high: float
    confidence_medium: float

    def measure(self, name: str) -> Measure:
        """A measure by name, with a clear error for an unknown one."""
        if name not in self.measures:
            msg = f"unknown supply measure {name!r}; choose one of: {', '.join(self.measures)}"
            raise ValidationError(msg)
        return self.measures[name]

    def confidence(self, defaulted_share: float) -> str:
        """``high``, ``medium`` or ``low`` for a share (0–1) of supply defaulted."""
        if not np.isfinite(defaulted_share):
            return "low"
        if defaulted_share <= self.confidence_high:
            return "high"
        return "medium" if defaulted_share <= self.confidence_medium else "low"


def load_rules(overrides: Mapping[str, Any] | None = None) -> SupplyRules:
    """The rules of ``rules/supply.yml``, with a caller's overrides.

    Parameters
    ----------
    overrides
        A dict shaped like ``supply.yml`` (e.g. ``{"measures": {"beds": {"defaults":
        {"township_health_centre": 60}}}}``); mappings are merged key by key, lists
        replaced.

    Raises
    ------
    ValidationError
        An unknown measure key, kind or tier, a negative default, zones that do not
        rise to 1, thresholds out of order. The message names the entry.
    """
    if overrides is None:
        return _default_rules()
    if not isinstance(overrides, Mapping):
        msg = f"supply rule overrides must be a dict shaped like {_WHERE}, got {type(overrides).__name__}"
        raise ValidationError(msg)
    return _parse(_yaml.merged(_yaml.load(_default_text()), overrides))


@functools.cache
def _default_rules() -> SupplyRules:
    return _parse(_yaml.load(_default_text()))


def _parse(raw: Mapping[str, Any]) -> SupplyRules:
    measures = {}
    for name, item in (raw.get("measures") or {}).items():
        where = f"measures.{name}"
        unknown = set(item) - {"kind", "columns", "per", "defaults", "source", "split_by_years"}
        if unknown:
            msg = f"{_WHERE}: {where} has unknown keys {sorted(unknown)}"
            raise ValidationError(msg)
        kind = item.get("kind")
        if kind not in TIERS:
            msg = f"{_WHERE}: {where}.kind must be one of {', '.join(TIERS)}, got {kind!r}"
            raise ValidationError(msg)
        defaults = {}
        for tier, value in (item.get("defaults") or {}).items():
            if tier not in TIERS[kind]:
                msg = f"{_WHERE}: {where}.defaults: unknown {kind} tier {tier!r}; choose from {', '.join(TIERS[kind])}"
                raise ValidationError(msg)
            defaults[str(tier)] = _nonneg(value, f"{where}.defaults.{tier}")
        missing = [t for t in TIERS[kind] if t not in defaults]
        if missing:
            msg = f"{_WHERE}: {where}.defaults needs a value for every tier; missing {missing}"
            raise ValidationError(msg)
        columns = item.get("columns")
        if (
            not isinstance(columns, list)
            or not columns
            or not all(isinstance(c, str) for c in columns)
        ):
            msg = f"{_WHERE}: {where}.columns must be a list of column names, e.g. [beds, capacity]"
            raise ValidationError(msg)
        per = _nonneg(item.get("per"), f"{where}.per")
        if per <= 0:
            msg = f"{_WHERE}: {where}.per must be > 0 (1000 for per 1,000 residents), got {per!r}"
            raise ValidationError(msg)
        years = {
            str(t): _nonneg(v, f"{where}.split_by_years.{t}")
            for t, v in (item.get("split_by_years") or {}).items()
        }
        measures[str(name)] = Measure(
            name=str(name),
            kind=str(kind),
            columns=tuple(columns),
            per=per,
            defaults=defaults,
            source=str(item.get("source", "")).strip(),
            split_by_years=years,
        )
    decay = raw.get("decay") or {}
    default_decay = decay.get("default", "step")
    if default_decay not in DECAYS:
        msg = f"{_WHERE}: decay.default must be one of {', '.join(DECAYS)}, got {default_decay!r}"
        raise ValidationError(msg)
    zones = decay.get("zones") or {}
    ends, weights = _check_zones(
        zones.get("ends"), zones.get("weights"), 1.0, f"{_WHERE}: decay.zones"
    )
    conf = raw.get("confidence") or {}
    high = _nonneg(conf.get("high"), "confidence.high")
    medium = _nonneg(conf.get("medium"), "confidence.medium")
    if not high <= medium <= 1:
        msg = f"{_WHERE}: confidence thresholds must satisfy high <= medium <= 1, got {high}, {medium}"
        raise ValidationError(msg)
    return SupplyRules(
        measures=measures,
        reach=dict(raw.get("reach") or {}),
        default_decay=str(default_decay),
        zone_ends=ends,
        zone_weights=weights,
        confidence_high=high,
        confidence_medium=medium,
    )


def _check_zones(
    ends: Any, weights: Any, catchment: float, where: str
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    try:
        e = [float(x) for x in ends]
        w = [float(x) for x in weights]
    except (TypeError, ValueError) as exc:
        msg = f"{where}: zones need lists of numbers, ends and weights; got {ends!r}, {weights!r}"
        raise ValidationError(msg) from exc
    if not e or len(e) != len(w):
        msg = f"{where}: zones need as many weights as zone ends (one or more); got {len(e)} ends, {len(w)} weights"
        raise ValidationError(msg)
    if any(not np.isfinite(x) or x <= 0 for x in e) or any(
        b <= a for a, b in itertools.pairwise(e)
    ):
        msg = f"{where}: zone ends must be finite, > 0 and rising; got {e}"
        raise ValidationError(msg)
    if not math.isclose(e[-1], catchment, rel_tol=1e-12):
        msg = f"{where}: the last zone must end at the catchment ({catchment:g}); got {e[-1]:g}"
        raise ValidationError(msg)
    if any(not np.isfinite(x) or x < 0 for x in w):
        msg = f"{where}: zone weights must be finite and >= 0; got {w}"
        raise ValidationError(msg)
    return tuple(e), tuple(w)


# --------------------------------------------------------------------------- decay


@dataclass(frozen=True)
class Decay:
    """A distance-decay function over travel minutes, zero beyond the catchment.

    Make it with :func:`decay`. ``kind`` is ``step``, ``gaussian`` or ``zones``;
    ``catchment_min`` the catchment ``T`` in minutes; for ``zones``, ``zone_ends_min``
    (rising, the last equal to ``T``) and ``zone_weights``.
    """

    kind: str
    catchment_min: float
    zone_ends_min: tuple[float, ...] = ()
    zone_weights: tuple[float, ...] = ()

    @property
    def method(self) -> str:
        """``2SFCA``, ``G2SFCA`` or ``E2SFCA``."""
        return METHODS[self.kind]

    def weights(self, minutes: npt.ArrayLike) -> np.ndarray:
        """Weight of each travel time (minutes, >= 0): in [0, 1], 0 beyond the catchment."""
        t = np.asarray(minutes, dtype=float)
        inside = t <= self.catchment_min
        if self.kind == "step":
            return inside.astype(float)
        if self.kind == "gaussian":
            g = (np.exp(-0.5 * (t / self.catchment_min) ** 2) - _EXP_HALF) / (1.0 - _EXP_HALF)
            return np.where(inside, np.clip(g, 0.0, 1.0), 0.0)
        zone = np.searchsorted(np.asarray(self.zone_ends_min), t, side="left")
        w = np.append(np.asarray(self.zone_weights, dtype=float), 0.0)
        return w[np.minimum(zone, len(self.zone_weights))]

    def describe(self, lang: str = "zh") -> str:
        """The method and catchment in words, e.g. ``E2SFCA，30 分钟（0–10/10–20/20–30：1/0.68/0.22）``."""
        text = (
            f"{self.method}, {self.catchment_min:g} min"
            if lang != "zh"
            else f"{self.method}，{self.catchment_min:g} 分钟"
        )
        if self.kind == "zones":
            lows = (0.0, *self.zone_ends_min[:-1])
            spans = "/".join(f"{a:g}–{b:g}" for a, b in zip(lows, self.zone_ends_min))
            ws = "/".join(f"{w:g}" for w in self.zone_weights)
            text += f"（{spans}：{ws}）" if lang == "zh" else f" ({spans}: {ws})"
        return text


def decay(
    kind: str | None = None,
    *,
    catchment_min: float,
    zones: Mapping[float, float] | None = None,
    rules: SupplyRules | None = None,
) -> Decay:
    """A distance-decay function for :func:`two_step`.

    Parameters
    ----------
    kind
        ``"step"`` (2SFCA), ``"gaussian"`` (Dai's Gaussian, zero at the catchment) or
        ``"zones"`` (E2SFCA); ``None``: the default of ``rules/supply.yml``.
    catchment_min
        The catchment ``T``, minutes (> 0).
    zones
        For ``"zones"``: ``{zone end in minutes: weight}``, e.g. ``{10: 1, 20: 0.68,
        30: 0.22}``; the last end must be ``catchment_min``. ``None``: the zones of
        ``rules/supply.yml`` (shares of the catchment) scaled to it.
    rules
        Supply rules (default :func:`load_rules`).
    """
    rules = rules or load_rules()
    kind = rules.default_decay if kind is None else kind
    if kind not in DECAYS:
        msg = f"decay must be one of {', '.join(DECAYS)} (2SFCA, G2SFCA, E2SFCA), got {kind!r}"
        raise ValidationError(msg)
    try:
        t = float(catchment_min)
    except (TypeError, ValueError) as exc:
        msg = f"catchment_min must be a number of minutes > 0, got {catchment_min!r}"
        raise ValidationError(msg) from exc
    if not np.isfinite(t) or t <= 0:
        msg = f"catchment_min must be a finite number of minutes > 0, got {catchment_min!r}"
        raise ValidationError(msg)
    if kind != "zones":
        if zones is not None:
            msg = f"zones are for decay='zones' (E2SFCA), not {kind!r}"
            raise ValidationError(msg)
        return Decay(kind=kind, catchment_min=t)
    if zones is None:
        ends = tuple(round(e * t, 9) for e in rules.zone_ends)
        weights = rules.zone_weights
    else:
        if not isinstance(zones, Mapping):
            msg = f"zones must map zone ends (minutes) to weights, e.g. {{10: 1, 20: 0.68, 30: 0.22}}; got {zones!r}"
            raise ValidationError(msg)
        items = sorted((float(k), v) for k, v in zones.items())
        ends = tuple(k for k, _ in items)
        weights = tuple(v for _, v in items)
    ends, weights = _check_zones(ends, weights, t, "zones")
    return Decay(kind="zones", catchment_min=t, zone_ends_min=ends, zone_weights=weights)
