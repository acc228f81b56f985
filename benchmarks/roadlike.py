"""Synthetic road-like graphs for benchmarks.

:func:`roadlike` lays out a jittered grid in UTM 50N metres near 114°E 34°N and
returns it as :class:`accessibility.network.RoadData`, the same shape an OSM read
produces, so it goes through ``network.build`` like real data:

- about ``sqrt(n) × sqrt(n)`` nodes; each grid column and row has its own spacing
  (150–400 m) and every node is moved by up to ±40 m;
- a hierarchy of classes: every 20th grid line is ``primary``, every 5th
  ``secondary``; the other lines are cut into short ways (8 segments) that are
  ``residential``, ``unclassified`` or ``track``;
- about 15 % of the minor grid segments and 2 % of the arterial ones are removed;
- about 5 % of the segments belong to one-way ways (direction random);
- diagonal shortcuts across about 4 % of the grid cells;
- OSM-like node ids (int64, from 10⁹) assigned in random order, so that node order
  carries no spatial locality (as with real OSM ids).

Everything is vectorised; 300k nodes take about a second.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyproj

from accessibility.network import RoadData

#: The metric CRS the layout is drawn in.
CRS = "EPSG:32650"
#: Layout origin (south-west corner), UTM 50N metres: about 114.3°E, 34.0°N.
X0, Y0 = 250_000.0, 3_765_000.0

_MINOR = np.array(["residential", "unclassified", "track"], dtype=object)
_MINOR_P = np.array([0.5, 0.35, 0.15])
_WAY_LEN = 8  # segments per minor way
_ART_LEN = 40  # segments per arterial way


def _line_class(line: np.ndarray) -> np.ndarray:
    """Class code of a grid line: 0 primary, 1 secondary, 2 minor."""
    return np.where(line % 20 == 0, 0, np.where(line % 5 == 0, 1, 2))


def roadlike(n_nodes: int, *, seed: int = 0) -> RoadData:
    """Return a road-like network of about ``n_nodes`` nodes as road data.

    Parameters
    ----------
    n_nodes
        Approximate number of grid nodes (the grid is ``nc × nr`` with
        ``nc = round(sqrt(n))``); removed segments may leave a few nodes unused.
    seed
        Seed of the random layout; the same seed gives the same roads.

    Returns
    -------
    RoadData
        Nodes (index = OSM-like id, ``lon``/``lat``) and segments (``way``, ``u``,
        ``v``, ``highway``, ``oneway`` int8, ``maxspeed`` NaN, ``exempt`` "").
    """
    if n_nodes < 4:
        msg = f"n_nodes must be at least 4, got {n_nodes}"
        raise ValueError(msg)
    rng = np.random.default_rng(seed)
    nc = max(2, round(np.sqrt(n_nodes)))
    nr = max(2, int(np.ceil(n_nodes / nc)))
    n = nr * nc

    # Node positions: per-line spacing plus a jitter per node.
    xs = np.concatenate([[0.0], np.cumsum(rng.uniform(150.0, 400.0, nc - 1))])
    ys = np.concatenate([[0.0], np.cumsum(rng.uniform(150.0, 400.0, nr - 1))])
    gx = np.tile(xs, nr) + rng.uniform(-40.0, 40.0, n)
    gy = np.repeat(ys, nc) + rng.uniform(-40.0, 40.0, n)
    to_wgs = pyproj.Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
    lon, lat = to_wgs.transform(X0 + gx, Y0 + gy)
    osm_id = 1_000_000_000 + rng.permutation(n).astype(np.int64)

    grid = np.arange(n, dtype=np.int64).reshape(nr, nc)
    r_h, c_h = np.divmod(np.arange(nr * (nc - 1)), nc - 1)  # horizontal edge (r, c)-(r, c+1)
    c_v, r_v = np.divmod(
        np.arange((nr - 1) * nc), nr - 1
    )  # vertical edge (r, c)-(r+1, c), column-major

    # Ways: chunks of consecutive segments along one grid line.
    h_line, v_line = r_h, c_v
    h_cls, v_cls = _line_class(h_line), _line_class(v_line)
    h_chunk = np.where(h_cls == 2, c_h // _WAY_LEN, c_h // _ART_LEN)
    v_chunk = np.where(v_cls == 2, r_v // _WAY_LEN, r_v // _ART_LEN)
    h_way = h_line * (nc // _WAY_LEN + 1) + h_chunk
    v_way = (nr * (nc // _WAY_LEN + 1)) + v_line * (nr // _WAY_LEN + 1) + v_chunk

    u = np.concatenate([grid[r_h, c_h], grid[r_v, c_v]])
    v = np.concatenate([grid[r_h, c_h + 1], grid[r_v + 1, c_v]])
    way = np.concatenate([h_way, v_way])
    cls = np.concatenate([h_cls, v_cls])

    # Diagonal shortcuts, each its own minor way.
    n_cells = (nr - 1) * (nc - 1)
    cells = rng.choice(n_cells, size=int(0.04 * n_cells), replace=False)
    cr, cc = np.divmod(cells, nc - 1)
    anti = rng.random(cells.size) < 0.5
    d_u = np.where(anti, grid[cr, cc + 1], grid[cr, cc])
    d_v = np.where(anti, grid[cr + 1, cc], grid[cr + 1, cc + 1])
    d_way = way.max() + 1 + np.arange(cells.size)
    u = np.concatenate([u, d_u])
    v = np.concatenate([v, d_v])
    way = np.concatenate([way, d_way])
    cls = np.concatenate([cls, np.full(cells.size, 2)])

    # Remove some grid segments (mostly minor ones; diagonals are kept).
    n_grid = u.size - cells.size
    drop_p = np.where(cls[:n_grid] == 2, 0.15, 0.02)
    keep = np.ones(u.size, dtype=bool)
    keep[:n_grid] = rng.random(n_grid) >= drop_p
    u, v, way, cls = u[keep], v[keep], way[keep], cls[keep]

    # Classes and one-way flags per way.
    ways, way_idx = np.unique(way, return_inverse=True)
    minor_of_way = _MINOR[rng.choice(_MINOR.size, size=ways.size, p=_MINOR_P)]
    # assigned class by class so that all segments of a class share one str object
    # (a province-sized table would otherwise hold millions of copies)
    highway = np.empty(u.size, dtype=object)
    highway[cls == 0] = "primary"
    highway[cls == 1] = "secondary"
    minor = cls == 2
    highway[minor] = minor_of_way[way_idx[minor]]
    oneway_way = np.where(
        rng.random(ways.size) < 0.05, rng.choice(np.array([1, -1], np.int8), ways.size), 0
    )
    oneway = oneway_way[way_idx].astype(np.int8)

    nodes = pd.DataFrame({"lon": lon, "lat": lat}, index=pd.Index(osm_id, name="id"))
    segments = pd.DataFrame(
        {
            "way": ways[way_idx].astype(np.int64) + 1,
            "u": osm_id[u],
            "v": osm_id[v],
            "highway": highway,
            "oneway": oneway,
            "maxspeed": np.full(u.size, np.nan),
            "exempt": np.full(u.size, "", dtype=object),
        }
    )
    return RoadData(nodes=nodes, segments=segments, fingerprint=f"roadlike-{n_nodes}-{seed}")
