"""The supply-and-demand index on the map: villages coloured by beds, doctors or seats within reach.

Design
------
In:  a :class:`~accessibility.supply.SupplyIndex` and the origins it was computed for
     (WGS-84 points, ``name``), and a folium map (e.g. from
     :func:`accessibility.maps.access_map`).
Out: one folium layer per index (:func:`index_layer`), off until ticked, listed in the
     map's layer control, with a legend box of its own in natural units
     (每千人床位, 每名学龄儿童学位): a class per range of positive values, a colour
     for a real 0 (no facility within reach) and a grey ring for no data (population
     unknown). Its note says how much of the supply was defaulted and the confidence
     that leaves, and that school-age children are an estimate.
How: classes are quantiles of the positive values rounded to two significant
     digits (:func:`classes`); every drawn colour is in the legend. A group with no
     facility in the data draws nothing and adds no layer (the notebook's notes say
     why). Plain circle markers: the map stays self-contained.
Tests: ``tests/test_supply_map.py`` — classes, colours drawn against the legend,
     the no-data ring, no layer without facilities, escaping of names.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

import folium
import numpy as np
import pandas as pd

from .labels import group_label, label
from .policies import _overlays
from .supply import STATUS_NO_FACILITY, STATUS_NONE_IN_REACH, STATUS_POPULATION_UNKNOWN, SupplyIndex

#: Colours of the positive classes, low to high (purples: never a travel-time colour).
CLASS_COLOURS: tuple[str, ...] = ("#dadaeb", "#9e9ac8", "#756bb1", "#54278f")
#: A real zero: no facility within reach.
ZERO_COLOUR = "#e6550d"
#: No data (population unknown): a grey ring.
NO_DATA_COLOUR = "#969696"


def _nice(value: float) -> float:
    """``value`` rounded to two significant digits."""
    if value <= 0 or not np.isfinite(value):
        return value
    digits = 1 - math.floor(math.log10(value))
    return round(value, digits)


def classes(values: Sequence[float] | np.ndarray, n: int = len(CLASS_COLOURS)) -> list[float]:
    """Upper bounds of up to ``n`` classes of the positive values (quantiles, rounded).

    The last bound is the largest value itself, so every positive value falls in a
    class; repeated bounds after rounding are merged. Empty for no positive value.
    """
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x) & (x > 0)]
    if x.size == 0:
        return []
    qs = [_nice(float(np.quantile(x, q))) for q in np.linspace(0, 1, n + 1)[1:-1]]
    bounds = sorted({b for b in qs if 0 < b < x.max()})
    return [*bounds, float(x.max())]


def _fmt(value: float) -> str:
    return f"{value:,.2f}".rstrip("0").rstrip(".") if value < 100 else f"{value:,.0f}"


def class_texts(bounds: Sequence[float], unit: str) -> list[str]:
    """Legend text per class: ``"0–2.3 床/千人"``, ``"2.3–4.1 床/千人"``… (upper bound closed)."""
    lows = [0.0, *bounds[:-1]]
    return [f"{_fmt(a)}–{_fmt(b)} {unit}" for a, b in zip(lows, bounds)]


def layer_name(result: SupplyIndex, *, lang: str = "zh") -> str:
    """The layer's name: group, unit, method, mode and catchment."""
    meta = result.meta
    mode = label(f"mode.{meta['mode']}", lang=lang) if meta.get("mode") else ""
    return label("supply_map.layer", lang=lang).format(
        group=group_label(meta["group"], lang=lang),
        unit=label(f"supply_unit.{meta['measure']}", lang=lang),
        method=meta["method"],
        mode=mode,
        catchment=f"{meta['catchment_min']:g}",
    )


def legend_note(result: SupplyIndex, *, lang: str = "zh") -> str:
    """How much of the supply is defaulted, the confidence, and that children are estimated."""
    row = result.summary.iloc[0]
    share = row["defaulted_share"]
    text = label("supply_map.defaulted", lang=lang).format(
        share=f"{share:.0%}" if np.isfinite(share) else "—",
        confidence=label(f"supply_confidence.{row['confidence']}", lang=lang),
    )
    if result.meta.get("share", 1.0) < 1.0:
        text += ("；" if lang == "zh" else "; ") + label("supply_map.children_estimate", lang=lang)
    return text


def index_layer(
    result: SupplyIndex,
    places: pd.DataFrame,
    *,
    lang: str = "zh",
    show: bool = False,
) -> folium.FeatureGroup | None:
    """A map layer of the villages coloured by the index, with its legend; ``None`` with no facility.

    Parameters
    ----------
    result
        From :func:`accessibility.supply.index` (or ``health``/``schools``).
    places
        The origins (WGS-84 points, index = the result's origin ids; ``name`` used in
        tooltips).
    lang
        ``"zh"`` or ``"en"``.
    show
        Whether the layer is on when the map opens (off by default: the map's own
        travel-time layers come first).
    """
    o = result.origins
    if len(o) and (o["status"] == STATUS_NO_FACILITY).all():
        return None
    measure = result.meta["measure"]
    unit = label(f"supply_unit_short.{measure}", lang=lang)
    name = layer_name(result, lang=lang)
    layer = folium.FeatureGroup(name=name, show=show)
    value = o["index"].to_numpy(dtype=float)
    bounds = classes(value)
    texts = class_texts(bounds, unit)
    pts = places.geometry.reindex(o.index)
    names = (
        places["name"].reindex(o.index) if "name" in places.columns else pd.Series(index=o.index)
    )
    drawn: set[int] = set()
    zero = nodata = False
    for oid, v, status, reached, geom, nm in zip(
        o.index, value, o["status"], o["reached"], pts, names
    ):
        if geom is None or geom.is_empty:
            continue
        title = html.escape(str(nm) if isinstance(nm, str) and nm else str(oid))
        if status == STATUS_POPULATION_UNKNOWN or not np.isfinite(v):
            colour, fill = NO_DATA_COLOUR, False
            what = label(f"supply_status.{status}", lang=lang)
            nodata = True
        elif status == STATUS_NONE_IN_REACH or v <= 0:
            colour, fill = ZERO_COLOUR, True
            what = (
                f"0 {unit}"
                if status != STATUS_NONE_IN_REACH
                else label("supply_map.zero", lang=lang)
            )
            zero = True
        else:
            k = int(np.searchsorted(np.asarray(bounds), v, side="left"))
            k = min(k, len(bounds) - 1)
            colour, fill = CLASS_COLOURS[k], True
            what = f"{_fmt(v)} {unit}"
            drawn.add(k)
        tip = "<br>".join(
            [
                title,
                html.escape(what),
                html.escape(label("supply_map.reached", lang=lang).format(n=int(reached))),
            ]
        )
        folium.CircleMarker(
            location=(geom.y, geom.x),
            radius=5,
            color="#333333" if fill else colour,
            weight=1 if fill else 2,
            fill=fill,
            fill_color=colour,
            fill_opacity=0.9 if fill else 0.0,
            tooltip=tip,
        ).add_to(layer)
    rows: list[tuple[str, str, str]] = []
    if zero:
        rows.append(("dot", ZERO_COLOUR, label("supply_map.zero", lang=lang)))
    rows += [("dot", CLASS_COLOURS[k], texts[k]) for k in sorted(drawn)]
    if nodata:
        rows.append(("ring", NO_DATA_COLOUR, label("supply_map.no_data", lang=lang)))
    layer.add_child(_overlays.LayerLegend(name, rows, note=legend_note(result, lang=lang)))
    return layer


def add_index_layers(
    m: folium.Map,
    results: Sequence[SupplyIndex],
    places: pd.DataFrame,
    *,
    lang: str = "zh",
) -> folium.Map:
    """Add :func:`index_layer` of each result to ``m`` (before its layer control); return the map.

    A result whose group has no facility in the data adds nothing.
    """
    for result in results:
        layer = index_layer(result, places, lang=lang)
        if layer is not None:
            _overlays.add_overlay(m, layer)
    return m
