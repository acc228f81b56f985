"""Public-service claims with a spatial test: clinics, buses to every village, township road links.

Design
------
In:  prepared studies (:class:`accessibility.pipeline.Study`: a router with the
     villages and facilities snapped onto one mode's network) and the road network.
Out: one :class:`ServiceCheck` per claim — a table (one row per village or per
     township seat, ids kept, WGS-84 geometry) and a summary — and :func:`claims`,
     which sets the measured shares beside the figures a report gives.

The three claims (figures from the Xuchang report, see ``docs/services.md``):

- **county medical centres in every county** (县域医疗中心全覆盖): travel time from
  every village to the nearest facility of each health tier (village clinic,
  township health centre, county hospital) by one mode (the electric two-wheeler
  by default in the notebook), and the share of villages and of residents within
  each limit — :func:`clinic_access`;
- **bus to every administrative village** (所有建制行政村通客车, 100 %): *walking*
  time from every village to the nearest bus stop; villages with no stop within the
  limit — :func:`bus_access`;
- **townships linked to the county seat by grade-II-or-better roads**
  (乡镇二级以上公路连通比例, 96.1 %): each township seat's route to the county seat
  and how much of it runs on roads below the class, in both directions, under a
  default and a strict rule — :func:`accessibility.policies.road_links.road_links`
  (re-exported here). OSM classes stand in for China's technical grades; the
  mapping is data in ``rules/road_classes.yml``, the rules in ``rules/road_links.yml``.

A section whose inputs are not in the data is skipped with a stated reason, noted
in an :class:`accessibility.report.Notes`, and the rest still runs: no township
seat (or no single county seat) skips the road links (:func:`road_links_or_skip`)
and the per-township equity (:func:`township_equity`); a health tier or the bus
stops with no facility in the data are "no data" (never 0 %), and their equity
tables are skipped.

Tests: ``tests/test_services.py`` — bus and clinic arithmetic, missing seats and
facilities, the claims and their tables, the sample county, the notebook;
``tests/test_road_links.py`` for the road links themselves.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import geopandas as gpd
import numpy as np
import pandas as pd

from .. import engine, equity, metrics
from .._errors import ValidationError
from ..classify import TIERS, select
from ..export import figure
from ..labels import group_label, label
from ..report import Notes
from ._check import ServiceCheck
from .road_links import (
    classes_at_least,
    lower_pieces,
    missing_seats,
    osm_class,
    road_class_label,
    road_class_rules,
    road_links,
    road_links_or_skip,
)
from .road_links_map import add_routes_layer, add_seats_layer, routes_layer, seat_tips, seats_layer

__all__ = [
    "HEALTH_TIERS",
    "REPORTED",
    "ServiceCheck",
    "TownshipEquity",
    "add_routes_layer",
    "add_seats_layer",
    "bus_access",
    "claims",
    "classes_at_least",
    "clinic_access",
    "excel_headers",
    "excel_tables",
    "key_figures",
    "layers",
    "lower_pieces",
    "missing_seats",
    "osm_class",
    "road_class_label",
    "road_class_rules",
    "road_links",
    "road_links_or_skip",
    "routes_layer",
    "seat_tips",
    "seats_layer",
    "township_equity",
]

log = logging.getLogger(__name__)

#: Health tiers of :func:`clinic_access`, nearest to the village first.
HEALTH_TIERS: tuple[str, ...] = TIERS["health"]
#: Modes that measure a *walk* to the bus stop.
WALK_MODES: tuple[str, ...] = ("walk", "walk_child")
#: Figures (shares, 0–1) the Xuchang report gives for the claims tested here; NaN where
#: the report states a claim without a share. Source: the 2023 report in shared/seed/.
REPORTED: dict[str, float] = {
    "county_hospital": float("nan"),
    "bus_every_village": 1.0,
    "township_links": 0.961,
}


class StudyLike(Protocol):
    """What the checks read from a study (a :class:`accessibility.pipeline.Study`)."""

    mode: str
    router: engine.Router
    origins: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame


# --------------------------------------------------------------------------- helpers


def _check_study(study: StudyLike) -> None:
    for attr in ("router", "origins", "facilities", "mode"):
        if not hasattr(study, attr):
            msg = f"expected a prepared study (accessibility.pipeline.prepare); it has no {attr!r}"
            raise ValidationError(msg)
    if "population" not in study.origins.columns:
        msg = "the study's origins have no 'population' column; add it (NaN where unknown)"
        raise ValidationError(msg)


def _limits(limits_min: Sequence[float] | float) -> list[float]:
    if isinstance(limits_min, (int, float)) and not isinstance(limits_min, bool):
        limits_min = [limits_min]
    return engine.check_thresholds(limits_min)


def _joined(study: StudyLike, table: pd.DataFrame) -> gpd.GeoDataFrame:
    out = study.origins.join(table)
    return out if isinstance(out, gpd.GeoDataFrame) else gpd.GeoDataFrame(out)


# --------------------------------------------------------------------------- clinics


def clinic_access(
    study: StudyLike,
    *,
    limits_min: Sequence[float] = (15, 30),
    tiers: Sequence[str] = HEALTH_TIERS,
) -> ServiceCheck:
    """Travel time from every village to the nearest facility of each health tier.

    Parameters
    ----------
    study
        A study prepared with the mode people use to reach a clinic (e.g. ``ebike``).
    limits_min
        Time limits in minutes, e.g. ``[15, 30]``.
    tiers
        Health tiers (``village_clinic``, ``township_health_centre``,
        ``county_hospital``).

    Returns
    -------
    ServiceCheck
        ``table``: the villages with, per tier ``key = "health_<tier>"``, the columns of
        :func:`accessibility.engine.access` (``{key}_time_min``, ``{key}_facility``,
        ``{key}_facility_name``, ``{key}_flag``, ``{key}_n{T}``). ``summary``: index =
        group (``"health:<tier>"``), the columns of :func:`accessibility.metrics.summary`
        (``within_{T}_share`` = share of villages with time ≤ T, ``within_{T}_pop_share``
        = ``sum(pop_i [t_i ≤ T]) / sum(pop_i)``; unreachable villages count as not
        within) plus ``facilities`` (how many of the tier) and ``mode``. The county
        hospital row is the reach of county-level care.
    """
    _check_study(study)
    limits = _limits(limits_min)
    if isinstance(tiers, str) or not list(tiers):
        msg = f"tiers must be a list of health tiers from {list(HEALTH_TIERS)}, got {tiers!r}"
        raise ValidationError(msg)
    bad = [t for t in tiers if t not in HEALTH_TIERS]
    if bad:
        msg = f"unknown health tiers {bad}; choose from {', '.join(HEALTH_TIERS)}"
        raise ValidationError(msg)
    groups = [f"health:{t}" for t in tiers]
    access = engine.access(study.router, study.facilities, groups, thresholds_min=limits)
    table = _joined(study, access)
    summary = metrics.summary(table, table["population"], groups, thresholds_min=limits)
    summary["facilities"] = [len(select(study.facilities, g)) for g in groups]
    summary["mode"] = study.mode
    for g in groups:
        if summary.loc[g, "no_facility"]:
            log.warning("no facility of tier %r in the data: its shares are no data (NaN)", g)
    return ServiceCheck(
        claim="clinics",
        table=table,
        summary=summary,
        meta={"mode": study.mode, "limits_min": limits, "tiers": list(tiers)},
    )


# --------------------------------------------------------------------------- bus


def bus_access(study_walk: StudyLike, *, limit_min: float = 15.0) -> ServiceCheck:
    """Walking time from every village to the nearest bus stop; villages without one in reach.

    Parameters
    ----------
    study_walk
        A study prepared with mode ``walk`` (or ``walk_child``): the claim is about a
        stop people can walk to.
    limit_min
        Longest acceptable walk to a stop, minutes.

    Returns
    -------
    ServiceCheck
        ``table``: the villages with ``bus_time_min`` (walking minutes, legs included;
        ``inf`` unreachable), ``bus_facility``, ``bus_facility_name``, ``bus_flag``,
        ``bus_n{T}`` (stops within the limit) and ``bus_served`` (``bus_time_min <=
        limit_min``). ``summary``: one row (index ``"bus"``): ``villages``,
        ``population``, ``stops``, ``served``, ``unserved`` (villages),
        ``served_share`` (= served / villages), ``served_pop_share``
        (= ``sum(pop_i [t_i ≤ T]) / sum(pop_i)``), ``unserved_population``,
        ``unreachable``, ``median_min``, ``p90_min``, ``max_min``, ``limit_min``,
        ``mode``.
    """
    _check_study(study_walk)
    if study_walk.mode not in WALK_MODES:
        msg = (
            f"bus_access measures a walk to the stop, but the study's mode is {study_walk.mode!r}; "
            "prepare it with mode='walk' (pipeline.prepare(region, mode='walk'))"
        )
        raise ValidationError(msg)
    limit = _limits(limit_min)
    if len(limit) != 1:
        msg = f"limit_min is one number of minutes, e.g. 15; got {limit_min!r}"
        raise ValidationError(msg)
    t_limit = limit[0]
    access = engine.access(study_walk.router, study_walk.facilities, ["bus"], thresholds_min=limit)
    table = _joined(study_walk, access)
    table["bus_served"] = (table["bus_time_min"] <= t_limit).fillna(False).astype(bool)
    base = metrics.summary(table, table["population"], ["bus"], thresholds_min=limit).loc["bus"]
    pop = pd.to_numeric(table["population"], errors="coerce")
    served = table["bus_served"].to_numpy()
    row = {
        "villages": len(table),
        "population": float(pop.sum()),
        "stops": len(select(study_walk.facilities, "bus")),
        "served": int(served.sum()),
        "unserved": int((~served).sum()),
        "served_share": float(base[engine.share_column("within", t_limit)]),
        "served_pop_share": float(base[engine.share_column("within", t_limit, population=True)]),
        "unserved_population": float(pop[~served].sum()),
        "unreachable": int(base["unreachable"]),
        "median_min": base["median_min"],
        "p90_min": base["p90_min"],
        "max_min": base["max_min"],
        "limit_min": t_limit,
        "mode": study_walk.mode,
        "status": base["status"],
    }
    if row["stops"] == 0:
        log.warning("no bus stop in the data: the bus shares are no data (NaN), not 0")
    summary = pd.DataFrame([row], index=pd.Index(["bus"], name="group"))
    return ServiceCheck(
        claim="bus",
        table=table,
        summary=summary,
        meta={"mode": study_walk.mode, "limit_min": t_limit},
    )


#: Time column of the county hospital in the clinics table.
HOSPITAL_COL = "health_county_hospital_time_min"


@dataclass
class TownshipEquity:
    """Who waits longest: the villages' times together and the equity tables made from them.

    Attributes
    ----------
    villages
        The clinics table joined with the bus columns (``bus_time_min``,
        ``bus_facility_name``, ``bus_served``) and, when the data have township
        seats, the columns of :func:`accessibility.equity.assign_township`.
    tables
        The tables that could be made, by key: ``equity_hospital``, ``equity_bus``
        (per township; need township seats), ``worst_hospital``, ``worst_bus`` (need
        facilities of the group in the data).
    """

    villages: gpd.GeoDataFrame
    tables: dict[str, pd.DataFrame]


def township_equity(
    study: Any,
    clinics: ServiceCheck,
    bus: ServiceCheck,
    *,
    notes: Notes,
    n_worst: int = 10,
) -> TownshipEquity:
    """Shares beyond each limit per township and the worst-served villages, as far as the data allow.

    Per township (:func:`accessibility.equity.by_area`, villages given to their
    nearest township seat by :func:`accessibility.equity.assign_township`): the
    county hospital within the clinic limits and the bus stop within the walk
    limit. Worst served: the ``n_worst`` villages farthest from each
    (:func:`accessibility.equity.worst_served`). Without a township seat the
    per-township tables are skipped; for a group with no facility in the data
    (county hospital or bus stop) both its tables are skipped — each with a note.

    Parameters
    ----------
    study
        The clinics' study (``origins``, ``places``, ``router``).
    clinics, bus
        Results of :func:`clinic_access` (with the county hospital tier) and
        :func:`bus_access`.
    notes
        Where skipped tables are recorded.
    n_worst
        Villages in each worst-served list.
    """
    villages = clinics.table
    seats = missing_seats(study.places) != "no_township_seats"
    if seats:
        villages = villages.join(
            equity.assign_township(study.origins, study.places, router=study.router)
        )
    else:
        notes.skip("township_equity", "no_township_seats")
    villages = villages.join(bus.table[["bus_time_min", "bus_facility_name", "bus_served"]])
    tables: dict[str, pd.DataFrame] = {}
    cases = (
        ("hospital", HOSPITAL_COL, "health:county_hospital", list(clinics.meta["limits_min"])),
        ("bus", "bus_time_min", "bus", [bus.meta["limit_min"]]),
    )
    for name, col, group, limits in cases:
        if col not in villages.columns or villages[col].isna().all():
            names = tuple(group_label(group, lang=lang) for lang in ("zh", "en"))
            notes.skip("group", "no_facilities", group=names)
            continue
        if seats:
            tables[f"equity_{name}"] = equity.by_area(
                villages, group_col="township", time_col=col, limits_min=limits
            )
        tables[f"worst_{name}"] = equity.worst_served(villages, time_col=col, n=n_worst)
    return TownshipEquity(villages=villages, tables=tables)


def layers(
    *,
    villages: pd.DataFrame,
    claims: pd.DataFrame,
    clinics: ServiceCheck,
    bus: ServiceCheck,
    roads: ServiceCheck | None,
    tables: Mapping[str, pd.DataFrame],
) -> dict[str, pd.DataFrame]:
    """GeoPackage layers of the services notebook: what was made, nothing for a skipped section."""
    out: dict[str, pd.DataFrame] = {"villages": villages}
    if roads is not None:
        out["township_seats"] = roads.table
    out.update({"clinics": clinics.summary, "bus": bus.summary})
    if roads is not None:
        out["road_links"] = roads.summary
        out["road_links_sensitivity"] = roads.meta["sensitivity"]
        out["road_routes"] = roads.meta["routes"]
    out["claims"] = claims
    out.update(tables)
    return out


# --------------------------------------------------------------------------- the claims side by side


def claims(
    *,
    clinics: ServiceCheck | None = None,
    bus: ServiceCheck | None = None,
    roads: ServiceCheck | None = None,
    lang: str = "zh",
) -> pd.DataFrame:
    """The measured shares beside the report's figures, one row per claim and measure.

    Parameters
    ----------
    clinics, bus, roads
        Results of :func:`clinic_access`, :func:`bus_access`, :func:`road_links`
        (any may be missing).
    lang
        Language of ``statement`` and ``measure``: ``"zh"`` or ``"en"``.

    Returns
    -------
    pandas.DataFrame
        Columns ``claim`` (key), ``statement`` (the claim), ``measure`` (what the
        value is), ``value`` (0–1), ``reported`` (0–1: the Xuchang report's figure,
        :data:`REPORTED`; NaN when it gives none), ``gap`` (= value − reported) and
        ``status`` (``ok``, or ``no_data`` when no facility of the measure's kind is
        in the data: the value is then NaN, never 0).
    """
    rows = [
        {
            "claim": claim,
            "statement": label(f"services_claim.{claim}", lang=lang),
            "measure": measure,
            "value": value,
            "reported": REPORTED.get(claim, np.nan),
            "gap": value - REPORTED.get(claim, np.nan),
            "status": status,
        }
        for _, claim, measure, value, status in _claim_rows(clinics, bus, roads, lang)
    ]
    return pd.DataFrame(rows)


def _claim_rows(
    clinics: ServiceCheck | None, bus: ServiceCheck | None, roads: ServiceCheck | None, lang: str
) -> list[tuple[str, str, str, float, str]]:
    """``(key, claim, measure, value, status)`` per measured claim, in the order of :func:`claims`."""
    rows: list[tuple[str, str, str, float, str]] = []
    if clinics is not None:
        group = "health:county_hospital"
        for limit in clinics.meta["limits_min"]:
            if group in clinics.summary.index:
                text = label("services_measure.pop_within", lang=lang).format(
                    limit=f"{limit:g}", mode=label(f"mode.{clinics.meta['mode']}", lang=lang)
                )
                column = engine.share_column("within", limit, population=True)
                value = float(clinics.summary.loc[group, column])
                status = (
                    metrics.STATUS_NO_DATA if clinics.summary.loc[group, "no_facility"] else "ok"
                )
                rows.append((f"county_hospital_{limit:g}", "county_hospital", text, value, status))
    if bus is not None:
        limit = bus.meta["limit_min"]
        text = label("services_measure.villages_with_stop", lang=lang).format(limit=f"{limit:g}")
        value = float(bus.summary["served_share"].iloc[0])
        status = metrics.STATUS_NO_DATA if int(bus.summary["stops"].iloc[0]) == 0 else "ok"
        rows.append(("bus_every_village", "bus_every_village", text, value, status))
    if roads is not None:  # the stated rule, then the strict one (the sensitivity)
        road_class = road_class_label(roads.meta["osm_min_class"], lang=lang)
        for key, col, rule in (
            ("township_links", "share_connected", roads.meta["rule"]),
            ("township_links_strict", "share_connected_strict", roads.meta["strict"]),
        ):
            text = label("services_measure.seats_connected", lang=lang).format(
                road_class=road_class, rule=rule.text(lang)
            )
            value = float(roads.summary[col].iloc[0])
            rows.append((key, "township_links", text, value, "ok"))
    if not rows:
        msg = "give at least one result: clinics=, bus= or roads="
        raise ValidationError(msg)
    return rows


def key_figures(
    *,
    clinics: ServiceCheck | None = None,
    bus: ServiceCheck | None = None,
    roads: ServiceCheck | None = None,
) -> list[dict[str, Any]]:
    """Each claim's measured value (the ``value`` column of :func:`claims`) as a key figure.

    Keys: ``county_hospital_<T>`` (population share within each clinic limit of a
    county hospital), ``bus_every_village`` (share of villages with a stop within the
    walk limit), ``township_links`` (share of township seats linked); all ``percent``,
    labelled with the claim's measure in both languages. A claim whose facilities are
    not in the data has no value and status ``no_data``.

    Parameters
    ----------
    clinics, bus, roads
        Results of :func:`clinic_access`, :func:`bus_access`, :func:`road_links`
        (any may be missing, not all).

    Returns
    -------
    list of dict
        Figures for :func:`accessibility.export.write_figures`.
    """
    zh = _claim_rows(clinics, bus, roads, "zh")
    en = _claim_rows(clinics, bus, roads, "en")
    return [
        figure(
            key,
            value,
            "percent",
            labels=(text_zh, text_en),
            status=status if status == metrics.STATUS_NO_DATA else None,
        )
        for (key, _, text_zh, value, status), (_, _, text_en, _, _) in zip(zh, en, strict=True)
    ]


# --------------------------------------------------------------------------- Excel


def excel_tables(
    *,
    claims: pd.DataFrame,
    clinics: ServiceCheck,
    bus: ServiceCheck,
    roads: ServiceCheck | None,
    equity: Mapping[str, pd.DataFrame] | None = None,
    lang: str = "zh",
) -> dict[str, pd.DataFrame]:
    """The summary tables for :func:`accessibility.export.write_excel`, by sheet name in ``lang``.

    Sheets: the claims beside the report (:func:`claims`), clinics per tier, bus
    stops, the township road links (summary and one row per seat) and any equity
    tables given in ``equity`` (sheet key → table, e.g. ``{"equity_hospital": ...}``;
    keys with a ``services_sheet`` label are translated). Column names are kept,
    so give ``headers=excel_headers(sheets, lang=lang)`` to ``write_excel``.
    """
    mode = functools.partial(_soft_label, "mode", lang=lang)
    sheets = {"claims": claims, "clinics": clinics.summary, "bus": bus.summary}
    if roads is not None:  # skipped without township seats
        words = functools.partial(_soft_label, "road_links", lang=lang)
        sheets["road_links"] = roads.summary.assign(rule=roads.meta["rule"].text(lang)).rename(
            columns={"connected": "seats_connected", "connected_strict": "seats_connected_strict"}
        )
        sensitivity = roads.meta["sensitivity"].rename(columns={"connected": "seats_connected"})
        sensitivity.index = [r.text(lang) for r in (roads.meta["rule"], roads.meta["strict"])]
        sensitivity.index.name = "rule"
        sheets["road_links_sensitivity"] = sensitivity
        sheets["township_seats"] = roads.table.assign(
            reason=roads.table["reason"].map(
                functools.partial(_soft_label, "services_reason", lang=lang)
            ),
            direction=roads.table["direction"].map(words),
            lower_pieces=lower_pieces(roads, lang=lang),
            failed_direction=roads.table["failed_direction"].map(
                lambda d: words(f"failed_{d}") if d else ""
            ),
        )
    sheets.update(equity or {})
    from ..equity import TOTAL
    from ..export import SHARE_COLUMNS

    status = functools.partial(_soft_label, "status", lang=lang)
    everyone = label("equity_ui.all", lang=lang)
    out: dict[str, pd.DataFrame] = {}
    for key, frame in sheets.items():
        table = frame.copy()
        if "mode" in table.columns:
            table["mode"] = table["mode"].map(mode)
        if "status" in table.columns:
            table["status"] = table["status"].map(status)
        if "claim" in table.columns:
            table["claim"] = table["claim"].map(
                functools.partial(_soft_label, "services_claim_short", lang=lang)
            )
        if table.index.name == "claim":
            table.index = table.index.map(
                functools.partial(_soft_label, "services_claim_short", lang=lang)
            )
        if "township" in table.columns:
            table["township"] = table["township"].replace({TOTAL: everyone})
        if table.index.name == "township":
            table.index = table.index.map(lambda t: everyone if t == TOTAL else t)
        if key == "claims":  # measured and reported figures are shares
            table.attrs[SHARE_COLUMNS] = ["value", "reported", "gap"]
        if key in ("road_links", "road_links_sensitivity"):
            table.attrs[SHARE_COLUMNS] = ["share_connected", "share_connected_strict"]
        if key == "township_seats":
            table.attrs[SHARE_COLUMNS] = ["lower_share"]
        out[_soft_label("services_sheet", key, lang=lang)] = table
    return out


def _soft_label(section: str, value: Any, *, lang: str) -> Any:
    if not isinstance(value, str) or not value:
        return value
    try:
        return label(f"{section}.{value}", lang=lang)
    except ValidationError:
        return value


def excel_headers(sheets: Mapping[str, pd.DataFrame], *, lang: str = "zh") -> dict[str, str]:
    """Column name → header in ``lang`` for the sheets of :func:`excel_tables`.

    Fixed columns come from the ``services_col`` labels; ``beyond_<t>_share`` and
    ``beyond_<t>_pop_share`` of the equity tables from the ``equity_ui`` templates.
    """
    from ..labels import keys

    out = {c: label(f"services_col.{c}", lang=lang) for c in keys("services_col")}
    for frame in sheets.values():
        for col in frame.columns:
            share = engine.parse_share_column(str(col))
            if share is not None and share[0] == "beyond":
                key = "beyond_pop_share" if share[2] else "beyond_share"
                out[col] = label(f"equity_ui.{key}", lang=lang).format(limit=share[1])
    return out
