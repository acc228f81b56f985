"""osmnx and networkx graphs in and out: an analyst's graph as road data, a network as a graph.

Design
------
In:  an osmnx graph, a :class:`networkx.MultiDiGraph` as ``ox.graph_from_place``,
     ``ox.graph_from_xml`` or ``ox.io.load_graphml`` return it: graph attribute ``crs``;
     node ``x``/``y`` in that CRS; edge ``highway``, ``length`` (metres), ``oneway``
     (bool), ``maxspeed`` (OSM text, e.g. ``"50"`` or ``"30 mph"``), ``osmid``, ``name``,
     ``ref``, ``area``, and on simplified graphs ``geometry`` (a LineString from ``u``
     to ``v``); when the graph holds them, also the tags the OSM reader uses for access
     (:data:`accessibility.sources.osm.ACCESS_TAGS`), one-way exemptions
     (:data:`~accessibility.sources.osm.EXEMPT_TAGS`) and levels (``bridge``,
     ``tunnel``, ``covered``, ``layer``). osmnx keeps only the tags named in
     ``ox.settings.useful_tags_way``: add :data:`WAY_TAGS` there before building the
     graph, or access and level rules see only ``access``, ``bridge`` and ``tunnel``.
Out: :func:`roads_from_osmnx` — :class:`~accessibility.network.RoadData` in the form
     the OSM reader (:mod:`accessibility.sources.osm`) gives it, so that
     :func:`accessibility.network.build` applies the speed, one-way and access rules of
     ``rules/speeds.yml`` to the graph's roads exactly as to a file it read;
     :func:`from_osmnx` — that network for one travel mode; :func:`to_osmnx` — a
     network as an osmnx-compatible MultiDiGraph (``crs``; node ``x``/``y``,
     ``lon``/``lat``; edge ``length``, ``travel_time``, ``highway``, ``oneway``) for
     ``ox.plot_graph``, ``ox.routing.shortest_path`` and networkx's algorithms.

How
---
- **Direction.** An edge whose ``oneway`` is true is a one-way segment ``u → v``.
  Another edge and its twin (``v → u`` over the same geometry reversed, with the same
  tags, as osmnx adds for a two-way street) make one two-way segment; an edge without
  a twin (its twin removed, say by a truncation) stays one-way in its own direction.
  The mode's rules then decide as for a file: walkers ignore one-way streets.
- **Geometry.** The points of an edge's ``geometry`` between its end nodes become
  nodes of their own, with negative ids below every id of the graph (numbered in the
  order of the graph's edges, so not comparable between two graphs), so that the
  segments follow the road and snapping projects a point onto the curve, not onto
  the chord between the end nodes. The edge's ``length`` is shared among its pieces
  in proportion to their geodesic lengths, so the road keeps osmnx's length (without
  ``length``, the pieces' geodesic lengths).
- **Merged ways.** osmnx's simplification merges the ways met along a chain of
  nodes into one edge and keeps one of each *value* of their tags (a list when they
  differ, in no particular order), without saying which part had which and leaving
  out the parts without the tag. The values kept apply to the whole edge; where
  there are several, the most restrictive: ``highway`` — the worst class by the
  ``rank`` of ``rules/road_classes.yml`` (a slip road just after the class it joins;
  classes outside the rank after every ranked one, the last in alphabetical order
  the worst); ``maxspeed`` — the lowest (km/h; unreadable values such as
  ``"signals"`` are ignored); each access tag — the value that closes the way to the
  most modes of ``rules/speeds.yml``; a one-way exemption — only when all its
  values agree. Off the ground when any value says so; ``osmid`` — the smallest;
  ``name``, ``ref`` — the first in sort order. An ``area=yes`` edge is read as the
  reader reads such a way: the outline of a pedestrian square becomes class
  ``pedestrian_area``, other highway areas are not roads.
- **Exactness.** On a graph simplified with ``edge_attrs_differ=WAY_TAGS``
  (``ox.simplify_graph``), or not simplified, every merged edge is one set of tags
  and the network is the reader's, up to osmnx's great-circle lengths (on the
  Finnish extracts of the tests, times within 0.35 % of the reader's for walking,
  cycling and driving). With osmnx's default simplification a tag of one part
  spreads over the merged edge: the same extracts gave up to 10 % (a walk in
  central Helsinki, where many ways carry ``foot``/``access`` tags) and 8 % (car).
  The log counts the edges whose tags had several values.
- **CRS.** Node ``x``/``y`` and geometries are read in the graph's ``crs`` and
  turned into WGS-84 degrees for the road data. A graph without ``crs`` whose
  coordinates all lie within longitude/latitude ranges is read as EPSG:4326 (osmnx's
  default), and the log says so; otherwise it is an error. The network of
  :func:`from_osmnx` is in the graph's own CRS when that is projected in metres (an
  ``ox.project_graph`` result), else in the UTM zone of the nodes' centre, as the
  rest of the package chooses it (:func:`accessibility.regions.metric_crs`).

Tests: ``tests/test_osmnx.py`` — a real extract read by osmnx and by the package's
own reader (times to the nearest school agree), osmnx's shortest paths on an
exported network against the package's own search, and hand-built graphs for
one-way streets in and out, a curved simplified edge, lists of values, CRS cases and
bad input.
"""

from __future__ import annotations

import ast
import functools
import logging
import math
import numbers
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
import pyproj
import shapely

from . import network, regions
from ._errors import ValidationError
from ._validate import check_degrees, check_metric_crs
from .network import Network, RoadData, road_class_rules
from .sources import osm

log = logging.getLogger(__name__)

_GEOD = pyproj.Geod(ellps="WGS84")
#: Tags that put a way off the ground (see :func:`accessibility.sources.osm.is_raised`).
_LEVEL_TAGS = ("tunnel", "bridge", "covered", "layer")
#: The way tags the conversion reads besides osmnx's ``length``, ``oneway``, ``osmid``,
#: ``name`` and ``ref``: add them to ``ox.settings.useful_tags_way`` before building a
#: graph, and pass them as ``edge_attrs_differ`` to ``ox.simplify_graph`` so that no
#: edge merges ways that differ in them (see "Exactness" in the module docstring).
WAY_TAGS: tuple[str, ...] = (
    "highway",
    "area",
    "maxspeed",
    *osm.ACCESS_TAGS,
    *osm.EXEMPT_TAGS,
    *_LEVEL_TAGS,
)
_TRUE = {"true", "yes", "1"}


# --------------------------------------------------------------------------- values


def _values(value: Any) -> list[str]:
    """The values of one edge attribute as stripped, non-empty strings (a list for several)."""
    if value is None:
        return []
    if isinstance(value, str) and value.startswith("[") and value.endswith("]"):
        try:  # a list written out as text (GraphML read without osmnx)
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            pass
    items = value if isinstance(value, (list, tuple, set)) else [value]
    out = []
    for item in items:
        if item is None or (isinstance(item, float) and math.isnan(item)):
            continue
        text = str(item).strip()
        if text:
            out.append(text)
    return out


def _class_key(highway: str) -> tuple[int, bool, str]:
    rules = road_class_rules()
    rank: list[str] = list(rules["rank"])
    base = dict(rules["links"]).get(highway, highway)
    return (rank.index(base) if base in rank else len(rank), base != highway, highway)


def worst_class(value: Any) -> str | None:
    """The ``highway`` class an edge counts as: the worst of its values.

    Parameters
    ----------
    value
        An edge's ``highway``: one class, or a list of the classes of the ways
        osmnx merged into the edge.

    Returns
    -------
    str or None
        The class ranked worst in ``rules/road_classes.yml`` (a slip road just after
        the class it joins; classes outside the rank after every ranked one, the
        last in alphabetical order the worst); ``None`` when the edge has no class
        (it is not a road).
    """
    values = _values(value)
    return max(values, key=_class_key) if values else None


def lowest_maxspeed(value: Any) -> float:
    """An edge's ``maxspeed`` in km/h: the lowest of its readable values, NaN when none.

    Text is read as the OSM reader reads it (:func:`accessibility.sources.osm.parse_maxspeed`:
    ``"50"`` → 50, ``"30 mph"`` → 48.3, ``"CN:urban"`` → unreadable); a number is km/h.
    """
    items = value if isinstance(value, (list, tuple, set)) else [value]
    speeds = []
    for item in items:
        if isinstance(item, numbers.Number) and not isinstance(item, bool):
            speeds.append(float(item))
        else:
            speeds.extend(osm.parse_maxspeed(text) for text in _values(item))
    speeds = [s for s in speeds if math.isfinite(s) and s > 0]
    return min(speeds) if speeds else math.nan


@functools.cache
def _modes_closed(key: str, value: str) -> int:
    """How many modes of ``rules/speeds.yml`` a way tagged only ``key=value`` is closed to."""
    frame = pd.DataFrame({"access": [f"{key}={value}"]})
    return sum(
        int(network.access_denied(frame, network.mode_rules(mode))[0]) for mode in network.modes()
    )


def _access(data: dict[str, Any]) -> str:
    tags = {}
    for key in osm.ACCESS_TAGS:
        values = [v.split(";")[0].strip().lower() for v in _values(data.get(key))]
        if values:
            tags[key] = min(values, key=lambda v, k=key: (-_modes_closed(k, v), v))
    return osm.access_string(tags)


def _exempt(data: dict[str, Any]) -> str:
    pairs = []
    for key in osm.EXEMPT_TAGS:
        values = set(_values(data.get(key)))
        if len(values) == 1:  # parts that disagree: no exemption
            pairs.append(f"{key}={values.pop()}")
    return ";".join(pairs)


def _raised(data: dict[str, Any]) -> bool:
    return any(osm.is_raised({key: v}) for key in _LEVEL_TAGS for v in _values(data.get(key)))


def _way_id(value: Any) -> int:
    ids = []
    for text in _values(value):
        try:
            ids.append(int(float(text)))
        except ValueError:
            continue
    return min(ids) if ids else -1


def _is_oneway(value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    return any(v.lower() in _TRUE for v in _values(value))


def _length(value: Any) -> float:
    try:
        length = float(value)
    except (TypeError, ValueError):
        return math.nan
    return length if math.isfinite(length) and length >= 0 else math.nan


@dataclass(frozen=True)
class _Tags:
    """What the road data keep of one edge."""

    highway: str
    maxspeed: float
    exempt: str
    access: str
    raised: bool
    way: int
    name: str
    ref: str

    def twin_key(self) -> tuple[Any, ...]:
        """The tags an edge and its twin share (NaN made comparable)."""
        speed = None if math.isnan(self.maxspeed) else self.maxspeed
        return (self.highway, speed, self.exempt, self.access, self.raised)


def _edge_tags(data: dict[str, Any]) -> _Tags | None:
    """The road data's tags of an edge; ``None`` when it is not a road."""
    highway = worst_class(data.get("highway"))
    if highway is None:
        return None
    area = _values(data.get("area"))
    if area and all(a == "yes" for a in area):
        highway = osm.AREA_HIGHWAYS.get(highway)  # a square's outline, or not a road
        if highway is None:
            return None
    names = sorted(_values(data.get("name")))
    refs = sorted(_values(data.get("ref")))
    return _Tags(
        highway=highway,
        maxspeed=lowest_maxspeed(data.get("maxspeed")),
        exempt=_exempt(data),
        access=_access(data),
        raised=_raised(data),
        way=_way_id(data.get("osmid")),
        name=names[0] if names else "",
        ref=refs[0] if refs else "",
    )


# --------------------------------------------------------------------------- checks


def _check_graph(graph: Any) -> None:
    if not isinstance(graph, nx.MultiDiGraph):
        kind = type(graph).__name__
        how = (
            "convert it with networkx.MultiDiGraph(graph) (an undirected graph's edges then run both ways)"
            if isinstance(graph, nx.Graph)
            else "build one with osmnx (ox.graph_from_place, ox.graph_from_xml) or read one with ox.io.load_graphml"
        )
        msg = f"graph must be a networkx.MultiDiGraph as osmnx makes it, got {kind}; {how}"
        raise ValidationError(msg)
    if graph.number_of_nodes() == 0:
        msg = (
            "graph has no nodes; check the query that built it (the place name, polygon or "
            "file of ox.graph_from_place / ox.graph_from_xml) and that its network_type has roads there"
        )
        raise ValidationError(msg)
    if graph.number_of_edges() == 0:
        msg = (
            f"graph has {graph.number_of_nodes()} nodes but no edges; build it from an area "
            "with roads (osmnx's graph_from_* functions make the roads edges)"
        )
        raise ValidationError(msg)
    bad = [n for n in graph.nodes if not _is_int(n)]
    if bad:
        msg = (
            f"graph node ids must be integers (OSM ids), got e.g. {bad[:3]!r}; relabel them with "
            "networkx.convert_node_labels_to_integers(graph), or read GraphML with ox.io.load_graphml"
        )
        raise ValidationError(msg)


def _is_int(node: Any) -> bool:
    return isinstance(node, (int, np.integer)) and not isinstance(node, bool)


def _node_arrays(graph: nx.MultiDiGraph) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Node ids (int64) and ``x``/``y`` (float) in the graph's order."""
    ids = np.fromiter((int(n) for n in graph.nodes), dtype=np.int64, count=len(graph))
    x = np.empty(ids.size)
    y = np.empty(ids.size)
    missing = []
    for i, (node, data) in enumerate(graph.nodes(data=True)):
        try:
            x[i] = float(data["x"])
            y[i] = float(data["y"])
        except (KeyError, TypeError, ValueError):
            missing.append(node)
            x[i] = y[i] = math.nan
    bad = missing or [int(n) for n in ids[~(np.isfinite(x) & np.isfinite(y))]]
    if bad:
        msg = (
            f"{len(bad)} graph nodes lack numeric x/y coordinates (e.g. {bad[:3]}); every node "
            "needs x and y in the graph's crs, as osmnx sets them"
        )
        raise ValidationError(msg)
    return ids, x, y


def _degrees(x: np.ndarray, y: np.ndarray) -> bool:
    return bool(np.all((x >= -180.0) & (x <= 180.0)) and np.all((y >= -90.0) & (y <= 90.0)))


def _crs_of(graph: nx.MultiDiGraph, x: np.ndarray, y: np.ndarray) -> pyproj.CRS:
    value = graph.graph.get("crs")
    if value is None:
        if not _degrees(x, y):
            msg = (
                "graph has no 'crs' and its node x/y are not longitude/latitude degrees "
                f"(x {x.min():.6g}..{x.max():.6g}, y {y.min():.6g}..{y.max():.6g}); set the CRS "
                "they are in, e.g. graph.graph['crs'] = 'EPSG:32650'"
            )
            raise ValidationError(msg)
        log.warning(
            "graph has no 'crs'; its node x/y lie within longitude/latitude ranges: read as "
            "EPSG:4326 (set graph.graph['crs'] to say so)"
        )
        return pyproj.CRS.from_epsg(4326)
    try:
        crs = pyproj.CRS.from_user_input(value)
    except pyproj.exceptions.CRSError as exc:
        msg = (
            f"graph.graph['crs'] = {value!r} is not a coordinate reference system; set it to "
            "the CRS of the nodes' x/y, e.g. 'EPSG:4326' (osmnx's default) or a UTM zone"
        )
        raise ValidationError(msg) from exc
    if crs.is_geographic and not _degrees(x, y):
        msg = (
            f"graph.graph['crs'] is geographic ({crs.name}) but node x/y are not degrees "
            f"(x {x.min():.6g}..{x.max():.6g}, y {y.min():.6g}..{y.max():.6g}); set it to the "
            "projected CRS the coordinates are in"
        )
        raise ValidationError(msg)
    return crs


def _crs_text(crs: pyproj.CRS) -> str:
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.to_wkt()


def _is_metric(crs: pyproj.CRS) -> bool:
    return crs.is_projected and {axis.unit_name for axis in crs.axis_info} == {"metre"}


# --------------------------------------------------------------------------- graph -> roads


def _inner_points(
    geometry: Any, start: tuple[float, float], end: tuple[float, float]
) -> tuple[tuple[float, float], ...]:
    """The points of an edge's geometry between its end nodes, from ``start`` to ``end``.

    The geometry's first and last points are the end nodes themselves; a geometry
    drawn from ``end`` to ``start`` is turned round; repeated points are dropped.
    """
    if geometry is None:
        return ()
    if isinstance(geometry, str):
        try:
            geometry = shapely.from_wkt(geometry)
        except shapely.errors.GEOSException as exc:
            msg = f"edge geometry {geometry[:60]!r} is not WKT; give a shapely LineString"
            raise ValidationError(msg) from exc
    if not isinstance(geometry, shapely.LineString) or geometry.is_empty:
        return ()
    coords = [(float(cx), float(cy)) for cx, cy, *_ in geometry.coords]
    if len(coords) < 3:
        return ()
    if math.dist(coords[0], end) + math.dist(coords[-1], start) < math.dist(
        coords[0], start
    ) + math.dist(coords[-1], end):
        coords.reverse()
    inner = []
    last = start
    for point in coords[1:-1]:
        if point != last:
            inner.append(point)
            last = point
    while inner and inner[-1] == end:
        inner.pop()
    return tuple(inner)


@dataclass
class _Segment:
    """One segment of the road data before its geometry is cut into pieces."""

    u: int
    v: int
    inner: tuple[tuple[float, float], ...]
    tags: _Tags
    length: float
    oneway: int


def _segments(
    graph: nx.MultiDiGraph, xy: dict[int, tuple[float, float]]
) -> tuple[list[_Segment], dict[str, int]]:
    """One segment per one-way edge and per pair of twin edges (see the module docstring)."""
    segments: list[_Segment] = []
    waiting: dict[tuple[Any, ...], list[int]] = {}
    not_roads = 0
    several = 0
    for u, v, data in graph.edges(data=True):
        tags = _edge_tags(data)
        if tags is None:
            not_roads += 1
            continue
        several += any(isinstance(data.get(t), (list, tuple, set)) for t in WAY_TAGS)
        u, v = int(u), int(v)
        inner = _inner_points(data.get("geometry"), xy[u], xy[v])
        if not _is_oneway(data.get("oneway")):
            twins = waiting.get((v, u, inner[::-1], tags.twin_key()))
            if twins:
                segments[twins.pop()].oneway = 0
                continue
            waiting.setdefault((u, v, inner, tags.twin_key()), []).append(len(segments))
        segments.append(_Segment(u, v, inner, tags, _length(data.get("length")), 1))
    counts = {
        "graph_nodes": graph.number_of_nodes(),
        "graph_edges": graph.number_of_edges(),
        "edges_not_roads": not_roads,
        "two_way_edges_without_twin": sum(len(w) for w in waiting.values()),
        "edges_with_several_values": several,
    }
    if several:
        log.warning(
            "%d graph edges merge ways whose tags differ (lists of values): each is read with "
            "its most restrictive value; for the ways' own tags simplify the graph with "
            "ox.simplify_graph(G, edge_attrs_differ=accessibility.convert.WAY_TAGS)",
            several,
        )
    if not_roads:
        log.info("%d graph edges have no highway class (or are areas) and are not roads", not_roads)
    if counts["two_way_edges_without_twin"]:
        log.info(
            "%d two-way graph edges have no twin running back: kept one-way in their own direction",
            counts["two_way_edges_without_twin"],
        )
    return segments, counts


@dataclass
class _Pieces:
    """Every segment cut at the points of its geometry."""

    u: np.ndarray  # node ids of the pieces' ends (int64)
    v: np.ndarray
    of: np.ndarray  # the segment each piece belongs to
    new_ids: np.ndarray  # the nodes made for the points, and their x/y in the graph's CRS
    new_xy: np.ndarray


def _cut(segments: list[_Segment], first_id: int) -> _Pieces:
    """Cut segments at the points of their geometries, numbering new nodes down from ``first_id``."""
    new_ids: list[int] = []
    new_xy: list[tuple[float, float]] = []
    piece_u: list[int] = []
    piece_v: list[int] = []
    piece_of: list[int] = []
    next_id = first_id
    for k, seg in enumerate(segments):
        chain = [seg.u]
        for point in seg.inner:
            new_ids.append(next_id)
            new_xy.append(point)
            chain.append(next_id)
            next_id -= 1
        chain.append(seg.v)
        piece_u.extend(chain[:-1])
        piece_v.extend(chain[1:])
        piece_of.extend([k] * (len(chain) - 1))
    return _Pieces(
        u=np.asarray(piece_u, dtype=np.int64),
        v=np.asarray(piece_v, dtype=np.int64),
        of=np.asarray(piece_of, dtype=np.int64),
        new_ids=np.asarray(new_ids, dtype=np.int64),
        new_xy=np.asarray(new_xy, dtype=float).reshape(-1, 2),
    )


def _node_table(
    ids: np.ndarray, x: np.ndarray, y: np.ndarray, pieces: _Pieces, crs: pyproj.CRS
) -> pd.DataFrame:
    """The pieces' nodes in WGS-84 degrees: the graph's nodes they use, then the new ones."""
    used = np.unique(np.concatenate([pieces.u, pieces.v]))
    used = used[np.isin(used, ids)]
    position = pd.Index(ids).get_indexer(used)
    to_wgs = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    lon, lat = to_wgs.transform(
        np.concatenate([x[position], pieces.new_xy[:, 0]]),
        np.concatenate([y[position], pieces.new_xy[:, 1]]),
    )
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    if not (np.isfinite(lon).all() and np.isfinite(lat).all()):
        msg = (
            f"some graph coordinates cannot be turned from {crs.name} into longitude/latitude; "
            "is graph.graph['crs'] the CRS of x/y?"
        )
        raise ValidationError(msg)
    node_id = np.concatenate([used, pieces.new_ids])
    return pd.DataFrame({"lon": lon, "lat": lat}, index=pd.Index(node_id, name="id"))


def _piece_lengths(segments: list[_Segment], pieces: _Pieces, nodes: pd.DataFrame) -> np.ndarray:
    """Metres per piece: its segment's length shared by the pieces' geodesic lengths
    (NaN where the segment has no length: the reader's geodesic then)."""
    a = nodes.index.get_indexer(pieces.u)
    b = nodes.index.get_indexer(pieces.v)
    lon, lat = nodes["lon"].to_numpy(), nodes["lat"].to_numpy()
    _, _, geodesic = _GEOD.inv(lon[a], lat[a], lon[b], lat[b])
    geodesic = np.asarray(geodesic, dtype=float)
    of = pieces.of
    total = np.bincount(of, weights=geodesic, minlength=len(segments))[of]
    count = np.bincount(of, minlength=len(segments))[of]
    share = np.where(total > 0, geodesic / np.where(total > 0, total, 1.0), 1.0 / count)
    return np.array([s.length for s in segments], dtype=float)[of] * share


def _segment_table(segments: list[_Segment], pieces: _Pieces, length: np.ndarray) -> pd.DataFrame:
    """The reader's segment table, one row per piece."""
    tags = [segments[k].tags for k in pieces.of.tolist()]
    return pd.DataFrame(
        {
            "way": np.array([t.way for t in tags], dtype=np.int64),
            "u": pieces.u,
            "v": pieces.v,
            "highway": [t.highway for t in tags],
            "oneway": np.array([segments[k].oneway for k in pieces.of.tolist()], dtype=np.int8),
            "maxspeed": np.array([t.maxspeed for t in tags], dtype=float),
            "exempt": [t.exempt for t in tags],
            "access": [t.access for t in tags],
            "raised": np.array([t.raised for t in tags], dtype=bool),
            "length_m": length,
        }
    )


def _way_names(segments: list[_Segment], kept: pd.Series) -> pd.DataFrame:
    """``name`` and ``ref`` by way id, for the named ways among ``kept``."""
    names = {
        (s.tags.way, s.tags.name, s.tags.ref)
        for s in segments
        if s.tags.way >= 0 and (s.tags.name or s.tags.ref)
    }
    ways = pd.DataFrame(sorted(names), columns=["way", "name", "ref"]).astype({"way": np.int64})
    ways = ways.drop_duplicates("way").set_index("way")
    return ways.loc[ways.index.isin(kept.unique())]


def _read(graph: nx.MultiDiGraph, clip: shapely.Geometry | None) -> tuple[RoadData, pyproj.CRS]:
    _check_graph(graph)
    ids, x, y = _node_arrays(graph)
    crs = _crs_of(graph, x, y)
    if clip is not None:
        check_degrees(clip, "clip polygon")
    xy = {int(i): (float(a), float(b)) for i, a, b in zip(ids.tolist(), x.tolist(), y.tolist())}
    segments, counts = _segments(graph, xy)
    if not segments:
        msg = (
            f"none of the graph's {counts['graph_edges']} edges has a 'highway' class; build it "
            "from OSM highways (ox.graph_from_place / ox.graph_from_xml), not from other ways"
        )
        raise ValidationError(msg)
    pieces = _cut(segments, first_id=min(int(ids.min()), 0) - 1)
    nodes = _node_table(ids, x, y, pieces, crs)
    table = _segment_table(segments, pieces, _piece_lengths(segments, pieces, nodes))
    if clip is not None:
        nodes, table = osm.clip_roads(nodes, table, clip)
        if table.empty:
            msg = "no road of the graph lies inside the clip area; does the graph cover the region?"
            raise ValidationError(msg)
    counts["geometry_points"] = int(pieces.new_ids.size)
    roads = RoadData(
        nodes=nodes, segments=table, meta=counts, ways=_way_names(segments, table["way"])
    )
    return roads, crs


def roads_from_osmnx(graph: nx.MultiDiGraph, *, clip: shapely.Geometry | None = None) -> RoadData:
    """Return the roads of an osmnx graph as road data, as the OSM reader gives them.

    Parameters
    ----------
    graph
        An osmnx graph (:class:`networkx.MultiDiGraph` with ``crs``, node ``x``/``y``
        and edge ``highway``; see the module docstring for the other attributes read).
    clip
        Optional polygon in WGS-84 degrees: only the segments with at least one end
        inside are kept, as :func:`accessibility.sources.osm.read` clips.

    Returns
    -------
    RoadData
        Nodes in WGS-84 degrees (the graph's ids; the points of edge geometries with
        negative ids); one segment per piece of a one-way edge or of a pair of twin
        edges, with ``length_m`` from the edges' ``length``; ``ways`` from ``osmid``,
        ``name`` and ``ref``; ``meta`` counts the graph's nodes and edges, the edges
        that are not roads, the two-way edges without a twin, the edges whose tags
        had several values and the geometry points.

    Raises
    ------
    ValidationError
        Not a MultiDiGraph, no nodes or edges, node ids other than integers, nodes
        without ``x``/``y``, no usable ``crs``, or no edge with a ``highway`` class.
    """
    return _read(graph, clip)[0]


def from_osmnx(
    graph: nx.MultiDiGraph,
    *,
    mode: str,
    crs: str | None = None,
    speed_overrides: dict[str, float] | None = None,
    largest_component: bool = True,
) -> Network:
    """Build the network of one travel mode from an osmnx graph.

    Parameters
    ----------
    graph
        An osmnx graph (see :func:`roads_from_osmnx`).
    mode
        Travel mode from ``rules/speeds.yml``.
    crs
        Metric CRS (metres) of the network's ``x``/``y``; default the graph's own
        CRS when it is projected in metres, else the UTM zone of the nodes' centre.
    speed_overrides, largest_component
        As for :func:`accessibility.network.build`.

    Returns
    -------
    Network
        Built by :func:`accessibility.network.build` from :func:`roads_from_osmnx`:
        the mode's speeds, one-way and access rules; edge lengths are the graph's
        ``length``. ``meta["graph"]`` holds the counts of the conversion.
    """
    network.mode_rules(mode, overrides=speed_overrides)  # fail early on an unknown mode
    if crs is not None:
        check_metric_crs(crs)
    roads, source = _read(graph, None)
    if crs is None:
        if _is_metric(source):
            crs = _crs_text(source)
        else:
            extent = shapely.MultiPoint(roads.nodes[["lon", "lat"]].to_numpy()).envelope
            crs = regions.metric_crs(extent)
    net = network.build(
        roads,
        mode=mode,
        crs=crs,
        speed_overrides=speed_overrides,
        largest_component=largest_component,
    )
    net.meta["graph"] = dict(roads.meta)
    return net


# --------------------------------------------------------------------------- network -> graph


def to_osmnx(net: Network) -> nx.MultiDiGraph:
    """Return a network as an osmnx-compatible :class:`networkx.MultiDiGraph`.

    Parameters
    ----------
    net
        A network of one travel mode.

    Returns
    -------
    networkx.MultiDiGraph
        Graph attributes ``crs`` (the network's metric CRS) and ``mode``. Nodes keyed
        by :attr:`Network.node_id` (OSM ids; points of osmnx geometries keep their
        negative ids) with ``x``/``y`` (metres, in ``crs``) and ``lon``/``lat``
        (degrees, WGS-84). One edge per directed edge of the network (the parallel
        edges of two roads between the same nodes keep keys 0, 1…) with ``length``
        (metres), ``travel_time`` (seconds for the mode), ``highway``, ``oneway``
        (the mode may use the edge's road in this direction only) and ``reversed``
        (the edge runs against the road's segment). ``ox.plot_graph``,
        ``ox.routing.shortest_path(G, a, b, weight="travel_time")``,
        ``ox.io.save_graphml`` and networkx's algorithms take it as it is.
    """
    if not isinstance(net, Network):
        msg = f"net must be an accessibility Network (network.build, convert.from_osmnx), got {type(net).__name__}"
        raise ValidationError(msg)
    graph = nx.MultiDiGraph(crs=net.crs, mode=net.mode)
    graph.add_nodes_from(
        (i, {"x": x, "y": y, "lon": lon, "lat": lat})
        for i, x, y, lon, lat in zip(
            net.node_id.tolist(), net.x.tolist(), net.y.tolist(), net.lon.tolist(), net.lat.tolist()
        )
    )
    directions = np.bincount(net.segment, minlength=net.n_segments)
    oneway = directions[net.segment] == 1
    classes = np.asarray(net.highway_classes, dtype=object)[net.highway]
    graph.add_edges_from(
        (
            a,
            b,
            {"length": length, "travel_time": t, "highway": h, "oneway": one, "reversed": back},
        )
        for a, b, length, t, h, one, back in zip(
            net.node_id[net.u].tolist(),
            net.node_id[net.v].tolist(),
            net.length_m.tolist(),
            net.time_s.tolist(),
            classes.tolist(),
            oneway.tolist(),
            (~net.forward).tolist(),
        )
    )
    return graph
