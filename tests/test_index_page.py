"""The index page of a batch run: links, figures, escaping, self-containment, the language switch."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from accessibility import clock, index_page
from accessibility._errors import ValidationError
from accessibility.regions import Region, Unit
from accessibility.settings import settings

from .browser import BrowserUnavailable, MapBrowser

REGION = Region(
    name="demo",
    label_zh="演示市",
    label_en="Demo City",
    synthetic=True,
    units=(Unit("999001", "甲县", "Jia County"), Unit("999002", "乙县", "Yi County")),
)
ERROR = "KeyError: <script>alert('x')</script> & \"quoted\""
WHEN = dt.datetime(2026, 11, 28, 21, 40, tzinfo=dt.timezone(dt.timedelta(hours=8)))
FIGURES = [
    {"key": "cov", "label_zh": "小学覆盖率", "label_en": "Primary coverage", "value": 0.92345, "format": "percent"},
    {"key": "n", "label_zh": "超出村庄数", "label_en": "Villages beyond", "value": 12345, "format": "count"},
    {"key": "t", "label_zh": "中位时间", "label_en": "Median time", "value": 12.345, "format": "minutes"},
    {"key": "x", "label_zh": "系数", "label_en": "Factor", "value": 3.14159, "format": "number"},
    {"key": "na", "label_zh": "无值", "label_en": "No value", "value": None, "format": "percent"},
]  # fmt: skip


def _manifest(unit: str, name: str, name_en: str, notebook: str, status: str) -> dict[str, Any]:
    base = f"demo/{unit}/{notebook}"
    return {
        "format": 1,
        "region": "demo",
        "unit": unit,
        "unit_name": name,
        "unit_name_en": name_en,
        "notebook": notebook,
        "status": status,
        "error": None,
        "failed_cell": None,
        "started": "2026-11-28T13:40:00+00:00",
        "finished": "2026-11-28T13:40:12+00:00",
        "seconds": 1234.56,
        "peak_rss_mb": 1410.2,
        "attempt": 1,
        "digest": "ab12",
        "inputs": {},
        "outputs": [
            {"path": f"maps/{base}.html", "bytes": 1, "sha256": "00"},
            {"path": f"maps/{base}.png", "bytes": 1, "sha256": "00"},
            {"path": f"data/processed/{base}.xlsx", "bytes": 1, "sha256": "00"},
            {"path": f"data/processed/{base}.gpkg", "bytes": 1, "sha256": "00"},
        ],
        "executed_notebook": f"runs/{base}.ipynb",
        "log": f"runs/{base}.log",
        "figures": [],
    }


@pytest.fixture
def project(tmp_path: Path) -> dict[str, Any]:
    """A project root with two units × two notebooks: ok, failed / running, missing."""
    root = tmp_path / "project"
    ok = _manifest("999001", "甲县", "Jia County", "facility_access", "ok")
    ok["figures"] = FIGURES
    failed = _manifest("999001", "甲县", "Jia County", "services", "failed")
    failed.update(error=ERROR, failed_cell=7, attempt=2, figures=None)
    running = _manifest("999002", "乙县", "Yi County", "facility_access", "running")
    running.update(seconds=None, peak_rss_mb=None, figures=None)
    missing = {"region": "demo", "unit": "999002", "notebook": "services", "status": "missing"}
    files = [  # every output of the ok run; only the executed notebook of the failed one
        *(o["path"] for o in ok["outputs"]),
        ok["executed_notebook"],
        ok["log"],
        failed["executed_notebook"],
    ]
    for rel in files:
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"x")
    runs = [missing, running, failed, ok]  # any order in, units and notebooks in order out
    path = index_page.write_index(
        REGION, runs, root / "maps" / "demo" / "index.html", root=root, generated=WHEN
    )
    return {
        "root": root,
        "path": path,
        "html": path.read_text("utf-8"),
        "runs": runs,
        "files": files,
    }


class _Page(HTMLParser):
    """Rows of the runs table (``data-*`` attributes) and the links in each."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, Any]] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.tags.append((tag, found))
        if tag == "tr" and "data-notebook" in found:
            self.rows.append({**found, "links": []})
        if tag == "a" and self.rows:
            self.rows[-1]["links"].append(found)


def _parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def test_links_only_to_existing_files_and_they_resolve(project: dict[str, Any]) -> None:
    page = _parse(project["html"])
    order = [(r["data-unit"], r["data-notebook"], r["data-status"]) for r in page.rows]
    assert order == [
        ("999001", "facility_access", "ok"),
        ("999001", "services", "failed"),
        ("999002", "facility_access", "interrupted"),
        ("999002", "services", "missing"),
    ]
    folder = project["path"].parent
    resolved = {}
    for row in page.rows:
        for a in row["links"]:
            href = a["href"]
            assert not re.match(r"[a-z]+:|/", href), href  # relative, no scheme
            target = (folder / unquote(href)).resolve()
            assert target.is_file(), href
            resolved.setdefault(row["data-notebook"] + row["data-unit"], []).append(
                (a["class"], target.relative_to(project["root"].resolve()).as_posix())
            )
    ok = dict(resolved["facility_access999001"])
    assert ok == {
        "lk lk-map": "maps/demo/999001/facility_access.html",
        "lk lk-xlsx": "data/processed/demo/999001/facility_access.xlsx",
        "lk lk-png": "maps/demo/999001/facility_access.png",
        "lk lk-gpkg": "data/processed/demo/999001/facility_access.gpkg",
        "lk lk-notebook": "runs/demo/999001/facility_access.ipynb",
        "lk lk-log": "runs/demo/999001/facility_access.log",
    }
    # the failed run: its executed notebook (twice: beside the error and among the files), no log
    assert resolved["services999001"] == [
        ("lk lk-error", "runs/demo/999001/services.ipynb"),
        ("lk lk-notebook", "runs/demo/999001/services.ipynb"),
    ]
    assert "facility_access999002" not in resolved and "services999002" not in resolved
    assert 'href="facility_access' not in project["html"]  # the page sits beside no map


def test_figures_status_and_summary(project: dict[str, Any]) -> None:
    html = project["html"]
    for text in ("92.3%", "12,345", "12.3 分钟", "12.3 min", "3.14", "无数据", "n/a"):
        assert text in html, text
    assert "0.92345" not in html and "12345<" not in html
    assert "小学覆盖率" in html and "Primary coverage" in html
    assert "共 4 项：成功 1，失败 1，中断 1，未运行 1" in html
    assert "4 runs: 1 ok, 1 failed, 1 interrupted, 1 not run" in html
    # times in China Standard Time: the page's making, and the run's start and end (UTC in
    # the manifest: 13:40 UTC is 21:40 in Beijing)
    assert "生成时间：2026-11-28 21:40 北京时间 (UTC+8)" in html
    assert "Generated: 2026-11-28 21:40 China Standard Time (UTC+8)" in html
    assert "2026-11-28 21:40 北京时间 (UTC+8)；" in html and "13:40" not in html
    assert "1,234.6" in html and "1,410 MB" in html  # seconds and peak memory
    assert "第 2 次运行" in html and "出错的单元格：第 7 个" in html
    for name in ("甲县", "乙县", "Jia County", "Yi County", "999001", "演示市 · 分析结果索引"):
        assert name in html
    assert "合成数据，仅供演示" in html and 'class="syn"' in html
    # running while the batch is live is shown as running
    live = index_page.render_index(
        REGION, project["runs"], page_dir=project["path"].parent, root=project["root"], live=True
    )
    assert "共 4 项：成功 1，失败 1，运行中 1，未运行 1" in live
    real = Region(name="demo", label_zh="演示市", label_en="Demo City", units=REGION.units)
    plain = index_page.render_index(
        real, project["runs"], page_dir=project["path"].parent, root=project["root"]
    )
    assert 'class="syn"' not in plain and "合成数据" not in plain


def test_manifest_text_is_escaped(project: dict[str, Any]) -> None:
    html = project["html"]
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;quoted&quot;" in html
    assert len(re.findall(r"<script\b", html)) == 1  # the page's own, inline
    odd = [
        {
            "region": "demo",
            "unit": "<b>u</b>",
            "unit_name": "<img src=x onerror=alert(1)>",
            "notebook": "<i>nb</i>",
            "status": "<s>weird</s>",
            "figures": [{"key": "k", "label_zh": "<u>甲</u>", "label_en": "<u>A</u>", "value": 1, "format": "count"}],
        }
    ]  # fmt: skip
    page = index_page.render_index(REGION, odd, page_dir=project["root"], root=project["root"])
    for raw in ("<b>u", "<img", "<i>nb", "<s>weird", "<u>"):
        assert raw not in page, raw
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and "&lt;s&gt;weird&lt;/s&gt;" in page


def test_page_is_self_contained(project: dict[str, Any]) -> None:
    html = project["html"]
    assert not re.search(r"https?:|//[a-z]", html, re.I)  # no address of any server
    assert not re.search(r"\b(src|srcset)\s*=|@import|url\(|<link\b|<iframe\b", html, re.I)
    page = _parse(html)
    assert {tag for tag, _ in page.tags} <= {
        "html", "head", "meta", "title", "style", "body", "header", "div", "h1", "p", "span",
        "button", "table", "thead", "tbody", "tr", "th", "td", "ul", "li", "b", "a", "small",
        "pre", "script", "label", "input", "select", "option",
    }  # fmt: skip
    assert html.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in html
    assert "@media print" in html
    assert len(html.encode()) < 40_000


def test_defaults_bad_paths_and_bad_manifests(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings.root = tmp_path
    (tmp_path / "secret.txt").write_text("x")
    (tmp_path / "maps" / "demo" / "地图 一.html").parent.mkdir(parents=True)
    (tmp_path / "maps" / "demo" / "地图 一.html").write_text("x")
    runs = [
        {
            "region": "demo",
            "unit": None,
            "notebook": "facility_access",
            "status": "ok",
            "outputs": [{"path": "maps/demo/地图 一.html"}, {"path": "../secret.txt"}],
            "log": "/etc/hostname",
            "figures": [{"key": "a", "value": 1}],  # malformed: shown without figures
        },
        {"region": "other", "unit": None, "notebook": "services", "status": "ok"},
    ]
    with caplog.at_level(logging.WARNING, logger="accessibility.index_page"):
        path = index_page.write_index(REGION, runs)
    assert path == tmp_path / "maps" / "demo" / "index.html"
    html = path.read_text("utf-8")
    links = [a["href"] for r in _parse(html).rows for a in r["links"]]
    assert links == ["%E5%9C%B0%E5%9B%BE%20%E4%B8%80.html"]  # percent-encoded, beside the page
    assert (path.parent / unquote(links[0])).is_file()
    assert "secret" not in html and "hostname" not in html
    assert 'data-notebook="services"' not in html  # another region's manifest is left out
    assert "演示市" in html  # a run of the whole region is named after it
    text = caplog.text
    assert "not relative to the project root" in text and "key figures not shown" in text
    assert "left out of the index" in text
    with pytest.raises(ValidationError, match="lacks its notebook"):
        index_page.write_index(REGION, [{"region": "demo", "status": "ok"}])


@pytest.mark.parametrize(
    ("value", "fmt", "zh", "en"),
    [
        (0.92345, "percent", "92.3%", "92.3%"),
        (1.0, "percent", "100.0%", "100.0%"),
        (1234567.4, "count", "1,234,567", "1,234,567"),
        (12.345, "minutes", "12.3 分钟", "12.3 min"),
        (1234.5, "number", "1,234.5", "1,234.5"),
        (7, "number", "7", "7"),
        (None, "count", "无数据", "n/a"),
    ],
)
def test_format_figure(value: Any, fmt: str, zh: str, en: str) -> None:
    assert index_page.format_figure(value, fmt, lang="zh") == zh
    assert index_page.format_figure(value, fmt, lang="en") == en


# --------------------------------------------------------------------------- in a browser


@pytest.fixture(scope="module")
def browser() -> Iterator[MapBrowser]:
    try:
        with MapBrowser(width=1200, height=800) as b:
            yield b
    except BrowserUnavailable as exc:
        pytest.fail(str(exc))


def test_language_switch_in_a_browser(browser: MapBrowser, project: dict[str, Any]) -> None:
    page = browser.open_page(project["path"])
    try:
        p = page.page
        assert p.evaluate("document.documentElement.lang") == "zh-CN"
        assert p.title() == "演示市 · 分析结果索引"
        heading = p.locator("h1")
        assert heading.inner_text() == "演示市 · 分析结果索引"
        assert p.locator("#lang-switch").inner_text() == "English"
        assert (
            p.locator("tr[data-status=interrupted] .st")
            .get_attribute("title")
            .startswith("运行开始后未结束")
        )
        p.click("#lang-switch")
        assert p.evaluate("document.documentElement.lang") == "en"
        assert heading.inner_text() == "Demo City · Results index"
        assert p.title() == "Demo City · Results index"
        assert p.locator("#lang-switch").inner_text() == "中文"
        body = p.inner_text("body")
        assert "Primary coverage" in body and "小学覆盖率" not in body
        assert "interrupted" in body and "Jia County" in body
        assert (
            p.locator("tr[data-status=interrupted] .st")
            .get_attribute("title")
            .startswith("The run started")
        )
        p.click("#lang-switch")
        assert heading.inner_text() == "演示市 · 分析结果索引"
        assert "小学覆盖率" in p.inner_text("body")
        assert page.blocked == [] and page.console_errors == [] and page.page_errors == []
        # the address can ask for English directly
        en = browser.open_page(project["path"])
        try:
            en.page.goto(project["path"].resolve().as_uri() + "#en")
            en.page.reload()
            assert en.page.evaluate("document.documentElement.lang") == "en"
        finally:
            en.close()
    finally:
        page.close()


def test_no_data_figures_and_warnings(tmp_path: Path) -> None:
    root = tmp_path / "project"
    run = _manifest("999001", "甲县", "Jia County", "school_tiers", "ok")
    run["figures"] = [
        {"key": "hi", "label_zh": "高中覆盖率", "label_en": "High school coverage", "value": None,
         "format": "percent", "status": "no_data"},
        {"key": "pr", "label_zh": "小学覆盖率", "label_en": "Primary coverage", "value": 0.0,
         "format": "percent"},
    ]  # fmt: skip
    run["warnings"] = [
        {"section": "tier", "zh": "高中：数据中没有该层级的学校，未分析",
         "en": "High school: no school of this tier in the data, so it was skipped"},
    ]  # fmt: skip
    plain = _manifest("999002", "乙县", "Yi County", "school_tiers", "ok")
    html = index_page.render_index(REGION, [run, plain], page_dir=root, root=root, generated=WHEN)
    rows = html.split('<tbody class="unit"')[1:]
    assert "无数据（数据中无此类设施）" in rows[0]
    assert "no data (no facilities of this kind in the data)" in rows[0]
    assert "0.0%" in rows[0]  # a real zero stays a number
    assert "有提示：1 项未分析" in rows[0] and "with warnings: 1 skipped" in rows[0]
    assert "高中：数据中没有该层级的学校，未分析" in rows[0]
    assert "有提示" not in rows[1] and 'class="warns"' not in rows[1]
    assert "共 2 项：成功 2" in html  # ok with warnings is still ok


def test_warnings_read_from_the_figures_file_when_the_manifest_has_none(tmp_path: Path) -> None:
    import json

    root = tmp_path / "project"
    run = _manifest("999001", "甲县", "Jia County", "services", "ok")
    run.pop("figures")
    rel = "data/processed/demo/999001/services_figures.json"
    run["outputs"].append({"path": rel, "bytes": 1, "sha256": "00"})
    (root / rel).parent.mkdir(parents=True)
    warning = {
        "section": "road_links",
        "zh": "乡镇驻地道路连通：无",
        "en": "Township road links: none",
    }
    (root / rel).write_text(json.dumps({"figures": [], "warnings": [warning]}), "utf-8")
    html = index_page.render_index(REGION, [run], page_dir=root, root=root, generated=WHEN)
    assert "乡镇驻地道路连通：无" in html and "有提示：1 项未分析" in html


# --------------------------------------------------------------------------- China Standard Time


@pytest.mark.parametrize(
    ("when", "zh"),
    [
        (dt.datetime(2026, 12, 4, 8, 21, 59, tzinfo=dt.UTC), "2026-12-04 16:21 北京时间 (UTC+8)"),
        # late evening UTC is the next morning in Beijing
        (dt.datetime(2026, 12, 31, 20, 5, tzinfo=dt.UTC), "2027-01-01 04:05 北京时间 (UTC+8)"),
        # from another zone (UTC-5): 11:00 there is 16:00 UTC, 00:00 the next day in Beijing
        (
            dt.datetime(2026, 6, 1, 11, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
            "2026-06-02 00:00 北京时间 (UTC+8)",
        ),
        (WHEN, "2026-11-28 21:40 北京时间 (UTC+8)"),  # already UTC+8: unchanged
    ],
)
def test_china_time(when: dt.datetime, zh: str) -> None:
    assert clock.china_time(when) == zh
    assert clock.china_time(when, lang="en") == zh.replace("北京时间", "China Standard Time")


def test_china_time_of_manifest_texts() -> None:
    assert clock.china_time_text("2026-11-28T13:40:12+00:00") == "2026-11-28 21:40 北京时间 (UTC+8)"
    # the batch runner's UTC times; a time without a zone is read as UTC
    assert clock.china_time_text("2026-11-28T16:00:00") == "2026-11-29 00:00 北京时间 (UTC+8)"
    assert clock.china_time_text("yesterday") == "yesterday"  # not a time: left as it is
    now = clock.china_time(lang="en")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d China Standard Time \(UTC\+8\)", now)
    with pytest.raises(ValidationError, match="datetime"):
        clock.china_time("2026-11-28")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- a province


#: Unit names whose pinyin order is their order here (安 an, 北 bei, 城 cheng …); their
#: code points are in another order, so a plain string sort gets them wrong.
PINYIN_ORDER = ["安县", "北县", "城县", "东县", "丰县", "高县", "华县", "吉县", "开县", "林县",
                "明县", "南县", "平县"]  # fmt: skip
#: Prefecture of each unit, by position in the region (None: in no prefecture).
PREFECTURE_OF = ["甲市", "乙市", "甲市", "丙市", "甲市", "乙市", None, "甲市", "丙市", "乙市",
                 "甲市", "丙市", "乙市"]  # fmt: skip
PREFECTURE_EN = {"甲市": "Jia City", "乙市": "Yi City", "丙市": "Bing City"}
CLAIM = "bus_every_village"


def _province() -> tuple[Region, list[dict[str, Any]]]:
    """13 units in three prefectures and none, two notebooks each, statuses, times and
    verdicts drawn at random (fixed seed)."""
    import random

    rng = random.Random(7)
    names = PINYIN_ORDER[:]
    rng.shuffle(names)
    assert names != PINYIN_ORDER and sorted(names) != PINYIN_ORDER
    units = tuple(
        Unit(
            f"4101{i:02d}",
            name,
            f"{chr(ord('M') - i)}{name[0]} County",  # English order differs from both
            prefecture=PREFECTURE_OF[i] or "",
            prefecture_en=PREFECTURE_EN.get(PREFECTURE_OF[i] or "", ""),
        )
        for i, name in enumerate(names)
    )
    region = Region(name="prov", label_zh="测试省", label_en="Test Province", units=units)
    runs = []
    for i, u in enumerate(units):
        for notebook in ("facility_access", "services"):
            status = "ok"
            if notebook == "services":
                status = ("failed", "missing", "ok", "ok")[i % 4]
            elif i % 5 == 2:
                status = "failed"
            run = {
                "region": "prov",
                "unit": u.code,
                "unit_name": u.name,
                "unit_name_en": u.name_en,
                "notebook": notebook,
                "status": status,
                "seconds": rng.choice([5.0, 9.5, 95.0, 120.0, 1200.0, 40.0]) + rng.random(),
            }
            if notebook == "facility_access" and status == "ok":
                share = rng.choice([0.08, 0.5, 0.87, 0.96, 1.0, 0.123])
                state = "holds" if share >= 0.95 else "not_met"
                run["verdicts"] = [
                    {"claim": CLAIM, "state": state, "value": share, "unit": "share", "reasons": []}
                ]
            runs.append(run)
    return region, runs


def test_a_province_page_groups_units_by_prefecture_without_script(tmp_path: Path) -> None:
    region, runs = _province()
    html = index_page.render_index(region, runs, page_dir=tmp_path, root=tmp_path)
    runs_table = html.split('<table id="runs">')[1]
    # a header per prefecture, in the order of their first unit, with its number of units;
    # the units in none last
    heads = re.findall(r'<tr class="ghead"><th colspan="7" scope="colgroup">(.*?)</th>', runs_table)
    expected = ["甲市", "乙市", "丙市"]
    assert [re.search(r'lang="zh-CN">([^<]*)<', h).group(1) for h in heads[:3]] == expected
    assert "未归入地级市" in heads[3] and len(heads) == 4
    for head, name in zip(heads, [*expected, None], strict=True):
        n = PREFECTURE_OF.count(name)
        assert f"{n} 个单元" in head and f"{n} units" in head
    # every unit's block sits under its prefecture's header
    blocks = runs_table.split('<tbody class="ghead"')[1:]
    for block, name in zip(blocks, [*expected, None], strict=True):
        codes = re.findall(r'<tbody class="unit" data-group="\d+" data-unit="(\d+)"', block)
        assert codes == [u.code for u, p in zip(region.units, PREFECTURE_OF) if p == name]
    # the filter bar is there for the script only: without it the page is plain tables
    assert '<div id="filters" hidden' in html


def _order(p: Any, table: str) -> list[str]:
    """Unit codes of the shown rows (units table) or blocks (runs table), top to bottom."""
    sel = "#verdicts tr[data-unit]" if table == "units" else "#runs tbody.unit"
    return p.eval_on_selector_all(
        sel, "els => els.filter(e => !e.hidden).map(e => e.getAttribute('data-unit'))"
    )


def _groups_of(region: Region, codes: list[str]) -> list[list[str]]:
    """``codes`` split by prefecture, prefectures in the page's order."""
    where = {u.code: u.prefecture for u in region.units}
    return [[c for c in codes if where[c] == p] for p in ("甲市", "乙市", "丙市", "")]


def _in_groups(region: Region, codes: list[str]) -> list[str]:
    """``codes`` in their order within each prefecture, prefectures in the page's order."""
    return [c for group in _groups_of(region, codes) for c in group]


def test_a_province_page_sorts_and_filters_in_a_browser(
    browser: MapBrowser, tmp_path: Path
) -> None:
    region, runs = _province()
    path = index_page.write_index(region, runs, tmp_path / "index.html", root=tmp_path)
    names = {u.code: u.name for u in region.units}
    names_en = {u.code: u.name_en for u in region.units}
    share = {r["unit"]: r["verdicts"][0]["value"] for r in runs if r.get("verdicts")}
    state = {r["unit"]: r["verdicts"][0]["state"] for r in runs if r.get("verdicts")}
    seconds: dict[str, float] = {}
    for r in runs:
        seconds[r["unit"]] = seconds.get(r["unit"], 0.0) + r["seconds"]
    codes = [u.code for u in region.units]
    page = browser.open_page(path)
    try:
        p = page.page
        assert p.is_visible("#filters")
        assert _order(p, "units") == _order(p, "runs") == _in_groups(region, codes)
        # sort by name: pinyin order within each prefecture
        p.click("#verdicts thead th:nth-child(1) button")
        pinyin = sorted(codes, key=lambda c: PINYIN_ORDER.index(names[c]))
        assert _order(p, "units") == _in_groups(region, pinyin)
        assert p.get_attribute("#verdicts thead th:nth-child(1)", "aria-sort") == "ascending"
        # again: reversed
        p.click("#verdicts thead th:nth-child(1) button")
        assert _order(p, "units") == _in_groups(region, pinyin[::-1])
        # a figure: by value, numerically; units without a verdict last, either way
        column = f'#verdicts thead th[data-claim="{CLAIM}"] button'
        p.click(column)
        valued = sorted(share, key=lambda c: (share[c], codes.index(c)))
        unvalued = [c for c in codes if c not in share]
        assert unvalued  # some units have no verdict
        assert _order(p, "units") == _in_groups(region, valued + unvalued)
        p.click(column)
        down = sorted(share, key=lambda c: (-share[c], codes.index(c)))
        assert _order(p, "units") == _in_groups(region, down + unvalued)
        # the runs table: unit blocks by their total time, numerically
        p.click("#runs thead th:nth-child(5) button")
        by_time = sorted(codes, key=lambda c: (seconds[c], codes.index(c)))
        assert _order(p, "runs") == _in_groups(region, by_time)
        assert sorted(seconds.values()) != sorted(seconds.values(), key=str)  # not as text

        # filter by status: only failed runs, and the units that have one
        p.select_option("#f-status", "failed")
        failed = {r["unit"] for r in runs if r["status"] == "failed"}
        shown_rows = p.eval_on_selector_all(
            "#runs tr[data-status]",
            "els => els.filter(e => !e.hidden && !e.closest('tbody').hidden)"
            ".map(e => e.getAttribute('data-status'))",
        )
        assert shown_rows == ["failed"] * sum(r["status"] == "failed" for r in runs)
        assert set(_order(p, "runs")) == set(_order(p, "units")) == failed
        # each shown block starts with its unit's name, spanning its shown rows
        heads = p.eval_on_selector_all(
            "#runs tbody.unit:not([hidden])",
            "els => els.map(tb => { const r = [...tb.rows].find(r => !r.hidden);"
            " const th = r.querySelector('th'); return th ? th.rowSpan : 0; })",
        )
        n_failed = {c: sum(r["status"] == "failed" for r in runs if r["unit"] == c) for c in failed}
        assert max(n_failed.values()) == 2  # a unit whose both runs failed
        assert heads == [n_failed[c] for c in _order(p, "runs")]
        counts = p.eval_on_selector_all(
            "#runs .gcount", "els => els.map(e => e.closest('tr').hidden ? null : e.innerText)"
        )
        for text, group in zip(counts, _groups_of(region, codes), strict=True):
            shown = len([c for c in group if c in failed])
            assert text == (f"显示 {shown} / {len(group)} 个单元" if shown else None)
        assert p.inner_text("#shown") == f"显示 {len(failed)} / {len(codes)} 个单元"

        # filter by verdict: the claim not met
        p.select_option("#f-status", "")
        p.select_option("#f-claim", CLAIM)
        p.select_option("#f-verdict", "not_met")
        assert set(_order(p, "units")) == {c for c in codes if state.get(c) == "not_met"}
        assert set(_order(p, "runs")) == set(_order(p, "units"))
        p.select_option("#f-verdict", "not_run")
        assert set(_order(p, "units")) == set(unvalued)
        # by name (or English name, or code)
        p.select_option("#f-verdict", "")
        p.fill("#f-name", "安")
        assert _order(p, "units") == [c for c in codes if names[c] == "安县"]
        p.fill("#f-name", names_en[codes[3]].lower())
        assert _order(p, "runs") == [codes[3]]
        p.fill("#f-name", "")
        assert set(_order(p, "runs")) == set(codes)
        assert p.inner_text("#runs .gcount") == f"{PREFECTURE_OF.count('甲市')} 个单元"

        # in English: option texts, and the name sort by English names
        p.click("#lang-switch")
        assert p.inner_text("#f-status option[value=failed]") == "failed"
        p.click("#runs thead th:nth-child(1) button")
        english = sorted(codes, key=lambda c: (names_en[c].casefold(), codes.index(c)))
        assert _order(p, "runs") == _in_groups(region, english)
        assert english != pinyin
        assert page.blocked == [] and page.console_errors == [] and page.page_errors == []
    finally:
        page.close()
