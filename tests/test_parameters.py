"""Every value checked before a kernel starts: notebook parameters and region-file options.

A bad value stops ``accessibility run`` and ``accessibility batch`` with exit status 2, in
one line that names the parameter or file, the value and what is allowed, before any
kernel or worker starts (no run manifest: a batch's 2 is then not "two runs failed").
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from accessibility import cli, parameters, runner
from accessibility._errors import DataSourceError, ValidationError

NOTEBOOKS = runner.notebooks()


def test_every_declared_parameter_has_a_check_and_its_default_passes() -> None:
    import papermill as pm

    used: set[str] = set()
    for nb in NOTEBOOKS:
        declared = pm.inspect_notebook(str(runner.notebooks_dir() / f"{nb}.ipynb"))
        for name, info in declared.items():
            assert name in parameters.PARAMETERS, f"{nb} declares {name}, which has no check"
            used.add(name)
            spec = parameters.PARAMETERS[name]
            if not spec.by_command:  # the notebook's own default is a good value
                default = ast.literal_eval(info["default"])
                parameters.check_value(name, default, notebook=nb)
    assert used == set(parameters.PARAMETERS), "checks for parameters no notebook declares"


@pytest.mark.parametrize(
    ("notebook", "values", "message"),
    [
        (
            "reading_circle",
            {"minutes": "abc"},
            r'minutes of reading_circle: "abc" is not allowed; it takes a number of minutes > 0',
        ),
        ("reading_circle", {"minutes": -5}, r"minutes of reading_circle: -5 is not allowed"),
        ("reading_circle", {"minutes": True}, r"minutes of reading_circle: true is not allowed"),
        (
            "reading_circle",
            {"walk_speed_kmh": 40},
            r"walk_speed_kmh .*= 40: .*walking speed in km/h",
        ),
        (
            "reading_circle",
            {"targets": [0, 1]},
            r"targets .*: \[0, 1\] is not allowed; it takes .* each > 0 and ≤ 1",
        ),
        ("reading_circle", {"targets": 0.9}, r"targets .*: 0.9 is not allowed"),
        (
            "reading_circle",
            {"population_source": "magic"},
            r'"magic" is not allowed; it takes one of auto, raster',
        ),
        (
            "reading_circle",
            {"kinds": []},
            r"kinds .*: \[\] is not allowed; it takes a non-empty list",
        ),
        (
            "facility_access",
            {"thresholds_min": "15,30"},
            r'thresholds_min .*: "15,30" is not allowed',
        ),
        (
            "facility_access",
            {"thresholds_min": [15, 0]},
            r"thresholds must be one or more finite, positive",
        ),
        (
            "facility_access",
            {"kinds": "bus"},
            r'kinds .*: "bus" is not allowed; it takes a non-empty list of facility groups',
        ),
        ("facility_access", {"kinds": ["school:college"]}, r"unknown tier 'college'"),
        (
            "facility_access",
            {"offline": "yes"},
            r'offline .*: "yes" is not allowed; it takes true or false',
        ),
        (
            "facility_access",
            {"lang": "fr"},
            r'lang .*: "fr" is not allowed; it takes one of zh, en',
        ),
        (
            "facility_access",
            {"mode": "rocket"},
            r'mode of facility_access = "rocket": unknown travel mode',
        ),
        (
            "facility_access",
            {"origin_levels": "admin_village"},
            r"origin_levels .* is not allowed; it takes a non-empty list",
        ),
        ("facility_access", {"grid_m": float("inf")}, r"grid_m .*: Infinity is not allowed"),
        ("school_tiers", {"tiers": ["primary", "primary"]}, r"tiers lists a tier twice"),
        ("school_tiers", {"modes": {"middle": "plane"}}, r"modes .*unknown travel mode 'plane'"),
        ("school_tiers", {"modes": ["bicycle"]}, r'modes .*: \["bicycle"\] is not allowed'),
        (
            "school_tiers",
            {"limits_min": {"primary": -1}},
            r'limits_min .*: \{"primary": -1\} is not allowed',
        ),
        ("school_tiers", {"limits_min": {"college": 20}}, r"unknown school tier 'college'"),
        ("school_tiers", {"scenario_tier": "nursery"}, r"unknown school tier 'nursery'"),
        (
            "school_tiers",
            {"close": "n1"},
            r'close .*: "n1" is not allowed; it takes a list of school ids',
        ),
        (
            "school_tiers",
            {"tiers": ["primary"], "scenario_tier": "middle"},
            r"scenario_tier .*travel mode \(ebike\) is none of the chosen tiers' \(primary\)",
        ),
        ("services", {"min_road_class": "autobahn"}, r"unknown road class 'autobahn'"),
        ("services", {"bus_limit_min": 0}, r"bus_limit_min of services: 0 is not allowed"),
        ("services", {"clinic_limits_min": [15, True]}, r"clinic_limits_min .* is not allowed"),
        ("services", {"clinic_mode": "jet"}, r"unknown travel mode 'jet'"),
        (
            "services",
            {"supply_decay": "cosine"},
            r'supply_decay of services: "cosine" is not allowed; it takes one of step',
        ),
        ("school_tiers", {"supply_decay": 1}, r"supply_decay of school_tiers: 1 is not allowed"),
    ],
)
def test_bad_values_are_named_with_what_is_allowed(
    notebook: str, values: dict, message: str
) -> None:
    with pytest.raises(ValidationError, match=message) as info:
        runner.validate(notebook, {"region": "sample", **values})
    assert "\n" not in str(info.value)


def test_good_values_come_back_as_the_notebook_gets_them() -> None:
    out = runner.validate(
        "facility_access", {"region": "sample", "thresholds_min": [30, 1e9, 15, 30]}
    )
    assert out["thresholds_min"] == [15.0, 30.0, 1e9]
    out = runner.validate(
        "school_tiers",
        {"region": "sample", "tiers": ["primary", "middle"], "scenario_tier": "middle"},
    )
    assert out["scenario_tier"] == "middle"
    out = runner.validate("reading_circle", {"region": "sample", "population_source": "raster"})
    assert out["population_source"] == "raster"  # the sample's region file names a raster


def test_a_raster_the_region_does_not_name_is_refused(tmp_path: Path) -> None:
    _region(tmp_path, "plain", "")
    with pytest.raises(ValidationError, match=r"names no population raster; add population:"):
        with _root(tmp_path):
            runner.validate("reading_circle", {"region": "plain", "population_source": "raster"})


def test_a_missing_extract_is_named() -> None:
    with pytest.raises(DataSourceError, match=r"/no/such\.osm\.pbf does not exist"):
        runner.validate("services", {"region": "sample", "osm_file": "/no/such.osm.pbf"})


# --------------------------------------------------------------------------- the commands


def _region(root: Path, name: str, extra: str) -> Path:
    (root / "regions").mkdir(exist_ok=True)
    path = root / "regions" / f"{name}.yml"
    path.write_text(
        "label_zh: 测试\nlabel_en: Test\nsource: {kind: osm_file, path: x.osm}\n"
        "boundary: {bbox: [113.8, 34.0, 113.9, 34.1]}\n" + extra,
        encoding="utf-8",
    )
    return path


class _root:
    """``settings.root`` set for a block (the commands set it themselves)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __enter__(self) -> None:
        from accessibility.settings import settings

        self.saved = settings.root
        settings.root = self.root

    def __exit__(self, *exc: object) -> None:
        from accessibility.settings import settings

        settings.root = self.saved


def _command(capsys: pytest.CaptureFixture[str], root: Path, *args: str) -> tuple[int, str]:
    code = cli.main(["--root", str(root), "-q", *args])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    assert not (root / "runs").exists()  # nothing ran: no kernel, no worker
    return code, lines[0]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "minutes=abc",
            'parameter minutes of reading_circle: "abc" is not allowed; it takes a number of minutes > 0, e.g. 15',
        ),
        (
            "minutes=-5",
            "parameter minutes of reading_circle: -5 is not allowed; it takes a number of minutes > 0",
        ),
        ("targets=[1.5]", "parameter targets of reading_circle: [1.5] is not allowed"),
    ],
)
def test_run_and_batch_refuse_a_bad_value_before_any_kernel(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str, message: str
) -> None:
    code, line = _command(
        capsys, tmp_path, "run", "--region", "sample", "--notebook", "reading_circle", "-p", value
    )
    assert code == 2 and message in line
    code, line = _command(
        capsys, tmp_path, "batch", "sample", "--notebooks", "reading_circle", "-p", value
    )
    assert code == 2 and message in line


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            "{file: schools.csv, kind: school, datum: GCJ02x}",
            r"registries.facilities entry schools.csv: unknown coordinate datum 'GCJ02x'; use one of wgs84, gcj02, bd09",
        ),
        (
            "{file: schools.csv, kind: school, encoding: utf-9}",
            r"registries.facilities entry schools.csv: unknown encoding 'utf-9'; use e.g. utf-8, gbk or gb18030",
        ),
        (
            "{file: schools.csv, kind: schools}",
            r"registries.facilities entry schools.csv: unknown kind 'schools'; use one of school, health, reading, bus",
        ),
        (
            "{file: schools.csv, kind: school, datun: gcj02}",
            r"registries.facilities entry schools.csv: unknown option\(s\) 'datun'; the options are datum, kind",
        ),
        (
            "{file: schools.csv, kind: school, sheet: 1}",
            r"sheet applies to Excel files \(.xlsx\) only; remove it for schools.csv",
        ),
        (
            "{file: schools.csv, kind: school, max_distance_m: -3}",
            r"max_distance_m must be metres > 0, e.g. 300; got -3",
        ),
        (
            "{file: schools.csv, kind: school, min_similarity: 2}",
            r"min_similarity must be a number from 0 to 1, e.g. 0.5; got 2",
        ),
        (
            "{file: schools.csv, kind: school, columns: {学校名称: title}}",
            r"columns must map the file's headers to fields \(id, name, kind",
        ),
    ],
)
def test_registry_options_of_a_region_file_are_checked_before_any_kernel(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], entry: str, message: str
) -> None:
    path = _region(tmp_path, "county", f"registries:\n  facilities:\n    - {entry}\n")
    code, line = _command(capsys, tmp_path, "run", "--region", "county")
    assert code == 2
    assert str(path) in line
    assert re.search(message, line), line
    code, line = _command(capsys, tmp_path, "batch", "county")
    assert code == 2 and re.search(message, line), line


def test_a_registry_file_that_does_not_decode_is_named_before_any_kernel(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _region(
        tmp_path,
        "county",
        "registries:\n  facilities:\n    - {file: schools.csv, kind: school, encoding: utf-8}\n",
    )
    raw = tmp_path / "data" / "raw" / "county"
    raw.mkdir(parents=True)
    (raw / "schools.csv").write_bytes("名称,经度,纬度\n第一小学,113.85,34.05\n".encode("gbk"))
    code, line = _command(capsys, tmp_path, "run", "--region", "county")
    assert code == 2
    assert str(path) in line and str(raw / "schools.csv") in line
    assert "is not valid utf-8" in line and "leave encoding=None" in line


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("buffer_m: abc\n", "buffer_m must be a number of metres, e.g. 2000; got 'abc'"),
        ("synthetic: maybe\n", "synthetic must be true or false, got 'maybe'"),
        (
            "speed_overrides: {ebike: {primary: fast}}\n",
            "speed_overrides.ebike.primary must be km/h ≥ 0",
        ),
        (
            "speed_overrides: {rocket: {primary: 25}}\n",
            "speed_overrides: unknown travel mode 'rocket'",
        ),
    ],
)
def test_other_region_options_are_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: str, message: str
) -> None:
    path = _region(tmp_path, "county", extra)
    code, line = _command(capsys, tmp_path, "run", "--region", "county")
    assert code == 2 and message in line and str(path) in line
