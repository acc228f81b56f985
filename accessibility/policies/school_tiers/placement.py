"""Where each school sits (county seat, township, village…) and whether its tier's rule allows it there.

In:  facilities and places (a :class:`~accessibility.pipeline.Study` or the tables) and
     the :class:`~.rules.TierRules`.
Out: :func:`settlement_of` (settlement, level, population and size per facility) and
     :func:`compliance` (a :class:`Compliance`: per school and tier served, allowed or
     an exception and why).
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
from scipy.spatial import cKDTree

from ... import pipeline
from ..._errors import ValidationError
from ...labels import label
from .rules import NONE, REASONS, TIERS, UNKNOWN_TIER, TierRules, _level_label, load_rules

log = logging.getLogger(__package__)


# =========================================================================== helpers
def _check_metric_crs(crs: Any) -> str:
    try:
        parsed = pyproj.CRS.from_user_input(crs)
    except (pyproj.exceptions.CRSError, TypeError) as exc:
        msg = f"crs {crs!r} is not a coordinate reference system; pass the study's metric CRS (study.crs, e.g. 'EPSG:32650')"
        raise ValidationError(msg) from exc
    if not parsed.is_projected:
        msg = f"crs {crs!r} is not projected; distances need metres: pass the study's metric CRS (study.crs, e.g. 'EPSG:32650')"
        raise ValidationError(msg)
    return parsed.to_string()


def _check_points(frame: Any, what: str, columns: Sequence[str] = ()) -> gpd.GeoDataFrame:
    if not isinstance(frame, gpd.GeoDataFrame):
        msg = f"{what} must be a GeoDataFrame with a CRS (e.g. study.{what}), got {type(frame).__name__}"
        raise ValidationError(msg)
    if frame.crs is None:
        msg = f"{what} has no CRS; set it (longitude/latitude: {what}.set_crs(4326))"
        raise ValidationError(msg)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        msg = f"{what} lacks the column(s) {missing}; use study.{what} or add them"
        raise ValidationError(msg)
    if not frame.index.is_unique:
        msg = f"{what} ids (the index) must be unique; drop or rename the duplicates"
        raise ValidationError(msg)
    return frame


def _xy(frame: gpd.GeoDataFrame, crs: str) -> np.ndarray:
    """Coordinates (metres, ``crs``) of a point on each geometry; NaN where there is none."""
    geoms = frame.geometry.to_crs(crs)
    empty = (geoms.isna() | geoms.is_empty).to_numpy()
    out = np.full((len(frame), 2), np.nan)
    if (~empty).any():
        pts = geoms[~empty].representative_point()
        out[~empty, 0] = pts.x.to_numpy()
        out[~empty, 1] = pts.y.to_numpy()
    return out


def _tiers_of(value: Any) -> list[str]:
    text = value if isinstance(value, str) else ""
    return [t for t in text.split(";") if t]


def _population_text(population: float) -> str:
    return f"{population:,.0f}" if population is not None and np.isfinite(population) else "?"


# =========================================================================== settlements
def _radii(rules: TierRules, radius_m: float | Mapping[str, float] | None) -> dict[str, float]:
    """Radius in metres per settlement level: the rules', replaced by ``radius_m``."""
    radii = {lvl: s.radius_m for lvl, s in rules.settlements.items()}
    if isinstance(radius_m, Mapping):
        unknown = sorted(set(radius_m) - set(radii))
        if unknown:
            msg = f"radius_m names unknown levels {unknown}; use {', '.join(radii)}"
            raise ValidationError(msg)
        radii.update({str(k): float(v) for k, v in radius_m.items()})
    elif radius_m is not None:
        radii = dict.fromkeys(radii, float(radius_m))
    bad = {k: v for k, v in radii.items() if not (np.isfinite(v) and v > 0)}
    if bad:
        msg = f"radius_m must be finite and > 0 metres, got {bad}"
        raise ValidationError(msg)
    return radii


def settlement_of(
    facilities: gpd.GeoDataFrame,
    places: gpd.GeoDataFrame,
    *,
    crs: str,
    radius_m: float | Mapping[str, float] | None = None,
    rules: TierRules | None = None,
) -> pd.DataFrame:
    """The settlement each facility sits in, with its level, population and size.

    For every settlement level of the rules (``county_seat``, ``township_seat``,
    ``admin_village``, ``natural_village``), the nearest place of that level within
    the level's radius is a candidate; the facility sits in the candidate it lies
    deepest in, i.e. with the smallest ``distance / radius`` (ties go to the higher
    level). A facility with no candidate sits in ``"none"``. Places of other levels
    (e.g. ``residential``) are ignored.

    Parameters
    ----------
    facilities
        Points (any CRS), index = facility id.
    places
        Place points (any CRS) with ``level`` and, when known, ``name`` and
        ``population`` (residents; NaN = unknown). ``study.places`` fits.
    crs
        A projected CRS in metres for the distances (``study.crs``).
    radius_m
        Metres; one number for every level, or a mapping level → metres for some;
        default (``None``): each level's ``radius_m`` in the rules.
    rules
        Tier rules (:func:`load_rules`; default: ``rules/tiers.yml``): radii and the
        ``large_population`` thresholds.

    Returns
    -------
    pandas.DataFrame
        Index = facility id; ``settlement_id``, ``settlement`` (name), ``level``
        (``"none"`` when none), ``population``, ``size`` (``large``, ``small``,
        ``unknown`` — no population — or ``""`` for ``none``), ``distance_m``
        (metres to the place node; NaN for ``none``).
    """
    rules = rules if rules is not None else load_rules()
    crs = _check_metric_crs(crs)
    _check_points(facilities, "facilities")
    _check_points(places, "places", ("level",))
    radii = _radii(rules, radius_m)

    n = len(facilities)
    f_xy = _xy(facilities, crs)
    valid = np.isfinite(f_xy).all(axis=1)
    if not valid.all():
        log.warning(
            "%d facilities without geometry sit in no settlement (ids %s)",
            int((~valid).sum()),
            facilities.index[~valid][:5].tolist(),
        )
    pl = places.loc[places["level"].isin(list(radii))]
    p_xy = _xy(pl, crs)
    p_ok = np.isfinite(p_xy).all(axis=1)
    best_score = np.full(n, np.inf)
    best_pos = np.full(n, -1, dtype=np.int64)
    best_dist = np.full(n, np.nan)
    levels = pl["level"].to_numpy()
    for level, radius in radii.items():  # rules order: higher levels first win ties
        sel = np.flatnonzero((levels == level) & p_ok)
        if sel.size == 0 or not valid.any():
            continue
        dist, idx = cKDTree(p_xy[sel]).query(f_xy[valid], k=1, distance_upper_bound=radius)
        found = np.isfinite(dist)
        score = np.full(n, np.inf)
        pos = np.full(n, -1, dtype=np.int64)
        d_all = np.full(n, np.nan)
        rows = np.flatnonzero(valid)[found]
        score[rows] = dist[found] / radius
        pos[rows] = sel[idx[found]]
        d_all[rows] = dist[found]
        better = score < best_score
        best_score[better], best_pos[better], best_dist[better] = (
            score[better],
            pos[better],
            d_all[better],
        )

    has = best_pos >= 0
    names = pl["name"] if "name" in pl.columns else pd.Series(None, index=pl.index, dtype=object)
    pops = (
        pd.to_numeric(pl["population"], errors="coerce")
        if "population" in pl.columns
        else pd.Series(np.nan, index=pl.index)
    )
    settlement_id = np.full(n, None, dtype=object)
    settlement = np.full(n, None, dtype=object)
    level = np.full(n, NONE, dtype=object)
    population = np.full(n, np.nan)
    settlement_id[has] = pl.index.to_numpy()[best_pos[has]]
    settlement[has] = names.to_numpy()[best_pos[has]]
    level[has] = levels[best_pos[has]]
    population[has] = pops.to_numpy(dtype=float)[best_pos[has]]
    size = [rules.size_of(lv, p) for lv, p in zip(level, population)]
    return pd.DataFrame(
        {
            "settlement_id": settlement_id,
            "settlement": settlement,
            "level": level,
            "population": population,
            "size": np.asarray(size, dtype=object),
            "distance_m": best_dist,
        },
        index=facilities.index,
    )


# =========================================================================== compliance
@dataclass
class Compliance:
    """The tier check of every school (see :func:`compliance`).

    Attributes
    ----------
    by_tier
        One row per (school, tier served), index ``(id, tier)``: ``name``, ``tiers``,
        ``confidence``, ``settlement``, ``settlement_id``, ``level``, ``size``,
        ``population``, ``distance_m``, ``allowed`` (readable), ``compliant`` (bool),
        ``reason`` (code, ``""`` when compliant), ``note`` (readable).
    schools
        One row per school (WGS-84 points), index = id: the school's columns, its
        settlement, ``{tier}_status`` (``compliant``, ``exception`` or ``""`` when the
        school does not serve the tier), ``compliant`` (every tier served is),
        ``reason`` and ``note`` (joined with ``; ``).
    exceptions
        The rows of ``by_tier`` that are not compliant.
    summary
        Per tier: ``schools``, ``compliant``, ``exceptions``, ``compliant_share``,
        ``in_<level>`` counts and one count per reason.
    lang
        Language of ``allowed`` and ``note``.
    """

    by_tier: pd.DataFrame
    schools: gpd.GeoDataFrame
    exceptions: pd.DataFrame
    summary: pd.DataFrame
    lang: str = "zh"


def _sources(data: Any, crs: str | None) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, str, Any]:
    if isinstance(data, pipeline.Study):
        return data.facilities, data.places, crs or data.crs, data.boundary.iloc[0]
    if isinstance(data, Mapping):
        missing = {"facilities", "places"} - set(data)
        if missing:
            msg = f"the tables passed lack {sorted(missing)}; pass {{'facilities': ..., 'places': ..., 'crs': ...}} or a Study"
            raise ValidationError(msg)
        the_crs = crs or data.get("crs")
        facilities, places = data["facilities"], data["places"]
    elif isinstance(data, tuple | list) and len(data) == 2:
        facilities, places = data
        the_crs = crs
    else:
        msg = f"pass a Study, a (facilities, places) pair or a dict with 'facilities' and 'places'; got {type(data).__name__}"
        raise ValidationError(msg)
    if the_crs is None:
        msg = "pass crs= (a metric CRS such as the study's, e.g. 'EPSG:32650') with tables"
        raise ValidationError(msg)
    return facilities, places, str(the_crs), None


def compliance(
    data: pipeline.Study | tuple[gpd.GeoDataFrame, gpd.GeoDataFrame] | Mapping[str, Any],
    rules: TierRules | None = None,
    *,
    crs: str | None = None,
    radius_m: float | Mapping[str, float] | None = None,
    lang: str = "zh",
) -> Compliance:
    """Check every school against its tier rule: does it sit in an allowed settlement?

    A combined school (nine-year, complete middle school…) is judged once per tier it
    serves: a nine-year school in a large administrative village complies for primary
    and is an exception for middle. A school with no settlement nearby is an exception
    (``no_settlement``); one whose settlement's size matters but whose population is
    unknown is an exception (``population_unknown``) rather than a guess; a school of
    no known tier is listed with tier ``"unknown"`` (``tier_unknown``).

    Parameters
    ----------
    data
        A :class:`~accessibility.pipeline.Study` (its schools inside the boundary are
        checked — those in the buffer belong to neighbours), or the tables:
        ``(facilities, places)`` or ``{"facilities": ..., "places": ..., "crs": ...}``
        (facilities with ``kind``, ``tiers``; places with ``level``, ``name``,
        ``population``).
    rules
        Tier rules (default: ``rules/tiers.yml``).
    crs
        Metric CRS for distances; default the study's (required with tables).
    radius_m
        Settlement radii, see :func:`settlement_of`.
    lang
        Language of ``allowed`` and ``note``: ``"zh"`` or ``"en"``.

    Returns
    -------
    Compliance
    """
    rules = rules if rules is not None else load_rules()
    label("schools_ui.title", lang=lang)  # checks lang
    facilities, places, crs, boundary = _sources(data, crs)
    _check_points(facilities, "facilities", ("kind", "tiers"))
    schools = facilities.loc[facilities["kind"] == "school"]
    if boundary is not None:
        inside = schools.within(boundary).to_numpy()
        if (~inside).any():
            log.info(
                "%d schools in the buffer outside the boundary are not checked (they serve "
                "villages across the border and still count for access)",
                int((~inside).sum()),
            )
        schools = schools.loc[inside]
    settle = settlement_of(schools, places, crs=crs, radius_m=radius_m, rules=rules)
    radii = _radii(rules, radius_m)
    unit = "米" if lang == "zh" else "m"
    sep = "、" if lang == "zh" else ", "
    radius_text = sep.join(f"{_level_label(k, lang)} {v:,.0f} {unit}" for k, v in radii.items())

    rows: list[dict[str, Any]] = []
    index: list[tuple[Hashable, str]] = []
    names = schools["name"] if "name" in schools.columns else pd.Series("", index=schools.index)
    confidence = (
        schools["confidence"]
        if "confidence" in schools.columns
        else pd.Series("", index=schools.index)
    )
    for fid, tiers_text in schools["tiers"].items():
        s = settle.loc[fid]
        base = {
            "name": names.loc[fid],
            "tiers": tiers_text if isinstance(tiers_text, str) else "",
            "confidence": confidence.loc[fid],
            "settlement": s["settlement"],
            "settlement_id": s["settlement_id"],
            "level": s["level"],
            "size": s["size"],
            "population": s["population"],
            "distance_m": s["distance_m"],
        }
        served = [t for t in _tiers_of(tiers_text) if t in rules.tiers]
        if not served:
            index.append((fid, UNKNOWN_TIER))
            rows.append(
                {
                    **base,
                    "allowed": "",
                    "compliant": False,
                    "reason": "tier_unknown",
                    "note": label("schools_reason.tier_unknown", lang=lang),
                }
            )
            continue
        for tier in served:
            rule = rules.tiers[tier]
            ok, reason = rule.judge(str(s["level"]), str(s["size"]))
            allowed = rule.describe_allowed(lang)
            note = ""
            if not ok:
                note = label(f"schools_reason.{reason}", lang=lang).format(
                    tier=label(f"tier.{tier}", lang=lang),
                    level=_level_label(str(s["level"]), lang),
                    settlement="?" if pd.isna(s["settlement"]) else s["settlement"],
                    population=_population_text(s["population"]),
                    allowed=allowed,
                    radius=radius_text,
                )
            index.append((fid, tier))
            rows.append(
                {**base, "allowed": allowed, "compliant": ok, "reason": reason, "note": note}
            )
    columns = [
        "name",
        "tiers",
        "confidence",
        "settlement",
        "settlement_id",
        "level",
        "size",
        "population",
        "distance_m",
        "allowed",
        "compliant",
        "reason",
        "note",
    ]
    idx_name = facilities.index.name or "id"
    by_tier = pd.DataFrame(
        rows,
        index=pd.MultiIndex.from_tuples(index, names=[idx_name, "tier"])
        if index
        else pd.MultiIndex.from_arrays([[], []], names=[idx_name, "tier"]),
        columns=columns,
    )
    by_tier["compliant"] = by_tier["compliant"].astype(bool)

    # one row per school
    wide = schools.drop(columns=[c for c in settle.columns if c in schools.columns]).join(settle)
    tiers_of_row = by_tier.index.get_level_values("tier")
    ids_of_row = by_tier.index.get_level_values(0)
    for tier in TIERS:
        status = pd.Series("", index=schools.index, dtype=object)
        mask = tiers_of_row == tier
        status.loc[ids_of_row[mask]] = np.where(
            by_tier["compliant"].to_numpy()[mask], "compliant", "exception"
        )
        wide[f"{tier}_status"] = status
    grouped = by_tier.groupby(level=0, sort=False)
    wide["compliant"] = grouped["compliant"].all().reindex(schools.index).fillna(False).astype(bool)
    wide["reason"] = (
        grouped["reason"].agg(lambda r: "; ".join(x for x in r if x)).reindex(schools.index)
    )
    wide["note"] = (
        grouped["note"].agg(lambda r: "; ".join(x for x in r if x)).reindex(schools.index)
    )

    exceptions = by_tier.loc[~by_tier["compliant"]]
    summary_rows = {}
    for tier in (*TIERS, UNKNOWN_TIER):
        part = by_tier.loc[tiers_of_row == tier]
        if tier == UNKNOWN_TIER and part.empty:
            continue
        row: dict[str, Any] = {
            "schools": len(part),
            "compliant": int(part["compliant"].sum()),
            "exceptions": int((~part["compliant"]).sum()),
            "compliant_share": float(part["compliant"].mean()) if len(part) else np.nan,
        }
        for level in (*rules.settlements, NONE):
            row[f"in_{level}"] = int((part["level"] == level).sum())
        for reason in REASONS:
            row[reason] = int((part["reason"] == reason).sum())
        summary_rows[tier] = row
    summary = pd.DataFrame.from_dict(summary_rows, orient="index")
    summary.index.name = "tier"
    log.info(
        "school tiers: %d schools checked, %d exceptions (%s)",
        len(schools),
        len(exceptions),
        ", ".join(f"{t}: {r['exceptions']}" for t, r in summary_rows.items()),
    )
    return Compliance(
        by_tier=by_tier, schools=wide, exceptions=exceptions, summary=summary, lang=lang
    )
