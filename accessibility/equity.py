"""Who waits longest? Inequality of travel times between villages and between townships.

Design
------
In:  an access table (one row per village, index = village id, a ``*_time_min``
     column in minutes, e.g. from :func:`accessibility.engine.access`), the villages
     themselves (``population``, and a grouping column such as ``township``) and, to
     find each village's township, the township seats and a network or router.
Out:

- :func:`gini` — the (population-weighted) Gini coefficient of travel times;
- :func:`by_area` — per township (or any grouping column): villages, residents, the
  share of villages and of residents beyond each time limit, median and maximum
  time, Gini;
- :func:`worst_served` — the villages with the longest times, ranked;
- :func:`assign_township` — each village's township: the township seat it reaches
  fastest over the road network (the administrative boundaries of townships are
  rarely in OSM, so the nearest seat stands in for them).

Unreachable villages (``inf`` minutes) are never dropped silently: they count as
beyond every limit, are counted in an ``unreachable`` column, and the Gini either
raises, leaves them out or gives them a penalty time — the caller chooses.
Tests: ``tests/test_equity.py`` — hand-computed Gini values, arithmetic of
:func:`by_area`, ranking, bad inputs.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.spatial import cKDTree

from . import snapping
from ._errors import ValidationError
from .engine import Router, check_thresholds, share_column
from .network import Network

log = logging.getLogger(__name__)

#: Settlement levels whose places act as township seats in :func:`assign_township`.
#: The county seat is the seat of its own town (城关镇 / subdistricts), so it is one.
SEAT_LEVELS: tuple[str, ...] = ("township_seat", "county_seat")

#: Row label of the whole-area row that :func:`by_area` appends.
TOTAL = "(all)"

Unreachable = Literal["raise", "drop"] | float


# --------------------------------------------------------------------------- Gini


def _unreachable_rule(unreachable: Unreachable) -> str | float:
    if isinstance(unreachable, str):
        if unreachable not in ("raise", "drop"):
            msg = (
                f"unreachable must be 'raise', 'drop' or a penalty time in minutes (a number), "
                f"got {unreachable!r}"
            )
            raise ValidationError(msg)
        return unreachable
    if isinstance(unreachable, bool) or not isinstance(unreachable, (int, float, np.number)):
        msg = f"unreachable must be 'raise', 'drop' or a number of minutes, got {unreachable!r}"
        raise ValidationError(msg)
    value = float(unreachable)
    if not np.isfinite(value) or value < 0:
        msg = f"a penalty time for unreachable values must be finite and >= 0 minutes, got {unreachable!r}"
        raise ValidationError(msg)
    return value


def gini(
    values: npt.ArrayLike,
    weights: npt.ArrayLike | None = None,
    *,
    unreachable: Unreachable = "raise",
) -> float:
    """Gini coefficient of travel times, optionally weighted by population.

    With times :math:`x_i \\ge 0` and weights :math:`w_i \\ge 0` (residents of
    village *i*; all 1 when ``weights`` is ``None``), :math:`W = \\sum_i w_i` and the
    weighted mean :math:`\\mu = \\sum_i w_i x_i / W`::

        G = sum_i sum_j w_i w_j |x_i - x_j| / (2 W² μ)

    the mean absolute difference between two residents drawn at random, divided by
    twice the mean time. ``G = 0`` when everyone has the same time; ``G = (n - 1) / n``
    for ``n`` equally weighted villages of which one has a positive time and the rest
    zero. An integer weight ``w`` gives the same result as repeating the value ``w``
    times without weights. It is computed in ``O(n log n)`` from the sorted values:
    ``G = sum_k w_k x_k (B_k - A_k) / (W sum_k w_k x_k)`` with ``B_k``/``A_k`` the
    weight sorted before/after value ``k``. When every time is 0 the result is 0.

    Parameters
    ----------
    values
        Travel times (minutes or seconds: the Gini has no unit), ``>= 0``; ``inf``
        marks an unreachable village. NaN (unknown) is refused: drop those rows or
        fill them first.
    weights
        Residents per value (``>= 0``, finite, not all 0), same length as ``values``;
        ``None`` counts every value once.
    unreachable
        What to do with ``inf`` values: ``"raise"`` (default: refuse them, saying
        how many), ``"drop"`` (leave them out: the Gini of the reachable), or a number
        (a penalty time, in the unit of ``values``, that replaces them — e.g. twice the
        longest acceptable time).

    Returns
    -------
    float
        In ``[0, 1)``.

    Raises
    ------
    ValidationError
        NaN or negative values or weights, mismatched lengths, no value left, zero
        total weight, ``inf`` values with ``unreachable="raise"``.
    """
    rule = _unreachable_rule(unreachable)
    try:
        x = np.asarray(values, dtype=float).ravel()
    except (TypeError, ValueError) as exc:
        msg = "values must be numbers (travel times); convert the column with pd.to_numeric"
        raise ValidationError(msg) from exc
    if weights is None:
        w = np.ones_like(x)
    else:
        try:
            w = np.asarray(weights, dtype=float).ravel()
        except (TypeError, ValueError) as exc:
            msg = "weights must be numbers (residents); convert the column with pd.to_numeric"
            raise ValidationError(msg) from exc
        if w.shape != x.shape:
            msg = f"weights ({w.size}) and values ({x.size}) must have the same length"
            raise ValidationError(msg)
    if x.size == 0:
        msg = "gini needs at least one value; the table or group is empty"
        raise ValidationError(msg)
    if np.isnan(x).any():
        msg = (
            f"{int(np.isnan(x).sum())} of {x.size} values are NaN (unknown times, e.g. a group "
            "with no facility); drop those rows or fill them before computing a Gini"
        )
        raise ValidationError(msg)
    if (x < 0).any():
        msg = f"{int((x < 0).sum())} values are negative; travel times must be >= 0"
        raise ValidationError(msg)
    if np.isnan(w).any() or np.isinf(w).any() or (w < 0).any():
        msg = (
            "weights must be finite and >= 0 (residents per village); fill unknown "
            "populations or drop those villages, or pass weights=None to count villages"
        )
        raise ValidationError(msg)
    inf = np.isinf(x)
    if inf.any():
        if rule == "raise":
            msg = (
                f"{int(inf.sum())} of {x.size} values are unreachable (inf); pass "
                "unreachable='drop' to leave them out or unreachable=<minutes> to give them a "
                "penalty time"
            )
            raise ValidationError(msg)
        if rule == "drop":
            x, w = x[~inf], w[~inf]
            if x.size == 0:
                msg = "every value is unreachable (inf): no Gini can be computed; check the network"
                raise ValidationError(msg)
        else:
            x = np.where(inf, float(rule), x)
    total_w = float(w.sum())
    if total_w <= 0:
        msg = "the weights sum to 0 (no residents); give positive populations or weights=None"
        raise ValidationError(msg)
    order = np.argsort(x, kind="stable")
    xs, ws = x[order], w[order]
    wx = ws * xs
    total_wx = float(wx.sum())
    if total_wx <= 0:
        return 0.0  # everyone at zero time (or only zero-weight villages away from zero)
    cum = np.cumsum(ws)
    before = cum - ws
    after = total_w - cum
    g = float(np.sum(wx * (before - after))) / (total_w * total_wx)
    return min(max(g, 0.0), 1.0)


# --------------------------------------------------------------------------- tables


def _column(name: str, table: pd.DataFrame, origins: pd.DataFrame | None, what: str) -> pd.Series:
    """Column ``name`` from ``table``, else from ``origins`` aligned on the table's ids."""
    if name in table.columns:
        return table[name]
    if origins is not None and name in origins.columns:
        missing = table.index.difference(origins.index)
        if len(missing):
            msg = (
                f"{len(missing)} villages of the table are not in origins (e.g. {missing[:3].tolist()}); "
                "pass the origins the table was computed for"
            )
            raise ValidationError(msg)
        if not origins.index.is_unique:
            msg = "origins ids (the index) must be unique"
            raise ValidationError(msg)
        return origins[name].reindex(table.index)
    msg = f"no column {name!r} ({what}) in the table or in origins; add it or name another with the keyword"
    raise ValidationError(msg)


def _times(table: pd.DataFrame, time_col: str) -> pd.Series:
    if time_col not in table.columns:
        msg = f"the table has no column {time_col!r}; time columns look like 'health_county_hospital_time_min' (engine.access)"
        raise ValidationError(msg)
    try:
        t = pd.to_numeric(table[time_col], errors="raise").astype(float)
    except (TypeError, ValueError) as exc:
        msg = f"{time_col!r} must hold numbers (minutes; inf when unreachable)"
        raise ValidationError(msg) from exc
    if t.isna().all():
        msg = (
            f"every value of {time_col!r} is NaN: the group has no facility in this region, so "
            "there is nothing to compare; check the facility counts (audit) first"
        )
        raise ValidationError(msg)
    if t.isna().any():
        bad = t.index[t.isna()][:5].tolist()
        msg = f"{int(t.isna().sum())} values of {time_col!r} are NaN (ids {bad}); drop those villages first"
        raise ValidationError(msg)
    if (t < 0).any():
        bad = t.index[t < 0][:5].tolist()
        msg = f"{time_col!r} has negative times at ids {bad}; times are minutes >= 0"
        raise ValidationError(msg)
    return t


def by_area(
    table: pd.DataFrame,
    origins: pd.DataFrame | None = None,
    *,
    group_col: str = "township",
    time_col: str,
    limits_min: Sequence[float],
    population_col: str | None = "population",
    unreachable: Unreachable = "drop",
    total: bool = True,
) -> pd.DataFrame:
    """Access per township (or any grouping column): shares beyond limits, median, maximum, Gini.

    For a group *g* with villages *i*, times :math:`t_i` (minutes) and residents
    :math:`p_i`:

    - ``beyond_{T}_share`` = ``#{i: t_i > T} / #{i}``;
    - ``beyond_{T}_pop_share`` = ``sum(p_i [t_i > T]) / sum(p_i)`` over villages with a
      known population;
    - ``median_min``, ``max_min`` over the reachable villages (``t_i`` finite);
    - ``mean_min``: population-weighted mean over the reachable;
    - ``gini``: :func:`gini` of the times weighted by population.

    Unreachable villages (``inf``) are beyond every limit and counted in
    ``unreachable``; in the Gini they follow ``unreachable``.

    Parameters
    ----------
    table
        One row per village (index = village id) with ``time_col``; it may also hold
        ``group_col`` and ``population_col`` (e.g. :meth:`Study.access` joined with
        :func:`assign_township`).
    origins
        Where ``group_col`` and ``population_col`` are looked up when the table lacks
        them (same ids); ``None`` when the table has them.
    group_col
        The grouping column, e.g. ``"township"``. Villages with no group value are
        put in a group of their own (NaN label) and logged.
    time_col
        Minutes, ``inf`` when unreachable, e.g. ``"health_county_hospital_time_min"``.
    limits_min
        Time limits in minutes, e.g. ``[15, 30]``.
    population_col
        Residents per village (NaN = unknown: left out of population figures and
        counted in ``population_unknown``); ``None`` weighs every village 1.
    unreachable
        Gini treatment of unreachable villages: ``"drop"`` (default; they are still
        counted in ``unreachable`` and in every ``beyond`` share), a penalty time in
        minutes, or ``"raise"``.
    total
        Append a row :data:`TOTAL` for all villages together.

    Returns
    -------
    pandas.DataFrame
        Index = group value (name ``group_col``), sorted by the population share
        beyond the longest limit (worst first); columns ``villages``, ``population``,
        ``population_unknown``, ``unreachable``, ``beyond_{T}_share``,
        ``beyond_{T}_pop_share`` per limit, ``median_min``, ``mean_min``,
        ``max_min``, ``gini``.
    """
    limits = check_thresholds(limits_min)
    _unreachable_rule(unreachable)
    t = _times(table, time_col)
    groups = _column(group_col, table, origins, "grouping")
    if population_col is None:
        pop = pd.Series(1.0, index=table.index)
    else:
        try:
            pop = pd.to_numeric(
                _column(population_col, table, origins, "population"), errors="raise"
            ).astype(float)
        except (TypeError, ValueError) as exc:
            msg = f"{population_col!r} must hold numbers of residents (NaN when unknown)"
            raise ValidationError(msg) from exc
        if (pop < 0).any():
            bad = pop.index[pop < 0][:5].tolist()
            msg = f"{population_col!r} is negative at ids {bad}; residents must be >= 0"
            raise ValidationError(msg)
    if groups.isna().any():
        log.warning(
            "%d villages have no %s value; they form a group of their own",
            int(groups.isna().sum()),
            group_col,
        )

    def row(sel: np.ndarray) -> dict[str, float | int]:
        times = t.to_numpy()[sel]
        people = pop.to_numpy()[sel]
        known = ~np.isnan(people)
        reach = np.isfinite(times)
        out: dict[str, float | int] = {
            "villages": int(times.size),
            "population": float(people[known].sum()),
            "population_unknown": int((~known).sum()),
            "unreachable": int((~reach).sum()),
        }
        total_pop = people[known].sum()
        for limit in limits:
            beyond = times > limit  # inf is beyond every limit
            out[share_column("beyond", limit)] = float(beyond.mean())
            out[share_column("beyond", limit, population=True)] = (
                float(people[known & beyond].sum() / total_pop) if total_pop > 0 else np.nan
            )
        rk = reach & known
        out["median_min"] = float(np.median(times[reach])) if reach.any() else np.nan
        out["mean_min"] = (
            float(np.average(times[rk], weights=people[rk]))
            if rk.any() and people[rk].sum() > 0
            else np.nan
        )
        out["max_min"] = float(times[reach].max()) if reach.any() else np.nan
        usable = known if unreachable != "drop" else rk
        if usable.any() and people[usable].sum() > 0:
            out["gini"] = gini(times[known], people[known], unreachable=unreachable)
        else:
            out["gini"] = np.nan
        return out

    codes, labels = pd.factorize(groups, use_na_sentinel=False)
    rows = {label: row(codes == i) for i, label in enumerate(labels)}
    out = pd.DataFrame.from_dict(rows, orient="index")
    last = share_column("beyond", limits[-1], population=True)
    out = out.sort_values([last, "villages"], ascending=[False, False], kind="stable")
    no_gini = out.index[out["gini"].isna()].tolist()
    if no_gini:
        log.warning(
            "%s: no Gini for %d groups without reachable villages of known population: %s",
            time_col,
            len(no_gini),
            no_gini[:5],
        )
    if total:
        everyone = pd.DataFrame.from_dict({TOTAL: row(np.ones(len(t), dtype=bool))}, orient="index")
        out = pd.concat([out, everyone])
    out.index.name = group_col
    return out


def worst_served(
    table: pd.DataFrame,
    origins: pd.DataFrame | None = None,
    *,
    time_col: str,
    n: int = 10,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The ``n`` villages with the longest travel times, worst first.

    Unreachable villages (``inf``) come first; ties are broken by population
    (larger first), then by id, so the ranking is deterministic.

    Parameters
    ----------
    table
        One row per village (index = village id) with ``time_col`` (minutes).
    origins
        Where the descriptive ``columns`` are looked up when the table lacks them.
    time_col
        Minutes, ``inf`` when unreachable.
    n
        How many villages to list (``>= 1``).
    columns
        Descriptive columns to show; default: those of ``name``, ``level``,
        ``township``, ``population`` that exist, and the nearest facility's name
        (``<group>_facility_name``) when the table has it.

    Returns
    -------
    pandas.DataFrame
        Index = village id; ``rank`` (1 = worst), the descriptive columns and
        ``time_col``.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        msg = f"n must be a whole number >= 1 (how many villages to list), got {n!r}"
        raise ValidationError(msg)
    t = _times(table, time_col)
    if columns is None:
        pool = list(table.columns) + (list(origins.columns) if origins is not None else [])
        wanted = [c for c in ("name", "level", "township", "population") if c in pool]
        facility = time_col.removesuffix("_time_min") + "_facility_name"
        if facility in table.columns:
            wanted.append(facility)
    else:
        wanted = list(columns)
    out = pd.DataFrame(
        {c: _column(c, table, origins, "descriptive") for c in wanted}, index=table.index
    )
    out[time_col] = t
    pop = (
        pd.to_numeric(out["population"], errors="coerce").fillna(-1.0)
        if "population" in out.columns
        else pd.Series(0.0, index=out.index)
    )
    order = np.lexsort((np.arange(len(out)), -pop.to_numpy(), -t.to_numpy()))
    out = out.iloc[order[: int(n)]]
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out


# --------------------------------------------------------------------------- townships


def _seat_table(places: gpd.GeoDataFrame, levels: Sequence[str]) -> gpd.GeoDataFrame:
    if not isinstance(places, gpd.GeoDataFrame) or "level" not in places.columns:
        msg = "places must be a GeoDataFrame with a 'level' column (accessibility.classify.places)"
        raise ValidationError(msg)
    seats = places.loc[places["level"].isin(list(levels))]
    if seats.empty:
        msg = (
            f"no places of levels {list(levels)} to serve as township seats; check the places "
            "(study.places) or pass levels=[...]"
        )
        raise ValidationError(msg)
    names = (
        seats["name"].astype(object).where(seats["name"].notna(), None)
        if "name" in seats.columns
        else pd.Series(None, index=seats.index, dtype=object)
    )
    labels = [
        str(n).strip() if n is not None and str(n).strip() else str(i) for i, n in names.items()
    ]
    counts = pd.Series(labels).value_counts()
    labels = [f"{lb} ({i})" if counts[lb] > 1 else lb for lb, i in zip(labels, seats.index)]
    out = seats[["geometry"]].copy()
    out["township"] = labels
    return out


def assign_township(
    origins: gpd.GeoDataFrame,
    places: gpd.GeoDataFrame,
    *,
    router: Router | None = None,
    network: Network | None = None,
    method: Literal["network", "straight_line"] = "network",
    crs: str | None = None,
    levels: Sequence[str] = SEAT_LEVELS,
    max_snap_m: float | None = None,
) -> pd.DataFrame:
    """Each village's township: the township seat nearest to it.

    Township boundaries are rarely mapped in OSM, so a village is given to the seat
    it reaches fastest. With ``method="network"`` (preferred) the seats become the
    facilities of a :class:`~accessibility.engine.Router` on the study's network and
    one multi-source search finds every village's nearest seat by travel time — a
    river without a bridge keeps a village with the seat on its own bank. Villages
    that reach no seat fall back to the straight-line nearest one (noted in
    ``township_method``). ``method="straight_line"`` uses Euclidean distance in a
    metric CRS for every village (quicker, blind to rivers and detours).

    Parameters
    ----------
    origins
        Villages (any CRS, set), index = village id.
    places
        Classified places with ``level`` and ``name`` (e.g. ``study.places``); those of
        ``levels`` are the seats.
    router
        A router built on these origins (``study.router``): its network and the
        villages' snap table are reused, only the seats are snapped.
    network
        A network to snap both villages and seats onto, when there is no router.
    method
        ``"network"`` (travel time; needs ``router`` or ``network``) or
        ``"straight_line"``.
    crs
        Metric CRS for straight-line distances; default the network's.
    levels
        Place levels that count as seats; default township seats and the county seat
        (the seat of its own town).
    max_snap_m
        Flag distance when snapping the seats (metres); default the settings' value.

    Returns
    -------
    pandas.DataFrame
        Index = village id: ``township`` (the seat's name; ``name (id)`` when two
        seats share a name), ``township_id`` (place id), ``township_time_min``
        (travel minutes to the seat by the network's mode, legs included; NaN for
        straight-line assignments), ``township_dist_m`` (straight-line metres to the
        seat) and ``township_method`` (``network`` or ``straight_line``).
    """
    if method not in ("network", "straight_line"):
        msg = f"method must be 'network' or 'straight_line', got {method!r}"
        raise ValidationError(msg)
    if router is not None and network is not None:
        msg = "give either router= or network=, not both"
        raise ValidationError(msg)
    if not isinstance(origins, gpd.GeoDataFrame) or origins.crs is None:
        msg = "origins must be a GeoDataFrame with a CRS (villages, e.g. study.origins)"
        raise ValidationError(msg)
    if not origins.index.is_unique:
        msg = "origins ids (the index) must be unique"
        raise ValidationError(msg)
    seats = _seat_table(places, levels)
    if seats.crs is None:
        msg = "places have no CRS; set it (e.g. places.set_crs(4326))"
        raise ValidationError(msg)
    net = router.network if router is not None else network
    metric = crs or (net.crs if net is not None else None)
    if metric is None:
        msg = "straight-line assignment needs a metric CRS: pass crs='EPSG:326xx' or a network"
        raise ValidationError(msg)

    o_pts = origins.geometry.to_crs(metric)
    s_pts = seats.geometry.to_crs(metric)
    ox, oy = o_pts.x.to_numpy(), o_pts.y.to_numpy()
    sx, sy = s_pts.x.to_numpy(), s_pts.y.to_numpy()
    _, nearest_line = cKDTree(np.column_stack([sx, sy])).query(np.column_stack([ox, oy]))

    seat_pos = np.asarray(nearest_line, dtype=np.int64).copy()
    time_min = np.full(len(origins), np.nan)
    how = np.full(len(origins), "straight_line", dtype=object)
    if method == "network":
        if net is None:
            msg = "method='network' needs router= (e.g. study.router) or network=; or use method='straight_line'"
            raise ValidationError(msg)
        if router is not None:
            missing = origins.index.difference(router.origins.index)
            if len(missing):
                msg = (
                    f"{len(missing)} origins are not in the router (e.g. {missing[:3].tolist()}); "
                    "pass the router built on these origins, or network= to snap them afresh"
                )
                raise ValidationError(msg)
            o_snap = router.origins.loc[origins.index]
        else:
            o_snap = snapping.snap(net, origins, max_snap_m=max_snap_m)
        s_snap = snapping.snap(net, seats, max_snap_m=max_snap_m)
        near = Router.build(net, o_snap, s_snap).nearest()
        ok = np.isfinite(near["time_s"].to_numpy(dtype=float))
        pos = seats.index.get_indexer(near["facility_id"].to_numpy()[ok])
        seat_pos[ok] = pos
        time_min[ok] = near["time_s"].to_numpy(dtype=float)[ok] / 60.0
        how[ok] = "network"
        if (~ok).any():
            log.warning(
                "%d villages reach no township seat over the network; given to the nearest seat "
                "in a straight line (township_method = 'straight_line')",
                int((~ok).sum()),
            )
    out = pd.DataFrame(
        {
            "township": seats["township"].to_numpy()[seat_pos],
            "township_id": seats.index.to_numpy()[seat_pos],
            "township_time_min": time_min,
            "township_dist_m": np.hypot(ox - sx[seat_pos], oy - sy[seat_pos]),
            "township_method": how,
        },
        index=origins.index,
    )
    log.info(
        "assigned %d villages to %d township seats (%s)",
        len(out),
        out["township_id"].nunique(),
        method,
    )
    return out
