"""Every cell of the four notebooks' Chinese workbooks is Chinese, on the sample county.

Each workbook is built with the calls its notebook makes (``notebooks/*.ipynb``, lang="zh"),
then every cell is scanned: no English word or code (``level_not_allowed``, ``greedy_95``,
``tag``...), no TRUE/FALSE, and every share column shown as a percentage. Allowed: numbers,
ids such as ``n13914``, units, the names OSM/OpenStreetMap, ``key=value`` OSM tags, and OSM
tag values in the columns that show them on purpose (headers naming OSM).
"""

from __future__ import annotations

import re
from pathlib import Path

import openpyxl
import pytest
import yaml

import accessibility as acc
from accessibility import audit, export, labels, pipeline
from accessibility.policies import reading_circle, school_tiers, services
from accessibility.settings import settings

NOTEBOOKS = ("facility_access", "reading_circle", "school_tiers", "services")
#: an English word or code: two or more letters (ids like n13914 have one)
_WORD = re.compile(r"[A-Za-z_][A-Za-z_]+")
#: what may stand in Chinese text: proper names, units and OSM tags given as key=value
_ALLOWED = re.compile(r"OpenStreetMap|OSM|km²|\b(?:km|m|min)\b|[a-z_]+=[a-z_0-9]+")
#: headers of share columns
_SHARE_HEADER = re.compile(r"占比|覆盖率|比例")


def build_workbooks(out: Path, *, lang: str = "zh") -> dict[str, Path]:
    """Each notebook's workbook on the sample, made with the notebook's own calls, with its
    summary CSV (``<nb>_summary.csv``: the workbook's first sheet) and ``facility_access``'s
    audit CSV (in the study's processed folder)."""
    paths: dict[str, Path] = {}
    # facility_access
    kinds = ["school:primary", "school:middle", "school:high", "health", "reading", "bus"]
    study = pipeline.prepare("sample", mode="walk", origin_levels=["admin_village"])
    data_audit = audit.write(study, "facility_access_audit", lang=lang)
    notes = acc.report.Notes()
    results = study.access(kinds, thresholds_min=[15, 30])
    summary = acc.metrics.summary(results, results["population"], kinds, thresholds_min=[15, 30])
    acc.metrics.note_missing(summary, notes)
    export.write_csv(out / "facility_access_summary.csv", summary, lang=lang)
    paths["facility_access"] = export.write_excel(
        out / "facility_access.xlsx",
        {"summary": summary, "villages": results, "audit": data_audit, **notes.sheets(lang)},
        lang=lang,
    )
    # reading_circle
    walk = pipeline.prepare(
        "sample",
        mode="walk",
        speed_overrides=reading_circle.walk_speed_overrides(4.5),
        origin_levels=["admin_village"],
    )
    result = reading_circle.assess(walk, minutes=15, kinds=["reading"], targets=[0.95, 1.0])
    notes = acc.report.Notes()
    result.note_missing(notes)
    export.write_csv(
        out / "reading_circle_summary.csv",
        reading_circle.labelled(result.summary, lang=lang, headers=False),
        lang=lang,
        headers=reading_circle.excel_headers(lang=lang),
    )
    paths["reading_circle"] = export.write_excel(
        out / "reading_circle.xlsx",
        {**reading_circle.excel_tables(result, lang=lang), **notes.sheets(lang)},
        lang=lang,
        headers=reading_circle.excel_headers(lang=lang),
    )
    # school_tiers
    rules = school_tiers.load_rules()
    tier_access = school_tiers.access_by_tier(
        "sample", None, rules, tiers=["primary", "middle", "high"], origin_levels=["admin_village"]
    )
    notes = acc.report.Notes()
    tier_access.note_missing(notes)
    checks = school_tiers.compliance(tier_access.study_for(tier_access.tiers[0]), rules, lang=lang)
    scenario = school_tiers.consolidate_or_skip(
        tier_access, "primary", None, rules=rules, notes=notes
    )
    tables = school_tiers.excel_tables(checks, tier_access, scenario, lang=lang)
    export.write_csv(
        out / "school_tiers_summary.csv",
        tables[labels.label("schools_sheet.summary", lang=lang)],
        lang=lang,
        headers=school_tiers.excel_headers(lang=lang),
    )
    paths["school_tiers"] = export.write_excel(
        out / "school_tiers.xlsx",
        {**tables, **notes.sheets(lang)},
        lang=lang,
        headers=school_tiers.excel_headers(lang=lang),
    )
    # services
    ebike = pipeline.prepare("sample", mode="ebike", origin_levels=["admin_village"])
    notes = acc.report.Notes()
    clinics = services.clinic_access(ebike, limits_min=[15, 30])
    acc.metrics.note_missing(clinics.summary, notes)
    bus = services.bus_access(study, limit_min=15)  # the walk study, as the notebook's study_walk
    links = services.road_links_or_skip(
        ebike.roads, ebike.places, min_class="secondary", crs=ebike.crs, notes=notes
    )
    claims = services.claims(clinics=clinics, bus=bus, roads=links, lang=lang)
    fair = services.township_equity(ebike, clinics, bus, notes=notes)
    sheets = services.excel_tables(
        claims=claims, clinics=clinics, bus=bus, roads=links, lang=lang, equity=fair.tables
    )
    export.write_csv(
        out / "services_summary.csv",
        sheets[labels.label("services_sheet.claims", lang=lang)],
        lang=lang,
        headers=services.excel_headers(sheets, lang=lang),
    )
    paths["services"] = export.write_excel(
        out / "services.xlsx",
        {**sheets, **notes.sheets(lang)},
        lang=lang,
        headers=services.excel_headers(sheets, lang=lang),
    )
    return paths


def leaks(path: Path) -> list[str]:
    """Every cell of a workbook that is not for a Chinese reader, as ``sheet!A1: value``."""
    found = []
    wb = openpyxl.load_workbook(path)
    for ws in wb.worksheets:
        headers = [str(c.value or "") for c in ws[1]]
        for row in ws.iter_rows():
            for cell in row:
                where = f"{ws.title}!{cell.coordinate}"
                header = headers[cell.column - 1]
                value = cell.value
                if isinstance(value, bool):
                    found.append(f"{where}: {value} (a boolean: write 是/否)")
                elif isinstance(value, str):
                    if cell.row > 1 and "OSM" in header:  # OSM tag values, shown on purpose
                        continue
                    words = _WORD.findall(_ALLOWED.sub(" ", value))
                    if words:
                        found.append(f"{where} [{header}]: {value!r}")
                elif (
                    isinstance(value, (int, float))
                    and cell.row > 1
                    and _SHARE_HEADER.search(header)
                    and "%" not in cell.number_format
                ):
                    found.append(f"{where} [{header}]: share {value} shown as {cell.number_format}")
    return found


@pytest.fixture(scope="module")
def workbooks(tmp_path_factory):
    root = tmp_path_factory.mktemp("tables_root")
    settings.root = root
    try:
        return build_workbooks(root / "data" / "processed" / "sample")
    finally:
        settings.root = None


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_chinese_workbook_has_no_english_codes_booleans_or_bare_shares(workbooks, notebook):
    found = leaks(workbooks[notebook])
    assert not found, f"{len(found)} cells not in Chinese, e.g.\n" + "\n".join(found[:20])


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_summary_csv_is_the_first_sheet_as_shown(workbooks, notebook):
    import pandas as pd

    path = workbooks[notebook]
    ws = openpyxl.load_workbook(path).worksheets[0]
    csv = pd.read_csv(
        path.with_name(f"{notebook}_summary.csv"),
        encoding="utf-8-sig",
        dtype=str,
        keep_default_na=False,
    )
    assert list(csv.columns) == [c.value for c in ws[1]]
    assert len(csv) == ws.max_row - 1
    for j, head in enumerate(csv.columns, start=1):
        for i, text in enumerate(csv[head], start=2):
            cell = ws.cell(row=i, column=j)
            if isinstance(cell.value, str):
                assert text == cell.value
            elif cell.value is None:
                assert text == ""
            else:
                places = {"0.0%": 3, "0.0": 1, "#,##0": 0, "0.000000": 6}.get(cell.number_format, 3)
                assert float(text) == round(float(cell.value), places), (head, i)


def test_audit_csv_is_in_chinese(workbooks):
    import pandas as pd

    table = pd.read_csv(
        workbooks["facility_access"].with_name("facility_access_audit.csv"), encoding="utf-8-sig"
    )
    assert list(table.columns) == ["检查项", "数值", "占比", "说明"]
    assert "保留的路网长度（公里）" in table["检查项"].tolist()
    assert not any(_WORD.findall(_ALLOWED.sub(" ", str(v))) for v in table["说明"].dropna())


def test_the_scan_finds_codes_booleans_and_bare_shares(tmp_path) -> None:
    """The scan itself: a workbook written without translating values leaks, and it says so."""
    import pandas as pd

    frame = pd.DataFrame(
        {
            "reason": ["level_not_allowed"],
            "compliant": [False],
            "name": ["杏园高中"],
            "place": ["village"],
            "value": [0.25],
        }
    )
    path = export.write_excel(
        tmp_path / "t.xlsx",
        {"summary": frame},
        headers={"reason": "原因", "compliant": "是否符合", "value": "覆盖率"},
        translate_values=False,
    )
    found = leaks(path)
    assert any("level_not_allowed" in f for f in found)
    assert any("boolean" in f for f in found)
    assert any("share 0.25" in f for f in found)
    assert not any("village" in f for f in found)  # an OSM tags column
    assert not any("杏园高中" in f for f in found)


def test_audit_sheet_translates_values_and_notes(workbooks) -> None:
    wb = openpyxl.load_workbook(workbooks["facility_access"])
    ws = wb[labels.label("ui.sheet_audit")]
    rows = {r[0]: r[1:] for r in ws.iter_rows(min_row=2, values_only=True)}
    assert rows[labels.label("audit_check.population_source")][0] == "人口栅格"
    assert rows[labels.label("audit_check.population_confidence")][0] == "高"
    far = rows[labels.label("audit_check.origins_far_from_road")]
    assert far[2].startswith("距任何道路超过 300")


def test_every_rule_and_code_shown_in_tables_has_both_labels() -> None:
    """New place rules, road classes and exception reasons need a label to be shown."""
    folder = Path(labels.__file__).parent / "rules"
    places = yaml.safe_load((folder / "places.yml").read_text("utf-8"))
    for rule in [r["id"] for r in places["rules"]] + ["config.seat"]:
        assert labels.label(f"level_rule.{rule}", lang="zh")
    roads = yaml.safe_load((folder / "road_classes.yml").read_text("utf-8"))
    for name in roads["rank"]:
        assert labels.label(f"road_class.{name}", lang="en") == name
    assert services.road_class_label("grade_ii") == services.road_class_label("secondary_link")
    assert services.road_class_label("grade_ii", lang="en") == "secondary"
    for reason in school_tiers.REASONS:
        assert labels.label(f"schools_reason_short.{reason}", lang="zh")
    for check in ("largest_point_share", "fallback_share", "places_without_figure"):
        assert labels.label(f"audit_check.population_{check}", lang="zh")
        assert labels.label(f"audit_reliability.{check}", lang="zh")
