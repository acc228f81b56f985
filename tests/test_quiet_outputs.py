"""Executed notebooks hold results, not noise: no Python warning, no line per file written
by the GDAL bindings, no progress bar.

The executed copies come from the runner (the way `accessibility run` and `batch` make
them); the causes are checked one by one without a kernel: pyogrio's "Created N records"
INFO line per layer written, and tqdm's "IProgress not found" warning and bars.
"""

from __future__ import annotations

import importlib
import logging
import re

import nbformat
import pandas as pd
import pytest

from accessibility import export, runner
from accessibility.settings import PROGRESS_ENV, progress_bar, settings

settings_module = importlib.import_module("accessibility.settings")

#: A Python warning as printed (TqdmWarning, UserWarning, FutureWarning...); the
#: package's own logged data warnings ("WARNING accessibility.snapping: ...") are results.
_PY_WARNING = re.compile(r"\b[A-Za-z]*Warning\b")
_DRIVER_LINE = re.compile(r"\b(?:pyogrio|fiona)[\w.]*:|Created \d+ records")
_BAR = re.compile(r"\d+%\|")


def noise(path) -> list[str]:
    """Every output of an executed notebook that is a warning, a driver log line or a bar."""
    found = []
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                text = out.get("text", "")
            elif out.get("output_type") == "error":
                text = "\n".join([out.get("ename", ""), *out.get("traceback", [])])
            else:
                text = str(out.get("data", {}).get("text/plain", ""))
            for line in text.splitlines():
                if _PY_WARNING.search(line) or _DRIVER_LINE.search(line) or _BAR.search(line):
                    found.append(f"cell {i}: {line[:160]}")
    return found


def test_geopackage_writes_log_no_line_per_layer(tmp_path, caplog) -> None:
    frame = pd.DataFrame({"name": ["甲", "乙"], "x": [1.0, 2.0]})
    pyogrio_logger = logging.getLogger("pyogrio")
    before = pyogrio_logger.level
    with caplog.at_level(logging.DEBUG):
        export.write_geopackage(tmp_path / "t.gpkg", {"a": frame, "b": frame})
    lines = [r.getMessage() for r in caplog.records if r.name.startswith(("pyogrio", "fiona"))]
    assert lines == []
    assert pyogrio_logger.level == before  # restored: the bindings' logging is the caller's
    # the bindings do log at INFO when not quieted: the check above can fail
    import geopandas as gpd

    with caplog.at_level(logging.DEBUG):
        gpd.GeoDataFrame(frame).to_file(tmp_path / "u.gpkg", layer="a", engine="pyogrio")
    assert any("Created 2 records" in r.getMessage() for r in caplog.records)


def test_progress_bar_off_in_unattended_runs_and_never_a_widget_warning(monkeypatch) -> None:
    import warnings

    from tqdm.std import tqdm as text_bar

    monkeypatch.delenv(PROGRESS_ENV, raising=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # TqdmWarning would raise
        bar = progress_bar(show=True, total=3)
        assert isinstance(bar, text_bar) and not bar.disable
        bar.close()
        monkeypatch.setattr(settings_module, "_in_kernel", lambda: True)  # a notebook
        bar = progress_bar(show=True, total=3)
        assert not bar.disable  # a text bar when ipywidgets is missing, a widget bar if not
        bar.close()
    monkeypatch.setenv(PROGRESS_ENV, "0")
    assert progress_bar(show=True, total=3).disable
    monkeypatch.delenv(PROGRESS_ENV)
    settings.progress = False
    assert progress_bar(total=3).disable


def test_the_scan_finds_each_kind_of_noise(tmp_path) -> None:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [
        nbformat.v4.new_output(
            "stream", name="stderr", text="tqdm/auto.py:21: TqdmWarning: IProgress not found\n"
        ),
        nbformat.v4.new_output(
            "stream", name="stderr", text="INFO pyogrio._io: Created 423 records\n"
        ),
        nbformat.v4.new_output("stream", name="stderr", text="sample:  50%|█████     | 3/6\n"),
        nbformat.v4.new_output(
            "stream",
            name="stderr",
            text="WARNING accessibility.snapping: 4 of 423 points are far\n",
        ),
    ]
    nb.cells = [cell]
    path = tmp_path / "n.ipynb"
    nbformat.write(nb, path)
    found = noise(path)
    assert len(found) == 3 and not any("snapping" in f for f in found)


@pytest.mark.slow
@pytest.mark.parametrize(
    "notebook", ["facility_access", "reading_circle", "school_tiers", "services"]
)
def test_executed_notebook_has_no_warning_driver_line_or_bar(tmp_path_factory, notebook) -> None:
    root = tmp_path_factory.getbasetemp() / "quiet_root"
    root.mkdir(exist_ok=True)
    settings.root = root
    try:
        (result,) = runner.run(notebook, region="sample", progress=False)
    finally:
        settings.root = None
    found = noise(result.notebook)
    assert not found, "\n".join(found)
    # the logged results are still there
    text = result.notebook.read_text("utf-8")
    assert "INFO accessibility" in text
