"""A unit of a region split by unit on shared data: whether it is one, its exact horizon, its network.

In:  a region and unit, a travel mode (and its speed overrides), the road data read
     inside the unit's clip area. Out: :func:`is_split`, the time up to which results
     are exact (:func:`exact_horizon_s`, inverse :func:`buffer_for`) and the unit's
     network with roads leaving the clip counted as connected (:func:`open_network`).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import shapely
from scipy.sparse.csgraph import connected_components

from .. import network, regions
from ..settings import settings

log = logging.getLogger(__package__)


#: Share of ``buffer_m`` not counted on when deriving the exact horizon: it absorbs
#: the UTM scale factor (≤ 0.1 % within a zone) and the polygonal approximation of
#: the buffer's round corners (≤ 0.5 %), so that a straight line of the horizon's
#: length from any point of the boundary surely stays inside the clip area.
EXACT_MARGIN = 0.01


def is_split(region: regions.Region, unit: regions.Unit | None) -> bool:
    """Whether ``unit`` is one unit of ``region`` analysed apart from the others on
    shared data (a unit with a data source of its own is a region of its own)."""
    return unit is not None and region.per_unit and not unit.source


def max_speed_kmh(mode: str, *, speed_overrides: dict[str, float] | None = None) -> float:
    """The fastest speed anything moves at in a mode's analysis, km/h.

    The largest speed of the mode's table after ``speed_overrides`` (tagged
    ``maxspeed`` only lowers it), or the walking speed of the off-network legs
    (``settings.walk_speed_kmh``) when that is faster.
    """
    speeds = network.mode_rules(mode, overrides=speed_overrides)["speeds_kmh"]
    return max([float(v) for v in speeds.values()] + [float(settings.walk_speed_kmh)])


def exact_horizon_s(buffer_m: float, *, v_max_kmh: float) -> float:
    """Travel time (seconds) up to which results are exact despite data clipped at ``buffer_m``.

    A route of time ``t`` never gets farther than ``v_max · t`` (straight line) from
    its origin, so if the origin lies inside the boundary and
    ``t ≤ buffer_m / v_max``, the route lies within the buffered area and the
    clipped data hold it. ``buffer_m`` is reduced by :data:`EXACT_MARGIN` first.

    Parameters
    ----------
    buffer_m
        Metres of data kept beyond the boundary.
    v_max_kmh
        Fastest speed of the mode, km/h (:func:`max_speed_kmh`).
    """
    return buffer_m * (1.0 - EXACT_MARGIN) / (v_max_kmh / 3.6)


def buffer_for(time_s: float, *, v_max_kmh: float) -> float:
    """The ``buffer_m`` (metres) whose exact horizon is ``time_s`` seconds (inverse of
    :func:`exact_horizon_s`): ``v_max × time``, plus the margin."""
    return time_s * (v_max_kmh / 3.6) / (1.0 - EXACT_MARGIN)


def open_network(
    roads: network.RoadData,
    clip: shapely.Geometry,
    *,
    mode: str,
    crs: str,
    cache_dir: Path,
    speed_overrides: dict[str, float] | None = None,
) -> network.Network:
    """The network of a unit of a split region: roads leaving the data area count as connected.

    :func:`accessibility.network.build` keeps the largest strongly connected component.
    On data clipped to a unit's buffered boundary that would drop roads whose way
    back to the rest of the network runs outside the clip (a one-way loop, a lane
    reaching the main roads only in the next county), although the whole region's
    network keeps them; points would then snap elsewhere and results near the
    unit's border would differ from the unsplit analysis. Here every road node
    outside ``clip`` (the far end of a road crossing its edge) is joined both ways
    to one virtual node standing for the world beyond before the largest strongly
    connected component is taken; the virtual node is not part of the result.
    Routing is unchanged: a road reaching the rest only beyond the clip stays
    unreachable from it inside the unit (its times are marked beyond the buffer).

    Parameters
    ----------
    roads
        Road data read inside ``clip``.
    clip
        The clip area (WGS-84), the unit's boundary buffered by ``buffer_m``.
    mode, crs, speed_overrides
        As for :func:`accessibility.network.build`.
    cache_dir
        Folder of the cached network, ``network_<mode>_<key>_open.npz``.
    """
    key = network.cache_key(roads, mode=mode, crs=crs, speed_overrides=speed_overrides)
    path = Path(cache_dir) / f"network_{mode}_{key}_open.npz"
    if path.is_file():
        log.info("loading cached %s network from %s", mode, path)
        return network.Network.load(path)
    every = network.build(
        roads, mode=mode, crs=crs, speed_overrides=speed_overrides, largest_component=False
    )
    n = every.n_nodes
    outside = np.flatnonzero(~shapely.contains_xy(clip, every.lon, every.lat))
    world = np.full(outside.size, n)
    u = np.concatenate([every.u, outside, world])
    v = np.concatenate([every.v, world, outside])
    graph = network.csr_from_edges(u, v, np.ones(u.size), n + 1)
    n_comp, labels = connected_components(graph, directed=True, connection="strong")
    sizes = np.bincount(labels[:n], minlength=n_comp)
    keep = labels[:n] == int(np.argmax(sizes))
    net = _keep_nodes(every, keep)
    net.meta["open_boundary_nodes"] = int(outside.size)
    net.save(path)
    log.info(
        "%s network of a split unit: %d nodes kept, %d dropped (roads leaving the clip count as connected)",
        mode,
        net.n_nodes,
        n - net.n_nodes,
    )
    return net


def _keep_nodes(net: network.Network, keep: np.ndarray) -> network.Network:
    """The part of a network on the nodes where ``keep`` is true, with counts of what was dropped."""
    part = network.select_nodes(net, np.flatnonzero(keep))
    seg_length = np.zeros(net.n_segments)
    seg_length[net.segment] = net.length_m
    kept_seg = np.zeros(net.n_segments, dtype=bool)
    kept_seg[net.segment[keep[net.u] & keep[net.v]]] = True
    part.meta.update(
        nodes_kept=part.n_nodes,
        nodes_dropped=int(net.n_nodes - part.n_nodes),
        edges_dropped=int(part.meta.get("edges_input", net.n_edges) - part.n_edges),
        length_dropped_km=round(float(seg_length[~kept_seg].sum()) / 1000.0, 3),
    )
    return part
