"""Township road links: each township seat's route to the county seat, and how much of it
runs on roads below the required class.

Design
------
In:  road data (:class:`accessibility.network.RoadData`, with the ways' names when the
     reader kept them) or a built network; classified places (exactly one
     ``county_seat``, the ``township_seat`` rows are tested); the worst road class
     allowed (an OSM class or a technical grade, ``rules/road_classes.yml``); the
     tolerance rules (``rules/road_links.yml``: lower-class metres allowed at each
     end of a route, ``default`` and ``strict``).
Out: a :class:`ServiceCheck` (claim ``township_links``): one row per township seat —
     linked under the default and under the strict rule, the direction that decided
     and the one that failed, lower-class metres at each end and in between, the
     lower-class pieces by name and length, the route's length and time and the
     fastest time over any road; a one-row summary; ``meta["routes"]`` (both
     directions' routes, piece by piece, as WGS-84 lines) and ``meta["sensitivity"]``
     (seats linked under each rule).
How: the mode's network with every piece kept (:func:`accessibility.network.build`,
     ``largest_component=False``); each seat is snapped onto its nearest segment
     (:func:`accessibility.snapping.snap`) and joined to the segment's ends by partial
     edges in the directions the segment allows. Edge weight = metres below the class
     × :data:`METRE_WEIGHT_S` + seconds, so Dijkstra finds the route with the fewest
     lower-class metres and, among those, the fastest: one search from the county seat
     gives every *from* route, one on the reversed graph every *to* route. A route is
     cut into the lower-class run that starts it, the one that ends it, and the rest;
     a rule allows ``township_end_m`` at the township's end, ``county_seat_end_m`` at the
     county seat's and nothing in between. The straight legs from the place nodes to
     their roads are not roads and are only reported (``leg_m``). The worse direction
     counts (not linked, then more metres beyond the rule, then more lower-class
     metres).
Tests: ``tests/test_road_links.py`` — a seat behind 1,000 m of residential street
     (strict: not linked; default: linked only when the allowance covers it), a
     lower-class gap in the middle, a one-way primary road usable one way only, a seat
     on a piece of its own, names of the lower-class pieces, the sensitivity table, the
     routes against a networkx reference; the sample county (both rules agree).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy import sparse
from scipy.sparse.csgraph import dijkstra

from .. import _yaml, network, snapping
from .._errors import ValidationError
from ..labels import label
from ..network import road_class_rules
from ..report import Notes
from ._check import ServiceCheck

log = logging.getLogger(__name__)

#: Weight of one metre of road below the class, in seconds: far more than any route's
#: time, so that the search minimises lower-class metres first and time second.
METRE_WEIGHT_S = 1.0e6
#: Metres of lower-class road a rule forgives for rounding (partial edges of a snap).
SLACK_M = 0.5
#: Directions of a route, township seat → county seat and back.
DIRECTIONS: tuple[str, ...] = ("to_county_seat", "from_county_seat")
#: Reasons given per township seat (under the default rule).
REASONS: tuple[str, ...] = ("class_roads_only", "within_tolerance", "lower_class_gap", "no_route")
#: The rules every result states (``rules/road_links.yml``).
RULES: tuple[str, ...] = ("default", "strict")


# --------------------------------------------------------------------------- road classes


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


# --------------------------------------------------------------------------- tolerance rules


@dataclass(frozen=True)
class Tolerance:
    """Lower-class metres a rule allows at each end of a township's route."""

    name: str
    township_end_m: float
    county_seat_end_m: float

    def __post_init__(self) -> None:
        for key in ("township_end_m", "county_seat_end_m"):
            value = getattr(self, key)
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not np.isfinite(value)
                or value < 0
            ):
                msg = f"{key} must be a number of metres >= 0, got {value!r}"
                raise ValidationError(msg)

    def text(self, lang: str = "zh") -> str:
        """The rule in words (``rules/road_links.yml`` for the named rules)."""
        rule = _rules().get(self.name)
        if rule is not None and (
            float(rule["township_end_m"]),
            float(rule["county_seat_end_m"]),
        ) == (self.township_end_m, self.county_seat_end_m):
            return str(rule[lang])
        return label("road_links.custom_rule", lang=lang).format(
            town=f"{self.township_end_m:,.0f}", county=f"{self.county_seat_end_m:,.0f}"
        )


@functools.cache
def _rules() -> dict[str, dict[str, Any]]:
    text = resources.files("accessibility.rules").joinpath("road_links.yml").read_text("utf-8")
    return dict(_yaml.load(text)["rules"])


def tolerance(name: str = "default") -> Tolerance:
    """The named rule of ``rules/road_links.yml`` (``"default"`` or ``"strict"``)."""
    rules = _rules()
    if name not in rules:
        msg = f"unknown road-link rule {name!r}; choose one of {', '.join(rules)}"
        raise ValidationError(msg)
    rule = rules[name]
    return Tolerance(name, float(rule["township_end_m"]), float(rule["county_seat_end_m"]))


# --------------------------------------------------------------------------- places


def seats(places: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
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


# --------------------------------------------------------------------------- the route graph


@dataclass
class _Graph:
    """The network with the seats joined in as extra nodes ``n_nodes + k``.

    Edge arrays (network edges first, then the partial edges of the snapped seats):
    ``u``, ``v``, ``length_m``, ``time_s``, ``good`` (of the class or better),
    ``segment`` (network segment), ``highway`` (code into the network's classes).
    ``index`` is a CSR matrix whose entry (u, v) is 1 + the edge kept between them
    (the lightest); ``lon``/``lat`` give every node's position.
    """

    u: np.ndarray
    v: np.ndarray
    length_m: np.ndarray
    time_s: np.ndarray
    good: np.ndarray
    segment: np.ndarray
    highway: np.ndarray
    index: sparse.csr_matrix
    lon: np.ndarray
    lat: np.ndarray

    def weights(self, values: np.ndarray) -> sparse.csr_matrix:
        """The graph with ``values`` (one per edge) as weights."""
        out = self.index.copy()
        out.data = values[self.index.data.astype(np.int64) - 1] + 1e-9
        return out

    def edges(self, path: np.ndarray) -> np.ndarray:
        """The edges between consecutive nodes of ``path``."""
        ptr, cols, data = self.index.indptr, self.index.indices, self.index.data
        out = np.empty(max(len(path) - 1, 0), dtype=np.int64)
        for k in range(len(out)):
            a, b = int(path[k]), int(path[k + 1])
            lo, hi = ptr[a], ptr[a + 1]
            j = lo + int(np.searchsorted(cols[lo:hi], b))
            out[k] = int(data[j]) - 1
        return out


def _graph(net: network.Network, snap: pd.DataFrame, good_class: np.ndarray) -> _Graph:
    """:class:`_Graph` of ``net`` with the snapped points of ``snap`` (in its row order)."""
    n = net.n_nodes
    good_edge = good_class[net.highway]
    seg_edge = np.full((net.n_segments, 2), -1, dtype=np.int64)  # [segment, 0 forward / 1 back]
    seg_edge[net.segment, np.where(net.forward, 0, 1)] = np.arange(net.n_edges)
    rows: list[tuple[int, int, int, float]] = []  # (u, v, network edge giving class/time, fraction)
    seg = snap["segment"].to_numpy(dtype=np.int64)
    frac = snap["fraction"].to_numpy(dtype=float)
    for k, (s, f) in enumerate(zip(seg, frac)):
        p = n + k
        a, b = int(net.seg_a[s]), int(net.seg_b[s])
        fwd, back = seg_edge[s]
        if fwd >= 0:
            rows += [(p, b, fwd, 1.0 - f), (a, p, fwd, f)]
        if back >= 0:
            rows += [(p, a, back, f), (b, p, back, 1.0 - f)]
        any_edge = fwd if fwd >= 0 else back
        if f == 0.0:  # on the node itself: joined to it whatever the segment's direction
            rows += [(p, a, any_edge, 0.0), (a, p, any_edge, 0.0)]
        elif f == 1.0:
            rows += [(p, b, any_edge, 0.0), (b, p, any_edge, 0.0)]
    for i in range(len(seg)):  # two points on one segment: along it, not via its ends
        for j in range(len(seg)):
            if i != j and seg[i] == seg[j] and frac[i] <= frac[j]:
                fwd, back = seg_edge[seg[i]]
                if fwd >= 0:
                    rows.append((n + i, n + j, fwd, frac[j] - frac[i]))
                if back >= 0:
                    rows.append((n + j, n + i, back, frac[j] - frac[i]))
    extra = np.array(rows, dtype=float).reshape(-1, 4)
    via = extra[:, 2].astype(np.int64)
    u = np.concatenate([net.u.astype(np.int64), extra[:, 0].astype(np.int64)])
    v = np.concatenate([net.v.astype(np.int64), extra[:, 1].astype(np.int64)])
    length = np.concatenate([net.length_m, net.length_m[via] * extra[:, 3]])
    time = np.concatenate([net.time_s, net.time_s[via] * extra[:, 3]])
    good = np.concatenate([good_edge, good_edge[via]])
    segment = np.concatenate([net.segment.astype(np.int64), net.segment[via].astype(np.int64)])
    highway = np.concatenate([net.highway, net.highway[via]])
    # one edge per node pair: the lightest by the route weight
    weight = np.where(good, 0.0, length) * METRE_WEIGHT_S + time
    order = np.lexsort((weight, v, u))
    first = np.ones(order.size, dtype=bool)
    first[1:] = (u[order][1:] != u[order][:-1]) | (v[order][1:] != v[order][:-1])
    kept = order[first]
    size = n + len(snap)
    index = sparse.csr_matrix((kept.astype(float) + 1.0, (u[kept], v[kept])), shape=(size, size))
    index.sort_indices()
    to_wgs = pyproj.Transformer.from_crs(net.crs, "EPSG:4326", always_xy=True)
    plon, plat = to_wgs.transform(snap["snap_x"].to_numpy(float), snap["snap_y"].to_numpy(float))
    return _Graph(
        u=u,
        v=v,
        length_m=length,
        time_s=time,
        good=good,
        segment=segment,
        highway=highway,
        index=index,
        lon=np.concatenate([net.lon, np.asarray(plon, dtype=float)]),
        lat=np.concatenate([net.lat, np.asarray(plat, dtype=float)]),
    )


def _path(pred: np.ndarray, source: int, target: int) -> np.ndarray | None:
    """Nodes from ``source`` to ``target`` in a predecessor array (``None``: unreachable)."""
    if target != source and pred[target] < 0:
        return None
    out = [target]
    while out[-1] != source:
        out.append(int(pred[out[-1]]))
    return np.asarray(out[::-1], dtype=np.int64)


# --------------------------------------------------------------------------- one route


@dataclass
class _Route:
    """One route's edges and its lower-class runs (metres)."""

    edges: np.ndarray
    length_m: float
    time_s: float
    lower_m: float
    start_run_m: float  # lower-class run that starts the route
    end_run_m: float  # lower-class run that ends it
    all_lower: bool

    @classmethod
    def of(cls, g: _Graph, edges: np.ndarray) -> _Route:
        edges = edges[g.length_m[edges] > 0.0]  # a seat on a node joins it at no length
        length = g.length_m[edges]
        low = ~g.good[edges]
        total = float(length.sum())
        lower = float(length[low].sum())
        if low.size == 0 or not low.any():
            start = end = 0.0
        elif low.all():
            start = end = total
        else:
            first_good = int(np.argmax(~low))
            last_good = low.size - 1 - int(np.argmax(~low[::-1]))
            start = float(length[:first_good].sum())
            end = float(length[last_good + 1 :].sum())
        return cls(
            edges=edges,
            length_m=total,
            time_s=float(g.time_s[edges].sum()),
            lower_m=lower,
            start_run_m=start,
            end_run_m=end,
            all_lower=bool(low.size and low.all()),
        )

    def ends(self, direction: str) -> tuple[float, float, float]:
        """Lower-class metres at the township's end, at the county seat's, and in between."""
        if self.all_lower:
            return self.lower_m, self.lower_m, 0.0
        town, county = (
            (self.start_run_m, self.end_run_m)
            if direction == "to_county_seat"
            else (self.end_run_m, self.start_run_m)
        )
        return town, county, max(self.lower_m - town - county, 0.0)

    def beyond_m(self, rule: Tolerance, direction: str) -> float:
        """Lower-class metres the rule does not allow."""
        town, county, middle = self.ends(direction)
        if self.all_lower:
            return max(self.lower_m - rule.township_end_m - rule.county_seat_end_m, 0.0)
        return (
            max(town - rule.township_end_m, 0.0)
            + max(county - rule.county_seat_end_m, 0.0)
            + middle
        )


# --------------------------------------------------------------------------- names of ways


def _way_lookup(
    road_data: network.RoadData | None, net: network.Network, segments: np.ndarray
) -> dict[int, tuple[int, str, str]]:
    """Network segment → (OSM way id, name, ref) for ``segments`` (way ``-1`` when unknown)."""
    out: dict[int, tuple[int, str, str]] = {int(s): (-1, "", "") for s in segments}
    if road_data is None or not len(segments) or "way" not in road_data.segments.columns:
        return out
    segs = np.unique(segments)
    a = net.node_id[net.seg_a[segs]]
    b = net.node_id[net.seg_b[segs]]
    rows = road_data.segments
    near = rows.loc[rows["u"].isin(np.concatenate([a, b])), ["way", "u", "v"]]
    pair_way: dict[tuple[int, int], int] = {}
    for way, u, v in near.itertuples(index=False):
        pair_way.setdefault((int(u), int(v)), int(way))
        pair_way.setdefault((int(v), int(u)), int(way))
    names = road_data.ways if road_data.ways is not None else pd.DataFrame(columns=["name", "ref"])
    for s, x, y in zip(segs, a, b):
        way = pair_way.get((int(x), int(y)), -1)
        name = ref = ""
        if way in names.index:
            name, ref = str(names.at[way, "name"] or ""), str(names.at[way, "ref"] or "")
        out[int(s)] = (way, name, ref)
    return out


def lower_pieces(check: ServiceCheck, *, lang: str = "zh", first: int | None = None) -> pd.Series:
    """The lower-class pieces of each seat's route (the direction the table reports), in words.

    One string per township seat (index as the table): ``幸福街（居住区道路）1,000 米；…``
    in ``zh``, ``幸福街 (residential) 1,000 m; …`` in ``en``; road names as OSM has
    them, ``无名道路`` / ``unnamed road`` without one; ``""`` for a route on class
    roads only or no route. ``first``: name the longest ``first`` pieces only, and
    say how many more there are.
    """
    routes = check.meta["routes"]
    shown = routes.loc[routes["worse"].astype(bool) & routes["lower"].astype(bool)]
    shown = shown.loc[shown["length_m"] > SLACK_M]
    links = dict(road_class_rules()["links"])
    template = label("road_links.piece", lang=lang)
    unnamed = label("services_map.unnamed_road", lang=lang)
    sep = label("road_links.piece_sep", lang=lang)
    more = label("services_map.more", lang=lang)
    if first is not None:
        shown = shown.sort_values("length_m", ascending=False, kind="stable")
    text = {
        seat: sep.join(
            template.format(
                road=r["road"] or unnamed,
                road_class=label(f"road_class.{links.get(r['highway'], r['highway'])}", lang=lang)
                if links.get(r["highway"], r["highway"]) in road_class_rules()["rank"]
                else r["highway"],
                metres=f"{float(r['length_m']):,.0f}",
            )
            for _, r in (group if first is None else group.head(first)).iterrows()
        )
        + (more.format(n=len(group) - first) if first is not None and len(group) > first else "")
        for seat, group in shown.groupby("seat", sort=False)
    }
    return pd.Series([text.get(i, "") for i in check.table.index], index=check.table.index)


def road_name(name: str, ref: str) -> str:
    """A road as people name it: ``name (ref)``, either alone, or ``""``."""
    if name and ref and ref not in name:
        return f"{name} ({ref})"
    return name or ref


# --------------------------------------------------------------------------- the check


def road_links(
    roads: network.RoadData | network.Network,
    places: gpd.GeoDataFrame,
    *,
    min_class: str = "secondary",
    mode: str | None = None,
    crs: str | None = None,
    rule: Tolerance | str = "default",
) -> ServiceCheck:
    """Each township seat's route to the county seat, and whether it stays on good roads.

    For each township seat and each direction (to the county seat and back), the
    route with the fewest metres on roads below ``min_class`` — among those the
    fastest — is found on the mode's whole network (every piece kept). The seat is
    **linked** under a rule when the lower-class road on that route lies only at its
    ends and within the rule's metres there (``rules/road_links.yml``): the
    ``default`` rule allows a stretch of town streets at each end, the ``strict``
    rule none. The worse direction counts, and the table says which one failed.

    Parameters
    ----------
    roads
        Road data (:class:`accessibility.network.RoadData`, e.g. ``study.roads``;
        the ways' names then name the lower-class pieces) or a built network (used
        as it is: its mode, its pieces, no names).
    places
        Classified places with ``level`` (exactly one ``county_seat``; the
        ``township_seat`` rows are tested), ``name`` and ``population``, any CRS.
    min_class
        Worst OSM class allowed (``"secondary"``), or a technical grade
        (``"grade_ii"``); see :func:`classes_at_least`.
    mode
        Travel mode of the network built from road data (default ``"car"``: one-way
        streets count); a network keeps its own.
    crs
        Metric CRS; default the network's (required for road data).
    rule
        The rule the result is stated under: a name of ``rules/road_links.yml`` or a
        :class:`Tolerance`. The strict rule is always computed beside it.

    Returns
    -------
    ServiceCheck
        ``table`` (one row per township seat, EPSG:4326): ``name``, ``population``,
        ``connected`` (under ``rule``), ``connected_strict``, ``reason`` (one of
        :data:`REASONS`), ``failed_direction`` (``""``, ``to_county_seat``,
        ``from_county_seat`` or ``both``; under ``rule``), ``direction`` (the worse
        one, whose figures follow), ``lower_m``, ``lower_share`` (of the route's
        length), ``township_end_lower_m``, ``county_seat_end_lower_m``,
        ``middle_lower_m``, ``beyond_m`` (lower-class metres ``rule`` does not
        allow; ``inf`` without a route), ``lower_pieces`` (``name (class) metres``
        of each lower-class piece), ``route_km``, ``route_min``, ``time_all_min``
        (fastest to the county seat over any road), ``detour`` (= route_min /
        time_all_min), ``leg_m`` (straight metres from the place node to its road).
        ``summary`` (one row, index ``"township_links"``): ``township_seats``,
        ``connected``, ``share_connected``, ``connected_strict``,
        ``share_connected_strict``, ``no_route``, ``min_class``, ``classes``,
        ``mode``, ``rule``, ``township_end_m``, ``county_seat_end_m``,
        ``county_seat_leg_m``, ``median_route_min``, ``median_time_all_min``.
        ``meta["routes"]``: one row per piece of each route (``seat``, ``name``,
        ``direction``, ``piece``, ``highway``, ``lower``, ``way``, ``road``,
        ``length_m``, ``worse``: the direction the table reports), WGS-84 lines.
        ``meta["sensitivity"]``: per rule, ``township_end_m``, ``county_seat_end_m``,
        ``township_seats``, ``connected``, ``share_connected``.
    """
    if isinstance(roads, network.Network):
        net, road_data = roads, None
        if mode is not None and mode != roads.mode:
            msg = f"the network is of mode {roads.mode!r}; give road data to use mode {mode!r}"
            raise ValidationError(msg)
    elif isinstance(roads, network.RoadData):
        if crs is None:
            msg = "road data carry no CRS: pass crs= (the region's metric CRS, e.g. study.crs)"
            raise ValidationError(msg)
        net, road_data = None, roads
    else:
        msg = f"roads must be RoadData or a Network (study.roads), got {type(roads).__name__}"
        raise ValidationError(msg)
    rule = tolerance(rule) if isinstance(rule, str) else rule
    if not isinstance(rule, Tolerance):
        msg = f"rule must be a rule name or a Tolerance, got {type(rule).__name__}"
        raise ValidationError(msg)
    strict = tolerance("strict")
    good_classes = classes_at_least(min_class)
    county, towns = seats(places)
    if net is None:
        assert road_data is not None
        net = network.build(road_data, mode=mode or "car", crs=str(crs), largest_component=False)
    n_towns = len(towns)
    points = pd.concat([towns.geometry.to_crs(net.crs), county.geometry.to_crs(net.crs)])
    snap = snapping.snap(
        net, gpd.GeoDataFrame(geometry=points.to_numpy(), crs=net.crs), max_snap_m=1e9
    )
    good_class = np.isin(np.asarray(net.highway_classes, dtype=object), good_classes)
    if not good_class[net.highway].any():
        log.warning("no road of class %s or better in the data: no township is linked", min_class)
    g = _graph(net, snap, good_class)
    c_node = net.n_nodes + n_towns
    weight = g.weights(np.where(g.good, 0.0, g.length_m) * METRE_WEIGHT_S + g.time_s)
    _, pred_from = dijkstra(weight, directed=True, indices=c_node, return_predecessors=True)
    _, pred_to = dijkstra(weight.T.tocsr(), directed=True, indices=c_node, return_predecessors=True)
    fastest = dijkstra(g.weights(g.time_s).T.tocsr(), directed=True, indices=c_node)

    routes_of: dict[tuple[int, str], _Route | None] = {}
    for k in range(n_towns):
        to = _path(pred_to, c_node, net.n_nodes + k)  # on the reversed graph: county → town
        back = _path(pred_from, c_node, net.n_nodes + k)
        routes_of[k, "to_county_seat"] = None if to is None else _Route.of(g, g.edges(to[::-1]))
        routes_of[k, "from_county_seat"] = None if back is None else _Route.of(g, g.edges(back))
    used = [r.edges for r in routes_of.values() if r is not None]
    ways = _way_lookup(
        road_data, net, np.unique(g.segment[np.concatenate(used)]) if used else np.array([], int)
    )
    rows, pieces = _seat_rows(g, towns, routes_of, rule, strict, ways, net.highway_classes)
    table = _table(towns, rows, fastest[net.n_nodes : net.n_nodes + n_towns], snap, n_towns)
    summary, sensitivity = _summary(table, min_class, good_classes, net.mode, rule, strict, snap)
    log.info(
        "%d of %d township seats linked to the county seat over %s-or-better roads "
        "(%s rule; %d under the strict rule)",
        int(table["connected"].sum()),
        n_towns,
        min_class,
        rule.name,
        int(table["connected_strict"].sum()),
    )
    routes = gpd.GeoDataFrame(
        pieces,
        columns=[
            "seat", "name", "direction", "piece", "highway", "lower", "way", "road",
            "length_m", "worse", "geometry",
        ],
        geometry="geometry",
        crs=4326,
    )  # fmt: skip
    return ServiceCheck(
        claim="township_links",
        table=table,
        summary=summary,
        meta={
            "min_class": str(min_class),
            "osm_min_class": osm_class(min_class),
            "classes": good_classes,
            "mode": net.mode,
            "crs": net.crs,
            "rule": rule,
            "strict": strict,
            "routes": routes,
            "sensitivity": sensitivity,
        },
    )


def _seat_rows(
    g: _Graph,
    towns: gpd.GeoDataFrame,
    routes_of: Mapping[tuple[int, str], _Route | None],
    rule: Tolerance,
    strict: Tolerance,
    ways: Mapping[int, tuple[int, str, str]],
    classes: list[str],
) -> tuple[list[dict[str, Any]], list[tuple[Any, ...]]]:
    """One row per seat (the worse direction's figures) and the pieces of every route."""
    rows: list[dict[str, Any]] = []
    pieces: list[tuple[Any, ...]] = []
    names = towns["name"] if "name" in towns.columns else pd.Series("", index=towns.index)
    for k, (seat_id, name) in enumerate(zip(towns.index, names)):
        judged: dict[str, tuple[bool, float, float, bool]] = {}
        for direction in DIRECTIONS:
            route = routes_of[k, direction]
            if route is None:
                judged[direction] = (False, np.inf, np.inf, False)
                continue
            beyond = route.beyond_m(rule, direction)
            judged[direction] = (
                beyond <= SLACK_M,
                beyond,
                route.lower_m,
                route.beyond_m(strict, direction) <= SLACK_M,
            )
        worse = max(DIRECTIONS, key=lambda d: (not judged[d][0], judged[d][1], judged[d][2]))
        route = routes_of[k, worse]
        failed = [d for d in DIRECTIONS if not judged[d][0]]
        row: dict[str, Any] = {
            "connected": all(judged[d][0] for d in DIRECTIONS),
            "connected_strict": all(judged[d][3] for d in DIRECTIONS),
            "failed_direction": "both" if len(failed) == 2 else (failed[0] if failed else ""),
            "direction": worse,
        }
        if route is None:
            row.update(
                reason="no_route",
                lower_m=np.inf,
                lower_share=np.nan,
                township_end_lower_m=np.nan,
                county_seat_end_lower_m=np.nan,
                middle_lower_m=np.nan,
                beyond_m=np.inf,
                lower_pieces="",
                route_km=np.inf,
                route_min=np.inf,
            )
        else:
            town, county, middle = route.ends(worse)
            row.update(
                reason=(
                    "lower_class_gap"
                    if not row["connected"]
                    else "class_roads_only"
                    if route.lower_m <= SLACK_M
                    else "within_tolerance"
                ),
                lower_m=route.lower_m,
                lower_share=route.lower_m / route.length_m if route.length_m > 0 else 0.0,
                township_end_lower_m=town,
                county_seat_end_lower_m=county,
                middle_lower_m=middle,
                beyond_m=judged[worse][1],
                route_km=route.length_m / 1000.0,
                route_min=route.time_s / 60.0,
            )
            lower_text = []
            for direction in DIRECTIONS:
                r = routes_of[k, direction]
                if r is None:
                    continue
                for i, piece in enumerate(_pieces(g, r, ways, classes)):
                    highway, lower, way, road, length, line = piece
                    pieces.append(
                        (seat_id, name, direction, i, highway, lower, way, road, length,
                         direction == worse, line)
                    )  # fmt: skip
                    if direction == worse and lower and length > SLACK_M:
                        lower_text.append(f"{road or '—'} ({highway}) {length:,.0f} m")
            row["lower_pieces"] = "; ".join(lower_text)
        rows.append(row)
    return rows, pieces


def _pieces(
    g: _Graph, route: _Route, ways: Mapping[int, tuple[int, str, str]], classes: list[str]
) -> list[tuple[str, bool, int, str, float, shapely.LineString]]:
    """A route cut where its class, its goodness or its way changes: ``(highway, lower,
    way, road name, metres, WGS-84 line)`` in route order."""
    out: list[tuple[str, bool, int, str, float, shapely.LineString]] = []
    edges = route.edges
    if not edges.size:
        return out
    def road(e: int) -> tuple[int, str]:
        way, name, ref = ways.get(int(g.segment[e]), (-1, "", ""))
        return way, road_name(name, ref)

    # one piece per named road (OSM often splits a street into several ways), else per way
    keys = [
        (classes[int(g.highway[e])], not bool(g.good[e]), road(e)[1] or road(e)[0])
        for e in edges
    ]
    start = 0
    for i in range(1, len(edges) + 1):
        if i < len(edges) and keys[i] == keys[start]:
            continue
        run = edges[start:i]
        highway, lower, _ = keys[start]
        way, name = road(int(run[0]))
        nodes = np.concatenate([g.u[run[:1]], g.v[run]])
        line = shapely.LineString(np.column_stack([g.lon[nodes], g.lat[nodes]]))
        out.append((highway, lower, way, name, float(g.length_m[run].sum()), line))
        start = i
    return out


_ROW_COLUMNS = (
    "connected", "connected_strict", "reason", "failed_direction", "direction", "lower_m",
    "lower_share", "township_end_lower_m", "county_seat_end_lower_m", "middle_lower_m",
    "beyond_m", "lower_pieces", "route_km", "route_min",
)  # fmt: skip


def _table(
    towns: gpd.GeoDataFrame,
    rows: list[dict[str, Any]],
    fastest_s: np.ndarray,
    snap: pd.DataFrame,
    n_towns: int,
) -> gpd.GeoDataFrame:
    frame = pd.DataFrame(rows, index=towns.index)
    time_all = np.asarray(fastest_s, dtype=float) / 60.0
    with np.errstate(invalid="ignore", divide="ignore"):
        detour = np.where(
            np.isfinite(frame["route_min"]) & (time_all > 0), frame["route_min"] / time_all, np.nan
        )
    columns = {
        "name": towns["name"] if "name" in towns.columns else pd.Series("", index=towns.index),
        "population": towns["population"]
        if "population" in towns.columns
        else pd.Series(np.nan, index=towns.index),
        **{c: frame[c] for c in _ROW_COLUMNS},
        "time_all_min": time_all,
        "detour": detour,
        "leg_m": snap["leg_m"].to_numpy(dtype=float)[:n_towns],
    }
    table = gpd.GeoDataFrame(columns, geometry=towns.geometry.to_crs(4326), index=towns.index)
    return table.astype({"connected": bool, "connected_strict": bool})


def _summary(
    table: gpd.GeoDataFrame,
    min_class: str,
    good_classes: list[str],
    mode: str,
    rule: Tolerance,
    strict: Tolerance,
    snap: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    n = len(table)
    linked = table["connected"].to_numpy(bool)
    routed = np.isfinite(table["route_min"].to_numpy(float))
    summary = pd.DataFrame(
        [
            {
                "township_seats": n,
                "connected": int(linked.sum()),
                "share_connected": float(linked.mean()),
                "connected_strict": int(table["connected_strict"].sum()),
                "share_connected_strict": float(table["connected_strict"].mean()),
                "no_route": int((~routed).sum()),
                "min_class": str(min_class),
                "classes": ", ".join(good_classes),
                "mode": mode,
                "rule": rule.name,
                "township_end_m": rule.township_end_m,
                "county_seat_end_m": rule.county_seat_end_m,
                "county_seat_leg_m": float(snap["leg_m"].iloc[-1]),
                "median_route_min": (
                    float(np.median(table["route_min"].to_numpy(float)[routed]))
                    if routed.any()
                    else np.nan
                ),
                "median_time_all_min": float(np.median(table["time_all_min"].to_numpy(float))),
            }
        ],
        index=pd.Index(["township_links"], name="claim"),
    )
    sensitivity = pd.DataFrame(
        [
            {
                "rule": r.name,
                "township_end_m": r.township_end_m,
                "county_seat_end_m": r.county_seat_end_m,
                "township_seats": n,
                "connected": int(table[col].sum()),
                "share_connected": float(table[col].mean()),
            }
            for r, col in ((rule, "connected"), (strict, "connected_strict"))
        ]
    ).set_index("rule")
    return summary, sensitivity


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


def roads_from_network(net: network.Network) -> network.RoadData:
    """The road data a network was built from, as far as the network keeps it.

    Each undirected segment becomes a segment row with its ``highway`` class and a
    one-way code from the directions the network allows (``0`` both, ``1`` only
    ``seg_a → seg_b``, ``-1`` only back). Way ids and names, tagged ``maxspeed`` and
    one-way exemptions are not kept by a network, so they are absent; only the
    network's kept part is there.
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
