"""Static PNG maps: written atomically, Chinese font, texts, fallback, validation, no network."""

from __future__ import annotations

import socket
import struct
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import shapely

from accessibility import maps, static_map
from accessibility._errors import ValidationError
from accessibility.static_map import draw_map, find_cjk_font, render_png

from .test_maps import NOTICE, make_facilities, make_places, make_road_lines

BOUNDARY = gpd.GeoSeries([shapely.box(113.95, 33.97, 114.05, 34.05)], crs=4326)


def options(**kwargs: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "group": "school:primary",
        "thresholds_min": [15, 30],
        "title": "示例县 · 设施可达性",
        "boundary": BOUNDARY,
        "roads": make_road_lines(),
        "synthetic": True,
    }
    out.update(kwargs)
    return out


def texts(fig: Any) -> list[str]:
    """Every text drawn on the figure (title lines, legend, scale bar, arrow, notes)."""
    from matplotlib.text import Text

    return [t.get_text() for t in fig.findobj(Text) if t.get_text()]


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise OSError("network access in a test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_png_written_atomically(tmp_path: Path, no_network: None) -> None:
    target = tmp_path / "maps" / "sample" / "access.png"
    out = render_png(make_places(), make_facilities(), path=target, dpi=100, **options())
    assert out == target
    assert png_size(target) == (800, 880)  # 8 × 8.8 inches
    assert 20_000 < target.stat().st_size < 2_000_000
    assert [p.name for p in target.parent.iterdir()] == ["access.png"]
    render_png(make_places(), make_facilities(), path=str(target), **options(lang="en"))
    assert png_size(target) == (2400, 2640)  # replaced, default 300 dpi (print)
    assert [p.name for p in target.parent.iterdir()] == ["access.png"]


def test_print_png_says_its_resolution_and_stays_small(tmp_path: Path) -> None:
    from PIL import Image

    target = render_png(make_places(), make_facilities(), path=tmp_path / "m.png", **options())
    with Image.open(target) as image:
        assert image.size == (2400, 2640)
        assert image.info["dpi"] == pytest.approx((300, 300), abs=0.01)
        assert image.info["Title"] == "示例县 · 设施可达性"
        colours = {rgb for _, rgb in image.convert("RGB").getcolors(maxcolors=1 << 20)}
    assert 1_000 < target.stat().st_size < 600_000
    # the village colours of the legend (the HTML maps' colours of the same minutes) survive the palette
    for hex_colour in maps.time_class_colours([15, 30]):
        rgb = tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
        assert min(sum(abs(a - b) for a, b in zip(rgb, c, strict=True)) for c in colours) <= 6


def test_map_date_is_china_standard_time() -> None:
    import datetime as dt

    utc = dt.UTC
    assert static_map.map_date(dt.datetime(2026, 12, 3, 16, 0, tzinfo=utc)) == "2026-12-04"
    assert static_map.map_date(dt.datetime(2026, 12, 3, 15, 59, tzinfo=utc)) == "2026-12-03"
    today = dt.datetime.now(utc) + dt.timedelta(hours=8)
    shown = texts(draw_map(make_places(), make_facilities(), **options()))
    if find_cjk_font() is not None:
        assert f"制图日期：{today.date().isoformat()}（北京时间）" in shown
    en = texts(draw_map(make_places(), make_facilities(), **options(lang="en")))
    assert f"Map made: {today.date().isoformat()} (China Standard Time)" in en


def test_verdict_lines_under_the_title_and_the_map_makes_room() -> None:
    plain = draw_map(make_places(), make_facilities(), **options())
    verdict = "15分钟阅读圈：不成立\n居民覆盖率 48.6%，目标 100%"
    fig = draw_map(make_places(), make_facilities(), **options(verdict=verdict))
    shown = texts(fig)
    assert "15分钟阅读圈：不成立" in shown and "居民覆盖率 48.6%，目标 100%" in shown
    lines = [t for t in fig.texts if t.get_text() in verdict.split("\n")]
    assert lines[0].get_position()[1] > lines[1].get_position()[1]  # in order, top down
    notice = next(t for t in fig.texts if t.get_text() == NOTICE)
    assert lines[0].get_position()[1] < notice.get_position()[1]  # under the title lines
    top = fig.axes[0].get_position().y1
    assert top < plain.axes[0].get_position().y1
    assert top < lines[1].get_position()[1] - static_map._VERDICT_LINE  # no overlap
    if find_cjk_font() is not None:
        assert lines[0].get_fontfamily()[0] == find_cjk_font()
    # a long line is wrapped at the page's width; every character is kept
    long = "、".join(f"第{i}村" for i in range(40))
    pieces = static_map._verdict_lines(long)
    assert len(pieces) > 1 and "".join(pieces) == long
    assert all(static_map._display_width(p) <= static_map._VERDICT_WIDTH for p in pieces)
    assert static_map._verdict_lines(None) == [] and static_map._verdict_lines("  ") == []
    with pytest.raises(ValidationError, match="at most 6 fit"):
        draw_map(
            make_places(),
            make_facilities(),
            **options(verdict="\n".join("成立" * 3 for _ in range(7))),
        )
    with pytest.raises(ValidationError, match="verdict must be text"):
        draw_map(make_places(), make_facilities(), **options(verdict=["成立"]))


def test_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "m.png"
    target.write_bytes(b"old")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(static_map.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        render_png(make_places(), make_facilities(), path=target, **options())
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["m.png"]


def test_chosen_font_draws_chinese() -> None:
    from matplotlib import font_manager

    family = find_cjk_font()
    if family is None:
        pytest.skip("no CJK font installed here (`make browser` installs fonts-noto-cjk)")
    path = font_manager.findfont(
        font_manager.FontProperties(family=family), fallback_to_default=False
    )
    font = font_manager.get_font(path)
    assert all(font.get_char_index(ord(c)) for c in "示例县小学出行时间分钟图例公里北合成数据")
    fig = draw_map(make_places(), make_facilities(), **options())
    title = next(t for t in fig.texts if t.get_text() == "示例县 · 设施可达性")
    assert title.get_fontfamily()[0] == family


def test_figure_texts_in_chinese() -> None:
    if find_cjk_font() is None:
        pytest.skip("no CJK font installed here (`make browser` installs fonts-noto-cjk)")
    fig = draw_map(make_places(), make_facilities(), **options())
    shown = texts(fig)
    for expected in (
        "示例县 · 设施可达性",
        "出行时间 · 小学",
        NOTICE,
        "图例 · 出行时间",
        "≤ 15 分钟",
        "15–30 分钟",
        "> 30 分钟",
        "不可达",
        "小学 (设施点)",
        "距道路过远",
        "主要道路",
        "北",
        "圆点大小表示人口",
    ):
        assert expected in shown, expected
    assert any(t.endswith("公里") or t.endswith("米") for t in shown)
    # every village is one dot, unreachable ones grey
    villages = fig.axes[0].collections[-2]
    assert len(villages.get_offsets()) == len(make_places())
    colours = {tuple(np.round(c[:3], 3)) for c in villages.get_facecolors()}
    grey = tuple(round(int(maps.UNREACHABLE_COLOUR[i : i + 2], 16) / 255, 3) for i in (1, 3, 5))
    assert grey in colours
    plain = texts(draw_map(make_places(), make_facilities(), **options(synthetic=False)))
    assert NOTICE not in plain and "北" in plain
    # synthetic data are not credited to OpenStreetMap; real data are
    assert "道路与设施数据：程序生成的合成数据" in shown and not any(
        "OpenStreetMap" in t for t in shown
    )
    assert "道路与设施数据 © OpenStreetMap 贡献者" in plain


def test_english_labels_and_no_arrow() -> None:
    fig = draw_map(
        make_places(),
        make_facilities(),
        **options(lang="en", title="Sample County", subtitle="Walk", north_arrow=False),
    )
    shown = texts(fig)
    assert {"Sample County", "Walk", "Legend · Travel time", "≤ 15 min", "Unreachable"} <= set(
        shown
    )
    assert "N" not in shown


def test_without_a_chinese_font_labels_are_english(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(static_map, "find_cjk_font", lambda: None)
    with pytest.warns(UserWarning, match="fonts-noto-cjk"):
        fig = draw_map(make_places(), make_facilities(), **options(title="Sample County"))
    shown = texts(fig)
    assert "Legend · Travel time" in shown and "Travel time · Primary school" in shown
    assert "Synthetic data, for demonstration only" in shown
    assert not [t for t in shown if static_map._CJK_TEXT.search(t)]


def test_no_facilities_no_roads_no_boundary() -> None:
    facilities = make_facilities().iloc[:0]
    fig = draw_map(make_places(), facilities, **options(roads=None, boundary=None, group="health"))
    assert "主要道路" not in texts(fig)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"group": "park"}, "unknown facility kind"),
        ({"group": "bus"}, "no column 'bus_time_min'"),
        ({"thresholds_min": [30, 15]}, "strictly increasing"),
        ({"lang": "fr"}, "lang must be one of"),
        ({"boundary": BOUNDARY.to_crs(32650)}, r"boundary.*to_crs\(4326\)"),
        ({"roads": make_road_lines().drop(columns="highway")}, "no 'highway' column"),
        ({"dpi": 5}, "dpi must be"),
        ({"dpi": float("nan")}, "dpi must be"),
    ],
)
def test_bad_input(tmp_path: Path, change: dict[str, Any], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        render_png(make_places(), make_facilities(), path=tmp_path / "x.png", **options(**change))
    assert not list(tmp_path.iterdir())


def test_places_in_wrong_crs(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"to_crs\(4326\)"):
        render_png(
            make_places().to_crs(32650), make_facilities(), path=tmp_path / "x.png", **options()
        )


@pytest.mark.parametrize(
    ("span_m", "length"),
    [(40_000, 10_000), (30_000, 5_000), (9_000, 2_000), (800, 200), (1, 1)],
)
def test_scale_bar_lengths(span_m: float, length: float) -> None:
    assert static_map._nice_length(span_m) == length


def _fills(fig: Any) -> list[str]:
    """Fill colours (hex) of the villages' dots (the largest scatter on the map)."""
    from matplotlib.collections import PathCollection
    from matplotlib.colors import to_hex

    dots = max(fig.axes[0].findobj(PathCollection), key=lambda c: len(c.get_offsets()))
    return [to_hex(c) for c in dots.get_facecolors()]


def test_png_of_a_group_without_facilities_says_no_data(tmp_path: Path) -> None:
    places = make_places()
    places["reading_time_min"] = np.nan
    facilities = make_facilities().drop(index="f4")  # no reading place
    fig = draw_map(places, facilities, **options(group="reading"))
    shown = texts(fig)
    assert "无数据（数据中无此类设施）：阅读场所" in shown
    assert "不可达" not in shown
    assert set(_fills(fig)) == {maps.NO_DATA_COLOUR}
    path = render_png(places, facilities, **options(group="reading"), path=tmp_path / "r.png")
    assert png_size(path) == (2400, 2640)  # 300 dpi


def test_png_of_facilities_none_can_reach_says_unreachable() -> None:
    places = make_places()
    places["health_time_min"] = np.inf  # the clinic f3 exists; no village reaches it
    fig = draw_map(places, make_facilities(), **options(group="health"))
    shown = texts(fig)
    assert "不可达" in shown and not [t for t in shown if "无数据" in t]
    assert set(_fills(fig)) == {maps.UNREACHABLE_COLOUR}


def test_a_village_on_a_cut_off_road_has_its_own_ring_and_legend_row() -> None:
    from matplotlib.colors import to_hex

    from accessibility.maps import CUT_OFF_COLOUR

    places = make_places()
    assert "road_cut_off" not in set(places.get("snap_flag", []))
    assert "所在道路与路网不连通（时间为估算）" not in texts(
        draw_map(places, make_facilities(), **options())
    )
    places["snap_flag"] = "ok"
    places.iloc[0, places.columns.get_loc("snap_flag")] = "road_cut_off"
    fig = draw_map(places, make_facilities(), **options())
    assert "所在道路与路网不连通（时间为估算）" in texts(fig)
    edges = {to_hex(c) for c in fig.axes[0].collections[-2].get_edgecolors()}
    assert CUT_OFF_COLOUR in edges
