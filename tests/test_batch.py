"""The batch runner: every notebook × every unit, isolated failures, resume, index page.

Most tests use two tiny notebooks in a temporary project root (a kernel starts in about
a second, so the batch logic is tested on many runs quickly); they read a control file
``data/raw/<region>/control.json`` that makes a unit fail, crash its kernel or sleep.
``test_batch_of_sample_counties`` runs the real notebooks on synthetic counties.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from accessibility import batch, cli
from accessibility.settings import settings

pytestmark = pytest.mark.slow

UNITS = ("100001", "100002", "100003", "100004")

REGION_YML = """\
label_zh: 测试市
label_en: Test City
synthetic: true
source: {kind: overpass}
buffer_m: 0
units:
""" + "".join(
    f'  - {{code: "{code}", name: 测试{i}县, name_en: Test County {i}, '
    f"boundary: {{bbox: [{110 + i}, 30, {110.5 + i}, 30.5]}}}}\n"
    for i, code in enumerate(UNITS)
)

CELL = """\
import json, os, pathlib, time
base = pathlib.Path(root)
control_file = base / "data" / "raw" / region / "control.json"
control = json.loads(control_file.read_text(encoding="utf-8")) if control_file.exists() else {}
time.sleep(control.get("sleep", {}).get(unit, 0))
print("overpass deadlines:", *(os.environ.get(f"ACCESSIBILITY_OVERPASS_{name}_S") for name in ("DEADLINE", "REGION_DEADLINE")))
if unit in control.get("corrupt", []):
    raise ValueError(f"corrupt input for unit {unit}: control.json marks it")
if unit in control.get("crash", []):
    os.kill(os.getpid(), 9)
if unit in control.get("unreachable", []):
    from accessibility._errors import ServerUnreachableError
    raise ServerUnreachableError(f"Overpass download failed: no answer for unit {unit}")
maps = base / "maps" / region / unit
maps.mkdir(parents=True, exist_ok=True)
(maps / "NAME.html").write_text(f"<p>{unit} {lang}</p>", encoding="utf-8")
tables = base / "data" / "processed" / region / unit
tables.mkdir(parents=True, exist_ok=True)
share = int(unit[-1]) / 10
figures = [{"key": "cover", "label_zh": "覆盖率", "label_en": "coverage", "value": share, "format": "percent"}]
(tables / "NAME_figures.json").write_text(json.dumps({"figures": figures}), encoding="utf-8")
(tables / "NAME.csv").write_text(f"unit,share\\n{unit},{share}\\n", encoding="utf-8")
"""


def _notebook(path: Path, name: str) -> None:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(
        'region = "test"\nunit = None\nroot = "."\nosm_file = None\noffline = False\nlang = "zh"'
    )
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(CELL.replace("NAME", name))]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project root with region ``test`` (four units) and notebooks ``alpha`` and ``beta``."""
    (tmp_path / "regions").mkdir()
    (tmp_path / "regions" / "test.yml").write_text(REGION_YML, encoding="utf-8")
    (tmp_path / "notebooks").mkdir()
    for name in ("alpha", "beta"):
        _notebook(tmp_path / "notebooks" / f"{name}.ipynb", name)
    (tmp_path / "data" / "raw" / "test").mkdir(parents=True)
    old = settings.root, settings.progress
    settings.root, settings.progress = tmp_path, False
    yield tmp_path
    settings.root, settings.progress = old


def _control(root: Path, **values: object) -> None:
    path = root / "data" / "raw" / "test" / "control.json"
    path.write_text(json.dumps(values), encoding="utf-8")


def _status(report: batch.BatchReport) -> dict[str, str]:
    return {f"{m['unit']}/{m['notebook']}": m["status"] for m in report.manifests}


def test_plan_validates_before_any_kernel_starts(project: Path) -> None:
    tasks = batch.plan("test")
    assert [(t.unit, t.notebook) for t in tasks] == [
        (u, nb) for u in UNITS for nb in ("alpha", "beta")
    ]
    assert [t.unit for t in batch.plan("test", ["beta"], units=["测试2县"])] == ["100003"]
    with pytest.raises(batch.ValidationError, match="unknown notebook 'gamma'"):
        batch.plan("test", ["alpha", "gamma"])
    with pytest.raises(batch.ValidationError, match="no parameter 'mode'"):
        batch.plan("test", parameters={"mode": "walk"})
    with pytest.raises(batch.ValidationError, match="repeat"):
        batch.plan("test", ["alpha", "alpha"])


def test_batch_runs_everything_then_skips_what_is_unchanged(project: Path) -> None:
    stale = project / "maps" / "test" / "100001" / "alpha_old.png"  # left by an older run
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    report = batch.run("test", jobs=2)
    assert report.exit_code == 0 and not report.failed
    assert len(report.ran) == 8 and not report.skipped
    for m in report.manifests:
        assert m["status"] == "ok"
        assert m["error"] is None and m["seconds"] > 0 and m["peak_rss_mb"] > 10
        assert m["inputs"]["package_version"] and len(m["digest"]) == 64
        paths = {o["path"] for o in m["outputs"]}
        sub = f"test/{m['unit']}"
        nb = m["notebook"]
        assert paths == {  # not alpha_old.png: an older run's file
            f"maps/{sub}/{nb}.html",
            f"data/processed/{sub}/{nb}.csv",
            f"data/processed/{sub}/{nb}_figures.json",
        }
        assert m["figures"][0]["value"] == int(m["unit"][-1]) / 10
        assert (project / m["executed_notebook"]).is_file()
        assert "run test/" in (project / m["log"]).read_text(encoding="utf-8")
        on_disk = json.loads(
            (project / "runs" / sub / f"{nb}.manifest.json").read_text(encoding="utf-8")
        )
        assert on_disk == m
    summary = json.loads((project / "runs" / "test" / "batch.json").read_text(encoding="utf-8"))
    assert len(summary["ran"]) == 8 and summary["failed"] == []
    assert report.index == project / "maps" / "test" / "index.html"
    assert report.index.is_file()

    # nothing changed: nothing runs, not even a cluster
    again = batch.run("test", jobs=2)
    assert again.ran == [] and len(again.skipped) == 8 and again.exit_code == 0

    # a changed notebook reruns that notebook only; a deleted or altered output, that run only
    nb_path = project / "notebooks" / "beta.ipynb"
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("changed"))
    nbformat.write(nb, nb_path)
    (project / "maps" / "test" / "100002" / "alpha.html").unlink()
    csv = project / "data" / "processed" / "test" / "100003" / "alpha.csv"
    csv.write_text(csv.read_text(encoding="utf-8").replace("0.3", "0.9"), encoding="utf-8")
    third = batch.run("test", jobs=2)
    assert sorted(third.ran) == sorted(
        [f"test/{u}/beta" for u in UNITS] + ["test/100002/alpha", "test/100003/alpha"]
    )
    # a changed raw data file reruns every run of the region; --force reruns all
    _control(project, sleep={})
    assert len(batch.run("test", ["alpha"], jobs=2).ran) == 4
    assert len(batch.run("test", ["alpha"], jobs=2, force=True).ran) == 4


def test_a_failing_unit_fails_alone_and_retry_failed_reruns_only_it(project: Path) -> None:
    _control(project, corrupt=["100002"], crash=["100004"])
    report = batch.run("test", jobs=2, timeout_s=60)
    status = _status(report)
    assert {k for k, v in status.items() if v == "failed"} == {
        "100002/alpha",
        "100002/beta",
        "100004/alpha",
        "100004/beta",
    }
    assert report.exit_code == 4 == len(report.failed)
    by_key = {f"{m['unit']}/{m['notebook']}": m for m in report.manifests}
    bad = by_key["100002/alpha"]
    assert "ValueError: corrupt input for unit 100002" in bad["error"]
    executed = nbformat.read(project / bad["executed_notebook"], as_version=4)
    # failed_cell counts the executed notebook's cells without papermill's error banners
    cells = [
        c for c in executed.cells if "papermill-error-cell-tag" not in c.metadata.get("tags", [])
    ]
    assert any(o.get("ename") == "ValueError" for o in cells[bad["failed_cell"]].outputs)
    assert bad["outputs"] == [] and bad["figures"] == []
    assert "corrupt input" in (project / bad["log"]).read_text(encoding="utf-8")
    crashed = by_key["100004/beta"]
    assert "DeadKernelError" in crashed["error"] or "died" in crashed["error"]
    for unit in ("100001", "100003"):
        assert by_key[f"{unit}/alpha"]["status"] == "ok"
        assert (project / "maps" / "test" / unit / "alpha.html").is_file()
    page = report.index.read_text(encoding="utf-8")
    assert "corrupt input for unit 100002" in page

    # fixed input: only the failed runs are retried
    _control(project)
    retry = batch.run("test", jobs=2, retry_failed=True)
    assert sorted(retry.ran) == [
        "test/100002/alpha",
        "test/100002/beta",
        "test/100004/alpha",
        "test/100004/beta",
    ]
    assert retry.exit_code == 0
    assert retry.manifests[2]["attempt"] == 2  # 100002/alpha, its second attempt


def test_a_cell_over_the_time_limit_fails_its_run(project: Path) -> None:
    _control(project, sleep={"100001": 30})
    report = batch.run("test", ["alpha"], units=["100001", "100002"], jobs=2, timeout_s=3)
    status = _status(report)
    assert status == {"100001/alpha": "failed", "100002/alpha": "ok"}
    assert "Timeout" in report.manifests[0]["error"] or "timed out" in report.manifests[0]["error"]


def test_a_killed_batch_reruns_only_what_was_missing(project: Path) -> None:
    _control(project, sleep={u: 2 for u in UNITS})
    cmd = [sys.executable, "-m", "accessibility.cli", "--root", str(project), "-q"]
    proc = subprocess.Popen(
        [*cmd, "batch", "test", "--jobs", "2"],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    tasks = batch.plan("test")
    deadline = time.monotonic() + 120
    done: list[str] = []
    while time.monotonic() < deadline and len(done) < 2:
        time.sleep(0.2)
        done = [t.label for t in tasks if (batch.read_manifest(t) or {}).get("status") == "ok"]
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 2 <= len(done) < 8, done
    before = {t.label: batch.read_manifest(t) for t in tasks}
    # what was running when the batch died says so; nothing claims to be complete
    assert all(m is None or m["status"] in ("ok", "running") for m in before.values())
    ok_before = {k for k, m in before.items() if m and m["status"] == "ok"}

    report = batch.run("test", jobs=2)
    assert set(report.skipped) == ok_before
    assert set(report.ran) == {t.label for t in tasks} - ok_before
    assert report.exit_code == 0
    assert all(m["status"] == "ok" for m in report.manifests)


def test_scheduler_runs_on_an_existing_cluster(project: Path) -> None:
    from distributed import LocalCluster

    # one worker with two threads: it must still run one kernel at a time, each run
    # with its own log
    with LocalCluster(
        n_workers=1, threads_per_worker=2, processes=True, dashboard_address=":0"
    ) as cluster:
        report = batch.run("test", ["alpha"], scheduler=cluster.scheduler_address)
    assert report.exit_code == 0 and len(report.ran) == 4
    assert all(m["host"] for m in report.manifests)  # every manifest names its machine
    for m in report.manifests:
        text = (project / m["log"]).read_text(encoding="utf-8")
        assert f"run test/{m['unit']}/alpha" in text
        assert not any(f"test/{u}/" in text for u in UNITS if u != m["unit"])
    spans = sorted(
        (dt.datetime.fromisoformat(m["started"]), dt.datetime.fromisoformat(m["finished"]))
        for m in report.manifests
    )
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))  # never two at once


def test_a_change_during_a_run_reruns_it_next_time(project: Path) -> None:
    _control(project, sleep={"100001": 6})
    cmd = [sys.executable, "-m", "accessibility.cli", "--root", str(project), "-q"]
    proc = subprocess.Popen(
        [*cmd, "batch", "test", "--notebooks", "alpha", "--units", "100001", "--jobs", "1"]
    )
    task = batch.plan("test", ["alpha"], units=["100001"])[0]
    deadline = time.monotonic() + 60
    while (batch.read_manifest(task) or {}).get("status") != "running":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    time.sleep(2.0)  # the kernel is asleep in its cell
    nb_path = project / "notebooks" / "alpha.ipynb"
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("edited while it ran"))
    nbformat.write(nb, nb_path)
    assert proc.wait(timeout=120) == 0
    assert batch.read_manifest(task)["status"] == "ok"
    again = batch.run("test", ["alpha"], units=["100001"], jobs=1)
    assert again.ran == ["test/100001/alpha"]


def test_no_answer_from_overpass_starts_no_further_unit_that_needs_it(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _control(project, unreachable=[UNITS[0]])
    report = batch.run("test", jobs=1)
    by_key = {f"{m['unit']}/{m['notebook']}": m for m in report.manifests}
    first = by_key[f"{UNITS[0]}/alpha"]
    assert first["status"] == "failed" and first["error_type"] == "ServerUnreachableError"
    assert report.ran == [f"test/{UNITS[0]}/alpha"]  # one kernel, one wait
    not_run = {k for k, m in by_key.items() if m["error_type"] == batch.NOT_RUN}
    assert not_run == set(by_key) - {f"{UNITS[0]}/alpha"}
    for key in not_run:
        m = by_key[key]
        assert m["status"] == "failed" and m["executed_notebook"] is None
        assert "the Overpass server gave no answer to an earlier run" in m["error"]
        assert "--osm-file henan-latest.osm.pbf" in m["error"]
        assert "source: {kind: osm_file, path: henan-latest.osm.pbf}" in m["error"]
        assert f"no answer for test/{UNITS[0]}/alpha" in m["error"]
        unit, nb = key.split("/")
        assert not (project / "runs" / "test" / unit / f"{nb}.ipynb").exists()
    assert report.exit_code == 8
    # the command says it, one line per run not started
    code = cli.main(
        ["--root", str(project), "-q", "batch", "test", "--jobs", "1", "--retry-failed"]
    )
    out = capsys.readouterr().out
    assert code == 8 and "batch test: 1 run" in out
    assert out.count("not run for region test unit") == 7

    # with a local extract no unit needs the server: they all run, one fails alone
    extract = project / "local.osm"
    extract.write_text("<osm/>", encoding="utf-8")
    report = batch.run("test", jobs=1, parameters={"osm_file": str(extract)})
    assert {k for k, v in _status(report).items() if v == "failed"} == {
        f"{UNITS[0]}/alpha",
        f"{UNITS[0]}/beta",
    }


def test_the_overpass_deadlines_on_the_command_line_reach_the_kernels(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The options reach the kernels of the local workers, for the command only."""
    args = ["--root", str(project), "-q", "batch", "test", "--notebooks", "alpha"]
    args += ["--units", UNITS[0], "--jobs", "1"]
    code = cli.main([*args, "--overpass-deadline", "30", "--overpass-region-deadline", "42"])
    assert code == 0, capsys.readouterr()
    (task,) = batch.plan("test", ["alpha"], units=[UNITS[0]])
    log = (project / batch.read_manifest(task)["log"]).read_text(encoding="utf-8")
    assert "overpass deadlines: 30.0 42.0" in log
    assert "ACCESSIBILITY_OVERPASS_REGION_DEADLINE_S" not in os.environ


def test_cli_batch_exit_code_counts_failures(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _control(project, corrupt=["100003"])
    code = cli.main(["--root", str(project), "-q", "batch", "test", "--notebooks", "alpha"])
    out = capsys.readouterr().out
    assert code == 1
    assert "failed: 100003/alpha" in out and "corrupt input" in out
    # the page still lists every notebook of the region, also those outside this batch
    page = (project / "maps" / "test" / "index.html").read_text(encoding="utf-8")
    assert "beta" in page and "alpha" in page
    assert cli.main(["--root", str(project), "-q", "batch", "test", "--notebooks", "nope"]) == 2
    assert "unknown notebook" in capsys.readouterr().err
    assert cli.main(["--root", str(project), "-q", "batch", "test", "-p", "unit=1"]) == 2
    assert "cannot be given as notebook parameters" in capsys.readouterr().err
    with pytest.raises(batch.ValidationError, match="root cannot be given"):
        batch.plan("test", parameters={"root": "/elsewhere"})
    # the index can be rebuilt from the manifests alone
    (project / "maps" / "test" / "index.html").unlink()
    assert cli.main(["--root", str(project), "index", "test"]) == 0
    assert (project / "maps" / "test" / "index.html").is_file()


def test_default_jobs_respects_cores_and_memory() -> None:
    n = batch.default_jobs()
    assert 1 <= n <= (os.cpu_count() or 1)


SAMPLES_YML = """\
label_zh: 示例县组（合成数据）
label_en: Sample counties (synthetic data)
synthetic: true
source: {kind: sample, seed: 2023}
buffer_m: 2000
units:
  - {code: "999011", name: 示例甲县, name_en: Sample County A, source: {kind: sample, seed: 11}}
  - {code: "999012", name: 示例乙县, name_en: Sample County B, source: {kind: sample, seed: 12}}
  - {code: "999013", name: 示例丙县, name_en: Sample County C, source: {kind: sample, seed: 13}}
"""


def test_batch_of_sample_counties(tmp_path: Path) -> None:
    """The real notebook on three synthetic counties (different seeds) on two workers."""
    (tmp_path / "regions").mkdir()
    (tmp_path / "regions" / "samples.yml").write_text(SAMPLES_YML, encoding="utf-8")
    old = settings.root, settings.progress
    settings.root, settings.progress = tmp_path, False
    try:
        report = batch.run("samples", ["facility_access"], jobs=2)
        assert report.exit_code == 0, report.failed
        assert [m["status"] for m in report.manifests] == ["ok"] * 3
        figures = []
        for m in report.manifests:
            names = {Path(o["path"]).name for o in m["outputs"]}
            assert {
                "facility_access.html",
                "facility_access.png",
                "facility_access.xlsx",
                "facility_access.gpkg",
                "facility_access_summary.csv",
            } <= names
            assert m["peak_rss_mb"] > 100  # a kernel that loaded the county
            assert any(p.startswith(f"data/raw/samples/{m['unit']}/") for p in m["inputs"]["data"])
            figures.append(tuple(f["value"] for f in m["figures"]))
        assert len(set(figures)) == 3  # three different counties, three sets of figures
        page = report.index.read_text(encoding="utf-8")
        for name in ("示例甲县", "示例乙县", "示例丙县"):
            assert name in page
        # the verdicts: a row per county, a column per claim; facility_access answers three
        table = page.split('<table id="verdicts">')[1].split("</table>")[0]
        for m in report.manifests:
            assert [v["claim"] for v in m["verdicts"]] == [
                "county_libraries",
                "township_cultural_stations",
                "village_cultural_centres",
            ]
            row = table.split(f'<tr data-unit="{m["unit"]}">')[1].split("</tr>")[0]
            for v in m["verdicts"]:
                assert f'data-claim="{v["claim"]}" data-state="{v["state"]}"' in row

        # a corrupt extract for one county: it alone fails, with the reader's message
        osm = tmp_path / "data" / "raw" / "samples" / "999013" / "sample.osm"
        osm.write_text("<osm version='0.6'><node id=", encoding="utf-8")
        again = batch.run("samples", ["facility_access"], jobs=2)
        assert again.ran == ["samples/999013/facility_access"]
        assert len(again.skipped) == 2 and again.exit_code == 1
        bad = again.manifests[2]
        assert bad["status"] == "failed" and "sample.osm" in bad["error"]
        assert [m["status"] for m in again.manifests[:2]] == ["ok", "ok"]
    finally:
        settings.root, settings.progress = old
