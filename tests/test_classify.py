"""Every classification rule, with names that must and must not match."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from accessibility import classify
from accessibility._errors import ValidationError

SCHOOL = {"amenity": "school"}

# (tags, name, kind, tiers, confidence, rule)
CASES = [
    # schools by name
    (SCHOOL, "王庄小学", "school", ("primary",), "name", "school.primary"),
    (SCHOOL, "刘岗村教学点", "school", ("primary",), "name", "school.primary"),
    (SCHOOL, "城关镇第一初级中学", "school", ("middle",), "name", "school.middle"),
    (SCHOOL, "示例县第二初中", "school", ("middle",), "name", "school.middle"),
    (SCHOOL, "示例县第一高级中学", "school", ("high",), "name", "school.high"),
    (SCHOOL, "示例县高中", "school", ("high",), "name", "school.high"),
    (SCHOOL, "许昌一高", "school", ("high",), "name", "school.high"),
    (SCHOOL, "河街乡九年一贯制学校", "school", ("primary", "middle"), "name", "school.nine_year"),
    (
        SCHOOL,
        "东城十二年一贯制学校",
        "school",
        ("primary", "middle", "high"),
        "name",
        "school.twelve_year",
    ),
    (SCHOOL, "示例县完全中学", "school", ("middle", "high"), "name", "school.complete"),
    (SCHOOL, "张桥镇中心学校", "school", ("primary", "middle"), "ambiguous", "school.centre"),
    (SCHOOL, "示例县第三中学", "school", ("middle",), "ambiguous", "school.middle_unspecified"),
    (SCHOOL, "示例县实验学校", "school", (), "ambiguous", "school.any"),
    (SCHOOL, "外国语学校", "school", (), "ambiguous", "school.any"),
    # tags beat names
    (
        {"amenity": "school", "isced:level": "1;2"},
        "示例县实验学校",
        "school",
        ("primary", "middle"),
        "tag",
        "school.isced",
    ),
    (
        {"amenity": "school", "isced:level": "2-3"},
        "第三中学",
        "school",
        ("middle", "high"),
        "tag",
        "school.isced",
    ),
    (
        {"amenity": "school", "school:level": "primary"},
        "育才学校",
        "school",
        ("primary",),
        "tag",
        "school.isced",
    ),
    (
        {"amenity": "school", "isced:level": "0"},
        "王庄小学",
        "school",
        ("primary",),
        "name",
        "school.primary",
    ),
    # not schools of any tier
    ({"amenity": "kindergarten"}, "阳光幼儿园", None, (), "", "not.kindergarten"),
    (SCHOOL, "实验幼儿园", None, (), "", "not.school_by_name"),
    ({"amenity": "driving_school"}, "顺安驾校", None, (), "", "not.driving_school"),
    (SCHOOL, "蓝天驾校", None, (), "", "not.school_by_name"),
    (SCHOOL, "新星职业培训学校", None, (), "", "not.school_by_name"),
    (SCHOOL, "示例县职业中专", None, (), "", "not.school_by_name"),
    ({"amenity": "college"}, "示例职业技术学院", None, (), "", "not.higher_education"),
    (SCHOOL, "许昌学院", None, (), "", "not.school_by_name"),
    ({"amenity": "pharmacy"}, "大众药房", None, (), "", "not.pharmacy"),
    ({"amenity": "veterinary"}, "畜牧兽医站", None, (), "", "not.veterinary"),
    # health
    (
        {"amenity": "clinic"},
        "王庄村卫生室",
        "health",
        ("village_clinic",),
        "name",
        "health.village_clinic",
    ),
    (
        {"healthcare": "clinic"},
        "李村卫生所",
        "health",
        ("village_clinic",),
        "name",
        "health.village_clinic_hc",
    ),
    (
        {"amenity": "hospital"},
        "张桥镇卫生院",
        "health",
        ("township_health_centre",),
        "name",
        "health.township_centre",
    ),
    (
        {"healthcare": "hospital"},
        "东城社区卫生服务中心",
        "health",
        ("township_health_centre",),
        "name",
        "health.township_centre_hc",
    ),
    (
        {"amenity": "hospital"},
        "示例县人民医院",
        "health",
        ("county_hospital",),
        "name",
        "health.county_hospital",
    ),
    (
        {"amenity": "hospital"},
        "示例县中医院",
        "health",
        ("county_hospital",),
        "name",
        "health.county_hospital",
    ),
    (
        {"healthcare": "hospital"},
        "县域医疗中心",
        "health",
        ("county_hospital",),
        "name",
        "health.county_hospital_hc",
    ),
    ({"amenity": "hospital"}, "仁爱医院", "health", (), "ambiguous", "health.hospital_other"),
    ({"amenity": "clinic"}, "张氏诊所", "health", (), "ambiguous", "health.clinic_other"),
    # reading
    (
        {"amenity": "library"},
        "城市书房(人民路店)",
        "reading",
        ("study_room",),
        "name",
        "reading.study_room",
    ),
    (
        {"amenity": "library"},
        "示例县图书馆",
        "reading",
        ("library",),
        "name",
        "reading.library_name",
    ),
    ({"amenity": "library"}, "", "reading", ("library",), "tag", "reading.library_tag"),
    (
        {"amenity": "community_centre"},
        "张桥镇综合文化站",
        "reading",
        ("cultural_station",),
        "name",
        "reading.cultural_station",
    ),
    (
        {"amenity": "community_centre"},
        "王庄村综合性文化服务中心",
        "reading",
        ("village_centre",),
        "name",
        "reading.village_centre",
    ),
    (
        {"amenity": "library"},
        "王庄村农家书屋",
        "reading",
        ("village_centre",),
        "name",
        "reading.village_centre",
    ),
    # names that must not misfire
    (SCHOOL, "河南大学附属中学", "school", ("middle",), "ambiguous", "school.middle_unspecified"),
    (SCHOOL, "郑州大学附属小学", "school", ("primary",), "name", "school.primary"),
    (SCHOOL, "大学路小学", "school", ("primary",), "name", "school.primary"),
    (SCHOOL, "示例县职业高级中学", None, (), "", "not.school_by_name"),
    (SCHOOL, "城关初高中", "school", ("middle", "high"), "name", "school.complete"),
    (SCHOOL, "城关镇中心小学", "school", ("primary",), "name", "school.primary"),
    (SCHOOL, "示例县第二实验小学", "school", ("primary",), "name", "school.primary"),
    ({"amenity": "library"}, "示例县第一中学图书馆", None, (), "", "not.institution_library"),
    ({"amenity": "library"}, "许昌学院图书馆", None, (), "", "not.institution_library"),
    (
        {"amenity": "hospital"},
        "张桥镇中心医院",
        "health",
        ("township_health_centre",),
        "name",
        "health.township_hospital",
    ),
    (
        {"amenity": "hospital"},
        "示例县第二人民医院（原张桥镇卫生院）",
        "health",
        ("county_hospital",),
        "name",
        "health.county_hospital",
    ),
    (
        {"public_transport": "platform", "railway": "platform"},
        "许昌站",
        None,
        (),
        "",
        "not.rail_platform",
    ),
    (
        {"public_transport": "platform", "train": "yes"},
        "许昌东站",
        None,
        (),
        "",
        "not.rail_platform_train",
    ),
    # bus
    ({"highway": "bus_stop"}, "王庄村站", "bus", ("bus_stop",), "tag", "bus.stop"),
    ({"highway": "bus_stop"}, "实验小学站", "bus", ("bus_stop",), "tag", "bus.stop"),
    ({"highway": "bus_stop"}, "图书馆站", "bus", ("bus_stop",), "tag", "bus.stop"),
    ({"public_transport": "platform"}, "人民路站", "bus", ("bus_stop",), "tag", "bus.platform"),
    ({"amenity": "bus_station"}, "示例县汽车站", "bus", ("bus_stop",), "tag", "bus.station"),
]


@pytest.mark.parametrize(("tags", "name", "kind", "tiers", "confidence", "rule"), CASES)
def test_rule(tags, name, kind, tiers, confidence, rule) -> None:
    d = classify.classify_feature(tags, name)
    assert d is not None
    assert (d.kind, d.tiers, d.rule) == (kind, tiers, rule)
    if kind is not None:
        assert d.confidence == confidence


@pytest.mark.parametrize(
    ("tags", "name"),
    [
        ({"amenity": "restaurant"}, "小学路饭店"),
        ({"shop": "books"}, "新华书店"),
        ({"amenity": "place_of_worship"}, "图书馆"),
    ],
)
def test_no_rule_applies(tags, name) -> None:
    d = classify.classify_feature(tags, name)
    assert d is None or d.kind is None


def test_every_rule_is_exercised() -> None:
    from importlib import resources

    import yaml

    table = yaml.safe_load(
        resources.files("accessibility.rules").joinpath("facilities.yml").read_text("utf-8")
    )
    ids = {r["id"] for r in table["rules"]}
    covered = {c[-1] for c in CASES}
    assert ids == covered


def test_facilities_frame_and_select() -> None:
    pois = gpd.GeoDataFrame(
        {
            "name": [
                "王庄小学",
                "河街乡九年一贯制学校",
                "阳光幼儿园",
                "示例县高中",
                "王庄村卫生室",
            ],
            "tags": [SCHOOL, SCHOOL, {"amenity": "kindergarten"}, SCHOOL, {"amenity": "clinic"}],
        },
        geometry=[shapely.Point(114, 34)] * 5,
        index=pd.Index(["a", "b", "c", "d", "e"], name="id"),
        crs=4326,
    )
    fac = classify.facilities(pois)
    assert list(fac.index) == ["a", "b", "d", "e"]
    assert list(classify.select(fac, "school:primary")) == ["a", "b"]
    assert list(classify.select(fac, "school:middle")) == ["b"]
    assert list(classify.select(fac, "school")) == ["a", "b", "d"]
    assert list(classify.select(fac, "health:village_clinic")) == ["e"]
    assert list(classify.select(fac, "reading")) == []


def test_group_validation() -> None:
    with pytest.raises(ValidationError, match="unknown facility kind 'shop'"):
        classify.parse_group("shop")
    with pytest.raises(ValidationError, match="unknown tier 'college' for kind 'school'"):
        classify.parse_group("school:college")
    with pytest.raises(ValidationError, match="lack columns"):
        classify.facilities(gpd.GeoDataFrame({"x": [1]}, geometry=[shapely.Point(0, 0)]))


@pytest.mark.parametrize(
    ("tags", "name", "level"),
    [
        ({"place": "town", "capital": "6"}, "城关镇", "county_seat"),
        ({"place": "town", "capital": "8"}, "张桥镇", "township_seat"),
        ({"place": "village", "capital": "8"}, "河街乡", "township_seat"),
        ({"place": "town"}, "古桥乡", "township_seat"),
        ({"place": "village"}, "王庄村", "admin_village"),
        ({"place": "hamlet"}, "小李庄", "natural_village"),
        ({"place": "neighbourhood"}, "幸福小区", "residential"),
        ({"place": "island"}, "某岛", None),
    ],
)
def test_place_levels(tags, name, level) -> None:
    assert classify.place_level(tags, name)[0] == level


def test_county_seat_named_in_config_wins() -> None:
    places = gpd.GeoDataFrame(
        {
            "place": ["town", "town", "village"],
            "name": ["城关镇", "张桥镇", "王庄村"],
            "capital": ["", "8", ""],
        },
        geometry=[shapely.Point(114, 34)] * 3,
        index=pd.Index(["a", "b", "c"], name="id"),
        crs=4326,
    )
    plain = classify.places(places)
    assert plain["level"].tolist() == ["township_seat", "township_seat", "admin_village"]
    seated = classify.places(places, county_seat="城关镇")
    assert seated["level"].tolist() == ["county_seat", "township_seat", "admin_village"]
    assert seated.loc["a", "level_rule"] == "config.seat"
