"""Snapping points (villages, residences, facilities) onto a network's edges.

Design
------
In:  a :class:`~accessibility.network.Network` and a GeoDataFrame of points (any CRS;
     reprojected to the network's metric CRS), index = point id.
Out: a :class:`pandas.DataFrame` keyed by the same ids with, per point, the nearest
     road *segment* (not the nearest node), the position along it, the straight
     off-network leg in metres and in seconds (walked at ``settings.walk_speed_kmh``
     whatever the travel mode), and a flag: ``ok``, or ``far`` when the leg exceeds
     the maximum snap distance. A far point is still snapped and routed — it is
     flagged, never dropped.
Tests: ``tests/test_snapping.py`` — projections onto segment interiors and ends, leg
     arithmetic, the far flag, CRS handling, bad input.

Columns of the snap table
-------------------------
``segment`` (int, index into ``network.seg_a``/``seg_b``), ``fraction`` (0–1, position
from ``seg_a`` to ``seg_b``), ``offset_m`` (metres from ``seg_a`` along the segment),
``leg_m`` (metres), ``leg_s`` (seconds), ``snap_x``/``snap_y`` (metric CRS), ``flag``.
"""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ._errors import ValidationError
from .network import Network
from .settings import settings

log = logging.getLogger(__name__)

FLAG_OK = "ok"
FLAG_FAR = "far"


def segment_lines(network: Network) -> np.ndarray:
    """Return the network's segments as shapely LineStrings in its metric CRS."""
    coords = np.stack(
        [
            np.column_stack([network.x[network.seg_a], network.y[network.seg_a]]),
            np.column_stack([network.x[network.seg_b], network.y[network.seg_b]]),
        ],
        axis=1,
    )
    return shapely.linestrings(coords)


def snap(
    network: Network,
    points: gpd.GeoDataFrame,
    *,
    max_snap_m: float | None = None,
    walk_speed_kmh: float | None = None,
) -> pd.DataFrame:
    """Snap points to the nearest point on the nearest network segment.

    Parameters
    ----------
    network
        The travel mode's network (its segments are the snap targets).
    points
        Point geometries, any CRS (must be set); index = point id (unique).
    max_snap_m
        Legs longer than this many metres are flagged ``far``; default
        ``settings.max_snap_m``.
    walk_speed_kmh
        Speed of the off-network leg in km/h; default ``settings.walk_speed_kmh``.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``points``; columns as in the module docstring. The leg time is
        ``leg_s = leg_m / (walk_speed_kmh / 3.6)``.
    """
    max_snap_m = settings.max_snap_m if max_snap_m is None else float(max_snap_m)
    walk_speed_kmh = settings.walk_speed_kmh if walk_speed_kmh is None else float(walk_speed_kmh)
    if not isinstance(points, gpd.GeoDataFrame):
        msg = "points must be a GeoDataFrame of Point geometries with a CRS"
        raise ValidationError(msg)
    if points.crs is None:
        msg = "points have no CRS; set it (e.g. gdf.set_crs(4326) for longitude/latitude)"
        raise ValidationError(msg)
    if not points.index.is_unique:
        dup = points.index[points.index.duplicated()].unique()[:5].tolist()
        msg = f"point ids (the index) must be unique; duplicated: {dup}"
        raise ValidationError(msg)
    if walk_speed_kmh <= 0:
        msg = f"walk_speed_kmh must be > 0, got {walk_speed_kmh}"
        raise ValidationError(msg)
    if max_snap_m <= 0:
        msg = f"max_snap_m must be > 0 metres, got {max_snap_m}"
        raise ValidationError(msg)
    geom = points.geometry
    if len(points) and (geom.is_empty.any() or geom.isna().any()):
        bad = points.index[geom.is_empty | geom.isna()][:5].tolist()
        msg = f"points with empty or missing geometry: {bad}; drop or fix them before snapping"
        raise ValidationError(msg)
    if len(points) and not (geom.geom_type == "Point").all():
        bad = points.index[geom.geom_type != "Point"][:5].tolist()
        msg = f"only Point geometries can be snapped; got others for ids {bad} (use .representative_point())"
        raise ValidationError(msg)
    if network.n_segments == 0:
        msg = "the network has no segments to snap to"
        raise ValidationError(msg)

    columns = ["segment", "fraction", "offset_m", "leg_m", "leg_s", "snap_x", "snap_y", "flag"]
    if len(points) == 0:
        return pd.DataFrame({c: [] for c in columns}, index=points.index)

    pts = geom.to_crs(network.crs)
    px = pts.x.to_numpy()
    py = pts.y.to_numpy()
    lines = segment_lines(network)
    tree = shapely.STRtree(lines)
    # Nearest segment per point; ties resolved to the lowest segment index for determinism.
    idx, _ = tree.query_nearest(shapely.points(px, py), all_matches=True, return_distance=True)
    pair = pd.DataFrame({"point": idx[0], "segment": idx[1]}).sort_values(["point", "segment"])
    pair = pair.drop_duplicates("point")
    seg = pair["segment"].to_numpy()

    ax, ay = network.x[network.seg_a[seg]], network.y[network.seg_a[seg]]
    bx, by = network.x[network.seg_b[seg]], network.y[network.seg_b[seg]]
    dx, dy = bx - ax, by - ay
    len2 = dx * dx + dy * dy
    with np.errstate(invalid="ignore", divide="ignore"):
        t = ((px - ax) * dx + (py - ay) * dy) / len2
    t = np.where(len2 > 0, np.clip(t, 0.0, 1.0), 0.0)
    sx, sy = ax + t * dx, ay + t * dy
    leg = np.hypot(px - sx, py - sy)

    # Segment length along the network (geodesic), from any edge on the segment.
    seg_len = np.zeros(network.n_segments)
    seg_len[network.segment] = network.length_m
    flag = np.where(leg > max_snap_m, FLAG_FAR, FLAG_OK)
    n_far = int((flag == FLAG_FAR).sum())
    if n_far:
        log.warning(
            "%d of %d points are more than %.0f m from the nearest road (flagged 'far')",
            n_far,
            len(points),
            max_snap_m,
        )
    return pd.DataFrame(
        {
            "segment": seg.astype(np.int64),
            "fraction": t,
            "offset_m": t * seg_len[seg],
            "leg_m": leg,
            "leg_s": leg / (walk_speed_kmh / 3.6),
            "snap_x": sx,
            "snap_y": sy,
            "flag": flag,
        },
        index=points.index,
    )
