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
     buffered boundary → :mod:`accessibility.classify` → :mod:`accessibility.dedup`
     (one place mapped twice counts once) → :mod:`accessibility.network`
     → :mod:`accessibility.snapping` → :class:`accessibility.engine.Router`.
     The Overpass queries of the boundary and the data share one total
     (:func:`accessibility.sources.overpass.region_budget`).
     An osmnx graph (``graph=``) replaces the roads of the OSM data
     (:func:`accessibility.convert.roads_from_osmnx`), cut to the same area; places
     and facilities still come from the region's source.
Units: a unit with a data source of its own reads (or generates) it in
     ``data/raw/<region>/<code>/`` (:func:`generate_samples` makes every generated
     one). A unit of a region split by unit on shared data (:func:`is_split`) gets an
     exact horizon (:func:`exact_horizon_s`): its times up to it equal the unsplit
     analysis, later ones are upper bounds and :meth:`Study.access` marks them; its
     network treats roads leaving the data area as connected (:func:`open_network`).
     See ``docs/architecture.md``, "Splitting a region by unit".
Tests: ``tests/test_pipeline.py`` on the sample county; ``tests/test_split.py`` for a
     region split by unit.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse.csgraph import connected_components

from . import classify, convert, dedup, engine, export, network, regions, snapping
from . import origins as origin_choice
from ._errors import DataSourceError, ValidationError
from ._validate import check_metric_crs
from .settings import inside_root, progress_bar, settings
from .sources import osm

if TYPE_CHECKING:
    import networkx as nx

log = logging.getLogger(__name__)

DEFAULT_ORIGIN_LEVELS = ("admin_village",)

#: Share of ``buffer_m`` not counted on when deriving the exact horizon: it absorbs
#: the UTM scale factor (≤ 0.1 % within a zone) and the polygonal approximation of
#: the buffer's round corners (≤ 0.5 %), so that a straight line of the horizon's
#: length from any point of the boundary surely stays inside the clip area.
EXACT_MARGIN = 0.01

#: Share of mapped settlements with a ``population`` tag from which the tags, not a
#: population raster, give the origins' residents (see :func:`_origin_population`).
TAGS_ENOUGH = 0.5


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
    #: Seconds up to which a time is the same as with unlimited data around the area
    #: (see :func:`exact_horizon_s`); ``inf`` when unknown.
    exact_within_s: float = math.inf
    #: Facilities mapped twice and merged into one (:func:`accessibility.dedup.merge`):
    #: ``kept``, ``dropped``, ``kind``, names, ``distance_m``, ``rule``.
    duplicates: pd.DataFrame = field(default_factory=lambda: dedup.empty_table())
    #: The road data the network was built from (every class and piece, way names
    #: included), for analyses on another mode or class of road (township road links).
    roads: network.RoadData | None = None

    @property
    def split(self) -> bool:
        """Whether this study is one unit of a region analysed unit by unit on shared data.

        Such a unit sees the map data only up to ``buffer_m`` beyond its boundary, so
        its times beyond :attr:`exact_within_s` are upper bounds, and
        :meth:`access` marks them. A unit with a data source of its own is a
        region of its own, not part of a split.
        """
        return is_split(self.region, self.unit)

    @property
    def processed_dir(self) -> Path:
        """Where tables and caches of this study go: ``data/processed/<region>[/<unit>]``."""
        base = self.region.processed_dir
        return inside_root(base / self.unit.code) if self.unit is not None else base

    @property
    def maps_dir(self) -> Path:
        """Where maps of this study go: ``maps/<region>[/<unit>]``."""
        base = self.region.maps_dir
        return inside_root(base / self.unit.code) if self.unit is not None else base

    def label(self, lang: str = "zh") -> str:
        """Display name: the region's, or "region · unit"."""
        if self.unit is None:
            return self.region.label(lang)
        return f"{self.region.label(lang)} · {self.unit.label(lang)}"

    def data_note(self, lang: str = "zh", *, origins: bool = True) -> str:
        """One line for maps: where the data come from, their date, the origins
        (:meth:`origins_note`; ``origins=False`` for maps of residents, not origins) and
        the map's date."""
        from .clock import china_time
        from .labels import label

        if self.region.synthetic:
            source = label("ui.source_synthetic", lang=lang)
        else:
            source = label("ui.source_osm", lang=lang)
            date = self.meta.get("osm_date")
            how = self.meta.get("osm_date_source")
            if date and how:
                date = label(f"ui.date_{how}", lang=lang).format(date=date)
            elif not date:
                date = label("ui.date_unknown", lang=lang)
            details = ", ".join(str(v) for v in (self.meta.get("osm_file_name"), date) if v)
            if details:
                source += f" ({details})"
            if self.meta.get("registries"):
                source += " + " + label("ui.source_registry", lang=lang)
        today = china_time(lang=lang)  # when the map was made, in 北京时间
        return (
            f"{label('ui.data_source', lang=lang)}: {source} · "
            + (f"{Study.origins_note(self, lang)} · " if origins else "")
            + f"{label('ui.map_date', lang=lang)}: {today}"
        )

    def origins_note(self, lang: str = "zh") -> str:
        """Which origins the study uses, and why when it was not the user's choice:
        "起点：人口网格（250 米；数据中村庄不足，改用人口网格）"."""
        from .labels import label

        kind = self.meta.get("origins_kind", "villages")
        text = label(f"origins.{kind}", lang=lang).format(grid_m=float(self.meta.get("grid_m", 0)))
        sep = "；" if lang == "zh" else "; "
        cells = (self.meta.get("origins_found") or {}).get("grid_cells")
        if kind in ("grid", "h3") and cells:
            held = self.meta["origins_found"]["grid_cells_with_residents"]
            text += sep + label("origins.cells_with_residents", lang=lang).format(n=held, total=cells)
        if kind in ("grid", "h3") and str(self.meta.get("origins_reason", "")).startswith("auto"):
            text += sep + label("origins.auto_grid", lang=lang)
        if self.meta.get("origins_population_estimate"):
            why = self.meta["origins_population_estimate"]
            text += sep + label(f"reading_ui.estimate_{why}", lang=lang)
        colon = "：" if lang == "zh" else ": "
        return f"{label('origins.title', lang=lang)}{colon}{text}"

    def access(self, groups: Sequence[str], *, thresholds_min: Sequence[float]) -> gpd.GeoDataFrame:
        """Access results joined to the origins: one row per origin, keyed by its id.

        See :func:`accessibility.engine.access` for the columns; the origins' own
        columns (``name``, ``level``, ``population``, ``leg_m``, ``snap_flag``) and
        geometry (WGS-84) come first.

        For a unit of a split region (:attr:`split`) each group also gets a boolean
        column ``{key}_beyond_buffer``: true where the time exceeds
        :attr:`exact_within_s` (or no facility was reached). Those times are kept
        but are upper bounds: a faster route may leave the unit's buffered area.
        Counts within a threshold above the horizon may miss facilities beyond the
        buffer; a warning says so and what ``buffer_m`` would cover it.
        """
        table = engine.access(self.router, self.facilities, groups, thresholds_min=thresholds_min)
        if self.split:
            horizon_min = self.exact_within_s / 60.0
            largest = max(engine.check_thresholds(thresholds_min))
            if largest > horizon_min:
                v_max = float(self.meta.get("v_max_kmh", math.nan))
                log.warning(
                    "%s: times beyond %.1f min are not exact for this unit (its data end %g m "
                    "beyond its boundary, and %s reaches %.1f km/h); counts within %g min may "
                    "miss facilities outside. Set buffer_m ≥ %.0f m in %s to cover %g min",
                    self.label("en"),
                    horizon_min,
                    self.region.buffer_m,
                    self.mode,
                    v_max,
                    largest,
                    buffer_for(largest * 60.0, v_max_kmh=v_max),
                    self.region.config_path,
                    largest,
                )
            for g in groups:
                key = engine.group_key(g)
                table[f"{key}_beyond_buffer"] = ~(table[f"{key}_time_min"] <= horizon_min)
        return self.origins.join(table)


def is_split(region: regions.Region, unit: regions.Unit | None) -> bool:
    """Whether ``unit`` is one unit of ``region`` analysed apart from the others on
    shared data (a unit with a data source of its own is a region of its own)."""
    return unit is not None and region.per_unit and not unit.source


def max_speed_kmh(mode: str, *, speed_overrides: dict[str, float] | None = None) -> float:
    """The fastest speed anything moves at in a mode's analysis, km/h.

    The largest speed of the mode's table after ``speed_overrides`` (tagged
    ``maxspeed`` only lowers it), or the walking speed of the off-network legs
    (``settings.walk_speed_kmh``) when that is faster.
    """
    speeds = network.mode_rules(mode, overrides=speed_overrides)["speeds_kmh"]
    return max([float(v) for v in speeds.values()] + [float(settings.walk_speed_kmh)])


def exact_horizon_s(buffer_m: float, *, v_max_kmh: float) -> float:
    """Travel time (seconds) up to which results are exact despite data clipped at ``buffer_m``.

    A route of time ``t`` never gets farther than ``v_max · t`` (straight line) from
    its origin, so if the origin lies inside the boundary and
    ``t ≤ buffer_m / v_max``, the route lies within the buffered area and the
    clipped data hold it. ``buffer_m`` is reduced by :data:`EXACT_MARGIN` first.

    Parameters
    ----------
    buffer_m
        Metres of data kept beyond the boundary.
    v_max_kmh
        Fastest speed of the mode, km/h (:func:`max_speed_kmh`).
    """
    return buffer_m * (1.0 - EXACT_MARGIN) / (v_max_kmh / 3.6)


def buffer_for(time_s: float, *, v_max_kmh: float) -> float:
    """The ``buffer_m`` (metres) whose exact horizon is ``time_s`` seconds (inverse of
    :func:`exact_horizon_s`): ``v_max × time``, plus the margin."""
    return time_s * (v_max_kmh / 3.6) / (1.0 - EXACT_MARGIN)


def _sample_files(region: regions.Region, unit: regions.Unit | None = None) -> tuple[Path, Path]:
    from .sources import sample

    source = region.source_of(unit)
    files = sample.ensure(
        region.raw_dir_of(unit), seed=int(source.get("seed", sample.DEFAULT_SEED))
    )
    return files.osm, files.boundary


def _region_osm_file(region: regions.Region, unit: regions.Unit | None = None) -> Path:
    path = Path(region.source_of(unit)["path"])
    path = path if path.is_absolute() else region.raw_dir_of(unit) / path
    if not path.is_file():
        msg = f"region {region.name!r} expects the OSM file {path}; put the extract there or pass --osm-file"
        raise DataSourceError(msg)
    return path


def generate_samples(region: str | regions.Region, *, regenerate: bool = True) -> list[Path]:
    """Generate the synthetic data of a region: its own and that of every generated unit.

    The region's own sample is made when its source is ``sample`` and some part of
    it uses that source (a region boundary, or a unit without a source of its
    own); each unit with a ``sample`` source gets its county in
    ``data/raw/<region>/<code>/``.

    Parameters
    ----------
    region
        Region name or a loaded region.
    regenerate
        Write the files even when up-to-date ones exist (``False``: only missing or
        stale ones, as :func:`prepare` does).

    Returns
    -------
    list of pathlib.Path
        The folders written (or checked), region first, then units in file order.

    Raises
    ------
    ValidationError
        Nothing in the region is generated.
    """
    from .sources import sample

    reg = regions.load(region) if isinstance(region, str) else region
    targets: list[tuple[Path, int]] = []
    shared_used = bool(reg.boundary) or not reg.units or any(not u.source for u in reg.units)
    if reg.source.get("kind") == "sample" and shared_used:
        targets.append((reg.raw_dir, int(reg.source.get("seed", sample.DEFAULT_SEED))))
    for u in reg.units:
        if u.source.get("kind") == "sample":
            targets.append((reg.raw_dir_of(u), int(u.source["seed"])))
    if not targets:
        msg = (
            f"region {reg.name!r} has no generated data (source kind {reg.source.get('kind')!r} "
            f"and no unit with source kind 'sample'); only synthetic regions can be generated"
        )
        raise ValidationError(msg)
    make = sample.generate if regenerate else sample.ensure
    return [make(folder, seed=seed).osm.parent for folder, seed in targets]


def boundary_spec(region: regions.Region, unit: regions.Unit | None) -> dict[str, Any]:
    """The boundary specification of a region or of one of its units.

    A unit without a boundary of its own is looked up as an OSM administrative
    boundary with its name at admin level 6, except a generated (``sample``) unit,
    whose boundary is the ``boundary.geojson`` generated in its raw folder.
    """
    if unit is not None and not unit.boundary and not region.per_unit and region.boundary:
        unit = None  # the only unit of a region is the region itself
    if unit is None:
        if not region.boundary:
            if region.units and all(u.source for u in region.units):
                codes = ", ".join(u.code for u in region.units)
                msg = (
                    f"region {region.name!r} is a group of units with data of their own and has "
                    f"no boundary as a whole; prepare one unit at a time (unit= one of {codes})"
                )
            else:
                msg = f"region {region.name!r} has no boundary; add one to {region.config_path}"
            raise ValidationError(msg)
        return region.boundary
    if not unit.boundary and unit.source.get("kind") == "sample":
        from .sources import sample

        return {"file": sample.BOUNDARY_FILENAME}
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
    downloaded; the result is cached under ``data/processed/<region>/boundaries/``
    (``data/processed/<region>/<code>/boundaries/`` for a unit with its own source).
    Boundary files are read from the raw folder (:meth:`Region.raw_dir_of`).
    ``expand_m`` grows the polygon in the metric CRS of its location.
    """
    spec = boundary_spec(region, unit)
    if region.source_of(unit).get("kind") == "sample":
        _sample_files(region, unit)  # the sample's boundary file is generated with it
    if "file" in spec:
        polygon = read_boundary(region.raw_dir_of(unit) / spec["file"])
    elif "bbox" in spec:
        w, s, e, n = (float(v) for v in spec["bbox"])
        polygon = gpd.GeoSeries([shapely.box(w, s, e, n)], crs=4326)
    elif "circle" in spec:
        c = spec["circle"]
        centre = gpd.GeoSeries([shapely.Point(float(c["lon"]), float(c["lat"]))], crs=4326)
        crs = regions.metric_crs(centre.iloc[0])
        polygon = centre.to_crs(crs).buffer(float(c["radius_m"]), quad_segs=32).to_crs(4326)
    else:
        polygon = _osm_boundary(region, spec["osm"], unit=unit, osm_file=osm_file, offline=offline)
    expand = float(spec.get("expand_m", 0) or 0)
    if expand:
        crs = regions.metric_crs(polygon.iloc[0])
        polygon = polygon.to_crs(crs).buffer(expand).to_crs(4326)
    return gpd.GeoSeries([polygon.iloc[0]], crs=4326)


def clip_area(
    region: regions.Region,
    unit: regions.Unit | None = None,
    *,
    osm_file: Path | str | None = None,
    offline: bool = False,
    crs: str | None = None,
) -> tuple[gpd.GeoSeries, shapely.Geometry, str]:
    """The area whose OSM data a region or unit reads: its boundary plus ``buffer_m``.

    :func:`prepare` reads :func:`load_osm` inside this polygon, and a batch clips it
    ahead of the kernels (:mod:`accessibility.batch`), so both must compute it here.

    Parameters
    ----------
    region, unit
        As in :func:`study_area` (``osm_file`` is where OSM boundaries are looked up;
        :func:`prepare` passes the region's own extract when its source is one).
    crs
        Metric CRS (metres) the buffer is drawn in; default the UTM zone of the
        boundary's centroid (:func:`accessibility.regions.metric_crs`).

    Returns
    -------
    tuple
        The boundary (WGS-84 GeoSeries, one row), the clip polygon (WGS-84 degrees:
        the boundary buffered by the region's ``buffer_m`` metres in ``crs``) and the
        CRS used.
    """
    boundary = study_area(region, unit, osm_file=osm_file, offline=offline)
    if crs is None:
        crs = regions.metric_crs(boundary.iloc[0])
    clip = boundary.to_crs(crs).buffer(region.buffer_m).to_crs(4326).iloc[0]
    return boundary, clip, crs


def _boundary_cache(
    region: regions.Region,
    query: dict[str, Any],
    *,
    unit: regions.Unit | None,
    osm_file: Path | str | None,
) -> Path:
    """Where the boundary an ``osm`` query finds is cached: it depends on the query
    and on where it is looked up (the extract's identity, or Overpass)."""
    names = [str(n) for n in ([query["name"]] if "name" in query else query.get("names", []))]
    levels = [str(query["admin_level"])] if "admin_level" in query else []
    refs = [str(query["ref"])] if "ref" in query else []
    relations = [int(query["relation"])] if "relation" in query else []
    if osm_file is not None:
        from .sources import extract

        where_key = extract.source_identity(osm_file)
    else:
        where_key = "overpass"
    criteria = [names, levels, refs, where_key] + ([relations] if relations else [])
    key = hashlib.sha256(json.dumps(criteria, ensure_ascii=False).encode()).hexdigest()[:12]
    own = unit is not None and bool(unit.source)
    base = region.processed_dir / unit.code if own else region.processed_dir
    return base / "boundaries" / f"boundary_{key}.geojson"


def prefetch_boundaries(
    region: regions.Region, units: Sequence[regions.Unit], osm_file: Path | str
) -> int:
    """Look up the OSM boundaries of many units in one read of ``osm_file``, and cache
    each where :func:`study_area` finds it.

    For a province of ~160 units, one :func:`~accessibility.sources.extract.find_boundaries`
    per unit would read the extract three times per unit; this reads it three times in
    all. Only units whose boundary is ``{osm: {..., relation: id}}`` (as ``regions
    from-extract`` writes) and not cached yet are looked up; a unit whose relation is
    not found, or does not match its ``name`` / ``admin_level``, is left to
    :func:`study_area`, which says why.

    Returns
    -------
    int
        How many boundaries were cached now.
    """
    from .sources import extract

    wanted: dict[int, tuple[regions.Unit, dict[str, Any], Path]] = {}
    for unit in units:
        query = boundary_spec(region, unit).get("osm")
        if not isinstance(query, dict) or "relation" not in query or "names" in query:
            continue
        cache = _boundary_cache(region, query, unit=unit, osm_file=osm_file)
        if not cache.is_file():
            wanted[int(query["relation"])] = (unit, query, cache)
    if not wanted:
        return 0
    found = extract.find_boundaries(Path(osm_file), relations=sorted(wanted))
    done = 0
    for row in found.itertuples():
        unit, query, cache = wanted[int(row.osm_id)]
        tags = {k: str(v).strip() for k, v in row.tags.items()}
        name = str(query.get("name", "")).strip()
        if name and name not in (tags.get("name"), tags.get("name:zh")) and (
            name.casefold() != tags.get("name:en", "").casefold()
        ):
            continue
        if "admin_level" in query and str(query["admin_level"]).strip() != tags.get("admin_level"):
            continue
        if "ref" in query:  # a code criterion: left to the lookup of its own
            continue
        cache.parent.mkdir(parents=True, exist_ok=True)
        export.write_geojson(cache, gpd.GeoSeries([row.geometry], crs=4326))
        done += 1
    return done


def _osm_boundary(
    region: regions.Region,
    query: dict[str, Any],
    *,
    unit: regions.Unit | None = None,
    osm_file: Path | str | None,
    offline: bool,
) -> gpd.GeoSeries:
    names = [str(n) for n in ([query["name"]] if "name" in query else query.get("names", []))]
    levels = [str(query["admin_level"])] if "admin_level" in query else []
    refs = [str(query["ref"])] if "ref" in query else []
    relations = [int(query["relation"])] if "relation" in query else []
    cache = _boundary_cache(region, query, unit=unit, osm_file=osm_file)
    if cache.is_file():
        return read_boundary(cache)
    if osm_file is not None:
        from .sources import extract

        found = extract.find_boundaries(
            Path(osm_file), names=names, admin_levels=levels, refs=refs, relations=relations
        )
        where = f"the extract {osm_file}"
    else:
        from .sources import overpass

        found = overpass.find_boundaries(
            names=names,
            admin_levels=levels,
            refs=refs,
            cache_dir=region.raw_dir_of(unit) / "overpass",
            offline=offline,
        )
        where = "OpenStreetMap (Overpass)"
        if relations:  # Overpass is asked by name; the relation id picks among namesakes
            incomplete = found.attrs.get("incomplete", [])
            found = found[found["osm_id"].isin(relations)]
            found.attrs["incomplete"] = [r for r in incomplete if r["osm_id"] in relations]
    if found.empty and found.attrs.get("incomplete"):
        from .sources import extract

        msg = extract.incomplete_message(
            found.attrs["incomplete"], where=where, config=region.config_path
        )
        raise DataSourceError(msg)
    if found.empty:
        which = f"{names or refs}" + (f" with relation id {relations[0]}" if relations else "")
        msg = (
            f"no administrative boundary named {which} (admin_level {levels or 'any'}) in {where}; "
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
    from .sources import overpass

    name = f"region {region.name}" + (f" unit {unit.code} ({unit.name})" if unit else "")
    return overpass.region_budget(name=name)


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
    unit: regions.Unit | None = None,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Merge the region's official lists into the facilities and origins.

    Facility registries are read (rows outside ``clip`` reported and dropped) and
    matched with the OSM facilities (:func:`accessibility.sources.registry.merge`); the
    match report goes to ``out_dir/registry_matches_<file>.csv`` and each file's row
    report to ``out_dir/<file>_report.csv``. A village registry, when given, *replaces*
    the mapped villages as origins (official lists are more complete than rural OSM),
    keeping those inside ``boundary`` of the chosen levels. Files are relative to the
    raw folder of ``unit`` (:meth:`Region.raw_dir_of`).
    """
    entries = region.registries
    if not entries:
        return facilities, origins
    from .sources import registry

    def path_of(entry: dict[str, Any]) -> Path:
        p = Path(entry["file"])
        return p if p.is_absolute() else region.raw_dir_of(unit) / p

    options = registry.READ_OPTIONS
    read_from: dict[Any, Path] = {}  # facility id → the registry file it came from
    for entry in entries.get("facilities", ()):
        res = registry.read_facilities(
            path_of(entry),
            boundary=clip,
            report_dir=out_dir,
            **{k: entry[k] for k in options if k in entry},
        )
        _check_registry_ids(res.table.index, path_of(entry), read_from)
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


def _check_registry_ids(ids: pd.Index, path: Path, read_from: dict[Any, Path]) -> None:
    """Refuse facility ids an earlier registry file of the region already used, naming
    both files; remember this file's ids in ``read_from``."""
    clash = [i for i in ids if i in read_from]
    if clash:
        first = read_from[clash[0]]
        both = [i for i in clash if read_from[i] == first]
        msg = (
            f"facility ids {both[:5]} are used in two registry files, {first} and {path}; "
            "give each file ids of its own (or leave a file's id column empty: its rows "
            "then get ids of the form reg:<file name>:<row>)"
        )
        raise ValidationError(msg)
    read_from.update(dict.fromkeys(ids, path))


def local_extract(
    region: regions.Region, unit: regions.Unit | None = None, *, osm_file: Path | str | None = None
) -> Path | None:
    """The local extract :func:`load_osm` clips for a region or unit, or ``None``.

    ``osm_file`` when given, else the region's (or the unit's) own ``osm_file``
    source; ``None`` for a generated or downloaded source.

    Raises
    ------
    DataSourceError
        If the extract does not exist (the message says where to put it).
    """
    if osm_file is None and region.source_of(unit).get("kind") != "osm_file":
        return None
    src = Path(osm_file) if osm_file is not None else _region_osm_file(region, unit)
    if not src.is_file():
        msg = f"--osm-file {src} does not exist"
        raise DataSourceError(msg)
    return src


def clips_dir(region: regions.Region) -> Path:
    """Folder of a region's clips of its extract (:func:`accessibility.sources.extract.clip_cached`)."""
    return region.processed_dir / "extracts"


def load_osm(
    region: regions.Region,
    clip: shapely.Geometry,
    *,
    unit: regions.Unit | None = None,
    osm_file: Path | str | None = None,
    offline: bool = False,
) -> osm.OsmData:
    """Read the region's OSM data inside ``clip`` (WGS-84), whatever its source.

    ``osm_file`` (a local extract, e.g. a province) is cut to ``clip`` with a
    streaming reader first (cached under ``data/processed/<region>/extracts/``); a
    region of source ``overpass`` downloads ``clip`` (cached under
    ``data/raw/<region>/overpass/``); the sample region is generated. A ``unit`` with a
    source of its own reads that source, in its own raw folder. What was read is kept
    under ``data/processed/<region>/osm/`` (:func:`accessibility.sources.osm.read`), so
    a rerun on the same file and area does not parse it again.

    The result's ``source_date`` is the data's own date and ``source_date_kind`` what
    it is (:func:`accessibility.sources.dating.data_date`): the extract's header (the
    large file is not scanned), an Overpass answer's ``osm_base``, else the newest
    object of what was read (a lower bound); the generated sample has none.
    """
    kind = region.source_of(unit).get("kind")
    src = local_extract(region, unit, osm_file=osm_file)
    if src is not None:
        from .sources import extract

        path = extract.clip_cached(src, clip, clips_dir(region))
    elif kind == "sample":
        path, _ = _sample_files(region, unit)
    elif kind == "overpass":
        from .sources import overpass

        path = overpass.download(
            clip, cache_dir=region.raw_dir_of(unit) / "overpass", offline=offline
        )
    else:
        msg = f"region {region.name!r} has source kind {kind!r}; use sample, osm_file or overpass"
        raise ValidationError(msg)
    kept = region.processed_dir / "osm"
    data = osm.read(path, clip=clip, cache_dir=kept)
    dated = src if src is not None else path
    if kind == "sample" and osm_file is None:
        data.source_date, data.source_date_kind = None, ""
    else:
        # the extract's own date: its header (a province is not scanned), else the
        # newest object of what was read (a lower bound); never the copy's mtime
        from .sources import dating

        data.source_date, data.source_date_kind = dating.data_date(dated, scan=False)
        if data.source_date is None:
            data.source_date, data.source_date_kind = dating.data_date(path, cache_dir=kept)
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


def open_network(
    roads: network.RoadData,
    clip: shapely.Geometry,
    *,
    mode: str,
    crs: str,
    cache_dir: Path,
    speed_overrides: dict[str, float] | None = None,
) -> network.Network:
    """The network of a unit of a split region: roads leaving the data area count as connected.

    :func:`accessibility.network.build` keeps the largest strongly connected component.
    On data clipped to a unit's buffered boundary that would drop roads whose way
    back to the rest of the network runs outside the clip (a one-way loop, a lane
    reaching the main roads only in the next county), although the whole region's
    network keeps them; points would then snap elsewhere and results near the
    unit's border would differ from the unsplit analysis. Here every road node
    outside ``clip`` (the far end of a road crossing its edge) is joined both ways
    to one virtual node standing for the world beyond before the largest strongly
    connected component is taken; the virtual node is not part of the result.
    Routing is unchanged: a road reaching the rest only beyond the clip stays
    unreachable from it inside the unit (its times are marked beyond the buffer).

    Parameters
    ----------
    roads
        Road data read inside ``clip``.
    clip
        The clip area (WGS-84), the unit's boundary buffered by ``buffer_m``.
    mode, crs, speed_overrides
        As for :func:`accessibility.network.build`.
    cache_dir
        Folder of the cached network, ``network_<mode>_<key>_open.npz``.
    """
    key = network.cache_key(roads, mode=mode, crs=crs, speed_overrides=speed_overrides)
    path = Path(cache_dir) / f"network_{mode}_{key}_open.npz"
    if path.is_file():
        log.info("loading cached %s network from %s", mode, path)
        return network.Network.load(path)
    every = network.build(
        roads, mode=mode, crs=crs, speed_overrides=speed_overrides, largest_component=False
    )
    n = every.n_nodes
    outside = np.flatnonzero(~shapely.contains_xy(clip, every.lon, every.lat))
    world = np.full(outside.size, n)
    u = np.concatenate([every.u, outside, world])
    v = np.concatenate([every.v, world, outside])
    graph = network.csr_from_edges(u, v, np.ones(u.size), n + 1)
    n_comp, labels = connected_components(graph, directed=True, connection="strong")
    sizes = np.bincount(labels[:n], minlength=n_comp)
    keep = labels[:n] == int(np.argmax(sizes))
    net = _keep_nodes(every, keep)
    net.meta["open_boundary_nodes"] = int(outside.size)
    net.save(path)
    log.info(
        "%s network of a split unit: %d nodes kept, %d dropped (roads leaving the clip count as connected)",
        mode,
        net.n_nodes,
        n - net.n_nodes,
    )
    return net


def _choose_origins(
    spec: Any,
    reg: regions.Region,
    unit: regions.Unit | None,
    data: osm.OsmData,
    places: gpd.GeoDataFrame,
    boundary: gpd.GeoSeries,
    crs: str,
    levels: Sequence[str],
    cell_m: float,
    name: str,
) -> origin_choice.Origins:
    """The origins of an area (:func:`accessibility.origins.choose`), with population
    points for grids from the best areal source (raster, footprints, land use): a
    settlement's population tag says nothing about the cells around it."""
    kind = origin_choice.check_spec(spec)
    area = boundary.iloc[0]
    buildings = data.buildings.loc[data.buildings.intersects(area)]
    pop = None
    n_villages = int(places["level"].isin(list(levels)).sum())
    registry = bool(reg.registries.get("villages"))
    if kind in ("grid", "h3") or (
        kind == "auto" and n_villages < origin_choice.AUTO_MIN_VILLAGES and not registry
    ):
        pop = _areal_population(reg, unit, buildings, data.landuse.loc[data.landuse.intersects(area)], places, boundary, crs, name)
    try:
        return origin_choice.choose(
            spec, places=places, buildings=buildings, boundary=boundary, crs=crs,
            levels=levels, population=pop, grid_m=cell_m, village_registry=registry,
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
    from . import population

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
) -> gpd.GeoDataFrame | None:
    """Population points from an areal source, or None when the area has none."""
    from types import SimpleNamespace

    from . import population

    view = SimpleNamespace(
        region=reg, unit=unit, buildings=buildings, landuse=landuse, places=places,
        boundary=boundary, crs=crs, label=lambda lang="zh": name,
    )
    try:
        pop = population.estimate(view, method="auto")
    except ValidationError as exc:
        log.info("%s: no population data for grid origins (%s)", name, exc)
        return None
    if pop.attrs.get("population_source") == "places":
        return None
    return pop


def _keep_nodes(net: network.Network, keep: np.ndarray) -> network.Network:
    """The part of a network on the nodes where ``keep`` is true, with counts of what was dropped."""
    part = network.select_nodes(net, np.flatnonzero(keep))
    seg_length = np.zeros(net.n_segments)
    seg_length[net.segment] = net.length_m
    kept_seg = np.zeros(net.n_segments, dtype=bool)
    kept_seg[net.segment[keep[net.u] & keep[net.v]]] = True
    part.meta.update(
        nodes_kept=part.n_nodes,
        nodes_dropped=int(net.n_nodes - part.n_nodes),
        edges_dropped=int(part.meta.get("edges_input", net.n_edges) - part.n_edges),
        length_dropped_km=round(float(seg_length[~kept_seg].sum()) / 1000.0, 3),
    )
    return part


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
    cell_m = float(reg.origins.get("grid_m", origin_choice.DEFAULT_GRID_M) if grid_m is None else grid_m)
    chosen = _choose_origins(
        spec, reg, the_unit, data, places, boundary, crs, origin_levels, cell_m, name
    )
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
        buildings=data.buildings.loc[data.buildings.intersects(boundary.iloc[0])],
        landuse=data.landuse.loc[data.landuse.intersects(boundary.iloc[0])],
        origins=origins,
        facilities=facilities,
        origin_snap=o_snap,
        facility_snap=f_snap,
        router=router,
        meta=meta,
        exact_within_s=exact_s,
        duplicates=duplicates,
        roads=roads,
    )
