"""GeoPackage and CSV round trips."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from accessibility import export
from accessibility._errors import ValidationError


def test_geopackage_roundtrip(tmp_path) -> None:
    villages = gpd.GeoDataFrame(
        {"name": ["王庄村", "李村"], "bus_time_min": [12.5, np.inf], "bus_facility": ["n1", None]},
        geometry=[shapely.Point(114.0, 34.0), shapely.Point(114.1, 34.1)],
        index=pd.Index(["n10", "n11"], name="id"),
        crs=4326,
    )
    summary = pd.DataFrame({"within_15_share": [0.5]}, index=pd.Index(["bus"], name="group"))
    path = export.write_geopackage(
        tmp_path / "out" / "r.gpkg", {"villages": villages, "summary": summary}
    )
    assert sorted(pyogrio.list_layers(path)[:, 0]) == ["summary", "villages"]
    back = gpd.read_file(path, layer="villages")
    assert back.crs.to_epsg() == 4326
    assert back["id"].tolist() == ["n10", "n11"] and back["name"].tolist() == ["王庄村", "李村"]
    assert back["bus_time_min"].iloc[0] == 12.5 and pd.isna(back["bus_time_min"].iloc[1])
    assert pd.isna(back["bus_facility"].iloc[1])
    s = gpd.read_file(path, layer="summary")
    assert s["group"].tolist() == ["bus"]
    assert [p.name for p in tmp_path.joinpath("out").iterdir()] == ["r.gpkg"]


def test_csv_has_bom_and_chinese(tmp_path) -> None:
    path = export.write_csv(tmp_path / "s.csv", pd.DataFrame({"名称": ["王庄村"]}))
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and "王庄村".encode() in raw


def test_nothing_to_write(tmp_path) -> None:
    with pytest.raises(ValidationError, match="at least one layer"):
        export.write_geopackage(tmp_path / "x.gpkg", {})


def test_geojson_roundtrip(tmp_path) -> None:
    poly = gpd.GeoSeries([shapely.box(114.0, 34.0, 114.1, 34.1)], crs=4326)
    path = export.write_geojson(tmp_path / "b.geojson", poly)
    back = gpd.read_file(path)
    assert back.crs.to_epsg() == 4326 and back.geometry.iloc[0].equals(poly.iloc[0])


# --------------------------------------------------------------------------- Excel


def excel_tables() -> dict[str, pd.DataFrame]:
    summary = pd.DataFrame(
        {
            "origins": [3, 3],
            "population": [2200.0, 2200.0],
            "unreachable": [1, 0],
            "median_min": [12.25, 30.0],
            "within_15_share": [0.5, 1 / 3],
            "within_15_pop_share": [0.75, 0.25],
            "no_facility": [False, False],
        },
        index=pd.Index(["school:primary", "health"], name="group"),
    )
    villages = gpd.GeoDataFrame(
        {
            "name": ["王庄村", "李村", "张村"],
            "level": ["admin_village", "natural_village", "castle"],
            "population": [1200.0, np.nan, 1000.0],
            "snap_flag": ["ok", "far", "ok"],
            "school_primary_time_min": [12.5, np.inf, np.nan],
            "school_primary_facility": ["f1", None, None],
            "school_primary_flag": ["ok", "unreachable", "no_facility"],
            "school_primary_n15": [2, 0, 0],
            "health_township_health_centre_n30": [1, 0, 3],
        },
        geometry=[shapely.Point(114.0, 34.0), shapely.Point(114.1, 34.1), None],
        index=pd.Index(["n10", "n11", "n12"], name="id"),
        crs=4326,
    )
    audit = pd.DataFrame(
        {"value": [12.5, 3], "share": [0.98, np.nan], "note": ["", "x"]},
        index=pd.Index(["network_km_kept", "origins"], name="check"),
    )
    return {"summary": summary, "villages": villages, "audit": audit}


def column(ws, header: str) -> list:
    heads = [c.value for c in ws[1]]
    j = heads.index(header) + 1
    return [ws.cell(row=r, column=j).value for r in range(2, ws.max_row + 1)]


def test_excel_roundtrip(tmp_path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    path = export.write_excel(tmp_path / "out" / "r.xlsx", excel_tables())
    assert [p.name for p in path.parent.iterdir()] == ["r.xlsx"]
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["汇总", "村庄", "数据检查"]

    summary = wb["汇总"]
    assert [c.value for c in summary[1]] == [
        "设施类别",
        "村庄数",
        "人口",
        "不可达村庄数",
        "出行时间中位数（分钟）",
        "15分钟内村庄占比",
        "15分钟内人口占比",
        "无此类设施",
    ]
    assert column(summary, "设施类别") == ["小学", "医疗卫生"]
    share = summary["F2"]
    assert share.value == 0.5 and share.data_type == "n" and share.number_format == "0.0%"
    assert summary["C2"].value == 2200 and summary["C2"].number_format == "#,##0"
    assert summary["E2"].value == 12.25 and summary["E2"].number_format == "0.0"
    assert column(summary, "无此类设施") == ["否", "否"]  # never TRUE/FALSE
    for ws in wb:
        assert ws.freeze_panes == "A2"
        assert ws["A1"].font.bold
        assert ws.auto_filter.ref.startswith("A1:")

    villages = wb["村庄"]
    heads = [c.value for c in villages[1]]
    assert heads == [
        "编号",
        "名称",
        "类型",
        "人口",
        "道路连接",
        "到最近小学的出行时间（分钟）",
        "最近小学编号",
        "小学：可达性标记",
        "15分钟内小学数量",
        "30分钟内乡镇卫生院数量",
        "经度",
        "纬度",
    ]
    assert column(villages, "编号") == ["n10", "n11", "n12"]
    assert column(villages, "类型") == ["行政村", "自然村", "castle"]  # unknown codes kept
    assert column(villages, "道路连接") == ["正常", "距道路过远", "正常"]
    assert column(villages, "小学：可达性标记") == ["正常", "不可达", "无数据（数据中无此类设施）"]
    # unreachable (inf) and unknown (NaN) are empty cells; numbers stay numbers
    assert column(villages, "到最近小学的出行时间（分钟）") == [12.5, None, None]
    assert column(villages, "人口") == [1200, None, 1000]
    assert column(villages, "15分钟内小学数量") == [2, 0, 0]
    assert column(villages, "经度") == [114.0, 114.1, None]  # n12 has no geometry
    assert all(villages.cell(row=r, column=4).data_type == "n" for r in (2, 4))
    # columns sized to their content; Chinese headers are wider than "编号"
    widths = {k: v.width for k, v in villages.column_dimensions.items()}
    assert widths["F"] > widths["A"] >= 6

    audit = wb["数据检查"]
    assert [c.value for c in audit[1]] == ["检查项", "数值", "占比", "说明"]
    assert column(audit, "检查项") == ["保留的路网长度（公里）", "起点数"]
    assert column(audit, "数值") == [12.5, 3]


def test_excel_shows_booleans_in_words_and_named_shares_as_percentages(tmp_path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    frame = pd.DataFrame(
        {
            "reassigned": [True, False, None],
            "confidence": ["tag", "ambiguous", "name"],
            "level_rule": ["level.admin_village", "config.seat", "level.nope"],
            "min_class": ["secondary", "grade_x", None],
            "value": [0.5, 0.25, np.nan],
            "count": [1, 2, 3],
        }
    )
    frame.attrs[export.SHARE_COLUMNS] = ["value"]
    ws = openpyxl.load_workbook(export.write_excel(tmp_path / "r.xlsx", {"t": frame}))["t"]
    values = list(ws.iter_rows(min_row=2, values_only=True))
    assert [r[0] for r in values] == ["是", "否", None]
    assert [r[1] for r in values] == ["按标签判断", "名称不明确（推测）", "按名称判断"]
    assert [r[2] for r in values] == [
        "按地点类型（村）判为行政村",
        "区域文件指定的县城",
        "level.nope",
    ]
    assert [r[3] for r in values] == ["次要道路（县道、次干道）", "grade_x", None]
    assert ws["E2"].number_format == "0.0%" and ws["E2"].value == 0.5
    assert ws["F2"].number_format == "#,##0"
    en = openpyxl.load_workbook(export.write_excel(tmp_path / "e.xlsx", {"t": frame}, lang="en"))
    assert [r[0] for r in en["t"].iter_rows(min_row=2, values_only=True)] == ["Yes", "No", None]


def test_csv_in_a_language_matches_the_workbook(tmp_path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    tables = excel_tables()
    for name, frame in tables.items():
        xlsx = export.write_excel(tmp_path / f"{name}.xlsx", {name: frame}, headers={"lat": "纬"})
        csv = export.write_csv(tmp_path / f"{name}.csv", frame, lang="zh", headers={"lat": "纬"})
        assert csv.read_bytes().startswith(b"\xef\xbb\xbf")
        back = pd.read_csv(csv, encoding="utf-8-sig", dtype=str, keep_default_na=False)
        ws = openpyxl.load_workbook(xlsx).worksheets[0]
        assert list(back.columns) == [c.value for c in ws[1]]  # no stray index column
        for j, head in enumerate(back.columns, start=1):
            for i, text in enumerate(back[head], start=2):
                cell = ws.cell(row=i, column=j)
                if cell.value is None:
                    assert text == ""
                elif isinstance(cell.value, str):
                    assert text == cell.value
                else:  # the number the workbook shows, at the precision it shows
                    shown = float(text)
                    decimals = {"0.0%": 3, "0.0": 1, "#,##0": 0, "0.000000": 6}.get(
                        cell.number_format, 3
                    )
                    assert shown == round(float(cell.value), decimals)
                    assert len(text.partition(".")[2]) <= decimals
    villages = pd.read_csv(tmp_path / "villages.csv", encoding="utf-8-sig")
    assert villages["编号"].tolist() == ["n10", "n11", "n12"]
    assert villages["到最近小学的出行时间（分钟）"].iloc[0] == 12.5
    summary = pd.read_csv(tmp_path / "summary.csv", encoding="utf-8-sig")
    assert summary["15分钟内村庄占比"].tolist() == [0.5, 0.333]
    assert summary["无此类设施"].tolist() == ["否", "否"]


def test_csv_without_language_keeps_names_and_values(tmp_path) -> None:
    frame = excel_tables()["summary"]
    back = pd.read_csv(export.write_csv(tmp_path / "s.csv", frame), encoding="utf-8-sig")
    assert list(back.columns) == ["group", *frame.columns]
    assert back["within_15_share"].iloc[1] == pytest.approx(1 / 3, abs=1e-12)
    with pytest.raises(ValidationError, match="lang must be one of"):
        export.write_csv(tmp_path / "x.csv", frame, lang="fr")


def test_excel_english_and_own_headers(tmp_path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    tables = excel_tables()
    path = export.write_excel(
        tmp_path / "r.xlsx",
        {"summary": tables["summary"], "Raw villages": tables["villages"]},
        lang="en",
        headers={"name": "Village", "lon": "X"},
        translate_values=False,
    )
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Summary", "Raw villages"]
    assert [c.value for c in wb["Summary"][1]][:2] == ["Facility group", "Villages"]
    assert column(wb["Summary"], "Facility group") == ["school:primary", "health"]
    heads = [c.value for c in wb["Raw villages"][1]]
    assert heads[:3] == ["ID", "Village", "Level"]
    assert "Primary school: travel time to the nearest (min)" in heads and "X" in heads
    assert "Villages within 15 min (share)" in [c.value for c in wb["Summary"][1]]
    assert column(wb["Raw villages"], "Level") == ["admin_village", "natural_village", "castle"]


def test_excel_plain_index_is_dropped(tmp_path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    path = export.write_excel(
        tmp_path / "r.xlsx", {"表": pd.DataFrame({"name": ["甲"], "x": [1.5]})}
    )
    ws = openpyxl.load_workbook(path)["表"]
    assert [c.value for c in ws[1]] == ["名称", "x"] and ws["B2"].value == 1.5


@pytest.mark.parametrize(
    ("sheets", "match"),
    [
        ({}, "at least one sheet"),
        ({"x" * 32: pd.DataFrame({"a": [1]})}, "1–31 characters"),
        ({"a/b": pd.DataFrame({"a": [1]})}, "cannot be used in Excel"),
        ({"  ": pd.DataFrame({"a": [1]})}, "cannot be used in Excel"),
        ({"Data": pd.DataFrame({"a": [1]}), "data": pd.DataFrame({"a": [1]})}, "ignores case"),
        ({"汇总": pd.DataFrame({"a": [1]}), "summary": pd.DataFrame({"a": [1]})}, "rename one"),
        ({"a": [1, 2]}, "must be a pandas DataFrame"),
    ],
)
def test_excel_bad_sheets(tmp_path, sheets, match) -> None:
    with pytest.raises(ValidationError, match=match):
        export.write_excel(tmp_path / "r.xlsx", sheets)
    assert not list(tmp_path.iterdir())


def test_excel_bad_lang(tmp_path) -> None:
    with pytest.raises(ValidationError, match="lang must be one of"):
        export.write_excel(tmp_path / "r.xlsx", {"a": pd.DataFrame({"a": [1]})}, lang="fr")


def test_excel_failed_write_keeps_old_file(tmp_path, monkeypatch) -> None:
    target = tmp_path / "r.xlsx"
    target.write_bytes(b"old")

    def broken_replace(src, dst) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(export.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        export.write_excel(target, excel_tables())
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.xlsx"]


@pytest.mark.parametrize(
    ("name", "zh", "en"),
    [
        ("population", "人口", "Population"),
        ("school_primary_time_min", "到最近小学的出行时间（分钟）", None),
        (
            "health_time_min",
            "到最近医疗卫生的出行时间（分钟）",
            "Health care: travel time to the nearest (min)",
        ),
        ("reading_village_centre_facility_name", "最近村综合性文化服务中心名称", None),
        ("bus_n7.5", "7.5分钟内公交站数量", "Bus stop: number within 7.5 min"),
        ("within_30_share", "30分钟内村庄占比", "Villages within 30 min (share)"),
        ("school_middle_beyond_buffer", "初中：超出缓冲区可精确计算的时间", None),
        ("within_30_pop_share", "30分钟内人口占比", None),
        ("school_college_time_min", "school_college_time_min", None),  # not a group: kept
        ("something_else", "something_else", "something_else"),
    ],
)
def test_column_headers(name, zh, en) -> None:
    assert export.column_header(name) == zh
    if en is not None:
        assert export.column_header(name, lang="en") == en


# --------------------------------------------------------------------------- key figures


def test_figures_roundtrip(tmp_path) -> None:
    figures = [
        export.figure(
            "cov", np.float64(0.923), "percent", labels=("小学覆盖率", "Primary coverage")
        ),
        export.figure(
            "beyond",
            np.int64(12),
            "count",
            label_key="figure.beyond",
            group=("小学", "Primary"),
            t="30",
        ),
        export.figure("people", 1200.0, "count", labels=("人口", "People")),
        export.figure("median", np.nan, "minutes", labels=("中位数", "Median")),
        export.figure("inf", np.inf, "number", labels=("无穷", "Infinite")),
    ]
    path = export.write_figures(tmp_path / "out" / "nb_figures.json", figures)
    raw = path.read_text("utf-8")
    assert "小学覆盖率" in raw and "NaN" not in raw and "Infinity" not in raw  # plain UTF-8 JSON
    assert [p.name for p in path.parent.iterdir()] == ["nb_figures.json"]  # no temp file left
    back = export.read_figures(path)
    assert back == export.check_figures(figures)
    assert [f["value"] for f in back] == [0.923, 12, 1200, None, None]
    assert isinstance(back[1]["value"], int) and isinstance(back[2]["value"], int)
    assert back[1]["label_zh"] == "小学：30分钟外村庄数"
    assert back[1]["label_en"] == "Primary: villages beyond 30 min"
    assert set(back[0]) == {"key", "label_zh", "label_en", "value", "format"}


def test_read_figures_missing_and_malformed(tmp_path) -> None:
    assert export.read_figures(tmp_path / "none_figures.json") == []
    bad = tmp_path / "bad_figures.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValidationError, match="bad_figures.json.*invalid JSON"):
        export.read_figures(bad)
    bad.write_text('[{"key": "a"}]', encoding="utf-8")
    with pytest.raises(
        ValidationError, match=r'bad_figures\.json: a key-figures file holds \{"figures"'
    ):
        export.read_figures(bad)
    one = {"key": "a", "label_zh": "甲", "label_en": "A", "value": 1, "format": "count"}
    cases = [
        ({**one, "format": "ratio"}, "format 'ratio'"),
        ({**one, "value": "12"}, "a value is a number or null"),
        ({**one, "value": True}, "a value is a number or null"),
        ({k: v for k, v in one.items() if k != "label_en"}, "missing label_en"),
        ({**one, "extra": 1}, "unknown extra"),
        ({**one, "key": ""}, "non-empty text"),
    ]
    for item, message in cases:
        bad.write_text(json.dumps({"figures": [item]}), encoding="utf-8")
        with pytest.raises(ValidationError, match=message) as info:
            export.read_figures(bad)
        assert "bad_figures.json" in str(info.value)
    with pytest.raises(ValidationError, match="appears twice"):
        export.write_figures(tmp_path / "x.json", [one, one])
    assert not (tmp_path / "x.json").exists()
    with pytest.raises(ValidationError, match="either label_key or labels"):
        export.figure("a", 1, "count")
