"""What each policy measured, per claim of ``rules/claims.yml``.

Design
------
In
    The results of the policy checks: :class:`reading_circle.Assessment`,
    :class:`school_tiers.Compliance` and :class:`school_tiers.TierAccess`, the
    :class:`services.ServiceCheck` of clinics, buses and road links, and a walk
    study for the cultural claims (libraries, township cultural stations, village
    cultural centres).
Out
    One :class:`accessibility.verdicts.Measure` per claim: the value the claim's
    target is compared with, the number of facilities it rests on, the evidence
    (counts, in zh and en) and the worst places by name. Judging is
    :func:`accessibility.verdicts.judge_all`'s; nothing here decides a verdict.
Tests
    ``tests/test_verdicts.py``: each measure against an independent count on the
    sample county (shares recomputed from the policy tables by hand).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..engine import share_column
from ..labels import label
from ..verdicts import Measure

if TYPE_CHECKING:
    from ..pipeline import Study
    from .reading_circle import Assessment
    from .school_tiers import Compliance, TierAccess
    from .services import ServiceCheck

__all__ = ["culture", "reading_circle", "school_tiers", "services"]


def _both(key: str, **fields: Any) -> tuple[str, str]:
    return tuple(
        label(key, lang=g).format(
            **{k: (v[i] if isinstance(v, tuple) else v) for k, v in fields.items()}
        )
        for i, g in enumerate(("zh", "en"))
    )  # type: ignore[return-value]


def _minutes(value: float) -> tuple[str, str]:
    if not np.isfinite(value):
        return ("不可达", "unreachable")
    return (f"{value:.0f} 分钟", f"{value:.0f} min")


def _worst_times(
    table: pd.DataFrame, column: str, *, keep: Any = None, n: int = 5
) -> list[tuple[str, str, str]]:
    """The ``n`` places with the longest time in ``column`` (unreachable first), by name."""
    frame = table if keep is None else table.loc[keep]
    times = pd.to_numeric(frame[column], errors="coerce").replace(np.inf, 1e12).dropna()
    out = []
    for idx in times.sort_values(ascending=False).index[:n]:
        name = (
            str(frame.at[idx, "name"])
            if "name" in frame.columns and pd.notna(frame.at[idx, "name"])
            else ""
        )
        zh, en = _minutes(float(frame.at[idx, column]))
        out.append((name or "—", zh, en))
    return out


def reading_circle(result: Assessment) -> list[Measure]:
    """The reading circle: the population-weighted share within the walk limit."""
    cur = result.summary.loc["current"]
    why = str(result.meta.get("estimate", "") or "")
    estimate: tuple[str, str] | tuple[()] = (
        tuple(label(f"reading_ui.estimate_{why}", lang=g) for g in ("zh", "en")) if why else ()  # type: ignore[assignment]
    )
    worst = []
    if result.by_area is not None and len(result.facilities):
        areas = result.by_area.loc[result.by_area["uncovered"] > 0].sort_values(
            "uncovered", ascending=False
        )
        for _, row in areas.head(5).iterrows():
            n = f"{float(row['uncovered']):,.0f}"
            worst.append((str(row["name"]), f"未覆盖 {n} 人", f"{n} residents uncovered"))
    value = None if result.no_data else float(cur["share"])
    evidence = [
        _both(
            "verdict_ev.reading",
            places=len(result.facilities),
            covered=f"{float(cur['covered']):,.0f}",
            total=f"{float(cur['population']):,.0f}",
        )
    ]
    return [
        Measure(
            "reading_circle",
            value,
            facilities=len(result.facilities),
            evidence=evidence,
            worst=worst,
            fields={"limit": f"{result.minutes:g}"},
            estimate=estimate,
            facts={"population": result.population_source != "points"},
        )
    ]


def school_tiers(checks: Compliance | None, access: TierAccess) -> list[Measure]:
    """School tiers (share of school-tier pairs sited as the rule allows) and boarding
    (share of children beyond their tier's limit with a township or county-seat school
    of the tier)."""
    out = []
    if checks is not None and len(checks.by_tier):
        from .school_tiers import TIERS, UNDECIDED_REASONS

        by = checks.by_tier
        undecided = by["reason"].isin(UNDECIDED_REASONS).to_numpy()
        decided = by.loc[~undecided]
        value = float(decided["compliant"].mean()) if len(decided) else None
        evidence = [
            _both(
                "verdict_ev.school_tier",
                tier=tuple(label(f"schools_tier_short.{t}", lang=g) for g in ("zh", "en")),
                ok=int(row["compliant"]),
                n=int(row["schools"]),
            )
            for t, row in checks.summary.iterrows()
            if t in TIERS  # schools of unknown tier: in the line on those not judged
        ]
        if undecided.any():  # no settlement near, population or tier unknown: not judged
            evidence.append(_both("verdict_ev.school_undecided", n=int(undecided.sum())))
        breaking = checks.exceptions.loc[~checks.exceptions["reason"].isin(UNDECIDED_REASONS)]
        worst = [(str(r["name"]), str(r["note"]), str(r["note"])) for _, r in breaking.iterrows()]
        out.append(
            Measure(
                "school_tiers",
                value,
                facilities=len(checks.schools),
                evidence=evidence,
                worst=worst,
            )
        )
    else:
        out.append(Measure("school_tiers", None, facilities=0))
    b = access.boarding
    schools = int(access.summary["schools"].sum())
    if len(b) == 0:
        value = 1.0 if schools else None
        evidence = [_both("verdict_ev.boarding_none")]
        worst: list[tuple[str, str, str]] = []
    else:
        has = b["boarding_school"].notna().to_numpy()
        children = pd.to_numeric(b["children"], errors="coerce").to_numpy(float)
        if np.isfinite(children).all() and children.sum() > 0:
            value = float(children[has].sum() / children.sum())
        else:
            value = float(has.mean())
        evidence = [_both("verdict_ev.boarding", villages=len(b), without=int((~has).sum()))]
        lacking = b.loc[~has]
        worst = _worst_times(lacking.reset_index(drop=True), "time_min") if len(lacking) else []
    out.append(Measure("boarding", value, facilities=schools, evidence=evidence, worst=worst))
    return out


def services(
    study: Study,
    *,
    clinics: ServiceCheck | None = None,
    bus: ServiceCheck | None = None,
    roads: ServiceCheck | None = None,
) -> list[Measure]:
    """County medical centres (county hospitals in the unit), a bus for every village
    (share with a stop within the walk limit) and township roads (share of seats linked)."""
    from .. import verdicts
    from .road_links import lower_pieces, road_class_label

    out = []
    inside = verdicts._inside(study, study.facilities.to_crs(4326))
    hospitals = verdicts._tier_count(inside, "health", "county_hospital")
    evidence, worst = [], []
    if clinics is not None and "health:county_hospital" in clinics.summary.index:
        limit = max(clinics.meta["limits_min"])
        column = share_column("within", limit, population=True)
        share = clinics.summary.loc["health:county_hospital", column]
        if pd.notna(share):
            evidence.append(
                _both(
                    "verdict_ev.hospital_reach",
                    share=f"{float(share):.1%}",
                    limit=f"{limit:g}",
                    mode=tuple(label(f"mode.{clinics.meta['mode']}", lang=g) for g in ("zh", "en")),
                )
            )
        col = "health_county_hospital_time_min"
        if col in clinics.table.columns:
            worst = _worst_times(clinics.table, col)
    out.append(
        Measure(
            "county_medical_centres",
            float(hospitals),
            facilities=hospitals,
            evidence=[_both("verdict_ev.count", n=hospitals), *evidence],
            worst=worst,
        )
    )
    if bus is not None:
        s = bus.summary.iloc[0]
        stops = int(s["stops"])
        value = float(s["served_share"]) if stops else None
        out.append(
            Measure(
                "bus_every_village",
                value,
                facilities=stops,
                evidence=[
                    _both(
                        "verdict_ev.bus",
                        served=int(s["served"]),
                        villages=int(s["villages"]),
                        stops=stops,
                    )
                ],
                worst=_worst_times(
                    bus.table, "bus_time_min", keep=~bus.table["bus_served"].astype(bool)
                ),
                fields={"limit": f"{float(s['limit_min']):g}"},
            )
        )
    if roads is not None:
        s = roads.summary.iloc[0]
        seats = int(s["township_seats"])
        t = roads.table
        worst_class = str(roads.meta.get("osm_min_class", s.get("min_class", "secondary")))
        road_class = tuple(road_class_label(worst_class, lang=g) for g in ("zh", "en"))
        lacking = t.loc[~t["connected"].astype(bool)].sort_values("beyond_m", ascending=False)
        pieces = {g: lower_pieces(roads, lang=g, first=2) for g in ("zh", "en")}
        worst = [
            (
                str(r["name"]),
                *(
                    label(f"services_reason.{r['reason']}", lang=g)
                    + (("：" if g == "zh" else ": ") + pieces[g][i] if pieces[g][i] else "")
                    for g in ("zh", "en")
                ),
            )
            for i, r in lacking.iterrows()
        ]
        rule, strict = roads.meta["rule"], roads.meta["strict"]
        out.append(
            Measure(
                "township_roads",
                float(s["share_connected"]) if seats else None,
                evidence=[
                    _both(
                        "verdict_ev.roads",
                        connected=int(s[col]),
                        seats=seats,
                        rule=(r.text("zh"), r.text("en")),
                    )
                    for r, col in ((rule, "connected"), (strict, "connected_strict"))
                ],
                worst=worst,
                fields={"road_class": road_class},
                alternatives=(
                    [
                        (
                            label("services_map.rule_strict", lang="zh"),
                            label("services_map.rule_strict", lang="en"),
                            float(s["share_connected_strict"]),
                        )
                    ]
                    if seats
                    else []
                ),
            )
        )
    return out


CULTURE_GROUPS: tuple[str, ...] = (
    "reading:library",
    "reading:cultural_station",
    "reading:village_centre",
)


def culture(walk: Study, *, limit_min: float | None = None) -> list[Measure]:
    """County libraries and township cultural stations (counts in the unit, with the
    walk from villages as evidence) and village cultural centres (share of villages
    with one within the claim's walk limit, ``rules/claims.yml``).

    ``walk`` is a study prepared with mode ``walk``.
    """
    from .. import verdicts

    if walk.mode not in ("walk", "walk_child"):
        from .._errors import ValidationError

        msg = f"the cultural claims are about walking; give a study prepared with mode='walk', not {walk.mode!r}"
        raise ValidationError(msg)
    limit = float(limit_min or verdicts.claim("village_cultural_centres").limit_min or 10)
    data = verdicts.facts(walk)
    counts = data["counts"]
    table = walk.access(list(CULTURE_GROUPS), thresholds_min=[limit])
    out = []
    for key, group in (
        ("county_libraries", "reading:library"),
        ("township_cultural_stations", "reading:cultural_station"),
    ):
        n = int(counts[key])
        col = group.replace(":", "_") + "_time_min"
        evidence = [_both("verdict_ev.count", n=n)]
        worst = []
        if n and col in table.columns:
            times = pd.to_numeric(table[col], errors="coerce")
            evidence.append(
                _both(
                    "verdict_ev.walk_median",
                    minutes=f"{float(np.nanmedian(times.replace(np.inf, np.nan))):.0f}",
                )
            )
        out.append(Measure(key, float(n), facilities=n, evidence=evidence, worst=worst))
    n = int(counts["village_cultural_centres"])
    col = "reading_village_centre_time_min"
    times = pd.to_numeric(table[col], errors="coerce").to_numpy(float)
    known = np.isfinite(times) | np.isinf(times)
    value = float((times[known] <= limit).mean()) if n and known.any() else None
    within = int((times[known] <= limit).sum()) if n else 0
    out.append(
        Measure(
            "village_cultural_centres",
            value,
            facilities=n,
            evidence=[
                _both(
                    "verdict_ev.village_centres",
                    n=n,
                    within=within,
                    villages=len(table),
                    limit=f"{limit:g}",
                )
            ],
            worst=_worst_times(table, col, keep=~(times <= limit)) if n else [],
            fields={"limit": f"{limit:g}"},
        )
    )
    return out
