"""The supply index on the map: classes, legend against what is drawn, no data, no facility."""

from __future__ import annotations

import folium
import numpy as np
import pandas as pd
import pytest

from accessibility import supply, supply_map
from accessibility.policies import _overlays

from .conftest import make_points


def result(
    values, statuses, *, measure="beds", share=1.0, defaulted=(False, True)
) -> supply.SupplyIndex:
    ids = [f"v{i}" for i in range(len(values))]
    origins = pd.DataFrame(
        {"index": values, "status": statuses, "reached": [1] * len(values), "population": 100.0},
        index=ids,
    )
    fac = pd.DataFrame(
        {"supply": [30.0, 10.0], "defaulted": list(defaulted), "demand": [1.0, 1.0]},
        index=["a", "b"],
    )
    res = supply.SupplyIndex(
        origins=origins,
        facilities=fac,
        summary=pd.DataFrame(),
        meta={
            "group": "health" if measure != "seats" else "school:primary",
            "measure": measure,
            "method": "2SFCA",
            "mode": "ebike",
            "catchment_min": 30.0,
            "share": share,
            "unit": supply.UNITS[measure],
        },
    )
    res.summary = supply.summarise(res)
    return res


def places(n: int, names=None) -> pd.DataFrame:
    pts = make_points({f"v{i}": (100.0 * i, 0.0) for i in range(n)})
    pts["name"] = names or [f"村{i}" for i in range(n)]
    return pts


def test_classes_are_rounded_quantiles_ending_at_the_maximum() -> None:
    values = [0.0, np.nan, 1.234, 2.0, 3.456, 7.891, 12.5]
    bounds = supply_map.classes(values)
    assert bounds[-1] == 12.5
    assert bounds == sorted(bounds) and len(set(bounds)) == len(bounds)
    positive = np.array([1.234, 2.0, 3.456, 7.891, 12.5])
    for b in bounds[:-1]:  # two significant digits, within the values' range
        assert b == float(f"{b:.2g}") and positive.min() <= b < positive.max()
    assert supply_map.classes([0.0, np.nan]) == []
    assert supply_map.class_texts([2.0, 4.5], "床/千人") == ["0–2 床/千人", "2–4.5 床/千人"]


def test_legend_explains_every_drawn_colour_and_says_what_is_defaulted() -> None:
    res = result(
        [0.0, 1.0, 2.0, 5.0, np.nan], ["none_in_reach", "ok", "ok", "ok", "population_unknown"]
    )
    layer = supply_map.index_layer(res, places(5), lang="zh")
    legend = next(c for c in layer._children.values() if isinstance(c, _overlays.LayerLegend))
    drawn = {c.lower() for c in _overlays.drawn_colours(layer)}
    assert drawn <= legend.colours
    assert supply_map.ZERO_COLOUR in drawn and supply_map.NO_DATA_COLOUR in drawn
    texts = [t for _, _, t in legend.rows]
    assert any("可达范围内无设施" in t for t in texts)
    assert any("无数据" in t for t in texts)
    assert any("床/千人" in t for t in texts)
    # 10 of the 40 beds are defaulted: 25 %, confidence medium (中)
    assert "25%" in legend.content and "中" in legend.content
    assert "每千人床位" in legend.title and "2SFCA" in legend.title


def test_seats_say_children_are_estimated() -> None:
    res = result([0.5, 1.5], ["ok", "ok"], measure="seats", share=0.08)
    layer = supply_map.index_layer(res, places(2), lang="en")
    legend = next(c for c in layer._children.values() if isinstance(c, _overlays.LayerLegend))
    assert "seats per school-age child" in legend.title
    assert "estimated" in legend.content


def test_no_facility_draws_no_layer() -> None:
    res = result([np.nan, np.nan], ["no_facility", "no_facility"])
    assert supply_map.index_layer(res, places(2)) is None
    m = folium.Map()
    before = len(m._children)
    supply_map.add_index_layers(m, [res], places(2))
    assert len(m._children) == before


def test_names_are_escaped_in_tooltips() -> None:
    res = result([1.0, 2.0], ["ok", "ok"])
    layer = supply_map.index_layer(res, places(2, names=["<b>x</b>", "乙村"]))
    m = folium.Map()
    layer.add_to(m)
    page = m.get_root().render()
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page
    assert "乙村" in page


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_layer_added_before_the_layer_control(lang: str) -> None:
    m = folium.Map()
    folium.LayerControl().add_to(m)
    res = result([1.0, 2.0], ["ok", "ok"])
    supply_map.add_index_layers(m, [res], places(2), lang=lang)
    kinds = [type(c).__name__ for c in m._children.values()]
    assert kinds.index("FeatureGroup") < kinds.index("LayerControl")
