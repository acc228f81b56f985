"""Fixed values of the sample county: generator version, default seed, file names,
the population raster's grid, the county's names, the origin of the local frame,
the :class:`SampleFiles` record, and the pools that township, village, hamlet,
street and school names are drawn from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: Bump whenever the generated output changes for an unchanged seed.
GENERATOR_VERSION = "1.2.0"

#: The seed used when none is given.
DEFAULT_SEED = 2023

OSM_FILENAME = "sample.osm"
BOUNDARY_FILENAME = "boundary.geojson"
POPULATION_FILENAME = "population.tif"
META_FILENAME = "meta.json"

#: Cell of the population raster, degrees (3 arc-seconds, WorldPop's "100 m" grid).
POPULATION_CELL_DEG = 1.0 / 1200.0
#: Nodata value of the population raster (cells outside the county), as WorldPop's.
POPULATION_NODATA = -99999.0

COUNTY_NAME = "示例县"
COUNTY_NAME_EN = "Sample County"
SYNTHETIC_NOTE = (
    "synthetic data: a generated county for demonstration and testing, "
    "not a real place; do not use for planning"
)
OSM_GENERATOR = "accessibility sample generator (synthetic)"

#: Origin of the local metric frame (degrees, WGS-84).
ORIGIN_LON = 114.0
ORIGIN_LAT = 34.0

_WGS84_A = 6_378_137.0
_WGS84_E2 = 6.694_379_990_14e-3

XY = tuple[float, float]


@dataclass(frozen=True)
class SampleFiles:
    """Paths of the generated sample county files.

    Attributes
    ----------
    osm
        ``<out_dir>/sample.osm``: OSM XML 0.6, WGS-84 coordinates.
    boundary
        ``<out_dir>/boundary.geojson``: the county polygon as a GeoJSON Feature
        (WGS-84, RFC 7946) with properties ``name``, ``name_zh``, ``name_en``,
        ``synthetic`` (true) and ``seed``.
    meta
        ``<out_dir>/meta.json``: seed, generator version, ``synthetic: true``,
        counts of everything generated, area (km², UTM) and bounding box
        (degrees).
    population
        ``<out_dir>/population.tif``: persons per 3″ cell (GeoTIFF, EPSG:4326).
    """

    osm: Path
    boundary: Path
    meta: Path
    population: Path


# --------------------------------------------------------------------------- names

_SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董程曹袁邓许沈彭吕苏卢蒋蔡贾"
    "丁魏薛叶余潘杜戴夏钟田任姜范方石姚谭邹金陆郝孔白崔康毛秦史顾侯邵孟段雷钱尹常武乔贺龚"
)
_VILLAGE_PREFIXES = _SURNAMES + "东西南北前后大小上新老"
_VILLAGE_SUFFIXES = "庄营寨楼集店岗坡屯桥湾庙园堂寺河沟湖洼铺台岭井林"
_HAMLET_SUFFIXES = "庄湾营洼"

#: Township base names with their pinyin.
_TOWNSHIPS: tuple[tuple[str, str], ...] = (
    ("黄桥", "Huangqiao"),
    ("石固", "Shigu"),
    ("古城", "Gucheng"),
    ("柳林", "Liulin"),
    ("白庙", "Baimiao"),
    ("双河", "Shuanghe"),
    ("长店", "Changdian"),
    ("马集", "Maji"),
    ("杏园", "Xingyuan"),
    ("桃园", "Taoyuan"),
    ("龙湖", "Longhu"),
    ("青岗", "Qinggang"),
    ("大营", "Daying"),
    ("小召", "Xiaozhao"),
    ("官亭", "Guanting"),
    ("五里", "Wuli"),
    ("三岔", "Sancha"),
    ("高楼", "Gaolou"),
    ("东寨", "Dongzhai"),
    ("西韩", "Xihan"),
    ("南席", "Nanxi"),
    ("北坡", "Beipo"),
    ("安乐", "Anle"),
    ("永兴", "Yongxing"),
    ("太平", "Taiping"),
    ("丁营", "Dingying"),
    ("尚集", "Shangji"),
    ("灵井", "Lingjing"),
    ("椹涧", "Zhenjian"),
    ("范湖", "Fanhu"),
)

#: Street name stems for the county seat ("路" north–south, "街" east–west).
_STREET_STEMS = (
    "中山",
    "新华",
    "胜利",
    "和平",
    "健康",
    "育才",
    "光明",
    "幸福",
    "团结",
    "友谊",
    "工业",
    "商业",
    "兴业",
    "滨河",
    "迎宾",
    "振兴",
    "繁荣",
    "发展",
    "民主",
    "青年",
    "学院",
    "府前",
    "东风",
    "朝阳",
    "长安",
    "春晖",
    "建国",
    "黄河",
    "平安",
    "吉祥",
    "永兴",
    "新兴",
    "嵩山",
    "紫荆",
    "牡丹",
    "玉兰",
    "丁香",
    "银杏",
    "梧桐",
    "金穗",
    "丰收",
    "文昌",
    "文峰",
    "建安",
    "七里",
    "八一",
    "五一",
    "花园",
    "公园",
    "体育",
    "交通",
    "农业",
    "科技",
    "创业",
    "同心",
    "安康",
    "富强",
    "和谐",
    "文明",
    "诚信",
    "仁和",
    "德政",
    "清风",
    "明珠",
    "锦绣",
    "翠柳",
    "桂花",
    "荷花",
    "长青",
    "富民",
)
_TOWN_STREETS = (
    "中心街",
    "兴业路",
    "府前街",
    "新华路",
    "商业街",
    "文化路",
    "健康路",
    "工业路",
    "幸福路",
    "人民路",
    "建设路",
    "振兴路",
    "育才路",
    "友谊街",
    "和平街",
)
_ORDINALS = "一二三四五六七八九十"
_KINDERGARTENS = (
    "阳光幼儿园",
    "小天使幼儿园",
    "育英幼儿园",
    "金色童年幼儿园",
    "小博士幼儿园",
    "蓝天幼儿园",
)
_DRIVING_SCHOOLS = ("示例县通达驾校", "安顺驾校", "平安驾校")
_TRAINING_SCHOOLS = ("示例县阳光职业培训学校", "示例县金桥职业培训学校")

_ROAD_CLASSES = (
    "trunk",
    "primary",
    "secondary",
    "tertiary",
    "unclassified",
    "residential",
    "service",
    "track",
    "path",
    "footway",
)
