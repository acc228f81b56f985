"""The sample county's outputs end to end: the HTML map in a real browser (offline), the
Excel workbook and the PNG map written by ``notebooks/facility_access.ipynb``.

The map is opened in headless Debian Chromium driven by Playwright with every
non-local request aborted (see ``tests/browser.py``). Chromium is installed by
``make browser`` (``make test`` and ``.ci/run`` call it); these tests fail, not
skip, when it is missing. Screenshots go to ``test-output/``.
"""

from __future__ import annotations

import json
import re
import shutil
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import openpyxl
import pytest

from accessibility import classify, index_page, maps, regions, runner
from accessibility.export import read_figures
from accessibility.labels import group_label, label
from accessibility.policies import reading_circle
from accessibility.settings import settings

from .browser import OUTPUT_DIR, BrowserUnavailable, MapBrowser, MapPage

pytestmark = pytest.mark.slow

#: The notebook's default groups (its parameters cell).
KINDS = ["school:primary", "school:middle", "school:high", "health", "reading", "bus"]
FAKE_KEY = "0123456789abcdef0123456789abcdef"
TILE_ERROR = "net::ERR_INTERNET_DISCONNECTED"


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """``runner.run("facility_access", region="sample")`` in a fresh project root."""
    root = tmp_path_factory.mktemp("project")
    saved = (settings.root, settings.progress)
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("TIANDITU_KEY", raising=False)  # the default map: no Tianditu layer
        settings.root, settings.progress = root, False
        try:
            (result,) = runner.run("facility_access", region="sample")
        finally:
            settings.root, settings.progress = saved
    processed = root / "data" / "processed" / "sample"
    meta = json.loads((root / "data" / "raw" / "sample" / "meta.json").read_text("utf-8"))
    gpkg = processed / "facility_access.gpkg"
    yield {
        "root": root,
        "html": result.map_html,
        "png": root / "maps" / "sample" / "facility_access.png",
        "xlsx": processed / "facility_access.xlsx",
        "villages": gpd.read_file(gpkg, layer="villages"),
        "facilities": gpd.read_file(gpkg, layer="facilities").set_index("id"),
        "meta": meta,
    }


@pytest.fixture(scope="module")
def browser() -> Iterator[MapBrowser]:
    try:
        with MapBrowser() as b:
            yield b
    except BrowserUnavailable as exc:
        pytest.fail(str(exc))


@pytest.fixture
def sample_page(browser: MapBrowser, sample_run: dict[str, Any]) -> Iterator[MapPage]:
    page = browser.open(sample_run["html"])
    yield page
    page.close()


def expected_facilities(sample_run: dict[str, Any], group: str) -> int:
    return len(classify.select(sample_run["facilities"], group))


def check_one_group_at_a_time(
    page: MapPage, groups: list[str], villages: int, *, lang: str = "zh"
) -> dict[str, str]:
    """Choose every group in turn, as a person would: one group layer is on the map at
    load and after each choice, the legend's title names that group, and every colour
    its circles are filled or ringed with is in the legend. Returns each group's legend."""
    state = page.state()
    assert [g.name for g in state.groups] == groups
    assert state.shown_groups() == [groups[0]] == state.chosen_groups()  # at load
    assert set(state.drawn_colours) <= set(state.legend_colours), state.drawn_colours
    heading = label("ui.legend", lang=lang)
    legends: dict[str, str] = {}
    for name in [*groups[1:], groups[0]]:  # and back to the first
        page.choose_group(name)
        state = page.state()
        assert state.shown_groups() == [name] == state.chosen_groups()
        assert sum(layer["shown"] for layer in state.per_group.values()) == 1
        assert state.villages == state.villages_painted == villages  # one set of markers
        group_name = name.split(" · ")[0]  # without "· 无数据"
        assert state.legend_title.startswith(f"{heading} · {group_name}\n"), state.legend_title
        missing = set(state.drawn_colours) - set(state.legend_colours)
        assert not missing, (name, missing)
        legends[name] = state.legend
    assert len(set(legends.values())) == len(groups)  # the legend follows the group
    assert page.console_errors == [] and page.page_errors == []
    return legends


# --------------------------------------------------------------------------- HTML map


def test_sample_map_opens_offline_and_draws_every_village(
    sample_page: MapPage, sample_run: dict[str, Any]
) -> None:
    n = len(sample_run["villages"])
    assert n == sample_run["meta"]["counts"]["villages"] > 100
    state = sample_page.state()
    shot = sample_page.screenshot("facility_access_sample.png")

    assert sample_page.page_errors == []
    assert sample_page.console_errors == []
    assert sample_page.blocked == []  # nothing was even requested from the network
    check_layout_and_colours(state)

    assert [b.name for b in state.base_layers] == [
        label("ui.basemap_roads"),
        label("ui.basemap_osm"),
    ]
    assert state.shown_base() == [label("ui.basemap_roads")]
    groups = [group_label(k) for k in KINDS]
    assert [g.name for g in state.groups] == groups  # radio buttons, not check boxes
    assert [o.name for o in state.overlays] == [label("ui.boundary")]
    assert state.shown_overlays() == [label("ui.boundary")]
    assert state.shown_groups() == [groups[0]]

    assert state.villages == n  # one marker per village, in the one group shown
    assert state.villages_painted == n  # and each really drawn on the canvas
    assert state.facilities == expected_facilities(sample_run, KINDS[0])
    assert state.road_lines == 4  # trunk, primary, secondary, tertiary
    assert state.tile_layers == 0
    assert "合成数据" in state.title
    assert state.legend.startswith("图例") and "不可达" in state.legend
    for name in groups:
        assert state.per_group[name]["villages"] == n, name
    assert shot.stat().st_size > 20_000
    html = sample_run["html"].read_text("utf-8")
    assert html.startswith('<!DOCTYPE html>\n<html lang="zh-CN">')
    scale = sample_page.page.inner_text(".leaflet-control-scale")
    assert re.fullmatch(r"\s*\d+ k?m\s*", scale), scale  # metric only: no miles or feet
    assert "北京时间 (UTC+8)" in state.title


def test_switching_groups_shows_one_group_at_a_time(
    sample_page: MapPage, sample_run: dict[str, Any]
) -> None:
    n = len(sample_run["villages"])
    groups = [group_label(k) for k in KINDS]
    legends = check_one_group_at_a_time(sample_page, groups, n)
    for name, legend in legends.items():
        assert "≤ 15 分钟" in legend and "> 30 分钟" in legend, name  # the notebook's classes
    sample_page.choose_group(group_label("health"))
    state = sample_page.state()
    assert state.facilities == expected_facilities(sample_run, "health")
    assert state.shown_overlays() == [label("ui.boundary")]  # context stays as it was
    sample_page.set_overlay(label("ui.boundary"), on=False)  # a check box, apart from groups
    state = sample_page.state()
    assert state.shown_overlays() == [] and state.shown_groups() == [group_label("health")]


def test_groups_with_their_own_limits_and_modes(
    browser: MapBrowser, sample_run: dict[str, Any], tmp_path: Path
) -> None:
    """A map whose groups have their own classes and modes: the legend changes its
    classes with the group, and the same minutes keep the same colour."""
    villages = sample_run["villages"].set_index("id")
    m = maps.access_map(
        villages,
        sample_run["facilities"],
        groups=["school:primary", "health", "bus"],
        thresholds_min=[15, 30],
        group_thresholds_min={"health": [15, 30, 60], "bus": [10]},
        group_modes={"bus": "walk"},
        mode="ebike",
        title="示例县",
        synthetic=True,
    )
    page = browser.open(maps.save_html(m, tmp_path / "limits.html"))
    try:
        names = [group_label(g) for g in ("school:primary", "health", "bus")]
        legends = check_one_group_at_a_time(page, names, len(villages))
        school, health, bus = (legends[n] for n in names)
        assert "出行时间 · 电动车\n" in school and "> 30 分钟" in school and "60" not in school
        assert "30–60 分钟" in health and "> 60 分钟" in health
        assert "出行时间 · 步行 · 标准 ≤ 10 分钟" in bus and "> 10 分钟" in bus
        assert "15–30" not in bus
        # "≤ 15" is drawn in the same colour in both groups that have it
        page.choose_group(names[0])
        first = page.state().legend_colours
        page.choose_group(names[1])
        second = page.state().legend_colours
        assert first[0] == second[0]  # the first swatch: ≤ 15 分钟
        page.screenshot("facility_access_group_limits.png")
    finally:
        page.close()


def test_tiles_are_optional_decoration(sample_page: MapPage, sample_run: dict[str, Any]) -> None:
    n = len(sample_run["villages"])
    sample_page.choose_base(label("ui.basemap_osm"))
    sample_page.page.wait_for_timeout(300)
    state = sample_page.state()
    assert state.shown_base() == [label("ui.basemap_osm")]
    assert state.tile_layers == 1 and state.road_lines == 0
    assert sample_page.blocked and all(
        re.match(r"https://tile\.openstreetmap\.org/\d+/\d+/\d+\.png$", u)
        for u in sample_page.blocked
    )
    # tiles failed to load, yet every village is still drawn
    assert state.villages == state.villages_painted == n
    assert all(TILE_ERROR in e for e in sample_page.console_errors)
    assert sample_page.page_errors == []
    sample_page.choose_base(label("ui.basemap_roads"))
    state = sample_page.state()
    assert state.tile_layers == 0 and state.road_lines == 4


def test_tianditu_layer_from_the_environment(
    browser: MapBrowser,
    sample_run: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    villages = sample_run["villages"].set_index("id")
    monkeypatch.setenv("TIANDITU_KEY", FAKE_KEY)
    m = maps.access_map(
        villages,
        sample_run["facilities"],
        groups=["school:primary", "health"],
        thresholds_min=[15, 30],
        title="示例县",
        synthetic=True,
        lang="en",
    )
    page = browser.open(maps.save_html(m, tmp_path / "tianditu.html"))
    try:
        state = page.state()
        names = [b.name for b in state.base_layers]
        assert names == [
            label("ui.basemap_none", lang="en"),
            label("ui.basemap_osm", lang="en"),
            label("ui.basemap_tianditu", lang="en"),
        ]
        assert state.road_lines == 0 and page.blocked == [] and page.console_errors == []
        page.choose_base(label("ui.basemap_tianditu", lang="en"))
        page.page.wait_for_timeout(300)
        state = page.state()
        assert state.tile_layers == 2  # vector tiles and their annotation
        pattern = re.compile(
            r"https://t[0-7]\.tianditu\.gov\.cn/(vec|eva)_w/wmts\?SERVICE=WMTS&REQUEST=GetTile"
            r"&VERSION=1\.0\.0&LAYER=(vec|eva)&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
            rf"&TILEMATRIX=\d+&TILEROW=\d+&TILECOL=\d+&tk={FAKE_KEY}$"
        )
        assert page.blocked and all(pattern.match(u) for u in page.blocked), page.blocked[:3]
        assert {pattern.match(u).group(1) for u in page.blocked} == {"vec", "eva"}
        assert state.villages == state.villages_painted == len(villages)
        page.screenshot("facility_access_tianditu_offline.png")
    finally:
        page.close()


def test_map_size(sample_run: dict[str, Any]) -> None:
    size = sample_run["html"].stat().st_size
    assert size < 5_000_000, size
    html = sample_run["html"].read_text("utf-8")
    assert "accRoads" in html  # the main roads are in the page itself


# --------------------------------------------------------------------------- index page


def test_index_page_of_the_sample_run(browser: MapBrowser, sample_run: dict[str, Any]) -> None:
    """The batch index page over the real sample run: offline, both languages, links that work."""
    root = sample_run["root"]
    processed = root / "data" / "processed" / "sample"
    figures = read_figures(processed / "facility_access_figures.json")
    assert len(figures) == 2 * len(KINDS)  # coverage and villages beyond, per group
    outputs = [
        p.relative_to(root).as_posix()
        for p in (
            sample_run["html"],
            sample_run["png"],
            sample_run["xlsx"],
            processed / "facility_access.gpkg",
        )
    ]
    runs = [
        {
            "format": 1,
            "region": "sample",
            "unit": None,
            "unit_name": "示例县",
            "unit_name_en": "Sample County",
            "notebook": "facility_access",
            "status": "ok",
            "seconds": 21.4,
            "peak_rss_mb": 512.0,
            "outputs": [{"path": p} for p in outputs],
            "executed_notebook": "runs/sample/facility_access.ipynb",
            "log": "runs/sample/facility_access.log",  # not written: not linked
            "figures": figures,
        },
        {
            "region": "sample",
            "unit": None,
            "notebook": "reading_circle",
            "status": "failed",
            "error": "ValueError: <script>document.title='x'</script>",
            "failed_cell": 4,
        },
        {"region": "sample", "unit": None, "notebook": "school_tiers", "status": "running"},
        {"region": "sample", "unit": None, "notebook": "services", "status": "missing"},
    ]
    saved = settings.root
    settings.root = root
    try:
        path = index_page.write_index(regions.load("sample"), runs)
    finally:
        settings.root = saved
    assert path == root / "maps" / "sample" / "index.html"
    page = browser.open_page(path)
    try:
        p = page.page
        links = p.eval_on_selector_all("a[href]", "els => els.map((a) => a.href)")
        assert len(links) == 5  # map, workbook, PNG, GeoPackage, executed notebook
        assert all(u.startswith("file://") for u in links)
        for u in links:  # every link opens its file
            assert Path(p.evaluate("(u) => decodeURIComponent(new URL(u).pathname)", u)).is_file()
        body = p.inner_text("body")
        assert "合成数据" in body and "成功" in body and "中断" in body and "未运行" in body
        assert "<script>document.title='x'</script>" in body  # shown as text, not run
        assert p.title() == "示例县（合成数据） · 分析结果索引"
        p.click("#lang-switch")
        assert p.evaluate("document.documentElement.lang") == "en"
        body = p.inner_text("body")
        assert "Results index" in body and "interrupted" in body and "not run" in body
        assert "分析结果索引" not in body
        shot = page.screenshot("index_sample.png", full_page=True)
        assert shot.stat().st_size > 20_000
        assert page.blocked == []  # nothing was requested from the network
        assert page.console_errors == [] and page.page_errors == []
    finally:
        page.close()
    assert path.stat().st_size < 100_000


# --------------------------------------------------------------------------- Excel and PNG


def test_excel_workbook(sample_run: dict[str, Any]) -> None:
    wb = openpyxl.load_workbook(sample_run["xlsx"])
    assert wb.sheetnames == ["结论", "汇总", "村庄", "数据检查"]  # the verdicts first
    assert [c.value for c in wb["结论"][1]][:3] == ["地区", "主张", "结论"]
    summary, villages = wb["汇总"], wb["村庄"]
    for ws in wb:
        assert ws.freeze_panes == "A2"
    heads = [c.value for c in summary[1]]
    assert heads[:2] == ["设施类别", "村庄数"]
    assert "15分钟内村庄占比" in heads and "30分钟内人口占比" in heads
    assert [summary.cell(row=r, column=1).value for r in range(2, summary.max_row + 1)] == [
        group_label(k) for k in KINDS
    ]
    share = summary.cell(row=2, column=heads.index("15分钟内村庄占比") + 1)
    assert isinstance(share.value, float) and 0 <= share.value <= 1
    assert share.number_format == "0.0%"

    n = len(sample_run["villages"])
    assert villages.max_row == n + 1
    vheads = [c.value for c in villages[1]]
    assert {"编号", "名称", "人口", "到最近小学的出行时间（分钟）", "经度", "纬度"} <= set(vheads)
    col = vheads.index("到最近小学的出行时间（分钟）") + 1
    times = [villages.cell(row=r, column=col).value for r in range(2, n + 2)]
    assert all(t is None or isinstance(t, float) for t in times)
    assert sum(t is not None for t in times) >= n - 5


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def test_png_map(sample_run: dict[str, Any]) -> None:
    png = sample_run["png"]
    assert _png_size(png) == (2400, 2640)  # 8 × 8.8 inches at 300 dpi, for print
    assert 50_000 < png.stat().st_size < 5_000_000
    assert not [p for p in png.parent.iterdir() if p.name.startswith(".")]  # no temp files left
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(png, OUTPUT_DIR / "facility_access_sample_static.png")  # for people to look at


# --------------------------------------------------------------------------- the other notebooks' maps


def _run_notebook(root: Path, notebook: str) -> dict[str, Any]:
    """``runner.run(notebook, region="sample")`` in ``root``; its outputs' paths."""
    saved = (settings.root, settings.progress)
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("TIANDITU_KEY", raising=False)
        settings.root, settings.progress = root, False
        try:
            (result,) = runner.run(notebook, region="sample")
        finally:
            settings.root, settings.progress = saved
    processed = root / "data" / "processed" / "sample"
    return {
        "html": result.map_html,
        "gpkg": processed / f"{notebook}.gpkg",
        "xlsx": processed / f"{notebook}.xlsx",
        "png": root / "maps" / "sample" / f"{notebook}.png",
    }


@pytest.fixture(scope="module")
def notebooks_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One project root for the three notebooks (they share the sample's downloads)."""
    return tmp_path_factory.mktemp("notebooks")


@pytest.fixture(scope="module")
def reading_run(notebooks_root: Path) -> dict[str, Any]:
    return _run_notebook(notebooks_root, "reading_circle")


@pytest.fixture(scope="module")
def tiers_run(notebooks_root: Path) -> dict[str, Any]:
    return _run_notebook(notebooks_root, "school_tiers")


@pytest.fixture(scope="module")
def services_run(notebooks_root: Path) -> dict[str, Any]:
    return _run_notebook(notebooks_root, "services")


def _open_clean(browser: MapBrowser, run: dict[str, Any], shot: str) -> tuple[MapPage, Any, Path]:
    """Open a notebook's map; its state and a screenshot, after checking it ran offline."""
    page = browser.open(run["html"])
    state = page.state()
    path = page.screenshot(shot)
    assert page.page_errors == []
    assert page.console_errors == []
    assert page.blocked == []  # nothing was requested from the network
    check_layout_and_colours(state)
    return page, state, path


def check_layout_and_colours(state: Any) -> None:
    """The title banner is not covered by any control, and every colour a shown shape
    is coded by is a swatch of a shown legend."""
    assert state.title_box, "no title banner"
    assert state.map_colours and state.top_controls  # something was read
    bottom = state.title_box[3]
    for left, top, right, _ in state.top_controls:
        assert top >= bottom - 0.5, ("a control covers the title", left, top, right, bottom)
    missing = set(state.map_colours) - set(state.all_legend_colours)
    assert not missing, missing


def test_reading_circle_map(browser: MapBrowser, reading_run: dict[str, Any]) -> None:
    population = gpd.read_file(reading_run["gpkg"], layer="population")
    places = gpd.read_file(reading_run["gpkg"], layer="reading_places")
    sites = gpd.read_file(reading_run["gpkg"], layer="proposed_sites")
    page, state, shot = _open_clean(browser, reading_run, "reading_circle_sample.png")
    try:
        names = [o.name for o in state.overlays]
        covered, uncovered = (
            label("reading_ui.residents_covered"),
            label("reading_ui.residents_uncovered"),
        )
        expected = [
            label("reading_ui.isochrone_now").format(minutes="15"),
            label("reading_ui.uncovered_areas"),
            covered,
            uncovered,
            label("reading_ui.reading_places"),
            label("ui.boundary"),
        ]
        assert [n for n in names if n in expected] == expected
        plans = [n for n in names if n.startswith(label("reading_ui.proposed"))]
        assert len(plans) == sites["scenario"].nunique() >= 2
        assert state.shown_overlays() == [*expected[:5], plans[0], expected[5]]
        # above 3,000 residence points, one circle per 200 m cell and coverage state,
        # green when covered and red when not (every point in the GeoPackage)
        layer = state.per_overlay
        assert len(population) > reading_circle.AGGREGATE_ABOVE
        cells = reading_circle.resident_cells(population, reading_circle.DEFAULT_CELL_M)
        n_covered = int(cells["covered"].sum())
        assert layer[covered]["facilities"] == n_covered > 0
        assert layer[uncovered]["facilities"] == len(cells) - n_covered > 0
        assert cells["population"].sum() == pytest.approx(population["population"].sum())
        assert layer[label("reading_ui.reading_places")]["facilities"] == len(places)
        assert (
            layer[plans[0]]["facilities"] == (sites["scenario"] == sites["scenario"].iloc[0]).sum()
        )
        assert "15分钟阅读圈" in page.page.inner_text(
            "body"
        ) and "合成数据" in page.page.inner_text("body")
        assert shot.stat().st_size > 20_000
    finally:
        page.close()


def test_school_tiers_map(browser: MapBrowser, tiers_run: dict[str, Any]) -> None:
    villages = gpd.read_file(tiers_run["gpkg"], layer="villages")
    page, state, shot = _open_clean(browser, tiers_run, "school_tiers_sample.png")
    try:
        groups = [group_label(f"school:{t}") for t in ("primary", "middle", "high")]
        assert [g.name for g in state.groups] == groups
        overlays = [o.name for o in state.overlays]
        assert overlays[:3] == [
            label("ui.boundary"),
            label("schools_map.compliance_layer"),
            label("schools_map.boarding_layer"),
        ]
        assert overlays[3] == label("schools_map.scenario_layer").format(tier=label("schools_tier_short.primary"))
        n = len(villages)
        assert n > 100
        assert state.villages == state.villages_painted == n  # one marker per village
        for name in groups:
            assert state.per_group[name]["villages"] == n, name
        check_one_group_at_a_time(page, groups, n)
        assert state.facilities > 0 and "合成数据" in state.title and "学校布局层级" in state.title
        assert shot.stat().st_size > 20_000
    finally:
        page.close()


def test_services_map(browser: MapBrowser, services_run: dict[str, Any]) -> None:
    villages = gpd.read_file(services_run["gpkg"], layer="villages")
    seats = gpd.read_file(services_run["gpkg"], layer="township_seats")
    page, state, shot = _open_clean(browser, services_run, "services_sample.png")
    try:
        groups = [
            group_label(g)
            for g in (
                "health:village_clinic",
                "health:township_health_centre",
                "health:county_hospital",
                "bus",
            )
        ]
        names = [o.name for o in state.overlays]
        assert [g.name for g in state.groups] == groups and label("ui.boundary") in names
        per_1000 = (label("supply_unit.beds"), label("supply_unit.doctors"))
        supply_layers = {o.name: o.checked for o in state.overlays if any(u in o.name for u in per_1000)}
        assert len(supply_layers) == 2 and not any(supply_layers.values())  # off until ticked
        others = [n for n in names if n != label("ui.boundary") and n not in supply_layers]
        routes, links = others  # check boxes of their own
        assert routes == label("services_map.routes_layer") and links.startswith("乡镇驻地连通")
        n = len(villages)
        assert n > 100
        assert state.villages == state.villages_painted == n  # the first group's markers
        for name in groups:
            assert state.per_group[name]["villages"] == n, name
        check_one_group_at_a_time(page, groups, n)
        assert state.per_overlay[links]["facilities"] == len(seats) > 0
        assert "合成数据" in state.title
        assert shot.stat().st_size > 20_000
    finally:
        page.close()


@pytest.mark.parametrize("notebook", ["reading_circle", "school_tiers", "services"])
def test_notebook_png_and_excel(request: pytest.FixtureRequest, notebook: str) -> None:
    fixture = {"reading_circle": "reading_run", "school_tiers": "tiers_run"}.get(
        notebook, "services_run"
    )
    run = request.getfixturevalue(fixture)
    assert _png_size(run["png"]) == (2400, 2640)
    shutil.copyfile(run["png"], OUTPUT_DIR / f"{notebook}_sample_static.png")
    wb = openpyxl.load_workbook(run["xlsx"])
    assert len(wb.sheetnames) >= 3
    for ws in wb:
        heads = [c.value for c in ws[1]]
        assert heads and all(isinstance(h, str) and not h.isascii() for h in heads), (
            ws.title,
            heads,
        )


# --------------------------------------------------------------------------- verdicts

_PANEL_JS = """() => Array.from(document.querySelectorAll('.acc-verdicts .acc-verdict')).map(e => ({
  claim: e.dataset.claim, state: e.dataset.state, text: e.innerText,
  top: e.closest('.acc-verdicts').getBoundingClientRect().top,
  under: document.querySelector('.acc-title').getBoundingClientRect().bottom}))"""


@pytest.mark.parametrize("notebook", ["facility_access", "reading_circle", "school_tiers", "services"])
def test_every_map_answers_its_claims(
    request: pytest.FixtureRequest, browser: MapBrowser, notebook: str
) -> None:
    from accessibility import verdicts
    from accessibility.export import read_verdicts

    fixture = {
        "facility_access": "sample_run",
        "reading_circle": "reading_run",
        "school_tiers": "tiers_run",
    }.get(notebook, "services_run")
    run = request.getfixturevalue(fixture)
    html = Path(run["html"])
    said = read_verdicts(html.parents[2] / "data" / "processed" / "sample" / f"{notebook}_figures.json")
    assert [v["claim"] for v in said] == [c.key for c in verdicts.claims(notebook)]
    page = browser.open(html)
    try:
        panel = page.page.evaluate(_PANEL_JS)
        page.screenshot(f"{notebook}_verdicts.png")
    finally:
        page.close()
    assert [(p["claim"], p["state"]) for p in panel] == [(v["claim"], v["state"]) for v in said]
    for shown, v in zip(panel, said, strict=True):
        assert shown["under"] <= shown["top"] < shown["under"] + 120  # at the top, below the title
        assert label(f"verdict_state.{v['state']}") in shown["text"]
        assert v["statement"]["zh"] in shown["text"]
        assert verdicts.number_text(v["value"], v["unit"]) in shown["text"]
        for reason in v["reasons"]:
            assert reason["zh"] in shown["text"]
