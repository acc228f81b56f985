"""Travel time from every village to a school of each tier, by that tier's mode, against its limit.

In:  a region and unit (one prepared study per travel mode of the tiers, or studies
     given) and the tier rules.
Out: :func:`access_by_tier` (a :class:`TierAccess`: per-village times, the villages
     beyond the limit with their boarding school, a summary per tier) and
     :func:`tier_times` for one tier on one router.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ... import classify, engine, pipeline
from ..._errors import ValidationError
from ...labels import label
from ...report import Notes
from .placement import settlement_of
from .rules import TierRule, TierRules, check_tier, check_tiers, load_rules

log = logging.getLogger(__package__)


@dataclass
class TierAccess:
    """Travel time from every village to a school of each tier, by the tier's mode.

    Attributes
    ----------
    villages
        One row per village (WGS-84), index = village id: ``name``, ``level``,
        ``population``, ``leg_m``, ``snap_flag`` and per tier with
        ``key = "school_<tier>"``: ``{key}_time_min`` (minutes, by the tier's mode;
        ``inf`` unreachable, NaN when the data have no school of the tier),
        ``{key}_facility``, ``{key}_facility_name``, ``{key}_flag``,
        ``{key}_beyond`` (time above the limit or unreachable; false when the data
        have no school of the tier: no data, not beyond) and
        ``{key}_children`` (population × school-age share).
    boarding
        Boarding candidates: one row per (village, tier) beyond the limit, index
        ``(id, tier)``: ``name``, ``population``, ``children``, ``time_min``,
        ``limit_min``, ``mode``, ``nearest_school``/``_name``, ``boarding_school``/
        ``_name`` (the nearest school of the tier in a settlement of a boarding level:
        township or county seat), ``boarding_settlement``, ``boarding_level``,
        ``boarding_time_min``; ``boarding_school`` is missing when there is none.
    boarding_schools
        Per (tier, boarding school): ``name``, ``settlement``, ``villages``,
        ``children`` — the intake a boarding school would take.
    summary
        Per tier: ``mode``, ``limit_min``, ``schools``, ``villages``, ``population``,
        ``median_min``, ``p90_min``, ``max_min``, ``within_limit_share``,
        ``within_limit_pop_share``, ``beyond``, ``population_beyond``,
        ``children_beyond``, ``unreachable``, ``boarding_schools``,
        ``no_boarding_school`` and ``status`` (``ok``, or ``no_data`` for a tier with
        no school in the data: its shares and counts beyond are then NaN).
    studies
        The prepared study per travel mode (one per distinct mode of the tiers).
    rules, tiers
        What was computed.
    """

    villages: gpd.GeoDataFrame
    boarding: pd.DataFrame
    boarding_schools: pd.DataFrame
    summary: pd.DataFrame
    studies: dict[str, pipeline.Study]
    rules: TierRules
    tiers: tuple[str, ...]

    def study_for(self, tier: str) -> pipeline.Study:
        """The study (router) built for a tier's travel mode."""
        mode = self.rules.tier(tier).mode
        if mode not in self.studies:
            msg = f"no {mode} study was prepared for the {tier} tier; include {tier!r} in tiers"
            raise ValidationError(msg)
        return self.studies[mode]

    @property
    def groups(self) -> list[str]:
        """Facility groups of the tiers (``"school:primary"``…), e.g. for maps."""
        return [f"school:{t}" for t in self.tiers]

    def subtitle(self, lang: str = "zh") -> str:
        """Each tier's mode and limit in one line, for map subtitles."""
        parts = [
            label("schools_ui.tier_rule", lang=lang).format(
                tier=label(f"schools_tier_short.{t}", lang=lang),
                mode=label(f"mode.{self.rules.tier(t).mode}", lang=lang),
                limit=f"{self.rules.tier(t).limit_min:g}",
            )
            for t in self.tiers
        ]
        return " · ".join(parts)

    @property
    def missing(self) -> list[str]:
        """Tiers with no school in the data (their results are no data)."""
        return [t for t in self.tiers if int(self.summary.loc[t, "schools"]) == 0]

    def note_missing(self, notes: Notes) -> list[str]:
        """Record in ``notes`` each tier with no school in the data; return those tiers."""
        for tier in self.missing:
            notes.skip(
                "tier",
                "no_tier_schools",
                tier=tuple(label(f"schools_tier_short.{tier}", lang=g) for g in ("zh", "en")),
            )
        return self.missing


def tier_times(
    router: engine.Router,
    facilities: pd.DataFrame,
    tier: str,
    *,
    limit_min: float,
    population: pd.Series | None = None,
    school_age_share: float = 1.0,
) -> pd.DataFrame:
    """Nearest school of one tier for every origin of a router, and whether it is beyond a limit.

    Returns a table indexed by origin id with the ``school_<tier>_*`` columns described
    in :class:`TierAccess` (``_children`` only when ``population`` is given).
    """
    check_tier(tier)
    key = engine.group_key(f"school:{tier}")
    ids = classify.select(facilities, f"school:{tier}")
    if len(ids) == 0:
        log.warning("no school of tier %r in the data: its times are no data, not beyond", tier)
    near = router.nearest(ids)
    minutes = near["time_s"].to_numpy(float) / 60.0
    names = facilities["name"] if "name" in facilities.columns else pd.Series(dtype=object)
    out = pd.DataFrame(
        {
            f"{key}_time_min": minutes,
            f"{key}_facility": near["facility_id"].to_numpy(),
            f"{key}_facility_name": names.reindex(near["facility_id"]).to_numpy(),
            f"{key}_flag": near["flag"].to_numpy(),
            f"{key}_beyond": minutes > limit_min,  # inf (unreachable) is beyond, NaN is no data
        },
        index=near.index,
    )
    if population is not None:
        pop = pd.to_numeric(population.reindex(near.index), errors="coerce").to_numpy(float)
        out[f"{key}_children"] = pop * school_age_share
    return out


def _boarding(
    b_near: pd.DataFrame,
    table: pd.DataFrame,
    key: str,
    villages: gpd.GeoDataFrame,
    population: pd.Series,
    rule: TierRule,
    facilities: pd.DataFrame,
    settle: pd.DataFrame,
) -> pd.DataFrame:
    """Boarding candidates of one tier: villages beyond the limit and their boarding school."""
    b_id = b_near["facility_id"]
    names = villages["name"].to_numpy() if "name" in villages else None
    part = pd.DataFrame(
        {
            "name": names,
            "population": population.to_numpy(),
            "children": table[f"{key}_children"].to_numpy(),
            "time_min": table[f"{key}_time_min"].to_numpy(),
            "limit_min": rule.limit_min,
            "mode": rule.mode,
            "nearest_school": table[f"{key}_facility"].to_numpy(),
            "nearest_school_name": table[f"{key}_facility_name"].to_numpy(),
            "boarding_school": b_id.to_numpy(),
            "boarding_school_name": facilities["name"].reindex(b_id).to_numpy(),
            "boarding_settlement": settle["settlement"].reindex(b_id).to_numpy(),
            "boarding_level": settle["level"].reindex(b_id).to_numpy(),
            "boarding_time_min": b_near["time_s"].to_numpy(float) / 60.0,
        },
        index=pd.MultiIndex.from_arrays(
            [villages.index, np.full(len(villages), rule.tier, dtype=object)],
            names=[villages.index.name or "id", "tier"],
        ),
    )
    return part.loc[table[f"{key}_beyond"].to_numpy()]


def _access_summary(
    table: pd.DataFrame,
    key: str,
    population: pd.Series,
    rule: TierRule,
    schools: int,
    boarding: pd.DataFrame,
) -> dict[str, Any]:
    """One row of :attr:`TierAccess.summary`."""
    t = table[f"{key}_time_min"].to_numpy(float)
    beyond = table[f"{key}_beyond"].to_numpy()
    reach = np.isfinite(t)
    within = np.where(np.isnan(t), False, t <= rule.limit_min)
    pop = population.to_numpy(float)
    known = np.isfinite(pop)
    total = pop[known].sum()
    if schools == 0:  # no school of the tier in the data: no data, never 0 % or all beyond
        return {
            "mode": rule.mode,
            "limit_min": rule.limit_min,
            "school_age_share": rule.school_age_share,
            "schools": 0,
            "villages": len(t),
            "population": float(total),
            **dict.fromkeys(("median_min", "p90_min", "max_min"), np.nan),
            **dict.fromkeys(("within_limit_share", "within_limit_pop_share"), np.nan),
            **dict.fromkeys(("beyond", "population_beyond", "children_beyond"), np.nan),
            "unreachable": 0,
            "boarding_schools": 0,
            "no_boarding_school": 0,
            "status": "no_data",
        }
    return {
        "mode": rule.mode,
        "limit_min": rule.limit_min,
        "school_age_share": rule.school_age_share,
        "schools": schools,
        "villages": len(t),
        "population": float(total),
        "median_min": float(np.median(t[reach])) if reach.any() else np.nan,
        "p90_min": float(np.percentile(t[reach], 90)) if reach.any() else np.nan,
        "max_min": float(t[reach].max()) if reach.any() else np.nan,
        "within_limit_share": float(within.mean()) if t.size else np.nan,
        "within_limit_pop_share": float(pop[known & within].sum() / total) if total > 0 else np.nan,
        "beyond": int(beyond.sum()),
        "population_beyond": float(pop[known & beyond].sum()),
        "children_beyond": float(pop[known & beyond].sum() * rule.school_age_share),
        "unreachable": int((~reach & ~np.isnan(t)).sum()),
        "boarding_schools": int(boarding["boarding_school"].dropna().nunique()),
        "no_boarding_school": int(boarding["boarding_school"].isna().sum()),
        "status": "ok",
    }


def access_by_tier(
    region: str,
    unit: str | None = None,
    rules: TierRules | None = None,
    *,
    tiers: Sequence[str] | None = None,
    origin_levels: Sequence[str] = pipeline.DEFAULT_ORIGIN_LEVELS,
    origins: str | Path | None = None,
    grid_m: float | None = None,
    osm_file: Path | str | None = None,
    offline: bool = False,
    studies: Mapping[str, pipeline.Study] | None = None,
    radius_m: float | Mapping[str, float] | None = None,
    progress: bool | None = None,
) -> TierAccess:
    """Travel time from every village to the nearest school of each tier, by that tier's mode.

    One :func:`accessibility.pipeline.prepare` per distinct travel mode of the tiers
    (the network of each mode is cached on disk); tiers sharing a mode share its
    study. For every village beyond its tier's limit, the boarding school is the
    nearest school of that tier (by the tier's mode) sitting in a settlement of a
    boarding level (``rules/tiers.yml``: township or county seat).

    Parameters
    ----------
    region, unit
        As for :func:`accessibility.pipeline.prepare`.
    rules
        Tier rules (:func:`load_rules`); modes and limits come from here.
    tiers
        Tiers to compute; default all three.
    origin_levels
        Settlement levels used as villages (default administrative villages).
    origins, grid_m
        Where trips start (villages, places, a grid…), as for
        :func:`accessibility.pipeline.prepare`.
    osm_file, offline
        As for :func:`accessibility.pipeline.prepare`.
    studies
        Already prepared studies by mode name, reused instead of preparing again.
    radius_m
        Settlement radii for locating boarding schools, see :func:`settlement_of`.
    progress
        Progress bars; default ``settings.progress``.

    Returns
    -------
    TierAccess
    """
    rules = rules if rules is not None else load_rules()
    tier_list = check_tiers(tiers)
    given = dict(studies or {})
    for mode, study in given.items():
        if not isinstance(study, pipeline.Study) or study.mode != mode:
            msg = (
                f"studies must map each mode to a Study prepared with that mode; {mode!r} does not"
            )
            raise ValidationError(msg)
    built: dict[str, pipeline.Study] = {}
    for tier in tier_list:
        mode = rules.tier(tier).mode
        if mode in built:
            continue
        if mode in given:
            built[mode] = given[mode]
            continue
        log.info("preparing the %s network for %s schools", mode, tier)
        built[mode] = pipeline.prepare(
            region,
            unit=unit,
            mode=mode,
            osm_file=osm_file,
            offline=offline,
            origin_levels=origin_levels,
            origins=origins,
            grid_m=grid_m,
            progress=progress,
        )
    first = built[rules.tier(tier_list[0]).mode]
    for mode, study in built.items():
        if not study.origins.index.equals(first.origins.index):
            msg = f"the {mode} study has other villages than the {first.mode} study; prepare both for the same region, unit and origin levels"
            raise ValidationError(msg)

    base_cols = [
        c for c in ("name", "level", "population", "leg_m", "snap_flag") if c in first.origins
    ]
    villages = first.origins[[*base_cols, first.origins.geometry.name]].copy()
    population = (
        pd.to_numeric(villages["population"], errors="coerce")
        if "population" in villages.columns
        else pd.Series(np.nan, index=villages.index)
    )
    facilities = first.facilities
    schools = facilities.loc[facilities["kind"] == "school"]
    settle = settlement_of(schools, first.places, crs=first.crs, radius_m=radius_m, rules=rules)
    boarding_ids = settle.index[settle["level"].isin(rules.boarding_levels).to_numpy()]

    tables = []
    boarding_rows = []
    summary_rows = {}
    for tier in tier_list:
        rule = rules.tier(tier)
        study = built[rule.mode]
        key = engine.group_key(f"school:{tier}")
        table = tier_times(
            study.router,
            study.facilities,
            tier,
            limit_min=rule.limit_min,
            population=population,
            school_age_share=rule.school_age_share,
        )
        tables.append(table)
        tier_ids = classify.select(study.facilities, f"school:{tier}")
        b_ids = tier_ids[tier_ids.isin(boarding_ids)]
        part = _boarding(
            study.router.nearest(b_ids), table, key, villages, population, rule, facilities, settle
        )
        boarding_rows.append(part)
        summary_rows[tier] = _access_summary(table, key, population, rule, len(tier_ids), part)
    villages = villages.join(pd.concat(tables, axis=1))
    boarding = pd.concat(boarding_rows)
    loads = (
        boarding.dropna(subset=["boarding_school"])
        .reset_index()
        .groupby(["tier", "boarding_school"], sort=False)
        .agg(
            name=("boarding_school_name", "first"),
            settlement=("boarding_settlement", "first"),
            level=("boarding_level", "first"),
            villages=("time_min", "size"),
            children=("children", "sum"),
        )
    )
    summary = pd.DataFrame.from_dict(summary_rows, orient="index")
    summary.index.name = "tier"
    log.info(
        "villages beyond the limit: %s",
        ", ".join(f"{t} {r['beyond']}/{r['villages']}" for t, r in summary_rows.items()),
    )
    return TierAccess(
        villages=villages,
        boarding=boarding,
        boarding_schools=loads,
        summary=summary,
        studies=built,
        rules=rules,
        tiers=tier_list,
    )
