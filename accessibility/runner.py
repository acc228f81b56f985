"""Running the notebooks with papermill, one run per region and notebook.

Design
------
In:  a notebook name (``notebooks/<name>.ipynb``), a region, parameters.
Out: the executed notebook in ``runs/<region>/<name>.ipynb`` (never over the source),
     and whatever the notebook writes (maps in ``maps/<region>/``, tables in
     ``data/processed/<region>/``). Parameters are validated here, before a kernel
     starts, so a typo fails in a second with a message that names it.
Tests: ``tests/test_cli.py`` runs the sample region end to end in a temporary root.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import classify, engine, network, regions
from ._errors import AccessibilityError, DataSourceError, ValidationError
from .settings import settings

log = logging.getLogger(__name__)

NOTEBOOKS = ("facility_access",)


class NotebookFailed(AccessibilityError, RuntimeError):
    """A notebook stopped with an error; the executed copy shows the failing cell."""


@dataclass(frozen=True)
class RunResult:
    """Where one run left its outputs."""

    notebook: Path
    map_html: Path
    tables: Path


def notebooks_dir() -> Path:
    """The folder of source notebooks: the project's ``notebooks/``, else the one beside the package."""
    own = settings.project_root / "notebooks"
    if own.is_dir():
        return own
    return Path(__file__).resolve().parents[1] / "notebooks"


def validate(notebook: str, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Check parameters before a kernel starts; return them with defaults filled in."""
    if notebook not in NOTEBOOKS:
        msg = f"unknown notebook {notebook!r}; available: {', '.join(NOTEBOOKS)}"
        raise ValidationError(msg)
    params = dict(parameters)
    region = regions.load(str(params.get("region", "")))  # UnknownRegionError names the choices
    network.mode_rules(str(params.get("mode", "walk")))
    if "thresholds_min" in params:
        params["thresholds_min"] = engine.check_thresholds(params["thresholds_min"])
    for g in params.get("kinds", []) or []:
        classify.parse_group(g)
    bad_levels = sorted(set(params.get("origin_levels", []) or []) - set(classify.LEVELS))
    if bad_levels:
        msg = f"unknown origin levels {bad_levels}; choose from {', '.join(classify.LEVELS)}"
        raise ValidationError(msg)
    osm_file = params.get("osm_file")
    if osm_file is not None and not Path(str(osm_file)).is_file():
        msg = f"--osm-file {osm_file} does not exist"
        raise DataSourceError(msg)
    if params.get("lang", "zh") not in ("zh", "en"):
        msg = f"lang must be 'zh' or 'en', got {params.get('lang')!r}"
        raise ValidationError(msg)
    params["region"] = region.name
    return params


def run(
    notebook: str,
    *,
    region: str,
    parameters: Mapping[str, Any] | None = None,
    progress: bool | None = None,
) -> RunResult:
    """Execute a notebook for a region with papermill.

    Parameters
    ----------
    notebook
        Name without ``.ipynb`` (e.g. ``"facility_access"``).
    region
        Region name.
    parameters
        Values for the notebook's ``parameters`` cell (``mode``, ``thresholds_min``,
        ``kinds``, ``lang``, ``osm_file``…). ``root`` is always the current project root.
    progress
        Show papermill's cell progress bar; default ``settings.progress``.
    """
    import papermill as pm

    params = validate(notebook, {**(parameters or {}), "region": region})
    root = settings.project_root
    params["root"] = str(root)
    source = notebooks_dir() / f"{notebook}.ipynb"
    if not source.is_file():
        msg = f"notebook {source} not found"
        raise ValidationError(msg)
    out = settings.runs_dir / params["region"] / f"{notebook}.ipynb"
    out.parent.mkdir(parents=True, exist_ok=True)
    show = settings.progress if progress is None else progress
    log.info("running %s for %s -> %s", source.name, params["region"], out)
    try:
        pm.execute_notebook(
            str(source),
            str(out),
            parameters=params,
            progress_bar=show,
            cwd=str(root),
            kernel_name="python3",
            # the kernel's own log (shutdown noise) would drown the run's messages;
            # errors in cells are reported by papermill and kept in the executed copy
            extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
        )
    except pm.PapermillExecutionError as exc:
        msg = f"{notebook} failed for region {params['region']} in cell {exc.cell_index}: {exc.ename}: {exc.evalue} (see {out})"
        raise NotebookFailed(msg) from None
    return RunResult(
        notebook=out,
        map_html=settings.maps_dir / params["region"] / f"{notebook}.html",
        tables=settings.data_processed / params["region"],
    )
