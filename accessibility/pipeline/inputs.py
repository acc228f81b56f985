"""A region's input data: its raw sources, the OSM data inside an area, its official registries.

In:  a region (or unit) and its source (generated sample, own extract, Overpass), or a
     given extract, and a clip area. Out: the sample files (:func:`generate_samples`),
     the extract to clip (:func:`local_extract`), the OSM data read inside the area
     (:func:`load_osm`) and facilities and origins merged with the registries
     (:func:`apply_registries`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from .. import export, regions
from .._errors import DataSourceError, ValidationError
from ..sources import osm


def _sample_files(region: regions.Region, unit: regions.Unit | None = None) -> tuple[Path, Path]:
    from ..sources import sample

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
    from ..sources import sample

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
    from ..sources import registry

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
        from ..sources import extract

        path = extract.clip_cached(src, clip, clips_dir(region))
    elif kind == "sample":
        path, _ = _sample_files(region, unit)
    elif kind == "overpass":
        from ..sources import overpass

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
        from ..sources import dating

        data.source_date, data.source_date_kind = dating.data_date(dated, scan=False)
        if data.source_date is None:
            data.source_date, data.source_date_kind = dating.data_date(path, cache_dir=kept)
    data.source_name = Path(dated).name
    return data
