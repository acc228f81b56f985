"""Supply against demand: beds, doctors or school seats per resident within reach (2SFCA family).

Design
------
In:  a :class:`~accessibility.engine.Router` (one travel mode) with the origins and
     facilities snapped onto it, the classified facilities with their supply columns
     (``beds``, ``doctors``, ``capacity``: OSM tags kept by
     :func:`accessibility.classify.facilities`, or a registry's 床位数 / 学位数 in
     ``capacity``), the origins' residents (``population``; NaN = unknown), and the
     rules of ``rules/supply.yml`` (what a facility of each tier is worth when the data
     do not say, the catchment and mode of health care, the decay functions). Schools
     take their mode, catchment (``limit_min``) and school-age share from
     ``rules/tiers.yml``.
Out: :class:`SupplyIndex` per facility group and measure — per origin the index in
     natural units (beds per 1,000 residents, seats per school-age child), its
     status and the number of facilities in reach; per facility its supply (stated or
     defaulted), the demand in its catchment and its supply-to-demand ratio; a
     one-row summary (share of supply defaulted and the confidence that follows from
     it, population-weighted mean, Gini). :func:`by_township` gives the index per
     township; :mod:`accessibility.supply_map` draws it.

How
---
The two-step floating catchment area method (Luo & Wang 2003), with a distance
decay ``w(t)`` of the travel time ``t`` (minutes) applied in both steps (Luo & Qi
2009; Dai 2010)::

    step 1, per facility j:  R_j = S_j / sum_k w(t_kj) D_k
    step 2, per origin i:    A_i = per * sum_j w(t_ij) R_j

``S_j`` is the facility's supply, ``D_k = population_k × share`` the demand at origin
``k`` (``share`` = 1 for residents, the tier's school-age share for children),
``per`` 1,000 for beds per 1,000 residents. Decays (:class:`Decay`): ``step`` — 1
within the catchment ``T`` (2SFCA); ``gaussian`` — ``(exp(-(t/T)²/2) − exp(-1/2)) /
(1 − exp(-1/2))`` within ``T`` (Gaussian 2SFCA); ``zones`` — one weight per zone of
the catchment, e.g. 1.00 / 0.68 / 0.22 for 0–10 / 10–20 / 20–30 min (E2SFCA). Zones
are closed above: a trip of exactly 10 minutes is in the first zone.

The (facility, origin) pairs within ``T`` come from the router's bounded searches
(:meth:`~accessibility.engine.Router.pairs_within`: one search per facility that stops
at ``T``), as a sparse matrix; both steps are sparse matrix–vector products, so no
origins × facilities array is ever built and the cost grows with the pairs in reach.

Because the same weights serve both steps, the supply is conserved: the
population-weighted sum of the index equals ``per`` × the supply of the facilities
that have residents in reach. What cannot be measured is kept apart from a zero:

- no facility of the group in the data → every index NaN, status ``no_facility``
  (no data, never 0);
- an origin with a known population and no facility within ``T`` → index 0,
  status ``none_in_reach`` (a real zero: no supply in reach);
- an origin whose population is unknown → index NaN, status ``population_unknown``
  (its residents were not counted in any facility's demand);
- a facility with no residents in its catchment → ratio NaN, its supply reaches no
  one and is listed (``facilities_without_demand``).

A facility whose supply columns are empty gets its tier's default; the share of the
supply (and of facilities) so defaulted is reported beside every figure, and above
the thresholds of ``rules/supply.yml`` it lowers the stated confidence (高/中/低).

Tests: ``tests/test_supply.py`` — a case of two clinics and three villages worked by
hand; agreement with PySAL ``access`` (``Access.two_stage_fca`` and
``enhanced_two_stage_fca`` on the same cost table and weights) within 1e-9 relative on
random cases and on the sample county; conservation of supply; the decays; defaults
and their share; no facility, none in reach, unknown population, no demand.
"""

from __future__ import annotations

import functools
import itertools
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import sparse

from . import _yaml, equity
from ._errors import ValidationError
from .classify import TIERS, parse_group, select
from .engine import Router, group_key

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


def _merge(base: Any, over: Any) -> Any:
    """``over`` on top of ``base``: mappings merged key by key, anything else replaced."""
    if isinstance(base, Mapping) and isinstance(over, Mapping):
        out = dict(base)
        for key, value in over.items():
            out[key] = _merge(base[key], value) if key in base else value
        return out
    return over


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
    return _parse(_merge(_yaml.load(_default_text()), overrides))


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


# --------------------------------------------------------------------------- core


@dataclass
class TwoStep:
    """Arrays of one :func:`two_step` computation.

    Attributes
    ----------
    index
        Per origin: ``per × sum_j w(t_ij) R_j`` (0 where no facility is in reach).
    reached
        Per origin: facilities within the catchment with a positive weight.
    demand
        Per facility: ``sum_k w(t_kj) D_k`` (weighted demand in its catchment).
    ratio
        Per facility: ``per × S_j / demand_j``; NaN where the demand is 0.
    origins_in_reach
        Per facility: origins within its catchment with a positive weight.
    """

    index: np.ndarray
    reached: np.ndarray
    demand: np.ndarray
    ratio: np.ndarray
    origins_in_reach: np.ndarray


def two_step(
    pairs_s: sparse.spmatrix | sparse.sparray,
    supply: npt.ArrayLike,
    demand: npt.ArrayLike,
    decay: Decay,
    *,
    per: float = 1.0,
) -> TwoStep:
    """The two-step floating catchment index over sparse (facility, origin) pairs.

    Parameters
    ----------
    pairs_s
        Shape ``(n_facilities, n_origins)``: travel seconds of each pair, absent
        beyond reach (the output of :meth:`accessibility.engine.Router.pairs_within`;
        a stored ``1e-9`` stands for zero seconds). Pairs beyond the catchment get
        weight 0.
    supply
        ``S_j`` per facility (row), finite and >= 0.
    demand
        ``D_k`` per origin (column), finite and >= 0 (set unknown ones to 0 and mark
        them yourself).
    decay
        The decay (:func:`decay`); its catchment in minutes.
    per
        Scale of the result (1000: per 1,000 people).

    Returns
    -------
    TwoStep
        See the module docstring for the formula.
    """
    pairs = sparse.csr_matrix(pairs_s)
    n_f, n_o = pairs.shape
    s = np.asarray(supply, dtype=float).ravel()
    d = np.asarray(demand, dtype=float).ravel()
    if s.shape != (n_f,) or d.shape != (n_o,):
        msg = f"supply ({s.size}) and demand ({d.size}) must match the pairs' facilities × origins {pairs.shape}"
        raise ValidationError(msg)
    if not np.all(np.isfinite(s)) or (s < 0).any():
        msg = "supply must be finite and >= 0 for every facility"
        raise ValidationError(msg)
    if not np.all(np.isfinite(d)) or (d < 0).any():
        msg = "demand must be finite and >= 0 for every origin (give unknown populations 0 and mark them)"
        raise ValidationError(msg)
    w = pairs.copy()
    w.data = decay.weights(pairs.data / 60.0)
    w.eliminate_zeros()
    fac_demand = np.asarray(w @ d, dtype=float)
    ratio = np.full(n_f, np.nan)
    has = fac_demand > 0
    ratio[has] = s[has] / fac_demand[has]
    index = np.asarray(w.T @ np.where(has, ratio, 0.0), dtype=float) * per
    return TwoStep(
        index=index,
        reached=np.diff(w.tocsc().indptr).astype(np.int64),
        demand=fac_demand,
        ratio=ratio * per,
        origins_in_reach=np.diff(w.indptr).astype(np.int64),
    )


# --------------------------------------------------------------------------- supply


def supply_values(facilities: pd.DataFrame, group: str, measure: Measure) -> pd.DataFrame:
    """Each facility's supply for a measure: stated in its columns, or its tier's default.

    Parameters
    ----------
    facilities
        Classified facilities of the group (``kind``, ``tiers``, and any of the
        measure's columns), index = facility id.
    group
        ``"health"``, ``"health:county_hospital"``, ``"school:primary"``…
    measure
        From :func:`load_rules` (``rules.measure("beds")``).

    Returns
    -------
    pandas.DataFrame
        Same index: ``supply`` (the value used), ``stated`` (the value read, NaN when
        none), ``supply_from`` (the column read, or ``"default"``) and ``defaulted``
        (bool). A school of several tiers has stated seats shared between its tiers by
        years of schooling (``split_by_years``); a default is per tier. A facility of
        several tiers in a kind-wide group takes the default of its highest tier.
    """
    kind, tier = parse_group(group)
    if kind != measure.kind:
        msg = f"measure {measure.name!r} counts {measure.kind} facilities, not the group {group!r}"
        raise ValidationError(msg)
    n = len(facilities)
    stated = np.full(n, np.nan)
    source = np.full(n, "default", dtype=object)
    for col in measure.columns:
        if col not in facilities.columns:
            continue
        values = pd.to_numeric(facilities[col], errors="coerce").to_numpy(dtype=float)
        ok = np.isnan(stated) & np.isfinite(values) & (values >= 0)
        stated[ok] = values[ok]
        source[ok] = col
    tier_lists = [
        str(t).split(";") if isinstance(t, str) and t else [] for t in facilities["tiers"]
    ]
    order = TIERS[kind]
    default = np.empty(n)
    share = np.ones(n)
    for i, ts in enumerate(tier_lists):
        known = [t for t in ts if t in order]
        if tier is not None:
            own = tier
        elif known:
            own = max(known, key=order.index)
        else:
            own = order[0]
        default[i] = measure.defaults[own]
        years = measure.split_by_years
        if tier is not None and years and len(known) > 1 and all(t in years for t in known):
            total = sum(years[t] for t in known)
            share[i] = years[tier] / total if total > 0 else 1.0
    defaulted = np.isnan(stated)
    value = np.where(defaulted, default, stated * share)
    return pd.DataFrame(
        {"supply": value, "stated": stated, "supply_from": source, "defaulted": defaulted},
        index=facilities.index,
    )


# --------------------------------------------------------------------------- results


@dataclass
class SupplyIndex:
    """The index of one facility group and measure (see the module docstring).

    Attributes
    ----------
    origins
        Index = origin id: ``index`` (natural units: ``meta["unit"]``), ``status``
        (``ok``, ``none_in_reach``, ``population_unknown``, ``no_facility``),
        ``reached`` (facilities in reach with a positive weight), ``population``,
        ``demand`` (``population × share``).
    facilities
        Index = facility id: ``name``, ``tiers``, ``supply``, ``stated``,
        ``supply_from``, ``defaulted``, ``demand`` (weighted demand in its
        catchment), ``ratio`` (``per × supply / demand``; NaN with no demand),
        ``origins_in_reach``.
    summary
        One row (index = the result's key, e.g. ``health_beds``) — see :func:`summarise`.
    meta
        ``group``, ``measure``, ``per``, ``share`` (demand per resident), ``method``,
        ``decay``, ``catchment_min``, ``mode``, ``unit`` (``beds_per_1000``,
        ``doctors_per_1000``, ``seats_per_child``), ``source`` (of the defaults).
    """

    origins: pd.DataFrame
    facilities: pd.DataFrame
    summary: pd.DataFrame
    meta: dict[str, Any]

    @property
    def key(self) -> str:
        """Column prefix: ``health_beds``, ``school_primary_seats``."""
        return f"{group_key(self.meta['group'])}_{self.meta['measure']}"

    def columns(self) -> pd.DataFrame:
        """The origin table with prefixed columns, to join to a villages table:
        ``{key}_index``, ``{key}_status``, ``{key}_reached``."""
        k = self.key
        return pd.DataFrame(
            {
                f"{k}_index": self.origins["index"],
                f"{k}_status": self.origins["status"],
                f"{k}_reached": self.origins["reached"],
            },
            index=self.origins.index,
        )


UNITS: dict[str, str] = {
    "beds": "beds_per_1000",
    "doctors": "doctors_per_1000",
    "seats": "seats_per_child",
}


def index(
    router: Router,
    facilities: pd.DataFrame,
    population: pd.Series,
    group: str,
    *,
    measure: str,
    decay: Decay,
    share: float = 1.0,
    mode: str = "",
    rules: SupplyRules | None = None,
) -> SupplyIndex:
    """Supply per resident (or per child) within reach of every origin, for one group.

    Parameters
    ----------
    router
        Built on the origins and on (at least) the group's facilities, by the mode
        people use to reach them.
    facilities
        Classified facilities (``kind``, ``tiers``, ``name``, supply columns), index =
        facility id.
    population
        Residents per origin (index = origin id; NaN = unknown).
    group
        ``"health"``, ``"health:<tier>"`` or ``"school:<tier>"``.
    measure
        ``"beds"``, ``"doctors"`` or ``"seats"`` (``rules/supply.yml``).
    decay
        From :func:`decay`: the catchment and the weight of a trip.
    share
        Demand per resident (0–1]: 1 for residents, the tier's school-age share for
        children.
    mode
        The router's travel mode, recorded in the result.
    rules
        Supply rules (default :func:`load_rules`).
    """
    rules = rules or load_rules()
    m = rules.measure(measure)
    parse_group(group)
    if not (isinstance(share, int | float) and 0 < float(share) <= 1):
        msg = f"share (demand per resident) must be a number in (0, 1], got {share!r}"
        raise ValidationError(msg)
    if "kind" not in facilities.columns or "tiers" not in facilities.columns:
        msg = "facilities need 'kind' and 'tiers' columns; pass classified facilities (study.facilities)"
        raise ValidationError(msg)
    origin_ids = router.origins.index
    pop = pd.to_numeric(population.reindex(origin_ids), errors="coerce").to_numpy(dtype=float)
    if len(origin_ids) and population.notna().any() and np.isnan(pop).all():
        msg = "population shares no id with the router's origins; pass the population indexed by origin id"
        raise ValidationError(msg)
    bad = ~np.isnan(pop) & (~np.isfinite(pop) | (pop < 0))
    if bad.any():
        msg = f"population must be finite and >= 0; bad values for origins {origin_ids[bad][:5].tolist()}"
        raise ValidationError(msg)
    ids = select(facilities, group)
    pos = router.facilities.index.get_indexer(ids)
    if (pos < 0).any():
        msg = f"facilities {ids[pos < 0][:5].tolist()} are not in the router; build it on study.facilities"
        raise ValidationError(msg)
    ids = router.facilities.index[np.unique(pos)]  # the order of pairs_within's rows
    known = ~np.isnan(pop)
    demand = np.where(known, pop * float(share), 0.0)
    chosen = facilities.loc[ids]
    values = supply_values(chosen, group, m)
    meta: dict[str, Any] = {
        "group": group,
        "measure": measure,
        "per": m.per,
        "share": float(share),
        "method": decay.method,
        "decay": decay.kind,
        "decay_text_zh": decay.describe("zh"),
        "decay_text_en": decay.describe("en"),
        "catchment_min": decay.catchment_min,
        "mode": mode,
        "unit": UNITS.get(measure, measure),
        "source": m.source,
    }
    n_o = len(origin_ids)
    if len(ids) == 0:
        log.warning(
            "no facility of group %r in the data: its %s index is no data (NaN), not 0",
            group,
            measure,
        )
        origins = pd.DataFrame(
            {
                "index": np.full(n_o, np.nan),
                "status": np.full(n_o, STATUS_NO_FACILITY, dtype=object),
                "reached": np.zeros(n_o, dtype=np.int64),
                "population": pop,
                "demand": np.where(known, demand, np.nan),
            },
            index=origin_ids,
        )
        fac = _facility_table(chosen, values, np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int64))
        result = SupplyIndex(origins=origins, facilities=fac, summary=pd.DataFrame(), meta=meta)
        result.summary = summarise(result, rules=rules)
        return result
    pairs = router.pairs_within(decay.catchment_min * 60.0, ids)
    core = two_step(pairs, values["supply"].to_numpy(), demand, decay, per=m.per)
    value = core.index.copy()
    status = np.where(core.reached > 0, STATUS_OK, STATUS_NONE_IN_REACH).astype(object)
    value[~known] = np.nan
    status[~known] = STATUS_POPULATION_UNKNOWN
    origins = pd.DataFrame(
        {
            "index": value,
            "status": status,
            "reached": core.reached,
            "population": pop,
            "demand": np.where(known, demand, np.nan),
        },
        index=origin_ids,
    )
    fac = _facility_table(chosen, values, core.demand, core.ratio, core.origins_in_reach)
    result = SupplyIndex(origins=origins, facilities=fac, summary=pd.DataFrame(), meta=meta)
    result.summary = summarise(result, rules=rules)
    no_demand = int(fac["demand"].eq(0).sum())
    if no_demand:
        log.info(
            "%d facilities of %r have no residents within %g min: their %s reach no one",
            no_demand,
            group,
            decay.catchment_min,
            measure,
        )
    return result


def _facility_table(
    chosen: pd.DataFrame,
    values: pd.DataFrame,
    demand: np.ndarray,
    ratio: np.ndarray,
    reach: np.ndarray,
) -> pd.DataFrame:
    out = pd.DataFrame(index=chosen.index)
    out["name"] = chosen["name"] if "name" in chosen.columns else None
    out["tiers"] = chosen["tiers"]
    out = out.join(values)
    out["demand"] = demand
    out["ratio"] = ratio
    out["origins_in_reach"] = reach
    return out


def summarise(result: SupplyIndex, *, rules: SupplyRules | None = None) -> pd.DataFrame:
    """One row of figures for a :class:`SupplyIndex`.

    Columns: ``group``, ``measure``, ``unit``, ``method``, ``mode``, ``catchment_min``,
    ``facilities``, ``facilities_defaulted``, ``supply``, ``supply_defaulted``,
    ``defaulted_share`` (of the supply; of the facilities when the supply is 0),
    ``confidence`` (``high``/``medium``/``low`` from ``defaulted_share``; ``low``
    with no facility), ``origins``, ``population`` (known), ``origins_population_unknown``,
    ``index_pop_mean`` (``sum(pop_i A_i) / sum(pop_i)`` over origins with a known
    population), ``index_median``, ``index_max``, ``gini`` (population-weighted,
    :func:`accessibility.equity.gini`), ``origins_none_in_reach``,
    ``population_none_in_reach``, ``facilities_without_demand``,
    ``supply_without_demand`` and ``status`` (``ok`` or ``no_facility``).
    """
    rules = rules or load_rules()
    o, f, meta = result.origins, result.facilities, result.meta
    ok = o["status"].isin([STATUS_OK, STATUS_NONE_IN_REACH]).to_numpy()
    pop = o["population"].to_numpy(dtype=float)
    val = o["index"].to_numpy(dtype=float)
    supply = float(f["supply"].sum())
    defaulted_supply = float(f.loc[f["defaulted"].astype(bool), "supply"].sum())
    n_def = int(f["defaulted"].astype(bool).sum())
    if supply > 0:
        share = defaulted_supply / supply
    else:
        share = n_def / len(f) if len(f) else np.nan
    empty = len(f) == 0
    total_pop = float(pop[ok].sum())
    gini = np.nan
    if ok.any() and total_pop > 0:
        gini = equity.gini(val[ok], pop[ok])
    none = o["status"].eq(STATUS_NONE_IN_REACH).to_numpy()
    no_demand = f["demand"].eq(0).to_numpy() if len(f) else np.zeros(0, dtype=bool)
    row = {
        "group": meta["group"],
        "measure": meta["measure"],
        "unit": meta["unit"],
        "method": meta["method"],
        "mode": meta["mode"],
        "catchment_min": meta["catchment_min"],
        "facilities": len(f),
        "facilities_defaulted": n_def,
        "supply": supply,
        "supply_defaulted": defaulted_supply,
        "defaulted_share": share,
        "confidence": "low" if empty else rules.confidence(share),
        "origins": len(o),
        "population": float(np.nansum(pop)),
        "origins_population_unknown": int(o["status"].eq(STATUS_POPULATION_UNKNOWN).sum()),
        "index_pop_mean": float((val[ok] * pop[ok]).sum() / total_pop) if total_pop > 0 else np.nan,
        "index_median": float(np.median(val[ok])) if ok.any() else np.nan,
        "index_max": float(val[ok].max()) if ok.any() else np.nan,
        "gini": gini,
        "origins_none_in_reach": int(none.sum()),
        "population_none_in_reach": float(np.nansum(pop[none])),
        "facilities_without_demand": int(no_demand.sum()),
        "supply_without_demand": float(f["supply"].to_numpy()[no_demand].sum()) if len(f) else 0.0,
        "status": STATUS_NO_FACILITY if empty else STATUS_OK,
    }
    return pd.DataFrame([row], index=pd.Index([result.key], name="index"))


def by_township(result: SupplyIndex, townships: pd.Series) -> pd.DataFrame:
    """The index per township (or any grouping of the origins), with a whole-area row.

    Parameters
    ----------
    result
        From :func:`index`.
    townships
        Township of each origin (index = origin id; e.g. the ``township`` column of
        :func:`accessibility.equity.assign_township`).

    Returns
    -------
    pandas.DataFrame
        Index = township (and :data:`accessibility.equity.TOTAL` last): ``origins``,
        ``population`` (known), ``index_pop_mean`` (population-weighted mean),
        ``index_min``, ``index_median``, ``index_max``, ``origins_none_in_reach``,
        ``population_none_in_reach``, ``origins_population_unknown`` and ``gini``
        (population-weighted, within the township; NaN without residents). All
        index figures are NaN for a group with no facility in the data.
    """
    o = result.origins
    town = townships.reindex(o.index)
    if town.isna().all() and len(o):
        msg = "townships share no id with the result's origins; pass a Series indexed by origin id"
        raise ValidationError(msg)
    frame = o.assign(_town=town.fillna("—").astype(str).to_numpy())
    rows = {}
    for name, part in [*frame.groupby("_town", sort=True), (equity.TOTAL, frame)]:
        ok = part["status"].isin([STATUS_OK, STATUS_NONE_IN_REACH]).to_numpy()
        pop = part["population"].to_numpy(dtype=float)
        val = part["index"].to_numpy(dtype=float)
        total = float(pop[ok].sum())
        none = part["status"].eq(STATUS_NONE_IN_REACH).to_numpy()
        rows[name] = {
            "origins": len(part),
            "population": float(np.nansum(pop)),
            "index_pop_mean": float((val[ok] * pop[ok]).sum() / total) if total > 0 else np.nan,
            "index_min": float(val[ok].min()) if ok.any() else np.nan,
            "index_median": float(np.median(val[ok])) if ok.any() else np.nan,
            "index_max": float(val[ok].max()) if ok.any() else np.nan,
            "origins_none_in_reach": int(none.sum()),
            "population_none_in_reach": float(np.nansum(pop[none])),
            "origins_population_unknown": int(part["status"].eq(STATUS_POPULATION_UNKNOWN).sum()),
            "gini": equity.gini(val[ok], pop[ok]) if ok.any() and total > 0 else np.nan,
        }
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "township"
    return out


# --------------------------------------------------------------------------- studies


def health(
    study: Any,
    *,
    measure: str = "beds",
    group: str = "health",
    decay_kind: str | None = None,
    catchment_min: float | None = None,
    zones: Mapping[float, float] | None = None,
    rules: SupplyRules | None = None,
) -> SupplyIndex:
    """Beds (or doctors) per 1,000 residents within reach of every origin of a study.

    Parameters
    ----------
    study
        A prepared study (:func:`accessibility.pipeline.prepare`), ideally with the
        health mode of ``rules/supply.yml`` (``ebike``); another mode is used as given
        and recorded (a warning says so).
    measure
        ``"beds"`` or ``"doctors"``.
    group
        ``"health"`` (every tier) or ``"health:<tier>"``.
    decay_kind, catchment_min, zones
        The decay (:func:`decay`); the catchment defaults to the health rule's.
    rules
        Supply rules (default :func:`load_rules`).
    """
    rules = rules or load_rules()
    reach = rules.reach.get("health", {})
    if rules.measure(measure).kind != "health":
        msg = f"measure {measure!r} is not a health measure; use 'beds' or 'doctors'"
        raise ValidationError(msg)
    mode = str(reach.get("mode", study.mode))
    if study.mode != mode:
        log.warning(
            "health supply is measured by %s in %s; this study travels by %s, used as given",
            mode,
            _WHERE,
            study.mode,
        )
    t = float(reach.get("catchment_min", 30)) if catchment_min is None else catchment_min
    dec = decay(decay_kind, catchment_min=t, zones=zones, rules=rules)
    return index(
        study.router,
        study.facilities,
        study.origins["population"],
        group,
        measure=measure,
        decay=dec,
        mode=study.mode,
        rules=rules,
    )


def schools(
    tier_access: Any,
    *,
    tiers: Sequence[str] | None = None,
    decay_kind: str | None = None,
    rules: SupplyRules | None = None,
) -> dict[str, SupplyIndex]:
    """Seats per school-age child within reach, per school tier, by each tier's own rule.

    Parameters
    ----------
    tier_access
        The result of :func:`accessibility.policies.school_tiers.access_by_tier`: per
        tier its study (the tier's mode), its limit (the catchment, minutes) and its
        school-age share (children per resident, an estimate: ``rules/tiers.yml``).
    tiers
        Tiers to compute (default: those of ``tier_access``).
    decay_kind
        The decay (:func:`decay`); zones are the rule's shares of each tier's limit.
    rules
        Supply rules (default :func:`load_rules`).

    Returns
    -------
    dict
        Tier → :class:`SupplyIndex` (measure ``seats``).
    """
    rules = rules or load_rules()
    out = {}
    for tier in tiers or tier_access.tiers:
        rule = tier_access.rules.tier(tier)
        study = tier_access.study_for(tier)
        dec = decay(decay_kind, catchment_min=rule.limit_min, rules=rules)
        out[tier] = index(
            study.router,
            study.facilities,
            study.origins["population"],
            f"school:{tier}",
            measure="seats",
            decay=dec,
            share=rule.school_age_share,
            mode=rule.mode,
            rules=rules,
        )
    return out


def summary_table(results: Mapping[str, SupplyIndex] | Sequence[SupplyIndex]) -> pd.DataFrame:
    """The summaries of several results, one row each."""
    items = results.values() if isinstance(results, Mapping) else results
    frames = [r.summary for r in items]
    return pd.concat(frames) if frames else pd.DataFrame()


# --------------------------------------------------------------------------- outputs


def township_tables(
    results: Sequence[SupplyIndex], townships: pd.Series | None
) -> dict[str, pd.DataFrame]:
    """:func:`by_township` of each result, keyed ``<result key>_township``; empty without townships.

    A result whose group has no facility in the data is left out (no data, nothing to
    compare between townships).
    """
    if townships is None:
        return {}
    return {
        f"{r.key}_township": by_township(r, townships)
        for r in results
        if r.summary.iloc[0]["status"] != STATUS_NO_FACILITY
    }


def excel_tables(
    results: Sequence[SupplyIndex],
    *,
    townships: Mapping[str, pd.DataFrame] | None = None,
    lang: str = "zh",
) -> dict[str, pd.DataFrame]:
    """Workbook sheets (sheet name in ``lang`` → table): the summary of every result,
    every facility's supply and demand, and the per-township tables given.

    Codes are shown as words: measure units, methods' decay, status and confidence;
    column headers come from :func:`excel_headers`.
    """
    from .export import SHARE_COLUMNS
    from .labels import group_label, label

    def words(section: str, value: Any) -> Any:
        try:
            return (
                label(f"{section}.{value}", lang=lang)
                if isinstance(value, str) and value
                else value
            )
        except ValidationError:
            return value

    summary = summary_table(results).copy()
    if len(summary):
        summary["unit"] = summary["measure"].map(lambda m: words("supply_unit", m))
        summary["confidence"] = summary["confidence"].map(lambda c: words("supply_confidence", c))
        summary["status"] = summary["status"].map(lambda s: words("supply_status", s))
        summary["mode"] = summary["mode"].map(lambda m: words("mode", m))
        summary["measure"] = summary["measure"].map(lambda m: words("supply_measure", m))
        summary = summary.set_index("group")
        summary.attrs[SHARE_COLUMNS] = ["defaulted_share"]
    frames = []
    for r in results:
        if len(r.facilities):
            f = r.facilities.copy()
            f.insert(0, "measure", words("supply_measure", r.meta["measure"]))
            f.insert(0, "group", r.meta["group"])
            f["supply_from"] = f["supply_from"].where(
                f["supply_from"] != "default", words("supply_col", "defaulted")
            )
            frames.append(f)
    sheets: dict[str, pd.DataFrame] = {label("supply_sheet.supply_summary", lang=lang): summary}
    if frames:
        sheets[label("supply_sheet.supply_facilities", lang=lang)] = pd.concat(frames)
    by_key = {r.key: r for r in results}
    for key, table in (townships or {}).items():
        r = by_key.get(key.removesuffix("_township"))
        if r is None:
            continue
        name = label("supply_sheet.township", lang=lang).format(
            group=group_label(r.meta["group"], lang=lang),
            measure=words("supply_measure", r.meta["measure"]),
        )[:31]
        t = table.copy()
        t.index = t.index.map(
            lambda x: label("equity_ui.all", lang=lang) if x == equity.TOTAL else x
        )
        sheets[name] = t
    return sheets


def excel_headers(*, lang: str = "zh") -> dict[str, str]:
    """Column name → header in ``lang`` for the sheets of :func:`excel_tables`."""
    from .labels import keys, label

    return {c: label(f"supply_col.{c}", lang=lang) for c in keys("supply_col")}


def layers(
    results: Sequence[SupplyIndex],
    places: pd.DataFrame,
    *,
    townships: Mapping[str, pd.DataFrame] | None = None,
) -> dict[str, pd.DataFrame]:
    """GeoPackage layers: ``supply_villages`` (the places with ``{key}_index``,
    ``{key}_status``, ``{key}_reached`` of every result), ``supply_summary``,
    ``supply_facilities`` and the per-township tables given."""
    cols = [r.columns() for r in results]
    keep = [c for c in ("name", "level", "population") if c in places.columns]
    base = places[[*keep, places.geometry.name]] if hasattr(places, "geometry") else places[keep]
    out: dict[str, pd.DataFrame] = {
        "supply_villages": base.join(pd.concat(cols, axis=1)) if cols else base
    }
    out["supply_summary"] = summary_table(results)
    frames = [
        r.facilities.assign(group=r.meta["group"], measure=r.meta["measure"])
        for r in results
        if len(r.facilities)
    ]
    if frames:
        out["supply_facilities"] = pd.concat(frames)
    out.update(townships or {})
    return out


def key_figures(results: Sequence[SupplyIndex]) -> list[dict[str, Any]]:
    """Per result: the population-weighted mean index (format ``number``), marked
    ``no_data`` for a group with no facility, with the share defaulted and the
    confidence in its label."""
    from .export import figure
    from .labels import group_label, label

    out = []
    for r in results:
        row = r.summary.iloc[0]
        no_data = row["status"] == STATUS_NO_FACILITY
        value = (
            None
            if no_data or not np.isfinite(row["index_pop_mean"])
            else float(row["index_pop_mean"])
        )
        group = tuple(group_label(r.meta["group"], lang=x) for x in ("zh", "en"))
        unit = tuple(label(f"supply_unit.{r.meta['measure']}", lang=x) for x in ("zh", "en"))
        conf = tuple(label(f"supply_confidence.{row['confidence']}", lang=x) for x in ("zh", "en"))
        out.append(
            figure(
                f"{r.key}_index",
                value,
                "number",
                labels=(
                    f"{group[0]}{unit[0]}（{r.meta['method']}，人口加权平均；可信度{conf[0]}）",
                    f"{group[1]}: {unit[1]} ({r.meta['method']}, population-weighted mean; confidence {conf[1]})",
                ),
                status="no_data" if no_data else None,
            )
        )
    return out


def townships(study: Any) -> pd.Series | None:
    """Each origin's township (:func:`accessibility.equity.assign_township` over the
    study's network), or ``None`` when the data have no township seat (said in the log)."""
    places = study.places
    if "level" not in places.columns or not places["level"].isin(equity.SEAT_LEVELS).any():
        log.warning("no township seat in the data: the supply indices are not given per township")
        return None
    return equity.assign_township(study.origins, places, router=study.router)["township"]
