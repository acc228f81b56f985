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
