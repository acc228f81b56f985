"""Summaries of access results: how many villages and residents are within each time.

Design
------
In:  the wide access table of :func:`accessibility.engine.access` and the origins'
     ``population``.
Out: one row per facility group with counts and shares. Coverage of a group at
     threshold ``T`` (minutes) is reported two ways:

     - share of origins with ``time_min <= T``;
     - population-weighted: ``sum(pop_i * [time_i <= T]) / sum(pop_i)`` over origins
       with a known population (origins without one are counted separately).

     Unreachable origins count as not covered; a group with no facility has no
     coverage (0) and is flagged.
Tests: ``tests/test_metrics.py`` — arithmetic on a hand-made table.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ._errors import ValidationError
from .engine import check_thresholds, group_key


def summary(
    table: pd.DataFrame,
    population: pd.Series,
    groups: Sequence[str],
    *,
    thresholds_min: Sequence[float],
) -> pd.DataFrame:
    """Coverage per group and threshold.

    Parameters
    ----------
    table
        Output of :func:`accessibility.engine.access` (index = origin id).
    population
        Residents per origin (same index; NaN = unknown).
    groups
        The groups to summarise (as given to ``access``).
    thresholds_min
        Minutes.

    Returns
    -------
    pandas.DataFrame
        Index = group; columns ``origins``, ``population``, ``unreachable``,
        ``median_min``, ``p90_min``, ``max_min`` (over reachable origins),
        ``within_{T}_share`` and ``within_{T}_pop_share`` per threshold (0–1),
        ``no_facility`` (bool).
    """
    thresholds = check_thresholds(thresholds_min)
    pop = population.reindex(table.index).astype(float)
    if len(table) and population.notna().any() and pop.isna().all():
        msg = "population shares no id with the access table; pass the population indexed by origin id"
        raise ValidationError(msg)
    bad = pop.notna() & (~np.isfinite(pop) | (pop < 0))
    if bad.any():
        msg = f"population must be finite and ≥ 0; bad values for origins {pop.index[bad][:5].tolist()}"
        raise ValidationError(msg)
    known = pop.notna().to_numpy()
    rows = {}
    for g in groups:
        col = f"{group_key(g)}_time_min"
        if col not in table.columns:
            msg = f"the access table has no column {col!r} for group {g!r}; compute it with engine.access first"
            raise ValidationError(msg)
        t = table[col].to_numpy(dtype=float)
        empty = bool(np.all(np.isnan(t)))
        reach = np.isfinite(t)
        row: dict[str, object] = {
            "origins": int(t.size),
            "population": float(pop[known].sum()),
            "unreachable": int((~reach & ~np.isnan(t)).sum()),
            "median_min": float(np.median(t[reach])) if reach.any() else np.nan,
            "p90_min": float(np.percentile(t[reach], 90)) if reach.any() else np.nan,
            "max_min": float(t[reach].max()) if reach.any() else np.nan,
        }
        for limit in thresholds:
            inside = np.where(np.isnan(t), False, t <= limit)
            row[f"within_{limit:g}_share"] = float(inside.mean()) if t.size else np.nan
            total = pop[known].sum()
            row[f"within_{limit:g}_pop_share"] = (
                float(pop[known & inside].sum() / total) if total > 0 else np.nan
            )
        row["no_facility"] = empty
        rows[g] = row
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "group"
    return out
