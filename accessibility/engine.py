"""Nearest-facility times and counts within thresholds, for every origin at once.

Design
------
In:  a :class:`~accessibility.network.Network`, origins and facilities snapped to it
     (:func:`accessibility.snapping.snap` tables).
Out: per origin, for a set of facilities (a kind, a tier, or any scenario subset), the
     travel time to the nearest one and which one it is, and counts of facilities
     within given times.

How
---
:class:`Router` splits every snapped segment at its snap points, so each origin and
facility becomes a node of an *augmented* graph (times along a split edge are
proportional to length; a one-way edge stays one-way). Each facility gets a further
"door" node joined to its snap node by its off-network leg. Time *to* a facility is
a search *from* the facilities over the reversed graph: one multi-source Dijkstra
(``scipy.sparse.csgraph.dijkstra(min_only=True)``) per facility set, whose cost
depends on the graph, not on the number of origins; scipy reports which source
won, which is the nearest facility. The origin's own leg is added at the end::

    time(o) = leg_s(o) + min_f [ d(snap(o) → snap(f)) + leg_s(f) ]

Counts within ``T``, the (facility, origin) pairs within a limit and node times
under a finite limit (isochrones) are *bounded* searches over the same reversed
graph (:mod:`accessibility._bounded`, compiled): one Dijkstra per facility that
stops at ``T`` and touches only what it reaches, with one distance array per call
reset only where a search went, so the cost grows with the area reached, not with
the graph. The origins hanging on each reached node (``origin_prev``/``origin_next``
lists, built once per router) take their time ``(d + part) + leg`` from it; no
origins × nodes or facilities × nodes array is ever built.

A scenario (closing facilities, adding candidates already snapped) is a different
facility subset on the same :class:`Router`: no rebuild, no re-snap.

Tests: ``tests/test_engine.py`` — hand-worked graphs (one-way streets, two components,
an origin off the network, two points on one segment) and a property test against
per-facility networkx searches; ``tests/test_bounded.py`` — the bounded searches
against scipy and against dense per-facility searches, and their memory.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import dijkstra

from . import _bounded
from ._errors import ValidationError
from .network import Network, csr_from_edges
from .snapping import FLAG_FAR, FLAG_ROAD_CUT_OFF

log = logging.getLogger(__name__)

#: Result flags per origin (and group).
FLAG_OK = "ok"
FLAG_FAR_FROM_ROAD = "far_from_road"
FLAG_UNREACHABLE = "unreachable"
FLAG_NO_FACILITY = "no_facility"
#: The origin's own road is cut off from the network: its time is an estimate.
FLAG_CUT_OFF = FLAG_ROAD_CUT_OFF


@dataclass
class Router:
    """A network with snapped facilities built in, and snapped origins attached to it.

    Build it once per network and point set; run any number of facility subsets
    (kinds, tiers, scenarios) on it.

    Attributes
    ----------
    network
        The mode's network.
    origins, facilities
        The snap tables (index = ids), as returned by :func:`accessibility.snapping.snap`.
    facility_door
        Node index of each facility's door in the augmented graph (aligned with the
        facilities table's rows).
    origin_prev, origin_next
        For each origin, the augmented-graph nodes just before and after it along
        its segment (segment ends or facility snap points).
    origin_prev_s, origin_next_s
        Seconds from the origin's snap point to those nodes along the segment
        (``inf`` where the mode may not travel in that direction; ``0`` where the
        origin lies on the node itself).
    reverse
        CSR matrix of the reversed augmented graph, seconds.
    """

    network: Network
    origins: pd.DataFrame
    facilities: pd.DataFrame
    facility_door: np.ndarray
    origin_prev: np.ndarray
    origin_next: np.ndarray
    origin_prev_s: np.ndarray
    origin_next_s: np.ndarray
    reverse: sparse.csr_matrix

    def __post_init__(self) -> None:
        # per-origin arrays every query needs, prepared once
        self._leg_s = self.origins["leg_s"].to_numpy(float)
        self._leg_m = self.origins["leg_m"].to_numpy(float)
        self._far = (self.origins["flag"] == FLAG_FAR).to_numpy()
        self._cut_off = (self.origins["flag"] == FLAG_ROAD_CUT_OFF).to_numpy()
        self._facility_ids = self.facilities.index.to_numpy()
        self._first_door = self.reverse.shape[0] - len(self.facilities)
        # for the bounded searches, made on first use
        self._csr: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._attached: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    @classmethod
    def build(cls, network: Network, origins: pd.DataFrame, facilities: pd.DataFrame) -> Router:
        """Split the network's segments at the facilities' snap points and attach the origins.

        Parameters
        ----------
        network
            The network both snap tables were computed on.
        origins, facilities
            Snap tables (``segment``, ``fraction``, ``leg_s``…), index = ids. Ids must
            be unique within each table.

        Notes
        -----
        Facilities become nodes of the search graph; origins do not (their number
        does not change the graph). An origin at fraction ``t`` of a segment leaves
        it towards the nearest node ahead (``next``: a facility point or the
        segment's end ``seg_b``) if the segment may be driven ``seg_a → seg_b``, or
        the nearest node behind (``prev``) if it may be driven the other way; a point
        at the same position as a node *is* that node (zero time, any direction).
        """
        for name, table in (("origins", origins), ("facilities", facilities)):
            missing = {"segment", "fraction", "leg_s", "leg_m", "flag"} - set(table.columns)
            if missing:
                msg = f"{name} snap table lacks columns {sorted(missing)}; pass the output of snapping.snap()"
                raise ValidationError(msg)
            if not table.index.is_unique:
                msg = f"{name} ids must be unique"
                raise ValidationError(msg)
            if len(table) and (
                table["segment"].max() >= network.n_segments or table["segment"].min() < 0
            ):
                msg = f"{name} were snapped to another network (segment index out of range)"
                raise ValidationError(msg)

        n = network.n_nodes
        n_f = len(facilities)
        f_seg = facilities["segment"].to_numpy(np.int64)
        f_frac = facilities["fraction"].to_numpy(float)

        # A facility at a segment's end *is* that end node. Interior facility points
        # become new nodes, one per distinct (segment, fraction).
        f_node = np.where(f_frac <= 0.0, network.seg_a[f_seg], network.seg_b[f_seg]).astype(
            np.int64
        )
        inner = np.flatnonzero((f_frac > 0.0) & (f_frac < 1.0))
        order = inner[np.lexsort((f_frac[inner], f_seg[inner]))]
        k_seg, k_frac = f_seg[order], f_frac[order]
        distinct = np.ones(order.size, dtype=bool)
        distinct[1:] = (k_seg[1:] != k_seg[:-1]) | (k_frac[1:] != k_frac[:-1])
        f_node[order] = n + np.cumsum(distinct) - 1
        k_seg, k_frac, k_node = k_seg[distinct], k_frac[distinct], f_node[order][distinct]
        n_virtual = int(k_node.size)

        # Chains along each split segment: seg_a -> k1 -> k2 ... -> seg_b (sorted by fraction).
        first = np.ones(k_seg.size, dtype=bool)
        first[1:] = k_seg[1:] != k_seg[:-1]
        last = np.ones(k_seg.size, dtype=bool)
        last[:-1] = k_seg[1:] != k_seg[:-1]
        prev_node = np.where(first, network.seg_a[k_seg], np.roll(k_node, 1))
        prev_frac = np.where(first, 0.0, np.roll(k_frac, 1))
        p_from = np.concatenate([prev_node, k_node[last]])
        p_to = np.concatenate([k_node, network.seg_b[k_seg[last]]])
        p_seg = np.concatenate([k_seg, k_seg[last]])
        p_share = np.concatenate([k_frac - prev_frac, 1.0 - k_frac[last]])

        # For every directed edge lying on a split segment, one directed piece per piece.
        edge_order = np.argsort(network.segment, kind="stable")
        seg_sorted = network.segment[edge_order]
        lo = np.searchsorted(seg_sorted, p_seg, side="left")
        hi = np.searchsorted(seg_sorted, p_seg, side="right")
        counts = hi - lo
        piece_rep = np.repeat(np.arange(p_seg.size), counts)
        within = np.arange(piece_rep.size) - np.repeat(np.cumsum(counts) - counts, counts)
        edge = edge_order[lo[piece_rep] + within]
        fwd = network.forward[edge]
        a_node, b_node = p_from[piece_rep], p_to[piece_rep]
        e_u = np.where(fwd, a_node, b_node)
        e_v = np.where(fwd, b_node, a_node)
        e_w = network.time_s[edge] * p_share[piece_rep]

        # Doors: facility snap node -> door, weighted by the facility's leg.
        door = n + n_virtual + np.arange(n_f)
        n_aug = n + n_virtual + n_f
        u = np.concatenate([network.u, e_u, f_node])
        v = np.concatenate([network.v, e_v, door])
        w = np.concatenate([network.time_s, e_w, facilities["leg_s"].to_numpy(float)])
        reverse = csr_from_edges(v, u, w, n_aug)

        # Origins: the knots (segment ends and facility points) on either side.
        o_seg = origins["segment"].to_numpy(np.int64)
        o_frac = origins["fraction"].to_numpy(float)
        o_prev, o_prev_frac = network.seg_a[o_seg].astype(np.int64), np.zeros(o_seg.size)
        o_next, o_next_frac = network.seg_b[o_seg].astype(np.int64), np.ones(o_seg.size)
        if k_seg.size:
            key_k = k_seg + k_frac  # interior fractions keep the (segment, fraction) order
            key_o = o_seg + o_frac
            i_le = np.searchsorted(key_k, key_o, side="right") - 1
            i_ge = np.searchsorted(key_k, key_o, side="left")
            le, ge = np.clip(i_le, 0, None), np.clip(i_ge, None, k_seg.size - 1)
            has_prev = (i_le >= 0) & (k_seg[le] == o_seg)
            has_next = (i_ge < k_seg.size) & (k_seg[ge] == o_seg)
            o_prev[has_prev], o_prev_frac[has_prev] = k_node[le[has_prev]], k_frac[le[has_prev]]
            o_next[has_next], o_next_frac[has_next] = k_node[ge[has_next]], k_frac[ge[has_next]]
        t_fwd, t_bwd = _segment_times(network)
        return cls(
            network=network,
            origins=origins,
            facilities=facilities,
            facility_door=door,
            origin_prev=o_prev,
            origin_next=o_next,
            origin_prev_s=_part_time(o_frac - o_prev_frac, t_bwd[o_seg]),
            origin_next_s=_part_time(o_next_frac - o_frac, t_fwd[o_seg]),
            reverse=reverse,
        )

    # ------------------------------------------------------------------ queries
    def _facility_rows(self, facility_ids: Sequence[object] | pd.Index | None) -> np.ndarray:
        if facility_ids is None:
            return np.arange(len(self.facilities))
        ids = pd.Index(facility_ids)
        pos = self.facilities.index.get_indexer(ids)
        if (pos < 0).any():
            unknown = ids[pos < 0][:5].tolist()
            msg = f"facility ids not in this router: {unknown}; snap them with the others before building the Router"
            raise ValidationError(msg)
        return np.unique(pos)

    def _bounded_graph(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """CSR arrays of :attr:`reverse` for the bounded searches (made once)."""
        if self._csr is None:
            self._csr = _bounded.csr_arrays(self.reverse)
        return self._csr

    def _origin_lists(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per augmented-graph node, the origins that leave their segment through it (made once)."""
        if self._attached is None:
            self._attached = _bounded.attach_origins(
                self.origin_prev,
                self.origin_next,
                self.origin_prev_s,
                self.origin_next_s,
                self.reverse.shape[0],
            )
        return self._attached

    def _origin_times(self, dist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Seconds from each origin to the search's sources, given node distances.

        ``dist`` is one row (shape ``(n_nodes,)``) or a stack of rows. Returns the
        time from the origin's snap point (without its leg) and whether the way out
        through ``next`` (True) or ``prev`` (False) was used.
        """
        via_next = dist[..., self.origin_next] + self.origin_next_s
        via_prev = dist[..., self.origin_prev] + self.origin_prev_s
        use_next = via_next <= via_prev
        return np.where(use_next, via_next, via_prev), use_next

    def nearest(self, facility_ids: Sequence[object] | pd.Index | None = None) -> pd.DataFrame:
        """Travel time from every origin to the nearest of the given facilities.

        Parameters
        ----------
        facility_ids
            Ids (index values of the facilities snap table) forming the set; ``None``
            means all. An empty set gives a result flagged ``no_facility``.

        Returns
        -------
        pandas.DataFrame
            Indexed by origin id: ``time_s`` (seconds, including both off-network legs;
            ``inf`` when unreachable, NaN when the set is empty), ``facility_id`` (the
            nearest facility, missing when none), ``leg_m`` (the origin's leg, metres),
            ``flag`` (``ok``, ``far_from_road``, ``road_cut_off`` — the origin's
            own road is cut off from the network, the time is an estimate —,
            ``unreachable``, ``no_facility``).
        """
        rows = self._facility_rows(facility_ids)
        origins = self.origins
        n_o = len(origins)
        leg_m = self._leg_m
        if rows.size == 0:
            return pd.DataFrame(
                {
                    "time_s": np.full(n_o, np.nan),
                    "facility_id": np.full(n_o, None, dtype=object),
                    "leg_m": leg_m,
                    "flag": np.full(n_o, FLAG_NO_FACILITY, dtype=object),
                },
                index=origins.index,
            )
        dist, _, source = dijkstra(
            self.reverse,
            directed=True,
            indices=self.facility_door[rows],
            min_only=True,
            return_predecessors=True,
        )
        d, use_next = self._origin_times(dist)
        src = np.where(use_next, source[self.origin_next], source[self.origin_prev])
        reach = np.isfinite(d) & (src >= 0)
        time = np.where(reach, d + self._leg_s, np.inf)
        # winning door node -> facility row (doors are the last n_f nodes, in row order)
        fid = np.full(n_o, None, dtype=object)
        fid[reach] = self._facility_ids[src[reach] - self._first_door]
        flag = np.where(
            ~reach, FLAG_UNREACHABLE, np.where(self._far, FLAG_FAR_FROM_ROAD, FLAG_OK)
        ).astype(object)
        flag[reach & self._cut_off] = FLAG_CUT_OFF
        return pd.DataFrame(
            {"time_s": time, "facility_id": fid, "leg_m": leg_m, "flag": flag}, index=origins.index
        )

    def count_within(
        self,
        thresholds_s: Sequence[float],
        facility_ids: Sequence[object] | pd.Index | None = None,
    ) -> pd.DataFrame:
        """Number of facilities reachable from every origin within each threshold.

        Parameters
        ----------
        thresholds_s
            Time limits in seconds (each > 0); a facility counts when
            ``leg_s(o) + d(o → f) + leg_s(f) <= T``.
        facility_ids
            The facility set; ``None`` means all.

        Returns
        -------
        pandas.DataFrame
            Indexed by origin id, one int column per threshold, named by the
            threshold in seconds.

        Notes
        -----
        One bounded search per facility, up to the largest threshold: its cost
        grows with the area reached, not with the size of the network.
        """
        thresholds = np.asarray(list(thresholds_s), dtype=float)
        if (
            thresholds.size == 0
            or not np.all(thresholds > 0)
            or not np.all(np.isfinite(thresholds))
        ):
            msg = f"thresholds must be finite and > 0 seconds, got {list(thresholds_s)}"
            raise ValidationError(msg)
        rows = self._facility_rows(facility_ids)
        counts = _bounded.count_within(
            self._bounded_graph(),
            self.facility_door[rows],
            thresholds,
            self._origin_lists(),
            self._leg_s,
        )
        return pd.DataFrame(
            counts, index=self.origins.index, columns=[float(t) for t in thresholds]
        )

    def pairs_within(
        self,
        limit_s: float,
        facility_ids: Sequence[object] | pd.Index | None = None,
    ) -> sparse.csr_matrix:
        """Travel times of every (facility, origin) pair within a limit.

        Parameters
        ----------
        limit_s
            Time limit in seconds (> 0), legs included.
        facility_ids
            The facility set; rows follow ``Router.facilities`` order (repeats
            removed); ``None`` means all.

        Returns
        -------
        scipy.sparse.csr_matrix
            Shape ``(n_facilities_in_set, n_origins)``; entry = seconds from the
            origin to the facility (``leg(o) + d(o → f) + leg(f)``) where it is
            ``<= limit_s``; absent otherwise. A pair at zero seconds is stored as
            ``1e-9`` so that it is not mistaken for an absent entry. Built from one
            bounded search per facility: never an origins × nodes array.
        """
        limit = float(limit_s)
        if not np.isfinite(limit) or limit <= 0:
            msg = f"limit_s must be finite and > 0 seconds, got {limit_s!r}"
            raise ValidationError(msg)
        rows = self._facility_rows(facility_ids)
        shape = (rows.size, len(self.origins))
        if rows.size == 0:
            return sparse.csr_matrix(shape)
        r, c, vals = _bounded.pairs_within(
            self._bounded_graph(),
            self.facility_door[rows],
            limit,
            self._origin_lists(),
            self._leg_s,
        )
        return sparse.csr_matrix((vals, (r, c)), shape=shape)

    def node_times(
        self,
        facility_ids: Sequence[object] | pd.Index | None = None,
        *,
        limit_s: float = np.inf,
    ) -> np.ndarray:
        """Seconds from every *network* node to the nearest facility of the set.

        The basis of isochrones: a node with a time ``<= T`` lies within ``T`` of a
        facility (the facility's leg included; a walker's own leg to the road is not).
        ``inf`` beyond ``limit_s`` or when unreachable. Shape ``(network.n_nodes,)``.
        A finite ``limit_s`` (seconds) makes it a bounded search whose cost grows
        with the area reached.
        """
        rows = self._facility_rows(facility_ids)
        n = self.network.n_nodes
        if rows.size == 0:
            return np.full(n, np.inf)
        limit = float(limit_s)
        if np.isfinite(limit) and limit >= 0:
            nodes, times = _bounded.reach(self._bounded_graph(), self.facility_door[rows], limit)
            out = np.full(n, np.inf)
            inside = nodes < n  # not the split points and doors
            out[nodes[inside]] = times[inside]
            return out
        dist = dijkstra(
            self.reverse,
            directed=True,
            indices=self.facility_door[rows],
            min_only=True,
            limit=limit_s,
        )
        return np.asarray(dist[:n], dtype=float)


def _segment_times(network: Network) -> tuple[np.ndarray, np.ndarray]:
    """Fastest time over each segment in the ``seg_a → seg_b`` and ``seg_b → seg_a`` directions (inf: not allowed)."""
    t_fwd = np.full(network.n_segments, np.inf)
    t_bwd = np.full(network.n_segments, np.inf)
    f = network.forward
    np.minimum.at(t_fwd, network.segment[f], network.time_s[f])
    np.minimum.at(t_bwd, network.segment[~f], network.time_s[~f])
    return t_fwd, t_bwd


def _part_time(share: np.ndarray, full: np.ndarray) -> np.ndarray:
    """Time over ``share`` of a segment taking ``full`` seconds; zero for a zero share even when ``full`` is inf."""
    with np.errstate(invalid="ignore"):
        return np.where(share <= 0.0, 0.0, share * full)


def group_key(group: str) -> str:
    """Column prefix of a facility group: ``"school:primary"`` → ``"school_primary"``."""
    return group.replace(":", "_")


#: What :func:`limit_text` writes: digits, with a decimal part when there is one.
LIMIT_PATTERN = r"\d+(?:\.\d+)?"
_SHARE_COLUMN = re.compile(
    rf"(?P<side>within|beyond)_(?P<t>{LIMIT_PATTERN})_(?P<what>share|pop_share)"
)


def limit_text(minutes: float) -> str:
    """A time limit in minutes as column names write it: plain decimals, never an exponent.

    ``15`` → ``"15"``, ``2.5`` → ``"2.5"``, ``1e9`` → ``"1000000000"``, ``0.001`` →
    ``"0.001"``: the shortest such text that reads back as the same number, so
    ``float(limit_text(t)) == t`` for every finite ``t`` ≥ 0.
    """
    return str(np.format_float_positional(float(minutes), trim="-"))


def count_column(key: str, limit: float) -> str:
    """Column of the facilities of a group within ``limit`` minutes: ``bus_n15``."""
    return f"{key}_n{limit_text(limit)}"


def share_column(side: str, limit: float, *, population: bool = False) -> str:
    """Column of a share of origins within (or beyond) ``limit`` minutes.

    ``share_column("within", 15)`` → ``"within_15_share"``;
    ``share_column("beyond", 30, population=True)`` → ``"beyond_30_pop_share"``.
    :func:`parse_share_column` reads such a name back.
    """
    if side not in ("within", "beyond"):
        msg = f"side must be 'within' or 'beyond', got {side!r}"
        raise ValidationError(msg)
    return f"{side}_{limit_text(limit)}_{'pop_share' if population else 'share'}"


def parse_share_column(name: str) -> tuple[str, str, bool] | None:
    """``"within_2.5_pop_share"`` → ``("within", "2.5", True)``; ``None`` for other names.

    The limit is returned as written (``float`` of it is the limit in minutes).
    """
    match = _SHARE_COLUMN.fullmatch(str(name))
    if match is None:
        return None
    return match.group("side"), match.group("t"), match.group("what") == "pop_share"


def check_thresholds(thresholds_min: Sequence[float]) -> list[float]:
    """Validate travel-time thresholds in minutes (finite, > 0) and return them sorted, without repeats."""
    msg = f"thresholds must be one or more finite, positive (> 0 minutes) numbers, e.g. [15, 30]; got {thresholds_min!r}"
    try:
        values = [float(t) for t in thresholds_min]
    except (TypeError, ValueError) as exc:
        raise ValidationError(msg) from exc
    if not values or any(not np.isfinite(t) or t <= 0 for t in values):
        raise ValidationError(msg)
    return sorted(set(values))


def access(
    router: Router,
    facilities: pd.DataFrame,
    groups: Sequence[str],
    *,
    thresholds_min: Sequence[float],
) -> pd.DataFrame:
    """Nearest facility and counts within thresholds, per origin, for several facility groups.

    Parameters
    ----------
    router
        Built on the origins and on (at least) these facilities.
    facilities
        Classified facilities (``kind``, ``tiers``, ``name``), index = facility id.
    groups
        ``"kind"`` or ``"kind:tier"`` strings, e.g. ``["school:primary", "health", "bus"]``.
    thresholds_min
        Time limits in minutes for the counts.

    Returns
    -------
    pandas.DataFrame
        One row per origin (index = origin id) and, per group with prefix
        ``key = group_key(group)``: ``{key}_time_min`` (minutes; ``inf`` unreachable,
        NaN when the group has no facility), ``{key}_facility`` (id),
        ``{key}_facility_name``, ``{key}_flag`` and ``{key}_n{T}`` (count within T
        minutes). A group without facilities is logged and flagged ``no_facility``
        with NaN times: *no data* (无数据), which every output keeps apart from
        ``unreachable`` (``inf``: facilities exist, none is reached).
    """
    from .classify import parse_group, select

    thresholds = check_thresholds(thresholds_min)
    if isinstance(groups, str) or not list(groups):
        msg = f"groups must be a non-empty list like ['school:primary', 'health'], got {groups!r}"
        raise ValidationError(msg)
    for g in groups:
        parse_group(g)
    names = facilities["name"] if "name" in facilities.columns else pd.Series(dtype=object)
    columns: dict[str, object] = {}
    for g in groups:
        key = group_key(g)
        ids = select(facilities, g)
        if len(ids) == 0:
            log.warning(
                "no facility of group %r in the data: its results are flagged 'no_facility' "
                "(no data, not unreachable)",
                g,
            )
        near = router.nearest(ids)
        columns[f"{key}_time_min"] = near["time_s"].to_numpy() / 60.0
        columns[f"{key}_facility"] = near["facility_id"].to_numpy()
        columns[f"{key}_facility_name"] = names.reindex(near["facility_id"]).to_numpy()
        columns[f"{key}_flag"] = near["flag"].to_numpy()
        counts = router.count_within([t * 60.0 for t in thresholds], ids)
        for t, col in zip(thresholds, counts.columns):
            columns[count_column(key, t)] = counts[col].to_numpy()
    return pd.DataFrame(columns, index=router.origins.index)
