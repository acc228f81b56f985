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

With ``lang="zh"`` the notes (and the population source and confidence) are in
Chinese; the checks keep their codes, which the workbook and a CSV written with a
language show by name (``rules/labels_tables.yml``).

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
from .labels import LANGS, label
from .pipeline import Study
from .snapping import FLAG_FAR, FLAG_ROAD_CUT_OFF


def _network_km(study: Study) -> float:
    seg_len = np.zeros(study.network.n_segments)
    seg_len[study.network.segment] = study.network.length_m
    return float(seg_len.sum()) / 1000.0


def _say(key: str, lang: str, **fields: Any) -> str:
    """An audit note in ``lang`` (``rules/labels_tables.yml``, section ``audit_note``)."""
    return label(f"audit_note.{key}", lang=lang).format(**fields)


def _soft(section: str, value: Any, lang: str) -> str:
    """A code's label in ``section``, or the code when it has none."""
    try:
        return label(f"{section}.{value}", lang=lang)
    except ValidationError:
        return str(value)


def summary(study: Study, *, population: Any = "auto", lang: str = "en") -> pd.DataFrame:
    """One row per completeness check: ``check`` (index), ``value``, ``share`` (0–1 or NaN), ``note``.

    ``population`` is what the ``population_*`` rows describe: a method of
    :func:`accessibility.population.estimate` (default ``"auto"``, the estimate the
    reading circle uses), population points, or ``None`` for no such rows.
    ``lang`` (``"en"`` or ``"zh"``) is the language of ``note`` and of the few text
    values (the population source and confidence); ``check`` stays a code, which
    :func:`accessibility.export.write_excel` and ``write_csv(..., lang=...)`` show
    by its name (``rules/labels_tables.yml``, section ``audit_check``).
    """
    if lang not in LANGS:
        msg = f"lang must be one of {', '.join(map(repr, LANGS))}; got {lang!r}"
        raise ValidationError(msg)
    mode = label(f"mode.{study.mode}", lang=lang) if lang == "zh" else study.mode
    meta = study.network.meta
    kept_km = _network_km(study)
    dropped_km = float(meta.get("length_dropped_km", 0.0))
    total_km = kept_km + dropped_km
    rows: list[tuple[str, float, float, str]] = [
        (
            "network_km_kept",
            round(kept_km, 3),
            kept_km / total_km if total_km else np.nan,
            _say("network_kept", lang, mode=mode),
        ),
        (
            "network_km_dropped",
            round(dropped_km, 3),
            dropped_km / total_km if total_km else np.nan,
            _say("network_dropped", lang, n=max(int(meta.get("components", 1)) - 1, 0)),
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
            note = _say("no_county_seat", lang)
        rows.append((f"places_{level}", int(levels.get(level, 0)), np.nan, note))
    n_o = len(study.origins)
    with_pop = int(study.origins["population"].notna().sum())
    kind = study.meta.get("origins_kind", "villages")
    why = study.meta.get("origins_reason", "settlements used as origins")
    origins_text = study.origins_note(lang) if lang == "zh" else ""
    rows.append(
        ("origins", n_o, np.nan, _say("origins", lang, kind=kind, why=why, origins=origins_text))
    )
    rows.append(
        (
            "origins_with_population",
            with_pop,
            with_pop / n_o if n_o else np.nan,
            _say(
                "with_population",
                lang,
                source=_sources(study.meta.get("origins_population", "tags"), lang),
            ),
        )
    )
    far_o = int((study.origin_snap["flag"] == FLAG_FAR).sum())
    far_f = int((study.facility_snap["flag"] == FLAG_FAR).sum())
    limit = _say("far", lang, limit=study.meta.get("max_snap_m", "?"))
    rows.append(("origins_far_from_road", far_o, far_o / n_o if n_o else np.nan, limit))
    n_f = len(study.facilities)
    rows.append(("facilities_far_from_road", far_f, far_f / n_f if n_f else np.nan, limit))
    cut_o = int((study.origin_snap["flag"] == FLAG_ROAD_CUT_OFF).sum())
    cut_f = int((study.facility_snap["flag"] == FLAG_ROAD_CUT_OFF).sum())
    cut_note = _say("cut_off", lang)
    rows.append(("origins_road_cut_off", cut_o, cut_o / n_o if n_o else np.nan, cut_note))
    rows.append(("facilities_road_cut_off", cut_f, cut_f / n_f if n_f else np.nan, cut_note))
    rows.append(
        (
            "road_ways_clipped",
            int(meta.get("ways_clipped", 0)),
            np.nan,
            _say("clipped", lang),
        )
    )
    rows.append(
        (
            "road_segments_closed",
            int(meta.get("access_denied_segments", 0)),
            np.nan,
            _say("closed", lang, mode=mode),
        )
    )
    ambiguous = int((study.facilities.get("confidence", pd.Series(dtype=str)) == "ambiguous").sum())
    rows.append(
        (
            "facilities_ambiguous",
            ambiguous,
            ambiguous / n_f if n_f else np.nan,
            _say("ambiguous", lang),
        )
    )
    merged = len(study.duplicates)
    rows.append(
        (
            "facilities_merged",
            merged,
            merged / (n_f + merged) if n_f + merged else np.nan,
            _say("merged", lang),
        )
    )
    rows += _population_rows(study, population, lang)
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


def _sources(value: Any, lang: str) -> str:
    """``"tags+raster"`` → ``"居民点人口标注、人口栅格"`` in zh; the code itself in en."""
    if lang != "zh":
        return str(value)
    return "、".join(_soft("population_source", v, lang) for v in str(value).split("+"))


def _population_rows(
    study: Study, population: Any, lang: str = "en"
) -> list[tuple[str, Any, float, str]]:
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
        none = _soft("confidence", "none", lang) if lang == "zh" else "none"
        return [("population_confidence", none, np.nan, _say("no_estimate", lang, reason=exc))]
    source = str(points.attrs.get("population_source", "points"))
    note = str(points.attrs.get("population_note", ""))
    if lang == "zh":
        note = _soft("reading_ui", f"source_{source}", lang)
        source = _soft("population_source", source, lang)
    rows: list[tuple[str, Any, float, str]] = [("population_source", source, np.nan, note)]
    for check, r in checks.iterrows():
        verdict = _say("within" if r["ok"] else "beyond", lang)
        what = _soft("audit_reliability", check, lang) if lang == "zh" else r["note"]
        rows.append(
            (
                f"population_{check}",
                round(float(r["value"]), 4),
                np.nan,
                _say("check", lang, verdict=verdict, limit=f"{r['limit']:g}", note=what),
            )
        )
    failed = checks.attrs["failed"]
    if lang == "zh":
        failed = [_soft("audit_check", f"population_{c}", lang) for c in failed]
    confidence = checks.attrs["confidence"]
    rows.append(
        (
            "population_confidence",
            _soft("confidence", confidence, lang) if lang == "zh" else confidence,
            np.nan,
            _say("failed", lang, failed=("、" if lang == "zh" else ", ").join(failed))
            if failed
            else _say("all_within", lang),
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


def write(study: Study, name: str, *, lang: str | None = None, **options: Any) -> pd.DataFrame:
    """Write :func:`summary` to ``<processed dir>/<name>.csv`` at once and return it
    (``name`` by convention ``<notebook>_audit``, so that a batch run counts it as its own).

    Notebooks call this right after :func:`accessibility.pipeline.prepare`, before any
    analysis that might fail, so that a run always leaves the data audit behind.
    With ``lang`` (``"zh"`` or ``"en"``) the notes are in that language and the CSV has
    the workbook's headers and check names (:func:`accessibility.export.write_csv`);
    without it, English notes under the column names. ``options`` go to :func:`summary`.
    """
    from .export import write_csv

    table = summary(study, lang=lang or "en", **options)
    write_csv(study.processed_dir / f"{name}.csv", table, lang=lang)
    return table
