"""Reading OSM files: roads, one-way and speed tags, places, facilities as nodes and ways, clipping."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely

from accessibility._errors import DataSourceError
from accessibility.sources import osm

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def tagged() -> osm.OsmData:
    return osm.read(DATA / "tagging.osm")


def test_road_segments_and_tags(tagged) -> None:
    seg = tagged.roads.segments
    assert len(seg) == 5
    by_way = seg.groupby("way")
    assert by_way.size().to_dict() == {100: 2, 101: 2, 102: 1}
    assert set(seg.loc[seg["way"] == 101, "oneway"]) == {1}
    assert set(seg.loc[seg["way"] == 102, "oneway"]) == {-1}
    assert set(seg.loc[seg["way"] == 100, "maxspeed"]) == {40.0}
    assert set(seg.loc[seg["way"] == 101, "exempt"]) == {"oneway:bicycle=no"}
    assert list(seg.loc[seg["way"] == 100, ["u", "v"]].itertuples(index=False, name=None)) == [
        (1, 2),
        (2, 3),
    ]
    assert tagged.roads.nodes.loc[5, "lon"] == pytest.approx(114.02)
    # the names of the named ways (for the road-link pieces); unnamed ways are not listed
    assert tagged.roads.ways.to_dict("index") == {100: {"name": "人民路", "ref": ""}}


def test_places_and_pois(tagged) -> None:
    assert tagged.places.loc["n10", "population"] == 1250
    assert tagged.places.loc["n11", "capital"] == "6"
    assert set(tagged.pois.index) == {"n20", "n21", "n22", "w103", "r200"}
    campus = tagged.pois.loc["w103"]
    assert campus["tags"]["isced:level"] == "2"
    # a campus polygon is represented by its centroid
    assert campus.geometry.x == pytest.approx(114.0035) and campus.geometry.y == pytest.approx(
        34.0055
    )


def test_multipolygon_campus_and_place_area(tagged) -> None:
    campus = tagged.pois.loc["r200"]
    assert campus["osm_type"] == "relation" and campus["name"] == "示例县第一高级中学"
    # two equal squares side by side: centroid halfway between them
    assert campus.geometry.x == pytest.approx(114.0135, abs=1e-6)
    assert campus.geometry.y == pytest.approx(34.0025, abs=1e-6)
    village = tagged.places.loc["w106"]
    assert village["place"] == "village" and village["population"] == 800
    assert village.geometry.x == pytest.approx(114.017, abs=1e-6)


def test_building_footprints(tagged) -> None:
    b = tagged.buildings.loc["w107"]
    assert b["building"] == "residential" and b["levels"] == 6
    area_m2 = tagged.buildings.to_crs("EPSG:32650").loc["w107"].geometry.area
    assert area_m2 == pytest.approx(
        0.0002 * 92_370 * 0.0001 * 110_950, rel=0.01
    )  # ~18.5 m x 11.1 m
    assert len(tagged.buildings) == 1


def test_residential_land_use(tagged) -> None:
    assert list(tagged.landuse.index) == ["w108"]
    area_m2 = tagged.landuse.to_crs("EPSG:32650").geometry.iloc[0].area
    assert area_m2 == pytest.approx(0.002 * 92_370 * 0.002 * 110_950, rel=0.01)


def test_sample_buildings_are_read(tmp_path) -> None:
    import json

    from accessibility.sources import sample

    files = sample.generate(tmp_path, seed=5)
    data = osm.read(files.osm)
    meta = json.loads(files.meta.read_text("utf-8"))
    assert len(data.buildings) == meta["counts"]["buildings"]
    assert data.buildings["levels"].between(1, 40).all()


def test_clip_keeps_segments_with_an_end_inside(tagged) -> None:
    clip = shapely.box(113.999, 33.999, 114.005, 34.0095)  # holds nodes 1 and 4 only
    data = osm.read(DATA / "tagging.osm", clip=clip)
    pairs = set(data.roads.segments[["u", "v"]].itertuples(index=False, name=None))
    assert pairs == {(1, 2), (3, 4), (4, 1)}
    assert set(data.places.index) == {"n10"}
    assert data.fingerprint != tagged.fingerprint


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"oneway": "yes"}, 1),
        ({"oneway": "-1"}, -1),
        ({"oneway": "no", "junction": "roundabout"}, 0),
        ({"junction": "roundabout"}, 1),
        ({"highway": "motorway"}, 1),
        ({}, 0),
    ],
)
def test_parse_oneway(tags, expected) -> None:
    assert osm.parse_oneway(tags) == expected


def test_parse_numbers() -> None:
    assert osm.parse_maxspeed("60") == 60
    assert osm.parse_maxspeed("30 mph") == pytest.approx(48.28, rel=1e-3)
    assert np.isnan(osm.parse_maxspeed("CN:urban"))
    assert osm.parse_population("约3,000人") == 3000
    assert np.isnan(osm.parse_population("unknown"))


def test_missing_and_empty_files(tmp_path) -> None:
    with pytest.raises(DataSourceError, match="not found"):
        osm.read(tmp_path / "nope.osm")
    empty = tmp_path / "empty.osm"
    empty.write_text(
        '<?xml version="1.0"?><osm version="0.6"><node id="1" lat="34" lon="114"/></osm>'
    )
    with pytest.raises(DataSourceError, match=r"holds no road at all \(no way tagged highway\)"):
        osm.read(empty)


def test_roads_elsewhere_are_told_from_no_roads_at_all() -> None:
    far = shapely.box(100.0, 30.0, 100.1, 30.1)
    with pytest.raises(
        DataSourceError,
        match=r"has roads, but none inside the clip area \(bounds 100\.0000, 30\.0000",
    ):
        osm.read(DATA / "tagging.osm", clip=far)


def test_access_and_level_tags_are_read(tmp_path) -> None:
    from .osm_xml import write_osm

    nodes = {i: (100.0 * i, 0.0) for i in range(1, 8)}
    ways = [
        (1, [1, 2], {"highway": "service", "access": "Private", "foot": "yes;no"}),
        (2, [2, 3], {"highway": "primary", "motorroad": "yes", "bridge": "yes", "layer": "1"}),
        (3, [3, 4], {"highway": "service", "tunnel": "yes", "layer": "-1"}),
        (4, [4, 5], {"highway": "footway", "covered": "yes"}),
        (5, [5, 6], {"highway": "residential", "bridge": "no", "layer": "0", "tunnel": "no"}),
        (6, [6, 7], {"highway": "residential", "layer": "-2"}),
    ]
    seg = osm.read(write_osm(tmp_path / "tags.osm", nodes, ways)).roads.segments.set_index("way")
    assert seg.loc[1, "access"] == "access=private;foot=yes"
    assert seg.loc[2, "access"] == "motorroad=yes"
    assert seg.loc[5, "access"] == ""
    assert seg["raised"].to_dict() == {1: False, 2: True, 3: True, 4: True, 5: False, 6: True}


def test_way_cut_by_the_edge_keeps_its_inside_part(tmp_path, caplog) -> None:
    """Nodes 3 and 6 of way 1 (1-2-3-4-5-6) and node 10 of way 2 are not in the file."""
    from .osm_xml import write_osm

    nodes = {i: (100.0 * i, 0.0) for i in range(1, 7)} | {10: (0.0, 500.0)}
    ways = [(1, [1, 2, 3, 4, 5, 6], {"highway": "residential"}), (2, [10, 1], {"highway": "track"})]
    with caplog.at_level("INFO", logger="accessibility.sources.osm"):
        roads = osm.read(write_osm(tmp_path / "cut.osm", nodes, ways, absent=[3, 6, 10])).roads
    pairs = set(roads.segments[["u", "v"]].itertuples(index=False, name=None))
    assert pairs == {(1, 2), (4, 5)}
    assert set(roads.nodes.index) == {1, 2, 4, 5}
    assert roads.meta["ways_clipped"] == 2
    assert "2 highway ways cross the edge" in caplog.text and "1, 2" in caplog.text


def test_pedestrian_area_outline_is_a_road_other_areas_are_not(tmp_path) -> None:
    from .osm_xml import write_osm

    nodes = {1: (0, 0), 2: (100, 0), 3: (100, 100), 4: (0, 100), 5: (200, 0), 6: (200, 100)}
    ways = [
        (1, [1, 2, 3, 4, 1], {"highway": "pedestrian", "area": "yes"}),
        (2, [2, 5, 6, 3, 2], {"highway": "service", "area": "yes"}),
        (3, [5, 6], {"highway": "pedestrian"}),
    ]
    seg = osm.read(write_osm(tmp_path / "area.osm", nodes, ways)).roads.segments
    assert seg.groupby("way")["highway"].agg(set).to_dict() == {
        1: {"pedestrian_area"},
        3: {"pedestrian"},
    }
    assert (seg["way"] == 1).sum() == 4


def _same(a: osm.OsmData, b: osm.OsmData) -> None:
    import pandas as pd

    pd.testing.assert_frame_equal(a.roads.segments, b.roads.segments)
    pd.testing.assert_frame_equal(a.roads.nodes, b.roads.nodes)
    for name in ("places", "pois", "buildings", "landuse"):
        left, right = getattr(a, name), getattr(b, name)
        pd.testing.assert_frame_equal(left.drop(columns="geometry"), right.drop(columns="geometry"))
        assert left.geometry.geom_equals_exact(right.geometry, 0).all(), name
    assert a.fingerprint == b.fingerprint


def test_a_cached_read_equals_the_parse_and_is_not_parsed_again(tmp_path, monkeypatch) -> None:
    src = tmp_path / "t.osm"
    src.write_bytes((DATA / "tagging.osm").read_bytes())
    cache = tmp_path / "cache"
    clip = shapely.box(113.9, 33.9, 114.2, 34.2)
    first = osm.read(src, clip=clip, cache_dir=cache)
    assert len(list(cache.glob("osm_*.pickle"))) == 1
    parsed = osm.read(src, clip=clip)  # no cache: parsed
    _same(first, parsed)

    def no_parse(*args, **kwargs):
        raise AssertionError("parsed again")

    with monkeypatch.context() as m:
        m.setattr(osm, "_parse", no_parse)
        _same(osm.read(src, clip=clip, cache_dir=cache), parsed)
        # another clip, or another content of the file, is read afresh
        with pytest.raises(AssertionError, match="parsed again"):
            osm.read(src, clip=shapely.box(113.9, 33.9, 114.1, 34.1), cache_dir=cache)
        src.write_text(src.read_text().replace("人民路", "建设路"), encoding="utf-8")
        with pytest.raises(AssertionError, match="parsed again"):
            osm.read(src, clip=clip, cache_dir=cache)
    changed = osm.read(src, clip=clip, cache_dir=cache)
    assert changed.roads.ways.loc[100, "name"] == "建设路"
    assert len(list(cache.glob("osm_*.pickle"))) == 2


def test_a_damaged_cached_read_is_read_again_and_replaced(tmp_path, caplog) -> None:
    cache = tmp_path / "cache"
    osm.read(DATA / "tagging.osm", cache_dir=cache)
    (kept,) = cache.glob("osm_*.pickle")
    kept.write_bytes(b"not a pickle")
    with caplog.at_level("WARNING", logger="accessibility.sources.osm"):
        again = osm.read(DATA / "tagging.osm", cache_dir=cache)
    assert "cannot use the cached read" in caplog.text
    _same(again, osm.read(DATA / "tagging.osm"))
    assert kept.read_bytes() != b"not a pickle"


def test_a_file_unreadable_even_once_sorted_says_so_once(tmp_path) -> None:
    """Negative way ids in an order the sorted copy keeps: one clear error, no loop."""
    path = tmp_path / "negative.osm"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6">\n'
        '<node id="1" lat="34.0" lon="114.0"/><node id="2" lat="34.0" lon="114.01"/>'
        '<node id="3" lat="34.01" lon="114.01"/>\n'
        '<way id="-5"><nd ref="1"/><nd ref="2"/><tag k="highway" v="residential"/></way>\n'
        '<way id="-3"><nd ref="2"/><nd ref="3"/><tag k="highway" v="residential"/></way>\n'
        "</osm>\n",
        encoding="utf-8",
    )
    with pytest.raises(
        DataSourceError, match=f"cannot read OSM file {path}, not even a sorted copy"
    ):
        osm.read(path)
