"""Registries (official CSV/Excel lists): encodings, datums, row checks, the report, merging."""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from accessibility import datum
from accessibility._errors import DataSourceError, ValidationError
from accessibility.sources import registry

from .conftest import TEST_CRS, lonlat

DATA = Path(__file__).parent / "data" / "registry"
#: A WGS-84 box around the test rows of bad_rows.csv (as if a buffered county boundary).
BOX = shapely.box(113.7, 33.9, 114.0, 34.2)


def ground_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    k = math.cos(math.radians((lat1 + lat2) / 2))
    return math.hypot((lon2 - lon1) * k * 111_320.0, (lat2 - lat1) * 110_574.0)


def write(path: Path, text: str, encoding: str) -> Path:
    path.write_bytes(text.encode(encoding))
    return path


# --------------------------------------------------------------------------- encodings and datums

#: Known WGS-84 points in Xuchang (许昌) and Yuzhou (禹州), with fictitious names.
WGS_POINTS = {
    "许昌市第一示例小学": (113.8521, 34.0357),
    "禹州市示例初级中学": (113.4880, 34.1405),
    "鄢陵县示例高级中学": (114.1772, 34.1026),
}


@pytest.mark.parametrize(
    ("name", "forward"), [("gcj02", datum.wgs84_to_gcj02), ("bd09", datum.wgs84_to_bd09)]
)
def test_gbk_file_in_chinese_datum_lands_on_the_wgs84_points(tmp_path, name, forward) -> None:
    lines = ["学校名称,学段,经度,纬度"]
    tiers = ["小学", "初中", "高中"]
    for (school, (lon, lat)), tier in zip(WGS_POINTS.items(), tiers):
        x, y = forward(lon, lat)
        lines.append(f"{school},{tier},{x:.6f},{y:.6f}")  # 6 decimals, as map APIs give them
    path = write(tmp_path / "schools.csv", "\r\n".join(lines) + "\r\n", "gbk")
    res = registry.read_facilities(path, datum=name)
    assert res.encoding == "gbk"
    assert res.report.empty
    assert res.table.crs.to_epsg() == 4326
    assert res.table["name"].tolist() == list(WGS_POINTS)
    assert res.table["tiers"].tolist() == ["primary", "middle", "high"]
    for (lon, lat), geom in zip(WGS_POINTS.values(), res.table.geometry):
        assert ground_m(lon, lat, geom.x, geom.y) < 0.5
    # read as if it were WGS-84, the same file is hundreds of metres off
    raw = registry.read_facilities(path).table
    assert min(ground_m(*p, g.x, g.y) for p, g in zip(WGS_POINTS.values(), raw.geometry)) > 300


def test_utf8_bom_csv(tmp_path) -> None:
    text = "名称,经度,纬度\n示例城市书房,113.85,34.03\n示例图书馆,113.86,34.04\n"
    path = write(tmp_path / "reading.csv", text, "utf-8-sig")
    res = registry.read_facilities(path, kind="reading")
    assert res.encoding == "utf-8-sig"
    assert res.table["name"].tolist() == ["示例城市书房", "示例图书馆"]
    assert res.table["tiers"].tolist() == ["", ""]  # no tier column: kind only, no flag
    assert res.report.empty
    assert list(res.table.index) == ["reg:reading:2", "reg:reading:3"]


def test_plain_utf8_and_tabs(tmp_path) -> None:
    text = "name\tlon\tlat\ttier\nStop A\t113.85\t34.03\t\n"
    res = registry.read_facilities(write(tmp_path / "stops.txt", text, "utf-8"), kind="bus")
    assert res.encoding == "utf-8"
    assert res.table["tiers"].tolist() == ["bus_stop"]  # the only tier of its kind


def test_gb18030_character_outside_gbk(tmp_path) -> None:
    names = ["㐀家村卫生室", "𠀀庄村卫生室"]
    with pytest.raises(UnicodeEncodeError):
        names[0].encode("gbk")
    text = "机构名称,类型,经度,纬度\n" + "".join(
        f"{n},卫生室,113.8{i},34.0{i}\n" for i, n in enumerate(names, start=1)
    )
    res = registry.read_facilities(write(tmp_path / "clinics.csv", text, "gb18030"))
    assert res.encoding == "gb18030"
    assert res.table["name"].tolist() == names
    assert set(res.table["kind"]) == {"health"}
    assert set(res.table["tiers"]) == {"village_clinic"}


def test_excel_with_bom_in_header_and_title_row(tmp_path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    book.active.title = "说明"
    book.active["A1"] = "本表为测试用示例数据"
    ws = book.create_sheet("卫生机构")
    ws.append(["示例县卫生机构名录（示例数据）"])  # a title row above the header
    ws.merge_cells("A1:F1")
    ws.append(["\ufeff机构代码", "\ufeff机构名称", "机构类型", "经度", "纬度", "床位数"])
    ws.append([41100001, "示例县人民医院", "县级医院", 113.85, 34.03, 500])
    ws.append([41100002, "东河镇卫生院", "乡镇卫生院", 113.86, 34.04, "约40"])
    ws.append([41100003.0, "王庄村卫生室", "卫生室", None, 34.05, None])
    ws.append([None, "李庄村卫生室", "村卫生室", 113.88, 34.06, 2])
    path = tmp_path / "clinics.xlsx"
    book.save(path)

    res = registry.read_facilities(path, sheet="卫生机构")
    assert res.encoding == "xlsx"
    assert list(res.table.index) == ["41100001", "41100002", "reg:clinics:6"]
    assert res.table["tiers"].tolist() == [
        "county_hospital",
        "township_health_centre",
        "village_clinic",
    ]
    assert res.table["beds"].tolist()[0] == 500.0 and np.isnan(res.table["beds"].iloc[1])
    assert res.table["capacity"].isna().all()  # 床位数 are beds, not seats
    assert res.table["row"].tolist() == [3, 4, 6]  # header on row 2, as Excel shows it
    got = res.report[["row", "column", "value", "action"]].to_numpy().tolist()
    assert got == [
        [4, "床位数", "约40", "kept"],
        [5, "经度", "", "dropped"],
        [6, "机构代码", "", "kept"],
    ]
    # the same sheet by position, and a missing sheet
    assert len(registry.read_facilities(path, sheet=1).table) == 3
    with pytest.raises(
        ValidationError, match=r"has no sheet 'nope'; its sheets are \['说明', '卫生机构'\]"
    ):
        registry.read_facilities(path, sheet="nope")


def test_example_file_reads_cleanly() -> None:
    res = registry.read_facilities(DATA / "example_schools.csv", datum="gcj02")
    assert res.report.empty and res.encoding == "utf-8"
    t = res.table
    assert t.index.name == "id" and t.index[0] == "示例-001"
    assert t.loc["示例-005", "tiers"] == "primary;middle"  # 九年一贯制
    assert t.loc["示例-008", "tiers"] == "middle;high"  # 完全中学
    assert t.loc["示例-007", "tiers"] == "primary"  # 教学点
    assert np.isnan(t.loc["示例-008", "capacity"]) and t.loc["示例-004", "capacity"] == 3600
    assert set(t["confidence"]) == {"registry"} and set(t["rule"]) == {"registry"}
    assert set(t["source"]) == {"registry"}
    # the example's GCJ-02 coordinates were made from points near the sample county
    assert ground_m(114.0012, 34.0021, t.geometry.iloc[0].x, t.geometry.iloc[0].y) < 0.5


# --------------------------------------------------------------------------- row checks


def test_bad_rows_report_exactly() -> None:
    res = registry.read_facilities(DATA / "bad_rows.csv", boundary=BOX)
    report = res.report
    assert list(report.columns) == ["file", "row", "column", "value", "reason", "action"]
    assert set(report["file"]) == {"bad_rows.csv"}
    got = report[["row", "column", "value", "action"]].to_numpy().tolist()
    assert got == [
        [3, "经度", "", "dropped"],
        [4, "经度", "113.8x", "dropped"],
        [5, "纬度", "34.05, 113.86", "kept"],
        [6, "经度", "114.5, 34.03", "dropped"],
        [7, "名称", "东关小学", "dropped"],
        [8, "类型", "幼儿园", "dropped"],
        [9, "类别", "商店", "dropped"],
        [10, "名称", "", "kept"],
        [14, "编号", "S1", "kept"],
    ]
    reasons = report["reason"].tolist()
    assert reasons[0] == "lon missing"
    assert reasons[1] == "lon is not a decimal number of degrees (like 113.85)"
    assert reasons[2] == "longitude and latitude swapped in the file; swapped back"
    assert reasons[3] == "outside the boundary"
    assert reasons[4] == "duplicate of row 2 (same name, within 1 m)"
    assert reasons[5].startswith(
        "unknown tier '幼儿园' for kind school; allowed: primary (小学), middle (初中), high (高中)"
    )
    assert reasons[6] == (
        "unknown kind '商店'; allowed: school (学校), health (医疗卫生), reading (阅读场所), bus (公交站)"
    )
    assert reasons[7] == "name missing"
    assert reasons[8] == "id already used by row 2; this row gets id reg:bad_rows:14"

    t = res.table
    assert list(t.index) == ["S1", "S4", "S9", "S10", "S11", "reg:bad_rows:14"]
    assert t.loc["S4"].geometry.equals(shapely.Point(113.86, 34.05))  # swapped back
    assert t.loc["S4", "note"] == "longitude and latitude swapped in the file; swapped back"
    assert t.loc["S10", "tiers"] == "primary;middle" and t.loc["S10", "kind"] == "school"
    assert t.loc["S9", "name"] == ""
    # S11 has S1's name but lies ~9 m away: a different facility, kept
    assert "S11" in t.index

    # nothing disappears: every data row is in the table or dropped in the report
    data_rows = {2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14}  # row 12 is blank
    dropped = set(report.loc[report["action"] == "dropped", "row"])
    assert set(t["row"]) | dropped == data_rows
    assert not set(t["row"]) & dropped


def test_report_written_atomically(tmp_path) -> None:
    res = registry.read_facilities(DATA / "bad_rows.csv", boundary=BOX, report_dir=tmp_path / "out")
    assert res.report_path == tmp_path / "out" / "bad_rows_report.csv"
    raw = res.report_path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(res.report_path, encoding="utf-8-sig", keep_default_na=False)
    assert back["row"].tolist() == res.report["row"].tolist()
    assert back["reason"].tolist() == res.report["reason"].tolist()
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["bad_rows_report.csv"]
    # a clean file still gets its (empty) report, proof that it was checked
    clean = registry.read_facilities(
        DATA / "example_schools.csv", datum="gcj02", report_dir=tmp_path
    )
    assert pd.read_csv(clean.report_path, encoding="utf-8-sig").empty


def test_swapped_coordinates_that_fit_china_only_when_swapped(tmp_path) -> None:
    # a latitude above 90 is caught in bad_rows.csv; here both values are plausible
    # degrees but only the swapped order lies in China (Tibet); the second row lies
    # outside China either way (Paris) and is kept, flagged
    text = "名称,经度,纬度,类型\n甲小学,34.5,85.2,小学\n乙小学,2.35,48.86,小学\n"
    res = registry.read_facilities(write(tmp_path / "s.csv", text, "utf-8"))
    assert res.table.geometry.iloc[0].equals(shapely.Point(85.2, 34.5))
    assert res.table.geometry.iloc[1].equals(shapely.Point(2.35, 48.86))
    flags = res.report[["row", "reason", "action"]].to_numpy().tolist()
    assert flags == [
        [2, "longitude and latitude swapped in the file; swapped back", "kept"],
        [3, "outside mainland China's bounding box; check the coordinates", "kept"],
    ]


def test_zero_and_out_of_range_coordinates(tmp_path) -> None:
    text = "名称,经度,纬度,类型\n甲,0,0,小学\n乙,200,95,小学\n丙,30,200,小学\n"
    res = registry.read_facilities(write(tmp_path / "z.csv", text, "utf-8"))
    assert res.table.empty
    assert res.report["reason"].tolist() == [
        "lon is 0, which stands for a missing coordinate",
        "coordinates out of range (longitude ±180, latitude ±90)",
        "coordinates out of range even when swapped",
    ]
    assert set(res.report["action"]) == {"dropped"}


def test_tiers_groups_and_kinds(tmp_path) -> None:
    text = (
        "名称,分组,类型,经度,纬度\n"
        "甲,school:high,,113.80,34.01\n"
        "乙,,primary;middle,113.81,34.02\n"
        "丙,,小学、初中,113.82,34.03\n"
        "丁,,农家书屋,113.83,34.04\n"
        "戊,school:primary,卫生室,113.84,34.05\n"
        "己,school:nursery,,113.85,34.06\n"
        "庚,,小学;卫生室,113.86,34.07\n"
    )
    res = registry.read_facilities(write(tmp_path / "g.csv", text, "utf-8"))
    t = res.table
    assert t.set_index("name")[["kind", "tiers"]].to_dict("index") == {
        "甲": {"kind": "school", "tiers": "high"},
        "乙": {"kind": "school", "tiers": "primary;middle"},
        "丙": {"kind": "school", "tiers": "primary;middle"},
        "丁": {"kind": "reading", "tiers": "village_centre"},
    }
    reasons = res.report.set_index("row")["reason"]
    wrong_kind = "tier '卫生室' belongs to kind health, not school; allowed for school: "
    assert reasons[6] == wrong_kind + registry._allowed_tiers("school")
    assert reasons[7].startswith("unknown tier 'nursery' for kind 'school'; choose one of: primary")
    mixed = "tier '小学;卫生室' mixes kinds ['health', 'school']; give one kind per row"
    assert reasons[8] == mixed


def test_kind_argument_and_missing_tier(tmp_path) -> None:
    text = "名称,类型,经度,纬度\n甲卫生院,卫生院,113.80,34.01\n乙,,113.81,34.02\n丙小学,小学,113.82,34.03\n"
    res = registry.read_facilities(write(tmp_path / "h.csv", text, "utf-8"), kind="health")
    assert res.table["tiers"].tolist() == ["township_health_centre", ""]
    got = res.report[["row", "column", "action"]].to_numpy().tolist()
    assert got == [[3, "类型", "kept"], [4, "类型", "dropped"]]
    assert res.report["reason"].iloc[0] == (
        "tier missing; the facility counts for kind health but for no tier"
    )
    assert res.table["note"].iloc[1] == res.report["reason"].iloc[0]


def test_unquoted_comma_and_names_kept_as_written(tmp_path) -> None:
    text = "名称,经度,纬度\n示例小学（东校区）,113.80,34.01\n示例小学,113.81,34.02,分校\n"
    res = registry.read_facilities(write(tmp_path / "q.csv", text, "utf-8"), kind="school")
    assert res.table["name"].tolist() == ["示例小学（东校区）", "示例小学"]  # full-width kept
    assert res.report[["row", "column", "value", "action"]].to_numpy().tolist() == [
        [3, "", "分校", "kept"]
    ]
    assert res.report["reason"].iloc[0].startswith("1 cell(s) beyond the header's 3 columns")


def test_explicit_column_mapping(tmp_path) -> None:
    text = "学校,X坐标,Y坐标,在校生\n甲小学,113.80,34.01,300\n"
    path = write(tmp_path / "m.csv", text, "utf-8")
    res = registry.read_facilities(
        path,
        columns={"学校": "name", "X坐标": "lon", "Y坐标": "lat", "在校生": "capacity"},
        kind="school",
    )
    assert res.table["name"].tolist() == ["甲小学"] and res.table["capacity"].tolist() == [300.0]


def test_villages(tmp_path) -> None:
    res = registry.read_villages(DATA / "villages.csv")
    t = res.table
    assert list(t.columns) == ["name", "level", "population", "unit", "row", "geometry"]
    assert t.index.name == "id" and t.index[0] == "411000100201"
    assert t["level"].tolist() == [
        "admin_village",
        "natural_village",
        "township_seat",
        "admin_village",
    ]
    # "1,260" has a thousands separator
    assert t["population"].tolist()[:3] == [1260.0, 310.0, 5400.0]
    assert np.isnan(t["population"].iloc[3])
    assert set(t["unit"]) == {"411000100"}  # codes stay text
    got = res.report[["row", "column", "value", "action"]].to_numpy().tolist()
    assert got == [[5, "户籍人口", "约800", "kept"], [6, "级别", "镇政府", "dropped"]]
    reason = res.report["reason"].iloc[1]
    assert reason.startswith("unknown level '镇政府'; allowed: county_seat (县城)")


def test_villages_gbk_bd09_with_boundary(tmp_path) -> None:
    lines = ["行政村名称,人口,经度,纬度"]
    points = {"王庄村": (113.91, 34.02), "李庄村": (113.92, 34.03), "外县村": (114.5, 34.0)}
    for name, (lon, lat) in points.items():
        x, y = datum.wgs84_to_bd09(lon, lat)
        lines.append(f"{name},800,{x:.6f},{y:.6f}")
    path = write(tmp_path / "v.csv", "\n".join(lines), "gbk")
    res = registry.read_villages(path, datum="bd09", boundary=BOX)
    assert res.encoding == "gbk"
    assert res.table["name"].tolist() == ["王庄村", "李庄村"]
    assert res.report[["row", "reason", "action"]].to_numpy().tolist() == [
        [4, "outside the boundary", "dropped"]
    ]


# --------------------------------------------------------------------------- validation errors


def test_file_not_found(tmp_path) -> None:
    with pytest.raises(DataSourceError, match="registry file not found: .*nope.csv"):
        registry.read_facilities(tmp_path / "nope.csv", kind="school")


def test_unknown_datum() -> None:
    with pytest.raises(ValidationError, match="unknown coordinate datum 'wgs-1984'"):
        registry.read_facilities(DATA / "example_schools.csv", datum="wgs-1984")


def test_unknown_kind_argument() -> None:
    with pytest.raises(
        ValidationError, match="unknown facility kind 'schools'; choose one of: school"
    ):
        registry.read_facilities(DATA / "example_schools.csv", kind="schools")


def test_missing_required_columns_lists_the_columns_found(tmp_path) -> None:
    path = write(tmp_path / "c.csv", "学校,位置X,位置Y\n甲,113.8,34.0\n", "utf-8")
    with pytest.raises(
        ValidationError,
        match=r"missing \['name', 'lon', 'lat'\].*columns found: \['学校', '位置X', '位置Y'\]",
    ):
        registry.read_facilities(path, kind="school")
    with pytest.raises(ValidationError, match=r"missing \['lat'\]"):
        registry.read_facilities(path, kind="school", columns={"学校": "name", "位置X": "lon"})
    with pytest.raises(ValidationError, match=r"names headers not in the file: \['位置Z'\]"):
        registry.read_facilities(
            path, kind="school", columns={"学校": "name", "位置X": "lon", "位置Z": "lat"}
        )


def test_unknown_field_in_columns(tmp_path) -> None:
    with pytest.raises(ValidationError, match=r"columns maps to unknown fields \['名字'\]"):
        registry.read_facilities(DATA / "example_schools.csv", columns={"学校名称": "名字"})


def test_unreadable_encoding(tmp_path) -> None:
    path = tmp_path / "broken.csv"
    path.write_bytes("名称,经度,纬度\n".encode() + b"\x80\xff\xfe,113.8,34.0\n")
    with pytest.raises(ValidationError, match="cannot decode broken.csv as UTF-8, GBK or GB18030"):
        registry.read_facilities(path, kind="school")
    utf16 = write(tmp_path / "u16.csv", "名称,经度,纬度\n", "utf-16")
    with pytest.raises(ValidationError, match="pass encoding='utf-16'"):
        registry.read_facilities(utf16, kind="school")
    assert registry.read_facilities(utf16, kind="school", encoding="utf-16").table.empty


def test_wrong_encoding_given(tmp_path) -> None:
    path = write(tmp_path / "g.csv", "名称,经度,纬度\n甲小学,113.8,34.0\n", "gbk")
    with pytest.raises(ValidationError, match="g.csv is not valid utf-8"):
        registry.read_facilities(path, kind="school", encoding="utf-8")
    with pytest.raises(ValidationError, match="unknown encoding 'klingon'"):
        registry.read_facilities(path, kind="school", encoding="klingon")
    assert registry.read_facilities(path, kind="school", encoding="GBK").encoding == "gbk"


def test_cannot_tell_the_kind(tmp_path) -> None:
    path = write(tmp_path / "k.csv", "名称,经度,纬度\n甲,113.8,34.0\n", "utf-8")
    with pytest.raises(ValidationError, match=r"cannot tell the facility kind: pass kind='school'"):
        registry.read_facilities(path)
    header_only = write(tmp_path / "k2.csv", "名称,经度,纬度\n", "utf-8")
    with pytest.raises(ValidationError, match=r"columns found: \['名称', '经度', '纬度'\]"):
        registry.read_facilities(header_only)


def test_other_file_errors(tmp_path) -> None:
    xls = tmp_path / "old.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(ValidationError, match="old-format Excel file"):
        registry.read_facilities(xls, kind="school")
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"not a zip")
    with pytest.raises(DataSourceError, match="cannot open bad.xlsx as an Excel workbook"):
        registry.read_facilities(bad, kind="school")
    with pytest.raises(ValidationError, match="sheet=0 applies to Excel files only"):
        registry.read_facilities(DATA / "example_schools.csv", sheet=0)
    empty = write(tmp_path / "e.csv", "\n\n", "utf-8")
    with pytest.raises(ValidationError, match="e.csv has no rows"):
        registry.read_facilities(empty, kind="school")


def test_boundary_must_be_degrees() -> None:
    with pytest.raises(ValidationError, match="not WGS-84 degrees; reproject it"):
        registry.read_facilities(
            DATA / "example_schools.csv",
            boundary=shapely.box(250_000, 3_760_000, 260_000, 3_770_000),
        )


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("许昌市建安区五女店镇中心小学", "五女店镇中心小学", 1.0),  # admin prefix, 镇
        ("张桥村卫生室", "张桥卫生室", 1.0),  # 村
        ("城关镇第1小学", "城关镇第一小学", 1.0),  # digits, 第
        ("城关镇第一小学", "城关一小", 0.8),  # abbreviation: partly similar
        ("王庄小学", "李庄小学", 0.0),  # the type word does not make them alike
        ("长葛市第一高级中学", "长葛市第二高级中学", 0.0),
        ("许昌城市书房（东城店）", "许昌城市书房东城店", 1.0),  # brackets; 城市 is not a prefix
        ("", "王庄小学", 0.0),
        (None, None, 0.0),
    ],
)
def test_similarity(a, b, expected) -> None:
    assert registry.similarity(a, b) == pytest.approx(expected)
    assert registry.similarity(b, a) == pytest.approx(expected)


# --------------------------------------------------------------------------- merge


def frame(rows: dict[str, tuple[str, str, str, float, float]]) -> gpd.GeoDataFrame:
    """Facilities from ``id → (name, kind, tiers, x, y)`` with x, y in layout metres."""
    ids = list(rows)
    return gpd.GeoDataFrame(
        {
            "name": [rows[i][0] for i in ids],
            "kind": [rows[i][1] for i in ids],
            "tiers": [rows[i][2] for i in ids],
        },
        geometry=[shapely.Point(*lonlat(rows[i][3], rows[i][4])) for i in ids],
        index=pd.Index(ids, name="id"),
        crs=4326,
    )


@pytest.fixture
def osm() -> gpd.GeoDataFrame:
    out = frame(
        {
            "n1": ("东关小学", "school", "primary", 0, 0),
            "n2": ("西关小学", "school", "primary", 2000, 0),
            "n3": ("东河镇中心学校", "school", "primary;middle", 3000, 0),
            "n4": ("南关小学", "school", "primary", 5000, 0),
            "n5": ("北关小学", "school", "", 0, 3000),
            "n6": ("城关中学", "school", "high", 4000, 4000),
            "n7": ("王庄小学", "school", "primary", 6000, 6000),
            "n8": ("李庄小学", "school", "primary", 7000, 7000),
        }
    )
    out["confidence"] = "name"
    out["capacity"] = [np.nan, np.nan, np.nan, np.nan, 120.0, np.nan, np.nan, np.nan]
    return out


@pytest.fixture
def reg() -> gpd.GeoDataFrame:
    out = frame(
        {
            "r1": ("示例县东关小学", "school", "primary", 60, 80),  # 100 m from n1
            "r2": ("东河镇中心卫生院", "health", "township_health_centre", 3020, 0),  # other kind
            "r3": ("南关小学", "school", "primary", 5800, 0),  # same name, 800 m away
            "r4": ("新建小学", "school", "primary", 8000, 8000),  # nothing near
            "r5": ("北关小学", "school", "primary", 50, 3000),  # OSM tiers empty
            "r6": ("城关中学", "school", "middle", 4010, 4000),  # tiers do not overlap
            "r7": ("王庄小学", "school", "primary", 6050, 6000),
            "r8": ("王庄村小学", "school", "primary", 6200, 6000),  # loses n7 to r7
            "r9": ("赵庄小学", "school", "primary", 7020, 7000),  # close, but another name
        }
    )
    out["capacity"] = [300.0, np.nan, np.nan, np.nan, np.nan, np.nan, 200.0, np.nan, np.nan]
    out["source"] = "registry"
    return out


def test_merge(osm, reg) -> None:
    merged, pairs = registry.merge(osm, reg, crs=TEST_CRS)
    assert merged.crs.to_epsg() == 4326 and merged.index.name == "id"
    assert merged["match"].to_dict() == {
        "r1": "matched",
        "r2": "registry_only",
        "r3": "registry_only",
        "r4": "registry_only",
        "r5": "matched",
        "r6": "registry_only",
        "r7": "matched",
        "r8": "registry_only",
        "r9": "registry_only",
        "n2": "osm_only",
        "n3": "osm_only",
        "n4": "osm_only",
        "n6": "osm_only",
        "n8": "osm_only",
    }
    assert merged.loc["r1", "osm_id"] == "n1" and merged.loc["r7", "osm_id"] == "n7"
    assert merged.loc["r5", "osm_id"] == "n5" and pd.isna(merged.loc["r3", "osm_id"])
    assert merged.loc["n2", "osm_id"] == "n2"
    # registry values win where present; position from OSM
    assert merged.loc["r1", "name"] == "示例县东关小学" and merged.loc["r1", "capacity"] == 300
    assert merged.loc["r5", "tiers"] == "primary" and merged.loc["r5", "capacity"] == 120
    assert merged.loc["r1"].geometry.equals(osm.loc["n1"].geometry)
    assert merged.loc["r3"].geometry.equals(reg.loc["r3"].geometry)
    assert merged.loc[["r1", "r3"], "source"].tolist() == ["registry", "registry"]
    assert merged.loc[["n2", "n4"], "source"].tolist() == ["osm", "osm"]
    # the pairs considered
    status = {(p.registry_id, p.osm_id): p.status for p in pairs.itertuples()}
    assert status == {
        ("r1", "n1"): "matched",
        ("r5", "n5"): "matched",
        ("r7", "n7"): "matched",
        ("r8", "n7"): "taken",
        ("r9", "n8"): "low_similarity",
    }
    row = pairs.set_index(["registry_id", "osm_id"]).loc[("r1", "n1")]
    assert row["distance_m"] == pytest.approx(100.0, abs=0.5)
    assert row["similarity"] == 1.0 and row["score"] == pytest.approx(1 - 100 / 600, abs=1e-3)
    assert pairs["score"].is_monotonic_decreasing


def test_merge_options(osm, reg) -> None:
    # a larger radius lets the same-name school 800 m away match
    merged, _ = registry.merge(osm, reg, crs=TEST_CRS, max_distance_m=1000)
    assert merged.loc["r3", "osm_id"] == "n4"
    # similarity 0 accepts any name among candidates
    merged, _ = registry.merge(osm, reg, crs=TEST_CRS, min_similarity=0)
    assert merged.loc["r9", "osm_id"] == "n8"


def test_merge_with_empty_inputs(osm, reg) -> None:
    merged, pairs = registry.merge(osm, reg.iloc[:0], crs=TEST_CRS)
    assert set(merged["match"]) == {"osm_only"} and len(merged) == len(osm) and pairs.empty
    merged, _ = registry.merge(osm.iloc[:0], reg, crs=TEST_CRS)
    assert set(merged["match"]) == {"registry_only"} and len(merged) == len(reg)


def test_merge_validation(osm, reg) -> None:
    with pytest.raises(ValidationError, match="must be projected in metres"):
        registry.merge(osm, reg, crs="EPSG:4326")
    with pytest.raises(ValidationError, match="not a CRS pyproj understands"):
        registry.merge(osm, reg, crs="nonsense")
    with pytest.raises(ValidationError, match=r"registry facilities lack columns \['tiers'\]"):
        registry.merge(osm, reg.drop(columns="tiers"), crs=TEST_CRS)
    with pytest.raises(ValidationError, match="max_distance_m must be a positive number"):
        registry.merge(osm, reg, crs=TEST_CRS, max_distance_m=0)
    with pytest.raises(ValidationError, match="min_similarity must be between 0 and 1"):
        registry.merge(osm, reg, crs=TEST_CRS, min_similarity=1.5)
    with pytest.raises(ValidationError, match=r"ids \['n1'\] are used by both"):
        registry.merge(osm, reg.rename(index={"r1": "n1"}), crs=TEST_CRS)
    # a second registry sharing ids with one merged before: not blamed on OSM
    merged, _ = registry.merge(osm, reg, crs=TEST_CRS)
    with pytest.raises(
        ValidationError, match=r"ids \['r1'\] of this registry are already used by registry"
    ) as info:
        registry.merge(merged, reg.iloc[:1], crs=TEST_CRS)
    assert "OSM" not in str(info.value)
    with pytest.raises(ValidationError, match="osm facilities have no CRS"):
        registry.merge(osm.set_crs(None, allow_override=True), reg, crs=TEST_CRS)


def test_read_then_merge() -> None:
    reg = registry.read_facilities(DATA / "example_schools.csv", datum="gcj02").table
    # OSM knows two of the schools, mapped 30 m from the registry's position
    first, sixth = (reg.to_crs(TEST_CRS).geometry.iloc[i] for i in (0, 5))
    mapped = [shapely.Point(first.x + 30, first.y), shapely.Point(sixth.x, sixth.y - 30)]
    to_wgs = gpd.GeoSeries(mapped, crs=TEST_CRS)
    osm = gpd.GeoDataFrame(
        {"name": ["城关一小", "王庄小学"], "kind": "school", "tiers": ["primary", ""]},
        geometry=to_wgs.to_crs(4326).to_numpy(),
        index=pd.Index(["n100", "w200"], name="id"),
        crs=4326,
    )
    merged, pairs = registry.merge(osm, reg, crs=TEST_CRS)
    assert merged.loc["示例-001", "osm_id"] == "n100"
    assert merged.loc["示例-006", "osm_id"] == "w200"
    assert (merged["match"] == "matched").sum() == 2 and len(merged) == len(reg)
    assert set(pairs.loc[pairs["status"] == "matched", "distance_m"].round()) == {30.0}


# --------------------------------------------------------------------------- supply figures


def test_health_list_reads_beds_and_doctors(tmp_path) -> None:
    # 实有床位数 is preferred to 编制床位 (beds open, not beds planned); 执业（助理）医师数
    # is read as 执业医师数 (the bracket dropped)
    text = (
        "机构名称,机构类型,经度,纬度,编制床位,实有床位数,执业（助理）医师数,学位数\n"
        "示例县人民医院,县级医院,113.85,34.03,600,520,148,\n"
        "东河镇卫生院,乡镇卫生院,113.86,34.04,60,约40,-3,\n"
        "王庄村卫生室,村卫生室,113.87,34.05,,,2,\n"
    )
    res = registry.read_facilities(write(tmp_path / "health.csv", text, "utf-8"))
    t = res.table
    assert t["beds"].tolist()[0] == 520.0 and t["beds"].isna().tolist() == [False, True, True]
    assert t["doctors"].tolist()[0] == 148.0 and t["doctors"].tolist()[2] == 2.0
    assert np.isnan(t["doctors"].iloc[1])
    assert t["capacity"].isna().all()
    got = res.report[["row", "column", "value", "action"]].to_numpy().tolist()
    assert got == [[3, "实有床位数", "约40", "kept"], [3, "执业（助理）医师数", "-3", "kept"]]
    assert t[["beds", "doctors"]].dtypes.tolist() == [np.float64, np.float64]


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("床位数", "beds"),
        ("开放床位数", "beds"),
        ("核定床位数", "beds"),
        ("乡村医生数", "doctors"),
        ("医师人数", "doctors"),
        ("执业(助理)医师数", "doctors"),
        ("核定学位", "capacity"),
    ],
)
def test_supply_headers(tmp_path, header, field) -> None:
    text = f"名称,类型,经度,纬度,{header}\n甲,卫生院,113.85,34.03,12\n"
    t = registry.read_facilities(write(tmp_path / "f.csv", text, "utf-8")).table
    assert t[field].tolist() == [12.0]
    assert all(np.isnan(t[f].iloc[0]) for f in ("beds", "doctors", "capacity") if f != field)


def test_merge_keeps_each_supply_figure(osm, reg) -> None:
    # a matched pair: each figure the registry states wins; a figure only OSM maps is kept
    osm = osm.assign(beds=np.nan, doctors=np.nan)
    osm.loc["n1", ["beds", "doctors"]] = [30.0, 4.0]
    osm.loc["n2", "beds"] = 12.0
    reg = reg.assign(beds=np.nan, doctors=np.nan)
    reg.loc["r1", "doctors"] = 9.0
    merged, _ = registry.merge(osm, reg, crs=TEST_CRS)
    assert merged.loc["r1", ["beds", "doctors", "capacity"]].tolist() == [30.0, 9.0, 300.0]
    assert merged.loc["n2", "beds"] == 12.0 and np.isnan(merged.loc["r4", "beds"])
    assert merged[["beds", "doctors", "capacity"]].dtypes.tolist() == [np.float64] * 3
    # a registry without the columns (an older file) takes OSM's figures of matched rows
    merged, _ = registry.merge(osm, reg.drop(columns=["beds", "doctors"]), crs=TEST_CRS)
    assert merged.loc["r1", ["beds", "doctors"]].tolist() == [30.0, 4.0]
    assert np.isnan(merged.loc["r3", "beds"])
