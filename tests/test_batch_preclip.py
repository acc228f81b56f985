"""A batch clips its units out of a local extract in one pass before the runs start.

The province is the street grid of ``tests/test_clip_many.py`` (near 114°E 34°N); the
region file gives four units as bounding boxes and a circle. A small notebook reads
each unit's OSM data as ``pipeline.prepare`` does (``clip_area`` then ``load_osm``),
records whether its kernel called ``extract.clip`` and writes what it read.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import nbformat
import pytest

import accessibility
from accessibility import batch, cli, pipeline, regions
from accessibility.settings import settings
from accessibility.sources import clip_many as cm
from accessibility.sources import extract

from .test_clip_many import _write_province

pytestmark = pytest.mark.slow

UNITS = ("410001", "410002", "410003", "410004")

REGION_YML = """\
label_zh: 测试省
label_en: Test Province
synthetic: true
source: {kind: osm_file, path: province.osm.pbf}
buffer_m: 150
units:
  - {code: "410001", name: 甲县, boundary: {bbox: [114.0, 34.0, 114.02, 34.02]}}
  - {code: "410002", name: 乙县, boundary: {bbox: [114.02, 34.0, 114.04, 34.02]}}
  - {code: "410003", name: 丙县, boundary: {bbox: [114.0, 34.02, 114.02, 34.04]}}
  - {code: "410004", name: 丁县, boundary: {circle: {lon: 114.03, lat: 34.03, radius_m: 800}}}
"""

CELL = """\
import hashlib, json, pathlib
import accessibility as acc
from accessibility import pipeline, regions
from accessibility.sources import extract
acc.configure(root=root)
clipped = []
real_clip = extract.clip
extract.clip = lambda *args, **kwargs: clipped.append(str(args[2])) or real_clip(*args, **kwargs)
reg = regions.load(region)
the_unit = reg.unit(unit)
src = pipeline.local_extract(reg, the_unit, osm_file=osm_file)
_, clip, _ = pipeline.clip_area(reg, the_unit, osm_file=src, offline=offline)
data = pipeline.load_osm(reg, clip, unit=the_unit, osm_file=osm_file, offline=offline)
ids = ",".join(str(i) for i in sorted(data.roads.nodes.index))
digest = hashlib.sha256(ids.encode()).hexdigest()
tables = pathlib.Path(root) / "data" / "processed" / region / unit
tables.mkdir(parents=True, exist_ok=True)
row = f"{unit},{len(data.roads.nodes)},{len(data.roads.segments)},{len(data.pois)},{digest}"
(tables / "probe.csv").write_text("unit,nodes,segments,pois,node_ids\\n" + row + "\\n")
(tables / "probe_clip.json").write_text(json.dumps({"clipped": clipped, "package": acc.__file__}))
"""


def _notebook(path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(
        'region = "prov"\nunit = None\nroot = "."\nosm_file = None\noffline = False'
    )
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(CELL)]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)


def _make_project(root: Path, region_yml: str = REGION_YML) -> Path:
    (root / "regions").mkdir(parents=True)
    (root / "regions" / "prov.yml").write_text(region_yml, encoding="utf-8")
    (root / "notebooks").mkdir()
    _notebook(root / "notebooks" / "probe.ipynb")
    raw = root / "data" / "raw" / "prov"
    raw.mkdir(parents=True)
    _write_province(raw / "province.osm.pbf")
    return root


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = _make_project(tmp_path / "preclip")
    old = settings.root, settings.progress
    settings.root, settings.progress = root, False
    yield root
    settings.root, settings.progress = old


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The units of every ``clip_many`` call (the real one runs)."""
    seen: list[list[str]] = []
    real = cm.clip_many

    def recording(src, polygons, out_dir):  # type: ignore[no-untyped-def]
        seen.append(list(polygons))
        return real(src, polygons, out_dir)

    monkeypatch.setattr(cm, "clip_many", recording)
    return seen


def _clips(root: Path) -> list[Path]:
    return sorted((root / "data" / "processed" / "prov" / "extracts").glob("clip_*.osm.pbf"))


def _probe(root: Path, unit: str) -> tuple[str, dict[str, object]]:
    folder = root / "data" / "processed" / "prov" / unit
    table = (folder / "probe.csv").read_text(encoding="utf-8")
    return table, json.loads((folder / "probe_clip.json").read_text(encoding="utf-8"))


def _expected_clip(root: Path, code: str) -> Path:
    reg = regions.load("prov")
    src = pipeline.local_extract(reg, reg.unit(code))
    _, clip, _ = pipeline.clip_area(reg, reg.unit(code), osm_file=src)
    return pipeline.clips_dir(reg) / f"clip_{extract.cache_key(src, clip)}.osm.pbf"


def test_a_batch_clips_every_unit_in_one_pass_and_the_runs_read_it(
    project: Path,
    calls: list[list[str]],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="accessibility.batch"):
        report = batch.run("prov", jobs=2)
    assert report.exit_code == 0, report.failed
    assert calls == [list(UNITS)]  # one pass, every unit, before the runs
    assert "4 units of prov clipped out of province.osm.pbf in one pass in" in caplog.text
    assert len(_clips(project)) == 4
    for code in UNITS:
        assert _expected_clip(project, code).is_file()  # the key each run looks up
        _, clip_log = _probe(project, code)
        assert clip_log["clipped"] == []  # the kernel found its clip and clipped nothing
        # the kernel imported this checkout's code
        assert Path(str(clip_log["package"])).resolve() == Path(accessibility.__file__).resolve()

    # the same batch where each run clips its own unit reads the same data
    other = _make_project(tmp_path / "own")
    settings.root = other
    code = cli.main(["--root", str(other), "-q", "batch", "prov", "--jobs", "2", "--no-preclip"])
    assert code == 0
    assert len(calls) == 1  # not called
    for unit in UNITS:
        mine, _ = _probe(project, unit)
        theirs, clip_log = _probe(other, unit)
        assert len(clip_log["clipped"]) == 1  # this kernel clipped its unit itself
        assert mine == theirs
        assert int(mine.splitlines()[1].split(",")[1]) > 100  # nodes: a real clip, not empty

    # a second batch (every run again) clips nothing
    settings.root = project
    again = batch.run("prov", jobs=2, force=True)
    assert again.exit_code == 0 and len(again.ran) == 4
    assert len(calls) == 1 and len(_clips(project)) == 4


def test_only_units_without_a_clip_are_clipped(project: Path, calls: list[list[str]]) -> None:
    reg = regions.load("prov")
    src = pipeline.local_extract(reg)
    _, clip, _ = pipeline.clip_area(reg, reg.unit(UNITS[0]), osm_file=src)
    extract.clip_cached(src, clip, pipeline.clips_dir(reg))
    before = _expected_clip(project, UNITS[0]).stat().st_mtime_ns

    assert batch.clip_ahead(reg, batch.plan(reg)) == list(UNITS[1:])
    assert calls == [list(UNITS[1:])]
    assert _expected_clip(project, UNITS[0]).stat().st_mtime_ns == before
    assert batch.clip_ahead(reg, batch.plan(reg)) == []  # all cached: no pass at all
    assert len(calls) == 1

    # one unit missing: its run clips it, no pass is made for it
    _expected_clip(project, UNITS[3]).unlink()
    assert batch.clip_ahead(reg, batch.plan(reg)) == []
    assert len(calls) == 1


def test_a_unit_whose_area_is_unknown_is_left_to_its_run(
    tmp_path: Path, calls: list[list[str]], caplog: pytest.LogCaptureFixture
) -> None:
    unknown = '  - {code: "410005", name: 无名县, boundary: {osm: {name: 无名县}}}\n'
    root = _make_project(tmp_path / "p", REGION_YML + unknown)
    old = settings.root, settings.progress
    settings.root, settings.progress = root, False
    try:
        reg = regions.load("prov")
        with caplog.at_level(logging.WARNING, logger="accessibility.batch"):
            assert batch.clip_ahead(reg, batch.plan(reg)) == list(UNITS)
        assert calls == [list(UNITS)]
        assert "prov/410005: its clip area was not found before the runs" in caplog.text
        assert "no administrative boundary named ['无名县']" in caplog.text
    finally:
        settings.root, settings.progress = old


def test_an_error_in_the_pass_leaves_each_run_to_clip_its_own(
    project: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(src, polygons, out_dir):  # type: ignore[no-untyped-def]
        msg = "disk full"
        raise OSError(msg)

    monkeypatch.setattr(cm, "clip_many", broken)
    with caplog.at_level(logging.WARNING, logger="accessibility.batch"):
        report = batch.run("prov", jobs=2)
    assert "clipping 4 units of prov out of province.osm.pbf in one pass failed" in caplog.text
    assert "OSError: disk full" in caplog.text
    assert report.exit_code == 0, report.failed
    for code in UNITS:
        _, clip_log = _probe(project, code)
        assert len(clip_log["clipped"]) == 1
    assert len(_clips(project)) == 4
