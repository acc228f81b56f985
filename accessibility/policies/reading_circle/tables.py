"""The reading circle in tables: labelled summaries, key figures, workbook sheets and headers."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..._errors import ValidationError
from ...export import figure
from ...labels import label
from .assessment import Assessment, _target_key, _target_text

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- tables


def _method_text(row: pd.Series | dict[str, Any], lang: str) -> str:
    """A plan's method in words, with how good it is proven to be (greedy, optimal, or
    within the gap HiGHS proved)."""
    method = str(row["method"])
    grid = row.get("approx_grid_m", np.nan)
    if method == "exact" and grid is not None and np.isfinite(float(grid)):
        return label("reading_ui.method_exact_approx", lang=lang).format(grid_m=f"{float(grid):g}")
    if method == "exact" and row.get("proof") == "gap":
        return label("reading_ui.method_exact_gap", lang=lang).format(
            gap=f"{float(row['optimality_gap']):.1%}"
        )
    return label(f"reading_ui.method_{method}", lang=lang)


def _plan_row(result: Assessment, key: str) -> dict[str, Any]:
    """The summary row of plan ``key`` (``method``, ``proof``, ``optimality_gap``)."""
    row = result.summary.loc[key]
    return {
        "method": row["method"],
        "proof": row.get("proof", ""),
        "optimality_gap": row.get("optimality_gap", np.nan),
        "approx_grid_m": row.get("approx_grid_m", np.nan),
    }


def _scenario_text(key: str, row: pd.Series, lang: str) -> str:
    if key == "current":
        return label("reading_ui.current", lang=lang)
    method = _method_text(row, lang)
    return label("reading_ui.scenario", lang=lang).format(
        method=method, target=_target_text(float(row["target"]))
    )


def _id_number(value: str) -> str:
    """``"new_919"`` → ``"919"``, ``"gap_3"`` → ``"3"``; other ids stay as they are."""
    head, sep, tail = value.partition("_")
    return tail if sep and head in ("new", "gap") else value


def _population_source(value: Any, lang: str) -> Any:
    if not isinstance(value, str) or not value:
        return value
    try:
        return label(f"population_source.{value}", lang=lang)
    except ValidationError:
        return value


def labelled(frame: pd.DataFrame, *, lang: str = "zh", headers: bool = True) -> pd.DataFrame:
    """A copy of one of the assessment's tables for people, in ``lang`` (``rules/labels_reading.yml``).

    Headers are translated (columns without a label keep their name; with
    ``headers=False`` they keep their names, e.g. for :func:`excel_tables`), scenarios
    of the ``summary`` table are named (现状 / Current, …), methods and statuses
    are put in words, persons are rounded to whole numbers and shares to 0.1 %
    (kept as 0–1 fractions).
    """
    out = frame.copy()
    if out.index.name == "scenario" and {"method", "target"} <= set(out.columns):
        out.index = pd.Index(
            [_scenario_text(k, out.loc[k], lang) for k in out.index], name=out.index.name
        )
    if "scenario" in out.columns and {"method", "target"} <= set(out.columns):
        out["scenario"] = [
            _scenario_text(str(k), r, lang) for k, (_, r) in zip(out["scenario"], out.iterrows())
        ]
    # ids of proposed sites (new_<node>) and uncovered areas (gap_<n>) as their numbers
    for col in ("site", "sites"):
        if col in out.columns:
            out[col] = [
                ("、" if lang == "zh" else ", ").join(_id_number(v) for v in str(x).split(";") if v)
                if isinstance(x, str)
                else x
                for x in out[col]
            ]
    if out.index.name == "gap":
        out.index = pd.Index([_id_number(str(v)) for v in out.index], name="gap")
    if "source" in out.columns:
        out["source"] = [_population_source(v, lang) for v in out["source"]]
    if "method" in out.columns:
        out["method"] = [
            _method_text(r, lang) if r["method"] in ("greedy", "exact") else r["method"]
            for _, r in frame.iterrows()
        ]
    if "proof" in out.columns:
        out = out.drop(columns="proof")  # said by the method's words
    if "status" in out.columns:
        statuses = set(_label_keys("reading_status"))
        out["status"] = [
            label(f"reading_status.{v}", lang=lang) if v in statuses else v for v in out["status"]
        ]
    if "estimate" in out.columns:
        out["estimate"] = [
            label(f"reading_ui.estimate_{v}", lang=lang) if v else "" for v in out["estimate"]
        ]
    if "confidence" in out.columns:
        out["confidence"] = [
            label(f"reading_ui.confidence_{v}", lang=lang) if v in ("high", "medium", "low") else v
            for v in out["confidence"]
        ]
    if "reached" in out.columns:
        yes, no = (
            label("reading_ui.answer_yes", lang=lang),
            label("reading_ui.answer_no", lang=lang),
        )
        out["reached"] = [
            "" if v is None or (isinstance(v, float) and np.isnan(v)) else (yes if v else no)
            for v in out["reached"]
        ]
    for col in ("population", "covered", "uncovered", "gain"):
        if col in out.columns:
            out[col] = out[col].astype(float).round(0)
    for col in ("share", "best_share"):
        if col in out.columns:
            out[col] = out[col].astype(float).round(3)
    shares = [c for c in ("target", "optimality_gap", "coverage_gap") if c in out.columns]
    if shares:  # 0–1 shares, shown as percentages in tables
        out.attrs["share_columns"] = [
            *shares,
            *(label(f"reading_col.{c}", lang=lang) for c in shares),
        ]
    if not headers:
        return out
    known = set(_label_keys("reading_col"))
    out = out.rename(
        columns={c: label(f"reading_col.{c}", lang=lang) for c in out.columns if c in known}
    )
    if out.index.name in known:
        out.index.name = label(f"reading_col.{out.index.name}", lang=lang)
    return out


def key_figures(result: Assessment) -> list[dict[str, Any]]:
    """The assessment's key figures for the index page of a batch run.

    From the ``current`` row of :attr:`Assessment.summary`: ``coverage`` (the
    population-weighted share within the walk limit, ``percent``), ``uncovered``
    (residents not covered, ``count``) and ``uncovered_points`` (residence points
    not covered, ``count``); then per target ``new_sites_<target>`` (e.g.
    ``new_sites_95``): the new reading places of the recommended plan (the exact
    one when it ran, else the greedy one), or ``None`` when that plan does not
    reach the target. Without a reading place in the data the three coverage figures
    have no value and status ``no_data``.

    Returns
    -------
    list of dict
        Figures for :func:`accessibility.export.write_figures`.
    """
    s = result.summary
    cur = s.loc["current"]
    minutes = f"{result.minutes:g}"
    why = str(result.meta.get("estimate", ""))
    status = "no_data" if result.no_data else None  # no reading place: no value, never 0 %
    coverage = (
        figure(
            "coverage",
            cur["share"],
            "percent",
            label_key="reading_fig.coverage_estimate",
            status=status,
            minutes=minutes,
            estimate=tuple(label(f"reading_ui.estimate_{why}", lang=x) for x in ("zh", "en")),
        )
        if why
        else figure(
            "coverage",
            cur["share"],
            "percent",
            label_key="reading_fig.coverage",
            status=status,
            minutes=minutes,
        )
    )
    out = [
        coverage,
        figure(
            "uncovered", cur["uncovered"], "count", label_key="reading_fig.uncovered", status=status
        ),
        figure(
            "uncovered_points",
            cur["uncovered_points"],
            "count",
            label_key="reading_fig.uncovered_points",
            status=status,
        ),
    ]
    for target in result.meta.get("targets", []):
        key = _target_key(float(target))
        exact, greedy = f"exact_{key}", f"greedy_{key}"
        name = exact if exact in s.index and s.loc[exact, "status"] != "skipped" else greedy
        value = None
        if name in s.index and bool(s.loc[name, "reached"]):
            value = int(s.loc[name, "new_sites"])
        out.append(
            figure(
                f"new_sites_{key}",
                value,
                "count",
                label_key="reading_fig.new_sites",
                target=_target_text(float(target)),
            )
        )
    return out


def excel_tables(result: Assessment, *, lang: str = "zh") -> dict[str, pd.DataFrame]:
    """The summary tables for :func:`accessibility.export.write_excel`, by sheet name in ``lang``.

    Sheets: coverage per scenario, per sub-area (when there are areas), uncovered
    residential areas and proposed sites (both with 经度/纬度). Values are put in
    words as in :func:`labelled`; column names are kept, so give
    ``headers=excel_headers(lang=lang)`` to ``write_excel`` for the headers.
    """
    sheets = {
        label("reading_ui.sheet_summary", lang=lang): labelled(
            result.summary, lang=lang, headers=False
        )
    }
    if result.by_area is not None:
        sheets[label("reading_ui.sheet_areas", lang=lang)] = labelled(
            result.by_area, lang=lang, headers=False
        )
    sheets[label("reading_ui.sheet_uncovered", lang=lang)] = labelled(
        result.uncovered_areas, lang=lang, headers=False
    )
    sheets[label("reading_ui.sheet_sites", lang=lang)] = labelled(
        result.sites, lang=lang, headers=False
    )
    return sheets


def excel_headers(*, lang: str = "zh") -> dict[str, str]:
    """Column name → header in ``lang`` for the sheets of :func:`excel_tables`."""
    return {c: label(f"reading_col.{c}", lang=lang) for c in _label_keys("reading_col")}


def _label_keys(section: str) -> list[str]:
    from ...labels import keys

    return keys(section)
