"""The whole preparation in one call: :func:`prepare`.

In:  a region name (or region), optionally a unit, a travel mode, an extract or an
     osmnx graph, origin choices. Out: a :class:`~accessibility.pipeline.study.Study`,
     its stages run in order (boundary, OSM data, classify and origins, network, snap,
     router) under one Overpass total (:func:`_overpass_total`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd

from .. import classify, convert, dedup, engine, network, regions, snapping
from .. import origins as origin_choice
from .._errors import DataSourceError, ValidationError
from .._validate import check_metric_crs
from ..settings import progress_bar, settings
from .boundaries import boundary_spec, clip_area
from .inputs import _region_osm_file, apply_registries, load_osm
from .origins import DEFAULT_ORIGIN_LEVELS, _choose_origins, _origin_population
from .split import exact_horizon_s, is_split, max_speed_kmh, open_network
from .study import Study

if TYPE_CHECKING:
    import networkx as nx

log = logging.getLogger(__package__)


def _overpass_total(
    region: regions.Region,
    unit: regions.Unit | None,
    *,
    osm_file: Path | str | None,
    offline: bool,
) -> contextlib.AbstractContextManager[object]:
    """The total for the Overpass queries that prepare ``unit`` (or the whole region):
    :func:`accessibility.sources.overpass.region_budget`, when its boundary or its data
    may be downloaded from Overpass; else nothing (and the download module is not
    imported)."""
    if osm_file is not None or offline:
        return contextlib.nullcontext()
    if region.source_of(unit).get("kind") != "overpass" and "osm" not in boundary_spec(
        region, unit
    ):
        return contextlib.nullcontext()
    from ..sources import overpass

    name = f"region {region.name}" + (f" unit {unit.code} ({unit.name})" if unit else "")
    return overpass.region_budget(name=name)


def prepare(
    region: str | regions.Region,
    *,
    unit: str | None = None,
    mode: str = "walk",
    osm_file: Path | str | None = None,
    offline: bool = False,
    origin_levels: Sequence[str] = DEFAULT_ORIGIN_LEVELS,
    origins: str | Path | gpd.GeoDataFrame | None = None,
    grid_m: float | None = None,
    max_snap_m: float | None = None,
    speed_overrides: dict[str, float] | None = None,
    crs: str | None = None,
    graph: nx.MultiDiGraph | None = None,
    progress: bool | None = None,
) -> Study:
    """Prepare a region (or one of its units) for access computations with one travel mode.

    Parameters
    ----------
    region
        Region name (``regions/<name>.yml`` or built-in) or a loaded region.
    unit
        Code or name of one of the region's units; ``None`` covers the whole region.
    mode
        Travel mode from ``rules/speeds.yml``.
    osm_file
        A local ``.osm``/``.osm.pbf`` extract (any size: it is cut to the area with a
        streaming reader) to read instead of the region's own source.
    offline
        Never touch the network: use cached downloads or fail with a message saying
        how to pass ``osm_file``.
    origin_levels
        Settlement levels used as village origins (``admin_village``,
        ``natural_village``, ``township_seat``, ``county_seat``, ``residential``).
    origins
        Where trips start (:mod:`accessibility.origins`): ``"villages"`` (settlements
        of ``origin_levels``), ``"places"`` (every settlement point, suburbs and
        neighbourhoods included), ``"grid"`` or ``"h3"`` (population cells of
        ``grid_m``), ``"buildings"`` (residential building clusters), a point file,
        or ``"auto"`` (villages where the data have them, else a grid). Default:
        the region's ``origins`` (``auto`` when it sets none). The choice and the
        reason are in ``study.meta["origins_kind"]`` / ``["origins_reason"]``.
    grid_m
        Cell size of grid origins, metres; default the region's (500 m).
    max_snap_m
        Snap distance in metres above which points are flagged; default: the
        region's value.
    speed_overrides
        km/h per highway class for this mode, on top of the region's overrides
        (e.g. a slower walking speed for children: ``{"residential": 3.6, ...}``).
    crs
        Metric CRS (metres) to work in instead of the UTM zone of the boundary's
        centroid (:func:`accessibility.regions.metric_crs`), e.g. ``"EPSG:32649"``.
        Snap legs are measured in it, so two analyses agree to the last digit only
        in the same CRS: pass the region's CRS to compare a unit with the whole
        region when they lie in different zones (the difference is the ratio of
        the zones' scale factors, below 0.2 % of the off-network legs).
    graph
        An osmnx graph (``ox.graph_from_place``, ``ox.graph_from_xml``,
        ``ox.io.load_graphml``…) whose roads replace those of the region's OSM data:
        read by :func:`accessibility.convert.roads_from_osmnx` (its ``length``,
        ``oneway``, ``highway``, ``maxspeed``, access tags and edge geometries), cut
        to the boundary plus ``buffer_m`` as the region's own roads are, and built
        with the mode's rules. Places, buildings and facilities still come from the
        region's source. ``meta["roads_source"]`` says which roads were used and
        ``meta["roads_graph"]`` what the conversion counted.
    progress
        Show a progress bar; default ``settings.progress``.
    """
    reg = regions.load(region) if isinstance(region, str) else region
    the_unit = reg.unit(unit) if unit is not None else None
    network.mode_rules(mode)  # fail early on an unknown mode
    bad_levels = sorted(set(origin_levels) - set(classify.LEVELS))
    if bad_levels or not origin_levels:
        msg = f"unknown origin levels {bad_levels}; choose from {', '.join(classify.LEVELS)}"
        raise ValidationError(msg)
    if osm_file is not None and not Path(osm_file).is_file():
        msg = f"--osm-file {osm_file} does not exist"
        raise DataSourceError(msg)
    if crs is not None:
        check_metric_crs(crs)
    max_snap_m = reg.max_snap_m if max_snap_m is None else float(max_snap_m)
    show = settings.progress if progress is None else progress
    out_dir = reg.processed_dir / the_unit.code if the_unit is not None else reg.processed_dir

    steps = ["boundary", "OSM data", "classify", f"{mode} network", "snap", "router"]
    name = f"{reg.name}/{the_unit.code}" if the_unit is not None else reg.name
    bar = progress_bar(show=show, total=len(steps), desc=name, unit="step")

    def step(i: int) -> None:
        bar.set_postfix_str(steps[i])
        if i:
            bar.update(1)

    source = reg.source_of(the_unit)
    if osm_file is None and source.get("kind") == "osm_file":
        osm_file = _region_osm_file(reg, the_unit)  # its own extract, for boundaries and data

    # the boundary's and the data's Overpass queries share one total
    with _overpass_total(reg, the_unit, osm_file=osm_file, offline=offline):
        step(0)
        boundary, clip, crs = clip_area(reg, the_unit, osm_file=osm_file, offline=offline, crs=crs)

        step(1)
        graph_roads = None if graph is None else convert.roads_from_osmnx(graph, clip=clip)
        data = load_osm(reg, clip, unit=the_unit, osm_file=osm_file, offline=offline)
    roads = data.roads if graph_roads is None else graph_roads

    step(2)
    places = classify.places(data.places, county_seat=the_unit.seat if the_unit is not None else "")
    places = places.loc[places.within(boundary.iloc[0])]
    spec = reg.origins.get("kind", "auto") if origins is None else origins
    cell_m = float(
        reg.origins.get("grid_m", origin_choice.DEFAULT_GRID_M) if grid_m is None else grid_m
    )
    area = boundary.iloc[0]
    area_buildings = data.buildings.loc[data.buildings.intersects(area)]
    area_landuse = data.landuse.loc[data.landuse.intersects(area)]
    estimates: dict[tuple[Any, ...], Any] = {}
    chosen = _choose_origins(
        spec, reg, the_unit, area_buildings, area_landuse, places, boundary, crs,
        origin_levels, cell_m, name, estimates,
    )  # fmt: skip
    origins = chosen.table.copy()
    facilities = classify.facilities(data.pois)
    facilities, duplicates = dedup.merge(facilities, crs=crs)
    facilities["source"] = "sample" if source.get("kind") == "sample" else "osm"
    facilities, registry_origins = apply_registries(
        reg,
        facilities,
        origins,
        clip=clip,
        boundary=boundary.iloc[0],
        crs=crs,
        origin_levels=origin_levels,
        out_dir=out_dir,
        unit=the_unit,
    )
    if chosen.reason.endswith("villages from the village registry"):
        origins = registry_origins  # an official village list replaces the mapped villages
        if origins.empty:
            msg = f"no villages of levels {list(origin_levels)} in the village registry inside the boundary of {name!r}"
            raise ValidationError(msg)
    origins, pop_from = _origin_population(
        reg, the_unit, origins, chosen, boundary, crs, places=places
    )

    step(3)
    overrides = {**reg.speed_overrides.get(mode, {}), **(speed_overrides or {})} or None
    if is_split(reg, the_unit):
        net = open_network(
            roads, clip, mode=mode, crs=crs, cache_dir=out_dir, speed_overrides=overrides
        )
    else:
        net = network.load_or_build(
            roads, mode=mode, crs=crs, cache_dir=out_dir, speed_overrides=overrides
        )
    v_max = max_speed_kmh(mode, speed_overrides=overrides)
    exact_s = exact_horizon_s(reg.buffer_m, v_max_kmh=v_max)
    if is_split(reg, the_unit):
        log.info(
            "%s: times up to %.1f min are exact (buffer %g m at up to %.1f km/h); "
            "longer ones are upper bounds",
            name,
            exact_s / 60.0,
            reg.buffer_m,
            v_max,
        )

    step(4)
    o_snap = snapping.snap(net, origins, max_snap_m=max_snap_m)
    f_snap = snapping.snap(net, facilities, max_snap_m=max_snap_m)
    origins["leg_m"] = o_snap["leg_m"]
    origins["snap_flag"] = o_snap["flag"]
    facilities["leg_m"] = f_snap["leg_m"]
    facilities["snap_flag"] = f_snap["flag"]

    step(5)
    router = engine.Router.build(net, o_snap, f_snap)
    bar.update(1)
    bar.close()
    meta = {
        "region": reg.name,
        "unit": the_unit.code if the_unit is not None else None,
        "region_label_zh": reg.label_zh,
        "region_label_en": reg.label_en,
        "synthetic": reg.synthetic,
        "mode": mode,
        "crs": crs,
        "osm_source": str(osm_file) if osm_file is not None else source.get("kind"),
        "osm_fingerprint": data.fingerprint,
        "roads_source": "osm" if graph_roads is None else "osmnx_graph",
        "osm_file_name": getattr(data, "source_name", ""),
        "osm_date": getattr(data, "source_date", None),
        "osm_date_source": getattr(data, "source_date_kind", ""),
        "registries": bool(reg.registries),
        "network": net.meta,
        "origins": len(origins),
        "origins_kind": chosen.kind,
        "origins_reason": chosen.reason,
        "origins_found": chosen.found,
        "origins_population": pop_from,
        "origins_population_estimate": chosen.estimate,
        "grid_m": cell_m,
        "origins_far": int((o_snap["flag"] == snapping.FLAG_FAR).sum()),
        "facilities": len(facilities),
        "facilities_far": int((f_snap["flag"] == snapping.FLAG_FAR).sum()),
        "facilities_merged": len(duplicates),
        "max_snap_m": max_snap_m,
        "v_max_kmh": v_max,
        "exact_within_min": exact_s / 60.0,
    }
    if graph_roads is not None:
        meta["roads_graph"] = dict(graph_roads.meta)  # what the conversion counted
    raster = reg.population_raster(the_unit)  # resolved now, while the project root is set
    if raster is not None:
        meta["population_raster"] = str(raster)
    return Study(
        region=reg,
        unit=the_unit,
        mode=mode,
        crs=crs,
        boundary=boundary,
        network=net,
        places=places,
        buildings=area_buildings,
        landuse=area_landuse,
        origins=origins,
        facilities=facilities,
        origin_snap=o_snap,
        facility_snap=f_snap,
        router=router,
        meta=meta,
        exact_within_s=exact_s,
        duplicates=duplicates,
        roads=roads,
        population_estimates=estimates,
    )
