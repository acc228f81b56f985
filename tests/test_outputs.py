"""A notebook's outputs are replaced together: all of a run's files, or none."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import folium
import geopandas as gpd
import pandas as pd
import pytest
import shapely

from accessibility import export, outputs, static_map
from accessibility.report import Notes

FILES = {
    "map": ("maps", "demo.html"),
    "gpkg": ("data", "demo.gpkg"),
    "xlsx": ("data", "demo.xlsx"),
    "csv": ("data", "demo_summary.csv"),
    "verdicts_csv": ("data", "demo_verdicts.csv"),
    "figures": ("data", "demo_figures.json"),
}


def _run(tmp_path: Path, value: float, **kw):
    study = SimpleNamespace(processed_dir=tmp_path / "data", maps_dir=tmp_path / "maps")
    table = pd.DataFrame({"name": ["甲村"], "minutes": [value]})
    layer = gpd.GeoDataFrame(table, geometry=[shapely.Point(114.0, 34.0)], crs=4326)
    return outputs.publish(
        study,
        "demo",
        fmap=folium.Map(location=[34.0, 114.0], tiles=None),
        verdicts=[],
        layers={"villages": layer},
        sheets={"villages": table},
        summary=table,
        figures=[
            {
                "key": "minutes",
                "label_zh": "分钟",
                "label_en": "Minutes",
                "value": value,
                "format": "minutes",
            }
        ],
        notes=Notes(),
        **kw,
    )


def _contents(tmp_path: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(tmp_path)): p.read_bytes()
        for p in sorted(tmp_path.rglob("*"))
        if p.is_file()
    }


def test_a_run_writes_every_file_and_leaves_no_staging_folder(tmp_path) -> None:
    paths = _run(tmp_path, 12.5)
    assert {k: (p.parent.name, p.name) for k, p in paths.items()} == FILES
    assert all(p.is_file() for p in paths.values())
    assert not list(tmp_path.rglob(".demo.staging-*"))
    assert "12.5" in paths["csv"].read_text(encoding="utf-8-sig")
    assert pd.read_excel(paths["xlsx"], sheet_name=None)  # opens
    assert len(gpd.read_file(paths["gpkg"], layer="villages")) == 1


@pytest.mark.parametrize("step", ["write_geopackage", "write_excel", "write_csv", "render_png"])
def test_a_failed_run_leaves_the_previous_files_as_they_were(tmp_path, monkeypatch, step) -> None:
    _run(tmp_path, 12.5)
    before = _contents(tmp_path)

    def broken(*args, **kwargs):
        raise OSError(f"{step} failed")

    owner = static_map if step == "render_png" else export
    monkeypatch.setattr(owner, step, broken)
    png = {"places": None, "facilities": None} if step == "render_png" else None
    with pytest.raises(OSError, match=f"{step} failed"):
        _run(tmp_path, 30.0, png=png)
    # not one file of the failed run (minutes 30) beside the previous run's (12.5)
    assert _contents(tmp_path) == before
    assert not list(tmp_path.rglob(".demo.staging-*"))
