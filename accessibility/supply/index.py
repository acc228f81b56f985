"""The two steps, per facility and per origin, and the indices of a study.

Part of :mod:`accessibility.supply` (its docstring has the design): :func:`two_step`
over the sparse (facility, origin) pairs of the bounded searches, the supply of each
facility (:func:`supply_values`: stated or defaulted), :func:`index` and its
:class:`SupplyIndex`, the summaries (:func:`summarise`, :func:`by_township`) and the
indices of a study (:func:`health`, :func:`schools`). Tested in ``tests/test_supply.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import sparse

from .. import equity
from .._errors import ValidationError
from ..classify import TIERS, parse_group, select
from ..engine import Router, group_key
from .rules import (
    _WHERE,
    STATUS_NO_FACILITY,
    STATUS_NONE_IN_REACH,
    STATUS_OK,
    STATUS_POPULATION_UNKNOWN,
    Decay,
    Measure,
    SupplyRules,
    decay,
    load_rules,
)

log = logging.getLogger(__name__)


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
