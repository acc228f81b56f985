"""The study's origins and their residents.

In:  the settlements, buildings and land use read inside the boundary, the origin spec
     and levels, the region's population raster. Out: the chosen origins
     (:func:`_choose_origins`, via :func:`accessibility.origins.choose`) and their
     population with where it comes from (:func:`_origin_population`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from .. import origins as origin_choice
from .. import regions
from .._errors import ValidationError

log = logging.getLogger(__package__)


DEFAULT_ORIGIN_LEVELS = ("admin_village",)


#: Share of mapped settlements with a ``population`` tag from which the tags, not a
#: population raster, give the origins' residents (see :func:`_origin_population`).
TAGS_ENOUGH = 0.5


def _choose_origins(
    spec: Any,
    reg: regions.Region,
    unit: regions.Unit | None,
    buildings: gpd.GeoDataFrame,
    landuse: gpd.GeoDataFrame,
    places: gpd.GeoDataFrame,
    boundary: gpd.GeoSeries,
    crs: str,
    levels: Sequence[str],
    cell_m: float,
    name: str,
    estimates: dict[tuple[Any, ...], Any],
) -> origin_choice.Origins:
    """The origins of an area (:func:`accessibility.origins.choose`), with population
    points for grids from the best areal source (raster, footprints, land use): a
    settlement's population tag says nothing about the cells around it. ``buildings``
    and ``landuse`` are those inside the area; an estimate made is kept in
    ``estimates`` (the study's)."""
    kind = origin_choice.check_spec(spec)
    pop = None
    n_villages = int(places["level"].isin(list(levels)).sum())
    registry = bool(reg.registries.get("villages"))
    if kind in ("grid", "h3") or (
        kind == "auto" and n_villages < origin_choice.AUTO_MIN_VILLAGES and not registry
    ):
        pop = _areal_population(
            reg, unit, buildings, landuse, places, boundary, crs, name, estimates
        )
    try:
        return origin_choice.choose(
            spec,
            places=places,
            buildings=buildings,
            boundary=boundary,
            crs=crs,
            levels=levels,
            population=pop,
            grid_m=cell_m,
            village_registry=registry,
        )
    except ValidationError as exc:
        msg = f"{name}: {exc}"
        raise ValidationError(msg) from exc


def _origin_population(
    reg: regions.Region,
    unit: regions.Unit | None,
    origins: gpd.GeoDataFrame,
    chosen: origin_choice.Origins,
    boundary: gpd.GeoSeries,
    crs: str,
    places: gpd.GeoDataFrame | None = None,
) -> tuple[gpd.GeoDataFrame, str]:
    """Origins with their residents, and where the figures come from.

    Grid cells and building clusters carry their own sums. Settlements and user
    points keep figures they were given (a village registry's, a file's column).
    Otherwise, when the region names a population raster, the raster's cells go to
    the nearest settlement (:func:`accessibility.population.to_origins`, the
    boundary's cells only) — every settlement of ``places``, origin or not, so that a
    town's people are not handed to the villages around it — and:

    - when at least :data:`TAGS_ENOUGH` of the origins carry a ``population`` tag,
      the tags stand and the raster fills only the origins without one
      (``"tags+raster"``);
    - else every origin takes the raster's figure, and the tag moves to
      ``population_tag`` (``"raster"``).

    Without a raster the tags stay (``"tags"``; untagged origins are NaN and the audit
    counts them).
    """
    from .. import population

    if chosen.kind in ("grid", "h3", "buildings"):
        return origins, chosen.kind
    given = pd.to_numeric(origins.get("population"), errors="coerce")
    official = "villages from the village registry" in chosen.reason or chosen.kind == "file"
    if official and given is not None and given.notna().any():
        return origins, "registry" if chosen.kind == "villages" else "file"
    raster = reg.population_raster(unit)
    if given is None:
        given = pd.Series(np.nan, index=origins.index)
    tagged = float(given.notna().mean()) if len(given) else 0.0
    if raster is None or tagged == 1.0:
        return origins, "tags"
    band = int((reg.population or {}).get("band", 1))
    cells = population.from_raster(raster, boundary, crs=crs, band=band)
    others = places.loc[~places.index.isin(origins.index)] if places is not None else None
    receivers = origins[[origins.geometry.name]]
    if others is not None and len(others):
        receivers = pd.concat([receivers, others[[others.geometry.name]].to_crs(origins.crs)])
    sums = population.to_origins(cells, receivers, crs=crs).loc[origins.index]
    out = origins.copy()
    if tagged >= TAGS_ENOUGH:
        out["population"] = given.fillna(sums)
        how = "tags+raster"
    else:
        out["population_tag"] = given
        out["population"] = sums
        how = "raster"
    log.info(
        "population of %d origins from %s (raster %s: each cell to its nearest settlement)",
        len(out),
        how,
        raster.name,
    )
    return out, how


def _areal_population(
    reg: regions.Region,
    unit: regions.Unit | None,
    buildings: gpd.GeoDataFrame,
    landuse: gpd.GeoDataFrame,
    places: gpd.GeoDataFrame,
    boundary: gpd.GeoSeries,
    crs: str,
    name: str,
    estimates: dict[tuple[Any, ...], Any],
) -> gpd.GeoDataFrame | None:
    """Population points from an areal source, or None when the area has none (the
    estimate kept in ``estimates`` for the study, which has the same tables)."""
    from types import SimpleNamespace

    from .. import population

    view = SimpleNamespace(
        region=reg,
        unit=unit,
        buildings=buildings,
        landuse=landuse,
        places=places,
        boundary=boundary,
        crs=crs,
        label=lambda lang="zh": name,
        population_estimates=estimates,
    )
    try:
        pop = population.estimate(view, method="auto")
    except ValidationError as exc:
        log.info("%s: no population data for grid origins (%s)", name, exc)
        return None
    if pop.attrs.get("population_source") == "places":
        return None
    return pop
