"""One output step for every notebook: map, PNG, GeoPackage, workbook, CSV, figures, verdicts.

Design
------
In
    What a notebook made: its Folium map, the layers for QGIS, the tables for the
    workbook (with their headers), the summary table for the CSV, key figures,
    the notes on what was skipped, the verdicts on the report's claims
    (:mod:`accessibility.verdicts`) and the arguments of its PNG map.
Out
    In ``maps/<region>[/<unit>]/``: ``<nb>.html`` (with the verdict panel at the
    top) and ``<nb>.png`` (with the date and the verdicts). In
    ``data/processed/<region>[/<unit>]/``: ``<nb>.gpkg`` (the layers and a
    ``verdicts`` table), ``<nb>.xlsx`` (the verdicts first, then the tables and the
    notes), ``<nb>_summary.csv``, ``<nb>_verdicts.csv`` and ``<nb>_figures.json``
    (figures, warnings, verdicts). The figures and verdicts are written first, so
    that a failure further on still leaves the run's answer behind.
Tests
    The notebook runs (``tests/test_notebooks.py`` and the batch tests) check every
    file; ``tests/test_outputs.py`` checks the order and contents on a small run.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from . import export, maps
from . import verdicts as verdicts_mod
from .report import Notes

if TYPE_CHECKING:
    import folium

    from .pipeline import Study
    from .verdicts import Verdict

__all__ = ["publish"]

log = logging.getLogger(__name__)


def _verdict_layer(said: Sequence[Verdict]) -> pd.DataFrame:
    """The verdicts as a plain table for the GeoPackage (codes and numbers, both languages)."""
    rows = [
        {
            "claim": v.claim,
            "state": v.state,
            "value": v.value,
            "target": v.target,
            "unit": v.unit,
            "statement_zh": v.statement["zh"],
            "statement_en": v.statement["en"],
            "reason_zh": "；".join(r["zh"] for r in v.reasons),
            "reason_en": "; ".join(r["en"] for r in v.reasons),
            "sure": v.sure,
        }
        for v in said
    ]
    return pd.DataFrame(
        rows,
        columns=[
            "claim",
            "state",
            "value",
            "target",
            "unit",
            "statement_zh",
            "statement_en",
            "reason_zh",
            "reason_en",
            "sure",
        ],
    )


def publish(
    study: Study,
    name: str,
    *,
    fmap: folium.Map,
    verdicts: Sequence[Verdict],
    layers: Mapping[str, pd.DataFrame],
    sheets: Mapping[str, pd.DataFrame],
    summary: pd.DataFrame,
    figures: Sequence[Mapping[str, Any]],
    notes: Notes,
    png: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    lang: str = "zh",
) -> dict[str, Path]:
    """Write every output of notebook ``name`` for ``study``'s unit.

    Parameters
    ----------
    study
        The prepared study (its folders and unit).
    name
        The notebook's name (``facility_access``…): every file starts with it.
    fmap
        The notebook's map; the verdict panel is added to it here.
    verdicts
        The verdicts on the claims this notebook tests (may be empty).
    layers
        GeoPackage layers (see :func:`accessibility.export.write_geopackage`).
    sheets
        Workbook sheets after the verdicts (the notes' sheets are added).
    summary
        The table written to ``<name>_summary.csv``, as the workbook shows it (same
        headers, words and rounding; see :func:`accessibility.export.write_csv`).
    figures
        Key figures (see :func:`accessibility.export.write_figures`).
    notes
        What the run skipped and why.
    png
        Arguments of :func:`accessibility.static_map.render_png` (without ``path``
        and ``verdict``); ``None``: no PNG.
    headers
        Extra column headers for the workbook (see :func:`accessibility.export.write_excel`).
    lang
        Language of every label.

    Returns
    -------
    dict
        ``map``, ``png``, ``gpkg``, ``xlsx``, ``csv``, ``verdicts_csv``, ``figures`` → path.
    """
    processed, maps_dir = study.processed_dir, study.maps_dir
    paths: dict[str, Path] = {}
    verdict_table = verdicts_mod.table(verdicts, lang=lang)
    paths["figures"] = export.write_figures(
        processed / f"{name}_figures.json",
        figures,
        warnings=notes,
        verdicts=verdicts_mod.to_records(verdicts),
    )
    paths["verdicts_csv"] = export.write_csv(
        processed / f"{name}_verdicts.csv", verdict_table, lang=lang, translate_values=False
    )
    verdicts_mod.add_panel(fmap, verdicts, lang=lang)
    paths["map"] = maps.save_html(fmap, maps_dir / f"{name}.html")
    paths["gpkg"] = export.write_geopackage(
        processed / f"{name}.gpkg", {**layers, "verdicts": _verdict_layer(verdicts)}
    )
    paths["csv"] = export.write_csv(
        processed / f"{name}_summary.csv", summary, lang=lang, headers=headers
    )
    paths["xlsx"] = export.write_excel(
        processed / f"{name}.xlsx",
        {"verdicts": verdict_table, **sheets, **notes.sheets(lang)},
        lang=lang,
        headers=headers,
    )
    if png is not None:
        from . import static_map

        paths["png"] = static_map.render_png(
            **png,
            verdict=verdicts_mod.png_lines(verdicts, lang=lang),
            path=maps_dir / f"{name}.png",
        )
    for key, path in paths.items():
        log.debug("%s: %s", key, path)
    return paths
