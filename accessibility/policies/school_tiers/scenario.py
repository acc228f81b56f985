"""Consolidation scenarios: close some schools of a tier and recompute every village's trip.

In:  a prepared study (its router reused: no rebuild, no re-snap) and the schools to
     close, by id or by a closure rule.
Out: :func:`consolidate` (a :class:`Scenario`: times before and after, reassigned
     villages, children affected, optionally a capacity-aware placement) and its parts
     :func:`scenario_table`, :func:`scenario_summary`, :func:`assign_with_capacity`.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ... import classify, engine, pipeline
from ..._errors import ValidationError
from ...labels import label
from ...report import Notes
from .access import TierAccess
from .placement import settlement_of
from .rules import TierRules, check_tier, load_rules, parse_close_rule

log = logging.getLogger(__package__)


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
