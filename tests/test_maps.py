"""Maps and labels: offline HTML, marker counts, travel-time classes, validation."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from importlib import resources
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pytest
import shapely

from accessibility import labels, maps
from accessibility._errors import ValidationError
from accessibility.labels import group_label, label
from accessibility.maps import (
    UNREACHABLE,
    access_map,
    class_colours,
    class_labels,
    render_html,
    save_html,
    travel_time_classes,
)

GROUPS = ["school:primary", "health"]
NOTICE = "合成数据，仅供演示 / Synthetic data, for demonstration only"


# --------------------------------------------------------------------------- fixtures


def make_places() -> gpd.GeoDataFrame:
    """Five villages around 114.0°E 34.0°N with hand-set times (minutes)."""
    places = gpd.GeoDataFrame(
        {
            "name": ["村甲", "村乙", "城关镇", "村丁", "县城"],
            "level": [
                "admin_village",
                "natural_village",
                "township_seat",
                "admin_village",
                "county_seat",
            ],
            "population": [1200.0, np.nan, 8000.0, 300.0, 60000.0],
            "leg_m": [20.0, 55.0, 5.0, 812.4, 0.0],
            "snap_flag": ["ok", "ok", "ok", "far", "ok"],
            # exactly on a limit (15, 30) must fall in the lower class
            "school_primary_time_min": [10.0, 15.0, 29.99, np.nan, 45.0],
            "school_primary_facility": ["f1", "f1", "f2", None, "f2"],
            "school_primary_facility_name": ["城关小学", "城关小学", "九年一贯制学校", None, ""],
            "health_time_min": [15.0, 30.0, np.inf, 31.0, 0.0],
            "health_facility": ["f3", "f3", None, "f3", "f3"],
        },
        geometry=[
            shapely.Point(114.0, 34.0),
            shapely.Point(114.0123456789, 34.0098765432),
            shapely.Point(113.98, 33.99),
            shapely.Point(114.03, 34.02),
            shapely.Point(113.97, 34.03),
        ],
        index=["p1", "p2", "p3", "p4", "p5"],
        crs=4326,
    )
    places.index.name = "id"
    return places


def make_facilities() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "name": ["城关小学", "九年一贯制学校", "镇卫生院", "图书馆", "汽车站"],
            "kind": ["school", "school", "health", "reading", "bus"],
            "tiers": ["primary", "primary;middle", "township_health_centre", "library", "bus_stop"],
        },
        geometry=[
            shapely.Point(114.001, 34.001),
            shapely.Point(113.99, 33.995),
            shapely.Point(114.02, 34.01),
            shapely.Point(114.0, 34.005),
            shapely.Point(113.995, 34.0),
        ],
        index=["f1", "f2", "f3", "f4", "f5"],
        crs=4326,
    )


def make_map(**kwargs: Any) -> folium.Map:
    options: dict[str, Any] = {
        "groups": GROUPS,
        "thresholds_min": [15, 30],
        "title": "示例县 · 出行时间",
    }
    options.update(kwargs)
    places = options.pop("places", make_places())
    facilities = options.pop("facilities", make_facilities())
    return access_map(places, facilities, **options)


@pytest.fixture(scope="module")
def zh_html() -> str:
    boundary = gpd.GeoSeries([shapely.box(113.95, 33.97, 114.05, 34.05)], crs=4326)
    return render_html(make_map(synthetic=True, boundary=boundary, subtitle="电动车"))


def body_script(page: str) -> str:
    """The page's own script (folium puts it last, after ``</body>``)."""
    return re.findall(r"<script>(.*?)</script>", page, re.DOTALL)[-1]


def group_payloads(page: str) -> list[tuple[str, dict[str, Any]]]:
    """``(feature group variable, data)`` of every ``addGroup`` call, in order."""
    found = re.findall(r"\.addGroup\((\w+), (\{.*\})\);$", page, re.MULTILINE)
    return [(layer, json.loads(data)) for layer, data in found]


def shared_data(page: str) -> dict[str, Any]:
    return json.loads(re.search(r"var D = (\{.*\});$", page, re.MULTILINE).group(1))


def overlay_names(page: str) -> list[str]:
    """Check boxes of the layer control (context overlays)."""
    block = re.search(r"overlays :\s*\{(.*?)\}", page, re.DOTALL).group(1)
    return [json.loads(f'"{n}"') for n in re.findall(r'"((?:[^"\\]|\\.)*)" :', block)]


def group_names(page: str) -> list[str]:
    """Names of the group choices (radio buttons), in order."""
    return [html.unescape(data["n"]) for _, data in group_payloads(page)]


# --------------------------------------------------------------------------- labels


def test_labels_in_both_languages() -> None:
    assert label("kind.school") == "学校"
    assert label("kind.health", lang="en") == "Health care"
    assert label("tier.township_health_centre") == "乡镇卫生院"
    assert label("level.admin_village") == "行政村"
    assert label("mode.ebike") == "电动车"
    assert label("ui.travel_time") == "出行时间"
    assert label("ui.travel_time", lang="en") == "Travel time"
    assert label("ui.synthetic_notice") == NOTICE
    assert group_label("school:primary") == "小学"
    assert group_label("school:primary", lang="en") == "Primary school"
    assert group_label("health") == "医疗卫生"
    assert group_label("reading:village_centre") == "村综合性文化服务中心"


def test_label_table_is_complete() -> None:
    wanted = {
        "kind": {"school", "health", "reading", "bus"},
        "tier": {
            "primary",
            "middle",
            "high",
            "village_clinic",
            "township_health_centre",
            "county_hospital",
            "library",
            "study_room",
            "cultural_station",
            "village_centre",
            "bus_stop",
        },
        "level": {
            "county_seat",
            "township_seat",
            "admin_village",
            "natural_village",
            "residential",
        },
        "mode": {"walk", "bicycle", "ebike", "car", "bus"},
        "ui": {
            "travel_time",
            "minutes",
            "population",
            "nearest_facility",
            "unreachable",
            "far_from_road",
            "synthetic_notice",
            "legend",
        },
    }
    for section, names in wanted.items():
        assert names <= set(labels.keys(section)), section
        for name in labels.keys(section):
            assert label(f"{section}.{name}", lang="zh")
            assert label(f"{section}.{name}", lang="en")


def test_label_errors() -> None:
    with pytest.raises(ValidationError, match="'kind.castle'"):
        label("kind.castle")
    with pytest.raises(ValidationError, match="'colour.red'.*section"):
        label("colour.red")
    with pytest.raises(ValidationError, match="'travel_time'"):
        label("travel_time")
    with pytest.raises(ValidationError, match="lang must be one of"):
        label("kind.school", lang="fr")
    with pytest.raises(ValidationError, match="unknown facility kind 'park'"):
        group_label("park")
    with pytest.raises(ValidationError, match="unknown tier 'kindergarten'"):
        group_label("school:kindergarten")
    with pytest.raises(ValidationError, match="unknown tier 'village_clinic' for kind 'school'"):
        group_label("school:village_clinic")
    with pytest.raises(ValidationError, match="lang must be one of"):
        group_label("health", lang="ZH")
    with pytest.raises(ValidationError, match="unknown label section"):
        labels.keys("colour")


# --------------------------------------------------------------------------- classes


def test_class_boundaries_belong_to_lower_class() -> None:
    values = [0.0, 14.99, 15.0, 15.0001, 30.0, 30.5, 1e6, np.nan, np.inf, -np.inf]
    expected = [0, 0, 0, 1, 1, 2, 2, UNREACHABLE, UNREACHABLE, UNREACHABLE]
    assert travel_time_classes(values, [15, 30]).tolist() == expected
    assert travel_time_classes(15.0, [15]).item() == 0
    assert travel_time_classes(15.5, [15]).item() == 1
    assert travel_time_classes(np.nan, [15]).item() == UNREACHABLE


@pytest.mark.parametrize(
    ("thresholds", "match"),
    [
        ([], "one or more"),
        ([30, 15], "increasing"),
        ([15, 15], "increasing"),
        ([0, 15], "positive"),
        ([15, np.nan], "finite"),
        (["a"], "minutes"),
    ],
)
def test_bad_thresholds(thresholds: list[Any], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        travel_time_classes([1.0], thresholds)


def test_class_colours_and_labels() -> None:
    assert class_colours(1) == ["#1a9850"]
    three = class_colours(3)
    assert three[0] == "#1a9850" and three[-1] == "#d73027" and len(set(three)) == 3
    assert len(set(class_colours(7))) == 7
    assert maps.UNREACHABLE_COLOUR not in class_colours(7)
    assert class_labels([15, 30]) == ["≤ 15 分钟", "15–30 分钟", "> 30 分钟"]
    assert class_labels([7.5], lang="en") == ["≤ 7.5 min", "> 7.5 min"]


# --------------------------------------------------------------------------- HTML content


def test_html_is_self_contained(zh_html: str) -> None:
    tags = re.findall(r"<(?:script|link)\b[^>]*>", zh_html, re.IGNORECASE)
    assert tags, "expected inline <script> tags"
    for tag in tags:
        assert not re.search(r"\b(?:src|href)\s*=", tag, re.IGNORECASE), tag
    assert not re.search(r"<script[^>]*src=[\"']?(?:https?:)?//", zh_html, re.IGNORECASE)
    assert not re.search(r"<link[^>]*href=[\"']?(?:https?:)?//", zh_html, re.IGNORECASE)
    for cdn in ("jquery", "bootstrap", "awesome-markers", "fontawesome", "glyphicons"):
        assert cdn not in zh_html.lower()
    root = resources.files("js_lib_leaflet").joinpath("static", "js_lib_leaflet")
    leaflet_js = root.joinpath("leaflet.js").read_text("utf-8")
    assert leaflet_js[:3000] in zh_html and "Leaflet 1.9.4" in zh_html
    assert ".leaflet-control-layers" in zh_html  # CSS inlined
    assert "url(images/" not in zh_html and 'url("data:image/png;base64,' in zh_html
    # the base map is an optional overlay: its tile URL is allowed inside the script
    assert "tile.openstreetmap.org" in body_script(zh_html)


def test_html_chinese_labels_and_notice(zh_html: str) -> None:
    assert group_names(zh_html) == ["小学", "医疗卫生"]
    assert overlay_names(zh_html) == ["行政边界"]  # groups are a choice, not check boxes
    assert NOTICE in zh_html
    assert "示例县 · 出行时间" in zh_html and "电动车" in zh_html
    assert "<title>示例县 · 出行时间</title>" in zh_html
    assert "≤ 15 分钟" in zh_html and "不可达" in zh_html


def test_html_english_labels_and_no_notice_by_default() -> None:
    page = render_html(make_map(lang="en", basemap=False))
    assert group_names(page) == ["Primary school", "Health care"]
    assert overlay_names(page) == []
    assert "≤ 15 min" in page and "Unreachable" in page
    assert "Synthetic data" not in page
    assert "tile.openstreetmap.org" not in page


def test_one_marker_per_place_per_layer(zh_html: str) -> None:
    places = make_places()
    payloads = group_payloads(zh_html)
    assert len(payloads) == len(GROUPS)
    assert len({layer for layer, _ in payloads}) == len(GROUPS)
    assert len(shared_data(zh_html)["p"]) == len(places)
    for (_, data), n_facilities in zip(payloads, [2, 1]):  # f1+f2 serve primary; f3 health
        assert len(data["t"]) == len(data["c"]) == len(data["f"]) == len(places)
        assert len(data["x"]) == n_facilities


def test_emitted_classes_times_and_names(zh_html: str) -> None:
    (_, school), (_, health) = group_payloads(zh_html)
    assert school["c"] == [0, 0, 1, UNREACHABLE, 2]
    assert school["t"] == [10.0, 15.0, 30.0, None, 45.0]  # 1 decimal
    assert health["c"] == [0, 1, UNREACHABLE, 2, 0]
    # names: given column, else looked up by facility id, none when unreachable
    assert [school["fn"][i] if i is not None else None for i in school["f"]] == [
        "城关小学",
        "城关小学",
        "九年一贯制学校",
        None,
        "九年一贯制学校",
    ]
    assert [health["fn"][i] if i is not None else None for i in health["f"]] == [
        "镇卫生院",
        "镇卫生院",
        None,
        "镇卫生院",
        "镇卫生院",
    ]
    rows = shared_data(zh_html)["p"]
    assert [r[6] for r in rows] == [0, 0, 0, 1, 0]  # far from road
    assert rows[3][7] == 812  # leg metres
    assert rows[1][:2] == [34.009877, 114.012346]  # 6 decimals


def test_coordinates_are_rounded(zh_html: str) -> None:
    script = body_script(zh_html)
    assert "0123456789" not in script and "0098765432" not in script
    data_lines = [
        line
        for line in script.splitlines()
        if ".addGroup(" in line or "var D =" in line or ".addBoundary(" in line
    ]
    assert len(data_lines) == 4
    for line in data_lines:
        assert not re.search(r"\d\.\d{7,}", line), line


def test_names_are_escaped() -> None:
    places = make_places()
    places.loc["p1", "name"] = "<script>alert(1)</script>"
    page = render_html(make_map(places=places, title="<b>x</b>"))
    assert "<script>alert(1)" not in page
    assert "<b>x</b>" not in page
    assert "&lt;script&gt;alert(1)" in json.dumps(shared_data(page), ensure_ascii=False)


def test_only_first_layer_shown(zh_html: str) -> None:
    layers = [layer for layer, _ in group_payloads(zh_html)]
    map_name = re.search(r"var (map_\w+) = L\.map\(", zh_html).group(1)
    assert f"{layers[0]}.addTo({map_name});" in zh_html
    for layer in layers[1:]:
        assert f"{layer}.addTo(" not in zh_html
    assert '"collapsed": false' in zh_html


_STUB_JS = r"""
const fs = require("fs");
const code = fs.readFileSync(process.argv[2], "utf8");
let nextId = 0;
const ids = new WeakMap();
const adds = [], tooltips = [], seen = {};
function make(kind, store) {
  const target = function () {};
  target.store = store || {};
  const proxy = new Proxy(target, {
    get(t, prop) {
      if (typeof prop === "symbol") return undefined;
      if (prop in t.store) return t.store[prop];
      if (prop === "addTo") return function (parent) {
        adds.push({kind: kind, id: ids.get(proxy), parent: ids.get(parent)});
        if (typeof t.store.onAdd === "function") t.store.onAdd.call(proxy, parent);
        return proxy;
      };
      if (prop === "bindTooltip") return function (content) {
        tooltips.push(typeof content === "function" ? content(proxy) : content);
        return proxy;
      };
      return make(kind + "." + prop);
    },
    set(t, prop, value) { t.store[prop] = value; return true; },
    apply(t, self, args) {
      const store = {};
      if (kind === "L.circleMarker") store.options = args[1] || {};
      const out = make(kind + "()", store);
      if (kind === "L.map") seen.map = ids.get(out);
      if (kind === "L.control.layers") {
        seen.overlays = Object.entries(args[1]).map(([k, v]) => [k, ids.get(v)]);
      }
      return out;
    },
  });
  ids.set(proxy, ++nextId);
  return proxy;
}
globalThis.L = make("L");
const shared = (code.match(/var (access_layers_\w+) = /) || [])[1];
const api = new Function(code + "\nreturn " + (shared || "null") + ";")();
const entry = ([name, id]) => ({
  name: name,
  markers: adds.filter((a) => a.kind === "L.circleMarker()" && a.parent === id).length,
  shown: adds.some((a) => a.id === id && a.parent === seen.map),
});
// the group layers (radio choice) and the layer control's overlays (check boxes)
const groups = api ? api.groups.map((g) => [g.g.n, ids.get(g.layer)]) : [];
const layers = groups.concat(seen.overlays).map(entry);
process.stdout.write(JSON.stringify({layers: layers, tooltips: tooltips}));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the map script")
def test_map_script_runs_and_draws_every_marker(zh_html: str, tmp_path: Path) -> None:
    (tmp_path / "stub.js").write_text(_STUB_JS, encoding="utf-8")
    (tmp_path / "map.js").write_text(body_script(zh_html), encoding="utf-8")
    done = subprocess.run(
        ["node", str(tmp_path / "stub.js"), str(tmp_path / "map.js")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    by_name = {layer["name"]: layer for layer in result["layers"]}
    assert by_name["小学"] == {"name": "小学", "markers": 5 + 2, "shown": True}
    assert by_name["医疗卫生"] == {"name": "医疗卫生", "markers": 5 + 1, "shown": False}
    assert by_name["行政边界"]["shown"] is True
    assert not any(
        name.startswith("OpenStreetMap") and layer["shown"] for name, layer in by_name.items()
    )
    tips = result["tooltips"]
    assert len(tips) == 2 * 5 + 3
    assert tips[0] == (
        "<b>村甲</b> (行政村)<br>人口: 1,200<br>出行时间 · 小学: 10.0 分钟<br>最近设施: 城关小学"
    )
    assert "人口: 未知" in tips[1]
    assert "出行时间 · 小学: 不可达" in tips[3] and "最近设施: —" in tips[3]
    assert "⚠ 距道路过远 (步行至道路 812 米)" in tips[3]
    assert "<b>镇卫生院</b><br>医疗卫生 · 乡镇卫生院" in tips


# --------------------------------------------------------------------------- validation


def test_wrong_crs() -> None:
    with pytest.raises(ValidationError, match=r"EPSG:4326.*to_crs\(4326\)"):
        make_map(places=make_places().to_crs(32650))
    with pytest.raises(ValidationError, match=r"facilities.*to_crs\(4326\)"):
        make_map(facilities=make_facilities().to_crs(3857))
    with pytest.raises(ValidationError, match=r"places has no CRS.*set_crs\(4326\)"):
        make_map(places=make_places().set_crs(None, allow_override=True))
    boundary = gpd.GeoSeries([shapely.box(0, 0, 1, 1)], crs=32650)
    with pytest.raises(ValidationError, match=r"boundary.*to_crs\(4326\)"):
        make_map(boundary=boundary)


def test_projected_coordinates_labelled_wgs84() -> None:
    places = make_places().to_crs(32650).set_crs(4326, allow_override=True)
    with pytest.raises(ValidationError, match="look projected"):
        make_map(places=places)


def test_missing_time_column() -> None:
    places = make_places().drop(columns="health_time_min")
    with pytest.raises(ValidationError, match="'health_time_min' for group 'health'"):
        make_map(places=places)


def test_bad_time_values() -> None:
    places = make_places()
    places["health_time_min"] = places["health_time_min"].astype(str)
    with pytest.raises(ValidationError, match="must hold numbers.*pd.to_numeric"):
        make_map(places=places)
    places = make_places()
    places["health_time_min"] = places["health_time_min"] > 10
    with pytest.raises(ValidationError, match="must hold numbers"):
        make_map(places=places)
    places = make_places()
    places["health_time_min"] = (
        places["health_time_min"].astype(object).where(places["health_time_min"].notna(), None)
    )
    assert group_payloads(render_html(make_map(places=places)))[1][1]["c"] == [0, 1, -1, 2, 0]
    places = make_places()
    places.loc["p2", "health_time_min"] = -1.0
    with pytest.raises(ValidationError, match=r"negative travel times at ids \['p2'\]"):
        make_map(places=places)


def test_bad_lang() -> None:
    with pytest.raises(ValidationError, match="lang must be one of 'zh', 'en'; got 'fr'"):
        make_map(lang="fr")


def test_empty_places() -> None:
    with pytest.raises(ValidationError, match="places is empty"):
        make_map(places=make_places().iloc[:0])
    with pytest.raises(ValidationError, match="GeoDataFrame"):
        make_map(places=make_places().drop(columns="geometry").to_dict())


@pytest.mark.parametrize(
    ("groups", "match"),
    [
        ([], "groups is empty"),
        (["health", "health"], "listed twice"),
        (["park"], "unknown facility kind"),
        (["school:clinic"], "unknown tier"),
        ("health", "must be a list"),
    ],
)
def test_bad_groups(groups: Any, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        make_map(groups=groups)


def test_bad_map_thresholds() -> None:
    with pytest.raises(ValidationError, match="strictly increasing"):
        make_map(thresholds_min=[30, 15])


def test_facilities_need_tiers_for_tier_groups() -> None:
    with pytest.raises(ValidationError, match="no 'tiers' column"):
        make_map(facilities=make_facilities().drop(columns="tiers"))
    page = render_html(
        make_map(groups=["health"], facilities=make_facilities().drop(columns="tiers"))
    )
    assert len(group_payloads(page)[0][1]["x"]) == 1


# --------------------------------------------------------------------------- saving


def test_save_html_creates_folders_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "maps" / "sample" / "school.html"
    out = save_html(make_map(synthetic=True), target)
    assert out == target and target.is_file()
    assert [p.name for p in target.parent.iterdir()] == ["school.html"]
    page = target.read_text(encoding="utf-8")
    assert NOTICE in page and page.startswith("<!DOCTYPE html>")
    save_html(make_map(lang="en"), str(target))  # overwrite, str path
    assert [p.name for p in target.parent.iterdir()] == ["school.html"]
    assert "Primary school" in target.read_text(encoding="utf-8")


def test_save_html_failure_keeps_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "m.html"
    target.write_text("old", encoding="utf-8")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(maps.offline.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        save_html(make_map(), target)
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["m.html"]


def test_render_plain_folium_map_drops_cdn_assets() -> None:
    m = folium.Map(tiles=None)
    folium.CircleMarker([34.0, 114.0], radius=3).add_to(m)
    folium.Marker([34.0, 114.01]).add_to(m)  # Leaflet's default icon, no awesome-markers
    page = render_html(m)
    assert not re.search(r"<(?:script|link)\b[^>]*\b(?:src|href)=", page)
    assert "L.Icon.Default.mergeOptions" in page  # default icon images as data URIs
    assert "Leaflet 1.9.4" in page


def test_render_refuses_what_it_cannot_inline() -> None:
    m = folium.Map(tiles=None)
    folium.Marker([34.0, 114.0], icon=folium.Icon(icon="info-sign")).add_to(m)
    with pytest.raises(ValidationError, match="awesome-markers.*CircleMarker"):
        render_html(m)
    m = folium.Map(tiles=None)
    m.get_root().header.add_child(folium.JavascriptLink("https://example.org/plugin.js"))
    with pytest.raises(ValidationError, match="example.org/plugin.js.*offline"):
        render_html(m)


def test_demo_sized_map_stays_small(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    n = 500
    places = gpd.GeoDataFrame(
        {
            "name": [f"村{i}" for i in range(n)],
            "level": "admin_village",
            "population": rng.integers(100, 3000, n).astype(float),
            "leg_m": 10.0,
            "snap_flag": "ok",
            "school_primary_time_min": rng.gamma(3, 6, n),
            "health_time_min": rng.gamma(3, 6, n),
        },
        geometry=gpd.points_from_xy(
            114 + rng.uniform(-0.2, 0.2, n), 34 + rng.uniform(-0.2, 0.2, n)
        ),
        crs=4326,
    )
    size = os.path.getsize(save_html(make_map(places=places), tmp_path / "m.html"))
    leaflet = len(
        resources.files("js_lib_leaflet")
        .joinpath("static", "js_lib_leaflet", "leaflet.js")
        .read_bytes()
    )
    # Leaflet itself, its CSS and controls (~30 kB), then well under 100 bytes per place
    assert size - leaflet < 30_000 + 100 * n, size


def test_inline_display_is_self_contained() -> None:
    m = make_map()
    shown = maps.inline(m)._repr_html_()
    assert shown.startswith("<iframe srcdoc=")
    page = html.unescape(shown.split('srcdoc="', 1)[1].split('" style=', 1)[0])
    assert page.startswith("<!DOCTYPE html>") and "L.map(" in page and "L.circleMarker" in page
    assert not re.search(r"<(script|link)[^>]+(src|href)=[\"']https?:", page)


# --------------------------------------------------------------------------- base layers and roads


def base_layer_names(page: str) -> list[str]:
    block = re.search(r"base_layers :\s*\{(.*?)\}", page, re.DOTALL).group(1)
    return [json.loads(f'"{n}"') for n in re.findall(r'"((?:[^"\\]|\\.)*)" :', block)]


def make_road_lines() -> gpd.GeoDataFrame:
    """A trunk in two touching pieces with a wiggle under 1 m, a primary link, a footway."""
    wiggle = [(114.0 + i * 0.001, 34.0 + (i % 2) * 0.000005) for i in range(21)]
    return gpd.GeoDataFrame(
        {"highway": ["trunk", "trunk", "primary_link", "footway", ["secondary", "tertiary"]]},
        geometry=[
            shapely.LineString(wiggle[:11]),
            shapely.LineString(wiggle[10:]),
            shapely.LineString([(114.0, 34.01), (114.01, 34.0100000001)]),
            shapely.LineString([(114.0, 34.02), (114.01, 34.02)]),
            shapely.LineString([(113.99, 34.0), (113.99, 34.03)]),
        ],
        crs=4326,
    )


def test_base_layers_offline_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(maps.TIANDITU_ENV, raising=False)
    page = render_html(make_map(roads=make_road_lines()))
    assert base_layer_names(page) == [label("ui.basemap_roads"), label("ui.basemap_osm")]
    assert overlay_names(page) == []  # tiles are no overlay any more; groups are radio buttons
    assert "tianditu" not in page
    # the OSM tile layer exists but is not added to the map when it opens
    osm = re.search(r"var (tile_layer_\w+) = L\.tileLayer\(\s*\"https://tile", page).group(1)
    assert f"{osm}.addTo(" not in page
    assert 'createPane("accRoads")' in page
    plain = render_html(make_map())
    assert base_layer_names(plain) == [label("ui.basemap_none"), label("ui.basemap_osm")]
    assert "accRoads" not in plain
    # the roads and the boundary drawn are in every group's legend, only when drawn
    for _, data in group_payloads(page):
        assert "主要道路" in legend_of(data) and "行政边界" not in legend_of(data)
    for _, data in group_payloads(plain):
        assert "主要道路" not in legend_of(data)


def test_no_tiles_keeps_only_the_offline_layer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(maps.TIANDITU_ENV, "0123456789abcdef")
    page = render_html(make_map(basemap=False, roads=make_road_lines()))
    assert base_layer_names(page) == []  # one choice: no radio buttons
    assert "L.tileLayer" not in page and "tianditu" not in page
    assert "accRoads" in page


def test_tianditu_layer_with_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    key = "0123456789abcdef0123456789abcdef"
    monkeypatch.setenv(maps.TIANDITU_ENV, key)
    page = render_html(make_map())
    assert base_layer_names(page)[-1] == "天地图（需联网）"
    found = re.findall(r'L\.tileLayer\(\s*"(https://t\{s\}\.tianditu[^"]+)"', page)
    urls = [json.loads(f'"{u}"') for u in found]  # folium writes & as \u0026
    assert [re.search(r"/(\w+)_w/", u).group(1) for u in urls] == ["vec", "cva"]
    for url in urls:
        assert url.endswith(f"&tk={key}")
        assert "TILEMATRIX={z}&TILEROW={y}&TILECOL={x}" in url
    assert page.count('"subdomains": "01234567"') == 2
    english = render_html(make_map(lang="en"))
    assert "/eva_w/wmts" in english and "Tianditu basemap (needs internet)" in english
    # an explicit empty key turns it off whatever the environment says
    assert "tianditu" not in render_html(make_map(tianditu_key=""))
    assert maps.get_tianditu_key("abcdef12") == "abcdef12"
    monkeypatch.delenv(maps.TIANDITU_ENV)
    assert maps.get_tianditu_key() is None


def test_bad_tianditu_key(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="letters and digits") as info:
        make_map(tianditu_key='abc123";alert(1)//')
    assert "alert" not in str(info.value)
    monkeypatch.setenv(maps.TIANDITU_ENV, "short")
    with pytest.raises(ValidationError, match=r"\$TIANDITU_KEY"):
        make_map()


def test_simplify_roads() -> None:
    simple = maps.simplify_roads(make_road_lines())
    assert list(simple.index) == ["trunk", "primary", "secondary"]  # footway dropped
    trunk = simple.geometry.loc["trunk"]
    # two touching pieces merged into one line; the sub-metre wiggle simplified away
    assert len(shapely.get_parts(trunk)) == 1
    coords = shapely.get_coordinates(trunk)
    assert coords.tolist() == [[114.0, 34.0], [114.02, 34.0]]
    # the link is folded into its class and rounded to 5 decimals (about 1 m)
    assert shapely.get_coordinates(simple.geometry.loc["primary"]).tolist() == [
        [114.0, 34.01],
        [114.01, 34.01],
    ]
    kept = maps.simplify_roads(make_road_lines(), classes=["footway"], tolerance_m=0)
    assert list(kept.index) == ["footway"]
    assert maps.simplify_roads(make_road_lines().iloc[:0]).empty


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda r: r.to_crs(32650), r"roads must be in EPSG:4326"),
        (lambda r: r.drop(columns="highway"), "no 'highway' column"),
        (
            lambda r: r.set_geometry([shapely.box(114, 34, 114.1, 34.1)] * len(r)),
            "must hold LineStrings",
        ),
        (lambda r: r.drop(columns="geometry").to_dict(), "GeoDataFrame of LineStrings"),
    ],
)
def test_bad_roads(change: Any, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        make_map(roads=change(make_road_lines()))


def test_bad_road_options() -> None:
    with pytest.raises(ValidationError, match="tolerance_m"):
        maps.simplify_roads(make_road_lines(), tolerance_m=-1)
    with pytest.raises(ValidationError, match="at least one OSM highway class"):
        maps.simplify_roads(make_road_lines(), classes=[])
    with pytest.raises(ValidationError, match="got a string"):
        maps.simplify_roads(make_road_lines(), classes="trunk")


def test_main_roads_from_a_network() -> None:
    from accessibility import network

    from .conftest import TEST_CRS, make_roads

    coords = {1: (0, 0), 2: (1000, 0), 3: (2000, 0), 4: (2000, 1000), 5: (0, 1000)}
    ways = [
        ([1, 2, 3], "primary", 0),
        ([3, 4], "tertiary_link", 0),
        ([4, 5], "residential", 0),
        ([5, 1], "track", 0),
    ]
    net = network.build(make_roads(coords, ways), mode="walk", crs=TEST_CRS)
    roads = maps.main_roads(net)
    assert roads.crs.to_epsg() == 4326
    assert sorted(roads["highway"]) == ["primary", "primary", "tertiary"]
    ends = {tuple(np.round(c, 6)) for g in roads.geometry for c in shapely.get_coordinates(g)}
    node_lonlat = {tuple(np.round((x, y), 6)) for x, y in zip(net.lon, net.lat)}
    assert ends <= node_lonlat
    assert len(maps.main_roads(net, classes=["track"])) == 1
    simple = maps.simplify_roads(roads)
    assert list(simple.index) == ["primary", "tertiary"]
    assert len(shapely.get_coordinates(simple.geometry.loc["primary"])) == 2  # straight: 2 points


def test_roads_payload_stays_small(tmp_path: Path) -> None:
    """A dense grid of main roads (2,000 segments, 10 m apart vertices) adds little."""
    rng = np.random.default_rng(3)
    lines, classes = [], []
    for i in range(40):
        for j in range(50):
            x0, y0 = 113.8 + i * 0.01, 33.8 + j * 0.008
            xs = x0 + np.linspace(0, 0.01, 100)
            ys = y0 + rng.normal(0, 0.000005, 100)  # sub-metre noise
            lines.append(shapely.LineString(np.column_stack([xs, ys])))
            classes.append(maps.MAIN_ROAD_CLASSES[(i + j) % 4])
    roads = gpd.GeoDataFrame({"highway": classes}, geometry=lines, crs=4326)
    without = os.path.getsize(save_html(make_map(), tmp_path / "a.html"))
    with_roads = os.path.getsize(save_html(make_map(roads=roads), tmp_path / "b.html"))
    assert with_roads - without < 200_000, with_roads - without


def test_a_group_without_facilities_is_no_data_not_unreachable(tmp_path: Path) -> None:
    places = make_places()
    places["reading_time_min"] = np.nan  # no reading place in the data
    facilities = make_facilities().drop(index="f4")
    page = render_html(
        make_map(
            places=places,
            facilities=facilities,
            groups=["health", "reading"],
            notes=["阅读圈覆盖率：数据中没有阅读场所"],
        )
    )
    (_, health), (_, reading) = group_payloads(page)
    assert (health["nd"], reading["nd"]) == (0, 1)
    assert reading["t"] == [None] * 5 and reading["x"] == []
    names = group_names(page)
    assert "阅读场所 · 无数据" in names and "医疗卫生" in names
    legend = html.unescape(page)
    assert "无数据（数据中无此类设施）：阅读场所" in legend
    assert "⚠ 阅读圈覆盖率：数据中没有阅读场所" in legend
    assert shared_data(page)["nd"] == maps.NO_DATA_COLOUR != maps.UNREACHABLE_COLOUR
    # the drawn markers: grey "no data" in the reading layer, "unreachable" kept for inf
    (tmp_path / "stub.js").write_text(_STUB_JS, encoding="utf-8")
    (tmp_path / "map.js").write_text(body_script(page), encoding="utf-8")
    done = subprocess.run(
        ["node", str(tmp_path / "stub.js"), str(tmp_path / "map.js")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    tips = json.loads(done.stdout)["tooltips"]
    reading_tips = [t for t in tips if "出行时间 · 阅读场所" in t]
    assert len(reading_tips) == 5
    assert all("无数据（数据中无此类设施）" in t and "不可达" not in t for t in reading_tips)
    assert any("出行时间 · 医疗卫生: 不可达" in t for t in tips)  # p3's inf stays unreachable


def test_a_group_with_facilities_and_no_time_stays_unreachable() -> None:
    places = make_places()
    places["health_time_min"] = np.inf
    page = render_html(make_map(places=places, groups=["health"]))
    ((_, health),) = group_payloads(page)
    assert health["nd"] == 0 and health["c"] == [UNREACHABLE] * 5
    assert not any("无数据" in name for name in group_names(page))
    assert "无数据（数据中无此类设施）：" not in html.unescape(page)  # no legend row


def test_a_village_on_a_cut_off_road_is_drawn_and_told_as_an_estimate() -> None:
    places = make_places()
    places.loc["p2", "snap_flag"] = "road_cut_off"
    page = render_html(
        access_map(places, make_facilities(), groups=GROUPS, thresholds_min=[15, 30], title="t")
    )
    rows = shared_data(page)["p"]
    assert [r[6] for r in rows] == [0, 2, 0, 1, 0]  # ok, cut off, ok, far, ok
    assert "所在道路与路网不连通（时间为估算）" in page  # the legend row
    assert "最近的道路与路网不连通" in page  # the tooltip text
    assert '"≈ "' in body_script(page)  # its time is shown as approximate
    # without such a village, no legend row
    plain = render_html(
        access_map(
            make_places(), make_facilities(), groups=GROUPS, thresholds_min=[15, 30], title="t"
        )
    )
    assert "所在道路与路网不连通（时间为估算）" not in plain


# --------------------------------------------------------------------------- colours by minutes


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def test_same_minutes_same_colour_across_threshold_sets() -> None:
    sets = [[15], [15, 30], [10, 15, 30], [15, 30, 60], [5, 15, 20, 30, 45, 60], [30], [20, 40]]
    by_limit: dict[float, set[str]] = {}
    for th in sets:
        colours = maps.time_class_colours(th)
        assert len(colours) == len(th) + 1
        assert len(set(colours)) == len(colours), th  # the classes of one map differ
        assert colours[-1] == maps.BEYOND_COLOUR  # "> last limit" is always the same red
        for limit, colour in zip(th, colours):
            by_limit.setdefault(float(limit), set()).add(colour)
    # a class ending at the same minutes has the same colour whatever the other classes
    assert all(len(c) == 1 for c in by_limit.values()), by_limit
    # the stops themselves, and an interpolated limit computed by hand: 35 min is a third
    # of the way from 30 (#fdae61) to 45 (#f46d43)
    assert by_limit[15.0] == {"#1a9850"} and by_limit[30.0] == {"#fdae61"}
    a, b = _rgb("#fdae61"), _rgb("#f46d43")
    expected = "#" + "".join(f"{round(a[j] + (b[j] - a[j]) / 3):02x}" for j in range(3))
    assert maps.minutes_colour(35) == expected == "#fa9857"
    # greener for shorter limits: the green channel falls from 15 to 120 minutes
    greens = [_rgb(maps.minutes_colour(t))[1] for t in (20, 30, 45, 60, 90, 120)]
    reds = [_rgb(maps.minutes_colour(t))[0] for t in (5, 15, 20, 25)]
    assert greens == sorted(greens, reverse=True) and reds == sorted(reds)
    # held beyond the ends; unreachable and no data are never a class colour
    assert maps.minutes_colour(2) == maps.minutes_colour(5)
    assert maps.minutes_colour(500) == maps.minutes_colour(120) != maps.BEYOND_COLOUR
    assert maps.minutes_colour(None) == maps.minutes_colour(float("inf")) == maps.BEYOND_COLOUR
    for th in sets:
        assert not {maps.UNREACHABLE_COLOUR, maps.NO_DATA_COLOUR} & set(maps.time_class_colours(th))


@pytest.mark.parametrize("bad", [0, -5, float("nan")])
def test_minutes_colour_needs_a_positive_limit(bad: float) -> None:
    with pytest.raises(ValidationError, match="positive number of minutes"):
        maps.minutes_colour(bad)
    with pytest.raises(ValidationError, match="strictly increasing"):
        maps.time_class_colours([30, 15])


# --------------------------------------------------------------------------- one group at a time


def legend_of(data: dict[str, Any]) -> str:
    """Text of a group's legend (tags removed, entities resolved)."""
    return html.unescape(re.sub(r"<[^>]+>", "\n", data["lg"]))


def swatches(data: dict[str, Any]) -> list[str]:
    """Every colour written in a group's legend swatches."""
    styles = re.findall(r'<i style="([^"]*)"', html.unescape(data["lg"]))
    return [c.lower() for st in styles for c in re.findall(r"#[0-9a-fA-F]{6}", st)]


def test_groups_have_their_own_classes_mode_and_legend() -> None:
    page = render_html(
        make_map(
            group_thresholds_min={"health": [20]},
            group_modes={"health": "ebike"},
            mode="walk",
        )
    )
    (_, school), (_, health) = group_payloads(page)
    # health: one class up to 20 minutes; times [15, 30, inf, 31, 0]
    assert health["c"] == [0, 1, UNREACHABLE, 1, 0]
    assert health["k"] == maps.time_class_colours([20])
    assert school["c"] == [0, 0, 1, UNREACHABLE, 2] and school["k"] == maps.time_class_colours(
        [15, 30]
    )
    assert (html.unescape(school["m"]), html.unescape(health["m"])) == ("步行", "电动车")
    school_legend, health_legend = legend_of(school), legend_of(health)
    assert "图例 · 小学" in school_legend and "出行时间 · 步行" in school_legend
    assert "≤ 15 分钟" in school_legend and "15–30 分钟" in school_legend
    assert "标准" not in school_legend  # several classes and no limit given: none stated
    assert "图例 · 医疗卫生" in health_legend
    assert "出行时间 · 电动车 · 标准 ≤ 20 分钟" in health_legend
    assert "> 20 分钟" in health_legend and "15–30" not in health_legend
    # every colour a group's markers are filled or ringed with is in its own legend
    for data in (school, health):
        drawn = {data["k"][c] if c >= 0 else maps.UNREACHABLE_COLOUR for c in data["c"]}
        rings = {"#ffffff", "#000000"}  # ordinary and far-from-road villages (p4 is far)
        assert drawn | rings | {maps.FACILITY_COLOUR} <= set(swatches(data)), data["g"]
    # an explicit limit is stated; the legend and tooltip follow the language
    en = render_html(
        make_map(lang="en", group_limits_min={"school:primary": 15}, group_modes={"health": "bus"})
    )
    (_, school), (_, health) = group_payloads(en)
    assert "Travel time · limit ≤ 15 min" in legend_of(school)
    assert "Legend · Health care" in legend_of(health) and "Travel time · Bus" in legend_of(health)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        (
            {"group_thresholds_min": {"reading": [15]}},
            r"names \['reading'\], which are not in groups",
        ),
        ({"group_thresholds_min": {"health": [30, 15]}}, "strictly increasing"),
        ({"group_modes": {"health": "rocket"}}, "'rocket' is not a travel mode"),
        ({"mode": ""}, "must name a travel mode"),
        ({"group_limits_min": {"health": -3}}, "positive number of minutes"),
        ({"group_modes": ["health"]}, "must map groups to values"),
    ],
)
def test_bad_group_options(options: dict[str, Any], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        make_map(**options)


def test_groups_are_a_radio_choice(zh_html: str) -> None:
    script = body_script(zh_html)
    # no group layer in the layer control; the choice is built from the groups themselves
    assert overlay_names(zh_html) == ["行政边界"]
    assert '.addControls("设施类别（单选）");' in script
    assert 'input.type = "radio"' in script
    # the legend is written per group (no fixed legend for the whole map)
    (_, school), (_, health) = group_payloads(zh_html)
    assert legend_of(school) != legend_of(health)
    for data in (school, health):  # the boundary drawn, as a dashed line
        assert "行政边界" in legend_of(data)
        assert f"border-top:1.5px dashed {maps.BOUNDARY_COLOUR}" in data["lg"]


# --------------------------------------------------------------------------- tooltips, page language, scale


def test_tooltips_without_ids_or_repeated_labels() -> None:
    places = make_places()
    places.loc["p2", "name"] = np.nan  # an unnamed village
    places.loc["p3", "name"] = "p3"  # a name that is only the id
    places["health_facility_name"] = ["f3", None, None, "镇卫生院", "镇卫生院"]  # an id, not a name
    key = "health_township_health_centre"
    for column in ("time_min", "facility", "facility_name"):
        places[f"{key}_{column}"] = places[f"health_{column}"]
    facilities = make_facilities()
    facilities.loc["f3", "name"] = "乡镇卫生院"  # named by its kind only
    facilities.loc["f1", "name"] = None
    page = render_html(
        make_map(
            places=places,
            facilities=facilities,
            groups=["school:primary", "health:township_health_centre"],
        )
    )
    rows = shared_data(page)["p"]
    assert [r[2] for r in rows] == ["村甲", "未命名", "未命名", "村丁", "县城"]
    (_, school), (_, health) = group_payloads(page)
    assert [school["x"][i][2] for i in range(2)] == [
        "<b>小学 (未命名)</b>",  # f1: no name, no id
        "<b>九年一贯制学校</b><br>小学 · 初中",
    ]
    assert health["x"][0][2] == "<b>乡镇卫生院</b>"  # not "乡镇卫生院 · 乡镇卫生院"
    nearest = [health["fn"][i] if i is not None else None for i in health["f"]]
    assert nearest[0] == "乡镇卫生院"  # the id "f3" in the names column is looked up, not shown
    text = json.dumps(group_payloads(page), ensure_ascii=False)
    for internal in ('"f1"', '"f3"', '"p2"', '"p3"'):
        assert internal not in text and internal not in json.dumps(rows)


def test_page_language_and_metric_scale() -> None:
    zh = render_html(make_map())
    assert zh.startswith('<!DOCTYPE html>\n<html lang="zh-CN">')
    en = render_html(make_map(lang="en"))
    assert en.startswith('<!DOCTYPE html>\n<html lang="en">')
    assert render_html(make_map(lang="en"), lang="zh").startswith(
        '<!DOCTYPE html>\n<html lang="zh-CN">'
    )
    for page in (zh, en):
        assert "imperial: false" in page and "metric: true" in page
        assert "L.control.scale().addTo" not in page  # folium's miles-and-feet scale
        assert page.count("L.control.scale(") == 1
    # any map given the base layers (e.g. the reading circle's own) loses folium's scale
    m = folium.Map(tiles=None, control_scale=True)
    maps.add_base_layers(m, lang="en", tiles=False)
    folium.LayerControl().add_to(m)
    page = render_html(m)
    assert page.startswith('<!DOCTYPE html>\n<html lang="en">')
    assert "L.control.scale().addTo" not in page and "imperial: false" in page
    plain = render_html(folium.Map(tiles=None))
    assert plain.startswith('<!DOCTYPE html>\n<html lang="zh-CN">')
    with pytest.raises(ValidationError, match="lang must be one of"):
        render_html(folium.Map(tiles=None), lang="fr")
