"""Names from OSM and registries are data, never code: workbook cells stay text, CSV
fields cannot start a formula, path parts cannot leave the project."""

from __future__ import annotations

import csv

import openpyxl
import pandas as pd
import pytest

from accessibility import export

#: Names a hostile mapper or registry could give a village (OWASP CSV-injection cases,
#: markup, quotes and a new line).
HOSTILE = [
    "=1+1",
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1)",
    '=HYPERLINK("http://example.invalid","点击")',
    "\t=1+1",
    "\r=1+1",
    "<script>document.title='x'</script>",
    '<img src=x onerror="window.__pwned=1">',
    "他说\"是\"，'引号'",
    "第一行\n第二行",
    "李庄",
]


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {"name": HOSTILE, "population": range(len(HOSTILE)), "delta": [-1.5] * len(HOSTILE)}
    )


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_workbook_cells_hold_the_exact_text(tmp_path, lang) -> None:
    path = export.write_excel(
        tmp_path / "v.xlsx", {"villages": _frame(), "more": _frame()}, lang=lang
    )
    wb = openpyxl.load_workbook(path)
    assert len(wb.worksheets) == 2
    for ws in wb.worksheets:
        names = [row[0] for row in ws.iter_rows(min_row=2, max_col=1)]
        # the exact text; a lone carriage return reads back as a line feed (XML line ends)
        assert [c.value for c in names] == [h.replace("\r", "\n") for h in HOSTILE]
        assert {c.data_type for c in names} == {"s"}  # never "f" (a formula)
        numbers = [row[2].value for row in ws.iter_rows(min_row=2, min_col=1, max_col=3)]
        assert numbers == [-1.5] * len(HOSTILE)  # numbers stay numbers


@pytest.mark.parametrize("lang", [None, "zh"])
def test_csv_fields_cannot_start_a_formula(tmp_path, lang) -> None:
    path = export.write_csv(tmp_path / "v.csv", _frame(), lang=lang)
    with path.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    head = rows[0]
    at = head.index("name" if lang is None else "名称")
    names = [r[at] for r in rows[1:]]
    for raw, written in zip(HOSTILE, names, strict=True):
        assert not written.startswith(export.FORMULA_STARTS), written
        if raw.startswith(export.FORMULA_STARTS):
            assert written == "'" + raw  # neutralised the OWASP way, text otherwise kept
        else:
            assert written == raw
    assert {r[head.index("delta")] for r in rows[1:]} == {
        "-1.5"
    }  # a negative number is a number, not text


def test_safe_text() -> None:
    assert export.csv_safe("=1+1") == "'=1+1"
    assert export.csv_safe("李庄") == "李庄"
    assert export.csv_safe(-3) == -3
    assert export.csv_safe(None) is None


# --------------------------------------------------------------------------- paths
_REGION = """label_zh: 测试
label_en: Test
synthetic: true
source: {{kind: sample, seed: 3}}
units:
  - {{code: "{code}", name: 测试县, source: {{kind: sample, seed: 3}}}}
"""


def _tree(root):
    return sorted(p.relative_to(root) for p in root.rglob("*"))


@pytest.mark.parametrize("code", ["../../../escaped", "a/b", "..", "x y", "县", ""])
def test_a_unit_code_that_would_leave_the_project_is_refused(tmp_path, capsys, code) -> None:
    from accessibility import cli

    root = tmp_path / "project"
    (root / "regions").mkdir(parents=True)
    (root / "regions" / "hostile.yml").write_text(_REGION.format(code=code), encoding="utf-8")
    before = _tree(tmp_path)
    status = cli.main(
        ["--root", str(root), "-q", "run", "--region", "hostile", "--notebook", "facility_access"]
    )
    err = capsys.readouterr().err
    assert status == 2
    assert repr(code) in err and "hostile.yml" in err  # names the value and the file
    assert _tree(tmp_path) == before  # nothing written, inside the project or out


@pytest.mark.parametrize("unit", ["../../../escaped", "999001/../../x"])
def test_a_unit_on_the_command_line_that_is_no_unit_is_refused(tmp_path, capsys, unit) -> None:
    from accessibility import cli

    before = _tree(tmp_path)
    status = cli.main(["--root", str(tmp_path), "-q", "run", "--region", "samples", "--unit", unit])
    assert status == 2
    assert repr(unit) in capsys.readouterr().err
    assert _tree(tmp_path) == before


def test_a_region_file_name_that_is_no_plain_name_is_refused(tmp_path, capsys) -> None:
    from accessibility import cli

    (tmp_path / "regions").mkdir()
    (tmp_path / "regions" / "my county.yml").write_text(_REGION.format(code="1"), encoding="utf-8")
    status = cli.main(["--root", str(tmp_path), "-q", "run", "--region", "my county"])
    assert status == 2
    err = capsys.readouterr().err
    assert "'my county'" in err and "letters, digits" in err


def test_output_paths_stay_under_the_root(tmp_path) -> None:
    from accessibility._errors import ValidationError
    from accessibility.settings import inside_root, settings

    settings.root = tmp_path
    try:
        assert inside_root(tmp_path / "maps" / "x") == tmp_path / "maps" / "x"
        with pytest.raises(ValidationError, match="outside the project root"):
            inside_root(tmp_path / "maps" / ".." / ".." / "escaped")
    finally:
        settings.root = None


# --------------------------------------------------------------------------- a hostile county
def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _hostile_osm(src, dst) -> list[str]:
    """The sample county with hostile names put before the names of its first villages
    and schools (so a school's tier, read from its name, is kept); the names given."""
    import re
    from xml.sax.saxutils import quoteattr

    text = src.read_text("utf-8")
    given: list[str] = []

    def swap(match: re.Match[str]) -> str:
        if len(given) >= 2 * len(HOSTILE):
            return match.group(0)
        name = HOSTILE[len(given) % len(HOSTILE)] + match.group(1)
        given.append(name)
        value = quoteattr(name, {"\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})
        return f'<tag k="name" v={value}/>'

    text = re.sub(r'<tag k="name" v="([^"]*(?:村|学))"/>', swap, text)
    dst.write_text(text, "utf-8")
    return given


_SENTINEL_JS = """async () => {
  const map = window[Object.keys(window).find((k) => /^map_[0-9a-f]+$/.test(k))];
  let opened = 0;
  if (map) map.eachLayer((l) => {
    if (l.getTooltip && l.getTooltip()) { l.openTooltip(); opened++; }
    if (l.getPopup && l.getPopup()) { l.openPopup(); opened++; }
  });
  await new Promise((done) => setTimeout(done, 500));  // an <img onerror> fires late
  return {title: document.title, pwned: window.__pwned === undefined ? null : window.__pwned,
          opened, text: document.body.innerText};
}"""


@pytest.mark.slow
def test_a_county_with_hostile_names(tmp_path) -> None:
    """Every output of a county whose OSM names and region labels are hostile: workbook
    cells are text, CSV fields cannot start a formula, and no HTML page runs them."""
    import json

    import openpyxl

    from accessibility import cli
    from accessibility.sources import sample

    from .browser import MapBrowser

    raw = tmp_path / "data" / "raw" / "hostile"
    files = sample.generate(tmp_path / "gen", seed=11)
    raw.mkdir(parents=True)
    given = _hostile_osm(files.osm, raw / "county.osm")
    (raw / "boundary.geojson").write_bytes(files.boundary.read_bytes())
    assert len(given) == 2 * len(HOSTILE)
    # an official school list (registry) with hostile names, beside the first villages
    w, south, e, n = json.loads(files.meta.read_text("utf-8"))["bbox"]
    listed = [h + "希望小学" for h in HOSTILE]
    with (raw / "schools.csv").open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(["名称", "类型", "经度", "纬度"])
        for i, name in enumerate(listed):
            out.writerow([name, "小学", w + (e - w) * (0.2 + 0.05 * i), south + (n - south) * 0.5])
    unit_name = '<img src=x onerror="window.__pwned=2">=1+1'
    (tmp_path / "regions").mkdir()
    (tmp_path / "regions" / "hostile.yml").write_text(
        "label_zh: " + json.dumps("<script>window.__pwned=3</script>恶意县") + "\n"
        "label_en: " + json.dumps('Hostile "county" <b>') + "\n"
        "source: {kind: osm_file, path: county.osm}\nboundary: {file: boundary.geojson}\n"
        "registries:\n  facilities:\n    - {file: schools.csv, kind: school, datum: wgs84}\n"
        f"units:\n  - {{code: h1, name: {json.dumps(unit_name)}}}\n",
        encoding="utf-8",
    )
    assert cli.main(["--root", str(tmp_path), "-q", "batch", "hostile"]) == 0

    # workbooks: no formula anywhere; the hostile names are string cells, exactly
    seen = set()
    books = sorted((tmp_path / "data" / "processed" / "hostile").rglob("*.xlsx"))
    assert len(books) == 4
    given += listed
    wanted = {g.replace("\r", "\n") for g in given}
    for book in books:
        for ws in openpyxl.load_workbook(book).worksheets:
            for row in ws.iter_rows():
                for cell in row:
                    assert cell.data_type != "f", (book.name, ws.title, cell.coordinate, cell.value)
                    if cell.value in wanted:
                        assert cell.data_type == "s"
                        seen.add(cell.value)
    assert len(seen) >= len(HOSTILE)  # the names did reach the workbooks
    assert seen & set(listed)  # the registry's too

    # CSV files: a field starting with = + - @ tab or CR is a number, or was neutralised
    csvs = sorted((tmp_path / "data" / "processed" / "hostile").rglob("*.csv"))
    assert csvs
    neutralised = 0
    for path in csvs:
        with path.open(encoding="utf-8-sig", newline="") as f:
            for row in csv.reader(f):
                for field in row:
                    assert not field.startswith(export.FORMULA_STARTS) or _is_number(field), (
                        path.name,
                        field,
                    )
                    neutralised += field.startswith("'") and any(
                        field[1:].startswith(g) for g in given
                    )
    assert neutralised > 0

    # HTML: every map and the index page, with every tooltip and popup opened
    pages = sorted((tmp_path / "maps" / "hostile").rglob("*.html"))
    assert len(pages) == 5  # four maps and the index page
    with MapBrowser() as browser:
        for page_path in pages:
            page = browser.open_page(page_path)
            try:
                got = page.page.evaluate(_SENTINEL_JS)
            finally:
                page.close()
            assert got["pwned"] is None, page_path.name
            assert got["title"] != "x"  # the <script> in a name did not run
            assert page.page_errors == [], (page_path.name, page.page_errors)
            if page_path.name != "index.html":
                assert got["opened"] > 0
            assert "恶意县" in got["text"] or "Hostile" in got["text"], (
                page_path.name
            )  # shown as text
