"""How complete are a region's data? An audit to read before trusting any number.

Design
------
In:  a prepared :class:`~accessibility.pipeline.Study` (network, places, origins,
     facilities with their ``source``, snap tables).
Out: three tables, shown in the notebook and written to ``data/processed/<region>/``:

- :func:`summary` — one row per check: network nodes and kilometres kept in the
  largest strongly connected component and their share, settlements found per level
  (is there a county seat? how many township seats?), villages with a population,
  villages and facilities farther than the snap distance from any road or nearest to
  a road cut off from the network, highway ways cut by the data's edge, road
  segments closed to the mode by access tags, ambiguous facilities, facilities
  mapped twice and merged, and the reliability of the population estimate
  (:func:`accessibility.population.reliability`: source, share held by the largest
  point, share from fallback rules, densities, and the overall confidence);
- :func:`facility_counts` — facilities per kind and tier, by source (OSM only,
  registry only, both) — where OSM and the official lists disagree;
- :func:`duplicates` — the facilities mapped twice and merged into one (which id
  was kept, which dropped, how far apart, by which rule).

Rural OSM in China is sparse; these tables say where, so that a 100 % coverage figure
built on three mapped clinics is not mistaken for a fact.
Tests: ``tests/test_audit.py`` on the sample county.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ._errors import ValidationError
from .classify import LEVELS, TIERS
from .pipeline import Study
from .snapping import FLAG_FAR, FLAG_ROAD_CUT_OFF


def _network_km(study: Study) -> float:
    seg_len = np.zeros(study.network.n_segments)
    seg_len[study.network.segment] = study.network.length_m
    return float(seg_len.sum()) / 1000.0


def summary(study: Study, *, population: Any = "auto") -> pd.DataFrame:
    """One row per completeness check: ``check`` (index), ``value``, ``share`` (0–1 or NaN), ``note``.

    ``population`` is what the ``population_*`` rows describe: a method of
    :func:`accessibility.population.estimate` (default ``"auto"``, the estimate the
    reading circle uses), population points, or ``None`` for no such rows.
    """
    meta = study.network.meta
    kept_km = _network_km(study)
    dropped_km = float(meta.get("length_dropped_km", 0.0))
    total_km = kept_km + dropped_km
    rows: list[tuple[str, float, float, str]] = [
        (
            "network_km_kept",
            round(kept_km, 3),
            kept_km / total_km if total_km else np.nan,
            f"{study.mode} network in the largest strongly connected component",
        ),
        (
            "network_km_dropped",
            round(dropped_km, 3),
            dropped_km / total_km if total_km else np.nan,
            f"in {max(int(meta.get('components', 1)) - 1, 0)} disconnected pieces",
        ),
        (
            "network_nodes_dropped",
            meta.get("nodes_dropped", 0),
            meta.get("nodes_dropped", 0) / max(meta.get("nodes_input", 1), 1),
            "",
        ),
    ]
    levels = study.places["level"].value_counts()
    for level in LEVELS:
        note = ""
        if level == "county_seat" and levels.get(level, 0) == 0:
            note = "no county seat in the data: tag it (capital=6) or name it in the region file (unit seat)"
        rows.append((f"places_{level}", int(levels.get(level, 0)), np.nan, note))
    n_o = len(study.origins)
    with_pop = int(study.origins["population"].notna().sum())
    kind = study.meta.get("origins_kind", "villages")
    why = study.meta.get("origins_reason", "settlements used as origins")
    rows.append(("origins", n_o, np.nan, f"{kind} ({why})"))
    rows.append(
        (
            "origins_with_population",
            with_pop,
            with_pop / n_o if n_o else np.nan,
            f"residents from {study.meta.get('origins_population', 'tags')}; "
            "origins without count in village shares, not in population shares",
        )
    )
    far_o = int((study.origin_snap["flag"] == FLAG_FAR).sum())
    far_f = int((study.facility_snap["flag"] == FLAG_FAR).sum())
    limit = (
        f"more than {study.meta.get('max_snap_m', '?')} m from any road (walked straight, flagged)"
    )
    rows.append(("origins_far_from_road", far_o, far_o / n_o if n_o else np.nan, limit))
    n_f = len(study.facilities)
    rows.append(("facilities_far_from_road", far_f, far_f / n_f if n_f else np.nan, limit))
    cut_o = int((study.origin_snap["flag"] == FLAG_ROAD_CUT_OFF).sum())
    cut_f = int((study.facility_snap["flag"] == FLAG_ROAD_CUT_OFF).sum())
    cut_note = (
        "nearest road cut off from the network: snapped to it all the same, times are estimates"
    )
    rows.append(("origins_road_cut_off", cut_o, cut_o / n_o if n_o else np.nan, cut_note))
    rows.append(("facilities_road_cut_off", cut_f, cut_f / n_f if n_f else np.nan, cut_note))
    rows.append(
        (
            "road_ways_clipped",
            int(meta.get("ways_clipped", 0)),
            np.nan,
            "highway ways crossing the data's edge: their parts inside are kept",
        )
    )
    rows.append(
        (
            "road_segments_closed",
            int(meta.get("access_denied_segments", 0)),
            np.nan,
            f"road segments closed to {study.mode} by access tags (no, private)",
        )
    )
    ambiguous = int((study.facilities.get("confidence", pd.Series(dtype=str)) == "ambiguous").sum())
    rows.append(
        (
            "facilities_ambiguous",
            ambiguous,
            ambiguous / n_f if n_f else np.nan,
            "kind or tier guessed from a name; settle with a registry",
        )
    )
    merged = len(study.duplicates)
    rows.append(
        (
            "facilities_merged",
            merged,
            merged / (n_f + merged) if n_f + merged else np.nan,
            "mapped twice (a node and its area, a stop and its platform) and counted once; "
            "listed by audit.duplicates",
        )
    )
    rows += _population_rows(study, population)
    out = pd.DataFrame(rows, columns=["check", "value", "share", "note"]).set_index("check")
    return out


def duplicates(study: Study) -> pd.DataFrame:
    """Facilities mapped twice and merged into one, one row per dropped facility.

    Returns
    -------
    pandas.DataFrame
        Columns ``kept`` (the id that stands for the place), ``dropped``, ``kind``,
        ``kept_name``, ``dropped_name``, ``distance_m`` (metres between the two) and
        ``rule`` (the ``duplicates`` rule of ``rules/facilities.yml`` that paired them);
        no rows when nothing was merged. See :mod:`accessibility.dedup`.
    """
    return study.duplicates.reset_index(drop=True).copy()


def _population_rows(study: Study, population: Any) -> list[tuple[str, Any, float, str]]:
    """The population estimate's source, its reliability checks and its confidence."""
    from . import population as pop_mod

    if population is None:
        return []
    try:
        points = (
            pop_mod.estimate(study, method=population)
            if isinstance(population, str)
            else population
        )
        checks = pop_mod.reliability(points, area_km2=pop_mod._area_km2(study))
    except ValidationError as exc:
        return [("population_confidence", "none", np.nan, f"no population estimate: {exc}")]
    source = str(points.attrs.get("population_source", "points"))
    rows: list[tuple[str, Any, float, str]] = [
        ("population_source", source, np.nan, str(points.attrs.get("population_note", "")))
    ]
    for check, r in checks.iterrows():
        verdict = "ok" if r["ok"] else "BEYOND THE LIMIT"
        rows.append(
            (
                f"population_{check}",
                round(float(r["value"]), 4),
                np.nan,
                f"{verdict} (limit {r['limit']:g}): {r['note']}",
            )
        )
    failed = ", ".join(checks.attrs["failed"])
    rows.append(
        (
            "population_confidence",
            checks.attrs["confidence"],
            np.nan,
            f"checks beyond their limits: {failed}" if failed else "every check within its limit",
        )
    )
    return rows


def facility_counts(study: Study) -> pd.DataFrame:
    """Facilities per kind and tier by source.

    Returns
    -------
    pandas.DataFrame
        Index (``kind``, ``tier``) over every known tier (zero rows included, so a
        missing tier shows as 0) plus ``(kind, "")`` for facilities of no tier;
        columns ``osm``, ``registry``, ``both`` and ``total``. A facility serving
        several tiers counts in each. ``both`` are registry entries matched to an
        OSM feature (column ``match == "matched"``).
    """
    fac = study.facilities
    source = fac["source"].astype(str).where(fac["source"].isin(["registry"]), "osm")
    if "match" in fac.columns:
        source = source.where(fac["match"] != "matched", "both")
    tiers = fac["tiers"].fillna("").str.split(";")
    exploded = pd.DataFrame({"kind": fac["kind"], "tier": tiers, "source": source}).explode("tier")
    exploded["tier"] = exploded["tier"].fillna("")
    counts = exploded.groupby(["kind", "tier", "source"]).size().unstack("source", fill_value=0)
    index = pd.MultiIndex.from_tuples(
        [(k, t) for k, ts in TIERS.items() for t in (*ts, "")], names=["kind", "tier"]
    )
    counts = counts.reindex(index, fill_value=0)
    for col in ("osm", "registry", "both"):
        if col not in counts.columns:
            counts[col] = 0
    counts = counts[["osm", "registry", "both"]]
    counts["total"] = counts.sum(axis=1)
    return counts


def write(study: Study, name: str, **options: Any) -> pd.DataFrame:
    """Write :func:`summary` to ``<processed dir>/<name>.csv`` at once and return it
    (``name`` by convention ``<notebook>_audit``, so that a batch run counts it as its own).

    Notebooks call this right after :func:`accessibility.pipeline.prepare`, before any
    analysis that might fail, so that a run always leaves the data audit behind.
    ``options`` go to :func:`summary`.
    """
    from .export import write_csv

    table = summary(study, **options)
    write_csv(study.processed_dir / f"{name}.csv", table)
    return table
