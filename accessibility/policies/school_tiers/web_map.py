"""The school-tier overlays of the Folium map: school verdicts, boarding candidates, closures.

In:  a :class:`~.placement.Compliance`, a :class:`~.access.TierAccess`, optionally a
     :class:`~.scenario.Scenario`, and a map from :func:`accessibility.maps.access_map`.
Out: checkbox layers, each with its own legend (:func:`add_layers`), the verdict of
     each school (:func:`school_states`) and the styles of the overlays.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any, Final

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from ... import classify
from ..._errors import ValidationError
from ...labels import label
from .. import _overlays
from .access import TierAccess
from .placement import Compliance
from .rules import NONE, TIERS, UNKNOWN_TIER, _level_label
from .scenario import Scenario

# =========================================================================== map overlays
#: Verdict of one school against its tier's rule, as drawn on the map.
SCHOOL_STATES: Final[tuple[str, ...]] = ("complies", "breaks", "cannot_tell")
#: Reasons that say the data do not suffice to judge (fix the places, radii or
#: tiers), rather than that the school breaks its rule.
UNDECIDED_REASONS: Final[tuple[str, ...]] = ("no_settlement", "population_unknown", "tier_unknown")
#: Marker shape and colour of each verdict (squares: schools; no travel-time colour).
STATE_STYLE: Final[dict[str, tuple[str, str]]] = {
    "complies": ("square", "#2c7bb6"),
    "breaks": ("square", "#c51b7d"),
    "cannot_tell": ("hollow_square", "#6d6d6d"),
}
#: Ring colour of boarding candidates, per tier.
BOARDING_COLOURS: Final[dict[str, str]] = {
    "primary": "#542788",
    "middle": "#8c510a",
    "high": "#01665e",
}
#: Boarding schools (diamonds) and the lines from their candidate villages.
BOARDING_SCHOOL_COLOUR: Final[str] = "#fee08b"
BOARDING_LINK_COLOUR: Final[str] = "#4d4d4d"
#: Classes of minutes added by a closure (limits, minutes) and their colours, then
#: the colour of a village left with no school within reach.
ADDED_MIN_LIMITS: Final[tuple[float, ...]] = (10.0, 30.0)
ADDED_MIN_COLOURS: Final[tuple[str, ...]] = ("#c6dbef", "#6baed6", "#08519c")
LOST_ACCESS_COLOUR: Final[str] = "#252525"
CLOSED_COLOUR: Final[str] = "#b2182b"


def school_states(checks: Compliance) -> pd.Series:
    """Each school's verdict against its tier's rule: ``complies``, ``breaks`` or ``cannot_tell``.

    A school *breaks* the rule when one tier it serves sits in a settlement the rule
    does not allow (``level_not_allowed``, ``too_small``, ``too_large``); otherwise it
    is *cannot tell* when a tier could not be judged for want of data (one of
    :data:`UNDECIDED_REASONS`: no settlement within the radii, a settlement of
    unknown population, a school of unknown tier); otherwise it *complies*.

    Returns
    -------
    pandas.Series
        Index = school id (as ``checks.schools``), values from :data:`SCHOOL_STATES`.
    """
    reasons = checks.by_tier["reason"]
    ids = reasons.index.get_level_values(0)
    broken = reasons.ne("") & ~reasons.isin(UNDECIDED_REASONS)
    undecided = reasons.isin(UNDECIDED_REASONS)
    out = pd.Series("complies", index=checks.schools.index, dtype=object)
    out.loc[pd.Index(ids[undecided.to_numpy()]).unique()] = "cannot_tell"
    out.loc[pd.Index(ids[broken.to_numpy()]).unique()] = "breaks"
    return out


def _name_or(value: Any, fallback_key: str, lang: str) -> str:
    """A place's or school's name, or a readable stand-in (never an internal id)."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    return label(fallback_key, lang=lang)


def _minutes_text(value: float) -> str:
    return f"{value:.0f}" if np.isfinite(value) else "∞"


def _tier_text(tier: str, lang: str) -> str:
    return label(f"schools_tier_short.{tier}", lang=lang)


def _tip(lines: Sequence[str]) -> str:
    """Tooltip HTML: the first line in bold, every line escaped."""
    first, *rest = [html.escape(str(x)) for x in lines]
    return "<br>".join([f"<b>{first}</b>", *rest])


def compliance_layer(
    checks: Compliance, *, lang: str = "zh", show: bool = True
) -> folium.FeatureGroup:
    """Schools as squares coloured by their verdict (:func:`school_states`), reasons in the tooltip.

    The tooltip gives the school's name, the settlement it sits in and, per tier it
    serves, whether it complies and why not (``checks``' notes, in ``checks.lang``,
    which must be ``lang``). The layer carries its own legend with the count of each
    verdict.
    """
    if checks.lang != lang:
        msg = f"the compliance check was made with lang={checks.lang!r}; call compliance(..., lang={lang!r}) for a {lang} map"
        raise ValidationError(msg)
    states = school_states(checks)
    name = label("schools_map.compliance_layer", lang=lang)
    layer = folium.FeatureGroup(name=name, show=show)
    schools = checks.schools
    names = schools["name"] if "name" in schools.columns else pd.Series(None, index=schools.index)
    colon = "：" if lang == "zh" else ": "
    for fid, state in states.items():
        geom = schools.geometry.loc[fid]
        if geom is None or geom.is_empty:
            continue
        school = _name_or(names.loc[fid], "schools_map.unnamed_school", lang)
        level = str(schools.loc[fid, "level"])
        where = (
            label("schools_map.in_no_settlement", lang=lang)
            if level == NONE
            else label("schools_map.in_settlement", lang=lang).format(
                settlement=_name_or(schools.loc[fid, "settlement"], f"level.{level}", lang),
                level=_level_label(level, lang),
            )
        )
        lines = [school, where]
        rows = checks.by_tier.xs(fid, level=0)
        for tier, row in rows.iterrows():
            reason = str(row["reason"])
            verdict = (
                "tip_complies"
                if not reason
                else ("tip_cannot_tell" if reason in UNDECIDED_REASONS else "tip_breaks")
            )
            text = label(f"schools_map.{verdict}", lang=lang)
            head = (
                label("schools_ui.title", lang=lang)
                if tier == UNKNOWN_TIER
                else _tier_text(str(tier), lang)
            )
            lines.append(f"{head}{colon}{text}" + (f"{colon}{row['note']}" if row["note"] else ""))
        shape, colour = STATE_STYLE[state]
        folium.Marker(
            location=(geom.y, geom.x),
            icon=_overlays.marker_icon(shape, colour, size=12),
            tooltip=_tip(lines),
        ).add_to(layer)
    counts = states.value_counts()
    rows_legend = [
        (*STATE_STYLE[s], label(f"schools_map.{s}", lang=lang).format(n=int(counts.get(s, 0))))
        for s in SCHOOL_STATES
        if counts.get(s, 0) or s != "cannot_tell"
    ]
    layer.add_child(_overlays.LayerLegend(name, rows_legend))
    return layer


def _village_points(access: TierAccess) -> gpd.GeoSeries:
    return access.villages.geometry


def boarding_layer(
    access: TierAccess, *, lang: str = "zh", show: bool = False
) -> folium.FeatureGroup:
    """Boarding candidates (rings, one colour per tier) joined by a line to the school that would board them.

    Boarding schools are diamonds whose tooltip gives their intake (villages and
    children per tier). A candidate with no school of its tier in a township or
    county seat gets no line, and its tooltip says so.
    """
    name = label("schools_map.boarding_layer", lang=lang)
    layer = folium.FeatureGroup(name=name, show=show)
    board = access.boarding
    villages = access.villages
    points = _village_points(access)
    levels = (
        villages["level"] if "level" in villages.columns else pd.Series("", index=villages.index)
    )
    school_points = (
        pd.concat([s.facilities.geometry for s in access.studies.values()]).groupby(level=0).first()
    )
    legend: list[tuple[str, str, str]] = []
    tiers_here = [t for t in access.tiers if t in set(board.index.get_level_values("tier"))]
    for tier in tiers_here:
        part = board.xs(tier, level="tier")
        rule = access.rules.tier(tier)
        colour = BOARDING_COLOURS[tier]
        radius = 8 + 3 * TIERS.index(tier)
        for vid, row in part.iterrows():
            geom = points.loc[vid]
            level = str(levels.loc[vid])
            head = _name_or(row["name"], "schools_map.unnamed_village", lang)
            if level in classify.LEVELS:
                head += (
                    f"（{_level_label(level, lang)}）"
                    if lang == "zh"
                    else f" ({_level_label(level, lang)})"
                )
            lines = [
                head,
                label("schools_map.tip_beyond", lang=lang).format(
                    tier=_tier_text(tier, lang),
                    mode=label(f"mode.{rule.mode}", lang=lang),
                    minutes=_minutes_text(float(row["time_min"])),
                    limit=f"{rule.limit_min:g}",
                ),
                label("schools_map.tip_nearest", lang=lang).format(
                    school=_name_or(row["nearest_school_name"], "schools_map.unnamed_school", lang)
                ),
            ]
            has_school = isinstance(row["boarding_school"], str) or pd.notna(row["boarding_school"])
            if has_school:
                lines.append(
                    label("schools_map.tip_boarding", lang=lang).format(
                        school=_name_or(
                            row["boarding_school_name"], "schools_map.unnamed_school", lang
                        ),
                        settlement=_name_or(
                            row["boarding_settlement"], f"level.{row['boarding_level']}", lang
                        ),
                        minutes=_minutes_text(float(row["boarding_time_min"])),
                    )
                )
            else:
                lines.append(label("schools_map.tip_no_boarding", lang=lang))
            if np.isfinite(float(row["children"])):
                lines.append(
                    label("schools_map.tip_children", lang=lang).format(
                        n=f"{float(row['children']):,.0f}"
                    )
                )
            if has_school and row["boarding_school"] in school_points.index:
                target = school_points.loc[row["boarding_school"]]
                folium.PolyLine(
                    [(geom.y, geom.x), (target.y, target.x)],
                    color=BOARDING_LINK_COLOUR,
                    weight=1,
                    opacity=0.6,
                    dash_array="4 3",
                    interactive=False,
                ).add_to(layer)
            folium.CircleMarker(
                location=(geom.y, geom.x),
                radius=radius,
                color=colour,
                weight=2.5,
                fill=False,
                tooltip=_tip(lines),
            ).add_to(layer)
        legend.append(
            (
                "ring",
                colour,
                label("schools_map.candidates", lang=lang).format(
                    tier=_tier_text(tier, lang), limit=f"{rule.limit_min:g}", n=len(part)
                ),
            )
        )
    loads = access.boarding_schools
    drawn = 0
    for (tier, sid), row in loads.iterrows():
        if sid not in school_points.index:
            continue
        geom = school_points.loc[sid]
        folium.Marker(
            location=(geom.y, geom.x),
            icon=_overlays.marker_icon("diamond", BOARDING_SCHOOL_COLOUR, size=13),
            tooltip=_tip(
                [
                    _name_or(row["name"], "schools_map.unnamed_school", lang),
                    label("schools_map.tip_intake", lang=lang).format(
                        tier=_tier_text(str(tier), lang),
                        villages=int(row["villages"]),
                        children=f"{float(row['children']):,.0f}",
                    ),
                ]
            ),
        ).add_to(layer)
        drawn += 1
    if len(board):
        legend.append(("dashed_line", BOARDING_LINK_COLOUR, label("schools_map.link", lang=lang)))
    if drawn:
        n_schools = loads.index.get_level_values(1).nunique()
        legend.append(
            (
                "diamond",
                BOARDING_SCHOOL_COLOUR,
                label("schools_map.boarding_school", lang=lang).format(n=n_schools),
            )
        )
    layer.add_child(_overlays.LayerLegend(name, legend))
    return layer


def added_minutes_class(delta_min: np.ndarray) -> np.ndarray:
    """Class of the minutes a closure adds: 0, 1… by :data:`ADDED_MIN_LIMITS`, ``-1`` when no school is left within reach."""
    delta = np.asarray(delta_min, dtype=float)
    out = np.searchsorted(np.asarray(ADDED_MIN_LIMITS), delta, side="right")
    return np.where(np.isfinite(delta), out, -1)


def scenario_layer(
    scenario: Scenario, access: TierAccess, *, lang: str = "zh", show: bool = False
) -> folium.FeatureGroup:
    """The consolidation scenario: closed schools (✕) and the villages they served, by minutes added.

    Each reassigned village is a dot coloured by the minutes the closure adds to its
    trip (:func:`added_minutes_class`), ringed in black when it is newly beyond the
    limit; its tooltip gives the school and time before and after.
    """
    tier_name = _tier_text(scenario.tier, lang)
    name = label("schools_map.scenario_layer", lang=lang).format(tier=tier_name)
    layer = folium.FeatureGroup(name=name, show=show)
    facilities = access.study_for(scenario.tier).facilities
    limit = f"{scenario.limit_min:g}"
    legend: list[tuple[str, str, str]] = []
    v = scenario.villages.loc[scenario.villages["reassigned"].to_numpy(bool)]
    classes = added_minutes_class(v["delta_min"].to_numpy(float))
    children = (
        pd.to_numeric(v["population"], errors="coerce") * scenario.school_age_share
        if "population" in v
        else None
    )
    for (vid, row), cls in zip(v.iterrows(), classes):
        geom = row.geometry
        colour = LOST_ACCESS_COLOUR if cls < 0 else ADDED_MIN_COLOURS[cls]
        lines = [
            _name_or(row.get("name"), "schools_map.unnamed_village", lang),
            label("schools_map.tip_before", lang=lang).format(
                school=_name_or(row["before_school_name"], "schools_map.unnamed_school", lang),
                minutes=_minutes_text(float(row["before_min"])),
            ),
            label("schools_map.tip_after", lang=lang).format(
                school=_name_or(row["after_school_name"], "schools_map.unnamed_school", lang)
                if np.isfinite(float(row["after_min"]))
                else "—",
                minutes=_minutes_text(float(row["after_min"])),
            ),
            label("schools_map.tip_added", lang=lang).format(
                minutes=_minutes_text(float(row["delta_min"]))
            ),
        ]
        if bool(row["newly_beyond"]):
            lines.append(label("schools_map.tip_newly_beyond", lang=lang).format(limit=limit))
        kids = float(children.loc[vid]) if children is not None else np.nan
        if np.isfinite(kids):
            lines.append(label("schools_map.tip_children", lang=lang).format(n=f"{kids:,.0f}"))
        folium.CircleMarker(
            location=(geom.y, geom.x),
            radius=float(np.clip(3 + np.sqrt(kids) / 3, 4, 11)) if np.isfinite(kids) else 5.0,
            color="#000000" if bool(row["newly_beyond"]) else "#ffffff",
            weight=2.5 if bool(row["newly_beyond"]) else 1,
            fill=True,
            fill_color=colour,
            fill_opacity=0.95,
            tooltip=_tip(lines),
        ).add_to(layer)
    for fid, row in scenario.closed.iterrows():
        if fid not in facilities.index:
            continue
        geom = facilities.geometry.loc[fid]
        folium.Marker(
            location=(geom.y, geom.x),
            icon=_overlays.marker_icon("cross", CLOSED_COLOUR, size=18),
            tooltip=_tip(
                [
                    _name_or(row.get("name"), "schools_map.unnamed_school", lang),
                    label("schools_map.tip_closed", lang=lang).format(
                        villages=int(row["villages_before"]),
                        children=f"{float(row['children_before']):,.0f}",
                    ),
                ]
            ),
        ).add_to(layer)
    if len(scenario.closed):
        legend.append(
            (
                "cross",
                CLOSED_COLOUR,
                label("schools_map.closed", lang=lang).format(n=len(scenario.closed)),
            )
        )
    lows = (0.0, *ADDED_MIN_LIMITS)
    highs = (*ADDED_MIN_LIMITS, np.inf)
    for cls, (colour, low, high) in enumerate(zip(ADDED_MIN_COLOURS, lows, highs)):
        if not (classes == cls).any():
            continue
        key = "added_below" if cls == 0 else ("added_above" if np.isinf(high) else "added_between")
        legend.append(
            (
                "dot",
                colour,
                label(f"schools_map.{key}", lang=lang).format(low=f"{low:g}", high=f"{high:g}"),
            )
        )
    if (classes < 0).any():
        legend.append(("dot", LOST_ACCESS_COLOUR, label("schools_map.lost_access", lang=lang)))
    if v["newly_beyond"].any():
        legend.append(
            ("ring", "#000000", label("schools_map.newly_beyond", lang=lang).format(limit=limit))
        )
    layer.add_child(
        _overlays.LayerLegend(name, legend, note=label("schools_map.size_note", lang=lang))
    )
    return layer


def add_layers(
    m: folium.Map,
    checks: Compliance,
    access: TierAccess,
    scenario: Scenario | None = None,
    *,
    lang: str = "zh",
) -> folium.Map:
    """Add the school-tier overlays to a map from :func:`accessibility.maps.access_map`; return the map.

    Three checkbox overlays, each with its own legend box (shown while it is ticked):
    schools by their verdict against the tier rule (:func:`compliance_layer`, shown),
    boarding candidates and their boarding schools (:func:`boarding_layer`) and, with
    a scenario, its closed schools and reassigned villages (:func:`scenario_layer`).
    They are inserted before the map's layer control so that it lists them.
    """
    label("schools_ui.title", lang=lang)  # checks lang
    _overlays.add_overlay(m, compliance_layer(checks, lang=lang))
    _overlays.add_overlay(m, boarding_layer(access, lang=lang))
    if scenario is not None:
        _overlays.add_overlay(m, scenario_layer(scenario, access, lang=lang))
    return m
