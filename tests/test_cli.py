"""`accessibility run` end to end through papermill, and its answers to bad input."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import geopandas as gpd
import nbformat
import pyogrio
import pytest

from accessibility import cli
from accessibility.settings import settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("project")
    old = settings.root, settings.progress
    code = cli.main(["--root", str(root), "-q", "run", "--region", "sample"])
    settings.root, settings.progress = old  # the command sets them for the process
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
    assert (gpkg.parent / "facility_access_audit.csv").is_file()
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
    assert "数据来源: 程序生成的合成数据" in html and "OpenStreetMap 贡献者" not in html
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
        (["run", "--region", "sample", "--notebook", "nope"], "unknown notebook 'nope'"),
        (
            ["run", "--region", "sample", "--notebook", "all", "--kinds", "bus"],
            "only the common options apply",
        ),
        (
            ["run", "--region", "sample", "--notebook", "services", "--mode", "car"],
            "has no parameter 'mode'",
        ),
        (["run", "--region", "sample", "--unit", "999"], "has no unit '999'"),
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


def test_per_unit_runs_from_a_local_extract(tmp_path, capsys) -> None:
    """A region of two units cut from one extract: one run per unit, outputs per unit."""
    from accessibility.sources import sample

    files = sample.generate(tmp_path / "extract", seed=11)
    w, s, e, n = json.loads(files.meta.read_text("utf-8"))["bbox"]
    mid = (w + e) / 2
    (tmp_path / "regions").mkdir()
    (tmp_path / "regions" / "twin.yml").write_text(
        "label_zh: 双县\nlabel_en: Twin\nsource: {kind: osm_file, path: none.osm}\n"
        f"boundary: {{bbox: [{w}, {s}, {e}, {n}]}}\nbuffer_m: 1000\nunits:\n"
        f'  - {{code: "1", name: 西县, boundary: {{bbox: [{w}, {s}, {mid}, {n}]}}}}\n'
        f'  - {{code: "2", name: 东县, boundary: {{bbox: [{mid}, {s}, {e}, {n}]}}}}\n',
        encoding="utf-8",
    )
    code = cli.main(
        [
            "--root",
            str(tmp_path),
            "-q",
            "run",
            "--region",
            "twin",
            "--osm-file",
            str(files.osm),
            "--kinds",
            "bus",
        ]
    )
    assert code == 0, capsys.readouterr().err
    rows = {}
    for unit in ("1", "2"):
        assert (tmp_path / "maps" / "twin" / unit / "facility_access.html").is_file()
        assert (tmp_path / "runs" / "twin" / unit / "facility_access.ipynb").is_file()
        gpkg = tmp_path / "data" / "processed" / "twin" / unit / "facility_access.gpkg"
        rows[unit] = gpd.read_file(gpkg, layer="villages")
    # every village of the extract falls in exactly one unit
    meta = json.loads(files.meta.read_text("utf-8"))
    assert len(rows["1"]) + len(rows["2"]) == meta["counts"]["villages"]
    assert not set(rows["1"]["id"]) & set(rows["2"]["id"])
    # one unit alone
    code = cli.main(
        [
            "--root",
            str(tmp_path),
            "-q",
            "run",
            "--region",
            "twin",
            "--unit",
            "东县",
            "--osm-file",
            str(files.osm),
            "--kinds",
            "bus",
        ]
    )
    assert code == 0
    assert "twin/2/facility_access.html" in capsys.readouterr().out


def test_xuchang_region_file_runs_a_unit_from_an_extract(tmp_path, capsys) -> None:
    """The real Xuchang region file, offline, on a stand-in extract.

    The stand-in is the synthetic county with its boundary relation renamed 长葛市
    (admin_level 6): the boundary is found by name in the extract and the unit is cut
    out of it, as with a provincial extract. The numbers are synthetic.
    """
    import shutil

    from accessibility.sources import sample

    files = sample.generate(tmp_path / "gen", seed=2023)
    text = files.osm.read_text("utf-8")
    assert text.count('<tag k="name" v="示例县"/>') == 1
    extract = tmp_path / "standin.osm"
    extract.write_text(
        text.replace('<tag k="name" v="示例县"/>', '<tag k="name" v="长葛市"/>'), "utf-8"
    )
    (tmp_path / "regions").mkdir()
    shutil.copy(
        Path(__file__).resolve().parents[1] / "regions" / "xuchang.yml", tmp_path / "regions"
    )
    args = ["--root", str(tmp_path), "-q", "run", "--region", "xuchang", "--unit", "411082"]
    assert (
        cli.main([*args, "--osm-file", str(extract), "--kinds", "health,bus", "--offline"]) == 0
    ), capsys.readouterr().err
    villages = gpd.read_file(
        tmp_path / "data" / "processed" / "xuchang" / "411082" / "facility_access.gpkg",
        layer="villages",
    )
    meta = json.loads(files.meta.read_text("utf-8"))
    assert len(villages) == meta["counts"]["villages"]
    assert list(
        (tmp_path / "data" / "processed" / "xuchang" / "boundaries").glob("boundary_*.geojson")
    )
    # real (non-synthetic) data: the map credits OpenStreetMap and names the extract and its date
    page = (tmp_path / "maps" / "xuchang" / "411082" / "facility_access.html").read_text("utf-8")
    # the stand-in has no timestamps: its date is unknown, never the file's copy time
    assert "OpenStreetMap 贡献者 (standin.osm, 数据日期不明（文件中无时间信息）)" in page
    assert "制图日期" in page
    assert "合成数据" not in page
    # a unit whose boundary is not in the extract fails alone, with a message that says what to do
    code = cli.main(
        [*args[:-1], "411024", "--osm-file", str(extract), "--kinds", "bus", "--offline"]
    )
    err = capsys.readouterr().err
    assert (
        code == 1
        and "no administrative boundary named ['鄢陵县']" in err
        and "boundary: {file:" in err
    )


def test_sample_command_generates_every_generated_unit(tmp_path, capsys) -> None:
    assert cli.main(["--root", str(tmp_path), "sample", "--region", "samples"]) == 0
    out = capsys.readouterr().out
    for code in ("999001", "999002"):
        assert (tmp_path / "data" / "raw" / "samples" / code / "sample.osm").is_file()
        assert str(tmp_path / "data" / "raw" / "samples" / code) in out
    (tmp_path / "regions").mkdir()
    (tmp_path / "regions" / "real.yml").write_text(
        "label_zh: 实\nlabel_en: Real\nsource: {kind: overpass}\nboundary: {bbox: [113, 34, 114, 35]}\n",
        encoding="utf-8",
    )
    assert cli.main(["--root", str(tmp_path), "sample", "--region", "real"]) == 2
    assert "no generated data" in capsys.readouterr().err


def test_origins_parameters_are_checked_before_a_kernel_starts() -> None:
    from accessibility import runner
    from accessibility._errors import ValidationError

    for nb in ("facility_access", "reading_circle", "school_tiers", "services"):
        params = runner.validate(nb, {"region": "sample", "origins": "grid", "grid_m": 250})
        assert params["origins"] == "grid"
        with pytest.raises(ValidationError, match="origins must be one of"):
            runner.validate(nb, {"region": "sample", "origins": "villagez"})
        with pytest.raises(
            ValidationError,
            match=r"grid_m of .*: -1 is not allowed; it takes a number of metres > 0",
        ):
            runner.validate(nb, {"region": "sample", "grid_m": -1})


def test_skipped_sections_are_printed_one_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    cli._print_warnings("x/services", [])
    assert capsys.readouterr().out == ""
    cli._print_warnings(
        "x/services",
        [
            {
                "section": "road_links",
                "zh": "乡镇驻地道路连通：未分析",
                "en": "Township road links: skipped",
            }
        ],
    )
    assert (
        capsys.readouterr().out
        == "  skipped in x/services (1):\n    - Township road links: skipped\n"
    )


def test_a_silent_overpass_server_fails_one_unit_at_the_deadline_and_no_other_waits(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two units downloading from an Overpass server that accepts and never answers."""
    import logging

    from .silent_server import Silent

    silent = Silent()
    url = silent.url
    monkeypatch.setenv("ACCESSIBILITY_OVERPASS_URL", url)  # inherited by the kernel
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")
    (tmp_path / "regions").mkdir()
    (tmp_path / "regions" / "online.yml").write_text(
        "label_zh: 在线\nlabel_en: Online\nsource: {kind: overpass}\nbuffer_m: 500\nunits:\n"
        '  - {code: "1", name: 西县, boundary: {bbox: [113.80, 34.00, 113.82, 34.02]}}\n'
        '  - {code: "2", name: 东县, boundary: {bbox: [113.82, 34.00, 113.84, 34.02]}}\n',
        encoding="utf-8",
    )
    args = ["--root", str(tmp_path), "run", "--region", "online", "--kinds", "bus"]
    try:
        with caplog.at_level(logging.INFO, logger="accessibility.sources.overpass"):
            code = cli.main([*args, "--overpass-deadline", "3"])
    finally:
        silent.stop()
    err = capsys.readouterr().err
    assert code == 1
    assert "ServerUnreachableError" in err and f"no answer from {url}/interpreter" in err
    assert "(deadline 3 s)" in err and "--osm-file henan-latest.osm.pbf" in err
    # the second unit did not start a kernel, so it did not wait
    assert "facility_access not run for region online unit 2" in err
    assert not (tmp_path / "runs" / "online" / "2" / "facility_access.ipynb").exists()
    assert len(silent.connections) <= 2  # the first unit's status page and query only
    # the kernel's download lines were shown by the command as they came
    said = [r.getMessage() for r in caplog.records if r.name == "accessibility.sources.overpass"]
    assert any("gives up after 3 s" in line for line in said)
    assert "ACCESSIBILITY_OVERPASS_DEADLINE_S" not in os.environ  # set for the command only


def test_units_that_need_a_silent_overpass_server_are_not_started(tmp_path: Path) -> None:
    """After an earlier notebook got no answer, the units downloading from Overpass wait for nothing."""
    from accessibility import runner

    settings.root = tmp_path
    (tmp_path / "regions").mkdir()
    (tmp_path / "regions" / "mixed.yml").write_text(
        "label_zh: 混合\nlabel_en: Mixed\nsource: {kind: overpass}\nunits:\n"
        '  - {code: "1", name: 在线县, boundary: {bbox: [113.80, 34.00, 113.82, 34.02]}}\n'
        '  - {code: "2", name: 本地县, boundary: {bbox: [113.82, 34.00, 113.84, 34.02]},'
        " source: {kind: osm_file, path: none.osm}}\n",
        encoding="utf-8",
    )
    region = runner.regions.load("mixed")
    assert runner.uses_overpass(region, "1", {}) and not runner.uses_overpass(region, "2", {})
    assert not runner.uses_overpass(region, "1", {"osm_file": "/data/henan.osm.pbf"})
    with pytest.raises(runner.NotebookFailed) as info:
        runner.run("facility_access", region="mixed", unit="1", skip_overpass=True)
    assert info.value.unreachable
    assert "facility_access not run for region mixed unit 1" in str(info.value)
    assert f"source: {{kind: osm_file, path: henan-latest.osm.pbf}} in {region.config_path}" in str(
        info.value
    )
    assert not (tmp_path / "runs").exists()


def test_thresholds_of_any_size_reach_every_output(tmp_path: Path) -> None:
    """Limits that ``:g`` writes with an exponent (1e9) or many decimals round-trip."""
    args = ["--root", str(tmp_path), "-q", "run", "--region", "sample", "--kinds", "bus"]
    assert cli.main([*args, "--thresholds", "0.001,2.5,1e9"]) == 0
    tables = tmp_path / "data" / "processed" / "sample"
    villages = gpd.read_file(tables / "facility_access.gpkg", layer="villages")
    assert {"bus_n0.001", "bus_n2.5", "bus_n1000000000"} <= set(villages.columns)
    header = (tables / "facility_access_summary.csv").read_text("utf-8-sig").splitlines()[0]
    assert "1000000000分钟内人口占比" in header and "0.001分钟内村庄占比" in header
    figures = json.loads((tables / "facility_access_figures.json").read_text("utf-8"))["figures"]
    coverage = next(f for f in figures if f["key"] == "bus_coverage")
    assert coverage["value"] == 1.0  # every village reaches a stop within 1e9 minutes
    assert "1000000000" in coverage["label_en"]


@pytest.mark.parametrize("where", ["option", "environment"])
def test_the_region_total_reaches_the_kernel_and_stops_the_unit(
    where: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """--overpass-region-deadline (or its environment variable) cuts a unit's queries
    short of the per-query deadline (180 s), in the kernel that runs the unit."""
    import logging

    from accessibility.settings import OVERPASS_REGION_DEADLINE_ENV

    from .silent_server import Silent

    silent = Silent()
    monkeypatch.setenv("ACCESSIBILITY_OVERPASS_URL", silent.url)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")
    (tmp_path / "regions").mkdir()
    (tmp_path / "regions" / "online.yml").write_text(
        "label_zh: 在线\nlabel_en: Online\nsource: {kind: overpass}\nbuffer_m: 500\nunits:\n"
        '  - {code: "1", name: 西县, boundary: {bbox: [113.80, 34.00, 113.82, 34.02]}}\n',
        encoding="utf-8",
    )
    args = ["--root", str(tmp_path), "run", "--region", "online", "--kinds", "bus"]
    if where == "option":
        args += ["--overpass-region-deadline", "2"]
    else:
        monkeypatch.setenv(OVERPASS_REGION_DEADLINE_ENV, "2")
    try:
        with caplog.at_level(logging.INFO, logger="accessibility.sources.overpass"):
            code = cli.main(args)
    finally:
        silent.stop()
    err = capsys.readouterr().err
    assert code == 1
    assert "ServerUnreachableError" in err
    assert (
        "Overpass download stopped: the queries for region online unit 1 (西县) used up their "
        "total of 2 s: " in err
    )
    assert "--overpass-region-deadline SECONDS" in err and "--osm-file henan-latest.osm.pbf" in err
    said = [r.getMessage() for r in caplog.records if r.name == "accessibility.sources.overpass"]
    assert any(
        "gives up after 2 s; 2 s left of the 2 s total for region online unit 1" in line
        for line in said
    )
    if where == "option":  # set for the command only
        assert OVERPASS_REGION_DEADLINE_ENV not in os.environ


@pytest.mark.parametrize("command", ["run", "batch"])
@pytest.mark.parametrize("value", ["0", "-5", "soon"])
def test_a_bad_region_total_on_the_command_line_is_one_line_and_status_2(
    command: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["run", "--region", "sample"] if command == "run" else ["batch", "sample"]
    with pytest.raises(SystemExit) as info:
        cli.main([*args, f"--overpass-region-deadline={value}"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    (line,) = [line for line in err.splitlines() if "error" in line]
    assert line == (
        f"accessibility {command}: error: argument --overpass-region-deadline: "
        f"--overpass-region-deadline must be a number of seconds > 0, e.g. 180; got '{value}'"
    )
    assert err.endswith(line + "\n")


def test_papermill_is_loaded_without_the_iri_grammar() -> None:
    """The runner's papermill import skips jsonschema's IRI-syntax grammar (0.9 s a run)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from accessibility import runner\n"
        "pm = runner._papermill()\n"
        "assert hasattr(pm, 'execute_notebook')\n"
        "assert 'rfc3987_syntax' not in sys.modules, 'grammar loaded'\n"
        "import rfc3987_syntax  # still importable afterwards\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
