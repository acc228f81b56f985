"""Where to add facilities: maximal coverage location, greedy and exact.

Design
------
In:  a coverage structure ``A`` (candidates × demand points, e.g. the output of
     :meth:`accessibility.engine.Router.pairs_within` for the candidate sites:
     ``A[j, i]`` present when candidate ``j`` is within the time limit of demand
     point ``i``), demand weights ``w_i`` (residents), and which demand points are
     already covered by existing facilities.
Out: a :class:`Plan`: the chosen candidate ids in the order they were added, the
     weighted coverage share before and after, the gain of each step and whether
     the target was reached.

Problems
--------
With ``W = Σ_i w_i``, ``E`` the weight already covered, ``x_j ∈ {0, 1}`` (site
``j`` opened) and ``y_i ∈ {0, 1}`` (point ``i`` newly covered, only for points not
yet covered)::

    target share τ:   minimise Σ_j x_j
                      s.t.  E + Σ_i w_i y_i ≥ τ W,   y_i ≤ Σ_{j covers i} x_j
    k sites:          maximise Σ_i w_i y_i
                      s.t.  Σ_j x_j ≤ k,             y_i ≤ Σ_{j covers i} x_j

``y`` could be continuous (with integer ``x`` an optimum sets ``y_i = 1`` exactly
where some chosen site covers ``i``), but it is declared binary: HiGHS has been
seen to return a non-optimal plan for the relaxed form. Weights enter the model
as shares of ``W``. Points with the same set of covering
candidates are merged into one (their weights summed) — the model is unchanged,
only smaller. Between plans with the same number of sites the one covering more
is preferred. For a target this is solved in two stages: first the fewest sites
alone (a pure count: its bound rounds up to whole sites, where a mixed objective
``Σ x_j − ½ · covered share`` leaves HiGHS proving the coverage term, seconds more
on a city; see :func:`_fewest`: a set cover without ``y`` when everyone coverable
must be covered, points whose candidates include another point's left out; the
relaxation's bound, rounded up, and its largest values rounded into plans, so that a
plan as small as the bound needs no search), then the ``k sites`` problem with that count,
started from the first plan improved by single exchanges (:func:`_exchange`), in
the time left (``tie_break_s``); how far that tie-break is proven is reported apart
(``coverage_proof``, ``coverage_gap``).

:func:`greedy` adds, at each step, the candidate covering the most uncovered
weight (ties: the smallest id), until the target is met, ``k`` sites are open or
no candidate adds anything. It is fast and usually within a site or two of the
optimum, but not optimal (see the tests for a case). :func:`exact` solves the
integer programme with HiGHS (:func:`scipy.optimize.milp`) and refuses models with
more than ``max_vars`` variables (use greedy, or thin the candidates). When the
target cannot be reached with all candidates, both report it (``reached=False``)
and return the plan reaching the best attainable share.

HiGHS's answers are checked: a plan it calls optimal must cost no more than its
bound, else the model is solved again without the starting plan (HiGHS 1.16 has
broken this when presolve removed columns of the start).

Tests: ``tests/test_siting.py`` — a case where greedy needs three sites and the
optimum two, agreement on an easy case, unreachable targets, the size guard and
bad inputs; brute force on random cases (partial and set cover, proven by the
relaxation or by branching), scipy's ``milp`` on a larger one, and the recorded
case where HiGHS called a plan optimal above its own bound.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pandas as pd
from scipy import sparse

from ._errors import ValidationError

__all__ = ["DEFAULT_MAX_VARS", "ModelTooLargeError", "Plan", "exact", "greedy", "plan_table"]

log = logging.getLogger(__name__)

#: Largest exact model (candidates + merged demand points) solved by default.
DEFAULT_MAX_VARS: Final[int] = 20_000
#: Seconds HiGHS may spend on one exact model by default; the gap it proves is reported.
DEFAULT_TIME_LIMIT_S: Final[float] = 10.0
#: Weight below which a difference is treated as rounding (relative to the total).
_REL_TOL: Final[float] = 1e-9
#: Site counts, from the relaxation's bound up, tried by rounding before HiGHS branches.
_ROUNDING_TRIES: Final[int] = 4
_STDOUT_LOCK = threading.Lock()


class ModelTooLargeError(ValidationError):
    """The exact model, once reduced, has more variables than ``max_vars`` allows."""

    def __init__(self, msg: str, *, variables: int) -> None:
        super().__init__(msg)
        self.variables = variables


@dataclass(frozen=True)
class Plan:
    """A set of new sites and what it does to coverage.

    Attributes
    ----------
    method
        ``"greedy"`` or ``"exact"``.
    sites
        Chosen candidate ids, in the order they were added (exact: ordered by
        marginal gain, largest first).
    target
        Target share (0–1) asked for, or ``None`` when a number of sites was.
    n_sites
        Number of sites asked for, or ``None``.
    reached
        Whether the target share was reached (always ``True`` for ``n_sites``).
    total, before, after
        Total weight, weight covered before and after (persons).
    best
        Share attainable with every candidate open (the ceiling of any plan).
    steps
        One row per site: ``site``, ``gain`` (weight newly covered by it),
        ``covered`` (weight covered after it), ``share`` (0–1).
    status
        ``target_reached``, ``already_reached``, ``target_unreachable``,
        ``n_sites`` or ``no_gain`` (fewer sites than asked help), ``time_limit``
        (exact: best plan found, optimality not proven).
    message
        The status in words.
    meta
        Model size and solve time (exact), candidates considered.
    """

    method: str
    sites: list[Any]
    target: float | None
    n_sites: int | None
    reached: bool
    total: float
    before: float
    after: float
    best: float
    steps: pd.DataFrame
    status: str
    message: str
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def share_before(self) -> float:
        """Covered share before (0–1)."""
        return self.before / self.total if self.total > 0 else float("nan")

    @property
    def share_after(self) -> float:
        """Covered share with the new sites (0–1)."""
        return self.after / self.total if self.total > 0 else float("nan")


@dataclass(frozen=True)
class _Problem:
    matrix: sparse.csr_matrix  # candidates × demand, boolean (only uncovered demand kept)
    weights: np.ndarray  # weight of each kept demand column
    candidate_ids: np.ndarray  # object, aligned with rows
    order: np.ndarray  # candidate rows sorted by id (tie-break order)
    total: float
    before: float


def _as_matrix(coverage: Any) -> tuple[sparse.csr_matrix, np.ndarray | None, pd.Index | None]:
    if isinstance(coverage, pd.DataFrame):
        m = sparse.csr_matrix(coverage.fillna(0).to_numpy(dtype=float) != 0)
        return m, coverage.index.to_numpy(dtype=object), pd.Index(coverage.columns)
    if sparse.issparse(coverage):
        m = sparse.csr_matrix(coverage)
        m.eliminate_zeros()
        return sparse.csr_matrix(m != 0), None, None
    arr = np.asarray(coverage)
    if arr.ndim != 2:
        msg = f"coverage must be a 2-D candidates × demand matrix, got shape {arr.shape}"
        raise ValidationError(msg)
    return sparse.csr_matrix(np.nan_to_num(arr.astype(float)) != 0), None, None


def _problem(
    coverage: Any,
    weights: pd.Series | Sequence[float] | np.ndarray,
    candidate_ids: Sequence[Any] | pd.Index | None,
    covered: pd.Series | Sequence[bool] | np.ndarray | None,
) -> _Problem:
    matrix, frame_ids, frame_cols = _as_matrix(coverage)
    n_cand, n_dem = matrix.shape
    if isinstance(weights, pd.Series):
        if frame_cols is not None:
            if not frame_cols.isin(weights.index).all():
                missing = frame_cols[~frame_cols.isin(weights.index)][:5].tolist()
                msg = f"coverage columns {missing} have no weight; weights must be indexed by demand id"
                raise ValidationError(msg)
            weights = weights.reindex(frame_cols)
        w = weights.to_numpy(dtype=float)
    else:
        w = np.asarray(weights, dtype=float)
    if w.shape != (n_dem,):
        msg = f"weights must have one value per demand point (coverage has {n_dem} columns), got {w.shape}"
        raise ValidationError(msg)
    if np.isnan(w).any() or (w < 0).any() or not np.isfinite(w).all():
        bad = np.flatnonzero(~np.isfinite(w) | (w < 0))[:5].tolist()
        msg = f"weights must be finite and ≥ 0 (residents); demand positions {bad} are not (fill or drop them)"
        raise ValidationError(msg)
    if frame_ids is not None:
        ids = frame_ids
    elif candidate_ids is None:
        ids = np.arange(n_cand).astype(object)
    else:
        ids = pd.Index(candidate_ids).to_numpy(dtype=object)
    if ids.shape != (n_cand,):
        msg = f"candidate_ids must have one id per coverage row ({n_cand}), got {len(ids)}"
        raise ValidationError(msg)
    if not pd.Index(ids).is_unique:
        dup = pd.Index(ids)[pd.Index(ids).duplicated()][:5].tolist()
        msg = f"candidate ids must be unique; duplicated: {dup}"
        raise ValidationError(msg)
    if covered is None:
        cov = np.zeros(n_dem, dtype=bool)
    else:
        if isinstance(covered, pd.Series) and isinstance(weights, pd.Series):
            covered = covered.reindex(weights.index)
        cov_raw = pd.Series(np.asarray(covered, dtype=object).ravel())
        if cov_raw.size != n_dem or cov_raw.isna().any():
            msg = f"covered must give True/False for each of the {n_dem} demand points"
            raise ValidationError(msg)
        cov = cov_raw.astype(bool).to_numpy()
    try:
        order = np.asarray(pd.Index(ids).argsort(), dtype=np.int64)
    except TypeError:  # ids of mixed types: order by their text
        order = np.argsort(np.array([str(i) for i in ids]), kind="stable")
    keep = ~cov
    return _Problem(
        matrix=sparse.csr_matrix(matrix[:, keep]),
        weights=w[keep],
        candidate_ids=ids,
        order=order,
        total=float(w.sum()),
        before=float(w[cov].sum()),
    )


def _check_goal(target: float | None, n_sites: int | None) -> None:
    if (target is None) == (n_sites is None):
        msg = "give either target (a share, e.g. 0.95) or n_sites (a number of new sites), not both"
        raise ValidationError(msg)
    if target is not None and (not np.isfinite(target) or not 0 < target <= 1):
        msg = f"target must be a share in (0, 1], e.g. 0.95; got {target!r}"
        raise ValidationError(msg)
    if n_sites is not None and (int(n_sites) != n_sites or n_sites < 0):
        msg = f"n_sites must be a whole number ≥ 0, got {n_sites!r}"
        raise ValidationError(msg)


def _steps(p: _Problem, rows: Sequence[int]) -> tuple[pd.DataFrame, float]:
    """Gains of the chosen rows in the given order; returns the table and the covered weight."""
    got = np.zeros(p.matrix.shape[1], dtype=bool)
    covered = p.before
    out = []
    for r in rows:
        cols = p.matrix.indices[p.matrix.indptr[r] : p.matrix.indptr[r + 1]]
        new = cols[~got[cols]]
        gain = float(p.weights[new].sum())
        got[new] = True
        covered += gain
        out.append(
            {
                "site": p.candidate_ids[r],
                "gain": gain,
                "covered": covered,
                "share": covered / p.total if p.total > 0 else np.nan,
            }
        )
    table = pd.DataFrame(out, columns=["site", "gain", "covered", "share"])
    table.index = pd.RangeIndex(1, len(table) + 1, name="step")
    return table, covered


def _best(p: _Problem) -> float:
    reachable = np.asarray(p.matrix.sum(axis=0)).ravel() > 0
    return p.before + float(p.weights[reachable].sum())


def _need(p: _Problem, target: float) -> float:
    """Weight the new sites must add to reach ``target`` (≤ 0: reached already)."""
    return target * p.total - p.before - _REL_TOL * p.total


def _greedy_rows(p: _Problem, *, need: float, k: int | None) -> list[int]:
    m = p.matrix.tocsc()  # columns → covering rows, to update gains
    mr = p.matrix
    gains = np.asarray(mr @ p.weights).ravel()
    got = np.zeros(mr.shape[1], dtype=bool)
    chosen: list[int] = []
    added = 0.0
    tol = _REL_TOL * max(p.total, 1.0)
    while (k is None and added < need) or (k is not None and len(chosen) < k):
        ordered = gains[p.order]
        pos = int(np.argmax(ordered))  # first maximum in id order
        if ordered[pos] <= tol:
            break
        r = int(p.order[pos])
        chosen.append(r)
        cols = mr.indices[mr.indptr[r] : mr.indptr[r + 1]]
        new = cols[~got[cols]]
        got[new] = True
        added += float(p.weights[new].sum())
        for c in new:  # every candidate covering a newly covered point loses its weight
            rows = m.indices[m.indptr[c] : m.indptr[c + 1]]
            gains[rows] -= p.weights[c]
        gains[r] = 0.0
    return chosen


def _finish(
    p: _Problem,
    method: str,
    rows: list[int],
    *,
    target: float | None,
    n_sites: int | None,
    meta: dict[str, Any],
    time_limited: bool = False,
) -> Plan:
    steps, after = _steps(p, rows)
    best = _best(p)
    tol = _REL_TOL * max(p.total, 1.0)
    if target is not None:
        reached = after >= target * p.total - tol
        if not rows and reached:
            status, message = (
                "already_reached",
                f"coverage {p.before / p.total:.1%} already meets the target {target:.0%}",
            )
        elif reached:
            status, message = (
                "target_reached",
                f"{len(rows)} new sites reach {after / p.total:.1%} (target {target:.0%})",
            )
        else:
            status = "target_unreachable"
            if after >= best - tol:
                message = (
                    f"the target {target:.0%} cannot be reached with these candidates: all of "
                    f"them together cover {best / p.total:.1%}, which {len(rows)} sites reach; "
                    "add candidate sites (e.g. a finer grid) near the points left out"
                )
            else:
                message = f"{len(rows)} sites reach {after / p.total:.1%}, short of the target {target:.0%}"
    else:
        reached = True
        if n_sites is not None and len(rows) < n_sites:
            status = "no_gain"
            message = (
                f"only {len(rows)} of {n_sites} sites add coverage; the rest would cover nobody new"
            )
        else:
            status, message = "n_sites", f"{len(rows)} new sites reach {after / p.total:.1%}"
    if time_limited:
        status = "time_limit"
        message += " (time limit: best plan found, optimality not proven)"
    log.info("%s plan: %s", method, message)
    return Plan(
        method=method,
        sites=[p.candidate_ids[r] for r in rows],
        target=target,
        n_sites=n_sites,
        reached=bool(reached),
        total=p.total,
        before=p.before,
        after=after,
        best=best,
        steps=steps,
        status=status,
        message=message,
        meta=meta,
    )


def greedy(
    coverage: Any,
    weights: pd.Series | Sequence[float] | np.ndarray,
    *,
    candidate_ids: Sequence[Any] | pd.Index | None = None,
    covered: pd.Series | Sequence[bool] | np.ndarray | None = None,
    target: float | None = None,
    n_sites: int | None = None,
) -> Plan:
    """Add sites one at a time, each covering the most weight not yet covered.

    Parameters
    ----------
    coverage
        Candidates × demand points: a sparse matrix (any stored non-zero = covered,
        e.g. travel times from :meth:`~accessibility.engine.Router.pairs_within`), a
        boolean array, or a DataFrame (index = candidate ids, columns = demand ids).
    weights
        Residents per demand point (≥ 0), in column order (a Series is aligned to a
        DataFrame's columns).
    candidate_ids
        Ids of the coverage rows; default ``0..n-1`` (a DataFrame's index wins).
    covered
        Demand points already covered by existing facilities (True/False per point);
        default none.
    target
        Covered share (0–1] to reach, counting ``covered``; or
    n_sites
        the number of sites to add.

    Returns
    -------
    Plan
        Ties between equally good candidates go to the smallest id, so the result
        is deterministic. Stops early, with ``reached=False``, when no candidate adds
        weight before the target is met.
    """
    _check_goal(target, n_sites)
    p = _problem(coverage, weights, candidate_ids, covered)
    t0 = time.perf_counter()
    if target is not None:
        rows = _greedy_rows(p, need=_need(p, target), k=None)
    else:
        rows = _greedy_rows(p, need=np.inf, k=int(n_sites or 0))
    meta = {"candidates": len(p.candidate_ids), "seconds": time.perf_counter() - t0}
    return _finish(p, "greedy", rows, target=target, n_sites=n_sites, meta=meta)


def exact(
    coverage: Any,
    weights: pd.Series | Sequence[float] | np.ndarray,
    *,
    candidate_ids: Sequence[Any] | pd.Index | None = None,
    covered: pd.Series | Sequence[bool] | np.ndarray | None = None,
    target: float | None = None,
    n_sites: int | None = None,
    max_vars: int = DEFAULT_MAX_VARS,
    time_limit_s: float = DEFAULT_TIME_LIMIT_S,
    tie_break_s: float | None = None,
) -> Plan:
    """Fewest sites reaching a target share, or the most weight covered by ``n_sites``, exactly.

    Solves the integer programme of the module docstring with HiGHS (``highspy``),
    started from the greedy plan (:func:`greedy`, given to the solver as its first
    incumbent) on a reduced model: candidates that cover nothing uncovered, and
    candidates whose points another candidate covers too (dominated; of identical
    ones the smallest id stays), are left out, and demand points covered by the
    same candidates are merged. Arguments as in :func:`greedy`, plus:

    Parameters
    ----------
    max_vars
        Refuse a model with more variables than this (kept candidates + merged
        demand points); the error says to use :func:`greedy` or fewer candidates.
    time_limit_s
        Seconds HiGHS may spend. Past it the best plan found (never worse than
        greedy's) is returned with ``status="time_limit"`` and the gap HiGHS
        proves in ``meta``. For a target, the fewest sites get all of it and the
        tie-break what is left.
    tie_break_s
        For a target: at most this many seconds (of what ``time_limit_s`` leaves)
        for the most residents among plans with the fewest sites; ``None``: all that
        is left. ``0``: the exchange improvement only (``coverage_proof="local"``
        unless everyone coverable is covered).

    Returns
    -------
    Plan
        ``sites`` ordered by marginal gain (largest first); sites that add nothing
        are dropped. An unreachable target returns the fewest sites reaching the
        best attainable share, with ``reached=False``. ``meta`` says how good the
        plan is proven to be: ``proof`` (``"optimal"`` or ``"gap"``), ``gap`` (0–1:
        for a target, ``(sites − lower bound) / sites``; for ``n_sites``,
        ``(upper bound − covered) / upper bound`` of the newly covered weight),
        ``bound`` (fewest sites possible, or most weight newly coverable), and
        the model's size before and after the reduction; for a target also
        ``coverage_proof`` (``"optimal"``, ``"gap"`` or ``"local"``) and
        ``coverage_gap`` (0–1, NaN when not known) of the tie-break: how much more
        the same number of sites might cover, as a share of that most.
    """
    _check_goal(target, n_sites)
    if int(max_vars) <= 0:
        msg = f"max_vars must be a positive number of variables, got {max_vars!r}"
        raise ValidationError(msg)
    if not np.isfinite(time_limit_s) or time_limit_s <= 0:
        msg = f"time_limit_s must be a positive number of seconds, got {time_limit_s!r}"
        raise ValidationError(msg)
    if tie_break_s is not None and not (np.isfinite(tie_break_s) and tie_break_s >= 0):
        msg = f"tie_break_s must be a number of seconds ≥ 0 or None, got {tie_break_s!r}"
        raise ValidationError(msg)
    p = _problem(coverage, weights, candidate_ids, covered)
    tol = _REL_TOL * max(p.total, 1.0)
    useful_rows = np.flatnonzero(np.asarray(p.matrix @ p.weights).ravel() > tol)
    sub = p.matrix[useful_rows]
    col_hit = np.asarray(sub.sum(axis=0)).ravel() > 0
    sub = sub[:, col_hit].tocsc()
    w = p.weights[col_hit]
    # merge demand points covered by the same candidates
    keys: dict[bytes, int] = {}
    groups = np.empty(sub.shape[1], dtype=np.int64)
    for c in range(sub.shape[1]):
        key = sub.indices[sub.indptr[c] : sub.indptr[c + 1]].tobytes()
        groups[c] = keys.setdefault(key, len(keys))
    n_y = len(keys)
    rows_, cols_ = sub.nonzero()
    incidence = sparse.csr_matrix(
        (np.ones(rows_.size), (rows_, groups[cols_])), shape=(len(useful_rows), n_y)
    )
    incidence.data[:] = 1.0
    rank = np.empty(len(p.candidate_ids), dtype=np.int64)
    rank[p.order] = np.arange(len(p.order))
    dominator = _dominators(incidence, rank[useful_rows])
    kept = np.flatnonzero(dominator < 0)
    n_x = len(kept)
    meta: dict[str, Any] = {
        "candidates": len(p.candidate_ids),
        "useful_candidates": len(useful_rows),
        "model_candidates": n_x,
        "dominated_candidates": len(useful_rows) - n_x,
        "model_demand": n_y,
        "variables": n_x + n_y,
        "time_limit_s": float(time_limit_s),
    }
    if n_x + n_y > max_vars:
        msg = (
            f"the exact model would have {n_x + n_y} variables (> max_vars={max_vars}); "
            "use siting.greedy(...), thin the candidates (a coarser grid), or raise max_vars"
        )
        raise ModelTooLargeError(msg, variables=n_x + n_y)
    best = _best(p)
    if target is not None:
        need = _need(p, target)
        reachable_need = min(need, best - p.before - tol)
        check = _greedy_rows(p, need=need, k=None)
        if need <= 0 or n_x == 0:
            return _finish(p, "exact", [], target=target, n_sites=None, meta=_proven(meta, 0.0, 0.0))
    else:
        check = _greedy_rows(p, need=np.inf, k=int(n_sites or 0))
        if n_sites == 0 or n_x == 0:
            return _finish(p, "exact", [], target=None, n_sites=n_sites, meta=_proven(meta, 0.0, 0.0))
    model = incidence[kept].tocsr()  # kept candidates × demand groups
    w_group = np.bincount(groups, weights=w, minlength=n_y)
    scale = p.total if p.total > 0 else 1.0
    # the greedy plan as the first incumbent: each dominated site replaced by its dominator
    position = np.full(len(p.candidate_ids), -1, dtype=np.int64)
    position[useful_rows] = np.arange(len(useful_rows))
    where = {int(k): i for i, k in enumerate(kept)}
    start_sites = set()
    for r in check:
        local = int(position[r])
        while dominator[local] >= 0:
            local = int(dominator[local])
        start_sites.add(where[local])
    start = np.array(sorted(start_sites), dtype=np.int64)
    t0 = time.perf_counter()
    tie_s = float(time_limit_s) if tie_break_s is None else float(tie_break_s)
    if target is not None:
        # 1. fewest sites: a pure count, whose bound HiGHS rounds up to whole sites
        solved = _fewest(model, w_group / scale, start, need=reachable_need / scale,
                         time_limit_s=float(time_limit_s))  # fmt: skip
        if solved["sites"] is None:
            msg = f"the exact model found no plan ({solved['status']}); use siting.greedy(...)"
            raise ValidationError(msg)
        fewest = solved["sites"]
        count_optimal = solved["status"] == "optimal"
        count_bound = (
            float(len(fewest)) if count_optimal else max(np.ceil(solved["dual_bound"] - 1e-6), 0.0)
        )
        meta["count_model"] = solved["model"]
        meta["count_method"] = solved["method"]
        # 2. the tie-break: the most residents covered by that many sites, from the plan
        # improved one exchange at a time, in the time left for it
        improved = _exchange(model, w_group, fewest, until=t0 + float(time_limit_s))
        left = min(tie_s, float(time_limit_s) - (time.perf_counter() - t0))
        tie = _tie_break(model, w_group, scale, improved, best=best - p.before, time_s=left)
        chosen_local = tie["sites"]
        meta["seconds_fewest"] = solved["seconds"]
        meta["solver_status"] = solved["status"]
        meta.update({k: v for k, v in tie.items() if k != "sites"})
    else:
        improved = _exchange(model, w_group, start, until=t0 + float(time_limit_s) / 2)
        solved = _solve(model, w_group / scale, improved, k=int(n_sites or 0),
                        time_limit_s=float(time_limit_s))  # fmt: skip
        if solved["x"] is None:
            msg = f"the exact model found no plan ({solved['status']}); use siting.greedy(...)"
            raise ValidationError(msg)
        chosen_local = np.flatnonzero(solved["x"][:n_x] > 0.5)
        meta["solver_status"] = solved["status"]
    meta["seconds"] = time.perf_counter() - t0
    chosen = useful_rows[kept[chosen_local]]
    rows = _order_by_gain(p, [int(r) for r in chosen])
    # guard against solver trouble: an exact plan is never worse than the greedy one
    if target is not None:
        goal = min(target * p.total, best) - tol
        greedy_ok = _steps(p, check)[1] >= goal
        exact_ok = _steps(p, rows)[1] >= goal
        worse = greedy_ok and (not exact_ok or len(check) < len(rows))
    else:
        worse = _steps(p, check)[1] > _steps(p, rows)[1] + tol
    if worse:
        log.warning("the solver returned a plan worse than greedy's; keeping the greedy plan")
        meta["solver_worse_than_greedy"] = True
        rows = check
    if target is not None:
        bound = float(len(rows)) if count_optimal else min(count_bound, float(len(rows)))
        gap = (len(rows) - bound) / len(rows) if rows else 0.0
        time_limited = not count_optimal and gap > 1e-9
    else:
        newly = _steps(p, rows)[1] - p.before
        optimal = solved["status"] == "optimal"
        # the objective is -covered/scale (+ 1e-6 per site): its dual bound bounds the cover
        dual = -solved["dual_bound"] * scale
        bound = newly if optimal else (max(dual, newly) if np.isfinite(dual) else best - p.before)
        gap = (bound - newly) / bound if bound > 0 else 0.0
        time_limited = solved["status"] == "time_limit" and gap > 1e-9
    return _finish(
        p,
        "exact",
        rows,
        target=target,
        n_sites=n_sites,
        meta=_proven(meta, max(gap, 0.0), bound),
        # stopped by the clock before the plan was proven best (for a target: before
        # the fewest sites were proven; the tie-break of coverage is reported apart)
        time_limited=time_limited,
    )


def _covered_by(model: sparse.csr_matrix, sites: np.ndarray) -> np.ndarray:
    """How many of ``sites`` (rows of ``model``) cover each demand group."""
    if not len(sites):
        return np.zeros(model.shape[1])
    return np.asarray(model[np.asarray(sites, dtype=np.int64)].sum(axis=0)).ravel()


def _exchange(
    model: sparse.csr_matrix, w: np.ndarray, sites: np.ndarray, *, until: float = np.inf
) -> np.ndarray:
    """Improve the weight ``sites`` cover by exchanging one site for another at a time.

    Each round makes the best single exchange (a site out, a site not chosen in) over
    all pairs — for each chosen site one product of ``model`` with the weight only it
    covers — until none adds more than rounding, or the clock
    (:func:`time.perf_counter`) passes ``until``. The number of sites never changes
    and the weight covered only grows; the result is a local optimum, nothing more.
    """
    chosen = np.array(sorted(int(s) for s in sites), dtype=np.int64)
    if not len(chosen) or len(chosen) >= model.shape[0]:
        return chosen
    count = _covered_by(model, chosen)
    tol = 1e-12 * max(float(w.sum()), 1.0)
    for _ in range(10 * model.shape[0]):
        if time.perf_counter() > until:
            break
        best_gain, best_pair = tol, None
        for pos, j in enumerate(chosen):
            cols = model.indices[model.indptr[j] : model.indptr[j + 1]]
            alone = cols[count[cols] == 1]  # groups only site j covers
            loss = float(w[alone].sum())
            free = np.where(count == 0, w, 0.0)
            free[alone] = w[alone]
            gains = model @ free
            gains[chosen] = -np.inf
            k = int(np.argmax(gains))
            if gains[k] - loss > best_gain:
                best_gain, best_pair = gains[k] - loss, (pos, k)
        if best_pair is None:
            break
        pos, k = best_pair
        j = chosen[pos]
        count[model.indices[model.indptr[j] : model.indptr[j + 1]]] -= 1
        count[model.indices[model.indptr[k] : model.indptr[k + 1]]] += 1
        chosen[pos] = k
    return np.sort(chosen)


def _tie_break(
    model: sparse.csr_matrix,
    w: np.ndarray,
    scale: float,
    sites: np.ndarray,
    *,
    best: float,
    time_s: float,
) -> dict[str, Any]:
    """The most weight covered by ``len(sites)`` sites, started from ``sites``.

    Returns the sites and how far the coverage is proven: ``coverage_proof``
    (``"optimal"``, ``"gap"``, or ``"local"`` when no time was left for the solver),
    ``coverage_gap`` (0–1 of the most coverable by that many sites, newly covered
    weight) and ``seconds_tie_break``.
    """
    got = float(w[_covered_by(model, sites) > 0].sum())
    out: dict[str, Any] = {"sites": sites, "seconds_tie_break": 0.0}
    if got >= best - 1e-9 * max(best, 1.0):  # everyone coverable is covered
        return {**out, "coverage_proof": "optimal", "coverage_gap": 0.0}
    if time_s <= 0.01:
        return {**out, "coverage_proof": "local", "coverage_gap": float("nan")}
    solved = _solve(model, w / scale, sites, k=len(sites), time_limit_s=time_s)
    out["seconds_tie_break"] = solved["seconds"]
    if solved["x"] is not None:
        found = np.flatnonzero(solved["x"][: model.shape[0]] > 0.5)
        found_got = float(w[_covered_by(model, found) > 0].sum())
        if found_got > got:
            out["sites"], got = found, found_got
    if solved["status"] == "optimal":
        return {**out, "coverage_proof": "optimal", "coverage_gap": 0.0}
    dual = -solved["dual_bound"] * scale
    bound = max(dual, got) if np.isfinite(dual) else best
    gap = (bound - got) / bound if bound > 0 else 0.0
    return {**out, "coverage_proof": "gap" if gap > 1e-9 else "optimal", "coverage_gap": gap}


def _solve(
    model: sparse.csr_matrix,
    w: np.ndarray,
    start_sites: np.ndarray,
    *,
    need: float | None = None,
    k: int | None = None,
    time_limit_s: float,
) -> dict[str, Any]:
    """The fewest sites covering ``need`` (weights ``w``, in shares), or the most covered by ``k``.

    Variables: one per site (row of ``model``), then one per demand group; ``y_g ≤
    Σ_{j covers g} x_j``. Started from ``start_sites``. See :func:`_highs`.
    """
    n_x, n_y = model.shape
    link = sparse.hstack([-model.T.tocsr(), sparse.identity(n_y)], format="csr")
    if need is not None:
        extra = sparse.csr_matrix(np.r_[np.zeros(n_x), w][None, :])
        lower, upper = need, np.inf
        cost = np.r_[np.ones(n_x), np.zeros(n_y)]
    else:
        extra = sparse.csr_matrix(np.r_[np.ones(n_x), np.zeros(n_y)][None, :])
        lower, upper = -np.inf, float(k or 0)
        cost = np.r_[np.full(n_x, 1e-6), -w]  # a tiny cost per site drops idle ones
    start = np.zeros(n_x + n_y)
    start[np.asarray(start_sites, dtype=np.int64)] = 1.0
    start[n_x:] = (_covered_by(model, start_sites) > 0).astype(float)
    return _highs(
        cost,
        sparse.vstack([link, extra], format="csc"),
        np.r_[np.full(n_y, -np.inf), lower],
        np.r_[np.zeros(n_y), upper],
        start=start,
        time_limit_s=time_limit_s,
    )


def _fewest(
    model: sparse.csr_matrix,
    w: np.ndarray,
    start_sites: np.ndarray,
    *,
    need: float,
    time_limit_s: float,
) -> dict[str, Any]:
    """The fewest sites (rows of ``model``) covering ``need`` of the weights ``w`` (shares).

    1. When every demand group of positive weight must be covered (leaving out the
       lightest already falls short of ``need``), the model is a set cover: one row
       ``Σ_{j covers g} x_j ≥ 1`` per group, no ``y``; and a group whose candidates
       include all of another group's is left out (covering that one covers it,
       :func:`_essential_groups`). Otherwise the model of :func:`_solve`.
    2. Its relaxation (``0 ≤ x ≤ 1``) is solved: the optimum rounded up to whole
       sites is a lower bound on the count.
    3. The ``k`` sites with the largest relaxed values, improved by exchanges
       (:func:`_exchange`), are tried for ``k`` from that bound up (a few counts, each
       below the best plan so far): a plan reaching ``need`` with as many sites as
       the bound is proven fewest without branching.
    4. Otherwise HiGHS branches from the best plan so far, in the time left.

    Returns ``sites`` (``None`` if no plan is known), ``status`` (``optimal``,
    ``time_limit`` or HiGHS's word), ``dual_bound`` (a lower bound on the count),
    ``seconds``, ``model`` (``"set_cover"`` or ``"partial_cover"``) and ``method``
    (``"relaxation"``: proven by the bound; ``"branch"``: by HiGHS's search).
    """
    t0 = time.perf_counter()
    deadline = t0 + float(time_limit_s)
    n_x, n_y = model.shape
    positive = w > 0
    lightest = float(w[positive].min()) if positive.any() else 0.0
    cover_all = positive.any() and float(w[positive].sum()) - lightest < need - 1e-12
    if cover_all:
        rows = _essential_groups(model, w)
        matrix = model.T.tocsr()[rows].tocsc()
        matrix.data = np.ones(matrix.nnz)
        cost = np.ones(n_x)
        row_lower, row_upper = np.ones(len(rows)), np.full(len(rows), np.inf)
    else:
        link = sparse.hstack([-model.T.tocsr(), sparse.identity(n_y)], format="csr")
        extra = sparse.csr_matrix(np.r_[np.zeros(n_x), w][None, :])
        matrix = sparse.vstack([link, extra], format="csc")
        cost = np.r_[np.ones(n_x), np.zeros(n_y)]
        row_lower, row_upper = np.r_[np.full(n_y, -np.inf), need], np.r_[np.zeros(n_y), np.inf]
    out: dict[str, Any] = {"model": "set_cover" if cover_all else "partial_cover"}
    best = np.sort(np.asarray(start_sites, dtype=np.int64))

    def reaches(sites: np.ndarray) -> bool:
        return float(w[_covered_by(model, sites) > 0].sum()) >= need

    if not reaches(best):
        best = np.array([], dtype=np.int64)
    relaxed = _highs(cost, matrix, row_lower, row_upper, start=None,
                     time_limit_s=float(time_limit_s), integral=False)  # fmt: skip
    lp_bound = relaxed["dual_bound"] if relaxed["status"] == "optimal" else 0.0
    lower = max(int(np.ceil(lp_bound - 1e-6)), 1)
    if relaxed["status"] == "optimal":
        order = np.argsort(-relaxed["x"][:n_x], kind="stable")
        upto = min(len(best) if len(best) else n_x + 1, lower + _ROUNDING_TRIES)
        for k in range(lower, upto):
            if time.perf_counter() > deadline:
                break
            tried = _exchange(model, w, order[:k], until=deadline)
            if reaches(tried):
                best = tried
                break
    if len(best) and len(best) <= lower:
        seconds = time.perf_counter() - t0
        return {**out, "sites": best, "status": "optimal", "dual_bound": float(len(best)),
                "seconds": seconds, "method": "relaxation"}  # fmt: skip
    left = deadline - time.perf_counter()
    if left <= 0:
        return {**out, "sites": best if len(best) else None, "status": "time_limit",
                "dual_bound": lp_bound, "seconds": time.perf_counter() - t0,
                "method": "relaxation"}  # fmt: skip
    start = np.zeros(matrix.shape[1])
    if len(best):
        start[best] = 1.0
        if not cover_all:
            start[n_x:] = (_covered_by(model, best) > 0).astype(float)
    solved = _highs(cost, matrix, row_lower, row_upper, start=start if len(best) else None,
                    time_limit_s=left)  # fmt: skip
    if solved["x"] is not None:
        found = np.flatnonzero(solved["x"][:n_x] > 0.5)
        if not len(best) or len(found) <= len(best):
            best = found
    bound = max(solved["dual_bound"], lp_bound) if np.isfinite(solved["dual_bound"]) else lp_bound
    return {**out, "sites": best if len(best) else None, "status": solved["status"],
            "dual_bound": bound, "seconds": time.perf_counter() - t0, "method": "branch"}  # fmt: skip


def _essential_groups(model: sparse.csr_matrix, w: np.ndarray) -> np.ndarray:
    """The demand groups (columns of ``model``) a set cover must state: of positive weight,
    leaving out each group whose candidates include all of another kept group's.

    Covering a group covers every group whose candidate set is a superset of its own.
    Identical sets (none after merging, but allowed) keep the first. Computed in
    blocks of groups, so the overlap of candidate sets is never held whole.
    """
    groups = np.flatnonzero(w > 0)
    g = model.T.tocsr()[groups]
    g.data = np.ones(g.nnz)
    size = np.diff(g.indptr)
    redundant = np.zeros(len(groups), dtype=bool)
    gt = g.T.tocsc()
    block = 1024
    for lo in range(0, len(groups), block):
        overlap = (g[lo : lo + block] @ gt).tocoo()
        i, j, v = overlap.row + lo, overlap.col, overlap.data
        inside = (i != j) & (v >= size[j] - 0.5) & (
            (size[j] < size[i]) | ((size[j] == size[i]) & (j < i))
        )
        redundant[i[inside]] = True
    return groups[~redundant]


def _proven(meta: dict[str, Any], gap: float, bound: float) -> dict[str, Any]:
    """``meta`` with how good the plan is proven to be (see :func:`exact`)."""
    return {**meta, "gap": float(gap), "bound": float(bound), "proof": "optimal" if gap <= 1e-9 else "gap"}


def _dominators(incidence: sparse.csr_matrix, rank: np.ndarray) -> np.ndarray:
    """For each candidate row, another row covering every group it covers (``-1``: none).

    A row is dominated by a row covering a strict superset, or the same set with a
    smaller ``rank`` (id order); such a row can replace it in any plan. The dominator
    given is itself undominated or leads to one (no cycles: size or rank grows).
    """
    size = np.asarray(incidence.sum(axis=1)).ravel()
    overlap = (incidence @ incidence.T).tocoo()
    i, j, v = overlap.row, overlap.col, overlap.data
    covers = (i != j) & (v >= size[i] - 0.5) & (
        (size[j] > size[i]) | ((size[j] == size[i]) & (rank[j] < rank[i]))
    )
    out = np.full(incidence.shape[0], -1, dtype=np.int64)
    # of several dominators take the largest, then the first in id order
    order = np.lexsort((rank[j[covers]], -size[j[covers]]))
    for a, b in zip(i[covers][order][::-1], j[covers][order][::-1]):
        out[a] = b
    return out


def _new_highs() -> Any:
    """A HiGHS instance, without the banner HiGHS prints on standard output the first time."""
    import highspy

    # one thread at a time: standard output is the process's, not the thread's
    with _STDOUT_LOCK:
        sys.stdout.flush()
        saved = os.dup(1)
        try:
            with open(os.devnull, "w") as null:
                os.dup2(null.fileno(), 1)
                h = highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
    h.setOptionValue("output_flag", False)
    return h


def _highs(
    cost: np.ndarray,
    matrix: sparse.csc_matrix,
    row_lower: np.ndarray,
    row_upper: np.ndarray,
    *,
    start: np.ndarray | None,
    time_limit_s: float,
    integral: bool = True,
) -> dict[str, Any]:
    """Solve ``min cost·x`` over binary ``x`` with ``row_lower ≤ matrix·x ≤ row_upper``.

    ``start`` (if any) is given to HiGHS as a first incumbent. ``integral=False``
    solves the relaxation (``0 ≤ x ≤ 1``). Returns ``x`` (``None`` when no plan was
    found), ``status`` (``optimal``, ``time_limit`` or HiGHS's word), ``dual_bound``
    (the relaxation: its optimum) and ``seconds``.
    """
    import highspy

    n = cost.size
    h = _new_highs()
    h.setOptionValue("time_limit", float(time_limit_s))
    h.setOptionValue("mip_rel_gap", 1e-9)
    h.setOptionValue("threads", 1)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n, matrix.shape[0]
    lp.col_cost_ = np.asarray(cost, dtype=float)
    lp.col_lower_ = np.zeros(n)
    lp.col_upper_ = np.ones(n)
    lp.row_lower_ = np.asarray(row_lower, dtype=float)
    lp.row_upper_ = np.asarray(row_upper, dtype=float)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = matrix.indptr
    lp.a_matrix_.index_ = matrix.indices
    lp.a_matrix_.value_ = matrix.data
    if integral:
        lp.integrality_ = [highspy.HighsVarType.kInteger] * n
    h.passModel(lp)
    if start is not None:
        first = highspy.HighsSolution()
        first.col_value = list(np.asarray(start, dtype=float))
        first.value_valid = True
        h.setSolution(first)
    t0 = time.perf_counter()
    h.run()
    seconds = time.perf_counter() - t0
    status = h.getModelStatus()
    info = h.getInfo()
    words = {
        highspy.HighsModelStatus.kOptimal: "optimal",
        highspy.HighsModelStatus.kTimeLimit: "time_limit",
    }
    found = info.primal_solution_status == 2  # a feasible plan is known
    x = np.asarray(h.getSolution().col_value, dtype=float) if found else None
    out = {
        "x": x,
        "status": words.get(status, h.modelStatusToString(status)),
        "dual_bound": float(info.mip_dual_bound if integral else info.objective_function_value),
        "seconds": seconds,
    }
    if integral and x is not None and out["status"] == "optimal":
        value = float(np.dot(cost, np.round(x)))
        if value - out["dual_bound"] > 1e-6 * max(1.0, abs(value)):
            # "optimal" with a plan worse than the bound: HiGHS 1.16 has done so when
            # presolve removed columns of the starting plan; solved again without it
            log.debug("HiGHS called a plan of %s optimal with a bound of %s", value, out["dual_bound"])
            out["status"] = "inconsistent"
            left = float(time_limit_s) - seconds
            if start is not None and left > 0:
                again = _highs(cost, matrix, row_lower, row_upper, start=None, time_limit_s=left)
                again["seconds"] += seconds
                if again["x"] is None or float(np.dot(cost, np.round(again["x"]))) > value:
                    again["x"] = x
                    if again["status"] == "optimal":
                        again["status"] = "inconsistent"
                return again
    return out


def _order_by_gain(p: _Problem, rows: list[int]) -> list[int]:
    """Order chosen rows greedily by marginal gain; drop rows that add nothing."""
    left = list(rows)
    got = np.zeros(p.matrix.shape[1], dtype=bool)
    out: list[int] = []
    rank = {int(r): i for i, r in enumerate(p.order)}
    while left:
        gains = []
        for r in left:
            cols = p.matrix.indices[p.matrix.indptr[r] : p.matrix.indptr[r + 1]]
            gains.append(float(p.weights[cols[~got[cols]]].sum()))
        best = max(range(len(left)), key=lambda i: (gains[i], -rank[left[i]]))
        if gains[best] <= 0:
            break
        r = left.pop(best)
        cols = p.matrix.indices[p.matrix.indptr[r] : p.matrix.indptr[r + 1]]
        got[cols] = True
        out.append(r)
    return out


def plan_table(plans: Sequence[Plan]) -> pd.DataFrame:
    """One row per plan: ``method``, ``target``, ``n_sites`` (new sites), ``reached``,
    ``share_before``, ``share_after``, ``best_share`` (0–1), ``covered_before``,
    ``covered_after`` (persons), ``status``, ``sites`` (ids joined by ``;``)."""
    rows = [
        {
            "method": pl.method,
            "target": pl.target,
            "n_sites": len(pl.sites),
            "reached": pl.reached,
            "share_before": pl.share_before,
            "share_after": pl.share_after,
            "best_share": pl.best / pl.total if pl.total > 0 else np.nan,
            "covered_before": pl.before,
            "covered_after": pl.after,
            "status": pl.status,
            "sites": ";".join(str(s) for s in pl.sites),
        }
        for pl in plans
    ]
    return pd.DataFrame(rows)
