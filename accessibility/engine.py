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

Counts within ``T`` are bounded searches from each facility (``limit=T``) over the
same reversed graph, in chunks, never an origins × nodes matrix.

A scenario (closing facilities, adding candidates already snapped) is a different
facility subset on the same :class:`Router`: no rebuild, no re-snap.

Tests: ``tests/test_engine.py`` — hand-worked graphs (one-way streets, two components,
an origin off the network, two points on one segment) and a property test against
per-facility networkx searches.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import dijkstra

from ._errors import ValidationError
from .network import Network, csr_from_edges
from .snapping import FLAG_FAR

log = logging.getLogger(__name__)

#: Result flags per origin (and group).
FLAG_OK = "ok"
FLAG_FAR_FROM_ROAD = "far_from_road"
FLAG_UNREACHABLE = "unreachable"
FLAG_NO_FACILITY = "no_facility"

_COUNT_CHUNK = 64


@dataclass
class Router:
    """An augmented graph holding a network plus snapped origins and facilities.

    Build it once per network and point set; run any number of facility subsets
    (kinds, tiers, scenarios) on it.

    Attributes
    ----------
    network
        The mode's network.
    origins, facilities
        The snap tables (index = ids), as returned by :func:`accessibility.snapping.snap`.
    origin_node, facility_door
        Node index of each origin's snap point and each facility's door in the
        augmented graph (aligned with the snap tables' rows).
    reverse
        CSR matrix of the reversed augmented graph, seconds.
    """

    network: Network
    origins: pd.DataFrame
    facilities: pd.DataFrame
    origin_node: np.ndarray
    facility_door: np.ndarray
    reverse: sparse.csr_matrix

    @classmethod
    def build(cls, network: Network, origins: pd.DataFrame, facilities: pd.DataFrame) -> Router:
        """Split the network's segments at the snap points and build the reversed graph.

        Parameters
        ----------
        network
            The network both snap tables were computed on.
        origins, facilities
            Snap tables (``segment``, ``fraction``, ``leg_s``…), index = ids. Ids must
            be unique within each table.
        """
        for name, table in (("origins", origins), ("facilities", facilities)):
            missing = {"segment", "fraction", "leg_s", "leg_m", "flag"} - set(table.columns)
            if missing:
                msg = f"{name} snap table lacks columns {sorted(missing)}; pass the output of snapping.snap()"
                raise ValidationError(msg)
            if not table.index.is_unique:
                msg = f"{name} ids must be unique"
                raise ValidationError(msg)
            if len(table) and (table["segment"].max() >= network.n_segments or table["segment"].min() < 0):
                msg = f"{name} were snapped to another network (segment index out of range)"
                raise ValidationError(msg)

        n = network.n_nodes
        n_o, n_f = len(origins), len(facilities)
        seg = np.concatenate([origins["segment"].to_numpy(np.int64), facilities["segment"].to_numpy(np.int64)])
        frac = np.concatenate([origins["fraction"].to_numpy(float), facilities["fraction"].to_numpy(float)])

        # A point at a segment's end *is* that end node. Interior points become new
        # nodes, one per distinct (segment, fraction): two points at the same place
        # share a node, so the time between them is zero whatever the one-way rules.
        point_node = np.where(frac <= 0.0, network.seg_a[seg], network.seg_b[seg]).astype(np.int64)
        inner = np.flatnonzero((frac > 0.0) & (frac < 1.0))
        order = inner[np.lexsort((frac[inner], seg[inner]))]
        s_seg, s_frac = seg[order], frac[order]
        distinct = np.ones(order.size, dtype=bool)
        distinct[1:] = (s_seg[1:] != s_seg[:-1]) | (s_frac[1:] != s_frac[:-1])
        point_node[order] = n + np.cumsum(distinct) - 1
        s_seg, s_frac, s_node = s_seg[distinct], s_frac[distinct], point_node[order][distinct]
        n_virtual = int(distinct.sum())

        # Chains along each split segment: seg_a -> p1 -> p2 ... -> seg_b (sorted by fraction).
        new_seg = np.ones(s_seg.size, dtype=bool)
        new_seg[1:] = s_seg[1:] != s_seg[:-1]
        prev_node = np.where(new_seg, network.seg_a[s_seg], np.roll(s_node, 1))
        prev_frac = np.where(new_seg, 0.0, np.roll(s_frac, 1))
        last = np.ones(s_seg.size, dtype=bool)
        last[:-1] = s_seg[1:] != s_seg[:-1]
        # pieces: (from, to, segment, fraction of segment) in the seg_a -> seg_b direction
        p_from = np.concatenate([prev_node, s_node[last]])
        p_to = np.concatenate([s_node, network.seg_b[s_seg[last]]])
        p_seg = np.concatenate([s_seg, s_seg[last]])
        p_share = np.concatenate([s_frac - prev_frac, 1.0 - s_frac[last]])

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
        f_snap = point_node[n_o:]
        f_leg = facilities["leg_s"].to_numpy(float)

        n_aug = n + n_virtual + n_f
        u = np.concatenate([network.u, e_u, f_snap])
        v = np.concatenate([network.v, e_v, door])
        w = np.concatenate([network.time_s, e_w, f_leg])
        reverse = csr_from_edges(v, u, w, n_aug)
        return cls(
            network=network,
            origins=origins,
            facilities=facilities,
            origin_node=point_node[:n_o],
            facility_door=door,
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
            ``flag`` (``ok``, ``far_from_road``, ``unreachable``, ``no_facility``).
        """
        rows = self._facility_rows(facility_ids)
        origins = self.origins
        leg_s = origins["leg_s"].to_numpy(float)
        far = (origins["flag"] == FLAG_FAR).to_numpy()
        if rows.size == 0:
            return pd.DataFrame(
                {
                    "time_s": np.full(len(origins), np.nan),
                    "facility_id": pd.Series([pd.NA] * len(origins), dtype=object).to_numpy(),
                    "leg_m": origins["leg_m"].to_numpy(float),
                    "flag": np.full(len(origins), FLAG_NO_FACILITY, dtype=object),
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
        d = dist[self.origin_node]
        src = source[self.origin_node]
        reach = np.isfinite(d) & (src >= 0)
        time = np.where(reach, d + leg_s, np.inf)
        # map winning door node -> facility id
        door_to_row = np.full(self.reverse.shape[0], -1, dtype=np.int64)
        door_to_row[self.facility_door] = np.arange(len(self.facilities))
        fid = np.full(len(origins), None, dtype=object)
        fid[reach] = self.facilities.index.to_numpy()[door_to_row[src[reach]]]
        flag = np.where(~reach, FLAG_UNREACHABLE, np.where(far, FLAG_FAR_FROM_ROAD, FLAG_OK)).astype(object)
        return pd.DataFrame(
            {"time_s": time, "facility_id": fid, "leg_m": origins["leg_m"].to_numpy(float), "flag": flag},
            index=origins.index,
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
        """
        thresholds = np.asarray(list(thresholds_s), dtype=float)
        if thresholds.size == 0 or not np.all(thresholds > 0) or not np.all(np.isfinite(thresholds)):
            msg = f"thresholds must be finite and > 0 seconds, got {list(thresholds_s)}"
            raise ValidationError(msg)
        rows = self._facility_rows(facility_ids)
        leg_s = self.origins["leg_s"].to_numpy(float)
        counts = np.zeros((len(self.origins), thresholds.size), dtype=np.int64)
        limit = float(thresholds.max())
        for start in range(0, rows.size, _COUNT_CHUNK):
            doors = self.facility_door[rows[start : start + _COUNT_CHUNK]]
            dist = dijkstra(self.reverse, directed=True, indices=doors, limit=limit)
            total = dist[:, self.origin_node] + leg_s[None, :]
            counts += (total[:, :, None] <= thresholds[None, None, :]).sum(axis=0)
        return pd.DataFrame(counts, index=self.origins.index, columns=[float(t) for t in thresholds])


def group_key(group: str) -> str:
    """Column prefix of a facility group: ``"school:primary"`` → ``"school_primary"``."""
    return group.replace(":", "_")


def check_thresholds(thresholds_min: Sequence[float]) -> list[float]:
    """Validate travel-time thresholds in minutes (finite, > 0) and return them sorted."""
    try:
        values = [float(t) for t in thresholds_min]
    except (TypeError, ValueError) as exc:
        msg = f"thresholds must be numbers of minutes, got {thresholds_min!r}"
        raise ValidationError(msg) from exc
    if not values or any(not np.isfinite(t) or t <= 0 for t in values):
        msg = f"thresholds must be finite and > 0 minutes, got {list(thresholds_min)}"
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
        minutes). A group without facilities is logged and flagged ``no_facility``.
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
            log.warning("no facility of group %r in this region: its results are flagged 'no_facility'", g)
        near = router.nearest(ids)
        columns[f"{key}_time_min"] = near["time_s"].to_numpy() / 60.0
        columns[f"{key}_facility"] = near["facility_id"].to_numpy()
        columns[f"{key}_facility_name"] = names.reindex(near["facility_id"]).to_numpy()
        columns[f"{key}_flag"] = near["flag"].to_numpy()
        counts = router.count_within([t * 60.0 for t in thresholds], ids)
        for t, col in zip(thresholds, counts.columns):
            columns[f"{key}_n{t:g}"] = counts[col].to_numpy()
    return pd.DataFrame(columns, index=router.origins.index)
