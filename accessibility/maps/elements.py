"""The map's page elements: shared drawing script, group layers, boundary, title banner, legend.

In: payloads from :mod:`.payload` and texts. Out: Branca ``MacroElement`` classes
that write one script call each, :func:`add_title` for the banner every map has,
and the legend's HTML per group (:func:`_legend_html`, :func:`no_data_text`).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import folium
import numpy as np
from branca.element import MacroElement
from folium.template import Template

from accessibility.labels import group_label, label

from .payload import _js_json
from .style import (
    CUT_OFF_COLOUR,
    FACILITY_COLOUR,
    NO_DATA_COLOUR,
    UNREACHABLE_COLOUR,
    _fmt_minutes,
    class_labels,
    time_class_colours,
)

_STYLE = """
#{map}.leaflet-container {{
  font-family: "Helvetica Neue", Arial, "PingFang SC", "Microsoft YaHei",
    "Noto Sans CJK SC", sans-serif;
}}
.acc-legend {{
  padding: 6px 10px; font-size: 12px; line-height: 18px;
  background: rgba(255, 255, 255, 0.93); border-radius: 4px;
  box-shadow: 0 1px 4px rgba(0, 0, 0, 0.3);
}}
.acc-legend .acc-lt, .acc-groups .acc-lt {{ font-weight: 600; margin-bottom: 2px; }}
.acc-legend .acc-lg {{ color: #333; margin-bottom: 2px; }}
.acc-legend i {{
  display: inline-block; width: 12px; height: 12px; margin-right: 6px;
  border-radius: 50%; vertical-align: -1px; box-sizing: border-box;
  box-shadow: 0 0 0 1px rgba(0, 0, 0, 0.25);
}}
.acc-legend i.acc-line {{
  width: 16px; height: 0; border-radius: 0; box-shadow: none; vertical-align: 4px;
}}
.acc-legend .acc-note {{ color: #555; font-size: 11px; }}
.acc-groups {{
  padding: 6px 10px; font-size: 12px; line-height: 20px;
  background: rgba(255, 255, 255, 0.93); border-radius: 4px;
  box-shadow: 0 1px 4px rgba(0, 0, 0, 0.3);
}}
.acc-groups label {{ display: block; cursor: pointer; white-space: nowrap; }}
.acc-groups input {{ margin: 0 4px 0 0; vertical-align: -2px; }}
"""


class _AccessLayers(MacroElement):
    """Shared data and drawing code for every group layer of one map.

    Emits ``var <name> = {addGroup, addBoundary, addControls, show, groups}``; each
    group layer then calls ``<name>.addGroup(<feature group>, {...});`` on one line,
    and :class:`_GroupControls` adds the legend and the group choice (radio buttons)
    once every group is known. ``show(i)`` puts group ``i`` on the map, takes every
    other group off, and redraws the legend for it: one group is visible at a time.
    """

    _template = Template(
        """
        {% macro header(this, kwargs) %}
        <style>{{ this.style }}</style>
        {% endmacro %}
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = (function (map) {
                var D = {{ this.data }};
                var groups = [], radios = [], legendBox = null;
                var pane = map.createPane("accBoundary");
                pane.style.zIndex = 350;
                pane.style.pointerEvents = "none";
                function tip(g, i) {
                    var p = D.p[i], t = g.t[i], f = g.f[i], s = D.s;
                    var lv = D.lv[p[3]];
                    var out = "<b>" + p[2] + "</b>" + (lv ? " (" + lv + ")" : "") +
                        "<br>" + s.pop + ": " + p[4] +
                        "<br>" + s.time + " · " + g.g + (g.m ? " (" + g.m + ")" : "") + ": " +
                        (t === null ? (g.nd ? s.nodata : s.unreachable) :
                            (p[6] === 2 ? "≈ " : "") + t.toFixed(1) + " " + s.min) +
                        "<br>" + s.nearest + ": " + (f === null ? "—" : g.fn[f]);
                    if (p[6] === 1) {
                        out += "<br><i>⚠ " + s.far +
                            (p[7] === null ? "" : " (" + s.leg + " " + p[7] + " " + s.m + ")") + "</i>";
                    } else if (p[6] === 2) {
                        out += "<br><i>⚠ " + s.cut + "</i>";
                    }
                    return out;
                }
                function addGroup(layer, g) {
                    groups.push({layer: layer, g: g});
                    var tipOf = function (marker) { return tip(g, marker.options.accIndex); };
                    for (var i = 0; i < D.p.length; i++) {
                        var p = D.p[i], c = g.c[i], far = p[6] === 1, cut = p[6] === 2;
                        L.circleMarker([p[0], p[1]], {
                            radius: p[5], weight: far || cut ? 1.6 : 0.8,
                            color: far ? "#000000" : (cut ? D.cut : "#ffffff"),
                            dashArray: far ? "3 3" : (cut ? "1 2" : null),
                            fillColor: g.nd ? D.nd : (c < 0 ? D.un : g.k[c]),
                            fillOpacity: 0.9, accIndex: i
                        }).bindTooltip(tipOf).addTo(layer);
                    }
                    for (var j = 0; j < g.x.length; j++) {
                        var q = g.x[j];
                        L.circleMarker([q[0], q[1]], {
                            radius: 4.5, weight: 2, color: "#ffffff",
                            fillColor: D.fac, fillOpacity: 1
                        }).bindTooltip(q[2]).addTo(layer);
                    }
                }
                function addBoundary(layer, geojson) {
                    L.geoJSON(geojson, {
                        pane: "accBoundary", interactive: false,
                        style: {color: D.bd, weight: 1.5, dashArray: "6 4", fill: false}
                    }).addTo(layer);
                }
                function show(i) {
                    for (var j = 0; j < groups.length; j++) {
                        var layer = groups[j].layer;
                        if (j === i && !map.hasLayer(layer)) { map.addLayer(layer); }
                        if (j !== i && map.hasLayer(layer)) { map.removeLayer(layer); }
                        if (radios[j]) { radios[j].checked = j === i; }
                    }
                    if (legendBox && groups[i]) { legendBox.innerHTML = groups[i].g.lg; }
                    api.active = i;
                }
                function addControls(chooseTitle) {
                    var legend = L.control({position: "bottomleft"});
                    legend.onAdd = function () {
                        legendBox = L.DomUtil.create("div", "acc-legend");
                        L.DomEvent.disableClickPropagation(legendBox);
                        return legendBox;
                    };
                    legend.addTo(map);
                    if (groups.length > 1) {
                        var chooser = L.control({position: "bottomleft"});
                        chooser.onAdd = function () {
                            var box = L.DomUtil.create("div", "acc-groups");
                            var head = L.DomUtil.create("div", "acc-lt", box);
                            head.innerHTML = chooseTitle;
                            groups.forEach(function (entry, j) {
                                var row = L.DomUtil.create("label", "", box);
                                var input = L.DomUtil.create("input", "", row);
                                input.type = "radio";
                                input.name = "{{ this.get_name() }}_group";
                                var name = L.DomUtil.create("span", "", row);
                                name.innerHTML = " " + entry.g.n;
                                L.DomEvent.on(input, "change", function () { show(j); });
                                radios.push(input);
                            });
                            L.DomEvent.disableClickPropagation(box);
                            L.DomEvent.disableScrollPropagation(box);
                            return box;
                        };
                        chooser.addTo(map);
                    }
                    show(0);
                }
                var api = {
                    addGroup: addGroup, addBoundary: addBoundary, addControls: addControls,
                    show: show, groups: groups, active: -1
                };
                return api;
            })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, data: dict[str, Any], style: str) -> None:
        super().__init__()
        self._name = "AccessLayers"
        self.data = _js_json(data)
        self.style = style


class _GroupMarkers(MacroElement):
    """Adds one group's origins and facilities to its parent FeatureGroup."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            {{ this.shared.get_name() }}.addGroup({{ this._parent.get_name() }}, {{ this.data }});
        {% endmacro %}
        """
    )

    def __init__(self, shared: _AccessLayers, data: dict[str, Any]) -> None:
        super().__init__()
        self._name = "GroupMarkers"
        self.shared = shared
        self.data = _js_json(data)


class _BoundaryOutline(MacroElement):
    """Adds a boundary outline (GeoJSON, EPSG:4326) to its parent FeatureGroup."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            {{ this.shared.get_name() }}.addBoundary({{ this._parent.get_name() }}, {{ this.data }});
        {% endmacro %}
        """
    )

    def __init__(self, shared: _AccessLayers, geojson: dict[str, Any]) -> None:
        super().__init__()
        self._name = "BoundaryOutline"
        self.shared = shared
        self.data = _js_json(geojson)


class _TitleBox(MacroElement):
    """The title as a banner across the top of the map (HTML given, already escaped),
    with the layer control in the same type as the panels (12 px).

    The top corners' controls (zoom, verdicts, layers) are moved below the banner,
    at load and whenever the window is resized, so nothing is drawn over the title
    whatever its length, language or number of lines.
    """

    _template = Template(
        """
        {% macro header(this, kwargs) %}
        <style>
        .acc-title {
          position: absolute; top: 0; left: 0; right: 0; z-index: 1000;
          padding: 5px 14px 6px; text-align: center;
          background: rgba(255, 255, 255, 0.95); box-shadow: 0 1px 4px rgba(0, 0, 0, 0.3);
          font-family: "Helvetica Neue", Arial, "PingFang SC", "Microsoft YaHei",
            "Noto Sans CJK SC", sans-serif; line-height: 1.45;
        }
        .acc-title .acc-h { font-size: 16px; font-weight: 600; }
        .acc-title .acc-sub { font-size: 12px; color: #444; }
        .acc-title .acc-src { font-size: 11px; color: #666; }
        .acc-title .acc-syn { font-size: 12px; color: #b00020; font-weight: 600; }
        .acc-title .acc-warn { font-size: 11px; color: #8a5a00; }
        .leaflet-container .leaflet-control-layers {
          font-family: "Helvetica Neue", Arial, "PingFang SC", "Microsoft YaHei",
            "Noto Sans CJK SC", sans-serif; font-size: 12px; line-height: 1.6;
        }
        </style>
        {% endmacro %}
        {% macro script(this, kwargs) %}
            (function (map) {
                var root = map.getContainer();
                var box = L.DomUtil.create("div", "acc-title", root);
                box.innerHTML = {{ this.content }};
                L.DomEvent.disableClickPropagation(box);
                L.DomEvent.disableScrollPropagation(box);
                var fit = function () {
                    var below = box.offsetHeight + "px";
                    root.querySelectorAll(".leaflet-top").forEach(function (el) { el.style.top = below; });
                };
                fit();
                map.on("resize", fit);  // Leaflet follows the window's size
            })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, content_html: str) -> None:
        super().__init__()
        self._name = "TitleBox"
        self.content = _js_json(content_html)


def add_title(
    m: folium.Map,
    title: str,
    subtitle: str | Sequence[str] | None = None,
    *,
    synthetic: bool = False,
    lang: str = "zh",
    source_note: str | None = None,
    notes: Any = None,
) -> folium.Map:
    """Add a title banner across the top of a map, the one every map of the suite has.

    Parameters
    ----------
    m
        The map.
    title
        The heading, e.g. ``"示例甲县 · 15分钟阅读圈"`` (plain text; escaped here).
    subtitle
        One line or several under the heading (what is measured, the headline figure).
    synthetic
        Add the red "synthetic data, for demonstration only" line.
    lang
        Language of that line.
    source_note
        The data's source and date, in small grey type.
    notes
        Warnings shown with a ⚠ sign: strings or an
        :class:`accessibility.report.Notes` (its texts in ``lang``).

    Returns
    -------
    folium.Map
        ``m``, for chaining.
    """
    content = _title_html(
        title,
        subtitle,
        synthetic=synthetic,
        lang=lang,
        source_note=source_note,
        notes=_note_texts(notes, lang),
    )
    m.add_child(_TitleBox(content))
    return m


class _GroupControls(MacroElement):
    """The legend (bottom left) and, above it, the choice of group (radio buttons).

    Added after every group layer; the legend's text follows the group shown.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            {{ this.shared.get_name() }}.addControls({{ this.title }});
        {% endmacro %}
        """
    )

    def __init__(self, shared: _AccessLayers, choose_title: str) -> None:
        super().__init__()
        self._name = "GroupControls"
        self.shared = shared
        self.title = _js_json(html.escape(choose_title))


def _legend_title(
    group: str, *, lang: str, mode: str | None = None, limit: float | None = None
) -> tuple[str, str]:
    """The legend's two title lines for a group: ``图例 · 小学`` and
    ``出行时间 · 步行 · 标准 ≤ 15 分钟`` (mode and limit when known)."""
    first = f"{label('ui.legend', lang=lang)} · {group_label(group, lang=lang)}"
    parts = [label("ui.travel_time", lang=lang)]
    if mode:
        parts.append(label(f"mode.{mode}", lang=lang))
    if limit is not None:
        parts.append(
            f"{label('ui.limit', lang=lang)} ≤ {_fmt_minutes(limit)} {label('ui.minutes', lang=lang)}"
        )
    return first, " · ".join(parts)


def _legend_html(
    group: str,
    thresholds: np.ndarray,
    *,
    lang: str,
    any_far: bool,
    no_data: bool = False,
    any_cut_off: bool = False,
    mode: str | None = None,
    limit: float | None = None,
    lines: Sequence[tuple[str, str]] = (),
) -> str:
    """The legend of one group: its title, its classes in their colours, and every other
    symbol its layer draws (each swatch drawn like the marker: fill and ring), then the
    context ``lines`` (``(css border, text)``: boundary, roads)."""

    def row(swatch_style: str, text: str, kind: str = "") -> str:
        cls = f' class="{kind}"' if kind else ""
        return f'<div><i{cls} style="{swatch_style}"></i>{html.escape(text)}</div>'

    first, second = _legend_title(group, lang=lang, mode=mode, limit=limit)
    parts = [
        f'<div class="acc-lt">{html.escape(first)}</div>',
        f'<div class="acc-lg">{html.escape(second)}</div>',
    ]
    ring = "border:1px solid #ffffff"
    if no_data:
        parts.append(row(f"background:{NO_DATA_COLOUR};{ring}", no_data_text([group], lang=lang)))
    else:
        colours = time_class_colours(list(thresholds))
        for colour, text in zip(colours, class_labels(list(thresholds), lang=lang)):
            parts.append(row(f"background:{colour};{ring}", text))
        parts.append(
            row(f"background:{UNREACHABLE_COLOUR};{ring}", label("ui.unreachable", lang=lang))
        )
    parts.append(
        row(
            f"background:{FACILITY_COLOUR};border:2px solid #ffffff;"
            f"box-shadow:0 0 0 1px {FACILITY_COLOUR}",
            label("ui.facilities", lang=lang),
        )
    )
    if any_far:
        parts.append(
            row(
                "background:#dddddd;border:1.5px dashed #000000",
                label("ui.far_from_road", lang=lang),
            )
        )
    if any_cut_off:
        parts.append(
            row(
                f"background:#dddddd;border:1.5px dotted {CUT_OFF_COLOUR}",
                label("ui.road_cut_off", lang=lang),
            )
        )
    for border, text in lines:
        parts.append(row(f"border-top:{border}", text, "acc-line"))
    parts.append(
        f'<div class="acc-note">{html.escape(label("ui.size_by_population", lang=lang))}</div>'
    )
    return "".join(parts)


def no_data_text(groups: Sequence[str], *, lang: str = "zh") -> str:
    """Legend text for groups without data: ``无数据（数据中无此类设施）：高中、阅读场所``."""
    sep, colon = ("、", "：") if lang == "zh" else (", ", ": ")
    head = f"{label('ui.no_data', lang=lang)} ({label('ui.no_data_note', lang=lang)})"
    if lang == "zh":
        head = f"{label('ui.no_data', lang=lang)}（{label('ui.no_data_note', lang=lang)}）"
    names = sep.join(group_label(g, lang=lang) for g in groups)
    return f"{head}{colon}{names}" if names else head


def _title_html(
    title: str,
    subtitle: str | Sequence[str] | None,
    *,
    synthetic: bool,
    lang: str,
    source_note: str | None = None,
    notes: Sequence[str] = (),
) -> str:
    parts = [f'<div class="acc-h">{html.escape(title)}</div>']
    lines = [subtitle] if isinstance(subtitle, str) else list(subtitle or [])
    parts += [f'<div class="acc-sub">{html.escape(str(line))}</div>' for line in lines if line]
    if source_note:
        parts.append(f'<div class="acc-src">{html.escape(source_note)}</div>')
    if synthetic:
        parts.append(
            f'<div class="acc-syn">{html.escape(label("ui.synthetic_notice", lang=lang))}</div>'
        )
    for note in notes:
        parts.append(f'<div class="acc-warn">⚠ {html.escape(str(note))}</div>')
    return "".join(parts)


def _note_texts(notes: Any, lang: str) -> list[str]:
    """Texts of ``notes``: a :class:`accessibility.report.Notes` (in ``lang``) or strings."""
    if notes is None:
        return []
    if hasattr(notes, "texts"):
        return list(notes.texts(lang))
    if isinstance(notes, str):
        return [notes]
    return [str(n) for n in notes]
