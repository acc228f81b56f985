"""Public-service claims with a spatial test: clinics, buses to every village, township road links.

Design
------
In:  prepared studies (:class:`accessibility.pipeline.Study`: a router with the
     villages and facilities snapped onto one mode's network) and the road network.
Out: one :class:`ServiceCheck` per claim — a table (one row per village or per
     township seat, ids kept, WGS-84 geometry) and a summary — and :func:`claims`,
     which sets the measured shares beside the figures a report gives.

The three claims (figures from the Xuchang report, see ``docs/services.md``):

- **county medical centres in every county** (县域医疗中心全覆盖): travel time from
  every village to the nearest facility of each health tier (village clinic,
  township health centre, county hospital) by one mode (the electric two-wheeler
  by default in the notebook), and the share of villages and of residents within
  each limit — :func:`clinic_access`;
- **bus to every administrative village** (所有建制行政村通客车, 100 %): *walking*
  time from every village to the nearest bus stop; villages with no stop within the
  limit — :func:`bus_access`;
- **townships linked to the county seat by grade-II-or-better roads**
  (乡镇二级以上公路连通比例, 96.1 %): for each township seat, whether a route to
  the county seat exists over roads of a given class or better only —
  :func:`road_links`. OSM classes stand in for China's technical grades; the mapping
  is data in ``rules/road_classes.yml``.

A section whose inputs are not in the data is skipped with a stated reason, noted
in an :class:`accessibility.report.Notes`, and the rest still runs: no township
seat (or no single county seat) skips the road links (:func:`road_links_or_skip`)
and the per-township equity (:func:`township_equity`); a health tier or the bus
stops with no facility in the data are "no data" (never 0 %), and their equity
tables are skipped.

Tests: ``tests/test_services.py`` — hand-built networks (a township reached only by
a tertiary road), bus and clinic arithmetic, missing seats and facilities, the
sample county, the notebook.
"""

from __future__ import annotations

import functools
import html
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Protocol

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
import yaml
from scipy.spatial import cKDTree

from .. import engine, equity, metrics, network, snapping
from .._errors import ValidationError
from ..classify import TIERS, select
from ..export import figure
from ..labels import group_label, label
from ..report import Notes
from . import _overlays

log = logging.getLogger(__name__)

#: Health tiers of :func:`clinic_access`, nearest to the village first.
HEALTH_TIERS: tuple[str, ...] = TIERS["health"]
#: Modes that measure a *walk* to the bus stop.
WALK_MODES: tuple[str, ...] = ("walk", "walk_child")
#: Figures (shares, 0–1) the Xuchang report gives for the claims tested here; NaN where
#: the report states a claim without a share. Source: the 2023 report in shared/seed/.
REPORTED: dict[str, float] = {
    "county_hospital": float("nan"),
    "bus_every_village": 1.0,
    "township_links": 0.961,
}
#: Radius (metres) of a township seat's area in :func:`road_links`: inside it any street
#: counts, since a seat is the centre of a town and the town's own streets join it to
#: the road passing the town. Roughly half the width of a township's built-up area.
DEFAULT_TOWN_RADIUS_M = 1000.0
#: The same for the county seat, a larger town (county seats of 100,000–300,000 people
#: span 3–8 km).
DEFAULT_COUNTY_RADIUS_M = 3000.0

#: Reasons given per township seat by :func:`road_links`.
REASONS: tuple[str, ...] = (
    "connected",
    "no_class_road_near_seat",
    "county_seat_off_class_roads",
    "no_class_route",
)


class StudyLike(Protocol):
    """What the checks read from a study (a :class:`accessibility.pipeline.Study`)."""

    mode: str
    router: engine.Router
    origins: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame


@dataclass
class ServiceCheck:
    """The result of one claim's test.

    Attributes
    ----------
    claim
        ``"clinics"``, ``"bus"`` or ``"township_links"``.
    table
        One row per village (clinics, bus) or per township seat (road links), index =
        place id, geometry in EPSG:4326.
    summary
        The claim's figures (see each function).
    meta
        Parameters: mode, limits, road class…
    """

    claim: str
    table: gpd.GeoDataFrame
    summary: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- road classes


@functools.cache
def road_class_rules() -> dict[str, Any]:
    """The road-class table of ``rules/road_classes.yml`` (``rank``, ``links``, ``china_grades``)."""
    text = resources.files("accessibility.rules").joinpath("road_classes.yml").read_text("utf-8")
    return yaml.safe_load(text)


def osm_class(min_class: str) -> str:
    """The OSM ``highway`` class a class name stands for.

    An OSM class is itself, a slip road is its road (``secondary_link`` → ``secondary``)
    and a technical grade of ``rules/road_classes.yml`` is its ``osm_min_class``
    (``grade_ii`` → ``secondary``).
    """
    rules = road_class_rules()
    rank: list[str] = list(rules["rank"])
    grades: dict[str, dict[str, Any]] = dict(rules["china_grades"])
    name = str(min_class).strip()
    if name in grades:
        name = str(grades[name]["osm_min_class"])
    name = dict(rules["links"]).get(name, name)
    if name not in rank:
        msg = (
            f"unknown road class {min_class!r}; use an OSM highway class ({', '.join(rank)}) "
            f"or a grade ({', '.join(grades)}); see accessibility/rules/road_classes.yml"
        )
        raise ValidationError(msg)
    return name


def road_class_label(min_class: str, *, lang: str = "zh") -> str:
    """The road class people read: ``"secondary"`` or ``"grade_ii"`` → ``次要道路（县道、次干道）``
    in ``zh``, the OSM class itself in ``en`` (``rules/labels_tables.yml``, ``road_class``)."""
    return label(f"road_class.{osm_class(min_class)}", lang=lang)


def classes_at_least(min_class: str) -> list[str]:
    """OSM ``highway`` classes of ``min_class`` or better, slip roads included.

    Parameters
    ----------
    min_class
        An OSM class from the ``rank`` of ``rules/road_classes.yml`` (``"secondary"``),
        or one of China's technical grades (``"grade_ii"``), which stands for its
        ``osm_min_class`` there (grade II or better ≈ secondary or better).

    Returns
    -------
    list of str
        E.g. ``classes_at_least("primary") == ["motorway", "trunk", "primary",
        "motorway_link", "trunk_link", "primary_link"]``.
    """
    rules = road_class_rules()
    rank: list[str] = list(rules["rank"])
    name = osm_class(min_class)
    good = rank[: rank.index(name) + 1]
    return good + [link for link, base in dict(rules["links"]).items() if base in good]


# --------------------------------------------------------------------------- helpers


def _check_study(study: StudyLike) -> None:
    for attr in ("router", "origins", "facilities", "mode"):
        if not hasattr(study, attr):
            msg = f"expected a prepared study (accessibility.pipeline.prepare); it has no {attr!r}"
            raise ValidationError(msg)
    if "population" not in study.origins.columns:
        msg = "the study's origins have no 'population' column; add it (NaN where unknown)"
        raise ValidationError(msg)


def _limits(limits_min: Sequence[float] | float) -> list[float]:
    if isinstance(limits_min, (int, float)) and not isinstance(limits_min, bool):
        limits_min = [limits_min]
    return engine.check_thresholds(limits_min)


def _joined(study: StudyLike, table: pd.DataFrame) -> gpd.GeoDataFrame:
    out = study.origins.join(table)
    return out if isinstance(out, gpd.GeoDataFrame) else gpd.GeoDataFrame(out)


# --------------------------------------------------------------------------- clinics


def clinic_access(
    study: StudyLike,
    *,
    limits_min: Sequence[float] = (15, 30),
    tiers: Sequence[str] = HEALTH_TIERS,
) -> ServiceCheck:
    """Travel time from every village to the nearest facility of each health tier.

    Parameters
    ----------
    study
        A study prepared with the mode people use to reach a clinic (e.g. ``ebike``).
    limits_min
        Time limits in minutes, e.g. ``[15, 30]``.
    tiers
        Health tiers (``village_clinic``, ``township_health_centre``,
        ``county_hospital``).

    Returns
    -------
    ServiceCheck
        ``table``: the villages with, per tier ``key = "health_<tier>"``, the columns of
        :func:`accessibility.engine.access` (``{key}_time_min``, ``{key}_facility``,
        ``{key}_facility_name``, ``{key}_flag``, ``{key}_n{T}``). ``summary``: index =
        group (``"health:<tier>"``), the columns of :func:`accessibility.metrics.summary`
        (``within_{T}_share`` = share of villages with time ≤ T, ``within_{T}_pop_share``
        = ``sum(pop_i [t_i ≤ T]) / sum(pop_i)``; unreachable villages count as not
        within) plus ``facilities`` (how many of the tier) and ``mode``. The county
        hospital row is the reach of county-level care.
    """
    _check_study(study)
    limits = _limits(limits_min)
    if isinstance(tiers, str) or not list(tiers):
        msg = f"tiers must be a list of health tiers from {list(HEALTH_TIERS)}, got {tiers!r}"
        raise ValidationError(msg)
    bad = [t for t in tiers if t not in HEALTH_TIERS]
    if bad:
        msg = f"unknown health tiers {bad}; choose from {', '.join(HEALTH_TIERS)}"
        raise ValidationError(msg)
    groups = [f"health:{t}" for t in tiers]
    access = engine.access(study.router, study.facilities, groups, thresholds_min=limits)
    table = _joined(study, access)
    summary = metrics.summary(table, table["population"], groups, thresholds_min=limits)
    summary["facilities"] = [len(select(study.facilities, g)) for g in groups]
    summary["mode"] = study.mode
    for g in groups:
        if summary.loc[g, "no_facility"]:
            log.warning("no facility of tier %r in the data: its shares are no data (NaN)", g)
    return ServiceCheck(
        claim="clinics",
        table=table,
        summary=summary,
        meta={"mode": study.mode, "limits_min": limits, "tiers": list(tiers)},
    )


# --------------------------------------------------------------------------- bus


def bus_access(study_walk: StudyLike, *, limit_min: float = 15.0) -> ServiceCheck:
    """Walking time from every village to the nearest bus stop; villages without one in reach.

    Parameters
    ----------
    study_walk
        A study prepared with mode ``walk`` (or ``walk_child``): the claim is about a
        stop people can walk to.
    limit_min
        Longest acceptable walk to a stop, minutes.

    Returns
    -------
    ServiceCheck
        ``table``: the villages with ``bus_time_min`` (walking minutes, legs included;
        ``inf`` unreachable), ``bus_facility``, ``bus_facility_name``, ``bus_flag``,
        ``bus_n{T}`` (stops within the limit) and ``bus_served`` (``bus_time_min <=
        limit_min``). ``summary``: one row (index ``"bus"``): ``villages``,
        ``population``, ``stops``, ``served``, ``unserved`` (villages),
        ``served_share`` (= served / villages), ``served_pop_share``
        (= ``sum(pop_i [t_i ≤ T]) / sum(pop_i)``), ``unserved_population``,
        ``unreachable``, ``median_min``, ``p90_min``, ``max_min``, ``limit_min``,
        ``mode``.
    """
    _check_study(study_walk)
    if study_walk.mode not in WALK_MODES:
        msg = (
            f"bus_access measures a walk to the stop, but the study's mode is {study_walk.mode!r}; "
            "prepare it with mode='walk' (pipeline.prepare(region, mode='walk'))"
        )
        raise ValidationError(msg)
    limit = _limits(limit_min)
    if len(limit) != 1:
        msg = f"limit_min is one number of minutes, e.g. 15; got {limit_min!r}"
        raise ValidationError(msg)
    t_limit = limit[0]
    access = engine.access(study_walk.router, study_walk.facilities, ["bus"], thresholds_min=limit)
    table = _joined(study_walk, access)
    table["bus_served"] = (table["bus_time_min"] <= t_limit).fillna(False).astype(bool)
    base = metrics.summary(table, table["population"], ["bus"], thresholds_min=limit).loc["bus"]
    pop = pd.to_numeric(table["population"], errors="coerce")
    served = table["bus_served"].to_numpy()
    row = {
        "villages": len(table),
        "population": float(pop.sum()),
        "stops": len(select(study_walk.facilities, "bus")),
        "served": int(served.sum()),
        "unserved": int((~served).sum()),
        "served_share": float(base[f"within_{t_limit:g}_share"]),
        "served_pop_share": float(base[f"within_{t_limit:g}_pop_share"]),
        "unserved_population": float(pop[~served].sum()),
        "unreachable": int(base["unreachable"]),
        "median_min": base["median_min"],
        "p90_min": base["p90_min"],
        "max_min": base["max_min"],
        "limit_min": t_limit,
        "mode": study_walk.mode,
        "status": base["status"],
    }
    if row["stops"] == 0:
        log.warning("no bus stop in the data: the bus shares are no data (NaN), not 0")
    summary = pd.DataFrame([row], index=pd.Index(["bus"], name="group"))
    return ServiceCheck(
        claim="bus",
        table=table,
        summary=summary,
        meta={"mode": study_walk.mode, "limit_min": t_limit},
    )


# --------------------------------------------------------------------------- road links


def roads_from_network(net: network.Network) -> network.RoadData:
    """The road data a network was built from, as far as the network keeps it.

    Each undirected segment becomes a segment row with its ``highway`` class and a
    one-way code from the directions the network allows (``0`` both, ``1`` only
    ``seg_a → seg_b``, ``-1`` only back). Tagged ``maxspeed`` and one-way exemptions
    are not kept by a network, so they are absent; only the network's kept part
    (its largest strongly connected component) is there.
    """
    n_seg = net.n_segments
    fwd = np.zeros(n_seg, dtype=bool)
    bwd = np.zeros(n_seg, dtype=bool)
    fwd[net.segment[net.forward]] = True
    bwd[net.segment[~net.forward]] = True
    highway = np.empty(n_seg, dtype=object)
    highway[net.segment] = np.asarray(net.highway_classes, dtype=object)[net.highway]
    oneway = np.where(fwd & bwd, 0, np.where(fwd, 1, -1)).astype(np.int8)
    nodes = pd.DataFrame({"lon": net.lon, "lat": net.lat}, index=pd.Index(net.node_id, name="id"))
    segments = pd.DataFrame(
        {
            "way": np.full(n_seg, -1, dtype=np.int64),
            "u": net.node_id[net.seg_a],
            "v": net.node_id[net.seg_b],
            "highway": highway,
            "oneway": oneway,
            "maxspeed": np.full(n_seg, np.nan),
            "exempt": np.full(n_seg, "", dtype=object),
        }
    )
    return network.RoadData(nodes=nodes, segments=segments)


def _seats(places: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The county seat (one row) and the township seats of classified places."""
    if not isinstance(places, gpd.GeoDataFrame) or "level" not in places.columns:
        msg = "places must be a GeoDataFrame with a 'level' column (study.places)"
        raise ValidationError(msg)
    if places.crs is None:
        msg = "places have no CRS; set it (e.g. places.set_crs(4326))"
        raise ValidationError(msg)
    county = places.loc[places["level"] == "county_seat"]
    if len(county) != 1:
        names = county["name"].tolist() if "name" in county.columns else county.index.tolist()
        msg = (
            f"road links need exactly one county seat among the places, found {len(county)} "
            f"{names}; name it in the region file (unit 'seat: <name>') or tag it capital=6"
        )
        raise ValidationError(msg)
    towns = places.loc[places["level"] == "township_seat"]
    if towns.empty:
        msg = "no township seats among the places (level 'township_seat'); check the place tags or the audit"
        raise ValidationError(msg)
    return county, towns


def _network_times(
    net: network.Network,
    towns: gpd.GeoDataFrame,
    county: gpd.GeoDataFrame,
    *,
    town_radius_m: float,
    county_radius_m: float,
) -> np.ndarray:
    """Seconds over ``net`` from each town's snap point to the county seat's (``inf``: no route).

    Network time only: the straight legs from the seats' place nodes to the roads are
    left out, so that good-road and all-road times compare. A seat farther from every
    road than its area's radius is logged by the snapping step.
    """
    t_snap = snapping.snap(net, towns, max_snap_m=max(town_radius_m, 1.0))
    c_snap = snapping.snap(net, county, max_snap_m=max(county_radius_m, 1.0))
    near = engine.Router.build(net, t_snap, c_snap).nearest()
    time = near["time_s"].to_numpy(dtype=float) - t_snap["leg_s"].to_numpy(dtype=float)
    return time - float(c_snap["leg_s"].iloc[0])


def _metric_xy(lon: np.ndarray, lat: np.ndarray, crs: str) -> tuple[np.ndarray, np.ndarray]:
    to_metric = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    x, y = to_metric.transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def road_links(
    roads: network.RoadData | network.Network,
    places: gpd.GeoDataFrame,
    *,
    min_class: str = "secondary",
    mode: str | None = None,
    crs: str | None = None,
    town_radius_m: float = DEFAULT_TOWN_RADIUS_M,
    county_radius_m: float = DEFAULT_COUNTY_RADIUS_M,
) -> ServiceCheck:
    """Whether each township seat is connected to the county seat over good roads.

    The claim is about the roads *between* towns: inside a town any street will do
    (the road from the next town ends at the edge of the built-up area, and the seat's
    place node sits in its centre). So the test network is built with
    :func:`accessibility.network.build` from the road data reduced to

    - every segment of class ``min_class`` or better (:func:`classes_at_least`), and
    - every segment of any class with both ends inside a *seat area*: within
      ``town_radius_m`` of a township seat or ``county_radius_m`` of the county seat
      (straight line, metric CRS),

    keeping all its pieces (``largest_component=False``). A township seat is
    **connected** when a route exists from it to the county seat on that network (in
    the direction of the county seat; one-way streets count for the modes that
    respect them). It is not connected, with a ``reason``, when no road of the class
    passes within its area (``no_class_road_near_seat``), when none passes within the
    county seat's area (``county_seat_off_class_roads``), or when the good roads near
    it do not lead to the county seat (``no_class_route``). The same route over
    every road (the mode's full network, largest strongly connected component) gives
    the time to compare with.

    Parameters
    ----------
    roads
        Road data (:class:`accessibility.network.RoadData`) or a built network
        (``study.network``), whose roads are reused (see :func:`roads_from_network`).
    places
        Classified places with ``level`` (exactly one ``county_seat``; the
        ``township_seat`` rows are tested), ``name`` and ``population``, any CRS.
    min_class
        Worst OSM class allowed (``"secondary"``), or a technical grade
        (``"grade_ii"``); see :func:`classes_at_least` and ``rules/road_classes.yml``.
    mode
        Travel mode for route times; default the network's mode, or ``"car"`` for
        road data.
    crs
        Metric CRS of the networks; default the network's (required for road data).
    town_radius_m, county_radius_m
        Radius of the seat areas, metres: roughly half the width of a township's
        and of the county seat's built-up area.

    Returns
    -------
    ServiceCheck
        ``table`` (one row per township seat, EPSG:4326): ``name``, ``population``,
        ``connected`` (bool), ``reason`` (one of :data:`REASONS`), ``access_m``
        (straight metres from the seat to the nearest road of the class),
        ``time_good_min`` (network minutes to the county seat over good roads and
        town streets; ``inf`` when not connected), ``time_all_min`` (over every road;
        ``inf`` when unreachable), ``detour`` (= time_good / time_all). ``summary``
        (one row, index ``"township_links"``): ``township_seats``, ``connected``,
        ``share_connected`` (= connected / township seats), ``min_class``,
        ``classes``, ``mode``, ``county_seat_access_m``, ``median_time_good_min``
        (over the connected), ``median_time_all_min``, ``town_radius_m``,
        ``county_radius_m``.
    """
    if isinstance(roads, network.Network):
        net_mode, net_crs = roads.mode, roads.crs
        road_data = roads_from_network(roads)
    elif isinstance(roads, network.RoadData):
        net_mode, net_crs = "car", None
        road_data = roads
    else:
        msg = f"roads must be RoadData or a Network (study.network), got {type(roads).__name__}"
        raise ValidationError(msg)
    mode = mode or net_mode
    crs = crs or net_crs
    if crs is None:
        msg = "road data carry no CRS: pass crs= (the region's metric CRS, e.g. study.crs)"
        raise ValidationError(msg)
    for name, value in (("town_radius_m", town_radius_m), ("county_radius_m", county_radius_m)):
        if not np.isfinite(value) or value < 0:
            msg = f"{name} must be >= 0 metres (a seat area's radius), got {value!r}"
            raise ValidationError(msg)
    good = classes_at_least(min_class)
    county, towns = _seats(places)
    rule = network.mode_rules(mode)
    n = len(towns)
    radii = {"town_radius_m": float(town_radius_m), "county_radius_m": float(county_radius_m)}

    # every road, for the reference time
    full = network.build(road_data, mode=mode, crs=crs)
    time_all = _network_times(full, towns, county, **radii)

    # good roads, plus any street inside a seat area
    seg = road_data.segments
    nodes = road_data.nodes
    nx, ny = _metric_xy(nodes["lon"].to_numpy(), nodes["lat"].to_numpy(), crs)
    t_pts, c_pts = towns.geometry.to_crs(crs), county.geometry.to_crs(crs)
    node_tree = cKDTree(np.column_stack([nx, ny]))
    inside = np.zeros(len(nodes), dtype=bool)
    for px, py, radius in [
        *((x, y, town_radius_m) for x, y in zip(t_pts.x, t_pts.y)),
        (float(c_pts.x.iloc[0]), float(c_pts.y.iloc[0]), county_radius_m),
    ]:
        inside[node_tree.query_ball_point((px, py), r=radius)] = True
    u_pos = nodes.index.get_indexer(seg["u"])
    v_pos = nodes.index.get_indexer(seg["v"])
    if (u_pos < 0).any() or (v_pos < 0).any():
        msg = "road segments refer to nodes without coordinates; the road data are incomplete"
        raise ValidationError(msg)
    usable = seg["highway"].isin(list(rule["speeds_kmh"])).to_numpy()
    is_good = seg["highway"].isin(good).to_numpy() & usable
    keep = is_good | (inside[u_pos] & inside[v_pos] & usable)

    access_m = np.full(n, np.inf)
    county_access = np.inf
    time_good = np.full(n, np.inf)
    if is_good.any():
        lines = shapely.linestrings(
            np.stack(
                [
                    np.column_stack([nx[u_pos[is_good]], ny[u_pos[is_good]]]),
                    np.column_stack([nx[v_pos[is_good]], ny[v_pos[is_good]]]),
                ],
                axis=1,
            )
        )
        line_tree = shapely.STRtree(lines)
        _, d = line_tree.query_nearest(t_pts.to_numpy(), return_distance=True, all_matches=False)
        access_m = np.asarray(d, dtype=float)
        _, dc = line_tree.query_nearest(c_pts.to_numpy(), return_distance=True, all_matches=False)
        county_access = float(dc[0])
        reduced = network.RoadData(
            nodes=nodes, segments=seg.loc[keep], fingerprint=f"{road_data.fingerprint}:{min_class}"
        )
        good_net = network.build(reduced, mode=mode, crs=crs, largest_component=False)
        time_good = _network_times(good_net, towns, county, **radii)
    else:
        log.warning(
            "no road of class %s or better in the data: no township is connected", min_class
        )

    near_seat = access_m <= town_radius_m
    county_ok = bool(county_access <= county_radius_m)
    routed = np.isfinite(time_good)
    connected = near_seat & county_ok & routed
    reason = np.where(
        connected,
        "connected",
        np.where(
            ~near_seat,
            "no_class_road_near_seat",
            "no_class_route" if county_ok else "county_seat_off_class_roads",
        ),
    )
    if is_good.any() and not county_ok:
        log.warning(
            "the county seat is %.0f m from the nearest road of class %s or better "
            "(county_radius_m = %.0f): no township counts as connected",
            county_access,
            min_class,
            county_radius_m,
        )
    with np.errstate(invalid="ignore", divide="ignore"):
        detour = np.where(connected, time_good / time_all, np.nan)
    table = gpd.GeoDataFrame(
        {
            "name": towns["name"] if "name" in towns.columns else pd.Series(index=towns.index),
            "population": towns["population"]
            if "population" in towns.columns
            else pd.Series(np.nan, index=towns.index),
            "connected": connected,
            "reason": reason,
            "access_m": access_m,
            "time_good_min": np.where(connected, time_good / 60.0, np.inf),
            "time_all_min": time_all / 60.0,
            "detour": detour,
        },
        geometry=towns.geometry.to_crs(4326),
        index=towns.index,
    )
    summary = pd.DataFrame(
        [
            {
                "township_seats": n,
                "connected": int(connected.sum()),
                "share_connected": float(connected.mean()),
                "min_class": str(min_class),
                "classes": ", ".join(good),
                "mode": mode,
                "county_seat_access_m": county_access,
                "median_time_good_min": (
                    float(np.median(time_good[connected])) / 60.0 if connected.any() else np.nan
                ),
                "median_time_all_min": float(np.median(time_all)) / 60.0,
                "town_radius_m": float(town_radius_m),
                "county_radius_m": float(county_radius_m),
            }
        ],
        index=pd.Index(["township_links"], name="claim"),
    )
    log.info(
        "%d of %d township seats connected to the county seat over %s-or-better roads",
        int(connected.sum()),
        n,
        min_class,
    )
    return ServiceCheck(
        claim="township_links",
        table=table,
        summary=summary,
        meta={
            "min_class": str(min_class),
            "osm_min_class": osm_class(min_class),
            "classes": good,
            "mode": mode,
            "crs": crs,
            "town_radius_m": float(town_radius_m),
            "county_radius_m": float(county_radius_m),
        },
    )


def missing_seats(places: pd.DataFrame) -> str | None:
    """Why :func:`road_links` cannot run on ``places``: a ``skip`` reason key, or ``None``.

    ``"no_township_seats"`` when no place has level ``township_seat``;
    ``"no_county_seat"`` when there is not exactly one ``county_seat``.
    """
    level = places["level"] if "level" in places.columns else pd.Series(dtype=object)
    if not (level == "township_seat").any():
        return "no_township_seats"
    if int((level == "county_seat").sum()) != 1:
        return "no_county_seat"
    return None


def road_links_or_skip(
    roads: network.RoadData | network.Network,
    places: gpd.GeoDataFrame,
    *,
    notes: Notes,
    **options: Any,
) -> ServiceCheck | None:
    """:func:`road_links`, or ``None`` with a note saying why when the data lack its seats.

    Parameters
    ----------
    roads, places, **options
        As for :func:`road_links`.
    notes
        Where the skip is recorded (section ``road_links``, reason from
        :func:`missing_seats`).
    """
    reason = missing_seats(places)
    if reason is not None:
        notes.skip("road_links", reason)
        return None
    return road_links(roads, places, **options)


#: Time column of the county hospital in the clinics table.
HOSPITAL_COL = "health_county_hospital_time_min"


@dataclass
class TownshipEquity:
    """Who waits longest: the villages' times together and the equity tables made from them.

    Attributes
    ----------
    villages
        The clinics table joined with the bus columns (``bus_time_min``,
        ``bus_facility_name``, ``bus_served``) and, when the data have township
        seats, the columns of :func:`accessibility.equity.assign_township`.
    tables
        The tables that could be made, by key: ``equity_hospital``, ``equity_bus``
        (per township; need township seats), ``worst_hospital``, ``worst_bus`` (need
        facilities of the group in the data).
    """

    villages: gpd.GeoDataFrame
    tables: dict[str, pd.DataFrame]


def township_equity(
    study: Any,
    clinics: ServiceCheck,
    bus: ServiceCheck,
    *,
    notes: Notes,
    n_worst: int = 10,
) -> TownshipEquity:
    """Shares beyond each limit per township and the worst-served villages, as far as the data allow.

    Per township (:func:`accessibility.equity.by_area`, villages given to their
    nearest township seat by :func:`accessibility.equity.assign_township`): the
    county hospital within the clinic limits and the bus stop within the walk
    limit. Worst served: the ``n_worst`` villages farthest from each
    (:func:`accessibility.equity.worst_served`). Without a township seat the
    per-township tables are skipped; for a group with no facility in the data
    (county hospital or bus stop) both its tables are skipped — each with a note.

    Parameters
    ----------
    study
        The clinics' study (``origins``, ``places``, ``router``).
    clinics, bus
        Results of :func:`clinic_access` (with the county hospital tier) and
        :func:`bus_access`.
    notes
        Where skipped tables are recorded.
    n_worst
        Villages in each worst-served list.
    """
    villages = clinics.table
    seats = missing_seats(study.places) != "no_township_seats"
    if seats:
        villages = villages.join(
            equity.assign_township(study.origins, study.places, router=study.router)
        )
    else:
        notes.skip("township_equity", "no_township_seats")
    villages = villages.join(bus.table[["bus_time_min", "bus_facility_name", "bus_served"]])
    tables: dict[str, pd.DataFrame] = {}
    cases = (
        ("hospital", HOSPITAL_COL, "health:county_hospital", list(clinics.meta["limits_min"])),
        ("bus", "bus_time_min", "bus", [bus.meta["limit_min"]]),
    )
    for name, col, group, limits in cases:
        if col not in villages.columns or villages[col].isna().all():
            names = tuple(group_label(group, lang=lang) for lang in ("zh", "en"))
            notes.skip("group", "no_facilities", group=names)
            continue
        if seats:
            tables[f"equity_{name}"] = equity.by_area(
                villages, group_col="township", time_col=col, limits_min=limits
            )
        tables[f"worst_{name}"] = equity.worst_served(villages, time_col=col, n=n_worst)
    return TownshipEquity(villages=villages, tables=tables)


def layers(
    *,
    villages: pd.DataFrame,
    claims: pd.DataFrame,
    clinics: ServiceCheck,
    bus: ServiceCheck,
    roads: ServiceCheck | None,
    tables: Mapping[str, pd.DataFrame],
) -> dict[str, pd.DataFrame]:
    """GeoPackage layers of the services notebook: what was made, nothing for a skipped section."""
    out: dict[str, pd.DataFrame] = {"villages": villages}
    if roads is not None:
        out["township_seats"] = roads.table
    out.update({"clinics": clinics.summary, "bus": bus.summary})
    if roads is not None:
        out["road_links"] = roads.summary
    out["claims"] = claims
    out.update(tables)
    return out


# --------------------------------------------------------------------------- the claims side by side


def claims(
    *,
    clinics: ServiceCheck | None = None,
    bus: ServiceCheck | None = None,
    roads: ServiceCheck | None = None,
    lang: str = "zh",
) -> pd.DataFrame:
    """The measured shares beside the report's figures, one row per claim and measure.

    Parameters
    ----------
    clinics, bus, roads
        Results of :func:`clinic_access`, :func:`bus_access`, :func:`road_links`
        (any may be missing).
    lang
        Language of ``statement`` and ``measure``: ``"zh"`` or ``"en"``.

    Returns
    -------
    pandas.DataFrame
        Columns ``claim`` (key), ``statement`` (the claim), ``measure`` (what the
        value is), ``value`` (0–1), ``reported`` (0–1: the Xuchang report's figure,
        :data:`REPORTED`; NaN when it gives none), ``gap`` (= value − reported) and
        ``status`` (``ok``, or ``no_data`` when no facility of the measure's kind is
        in the data: the value is then NaN, never 0).
    """
    rows = [
        {
            "claim": claim,
            "statement": label(f"services_claim.{claim}", lang=lang),
            "measure": measure,
            "value": value,
            "reported": REPORTED.get(claim, np.nan),
            "gap": value - REPORTED.get(claim, np.nan),
            "status": status,
        }
        for _, claim, measure, value, status in _claim_rows(clinics, bus, roads, lang)
    ]
    return pd.DataFrame(rows)


def _claim_rows(
    clinics: ServiceCheck | None, bus: ServiceCheck | None, roads: ServiceCheck | None, lang: str
) -> list[tuple[str, str, str, float, str]]:
    """``(key, claim, measure, value, status)`` per measured claim, in the order of :func:`claims`."""
    rows: list[tuple[str, str, str, float, str]] = []
    if clinics is not None:
        group = "health:county_hospital"
        for limit in clinics.meta["limits_min"]:
            if group in clinics.summary.index:
                text = label("services_measure.pop_within", lang=lang).format(
                    limit=f"{limit:g}", mode=label(f"mode.{clinics.meta['mode']}", lang=lang)
                )
                value = float(clinics.summary.loc[group, f"within_{limit:g}_pop_share"])
                status = (
                    metrics.STATUS_NO_DATA if clinics.summary.loc[group, "no_facility"] else "ok"
                )
                rows.append((f"county_hospital_{limit:g}", "county_hospital", text, value, status))
    if bus is not None:
        limit = bus.meta["limit_min"]
        text = label("services_measure.villages_with_stop", lang=lang).format(limit=f"{limit:g}")
        value = float(bus.summary["served_share"].iloc[0])
        status = metrics.STATUS_NO_DATA if int(bus.summary["stops"].iloc[0]) == 0 else "ok"
        rows.append(("bus_every_village", "bus_every_village", text, value, status))
    if roads is not None:
        text = label("services_measure.seats_connected", lang=lang).format(
            road_class=road_class_label(roads.meta["osm_min_class"], lang=lang)
        )
        value = float(roads.summary["share_connected"].iloc[0])
        rows.append(("township_links", "township_links", text, value, "ok"))
    if not rows:
        msg = "give at least one result: clinics=, bus= or roads="
        raise ValidationError(msg)
    return rows


def key_figures(
    *,
    clinics: ServiceCheck | None = None,
    bus: ServiceCheck | None = None,
    roads: ServiceCheck | None = None,
) -> list[dict[str, Any]]:
    """Each claim's measured value (the ``value`` column of :func:`claims`) as a key figure.

    Keys: ``county_hospital_<T>`` (population share within each clinic limit of a
    county hospital), ``bus_every_village`` (share of villages with a stop within the
    walk limit), ``township_links`` (share of township seats linked); all ``percent``,
    labelled with the claim's measure in both languages. A claim whose facilities are
    not in the data has no value and status ``no_data``.

    Parameters
    ----------
    clinics, bus, roads
        Results of :func:`clinic_access`, :func:`bus_access`, :func:`road_links`
        (any may be missing, not all).

    Returns
    -------
    list of dict
        Figures for :func:`accessibility.export.write_figures`.
    """
    zh = _claim_rows(clinics, bus, roads, "zh")
    en = _claim_rows(clinics, bus, roads, "en")
    return [
        figure(
            key,
            value,
            "percent",
            labels=(text_zh, text_en),
            status=status if status == metrics.STATUS_NO_DATA else None,
        )
        for (key, _, text_zh, value, status), (_, _, text_en, _, _) in zip(zh, en, strict=True)
    ]


# --------------------------------------------------------------------------- map layer


#: Township seats on the map: linked over roads of the class, or not (large circles ringed
#: in black, in colours of their own: never the travel-time colours of the villages).
SEAT_STYLE: dict[bool, tuple[str, str]] = {True: ("dot", "#2c7bb6"), False: ("dot", "#c51b7d")}


def _road_class_text(min_class: str, lang: str) -> str:
    """An OSM class in words (``secondary`` → 二级道路（secondary）)."""
    name = osm_class(min_class)
    try:
        return label(f"services_road_class.{name}", lang=lang)
    except ValidationError:
        return name


def seat_tips(roads: ServiceCheck, *, lang: str = "zh") -> list[str]:
    """Tooltip of each township seat of :func:`road_links` (HTML, in table order).

    The seat's name, whether it is linked, the time to the county seat over roads of
    the required class (the claim's measure), the time over every road and the
    detour; when it is not linked because no road of the class passes near it, the
    distance to the nearest one.
    """
    road_class = _road_class_text(roads.meta["min_class"], lang)
    mode = label(f"mode.{roads.meta['mode']}", lang=lang)
    out = []
    for _, seat in roads.table.iterrows():
        name = seat["name"] if isinstance(seat["name"], str) and seat["name"] else None
        lines = [
            name or label("services_map.unnamed_seat", lang=lang),
            label(f"services_reason.{seat['reason']}", lang=lang),
        ]
        good, every = float(seat["time_good_min"]), float(seat["time_all_min"])
        lines.append(
            label("services_map.time_good", lang=lang).format(
                road_class=road_class, minutes=f"{good:.0f}"
            )
            if np.isfinite(good)
            else label("services_map.no_time_good", lang=lang).format(road_class=road_class)
        )
        lines.append(
            label("services_map.time_all", lang=lang).format(minutes=f"{every:.0f}")
            if np.isfinite(every)
            else label("services_map.no_time_all", lang=lang)
        )
        if np.isfinite(float(seat["detour"])):
            lines.append(
                label("services_map.detour", lang=lang).format(
                    detour=f"{float(seat['detour']):.2f}"
                )
            )
        if seat["reason"] == "no_class_road_near_seat" and np.isfinite(float(seat["access_m"])):
            lines.append(
                label("services_map.distance", lang=lang).format(
                    road_class=road_class, metres=f"{float(seat['access_m']):,.0f}"
                )
            )
        lines.append(label("services_map.mode", lang=lang).format(mode=mode))
        escaped = [html.escape(str(x)) for x in lines]
        out.append("<br>".join([f"<b>{escaped[0]}</b>", *escaped[1:]]))
    return out


def seats_layer(roads: ServiceCheck, *, lang: str = "zh") -> folium.FeatureGroup:
    """A map layer of the township seats, linked to the county seat over good roads or not.

    Seats are large black-ringed circles, blue when linked over roads of the class
    and magenta when not (colours of their own, never a travel-time class), with a legend box of the
    layer (shown while it is ticked) and a tooltip giving the time over roads of the
    class as well as over every road (:func:`seat_tips`). Add it to a map from
    :func:`accessibility.maps.access_map` with :func:`add_seats_layer`; it draws plain
    HTML markers, so the map stays self-contained.
    """
    if roads.claim != "township_links":
        msg = f"seats_layer draws the result of road_links(), got the {roads.claim!r} check"
        raise ValidationError(msg)
    road_class = _road_class_text(roads.meta["min_class"], lang)
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


# --------------------------------------------------------------------------- Excel

_BEYOND = re.compile(r"beyond_(?P<t>\d+(?:\.\d+)?)_(?P<what>share|pop_share)")


def excel_tables(
    *,
    claims: pd.DataFrame,
    clinics: ServiceCheck,
    bus: ServiceCheck,
    roads: ServiceCheck | None,
    equity: Mapping[str, pd.DataFrame] | None = None,
    lang: str = "zh",
) -> dict[str, pd.DataFrame]:
    """The summary tables for :func:`accessibility.export.write_excel`, by sheet name in ``lang``.

    Sheets: the claims beside the report (:func:`claims`), clinics per tier, bus
    stops, the township road links (summary and one row per seat) and any equity
    tables given in ``equity`` (sheet key → table, e.g. ``{"equity_hospital": ...}``;
    keys with a ``services_sheet`` label are translated). Column names are kept,
    so give ``headers=excel_headers(sheets, lang=lang)`` to ``write_excel``.
    """
    mode = functools.partial(_soft_label, "mode", lang=lang)
    sheets = {"claims": claims, "clinics": clinics.summary, "bus": bus.summary}
    if roads is not None:  # skipped without township seats
        sheets["road_links"] = roads.summary
        sheets["township_seats"] = (
            roads.table.assign(
                reason=roads.table["reason"].map(
                    functools.partial(_soft_label, "services_reason", lang=lang)
                )
            )
            if "reason" in roads.table.columns
            else roads.table
        )
        sheets["road_links"] = sheets["road_links"].rename(columns={"connected": "seats_connected"})
    sheets.update(equity or {})
    from ..equity import TOTAL
    from ..export import SHARE_COLUMNS

    status = functools.partial(_soft_label, "status", lang=lang)
    everyone = label("equity_ui.all", lang=lang)
    out: dict[str, pd.DataFrame] = {}
    for key, frame in sheets.items():
        table = frame.copy()
        if "mode" in table.columns:
            table["mode"] = table["mode"].map(mode)
        if "status" in table.columns:
            table["status"] = table["status"].map(status)
        if "claim" in table.columns:
            table["claim"] = table["claim"].map(
                functools.partial(_soft_label, "services_claim_short", lang=lang)
            )
        if table.index.name == "claim":
            table.index = table.index.map(
                functools.partial(_soft_label, "services_claim_short", lang=lang)
            )
        if "township" in table.columns:
            table["township"] = table["township"].replace({TOTAL: everyone})
        if table.index.name == "township":
            table.index = table.index.map(lambda t: everyone if t == TOTAL else t)
        if key == "claims":  # measured and reported figures are shares
            table.attrs[SHARE_COLUMNS] = ["value", "reported", "gap"]
        if key == "road_links":
            table.attrs[SHARE_COLUMNS] = ["share_connected"]
        out[_soft_label("services_sheet", key, lang=lang)] = table
    return out


def _soft_label(section: str, value: Any, *, lang: str) -> Any:
    if not isinstance(value, str) or not value:
        return value
    try:
        return label(f"{section}.{value}", lang=lang)
    except ValidationError:
        return value


def excel_headers(sheets: Mapping[str, pd.DataFrame], *, lang: str = "zh") -> dict[str, str]:
    """Column name → header in ``lang`` for the sheets of :func:`excel_tables`.

    Fixed columns come from the ``services_col`` labels; ``beyond_<t>_share`` and
    ``beyond_<t>_pop_share`` of the equity tables from the ``equity_ui`` templates.
    """
    from ..labels import keys

    out = {c: label(f"services_col.{c}", lang=lang) for c in keys("services_col")}
    for frame in sheets.values():
        for col in frame.columns:
            match = _BEYOND.fullmatch(str(col))
            if match:
                key = "beyond_share" if match.group("what") == "share" else "beyond_pop_share"
                out[col] = label(f"equity_ui.{key}", lang=lang).format(limit=match.group("t"))
    return out
