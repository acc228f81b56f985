"""Static PNG maps for reports (matplotlib): no network, Chinese labels.

:func:`render_png` draws one facility group the way :func:`accessibility.maps.access_map`
does (villages coloured by travel-time class and sized by population, that group's
facilities on top, the boundary and the main roads as context) with a title, an
optional verdict (the caller's lines under the title), a legend, a scale bar, a north
arrow and the date it was made (China Standard Time), and writes it atomically: 300
dpi for print, in a 256-colour palette that keeps the file small. Nothing is fetched:
there are no web tiles.

Chinese text needs a font with Chinese characters. :func:`find_cjk_font` picks the
first one installed (Debian: ``fonts-noto-cjk``, installed by ``make browser`` or
``make setup`` as root); without one the map falls back to English labels and says
so in a warning.

Geometries are expected in EPSG:4326; they are drawn in the UTM zone of the
villages, so distances on the scale bar are true and grid north is up (within a
degree or two of true north).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import math
import os
import re
import tempfile
import unicodedata
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from accessibility._errors import ValidationError
from accessibility.engine import group_key
from accessibility.labels import group_label, label
from accessibility.maps import (
    BACKGROUND_COLOUR,
    BOUNDARY_COLOUR,
    CUT_OFF_COLOUR,
    FACILITY_COLOUR,
    NO_DATA_COLOUR,
    ROAD_STYLE,
    UNREACHABLE,
    UNREACHABLE_COLOUR,
    _check_boundary,
    _check_facilities,
    _check_groups,
    _check_lang,
    _check_lonlat,
    _check_places,
    _check_thresholds,
    _radius,
    _select_facilities,
    _valid_geometry,
    class_labels,
    no_data_group,
    no_data_text,
    simplify_roads,
    time_class_colours,
    travel_time_classes,
)

__all__ = ["CJK_FAMILIES", "draw_map", "find_cjk_font", "render_png"]

logger = logging.getLogger(__name__)

#: Font families tried first, in order (Simplified Chinese forms first).
CJK_FAMILIES: Final[tuple[str, ...]] = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Microsoft YaHei",
    "PingFang SC",
    "Heiti SC",
    "SimHei",
    "Noto Serif CJK SC",
    "Noto Sans CJK TC",
    "Noto Sans CJK JP",
    "Droid Sans Fallback",
    "AR PL UMing CN",
)
#: Parts of font file names that suggest Chinese glyphs (for fonts matplotlib has not seen).
_CJK_FILE_HINTS: Final[tuple[str, ...]] = (
    "cjk",
    "wqy",
    "wenquanyi",
    "sourcehan",
    "droidsansfallback",
    "msyh",
    "simhei",
    "simsun",
    "pingfang",
    "uming",
    "ukai",
)
#: Characters a font must draw to count as Chinese-capable.
_PROBE: Final[str] = "县村镇学校医院图书馆分钟合成数据"
#: A Latin font for what the CJK font lacks (ships with matplotlib).
_LATIN: Final[str] = "DejaVu Sans"
_CJK_TEXT = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")


# --------------------------------------------------------------------------- fonts


def _draws_chinese(family: str) -> bool:
    from matplotlib import font_manager

    try:
        path = font_manager.findfont(
            font_manager.FontProperties(family=family), fallback_to_default=False
        )
        font = font_manager.get_font(path)
    except (ValueError, RuntimeError, OSError):
        return False
    return all(font.get_char_index(ord(c)) for c in _PROBE)


@functools.cache
def find_cjk_font() -> str | None:
    """Family name of the first installed font that draws Chinese, or ``None``.

    The families in :data:`CJK_FAMILIES` are tried in order among the fonts
    matplotlib knows; then font files installed since matplotlib built its font
    cache (names containing ``cjk``, ``wqy``, ``sourcehan`` ...) are registered and
    tried; then any other known family with "CJK", "Hei", "Han", "Song", "Kai" or
    "Ming" in its name. A font counts only if it has glyphs for a set of common
    characters (县村镇学校医院...). The answer is cached for the process.

    Returns
    -------
    str or None
        E.g. ``"Noto Sans CJK SC"``; ``None`` when no installed font draws Chinese
        (install Debian's ``fonts-noto-cjk``, e.g. with ``make browser``).
    """
    from matplotlib import font_manager

    manager = font_manager.fontManager

    def known() -> list[str]:
        return list(dict.fromkeys(f.name for f in manager.ttflist))

    for family in CJK_FAMILIES:
        if family in known() and _draws_chinese(family):
            return family
    seen = {os.path.realpath(str(f.fname)) for f in manager.ttflist}
    added = 0
    for path in font_manager.findSystemFonts():
        name = os.path.basename(path).lower().replace("-", "").replace("_", "")
        if os.path.realpath(path) in seen or not any(h in name for h in _CJK_FILE_HINTS):
            continue
        try:
            manager.addfont(path)
            added += 1
        except (RuntimeError, OSError, ValueError) as exc:
            logger.debug("cannot read font %s: %s", path, exc)
    if added:
        logger.debug("registered %d font file(s) installed after matplotlib's cache", added)
        for family in CJK_FAMILIES:
            if family in known() and _draws_chinese(family):
                return family
    hint = re.compile(r"CJK|Hei|Han|Song|Kai|Ming|Gothic|YaHei", re.IGNORECASE)
    for family in known():
        if hint.search(family) and _draws_chinese(family):
            return family
    return None


def _font_rc(font: str | None) -> dict[str, Any]:
    """matplotlib settings that draw text with ``font`` (then a Latin font for the rest)."""
    return {"font.family": [font, _LATIN] if font else [_LATIN], "axes.unicode_minus": False}


# --------------------------------------------------------------------------- drawing helpers


def _nice_length(span_m: float) -> float:
    """Scale-bar length: 1, 2 or 5 × 10^k metres, at most a quarter of ``span_m``."""
    target = max(span_m / 4.0, 1.0)
    power = 10.0 ** math.floor(math.log10(target))
    for step in (5.0, 2.0, 1.0):
        if step * power <= target:
            return step * power
    return power


def _length_text(metres: float, lang: str) -> str:
    if metres >= 1000:
        return f"{metres / 1000:g} {label('ui.kilometres', lang=lang)}"
    return f"{metres:g} {label('ui.metres', lang=lang)}"


def _draw_scale_bar(ax: Any, lang: str) -> None:
    from matplotlib.patches import Rectangle

    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    width, height = x1 - x0, y1 - y0
    length = _nice_length(width)
    bar_h = height * 0.008
    left = x1 - width * 0.04 - length
    base = y0 + height * 0.035
    for i in range(2):
        ax.add_patch(
            Rectangle(
                (left + i * length / 2, base),
                length / 2,
                bar_h,
                facecolor="#222222" if i == 0 else "white",
                edgecolor="#222222",
                linewidth=0.8,
                zorder=8,
            )
        )
    ax.text(left, base + bar_h * 1.8, "0", ha="center", va="bottom", fontsize=7, zorder=8)
    ax.text(
        left + length,
        base + bar_h * 1.8,
        _length_text(length, lang),
        ha="center",
        va="bottom",
        fontsize=7,
        zorder=8,
    )


def _draw_north_arrow(ax: Any, lang: str) -> None:
    ax.annotate(
        "",
        xy=(0.955, 0.955),
        xytext=(0.955, 0.875),
        xycoords="axes fraction",
        arrowprops={"facecolor": "#222222", "edgecolor": "#222222", "width": 2.5, "headwidth": 9},
        zorder=8,
    )
    ax.text(
        0.955,
        0.86,
        label("ui.north", lang=lang),
        transform=ax.transAxes,
        ha="center",
        va="top",
        fontsize=9,
        fontweight="bold",
        zorder=8,
    )


def _rings(geom: Any) -> list[np.ndarray]:
    out = []
    for poly in shapely.get_parts(geom):
        if isinstance(poly, shapely.Polygon):
            out.append(shapely.get_coordinates(poly.exterior))
            out.extend(shapely.get_coordinates(r) for r in poly.interiors)
        elif isinstance(poly, (shapely.LineString, shapely.LinearRing)):
            out.append(shapely.get_coordinates(poly))
    return out


#: China Standard Time (UTC+8, no daylight saving): the date printed on maps.
CHINA_TIME: Final[dt.timezone] = dt.timezone(dt.timedelta(hours=8), "CST")
#: Height of one verdict line, as a share of the figure's height.
_VERDICT_LINE: Final[float] = 0.03
#: Widest verdict line, in half-width characters (a Chinese character counts 2).
_VERDICT_WIDTH: Final[int] = 96
#: Most verdict lines drawn (after wrapping); more would crowd out the map.
_VERDICT_MAX_LINES: Final[int] = 6


def map_date(now: dt.datetime | None = None) -> str:
    """The date in China Standard Time, ``"2026-12-04"`` (``now``: an aware time, default now)."""
    return (now or dt.datetime.now(dt.UTC)).astimezone(CHINA_TIME).date().isoformat()


def _display_width(text: str) -> int:
    """Width of text in half-width characters (a Chinese character counts 2)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _wrap(line: str, width: int) -> list[str]:
    """Split a line into pieces at most ``width`` half-width characters wide."""
    out, piece, used = [], "", 0
    for ch in line:
        w = _display_width(ch)
        if used + w > width and piece:
            out.append(piece.rstrip())
            piece, used = "", 0
            if ch == " ":
                continue
        piece += ch
        used += w
    out.append(piece)
    return out


def _save_png(fig: Any, path: Path, *, dpi: float, title: str) -> None:
    """Save a figure as a 256-colour PNG (a third of the full-colour size at 300 dpi, the
    same to the eye: a map has few colours and the anti-aliasing survives in the palette).

    The figure is rendered once into Agg's pixel buffer and encoded once (zlib level
    6): no intermediate full-colour PNG to write and read back, the same pixels.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image, PngImagePlugin

    fig.set_dpi(dpi)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    size = canvas.get_width_height(physical=True)
    rgb = Image.frombuffer("RGBA", size, canvas.buffer_rgba()).convert("RGB")
    paletted = rgb.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    info = PngImagePlugin.PngInfo()
    info.add_itxt("Title", title)
    paletted.save(path, format="PNG", compress_level=6, dpi=(dpi, dpi), pnginfo=info)


def _verdict_lines(verdict: str | None) -> list[str]:
    """The verdict as the lines to draw; ``None`` or blank: none."""
    if verdict is None:
        return []
    if not isinstance(verdict, str):
        msg = f"verdict must be text (lines separated by newlines) or None; got {type(verdict).__name__}"
        raise ValidationError(msg)
    lines = [
        piece
        for raw in verdict.strip().splitlines()
        if raw.strip()
        for piece in _wrap(raw.strip(), _VERDICT_WIDTH)
    ]
    if len(lines) > _VERDICT_MAX_LINES:
        msg = (
            f"verdict has {len(lines)} lines once wrapped; at most {_VERDICT_MAX_LINES} fit above "
            "the map: shorten it"
        )
        raise ValidationError(msg)
    return lines


# --------------------------------------------------------------------------- public


def draw_map(
    places: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    *,
    group: str,
    thresholds_min: Sequence[float],
    title: str,
    lang: str = "zh",
    boundary: gpd.GeoSeries | None = None,
    roads: gpd.GeoDataFrame | None = None,
    synthetic: bool = False,
    subtitle: str | None = None,
    north_arrow: bool = True,
    size_in: tuple[float, float] = (8.0, 8.8),
    verdict: str | None = None,
) -> Any:
    """Draw the travel-time map of one group as a matplotlib figure (see :func:`render_png`).

    Returns
    -------
    matplotlib.figure.Figure
        Not attached to pyplot: show it in a notebook by leaving it as a cell's
        value, or save it with ``fig.savefig(...)``.
    """
    from matplotlib import rc_context

    _check_lang(lang)
    verdict_lines = _verdict_lines(verdict)
    groups = _check_groups([group])
    thresholds = _check_thresholds(thresholds_min)
    _check_places(places, groups)
    _check_facilities(facilities, groups)
    boundary = _check_boundary(boundary)
    simple = simplify_roads(roads) if roads is not None else None
    places = _valid_geometry(places, "places")
    if places.empty:
        msg = "places has no row with a geometry; give the origins point geometries in EPSG:4326"
        raise ValidationError(msg)

    font = find_cjk_font()
    if font is None:
        if lang == "zh":
            warnings.warn(
                "no installed font draws Chinese characters, so the PNG map uses English "
                "labels; install one (Debian: apt-get install fonts-noto-cjk, or "
                "`make browser` as root) for Chinese",
                UserWarning,
                stacklevel=2,
            )
            logger.warning("no CJK font found: drawing the PNG map with English labels")
        lang = "en"
        for what, text in (
            ("title", title),
            ("subtitle", subtitle or ""),
            ("verdict", verdict or ""),
        ):
            if _CJK_TEXT.search(text):
                logger.warning(
                    "the %s %r has Chinese characters no installed font draws", what, text
                )
    with rc_context(_font_rc(font)):
        return _draw(
            places,
            facilities,
            group=groups[0],
            thresholds=thresholds,
            title=title,
            lang=lang,
            boundary=boundary,
            roads=simple,
            synthetic=synthetic,
            subtitle=subtitle,
            north_arrow=north_arrow,
            size_in=size_in,
            notice=label("ui.synthetic_notice" if font else "ui.synthetic_short", lang=lang),
            verdict=verdict_lines,
        )


def _draw(
    places: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    *,
    group: str,
    thresholds: np.ndarray,
    title: str,
    lang: str,
    boundary: gpd.GeoSeries | None,
    roads: gpd.GeoDataFrame | None,
    synthetic: bool,
    subtitle: str | None,
    north_arrow: bool,
    size_in: tuple[float, float],
    notice: str,
    verdict: Sequence[str] = (),
) -> Any:
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    metric = places.estimate_utm_crs()
    pts = shapely.point_on_surface(places.geometry.to_numpy())
    _check_lonlat(shapely.get_x(pts), shapely.get_y(pts), "places")
    xy = shapely.get_coordinates(gpd.GeoSeries(pts, crs=4326).to_crs(metric).to_numpy())
    minutes = places[f"{group_key(group)}_time_min"].to_numpy(dtype=float)
    classes = travel_time_classes(minutes, thresholds)
    colours = time_class_colours(thresholds)  # the HTML maps' colours: same minutes, same colour
    fill = [UNREACHABLE_COLOUR if c == UNREACHABLE else colours[c] for c in classes]
    pops = (
        places["population"].astype(float).to_numpy()
        if "population" in places.columns
        else np.full(len(places), np.nan)
    )
    sizes = np.array([(1.6 * _radius(p)) ** 2 for p in pops])
    flags = (
        places["snap_flag"].astype("string").fillna("ok").str.strip()
        if "snap_flag" in places.columns
        else pd.Series(["ok"] * len(places), index=places.index, dtype="string")
    )
    far = flags.eq("far").to_numpy(dtype=bool)
    cut = flags.eq("road_cut_off").to_numpy(dtype=bool)  # time is an estimate
    selected = _valid_geometry(_select_facilities(facilities, group), "facilities")
    no_data = no_data_group(minutes, selected)
    if no_data:  # no facility of the group in the data: "no data", never unreachable
        fill = [NO_DATA_COLOUR] * len(fill)
    fxy = np.empty((0, 2))
    if not selected.empty:
        fpts = shapely.point_on_surface(selected.geometry.to_numpy())
        _check_lonlat(shapely.get_x(fpts), shapely.get_y(fpts), "facilities")
        fxy = shapely.get_coordinates(gpd.GeoSeries(fpts, crs=4326).to_crs(metric).to_numpy())

    fig = Figure(figsize=size_in, facecolor="white")
    top = 0.965
    header = [top - 0.04] + ([top - 0.07] if synthetic else [])  # subtitle, notice
    first_verdict = header[-1] - 0.035
    axes_top = (first_verdict - _VERDICT_LINE * len(verdict) - 0.01) if verdict else 0.86
    ax = fig.add_axes((0.03, 0.07, 0.94, axes_top - 0.07))
    ax.set_facecolor(BACKGROUND_COLOUR)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_edgecolor("#999999")
        spine.set_linewidth(0.6)

    extent = [xy]
    if len(fxy):
        extent.append(fxy)
    if boundary is not None and not boundary.empty:
        outline = boundary.to_crs(metric)
        for geom in outline.to_numpy():
            if geom is None or geom.is_empty:
                continue
            for k, ring in enumerate(_rings(geom)):
                if k == 0 or isinstance(geom, (shapely.Polygon, shapely.MultiPolygon)):
                    ax.fill(ring[:, 0], ring[:, 1], facecolor="white", edgecolor="none", zorder=1)
                ax.plot(
                    ring[:, 0],
                    ring[:, 1],
                    color=BOUNDARY_COLOUR,
                    linewidth=1.0,
                    linestyle=(0, (6, 4)),
                    zorder=3,
                )
                extent.append(ring)
    road_handles = []
    if roads is not None and not roads.empty:
        projected = roads.to_crs(metric)
        for name in reversed(list(projected.index)):  # widest class on top
            width, colour = ROAD_STYLE.get(str(name), (0.8, "#c0c0c0"))
            segments = [
                shapely.get_coordinates(part)
                for part in shapely.get_parts(projected.geometry.loc[name])
            ]
            ax.add_collection(
                LineCollection(
                    segments,
                    colors=colour,
                    linewidths=width * 0.6,
                    capstyle="round",
                    joinstyle="round",
                    zorder=2,
                )
            )
        road_handles.append(
            Line2D(
                [],
                [],
                color=ROAD_STYLE["primary"][1],
                linewidth=1.4,
                label=label("ui.main_roads", lang=lang),
            )
        )

    all_xy = np.vstack(extent)
    (x0, y0), (x1, y1) = all_xy.min(axis=0), all_xy.max(axis=0)
    pad = max(x1 - x0, y1 - y0, 1000.0) * 0.04
    x0, x1, y0, y1 = x0 - pad, x1 + pad, y0 - pad, y1 + pad
    box = ax.get_position()
    box_ratio = (box.height * size_in[1]) / (box.width * size_in[0])  # height / width
    if (y1 - y0) / (x1 - x0) < box_ratio:  # too wide: grow the height
        grow = (x1 - x0) * box_ratio - (y1 - y0)
        y0, y1 = y0 - grow / 2, y1 + grow / 2
    else:
        grow = (y1 - y0) / box_ratio - (x1 - x0)
        x0, x1 = x0 - grow / 2, x1 + grow / 2
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal", adjustable="box")

    order = np.argsort(classes != UNREACHABLE, kind="stable")  # unreachable first (below)
    ax.scatter(
        xy[order, 0],
        xy[order, 1],
        s=sizes[order],
        c=[fill[i] for i in order],
        edgecolors=[
            "#000000" if far[i] else (CUT_OFF_COLOUR if cut[i] else "#ffffff") for i in order
        ],
        linewidths=[1.0 if far[i] or cut[i] else 0.5 for i in order],
        alpha=0.92,
        zorder=4,
    )
    if len(fxy):
        ax.scatter(
            fxy[:, 0],
            fxy[:, 1],
            s=26,
            c=FACILITY_COLOUR,
            edgecolors="white",
            linewidths=1.1,
            zorder=5,
        )

    def dot(colour: str, text: str, edge: str = "#ffffff", size: float = 7.0) -> Line2D:
        return Line2D(
            [],
            [],
            linestyle="none",
            marker="o",
            markersize=size,
            markerfacecolor=colour,
            markeredgecolor=edge,
            markeredgewidth=0.8,
            label=text,
        )

    handles = [dot(c, t) for c, t in zip(colours, class_labels(list(thresholds), lang=lang))]
    if no_data:
        handles = [dot(NO_DATA_COLOUR, no_data_text([group], lang=lang))]
    else:
        handles.append(dot(UNREACHABLE_COLOUR, label("ui.unreachable", lang=lang)))
    handles.append(
        dot(
            FACILITY_COLOUR,
            f"{group_label(group, lang=lang)} ({label('ui.facilities', lang=lang)})",
            size=6.0,
        )
    )
    if far.any():
        handles.append(dot("#dddddd", label("ui.far_from_road", lang=lang), edge="#000000"))
    if cut.any():
        handles.append(dot("#dddddd", label("ui.road_cut_off", lang=lang), edge=CUT_OFF_COLOUR))
    handles.extend(road_handles)
    heading = f"{label('ui.legend', lang=lang)} · {label('ui.travel_time', lang=lang)}"
    legend = ax.legend(
        handles=handles,
        title=heading,
        loc="lower left",
        fontsize=7.5,
        title_fontsize=8.5,
        framealpha=0.93,
        edgecolor="#bbbbbb",
        borderpad=0.7,
    )
    legend.set_zorder(9)
    legend._legend_box.align = "left"

    if no_data:
        ax.text(
            0.5,
            0.5,
            no_data_text([group], lang=lang),
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize=12,
            color="#555555",
            zorder=8,
            bbox={"facecolor": "white", "edgecolor": "#bbbbbb", "alpha": 0.9, "pad": 6},
        )
    _draw_scale_bar(ax, lang)
    if north_arrow:
        _draw_north_arrow(ax, lang)

    fig.text(0.5, top, title, ha="center", va="top", fontsize=14, fontweight="bold")
    second = subtitle or f"{label('ui.travel_time', lang=lang)} · {group_label(group, lang=lang)}"
    fig.text(0.5, top - 0.04, second, ha="center", va="top", fontsize=10, color="#444444")
    if synthetic:
        fig.text(
            0.5,
            top - 0.07,
            notice,
            ha="center",
            va="top",
            fontsize=10,
            color="#b00020",
            fontweight="bold",
        )
    # a synthetic region's data are generated, not OpenStreetMap's: credit only real data
    source = label("ui.data_synthetic" if synthetic else "ui.data_osm", lang=lang)
    for i, line in enumerate(verdict):
        fig.text(
            0.5,
            first_verdict - _VERDICT_LINE * i,
            line,
            ha="center",
            va="top",
            fontsize=10.5,
            color="#1a1a1a",
            fontweight="bold",
        )
    fig.text(0.03, 0.035, source, fontsize=7, color="#666666")
    colon, left, right = ("：", "（", "）") if lang == "zh" else (": ", " (", ")")
    made = f"{label('ui.map_date', lang=lang)}{colon}{map_date()}{left}{label('ui.china_time', lang=lang)}{right}"
    fig.text(0.03, 0.014, made, fontsize=7, color="#666666")
    fig.text(
        0.97,
        0.035,
        label("ui.size_by_population", lang=lang),
        fontsize=7,
        color="#666666",
        ha="right",
    )
    return fig


def render_png(
    places: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    *,
    group: str,
    thresholds_min: Sequence[float],
    title: str,
    path: Path | str,
    lang: str = "zh",
    boundary: gpd.GeoSeries | None = None,
    roads: gpd.GeoDataFrame | None = None,
    dpi: int = 300,
    synthetic: bool = False,
    subtitle: str | None = None,
    north_arrow: bool = True,
    verdict: str | None = None,
) -> Path:
    """Write a static PNG map of travel time to one facility group, atomically.

    Villages are dots coloured by travel-time class (as in the HTML map: green
    ≤ first threshold … red, grey when unreachable), sized by population, with a
    black ring when far from the road; the group's facilities are dark dots with a
    white ring. When the group has no facility in the data and no known time (see
    :func:`accessibility.maps.no_data_group`), every village is light grey and the
    legend and a note across the map say "no data" (无数据), never unreachable. Under them: the boundary (dashed, white inside) and the main roads
    (trunk to tertiary, simplified). Around them: title, subtitle (travel time ·
    group, unless given), the synthetic-data notice when ``synthetic``, a legend,
    a scale bar (kilometres, true in the UTM zone the map is drawn in), an
    optional north arrow, the OpenStreetMap attribution and the date the map was made
    (China Standard Time, :func:`map_date`). No web tiles.

    Parameters
    ----------
    places
        Origins in EPSG:4326 with ``{key}_time_min`` for ``group`` (minutes; NaN or
        inf when unreachable) and optionally ``population`` and ``snap_flag``
        (see :func:`accessibility.maps.access_map`).
    facilities
        Facilities in EPSG:4326 with ``kind`` and ``tiers``.
    group
        One group, ``"kind"`` or ``"kind:tier"`` (e.g. ``"school:primary"``).
    thresholds_min
        Class limits in minutes, positive and increasing (e.g. ``[15, 30]``).
    title
        First line of the title.
    path
        Output ``.png`` file; parent folders are created; written to a temporary
        file in the same folder first, then moved into place.
    lang
        ``"zh"`` or ``"en"``. Chinese needs a CJK font (:func:`find_cjk_font`);
        without one the labels are English and a warning says so.
    boundary
        Optional outline in EPSG:4326.
    roads
        Optional road lines in EPSG:4326 with ``highway`` (e.g.
        :func:`accessibility.maps.main_roads` of the study's network).
    dpi
        Resolution; the figure is 8 × 8.8 inches (2400 × 2640 pixels at the default
        300 dpi, for print; 150 suits a screen).
    synthetic
        Show the synthetic-data notice under the title (required for the sample).
    subtitle
        Second title line; default: "出行时间 · <group>".
    north_arrow
        Draw a north arrow (top right).
    verdict
        What the map says about its claim, one or more lines (``"\\n"`` between
        them), drawn in bold under the title lines; the map shrinks to make room.
        Lines wider than the page are wrapped. ``None``: no verdict line.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValidationError
        Bad ``lang``, group, thresholds, ``dpi`` or inputs (as for
        :func:`accessibility.maps.access_map`).
    """
    from matplotlib import rc_context

    if not isinstance(dpi, (int, float)) or not math.isfinite(dpi) or not 30 <= dpi <= 1200:
        msg = f"dpi must be a number between 30 and 1200 (300 suits print); got {dpi!r}"
        raise ValidationError(msg)
    path = Path(path)
    fig = draw_map(
        places,
        facilities,
        group=group,
        thresholds_min=thresholds_min,
        title=title,
        lang=lang,
        boundary=boundary,
        roads=roads,
        synthetic=synthetic,
        subtitle=subtitle,
        north_arrow=north_arrow,
        verdict=verdict,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}.partial-", suffix=".png", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        with rc_context(_font_rc(find_cjk_font())):
            _save_png(fig, tmp, dpi=dpi, title=title)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; maps are for sharing
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    logger.info("wrote %s (%.0f kB)", path, path.stat().st_size / 1024)
    return path
