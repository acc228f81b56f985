"""The supply indices as tables, workbook sheets, GeoPackage layers and key figures.

Part of :mod:`accessibility.supply` (its docstring has the design); the map layers are
:mod:`accessibility.supply_map`. Tested in ``tests/test_supply.py`` and
``tests/test_supply_map.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .. import equity
from .._errors import ValidationError
from .index import SupplyIndex, by_township, summary_table
from .rules import STATUS_NO_FACILITY

log = logging.getLogger(__name__)


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
    from ..export import SHARE_COLUMNS
    from ..labels import group_label, label

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
    from ..labels import keys, label

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
    from ..export import figure
    from ..labels import group_label, label

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
