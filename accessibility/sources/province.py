"""The administrative units of one level inside a parent boundary, found in an OSM extract.

Design
------
In:  a local OSM extract (a province, or a whole country), the parent's name (or
     relation id) and admin level (``4``: a province), and the level of the units
     wanted (``6``: county-level units).
Out: a :class:`ProvinceUnits`: the parent, the units inside it (name, English name,
     relation id, administrative code when OSM holds one, polygon, and the
     prefecture they lie in), and the units left out with the reason (boundary
     incomplete in the extract, no name).
     :func:`accessibility.regions.from_extract` writes them as a region file.

How: one :func:`accessibility.sources.extract.find_boundaries` over both levels
(relations read once, areas assembled by libosmium, memory bounded by the
boundaries). A unit is *inside* when its representative point (a point always on
its surface) lies in the parent's polygon: borders shared with the parent, drawn
with the same or slightly different ways, do not matter, while a neighbour
across the border has its point outside. A unit whose relation cannot be
assembled has no polygon; it is placed by the member nodes the file does hold
(three more reads, C++ filters, only for those relations): it belongs to the
parent when more of those nodes lie inside the parent than outside it (nodes on
the parent's border do not count), and is then reported as incomplete. Such a
unit with no node in the file, or only border nodes, cannot be placed and is
logged, not reported.

The *prefecture* of a unit is the boundary of the level between the parent's and
the units' (admin_level 5, 地级市, for county-level units in a province) that covers
the unit's representative point; it is read in the same pass as the others. A unit
no such boundary covers (a county administered by the province directly, such as
济源市 in 河南省, or a prefecture whose relation is incomplete in the extract, which
is logged) has none. When the parent lies right above the units there is no level
between and no unit has a prefecture.

The code is the first six-digit value (GB/T 2260) among the code-like tags that
``find_boundaries`` reads (``ref``, ``gb:code``, ``ref:gb``, ``admin_code``, keys
starting ``ref:`` or ending ``:code``/``_code`` such as ``china_admin_code``); a
twelve-digit statistical code ending in ``000000`` gives its first six digits;
else the first code-like value that can be a folder name; else none.

Tests: ``tests/test_province_regions.py``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import osmium
import shapely

from .._errors import DataSourceError, ValidationError
from . import extract

log = logging.getLogger(__name__)

#: Distance (degrees, about 0.1 m) within which a node counts as on the parent's border.
BORDER_TOLERANCE_DEG = 1e-6
#: Share of a unit's area inside the parent below which a unit placed inside is logged.
WARN_SHARE = 0.99

_GB_CODE = re.compile(r"\d{6}")
_STATS_CODE = re.compile(r"(\d{6})0{6}")
_PATH_PART = re.compile(r"[A-Za-z0-9_-]+")


@dataclass
class ProvinceUnits:
    """What :func:`find_units` found.

    Attributes
    ----------
    parent
        The parent boundary: ``osm_id``, ``name``, ``name_en``, ``admin_level``,
        ``geometry`` (MultiPolygon, WGS-84 degrees).
    units
        One row per unit inside the parent, sorted by code (units without one last),
        then name: ``osm_id``, ``name``, ``name_en``, ``admin_level``, ``code``
        (``""`` when OSM holds none), ``code_tag`` (the tag it came from),
        ``share_inside`` (share of the unit's area inside the parent, 0–1),
        ``prefecture``, ``prefecture_en`` and ``prefecture_id`` (the name, English
        name and relation id of the boundary of the level between that holds the
        unit; ``""``, ``""`` and 0 when none does), ``geometry`` (WGS-84 degrees).
    left_out
        Units inside the parent that could not be listed, in relation-id order:
        ``osm_id``, ``name``, ``reason``.
    outside
        How many units of the level lie outside the parent.
    src
        The extract.
    level
        The units' admin level.
    prefecture_level
        The level between the parent's and the units' whose boundaries give the
        units' ``prefecture`` (``""`` when there is none).
    """

    parent: dict[str, object]
    units: gpd.GeoDataFrame
    left_out: list[dict[str, object]] = field(default_factory=list)
    outside: int = 0
    src: Path = Path()
    level: str = ""
    prefecture_level: str = ""


def find_units(
    src: Path | str,
    *,
    parent: str,
    parent_level: str = "4",
    level: str = "6",
) -> ProvinceUnits:
    """Find every administrative unit of ``level`` inside the ``parent`` boundary.

    Parameters
    ----------
    src
        OSM extract (``.osm.pbf``, ``.osm``), sorted by type then id, holding the
        parent's boundary and its units' (e.g. a province or the whole country).
    parent
        The parent's ``name``, ``name:zh`` or ``name:en`` (e.g. ``"河南省"``), or its
        relation id (digits, e.g. ``"407492"``).
    parent_level, level
        ``admin_level`` of the parent and of the units (``"4"`` a province, ``"5"`` a
        prefecture, ``"6"`` a county-level unit).

    Raises
    ------
    ValidationError
        A level is not a number from 1 to 11, both levels are the same, no boundary
        of ``parent_level`` has that name (the message lists those found), or several
        have it (the message lists their relation ids).
    DataSourceError
        The extract is missing or unreadable, or the parent's boundary cannot be
        assembled from it (the message says why and what to do).
    """
    src = Path(src)
    parent_level, level = (
        _check_level("--parent-level", parent_level),
        _check_level("--level", level),
    )
    if parent_level == level:
        msg = f"the units' level and the parent's are both {level}; units lie at a higher admin_level, e.g. --parent-level 4 --level 6"
        raise ValidationError(msg)
    parent = str(parent).strip()
    between = str(int(level) - 1) if int(level) - 1 > int(parent_level) else ""
    levels = [parent_level, level, *([between] if between else [])]
    found = extract.find_boundaries(src, admin_levels=levels)
    incomplete = found.attrs.get("incomplete", [])
    parent_row = _parent(found, incomplete, src, parent, parent_level)
    polygon = parent_row["geometry"]
    shapely.prepare(polygon)

    candidates = found[found["admin_level"].str.strip() == level]
    points = candidates.geometry.representative_point()
    inside = candidates[shapely.covers(polygon, points.values)].copy()
    outside = len(candidates) - len(inside)
    left_out: list[dict[str, object]] = []
    named = inside["name"].str.strip() != ""
    for row in inside[~named].itertuples():
        left_out.append(
            {
                "osm_id": int(row.osm_id),
                "name": row.name_en or "(no name)",
                "reason": "it has no name or name:zh tag: add one in OpenStreetMap, or add the unit by hand",
            }
        )
    inside = inside[named]
    inside["name"] = inside["name"].str.strip()
    inside["name_en"] = inside["name_en"].str.strip()
    inside["share_inside"] = [_share(polygon, geom) for geom in inside.geometry]
    for row in inside[inside["share_inside"] < WARN_SHARE].itertuples():
        log.warning(
            "unit r%d %s lies inside %s by its representative point, but only %.1f %% of its "
            "area does: check the two boundaries in OpenStreetMap",
            row.osm_id,
            row.name,
            parent_row["name"],
            100 * row.share_inside,
        )
    codes = [unit_code(tags) for tags in inside["tags"]]
    inside["code"] = [c for c, _ in codes]
    inside["code_tag"] = [t for _, t in codes]
    inside = inside.drop(columns=["tags", "ref"])
    inside = _prefectures(inside, found, incomplete, between, str(parent_row["name"]))
    inside = inside.assign(_nocode=inside["code"] == "").sort_values(
        ["_nocode", "code", "name", "osm_id"], kind="stable"
    )
    inside = inside.drop(columns=["_nocode"]).reset_index(drop=True)

    broken = [r for r in incomplete if str(r["admin_level"]).strip() == level]
    if broken:
        side = _place_incomplete(src, [int(r["osm_id"]) for r in broken], polygon)
        for r in broken:
            where = side.get(int(r["osm_id"]))
            if where is None:
                log.info(
                    "unit r%s %s: its boundary is incomplete in %s and none of its nodes "
                    "off the border of %s is in the file, so it cannot be placed; not listed",
                    r["osm_id"],
                    r["name"],
                    src.name,
                    parent_row["name"],
                )
            elif where:
                reason = f"its boundary relation is in {src.name} {extract.incomplete_reason(r)}"
                left_out.append({"osm_id": int(r["osm_id"]), "name": r["name"], "reason": reason})
            else:
                outside += 1
    left_out.sort(key=lambda r: int(r["osm_id"]))  # type: ignore[call-overload]
    log.info(
        "%s: %d admin_level %s units inside %s (r%d), %d left out, %d outside",
        src.name,
        len(inside),
        level,
        parent_row["name"],
        parent_row["osm_id"],
        len(left_out),
        outside,
    )
    return ProvinceUnits(
        parent=parent_row,
        units=gpd.GeoDataFrame(inside, geometry="geometry", crs=4326),
        left_out=left_out,
        outside=outside,
        src=src,
        level=level,
        prefecture_level=between,
    )


def unit_code(tags: dict[str, str]) -> tuple[str, str]:
    """The administrative code of a unit from its tags, and the tag it came from
    (``("", "")`` when none fits; see the module docstring)."""
    refs = {k: v.strip() for k, v in extract._ref_tags(tags).items()}
    for key, value in refs.items():
        if _GB_CODE.fullmatch(value):
            return value, key
    for key, value in refs.items():
        stats = _STATS_CODE.fullmatch(value)
        if stats:
            return stats.group(1), key
    for key, value in refs.items():
        if _PATH_PART.fullmatch(value):
            return value, key
    return "", ""


# ----------------------------------------------------------------------- helpers


def _check_level(option: str, value: object) -> str:
    text = str(value).strip()
    if not text.isdigit() or not 1 <= int(text) <= 11:
        msg = f"{option} must be an OSM admin_level, a whole number 1–11 (4 a province, 6 a county); got {value!r}"
        raise ValidationError(msg)
    return str(int(text))


def _parent(
    found: gpd.GeoDataFrame,
    incomplete: Sequence[dict[str, object]],
    src: Path,
    parent: str,
    level: str,
) -> dict[str, object]:
    """The one parent boundary named (or numbered) ``parent`` at ``level``."""
    at_level = found[found["admin_level"].str.strip() == level]
    broken = [r for r in incomplete if str(r["admin_level"]).strip() == level]

    def matches(osm_id: object, tags: dict[str, str]) -> bool:
        if parent.isdigit():
            return int(osm_id) == int(parent)  # type: ignore[call-overload]
        names = {tags.get(k, "").strip() for k in ("name", "name:zh")}
        return parent in names or tags.get("name:en", "").strip().casefold() == parent.casefold()

    rows = [r for r in at_level.itertuples() if matches(r.osm_id, r.tags)]
    cut = [r for r in broken if matches(r["osm_id"], {"name": str(r["name"])})]
    if not rows and cut:
        msg = extract.incomplete_message(
            cut, where=f"the extract {src}", config="the command's --parent"
        )
        raise DataSourceError(msg)
    if not rows:
        known = sorted(
            {f"{r.name} (r{r.osm_id})" for r in at_level.itertuples()}
            | {f"{r['name']} (r{r['osm_id']}, incomplete)" for r in broken}
        )
        listed = ", ".join(known) if known else "none: try another --parent-level"
        msg = (
            f"no admin_level {level} boundary named {parent!r} in {src}; "
            f"admin_level {level} boundaries there: {listed}"
        )
        raise ValidationError(msg)
    if len(rows) > 1:
        listed = ", ".join(f"r{r.osm_id} {r.name}" for r in rows)
        msg = f"several admin_level {level} boundaries are named {parent!r} in {src}: {listed}; pass the relation id to --parent"
        raise ValidationError(msg)
    row = rows[0]
    return {
        "osm_id": int(row.osm_id),
        "name": str(row.name).strip() or str(row.name_en),
        "name_en": str(row.name_en).strip(),
        "admin_level": level,
        "geometry": row.geometry,
    }


def _prefectures(
    units: gpd.GeoDataFrame,
    found: gpd.GeoDataFrame,
    incomplete: Sequence[dict[str, object]],
    level: str,
    parent_name: str,
) -> gpd.GeoDataFrame:
    """``units`` with the name, English name and relation id of the ``level`` boundary
    that covers each one's representative point (the largest overlap when several do)."""
    units = units.copy()
    units["prefecture"], units["prefecture_en"], units["prefecture_id"] = "", "", 0
    if not level or units.empty:
        return units
    broken = sorted(
        f"r{r['osm_id']} {r['name']}" for r in incomplete if str(r["admin_level"]).strip() == level
    )
    tops = found[found["admin_level"].str.strip() == level].reset_index(drop=True)
    points = units.geometry.representative_point().values
    unit_i, top_i = shapely.STRtree(tops.geometry.values).query(points, predicate="covered_by")
    best: dict[int, tuple[float, int]] = {}
    geoms = units.geometry.values
    for u, t in zip(unit_i.tolist(), top_i.tolist(), strict=True):
        overlap = shapely.intersection(geoms[u], tops.geometry.iloc[t]).area
        if u not in best or overlap > best[u][0]:
            best[u] = (overlap, t)
    names, names_en, ids = [], [], []
    for u in range(len(units)):
        if u in best:
            top = tops.iloc[best[u][1]]
            names.append(str(top["name"]).strip() or str(top["name_en"]).strip())
            names_en.append(str(top["name_en"]).strip())
            ids.append(int(top["osm_id"]))
        else:
            names.append("")
            names_en.append("")
            ids.append(0)
    units["prefecture"], units["prefecture_en"], units["prefecture_id"] = names, names_en, ids
    if broken and len(best) < len(units):
        log.warning(
            "%d units inside %s lie in no complete admin_level %s boundary and are listed "
            "without one; %d such boundaries cannot be assembled from the extract (cut by "
            "its edge, or broken in OpenStreetMap): %s",
            len(units) - len(best),
            parent_name,
            level,
            len(broken),
            ", ".join(broken[:10]) + (" …" if len(broken) > 10 else ""),
        )
    log.info(
        "%d of %d units inside %s lie in an admin_level %s boundary",
        len(best),
        len(units),
        parent_name,
        level,
    )
    return units


def _share(parent: shapely.Geometry, unit: shapely.Geometry) -> float:
    """Share of ``unit``'s area inside ``parent`` (areas in square degrees: a ratio
    over one unit, where the scale hardly changes)."""
    area = unit.area
    return float(shapely.intersection(parent, unit).area / area) if area > 0 else 0.0


def _place_incomplete(
    src: Path, relation_ids: list[int], parent: shapely.Geometry
) -> dict[int, bool]:
    """For relations that could not be assembled: whether more of their nodes in the
    file lie inside ``parent`` than outside (nodes on its border left aside); a
    relation with no such node is not in the result."""
    members: dict[int, list[int]] = {}
    way_nodes: dict[int, list[int]] = {}
    xy: dict[int, tuple[float, float]] = {}
    try:
        wanted = osmium.IdTracker()
        for i in relation_ids:
            wanted.add_relation(i)
        rels = osmium.FileProcessor(str(src), osmium.osm.RELATION).with_filter(wanted.id_filter())
        ways = osmium.IdTracker()
        for rel in rels:
            members[rel.id] = [m.ref for m in rel.members if m.type == "w"]
            for w in members[rel.id]:
                ways.add_way(w)
        nodes = osmium.IdTracker()
        for way in osmium.FileProcessor(str(src), osmium.osm.WAY).with_filter(ways.id_filter()):
            way_nodes[way.id] = [n.ref for n in way.nodes]
            for n in way_nodes[way.id]:
                nodes.add_node(n)
        for node in osmium.FileProcessor(str(src), osmium.osm.NODE).with_filter(nodes.id_filter()):
            if node.location.valid():
                xy[node.id] = (node.location.lon, node.location.lat)
    except RuntimeError as exc:
        msg = f"cannot read OSM file {src}: {exc}"
        raise DataSourceError(msg) from exc
    border = parent.boundary
    out: dict[int, bool] = {}
    for rel_id, way_ids in members.items():
        ids = sorted({n for w in way_ids for n in way_nodes.get(w, ()) if n in xy})
        if not ids:
            continue
        coords = np.array([xy[n] for n in ids])
        points = shapely.points(coords)
        off_border = shapely.distance(border, points) > BORDER_TOLERANCE_DEG
        inside = shapely.contains_xy(parent, coords[:, 0], coords[:, 1]) & off_border
        outside = ~inside & off_border
        if inside.any() or outside.any():
            out[rel_id] = int(inside.sum()) > int(outside.sum())
    return out
