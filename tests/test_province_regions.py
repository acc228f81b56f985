"""Region files written from an extract: every unit of a level inside a parent boundary."""

from __future__ import annotations

from pathlib import Path

import pytest
import shapely
import yaml

from accessibility import cli, pipeline, regions
from accessibility._errors import DataSourceError, ValidationError
from accessibility.settings import settings
from accessibility.sources import extract, province

from . import province as generated


@pytest.fixture(scope="module")
def extract_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("province")
    return generated.write_province(folder / "province.osm.pbf")


def _listed(region: regions.Region) -> list[tuple[str, str, str, int]]:
    """(code or "", name, English name, relation id) of the units, "" for a placeholder code."""
    out = []
    for u in region.units:
        relation = int(u.boundary["osm"]["relation"])
        code = "" if u.code == f"r{relation}" else u.code
        out.append((code, u.name, u.name_en, relation))
    return out


def test_find_units_lists_the_units_inside_the_parent(extract_file: Path) -> None:
    found = province.find_units(extract_file, parent="测试省", parent_level="4", level="6")
    assert found.parent["osm_id"] == generated.PARENT_ID
    got = list(
        zip(
            found.units["code"],
            found.units["name"],
            found.units["name_en"],
            found.units["osm_id"],
            strict=True,
        )
    )
    assert got == generated.EXPECTED
    # each unit's polygon is its grid cell, wholly inside the parent
    for row in found.units.itertuples():
        (i, j), _, _ = generated.UNITS[row.osm_id]
        assert row.geometry.symmetric_difference(generated.cell(i, j)).area < 1e-12
        assert row.share_inside == pytest.approx(1.0)
    # outside: the complete neighbour sharing the border and the incomplete one beyond it
    assert found.outside == 2
    assert generated.OUTSIDE_ID not in set(found.units["osm_id"])
    left = {r["osm_id"]: r for r in found.left_out}
    assert sorted(left) == [generated.INCOMPLETE_ID, generated.NAMELESS_ID]
    assert generated.OUTSIDE_INCOMPLETE_ID not in left
    assert left[generated.INCOMPLETE_ID]["name"] == "残县"
    assert "1 of its 4 member ways is missing" in left[generated.INCOMPLETE_ID]["reason"]
    assert "no name" in left[generated.NAMELESS_ID]["reason"]


def _prefecture_of(i: int, j: int) -> tuple[str, str, int]:
    """The prefecture whose rectangle holds the centre of cell ``(i, j)``: ("", "", 0) if none."""
    for rel_id, ((x0, y0, x1, y1), tags) in generated.PREFECTURES.items():
        if x0 < i + 0.5 < x1 and y0 < j + 0.5 < y1:
            return tags["name"], tags.get("name:en", ""), rel_id
    return "", "", 0


def test_each_unit_gets_the_prefecture_it_lies_in(extract_file: Path) -> None:
    found = province.find_units(extract_file, parent="测试省")
    assert found.prefecture_level == "5"
    got = {
        row.osm_id: (row.prefecture, row.prefecture_en, row.prefecture_id)
        for row in found.units.itertuples()
    }
    expected = {rel: _prefecture_of(*cell) for rel, (cell, _, _) in generated.UNITS.items()}
    assert got == expected
    # both prefectures inside the parent hold units, one unit lies in none, none lies in
    # the neighbour's
    assert {v[2] for v in got.values()} == {51, 52, 0}
    # a prefecture as the parent: no level between, no prefecture
    jia = province.find_units(extract_file, parent="甲市", parent_level="5")
    assert jia.prefecture_level == ""
    assert sorted(jia.units["osm_id"]) == sorted(
        rel for rel, (cell, _, _) in generated.UNITS.items() if _prefecture_of(*cell)[2] == 51
    )
    assert set(jia.units["prefecture"]) == {""} and set(jia.units["prefecture_id"]) == {0}


def test_find_units_by_relation_id_and_english_name(extract_file: Path) -> None:
    by_id = province.find_units(extract_file, parent=str(generated.PARENT_ID))
    by_en = province.find_units(extract_file, parent="test province")
    assert (
        list(by_id.units["osm_id"])
        == list(by_en.units["osm_id"])
        == [e[3] for e in generated.EXPECTED]
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"parent": "河南省"},
            r"no admin_level 4 boundary named '河南省'.*测试省 \(r1\), 邻省 \(r2\)",
        ),
        (
            {"parent": "测试省", "parent_level": "5"},
            r"admin_level 5 boundaries there: 乙市 \(r52\), 甲市 \(r51\), 邻市 \(r53\)",
        ),
        ({"parent": "测试省", "parent_level": "6", "level": "8"}, "admin_level 6 boundaries"),
        ({"parent": "测试省", "level": "4"}, "both 4"),
        ({"parent": "测试省", "level": "six"}, "--level must be an OSM admin_level"),
    ],
)
def test_find_units_refuses_bad_input(
    extract_file: Path, kwargs: dict[str, str], match: str
) -> None:
    with pytest.raises(ValidationError, match=match):
        province.find_units(extract_file, **kwargs)


def test_unit_code_prefers_a_gb_code() -> None:
    assert province.unit_code({"ref": "CN-HA", "china_admin_code": "410101"}) == (
        "410101",
        "china_admin_code",
    )
    assert province.unit_code({"ref:gb": "410102000000"}) == ("410102", "ref:gb")
    assert province.unit_code({"ref": "HA 01"}) == ("", "")
    assert province.unit_code({"name": "一县"}) == ("", "")


def test_region_file_loads_and_a_unit_boundary_resolves(extract_file: Path, tmp_path: Path) -> None:
    settings.root = tmp_path
    region, _ = regions.from_extract(extract_file, parent="测试省", name="testprov")
    path = tmp_path / "regions" / "testprov.yml"
    assert region.config_path == path
    assert regions.load("testprov").units == region.units
    assert _listed(region) == generated.EXPECTED
    assert [u.code for u in region.units][-2:] == ["r107", "r104"]  # no code in OSM
    assert region.label_zh == "测试省" and region.label_en == "Test Province"
    assert region.source == {"kind": "osm_file", "path": str(extract_file.resolve())}
    assert region.boundary == {"osm": {"name": "测试省", "admin_level": "4", "relation": 1}}
    for u in region.units:  # each unit's prefecture, read back from the file
        cell = generated.UNITS[int(u.boundary["osm"]["relation"])][0]
        name, name_en, _ = _prefecture_of(*cell)
        assert (u.prefecture, u.prefecture_en) == (name, name_en)
    text = path.read_text("utf-8")
    listed = {u["name"]: u for u in yaml.safe_load(text)["units"]}
    assert listed["一县"]["prefecture"] == "甲市" and listed["一县"]["prefecture_en"] == "Jia City"
    assert listed["三区"]["prefecture"] == "乙市" and "prefecture_en" not in listed["三区"]
    assert "prefecture" not in listed["九县"]  # administered by the province
    head = [line for line in text.splitlines() if line.startswith("#")]
    assert any("r110 残县" in line and "1 of its 4 member ways is missing" in line for line in head)
    assert not any("外" in line for line in head)  # units outside are not mentioned
    assert "残县" not in [u["name"] for u in yaml.safe_load(text)["units"]]
    # the boundary the pipeline cuts a unit by is that unit's cell
    unit = region.unit("410106")
    polygon = pipeline.study_area(region, unit, osm_file=extract_file).iloc[0]
    assert polygon.symmetric_difference(generated.cell(2, 1)).area < 1e-12
    assert shapely.equals(
        pipeline.study_area(region, None, osm_file=extract_file).iloc[0],
        shapely.box(113.0, 33.0, 113.4, 33.4),
    )


def test_region_file_source_is_relative_inside_the_raw_folder(
    extract_file: Path, tmp_path: Path
) -> None:
    settings.root = tmp_path
    raw = tmp_path / "data" / "raw" / "testprov"
    raw.mkdir(parents=True)
    local = raw / "province.osm.pbf"
    local.write_bytes(extract_file.read_bytes())
    region, _ = regions.from_extract(local, parent="测试省", name="testprov")
    assert region.source == {"kind": "osm_file", "path": "province.osm.pbf"}
    assert pipeline._region_osm_file(region, region.units[0]) == local


def test_a_boundary_relation_id_tells_namesakes_apart(extract_file: Path) -> None:
    found = extract.find_boundaries(extract_file, admin_levels=["6"], relations=[104, 105])
    assert list(found["osm_id"]) == [104, 105]
    with pytest.raises(ValidationError, match="relation id"):
        extract.find_boundaries(extract_file, relations=["r104"])
    with pytest.raises(ValidationError, match="relation must be the relation's id"):
        regions.check_boundary_spec({"osm": {"name": "四县", "relation": "104"}}, where="x")


def test_cli_writes_the_region_file(
    extract_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "--root",
        str(tmp_path),
        "-q",
        "regions",
        "from-extract",
        str(extract_file),
        "--parent",
        "测试省",
        "--name",
        "testprov",
    ]
    assert cli.main([*argv, "--level", "6", "--parent-level", "4"]) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "regions" / "testprov.yml").is_file()
    assert "9 admin_level 6 units inside 测试省 (relation 1" in out
    assert "admin_level 5 boundaries (prefectures) holding them: 2; 1 unit(s) in none" in out
    assert (
        "r110 残县: its boundary relation is in province.osm.pbf but 1 of its 4 member ways is missing"
        in out
    )
    assert "r113 (no name)" in out and "外县" not in out
    # an existing file is kept without --force
    before = (tmp_path / "regions" / "testprov.yml").read_text("utf-8")
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "exists; pass --force" in err
    assert cli.main([*argv, "--force"]) == 0
    assert (tmp_path / "regions" / "testprov.yml").read_text("utf-8") == before


def test_cli_unknown_parent_names_the_boundaries_at_that_level(
    extract_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "--root",
        str(tmp_path),
        "-q",
        "regions",
        "from-extract",
        str(extract_file),
        "--parent",
        "河南省",
        "--name",
        "henan",
    ]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "no admin_level 4 boundary named '河南省'" in err and "测试省 (r1), 邻省 (r2)" in err
    assert not (tmp_path / "regions" / "henan.yml").exists()


# ----------------------------------------------------------------- every unit's boundary at once


def _frames_equal(a, b) -> None:
    assert list(a["osm_id"]) == list(b["osm_id"])
    assert list(a["name"]) == list(b["name"]) and list(a["ref"]) == list(b["ref"])
    assert all(shapely.equals(x, y) for x, y in zip(a.geometry, b.geometry))
    assert a.attrs["incomplete"] == b.attrs["incomplete"]


def test_many_boundary_queries_in_one_read_equal_one_query_each(extract_file: Path) -> None:
    queries = {
        "by_relation": {"relations": [106]},
        "by_name_level": {"names": ["九县"], "admin_levels": ["6"]},
        "english": {"names": ["si county"]},
        "by_code": {"refs": ["410103"]},
        "incomplete": {"relations": [generated.INCOMPLETE_ID]},
        "level_6": {"admin_levels": ["6"]},  # several rows, one of them incomplete
        "mismatch": {"names": ["一县"], "relations": [102]},  # both must hold: none
        "nowhere": {"names": ["无此县"]},
        "everything": {},
    }
    many = extract.find_boundaries_many(extract_file, queries)
    assert set(many) == set(queries)
    for key, query in queries.items():
        _frames_equal(many[key], extract.find_boundaries(extract_file, **query))
    assert list(many["by_relation"]["osm_id"]) == [106] and many["mismatch"].empty
    assert [r["osm_id"] for r in many["incomplete"].attrs["incomplete"]] == [110]
    with pytest.raises(ValidationError, match="unknown boundary criteria"):
        extract.find_boundaries_many(extract_file, {"x": {"name": ["一县"]}})


def test_a_batch_looks_up_every_unit_boundary_in_one_read(
    extract_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from accessibility import batch

    settings.root = tmp_path / "once"
    region, _ = regions.from_extract(extract_file, parent="测试省", name="testprov")
    reads: list[int] = []
    real_many = extract.find_boundaries_many
    monkeypatch.setattr(
        extract, "find_boundaries_many", lambda src, q: reads.append(len(q)) or real_many(src, q)
    )
    # a unit whose query no relation answers is left to its run
    broken = regions.Unit(code="999999", name="无此县", boundary={"osm": {"name": "无此县"}})
    kept = pipeline.prefetch_boundaries(region, [*region.units, broken], extract_file)
    assert reads == [10] and sorted(kept) == sorted(u.code for u in region.units)
    assert pipeline.prefetch_boundaries(region, region.units, extract_file) == []  # all kept
    assert reads == [10]
    # a unit whose relation id does not match its name: left to its own lookup, which fails
    wrong = regions.Unit("999998", "一县", boundary={"osm": {"name": "一县", "relation": 102}})
    assert pipeline.prefetch_boundaries(region, [wrong], extract_file) == []
    with pytest.raises(DataSourceError, match="no administrative boundary named"):
        pipeline.study_area(region, wrong, osm_file=extract_file)
    reads.clear()
    # every run now reads its boundary from the cache, equal to a lookup of its own and
    # to its cell
    monkeypatch.setattr(extract, "find_boundaries_many", lambda *a: pytest.fail("read again"))
    cached = {
        u.code: pipeline.study_area(region, u, osm_file=extract_file).iloc[0] for u in region.units
    }
    monkeypatch.undo()
    for u in region.units:
        cell = generated.UNITS[int(u.boundary["osm"]["relation"])][0]
        assert cached[u.code].symmetric_difference(generated.cell(*cell)).area < 1e-12
    settings.root = tmp_path / "one_by_one"
    alone, _ = regions.from_extract(extract_file, parent="测试省", name="testprov")
    for u in alone.units:
        own = pipeline.study_area(alone, u, osm_file=extract_file).iloc[0]
        assert shapely.equals(own, cached[u.code]), u.code
    # the batch does it before its runs: one read for all nine units
    settings.root = tmp_path / "batch"
    region, _ = regions.from_extract(extract_file, parent="测试省", name="testprov")
    reads.clear()
    monkeypatch.setattr(
        extract, "find_boundaries_many", lambda src, q: reads.append(len(q)) or real_many(src, q)
    )
    monkeypatch.setattr(batch, "PRECLIP_MIN_UNITS", 10**6)  # boundaries only, no clipping
    todo = [batch.Task("testprov", u.code, nb) for u in region.units for nb in ("a", "b")]
    batch.clip_ahead(region, todo)
    assert reads == [9]
    settings.root = None
