"""A run that skipped sections is ok with warnings in its manifest (no kernel started)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import pytest

from accessibility import batch, export, report, runner
from accessibility.settings import settings

REGION_YML = """\
label_zh: 测试市
label_en: Test City
synthetic: true
source: {kind: overpass}
buffer_m: 0
units:
  - {code: "100001", name: 测试县, name_en: Test County, boundary: {bbox: [110, 30, 110.5, 30.5]}}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "regions").mkdir()
    (tmp_path / "regions" / "test.yml").write_text(REGION_YML, encoding="utf-8")
    (tmp_path / "notebooks").mkdir()
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(
        'region = "test"\nunit = None\nroot = "."\nosm_file = None\noffline = False\nlang = "zh"'
    )
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, tmp_path / "notebooks" / "alpha.ipynb")
    (tmp_path / "data" / "raw" / "test").mkdir(parents=True)
    old = settings.root, settings.progress
    settings.root, settings.progress = tmp_path, False
    yield tmp_path
    settings.root, settings.progress = old


def _fake_run(skip: bool, fail: bool = False) -> Any:
    """Stand-in for a notebook run: writes the key figures (and notes) a notebook writes."""

    def run(notebook: str, region: str, unit: str | None, *args: Any, **kwargs: Any) -> None:
        out = settings.root / "data" / "processed" / region / unit
        notes = report.Notes()
        if skip:
            notes.skip("road_links", "no_township_seats")
        figures = [export.figure("bus", 0.5, "percent", labels=("公交", "Bus"))]
        export.write_figures(out / f"{notebook}_figures.json", figures, warnings=notes)
        if fail:
            raise runner.NotebookFailed("boom", cell_index=3)

    return run


@pytest.mark.parametrize("skip", [True, False])
def test_a_run_with_skips_is_ok_with_warnings(
    project: Path, monkeypatch: pytest.MonkeyPatch, skip: bool
) -> None:
    monkeypatch.setattr(runner, "_run_one", _fake_run(skip))
    monkeypatch.setattr(batch, "inputs", lambda task, root: {"data": {}})
    (task,) = batch.plan("test", ["alpha"])
    manifest = batch.execute(task, root=project)
    assert manifest["status"] == batch.STATUS_OK and manifest["error"] is None
    assert manifest["figures"][0]["value"] == 0.5
    if skip:
        (warning,) = manifest["warnings"]
        assert warning["section"] == "road_links" and "township" in warning["en"]
    else:
        assert manifest["warnings"] == []
    on_disk = json.loads(task.manifest_path(project).read_text("utf-8"))
    assert on_disk["warnings"] == manifest["warnings"]


def test_a_failed_run_has_no_warnings(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "_run_one", _fake_run(True, fail=True))
    monkeypatch.setattr(batch, "inputs", lambda task, root: {"data": {}})
    (task,) = batch.plan("test", ["alpha"])
    manifest = batch.execute(task, root=project)
    assert manifest["status"] == batch.STATUS_FAILED and manifest["warnings"] == []
