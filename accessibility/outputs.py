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
    (figures, warnings, verdicts). All of them are written into staging folders
    beside those (``.<nb>.staging-*``, on the same file systems) and moved into
    place together once every one is written: a run that fails on the way leaves
    the previous run's files as they were — never a new map beside old tables —
    and its own partial files are removed.
Tests
    The notebook runs (the notebook tests and the batch tests) check every file;
    ``tests/test_outputs.py`` checks a run's files, and that a failure at each step
    leaves the previous run's files untouched and no staging folder behind.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
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
    processed, maps_dir = Path(study.processed_dir), Path(study.maps_dir)
    # everything is written beside its place first, then moved into place together:
    # a run that fails leaves the previous run's files as they were, never a mix
    with _Staging(processed, maps_dir, name) as stage:
        data, pics = stage.dirs
        verdict_table = verdicts_mod.table(verdicts, lang=lang)
        export.write_figures(
            data / f"{name}_figures.json",
            figures,
            warnings=notes,
            verdicts=verdicts_mod.to_records(verdicts),
        )
        export.write_csv(
            data / f"{name}_verdicts.csv", verdict_table, lang=lang, translate_values=False
        )
        verdicts_mod.add_panel(fmap, verdicts, lang=lang)
        maps.save_html(fmap, pics / f"{name}.html")
        export.write_geopackage(
            data / f"{name}.gpkg", {**layers, "verdicts": _verdict_layer(verdicts)}
        )
        export.write_csv(data / f"{name}_summary.csv", summary, lang=lang, headers=headers)
        export.write_excel(
            data / f"{name}.xlsx",
            {"verdicts": verdict_table, **sheets, **notes.sheets(lang)},
            lang=lang,
            headers=headers,
        )
        if png is not None:
            from . import static_map

            static_map.render_png(
                **png,
                verdict=verdicts_mod.png_lines(verdicts, lang=lang),
                path=pics / f"{name}.png",
            )
        moved = stage.commit()
    keys = {
        f"{name}_figures.json": "figures",
        f"{name}_verdicts.csv": "verdicts_csv",
        f"{name}.html": "map",
        f"{name}.gpkg": "gpkg",
        f"{name}_summary.csv": "csv",
        f"{name}.xlsx": "xlsx",
        f"{name}.png": "png",
    }
    paths = {keys[path.name]: path for path in moved}
    for key, path in paths.items():
        log.debug("%s: %s", key, path)
    return paths


class _Staging:
    """Folders beside ``processed`` and ``maps_dir`` (same file systems) whose files are
    moved into place together by :meth:`commit`; on leaving, whatever is left (a
    failed run's files) is removed."""

    def __init__(self, processed: Path, maps_dir: Path, name: str) -> None:
        self.targets = (processed, maps_dir)
        self.name = name
        self.dirs: tuple[Path, Path] = (processed, maps_dir)

    def __enter__(self) -> _Staging:
        made = []
        for target in self.targets:
            target.mkdir(parents=True, exist_ok=True)
            made.append(Path(tempfile.mkdtemp(prefix=f".{self.name}.staging-", dir=target)))
        self.dirs = (made[0], made[1])
        return self

    def commit(self) -> list[Path]:
        """Move every staged file into its place (each move atomic); the final paths."""
        moved = []
        for staged, target in zip(self.dirs, self.targets):
            for path in sorted(staged.iterdir()):
                final = target / path.name
                os.replace(path, final)
                moved.append(final)
        return moved

    def __exit__(self, kind: object, exc: object, tb: object) -> None:
        for staged in self.dirs:
            if kind is not None and any(staged.iterdir()):
                log.info("the failed run's outputs in %s are not kept", staged)
            shutil.rmtree(staged, ignore_errors=True)
