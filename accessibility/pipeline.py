"""From a region name to a ready :class:`~accessibility.engine.Router`, in one call.

Design
------
In:  a region (name or :class:`~accessibility.regions.Region`), a travel mode, and
     optionally a local OSM file.
Out: a :class:`Study` holding every intermediate a notebook shows: boundary, metric
     CRS, network (cached under ``data/processed/<region>/``), origins (settlements of
     the chosen levels, inside the boundary), facilities (classified, inside the
     boundary plus its buffer), both snap tables and the router.
Steps: raw data (the sample generator writes ``data/raw/sample/``; a real region reads
     the given extract) → :func:`accessibility.sources.osm.read` clipped to the
     buffered boundary → :mod:`accessibility.classify` → :mod:`accessibility.network`
     → :mod:`accessibility.snapping` → :class:`accessibility.engine.Router`.
Tests: ``tests/test_pipeline.py`` on the sample county.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from tqdm.auto import tqdm

from . import classify, engine, network, regions, snapping
from ._errors import DataSourceError, ValidationError
from .settings import settings
from .sources import osm

log = logging.getLogger(__name__)

DEFAULT_ORIGIN_LEVELS = ("admin_village",)


@dataclass
class Study:
    """Everything prepared for one region and travel mode (see the module docstring)."""

    region: regions.Region
    mode: str
    crs: str
    boundary: gpd.GeoSeries
    network: network.Network
    places: gpd.GeoDataFrame
    origins: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    origin_snap: pd.DataFrame
    facility_snap: pd.DataFrame
    router: engine.Router
    meta: dict[str, Any] = field(default_factory=dict)

    def access(self, groups: Sequence[str], *, thresholds_min: Sequence[float]) -> gpd.GeoDataFrame:
        """Access results joined to the origins: one row per origin, keyed by its id.

        See :func:`accessibility.engine.access` for the columns; the origins' own
        columns (``name``, ``level``, ``population``, ``leg_m``, ``snap_flag``) and
        geometry (WGS-84) come first.
        """
        table = engine.access(self.router, self.facilities, groups, thresholds_min=thresholds_min)
        return self.origins.join(table)


def raw_osm_file(
    region: regions.Region, *, osm_file: Path | str | None = None
) -> tuple[Path, Path | None]:
    """Return the OSM file and boundary file for a region, generating the sample when needed.

    Returns
    -------
    tuple
        ``(osm path, boundary path or None)``.
    """
    kind = region.source.get("kind")
    if osm_file is not None:
        path = Path(osm_file)
        if not path.is_file():
            msg = f"--osm-file {path} does not exist"
            raise DataSourceError(msg)
        boundary = region.raw_dir / region.boundary["file"] if region.boundary.get("file") else None
        return path, boundary
    if kind == "sample":
        from .sources import sample

        files = sample.ensure(region.raw_dir, seed=int(region.source.get("seed", 2023)))
        return files.osm, files.boundary
    if kind == "osm_file":
        path = Path(region.source["path"])
        path = path if path.is_absolute() else region.raw_dir / path
        if not path.is_file():
            msg = f"region {region.name!r} expects the OSM file {path}; put the extract there or pass --osm-file"
            raise DataSourceError(msg)
        boundary = region.raw_dir / region.boundary["file"] if region.boundary.get("file") else None
        return path, boundary
    msg = f"region {region.name!r} has source kind {kind!r}, which this version cannot read; use --osm-file"
    raise DataSourceError(msg)


def read_boundary(path: Path | None) -> gpd.GeoSeries:
    """Read a boundary file (GeoJSON, GeoPackage…) as one WGS-84 polygon."""
    if path is None or not Path(path).is_file():
        msg = f"boundary file not found: {path}; add it under data/raw/<region>/ or set 'boundary.file' in the region config"
        raise DataSourceError(msg)
    gdf = gpd.read_file(path)
    if gdf.empty:
        msg = f"boundary file {path} holds no geometry"
        raise DataSourceError(msg)
    if gdf.crs is None:
        gdf = gdf.set_crs(4326)
    geom = shapely.union_all(gdf.to_crs(4326).geometry.to_numpy())
    return gpd.GeoSeries([geom], crs=4326)


def prepare(
    region: str | regions.Region,
    *,
    mode: str = "walk",
    osm_file: Path | str | None = None,
    origin_levels: Sequence[str] = DEFAULT_ORIGIN_LEVELS,
    max_snap_m: float | None = None,
    progress: bool | None = None,
) -> Study:
    """Prepare a region for access computations with one travel mode.

    Parameters
    ----------
    region
        Region name (``regions/<name>.yml`` or built-in) or a loaded region.
    mode
        Travel mode from ``rules/speeds.yml``.
    osm_file
        A local ``.osm``/``.osm.pbf`` to read instead of the region's own source.
    origin_levels
        Settlement levels used as origins (``admin_village``, ``natural_village``,
        ``township_seat``, ``county_seat``, ``residential``).
    max_snap_m
        Snap distance in metres above which points are flagged; default: the
        region's value.
    progress
        Show a progress bar; default ``settings.progress``.
    """
    reg = regions.load(region) if isinstance(region, str) else region
    network.mode_rules(mode)  # fail early on an unknown mode
    bad_levels = sorted(set(origin_levels) - set(classify.LEVELS))
    if bad_levels or not origin_levels:
        msg = f"unknown origin levels {bad_levels}; choose from {', '.join(classify.LEVELS)}"
        raise ValidationError(msg)
    max_snap_m = reg.max_snap_m if max_snap_m is None else float(max_snap_m)
    show = settings.progress if progress is None else progress

    steps = ["raw data", "read OSM", "classify", f"{mode} network", "snap", "router"]
    bar = tqdm(total=len(steps), desc=reg.name, disable=not show, unit="step")

    def step(i: int) -> None:
        bar.set_postfix_str(steps[i])
        if i:
            bar.update(1)

    step(0)
    osm_path, boundary_path = raw_osm_file(reg, osm_file=osm_file)
    boundary = read_boundary(boundary_path)
    crs = regions.metric_crs(boundary.iloc[0])
    clip = boundary.to_crs(crs).buffer(reg.buffer_m).to_crs(4326).iloc[0]

    step(1)
    data = osm.read(osm_path, clip=clip)

    step(2)
    places = classify.places(data.places)
    places = places.loc[places.within(boundary.iloc[0])]
    origins = places.loc[places["level"].isin(list(origin_levels))].copy()
    if origins.empty:
        msg = f"no settlements of levels {list(origin_levels)} inside the boundary of {reg.name!r}"
        raise ValidationError(msg)
    facilities = classify.facilities(data.pois)
    facilities["source"] = "sample" if reg.source.get("kind") == "sample" else "osm"

    step(3)
    net = network.load_or_build(
        data.roads,
        mode=mode,
        crs=crs,
        cache_dir=reg.processed_dir,
        speed_overrides=reg.speed_overrides.get(mode),
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
        "region_label_zh": reg.label_zh,
        "region_label_en": reg.label_en,
        "synthetic": reg.synthetic,
        "mode": mode,
        "crs": crs,
        "osm_file": str(osm_path),
        "osm_fingerprint": data.fingerprint,
        "network": net.meta,
        "origins": len(origins),
        "origins_far": int((o_snap["flag"] == snapping.FLAG_FAR).sum()),
        "facilities": len(facilities),
        "facilities_far": int((f_snap["flag"] == snapping.FLAG_FAR).sum()),
        "max_snap_m": max_snap_m,
    }
    return Study(
        region=reg,
        mode=mode,
        crs=crs,
        boundary=boundary,
        network=net,
        places=places,
        origins=origins,
        facilities=facilities,
        origin_snap=o_snap,
        facility_snap=f_snap,
        router=router,
        meta=meta,
    )
