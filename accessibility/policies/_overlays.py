"""Overlays of the policy maps: a layer with a legend of its own, and the symbols both share.

Design
------
In:  a :class:`folium.FeatureGroup` a policy module fills with its symbols, and the
     rows of its legend: ``(shape, colour, text)``.
Out: :class:`LayerLegend`, a small legend box (bottom right) that is shown while
     its layer is on the map and hidden when the layer is unticked, so that every
     symbol drawn is explained next to it; :func:`marker_icon`, square, diamond and
     cross markers drawn in plain HTML (no image, no CDN: the map stays
     self-contained); :func:`add_overlay`, which inserts a layer before the map's
     layer control so the control lists it; :func:`drawn_colours`, the fill and
     line colours a layer draws (what its legend must explain).

Shapes (the same drawing on the map and in the legend): ``dot`` (filled circle),
``ring`` (circle outline), ``square``, ``hollow_square`` (white square, coloured
border), ``diamond``, ``cross`` (✕), ``line``, ``dashed_line`` and ``area``
(semi-transparent fill).

Tests: through the layers of ``tests/test_school_tiers.py``,
``tests/test_reading_circle.py`` and ``tests/test_services.py``.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from typing import Any, Final

import folium
from branca.element import MacroElement
from folium.template import Template

from .._errors import ValidationError

__all__ = ["SHAPES", "LayerLegend", "add_overlay", "drawn_colours", "marker_icon", "swatch"]

#: Shapes a legend row (and a marker) can have.
SHAPES: Final[tuple[str, ...]] = (
    "dot",
    "ring",
    "square",
    "hollow_square",
    "diamond",
    "cross",
    "line",
    "dashed_line",
    "area",
)
_FONT: Final[str] = "'Helvetica Neue',Arial,'PingFang SC','Microsoft YaHei',sans-serif"
_BOX: Final[str] = (
    "padding:5px 9px;font-size:12px;line-height:17px;background:rgba(255,255,255,0.93);"
    f"border-radius:4px;box-shadow:0 1px 4px rgba(0,0,0,0.3);font-family:{_FONT};max-width:320px"
)
_COLOUR = re.compile(r"#[0-9a-fA-F]{6}\b")


def _check_shape(shape: str) -> None:
    if shape not in SHAPES:
        msg = f"unknown legend shape {shape!r}; use one of {', '.join(SHAPES)}"
        raise ValidationError(msg)


def _shape_style(shape: str, colour: str, size: int) -> str:
    """Inline CSS of a shape of ``size`` pixels filled or drawn in ``colour``."""
    box = f"display:inline-block;box-sizing:border-box;width:{size}px;height:{size}px;"
    if shape == "dot":
        return (
            box
            + f"border-radius:50%;background:{colour};border:1px solid #ffffff;box-shadow:0 0 0 1px #555"
        )
    if shape == "ring":
        return box + f"border-radius:50%;background:transparent;border:2.5px solid {colour}"
    if shape == "square":
        return box + f"background:{colour};border:1.5px solid #222222"
    if shape == "hollow_square":
        return box + f"background:#ffffff;border:2.5px solid {colour}"
    if shape == "diamond":
        return box + f"background:{colour};border:1.5px solid #222222;transform:rotate(45deg)"
    if shape == "cross":
        return (
            f"display:inline-block;width:{size}px;height:{size}px;line-height:{size}px;"
            f"text-align:center;font-weight:700;font-size:{size}px;color:{colour};"
            "text-shadow:0 0 2px #ffffff,0 0 2px #ffffff"
        )
    if shape in ("line", "dashed_line"):
        kind = "dashed" if shape == "dashed_line" else "solid"
        return f"display:inline-block;width:{size + 6}px;height:0;border-top:2.5px {kind} {colour}"
    return box + f"background:{colour};opacity:0.55;border:1px solid {colour}"  # area


def swatch(shape: str, colour: str, *, size: int = 12) -> str:
    """HTML of one symbol: the legend swatch, or a marker's drawing (see :func:`marker_icon`)."""
    _check_shape(shape)
    text = "✕" if shape == "cross" else ""
    return f'<i style="{_shape_style(shape, colour, size)}">{text}</i>'


def marker_icon(shape: str, colour: str, *, size: int = 12) -> folium.DivIcon:
    """A map marker drawn in HTML (square, diamond, cross...), centred on its point."""
    _check_shape(shape)
    style = _shape_style(shape, colour, size).replace("display:inline-block", "display:block")
    return folium.DivIcon(
        html=f'<div style="{style}">{"✕" if shape == "cross" else ""}</div>',
        icon_size=(size, size),
        icon_anchor=(size // 2, size // 2),
        class_name="acc-mark",  # not Leaflet's default white box
    )


class LayerLegend(MacroElement):
    """A legend box for one overlay, shown while the overlay is on the map.

    Add it as a child of the :class:`folium.FeatureGroup` it explains. ``rows`` are
    ``(shape, colour, text)``; ``title`` is the layer's name. Everything is escaped.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            (function (group) {
                var box = L.control({position: "bottomright"});
                box.onAdd = function () {
                    var div = L.DomUtil.create("div", "acc-layer-legend");
                    div.innerHTML = {{ this.content }};
                    L.DomEvent.disableClickPropagation(div);
                    L.DomEvent.disableScrollPropagation(div);
                    return div;
                };
                group.on("add", function () { box.addTo(this._map); });
                group.on("remove", function () { box.remove(); });
            })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, title: str, rows: Sequence[tuple[str, str, str]], *, note: str = "") -> None:
        super().__init__()
        self._name = "LayerLegend"
        for shape, _, _ in rows:
            _check_shape(shape)
        self.title = title
        self.rows = [(str(s), str(c), str(t)) for s, c, t in rows]
        parts = [f'<div style="font-weight:600;margin-bottom:2px">{html.escape(title)}</div>']
        for shape, colour, text in self.rows:
            parts.append(
                '<div style="display:flex;align-items:center">'
                '<span style="flex:none;width:20px;text-align:center;line-height:0">'
                f"{swatch(shape, colour, size=11)}</span><span>{html.escape(text)}</span></div>"
            )
        if note:
            parts.append(f'<div style="color:#555;font-size:11px">{html.escape(note)}</div>')
        content = f'<div style="{_BOX}">{"".join(parts)}</div>'
        self.content = json.dumps(content, ensure_ascii=False).replace("</", "<\\/")

    @property
    def colours(self) -> set[str]:
        """The colours the legend explains (lower case ``#rrggbb``)."""
        return {c.lower() for _, c, _ in self.rows}


def add_overlay(m: folium.Map, layer: folium.FeatureGroup) -> folium.Map:
    """Add ``layer`` to ``m`` before its layer control (if any), so the control lists it."""
    children = list(m._children.values())
    position = next(
        (i for i, child in enumerate(children) if isinstance(child, folium.LayerControl)), None
    )
    m.add_child(layer, index=position)
    return m


def drawn_colours(layer: folium.FeatureGroup) -> set[str]:
    """Fill colours of the markers and colours of the lines a layer draws (lower case).

    White and near-black outlines are not symbols of their own and are left out.
    """
    found: set[str] = set()

    def walk(element: Any) -> None:
        for child in element._children.values():
            if isinstance(child, folium.CircleMarker):
                opts = child.options
                if opts.get("fill") and opts.get("fillOpacity", 1) > 0:
                    found.add(str(opts.get("fillColor")))
                else:  # a ring: its outline is the symbol
                    found.add(str(opts.get("color")))
            elif isinstance(child, folium.PolyLine):
                found.add(str(child.options.get("color")))
            elif isinstance(child, folium.Marker):
                icon = next(
                    (c for c in child._children.values() if isinstance(c, folium.DivIcon)), None
                )
                if icon is not None:
                    found.update(
                        c
                        for c in _COLOUR.findall(str(icon.options.get("html", "")))
                        if c.lower() not in ("#ffffff", "#222222")
                    )
            walk(child)

    walk(layer)
    return {c.lower() for c in found if c and c != "None"}
