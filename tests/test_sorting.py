"""An OSM file out of order is read as its sorted twin (accessibility.sources.sorting)."""

from __future__ import annotations

from pathlib import Path

import osmium
import pandas as pd

from accessibility.sources import osm, sorting

NODES = {
    1: (113.80, 34.020),
    2: (113.81, 34.020),
    3: (113.81, 34.030),
    4: (113.80, 34.030),
    5: (113.805, 34.025),
}


def _xml(node_order, way_order) -> str:
    nodes = "".join(
        f'<node id="{i}" version="1" timestamp="2024-0{i}-01T00:00:00Z" lat="{NODES[i][1]}" lon="{NODES[i][0]}">'
        + ('<tag k="place" v="village"/><tag k="name" v="东村"/>' if i == 5 else "")
        + "</node>"
        for i in node_order
    )
    ways = {
        10: '<way id="10" version="1"><nd ref="1"/><nd ref="2"/><nd ref="3"/><tag k="highway" v="residential"/></way>',
        20: '<way id="20" version="2"><nd ref="3"/><nd ref="4"/><nd ref="1"/><nd ref="3"/><tag k="building" v="school"/>'
        '<tag k="amenity" v="school"/><tag k="name" v="东村小学"/></way>',
    }
    return f'<osm version="0.6">{nodes}{"".join(ways[w] for w in way_order)}</osm>'


def test_an_unsorted_file_reads_like_the_sorted_one(tmp_path: Path) -> None:
    good = tmp_path / "sorted.osm"
    bad = tmp_path / "unsorted.osm"
    good.write_text(_xml([1, 2, 3, 4, 5], [10, 20]), encoding="utf-8")
    bad.write_text(_xml([3, 1, 5, 2, 4], [20, 10]), encoding="utf-8")
    a, b = osm.read(good), osm.read(bad)
    pd.testing.assert_frame_equal(a.roads.segments, b.roads.segments)
    pd.testing.assert_frame_equal(a.roads.nodes.sort_index(), b.roads.nodes.sort_index())
    assert list(b.pois.index) == list(a.pois.index) == ["w20"]
    assert list(b.places["name"]) == ["东村"]
    assert len(b.buildings) == 1  # the area of way 20 was assembled


def test_sort_file_keeps_ids_tags_members_and_timestamps(tmp_path: Path) -> None:
    bad = tmp_path / "unsorted.osm"
    bad.write_text(_xml([3, 1, 5, 2, 4], [20, 10]), encoding="utf-8")
    out = sorting.sort_file(bad, tmp_path / "out" / "sorted.osm.pbf")
    seen = [
        (o.type_str(), o.id, o.version, o.timestamp.year, o.timestamp.month, dict(o.tags))
        for o in osmium.FileProcessor(str(out))
    ]
    assert [(t, i) for t, i, *_ in seen] == [
        ("n", 1),
        ("n", 2),
        ("n", 3),
        ("n", 4),
        ("n", 5),
        ("w", 10),
        ("w", 20),
    ]
    assert seen[2][3:5] == (2024, 3)
    assert seen[6][2] == 2 and seen[6][5]["name"] == "东村小学"
    ways = {w.id: [n.ref for n in w.nodes] for w in osmium.FileProcessor(str(out), osmium.osm.WAY)}
    assert ways == {10: [1, 2, 3], 20: [3, 4, 1, 3]}
    assert not list((tmp_path / "out").glob("*.tmp*"))
