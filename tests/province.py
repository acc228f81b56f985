"""A small generated province in an OSM file: administrative boundaries on a grid.

Grid node ``(i, j)`` (``i`` 0–6 east, ``j`` 0–4 north) lies at lon ``113.0 + 0.1 i``,
lat ``33.0 + 0.1 j`` and has id ``1 + 10 i + j``. Relations:

- r1 测试省 (Test Province, admin_level 4): the square ``[0, 4] × [0, 4]``, four side ways;
- r2 邻省 (admin_level 4): its neighbour ``[4, 6] × [0, 4]``;
- prefectures (admin_level 5, :data:`PREFECTURES`): r51 甲市 ``[0, 2] × [0, 4]`` and
  r52 乙市 ``[2, 4] × [0, 2]`` inside the parent, r53 邻市 ``[4, 6] × [0, 4]`` in the
  neighbour; cells ``[2, 4] × [2, 4]`` lie in none (administered by the province);
- r101–r109 (admin_level 6): the 3 × 3 cells ``[i, i+1] × [j, j+1]``, ``i, j`` 0–2, inside
  the parent, each one closed way or four side ways, with names, some English
  names and some codes in different tags (:data:`UNITS`);
- r110 (admin_level 6) cell ``(3, 3)``, inside, whose west side way is missing from the
  file (incomplete);
- r111 (admin_level 6) cell ``(4, 0)``, outside (in the neighbour), sharing the parent's
  border; r112 cell ``(5, 3)``, outside and incomplete;
- r113 (admin_level 6) cell ``(3, 1)``, inside, without any name;
- r120 (admin_level 8) cell ``(3, 0)``, inside: a township, another level.
"""

from __future__ import annotations

from pathlib import Path

import osmium
import shapely

LON0, LAT0, STEP = 113.0, 33.0, 0.1
PARENT_ID = 1

#: The complete units inside the parent: relation id → (cell, tags, one closed way?).
UNITS: dict[int, tuple[tuple[int, int], dict[str, str], bool]] = {
    101: ((0, 0), {"name": "一县", "name:en": "Yi County", "ref": "410101"}, True),
    102: ((1, 0), {"name": "二县", "ref:gb": "410102"}, False),
    103: ((2, 0), {"name": "三区", "china_admin_code": "410103"}, True),
    104: ((0, 1), {"name": "四县", "name:en": "Si County"}, False),
    105: ((1, 1), {"name:zh": "五县", "ref": "410105000000"}, True),
    106: ((2, 1), {"name": "六市", "name:en": "Liu City", "gb:code": "410106"}, False),
    107: ((0, 2), {"name": "七县"}, True),
    108: ((1, 2), {"name": "八县", "ref": "410108"}, False),
    109: ((2, 2), {"name": "九县", "name:en": "Jiu County", "ref": "410109"}, True),
}
#: What a region file written from the province lists, in its order (by code, then
#: name): (code or "", name, English name or "", relation id).
EXPECTED = [
    ("410101", "一县", "Yi County", 101),
    ("410102", "二县", "", 102),
    ("410103", "三区", "", 103),
    ("410105", "五县", "", 105),
    ("410106", "六市", "Liu City", 106),
    ("410108", "八县", "", 108),
    ("410109", "九县", "Jiu County", 109),
    ("", "七县", "", 107),  # 七 (U+4E03) before 四 (U+56DB)
    ("", "四县", "Si County", 104),
]
#: Prefectures: relation id → (rectangle of grid nodes, tags).
PREFECTURES: dict[int, tuple[tuple[int, int, int, int], dict[str, str]]] = {
    51: ((0, 0, 2, 4), {"name": "甲市", "name:en": "Jia City"}),
    52: ((2, 0, 4, 2), {"name": "乙市"}),
    53: ((4, 0, 6, 4), {"name": "邻市", "name:en": "Lin City"}),
}
INCOMPLETE_ID, NAMELESS_ID, OUTSIDE_ID, OUTSIDE_INCOMPLETE_ID = 110, 113, 111, 112


def node_id(i: int, j: int) -> int:
    return 1 + 10 * i + j


def cell(i: int, j: int) -> shapely.Polygon:
    """The polygon of grid cell ``(i, j)``, degrees."""
    return shapely.box(
        LON0 + STEP * i, LAT0 + STEP * j, LON0 + STEP * (i + 1), LAT0 + STEP * (j + 1)
    )


def _sides(x0: int, y0: int, x1: int, y1: int) -> list[list[int]]:
    """Node ids of the four sides (south, east, north, west) of a rectangle of grid nodes."""
    south = [node_id(i, y0) for i in range(x0, x1 + 1)]
    east = [node_id(x1, j) for j in range(y0, y1 + 1)]
    north = [node_id(i, y1) for i in range(x1, x0 - 1, -1)]
    west = [node_id(x0, j) for j in range(y1, y0 - 1, -1)]
    return [south, east, north, west]


def write_province(path: Path) -> Path:
    """Write the province (see the module docstring) to ``path`` (``.osm.pbf`` or ``.osm``)."""
    ways: dict[int, list[int]] = {}
    relations: dict[int, tuple[list[int], dict[str, str]]] = {}
    missing: set[int] = set()

    def boundary(
        rel_id: int, rect: tuple[int, int, int, int], tags: dict[str, str], *, closed: bool = False
    ) -> None:
        sides = _sides(*rect)
        if closed:
            ring = [n for side in sides for n in side[:-1]] + [sides[0][0]]
            ways[rel_id * 10] = ring
            members = [rel_id * 10]
        else:
            members = []
            for k, side in enumerate(sides, start=1):
                ways[rel_id * 10 + k] = side
                members.append(rel_id * 10 + k)
        relations[rel_id] = (members, {"type": "boundary", "boundary": "administrative", **tags})

    boundary(
        PARENT_ID, (0, 0, 4, 4), {"name": "测试省", "name:en": "Test Province", "admin_level": "4"}
    )
    boundary(2, (4, 0, 6, 4), {"name": "邻省", "admin_level": "4"})
    for rel_id, (rect, tags) in PREFECTURES.items():
        boundary(rel_id, rect, {**tags, "admin_level": "5"})
    for rel_id, ((i, j), tags, closed) in UNITS.items():
        boundary(rel_id, (i, j, i + 1, j + 1), {**tags, "admin_level": "6"}, closed=closed)
    boundary(INCOMPLETE_ID, (3, 3, 4, 4), {"name": "残县", "ref": "410110", "admin_level": "6"})
    missing.add(INCOMPLETE_ID * 10 + 4)  # its west side
    boundary(OUTSIDE_ID, (4, 0, 5, 1), {"name": "外县", "ref": "420111", "admin_level": "6"})
    boundary(OUTSIDE_INCOMPLETE_ID, (5, 3, 6, 4), {"name": "外残县", "admin_level": "6"})
    missing.add(OUTSIDE_INCOMPLETE_ID * 10 + 4)
    boundary(NAMELESS_ID, (3, 1, 4, 2), {"admin_level": "6"})
    boundary(120, (3, 0, 4, 1), {"name": "某镇", "admin_level": "8"})

    header = osmium.io.Header()
    header.set("sorting", "Type_then_ID")
    path.unlink(missing_ok=True)
    with osmium.SimpleWriter(str(path), header=header) as writer:
        for i in range(7):
            for j in range(5):
                loc = osmium.osm.Location(LON0 + STEP * i, LAT0 + STEP * j)
                writer.add_node(osmium.osm.mutable.Node(id=node_id(i, j), version=1, location=loc))
        for way_id in sorted(ways):
            if way_id not in missing:
                writer.add_way(osmium.osm.mutable.Way(id=way_id, version=1, nodes=ways[way_id]))
        for rel_id in sorted(relations):
            members, tags = relations[rel_id]
            writer.add_relation(
                osmium.osm.mutable.Relation(
                    id=rel_id, version=1, members=[("w", m, "outer") for m in members], tags=tags
                )
            )
    return path
