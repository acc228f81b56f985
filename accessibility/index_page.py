"""The index page of a batch run: every unit × notebook of a region, its status, key figures and files.

Design
------
In:  a :class:`~accessibility.regions.Region` and the run manifests of a batch (one
     dict per unit and notebook, written by the batch runner; placeholders with
     ``"status": "missing"`` for runs not made yet). Paths inside manifests are
     relative to the project root, POSIX style.
Out: ``maps/<region>/index.html``: one self-contained page (inline CSS and a few
     lines of inline JavaScript; no external resource, no web font, no network
     address), readable offline from ``file://`` and on paper. It shows

     - the region's name, the red synthetic-data notice when the region is
       synthetic, how many runs are ok / failed / interrupted / not run, and when
       the page was made (in China Standard Time, 北京时间 UTC+8, as are the runs'
       start and end times);
     - a table with one block of rows per unit and one row per notebook: status
       (成功 / 失败 / 中断 / 未运行), the run's key figures (formatted: percent with
       one decimal, counts with thousands separators, minutes with one decimal), its
       time and peak memory, and relative links to its map, workbook, PNG,
       GeoPackage, executed notebook and log — only to files that exist;
     - for a failed run, its error message and the failing cell;
     - for a run that is ok with warnings (sections it skipped because their inputs
       are not in the data, the manifest's ``warnings``), "成功（有提示）" and each
       warning under its key figures;
     - a figure with status ``no_data`` (no facility of its group in the data) as
       "无数据（数据中无此类设施）", never as 0 %;
     - above it, when runs gave verdicts, a row per unit: its runs by status and its
       verdict (badge, value) on each claim of ``rules/claims.yml``.

     Both tables are grouped by prefecture (``Unit.prefecture``, written by
     ``regions from-extract``): a header row per prefecture with its number of units,
     units in no prefecture last; no header when no unit has one. For a province of
     about 160 units the inline script adds, without any library: sorting by a
     column (click its header, again to reverse; within each prefecture; numbers
     numerically with empty cells last, names in pinyin order through
     ``Intl.Collator``, English names in English), and a filter bar (name or code,
     run status, claim and verdict) that hides the other units and runs and shows
     "显示 k / n 个单元" per prefecture. Without the script the page is the same
     plain tables, the filter bar hidden.

     Chinese by default; a button switches every text to English (both languages
     are in the page; ``#en`` at the end of the address opens it in English).
     Every string taken from a manifest is escaped.

A manifest whose status is ``running`` belongs to a run that started and did not
finish: unless the batch is still going (``live=True``) it was interrupted, and is
shown as 中断 / interrupted with a tooltip saying so.

Tests: ``tests/test_index_page.py`` (links, formatting, escaping, no external
address, the language switch, grouping, sorting and filtering in Chromium) and ``tests/test_browser.py`` (the page of
a real sample run, offline).
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Final
from urllib.parse import quote

from ._errors import ValidationError
from .clock import china_time, china_time_text
from .export import (
    check_figures,
    check_verdicts,
    check_warnings,
    read_figures,
    read_verdicts,
    read_warnings,
    write_text,
)
from .labels import LANGS, keys, label
from .regions import Region
from .settings import settings
from .verdicts import claims, number_text

__all__ = ["LINKS", "STATUSES", "format_figure", "render_index", "write_index"]

log = logging.getLogger(__name__)

#: Statuses a manifest may give.
STATUSES: Final[tuple[str, ...]] = ("ok", "failed", "running", "missing")
#: Notebooks in the order they are listed (others follow, alphabetically).
NOTEBOOK_ORDER: Final[tuple[str, ...]] = (
    "facility_access",
    "reading_circle",
    "school_tiers",
    "services",
)
#: Links of a run, in order: kind → file suffix among the outputs (``None``: a
#: manifest field instead).
LINKS: Final[tuple[tuple[str, str | None], ...]] = (
    ("map", ".html"),
    ("xlsx", ".xlsx"),
    ("png", ".png"),
    ("gpkg", ".gpkg"),
    ("notebook", None),
    ("log", None),
)
#: Longest error text shown (characters); the executed notebook has all of it.
MAX_ERROR_CHARS: Final[int] = 2_000

_CSS: Final[str] = """
:root { color-scheme: light; }
html[data-lang="zh"] .en, html[data-lang="en"] .zh { display: none; }
body {
  margin: 24px auto; max-width: 1280px; padding: 0 16px; color: #1b1b1b; background: #fff;
  font: 14px/1.5 "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC",
    "WenQuanYi Micro Hei", "Helvetica Neue", Arial, sans-serif;
}
header { display: flex; align-items: flex-start; justify-content: space-between; gap: 16px; }
h1 { font-size: 22px; margin: 0 0 6px; }
.syn { color: #b00020; font-weight: 700; border: 2px solid #b00020; padding: 4px 10px;
  display: inline-block; margin: 4px 0 8px; }
.meta { color: #333; margin: 2px 0; }
.note { color: #555; font-size: 12px; margin: 2px 0 12px; }
#lang-switch { font: inherit; padding: 6px 14px; border: 1px solid #1f2a5c; background: #1f2a5c;
  color: #fff; border-radius: 4px; cursor: pointer; white-space: nowrap; }
#lang-switch:focus { outline: 3px solid #f0a500; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #c8c8c8; padding: 6px 8px; vertical-align: top; text-align: left; }
thead th { background: #eef0f5; position: sticky; top: 0; }
tbody th { background: #f7f7f7; min-width: 7em; }
tbody th small { display: block; color: #666; font-weight: normal; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
.st { display: inline-block; padding: 1px 8px; border-radius: 10px; font-weight: 700;
  white-space: nowrap; border: 1px solid transparent; }
.st-ok { background: #e3f4e6; color: #14612a; border-color: #8cc79a; }
.st-failed { background: #fde4e4; color: #a1001b; border-color: #e79a9a; }
.st-interrupted { background: #fff1d6; color: #7a4a00; border-color: #e6b75c; }
.st-running { background: #e2ecfb; color: #1a4b99; border-color: #8eb0e6; }
.st-missing, .st-unknown { background: #eeeeee; color: #555; border-color: #c8c8c8; }
.sub { display: block; color: #666; font-size: 12px; }
ul.figs { list-style: none; margin: 0; padding: 0; }
ul.figs li { display: flex; justify-content: space-between; gap: 12px; border-bottom: 1px dotted #ddd; }
ul.figs li:last-child { border-bottom: 0; }
ul.figs b { white-space: nowrap; font-variant-numeric: tabular-nums; }
.err { color: #a1001b; }
.err pre { white-space: pre-wrap; word-break: break-word; margin: 0 0 4px; font-size: 12px;
  background: #fff6f6; border-left: 3px solid #a1001b; padding: 4px 6px; max-height: 12em; overflow: auto; }
td.figures { min-width: 22em; }
td.files { width: 10em; }
.links a { margin-right: 8px; white-space: nowrap; display: inline-block; }
.none { color: #888; }
.st-warn { display: block; color: #7a4a00; font-size: 12px; }
ul.warns { margin: 6px 0 0; padding-left: 1.2em; color: #7a4a00; font-size: 12px; }
ul.figs li.nodata b { color: #666; font-weight: normal; }
#verdicts { margin-bottom: 18px; }
#verdicts td { text-align: center; white-space: nowrap; }
.vd { display: inline-block; padding: 1px 8px; border-radius: 3px; color: #fff; font-weight: 700; }
.vd-holds { background: #1a7f37; } .vd-not_met { background: #c62828; } .vd-cannot_tell { background: #8a6d00; }
.vv { display: block; font-size: 12px; color: #333; font-variant-numeric: tabular-nums; }
[hidden] { display: none !important; }
#filters { display: flex; flex-wrap: wrap; gap: 6px 18px; align-items: center; margin: 10px 0 14px;
  padding: 8px 10px; background: #f4f6fa; border: 1px solid #d5dae6; border-radius: 4px; }
#filters select, #filters input { font: inherit; padding: 2px 4px; }
#shown { color: #333; font-weight: 700; }
tr.ghead th { background: #dfe5f2; font-size: 15px; text-align: left; border-top: 2px solid #1f2a5c; }
.gcount { font-weight: normal; color: #444; font-size: 13px; margin-left: 6px; }
button.sort { font: inherit; font-weight: 700; color: inherit; background: none; border: 0;
  padding: 0; cursor: pointer; text-align: left; }
button.sort::after { content: " \\2195"; color: #999; }
th[aria-sort=ascending] button.sort::after { content: " \\25B2"; color: #1f2a5c; }
th[aria-sort=descending] button.sort::after { content: " \\25BC"; color: #1f2a5c; }
@media print {
  #filters { display: none; }
  @page { size: A4 landscape; margin: 12mm; }
  body { margin: 0; max-width: none; font-size: 10pt; }
  #lang-switch { display: none; }
  thead th { position: static; }
  tbody { break-inside: avoid; }
  a { color: #000; }
  .err pre { max-height: none; overflow: visible; }
  .st { border-color: #000; }
}
"""

_JS: Final[str] = """
(function () {
  var root = document.documentElement;
  var each = function (list, f) { Array.prototype.forEach.call(list, f); };
  var $ = function (sel) { return document.querySelectorAll(sel); };
  var collate = {};
  try {
    collate.zh = new Intl.Collator("zh-Hans-CN-u-co-pinyin", {numeric: true}).compare;
    collate.en = new Intl.Collator("en", {numeric: true, sensitivity: "base"}).compare;
  } catch (e) {
    collate.zh = collate.en = function (a, b) { return a < b ? -1 : a > b ? 1 : 0; };
  }
  var sorted = null;  // {table, col, type, dir}

  /* ---- sorting: units table rows, or runs table unit blocks, within each prefecture */
  function value(item, col) {
    var row = item.tagName === "TR", el = row ? item.cells[col] : item;
    var key = "data-v" + (row ? "" : col);
    var en = root.getAttribute("data-lang") === "en" && el.getAttribute(key + "-en");
    return en || el.getAttribute(key) || "";
  }
  function compare(type, dir, col) {
    var text = collate[root.getAttribute("data-lang")] || collate.zh;
    return function (a, b) {
      var x = value(a, col), y = value(b, col);
      if (x === "" || y === "") return (x === "") - (y === "") || a._i - b._i;
      var d = type === "num" ? parseFloat(x) - parseFloat(y) : text(x, y);
      return d * dir || a._i - b._i;
    };
  }
  function sortTable(table, col, type, dir) {
    var cmp = compare(type, dir, col);
    if (table.id === "runs") {
      var order = [], blocks = {};
      each(table.tBodies, function (tb, i) {
        var g = tb.getAttribute("data-group");
        if (!blocks[g]) { blocks[g] = {head: null, items: []}; order.push(g); }
        if (tb.classList.contains("ghead")) blocks[g].head = tb;
        else { if (tb._i === undefined) tb._i = i; blocks[g].items.push(tb); }
      });
      order.forEach(function (g) {
        if (blocks[g].head) table.appendChild(blocks[g].head);
        blocks[g].items.sort(cmp).forEach(function (tb) { table.appendChild(tb); });
      });
    } else {
      each(table.tBodies, function (tb) {
        var rows = Array.prototype.filter.call(tb.rows, function (r) { return r.hasAttribute("data-unit"); });
        rows.forEach(function (r, i) { if (r._i === undefined) r._i = i; });
        rows.sort(cmp).forEach(function (r) { tb.appendChild(r); });
      });
    }
    each(table.tHead.rows[0].cells, function (th, i) {
      if (th.hasAttribute("data-type")) {
        th.setAttribute("aria-sort", i === col ? (dir > 0 ? "ascending" : "descending") : "none");
      }
    });
    sorted = {table: table, col: col, type: type, dir: dir};
  }
  each($("table thead th[data-type]"), function (th) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "sort";
    while (th.firstChild) button.appendChild(th.firstChild);
    th.appendChild(button);
    th.setAttribute("aria-sort", "none");
    th.setAttribute("data-tip-zh", root.getAttribute("data-sort-zh"));
    th.setAttribute("data-tip-en", root.getAttribute("data-sort-en"));
    button.addEventListener("click", function () {
      var table = th.closest("table"), col = th.cellIndex;
      var dir = sorted && sorted.table === table && sorted.col === col ? -sorted.dir : 1;
      sortTable(table, col, th.getAttribute("data-type"), dir);
    });
  });

  /* ---- filtering by name, run status and verdict */
  var bar = document.getElementById("filters");
  var field = function (id) { return document.getElementById(id); };
  function both(name, fill) {
    var out = [];
    ["zh", "en"].forEach(function (lang) {
      var span = document.createElement("span");
      span.className = lang;
      span.lang = lang === "zh" ? "zh-CN" : "en";
      span.textContent = bar.getAttribute("data-" + name + "-" + lang).replace(/\\{(\\w+)\\}/g, function (_, k) { return fill[k]; });
      out.push(span);
    });
    return out;
  }
  function matches(status, want) {
    return !want || status === want || (want === "failed" && status === "unknown");
  }
  function filter() {
    var q = field("f-name").value.trim().toLowerCase(), st = field("f-status").value;
    var claim = field("f-claim") ? field("f-claim").value : "";
    var verdict = field("f-verdict") ? field("f-verdict").value : "";
    var active = !!(q || st || verdict), keep = {}, shown = {}, total = 0;
    each($("#verdicts tr[data-unit]"), function (row) {
      var ok = !verdict;
      each(row.querySelectorAll("td[data-state]"), function (td) {
        if (td.getAttribute("data-state") === verdict && (!claim || td.getAttribute("data-claim") === claim)) ok = true;
      });
      keep[row.getAttribute("data-unit")] = ok;
    });
    each($("#runs tbody.unit"), function (tb) {
      var unit = tb.getAttribute("data-unit"), rows = [];
      var ok = keep[unit] !== false && (!q || tb.getAttribute("data-search").indexOf(q) >= 0);
      each(tb.rows, function (r) {
        var on = ok && (st === "warn" ? r.hasAttribute("data-warn") : matches(r.getAttribute("data-status"), st));
        r.hidden = !on;
        if (on) rows.push(r);
      });
      var head = tb.querySelector("th[scope=rowgroup]");
      if (rows.length) {
        if (head.parentNode !== rows[0]) rows[0].insertBefore(head, rows[0].firstChild);
        head.rowSpan = rows.length;
      }
      tb.hidden = !rows.length;
      keep[unit] = rows.length > 0;
      var g = tb.getAttribute("data-group");
      shown[g] = (shown[g] || 0) + (rows.length ? 1 : 0);
      total += rows.length ? 1 : 0;
    });
    each($("#verdicts tr[data-unit]"), function (row) { row.hidden = !keep[row.getAttribute("data-unit")]; });
    each($(".gcount"), function (span) {
      var n = span.getAttribute("data-n"), g = span.getAttribute("data-group");
      span.replaceChildren.apply(span, both(active ? "shown" : "count", {n: n, shown: shown[g] || 0}));
      span.closest(".ghead").hidden = active && !shown[g];
    });
    var all = field("shown");
    all.replaceChildren.apply(all, both(active ? "shown" : "count", {n: all.getAttribute("data-n"), shown: total}));
  }
  if (bar) {
    bar.hidden = false;
    each(bar.querySelectorAll("select"), function (s) { s.addEventListener("change", filter); });
    field("f-name").addEventListener("input", filter);
  }

  /* ---- language */
  function show(lang) {
    root.setAttribute("data-lang", lang);
    root.setAttribute("lang", lang === "en" ? "en" : "zh-CN");
    var tips = document.querySelectorAll("[data-tip-zh]");
    for (var i = 0; i < tips.length; i++) {
      tips[i].setAttribute("title", tips[i].getAttribute("data-tip-" + lang));
    }
    each($("option[data-zh]"), function (o) { o.textContent = o.getAttribute("data-" + lang); });
    document.title = root.getAttribute("data-title-" + lang);
    var button = document.getElementById("lang-switch");
    button.setAttribute("aria-pressed", lang === "en" ? "true" : "false");
    if (sorted) sortTable(sorted.table, sorted.col, sorted.type, sorted.dir);
  }
  document.getElementById("lang-switch").addEventListener("click", function () {
    show(root.getAttribute("data-lang") === "en" ? "zh" : "en");
  });
  show(location.hash === "#en" ? "en" : "zh");
})();
"""


# --------------------------------------------------------------------------- text helpers


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _both(zh: str, en: str) -> str:
    """Both languages of one text, escaped; CSS shows the chosen one."""
    return f'<span class="zh" lang="zh-CN">{_esc(zh)}</span><span class="en" lang="en">{_esc(en)}</span>'


def _texts(key: str, **fields: Any) -> tuple[str, str]:
    """A label in both languages, filled in; a field may be a ``(zh, en)`` pair."""
    out = []
    for i, lang in enumerate(LANGS):
        filled = {k: (v[i] if isinstance(v, tuple) else v) for k, v in fields.items()}
        out.append(label(key, lang=lang).format(**filled))
    return out[0], out[1]


def _bi(key: str, **fields: Any) -> str:
    return _both(*_texts(key, **fields))


def _tip(zh: str, en: str) -> str:
    """Attributes of an element whose tooltip follows the language switch."""
    return f' title="{_esc(zh)}" data-tip-zh="{_esc(zh)}" data-tip-en="{_esc(en)}"'


def format_figure(
    value: float | int | None, fmt: str, *, lang: str = "zh", status: str | None = None
) -> str:
    """A key figure as shown on the page.

    ``percent``: a 0–1 share with one decimal (``0.9234`` → ``92.3%``); ``count``:
    rounded, with thousands separators (``1,234``); ``minutes``: one decimal and the
    unit (``12.5 分钟`` / ``12.5 min``); ``number``: thousands separators and at most
    two decimals. ``None`` → ``无数据`` / ``n/a``; status ``no_data`` →
    ``无数据（数据中无此类设施）`` / ``no data (no facilities of this kind in the data)``.
    """
    if status == "no_data":
        return label("figure.no_data", lang=lang)
    if value is None:
        return label("index_ui.not_available", lang=lang)
    if fmt == "percent":
        return f"{value * 100:.1f}%"
    if fmt == "count":
        return f"{round(value):,}"
    if fmt == "minutes":
        return f"{value:,.1f} {label('index_ui.minutes', lang=lang)}"
    if isinstance(value, int):
        return f"{value:,}"
    text = f"{value:,.2f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


# --------------------------------------------------------------------------- manifests


def _status(run: Mapping[str, Any], live: bool) -> str:
    status = run.get("status")
    if status == "running":
        return "running" if live else "interrupted"
    return str(status) if status in STATUSES else "unknown"


def _inside(root: Path, rel: Any) -> Path | None:
    """The file a manifest path names, when it is relative, inside the root and exists."""
    if not isinstance(rel, str) or not rel.strip():
        return None
    pure = PurePosixPath(rel.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts or (pure.parts and ":" in pure.parts[0]):
        log.warning("manifest path %r is not relative to the project root; not linked", rel)
        return None
    target = root.joinpath(*pure.parts)
    return target if target.is_file() else None


def _href(target: Path, page_dir: Path) -> str:
    rel = Path(os.path.relpath(target.resolve(), page_dir.resolve())).as_posix()
    return quote(rel, safe="/")


def _files(run: Mapping[str, Any], root: Path) -> dict[str, Path]:
    """Link kind → existing file of one run."""
    outputs = [o.get("path") for o in run.get("outputs") or [] if isinstance(o, Mapping)]
    found: dict[str, Path] = {}
    for kind, suffix in LINKS:
        if suffix is not None:
            candidates = [p for p in outputs if isinstance(p, str) and p.lower().endswith(suffix)]
        else:
            candidates = [run.get("executed_notebook" if kind == "notebook" else "log")]
        for rel in candidates:
            target = _inside(root, rel)
            if target is not None:
                found[kind] = target
                break
    return found


def _figures(run: Mapping[str, Any], root: Path, where: str) -> list[dict[str, Any]]:
    """The run's key figures: from the manifest, else from its ``*_figures.json`` output."""
    return _from_run(run, root, where, "figures", check_figures, read_figures)


def _from_run(
    run: Mapping[str, Any],
    root: Path,
    where: str,
    key: str,
    check: Callable[..., list],
    read: Callable[[Path], list],
) -> list[dict[str, Any]]:
    """One list of a run (figures, verdicts): the manifest's when it has one, else its
    ``*_figures.json`` output's; none, with the reason logged, when invalid."""
    try:
        if run.get(key):
            return check(list(run[key]), where=where)
        for out in run.get("outputs") or []:
            rel = out.get("path") if isinstance(out, Mapping) else None
            if isinstance(rel, str) and rel.endswith("_figures.json"):
                target = _inside(root, rel)
                if target is not None:
                    return read(target)
    except ValidationError as exc:
        log.warning("%s not shown: %s", "key figures" if key == "figures" else key, exc)
    return []


def _unit_names(
    region: Region, code: str | None, runs: Sequence[Mapping[str, Any]]
) -> tuple[str, str]:
    for run in runs:
        if run.get("unit_name"):
            zh = str(run["unit_name"])
            return zh, str(run.get("unit_name_en") or zh)
    if code is None:
        if len(region.units) == 1:
            u = region.units[0]
            return u.name, u.label("en")
        return region.label_zh, region.label_en
    for u in region.units:
        if u.code == code:
            return u.name, u.label("en")
    return code, code


def _order(notebook: str) -> tuple[int, str]:
    return (
        NOTEBOOK_ORDER.index(notebook) if notebook in NOTEBOOK_ORDER else len(NOTEBOOK_ORDER),
        notebook,
    )


def _notebook_names(notebook: str) -> tuple[str, str]:
    if notebook in keys("index_notebook"):
        return _texts(f"index_notebook.{notebook}")
    return notebook, notebook


def _grouped(
    region: Region, runs: Sequence[Mapping[str, Any]]
) -> list[tuple[str | None, list[Mapping[str, Any]]]]:
    """Runs per unit (units in the region's order, then others), notebooks in order."""
    by_unit: dict[str | None, dict[str, Mapping[str, Any]]] = {}
    for run in runs:
        if not isinstance(run, Mapping):
            msg = f"every run must be a manifest (a dict); got {type(run).__name__}"
            raise ValidationError(msg)
        if run.get("region") not in (None, region.name):
            log.warning(
                "manifest of region %r left out of the index of %r", run.get("region"), region.name
            )
            continue
        notebook = run.get("notebook")
        if not isinstance(notebook, str) or not notebook:
            msg = f"a run manifest lacks its notebook name: {dict(run)!r:.200}"
            raise ValidationError(msg)
        unit = run.get("unit")
        code = None if unit is None else str(unit)
        slot = by_unit.setdefault(code, {})
        if notebook in slot:
            log.warning(
                "two manifests for unit %s, notebook %s: the later one is shown", code, notebook
            )
        slot[notebook] = run
    order = [u.code for u in region.units if u.code in by_unit]
    order += [u for u in by_unit if u not in order and u is not None]
    if None in by_unit:
        order.insert(0, None)
    return [
        (code, [by_unit[code][nb] for nb in sorted(by_unit[code], key=_order)]) for code in order
    ]


# --------------------------------------------------------------------------- units, prefectures

#: Sort rank of a status, worst first (a unit's rank is its worst run's).
STATUS_RANK: Final[dict[str, int]] = {
    "failed": 0,
    "unknown": 0,
    "interrupted": 1,
    "running": 2,
    "missing": 3,
    "ok": 4,
}


@dataclass
class _UnitInfo:
    """What the page shows of one unit: names, runs' statuses, verdicts, its run rows."""

    code: str
    zh: str
    en: str
    head: str
    search: str
    counts: dict[str, int] = field(default_factory=dict)
    warned: bool = False
    seconds: float | None = None
    memory: float | None = None
    verdicts: dict[str, dict[str, Any]] = field(default_factory=dict)
    rows: list[str] = field(default_factory=list)

    @property
    def rank(self) -> int:
        return min((STATUS_RANK.get(s, 0) for s in self.counts), default=STATUS_RANK["missing"])


@dataclass
class _Group:
    """The units of one prefecture (or all units, with no header, when none is known)."""

    index: int
    zh: str
    en: str
    codes: list[str]
    shown: bool = True


def _groups(region: Region, codes: Sequence[str]) -> list[_Group]:
    """Units by prefecture (``Unit.prefecture``), prefectures in the order their first
    unit comes; units in none last. One headless group when no unit has a prefecture."""
    by_code = {u.code: u for u in region.units}
    if not any(c in by_code and by_code[c].prefecture for c in codes):
        return [_Group(0, "", "", list(codes), shown=False)]
    keyed: dict[str, _Group] = {}
    for code in codes:
        unit = by_code.get(code)
        name = unit.prefecture if unit is not None else ""
        if name not in keyed:
            en = (unit.prefecture_en if unit is not None else "") or name
            keyed[name] = _Group(0, name, en, [])
        keyed[name].codes.append(code)
    if "" in keyed:
        keyed[""].zh, keyed[""].en = _texts("index_ui.no_prefecture")
        keyed[""] = keyed.pop("")  # last
    out = list(keyed.values())
    for i, g in enumerate(out):
        g.index = i
    return out


def _group_row(g: _Group, colspan: int, scope: str) -> str:
    """The header row of a prefecture's block: its name and how many units it has."""
    count = _bi("index_ui.group_count", n=len(g.codes))
    return (
        f'<tr class="ghead"><th colspan="{colspan}" scope="{scope}">{_both(g.zh, g.en)}'
        f' <span class="gcount" data-group="{g.index}" data-n="{len(g.codes)}">{count}</span>'
        "</th></tr>"
    )


def _unit_head(u: _UnitInfo, scope: str, rowspan: int = 0) -> str:
    span = f' rowspan="{rowspan}"' if rowspan else ""
    return (
        f'<th scope="{scope}"{span} data-v="{_esc(u.zh)}" data-v-en="{_esc(u.en)}" '
        f'data-search="{_esc(u.search)}">{u.head}</th>'
    )


def _runs_cell(u: _UnitInfo) -> str:
    """A unit's runs by status (worst first): badges with counts."""
    order = sorted(u.counts, key=lambda s: (STATUS_RANK.get(s, 0), s))
    badges = "".join(
        f'<span class="st st-{s}">{_bi(f"index_status.{s}")} {u.counts[s]}</span> ' for s in order
    )
    statuses = " ".join([*order, *(["warn"] if u.warned else [])])
    return f'<td data-v="{u.rank}" data-statuses="{statuses}">{badges.strip()}</td>'


# --------------------------------------------------------------------------- cells


def _status_cell(run: Mapping[str, Any], status: str, warnings: int = 0) -> str:
    tip = _texts(f"index_status_tip.{status}")
    if status == "unknown":
        raw = str(run.get("status"))
        tip = (f"{tip[0]}：{raw}", f"{tip[1]}: {raw}")
    parts = [f'<span class="st st-{status}"{_tip(*tip)}>{_bi(f"index_status.{status}")}</span>']
    if warnings:
        tip = _texts("index_ui.warnings_tip")
        parts.append(
            f'<span class="st-warn"{_tip(*tip)}>{_bi("index_ui.warnings", n=warnings)}</span>'
        )
    attempt = run.get("attempt")
    if isinstance(attempt, int) and not isinstance(attempt, bool) and attempt > 1:
        parts.append(f'<span class="sub">{_bi("index_ui.attempt", n=attempt)}</span>')
    return "".join(parts)


def _figures_cell(figures: list[dict[str, Any]]) -> str:
    if not figures:
        return ""
    items = []
    for f in figures:
        status = f.get("status")
        values = [
            format_figure(f["value"], f["format"], lang=lang, status=status) for lang in LANGS
        ]
        value = _esc(values[0]) if values[0] == values[1] else _both(*values)
        cls = ' class="nodata"' if status == "no_data" else ""
        items.append(
            f"<li{cls}><span>{_both(f['label_zh'], f['label_en'])}</span><b>{value}</b></li>"
        )
    return f'<ul class="figs">{"".join(items)}</ul>'


def _warnings(run: Mapping[str, Any], root: Path, where: str) -> list[dict[str, str]]:
    """The run's warnings: from the manifest, else from its ``*_figures.json`` output."""
    try:
        if run.get("warnings") is not None:
            return check_warnings(run["warnings"], where=where)
        for out in run.get("outputs") or []:
            rel = out.get("path") if isinstance(out, Mapping) else None
            if isinstance(rel, str) and rel.endswith("_figures.json"):
                target = _inside(root, rel)
                if target is not None:
                    return read_warnings(target)
    except ValidationError as exc:
        log.warning("warnings not shown: %s", exc)
    return []


def _verdicts(run: Mapping[str, Any], root: Path, where: str) -> list[dict[str, Any]]:
    """The run's verdicts: from the manifest, else from its ``*_figures.json`` output."""
    return _from_run(run, root, where, "verdicts", check_verdicts, read_verdicts)


def _verdict_cell(v: Mapping[str, Any] | None, key: str) -> str:
    if v is None:
        return f'<td class="none" data-claim="{_esc(key)}" data-state="not_run" data-v="">{_bi("verdict_index.not_run")}</td>'
    state = str(v["state"])
    reasons = v.get("reasons") or []
    tip = ""
    if reasons:
        tip = _tip("；".join(str(r.get("zh", "")) for r in reasons), "; ".join(str(r.get("en", "")) for r in reasons))
    value = v.get("value")
    number = _number(value)
    shown = number_text(number, str(v.get("unit", "share"))) if number is not None else ""
    sort = repr(number) if number is not None else ""
    return (
        f'<td data-claim="{_esc(v["claim"])}" data-state="{_esc(state)}" data-v="{sort}"{tip}>'
        f'<span class="vd vd-{_esc(state)}">{_bi(f"verdict_state.{state}")}</span>'
        f'<span class="vv">{_esc(shown)}</span></td>'
    )


def _units_table(groups: Sequence[_Group], units: Mapping[str, _UnitInfo]) -> str:
    """A row per unit, in its prefecture's block: its runs' statuses and a column per
    claim of ``rules/claims.yml`` (each verdict's badge and value)."""
    if not any(u.verdicts for u in units.values()):
        return ""
    claim_keys = [c.key for c in claims()]
    heads = (
        f'<th scope="col" data-type="text">{_bi("index_ui.unit")}</th>'
        f'<th scope="col" data-type="num">{_bi("index_ui.runs")}</th>'
        + "".join(
            f'<th scope="col" data-type="num" data-claim="{_esc(k)}">{_bi(f"verdict_short.{k}")}</th>'
            for k in claim_keys
        )
    )
    blocks = []
    for g in groups:
        rows = [_group_row(g, 2 + len(claim_keys), "tr")] if g.shown else []
        for code in g.codes:
            u = units[code]
            rows.append(
                f'<tr data-unit="{_esc(code)}">{_unit_head(u, "row")}'
                f"{_runs_cell(u)}"
                + "".join(_verdict_cell(u.verdicts.get(k), k) for k in claim_keys)
                + "</tr>"
            )
        blocks.append(f'<tbody class="grp" data-group="{g.index}">{"".join(rows)}</tbody>')
    return (
        f'<h2>{_bi("verdict_index.title")}</h2><p class="note">{_bi("verdict_index.note")}</p>'
        f'<table id="verdicts"><thead><tr>{heads}</tr></thead>{"".join(blocks)}</table>\n'
    )


def _warnings_list(warnings: list[dict[str, str]]) -> str:
    if not warnings:
        return ""
    items = "".join(f"<li>{_both(w['zh'], w['en'])}</li>" for w in warnings)
    return f'<ul class="warns">{items}</ul>'


def _error_cell(run: Mapping[str, Any], files: Mapping[str, Path], page_dir: Path) -> str:
    error = run.get("error")
    text = str(error) if error not in (None, "") else ""
    if len(text) > MAX_ERROR_CHARS:
        text = text[:MAX_ERROR_CHARS] + " …"
    parts = ['<div class="err">']
    if text:
        parts.append(f"<pre>{_esc(text)}</pre>")
    cell = run.get("failed_cell")
    if isinstance(cell, int) and not isinstance(cell, bool):
        parts.append(f'<span class="sub">{_bi("index_ui.failed_cell", cell=cell)}</span>')
    if "notebook" in files:
        href = _href(files["notebook"], page_dir)
        parts.append(f'<a class="lk lk-error" href="{_esc(href)}">{_bi("index_ui.error_see")}</a>')
    parts.append("</div>")
    return "".join(parts)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if value == value and abs(value) != float("inf") else None


def _time_cell(run: Mapping[str, Any]) -> tuple[str, str]:
    seconds = _number(run.get("seconds"))
    shown = _bi("index_ui.seconds") if seconds is not None else ""
    text = f"{seconds:,.1f} {shown}" if seconds is not None else ""
    stamps = [
        (label(f"index_ui.{k}", lang="zh"), label(f"index_ui.{k}", lang="en"), run.get(k))
        for k in ("started", "finished")
    ]
    stamps = [(zh, en, str(v)) for zh, en, v in stamps if v]
    tip = ""
    if stamps:  # manifests hold UTC ISO times: shown in China Standard Time
        tip = _tip(
            "；".join(f"{zh}：{china_time_text(v, lang='zh')}" for zh, _, v in stamps),
            "; ".join(f"{en}: {china_time_text(v, lang='en')}" for _, en, v in stamps),
        )
    memory = _number(run.get("peak_rss_mb"))
    mem = f"{memory:,.0f} MB" if memory is not None else ""
    return f'<td class="num"{tip}>{text}</td>', f'<td class="num">{mem}</td>'


def _links_cell(files: Mapping[str, Path], page_dir: Path) -> str:
    links = [
        f'<a class="lk lk-{kind}" href="{_esc(_href(files[kind], page_dir))}">'
        f"{_bi(f'index_link.{kind}')}</a>"
        for kind, _ in LINKS
        if kind in files
    ]
    return f'<span class="links">{"".join(links)}</span>' if links else ""


def _option(value: str, zh: str, en: str) -> str:
    """An option of a select: its text is switched with the language by the script."""
    return f'<option value="{_esc(value)}" data-zh="{_esc(zh)}" data-en="{_esc(en)}">{_esc(zh)}</option>'


def _filters(n_units: int, verdicts: bool) -> str:
    """The filter bar (shown by the script only: without it the page is a plain table)."""
    status = _option("", *_texts("index_ui.filter_all")) + "".join(
        _option(s, *_texts(f"index_status.{s}"))
        for s in ("ok", "failed", "interrupted", "running", "missing")
    )
    warn = _option("warn", *_texts("index_ui.filter_warnings"))
    status = status.replace('<option value="failed"', warn + '<option value="failed"', 1)
    parts = [
        f'<label>{_bi("index_ui.filter_name")} <input type="search" id="f-name" size="14"></label>',
        f'<label>{_bi("index_ui.filter_status")} <select id="f-status">{status}</select></label>',
    ]
    if verdicts:
        claim = _option("", *_texts("index_ui.filter_any_claim")) + "".join(
            _option(c.key, *_texts(f"verdict_short.{c.key}")) for c in claims()
        )
        states = ("holds", "not_met", "cannot_tell")
        state = (
            _option("", *_texts("index_ui.filter_all"))
            + "".join(_option(k, *_texts(f"verdict_state.{k}")) for k in states)
            + _option("not_run", *_texts("verdict_index.not_run"))
        )
        parts += [
            f'<label>{_bi("index_ui.filter_claim")} <select id="f-claim">{claim}</select></label>',
            f'<label>{_bi("index_ui.filter_verdict")} <select id="f-verdict">{state}</select></label>',
        ]
    templates = "".join(
        f' data-{name}-{lang}="{_esc(label(f"index_ui.group_{name}", lang=lang))}"'
        for name in ("count", "shown")
        for lang in LANGS
    )
    total = f'<span id="shown" data-n="{n_units}">{_bi("index_ui.group_count", n=n_units)}</span>'
    return f'<div id="filters" hidden{templates}>{"".join(parts)}{total}</div>\n'


# --------------------------------------------------------------------------- page


def render_index(
    region: Region,
    runs: Sequence[Mapping[str, Any]],
    *,
    page_dir: Path,
    root: Path,
    live: bool = False,
    generated: dt.datetime | None = None,
) -> str:
    """The index page as HTML text (see :func:`write_index`).

    Parameters
    ----------
    region
        The region of the runs.
    runs
        Run manifests (see :func:`write_index`).
    page_dir
        Folder the page will be saved in: links are relative to it.
    root
        Project root the manifests' paths are relative to.
    live
        The batch is still running: ``running`` means running, not interrupted.
    generated
        Time shown as the page's making (default: now), written in China Standard
        Time (``2026-12-04 16:21 北京时间 (UTC+8)``).

    Returns
    -------
    str
    """
    root = Path(root)
    counts = dict.fromkeys((*STATUSES, "interrupted", "unknown"), 0)
    units: dict[str, _UnitInfo] = {}
    prefectures = {u.code: (u.prefecture, u.prefecture_en) for u in region.units}
    for code, unit_runs in _grouped(region, runs):
        zh, en = _unit_names(region, code, unit_runs)
        head = _both(zh, en) + (f"<small>{_esc(code)}</small>" if code is not None else "")
        search = " ".join(
            t for t in (zh, en, code or "", *prefectures.get(code or "", ("", ""))) if t
        ).casefold()
        u = units[code or ""] = _UnitInfo(code or "", zh, en, head, search)
        for run in unit_runs:
            status = _status(run, live)
            counts[status] += 1
            u.counts[status] = u.counts.get(status, 0) + 1
            notebook = str(run["notebook"])
            where = f"manifest {region.name}/{code or '-'}/{notebook}"
            files = _files(run, root)
            warnings: list[dict[str, str]] = []
            if status == "failed":
                info = _error_cell(run, files, page_dir)
            else:
                warnings = _warnings(run, root, where) if status == "ok" else []
                info = _figures_cell(_figures(run, root, where)) + _warnings_list(warnings)
                if status == "ok":
                    u.verdicts.update({str(v["claim"]): v for v in _verdicts(run, root, where)})
            u.warned = u.warned or bool(warnings)
            seconds, memory = _number(run.get("seconds")), _number(run.get("peak_rss_mb"))
            if seconds is not None:
                u.seconds = (u.seconds or 0.0) + seconds
            if memory is not None:
                u.memory = max(u.memory or 0.0, memory)
            time_td, mem_td = _time_cell(run)
            cells = [
                "",  # the unit's header, added to the first row below
                f"<td>{_both(*_notebook_names(notebook))}</td>",
                f"<td>{_status_cell(run, status, len(warnings))}</td>",
                f'<td class="figures">{info}</td>',
                time_td,
                mem_td,
                f'<td class="files">{_links_cell(files, page_dir)}</td>',
            ]
            warn = ' data-warn="1"' if warnings else ""
            u.rows.append(
                f'<tr data-unit="{_esc(code or "")}" data-notebook="{_esc(notebook)}" '
                f'data-status="{_esc(status)}"{warn}>{"".join(cells)}</tr>'
            )
        u.rows[0] = u.rows[0].replace("><td>", f">{_unit_head(u, 'rowgroup', len(u.rows))}<td>", 1)

    groups = _groups(region, list(units))
    rows: list[str] = []
    for g in groups:
        if g.shown:
            head = _group_row(g, 7, "colgroup")
            rows.append(f'<tbody class="ghead" data-group="{g.index}">{head}</tbody>')
        for code in g.codes:
            u = units[code]
            keys = {"0": u.zh, "2": u.rank, "4": u.seconds, "5": u.memory}
            data = "".join(
                f' data-v{k}="{_esc(v if isinstance(v, str) else "" if v is None else repr(v))}"'
                for k, v in keys.items()
            )
            rows.append(
                f'<tbody class="unit" data-group="{g.index}" data-unit="{_esc(code)}"{data} '
                f'data-v0-en="{_esc(u.en)}" data-search="{_esc(u.search)}">{"".join(u.rows)}</tbody>'
            )

    total = sum(counts.values())
    if live:
        summary = _bi(
            "index_ui.summary_live",
            total=total,
            ok=counts["ok"],
            failed=counts["failed"] + counts["unknown"],
            running=counts["running"],
            missing=counts["missing"],
        )
    else:
        summary = _bi(
            "index_ui.summary",
            total=total,
            ok=counts["ok"],
            failed=counts["failed"] + counts["unknown"],
            interrupted=counts["interrupted"],
            missing=counts["missing"],
        )
    moment = generated or dt.datetime.now(dt.UTC)
    when = (china_time(moment, lang="zh"), china_time(moment, lang="en"))  # 北京时间
    title_zh, title_en = _texts("index_ui.title", region=(region.label_zh, region.label_en))
    synthetic = (
        f'<p class="syn">{_esc(label("ui.synthetic_notice"))}</p>' if region.synthetic else ""
    )
    sortable = {"unit": "text", "status": "num", "time": "num", "memory": "num"}
    heads = "".join(
        '<th scope="col"' + (f' data-type="{sortable[k]}"' if k in sortable else "") + ">"
        f"{_bi(f'index_ui.{k}')}</th>"
        for k in ("unit", "notebook", "status", "figures", "time", "memory", "files")
    )
    switch_tip = _tip(*_texts("index_ui.switch_tip"))
    sort_tip = _texts("index_ui.sort_tip")
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="zh-CN" data-lang="zh" data-title-zh="{_esc(title_zh)}" '
        f'data-title-en="{_esc(title_en)}" data-sort-zh="{_esc(sort_tip[0])}" '
        f'data-sort-en="{_esc(sort_tip[1])}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_esc(title_zh)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<header><div><h1>{_both(title_zh, title_en)}</h1>{synthetic}"
        f'<p class="meta" id="summary">{summary}</p>'
        f'<p class="meta">{_bi("index_ui.generated", when=when)}</p>'
        f'<p class="note">{_bi("index_ui.note")}</p></div>'
        f'<button type="button" id="lang-switch" aria-pressed="false"{switch_tip}>'
        f'<span class="zh" lang="en">{_esc(label("index_ui.switch", lang="zh"))}</span>'
        f'<span class="en" lang="zh-CN">{_esc(label("index_ui.switch", lang="en"))}</span>'
        "</button></header>\n"
        + _filters(len(units), any(u.verdicts for u in units.values()))
        + _units_table(groups, units)
        + f'<table id="runs"><thead><tr>{heads}</tr></thead>\n'
        + "\n".join(rows)
        + f"\n</table>\n<script>{_JS}</script>\n</body>\n</html>\n"
    )


def write_index(
    region: Region,
    runs: Sequence[Mapping[str, Any]],
    path: Path | str | None = None,
    *,
    root: Path | str | None = None,
    live: bool = False,
    generated: dt.datetime | None = None,
) -> Path:
    """Write the index page of a region's batch run, atomically.

    Parameters
    ----------
    region
        The region (its name, labels, ``synthetic`` flag and units are shown).
    runs
        One manifest per unit and notebook: ``region``, ``unit`` (code, or ``None``
        for a region run as a whole), ``unit_name``/``unit_name_en``, ``notebook``,
        ``status`` (``ok``, ``failed``, ``running`` or ``missing``), ``error``,
        ``failed_cell``, ``started``, ``finished``, ``seconds``, ``peak_rss_mb``,
        ``attempt``, ``outputs`` (``[{"path": ...}, ...]``), ``executed_notebook``,
        ``log`` and ``figures`` (see :func:`accessibility.export.check_figures`);
        all but ``notebook`` may be missing. Paths are relative to ``root``.
        Manifests of another region are left out (with a warning).
    path
        Where to write; default ``region.maps_dir / "index.html"``.
    root
        Project root; default ``settings.project_root``.
    live
        The batch is still running (``running`` is then not shown as interrupted).
    generated
        Time shown as the page's making (default: now), in China Standard Time.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValidationError
        A run that is not a mapping or has no notebook name.
    """
    target = Path(path) if path is not None else region.maps_dir / "index.html"
    base = Path(root) if root is not None else settings.project_root
    page = render_index(
        region, runs, page_dir=target.parent, root=base, live=live, generated=generated
    )
    write_text(target, page)
    log.debug("wrote %s (%d runs, %.0f kB)", target, len(runs), len(page.encode()) / 1000)
    return target
