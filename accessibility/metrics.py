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

     Unreachable origins (``inf``) count as not covered. A group with no facility
     in the data (every time NaN) is *no data*, not unreachable: its shares are NaN
     (never 0 %) and its ``status`` says ``no_data``; a group whose facilities no
     origin reaches has ``status`` ``none_reachable`` and real zero shares.
     :func:`key_figures` picks, per group, the coverage and the villages beyond the
     largest threshold for the index page (no value and status ``no_data`` for a
     group without data).
Tests: ``tests/test_metrics.py`` — arithmetic on a hand-made table;
``tests/test_engine.py`` — a group without facilities beside one none can reach.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ._errors import ValidationError
from .engine import check_thresholds, group_key, limit_text, parse_share_column, share_column
from .export import figure
from .labels import group_label, label
from .report import Notes

#: ``status`` of a group in :func:`summary`.
STATUS_OK = "ok"
#: No facility of the group in the data: no coverage can be given.
STATUS_NO_DATA = "no_data"
#: Facilities exist but no origin reaches any of them.
STATUS_NONE_REACHABLE = "none_reachable"


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
        ``within_{T}_share`` and ``within_{T}_pop_share`` per threshold (0–1; NaN
        when the group has no data), ``no_facility`` (bool) and ``status``
        (:data:`STATUS_OK`, :data:`STATUS_NO_DATA` when every time is NaN — no
        facility of the group in the data — or :data:`STATUS_NONE_REACHABLE` when
        facilities exist and no origin reaches one).
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
        empty = bool(t.size) and bool(np.all(np.isnan(t)))
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
            row[share_column("within", limit)] = (
                float(inside.mean()) if t.size and not empty else np.nan
            )
            total = pop[known].sum()
            row[share_column("within", limit, population=True)] = (
                float(pop[known & inside].sum() / total) if total > 0 and not empty else np.nan
            )
        row["no_facility"] = empty
        row["status"] = (
            STATUS_NO_DATA
            if empty
            else STATUS_OK
            if reach.any() or not t.size
            else STATUS_NONE_REACHABLE
        )
        rows[g] = row
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "group"
    return out


def key_figures(summary: pd.DataFrame) -> list[dict[str, Any]]:
    """The key figures of a :func:`summary` table: per group, coverage and villages beyond.

    For the largest threshold ``T`` of the table and each group (in table order):

    - ``<group key>_coverage``: the population-weighted share within ``T``
      (``within_{T}_pop_share``, format ``percent``);
    - ``<group key>_beyond``: the villages not within ``T``, unreachable ones
      included (``origins × (1 − within_{T}_share)``, format ``count``).

    A group with no data (``status`` ``no_data``: no facility of it in the data) gets
    both figures without a value and with status ``no_data``: "no data", never 0 %
    and never every village beyond.

    Parameters
    ----------
    summary
        Output of :func:`summary` (index = group).

    Returns
    -------
    list of dict
        Figures for :func:`accessibility.export.write_figures`.
    """
    limits = [
        float(parsed[1])
        for parsed in map(parse_share_column, summary.columns)
        if parsed is not None and parsed[0] == "within" and parsed[2]
    ]
    if not limits:
        msg = "the summary has no within_<T>_pop_share column; make it with metrics.summary"
        raise ValidationError(msg)
    top = limit_text(max(limits))
    out = []
    for group, row in summary.iterrows():
        key = group_key(str(group))
        names = tuple(group_label(str(group), lang=lang) for lang in ("zh", "en"))
        no_data = row.get("status") == STATUS_NO_DATA or bool(row.get("no_facility", False))
        status = STATUS_NO_DATA if no_data else None
        share = float(row[share_column("within", float(top))])
        origins = int(row["origins"])
        beyond = round(origins * (1.0 - share)) if np.isfinite(share) else None
        out.append(
            figure(
                f"{key}_coverage",
                row[share_column("within", float(top), population=True)],
                "percent",
                label_key="figure.coverage",
                status=status,
                group=names,
                t=top,
            )
        )
        out.append(
            figure(
                f"{key}_beyond",
                beyond,
                "count",
                label_key="figure.beyond",
                status=status,
                group=names,
                t=top,
            )
        )
    return out


def note_missing(summary: pd.DataFrame, notes: Notes) -> list[str]:
    """Record in ``notes`` each group of a :func:`summary` with no facility in the data; return them.

    Such a group is "no data" (无数据): no coverage is given for it, never 0 %.
    """
    missing = [str(g) for g, row in summary.iterrows() if row.get("status") == STATUS_NO_DATA]
    for group in missing:
        names = tuple(group_label(group, lang=lang) for lang in ("zh", "en"))
        notes.skip("group", "no_facilities", group=names)
    return missing


def mark_estimate(figures: Sequence[dict[str, Any]], estimate: str) -> list[dict[str, Any]]:
    """Key figures with every share of residents marked as an estimate when it is one.

    A figure counts residents when it is a ``percent`` whose Chinese label speaks of
    人口 (every notebook labels its population-weighted shares so; shares of villages
    say 村). ``estimate`` is why the origins' residents are only estimated
    (``"landuse"``, ``"low_confidence"``; ``study.meta["origins_population_estimate"]``)
    and ``""`` when they are counted: the figures then come back unchanged. A label
    that already says 估算 is left as it is.
    """
    if not estimate:
        return [dict(f) for f in figures]
    zh, en = (label(f"reading_ui.estimate_{estimate}", lang=x) for x in ("zh", "en"))
    out = []
    for f in figures:
        f = dict(f)
        if (
            f.get("format") == "percent"
            and "人口" in f.get("label_zh", "")
            and "估算" not in f["label_zh"]
        ):
            f["label_zh"] = f"{f['label_zh']}（{zh}）"
            f["label_en"] = f"{f['label_en']} ({en})"
        out.append(f)
    return out


#: What a figure about origins calls them, by kind of origins (zh, en); villages keep
#: the labels' own words.
ORIGIN_NOUNS = {
    "places": ("居民点", "settlements"),
    "grid": ("网格", "grid cells"),
    "h3": ("网格", "grid cells"),
    "buildings": ("居住建筑群", "building clusters"),
    "file": ("起点", "origins"),
}


def name_origins(figures: Sequence[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """Key figures whose labels count villages, reworded for the origins actually used.

    The notebooks' labels speak of villages (村庄, 行政村). When the origins are grid
    cells, settlements, building clusters or user points (``study.meta["origins_kind"]``),
    a figure "30分钟外村庄数" counts cells, not villages, and says so: "30分钟外网格数".
    Figures come back unchanged for village origins.
    """
    if kind not in ORIGIN_NOUNS:
        return [dict(f) for f in figures]
    zh, en = ORIGIN_NOUNS[kind]
    out = []
    for f in figures:
        f = dict(f)
        f["label_zh"] = f.get("label_zh", "").replace("行政村", zh).replace("村庄", zh)
        f["label_en"] = (
            f.get("label_en", "").replace("villages", en).replace("Villages", en.capitalize())
        )
        out.append(f)
    return out


def as_measured(figures: Sequence[dict[str, Any]], study: Any) -> list[dict[str, Any]]:
    """Key figures worded for how ``study`` measured them: shares of estimated residents
    marked (:func:`mark_estimate`), origins named as what they are (:func:`name_origins`).
    Reads ``study.meta["origins_population_estimate"]`` and ``["origins_kind"]``."""
    meta = getattr(study, "meta", {}) or {}
    marked = mark_estimate(figures, str(meta.get("origins_population_estimate", "") or ""))
    return name_origins(marked, str(meta.get("origins_kind", "villages")))
