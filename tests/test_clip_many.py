"""All units clipped in one pass (accessibility.sources.clip_many).

A small province is written with pyosmium in the test: a 4 × 4 km street grid near
114°E 34°N (a node every 0.001°, streets split into ways that cross unit borders),
schools, a multipolygon across a border, a relation of relations (its child has the
higher id), ids spread out as real OSM ids are (nodes up to 1e10). Each unit's
one-pass clip must hold the same node, way and relation ids as ``extract.clip`` of
its polygon.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import osmium
import pytest
import shapely

from accessibility._errors import DataSourceError, ValidationError
from accessibility.sources import clip_many as cm
from accessibility.sources import extract

LON0, LAT0 = 114.0, 34.0
STEP = 0.001  # degrees between nodes
SIZE = 41  # nodes per row and column (0.04°)
NODE_STRIDE = 5_900_011  # node ids up to ≈ 1e10
WAY_STRIDE = 3_000_017
SEGMENTS_PER_WAY = 7  # so that ways cross the 0.01° unit borders


def _node_id(i: int, j: int) -> int:
    return 1 + (j * SIZE + i) * NODE_STRIDE


def _write_province(path: Path) -> None:
    header = osmium.io.Header()
    header.set("sorting", "Type_then_ID")
    header.add_box(osmium.osm.Box(LON0, LAT0, LON0 + STEP * (SIZE - 1), LAT0 + STEP * (SIZE - 1)))
    with osmium.SimpleWriter(str(path), header=header) as writer:
        for j in range(SIZE):
            for i in range(SIZE):
                tags = {"amenity": "school"} if (i * 7 + j * 3) % 23 == 0 else {}
                writer.add_node(
                    osmium.osm.mutable.Node(
                        id=_node_id(i, j),
                        location=(round(LON0 + i * STEP, 7), round(LAT0 + j * STEP, 7)),
                        tags=tags,
                        # metadata as a public extract has it, users on some nodes
                        version=1 + (i + j) % 4,
                        changeset=500 + i * 3 + j,
                        timestamp=dt.datetime.fromtimestamp(1_400_000_000 + i * 977 + j, dt.UTC),
                        uid=(i * j) % 5,
                        user=f"测绘{(i * j) % 5}" if (i * j) % 5 else "",
                    )
                )
        ways: list[tuple[list[int], dict[str, str]]] = []
        for j in range(0, SIZE, 2):  # east-west streets on every other row
            for a in range(0, SIZE - 1, SEGMENTS_PER_WAY):
                b = min(a + SEGMENTS_PER_WAY, SIZE - 1)
                ways.append(([_node_id(i, j) for i in range(a, b + 1)], {"highway": "residential"}))
        for i in range(1, SIZE, 4):  # north-south streets
            for a in range(0, SIZE - 1, SEGMENTS_PER_WAY):
                b = min(a + SEGMENTS_PER_WAY, SIZE - 1)
                ways.append(([_node_id(i, j) for j in range(a, b + 1)], {"highway": "tertiary"}))
        # a multipolygon ring across the border x = 0.02°, from two ways
        ring_a = [_node_id(18, 11), _node_id(22, 11), _node_id(22, 15)]
        ring_b = [_node_id(22, 15), _node_id(18, 15), _node_id(18, 11)]
        ways.append((ring_a, {}))
        ways.append((ring_b, {}))
        way_ids = [1 + k * WAY_STRIDE for k in range(len(ways))]
        for wid, (refs, tags) in zip(way_ids, ways):
            writer.add_way(osmium.osm.mutable.Way(id=wid, nodes=refs, tags=tags))
        ring_ids = way_ids[-2:]
        # a route (lower id) holding the multipolygon (higher id): kept via the child
        writer.add_relation(
            osmium.osm.mutable.Relation(
                id=100, members=[("r", 9_000_000, "")], tags={"type": "route"}
            )
        )
        writer.add_relation(
            osmium.osm.mutable.Relation(
                id=5_000_000, members=[("n", _node_id(35, 35), "")], tags={"type": "site"}
            )
        )
        writer.add_relation(
            osmium.osm.mutable.Relation(
                id=9_000_000,
                members=[("w", ring_ids[0], "outer"), ("w", ring_ids[1], "outer")],
                tags={"type": "multipolygon", "landuse": "residential"},
            )
        )


def _box(i0: float, j0: float, i1: float, j1: float) -> shapely.Geometry:
    """A box in 0.01° cells of the province."""
    return shapely.box(LON0 + i0 * 0.01, LAT0 + j0 * 0.01, LON0 + i1 * 0.01, LAT0 + j1 * 0.01)


def _units() -> dict[str, shapely.Geometry]:
    buf = 0.0015  # neighbours overlap by their buffers
    shapes = {
        "a": _box(0, 0, 2, 2),
        "b_l_shaped": shapely.union(_box(2, 0, 4, 1), _box(3, 1, 4, 2)),
        "c": _box(2, 1, 3, 2),
        "d": _box(0, 2, 1, 4),
        "e": _box(1, 2, 2, 3),
        "f": _box(1, 3, 2, 4),
        "g": _box(2, 2, 4, 4),
    }
    units = {k: v.buffer(buf, join_style="mitre") for k, v in shapes.items()}
    # edges on node rows and columns: nodes on the edge are inside
    units["h_on_grid"] = _box(0.5, 0.5, 1.5, 1.5)
    return units


def _ids(path: Path) -> dict[str, set[int]]:
    out: dict[str, set[int]] = {"n": set(), "w": set(), "r": set()}
    for obj in osmium.FileProcessor(str(path)):
        out[obj.type_str()].add(obj.id)
    return out


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("province") / "province.osm.pbf"
    _write_province(path)
    return path


@pytest.fixture(scope="module")
def one_pass(
    province: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, Path], cm.ClipManyStats]:
    out = cm.clip_many(province, _units(), tmp_path_factory.mktemp("clips"))
    return out, cm.last_stats


def test_each_unit_equals_its_own_clip(
    province: Path, one_pass: tuple[dict[str, Path], cm.ClipManyStats], tmp_path: Path
) -> None:
    outs, stats = one_pass
    assert sorted(stats.clipped) == sorted(_units())
    assert stats.reused == []
    seen_twice: set[int] = set()
    seen: set[int] = set()
    for name, polygon in _units().items():
        single = extract.clip(province, polygon, tmp_path / f"{name}.osm.pbf")
        want, got = _ids(single), _ids(outs[name])
        assert got == want, name
        seen_twice |= seen & want["w"]
        seen |= want["w"]
    # the province exercises what it should: ways kept by two units, both relations
    # of the nested pair kept somewhere, schools kept
    assert seen_twice
    assert 100 in _ids(outs["c"])["r"] and 9_000_000 in _ids(outs["c"])["r"]
    assert 5_000_000 in _ids(outs["g"])["r"]


def test_clip_many_writes_what_clip_writes(
    province: Path, one_pass: tuple[dict[str, Path], cm.ClipManyStats], tmp_path: Path
) -> None:
    """Not only the ids: tags, coordinates, metadata, way nodes, members with roles and
    the header's sorting too."""
    outs, _ = one_pass
    polygon = _units()["b_l_shaped"]
    single = extract.clip(province, polygon, tmp_path / "b.osm.pbf")

    def content(path: Path) -> list[tuple[object, ...]]:
        rows: list[tuple[object, ...]] = []
        for obj in osmium.FileProcessor(str(path)):
            tags = tuple(sorted((t.k, t.v) for t in obj.tags))
            meta = (obj.version, obj.changeset, obj.timestamp, obj.uid, obj.user)
            if obj.is_node():
                rows.append(("n", obj.id, obj.location.x, obj.location.y, tags, meta))
            elif obj.is_way():
                rows.append(("w", obj.id, tuple(n.ref for n in obj.nodes), tags, meta))
            else:
                members = tuple((m.type, m.ref, m.role) for m in obj.members)
                rows.append(("r", obj.id, members, tags, meta))
        return rows

    rows = content(single)
    assert content(outs["b_l_shaped"]) == rows
    assert any(r[0] == "n" and r[5][4] for r in rows)  # a user name went through
    assert any(r[0] == "r" and r[2][0][2] == "outer" for r in rows)  # and a role
    header = osmium.FileProcessor(str(outs["b_l_shaped"]), osmium.osm.NOTHING).header
    assert header.get("sorting") == "Type_then_ID"


def test_second_call_clips_nothing(
    province: Path,
    one_pass: tuple[dict[str, Path], cm.ClipManyStats],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    outs, _ = one_pass
    mtimes = {k: p.stat().st_mtime_ns for k, p in outs.items()}

    def fail(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a pass ran")

    monkeypatch.setattr(cm, "_pass_nodes", fail)
    again = cm.clip_many(province, _units(), next(iter(outs.values())).parent)
    assert again == outs
    assert cm.last_stats.clipped == []
    assert sorted(cm.last_stats.reused) == sorted(outs)
    assert {k: p.stat().st_mtime_ns for k, p in again.items()} == mtimes


def test_clip_cached_finds_a_one_pass_clip(
    province: Path,
    one_pass: tuple[dict[str, Path], cm.ClipManyStats],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    outs, _ = one_pass

    def fail(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("clip ran")

    monkeypatch.setattr(extract, "clip", fail)
    folder = outs["e"].parent
    assert extract.clip_cached(province, _units()["e"], folder) == outs["e"]


def test_only_missing_units_are_clipped(province: Path, tmp_path: Path) -> None:
    units = _units()
    cached = extract.clip_cached(province, units["d"], tmp_path)
    before = cached.stat().st_mtime_ns
    outs = cm.clip_many(province, {"d": units["d"], "e": units["e"]}, tmp_path)
    assert outs["d"] == cached and cached.stat().st_mtime_ns == before
    assert cm.last_stats.clipped == ["e"] and cm.last_stats.reused == ["d"]
    assert _ids(outs["e"]) == _ids(extract.clip(province, units["e"], tmp_path / "e.osm.pbf"))


def test_unit_outside_the_extract_fails_as_clip_does(province: Path, tmp_path: Path) -> None:
    outside = shapely.box(120.0, 40.0, 120.01, 40.01)
    with pytest.raises(DataSourceError) as single:
        extract.clip(province, outside, tmp_path / "single.osm.pbf")
    assert "outside the extract" in str(single.value)
    units = {"e": _units()["e"], "far": outside}
    with pytest.raises(DataSourceError, match="1 of 2 units have no road") as many:
        cm.clip_many(province, units, tmp_path / "many")
    assert f"unit 'far': {single.value}" in str(many.value)
    # the good unit is written (and cached), the bad one is not
    written = sorted(p.name for p in (tmp_path / "many").iterdir())
    assert written == [f"clip_{extract.cache_key(province, units['e'])}.osm.pbf"]
    assert cm.last_stats.clipped == ["e"]


def test_xml_input_gives_the_same_clips(province: Path, tmp_path: Path) -> None:
    xml = tmp_path / "province.osm"
    with osmium.SimpleWriter(str(xml)) as writer:
        for obj in osmium.FileProcessor(str(province)):
            writer.add(obj)
    units = {k: _units()[k] for k in ("b_l_shaped", "h_on_grid")}
    outs = cm.clip_many(xml, units, tmp_path / "clips")
    for name, polygon in units.items():
        want = _ids(extract.clip(province, polygon, tmp_path / f"{name}.osm.pbf"))
        assert _ids(outs[name]) == want


def test_rejects_bad_input(province: Path, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="at least one unit"):
        cm.clip_many(province, {}, tmp_path)
    with pytest.raises(ValidationError, match="unit 'bad': clip polygon must be"):
        cm.clip_many(province, {"bad": shapely.Point(114, 34)}, tmp_path)
    with pytest.raises(DataSourceError, match="not found"):
        cm.clip_many(tmp_path / "missing.osm.pbf", _units(), tmp_path)


def test_pbf_passes_do_not_go_through_pyosmium(
    province: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A PBF extract is clipped by the block decoder and encoder (pbf_blocks), with
    the same result."""

    def fail(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the pyosmium pass ran")

    monkeypatch.setattr(cm, "_pass_ways_relations", fail)
    monkeypatch.setattr(cm, "_write", fail)
    units = {k: _units()[k] for k in ("a", "g")}
    outs = cm.clip_many(province, units, tmp_path / "clips")
    for name, polygon in units.items():
        assert _ids(outs[name]) == _ids(extract.clip(province, polygon, tmp_path / f"{name}.pbf"))


def test_blocks_the_decoder_refuses_go_through_pyosmium(
    province: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A block the decoder does not handle (say zstd) sends passes 2 and 3 to pyosmium."""
    calls = {"ways": 0, "write": 0}
    ways, write = cm._pass_ways_relations, cm._write

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise extract._UnsupportedPbf("zstd-compressed PBF blocks")

    def counted(name: str, fn: Callable[..., object]) -> Callable[..., object]:
        def run(*args: object, **kwargs: object) -> object:
            calls[name] += 1
            return fn(*args, **kwargs)

        return run

    monkeypatch.setattr(cm.pbf_blocks, "decode", refuse)
    monkeypatch.setattr(cm, "_pass_ways_relations", counted("ways", ways))
    monkeypatch.setattr(cm, "_write", counted("write", write))
    units = {k: _units()[k] for k in ("c", "h_on_grid")}
    outs = cm.clip_many(province, units, tmp_path / "clips")
    assert calls == {"ways": 1, "write": 1}
    for name, polygon in units.items():
        assert _ids(outs[name]) == _ids(extract.clip(province, polygon, tmp_path / f"{name}.pbf"))
    assert sorted(p.name for p in (tmp_path / "clips").iterdir()) == sorted(
        p.name for p in outs.values()
    )  # no temporary file left by the refused attempt


def test_a_way_after_a_relation_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "unsorted.osm.pbf"
    with osmium.SimpleWriter(str(path)) as writer:
        for k in range(3):
            writer.add_node(
                osmium.osm.mutable.Node(id=k + 1, location=(114.001 + k * 0.001, 34.001))
            )
        writer.add_way(osmium.osm.mutable.Way(id=1, nodes=[1, 2], tags={"highway": "service"}))
        writer.add_relation(osmium.osm.mutable.Relation(id=1, members=[("w", 1, "")]))
        writer.add_way(osmium.osm.mutable.Way(id=2, nodes=[2, 3], tags={"highway": "service"}))
    with pytest.raises(DataSourceError, match=r"not sorted \(way w2 after a relation\)"):
        cm.clip_many(path, {"a": _box(0, 0, 1, 1)}, tmp_path / "clips")
