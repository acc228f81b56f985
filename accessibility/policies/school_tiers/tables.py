"""The school tiers in tables: GeoPackage layers, the per-tier report, key figures, workbook sheets.

In:  a :class:`~.placement.Compliance`, a :class:`~.access.TierAccess` and, when one
     was run, a :class:`~.scenario.Scenario`.
Out: data frames by layer or sheet name (codes put in Chinese or English words for
     the workbook, with its headers) and the figures of the batch index page.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..._errors import ValidationError
from ...export import figure
from ...labels import label
from .access import TierAccess
from .placement import Compliance
from .scenario import Scenario


# =========================================================================== layers
def layers(
    checks: Compliance, access: TierAccess, scenario: Scenario | None, summary: pd.DataFrame
) -> dict[str, pd.DataFrame]:
    """GeoPackage layers of the school-tiers notebook (no ``scenario`` layer when it was skipped)."""
    out: dict[str, pd.DataFrame] = {"schools": checks.schools, "villages": access.villages}
    if scenario is not None:
        out["scenario"] = scenario.villages
    out.update({"boarding": access.boarding, "exceptions": checks.exceptions, "summary": summary})
    return out


# =========================================================================== report
def report(
    checks: Compliance, access: TierAccess, scenario: Scenario | None = None
) -> pd.DataFrame:
    """One summary row per tier: compliance, access and (for its tier) the scenario.

    Columns: the access summary (``mode``, ``limit_min``, ``beyond``…), the compliance
    counts prefixed ``schools_`` (``schools_checked``, ``schools_compliant``,
    ``schools_exceptions``…), and the scenario totals prefixed ``scenario_``.
    """
    comp = checks.summary.rename(columns={"schools": "checked"}).add_prefix("schools_")
    out = access.summary.join(comp, how="left")
    if scenario is not None:
        extra = scenario.summary.drop(labels=["tier", "mode", "limit_min", "school_age_share"])
        for key, value in extra.items():
            out.loc[scenario.tier, f"scenario_{key}"] = value
    return out


def key_figures(access: TierAccess) -> list[dict[str, Any]]:
    """Per tier, the access figures for the index page of a batch run.

    From :attr:`TierAccess.summary`, for each tier (youngest first):
    ``<tier>_coverage`` — the population share within the tier's limit by its mode
    (``within_limit_pop_share``, ``percent``) — and ``<tier>_beyond`` — the villages
    beyond the limit (``beyond``: slower or unreachable; ``count``). A tier with no
    school in the data gets both without a value and with status ``no_data``.

    Returns
    -------
    list of dict
        Figures for :func:`accessibility.export.write_figures`.
    """
    out = []
    for tier, row in access.summary.iterrows():
        fields = {
            "tier": tuple(label(f"schools_tier_short.{tier}", lang=g) for g in ("zh", "en")),
            "mode": tuple(label(f"mode.{row['mode']}", lang=g) for g in ("zh", "en")),
            "limit": f"{float(row['limit_min']):g}",
        }
        status = "no_data" if row.get("status") == "no_data" else None
        out.append(
            figure(
                f"{tier}_coverage",
                row["within_limit_pop_share"],
                "percent",
                label_key="schools_fig.coverage",
                status=status,
                **fields,
            )
        )
        out.append(
            figure(
                f"{tier}_beyond",
                row["beyond"],
                "count",
                label_key="schools_fig.beyond",
                status=status,
                **fields,
            )
        )
    return out


# --------------------------------------------------------------------------- Excel


def _soft(key: str, lang: str) -> Any:
    """Function turning a code into its label under ``key`` (a section), or leaving it."""

    def one(value: Any) -> Any:
        if not isinstance(value, str) or not value:
            return value
        try:
            return label(f"{key}.{value}", lang=lang)
        except ValidationError:
            return value

    return one


def excel_tables(
    checks: Compliance,
    access: TierAccess,
    scenario: Scenario | None = None,
    *,
    lang: str = "zh",
) -> dict[str, pd.DataFrame]:
    """The summary tables for :func:`accessibility.export.write_excel`, by sheet name in ``lang``.

    Sheets: the per-tier summary (:func:`report`), the schools outside their tier's
    rule, the boarding candidates and, with a scenario, every village before and
    after it. Tiers, modes and sizes are put in words; column names are kept, so
    give ``headers=excel_headers(lang=lang)`` to ``write_excel`` for the headers.
    """
    tier, mode = _soft("schools_tier_short", lang), _soft("mode", lang)
    size, level = _soft("schools_size", lang), _soft("level", lang)

    def words(frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.reset_index() if isinstance(frame.index, pd.MultiIndex) else frame.copy()
        if out.index.name == "tier":
            out.index = out.index.map(tier)
        for col, fn in (
            ("tier", tier),
            ("mode", mode),
            ("size", size),
            ("boarding_level", level),
            ("status", _soft("status", lang)),
            ("reason", _soft("schools_reason_short", lang)),
            ("confidence", _soft("confidence", lang)),
        ):
            if col in out.columns:
                out[col] = out[col].map(fn)
        return out

    sheets = {
        label("schools_sheet.summary", lang=lang): words(report(checks, access, scenario)),
        label("schools_sheet.exceptions", lang=lang): words(checks.exceptions),
        label("schools_sheet.boarding", lang=lang): words(access.boarding),
    }
    if scenario is not None:
        sheets[label("schools_sheet.scenario", lang=lang)] = words(scenario.villages)
    return sheets


def excel_headers(*, lang: str = "zh") -> dict[str, str]:
    """Column name → header in ``lang`` for the sheets of :func:`excel_tables`."""
    from ...labels import keys

    return {c: label(f"schools_col.{c}", lang=lang) for c in keys("schools_col")}
