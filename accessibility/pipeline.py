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

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from tqdm.auto import tqdm

from . import classify, engine, export, network, regions, snapping
from ._errors import DataSourceError, ValidationError
from .settings import settings
from .sources import osm

log = logging.getLogger(__name__)

DEFAULT_ORIGIN_LEVELS = ("admin_village",)


@dataclass
class Study:
    """Everything prepared for one region and travel mode (see the module docstring)."""

    region: regions.Region
    unit: regions.Unit | None
    mode: str
    crs: str
    boundary: gpd.GeoSeries
    network: network.Network
    places: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    origins: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    origin_snap: pd.DataFrame
    facility_snap: pd.DataFrame
    router: engine.Router
    meta: dict[str, Any] = field(default_factory=dict)
    #: ``landuse=residential`` areas inside the area (population where footprints are missing)
    landuse: gpd.GeoDataFrame = field(
        default_factory=lambda: gpd.GeoDataFrame(geometry=[], crs=4326)
    )

    @property
    def processed_dir(self) -> Path:
        """Where tables and caches of this study go: ``data/processed/<region>[/<unit>]``."""
        base = self.region.processed_dir
        return base / self.unit.code if self.unit is not None else base

    @property
    def maps_dir(self) -> Path:
        """Where maps of this study go: ``maps/<region>[/<unit>]``."""
        base = self.region.maps_dir
        return base / self.unit.code if self.unit is not None else base

    def label(self, lang: str = "zh") -> str:
        """Display name: the region's, or "region · unit"."""
        if self.unit is None:
            return self.region.label(lang)
        return f"{self.region.label(lang)} · {self.unit.label(lang)}"

    def data_note(self, lang: str = "zh") -> str:
        """One line for maps: where the data come from, their date, and the map's date."""
        from .labels import label

        if self.region.synthetic:
            source = label("ui.source_synthetic", lang=lang)
        else:
            source = label("ui.source_osm", lang=lang)
            details = ", ".join(
                str(v) for v in (self.meta.get("osm_file_name"), self.meta.get("osm_date")) if v
            )
            if details:
                source += f" ({details})"
            if self.meta.get("registries"):
                source += " + " + label("ui.source_registry", lang=lang)
        today = dt.date.today().isoformat()
        return (
            f"{label('ui.data_source', lang=lang)}: {source} · "
            f"{label('ui.map_date', lang=lang)}: {today}"
        )

    def access(self, groups: Sequence[str], *, thresholds_min: Sequence[float]) -> gpd.GeoDataFrame:
        """Access results joined to the origins: one row per origin, keyed by its id.

        See :func:`accessibility.engine.access` for the columns; the origins' own
        columns (``name``, ``level``, ``population``, ``leg_m``, ``snap_flag``) and
        geometry (WGS-84) come first.
        """
        table = engine.access(self.router, self.facilities, groups, thresholds_min=thresholds_min)
        return self.origins.join(table)


def _sample_files(region: regions.Region) -> tuple[Path, Path]:
    from .sources import sample

    files = sample.ensure(region.raw_dir, seed=int(region.source.get("seed", 2023)))
    return files.osm, files.boundary


def _region_osm_file(region: regions.Region) -> Path:
    path = Path(region.source["path"])
    path = path if path.is_absolute() else region.raw_dir / path
    if not path.is_file():
        msg = f"region {region.name!r} expects the OSM file {path}; put the extract there or pass --osm-file"
        raise DataSourceError(msg)
    return path


def boundary_spec(region: regions.Region, unit: regions.Unit | None) -> dict[str, Any]:
    """The boundary specification of a region or of one of its units.

    A unit without a boundary of its own is looked up as an OSM administrative
    boundary with its name at admin level 6.
    """
    if unit is not None and not unit.boundary and not region.per_unit and region.boundary:
        unit = None  # the only unit of a region is the region itself
    if unit is None:
        if not region.boundary:
            msg = f"region {region.name!r} has no boundary; add one to {region.config_path}"
            raise ValidationError(msg)
        return region.boundary
    return unit.boundary or {"osm": {"name": unit.name, "admin_level": "6"}}


def study_area(
    region: regions.Region,
    unit: regions.Unit | None = None,
    *,
    osm_file: Path | str | None = None,
    offline: bool = False,
) -> gpd.GeoSeries:
    """The polygon (WGS-84, one row) a region or unit covers, from its boundary specification.

    OSM administrative boundaries are looked up in ``osm_file`` when given, else
    downloaded; the result is cached under ``data/processed/<region>/boundaries/``.
    ``expand_m`` grows the polygon in the metric CRS of its location.
    """
    spec = boundary_spec(region, unit)
    if region.source.get("kind") == "sample":
        _sample_files(region)  # the sample's boundary file is generated with it
    if "file" in spec:
        polygon = read_boundary(region.raw_dir / spec["file"])
    elif "bbox" in spec:
        w, s, e, n = (float(v) for v in spec["bbox"])
        polygon = gpd.GeoSeries([shapely.box(w, s, e, n)], crs=4326)
    elif "circle" in spec:
        c = spec["circle"]
        centre = gpd.GeoSeries([shapely.Point(float(c["lon"]), float(c["lat"]))], crs=4326)
        crs = regions.metric_crs(centre.iloc[0])
        polygon = centre.to_crs(crs).buffer(float(c["radius_m"]), quad_segs=32).to_crs(4326)
    else:
        polygon = _osm_boundary(region, spec["osm"], osm_file=osm_file, offline=offline)
    expand = float(spec.get("expand_m", 0) or 0)
    if expand:
        crs = regions.metric_crs(polygon.iloc[0])
        polygon = polygon.to_crs(crs).buffer(expand).to_crs(4326)
    return gpd.GeoSeries([polygon.iloc[0]], crs=4326)


def _osm_boundary(
    region: regions.Region,
    query: dict[str, Any],
    *,
    osm_file: Path | str | None,
    offline: bool,
) -> gpd.GeoSeries:
    names = [str(n) for n in ([query["name"]] if "name" in query else query.get("names", []))]
    levels = [str(query["admin_level"])] if "admin_level" in query else []
    refs = [str(query["ref"])] if "ref" in query else []
    # the boundary depends on where it is looked up: the extract (its identity) or Overpass
    if osm_file is not None:
        from .sources import extract

        where_key = extract.source_identity(osm_file)
    else:
        where_key = "overpass"
    key = hashlib.sha256(
        json.dumps([names, levels, refs, where_key], ensure_ascii=False).encode()
    ).hexdigest()[:12]
    cache = region.processed_dir / "boundaries" / f"boundary_{key}.geojson"
    if cache.is_file():
        return read_boundary(cache)
    if osm_file is not None:
        from .sources import extract

        found = extract.find_boundaries(Path(osm_file), names=names, admin_levels=levels, refs=refs)
        where = f"the extract {osm_file}"
    else:
        from .sources import overpass

        found = overpass.find_boundaries(
            names=names,
            admin_levels=levels,
            refs=refs,
            cache_dir=region.raw_dir / "overpass",
            offline=offline,
        )
        where = "OpenStreetMap (Overpass)"
    if found.empty:
        msg = (
            f"no administrative boundary named {names or refs} (admin_level {levels or 'any'}) in {where}; "
            f"check the name in {region.config_path}, or give the boundary as a file: boundary: {{file: x.geojson}}"
        )
        raise DataSourceError(msg)
    if len(found) > 1:
        listed = "; ".join(
            f"relation {r.osm_id} {r.name} (admin_level {r.admin_level})"
            for r in found.itertuples()
        )
        msg = f"several boundaries match {names or refs} in {where}: {listed}; add admin_level or ref to the region file"
        raise DataSourceError(msg)
    polygon = gpd.GeoSeries([found.geometry.iloc[0]], crs=4326)
    cache.parent.mkdir(parents=True, exist_ok=True)
    export.write_geojson(cache, polygon)
    return polygon


def apply_registries(
    region: regions.Region,
    facilities: gpd.GeoDataFrame,
    origins: gpd.GeoDataFrame,
    *,
    clip: shapely.Geometry,
    boundary: shapely.Geometry,
    crs: str,
    origin_levels: Sequence[str],
    out_dir: Path,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Merge the region's official lists into the facilities and origins.

    Facility registries are read (rows outside ``clip`` reported and dropped) and
    matched with the OSM facilities (:func:`accessibility.sources.registry.merge`); the
    match report goes to ``out_dir/registry_matches_<file>.csv`` and each file's row
    report to ``out_dir/<file>_report.csv``. A village registry, when given, *replaces*
    the mapped villages as origins (official lists are more complete than rural OSM),
    keeping those inside ``boundary`` of the chosen levels.
    """
    entries = region.registries
    if not entries:
        return facilities, origins
    from .sources import registry

    def path_of(entry: dict[str, Any]) -> Path:
        p = Path(entry["file"])
        return p if p.is_absolute() else region.raw_dir / p

    options = ("datum", "kind", "columns", "encoding", "sheet")
    for entry in entries.get("facilities", ()):
        res = registry.read_facilities(
            path_of(entry),
            boundary=clip,
            report_dir=out_dir,
            **{k: entry[k] for k in options if k in entry},
        )
        facilities, matches = registry.merge(
            facilities,
            res.table,
            crs=crs,
            max_distance_m=float(entry.get("max_distance_m", 300)),
            min_similarity=float(entry.get("min_similarity", 0.5)),
        )
        export.write_csv(out_dir / f"registry_matches_{path_of(entry).stem}.csv", matches)
    villages = [
        registry.read_villages(
            path_of(e),
            boundary=boundary,
            report_dir=out_dir,
            **{k: e[k] for k in options if k in e and k != "kind"},
        ).table
        for e in entries.get("villages", ())
    ]
    if villages:
        table = pd.concat(villages)
        if not table.index.is_unique:
            dup = table.index[table.index.duplicated()].unique()[:5].tolist()
            files = ", ".join(str(e["file"]) for e in entries.get("villages", ()))
            msg = f"village ids repeat across the village registries ({files}): {dup}; make the id columns unique"
            raise ValidationError(msg)
        origins = table.loc[table["level"].isin(list(origin_levels))].copy()
    return facilities, origins


def load_osm(
    region: regions.Region,
    clip: shapely.Geometry,
    *,
    osm_file: Path | str | None = None,
    offline: bool = False,
) -> osm.OsmData:
    """Read the region's OSM data inside ``clip`` (WGS-84), whatever its source.

    ``osm_file`` (a local extract, e.g. a province) is cut to ``clip`` with a
    streaming reader first (cached under ``data/processed/<region>/extracts/``); a
    region of source ``overpass`` downloads ``clip`` (cached under
    ``data/raw/<region>/overpass/``); the sample region is generated.
    """
    kind = region.source.get("kind")
    if osm_file is not None or kind == "osm_file":
        from .sources import extract

        src = Path(osm_file) if osm_file is not None else _region_osm_file(region)
        if not src.is_file():
            msg = f"--osm-file {src} does not exist"
            raise DataSourceError(msg)
        path = extract.clip_cached(src, clip, region.processed_dir / "extracts")
    elif kind == "sample":
        path, _ = _sample_files(region)
    elif kind == "overpass":
        from .sources import overpass

        path = overpass.download(clip, cache_dir=region.raw_dir / "overpass", offline=offline)
    else:
        msg = f"region {region.name!r} has source kind {kind!r}; use sample, osm_file or overpass"
        raise ValidationError(msg)
    data = osm.read(path, clip=clip)
    dated = src if osm_file is not None or kind == "osm_file" else path
    data.source_date = (
        None
        if kind == "sample" and osm_file is None
        else dt.date.fromtimestamp(Path(dated).stat().st_mtime).isoformat()
    )
    data.source_name = Path(dated).name
    return data


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
    unit: str | None = None,
    mode: str = "walk",
    osm_file: Path | str | None = None,
    offline: bool = False,
    origin_levels: Sequence[str] = DEFAULT_ORIGIN_LEVELS,
    max_snap_m: float | None = None,
    speed_overrides: dict[str, float] | None = None,
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
        Settlement levels used as origins (``admin_village``, ``natural_village``,
        ``township_seat``, ``county_seat``, ``residential``).
    max_snap_m
        Snap distance in metres above which points are flagged; default: the
        region's value.
    speed_overrides
        km/h per highway class for this mode, on top of the region's overrides
        (e.g. a slower walking speed for children: ``{"residential": 3.6, ...}``).
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
    max_snap_m = reg.max_snap_m if max_snap_m is None else float(max_snap_m)
    show = settings.progress if progress is None else progress
    out_dir = reg.processed_dir / the_unit.code if the_unit is not None else reg.processed_dir

    steps = ["boundary", "OSM data", "classify", f"{mode} network", "snap", "router"]
    name = f"{reg.name}/{the_unit.code}" if the_unit is not None else reg.name
    bar = tqdm(total=len(steps), desc=name, disable=not show, unit="step")

    def step(i: int) -> None:
        bar.set_postfix_str(steps[i])
        if i:
            bar.update(1)

    if osm_file is None and reg.source.get("kind") == "osm_file":
        osm_file = _region_osm_file(reg)  # the region's own extract, for boundaries and data

    step(0)
    boundary = study_area(reg, the_unit, osm_file=osm_file, offline=offline)
    crs = regions.metric_crs(boundary.iloc[0])
    clip = boundary.to_crs(crs).buffer(reg.buffer_m).to_crs(4326).iloc[0]

    step(1)
    data = load_osm(reg, clip, osm_file=osm_file, offline=offline)

    step(2)
    places = classify.places(data.places, county_seat=the_unit.seat if the_unit is not None else "")
    places = places.loc[places.within(boundary.iloc[0])]
    origins = places.loc[places["level"].isin(list(origin_levels))].copy()
    facilities = classify.facilities(data.pois)
    facilities["source"] = "sample" if reg.source.get("kind") == "sample" else "osm"
    facilities, origins = apply_registries(
        reg,
        facilities,
        origins,
        clip=clip,
        boundary=boundary.iloc[0],
        crs=crs,
        origin_levels=origin_levels,
        out_dir=out_dir,
    )
    if origins.empty:
        msg = f"no settlements of levels {list(origin_levels)} inside the boundary of {name!r}"
        raise ValidationError(msg)

    step(3)
    net = network.load_or_build(
        data.roads,
        mode=mode,
        crs=crs,
        cache_dir=out_dir,
        speed_overrides={**reg.speed_overrides.get(mode, {}), **(speed_overrides or {})} or None,
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
        "osm_source": str(osm_file) if osm_file is not None else reg.source.get("kind"),
        "osm_fingerprint": data.fingerprint,
        "osm_file_name": getattr(data, "source_name", ""),
        "osm_date": getattr(data, "source_date", None),
        "registries": bool(reg.registries),
        "network": net.meta,
        "origins": len(origins),
        "origins_far": int((o_snap["flag"] == snapping.FLAG_FAR).sum()),
        "facilities": len(facilities),
        "facilities_far": int((f_snap["flag"] == snapping.FLAG_FAR).sum()),
        "max_snap_m": max_snap_m,
    }
    return Study(
        region=reg,
        unit=the_unit,
        mode=mode,
        crs=crs,
        boundary=boundary,
        network=net,
        places=places,
        buildings=data.buildings.loc[data.buildings.intersects(boundary.iloc[0])],
        landuse=data.landuse.loc[data.landuse.intersects(boundary.iloc[0])],
        origins=origins,
        facilities=facilities,
        origin_snap=o_snap,
        facility_snap=f_snap,
        router=router,
        meta=meta,
    )
