"""Township road links on the map: the seats (linked or not) and each seat's route by road class.

Design
------
In:  the :class:`ServiceCheck` of :func:`accessibility.policies.road_links.road_links`
     (its table, ``meta["routes"]`` and the rule it was stated under).
Out: two folium layers, each with its own legend box: the township seats
     (:func:`seats_layer`, a tooltip per seat from :func:`seat_tips`) and the routes
     of the worse direction piece by piece (:func:`routes_layer`: class roads in a
     colour per class, lower-class pieces thick, dashed and pink).
Tests: ``tests/test_road_links.py`` (layers, legends, tooltips) and the browser
     checks of the services map (every drawn colour is in a shown legend).
"""

from __future__ import annotations

import html

import folium
import numpy as np

from .._errors import ValidationError
from ..labels import label
from . import _overlays
from ._check import ServiceCheck
from .road_links import Tolerance, lower_pieces, road_class_rules

# --------------------------------------------------------------------------- map layers


#: Township seats on the map: linked under the stated rule, or not (large circles ringed
#: in black, in colours of their own: never the travel-time colours of the villages).
SEAT_STYLE: dict[bool, tuple[str, str]] = {True: ("dot", "#2c7bb6"), False: ("dot", "#c51b7d")}
#: Route pieces on roads of the class, by class (blues and purples, darker = better).
ROUTE_COLOURS: dict[str, str] = {
    "motorway": "#3f007d",
    "trunk": "#6a51a3",
    "primary": "#08519c",
    "secondary": "#4292c6",
    "tertiary": "#6baed6",
    "unclassified": "#9ecae1",
}
#: Route pieces below the class: thick dashed pink, whatever their class (said in the tooltip).
LOWER_COLOUR = "#e7298a"


def _class_text(name: str, lang: str) -> str:
    """An OSM class in words (``secondary`` → 次要道路（secondary）)."""
    base = dict(road_class_rules()["links"]).get(name, name)
    try:
        return label(f"services_road_class.{base}", lang=lang)
    except ValidationError:
        return name


def _direction_text(direction: str, lang: str) -> str:
    return label(f"road_links.{direction}", lang=lang) if direction else ""


def seat_tips(roads: ServiceCheck, *, lang: str = "zh") -> list[str]:
    """Tooltip of each township seat of :func:`road_links` (HTML, in table order).

    The seat's name; whether it is linked and why; the lower-class metres of its
    route (the worse direction) at each end and in between, with the first pieces
    by name; the direction that failed; the route's length and time beside the
    fastest time over any road; the strict rule's answer; the seat's distance to
    its road when long; the mode.
    """
    road_class = _class_text(roads.meta["osm_min_class"], lang)
    rule: Tolerance = roads.meta["rule"]
    mode = label(f"mode.{roads.meta['mode']}", lang=lang)
    pieces_of = lower_pieces(roads, lang=lang, first=3)
    out = []
    for seat_id, seat in roads.table.iterrows():
        name = seat["name"] if isinstance(seat["name"], str) and seat["name"] else None
        lines = [
            name or label("services_map.unnamed_seat", lang=lang),
            label(f"services_reason.{seat['reason']}", lang=lang),
            rule.text(lang),
        ]
        if seat["reason"] != "no_route":
            lines.append(
                label("services_map.lower", lang=lang).format(
                    road_class=road_class,
                    metres=f"{float(seat['lower_m']):,.0f}",
                    share=f"{float(seat['lower_share']):.1%}",
                    town=f"{float(seat['township_end_lower_m']):,.0f}",
                    county=f"{float(seat['county_seat_end_lower_m']):,.0f}",
                    middle=f"{float(seat['middle_lower_m']):,.0f}",
                )
            )
            if pieces_of[seat_id]:
                lines.append(pieces_of[seat_id])
            lines.append(
                label("services_map.route", lang=lang).format(
                    direction=_direction_text(seat["direction"], lang),
                    km=f"{float(seat['route_km']):.1f}",
                    minutes=f"{float(seat['route_min']):.0f}",
                )
            )
        if seat["failed_direction"]:
            lines.append(
                label("services_map.failed", lang=lang).format(
                    direction=label(f"road_links.failed_{seat['failed_direction']}", lang=lang)
                )
            )
        every = float(seat["time_all_min"])
        lines.append(
            label("services_map.time_all", lang=lang).format(minutes=f"{every:.0f}")
            if np.isfinite(every)
            else label("services_map.no_time_all", lang=lang)
        )
        lines.append(
            label(
                f"services_map.strict_{'yes' if seat['connected_strict'] else 'no'}", lang=lang
            ).format(road_class=road_class)
        )
        if float(seat["leg_m"]) > _far_m():
            lines.append(
                label("services_map.leg", lang=lang).format(metres=f"{float(seat['leg_m']):,.0f}")
            )
        lines.append(label("services_map.mode", lang=lang).format(mode=mode))
        escaped = [html.escape(str(x)) for x in lines]
        out.append("<br>".join([f"<b>{escaped[0]}</b>", *escaped[1:]]))
    return out


def _far_m() -> float:
    """Metres beyond which a seat's straight leg to its road is worth saying (the snap limit)."""
    from ..settings import settings

    return float(settings.max_snap_m)


def _check_roads(roads: ServiceCheck, what: str) -> None:
    if roads.claim != "township_links":
        msg = f"{what} draws the result of road_links(), got the {roads.claim!r} check"
        raise ValidationError(msg)


def seats_layer(roads: ServiceCheck, *, lang: str = "zh") -> folium.FeatureGroup:
    """A map layer of the township seats, linked to the county seat under the stated rule or not.

    Seats are large black-ringed circles, blue when linked and magenta when not
    (colours of their own, never a travel-time class), with a legend box of the
    layer (shown while it is ticked) and a tooltip per seat (:func:`seat_tips`).
    Add it to a map with :func:`add_seats_layer`; it draws plain HTML markers, so
    the map stays self-contained.
    """
    _check_roads(roads, "seats_layer")
    road_class = _class_text(roads.meta["osm_min_class"], lang)
    name = label("services_map.layer", lang=lang).format(road_class=road_class)
    layer = folium.FeatureGroup(name=name, show=True)
    linked = roads.table["connected"].astype(bool).to_numpy()
    for (_, seat), ok, tip in zip(roads.table.iterrows(), linked, seat_tips(roads, lang=lang)):
        folium.CircleMarker(
            location=(seat.geometry.y, seat.geometry.x),
            radius=8,
            color="#000000",
            weight=2,
            fill=True,
            fill_color=SEAT_STYLE[bool(ok)][1],
            fill_opacity=1.0,
            tooltip=tip,
        ).add_to(layer)
    rows = [
        (
            *SEAT_STYLE[ok],
            label(f"services_map.{key}", lang=lang).format(
                road_class=road_class, n=int((linked == ok).sum())
            ),
        )
        for ok, key in ((True, "connected"), (False, "not_connected"))
        if (linked == ok).any()
    ]
    layer.add_child(_overlays.LayerLegend(name, rows, note=roads.meta["rule"].text(lang)))
    return layer


def routes_layer(roads: ServiceCheck, *, lang: str = "zh") -> folium.FeatureGroup:
    """A map layer of each township seat's route to the county seat, coloured by road class.

    The direction the table reports (the worse one) is drawn piece by piece: pieces
    on roads of the class in a colour per class (:data:`ROUTE_COLOURS`), pieces
    below it thick and dashed in :data:`LOWER_COLOUR`, each with a tooltip (seat,
    direction, road name, class, metres). The legend lists the classes drawn.
    """
    _check_roads(roads, "routes_layer")
    road_class = _class_text(roads.meta["osm_min_class"], lang)
    name = label("services_map.routes_layer", lang=lang).format(road_class=road_class)
    layer = folium.FeatureGroup(name=name, show=True)
    routes = roads.meta["routes"]
    shown = routes.loc[routes["worse"].astype(bool)] if len(routes) else routes
    base = dict(road_class_rules()["links"])
    drawn: dict[str, str] = {}
    lower_drawn = False
    for lower_pass in (False, True):  # lower-class pieces on top
        for _, piece in shown.loc[shown["lower"].astype(bool) == lower_pass].iterrows():
            cls = base.get(str(piece["highway"]), str(piece["highway"]))
            seat = piece["name"] if isinstance(piece["name"], str) and piece["name"] else None
            tip = "<br>".join(
                html.escape(x)
                for x in (
                    seat or label("services_map.unnamed_seat", lang=lang),
                    _direction_text(str(piece["direction"]), lang),
                    str(piece["road"]) or label("services_map.unnamed_road", lang=lang),
                    _class_text(cls, lang),
                    label("services_map.piece_m", lang=lang).format(
                        metres=f"{float(piece['length_m']):,.0f}"
                    ),
                )
            )
            coords = [(y, x) for x, y in piece.geometry.coords]
            if lower_pass:
                colour, weight, dash = LOWER_COLOUR, 6, "8 6"
                lower_drawn = True
            else:
                colour, weight, dash = ROUTE_COLOURS.get(cls, "#4292c6"), 4, None
                drawn[cls] = colour
            folium.PolyLine(
                coords, color=colour, weight=weight, opacity=0.9, dash_array=dash, tooltip=tip
            ).add_to(layer)
    rank = list(road_class_rules()["rank"])
    rows = [
        ("line", colour, _class_text(cls, lang))
        for cls, colour in sorted(
            drawn.items(), key=lambda kv: rank.index(kv[0]) if kv[0] in rank else 99
        )
    ]
    if lower_drawn:
        rows.append(
            (
                "dashed_line",
                LOWER_COLOUR,
                label("services_map.lower_piece", lang=lang).format(road_class=road_class),
            )
        )
    layer.add_child(_overlays.LayerLegend(name, rows))
    return layer


def add_seats_layer(m: folium.Map, roads: ServiceCheck | None, *, lang: str = "zh") -> folium.Map:
    """Add :func:`seats_layer` to a map, listed in its layer control; return the map.

    The layer is inserted before the map's layer control (if any), so that the
    control, which lists the layers present before it, offers it too. ``roads=None``
    (the road links were skipped) leaves the map as it is.
    """
    if roads is None:
        return m
    return _overlays.add_overlay(m, seats_layer(roads, lang=lang))


def add_routes_layer(m: folium.Map, roads: ServiceCheck | None, *, lang: str = "zh") -> folium.Map:
    """Add :func:`routes_layer` to a map (before its layer control); ``roads=None`` adds nothing."""
    if roads is None:
        return m
    return _overlays.add_overlay(m, routes_layer(roads, lang=lang))
