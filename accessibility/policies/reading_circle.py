"""The 15-minute reading circle (15分钟阅读圈): who is within a walk of a reading place, and where new ones would close the gap.

Design
------
In:  a prepared walking :class:`~accessibility.pipeline.Study`, the reading place
     groups to count (``"reading"`` or tiers such as ``"reading:study_room"``), a
     walk limit in minutes, and residents as population points
     (:mod:`accessibility.population`: building footprints in towns, else
     settlement figures, or a user file).
Out: an :class:`Assessment` holding

     - population-weighted coverage (formula below) and the absolute number of
       residents not covered;
     - the same per sub-area (the nearest settlement, or user polygons);
     - isochrone polygons built from the reached streets
       (:func:`accessibility.isochrones.polygons`);
     - uncovered residence points and uncovered residential areas;
     - the gap-closing plan per target share: new sites chosen greedily and, when
       the model is small enough, exactly (:mod:`accessibility.siting`), with the
       coverage before and after recomputed on the network.

     :func:`map` draws it offline: walk areas filled, residents naming their nearest
     reading place, each site plan in its own colour in the legend, no internal id.

Coverage
--------
With ``p_i`` the residents of point ``i`` and ``t_i`` its walk (seconds, both
off-network legs included) to the nearest reading place::

    share = Σ_i p_i · [t_i ≤ 60 · minutes] / Σ_i p_i        uncovered = Σ_i p_i · [t_i > 60 · minutes]

A point the network cannot reach counts as not covered.

Candidates and scenario
-----------------------
Uncovered residential areas are the union of discs of ``gap_radius_m`` around the
uncovered points (one area per connected piece). Candidate sites are the network
nodes inside them, thinned to the node nearest the centre of each
``grid_m`` × ``grid_m`` cell (an area without a node gets the node nearest to
it), or a user GeoDataFrame of points. Candidates are snapped to the same
network and a second :class:`~accessibility.engine.Router` is built with the
population points as origins and the existing reading places plus the
candidates as facilities — no network rebuild. For it, residents on the same
segment within the same ``merge_m`` stretch and band of leg length (and covered
now alike) are merged (:func:`accessibility.snapping.merge`; walks within
``2 · merge_m`` walked of each other). Its
:meth:`~accessibility.engine.Router.pairs_within` gives the coverage structure of
the siting models; the after-coverage of each plan is recomputed for every
resident, unmerged, with :meth:`~accessibility.engine.Router.nearest` on existing
+ new sites. The exact plans of the targets are solved side by side in threads
(HiGHS releases Python's lock) while today's walk areas are drawn.

Sub-areas
---------
``areas="nearest_place"``: each point belongs to the nearest settlement point of
the study (only ``place=suburb/quarter/neighbourhood`` ones when the area has
some: they are the city's own districts). A GeoDataFrame of polygons with a
``name`` column: each point belongs to the polygon containing it (``outside``
otherwise). ``None``: no breakdown.

No reading place
----------------
When the data hold no reading place of the groups, the claim cannot be tested: the
``current`` row keeps the residents (``population``, ``points``) but its
``covered``, ``uncovered``, ``share`` and ``uncovered_points`` are NaN with
``status`` ``no_data`` (never 0 %), the sub-areas likewise, the key figures have no
value, and the map and PNG say "no data" (无数据). A siting plan is made only when
candidate sites exist; :meth:`Assessment.note_missing` records both in a
:class:`accessibility.report.Notes`.

Tests: ``tests/test_reading_circle.py`` — a grid with a hand-worked answer, the
sample county (the plan reaches its target; exact never needs more sites than
greedy) and the notebook end to end.
"""

from __future__ import annotations

import html
import json
import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, MacroElement
from folium.template import Template

from .. import classify, engine, isochrones, network, siting, snapping
from .._errors import ValidationError
from ..export import figure
from ..labels import group_label, label
from ..maps import (
    BEYOND_COLOUR,
    BOUNDARY_COLOUR,
    NO_DATA_COLOUR,
    add_base_layers,
    add_title,
    minutes_colour,
)
from ..population import estimate as estimate_population
from ..population import reliability as population_reliability
from ..report import Notes
from . import _overlays

if TYPE_CHECKING:
    from ..pipeline import Study

__all__ = [
    "Assessment",
    "assess",
    "key_figures",
    "labelled",
    "map",
    "walk_speed_overrides",
]

log = logging.getLogger(__name__)

#: Areas on the map are simplified to about 10 m (walk areas; the uncovered areas, discs
#: of ``gap_radius_m`` around residents, to about 20 m) and their coordinates kept to
#: about 1 m: a walk of 15 minutes is drawn no worse, in a fraction of the bytes. The
#: GeoPackage keeps them as computed.
AREA_DETAIL_DEG: Final[float] = 1e-4
AREA_PRECISION_DEG: Final[float] = 1e-5
#: Above this many residence points the map draws them merged per grid cell.
AGGREGATE_ABOVE: Final[int] = 3_000
#: Side of those cells, metres.
DEFAULT_CELL_M: Final[float] = 200.0
#: Seconds the solver may spend on each exact plan (two targets: two plans, solved
#: side by side on two cores). A ceiling: a plan proven sooner stops sooner (the
#: generated city's: 2–4 s each).
EXACT_TIME_LIMIT_S: Final[float] = 10.0
#: Of those, at most this many for the tie-break (the most residents among plans
#: with the fewest sites); on the sample county it is proven within it, on a city of
#: 38k buildings it is left at the exchange-improved plan with the gap stated.
EXACT_TIE_BREAK_S: Final[float] = 1.0
#: Residents merged for the siting searches and models within this many metres along
#: a street and from it (a walk differs by under 16 s at 4.5 km/h); see ``assess``.
MERGE_M: Final[float] = 10.0
#: Default targets: 95 % and every resident.
DEFAULT_TARGETS: Final[tuple[float, ...]] = (0.95, 1.0)
#: Colours of the map.
COVERED_COLOUR: Final[str] = minutes_colour(
    15.0
)  # within the walk: the green of ≤ 15 minutes on every map
UNCOVERED_COLOUR: Final[str] = BEYOND_COLOUR  # beyond it: the colour of the last class on every map
PLACE_COLOUR: Final[str] = "#1f2a5c"
#: One colour per site plan (greedy/optimal per target), in the order of the plans; the
#: walk area after a target's recommended plan is drawn in that plan's colour.
SITE_COLOURS: Final[tuple[str, ...]] = ("#7b3294", "#e66101", "#0571b0", "#a6611a", "#c51b7d")
#: Points drawn on the map above this number: only the uncovered ones.
MAX_MAP_POINTS: Final[int] = 20_000
#: Holes of a walk area up to this size (m²) are filled on the map: blocks ringed by
#: reached streets, whose homes are a short walk from one of them.
FILL_HOLES_M2: Final[float] = 200_000.0
_FONT: Final[str] = "'Helvetica Neue',Arial,'PingFang SC','Microsoft YaHei',sans-serif"


@dataclass
class Assessment:
    """Result of :func:`assess`; every geometry in EPSG:4326.

    Attributes
    ----------
    minutes
        Walk limit, minutes.
    kinds
        Facility groups counted as reading places.
    population_source
        ``raster``, ``buildings``, ``landuse``, ``places`` or ``points`` (see
        :mod:`accessibility.population`).
    population_note
        How the population figures were made, in words.
    population
        Population points: ``population``, ``time_min`` (walk to the nearest reading
        place, inf when unreachable), ``covered`` (bool), ``nearest`` (facility id),
        ``leg_m``, ``snap_flag``, ``area`` and ``area_name`` (sub-area).
    facilities
        The reading places counted.
    summary
        One row per scenario (``current``, then one per plan): ``method``,
        ``target``, ``new_sites``, ``facilities``, ``population``, ``covered``,
        ``uncovered`` (persons), ``share`` (0–1), ``reached``, ``status``, ``sites``,
        ``source``, ``confidence`` (of the population, :func:`accessibility.population.reliability`)
        and ``estimate`` (``landuse`` or ``low_confidence`` when the figures are only an
        estimate, said so in tables, key figures and the map title; else empty).
        The rows of plans are recomputed on the network, not taken from the model.
    by_area
        Per sub-area: ``name``, ``level``, ``points``, ``population``, ``covered``,
        ``uncovered``, ``share``, ``uncovered_points``; ``None`` without areas.
    isochrones
        Reached streets within ``minutes`` of the existing places (one row).
    isochrones_after
        The same with the new sites of each target's recommended plan (the exact
        one when it ran), index = scenario key.
    uncovered
        Uncovered population points.
    uncovered_areas
        Uncovered residential areas: ``population``, ``points``.
    candidates
        Candidate sites considered: ``node`` (network node index, ``-1`` for a user
        point), ``leg_m``.
    plans
        Scenario key (``greedy_95``, ``exact_100``…) → :class:`accessibility.siting.Plan`.
    sites
        Proposed sites of every plan: ``scenario``, ``method``, ``target``, ``step``,
        ``site``, ``gain`` (residents newly covered by it), ``share`` (after it).
    meta
        Sizes, timings, parameters.
    """

    minutes: float
    kinds: tuple[str, ...]
    population_source: str
    population_note: str
    population: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    summary: pd.DataFrame
    by_area: pd.DataFrame | None
    isochrones: gpd.GeoDataFrame
    isochrones_after: gpd.GeoDataFrame
    uncovered: gpd.GeoDataFrame
    uncovered_areas: gpd.GeoDataFrame
    candidates: gpd.GeoDataFrame
    plans: dict[str, siting.Plan]
    sites: gpd.GeoDataFrame
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def share(self) -> float:
        """Population-weighted share of residents covered now (0–1)."""
        return float(self.summary.loc["current", "share"])

    @property
    def uncovered_population(self) -> float:
        """Residents not covered now (persons)."""
        return float(self.summary.loc["current", "uncovered"])

    def layers(self) -> dict[str, pd.DataFrame]:
        """Tables for :func:`accessibility.export.write_geopackage`, by layer name."""
        out: dict[str, pd.DataFrame] = {
            "population": self.population,
            "reading_places": self.facilities[
                [c for c in ("name", "kind", "tiers", "leg_m", "geometry") if c in self.facilities]
            ],
            "isochrones": self.isochrones.reset_index(),
            "isochrones_after": self.isochrones_after,
            "uncovered": self.uncovered,
            "uncovered_areas": self.uncovered_areas,
            "proposed_sites": self.sites,
            "coverage_summary": self.summary,
        }
        if self.by_area is not None:
            out["coverage_by_area"] = self.by_area
        return out

    @property
    def no_data(self) -> bool:
        """No reading place of the groups in the data: no coverage can be given."""
        return bool(self.meta.get("no_data", False))

    def note_missing(self, notes: Notes) -> bool:
        """Record in ``notes`` what could not be assessed for want of reading places; return :attr:`no_data`."""
        if self.no_data:
            notes.skip("reading_coverage", "no_reading_places")
            if not self.plans:
                notes.skip("siting", "no_candidates")
        return self.no_data


# --------------------------------------------------------------------------- helpers


def walk_speed_overrides(walk_speed_kmh: float, *, mode: str = "walk") -> dict[str, float]:
    """Speeds per highway class for a walking speed, for ``pipeline.prepare(speed_overrides=...)``.

    Every class the mode uses is scaled by ``walk_speed_kmh / v_max`` where ``v_max``
    is the mode's fastest class (4.5 km/h for ``walk``), so tracks, paths and steps
    stay proportionally slower; at the default speed nothing changes (and the cached
    network is reused).

    Parameters
    ----------
    walk_speed_kmh
        Walking speed on ordinary streets, km/h (> 0).
    mode
        The walking mode of ``rules/speeds.yml``.

    Returns
    -------
    dict
        ``{highway class: km/h}``.
    """
    if not np.isfinite(walk_speed_kmh) or not 0 < walk_speed_kmh <= 30:
        msg = f"walk_speed_kmh must be a walking speed in km/h (e.g. 4.5), got {walk_speed_kmh!r}"
        raise ValidationError(msg)
    speeds = network.mode_rules(mode)["speeds_kmh"]
    top = max(float(v) for v in speeds.values())
    return {str(h): float(v) * float(walk_speed_kmh) / top for h, v in speeds.items()}


def _check_args(minutes: float, kinds: Sequence[str], targets: Sequence[float]) -> list[float]:
    if not isinstance(minutes, int | float) or not np.isfinite(minutes) or minutes <= 0:
        msg = f"minutes must be a positive walk limit in minutes, e.g. 15; got {minutes!r}"
        raise ValidationError(msg)
    if isinstance(kinds, str) or not list(kinds):
        msg = f"kinds must be a non-empty list of groups such as ['reading']; got {kinds!r}"
        raise ValidationError(msg)
    for k in kinds:
        kind, _ = classify.parse_group(k)
        if kind != "reading":
            log.warning("group %r is not a reading place; it is counted as one here", k)
    try:
        tgt = sorted({float(t) for t in targets})
    except (TypeError, ValueError) as exc:
        msg = f"targets must be shares in (0, 1], e.g. [0.95, 1.0]; got {targets!r}"
        raise ValidationError(msg) from exc
    if any(not 0 < t <= 1 for t in tgt):
        msg = f"targets must be shares in (0, 1] (0.95 = 95 %), e.g. [0.95, 1.0]; got {targets!r}"
        raise ValidationError(msg)
    return tgt


def _coverage_row(pop: np.ndarray, covered: np.ndarray) -> dict[str, float]:
    total = float(pop.sum())
    cov = float(pop[covered].sum())
    return {
        "population": total,
        "covered": cov,
        "uncovered": total - cov,
        "share": cov / total if total > 0 else np.nan,
        "points": int(pop.size),
        "uncovered_points": int((~covered).sum()),
    }


def _target_key(target: float) -> str:
    return f"{target * 100:g}".replace(".", "_")


def _fmt_share(share: float) -> str:
    return f"{share:.1%}" if np.isfinite(share) else "—"


def _sub_areas(
    points: gpd.GeoDataFrame, study: Study, areas: Any, crs: str
) -> tuple[pd.Series, pd.Series, pd.Series] | None:
    """Area id, name and level per point, or None."""
    if areas is None:
        return None
    xy = points.geometry.to_crs(crs)
    if isinstance(areas, str):
        if areas != "nearest_place":
            msg = f"areas must be 'nearest_place', a GeoDataFrame of polygons with a 'name' column, or None; got {areas!r}"
            raise ValidationError(msg)
        places = study.places
        if places.empty:
            log.warning("no settlement points in the area: no breakdown by sub-area")
            return None
        if "level" in places.columns and (places["level"] == "residential").any():
            places = places.loc[places["level"] == "residential"]
        tree = shapely.STRtree(places.geometry.to_crs(crs).to_numpy())
        idx = tree.query_nearest(xy.to_numpy(), all_matches=False)
        order = np.argsort(idx[0], kind="stable")
        nearest = idx[1][order]
        ids = places.index.to_numpy()[nearest]
        names = places["name"].to_numpy()[nearest] if "name" in places else ids
        levels = places["level"].to_numpy()[nearest] if "level" in places else np.full(ids.size, "")
        return (
            pd.Series(ids, index=points.index),
            pd.Series(names, index=points.index),
            pd.Series(levels, index=points.index),
        )
    if not isinstance(areas, gpd.GeoDataFrame) or areas.crs is None:
        msg = "areas must be a GeoDataFrame of polygons with a CRS and a 'name' column"
        raise ValidationError(msg)
    if "name" not in areas.columns:
        msg = "the areas GeoDataFrame needs a 'name' column (shown in the breakdown)"
        raise ValidationError(msg)
    polys = areas.to_crs(crs)
    joined = gpd.sjoin(
        gpd.GeoDataFrame(geometry=xy, crs=crs),
        polys[["name", "geometry"]],
        how="left",
        predicate="within",
    )
    joined = joined.loc[~joined.index.duplicated(keep="first")].reindex(points.index)
    area_id = joined["index_right"].astype(object).where(joined["index_right"].notna(), "outside")
    name = joined["name"].astype(object).where(joined["name"].notna(), "outside")
    level = pd.Series("", index=points.index)
    return area_id, name, level


_NO_DATA_COLUMNS: Final[tuple[str, ...]] = ("covered", "uncovered", "share", "uncovered_points")


def _by_area(pop: gpd.GeoDataFrame) -> pd.DataFrame:
    g = pop.assign(
        cov_pop=pop["population"].where(pop["covered"], 0.0),
        unc=(~pop["covered"]).astype(int),
    ).groupby("area", sort=False)
    out = pd.DataFrame(
        {
            "name": g["area_name"].first(),
            "level": g["area_level"].first(),
            "points": g.size(),
            "population": g["population"].sum(),
            "covered": g["cov_pop"].sum(),
        }
    )
    out["uncovered"] = out["population"] - out["covered"]
    out["share"] = np.where(out["population"] > 0, out["covered"] / out["population"], np.nan)
    out["uncovered_points"] = g["unc"].sum()
    out.index.name = "area"
    return out.sort_values(["uncovered", "population"], ascending=[False, False])


def _uncovered_areas(uncovered: gpd.GeoDataFrame, crs: str, radius_m: float) -> gpd.GeoDataFrame:
    if uncovered.empty:
        return gpd.GeoDataFrame(
            {"population": [], "points": []}, geometry=[], crs=4326
        ).rename_axis("gap")
    xy = uncovered.geometry.to_crs(crs)
    merged = shapely.union_all(shapely.buffer(xy.to_numpy(), radius_m, quad_segs=8))
    parts = gpd.GeoDataFrame(geometry=list(shapely.get_parts(merged)), crs=crs)
    hit = gpd.sjoin(
        gpd.GeoDataFrame(
            {"population": uncovered["population"].to_numpy()}, geometry=xy.to_numpy(), crs=crs
        ),
        parts,
        how="left",
        predicate="within",
    )
    agg = hit.groupby("index_right").agg(
        population=("population", "sum"), points=("population", "size")
    )
    parts = parts.join(agg).fillna({"population": 0.0, "points": 0})
    parts["points"] = parts["points"].astype(int)
    parts = parts.sort_values("population", ascending=False).reset_index(drop=True)
    parts.index = pd.Index([f"gap_{i + 1}" for i in range(len(parts))], name="gap")
    return parts.to_crs(4326)


def _grid_candidates(
    study: Study,
    areas: gpd.GeoDataFrame,
    *,
    grid_m: float,
    max_candidates: int,
    taken: pd.Index,
) -> gpd.GeoDataFrame:
    net = study.network
    empty = gpd.GeoDataFrame({"node": np.array([], dtype=np.int64)}, geometry=[], crs=4326)
    if areas.empty:
        return empty
    polys = areas.to_crs(net.crs).geometry.to_numpy()
    nodes_tree = shapely.STRtree(shapely.points(net.x, net.y))
    area_of, node_of = nodes_tree.query(polys, predicate="contains")
    inside = np.unique(node_of)
    # an area without a node inside gets the node nearest to it
    lonely = np.setdiff1d(np.arange(polys.size), area_of)
    if lonely.size:
        near = nodes_tree.query_nearest(polys[lonely], all_matches=False)[1]
        inside = np.union1d(inside, near)
    cell = float(grid_m)
    while True:
        cx = np.floor(net.x[inside] / cell)
        cy = np.floor(net.y[inside] / cell)
        d = np.hypot(net.x[inside] - (cx + 0.5) * cell, net.y[inside] - (cy + 0.5) * cell)
        frame = pd.DataFrame({"node": inside, "cx": cx, "cy": cy, "d": d})
        pick = frame.sort_values(["cx", "cy", "d", "node"]).drop_duplicates(["cx", "cy"])
        if len(pick) <= max_candidates:
            break
        cell *= 1.5
        log.info(
            "%d candidates exceed max_candidates=%d: grid coarsened to %.0f m",
            len(pick),
            max_candidates,
            cell,
        )
    nodes = np.sort(pick["node"].to_numpy(np.int64))
    ids = pd.Index([f"new_{net.node_id[n]}" for n in nodes], name="id")
    clash = ids.intersection(taken)
    if len(clash):
        msg = f"candidate ids {list(clash[:5])} collide with facility ids"
        raise ValidationError(msg)
    out = gpd.GeoDataFrame(
        {"node": nodes, "grid_m": cell},
        geometry=shapely.points(net.lon[nodes], net.lat[nodes]),
        index=ids,
        crs=4326,
    )
    log.info("%d candidate sites (one node per %.0f m cell of the uncovered areas)", len(out), cell)
    return out


def _user_candidates(candidates: gpd.GeoDataFrame, taken: pd.Index) -> gpd.GeoDataFrame:
    if candidates.crs is None:
        msg = "candidate sites have no CRS; set it (e.g. gdf.set_crs(4326))"
        raise ValidationError(msg)
    if not candidates.index.is_unique:
        msg = "candidate site ids (the index) must be unique"
        raise ValidationError(msg)
    clash = candidates.index.intersection(taken)
    if len(clash):
        msg = f"candidate ids {list(clash[:5])} are also facility ids; give the candidates their own ids"
        raise ValidationError(msg)
    geom = candidates.geometry
    pts = geom if (geom.geom_type == "Point").all() else geom.representative_point()
    out = gpd.GeoDataFrame(
        {"node": -1}, geometry=pts.to_crs(4326).to_numpy(), index=candidates.index, crs=4326
    )
    if "name" in candidates.columns:
        out["name"] = candidates["name"].to_numpy()
    return out


def _residents(study: Study, population: Any) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """Population points (EPSG:4326 points, ``attrs`` stating the source) and their weights."""
    if isinstance(population, str):
        pop = estimate_population(study, method=population)
    elif isinstance(population, gpd.GeoDataFrame):
        if "population" not in population.columns or population.crs is None:
            msg = "population points need a CRS and a 'population' column (persons); see accessibility.population"
            raise ValidationError(msg)
        pop = population.copy()
        pop.attrs.setdefault("population_source", "points")
        pop.attrs.setdefault("population_note", f"{len(pop)} user points")
        if "population_confidence" not in pop.attrs and len(pop):
            checks = population_reliability(pop)
            pop.attrs["population_confidence"] = checks.attrs["confidence"]
    else:
        msg = f"population must be 'auto', 'raster', 'buildings', 'landuse', 'places', 'points' or a GeoDataFrame; got {population!r}"
        raise ValidationError(msg)
    weights = pd.to_numeric(pop["population"], errors="coerce").to_numpy(float)
    if not np.isfinite(weights).all() or (weights < 0).any():
        bad = pop.index[~np.isfinite(weights) | (weights < 0)][:5].tolist()
        msg = f"population must be finite and ≥ 0 for every point; points {bad} are not (fill or drop them)"
        raise ValidationError(msg)
    if len(pop) == 0 or weights.sum() <= 0:
        msg = "no residents to assess: the population points are empty or all zero"
        raise ValidationError(msg)
    attrs = dict(pop.attrs)
    pop = pop.to_crs(4326)
    if not (pop.geometry.geom_type == "Point").all():
        pop = pop.set_geometry(pop.geometry.representative_point())
    pop.attrs.update(attrs)
    return pop, weights


def _candidate_sites(
    study: Study, candidates: Any, gaps: gpd.GeoDataFrame, *, grid_m: float, max_candidates: int
) -> gpd.GeoDataFrame:
    """Candidate points (EPSG:4326), generated in the gaps or given by the user."""
    if isinstance(candidates, str):
        if candidates != "uncovered_nodes":
            msg = f"candidates must be 'uncovered_nodes' or a GeoDataFrame of points; got {candidates!r}"
            raise ValidationError(msg)
        return _grid_candidates(
            study, gaps, grid_m=grid_m, max_candidates=max_candidates, taken=study.facilities.index
        )
    if isinstance(candidates, gpd.GeoDataFrame):
        return _user_candidates(candidates, study.facilities.index)
    msg = f"candidates must be 'uncovered_nodes' or a GeoDataFrame of points; got {type(candidates).__name__}"
    raise ValidationError(msg)


def _sources(snap: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {"segment": snap["segment"], "fraction": snap["fraction"], "time_s": snap["leg_s"]},
        index=snap.index,
    )


# --------------------------------------------------------------------------- assess


def assess(
    study: Study,
    *,
    minutes: float = 15.0,
    kinds: Sequence[str] = ("reading",),
    population: str | gpd.GeoDataFrame = "auto",
    candidates: str | gpd.GeoDataFrame = "uncovered_nodes",
    targets: Sequence[float] = DEFAULT_TARGETS,
    exact_max_vars: int = siting.DEFAULT_MAX_VARS,
    exact_time_limit_s: float = EXACT_TIME_LIMIT_S,
    merge_m: float | None = MERGE_M,
    areas: str | gpd.GeoDataFrame | None = "nearest_place",
    gap_radius_m: float = 150.0,
    grid_m: float = 200.0,
    max_candidates: int = 2_000,
    buffer_m: float = 25.0,
    claim_target: float | None = None,
) -> Assessment:
    """Test the reading-circle claim on a study and plan the sites that would close the gap.

    Parameters
    ----------
    study
        A prepared study, normally of mode ``walk`` (the times are the study's mode).
    minutes
        Walk limit in minutes (15 for the 15-minute circle).
    kinds
        Facility groups counted as reading places (``"reading"``, or tiers such as
        ``"reading:library"``, ``"reading:study_room"``).
    population
        A method of :func:`accessibility.population.estimate` (``"auto"``,
        ``"buildings"``, ``"places"``) or population points (GeoDataFrame with
        ``population``; ``attrs["population_source"]`` is kept when set).
    candidates
        ``"uncovered_nodes"`` (network nodes in the uncovered areas, one per
        ``grid_m`` cell) or a GeoDataFrame of candidate points (any CRS, own ids).
    targets
        Covered shares (0–1] to plan for; a plan per target and method.
    exact_max_vars
        Largest exact model solved; above it only the greedy plan is made.
    exact_time_limit_s
        Seconds the solver may spend on each exact plan (started from the greedy
        one); past it the best plan found is kept with the gap to the optimum it
        proves, which the tables and the map state.
    merge_m
        For the searches of the candidate sites and the siting models, residents on
        the same street segment within the same ``merge_m`` stretch of it and the
        same ``merge_m`` band of distance from it (and covered now alike) are
        merged (:func:`accessibility.snapping.merge`): their walks differ by less
        than ``2 · merge_m`` walked. Today's coverage and each plan's coverage are
        computed for every resident, unmerged. ``None``: no merging.
    areas
        Sub-areas for the breakdown: ``"nearest_place"``, polygons with ``name``,
        or ``None`` (see the module docstring).
    gap_radius_m
        Radius in metres of the disc drawn around each uncovered point to form
        the uncovered areas.
    grid_m
        Cell size in metres for thinning candidate nodes.
    max_candidates
        The grid is coarsened until at most this many candidates remain.
    buffer_m
        Half-width in metres of the isochrone polygons around reached streets.
    claim_target
        The claim's target share (``accessibility.verdicts.target_for(study,
        "reading_circle")``): the current state's ``target`` and ``reached`` (is the
        claim met now?); ``None`` leaves both empty.

    Returns
    -------
    Assessment
    """
    tgts = _check_args(minutes, kinds, targets)
    if claim_target is not None and not 0 < float(claim_target) <= 1:
        msg = f"claim_target must be a share in (0, 1], got {claim_target!r}"
        raise ValidationError(msg)
    checked = [("gap_radius_m", gap_radius_m), ("grid_m", grid_m), ("buffer_m", buffer_m)]
    if merge_m is not None:
        checked.append(("merge_m", merge_m))
    for name, value in checked:
        if not np.isfinite(value) or value <= 0:
            msg = f"{name} must be a positive number of metres, got {value!r}"
            raise ValidationError(msg)
    limit_s = float(minutes) * 60.0
    crs = study.crs
    net = study.network

    pop, weights = _residents(study, population)
    source = str(pop.attrs["population_source"])
    note = str(pop.attrs["population_note"])
    max_snap_m = study.meta.get("max_snap_m")

    # existing reading places and coverage now
    fac_ids = pd.Index([])
    for k in kinds:
        fac_ids = fac_ids.append(classify.select(study.facilities, k))
    fac_ids = study.facilities.index[study.facilities.index.isin(fac_ids)]
    if len(fac_ids) == 0:
        log.warning(
            "no reading place of groups %s in %s: nobody is covered", list(kinds), study.label("en")
        )
    fac_snap = study.facility_snap.loc[fac_ids]
    pop_snap = snapping.snap(net, pop, max_snap_m=max_snap_m)
    router = engine.Router.build(net, pop_snap, fac_snap)
    near = router.nearest()
    t_s = near["time_s"].to_numpy(float)
    covered = np.where(np.isnan(t_s), False, t_s <= limit_s)
    names = study.facilities["name"] if "name" in study.facilities else pd.Series(dtype=object)
    pop = pop.assign(
        time_min=t_s / 60.0,
        covered=covered,
        nearest=near["facility_id"].to_numpy(),
        nearest_name=names.reindex(near["facility_id"]).to_numpy(),
        leg_m=pop_snap["leg_m"].to_numpy(),
        snap_flag=pop_snap["flag"].to_numpy(),
    )
    rows: dict[str, dict[str, Any]] = {
        "current": {
            "method": "",
            "target": np.nan,
            "new_sites": 0,
            "facilities": len(fac_ids),
            **_coverage_row(weights, covered),
            "reached": None,
            "status": "",
            "sites": "",
        }
    }
    no_data = len(fac_ids) == 0
    if claim_target is not None and not no_data:  # is the claim met now?
        rows["current"]["target"] = float(claim_target)
        rows["current"]["reached"] = bool(rows["current"]["share"] >= float(claim_target) - 1e-9)
    if no_data:  # nothing to be covered by: the residents only, no coverage figure
        rows["current"].update(dict.fromkeys(_NO_DATA_COLUMNS, np.nan), status="no_data")
    else:
        log.info(
            "%g-minute reading circle: %.1f%% of %.0f residents covered (%.0f not covered)",
            minutes,
            100 * rows["current"]["share"],
            rows["current"]["population"],
            rows["current"]["uncovered"],
        )

    # sub-areas
    by_area = None
    sub = _sub_areas(pop, study, areas, crs)
    if sub is not None:
        pop = pop.assign(
            area=sub[0].to_numpy(), area_name=sub[1].to_numpy(), area_level=sub[2].to_numpy()
        )
        by_area = _by_area(pop)
        if no_data:
            by_area[list(_NO_DATA_COLUMNS)] = np.nan

    # gaps and candidates
    uncovered = pop.loc[~pop["covered"]]
    gaps = _uncovered_areas(uncovered, crs, gap_radius_m)
    cands = _candidate_sites(study, candidates, gaps, grid_m=grid_m, max_candidates=max_candidates)
    if len(cands):
        cand_snap = snapping.snap(net, cands, max_snap_m=max_snap_m)
        cands = cands.assign(
            leg_m=cand_snap["leg_m"].to_numpy(), snap_flag=cand_snap["flag"].to_numpy()
        )
        both = pd.concat([fac_snap, cand_snap])
    else:
        cands = cands.assign(leg_m=np.array([], dtype=float), snap_flag=np.array([], dtype=object))
        both = fac_snap

    # the scenario: same network, existing places + candidates as facilities; for its
    # searches and the siting models, residents whose walks differ by little merged
    if merge_m is not None:
        demand, member = snapping.merge(
            pop_snap, weights, bucket_m=merge_m, keys=covered.astype(np.int64)
        )
        d_weights = demand["weight"].to_numpy(float)
        d_covered = np.zeros(len(demand), dtype=bool)
        d_covered[member] = covered  # one value per group: covered now is part of its key
    else:
        demand, d_weights, d_covered = pop_snap, weights, covered
    scenario = engine.Router.build(net, demand, both)
    # each plan's coverage is recomputed for every resident, unmerged
    per_point = scenario if merge_m is None else engine.Router.build(net, pop_snap, both)
    pairs = scenario.pairs_within(limit_s, cands.index) if len(cands) else None
    cand_ids = (
        scenario.facilities.index[np.unique(scenario.facilities.index.get_indexer(cands.index))]
        if len(cands)
        else cands.index
    )
    plans: dict[str, siting.Plan] = {}
    site_rows: list[dict[str, Any]] = []
    iso_after = []
    if no_data and not len(cands):
        log.warning("no reading place and no candidate site in the data: no siting plan")
    planned = tgts if len(cands) or not no_data else ()
    coverage = pairs if pairs is not None else np.zeros((0, len(demand)))
    # the exact plans solved side by side (HiGHS leaves Python's lock while it works),
    # while the walk areas of today are drawn
    pool = ThreadPoolExecutor(max_workers=max(1, min(len(planned), os.cpu_count() or 1)))
    try:
        solving = {
            target: pool.submit(
                siting.exact,
                coverage,
                d_weights,
                candidate_ids=cand_ids,
                covered=d_covered,
                target=target,
                max_vars=exact_max_vars,
                time_limit_s=exact_time_limit_s,
                tie_break_s=min(EXACT_TIE_BREAK_S, exact_time_limit_s),
            )
            for target in planned
        }
        node_t = router.node_times(limit_s=limit_s)
        iso = isochrones.polygons(
            net, node_t, limits_min=[minutes], buffer_m=buffer_m, sources=_sources(fac_snap)
        )
        exact_plans = {}
        for target, job in solving.items():
            try:
                exact_plans[target] = job.result()
            except ValidationError as exc:
                exact_plans[target] = exc
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    for target in planned:
        key = _target_key(target)
        chosen: siting.Plan | None = None
        for method in ("greedy", "exact"):
            name = f"{method}_{key}"
            try:
                if method == "greedy":
                    plan = siting.greedy(
                        coverage, d_weights, candidate_ids=cand_ids, covered=d_covered, target=target
                    )
                else:
                    found = exact_plans[target]
                    if isinstance(found, ValidationError):
                        raise found
                    plan = found
            except ValidationError as exc:
                if method != "exact":
                    raise
                log.warning("exact plan for target %g skipped: %s", target, exc)
                rows[name] = {"method": method, "target": target, "status": "skipped", "sites": ""}
                continue
            plans[name] = plan
            chosen = plan
            after = per_point.nearest(fac_ids.append(pd.Index(plan.sites)))
            a_t = after["time_s"].to_numpy(float)
            a_cov = np.where(np.isnan(a_t), False, a_t <= limit_s)
            row = _coverage_row(weights, a_cov)
            if merge_m is not None:  # the model saw merged residents: a small difference
                log.info(
                    "%s: %.4f%% of residents covered (the model, on merged residents: %.4f%%)",
                    name,
                    100 * row["share"],
                    100 * plan.share_after,
                )
            elif abs(row["covered"] - plan.after) > 1e-6 * max(row["population"], 1.0):
                log.warning(
                    "%s: coverage recomputed on the network (%.1f) differs from the model (%.1f)",
                    name,
                    row["covered"],
                    plan.after,
                )
            rows[name] = {
                "method": method,
                "target": target,
                "new_sites": len(plan.sites),
                "facilities": len(fac_ids) + len(plan.sites),
                **row,
                "best_share": plan.best / plan.total if plan.total > 0 else np.nan,
                "reached": bool(row["share"] >= target - 1e-9),
                "status": plan.status,
                # how good the plan is proven to be: greedy, optimal, or within a gap
                "proof": "greedy" if method == "greedy" else plan.meta.get("proof", "gap"),
                "optimality_gap": float(plan.meta["gap"]) if method == "exact" else np.nan,
                # the tie-break among plans with that many sites: how many more residents
                # they might cover, as a share of the most (NaN: greedy, or not bounded)
                "coverage_gap": float(plan.meta.get("coverage_gap", np.nan))
                if method == "exact"
                else np.nan,
                "sites": ";".join(str(s) for s in plan.sites),
            }
            for step, r in plan.steps.iterrows():
                site_rows.append(
                    {
                        "scenario": name,
                        "method": method,
                        "target": target,
                        "step": int(step),
                        "site": r["site"],
                        "gain": float(r["gain"]),
                        "share": float(r["share"]),
                        "geometry": cands.geometry.loc[r["site"]],
                    }
                )
        if chosen is not None:
            ids = fac_ids.append(pd.Index(chosen.sites))
            t_after = scenario.node_times(ids, limit_s=limit_s)
            src = _sources(both.loc[ids])
            poly = isochrones.polygons(
                net, t_after, limits_min=[minutes], buffer_m=buffer_m, sources=src
            )
            iso_after.append(
                poly.reset_index().assign(
                    scenario=f"{chosen.method}_{key}",
                    method=chosen.method,
                    target=target,
                    new_sites=len(chosen.sites),
                )
            )
    summary = pd.DataFrame.from_dict(rows, orient="index")
    summary.index.name = "scenario"
    summary.insert(0, "minutes", float(minutes))
    summary["source"] = source
    confidence = str(pop.attrs.get("population_confidence", ""))
    summary["confidence"] = confidence
    summary["estimate"] = _estimate_key(source, confidence)
    if iso_after:
        after_gdf = gpd.GeoDataFrame(pd.concat(iso_after, ignore_index=True), crs=4326).set_index(
            "scenario"
        )
    else:
        after_gdf = gpd.GeoDataFrame({"minutes": []}, geometry=[], crs=4326)
    sites = gpd.GeoDataFrame(
        pd.DataFrame(
            site_rows,
            columns=["scenario", "method", "target", "step", "site", "gain", "share", "geometry"],
        ),
        geometry="geometry",
        crs=4326,
    )
    facilities = study.facilities.loc[fac_ids]
    meta = {
        "minutes": float(minutes),
        "kinds": list(kinds),
        "targets": tgts,
        "mode": study.mode,
        "points": len(pop),
        "facilities": len(fac_ids),
        "candidates": len(cands),
        "uncovered_areas": len(gaps),
        "gap_radius_m": gap_radius_m,
        "grid_m": float(cands["grid_m"].iloc[0]) if "grid_m" in cands and len(cands) else grid_m,
        "exact_max_vars": exact_max_vars,
        "exact_time_limit_s": float(exact_time_limit_s),
        "merge_m": merge_m,
        "demand_points": len(demand),
        "population_confidence": confidence,
        "estimate": _estimate_key(source, confidence),
        "no_data": no_data,
    }
    return Assessment(
        minutes=float(minutes),
        kinds=tuple(kinds),
        population_source=source,
        population_note=note,
        population=pop,
        facilities=facilities,
        summary=summary,
        by_area=by_area,
        isochrones=iso,
        isochrones_after=after_gdf,
        uncovered=uncovered,
        uncovered_areas=gaps,
        candidates=cands,
        plans=plans,
        sites=sites,
        meta=meta,
    )


# --------------------------------------------------------------------------- tables


def _estimate_key(source: str, confidence: str) -> str:
    """Why a coverage figure is only an estimate: ``landuse``, ``low_confidence`` or ``""``."""
    if source == "landuse":
        return "landuse"
    return "low_confidence" if confidence == "low" else ""


def _method_text(row: pd.Series | dict[str, Any], lang: str) -> str:
    """A plan's method in words, with how good it is proven to be (greedy, optimal, or
    within the gap HiGHS proved)."""
    method = str(row["method"])
    if method == "exact" and row.get("proof") == "gap":
        return label("reading_ui.method_exact_gap", lang=lang).format(
            gap=f"{float(row['optimality_gap']):.1%}"
        )
    return label(f"reading_ui.method_{method}", lang=lang)


def _plan_row(result: Assessment, key: str) -> dict[str, Any]:
    """The summary row of plan ``key`` (``method``, ``proof``, ``optimality_gap``)."""
    row = result.summary.loc[key]
    return {
        "method": row["method"],
        "proof": row.get("proof", ""),
        "optimality_gap": row.get("optimality_gap", np.nan),
    }


def _scenario_text(key: str, row: pd.Series, lang: str) -> str:
    if key == "current":
        return label("reading_ui.current", lang=lang)
    method = _method_text(row, lang)
    return label("reading_ui.scenario", lang=lang).format(
        method=method, target=_target_text(float(row["target"]))
    )


def _id_number(value: str) -> str:
    """``"new_919"`` → ``"919"``, ``"gap_3"`` → ``"3"``; other ids stay as they are."""
    head, sep, tail = value.partition("_")
    return tail if sep and head in ("new", "gap") else value


def _population_source(value: Any, lang: str) -> Any:
    if not isinstance(value, str) or not value:
        return value
    try:
        return label(f"population_source.{value}", lang=lang)
    except ValidationError:
        return value


def labelled(frame: pd.DataFrame, *, lang: str = "zh", headers: bool = True) -> pd.DataFrame:
    """A copy of one of the assessment's tables for people, in ``lang`` (``rules/labels_reading.yml``).

    Headers are translated (columns without a label keep their name; with
    ``headers=False`` they keep their names, e.g. for :func:`excel_tables`), scenarios
    of the ``summary`` table are named (现状 / Current, …), methods and statuses
    are put in words, persons are rounded to whole numbers and shares to 0.1 %
    (kept as 0–1 fractions).
    """
    out = frame.copy()
    if out.index.name == "scenario" and {"method", "target"} <= set(out.columns):
        out.index = pd.Index(
            [_scenario_text(k, out.loc[k], lang) for k in out.index], name=out.index.name
        )
    if "scenario" in out.columns and {"method", "target"} <= set(out.columns):
        out["scenario"] = [
            _scenario_text(str(k), r, lang) for k, (_, r) in zip(out["scenario"], out.iterrows())
        ]
    # ids of proposed sites (new_<node>) and uncovered areas (gap_<n>) as their numbers
    for col in ("site", "sites"):
        if col in out.columns:
            out[col] = [
                ("、" if lang == "zh" else ", ").join(_id_number(v) for v in str(x).split(";") if v)
                if isinstance(x, str)
                else x
                for x in out[col]
            ]
    if out.index.name == "gap":
        out.index = pd.Index([_id_number(str(v)) for v in out.index], name="gap")
    if "source" in out.columns:
        out["source"] = [_population_source(v, lang) for v in out["source"]]
    if "method" in out.columns:
        out["method"] = [
            _method_text(r, lang) if r["method"] in ("greedy", "exact") else r["method"]
            for _, r in frame.iterrows()
        ]
    if "proof" in out.columns:
        out = out.drop(columns="proof")  # said by the method's words
    if "status" in out.columns:
        statuses = set(_label_keys("reading_status"))
        out["status"] = [
            label(f"reading_status.{v}", lang=lang) if v in statuses else v for v in out["status"]
        ]
    if "estimate" in out.columns:
        out["estimate"] = [
            label(f"reading_ui.estimate_{v}", lang=lang) if v else "" for v in out["estimate"]
        ]
    if "confidence" in out.columns:
        out["confidence"] = [
            label(f"reading_ui.confidence_{v}", lang=lang) if v in ("high", "medium", "low") else v
            for v in out["confidence"]
        ]
    if "reached" in out.columns:
        yes, no = (
            label("reading_ui.answer_yes", lang=lang),
            label("reading_ui.answer_no", lang=lang),
        )
        out["reached"] = [
            "" if v is None or (isinstance(v, float) and np.isnan(v)) else (yes if v else no)
            for v in out["reached"]
        ]
    for col in ("population", "covered", "uncovered", "gain"):
        if col in out.columns:
            out[col] = out[col].astype(float).round(0)
    for col in ("share", "best_share"):
        if col in out.columns:
            out[col] = out[col].astype(float).round(3)
    shares = [c for c in ("target", "optimality_gap", "coverage_gap") if c in out.columns]
    if shares:  # 0–1 shares, shown as percentages in tables
        out.attrs["share_columns"] = [
            *shares,
            *(label(f"reading_col.{c}", lang=lang) for c in shares),
        ]
    if not headers:
        return out
    known = set(_label_keys("reading_col"))
    out = out.rename(
        columns={c: label(f"reading_col.{c}", lang=lang) for c in out.columns if c in known}
    )
    if out.index.name in known:
        out.index.name = label(f"reading_col.{out.index.name}", lang=lang)
    return out


def key_figures(result: Assessment) -> list[dict[str, Any]]:
    """The assessment's key figures for the index page of a batch run.

    From the ``current`` row of :attr:`Assessment.summary`: ``coverage`` (the
    population-weighted share within the walk limit, ``percent``), ``uncovered``
    (residents not covered, ``count``) and ``uncovered_points`` (residence points
    not covered, ``count``); then per target ``new_sites_<target>`` (e.g.
    ``new_sites_95``): the new reading places of the recommended plan (the exact
    one when it ran, else the greedy one), or ``None`` when that plan does not
    reach the target. Without a reading place in the data the three coverage figures
    have no value and status ``no_data``.

    Returns
    -------
    list of dict
        Figures for :func:`accessibility.export.write_figures`.
    """
    s = result.summary
    cur = s.loc["current"]
    minutes = f"{result.minutes:g}"
    why = str(result.meta.get("estimate", ""))
    status = "no_data" if result.no_data else None  # no reading place: no value, never 0 %
    coverage = (
        figure(
            "coverage",
            cur["share"],
            "percent",
            label_key="reading_fig.coverage_estimate",
            status=status,
            minutes=minutes,
            estimate=tuple(label(f"reading_ui.estimate_{why}", lang=x) for x in ("zh", "en")),
        )
        if why
        else figure(
            "coverage",
            cur["share"],
            "percent",
            label_key="reading_fig.coverage",
            status=status,
            minutes=minutes,
        )
    )
    out = [
        coverage,
        figure(
            "uncovered", cur["uncovered"], "count", label_key="reading_fig.uncovered", status=status
        ),
        figure(
            "uncovered_points",
            cur["uncovered_points"],
            "count",
            label_key="reading_fig.uncovered_points",
            status=status,
        ),
    ]
    for target in result.meta.get("targets", []):
        key = _target_key(float(target))
        exact, greedy = f"exact_{key}", f"greedy_{key}"
        name = exact if exact in s.index and s.loc[exact, "status"] != "skipped" else greedy
        value = None
        if name in s.index and bool(s.loc[name, "reached"]):
            value = int(s.loc[name, "new_sites"])
        out.append(
            figure(
                f"new_sites_{key}",
                value,
                "count",
                label_key="reading_fig.new_sites",
                target=_target_text(float(target)),
            )
        )
    return out


def excel_tables(result: Assessment, *, lang: str = "zh") -> dict[str, pd.DataFrame]:
    """The summary tables for :func:`accessibility.export.write_excel`, by sheet name in ``lang``.

    Sheets: coverage per scenario, per sub-area (when there are areas), uncovered
    residential areas and proposed sites (both with 经度/纬度). Values are put in
    words as in :func:`labelled`; column names are kept, so give
    ``headers=excel_headers(lang=lang)`` to ``write_excel`` for the headers.
    """
    sheets = {
        label("reading_ui.sheet_summary", lang=lang): labelled(
            result.summary, lang=lang, headers=False
        )
    }
    if result.by_area is not None:
        sheets[label("reading_ui.sheet_areas", lang=lang)] = labelled(
            result.by_area, lang=lang, headers=False
        )
    sheets[label("reading_ui.sheet_uncovered", lang=lang)] = labelled(
        result.uncovered_areas, lang=lang, headers=False
    )
    sheets[label("reading_ui.sheet_sites", lang=lang)] = labelled(
        result.sites, lang=lang, headers=False
    )
    return sheets


def excel_headers(*, lang: str = "zh") -> dict[str, str]:
    """Column name → header in ``lang`` for the sheets of :func:`excel_tables`."""
    return {c: label(f"reading_col.{c}", lang=lang) for c in _label_keys("reading_col")}


def static_map_layers(
    result: Assessment, *, margin_m: float = 1_500.0
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Residence points and reading places for :func:`accessibility.static_map.render_png`.

    Use with ``group="reading"``: the walk time to the nearest reading place is
    copied to ``reading_time_min`` (the column the PNG map colours by), and only the
    reading places within ``margin_m`` metres of the residents' extent are kept, so
    the map shows the area the residents live in (as :func:`map` does), not the
    whole region.
    """
    pts = result.population.assign(reading_time_min=result.population["time_min"].astype(float))
    crs = pts.estimate_utm_crs()
    window = shapely.box(*pts.geometry.to_crs(crs).total_bounds).buffer(margin_m)
    fac = result.facilities
    inside = fac.geometry.to_crs(crs).intersects(window).to_numpy()
    return pts, fac.loc[inside]


def _label_keys(section: str) -> list[str]:
    from ..labels import keys

    return keys(section)


# --------------------------------------------------------------------------- map


def _geojson(
    gdf: gpd.GeoDataFrame,
    columns: Sequence[str] = (),
    *,
    simplify_deg: float = 0.0,
    precision_deg: float = 1e-6,
) -> dict[str, Any]:
    """GeoJSON of some columns (no per-feature bbox or id), coordinates rounded to
    ``precision_deg`` (1e-6° ≈ 0.1 m), optionally simplified."""
    frame = gdf[[*columns]].copy()
    geom = gdf.geometry.to_numpy()
    if simplify_deg > 0:
        geom = shapely.simplify(geom, simplify_deg, preserve_topology=True)
    geom = shapely.set_precision(geom, precision_deg)
    frame = gpd.GeoDataFrame(frame, geometry=geom, crs=4326)
    # no bounding box or id per feature: thousands of residents stay a map of a few MB
    return frame.to_geo_dict(show_bbox=False, drop_id=True)


def _point_layer(
    points: gpd.GeoDataFrame,
    tips: Sequence[str],
    *,
    name: str,
    colour: str | Sequence[str],
    radius: float | Sequence[float],
    outline: str = "#ffffff",
    weight: float = 0.5,
    show: bool = True,
) -> folium.FeatureGroup:
    """Circles drawn from one GeoJSON layer (compact for thousands of points), with tooltips."""
    n = len(points)
    colours = [colour] * n if isinstance(colour, str) else list(colour)
    radii = [float(radius)] * n if isinstance(radius, int | float) else [float(r) for r in radius]
    same = len(set(colours)) <= 1 and len(set(radii)) <= 1  # said once, not per point
    frame = gpd.GeoDataFrame(
        {"tip": [html.escape(t) for t in tips], "c": colours, "r": np.round(radii, 1)},
        geometry=points.geometry.to_numpy(),
        crs=4326,
    )
    layer = folium.FeatureGroup(name=name, show=show)
    if n:
        c0, r0 = colours[0], round(radii[0], 1)
        folium.GeoJson(
            _geojson(frame, ["tip"] if same else ["tip", "c", "r"], precision_deg=1e-5),
            marker=folium.CircleMarker(radius=4, weight=weight, color=outline, fill=True),
            style_function=lambda f: {
                "fillColor": f["properties"].get("c", c0),
                "radius": f["properties"].get("r", r0),
                "fillOpacity": 0.9,
                "color": outline,
                "weight": weight,
            },
            tooltip=folium.GeoJsonTooltip(fields=["tip"], labels=False),
        ).add_to(layer)
    return layer


def _legend(rows: Sequence[tuple[str, str, str]]) -> Element:
    """A fixed box in the bottom-left corner: (shape, colour, text) per row, shapes as
    drawn on the map (see :mod:`accessibility.policies._overlays`)."""
    items = "".join(
        '<div style="display:flex;align-items:center">'
        '<span style="flex:none;width:18px;text-align:center;line-height:0">'
        f"{_overlays.swatch(shape, c, size=11)}</span><span>{html.escape(t)}</span></div>"
        for shape, c, t in rows
    )
    style = (
        "position:fixed;bottom:64px;left:10px;z-index:1000;padding:6px 10px;font-size:12px;"
        "line-height:18px;background:rgba(255,255,255,0.93);border-radius:4px;"
        f"box-shadow:0 1px 4px rgba(0,0,0,0.3);font-family:{_FONT}"
    )
    element = Element(f'<div class="rc-legend" style="{style}">{items}</div>')
    element.rows = list(rows)  # what the legend explains, for checks
    return element


class _Residents(MacroElement):
    """Residence points of one layer as circles, from one compact array.

    Each point is ``[lat, lon, population, minutes or null, radius, place]`` (place:
    index into the names of the nearest reading places, or -1); the tooltip (residents,
    walk, nearest reading place) is built when the point is hovered. Thousands of
    points stay a few hundred kB, where one GeoJSON feature with its text each would be
    several MB.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            (function (layer) {
                var D = {{ this.data }};
                function tip(p) {
                    var t = p[3] === null ? D.none : p[3].toFixed(1) + " " + D.min;
                    var out = D.tip.replace("{population}", Math.round(p[2]).toLocaleString("en-US"))
                        .replace("{time}", t);
                    return p[5] < 0 ? out : out + "<br>" + D.near.replace("{name}", D.n[p[5]]);
                }
                D.p.forEach(function (p) {
                    L.circleMarker([p[0], p[1]], {
                        radius: p[4], color: "#ffffff", weight: 0.5, fillColor: D.c, fillOpacity: 0.9
                    }).bindTooltip(function () { return tip(p); }).addTo(layer);
                });
            })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__()
        self._name = "Residents"
        self.data = _js_json(data)


class _Areas(MacroElement):
    """Polygons of one layer from one compact array: coordinates as whole multiples of
    :data:`AREA_PRECISION_DEG`, each ring's points as differences from the previous
    one (``[lon0, lat0, dlon1, dlat1, ...]``), about a third of the bytes of GeoJSON.

    ``data``: ``{"a": [[ring, ...] per polygon], "t": [tooltip per polygon] or [],
    "s": Leaflet path style}``. Tooltips are plain text (escaped before).
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            (function (layer) {
                var D = {{ this.data }}, q = {{ this.unit }};
                D.a.forEach(function (poly, i) {
                    var rings = poly.map(function (r) {
                        var x = 0, y = 0, out = [];
                        for (var k = 0; k < r.length; k += 2) {
                            x += r[k]; y += r[k + 1];
                            out.push([y * q, x * q]);
                        }
                        return out;
                    });
                    var shape = L.polygon(rings, D.s);
                    if (D.t.length) shape.bindTooltip(D.t[i]);
                    shape.addTo(layer);
                });
            })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(
        self, polygons: Sequence[Any], style: dict[str, Any], tips: Sequence[str] = ()
    ) -> None:
        super().__init__()
        self._name = "Areas"
        self.unit = repr(AREA_PRECISION_DEG)
        packed, texts = [], []
        for k, poly in enumerate(polygons):
            for part in shapely.get_parts(poly):
                if not isinstance(part, shapely.Polygon) or part.is_empty:
                    continue
                rings = [part.exterior, *part.interiors]
                packed.append([_delta_ring(np.asarray(r.coords)[:-1]) for r in rings])
                if len(tips):
                    texts.append(tips[k])
        self.count = len(packed)
        self.data = _js_json({"a": packed, "t": texts, "s": style})


def _delta_ring(coords: np.ndarray) -> list[int]:
    """A ring's ``[lon, lat]`` points as whole units of :data:`AREA_PRECISION_DEG`, each
    point the difference from the one before (the first from zero)."""
    units = np.round(coords / AREA_PRECISION_DEG).astype(np.int64)
    steps = np.diff(units, axis=0, prepend=np.zeros((1, 2), dtype=np.int64))
    return steps.ravel().tolist()


def _js_json(obj: Any) -> str:
    """Compact JSON safe inside a ``<script>`` element."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escape)
    return text


def _place_names(facilities: gpd.GeoDataFrame, lang: str) -> pd.Series:
    """Each reading place's name, or what it is (its tier or kind) when it has none: never its id."""
    names = facilities["name"] if "name" in facilities else pd.Series(None, index=facilities.index)
    tiers = facilities["tiers"] if "tiers" in facilities else pd.Series("", index=facilities.index)
    out = []
    for name, tier in zip(names, tiers):
        if isinstance(name, str) and name.strip():
            out.append(name.strip())
            continue
        first = str(tier).split(";")[0] if isinstance(tier, str) and tier else ""
        try:
            out.append(group_label(f"reading:{first}" if first else "reading", lang=lang))
        except ValidationError:
            out.append(group_label("reading", lang=lang))
    return pd.Series(out, index=facilities.index, dtype=object)


def filled(areas: gpd.GeoDataFrame, max_hole_m2: float = FILL_HOLES_M2) -> gpd.GeoDataFrame:
    """Walk areas with their holes up to ``max_hole_m2`` square metres filled (EPSG:4326 in and out).

    A walk area is the reached streets widened by a few metres; the blocks they ring
    are holes in it, though their homes are a short walk from the streets around
    them. Filling the small holes draws the area walked, not only its streets.
    """
    if not len(areas) or max_hole_m2 <= 0:
        return areas
    crs = areas.estimate_utm_crs()
    metric = areas.geometry.to_crs(crs)

    def fill(poly: shapely.Polygon) -> shapely.Polygon:
        keep = [ring for ring in poly.interiors if shapely.Polygon(ring).area > max_hole_m2]
        return shapely.Polygon(poly.exterior, keep)

    out = []
    for geom in metric:
        if geom is None or geom.is_empty:
            out.append(geom)
        elif isinstance(geom, shapely.Polygon):
            out.append(fill(geom))
        else:
            out.append(shapely.union_all([fill(g) for g in shapely.get_parts(geom)]))
    return areas.set_geometry(gpd.GeoSeries(out, index=areas.index, crs=crs).to_crs(4326))


def resident_cells(points: gpd.GeoDataFrame, cell_m: float) -> gpd.GeoDataFrame:
    """Residence points merged per ``cell_m`` square cell and coverage state.

    One row per (cell, ``covered``): ``population`` (sum), ``points`` (how many),
    ``time_min`` (population-weighted mean of the known times; NaN when none is
    known), ``nearest`` (the nearest reading place of the most populous point),
    located at the population-weighted centre of its points (EPSG:4326).
    """
    if not np.isfinite(cell_m) or cell_m <= 0:
        msg = f"cell_m must be a positive number of metres, got {cell_m!r}"
        raise ValidationError(msg)
    if points.empty:
        return points
    crs = points.estimate_utm_crs()
    xy = points.geometry.to_crs(crs)
    x, y = xy.x.to_numpy(), xy.y.to_numpy()
    pop = points["population"].astype(float).clip(lower=0).fillna(0).to_numpy()
    t = points["time_min"].astype(float).to_numpy()
    frame = pd.DataFrame(
        {
            "i": np.floor(x / cell_m).astype(np.int64),
            "j": np.floor(y / cell_m).astype(np.int64),
            "covered": points["covered"].astype(bool).to_numpy(),
            "w": pop + 1e-9,  # a point of unknown or no residents still places its cell
            "wx": (pop + 1e-9) * x,
            "wy": (pop + 1e-9) * y,
            "population": pop,
            "known": np.where(np.isfinite(t), pop + 1e-9, 0.0),
            "wt": (pop + 1e-9) * np.where(np.isfinite(t), t, 0.0),
            "nearest": points["nearest"].to_numpy() if "nearest" in points else None,
        }
    )
    top = frame.sort_values("w", ascending=False, kind="stable").drop_duplicates(
        ["i", "j", "covered"]
    )
    keys = ["i", "j", "covered"]
    g = frame.groupby(keys, sort=True).agg(
        w=("w", "sum"), wx=("wx", "sum"), wy=("wy", "sum"), population=("population", "sum"),
        known=("known", "sum"), wt=("wt", "sum"), points=("w", "size"),
    )  # fmt: skip
    g = g.join(top.set_index(keys)["nearest"])
    with np.errstate(invalid="ignore", divide="ignore"):
        time_min = np.where(g["known"] > 0, g["wt"] / g["known"], np.nan)
    cells = gpd.GeoDataFrame(
        {
            "covered": g.index.get_level_values("covered").to_numpy(),
            "population": g["population"].to_numpy(),
            "points": g["points"].to_numpy(),
            "time_min": time_min,
            "nearest": g["nearest"].to_numpy(),
        },
        geometry=gpd.points_from_xy(g["wx"] / g["w"], g["wy"] / g["w"]),
        crs=crs,
    )
    return cells.to_crs(4326)


def _target_text(target: float) -> str:
    return f"{target * 100:g}%"


def map(
    result: Assessment,
    *,
    title: str | None = None,
    lang: str = "zh",
    boundary: gpd.GeoSeries | None = None,
    synthetic: bool = False,
    max_points: int = MAX_MAP_POINTS,
    cell_m: float | None = None,
    margin_m: float = 1_500.0,
    fill_holes_m2: float = FILL_HOLES_M2,
    source_note: str | None = None,
    notes: Any = (),
) -> folium.Map:
    """The reading circle on a map that works offline (save it with :func:`accessibility.maps.save_html`).

    Layers (switchable): the area within the walk of a reading place now (filled,
    see :func:`filled`); the same with the new sites of each target's recommended
    plan (off at first, in that plan's colour); uncovered residential areas;
    residents as circles (green covered, red not; only the uncovered ones when
    there are more than ``max_points``), whose tooltip names the nearest reading
    place; existing reading places; proposed sites per plan, one colour per plan
    (the first plan shown); the boundary. The legend lists every one of them, each
    plan with its colour. Areas are drawn within ``margin_m`` metres of the
    residents' extent (the rest is off the map's subject) and simplified to about
    2 m. No base tiles and no CDN asset: only Leaflet, which
    :func:`~accessibility.maps.save_html` inlines. No tooltip shows an internal id.

    Parameters
    ----------
    result
        Output of :func:`assess`.
    title
        Title text; default "15分钟阅读圈" / "15-minute reading circle" in ``lang``.
    lang
        ``"zh"`` or ``"en"``.
    boundary
        Outline to draw (EPSG:4326), e.g. ``study.boundary``.
    synthetic
        Show the synthetic-data notice (required for the sample region).
    max_points
        Largest number of resident points drawn.
    cell_m
        Draw residents merged per square cell of this many metres (one circle per
        cell and coverage state, at the residents' centre, sized by their number;
        see :func:`resident_cells`). Default: points as they are, or
        :data:`DEFAULT_CELL_M` cells when there are more than
        :data:`AGGREGATE_ABOVE` (a city's buildings). The GeoPackage keeps every
        point.
    margin_m
        Metres around the residents' extent within which areas are drawn.
    fill_holes_m2
        Holes of the walk areas up to this many square metres are filled (0: none).
    notes
        Sentences shown under the title with a warning sign (e.g. an
        :class:`accessibility.report.Notes`, given in ``lang``). Without a reading
        place in the data the title says so instead of a coverage, and residents are
        grey "no data" (无数据), not red "not covered".

    Returns
    -------
    folium.Map
    """
    label("reading_ui.title", lang=lang)  # checks lang
    minutes = f"{result.minutes:g}"
    title = title or label("reading_ui.title", lang=lang).format(minutes=minutes)
    cur = result.summary.loc["current"]
    fmt = "{:,.0f}"
    source_key = f"reading_ui.source_{result.population_source}"
    why = str(result.meta.get("estimate", ""))
    share_text = _fmt_share(float(cur["share"]))
    coverage_text = label("reading_ui.coverage_line", lang=lang).format(
        share=f"{label('reading_ui.estimate_mark', lang=lang)} {share_text}" if why else share_text,
        covered=fmt.format(cur["covered"]),
        population=fmt.format(cur["population"]),
        uncovered=fmt.format(cur["uncovered"]),
    )
    if why:
        estimate = label(f"reading_ui.estimate_{why}", lang=lang)
        coverage_text += f"（{estimate}）" if lang == "zh" else f" ({estimate})"
    lines = [
        coverage_text,
        label(source_key, lang=lang)
        if result.population_source in ("raster", "buildings", "landuse", "places", "points")
        else result.population_source,
    ]
    if result.no_data:
        lines[0] = label("reading_ui.no_places_line", lang=lang).format(
            population=fmt.format(cur["population"])
        )
    lines += [f"⚠ {t}" for t in (notes.texts(lang) if hasattr(notes, "texts") else notes)]
    pts = result.population
    crs = pts.estimate_utm_crs()
    frame = shapely.box(*pts.geometry.to_crs(crs).total_bounds).buffer(margin_m)
    window = gpd.GeoSeries([frame], crs=crs).to_crs(4326).iloc[0]
    west, south, east, north = pts.total_bounds
    m = folium.Map(
        location=[(south + north) / 2, (west + east) / 2],
        zoom_start=13,
        tiles=None,
        control_scale=True,
    )
    # only Leaflet itself is used; folium's other default assets are CDN files
    m.default_js = [(n, u) for n, u in folium.Map.default_js if n == "leaflet"]
    m.default_css = [(n, u) for n, u in folium.Map.default_css if n == "leaflet_css"]
    m.get_root().header.add_child(Element(f"<title>{html.escape(title)}</title>"), name="rc_title")
    m.get_root().header.add_child(
        Element("<style>.leaflet-container{background:#f3f1ec}</style>"), name="rc_style"
    )
    # base-layer choice: none (the default, offline), OpenStreetMap, Tianditu with $TIANDITU_KEY
    add_base_layers(m, lang=lang)

    def area_shapes(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        """Areas within the map's window, small holes filled."""
        clipped = gdf.clip(window) if len(gdf) else gdf
        clipped = clipped.loc[~clipped.geometry.is_empty]
        return filled(clipped, fill_holes_m2) if len(clipped) else clipped

    def area_layer(
        shapes: gpd.GeoDataFrame, name: str, style: dict[str, Any], *, show: bool
    ) -> folium.FeatureGroup:
        layer = folium.FeatureGroup(name=name, show=show)
        shapes = shapes.loc[~shapes.geometry.is_empty]
        if len(shapes):
            simple = shapely.simplify(
                shapes.geometry.to_numpy(), AREA_DETAIL_DEG, preserve_topology=True
            )
            layer.add_child(_Areas(simple, {**style, "interactive": False}))
        layer.add_to(m)
        return layer

    # one colour per site plan, in the order of the plans; the walk area after a
    # target's recommended plan in that plan's colour
    plan_keys = list(dict.fromkeys([*result.plans, *result.sites["scenario"]]))
    plan_colour = {k: SITE_COLOURS[i % len(SITE_COLOURS)] for i, k in enumerate(plan_keys)}
    legend: list[tuple[str, str, str]] = []
    now_name = label("reading_ui.isochrone_now", lang=lang).format(minutes=minutes)
    now_shapes = area_shapes(result.isochrones)
    now_area = shapely.union_all(now_shapes.geometry.to_numpy()) if len(now_shapes) else None
    area_layer(
        now_shapes,
        now_name,
        {"color": COVERED_COLOUR, "weight": 0, "fillColor": COVERED_COLOUR, "fillOpacity": 0.35},
        show=True,
    )
    legend.append(("area", COVERED_COLOUR, now_name))
    for key in result.isochrones_after.index:
        if int(result.isochrones_after.loc[key, "new_sites"]) == 0:
            continue  # the target is met already: the plan adds no area to draw
        target = _target_text(float(result.isochrones_after.loc[key, "target"]))
        colour = plan_colour.get(str(key), SITE_COLOURS[0])
        method = _method_text(_plan_row(result, str(key)), lang)
        name = label("reading_ui.isochrone_after", lang=lang).format(
            minutes=minutes, target=target, method=method
        )
        added = area_shapes(result.isochrones_after.loc[[key]])
        if now_area is not None and len(added):  # drawn over today's area: what the plan adds
            added = added.set_geometry(shapely.make_valid(added.geometry.difference(now_area)))
        area_layer(
            added,
            name,
            {"color": colour, "weight": 0, "fillColor": colour, "fillOpacity": 0.3},
            show=False,
        )
        legend.append(("area", colour, name))

    gaps = folium.FeatureGroup(name=label("reading_ui.uncovered_areas", lang=lang), show=True)
    if len(result.uncovered_areas):
        tips = [
            html.escape(label("reading_ui.area_tip", lang=lang).format(population=fmt.format(v)))
            for v in result.uncovered_areas["population"]
        ]
        simple = shapely.simplify(
            result.uncovered_areas.geometry.to_numpy(), 2 * AREA_DETAIL_DEG, preserve_topology=True
        )
        style = {
            "color": UNCOVERED_COLOUR,
            "weight": 1,
            "dashArray": "4 3",
            "fillColor": UNCOVERED_COLOUR,
            "fillOpacity": 0.12,
        }
        gaps.add_child(_Areas(simple, style, tips))
    gaps.add_to(m)
    legend.append(("area", UNCOVERED_COLOUR, label("reading_ui.uncovered_areas", lang=lang)))

    fac = result.facilities
    place_names = _place_names(fac, lang)
    place_pos = pd.Series(np.arange(len(fac)), index=fac.index)
    texts = {
        "min": label("ui.minutes", lang=lang),
        "none": html.escape(label("ui.no_data" if result.no_data else "ui.unreachable", lang=lang)),
        "tip": html.escape(label("reading_ui.resident_tip", lang=lang)),
        "near": html.escape(label("reading_ui.nearest_place", lang=lang)),
        "n": [html.escape(n) for n in place_names],
    }

    def resident_rows(rows: gpd.GeoDataFrame) -> list[list[Any]]:
        """``[lat, lon, population, minutes or None, radius, place]`` per point (see _Residents)."""
        pop = rows["population"].astype(float).clip(lower=0).fillna(0).to_numpy()
        t = rows["time_min"].astype(float).to_numpy()
        radius = np.clip(2 + np.sqrt(pop) / 8, 2, 8)
        near = (
            place_pos.reindex(rows["nearest"]).fillna(-1).astype(int).to_numpy()
            if "nearest" in rows and len(fac)
            else np.full(len(rows), -1)
        )
        lat, lon = rows.geometry.y.to_numpy(), rows.geometry.x.to_numpy()
        return [
            [
                round(float(y), 5),
                round(float(x), 5),
                round(float(p)),
                round(float(m), 1) if np.isfinite(m) else None,
                round(float(r), 1),
                int(k) if np.isfinite(m) else -1,
            ]
            for y, x, p, m, r, k in zip(lat, lon, pop, t, radius, near)
        ]

    shown = pts
    if cell_m is None and len(pts) > AGGREGATE_ABOVE:
        cell_m = DEFAULT_CELL_M
    if cell_m:  # a city: residents merged per grid cell and coverage, detail in the GeoPackage
        shown = resident_cells(pts, cell_m)
        texts["tip"] = html.escape(
            label("reading_ui.cell_tip", lang=lang).replace("{cell}", f"{cell_m:g}")
        )
    covered_pts = shown.loc[shown["covered"]] if len(shown) <= max_points else shown.iloc[:0]
    uncovered_pts = shown.loc[~shown["covered"]]
    not_covered = (
        ("reading_ui.residents_no_data", NO_DATA_COLOUR)
        if result.no_data
        else ("reading_ui.residents_uncovered", UNCOVERED_COLOUR)
    )
    for rows, key, colour in (
        (covered_pts, "reading_ui.residents_covered", COVERED_COLOUR),
        (uncovered_pts, *not_covered),
    ):
        layer = folium.FeatureGroup(name=label(key, lang=lang), show=True)
        if len(rows):
            layer.add_child(_Residents({**texts, "c": colour, "p": resident_rows(rows)}))
        layer.add_to(m)
        text = label(key, lang=lang)
        if cell_m:
            text += label("reading_ui.cells_note", lang=lang).format(cell=f"{cell_m:g}")
        legend.append(("dot", colour, text))

    _point_layer(
        fac,
        list(place_names),
        name=label("reading_ui.reading_places", lang=lang),
        colour=PLACE_COLOUR,
        radius=6,
        weight=2,
    ).add_to(m)
    legend.append(("dot", PLACE_COLOUR, label("reading_ui.reading_places", lang=lang)))

    tip_site = label("reading_ui.new_site_tip", lang=lang)
    for i, (key, group) in enumerate(result.sites.groupby("scenario", sort=False)):
        first = group.iloc[0]
        method = _method_text(_plan_row(result, str(key)), lang)
        name = label("reading_ui.new_sites", lang=lang).format(
            target=_target_text(float(first["target"])), method=method
        )
        tips = [  # the plan is named by its layer and legend: the tooltip says the site
            tip_site.format(step=int(st), gain=fmt.format(g))
            for st, g in zip(group["step"], group["gain"])
        ]
        colour = plan_colour[str(key)]
        _point_layer(
            group,
            tips,
            name=name,
            colour=colour,
            radius=7,
            outline="#000000",
            weight=2,
            show=(i == 0),
        ).add_to(m)
        legend.append(
            (
                "dot",
                colour,
                label("reading_ui.plan_legend", lang=lang).format(name=name, n=len(group)),
            )
        )

    if boundary is not None and len(boundary):
        outline = folium.FeatureGroup(name=label("ui.boundary", lang=lang), show=True)
        folium.GeoJson(
            _geojson(gpd.GeoDataFrame(geometry=boundary.to_crs(4326).to_numpy(), crs=4326)),
            style_function=lambda _: {
                "color": BOUNDARY_COLOUR,
                "weight": 1.5,
                "dashArray": "6 4",
                "fill": False,
            },
            interactive=False,
        ).add_to(outline)
        outline.add_to(m)
        legend.append(("dashed_line", BOUNDARY_COLOUR, label("ui.boundary", lang=lang)))

    add_title(m, title, lines, synthetic=synthetic, lang=lang, source_note=source_note)
    m.get_root().html.add_child(_legend(legend), name="rc_legend")
    folium.LayerControl(collapsed=False).add_to(m)
    pad = 0.003  # degrees, so that a single point is not drawn at the maximum zoom
    m.fit_bounds([[south - pad, west - pad], [north + pad, east + pad]])
    return m
