"""`accessibility run` end to end through papermill, and its answers to bad input."""

from __future__ import annotations

import json
import re

import geopandas as gpd
import nbformat
import pyogrio
import pytest

from accessibility import cli

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("project")
    code = cli.main(["--root", str(root), "-q", "run", "--region", "sample"])
    assert code == 0
    return root


def test_outputs_exist(run_root, capsys) -> None:
    assert (run_root / "maps" / "sample" / "facility_access.html").is_file()
    assert (run_root / "data" / "processed" / "sample" / "facility_access.gpkg").is_file()
    assert (run_root / "data" / "processed" / "sample" / "facility_access_summary.csv").is_file()
    executed = run_root / "runs" / "sample" / "facility_access.ipynb"
    nb = nbformat.read(executed, as_version=4)
    assert any(c.get("outputs") for c in nb.cells if c.cell_type == "code")


def test_one_row_per_village(run_root) -> None:
    meta = json.loads((run_root / "data" / "raw" / "sample" / "meta.json").read_text("utf-8"))
    gpkg = run_root / "data" / "processed" / "sample" / "facility_access.gpkg"
    assert {"villages", "facilities", "summary", "audit", "facility_counts"} <= set(
        pyogrio.list_layers(gpkg)[:, 0]
    )
    assert (gpkg.parent / "audit.csv").is_file()
    villages = gpd.read_file(gpkg, layer="villages")
    assert len(villages) == meta["counts"]["villages"]
    assert villages["id"].is_unique
    assert "school_primary_time_min" in villages.columns and "bus_n30" in villages.columns


def test_map_is_self_contained(run_root) -> None:
    html = (run_root / "maps" / "sample" / "facility_access.html").read_text("utf-8")
    scripts = re.findall(r"<script[^>]*\bsrc\s*=\s*['\"]([^'\"]+)", html, re.I)
    sheets = re.findall(r"<link[^>]*\bhref\s*=\s*['\"]([^'\"]+)", html, re.I)
    assert not [u for u in scripts + sheets if re.match(r"(https?:)?//", u)]
    assert "合成数据" in html  # synthetic data said in the title
    assert len(html.encode()) < 5_000_000


def test_english_labels_and_other_parameters(tmp_path) -> None:
    code = cli.main(
        [
            "--root",
            str(tmp_path),
            "-q",
            "run",
            "--region",
            "sample",
            "--mode",
            "ebike",
            "--thresholds",
            "10,20,40",
            "--kinds",
            "school:middle,health:county_hospital",
            "--lang",
            "en",
        ]
    )
    assert code == 0
    html = (tmp_path / "maps" / "sample" / "facility_access.html").read_text("utf-8")
    assert "Middle school" in html and "Synthetic data" in html
    villages = gpd.read_file(
        tmp_path / "data" / "processed" / "sample" / "facility_access.gpkg", layer="villages"
    )
    assert {"school_middle_n40", "health_county_hospital_time_min"} <= set(villages.columns)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--region", "atlantis"], "unknown region 'atlantis'"),
        (["run", "--region", "sample", "--mode", "rocket"], "unknown travel mode 'rocket'"),
        (
            ["run", "--region", "sample", "--thresholds", "15,0"],
            "thresholds must be one or more finite, positive",
        ),
        (
            ["run", "--region", "sample", "--thresholds", "-5"],
            "thresholds must be one or more finite, positive",
        ),
        (["run", "--region", "sample", "--kinds", "school:college"], "unknown tier 'college'"),
        (["run", "--region", "sample", "--osm-file", "/no/such/file.osm.pbf"], "does not exist"),
        (
            ["run", "--region", "sample", "-p", 'origin_levels=["castle"]'],
            "unknown origin levels ['castle']",
        ),
    ],
)
def test_bad_input_gives_one_clear_line(tmp_path, capsys, args, message) -> None:
    code = cli.main(["--root", str(tmp_path), "-q", *args])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_regions_listing(capsys) -> None:
    assert cli.main(["regions"]) == 0
    assert "sample" in capsys.readouterr().out


def test_failing_notebook_names_the_cell_and_the_executed_copy(tmp_path, capsys) -> None:
    (tmp_path / "regions").mkdir()
    (tmp_path / "regions" / "broken.yml").write_text(
        "label_zh: 损坏\nlabel_en: Broken\nsource: {kind: osm_file, path: broken.osm}\nboundary: {file: b.geojson}\n",
        encoding="utf-8",
    )
    raw = tmp_path / "data" / "raw" / "broken"
    raw.mkdir(parents=True)
    (raw / "broken.osm").write_text("<osm><node id='1' lat='x'", encoding="utf-8")
    (raw / "b.geojson").write_text(
        '{"type": "Polygon", "coordinates": [[[114, 34], [114.1, 34], [114.1, 34.1], [114, 34]]]}',
        encoding="utf-8",
    )
    code = cli.main(["--root", str(tmp_path), "-q", "run", "--region", "broken"])
    err = capsys.readouterr().err
    assert code == 1
    assert "facility_access failed for region broken" in err and "DataSourceError" in err
    assert str(tmp_path / "runs" / "broken" / "facility_access.ipynb") in err
