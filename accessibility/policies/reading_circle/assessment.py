"""The reading circle measured: residents, coverage, sub-areas, candidate sites and plans (see the package docstring)."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ... import classify, engine, isochrones, network, siting, snapping
from ..._errors import ValidationError
from ...population import estimate as estimate_population
from ...population import reliability as population_reliability
from ...report import Notes

if TYPE_CHECKING:
    from ...pipeline import Study

log = logging.getLogger(__name__)

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
#: A model too large for ``exact_max_vars`` is solved on the candidates thinned to a
#: grid this many times coarser (one per cell, nearest its centre), the first that fits
#: — a stated approximation — before the exact plan is skipped.
APPROX_GRID_FACTORS: Final[tuple[int, ...]] = (2, 4, 8, 16)
#: Default targets: 95 % and every resident.
DEFAULT_TARGETS: Final[tuple[float, ...]] = (0.95, 1.0)


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


def _target_text(target: float) -> str:
    return f"{target * 100:g}%"


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


def _thinned(cands: gpd.GeoDataFrame, crs: str, cell_m: float) -> np.ndarray:
    """Positions (into ``cands``) of one candidate per ``cell_m`` cell, the one nearest
    the cell's centre (ties: the first), in ``cands``' order."""
    xy = cands.geometry.to_crs(crs)
    x, y = xy.x.to_numpy(), xy.y.to_numpy()
    cx, cy = np.floor(x / cell_m), np.floor(y / cell_m)
    d = np.hypot(x - (cx + 0.5) * cell_m, y - (cy + 0.5) * cell_m)
    frame = pd.DataFrame({"cx": cx, "cy": cy, "d": d, "pos": np.arange(len(cands))})
    pick = frame.sort_values(["cx", "cy", "d", "pos"]).drop_duplicates(["cx", "cy"])
    return np.sort(pick["pos"].to_numpy(np.int64))


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


def _estimate_key(source: str, confidence: str) -> str:
    """Why a coverage figure is only an estimate: ``landuse``, ``low_confidence`` or ``""``."""
    if source == "landuse":
        return "landuse"
    return "low_confidence" if confidence == "low" else ""


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
    if no_data and not len(cands):
        log.warning("no reading place and no candidate site in the data: no siting plan")
    planned = tgts if len(cands) or not no_data else ()
    coverage = pairs if pairs is not None else np.zeros((0, len(demand)))
    # the walk areas after each target's recommended plan (the exact one when there is
    # one, else greedy's)
    def after_area(target: float, chosen: siting.Plan) -> gpd.GeoDataFrame:
        ids = fac_ids.append(pd.Index(chosen.sites))
        poly = isochrones.polygons(
            net,
            scenario.node_times(ids, limit_s=limit_s),
            limits_min=[minutes],
            buffer_m=buffer_m,
            sources=_sources(both.loc[ids]),
        )
        return poly.reset_index().assign(
            scenario=f"{chosen.method}_{_target_key(target)}",
            method=chosen.method,
            target=target,
            new_sites=len(chosen.sites),
        )

    def exact_plan(target: float) -> siting.Plan:
        """The exact plan; a model above ``exact_max_vars`` is solved on candidates
        thinned to a coarser grid (a stated approximation) until it fits."""
        kw: dict[str, Any] = dict(
            covered=d_covered,
            target=target,
            max_vars=exact_max_vars,
            time_limit_s=exact_time_limit_s,
            tie_break_s=min(EXACT_TIE_BREAK_S, exact_time_limit_s),
        )
        try:
            return siting.exact(coverage, d_weights, candidate_ids=cand_ids, **kw)
        except siting.ModelTooLargeError as exc:
            too_large: ValidationError = exc
        for factor in APPROX_GRID_FACTORS:
            rows = _thinned(cands.loc[cand_ids], crs, grid_m * factor)
            try:
                plan = siting.exact(coverage[rows], d_weights, candidate_ids=cand_ids[rows], **kw)
            except siting.ModelTooLargeError as exc:
                too_large = exc
                continue
            log.warning(
                "exact plan for target %g: %s; solved on %d of %d candidates (one per "
                "%g m cell) instead, an approximation",
                target, too_large, len(rows), len(cand_ids), grid_m * factor,
            )  # fmt: skip
            plan.meta["approximation_grid_m"] = grid_m * factor
            return plan
        raise too_large

    def plan_and_area(
        target: float,
    ) -> tuple[siting.Plan, siting.Plan | ValidationError, gpd.GeoDataFrame]:
        """Greedy's plan, the exact plan (or why there is none) and the area after the
        recommended one: one target's work, run beside the others'."""
        quick = siting.greedy(
            coverage, d_weights, candidate_ids=cand_ids, covered=d_covered, target=target
        )
        try:
            best: siting.Plan | ValidationError = exact_plan(target)
        except ValidationError as exc:
            best = exc
        return quick, best, after_area(target, best if isinstance(best, siting.Plan) else quick)

    # each target's plans and area side by side (HiGHS and GEOS leave Python's lock
    # while they work), while the walk area of today is drawn
    worked: dict[float, tuple[siting.Plan, siting.Plan | ValidationError, gpd.GeoDataFrame]]
    pool = ThreadPoolExecutor(max_workers=max(1, min(len(planned), os.cpu_count() or 1)))
    try:
        solving = {target: pool.submit(plan_and_area, target) for target in planned}
        node_t = router.node_times(limit_s=limit_s)
        iso = isochrones.polygons(
            net, node_t, limits_min=[minutes], buffer_m=buffer_m, sources=_sources(fac_snap)
        )
        worked = {target: job.result() for target, job in solving.items()}
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    iso_after: list[gpd.GeoDataFrame] = []
    for target in planned:
        key = _target_key(target)
        quick, best, area = worked[target]
        iso_after.append(area)
        for method in ("greedy", "exact"):
            name = f"{method}_{key}"
            plan = quick if method == "greedy" else best
            if isinstance(plan, ValidationError):
                log.warning("exact plan for target %g skipped: %s", target, plan)
                rows[name] = {"method": method, "target": target, "status": "skipped", "sites": ""}
                continue
            plans[name] = plan
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
                # an exact plan on candidates thinned to this grid: a stated approximation
                "approx_grid_m": float(plan.meta.get("approximation_grid_m", np.nan)),
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
