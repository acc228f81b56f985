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
       "无数据（数据中无此类设施）", never as 0 %.

     Chinese by default; a button switches every text to English (both languages
     are in the page; ``#en`` at the end of the address opens it in English).
     Every string taken from a manifest is escaped.

A manifest whose status is ``running`` belongs to a run that started and did not
finish: unless the batch is still going (``live=True``) it was interrupted, and is
shown as 中断 / interrupted with a tooltip saying so.

Tests: ``tests/test_index_page.py`` (links, formatting, escaping, no external
address, the language switch in Chromium) and ``tests/test_browser.py`` (the page of
a real sample run, offline).
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import os
from collections.abc import Callable, Mapping, Sequence
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
@media print {
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
  function show(lang) {
    root.setAttribute("data-lang", lang);
    root.setAttribute("lang", lang === "en" ? "en" : "zh-CN");
    var tips = document.querySelectorAll("[data-tip-zh]");
    for (var i = 0; i < tips.length; i++) {
      tips[i].setAttribute("title", tips[i].getAttribute("data-tip-" + lang));
    }
    document.title = root.getAttribute("data-title-" + lang);
    var button = document.getElementById("lang-switch");
    button.setAttribute("aria-pressed", lang === "en" ? "true" : "false");
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


def _verdict_cell(v: Mapping[str, Any] | None) -> str:
    if v is None:
        return f'<td class="none">{_bi("verdict_index.not_run")}</td>'
    state = str(v["state"])
    reasons = v.get("reasons") or []
    tip = ""
    if reasons:
        tip = _tip("；".join(str(r.get("zh", "")) for r in reasons), "; ".join(str(r.get("en", "")) for r in reasons))
    value = v.get("value")
    shown = number_text(float(value), str(v.get("unit", "share"))) if isinstance(value, (int, float)) else ""
    return (
        f'<td data-claim="{_esc(v["claim"])}" data-state="{_esc(state)}"{tip}>'
        f'<span class="vd vd-{_esc(state)}">{_bi(f"verdict_state.{state}")}</span>'
        f'<span class="vv">{_esc(shown)}</span></td>'
    )


def _verdict_table(rows: Sequence[tuple[str, str, dict[str, dict[str, Any]]]]) -> str:
    """A row per unit and a column per claim of ``rules/claims.yml``: each verdict's badge and value."""
    if not any(found for _, _, found in rows):
        return ""
    keys = [c.key for c in claims()]
    heads = "".join(f'<th scope="col">{_bi(f"verdict_short.{k}")}</th>' for k in keys)
    body = "".join(
        f'<tr data-unit="{_esc(code)}"><th scope="row">{head}</th>'
        + "".join(_verdict_cell(found.get(k)) for k in keys)
        + "</tr>"
        for code, head, found in rows
    )
    return (
        f'<h2>{_bi("verdict_index.title")}</h2><p class="note">{_bi("verdict_index.note")}</p>'
        f'<table id="verdicts"><thead><tr><th scope="col">{_bi("index_ui.unit")}</th>{heads}</tr></thead>'
        f"<tbody>{body}</tbody></table>\n"
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
    groups = _grouped(region, runs)
    counts = dict.fromkeys((*STATUSES, "interrupted", "unknown"), 0)
    rows: list[str] = []
    said: list[tuple[str, str, dict[str, dict[str, Any]]]] = []
    for code, unit_runs in groups:
        zh, en = _unit_names(region, code, unit_runs)
        head = _both(zh, en) + (f"<small>{_esc(code)}</small>" if code is not None else "")
        found: dict[str, dict[str, Any]] = {}
        said.append((code or "", head, found))
        body = []
        for i, run in enumerate(unit_runs):
            status = _status(run, live)
            counts[status] += 1
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
                    found.update({str(v["claim"]): v for v in _verdicts(run, root, where)})
            time_td, mem_td = _time_cell(run)
            cells = [
                f'<th scope="rowgroup" rowspan="{len(unit_runs)}">{head}</th>' if i == 0 else "",
                f"<td>{_both(*_notebook_names(notebook))}</td>",
                f"<td>{_status_cell(run, status, len(warnings))}</td>",
                f'<td class="figures">{info}</td>',
                time_td,
                mem_td,
                f'<td class="files">{_links_cell(files, page_dir)}</td>',
            ]
            body.append(
                f'<tr data-unit="{_esc(code or "")}" data-notebook="{_esc(notebook)}" '
                f'data-status="{_esc(status)}">{"".join(cells)}</tr>'
            )
        rows.append(f"<tbody>{''.join(body)}</tbody>")

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
    heads = "".join(
        f'<th scope="col">{_bi(f"index_ui.{k}")}</th>'
        for k in ("unit", "notebook", "status", "figures", "time", "memory", "files")
    )
    switch_tip = _tip(*_texts("index_ui.switch_tip"))
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="zh-CN" data-lang="zh" data-title-zh="{_esc(title_zh)}" '
        f'data-title-en="{_esc(title_en)}">\n<head>\n<meta charset="utf-8">\n'
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
        + _verdict_table(said)
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
